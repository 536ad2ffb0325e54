"""A scriptable hostile HTTP server on 127.0.0.1, for hardening tests.

One small ``ThreadingHTTPServer`` whose answer to each request comes from a
script: ``script(request) -> Reply``. The helpers below build the behaviours
servers the project did not write have shown: ignoring ``page``, lying in
``page_info``, trickling bytes, inflating gzip, nesting JSON, 404s without a
code, echoing the key, hanging. Every request is logged in ``server.requests``.
"""

from __future__ import annotations

import gzip
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

KEY = "tlk_HOSTILE_test_key_0123456789"
PREFIX = "/v1.3"
LIST = PREFIX + "/assets/multipart-uploads"


@dataclass
class Request:
    path: str  # raw path as sent, not decoded
    query: dict
    headers: dict

    def param(self, name, default=None):
        values = self.query.get(name)
        return int(values[0]) if values and values[0].lstrip("-").isdigit() else default


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    trickle: float | None = None  # seconds between single bytes of the body
    hang: bool = False  # never answer (until the server stops)
    length: int | None = None  # Content-Length to declare (defaults to len(body))


def json_reply(obj, status=200, **kwargs):
    return Reply(status, json.dumps(obj).encode(), {"Content-Type": "application/json"}, **kwargs)


def item(n, prefix="u"):
    return {"upload_id": f"{prefix}{n:06d}", "status": "active", "total_size": 10_485_760, "chunk_size": 5_242_880,
            "total_chunks": 2, "created_at": "2026-11-29T10:00:00Z", "expires_at": "2026-11-30T10:00:00Z"}


def page_of(items, page, limit, info=True):
    chunk = items[(page - 1) * limit: page * limit]
    body = {"data": chunk}
    if info:
        body["page_info"] = {"limit_per_page": limit, "page": page, "total_page": -(-len(items) // limit),
                             "total_results": len(items)}
    return body


# --- behaviours -----------------------------------------------------------------

def honest(items):
    """A truthful listing of ``items``."""
    def script(req):
        limit = req.param("page_limit", 10)
        return json_reply(page_of(items, req.param("page", 1), limit))
    return script


def ignores_page(n=50, info=None):
    """The same full first page whatever ``page`` is asked for."""
    items = [item(i) for i in range(n)]

    def script(req):
        body = {"data": items[:req.param("page_limit", 10)]}
        if info is not None:
            body["page_info"] = info
        return json_reply(body)
    return script


def endless(info=None):
    """Full pages of new ids forever; ``info(page, limit)`` gives page_info (None: no page_info)."""
    def script(req):
        page, limit = req.param("page", 1), req.param("page_limit", 10)
        body = {"data": [item(page * 1000 + i, prefix="e") for i in range(limit)]}
        if info is not None:
            body["page_info"] = info(page, limit)
        return json_reply(body)
    return script


def trickle(obj, interval):
    """A valid body sent one byte every ``interval`` seconds."""
    return lambda req: json_reply(obj, trickle=interval)


def gzip_bomb(decoded_size):
    """A small gzip body that inflates to ``decoded_size`` bytes."""
    packed = gzip.compress(b" " * decoded_size, compresslevel=9)
    return lambda req: Reply(200, packed, {"Content-Type": "application/json", "Content-Encoding": "gzip"})


def big(size):
    """A plain body of ``size`` bytes."""
    return lambda req: Reply(200, b" " * size, {"Content-Type": "application/json"})


def nested(depth):
    """A body of ``depth`` nested JSON arrays."""
    return lambda req: Reply(200, b"[" * depth + b"]" * depth, {"Content-Type": "application/json"})


def hang():
    return lambda req: Reply(hang=True)


def status_router(listing, status):
    """The listing from ``listing``; every status URL answered by ``status(req, upload_id)``."""
    def script(req):
        path = urlsplit(req.path).path
        if path == LIST:
            return listing(req)
        return status(req, unquote(path[len(LIST) + 1:]))
    return script


# --- the server -------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        req = Request(self.path, parse_qs(urlsplit(self.path).query), dict(self.headers))
        with server.lock:
            server.requests.append(req)
        reply = server.script(req)
        if reply.hang:
            server.stopping.wait()
            self.close_connection = True
            return
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(reply.length if reply.length is not None else len(reply.body)))
            self.end_headers()
            if reply.trickle is None:
                self.wfile.write(reply.body)
                return
            self.wfile.flush()
            for i in range(len(reply.body)):
                if server.stopping.wait(reply.trickle):
                    break
                self.wfile.write(reply.body[i:i + 1])
                self.wfile.flush()
            self.close_connection = True
        except OSError:  # the client gave up: that is the point
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that give up mid-request are what these tests are about


class Hostile:
    """The running server: ``base_url``, ``requests``, ``script`` (replaceable), ``stop()``."""

    def __init__(self, script, host="127.0.0.1", tls=None):
        """``tls``: ``(certfile, keyfile)`` to serve https instead of http."""
        self.server = _Server((host, 0), _Handler)
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.server.script = script
        self.server.requests = []
        self.server.lock = threading.Lock()
        self.server.stopping = threading.Event()
        self.port = self.server.server_address[1]
        self.base_url = f"{'https' if tls else 'http'}://{host}:{self.port}{PREFIX}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def requests(self):
        with self.server.lock:
            return list(self.server.requests)

    @property
    def script(self):
        return self.server.script

    @script.setter
    def script(self, script):
        self.server.script = script

    def wait_for_requests(self, n=1, timeout=10):
        """Block until ``n`` requests arrived (or ``timeout``); returns whether they did."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if len(self.requests) >= n:
                return True
            time.sleep(0.01)
        return False

    def stop(self):
        self.server.stopping.set()
        self.server.shutdown()
        self.server.server_close()


class RecordingProxy:
    """A loopback "proxy" that only records that it was contacted (and whether it saw ``secret``) and answers 502."""

    def __init__(self, secret=KEY):
        self.contacts, self.saw_secret = 0, False
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _any(self):
                proxy.contacts += 1
                proxy.saw_secret = proxy.saw_secret or secret in str(self.headers) or secret in self.path
                self.send_response(502)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_CONNECT = do_POST = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
