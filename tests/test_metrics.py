"""tlanalytics.metrics against plain pandas, and every view showing the same numbers (the cross-view test).

One frame holds the awkward cases: active but past expiry, completed with a
future expiry, an unknown status, a missing expiry time, vanished rows and a
duplicated upload_id. The report, ``summary --json``, ``check``, the
explorer and ``overview`` must each show exactly the metrics values.
"""

from __future__ import annotations

import json
import re
import warnings
from html.parser import HTMLParser

import pandas as pd
import pytest

from tlanalytics import metrics
from tlanalytics._units import format_bytes
from tlanalytics.cli import main
from tlanalytics.errors import InvalidArgumentError
from tlanalytics.frame import build_frame, empty_frame, join_progress
from tlanalytics.plots import overview
from tlanalytics.simulator import Simulator, generate_uploads

from _data import listing_items, status_body

AS_OF = pd.Timestamp("2025-12-01T12:00:00Z")
TERMINAL = ("completed", "failed", "expired")


def _at(hours):
    return None if hours is None else (AS_OF + pd.Timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def awkward_sessions():
    """Generated sessions, the first few bent into the awkward cases."""
    sessions = generate_uploads(120, seed=3, now=AS_OF)
    bends = [("active", 0.5), ("active", -0.2), ("completed", 5), ("paused", 3), ("failed", 10), ("expired", -2),
             ("active", 20), ("active", 0.8)]
    for s, (status, expires) in zip(sessions, bends):
        s["status"], s["expires_at"] = status, _at(expires)
        s["created_at"] = _at(-20)
    return sessions


@pytest.fixture(scope="module")
def awkward():
    sessions = awkward_sessions()
    items = listing_items(sessions)
    items[7]["expires_at"] = None  # an active session without an expiry time
    items.append(dict(items[3]))  # a duplicated upload_id (the unknown status one)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the missing expires_at is reported as a MalformedItemWarning
        df = build_frame(items, as_of=AS_OF)
    statuses = {s["upload_id"]: status_body(s) for s in sessions}
    statuses[sessions[6]["upload_id"]] = None  # vanished: listed, then 404 on its status
    statuses[sessions[10]["upload_id"]] = None
    df = join_progress(df, statuses, as_of=AS_OF)
    df.attrs.update(base_url="http://127.0.0.1:9/v1.3", pages=3, requests=3, consistent=True)
    return df


# --- plain pandas ----------------------------------------------------------------------

def plain(df):
    status = df["status"].astype(object)
    past = (df["expires_at"] <= AS_OF).fillna(False).astype(bool)
    opened = ~status.isin(TERMINAL) & ~past
    left = df["expires_at"] - AS_OF
    flag = {c: df[c].fillna(False).astype(bool) for c in ("stalled", "at_risk")}
    soon = opened & (left > pd.Timedelta(0)).fillna(False) & (left <= pd.Timedelta(hours=1)).fillna(False)
    return {"open": opened, "past": past, "soon": soon, "stalled": opened & flag["stalled"],
            "at_risk": opened & flag["at_risk"], "status": status}


def test_awkward_frame_has_every_awkward_case(awkward):
    p = plain(awkward)
    assert (p["past"] & (p["status"] == "active")).sum() >= 1
    assert ((p["status"] == "completed") & ~p["past"]).sum() >= 1
    assert (p["status"] == "paused").sum() == 2 and awkward["upload_id"].duplicated().sum() == 1
    assert awkward["expires_at"].isna().sum() == 1 and awkward["vanished"].fillna(False).sum() == 2


def test_summarize_matches_plain_pandas(awkward):
    s, p = metrics.summarize(awkward), plain(awkward)
    size = awkward["total_size"].astype("int64")
    assert s.sessions == len(awkward) and s.total_bytes == int(size.sum())
    assert s.open == int(p["open"].sum()) and s.open_bytes == int(size[p["open"]].sum())
    assert s.past_expiry == int(p["past"].sum())
    assert s.active_past_expiry == int((p["past"] & ~p["status"].isin(TERMINAL)).sum()) >= 1
    assert s.status_counts["expired"] == int((p["status"] == "expired").sum())
    assert s.past_expiry != s.status_counts["expired"]  # the two populations differ, and both are named
    assert s.expiring_1h == int(p["soon"].sum()) >= 1
    assert s.failed == int((p["status"] == "failed").sum()) and s.completed == int((p["status"] == "completed").sum())
    assert s.stalled == int(p["stalled"].sum()) and s.at_risk == int(p["at_risk"].sum())
    attention = p["soon"] | p["stalled"] | p["at_risk"]
    assert s.attention == int(attention.sum()) and s.attention_bytes == int(size[attention].sum())
    known = p["open"] & awkward["uploaded_size"].notna()
    up = awkward["uploaded_size"].astype("Int64")
    assert s.uploaded_bytes == int(up[known].sum())
    assert s.bytes_to_upload == int((size[known] - up[known]).clip(lower=0).sum())
    assert s.vanished == 2 and s.duplicate_ids == 1 and s.has_progress
    assert s.status_counts["paused"] == 2  # an unknown status is kept and counted as open
    assert sum(s.status_counts.values()) == s.sessions


def test_summary_without_progress_and_empty():
    s = metrics.summarize(empty_frame())
    assert s.sessions == s.open == s.attention == 0 and s.stalled is None and not s.has_progress
    with pytest.raises(InvalidArgumentError, match="DataFrame"):
        metrics.summarize([1])
    with pytest.raises(InvalidArgumentError, match="time_to_expiry"):
        metrics.summarize(pd.DataFrame({"status": ["active"], "total_size": [1]}))


def test_summarize_as_of_recomputes(awkward):
    later = metrics.summarize(awkward, as_of=AS_OF + pd.Timedelta(hours=1))
    assert later.as_of == AS_OF + pd.Timedelta(hours=1)
    assert later.past_expiry > metrics.summarize(awkward).past_expiry  # the 0.5 h one has expired


@pytest.mark.parametrize("within", [0, -1, float("nan"), "soon"])
def test_expiring_mask_rejects_bad_windows(awkward, within):
    with pytest.raises(InvalidArgumentError, match="within"):
        metrics.expiring_mask(awkward, within)


def test_evaluate_check_names_threshold_value_and_flag(awkward):
    s = metrics.summarize(awkward)
    result = metrics.evaluate_check(awkward, max_expiring=0, max_failed=0, max_stuck_bytes=1)
    assert not result.ok and len(result.reasons) == 3
    expiring, failed, stuck = result.reasons
    assert f"{s.expiring_1h:,} open session" in expiring and "--max-expiring" in expiring and "--within" in expiring
    assert f"{s.failed:,} failed session" in failed and "the 0 allowed by --max-failed" in failed
    stuck_bytes = int(awkward.loc[metrics.stuck_mask(awkward), "total_size"].sum())
    assert f"({stuck_bytes:,} bytes)" in stuck and "--max-stuck-bytes" in stuck
    ok = metrics.evaluate_check(awkward, max_expiring=10**6)
    assert ok.ok and ok.reasons == () and "(allowed: 1,000,000, --max-expiring)" in ok.figures[0]


def test_plurals_in_check():
    df = build_frame([{"upload_id": "u1", "status": "failed", "total_size": 10, "chunk_size": 5, "total_chunks": 2,
                       "created_at": _at(-1), "expires_at": _at(5)}], as_of=AS_OF)
    (reason,) = metrics.evaluate_check(df, max_failed=0).reasons
    assert reason.startswith("1 failed session,")


def test_do_now_is_open_sessions_most_urgent_first(awkward):
    top = metrics.do_now(awkward, 5)
    p = plain(awkward)
    assert p["open"][top.index].all()
    urgent = (p["soon"] | p["stalled"] | p["at_risk"])[top.index].to_numpy()
    assert list(urgent) == sorted(urgent, reverse=True)  # attention first
    rate = top["bytes_to_upload"].astype(float) / top["time_to_expiry"].dt.total_seconds()
    pd.testing.assert_series_equal(top["required_rate"], rate, check_names=False)


# --- the cross-view test ------------------------------------------------------------------

class _Cells(HTMLParser):
    """Texts of elements by id, and table cells by table id."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.by_id, self.tables, self._stack, self._table, self._cell = {}, {}, [], None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = attrs.get("id")
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        if attrs.get("id"):
            self._stack.append([attrs["id"], tag, []])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        if self._stack and self._stack[-1][1] == tag:
            eid, _, parts = self._stack.pop()
            self.by_id[eid] = "".join(parts)

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        for entry in self._stack:
            entry[2].append(data)


def _tiles(html):
    return dict(re.findall(r"<li><b>([^<]+)</b><span>([^<]+)</span></li>", html))


def test_every_view_shows_the_metrics_values(awkward, tmp_path):
    from tlanalytics.reporting import report
    from tlanalytics.widgets import Explorer

    s = metrics.summarize(awkward)
    # the report
    text = report(awkward, tmp_path / "r.html").read_text(encoding="utf-8")
    page = _Cells(text)
    tiles = _tiles(text)
    assert tiles["Open sessions"] == f"{s.open:,}" and tiles["Need attention now"] == f"{s.attention:,}"
    assert tiles["At risk"] == f"{s.at_risk:,}" and tiles["Stalled"] == f"{s.stalled:,}"
    assert tiles["Expiring within 1 h"] == f"{s.expiring_1h:,}" and tiles["Failed"] == f"{s.failed:,}"
    assert tiles["Bytes at stake"] == format_bytes(s.attention_bytes)
    assert tiles["Still to upload (open)"] == format_bytes(s.bytes_to_upload)
    assert (f"{s.sessions:,} upload sessions listed as of 2025-12-01 12:00 UTC: {s.open:,} open, "
            f"{s.past_expiry:,} past expiry, {s.completed:,} completed, {s.failed:,} failed") in page.by_id["subtitle"]
    status_rows = {r[0]: r[1] for r in page.tables["status"][1:]}
    assert status_rows == {**{k: f"{v:,}" for k, v in s.status_counts.items()}, "all": f"{s.sessions:,}"}
    assert len(page.tables["do-now"]) - 1 == min(20, s.open)
    assert len(page.tables["failed"]) - 1 == min(20, s.failed)
    assert f"{s.active_past_expiry:,} session" in text and f"{s.past_expiry:,} are past expiry" in text
    # check (the CLI's thresholds, in the library)
    result = metrics.evaluate_check(awkward, max_expiring=0, max_failed=0)
    assert result.reasons[0].startswith(f"{s.expiring_1h:,} open session")
    assert result.reasons[1].startswith(f"{s.failed:,} failed session")
    # the explorer
    ex = Explorer(awkward)
    for key in ("sessions", "total_bytes", "open", "expiring_1h", "expiring_6h", "failed", "uploaded_bytes",
                "at_risk", "stalled"):
        assert ex.summary[key] == s[key], key
    line = ex._summary_html.value
    assert f"<b>{s.open:,}</b> open" in line and f"<b>{s.at_risk:,}</b> at risk" in line
    static = ex._static_bundle()["text/html"]
    assert f"<td>{s.expiring_1h:,}</td>" in static and f"<td>{s.stalled:,}</td>" in static
    # overview: titles and legends
    fig = overview(awkward)

    def axes(prefix):
        (found,) = [ax for ax in fig.axes if ax.get_title().startswith(prefix)]
        return found

    assert f"of {s.open:,} open sessions" in axes("Time left").get_title()
    notes = [t.get_text() for t in axes("Sessions and bytes by status").texts]
    for status, n in s.status_counts.items():
        assert any(t.startswith(f"{n:,} (") for t in notes), status
    legend = [t.get_text() for t in axes("Time to expiry").get_legend().get_texts()]
    no_expiry = int((metrics.open_mask(awkward) & awkward["time_to_expiry"].isna()).sum())
    assert f"open ({s.open - no_expiry:,})" in legend and no_expiry == 1
    assert any(t.startswith(f"past expiry, any status ({s.past_expiry:,}") for t in legend)
    progress = [t.get_text() for t in axes("Upload progress").get_legend().get_texts()]
    assert f"stalled ({s.stalled:,})" in progress


def test_cli_summary_json_and_check_show_the_metrics_values(capsys):
    """The CLI against a loopback simulator serving the awkward sessions; metrics on the same load."""
    from tlanalytics.client import add_progress, load_uploads

    sessions = awkward_sessions()
    with Simulator(sessions) as sim:
        df = load_uploads(sim.api_key, base_url=sim.base_url, as_of=AS_OF, progress=False)
        df = add_progress(df, only=metrics.open_mask(df), api_key=sim.api_key, base_url=sim.base_url, progress=False)
        s = metrics.summarize(df)
        argv = ["--base-url", sim.base_url, "--as-of", AS_OF.isoformat(), "--quiet"]
        monkey_env = {"TWELVELABS_API_KEY": sim.api_key}
        import os

        saved = {k: os.environ.get(k) for k in monkey_env}
        os.environ.update(monkey_env)
        try:
            assert main(["summary", "--json", "--with-progress", *argv]) == 0
            got = json.loads(capsys.readouterr().out)
            assert main(["check", "--max-failed", "0", "--max-stuck-bytes", "1", "--with-progress", *argv]) == 1
            line = capsys.readouterr().out.strip()
        finally:
            for k, v in saved.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    for key in ("sessions", "total_bytes", "open", "open_bytes", "past_expiry", "active_past_expiry", "failed",
                "completed", "expiring_1h", "expiring_1h_bytes", "attention", "attention_bytes", "stalled", "at_risk",
                "uploaded_bytes", "bytes_to_upload", "status_counts"):
        assert got[key] == s[key], key
    assert got["active_past_expiry"] >= 1 and got["status_counts"]["paused"] == 1
    expected = metrics.evaluate_check(df, max_failed=0, max_stuck_bytes=1)
    assert line == "FAIL: " + "; ".join(expected.reasons)
    assert f"{s.failed:,} failed sessions, more than the 0 allowed by --max-failed" in line


def test_add_progress_only_reads_the_masked_rows():
    from tlanalytics.client import add_progress, load_uploads

    with Simulator(generate_uploads(60, seed=4, now=AS_OF)) as sim:
        df = load_uploads(sim.api_key, base_url=sim.base_url, as_of=AS_OF, progress=False)
        opened = metrics.open_mask(df)
        before = sim.requests
        out = add_progress(df, only=opened, api_key=sim.api_key, base_url=sim.base_url, progress=False)
        assert sim.requests - before == int(opened.sum()) > 0
        for bad in (opened.to_numpy()[:-1], True, ["yes"] * len(df)):
            with pytest.raises(InvalidArgumentError, match="one value per row"):
                add_progress(df, only=bad, api_key=sim.api_key, base_url=sim.base_url, progress=False)
    assert out["uploaded_size"].notna().to_numpy().tolist() == opened.to_numpy().tolist()
    assert out.loc[~opened, "vanished"].isna().all()
    assert metrics.summarize(out).progress_known == int(opened.sum())


def test_a_frame_without_vanished_has_progress_in_every_view(awkward, tmp_path):
    from tlanalytics.reporting import report
    from tlanalytics.widgets import Explorer

    df = awkward.drop(columns="vanished")
    s = metrics.summarize(df)
    assert s.has_progress and s.vanished == 0
    assert Explorer(df).summary["at_risk"] == s.at_risk
    assert _tiles(report(df, tmp_path / "r.html").read_text(encoding="utf-8"))["At risk"] == f"{s.at_risk:,}"
