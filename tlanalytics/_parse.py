"""Private parsing core of :mod:`tlanalytics.frame`: raw API values to typed arrays.

Values are taken out of each page's dicts right after ``json.loads`` (while
they are in the CPU cache) and typed one chunk of rows at a time, so the
Python objects of at most one chunk are alive at once. Each converter has a
vectorised fast path for well-formed input and a per-row fallback that
decides, value by value, what is kept and what is reported as malformed.
"""

from __future__ import annotations

import re
import sys
import warnings
from array import array
from datetime import date
from itertools import repeat

import numpy as np

from .errors import MalformedItemWarning, ResponseFormatError
from .schema import LISTING_FIELDS

NAT = np.iinfo(np.int64).min
_TS_MIN = -9223372036854775807  # pd.Timestamp.min.value
_TS_MAX = 9223372036854775807  # pd.Timestamp.max.value
_MAX_RECORDS = 20
#: Longest ``upload_id`` kept (real ids have 24 characters); longer ones are reported and nulled.
MAX_ID_CHARS = 1024
# Characters an id may not contain: control characters (C0 with NUL, DEL, C1). A "/" is kept: it is
# percent-encoded in a URL path segment; "." and ".." are not (URL normalisation removes them).
_UNSAFE_ID = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_FEW = 32  # below this many rows, the per-row timestamp parser beats the vectorised one
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# numpy 1.x crashes (SIGSEGV) casting an out-of-range date string to datetime64: its parser is used from 2.0 on.
_NUMPY_PARSES = int(np.__version__.split(".")[0]) >= 2

# Offsets of the digits in "YYYY-MM-DDTHH:MM:SS"; days in each month (index 1-12).
_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18])
_DIM_PY = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_DIM = np.array(_DIM_PY)
_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([Zz])|([+-])(\d\d):(\d\d))\Z",
    re.ASCII,
)


class Problems:
    """Collects malformed values: raises at the first one when strict, else counts them."""

    def __init__(self, strict, what="item"):
        self.strict = strict
        self.what = what
        self.rows = set()
        self.records = []
        self.skip = set()  # rows already reported whole (not an object)

    def add(self, row, upload_id, field, problem):
        """Report one bad value of ``field`` in row ``row``."""
        if row in self.skip:
            return
        upload_id = upload_id if isinstance(upload_id, str) and upload_id else None
        if self.strict:
            raise ResponseFormatError(
                f"The {self.what} at row {row} (upload_id {upload_id!r}) has a bad `{field}`: {problem}. "
                "Pass strict=False to keep such rows with nulls instead.",
                field=field,
            )
        self.rows.add(row)
        if len(self.records) < _MAX_RECORDS:
            self.records.append({"row": row, "upload_id": upload_id, "field": field, "problem": problem})

    def report(self, attrs, prefix=""):
        """Store the counts in ``attrs`` and warn once when anything was wrong."""
        attrs[prefix + "malformed_rows"] = len(self.rows)
        attrs[prefix + "malformed"] = list(self.records)
        if self.rows:
            fields = sorted({r["field"] for r in self.records})
            warnings.warn(
                f"{len(self.rows)} {self.what}(s) broke the documented shape (fields: {', '.join(fields)}); "
                f"they were kept with nulls where the value was bad. See df.attrs['{prefix}malformed'].",
                MalformedItemWarning,
                stacklevel=_outside_stacklevel(),
            )


