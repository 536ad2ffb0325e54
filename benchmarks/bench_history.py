"""Benchmark of the snapshot history: one year of hourly snapshots of 5,000 sessions.

    python benchmarks/bench_history.py [--days 365] [--sessions 5000] [--steps a,b]

Setup writes the store directly with pyarrow (same schema, compression and
atomic writer as ``save_snapshot``) under ``benchmarks/_out/`` and reuses it
when it is already there (delete the folder to rebuild). Every session lives
in a pool of ``--sessions`` slots for 1-47 hours (mean 24) with the listing
and progress columns; its last sighting shows it completed, failed or
expired, or it simply leaves the listing.

Each measurement runs in a fresh subprocess; memory is the peak resident set
size (VmHWM) of that process during the step (reset through
/proc/self/clear_refs just before the step) and the resident size before it,
so "peak" includes the history frame the step works on.

Targets: ``trends`` and ``session_outcomes`` within 10 s each with peak
memory under 2 GiB; ``save_snapshot`` of 5,000 rows within 0.5 s; the store
at most 1 GiB on disk.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks" / "_out"
H = 3_600_000_000  # one hour in microseconds
NEEDED = ["upload_id", "status", "total_size", "created_at", "expires_at", "uploaded_size"]  # tla.ANALYSIS_COLUMNS


def build_store(store, days, sessions, progress, seed=7):
    """Write ``days * 24`` hourly snapshot files of ``sessions`` rows each (skipped when complete)."""
    import numpy as np
    import pyarrow as pa

    from tlanalytics import history as h

    done = store / "_complete.json"
    config = {"days": days, "sessions": sessions, "seed": seed, "progress": progress}
    if done.exists() and json.loads(done.read_text()) == config:
        return
    rng = np.random.default_rng(seed)
    schema = h.arrow_schema()
    start = 1_767_225_600 * 1_000_000  # 2026-01-01T00:00:00Z in microseconds
    n = sessions

    def new(count, now):
        ids = np.array([rng.bytes(12).hex() for _ in range(count)], dtype=object)
        size = np.minimum(np.maximum(rng.lognormal(np.log(150 * 2**20), 1.6, count), 1e6), 10 * 2**30).astype(np.int64)
        chunk = np.where(size < 2**30, 5 * 2**20, 10 * 2**20).astype(np.int64)
        life = rng.integers(1, 48, count)  # hours it stays listed
        created = now - rng.integers(0, 3_600, count) * 1_000_000
        fate = rng.choice(np.array(["completed", "failed", "expired", "gone"], dtype=object), count, p=[.5, .1, .3, .1])
        return dict(ids=ids, size=size, chunk=chunk, life=life, age=np.zeros(count, np.int64), created=created,
                    expires=created + 24 * H, fate=fate)

    pool = new(n, start)
    for k in range(days * 24):
        now = start + k * H
        last = pool["age"] + 1 >= pool["life"]
        status = np.where(last & (pool["fate"] != "gone"), pool["fate"], "active").astype(object)
        chunks = -(-pool["size"] // pool["chunk"])
        frac = np.minimum(1.0, (pool["age"] + 1) / pool["life"])
        completed = np.where(status == "completed", chunks, np.minimum((frac * chunks).astype(np.int64), chunks - 1))
        failed = np.where(status == "failed", 1, 0)
        uploaded = np.minimum(completed * pool["chunk"], pool["size"])
        ts = lambda v: pa.array(v, pa.int64()).cast(pa.timestamp("us", tz="UTC"))  # noqa: E731
        cols = {"snapshot_at": ts(np.full(n, now)), "upload_id": pa.array(pool["ids"], pa.string()),
                "status": pa.array(status, pa.string()), "total_size": pa.array(pool["size"]),
                "chunk_size": pa.array(pool["chunk"]), "total_chunks": pa.array(chunks),
                "created_at": ts(pool["created"]), "expires_at": ts(pool["expires"]),
                "uploaded_size": pa.array(uploaded), "chunks_completed": pa.array(completed),
                "chunks_failed": pa.array(failed),
                "last_activity": ts((np.minimum(now, pool["created"] + (frac * (now - pool["created"])).astype(np.int64))
                                     // 1_000_000) * 1_000_000),
                "vanished": pa.array(np.zeros(n, bool))}
        if not progress:
            cols = {k: v for k, v in cols.items() if k in ("snapshot_at",) + h.STORED_COLUMNS[:7]}
        table = pa.Table.from_pydict(cols, schema=pa.schema([schema.field(c) for c in cols]))
        table = table.sort_by([("created_at", "ascending"), ("upload_id", "ascending")])  # as save_snapshot does
        import pandas as pd

        at = pd.Timestamp(now * 1000, tz="UTC")
        h.write_snapshot_table(table, store / h.snapshot_file_name(at))
        pool["age"] += 1
        ended = pool["age"] >= pool["life"]
        if ended.any():
            fresh = new(int(ended.sum()), now + H)
            for key in pool:
                pool[key][ended] = fresh[key]
        if k % 720 == 0:
            print(f"  setup: day {k // 24} of {days}", flush=True)
    done.write_text(json.dumps(config))


def _status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak():
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def child(step, store):
    """One measured step in this (fresh) process; prints a JSON line."""
    import pandas as pd

    import tlanalytics as tla

    result = {"step": step}
    if step == "save":
        from tlanalytics.simulator import generate_uploads

        df = tla.build_frame(generate_uploads(5000, seed=1), as_of="2030-01-01T00:00:00Z")
        target = store.parent / "save-bench"
        times = []
        for i in range(7):
            t = time.perf_counter()
            tla.save_snapshot(df, target, snapshot_at=pd.Timestamp("2030-01-01", tz="UTC") + pd.Timedelta(minutes=i))
            times.append(time.perf_counter() - t)
        result["seconds"] = sorted(times)[len(times) // 2]
        result["best"] = min(times)
        print(json.dumps(result))
        return
    _reset_peak()
    result["before"] = _status("VmRSS")
    t = time.perf_counter()
    if step in ("compact", "compact_again"):  # every day but the newest, as `tlanalytics snapshot` leaves it
        result["result_rows"] = len(tla.compact_history(store))
    elif step.startswith(("outcomes_", "trends_")):  # the store path: no frame of every row
        kind, engine = step.split("_", 1)
        history = tla.open_history(store, engine=engine)
        value = tla.session_outcomes(history) if kind == "outcomes" else tla.trends(history)
        result["result_rows"] = len(value)
    else:  # the frame path: load_history of the analysis columns, then the analysis on the frame
        history = tla.load_history(store, columns=list(tla.ANALYSIS_COLUMNS))
        result["load_seconds"] = time.perf_counter() - t
        result["frame_bytes"] = int(history.memory_usage(deep=False).sum())
        result["rows"] = len(history)
        value = tla.session_outcomes(history) if step == "frame_outcomes" else tla.trends(history)
        result["result_rows"] = len(value)
    result["seconds"] = time.perf_counter() - t
    result["peak"] = _status("VmHWM")
    print(json.dumps(result))


def _size(store):
    files = list(store.rglob("*.parquet"))  # the snapshot files and the kept per-day states (_state/)
    return len(files), sum(f.stat().st_size for f in files)


def run(step, store):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, __file__, "--child", step, "--store", str(store)], env=env,
                          capture_output=True, text=True)
    if proc.returncode:
        print(proc.stderr, file=sys.stderr)
        raise SystemExit(f"step {step} failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--listing-only", action="store_true", help="snapshots without the progress columns")
    parser.add_argument("--child")
    parser.add_argument("--store", type=Path)
    parser.add_argument("--steps", default="save,compact,compact_again,outcomes_auto,trends_auto,outcomes_duckdb,"
                                           "trends_duckdb,outcomes_arrow,trends_arrow,frame_outcomes,frame_trends")
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.store)
    store = OUT / f"history-{args.days}d-{args.sessions}{'-listing' if args.listing_only else ''}"
    t = time.perf_counter()
    build_store(store, args.days, args.sessions, not args.listing_only)
    print(f"setup: {time.perf_counter() - t:.0f} s; load average {os.getloadavg()[0]:.1f}")
    gib = 2**30
    rows = args.days * 24 * args.sessions
    for step in args.steps.split(","):
        if step == "compact":
            n, size = _size(store)
            print(f"store before compaction: {n:,} files, {size / gib:.3f} GiB ({size / rows:.1f} bytes/row)")
        r = run(step, store)
        if step == "save":
            print(f"save_snapshot 5,000 rows: median {r['seconds']:.3f} s, best {r['best']:.3f} s")
            continue
        line = f"{step}: {r['seconds']:.1f} s, peak RSS {r['peak'] / gib:.2f} GiB, {r['result_rows']:,} rows out"
        if "load_seconds" in r:
            line += (f" (load_history {r['load_seconds']:.1f} s, {r['rows']:,} rows, frame "
                     f"{r['frame_bytes'] / gib:.2f} GiB)")
        print(line + f"; load average {os.getloadavg()[0]:.1f}", flush=True)
        if step.startswith("compact"):
            n, size = _size(store)
            print(f"store after {step}: {n:,} files, {size / gib:.3f} GiB ({size / rows:.1f} bytes/row)")


if __name__ == "__main__":
    main()
