"""Tests of tlanalytics.frame: raw items and pages to the typed DataFrame, derived and progress columns."""

from __future__ import annotations

import datetime as dt
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlanalytics import _parse
from tlanalytics.errors import InvalidArgumentError, MalformedItemWarning, ResponseFormatError
from tlanalytics.frame import build_frame, empty_frame, frame_from_pages, join_progress, recompute
from tlanalytics.schema import EXPIRY_BUCKETS, SIZE_BUCKETS, STATUSES, columns, dtype_of

MiB, GiB = 1 << 20, 1 << 30
AS_OF = pd.Timestamp("2025-12-01T12:00:00Z")
T = pd.Timestamp


def item(**changes):
    """A valid listing item: 10 MiB in 2 chunks, created 10:00, expires 18:00 (UTC)."""
    base = {"upload_id": "u1", "status": "active", "total_size": 10 * MiB, "chunk_size": 5 * MiB,
            "total_chunks": 2, "created_at": "2025-12-01T10:00:00Z", "expires_at": "2025-12-01T18:00:00Z"}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def page(items, **info):
    return json.dumps({"data": items, "page_info": info or {"page": 1}}).encode()


def one(**changes):
    """The single row of build_frame([item(**changes)]) at AS_OF."""
    return build_frame([item(**changes)], as_of=AS_OF).iloc[0]


def assert_schema(df, names):
    assert list(df.columns) == names
    for name in names:
        assert df[name].dtype == dtype_of(name), name


# --- shape and dtypes -----------------------------------------------------------


def test_columns_and_dtypes_follow_the_schema():
    df = build_frame([item(), item(upload_id="u2")], as_of=AS_OF)
    assert_schema(df, columns("listing") + columns("derived"))
    assert list(df["status"].cat.categories) == list(STATUSES)
    assert df.attrs["as_of"] == AS_OF and df.attrs["malformed_rows"] == 0 and df.attrs["malformed"] == []


@pytest.mark.parametrize("make", [
    lambda: build_frame([], as_of=AS_OF),
    lambda: frame_from_pages([], as_of=AS_OF),
    lambda: frame_from_pages([page([])], as_of=AS_OF),
    lambda: empty_frame(),
])
def test_empty_input_gives_the_full_schema(make):
    df = make()
    assert len(df) == 0
    assert_schema(df, columns("listing") + columns("derived"))


def test_empty_frame_with_progress():
    df = empty_frame(progress=True)
    assert_schema(df, columns("listing") + columns("derived") + columns("progress"))


def test_integers_stay_integers_with_nulls_and_big_values():
    big = 12 * GiB + 1
    with pytest.warns(MalformedItemWarning):  # u2's missing total_size
        df = build_frame([item(total_size=big, total_chunks=2458), item(upload_id="u2", total_size=None),
                          item(upload_id="u3", chunk_size=5.0 * MiB)], as_of=AS_OF)
    for name in ("total_size", "chunk_size", "total_chunks", "expected_chunks", "last_chunk_size"):
        assert df[name].dtype == "Int64"
    assert df.loc[0, "total_size"] == big  # exact, no float rounding
    assert df.loc[0, "expected_chunks"] == 2458 and df.loc[0, "last_chunk_size"] == big - 2457 * 5 * MiB
    assert df.loc[1, "total_size"] is pd.NA
    assert df.loc[2, "chunk_size"] == 5 * MiB  # an integral float is accepted


# --- timestamps -----------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("2025-12-01T10:00:00Z", "2025-12-01T10:00:00"),
    ("2025-12-01t10:00:00z", "2025-12-01T10:00:00"),
    ("2025-12-01 10:00:00Z", "2025-12-01T10:00:00"),
    ("2025-12-01T10:00:00.5Z", "2025-12-01T10:00:00.5"),
    ("2025-12-01T10:00:00.123Z", "2025-12-01T10:00:00.123"),
    ("2025-12-01T10:00:00.123456Z", "2025-12-01T10:00:00.123456"),
    ("2025-12-01T10:00:00.123456789Z", "2025-12-01T10:00:00.123456789"),
    ("2025-12-01T10:00:00.1234567891234Z", "2025-12-01T10:00:00.123456789"),
    ("2025-12-01T12:00:00+02:00", "2025-12-01T10:00:00"),
    ("2025-12-01T05:30:00-04:30", "2025-12-01T10:00:00"),
    ("2025-12-01T10:00:00+00:00", "2025-12-01T10:00:00"),
    ("2025-12-01T10:00:00-00:00", "2025-12-01T10:00:00"),
    ("2025-12-02T01:00:00.25+15:00", "2025-12-01T10:00:00.25"),
    ("2025-12-01T00:30:00-09:30", "2025-12-01T10:00:00"),
    ("2024-02-29T10:00:00Z", "2024-02-29T10:00:00"),
    ("2016-12-31T23:59:60Z", "2017-01-01T00:00:00"),  # leap second
])
@pytest.mark.parametrize("field", ["created_at", "expires_at"])
def test_every_rfc3339_form_becomes_utc(text, expected, field):
    row = one(**{field: text})
    assert row[field] == pd.Timestamp(expected, tz="UTC")


def test_timestamp_forms_mixed_in_one_chunk():
    texts = ["2025-12-01T10:00:00Z", "2025-12-01T12:00:00+02:00", None, "2025-12-01T10:00:00.5Z",
             "2025-12-01t10:00:00z"] * 3
    df = build_frame([item(upload_id=f"u{i}", created_at=t) for i, t in enumerate(texts)], as_of=AS_OF)
    expected = [pd.NaT if t is None else T("2025-12-01T10:00:00.5Z") if ".5" in t else T("2025-12-01T10:00:00Z")
                for t in texts]
    assert df["created_at"].tolist() == expected


@pytest.mark.parametrize("value", [None, ...])
def test_null_or_absent_timestamps_are_nat_and_not_malformed(value):
    df = build_frame([item(created_at=value, expires_at=value)], as_of=AS_OF)  # would raise on a warning
    assert df["created_at"].isna().all() and df["expires_at"].isna().all()
    assert df.attrs["malformed_rows"] == 0
    assert df["is_expired"].isna().all() and df["age"].isna().all()


