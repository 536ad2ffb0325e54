"""Fuzzed listing items and pages, through the pure frame builder and through the loader over loopback HTTP.

Items break the documented shape in every way the API (or a proxy) could:
missing and null fields, wrong types, huge and negative numbers, bools where
ints belong, odd timestamp forms (offsets, fractions, lowercase, leap
seconds, year 9999, non-ASCII digits, garbage), unicode and empty ids,
duplicate ids, extra fields (some clashing with column names), items that
are not objects, pages that are not JSON, and ``page_info`` that lies, is
missing or is garbage.

An independent oracle (written from RFC 3339 and the API reference, not from
``_parse.py``) says, for every value, what the frame must hold and whether it
must be reported. The only outcomes allowed:

- a frame whose dtypes are exactly the schema's, with one row per item (per
  distinct ``upload_id`` through the loader, which deduplicates), every value
  and derived value as the oracle says;
- a documented warning (``MalformedItemWarning`` when a value was nulled,
  ``InconsistentListingWarning`` from the loader) with the rows kept;
- a typed error (``ResponseFormatError``).

Example counts are modest for CI; ``TLANALYTICS_SOAK`` multiplies them by 10.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import math
import os
import re
import threading
import unicodedata
import warnings
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlanalytics import schema
from tlanalytics.client import load_uploads
from tlanalytics.errors import (InconsistentListingWarning, MalformedItemWarning, ResponseFormatError,
                                TLAnalyticsError)
from tlanalytics.frame import build_frame, frame_from_pages

SCALE = 10 if os.environ.get("TLANALYTICS_SOAK", "").strip() not in ("", "0") else 1
PURE = settings(max_examples=200 * SCALE, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
STRICT = settings(PURE, max_examples=100 * SCALE)
PAGES = settings(PURE, max_examples=80 * SCALE)
HTTP = settings(PURE, max_examples=30 * SCALE)
AS_OF = pd.Timestamp("2025-12-01T12:00:00Z")
KEY = "tlk_fuzz_0123456789abcdef"
INT_FIELDS = {"total_size": 0, "chunk_size": 1, "total_chunks": 0}
TIME_FIELDS = ("created_at", "expires_at")
FIELDS = ("upload_id", "status", "total_size", "chunk_size", "total_chunks", "created_at", "expires_at")
KNOWN = set(schema.columns())
TS_MIN, TS_MAX = pd.Timestamp.min.value, pd.Timestamp.max.value
I64 = 2**63
HOUR = 3_600 * 10**9
EXPIRY_EDGES = [1, HOUR, 6 * HOUR, 24 * HOUR]
_EPOCH = date(1970, 1, 1).toordinal()
SCHEMA_DTYPES = {name: schema.dtype_of(name) for name in schema.columns()}
# RFC 3339 section 5.6: DIGIT is %x30-39 only; "T"/"Z" may be lowercase; a space
# separator is allowed by its note (so either outcome is accepted for it).
_RFC3339 = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})([Tt ])([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
                      r"([Zz]|[+-][0-9]{2}:[0-9]{2})\Z")

# --- the oracle ------------------------------------------------------------------------
# Each value maps to the outcomes it allows: a set of (value or None, reported?).


def _ok(v):
    return {(v, False)}


_NULL = {(None, False)}
_BAD = {(None, True)}


def _either(v):
    return {(v, False), (None, True)}


MAX_ID_CHARS = 1024  # documented in tlanalytics/_parse.py; real ids have 24 characters


def _encodable(v):
    """JSON's "\\udcff" escapes give lone surrogates, which UTF-8 (and pyarrow strings) cannot hold."""
    return not any(0xD800 <= ord(c) <= 0xDFFF for c in v)


def _text_outcomes(v, is_id=False):
    if v is None:
        return _BAD  # upload_id and status are not optional; reporting them missing is required
    if type(v) is not str or not v or not _encodable(v):
        return _BAD
    if is_id and (len(v) > MAX_ID_CHARS or v in (".", "..") or any(unicodedata.category(c) == "Cc" for c in v)):
        return _BAD  # not usable as one URL path segment: a dot segment, a control character, absurdly long
    return _ok(v)


def _int_outcomes(v, minimum):
    if type(v) is int:
        return _ok(v) if minimum <= v < I64 else _BAD
    if type(v) is float and math.isfinite(v) and v.is_integer() and minimum <= v < I64:
        return _either(int(v))  # 5.0 for 5: JSON does not tell them apart
    return _BAD  # None, bools, fractions, strings, lists...


def _time_outcomes(v):
    if v is None:
        return _NULL  # created_at / expires_at are optional
    if type(v) is not str:
        return _BAD
    m = _RFC3339.match(v)
    if m is None:
        return _BAD
    y, mo, d, sep, h, mi, s, frac, tz = m.groups()
    y, mo, d, h, mi, s = int(y), int(mo), int(d), int(h), int(mi), int(s)
    if not (1 <= mo <= 12) or y < 1 or h > 23 or mi > 59 or s > 60:
        return _BAD
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not 1 <= d <= [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1]:
        return _BAD
    off = 0
    if tz not in ("Z", "z"):
        oh, om = int(tz[1:3]), int(tz[4:6])
        if oh > 23 or om > 59:
            return _BAD
        off = (1 if tz[0] == "+" else -1) * (oh * 3600 + om * 60)
    nanos = int((frac or ".0")[1:10].ljust(9, "0"))  # finer than ns: truncated
    ns = ((date(y, mo, d).toordinal() - _EPOCH) * 86400 + h * 3600 + mi * 60 + s - off) * 10**9 + nanos
    if not TS_MIN <= ns <= TS_MAX:
        return _BAD  # outside what datetime64[ns] holds: 1677-2262
    if s == 60 or sep == " ":
        return _either(ns)  # a leap second (as the next second), or the space form
    return _ok(ns)


def _field_outcomes(item, field):
    v = item.get(field)
    if field in ("upload_id", "status"):
        return _text_outcomes(v, is_id=field == "upload_id")
    if field in INT_FIELDS:
        return _int_outcomes(v, INT_FIELDS[field])
    return _time_outcomes(v)


def _extra_name(key, taken):
    name = key
    while name in KNOWN or name in taken:
        name = "api_" + name
    return name


