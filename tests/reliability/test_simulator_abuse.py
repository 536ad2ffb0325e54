"""Malformed and hostile requests never take the simulator down.

Raw sockets to 127.0.0.1 send junk bytes, TLS and HTTP/2 prefaces, huge
headers and URLs, bad percent-encoding, non-UTF-8 paths, duplicate and
unknown parameters, bad Content-Lengths, slowloris-style half requests held
open, abrupt resets, and junk from several threads at once while a real load
runs. After each one a normal request still gets exactly the right answer and
the server thread is alive. Every socket has a timeout, so nothing here can
hang the suite.
"""

from __future__ import annotations

import os
import random
import re
import select
import socket
import struct
import threading
import time

import pytest
import requests

from tlanalytics.client import load_uploads
from tlanalytics.simulator import Simulator, generate_uploads

NOW = "2026-01-15T12:00:00Z"
KEY = "tlk_abuse_0123456789abcdef"
LIST = "/v1.3/assets/multipart-uploads"


@pytest.fixture(scope="module")
def sim():
    s = Simulator(generate_uploads(120, seed=31, now=NOW), api_key=KEY, seed=31).start()
    yield s
    started = time.monotonic()
    s.stop()
    assert time.monotonic() - started < 10, "the simulator took too long to stop"


@pytest.fixture(scope="module")
def abuse_counts(reliability_stats):
    counts = reliability_stats.setdefault("simulator_abuse", {"hostile_connections": 0, "checks_after": 0})
    yield counts


def _alive(sim):
    # The simulator has no public handle on its thread; this is the thread serve_forever runs in.
    return sim._thread is not None and sim._thread.is_alive()


def assert_still_serving(sim, counts=None):
    """A normal request gets the right answer, and the server thread is alive."""
    assert _alive(sim), "the server thread died"
    r = requests.get(sim.base_url + "/assets/multipart-uploads", params={"page": 2, "page_limit": 50},
                     headers={"x-api-key": KEY}, timeout=5)
    assert r.status_code == 200, r.text[:200]
    body = r.json()
    assert body["data"] == sim.listing()[50:100]
    assert body["page_info"] == {"limit_per_page": 50, "page": 2, "total_page": 3, "total_results": 120}
    uid = sim.initial_ids[7]
    r = requests.get(f"{sim.base_url}/assets/multipart-uploads/{uid}", params={"page_limit": 1},
                     headers={"x-api-key": KEY}, timeout=5)
    assert r.status_code == 200 and r.json()["upload_id"] == uid
    if counts is not None:
        counts["checks_after"] += 1


def raw(sim, payload, *, timeout=3.0, counts=None):
    """Send ``payload`` on a fresh connection, half-close, and return whatever comes back (bounded)."""
    if counts is not None:
        counts["hostile_connections"] += 1
    with socket.create_connection(("127.0.0.1", sim.port), timeout=timeout) as s:
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError:  # the server may close first on a huge payload
            pass
        data, deadline = b"", time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return data


def status_of(data):
    """The status code of the first response in ``data``; None when nothing came back.

    A request without a parsable HTTP version gets an HTTP/0.9-style answer
    (body only, no status line), as http.server does: its code is read from
    the error page, 0 when the body does not say.
    """
    if not data:
        return None
    if not data.startswith(b"HTTP/"):
        match = re.search(rb"Error code: (\d{3})", data)
        return int(match.group(1)) if match else 0
    line = data.split(b"\r\n", 1)[0]
    assert re.fullmatch(rb"HTTP/1\.[01] \d{3} .*", line), f"not an HTTP status line: {line[:80]!r}"
    return int(line.split()[1])


def _request(target, *, headers=(), method=b"GET", version=b"HTTP/1.1", body=b""):
    head = [method + b" " + target + b" " + version, b"Host: 127.0.0.1", b"x-api-key: " + KEY.encode(),
            b"Connection: close", *headers]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