@pytest.mark.parametrize("value", [
    "garbage", "", "2025-12-01", "2025-12-01T10:00:00", "2025-13-01T10:00:00Z", "2025-02-29T10:00:00Z",
    "2025-12-01T24:00:00Z", "2025-12-01T10:60:00Z", "2025-12-01T10:00:00+24:00", "2025-12-01T10:00:00.Z",
    "1600-01-01T00:00:00Z", "2300-01-01T00:00:00Z", "2025-12-01T10:00:00Z ", "２０２５-12-01T10:00:00Z",
    "2025-12-01T10:00:00+0200", "2025-12-01T10:00:00+02:0x", "2025-12-01T10:00:00.5", "2025-12-01T10:00:00,5Z",
    "2025-12-01T10:00:00.5Zx", "2025-12-01T10:00:00+02:00Z", "2025-12-01T10:00:00.1234567890123456789Zz",
    12345, 1.5, True, ["2025-12-01T10:00:00Z"], {"t": 1},
])
@pytest.mark.parametrize("few", [0, 10**9])  # vectorised / per-row parsing of the other forms
def test_garbage_timestamps_are_null_and_reported(value, few, monkeypatch):
    monkeypatch.setattr(_parse, "_FEW", few)
    with pytest.warns(MalformedItemWarning, match="created_at"):
        df = build_frame([item(created_at=value), item(upload_id="u2")], as_of=AS_OF)
    assert df["created_at"].isna().tolist() == [True, False]
    assert df.attrs["malformed_rows"] == 1
    assert df.attrs["malformed"][0]["field"] == "created_at" and df.attrs["malformed"][0]["row"] == 0


# --- statuses, extras -------------------------------------------------------


def test_unknown_status_is_kept_as_an_extra_category():
    df = build_frame([item(status="paused"), item(upload_id="u2"), item(upload_id="u3", status="queued")],
                     as_of=AS_OF)
    assert df["status"].tolist() == ["paused", "active", "queued"]
    assert list(df["status"].cat.categories) == [*STATUSES, "paused", "queued"]


def test_extra_fields_are_kept_after_the_schema_columns():
    items = [item(), item(upload_id="u2", region="eu", tags=["a"]), item(upload_id="u3", region="us")]
    df = build_frame(items, as_of=AS_OF)
    assert list(df.columns[-2:]) == ["region", "tags"]
    assert df["region"].tolist() == [None, "eu", "us"]
    assert df.loc[1, "tags"] == ["a"] and df.loc[0, "tags"] is None


def test_extra_field_clashing_with_a_column_is_renamed():
    df = build_frame([item(age=5)], as_of=AS_OF)
    assert df.loc[0, "api_age"] == 5 and df.loc[0, "age"] == pd.Timedelta("2h")


def test_extras_across_pages_and_chunks(monkeypatch):
    monkeypatch.setattr(_parse, "CHUNK_ROWS", 3)
    items = [item(upload_id=f"u{i}", **({"note": i} if i in (1, 7) else {})) for i in range(10)]
    df = frame_from_pages([page(items[:4]), page(items[4:9]), page(items[9:])], as_of=AS_OF)
    assert df["upload_id"].tolist() == [f"u{i}" for i in range(10)]
    assert df["note"].tolist() == [None, 1, None, None, None, None, None, 7, None, None]


# --- derived columns ------------------------------------------------------------


@pytest.mark.parametrize("total, chunk, chunks, expected, last, consistent", [
    (10 * MiB, 5 * MiB, 2, 2, 5 * MiB, True),
    (10 * MiB + 1, 5 * MiB, 3, 3, 1, True),
    (10 * MiB + 1, 5 * MiB, 2, 3, 1, False),
    (1, 5 * MiB, 1, 1, 1, True),
    (0, 5 * MiB, 0, 0, pd.NA, True),
    (2**62 + 1, 2**61, 3, 3, 1, True),  # exact integer arithmetic near the int64 limit
])
def test_expected_chunks_and_last_chunk(total, chunk, chunks, expected, last, consistent):
    row = one(total_size=total, chunk_size=chunk, total_chunks=chunks)
    assert row["expected_chunks"] == expected
    assert row["last_chunk_size"] is pd.NA if last is pd.NA else row["last_chunk_size"] == last
    assert row["chunks_consistent"] == consistent


def test_chunk_columns_are_null_without_a_chunk_size():
    with pytest.warns(MalformedItemWarning):
        row = one(chunk_size=0)
    assert row["expected_chunks"] is pd.NA and row["last_chunk_size"] is pd.NA and row["chunks_consistent"] is pd.NA


