"""Raw API items to the typed uploads DataFrame, and the columns derived from it.

This module is pure: no I/O. The client fetches pages and status bodies and
hands them here; views only read the DataFrames made here. The columns, their
order and dtypes are those of :mod:`tlanalytics.schema`: listing, derived,
progress (only after :func:`join_progress`), then any fields the API sent that
the schema does not know, kept as extra columns of Python objects.

Values that break the documented shape never crash a load and never vanish:
the row is kept with nulls where the value was bad, ``df.attrs["malformed_rows"]``
counts such rows, ``df.attrs["malformed"]`` lists the first few problems, and
one :class:`~tlanalytics.errors.MalformedItemWarning` is emitted per call.
``strict=True`` raises :class:`~tlanalytics.errors.ResponseFormatError` at the
first problem instead. Bad values: wrong types, timestamps that are not RFC 3339
or lie outside 1677-2262, integers below the field's minimum or past 64 bits,
text UTF-8 cannot encode (lone surrogates), and ``upload_id`` values that cannot
be one URL path segment (``.``, ``..``, control characters, longer than
:data:`~tlanalytics._parse.MAX_ID_CHARS`); see :func:`tlanalytics._parse.text_problem`.
"""

from __future__ import annotations

import json
import logging
from itertools import islice

import numpy as np
import pandas as pd

from . import _fastparse, _parse
from ._parse import NAT
from .errors import InvalidArgumentError, ResponseFormatError
from .schema import RISK_WINDOW, SIZE_BUCKET_EDGES, STALL_AFTER, STATUSES, TERMINAL_STATUSES, columns, dtype_of
from .validate import as_of as _as_of, duration as _delta

__all__ = ["build_frame", "frame_from_pages", "empty_frame", "recompute", "join_progress", "chunks_frame",
           "CHUNK_STATUSES"]

#: Documented chunk statuses; unknown values are kept as extra categories.
CHUNK_STATUSES = ("completed", "pending", "failed")

logger = logging.getLogger(__name__)

_LISTING = columns("listing")
_DERIVED = columns("derived")
_PROGRESS = columns("progress")
_PROGRESS_RAW = ("uploaded_size", "chunks_completed", "chunks_failed", "chunks_pending", "last_activity", "vanished")
_KNOWN = frozenset(_LISTING + _DERIVED + _PROGRESS)
_HOUR = 3_600_000_000_000
_INT64_MAX = np.iinfo(np.int64).max
_UTC_NS = pd.DatetimeTZDtype("ns", "UTC")
_EXPIRY_EDGES = np.array([1, _HOUR, 6 * _HOUR, 24 * _HOUR])
_COUNTERS = ("chunks_completed", "chunks_failed", "chunks_pending")
_ABSENT = object()


def build_frame(items, *, as_of=None, strict=False):
    """The typed uploads DataFrame of listing items.

    Parameters
    ----------
    items : iterable of dict
        Items of the listing's ``data`` array, as parsed from JSON.
    as_of : pandas.Timestamp, datetime or str, optional
        The moment the derived columns are computed for; naive values are
        taken as UTC. None (default) means now.
    strict : bool, default False
        Raise :class:`~tlanalytics.errors.ResponseFormatError` at the first
        malformed value instead of keeping the row with nulls and warning.

    Returns
    -------
    pandas.DataFrame
        Listing and derived columns in schema order, then extra fields. One row
        per item, in order; duplicates are kept. ``attrs`` holds ``as_of``,
        ``malformed_rows`` and ``malformed``.

    Examples
    --------
    >>> df = build_frame([{"upload_id": "u1", "status": "active", "total_size": 10485760,
    ...                    "chunk_size": 5242880, "total_chunks": 2,
    ...                    "created_at": "2025-12-01T10:00:00Z", "expires_at": "2025-12-01T18:00:00Z"}],
    ...                  as_of="2025-12-01T12:00:00Z")
    >>> df.loc[0, "expected_chunks"], str(df.loc[0, "time_to_expiry"])
    (np.int64(2), '0 days 06:00:00')
    """
    collector = _parse.ListingCollector(STATUSES, strict, _arrow_strings())
    items = iter(items)
    while batch := list(islice(items, _parse.CHUNK_ROWS)):
        collector.add(batch)
    return _finish(collector, as_of)


