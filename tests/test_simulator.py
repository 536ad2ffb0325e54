"""The simulator speaks the documented API: pagination, errors, knobs, SDK compatibility."""

import concurrent.futures
import gzip
import json
import math
import socket
import time
from pathlib import Path
from datetime import datetime, timezone

import pytest
import requests

from tlanalytics import _generate
from tlanalytics import simulator as simulator_module
from tlanalytics.errors import InvalidArgumentError
from tlanalytics.schema import LISTING_FIELDS
from tlanalytics.simulator import FAULT_KINDS, Simulator, generate_uploads

NOW = "2026-01-15T12:00:00Z"
LIST = "/assets/multipart-uploads"


def _ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


@pytest.fixture
def sim():
    with Simulator(generate_uploads(120, seed=3, now=NOW)) as s:
        yield s


def get(sim, path=LIST, key=None, **params):
    return requests.get(sim.base_url + path, headers={"x-api-key": key or sim.api_key}, params=params, timeout=10)


# --- data ------------------------------------------------------------------

def test_generate_is_deterministic_and_anchored():
    a = generate_uploads(200, seed=7, now=NOW)
    assert a == generate_uploads(200, seed=7, now=NOW)
    assert a != generate_uploads(200, seed=8, now=NOW)
    later = generate_uploads(200, seed=7, now="2026-01-16T12:00:00Z")
    assert [s["upload_id"] for s in later] == [s["upload_id"] for s in a]
    assert _ts(later[0]["created_at"]) - _ts(a[0]["created_at"]) == (_ts("2026-01-16T12:00:00Z") - _ts(NOW))