def _columns(df):
    """Every column as a list of Python values, None for missing (timestamps and durations as ns)."""
    out = {}
    df = df.copy(deep=False)
    df.attrs = {}  # every column access would deep-copy attrs otherwise
    for name in df.columns:
        series = df[name]
        if isinstance(series.dtype, pd.DatetimeTZDtype) or str(series.dtype).startswith("timedelta"):
            out[name] = [None if pd.isna(v) else v.value for v in series]
        else:
            out[name] = [None if (v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))) else v
                         for v in series.astype(object)]
    return out


def _sub(a, b):
    """a - b in ns, None when either is None or it leaves int64 (NaT)."""
    if a is None or b is None:
        return None
    d = a - b
    return d if -I64 < d < I64 else None


def check_frame(df, items, caught, *, as_of=AS_OF):
    """Assert everything the oracle knows about ``build_frame(items)``."""
    n = len(items)
    assert len(df) == n, f"{len(df)} rows for {n} items"
    assert list(df.index) == list(range(n))
    # columns: schema (listing + derived) first, then extra fields in order of first appearance
    listing_derived = schema.columns("listing") + schema.columns("derived")
    assert list(df.columns[: len(listing_derived)]) == listing_derived
    extras, taken = {}, set()
    for item in items:
        if isinstance(item, dict):
            for key in item:
                if key not in FIELDS and key not in extras:
                    extras[key] = _extra_name(key, taken)
                    taken.add(extras[key])
    assert list(df.columns[len(listing_derived):]) == list(extras.values())
    # dtypes: exactly the schema's; status keeps unknown values as extra categories, first seen first
    unknown = []
    for item in items:
        s = item.get("status") if isinstance(item, dict) else None
        if type(s) is str and _text_outcomes(s) == _ok(s) and s not in schema.STATUSES and s not in unknown:
            unknown.append(s)
    for name in listing_derived:
        want = pd.CategoricalDtype(list(schema.STATUSES) + unknown) if name == "status" else SCHEMA_DTYPES[name]
        assert df[name].dtype == want, f"{name}: {df[name].dtype} is not {want}"
    if "status" in df:
        assert list(df["status"].cat.categories) == list(schema.STATUSES) + unknown
    # values, and which (row, field) had to be reported
    cols = _columns(df)
    records = df.attrs["malformed"]
    complete = len(records) < 20  # the frame keeps the first 20 problems
    reported = {(r["row"], r["field"]) for r in records}
    must_rows, may_rows = set(), set()
    for row, item in enumerate(items):
        if not isinstance(item, dict):
            for name in FIELDS + tuple(extras.values()):
                assert cols[name][row] is None, f"row {row} ({item!r}) has a {name}"
            must_rows.add(row)
            if complete:
                assert (row, "data") in reported and not any(r == row and f != "data" for r, f in reported)
            continue
        for field in FIELDS:
            allowed = _field_outcomes(item, field)
            got = cols[field][row]
            got = str(got) if field == "status" and got is not None else got
            flags = {flag for value, flag in allowed if value == got}
            assert flags, f"row {row} {field}: {item.get(field)!r} became {got!r}; allowed {allowed}"
            if complete and flags == {True}:
                assert (row, field) in reported, f"row {row} {field}: {item.get(field)!r} nulled but not reported"
            if complete and flags == {False}:
                assert (row, field) not in reported, f"row {row} {field}: {item.get(field)!r} reported but kept"
            if flags == {True}:
                must_rows.add(row)
            if True in flags:
                may_rows.add(row)
        for key, name in extras.items():
            # an absent field reads as None (NaN where pandas made the column text: see the dtype test)
            assert cols[name][row] == item.get(key) or (cols[name][row] is None and item.get(key) is None), (row, key)
    assert df.attrs["malformed_rows"] >= len(must_rows)
    assert df.attrs["malformed_rows"] <= len(may_rows | must_rows)
    if complete:
        assert df.attrs["malformed_rows"] == len({r for r, _ in reported})
    warned = [w for w in caught if issubclass(w.category, MalformedItemWarning)]
    assert len(warned) == (1 if df.attrs["malformed_rows"] else 0), [str(w.message) for w in warned]
    _check_derived(cols, as_of)


def _check_derived(cols, as_of):
    now = as_of.value
    for row in range(len(cols["upload_id"])):
        created, expires = cols["created_at"][row], cols["expires_at"][row]
        total, chunk, chunks = cols["total_size"][row], cols["chunk_size"][row], cols["total_chunks"][row]
        age, tte, life = _sub(now, created), _sub(expires, now), _sub(expires, created)
        got = (cols["age"][row], cols["time_to_expiry"][row], cols["lifetime"][row])
        assert got == (age, tte, life), (row, got, (age, tte, life))
        assert cols["is_expired"][row] == (None if expires is None else expires <= now), row
        want = None if tte is None else schema.EXPIRY_BUCKETS[bisect.bisect_right(EXPIRY_EDGES, tte)]
        assert cols["expiry_bucket"][row] == want, (row, cols["expiry_bucket"][row], want)
        elapsed = cols["lifetime_elapsed"][row]
        if life is not None and life > 0 and age is not None:
            assert math.isclose(elapsed, age / life, rel_tol=1e-9, abs_tol=1e-12), (row, elapsed, age / life)
        else:
            assert elapsed is None, (row, elapsed)
        expected = -(-total // chunk) if total is not None and chunk is not None else None
        assert cols["expected_chunks"][row] == expected, (row, cols["expected_chunks"][row], expected)
        consistent = None if expected is None or chunks is None else chunks == expected
        assert cols["chunks_consistent"][row] == consistent, row
        want_last = None if expected in (None, 0) else total - (expected - 1) * chunk
        assert cols["last_chunk_size"][row] == want_last, (row, cols["last_chunk_size"][row], want_last)
        want_size = None if total is None else schema.SIZE_BUCKETS[bisect.bisect_right(schema.SIZE_BUCKET_EDGES, total)]
        assert cols["size_bucket"][row] == want_size, (row, cols["size_bucket"][row], want_size)


# --- strategies ---------------------------------------------------------------------------

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.text(max_size=8),
                         st.floats(allow_nan=False, allow_infinity=False))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(st.text(max_size=4), inner,
                                                                                 max_size=3)), max_leaves=6)
WRONG_TYPES = st.one_of(st.none(), st.booleans(), st.lists(JSON_SCALARS, max_size=2),
                        st.dictionaries(st.text(max_size=3), JSON_SCALARS, max_size=2))

