"""The store path: every engine (frame, pyarrow, DuckDB) gives the frame's outcomes and trends; compaction."""

import shutil

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _data import draw_history_rows

import tlanalytics as tla
import tlanalytics.history as h
from tlanalytics.errors import FileFormatError, FileFormatWarning, InvalidArgumentError

T0 = pd.Timestamp("2026-03-01T00:00:00Z")
STEP = pd.Timedelta(hours=9)  # snapshots spread over several days, so that days can be compacted
STATUSES = ["active", "completed", "failed", "expired", "paused"]
ENGINES = ["arrow", "duckdb"]


def _snapshot_frame(rows, with_progress=True):
    """A frame of one snapshot's rows with the listing columns save_snapshot needs."""
    df = pd.DataFrame({
        "upload_id": pd.array([r["upload_id"] for r in rows], dtype="string"),
        "status": pd.array([r["status"] for r in rows], dtype="string"),
        "total_size": pd.array([r["total_size"] for r in rows], dtype="Int64"),
        "chunk_size": pd.array([5 << 20] * len(rows), dtype="Int64"),
        "total_chunks": pd.array([1] * len(rows), dtype="Int64"),
        "created_at": pd.to_datetime([r["created_at"] for r in rows], utc=True).as_unit("ns"),
        "expires_at": pd.to_datetime([r["expires_at"] for r in rows], utc=True).as_unit("ns"),
    })
    if with_progress:
        df["uploaded_size"] = pd.array([r["uploaded_size"] for r in rows], dtype="Int64")
    return df


@st.composite
def stores(draw):
    """Rows of a random history: vanishing and reappearing sessions, any status order, some empty snapshots."""
    n_snaps = draw(st.integers(1, 9))
    snaps = [T0 + k * STEP for k in range(n_snaps)]
    rows = draw_history_rows(draw, snaps, sessions=7, created_hours=(-30, 40), life_hours=60, statuses=STATUSES)
    old = draw(st.integers(0, n_snaps))  # the first `old` snapshots were written before uploaded_size existed
    compact = draw(st.sampled_from(["none", "all", "some"]))
    return rows, snaps, old, compact


def _write(store, rows, snaps, old=0):
    for k, at in enumerate(snaps):
        h.save_snapshot(_snapshot_frame([r for r in rows if r["snapshot_at"] == at], with_progress=k >= old),
                        store, snapshot_at=at)


