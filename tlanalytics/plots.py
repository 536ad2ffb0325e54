"""Plots of an uploads DataFrame (the frame of :mod:`tlanalytics.frame`).

Every ``plot_<what>(df, *, ..., ax=None, **kwargs)`` draws into ``ax`` (the
current Axes when None), passes ``kwargs`` to its main matplotlib call and
returns the Axes; none calls ``plt.show()``. Sizes are shown in binary units,
durations in hours, and each status has one colour everywhere
(:data:`STATUS_COLORS`). :func:`overview` builds a figure outside pyplot.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import metrics
from ._docfill import fill_doc
from ._units import format_bytes, format_duration, format_utc
from .errors import InvalidArgumentError
from .schema import STATUSES, columns
from .validate import as_of as sanitize_as_of, check_int

__all__ = [
    "STATUS_COLORS", "status_color", "plot_size_distribution", "plot_chunk_configurations",
    "plot_expiry_distribution", "plot_expiry_timeline", "plot_status_breakdown", "plot_progress",
    "overview", "figure_png", "plot_png",
]

#: One colour per status (Okabe-Ito, colour-blind friendly); ``"unknown"`` is
#: the fallback for statuses the API may add later and for missing statuses.
STATUS_COLORS = {
    "active": "#0072b2",  # blue
    "completed": "#009e73",  # bluish green
    "failed": "#d55e00",  # vermillion
    "expired": "#999999",  # grey: nothing more will happen
    "unknown": "#cc79a7",  # reddish purple
}
_NEUTRAL = "#56b4e9"  # sky blue: bars not split by status
_WARN = "#e69f00"  # orange: at risk
_ALERT = "#333333"  # near black: stalled, inconsistent
_NO_DATA = "no uploads"


def status_color(status):
    """The colour of a status; unknown or missing statuses get ``STATUS_COLORS["unknown"]``.

    Parameters
    ----------
    status : str or None

    Returns
    -------
    str
        A lower-case hex colour, as :func:`matplotlib.colors.to_hex` writes it.

    Examples
    --------
    >>> status_color("failed"), status_color("paused") == STATUS_COLORS["unknown"]
    ('#d55e00', True)
    """
    return STATUS_COLORS.get(status if isinstance(status, str) else "unknown", STATUS_COLORS["unknown"])


# --- shared docstring fragments (seaborn's ``_core_docs``) ---------------------

_DOCS = {  # relative indentation only: each fragment takes the indentation of the line it replaces
    "ax": """ax : matplotlib.axes.Axes, optional
    Where to draw; the current Axes when None (a new figure with
    ``layout="constrained"`` when pyplot has none, so a plain
    ``ax.figure.savefig(path)`` clips nothing).""",
    "returns": """Returns
-------
matplotlib.axes.Axes""",
}


def _doc(kwargs_target):
    """Fill the ``{ax}``, ``{kwargs}`` and ``{returns}`` fragments of a plot function's docstring.

    Python 3.13 strips docstrings' common indentation at compile time and
    earlier versions do not, so every fragment line is indented like the line
    of its placeholder.
    """
    return fill_doc({**_DOCS, "kwargs": f"""**kwargs
    Passed to :meth:`matplotlib.axes.Axes.{kwargs_target}`."""})


# --- helpers --------------------------------------------------------------

def _how_to_get(name):
    """What to do when column ``name`` is missing."""
    if name in columns("progress"):
        return "load with `load_uploads(..., with_progress=True)` or call `add_progress(df)`."
    if name in columns("derived"):
        return "it is derived from the listing: build the frame with `build_frame(...)` or call `recompute(df)`."
    return "load the frame with `load_uploads(...)` or `build_frame(...)`, which give every listing column."


def _require_frame(df):
    """Raise InvalidArgumentError unless ``df`` is a DataFrame."""
    if not isinstance(df, pd.DataFrame):
        raise InvalidArgumentError(
            f"The value for `df` must be a pandas DataFrame, but {type(df).__name__} was passed.")


def _note(ax, text):
    """Write a centred note on an otherwise empty Axes and return it."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4", fontsize="large")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _start(df, ax, title, needed):
    """Check ``df``, pick the Axes (pyplot's current one, imported only then) and title it.

    An empty frame gets the "no uploads" note instead of the column check.
    """
    _require_frame(df)
    if ax is None:
        import matplotlib.pyplot as plt

        if not plt.get_fignums():  # our own figure: laid out so that savefig clips nothing
            plt.figure(layout="constrained")
        ax = plt.gca()
    ax.set_title(title)
    if len(df) == 0:
        return _note(ax, _NO_DATA)
    for name in needed:
        if name not in df.columns:
            raise InvalidArgumentError(f"The column {name!r} is missing; {_how_to_get(name)}")
    return ax


