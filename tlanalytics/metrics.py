"""One definition of every figure the views show: the metrics core.

Pure (no I/O, no plotting). The report, the CLI's ``summary`` and ``check``,
the explorer's summary line and the plots' titles and legends read their
numbers from here, and nowhere else defines a status set, a time window or a
mask. :data:`GLOSSARY` lists every definition in plain words; the README and
the report's footer render it.

Counting rules, in one place:

- every row counts as one session (a duplicated ``upload_id`` is counted
  twice and reported in ``duplicate_ids``; the loader never produces one);
- a session is *open* when its status is not terminal (completed, failed,
  expired; an unknown or missing status is not terminal) and it is not past
  ``expires_at``. An ``active`` session past ``expires_at`` is not open: it
  is counted in *past expiry* (and in ``active_past_expiry``), and the status
  table still lists it under the status the API reported;
- stalled, at risk and every progress figure count open sessions only.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from ._units import format_duration, plural
from .errors import InvalidArgumentError
from .schema import RISK_WINDOW, STALL_AFTER, STATUSES, TERMINAL_STATUSES, markdown_table
from .validate import as_of as sanitize_as_of, check_frame

__all__ = [
    "TERMINAL_STATUSES", "EXPIRY_WINDOWS", "URGENT_WINDOW", "PROGRESS_COLUMNS", "GLOSSARY", "Term", "Summary", "CheckResult",
    "status_values", "open_mask", "past_expiry_mask", "active_past_expiry_mask", "failed_mask", "completed_mask",
    "expiring_mask", "inconsistent_chunks_mask", "stalled_mask", "at_risk_mask", "attention_mask", "stuck_mask", "has_progress",
    "progress_known_mask", "bytes_to_upload", "required_rate", "status_table", "urgency_order", "do_now", "failed_sessions",
    "summarize", "evaluate_check", "glossary_markdown",
]

#: The windows of the ``expiring_<w>`` figures: name -> Timedelta.
EXPIRY_WINDOWS = {"1h": pd.Timedelta(hours=1), "6h": pd.Timedelta(hours=6), "24h": pd.Timedelta(hours=24)}
#: The columns a frame needs for the progress figures (``vanished`` is optional).
PROGRESS_COLUMNS = ("uploaded_size", "progress", "stalled", "at_risk")
#: The window of "expiring soon" in the headline and the "Do now" table.
URGENT_WINDOW = EXPIRY_WINDOWS["1h"]
_NEEDED = ("status", "total_size", "time_to_expiry", "is_expired")


class Term(NamedTuple):
    """One entry of the glossary: the words the views use and what they mean."""

    name: str
    definition: str


#: Every concept a view shows, in plain words (rendered into the README and the report's footer).
GLOSSARY: tuple[Term, ...] = (
    Term("session", "One row of the listing: one multipart upload session. Every row counts once; a duplicated "
                    "upload id is counted twice and reported as a duplicate."),
    Term("open", "Status is not completed, failed or expired (an unknown or missing status counts as not "
                 "finished) and the session is not past its expiry time. Only open sessions can still finish "
                 "or be lost."),
    Term("past expiry", "Sessions whose expiry time has passed, whatever their status."),
    Term("active but past expiry", "Status still says active (or unknown) although the expiry time has passed. "
                                   "They are not open; they count in past expiry, and the status table lists "
                                   "them under the status the API reported."),
    Term("failed", "Status is failed."),
    Term("completed", "Status is completed (listed until the session expires)."),
    Term("expiring within H hours", "Open sessions whose expiry time is after now and at most H hours away "
                                    "(1, 6 and 24 h; each window includes the shorter ones)."),
    Term("bytes held", "File size (total_size) of the open sessions: what is lost if they expire."),
    Term("bytes still to upload", "File size minus bytes uploaded, over open sessions whose progress is known."),
    Term("stalled", f"Open, unfinished, and no upload activity for longer than the stall threshold "
                    f"({format_duration(STALL_AFTER)})."),
    Term("at risk", f"Open, unfinished, and either at its current rate it finishes after it expires, or nothing "
                    f"has moved and less than the risk window ({format_duration(RISK_WINDOW)}) of life is left."),
    Term("needs attention", "Open sessions that are at risk, stalled, or expiring within 1 hour."),
    Term("bytes at stake", "File size of the sessions that need attention."),
    Term("has progress", "The frame has the progress columns (uploaded_size, progress, stalled, at_risk). A "
                         "session's progress is known when its uploaded_size is; sessions not read, or vanished "
                         "(ended before their status was read), have none."),
    Term("rate needed", "Bytes still to upload divided by the time left: the upload speed that finishes before "
                        "the session expires."),
    Term("inconsistent chunks", "total_chunks differs from ceil(total_size / chunk_size)."),
)


# --- masks ---------------------------------------------------------------------------

_FRAME_SECTIONS = """

