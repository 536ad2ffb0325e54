"""Explore an uploads DataFrame in a notebook: filters, live summary, plots, table, export.

:func:`tlanalytics.filters.filter_uploads` is the pure core (no widgets, no I/O). :func:`explore`
wraps it in an :class:`Explorer`, an ipywidgets UI that redraws the public
plot functions of :mod:`tlanalytics.plots` on every filter change and that
also carries a static HTML + PNG fallback for places where widgets do not
render (GitHub, nbconvert).
"""

from __future__ import annotations

import base64
import functools
import html
import logging
import math
import numbers
import os
import traceback
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from ._units import format_bytes, format_duration, format_utc
from .errors import InvalidArgumentError
from . import metrics
from .filters import filter_uploads
from .keys import redact
from .schema import STATUSES

__all__ = ["explore", "Explorer", "MOST_URGENT_FIRST"]

log = logging.getLogger(__name__)


_TABLE_COLUMNS = ("upload_id", "status", "total_size", "chunk_size", "total_chunks", "created_at", "expires_at",
                  "time_to_expiry", "uploaded_size", "progress", "stalled", "at_risk")
_DPI = 80
# Hides the static fallback next to an explorer that rendered as a widget (CSS :has, no script).
_HIDE_WHEN_RENDERED = ("<style>.jp-OutputArea:has(.widget-vbox) .tla-static,"
                       ".output:has(.widget-vbox) .tla-static{display:none}</style>")
_MAX_ERRORS = 5


_SUMMARY_KEYS = ("sessions", "total_bytes", "open", "expiring_1h", "expiring_6h", "failed", "uploaded_bytes",
                 "at_risk", "stalled")
#: The table's default order (``sort_by``): open sessions needing attention, then other open ones, soonest
#: expiry first (:func:`tlanalytics.metrics.urgency_order`).
MOST_URGENT_FIRST = "most urgent first"


def _summarize(df):
    """The numbers of the summary line, from :func:`tlanalytics.metrics.summarize`."""
    figures = metrics.summarize(df)
    return {key: figures[key] for key in _SUMMARY_KEYS}


def _has_progress(df):
    return metrics.has_progress(df)


def _fail(name, rule, value):
    raise InvalidArgumentError(f"The value for `{name}` must be {rule}, but {value!r} was passed.")



def _show(out, data):
    """Replace what Output ``out`` shows with one display of ``data`` (a mime bundle).

    One assignment of ``outputs`` (the documented way to write an Output from
    any thread) swaps old for new without an empty frame in between, like
    ``clear_output(wait=True)``, and works with or without a kernel.
    """
    data = {"text/plain": "", **data}
    out.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)


def _html(text, plain=""):
    return {"text/html": text, "text/plain": plain}


def _size_grid(df):
    """``(label, bytes)`` slider stops: 0 B, then powers of two covering every size in ``df``."""
    sizes = df["total_size"].to_numpy(dtype="float64", na_value=np.nan) if "total_size" in df.columns else np.array([])
    positive = sizes[sizes > 0]
    lo = math.floor(math.log2(positive.min())) if len(positive) else 10
    hi = max(math.ceil(math.log2(positive.max())) if len(positive) else 0, lo + 1)
    return [(format_bytes(0), 0)] + [(format_bytes(2 ** k), 2 ** k) for k in range(lo, hi + 1)]


def _counted(values, counts, label=str):
    """``(label (count), value)`` options."""
    return [(f"{label(v)} ({counts.get(v, 0):,})", v) for v in values]


def _scrub(text, secrets):
    """``text`` with every key (given or in the environment) replaced by ``***``."""
    return redact(text, *secrets)


def _download_html(path, rows, inline_limit):
    """A download link to ``path``: a data: URI when small, else a link relative to the working folder."""
    size = path.stat().st_size
    name = html.escape(path.name, quote=True)
    note = f"{rows:,} rows, {format_bytes(size)}, saved to <code>{html.escape(str(path))}</code> (+ .meta.json)"
    if size <= inline_limit:
        href = "data:text/csv;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    else:
        try:
            rel = os.path.relpath(path)
        except ValueError:  # another drive on Windows: nothing relative to link to
            return f"Exported {note}."
        href = quote(Path(rel).as_posix())
    return f'Exported <a download="{name}" href="{href}" target="_blank">{name}</a> ({note}).'


