"""Shared fixtures of the reliability suite: the figures every module records.

Each test module adds its counts to the session-wide ``reliability_stats``
dict (one section per module). At the end of the session the figures are
written as JSON to ``$TLANALYTICS_RELIABILITY_JSON`` (default
``/tmp/tlanalytics-reliability.json``) and printed in pytest's terminal
summary (by tests/conftest.py, which the main process loads under
pytest-xdist), so the numbers quoted in ``tests/reliability/README.md`` come
from a real run.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time

import pytest

_STATS = {}


def _soak_loads():
    """Loads asked for by ``TLANALYTICS_SOAK`` (0 when unset: the default, CI-sized run)."""
    raw = os.environ.get("TLANALYTICS_SOAK", "").strip()
    try:
        return max(0, int(raw)) if raw else 0
    except ValueError:
        raise pytest.UsageError(f"TLANALYTICS_SOAK must be a whole number of loads, but {raw!r} was set.") from None


@pytest.fixture(scope="session")
def soak_loads():
    """The number of soak loads ``TLANALYTICS_SOAK`` asks for; 0 for the default run."""
    return _soak_loads()


@pytest.fixture(scope="session")
def reliability_stats():
    """A dict each module fills with its figures; written to JSON at the end of the session."""
    started = time.monotonic()
    _STATS.clear()
    _STATS["run"] = {"argv": sys.argv[1:], "soak": _soak_loads() or None, "python": platform.python_version(),
                     "cpus": os.cpu_count(), "machine": platform.machine()}
    yield _STATS
    _STATS["run"]["seconds"] = round(time.monotonic() - started, 1)
    path = os.environ.get("TLANALYTICS_RELIABILITY_JSON", "/tmp/tlanalytics-reliability.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(_STATS, fh, indent=1, sort_keys=True, default=str)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item (``item.rep_call``), for fixtures that act on the outcome."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
