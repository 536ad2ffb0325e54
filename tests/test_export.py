"""Tests of tlanalytics.export: CSV (+ sidecar), Parquet and JSON Lines."""

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlanalytics import schema
from tlanalytics.errors import ConfigurationError, FileFormatError, FileFormatWarning, InvalidArgumentError
from tlanalytics.export import (
    SIDECAR_SUFFIX,
    read_csv,
    read_parquet,
    to_csv,
    to_jsonl,
    to_parquet,
    write_frame,
)

from _data import status_body

NAT = np.iinfo(np.int64).min
TRICKY = ["", "'", "''", "'quoted", "=1+1", "+x", "-x", "@x", "\tx", "\rx", "-5", "a,b", 'q"q', "line\nbreak",
          "é漢字🙂", " lead", "NaT", "nan", "<NA>", "None", "True", "2025-01-01T00:00:00Z", "x (UTC)"]
TEXT = st.one_of(st.text(max_size=8), st.sampled_from(TRICKY))
JSON = st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), TEXT,
                 st.lists(st.integers(), max_size=2), st.dictionaries(TEXT, st.one_of(st.none(), TEXT), max_size=2))
AS_OF = pd.Timestamp("2025-12-01T10:00:00.123456789Z")


def _moments(n, kind, tz="UTC", bound=2**63 - 1):
    """A strategy for a datetime (kind "M") or timedelta ("m") column of n values, nulls included."""
    values = st.lists(st.one_of(st.none(), st.integers(-bound, bound)), min_size=n, max_size=n)

    def build(vs):
        arr = np.array([NAT if v is None else v for v in vs], dtype="i8").view(f"{kind}8[ns]")
        series = pd.Series(arr)
        return series.dt.tz_localize("UTC").dt.tz_convert(tz) if kind == "M" and tz else series

    return values.map(build)


def _column(name, dtype, n, draw):
    """Draw one column of a known dtype."""
    some = lambda s: st.lists(st.one_of(st.none(), s), min_size=n, max_size=n)  # noqa: E731
    if isinstance(dtype, pd.CategoricalDtype):
        categories = list(dtype.categories)
        if not dtype.ordered:  # unknown statuses (and unused categories) must survive
            extra = draw(st.lists(TEXT.filter(lambda t: t not in categories), max_size=3, unique=True))
            dtype = pd.CategoricalDtype(categories + extra)
        return pd.Series(draw(some(st.sampled_from(list(dtype.categories)))), dtype=dtype)
    if dtype in ("string", "str") or isinstance(dtype, pd.StringDtype):
        return pd.Series(draw(some(TEXT)), dtype=dtype)
    if dtype == "Int64":
        return pd.Series(draw(some(st.integers(-(2**63), 2**63 - 1))), dtype="Int64")
    if dtype == "float64":
        return pd.Series([np.nan if v is None else v for v in draw(some(st.floats()))], dtype="float64")
    if dtype == "boolean":
        return pd.Series(draw(some(st.booleans())), dtype="boolean")
    if str(dtype).startswith("datetime64"):
        return draw(_moments(n, "M"))
    if str(dtype).startswith("timedelta64"):
        return draw(_moments(n, "m"))
    raise AssertionError(dtype)


