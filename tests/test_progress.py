"""Progress enrichment and per-chunk loading against the simulator, over real HTTP on loopback."""

import math
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
import requests

from tlanalytics import _generate
from tlanalytics.client import add_progress, load_chunks, load_uploads
from tlanalytics.errors import AuthenticationError, InvalidArgumentError, NotFoundError
from tlanalytics.simulator import generate_uploads

NOW = "2026-01-15T12:00:00Z"
PROGRESS = ["uploaded_size", "chunks_completed", "chunks_failed", "chunks_pending", "last_activity"]


def uploads(n, seed=0):
    return generate_uploads(n, seed=seed, now=NOW)


def status_requests(sim):
    """(upload_id, query, status) of every request to the per-session endpoint."""
    out = []
    for _, path, status, _ in sim.request_log:
        parts = urlsplit(path)
        head, _, tail = parts.path.rpartition("/")
        if head.endswith("/multipart-uploads"):
            out.append((tail, parse_qs(parts.query), status))
    return out


def assert_progress_matches(df, sessions):
    """Every non-vanished row carries exactly the simulator's counters for its session."""
    by_id = {s["upload_id"]: s for s in sessions}
    for row in df[~df["vanished"].fillna(False).astype(bool)].itertuples(index=False):
        s = by_id[row.upload_id]
        assert row.uploaded_size == s["uploaded_size"]
        assert row.chunks_completed == s["chunks_completed"]
        assert row.chunks_failed == s["chunks_failed"]
        assert row.chunks_pending == s["total_chunks"] - s["chunks_completed"] - s["chunks_failed"]
        assert row.last_activity == pd.Timestamp(s["updated_at"])


def test_counters_match_with_exactly_one_request_per_session(make_sim, make_client):
    sim = make_sim(uploads(230))
    original = sim.sessions()
    df = make_client(sim).load(with_progress=True)
    assert len(df) == 230 and not df["vanished"].any()
    assert_progress_matches(df, original)
    reqs = status_requests(sim)
    assert len(reqs) == 230 and {r[0] for r in reqs} == set(df["upload_id"])
    assert all(q["page_limit"] == ["1"] for _, q, _ in reqs)
    assert df.attrs["progress_requests"] == 230 and df.attrs["progress_retries"] == 0
    assert df.attrs["requests"] == 5  # the listing's own counters are untouched


def test_module_level_add_progress_and_load_uploads_with_progress(make_sim):
    sim = make_sim(uploads(40))
    df = load_uploads(sim.api_key, base_url=sim.base_url, progress=False)
    out = add_progress(df, api_key=sim.api_key, base_url=sim.base_url, progress=False)
    assert_progress_matches(out, sim.sessions())
    assert out.attrs["as_of"] == df.attrs["as_of"] and out.attrs["pages"] == 1
    both = load_uploads(sim.api_key, base_url=sim.base_url, progress=False, with_progress=True)
    assert_progress_matches(both, sim.sessions())
    with pytest.raises(InvalidArgumentError, match="not both"):
        add_progress(df, client=object(), api_key=sim.api_key)


def test_sessions_that_ended_before_enrichment_are_kept_as_vanished(make_sim, make_client):
    sim = make_sim(uploads(120), seed=4)
    client = make_client(sim)
    df = client.load()
    sim.churn = 30  # the next listing request ends some sessions
    requests.get(sim.base_url + "/assets/multipart-uploads", headers={"x-api-key": sim.api_key}, timeout=5)
    removed = set(sim.removed_ids)
    assert removed
    out = client.add_progress(df)
    assert len(out) == len(df) and set(out["upload_id"]) == set(df["upload_id"])
    vanished = set(out.loc[out["vanished"].fillna(False).astype(bool), "upload_id"])
    assert vanished == removed & set(df["upload_id"])
    assert out.loc[out["vanished"].astype(bool), ["uploaded_size", "chunks_completed"]].isna().all().all()
    assert_progress_matches(out, uploads(120))