def frame_from_pages(pages, *, as_of=None, strict=False):
    """The typed uploads DataFrame of whole listing responses, read one page at a time.

    Parameters
    ----------
    pages : iterable of bytes, str or dict
        Listing response bodies (``{"data": [...], "page_info": {...}}``), raw
        or already parsed. Pages are parsed and converted as they come, so a
        generator keeps memory low.
    as_of : pandas.Timestamp, datetime or str, optional
        As in :func:`build_frame`.
    strict : bool, default False
        As in :func:`build_frame` (about items; a broken page always raises).

    Returns
    -------
    pandas.DataFrame
        As :func:`build_frame` of all pages' items in order.

    Raises
    ------
    ResponseFormatError
        When a page is not JSON, not an object, or its ``data`` is not a list
        (``field="data"``, ``page`` = position of the page, from 1).

    Examples
    --------
    >>> page = (b'{"data": [{"upload_id": "u1", "status": "active", "total_size": 1, "chunk_size": 1,'
    ...         b' "total_chunks": 1, "created_at": null}], "page_info": {"page": 1}}')
    >>> frame_from_pages([page], as_of="2025-12-01T12:00:00Z")["upload_id"].tolist()
    ['u1']
    """
    collector = _parse.ListingCollector(STATUSES, strict, _arrow_strings())
    if _fastparse.usable():
        _fastparse.feed(pages, collector, _add_page)
    else:
        for position, page in enumerate(pages, start=1):
            _add_page(collector, position, page)
    return _finish(collector, as_of)


def empty_frame(progress=False):
    """A DataFrame with no rows and every schema column with its exact dtype.

    Parameters
    ----------
    progress : bool, default False
        Also include the progress columns (as after :func:`join_progress`).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> list(empty_frame().columns[:3])
    ['upload_id', 'status', 'total_size']
    """
    names = _LISTING + _DERIVED + (_PROGRESS if progress else [])
    return pd.DataFrame({n: pd.Series([], dtype=dtype_of(n)) for n in names})


def recompute(df, as_of=None, *, stall_after=STALL_AFTER, risk_window=RISK_WINDOW):
    """A new DataFrame with the derived (and progress-derived) columns computed for another moment.

    Parameters
    ----------
    df : pandas.DataFrame
        A frame with at least the listing columns (from :func:`build_frame`,
        :func:`join_progress` or a file written from one).
    as_of : pandas.Timestamp, datetime or str, optional
        The new moment; naive values are taken as UTC. None means now.
    stall_after : pandas.Timedelta, default :data:`tlanalytics.schema.STALL_AFTER` (1 h)
        Idle time after which an unfinished session counts as ``stalled``.
    risk_window : pandas.Timedelta, default :data:`tlanalytics.schema.RISK_WINDOW` (2 h)
        A session where nothing moves is ``at_risk`` with less life than this left.

    Returns
    -------
    pandas.DataFrame
        Same rows and index; listing, derived, progress (when ``df`` has the
        progress columns) and extra columns; ``attrs`` copied, ``as_of`` updated.

    Examples
    --------
    >>> df = build_frame([{"upload_id": "u1", "status": "active", "total_size": 1,
    ...                    "chunk_size": 1, "total_chunks": 1,
    ...                    "created_at": "2025-12-01T10:00:00Z", "expires_at": "2025-12-01T18:00:00Z"}],
    ...                  as_of="2025-12-01T12:00:00Z")
    >>> recompute(df, "2025-12-01T17:30:00Z").loc[0, "expiry_bucket"]
    '< 1 h'
    """
    listing, extras = _split(df)
    raw = {c: _typed(df[c], c) for c in _PROGRESS_RAW} if all(c in df.columns for c in _PROGRESS_RAW) else None
    moment = _as_of(as_of)
    out = _assemble(listing, raw, extras, moment, stall_after, risk_window, df.index)
    out.attrs.update(df.attrs)
    out.attrs["as_of"] = moment
    return out


