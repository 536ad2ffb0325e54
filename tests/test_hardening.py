"""Bounded time, requests and memory against servers the project did not write, and prompt interruption.

Everything goes through real HTTP to a scripted hostile server on 127.0.0.1
(tests/_hostile.py). The only fakes: an adapter that fails the test if it is
ever called (to prove a refusal came before any connection), and a resolver
answer for a ``*.localhost`` name (no test may ask a real DNS server).
"""

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest
import requests
from requests.adapters import HTTPAdapter

from _hostile import KEY, LIST, RecordingProxy, Reply, big, endless, gzip_bomb, hang, honest, ignores_page, item, \
    json_reply, nested, status_router, trickle
from tlanalytics.client import UploadsClient, add_progress, load_chunks, load_uploads
from tlanalytics.errors import (DeadlineExceededError, InconsistentListingWarning, InsecureTransportError,
                                InvalidArgumentError, MalformedItemWarning, NotFoundError, ResponseFormatError,
                                TransportError)

ROOT = Path(__file__).resolve().parents[1]
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture
def client(hostile):
    """A client for a hostile server: tiny backoff, no bar, short timeouts."""
    made = []

    def make(server, **kwargs):
        kwargs.setdefault("progress", False)
        kwargs.setdefault("backoff", 0.001)
        kwargs.setdefault("timeout", (2, 3))
        c = UploadsClient(KEY, base_url=server.base_url, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def status_body(uid):
    return {"upload_id": uid, "status": "active", "chunks_completed": 1, "chunks_failed": 0, "chunks_pending": 1,
            "total_size": 10_485_760, "uploaded_size": 5_242_880, "created_at": "2026-11-29T10:00:00Z",
            "updated_at": "2026-11-29T10:30:00Z", "uploaded_chunks": []}


def listing_requests(server):
    return [r for r in server.requests if r.path.split("?")[0] == LIST]


# --- 1. paging that never ends -----------------------------------------------------

def test_a_server_that_ignores_page_is_read_once_and_flagged(hostile, client):
    server = hostile(ignores_page(50))
    c = client(server, max_workers=2)
    with pytest.warns(InconsistentListingWarning, match="ignore `page`") as caught:
        df = c.load()
    assert caught[0].filename == __file__
    assert len(df) == 50 and df["upload_id"].is_unique
    assert df.attrs["consistent"] is False and df.attrs["stopped"] == "repeat" and df.attrs["passes"] == 1
    assert len(server.requests) <= 1 + 2 * 2  # page 1, then at most one window of pages


@pytest.mark.parametrize("info", [None, {"total_page": 10**9, "total_results": 50},
                                  {"total_page": 10**9}, {"total_results": 10**400}])
def test_ignored_page_with_unverifiable_page_info_ends(hostile, client, info):
    server = hostile(ignores_page(50, info=info))
    with pytest.warns(InconsistentListingWarning):
        df = client(server, max_workers=3).load()
    assert len(df) == 50 and df.attrs["stopped"] == "repeat"
    assert len(server.requests) <= 1 + 2 * 3


def test_endless_new_pages_without_page_info_stop_at_max_pages(hostile, client):
    server = hostile(endless())
    with pytest.warns(InconsistentListingWarning, match="max_pages"):
        df = client(server, max_pages=12, max_workers=2).load()
    assert len(df) == 12 * 50 and df.attrs["stopped"] == "max_pages"
    assert len(server.requests) <= 12 + 2 * 2


def test_endless_pages_with_a_huge_total_page_stop_at_max_pages(hostile, client):
    server = hostile(endless(lambda page, limit: {"page": page, "total_page": 10**9, "total_results": 5 * 10**10}))
    with pytest.warns(InconsistentListingWarning, match="max_pages"):
        df = client(server, max_pages=7).load()
    assert len(df) == 7 * 50 and df.attrs["stopped"] == "max_pages"
    assert len(server.requests) <= 7 + 2 * 8


def test_full_pages_past_page_info_stop_after_a_few_extra_pages(hostile, client):
    from tlanalytics.paging import EXTRA_PAGES

    server = hostile(endless(lambda page, limit: {"page": page, "total_page": 2}))  # total_results would verify it
    with pytest.warns(InconsistentListingWarning, match="past what its page_info implies"):
        df = client(server, max_workers=1).load()
    assert df.attrs["stopped"] == "overrun" and len(df) == (2 + EXTRA_PAGES) * 50
    assert len(server.requests) <= 2 + EXTRA_PAGES + 2


def test_iter_pages_is_bounded_too(hostile, client):
    server = hostile(ignores_page(50))
    with pytest.warns(InconsistentListingWarning, match="cut short"):
        pages = list(client(server, max_workers=1).iter_pages())
    assert len(pages) <= 3 and len(server.requests) <= 3


def test_load_chunks_stops_when_the_server_ignores_page(hostile, client):
    chunks = [{"index": i, "status": "completed", "uploaded_at": "2026-11-29T10:00:00Z",
               "updated_at": "2026-11-29T10:00:00Z"} for i in range(1, 51)]
    body = {"upload_id": "u1", "status": "active", "uploaded_chunks": chunks,
            "page_info": {"total_page": 10**9, "total_results": 10**9}}
    server = hostile(lambda req: json_reply(body))
    with pytest.warns(InconsistentListingWarning, match="chunk list"):
        df = client(server, max_workers=2).load_chunks("u1")
    assert list(df["index"]) == list(range(1, 51)) and df.attrs["stopped"] == "repeat"
    assert len(server.requests) <= 1 + 2 * 2


def test_load_chunks_of_endless_new_chunks_stops_at_max_pages(hostile, client):
    def script(req):
        page = req.param("page", 1)
        return json_reply({"upload_id": "u1", "uploaded_chunks": [{"index": page * 100 + i, "status": "pending"}
                                                                  for i in range(50)]})
    server = hostile(script)
    with pytest.warns(InconsistentListingWarning, match="max_pages"):
        df = client(server, max_pages=5).load_chunks("u1")
    assert len(df) == 250 and df.attrs["stopped"] == "max_pages"


# --- 2/3. deadlines, whole-attempt limits -----------------------------------------

def test_deadline_ends_a_load_against_a_hanging_server(hostile, client):
    server = hostile(hang())
    c = client(server, deadline=0.5, timeout=(2, 30), max_retries=3)
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError) as info:
        c.load()
    elapsed = time.monotonic() - started
    assert elapsed < 10  # generous: only guards against a hang; the figure is in tests/reliability/README.md
    assert KEY not in str(info.value) and "deadline" in str(info.value)


