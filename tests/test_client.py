"""The loader against real HTTP on loopback: the simulator, and a tiny stdlib server for what it will not do."""

import email.utils
import json
import logging
import math
import re
import socket
import threading
import time
import warnings
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
import requests
import urllib3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.adapters import BaseAdapter, HTTPAdapter

import tlanalytics
from tlanalytics.client import UploadsClient, load_uploads
from tlanalytics.errors import (APIError, AuthenticationError, BadRequestError, ConfigurationError,
                                InconsistentListingWarning, InsecureTransportError, InvalidArgumentError,
                                MalformedItemWarning, NotFoundError, RateLimitError, ResponseFormatError, ServerError,
                                TransportError)
from tlanalytics.simulator import Simulator, generate_uploads

from _hostile import Reply, json_reply

NOW = "2026-01-15T12:00:00Z"
KEY = "tlk_SECRET_0123456789abcdef"
LISTING_COLS = ("status", "total_size", "chunk_size", "total_chunks")


def uploads(n, seed=0):
    return generate_uploads(n, seed=seed, now=NOW)


def ids_of(df):
    return df["upload_id"].tolist()


def assert_matches_listing(df, listing):
    """Same sessions, same listing values, whatever the row order; no duplicates."""
    got = ids_of(df)
    assert len(got) == len(set(got)) == len(listing)
    assert set(got) == {s["upload_id"] for s in listing}
    if not listing:
        return
    rows = df.set_index("upload_id")
    expected = pd.DataFrame(listing).set_index("upload_id").loc[rows.index]
    for c in LISTING_COLS:
        assert rows[c].astype(object).tolist() == expected[c].tolist(), c
    for c in ("created_at", "expires_at"):
        # Positional: the two indexes differ in dtype (string vs object), which pandas 2 refuses to align.
        assert (rows[c].to_numpy() == pd.to_datetime(expected[c], utc=True).to_numpy()).all(), c


def listing_requests(sim):
    return [path for _, path, _, _ in sim.request_log if urlsplit(path).path.endswith("/multipart-uploads")]


class Recorder(HTTPAdapter):
    """A real HTTPAdapter that records when each request went out and what came back."""

    def __init__(self):
        super().__init__(pool_maxsize=16)
        self.events, self._lock = [], threading.Lock()

    def send(self, request, **kwargs):
        start = time.monotonic()
        status = None
        try:
            resp = super().send(request, **kwargs)
            status = resp.status_code
            return resp
        finally:
            with self._lock:
                self.events.append((start, time.monotonic(), status, request.url))


def recording_session():
    session, rec = requests.Session(), Recorder()
    session.mount("http://", rec)
    return session, rec


class NoConnection(BaseAdapter):
    """A transport adapter that fails the test if anything tries to use it."""

    def send(self, request, **kwargs):
        raise AssertionError(f"a request was sent to {request.url}")

    def close(self):
        pass


def listing(items, *, info=None, script=(), cap=None):
    """A script for the ``hostile`` server: ``items`` paged, with a page_info of our choosing.

    ``info(page, limit, n)`` returns the page_info dict (None: omit it);
    ``script`` is a list of ``(status, headers, body)`` served first, one per
    request; ``cap`` is the largest page the server gives whatever is asked.
    """
    queued, lock = list(script), threading.Lock()

    def respond(req):
        with lock:
            if queued:
                status, headers, body = queued.pop(0)
                return Reply(status, body if isinstance(body, bytes) else json.dumps(body).encode(), dict(headers))
        page, limit = req.param("page", 1), req.param("page_limit", 10)
        limit = min(limit, cap or limit)
        body = {"data": items[(page - 1) * limit: page * limit]}
        page_info = info(page, limit, len(items)) if info else None
        if page_info is not None:
            body["page_info"] = page_info
        return json_reply(body)
    return respond


@pytest.fixture
def stub(hostile):
    """``stub(items, **kwargs)``: a loopback server answering :func:`listing` (``.requests`` logs what came)."""
    return lambda items, **kwargs: hostile(listing(items, **kwargs))