Parameters
----------
df : pandas.DataFrame
    An uploads frame (from :func:`~tlanalytics.load_uploads` or :func:`~tlanalytics.build_frame`).

Returns
-------
{returns}

Examples
--------
{example}"""
#: The Returns section of every mask.
_MASK = "pandas.Series of bool\n    One value per row, on ``df``'s index."


def _of_frame(returns, example):
    """Give a function of one uploads frame ``df`` its numpydoc sections (one text for ``df`` in every such function).

    ``example``'s first line is a doctest call (skipped: it needs a frame); any
    further lines are its output.
    """
    first, *output = example.split("\n")
    example = "\n".join([f">>> {first}  # doctest: +SKIP", *output])

    def decorate(func):
        if func.__doc__ is not None:  # None under python -OO
            func.__doc__ = inspect.cleandoc(func.__doc__) + _FRAME_SECTIONS.format(returns=returns, example=example)
        return func
    return decorate


def _flags(series):
    """A nullable boolean column as a plain bool Series (missing counted as False), on the frame's index."""
    return pd.Series(series.to_numpy(dtype=bool, na_value=False), index=series.index)


def _sum(series):
    """Sum of a nullable integer column as an exact Python int (missing values skipped; an int64 sum wraps past 2**63)."""
    return sum(map(int, series.dropna())) if len(series) else 0


@_of_frame("pandas.Series", "status_values(df).value_counts()")
def status_values(df):
    """The ``status`` column as object strings; a missing status becomes None."""
    status = df["status"].astype("object")
    return status.where(status.notna(), None)


@_of_frame(_MASK, "int(past_expiry_mask(df).sum())")
def past_expiry_mask(df):
    """Sessions past ``expires_at`` (``is_expired`` True), whatever their status."""
    return _flags(df["is_expired"])


@_of_frame(_MASK, "df[open_mask(df)]")
def open_mask(df):
    """Open sessions: status not terminal (unknown and missing count as not terminal) and not past expiry."""
    return ~status_values(df).isin(TERMINAL_STATUSES) & ~past_expiry_mask(df)


@_of_frame(_MASK, "int(active_past_expiry_mask(df).sum())")
def active_past_expiry_mask(df):
    """Sessions whose status is not terminal although they are past expiry (not open, not ``expired``)."""
    return ~status_values(df).isin(TERMINAL_STATUSES) & past_expiry_mask(df)


@_of_frame(_MASK, "df[failed_mask(df)]")
def failed_mask(df):
    """Sessions whose status is ``failed``."""
    return status_values(df) == "failed"


@_of_frame(_MASK, "int(completed_mask(df).sum())")
def completed_mask(df):
    """Sessions whose status is ``completed``."""
    return status_values(df) == "completed"


def _window(within):
    """``within`` (hours as a number, or a Timedelta) as a positive Timedelta."""
    if isinstance(within, (int, float, np.integer, np.floating)) and not isinstance(within, bool):
        if not math.isfinite(within) or within <= 0:
            raise InvalidArgumentError(f"The value for `within` must be a positive number of hours, "
                                       f"but {within!r} was passed.")
        return pd.Timedelta(hours=float(within))
    try:
        window = pd.Timedelta(within)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"The value for `within` must be hours or a Timedelta, "
                                   f"but {within!r} was passed.") from exc
    if pd.isna(window) or window <= pd.Timedelta(0):
        raise InvalidArgumentError(f"The value for `within` must be a positive duration, but {within!r} was passed.")
    return window


