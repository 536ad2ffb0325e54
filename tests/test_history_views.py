"""Views of the history: plots, the Trends section (in Chromium), the History tab and the CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import _browser
import tlanalytics as tla
from tlanalytics.errors import InvalidArgumentError

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-03-31T00:00:00Z"


@pytest.fixture(scope="module")
def history():
    return tla.generate_history(days=6, seed=4, now=NOW, per_day=120)


@pytest.fixture(scope="module")
def outcomes(history):
    return tla.session_outcomes(history)


@pytest.fixture(scope="module")
def table(history, outcomes):
    return tla.trends(history, outcomes=outcomes)


# --- plots --------------------------------------------------------------------------

def test_plot_trends_outcomes_stacks_every_ended_session(table):
    import matplotlib.pyplot as plt

    ax = tla.plot_trends(table)
    assert ax is plt.gca()
    heights = sum(p.get_height() for p in ax.patches)
    assert heights == table[["completed", "expired", "failed", "ended_unseen"]].to_numpy().sum()
    assert [t.get_text() for t in ax.get_legend().get_texts()][1:] == ["completed", "expired", "failed",
                                                                        "ended unseen"]
    assert ax.patches[0].get_facecolor()[:3] == pytest.approx(
        tuple(int(tla.status_color("completed")[i:i + 2], 16) / 255 for i in (1, 3, 5)))


@pytest.mark.parametrize("kind", ["outcomes", "bytes", "rate"])
def test_the_legend_covers_no_data_and_names_every_line(table, kind):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    tla.plot_trends(table, kind=kind, ax=ax)
    fig.canvas.draw()
    box = ax.get_legend().get_window_extent()
    for axes in fig.axes:  # the rate panel's twin axis too
        for bar in axes.patches:
            assert not box.overlaps(bar.get_window_extent()), (kind, bar)
        for line in axes.get_lines():
            points = axes.transData.transform(line.get_xydata())
            assert not any(box.contains(x, y) for x, y in points if x == x and y == y), (kind, line.get_label())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {line.get_label() for axes in fig.axes for line in axes.get_lines()} <= set(labels)  # twin's line too


def test_plot_trends_turns_only_its_own_dates_and_keeps_the_layout_engine_quiet(table):
    import warnings

    from matplotlib.figure import Figure

    fig = Figure(layout="constrained")
    dates, other = fig.subplots(1, 2)
    other.plot([0, 1], [0, 1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tla.plot_trends(table, ax=dates)
        fig.canvas.draw()
    assert not [w for w in caught if "layout engine" in str(w.message)]  # autofmt_xdate's, on matplotlib 3.9
    assert {t.get_rotation() for t in dates.get_xticklabels()} == {30}
    assert {t.get_rotation() for t in other.get_xticklabels()} == {0} and other.get_xlabel() == ""


def test_plot_trends_bytes_and_rate(table):
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2)
    tla.plot_trends(table, kind="bytes", ax=a, alpha=0.5)
    assert sum(p.get_height() for p in a.patches) == table["bytes_wasted"].sum()
    assert a.patches[0].get_alpha() == 0.5  # kwargs reach the bars
    tla.plot_trends(table, kind="rate", ax=b)
    line = b.get_lines()[0].get_ydata()
    assert list(line[1:]) == pytest.approx(list(table["completion_rate"].to_numpy(dtype=float)[1:] * 100),
                                           nan_ok=True)


def test_plot_time_to_complete_draws_the_curve_and_marks_the_median(outcomes):
    ax = tla.plot_time_to_complete(outcomes, linewidth=3)
    curve = tla.completion_curve(outcomes)
    step = ax.get_lines()[0]
    assert step.get_linewidth() == 3
    assert step.get_ydata()[-1] == pytest.approx(curve["completed"].iloc[-1] * 100)
    median = tla.time_to_complete(outcomes).total_seconds() / 3600
    assert ax.get_lines()[1].get_xdata()[0] == pytest.approx(median)


def test_empty_data_gets_a_note(history):
    empty = history.iloc[:0].copy()
    empty.attrs = {}
    ax = tla.plot_trends(tla.trends(empty))
    assert ax.texts[0].get_text() == "no snapshots"
    import matplotlib.pyplot as plt

    plt.figure()
    ax = tla.plot_time_to_complete(tla.session_outcomes(empty))
    assert ax.texts[0].get_text() == "no completed sessions"


@pytest.mark.parametrize("call", [
    lambda t, o: tla.plot_trends(t, kind="pie"),
    lambda t, o: tla.plot_trends(o),
    lambda t, o: tla.plot_time_to_complete("x"),
    lambda t, o: tla.format_trends(o),
    lambda t, o: tla.time_to_complete(o, q=1.5),
])
def test_bad_arguments(table, outcomes, call):
    with pytest.raises(InvalidArgumentError):
        call(table, outcomes)


# --- text and HTML ---------------------------------------------------------------------

def test_format_trends(table):
    text = tla.format_trends(table)
    assert list(text.columns) == ["Period"] + list(tla.TREND_COLUMNS.values())
    assert text["Period"].iloc[-1] == table.index[-1].strftime("%Y-%m-%d")
    assert text["Created"].iloc[1] == f"{table['created'].iloc[1]:,}"
    hourly = tla.format_trends(table.head(2).set_axis(table.index[:2] + pd.Timedelta(hours=3)))
    assert hourly["Period"].iloc[0].endswith("03:00")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    reason = _browser.missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI: {reason}")
        pytest.skip(reason)
    with _browser.chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def test_report_with_trends_renders_in_chromium(browser, table, tmp_path):
    df = tla.build_frame(tla.generate_uploads(50, seed=1, now=NOW), as_of=NOW)
    path = tla.report(df, tmp_path / "report.html", trends=table)
    page = _browser.inspect(browser, path)
    images = {i["id"]: i for i in page["images"]}
    assert images["trends-plot"]["complete"] and images["trends-plot"]["width"] >= 800
    assert page["tables"]["trends"] == len(table)
    assert page["cells"]["trends"][-1] == tla.format_trends(table).iloc[-1].tolist()
    assert "Trends" in page["text"] and page["resources"] == [] and page["scripts"] == 0
    assert [e for e in page["console"] if e["level"] == "SEVERE"] == []


def test_trends_html_alone_and_empty(table):
    html = tla.trends_html(table, png=False)
    assert "data:image/png" not in html and html.count("<tr>") == len(table) + 1
    empty = tla.trends_html(table.iloc[:0])
    assert "No snapshots yet" in empty and "<table" not in empty


# --- the History tab --------------------------------------------------------------------

def test_history_tab_follows_the_period_picker(history):
    tab = tla.HistoryTab(history)
    picker, image, table_html = tab.widget.children
    assert table_html.value.count("<tr>") == len(tab.trends) + 1 == len(tla.trends(history)) + 1
    assert image.value[:4] == b"\x89PNG"
    picker.value = "h"
    assert len(tab.trends) == len(tla.trends(history, "h")) and table_html.value.count("<tr>") == len(tab.trends) + 1
    with pytest.raises(InvalidArgumentError):
        tla.HistoryTab(history, freq="fortnight")


def test_explorer_gains_a_history_tab(history):
    df = tla.build_frame(tla.generate_uploads(30, seed=1, now=NOW), as_of=NOW)
    explorer = tla.Explorer(df, history=history)
    tabs = explorer.widget.children[-1]
    assert tabs.titles[-1] == "History"
    tabs.selected_index = len(tabs.children) - 1  # showing it must not disturb the plot tabs
    assert len(tla.Explorer(df).widget.children[-1].children) == len(tabs.children) - 1


# --- the CLI -----------------------------------------------------------------------------

def cli(*args, **extra):
    """Run ``python -m tlanalytics ARGS`` without the developer's key, base URL or store, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("TWELVELABS_API_KEY", "TWELVE_LABS_API_KEY",
                                                            "TWELVELABS_BASE_URL", "TLANALYTICS_STORE")}
    env.update(PYTHONPATH=str(ROOT), MPLBACKEND="Agg", **extra)
    return subprocess.run([sys.executable, "-m", "tlanalytics", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120, stdin=subprocess.DEVNULL)


def test_snapshot_then_history_against_the_simulator(tmp_path, make_sim):
    sim = make_sim(tla.generate_uploads(120, seed=2))
    store = tmp_path / "store"
    for _ in range(2):
        proc = cli("snapshot", "--store", store, "--base-url", sim.base_url, TWELVELABS_API_KEY=sim.api_key)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Saved a snapshot of 120 sessions to ") and proc.stderr == ""
    sim.set_sessions(sim.sessions()[:100])  # 20 sessions leave the listing
    proc = cli("snapshot", "--store", store, "--with-progress", "--base-url", sim.base_url,
               TWELVELABS_API_KEY=sim.api_key)
    assert proc.returncode == 0 and sim.api_key not in proc.stdout + proc.stderr
    history = tla.load_history(store)
    last = history[history["snapshot_at"] == history["snapshot_at"].max()].reset_index(drop=True)
    is_open = tla.metrics.open_mask(tla.recompute(last, as_of=last["snapshot_at"].iloc[0]))  # the CLI reads progress of open sessions only (one request each)
    assert len(history.attrs["snapshots"]) == 3 and len(last) == 100 and 0 < is_open.sum() < 100
    assert last["uploaded_size"].notna().tolist() == is_open.tolist()
    assert history["uploaded_size"].notna().sum() == is_open.sum()
    proc = cli("history", "--store", store, "--json")
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)
    want = tla.trends(history)
    assert [r["created"] for r in records] == want["created"].tolist()
    assert [r["ended_unseen"] for r in records] == want["ended_unseen"].tolist()
    assert records[-1]["open_at_end"] == want["open_at_end"].iloc[-1]
    proc = cli("history", "--store", store)
    assert proc.returncode == 0 and proc.stdout.splitlines()[0].split()[:2] == ["Period", "Created"]
    assert len(proc.stdout.strip().splitlines()) == len(want) + 1
    proc = cli("snapshot", "--store", store, TLANALYTICS_STORE=str(tmp_path / "unused"))
    assert proc.returncode == 3 and "no API key" in proc.stderr  # no key: a configuration error, one line