@pytest.mark.parametrize("size, bucket", [
    (0, "< 1 MiB"), (MiB - 1, "< 1 MiB"), (MiB, "1-10 MiB"), (10 * MiB - 1, "1-10 MiB"),
    (10 * MiB, "10-100 MiB"), (100 * MiB, "100 MiB-1 GiB"), (GiB - 1, "100 MiB-1 GiB"), (GiB, "1-10 GiB"),
    (10 * GiB - 1, "1-10 GiB"), (10 * GiB, ">= 10 GiB"), (2**50, ">= 10 GiB"),
])
def test_size_bucket_edges(size, bucket):
    df = build_frame([item(total_size=size, total_chunks=-(-size // (5 * MiB)))], as_of=AS_OF)
    assert df.loc[0, "size_bucket"] == bucket
    assert df["size_bucket"].dtype == pd.CategoricalDtype(list(SIZE_BUCKETS), ordered=True)


@pytest.mark.parametrize("to_expiry, bucket, expired", [
    ("-1h", "expired", True), ("0s", "expired", True), ("1ns", "< 1 h", False), ("59min", "< 1 h", False),
    ("1h", "1-6 h", False), ("5h59min", "1-6 h", False), ("6h", "6-24 h", False), ("24h", "> 24 h", False),
    ("30h", "> 24 h", False),
])
def test_expiry_bucket_edges(to_expiry, bucket, expired):
    expires = AS_OF + pd.Timedelta(to_expiry)
    row = one(expires_at=expires.isoformat().replace("+00:00", "Z"))
    assert row["time_to_expiry"] == pd.Timedelta(to_expiry)
    assert row["expiry_bucket"] == bucket and row["is_expired"] == expired


def test_expiry_bucket_unknown_without_expires_at():
    df = build_frame([item(expires_at=None)], as_of=AS_OF)
    assert pd.isna(df.loc[0, "expiry_bucket"]) and df.loc[0, "is_expired"] is pd.NA
    assert df["expiry_bucket"].dtype == pd.CategoricalDtype(list(EXPIRY_BUCKETS), ordered=True)


def test_time_columns():
    row = one()
    assert row["age"] == pd.Timedelta("2h")
    assert row["time_to_expiry"] == pd.Timedelta("6h")
    assert row["lifetime"] == pd.Timedelta("8h")
    assert row["lifetime_elapsed"] == 0.25
    assert row["is_expired"] is np.False_ or row["is_expired"] == False  # noqa: E712


@pytest.mark.parametrize("expires", ["2025-12-01T10:00:00Z", "2025-12-01T09:00:00Z", None])
def test_lifetime_elapsed_is_nan_without_a_positive_lifetime(expires):
    assert np.isnan(one(expires_at=expires)["lifetime_elapsed"])


# --- recompute ------------------------------------------------------------------


def test_recompute_moves_the_derived_columns_and_keeps_attrs():
    df = build_frame([item()], as_of=AS_OF)
    df.attrs["source"] = "test"
    later = recompute(df, "2025-12-01T17:30:00Z")
    assert later is not df and df.loc[0, "age"] == pd.Timedelta("2h")  # the original is untouched
    assert later.loc[0, "age"] == pd.Timedelta("7h30min")
    assert later.loc[0, "time_to_expiry"] == pd.Timedelta("30min")
    assert later.loc[0, "expiry_bucket"] == "< 1 h" and df.loc[0, "expiry_bucket"] == "6-24 h"
    assert later.loc[0, "lifetime_elapsed"] == 7.5 / 8
    assert later.attrs["source"] == "test" and later.attrs["malformed_rows"] == 0
    assert later.attrs["as_of"] == T("2025-12-01T17:30:00Z")
    gone = recompute(df, "2025-12-02")
    assert gone.loc[0, "is_expired"] == True and gone.loc[0, "expiry_bucket"] == "expired"  # noqa: E712
    assert_schema(later, columns("listing") + columns("derived"))


@pytest.mark.parametrize("as_of", [
    "2025-12-01T13:00:00", dt.datetime(2025, 12, 1, 13), pd.Timestamp("2025-12-01 13:00"),
    "2025-12-01T14:00:00+01:00", pd.Timestamp("2025-12-01 08:00", tz="America/New_York"),
    np.datetime64("2025-12-01T13:00:00"),
])
def test_recompute_as_of_forms_naive_means_utc(as_of):
    out = recompute(build_frame([item()], as_of=AS_OF), as_of)
    assert out.attrs["as_of"] == T("2025-12-01T13:00:00Z") and str(out.attrs["as_of"].tz) == "UTC"
    assert out.loc[0, "age"] == pd.Timedelta("3h")


def test_recompute_default_is_now():
    before = pd.Timestamp.now(tz="UTC")
    out = recompute(build_frame([item()], as_of=AS_OF))
    assert before <= out.attrs["as_of"] <= pd.Timestamp.now(tz="UTC")


@pytest.mark.parametrize("bad", ["yesterday-ish", pd.NaT, [1, 2]])
def test_recompute_rejects_bad_as_of(bad):
    with pytest.raises(InvalidArgumentError, match="as_of"):
        recompute(build_frame([item()], as_of=AS_OF), bad)


def test_recompute_needs_the_listing_columns():
    with pytest.raises(InvalidArgumentError, match="listing columns"):
        recompute(pd.DataFrame({"upload_id": ["u1"]}), AS_OF)


def test_recompute_keeps_extras_and_index():
    df = build_frame([item(region="eu"), item(upload_id="u2")], as_of=AS_OF).set_axis([5, 9])
    out = recompute(df, AS_OF)
    assert list(out.index) == [5, 9] and out["region"].tolist() == ["eu", None]


# --- malformed items -------------------------------------------------------------


BAD = [
    ("upload_id", None), ("upload_id", ""), ("upload_id", 17), ("upload_id", ...),
    ("status", 3), ("status", None), ("status", ...), ("status", ["active"]),
    ("total_size", "10"), ("total_size", -1), ("total_size", True), ("total_size", 1.5), ("total_size", None),
    ("total_size", float("nan")), ("total_size", 2**64),
    ("chunk_size", 0), ("chunk_size", -5), ("chunk_size", False), ("chunk_size", {"a": 1}),
    ("total_chunks", -1), ("total_chunks", "2"), ("total_chunks", True),
    ("created_at", "soon"), ("expires_at", 1764590400),
]


@pytest.mark.parametrize("field, value", BAD)
def test_malformed_value_kept_as_null_with_one_warning(field, value):
    items = [item(upload_id="ok1"), item(**{"upload_id": "bad", field: value}), item(upload_id="ok2")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = build_frame(items, as_of=AS_OF)
    assert [w.category for w in caught] == [MalformedItemWarning]
    assert caught[0].filename == __file__  # the stacklevel points at the caller
    assert field in str(caught[0].message)
    assert len(df) == 3 and df.attrs["malformed_rows"] == 1
    assert df.attrs["malformed"] == [{"row": 1, "upload_id": None if field == "upload_id" else "bad",
                                      "field": field, "problem": df.attrs["malformed"][0]["problem"]}]
    assert pd.isna(df.loc[1, field])
    others = [c for c in columns("listing") if c != field]
    assert df.loc[1, others].notna().all()  # the rest of the row is kept


@pytest.mark.parametrize("field, value", BAD)
def test_strict_mode_raises_naming_the_field(field, value):
    with pytest.raises(ResponseFormatError, match=field) as info:
        build_frame([item(), item(**{field: value})], as_of=AS_OF, strict=True)
    assert info.value.field == field


@pytest.mark.parametrize("bad", [5, "item", None, ["u1"]])
def test_non_dict_item_is_a_row_of_nulls(bad):
    with pytest.warns(MalformedItemWarning):
        df = build_frame([item(), bad, item(upload_id="u3")], as_of=AS_OF)
    assert df["upload_id"].tolist() == ["u1", pd.NA, "u3"]
    assert df.loc[1, columns("listing")].isna().all()
    assert df.attrs["malformed_rows"] == 1 and df.attrs["malformed"][0]["field"] == "data"
    with pytest.raises(ResponseFormatError) as info:
        build_frame([item(), bad], as_of=AS_OF, strict=True)
    assert info.value.field == "data"


def test_many_malformed_rows_are_counted_and_listed_briefly(monkeypatch):
    monkeypatch.setattr(_parse, "CHUNK_ROWS", 16)
    items = [item(upload_id=f"u{i}", total_size="x" if i % 2 else 5, created_at="bad" if i % 3 == 0 else None)
             for i in range(100)]
    with pytest.warns(MalformedItemWarning) as caught:
        df = frame_from_pages([page(items[:50]), page(items[50:])], as_of=AS_OF)
    assert len(caught) == 1
    assert df.attrs["malformed_rows"] == sum(1 for i in range(100) if i % 2 or i % 3 == 0)
    assert 0 < len(df.attrs["malformed"]) <= 20
    assert all(r["upload_id"] == f"u{r['row']}" for r in df.attrs["malformed"])


# --- pages -----------------------------------------------------------------------


def test_frame_from_pages_accepts_bytes_str_and_dicts():
    items = [item(upload_id=f"u{i}") for i in range(6)]
    pages = [page(items[:2]), page(items[2:4]).decode(), {"data": items[4:], "page_info": {}}]
    df = frame_from_pages(iter(pages), as_of=AS_OF)
    pd.testing.assert_frame_equal(df, build_frame(items, as_of=AS_OF))


@pytest.mark.parametrize("body, position", [
    (b"not json", 2), (b'{"data": [', 2), (b"[1, 2]", 2), (b'{"data": {"a": 1}}', 2), (b'{"items": []}', 2),
    (b'{"data": null}', 2), (b"\xff\xfe\x00", 2), (17, 2), ('{"data": "x"}', 2),
])
def test_frame_from_pages_rejects_broken_pages(body, position):
    with pytest.raises(ResponseFormatError, match="Page 2") as info:
        frame_from_pages([page([item()]), body, page([item()])], as_of=AS_OF)
    assert info.value.field == "data" and info.value.page == position


def test_frame_from_pages_streams_pages():
    seen = []

    def pages():
        for i in range(3):
            seen.append(i)
            yield page([item(upload_id=f"u{i}")])

    df = frame_from_pages(pages(), as_of=AS_OF)
    assert seen == [0, 1, 2] and df["upload_id"].tolist() == ["u0", "u1", "u2"]


def test_duplicates_are_kept():
    df = build_frame([item(), item()], as_of=AS_OF)
    assert df["upload_id"].tolist() == ["u1", "u1"]


# --- progress --------------------------------------------------------------------


def body(uploaded, completed=1, updated="2025-12-01T11:00:00Z", **extra):
    return {"upload_id": "x", "status": "completed", "chunks_completed": completed, "chunks_failed": 0,
            "chunks_pending": 2 - completed, "total_size": 1, "uploaded_size": uploaded, "updated_at": updated,
            "created_at": "2025-12-01T10:00:00Z", **extra}


def progress_frame(bodies, rows=None, as_of=AS_OF, **kwargs):
    """join_progress over listing rows u0.. (7200 bytes each, 10:00 -> 18:00) with ``bodies``."""
    rows = rows or [{} for _ in bodies]
    items = [item(upload_id=f"u{i}", total_size=7200, chunk_size=3600, total_chunks=2, **r) for i, r in enumerate(rows)]
    df = build_frame(items, as_of=as_of)
    statuses = {f"u{i}": b for i, b in enumerate(bodies) if b is not ...}
    return join_progress(df, statuses, as_of=as_of, **kwargs)


def test_join_progress_columns_values_and_vanished():
    out = progress_frame([body(3600), None, ...])
    assert_schema(out, columns("listing") + columns("derived") + columns("progress"))
    assert out["vanished"].tolist() == [False, True, pd.NA]
    assert out.loc[0, "uploaded_size"] == 3600 and out.loc[0, "chunks_completed"] == 1
    assert out.loc[0, "chunks_pending"] == 1 and out.loc[0, "chunks_failed"] == 0
    assert out.loc[0, "last_activity"] == T("2025-12-01T11:00:00Z")
    assert out.loc[0, "progress"] == 0.5 and out.loc[0, "chunk_progress"] == 0.5
    assert out.loc[0, "idle_for"] == pd.Timedelta("1h")
    assert out.loc[0, "upload_rate"] == 1.0  # 3600 bytes in the hour since creation
    assert out.loc[0, "eta"] == T("2025-12-01T13:00:00Z")
    assert out.loc[0, "status"] == "active"  # the body's status is ignored
    for i in (1, 2):
        assert out.loc[i, ["uploaded_size", "chunks_completed", "last_activity"]].isna().all()
        assert np.isnan(out.loc[i, "progress"]) and out.loc[i, "at_risk"] is pd.NA and out.loc[i, "stalled"] is pd.NA
    assert out.attrs["progress_malformed_rows"] == 0 and out.attrs["as_of"] == AS_OF


@pytest.mark.parametrize("uploaded, updated, as_of, row, at_risk, stalled, eta", [
    # 1 B/s, 3600 left -> done at 13:00, well before expiry at 18:00
    (3600, "2025-12-01T11:00:00Z", AS_OF, {}, False, False, T("2025-12-01T13:00:00Z")),
    # idle just over the 1 h threshold
    (3600, "2025-12-01T11:00:00Z", AS_OF + pd.Timedelta("1s"), {}, False, True, T("2025-12-01T13:00:01Z")),
    # 0.1 B/s, 6840 left -> 19 h, after expiry
    (360, "2025-12-01T11:00:00Z", AS_OF, {}, True, False, T("2025-12-02T07:00:00Z")),
    # nothing moved, 6 h of life left: not yet at risk; no eta
    (0, "2025-12-01T11:00:00Z", AS_OF, {}, False, False, pd.NaT),
    # nothing moved, 1.5 h left (< 2 h window): at risk, and idle 5.5 h: stalled
    (0, "2025-12-01T11:00:00Z", T("2025-12-01T16:30:00Z"), {}, True, True, pd.NaT),
    # no active time yet (updated == created): rate unknown counts as nothing moved
    (100, "2025-12-01T10:00:00Z", T("2025-12-01T16:30:00Z"), {}, True, True, pd.NaT),
    # all bytes in: finished, eta is the last activity
    (7200, "2025-12-01T11:00:00Z", AS_OF, {}, False, False, T("2025-12-01T11:00:00Z")),
    # slow but the listing says completed / the session expired
    (360, "2025-12-01T11:00:00Z", AS_OF, {"status": "completed"}, False, False, T("2025-12-02T07:00:00Z")),
    (0, "2025-12-01T11:00:00Z", T("2025-12-01T18:00:00Z"), {}, False, False, pd.NaT),
    # unknown status and unknown expiry: not knowable
    (360, "2025-12-01T11:00:00Z", AS_OF, {"expires_at": None}, pd.NA, False, T("2025-12-02T07:00:00Z")),
])
def test_at_risk_stalled_eta(uploaded, updated, as_of, row, at_risk, stalled, eta):
    out = progress_frame([body(uploaded, updated=updated)], rows=[row], as_of=as_of)
    assert out.loc[0, "at_risk"] is at_risk if at_risk is pd.NA else out.loc[0, "at_risk"] == at_risk
    assert out.loc[0, "stalled"] == stalled
    assert out.loc[0, "eta"] is pd.NaT if eta is pd.NaT else out.loc[0, "eta"] == eta


def test_thresholds_are_parameters():
    out = progress_frame([body(0)], stall_after=pd.Timedelta("2h"), risk_window=pd.Timedelta("7h"))
    assert out.loc[0, "stalled"] == False and out.loc[0, "at_risk"] == True  # noqa: E712


def test_recompute_after_join_recomputes_progress():
    out = progress_frame([body(3600)])
    later = recompute(out, AS_OF + pd.Timedelta("2h"))
    assert later.loc[0, "idle_for"] == pd.Timedelta("3h") and later.loc[0, "stalled"] == True  # noqa: E712
    assert later.loc[0, "eta"] == T("2025-12-01T15:00:00Z")
    assert_schema(later, columns("listing") + columns("derived") + columns("progress"))


def test_join_progress_with_nothing_found_and_on_an_empty_frame():
    out = progress_frame([None, ...])
    assert out["vanished"].tolist() == [True, pd.NA] and out["uploaded_size"].isna().all()
    empty = join_progress(build_frame([], as_of=AS_OF), {}, as_of=AS_OF)
    assert len(empty) == 0
    assert_schema(empty, columns("listing") + columns("derived") + columns("progress"))


def test_numpy_numbers_from_python_callers_are_accepted():
    row = one(total_size=np.int64(10 * MiB), chunk_size=np.float64(5 * MiB), total_chunks=1)
    assert row["total_size"] == 10 * MiB and row["chunk_size"] == 5 * MiB and row["chunks_consistent"] == False  # noqa: E712


def test_join_progress_keeps_extras_last():
    df = build_frame([item(region="eu")], as_of=AS_OF)
    out = join_progress(df, {"u1": body(5)}, as_of=AS_OF)
    assert list(out.columns) == columns("listing") + columns("derived") + columns("progress") + ["region"]


@pytest.mark.parametrize("bad, field", [
    ({"uploaded_size": "lots"}, "uploaded_size"), ({"chunks_completed": -1}, "chunks_completed"),
    ({"chunks_failed": None}, "chunks_failed"), ({"updated_at": "yesterday"}, "updated_at"),
])
def test_malformed_status_bodies(bad, field):
    good = body(3600)
    with pytest.warns(MalformedItemWarning, match=field):
        out = progress_frame([{**good, **bad}, good])
    assert out.attrs["progress_malformed_rows"] == 1 and out.attrs["progress_malformed"][0]["field"] == field
    assert pd.isna(out.loc[0, "last_activity" if field == "updated_at" else field])
    assert out.loc[1, "uploaded_size"] == 3600 and out.loc[0, "vanished"] == False  # noqa: E712
    with pytest.raises(ResponseFormatError) as info:
        progress_frame([{**good, **bad}], strict=True)
    assert info.value.field == field


def test_status_body_that_is_not_an_object():
    with pytest.warns(MalformedItemWarning):
        out = progress_frame(["oops"])
    assert out.loc[0, "vanished"] == False and out.loc[0, "uploaded_size"] is pd.NA  # noqa: E712
    with pytest.raises(ResponseFormatError) as info:
        progress_frame(["oops"], strict=True)
    assert info.value.field == "body"


# --- properties ------------------------------------------------------------------

_NS_MIN, _NS_MAX = 0, 4_102_444_800 * 10**9  # 1970 .. 2100


# Text that makes a good upload_id: no control characters or lone surrogates.
_ID_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=8)


@st.composite
def timestamps(draw):
    """(RFC 3339 text, expected UTC Timestamp) in any form."""
    ns = draw(st.integers(_NS_MIN, _NS_MAX))
    offset = draw(st.sampled_from([None, "z"]) | st.integers(-23 * 60 - 59, 23 * 60 + 59))
    digits = draw(st.integers(0, 12))
    sep = draw(st.sampled_from("Tt "))
    sec, frac = divmod(ns, 10**9)
    local = sec + (offset * 60 if isinstance(offset, int) else 0)
    text = (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=local)).strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    kept = frac
    if digits:
        text += "." + f"{frac:09d}{draw(st.integers(0, 999)):03d}"[:digits]
        kept = frac // 10 ** max(9 - digits, 0) * 10 ** max(9 - digits, 0)
    else:
        kept = 0
    if offset is None or offset == "z":
        text += "Z" if offset is None else "z"
    else:
        text += f"{'-' if offset < 0 else '+'}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    return text, pd.Timestamp(sec * 10**9 + kept, tz="UTC")


@st.composite
def valid_items(draw, max_size=30):
    n = draw(st.integers(0, max_size))
    out = []
    for i in range(n):
        total = draw(st.integers(0, 2**62))
        chunk = draw(st.integers(1, 2**40))
        created = draw(st.none() | timestamps())
        expires = draw(st.none() | timestamps())
        it = {"upload_id": draw(_ID_TEXT) + f"-{i}",
              "status": draw(st.sampled_from([*STATUSES, "paused"])), "total_size": total, "chunk_size": chunk,
              "total_chunks": draw(st.integers(0, 2**40)), "created_at": created and created[0],
              "expires_at": expires and expires[0]}
        out.append((it, created and created[1], expires and expires[1]))
    return out


@settings(max_examples=25, deadline=None)
@given(valid_items(max_size=15))
def test_build_frame_round_trip(rows):
    items = [r[0] for r in rows]
    df = build_frame(items, as_of=AS_OF)
    assert df["upload_id"].tolist() == [it["upload_id"] for it in items]
    assert df["status"].astype(object).tolist() == [it["status"] for it in items]
    for name in ("total_size", "chunk_size", "total_chunks"):
        assert df[name].tolist() == [it[name] for it in items]
    assert df["created_at"].tolist() == [pd.NaT if r[1] is None else r[1] for r in rows]
    assert df["expires_at"].tolist() == [pd.NaT if r[2] is None else r[2] for r in rows]
    assert df["expected_chunks"].tolist() == [-(-it["total_size"] // it["chunk_size"]) for it in items]
    assert df.attrs["malformed_rows"] == 0


@settings(max_examples=20, deadline=None)
@given(valid_items(max_size=20), st.data())
def test_any_split_into_pages_equals_build_frame(rows, data):
    items = [r[0] for r in rows]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(items)), max_size=5)))
    bounds = [0, *cuts, len(items)]
    pages = [page(items[a:b]) for a, b in zip(bounds, bounds[1:])]
    pd.testing.assert_frame_equal(frame_from_pages(pages, as_of=AS_OF), build_frame(items, as_of=AS_OF))


@pytest.mark.parametrize("few", [0, 10**9])  # vectorised / per-row parsing of the other forms
@settings(max_examples=30, deadline=None)
@given(st.lists(timestamps(), min_size=1, max_size=40))
def test_timestamp_parser_matches_expected(few, pairs):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_parse, "_FEW", few)
        ns = _parse.parse_timestamps([p[0] for p in pairs], "created_at", _parse.Problems(True),
                                     range(len(pairs)), [None] * len(pairs))
    assert ns.tolist() == [p[1].value for p in pairs]


