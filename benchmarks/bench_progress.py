"""Benchmark: reading every session's progress with tlanalytics vs a sequential SDK loop.

Run from the repository root:

    python benchmarks/bench_progress.py                     # 2,000 sessions, 50 ms latency
    python benchmarks/bench_progress.py --workers 8 16 32

The sequential baseline is what an SDK user writes: a loop of
``get_status(upload_id, page_limit=1)``. The SDK's pager drops the session
counters, and ``with_raw_response`` hands back the same pager, so the loop
reads them from the raw httpx response it wraps (``pager.response._response``).
The simulator runs in a separate process; requests are counted by it.
"""

from __future__ import annotations

import argparse

from _common import RemoteSimulator, machine, markdown_table, timed


def sequential_sdk(sim, ids):
    from twelvelabs import TwelveLabs

    client = TwelveLabs(api_key=sim.api_key, base_url=sim.base_url)
    rows = []
    for upload_id in ids:
        pager = client.multipart_upload.with_raw_response.get_status(upload_id, page_limit=1)
        body = pager.response._response.json()
        rows.append({k: body.get(k) for k in ("upload_id", "uploaded_size", "chunks_completed", "chunks_failed",
                                              "chunks_pending", "updated_at")})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--workers", type=int, nargs="+", default=[8])
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)

    from tlanalytics import UploadsClient

    rows = []
    with RemoteSimulator(args.sessions, latency=args.latency) as sim:
        with UploadsClient(sim.api_key, base_url=sim.base_url, progress=False) as client:
            df = client.load()
        ids = df["upload_id"].tolist()
        base = None
        if not args.no_baseline:
            sim.reset()
            base, rows_seq = timed(lambda: sequential_sdk(sim, ids))
            assert len(rows_seq) == len(ids)
            base_requests = sim.requests()
        for workers in args.workers:
            with UploadsClient(sim.api_key, base_url=sim.base_url, progress=False, max_workers=workers) as client:
                sim.reset()
                seconds, out = timed(lambda: client.add_progress(df))
                sent = sim.requests()
            assert len(out) == len(df) and not out["vanished"].any() and sent == len(df)
            ideal = len(ids) / workers * args.latency
            rows.append([f"{len(ids):,}", f"tlanalytics add_progress (max_workers={workers})", f"{seconds:.2f}", sent,
                         f"{base / seconds:.1f}x" if base else "-", f"{ideal:.2f}"])
        if base:
            rows.append([f"{len(ids):,}", "sequential SDK get_status loop", f"{base:.2f}", base_requests, "1.0x",
                         f"{len(ids) * args.latency:.2f}"])
    print(markdown_table(["sessions", "method", "wall s", "requests", "speed-up", "ideal s"], rows))
    print()
    print(f"latency {args.latency * 1000:.0f} ms per request; {machine()}")


if __name__ == "__main__":
    main()
