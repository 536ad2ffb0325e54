"""Shared test fixtures. Module-specific fixtures live in their test files."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every matplotlib figure a test opened (seaborn's habit)."""
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


# --- client fixtures (tests/test_client.py, tests/test_progress.py) ----------

@pytest.fixture
def make_sim():
    """Start simulators on loopback for the test; they stop at its end."""
    from tlanalytics.simulator import Simulator

    started = []

    def make(uploads, **kwargs):
        sim = Simulator(uploads, **kwargs).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def make_client():
    """UploadsClient factory for a simulator: tiny backoff, no progress bar; closed at the end."""
    from tlanalytics.client import UploadsClient

    made = []

    def make(sim=None, **kwargs):
        if sim is not None:
            kwargs.setdefault("base_url", sim.base_url)
            kwargs.setdefault("api_key", sim.api_key)
        kwargs.setdefault("progress", False)
        kwargs.setdefault("backoff", 0.001)
        kwargs.setdefault("timeout", (2, 5))
        client = UploadsClient(**kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


# --- hostile loopback servers (tests/test_hardening.py, tests/reliability/test_hostile.py) ----

@pytest.fixture
def hostile():
    """Start scriptable hostile servers on 127.0.0.1 (see tests/_hostile.py); they stop at the test's end."""
    from _hostile import Hostile

    started = []

    def make(script, **kwargs):
        server = Hostile(script, **kwargs)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
