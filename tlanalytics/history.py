"""The snapshot store: every load of the listing kept as one Parquet file.

Layout (Hive-style partitions, readable as-is by DuckDB, Polars, Spark or any
Parquet reader)::

    STORE/day=2026-11-29/snapshot-20261129T190417.123456Z.parquet

One file per snapshot, named after its ``snapshot_at`` (UTC, microseconds),
with a ``snapshot_at`` column and the stored columns of the frame
(:data:`STORED_COLUMNS`: the listing fields, plus the progress fields when the
frame has them). Derived columns are not stored: they are relative to a moment
and :func:`~tlanalytics.recompute` rebuilds them. Timestamps are written in
microseconds (Spark cannot read nanosecond Parquet timestamps).

Writes are atomic: a file is written under a temporary name in its day folder
(``.tmp-*``, which readers ignore) and moved into place with ``os.replace``,
so a reader sees a snapshot whole or not at all, two writers never corrupt
each other, a writer killed mid-write leaves only a stray temporary file,
and saving the same snapshot twice replaces the file instead of adding rows.

Closed days are compacted into one file each (:mod:`tlanalytics.histfiles`,
which also says which file each snapshot is read from); files are read in
:mod:`tlanalytics.histread`. This module does file I/O only; the analyses
over the history live in :mod:`tlanalytics.outcomes` and are pure.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
from pathlib import Path

import pandas as pd

from .errors import FileFormatError, InvalidArgumentError
from .histfiles import plan
from .histread import INT_COLUMNS, TIME_COLUMNS, pyarrow_modules, read_all
from .schema import columns

__all__ = ["save_snapshot", "load_history", "default_store", "STORED_COLUMNS", "STORE_ENV"]

log = logging.getLogger(__name__)

#: Environment variable naming the default store folder.
STORE_ENV = "TLANALYTICS_STORE"
#: Columns kept in a snapshot (those the frame has), after ``snapshot_at``.
#: ``chunks_pending`` is not stored: :func:`load_history` recomputes it (total - completed - failed).
STORED_COLUMNS = tuple(columns("listing")) + (
    "uploaded_size", "chunks_completed", "chunks_failed", "last_activity", "vanished")
_DICTIONARY = ("snapshot_at", "status", "chunk_size", "vanished")
_FORMAT = {"format": "tlanalytics-snapshot", "version": 1}
_NAME = re.compile(r"^snapshot-(\d{8}T\d{6}\.\d{6})Z\.parquet$")
_ON_DAMAGED = ("raise", "warn")
BATCH = 256  # files converted at a time
ATTEMPTS = 3  # listings of the store tried when files vanish under a reader


def arrow_schema():
    """The schema every snapshot file is read as; columns a file lacks come back as nulls."""
    pa, _ = pyarrow_modules()
    ts = pa.timestamp("us", tz="UTC")
    types = {"snapshot_at": ts, "upload_id": pa.string(), "status": pa.string(), "vanished": pa.bool_()}
    types.update({c: pa.int64() for c in INT_COLUMNS})
    types.update({c: ts for c in TIME_COLUMNS})
    return pa.schema([(name, types[name]) for name in ("snapshot_at",) + STORED_COLUMNS])


def default_store():
    """The store folder used when none is given.

    ``$TLANALYTICS_STORE`` when set, else the per-user data folder:
    ``$XDG_DATA_HOME/tlanalytics/history`` (default ``~/.local/share/...``) on
    Linux and other Unixes, ``~/Library/Application Support/tlanalytics/history``
    on macOS, ``%LOCALAPPDATA%\\tlanalytics\\history`` on Windows.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> default_store().name  # doctest: +SKIP
    'history'
    """
    env = os.environ.get(STORE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "").strip()
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "tlanalytics" / "history"


def store_path(store):
    """``store`` as a Path (None: :func:`default_store`)."""
    if store is None:
        return default_store()
    if not isinstance(store, (str, os.PathLike)):
        raise InvalidArgumentError(f"The value for `store` must be a folder path, but {store!r} was passed.")
    return Path(store).expanduser()


def as_moment(value, name):
    """A moment as a UTC Timestamp floored to microseconds (naive means UTC), or None."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        ts = pd.NaT
    if ts is pd.NaT:
        raise InvalidArgumentError(f"The value for `{name}` must be a datetime, Timestamp or ISO 8601 string, "
                                   f"but {value!r} was passed.")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.floor("us")


def check_on_damaged(on_damaged):
    """Raise InvalidArgumentError unless ``on_damaged`` is one of :data:`_ON_DAMAGED`."""
    if on_damaged not in _ON_DAMAGED:
        raise InvalidArgumentError(f"The value for `on_damaged` must be one of {list(_ON_DAMAGED)}, "
                                   f"but {on_damaged!r} was passed.")


