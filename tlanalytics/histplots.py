"""Plots of the history: trends per period and the time to complete.

Same contract as :mod:`tlanalytics.plots`: ``ax=None`` draws into the
current Axes, ``kwargs`` go to the main matplotlib call, the Axes is
returned, empty data gets a note, and nothing calls ``plt.show()``. Outcomes
take the colours of the matching statuses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import ticker

from ._docfill import HISTORY_DOCS, fill_doc
from ._units import format_bytes
from .errors import InvalidArgumentError
from .completion import completion_curve, time_to_complete
from .histstate import require_frame
from .plots import STATUS_COLORS, status_color

__all__ = ["OUTCOME_COLORS", "plot_trends", "plot_time_to_complete"]

#: One colour per outcome: the status colours, and purple for sessions that ended unseen.
OUTCOME_COLORS = {"completed": status_color("completed"), "expired": status_color("expired"),
                  "failed": status_color("failed"), "ended unseen": "#cc79a7", "open": status_color("active")}
_COUNTS = (("completed", "completed"), ("expired", "expired"), ("failed", "failed"), ("ended_unseen", "ended unseen"))
_KINDS = ("outcomes", "bytes", "rate")


def _axes(ax, title):
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    ax.set_title(title)
    return ax


def _note(ax, text):
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4", fontsize="large")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _check(frame, name, needed):
    require_frame(frame, name, needed, f"the result of `{'trends' if name == 'trends' else 'session_outcomes'}(history)`")


@fill_doc(HISTORY_DOCS)
def plot_trends(trends, *, kind="outcomes", ax=None, **kwargs):
    """Plot the trend table: outcomes per period, bytes, or the completion rate.

    Parameters
    ----------
    {trends_param}
    kind : {"outcomes", "bytes", "rate"}, default "outcomes"
        ``"outcomes"``: stacked bars of the sessions that ended in each period
        by outcome, and a line of sessions created. ``"bytes"``: bytes held by
        open sessions at the end of each period (line) and bytes wasted in it
        (bars). ``"rate"``: the completion rate, and the median time to
        complete on a second axis.
    {hist_ax}
    **kwargs
        Passed to the bar call (``"outcomes"``, ``"bytes"``) or the line call (``"rate"``).

    {returns_ax}

    {raises_invalid}
        Not a trend table, or an unknown ``kind``.

    Examples
    --------
    >>> from tlanalytics import generate_history, trends
    >>> ax = plot_trends(trends(generate_history(days=3, seed=1)))
    >>> len(ax.patches) > 0
    True
    """
    if kind not in _KINDS:
        raise InvalidArgumentError(f"The value for `kind` must be one of {list(_KINDS)}, but {kind!r} was passed.")
    _check(trends, "trends", ["created", "bytes_open_at_end", "bytes_wasted", "completion_rate"]
           + [c for c, _ in _COUNTS])
    titles = {"outcomes": "Sessions ended per period, by outcome", "bytes": "Bytes held by open sessions and wasted",
              "rate": "Completion rate"}
    ax = _axes(ax, titles[kind])
    if len(trends) == 0:
        return _note(ax, "no snapshots")
    x = trends.index.tz_localize(None) if getattr(trends.index, "tz", None) is not None else trends.index
    step = (x[1] - x[0]) if len(x) > 1 else pd.Timedelta(days=1)
    width = step * 0.8
    twin = None  # the rate panel's second axis (median time to complete)
    if kind == "outcomes":
        bottom = np.zeros(len(trends))
        for column, outcome in _COUNTS:
            values = trends[column].to_numpy(dtype="float64")
            ax.bar(x, values, bottom=bottom, **{"width": width, "align": "edge", "color": OUTCOME_COLORS[outcome],
                                                "label": outcome, **kwargs})
            bottom += values
        ax.plot(x + step / 2, trends["created"].to_numpy(dtype="float64"), color="black", marker=".", label="created")
        ax.set_ylabel("sessions")
    elif kind == "bytes":
        ax.bar(x, trends["bytes_wasted"].to_numpy(dtype="float64"),
               **{"width": width, "align": "edge", "color": status_color("failed"), "alpha": 0.7,
                  "label": "bytes wasted", **kwargs})
        ax.plot(x + step / 2, trends["bytes_open_at_end"].to_numpy(dtype="float64", na_value=np.nan),
                color=STATUS_COLORS["active"], marker=".", label="held by open sessions at the end")
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: format_bytes(v, precision=0)))
        ax.set_ylabel("bytes")
    else:
        rate = trends["completion_rate"].to_numpy(dtype="float64", na_value=np.nan) * 100
        ax.plot(x + step / 2, rate, **{"color": status_color("completed"), "marker": "o", "label": "completion rate",
                                       **kwargs})
        ax.set_ylim(0, 100)
        ax.set_ylabel("% of the sessions that ended")
        if "median_time_to_complete" in trends.columns:
            hours = trends["median_time_to_complete"].dt.total_seconds().to_numpy(dtype="float64", na_value=np.nan)
            twin = ax.twinx()
            twin.plot(x + step / 2, hours / 3600, color="0.3", linestyle="--", label="median time to complete")
            twin.set_ylabel("median time to complete (h)")
            twin.set_ylim(bottom=0, top=np.nanmax(hours / 3600, initial=0) * 1.25 or None)
    handles, labels = ax.get_legend_handles_labels()
    if twin is not None:  # the twin's line too: one legend for the panel
        more = twin.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    if kind != "rate":
        ax.set_ylim(top=ax.get_ylim()[1] * 1.3)  # headroom: the legend sits above the bars, not on them
    ax.legend(handles, labels, loc="upper left", fontsize="small", ncols=3)
    ax.set_xlabel("period (UTC)")
    # Dates slanted as Figure.autofmt_xdate slants them, on this axes only: autofmt_xdate turns every axes of
    # the figure and calls subplots_adjust, which a layout engine refuses (a UserWarning on matplotlib 3.9).
    ax.tick_params(axis="x", labelrotation=30)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    return ax


@fill_doc(HISTORY_DOCS)
def plot_time_to_complete(outcomes, *, ax=None, **kwargs):
    """Plot the Kaplan-Meier share of sessions completed against time since creation.

    Open sessions are censored (see :func:`~tlanalytics.completion_curve`);
    the median is marked.

    Parameters
    ----------
    {outcomes_param}
    {hist_ax}
    **kwargs
        Passed to the step line.

    {returns_ax}

    {raises_outcomes}

    Examples
    --------
    >>> from tlanalytics import generate_history, session_outcomes
    >>> ax = plot_time_to_complete(session_outcomes(generate_history(days=3, seed=1)))
    >>> ax.get_xlabel()
    'hours since creation'
    """
    _check(outcomes, "outcomes", ["outcome", "created_at", "ended_at"])
    ax = _axes(ax, "Time to complete (Kaplan-Meier, open sessions censored)")
    curve = completion_curve(outcomes)
    if len(curve) == 0:
        return _note(ax, "no completed sessions")
    hours = np.concatenate([[0.0], curve["time"].dt.total_seconds().to_numpy() / 3600])
    share = np.concatenate([[0.0], curve["completed"].to_numpy() * 100])
    kwargs.setdefault("color", status_color("completed"))
    ax.step(hours, share, where="post", label="completed", **kwargs)
    median = time_to_complete(outcomes, 0.5)
    if pd.notna(median):
        median = median.total_seconds() / 3600
        ax.axvline(median, color="0.3", linestyle="--", label=f"median {median:.1f} h")
    ax.set_xlabel("hours since creation")
    ax.set_ylabel("% completed")
    ax.set_ylim(0, 100)
    ax.set_xlim(left=0)
    ax.legend(loc="lower right", fontsize="small")
    return ax