# --- the pyarrow fast path of frame_from_pages gives exactly the per-page path's results ---------------

from hypothesis import HealthCheck  # noqa: E402

from tlanalytics import _fastparse, frame as _frame_module  # noqa: E402

needs_pyarrow = pytest.mark.skipif(_fastparse._arrow() is None, reason="the fast path needs pyarrow")

_ASCII_ID = st.text(st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters='"\\'),
                    min_size=1, max_size=6)


def _outcome(pages, fast, *, strict=False, arrow_strings=True):
    """(frame or None, attrs, warnings, error, pages the per-page path took) of one path."""
    slow_calls = []
    real_add = _frame_module._add_page

    def counting_add(collector, position, page):
        slow_calls.append(position)
        return real_add(collector, position, page)

    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mp.setattr(_fastparse, "ENABLED", fast)
        mp.setattr(_frame_module, "_add_page", counting_add)
        if not arrow_strings:
            mp.setattr(_frame_module, "_arrow_strings", lambda: False)
        try:
            df, error = frame_from_pages(iter(pages), as_of=AS_OF, strict=strict), None
        except Exception as exc:  # noqa: BLE001 - compared below
            df, error = None, (type(exc), str(exc), getattr(exc, "field", None), getattr(exc, "page", None))
    seen = [(w.category, str(w.message), w.filename) for w in caught]
    return df, (df.attrs if df is not None else None), seen, error, slow_calls


