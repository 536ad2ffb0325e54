"""Soak of hostile servers: every load ends within its deadline, with bounded memory, and the CLI stops on a signal.

Each scenario is a scripted server on 127.0.0.1 (tests/_hostile.py) that a
real account's API would never be, loaded with the default client options
plus a ``deadline``. Allowed outcomes: a frame flagged inconsistent (with its
warning), or a :class:`~tlanalytics.errors.TLAnalyticsError`. The wall time
and the tracemalloc peak of every load go to the reliability figures; the
bounds asserted are generous (they catch a hang or a runaway, not a slow run).
``TLANALYTICS_SOAK`` set gives more rounds.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
import tracemalloc
import warnings
import zlib
from pathlib import Path

import pytest

from _hostile import KEY, Reply, endless, hang, ignores_page, item, json_reply, nested, trickle
from tlanalytics.client import UploadsClient
from tlanalytics.errors import InconsistentListingWarning, TLAnalyticsError

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 1.0  # every scenario still ends at it or earlier; 2.0 cost 6 s more per run


def _bomb(decoded):
    """gzip of ``decoded`` bytes of spaces, built in pieces (never the whole inflated body in memory)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    piece = b" " * 2**20
    out = [z.compress(piece) for _ in range(decoded // len(piece))]
    out.append(z.flush())
    return b"".join(out)


def _scenarios():
    bomb = _bomb(300 * 2**20)  # ~300 KB that inflates to 300 MB
    page = {"data": [item(i) for i in range(50)], "page_info": {"total_page": 1, "total_results": 50}}
    return {
        "ignored page": ignores_page(50, info={"total_page": 10**9, "total_results": 10**9}),
        "endless full pages": endless(lambda p, limit: {"page": p, "total_page": 10**9}),
        "endless, no page_info": endless(),
        "trickle": trickle(page, 0.05),
        "inflate (300 KB -> 300 MB)": lambda req: Reply(200, bomb, {"Content-Type": "application/json",
                                                                       "Content-Encoding": "gzip"}),
        "nested JSON": nested(100_000),
        "hang": hang(),
        "500 forever": lambda req: json_reply({"code": "internal"}, status=500),
    }


def test_hostile_servers_end_within_the_deadline_with_bounded_memory(hostile, reliability_stats, soak_loads):
    rounds = max(1, soak_loads // 8) if soak_loads else 1
    figures = {}
    for name, script in _scenarios().items():
        server = hostile(script)
        for _ in range(rounds):
            tracemalloc.start()
            started = time.monotonic()
            outcome = None
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                with UploadsClient(KEY, base_url=server.base_url, progress=False, deadline=DEADLINE) as client:
                    try:
                        df = client.load()
                        outcome = f"frame of {len(df)} rows, stopped={df.attrs['stopped']}"
                        assert df.attrs["consistent"] is False
                        assert any(issubclass(w.category, InconsistentListingWarning) for w in caught)
                    except TLAnalyticsError as exc:
                        outcome = type(exc).__name__
            elapsed = time.monotonic() - started
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            fig = figures.setdefault(name, {"loads": 0, "slowest_s": 0.0, "peak_mib": 0.0, "requests": 0,
                                            "outcomes": set()})
            fig["loads"] += 1
            fig["slowest_s"] = round(max(fig["slowest_s"], elapsed), 2)
            fig["peak_mib"] = round(max(fig["peak_mib"], peak / 2**20), 1)
            fig["outcomes"].add(outcome)
            assert elapsed < DEADLINE + 5, (name, elapsed)  # generous: a hang, not a slow run
            assert peak < 256 * 2**20, (name, peak)
        fig["requests"] = len(server.requests)
    for fig in figures.values():
        fig["outcomes"] = sorted(fig["outcomes"])
    reliability_stats["hostile"] = {"deadline_s": DEADLINE, "scenarios": figures,
                                    "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_signal_delay_against_a_trickling_server(hostile, tmp_path, reliability_stats, sig):
    page = {"data": [item(i) for i in range(50)], "page_info": {"total_page": 1, "total_results": 50}}
    server = hostile(trickle(page, 0.5))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TWELVELABS_API_KEY": KEY, "TWELVELABS_BASE_URL": server.base_url}
    delays = []
    for _ in range(3):
        before = len(server.requests)
        proc = subprocess.Popen([sys.executable, "-m", "tlanalytics", "fetch", "-o", str(tmp_path / "out.csv")],
                                env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert server.wait_for_requests(before + 1, timeout=60)
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
        delays.append(time.monotonic() - sent)
        assert proc.returncode == (130 if sig == signal.SIGINT else 143)
        assert "Traceback" not in stderr and not (tmp_path / "out.csv").exists()
    assert max(delays) < 5  # generous: the old behaviour waited for the whole trickle
    reliability_stats.setdefault("signals", {})[signal.Signals(sig).name] = {
        "runs": len(delays), "delays_s": [round(d, 3) for d in delays]}


@pytest.mark.parametrize("name", ["ignored page", "endless full pages"])
def test_default_options_without_a_deadline_end_by_the_paging_bounds(hostile, reliability_stats, name):
    """Every default, no deadline: the paging bounds alone end the load (before: >13,000 requests in 45 s)."""
    from tlanalytics import load_uploads
    from tlanalytics.paging import DEFAULT_MAX_PAGES

    script = {"ignored page": ignores_page(50, info={"total_page": 10**9}),
              "endless full pages": endless(lambda p, limit: {"page": p, "total_page": 10**9})}[name]
    server = hostile(script)
    tracemalloc.start()
    started = time.monotonic()
    with pytest.warns(InconsistentListingWarning):
        df = load_uploads(KEY, base_url=server.base_url, progress=False)
    elapsed = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    expected = {"ignored page": ("repeat", 50), "endless full pages": ("max_pages", DEFAULT_MAX_PAGES * 50)}[name]
    assert (df.attrs["stopped"], len(df)) == expected
    assert len(server.requests) <= DEFAULT_MAX_PAGES + 16
    assert peak < 256 * 2**20
    reliability_stats.setdefault("hostile_defaults", {})[name] = {
        "rows": len(df), "requests": len(server.requests), "seconds": round(elapsed, 2),
        "peak_mib": round(peak / 2**20, 1), "stopped": df.attrs["stopped"]}
