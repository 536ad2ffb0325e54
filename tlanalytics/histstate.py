"""The per-session reduction of a history (pure): what the outcome rules need, one row per session.

:func:`~tlanalytics.session_outcomes` and :func:`~tlanalytics.trends` never
need every row of a history: per session, its first and last sighting, how
often it was seen, the first sighting with each terminal status and the last
sighting before it, and the listing fields at its last sighting; per snapshot,
how many sessions it listed open and their bytes. That is a
:class:`HistoryState`. It is computed by one of three engines: from a history
frame (:func:`reduce_frame`, numpy, here), or straight from the store's
Parquet files (:mod:`tlanalytics.histengine`: DuckDB SQL, or pyarrow batches
folded with :func:`merge_states`). The outcome rules are applied once, to the
state, in :mod:`tlanalytics.outcomes`; tests prove every engine gives the
same state.

Times are int64 nanoseconds since the epoch (UTC); :data:`NAT` is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import InvalidArgumentError
from .schema import STATUSES, TERMINAL_STATUSES

__all__ = ["HistoryState", "STATE_COLUMNS", "NAT", "reduce_frame", "merge_states", "empty_state", "snapshot_ns",
           "to_ns", "open_flags", "open_by_snapshot", "status_codes",
           "require_frame"]

NAT = np.iinfo(np.int64).min
_NEVER = np.iinfo(np.int64).max  # "no such sighting" inside min-reductions
#: Columns of :attr:`HistoryState.sessions`: times in ns (NAT missing), sizes as int64 (-1 missing).
STATE_COLUMNS = ("upload_id", "first_seen", "last_seen", "sightings",
                 "first_completed", "first_failed", "first_expired",
                 "prev_completed", "prev_failed", "prev_expired",
                 "last_status", "expires_at", "created_at", "total_size", "uploaded_at", "uploaded_size")
_TERMS = ("completed", "failed", "expired")


@dataclass
class HistoryState:
    """A history reduced per session (see the module docstring).

    ``sessions`` has :data:`STATE_COLUMNS` (``prev_<s>``: the last sighting
    before ``first_<s>``; ``uploaded_at``: the last sighting with a known
    ``uploaded_size``); ``snapshots`` every snapshot moment (sorted, unique),
    ``open_count``/``open_bytes`` per snapshot the sessions it listed open
    and the sum of their ``total_size`` (missing sizes as 0).
    """

    sessions: pd.DataFrame
    snapshots: np.ndarray
    open_count: np.ndarray = field(default=None)
    open_bytes: np.ndarray = field(default=None)


def require_frame(value, name, needed, source, kind="a pandas DataFrame"):
    """Raise InvalidArgumentError unless ``value`` is a DataFrame with the ``needed`` columns (from ``source``)."""
    if not isinstance(value, pd.DataFrame):
        raise InvalidArgumentError(f"The value for `{name}` must be {kind}, but {type(value).__name__} was passed.")
    missing = [c for c in needed if c not in value.columns]
    if missing:
        raise InvalidArgumentError(f"The columns {missing} are missing; pass {source}.")


def status_categorical(values):
    """Statuses as a Categorical with the categories every engine gives: the API's, then others seen, sorted."""
    cat = pd.Categorical(values) if not isinstance(values, pd.Categorical) else values
    cat = cat.remove_unused_categories()
    extra = sorted(str(c) for c in cat.categories if c not in STATUSES)
    return cat.set_categories(list(STATUSES) + extra)


def arrow_status(col):
    """:func:`status_categorical` of an Arrow string column (dictionary-encoded in C++, no Python strings)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    enc = (col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col).dictionary_encode()
    codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False)
    return status_categorical(pd.Categorical.from_codes(codes, categories=pd.Index(enc.dictionary.to_pylist())))


def to_ns(series):
    """Nanoseconds since the epoch of a UTC datetime column, NaT as :data:`NAT`."""
    return pd.to_datetime(series, utc=True).astype("datetime64[ns, UTC]").array.asi8


def snapshot_ns(history):
    """Every snapshot moment of a frame (ns, sorted, unique): its rows' and ``attrs["snapshots"]`` (empty listings)."""
    seen = to_ns(history["snapshot_at"])
    seen = seen[np.r_[True, seen[1:] != seen[:-1]]] if len(seen) else seen  # runs first: rows come by snapshot
    extra = history.attrs.get("snapshots")
    if extra is not None and len(extra):
        seen = np.concatenate([seen, to_ns(pd.Series(pd.DatetimeIndex(pd.to_datetime(extra, utc=True))))])
    return np.unique(seen[seen != NAT])