def assert_same_paths(pages, *, strict=False, arrow_strings=True, fast_pages=None):
    """Both paths give equal frames, attrs, warnings and errors; returns the fast path's per-page calls."""
    assert _fastparse.usable()
    fast = _outcome(pages, True, strict=strict, arrow_strings=arrow_strings)
    slow = _outcome(pages, False, strict=strict, arrow_strings=arrow_strings)
    if slow[0] is None:
        assert fast[0] is None
    else:
        pd.testing.assert_frame_equal(fast[0], slow[0])
        assert list(fast[0]["status"].cat.categories) == list(slow[0]["status"].cat.categories)
    assert fast[1:4] == slow[1:4]
    if fast_pages is not None:
        assert fast[4] == [p for p in range(1, len(pages) + 1) if p not in fast_pages]
    return fast[4]


@st.composite
def fast_items(draw, max_size=12):
    """Valid items the fast path takes: plain ASCII ids, any status, any timestamp form, nulls."""
    out = []
    for i in range(draw(st.integers(0, max_size))):
        created, expires = draw(st.none() | timestamps()), draw(st.none() | timestamps())
        out.append({"upload_id": draw(_ASCII_ID) + f"-{i}",
                    "status": draw(st.sampled_from([*STATUSES, "paused", "zz", "Active"])),
                    "total_size": draw(st.integers(0, 2**63 - 1)), "chunk_size": draw(st.integers(1, 2**40)),
                    "total_chunks": draw(st.integers(0, 2**40)),
                    "created_at": created and created[0], "expires_at": expires and expires[0]})
    return out