@st.composite
def frames(draw):
    """Frames with every schema dtype, nulls everywhere, optional progress columns and extra columns."""
    n = draw(st.integers(0, 5))
    names = schema.columns("listing") + schema.columns("derived")
    if draw(st.booleans()):
        names += schema.columns("progress")
    # One draw per dtype, rotated for the other columns of that dtype: as thorough, much faster.
    pools, data = {}, {}
    for name in names:
        dtype = schema.dtype_of(name)
        if isinstance(dtype, pd.CategoricalDtype):
            data[name] = _column(name, dtype, n, draw)
        else:
            pool = pools.setdefault(str(dtype), [])
            column = pool[-1] if pool else _column(name, dtype, n, draw)
            data[name] = pd.Series(column.array.take(np.roll(np.arange(n), 1)))
            pool.append(data[name])
    extras = {
        "extra_str": lambda: _column("", "str", n, draw),
        "=extra formula": lambda: _column("", pd.StringDtype("python"), n, draw),
        "extra_int": lambda: _column("", "Int64", n, draw),
        "extra_float": lambda: _column("", "float64", n, draw),
        "extra_bool": lambda: _column("", "boolean", n, draw),
        "extra_int64": lambda: pd.Series(draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n)), dtype="int64"),
        "extra_cat": lambda: _column("", pd.CategoricalDtype(["b", "=a"], ordered=True), n, draw),
        "extra_obj": lambda: pd.Series(draw(st.lists(st.one_of(st.none(), TEXT), min_size=n, max_size=n)),
                                       dtype=object),
        "extra_json": lambda: pd.Series(draw(st.lists(st.one_of(st.none(), JSON), min_size=n, max_size=n)),
                                        dtype=object),
        "extra_naive": lambda: draw(_moments(n, "M", tz=None)),
        "extra_paris": lambda: draw(_moments(n, "M", tz="Europe/Paris", bound=2**62)),
    }
    for name in draw(st.lists(st.sampled_from(sorted(extras)), unique=True, max_size=4)):
        data[name] = extras[name]()
    df = pd.DataFrame(data)
    df.attrs = {"as_of": pd.Timestamp(draw(st.integers(0, 2**62)), tz="UTC"), "base_url": draw(TEXT),
                "pages": draw(st.integers(0, 10**6)), "consistent": draw(st.booleans()), "malformed_rows": 0}
    return df


def _same(back, df):
    """Assert exact equality: values, dtypes, category order and attrs."""
    pd.testing.assert_frame_equal(back, df, check_dtype=True, check_categorical=True)
    for name in df.columns:
        if isinstance(df[name].dtype, pd.CategoricalDtype):
            assert list(back[name].cat.categories) == list(df[name].cat.categories)
    assert back.attrs == df.attrs
    assert type(back.attrs["as_of"]) is pd.Timestamp and str(back.attrs["as_of"].tz) == "UTC"


_HYPOTHESIS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_HYPOTHESIS
@given(df=frames(), neutralize=st.booleans())
def test_csv_round_trip_is_exact(df, neutralize):
    with tempfile.TemporaryDirectory() as tmp:
        path = to_csv(df, Path(tmp) / "uploads.csv", neutralize_formulas=neutralize)
        _same(read_csv(path), df)


@_HYPOTHESIS
@given(df=frames())
def test_parquet_round_trip_is_exact(df):
    with tempfile.TemporaryDirectory() as tmp:
        _same(read_parquet(to_parquet(df, Path(tmp) / "uploads.parquet")), df)


def _frame(n=3):
    """A small fixed frame: the listing and derived columns, then two text columns with formula-looking strings."""
    moments = pd.to_datetime(["2025-12-01T10:00:00.123456789Z", None, "2025-12-01T08:00:00Z"],
                             utc=True, format="ISO8601")
    data = {
        "upload_id": pd.array(["u1", "", None], dtype="string"),
        "status": pd.Categorical(["active", "paused", None], categories=[*schema.STATUSES, "paused", "unused"]),
        "total_size": pd.array([-5, None, 2**62], dtype="Int64"),
        "created_at": pd.Series(moments).astype("datetime64[ns, UTC]"),
        "age": pd.Series(pd.to_timedelta([5400, None, -1e-9], unit="s")).astype("timedelta64[ns]"),
        "lifetime_elapsed": [0.25, np.nan, 0.1 + 0.2],  # 0.30000000000000004 needs 17 digits
        "is_expired": pd.array([True, None, False], dtype="boolean"),
        "expiry_bucket": pd.Categorical(["< 1 h", None, "expired"], dtype=schema.dtype_of("expiry_bucket")),
        "note": pd.array(["=1+1", "'quoted", "-x"], dtype="string"),
        "other": pd.array(["@x", "+x", "\tx"], dtype="string"),
    }
    df = pd.DataFrame(data)
    for name in schema.columns("listing") + schema.columns("derived"):
        if name not in df:
            df[name] = pd.Series([None] * n, dtype=object).astype(schema.dtype_of(name))
    df = df[schema.columns("listing") + schema.columns("derived") + ["note", "other"]]
    df.attrs = {"as_of": AS_OF, "base_url": "https://api.example.com/v1.3", "pages": 2, "requests": 3,
                "retries": 0, "total_results": 3, "consistent": True, "malformed_rows": 0}
    return df


