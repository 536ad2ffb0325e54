"""Write uploads DataFrames to CSV, Parquet and JSON Lines, and read them back.

CSV files get a JSON sidecar, ``<name>.csv.meta.json``, rather than header
comment lines, so the CSV itself opens cleanly in any spreadsheet. The sidecar
records each column's dtype (categories and their order included), the row
count and ``df.attrs``; :func:`read_csv` uses it to restore the frame exactly.
Cells:

- timestamps: ISO 8601 in UTC with ``Z``, up to nine decimals, trailing zeros
  trimmed (``2025-12-01T10:00:00.5Z``); naive timestamps without ``Z``;
- durations: decimal seconds formatted from integer nanoseconds, so exact
  (``5400``, ``-0.000000001``);
- integers, floats (shortest exact ``repr``, ``inf``) and booleans
  (``True``/``False``) as Python prints them; a missing value is an empty cell;
- text (string, object and categorical columns, and the header): a leading
  apostrophe is the escape character. An empty string is written ``'``, a
  string starting with ``'`` gets a second one and, with
  ``neutralize_formulas``, one starting with ``= + - @``, tab or carriage
  return gets one so spreadsheets do not run it as a formula.
  :func:`read_csv` strips one leading apostrophe from every text cell, which
  makes the round trip exact for all strings. Numbers are never prefixed.

Object columns whose values are JSON (numbers, lists, dicts: extra API fields)
are written as JSON text and come back equal; other object columns are written
as ``str(value)`` and come back as strings. Without the sidecar,
:func:`read_csv` takes known columns' dtypes from :mod:`tlanalytics.schema`,
reads other columns as ``string`` and returns empty attrs, with a
:class:`~tlanalytics.errors.FileFormatWarning`. No format writes the index, nor
attrs whose key contains "key", "token", "secret" or "password".
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import re
import sys
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from . import schema
from .errors import ConfigurationError, FileFormatError, FileFormatWarning, InvalidArgumentError

__all__ = ["to_csv", "read_csv", "to_parquet", "read_parquet", "to_jsonl", "write_frame", "require_pyarrow", "SIDECAR_SUFFIX"]

#: Appended to a CSV file's name to name its sidecar.
SIDECAR_SUFFIX = ".meta.json"
_CSV, _PARQUET, _VERSION = "tlanalytics-csv", "tlanalytics-parquet", 1
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_SECRET_WORDS = ("key", "token", "secret", "password")
_SUFFIXES = {" (UTC)": "datetime", " (h)": "timedelta"}  # excel=True headers
_NS, _NS_PER_HOUR, _NAT = 10**9, 3600 * 10**9, np.iinfo(np.int64).min
_TS_MIN, _TS_MAX = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
_SECONDS_RE = re.compile(r"([+-]?)(\d+)(?:\.(\d{1,9}))?")
_INT_RE = re.compile(r"\s*[+-]?\d+\s*")
_BOOLS = {"true": True, "1": True, "false": False, "0": False}
_JSON = json.JSONEncoder(ensure_ascii=False, default=str)
_KINDS = {"b": "bool", "i": "int", "u": "int", "f": "float", "M": "datetime", "m": "timedelta"}


def _spec(name, dtype):
    """Describe a column dtype as JSON (the ``columns`` of the sidecar and Parquet metadata)."""
    if isinstance(dtype, pd.CategoricalDtype) and all(isinstance(c, str) for c in dtype.categories):
        return {"name": name, "kind": "category", "categories": list(dtype.categories),
                "ordered": bool(dtype.ordered)}
    if isinstance(dtype, pd.StringDtype):
        na = "NA" if dtype.na_value is pd.NA else "nan"
        return {"name": name, "kind": "text", "storage": dtype.storage, "na": na}
    kind = None if isinstance(dtype, pd.CategoricalDtype) else _KINDS.get(getattr(dtype, "kind", "O"))
    return {"name": name, "kind": kind, "dtype": str(dtype)} if kind else {"name": name, "kind": "object"}


@functools.lru_cache(maxsize=None)
def _schema_spec(name):
    """The spec of a column from the schema (``string`` for unknown names)."""
    return _spec(name, pd.api.types.pandas_dtype(schema.dtype_of(name) if name in schema.columns() else "string"))


def _dtype(spec):
    """The pandas dtype a spec describes; ValueError/TypeError/KeyError if the spec is bad."""
    kind = spec["kind"]
    if kind == "category":
        if not all(isinstance(c, str) for c in spec["categories"]):
            raise TypeError("categories must be strings")
        return pd.CategoricalDtype(spec["categories"], ordered=bool(spec["ordered"]))
    if kind == "text":
        return pd.StringDtype(spec["storage"], na_value=pd.NA if spec["na"] == "NA" else np.nan)
    if kind in ("object", "json"):
        return np.dtype(object)
    if kind not in _KINDS.values():
        raise ValueError(f"unknown column kind {kind!r}")
    return pd.api.types.pandas_dtype(spec["dtype"])


def _seconds(ns):
    """Exact decimal seconds of integer nanoseconds: ``5400``, ``-0.5``."""
    whole, frac = divmod(abs(int(ns)), _NS)
    return ("-" if ns < 0 else "") + str(whole) + (f".{frac:09d}".rstrip("0") if frac else "")


def _nanoseconds(cell, hours=False):
    """Integer nanoseconds of a seconds (or float hours) cell; ValueError if unreadable."""
    match = None if hours else _SECONDS_RE.fullmatch(cell.strip())
    if match:
        sign, whole, frac = match.groups()
        ns = (int(whole) * _NS + int((frac or "").ljust(9, "0"))) * (-1 if sign == "-" else 1)
    else:  # float hours (excel=True), or pandas' own text ("0 days 01:30:00") in foreign files
        ns = round(float(cell) * _NS_PER_HOUR) if hours else pd.Timedelta(cell.strip()).value
    if not -(2**63) < ns < 2**63:
        raise ValueError("out of range")
    return ns


def _escape(text, neutralize):
    """Prefix the escape apostrophe where needed (see the module docstring)."""
    return "'" + text if text == "" or text[0] == "'" or (neutralize and text[0] in _DANGEROUS) else text


def _unescape(cell):
    """Undo :func:`_escape`."""
    return cell[1:] if cell.startswith("'") else cell


def _cells(series, spec, *, excel=False, neutralize=False):
    """Format one column as CSV cells; missing values become empty cells."""
    kind, missing = spec["kind"], series.isna().to_numpy()
    if kind == "datetime":
        aware = getattr(series.dtype, "tz", None) is not None
        naive = series.dt.tz_convert("UTC").dt.tz_localize(None) if aware else series
        text = np.datetime_as_string(naive.to_numpy("datetime64[ns]"), unit="s" if excel else "ns")
        cells = [t.replace("T", " ") if excel else t.rstrip("0").rstrip(".") + "Z" * aware for t in text]
    elif kind == "timedelta":
        ns = series.to_numpy("timedelta64[ns]").view("i8")
        cells = [repr(int(v) / _NS_PER_HOUR) if excel else _seconds(v) for v in ns]
    elif kind in ("int", "float", "bool"):
        fmt = {"int": lambda v: str(int(v)), "float": lambda v: repr(float(v)), "bool": lambda v: str(bool(v))}[kind]
        cells = [fmt(v) for v in np.where(missing, 0, series.to_numpy(dtype=object))]
    elif kind == "json":
        cells = [json.dumps(v, ensure_ascii=False) for v in _as_text(series)]
    else:
        values = np.where(missing, "", series.to_numpy(dtype=object))
        cells = [_escape(str(v), neutralize and isinstance(v, str)) for v in values]
    return ["" if m else c for c, m in zip(cells, missing)]


def _grow_categories(name, values, dtype, where, warn):
    """``dtype`` with unseen values appended; FileFormatError for an ordered dtype."""
    new = list(dict.fromkeys(v for v in values if isinstance(v, str) and v not in dtype.categories))
    if new and dtype.ordered:
        raise FileFormatError(f"Column `{name}`, {where(list(values).index(new[0]))}: {new[0]!r} is not one of "
                              f"the ordered categories {list(dtype.categories)}.")
    if new and warn:
        _warn(f"Column `{name}` has values {new} outside its recorded categories; they were added as categories.")
    return pd.CategoricalDtype([*dtype.categories, *new], ordered=dtype.ordered) if new else dtype


def _int(cell):
    """An int from an integer cell (no decimals); ValueError otherwise."""
    if not _INT_RE.fullmatch(cell):
        raise ValueError(cell)
    return int(cell)


_PARSERS = {"int": (_int, "an integer"), "float": (float, "a number"),
            "bool": (lambda c: _BOOLS[c.strip().lower()], "True or False"),
            "timedelta": (_nanoseconds, "a duration in seconds"),
            "hours": (lambda c: _nanoseconds(c, hours=True), "a duration in hours"), "json": (json.loads, "JSON")}


def _parse_column(name, cells, lines, spec, hours=False, recorded=True):
    """Parse one column's CSV cells into a Series of the spec's dtype."""
    kind, dtype = spec["kind"], _dtype(spec)

    def bad(i, what):
        cell = cells[i] if len(cells[i]) <= 80 else cells[i][:80] + f"... ({len(cells[i])} characters)"
        raise FileFormatError(f"Column `{name}`, line {lines[i]}: {cell!r} is not {what}.")

    present = [i for i, c in enumerate(cells) if c != ""]
    values = [None] * len(cells)
    if kind in ("text", "object", "category"):
        for i in present:
            values[i] = _unescape(cells[i])
        if kind == "category":
            dtype = _grow_categories(name, values, dtype, lambda i: f"line {lines[i]}", recorded)
        return pd.Series(values, dtype=dtype)
    if kind == "datetime":
        parsed = pd.to_datetime([c or None for c in cells], format="ISO8601", utc=True, errors="coerce")
        unparsed = np.flatnonzero(parsed.isna() & (np.array(cells, dtype=object) != ""))
        if len(unparsed):
            bad(unparsed[0], "an ISO 8601 timestamp")
        outside = np.flatnonzero(parsed.notna() & ((parsed < _TS_MIN) | (parsed > _TS_MAX)))
        if len(outside):  # pandas parses years 0001-9999 at a coarser unit; ns holds 1677-2262 only
            bad(outside[0], "a timestamp between the years 1677 and 2262")
        tz = getattr(dtype, "tz", None)
        return pd.Series((parsed.tz_convert(tz) if tz is not None else parsed.tz_localize(None)).astype(dtype))
    parse, what = _PARSERS["hours" if kind == "timedelta" and hours else kind]
    for i in present:
        try:
            values[i] = parse(cells[i])
        except (ValueError, KeyError, OverflowError, RecursionError):  # RecursionError: JSON nested too deep
            bad(i, what)
    if kind == "json":
        return pd.Series(values, dtype=object)
    if kind == "timedelta":
        return pd.Series(np.array([_NAT if v is None else v for v in values], "i8").view("m8[ns]")).astype(dtype)
    if len(present) < len(cells) and isinstance(dtype, np.dtype) and dtype.kind in "biu":
        bad(next(i for i, c in enumerate(cells) if c == ""), f"a value (the column's dtype {dtype} has no nulls)")
    try:
        return pd.Series(pd.array(values, dtype=object)).astype(dtype)
    except (OverflowError, ValueError, TypeError) as exc:
        for i in present:  # name the first offending line
            try:
                pd.array([values[i]], dtype=object).astype(dtype)
            except (OverflowError, ValueError, TypeError):
                bad(i, f"a value that fits {dtype}")
        raise FileFormatError(f"Column `{name}`: a value does not fit {dtype} ({exc}).") from exc


def _warn(message):
    """Emit a FileFormatWarning pointing at the first caller outside this module."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, FileFormatWarning, stacklevel=level)


