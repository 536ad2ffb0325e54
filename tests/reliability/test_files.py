"""Damaged, edited and foreign files given to the readers: a clear error or a documented coercion, never a wrong dtype.

Every read goes through :func:`read`, which allows exactly two outcomes:

- :class:`~tlanalytics.errors.FileFormatError` (``FileNotFoundError`` for a
  missing file);
- a frame whose every column has the dtype it must have: the sidecar's
  recorded dtype (an unordered category may gain categories), the schema's
  dtype for known columns without a sidecar, ``string`` for other columns.
  The only warnings allowed are ``FileFormatWarning``; a read that coerced
  anything (no sidecar, a column added back, a category grown) must warn.

Cases: truncation at every kind of place, re-ordered columns and rows,
hand edits (a letter in a size, a bad timestamp, a category not in the
schema...), no sidecar, a damaged or foreign sidecar, BOMs, CRLF/LF, foreign
CSVs (a bank statement, semicolon-separated, JSON Lines, Parquet), empty
files and binary junk; plus hypothesis mutations of a real file.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import shutil
import warnings

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlanalytics import schema
from tlanalytics.errors import FileFormatError, FileFormatWarning
from tlanalytics.export import SIDECAR_SUFFIX, read_csv, read_parquet, to_csv, to_jsonl, to_parquet
from tlanalytics.frame import build_frame, join_progress
from tlanalytics.simulator import generate_uploads

AS_OF = pd.Timestamp("2026-01-15T12:00:00Z")
SCALE = 10 if os.environ.get("TLANALYTICS_SOAK", "").strip() not in ("", "0") else 1
LISTING = ("upload_id", "status", "total_size", "chunk_size", "total_chunks", "created_at", "expires_at")
TEXT = pd.StringDtype(na_value=pd.NA)


def _frame():
    """A real uploads frame: listing, derived and progress columns, an extra text column, attrs."""
    sessions = generate_uploads(40, seed=4, now=AS_OF)
    df = build_frame([{k: s[k] for k in LISTING} for s in sessions], as_of=AS_OF)
    bodies = {s["upload_id"]: {"uploaded_size": s["uploaded_size"], "chunks_completed": s["chunks_completed"],
                               "chunks_failed": s["chunks_failed"], "updated_at": s["updated_at"],
                               "chunks_pending": s["total_chunks"] - s["chunks_completed"] - s["chunks_failed"]}
              for s in sessions[:-3]}
    bodies[sessions[-1]["upload_id"]] = None  # vanished
    df = join_progress(df, bodies, as_of=AS_OF)
    notes = ["=1+1", "'quoted", "", None, "a,b", 'x"y', "line\nbreak", "\u00fcn\u00efc\u00f6de", "-3", "@x"]
    df["note"] = pd.array([notes[i % len(notes)] for i in range(len(df))], dtype="string")
    df.attrs.update(base_url="https://api.twelvelabs.io/v1.3", pages=1, requests=1, consistent=True)
    return df


@pytest.fixture(scope="module")
def original():
    return _frame()


@pytest.fixture
def written(original, tmp_path):
    return to_csv(original, tmp_path / "uploads.csv")


@pytest.fixture(scope="module")
def file_counts(reliability_stats):
    counts = reliability_stats.setdefault("files", {"reads": 0, "errors": 0, "coerced_with_warning": 0,
                                                    "clean": 0, "mutations": 0})
    yield counts


def _sidecar(path):
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _recorded(path):
    """The dtypes the sidecar records, or None when there is no (readable) sidecar."""
    side = _sidecar(path)
    if not side.exists():
        return None
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
        return {c["name"]: c for c in meta["columns"]}
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


def _check_dtype(name, got, want):
    if isinstance(want, pd.CategoricalDtype) and not want.ordered:
        assert isinstance(got, pd.CategoricalDtype) and not got.ordered, (name, got)
        assert list(got.categories[: len(want.categories)]) == list(want.categories), (name, got, want)
    else:
        assert got == want, f"column {name!r} has dtype {got}, not {want}"


def read(path, original, counts, *, reader=read_csv):
    """Read ``path``; the outcome: ("error", exc) or ("frame", df, warnings), with every dtype checked."""
    specs = _recorded(path) if reader is read_csv else None
    counts["reads"] += 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            df = reader(path)
        except FileFormatError as exc:
            counts["errors"] += 1
            assert str(exc), "an error without a message"
            return "error", exc
        except Exception as exc:  # noqa: BLE001 - anything else is a failure, with its type in the message
            pytest.fail(f"{reader.__name__}({path.name}) raised {type(exc).__name__}: {exc}")
    others = [w for w in caught if not issubclass(w.category, FileFormatWarning)]
    assert not others, [f"{w.category.__name__}: {w.message}" for w in others]
    known = set(schema.columns())
    for name in df.columns:
        if specs is not None and name in specs:
            want = original[name].dtype if name in original.columns else None
            if want is None or specs[name] != _spec_of(original, name):  # the sidecar was edited: trust it
                continue
        elif name in known:
            want = schema.dtype_of(name)
        elif reader is read_csv:
            want = TEXT
        else:
            continue  # foreign Parquet columns keep their own types
        _check_dtype(name, df[name].dtype, want)
    counts["coerced_with_warning" if caught else "clean"] += 1
    return "frame", df, caught


def _spec_of(df, name):
    from tlanalytics.export import _spec

    return _spec(name, df[name])


def _rewrite(path, func):
    """Apply ``func`` to the file's text (newline-preserving)."""
    text = path.read_bytes().decode("utf-8")
    path.write_bytes(func(text).encode("utf-8"))


