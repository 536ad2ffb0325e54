"""Shared benchmark plumbing: the simulator in a separate process, timing, tables.

The simulator runs in its own process (multiprocessing, spawn) so that its
server threads do not compete with the client for the GIL: on a 2-core
machine a simulator in the same process would slow the client it measures.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import platform
import sys
import time


def _serve(conn, n, latency, seed, rate_limit=None):
    """Child process: serve ``n`` generated sessions and answer commands on ``conn``."""
    from tlanalytics.simulator import Simulator, generate_uploads

    with Simulator(generate_uploads(n, seed=seed), latency=latency, rate_limit=rate_limit) as sim:
        conn.send((sim.base_url, sim.api_key))
        while True:
            cmd = conn.recv()
            if cmd == "requests":
                conn.send(sim.requests)
            elif cmd == "stats":
                with sim._lock:
                    log = list(sim.request_log)
                conn.send({"requests": sim.requests, "throttled": sum(1 for e in log if e[2] == 429)})
            elif cmd == "reset":
                sim.reset_stats()
                conn.send(None)
            elif cmd == "sessions":
                conn.send(len(sim.sessions()))
            else:
                conn.send(None)
                return


class RemoteSimulator:
    """A :class:`tlanalytics.Simulator` running in a child process.

    Use as a context manager; ``base_url``, ``api_key``, ``requests()``,
    ``stats()`` and ``reset()`` mirror the in-process simulator.
    """

    def __init__(self, n, *, latency=0.05, seed=0, rate_limit=None):
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, n, latency, seed, rate_limit), daemon=True)
        self.n, self.latency, self.rate_limit = n, latency, rate_limit

    def __enter__(self):
        self._proc.start()
        self.base_url, self.api_key = self._conn.recv()
        return self

    def _ask(self, cmd):
        self._conn.send(cmd)
        return self._conn.recv()

    def requests(self):
        return self._ask("requests")

    def stats(self):
        """``{"requests": sent, "throttled": answered 429}`` since the last reset."""
        return self._ask("stats")

    def reset(self):
        self._ask("reset")

    def __exit__(self, *exc):
        try:
            self._ask("stop")
        finally:
            self._proc.join(timeout=10)
            if self._proc.is_alive():
                self._proc.terminate()


def timed(fn):
    """Run ``fn()``; return (seconds, result)."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def ideal_bound(pages, workers, latency):
    """Page 1 alone, then the rest in rounds of ``workers``: ``(1 + ceil((pages - 1) / workers)) * latency``."""
    return (1 + math.ceil(max(pages - 1, 0) / workers)) * latency


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine():
    return (f"Python {platform.python_version()}, {os.cpu_count()} cores, {platform.platform()}; "
            f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
