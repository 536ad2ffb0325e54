"""Reading the snapshot store's files into Arrow tables and history frames (file I/O only).

:func:`~tlanalytics.load_history` and the pyarrow engine of
:func:`~tlanalytics.open_history` read through here: hourly files in
batches with one dataset scan (file by file when one is damaged, to name
it), compacted files filtered to the snapshot moments a reader takes from
them, and Arrow columns converted to the schema's pandas dtypes with ids
as categoricals.
"""

from __future__ import annotations

import logging
import warnings

import pandas as pd

from .errors import FileFormatError, FileFormatWarning
from .schema import STATUSES, dtype_of

log = logging.getLogger(__name__)

INT_COLUMNS = ("total_size", "chunk_size", "total_chunks", "uploaded_size", "chunks_completed", "chunks_failed")
TIME_COLUMNS = ("snapshot_at", "created_at", "expires_at", "last_activity")


def pyarrow_modules():
    """pyarrow and pyarrow.parquet (a core dependency)."""
    import pyarrow
    import pyarrow.parquet

    return pyarrow, pyarrow.parquet


def read_one(path, schema):
    """Read one snapshot file as ``schema`` (missing columns as nulls), or raise FileFormatError naming it."""
    pa, pq = pyarrow_modules()
    try:
        present = set(pq.read_schema(path).names)
        table = pq.read_table(path, columns=[f.name for f in schema if f.name in present])
        cols = []
        for field in schema:
            if field.name in table.column_names:
                cols.append(table.column(field.name).cast(field.type))
            else:
                cols.append(pa.nulls(len(table), field.type))
        return pa.Table.from_arrays(cols, schema=schema)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise FileFormatError(f"The history file {path} is damaged or not a snapshot ({exc}). Move it out of the "
                              f"store, or pass on_damaged='warn' to skip it.") from exc


def _read_batch(paths, schema, on_damaged, skipped):
    """One Arrow table of some files: one fast dataset scan, file by file when something is wrong."""
    pa, _ = pyarrow_modules()
    import pyarrow.dataset as ds

    try:
        return ds.dataset([str(p) for p in paths], schema=schema, format="parquet").to_table()
    except (pa.ArrowException, OSError, ValueError):
        log.debug("dataset scan failed; reading the files one by one to find the damaged ones")
    tables = []
    for path in paths:
        try:
            tables.append(read_one(path, schema))
        except FileFormatError as exc:
            if on_damaged == "raise":
                raise
            skipped.append(path)
            warnings.warn(f"{exc} It was skipped.", FileFormatWarning, stacklevel=4)
    return pa.concat_tables(tables) if tables else schema.empty_table()


def source_batches(sources, size):
    """Sources in batches of about ``size`` files, never splitting a day (its rows are sorted together)."""
    out, cur, day = [], [], None
    for path, take in sources:
        if cur and len(cur) >= size and path.parent.name != day:
            out.append(cur)
            cur = []
        cur.append((path, take))
        day = path.parent.name
    return out + [cur] if cur else out


