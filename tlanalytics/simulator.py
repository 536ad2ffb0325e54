"""A faithful local simulator of the TwelveLabs multipart-upload listing API.

It serves, on loopback only, ``GET /v1.3/assets/multipart-uploads`` and
``GET /v1.3/assets/multipart-uploads/{upload_id}`` as documented (see the
README), with knobs for latency, rate limits, reproducible faults and a
listing that changes while it is paged. Everything in tlanalytics is tested
and demonstrated against it.

It serves whatever session dicts it is given, hostile values included
(``tests/reliability/test_fuzz.py`` relies on that): values are sent as
``json.dumps`` writes them, :class:`RawJSON` values verbatim (JSON nested
deeper than ``json.dumps`` can write, invalid UTF-8), and a session's own
``uploaded_chunks`` list, when it has one, replaces the generated chunks.
Where the status endpoint's answer follows the API's prose rather than its
OpenAPI schema is listed in ``tests/test_openapi.py``.
"""

from __future__ import annotations

import collections
import hmac
import json
import logging
import math
import random
import secrets
import socket
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from ._generate import as_utc, chunk_states, generate_uploads, load_sample, make_session, rfc3339
from .errors import InvalidArgumentError
from .schema import LISTING_FIELDS

__all__ = ["Simulator", "RawJSON", "generate_uploads", "FAULT_KINDS", "REQUEST_LOG_SIZE"]

log = logging.getLogger(__name__)

#: Fault kinds the simulator can inject.
FAULT_KINDS = ("500", "429", "429-no-retry-after", "drop", "truncate", "nonjson", "slow")
_PREFIX = "/v1.3/assets/multipart-uploads"
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_DOCS = "https://docs.twelvelabs.io/v1.3/api-reference/error-codes"
#: Most chunks a session gets generated chunk items for (10 GB in 5 MiB chunks is 2,048).
MAX_CHUNKS = 100_000
#: Entries :attr:`Simulator.request_log` keeps: the newest, older ones are dropped.
REQUEST_LOG_SIZE = 10_000


class RawJSON:
    """A value the simulator writes into a response body verbatim.

    For JSON that ``json.dumps`` cannot write (nested deeper than Python's
    recursion limit) and for bytes that are not JSON or not UTF-8 at all.

    Parameters
    ----------
    text : str or bytes
        The bytes to write in place of the value (str is encoded as UTF-8).

    Examples
    --------
    >>> deep = RawJSON("[" * 100_000 + "]" * 100_000)
    >>> bad_utf8 = RawJSON(b'"\\xff\\xfe"')
    """

    def __init__(self, text):
        self.data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)

    def __repr__(self):
        return f"RawJSON({self.data[:40]!r}{'...' if len(self.data) > 40 else ''})"


def _encode(payload):
    """``payload`` as JSON bytes, with :class:`RawJSON` values spliced in verbatim."""
    raws, token = [], secrets.token_hex(8)

    def mark(value):
        if isinstance(value, RawJSON):
            raws.append(value.data)
            return f"\x00raw{token}:{len(raws) - 1}\x00"
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    body = json.dumps(payload, default=mark).encode()
    for i, data in enumerate(raws):
        body = body.replace(f'"\\u0000raw{token}:{i}\\u0000"'.encode(), data, 1)
    return body


