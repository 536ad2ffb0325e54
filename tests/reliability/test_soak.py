"""Fault soak: many seeded loads through the simulator under random mixes of every fault kind and churn.

Each load runs in a thread with a wall-clock budget computed from the
client's timeouts and retries. Its only allowed outcomes:

- a frame holding exactly the sessions that existed throughout
  (``persistent_ids() ⊆ ids ⊆ initial ∪ added``), no duplicate or null
  ``upload_id``, every row equal to the simulator's record of that session at
  some moment of the load, schema dtypes, and ``attrs["consistent"]`` telling
  the truth about an ``InconsistentListingWarning`` (the only warning allowed);
- a :class:`~tlanalytics.errors.TLAnalyticsError` subclass.

A listing that never settles within ``max_passes`` passes is the documented
exception: its frame is flagged (``attrs["consistent"] is False`` plus the
warning) and may miss sessions; the soak counts such misses apart
(``rows_missing_from_flagged_frames``). Never a silently short frame, an
untyped exception or a hang. The default run does
``DEFAULT_LOADS`` loads; ``TLANALYTICS_SOAK=N`` runs N. Some loads also read
progress (``with_progress=True``) and one session's chunks (``load_chunks``)
through the same faulty server.

A load mostly waits (read timeouts of ``slow`` answers, and the pacing of the
rate the client learns from injected 429s: 10 requests/s at least), about a
tenth of its time is CPU. So the loads run in ``PROCESSES`` worker processes
at once, each load alone in its process as before (its own simulator, client
and recorded warnings: ``warnings.catch_warnings`` is process-wide, so loads
are never run in threads of one process), and the plans, checks and figures
are the same whatever the number of processes.
"""

from __future__ import annotations

import collections
import math
import multiprocessing
import random
import threading
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass

import pandas as pd

from tlanalytics import schema
from tlanalytics._generate import chunk_states
from tlanalytics.client import UploadsClient
from tlanalytics.errors import InconsistentListingWarning, TLAnalyticsError
from tlanalytics.simulator import FAULT_KINDS, Simulator, generate_uploads

DEFAULT_LOADS = 210
PROCESSES = 6  # loads at once (each ~90 % waiting): ~5x less wall time on 2 cores, same loads and checks
BATCH = 5  # seeds per task: the slow seeds are scattered, so small tasks keep the processes evenly busy
NOW = "2026-01-15T12:00:00Z"
# A "slow" fault answers just after the client's read timeout: every slow
# response is a timeout, retried like any other transport failure.
CONNECT_TIMEOUT, READ_TIMEOUT, SLOW_SECONDS = 1.0, 0.3, 0.4
BACKOFF, BACKOFF_MAX, MAX_RETRY_AFTER = 0.002, 0.02, 0.02
SLACK_PER_ATTEMPT = 0.3  # scheduling slack on a busy 2-core machine
LISTING = ("upload_id", "status", "total_size", "chunk_size", "total_chunks", "created_at", "expires_at")
PROGRESS = ("uploaded_size", "chunks_completed", "chunks_failed", "chunks_pending", "last_activity")


def _ns(text):
    return None if text is None else pd.Timestamp(text).as_unit("ns").value


def _record(session):
    """The listing fields of one simulator session, as comparable Python values."""
    return (session["upload_id"], session["status"], session["total_size"], session["chunk_size"],
            session["total_chunks"], _ns(session.get("created_at")), _ns(session.get("expires_at")))