def _rows(text):
    """Header and data lines of a to_csv file (CRLF line ends; no cell here holds a bare CRLF)."""
    return text.split("\r\n")


# --- baseline: the checker itself ------------------------------------------------------------

def test_a_pristine_file_reads_back_exactly(written, original, file_counts):
    outcome, df, caught = read(written, original, file_counts)
    assert outcome == "frame" and not caught
    pd.testing.assert_frame_equal(df, original)
    assert df.attrs == original.attrs


def test_the_checker_catches_a_wrong_dtype(written, original):
    """The dtype check must be able to fail: a reader that returns sizes as floats is caught."""

    def lossy(path):
        df = read_csv(path)
        df["total_size"] = df["total_size"].astype("float64")
        return df

    with pytest.raises(AssertionError, match="total_size"):
        read(written, original, {"reads": 0, "errors": 0, "coerced_with_warning": 0, "clean": 0}, reader=lossy)


# --- truncation -----------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["mid_header", "end_of_header", "mid_first_row", "mid_row", "mid_quoted_cell",
                                   "end_of_a_row", "before_last_line_break", "half", "one_byte"])
@pytest.mark.parametrize("sidecar", [True, False], ids=["sidecar", "no_sidecar"])
def test_truncated_files(written, original, file_counts, where, sidecar):
    raw = written.read_bytes()
    header_end = raw.index(b"\r\n") + 2
    rows_end = [m.end() for m in re.finditer(rb"\r\n", raw)]
    quote = raw.index(b'"', header_end)
    cut = {"mid_header": header_end // 2, "end_of_header": header_end, "mid_first_row": header_end + 7,
           "mid_row": rows_end[10] + 15, "mid_quoted_cell": quote + 2, "end_of_a_row": rows_end[20],
           "before_last_line_break": len(raw) - 2, "half": len(raw) // 2, "one_byte": 1}[where]
    written.write_bytes(raw[:cut])
    if not sidecar:
        _sidecar(written).unlink()
    result = read(written, original, file_counts)
    ends_at_line = raw[:cut].endswith(b"\r\n")
    if sidecar or not ends_at_line:
        # A cut line, or fewer rows than the sidecar records, is always detected.
        assert result[0] == "error", f"a file cut at {where} was read without error"
        assert re.search(r"truncat|line|rows|column", str(result[1])), str(result[1])
    else:
        # Without a sidecar a file cut between rows is a valid, shorter CSV: read with the coercion warning.
        assert result[0] == "frame" and any("sidecar" in str(w.message) for w in result[2])
        assert len(result[1]) < len(original)


# --- re-ordering ------------------------------------------------------------------------------------

def test_reordered_columns_are_put_back(written, original, file_counts):
    import csv
    import io

    text = written.read_text(encoding="utf-8")
    table = list(csv.reader(io.StringIO(text, newline="")))
    order = list(range(len(table[0])))
    random.Random(1).shuffle(order)
    out = io.StringIO(newline="")
    csv.writer(out).writerows([[row[i] for i in order] for row in table])
    written.write_text(out.getvalue(), encoding="utf-8", newline="")
    outcome, df, _ = read(written, original, file_counts)
    assert outcome == "frame"
    pd.testing.assert_frame_equal(df, original)


def test_reordered_rows_read_back_in_file_order(written, original, file_counts):
    import csv
    import io

    table = list(csv.reader(io.StringIO(written.read_text(encoding="utf-8"), newline="")))
    order = list(range(len(table) - 1))
    random.Random(2).shuffle(order)
    out = io.StringIO(newline="")
    csv.writer(out).writerows([table[0]] + [table[i + 1] for i in order])
    written.write_text(out.getvalue(), encoding="utf-8", newline="")
    outcome, df, caught = read(written, original, file_counts)
    assert outcome == "frame" and not caught
    pd.testing.assert_frame_equal(df, original.iloc[order].reset_index(drop=True))


# --- hand edits -----------------------------------------------------------------------------------------

def _edit_cell(path, column, row, value):
    """Set one cell (data row ``row``, 0-based) through the csv module, as a spreadsheet would."""
    import csv
    import io

    table = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    table[row + 1][table[0].index(column)] = value
    out = io.StringIO(newline="")
    csv.writer(out).writerows(table)
    path.write_text(out.getvalue(), encoding="utf-8", newline="")


@pytest.mark.parametrize("column,value", [
    ("total_size", "12a4"), ("total_size", "1.5"), ("total_size", "1e3"), ("total_size", "99999999999999999999"),
    ("total_size", "ten"), ("chunk_size", "5 MiB"), ("total_chunks", "0x10"), ("created_at", "2025-13-01T00:00:00Z"),
    ("created_at", "yesterday"), ("expires_at", "2025-02-30T00:00:00Z"), ("expires_at", "12/01/2025 10:00"),
    ("is_expired", "maybe"), ("chunks_consistent", "yes please"), ("expiry_bucket", "soon"),
    ("size_bucket", "huge"), ("progress", "50%"), ("lifetime_elapsed", "half"), ("age", "a while"),
    ("vanished", "2"), ("last_activity", "0000-00-00T00:00:00Z"),
])
def test_a_cell_that_does_not_parse_names_column_and_line(written, original, file_counts, column, value):
    _edit_cell(written, column, 4, value)
    result = read(written, original, file_counts)
    assert result[0] == "error", f"{column}={value!r} was read as {result[1][column].iloc[4]!r}"
    message = str(result[1])
    assert column in message and "line 6" in message, message  # header is line 1: data row 4 is line 6


@pytest.mark.parametrize("column,value", [("total_size", " 42 "), ("total_size", "-5"), ("progress", "nan"),
                                          ("progress", "inf"), ("is_expired", "true"), ("age", "86400.5")])
def test_values_that_parse_keep_their_dtype(written, original, file_counts, column, value):
    _edit_cell(written, column, 4, value)
    outcome, df, caught = read(written, original, file_counts)
    assert outcome == "frame" and not caught


def test_a_status_outside_the_recorded_categories_is_added_with_a_warning(written, original, file_counts):
    _edit_cell(written, "status", 3, "archived")
    outcome, df, caught = read(written, original, file_counts)
    assert outcome == "frame"
    assert any("archived" in str(w.message) for w in caught), "a category was added silently"
    assert df.loc[3, "status"] == "archived" and list(df["status"].cat.categories)[-1] == "archived"


def test_a_status_outside_the_schema_without_sidecar(written, original, file_counts):
    _edit_cell(written, "status", 3, "archived")
    _sidecar(written).unlink()
    outcome, df, caught = read(written, original, file_counts)
    assert outcome == "frame" and caught and df.loc[3, "status"] == "archived"


def test_a_column_deleted_by_hand_comes_back_as_nulls_with_a_warning(written, original, file_counts):
    import csv
    import io

    table = list(csv.reader(io.StringIO(written.read_text(encoding="utf-8"), newline="")))
    drop = table[0].index("total_size")
    out = io.StringIO(newline="")
    csv.writer(out).writerows([[c for i, c in enumerate(row) if i != drop] for row in table])
    written.write_text(out.getvalue(), encoding="utf-8", newline="")
    outcome, df, caught = read(written, original, file_counts)
    assert outcome == "frame" and any("total_size" in str(w.message) for w in caught)
    assert list(df.columns) == list(original.columns) and df["total_size"].isna().all()


def test_a_column_added_by_hand_is_text_with_a_warning(written, original, file_counts):
    _rewrite(written, lambda t: "\r\n".join((line + ",x" if line else line) for line in _rows(t)))
    outcome, df, caught = read(written, original, file_counts)
    assert outcome == "frame" and caught


@pytest.mark.parametrize("header", ["Upload ID", "upload_id", "UPLOAD_ID"])
def test_a_renamed_or_duplicated_header(written, original, file_counts, header):
    _rewrite(written, lambda t: t.replace("status", header, 1))
    result = read(written, original, file_counts)
    if header == "upload_id":
        assert result[0] == "error" and "duplicate" in str(result[1])
    else:
        assert result[0] == "frame" and result[2]  # status added back as nulls, the stranger kept as text


# --- the sidecar ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["garbage", "empty", "list", "other_format", "other_version", "no_columns",
                                    "bad_kind", "numeric_categories", "rows_text", "attrs_garbage", "binary"])