def _compare(store, since=None, until=None):
    """Every engine's outcomes and trends equal the frame path's (load_history, then the frame analyses)."""
    frame = tla.load_history(store, since=since, until=until)
    want, want_trends = tla.session_outcomes(frame), tla.trends(frame, "D")
    for engine in ENGINES:
        history = tla.open_history(store, since=since, until=until, engine=engine)
        pd.testing.assert_frame_equal(tla.session_outcomes(history), want)
        pd.testing.assert_frame_equal(tla.trends(history, "D"), want_trends)
        assert history.snapshots == frame.attrs["snapshots"]
    return frame, want


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stores())
def test_every_engine_gives_the_frame_outcomes_and_trends(tmp_path_factory, case):
    rows, snaps, old, compact = case
    store = tmp_path_factory.mktemp("store")
    _write(store, rows, snaps, old)
    frame, _ = _compare(store)
    if compact != "none":
        before = "2100-01-01" if compact == "all" else snaps[len(snaps) // 2]
        tla.compact_history(store, before=before)
        again, _ = _compare(store)  # compacted and hourly files mixed
        pd.testing.assert_frame_equal(again, frame)  # same rows, same order, same snapshots
        assert again.attrs["snapshots"] == frame.attrs["snapshots"]
    mid = snaps[len(snaps) // 2]
    _compare(store, since=mid)
    _compare(store, until=mid - pd.Timedelta(microseconds=1))


def _store(tmp_path, n_snaps=8):
    """A small store from the simulator's history: 8 snapshots, 9 h apart."""
    hist = tla.generate_history(days=4, seed=5, now="2026-03-05")
    hist = hist[hist["snapshot_at"].isin(sorted(hist["snapshot_at"].unique())[::9][:n_snaps])]
    for at, part in hist.groupby("snapshot_at"):
        part = part.drop(columns="snapshot_at")
        part = part.assign(**{c: part[c].dt.floor("us") for c in part.columns if str(part[c].dtype).startswith("date")})
        h.save_snapshot(part, tmp_path, snapshot_at=at)
    return tmp_path


def _files(store):
    return sorted(p.relative_to(store).as_posix() for p in store.rglob("*.parquet"))


def test_compaction_shrinks_days_into_one_file_and_is_idempotent(tmp_path):
    store = _store(tmp_path)
    frame = tla.load_history(store)
    written = tla.compact_history(store)
    days = sorted({p.split("/")[0] for p in _files(store) if p.startswith("day=")})
    assert len(written) == len(days) - 1  # the newest day stays hourly
    for path in written:
        assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert tla.compact_history(store) == []  # again: nothing to do
    pd.testing.assert_frame_equal(tla.load_history(store), frame)
    # Any Parquet reader sees the same rows (no duplicates) once compaction is done.
    import duckdb

    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{store}/*/*.parquet', hive_partitioning = true)").fetchall()[0][0]
    assert n == len(frame)


def test_a_killed_compactor_and_stale_hourly_files_never_duplicate(tmp_path, monkeypatch):
    store = _store(tmp_path)
    frame = tla.load_history(store)
    want = tla.session_outcomes(frame)
    copies = tmp_path.parent / (tmp_path.name + "-copy")
    shutil.copytree(store, copies)
    # Killed after writing the compacted file, before deleting anything.
    monkeypatch.setattr(type(store), "unlink", lambda self, missing_ok=False: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        tla.compact_history(store)
    monkeypatch.undo()
    assert any("compacted-" in p for p in _files(store)) and any("snapshot-" in p for p in _files(store))
    pd.testing.assert_frame_equal(tla.load_history(store), frame)
    _compare(store)
    tla.compact_history(store)
    # Hourly files put back after compaction (a compactor's listing from before) are ignored.
    for path in copies.rglob("*.parquet"):
        shutil.copy(path, store / path.relative_to(copies))
    pd.testing.assert_frame_equal(tla.load_history(store), frame)
    pd.testing.assert_frame_equal(tla.session_outcomes(tla.open_history(store)), want)
    # Killed while writing: a stray temporary file, ignored.
    (store / next(iter(_files(store))).split("/")[0] / ".tmp-x.parquet").write_bytes(b"PAR1 half")
    pd.testing.assert_frame_equal(tla.load_history(store), frame)


def test_a_snapshot_imported_into_a_compacted_day_reads_and_is_folded_in(tmp_path):
    store = _store(tmp_path)
    tla.compact_history(store)
    day = sorted(p for p in store.glob("day=*"))[0]
    late = pd.Timestamp(day.name[4:] + "T23:59:00Z")
    df = tla.load_history(store).iloc[:3].drop(columns=["snapshot_at", "chunks_pending"], errors="ignore")
    h.save_snapshot(df, store, snapshot_at=late)
    frame = tla.load_history(store)
    assert late in frame.attrs["snapshots"] and (frame["snapshot_at"] == late).sum() == 3
    _compare(store)
    assert tla.compact_history(store, before="2100-01-01")
    pd.testing.assert_frame_equal(tla.load_history(store), frame)
    assert [p.name.startswith("compacted-") for p in day.iterdir()] == [True]


def test_two_compactors_racing_leave_both_files_read_once(tmp_path):
    """Two compactions of one day from different listings: neither file holds the other; readers take each once."""
    store = _store(tmp_path)
    frame = tla.load_history(store)
    day = sorted(store.glob("day=*"))[1]
    hourly = sorted(day.iterdir())
    aside = tmp_path.parent / (tmp_path.name + "-aside")
    aside.mkdir()
    shutil.move(str(hourly[-1]), aside / hourly[-1].name)
    first = tla.compact_history(store, before="2100-01-01")  # compactor A saw all but the last hourly file
    shutil.move(str(aside / hourly[-1].name), day / hourly[-1].name)
    shutil.copy(next(p for p in first if p.parent == day), aside / "a.parquet")
    tla.compact_history(store, before="2100-01-01")  # B holds everything; put A's file back beside it
    shutil.copy(aside / "a.parquet", day / next(p for p in first if p.parent == day).name)
    assert len(list(day.iterdir())) == 2
    pd.testing.assert_frame_equal(tla.load_history(store), frame)
    _compare(store)


def test_a_damaged_compacted_file_is_named_or_skipped(tmp_path):
    store = _store(tmp_path)
    tla.compact_history(store)
    bad = sorted(store.glob("day=*/compacted-*.parquet"))[0]
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(FileFormatError, match=bad.name):
        tla.load_history(store)
    with pytest.raises(FileFormatError, match=bad.name):
        tla.session_outcomes(tla.open_history(store, engine="duckdb"))
    with pytest.warns(FileFormatWarning, match=bad.name):
        frame = tla.load_history(store, on_damaged="warn")
    assert frame.attrs["skipped"] == [str(bad)]
    with pytest.warns(FileFormatWarning, match=bad.name):
        out = tla.session_outcomes(tla.open_history(store, on_damaged="warn", engine="arrow"))
    pd.testing.assert_frame_equal(out, tla.session_outcomes(frame))


def test_a_store_folder_is_accepted_where_a_history_is(tmp_path):
    store = _store(tmp_path)
    frame = tla.load_history(store)
    pd.testing.assert_frame_equal(tla.session_outcomes(str(store)), tla.session_outcomes(frame))
    pd.testing.assert_frame_equal(tla.trends(store, "W"), tla.trends(frame, "W"))
    empty = tla.open_history(tmp_path / "nothing-here")
    assert len(tla.session_outcomes(empty)) == 0 and len(tla.trends(empty)) == 0 and empty.snapshots == []
    assert "engine='auto'" in repr(empty)


@pytest.mark.parametrize("call, match", [
    (lambda p: tla.open_history(p, engine="spark"), "engine"),
    (lambda p: tla.open_history(p, on_damaged="ignore"), "on_damaged"),
    (lambda p: tla.open_history(p, since="2026-02-01", until="2026-01-01"), "since"),
    (lambda p: tla.open_history(p, since="yesterday-ish"), "since"),
    (lambda p: tla.compact_history(p, before="soon"), "before"),
    (lambda p: tla.compact_history(p, on_damaged="ignore"), "on_damaged"),
    (lambda p: tla.compact_history(42), "store"),
])
def test_bad_arguments(tmp_path, call, match):
    with pytest.raises(InvalidArgumentError, match=match):
        call(tmp_path)


def test_the_snapshot_command_compacts_closed_days_unless_told_not_to(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    def cli(*args):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TWELVE", "TLANALYTICS"))}
        env.update(PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        return subprocess.run([sys.executable, "-m", "tlanalytics", *map(str, args)], capture_output=True,
                              text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)

    for name, compact in (("kept", False), ("compacted", True)):
        store = _store(tmp_path / name, n_snaps=3)  # 2026-03-01 and -02: days before today's snapshot
        old_days = sorted(p.name for p in store.glob("day=*"))
        proc = cli("snapshot", "--demo", "--store", store, *([] if compact else ["--no-compact"]))
        assert proc.returncode == 0, proc.stderr
        assert len(proc.stdout.strip().splitlines()) == 1
        files = [p.name for d in old_days for p in (store / d).iterdir()]
        if compact:
            assert f"(compacted {len(old_days)} closed day" in proc.stdout
            assert all(f.startswith("compacted-") for f in files) and len(files) == len(old_days)
        else:
            assert "compacted" not in proc.stdout and all(f.startswith("snapshot-") for f in files)


def test_the_kept_day_states_give_the_same_figures_and_are_rebuilt_when_missing(tmp_path):
    from tlanalytics.histcache import cache_path

    store = _store(tmp_path)
    tla.compact_history(store)
    kept = sorted((store / "_state").rglob("*.parquet"))
    assert kept and all((store / p.parent.name / p.name).exists() for p in kept)  # one per compacted file
    _compare(store)  # with the kept states (arrow) against the frame path and DuckDB (which reads the rows)
    kept[0].write_bytes(b"damaged")  # derived data: a bad one is read around, not an error
    _compare(store)
    for p in kept:
        p.unlink()
    _compare(store)
    assert tla.compact_history(store) == [] and all(p.exists() for p in kept)  # rebuilt for compacted days
    compacted = sorted(store.glob("day=*/compacted-*.parquet"))[0]
    h.save_snapshot(tla.load_history(store).iloc[:2].drop(columns="snapshot_at"), store,
                    snapshot_at=pd.Timestamp(compacted.parent.name[4:] + "T23:00:00Z"))
    tla.compact_history(store)  # the day is rewritten: its old state goes with its old file
    assert not cache_path(store, compacted).exists() and not compacted.exists()
    _compare(store)


def test_auto_folds_kept_states_of_a_compacted_store_and_scans_rows_otherwise(tmp_path):
    from tlanalytics.histengine import _auto
    from tlanalytics.histfiles import plan

    store = _store(tmp_path)
    choose = lambda **kw: _auto(tla.open_history(store, **kw), plan(store)[1])  # noqa: E731
    assert choose() == "duckdb"  # hourly files only: a scan of the rows
    tla.compact_history(store)
    assert choose() == "arrow"  # closed days compacted with their states, the newest day hourly
    assert choose(since="2026-03-02") == "duckdb"  # a cut day is read from its rows
    frame = tla.load_history(store)
    pd.testing.assert_frame_equal(tla.session_outcomes(store), tla.session_outcomes(frame))
