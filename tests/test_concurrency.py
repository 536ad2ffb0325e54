"""The adaptive concurrency window through real HTTP (the simulator), and its gate (_Concurrency) under threads."""

import collections
import random
import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from tlanalytics import _window
from tlanalytics._http import _Cancelled, _Concurrency
from tlanalytics.client import load_uploads
from tlanalytics.simulator import generate_uploads

NOW = "2026-01-15T12:00:00Z"
HISTORY = {"start", "peak", "low", "final", "decreases", "throttled", "server_errors", "latency_rises", "rate"}


def uploads(n, seed=0):
    return generate_uploads(n, seed=seed, now=NOW)


def answered(sim):
    """Per session id, the statuses the simulator answered its status requests with."""
    out = collections.defaultdict(list)
    for _, path, status, _ in sim.request_log:
        head, _, tail = urlsplit(path).path.rpartition("/")
        if head.endswith("/multipart-uploads"):
            out[tail].append(status)
    return out


def assert_progress_exact(df, sessions):
    by_id = {s["upload_id"]: s for s in sessions}
    assert sorted(df["upload_id"]) == sorted(by_id) and df["upload_id"].is_unique
    assert not df["vanished"].any()
    for row in df.itertuples(index=False):
        assert row.uploaded_size == by_id[row.upload_id]["uploaded_size"]
        assert row.chunks_completed == by_id[row.upload_id]["chunks_completed"]


def test_the_window_grows_while_responses_stay_healthy(make_sim, make_client):
    sim = make_sim(uploads(400), latency=0.02)
    client = make_client(sim, max_workers=32)
    df = client.load()
    sim.reset_stats()
    out = client.add_progress(df)
    state = client.concurrency
    assert state["start"] == _window.START == 16
    assert state["peak"] > state["start"] and state["peak_in_flight"] > state["start"]
    assert state["peak_in_flight"] <= state["peak"] <= 32 and state["throttled"] == 0
    # one request per session, none lost or repeated
    per_id = answered(sim)
    assert sim.requests == len(df) == 400 and all(v == [200] for v in per_id.values()) and len(per_id) == 400
    assert_progress_exact(out, sim.sessions())
    assert set(out.attrs["concurrency"]) == HISTORY and out.attrs["concurrency"]["peak"] == state["peak"]


def test_the_window_shrinks_and_learns_a_rate_under_429s_without_losing_a_request(make_sim, make_client):
    sim = make_sim(uploads(150), latency=0.01, rate_limit=40)
    client = make_client(sim, max_workers=32, max_retries=10)
    df = client.load()
    out = client.add_progress(df)
    state = client.concurrency
    assert any(status == 429 for _, _, status, _ in sim.request_log)
    assert state["throttled"] >= 1 and state["decreases"] >= 1
    assert state["low"] < state["peak"] and state["rate"] is not None
    assert state["peak_in_flight"] <= state["peak"]  # never more in flight than the window allowed
    # every session answered 200 exactly once, after any number of 429s; nothing else was sent
    per_id = answered(sim)
    assert len(per_id) == 150 and all(v.count(200) == 1 and set(v) <= {200, 429} for v in per_id.values())
    assert out.attrs["progress_requests"] == sum(len(v) for v in per_id.values())
    assert_progress_exact(out, sim.sessions())


def test_load_uploads_puts_the_window_history_in_attrs(make_sim):
    sim = make_sim(uploads(300), latency=0.01)
    df = load_uploads(sim.api_key, base_url=sim.base_url, progress=False, page_limit=10, max_workers=24)
    hist = df.attrs["concurrency"]
    assert set(hist) == HISTORY
    assert hist["start"] == 16 and 16 <= hist["peak"] <= 24 and hist["low"] <= hist["final"] <= hist["peak"]
    assert hist["rate"] is None and len(df) == 300 and sim.requests == 30


def test_a_listing_of_100_pages_reaches_the_ceiling_and_asks_for_each_page_once(make_sim):
    sim = make_sim(uploads(5000), latency=0.02)
    df = load_uploads(sim.api_key, base_url=sim.base_url, progress=False)  # the defaults: 50 a page, 32 workers
    hist = df.attrs["concurrency"]
    # healthy: grew to the ceiling; never cut for a 429 or a 5xx (a latency cut can happen when this loaded
    # machine slows the in-process simulator down, and is the window doing its job)
    assert hist["start"] == 16 and hist["peak"] == 32 and hist["throttled"] == hist["server_errors"] == 0
    pages = sorted(int(parse_qs(urlsplit(path).query)["page"][0]) for _, path, _, _ in sim.request_log)
    assert pages == list(range(1, 101)) and len(df) == 5000 and df["upload_id"].is_unique