def _split(data, items, max_pages=6):
    cuts = sorted(data.draw(st.lists(st.integers(0, len(items)), max_size=max_pages)))
    bounds = [0, *cuts, len(items)]
    return [items[a:b] for a, b in zip(bounds, bounds[1:])]


@needs_pyarrow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fast_items(), min_size=0, max_size=4), st.data())
def test_fast_path_equals_per_page_path_on_valid_pages(groups, data):
    items = [it for g in groups for it in g]
    pages = [page(p, page=k) for k, p in enumerate(_split(data, items), start=1)]
    chunk_rows = data.draw(st.sampled_from([1, 3, 7, 16384]))
    block = data.draw(st.sampled_from([1, 300, 5000, 1 << 22]))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_parse, "CHUNK_ROWS", chunk_rows)
        mp.setattr(_fastparse, "BLOCK_BYTES", block)
        mp.setattr(_parse, "_FEW", data.draw(st.sampled_from([0, 32])))
        slow = assert_same_paths(pages, arrow_strings=data.draw(st.booleans()))
    assert slow == []  # valid plain bodies never need the per-page path


@needs_pyarrow
def test_fast_path_takes_regular_pages_and_many_chunks(monkeypatch):
    monkeypatch.setattr(_parse, "CHUNK_ROWS", 64)
    monkeypatch.setattr(_fastparse, "BLOCK_BYTES", 20_000)
    items = [item(upload_id=f"u{i}", status=["active", "new", "completed", "odd"][i % 4 if i > 300 else 0],
                  created_at="2025-12-01T10:00:00.%06dZ" % i if i % 9 == 0 else "2025-12-01T10:00:00Z")
             for i in range(1000)]
    pages = [page(items[i:i + 37]) for i in range(0, 1000, 37)]
    assert assert_same_paths(pages) == []
    df = frame_from_pages(pages, as_of=AS_OF)
    assert list(df["status"].cat.categories) == [*STATUSES, "new", "odd"]


_BAD_VALUES = {
    "upload_id": [None, "", 5, ..., "caf\u00e9", 'q"uote', "a\\b"],
    "status": [None, "", 3, ..., ["active"], "n\u00e9w"],
    "total_size": [None, -1, 1.0, 2.5, True, "5", 2**63, 2**64, ...],
    "chunk_size": [0, None, -5, 5.0, False],
    "total_chunks": [None, -1, 1e3, "x"],
    "created_at": [None, "", "bad", 5, "2025-02-30T00:00:00Z", "2025-12-01T23:59:60Z", "2025-12-01 10:00:00Z",
                   "2025-12-01T10:00:00.1234567890123456789Z", "2025-12-01T10:00:00+24:00", "9999-12-31T23:59:59Z",
                   "2025-12-01T10:00:00|Z", "1677-09-21T00:12:43.145224191Z", "0000-01-01T00:00:00Z", ...],
    "expires_at": [None, "x", "2025-12-01T10:00:00", "2025-12-01T10:00:00-00:00", "2025-13-01T00:00:00Z"],
}