def open_flags(status_codes, names, expires_ns, at_ns):
    """The one definition of *open* on arrays: no terminal status, and not past ``expires_at`` at ``at``."""
    done = np.isin(status_codes, [names[s] for s in TERMINAL_STATUSES if s in names])
    return ~done & ~((expires_ns != NAT) & (expires_ns <= at_ns))


def status_codes(status):
    """``(codes, {name: code})`` of a status column (categorical codes; -1 for missing)."""
    cat = status if isinstance(status.dtype, pd.CategoricalDtype) else status.astype("category")
    return np.asarray(cat.cat.codes), {name: i for i, name in enumerate(cat.cat.categories)}


def empty_state(snapshots=()):
    """A state without sessions (its snapshots listed nothing)."""
    snaps = np.unique(np.asarray(snapshots, dtype=np.int64))
    cols = {c: np.array([], dtype=np.int64) for c in STATE_COLUMNS}
    cols["upload_id"] = pd.array([], dtype="string")
    cols["last_status"] = status_categorical(pd.Categorical([]))
    return HistoryState(pd.DataFrame(cols), snaps, np.zeros(len(snaps), np.int64), np.zeros(len(snaps), np.int64))


def open_by_snapshot(history):
    """``(snapshots, open_count, open_bytes)`` of a history frame: the open part of :func:`reduce_frame`."""
    snaps = snapshot_ns(history)
    plain = history.copy(deep=False)
    plain.attrs = {}
    codes, names = status_codes(plain["status"])
    return (snaps,) + _open_by_snapshot(plain, snaps, to_ns(plain["snapshot_at"]), codes, names,
                                        to_ns(plain["expires_at"]))


def _open_by_snapshot(plain, snaps, snap_ns, codes, names, expires):
    """Per snapshot, the sessions listed open and the sum of their sizes (missing as 0)."""
    flags = open_flags(codes, names, expires, snap_ns) & (snap_ns != NAT)
    kidx = np.searchsorted(snaps, snap_ns[flags])
    sizes = plain["total_size"].to_numpy("float64", na_value=0.0)[flags]  # sums stay exact below 2**53 bytes
    open_bytes = np.rint(np.bincount(kidx, weights=sizes, minlength=len(snaps))).astype(np.int64)
    return np.bincount(kidx, minlength=len(snaps)).astype(np.int64), open_bytes


def reduce_frame(history):
    """The :class:`HistoryState` of a history frame (rows without ``upload_id`` or ``snapshot_at`` are ignored)."""
    snaps = snapshot_ns(history)
    plain = history.copy(deep=False)
    plain.attrs = {}  # pandas deep-copies attrs on every column access: costly with a year of snapshot moments
    snap_ns = to_ns(plain["snapshot_at"])
    codes_all, names = status_codes(plain["status"])
    expires_all = to_ns(plain["expires_at"])
    valid = snap_ns != NAT
    open_count, open_bytes = _open_by_snapshot(plain, snaps, snap_ns, codes_all, names, expires_all)
    ids = plain["upload_id"]
    if isinstance(ids.dtype, pd.CategoricalDtype):
        codes, uniques = np.asarray(ids.cat.codes, dtype=np.int64), ids.cat.categories
    else:
        codes, uniques = pd.factorize(ids)
    keep = (codes >= 0) & valid
    n, n_ids = len(codes), len(uniques)
    if not n:
        return empty_state(snaps)
    small = np.int32 if n < np.iinfo(np.int32).max else np.int64  # halves the working memory of a year of rows
    codes = np.asarray(codes, dtype=small)
    rows = np.arange(n, dtype=small)
    # Row order stands for time order: rank the rows when the frame is not in snapshot order.
    order = np.argsort(snap_ns, kind="stable") if not (np.diff(snap_ns) >= 0).all() else None
    if order is not None:
        rank = np.empty(n, dtype=small)
        rank[order] = rows
        rows = rank
    by_rank = order if order is not None else np.arange(n)
    if not keep.all():
        codes, rows, status = codes[keep], rows[keep], codes_all[keep]
    else:
        status = codes_all
    first = np.full(n_ids, n, dtype=small)
    np.minimum.at(first, codes, rows)
    last = np.full(n_ids, -1, dtype=small)
    np.maximum.at(last, codes, rows)
    seen = last >= 0
    count = np.bincount(codes, minlength=n_ids).astype(np.int64)
    at = lambda ranks, ok: np.where(ok, snap_ns[by_rank[np.clip(ranks, 0, n - 1)]], NAT)  # noqa: E731
    cols = {"first_seen": at(first, seen), "last_seen": at(last, seen), "sightings": count}
    for s in _TERMS:
        first_s = np.full(n_ids, n, dtype=small)
        prev_s = np.full(n_ids, -1, dtype=small)
        if s in names:
            hit = status == names[s]
            np.minimum.at(first_s, codes[hit], rows[hit])
            before = rows < first_s[codes]
            before &= first_s[codes] < n
            np.maximum.at(prev_s, codes[before], rows[before])
            del hit, before
        cols[f"first_{s}"] = at(first_s, first_s < n)
        cols[f"prev_{s}"] = at(prev_s, prev_s >= 0)
    last_pos = by_rank[np.clip(last, 0, n - 1)]  # row position of each session's last sighting
    st = plain["status"].iloc[last_pos]
    cols["last_status"] = status_categorical(st.array if isinstance(st.dtype, pd.CategoricalDtype)
                                             else pd.Categorical(st.astype(object)))
    cols["expires_at"] = np.where(seen, expires_all[last_pos], NAT)
    cols["created_at"] = to_ns(plain["created_at"].iloc[last_pos])
    cols["total_size"] = plain["total_size"].iloc[last_pos].to_numpy("int64", na_value=-1)
    if "uploaded_size" in plain.columns:
        known = plain["uploaded_size"].notna().to_numpy()
        known = known[keep] if not keep.all() else known
        last_known = np.full(n_ids, -1, dtype=small)
        np.maximum.at(last_known, codes[known], rows[known])
        pos = by_rank[np.clip(last_known, 0, n - 1)]
        cols["uploaded_at"] = at(last_known, last_known >= 0)
        cols["uploaded_size"] = np.where(last_known >= 0, plain["uploaded_size"].iloc[pos]
                                         .to_numpy("int64", na_value=-1), -1)
    else:
        cols["uploaded_at"] = np.full(n_ids, NAT, np.int64)
        cols["uploaded_size"] = np.full(n_ids, -1, np.int64)
    sessions = pd.DataFrame({"upload_id": pd.Index(uniques).astype("string").array,
                             **{c: cols[c] for c in STATE_COLUMNS[1:]}})
    sessions = sessions[seen].reset_index(drop=True)
    return HistoryState(sessions, snaps, open_count, open_bytes)