def expiring_mask(df, within):
    """Open sessions whose ``time_to_expiry`` lies in (0, ``within``].

    Parameters
    ----------
    df : pandas.DataFrame
    within : float or pandas.Timedelta
        The window: hours, or a Timedelta (``pd.Timedelta.max`` for every open session).

    Returns
    -------
    pandas.Series of bool

    Examples
    --------
    >>> int(expiring_mask(df, 1).sum())  # doctest: +SKIP
    """
    window = _window(within)
    tte = df["time_to_expiry"]
    inside = ((tte > pd.Timedelta(0)) & (tte <= window)).to_numpy(dtype=bool, na_value=False)
    return open_mask(df) & pd.Series(inside, index=df.index)


@_of_frame(_MASK, "int(inconsistent_chunks_mask(df).sum())")
def inconsistent_chunks_mask(df):
    """Sessions whose ``chunks_consistent`` is False (unknown counts as consistent)."""
    if "chunks_consistent" not in df.columns:
        return pd.Series(False, index=df.index)
    flag = df["chunks_consistent"]
    return ~_flags(flag) & pd.Series(flag.notna().to_numpy(), index=df.index)


@_of_frame("bool", "has_progress(add_progress(df))\nTrue")
def has_progress(df):
    """True when the frame has the progress columns (see :data:`PROGRESS_COLUMNS`; ``vanished`` is optional)."""
    return set(PROGRESS_COLUMNS) <= set(df.columns)


def _progress_flag(df, name):
    """``df[name]`` as bool, or all False when the frame has no progress columns."""
    if not has_progress(df):
        return pd.Series(False, index=df.index)
    return _flags(df[name])


@_of_frame(_MASK, "int(progress_known_mask(df).sum())")
def progress_known_mask(df):
    """Sessions whose progress is known (``uploaded_size`` not null); all False without progress columns."""
    if not has_progress(df):
        return pd.Series(False, index=df.index)
    return df["uploaded_size"].notna() & df["total_size"].notna()


def _flagged_mask(flag):
    """The mask function of open sessions whose progress column ``flag`` is True (all False without progress columns)."""
    def mask(df):
        return open_mask(df) & _progress_flag(df, flag)

    mask.__name__ = mask.__qualname__ = f"{flag}_mask"
    mask.__doc__ = f"Open sessions flagged ``{flag}`` (all False without progress columns)."
    return _of_frame(_MASK, f"int({flag}_mask(df).sum())")(mask)


stalled_mask = _flagged_mask("stalled")
at_risk_mask = _flagged_mask("at_risk")


@_of_frame(_MASK, "df[attention_mask(df)]")
def attention_mask(df):
    """Open sessions that need attention now: at risk, stalled or expiring within 1 hour."""
    return at_risk_mask(df) | stalled_mask(df) | expiring_mask(df, URGENT_WINDOW)


def stuck_mask(df, within=1.0):
    """The sessions of ``check --max-stuck-bytes``: stalled or at risk with progress, else expiring within ``within``.

    Parameters
    ----------
    df : pandas.DataFrame
    within : float or pandas.Timedelta, default 1.0
        Hours; used only when the frame has no progress columns.

    Returns
    -------
    pandas.Series of bool

    Examples
    --------
    >>> int(df.loc[stuck_mask(df), "total_size"].sum())  # doctest: +SKIP
    """
    if has_progress(df):
        return stalled_mask(df) | at_risk_mask(df)
    return expiring_mask(df, within)


@_of_frame("pandas.Series of Int64", "bytes_to_upload(df).sum()")
def bytes_to_upload(df):
    """Bytes still to upload per session (``total_size - uploaded_size``, at least 0); null when unknown."""
    if not has_progress(df):
        return pd.Series(pd.NA, index=df.index, dtype="Int64")
    left = df["total_size"].astype("Int64") - df["uploaded_size"].astype("Int64")
    return left.clip(lower=0)