def _floats(series):
    """A nullable numeric column as float64 with NaN for missing."""
    return series.to_numpy(dtype="float64", na_value=np.nan)


def _hours(series):
    """A timedelta column as float hours with NaN for missing."""
    return _floats(series.dt.total_seconds()) / 3600.0


def _flags(series):
    """A nullable boolean column as bool, missing counted as False."""
    return series.to_numpy(dtype=bool, na_value=False)


def _as_of(df):
    """``df.attrs["as_of"]``, else inferred from ``expires_at - time_to_expiry``; None if neither."""
    as_of = df.attrs.get("as_of")
    if as_of is None and {"expires_at", "time_to_expiry"} <= set(df.columns):
        both = (df["expires_at"] - df["time_to_expiry"]).dropna()
        as_of = both.iloc[0] if len(both) else None
    if as_of is None or pd.isna(as_of):
        return None
    return sanitize_as_of(as_of)


def _status_groups(status):
    """``(label, mask, colour)`` per documented status present, then one group for the rest."""
    values = status.astype("object")
    groups = [(s, (values == s).to_numpy(), STATUS_COLORS[s]) for s in STATUSES]
    other = ~values.isin(STATUSES).to_numpy()
    if other.any():
        names = sorted({str(v) if isinstance(v, str) else "missing" for v in values[other]})
        groups.append((", ".join(names), other, STATUS_COLORS["unknown"]))
    return [g for g in groups if g[1].any()]


def _bytes_axis(axis, values=None):
    """Log base-2 scale with ticks at binary round numbers labelled like ``"1 MiB"``."""
    axis.axes.set_xscale("log", base=2) if axis.axis_name == "x" else axis.axes.set_yscale("log", base=2)
    axis.set_major_locator(ticker.FixedLocator(values) if values is not None else _BinaryLocator())
    axis.set_minor_locator(ticker.NullLocator())
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: format_bytes(v)))


class _BinaryLocator(ticker.Locator):
    """Ticks at powers of two, thinned (steps of 2, 5 or 10 doublings) to at most ``max_ticks``."""

    def __init__(self, max_ticks=7):
        self.max_ticks = max_ticks

    def __call__(self):
        return self.tick_values(*self.axis.get_view_interval())

    def tick_values(self, vmin, vmax):
        lo, hi = sorted((max(vmin, 1e-300), max(vmax, 1e-300)))
        for step in (1, 2, 5, 10, 20, 30):  # 10 doublings = one binary prefix
            first, last = math.ceil(math.log2(lo) / step) * step, math.floor(math.log2(hi))
            ks = np.arange(first, last + 1, step)
            if len(ks) <= self.max_ticks:
                return 2.0**ks
        return 2.0**ks  # pragma: no cover - absurdly wide ranges


def _legend(ax, **kwargs):
    """A small legend, when there is anything to label."""
    if ax.get_legend_handles_labels()[0] or kwargs.get("handles"):
        ax.legend(fontsize="small", **kwargs)


# --- plots ----------------------------------------------------------------