def join_progress(df, statuses, *, as_of=None, strict=False,
                  stall_after=STALL_AFTER, risk_window=RISK_WINDOW):
    """Add the progress columns from status endpoint bodies.

    Parameters
    ----------
    df : pandas.DataFrame
        A listing frame (from :func:`build_frame` or :func:`frame_from_pages`).
    statuses : mapping of str to dict or None
        upload_id -> the body of ``GET /assets/multipart-uploads/{upload_id}``,
        or None when that endpoint answered 404 (the session vanished). Rows
        whose upload_id is not in the mapping get nulls and ``vanished`` <NA>.
        The body's own ``status`` and ``total_size`` are ignored: the row keeps
        the listing's values.
    as_of : pandas.Timestamp, datetime or str, optional
        The moment all derived columns are computed for; None means now.
    strict : bool, default False
        Raise :class:`~tlanalytics.errors.ResponseFormatError` at the first bad
        body value instead of keeping nulls and warning. Problems are counted in
        ``attrs["progress_malformed_rows"]`` and ``attrs["progress_malformed"]``.
    stall_after, risk_window : pandas.Timedelta
        As in :func:`recompute`.

    Returns
    -------
    pandas.DataFrame
        A new frame: listing, derived, progress columns, then extra columns.

    Examples
    --------
    >>> df = build_frame([{"upload_id": "u1", "status": "active", "total_size": 100,
    ...                    "chunk_size": 50, "total_chunks": 2,
    ...                    "created_at": "2025-12-01T10:00:00Z", "expires_at": "2025-12-01T18:00:00Z"}],
    ...                  as_of="2025-12-01T12:00:00Z")
    >>> body = {"uploaded_size": 50, "chunks_completed": 1, "chunks_failed": 0, "chunks_pending": 1,
    ...         "updated_at": "2025-12-01T11:00:00Z"}
    >>> join_progress(df, {"u1": body}, as_of="2025-12-01T12:00:00Z").loc[0, "progress"]
    np.float64(0.5)
    """
    listing, extras = _split(df)
    uids = listing["upload_id"].to_numpy(dtype=object, na_value=None)
    bodies = [_ABSENT if u is None else statuses.get(u, _ABSENT) for u in uids]
    problems = _parse.Problems(strict, what="status body")
    has = np.array([isinstance(b, dict) for b in bodies], dtype=bool)
    for i in np.flatnonzero(~has).tolist():
        if bodies[i] is not None and bodies[i] is not _ABSENT:
            problems.add(i, uids[i], "body", f"the status body is a {type(bodies[i]).__name__}, not a JSON object")
    found = [b for b in bodies if isinstance(b, dict)]
    where = np.flatnonzero(has)
    found_rows, found_uids = where.tolist(), uids[where].tolist()
    raw = {}
    for key in ("uploaded_size",) + _COUNTERS:
        values, mask = _parse.parse_ints(_parse.column(found, key), key, problems, found_rows, found_uids)
        raw[key] = _scatter_ints(values, mask, where, len(bodies))
    stamps = np.full(len(bodies), NAT)
    stamps[where] = _parse.parse_timestamps(_parse.column(found, "updated_at"), "updated_at",
                                            problems, found_rows, found_uids)
    raw["last_activity"] = _datetimes(stamps)
    vanished = np.array([b is None for b in bodies], dtype=bool)
    raw["vanished"] = pd.arrays.BooleanArray(vanished, np.array([b is _ABSENT for b in bodies], dtype=bool))
    moment = _as_of(as_of)
    out = _assemble(listing, raw, extras, moment, stall_after, risk_window, df.index)
    out.attrs.update(df.attrs)
    out.attrs["as_of"] = moment
    problems.report(out.attrs, prefix="progress_")
    return out


# --- private helpers ------------------------------------------------------