@st.composite
def irregular_pages(draw):
    """Bodies of every kind: valid, with malformed items, extra fields, odd JSON, broken pages."""
    pages = []
    for k in range(draw(st.integers(1, 6))):
        items = draw(fast_items(max_size=6))
        for it in items:
            for field, bad in _BAD_VALUES.items():
                if draw(st.integers(0, 29)) == 0:
                    value = draw(st.sampled_from(bad))
                    if value is ...:
                        it.pop(field, None)
                    else:
                        it[field] = value
            if draw(st.integers(0, 15)) == 0:
                it[draw(st.sampled_from(["region", "age", "x"]))] = draw(st.sampled_from([None, 1, "eu", [1], {}]))
        if items and draw(st.integers(0, 10)) == 0:
            items[draw(st.integers(0, len(items) - 1))] = draw(st.sampled_from([None, 1, "x", [], True]))
        body = {"data": items, "page_info": {"page": k + 1, "total_results": draw(st.sampled_from([1] * 8 + [None, "x"]))}}
        kind = draw(st.sampled_from(["bytes"] * 8 + ["str", "dict", "pretty", "ascii", "spaces", "bytearray",
                                                     "raw", "memoryview"]))
        text = json.dumps(body, ensure_ascii=kind == "ascii", indent=2 if kind == "pretty" else None)
        if kind == "spaces":
            text = " " + text.replace(": ", " : ") + "\t"
        pages.append({"bytes": text.encode(), "ascii": text.encode(), "pretty": text.encode(),
                      "spaces": text.encode(), "str": text, "dict": body, "bytearray": bytearray(text.encode()),
                      "memoryview": memoryview(text.encode()),
                      "raw": draw(st.sampled_from([
                          b"not json", b'{"data": [', b"[1, 2]", b'{"data": {"a": 1}}', b'{"items": []}',
                          b'{"data": null}', b"\xff\xfe\x00", b"", b"{}", b'{"data": []} {"data": []}',
                          b'{"data": [], "data": [{}]}', b'{"data": [{"upload_id": "a", "upload_id": "b"}]}',
                          b'{"data": [], "page_info": {"a": NaN}}', b'{"data": [], "page_info": Infinity}',
                          b'{"data": [{"upload_id": "a\tb"}]}', b'{"data": [{"upload_id": "a\x00b"}]}',
                          b'{"data": [{"total_size": 01}]}', b'{"data": [{"total_size": -0}]}',
                          b'{"data": [],}', b'{"data": [] /* c */}', b'{"data": []}\n', b'\n{"data": []}',
                          b'{"data": [\n]}', b'{"data": []}\r', b'{"data": [{"upload_id": "\xc3\xa9"}]}',
                          b'{"data": [{"upload_id": "\xed\xa0\x80"}]}', b'\xef\xbb\xbf{"data": []}',
                          b'{"data": [{"status": "active"}]}\x00', b'{"data": [1e400]}', 17, None,
                          b'{"data": [{"upload_id": "u", "status": "active", "total_size": 1, "chunk_size": 1,'
                          b' "total_chunks": 1, "created_at": "2025-12-01T10:00:00Z", "expires_at": null}]}',
                      ]))}[kind])
    return pages


@needs_pyarrow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(irregular_pages(), st.data())
def test_fast_path_equals_per_page_path_on_irregular_pages(pages, data):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_parse, "CHUNK_ROWS", data.draw(st.sampled_from([1, 4, 16384])))
        mp.setattr(_fastparse, "BLOCK_BYTES", data.draw(st.sampled_from([1, 400, 1 << 22])))
        mp.setattr(_fastparse, "_GIVE_UP", data.draw(st.sampled_from([1, 3])))
        assert_same_paths(pages, strict=data.draw(st.booleans()))


_VALID_BODY = page([item(upload_id="u1"), item(upload_id="u2", status="new", created_at="2025-12-01T10:00:00.5Z",
                                                 expires_at=None)], page=1, total_results=2)


@needs_pyarrow
@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_VALID_BODY)), st.integers(0, 3), st.binary(min_size=1, max_size=2)),
                min_size=1, max_size=3), st.booleans())
def test_fast_path_equals_per_page_path_on_mutated_bytes(edits, strict):
    """Byte-level edits of a valid body: whatever json.loads makes of it, both paths agree."""
    body = bytearray(_VALID_BODY)
    for at, cut, insert in edits:
        body[at:at + cut] = insert
    assert_same_paths([_VALID_BODY, bytes(body), _VALID_BODY], strict=strict)


@needs_pyarrow
@pytest.mark.parametrize("pages", [
    [page([item()])] * 3,
    [page([item(upload_id=f"u{i}") for i in range(5)]), b"{", page([item()])],
    [page([item(total_size=-1)]), page([item()])],
])
@pytest.mark.parametrize("strict", [False, True])
def test_fast_path_raises_the_iterators_error_in_order(pages, strict, monkeypatch):
    monkeypatch.setattr(_parse, "CHUNK_ROWS", 2)

    def broken():
        yield from pages
        raise OSError("connection reset")

    outcomes = []
    for fast in (True, False):
        monkeypatch.setattr(_fastparse, "ENABLED", fast)
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            with pytest.raises((OSError, ResponseFormatError)) as info:
                frame_from_pages(broken(), as_of=AS_OF, strict=strict)
        outcomes.append((info.type, str(info.value)))
    assert outcomes[0] == outcomes[1]


@needs_pyarrow
def test_fast_path_gives_up_on_systematically_irregular_input(monkeypatch):
    monkeypatch.setattr(_fastparse, "BLOCK_BYTES", 1)
    calls = []
    real = _fastparse._parse_block
    monkeypatch.setattr(_fastparse, "_parse_block", lambda block: calls.append(1) or real(block))
    pages = [page([item(upload_id=f"u{i}", region="eu")]) for i in range(10)]
    assert_same_paths(pages)
    assert len(calls) == _fastparse._GIVE_UP  # the fast run gave up; the slow run never asks


@needs_pyarrow
def test_fast_path_switch_and_availability(monkeypatch):
    monkeypatch.setattr(_fastparse, "ENABLED", False)
    assert not _fastparse.usable()
    monkeypatch.setattr(_fastparse, "ENABLED", True)
    assert _fastparse.usable()