def _encode_attrs(attrs):
    """``df.attrs`` as JSON, without secrets; values of other types are left out with a warning."""
    out = {}
    for key, value in attrs.items():
        if not isinstance(key, str) or any(word in key.lower() for word in _SECRET_WORDS):
            continue
        if isinstance(value, (bool, np.bool_)):
            out[key] = {"type": "bool", "value": bool(value)}
        elif isinstance(value, (int, np.integer)):
            out[key] = {"type": "int", "value": int(value)}
        elif isinstance(value, (float, np.floating)):
            out[key] = {"type": "float", "value": repr(float(value))}
        elif isinstance(value, datetime):
            ts = pd.Timestamp(value)
            out[key] = {"type": "timestamp", "value": ts.isoformat(), "tz": None if ts.tz is None else str(ts.tz)}
        elif isinstance(value, (timedelta, np.timedelta64)):
            out[key] = {"type": "timedelta", "value": _seconds(pd.Timedelta(value).value)}
        else:
            try:
                out[key] = {"type": "json", "value": json.loads(json.dumps(value, allow_nan=False))}
            except (TypeError, ValueError):
                _warn(f"df.attrs[{key!r}] ({type(value).__name__}) cannot be stored and was left out.")
    return out


def _decode_attrs(encoded):
    """Inverse of :func:`_encode_attrs`."""
    attrs = {}
    for key, item in encoded.items():
        kind, value = item["type"], item["value"]
        if kind == "timestamp":
            ts = pd.Timestamp(value).as_unit("ns")  # ValueError outside 1677-2262, as a frame's as_of must be
            attrs[key] = ts.tz_convert(item["tz"]) if item["tz"] else ts
        else:
            convert = {"bool": bool, "int": int, "json": lambda v: v, "float": float,
                       "timedelta": lambda v: pd.Timedelta(_nanoseconds(v))}[kind]
            attrs[key] = convert(value)
    return attrs