def _add_page(collector, position, page):
    """Parse one listing page (raw or parsed) and add its items to ``collector``."""
    if isinstance(page, (bytes, bytearray, memoryview, str)):
        if isinstance(page, memoryview):
            page = page.tobytes()
        try:
            page = json.loads(page)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than Python's stack
            raise ResponseFormatError(
                f"Page {position} is not valid JSON ({type(exc).__name__}: {str(exc)[:200]}). "
                "The API or a proxy sent something else.",
                field="data", page=position) from exc
    data = page.get("data") if isinstance(page, dict) else None
    if not isinstance(data, list):
        raise ResponseFormatError(
            f"Page {position} has no `data` list (got {type(data).__name__}); "
            "expected a listing response {'data': [...], 'page_info': {...}}.",
            field="data", page=position)
    collector.add(data)


def _finish(collector, as_of):
    """The DataFrame of a filled :class:`~tlanalytics._parse.ListingCollector`."""
    cols, extras = collector.finish()
    codes, categories = cols["status"]
    ids = cols["upload_id"]
    listing = {
        "upload_id": pd.arrays.ArrowStringArray(ids) if _arrow_strings() else pd.array(ids, dtype=dtype_of("upload_id")),
        "status": pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories)),
    }
    for name in ("total_size", "chunk_size", "total_chunks"):
        listing[name] = pd.arrays.IntegerArray(*cols[name])
    for name in ("created_at", "expires_at"):
        listing[name] = _datetimes(cols[name], copy=False)  # a new array of collector.finish
    del cols
    renamed = {}
    for key, values in extras.items():
        name = key
        while name in _KNOWN or name in renamed:
            name = f"api_{name}"
        if name != key:
            logger.info("The API sent a field %r that clashes with a column; kept as %r.", key, name)
        renamed[name] = values
    moment = _as_of(as_of)
    out = _assemble(listing, None, renamed, moment, pd.Timedelta("1h"), pd.Timedelta("2h"), None)
    out.attrs["as_of"] = moment
    collector.problems.report(out.attrs)
    return out


def _arrow_strings():
    """Whether pandas' ``string`` dtype is backed by pyarrow here (then ids are built as arrow arrays)."""
    dtype = pd.api.types.pandas_dtype(dtype_of("upload_id"))
    return dtype.storage == "pyarrow" and dtype == pd.StringDtype("pyarrow", na_value=pd.NA)


def _split(df):
    """The listing columns of ``df`` as arrays of the schema dtypes, and its extra columns."""
    missing = [c for c in _LISTING if c not in df.columns]
    if missing:
        raise InvalidArgumentError(f"The value for `df` must have the listing columns, but {missing} are missing.")
    listing = {c: _typed(df[c], c) for c in _LISTING}
    extras = {c: df[c].array for c in df.columns if c not in _KNOWN}
    return listing, extras


def _typed(series, name):
    """The values of a schema column as an array of its schema dtype (status: any categories).

    Raises InvalidArgumentError naming the column when a value does not fit
    (a timestamp outside 1677-2262, an integer past 64 bits, a fraction).
    """
    dtype = dtype_of(name)
    try:
        if name == "status":
            status = series.astype("category")
            extra = [c for c in status.cat.categories if c not in STATUSES]
            return status.cat.set_categories([*STATUSES, *extra]).array
        if dtype == "datetime64[ns, UTC]":
            return _datetimes(_ns(series))
        return series.astype(dtype).array
    except (TypeError, ValueError, OverflowError) as exc:  # OutOfBoundsDatetime is a ValueError
        raise InvalidArgumentError(f"The value for `df` must hold {dtype} values in column `{name}`, but it holds "
                                   f"{series.dtype} values that do not convert ({type(exc).__name__}: "
                                   f"{str(exc)[:200]}).") from exc


