"""Benchmark: listing pages (raw JSON bytes) to the typed DataFrame.

Measures, on the same seeded pages (50 items each, as the API sends them):

- the floor: ``json.loads`` of every page body, nothing else;
- ``frame_from_pages(pages)``: parsing, typing, checking and derived columns.

Times are the best of ``--repeat`` alternating runs, wall clock and CPU time
(CPU time is steadier on shared machines, where wall time includes time the
process waited for a CPU). Peak memory growth is measured in a fresh
subprocess per configuration: the peak resident set size (VmHWM, reset through
/proc/self/clear_refs after the pages are made) minus the resident size just
before the call, which counts every allocator (numpy, pyarrow, Python). The
tracemalloc peak of the call is shown beside it for reference.

It runs with pandas as installed (pyarrow-backed ``string`` dtype; raw
bodies go through the ``pyarrow.json`` fast path of ``tlanalytics._fastparse``),
which is the path :func:`tlanalytics.load_uploads` takes: it hands its pages'
raw bytes to ``frame_from_pages``. ``--without-pyarrow`` adds a run with
pyarrow hidden (``json.loads`` per page, ``string`` stored as Python objects),
a configuration that no longer exists once pyarrow is a core dependency.

Run: ``python benchmarks/bench_frame.py [--sessions N [N ...]] [--repeat R] [--without-pyarrow]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time

_MiB = 1 << 20


def make_pages(sessions, *, seed=0, per_page=50, variants=0.02):
    """Seeded listing page bodies (bytes): mostly 'Z' timestamps, some with fractions or offsets."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = sessions
    created = 1_764_000_000 + rng.integers(0, 30 * 86400, n)
    lifetime = np.where(rng.random(n) < 0.7, 24 * 3600, 8 * 3600)
    total = np.exp(rng.uniform(np.log(1 << 10), np.log(12 << 30), n)).astype(np.int64)
    chunk = rng.choice(np.array([5 * _MiB, 10 * _MiB, 100 * _MiB]), n)
    chunks = -(-total // chunk)
    statuses = np.array(["active", "completed", "failed", "expired"])[rng.choice(4, n, p=[0.7, 0.1, 0.1, 0.1])]
    ids = rng.integers(0, 1 << 63, (n, 2)).astype(np.uint64)

    def stamps(seconds):
        text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s").astype(object) + "Z"
        kind = rng.random(n)
        frac = kind < variants / 2
        text[frac] = [s[:-1] + ".%06dZ" % f for s, f in zip(text[frac], rng.integers(0, 10**6, frac.sum()))]
        off = (kind >= variants / 2) & (kind < variants)
        local = np.datetime_as_string((seconds[off] + 7200).astype("datetime64[s]"), unit="s")
        text[off] = [s + "+02:00" for s in local]
        return text

    c_text, e_text = stamps(created), stamps(created + lifetime)
    items = [
        '{"upload_id": "%016x%08x", "status": "%s", "total_size": %d, "chunk_size": %d, '
        '"total_chunks": %d, "created_at": "%s", "expires_at": "%s"}' % row
        for row in zip(ids[:, 0].tolist(), (ids[:, 1] >> 32).tolist(), statuses.tolist(), total.tolist(),
                       chunk.tolist(), chunks.tolist(), c_text.tolist(), e_text.tolist())
    ]
    pages = []
    npages = -(-n // per_page)
    for p in range(npages):
        info = '{"limit_per_page": %d, "page": %d, "total_page": %d, "total_results": %d}' % (per_page, p + 1, npages, n)
        pages.append(('{"data": [%s], "page_info": %s}' % (", ".join(items[p * per_page:(p + 1) * per_page]), info))
                     .encode())
    return pages


def _clock():
    return time.perf_counter(), time.process_time()


def _floor(pages):
    for body in pages:
        json.loads(body)


def _time_worker(args):
    from tlanalytics.frame import frame_from_pages

    pages = make_pages(args.sessions)
    frame_from_pages(pages[:100])  # warm imports and caches
    best = {"floor": [1e9, 1e9], "frame": [1e9, 1e9]}
    for _ in range(args.repeat):
        for name, run in (("floor", lambda: _floor(pages)), ("frame", lambda: frame_from_pages(pages))):
            gc.collect()
            w0, c0 = _clock()
            result = run()
            w1, c1 = _clock()
            best[name] = [min(best[name][0], w1 - w0), min(best[name][1], c1 - c0)]
            del result
    return {"raw_bytes": sum(map(len, pages)), "floor_wall": best["floor"][0], "floor_cpu": best["floor"][1],
            "frame_wall": best["frame"][0], "frame_cpu": best["frame"][1]}


def _status(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _memory_worker(args):
    import ctypes
    import tracemalloc

    import pandas as pd

    from tlanalytics import _fastparse
    from tlanalytics.frame import frame_from_pages

    pages = make_pages(args.sessions)
    frame_from_pages(pages[:100])
    gc.collect()
    try:  # give freed heap back to the OS so reuse of it cannot hide growth
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    before = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset VmHWM to the current RSS
    df = frame_from_pages(pages)
    peak = _status("VmHWM")
    rows, frame_bytes = len(df), int(df.memory_usage(deep=True).sum())
    string_storage = df["upload_id"].dtype.storage
    del df
    gc.collect()
    tracemalloc.start()
    df = frame_from_pages(pages)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"raw_bytes": sum(map(len, pages)), "rss_growth": peak - before, "traced_peak": traced,
            "rows": rows, "frame_bytes": frame_bytes, "string_storage": string_storage, "pandas": pd.__version__,
            "fast_path": _fastparse.usable()}


def _run_worker(args, mode, no_pyarrow):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", mode, "--sessions", str(args.sessions),
           "--repeat", str(args.repeat)] + (["--no-pyarrow"] if no_pyarrow else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--without-pyarrow", action="store_true", help="also run with pyarrow hidden")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", choices=["time", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--no-pyarrow", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.sessions = args.sessions[0]
        if args.no_pyarrow:
            sys.modules["pyarrow"] = None  # pandas then sees no pyarrow
        work = _time_worker if args.worker == "time" else _memory_worker
        print(json.dumps(work(args)))
        return
    lines = [
        f"frame_from_pages, pages of 50, best of {args.repeat}; python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
        "",
        "| sessions | path | raw bytes | json.loads floor (wall / CPU s) | frame_from_pages (wall / CPU s) "
        "| ratio (wall / CPU) | peak RSS growth | / raw bytes | tracemalloc peak | result frame |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    sizes = args.sessions
    for args.sessions, no_pyarrow in [(n, hide) for n in sizes for hide in (False, True)
                                      if args.without_pyarrow or not hide]:
        t = _run_worker(args, "time", no_pyarrow)
        m = _run_worker(args, "memory", no_pyarrow)
        raw = t["raw_bytes"]
        name = (f"string storage {m['string_storage']}, "
                + ("pyarrow.json fast path" if m["fast_path"] else "json.loads per page")
                + (" (pyarrow hidden)" if no_pyarrow else ""))
        lines.append(
            f"| {args.sessions:,} | {name} | {raw / _MiB:.0f} MiB | {t['floor_wall']:.2f} / {t['floor_cpu']:.2f} "
            f"| {t['frame_wall']:.2f} / {t['frame_cpu']:.2f} "
            f"| {t['frame_wall'] / t['floor_wall']:.2f}x / {t['frame_cpu'] / t['floor_cpu']:.2f}x "
            f"| {m['rss_growth'] / _MiB:.0f} MiB | {m['rss_growth'] / raw:.2f}x "
            f"| {m['traced_peak'] / _MiB:.0f} MiB | {m['frame_bytes'] / _MiB:.0f} MiB |"
        )
    lines.append("")
    lines.append("Targets: frame_from_pages <= 1.3x the floor; peak memory growth <= 2x the raw bytes.")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