def truthful(page, limit, n):
    return {"limit_per_page": limit, "page": page, "total_page": math.ceil(n / limit), "total_results": n}


# --- every page, once ---------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 49, 50, 51, 100, 120, 1000])
def test_loads_every_session_with_one_request_per_page(make_sim, make_client, n):
    sim = make_sim(uploads(n))
    df = make_client(sim).load()
    assert_matches_listing(df, sim.listing())
    pages = max(1, math.ceil(n / 50))
    assert sim.requests == pages  # page 1, the rest, nothing past the last page
    assert sorted(int(parse_qs(urlsplit(p).query)["page"][0]) for p in listing_requests(sim)) == list(range(1, pages + 1))
    assert df.attrs["pages"] == df.attrs["requests"] == pages
    assert df.attrs["retries"] == 0 and df.attrs["passes"] == 1 and df.attrs["consistent"] is True
    assert df.attrs["total_results"] == n
    assert df.attrs["base_url"] == sim.base_url


def test_partial_last_page_and_small_page_limit(make_sim, make_client):
    sim = make_sim(uploads(103))
    df = make_client(sim, page_limit=10).load()
    assert_matches_listing(df, sim.listing())
    assert sim.requests == 11
    assert all("page_limit=10" in p for p in listing_requests(sim))


def test_load_uploads_module_function_and_attrs(make_sim):
    sim = make_sim(uploads(75))
    as_of = pd.Timestamp("2026-01-15T13:00:00Z")
    df = load_uploads(sim.api_key, base_url=sim.base_url, progress=False, as_of=as_of)
    assert_matches_listing(df, sim.listing())
    assert df.attrs["as_of"] == as_of
    before = pd.Timestamp.now(tz="UTC")
    df = load_uploads(sim.api_key, base_url=sim.base_url, progress=False)
    assert str(df.attrs["as_of"].tz) == "UTC"
    assert abs(df.attrs["as_of"] - before) < pd.Timedelta(seconds=5)
    # derived columns are relative to as_of
    assert (df["age"] == df.attrs["as_of"] - df["created_at"]).all()


def test_empty_account_has_the_full_schema(make_sim, make_client):
    from tlanalytics import schema

    sim = make_sim([])
    df = make_client(sim).load()
    assert len(df) == 0 and sim.requests == 1
    for name in schema.columns("listing") + schema.columns("derived"):
        assert name in df.columns
        assert str(df[name].dtype) == str(schema.dtype_of(name)), name


def test_iter_pages_yields_parsed_pages_in_order(make_sim, make_client):
    sim = make_sim(uploads(430), latency=0.01)
    pages = list(make_client(sim, page_limit=20).iter_pages())
    assert [p["page_info"]["page"] for p in pages] == list(range(1, 23))
    assert [s["upload_id"] for p in pages for s in p["data"]] == [s["upload_id"] for s in sim.listing()]


def test_pages_after_the_first_are_fetched_concurrently(make_sim, make_client):
    sim = make_sim(uploads(1000), latency=0.05)
    client = make_client(sim, max_workers=8)
    client.load()
    assert client.concurrency["peak_in_flight"] == 8
    assert client.concurrency["decreases"] == 0 and client.concurrency["limit"] == 8


# --- page_info that lies --------------------------------------------------------

def test_total_page_too_small_is_not_trusted(stub, make_client):
    items = [s for s in uploads(130)]
    server = stub(items, info=lambda page, limit, n: {"page": page, "limit_per_page": limit, "total_page": 1,
                                                     "total_results": n})
    df = make_client(base_url=server.base_url, api_key=KEY).load()
    assert_matches_listing(df, items)
    assert len(server.requests) <= 2 * 4  # two passes of at most four pages


def test_total_page_too_small_without_total_results_walks_on(stub, make_client):
    items = uploads(130)
    server = stub(items, info=lambda page, limit, n: {"page": page, "limit_per_page": limit, "total_page": 1})
    df = make_client(base_url=server.base_url, api_key=KEY).load()
    assert_matches_listing(df, items)