def _assemble(listing, raw, extras, as_of, stall_after, risk_window, index):
    """The full frame: listing, derived, progress (when ``raw`` is given), extras."""
    stall_after = _delta(stall_after, "stall_after").as_unit("ns").value
    risk_window = _delta(risk_window, "risk_window").as_unit("ns").value
    now = as_of.value
    cols = dict(listing)
    cols.update(_derive(listing, now))
    if raw is not None:
        cols.update({c: raw[c] for c in _PROGRESS_RAW})
        cols.update(_derive_progress(cols, now, stall_after, risk_window))
        cols = {c: cols[c] for c in _LISTING + _DERIVED + _PROGRESS}
    index = pd.RangeIndex(len(listing["upload_id"])) if index is None else index
    for name, values in extras.items():
        # Python objects stay as sent (pandas would otherwise infer str and turn None into NaN).
        cols[name] = pd.Series(values, index=index, dtype=values.dtype, copy=False)
    return pd.DataFrame(cols, index=index, copy=False)


def _derive(listing, now):
    """The derived columns of typed listing arrays, relative to ``now`` (ns)."""
    created, expires = _utc_ns(listing["created_at"]), _utc_ns(listing["expires_at"])
    total, total_na = _ints(listing["total_size"])
    chunk, chunk_na = _ints(listing["chunk_size"])
    chunks, chunks_na = _ints(listing["total_chunks"])
    age, tte, life = _sub(now, created), _sub(expires, now), _sub(expires, created)
    ok = (life > 0) & (age != NAT)
    elapsed = np.full(len(age), np.nan)
    np.divide(age, life, out=elapsed, where=ok)  # as age / life where ok, without temporaries
    bucket = _bucket(tte, _EXPIRY_EDGES)
    if len(tte) and tte.min() == NAT:  # (NAT is the least int64)
        bucket[tte == NAT] = -1
    no_chunks = total_na | chunk_na | (chunk <= 0)
    safe = np.where(no_chunks, 1, chunk) if no_chunks.any() else chunk  # (read only below)
    expected, last = np.divmod(total, safe)
    partial = last > 0
    expected += partial  # whole chunks, plus one for the remainder
    np.copyto(last, safe, where=~partial)  # the remainder, or a whole chunk
    size = _bucket(total, SIZE_BUCKET_EDGES)
    if total_na.any():
        size[total_na] = -1
    return {
        "age": _timedeltas(age),
        "time_to_expiry": _timedeltas(tte),
        "lifetime": _timedeltas(life),
        "lifetime_elapsed": elapsed,
        "is_expired": pd.arrays.BooleanArray(expires <= now, expires == NAT),
        "expiry_bucket": pd.Categorical.from_codes(bucket, dtype=dtype_of("expiry_bucket")),
        "expected_chunks": pd.arrays.IntegerArray(expected, no_chunks.copy()),
        "chunks_consistent": pd.arrays.BooleanArray(chunks == expected, no_chunks | chunks_na),
        "last_chunk_size": pd.arrays.IntegerArray(last, no_chunks | (expected == 0)),
        "size_bucket": pd.Categorical.from_codes(size, dtype=dtype_of("size_bucket")),
    }