rng = random.Random(7)
JUNK = {
    "random_bytes": bytes(rng.randrange(256) for _ in range(2048)),
    "nul_bytes": b"\x00" * 4096,
    "only_newlines": b"\r\n" * 500,
    "no_request_line_end": b"GET " + b"A" * 5000,
    "hello": b"HELLO WORLD\r\n\r\n",
    "tls_client_hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(rng.randrange(256) for _ in range(500)),
    "http2_preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x12\x04\x00\x00\x00\x00\x00",
    "http09": b"GET /\r\n",
    "future_version": _request(LIST.encode(), version=b"HTTP/9.9"),
    "bad_version": _request(LIST.encode(), version=b"HTTX/1.1"),
    "unknown_method": _request(LIST.encode(), method=b"BREW"),
    "lowercase_method": _request(LIST.encode(), method=b"get"),
    "no_host": b"GET " + LIST.encode() + b" HTTP/1.1\r\n\r\n",
    "header_without_colon": _request(LIST.encode(), headers=[b"this is not a header"]),
    "huge_header": _request(LIST.encode(), headers=[b"X-Big: " + b"a" * 100_000]),
    "many_headers": _request(LIST.encode(), headers=[b"X-H%d: v" % i for i in range(300)]),
    "huge_key_header": _request(LIST.encode(), headers=[b"x-api-key: " + b"k" * 60_000]),
    "huge_url": _request(LIST.encode() + b"?" + b"a" * 100_000),
    "long_url_under_limit": _request(LIST.encode() + b"/" + b"b" * 60_000),
    "many_params": _request(LIST.encode() + b"?" + b"&".join(b"p%d=1" % i for i in range(5000))),
    "bad_percent": _request(LIST.encode() + b"?page=%zz&page_limit=%ff"),
    "percent_nul": _request(LIST.encode() + b"?page=%00"),
    "percent_in_path": _request(LIST.encode() + b"/%ff%fe%zz"),
    "non_utf8_path": _request(LIST.encode() + b"/\xff\xfe\xfd"),
    "non_utf8_query": _request(LIST.encode() + b"?page=\xff"),
    "duplicate_params": _request(LIST.encode() + b"?page=1&page=2&page_limit=5&page_limit=999"),
    "unknown_param": _request(LIST.encode() + b"?evil=1"),
    "negative_page": _request(LIST.encode() + b"?page=-1"),
    "huge_page": _request(LIST.encode() + b"?page=" + b"9" * 5000),
    "fullwidth_digits": _request(LIST.encode() + "?page=\uff12".encode()),
    "dotdot_path": _request(b"/v1.3/assets/multipart-uploads/../../../etc/passwd"),
    "absolute_uri": _request(b"http://evil.example" + LIST.encode()),
    "content_length_text": _request(LIST.encode(), method=b"POST", headers=[b"Content-Length: abc"]),
    "content_length_negative": _request(LIST.encode(), method=b"POST", headers=[b"Content-Length: -5"]),
    "content_length_huge": _request(LIST.encode(), method=b"POST", headers=[b"Content-Length: 99999999999"]),
    "content_length_twice": _request(LIST.encode(), method=b"POST", headers=[b"Content-Length: 3",
                                                                            b"Content-Length: 5"], body=b"abc"),
    "chunked_junk": _request(LIST.encode(), method=b"POST", headers=[b"Transfer-Encoding: chunked"],
                             body=b"zz\r\nnot chunked\r\n"),
    "pipelined": _request(LIST.encode(), headers=[b"Connection: keep-alive"]).replace(b"Connection: close\r\n", b"")
    + _request(LIST.encode() + b"?page=3"),
    "smuggle_attempt": _request(LIST.encode(), method=b"POST", headers=[b"Content-Length: 4",
                                                                       b"Transfer-Encoding: chunked"],
                                body=b"0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n"),
}
# The answer each one must get (http.server's own checks, then the simulator's API errors).
EXPECTED = {
    "huge_url": {414}, "huge_header": {431}, "many_headers": {431}, "unknown_method": {501},
    "lowercase_method": {501}, "future_version": {505}, "http2_preface": {505}, "bad_version": {400}, "hello": {400},
    "random_bytes": {400}, "tls_client_hello": {400}, "nul_bytes": {400}, "unknown_param": {400},
    "negative_page": {400}, "huge_page": {200, 400}, "bad_percent": {400}, "duplicate_params": {400},
    "percent_nul": {400}, "non_utf8_query": {400}, "fullwidth_digits": {400}, "many_params": {400},
    "dotdot_path": {404}, "percent_in_path": {404}, "non_utf8_path": {404}, "long_url_under_limit": {404},
    "huge_key_header": {403}, "no_host": {403}, "content_length_negative": {405}, "content_length_huge": {405},
    "content_length_twice": {405}, "chunked_junk": {405}, "smuggle_attempt": {405}, "absolute_uri": {200},
    "pipelined": {200}, "header_without_colon": {200},
}


@pytest.mark.parametrize("name", sorted(JUNK))
def test_one_hostile_request_then_business_as_usual(sim, abuse_counts, name):
    data = raw(sim, JUNK[name], counts=abuse_counts)
    status = status_of(data)
    if name in EXPECTED:
        assert status in EXPECTED[name], f"{name}: got {status} {data[:200]!r}"
    if status is not None and status != 200 and b"application/json" in data.split(b"\r\n\r\n", 1)[0]:
        assert b'"code"' in data  # API errors keep the documented body
    assert_still_serving(sim, abuse_counts)