def test_total_results_alone_is_enough_to_stop_at_a_full_last_page(stub, make_client):
    items = uploads(100)
    server = stub(items, info=lambda page, limit, n: {"total_results": n})
    df = make_client(base_url=server.base_url, api_key=KEY).load()
    assert_matches_listing(df, items)
    assert len(server.requests) == 2 and df.attrs["passes"] == 1


def test_missing_page_info_walks_until_a_short_page(stub, make_client):
    items = uploads(130)
    server = stub(items)
    df = make_client(base_url=server.base_url, api_key=KEY).load()
    assert_matches_listing(df, items)
    assert len(server.requests) == 3 and df.attrs["consistent"] and df.attrs["passes"] == 1


def test_missing_page_info_and_a_full_last_page_ends_at_an_empty_page(stub, make_client):
    items = uploads(100)
    server = stub(items)
    df = make_client(base_url=server.base_url, api_key=KEY).load()
    assert_matches_listing(df, items)
    assert len(server.requests) == 3


def test_absurd_total_page_stops_at_the_first_short_page(stub, make_client):
    items = uploads(130)
    server = stub(items, info=lambda page, limit, n: {"page": page, "limit_per_page": limit, "total_page": 10_000,
                                                     "total_results": 500_000})
    client = make_client(base_url=server.base_url, api_key=KEY)
    df = client.load()
    assert_matches_listing(df, items)
    assert len(server.requests) <= 2 * (3 + 3 * client.max_workers)  # bounded, not 10,000 pages
    # two passes agree on the same sessions: the server miscounts, the listing did not change
    assert df.attrs["passes"] == 2 and df.attrs["consistent"] is True


def test_total_results_that_disagree_with_the_data_are_confirmed_by_a_second_pass(stub, make_client):
    items = uploads(1)  # like the reference example: total_results 2, one item
    server = stub(items, info=lambda page, limit, n: {"page": 1, "limit_per_page": limit, "total_page": 1,
                                                     "total_results": 2})
    df = make_client(base_url=server.base_url, api_key=KEY).load()
    assert_matches_listing(df, items)
    assert df.attrs["passes"] == 2 and df.attrs["consistent"] is True and df.attrs["total_results"] == 2


def test_server_paging_by_less_than_asked(stub, make_client):
    items = uploads(95)
    server = stub(items, info=truthful, cap=20)
    df = make_client(base_url=server.base_url, api_key=KEY).load()
    assert_matches_listing(df, items)
    assert len(server.requests) == 5


# --- errors ---------------------------------------------------------------------

def _no_key_in(err, key):
    for text in (str(err), repr(err), err.url or "", err.api_message or ""):
        assert key not in text


def test_bad_key_raises_authentication_error(make_sim, make_client):
    sim = make_sim(uploads(10))
    with pytest.raises(AuthenticationError) as info:
        make_client(sim, api_key=KEY).load()
    err = info.value
    assert str(err) == "The API rejected the key (403 api_key_invalid). Set TWELVELABS_API_KEY to a valid key."
    assert (err.status, err.code, err.page) == (403, "api_key_invalid", 1)
    assert err.api_message and err.url.startswith(sim.base_url)
    _no_key_in(err, KEY)
    assert sim.requests == 1  # not retried


def test_rejected_parameters_raise_bad_request_error(make_sim, make_client):
    sim = make_sim(uploads(10))
    session = requests.Session()
    session.params = {"cursor": "abc"}  # the API does not know this parameter
    with pytest.raises(BadRequestError) as info:
        make_client(sim, session=session).load()
    assert isinstance(info.value, ValueError)
    assert (info.value.status, info.value.code, info.value.page) == (400, "parameter_unknown", 1)
    assert "400 parameter_unknown" in str(info.value) and sim.requests == 1