#: Each filter widget (``self._<name>``) and what its errors say was being done.
_FILTER_ACTIONS = {"status": "filtering by status", "chunks": "filtering by chunk size",
                   "size": "filtering by file size", "expires": "filtering by expiry",
                   "progress": "filtering by progress", "id": "filtering by upload_id"}
#: The same for the table's widgets.
_TABLE_ACTIONS = {"sort": "sorting the table", "direction": "sorting the table", "top": "sizing the table"}


def _reporting(action):
    """Decorate a handler so an exception shows in the widget's error area instead of vanishing."""
    def decorate(method):
        @functools.wraps(method)
        def handler(self, *args):
            try:
                return method(self, *args)
            except Exception as exc:  # a callback's exception would otherwise be lost in the kernel log
                self._report(action, exc)
        return handler
    return decorate


# --- the widget -----------------------------------------------------------------

class Explorer:
    """An interactive explorer of upload sessions: filters, live summary, plots, table, export.

    Filters (combined with AND, see :func:`filter_uploads`): status and chunk
    size (select several; none selected means all), a log-scaled
    ``total_size`` range (a SelectionRangeSlider over 0 B and powers of two,
    labelled in binary units; the full range means no filter, so sessions
    without a size stay), "expires within" hours (0 means no limit), a
    progress range in percent (only when the progress columns exist; full
    range means no filter) and a case-insensitive ``upload_id`` search.

    Every change recomputes the summary line and the table tab (the top N
    rows sorted by a chosen column) and redraws the plot on view (one Output
    per plot tab, drawn with the :mod:`tlanalytics.plots` functions); the
    other plot tabs redraw when they are shown, so a change costs one plot,
    not six. *Export*
    writes the filtered rows with :func:`tlanalytics.export.to_csv` to
    ``export_dir/uploads-<UTC timestamp>.csv`` and shows a download link:
    a ``data:`` URI when the CSV is at most ``inline_limit`` bytes (works in
    any frontend, needs no file server), else a link relative to the working
    folder (like IPython's ``FileLink``; Jupyter serves it when the notebook
    lives there). *Refresh* (only with a loader) fetches again, showing the
    loader's progress bar, and keeps the filters: selected values stay
    selected, new statuses and chunk sizes appear as options, selected chunk
    sizes no longer present stay (with a count of 0).

    Errors raised while handling a change or a click are shown in the error
    area (type and message, never the API key) and logged.

    Parameters
    ----------
    source : pandas.DataFrame, callable or UploadsClient
        The sessions; or a callable returning them (e.g.
        ``functools.partial(load_uploads, with_progress=True)``, which reads
        the key from the environment); or an object with a ``load()`` method
        such as :class:`~tlanalytics.client.UploadsClient`, which holds its
        key out of every repr and message. The last two are called now
        (unless ``data`` is given) and again on every *Refresh*. A loader
        that holds a key of its own names it in ``secrets``.
    data : pandas.DataFrame, optional
        With a loader as ``source``: the sessions to start with, already
        loaded, so opening the explorer does not load them again.
    export_dir : str or os.PathLike, optional
        Folder the exports go to (created if needed); None means the current
        working folder at the time of the click.
    inline_limit : int, default 262144
        Largest CSV (bytes) whose download link embeds the data.
    sort_by : str, default "most urgent first"
        Initial order of the table: ``"most urgent first"`` (open sessions
        needing attention, then other open sessions, soonest expiry first;
        see :func:`tlanalytics.metrics.urgency_order`) or a column name.
    top_n : int, default 20
        Initial number of rows in the table.
    history : pandas.DataFrame or ipywidgets.Widget, optional
        A snapshot history (:func:`~tlanalytics.load_history`); adds a
        History tab (:func:`~tlanalytics.history_tab`). A widget is used as
        the tab's content as it is (the dashboard's tab, filled once built).
    secrets : sequence of str, default ()
        Strings never to be shown, such as a key a loader holds that is not
        in the environment: replaced by ``***`` in every error shown or
        logged, like the environment's keys.

    Attributes
    ----------
    filtered : pandas.DataFrame
        The sessions passing the current filters (a copy).
    summary : dict
        The numbers of the summary line.
    widget : ipywidgets.VBox
        The top-level container.

    Examples
    --------
    >>> from functools import partial
    >>> explorer = Explorer(partial(load_uploads, with_progress=True))  # doctest: +SKIP
    >>> explorer  # doctest: +SKIP
    """

    _PLOTS = (("Status", "plot_status_breakdown", (8, 4)), ("Sizes", "plot_size_distribution", (8, 4.5)),
              ("Chunks", "plot_chunk_configurations", (8, 4.5)), ("Expiry", "plot_expiry_distribution", (8, 4.5)),
              ("Timeline", "plot_expiry_timeline", (9, 6)), ("Progress", "plot_progress", (8, 4.5)))

    def __init__(self, source, *, data=None, export_dir=None, inline_limit=256 * 1024, sort_by=MOST_URGENT_FIRST,
                 top_n=20, history=None, secrets=()):
        import ipywidgets as w

        if isinstance(source, pd.DataFrame):
            self._loader = None
        elif callable(getattr(source, "load", None)):
            self._loader = source.load
        elif callable(source):
            self._loader = source
        else:
            _fail("source", "a DataFrame, a callable returning one, or an object with a load() method",
                  type(source).__name__)
        if export_dir is not None and not isinstance(export_dir, (str, os.PathLike)):
            _fail("export_dir", "a folder path or None", export_dir)
        if isinstance(inline_limit, bool) or not isinstance(inline_limit, numbers.Integral) or inline_limit < 0:
            _fail("inline_limit", "an integer >= 0 (bytes)", inline_limit)
        if isinstance(top_n, bool) or not isinstance(top_n, numbers.Integral) or top_n < 1:
            _fail("top_n", "an integer >= 1", top_n)
        if not isinstance(secrets, (list, tuple, set, frozenset)) or not all(isinstance(k, str) for k in secrets):
            _fail("secrets", "a sequence of strings", type(secrets).__name__)
        self._secrets = [k.strip() for k in secrets if k.strip()]
        self._export_dir, self._inline_limit = export_dir, int(inline_limit)
        if data is not None and (self._loader is None or not isinstance(data, pd.DataFrame)):
            _fail("data", "None, or a DataFrame when `source` is a loader", type(data).__name__)
        self._df = source if self._loader is None else data if data is not None else self._fetch()
        if not isinstance(sort_by, str) or (sort_by != MOST_URGENT_FIRST and sort_by not in self._df.columns):
            _fail("sort_by", f"one of {[MOST_URGENT_FIRST, *self._df.columns]}", sort_by)
        self._batching = 0
        self._errors = []
        self._static = None  # (version, bundle) cache of the static fallback
        self._version = 0

        narrow = w.Layout(width="auto")
        self._status = w.SelectMultiple(description="Status", rows=5, layout=narrow,
                                        tooltip="Select none to include every status")
        self._chunks = w.SelectMultiple(description="Chunk size", rows=5, layout=narrow,
                                        tooltip="Select none to include every chunk size")
        self._hint = w.HTML("<small>Filters combine with AND. Status and chunk size: select none to include all "
                            "(Ctrl/Cmd+click to select several). Full ranges and expires ≤ 0 h mean no limit.</small>")
        self._reset = w.Button(description="Reset filters", icon="undo", tooltip="Clear every filter: show all sessions")
        self._size = w.SelectionRangeSlider(options=[("0 B", 0), ("1 B", 1)], index=(0, 1), description="File size",
                                            continuous_update=False, layout=w.Layout(width="520px"))
        self._expires = w.BoundedFloatText(value=0, min=0, max=1e6, step=1, description="Expires ≤ h",
                                           tooltip="Hours; 0 means no limit", layout=w.Layout(width="200px"))
        self._progress = w.FloatRangeSlider(value=(0, 100), min=0, max=100, step=1, description="Progress %",
                                            readout_format=".0f", continuous_update=False,
                                            layout=w.Layout(width="520px"))
        self._id = w.Text(description="upload_id", placeholder="part of an id (Enter)", continuous_update=False)
        self._summary_html = w.HTML()
        self._summary_html.add_class("tla-summary")  # a stable hook for pages and browser tests
        self._error_html = w.HTML(layout=w.Layout(display="none"))
        self._dismiss = w.Button(description="Dismiss errors", icon="times", layout=w.Layout(display="none"))
        self._refresh = w.Button(description="Refresh", icon="refresh", disabled=self._loader is None,
                                 tooltip="Fetch the sessions again; filters are kept")
        self._export = w.Button(description="Export CSV", icon="download", tooltip="Write the filtered rows to CSV")
        self._load_out = w.Output()
        self._export_html = w.HTML()
        self._plot_outs = {name: w.Output() for name, _, _ in self._PLOTS}
        self._plot_specs = {name: (function, figsize) for name, function, figsize in self._PLOTS}
        self._stale = set()
        self._sort = w.Dropdown(description="Sort by", value=None, options=[])
        self._direction = w.ToggleButtons(options=[("ascending", True), ("descending", False)], value=True)
        self._top = w.BoundedIntText(value=int(top_n), min=1, max=10 ** 7, description="Top N",
                                     layout=w.Layout(width="180px"))
        self._table_out = w.Output()
        self._tabs = w.Tab(children=[*self._plot_outs.values(),
                                     w.VBox([w.HBox([self._sort, self._direction, self._top]), self._table_out])],
                           titles=[name for name, _, _ in self._PLOTS] + ["Table"])
        if history is not None:  # the History tab: trends of a snapshot history (tlanalytics.histviews)
            from .histviews import history_tab

            tab = history if isinstance(history, w.Widget) else history_tab(history)
            self._tabs.children = (*self._tabs.children, tab)
            self._tabs.set_title(len(self._tabs.children) - 1, "History")
        buttons = [self._reset, self._export] + ([self._refresh] if self._loader else [])
        self._widget = w.VBox([
            w.HBox([self._status, self._chunks,
                    w.VBox([self._size, self._progress, w.HBox([self._expires, self._id])])]), self._hint,
            self._summary_html, w.HBox(buttons + [self._dismiss]), self._error_html, self._load_out,
            self._export_html, self._tabs])

        self._set_options(sort_by=sort_by)
        for actions, redraw in ((_FILTER_ACTIONS, self._update), (_TABLE_ACTIONS, self._draw_table)):
            for name, action in actions.items():
                getattr(self, f"_{name}").observe(functools.partial(self._on_value_change, action, redraw), names="value")
        self._tabs.observe(self._on_tabs_change, names="selected_index")
        self._refresh.on_click(self._on_refresh_click)
        self._reset.on_click(self._on_reset_click)
        self._export.on_click(self._on_export_click)
        self._dismiss.on_click(self._on_dismiss_click)
        self._update()

    # -- public, read-only -------------------------------------------------
    @property
    def filtered(self):
        """The sessions passing the current filters (a copy)."""
        return self._filtered.copy()

    @property
    def summary(self):
        """The numbers of the summary line, counted as :func:`tlanalytics.reporting.summarize` does.

        ``sessions`` (filtered), ``of`` (all loaded), ``total_bytes``,
        ``uploaded_bytes`` (None without progress columns), ``expiring_1h``
        and ``expiring_6h`` (open sessions expiring within 1 h / 6 h of
        ``as_of``, cumulative) and ``failed``.
        """
        return dict(self._summary)

    @property
    def widget(self):
        """The top-level ipywidgets container."""
        return self._widget

    def export(self):
        """Write the filtered sessions to CSV and show a download link (what *Export CSV* does).

        The file is ``export_dir/uploads-<UTC timestamp>.csv`` (``-1``,
        ``-2``... appended rather than overwriting), written by
        :func:`tlanalytics.export.to_csv` with its ``.meta.json`` sidecar, so
        :func:`tlanalytics.export.read_csv` reads it back exactly.

        Returns
        -------
        pathlib.Path
            The CSV written.
        """
        from .export import to_csv

        folder = Path(self._export_dir if self._export_dir is not None else os.getcwd())
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        path, n = folder / f"uploads-{stamp}.csv", 1
        while path.exists():
            path, n = folder / f"uploads-{stamp}-{n}.csv", n + 1
        df = self.filtered
        to_csv(df, path)
        self._last_export = path
        self._export_html.value = _download_html(path, len(df), self._inline_limit)
        log.info("Explorer: exported %d rows to %s", len(df), path)
        return path

    def __repr__(self):
        return f"<Explorer: {len(self._filtered):,} of {len(self._df):,} upload sessions>"

    def _ipython_display_(self):
        """In IPython: the widget, then the static fallback as an output of its own.

        nbconvert shows a widget view instead of its other formats whenever the
        notebook stores widget state, and the view then needs the widget manager
        from a CDN; as its own output, the summary and overview stay readable
        offline and on GitHub. A CSS rule hides that output where the widget
        did render (JupyterLab, Notebook, VS Code, nbconvert HTML online).
        """
        from IPython.display import display

        display(self._widget)
        bundle = dict(self._static_bundle())
        bundle["text/html"] = f'{_HIDE_WHEN_RENDERED}<div class="tla-static">{bundle["text/html"]}</div>'
        display(bundle, raw=True)

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        """The widget view plus a static fallback (HTML summary with the overview PNG) and text."""
        bundle = dict(self._widget._repr_mimebundle_(include=include, exclude=exclude, **kwargs) or {})
        bundle.update(self._static_bundle())
        return bundle

    # -- data and options --------------------------------------------------
    def _fetch(self):
        df = self._loader()
        if not isinstance(df, pd.DataFrame):
            raise InvalidArgumentError(f"The loader must return a pandas DataFrame, but it returned "
                                       f"{type(df).__name__}.")
        return df

    def _set_options(self, *, sort_by=None):
        """Fit the filter options to ``self._df``, keeping what is selected where it still applies."""
        df = self._df
        self._batching += 1
        try:
            status = df["status"].astype("object") if "status" in df.columns else pd.Series(dtype=object)
            values = list(STATUSES) + sorted({s for s in status.dropna() if s not in STATUSES})
            keep = [s for s in self._status.value if s in values]
            self._status.options = _counted(values, status.value_counts().to_dict())
            self._status.value = keep

            chunks = df["chunk_size"].dropna().astype("int64") if "chunk_size" in df.columns else pd.Series()
            keep = list(self._chunks.value)
            self._chunks.options = _counted(sorted(set(chunks) | set(keep)), chunks.value_counts().to_dict(),
                                            format_bytes)
            self._chunks.value = keep

            old, full = self._size.value, self._size.index == (0, len(self._size.options) - 1)
            grid = _size_grid(df)
            stops = [v for _, v in grid]
            self._size.options = grid
            if full:
                self._size.index = (0, len(grid) - 1)
            else:
                self._size.index = (max(i for i, v in enumerate(stops) if v <= old[0]),
                                    next((i for i, v in enumerate(stops) if v >= old[1]), len(stops) - 1))

            self._progress.layout.display = None if _has_progress(df) else "none"
            if not _has_progress(df):
                self._progress.value = (0, 100)

            current = sort_by or self._sort.value
            self._sort.options = [MOST_URGENT_FIRST, *df.columns]
            self._sort.value = current if current in self._sort.options else MOST_URGENT_FIRST
        finally:
            self._batching -= 1

    def _criteria(self):
        """The current widget values as :func:`filter_uploads` keywords (None = not filtered)."""
        size = None
        if self._size.index != (0, len(self._size.options) - 1):
            size = self._size.value
        progress = None
        if _has_progress(self._df) and tuple(self._progress.value) != (0, 100):
            progress = (self._progress.value[0] / 100, self._progress.value[1] / 100)
        return {"statuses": list(self._status.value) or None, "size_range": size,
                "chunk_sizes": list(self._chunks.value) or None, "expires_within": self._expires.value or None,
                "progress_range": progress, "id_contains": self._id.value.strip() or None}

    # -- redrawing ---------------------------------------------------------
    def _update(self):
        """Filter, then refresh the summary, every plot and the table."""
        self._filtered = filter_uploads(self._df, **self._criteria())
        self._version += 1
        self._summary = {**_summarize(self._filtered), "of": len(self._df)}
        self._summary_html.value = self._summary_line()
        self._draw_plots()
        self._draw_table()

    def _summary_line(self):
        s = self._summary
        parts = [f"<b>{s['sessions']:,}</b> of {s['of']:,} sessions", f"<b>{format_bytes(s['total_bytes'])}</b>",
                 f"<b>{s['open']:,}</b> open", f"<b>{s['expiring_1h']:,}</b> open expiring within 1 h",
                 f"<b>{s['expiring_6h']:,}</b> within 6 h"]
        if s["uploaded_bytes"] is not None:
            parts += [f"<b>{s['at_risk']:,}</b> at risk", f"<b>{s['stalled']:,}</b> stalled",
                      f"<b>{format_bytes(s['uploaded_bytes'])}</b> uploaded (open)"]
        parts.append(f"<b>{s['failed']:,}</b> failed")
        as_of = self._df.attrs.get("as_of")
        when = f" <span style='color:#666'>(as of {html.escape(format_utc(as_of))})</span>" if as_of is not None else ""
        return " · ".join(parts) + when

    def _draw_plots(self):
        """Mark every plot out of date and redraw the one on view; hidden ones redraw when shown."""
        self._stale = set(self._plot_outs)
        self._draw_visible()

    def _draw_visible(self):
        index = self._tabs.selected_index
        names = list(self._plot_outs)
        if index is not None and index < len(names) and names[index] in self._stale:
            self._draw_plot(names[index])

    def _draw_plot(self, name):
        from . import plots

        self._stale.discard(name)
        out, (function, figsize) = self._plot_outs[name], self._plot_specs[name]
        if function == "plot_progress" and not _has_progress(self._df):
            _show(out, _html("<i>No progress columns: load with <code>load_uploads(..., with_progress=True)"
                             "</code> to see upload progress.</i>"))
            return
        try:
            png = plots.plot_png(getattr(plots, function), self._filtered, figsize=figsize, dpi=_DPI)
        except Exception as exc:  # one broken plot must not blank the others
            _show(out, _html(f"<i>Could not draw this plot: {html.escape(type(exc).__name__)}.</i>"))
            self._report(f"drawing {function}", exc)
            return
        _show(out, {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": f"<{name} plot>"})

    def _draw_table(self):
        df, column = self._filtered, self._sort.value
        if column == MOST_URGENT_FIRST:
            order = metrics.urgency_order(df)
            top = df.iloc[order if self._direction.value else order[::-1]].head(self._top.value)
        else:
            keys, ascending = [column], [self._direction.value]
            if column != "upload_id" and "upload_id" in df.columns:
                keys.append("upload_id")
                ascending.append(True)
            top = df.sort_values(keys, ascending=ascending, na_position="last", kind="stable").head(self._top.value)
        shown = [c for c in _TABLE_COLUMNS if c in top.columns]
        shown += [column] if column not in shown and column in top.columns else []
        formatters = {c: format_bytes for c in ("total_size", "chunk_size", "uploaded_size") if c in shown}
        formatters.update({c: format_duration for c in shown if pd.api.types.is_timedelta64_dtype(top[c])})
        formatters.update({c: format_utc for c in shown if isinstance(top[c].dtype, pd.DatetimeTZDtype)})
        if "progress" in shown:
            formatters["progress"] = lambda v: "n/a" if pd.isna(v) else f"{v:.0%}"
        table = top[shown].to_html(index=False, formatters=formatters, na_rep="n/a", border=0, escape=True)
        caption = f"<p>{len(top):,} of {len(df):,} filtered sessions, sorted by <code>{html.escape(column)}</code> " \
                  f"({'ascending' if self._direction.value else 'descending'}).</p>"
        _show(self._table_out, _html(caption + table, f"<table of {len(top):,} sessions>"))

    def _static_bundle(self):
        """HTML summary table + overview PNG for frontends without widgets (cached per state)."""
        if self._static and self._static[0] == self._version:
            return self._static[1]
        from .plots import figure_png, overview

        s = self._summary
        rows = [("Sessions", f"{s['sessions']:,} of {s['of']:,}"), ("Total size", format_bytes(s["total_bytes"])),
                ("Open", f"{s['open']:,}"), ("Open, expiring within 1 h", f"{s['expiring_1h']:,}"),
                ("Open, expiring within 6 h", f"{s['expiring_6h']:,}")]
        if s["uploaded_bytes"] is not None:
            rows += [("At risk (open)", f"{s['at_risk']:,}"), ("Stalled (open)", f"{s['stalled']:,}"),
                     ("Uploaded (open)", format_bytes(s["uploaded_bytes"]))]
        rows.append(("Failed", f"{s['failed']:,}"))
        active = {k: v for k, v in self._criteria().items() if v is not None}
        rows.append(("Filters", ", ".join(f"{k}={v!r}" for k, v in active.items()) or "none"))
        body = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
        page = f"<table class='tlanalytics-summary'>{body}</table>"
        bundle = {"text/plain": repr(self)}
        try:
            png = base64.b64encode(figure_png(overview(self._filtered), dpi=50)).decode("ascii")
            bundle["image/png"] = png
            page += f"<img alt='overview of the filtered sessions' src='data:image/png;base64,{png}'/>"
        except Exception as exc:  # the fallback must never break display
            log.warning("The static overview could not be drawn: %s",
                        _scrub(f"{type(exc).__name__}: {exc}", self._secrets))
        bundle["text/html"] = page
        self._static = (self._version, bundle)
        return bundle

    # -- errors ------------------------------------------------------------
    def _report(self, action, exc):
        """Show an exception in the error area and log it, without any key."""
        message = _scrub(f"{type(exc).__name__}: {exc}", self._secrets)
        log.error("Explorer: %s failed: %s", action, message)
        log.debug("%s", _scrub("".join(traceback.format_exception(exc)), self._secrets))
        when = datetime.now(timezone.utc).strftime("%H:%M:%S UTC")
        self._errors = [f"{when} · {action} failed · <b>{html.escape(type(exc).__name__)}</b>: "
                        f"{html.escape(message.split(': ', 1)[-1])}"] + self._errors[:_MAX_ERRORS - 1]
        self._error_html.value = "<div style='color:#b00020'>" + "<br>".join(self._errors) + "</div>"
        self._error_html.layout.display = self._dismiss.layout.display = None

    # -- handlers ----------------------------------------------------------
    def _on_value_change(self, action, redraw, change):
        """A filter's or the table's value changed: ``redraw()``, unless a batch of changes is under way
        (it updates once at its end); an error is reported as ``action``."""
        try:
            if not self._batching:
                redraw()
        except Exception as exc:  # a callback's exception would otherwise be lost in the kernel log
            self._report(action, exc)

    @_reporting("drawing a plot")
    def _on_tabs_change(self, change):
        self._draw_visible()

    @_reporting("refresh")
    def _on_refresh_click(self, _button):
        self._refresh.disabled, self._refresh.description = True, "Refreshing…"
        try:
            with self._load_out:  # a notebook progress bar (tqdm.auto) displays here
                self._load_out.clear_output(wait=True)
                df = self._fetch()
            self._df = df
            self._set_options()
            self._update()
        finally:
            self._refresh.disabled, self._refresh.description = False, "Refresh"

    @_reporting("export")
    def _on_export_click(self, _button):
        self.export()

    @_reporting("reset")
    def _on_reset_click(self, _button):
        """Every filter back to "no filter"; one update at the end."""
        self._batching += 1
        try:
            self._status.value, self._chunks.value = (), ()
            self._size.index = (0, len(self._size.options) - 1)
            self._progress.value, self._expires.value, self._id.value = (0, 100), 0, ""
        finally:
            self._batching -= 1
        self._update()

    def _on_dismiss_click(self, _button):
        self._errors = []
        self._error_html.value = ""
        self._error_html.layout.display = self._dismiss.layout.display = "none"


def explore(df_or_loader, **kwargs):
    """Explore upload sessions interactively in a notebook.

    Parameters
    ----------
    df_or_loader : pandas.DataFrame, callable or UploadsClient
        The sessions, or something that loads them (then *Refresh* works):
        a callable returning a DataFrame, or an object with ``load()``.
    **kwargs
        Options of :class:`Explorer` (``data``, ``export_dir``,
        ``inline_limit``, ``sort_by``, ``top_n``).

    Returns
    -------
    Explorer
        Displays as the widget UI, with a static HTML + PNG fallback.

    Examples
    --------
    >>> from functools import partial
    >>> from tlanalytics import load_uploads
    >>> explore(partial(load_uploads, with_progress=True))  # doctest: +SKIP
    """
    return Explorer(df_or_loader, **kwargs)