@_doc("hist")
def plot_size_distribution(df, *, by_status=True, bins=30, ax=None, **kwargs):
    """Histogram of file sizes (``total_size``) on log-spaced bins.

    Sizes of 0 B (which a log axis cannot show) are counted in the first bin;
    missing sizes are left out and counted in the title. Dashed and dotted
    lines mark the median and the 95th percentile.

    Parameters
    ----------
    df : pandas.DataFrame
        An uploads frame with ``total_size`` (and ``status`` when ``by_status``).
    by_status : bool, default True
        Stack the bars by status, in the status colours.
    bins : int, default 30
        Number of log-spaced bins between the smallest and largest size.
    {ax}
    {kwargs}

    {returns}

    Examples
    --------
    >>> ax = plot_size_distribution(df, bins=20)  # doctest: +SKIP
    """
    if by_status not in (True, False):
        raise InvalidArgumentError(
            f"The value for `by_status` must be one of [True, False], but {by_status!r} was passed.")
    check_int("bins", bins, 1)
    ax = _start(df, ax, "File sizes", ["total_size"] + (["status"] if by_status else []))
    if len(df) == 0:
        return ax
    sizes = _floats(df["total_size"])
    known = ~np.isnan(sizes)
    if not known.any():
        return _note(ax, f"no sizes known ({len(df):,} sessions)")
    values = sizes[known]
    positive = values[values > 0]
    lo, hi = (positive.min(), positive.max()) if len(positive) else (1.0, 1.0)
    if lo == hi:
        lo, hi = lo / 2, hi * 2
    edges = np.geomspace(lo, hi, bins + 1)
    shown = np.clip(values, lo, None)  # 0 B into the first bin
    if by_status:
        groups = _status_groups(df["status"][known])
        data = [shown[mask] for _, mask, _ in groups]
        style = {"color": [c for _, _, c in groups], "label": [f"{s} ({m.sum():,})" for s, m, _ in groups]}
    else:
        data, style = [shown], {"color": _NEUTRAL, "label": f"sessions ({len(shown):,})"}
    ax.hist(data, bins=edges, **{"stacked": True, "edgecolor": "white", "linewidth": 0.5, **style, **kwargs})
    for q, ls, name in ((50, "--", "median"), (95, ":", "p95")):
        x = float(np.percentile(values, q))
        ax.axvline(max(x, lo), color="black", linestyle=ls, linewidth=1.2, label=f"{name} {format_bytes(x)}")
    _bytes_axis(ax.xaxis)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel("File size (binary units: 1 MiB = 1,048,576 bytes; log scale)")
    ax.set_ylabel("Sessions")
    notes = [f"{(~known).sum():,} without size not shown"] if (~known).any() else []
    notes += [f"{(values <= 0).sum():,} of 0 B in first bin"] if (values <= 0).any() else []
    if notes:
        ax.set_title(f"File sizes ({'; '.join(notes)})")
    _legend(ax)
    return ax


