"""Formatting of sizes, durations and moments for people.

Shared by the plots, the HTML report and the CLI, so it imports neither
matplotlib nor anything else heavy. Sizes use binary units (1 KiB = 1024 B),
like the ``size_bucket`` column.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd

__all__ = ["BYTE_UNITS", "format_bytes", "format_duration", "format_utc", "NA_TEXT"]

#: Binary units, smallest first; unit ``k`` is ``1024 ** k`` bytes.
BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
#: What the formatters print for a missing value.
NA_TEXT = "n/a"

# (seconds, suffix) from largest to smallest.
_DURATION_UNITS = ((86400, "d"), (3600, "h"), (60, "min"), (1, "s"))


def _is_missing(value):
    """True for None, NaN, NaT and pd.NA."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _sign_and_size(value, to_float):
    """``(sign, magnitude)`` of ``to_float(value)`` (sign ``"-"`` or ``""``), or None when missing or not finite."""
    if _is_missing(value):
        return None
    number = to_float(value)
    if not math.isfinite(number):
        return None
    return ("-" if number < 0 else ""), abs(number)


def format_bytes(n, *, precision=1):
    """Format a number of bytes in binary units: ``"1023 B"``, ``"1.5 GiB"``.

    Parameters
    ----------
    n : int, float or None
        Bytes. Negative values keep their sign (useful for differences).
    precision : int, default 1
        Decimals shown for units above bytes; trailing zeros are dropped, so
        exactly 1 MiB prints as ``"1 MiB"``.

    Returns
    -------
    str
        ``"n/a"`` for None, NaN, pd.NA and infinities.

    Examples
    --------
    >>> format_bytes(1023), format_bytes(1024), format_bytes(1.5 * 2**30)
    ('1023 B', '1 KiB', '1.5 GiB')
    >>> format_bytes(None)
    'n/a'
    """
    parts = _sign_and_size(n, float)
    if parts is None:
        return NA_TEXT
    sign, value = parts
    if round(value) < 1024:
        return f"{sign}{round(value)} B"
    for power, unit in enumerate(BYTE_UNITS[1:], start=1):
        scaled = round(value / 1024**power, precision)
        # 1023.96 KiB rounds to 1024.0 and reads better as the next unit.
        if scaled < 1024 or power == len(BYTE_UNITS) - 1:
            text = f"{scaled:.{precision}f}"
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            return f"{sign}{text} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def _to_seconds(td):
    """Seconds in a timedelta-like value (numbers are taken as seconds)."""
    if isinstance(td, (pd.Timedelta, timedelta)):
        return pd.Timedelta(td).total_seconds()
    if isinstance(td, np.timedelta64):
        return pd.Timedelta(td).total_seconds()
    if isinstance(td, (int, float, np.integer, np.floating)) and not isinstance(td, bool):
        return float(td)
    raise TypeError(f"format_duration expects a timedelta or seconds, but {type(td).__name__} was passed.")


def format_duration(td):
    """Format a duration with its two largest units: ``"1 h 30 min"``, ``"2 d 3 h"``.

    The value is rounded to the smaller of the two units shown, so
    1 h 59 min 59 s prints as ``"2 h"``. Durations under a minute print in
    seconds (one decimal under 10 s, e.g. ``"0.5 s"``).

    Parameters
    ----------
    td : timedelta, pandas.Timedelta, numpy.timedelta64, number or None
        The duration; plain numbers are seconds. Negative durations keep
        their sign (e.g. a time to expiry that has passed).

    Returns
    -------
    str
        ``"n/a"`` for None, NaT and NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> format_duration(pd.Timedelta(minutes=90)), format_duration(pd.Timedelta(hours=27))
    ('1 h 30 min', '1 d 3 h')
    >>> format_duration(pd.NaT)
    'n/a'
    """
    parts = _sign_and_size(td, _to_seconds)
    if parts is None:
        return NA_TEXT
    sign, seconds = parts
    # Pick the largest unit the duration reaches once rounded to what the next
    # smaller level would show (so 59.6 s is "1 min" but 23 h 40 min stays).
    units = _DURATION_UNITS
    for i, (size, unit) in enumerate(units[:-1]):
        finer = units[i + 2][0] if i + 2 < len(units) else 1
        if round(seconds / finer) * finer < size:
            continue
        small, small_unit = units[i + 1]
        big, rest = divmod(round(seconds / small), size // small)
        if rest == 0:
            return f"{sign}{big} {unit}"
        return f"{sign}{big} {unit} {rest} {small_unit}"
    if round(seconds, 1) < 10 and round(seconds, 1) != round(seconds):
        return f"{sign}{round(seconds, 1)} s"
    return f"{sign}{round(seconds)} s"


def format_utc(ts):
    """Format a moment as ``"2025-06-01 12:00 UTC"`` (naive values are taken as UTC).

    Parameters
    ----------
    ts : pandas.Timestamp, datetime, str or None

    Returns
    -------
    str
        ``"n/a"`` for None and NaT.

    Examples
    --------
    >>> format_utc("2025-06-01T12:00:30Z")
    '2025-06-01 12:00 UTC'
    """
    if _is_missing(ts):
        return NA_TEXT
    ts = pd.Timestamp(ts)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.strftime("%Y-%m-%d %H:%M UTC")


def plural(n, word, plural_form=None):
    """``"1 session"``, ``"2,000 sessions"``: ``n`` with thousands separators and the word agreeing with it."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {plural_form or word + 's'}"
