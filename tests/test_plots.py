"""Tests of tlanalytics.plots and tlanalytics._units: assertions on artists, not images."""

from __future__ import annotations

import inspect
import math
import re
from datetime import timedelta

import matplotlib.pyplot as plt

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from tlanalytics import plots
from tlanalytics._units import format_bytes, format_duration, format_utc
from tlanalytics.errors import InvalidArgumentError
from tlanalytics.plots import (
    STATUS_COLORS,
    overview,
    plot_chunk_configurations,
    plot_expiry_distribution,
    plot_expiry_timeline,
    plot_progress,
    plot_size_distribution,
    plot_status_breakdown,
    status_color,
)
from tlanalytics.schema import columns, dtype_of

from _data import frame_of_records, listing_items

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
AS_OF = pd.Timestamp("2025-06-01 12:00", tz="UTC")


# --- frames built by hand -------------------------------------------------

def make_frame(records, *, as_of=AS_OF, with_progress=False):
    """An uploads frame through the real frame code (see :func:`_data.frame_of_records`)."""
    df = frame_of_records(records, as_of, with_progress=with_progress)
    for name in columns("listing") + columns("derived") + (columns("progress") if with_progress else []):
        assert str(df[name].dtype) == str(dtype_of(name)), name
    return df


def random_records(n, *, seed=0, as_of=AS_OF):
    """Plausible sessions: log-normal sizes, platform chunk sizes, 24 h lifetimes, mixed statuses."""
    rng = np.random.default_rng(seed)
    sizes = np.clip(rng.lognormal(math.log(150 * MiB), 1.6, n), 1_000_000, 10 * GiB).astype(np.int64)
    chunks = np.where(sizes < GiB, 5 * MiB, np.where(sizes < 4 * GiB, 10 * MiB, 25 * MiB))
    created = as_of - pd.to_timedelta(rng.uniform(60, 30 * 3600, n), unit="s").round("s")
    lifetime = pd.to_timedelta(rng.choice([24, 8, 48, 12], n, p=[0.85, 0.08, 0.04, 0.03]), unit="h")
    expires = created + lifetime
    alive = rng.choice(["active", "failed", "completed"], n, p=[0.86, 0.08, 0.06])
    status = np.where(expires <= as_of, "expired", alive)
    done = np.where(status == "completed", 1.0, rng.beta(1.2, 1.6, n))
    stalled = (rng.random(n) < 0.2) & (status == "active")
    at_risk = (rng.random(n) < 0.15) & (status == "active")
    return [
        {"upload_id": f"{rng.integers(0, 2**63):016x}{i:08x}", "status": status[i], "total_size": int(sizes[i]),
         "chunk_size": int(chunks[i]), "total_chunks": int(-(-sizes[i] // chunks[i])), "created_at": created[i],
         "expires_at": expires[i], "uploaded_size": int(sizes[i] * done[i]), "stalled": bool(stalled[i]),
         "at_risk": bool(at_risk[i])}
        for i in range(n)
    ]


def rec(upload_id="u", status="active", size=10 * MiB, chunk=5 * MiB, chunks=None, created=-2, expires=22, **extra):
    """One record; ``created``/``expires`` are hours relative to AS_OF."""
    if chunks is None and size is not None and chunk:
        chunks = -(-size // chunk)
    return {"upload_id": upload_id, "status": status, "total_size": size, "chunk_size": chunk, "total_chunks": chunks,
            "created_at": AS_OF + pd.Timedelta(hours=created),
            "expires_at": None if expires is None else AS_OF + pd.Timedelta(hours=expires), **extra}


@pytest.fixture(scope="module")
def frame():
    records = random_records(300, seed=1)
    # Edge cases every plot must survive: a failed and an unknown status, a
    # zero-size upload, a missing size and an inconsistent chunk count.
    records[0]["status"] = "failed"
    records[1]["status"] = "paused"
    records[2].update(total_size=0, total_chunks=0)
    records[3]["total_size"] = None
    records[4]["total_chunks"] += 1
    return make_frame(records, with_progress=True)


@pytest.fixture
def ax():
    return Figure().add_subplot()


def draw(ax):
    ax.figure.canvas.draw()
    return ax


def ticklabels(axis):
    return [t.get_text() for t in axis.get_ticklabels() if t.get_text()]


def heights(container):
    return np.array([p.get_height() for p in container])


def label_of(container):
    """The legend label of a hist/bar container (matplotlib puts it on the first patch)."""
    return container.patches[0].get_label()


def container(ax, prefix):
    found = [c for c in ax.containers if label_of(c).startswith(prefix)]
    assert len(found) == 1, [label_of(c) for c in ax.containers]
    return found[0]


ALL_PLOTS = [plot_size_distribution, plot_chunk_configurations, plot_expiry_distribution, plot_expiry_timeline,
             plot_status_breakdown, plot_progress]


# --- _units ---------------------------------------------------------------

@pytest.mark.parametrize("value, text", [
    (0, "0 B"), (1, "1 B"), (1023, "1023 B"), (1024, "1 KiB"), (1536, "1.5 KiB"), (5 * MiB, "5 MiB"),
    (1.5 * GiB, "1.5 GiB"), (np.int64(10 * GiB), "10 GiB"), (1024**4, "1 TiB"), (MiB - 60, "1023.9 KiB"),
    (MiB - 1, "1 MiB"),  # rounds up to the next unit rather than "1024 KiB"
    (-1.5 * GiB, "-1.5 GiB"), (-1023, "-1023 B"),
    (None, "n/a"), (np.nan, "n/a"), (pd.NA, "n/a"), (math.inf, "n/a"),
])
def test_format_bytes(value, text):
    assert format_bytes(value) == text


def test_format_bytes_precision():
    assert format_bytes(1.234 * MiB, precision=2) == "1.23 MiB"
    assert format_bytes(1.234 * MiB, precision=0) == "1 MiB"


@pytest.mark.parametrize("value, text", [
    (0, "0 s"), (0.5, "0.5 s"), (45, "45 s"), (59.6, "1 min"), (90, "1 min 30 s"),
    (pd.Timedelta(hours=1), "1 h"), (pd.Timedelta(minutes=90), "1 h 30 min"), (pd.Timedelta(seconds=7199), "2 h"),
    (pd.Timedelta(hours=23, minutes=40), "23 h 40 min"), (pd.Timedelta(hours=27), "1 d 3 h"),
    (pd.Timedelta(days=3), "3 d"), (pd.Timedelta(minutes=-90), "-1 h 30 min"),
    (timedelta(minutes=5), "5 min"), (np.timedelta64(90, "s"), "1 min 30 s"),
    (pd.NaT, "n/a"), (None, "n/a"), (np.nan, "n/a"),
])
def test_format_duration(value, text):
    assert format_duration(value) == text


def test_format_duration_rejects_strings():
    with pytest.raises(TypeError, match="timedelta"):
        format_duration("1h")


@pytest.mark.parametrize("value, text", [
    (pd.Timestamp("2025-01-01 13:00", tz="Europe/Paris"), "2025-01-01 12:00 UTC"),
    (pd.Timestamp("2025-01-01 13:00"), "2025-01-01 13:00 UTC"),
    ("2025-06-01T12:00:30Z", "2025-06-01 12:00 UTC"),
    (pd.NaT, "n/a"),
])
def test_format_utc(value, text):
    assert format_utc(value) == text


# --- colours --------------------------------------------------------------

def test_status_colors_cover_statuses_and_are_distinct():
    assert set(STATUS_COLORS) == {"active", "completed", "failed", "expired", "unknown"}
    assert len(set(STATUS_COLORS.values())) == len(STATUS_COLORS)
    assert status_color("failed") == STATUS_COLORS["failed"]
    for odd in ("paused", None, np.nan):
        assert status_color(odd) == STATUS_COLORS["unknown"]


def test_failed_has_the_same_colour_in_every_plot():
    df = make_frame([rec("a" * 24, "failed", expires=1), rec("b" * 24, "active", expires=2),
                     rec("c" * 24, "completed", expires=3)])
    want = STATUS_COLORS["failed"]

    hist = plot_size_distribution(df, ax=Figure().add_subplot())
    assert {to_hex(p.get_facecolor()) for p in container(hist, "failed").patches} == {want}

    breakdown = plot_status_breakdown(df, ax=Figure().add_subplot())
    row = [t.get_text() for t in breakdown.get_yticklabels()].index("failed")
    bar = next(p for p in breakdown.patches if abs(p.get_y() + p.get_height() / 2 - row) < 1e-9)
    assert to_hex(bar.get_facecolor()) == want
    assert to_hex(container(hist, "active").patches[0].get_facecolor()) != want


# --- plot_size_distribution -----------------------------------------------

def test_size_histogram_counts_every_known_size_per_status(frame, ax):
    plot_size_distribution(frame, ax=ax)
    known = frame[frame["total_size"].notna()]
    assert sum(p.get_height() for p in ax.patches) == len(known)
    for status, n in known["status"].value_counts().items():
        if n:
            assert heights(container(ax, f"{status} (")).sum() == n
            assert label_of(container(ax, f"{status} (")) == f"{status} ({n:,})"


def test_size_bins_are_log_spaced_and_cover_the_data(frame, ax):
    plot_size_distribution(frame, bins=25, ax=ax)
    bars = container(ax, "active").patches
    assert len(bars) == 25
    left, right = bars[0].get_x(), bars[-1].get_x() + bars[-1].get_width()
    sizes = frame["total_size"].dropna()
    assert left <= sizes[sizes > 0].min() and right >= sizes.max()
    ratios = [b.get_width() / b.get_x() for b in bars]
    assert np.allclose(ratios, ratios[0])  # equal on a log axis
    assert ax.get_xscale() == "log"


def test_size_median_and_p95_lines_sit_at_the_numpy_values(frame, ax):
    plot_size_distribution(frame, ax=ax)
    sizes = frame["total_size"].dropna().to_numpy(dtype=float)
    lines = {line.get_label().split()[0]: line for line in ax.lines}
    assert lines["median"].get_xdata()[0] == pytest.approx(np.median(sizes))
    assert lines["p95"].get_xdata()[0] == pytest.approx(np.percentile(sizes, 95))
    assert lines["median"].get_label() == f"median {format_bytes(np.median(sizes))}"


def test_size_axis_is_labelled_in_binary_units(frame, ax):
    draw(plot_size_distribution(frame, ax=ax))
    labels = ticklabels(ax.xaxis)
    assert len(labels) >= 3
    assert all(re.fullmatch(r"\d+(\.\d+)? (B|KiB|MiB|GiB|TiB)", t) for t in labels), labels
    assert "1 GiB" in labels
    assert "File size" in ax.get_xlabel() and "binary" in ax.get_xlabel()
    assert ax.get_ylabel() == "Sessions"
    assert ax.get_title().startswith("File sizes")


def test_size_missing_and_zero_sizes_are_reported_not_fatal(ax):
    df = make_frame([rec("a", size=0, chunks=0), rec("b", size=0, chunks=0), rec("c", size=5 * MiB),
                     rec("d", size=None)])
    plot_size_distribution(df, ax=ax)
    assert sum(p.get_height() for p in ax.patches) == 3
    assert ax.patches[0].get_height() == 2  # the zeros are in the first bin
    assert "1 without size" in ax.get_title() and "2 of 0 B" in ax.get_title()


def test_size_histogram_of_one_size_still_has_width(ax):
    plot_size_distribution(make_frame([rec("a", size=5 * MiB)] * 3), ax=ax)
    bars = [p for p in ax.patches if p.get_height()]
    assert len(bars) == 1 and bars[0].get_height() == 3 and bars[0].get_width() > 0


def test_size_histogram_without_status_split(frame, ax):
    plot_size_distribution(frame, by_status=False, ax=ax)
    assert len(ax.containers) == 1
    assert {to_hex(p.get_facecolor()) for p in ax.patches}.isdisjoint(STATUS_COLORS.values())
    assert sum(p.get_height() for p in ax.patches) == frame["total_size"].notna().sum()


@pytest.mark.parametrize("kwargs, message", [
    ({"by_status": "yes"}, "The value for `by_status` must be one of [True, False], but 'yes' was passed."),
    ({"bins": 0}, "The value for `bins` must be an integer of at least 1, but 0 was passed."),
    ({"bins": 2.5}, "The value for `bins` must be an integer of at least 1, but 2.5 was passed."),
])
def test_size_bad_arguments(frame, ax, kwargs, message):
    with pytest.raises(InvalidArgumentError) as info:
        plot_size_distribution(frame, ax=ax, **kwargs)
    assert str(info.value) == message


# --- plot_chunk_configurations -------------------------------------------

def test_chunk_pairs_are_one_marker_each_sized_by_count(ax):
    df = make_frame([rec("a", size=10 * MiB)] * 3 + [rec("b", size=100 * MiB, chunk=10 * MiB)])
    plot_chunk_configurations(df, ax=ax)
    (points,) = ax.collections
    pairs = {tuple(xy): s for xy, s in zip(points.get_offsets().tolist(), points.get_sizes())}
    assert set(pairs) == {(5 * MiB, 2), (10 * MiB, 10)}
    assert pairs[(5 * MiB, 2)] > pairs[(10 * MiB, 10)]
    draw(ax)
    assert ticklabels(ax.xaxis) == ["5 MiB", "10 MiB"]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "Chunk size" in ax.get_xlabel() and "binary" in ax.get_xlabel()
    assert "Chunks per session" in ax.get_ylabel() and "total_chunks" not in ax.get_ylabel()


def test_inconsistent_chunk_rows_are_drawn_apart(frame, ax):
    plot_chunk_configurations(frame, ax=ax)
    bad = frame[frame["chunks_consistent"] == False]  # noqa: E712
    assert len(bad) == 1
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "arithmetic does not add up (1)" in legend
    crosses = [c for c in ax.collections if c.get_label() != "_nolegend_" and len(c.get_offsets()) == 1
               and tuple(c.get_offsets()[0]) == (bad["chunk_size"].iloc[0], bad["total_chunks"].iloc[0])]
    assert len(crosses) == 1
    assert to_hex(crosses[0].get_facecolor()[0]) != to_hex(ax.collections[0].get_facecolor()[0])


# --- plot_expiry_distribution ---------------------------------------------

def test_expiry_histogram_splits_expired_sessions(frame, ax):
    plot_expiry_distribution(frame, ax=ax)
    tte = frame["time_to_expiry"]
    n_expired, n_left = int((tte <= pd.Timedelta(0)).sum()), int((tte > pd.Timedelta(0)).sum())
    assert heights(container(ax, "past expiry")).sum() == n_expired
    assert heights(container(ax, "open")).sum() + heights(container(ax, "finished")).sum() == n_left
    assert label_of(container(ax, "past expiry")) == f"past expiry, any status ({n_expired:,})"
    assert {to_hex(p.get_facecolor()) for p in container(ax, "past expiry").patches} == {STATUS_COLORS["expired"]}
    edges = [p.get_x() for p in ax.patches]
    assert any(abs(e) < 1e-9 for e in edges)  # as_of is a bin edge
    assert "hours" in ax.get_xlabel() and ax.get_ylabel() == "Sessions"


def test_expiry_histogram_marks_as_of(frame, ax):
    plot_expiry_distribution(frame, ax=ax)
    (line,) = ax.lines
    assert line.get_xdata()[0] == 0
    assert line.get_label() == "as of 2025-06-01 12:00 UTC"


def test_expiry_histogram_in_hours_with_long_expired_tail(ax):
    df = make_frame([rec("a", created=-300, expires=-200), rec("b", expires=10), rec("c", expires=4),
                     rec("d", expires=None)])
    plot_expiry_distribution(df, bins=10, ax=ax)
    right = max(p.get_x() + p.get_width() for p in ax.patches)
    left = min(p.get_x() for p in ax.patches)
    assert right == pytest.approx(10, abs=2.1)  # hours, not seconds or days
    assert -12.1 <= left < 0  # the 200 h old one is clipped to the left edge ...
    assert heights(container(ax, "past expiry")).sum() == 1  # ... but still counted
    assert "1 older at left edge" in label_of(container(ax, "past expiry"))
    assert "1 without expiry" in ax.get_title()


# --- plot_expiry_timeline -------------------------------------------------

def timeline_frame():
    records = [rec(f"{i:02d}" + "x" * 22, s, created=-6, expires=e) for i, (s, e) in
               enumerate([("active", 5), ("failed", 1), ("active", -1), ("completed", 3), ("expired", -5),
                          ("active", 2), ("active", 6)])]
    return make_frame(records)


@pytest.mark.parametrize("n, expected", [(2, ["05", "00"]), (20, ["05", "00", "06"])])
def test_timeline_shows_time_left_of_open_sessions_soonest_first(n, expected, ax):
    df = timeline_frame()  # failed, completed, expired and past-expiry sessions are not open
    plot_expiry_timeline(df, n=n, ax=ax)
    assert len(ax.patches) == len(expected)
    rows = sorted(ax.get_yticks(), key=lambda y: y if ax.yaxis_inverted() else -y)  # top first
    labels = {y: t.get_text() for y, t in zip(ax.get_yticks(), ax.get_yticklabels())}
    assert [labels[y][:2] for y in rows] == expected  # top to bottom
    assert labels[rows[0]] == "05xxxx…xxxx · 2 h"
    widths = sorted(p.get_width() for p in ax.patches)
    assert widths == pytest.approx([2, 5, 6][:len(expected)])  # hours left
    assert f"{len(expected)} of 3 open sessions" in ax.get_title()
    assert "Hours" in ax.get_xlabel() and "as_of" not in ax.get_xlabel()


def test_timeline_colours_at_risk_and_stalled_and_labels_progress(ax):
    df = make_frame([rec("a" * 24, expires=1, uploaded_size=10, at_risk=True, stalled=False),
                     rec("b" * 24, expires=2, uploaded_size=10, at_risk=False, stalled=True),
                     rec("c" * 24, expires=3, uploaded_size=None, at_risk=None, stalled=None)], with_progress=True)
    plot_expiry_timeline(df, ax=ax)
    colours = [to_hex(p.get_facecolor()) for p in sorted(ax.patches, key=lambda p: p.get_width())]
    legend = {h.get_label(): to_hex(h.get_facecolor()) for h in ax.get_legend().legend_handles}
    assert colours == [legend["at risk"], legend["stalled"], legend["on track or progress unknown"]]
    assert len(set(colours)) == 3
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts[-1] == "progress unknown" and all(t.endswith("% uploaded") for t in texts[:-1])


def test_timeline_with_nothing_left_to_expire(ax):
    df = make_frame([rec("a", expires=-1)])
    plot_expiry_timeline(df, ax=ax)
    assert not ax.patches
    assert [t.get_text() for t in ax.texts] == ["no open session left to expire"]


def test_timeline_rejects_bad_n(frame, ax):
    with pytest.raises(InvalidArgumentError, match=r"`n` must be an integer of at least 1, but 0 was passed"):
        plot_expiry_timeline(frame, n=0, ax=ax)


# --- plot_status_breakdown ------------------------------------------------

def test_status_breakdown_shows_counts_and_bytes(frame, ax):
    plot_status_breakdown(frame, ax=ax)
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert names == ["active", "completed", "failed", "expired", "paused"]
    widths = {names[round(p.get_y() + p.get_height() / 2)]: p.get_width() for p in ax.patches}
    counts = frame["status"].astype(str).value_counts()
    assert widths == {name: counts.get(name, 0) for name in names}
    texts = [t.get_text() for t in ax.texts]
    for name in names:
        size = frame.loc[frame["status"] == name, "total_size"].sum()
        assert any(t.startswith(f"{counts[name]:,} (") and t.endswith(format_bytes(size)) for t in texts), texts
    assert "Sessions" in ax.get_xlabel() and "binary" in ax.get_xlabel()
    assert ax.get_title() == "Sessions and bytes by status"


def test_status_breakdown_keeps_empty_documented_statuses(ax):
    plot_status_breakdown(make_frame([rec("a", "active")]), ax=ax)
    assert sorted(p.get_width() for p in ax.patches) == [0, 0, 0, 1]
    assert any(t.get_text() == "0 (0%) · 0 B" for t in ax.texts)


# --- plot_progress ---------------------------------------------------------

def test_progress_histogram_highlights_stalled_and_at_risk(frame, ax):
    plot_progress(frame, ax=ax)
    known = frame[frame["progress"].notna()]
    stalled = known["stalled"].fillna(False).astype(bool)
    risky = known["at_risk"].fillna(False).astype(bool) & ~stalled
    assert sum(p.get_height() for p in ax.patches) == len(known)
    assert heights(container(ax, "stalled")).sum() == stalled.sum() > 0
    assert heights(container(ax, "at risk")).sum() == risky.sum() > 0
    assert label_of(container(ax, "stalled")) == f"stalled ({stalled.sum()})"
    assert ax.patches[0].get_x() == 0 and ax.get_xlim() == (0, 100)
    draw(ax)
    assert "100%" in ticklabels(ax.xaxis)
    assert "%" in ax.get_xlabel() and ax.get_ylabel() == "Sessions"


def test_progress_fraction_is_shown_in_percent(ax):
    df = make_frame([rec("a", size=100, chunk=10, uploaded_size=25, stalled=False, at_risk=False)], with_progress=True)
    plot_progress(df, bins=4, ax=ax)
    assert [p.get_height() for p in container(ax, "other").patches] == [0, 1, 0, 0]


def test_progress_needs_the_progress_columns(ax):
    df = make_frame([rec("a")])
    with pytest.raises(InvalidArgumentError) as info:
        plot_progress(df, ax=ax)
    assert str(info.value) == ("The column 'progress' is missing; load with `load_uploads(..., with_progress=True)` "
                               "or call `add_progress(df)`.")


# --- behaviour shared by every plot ---------------------------------------

@pytest.mark.parametrize("plot", ALL_PLOTS)
def test_empty_frame_gives_a_note(plot, ax):
    df = make_frame([], with_progress=True)
    assert plot(df, ax=ax) is ax
    assert [t.get_text() for t in ax.texts] == ["no uploads"]
    assert ax.texts[0].get_position() == (0.5, 0.5) and ax.texts[0].get_transform() == ax.transAxes
    assert not ax.patches and not ax.collections
    assert ax.get_title()


@pytest.mark.parametrize("plot, column, hint", [
    (plot_size_distribution, "total_size", "load_uploads"),
    (plot_size_distribution, "status", "load_uploads"),
    (plot_chunk_configurations, "chunks_consistent", "recompute(df)"),
    (plot_expiry_distribution, "time_to_expiry", "recompute(df)"),
    (plot_expiry_timeline, "time_to_expiry", "build_frame"),
    (plot_status_breakdown, "total_size", "load_uploads"),
    (plot_progress, "stalled", "add_progress(df)"),
])
def test_missing_column_is_named(plot, column, hint, frame, ax):
    with pytest.raises(InvalidArgumentError) as info:
        plot(frame.drop(columns=column), ax=ax)
    assert f"The column {column!r} is missing" in str(info.value) and hint in str(info.value)


@pytest.mark.parametrize("plot", ALL_PLOTS)
def test_given_ax_is_used_and_pyplot_untouched(plot, frame, ax, monkeypatch):
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plt.show() was called"))
    before = plt.get_fignums()
    assert plot(frame, ax=ax) is ax
    assert ax.patches or ax.collections
    assert plt.get_fignums() == before


@pytest.mark.parametrize("plot", ALL_PLOTS)
def test_no_ax_means_current_axes(plot, frame):
    current = plt.figure().add_subplot()
    assert plot(frame) is current


@pytest.mark.parametrize("plot", ALL_PLOTS)
def test_kwargs_reach_matplotlib(plot, frame, ax):
    plot(frame, ax=ax, alpha=0.25)
    alphas = {a.get_alpha() for a in ax.patches + ax.collections}
    assert 0.25 in alphas


def test_titles_and_labels_everywhere(frame):
    for plot in ALL_PLOTS:
        ax = Figure().add_subplot()
        plot(frame, ax=ax)
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel(), plot.__name__


# --- overview -------------------------------------------------------------

@pytest.mark.parametrize("with_progress, panels", [(True, 6), (False, 5)])
def test_overview_is_a_figure_outside_pyplot(with_progress, panels, monkeypatch):
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plt.show() was called"))
    df = make_frame(random_records(50, seed=3), with_progress=with_progress)
    before = plt.get_fignums()
    fig = overview(df, figsize=(10, 12))
    assert isinstance(fig, Figure) and fig.canvas.manager is None
    assert plt.get_fignums() == before
    assert tuple(fig.get_size_inches()) == (10, 12)
    titles = [a.get_title() for a in fig.axes]
    assert len(fig.axes) == panels
    assert any(t.startswith("Upload progress") for t in titles) == with_progress
    assert fig.get_suptitle() == "50 upload sessions as of 2025-06-01 12:00 UTC"
    fig.canvas.draw()  # lays out without error


def test_overview_of_an_empty_frame():
    fig = overview(make_frame([]))
    assert len(fig.axes) == 5
    assert all([t.get_text() for t in a.texts] == ["no uploads"] for a in fig.axes)
    assert fig.get_suptitle().startswith("0 upload sessions")


def test_public_functions_have_numpydoc_sections():
    for name in plots.__all__:
        obj = getattr(plots, name)
        if callable(obj):
            doc = obj.__doc__ or ""
            for section in ("Parameters", "Returns", "Examples"):
                assert section in doc, (name, section)


def test_overview_of_a_frame_from_build_frame():
    """Once frame.py exists, the real frame plots too (skipped until then)."""
    frame_module = pytest.importorskip("tlanalytics.frame")
    from tlanalytics._generate import generate_uploads

    items = listing_items(generate_uploads(200, seed=5, now=AS_OF))
    df = frame_module.build_frame(items, as_of=AS_OF)
    fig = overview(df)
    assert len(fig.axes) == 5
    assert fig.get_suptitle() == "200 upload sessions as of 2025-06-01 12:00 UTC"
    breakdown = next(a for a in fig.axes if a.get_title() == "Sessions and bytes by status")
    assert sum(p.get_width() for p in breakdown.patches) == 200


def test_non_frames_are_rejected(ax):
    with pytest.raises(InvalidArgumentError, match=r"`df` must be a pandas DataFrame, but list was passed"):
        plot_status_breakdown([], ax=ax)


def test_as_of_is_inferred_when_attrs_were_lost(frame, ax):
    df = frame.copy()
    df.attrs = {}
    plot_expiry_distribution(df, ax=ax)
    assert ax.lines[0].get_label() == "as of 2025-06-01 12:00 UTC"


# --- saving cleanly ---------------------------------------------------------

@pytest.mark.parametrize("plot", ALL_PLOTS, ids=lambda f: f.__name__)
def test_a_plain_savefig_clips_no_text(plot, frame, tmp_path):
    """With no figure open, a helper makes its own (constrained) figure; saving it keeps every text inside."""
    from matplotlib.text import Text

    plt.close("all")
    ax = plot(frame)
    fig = ax.figure
    assert fig.get_layout_engine() is not None
    fig.savefig(tmp_path / "plot.png")  # a plain savefig: no bbox_inches="tight"
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    # Tick labels outside the view exist but are not drawn: the figure's tight box covers the drawn ones.
    tight = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)
    assert tight.x0 >= -1 and tight.y0 >= -1 and tight.x1 <= width + 1 and tight.y1 <= height + 1
    ticks = {id(t) for a in fig.axes for axis in (a.xaxis, a.yaxis)
             for t in axis.get_ticklabels(which="both")}
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and id(t) not in ticks]
    assert len(texts) >= 3  # title, axis labels, legend or notes
    for text in texts:
        box = text.get_window_extent(renderer)
        assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 and box.y1 <= height + 1, text.get_text()


def test_plot_docstrings_share_their_fragments():
    for plot in ALL_PLOTS:
        doc = plot.__doc__
        assert "{ax}" not in doc and "{kwargs}" not in doc and "{returns}" not in doc
        doc = inspect.getdoc(plot)  # cleaned: Python 3.13 dedents docstrings at compile time, older ones do not
        assert 'layout="constrained"' in doc and "Returns\n-------\nmatplotlib.axes.Axes" in doc
        assert "ax : matplotlib.axes.Axes, optional\n    Where to draw" in doc