def merge_states(states):
    """One :class:`HistoryState` of states of consecutive, non-overlapping spans of time, in time order."""
    states = list(states)
    snaps = np.concatenate([s.snapshots for s in states]) if states else np.array([], np.int64)
    if not states:
        return empty_state()
    all_snaps = np.unique(snaps)
    open_count = np.zeros(len(all_snaps), np.int64)
    open_bytes = np.zeros(len(all_snaps), np.int64)
    for s in states:
        k = np.searchsorted(all_snaps, s.snapshots)
        np.add.at(open_count, k, s.open_count)
        np.add.at(open_bytes, k, s.open_bytes)
    parts = [s.sessions for s in states if len(s.sessions)]
    if not parts:
        return HistoryState(empty_state().sessions, all_snaps, open_count, open_bytes)
    import pyarrow as pa

    extra = sorted({str(c) for p in parts for c in p["last_status"].cat.categories} - set(STATUSES))
    categories = list(STATUSES) + extra
    part = np.concatenate([np.full(len(p), i, np.int64) for i, p in enumerate(parts)])
    # Ids are hashed once, in C++ (Arrow's dictionary encoding); the other columns are plain numpy arrays.
    # (cast: pandas 2's Arrow-backed strings hand over large_string whatever type is asked for)
    ids = pa.chunked_array([pa.array(p["upload_id"].array).cast(pa.string()) for p in parts]).combine_chunks()
    encoded = ids.dictionary_encode()
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    order = np.lexsort((part, codes))  # by session, then in time
    codes = codes[order]
    starts = np.nonzero(np.r_[True, codes[1:] != codes[:-1]])[0]
    ends = np.r_[starts[1:], len(codes)] - 1

    def col(name):
        if name == "last_status":
            return np.concatenate([np.asarray(p[name].cat.set_categories(categories).cat.codes) for p in parts])[order]
        return np.concatenate([p[name].to_numpy(np.int64) for p in parts])[order]

    first_seen, last_seen = col("first_seen"), col("last_seen")
    out = {"upload_id": pd.arrays.ArrowStringArray(encoded.dictionary.take(pa.array(codes[starts]))),
           "first_seen": np.minimum.reduceat(first_seen, starts), "last_seen": np.maximum.reduceat(last_seen, starts),
           "sightings": np.add.reduceat(col("sightings"), starts)}
    same_as_prev = np.r_[False, codes[1:] == codes[:-1]]
    last_before = np.where(same_as_prev, np.r_[NAT, last_seen[:-1]], NAT)  # last sighting of the part before
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(codes)]))
    for s in _TERMS:
        f = col(f"first_{s}")
        fmin = np.minimum.reduceat(np.where(f == NAT, _NEVER, f), starts)
        out[f"first_{s}"] = np.where(fmin == _NEVER, NAT, fmin)
        # The part holding the first such sighting: its own "last before", or the previous part's last sighting.
        is_first = (f != NAT) & (f == out[f"first_{s}"][group])
        prev = np.maximum(col(f"prev_{s}"), last_before)
        chosen = np.full(len(starts), NAT, np.int64)
        chosen[group[is_first]] = prev[is_first]
        out[f"prev_{s}"] = chosen
    for name in ("expires_at", "created_at", "total_size"):
        out[name] = col(name)[ends]
    out["last_status"] = status_categorical(pd.Categorical.from_codes(col("last_status")[ends], categories=categories))
    up_at = col("uploaded_at")
    up_max = np.maximum.reduceat(up_at, starts)
    hit = (up_at != NAT) & (up_at == up_max[group])
    uploaded = np.full(len(starts), -1, np.int64)
    uploaded[group[hit]] = col("uploaded_size")[hit]
    out["uploaded_at"], out["uploaded_size"] = up_max, uploaded
    return HistoryState(pd.DataFrame({c: out[c] for c in STATE_COLUMNS}), all_snaps, open_count, open_bytes)