def test_a_damaged_sidecar_is_an_error(written, original, file_counts, damage):
    side = _sidecar(written)
    meta = json.loads(side.read_text(encoding="utf-8"))
    if damage == "garbage":
        side.write_text("{not json", encoding="utf-8")
    elif damage == "empty":
        side.write_text("", encoding="utf-8")
    elif damage == "list":
        side.write_text("[]", encoding="utf-8")
    elif damage == "binary":
        side.write_bytes(os.urandom(64))
    else:
        if damage == "other_format":
            meta["format"] = "tlanalytics-parquet"
        elif damage == "other_version":
            meta["version"] = 99
        elif damage == "no_columns":
            del meta["columns"]
        elif damage == "bad_kind":
            meta["columns"][2]["kind"] = "complex"
        elif damage == "numeric_categories":
            meta["columns"][1]["categories"] = [1, 2, 3]
        elif damage == "rows_text":
            meta["rows"] = "forty"
        elif damage == "attrs_garbage":
            meta["attrs"] = {"as_of": {"type": "timestamp"}}
        side.write_text(json.dumps(meta), encoding="utf-8")
    result = read(written, original, file_counts)
    assert result[0] == "error" and "sidecar" in str(result[1]).lower(), result


def test_the_sidecar_of_another_file_is_an_error(written, original, file_counts, tmp_path):
    other = to_csv(original.iloc[:5], tmp_path / "other.csv")
    shutil.copy(_sidecar(other), _sidecar(written))
    result = read(written, original, file_counts)
    assert result[0] == "error" and "rows" in str(result[1])