def test_wrong_base_path_raises_not_found(make_sim, make_client):
    sim = make_sim(uploads(10))
    with pytest.raises(NotFoundError) as info:
        make_client(sim, base_url=sim.base_url[: -len("v1.3")] + "v9").load()
    assert info.value.status == 404 and "base_url" in str(info.value) and sim.requests == 1


@pytest.mark.parametrize("kind, error, status", [
    ("429-no-retry-after", RateLimitError, 429),
    ("500", ServerError, 500),
    ("drop", TransportError, None),
    ("nonjson", ResponseFormatError, 200),
    ("truncate", TransportError, None),
])
def test_retries_are_bounded_then_the_error_names_page_and_status(make_sim, make_client, kind, error, status):
    sim = make_sim(uploads(120))
    sim.inject(kind, 50, path="page=2&")
    with pytest.raises(error) as info:
        make_client(sim, max_retries=2).load()
    err = info.value
    assert err.status == status and err.page == 2 and "page 2" in str(err) and "after 3 attempts" in str(err)
    assert sum("page=2&" in p for p in listing_requests(sim)) == 3


@pytest.fixture(params=["direct", "session"])
def way(request):
    """Both ways out of the transport: the client's own (straight through urllib3) and a session passed in."""
    if request.param == "direct":
        yield {}
    else:
        with requests.Session() as session:
            yield {"session": session}


def test_timeouts_are_retried_then_raise_transport_error(make_sim, make_client, way):
    sim = make_sim(uploads(10), slow_seconds=1.0)
    sim.inject("slow", 3)
    with pytest.raises(TransportError) as info:
        client = make_client(sim, max_retries=2, timeout=(1, 0.1), **way)
        client.load()
    assert "ReadTimeout" in str(info.value) and sim.requests == 3
    assert isinstance(info.value.__cause__, (urllib3.exceptions.ReadTimeoutError if not way else requests.Timeout))
    assert client._transport.direct == (not way)


def test_connection_refused_raises_transport_error_from_the_cause(make_client, way):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(TransportError) as info:
        make_client(base_url=f"http://127.0.0.1:{port}/v1.3", api_key=KEY, max_retries=1, **way).load()
    assert isinstance(info.value.__cause__, (urllib3.exceptions.NewConnectionError if not way else
                                             requests.ConnectionError))
    assert info.value.status is None and "after 2 attempts" in str(info.value)


@pytest.mark.parametrize("body", [[], {"items": []}, {"data": {"upload_id": "x"}}, "null"])
def test_wrong_top_level_shape_raises_response_format_error(stub, make_client, body):
    raw = body.encode() if isinstance(body, str) else body
    server = stub([], script=[(200, {"Content-Type": "application/json"}, raw)] * 3)
    with pytest.raises(ResponseFormatError):
        make_client(base_url=server.base_url, api_key=KEY, max_retries=2).load()
    assert len(server.requests) == 3


def test_redirects_are_not_followed(stub, make_client):
    server = stub([], script=[(302, {"Location": "https://example.com/steal"}, b"")])
    with pytest.raises(APIError) as info:
        make_client(base_url=server.base_url, api_key=KEY).load()
    assert info.value.status == 302 and len(server.requests) == 1


@pytest.mark.parametrize("kind", ["500", "429", "429-no-retry-after", "drop", "truncate", "nonjson", "slow"])
def test_every_fault_kind_is_retried_without_loss(make_sim, make_client, kind):
    sim = make_sim(uploads(120), slow_seconds=0.5)
    sim.inject(kind, 2)
    df = make_client(sim, timeout=(1, 0.25), max_retry_after=0.01).load()
    assert_matches_listing(df, sim.listing())
    assert df.attrs["retries"] == 2 and df.attrs["requests"] == sim.requests == 5