@pytest.fixture
def df():
    return _frame()


@pytest.fixture
def written(df, tmp_path):
    """Path of ``df`` written by to_csv."""
    return to_csv(df, tmp_path / "uploads.csv")


def test_fixed_frame_round_trips_and_keeps_empty_ids_apart_from_missing(written, df):
    back = read_csv(written)
    _same(back, df)
    assert back.loc[1, "upload_id"] == "" and back.loc[2, "upload_id"] is pd.NA


def test_formulas_are_neutralised_in_the_file_and_restored(written, df):
    text = written.read_text(encoding="utf-8")
    rows = text.splitlines()
    for cell in ["'=1+1", "''quoted", "'-x", "'@x", "'+x", "'\tx"]:
        assert cell in text
    assert rows[1].split(",")[2] == "-5"  # numbers are never prefixed
    assert rows[2].startswith("',paused,")  # the empty id is a lone apostrophe
    assert "=1+1" not in text.replace("'=1+1", "")
    assert list(read_csv(written)["note"]) == ["=1+1", "'quoted", "-x"]


def test_neutralize_formulas_false_writes_raw(df, tmp_path):
    path = to_csv(df, tmp_path / "raw.csv", neutralize_formulas=False)
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[1].endswith(",=1+1,@x") and "'=1+1" not in text and "'@x" not in text
    _same(read_csv(path), df)


def test_timestamps_and_durations_are_written_exactly(written):
    row1, row3 = written.read_text(encoding="utf-8").splitlines()[1:4:2]
    assert "2025-12-01T10:00:00.123456789Z" in row1 and ",5400," in row1
    assert "2025-12-01T08:00:00Z" in row3 and ",-0.000000001," in row3


def test_sidecar_is_json_and_never_holds_secrets(df, tmp_path):
    df.attrs.update(api_key="tlk_SECRET1", session_token="SECRET2", ApiKeyHint="SECRET3")
    path = to_csv(df, tmp_path / "uploads.csv")
    side = Path(str(path) + SIDECAR_SUFFIX)
    assert json.loads(side.read_text())["rows"] == 3
    for p in [path, side, to_parquet(df, tmp_path / "u.parquet"), to_jsonl(df, tmp_path / "u.jsonl")]:
        assert b"SECRET" not in p.read_bytes()
    for back in [read_csv(path), read_parquet(tmp_path / "u.parquet")]:
        assert not {"api_key", "session_token", "ApiKeyHint"} & set(back.attrs)
        assert back.attrs["pages"] == 2


def test_excel_mode_is_spreadsheet_friendly_and_reads_back_as_utc(df, tmp_path):
    path = to_csv(df, tmp_path / "excel.csv", excel=True)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header, row1 = raw.decode("utf-8-sig").splitlines()[:2]
    assert "created_at (UTC)" in header and "age (h)" in header
    assert "2025-12-01 10:00:00," in row1 and ",1.5," in row1
    assert "+00:00" not in raw.decode() and "00Z" not in raw.decode()
    back = read_csv(path)
    assert back["created_at"].dtype == "datetime64[ns, UTC]"
    assert back.loc[0, "created_at"] == pd.Timestamp("2025-12-01T10:00:00Z")  # whole seconds
    assert back.loc[0, "age"] == pd.Timedelta(hours=1.5) and back.attrs == df.attrs
    pd.testing.assert_frame_equal(back.drop(columns=["created_at", "age"]), df.drop(columns=["created_at", "age"]))


def test_excel_file_without_sidecar_reads_naive_timestamps_as_utc(df, tmp_path):
    path = to_csv(df, tmp_path / "excel.csv", excel=True)
    Path(str(path) + SIDECAR_SUFFIX).unlink()
    with pytest.warns(FileFormatWarning, match="no sidecar"):
        back = read_csv(path)
    assert back.loc[2, "created_at"] == pd.Timestamp("2025-12-01T08:00:00Z")
    assert back.loc[0, "age"] == pd.Timedelta(minutes=90)