def test_a_sidecar_that_lies_about_a_dtype_still_gives_that_dtype_or_an_error(written, original, file_counts):
    side = _sidecar(written)
    meta = json.loads(side.read_text(encoding="utf-8"))
    for col in meta["columns"]:
        if col["name"] == "upload_id":
            col.update(kind="int", dtype="Int64")
    side.write_text(json.dumps(meta), encoding="utf-8")
    result = read(written, original, file_counts)
    if result[0] == "frame":
        assert result[1]["upload_id"].dtype == "Int64"  # never a silent other dtype
    else:
        assert "upload_id" in str(result[1])


def test_no_sidecar_reads_with_schema_dtypes_and_a_warning(written, original, file_counts):
    _sidecar(written).unlink()
    outcome, df, caught = read(written, original, file_counts)
    assert outcome == "frame" and any("sidecar" in str(w.message) for w in caught)
    assert df.attrs == {} and len(df) == len(original)
    assert df["note"].dtype == TEXT
    pd.testing.assert_frame_equal(df[schema.columns()], original[schema.columns()])


# --- encodings and line ends ---------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["bom", "bom_no_sidecar", "lf", "cr_only", "double_bom", "utf16", "latin1"])
def test_encodings_and_line_ends(written, original, file_counts, variant):
    raw = written.read_bytes()
    if variant.startswith("bom"):
        raw = b"\xef\xbb\xbf" + raw
    elif variant == "double_bom":
        raw = b"\xef\xbb\xbf\xef\xbb\xbf" + raw
    elif variant == "lf":
        raw = raw.replace(b"\r\n", b"\n")
    elif variant == "cr_only":
        raw = raw.replace(b"\r\n", b"\r")
    elif variant == "utf16":
        raw = raw.decode("utf-8").encode("utf-16")
    elif variant == "latin1":
        raw = raw.decode("utf-8").encode("latin-1", errors="replace")
    written.write_bytes(raw)
    if variant == "bom_no_sidecar":
        _sidecar(written).unlink()
    result = read(written, original, file_counts)
    if variant in ("bom", "lf"):
        assert result[0] == "frame" and not result[2]
        pd.testing.assert_frame_equal(result[1], original)
    elif variant == "cr_only":  # old Mac line ends: read exactly, or refused (the csv module cannot mix them)
        assert result[0] == "error" or (not result[2] and result[1].equals(original))
    elif variant == "bom_no_sidecar":
        assert result[0] == "frame" and result[2]
        assert list(result[1].columns[:2]) == ["upload_id", "status"]
    elif variant in ("utf16", "latin1"):
        assert result[0] == "error"
    else:  # a second BOM is a stray character in the first header: warned about, or an error
        assert result[0] == "error" or result[2]


