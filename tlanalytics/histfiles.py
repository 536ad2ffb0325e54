"""Which files of the snapshot store to read, and the compaction of closed days.

A day folder holds hourly snapshot files (``snapshot-<moment>Z.parquet``,
one snapshot each) and, once compacted, compacted files
(``compacted-<count>-<digest>.parquet``): every snapshot of the day in one
file, rows sorted by ``(upload_id, snapshot_at)`` so that ids, sizes and
dates repeat in runs that Parquet's dictionary and run-length encodings store
in a few bits (a year of hourly snapshots shrinks about tenfold). A compacted
file lists the snapshot moments it holds in its footer (key ``tlanalytics``,
``"moments"``: microseconds since the epoch, empty listings included).

Readers take each snapshot moment from exactly one file: from a compacted
file when one holds it (the one holding most moments first), else from its
hourly file. So an hourly file already compacted, still there because the
compactor has not deleted it yet (or was killed), is ignored; a snapshot
imported later into a compacted day still reads, from its hourly file, until
the next compaction folds it in. Compaction writes its file atomically
(temporary name, then ``os.replace``) before deleting what it replaced, and
names it after the moments it holds, so it is idempotent, two compactors at
once write the same file or two files readers reconcile, and a compactor
killed at any point leaves a store that reads the same.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import warnings
from pathlib import Path

import pandas as pd

from .errors import FileFormatError, FileFormatWarning

__all__ = ["compact_history", "plan"]

log = logging.getLogger(__name__)

_HOURLY = re.compile(r"^snapshot-(\d{8}T\d{6}\.\d{6})Z\.parquet$")
_COMPACTED = re.compile(r"^compacted-\d+-[0-9a-f]{16}\.parquet$")
_US = 1000  # ns per microsecond


def _moments_of(path):
    """The snapshot moments (ns) a compacted file holds, from its footer; FileFormatError naming it if unreadable."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = json.loads(pq.read_metadata(path).metadata[b"tlanalytics"])
        return frozenset(int(m) * _US for m in meta["moments"])
    except (pa.ArrowException, OSError, ValueError, KeyError, TypeError) as exc:
        raise FileFormatError(f"The history file {path} is damaged or not a compacted snapshot file ({exc}). Move "
                              f"it out of the store, or pass on_damaged='warn' to skip it.") from exc


def plan(root, since=None, until=None, *, on_damaged="raise", skipped=None, days=None):
    """What to read: ``(moments, [(path, take)])``, each moment from one file.

    ``moments`` are the snapshot moments (ns, sorted) within [since, until];
    ``take`` is None to read every row of the file, else the frozenset of
    moments (ns) to keep from it. Sources come in time order, a day's
    together. Damaged compacted files raise, or with ``on_damaged="warn"``
    are skipped, warned about and appended to ``skipped``.
    """
    lo = None if since is None else since.value
    hi = None if until is None else until.value
    moments, sources = set(), []
    if not root.is_dir():
        return [], []
    for day in sorted(root.glob("day=*")):
        if days is not None and day.name[4:] not in days:
            continue
        if since is not None and day.name[4:] < f"{since:%Y-%m-%d}":
            continue
        if until is not None and day.name[4:] > f"{until:%Y-%m-%d}":
            continue
        hourly, compacted = [], []
        for path in day.iterdir():
            match = _HOURLY.match(path.name)
            if match:
                hourly.append((pd.Timestamp(match.group(1), tz="UTC").value, path))
            elif _COMPACTED.match(path.name):
                try:
                    compacted.append((_moments_of(path), path))
                except FileFormatError as exc:
                    if on_damaged == "raise":
                        raise
                    warnings.warn(f"{exc} It was skipped.", FileFormatWarning, stacklevel=3)
                    if skipped is not None:
                        skipped.append(path)
            # anything else: writers' temporary files (in progress or killed), foreign files
        taken = set()
        compacted.sort(key=lambda mp: (-len(mp[0]), mp[1].name))
        for held, path in compacted:
            mine = {m for m in held if m not in taken and (lo is None or m >= lo) and (hi is None or m <= hi)}
            if not mine:
                continue
            taken |= mine
            sources.append((min(mine), path, None if mine == held else frozenset(mine)))
        for at, path in hourly:
            if at not in taken and (lo is None or at >= lo) and (hi is None or at <= hi):
                taken.add(at)
                sources.append((at, path, None))
        moments |= taken
    sources.sort(key=lambda s: (s[0], s[1].name))
    return sorted(moments), [(path, take) for _, path, take in sources]


def is_compacted(path):
    """Whether ``path`` is a compacted file (rows of many snapshots, not sorted by time)."""
    return bool(_COMPACTED.match(Path(path).name))