class RecordingSimulator(Simulator):
    """The real simulator, plus the record of every state each session had (for the checks only)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.history = collections.defaultdict(set)
        self.progress_records = {}
        self._snapshot()

    def _snapshot(self):
        for s in self._sessions.values():
            self.history[s["upload_id"]].add(_record(s))
            self.progress_records[s["upload_id"]] = dict(s)

    def _apply_churn(self):  # called under the simulator's lock after a listing request
        super()._apply_churn()
        self._snapshot()


@dataclass
class Plan:
    """One load's configuration, all drawn from its seed."""

    seed: int
    n: int
    page_limit: int
    max_workers: int
    max_retries: int
    max_passes: int
    faults: float
    fault_kinds: tuple
    inject: tuple  # (kind, count) queued before the load, or ()
    churn: int
    churn_limit: int | None
    rate_limit: float | None
    host: str
    with_progress: bool
    chunks: bool

    @classmethod
    def draw(cls, seed):
        rng = random.Random(seed)
        page_limit = rng.choice([5, 10, 20, 50, 50])
        n = rng.choices([0, 1, rng.randint(2, 49), rng.randint(50, 300)], weights=[1, 2, 7, 10])[0]
        n = min(n, page_limit * 25)  # at most 25 pages a pass: keeps the default run short
        with_progress = n <= 60 and rng.random() < 0.25
        kinds = tuple(k for k in FAULT_KINDS if rng.random() < 0.6) or (rng.choice(FAULT_KINDS),)
        inject = (FAULT_KINDS[seed % len(FAULT_KINDS)], rng.randint(1, 3)) if seed < 3 * len(FAULT_KINDS) else ()
        churn = rng.choice([0, 0, 0, 1, 2, 3])
        return cls(seed=seed, n=n, page_limit=page_limit, max_workers=rng.choice([1, 2, 4, 8]),
                   max_retries=rng.choice([0, 1, 2, 3, 5, 8, 8]), max_passes=rng.choice([1, 2, 4, 4]),
                   faults=rng.choice([0.0, 0.05, 0.1, 0.2, 0.35, 0.5]), fault_kinds=kinds, inject=inject,
                   churn=churn, churn_limit=rng.choice([None, 1, 2, 4, 8]) if churn else None,
                   rate_limit=rng.choice([None] * 9 + [60.0]), host=rng.choice(["127.0.0.1", "127.0.0.1", "::1"]),
                   with_progress=with_progress, chunks=rng.random() < 0.15)

    def budget(self):
        """Seconds the load may take at worst: every request serialised, every attempt timing out."""
        attempts = self.max_retries + 1
        per_attempt = READ_TIMEOUT + BACKOFF_MAX + MAX_RETRY_AFTER + SLACK_PER_ATTEMPT
        growth = self.churn * (self.churn_limit or 10_000)  # sessions churn may add during the load
        pages = math.ceil((self.n + min(growth, 2_000)) / self.page_limit) + 2 * self.max_workers + 2
        requests = self.max_passes * pages
        if self.with_progress:
            requests += self.n + min(growth, 2_000)
        if self.chunks:
            requests += 60  # chunk pages of the largest session: 10 GiB / 5 MiB / 50 per page
        return 15 + requests * attempts * per_attempt