def read_window(since, until, on_damaged):
    """``(since, until)`` as UTC Timestamps (or None), checked with ``on_damaged``; InvalidArgumentError if bad."""
    check_on_damaged(on_damaged)
    since, until = as_moment(since, "since"), as_moment(until, "until")
    if since is not None and until is not None and since > until:
        raise InvalidArgumentError(f"`since` ({since}) must not be after `until` ({until}).")
    return since, until


def snapshot_file_name(snapshot_at):
    """The file of one snapshot, relative to the store."""
    return Path(f"day={snapshot_at:%Y-%m-%d}") / f"snapshot-{snapshot_at:%Y%m%dT%H%M%S.%f}Z.parquet"


def _table(df, snapshot_at):
    """The Arrow table of one snapshot: ``snapshot_at`` and the stored columns ``df`` has."""
    pa, _ = pyarrow_modules()
    schema = arrow_schema()
    arrays, fields = [pa.array([snapshot_at.value // 1000] * len(df), type=pa.int64()).cast(schema.field(0).type)], [
        schema.field(0)]
    for name in STORED_COLUMNS:
        if name not in df.columns:
            continue
        col, field = df[name], schema.field(name)
        try:
            if name == "status":
                values = col.astype("object").where(col.notna(), None)
            elif name in TIME_COLUMNS:
                values = pd.to_datetime(col, utc=True)
            elif name == "vanished":
                values = col.astype("boolean")
            elif name in INT_COLUMNS:
                values = col.astype("Int64")
            else:
                values = col.astype("object").where(col.notna(), None)
            arrays.append(pa.array(values, type=field.type, from_pandas=True))
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"The column {name!r} cannot be stored as {field.type}: {exc}") from exc
        fields.append(field)
    meta = {**_FORMAT, "snapshot_at": snapshot_at.isoformat(), "rows": len(df)}
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata={b"tlanalytics": json.dumps(meta)}))
    # Rows by creation: neighbouring timestamps differ little, so delta encoding stores them in a byte or two.
    return table.sort_by([("created_at", "ascending"), ("upload_id", "ascending")])


def write_snapshot_table(table, path, compacted=False):
    """Write ``table`` to ``path`` atomically: a temporary file in the same folder, then ``os.replace``.

    A compacted day (rows by session, then time) is dictionary-encoded throughout: a session's id, sizes and
    dates repeat in runs, which the dictionary indices' run-length encoding stores in a few bits.
    """
    _, pq = pyarrow_modules()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            names = table.column_names
            if compacted:
                pq.write_table(table, fh, compression="zstd", compression_level=6, use_dictionary=True,
                               row_group_size=1 << 20)
            else:
                pq.write_table(table, fh, compression="zstd", compression_level=6,
                               use_dictionary=[c for c in _DICTIONARY if c in names],
                               column_encoding={c: "DELTA_BINARY_PACKED" for c in names
                                                if c in INT_COLUMNS + TIME_COLUMNS and c not in _DICTIONARY})
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_snapshot(df, store=None, *, snapshot_at=None):
    """Append one loaded frame to the snapshot store, as one Parquet file.

    Parameters
    ----------
    df : pandas.DataFrame
        An uploads frame from :func:`~tlanalytics.load_uploads` (listing
        columns required; the progress columns of :data:`STORED_COLUMNS` are
        kept when present). An empty frame is a snapshot of an empty listing.
    store : str or os.PathLike, optional
        The store folder (created if needed); None for :func:`default_store`.
    snapshot_at : datetime, pandas.Timestamp or str, optional
        The moment of the snapshot (naive means UTC, kept to microseconds);
        defaults to ``df.attrs["as_of"]``. Give it to import older exports.

    Returns
    -------
    pathlib.Path
        The file written. Saving the same ``snapshot_at`` again replaces it
        (no duplicated rows).

    Raises
    ------
    tlanalytics.errors.InvalidArgumentError
        ``df`` is not an uploads frame, a column cannot be stored, or no
        ``snapshot_at`` is given and ``df.attrs`` has no ``as_of``.
    OSError
        The file cannot be written.

    Examples
    --------
    >>> path = save_snapshot(load_uploads(), "history")  # doctest: +SKIP
    >>> path.parent.name  # doctest: +SKIP
    'day=2026-11-29'
    """
    if not isinstance(df, pd.DataFrame):
        raise InvalidArgumentError(f"The value for `df` must be a pandas DataFrame, but {type(df).__name__} was passed.")
    missing = [c for c in columns("listing") if c not in df.columns]
    if missing:
        raise InvalidArgumentError(f"The columns {missing} are missing; save frames from `load_uploads(...)`.")
    if snapshot_at is None:
        snapshot_at = df.attrs.get("as_of")
        if snapshot_at is None:
            raise InvalidArgumentError("The frame has no attrs['as_of']; pass `snapshot_at=` to say when it was taken.")
    snapshot_at = as_moment(snapshot_at, "snapshot_at")
    path = store_path(store) / snapshot_file_name(snapshot_at)
    write_snapshot_table(_table(df, snapshot_at), path)
    log.info("saved a snapshot of %d sessions to %s", len(df), path)
    return path