def _day_table(day_sources, names):
    """One Arrow table of a day's sources, every column any of them has, sorted by (upload_id, snapshot_at)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .histread import read_one
    from .history import arrow_schema

    schema = arrow_schema()
    tables = []
    for path, take in day_sources:
        table = read_one(path, schema)
        if take is not None:
            wanted = pa.array(sorted(m // _US for m in take), pa.int64()).cast(schema.field("snapshot_at").type)
            table = table.filter(pc.is_in(table.column("snapshot_at"), value_set=wanted))
        tables.append(table)
    table = pa.concat_tables(tables).select([f.name for f in schema if f.name in names])
    return table.sort_by([("upload_id", "ascending"), ("snapshot_at", "ascending")])


def _present_columns(day_sources):
    """The columns any of the files has (footers only)."""
    import pyarrow.parquet as pq

    names = set()
    for path, _ in day_sources:
        names |= set(pq.read_schema(path).names)
    return names


def _compact_day(root, day, on_damaged):
    """Compact one day folder; return the file written, or None when there was nothing to do."""
    from .histcache import drop_cache, write_cache
    from .history import write_snapshot_table

    skipped = []
    moments, day_sources = plan(root, days={day}, on_damaged=on_damaged, skipped=skipped)
    if not day_sources or (len(day_sources) == 1 and is_compacted(day_sources[0][0]) and day_sources[0][1] is None):
        return None
    table = _day_table(day_sources, _present_columns(day_sources))
    us = [m // _US for m in moments]
    digest = hashlib.sha256(json.dumps(us).encode()).hexdigest()[:16]
    path = root / f"day={day}" / f"compacted-{len(us):04d}-{digest}.parquet"
    meta = {"format": "tlanalytics-compacted", "version": 1, "moments": us, "rows": table.num_rows}
    table = table.replace_schema_metadata({b"tlanalytics": json.dumps(meta).encode()})
    write_snapshot_table(table, path, compacted=True)
    write_cache(root, path, table)
    held = set(moments)
    for old in path.parent.iterdir():  # only what the new file holds: never a snapshot written meanwhile
        match = _HOURLY.match(old.name)
        gone = (match and pd.Timestamp(match.group(1), tz="UTC").value in held) or (
            _COMPACTED.match(old.name) and old != path and old not in skipped and _moments_of(old) <= held)
        if gone:
            old.unlink(missing_ok=True)
            drop_cache(root, old)
    log.info("compacted %d snapshots of %s into %s", len(us), day, path)
    return path


def _ensure_cache(root, path, on_damaged):
    """Write the kept state of a compacted file that has none."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .histcache import cache_path, write_cache

    if cache_path(root, path).exists():
        return
    try:
        write_cache(root, path, pq.read_table(path))
    except (pa.ArrowException, OSError, ValueError) as exc:
        if on_damaged == "raise":
            raise FileFormatError(f"The history file {path} is damaged ({exc}). Move it out of the store, or "
                                  f"pass on_damaged='warn' to skip it.") from exc
        warnings.warn(f"The history file {path} is damaged ({exc}); its day was left as it is.", FileFormatWarning,
                      stacklevel=3)


def compact_history(store=None, *, before=None, on_damaged="raise"):
    """Rewrite each closed day of the store as one compacted Parquet file.

    A day is closed when a later day has a snapshot: by default every day
    before the newest snapshot's day (UTC) is compacted, the newest stays
    hourly. ``tlanalytics snapshot`` runs this after each snapshot; days
    already compacted are left alone (it reads only footers), so a run costs
    one day's rewrite per day. Safe to run at any time, twice at once, or to
    kill: see :mod:`tlanalytics.histfiles`.

    Parameters
    ----------
    store : str or os.PathLike, optional
        The store folder; None for :func:`~tlanalytics.default_store`.
    before : datetime, pandas.Timestamp or str, optional
        Compact the days strictly before this moment's day instead (naive
        means UTC), e.g. ``"2100-01-01"`` to compact every day.
    on_damaged : {"raise", "warn"}, default "raise"
        A damaged file raises :class:`~tlanalytics.errors.FileFormatError`
        naming it, or with "warn" its day is left as it is.

    Returns
    -------
    list of pathlib.Path
        The compacted files written.

    Raises
    ------
    tlanalytics.errors.FileFormatError
        A file of a day to compact is damaged.
    tlanalytics.errors.InvalidArgumentError
        A bad ``store``, ``before`` or ``on_damaged``.

    Examples
    --------
    >>> compact_history("history")  # doctest: +SKIP
    [PosixPath('history/day=2026-11-28/compacted-0024-5c1f0e6b9a2d4e71.parquet')]
    """
    from .history import check_on_damaged, as_moment, store_path

    check_on_damaged(on_damaged)
    root = store_path(store)
    before = as_moment(before, "before")
    if not root.is_dir():
        return []
    days = sorted(d.name[4:] for d in root.glob("day=*") if d.is_dir())
    cutoff = (days[-1] if days else None) if before is None else f"{before:%Y-%m-%d}"  # the newest day stays open
    written = []
    for day in days:
        if cutoff is None or day >= cutoff:
            continue
        folder = root / f"day={day}"
        names = [p.name for p in folder.iterdir()]
        compacted = [n for n in names if _COMPACTED.match(n)]
        if not any(_HOURLY.match(n) for n in names) and len(compacted) <= 1:
            if compacted:  # already one compacted file: at most its kept state to write (stores compacted before)
                _ensure_cache(root, folder / compacted[0], on_damaged)
            continue
        try:
            path = _compact_day(root, day, on_damaged)
        except FileFormatError as exc:
            if on_damaged == "raise":
                raise
            warnings.warn(f"{exc} The day {day} was left as it is.", FileFormatWarning, stacklevel=2)
            continue
        if path is not None:
            written.append(path)
    return written