@_of_frame("pandas.Series of float64", "required_rate(df[open_mask(df)])")
def required_rate(df):
    """The upload rate (bytes per second) that finishes each session before it expires; null when unknown.

    Bytes still to upload divided by ``time_to_expiry``; NaN when either is
    unknown or the session is past expiry."""
    left = bytes_to_upload(df).to_numpy(dtype="float64", na_value=np.nan)
    seconds = df["time_to_expiry"].dt.total_seconds().to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(all="ignore"):
        rate = np.where(seconds > 0, left / np.where(seconds > 0, seconds, 1), np.nan)
    return pd.Series(rate, index=df.index, dtype="float64")


# --- tables ----------------------------------------------------------------------------

@_of_frame("pandas.DataFrame\n    Index: status; columns ``sessions`` and ``bytes`` (int).", 'status_table(df).loc["failed", "sessions"]')
def status_table(df):
    """Sessions and bytes per reported status: documented statuses first, then others, then ``"missing"``."""
    status = status_values(df).fillna("missing")
    extra = sorted({s for s in status if s not in STATUSES and s != "missing"})
    names = list(STATUSES) + extra + (["missing"] if (status == "missing").any() else [])
    rows = {s: (int((status == s).sum()), _sum(df.loc[status == s, "total_size"])) for s in names}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["sessions", "bytes"])


@_of_frame("numpy.ndarray of int\n    Positions for ``df.iloc``.", "df.iloc[urgency_order(df)].head(20)")
def urgency_order(df):
    """Row positions of ``df``, most urgent first: open sessions needing attention, then other open sessions,
    then the rest; each group by soonest expiry, then ``upload_id``."""
    group = np.where(attention_mask(df).to_numpy(), 0, np.where(open_mask(df).to_numpy(), 1, 2))
    ids = df["upload_id"].astype("object").to_numpy() if "upload_id" in df.columns else np.zeros(len(df))
    order = pd.DataFrame({"group": group, "tte": df["time_to_expiry"].to_numpy(), "id": ids})
    return order.sort_values(["group", "tte", "id"], kind="stable", na_position="last").index.to_numpy()


def do_now(df, n=20):
    """The open sessions to act on first: those needing attention, soonest expiry first, then the next to expire.

    Parameters
    ----------
    df : pandas.DataFrame
    n : int, default 20
        At most this many rows.

    Returns
    -------
    pandas.DataFrame
        Rows of ``df`` plus ``bytes_to_upload`` and ``required_rate`` columns.

    Examples
    --------
    >>> do_now(df, 10)[["upload_id", "time_to_expiry", "required_rate"]]  # doctest: +SKIP
    """
    order = urgency_order(df)
    top = df.iloc[order[open_mask(df).to_numpy()[order]][:n]].copy()
    top["bytes_to_upload"] = bytes_to_upload(top)
    top["required_rate"] = required_rate(top)
    return top


def failed_sessions(df, n=20):
    """Sessions whose status is failed, largest first.

    Parameters
    ----------
    df : pandas.DataFrame
    n : int, default 20

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> failed_sessions(df)  # doctest: +SKIP
    """
    return df[failed_mask(df)].sort_values("total_size", ascending=False, kind="stable", na_position="last").head(n)


# --- key figures -------------------------------------------------------------------------

