"""Benchmark: start-up time of ``tlanalytics --help`` (target: under 0.2 s).

Run from the repository root: ``python benchmarks/bench_cli.py [--runs 20]``.

Each run is a fresh ``python -m tlanalytics --help`` (what the console script
runs), timed from outside; ``python -c pass`` is timed the same way as the
floor of any Python command. For each: minimum and median wall time of
``--runs`` runs, and the median CPU time of the child (user + system, from
``getrusage``), which a busy machine does not inflate the way it inflates wall
time (waiting for a core).

"installed" is how an installed package starts: bytecode cached (pip compiles
it at install; here a private ``PYTHONPYCACHEPREFIX`` warmed by two runs
first). "from source" is a checkout without ``__pycache__`` run with
``PYTHONDONTWRITEBYTECODE=1``: the standard library's bytecode is used, but
every run compiles tlanalytics' own modules again (how this repository runs
when the environment sets that variable, as this project's machine does).
The load average (1 min) is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _times(cmd, runs, env):
    """Wall and child CPU seconds of each of ``runs`` runs of ``cmd``."""
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env, cwd=ROOT)
        wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    base["PYTHONPATH"] = ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")
    load_before = os.getloadavg()[0]
    print("| command | bytecode | min s | median s | median CPU s |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as cache:
        installed = dict(base, PYTHONPYCACHEPREFIX=cache)
        source = dict(base, PYTHONDONTWRITEBYTECODE="1")
        for name, cmd in (("python -c pass", [sys.executable, "-c", "pass"]),
                          ("tlanalytics --help", [sys.executable, "-m", "tlanalytics", "--help"])):
            _times(cmd, 2, installed)  # warm the cache
            for label, env in (("installed", installed), ("from source", source)):
                if name == "python -c pass" and label == "from source":
                    continue
                wall, cpu = _times(cmd, args.runs, env)
                print(f"| `{name}` | {label} | {min(wall):.3f} | {statistics.median(wall):.3f} | "
                      f"{statistics.median(cpu):.3f} |")
    print()
    print(f"{args.runs} runs each; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; "
          f"python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
