"""The snapshot store and the outcomes, against the simulator through the real loader."""

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pandas as pd
import pytest

import tlanalytics as tla
from tlanalytics.errors import FileFormatError, FileFormatWarning, InvalidArgumentError

ROOT = Path(__file__).resolve().parents[1]
T0 = pd.Timestamp("2026-03-01T00:00:00Z")
H = pd.Timedelta(hours=1)
MiB = 1 << 20
CHUNK = 5 * MiB


def _iso(ts):
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def sess(uid, status, created_h, *, life_h=24.0, size=100 * MiB, done=0):
    """One simulator session created ``created_h`` hours after T0 with ``done`` chunks uploaded."""
    chunks = -(-size // CHUNK)
    done = chunks if status == "completed" else done
    created = T0 + created_h * H
    return {"upload_id": uid, "status": status, "total_size": size, "chunk_size": CHUNK, "total_chunks": chunks,
            "created_at": _iso(created), "expires_at": _iso(created + life_h * H),
            "chunks_completed": done, "chunks_failed": 0, "uploaded_size": min(done * CHUNK, size),
            "updated_at": _iso(created)}


# Snapshot k is taken at T0 + (k + 1) h. What the listing shows at each one:
SCRIPT = [
    [sess("A", "active", 0, done=2), sess("B", "active", 0, done=3), sess("C", "active", 0), sess("D", "active", 0, done=1),
     sess("F", "active", -20, life_h=22.5), sess("G", "active", -21, life_h=24), sess("J", "active", 0.5)],
    [sess("A", "active", 0, done=5), sess("B", "active", 0, done=4), sess("C", "expired", 0), sess("D", "failed", 0, done=1),
     sess("F", "active", -20, life_h=22.5), sess("G", "active", -21, life_h=24), sess("J", "active", 0.5)],
    [sess("A", "completed", 0), sess("D", "failed", 0, done=1), sess("E", "active", 2.5),
     sess("G", "active", -21, life_h=24), sess("J", "active", 0.5)],
    [sess("E", "active", 2.5, done=1), sess("G", "active", -21, life_h=24), sess("H", "completed", 3.5),
     sess("J", "active", 0.5)],
    [sess("E", "active", 2.5, done=2), sess("G", "active", -21, life_h=24), sess("J", "active", 0.5, done=7)],
]
WITH_PROGRESS = [True, False, True, False, True]  # the store spans a schema change: progress columns come and go
SNAP = [T0 + (k + 1) * H for k in range(len(SCRIPT))]
# Ground truth: outcome, ended_after, ended_by, ended_at, bytes wasted.
TRUTH = {
    "A": ("completed", SNAP[1], SNAP[2], SNAP[2], 0),
    "B": ("ended unseen", SNAP[1], SNAP[2], SNAP[2], 3 * CHUNK),  # progress last read at snapshot 0
    "C": ("expired", SNAP[1], SNAP[1], SNAP[1], 0),               # listed expired before its clock ran out
    "D": ("failed", SNAP[0], SNAP[1], SNAP[1], 1 * CHUNK),
    "E": ("open", None, None, None, 0),
    "F": ("expired", T0 + 2.5 * H, T0 + 2.5 * H, T0 + 2.5 * H, 0),  # left the listing after its expiry
    "G": ("expired", T0 + 3 * H, T0 + 3 * H, T0 + 3 * H, 0),        # still listed active past expiry
    "H": ("completed", None, SNAP[3], SNAP[3], 0),
    "J": ("open", None, None, None, 0),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store of the scripted snapshots, each loaded from the simulator by the real loader."""
    root = tmp_path_factory.mktemp("store")
    from tlanalytics.simulator import Simulator

    with Simulator([]) as sim:
        for k, listing in enumerate(SCRIPT):
            sim.set_sessions(listing)
            df = tla.load_uploads(sim.api_key, base_url=sim.base_url, progress=False, as_of=SNAP[k],
                                  with_progress=WITH_PROGRESS[k])
            path = tla.save_snapshot(df, root)
            assert path.parent.name == f"day={SNAP[k]:%Y-%m-%d}"
    return root


def test_store_round_trip_and_layout(store):
    files = sorted(store.glob("day=*/*.parquet"))
    assert len(files) == len(SCRIPT)
    history = tla.load_history(store)
    assert list(history.attrs["snapshots"]) == SNAP
    assert history["snapshot_at"].is_monotonic_increasing
    assert len(history) == sum(len(s) for s in SCRIPT)
    for k, listing in enumerate(SCRIPT):
        rows = history[history["snapshot_at"] == SNAP[k]].set_index("upload_id")
        assert sorted(rows.index) == sorted(s["upload_id"] for s in listing)
        for s in listing:
            assert rows.loc[s["upload_id"], "status"] == s["status"]
            assert rows.loc[s["upload_id"], "total_size"] == s["total_size"]
            assert rows.loc[s["upload_id"], "created_at"] == pd.Timestamp(s["created_at"])
            uploaded = rows.loc[s["upload_id"], "uploaded_size"]
            assert (uploaded == s["uploaded_size"]) if WITH_PROGRESS[k] else pd.isna(uploaded)
    assert str(history["created_at"].dtype) == "datetime64[ns, UTC]"
    assert str(history["total_size"].dtype) == "Int64"


def test_every_outcome_equals_the_ground_truth(store):
    out = tla.session_outcomes(tla.load_history(store)).set_index("upload_id")
    assert sorted(out.index) == sorted(TRUTH)
    for uid, (outcome, after, by, at, wasted) in TRUTH.items():
        row = out.loc[uid]
        assert row["outcome"] == outcome, uid
        for name, want in (("ended_after", after), ("ended_by", by), ("ended_at", at)):
            assert (pd.isna(row[name]) if want is None else row[name] == want), (uid, name, row[name])
        assert row["bytes_wasted"] == wasted, uid
        created = pd.Timestamp(next(s for snap in SCRIPT for s in snap if s["upload_id"] == uid)["created_at"])
        if at is not None:
            assert row["time_to_outcome"] == at - created
    assert out.loc["A", "first_seen"] == SNAP[0] and out.loc["A", "last_seen"] == SNAP[2]
    assert out.loc["A", "sightings"] == 3 and out.loc["A", "last_status"] == "completed"
    assert out.loc["J", "uploaded_size"] == 7 * CHUNK


def test_every_trend_count_equals_the_ground_truth(store):
    history = tla.load_history(store)
    table = tla.trends(history, freq="h")
    # From the earliest creation (G, 21 h before T0) to the last snapshot, hour by hour.
    assert list(table.index) == [T0 + h * H for h in range(-21, 6)]
    for name, label in (("completed", "completed"), ("expired", "expired"), ("failed", "failed"),
                        ("ended_unseen", "ended unseen")):
        want = pd.Series(0, index=table.index)
        for outcome, _, _, at, _ in TRUTH.values():
            if outcome == label:
                want[at.floor("h")] += 1
        assert table[name].tolist() == want.tolist(), name
    created = {}
    for snap in SCRIPT:
        for s in snap:
            created[s["upload_id"]] = pd.Timestamp(s["created_at"]).floor("h")
    assert table["created"].tolist() == [sum(1 for c in created.values() if c == p) for p in table.index]
    for k, listing in enumerate(SCRIPT):
        live = [s for s in listing if s["status"] == "active" and pd.Timestamp(s["expires_at"]) > SNAP[k]]
        assert table["open_at_end"].loc[SNAP[k]] == len(live)
        assert table["bytes_open_at_end"].loc[SNAP[k]] == sum(s["total_size"] for s in live)
    assert table["open_at_end"].loc[:T0].isna().all()  # no snapshot in those hours
    wasted = pd.Series(0, index=table.index)
    for outcome, _, _, at, w in TRUTH.values():
        if outcome in ("expired", "failed", "ended unseen"):
            wasted[at.floor("h")] += w
    assert table["bytes_wasted"].tolist() == wasted.tolist()
    ended = table[["completed", "expired", "failed", "ended_unseen"]].sum(axis=1)
    assert table["completion_rate"].loc[T0 + 3 * H] == pytest.approx(1 / 3)  # hour 3: A completed, B unseen, G expired
    assert ended.sum() == sum(1 for v in TRUTH.values() if v[0] != "open")


def test_an_empty_listing_is_a_snapshot_that_ends_sessions(tmp_path, make_sim):
    sim = make_sim([sess("X", "active", 0)])
    df = tla.load_uploads(sim.api_key, base_url=sim.base_url, progress=False, as_of=SNAP[0])
    tla.save_snapshot(df, tmp_path)
    sim.set_sessions([])
    empty = tla.load_uploads(sim.api_key, base_url=sim.base_url, progress=False, as_of=SNAP[1])
    tla.save_snapshot(empty, tmp_path)
    history = tla.load_history(tmp_path)
    assert len(history) == 1 and list(history.attrs["snapshots"]) == SNAP[:2]
    out = tla.session_outcomes(history)
    assert out.loc[0, "outcome"] == "ended unseen" and out.loc[0, "ended_by"] == SNAP[1]
    assert tla.trends(history, "h")["open_at_end"].loc[SNAP[:2]].tolist() == [1, 0]


def _frame(uids, at, status="active"):
    return tla.build_frame([{k: v for k, v in sess(u, status, 0).items() if k in
                             ("upload_id", "status", "total_size", "chunk_size", "total_chunks", "created_at",
                              "expires_at")} for u in uids], as_of=at)


def test_same_snapshot_twice_does_not_duplicate_and_since_until_filter(tmp_path):
    for k in range(3):
        tla.save_snapshot(_frame(["a", "b"], SNAP[k]), tmp_path)
    tla.save_snapshot(_frame(["a", "b"], SNAP[1]), tmp_path)
    assert len(tla.load_history(tmp_path)) == 6
    part = tla.load_history(tmp_path, since=SNAP[1], until=SNAP[1].isoformat())
    assert part["snapshot_at"].unique().tolist() == [SNAP[1]] and len(part) == 2
    assert list(tla.load_history(tmp_path, columns=["status"]).columns) == ["snapshot_at", "status"]
    assert list(tla.load_history(tmp_path, columns=tla.ANALYSIS_COLUMNS).columns[1:]) == list(tla.ANALYSIS_COLUMNS)
    older = tla.save_snapshot(_frame(["z"], SNAP[0]), tmp_path, snapshot_at="2025-01-01 00:00")
    assert older.parent.name == "day=2025-01-01"
    assert tla.load_history(tmp_path).attrs["snapshots"][0] == pd.Timestamp("2025-01-01", tz="UTC")


def test_a_file_written_before_a_column_existed_still_reads(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    tla.save_snapshot(_frame(["a"], SNAP[1]), tmp_path)
    old = pa.table({"snapshot_at": pa.array([SNAP[0].value // 1000], pa.timestamp("us", tz="UTC")),
                    "upload_id": ["a"], "status": ["active"], "total_size": pa.array([5], pa.int64())})
    folder = tmp_path / f"day={SNAP[0]:%Y-%m-%d}"
    pq.write_table(old, folder / f"snapshot-{SNAP[0]:%Y%m%dT%H%M%S}.000000Z.parquet")
    history = tla.load_history(tmp_path)
    assert len(history) == 2
    assert history["total_size"].tolist() == [5, 100 * MiB]
    assert pd.isna(history.loc[0, "created_at"]) and history.loc[1, "created_at"] == T0
    assert history["chunk_size"].isna().tolist() == [True, False]


def test_a_damaged_file_is_named_and_can_be_skipped(tmp_path):
    for k in range(3):
        tla.save_snapshot(_frame(["a"], SNAP[k]), tmp_path)
    bad = sorted(tmp_path.glob("day=*/*.parquet"))[1]
    bad.write_bytes(bad.read_bytes()[:40])
    with pytest.raises(FileFormatError, match=str(bad.name)) as info:
        tla.load_history(tmp_path)
    assert "on_damaged='warn'" in str(info.value)
    with pytest.warns(FileFormatWarning, match=bad.name):
        history = tla.load_history(tmp_path, on_damaged="warn")
    assert history["snapshot_at"].tolist() == [SNAP[0], SNAP[2]]
    assert history.attrs["skipped"] == [str(bad)] and list(history.attrs["snapshots"]) == [SNAP[0], SNAP[2]]


_CHILD = textwrap.dedent("""
    import os, sys
    import pandas as pd
    import tlanalytics as tla
    from tlanalytics.frame import build_frame
    store, name, start = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t0 = pd.Timestamp("2026-03-01T00:00:00Z")
    items = [{"upload_id": f"{name}{i}", "status": "active", "total_size": 10, "chunk_size": 5, "total_chunks": 2,
              "created_at": "2026-03-01T00:00:00Z", "expires_at": "2026-03-02T00:00:00Z"} for i in range(200)]
    if sys.argv[4:] == ["crash"]:
        import pyarrow.parquet as pq
        real = pq.write_table
        def dying(table, where, **kw):
            import io
            buf = io.BytesIO()
            real(table, buf, **kw)
            where.write(buf.getvalue()[: len(buf.getvalue()) // 2])
            where.flush()
            os._exit(9)
        pq.write_table = dying
    import time
    time.sleep(max(0.0, float(os.environ["TLA_TEST_GO"]) - time.time()))  # both writers start together
    for k in range(start, start + 40):
        tla.save_snapshot(build_frame(items, as_of=t0 + pd.Timedelta(minutes=k)), store)
""")


def _child(store, name, start, *extra):
    import time

    env = {**os.environ, "PYTHONPATH": str(ROOT), "TLA_TEST_GO": str(time.time() + 3)}
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(store), name, str(start), *extra], env=env)


def test_two_writers_at_once_both_land(tmp_path):
    one, two = _child(tmp_path, "p", 0), _child(tmp_path, "q", 20)  # minutes 20-39 are written by both
    assert one.wait(120) == 0 and two.wait(120) == 0
    history = tla.load_history(tmp_path)
    assert len(history.attrs["snapshots"]) == 60
    assert not list(tmp_path.glob("day=*/.tmp-*"))
    per_snapshot = history.groupby("snapshot_at", observed=True)["upload_id"].nunique()
    assert (per_snapshot == 200).all()  # one writer's file replaced the other's whole: never a mix
    assert not history.duplicated(["snapshot_at", "upload_id"]).any()


def test_a_writer_killed_mid_write_leaves_the_store_readable(tmp_path):
    tla.save_snapshot(_frame(["a"], SNAP[0]), tmp_path)
    assert _child(tmp_path, "k", 0, "crash").wait(120) == 9
    assert list(tmp_path.glob("day=*/.tmp-*"))  # the half-written temporary file stays behind, ignored
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = tla.load_history(tmp_path)
    assert history["upload_id"].tolist() == ["a"]
    tla.save_snapshot(_frame(["b"], SNAP[1]), tmp_path)
    assert len(tla.load_history(tmp_path)) == 2


def test_default_store_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TLANALYTICS_STORE", str(tmp_path / "s"))
    assert tla.default_store() == tmp_path / "s"
    tla.save_snapshot(_frame(["a"], SNAP[0]))
    assert len(tla.load_history()) == 1
    monkeypatch.delenv("TLANALYTICS_STORE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert tla.default_store() == tmp_path / "xdg" / "tlanalytics" / "history"
    assert len(tla.load_history(tmp_path / "nothing-here")) == 0


@pytest.mark.parametrize("call, match", [
    (lambda p: tla.save_snapshot("not a frame", p), "DataFrame"),
    (lambda p: tla.save_snapshot(pd.DataFrame({"upload_id": ["a"]}), p), "missing"),
    (lambda p: tla.save_snapshot(_frame(["a"], SNAP[0]).assign(total_size="x"), p), "total_size"),
    (lambda p: tla.save_snapshot(_frame(["a"], SNAP[0]), p, snapshot_at="yesterday-ish"), "snapshot_at"),
    (lambda p: tla.save_snapshot(_frame(["a"], SNAP[0]), 42), "store"),
    (lambda p: tla.load_history(p, on_damaged="ignore"), "on_damaged"),
    (lambda p: tla.load_history(p, since=SNAP[2], until=SNAP[0]), "since"),
    (lambda p: tla.load_history(p, columns=["nope"]), "columns"),
    (lambda p: tla.load_history(p, columns="status"), "columns"),
])
def test_bad_arguments_are_typed_errors(tmp_path, call, match):
    with pytest.raises(InvalidArgumentError, match=match):
        call(tmp_path)


def test_a_frame_without_as_of_needs_snapshot_at(tmp_path):
    df = _frame(["a"], SNAP[0])
    df.attrs.clear()
    with pytest.raises(InvalidArgumentError, match="snapshot_at"):
        tla.save_snapshot(df, tmp_path)


def test_reading_in_batches_gives_the_same_frame(store, monkeypatch):
    whole = tla.load_history(store)
    import tlanalytics.history as h

    monkeypatch.setattr(h, "BATCH", 2)  # five files in three batches: ids and statuses united across them
    pieces = tla.load_history(store)
    pd.testing.assert_frame_equal(pieces, whole)
    assert list(pieces["status"].cat.categories[:4]) == ["active", "completed", "failed", "expired"]
    pd.testing.assert_frame_equal(tla.session_outcomes(pieces), tla.session_outcomes(whole))