IDS = st.one_of(
    st.text(alphabet="0123456789abcdef", min_size=24, max_size=24),
    st.sampled_from(["dup-a", "dup-b", "dup-a"]),  # the same id on several items
    st.text(min_size=1, max_size=12),  # any unicode
    st.sampled_from(["", " ", "\u00e9t\u00e9", "\U0001F4FC", "x" * 2000, "a\x00b", "'=1+1"]),
    st.sampled_from([".", "..", "...", "a/b", "/", "../etc", "a\\b", "a?b#c", "%2e%2e", "\x01", "a\x7f", "a\x85b",
                     "\u2028", "\udcff", "a\ud800b", "x" * MAX_ID_CHARS, "y" * (MAX_ID_CHARS + 1)]),
    WRONG_TYPES, st.integers(),
)
STATUSES = st.one_of(st.sampled_from(schema.STATUSES), st.sampled_from(schema.STATUSES),
                     st.sampled_from(["paused", "ACTIVE", "", " ", "\u00e9chec", "\udcff", "a\x00b"]),
                     st.text(max_size=6),
                     WRONG_TYPES, st.integers())


def ints(minimum):
    return st.one_of(
        st.integers(minimum, 10**11), st.integers(minimum, 10**11),
        st.sampled_from([0, 1, 5 * 2**20, 2**31, 2**53 + 1, I64 - 1, I64, -1, 10**400, -(10**400), 2**64]),
        st.sampled_from([1e308, -1e308, 1e300, "9" * 400, "5", True, False]),
        st.integers(-(2**80), -1), st.integers(I64, 2**90),
        st.booleans(), st.sampled_from([5.0, 1e20, -0.0, 0.5, 2.0**63, float("inf"), float("nan")]),
        st.floats(), st.text(alphabet="0123456789-.e", max_size=6), WRONG_TYPES,
    )


@st.composite
def rfc3339ish(draw):
    """Timestamps built from parts, each part sometimes out of range."""
    y = draw(st.one_of(st.integers(1900, 2100), st.integers(1600, 2300), st.sampled_from([0, 1, 1677, 2262, 9999])))
    mo = draw(st.one_of(st.integers(1, 12), st.integers(0, 13)))
    d = draw(st.one_of(st.integers(1, 28), st.integers(0, 32)))
    h, mi = draw(st.one_of(st.integers(0, 23), st.integers(0, 25))), draw(st.integers(0, 60))
    s = draw(st.one_of(st.integers(0, 59), st.just(60), st.integers(0, 61)))
    sep = draw(st.sampled_from("TTTt "))
    frac = draw(st.one_of(st.just(""), st.text(alphabet="0123456789", min_size=1, max_size=12).map(lambda f: "." + f)))
    tz = draw(st.one_of(st.sampled_from(["Z", "Z", "z", "+00:00", "-00:00"]),
                        st.tuples(st.sampled_from("+-"), st.integers(0, 25), st.integers(0, 60)).map(
                            lambda t: f"{t[0]}{t[1]:02d}:{t[2]:02d}")))
    return f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}{frac}{tz}"


TIMESTAMPS = st.one_of(
    rfc3339ish(), rfc3339ish(),
    st.sampled_from([
        "2025-12-01T10:00:00Z", "9999-12-31T23:59:59Z", "2016-12-31T23:59:60Z", "2025-12-01T12:00:60Z",
        "2025-12-01", "2025-12-01T10:00Z", "2025-12-01T10:00:00", "2025-12-01T10:00:00+0100", "20251201T100000Z",
        "", " 2025-12-01T10:00:00Z", "2025-12-01T10:00:00Z\n", "2025-12-01t10:00:00z", "2025-12-01T10:00:00.Z",
        "1677-09-21T00:12:43.145224191Z", "1677-09-21T00:12:43.145224193Z", "2262-04-11T23:47:16.854775807Z",
        "2262-04-11T23:47:16.854775808Z", "2025-12-01T10:00:00.123456789123Z", "2025-02-29T00:00:00Z",
        "2024-02-29T00:00:00Z", "2025-12-01T10:00:00+23:59", "2025-12-01T10:00:00+24:00",
        "2025-12-01T10:00:00Z".translate({ord(d): 0xFF10 + int(d) for d in "0123456789"}),  # fullwidth digits
        "\u0662\u0660\u0662\u0665-12-01T10:00:00Z",  # Arabic-Indic digits in the year
        "2025-12-01T10:00:00\u200bZ", "Mon, 01 Dec 2025 10:00:00 GMT", "1764583200", "now", "NaT", "null",
        # outside pandas' range, and absurd offsets
        "0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "10000-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z", "+10000-01-01T00:00:00Z", "1677-09-21T00:12:43Z", "2262-04-11T23:47:17Z",
        "2025-12-01T10:00:00+99:99", "2025-12-01T10:00:00-23:59", "2025-12-01T10:00:00+2400:00",
        "2025-12-01T10:00:00+23:59:59", "2262-04-11T23:47:16-00:01", "1677-09-21T00:12:44+00:01",
        "2025-12-01T10:00:00." + "7" * 5000 + "Z", "2025-12-01T10:00:00Z" + " " * 1000, "\udcff",
    ]),
    st.text(max_size=25), st.integers(), st.floats(), WRONG_TYPES,
)
FIELD_STRATEGIES = {"upload_id": IDS, "status": STATUSES, "total_size": ints(0), "chunk_size": ints(1),
                    "total_chunks": ints(0), "created_at": TIMESTAMPS, "expires_at": TIMESTAMPS}
EXTRA_KEYS = st.sampled_from(["note", "region", "\u00fcnic\u00f6de", "", "age", "progress", "vanished", "eta",
                              "uploaded_size", "Upload_ID"])
NOT_OBJECTS = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
                        st.booleans())


@st.composite
def listing_items(draw):
    if draw(st.integers(0, 24)) == 0:
        return draw(NOT_OBJECTS)
    item = {}
    if draw(st.integers(0, 5)) == 0:  # extra fields first: column order must not depend on it
        item.update(draw(st.dictionaries(EXTRA_KEYS, JSON_VALUES, max_size=2)))
    for field in FIELDS:
        roll = draw(st.integers(0, 11))
        if roll == 0:
            continue  # missing
        if roll == 1:
            item[field] = None
        else:
            item[field] = draw(FIELD_STRATEGIES[field])
    item.update(draw(st.dictionaries(EXTRA_KEYS, JSON_VALUES, max_size=2)))
    return item


ITEMS = st.lists(listing_items(), max_size=15)