def test_deadline_covers_listing_and_progress_together(hostile, client):
    items = [item(i) for i in range(5)]
    server = hostile(status_router(honest(items), lambda req, uid: Reply(hang=True)))
    c = client(server, deadline=3, timeout=(2, 30))
    with pytest.raises(DeadlineExceededError):
        c.load(with_progress=True)
    assert len(listing_requests(server)) == 1 and len(server.requests) >= 2  # the listing, then progress: one budget


def test_a_trickled_body_times_out_as_a_whole(hostile, client):
    page = {"data": [item(0)], "page_info": {"total_page": 1, "total_results": 1}}
    server = hostile(trickle(page, 0.02))  # ~250 bytes: 5 s in all, one byte every 20 ms
    c = client(server, timeout=(0.3, 0.3), max_retries=1)
    with pytest.raises(TransportError, match="no complete response in time") as info:
        c.load()
    assert info.value.status is None and len(server.requests) == 2


def test_a_slow_but_complete_body_within_the_limit_is_read(hostile, client):
    page = {"data": [item(0)], "page_info": {"total_page": 1, "total_results": 1}}
    server = hostile(trickle(page, 0.001))
    df = client(server, timeout=(5, 10)).load()
    assert list(df["upload_id"]) == ["u000000"]


# --- 6. body size --------------------------------------------------------------