# --- not our files ---------------------------------------------------------------------------------------------

FOREIGN = {
    "bank_statement": "Date,Description,Amount,Balance\r\n2025-12-01,COFFEE SHOP,-3.50,1024.12\r\n"
                      "2025-12-02,SALARY,2500.00,3524.12\r\n",
    "semicolons": "upload_id;status;total_size\n507f1f77bcf86cd799439011;active;10485760\n",
    "tabs": "upload_id\tstatus\ttotal_size\n507f1f77bcf86cd799439011\tactive\t10485760\n",
    "html": "<!doctype html><html><body><table><tr><td>upload_id</td></tr></table></body></html>\n",
    "json": '{"data": [{"upload_id": "u1", "status": "active"}], "page_info": {}}\n',
    "header_only_foreign": "a,b,c\r\n",
    "newline_only": "\r\n",
    "one_known_column": "status,amount\r\nactive,12\r\npaused,7\r\n",
    "known_columns_wrong_values": "upload_id,total_size,created_at\r\nu1,lots,last week\r\n",
    "header_only_ours": ",".join(schema.columns("listing")) + "\r\n",
    "ragged": "upload_id,status\r\nu1,active,extra\r\n",
    "unterminated_quote": 'upload_id,status\r\n"u1,active\r\n',
    "nul": "upload_id,status\r\nu\x001,active\r\n",
}


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_foreign_csv(tmp_path, original, file_counts, name):
    path = tmp_path / f"{name}.csv"
    path.write_bytes(FOREIGN[name].encode("utf-8"))
    result = read(path, original, file_counts)
    if name == "nul":  # Python's csv reads NUL characters since 3.11: an odd id, read loudly (no sidecar)
        assert result[0] == "error" or (result[2] and result[1].loc[0, "upload_id"] == "u\x001")
    elif name in ("one_known_column", "header_only_ours"):
        # Shares columns with ours: read with schema dtypes, the rest added as nulls, loudly.
        assert result[0] == "frame" and result[2]
        assert list(result[1].columns[:7]) == list(LISTING)
    else:
        assert result[0] == "error", f"{name} was read as a frame:\n{result[1]}"


def test_our_other_formats_given_to_read_csv(tmp_path, original, file_counts):
    for path in (to_jsonl(original, tmp_path / "u.jsonl"), to_parquet(original, tmp_path / "u.parquet")):
        assert read(path, original, file_counts)[0] == "error", path.name