_ZULU_BASES = ["2025-11-24T10:00:00Z", "2024-02-29T23:59:59Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
               "1677-09-21T00:12:43Z", "2262-04-11T23:47:16Z", "2100-02-28T00:00:00Z", "2025-12-31T23:59:60Z"]


@st.composite
def zulu_like(draw):
    """20-character values near 'YYYY-MM-DDTHH:MM:SSZ': Arrow's ISO 8601 cast must take only what _zulu takes."""
    chars = list(draw(st.sampled_from(_ZULU_BASES)))
    for _ in range(draw(st.integers(0, 2))):
        chars[draw(st.integers(0, 19))] = draw(st.sampled_from(list("0123456789-:TtZz +./aA\x7f")))
    return "".join(chars)


@needs_pyarrow
@settings(max_examples=150, deadline=None)
@given(st.lists(zulu_like(), min_size=1, max_size=6), st.booleans(), st.booleans())
def test_fast_path_equals_per_page_path_on_near_canonical_timestamps(values, strict, mixed):
    # One value per chunk row; 'mixed' adds a fractional value so the 20-character ones are filtered out first.
    stamps = values + (["2025-11-24T10:00:00.5Z"] if mixed else [])
    items = [item(upload_id=f"u{i}", created_at=v, expires_at=stamps[-1 - i]) for i, v in enumerate(stamps)]
    assert_same_paths([page(items)], strict=strict)


_FORM_BASES = ["2025-11-24T10:00:00.5Z", "2025-11-24T10:00:00+02:00", "2024-02-29T23:59:59.123456789-23:59",
               "1900-01-01T00:00:00.1234567890Z", "2099-12-31T23:59:59+00:00", "1899-12-31T23:59:59.9Z",
               "2100-01-01T00:00:00-00:00", "2300-01-01T00:00:00.5Z", "2025-12-31T23:59:60.5+01:00",
               "2025-11-24 10:00:00.25+0200", "2025-11-24T10:00+02:00", "2025-11-24T10:00:00+02",
               "2025-11-24T10Z", "2025-11-24T10:00:00.Z"]


@st.composite
def rfc3339_like(draw):
    """Values near the fraction and offset forms, which Arrow's ns cast reads in one pass when all pass."""
    chars = list(draw(st.sampled_from(_FORM_BASES)))
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(chars) - 1))
        new = draw(st.sampled_from(list("0123456789-:TtZz +./aA") + ["", "00", ":0"]))
        chars[at:at + draw(st.integers(0, 1))] = [new]
    return "".join(chars)


@needs_pyarrow
@settings(max_examples=200, deadline=None)
@given(st.lists(rfc3339_like() | st.sampled_from(["2025-11-24T10:00:00Z", None]), min_size=1, max_size=6),
       st.booleans())
def test_fast_path_equals_per_page_path_on_near_rfc3339_forms(values, strict):
    items = [item(upload_id=f"u{i}", created_at=v, expires_at=values[-1 - i]) for i, v in enumerate(values)]
    assert_same_paths([page(items)], strict=strict)


@needs_pyarrow
def test_fast_path_reads_fraction_and_offset_forms_in_one_cast(monkeypatch):
    values = ["2025-11-24T10:00:00.5Z", "2025-11-24T10:00:00+02:00", "2024-02-29 23:59:59.123456789-23:59",
              "1900-01-01T00:00:00Z", "2099-12-31T23:59:59.000000001+00:30"]
    casts = []
    real = _fastparse._any_form_ns
    monkeypatch.setattr(_fastparse, "_any_form_ns", lambda *a: casts.append(real(*a)) or casts[-1])
    items = [item(upload_id=f"u{i}", created_at=v, expires_at=v) for i, v in enumerate(values)]
    assert assert_same_paths([page(items)]) == []
    assert casts[0] is not None  # the one-cast path was taken (not the fallback)
    df = frame_from_pages([page(items)], as_of=AS_OF)
    assert df["created_at"].tolist() == [pd.Timestamp(v.replace(" ", "T")) for v in values]


@needs_pyarrow
@pytest.mark.parametrize("big", [False, True])
def test_fast_path_takes_pretty_printed_bodies_only_when_pyarrow_reads_each_as_one_row(big):
    # Line breaks are JSON whitespace to both parsers; a block's line breaks are looked at only when pyarrow
    # refuses it. A body bigger than pyarrow's block is cut at one of its line breaks: refused, then left out.
    items = [item(upload_id=f"u{i}") for i in range(40_000 if big else 3)]
    pretty = json.dumps({"data": items, "page_info": {"page": 2}}, indent=2).encode()
    assert len(pretty) > _fastparse.BLOCK_BYTES + (1 << 20) if big else b"\n" in pretty
    pages = [page([item(upload_id="a")]), pretty, page([item(upload_id="b")])]
    assert assert_same_paths(pages) == ([1, 2] if big else [])  # page 1 was pending in page 2's chunk
    # Two objects on two lines: pyarrow reads two rows, json.loads refuses the page (both paths raise).
    assert assert_same_paths([pages[0], b'{"data": []}\n{"data": []}', pages[2]]) == [1, 2]


@pytest.mark.parametrize("seed", range(4))
def test_sub_is_exact_or_nat_on_overflow_and_nat(seed):
    # frame._sub (the derived durations) against Python integers: NAT where an operand is NAT or the result
    # leaves int64, on operands whose ranges allow overflow (the checked path) and ones that do not (the fast one).
    from tlanalytics.frame import NAT, _sub

    rng = np.random.default_rng(seed)
    wide = rng.integers(NAT + 1, 2**63 - 1, 200, dtype=np.int64)
    narrow = rng.integers(-(2**61), 2**61, 200, dtype=np.int64)
    with_nat = narrow.copy()
    with_nat[::7] = NAT

    def expected(a, b):
        out = []
        for x, y in zip(np.broadcast_to(a, 200).tolist(), np.broadcast_to(b, 200).tolist()):
            d = x - y
            out.append(NAT if NAT in (x, y) or not NAT < d < 2**63 else d)
        return out

    for a, b in [(wide, narrow), (narrow, wide), (narrow, narrow[::-1].copy()), (with_nat, narrow),
                 (narrow, with_nat), (int(narrow[0]), wide), (wide, int(narrow[1])), (int(narrow[0]), with_nat),
                 (NAT, narrow), (narrow, NAT), (2**63 - 1, narrow), (narrow, 2**63 - 1)]:
        assert _sub(a, b).tolist() == expected(a, b)