def _outside_stacklevel():
    """The ``stacklevel`` of the first frame outside this package."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "tlanalytics":
        frame, level = frame.f_back, level + 1
    return level


# --- timestamps -----------------------------------------------------------


def _civil_to_days(y, m, d):
    """Days since 1970-01-01 of proleptic Gregorian dates (vectorised, H. Hinnant)."""
    y = y - (m <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + np.where(m > 2, -3, 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _prefix_to_seconds(chars):
    """Seconds since the epoch from an (n, 19) array of 'YYYY-MM-DDTHH:MM:SS' codes, and a validity mask."""
    dig = chars[:, _DIGITS].astype(np.int64) - 48
    ok = ((dig >= 0) & (dig <= 9)).all(axis=1)
    ok &= (chars[:, 4] == 45) & (chars[:, 7] == 45) & (chars[:, 13] == 58) & (chars[:, 16] == 58)
    sep = chars[:, 10]
    ok &= (sep == 84) | (sep == 116) | (sep == 32)
    y = dig[:, 0] * 1000 + dig[:, 1] * 100 + dig[:, 2] * 10 + dig[:, 3]
    mo = dig[:, 4] * 10 + dig[:, 5]
    d = dig[:, 6] * 10 + dig[:, 7]
    h = dig[:, 8] * 10 + dig[:, 9]
    mi = dig[:, 10] * 10 + dig[:, 11]
    s = dig[:, 12] * 10 + dig[:, 13]
    mo_ok = (mo >= 1) & (mo <= 12)
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    dim = _DIM[np.where(mo_ok, mo, 0)] + (leap & (mo == 2))
    # A leap second (60) is valid RFC 3339 but left to the per-row parser.
    ok &= mo_ok & (d >= 1) & (d <= dim) & (h <= 23) & (mi <= 59) & (s <= 59)
    return _civil_to_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s, ok


_SEC_MIN, _SEC_MAX = -9223372036, 9223372035  # whole seconds whose ns (plus a fraction) fit int64 above NAT


def _seconds_to_ns(sec, frac, ok):
    """Nanoseconds from seconds + fraction, NAT where not ``ok`` or out of range."""
    ok = ok & (sec >= _SEC_MIN) & (sec <= _SEC_MAX)
    ns = np.where(ok, sec, 0) * 1_000_000_000 + frac
    return np.where(ok, ns, NAT), ok


def _zulu(mat):
    """Seconds and per-row validity of an (n, 20+) array of 'YYYY-MM-DDTHH:MM:SSZ' codes."""
    z, t = mat[:, 19], mat[:, 10]
    ok = ((z == 90) | (z == 122)) & ((t == 84) | (t == 116))
    if ok.all():
        fixed = ((mat[:, 4] == 45) & (mat[:, 7] == 45) & (mat[:, 13] == 58) & (mat[:, 16] == 58)).all()
        if _NUMPY_PARSES and fixed and ((mat[:, :4] >= 48) & (mat[:, :4] <= 57)).all():
            head = np.array(mat[:, :19], dtype=np.uint8)
            head[:, 10] = 84
            try:
                # numpy's ISO parser checks the digits, month lengths and ranges.
                return head.view("S19").ravel().astype("datetime64[s]").view(np.int64), ok
            except ValueError:
                pass
    sec, valid = _prefix_to_seconds(mat[:, :19])
    return sec, ok & valid


def _vectorised(vals):
    """RFC 3339 strings to ns (NAT where not parsed here) and the mask of parsed values."""
    n = len(vals)
    try:
        joined, strs = "|".join(vals), vals
    except TypeError:  # some value is not a string: left to the per-row parser
        strs = [v if v.__class__ is str else "" for v in vals]
        joined = "|".join(strs)
    ascii_ = joined.isascii()
    if ascii_ and len(joined) == 21 * n - 1 and joined.count("|") == n - 1:
        # Only separators at every 21st place: every value is 20 characters long.
        sec, ok = _zulu(np.frombuffer((joined + "|").encode("ascii"), np.uint8).reshape(n, 21))
        return _seconds_to_ns(sec, 0, ok)
    if ascii_ and joined.count("|") == n - 1:  # no '|' inside values: separators give the lengths
        buf = np.frombuffer(joined.encode("ascii"), np.uint8)
        ends = np.append(np.flatnonzero(buf == 124), len(buf))
        starts = np.concatenate([[0], ends[:-1] + 1])
        lens = ends - starts
    else:
        lens = np.fromiter(map(len, strs), np.int64, n)
        starts = np.cumsum(lens + 1) - (lens + 1)
        if ascii_:
            buf = np.frombuffer(joined.encode("ascii"), np.uint8)
        else:
            buf = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), np.uint32)
    buf = np.concatenate([buf, np.zeros(40, buf.dtype)])  # reads past the end hit zeros
    ns, ok = np.full(n, NAT), np.zeros(n, bool)
    rows = np.flatnonzero(lens == 20)
    if rows.size:
        sec, valid = _zulu(buf[starts[rows, None] + np.arange(20)])
        ns[rows], ok[rows] = _seconds_to_ns(sec, 0, valid)
    rows = np.flatnonzero(lens > 20)
    if rows.size > _FEW:  # a few are cheaper one by one (see parse_timestamps)
        ns[rows], ok[rows] = _other_forms(buf, starts[rows], lens[rows])
    return ns, ok


def _other_forms(buf, starts, lens):
    """Fractional seconds and UTC offsets, vectorised over values at ``starts`` in ``buf``."""
    n = len(starts)
    cand = lens >= 20
    sec, ok = _prefix_to_seconds(buf[starts[:, None] + np.arange(19)])
    ok &= cand
    c19 = buf[starts + 19]
    has_frac = ok & (c19 == 46)
    # Up to 16 fraction digits here (longer ones go to the per-row parser);
    # the run of digits ends at the first non-digit or at the end of the value.
    window = buf[starts[:, None] + np.arange(20, 36)].astype(np.int64) - 48
    inside = np.arange(20, 36) < lens[:, None]
    digit = (window >= 0) & (window <= 9) & inside
    k = np.where(has_frac, np.argmin(np.column_stack([digit, np.zeros(n, bool)]), axis=1), 0)
    ok &= k < 16
    used = np.arange(9) < np.minimum(k, 9)[:, None]
    frac = (np.where(used, window[:, :9], 0) * 10 ** np.arange(8, -1, -1)).sum(axis=1)
    ok &= ~has_frac | (k >= 1)
    p = starts + np.where(has_frac, 20 + k, 19)
    end = starts + lens
    cp = buf[p]
    zulu = ((cp == 90) | (cp == 122)) & (p + 1 == end)
    od = buf[p[:, None] + np.array([1, 2, 4, 5])].astype(np.int64) - 48
    hh, mm = od[:, 0] * 10 + od[:, 1], od[:, 2] * 10 + od[:, 3]
    offset = (
        ((cp == 43) | (cp == 45)) & (p + 6 == end) & (buf[p + 3] == 58)
        & ((od >= 0) & (od <= 9)).all(axis=1) & (hh <= 23) & (mm <= 59)
    )
    off = np.where(offset, np.where(cp == 45, -1, 1) * (hh * 3600 + mm * 60), 0)
    return _seconds_to_ns(sec - off, frac, ok & (zulu | offset))


def _parse_one(value):
    """Per-row RFC 3339 parser: ns, or a problem description."""
    if not isinstance(value, str):
        return None, f"expected an RFC 3339 string, got {type(value).__name__}"
    m = _RFC3339.match(value)
    if m is None:
        return None, f"not an RFC 3339 timestamp: {value[:40]!r}"
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not (1 <= mo <= 12 and 1 <= d <= _DIM_PY[mo] + (leap and mo == 2) and h <= 23 and mi <= 59 and s <= 60):
        return None, f"not a valid date or time: {value[:40]!r}"
    if y < 1:
        return None, f"out of the representable range (1677-2262): {value[:40]!r}"
    days = date(y, mo, d).toordinal() - _EPOCH_ORDINAL
    off = 0
    if m.group(9):
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            return None, f"not a valid UTC offset: {value[:40]!r}"
        off = (1 if m.group(9) == "+" else -1) * (oh * 3600 + om * 60)
    frac = int((m.group(7) or "0")[:9].ljust(9, "0"))
    ns = (days * 86400 + h * 3600 + mi * 60 + s - off) * 1_000_000_000 + frac
    if not _TS_MIN <= ns <= _TS_MAX:
        return None, f"out of the representable range (1677-2262): {value[:40]!r}"
    return ns, None


def parse_timestamps(vals, field, problems, rows, uids):
    """RFC 3339 strings (or None) to int64 UTC nanoseconds with NAT for null or bad values."""
    ns, ok = _vectorised(vals)
    if ok.all():
        return ns
    for i in np.flatnonzero(~ok).tolist():
        v = vals[i]
        if v is None:
            continue
        value, problem = _parse_one(v)
        if problem is None:
            ns[i] = value
        else:
            problems.add(rows[i], uids[i], field, problem)
    return ns


# --- integers, ids, statuses --------------------------------------------


def parse_ints(vals, field, problems, rows, uids, *, minimum=0):
    """Integers ``>= minimum`` to (int64 values, null mask or None); bad or missing -> null."""
    n = len(vals)
    try:
        out = np.frombuffer(array("q", vals), np.int64).copy()
    except (TypeError, OverflowError):
        out = None
    if out is not None:
        # array('q') takes True/False as 1/0: only then are the types worth a look.
        if not (out <= 1).any() or set(map(type, vals)) == {int}:
            bad = out < minimum
            if not bad.any():
                return out, None
    out = np.zeros(n, np.int64)
    mask = np.zeros(n, bool)
    for i, v in enumerate(vals):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            v = int(v)
        elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            v = int(v)
        if v.__class__ is not int:
            kind = "missing" if v is None else f"expected an integer, got {type(v).__name__} {v!r:.40}"
            problems.add(rows[i], uids[i], field, kind)
            mask[i] = True
        elif not minimum <= v < 2**63:
            shown = v if -(10**40) < v < 10**40 else f"an integer of {v.bit_length()} bits"  # str() of 5000 digits raises
            problems.add(rows[i], uids[i], field, f"must be >= {minimum} and fit in 64 bits, got {shown}")
            mask[i] = True
        else:
            out[i] = v
    return out, mask


def text_problem(v, *, is_id=False):
    """Why ``v`` is not a usable text value (None when it is).

    Text must be a non-empty string that UTF-8 can encode (JSON lets a lone
    surrogate through as ``"\\udcff"``). An id must also be usable as one
    (percent-encoded) URL path segment: at most :data:`MAX_ID_CHARS`
    characters, not ``.`` or ``..``, and no control character (NUL included).
    """
    if v.__class__ is not str:
        return "missing" if v is None else f"expected a string, got {type(v).__name__}"
    if not v:
        return "empty"
    if not v.isascii():
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            return f"not encodable as UTF-8 (a lone surrogate): {v[:40]!r}"
    if is_id:
        if len(v) > MAX_ID_CHARS:
            return f"longer than {MAX_ID_CHARS} characters ({len(v)})"
        if v in (".", "..") or _UNSAFE_ID.search(v):
            return f"not usable as a URL path segment: {v[:40]!r}"
    return None


def _texts_ok(vals, is_id):
    """Whether every value of ``vals`` is good text (fast check for the common case)."""
    try:
        joined = " ".join(vals)
    except TypeError:  # a value is not a string
        return False
    if "" in vals or not joined.isascii():
        return False  # the per-value check decides
    if is_id:
        codes = np.frombuffer(joined.encode("ascii"), np.uint8)  # ASCII here: C0 controls and DEL only
        return not (((codes < 32) | (codes == 127)).any() or "." in vals or ".." in vals
                    or (len(joined) > MAX_ID_CHARS and max(map(len, vals)) > MAX_ID_CHARS))
    return True


def parse_ids(vals, field, problems, rows, arrow=False, uids=None):
    """Good text (see :func:`text_problem`; anything else -> null) as an object array, or pyarrow when ``arrow``.

    ``uids`` (the row's upload ids, for reports) is None when ``vals`` are the ids themselves.
    """
    is_id = uids is None
    if not _texts_ok(vals, is_id):
        vals = list(vals)
        for i, v in enumerate(vals):
            problem = text_problem(v, is_id=is_id)
            if problem is not None:
                problems.add(rows[i], None if is_id else uids[i], field, problem)
                vals[i] = None
    if arrow:
        import pyarrow as pa

        return pa.array(vals, type=pa.large_string())
    return np.fromiter(vals, dtype=object, count=len(vals))


class StatusCodes:
    """Category codes of ``status``: documented values first, unknown ones appended as seen."""

    def __init__(self, known):
        self.codes = {s: i for i, s in enumerate(known)}

    def parse(self, vals, problems, rows, uids):
        """Status strings to int32 codes (-1 for bad or missing values)."""
        try:
            return np.fromiter(map(self.codes.__getitem__, vals), np.int32, len(vals))
        except (KeyError, TypeError):
            pass
        out = np.full(len(vals), -1, np.int32)
        codes = self.codes
        for i, v in enumerate(vals):
            code = codes.get(v) if v.__class__ is str else None
            if code is not None:
                out[i] = code
                continue
            problem = text_problem(v)
            if problem is None:
                out[i] = codes.setdefault(v, len(codes))
            else:
                problems.add(rows[i], uids[i], "status", problem)
        return out

    @property
    def categories(self):
        """All categories seen, in code order."""
        return list(self.codes)


_get = dict.get


def column(items, key):
    """The values of ``key`` in a list of dicts (None where absent)."""
    return list(map(_get, items, repeat(key)))


def as_dicts(items, problems, rows, what):
    """``items`` with every non-dict replaced by {} (and reported)."""
    if set(map(type, items)) <= {dict}:
        return items
    out = []
    for i, it in enumerate(items):
        if isinstance(it, dict):
            out.append(it)
        else:
            problems.add(rows[i], None, "data", f"{what} is a {type(it).__name__}, not a JSON object")
            problems.skip.add(rows[i])
            out.append({})
    return out


# --- listing items to typed columns -------------------------------------

_FIELD_SET = frozenset(LISTING_FIELDS)
_INTS = (("total_size", 0), ("chunk_size", 1), ("total_chunks", 0))
CHUNK_ROWS = 16384  # big enough to amortise numpy's per-call cost, small next to the result


class ListingCollector:
    """Turns listing items, fed a page or a batch at a time, into typed column parts.

    Items are converted every ``CHUNK_ROWS`` rows, so at most one chunk of
    parsed dicts is alive at a time whatever the number of pages.
    """

    def __init__(self, statuses, strict, arrow=False):
        self.problems = Problems(strict)
        self.arrow = arrow  # upload_id as pyarrow chunks (pandas' string dtype is pyarrow-backed)
        self.codes = StatusCodes(statuses)
        self.parts = {f: [] for f in LISTING_FIELDS}
        self.masks = {f: [] for f, _ in _INTS}
        self.extras = {}  # name -> {chunk number: object array}
        self.sizes = []  # rows per chunk
        self.n = 0  # rows converted
        self._cols = [[] for _ in LISTING_FIELDS]  # values of the chunk being filled
        self._extra = {}  # name -> [(row in chunk, values)]

    def add(self, items):
        """Take the values out of a list of items.

        Values are taken while the freshly parsed items are still in the CPU
        cache; they are typed once a chunk is full.
        """
        cols = self._cols
        start = len(cols[0])
        try:
            for col, key in zip(cols, LISTING_FIELDS):
                col.extend(map(_get, items, repeat(key)))
        except TypeError:  # an item is not a dict
            for col in cols:
                del col[start:]
            items = as_dicts(items, self.problems, range(self.n + start, self.n + start + len(items)), "item")
            for col, key in zip(cols, LISTING_FIELDS):
                col.extend(map(_get, items, repeat(key)))
        if not _FIELD_SET.issuperset(set().union(*items)):
            for key in dict.fromkeys(k for it in items for k in it if k not in _FIELD_SET):
                self._extra.setdefault(key, []).append((start, column(items, key)))
        if len(cols[0]) >= CHUNK_ROWS:
            self.flush()

    def flush(self):
        """Type the values of the chunk being filled."""
        raw = dict(zip(LISTING_FIELDS, self._cols))
        size = len(self._cols[0])
        rows, extra = range(self.n, self.n + size), self._extra
        self._cols, self._extra = [[] for _ in LISTING_FIELDS], {}
        if not size:
            return
        uids = raw["upload_id"]
        p = self.problems
        self.parts["upload_id"].append(parse_ids(uids, "upload_id", p, rows, self.arrow))
        self.parts["status"].append(self.codes.parse(raw["status"], p, rows, uids))
        for f, minimum in _INTS:
            values, mask = parse_ints(raw[f], f, p, rows, uids, minimum=minimum)
            self.parts[f].append(values)
            self.masks[f].append(mask)
        for f in ("created_at", "expires_at"):
            self.parts[f].append(parse_timestamps(raw[f], f, p, rows, uids))
        for key, pieces in extra.items():
            vals = np.full(size, None, dtype=object)
            for at, piece in pieces:
                vals[at:at + len(piece)] = np.fromiter(piece, dtype=object, count=len(piece))
            self.extras.setdefault(key, {})[len(self.sizes)] = vals
        self.sizes.append(size)
        self.n += size

    def open_rows(self):
        """Rows added but not yet typed (the chunk being filled)."""
        return len(self._cols[0])

    def commit(self, parts, size):
        """Take a whole chunk typed elsewhere (``parts``: field -> values, no malformed value).

        Only between chunks; the same as if its items had been added and flushed.
        """
        assert not self._cols[0] and not self._extra
        if not size:
            return
        for f in LISTING_FIELDS:
            self.parts[f].append(parts[f])
        for f, _ in _INTS:
            self.masks[f].append(None)
        self.sizes.append(size)
        self.n += size

    def finish(self):
        """The typed listing columns (numpy parts joined) and the extra columns (object arrays)."""
        self.flush()

        def cat(parts, dtype):
            return np.concatenate(parts) if parts else np.empty(0, dtype)

        ids = self.parts.pop("upload_id")
        if self.arrow:
            import pyarrow as pa

            ids = pa.chunked_array(ids, type=pa.large_string())
        else:
            ids = cat(ids, object)
        out = {
            "upload_id": ids,
            "status": (cat(self.parts.pop("status"), np.int32), self.codes.categories),
        }
        for f, _ in _INTS:
            masks = self.masks.pop(f)
            if all(m is None for m in masks):  # no null: one array of False, not one per chunk joined
                mask = np.zeros(self.n, bool)
            else:
                mask = cat([np.zeros(s, bool) if m is None else m for m, s in zip(masks, self.sizes)], bool)
            out[f] = (cat(self.parts.pop(f), np.int64), mask)
        for f in ("created_at", "expires_at"):
            out[f] = cat(self.parts.pop(f), np.int64)
        extras = {}
        for key, chunks in self.extras.items():
            parts = []
            for i, size in enumerate(self.sizes):
                parts.append(chunks[i] if i in chunks else np.full(size, None, dtype=object))
            extras[key] = cat(parts, object)
        return out, extras