@dataclass(frozen=True)
class Summary:
    """The key figures of an uploads frame (see :data:`GLOSSARY` for every definition).

    Attributes
    ----------
    sessions, total_bytes : int
        Rows, and the sum of their ``total_size``.
    status_counts, status_bytes : dict
        Reported status -> sessions / bytes (documented statuses first, ``"missing"`` last).
    open, open_bytes : int
        Open sessions and the bytes they hold.
    past_expiry, active_past_expiry : int
        Sessions past expiry (any status); of those, the ones whose status is not terminal.
    failed, failed_bytes, completed : int
    expiring_1h, expiring_6h, expiring_24h : int
        Open sessions expiring within the window (cumulative); ``*_bytes`` their size.
    median_age : pandas.Timedelta or None
    inconsistent_chunks, duplicate_ids : int
    as_of : pandas.Timestamp or None
    base_url : str or None
    demo : bool
    has_progress : bool
    progress_known : int
        Open sessions whose progress is known.
    uploaded_bytes, bytes_to_upload : int or None
        Over open sessions with known progress (None without progress columns).
    overall_progress : float or None
        ``uploaded_bytes / (uploaded_bytes + bytes_to_upload)``.
    stalled, at_risk, vanished : int or None
        None without progress columns.
    attention, attention_bytes : int
        Sessions needing attention now and their bytes (bytes at stake).
    """

    sessions: int
    total_bytes: int
    status_counts: dict = field(default_factory=dict)
    status_bytes: dict = field(default_factory=dict)
    open: int = 0
    open_bytes: int = 0
    past_expiry: int = 0
    active_past_expiry: int = 0
    failed: int = 0
    failed_bytes: int = 0
    completed: int = 0
    expiring_1h: int = 0
    expiring_1h_bytes: int = 0
    expiring_6h: int = 0
    expiring_6h_bytes: int = 0
    expiring_24h: int = 0
    expiring_24h_bytes: int = 0
    median_age: pd.Timedelta | None = None
    inconsistent_chunks: int = 0
    duplicate_ids: int = 0
    as_of: pd.Timestamp | None = None
    base_url: str | None = None
    demo: bool = False
    has_progress: bool = False
    progress_known: int = 0
    uploaded_bytes: int | None = None
    bytes_to_upload: int | None = None
    overall_progress: float | None = None
    stalled: int | None = None
    at_risk: int | None = None
    vanished: int | None = None
    attention: int = 0
    attention_bytes: int = 0

    def to_dict(self):
        """The figures as a plain dict (for JSON).

        Returns
        -------
        dict
        """
        return asdict(self)

    def __getitem__(self, name):
        """``summary["open"]`` as ``summary.open`` (summarize used to return a dict)."""
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None


def summarize(df, *, as_of=None):
    """Key figures of an uploads frame, each defined once (see :data:`GLOSSARY`).

    Parameters
    ----------
    df : pandas.DataFrame
        An uploads frame (from :func:`~tlanalytics.load_uploads` or
        :func:`~tlanalytics.build_frame`), with or without progress columns.
    as_of : datetime, pandas.Timestamp, str or None
        Moment to count against; None uses the frame's derived columns (as of
        ``df.attrs["as_of"]``), otherwise they are recomputed for ``as_of``.

    Returns
    -------
    Summary

    Raises
    ------
    InvalidArgumentError
        ``df`` is not a DataFrame or lacks listing/derived columns.

    Examples
    --------
    >>> s = summarize(df)  # doctest: +SKIP
    >>> s.open, s.expiring_1h_bytes  # doctest: +SKIP
    (1919, 7516192768)
    """
    check_frame(df, _NEEDED)
    if as_of is not None:
        from .frame import recompute

        df = recompute(df, sanitize_as_of(as_of))
    table = status_table(df)
    opened = open_mask(df)
    age = df["age"].median() if "age" in df.columns and len(df) else pd.NaT
    figures = {
        "sessions": len(df), "total_bytes": _sum(df["total_size"]),
        "status_counts": {s: int(v) for s, v in table["sessions"].items() if v or s in STATUSES},
        "status_bytes": {s: int(v) for s, v in table["bytes"].items() if table.loc[s, "sessions"] or s in STATUSES},
        "open": int(opened.sum()), "open_bytes": _sum(df.loc[opened, "total_size"]),
        "past_expiry": int(past_expiry_mask(df).sum()), "active_past_expiry": int(active_past_expiry_mask(df).sum()),
        "failed": int(failed_mask(df).sum()), "failed_bytes": _sum(df.loc[failed_mask(df), "total_size"]),
        "completed": int(completed_mask(df).sum()),
        "median_age": None if pd.isna(age) else pd.Timedelta(age),
        "inconsistent_chunks": int(inconsistent_chunks_mask(df).sum()),
        "duplicate_ids": int(df["upload_id"].duplicated(keep="first")[df["upload_id"].notna()].sum())
        if "upload_id" in df.columns else 0,
        "as_of": None if df.attrs.get("as_of") is None else sanitize_as_of(df.attrs["as_of"]),
        "base_url": df.attrs.get("base_url"), "demo": bool(df.attrs.get("demo", False)),
        "has_progress": has_progress(df),
    }
    for name, window in EXPIRY_WINDOWS.items():
        mask = expiring_mask(df, window)
        figures[f"expiring_{name}"] = int(mask.sum())
        figures[f"expiring_{name}_bytes"] = _sum(df.loc[mask, "total_size"])
    attention = attention_mask(df)
    figures.update(attention=int(attention.sum()), attention_bytes=_sum(df.loc[attention, "total_size"]))
    if figures["has_progress"]:
        known = opened & progress_known_mask(df)
        uploaded, left = _sum(df.loc[known, "uploaded_size"]), _sum(bytes_to_upload(df)[known])
        figures.update(
            progress_known=int(known.sum()), uploaded_bytes=uploaded, bytes_to_upload=left,
            overall_progress=uploaded / (uploaded + left) if uploaded + left else None,
            stalled=int(stalled_mask(df).sum()), at_risk=int(at_risk_mask(df).sum()),
            vanished=int(_flags(df["vanished"]).sum()) if "vanished" in df.columns else 0)
    return Summary(**figures)