def test_one_worker_means_one_request_in_flight(make_sim, make_client):
    sim = make_sim(uploads(60), latency=0.005)
    client = make_client(sim, max_workers=1, page_limit=10)
    client.add_progress(client.load())
    state = client.concurrency
    assert state["peak_in_flight"] == 1 and state["peak"] == state["final"] == 1


def test_the_gate_never_lets_more_in_flight_than_the_window_allows():
    conc = _Concurrency(12, start=2)
    cancel = threading.Event()
    seen = []

    def worker(seed):
        rng = random.Random(seed)
        for _ in range(60):
            epoch = conc.acquire(cancel)
            with conc._cond:
                seen.append((conc.in_flight, conc.window.allowed))
            threading.Event().wait(rng.uniform(0, 0.002))
            conc.release(epoch, throttled=False, ok=True, latency=0.001)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(seen) == 20 * 60 and conc.in_flight == 0
    assert all(flying <= allowed for flying, allowed in seen)
    assert max(flying for flying, _ in seen) > 2  # the window grew from its start of 2


def test_a_waiting_acquire_stops_when_the_operation_is_cancelled():
    conc = _Concurrency(4)
    conc.pause(60)  # a long Retry-After
    cancel = threading.Event()
    outcome = []

    def waiter():
        try:
            conc.acquire(cancel)
        except _Cancelled:
            outcome.append("cancelled")

    t = threading.Thread(target=waiter)
    t.start()
    cancel.set()
    t.join(10)
    assert outcome == ["cancelled"] and not t.is_alive() and conc.in_flight == 0


@pytest.mark.parametrize("kind", ["429", "5xx"])
def test_a_429_or_5xx_through_the_gate_cuts_the_window(kind):
    conc = _Concurrency(32, start=16)
    cancel = threading.Event()
    epoch = conc.acquire(cancel)
    conc.release(epoch, throttled=kind == "429", ok=False, server_error=kind == "5xx", latency=0.01)
    state = conc.state()
    assert state["final"] < 16 and state["decreases"] == 1
    assert state["rate"] is None  # a lone 429 says nothing of the server's capacity: no rate is learned from it


def test_a_429_after_a_busy_second_learns_a_rate():
    from tlanalytics._window import MIN_SAMPLE

    conc = _Concurrency(32, start=16)
    cancel = threading.Event()
    for _ in range(MIN_SAMPLE + 2):
        conc.release(conc.acquire(cancel), throttled=False, ok=True, latency=0.01)
    conc.release(conc.acquire(cancel), throttled=True, ok=False, latency=0.01)
    state = conc.state()
    assert state["rate"] is not None and MIN_SAMPLE <= state["rate"] <= MIN_SAMPLE + 2
    assert conc.in_flight == 0


def test_completions_hand_back_every_future_once_as_it_finishes():
    """The waiting side of add_progress and the listing: each finished (or cancelled) future comes back exactly
    once, whatever the order the workers finish in, and a wait with nothing finished returns an empty list."""
    from concurrent.futures import Future

    from tlanalytics._pool import Completions

    done = Completions()
    futures = [done.watch(Future()) for _ in range(300)]
    assert done.wait(0.01) == []
    order = list(range(300))
    random.Random(7).shuffle(order)

    def finish(part):
        for i in part:
            if i % 50 == 0:
                futures[i].cancel()
            else:
                futures[i].set_result(i)

    workers = [threading.Thread(target=finish, args=(order[k::4],)) for k in range(4)]
    for w in workers:
        w.start()
    seen = []
    while len(seen) < 300:
        got = done.wait(5)
        assert got, "a finished future was not handed back"
        seen += got
    for w in workers:
        w.join()
    assert sorted(map(id, seen)) == sorted(map(id, futures))  # each once
    assert sum(f.cancelled() for f in seen) == 6
    assert done.wait(0.01) == []
    late = Future()
    late.set_result("x")
    assert done.watch(late) is late and done.wait(0.01) == [late]  # finished before it was watched: handed back too
