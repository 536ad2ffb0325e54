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

import os

import numpy as np
import pandas as pd

from ._docfill import HISTORY_DOCS, fill_doc
from .completion import completion_durations, kaplan_meier, quantile_time
from .errors import InvalidArgumentError
from .histstate import NAT as _NAT
from .histstate import (HistoryState, open_by_snapshot, open_flags, reduce_frame, require_frame, status_codes,
                        to_ns)

__all__ = ["OUTCOMES", "ANALYSIS_COLUMNS", "open_rows", "session_outcomes", "trends"]

#: Outcomes of a session, in display order.
OUTCOMES = ("completed", "expired", "failed", "ended unseen", "open")
#: The stored columns the analyses read: ``load_history(columns=ANALYSIS_COLUMNS)`` needs half the memory.
ANALYSIS_COLUMNS = ("upload_id", "status", "total_size", "created_at", "expires_at", "uploaded_size")
_CODE = {name: i for i, name in enumerate(OUTCOMES)}
_NEEDED = ("snapshot_at", "upload_id", "status", "total_size", "created_at", "expires_at")


def _check(history, needed=_NEEDED):
    """Raise InvalidArgumentError unless ``history`` is a history frame."""
    require_frame(history, "history", needed, "a history frame from `load_history(...)` or `generate_history(...)`",
                  "a history DataFrame, a store folder or `open_history(...)`")


def _state(history):
    """The :class:`~tlanalytics.histstate.HistoryState` of a frame, a store folder or an open history."""
    if isinstance(history, HistoryState):
        return history
    if isinstance(history, (str, os.PathLike)):
        from .histengine import open_history

        history = open_history(history)
    if hasattr(history, "state") and not isinstance(history, pd.DataFrame):
        return history.state()
    _check(history)
    return reduce_frame(history)


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
    codes, names = status_codes(history["status"])
    return open_flags(codes, names, to_ns(history["expires_at"]), to_ns(history["snapshot_at"]))