class _HTTPError(Exception):
    """An API error response: status, code, message and extra headers."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def _int_param(query, name, default, low, high):
    """Validate one integer query parameter as the API does (400 parameter_invalid)."""
    values = query.get(name)
    if values is None:
        return default
    raw = values[-1]
    try:
        value = int(raw, 10)
    except ValueError:
        value = None
    if value is None or not raw.strip().lstrip("+-").isdigit() or value < low or (high and value > high):
        bound = f"between {low} and {high}" if high else f"at least {low}"
        raise _HTTPError(400, "parameter_invalid",
                         f"The {name} parameter is invalid: it must be an integer {bound}, but {raw!r} was given.")
    return value


class Simulator:
    """A local HTTP server speaking the multipart-upload listing API.

    Parameters
    ----------
    uploads : list of dict or None
        Sessions to serve, as from :func:`generate_uploads` (listing fields plus
        ``chunks_completed``, ``chunks_failed``, ``uploaded_size``,
        ``updated_at``). None serves the shipped sample of 3,000 sessions,
        re-anchored to ``now``; ``[]`` is an empty account. Values are served
        as given, however malformed; a session with an ``uploaded_chunks``
        list gets those chunk items on the status endpoint. Sessions whose
        ``upload_id`` is not a string or repeats one are served in the listing
        but cannot be addressed on the status endpoint.
    api_key : str or None
        The only key accepted; None makes a random one (see ``.api_key``).
    host : {"127.0.0.1", "::1", "localhost"}
        Loopback address to bind; nothing listens beyond loopback.
    port : int
        Port to bind; 0 picks a free one.
    latency : float
        Seconds added to every request.
    rate_limit : float or None
        Requests per second allowed (sliding one-second window); past it the
        server answers 429 ``too_many_requests`` with ``Retry-After``.
    faults : float
        Share (0-1) of requests that get an injected fault, drawn from
        ``fault_kinds`` by a generator seeded with ``seed``.
    fault_kinds : sequence of str or None
        Subset of :data:`FAULT_KINDS`; None for all of them.
    slow_seconds : float
        How long a ``slow`` fault delays its answer.
    churn : int
        Changes applied to the listing after each listing request: sessions
        completing (leaving the listing), expiring (status flips in place) and
        new sessions appearing at the front (newest first).
    churn_limit : int or None
        Number of listing requests that trigger churn; None for no limit.
    seed : int
        Seed for faults and churn.
    now : datetime or None
        The moment the sample is anchored to (None: now).

    Attributes
    ----------
    request_log : list of tuple
        ``(method, path, status or "drop", fault or None)`` of the last
        :data:`REQUEST_LOG_SIZE` requests, oldest first (a snapshot: the log
        itself is a bounded deque, so a long-running simulator does not grow).

    Examples
    --------
    >>> from tlanalytics.simulator import Simulator, generate_uploads
    >>> with Simulator(generate_uploads(120, seed=1)) as sim:
    ...     import requests
    ...     r = requests.get(sim.base_url + "/assets/multipart-uploads",
    ...                      headers={"x-api-key": sim.api_key}, params={"page_limit": 50}, timeout=5)
    ...     r.json()["page_info"]["total_page"]
    3
    """

    def __init__(self, uploads=None, *, api_key=None, host="127.0.0.1", port=0, latency=0.0, rate_limit=None,
                 faults=0.0, fault_kinds=None, slow_seconds=5.0, churn=0, churn_limit=None, seed=0, now=None):
        if host not in _LOOPBACK:
            raise InvalidArgumentError(f"The value for `host` must be one of {list(_LOOPBACK)}, but {host!r} was passed.")
        kinds = tuple(FAULT_KINDS if fault_kinds is None else fault_kinds)
        unknown = [k for k in kinds if k not in FAULT_KINDS]
        if unknown or not kinds:
            raise InvalidArgumentError(
                f"The value for `fault_kinds` must be a non-empty subset of {list(FAULT_KINDS)}, but {unknown or kinds!r} was passed.")
        if not 0.0 <= faults <= 1.0:
            raise InvalidArgumentError(f"The value for `faults` must be between 0 and 1, but {faults!r} was passed.")
        if latency < 0 or (rate_limit is not None and rate_limit <= 0) or churn < 0:
            raise InvalidArgumentError("`latency` and `churn` must be >= 0 and `rate_limit` > 0 (or None).")
        self._now = as_utc(now)
        sessions = load_sample(self._now) if uploads is None else [dict(s) for s in uploads]
        self._sessions = collections.OrderedDict()
        for i, s in enumerate(sessions):
            uid = s.get("upload_id")
            # Hostile ids (not strings, repeated) are kept under a key of their own: no session is lost.
            self._sessions[uid if isinstance(uid, str) and uid not in self._sessions else ("#", i)] = s
        self.api_key = api_key if api_key is not None else "tlsim_" + secrets.token_hex(16)
        self.latency, self.rate_limit, self.faults, self.fault_kinds = latency, rate_limit, faults, kinds
        self.slow_seconds, self.churn, self.churn_limit = slow_seconds, churn, churn_limit
        self._rng = random.Random(seed)
        self._churn_rng = random.Random(seed + 1)
        self._lock = threading.RLock()
        self._window = collections.deque()
        self._queued = collections.deque()
        self._chunk_cache = {}
        self._ordered = None  # the listing order, cached by _list
        self.initial_ids = list(self._sessions)
        self.removed_ids, self.added_ids, self.expired_ids = [], [], []
        self.requests = 0
        self._log = collections.deque(maxlen=REQUEST_LOG_SIZE)
        self.listing_requests = 0
        self._host, self._port = host, port
        self._server = self._thread = None

    # -- lifecycle -------------------------------------------------------
    def start(self):
        """Start serving in a background thread; returns ``self``."""
        if self._server is not None:
            return self
        handler = type("_Handler", (_Handler,), {"sim": self})
        # Class attributes, not instance ones: the constructor calls listen() with request_queue_size.
        options = {"daemon_threads": True, "request_queue_size": 256, "handle_error": _handle_error}
        if ":" in self._host:
            options["address_family"] = socket.AF_INET6
        self._server = type("_Server", (ThreadingHTTPServer,), options)((self._host, self._port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="tlanalytics-simulator", daemon=True)
        self._thread.start()
        log.debug("simulator listening on %s", self.base_url)
        return self

    def stop(self):
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        state = self.base_url if self._server else "stopped"
        return f"<Simulator {len(self._sessions)} sessions, {state}>"

    @property
    def port(self):
        """The bound port (after :meth:`start`)."""
        return self._server.server_address[1] if self._server else None

    @property
    def base_url(self):
        """Base URL ending in ``/v1.3``, e.g. ``http://127.0.0.1:54321/v1.3``."""
        if self._server is None:
            raise RuntimeError("The simulator is not running; use it as a context manager or call start().")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}/v1.3"

    # -- state for tests -------------------------------------------------
    def sessions(self):
        """A snapshot of the sessions currently listed, in listing order."""
        with self._lock:
            return [dict(s) for s in self._sessions.values()]

    def listing(self):
        """What the listing endpoint would serve now: listing fields only."""
        return [{k: s[k] for k in LISTING_FIELDS if k in s} for s in self.sessions()]

    def set_sessions(self, uploads):
        """Serve ``uploads`` (dicts as from :func:`generate_uploads`) from now on, in this order.

        For tests that script what the listing shows between loads: sessions
        completing, expiring, failing, vanishing and appearing.
        """
        with self._lock:
            self._sessions = collections.OrderedDict((s["upload_id"], dict(s)) for s in uploads)
            self._ordered = None
            self._chunk_cache.clear()

    def persistent_ids(self):
        """Ids listed from the start that no churn removed: a correct load must return all of them."""
        removed = set(self.removed_ids)
        return [i for i in self.initial_ids if i not in removed]

    def inject(self, kind, count=1, *, path=None):
        """Queue ``count`` faults of ``kind`` for the next requests (whose path contains ``path``)."""
        if kind not in FAULT_KINDS:
            raise InvalidArgumentError(f"The value for `kind` must be one of {list(FAULT_KINDS)}, but {kind!r} was passed.")
        with self._lock:
            self._queued.extend([(kind, path)] * count)

    def reset_stats(self):
        """Zero the request counters and log."""
        with self._lock:
            self.requests = self.listing_requests = 0
            self._log.clear()

    @property
    def request_log(self):
        """The last :data:`REQUEST_LOG_SIZE` requests (see the class docstring), as a list snapshot."""
        with self._lock:
            return list(self._log)

    # -- request handling (called from handler threads) --------------------
    def _pick_fault(self, path):
        with self._lock:
            for i, (kind, where) in enumerate(self._queued):
                if where is None or where in path:
                    del self._queued[i]
                    return kind
            if self.faults and self._rng.random() < self.faults:
                return self._rng.choice(self.fault_kinds)
        return None

    def _rate_limited(self):
        if self.rate_limit is None:
            return None
        now = time.monotonic()
        with self._lock:
            while self._window and now - self._window[0] >= 1.0:
                self._window.popleft()
            if len(self._window) >= self.rate_limit:
                return max(1, math.ceil(1.0 - (now - self._window[0])))
            self._window.append(now)
        return None

    def _list(self, query):
        page = _int_param(query, "page", 1, 1, None)
        limit = _int_param(query, "page_limit", 10, 1, 50)
        with self._lock:
            self.listing_requests += 1
            # Copying an OrderedDict of 50k sessions costs ~60 ms under the lock:
            # keep the ordered list until churn changes it.
            items = self._ordered
            if items is None:
                items = self._ordered = list(self._sessions.values())
            start = (page - 1) * limit
            data = [{k: s[k] for k in LISTING_FIELDS if k in s} for s in items[start:start + limit]]
            total = len(items)
            body = {"data": data, "page_info": {"limit_per_page": limit, "page": page,
                                                "total_page": math.ceil(total / limit), "total_results": total}}
            if self.churn and (self.churn_limit is None or self.listing_requests <= self.churn_limit):
                self._apply_churn()
        return body

    def _apply_churn(self):
        self._ordered = None
        rng = self._churn_rng
        now = datetime.now(timezone.utc).replace(microsecond=0)
        for _ in range(self.churn):
            roll = rng.random()
            ids = list(self._sessions)
            if roll < 0.4 and ids:
                victim = rng.choice(ids)
                del self._sessions[victim]
                self.removed_ids.append(victim)
            elif roll < 0.55 and ids:
                victim = rng.choice(ids)
                self._sessions[victim]["status"] = "expired"
                self.expired_ids.append(victim)
            else:
                new = make_session(rng, now, created=now)
                self._sessions[new["upload_id"]] = new
                self._sessions.move_to_end(new["upload_id"], last=False)
                self.added_ids.append(new["upload_id"])

    def _status(self, upload_id, query):
        page = _int_param(query, "page", 1, 1, None)
        limit = _int_param(query, "page_limit", 10, 1, 50)
        with self._lock:
            s = self._sessions.get(upload_id)
            if s is None:
                raise _HTTPError(404, "resource_not_exist", f"The upload session {upload_id!r} does not exist.")
            s = dict(s)
            plan = self._chunk_cache.get(upload_id)
            if plan is None:
                plan = self._chunk_cache[upload_id] = _chunk_plan(s)
        done, failed = s.get("chunks_completed"), s.get("chunks_failed")
        n = len(plan[0])
        total = s.get("total_chunks")
        pending = total - done - failed if all(type(v) is int for v in (done, failed, total)) else None
        return {
            "upload_id": s.get("upload_id"), "status": s.get("status"),
            "uploaded_chunks": _chunk_items(s, plan, (page - 1) * limit, min(n, page * limit)),
            "chunks_completed": done, "chunks_failed": failed, "chunks_pending": pending,
            "total_size": s.get("total_size"), "uploaded_size": s.get("uploaded_size"),
            "created_at": s.get("created_at"), "updated_at": s.get("updated_at"),
            "page_info": {"limit_per_page": limit, "page": page, "total_page": math.ceil(n / limit), "total_results": n},
        }

    def _handle(self, method, target, headers):
        """Route one request; returns (status, body dict, extra headers) or raises _HTTPError."""
        url = urlsplit(target)
        path = url.path.rstrip("/")
        if path == _PREFIX:
            route = ("list", None)
        elif path.startswith(_PREFIX + "/") and "/" not in path[len(_PREFIX) + 1:]:
            route = ("status", unquote(path[len(_PREFIX) + 1:], errors="surrogateescape"))
        else:
            raise _HTTPError(404, "not_found", f"No endpoint at {url.path!r}. This simulator serves {_PREFIX}.")
        if method != "GET":
            raise _HTTPError(405, "method_not_allowed", f"{method} is not allowed here; use GET.", {"Allow": "GET"})
        given = headers.get("x-api-key") or ""
        # Constant time: how long the check takes says nothing about how much of a guess was right.
        if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), self.api_key.encode("utf-8", "surrogatepass")):
            missing = not given
            raise _HTTPError(403, "api_key_invalid", "The API key is missing. Set the x-api-key header."
                             if missing else "The API key you provided is invalid or expired.")
        retry = self._rate_limited()
        if retry is not None:
            raise _HTTPError(429, "too_many_requests",
                             f"You have exceeded the rate limit. Please try again later after {retry} seconds.",
                             {"Retry-After": str(retry)})
        try:
            query = parse_qs(url.query, keep_blank_values=True, strict_parsing=False, max_num_fields=20)
        except ValueError:
            raise _HTTPError(400, "parameter_invalid", "The query string is malformed.") from None
        unknown = sorted(set(query) - {"page", "page_limit"})
        if unknown:
            raise _HTTPError(400, "parameter_unknown", f"The parameter {unknown[0]!r} is not recognised.")
        if route[0] == "list":
            return self._list(query)
        return self._status(route[1], query)


