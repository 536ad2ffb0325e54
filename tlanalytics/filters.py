"""Filtering an uploads DataFrame: the pure core of the notebook explorer.

:func:`filter_uploads` does no I/O and draws nothing; :class:`tlanalytics.Explorer`
calls it on every filter change, and it is just as usable on its own.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from .errors import InvalidArgumentError
from .schema import STATUSES

__all__ = ["filter_uploads"]

_PROGRESS_COLUMNS = ("progress", "stalled", "at_risk")


def _fail(name, rule, value):
    raise InvalidArgumentError(f"The value for `{name}` must be {rule}, but {value!r} was passed.")


def _number(value):
    """True for a real, non-NaN number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)


def _bounds(name, value, low=None, high=None):
    """Validate an inclusive ``(low, high)`` pair whose ends may be None."""
    rule = "a (low, high) pair of numbers or None with low <= high"
    if low is not None:
        rule += f", each from {low} to {high}"
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        _fail(name, rule, value)
    lo, hi = value
    if not all(v is None or (_number(v) and (low is None or low <= v <= high)) for v in (lo, hi)):
        _fail(name, rule, value)
    if lo is not None and hi is not None and lo > hi:
        _fail(name, rule, value)
    return lo, hi


def _listed(name, value, ok, rule):
    """``value`` as a list of items passing ``ok``: one item, or an iterable of them (not a string of them)."""
    if ok(value):
        return [value]
    items = list(value) if hasattr(value, "__iter__") and not isinstance(value, str) else None
    if items is None or not all(ok(v) for v in items):
        _fail(name, rule, value)
    return items


def _within(series, lo, hi):
    """``lo <= series <= hi`` as a bool array; missing values are False."""
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    mask = ~np.isnan(values)
    if lo is not None:
        mask &= values >= lo
    if hi is not None:
        mask &= values <= hi
    return mask


def _need(df, name):
    if name not in df.columns:
        how = ("load with `load_uploads(..., with_progress=True)` or call `add_progress(df)`"
               if name in _PROGRESS_COLUMNS else "build the frame with `load_uploads(...)` or `build_frame(...)`")
        raise InvalidArgumentError(f"The column {name!r} is missing, so it cannot be filtered on; {how}.")


def filter_uploads(df, *, statuses=None, size_range=None, chunk_sizes=None, expires_within=None,
                   progress_range=None, id_contains=None):
    """Keep the upload sessions that pass every given filter.

    Pure: no I/O, the input is not modified. ``None`` means "do not filter
    on this". All ranges are inclusive. A row whose value is missing in a
    filtered column is dropped by that filter only (a session without
    ``total_size`` survives a status filter but not a size filter).

    Parameters
    ----------
    df : pandas.DataFrame
        An uploads frame (see :mod:`tlanalytics.schema`).
    statuses : str or iterable of str, optional
        Keep sessions whose ``status`` is one of these. Each must be a
        documented status (active, completed, failed, expired), a category
        of ``df["status"]`` or a value present in it (so a typo raises
        instead of matching nothing); a valid status without sessions
        matches nothing. Missing statuses never match.
    size_range : (low, high), optional
        Inclusive bounds on ``total_size`` in bytes; either end may be None.
    chunk_sizes : int or iterable of int, optional
        Keep sessions whose ``chunk_size`` (bytes) is one of these.
    expires_within : float, optional
        Hours: keep sessions not yet expired (``time_to_expiry > 0``) whose
        ``time_to_expiry`` is at most this. ``0`` keeps nothing,
        ``math.inf`` keeps every session not yet expired.
    progress_range : (low, high), optional
        Inclusive bounds on ``progress`` as fractions from 0 to 1 (50 % is
        0.5); needs the progress columns.
    id_contains : str, optional
        Keep sessions whose ``upload_id`` contains this text, ignoring case;
        ``""`` keeps every row.

    Returns
    -------
    pandas.DataFrame
        The matching rows, in their original order, with the original index
        and ``attrs``.

    Raises
    ------
    tlanalytics.errors.InvalidArgumentError
        A filter has a bad value, or ``df`` lacks the column a filter needs.

    Examples
    --------
    >>> quick = filter_uploads(df, statuses=["active"], expires_within=6)  # doctest: +SKIP
    >>> big = filter_uploads(df, size_range=(1 << 30, None))  # doctest: +SKIP
    """
    if not isinstance(df, pd.DataFrame):
        _fail("df", "a pandas DataFrame", type(df).__name__)
    mask = np.ones(len(df), dtype=bool)
    if statuses is not None:
        wanted = _listed("statuses", statuses, lambda s: isinstance(s, str), "a status or a list of statuses (strings)")
        _need(df, "status")
        present = df["status"].astype("object")
        declared = list(df["status"].cat.categories) if isinstance(df["status"].dtype, pd.CategoricalDtype) else []
        known = list(dict.fromkeys([*STATUSES, *declared, *present.dropna()]))
        unknown = [s for s in wanted if s not in known]
        if unknown:
            _fail("statuses", f"among {known}", unknown[0] if len(unknown) == 1 else unknown)
        mask &= present.isin(wanted).to_numpy(dtype=bool)
    if size_range is not None:
        lo, hi = _bounds("size_range", size_range)
        _need(df, "total_size")
        mask &= _within(df["total_size"], lo, hi)
    if chunk_sizes is not None:
        wanted = _listed("chunk_sizes", chunk_sizes, lambda c: _number(c) and c > 0 and float(c).is_integer(),
                         "a chunk size or a list of chunk sizes (positive integers, bytes)")
        _need(df, "chunk_size")
        mask &= np.isin(df["chunk_size"].to_numpy(dtype="float64", na_value=np.nan), [float(c) for c in wanted])
    if expires_within is not None:
        if not _number(expires_within) or expires_within < 0:
            _fail("expires_within", "a number of hours >= 0 (math.inf for every session not yet expired)",
                  expires_within)
        _need(df, "time_to_expiry")
        left = df["time_to_expiry"]
        keep = left > pd.Timedelta(0)
        if not math.isinf(expires_within):
            keep &= left <= pd.Timedelta(hours=float(expires_within))
        mask &= keep.to_numpy(dtype=bool)
    if progress_range is not None:
        lo, hi = _bounds("progress_range", progress_range, 0, 1)
        _need(df, "progress")
        mask &= _within(df["progress"], lo, hi)
    if id_contains is not None:
        if not isinstance(id_contains, str):
            _fail("id_contains", "a string", id_contains)
        if id_contains:
            _need(df, "upload_id")
            ids = df["upload_id"].astype("string").str.lower()
            mask &= ids.str.contains(id_contains.lower(), regex=False).to_numpy(dtype=bool, na_value=False)
    return df[mask]


# --- small helpers ------------------------------------------------------------