def _build(func, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = func(*args, **kwargs)
    unexpected = [w for w in caught if not issubclass(w.category, MalformedItemWarning)]
    assert not unexpected, [str(w.message) for w in unexpected]
    return df, caught


@pytest.fixture(scope="module")
def fuzz_counts(reliability_stats):
    counts = reliability_stats.setdefault("fuzz", {})
    counts.setdefault("cover_stories_trusted", 0)
    yield counts


# --- the pure builder ------------------------------------------------------------------------

@PURE
@given(items=ITEMS)
def test_build_frame_keeps_every_item_typed_or_reported(items, fuzz_counts):
    fuzz_counts["build_frame"] = fuzz_counts.get("build_frame", 0) + 1
    df, caught = _build(build_frame, items, as_of=AS_OF)
    check_frame(df, items, caught)


@STRICT
@given(items=ITEMS)
def test_strict_mode_raises_exactly_when_a_value_would_be_nulled(items, fuzz_counts):
    fuzz_counts["build_frame_strict"] = fuzz_counts.get("build_frame_strict", 0) + 1
    lenient, _ = _build(build_frame, items, as_of=AS_OF)
    if lenient.attrs["malformed_rows"]:
        with pytest.raises(ResponseFormatError) as info:
            build_frame(items, as_of=AS_OF, strict=True)
        assert info.value.field in FIELDS + ("data",)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no warning of any kind
            strict = build_frame(items, as_of=AS_OF, strict=True)
        pd.testing.assert_frame_equal(strict, lenient)


def test_extra_fields_are_python_object_columns_whatever_their_values():
    """frame.py documents extra fields as "kept as extra columns of Python objects": absent means None."""
    base = {"upload_id": "u1", "status": "active", "total_size": 10, "chunk_size": 5, "total_chunks": 2,
            "created_at": "2025-12-01T10:00:00Z", "expires_at": "2025-12-01T18:00:00Z"}
    items = [dict(base, note="a", region=1), dict(base, upload_id="u2"), dict(base, upload_id="u3", note="")]
    df, caught = _build(build_frame, items, as_of=AS_OF)
    assert not caught
    assert [df[c].dtype for c in ("note", "region")] == [object, object]
    assert df["note"].tolist() == ["a", None, ""] and df["region"].tolist() == [1, None, None]


GARBAGE_PAGES = st.sampled_from([b"not json", b"", b"[]", b"null", b"42", b'"data"', b'{"data": {}}',
                                 b'{"data": null}', b'{"nodata": []}', b'{"data": "[]"}', b"\xff\xfe{}",
                                 b'{"data": [', "<html>502 Bad Gateway</html>", {"data": 5}, [], None])
PAGE_INFOS = st.one_of(st.none(), st.just({}), JSON_VALUES,
                       st.fixed_dictionaries({}, optional={"limit_per_page": ints(0), "page": ints(0),
                                                           "total_page": ints(0), "total_results": ints(0)}))


@st.composite
def encoded_pages(draw):
    """(pages in any accepted form, their items, position of the first garbage page or None)."""
    pages, items, garbage_at = [], [], None
    for position in range(1, draw(st.integers(0, 5)) + 1):
        if draw(st.integers(0, 14)) == 0:
            pages.append(draw(GARBAGE_PAGES))
            garbage_at = garbage_at or position
            continue
        data = draw(st.lists(listing_items(), max_size=8))
        body = {"data": data}
        info = draw(PAGE_INFOS)
        if info is not None or draw(st.booleans()):
            body["page_info"] = info
        items += data
        form = draw(st.sampled_from(["dict", "bytes", "str", "bytearray", "memoryview"]))
        if form == "dict":
            pages.append(body)
            continue
        text = json.dumps(body, ensure_ascii=draw(st.booleans()))
        if not _encodable(text):  # a lone surrogate travels as a "\\udcff" escape, never raw
            text = json.dumps(body)
        raw = text.encode("utf-8")
        pages.append({"bytes": raw, "str": text, "bytearray": bytearray(raw), "memoryview": memoryview(raw)}[form])
    return pages, items, garbage_at


@PAGES
@given(case=encoded_pages())
def test_frame_from_pages_equals_build_frame_or_names_the_broken_page(case, fuzz_counts):
    fuzz_counts["frame_from_pages"] = fuzz_counts.get("frame_from_pages", 0) + 1
    pages, items, garbage_at = case
    if garbage_at is not None:
        with pytest.raises(ResponseFormatError) as info:
            _build(frame_from_pages, iter(pages), as_of=AS_OF)
        assert info.value.page == garbage_at and info.value.field == "data"
        return
    df, caught = _build(frame_from_pages, iter(pages), as_of=AS_OF)
    check_frame(df, items, caught)
    expected, _ = _build(build_frame, items, as_of=AS_OF)
    pd.testing.assert_frame_equal(df, expected)
    assert df.attrs == expected.attrs


# --- through the loader, over loopback HTTP -------------------------------------------------------

class FuzzServer:
    """A stdlib HTTP server on 127.0.0.1 that serves whatever pages the current example sets."""

    def __init__(self):
        self.pages, self.infos, self.limit, self.broken = [], {}, 1, {}
        self.requests = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                with outer.lock:
                    outer.requests += 1
                status, raw = outer.respond(self.path, self.headers.get("x-api-key"))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1.3"

    def respond(self, path, key):
        if key != KEY:
            return 403, b'{"code": "api_key_invalid", "message": "no"}'
        query = parse_qs(urlsplit(path).query)
        page = int(query["page"][0])
        if page in self.broken:
            return 200, self.broken[page]
        data = self.pages[page - 1] if page <= len(self.pages) else []
        body = {"data": data}
        info = self.infos.get(page, self.infos.get("default", "honest"))
        if info == "honest":
            n = sum(map(len, self.pages))
            body["page_info"] = {"limit_per_page": self.limit, "page": page,
                                 "total_page": math.ceil(n / self.limit), "total_results": n}
        elif info != "absent":
            body["page_info"] = info
        return 200, json.dumps(body).encode()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def fuzz_server():
    server = FuzzServer()
    yield server
    server.close()


def _usable_id(item):
    uid = item.get("upload_id") if isinstance(item, dict) else None
    return uid if type(uid) is str and _text_outcomes(uid, is_id=True) == _ok(uid) else None


def _raw_id(item):
    """The id the loader deduplicates on: any non-empty string, before the frame checks it."""
    uid = item.get("upload_id") if isinstance(item, dict) else None
    return uid if type(uid) is str and uid else None


def _dedup(items):
    """What the loader keeps: one row per upload_id (its first item), and every item without an id."""
    seen, out = set(), []
    for item in items:
        uid = _raw_id(item)
        if uid is not None:
            if uid in seen:
                continue
            seen.add(uid)
        out.append(item)
    return out


def _cover_story_pages(pages, infos, limit):
    """Page counts j at which page_info 'proves' the listing ends although it goes on.

    When pages 1..j are all full and every page_info read says exactly
    ``total_results`` = the distinct ids read so far, the loader trusts it and
    saves the request for page j+1 (a deliberate trade-off, tested in
    tests/test_client.py): a server that lies so consistently is
    indistinguishable from the truth without that extra request.
    """
    out = set()
    for j in range(1, len(pages)):
        if any(len(p) != limit for p in pages[:j]):
            break
        ids = {_usable_id(i) for p in pages[:j] for i in p} - {None}
        totals = set()
        for page in range(1, j + 1):
            info = infos.get(page, infos.get("default"))
            total = info.get("total_results") if isinstance(info, dict) else None
            totals.add(total if type(total) is int else None)
        if totals == {len(ids)}:
            out.add(j)
    return out


@st.composite
def served_listings(draw):
    limit = draw(st.integers(1, 6))
    items = draw(st.lists(listing_items(), max_size=22))
    pages = [items[i:i + limit] for i in range(0, len(items), limit)]
    plausible = st.integers(0, len(items) + 2 * limit).map(
        lambda m: {"limit_per_page": limit, "page": 1, "total_page": math.ceil(m / limit), "total_results": m})
    info = st.one_of(st.just("honest"), st.just("absent"), st.none(), JSON_VALUES, plausible,
                     st.fixed_dictionaries({}, optional={"limit_per_page": ints(0), "page": ints(0),
                                                         "total_page": ints(0), "total_results": ints(0)}))
    infos = {"default": draw(info)}
    for page in draw(st.lists(st.integers(1, len(pages) + 1), max_size=3)):
        infos[page] = draw(info)
    broken = {}
    if pages and draw(st.integers(0, 9)) == 0:
        broken[draw(st.integers(1, len(pages)))] = draw(st.sampled_from([b"[]", b"<html></html>", b'{"data": 1}']))
    return limit, items, pages, infos, broken


@HTTP
@given(case=served_listings())
def test_the_loader_over_http_returns_every_item_or_a_typed_error(case, fuzz_server, fuzz_counts):
    fuzz_counts["loader_over_http"] = fuzz_counts.get("loader_over_http", 0) + 1
    limit, items, pages, infos, broken = case
    fuzz_server.pages, fuzz_server.infos, fuzz_server.limit, fuzz_server.broken = pages, infos, limit, broken
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            df = load_uploads(KEY, base_url=fuzz_server.base_url, page_limit=limit, max_workers=3, max_retries=1,
                              backoff=0.001, timeout=(2, 5), as_of=AS_OF, progress=False)
        except TLAnalyticsError as exc:
            assert broken and isinstance(exc, ResponseFormatError), f"{type(exc).__name__}: {exc}"
            return
    kinds = {w.category for w in caught}
    assert kinds <= {MalformedItemWarning, InconsistentListingWarning}, [str(w.message) for w in caught]
    if df.attrs.get("stopped") == "repeat":  # a full page of ids already seen: the walk stops and says so
        assert df.attrs["consistent"] is False and InconsistentListingWarning in kinds
        return
    got = [None if pd.isna(x) else x for x in df["upload_id"].tolist()]
    for j in [len(pages)] + sorted(_cover_story_pages(pages, infos, limit), reverse=True):
        kept = _dedup([i for p in pages[:j] for i in p])
        if got == [_usable_id(i) for i in kept]:
            check_frame(df, kept, [w for w in caught if issubclass(w.category, MalformedItemWarning)])
            if j != len(pages):
                fuzz_counts["cover_stories_trusted"] = fuzz_counts.get("cover_stories_trusted", 0) + 1
            return
    pytest.fail(f"the loader returned {len(df)} rows ({got[:6]}...) for {len(items)} items in {len(pages)} pages "
                f"of {limit}; page_info {infos}")


# --- every other entry point: both parse paths, status bodies, chunk pages, recompute, key figures ---------------

from tlanalytics import _fastparse  # noqa: E402
from tlanalytics.errors import InvalidArgumentError  # noqa: E402
from tlanalytics.frame import chunks_frame, join_progress, recompute  # noqa: E402
from tlanalytics.metrics import summarize  # noqa: E402

ASCII_HOSTILE_IDS = st.sampled_from([".", "..", "...", "a/b", "/", "a.b", "x" * MAX_ID_CHARS, "y" * (MAX_ID_CHARS + 1),
                                     "%2e", " ", "a b"])


@st.composite
def regular_items(draw):
    """Items the fast path takes (all fields, right JSON types, ASCII), some with ids or values it must refuse."""
    uid = draw(st.one_of(st.text(alphabet="0123456789abcdef", min_size=24, max_size=24), ASCII_HOSTILE_IDS))
    ts = st.one_of(st.just("2025-12-01T10:00:00Z"), st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                                                                      "2025-12-01T10:00:00+99:99",
                                                                      "2262-04-11T23:47:17Z"]))
    return {"upload_id": uid, "status": draw(st.sampled_from(["active", "expired", "odd"])),
            "total_size": draw(st.sampled_from([1, 2**62, I64 - 1, -1])), "chunk_size": draw(st.sampled_from([1, 5])),
            "total_chunks": draw(st.integers(0, 3)), "created_at": draw(ts), "expires_at": draw(ts)}