def test_random_faults_lose_and_duplicate_nothing(make_sim, make_client):
    kinds = ["500", "429", "429-no-retry-after", "drop", "truncate", "nonjson"]
    sim = make_sim(uploads(1000), faults=0.3, fault_kinds=kinds, seed=7)
    df = make_client(sim, page_limit=20, max_retries=12, max_retry_after=0.01).load()
    assert_matches_listing(df, sim.listing())
    assert df.attrs["retries"] > 0
    assert df.attrs["requests"] == sim.requests == 50 + df.attrs["retries"]
    assert df.attrs["consistent"] is True


# --- Retry-After, adaptive concurrency, max_rate --------------------------------

def _waits_after_429(caplog):
    """The waits the client chose after each 429, from its debug log (what it then waits on its cancel event)."""
    return [float(m) for m in re.findall(r"HTTP 429 .*; waiting ([0-9.]+) s", caplog.text)]


def test_retry_after_seconds_is_honoured(make_sim, make_client, caplog):
    sim = make_sim(uploads(10))
    sim.inject("429", 1)  # Retry-After: 1
    with caplog.at_level(logging.DEBUG, logger="tlanalytics._http"):
        df = make_client(sim).load()
    assert len(df) == 10 and df.attrs["retries"] == 1
    assert len(_waits_after_429(caplog)) == 1 and _waits_after_429(caplog)[0] >= 1.0


def test_retry_after_http_date_is_honoured(stub, make_client, caplog):
    when = email.utils.formatdate(time.time() + 2, usegmt=True)  # whole seconds: 1-2 s from now
    server = stub(uploads(5), info=truthful, script=[(429, {"Retry-After": when}, {"code": "too_many_requests"})])
    with caplog.at_level(logging.DEBUG, logger="tlanalytics._http"):
        df = make_client(base_url=server.base_url, api_key=KEY).load()
    assert len(df) == 5
    assert len(_waits_after_429(caplog)) == 1 and _waits_after_429(caplog)[0] >= 0.95


def test_absurd_retry_after_is_capped(stub, make_client, caplog):
    server = stub(uploads(5), info=truthful, script=[(429, {"Retry-After": "30"}, {"code": "too_many_requests"})])
    with caplog.at_level(logging.DEBUG, logger="tlanalytics._http"):
        df = make_client(base_url=server.base_url, api_key=KEY, max_retry_after=0.2, backoff=0.1).load()
    waits = _waits_after_429(caplog)
    assert len(df) == 5 and len(waits) == 1 and 0.2 <= waits[0] <= 0.3  # the cap plus at most one backoff of jitter


def test_concurrency_is_lowered_under_sustained_429s(make_sim, make_client):
    sim = make_sim(uploads(600), rate_limit=6)
    client = make_client(sim, page_limit=50, max_workers=8, max_retries=8)
    df = client.load()
    assert_matches_listing(df, sim.listing())
    state = client.concurrency
    assert any(status == 429 for _, _, status, _ in sim.request_log)
    assert state["decreases"] >= 1 and state["min_limit"] <= 4
    assert state["peak_in_flight"] <= state["peak"]  # never more in flight than the window allowed


def test_max_rate_is_respected(make_sim, make_client):
    sim = make_sim(uploads(120), rate_limit=45)
    session, rec = recording_session()
    df = make_client(sim, page_limit=3, max_rate=30, session=session).load()
    assert len(df) == 120 and sim.requests == 40
    # A pacing property, not a speed one: a slow machine only spreads the requests further apart.
    starts = sorted(e[0] for e in rec.events)
    worst = max(sum(1 for t in starts if s <= t < s + 0.95) for s in starts)
    assert worst <= 30
    assert not any(status == 429 for _, _, status, _ in sim.request_log)


# --- the key ----------------------------------------------------------------------

