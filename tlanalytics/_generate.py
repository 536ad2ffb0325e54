"""Realistic, deterministic upload sessions for the simulator and the demo.

Distributions (documented in :func:`generate_uploads`) imitate what a video
pipeline produces; they are not measured from any real account.
"""

from __future__ import annotations

import gzip
import json
import math
import random
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

from .errors import InvalidArgumentError

_MiB = 1 << 20
_GiB = 1 << 30
_MIN_SIZE = 1_000_000
_MAX_SIZE = 10 * _GiB
#: Chunk sizes the platform picks from (bytes).
CHUNK_SIZES = (5 * _MiB, 10 * _MiB, 25 * _MiB, 50 * _MiB, 100 * _MiB)
SAMPLE_FILE = "sample_uploads.json.gz"
SAMPLE_SEED = 2025
SAMPLE_SIZE = 3000


def rfc3339(dt):
    """Format an aware datetime as the API does: seconds, ``Z``."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(ts):
    """Parse the ``Z`` form written by :func:`rfc3339`."""
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def as_utc(now):
    """Now, or the given moment, as an aware UTC datetime at whole seconds."""
    if now is None:
        now = datetime.now(timezone.utc)
    elif isinstance(now, str):
        now = datetime.fromisoformat(now.replace("Z", "+00:00"))
    elif hasattr(now, "to_pydatetime"):
        now = now.to_pydatetime()
    if not isinstance(now, datetime):
        raise InvalidArgumentError(f"The value for `now` must be a datetime or ISO 8601 string, but {now!r} was passed.")
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return now.astimezone(timezone.utc).replace(microsecond=0)


def _pick_chunk_size(rng, size):
    """The platform's choice: larger files get larger chunks, with some variety."""
    if rng.random() < 0.15:
        return rng.choice(CHUNK_SIZES)
    if size < _GiB:
        return CHUNK_SIZES[0]
    if size < 4 * _GiB:
        return CHUNK_SIZES[1]
    return CHUNK_SIZES[2] if size < 8 * _GiB else CHUNK_SIZES[3]


def chunk_states(session):
    """Per-chunk status list (index 0 is chunk 1) consistent with the session's counters.

    Chunks ``1 .. completed + failed`` were attempted, of which ``failed`` chosen
    by a generator seeded from the ``upload_id`` failed; the rest are pending.
    """
    n = session["total_chunks"]
    done, failed = session["chunks_completed"], session["chunks_failed"]
    attempted = done + failed
    rng = random.Random(session["upload_id"])
    failed_idx = set(rng.sample(range(attempted), failed)) if failed else set()
    return ["failed" if i in failed_idx else "completed" if i < attempted else "pending" for i in range(n)]


def uploaded_size(session):
    """Bytes in the completed chunks; only the last chunk may be smaller."""
    states = chunk_states(session)
    size, chunk = session["total_size"], session["chunk_size"]
    total = sum(chunk for s in states if s == "completed")
    if states and states[-1] == "completed":
        total -= chunk * len(states) - size
    return total