@_doc("scatter")
def plot_chunk_configurations(df, *, ax=None, **kwargs):
    """Chunk sizes in use and the chunk counts they imply, one marker per pair.

    Each distinct ``(chunk_size, total_chunks)`` pair is one marker whose area
    grows with the number of sessions; sessions whose ``chunks_consistent`` is
    False (``total_chunks != ceil(total_size / chunk_size)``) are drawn as
    black crosses. Rows missing either value, or with zeros, are counted in
    the title.

    Parameters
    ----------
    df : pandas.DataFrame
        An uploads frame with ``chunk_size``, ``total_chunks`` and ``chunks_consistent``.
    {ax}
    {kwargs}

    {returns}

    Examples
    --------
    >>> ax = plot_chunk_configurations(df)  # doctest: +SKIP
    """
    ax = _start(df, ax, "Chunk configurations", ["chunk_size", "total_chunks", "chunks_consistent"])
    if len(df) == 0:
        return ax
    cs, tc = _floats(df["chunk_size"]), _floats(df["total_chunks"])
    ok = (cs > 0) & (tc > 0)  # NaN compares False
    if not ok.any():
        return _note(ax, f"no chunk information ({len(df):,} sessions)")
    flag = df["chunks_consistent"].astype("boolean")
    state = np.where(flag.isna().to_numpy(), "unknown", np.where(_flags(flag), "ok", "bad"))
    pairs = pd.DataFrame({"cs": cs[ok], "tc": tc[ok], "state": state[ok]})
    biggest = pairs.groupby(["cs", "tc"]).size().max()
    handles = []
    kinds = (
        ("ok", "consistent", {"marker": "o", "color": _NEUTRAL, "edgecolor": "black", "linewidth": 0.5,
                              "alpha": 0.8, **kwargs}),
        ("unknown", "cannot check: size unknown", {"marker": "o", "color": "white", "edgecolor": "0.4"}),
        ("bad", "arithmetic does not add up", {"marker": "x", "color": _ALERT, "linewidth": 2, "zorder": 3}),
    )
    for kind, label, style in kinds:
        rows = pairs[pairs["state"] == kind]
        if rows.empty:
            continue
        counts = rows.groupby(["cs", "tc"]).size().reset_index(name="n")
        # Crosses have no area, so they get a floor large enough to stand out on top of circles.
        floor = 90 if kind == "bad" else 30
        ax.scatter(counts["cs"], counts["tc"], s=floor + 400 * counts["n"] / biggest, **style)
        handles.append(Line2D([], [], linestyle="", marker=style.get("marker", "o"), markersize=7,
                              color=style.get("color"), markeredgecolor=style.get("edgecolor", style.get("color")),
                              label=f"{label} ({len(rows):,})"))
        if len(counts) <= 12:
            for row in counts.itertuples():
                ax.annotate(f"{row.n:,}", (row.cs, row.tc), xytext=(6, 4), textcoords="offset points",
                            fontsize="x-small")
    distinct = np.unique(cs[ok])
    _bytes_axis(ax.xaxis, distinct if len(distinct) <= 8 else None)
    if len(distinct) == 1:
        ax.set_xlim(distinct[0] / 2, distinct[0] * 2)
    ax.set_yscale("log")
    ax.set_xlabel("Chunk size (binary units; log scale)")
    ax.set_ylabel("Chunks per session (log scale)")
    if (~ok).any():
        ax.set_title(f"Chunk configurations ({(~ok).sum():,} without chunk info not shown)")
    _legend(ax, handles=handles, title="marker area ~ sessions", title_fontsize="small")
    return ax