def test_pipelined_requests_are_both_answered(sim, abuse_counts):
    data = raw(sim, JUNK["pipelined"], counts=abuse_counts)
    assert data.count(b"HTTP/1.1 200") == 2


def test_abrupt_resets_mid_request(sim, abuse_counts):
    for payload in (b"GET " + LIST.encode(), _request(LIST.encode())[:40], _request(LIST.encode())):
        abuse_counts["hostile_connections"] += 1
        s = socket.create_connection(("127.0.0.1", sim.port), timeout=2)
        s.sendall(payload)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
        s.close()
    time.sleep(0.2)
    assert_still_serving(sim, abuse_counts)


def test_slowloris_half_requests_do_not_starve_real_clients(sim, abuse_counts):
    """Forty connections trickle half a request (and one a body shorter than its Content-Length) and hold on."""
    held = []
    try:
        for i in range(40):
            s = socket.create_connection(("127.0.0.1", sim.port), timeout=2)
            s.sendall(b"GET " + LIST.encode() + b" HTTP/1.1\r\nHost: x\r\nx-api-key: ")
            held.append(s)
        short = socket.create_connection(("127.0.0.1", sim.port), timeout=2)
        short.sendall(_request(LIST.encode(), method=b"POST", headers=[b"Content-Length: 1000"], body=b"only ten b"))
        held.append(short)
        abuse_counts["hostile_connections"] += len(held)
        for _ in range(5):  # keep trickling while real requests are served
            for s in held[:-1]:
                s.sendall(b"k")
            started = time.monotonic()
            assert_still_serving(sim, abuse_counts)
            assert time.monotonic() - started < 2.0, "a real request waited behind the half-open connections"
            time.sleep(0.05)
    finally:
        for s in held:
            s.close()
    assert_still_serving(sim, abuse_counts)


def test_junk_from_several_threads_while_a_real_load_runs(sim, abuse_counts):
    names = sorted(JUNK)
    errors = []

    def hammer(seed):
        r = random.Random(seed)
        for _ in range(25):
            try:
                raw(sim, JUNK[r.choice(names)], timeout=3)
            except OSError:  # refused or reset under load is the junk sender's problem, not the server's
                pass
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(i,), daemon=True) for i in range(6)]
    for t in threads:
        t.start()
    df = load_uploads(KEY, base_url=sim.base_url, page_limit=10, max_workers=4, progress=False, timeout=(3, 10))
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a junk sender hung"
    abuse_counts["hostile_connections"] += 6 * 25
    assert not errors, errors
    assert df["upload_id"].tolist() == [s["upload_id"] for s in sim.listing()]
    assert df.attrs["consistent"] is True
    assert_still_serving(sim, abuse_counts)


def test_a_burst_of_connections_is_accepted_at_once(abuse_counts):
    """100 clients connecting at the same moment all get through without waiting for a SYN retry (1 s).

    The simulator asks for a listen backlog of 256; a backlog of a few
    connections makes the kernel drop the SYNs of a burst, and clients stall
    for a second or more (or time out with a short connect timeout).
    """
    with Simulator(generate_uploads(5, seed=3, now=NOW), api_key=KEY) as fresh:
        socks = []
        try:
            for _ in range(100):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", fresh.port))
                socks.append(s)
            pending, deadline = set(socks), time.monotonic() + 0.5
            while pending and time.monotonic() < deadline:
                _, writable, _ = select.select([], list(pending), [], 0.05)
                pending -= {s for s in writable if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0}
        finally:
            for s in socks:
                s.close()
        abuse_counts["hostile_connections"] += 100
        stalled = len(pending)
        assert stalled == 0, f"{stalled} of 100 simultaneous connections were not accepted within 0.5 s"
        assert _alive(fresh)


def test_an_ipv6_simulator_survives_junk_too(abuse_counts):
    with Simulator(generate_uploads(5, seed=2, now=NOW), api_key=KEY, host="::1") as six:
        for payload in (os.urandom(512), JUNK["huge_header"], JUNK["non_utf8_path"]):
            with socket.create_connection(("::1", six.port), timeout=3) as s:
                try:
                    s.sendall(payload)
                    s.shutdown(socket.SHUT_WR)
                    while s.recv(65536):
                        pass
                except OSError:  # the server may answer 431 and close before the huge header is all sent
                    pass
            abuse_counts["hostile_connections"] += 1
        assert _alive(six), "the IPv6 server thread died"
        df = load_uploads(KEY, base_url=six.base_url, progress=False)
        assert df["upload_id"].tolist() == [s["upload_id"] for s in six.listing()]