def _derive_progress(cols, now, stall_after, risk_window):
    """The progress-derived columns (see schema.py) from listing, derived and raw progress arrays."""
    total, total_na = _ints(cols["total_size"])
    up, up_na = _ints(cols["uploaded_size"])
    done, done_na = _ints(cols["chunks_completed"])
    chunks, chunks_na = _ints(cols["total_chunks"])
    last, created, expires = _ns(cols["last_activity"]), _ns(cols["created_at"]), _ns(cols["expires_at"])
    tte = _sub(expires, now)
    idle, active = _sub(now, last), _sub(last, created)
    known = ~up_na & ~total_na
    remaining = np.where(known, total - up, 0)
    with np.errstate(all="ignore"):
        progress = np.where(known & (total > 0), up / np.where(total > 0, total, 1), np.nan)
        chunk_progress = np.where(~done_na & ~chunks_na & (chunks > 0), done / np.where(chunks > 0, chunks, 1), np.nan)
        rate = np.where(~up_na & (active != NAT) & (active > 0), up / (active / 1e9), np.nan)
        moving = rate > 0
        eta_f = now + remaining / np.where(moving, rate, 1) * 1e9
    eta = np.full(len(up), NAT)
    ok = known & moving & (eta_f < 9.2e18)
    eta[ok] = eta_f[ok].astype(np.int64)
    finished = known & (remaining <= 0)
    eta[finished] = last[finished]
    status = pd.Series(cols["status"], copy=False)
    open_ = pd.arrays.BooleanArray(~status.isin(TERMINAL_STATUSES).to_numpy(), status.isna().to_numpy())
    unfinished = open_ & ~cols["is_expired"] & pd.arrays.BooleanArray(up < total, up_na | total_na)
    late = pd.arrays.BooleanArray(moving & (eta > expires), moving & ((eta == NAT) | (expires == NAT)))
    starving = pd.arrays.BooleanArray(~moving & (tte < risk_window), ~moving & (tte == NAT))
    at_risk = unfinished & (late | starving)
    stalled = unfinished & pd.arrays.BooleanArray(idle > stall_after, idle == NAT)
    at_risk[up_na] = pd.NA
    stalled[up_na] = pd.NA
    return {
        "progress": progress,
        "chunk_progress": chunk_progress,
        "idle_for": _timedeltas(idle),
        "upload_rate": rate,
        "eta": _datetimes(eta, copy=False),
        "at_risk": at_risk,
        "stalled": stalled,
    }


def _bucket(values, edges):
    """How many of the few sorted ``edges`` are <= each value (``searchsorted(side="right")``, faster)."""
    out = np.zeros(len(values), np.int8)
    for edge in edges:
        out += values >= edge
    return out


def _sub(a, b):
    """a - b on int64 nanoseconds, NAT where either is NAT or the difference overflows."""
    # numpy scalars, not 0-d arrays: mixed 0-d/1-d bit operations are slow.
    a = a if isinstance(a, np.ndarray) else np.int64(a)
    b = b if isinstance(b, np.ndarray) else np.int64(b)
    d = a - b  # wraps on overflow, caught below
    if isinstance(d, np.ndarray) and d.size:
        lo_a, hi_a, lo_b, hi_b = int(a.min()), int(a.max()), int(b.min()), int(b.max())
        if NAT not in (lo_a, lo_b) and lo_a - hi_b > NAT and hi_a - lo_b <= _INT64_MAX:
            return d  # the usual case: no NAT operand, and the ranges cannot overflow
    if isinstance(b, np.ndarray):
        bad = (b == NAT) | (b > 0) & (d > a) | (b < 0) & (d < a)
    elif b == NAT:
        return np.full(np.shape(d), NAT)
    else:  # a scalar b: one of the overflow tests cannot hold
        bad = (d > a) if b > 0 else (d < a) if b < 0 else np.zeros(np.shape(d), bool)
    bad |= a == NAT
    if isinstance(d, np.ndarray):
        d[bad] = NAT
        return d
    return np.where(bad, NAT, d)


def _ns(values):
    """int64 UTC nanoseconds (NAT for NaT) of a datetime array or Series; naive means UTC."""
    s = pd.Series(values, copy=False)
    if not isinstance(s.dtype, pd.DatetimeTZDtype):
        s = pd.to_datetime(s, utc=True)
    # as_unit raises OutOfBoundsDatetime where to_numpy(dtype="datetime64[ns]") would wrap around silently.
    s = s.dt.tz_convert("UTC").dt.tz_localize(None).dt.as_unit("ns")
    return s.to_numpy(dtype="datetime64[ns]").view(np.int64)


def _utc_ns(values):
    """As :func:`_ns`, read-only, without a conversion when ``values`` already is a ns UTC datetime array."""
    if isinstance(values, pd.arrays.DatetimeArray) and values.dtype == _UTC_NS:
        return values.asi8
    return _ns(values)


def _ints(values):
    """(int64 values with 0 for nulls, null mask) of an integer array."""
    s = pd.Series(values, copy=False).astype("Int64")
    return s.to_numpy(dtype=np.int64, na_value=0), s.isna().to_numpy()