def test_a_gzip_bomb_is_refused_without_inflating_it(hostile, client):
    server = hostile(gzip_bomb(64 * 2**20))  # 64 MiB of spaces in ~64 KB
    c = client(server, max_body=2**20, max_retries=3)
    tracemalloc.start()
    try:
        with pytest.raises(ResponseFormatError, match="max_body"):
            c.load()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20  # never the 64 MiB the body inflates to
    assert len(server.requests) == 1  # not retried: the next answer would be as big


def test_a_plain_body_over_max_body_is_refused(hostile, client):
    server = hostile(big(3 * 2**20))
    with pytest.raises(ResponseFormatError, match="larger than `max_body`"):
        client(server, max_body=2**20).load()


def test_a_gzipped_page_under_the_cap_is_read(hostile, client):
    items = [item(i) for i in range(30)]
    packed = gzip.compress(json.dumps({"data": items, "page_info": {"total_page": 1, "total_results": 30}}).encode())
    server = hostile(lambda req: Reply(200, packed, {"Content-Type": "application/json", "Content-Encoding": "gzip"}))
    df = client(server).load()
    assert list(df["upload_id"]) == [i["upload_id"] for i in items]


@pytest.mark.parametrize("bad", ["max_body", "deadline", "max_pages"])
def test_new_options_are_checked(bad):
    value = {"max_body": 10, "deadline": -1, "max_pages": 0}[bad]
    with pytest.raises(InvalidArgumentError, match=bad):
        UploadsClient(KEY, base_url="http://127.0.0.1:9/v1.3", **{bad: value})


# --- 7. 404s -------------------------------------------------------------------

@pytest.mark.parametrize("reply", [
    Reply(404, b"<html><body>Not Found</body></html>", {"Content-Type": "text/html"}),
    Reply(404, json.dumps({"type": "about:blank", "title": "Not Found", "status": 404}).encode(),
          {"Content-Type": "application/problem+json"}),
    Reply(404, b"", {}),
    Reply(404, json.dumps({"code": "not_found", "message": "no route"}).encode(), {"Content-Type": "application/json"}),
], ids=["html", "problem+json", "empty", "other-code"])
def test_a_404_without_resource_not_exist_during_progress_raises(hostile, client, reply):
    items = [item(i) for i in range(3)]
    server = hostile(status_router(honest(items), lambda req, uid: reply))
    with pytest.raises(NotFoundError) as info:
        client(server).load(with_progress=True)
    message = str(info.value)
    assert LIST + "/u00000" in message and KEY not in message and info.value.status == 404


def test_only_resource_not_exist_marks_a_session_vanished(hostile, client):
    items = [item(i) for i in range(3)]
    gone = json_reply({"code": "resource_not_exist", "message": "gone"}, status=404)
    server = hostile(status_router(honest(items), lambda req, uid: gone if uid == "u000001" else json_reply(
        status_body(uid))))
    df = client(server).load(with_progress=True)
    assert df.set_index("upload_id")["vanished"].to_dict() == {"u000000": False, "u000001": True, "u000002": False}


def test_a_key_echoed_in_an_error_body_is_not_shown(hostile, client):
    server = hostile(lambda req: json_reply({"code": "parameter_invalid",
                                             "message": f"bad key {req.headers.get('x-api-key')}"}, status=400))
    with pytest.raises(Exception) as info:
        client(server).load()
    assert KEY not in str(info.value) and KEY not in repr(info.value) and "parameter_invalid" in str(info.value)


# --- 8. untyped errors -------------------------------------------------------------

def test_deeply_nested_json_is_a_format_error(hostile, client):
    server = hostile(nested(200_000))
    with pytest.raises(ResponseFormatError, match="nested too deeply"):
        client(server, max_retries=1).load()


