"""Benchmark: loading the listing with tlanalytics vs the official SDK pager vs a sequential requests loop.

Run from the repository root:

    python benchmarks/bench_load.py                 # 5,000 and 50,000 sessions, 50 ms latency
    python benchmarks/bench_load.py --sizes 5000 --workers 4 8 16

The simulator runs in a separate process (see ``_common.RemoteSimulator``) with
50 ms added to every request. Requests are counted by the simulator. The ideal
bound is ``(1 + ceil((pages - 1) / workers)) * latency``: page 1 alone, then
the other pages in rounds of ``workers`` concurrent requests.
"""

from __future__ import annotations

import argparse
import math

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
    parser.add_argument("--workers", type=int, nargs="+", default=[8], help="max_workers values for tlanalytics")
    parser.add_argument("--repeat", type=int, default=3, help="runs of tlanalytics per size (best kept)")
    parser.add_argument("--no-baselines", action="store_true", help="skip the SDK and requests-loop runs")
    args = parser.parse_args(argv)

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