@pytest.mark.parametrize("junk", ["empty", "random", "png", "gzip_of_the_csv", "zeros", "utf8_noise"])
@pytest.mark.parametrize("sidecar", [True, False], ids=["sidecar", "no_sidecar"])
def test_empty_and_binary_files(written, original, file_counts, junk, sidecar):
    rng = random.Random(junk)
    raw = {"empty": b"", "random": bytes(rng.randrange(256) for _ in range(4096)),
           "png": b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(500)),
           "gzip_of_the_csv": gzip.compress(written.read_bytes()), "zeros": b"\x00" * 1000,
           "utf8_noise": "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(3000)).encode("utf-8") + b"\r\n"}[junk]
    written.write_bytes(raw)
    if not sidecar:
        _sidecar(written).unlink()
    result = read(written, original, file_counts)
    assert result[0] == "error", f"{junk} read as a frame"


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_csv(tmp_path / "nope.csv")


# --- Parquet --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["truncated", "junk", "csv_renamed", "empty", "foreign_types", "foreign_table",
                                    "bad_metadata"])
def test_damaged_and_foreign_parquet(tmp_path, original, file_counts, damage):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = to_parquet(original, tmp_path / "u.parquet")
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "junk":
        path.write_bytes(os.urandom(2048))
    elif damage == "csv_renamed":
        path.write_bytes(to_csv(original, tmp_path / "u.csv").read_bytes())
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "foreign_types":
        pq.write_table(pa.table({"upload_id": ["u1"], "total_size": ["lots"], "created_at": ["last week"]}), path)
    elif damage == "foreign_table":
        pq.write_table(pa.table({"Date": ["2025-12-01"], "Amount": [-3.5]}), path)
    elif damage == "bad_metadata":
        table = pq.read_table(path)
        pq.write_table(table.replace_schema_metadata({b"tlanalytics": b"{broken"}), path)
    result = read(path, original, file_counts, reader=read_parquet)
    if damage == "foreign_table":
        assert result[0] == "frame" and result[2]  # other tools' files: read, known columns cast, with a warning
    else:
        assert result[0] == "error", f"{damage} read as a frame"


# --- mutations ----------------------------------------------------------------------------------------------------

MUTATIONS = st.lists(st.tuples(st.sampled_from(["delete", "duplicate", "insert", "replace", "swap_lines"]),
                               st.floats(0, 1), st.integers(1, 40), st.binary(min_size=1, max_size=8)),
                     min_size=1, max_size=3)


def _mutate(raw, mutations):
    for kind, at, size, junk in mutations:
        i = int(at * len(raw))
        if kind == "delete":
            raw = raw[:i] + raw[i + size:]
        elif kind == "duplicate":
            raw = raw[:i] + raw[i:i + size] + raw[i:]
        elif kind == "insert":
            raw = raw[:i] + junk + raw[i:]
        elif kind == "replace":
            raw = raw[:i] + junk + raw[i + len(junk):]
        else:
            lines = raw.split(b"\r\n")
            j = min(len(lines) - 1, i % max(1, len(lines)))
            k = min(len(lines) - 1, size % max(1, len(lines)))
            lines[j], lines[k] = lines[k], lines[j]
            raw = b"\r\n".join(lines)
    return raw