def test_a_400_digit_total_results_does_not_overflow(hostile, client):
    items = [item(i) for i in range(30)]
    body = {"data": items, "page_info": {"total_results": 10**400, "total_page": 10**400, "limit_per_page": 10**400}}
    server = hostile(lambda req: json_reply(body))
    df = client(server).load()
    assert len(df) == 30 and df.attrs["total_results"] is None


@pytest.mark.parametrize("bad", [".", "..", "%2e%2e", "%2E.", "a/b", "..%2f..", "%252e%252e", "?x", "#", "a\\b"])
def test_path_segment_ids_send_no_request(hostile, client, bad):
    items = [item(0), {**item(1), "upload_id": bad}]
    ok = json_reply(status_body("u000000"))
    server = hostile(status_router(honest(items), lambda req, uid: ok))
    # "." and ".." cannot name a session at all: the listing's parser nulls them (tests/reliability/test_fuzz.py);
    # the others are kept as ids, and the client refuses to put them in a URL
    nulled = bad in (".", "..")
    with pytest.warns(MalformedItemWarning, match="fields: upload_id" if nulled else "URL's path"):
        df = client(server).load(with_progress=True)
    status_paths = [r.path for r in server.requests if r.path.split("?")[0] != LIST]
    assert status_paths and all(p.startswith(LIST + "/u000000?") for p in status_paths)
    if nulled:
        assert df["upload_id"].isna().sum() == 1 and df.loc[df["upload_id"].isna(), "uploaded_size"].isna().all()
    else:
        assert df.set_index("upload_id").loc[bad, "uploaded_size"] is pd.NA
    with pytest.raises(InvalidArgumentError, match="URL's path"):
        client(server).load_chunks(bad)
    assert len(server.requests) == 1 + len(status_paths)


# --- 4/5. proxies and loopback by address ---------------------------------------------

@pytest.fixture
def proxy(monkeypatch):
    p = RecordingProxy()
    for var in PROXY_VARS:
        monkeypatch.setenv(var, p.url)
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    yield p
    p.stop()


def test_the_proxy_fixture_is_used_by_plain_requests(proxy, hostile):
    """Positive control: without the loopback rule, requests would send the key to the proxy."""
    server = hostile(honest([item(0)]))
    resp = requests.get(server.base_url + "/assets/multipart-uploads", headers={"x-api-key": KEY}, timeout=5)
    assert resp.status_code == 502 and proxy.contacts == 1 and proxy.saw_secret


def test_environment_proxies_are_never_used_for_loopback(proxy, hostile, client):
    items = [item(i) for i in range(120)]
    server = hostile(honest(items))
    df = client(server, page_limit=50).load()
    assert list(df["upload_id"]) == [i["upload_id"] for i in items]
    assert proxy.contacts == 0 and not proxy.saw_secret


def test_a_sessions_own_proxies_are_not_used_for_loopback(hostile):
    p = RecordingProxy()
    try:
        session = requests.Session()
        session.proxies = {"http": p.url, "https": p.url}
        server = hostile(honest([item(0)]))
        df = load_uploads(KEY, base_url=server.base_url, session=session, progress=False)
        assert len(df) == 1 and p.contacts == 0
    finally:
        p.stop()


def test_a_proxy_from_the_environment_is_honoured_by_the_clients_own_session(proxy):
    """A client that made its own session sends straight through urllib3, except where requests would use a
    proxy: there requests carries the request, proxy and all. The proxy is the loopback recorder; the API host
    is never resolved or contacted (https through a proxy is a CONNECT to the proxy)."""
    client = UploadsClient(KEY, base_url="https://api.twelvelabs.invalid/v1.3", progress=False, max_retries=0,
                           timeout=(2, 3))
    with client, pytest.raises(TransportError, match="ProxyError"):
        client.load()
    assert proxy.contacts == 1 and not proxy.saw_secret  # the key travels inside the tunnel, never to the proxy
    assert client._transport.direct is False


TLS = ROOT / "tests" / "data" / "tls"


