"""Benchmark: loading the listing with tlanalytics vs the official SDK pager vs a sequential requests loop.

Run from the repository root:

    python benchmarks/bench_load.py                 # 5,000 and 50,000 sessions, 50 ms latency
    python benchmarks/bench_load.py --sizes 5000 --workers 8 16 32
    python benchmarks/bench_load.py --cpu --sizes 200000 1000000

The simulator runs in a separate process (see ``_common.RemoteSimulator``) with
50 ms added to every request. Requests are counted by the simulator. The ideal
bound is ``(1 + ceil((pages - 1) / workers)) * latency``: page 1 alone, then
the other pages in rounds of ``workers`` concurrent requests (the adaptive
window starts at 16 and has to grow to ``workers``: that is part of the time).

``--cpu``: the client's CPU time (``time.process_time``, every thread of the
benchmark process; the simulator, with no added latency, runs in another
process) of ``load_uploads`` (``max_pages`` raised to the listing's pages: the
default 1,000 would cut it) against two bare sequential loops that fetch
every page and parse it: ``requests`` (``Session.get`` + ``.json()``) and
``urllib3`` (``HTTPConnectionPool.request`` + ``json.loads``), the latter to
show how much of the cost is the HTTP client. Also the peak RSS growth of
``load_uploads`` (VmHWM, reset before the call) against the raw bytes of the
pages. Best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import time
from urllib.parse import urlsplit

import pandas as pd
import requests

from _common import RemoteSimulator, ideal_bound, machine, markdown_table, timed


def run_tlanalytics(sim, workers):
    from tlanalytics import load_uploads

    return load_uploads(sim.api_key, base_url=sim.base_url, progress=False, max_workers=workers)


def run_sdk(sim):
    from twelvelabs import TwelveLabs

    client = TwelveLabs(api_key=sim.api_key, base_url=sim.base_url)
    items = list(client.multipart_upload.list_incomplete_uploads(page_limit=50))
    return pd.DataFrame([x.model_dump() for x in items])


def run_requests_loop(sim):
    rows, page = [], 1
    with requests.Session() as session:
        while True:
            r = session.get(sim.base_url + "/assets/multipart-uploads", params={"page": page, "page_limit": 50},
                            headers={"x-api-key": sim.api_key}, timeout=30)
            r.raise_for_status()
            body = r.json()
            rows += body["data"]
            if page >= body["page_info"]["total_page"]:
                break
            page += 1
    return pd.json_normalize(rows)


def run_urllib3_loop(sim):
    import urllib3

    parts = urlsplit(sim.base_url)
    pool = urllib3.HTTPConnectionPool(parts.hostname, parts.port, maxsize=1)
    pages, page = [], 1
    try:
        while True:
            r = pool.request("GET", parts.path + "/assets/multipart-uploads", fields={"page": page, "page_limit": 50},
                             headers={"x-api-key": sim.api_key}, timeout=30)
            assert r.status == 200, r.status
            body = json.loads(r.data)
            pages.append(body)
            if page >= body["page_info"]["total_page"]:
                break
            page += 1
    finally:
        pool.close()
    return pages


def run_requests_pages(sim):
    """The bare loop: every page with requests, ``.json()``, nothing else."""
    pages, page = [], 1
    with requests.Session() as session:
        while True:
            r = session.get(sim.base_url + "/assets/multipart-uploads", params={"page": page, "page_limit": 50},
                            headers={"x-api-key": sim.api_key}, timeout=30)
            r.raise_for_status()
            body = r.json()
            pages.append(body)
            if page >= body["page_info"]["total_page"]:
                break
            page += 1
    return pages


def _status(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def cpu_measure(sim, fn, repeat):
    """(best CPU s, best wall s, peak RSS growth bytes of the last run, result length)."""
    best_cpu = best_wall = math.inf
    growth = rows = None
    for _ in range(repeat):
        result = None
        gc.collect()
        before = _status("VmRSS")
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset VmHWM to the current RSS
        c0, w0 = time.process_time(), time.perf_counter()
        result = fn()
        c1, w1 = time.process_time(), time.perf_counter()
        growth = _status("VmHWM") - before
        best_cpu, best_wall = min(best_cpu, c1 - c0), min(best_wall, w1 - w0)
        rows = len(result) if not isinstance(result, list) else sum(len(p["data"]) for p in result)
        del result
    assert rows == sim.n, (rows, sim.n)
    return best_cpu, best_wall, growth


def cpu_main(args):
    from tlanalytics import load_uploads

    rows = []
    with RemoteSimulator(500, latency=0) as sim:  # warm-up: imports (pyarrow, pandas paths) and caches
        run_requests_pages(sim), run_urllib3_loop(sim), load_uploads(sim.api_key, base_url=sim.base_url, progress=False)
    for n in args.sizes:
        with RemoteSimulator(n, latency=0) as sim:
            raw = sum(len(requests.get(sim.base_url + "/assets/multipart-uploads",
                                       params={"page": p, "page_limit": 50}, headers={"x-api-key": sim.api_key},
                                       timeout=60).content) for p in range(1, math.ceil(n / 50) + 1))
            loop = cpu_measure(sim, lambda: run_requests_pages(sim), args.repeat)
            bare = cpu_measure(sim, lambda: run_urllib3_loop(sim), args.repeat)
            pages = math.ceil(n / 50)  # the default max_pages (1,000 pages, 50,000 sessions) would cut the listing
            ours = cpu_measure(sim, lambda: load_uploads(sim.api_key, base_url=sim.base_url, progress=False,
                                                         max_pages=pages + 1), args.repeat)
        for name, (c, w, g) in (("bare requests loop (.json())", loop), ("bare urllib3 loop (json.loads)", bare),
                                ("**load_uploads** (default)", ours)):
            rows.append([f"{n:,}", name, f"{c:.2f}", f"{c / loop[0]:.2f}x", f"{w:.2f}", f"{raw / 2**20:.0f} MiB",
                         f"{g / 2**20:.0f} MiB", f"{g / raw:.2f}x"])
    print(markdown_table(["sessions", "method", "client CPU s", "CPU / requests loop", "wall s", "raw bytes",
                          "peak RSS growth", "growth / raw"], rows))
    print()
    print(f"no added latency, best of {args.repeat}; {machine()}")


def measure(sim, name, fn, repeat):
    best = None
    for _ in range(repeat):
        sim.reset()
        seconds, df = timed(fn)
        sent = sim.requests()
        assert len(df) == sim.n, (name, len(df), sim.n)
        best = min(best or (seconds, sent), (seconds, sent))
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 50000])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--workers", type=int, nargs="+", default=[32], help="max_workers values for tlanalytics")
    parser.add_argument("--cpu", action="store_true", help="client CPU time against bare loops, no added latency")
    parser.add_argument("--repeat", type=int, default=3, help="runs of tlanalytics per size (best kept)")
    parser.add_argument("--no-baselines", action="store_true", help="skip the SDK and requests-loop runs")
    args = parser.parse_args(argv)
    if args.cpu:
        cpu_main(args)
        return

    rows = []
    for n in args.sizes:
        pages = max(1, math.ceil(n / 50))
        with RemoteSimulator(n, latency=args.latency) as sim:
            sdk = None if args.no_baselines else measure(sim, "sdk", lambda: run_sdk(sim), 1)
            loop = None if args.no_baselines else measure(sim, "loop", lambda: run_requests_loop(sim), 1)
            for workers in args.workers:
                seconds, sent = measure(sim, "tlanalytics", lambda: run_tlanalytics(sim, workers), args.repeat)
                bound = ideal_bound(pages, workers, args.latency)
                rows.append([f"{n:,}", f"tlanalytics.load_uploads (max_workers={workers})", f"{seconds:.3f}", sent,
                             f"{sdk[0] / seconds:.1f}x" if sdk else "-", f"{bound:.3f}", f"{seconds / bound:.2f}"])
            if sdk:
                rows.append([f"{n:,}", "SDK pager + DataFrame", f"{sdk[0]:.3f}", sdk[1], "1.0x", "-", "-"])
                rows.append([f"{n:,}", "sequential requests + json_normalize", f"{loop[0]:.3f}", loop[1],
                             f"{sdk[0] / loop[0]:.1f}x", "-", "-"])
    print(markdown_table(["sessions", "method", "wall s", "requests", "speed-up vs SDK", "ideal bound s",
                          "wall / bound"], rows))
    print()
    print(f"latency {args.latency * 1000:.0f} ms per request, page_limit 50; {machine()}")


if __name__ == "__main__":
    main()
