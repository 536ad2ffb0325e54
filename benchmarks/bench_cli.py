"""Benchmark: start-up time of ``tlanalytics --help`` (target: under 0.2 s).

Run from the repository root: ``python benchmarks/bench_cli.py [--runs 20]``.

Each run is a fresh ``python -m tlanalytics --help`` (what the console script
runs), timed from outside; ``python -c pass`` is timed the same way as the
floor of any Python command. Minimum and median of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _times(cmd, runs):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env, cwd=ROOT)
        out.append(time.perf_counter() - start)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    print("| command | min s | median s |")
    print("| --- | --- | --- |")
    for name, cmd in (("python -c pass", [sys.executable, "-c", "pass"]),
                      ("tlanalytics --help", [sys.executable, "-m", "tlanalytics", "--help"])):
        t = _times(cmd, args.runs)
        print(f"| `{name}` | {min(t):.3f} | {statistics.median(t):.3f} |")
    print()
    print(f"{args.runs} runs each; load average {os.getloadavg()[0]:.1f}; python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