@settings(max_examples=60 * SCALE, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(mutations=MUTATIONS, sidecar=st.booleans())
def test_mutated_files_error_or_keep_their_dtypes(tmp_path_factory, original, file_counts, mutations, sidecar):
    file_counts["mutations"] += 1
    folder = tmp_path_factory.mktemp("mut")
    path = to_csv(original, folder / "uploads.csv")
    path.write_bytes(_mutate(path.read_bytes(), mutations))
    if not sidecar:
        _sidecar(path).unlink()
    result = read(path, original, file_counts)
    if result[0] == "frame" and not sidecar:
        assert any("sidecar" in str(w.message) for w in result[2])


# --- values outside what the frame can hold -------------------------------------------------------------------

HOSTILE_CELLS = [
    ("created_at", "0001-01-01T00:00:00Z"), ("created_at", "9999-12-31T23:59:59Z"), ("expires_at", "10000-01-01T00:00:00Z"),
    ("expires_at", "-0001-01-01T00:00:00Z"), ("last_activity", "1677-09-21T00:12:43Z"),
    ("last_activity", "2262-04-11T23:47:17Z"), ("created_at", "2025-12-01T10:00:00+99:99"),
    ("created_at", "2025-12-01T10:00:00." + "9" * 5000 + "Z"), ("created_at", "t" * (3 << 20)),
    ("total_size", "9" * 400), ("total_size", "-" + "9" * 400), ("total_size", "1e308"), ("total_size", "True"),
    ("uploaded_size", str(2**64)), ("total_chunks", "x" * (3 << 20)), ("age", "9" * 400), ("age", "1e308"),
    ("idle_for", "9223372036.854775808"), ("lifetime_elapsed", "9" * 400 + ".5"), ("vanished", "\x00"),
]


@pytest.mark.parametrize("sidecar", [True, False], ids=["sidecar", "no_sidecar"])
@pytest.mark.parametrize("column,value", HOSTILE_CELLS, ids=lambda v: v[:24] if isinstance(v, str) else v)
def test_values_outside_the_frames_range_are_a_file_format_error(written, original, file_counts, column, value,
                                                                 sidecar):
    _edit_cell(written, column, 2, value)
    if not sidecar:
        _sidecar(written).unlink()
    result = read(written, original, file_counts)
    if result[0] == "frame":  # only floats may take these: 1e308 and a 400-digit number are floats
        assert column == "lifetime_elapsed", (column, value[:40], result[1][column].iloc[2])
        return
    message = str(result[1])
    # a cell past the csv module's field limit (128 KiB) is refused with its line, before columns are known
    assert (column in message or "field limit" in message) and "line 4" in message, message[:300]
    assert len(message) < 2000  # a 3 MB cell is not echoed whole


@pytest.mark.parametrize("value", ["\udcff", "a\x00b", "..", "x" * (2 << 20)], ids=["surrogate", "nul", "dots", "2MB"])
def test_hostile_text_cells_read_back_as_text(written, original, file_counts, value):
    """Text columns hold any text a file can carry: the reader keeps it (the frame's checks are for the wire)."""
    import csv
    import io

    raw = written.read_bytes().decode("utf-8")
    table = list(csv.reader(io.StringIO(raw, newline="")))
    table[3][table[0].index("note")] = value
    out = io.StringIO(newline="")
    csv.writer(out).writerows(table)
    written.write_bytes(out.getvalue().encode("utf-8", "surrogatepass"))
    result = read(written, original, file_counts)
    if value == "\udcff":  # CESU bytes are not UTF-8
        assert result[0] == "error" and "UTF-8" in str(result[1])
    elif len(value) > 131072:  # past the csv module's field limit: refused, naming the line
        assert result[0] == "error" and "line 4" in str(result[1]) and len(str(result[1])) < 2000
    else:
        assert result[0] == "frame" and result[1]["note"].iloc[2] == value


def _side_edit(path, edit):
    side = _sidecar(path)
    meta = json.loads(side.read_text(encoding="utf-8"))
    side.write_text(edit(meta) if callable(edit) else edit, encoding="utf-8")


@pytest.mark.parametrize("damage", ["deep_json", "deep_attr", "rows_400_digits", "rows_float", "rows_bool",
                                    "as_of_9999", "as_of_year_1", "timedelta_attr_huge", "int_attr_400_digits",
                                    "category_surrogate", "nan_rows"])
def test_hostile_sidecars_are_a_file_format_error(written, original, file_counts, damage):
    deep = "[" * 100_000 + "]" * 100_000
    edits = {
        "deep_json": deep,
        "deep_attr": lambda m: json.dumps(m).replace('"attrs": {', '"attrs": {"zz": {"type": "json", "value": '
                                                    + deep + '}, ', 1),
        "rows_400_digits": lambda m: json.dumps({**m, "rows": 10**400}),
        "rows_float": lambda m: json.dumps({**m, "rows": float(m["rows"])}),
        "rows_bool": lambda m: json.dumps({**m, "rows": True}),
        "as_of_9999": lambda m: json.dumps({**m, "attrs": {**m["attrs"], "as_of": {"type": "timestamp",
                                                                                    "value": "9999-01-01T00:00:00+00:00",
                                                                                    "tz": "UTC"}}}),
        "as_of_year_1": lambda m: json.dumps({**m, "attrs": {**m["attrs"], "as_of": {"type": "timestamp",
                                                                                      "value": "0001-01-01T00:00:00",
                                                                                      "tz": None}}}),
        "timedelta_attr_huge": lambda m: json.dumps({**m, "attrs": {**m["attrs"], "t": {"type": "timedelta",
                                                                                         "value": "9" * 400}}}),
        "int_attr_400_digits": lambda m: json.dumps({**m, "attrs": {**m["attrs"], "n": {"type": "int",
                                                                                         "value": 10**400}}}),
        "category_surrogate": lambda m: json.dumps(m).replace('"active"', '"\\udcff"', 1),
        "nan_rows": lambda m: json.dumps({**m, "rows": float("nan")}),
    }
    _side_edit(written, edits[damage])
    result = read(written, original, file_counts)
    if damage == "int_attr_400_digits":  # a Python int of any size is a fine attr
        assert result[0] == "frame" and result[1].attrs["n"] == 10**400
    elif damage == "category_surrogate":  # "active" is no longer a recorded category: the cells say it is
        assert result[0] == "error" or "\udcff" not in result[1]["status"].astype(str).tolist()
    else:
        assert result[0] == "error", damage


@pytest.mark.parametrize("damage", ["ts_9999", "ts_year_1", "uint64_max", "float_1e308_size", "int_strings",
                                    "deep_json_extra", "duration_huge", "binary_ids", "nested_status",
                                    "ts_9999_no_meta", "uint64_no_meta", "surrogate_free_ids"])
def test_hostile_parquet_values(tmp_path, original, file_counts, damage):
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    df = original.copy()
    df["extra"] = pd.Series([[1, {"a": 2}]] * len(df), dtype=object)
    df.attrs = dict(original.attrs)
    path = to_parquet(df, tmp_path / "u.parquet")
    table = pq.read_table(path)
    meta = table.schema.metadata
    n = table.num_rows

    def put(name, array, keep_meta=True):
        at = table.schema.get_field_index(name)
        out = table.set_column(at, name, array)
        pq.write_table(out.replace_schema_metadata(meta if keep_meta else None), path)

    big = datetime.datetime(9999, 12, 31)
    if damage == "ts_9999":
        put("created_at", pa.array([big] * n, pa.timestamp("us", tz="UTC")))
    elif damage == "ts_year_1":
        put("expires_at", pa.array([datetime.datetime(1, 1, 1)] * n, pa.timestamp("us", tz="UTC")))
    elif damage == "uint64_max":
        put("total_size", pa.array([2**64 - 1] * n, pa.uint64()))
    elif damage == "float_1e308_size":
        put("total_size", pa.array([1e308] * n, pa.float64()))
    elif damage == "int_strings":
        put("total_chunks", pa.array(["9" * 400] * n))
    elif damage == "deep_json_extra":
        put("extra", pa.array(["[" * 100_000 + "]" * 100_000] * n))
    elif damage == "duration_huge":
        put("age", pa.array([2**63 - 1] * n, pa.duration("s")))
    elif damage == "binary_ids":
        put("upload_id", pa.array([b"\xff\xfe"] * n, pa.binary()))
    elif damage == "nested_status":
        put("status", pa.array([[1, 2]] * n))
    elif damage == "ts_9999_no_meta":
        put("created_at", pa.array([big] * n, pa.timestamp("us")), keep_meta=False)
    elif damage == "uint64_no_meta":
        put("total_size", pa.array([2**64 - 1] * n, pa.uint64()), keep_meta=False)
    elif damage == "surrogate_free_ids":
        put("upload_id", pa.array(["..", "a/b", "\x00", "x" * 5000] * (n // 4) + ["u"] * (n % 4)))
    result = read(path, original, file_counts, reader=read_parquet)
    if damage == "surrogate_free_ids":  # any text is a fine upload_id in a file: kept as written
        assert result[0] == "frame" and result[1]["upload_id"].iloc[0] == ".."
    else:
        assert result[0] == "error", f"{damage} read as a frame"
