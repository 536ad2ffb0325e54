"""The pure analyses: outcomes against a plain reference, Kaplan-Meier, trends, the simulated history."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _data import draw_history_rows

import tlanalytics as tla
from tlanalytics.errors import InvalidArgumentError

T0 = pd.Timestamp("2026-03-01T00:00:00Z")
H = pd.Timedelta(hours=1)
STATUSES = ["active", "completed", "failed", "expired", "paused"]


def reference(rows, snaps):
    """The documented rules, one session at a time, in plain Python."""
    by_id = {}
    for r in sorted(rows, key=lambda r: r["snapshot_at"]):
        by_id.setdefault(r["upload_id"], []).append(r)
    out = {}
    for uid, seen in by_id.items():
        last = seen[-1]
        expires = last["expires_at"]
        term = next((r for s in ("completed", "failed", "expired") for r in seen if r["status"] == s), None)
        if last["snapshot_at"] == snaps[-1] and last["status"] not in ("completed", "failed", "expired") and (
                expires is None or expires > last["snapshot_at"]):
            outcome, after, by = "open", None, None
        elif term is not None:
            before = [r for r in seen if r["snapshot_at"] < term["snapshot_at"]]
            after, by = (before[-1]["snapshot_at"] if before else None), term["snapshot_at"]
            outcome = term["status"]
            if outcome == "expired" and expires is not None:
                after = by = min(expires, term["snapshot_at"])
        elif expires is not None and expires <= last["snapshot_at"]:
            outcome, after, by = "expired", expires, expires
        elif last["snapshot_at"] == snaps[-1]:
            outcome, after, by = "open", None, None
        else:
            nxt = snaps[snaps.index(last["snapshot_at"]) + 1]
            if expires is not None and expires <= nxt:
                outcome, after, by = "expired", expires, expires
            else:
                outcome, after, by = "ended unseen", last["snapshot_at"], nxt
        known = [r["uploaded_size"] for r in seen if r["uploaded_size"] is not None]
        uploaded = known[-1] if known else None
        wasted = (uploaded if outcome in ("expired", "failed", "ended unseen") else 0)
        out[uid] = (outcome, after, by, wasted, len(seen), last["status"])
    return out


@st.composite
def histories(draw):
    n_snaps = draw(st.integers(1, 6))
    snaps = [T0 + k * H for k in range(n_snaps)]
    rows = draw_history_rows(draw, snaps, sessions=8, created_hours=(-30, 5), life_hours=40, statuses=STATUSES)
    order = draw(st.permutations(range(len(rows))))
    return [rows[j] for j in order], snaps, draw(st.booleans())


def _frame(rows, snaps, categorical):
    df = pd.DataFrame({
        "snapshot_at": pd.to_datetime([r["snapshot_at"] for r in rows], utc=True).as_unit("ns"),
        "upload_id": pd.array([r["upload_id"] for r in rows], dtype="string"),
        "status": pd.Categorical([r["status"] for r in rows], categories=STATUSES[:4] + ["paused"]),
        "total_size": pd.array([r["total_size"] for r in rows], dtype="Int64"),
        "created_at": pd.to_datetime([r["created_at"] for r in rows], utc=True).as_unit("ns"),
        "expires_at": pd.to_datetime([r["expires_at"] for r in rows], utc=True).as_unit("ns"),
        "uploaded_size": pd.array([r["uploaded_size"] for r in rows], dtype="Int64"),
    })
    if categorical:
        df["upload_id"] = df["upload_id"].astype("category")
    df.attrs["snapshots"] = snaps
    return df


@settings(max_examples=150, deadline=None)
@given(histories())
def test_outcomes_follow_the_documented_rules(case):
    rows, snaps, categorical = case
    out = tla.session_outcomes(_frame(rows, snaps, categorical)).set_index("upload_id")
    want = reference(rows, snaps)
    assert sorted(out.index) == sorted(want)
    for uid, (outcome, after, by, wasted, sightings, last_status) in want.items():
        row = out.loc[uid]
        assert row["outcome"] == outcome, uid
        assert (pd.isna(row["ended_after"]) if after is None else row["ended_after"] == after), uid
        assert (pd.isna(row["ended_by"]) if by is None else row["ended_by"] == by), uid
        assert (pd.isna(row["bytes_wasted"]) if wasted is None else row["bytes_wasted"] == wasted), uid
        assert row["sightings"] == sightings and row["last_status"] == last_status


@settings(max_examples=80, deadline=None)
@given(histories(), st.sampled_from(["h", "D"]))
def test_trends_count_every_session_once(case, freq):
    rows, snaps, categorical = case
    history = _frame(rows, snaps, categorical)
    out = tla.session_outcomes(history)
    table = tla.trends(history, freq, outcomes=out)
    assert table["created"].sum() == out["created_at"].notna().sum()
    for name, label in (("completed", "completed"), ("expired", "expired"), ("failed", "failed"),
                        ("ended_unseen", "ended unseen")):
        assert table[name].sum() == (out["outcome"] == label).sum()
    assert table["open_at_end"].dropna().iloc[-1] == (out["outcome"] == "open").sum()
    assert table["bytes_wasted"].sum() == out["bytes_wasted"].fillna(0).sum()
    assert table["wasted_unknown"].sum() == out["bytes_wasted"].isna().sum()


def _outcomes(durations_h, completed, last_h):
    """An outcomes frame: sessions created at T0, completed (or still open) after the given hours."""
    kinds = ["completed" if c else "open" for c in completed]
    out = pd.DataFrame({
        "outcome": pd.Categorical(kinds, categories=list(tla.OUTCOMES)),
        "created_at": pd.Series([T0] * len(kinds)).dt.as_unit("ns"),
        "ended_at": pd.Series([T0 + d * H if c else pd.NaT for d, c in zip(durations_h, completed)],
                              dtype="datetime64[ns, UTC]"),
    })
    out.attrs["snapshots"] = [T0 + last_h * H]
    return out


def test_kaplan_meier_matches_a_hand_computed_curve():
    # Completions at 1, 2 and 3 h; open sessions (censored at the last snapshot, 2 h and 4 h old).
    out = _outcomes([1, 2, 0, 3, 0], [True, True, False, True, False], last_h=4)
    out.loc[2, "created_at"] = T0 + 2 * H  # open, 2 h old at the last snapshot
    curve = tla.completion_curve(out)
    assert curve["time"].tolist() == [H, 2 * H, 3 * H]
    # S(1) = 4/5, S(2) = 4/5 * 3/4 (the 2 h-old open one is still at risk at 2 h), S(3) = 0.6 * 1/2
    assert np.allclose(1 - curve["completed"], [0.8, 0.6, 0.3])
    assert curve["at_risk"].tolist() == [5, 4, 2]


def test_censoring_matters_the_naive_median_is_too_short():
    out = _outcomes([1, 1, 0, 0, 0, 0], [True, True, False, False, False, False], last_h=10)
    table = tla.completion_curve(out)
    assert table["completed"].iloc[-1] == pytest.approx(2 / 6)  # not 100 %: the open ones have not finished


def test_generate_history_is_deterministic_and_shows_every_outcome():
    a = tla.generate_history(days=4, seed=3, now="2026-03-05")
    b = tla.generate_history(days=4, seed=3, now="2026-03-05")
    pd.testing.assert_frame_equal(a, b)
    assert len(a.attrs["snapshots"]) == 4 * 24 + 1 and a["snapshot_at"].is_monotonic_increasing
    assert not a.duplicated(["snapshot_at", "upload_id"]).any()
    out = tla.session_outcomes(a)
    assert set(out["outcome"]) == set(tla.OUTCOMES)
    assert (a["uploaded_size"] <= a["total_size"]).all()
    assert (a["chunks_completed"] + a["chunks_failed"] + a["chunks_pending"] == a["total_chunks"]).all()


def test_the_release_lowers_the_completion_rate():
    table = tla.trends(tla.generate_history(days=12, seed=5, now="2026-03-13", release_day=6))
    before, after = table["completion_rate"].iloc[1:6].mean(), table["completion_rate"].iloc[7:].mean()
    assert after < before


def test_empty_history_gives_empty_tables():
    history = tla.generate_history(days=1, seed=1).iloc[:0]
    history.attrs = {}
    assert len(tla.session_outcomes(history)) == 0
    assert len(tla.trends(history)) == 0


@pytest.mark.parametrize("call, match", [
    (lambda: tla.session_outcomes(42), "DataFrame"),
    (lambda: tla.session_outcomes(pd.DataFrame({"upload_id": []})), "missing"),
    (lambda: tla.trends(tla.generate_history(days=1), freq="fortnightly"), "freq"),
    (lambda: tla.generate_history(days=0), "days"),
    (lambda: tla.generate_history(days=2, per_day=-1), "per_day"),
])
def test_bad_arguments(call, match):
    with pytest.raises(InvalidArgumentError, match=match):
        call()