def test_missing_sidecar_coerces_from_schema_with_warning(written, df):
    Path(str(written) + SIDECAR_SUFFIX).unlink()
    with pytest.warns(FileFormatWarning, match="no sidecar"):
        back = read_csv(written)
    known = schema.columns("listing") + schema.columns("derived")
    assert list(back.columns) == known + ["note", "other"]
    assert back.attrs == {}
    for name in known:
        if name != "status":
            assert back[name].dtype == schema.dtype_of(name), name
    assert list(back["status"].cat.categories) == [*schema.STATUSES, "paused"]  # seen unknowns appended
    assert back["note"].dtype == "string" and list(back["note"]) == ["=1+1", "'quoted", "-x"]
    pd.testing.assert_frame_equal(back.drop(columns="status"), df.drop(columns="status"))


def test_reordered_columns_are_put_back(written, df):
    raw = pd.read_csv(written, dtype=str, keep_default_na=False)
    raw[raw.columns[::-1]].to_csv(written, index=False)
    _same(read_csv(written), df)


@pytest.mark.parametrize("sidecar", [True, False])
def test_missing_known_column_is_added_as_nulls_with_warning(written, df, sidecar):
    raw = pd.read_csv(written, dtype=str, keep_default_na=False)
    raw.drop(columns="total_size").to_csv(written, index=False)
    if not sidecar:
        Path(str(written) + SIDECAR_SUFFIX).unlink()
    with pytest.warns(FileFormatWarning) as record:
        back = read_csv(written)
    messages = [str(w.message) for w in record]
    assert any("['total_size']" in m and "added as nulls" in m for m in messages)
    assert any("no sidecar" in m for m in messages) is not sidecar
    assert back["total_size"].dtype == "Int64" and back["total_size"].isna().all()
    assert list(back.columns) == list(df.columns)


