"""Argument checks shared by every module: one helper per kind of input.

Inputs are sanitised once, at the edge (pandas-datareader's
``_sanitize_dates`` is the model): the loader, :func:`tlanalytics.recompute`
and the CLI turn ``as_of`` into a UTC Timestamp here, and the views read
``df.attrs["as_of"]`` instead of normalising it again. Messages follow
seaborn's form: "The value for `x` must be ..., but 'y' was passed."
"""

from __future__ import annotations

import math
import numbers
from urllib.parse import unquote

import pandas as pd

from .errors import InvalidArgumentError

__all__ = ["as_of", "check_frame", "check_int", "check_number", "check_timeout", "duration", "requestable_id"]


def as_of(value=None, *, name="as_of"):
    """Normalise a moment to a tz-aware UTC ``Timestamp`` in nanoseconds.

    Parameters
    ----------
    value : datetime, Timestamp, str, numpy.datetime64 or None
        The moment; None means now, a naive value means UTC.
    name : str, default "as_of"
        The argument's name, for the error message.

    Returns
    -------
    pandas.Timestamp
        tz-aware (UTC), unit ``ns``.

    Raises
    ------
    InvalidArgumentError
        ``value`` is not a moment, or lies outside what a nanosecond timestamp
        holds (years 1677 to 2262), such as ``9999-01-01``.

    Examples
    --------
    >>> as_of("2025-12-01T10:00:00+01:00")
    Timestamp('2025-12-01 09:00:00+0000', tz='UTC')
    """
    if value is None:
        return pd.Timestamp.now(tz="UTC").as_unit("ns")
    try:
        # No ISO 8601 moment is that long; pandas' parser would spend ~0.1 s per MiB finding out.
        ts = pd.NaT if isinstance(value, str) and len(value) > _MAX_MOMENT_CHARS else pd.Timestamp(value)
    except (TypeError, ValueError, OverflowError):
        ts = pd.NaT
    if ts is pd.NaT:
        raise InvalidArgumentError(f"The value for `{name}` must be a datetime, Timestamp or ISO 8601 "
                                   f"string such as 2025-12-01T10:00:00Z, but {_shown(value)} was passed.")
    try:
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return ts.as_unit("ns")
    except (ValueError, OverflowError):  # OutOfBoundsDatetime is a ValueError
        raise InvalidArgumentError(f"The value for `{name}` must lie between the years 1677 and 2262, "
                                   f"but {_shown(value)} was passed.") from None


_MAX_MOMENT_CHARS = 64  # longer than any ISO 8601 moment pandas reads (nanoseconds and an offset: ~35)


def _shown(value, limit=80):
    """``repr(value)`` for a message, shortened past ``limit`` characters (a bad argument may be huge)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f", {len(value):,} characters" if isinstance(value, (str, bytes)) else ""
    return f"{text[:limit - 20]}... (shortened{size})"


def duration(value, name):
    """A ``Timedelta`` argument, checked; raises :class:`InvalidArgumentError` naming ``name``."""
    try:
        td = pd.Timedelta(value)
    except (TypeError, ValueError, OverflowError):
        td = pd.NaT
    if td is pd.NaT:
        raise InvalidArgumentError(f"The value for `{name}` must be a duration, but {_shown(value)} was passed.")
    return td


def check_frame(df, needed):
    """Check that ``df`` is an uploads frame with the ``needed`` columns.

    Parameters
    ----------
    df : object
        The value passed as ``df``.
    needed : iterable of str
        Column names ``df`` must have.

    Returns
    -------
    None

    Raises
    ------
    InvalidArgumentError
        ``df`` is not a DataFrame, or lacks some of the ``needed`` columns (the message names them).

    Examples
    --------
    >>> check_frame(pd.DataFrame({"status": []}), ["status"])
    """
    if not isinstance(df, pd.DataFrame):
        raise InvalidArgumentError(f"The value for `df` must be a pandas DataFrame, but {type(df).__name__} was passed.")
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise InvalidArgumentError(f"The columns {missing} are missing; load the frame with `load_uploads(...)` "
                                   f"or `build_frame(...)`, which give every listing and derived column.")


def check_int(name, value, low, high=None):
    """An integer argument in ``[low, high]`` (no upper bound when ``high`` is None), as ``int``."""
    bad = isinstance(value, bool) or not isinstance(value, numbers.Integral)
    if bad or value < low or (high is not None and value > high):
        rule = f"an integer from {low} to {high}" if high is not None else f"an integer of at least {low}"
        raise InvalidArgumentError(f"The value for `{name}` must be {rule}, but {_shown(value)} was passed.")
    return int(value)


def check_number(name, value, *, positive=True, allow_none=False):
    """A finite real argument, positive (or at least 0), as ``float``; None passes when ``allow_none``."""
    if value is None and allow_none:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (value <= 0 if positive else value < 0):
        rule = "a positive number" if positive else "a number of at least 0"
        raise InvalidArgumentError(f"The value for `{name}` must be {rule}{' or None' if allow_none else ''}, "
                                   f"but {_shown(value)} was passed.")
    return float(value)


def check_timeout(value):
    """A positive number of seconds, or a ``(connect, read)`` pair of them."""
    values = value if isinstance(value, tuple) else (value,)
    try:
        if len(values) not in (1, 2):
            raise InvalidArgumentError("")
        checked = tuple(check_number("timeout", v) for v in values)
    except InvalidArgumentError:
        raise InvalidArgumentError("The value for `timeout` must be a positive number of seconds or a (connect, read) "
                                   f"pair of them, but {_shown(value)} was passed.") from None
    return checked if isinstance(value, tuple) else checked[0]


def requestable_id(upload_id):
    """True when ``upload_id`` can name only one session in a status URL: it cannot change the URL's path.

    ``quote`` keeps ``.`` and ``..`` as they are, and a server that decodes
    twice turns ``%2e%2e`` into ``..``: such ids, and ids holding ``/``,
    ``\\``, ``?``, ``#`` or unprintable characters (after up to three rounds of
    decoding), would address another path, so no request is sent for them.

    Parameters
    ----------
    upload_id : str

    Returns
    -------
    bool

    Examples
    --------
    >>> requestable_id("507f1f77bcf86cd799439011"), requestable_id("%2e%2e"), requestable_id("a/b")
    (True, False, False)
    """
    text = upload_id
    if not isinstance(text, str):
        return False
    for _ in range(3):  # what a server decoding up to three times would see
        if text in ("", ".", "..") or any(c in text for c in "/\\?#") or not text.isprintable():
            return False
        text = unquote(text)
    return text not in ("", ".", "..") and not any(c in text for c in "/\\?#")