def _load_meta(raw, fmt, where):
    """Parse and validate a sidecar or Parquet metadata; FileFormatError if damaged."""
    try:
        meta = json.loads(raw)
        if meta.get("format") != fmt or meta.get("version") != _VERSION:
            raise ValueError(f"expected format {fmt!r} version {_VERSION}")
        if type(meta.get("rows", 0)) is not int or not all(isinstance(c["name"], str) for c in meta["columns"]):
            raise TypeError("bad rows or column names")
        meta["dtypes"] = {c["name"]: _dtype(c) for c in meta["columns"]}
        meta["attrs"] = _decode_attrs(meta["attrs"])
        return meta
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
        raise FileFormatError(f"{where} is damaged ({type(exc).__name__}: {str(exc)[:200]}); delete it to read "
                              "the data with coercions.") from exc


def _check_frame(df):
    """Raise InvalidArgumentError unless ``df`` is a DataFrame with unique string column names."""
    if not isinstance(df, pd.DataFrame):
        raise InvalidArgumentError(
            f"The value for `df` must be a pandas DataFrame, but {type(df).__name__} was passed.")
    if not all(isinstance(c, str) for c in df.columns) or df.columns.has_duplicates:
        raise InvalidArgumentError("The columns of `df` must have unique string names; rename them first.")
    specs = [_spec(name, dtype) for name, dtype in df.dtypes.items()]
    for spec in specs:
        if spec["kind"] == "object" and _is_json(df[spec["name"]]):
            spec["kind"] = "json"
    return specs


