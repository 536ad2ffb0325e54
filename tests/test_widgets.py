"""Tests of tlanalytics.widgets: filter_uploads on its own, and the Explorer driven like a user would.

Widgets are driven in plain pytest (no browser): set ``.value``, call
``Button.click()``, then compare what the explorer holds, shows and writes
with an independent pandas filter of the same frame written here.
"""

from __future__ import annotations

import base64
import logging
import math
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from tlanalytics import plots, widgets
from tlanalytics.client import UploadsClient, load_uploads
from tlanalytics.errors import InvalidArgumentError
from tlanalytics.export import read_csv
from tlanalytics.simulator import Simulator, generate_uploads
from tlanalytics.filters import filter_uploads
from tlanalytics.widgets import Explorer, explore

NOW = "2025-12-01T12:00:00Z"
MiB, GiB = 1 << 20, 1 << 30
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --- data -------------------------------------------------------------------

@pytest.fixture(scope="module")
def sim():
    with Simulator(generate_uploads(300, seed=7, now=NOW)) as server:
        yield server


@pytest.fixture(scope="module")
def loaded(sim):
    """Sessions with progress, from the simulator through the real client."""
    return load_uploads(sim.api_key, base_url=sim.base_url, progress=False, as_of=NOW, with_progress=True)


@pytest.fixture
def frame(loaded):
    """``loaded`` plus a few missing sizes and statuses, which filters must handle."""
    df = loaded.copy()
    df.loc[df.index[:3], "total_size"] = pd.NA
    df.loc[df.index[3:5], "status"] = np.nan
    df.loc[df.index[5:7], "progress"] = np.nan
    return df


@pytest.fixture
def listing_only(sim):
    return load_uploads(sim.api_key, base_url=sim.base_url, progress=False, as_of=NOW)


def _independent(df, *, statuses=(), size=None, chunks=(), hours=0, progress=None, text=""):
    """The expected rows, filtered with plain pandas (not via filter_uploads)."""
    keep = pd.Series(True, index=df.index)
    if statuses:
        keep &= df["status"].astype("object").isin(list(statuses))
    if size is not None:
        keep &= df["total_size"].between(*size).fillna(False).astype(bool)
    if chunks:
        keep &= df["chunk_size"].isin(list(chunks)).fillna(False).astype(bool)
    if hours:
        left = df["time_to_expiry"].dt.total_seconds()
        keep &= (left > 0) & (left <= hours * 3600)
    if progress is not None:
        keep &= df["progress"].between(progress[0] / 100, progress[1] / 100).fillna(False).astype(bool)
    if text:
        keep &= df["upload_id"].astype(object).map(lambda u: isinstance(u, str) and text.lower() in u.lower())
    return df[keep.astype(bool)]


def _summary_of(df):
    """The explorer's summary, counted in plain pandas (the glossary's definitions)."""
    left = df["time_to_expiry"]
    status = df["status"].astype(object)
    done = status.isin(["completed", "failed", "expired"]) | df["is_expired"].fillna(False)
    opened = ~done
    alive = (left > pd.Timedelta(0)) & opened
    progress = {"uploaded_size", "progress", "stalled", "at_risk"} <= set(df.columns)

    def flagged(name):
        return int((opened & df[name].fillna(False).astype(bool)).sum()) if progress else None

    return {
        "sessions": len(df),
        "total_bytes": int(sum(int(v) for v in df["total_size"] if not pd.isna(v))),
        "open": int(opened.sum()),
        "expiring_1h": int((alive & (left <= pd.Timedelta(hours=1))).sum()),
        "expiring_6h": int((alive & (left <= pd.Timedelta(hours=6))).sum()),
        "failed": int((df["status"] == "failed").sum()),
        "uploaded_bytes": int(sum(int(v) for v, t, o in zip(df["uploaded_size"], df["total_size"], opened)
                                  if o and not pd.isna(v) and not pd.isna(t))) if progress else None,
        "at_risk": flagged("at_risk"),
        "stalled": flagged("stalled"),
    }