@pytest.mark.parametrize("way", ["direct", "session"])
def test_tls_is_verified_against_the_ca_bundle_requests_would_use(hostile, monkeypatch, way):
    """Both ways out verify the server's certificate: against certifi's bundle (which does not hold the test CA:
    the handshake fails, once, not retried) and against REQUESTS_CA_BUNDLE (which does)."""
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(var, raising=False)
    items = [item(i) for i in range(120)]
    server = hostile(honest(items), tls=(str(TLS / "server.pem"), str(TLS / "server.key")))
    assert server.base_url.startswith("https://127.0.0.1:")

    def load():
        with requests.Session() as session:
            options = {"session": session} if way == "session" else {}
            with UploadsClient(KEY, base_url=server.base_url, progress=False, page_limit=50, max_retries=3,
                               backoff=0.001, timeout=(2, 3), **options) as client:
                return client.load(), client._transport.direct

    with pytest.raises(TransportError, match="TLS handshake") as info:
        load()
    assert "after" not in str(info.value) and server.requests == []  # not retried; nothing was sent
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(TLS / "ca.pem"))
    df, direct = load()
    assert list(df["upload_id"]) == [i["upload_id"] for i in items] and len(server.requests) == 3
    assert direct == (way == "direct")
    agents = {r.headers.get("User-Agent", "").split()[-1].split("/")[0] for r in server.requests}
    assert agents == {"urllib3" if way == "direct" else "python-requests"}
    assert all(r.headers.get("x-api-key") == KEY for r in server.requests)


def test_demo_works_behind_a_proxy_and_never_contacts_it(proxy, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TWELVELABS_API_KEY", None)
    out = subprocess.run([sys.executable, "-m", "tlanalytics", "summary", "--demo", "--no-progress", "--json"],
                         env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["sessions"] == 3000
    assert proxy.contacts == 0


def test_a_netrc_password_for_the_api_host_is_never_sent(hostile, tmp_path, monkeypatch):
    """The client's own session skips requests' ~/.netrc lookup (a stat of two files on every request, and a
    password the API does not take); a session the caller passes keeps requests' behaviour (the control)."""
    (tmp_path / ".netrc").write_text("machine 127.0.0.1 login someone password netrc-secret\n")
    (tmp_path / ".netrc").chmod(0o600)
    monkeypatch.setenv("NETRC", str(tmp_path / ".netrc"))
    monkeypatch.setenv("HOME", str(tmp_path))
    server = hostile(honest([item(i) for i in range(120)]))
    df = load_uploads(KEY, base_url=server.base_url, page_limit=50, progress=False)
    assert len(df) == 120 and len(server.requests) == 3
    assert not any("authorization" in {k.lower() for k in r.headers} for r in server.requests)
    with requests.Session() as session:  # the control: plain requests reads the file and sends it
        load_uploads(KEY, base_url=server.base_url, page_limit=50, progress=False, session=session)
    assert any(r.headers.get("Authorization", "").startswith("Basic ") for r in server.requests[3:])


class Tripwire(HTTPAdapter):
    def send(self, request, **kwargs):
        pytest.fail(f"a connection was attempted: {request.url}")


@pytest.mark.parametrize("answer", [["127.0.0.1", "93.184.216.34"], ["10.0.0.7"], ["::1", "2001:db8::1"]])
def test_a_localhost_name_resolving_elsewhere_is_refused_before_any_connection(monkeypatch, answer):
    def fake_getaddrinfo(host, port, *args, **kwargs):
        assert host == "api.localhost"
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0)) for a in answer]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    session = requests.Session()
    session.mount("http://", Tripwire())
    with pytest.raises(InsecureTransportError):
        load_uploads(KEY, base_url="http://api.localhost:8080/v1.3", session=session, progress=False)


def test_a_localhost_name_resolving_only_to_loopback_is_allowed(monkeypatch, hostile):
    server = hostile(honest([item(0)]))
    real = socket.getaddrinfo

    def resolver(host, port, *args, **kwargs):
        if host == "api.localhost":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port or 0))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    df = load_uploads(KEY, base_url=f"http://api.localhost:{server.port}/v1.3", progress=False)
    assert len(df) == 1