# --- check ------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckResult:
    """The outcome of :func:`evaluate_check`.

    Attributes
    ----------
    ok : bool
        True when no threshold was crossed.
    reasons : tuple of str
        One sentence per crossed threshold, naming the threshold, the value
        and the command-line flag that changes it.
    figures : tuple of str
        One sentence per threshold checked (crossed or not).
    """

    ok: bool
    reasons: tuple = ()
    figures: tuple = ()


def evaluate_check(df, *, max_expiring=0, within=1.0, max_failed=None, max_stuck_bytes=None):
    """Compare the frame with alerting thresholds (what ``tlanalytics check`` does).

    Parameters
    ----------
    df : pandas.DataFrame
    max_expiring : int, default 0
        Most open sessions allowed to expire within ``within`` hours (``--max-expiring``).
    within : float, default 1.0
        Hours of the expiry window (``--within``).
    max_failed : int, optional
        Most sessions allowed with status failed (``--max-failed``); None: not checked.
    max_stuck_bytes : int, optional
        Most bytes allowed in stuck sessions (:func:`stuck_mask`; ``--max-stuck-bytes``); None: not checked.

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> result = evaluate_check(df, max_expiring=5, within=6)  # doctest: +SKIP
    >>> result.ok, result.reasons  # doctest: +SKIP
    """
    from ._units import format_bytes

    check_frame(df, _NEEDED)
    hours = f"{float(within):g} h (--within {float(within):g})"
    checks = []
    expiring = int(expiring_mask(df, within).sum())
    checks.append((expiring > max_expiring, f"{plural(expiring, 'open session')} expiring within {hours}",
                   f"{max_expiring:,}", "--max-expiring"))
    if max_failed is not None:
        failed = int(failed_mask(df).sum())
        checks.append((failed > max_failed, f"{plural(failed, 'failed session')}", f"{max_failed:,}", "--max-failed"))
    if max_stuck_bytes is not None:
        stuck = stuck_mask(df, within)
        size = _sum(df.loc[stuck, "total_size"])
        where = "" if has_progress(df) else f" expiring within {hours}"
        what = "stalled or at-risk open session" if has_progress(df) else "open session"
        checks.append((size > max_stuck_bytes,
                       f"{format_bytes(size)} ({size:,} bytes) in {plural(int(stuck.sum()), what)}{where}",
                       format_bytes(max_stuck_bytes), "--max-stuck-bytes"))
    reasons = tuple(f"{value}, more than the {limit} allowed by {flag}" for crossed, value, limit, flag in checks
                    if crossed)
    figures = tuple(f"{value} (allowed: {limit}, {flag})" for _, value, limit, flag in checks)
    return CheckResult(ok=not reasons, reasons=reasons, figures=figures)


def glossary_markdown():
    """The glossary as a Markdown table (the README's glossary block).

    Returns
    -------
    str
        One row per :data:`GLOSSARY` term, with its definition.

    Examples
    --------
    >>> glossary_markdown().splitlines()[0]
    '| term | meaning |'
    """
    return markdown_table(["term", "meaning"], GLOSSARY)
