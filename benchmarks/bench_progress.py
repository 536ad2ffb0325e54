"""Benchmark: reading every session's progress with tlanalytics vs a sequential SDK loop, and under a hidden rate limit.

Run from the repository root:

    python benchmarks/bench_progress.py                      # both parts, the figures in RESULTS.md
    python benchmarks/bench_progress.py --part open --sessions 5000 --workers 8 16 32 64
    python benchmarks/bench_progress.py --part limited --sessions 3000 --rates 50 200

Part ``open``: no rate limit, 50 ms per request; ``add_progress`` for
``--sessions`` sessions at each ``max_workers`` ceiling, against the bound
``sessions / max_workers x latency`` and against the sequential baseline an
SDK user writes: a loop of ``get_status(upload_id, page_limit=1)``. The SDK's
pager drops the session counters, and ``with_raw_response`` hands back the
same pager, so the loop reads them from the raw httpx response it wraps
(``pager.response._response``). The loop runs on ``--sdk-sessions`` sessions
and is scaled linearly to ``--sessions`` (one request per session, in
sequence: its time is linear in the number of sessions).

Part ``limited``: the simulator answers 429 (``Retry-After: 1``) past
``rate`` requests in any second, which the client is not told; ``add_progress``
at the default ceiling (a fresh client, so the window starts at 16 and knows no
rate), against the bound ``sessions / rate``, with the share of requests
answered 429. The listing is read first, then 1.1 s pass so its requests have
left the server's one-second window.

The simulator runs in a separate process; requests are counted by it. The
window's history (``df.attrs["concurrency"]``) is printed for each run.
"""

from __future__ import annotations

import argparse
import time

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


def _listing(sim):
    from tlanalytics import UploadsClient

    with UploadsClient(sim.api_key, base_url=sim.base_url, progress=False) as client:
        return client.load()


def _progress(sim, df, workers):
    from tlanalytics import UploadsClient

    kwargs = {} if workers is None else {"max_workers": workers}
    with UploadsClient(sim.api_key, base_url=sim.base_url, progress=False, **kwargs) as client:
        sim.reset()
        seconds, out = timed(lambda: client.add_progress(df))
        stats = sim.stats()
    assert len(out) == len(df) and not out["vanished"].any(), "rows lost"
    assert out["uploaded_size"].notna().all(), "a session without progress"
    return seconds, stats, client.concurrency


def _window(history):
    rate = f", rate {history['rate']:.0f}/s" if history["rate"] else ""
    return (f"start {history['start']}, peak {history['peak']}, low {history['low']}, final {history['final']}; "
            f"cuts: {history['throttled']} 429, {history['server_errors']} 5xx, {history['latency_rises']} latency"
            f"{rate}")


def part_open(args):
    from tlanalytics.client import UploadsClient

    default = UploadsClient.__init__.__kwdefaults__["max_workers"]
    rows = []
    with RemoteSimulator(args.sessions, latency=args.latency) as sim:
        df = _listing(sim)
        ids = df["upload_id"].tolist()
        per_sdk = None
        if not args.no_baseline:
            sample = ids[: args.sdk_sessions]
            sim.reset()
            seconds, got = timed(lambda: sequential_sdk(sim, sample))
            assert len(got) == len(sample) and sim.requests() == len(sample)
            per_sdk = seconds / len(sample)
        for workers in args.workers:
            seconds, stats, history = _progress(sim, df, workers)
            assert stats["requests"] == len(ids), ("requests", stats, len(ids))
            bound = len(ids) / workers * args.latency
            name = f"add_progress, max_workers={workers}" + (" (default)" if workers == default else "")
            sdk = per_sdk * len(ids) if per_sdk else None
            rows.append([f"{len(ids):,}", name, f"{seconds:.2f}", stats["requests"], f"{bound:.2f}",
                         f"{seconds / bound:.2f}", f"{sdk / seconds:.1f}x" if sdk else "-", _window(history)])
        if per_sdk:
            rows.append([f"{len(ids):,}", f"sequential SDK get_status loop (measured on {args.sdk_sessions:,}, "
                         f"scaled x{len(ids) / args.sdk_sessions:g})", f"{per_sdk * len(ids):.2f}", "-",
                         f"{len(ids) * args.latency:.2f}", f"{per_sdk / args.latency:.2f}", "1.0x", "-"])
    print(markdown_table(["sessions", "method", "wall s", "requests", "bound s", "wall / bound", "vs SDK loop",
                          "window"], rows))
    print()
    print(f"no rate limit, latency {args.latency * 1000:.0f} ms per request; {machine()}")


def part_limited(args):
    rows = []
    for rate in args.rates:
        with RemoteSimulator(args.sessions, latency=args.latency, rate_limit=rate) as sim:
            df = _listing(sim)
            time.sleep(1.1)  # the listing's requests leave the server's one-second window first
            seconds, stats, history = _progress(sim, df, None)
            ok = stats["requests"] - stats["throttled"]
            assert ok == len(df), ("answered requests", ok, len(df))  # one accepted request per session
            bound = len(df) / rate
            rows.append([f"{len(df):,}", f"{rate}/s", f"{seconds:.2f}", f"{bound:.2f}", f"{seconds / bound:.2f}",
                         stats["requests"], stats["throttled"], f"{100 * stats['throttled'] / stats['requests']:.1f}%",
                         _window(history)])
    print(markdown_table(["sessions", "server limit", "wall s", "bound s", "wall / bound", "requests", "429s",
                          "429 share", "window"], rows))
    print()
    print(f"add_progress at the default ceiling, latency {args.latency * 1000:.0f} ms; {machine()}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["open", "limited", "both"], default="both")
    parser.add_argument("--sessions", type=int, default=None, help="default: 5000 (open), 3000 (limited)")
    parser.add_argument("--sdk-sessions", type=int, default=1000, help="sessions of the SDK loop (then scaled)")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--workers", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--rates", type=float, nargs="+", default=[50, 200])
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)
    sessions = args.sessions
    if args.part in ("open", "both"):
        args.sessions = sessions or 5000
        part_open(args)
        print()
    if args.part in ("limited", "both"):
        args.sessions = sessions or 3000
        args.rates = [int(r) if r == int(r) else r for r in args.rates]
        part_limited(args)


if __name__ == "__main__":
    main()
