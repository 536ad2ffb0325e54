"""A history read straight from the store: the per-session reduction without a frame of every row.

:func:`open_history` returns a :class:`History`, a small lazy handle on a
store (folder, ``since``/``until``, engine). :func:`~tlanalytics.session_outcomes`
and :func:`~tlanalytics.trends` accept it (or a store folder) in place of a
history frame: they ask it for its :class:`~tlanalytics.histstate.HistoryState`
(one row per session, one per snapshot), which is computed here from the
Parquet files by one of two engines, and apply the same rules as to a frame.

- ``"duckdb"`` (the ``history`` extra): one SQL aggregation over the rows,
  a parallel Parquet scan and a hash aggregation in C++ (plus a second pass
  over the few sessions seen going again after a terminal status).
- ``"arrow"``: a compacted day whose per-session state was kept by
  compaction (:mod:`tlanalytics.histcache`) is read as that state, about a
  twelfth of its rows; a compacted day without one is reduced from its rows
  by runs of sessions (:func:`~tlanalytics.histstate.reduce_sorted`); other
  days are read in batches of about 256 files and reduced with numpy
  (:func:`~tlanalytics.histstate.reduce_frame`). The pieces are folded in
  time order (:func:`~tlanalytics.histstate.merge_states`); memory is
  bounded by a batch plus the per-session state.

``"auto"`` uses pyarrow when every closed day is compacted with its kept
state (the store ``tlanalytics snapshot`` leaves) and no ``since``/``until``
cuts a day, as folding the kept states reads far less than any scan of the
rows; otherwise DuckDB when it is installed, else pyarrow. If DuckDB fails
on a file, the arrow engine runs instead, so a damaged file is named (or
skipped with ``on_damaged="warn"``) exactly as
:func:`~tlanalytics.load_history` does.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from .errors import InvalidArgumentError
from .histcache import cache_path, read_cache, sorted_state
from .histfiles import is_compacted, plan
from .histstate import NAT, STATE_COLUMNS, HistoryState, arrow_status, empty_state, merge_states, reduce_frame

__all__ = ["History", "open_history", "ENGINES"]

log = logging.getLogger(__name__)

#: Engines of :func:`open_history`.
ENGINES = ("auto", "duckdb", "arrow")
_MEMORY = "3GB"  # DuckDB's working memory (it spills to disk beyond): keeps the year under 2 GiB in all
_READ = ("upload_id", "status", "total_size", "created_at", "expires_at", "uploaded_size")


def _has_duckdb():
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return False
    return True


class History:
    """A snapshot store opened for analysis (see :func:`open_history`); nothing is read until asked."""

    def __init__(self, store, since, until, engine, on_damaged):
        self.store, self.since, self.until, self.engine, self.on_damaged = store, since, until, engine, on_damaged
        self._state = None

    def __repr__(self):
        return (f"History(store={str(self.store)!r}, since={self.since}, until={self.until}, "
                f"engine={self.engine!r})")

    def state(self):
        """The :class:`~tlanalytics.histstate.HistoryState` (computed once, then kept)."""
        if self._state is None:
            self._state = _reduce(self, self.engine)
        return self._state

    def load(self, columns=None):
        """The history frame of every row (:func:`~tlanalytics.load_history`): for small stores and plots."""
        from .history import load_history

        return load_history(self.store, since=self.since, until=self.until, columns=columns,
                            on_damaged=self.on_damaged)

    @property
    def snapshots(self):
        """Every snapshot moment (UTC Timestamps) of the store within [since, until]."""
        moments, _ = plan(self.store, self.since, self.until, on_damaged=self.on_damaged)
        return list(pd.to_datetime(moments, utc=True))


def open_history(store=None, *, since=None, until=None, engine="auto", on_damaged="raise"):
    """Open a snapshot store for :func:`session_outcomes` and :func:`trends` without loading every row.

    Parameters
    ----------
    store : str or os.PathLike, optional
        The store folder; None for :func:`~tlanalytics.default_store`. A
        folder that does not exist is an empty history.
    since, until : datetime, pandas.Timestamp or str, optional
        Only snapshots taken at or after ``since`` and at or before ``until``.
    engine : {"auto", "duckdb", "arrow"}, default "auto"
        What reads and reduces the files (see :mod:`tlanalytics.histengine`);
        "auto" is pyarrow over the kept per-day states of a compacted store,
        else DuckDB when installed (``pip install "tlanalytics[history]"``),
        else pyarrow. Every engine gives the same figures.
    on_damaged : {"raise", "warn"}, default "raise"
        As for :func:`~tlanalytics.load_history`.

    Returns
    -------
    History
        A lazy handle: ``session_outcomes(h)``, ``trends(h)``,
        ``h.load(columns)`` (the frame), ``h.snapshots``.

    Raises
    ------
    tlanalytics.errors.InvalidArgumentError
        A bad argument (``engine="duckdb"`` without DuckDB installed included).

    Examples
    --------
    >>> history = open_history("history", since="2026-01-01")  # doctest: +SKIP
    >>> table = trends(history, "W")  # doctest: +SKIP
    """
    from .history import store_path, read_window

    if engine not in ENGINES:
        raise InvalidArgumentError(f"The value for `engine` must be one of {list(ENGINES)}, but {engine!r} was passed.")
    if engine == "duckdb" and not _has_duckdb():
        raise InvalidArgumentError('engine="duckdb" needs DuckDB: pip install "tlanalytics[history]" (or use '
                                   'engine="arrow").')
    since, until = read_window(since, until, on_damaged)
    return History(store_path(store), since, until, engine, on_damaged)


def _reduce(handle, engine):
    """The state of ``handle`` by ``engine``, listing the store again if a compactor removed a file meanwhile."""
    from .history import ATTEMPTS

    for attempt in range(ATTEMPTS):
        skipped = []
        moments, sources = plan(handle.store, handle.since, handle.until, on_damaged=handle.on_damaged,
                                skipped=skipped)
        if not sources:
            return empty_state(moments)
        chosen = _auto(handle, sources) if engine == "auto" else engine
        log.debug("reducing %d files with the %s engine", len(sources), chosen)
        try:
            if chosen == "duckdb":
                import duckdb

                try:
                    return _duckdb_state(moments, sources, handle)
                except (duckdb.IOException, duckdb.InvalidInputException) as exc:  # a file: pyarrow names it
                    if any(not p.exists() for p, _ in sources):
                        raise FileNotFoundError(str(exc)) from exc
                    log.warning("DuckDB could not reduce the history (%s); reading it with pyarrow", exc)
            return _arrow_state(moments, sources, handle)
        except FileNotFoundError:
            if attempt + 1 == ATTEMPTS or all(p.exists() for p, _ in sources):
                raise
            log.info("a history file went away while reading (compaction); listing the store again")


def _auto(handle, sources):
    """The engine of ``engine="auto"``: pyarrow when the rows to read are one open day at most (every closed day
    is compacted, with its kept state, and no ``since``/``until``), else DuckDB when installed."""
    if not _has_duckdb():
        return "arrow"
    if handle.since is not None or handle.until is not None:
        return "duckdb"
    days = {}
    for path, take in sources:
        days.setdefault(path.parent.name, []).append((path, take))
    open_rows = [d for d in days.values()
                 if not (len(d) == 1 and d[0][1] is None and is_compacted(d[0][0])
                         and cache_path(handle.store, d[0][0]).exists())]
    return "arrow" if len(open_rows) <= 1 else "duckdb"


def _arrow_state(moments, sources, handle):
    """The state folded over the files in time order: a whole compacted day at once (its rows come by
    session: :func:`~tlanalytics.histstate.reduce_sorted`), other days in batches of about 256 files."""
    import pyarrow as pa

    from .histread import source_batches, columns_of, to_frame, read_sources
    from .history import BATCH, arrow_schema

    full = arrow_schema()
    schema = pa.schema([full.field("snapshot_at")] + [full.field(c) for c in _READ])
    lo = None if handle.since is None else handle.since.value
    hi = None if handle.until is None else handle.until.value
    parts, skipped, pending = [], [], []

    def flush():
        for batch in source_batches(pending, BATCH):
            frame = to_frame(columns_of(read_sources(batch, schema, handle.on_damaged, skipped, lo, hi)))
            parts.append(reduce_frame(frame))
            del frame
            pa.default_memory_pool().release_unused()
        pending.clear()

    days = {}
    for path, take in sources:
        days.setdefault(path.parent.name, []).append((path, take))
    for day in days.values():  # sources come in time order, a day's together
        if len(day) == 1 and day[0][1] is None and is_compacted(day[0][0]):
            flush()
            whole_day = lo is None and hi is None  # a cut day is reduced from its rows
            cached = read_cache(handle.store, day[0][0]) if whole_day else None
            parts.append(cached if cached is not None else sorted_state(
                read_sources(day, schema, handle.on_damaged, skipped, lo, hi, by_session=True)))
            continue
        pending.extend(day)
    flush()
    return _with_moments(merge_states(parts), moments, skipped)


def _with_moments(state, moments, skipped=()):
    """``state`` over every snapshot moment read (snapshots of an empty listing have no rows)."""
    lost = {p.name for p in skipped}
    if lost:
        from .history import snapshot_file_name

        moments = [m for m in moments if snapshot_file_name(pd.Timestamp(m, tz="UTC")).name not in lost]
    snaps = np.unique(np.concatenate([np.asarray(moments, np.int64), state.snapshots]))
    k = np.searchsorted(snaps, state.snapshots)
    count, size = np.zeros(len(snaps), np.int64), np.zeros(len(snaps), np.int64)
    count[k], size[k] = state.open_count, state.open_bytes
    return HistoryState(state.sessions, snaps, count, size)


def _sql_list(paths):
    """A SQL list literal of file paths (a view cannot take prepared parameters)."""
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _duckdb_state(moments, sources, handle):
    """The state in two DuckDB queries over the files (sessions; open sessions per snapshot)."""
    import duckdb
    import pyarrow as pa
    import pyarrow.compute as pc

    con = duckdb.connect(config={"threads": 2, "preserve_insertion_order": False, "memory_limit": _MEMORY})
    try:
        whole = [str(p) for p, take in sources if take is None]
        partial = [(str(p), take) for p, take in sources if take is not None]
        cast = {"upload_id": "VARCHAR", "status": "VARCHAR", "total_size": "BIGINT", "uploaded_size": "BIGINT",
                "created_at": "TIMESTAMPTZ", "expires_at": "TIMESTAMPTZ"}

        def select(files):
            """The view's columns from ``files``; a column none of them has is null (files from before it)."""
            present = {r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?, union_by_name = true)",
                                                 [files]).fetchall()}
            cols = ["snapshot_at AS snap"]  # times stay timestamps until the per-session result (cheaper)
            cols += [f"{c}::{cast[c]} AS {c}" if c in present else f"NULL::{cast[c]} AS {c}" for c in _READ]
            return (f"SELECT {', '.join(cols)} FROM read_parquet({_sql_list(files)}, union_by_name = true) "
                    f"WHERE snapshot_at IS NOT NULL")

        lo = "" if handle.since is None else f" AND epoch_us(snapshot_at) >= {-(-handle.since.value // 1000)}"
        hi = "" if handle.until is None else f" AND epoch_us(snapshot_at) <= {handle.until.value // 1000}"
        parts = [select(whole) + lo + hi] if whole else []
        for path, take in partial:
            held = ", ".join(str(m // 1000) for m in sorted(take))
            parts.append(select([path]) + f" AND epoch_us(snapshot_at) IN ({held})")
        con.execute("CREATE TEMP VIEW h AS " + " UNION ALL ".join(parts))
        terminal = "('completed', 'failed', 'expired')"
        started = time.perf_counter()
        opened = (con.sql(f"""
            SELECT epoch_us(snap) * 1000 AS snap, count(*) AS n, coalesce(sum(coalesce(total_size, 0)), 0)::BIGINT AS b
            FROM h WHERE snap IS NOT NULL AND (status IS NULL OR status NOT IN {terminal})
              AND NOT coalesce(expires_at <= snap, false)
            GROUP BY ALL ORDER BY snap""").fetchnumpy())
        log.debug("duckdb: open sessions per snapshot in %.1f s", time.perf_counter() - started)
        terms = ("completed", "failed", "expired")
        firsts = ", ".join(f"min(snap) FILTER (WHERE status = '{s}') AS first_{s}" for s in terms)
        con.execute(f"""
            CREATE TEMP TABLE a AS
            SELECT upload_id, min(snap) AS first_seen, max(snap) AS last_seen, count(*) AS sightings, {firsts},
                   max(snap) FILTER (WHERE status IS NULL OR status NOT IN {terminal}) AS last_going,
                   arg_max({{'s': status, 'e': expires_at, 'c': created_at, 't': total_size}}, snap) AS last_row,
                   max(snap) FILTER (WHERE h.uploaded_size IS NOT NULL) AS uploaded_at,
                   arg_max(h.uploaded_size, snap) FILTER (WHERE h.uploaded_size IS NOT NULL) AS up_size
            FROM h WHERE upload_id IS NOT NULL AND snap IS NOT NULL GROUP BY upload_id""")
        log.debug("duckdb: per-session aggregate in %.1f s", time.perf_counter() - started)
        # Usually a session is seen going, then with one terminal status: the sighting before that status is
        # its last sighting going (`last_going`). Only the others (two terminal statuses, or going again after
        # one) need a second pass over their rows.
        odd = ("(first_completed IS NOT NULL)::INT + (first_failed IS NOT NULL)::INT + "
               "(first_expired IS NOT NULL)::INT > 1 OR last_going > least(first_completed, first_failed, first_expired)")
        con.execute(f"CREATE TEMP TABLE odd AS SELECT upload_id, {', '.join('first_' + s for s in terms)} FROM a "
                    f"WHERE {odd}")
        prevs = ", ".join(f"max(h.snap) FILTER (WHERE h.snap < o.first_{s}) AS prev_{s}" for s in terms)
        if con.sql("SELECT count(*) FROM odd").fetchall()[0][0]:
            con.execute(f"""CREATE TEMP TABLE p AS SELECT h.upload_id, {prevs} FROM h JOIN odd o USING (upload_id)
                            GROUP BY h.upload_id""")
        else:
            con.execute("CREATE TEMP TABLE p AS SELECT upload_id, " + ", ".join(
                f"NULL::TIMESTAMPTZ AS prev_{s}" for s in terms) + " FROM odd")
        us = lambda c: f"epoch_us({c}) * 1000"  # noqa: E731
        prev = lambda s: us(f"CASE WHEN o.upload_id IS NOT NULL THEN p.prev_{s} "  # noqa: E731
                            f"WHEN a.first_{s} IS NOT NULL THEN a.last_going END") + f" AS prev_{s}"
        table = con.sql(f"""
            SELECT a.upload_id, {us('first_seen')} AS first_seen, {us('last_seen')} AS last_seen, sightings,
                   {', '.join(us(f'a.first_{s}') + f' AS first_{s}' for s in terms)},
                   {', '.join(prev(s) for s in terms)},
                   last_row.s AS last_status, {us('last_row.e')} AS expires_at, {us('last_row.c')} AS created_at,
                   last_row.t AS total_size, {us('uploaded_at')} AS uploaded_at, up_size AS uploaded_size
            FROM a LEFT JOIN odd o USING (upload_id) LEFT JOIN p USING (upload_id)""").to_arrow_table()
        log.debug("duckdb: result in %.1f s", time.perf_counter() - started)
    finally:
        con.close()
    sessions = {}
    for name in STATE_COLUMNS:
        col = table.column(name)
        if name == "last_status":
            sessions[name] = arrow_status(col)
        elif name == "upload_id":
            sessions[name] = pd.array(col.to_pandas(), dtype="string")
        else:
            fill = -1 if name in ("total_size", "uploaded_size") else NAT
            sessions[name] = np.asarray(pc.fill_null(col.cast(pa.int64()), fill).to_numpy(zero_copy_only=False),
                                        dtype=np.int64)
    state = HistoryState(pd.DataFrame(sessions), np.asarray(opened["snap"], np.int64),
                         np.asarray(opened["n"], np.int64), np.asarray(opened["b"], np.int64))
    return _with_moments(state, moments)