@pytest.mark.parametrize("url", ["http://localhost.:9/v1.3", "http://nope.localhost:9/v1.3",
                                 "http://my-laptop:9/v1.3"])
def test_names_not_proven_loopback_are_refused_before_any_connection(url):
    session = requests.Session()
    session.mount("http://", Tripwire())
    host = url.split("//")[1].rsplit(":", 1)[0]
    try:
        answers = {a[4][0] for a in socket.getaddrinfo(host, 9)} if "localhost" in host else set()
    except OSError:
        answers = set()
    if answers and answers <= {"127.0.0.1", "::1"}:  # this machine's resolver proves it loopback: allowed
        assert UploadsClient(KEY, base_url=url, session=session).base_url == url.rstrip("/")
    else:
        with pytest.raises(InsecureTransportError):
            UploadsClient(KEY, base_url=url, session=session)


# --- Ctrl+C / SIGTERM ----------------------------------------------------------------

def _cli_until_a_request(hostile, tmp_path, *args):
    page = {"data": [item(i) for i in range(50)], "page_info": {"total_page": 1, "total_results": 50}}
    server = hostile(trickle(page, 0.5))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TWELVELABS_API_KEY": KEY, "TWELVELABS_BASE_URL": server.base_url}
    proc = subprocess.Popen([sys.executable, "-m", "tlanalytics", *args], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert server.wait_for_requests(1, timeout=60)
    time.sleep(0.3)  # inside the body now
    return proc


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"),
                                             (signal.SIGTERM, 143, "terminated")])
def test_a_signal_stops_the_cli_at_once_with_its_code_and_no_output_file(hostile, tmp_path, sig, code, word):
    out_file = tmp_path / "uploads.csv"
    proc = _cli_until_a_request(hostile, tmp_path, "fetch", "-o", str(out_file), "--no-progress")
    proc.send_signal(sig)
    # The body trickles one byte every 0.5 s (most of an hour for this page): a CLI that waited for the
    # response instead of stopping would outlive the 30 s bound, which fails the test (no timing assertion).
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code, stderr
    assert stderr.strip().splitlines() == [f"tlanalytics: {word}"] and stdout == ""
    assert not out_file.exists() and list(tmp_path.iterdir()) == []


def test_a_second_sigint_does_not_print_a_traceback(hostile, tmp_path):
    proc = _cli_until_a_request(hostile, tmp_path, "check", "--no-progress")
    proc.send_signal(signal.SIGINT)
    time.sleep(0.01)
    try:
        proc.send_signal(signal.SIGINT)
    except ProcessLookupError:
        pass
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in stderr
    assert stderr.strip().splitlines() == ["tlanalytics: interrupted"]


def test_keyboard_interrupt_in_the_library_returns_without_waiting(hostile):
    """What a notebook sees: the interrupt arrives while requests are in flight; nothing waits for them."""
    import _thread
    import threading

    server = hostile(hang())
    c = UploadsClient(KEY, base_url=server.base_url, progress=False, timeout=(2, 60))
    # Python's own Ctrl+C handler, as in a notebook's kernel: a process started in the background by a shell
    # without job control inherits SIGINT ignored, and then Python raises nothing (the cause of this test's
    # failures in such CI runs, on Python 3.11 and 3.13 alike).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        timer = threading.Timer(0.3, _thread.interrupt_main)  # the SIGINT as Python's handler sees it
        timer.start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            c.load()
        assert time.monotonic() - started < 5  # not the 60 s read timeout
    finally:
        signal.signal(signal.SIGINT, previous)
    server.script = honest([item(i) for i in range(3)])  # run the cell again: the same client still works
    assert len(c.load()) == 3
    c.close()