def _run_in_thread(func, budget):
    """Run ``func`` with warnings recorded; ('ok', value, warnings), ('error', exc, warnings) or ('hang',...)."""
    box = {}

    def target():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                box["value"] = func()
                box["outcome"] = "ok"
            except BaseException as exc:  # noqa: BLE001 - classified by the caller
                box["value"], box["outcome"] = exc, "error"
        box["warnings"] = list(caught)

    thread = threading.Thread(target=target, name="soak-load", daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(budget)
    elapsed = time.monotonic() - started
    if thread.is_alive():
        return "hang", None, [], elapsed
    return box["outcome"], box["value"], box["warnings"], elapsed


def _check_dtypes(df, problems):
    for name in schema.columns():
        if name not in df.columns:
            continue
        want, got = schema.dtype_of(name), df[name].dtype
        if name == "status":
            ok = isinstance(got, pd.CategoricalDtype) and list(got.categories[:4]) == list(schema.STATUSES)
        else:
            ok = got == want
        if not ok:
            problems.append(f"column {name} has dtype {got}, not {want}")


def _check_frame(plan, sim, df, caught, stats, problems):
    """The invariants of a successful load; returns the number of rows lost."""
    ids = df["upload_id"].tolist()
    if any(not isinstance(i, str) for i in ids):
        problems.append("a row without an upload_id")
    dupes = len(ids) - len(set(ids))
    stats["duplicates"] += dupes
    if dupes:
        problems.append(f"{dupes} duplicate upload_id(s)")
    got = set(ids)
    lost = set(sim.persistent_ids()) - got
    flagged = df.attrs.get("consistent") is False
    if lost and flagged:
        # Documented: a listing that kept changing for max_passes passes is returned with
        # attrs["consistent"] False and an InconsistentListingWarning; it may miss sessions.
        stats["rows_missing_from_flagged_frames"] += len(lost)
    elif lost:
        problems.append(f"{len(lost)} session(s) that existed throughout are missing from a frame that claims "
                        f"consistency, e.g. {sorted(lost)[:3]}")
    foreign = got - set(sim.initial_ids) - set(sim.added_ids)
    if foreign:
        problems.append(f"{len(foreign)} id(s) the simulator never listed, e.g. {sorted(foreign)[:3]}")
    expected_cols = schema.columns("listing") + schema.columns("derived")
    if plan.with_progress:
        expected_cols += schema.columns("progress")
    if list(df.columns) != expected_cols:
        problems.append(f"columns {list(df.columns)} are not the schema's {expected_cols}")
    _check_dtypes(df, problems)
    if len(df):
        created = df["created_at"].array.as_unit("ns").asi8
        expires = df["expires_at"].array.as_unit("ns").asi8
        rows = zip(ids, df["status"].astype(object), df["total_size"].astype(object), df["chunk_size"].astype(object),
                   df["total_chunks"].astype(object), created.tolist(), expires.tolist())
        for row in rows:
            if row[0] in sim.history and row not in sim.history[row[0]]:
                problems.append(f"row {row} is none of the states the simulator had: {sim.history[row[0]]}")
                break
    kinds = {type(w.message) for w in caught}
    if kinds - {InconsistentListingWarning}:
        problems.append(f"unexpected warnings: {[str(w.message) for w in caught]}")
    warned = InconsistentListingWarning in kinds
    if df.attrs.get("consistent") is not (not warned):
        problems.append(f"attrs['consistent'] is {df.attrs.get('consistent')!r} but a warning was "
                        f"{'' if warned else 'not '}emitted")
    stats["inconsistent_warnings"] += warned
    stats["passes>1"] += df.attrs.get("passes", 1) > 1
    if plan.with_progress:
        # A "slow" listing request applies its churn when it finally runs, which can be while
        # progress is read: a removed session may have answered its status before it went.
        removed = set(sim.removed_ids)
        for row in df.itertuples(index=False):
            rec = sim.progress_records[row.upload_id]
            if pd.isna(row.vanished):
                problems.append(f"{row.upload_id}: vanished is null")
                break
            if bool(row.vanished):
                if row.upload_id not in removed or not pd.isna(row.uploaded_size):
                    problems.append(f"{row.upload_id} is marked vanished but the simulator still has it, "
                                    f"or its progress is not null")
                    break
                continue
            want = (rec["uploaded_size"], rec["chunks_completed"], rec["chunks_failed"],
                    rec["total_chunks"] - rec["chunks_completed"] - rec["chunks_failed"], _ns(rec["updated_at"]))
            have = (row.uploaded_size, row.chunks_completed, row.chunks_failed, row.chunks_pending,
                    row.last_activity.value)
            if have != want:
                problems.append(f"progress of {row.upload_id} is {have}, the simulator says {want}")
                break
    return 0 if flagged else len(lost)


def _check_chunks(sim, upload_id, chunks, problems):
    rec = sim.progress_records[upload_id]
    want = chunk_states(rec)
    if chunks["index"].tolist() != list(range(1, len(want) + 1)):
        problems.append(f"load_chunks({upload_id}) returned indexes {chunks['index'].tolist()[:5]}... "
                        f"for {len(want)} chunks")
    elif chunks["status"].astype(object).tolist() != want:
        problems.append(f"load_chunks({upload_id}) statuses differ from the simulator's")
    if str(chunks["index"].dtype) != "Int64" or str(chunks["uploaded_at"].dtype) != "datetime64[ns, UTC]":
        problems.append(f"load_chunks dtypes {dict(chunks.dtypes)}")


def _one_load(plan, stats, failures):
    uploads = generate_uploads(plan.n, seed=plan.seed, now=NOW)
    sim = RecordingSimulator(uploads, host=plan.host, faults=plan.faults, fault_kinds=plan.fault_kinds,
                             slow_seconds=SLOW_SECONDS, churn=plan.churn, churn_limit=plan.churn_limit,
                             rate_limit=plan.rate_limit, seed=plan.seed).start()
    problems = []
    try:
        if plan.inject:
            sim.inject(*plan.inject)
        client = UploadsClient(sim.api_key, base_url=sim.base_url, page_limit=plan.page_limit,
                               max_workers=plan.max_workers, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                               max_retries=plan.max_retries, backoff=BACKOFF, backoff_max=BACKOFF_MAX,
                               max_retry_after=MAX_RETRY_AFTER, max_passes=plan.max_passes, progress=False)
        target = {}

        def load():
            with client:
                df = client.load(as_of=NOW, with_progress=plan.with_progress)
                if plan.chunks and len(df):
                    target["id"] = random.Random(plan.seed).choice(sorted(set(df["upload_id"]) - set(sim.removed_ids))
                                                                   or [None])
                    if target["id"] is not None:
                        target["chunks"] = client.load_chunks(target["id"])
                return df

        outcome, value, caught, elapsed = _run_in_thread(load, plan.budget())
        stats["seconds_max"] = max(stats["seconds_max"], round(elapsed, 2))
        if outcome == "hang":
            problems.append(f"still running after its budget of {plan.budget():.0f} s")
        elif outcome == "error":
            if isinstance(value, TLAnalyticsError):
                stats["typed_errors"][type(value).__name__] += 1
            else:
                problems.append(f"untyped {type(value).__name__}: {value}")
                stats["untyped_errors"][type(value).__name__] += 1
        else:
            stats["rows_lost"] += _check_frame(plan, sim, value, caught, stats, problems)
            stats["ok"] += 1
            stats["rows"] += len(value)
            stats["with_progress"] += plan.with_progress
            if "chunks" in target:
                _check_chunks(sim, target["id"], target["chunks"], problems)
                stats["chunk_loads"] += 1
    finally:
        sim.stop()
    for _, _, status, fault in sim.request_log:
        if fault:
            stats["faults_by_kind"][fault] += 1
        elif status == 429:
            stats["faults_by_kind"]["429 (rate limit)"] += 1
    stats["requests"] += len(sim.request_log)
    stats["churn_changes"] += len(sim.removed_ids) + len(sim.added_ids) + len(sim.expired_ids)
    stats["loads"] += 1
    if problems:
        failures.append((plan, problems))


def _new_stats():
    stats = collections.Counter()
    stats.update(seconds_max=0.0)
    for key in ("typed_errors", "untyped_errors", "faults_by_kind"):
        stats[key] = collections.Counter()
    return stats


def _run_seeds(seeds):
    """Run the loads of ``seeds`` one after another (in a worker process): ``(stats, failures)``."""
    stats, failures = _new_stats(), []
    for seed in seeds:
        _one_load(Plan.draw(seed), stats, failures)
    return stats, failures


def _merge(total, part):
    for key, value in part.items():
        if key == "seconds_max":
            total[key] = max(total[key], value)
        elif isinstance(value, collections.Counter):
            total[key].update(value)
        else:
            total[key] += value


def test_fault_soak(reliability_stats, soak_loads):
    loads = soak_loads or DEFAULT_LOADS
    stats = _new_stats()
    failures = []
    started = time.monotonic()
    batches = [range(first, min(first + BATCH, loads)) for first in range(0, loads, BATCH)]
    # spawn, not fork: the test process has threads (simulators, pools) that a fork would copy mid-flight
    with ProcessPoolExecutor(PROCESSES, mp_context=multiprocessing.get_context("spawn")) as pool:
        for part, failed in pool.map(_run_seeds, batches):
            _merge(stats, part)
            failures += failed
    failures.sort(key=lambda f: f[0].seed)
    summary = {k: (dict(sorted(v.items())) if isinstance(v, collections.Counter) else v) for k, v in stats.items()}
    summary.setdefault("rows_missing_from_flagged_frames", 0)
    summary["seconds"] = round(time.monotonic() - started, 1)
    summary["failed_loads"] = len(failures)
    reliability_stats["soak"] = summary
    details = "\n".join(f"seed {p.seed}: {'; '.join(msgs)}\n    plan: {asdict(p)}" for p, msgs in failures[:12])
    assert not failures, f"{len(failures)} of {loads} loads broke an invariant:\n{details}"
    # The run exercised what it claims to: every fault kind, churn, both outcomes.
    assert set(FAULT_KINDS) <= set(stats["faults_by_kind"]), stats["faults_by_kind"]
    assert stats["churn_changes"] > 0 and stats["passes>1"] > 0 and stats["inconsistent_warnings"] > 0
    assert stats["ok"] > loads // 2 and sum(stats["typed_errors"].values()) > 0
    assert stats["with_progress"] > 0 and stats["chunk_loads"] > 0
    assert stats["rows_lost"] == 0 and stats["duplicates"] == 0