def _zero_aligned_edges(lo, hi, bins):
    """About ``bins`` equal bins over [lo, hi] with 0 on an edge (so no bin straddles as_of)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    width = (hi - lo) / bins or 1.0
    return width * np.arange(math.floor(lo / width), math.ceil(hi / width) + 1)


@_doc("hist")
def plot_expiry_distribution(df, *, bins=30, ax=None, **kwargs):
    """Histogram of ``time_to_expiry`` in hours, expired sessions in their own colour.

    Zero is ``as_of``, marked by a vertical line, and always a bin edge.
    Sessions with ``time_to_expiry <= 0`` are stacked separately as
    "expired". So that long-expired sessions do not squeeze the rest, the
    negative side is at most as long as the positive side: older ones are
    counted in the leftmost bin (the legend says how many).

    Parameters
    ----------
    df : pandas.DataFrame
        An uploads frame with ``time_to_expiry``.
    bins : int, default 30
        Approximate number of bins.
    {ax}
    {kwargs}

    {returns}

    Examples
    --------
    >>> ax = plot_expiry_distribution(df, bins=24)  # doctest: +SKIP
    """
    check_int("bins", bins, 1)
    ax = _start(df, ax, "Time to expiry", ["time_to_expiry"])
    if len(df) == 0:
        return ax
    hours = _hours(df["time_to_expiry"])
    known = ~np.isnan(hours)
    opened = (metrics.open_mask(df).to_numpy() if {"status", "is_expired"} <= set(df.columns)
              else np.ones(len(df), dtype=bool))[known]
    hours = hours[known]
    if len(hours) == 0:
        return _note(ax, f"no expiry times known ({len(df):,} sessions)")
    expired, left = hours[hours <= 0], hours[hours > 0]
    left_open, left_done = hours[(hours > 0) & opened], hours[(hours > 0) & ~opened]
    floor = -max(left.max(), 1.0) if len(left) else hours.min()
    clipped = int((expired < floor).sum())
    edges = _zero_aligned_edges(max(hours.min(), floor), hours.max(), bins)
    expired = np.clip(expired, edges[0], None)
    older = f"; {clipped:,} older at left edge" if clipped else ""
    ax.hist([left_open, left_done, expired], bins=edges, **{
        "stacked": True, "color": [_NEUTRAL, STATUS_COLORS["completed"], STATUS_COLORS["expired"]],
        "edgecolor": "white", "linewidth": 0.5,
        "label": [f"open ({len(left_open):,})", f"finished, not yet expired ({len(left_done):,})",
                  f"past expiry, any status ({len(expired):,}{older})"], **kwargs})
    as_of = _as_of(df)
    ax.axvline(0, color="black", linewidth=1.2, label=f"as of {format_utc(as_of)}" if as_of is not None else "as of")
    ax.xaxis.set_major_locator(ticker.MaxNLocator(nbins=9, steps=[1, 2, 3, 6, 10]))
    ax.set_xlabel("Hours until expiry (negative: hours since expiry)")
    ax.set_ylabel("Sessions")
    if len(hours) < len(df):
        ax.set_title(f"Time to expiry ({len(df) - len(hours):,} without expiry not shown)")
    _legend(ax)
    return ax


def _short_id(upload_id):
    """``"0a1b2c…e9f0"`` for long ids, the id itself otherwise."""
    upload_id = str(upload_id)
    return upload_id if len(upload_id) <= 12 else f"{upload_id[:6]}…{upload_id[-4:]}"


@_doc("barh")
def plot_expiry_timeline(df, *, n=20, ax=None, **kwargs):
    """Time left per open session: the ``n`` open sessions that expire soonest, soonest on top.

    Only open sessions are drawn (see :func:`tlanalytics.metrics.open_mask`):
    the question this answers is "what will be lost next". Each bar is the
    time left until ``expires_at``; it is orange when the session is at
    risk, near black when stalled, blue otherwise, and labelled with the
    upload progress when it is known.

    Parameters
    ----------
    df : pandas.DataFrame
        An uploads frame with ``upload_id``, ``status``, ``time_to_expiry``
        and ``is_expired`` (progress columns optional).
    n : int, default 20
        How many sessions to show at most.
    {ax}
    {kwargs}

    {returns}

    Examples
    --------
    >>> ax = plot_expiry_timeline(df, n=10)  # doctest: +SKIP
    """
    check_int("n", n, 1)
    needed = ["upload_id", "status", "time_to_expiry", "is_expired"]
    ax = _start(df, ax, "Time left per open session", needed)
    if len(df) == 0:
        return ax
    pending = df[metrics.expiring_mask(df, pd.Timedelta.max)]
    if pending.empty:
        return _note(ax, "no open session left to expire")
    top = pending.sort_values(["time_to_expiry", "upload_id"], kind="stable").head(n)
    hours = _hours(top["time_to_expiry"])
    unit, scale = ("Minutes", 60.0) if np.nanmax(hours) < 2 else ("Hours", 1.0)
    hours = hours * scale
    risky = metrics.at_risk_mask(top).to_numpy()
    stalled = metrics.stalled_mask(top).to_numpy()
    colors = np.where(stalled, _ALERT, np.where(risky, _WARN, _NEUTRAL))
    y = np.arange(len(top))
    ax.barh(y, hours, **{"color": list(colors), "height": 0.7, **kwargs})
    labels = [f"{_short_id(u)} · {format_duration(t)}" for u, t in zip(top["upload_id"], top["time_to_expiry"])]
    ax.set_yticks(y, labels, fontsize="small", family="monospace")
    ax.set_ylim(len(top) - 0.5, -0.5)  # soonest on top
    if metrics.has_progress(top):
        for yi, h, p in zip(y, hours, _floats(top["progress"])):
            text = "progress unknown" if np.isnan(p) else f"{math.floor(p * 100)}% uploaded"
            ax.annotate(text, (h, yi), xytext=(4, 0), textcoords="offset points", va="center", fontsize="x-small")
    ax.set_xlim(0, max(float(np.nanmax(hours)), 1e-3) * 1.35)  # room for the labels
    ax.set_xlabel(f"{unit} until expiry")
    ax.set_ylabel("Open session (id · time left)")
    total = int(metrics.open_mask(df).sum())
    ax.set_title(f"Time left: {len(top):,} of {total:,} open sessions, soonest first")
    handles = [Patch(color=_NEUTRAL, label="on track or progress unknown")]
    if metrics.has_progress(top):
        handles += [Patch(color=_WARN, label="at risk"), Patch(color=_ALERT, label="stalled")]
    _legend(ax, handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # outside: bars and labels fill it
    return ax


@_doc("barh")
def plot_status_breakdown(df, *, ax=None, **kwargs):
    """Sessions per status as bars, each annotated with its share and total bytes.

    Every documented status gets a bar (possibly empty), then any other
    status present; missing statuses are counted as "missing".

    Parameters
    ----------
    df : pandas.DataFrame
        An uploads frame with ``status`` and ``total_size``.
    {ax}
    {kwargs}

    {returns}

    Examples
    --------
    >>> ax = plot_status_breakdown(df)  # doctest: +SKIP
    """
    ax = _start(df, ax, "Sessions and bytes by status", ["status", "total_size"])
    if len(df) == 0:
        return ax
    table = metrics.status_table(df)
    names = list(table.index)
    counts, total_bytes = table["sessions"], table["bytes"]
    y = np.arange(len(names))
    ax.barh(y, counts.to_numpy(), **{"color": [status_color(s) for s in names], "height": 0.7, **kwargs})
    ax.set_yticks(y, names)
    ax.set_ylim(len(names) - 0.5, -0.5)
    for yi, name in zip(y, names):
        share = counts[name] / len(df)
        share = "<1%" if 0 < share < 0.005 else f"{share:.0%}"
        ax.annotate(f"{counts[name]:,} ({share}) · {format_bytes(total_bytes[name])}", (counts[name], yi),
                    xytext=(4, 0), textcoords="offset points", va="center", fontsize="small")
    ax.set_xlim(0, max(counts.max(), 1) * 1.45)  # room for the annotations
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_xlabel("Sessions (labels: sessions, share, total file size in binary units)")
    ax.set_ylabel("Reported status")
    return ax


@_doc("hist")
def plot_progress(df, *, bins=20, ax=None, **kwargs):
    """Histogram of ``progress`` in percent, stalled and at-risk sessions stacked apart.

    A session both stalled and at risk counts as stalled. Sessions without
    progress (e.g. ``vanished``) are left out and counted in the title;
    values outside 0-100 % are clipped to the edge bins.

    Parameters
    ----------
    df : pandas.DataFrame
        An uploads frame with the progress columns ``progress``, ``stalled``
        and ``at_risk``.
    bins : int, default 20
        Number of equal bins from 0 to 100 %.
    {ax}
    {kwargs}

    {returns}

    Examples
    --------
    >>> ax = plot_progress(add_progress(df))  # doctest: +SKIP
    """
    check_int("bins", bins, 1)
    ax = _start(df, ax, "Upload progress", ["progress", "stalled", "at_risk"])
    if len(df) == 0:
        return ax
    pct = _floats(df["progress"]) * 100
    known = ~np.isnan(pct)
    if not known.any():
        return _note(ax, f"no progress known ({len(df):,} sessions)")
    stalled, at_risk = metrics.stalled_mask(df).to_numpy(), metrics.at_risk_mask(df).to_numpy()
    kinds = ((~stalled & ~at_risk, "other", _NEUTRAL), (at_risk & ~stalled, "at risk, not stalled", _WARN),
             (stalled, "stalled", _ALERT))
    data = [np.clip(pct[mask & known], 0, 100) for mask, _, _ in kinds]
    ax.hist(data, bins=np.linspace(0, 100, bins + 1), **{
        "stacked": True, "color": [c for _, _, c in kinds], "edgecolor": "white", "linewidth": 0.5,
        "label": [f"{label} ({len(d):,})" for d, (_, label, _) in zip(data, kinds)], **kwargs})
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(ticker.PercentFormatter(100))
    ax.set_xlabel("Bytes uploaded (% of file size)")
    ax.set_ylabel("Sessions")
    if not known.all():
        ax.set_title(f"Upload progress of {known.sum():,} sessions ({(~known).sum():,} not read or vanished)")
    _legend(ax)
    return ax


def overview(df, *, figsize=None):
    """One figure with every plot: the summary used by the HTML report.

    The progress panel appears only when the frame has the progress
    columns. The figure is a :class:`matplotlib.figure.Figure` made without
    pyplot: it never opens a window, is not tracked by pyplot and is safe
    to build in a thread. Save it with ``fig.savefig(...)``.

    Parameters
    ----------
    df : pandas.DataFrame
        An uploads frame.
    figsize : tuple of float, optional
        Width and height in inches; by default (15, 16).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = overview(df)  # doctest: +SKIP
    >>> fig.savefig("uploads.png", dpi=100)  # doctest: +SKIP
    """
    _require_frame(df)
    with_progress = {"progress", "stalled", "at_risk"} <= set(df.columns)
    fig = Figure(figsize=figsize or (15, 16), layout="constrained")
    grid = fig.add_gridspec(3, 2, height_ratios=[1, 1, 1.3])
    plot_status_breakdown(df, ax=fig.add_subplot(grid[0, 0]))
    plot_size_distribution(df, ax=fig.add_subplot(grid[0, 1]))
    plot_expiry_distribution(df, ax=fig.add_subplot(grid[1, 0]))
    plot_chunk_configurations(df, ax=fig.add_subplot(grid[1, 1]))
    if with_progress:
        plot_progress(df, ax=fig.add_subplot(grid[2, 0]))
        plot_expiry_timeline(df, ax=fig.add_subplot(grid[2, 1]))
    else:
        plot_expiry_timeline(df, ax=fig.add_subplot(grid[2, :]))
    as_of = _as_of(df)
    when = f" as of {format_utc(as_of)}" if as_of is not None else ""
    fig.suptitle(f"{len(df):,} upload sessions{when}", fontsize="x-large", fontweight="bold")
    return fig


def figure_png(fig, *, dpi=100):
    """PNG bytes of a Figure; its artists are dropped afterwards, so a Figure made without pyplot is freed.

    The one place the report, the explorer and the CLI turn a figure into PNG.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure; it is empty afterwards.
    dpi : int, default 100
        Resolution.

    Returns
    -------
    bytes
        The PNG file's bytes.

    Examples
    --------
    >>> png = figure_png(overview(df), dpi=90)  # doctest: +SKIP
    """
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        return buf.getvalue()
    finally:
        fig.clear()


def plot_png(plot, df, *, figsize, dpi=100, **kwargs):
    """One plot function drawn alone on a constrained Figure made without pyplot, as PNG bytes.

    Parameters
    ----------
    plot : callable
        A plot function of this module, called as ``plot(df, ax=ax, **kwargs)``.
    df : pandas.DataFrame
        An uploads frame.
    figsize : tuple of float
        Width and height in inches.
    dpi : int, default 100
        Resolution of the PNG.
    **kwargs
        Passed on to ``plot``.

    Returns
    -------
    bytes
        As :func:`figure_png` returns them.

    Examples
    --------
    >>> png = plot_png(plot_expiry_timeline, df, figsize=(8, 4), n=10)  # doctest: +SKIP
    """
    fig = Figure(figsize=figsize, layout="constrained")
    plot(df, ax=fig.add_subplot(), **kwargs)
    return figure_png(fig, dpi=dpi)