RAW_PAGES = st.sampled_from([
    b'{"data": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",  # nested deeper than Python's stack
    b'{"data": [{"upload_id": "\xff\xfe", "status": "active"}]}',  # invalid UTF-8
    b'{"data": [{"upload_id": "a\x00b", "status": "active"}]}',  # a raw NUL in a string: not JSON
    b'{"data": [{"upload_id": "a\\u0000b", "status": "active"}]}',  # an escaped one: JSON, a bad id
    b'{"data": [{"upload_id": "\\udcff", "status": "\\ud800"}]}',  # lone surrogates
    b'{"data": [{"upload_id": "u", "total_size": 1' + b"0" * 400 + b'}]}',  # a 401-digit integer
    b'{"data": [{"upload_id": "u", "total_size": 1e308, "chunk_size": -1e308}]}',
])


def _outcome(pages, fast):
    """(("frame", warning messages) or ("error", type, page, field), frame or None, warnings) of one path."""
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mp.setattr(_fastparse, "ENABLED", fast)
        try:
            df = frame_from_pages(iter(pages), as_of=AS_OF)
        except TLAnalyticsError as exc:
            return ("error", type(exc), exc.page, getattr(exc, "field", None)), None, caught
    assert {w.category for w in caught} <= {MalformedItemWarning}
    return ("frame", [str(w.message) for w in caught]), df, caught