def test_history_demo_and_errors(tmp_path):
    proc = cli("history", "--demo")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 32  # header + 31 days (the first and last are partial)
    proc = cli("history", "--store", tmp_path / "empty")
    assert proc.returncode == 5 and "no snapshots in" in proc.stderr and "--demo" in proc.stderr
    proc = cli("history", "--store", tmp_path, "--since", "not a time")
    assert proc.returncode == 2
    proc = cli("snapshot", "--demo", TLANALYTICS_STORE=str(tmp_path / "env-store"))
    assert proc.returncode == 0 and "env-store" in proc.stdout
    bad = next((tmp_path / "env-store").glob("day=*/*.parquet"))
    bad.write_bytes(b"not parquet")
    proc = cli("history", TLANALYTICS_STORE=str(tmp_path / "env-store"))
    assert proc.returncode == 5 and bad.name in proc.stderr and "on_damaged" in proc.stderr
    proc = cli("history", "--on-damaged", "warn", TLANALYTICS_STORE=str(tmp_path / "env-store"))
    assert proc.returncode == 5 and "warning" in proc.stderr and "no snapshots" in proc.stderr


def test_report_demo_has_thirty_days_of_trends(tmp_path, demo_report):
    html = demo_report.read_text()  # `tlanalytics report --demo`, written once per session (tests/conftest.py)
    start = html.index('<table id="trends">')
    assert 'id="trends-section"' in html and html.count("<tr>", start, html.index("</table>", start)) == 32
    proc = cli("report", "--demo", "--no-progress", "--listing-only", "-o", tmp_path / "s",
               "--store", tmp_path / "nothing")
    assert proc.returncode == 0 and "No snapshots yet" in (tmp_path / "s" / "report.html").read_text()