def _set_filters(ex, df):
    """Drive every filter to a value that keeps some rows and drops others; return the independent result."""
    ex._status.value = ("active", "failed")
    ex._size.value = (MiB, GiB)
    chunk = int(df["chunk_size"].mode()[0])
    ex._chunks.value = (chunk,)
    ex._expires.value = 20.0
    ex._progress.value = (10.0, 90.0)
    ex._id.value = "A"  # case-insensitive: ids are lower-case hex
    return _independent(df, statuses=("active", "failed"), size=(MiB, GiB), chunks=(chunk,), hours=20,
                        progress=(10, 90), text="a")


def _outputs(out):
    """The one display of an Output, as its mime bundle."""
    assert len(out.outputs) == 1
    return out.outputs[0]["data"]


# --- filter_uploads -----------------------------------------------------------

def _small():
    """Five sessions with nulls in every filtered column."""
    return pd.DataFrame({
        "upload_id": pd.array(["AbC1", "abc2", "xyz3", None, "q5"], dtype="string"),
        "status": pd.Categorical(["active", "failed", "paused", "active", None],
                                 categories=["active", "completed", "failed", "expired", "paused", "queued"]),
        "total_size": pd.array([100, 200, 300, None, 150], dtype="Int64"),
        "chunk_size": pd.array([10, 20, 10, 20, None], dtype="Int64"),
        "time_to_expiry": pd.to_timedelta(["1h", "-1s", "6h", None, "0s"]),
        "progress": [0.0, 0.5, 1.0, np.nan, 0.25],
    }, index=[10, 11, 12, 13, 14])


@pytest.mark.parametrize(("kwargs", "ids"), [
    ({}, [10, 11, 12, 13, 14]),
    ({"statuses": ["active"]}, [10, 13]),
    ({"statuses": "failed"}, [11]),
    ({"statuses": ["paused", "failed"]}, [11, 12]),  # an undocumented status present in the frame
    ({"statuses": ["queued"]}, []),  # an undocumented category without sessions
    ({"statuses": ["completed"]}, []),  # documented, absent: matches nothing
    ({"statuses": ["expired", "paused"]}, [12]),
    ({"statuses": []}, []),
    ({"size_range": (100, 200)}, [10, 11, 14]),  # inclusive; the null size dropped
    ({"size_range": (None, 150)}, [10, 14]),
    ({"size_range": (201, None)}, [12]),
    ({"size_range": (None, None)}, [10, 11, 12, 14]),  # only the null size goes
    ({"chunk_sizes": [20]}, [11, 13]),
    ({"chunk_sizes": 10}, [10, 12]),
    ({"expires_within": 1}, [10]),  # exactly 1 h is in; expired (-1 s) and 0 s are out
    ({"expires_within": 6}, [10, 12]),
    ({"expires_within": 0}, []),
    ({"expires_within": math.inf}, [10, 12]),
    ({"progress_range": (0, 0.5)}, [10, 11, 14]),
    ({"progress_range": (1, 1)}, [12]),
    ({"id_contains": "abc"}, [10, 11]),
    ({"id_contains": "ABC1"}, [10]),
    ({"id_contains": ""}, [10, 11, 12, 13, 14]),
    ({"id_contains": "."}, []),  # plain text, not a regex
    ({"statuses": ["active"], "size_range": (0, 1000)}, [10]),
    ({"statuses": ["active"], "id_contains": "zzz"}, []),
])
def test_filter_uploads_semantics(kwargs, ids):
    df = _small()
    out = filter_uploads(df, **kwargs)
    assert list(out.index) == ids
    pd.testing.assert_frame_equal(out, df.loc[ids])


def test_filter_uploads_is_pure_and_keeps_attrs():
    df = _small()
    df.attrs["as_of"] = pd.Timestamp(NOW)
    before = df.copy()
    out = filter_uploads(df, statuses=["active"])
    pd.testing.assert_frame_equal(df, before)
    assert out.attrs["as_of"] == pd.Timestamp(NOW)