def test_the_key_never_appears_in_messages_reprs_logs_or_warnings(make_sim, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    sim = make_sim(uploads(300), api_key=KEY, faults=0.3, fault_kinds=["500", "drop", "nonjson"], seed=3, churn=2)
    client = make_client(sim, page_limit=20, max_retries=10, max_passes=2)
    texts = [repr(client), str(client)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = client.load()
        for bad in ("x" + KEY[1:], KEY[:-1]):
            with pytest.raises(AuthenticationError) as info:
                make_client(sim, api_key=bad).load()
            texts += [str(info.value), repr(info.value), info.value.url, info.value.api_message or ""]
    texts += [str(w.message) for w in caught]
    assert caught and df.attrs["retries"] > 0
    texts += [repr(df.attrs), str(df.attrs)]
    texts += [r.getMessage() for r in caplog.records] + [repr(r.args) for r in caplog.records]
    assert any("retrying" in t for t in texts)
    secret = KEY[4:-1]  # also catches the mangled variants above
    assert not [t for t in texts if secret in t]


# --- configuration ----------------------------------------------------------------

@pytest.mark.parametrize("url", ["http://example.com/v1.3", "http://10.0.0.8:8080/v1.3", "http://localhost.example.com/",
                                 "http://127.0.0.1.nip.io/v1.3", "http://[2001:db8::1]/v1.3"])
def test_plain_http_to_a_remote_host_is_refused_before_any_connection(url):
    session = requests.Session()
    session.mount("http://", NoConnection())
    session.mount("https://", NoConnection())
    with pytest.raises(InsecureTransportError) as info:
        load_uploads(KEY, base_url=url, session=session, progress=False)
    assert "https" in str(info.value) and KEY not in str(info.value)


def test_the_no_connection_adapter_would_catch_a_request():
    session = requests.Session()
    session.mount("http://", NoConnection())
    with pytest.raises(AssertionError, match="a request was sent"):
        load_uploads(KEY, base_url="http://127.0.0.1:9/v1.3", session=session, progress=False, max_retries=0)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "localhost", "[::1]"])
def test_plain_http_to_loopback_is_allowed(host):
    client = UploadsClient(KEY, base_url=f"http://{host}:8000/v1.3/", progress=False)
    assert client.base_url == f"http://{host}:8000/v1.3"
    client.close()


@pytest.mark.parametrize("url, fragment", [
    ("https://user:hunter2@api.example.com/v1.3", "credentials"),
    ("ftp://api.example.com/v1.3", "https://"),
    ("https:///v1.3", "host"),
    ("https://api.example.com/v1.3?api_key=1", "query"),
    (42, "URL string"),
])
def test_bad_base_urls(url, fragment):
    with pytest.raises(InvalidArgumentError, match=fragment) as info:
        UploadsClient(KEY, base_url=url)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("kwargs, message", [
    ({"page_limit": 51}, "The value for `page_limit` must be an integer from 1 to 50, but 51 was passed."),
    ({"page_limit": 0}, "The value for `page_limit` must be an integer from 1 to 50, but 0 was passed."),
    ({"page_limit": 2.5}, "The value for `page_limit` must be an integer from 1 to 50, but 2.5 was passed."),
    ({"page_limit": True}, "The value for `page_limit` must be an integer from 1 to 50, but True was passed."),
    ({"max_workers": 0}, "The value for `max_workers` must be an integer of at least 1, but 0 was passed."),
    ({"max_retries": -1}, "The value for `max_retries` must be an integer of at least 0, but -1 was passed."),
    ({"timeout": -1}, "The value for `timeout` must be a positive number of seconds or a (connect, read) pair of them, "
                      "but -1 was passed."),
    ({"timeout": None}, "The value for `timeout` must be a positive number"),
    ({"timeout": (1, 2, 3)}, "The value for `timeout` must be a positive number"),
    ({"max_rate": 0}, "The value for `max_rate` must be a positive number or None, but 0 was passed."),
    ({"as_of": "not a date"}, "The value for `as_of` must be a datetime"),
    ({"session": "s"}, "The value for `session` must be a requests.Session or None, but str was passed."),
])
def test_bad_arguments_are_refused_before_sending(make_sim, kwargs, message):
    sim = make_sim(uploads(3))
    with pytest.raises(InvalidArgumentError) as info:
        load_uploads(sim.api_key, base_url=sim.base_url, progress=False, **kwargs)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError) and sim.requests == 0