def _handle_error(server, request, client_address):
    """socketserver's hook for an exception in a handler: log it instead of printing a traceback to stderr.

    A client that hangs up (reset, broken pipe, aborted) is routine, e.g. a
    load that timed out: DEBUG. Anything else is a bug in the simulator: ERROR.
    """
    exc = sys.exc_info()[1]
    if isinstance(exc, (ConnectionError, TimeoutError)):
        log.debug("client %s went away: %s", client_address, exc.__class__.__name__)
    else:
        log.error("simulator failed on a request from %s", client_address, exc_info=True)


def _chunk_plan(s):
    """(chunk states or the session's own chunk items, created, updated) of a session, cached per session."""
    if isinstance(s.get("uploaded_chunks"), list):
        return s["uploaded_chunks"], None, None
    counts = [s.get(k) for k in ("total_chunks", "chunks_completed", "chunks_failed")]
    if not all(type(c) is int for c in counts) or not 0 <= counts[1] + counts[2] <= counts[0] <= MAX_CHUNKS \
            or min(counts) < 0:
        return [], None, None  # hostile counters: no chunks (drawing them could take minutes), counters as given
    try:
        states = chunk_states(s)
        created = datetime.fromisoformat(s["created_at"].replace("Z", "+00:00"))
        updated = datetime.fromisoformat(s["updated_at"].replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        return [], None, None  # hostile counters or timestamps: no chunks, the counters are served as given
    return states, created, updated


def _chunk_items(s, plan, start, stop):
    """Chunk items ``start`` to ``stop`` (0-based) of a session's plan."""
    states, created, updated = plan
    if created is None:
        return states[start:stop]
    n, chunks = len(states), []
    for i in range(start, stop):
        try:
            at = rfc3339(created + (updated - created) * ((i + 1) / max(n, 1)))
        except (OverflowError, ValueError):
            at = s["updated_at"]
        chunk = {"index": i + 1, "status": states[i], "uploaded_at": at if states[i] == "completed" else None,
                 "updated_at": at if states[i] != "pending" else s["created_at"]}
        if states[i] == "failed":
            chunk["error"] = "Checksum mismatch: the uploaded part does not match the reported ETag."
        chunks.append(chunk)
    return chunks


class _Handler(BaseHTTPRequestHandler):
    """Per-connection request handler; ``sim`` is set on a subclass per simulator."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment: with Nagle on and unbuffered
    # writes, delayed ACKs add ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    wbufsize = 1 << 16
    server_version = "tlanalytics-simulator"
    sim: Simulator

    def log_message(self, fmt, *args):  # route http.server's stderr chatter to logging
        log.debug("%s " + fmt, self.address_string(), *args)

    def _send(self, status, payload, headers, *, truncate, content_type):
        body = payload if isinstance(payload, bytes) else _encode(payload)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body[: len(body) // 2] if truncate else body)
        if truncate:
            self.close_connection = True

    def _serve(self):
        sim = self.sim
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if 0 < length <= 1 << 20:
            self.rfile.read(length)
        elif length:  # a body too large or a length that is no number: answer, then hang up
            self.close_connection = True
        with sim._lock:
            sim.requests += 1
        if sim.latency:
            time.sleep(sim.latency)
        fault = sim._pick_fault(self.path)
        headers, content_type = {}, "application/json"
        try:
            if fault == "slow":
                time.sleep(sim.slow_seconds)
            if fault == "500":
                raise _HTTPError(500, "internal_error", "An internal error occurred. Please try again later.")
            if fault in ("429", "429-no-retry-after"):
                raise _HTTPError(429, "too_many_requests",
                                 "You have exceeded the rate limit. Please try again later after 1 seconds.",
                                 {"Retry-After": "1"} if fault == "429" else {})
            status, payload = 200, sim._handle(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
            if fault == "nonjson":
                payload, content_type = b"<html><body>502 Bad Gateway</body></html>", "text/html"
        except _HTTPError as err:
            status, headers = err.status, err.headers
            payload = {"code": err.code, "message": err.message, "docs_url": _DOCS}
        except Exception:  # never let one bad request take the server down
            log.exception("simulator failed on %s %s", self.command, self.path)
            status, payload = 500, {"code": "internal_error", "message": "The simulator failed on this request."}
        with sim._lock:  # logged before answering, so a client that got its answer sees its entry
            sim._log.append((self.command, self.path, "drop" if fault == "drop" else status, fault))
        if fault == "drop":
            self.close_connection = True
            return
        self._send(status, payload, headers, truncate=fault == "truncate", content_type=content_type)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve
