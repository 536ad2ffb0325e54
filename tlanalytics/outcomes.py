"""What happened to every session across snapshots, and the trends (pure).

Input is a history frame: one row per (snapshot, session) with
``snapshot_at`` and the listing columns, from
:func:`~tlanalytics.load_history` or :func:`~tlanalytics.generate_history`.
Nothing here does I/O. Every figure the trend table, the CLI, the report
section and the plots show is defined once, here.

Snapshots only see sessions at the moments they were taken, so an end is
known between two snapshots: ``ended_after`` (the last snapshot that saw the
session still going) and ``ended_by`` (the first that saw it ended, or did not
see it at all). ``ended_at`` is the moment used for counting: ``ended_by``,
or ``expires_at`` for expiries (a known moment).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .completion import completion_durations, kaplan_meier, quantile_time
from .errors import InvalidArgumentError
from .schema import TERMINAL_STATUSES

__all__ = ["OUTCOMES", "ANALYSIS_COLUMNS", "open_rows", "session_outcomes", "trends"]

#: Outcomes of a session, in display order.
OUTCOMES = ("completed", "expired", "failed", "ended unseen", "open")
#: The stored columns the analyses read: ``load_history(columns=ANALYSIS_COLUMNS)`` needs half the memory.
ANALYSIS_COLUMNS = ("upload_id", "status", "total_size", "created_at", "expires_at", "uploaded_size")
_NEEDED = ("snapshot_at", "upload_id", "status", "total_size", "created_at", "expires_at")
_NAT = np.iinfo(np.int64).min


def _check(history, needed=_NEEDED):
    """Raise InvalidArgumentError unless ``history`` is a history frame."""
    if not isinstance(history, pd.DataFrame):
        raise InvalidArgumentError(f"The value for `history` must be a pandas DataFrame, but "
                                   f"{type(history).__name__} was passed.")
    missing = [c for c in needed if c not in history.columns]
    if missing:
        raise InvalidArgumentError(f"The columns {missing} are missing; pass a history frame from "
                                   f"`load_history(...)` or `generate_history(...)`.")


def _ns(series):
    """Nanoseconds since the epoch of a UTC datetime column, NaT as ``_NAT``."""
    return pd.to_datetime(series, utc=True).astype("datetime64[ns, UTC]").array.asi8


def _snapshots(history):
    """Every snapshot moment (ns, sorted, unique): the rows' and ``attrs["snapshots"]`` (empty listings)."""
    seen = _ns(history["snapshot_at"])
    seen = seen[np.r_[True, seen[1:] != seen[:-1]]] if len(seen) else seen  # runs first: rows come by snapshot
    extra = history.attrs.get("snapshots")
    if extra is not None and len(extra):
        seen = np.concatenate([seen, _ns(pd.Series(pd.DatetimeIndex(pd.to_datetime(extra, utc=True))))])
    return np.unique(seen[seen != _NAT])


def _status_codes(status):
    """``(codes, {name: code})`` of the status column (categorical codes; -1 for missing)."""
    cat = status if isinstance(status.dtype, pd.CategoricalDtype) else status.astype("category")
    return np.asarray(cat.cat.codes), {name: i for i, name in enumerate(cat.cat.categories)}


def open_rows(history):
    """Which rows show an open session: status none of completed, failed, expired, and not past expiry.

    The one definition of *open* in a history (as in the report: unknown or
    missing statuses count as open, and a session past its ``expires_at`` is
    over whatever its status says).

    Parameters
    ----------
    history : pandas.DataFrame
        A history frame.

    Returns
    -------
    numpy.ndarray of bool
        One flag per row.

    Examples
    --------
    >>> open_rows(history).sum()  # doctest: +SKIP
    """
    _check(history, ("snapshot_at", "status", "expires_at"))
    codes, names = _status_codes(history["status"])
    done = np.isin(codes, [names[s] for s in TERMINAL_STATUSES if s in names])
    expires = _ns(history["expires_at"])
    return ~done & ~((expires != _NAT) & (expires <= _ns(history["snapshot_at"])))


def _first(codes, rows, mask, n_ids, n):
    """Per session, the first row position where ``mask`` holds (``n`` when never)."""
    out = np.full(n_ids, n, dtype=rows.dtype)
    np.minimum.at(out, codes[mask], rows[mask])
    return out


def session_outcomes(history):
    """One row per session: when it was seen, how it ended, and what it cost.

    Rules, in order (the first that applies wins); snapshots s1 < s2 < s3:

    - **open**: the last snapshot lists it, open (see :func:`open_rows`),
      whatever earlier snapshots said.
    - **completed**: some snapshot listed it with status ``completed``. Seen
      active at s1 and completed at s2: ``ended_after`` s1, ``ended_by`` and
      ``ended_at`` s2.
    - **failed**: some snapshot listed it ``failed`` (never completed); bounds
      as for completed.
    - **expired**: some snapshot listed it ``expired``; or its last sighting
      was already past ``expires_at`` (the API can lag the clock); or it left
      the listing and the next snapshot was at or after ``expires_at`` (seen
      active at s1, expiring between s1 and s2, gone at s2). ``ended_at`` is
      ``expires_at`` (capped at the first sighting as expired), or the
      sighting bounds when ``expires_at`` is unknown.
    - **ended unseen**: it left the listing while active and before expiry,
      never seen completed (seen active at s1, absent at s2 while
      ``expires_at`` is after s2): ``ended_after`` s1, ``ended_by`` and
      ``ended_at`` s2. It may have completed between two snapshots; nothing says.

    ``bytes_wasted`` are the bytes uploaded (``uploaded_size`` at the last
    sighting that read progress) of sessions that ended without being seen
    completed (expired, failed, ended unseen); 0 for completed and open
    sessions, missing when progress was never read.

    Parameters
    ----------
    history : pandas.DataFrame
        A history frame (``snapshot_at``, ``upload_id``, ``status``,
        ``total_size``, ``created_at``, ``expires_at``; ``uploaded_size``
        optional). ``attrs["snapshots"]`` adds snapshots that listed nothing.
        Rows without an ``upload_id`` are ignored.

    Returns
    -------
    pandas.DataFrame
        ``upload_id``, ``first_seen``, ``last_seen``, ``sightings``,
        ``last_status``, ``outcome`` (categorical, :data:`OUTCOMES`),
        ``created_at``, ``expires_at``, ``ended_after``, ``ended_by``,
        ``ended_at``, ``time_to_outcome`` (``ended_at - created_at``),
        ``total_size``, ``uploaded_size``, ``bytes_wasted``; listing fields
        from the last sighting. Sorted by ``first_seen``, then in listing order.
        ``attrs["snapshots"]``: every snapshot moment.

    Raises
    ------
    tlanalytics.errors.InvalidArgumentError
        ``history`` is not a history frame.

    Examples
    --------
    >>> from tlanalytics import generate_history
    >>> out = session_outcomes(generate_history(days=3, seed=1))
    >>> sorted(set(out["outcome"])) == sorted(OUTCOMES)
    True
    """
    _check(history)
    if len(history):
        return _outcomes(history)
    dummy = pd.DataFrame({c: history[c].reindex([0]) for c in history.columns})
    dummy["snapshot_at"] = pd.Timestamp(0, tz="UTC")
    dummy["upload_id"] = pd.array(["-"], dtype="string")
    out = _outcomes(dummy).iloc[:0].copy()
    out.attrs["snapshots"] = list(pd.to_datetime(_snapshots(history), utc=True))
    return out


def _plain(history):
    """``history`` without attrs: pandas deep-copies attrs on every column access, costly for a year of snapshots."""
    plain = history.copy(deep=False)
    plain.attrs = {}
    return plain


def _outcomes(history):
    """:func:`session_outcomes` of a history with rows."""
    snaps = _snapshots(history)
    history = _plain(history)
    snap_ns = _ns(history["snapshot_at"])
    ids = history["upload_id"]
    if isinstance(ids.dtype, pd.CategoricalDtype):
        codes, uniques = np.asarray(ids.cat.codes, dtype=np.int64), ids.cat.categories
    else:
        codes, uniques = pd.factorize(ids)
    keep = (codes >= 0) & (snap_ns != _NAT)
    n, n_ids = len(codes), len(uniques)
    small = np.int32 if n < np.iinfo(np.int32).max else np.int64  # halves the working memory of a year of rows
    codes = np.asarray(codes, dtype=small)
    rows = np.arange(n, dtype=small)
    # Row order stands for time order: sort when the frame is not in snapshot order.
    order = np.argsort(snap_ns, kind="stable") if not (np.diff(snap_ns) >= 0).all() else None
    if order is not None:
        rank = np.empty(n, dtype=small)
        rank[order] = rows
        rows = rank  # a row's rank in time
    if not keep.all():
        codes, rows = codes[keep], rows[keep]
    rows_k = rows
    status, names = _status_codes(history["status"])
    status = status[keep] if not keep.all() else status
    by_rank = order if order is not None else rows  # row position of a rank
    first = np.full(n_ids, n, dtype=small)
    np.minimum.at(first, codes, rows_k)
    last = np.full(n_ids, -1, dtype=small)
    np.maximum.at(last, codes, rows_k)
    seen = last >= 0
    count = np.bincount(codes, minlength=n_ids)
    firsts = {s: _first(codes, rows_k, status == names[s], n_ids, n) if s in names else np.full(n_ids, n)
              for s in TERMINAL_STATUSES}
    term = np.where(firsts["completed"] < n, firsts["completed"],
                    np.where(firsts["failed"] < n, firsts["failed"], firsts["expired"]))
    prev = np.full(n_ids, -1, dtype=small)
    before = rows_k < term[codes]
    np.maximum.at(prev, codes[before], rows_k[before])
    del before

    at = lambda values, ranks: values[by_rank[np.clip(ranks, 0, max(n - 1, 0))]]  # noqa: E731
    # Gather the few rows needed (one per session) before converting anything.
    rows_of = lambda name, ranks: history[name].iloc[by_rank[np.clip(ranks, 0, max(n - 1, 0))]]  # noqa: E731
    last_pos = np.where(seen, last, 0)
    last_rows = pd.DataFrame({c: rows_of(c, last_pos).array for c in ("snapshot_at", "status", "expires_at")})
    last_seen = _ns(last_rows["snapshot_at"])
    last_k = np.searchsorted(snaps, last_seen)
    s_last = snaps[-1] if len(snaps) else _NAT
    next_ns = np.where(last_k + 1 < len(snaps), snaps[np.minimum(last_k + 1, max(len(snaps) - 1, 0))], _NAT)
    expires = _ns(last_rows["expires_at"])
    created = _ns(rows_of("created_at", last_pos))
    has_exp = expires != _NAT

    c_seen, f_seen, e_seen = (firsts[s] < n for s in ("completed", "failed", "expired"))
    open_last = (last_seen == s_last) & open_rows(last_rows)
    outcome = np.select(
        [open_last, c_seen, f_seen, e_seen, has_exp & (expires <= last_seen),
         has_exp & (next_ns != _NAT) & (expires <= next_ns)],
        ["open", "completed", "failed", "expired", "expired", "expired"], "ended unseen")
    by_status = term < n
    term_ns = at(snap_ns, np.where(by_status, term, 0))
    prev_ns = np.where(by_status & (prev >= 0), at(snap_ns, np.maximum(prev, 0)), _NAT)
    ended_after = np.where(by_status, prev_ns, last_seen)
    ended_by = np.where(by_status, term_ns, next_ns)
    expired = outcome == "expired"
    clock = expired & has_exp
    exp_end = np.where(by_status & (term_ns != _NAT), np.minimum(expires, term_ns), expires)
    ended_after = np.where(clock, exp_end, ended_after)
    ended_by = np.where(clock, exp_end, ended_by)
    is_open = outcome == "open"
    ended_after = np.where(is_open, _NAT, ended_after)
    ended_by = np.where(is_open, _NAT, ended_by)

    if "uploaded_size" in history.columns:
        known = history["uploaded_size"].notna().to_numpy()
        known = known[keep] if not keep.all() else known
        last_known = np.full(n_ids, -1, dtype=small)
        np.maximum.at(last_known, codes[known], rows_k[known])
        del known
        uploaded = np.where(last_known >= 0, rows_of("uploaded_size", np.maximum(last_known, 0))
                            .to_numpy("int64", na_value=-1), -1)
    else:
        uploaded = np.full(n_ids, -1, dtype=np.int64)
    wasted_kind = np.isin(outcome, ["expired", "failed", "ended unseen"])
    wasted = np.where(wasted_kind, uploaded, 0)

    utc = lambda v: pd.Series(np.asarray(v, dtype=np.int64).view("datetime64[ns]")).dt.tz_localize("UTC")  # noqa: E731
    ints = lambda v: pd.arrays.IntegerArray(np.where(v >= 0, v, 0).astype(np.int64), v < 0)  # noqa: E731
    last_status = last_rows["status"].astype("category")
    total = rows_of("total_size", last_pos).to_numpy("int64", na_value=-1)
    ended = ended_by
    out = pd.DataFrame({
        "upload_id": pd.Index(uniques).astype("string").array,
        "first_seen": utc(at(snap_ns, np.where(seen, first, 0))), "last_seen": utc(last_seen),
        "sightings": count.astype(np.int64), "last_status": last_status,
        "outcome": pd.Categorical(outcome, categories=list(OUTCOMES)),
        "created_at": utc(created), "expires_at": utc(expires),
        "ended_after": utc(ended_after), "ended_by": utc(ended_by), "ended_at": utc(ended),
    })
    out["time_to_outcome"] = out["ended_at"] - out["created_at"]
    out["total_size"], out["uploaded_size"], out["bytes_wasted"] = ints(total), ints(uploaded), ints(wasted)
    # By first sighting; within one snapshot as it listed them (snapshot files are sorted by creation).
    out = out.iloc[np.nonzero(seen)[0][np.argsort(first[seen], kind="stable")]].reset_index(drop=True)
    out.attrs["snapshots"] = list(pd.to_datetime(snaps, utc=True))
    return out


def _periods(values, freq):
    """Period start (UTC Timestamps) of each moment for ``freq``."""
    naive = pd.DatetimeIndex(pd.to_datetime(values, utc=True)).tz_localize(None)
    return pd.PeriodIndex(naive, freq=freq) if len(naive) else pd.PeriodIndex([], freq=freq)


def trends(history, freq="D", *, outcomes=None):
    """Per period: sessions created and ended by outcome, open sessions, bytes and times to complete.

    Parameters
    ----------
    history : pandas.DataFrame
        A history frame.
    freq : str, default "D"
        Period length, any pandas period frequency ("h", "D", "W", "M").
    outcomes : pandas.DataFrame, optional
        ``session_outcomes(history)`` when already computed (saves the work).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``period`` (start, UTC), every period from the earliest
        creation or end counted (sessions may predate the first snapshot) to
        the last snapshot's (or a later ``created_at``): ``created`` (sessions whose ``created_at``
        falls in it), ``completed``, ``expired``, ``failed``, ``ended_unseen``
        (sessions whose ``ended_at`` falls in it, see
        :func:`session_outcomes`), ``open_at_end`` and ``bytes_open_at_end``
        (open sessions, :func:`open_rows`, and their ``total_size`` in the
        period's last snapshot; missing when the period has no snapshot),
        ``bytes_wasted`` (of the sessions that ended in it) and
        ``wasted_unknown`` (of those, how many never had progress read),
        ``completion_rate`` (completed / all ended in the period),
        ``median_time_to_complete`` and ``p90_time_to_complete`` (Kaplan-Meier,
        :func:`~tlanalytics.completion_curve`, over the sessions created in the period;
        NaT until half, or 90 %, of them are known to have completed).

    Raises
    ------
    tlanalytics.errors.InvalidArgumentError
        Not a history frame, or an unknown ``freq``.

    Examples
    --------
    >>> from tlanalytics import generate_history
    >>> table = trends(generate_history(days=3, seed=1, now="2026-01-04"))
    >>> len(table), int(table["created"].sum()) > 0
    (4, True)
    """
    _check(history)
    try:
        pd.Period("2026-01-01", freq=freq)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidArgumentError(f"The value for `freq` must be a pandas period frequency such as 'h', 'D', "
                                   f"'W' or 'M', but {freq!r} was passed.") from exc
    out = session_outcomes(history) if outcomes is None else outcomes
    durations, events = completion_durations(out)
    snaps = _snapshots(history)
    history, out = _plain(history), _plain(out)
    if not len(snaps):
        cols = ["created", "completed", "expired", "failed", "ended_unseen", "open_at_end", "bytes_open_at_end",
                "bytes_wasted", "wasted_unknown", "completion_rate", "median_time_to_complete", "p90_time_to_complete"]
        return pd.DataFrame({c: [] for c in cols}, index=pd.DatetimeIndex([], tz="UTC", name="period"))
    snap_periods = _periods(snaps, freq)
    # From the earliest moment counted (a creation or an end can precede the first snapshot) to the last snapshot.
    moments = pd.concat([out["created_at"], out["ended_at"]]).dropna()
    first, last = snap_periods[0], snap_periods[-1]
    if len(moments):  # a clock-skewed created_at can even follow the last snapshot: counted, not dropped
        first, last = min(first, _periods([moments.min()], freq)[0]), max(last, _periods([moments.max()], freq)[0])
    index = pd.period_range(first, last, freq=freq)
    table = pd.DataFrame(index=index)

    def count(moments, mask=None):
        p = _periods(moments if mask is None else moments[mask], freq)
        return pd.Series(1, index=p).groupby(level=0).sum().reindex(index, fill_value=0).astype(np.int64)

    created = out["created_at"].dropna()
    table["created"] = count(created)
    kind = out["outcome"].astype(object)
    ended = out["ended_at"]
    for name, label in (("completed", "completed"), ("expired", "expired"), ("failed", "failed"),
                        ("ended_unseen", "ended unseen")):
        m = (kind == label) & ended.notna()
        table[name] = count(ended[m])
    open_flags = open_rows(history)
    kidx = np.searchsorted(snaps, _ns(history["snapshot_at"]))
    sizes = history["total_size"].to_numpy("float64", na_value=0.0)
    n_open = np.bincount(kidx[open_flags], minlength=len(snaps))
    b_open = np.bincount(kidx[open_flags], weights=sizes[open_flags], minlength=len(snaps))
    last_of = pd.Series(np.arange(len(snaps)), index=snap_periods).groupby(level=0).max()
    table["open_at_end"] = pd.array(pd.Series(n_open[last_of.to_numpy()], index=last_of.index)
                                    .reindex(index), dtype="Int64")
    table["bytes_open_at_end"] = pd.array(pd.Series(np.rint(b_open[last_of.to_numpy()]), index=last_of.index)
                                          .reindex(index), dtype="Int64")
    m = ended.notna() & kind.isin(["expired", "failed", "ended unseen"])
    p = _periods(ended[m], freq)
    wasted = out.loc[m, "bytes_wasted"]
    table["bytes_wasted"] = (pd.Series(wasted.fillna(0).astype(np.int64).to_numpy(), index=p).groupby(level=0).sum()
                             .reindex(index, fill_value=0).astype(np.int64))
    table["wasted_unknown"] = (pd.Series(wasted.isna().to_numpy().astype(np.int64), index=p).groupby(level=0).sum()
                               .reindex(index, fill_value=0).astype(np.int64))
    total_ended = table[["completed", "expired", "failed", "ended_unseen"]].sum(axis=1)
    table["completion_rate"] = (table["completed"] / total_ended.where(total_ended > 0)).astype("float64")
    take = np.isin(out["outcome"].to_numpy(dtype=object), ["completed", "open"]) & out["created_at"].notna().to_numpy()
    cohort = _periods(out.loc[take, "created_at"], freq).asi8
    order = np.argsort(cohort, kind="stable")
    bounds = np.searchsorted(cohort[order], index.asi8, side="left"), np.searchsorted(cohort[order], index.asi8,
                                                                                       side="right")
    median, p90 = [], []
    for lo, hi in zip(*bounds):
        times, survival = kaplan_meier(durations[order[lo:hi]], events[order[lo:hi]])
        median.append(quantile_time(times, survival, 0.5))
        p90.append(quantile_time(times, survival, 0.9))
    table["median_time_to_complete"] = pd.to_timedelta(pd.Series(median, index=index, dtype="object"))
    table["p90_time_to_complete"] = pd.to_timedelta(pd.Series(p90, index=index, dtype="object"))
    table.index = index.to_timestamp().tz_localize("UTC")
    table.index.name = "period"
    return table