def test_generated_sessions_are_consistent():
    sessions = generate_uploads(2000, seed=11, now=NOW)
    now = _ts(NOW)
    statuses = {s["status"] for s in sessions}
    assert statuses == {"active", "failed", "expired", "completed"}
    assert len({s["upload_id"] for s in sessions}) == len(sessions)
    sizes = sorted(s["total_size"] for s in sessions)
    assert sizes[0] >= 1_000_000 and sizes[-1] <= 10 * 2**30
    assert sizes[-1] > 4 * 2**30 > sizes[len(sizes) // 2]  # heavy tail above the median
    lifetimes = [(_ts(s["expires_at"]) - _ts(s["created_at"])).total_seconds() / 3600 for s in sessions]
    assert sum(h == 24 for h in lifetimes) / len(lifetimes) > 0.75 and set(lifetimes) - {24}
    for s in sessions:
        assert s["chunk_size"] in _generate.CHUNK_SIZES
        assert s["total_chunks"] == math.ceil(s["total_size"] / s["chunk_size"])
        assert 0 < (now - _ts(s["created_at"])).total_seconds() <= 30 * 3600
        assert _ts(s["expires_at"]) > _ts(s["created_at"])
        assert _ts(s["created_at"]) <= _ts(s["updated_at"]) <= now
        assert 0 <= s["chunks_completed"] + s["chunks_failed"] <= s["total_chunks"]
        assert s["uploaded_size"] == _generate.uploaded_size(s) <= s["total_size"]
        if s["status"] == "completed":
            assert s["uploaded_size"] == s["total_size"]
        if _ts(s["expires_at"]) > now:
            assert s["status"] != "expired"
    # newest first, as served
    assert [s["created_at"] for s in sessions] == sorted((s["created_at"] for s in sessions), reverse=True)


def test_shipped_sample_is_reproducible_and_reanchored():
    doc = json.loads(gzip.decompress(_generate.sample_bytes()))
    assert doc["n"] == len(doc["sessions"]) >= 2000
    assert doc["sessions"] == generate_uploads(doc["n"], seed=doc["seed"], now=doc["generated_at"])
    shifted = _generate.load_sample(now=NOW)
    delta = _ts(NOW) - _ts(doc["generated_at"])
    assert _ts(shifted[5]["expires_at"]) - _ts(doc["sessions"][5]["expires_at"]) == delta


def test_the_data_script_writes_the_shipped_sample_exactly(tmp_path):
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "data" / "write_sample.py"
    spec = importlib.util.spec_from_file_location("write_sample", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shipped = _generate.sample_bytes()
    moment = json.loads(gzip.decompress(shipped))["generated_at"]
    # The JSON byte for byte; the gzip wrapping is compared decompressed (zlib's output differs between builds:
    # Python 3.13's compresses the same bytes differently)
    assert gzip.decompress(module.write_sample(tmp_path / "sample.json.gz", now=moment).read_bytes()) == \
        gzip.decompress(shipped)
    other = module.write_sample(tmp_path / "other.json.gz", now="2030-01-01T00:00:00Z", n=5, seed=1)
    assert json.loads(gzip.decompress(other.read_bytes()))["sessions"] == generate_uploads(5, seed=1, now="2030-01-01T00:00:00Z")


def test_generate_rejects_bad_n():
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(InvalidArgumentError, match="`n`"):
            generate_uploads(bad)


# --- pagination ----------------------------------------------------------

@pytest.mark.parametrize("limit,page,expected", [(50, 1, 50), (50, 3, 20), (50, 4, 0), (7, 18, 1), (10, 12, 10)])
def test_pages(sim, limit, page, expected):
    body = get(sim, page=page, page_limit=limit).json()
    assert len(body["data"]) == expected
    assert body["page_info"] == {"limit_per_page": limit, "page": page,
                                 "total_page": math.ceil(120 / limit), "total_results": 120}
    start = (page - 1) * limit
    assert body["data"] == sim.listing()[start:start + limit]


def test_defaults_and_walk_covers_everything(sim):
    body = get(sim).json()
    assert body["page_info"]["limit_per_page"] == 10 and body["page_info"]["page"] == 1
    seen = []
    for page in range(1, 4):
        seen += [d["upload_id"] for d in get(sim, page=page, page_limit=50).json()["data"]]
    assert seen == [s["upload_id"] for s in sim.sessions()]
    item = get(sim, page_limit=1).json()["data"][0]
    assert set(item) == set(LISTING_FIELDS)


def test_empty_account():
    with Simulator([]) as sim:
        body = get(sim, page_limit=50).json()
    assert body == {"data": [], "page_info": {"limit_per_page": 50, "page": 1, "total_page": 0, "total_results": 0}}


def test_default_simulator_serves_the_sample():
    with Simulator() as sim:
        body = get(sim, page_limit=50).json()
    assert body["page_info"]["total_results"] == _generate.SAMPLE_SIZE
    newest = _ts(body["data"][0]["created_at"])
    assert abs((datetime.now(timezone.utc) - newest).total_seconds()) < 3 * 3600  # alive today


# --- errors ---------------------------------------------------------------

def test_auth(sim):
    for headers in ({}, {"x-api-key": ""}, {"x-api-key": "wrong"}, {"X-API-KEY": sim.api_key + "x"}):
        r = requests.get(sim.base_url + LIST, headers=headers, timeout=5)
        assert r.status_code == 403
        assert r.json()["code"] == "api_key_invalid" and r.json()["message"]
        assert sim.api_key not in r.text
    assert requests.get(sim.base_url + LIST, headers={"X-Api-Key": sim.api_key}, timeout=5).status_code == 200


@pytest.mark.parametrize("name,value", [("page", "0"), ("page", "-1"), ("page", "abc"), ("page", "1.5"), ("page", ""),
                                        ("page_limit", "0"), ("page_limit", "51"), ("page_limit", "-5"),
                                        ("page_limit", "x"), ("page_limit", "2.0")])
def test_bad_parameters(sim, name, value):
    r = get(sim, **{name: value})
    assert r.status_code == 400
    assert r.json()["code"] == "parameter_invalid" and name in r.json()["message"]


def test_unknown_parameter_and_routes(sim):
    r = get(sim, sort="asc")
    assert (r.status_code, r.json()["code"]) == (400, "parameter_unknown") and "sort" in r.json()["message"]
    r = get(sim, "/assets/nothing")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    r = get(sim, LIST + "/does-not-exist")
    assert (r.status_code, r.json()["code"]) == (404, "resource_not_exist")
    r = requests.post(sim.base_url + LIST, headers={"x-api-key": sim.api_key}, timeout=5)
    assert (r.status_code, r.json()["code"], r.headers["Allow"]) == (405, "method_not_allowed", "GET")
    assert requests.delete(sim.base_url + LIST + "/x", timeout=5).status_code == 405


def test_status_endpoint(sim):
    small = [s for s in sim.sessions() if s["total_chunks"] <= 60]
    big = max(sim.sessions(), key=lambda s: s["total_chunks"])
    assert big["total_chunks"] > 50
    for s in small[:12] + [big]:
        states = _generate.chunk_states(s)
        body = get(sim, LIST + "/" + s["upload_id"], page_limit=1).json()
        assert body["chunks_completed"] == s["chunks_completed"] == states.count("completed")
        assert body["chunks_failed"] == states.count("failed")
        assert body["chunks_pending"] == s["total_chunks"] - s["chunks_completed"] - s["chunks_failed"]
        assert body["uploaded_size"] == s["uploaded_size"] and body["total_size"] == s["total_size"]
        assert body["updated_at"] == s["updated_at"] and body["page_info"]["total_results"] == s["total_chunks"]
        chunks = []
        for page in range(1, body["page_info"]["total_page"] + 2):
            chunks += get(sim, LIST + "/" + s["upload_id"], page=page, page_limit=50 if s is big else 7).json()["uploaded_chunks"]
        assert [c["index"] for c in chunks] == list(range(1, s["total_chunks"] + 1))
        assert [c["status"] for c in chunks] == states
        for c in chunks:
            assert (c["uploaded_at"] is None) == (c["status"] != "completed")
            assert ("error" in c) == (c["status"] == "failed")


# --- knobs -------------------------------------------------------------------

def test_injected_faults(sim):
    sim.inject("500")
    r = get(sim)
    assert (r.status_code, r.json()["code"]) == (500, "internal_error")
    sim.inject("429")
    r = get(sim)
    assert (r.status_code, r.json()["code"], r.headers["Retry-After"]) == (429, "too_many_requests", "1")
    sim.inject("429-no-retry-after")
    r = get(sim)
    assert r.status_code == 429 and "Retry-After" not in r.headers
    sim.inject("nonjson")
    r = get(sim)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/html"
    with pytest.raises(ValueError):
        r.json()
    sim.inject("drop")
    with pytest.raises(requests.ConnectionError):
        get(sim)
    sim.inject("truncate")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(sim)
    sim.inject("500", path="/nowhere")  # only matching paths take it
    assert get(sim).status_code == 200
    assert [f for *_, f in sim.request_log] == ["500", "429", "429-no-retry-after", "nonjson", "drop", "truncate", None]


def test_slow_fault_and_latency(monkeypatch):
    slept, real_sleep = [], time.sleep

    def sleep(seconds):  # the simulator's own wait, recorded instead of timed
        slept.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(simulator_module.time, "sleep", sleep)
    with Simulator(generate_uploads(5, seed=1), latency=0.2, slow_seconds=0.5) as sim:
        assert get(sim).status_code == 200
        assert 0.2 in slept
        sim.inject("slow")
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(sim.base_url + LIST, headers={"x-api-key": sim.api_key}, timeout=(1, 0.4))


def test_fault_share_is_reproducible_by_seed():
    def run(seed):
        with Simulator(generate_uploads(5, seed=1), faults=0.5, fault_kinds=["500", "429", "nonjson"], seed=seed) as sim:
            for _ in range(60):
                get(sim)
            return [f for *_, f in sim.request_log]

    a, b, c = run(4), run(4), run(5)
    assert a == b != c
    assert 15 < sum(f is not None for f in a) < 45
    assert {f for f in a if f} == {"500", "429", "nonjson"}


def test_rate_limit():
    with Simulator(generate_uploads(5, seed=1), rate_limit=5) as sim:
        codes = [get(sim) for _ in range(8)]
    assert [r.status_code for r in codes[:5]] == [200] * 5
    assert {r.status_code for r in codes[5:]} == {429}
    assert int(codes[-1].headers["Retry-After"]) >= 1 and codes[-1].json()["code"] == "too_many_requests"


def test_churn_changes_listing_between_requests():
    with Simulator(generate_uploads(100, seed=2, now=NOW), churn=3, churn_limit=4, seed=9) as sim:
        before = [s["upload_id"] for s in sim.sessions()]
        totals = [get(sim, page=1, page_limit=50).json()["page_info"]["total_results"] for _ in range(6)]
        after = [s["upload_id"] for s in sim.sessions()]
        assert len(sim.removed_ids) + len(sim.added_ids) + len(sim.expired_ids) == 12
        assert totals[-1] == totals[-2]  # churn stopped after 4 listing requests
        assert after[: len(sim.added_ids)] == list(reversed(sim.added_ids))  # new ones at the front
        assert set(sim.persistent_ids()) == set(before) - set(sim.removed_ids)
        assert set(sim.persistent_ids()) <= set(after)
        assert all(s["status"] == "expired" for s in sim.sessions() if s["upload_id"] in sim.expired_ids)


def test_bad_knobs_refused():
    for kwargs in ({"host": "0.0.0.0"}, {"host": "10.0.0.1"}, {"faults": 2}, {"fault_kinds": ["boom"]},
                   {"latency": -1}, {"rate_limit": 0}):
        with pytest.raises(InvalidArgumentError):
            Simulator([], **kwargs)
    with pytest.raises(InvalidArgumentError):
        Simulator([]).inject("boom")
    assert set(FAULT_KINDS) >= {"500", "429", "drop", "truncate"}


def test_garbage_requests_do_not_disturb_others(sim):
    host, port = sim.base_url.split("//")[1].split("/")[0].split(":")
    for junk in (b"\x00\xff garbage\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
                 b"GET /v1.3/assets/multipart-uploads HTTP/1.1\r\nContent-Length: 99999999\r\n\r\nabc", b""):
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            s.recv(65536)
    assert get(sim, page_limit=50).json()["page_info"]["total_results"] == 120


def test_many_concurrent_clients(sim):
    def walk(_):
        with requests.Session() as s:
            ids = []
            for page in range(1, 8):
                r = s.get(sim.base_url + LIST, headers={"x-api-key": sim.api_key},
                          params={"page": page, "page_limit": 20}, timeout=10)
                ids += [d["upload_id"] for d in r.json()["data"]]
            return ids

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(walk, range(32)))
    expected = [s["upload_id"] for s in sim.sessions()]
    assert all(r == expected for r in results)


def test_ipv6_loopback():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        sim = Simulator(generate_uploads(3, seed=1), host="::1").start()
    except OSError:
        pytest.skip("::1 is not configured here")
    try:
        assert sim.base_url.startswith("http://[::1]:")
        assert get(sim).json()["page_info"]["total_results"] == 3
    finally:
        sim.stop()


# --- the official SDK reads the simulator ------------------------------------

def test_official_sdk_pages_and_parses_everything():
    twelvelabs = pytest.importorskip("twelvelabs")
    from twelvelabs.types import GetUploadStatusResponse, IncompleteUploadSummary

    with Simulator(generate_uploads(137, seed=5, now=NOW)) as sim:
        client = twelvelabs.TwelveLabs(api_key=sim.api_key, base_url=sim.base_url)
        items = list(client.multipart_upload.list_incomplete_uploads(page_limit=50))
        assert all(isinstance(i, IncompleteUploadSummary) for i in items)
        assert [i.upload_id for i in items] == [s["upload_id"] for s in sim.sessions()]
        assert sim.listing_requests == 4  # the SDK's extra request for the empty page
        by_id = {s["upload_id"]: s for s in sim.sessions()}
        for item in items:
            s = by_id[item.upload_id]
            assert (item.status, item.total_size, item.chunk_size, item.total_chunks) == (
                s["status"], s["total_size"], s["chunk_size"], s["total_chunks"])
            assert item.created_at == _ts(s["created_at"]) and item.expires_at == _ts(s["expires_at"])
        for s in [s for s in by_id.values() if s["total_chunks"] < 40][:5]:
            chunks = list(client.multipart_upload.get_status(s["upload_id"], page_limit=13))
            assert [c.index for c in chunks] == list(range(1, s["total_chunks"] + 1))
            assert [c.status for c in chunks] == _generate.chunk_states(s)
            raw = get(sim, LIST + "/" + s["upload_id"], page_limit=1).json()
            status = GetUploadStatusResponse.model_validate(raw)
            assert (status.chunks_completed, status.uploaded_size, status.total_size) == (
                s["chunks_completed"], s["uploaded_size"], s["total_size"])
        with pytest.raises(twelvelabs.errors.ForbiddenError):
            twelvelabs.TwelveLabs(api_key="nope", base_url=sim.base_url).multipart_upload.list_incomplete_uploads()
        with pytest.raises(twelvelabs.errors.NotFoundError):
            list(client.multipart_upload.get_status("missing"))


# --- bounded log, quiet resets, constant-time key check, hostile values ----------------------

def test_request_log_keeps_only_the_newest_requests(monkeypatch):
    from tlanalytics import simulator

    monkeypatch.setattr(simulator, "REQUEST_LOG_SIZE", 5)
    with Simulator(generate_uploads(30, seed=1, now=NOW)) as s:
        for page in range(1, 9):
            assert get(s, page=page, page_limit=3).status_code == 200
        log = s.request_log
        assert isinstance(log, list) and len(log) == 5 and s.requests == 8
        assert [path.rpartition("page=")[2].split("&")[0] for _, path, _, _ in log] == ["4", "5", "6", "7", "8"]
        s.reset_stats()
        assert s.request_log == [] and s.requests == 0
        get(s)
        assert len(s.request_log) == 1
    assert simulator.REQUEST_LOG_SIZE == 5 and Simulator([])._log.maxlen == 5
    monkeypatch.undo()
    assert Simulator([])._log.maxlen == simulator.REQUEST_LOG_SIZE == 10_000


def _reset_after_request(sim, path):
    """Send a request and reset the connection (RST) before the answer is written."""
    sock = socket.create_connection(("127.0.0.1", sim.port), timeout=5)
    sock.sendall(f"GET /v1.3{path} HTTP/1.1\r\nHost: x\r\nx-api-key: {sim.api_key}\r\n\r\n".encode())
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


def test_a_client_that_resets_is_logged_at_debug_not_printed(capfd, caplog):
    big = [{"upload_id": "x" * (4 << 20), "status": "active"}]  # a 4 MB answer: writing it hits the reset
    caplog.set_level("DEBUG", logger="tlanalytics.simulator")
    with Simulator(big, latency=0.3) as s:
        _reset_after_request(s, LIST)
        _reset_after_request(s, LIST)
        deadline = time.monotonic() + 10
        while not any("went away" in r.getMessage() for r in caplog.records) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert get(s, page_limit=1).status_code == 200  # still serving
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err
    gone = [r for r in caplog.records if "went away" in r.getMessage()]
    assert gone and all(r.levelname == "DEBUG" for r in gone)
    assert not [r for r in caplog.records if r.levelno >= 40]


def test_the_key_is_compared_in_constant_time(sim, monkeypatch):
    import hmac

    from tlanalytics import simulator

    calls, real = [], hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(simulator.hmac, "compare_digest", spy)
    key = sim.api_key
    assert get(sim, key=key).status_code == 200
    assert get(sim, key=key[:-1] + ("0" if key[-1] != "0" else "1")).status_code == 403  # same length, last char off
    assert get(sim, key=key + "x").status_code == 403
    assert calls and all(isinstance(a, bytes) and b == key.encode() for a, b in calls)
    # a header that is not ASCII (compare_digest refuses non-ASCII str) is a 403, not a 500
    raw = socket.create_connection(("127.0.0.1", sim.port), timeout=5)
    raw.sendall(b"GET /v1.3/assets/multipart-uploads HTTP/1.1\r\nHost: x\r\nx-api-key: \xe9\xff\r\n"
                b"Connection: close\r\n\r\n")
    answer = b""
    while chunk := raw.recv(65536):
        answer += chunk
    raw.close()
    assert answer.startswith(b"HTTP/1.1 403") and b"api_key_invalid" in answer


def test_hostile_values_are_served_as_given(sim):
    from tlanalytics.simulator import RawJSON

    items = [
        {"upload_id": "a/b", "status": "active", "total_size": 10**400, "chunk_size": -1, "total_chunks": 1e308,
         "created_at": "0001-01-01T00:00:00Z", "expires_at": "10000-01-01T00:00:00Z",
         "chunks_completed": "3", "chunks_failed": None, "uploaded_size": True, "updated_at": [1]},
        {"upload_id": None, "status": "\udcff"},
        {"upload_id": None, "status": "active"},  # a repeated id is kept, not merged
        {"upload_id": 7, "status": RawJSON("[" * 50_000 + "]" * 50_000)},
        {"upload_id": "bad-utf8", "status": RawJSON(b'"\xff\xfe"')},
        {"upload_id": "huge-counters", "total_chunks": 10**7, "chunks_completed": 5 * 10**6, "chunks_failed": 4 * 10**6,
         "created_at": "2025-12-01T10:00:00Z", "updated_at": "2025-12-01T11:00:00Z"},
        {"upload_id": "own-chunks", "status": "active", "chunks_completed": 1, "chunks_failed": 0,
         "uploaded_chunks": [{"index": 10**30, "status": "completed", "uploaded_at": "9999-12-31T23:59:59Z"},
                             "not an object"]},
    ]
    with Simulator(items, api_key="k") as s:
        r = requests.get(s.base_url + LIST, headers={"x-api-key": "k"}, params={"page_limit": 50}, timeout=10)
        assert r.status_code == 200
        body = r.content
        assert b'"\xff\xfe"' in body and b"[" * 50_000 in body
        with pytest.raises((ValueError, RecursionError)):
            r.json()  # not UTF-8 and nested too deep: that is the point
        clean = json.loads(body.replace(b'"\xff\xfe"', b'"x"').replace(b"[" * 50_000 + b"]" * 50_000, b'"deep"'))
        data = clean["data"]
        assert len(data) == 7 and clean["page_info"]["total_results"] == 7
        assert data[0]["total_size"] == 10**400 and data[0]["total_chunks"] == 1e308
        assert data[0]["created_at"] == "0001-01-01T00:00:00Z" and data[1]["status"] == "\udcff"
        assert [d["upload_id"] for d in data] == ["a/b", None, None, 7, "bad-utf8", "huge-counters", "own-chunks"]

        def status(uid):
            return requests.get(f"{s.base_url}{LIST}/{uid}", headers={"x-api-key": "k"}, timeout=10)

        st = status("a%2Fb")  # a "/" in an id is addressed percent-encoded
        assert st.status_code == 200
        assert st.json()["uploaded_size"] is True and st.json()["updated_at"] == [1]
        assert st.json()["chunks_completed"] == "3" and st.json()["chunks_pending"] is None
        assert st.json()["uploaded_chunks"] == []
        own = status("own-chunks").json()
        assert own["uploaded_chunks"][0]["index"] == 10**30 and own["uploaded_chunks"][1] == "not an object"
        assert own["page_info"]["total_results"] == 2
        assert status("7").status_code == 404  # an id that is not a string cannot be addressed
        huge = status("huge-counters").json()  # past MAX_CHUNKS no chunks are drawn (that took minutes)
        assert huge["uploaded_chunks"] == [] and huge["chunks_pending"] == 10**6
        assert not [e for e in s.request_log if e[2] == 500]