_NOT_JSON = (b"[" * 1000, b"\xff\xfe", b"a\x00b")  # deep nesting, invalid UTF-8, a raw NUL: the page is not JSON


@settings(PURE, max_examples=60 * SCALE)
@given(groups=st.lists(st.one_of(st.lists(regular_items(), min_size=1, max_size=6), RAW_PAGES), max_size=5))
def test_both_parse_paths_agree_on_hostile_pages(groups, fuzz_counts):
    fuzz_counts["both_parse_paths"] = fuzz_counts.get("both_parse_paths", 0) + 1
    pages = [g if isinstance(g, bytes) else json.dumps({"data": g}).encode() for g in groups]
    (fast, df_fast, caught), (slow, df_slow, _) = _outcome(pages, True), _outcome(pages, False)
    assert fast == slow
    broken = [i for i, g in enumerate(groups, start=1) if isinstance(g, bytes) and any(m in g for m in _NOT_JSON)]
    if broken:
        assert fast == ("error", ResponseFormatError, broken[0], "data")
        return
    pd.testing.assert_frame_equal(df_fast, df_slow)
    assert df_fast.attrs == df_slow.attrs
    if not any(isinstance(g, bytes) for g in groups):
        check_frame(df_fast, [it for g in groups for it in g], caught)


PROGRESS_INTS = ("uploaded_size", "chunks_completed", "chunks_failed", "chunks_pending")
GOOD_ITEM = {"status": "active", "total_size": 100, "chunk_size": 50, "total_chunks": 2,
             "created_at": "2025-12-01T10:00:00Z", "expires_at": "2025-12-01T18:00:00Z"}


@st.composite
def status_bodies(draw):
    """A status body with hostile values, a body that is not an object, or None (404: vanished)."""
    roll = draw(st.integers(0, 12))
    if roll == 0:
        return None
    if roll == 1:
        return draw(NOT_OBJECTS.filter(lambda v: v is not None))
    body = {}
    for key in PROGRESS_INTS:
        if draw(st.integers(0, 5)):
            body[key] = draw(ints(0))
    if draw(st.integers(0, 5)):
        body["updated_at"] = draw(TIMESTAMPS)
    return body


def _value(v):
    return None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT else v