def make_session(rng, now, upload_id=None, created=None):
    """One session with listing fields and chunk progress."""
    size = int(min(_MAX_SIZE, max(_MIN_SIZE, rng.lognormvariate(math.log(150 * _MiB), 1.6))))
    if rng.random() < 0.03:  # a heavy tail of very large masters
        size = rng.randint(4 * _GiB, _MAX_SIZE)
    chunk = _pick_chunk_size(rng, size)
    total_chunks = -(-size // chunk)
    if created is None:
        created = now - timedelta(seconds=rng.uniform(60, 30 * 3600))
    lifetime = rng.choices([24, 8, 48, 12], weights=[85, 8, 4, 3])[0]
    expires = created + timedelta(hours=lifetime)
    if expires <= now:
        status = "expired" if rng.random() < 0.95 else "active"  # the API can lag behind the clock
    else:
        status = rng.choices(["active", "failed", "completed"], weights=[86, 8, 6])[0]
    if status == "completed":
        done, failed = total_chunks, 0
    else:
        frac = rng.betavariate(1.2, 1.6) if rng.random() > 0.15 else 0.0
        done = min(total_chunks - 1, int(frac * total_chunks))
        room = total_chunks - done
        failed = min(room, rng.randint(1, 3)) if (status == "failed" or rng.random() < 0.08) else 0
    end = min(now, expires)
    if done + failed == 0:
        updated = created
    elif rng.random() < 0.2:  # stalled: last activity long ago
        updated = created + (end - created) * rng.uniform(0.02, 0.3)
    else:
        updated = end - (end - created) * rng.uniform(0.0, 0.1) ** 2
    rec = {
        "upload_id": upload_id or "%024x" % rng.getrandbits(96),
        "status": status,
        "total_size": size,
        "chunk_size": chunk,
        "total_chunks": total_chunks,
        "created_at": rfc3339(created),
        "expires_at": rfc3339(expires),
        "chunks_completed": done,
        "chunks_failed": failed,
        "updated_at": rfc3339(max(created, updated)),
    }
    rec["uploaded_size"] = uploaded_size(rec)
    return rec


def generate_uploads(n, *, seed=0, now=None):
    """Generate ``n`` realistic upload sessions, deterministic for a seed.

    Distributions:

    - ``total_size``: log-normal around 150 MiB (sigma 1.6 in log space) plus a
      3 % tail uniform in 4-10 GiB, clipped to 1 MB .. 10 GiB;
    - ``chunk_size``: 5 MiB below 1 GiB, 10 MiB below 4 GiB, 25 MiB below
      8 GiB, else 50 MiB; 15 % pick any of 5/10/25/50/100 MiB;
      ``total_chunks = ceil(total_size / chunk_size)``;
    - ``created_at``: uniform over the 30 hours before ``now``;
      ``expires_at``: created + 24 h (85 %), 8 h, 48 h or 12 h;
    - ``status``: past expiry ``expired`` (5 % still ``active``); otherwise
      ``active`` 86 %, ``failed`` 8 %, ``completed`` 6 %;
    - progress: completed sessions have every chunk; others a Beta(1.2, 1.6)
      share of chunks (15 % none), 1-3 failed chunks for failed sessions and
      8 % of the rest; ``updated_at`` near the end of activity, 20 % stalled early.

    Parameters
    ----------
    n : int
        Number of sessions (>= 0).
    seed : int, default 0
        Seed of the random generator: the same seed and ``now`` give the same sessions.
    now : datetime, pandas.Timestamp, str or None
        The moment timestamps are anchored to (UTC); None for the current time.

    Returns
    -------
    list of dict
        Listing fields (``upload_id``, ``status``, ``total_size``, ``chunk_size``,
        ``total_chunks``, ``created_at``, ``expires_at``) plus progress fields
        (``chunks_completed``, ``chunks_failed``, ``uploaded_size``,
        ``updated_at``), newest first, as the simulator serves them.

    Examples
    --------
    >>> from tlanalytics.simulator import generate_uploads
    >>> sessions = generate_uploads(3, seed=1, now="2025-12-01T12:00:00Z")
    >>> len(sessions), sorted(sessions[0])[:3]
    (3, ['chunk_size', 'chunks_completed', 'chunks_failed'])
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InvalidArgumentError(f"The value for `n` must be a non-negative integer, but {n!r} was passed.")
    now = as_utc(now)
    rng = random.Random(seed)
    sessions = [make_session(rng, now) for _ in range(n)]
    sessions.sort(key=lambda s: (s["created_at"], s["upload_id"]), reverse=True)
    return sessions


def shift(sessions, delta):
    """Copies of ``sessions`` with every timestamp moved by ``delta`` (a timedelta)."""
    out = []
    for s in sessions:
        s = dict(s)
        for key in ("created_at", "expires_at", "updated_at"):
            if s.get(key):
                s[key] = rfc3339(parse_rfc3339(s[key]) + delta)
        out.append(s)
    return out


def sample_bytes():
    """The sample file's bytes: from the installed package, else from a source checkout's ``data/``."""
    try:
        return resources.files("tlanalytics.data").joinpath(SAMPLE_FILE).read_bytes()
    except ModuleNotFoundError:
        # Imported from a source tree (e.g. ``python -m pytest`` in a clone), where
        # data/ is not mapped to tlanalytics.data as it is in the wheel.
        return (Path(__file__).resolve().parent.parent / "data" / SAMPLE_FILE).read_bytes()


def load_sample(now=None):
    """The shipped sample (``data/sample_uploads.json.gz``) re-anchored to ``now``.

    The file records the moment it was generated; every timestamp is shifted
    by the time since, so the demo always looks alive.
    """
    doc = json.loads(gzip.decompress(sample_bytes()))
    return shift(doc["sessions"], as_utc(now) - parse_rfc3339(doc["generated_at"]))
