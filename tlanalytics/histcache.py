"""The per-session state of each compacted day, kept beside the store so the analyses need not re-read a year.

When :func:`~tlanalytics.compact_history` writes a compacted day file, it
also writes that day's :class:`~tlanalytics.histstate.HistoryState` (one row
per session seen that day, about one row in twelve of the day's rows) to
``STORE/_state/day=D/<the compacted file's name>``. The pyarrow engine of
:func:`~tlanalytics.open_history` folds these instead of the day's rows when
the compacted file is the day's only source and no ``since``/``until`` cuts
the day. The file is derived data: named after the compacted file it
summarises (whose name is a digest of the snapshot moments it holds), written
atomically after it, deleted with it, and when it is missing or unreadable
the day is reduced from its rows (the same figures, tested). Folders starting
with ``_`` are skipped by Spark and Hive readers, and the ``STORE/*/*.parquet``
glob of the README never reaches it.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from .histstate import NAT, STATE_COLUMNS, HistoryState, arrow_status, reduce_sorted

__all__ = ["cache_path", "read_cache", "write_cache", "drop_cache", "sorted_state"]

log = logging.getLogger(__name__)
_FOLDER = "_state"


def cache_path(root, compacted):
    """Where the state of the compacted file ``compacted`` is kept."""
    return root / _FOLDER / compacted.parent.name / compacted.name


def sorted_state(table):
    """:func:`~tlanalytics.histstate.reduce_sorted` of a compacted day's Arrow table."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def ints(name, fill):
        if name not in table.column_names:  # a day written before the column existed
            return np.full(table.num_rows, fill, dtype=np.int64)
        return np.asarray(pc.fill_null(table.column(name).cast(pa.int64()), fill).to_numpy(), dtype=np.int64)

    status = table.column("status").combine_chunks().dictionary_encode()
    codes = np.asarray(pc.fill_null(status.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return reduce_sorted(table.column("upload_id").combine_chunks(), _us_to_ns(table, "snapshot_at"), codes,
                         status.dictionary.to_pylist(), _us_to_ns(table, "created_at"),
                         _us_to_ns(table, "expires_at"), ints("total_size", -1), ints("uploaded_size", -1))


def _us_to_ns(table, name):
    """A microsecond timestamp column as int64 ns, nulls as :data:`NAT`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if name not in table.column_names:
        return np.full(table.num_rows, NAT, dtype=np.int64)
    us = table.column(name).cast(pa.int64())
    return np.where(pc.is_null(us).to_numpy(zero_copy_only=False), NAT,
                    np.asarray(pc.fill_null(us, 0).to_numpy(), dtype=np.int64) * 1000)


def write_cache(root, compacted, table):
    """Write the state of a compacted day (its Arrow table, rows by session) beside the store, atomically."""
    import pyarrow as pa

    from .history import write_snapshot_table

    state = sorted_state(table)
    s = state.sessions
    cols = {"upload_id": pa.array(s["upload_id"].to_numpy(dtype=object), pa.string()),
            "last_status": pa.array(s["last_status"].astype(object).where(s["last_status"].notna(), None), pa.string())}
    cols.update({c: pa.array(s[c].to_numpy(np.int64)) for c in STATE_COLUMNS if c not in cols})
    meta = {"format": "tlanalytics-state", "version": 1, "snapshots": state.snapshots.tolist(),
            "open_count": state.open_count.tolist(), "open_bytes": state.open_bytes.tolist()}
    out = pa.table({c: cols[c] for c in STATE_COLUMNS}).replace_schema_metadata(
        {b"tlanalytics": json.dumps(meta).encode()})
    write_snapshot_table(out, cache_path(root, compacted), compacted=True)


def read_cache(root, compacted):
    """The kept state of a compacted file, or None when there is none (or it cannot be read)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = cache_path(root, compacted)
    if not path.exists():
        return None
    try:
        table = pq.read_table(path)
        meta = json.loads(table.schema.metadata[b"tlanalytics"])
        sessions = {"upload_id": pd.arrays.ArrowStringArray(table.column("upload_id").combine_chunks()),
                    "last_status": arrow_status(table.column("last_status"))}
        sessions.update({c: table.column(c).to_numpy() for c in STATE_COLUMNS if c not in sessions})
        return HistoryState(pd.DataFrame({c: sessions[c] for c in STATE_COLUMNS}),
                            np.asarray(meta["snapshots"], np.int64), np.asarray(meta["open_count"], np.int64),
                            np.asarray(meta["open_bytes"], np.int64))
    except (pa.ArrowException, OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("the kept state %s cannot be read (%s); reducing the day from its rows", path, exc)
        return None


def drop_cache(root, compacted):
    """Delete the kept state of a compacted file (it is being deleted)."""
    cache_path(root, compacted).unlink(missing_ok=True)