def _scatter_ints(values, mask, where, n):
    """An Int64 array of length ``n`` with ``values`` at positions ``where`` and nulls elsewhere."""
    out, nulls = np.zeros(n, np.int64), np.ones(n, bool)
    out[where] = values
    nulls[where] = False if mask is None else mask
    return pd.arrays.IntegerArray(out, nulls)


def _datetimes(ns, *, copy=True):
    """A UTC datetime array of int64 nanoseconds (NAT -> NaT); ``copy=False`` when ``ns`` is the caller's own."""
    ns = np.array(ns, np.int64, copy=True) if copy else np.asarray(ns, np.int64)
    # The extension-array constructor: as pd.array(...).tz_localize("UTC") (identity on UTC), without its passes.
    return pd.arrays.DatetimeArray._from_sequence(ns.view("datetime64[ns]"), dtype=_UTC_NS)


def _timedeltas(ns):
    """A timedelta array of int64 nanoseconds (NAT -> NaT), on ``ns`` itself (the caller's own new array)."""
    return pd.array(np.asarray(ns, np.int64).view("timedelta64[ns]"), copy=False)


def chunks_frame(items, *, strict=False):
    """Type the ``uploaded_chunks`` items of a session's status pages.

    Columns: ``index`` (Int64, from 1), ``status`` (categorical over
    completed, pending, failed, unknown values appended as extra categories in
    order of appearance), ``uploaded_at`` and ``updated_at``
    (``datetime64[ns, UTC]``) and ``error`` (string), sorted by index. The
    values go through the same checks as the listing's: a value of the wrong
    type, an index below 1 or past 64 bits, a timestamp that does not parse or
    lies outside 1677-2262, a string UTF-8 cannot encode, or an item that is
    not an object becomes null (the row is kept); such rows are counted in
    ``attrs["malformed_rows"]``, the first few listed in ``attrs["malformed"]``
    and announced by one :class:`~tlanalytics.errors.MalformedItemWarning`.

    Parameters
    ----------
    items : iterable of dict
        Chunk items as the status endpoint returns them.
    strict : bool, default False
        Raise :class:`~tlanalytics.errors.ResponseFormatError` at the first bad
        value instead.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    ResponseFormatError
        Only with ``strict=True``, at the first bad value.

    Examples
    --------
    >>> chunks_frame([{"index": 2, "status": "pending"}, {"index": 1, "status": "completed",
    ...                "uploaded_at": "2026-01-01T00:00:00Z"}])["index"].tolist()
    [1, 2]
    """
    problems = _parse.Problems(strict, what="chunk item")
    items = list(items)
    rows = range(len(items))
    items = _parse.as_dicts(items, problems, rows, "chunk item")
    no_id = [None] * len(items)
    index, index_na = _parse.parse_ints(_parse.column(items, "index"), "index", problems, rows, no_id, minimum=1)
    codes = _parse.StatusCodes(CHUNK_STATUSES)
    status = codes.parse(_parse.column(items, "status"), problems, rows, no_id)
    stamps = {key: _datetimes(_parse.parse_timestamps(_parse.column(items, key), key, problems, rows, no_id))
              for key in ("uploaded_at", "updated_at")}
    errors = _parse.column(items, "error")
    present = [i for i, v in enumerate(errors) if v is not None]  # error is optional: only bad values count
    texts = _parse.parse_ids([errors[i] for i in present], "error", problems, [rows[i] for i in present],
                             uids=[None] * len(present))
    errors = np.full(len(items), None, dtype=object)
    errors[present] = texts
    df = pd.DataFrame({
        "index": pd.arrays.IntegerArray(index, np.zeros(len(items), bool) if index_na is None else index_na),
        "status": pd.Categorical.from_codes(status, dtype=pd.CategoricalDtype(codes.categories)),
        **stamps,
        "error": pd.array(errors, dtype="string"),
    })
    df = df.sort_values("index", kind="stable", na_position="last").reset_index(drop=True)
    problems.report(df.attrs)
    return df