def load_history(store=None, *, since=None, until=None, columns=None, on_damaged="raise"):
    """Read the snapshot store into one history frame.

    Parameters
    ----------
    store : str or os.PathLike, optional
        The store folder; None for :func:`default_store`. A folder that does
        not exist is an empty history.
    since, until : datetime, pandas.Timestamp or str, optional
        Only snapshots taken at or after ``since`` and at or before ``until``
        (naive means UTC).
    columns : list of str, optional
        Only these of :data:`STORED_COLUMNS` (``snapshot_at`` always comes);
        fewer columns read faster and take less memory. ``chunks_pending``
        is recomputed whenever ``total_chunks``, ``chunks_completed`` and
        ``chunks_failed`` are read.
    on_damaged : {"raise", "warn"}, default "raise"
        What a damaged or foreign snapshot file does: raise a
        :class:`~tlanalytics.errors.FileFormatError` naming it, or be skipped
        with a :class:`~tlanalytics.errors.FileFormatWarning` naming it.

    Returns
    -------
    pandas.DataFrame
        One row per (snapshot, session), in snapshot order: ``snapshot_at``
        (``datetime64[ns, UTC]``) and the stored columns with their schema
        dtypes, except ``upload_id``, a categorical (each id is kept once:
        a year of snapshots repeats it thousands of times). Columns a file
        lacks (written before the column existed, or without progress) are
        null in its rows. ``attrs["snapshots"]`` lists every snapshot moment
        read, including snapshots of an empty listing; ``attrs["store"]`` the
        folder, ``attrs["skipped"]`` the damaged files skipped.

    Raises
    ------
    tlanalytics.errors.FileFormatError
        A snapshot file is damaged (with ``on_damaged="raise"``).
    tlanalytics.errors.InvalidArgumentError
        A bad ``since``, ``until``, ``columns`` or ``on_damaged``.

    Examples
    --------
    >>> history = load_history("history", since="2026-11-01")  # doctest: +SKIP
    >>> history.groupby("snapshot_at").size().tail(1)  # doctest: +SKIP
    """
    since, until = read_window(since, until, on_damaged)
    schema = arrow_schema()
    if columns is not None:
        lone = isinstance(columns, str)  # a lone name is an error: a string is a list of letters
        columns = [columns] if lone else list(columns)
        if lone or any(c not in STORED_COLUMNS for c in columns):
            raise InvalidArgumentError(f"The value for `columns` must be a list of {list(STORED_COLUMNS)}, "
                                       f"but {columns!r} was passed.")
        schema = pyarrow_modules()[0].schema([schema.field(0)] + [schema.field(c) for c in STORED_COLUMNS if c in columns])
    root = store_path(store)
    for attempt in range(ATTEMPTS):  # a compactor may delete a listed file before it is read: list again
        skipped = []
        moments, sources = plan(root, since, until, on_damaged=on_damaged, skipped=skipped)
        try:
            df, bad = read_all(sources, schema, on_damaged, batch=BATCH, lo=None if since is None else since.value,
                                hi=None if until is None else until.value)
            break
        except (FileNotFoundError, FileFormatError) as exc:
            if attempt + 1 == ATTEMPTS or not _vanished(exc, sources):
                raise
            log.info("a history file went away while reading (compaction); listing the store again")
    skipped += bad
    lost = {p.name for p in skipped}
    # The moments of damaged hourly files skipped are not snapshots read (a damaged compacted file lists none).
    kept = [m for m in moments if snapshot_file_name(pd.Timestamp(m, tz="UTC")).name not in lost]
    df.attrs.update(snapshots=list(pd.to_datetime(kept, utc=True)), store=str(root),
                    skipped=[str(p) for p in skipped])
    return df


def _vanished(exc, sources):
    """Whether ``exc`` comes from a listed file that no longer exists."""
    return any(not path.exists() for path, _ in sources)