def _is_json(series):
    """True for an object column of JSON values, not all strings, that json.dumps/loads keeps equal."""
    values = list(series[series.notna()])
    try:
        return not all(isinstance(v, str) for v in values) and json.loads(json.dumps(values)) == values
    except (TypeError, ValueError):
        return False


def to_csv(df, path, *, excel=False, neutralize_formulas=True):
    """Write an uploads DataFrame to CSV plus a JSON sidecar ``<path>.meta.json``.

    Round-trips exactly through :func:`read_csv` (dtypes, category order,
    nulls, empty strings, attrs); the format is described in the module
    docstring. The index is not written.

    Parameters
    ----------
    df : pandas.DataFrame
        The frame, with unique string column names.
    path : str or os.PathLike
        The CSV file; the sidecar goes next to it.
    excel : bool, default False
        For spreadsheets, not for round trips: UTF-8 with BOM, timestamps as
        naive UTC ``YYYY-MM-DD HH:MM:SS`` (whole seconds, header ``<name> (UTC)``),
        durations as float hours (header ``<name> (h)``). :func:`read_csv`
        reads them back as UTC timestamps and durations rounded to ns.
    neutralize_formulas : bool, default True
        Prefix text cells starting with ``= + - @``, tab or carriage return
        with ``'`` so spreadsheets show them as text; :func:`read_csv` removes it.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> df = pd.DataFrame({"upload_id": pd.array(["u1", "=1+1", ""], dtype="string")})
    >>> path = to_csv(df, pathlib.Path(tempfile.mkdtemp()) / "uploads.csv")
    >>> path.read_text().splitlines()
    ['upload_id', 'u1', "'=1+1", "'"]
    """
    specs = _check_frame(df)
    path = Path(path)
    header, columns = [], []
    for spec, (name, series) in zip(specs, df.items()):
        aware = getattr(series.dtype, "tz", None) is not None
        suffix = " (h)" if spec["kind"] == "timedelta" else " (UTC)" if aware else ""
        header.append(_escape(name + suffix * excel, neutralize_formulas))
        columns.append(_cells(series, spec, excel=excel, neutralize=neutralize_formulas))
    with open(path, "w", encoding="utf-8-sig" if excel else "utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(zip(*columns))
    meta = {"format": _CSV, "version": _VERSION, "excel": bool(excel),
            "neutralize_formulas": bool(neutralize_formulas), "rows": len(df), "columns": specs,
            "attrs": _encode_attrs(df.attrs)}
    path.with_name(path.name + SIDECAR_SUFFIX).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return path


def _read_rows(path):
    """Header, data rows and their line numbers of a CSV file; FileFormatError if damaged."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        try:
            text = f.read()
        except UnicodeDecodeError as exc:
            raise FileFormatError(f"{path} is not UTF-8 text; expected a CSV written by to_csv.") from exc
    if text and not text.endswith(("\n", "\r")):
        raise FileFormatError(f"{path} does not end with a line break: it looks truncated (last line cut). "
                              "If it is complete, add a line break at its end.")
    reader = csv.reader(io.StringIO(text), strict=True)
    rows, lines = [], []
    try:
        header = next(reader, [])
        for row in reader:
            if len(row) != len(header):
                raise FileFormatError(f"{path}, line {reader.line_num}: {len(row)} fields where the header has "
                                      f"{len(header)}; the file looks truncated or damaged.")
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise FileFormatError(f"{path}, line {reader.line_num}: {exc}; the file looks truncated or damaged.") from exc
    return header, rows, lines


def read_csv(path):
    """Read a CSV written by :func:`to_csv`, with or without its sidecar.

    With the sidecar the frame comes back exactly as written (``excel=True``
    files with their documented coercions). Without it, known columns get the
    schema's dtypes, unknown ``status`` values become extra categories, other
    columns are ``string`` and attrs are empty (FileFormatWarning). Columns
    are put in the recorded (or schema) order; expected columns the file
    lacks (all recorded ones; without sidecar, the listing and derived ones)
    are added as nulls with a FileFormatWarning.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file; its sidecar, when there is one, is read from beside it.

    Returns
    -------
    pandas.DataFrame
        The sessions, with dtypes and attrs restored from the sidecar.

    Raises
    ------
    FileNotFoundError
        The CSV file does not exist.
    tlanalytics.errors.FileFormatError
        The file is truncated (no final line break, short rows, fewer rows
        than recorded), has none of the expected columns, a cell that does not
        parse as its column's dtype (the message names column and line), a
        value outside an ordered category, or its sidecar is damaged.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> df = pd.DataFrame({"upload_id": pd.array(["u1", "", None], dtype="string")})
    >>> df.attrs["as_of"] = pd.Timestamp("2025-12-01T10:00:00Z")
    >>> back = read_csv(to_csv(df, pathlib.Path(tempfile.mkdtemp()) / "uploads.csv"))
    >>> back.equals(df), back.attrs["as_of"]
    (True, Timestamp('2025-12-01 10:00:00+0000', tz='UTC'))
    """
    path = Path(path)
    header, rows, lines = _read_rows(path)
    side = path.with_name(path.name + SIDECAR_SUFFIX)
    meta = _load_meta(side.read_bytes(), _CSV, f"The sidecar {side}") if side.exists() else None
    specs = {c["name"]: c for c in meta["columns"]} if meta else {}
    names, hours = [], set()
    for cell in header:
        name = _unescape(cell)
        for suffix, kind in _SUFFIXES.items():
            stem = name[: -len(suffix)]
            if name.endswith(suffix) and name not in specs and specs.get(stem, _schema_spec(stem))["kind"] == kind:
                name = stem
                hours.update([stem] if kind == "timedelta" else [])
        names.append(name)
    if not set(names) & (set(specs) | set(schema.columns())):
        raise FileFormatError(f"{path} has none of the expected columns (for example "
                              f"{', '.join(schema.columns('listing'))}); found {names[:10]}.")
    if len(set(names)) != len(names):
        raise FileFormatError(f"{path} has duplicate columns: {sorted({n for n in names if names.count(n) > 1})}.")
    if meta is None:
        _warn(f"{path} has no sidecar {side.name}: dtypes were taken from the schema, extra columns read as "
              "strings, and attrs are empty.")
        expected = schema.columns("listing") + schema.columns("derived")
        expected += schema.columns("progress") if set(names) & set(schema.columns("progress")) else []
    else:
        expected = list(specs)
        if len(rows) != meta["rows"]:
            raise FileFormatError(f"{path} has {len(rows)} rows but its sidecar records {meta['rows']}: the file is "
                                  "truncated or was edited. Delete the sidecar to read it with coercions.")
        if set(names) - set(specs):
            _warn(f"{path} has columns its sidecar does not describe: {[n for n in names if n not in specs]}.")
    missing = [n for n in expected if n not in names]
    if missing:
        _warn(f"{path} lacks the columns {missing}; they were added as nulls.")
    cells = list(zip(*rows)) or [()] * len(names)
    data = {n: _parse_column(n, cells[i], lines, specs.get(n) or _schema_spec(n), n in hours, bool(meta))
            for i, n in enumerate(names)}
    data.update({n: _parse_column(n, [""] * len(rows), lines, specs.get(n) or _schema_spec(n)) for n in missing})
    df = pd.DataFrame({n: data[n] for n in expected + [n for n in names if n not in expected]})
    df.attrs = meta["attrs"] if meta else {}
    return df


def _as_text(series, convert=lambda v: v):
    """An object Series of ``convert(value)``, None where missing (how object columns are stored)."""
    values = zip(series.to_numpy(dtype=object), series.isna())
    return pd.Series([None if m else convert(v) for v, m in values], index=series.index, dtype=object)


def require_pyarrow():
    """Import pyarrow and pyarrow.parquet, or raise ConfigurationError (Parquet needs them).

    The CLI calls it before loading anything, so ``-o x.parquet`` fails fast.

    Returns
    -------
    tuple of module
        ``(pyarrow, pyarrow.parquet)``.

    Raises
    ------
    tlanalytics.errors.ConfigurationError
        pyarrow cannot be imported.

    Examples
    --------
    >>> pa, pq = require_pyarrow()  # doctest: +SKIP
    """
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise ConfigurationError("Parquet needs pyarrow, a dependency of tlanalytics that is missing here: pip install pyarrow") from exc
    return pyarrow, pyarrow.parquet


def to_parquet(df, path):
    """Write an uploads DataFrame to Parquet, with dtypes and attrs in its metadata.

    Round-trips exactly through :func:`read_parquet`; the index is not written.

    Parameters
    ----------
    df : pandas.DataFrame
        The frame, with unique string column names.
    path : str or os.PathLike
        The Parquet file to write (replaced if it exists).

    Returns
    -------
    pathlib.Path
        ``path``, as written.

    Raises
    ------
    tlanalytics.errors.ConfigurationError
        pyarrow is not installed (it is a dependency of tlanalytics: ``pip install pyarrow``).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> df = pd.DataFrame({"upload_id": pd.array(["u1", None], dtype="string")})
    >>> to_parquet(df, pathlib.Path(tempfile.mkdtemp()) / "uploads.parquet").name
    'uploads.parquet'
    """
    pa, pq = require_pyarrow()
    specs = _check_frame(df)
    text = {"object": str, "json": json.dumps}  # stored as text, like in CSV
    plain = pd.DataFrame({s["name"]: _as_text(df[s["name"]], text[s["kind"]]) if s["kind"] in text else df[s["name"]]
                          for s in specs})  # a fresh frame: pyarrow must not see attrs
    table = pa.Table.from_pandas(plain, preserve_index=False)
    meta = {"format": _PARQUET, "version": _VERSION, "columns": specs, "attrs": _encode_attrs(df.attrs)}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"tlanalytics": json.dumps(meta)})
    pq.write_table(table, path)
    return Path(path)


def read_parquet(path):
    """Read a Parquet file written by :func:`to_parquet`.

    Files without tlanalytics metadata (written by other tools) are read with
    known columns cast to the schema's dtypes (naive timestamps taken as UTC,
    unknown ``status`` values as extra categories) and empty attrs, with a
    FileFormatWarning.

    Parameters
    ----------
    path : str or os.PathLike
        The Parquet file.

    Returns
    -------
    pandas.DataFrame
        The sessions, with dtypes and attrs from the file's metadata.

    Raises
    ------
    FileNotFoundError
        The Parquet file does not exist.
    tlanalytics.errors.ConfigurationError
        pyarrow is not installed.
    tlanalytics.errors.FileFormatError
        Not a Parquet file, damaged metadata, or a column that cannot be cast.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> df = pd.DataFrame({"upload_id": pd.array(["u1", None], dtype="string")})
    >>> df.attrs["pages"] = 2
    >>> back = read_parquet(to_parquet(df, pathlib.Path(tempfile.mkdtemp()) / "uploads.parquet"))
    >>> back.equals(df), back.attrs
    (True, {'pages': 2})
    """
    pa, pq = require_pyarrow()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such file: {path}")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise FileFormatError(f"{path} is not a readable Parquet file ({exc}).") from exc
    raw = (table.schema.metadata or {}).get(b"tlanalytics")
    meta = _load_meta(raw, _PARQUET, f"The tlanalytics metadata of {path}") if raw else None
    if meta is None:
        _warn(f"{path} has no tlanalytics metadata: known columns were cast to the schema's dtypes; attrs are empty.")
    try:
        df = table.to_pandas()
    except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
        raise FileFormatError(f"{path} has values pandas cannot hold ({exc}).") from exc
    dtypes = meta["dtypes"] if meta else {n: _dtype(_schema_spec(n)) for n in schema.columns()}
    loads = {c["name"]: json.loads for c in meta["columns"] if c["kind"] == "json"} if meta else {}
    for name in [n for n in df.columns if n in dtypes]:
        column, dtype = df[name], dtypes[name]
        if isinstance(dtype, pd.CategoricalDtype):
            dtype = _grow_categories(name, column.to_numpy(object), dtype, lambda i: f"row {i}", bool(meta))
        elif getattr(dtype, "tz", None) is not None and column.dtype.kind == "M" and column.dt.tz is None:
            column = column.dt.tz_localize("UTC")
        try:
            df[name] = _as_text(column, loads.get(name, str)) if dtype == object else column.astype(dtype)
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # OutOfBoundsDatetime: ValueError
            raise FileFormatError(f"Column `{name}` of {path} cannot be read as {dtype} "
                                  f"({type(exc).__name__}: {str(exc)[:200]}).") from exc
    df.attrs = meta["attrs"] if meta else {}
    return df


def _json_cells(series, spec):
    """Format one column as JSON literals."""
    kind = spec["kind"]
    if kind in ("text", "category", "object", "json"):
        return [_JSON.encode(v) for v in _as_text(series)]
    cells = _cells(series, spec)
    if kind == "datetime":
        return [f'"{c}"' if c else "null" for c in cells]  # ISO text needs no JSON escaping
    if kind == "float":
        return [c if c and math.isfinite(float(c)) else "null" for c in cells]
    return [(c.lower() if kind == "bool" else c) or "null" for c in cells]


def to_jsonl(df, path):
    """Write an uploads DataFrame as JSON Lines, one object per row (the CLI's ``-o x.jsonl``).

    Timestamps are ISO 8601 strings with ``Z``, durations exact decimal
    seconds, categories strings, and missing values (and infinite floats)
    ``null``. Dtypes and attrs are not stored: use CSV or Parquet for round trips.

    Parameters
    ----------
    df : pandas.DataFrame
        The frame, with unique string column names.
    path : str or os.PathLike
        The JSON Lines file to write (replaced if it exists).

    Returns
    -------
    pathlib.Path
        ``path``, as written.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> df = pd.DataFrame({"upload_id": ["u1"], "age": [pd.Timedelta(minutes=90)]})
    >>> to_jsonl(df, pathlib.Path(tempfile.mkdtemp()) / "u.jsonl").read_text()
    '{"upload_id":"u1","age":5400}\\n'
    """
    specs = _check_frame(df)
    columns = [[f"{_JSON.encode(s['name'])}:{v}" for v in _json_cells(df[s["name"]], s)] for s in specs]
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines("{" + ",".join(row) + "}\n" for row in zip(*columns))
    return Path(path)


_WRITERS = {".csv": to_csv, ".jsonl": to_jsonl, ".parquet": to_parquet}


def write_frame(df, path, **kwargs):
    """Write a frame in the format its file extension names (the CLI's ``-o``).

    Parameters
    ----------
    df : pandas.DataFrame
    path : str or os.PathLike
        Ending in ``.csv``, ``.jsonl`` or ``.parquet`` (any case).
    **kwargs
        Passed on to :func:`to_csv`, :func:`to_jsonl` or :func:`to_parquet`.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    tlanalytics.errors.InvalidArgumentError
        The extension is none of those.

    Examples
    --------
    >>> write_frame(pd.DataFrame(), "uploads.xlsx")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    tlanalytics.errors.InvalidArgumentError: The value for `path` must end with one of ['.csv', ...
    """
    writer = _WRITERS.get(Path(path).suffix.lower())
    if writer is None:
        raise InvalidArgumentError(f"The value for `path` must end with one of {list(_WRITERS)}, "
                                   f"but {str(path)!r} was passed.")
    return writer(df, path, **kwargs)