@fill_doc(HISTORY_DOCS)
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
    {history_param}
        A frame has ``snapshot_at``, ``upload_id``, ``status``,
        ``total_size``, ``created_at``, ``expires_at`` (``uploaded_size``
        optional); its ``attrs["snapshots"]`` adds snapshots that listed
        nothing. Rows without an ``upload_id`` are ignored.

    Returns
    -------
    pandas.DataFrame
        ``upload_id``, ``first_seen``, ``last_seen``, ``sightings``,
        ``last_status``, ``outcome`` (categorical, :data:`OUTCOMES`),
        ``created_at``, ``expires_at``, ``ended_after``, ``ended_by``,
        ``ended_at``, ``time_to_outcome`` (``ended_at - created_at``),
        ``total_size``, ``uploaded_size``, ``bytes_wasted``; listing fields
        from the last sighting. Sorted by ``first_seen``, then ``upload_id``.
        ``attrs["snapshots"]``: every snapshot moment.

    {raises_invalid}
        ``history`` is not a history.
    tlanalytics.errors.FileFormatError
        A store's file is damaged (see :func:`~tlanalytics.load_history`).

    Examples
    --------
    >>> from tlanalytics import generate_history
    >>> out = session_outcomes(generate_history(days=3, seed=1))
    >>> sorted(set(out["outcome"])) == sorted(OUTCOMES)
    True
    """
    return _rules(_state(history))


def _rules(state):
    """The outcome rules of :func:`session_outcomes`, applied to a reduced history (the one definition)."""
    snaps, s = state.snapshots, state.sessions
    col = lambda name: s[name].to_numpy(np.int64)  # noqa: E731
    last_seen, expires, created = col("last_seen"), col("expires_at"), col("created_at")
    last_k = np.searchsorted(snaps, last_seen)
    s_last = snaps[-1] if len(snaps) else _NAT
    next_ns = np.where(last_k + 1 < len(snaps), snaps[np.minimum(last_k + 1, max(len(snaps) - 1, 0))], _NAT)
    has_exp = expires != _NAT
    codes, names = status_codes(s["last_status"])
    open_last = (last_seen == s_last) & open_flags(codes, names, expires, last_seen)
    firsts = {t: col(f"first_{t}") for t in ("completed", "failed", "expired")}
    c_seen, f_seen, e_seen = (firsts[t] != _NAT for t in ("completed", "failed", "expired"))
    outcome = np.select(
        [open_last, c_seen, f_seen, e_seen, has_exp & (expires <= last_seen),
         has_exp & (next_ns != _NAT) & (expires <= next_ns)],
        [_CODE[k] for k in ("open", "completed", "failed", "expired", "expired", "expired")], _CODE["ended unseen"])
    term_ns = np.where(c_seen, firsts["completed"], np.where(f_seen, firsts["failed"], firsts["expired"]))
    prev_ns = np.where(c_seen, col("prev_completed"), np.where(f_seen, col("prev_failed"), col("prev_expired")))
    by_status = term_ns != _NAT
    ended_after = np.where(by_status, prev_ns, last_seen)
    ended_by = np.where(by_status, term_ns, next_ns)
    clock = (outcome == _CODE["expired"]) & has_exp
    exp_end = np.where(by_status, np.minimum(expires, term_ns), expires)
    ended_after = np.where(clock, exp_end, ended_after)
    ended_by = np.where(clock, exp_end, ended_by)
    is_open = outcome == _CODE["open"]
    ended_after = np.where(is_open, _NAT, ended_after)
    ended_by = np.where(is_open, _NAT, ended_by)
    uploaded = col("uploaded_size")
    wasted = np.where(np.isin(outcome, [_CODE[k] for k in ("expired", "failed", "ended unseen")]), uploaded, 0)

    utc = lambda v: pd.Series(np.asarray(v, dtype=np.int64).view("datetime64[ns]")).dt.tz_localize("UTC")  # noqa: E731
    ints = lambda v: pd.arrays.IntegerArray(np.where(v >= 0, v, 0).astype(np.int64), v < 0)  # noqa: E731
    last_status = s["last_status"]
    out = pd.DataFrame({
        "upload_id": s["upload_id"].astype("string").array,
        "first_seen": utc(col("first_seen")), "last_seen": utc(last_seen),
        "sightings": col("sightings"), "last_status": last_status.array,
        "outcome": pd.Categorical.from_codes(outcome, categories=list(OUTCOMES)),
        "created_at": utc(created), "expires_at": utc(expires),
        "ended_after": utc(ended_after), "ended_by": utc(ended_by), "ended_at": utc(ended_by),
    })
    out["time_to_outcome"] = out["ended_at"] - out["created_at"]
    out["total_size"], out["uploaded_size"], out["bytes_wasted"] = ints(col("total_size")), ints(uploaded), ints(wasted)
    # By first sighting, then by id: the same order whichever engine reduced the history (sorted in C++).
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = pa.table({"f": col("first_seen"), "u": pa.array(out["upload_id"].to_numpy(dtype=object), pa.string())})
    out = out.take(pc.sort_indices(keys, sort_keys=[("f", "ascending"), ("u", "ascending")]).to_numpy()) \
        .reset_index(drop=True)
    out.attrs["snapshots"] = list(pd.to_datetime(snaps, utc=True))
    return out


def _periods(values, freq):
    """Period start (UTC Timestamps) of each moment for ``freq``."""
    naive = pd.DatetimeIndex(pd.to_datetime(values, utc=True)).tz_localize(None)
    return pd.PeriodIndex(naive, freq=freq) if len(naive) else pd.PeriodIndex([], freq=freq)


@fill_doc(HISTORY_DOCS)
def trends(history, freq="D", *, outcomes=None):
    """Per period: sessions created and ended by outcome, open sessions, bytes and times to complete.

    Parameters
    ----------
    {history_param}
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

    {raises_invalid}
        Not a history, or an unknown ``freq``.

    Examples
    --------
    >>> from tlanalytics import generate_history
    >>> table = trends(generate_history(days=3, seed=1, now="2026-01-04"))
    >>> len(table), int(table["created"].sum()) > 0
    (4, True)
    """
    try:
        pd.Period("2026-01-01", freq=freq)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidArgumentError(f"The value for `freq` must be a pandas period frequency such as 'h', 'D', "
                                   f"'W' or 'M', but {freq!r} was passed.") from exc
    if isinstance(history, pd.DataFrame) and outcomes is not None:
        _check(history)
        snaps, n_open, b_open = open_by_snapshot(history)  # the outcomes are known: only the open counts
    else:
        state = _state(history)
        snaps, n_open, b_open = state.snapshots, state.open_count, state.open_bytes
        if outcomes is None:
            outcomes = _rules(state)
    out = outcomes.copy(deep=False)
    out.attrs = {}
    durations, events = completion_durations(out)
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
    last_of = pd.Series(np.arange(len(snaps)), index=snap_periods).groupby(level=0).max()
    table["open_at_end"] = pd.array(pd.Series(n_open[last_of.to_numpy()], index=last_of.index)
                                    .reindex(index), dtype="Int64")
    table["bytes_open_at_end"] = pd.array(pd.Series(b_open[last_of.to_numpy()], index=last_of.index)
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
