"""Test data built one way: API-shaped listing items and status bodies from simulator sessions, and frames.

Every frame a test needs goes through the real pure code (``build_frame``,
``join_progress``), so no test re-implements a derived column.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from tlanalytics.errors import MalformedItemWarning
from tlanalytics.frame import build_frame, join_progress
from tlanalytics.schema import LISTING_FIELDS, columns, dtype_of


def listing_items(sessions):
    """The listing items of simulator sessions (what ``GET /assets/multipart-uploads`` returns per item)."""
    return [{k: s[k] for k in LISTING_FIELDS} for s in sessions]


def status_body(session):
    """The body of ``GET /assets/multipart-uploads/{id}`` for a simulator session (its progress fields)."""
    return {"uploaded_size": session["uploaded_size"], "chunks_completed": session["chunks_completed"],
            "chunks_failed": session["chunks_failed"],
            "chunks_pending": session["total_chunks"] - session["chunks_completed"] - session["chunks_failed"],
            "updated_at": session["updated_at"]}


def frame_of(sessions, as_of, *, with_progress=False):
    """The frame ``load_uploads`` would give for these simulator sessions at ``as_of`` (without I/O)."""
    df = build_frame(listing_items(sessions), as_of=as_of)
    if with_progress:
        df = join_progress(df, {s["upload_id"]: status_body(s) for s in sessions}, as_of=as_of)
    return df


def _json_value(name, value):
    """A record's value as JSON gives it: moments as the API writes them (``Z``), numpy scalars as Python ones."""
    if value is not None and name in ("created_at", "expires_at"):
        return pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.item() if isinstance(value, np.generic) else value


def frame_of_records(records, as_of, *, with_progress=False):
    """A frame from hand-made records, for view tests that pick every value.

    ``records`` are dicts with the listing fields (``created_at`` and
    ``expires_at`` as anything ``pd.Timestamp`` takes); listing and derived
    columns come from :func:`build_frame` (malformed values become nulls as
    they would from the API). With ``with_progress``, the records also give
    ``uploaded_size``, ``stalled`` and ``at_risk``, set as given (a view test
    chooses which sessions are flagged), ``progress`` is
    ``uploaded_size / total_size`` and the other progress columns are null.
    """
    records = list(records)
    items = [{k: _json_value(k, r.get(k)) for k in LISTING_FIELDS} for r in records]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MalformedItemWarning)
        df = build_frame(items, as_of=as_of)
    if with_progress:
        for name in columns("progress"):
            df[name] = pd.Series(index=df.index, dtype=dtype_of(name))
        df["uploaded_size"] = pd.array([r.get("uploaded_size") for r in records], dtype="Int64")
        df["progress"] = (df["uploaded_size"] / df["total_size"]).astype("float64")
        df["stalled"] = pd.array([r.get("stalled") for r in records], dtype="boolean")
        df["at_risk"] = pd.array([r.get("at_risk") for r in records], dtype="boolean")
    return df


def draw_history_rows(draw, snaps, *, sessions, created_hours, life_hours,
                      statuses=("active", "completed", "failed", "expired", "paused")):
    """Rows of a random snapshot history over ``snaps``, drawn with hypothesis' ``draw``.

    Up to ``sessions`` sessions, each created ``created_hours`` (a range) after
    the first snapshot, expiring 1 to ``life_hours`` hours later or never;
    each is seen or not in every snapshot (so it vanishes and reappears) with
    any status, size and progress (statuses in any order, ``paused`` unknown).
    """
    from hypothesis import strategies as st

    rows = []
    for i in range(draw(st.integers(0, sessions))):
        created = snaps[0] + draw(st.integers(*created_hours)) * pd.Timedelta(hours=1)
        life = draw(st.one_of(st.none(), st.integers(1, life_hours)))
        expires = None if life is None else created + life * pd.Timedelta(hours=1)
        for at in snaps:
            if draw(st.booleans()):
                rows.append({"snapshot_at": at, "upload_id": f"u{i}", "status": draw(st.sampled_from(statuses)),
                             "total_size": draw(st.integers(1, 10**12)), "created_at": created, "expires_at": expires,
                             "uploaded_size": draw(st.one_of(st.none(), st.integers(0, 10**12)))})
    return rows