def test_an_interrupted_in_process_cli_run_gives_the_signal_handlers_back(hostile, monkeypatch, capsys):
    """A notebook that calls tlanalytics.cli.main([...]) and interrupts it keeps a working Ctrl+C afterwards
    (run as the command, main() leaves both signals ignored: the process is exiting)."""
    import _thread
    import threading

    from tlanalytics import cli

    server = hostile(hang())
    monkeypatch.setenv("TWELVELABS_API_KEY", KEY)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # a kernel's handler
    previous_term = signal.getsignal(signal.SIGTERM)
    try:
        threading.Timer(0.3, _thread.interrupt_main).start()
        code = cli.main(["check", "--no-progress", "--base-url", server.base_url])
        assert code == 130 and capsys.readouterr().err.strip() == "tlanalytics: interrupted"
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert signal.getsignal(signal.SIGTERM) is previous_term
    finally:
        signal.signal(signal.SIGINT, previous)


# --- closed stdout / stderr --------------------------------------------------------------

def _run_closed(args, close, env_extra=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    for var in ("TWELVELABS_API_KEY", "TWELVE_LABS_API_KEY"):
        env.pop(var, None)
    code = ("import os, sys\n"
            f"os.close({1 if close == 'stdout' else 2})\n"
            "from tlanalytics.cli import main\n"
            f"sys.exit(main({args!r}))\n")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("close, args, code", [
    ("stderr", ["summary", "--no-progress"], 3),  # no key: a configuration error, told to nobody
    ("stderr", ["summary", "--demo"], 0),  # progress bars and results with stderr gone
    ("stderr", ["summary", "--bogus"], 2),
    ("stdout", ["summary", "--demo", "--no-progress"], 141),
])
def test_a_closed_stream_keeps_the_documented_exit_code(close, args, code):
    out = _run_closed(args, close)
    assert out.returncode == code, out.stderr
    assert "Traceback" not in out.stderr


def test_an_unexpected_error_is_one_line_without_debug(hostile, tmp_path):
    server = hostile(nested(200_000))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TWELVELABS_API_KEY": KEY, "TWELVELABS_BASE_URL": server.base_url}
    out = subprocess.run([sys.executable, "-m", "tlanalytics", "check", "--no-progress", "--retries", "1"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 4 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "nested too deeply" in out.stderr and KEY not in out.stderr


# --- thin shortcuts ----------------------------------------------------------------------

def test_shortcut_options_are_exactly_the_clients():
    import inspect

    from tlanalytics import client as module

    params = [p for p in inspect.signature(UploadsClient).parameters]
    assert sorted(module._OPTIONS) == sorted(params)
    for shortcut in (load_uploads, add_progress, load_chunks):
        doc = inspect.getdoc(shortcut)
        assert all(f"``{name}``" in doc for name in params if name != "api_key" or shortcut is not load_uploads)


def test_shortcuts_take_every_client_option_or_a_client(hostile):
    items = [item(i) for i in range(120)]
    server = hostile(status_router(honest(items), lambda req, uid: json_reply(status_body(uid))))
    options = dict(base_url=server.base_url, page_limit=40, max_workers=2, timeout=(2, 3), deadline=30, max_retries=1,
                   backoff=0.001, backoff_max=0.01, max_retry_after=1, max_rate=None, max_passes=2, max_pages=50,
                   max_body=2**20, progress=False, session=None, strict=False)
    df = load_uploads(KEY, **options)
    assert len(df) == 120 and df.attrs["pages"] == 3
    assert not add_progress(df.head(3), api_key=KEY, **options)["vanished"].any()
    with UploadsClient(KEY, **options) as c:
        assert load_uploads(client=c).attrs["requests"] == 3
        assert len(add_progress(df.head(2), client=c)) == 2
    with pytest.raises(InvalidArgumentError, match="Unknown option"):
        load_uploads(KEY, base_url=server.base_url, page_size=10)
    with pytest.raises(InvalidArgumentError, match="not both"):
        load_uploads(KEY, client=c)