def test_sessions_ending_during_enrichment(make_sim, make_client):
    sim = make_sim(uploads(200), latency=0.005, seed=8)
    df = make_client(sim).load()
    sim.churn = 40
    seen = []

    def end_some_sessions(resp, *args, **kwargs):  # after 40 status answers, the listing churns once
        seen.append(resp.url)
        if len(seen) == 40:
            requests.get(sim.base_url + "/assets/multipart-uploads", headers={"x-api-key": sim.api_key}, timeout=5)

    session = requests.Session()
    session.hooks["response"].append(end_some_sessions)
    out = make_client(sim, session=session, max_workers=4).add_progress(df)
    assert len(out) == 200 and out["upload_id"].is_unique
    answered_404 = {uid for uid, _, status in status_requests(sim) if status == 404}
    vanished = set(out.loc[out["vanished"].fillna(False).astype(bool), "upload_id"])
    assert vanished and vanished == answered_404 and vanished <= set(sim.removed_ids)
    assert_progress_matches(out, uploads(200))


def test_faults_during_enrichment_lose_and_duplicate_nothing(make_sim, make_client):
    kinds = ["500", "429", "429-no-retry-after", "drop", "truncate", "nonjson"]
    sim = make_sim(uploads(60), faults=0.3, fault_kinds=kinds, seed=11)  # ~30 faults; paced at the learned rate
    df = make_client(sim, max_retries=12, max_retry_after=0.01).load(with_progress=True)
    assert len(df) == 60 and df["upload_id"].is_unique and not df["vanished"].any()
    assert_progress_matches(df, sim.sessions())
    assert df.attrs["progress_retries"] > 0
    ok = [uid for uid, _, status in status_requests(sim) if status == 200]
    assert sorted(set(ok)) == sorted(df["upload_id"])


def test_null_and_repeated_ids_send_no_request_and_keep_their_rows(make_sim, make_client):
    sim = make_sim(uploads(20))
    client = make_client(sim)
    df = client.load()
    null_row = df.iloc[[0]].copy()
    null_row["upload_id"] = pd.NA
    doubled = pd.concat([df, df.iloc[:3], null_row], ignore_index=True)
    doubled.attrs = dict(df.attrs)
    sim.reset_stats()
    out = client.add_progress(doubled)
    assert len(out) == 24 and sim.requests == 20
    assert out["upload_id"].isna().sum() == 1
    repeats = out.iloc[20:23].reset_index(drop=True)
    firsts = out.iloc[:3].reset_index(drop=True)
    pd.testing.assert_frame_equal(repeats[PROGRESS], firsts[PROGRESS])
    assert out.loc[out["upload_id"].isna(), ["uploaded_size", "chunks_completed"]].isna().all().all()


def test_empty_frame_needs_no_request(make_sim, make_client):
    sim = make_sim([])
    client = make_client(sim)
    out = client.add_progress(client.load())
    assert len(out) == 0 and sim.requests == 1
    for name in PROGRESS + ["vanished", "progress"]:
        assert name in out.columns


def test_enrichment_errors_are_raised_not_taken_for_vanished(make_sim, make_client):
    sim = make_sim(uploads(30))
    df = make_client(sim).load()
    with pytest.raises(AuthenticationError):
        make_client(sim, api_key="tlk_wrong").add_progress(df)


def test_a_404_from_a_wrong_base_url_is_an_error_not_vanished_sessions(make_sim, make_client):
    sim = make_sim(uploads(10))
    df = make_client(sim).load()
    with pytest.raises(NotFoundError) as info:
        make_client(sim, base_url=sim.base_url[: -len("v1.3")] + "v9").add_progress(df)
    assert info.value.status == 404 and info.value.code == "not_found"


def test_enrichment_runs_concurrently(make_sim, make_client):
    sim = make_sim(uploads(120), latency=0.02)
    client = make_client(sim, max_workers=6)
    client.add_progress(client.load())
    assert client.concurrency["peak_in_flight"] == 6


# --- load_chunks ----------------------------------------------------------------