def _replace(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(("old", "new", "match"), [
    (",-5,", ",abc,", r"`total_size`, line 2: 'abc' is not an integer"),
    (",-5,", ",1.5,", r"`total_size`, line 2"),
    ("2025-12-01T08:00:00Z", "yesterday", r"`created_at`, line 4: 'yesterday' is not an ISO 8601"),
    (",5400,", ",soon,", r"`age`, line 2: 'soon' is not a duration in seconds"),
    (",5400,", ",1e3,", r"`age`, line 2"),
    (",True,", ",yes,", r"`is_expired`, line 2"),
    (",0.25,", ",quarter,", r"`lifetime_elapsed`, line 2"),
    (",< 1 h,", ",soon,", r"`expiry_bucket`, line 2"),
])
def test_unparseable_values_name_column_and_line(written, old, new, match):
    _replace(written, old, new)
    with pytest.raises(FileFormatError, match=match):
        read_csv(written)


def test_unknown_status_value_becomes_category_with_warning(written):
    _replace(written, ",active,", ",archived,")
    with pytest.warns(FileFormatWarning, match="archived"):
        back = read_csv(written)
    assert back.loc[0, "status"] == "archived" and list(back["status"].cat.categories)[-1] == "archived"


@pytest.mark.parametrize("cut", ["mid_line", "last_field", "last_field_no_sidecar", "short_row", "whole_row",
                                 "open_quote"])
def test_truncated_files_are_errors(written, cut):
    text = written.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    if cut == "mid_line":
        text = text[:-10]
    elif cut.startswith("last_field"):  # same number of fields and rows: only the missing line break tells
        text = text[:-3]
        if cut.endswith("no_sidecar"):
            Path(str(written) + SIDECAR_SUFFIX).unlink()
    elif cut == "short_row":
        text = "".join(lines[:-1]) + lines[-1][:20] + "\r\n"
    elif cut == "whole_row":
        text = "".join(lines[:-1])
    else:
        text = "".join(lines[:-1]) + lines[-1].replace(",", ',"', 1)
    written.write_text(text, encoding="utf-8")
    with pytest.raises(FileFormatError, match="truncated"):
        read_csv(written)


def test_object_columns_of_json_values_round_trip_and_others_come_back_as_text(df, tmp_path):
    df["raw"] = pd.Series([1, "@y", None], dtype=object)
    df["nested"] = pd.Series([{"a": [1, 2.5]}, None, [True, None]], dtype=object)
    df["odd"] = pd.Series([pd.Period("2025-01", "M"), "-x", None], dtype=object)
    expected = df.assign(odd=pd.Series(["2025-01", "-x", None], dtype=object))
    _same(read_csv(to_csv(df, tmp_path / "u.csv")), expected)
    _same(read_parquet(to_parquet(df, tmp_path / "u.parquet")), expected)
    row1 = (tmp_path / "u.csv").read_text().splitlines()[1]
    assert row1.endswith(',1,"{""a"": [1, 2.5]}",2025-01')  # JSON text, readable in a spreadsheet
    assert "'-x" in (tmp_path / "u.csv").read_text()


def test_build_frame_output_round_trips(tmp_path):
    from tlanalytics.errors import MalformedItemWarning
    from tlanalytics.frame import build_frame, join_progress
    from tlanalytics.simulator import generate_uploads

    as_of = "2025-12-01T12:00:00Z"
    sessions = generate_uploads(40, seed=7, now=as_of)
    listing = schema.columns("listing")
    items = [{k: v for k, v in s.items() if k in listing} | {"labels": {"team": "=x"}, "region": "eu"} for s in sessions]
    items[0].update(status="paused", total_size="abc", region=None)
    with pytest.warns(MalformedItemWarning):
        df = build_frame(items, as_of=as_of)
    statuses = {s["upload_id"]: {k: v for k, v in s.items() if k not in listing} | status_body(s) for s in sessions}
    statuses[sessions[1]["upload_id"]] = None
    df = join_progress(df, statuses, as_of=as_of)
    df.attrs.update(base_url="http://127.0.0.1:1/v1.3", pages=2, consistent=True)
    assert "progress" in df and "labels" in df and "paused" in df["status"].cat.categories
    _same(read_csv(to_csv(df, tmp_path / "u.csv")), df)
    _same(read_parquet(to_parquet(df, tmp_path / "u.parquet")), df)
    assert len(to_jsonl(df, tmp_path / "u.jsonl").read_text().splitlines()) == 40


def test_attrs_of_other_types_round_trip_or_are_left_out_with_warning(df, tmp_path):
    df.attrs.update(ratio=0.1 + 0.2, window=pd.Timedelta(hours=1, nanoseconds=1), since=pd.Timestamp("2025-01-01"),
                    pages_seen=[1, 2], filters={"status": None}, note=None, when=pd.Timestamp(0, tz="Europe/Paris"))
    stored = dict(df.attrs)
    df.attrs["handle"] = object()
    for write, read, name in [(to_csv, read_csv, "u.csv"), (to_parquet, read_parquet, "u.parquet")]:
        with pytest.warns(FileFormatWarning, match="handle"):
            path = write(df, tmp_path / name)
        back = read(path)
        assert back.attrs == stored and str(back.attrs["when"].tz) == "Europe/Paris"
        assert back.attrs["window"].value == 3600 * 10**9 + 1 and back.attrs["since"].tz is None


def test_foreign_csv_is_an_error_naming_expected_columns(tmp_path):
    path = tmp_path / "foreign.csv"
    path.write_text("name,price\nwidget,3\n")
    with pytest.raises(FileFormatError, match="upload_id"):
        read_csv(path)


@pytest.mark.parametrize("content", ["{not json", "[]", '{"format": "other", "version": 1}',
                                     "corrupt_dtype", "corrupt_attrs"])
def test_corrupt_sidecar_is_an_error(written, content):
    side = Path(str(written) + SIDECAR_SUFFIX)
    if content.startswith("corrupt"):
        meta = json.loads(side.read_text())
        if content == "corrupt_dtype":
            meta["columns"][2]["dtype"] = "no-such-dtype"
        else:
            meta["attrs"]["as_of"] = {"type": "timestamp", "value": "never", "tz": "UTC"}
        content = json.dumps(meta)
    side.write_text(content)
    with pytest.raises(FileFormatError, match="sidecar"):
        read_csv(written)


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_csv(tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError):
        read_parquet(tmp_path / "nope.parquet")
    (tmp_path / "latin.csv").write_bytes("upload_id\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(FileFormatError, match="UTF-8"):
        read_csv(tmp_path / "latin.csv")


def test_parquet_errors_and_foreign_parquet(df, tmp_path):
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(FileFormatError, match="Parquet"):
        read_parquet(tmp_path / "bad.parquet")
    plain = df.copy()
    plain.attrs = {}
    plain["created_at"] = plain["created_at"].dt.tz_localize(None).astype("datetime64[us]")
    # object, not str: on pandas 2, astype(str) turns the missing status into the text "nan".
    plain.astype({"total_size": "float64", "status": object}).to_parquet(tmp_path / "p.parquet")
    with pytest.warns(FileFormatWarning, match="no tlanalytics metadata"):
        back = read_parquet(tmp_path / "p.parquet")
    assert back["total_size"].dtype == "Int64" and back["created_at"].dtype == "datetime64[ns, UTC]"
    assert back.loc[2, "created_at"] == pd.Timestamp("2025-12-01T08:00:00Z")  # naive read as UTC
    assert list(back["status"].cat.categories) == [*schema.STATUSES, "paused"] and back.loc[1, "status"] == "paused"
    differ = ["status", "created_at"]
    pd.testing.assert_frame_equal(back.drop(columns=differ), df.drop(columns=differ))
    plain.assign(expiry_bucket="soon").to_parquet(tmp_path / "p.parquet")
    with pytest.warns(FileFormatWarning), pytest.raises(FileFormatError, match="`expiry_bucket`, row 0: 'soon'"):
        read_parquet(tmp_path / "p.parquet")


@pytest.mark.parametrize("func", ["to_parquet", "read_parquet"])
def test_parquet_without_pyarrow_says_how_to_install(df, tmp_path, monkeypatch, func):
    path = to_parquet(df, tmp_path / "u.parquet")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ConfigurationError, match=r"pip install pyarrow"):
        to_parquet(df, path) if func == "to_parquet" else read_parquet(path)


def test_jsonl_has_one_object_per_row(df, tmp_path):
    path = to_jsonl(df, tmp_path / "u.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 3 and list(rows[0]) == list(df.columns)
    assert rows[0]["created_at"] == "2025-12-01T10:00:00.123456789Z" and rows[0]["age"] == 5400
    assert rows[2]["age"] == -1e-9 and rows[0]["total_size"] == -5 and rows[2]["total_size"] == 2**62
    assert rows[1]["upload_id"] == "" and rows[2]["upload_id"] is None and rows[1]["created_at"] is None
    assert rows[0]["is_expired"] is True and rows[1]["is_expired"] is None and rows[1]["lifetime_elapsed"] is None
    assert rows[2]["lifetime_elapsed"] == 0.1 + 0.2
    assert rows[1]["status"] == "paused" and rows[0]["note"] == "=1+1"


@pytest.mark.parametrize("name", ["u.csv", "u.CSV", "u.parquet", "u.jsonl"])
def test_write_frame_dispatches_on_extension(df, tmp_path, name):
    path = write_frame(df, tmp_path / name)
    if name.lower().endswith(".csv"):
        _same(read_csv(path), df)
    elif name.endswith(".parquet"):
        _same(read_parquet(path), df)
    else:
        assert json.loads(path.read_text().splitlines()[0])["upload_id"] == "u1"


def test_write_frame_passes_options_and_rejects_unknown_extensions(df, tmp_path):
    assert write_frame(df, tmp_path / "x.csv", excel=True).read_bytes().startswith(b"\xef\xbb\xbf")
    with pytest.raises(InvalidArgumentError, match=r"\['.csv', '.jsonl', '.parquet'\].*'.*x.xlsx'"):
        write_frame(df, tmp_path / "x.xlsx")


def test_writers_check_their_frame(df, tmp_path):
    with pytest.raises(InvalidArgumentError, match="DataFrame"):
        to_csv({"upload_id": ["u1"]}, tmp_path / "x.csv")
    dup = pd.concat([df[["upload_id"]], df[["upload_id"]]], axis=1)
    with pytest.raises(InvalidArgumentError, match="unique"):
        to_csv(dup, tmp_path / "x.csv")