@pytest.mark.parametrize("bad", [123, "", "   ", "key with space", "line\nbreak", "ключ"])
def test_bad_keys_are_refused_without_echo(bad):
    with pytest.raises(InvalidArgumentError) as info:
        UploadsClient(bad, base_url="https://api.example.com/v1.3")
    if isinstance(bad, str) and bad.strip():
        assert bad not in str(info.value)


def test_key_and_base_url_from_the_environment(make_sim, monkeypatch):
    sim = make_sim(uploads(7))
    for var in ("TWELVELABS_API_KEY", "TWELVE_LABS_API_KEY", "TWELVELABS_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigurationError) as info:
        load_uploads(progress=False)
    assert "TWELVELABS_API_KEY" in str(info.value) and "tlanalytics report --demo" in str(info.value)
    monkeypatch.setenv("TWELVELABS_BASE_URL", sim.base_url)
    monkeypatch.setenv("TWELVE_LABS_API_KEY", sim.api_key)
    assert len(load_uploads(progress=False)) == 7  # second variable, base URL from the environment
    monkeypatch.setenv("TWELVELABS_API_KEY", "wrong-key")
    with pytest.raises(AuthenticationError):  # the first variable wins over the second
        load_uploads(progress=False)
    assert len(load_uploads(sim.api_key, progress=False)) == 7  # the argument wins over both
    monkeypatch.setenv("TWELVELABS_API_KEY", sim.api_key)
    monkeypatch.setenv("TWELVE_LABS_API_KEY", "wrong-key")
    assert len(load_uploads(progress=False)) == 7
    assert len(load_uploads(progress=False, base_url=sim.base_url)) == 7


def test_default_base_url_is_the_public_api(monkeypatch):
    monkeypatch.delenv("TWELVELABS_BASE_URL", raising=False)
    with UploadsClient(KEY, progress=False) as client:
        assert client.base_url == "https://api.twelvelabs.io/v1.3"
        assert KEY not in repr(client) and "hidden" in repr(client)


def test_injected_session_is_used_and_left_open(make_sim):
    sim = make_sim(uploads(60))
    session, rec = recording_session()
    with UploadsClient(sim.api_key, base_url=sim.base_url, session=session, progress=False) as client:
        assert client.session is session
        client.load()
    assert len(rec.events) == 2
    assert session.get(sim.base_url + "/assets/multipart-uploads",
                                                    headers={"x-api-key": sim.api_key}, timeout=5).ok


def test_top_level_exports():
    assert tlanalytics.load_uploads is load_uploads and tlanalytics.UploadsClient is UploadsClient


# --- a listing that changes while it is paged ----------------------------------

def test_churn_that_stops_early_is_read_consistently(make_sim, make_client):
    sim = make_sim(uploads(400), churn=3, churn_limit=4, seed=5)
    df = make_client(sim, page_limit=25).load()
    got = ids_of(df)
    assert len(got) == len(set(got))
    assert set(sim.persistent_ids()) <= set(got)
    assert df.attrs["consistent"] is True and df.attrs["passes"] >= 2
    assert set(got) <= set(sim.initial_ids) | set(sim.added_ids)
    # the newest pass wins: sessions that expired in place show it
    current = {s["upload_id"]: s["status"] for s in sim.listing()}
    statuses = df.set_index("upload_id")["status"]
    assert all(statuses[i] == status for i, status in current.items())


def test_churn_that_never_stops_warns_and_flags(make_sim, make_client):
    sim = make_sim(uploads(400), churn=1, seed=9)
    # One request at a time makes the churn each page meets, and so the result, the same on every run: with
    # pages in flight together, which state a page sees is timing, and under churn that never stops a session
    # can shift past every pass (about 1 run in 20 lost one: the warning says so). One pass misses some here.
    client = make_client(sim, page_limit=25, max_passes=3, max_workers=1)
    with pytest.warns(InconsistentListingWarning) as caught:
        df = client.load()
    assert caught[0].filename == __file__  # stacklevel points at the caller
    got = ids_of(df)
    assert len(got) == len(set(got))
    assert set(sim.persistent_ids()) <= set(got)
    assert df.attrs["consistent"] is False and df.attrs["passes"] == 3


def test_load_uploads_warning_points_at_its_caller(make_sim):
    sim = make_sim(uploads(200), churn=1, seed=2)
    with pytest.warns(InconsistentListingWarning) as caught:
        load_uploads(sim.api_key, base_url=sim.base_url, progress=False, page_limit=20)
    assert caught[0].filename == __file__


def test_a_stable_listing_needs_a_single_pass(make_sim, make_client):
    sim = make_sim(uploads(400), latency=0.01)
    df = make_client(sim, page_limit=25).load()
    assert df.attrs["passes"] == 1 and sim.requests == 16


# --- malformed items and strict mode --------------------------------------------

def _malformed(n=60):
    items = uploads(n)
    items[3] = dict(items[3], total_size="lots")
    items[55] = dict(items[55], created_at="yesterday")
    return items


def test_malformed_items_are_kept_with_a_warning(make_sim, make_client):
    sim = make_sim(_malformed())
    with pytest.warns(MalformedItemWarning):
        df = make_client(sim).load()
    assert len(df) == 60 and df.attrs["malformed_rows"]
    assert df.attrs["requests"] == 2


def test_strict_mode_raises_on_malformed_items(make_sim, make_client):
    sim = make_sim(_malformed())
    with pytest.raises(ResponseFormatError):
        make_client(sim, strict=True).load()


# --- progress bar -----------------------------------------------------------------

def test_progress_bar_goes_to_stderr_and_can_be_turned_off(make_sim, capsys):
    sim = make_sim(uploads(120))
    load_uploads(sim.api_key, base_url=sim.base_url, progress=False)
    out = capsys.readouterr()
    assert out.err == "" and out.out == ""
    load_uploads(sim.api_key, base_url=sim.base_url, progress=True)
    out = capsys.readouterr()
    assert "3/3" in out.err and out.out == ""


def test_a_broken_notebook_frontend_does_not_break_the_load(make_sim, monkeypatch, capsys):
    import tqdm.auto

    def broken(*args, **kwargs):
        raise ImportError("IProgress not found. Please update jupyter and ipywidgets.")

    monkeypatch.setattr(tqdm.auto, "tqdm", broken)
    sim = make_sim(uploads(120))
    df = load_uploads(sim.api_key, base_url=sim.base_url, progress=True)
    assert len(df) == 120 and "3/3" in capsys.readouterr().err


# --- property ---------------------------------------------------------------------

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(0, 300), page_limit=st.integers(1, 50), seed=st.integers(0, 10_000))
def test_any_listing_loads_exactly(n, page_limit, seed):
    n = min(n, 40 * page_limit)  # at most 40 pages: keeps the example fast
    with Simulator(uploads(n, seed=seed)) as sim:
        with UploadsClient(sim.api_key, base_url=sim.base_url, page_limit=page_limit, progress=False) as client:
            df = client.load()
        assert_matches_listing(df, sim.listing())
        assert sim.requests == max(1, math.ceil(n / page_limit))


def test_without_a_streamable_urllib3_the_clients_own_session_carries_the_requests(make_sim, make_client, monkeypatch):
    """urllib3 before 2.3 has no HTTPResponse.read1, which the direct path's streamed read needs: requests then
    carries every request, through the client's own session, and the result is the same."""
    from tlanalytics import _http

    sim = make_sim(uploads(120))
    fast = make_client(sim, page_limit=50)
    expected = fast.load(as_of="2026-11-30T00:00:00Z")
    assert fast._transport.direct
    monkeypatch.setattr(_http, "_CAN_GO_DIRECT", False)
    slow = make_client(sim, page_limit=50)
    pd.testing.assert_frame_equal(slow.load(as_of="2026-11-30T00:00:00Z"), expected)
    assert not slow._transport.direct
