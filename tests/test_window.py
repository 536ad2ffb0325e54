"""The adaptive window (tlanalytics._window), fed observations: no HTTP, no clock, no threads."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlanalytics import _window
from tlanalytics._window import Window

LAT = 0.05


def round_trip(w, now, *, latency=LAT, full=True):
    """One round trip: every request of the window comes back healthy, each replaced at once by the next."""
    n = w.allowed
    for _ in range(n):
        w.observe(w.epoch, now, latency=latency, in_flight=w.allowed if full else 1)
    return n


@pytest.mark.parametrize("ceiling, start, expected", [(32, 8, 8), (4, 8, 4), (1, 8, 1), (32, 1, 1), (32, 0, 1)])
def test_the_window_starts_small_and_never_above_the_ceiling(ceiling, start, expected):
    assert Window(ceiling, start=start).allowed == expected


def test_slow_start_doubles_per_round_trip_up_to_the_ceiling():
    w = Window(32, start=8)
    seen = []
    for rt in range(6):
        round_trip(w, 0.05 * (rt + 1))
        seen.append(w.allowed)
    assert seen == [16, 32, 32, 32, 32, 32]
    assert w.history()["peak"] == 32 and w.decreases == 0


def test_the_default_window_reaches_32_in_one_round_trip():
    w = Window(32)  # START = 16: the default max_workers after one healthy round trip (8 needed two)
    assert w.allowed == 16
    round_trip(w, 0.05)
    assert w.allowed == 32 and w.history()["start"] == 16


def test_an_unused_window_does_not_grow():
    w = Window(32)
    for _ in range(50):
        w.observe(w.epoch, 1.0, latency=LAT, in_flight=3)  # 3 of 16 in flight: something else limits
    assert w.allowed == _window.START == 16


def test_a_429_halves_the_window_once_per_congestion_event():
    w = Window(32, start=16)
    old = w.epoch
    for _ in range(10):  # a burst of 429s to requests sent before the cut
        w.observe(old, 1.0, throttled=True, in_flight=16)
    assert w.allowed == 8 and w.decreases == 1 and w.history()["throttled"] == 1
    w.observe(w.epoch, 1.1, throttled=True, in_flight=8)  # a request sent after the cut: a new event
    assert w.decreases == 2


def test_after_a_cut_the_window_grows_by_one_per_round_trip():
    w = Window(32, start=16)
    w.observe(w.epoch, 0.0, server_error=True, in_flight=16)
    assert w.allowed == int(16 * _window.BETA_ERROR) == 11
    sizes = [w.allowed]
    for rt in range(4):
        round_trip(w, 0.1 * (rt + 1))
        sizes.append(w.allowed)
    assert sizes == [11, 12, 13, 14, 15]


def test_a_clear_latency_rise_cuts_and_a_moderate_one_holds():
    w = Window(32, start=16)
    for rt in range(3):
        round_trip(w, 0.05 * rt, latency=LAT)
    assert w.allowed == 32 and not w.slow_start
    for _ in range(40):  # 1.4 x the baseline: not queueing yet
        w.observe(w.epoch, 1.0, latency=1.4 * LAT, in_flight=32)
    assert w.decreases == 0 and w.allowed == 32
    for _ in range(40):  # 1.85 x: hold, no growth, no cut
        w.observe(w.epoch, 1.0, latency=1.85 * LAT, in_flight=32)
    w.limit = 20.0
    for _ in range(40):
        w.observe(w.epoch, 1.0, latency=1.85 * LAT, in_flight=20)
    assert w.allowed == 20 and w.decreases == 0
    for _ in range(40):  # 4 x: a clear rise
        w.observe(w.epoch, 1.0, latency=4 * LAT, in_flight=20)
    assert w.history()["latency_rises"] >= 1 and w.allowed <= int(20 * _window.BETA_LATENCY)


def test_latency_noise_below_the_slack_is_ignored():
    w = Window(32, start=16)
    for _ in range(100):
        w.observe(w.epoch, 1.0, latency=0.001, in_flight=16)
    for _ in range(100):  # 8 x a 1 ms baseline, but only 7 ms more: scheduling noise, not a server queue
        w.observe(w.epoch, 1.0, latency=0.008, in_flight=32)
    assert w.decreases == 0 and w.allowed == 32


def test_a_429_learns_the_rate_the_server_accepted():
    w = Window(32)
    for i in range(60):  # 60 healthy responses in the last second
        w.observe(w.epoch, 10 + i / 60, latency=LAT, in_flight=1)
    assert w.rate(11.0) is None
    w.observe(w.epoch, 11.0, throttled=True, in_flight=8)
    assert w.rate(11.0) == pytest.approx(60 * _window.BETA_RATE)
    # flat around 60/s for about RATE_PLATEAU seconds, then faster: probing again
    assert w.rate(11.0 + _window.RATE_PLATEAU) == pytest.approx(60)
    assert w.rate(11.0 + 2 * _window.RATE_PLATEAU) == pytest.approx(60 * (1 + _window.RATE_DEPTH))
    assert w.rate(11.0 + 3 * _window.RATE_PLATEAU) > 60 * (1 + 4 * _window.RATE_DEPTH)
    hist = w.history(11.0)
    assert hist["rate"] == pytest.approx(60 * _window.BETA_RATE) and hist["throttled"] == 1


def test_later_429s_lower_the_rate_at_most_by_half_and_not_within_the_same_second():
    w = Window(32)
    for i in range(100):
        w.observe(w.epoch, i / 100, latency=LAT, in_flight=1)
    w.observe(w.epoch, 1.0, throttled=True, in_flight=8)
    top = w.rate(1.0)
    w.observe(w.epoch, 1.5, throttled=True, in_flight=4)  # the same burst: nothing learned
    assert w.rate(1.5) == pytest.approx(top, rel=0.02)  # not re-learned from the 50 accepted since 0.5 s
    before = w.rate(30.0)
    w.observe(w.epoch, 30.0, throttled=True, in_flight=4)  # nothing accepted in the last second (a pause)
    assert w.rate(30.0) == pytest.approx(_window.BETA_RATE * 0.5 * before)  # halved, not collapsed to 1/s
    for i in range(40):  # 40 accepted in the last second before the next 429
        w.observe(w.epoch, 50 + i / 40, latency=LAT, in_flight=1)
    w.observe(w.epoch, 51.0, throttled=True, in_flight=4)
    assert w.rate(51.0) == pytest.approx(_window.BETA_RATE * 40)


def test_a_rate_that_cannot_bind_any_more_is_dropped():
    w = Window(4)
    for i in range(20):
        w.observe(w.epoch, i / 20, latency=LAT, in_flight=1)
    w.observe(w.epoch, 1.0, throttled=True, in_flight=4)
    assert w.rate(2.0) is not None
    # 4 in flight at 50 ms cannot send more than 80/s: a rate above twice that binds nothing
    assert w.rate(1.0 + 10 * _window.RATE_PLATEAU) is None
    assert w.history()["rate"] is None


def test_once_a_rate_is_learned_a_cut_keeps_what_the_rate_needs_in_flight():
    w = Window(64, start=64)
    for i in range(200):
        w.observe(w.epoch, i / 200, latency=LAT, in_flight=64)
    w.observe(w.epoch, 1.0, throttled=True, in_flight=64)  # rate 180/s at 50 ms: 9 in flight
    for t in range(10):
        w.observe(w.epoch, 1.1 + t, server_error=True, in_flight=10)
    assert w.allowed == math.ceil(_window.HEADROOM * w.rate(10.1) * LAT) >= 19
    assert w.history()["low"] >= math.ceil(_window.HEADROOM * w.rate(1.1) * LAT) >= 18


@settings(max_examples=200, deadline=None)
@given(ceiling=st.integers(1, 64), events=st.lists(st.tuples(
    st.sampled_from(["ok", "429", "5xx", "other"]), st.floats(0.0001, 2.0), st.integers(0, 70),
    st.booleans(), st.floats(0, 0.5)), max_size=300))
def test_the_window_stays_between_1_and_the_ceiling_whatever_it_is_fed(ceiling, events):
    w = Window(ceiling)
    now = 0.0
    for kind, latency, in_flight, old_epoch, step in events:
        now += step
        epoch = w.epoch - 1 if old_epoch else w.epoch
        w.observe(epoch, now, latency=latency, in_flight=in_flight, throttled=kind == "429",
                  server_error=kind == "5xx", ok=kind == "ok")
        assert 1 <= w.allowed <= ceiling
        rate = w.rate(now)
        assert rate is None or rate >= _window.MIN_RATE
    hist = w.history(now)
    assert hist["low"] <= hist["final"] <= hist["peak"] <= ceiling and hist["start"] == min(ceiling, _window.START)
    assert hist["decreases"] == hist["throttled"] + hist["server_errors"] + hist["latency_rises"] == w.epoch
