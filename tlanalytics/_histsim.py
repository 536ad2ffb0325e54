"""A simulated history: hourly snapshots of an account over days, for the demo.

Sessions get their sizes, chunk sizes and lifetimes from the same model as
the simulator (:func:`tlanalytics._generate.make_session`); this module adds a
clock: arrivals with a daily rhythm, upload progress, completions, failures,
expiries and sessions that leave the listing unseen.
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd

from ._generate import as_utc, make_session, parse_rfc3339
from .errors import InvalidArgumentError
from .schema import STATUSES
from .validate import check_int

__all__ = ["generate_history"]

_H = 3_600_000_000_000  # one hour in ns


def generate_history(days=30, *, seed=0, now=None, per_day=300, release_day=None):
    """A history frame of hourly snapshots of a simulated account, as :func:`load_history` returns.

    The clock runs ``days`` days up to ``now`` with one snapshot per hour.
    Sessions arrive as a Poisson process of ``per_day`` a day on average,
    busiest in the afternoon (UTC) and quietest at night; sizes, chunk sizes
    and lifetimes (mostly 24 h) follow :func:`~tlanalytics.generate_uploads`.
    Each session then:

    - completes (70 %) after uploading at a log-normal rate around 24 KiB/s (hours for a typical file),
      unless that takes past its expiry; a completed session stays listed as
      ``completed`` for up to 3 h in 80 % of cases, else leaves the listing
      at once;
    - fails (8 %) part way, listed as ``failed`` until it expires;
    - is abandoned (the rest) part way: listed ``active`` until expiry, then
      ``expired`` for up to 6 h; 5 % of them show ``active`` for an hour past
      expiry (the API lags the clock) and 10 % leave the listing before expiry
      (ended unseen).

    From ``release_day`` on (default: two thirds through), a bad release
    halves the completion share and triples failures, so trends show a break.

    Parameters
    ----------
    days : int, default 30
        Days of snapshots (>= 1).
    seed : int, default 0
        Seed: the same seed, days and ``now`` give the same history.
    now : datetime, pandas.Timestamp, str or None
        The last snapshot's moment (UTC, whole hours); None for the current hour.
    per_day : int, default 300
        Mean sessions created per day.
    release_day : int or None
        Day (0-based) from which the bad release applies; None for two thirds
        of ``days``; ``days`` or more for never.

    Returns
    -------
    pandas.DataFrame
        One row per (snapshot, session) with ``snapshot_at``, the listing
        columns and the progress columns; ``attrs["snapshots"]`` (every
        snapshot) and ``attrs["demo"] = True``.

    Examples
    --------
    >>> h = generate_history(days=2, seed=1, now="2026-01-03T00:00:00Z")
    >>> len(h.attrs["snapshots"]), h["snapshot_at"].is_monotonic_increasing
    (49, True)
    """
    check_int("days", days, 1)
    check_int("per_day", per_day, 1)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise InvalidArgumentError(f"The value for `seed` must be an integer, but {seed!r} was passed.")
    if release_day is None:
        release_day = (2 * days) // 3
    check_int("release_day", release_day, 0)
    end = pd.Timestamp(as_utc(now)).floor("h")
    start = end - pd.Timedelta(days=days)
    snaps = pd.date_range(start, end, freq="h").as_unit("ns").asi8  # ns, UTC
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    hours = np.arange(days * 24)
    hour_of_day = (start.hour + hours) % 24
    rate = per_day / 24 * (1 + 0.7 * np.sin(2 * np.pi * (hour_of_day - 9) / 24))
    counts = rng.poisson(rate)
    n = int(counts.sum())
    created = start.value + np.repeat(hours, counts) * _H + (rng.random(n) * _H).astype(np.int64)
    size, chunk, expires = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    for i in range(n):
        at = pd.Timestamp(int(created[i]), tz="UTC").floor("s").to_pydatetime()
        s = make_session(prng, at, created=at)
        size[i], chunk[i] = s["total_size"], s["chunk_size"]
        created[i] = pd.Timestamp(s["created_at"]).value
        expires[i] = pd.Timestamp(parse_rfc3339(s["expires_at"])).value
    chunks = -(-size // chunk)
    after = created >= start.value + release_day * 24 * _H
    roll = rng.random(n)
    p_done = np.where(after, 0.35, 0.70)
    p_fail = np.where(after, 0.24, 0.08)
    upload_rate = rng.lognormal(np.log(24 * 2**10), 0.9, n)  # bytes/s: hours for a typical file
    full = (size / upload_rate * 1e9).astype(np.int64) + 60 * 10**9
    done = (roll < p_done) & (created + full < expires)
    failed = ~done & (roll >= p_done) & (roll < p_done + p_fail)
    abandoned = ~done & ~failed
    stop = np.where(done, 1.0, rng.beta(1.2, 1.6, n))
    end_t = np.where(done, created + full, created + (full * stop).astype(np.int64))
    end_t = np.minimum(end_t, expires)
    lag = rng.random(n)
    unseen = abandoned & (lag < 0.10)
    unseen_at = created + ((expires - created) * rng.uniform(0.2, 0.9, n)).astype(np.int64)
    gone = np.select([done, failed, unseen], [end_t + np.where(lag < 0.8, (lag / 0.8 * 3 * _H).astype(np.int64), 0),
                                             expires, unseen_at],
                     expires + (rng.random(n) * 6 * _H).astype(np.int64))
    late = abandoned & ~unseen & (lag > 0.95)  # shown active an hour past expiry
    # Rows: every (session, snapshot) with created <= snapshot < gone.
    first_k = np.searchsorted(snaps, created, side="left")
    stop_k = np.searchsorted(snaps, gone, side="left")
    n_rows = np.maximum(stop_k - first_k, 0)
    sess = np.repeat(np.arange(n), n_rows)
    k = np.repeat(first_k, n_rows) + (np.arange(len(sess)) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows))
    t = snaps[k]
    status = np.full(len(sess), "active", dtype=object)
    ended = t >= end_t[sess]
    status[done[sess] & ended] = "completed"
    status[failed[sess] & ended] = "failed"
    past = abandoned[sess] & (t >= expires[sess]) & ~(late[sess] & (t < expires[sess] + _H))
    status[past] = "expired"
    frac = np.clip((t - created[sess]) / full[sess], 0, stop[sess])
    n_chunks = chunks[sess]
    completed = np.minimum((frac * n_chunks).astype(np.int64), n_chunks)
    completed = np.where(status == "completed", n_chunks, np.minimum(completed, n_chunks - 1))
    bad = np.where(failed[sess] & ended, np.minimum(1 + sess % 3, n_chunks - completed), 0)
    uploaded = np.minimum(completed * chunk[sess], size[sess])
    activity = np.minimum(t, np.maximum(created[sess], np.minimum(end_t[sess], t)))
    ids = np.array(["%024x" % prng.getrandbits(96) for _ in range(n)])
    utc = lambda v: pd.Series(v.view("datetime64[ns]")).dt.tz_localize("UTC")  # noqa: E731
    frame = pd.DataFrame({
        "snapshot_at": utc(t),
        "upload_id": pd.Categorical(ids[sess], categories=pd.Index(ids, dtype="string")),
        "status": pd.Categorical(status, categories=list(STATUSES)),
        "total_size": pd.array(size[sess], dtype="Int64"), "chunk_size": pd.array(chunk[sess], dtype="Int64"),
        "total_chunks": pd.array(n_chunks, dtype="Int64"),
        "created_at": utc(created[sess]), "expires_at": utc(expires[sess]),
        "uploaded_size": pd.array(uploaded, dtype="Int64"), "chunks_completed": pd.array(completed, dtype="Int64"),
        "chunks_failed": pd.array(bad, dtype="Int64"),
        "chunks_pending": pd.array(n_chunks - completed - bad, dtype="Int64"),
        "last_activity": utc(activity), "vanished": pd.array(np.zeros(len(sess), bool), dtype="boolean"),
    })
    frame = frame.sort_values(["snapshot_at", "created_at"], ascending=[True, False], kind="stable")
    frame = frame.reset_index(drop=True)
    frame.attrs.update(snapshots=list(pd.to_datetime(snaps, utc=True)), demo=True)
    return frame