@settings(PURE, max_examples=100 * SCALE)
@given(bodies=st.lists(status_bodies(), max_size=10), strict=st.booleans())
def test_join_progress_keeps_every_row_typed_or_reported(bodies, strict, fuzz_counts):
    fuzz_counts["join_progress"] = fuzz_counts.get("join_progress", 0) + 1
    items = [dict(GOOD_ITEM, upload_id=f"u{i}") for i in range(len(bodies) + 1)]  # the last one has no body
    df = build_frame(items, as_of=AS_OF)
    statuses = {f"u{i}": b for i, b in enumerate(bodies)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = join_progress(df, statuses, as_of=AS_OF)
    assert len(out) == len(items) and out["upload_id"].tolist() == df["upload_id"].tolist()
    must, may = set(), set()
    for row, body in enumerate(bodies + [None]):
        got = {k: _value(out[k].iloc[row]) for k in PROGRESS_INTS}
        vanished = _value(out["vanished"].iloc[row])
        vanished = None if vanished is None else bool(vanished)
        if row == len(bodies):
            assert vanished is None and all(v is None for v in got.values())
            continue
        if not isinstance(body, dict):
            assert vanished is (body is None) and all(v is None for v in got.values())
            if body is not None:
                must.add(row)
            continue
        assert vanished is False
        for key in PROGRESS_INTS:
            allowed = _int_outcomes(body[key], 0) if key in body else _BAD
            flags = {flag for value, flag in allowed if value == got[key]}
            assert flags, (row, key, body.get(key), got[key])
            (must if flags == {True} else may if True in flags else set()).add(row)
        stamp = out["last_activity"].iloc[row]
        allowed = _time_outcomes(body.get("updated_at"))
        flags = {flag for value, flag in allowed if value == (None if pd.isna(stamp) else stamp.value)}
        assert flags, (row, body.get("updated_at"), stamp)
        (must if flags == {True} else may if True in flags else set()).add(row)
    n = out.attrs["progress_malformed_rows"]
    assert len(must) <= n <= len(must | may)
    assert len([w for w in caught if issubclass(w.category, MalformedItemWarning)]) == (1 if n else 0)
    assert {w.category for w in caught} <= {MalformedItemWarning}
    if strict:
        if n:
            with pytest.raises(ResponseFormatError):
                join_progress(df, statuses, as_of=AS_OF, strict=True)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                pd.testing.assert_frame_equal(join_progress(df, statuses, as_of=AS_OF, strict=True), out)


CHUNK_STATUS_VALUES = st.one_of(st.sampled_from(["completed", "pending", "failed"]), STATUSES)


@st.composite
def chunk_items(draw):
    if draw(st.integers(0, 15)) == 0:
        return draw(NOT_OBJECTS)
    item = {}
    for key, strategy in (("index", ints(1)), ("status", CHUNK_STATUS_VALUES), ("uploaded_at", TIMESTAMPS),
                          ("updated_at", TIMESTAMPS), ("error", st.one_of(st.none(), IDS))):
        if draw(st.integers(0, 6)):
            item[key] = draw(strategy)
    return item


def _chunk_outcomes(item, key):
    v = item.get(key)
    if key == "index":
        return _int_outcomes(v, 1)
    if key == "status":
        return _text_outcomes(v)
    if key == "error":
        return _NULL if v is None else _text_outcomes(v)
    return _time_outcomes(v)


@settings(PURE, max_examples=100 * SCALE)
@given(items=st.lists(chunk_items(), max_size=12))
def test_chunks_frame_keeps_every_chunk_typed_or_reported(items, fuzz_counts):
    fuzz_counts["chunks_frame"] = fuzz_counts.get("chunks_frame", 0) + 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = chunks_frame(items)
    assert len(df) == len(items) and list(df.columns) == ["index", "status", "uploaded_at", "updated_at", "error"]
    assert str(df["index"].dtype) == "Int64" and str(df["uploaded_at"].dtype) == "datetime64[ns, UTC]"
    assert str(df["updated_at"].dtype) == "datetime64[ns, UTC]" and isinstance(df["error"].dtype, pd.StringDtype)
    # rows come back sorted by index (nulls last, stable): match each item to its row
    keyed = []
    for pos, item in enumerate(items):
        idx = {v for v, _ in _chunk_outcomes(item, "index")} if isinstance(item, dict) else {None}
        keyed.append((min((v for v in idx if v is not None), default=None), pos, item))
    must, may = 0, 0
    rows = {i: {c: _value(df[c].iloc[i]) for c in df.columns} for i in range(len(df))}
    order = sorted(keyed, key=lambda t: (t[0] is None, t[0] if t[0] is not None else 0, t[1]))
    for row, (_, _, item) in enumerate(order):
        got = rows[row]
        if not isinstance(item, dict):
            assert all(v is None for v in got.values()), (item, got)
            must += 1
            continue
        flags_row = set()
        for key in ("index", "status", "uploaded_at", "updated_at", "error"):
            value = got[key]
            value = value.value if isinstance(value, pd.Timestamp) else value
            value = str(value) if key == "status" and value is not None else value
            flags = {flag for v, flag in _chunk_outcomes(item, key) if v == value}
            assert flags, (row, key, item.get(key), value)
            flags_row |= {("must" if flags == {True} else "may" if True in flags else "ok")}
        must += "must" in flags_row
        may += "may" in flags_row and "must" not in flags_row
    n = df.attrs["malformed_rows"]
    assert must <= n <= must + may
    assert len([w for w in caught if issubclass(w.category, MalformedItemWarning)]) == (1 if n else 0)
    if n:
        with pytest.raises(ResponseFormatError):
            chunks_frame(items, strict=True)


AS_OF_VALUES = st.one_of(
    st.datetimes(timezones=st.just(None) | st.timezones()),
    st.sampled_from(["0001-01-01", "9999-12-31T23:59:59Z", "10000-01-01", "-0001-01-01", "1677-09-21T00:12:44Z",
                     "2262-04-11T23:47:16Z", "2025-12-01T10:00:00+99:99", "now", "", "x" * (1 << 20)]),
    st.integers(-(2**70), 2**70), st.floats(), st.booleans(), st.none(), st.lists(st.integers(), max_size=1),
)


@settings(PURE, max_examples=100 * SCALE)
@given(items=st.lists(listing_items(), max_size=6), moment=AS_OF_VALUES)
def test_recompute_for_any_moment_or_a_typed_error(items, moment, fuzz_counts):
    fuzz_counts["recompute"] = fuzz_counts.get("recompute", 0) + 1
    df, _ = _build(build_frame, items, as_of=AS_OF)
    try:
        out = recompute(df, moment)
    except InvalidArgumentError as exc:
        assert "as_of" in str(exc)
        return
    assert len(out) == len(df) and list(out.columns) == list(df.columns)
    assert out["upload_id"].equals(df["upload_id"]) and out.attrs["malformed_rows"] == df.attrs["malformed_rows"]
    _check_derived(_columns(out), out.attrs["as_of"])  # the oracle's derived values for that moment
    assert out.attrs["as_of"].unit == "ns" and out.attrs["as_of"].tz is not None


# AS_OF_VALUES' megabyte string is refused by its length (validate.as_of), before pandas' parser.
@settings(PURE, max_examples=100 * SCALE)
@given(items=st.lists(listing_items(), max_size=10), now=st.one_of(st.none(), AS_OF_VALUES))
def test_key_figures_of_any_frame(items, now, fuzz_counts):
    fuzz_counts["summarize"] = fuzz_counts.get("summarize", 0) + 1
    df, _ = _build(build_frame, items, as_of=AS_OF)
    try:
        kpis = summarize(df, as_of=now)
    except InvalidArgumentError:
        assert now is not None  # only a bad moment may fail
        return
    sizes = [v for v in _columns(df)["total_size"] if v is not None]
    assert kpis["sessions"] == len(items) == sum(kpis["status_counts"].values())
    assert kpis["total_bytes"] == sum(sizes)  # exact, even past 2**63 (no int64 wrap-around)
    assert all(type(v) is int and v >= 0 for k, v in dataclasses.asdict(kpis).items() if k.startswith("expiring_"))
    assert kpis["expiring_24h_bytes"] <= kpis["total_bytes"]


# --- the same values over real HTTP, served by the project's simulator ---------------------------------------------

from tlanalytics.client import add_progress, load_chunks  # noqa: E402
from tlanalytics.simulator import RawJSON, Simulator  # noqa: E402
from tlanalytics.validate import requestable_id  # noqa: E402


@st.composite
def simulated_sessions(draw):
    """Session dicts for the simulator: hostile listing and status values, sometimes hostile chunk items."""
    sessions = []
    for item in draw(st.lists(listing_items().filter(lambda i: isinstance(i, dict)), min_size=1, max_size=12)):
        session = {k: v for k, v in item.items() if k in FIELDS}  # the simulator serves only listing fields
        body = draw(status_bodies())
        if isinstance(body, dict):
            session.update(body)
        if draw(st.integers(0, 3)) == 0:
            session["uploaded_chunks"] = draw(st.lists(chunk_items(), max_size=6))
        sessions.append(session)
    return draw(st.integers(1, 5)), sessions


def _served_status(session):
    """The status body the simulator serves for a session (the fields join_progress reads)."""
    return {k: session[k] for k in ("uploaded_size", "chunks_completed", "chunks_failed", "updated_at") if k in session}


@settings(HTTP)
@given(case=simulated_sessions())
def test_hostile_values_over_http_through_the_simulator(case, fuzz_counts):
    fuzz_counts["simulator_over_http"] = fuzz_counts.get("simulator_over_http", 0) + 1
    limit, sessions = case
    opts = dict(base_url=None, progress=False, max_retries=0, timeout=(2, 10))
    with Simulator(sessions, api_key=KEY) as sim, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opts["base_url"] = sim.base_url
        df = load_uploads(KEY, page_limit=limit, as_of=AS_OF, **opts)
        if df.attrs.get("stopped") == "repeat":
            # a full page of ids already seen is how a server ignoring `page` looks; when the data itself repeats
            # ids that densely, the walk stops there and says so (documented; tests/test_paging.py)
            assert df.attrs["consistent"] is False
            assert InconsistentListingWarning in {w.category for w in caught}
            return
        kept = _dedup(sessions)
        listing = [{k: v for k, v in s.items() if k in FIELDS} for s in kept]
        check_frame(df, listing, [w for w in caught if issubclass(w.category, MalformedItemWarning)])
        # repeated ids make total_results disagree with the ids read: the loader says so (documented)
        assert {w.category for w in caught} <= {MalformedItemWarning, InconsistentListingWarning}
        if df.attrs["malformed_rows"]:
            with pytest.raises(ResponseFormatError):
                load_uploads(KEY, page_limit=limit, as_of=AS_OF, strict=True, **opts)
        caught.clear()
        out = add_progress(df, api_key=KEY, **opts)
        assert len(out) == len(df) and out["upload_id"].equals(df["upload_id"])
        assert {w.category for w in caught} <= {MalformedItemWarning}
        for row, session in enumerate(kept):
            requested = _usable_id(session) is not None and requestable_id(session["upload_id"])
            assert bool(pd.isna(out["vanished"].iloc[row])) is not requested
            if not requested:
                assert out[["uploaded_size", "chunks_completed"]].iloc[row].isna().all()
                continue
            served = _served_status(session)
            for key in ("uploaded_size", "chunks_completed", "chunks_failed"):
                allowed = _int_outcomes(served[key], 0) if key in served else _BAD
                assert _value(out[key].iloc[row]) in {v for v, _ in allowed}, (key, served.get(key))
            stamp = out["last_activity"].iloc[row]
            allowed = _time_outcomes(served.get("updated_at"))
            assert (None if pd.isna(stamp) else stamp.value) in {v for v, _ in allowed}
        own = [s for s in kept if _usable_id(s) is not None and requestable_id(s["upload_id"])
               and isinstance(s.get("uploaded_chunks"), list)]
        if own:
            chunks = own[0]["uploaded_chunks"]
            got = load_chunks(own[0]["upload_id"], api_key=KEY, **opts)
            ids = [c.get("index") if isinstance(c, dict) else None for c in chunks]
            integral = [i for i in ids if type(i) is int]
            assert len(got) == len(set(integral)) + (len(ids) - len(integral))  # the loader keeps one per index
            assert {w.category for w in caught} <= {MalformedItemWarning}
    assert not [e for e in sim.request_log if e[2] == 500], "the simulator failed on a hostile value"


HUGE = {"id_2MB": ("upload_id", "z" * (2 << 20)), "status_1MB": ("status", "s" * (1 << 20)),
        "timestamp_3MB": ("created_at", "2025-12-01T10:00:00." + "1" * (3 << 20) + "Z"),
        "garbage_3MB": ("expires_at", "x" * (3 << 20)), "int_100k_digits": ("total_size", 10**100_000 - 1)}


@pytest.mark.parametrize("name", sorted(HUGE))
def test_megabyte_values_at_every_entry_point(name, fuzz_counts):
    """MB-long strings and 100,000-digit integers: nulled with a warning or kept, never an untyped error."""
    import sys

    fuzz_counts["megabyte_values"] = fuzz_counts.get("megabyte_values", 0) + 1
    field, value = HUGE[name]
    item = {**GOOD_ITEM, "upload_id": "u1", field: value}
    want = _field_outcomes(item, field)
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # json.dumps of a 100,000-digit int (Python refuses > 4300 digits by default)
    try:
        page = json.dumps({"data": [item]}).encode()
    finally:
        sys.set_int_max_str_digits(old)
    frames = [_build(build_frame, [item], as_of=AS_OF)[0]]
    for fast in (True, False):
        key, df, caught = _outcome([page], fast)
        if isinstance(value, int):  # json.loads refuses it too: the page is not JSON for this Python
            assert key[0] == "error" and key[1] is ResponseFormatError
            continue
        frames.append(df)
        check_frame(df, [item], caught)
    for df in frames[1:]:
        pd.testing.assert_frame_equal(df, frames[0])
    got = _columns(frames[0])[field][0]
    assert {flag for v, flag in want if v == (str(got) if field == "status" and got is not None else got)}
    chunk = {"index": 1, "status": value if field == "status" else "failed",
             "error": value if isinstance(value, str) else "e", "uploaded_at": item.get("created_at")}
    c = chunks_frame([chunk])
    assert len(c) == 1
    if isinstance(value, str) and field != "upload_id":
        with Simulator([{**item, "uploaded_chunks": [chunk]}], api_key=KEY) as sim:
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("always")
                # a status page repeats the MB-long value up to three times: above the default body cap (8 MiB),
                # which is tested in tests/test_hardening.py; here the values are the subject
                big = dict(progress=False, max_retries=0, max_body=64 << 20)
                df = load_uploads(KEY, base_url=sim.base_url, as_of=AS_OF, **big)
                got_chunks = load_chunks("u1", api_key=KEY, base_url=sim.base_url, **big)
        pd.testing.assert_frame_equal(df, frames[0])
        assert len(got_chunks) == 1


# Bodies that are not JSON for a reason in the bytes: the loader must say so (ResponseFormatError, after its retries),
# not let RecursionError through, nor decode bytes that are not UTF-8 with a guessed charset (RFC 8259: UTF-8).

def test_a_body_nested_too_deep_over_http_is_a_response_format_error():
    item = {**GOOD_ITEM, "upload_id": "u1", "status": RawJSON("[" * 100_000 + "]" * 100_000)}
    with Simulator([item], api_key=KEY) as sim, pytest.raises(ResponseFormatError):
        load_uploads(KEY, base_url=sim.base_url, progress=False, max_retries=0, as_of=AS_OF)


def test_a_body_that_is_not_utf8_over_http_is_a_response_format_error():
    item = {**GOOD_ITEM, "upload_id": "u1", "status": RawJSON(b'"\xff\xfe"')}
    with Simulator([item], api_key=KEY) as sim, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            df = load_uploads(KEY, base_url=sim.base_url, progress=False, max_retries=0, as_of=AS_OF)
        except ResponseFormatError:
            return
    assert df["status"].isna().all() and caught, f"read as {df['status'].tolist()!r} without a warning"