@pytest.mark.parametrize("kwargs", [
    {"statuses": ["faild"]},  # a typo is not silently "nothing"
    {"statuses": [1]},
    {"statuses": 3},
    {"size_range": (200, 100)},
    {"size_range": (1, 2, 3)},
    {"size_range": "1-2"},
    {"size_range": (float("nan"), 2)},
    {"size_range": (True, 2)},
    {"chunk_sizes": [0]},
    {"chunk_sizes": ["10"]},
    {"chunk_sizes": "10"},
    {"chunk_sizes": [1.5]},
    {"expires_within": -1},
    {"expires_within": float("nan")},
    {"expires_within": "6"},
    {"expires_within": True},
    {"progress_range": (0, 50)},  # percent instead of a fraction
    {"progress_range": (0.8, 0.2)},
    {"id_contains": 5},
])
def test_filter_uploads_rejects_bad_values(kwargs):
    with pytest.raises(InvalidArgumentError, match="The value for `"):
        filter_uploads(_small(), **kwargs)


def test_filter_uploads_needs_the_filtered_column():
    with pytest.raises(InvalidArgumentError, match="with_progress=True"):
        filter_uploads(_small().drop(columns="progress"), progress_range=(0, 1))
    with pytest.raises(InvalidArgumentError, match="DataFrame"):
        filter_uploads([1, 2])
    assert len(filter_uploads(_small().drop(columns="progress"))) == 5  # unused columns may be missing


def test_filter_uploads_on_empty_frame(listing_only):
    empty = listing_only.iloc[:0]
    assert filter_uploads(empty, statuses=["active"], size_range=(0, 1), expires_within=1).empty


# --- the explorer ----------------------------------------------------------------

def test_filters_summary_and_export_match_an_independent_filter(frame, tmp_path):
    ex = explore(frame, export_dir=tmp_path)
    assert isinstance(ex, Explorer)
    pd.testing.assert_frame_equal(ex.filtered, frame)  # nothing filtered: nulls kept
    assert ex.summary == {**_summary_of(frame), "of": len(frame)}

    expected = _set_filters(ex, frame)
    assert 0 < len(expected) < len(frame) / 4
    pd.testing.assert_frame_equal(ex.filtered, expected)
    assert ex.summary == {**_summary_of(expected), "of": len(frame)}
    line = ex._summary_html.value
    assert f"<b>{len(expected):,}</b> of {len(frame):,} sessions" in line
    assert f"<b>{ex.summary['failed']:,}</b> failed" in line and "uploaded" in line

    ex._export.click()
    assert ex._error_html.value == ""
    [written] = tmp_path.glob("uploads-*.csv")
    pd.testing.assert_frame_equal(read_csv(written), expected.reset_index(drop=True))
    assert written.name in ex._export_html.value


def test_summary_counts_expiry_windows_and_failures(frame):
    ex = Explorer(frame)
    ex._status.value = ("active",)
    for hours in (1, 6):
        ex._expires.value = hours
        assert ex.summary["sessions"] == ex.summary[f"expiring_{hours}h"] > 0
    ex._expires.value = 0  # 0 means no limit
    ex._status.value = ("failed",)
    assert ex.summary["sessions"] == ex.summary["failed"] == int((frame["status"] == "failed").sum()) > 0


def test_download_link_is_a_data_uri_when_small_else_relative(frame, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ex = Explorer(frame, export_dir="out", inline_limit=10 ** 7)
    ex._id.value = "a"
    ex._export.click()
    [path] = (tmp_path / "out").glob("*.csv")
    href = re.search(r'<a download="([^"]+)" href="data:text/csv;base64,([^"]+)"', ex._export_html.value)
    assert href and href.group(1) == path.name
    assert base64.b64decode(href.group(2)) == path.read_bytes()

    big = Explorer(frame, export_dir="out", inline_limit=0)
    big._export.click()
    big._export.click()  # same second: a new name, not an overwrite
    assert len(list((tmp_path / "out").glob("*.csv"))) == 3
    links = re.findall(r'href="([^"]+)"', big._export_html.value)
    assert links == [f"out/{big._last_export.name}"] and (tmp_path / links[0]).is_file()


def test_table_is_sorted_by_the_chosen_column_and_cut_to_top_n(frame):
    ex = Explorer(frame, top_n=5)
    ex._sort.value = "total_size"
    ex._direction.value = False
    shown = re.findall(r"<td>([0-9a-f]{24})</td>", _outputs(ex._table_out)["text/html"])
    biggest = frame.dropna(subset=["total_size"]).sort_values(["total_size", "upload_id"], ascending=[False, True])
    assert shown == list(biggest["upload_id"].head(5))
    ex._top.value = 12
    assert len(re.findall(r"<td>[0-9a-f]{24}</td>", _outputs(ex._table_out)["text/html"])) == 12


def _pngs(ex):
    """The PNG each plot tab shows, for the tabs drawn so far."""
    return {name: _outputs(out)["image/png"] for name, out in ex._plot_outs.items() if out.outputs}


def test_a_filter_change_redraws_the_plot_on_view_and_the_others_when_shown(frame):
    ex = Explorer(frame)
    names = list(ex._plot_outs)
    assert names == ["Status", "Sizes", "Chunks", "Expiry", "Timeline", "Progress"]
    assert ex._tabs.titles == (*names, "Table")
    ex._tabs.selected_index = 3
    ex._tabs.selected_index = 1
    before = _pngs(ex)
    assert set(before) == {"Status", "Sizes", "Expiry"}  # only the tabs shown were drawn
    ex._status.value = ("failed",)
    stale = _pngs(ex)
    assert stale["Sizes"] != before["Sizes"]  # on view: redrawn at once
    assert stale["Status"] == before["Status"] and stale["Expiry"] == before["Expiry"]  # hidden: not yet
    ex._tabs.selected_index = 3
    after = _pngs(ex)
    assert after["Expiry"] != before["Expiry"] and after["Sizes"] == stale["Sizes"]
    assert base64.b64decode(after["Expiry"]).startswith(PNG_MAGIC)
    ex._tabs.selected_index = 1
    assert _pngs(ex) == after  # nothing changed since: nothing redrawn


def test_empty_result_shows_no_uploads_instead_of_crashing(frame, monkeypatch):
    notes = []
    real_png = plots.figure_png

    def spy(fig, *, dpi):
        notes.append([t.get_text() for ax in fig.axes for t in ax.texts])
        return real_png(fig, dpi=dpi)

    monkeypatch.setattr(plots, "figure_png", spy)
    ex = Explorer(frame)
    notes.clear()
    ex._id.value = "no-such-upload"
    assert ex.filtered.empty and ex.summary["sessions"] == 0 and ex.summary["total_bytes"] == 0
    for i in range(len(ex._plot_outs)):
        ex._tabs.selected_index = i
    assert notes == [["no uploads"]] * 6
    assert ex._error_html.value == ""
    assert "0 of 0 filtered sessions" in _outputs(ex._table_out)["text/html"]
    assert "image/png" in ex._repr_mimebundle_()


def test_an_empty_account_explores_without_errors(tmp_path):
    with Simulator([]) as server:
        empty = load_uploads(server.api_key, base_url=server.base_url, progress=False, with_progress=True)
    ex = Explorer(empty, export_dir=tmp_path)
    for i in range(len(ex._tabs.children)):
        ex._tabs.selected_index = i
    ex._status.value = ("active",)
    ex._export.click()
    assert ex._error_html.value == "" and ex.summary["sessions"] == ex.summary["of"] == 0
    assert read_csv(ex._last_export).empty
    assert base64.b64decode(ex._repr_mimebundle_()["image/png"]).startswith(PNG_MAGIC)


def test_no_figure_leaks_after_redraws(frame):
    plt.close("all")
    ex = Explorer(frame)
    for i, statuses in enumerate([("active",), ()]):
        ex._status.value = statuses
        ex._tabs.selected_index = 4 * i
    ex._repr_mimebundle_()
    assert plt.get_fignums() == []


def test_static_fallback_holds_png_and_html_summary(frame):
    ex = Explorer(frame)
    ex._status.value = ("active",)
    bundle = ex._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id
    assert base64.b64decode(bundle["image/png"]).startswith(PNG_MAGIC)
    page = bundle["text/html"]
    assert f"<td>{ex.summary['sessions']:,} of {len(frame):,}</td>" in page
    assert f"<td>{ex.summary['expiring_6h']:,}</td>" in page and "statuses=[&#x27;active&#x27;]" in page
    assert f"src='data:image/png;base64,{bundle['image/png']}'" in page
    assert bundle["text/plain"] == repr(ex)
    assert repr(ex) == f"<Explorer: {ex.summary['sessions']:,} of {len(frame):,} upload sessions>"


def test_without_progress_columns_the_progress_filter_hides(listing_only):
    ex = Explorer(listing_only)
    assert ex._progress.layout.display == "none"
    ex._tabs.selected_index = list(ex._plot_outs).index("Progress")
    assert "with_progress=True" in _outputs(ex._plot_outs["Progress"])["text/html"]
    ex._progress.value = (50, 60)  # hidden: has no effect
    assert len(ex.filtered) == len(listing_only) and ex.summary["uploaded_bytes"] is None
    assert ex._refresh.disabled  # a plain frame cannot be refreshed


def test_export_error_shows_in_the_widget_and_is_logged(frame, tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    ex = Explorer(frame, export_dir=blocker / "exports")
    with caplog.at_level(logging.ERROR, logger="tlanalytics.widgets"):
        ex._export.click()
    assert "export failed" in ex._error_html.value
    assert re.search(r"<b>(FileExistsError|NotADirectoryError)</b>", ex._error_html.value)
    assert ex._error_html.layout.display is None and ex._export_html.value == ""
    assert any("export failed" in r.getMessage() for r in caplog.records)
    ex._dismiss.click()
    assert ex._error_html.value == "" and ex._error_html.layout.display == "none"


def test_refresh_keeps_filters_and_adds_new_options(frame):
    second = frame.copy()
    second["status"] = second["status"].cat.add_categories(["paused"])
    second.loc[second.index[:4], "status"] = "paused"
    second.loc[second.index[4:6], "chunk_size"] = 7 * MiB
    kept_chunk = int(frame["chunk_size"].mode()[0])
    gone_chunk = 100 * MiB
    second.loc[(second["chunk_size"] == gone_chunk).fillna(False), "chunk_size"] = kept_chunk
    frames = iter([frame, second])
    ex = Explorer(lambda: next(frames))
    assert not ex._refresh.disabled
    ex._status.value = ("failed", "active")
    ex._chunks.value = (kept_chunk, gone_chunk)
    ex._size.value = (MiB, GiB)
    ex._id.value = "b"

    ex._refresh.click()
    assert ex._error_html.value == ""
    assert set(ex._status.value) == {"failed", "active"}
    assert "paused" in [v for _, v in ex._status.options]
    assert 7 * MiB in [v for _, v in ex._chunks.options]
    assert set(ex._chunks.value) == {kept_chunk, gone_chunk}  # selected stays, shown with a count of 0
    assert f"{widgets.format_bytes(gone_chunk)} (0)" in [label for label, _ in ex._chunks.options]
    assert ex._size.value == (MiB, GiB) and ex._id.value == "b"
    expected = _independent(second, statuses=("failed", "active"), size=(MiB, GiB), chunks=(kept_chunk, gone_chunk),
                            text="b")
    pd.testing.assert_frame_equal(ex.filtered, expected)
    assert ex.summary["of"] == len(second)


def test_refresh_from_a_client_fetches_again(sim, tmp_path):
    with UploadsClient(sim.api_key, base_url=sim.base_url, progress=False) as client:
        ex = Explorer(client)
        ex._expires.value = 3
        before = sim.requests
        ex._refresh.click()
        assert sim.requests > before and ex._error_html.value == ""
        assert ex._expires.value == 3 and len(ex.filtered) == len(filter_uploads(ex._df, expires_within=3))


def test_loader_error_on_refresh_shows_without_the_key(frame, caplog):
    key = "tlk_canary_0123456789abcdef"
    calls = []

    def loader(api_key):
        calls.append(api_key)
        if len(calls) > 1:
            raise ConnectionError(f"could not reach the API with key {api_key}")
        return frame

    from functools import partial

    ex = Explorer(partial(loader, api_key=key), secrets=[key])  # a key outside the environment is named
    ex._status.value = ("failed",)
    with caplog.at_level(logging.DEBUG, logger="tlanalytics.widgets"):
        ex._refresh.click()
    assert "refresh failed" in ex._error_html.value and "<b>ConnectionError</b>" in ex._error_html.value
    assert key not in ex._error_html.value and key not in caplog.text and "***" in ex._error_html.value
    assert ex._status.value == ("failed",) and len(ex.filtered) == int((frame["status"] == "failed").sum())
    assert not ex._refresh.disabled and ex._refresh.description == "Refresh"
    ex._refresh.click()  # a second error is added, not lost
    assert ex._error_html.value.count("refresh failed") == 2


@pytest.mark.parametrize("secrets", ["tlk_one_key", [b"bytes"], None, 42])
def test_secrets_must_be_a_sequence_of_strings(frame, secrets):
    with pytest.raises(InvalidArgumentError, match="`secrets`"):
        Explorer(frame, secrets=secrets)


def test_loader_returning_something_else_is_reported(frame):
    results = iter([frame, [1, 2]])
    ex = Explorer(lambda: next(results))
    ex._refresh.click()
    assert "InvalidArgumentError" in ex._error_html.value and "DataFrame" in ex._error_html.value


def test_a_loader_with_data_starts_from_it_and_loads_on_refresh(frame, listing_only):
    calls = []
    ex = Explorer(lambda: calls.append(1) or listing_only, data=frame)
    assert calls == [] and ex.summary["of"] == len(frame) and ex.summary["uploaded_bytes"] is not None
    ex._refresh.click()
    assert calls == [1] and ex.summary["uploaded_bytes"] is None and ex._progress.layout.display == "none"
    with pytest.raises(InvalidArgumentError, match="`data`"):
        Explorer(frame, data=frame)  # a frame cannot be refreshed: data would be ignored


@pytest.mark.parametrize("kwargs", [
    {"export_dir": 5}, {"inline_limit": -1}, {"inline_limit": 1.5}, {"top_n": 0}, {"sort_by": "nope"},
])
def test_bad_arguments_are_rejected(frame, kwargs):
    with pytest.raises(InvalidArgumentError, match="The value for `"):
        Explorer(frame, **kwargs)


def test_bad_source_is_rejected():
    with pytest.raises(InvalidArgumentError, match="`source`"):
        Explorer("uploads.csv")


def test_table_starts_with_the_most_urgent_open_sessions(frame):
    from tlanalytics import metrics

    ex = Explorer(frame, top_n=10)
    assert ex._sort.value == "most urgent first"
    shown = re.findall(r"<td>([0-9a-f]{24})</td>", _outputs(ex._table_out)["text/html"])
    want = frame.iloc[metrics.urgency_order(frame)]["upload_id"].head(10)
    assert shown == list(want)
    first = frame.set_index("upload_id").loc[shown[0]]
    assert metrics.attention_mask(frame.iloc[[list(frame["upload_id"]).index(shown[0])]]).all()
    assert first["time_to_expiry"] > pd.Timedelta(0)


def test_reset_filters_shows_every_session_again(frame):
    ex = Explorer(frame)
    _set_filters(ex, frame)
    assert len(ex.filtered) < len(frame)
    def walk(widget):
        yield widget
        for child in getattr(widget, "children", ()):
            yield from walk(child)

    reset = next(b for b in walk(ex.widget) if getattr(b, "description", "") == "Reset filters")
    reset.click()
    assert len(ex.filtered) == len(frame) and ex.summary["sessions"] == len(frame)
    assert ex._status.value == () and ex._chunks.value == () and ex._id.value == "" and ex._expires.value == 0


def test_the_ui_says_an_empty_selection_means_all(frame):
    ex = Explorer(frame)
    assert "select none to include all" in ex._hint.value
    assert ex._status.tooltip and "none" in ex._status.tooltip.lower()
