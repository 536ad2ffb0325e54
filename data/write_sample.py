"""Regenerate the demo's sample, ``data/sample_uploads.json.gz`` (a maintenance tool, not part of the API).

Run from the repository root::

    PYTHONPATH=. python data/write_sample.py            # the shipped file again (its JSON byte for byte)
    PYTHONPATH=. python data/write_sample.py --now now  # a fresh one, anchored to the present

The file holds ``generate_uploads(3000, seed=2025, now=generated_at)`` with
that moment, so it can always be reproduced (tests/test_simulator.py checks
that this script writes the shipped bytes).
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

from tlanalytics._generate import SAMPLE_FILE, SAMPLE_SEED, SAMPLE_SIZE, as_utc, generate_uploads, rfc3339

HERE = Path(__file__).resolve().parent


def write_sample(path, *, now=None, n=SAMPLE_SIZE, seed=SAMPLE_SEED):
    """Write a sample file like the shipped one to ``path``: gzip (no timestamp) of compact JSON."""
    now = as_utc(now)
    doc = {"generated_at": rfc3339(now), "seed": seed, "n": n, "sessions": generate_uploads(n, seed=seed, now=now)}
    data = json.dumps(doc, separators=(",", ":")).encode()
    Path(path).write_bytes(gzip.compress(data, mtime=0))
    return Path(path)


def _shipped_moment():
    """``generated_at`` of the shipped file."""
    return json.loads(gzip.decompress((HERE / SAMPLE_FILE).read_bytes()))["generated_at"]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--now", help="ISO 8601 moment, or 'now' (default: the shipped file's generated_at)")
    parser.add_argument("-o", "--output", type=Path, default=HERE / SAMPLE_FILE)
    args = parser.parse_args()
    moment = None if args.now == "now" else args.now or _shipped_moment()
    print(write_sample(args.output, now=moment))