def read_sources(batch, schema, on_damaged, skipped, lo, hi, by_session=False):
    """One Arrow table of a batch of sources in snapshot order (compacted files filtered to their moments).

    ``by_session``: a lone compacted file keeps its order, by (upload_id, snapshot_at).
    """
    pa, _ = pyarrow_modules()
    import pyarrow.compute as pc

    from .histfiles import is_compacted

    hourly = [p for p, _ in batch if not is_compacted(p)]
    tables = [_read_batch(hourly, schema, on_damaged, skipped)] if hourly else []
    for path, take in batch:
        if not is_compacted(path):
            continue
        try:
            table = read_one(path, schema)
        except FileFormatError as exc:
            if on_damaged == "raise":
                raise
            skipped.append(path)
            warnings.warn(f"{exc} It was skipped.", FileFormatWarning, stacklevel=4)
            continue
        at = table.column("snapshot_at").cast(pa.int64())
        keep = None
        if take is not None:
            keep = pc.is_in(at, value_set=pa.array(sorted(m // 1000 for m in take), pa.int64()))
        elif lo is not None or hi is not None:
            keep = pc.and_(pc.greater_equal(at, -2**63 if lo is None else -(-lo // 1000)),
                           pc.less_equal(at, 2**63 - 1 if hi is None else hi // 1000))
        tables.append(table.filter(keep) if keep is not None else table)
    if not tables:
        return schema.empty_table()
    table = pa.concat_tables(tables)
    if not by_session and (len(tables) > 1 or len(hourly) < len(batch)):  # compacted rows come by session
        keys = [k for k in ("snapshot_at", "created_at", "upload_id") if k in table.column_names]
        table = table.sort_by([(k, "ascending") for k in keys])
    return table


def read_all(sources, schema, on_damaged, batch, lo=None, hi=None):
    """The history frame of every source, ``batch`` files at a time.

    Converting batch by batch keeps the peak near the size of the final frame
    (Arrow strings of a whole year would take several times more), and ids
    become categoricals whose categories are united at the end.
    """
    pa, _ = pyarrow_modules()
    skipped, pieces = [], []
    for part in source_batches(sources, batch) or [[]]:
        pieces.append(columns_of(read_sources(part, schema, on_damaged, skipped, lo, hi)))
        pa.default_memory_pool().release_unused()
    if len(pieces) == 1:
        return to_frame(pieces[0]), skipped
    from pandas.api.types import union_categoricals

    out = {}
    for name in list(pieces[0]):
        parts = [p.pop(name) for p in pieces]  # each batch's column is freed once merged
        if isinstance(parts[0].dtype, pd.CategoricalDtype):
            merged = union_categoricals([p.array for p in parts])
            if name == "status":
                merged = merged.set_categories(list(STATUSES) + sorted(set(merged.categories) - set(STATUSES)))
            out[name] = pd.Series(merged)
        else:
            out[name] = pd.concat(parts, ignore_index=True)
        del parts
    return to_frame(out), skipped


def _categorical(col, categories=None):
    """A string column as a pandas Categorical built from Arrow dictionary codes (no per-row Python work)."""
    pa, _ = pyarrow_modules()
    import pyarrow.compute as pc

    encoded = col.dictionary_encode().combine_chunks() if len(col) else None
    if encoded is None:
        cat = pd.Categorical([], categories=pd.Index([], dtype="string"))
    else:
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        cat = pd.Categorical.from_codes(codes, categories=pd.Index(encoded.dictionary.to_pylist(), dtype="string"))
    if categories is not None:
        extra = sorted(set(cat.categories) - set(categories))
        cat = cat.set_categories(list(categories) + extra)
    return pd.Series(cat)


def to_frame(cols):
    """A history frame from its columns (no copies), with ``chunks_pending`` recomputed."""
    df = pd.DataFrame(cols, copy=False)
    if {"total_chunks", "chunks_completed", "chunks_failed"} <= set(df.columns):
        pending = df["total_chunks"] - df["chunks_completed"] - df["chunks_failed"]
        df.insert(df.columns.get_loc("chunks_failed") + 1, "chunks_pending", pending)
    return df


def columns_of(table):
    """The columns of an Arrow table as Series: ids as categoricals, schema dtypes elsewhere."""
    pa, _ = pyarrow_modules()
    out = {}
    for name in table.column_names:
        col = table.column(name)
        if name == "upload_id":
            out[name] = _categorical(col)
        elif name == "status":
            out[name] = _categorical(col, STATUSES)
        elif name in TIME_COLUMNS:
            out[name] = col.cast(pa.timestamp("ns", tz="UTC")).to_pandas().astype(dtype_of("created_at"))
        elif name in INT_COLUMNS:
            out[name] = col.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
        else:
            out[name] = col.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get)
    return out