def _big_session(sessions, at_least=120):
    return next(s for s in sessions if s["total_chunks"] >= at_least and 0 < s["chunks_completed"] < s["total_chunks"])


@pytest.mark.parametrize("faults", [0.0, 0.3])
def test_load_chunks_joins_every_page_in_order(make_sim, make_client, faults):
    sessions = uploads(400, seed=5)
    session = _big_session(sessions)
    sim = make_sim(sessions, faults=faults, fault_kinds=["500", "drop", "truncate", "nonjson"], seed=2)
    client = make_client(sim, max_retries=12)
    chunks = client.load_chunks(session["upload_id"])
    n = session["total_chunks"]
    states = _generate.chunk_states(session)
    assert chunks["index"].tolist() == list(range(1, n + 1))
    assert chunks["status"].astype(str).tolist() == states
    assert str(chunks["index"].dtype) == "Int64" and str(chunks["error"].dtype) == "string"
    assert isinstance(chunks["status"].dtype, pd.CategoricalDtype)
    assert list(chunks["status"].cat.categories[:3]) == ["completed", "pending", "failed"]
    for col in ("uploaded_at", "updated_at"):
        assert str(chunks[col].dtype) == "datetime64[ns, UTC]"
    completed = chunks["status"] == "completed"
    assert (chunks["uploaded_at"].notna() == completed).all()
    assert (chunks["error"].notna() == (chunks["status"] == "failed")).all()
    pages = math.ceil(n / 50)
    assert chunks.attrs["upload_id"] == session["upload_id"] and chunks.attrs["pages"] == pages
    assert chunks.attrs["total_chunks"] == n
    assert chunks.attrs["chunks_completed"] == session["chunks_completed"] == completed.sum()
    assert chunks.attrs["uploaded_size"] == session["uploaded_size"]
    if faults:
        assert chunks.attrs["retries"] > 0 or sim.requests == pages
    else:
        assert chunks.attrs["requests"] == sim.requests == pages
        assert all(q["page_limit"] == ["50"] for _, q, _ in status_requests(sim))


def test_load_chunks_of_a_missing_session_raises_not_found(make_sim, make_client):
    sim = make_sim(uploads(5))
    with pytest.raises(NotFoundError) as info:
        make_client(sim).load_chunks("0123456789abcdef01234567")
    assert info.value.status == 404 and info.value.code == "resource_not_exist"
    assert "'0123456789abcdef01234567'" in str(info.value) and "expired" in str(info.value)


def test_module_level_load_chunks(make_sim):
    sessions = uploads(50)
    sim = make_sim(sessions)
    s = sessions[0]
    chunks = load_chunks(s["upload_id"], api_key=sim.api_key, base_url=sim.base_url, progress=False)
    assert len(chunks) == s["total_chunks"] and chunks["index"].is_unique


def test_chunks_frame_keeps_unknown_statuses_and_types_bad_values_as_null():
    from tlanalytics.errors import MalformedItemWarning
    from tlanalytics.frame import chunks_frame as _chunks_frame

    with pytest.warns(MalformedItemWarning, match="2 chunk item"):
        df = _chunks_frame([
            {"index": 2, "status": "completed", "uploaded_at": "2026-01-01T00:00:00Z",
             "updated_at": "2026-01-01T00:00:00Z"},
            {"index": 1, "status": "quarantined", "uploaded_at": None, "updated_at": "not a date", "error": "x"},
            "not an object",
        ])
    assert df.attrs["malformed_rows"] == 2
    assert df["index"].tolist()[:2] == [1, 2] and df["index"].isna().iloc[2]
    assert list(df["status"].cat.categories) == ["completed", "pending", "failed", "quarantined"]
    assert df["updated_at"].isna().tolist() == [True, False, True]
    assert df["error"].tolist()[0] == "x"
    empty = _chunks_frame([])
    assert list(empty.columns) == ["index", "status", "uploaded_at", "updated_at", "error"] and len(empty) == 0