def reduce_sorted(ids, snap, status, names, created, expires, total, uploaded):
    """The :class:`HistoryState` of rows sorted by (``upload_id``, ``snapshot_at``): a compacted day file.

    Each session is a run of rows, so every per-session figure is a reduction
    over contiguous runs (``ufunc.reduceat``), no hashing. ``ids`` is an Arrow
    string array; ``snap``, ``created``, ``expires`` int64 ns (:data:`NAT`
    missing); ``status`` codes into ``names`` (-1 missing); ``total`` and
    ``uploaded`` int64 (-1 missing). Rows without an id are left out of the
    sessions but counted in the open sessions per snapshot, as by
    :func:`reduce_frame`.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    lookup = {name: i for i, name in enumerate(names)}
    valid = snap != NAT
    snaps = np.unique(snap[valid])
    flags = open_flags(status, lookup, expires, snap) & valid
    k = np.searchsorted(snaps, snap[flags])
    open_count = np.bincount(k, minlength=len(snaps)).astype(np.int64)
    open_bytes = np.rint(np.bincount(k, weights=np.maximum(total[flags], 0).astype(np.float64),
                                     minlength=len(snaps))).astype(np.int64)
    keep = valid & np.asarray(ids.is_valid().to_numpy(zero_copy_only=False))
    if not keep.all():
        idx = np.nonzero(keep)[0]
        ids = ids.take(pa.array(idx))
        snap, status, created, expires, total, uploaded = (a[idx] for a in (snap, status, created, expires, total,
                                                                              uploaded))
    n = len(snap)
    if not n:
        return HistoryState(empty_state().sessions, snaps, open_count, open_bytes)
    change = pc.not_equal(ids.slice(1), ids.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    starts = np.nonzero(np.r_[True, change])[0]
    ends = np.r_[starts[1:], n] - 1
    pos = np.arange(n)
    cols = {"first_seen": snap[starts], "last_seen": snap[ends], "sightings": np.diff(np.r_[starts, n]).astype(np.int64)}
    for s in _TERMS:
        hit = status == lookup[s] if s in lookup else np.zeros(n, bool)
        first = np.minimum.reduceat(np.where(hit, pos, n), starts)
        found = first < n
        cols[f"first_{s}"] = np.where(found, snap[np.minimum(first, n - 1)], NAT)
        before = found & (first > starts)  # rows are in time order within a run: the one before is the previous sighting
        cols[f"prev_{s}"] = np.where(before, snap[np.maximum(first - 1, 0)], NAT)
    cat = pd.Categorical.from_codes(status[ends], categories=pd.Index(list(names)))
    cols["last_status"] = status_categorical(cat)
    cols["expires_at"], cols["created_at"], cols["total_size"] = expires[ends], created[ends], total[ends]
    known = np.maximum.reduceat(np.where(uploaded >= 0, pos, -1), starts)
    cols["uploaded_at"] = np.where(known >= 0, snap[np.maximum(known, 0)], NAT)
    cols["uploaded_size"] = np.where(known >= 0, uploaded[np.maximum(known, 0)], -1)
    sessions = pd.DataFrame({"upload_id": pd.arrays.ArrowStringArray(ids.take(pa.array(starts)).cast(pa.string())),
                             **{c: cols[c] for c in STATE_COLUMNS[1:]}})
    return HistoryState(sessions, snaps, open_count, open_bytes)
