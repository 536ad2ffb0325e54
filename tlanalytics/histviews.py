"""Views of the history: the trend table for people, the report's Trends section, the explorer's History tab.

Every number comes from :func:`~tlanalytics.trends` and
:func:`~tlanalytics.session_outcomes`; this module only formats them, so the
CLI, the HTML report and the widget can never disagree.
"""

from __future__ import annotations

import base64
import html
import io
import math

import pandas as pd

from ._docfill import HISTORY_DOCS, fill_doc
from ._units import NA_TEXT, format_bytes, format_duration
from .errors import InvalidArgumentError

__all__ = ["TREND_COLUMNS", "format_trends", "trends_figure", "trends_html", "HistoryTab", "history_tab"]

#: Column of :func:`~tlanalytics.trends` -> header people read (the CLI, the report and the widget).
TREND_COLUMNS = {
    "created": "Created", "completed": "Completed", "expired": "Expired", "failed": "Failed",
    "ended_unseen": "Ended unseen", "open_at_end": "Open at end", "bytes_open_at_end": "Held at end",
    "bytes_wasted": "Wasted", "completion_rate": "Completion rate",
    "median_time_to_complete": "Median to complete", "p90_time_to_complete": "p90 to complete",
}
_BYTES = ("bytes_open_at_end", "bytes_wasted")
_TIMES = ("median_time_to_complete", "p90_time_to_complete")
_FREQS = {"D": "day", "h": "hour", "W": "week", "M": "month"}
_e = html.escape


def _check(trends):
    if not isinstance(trends, pd.DataFrame) or not set(TREND_COLUMNS) <= set(trends.columns):
        raise InvalidArgumentError("The value for `trends` must be the table of `trends(history)`.")


def _period_label(index):
    """Dates alone when every period starts at midnight, else date and time."""
    whole_days = all(t.hour == 0 and t.minute == 0 for t in index)
    return [t.strftime("%Y-%m-%d" if whole_days else "%Y-%m-%d %H:%M") for t in index]


def _cell(name, value):
    if pd.isna(value):
        return NA_TEXT
    if name in _BYTES:
        return format_bytes(value)
    if name in _TIMES:
        return format_duration(value)
    if name == "completion_rate":
        return f"{math.floor(float(value) * 1000) / 10:.1f}%"
    return f"{int(value):,}"


@fill_doc(HISTORY_DOCS)
def format_trends(trends):
    """The trend table as text for people: periods, counts with separators, binary sizes, durations.

    Parameters
    ----------
    {trends_param}

    Returns
    -------
    pandas.DataFrame
        Strings; the first column ``Period`` (UTC), then :data:`TREND_COLUMNS`'
        headers. Missing values read ``n/a``; rates are rounded down to 0.1 %.

    {raises_trends}

    Examples
    --------
    >>> from tlanalytics import generate_history, trends
    >>> list(format_trends(trends(generate_history(days=2, seed=1))).columns[:3])
    ['Period', 'Created', 'Completed']
    """
    _check(trends)
    out = {"Period": _period_label(trends.index)}
    for name, header in TREND_COLUMNS.items():
        out[header] = [_cell(name, v) for v in trends[name]]
    return pd.DataFrame(out)


@fill_doc(HISTORY_DOCS)
def trends_figure(trends, outcomes=None, *, figsize=(12, 8)):
    """A figure of the trends: outcomes, bytes, completion rate and (with ``outcomes``) time to complete.

    Parameters
    ----------
    {trends_param}
    outcomes : pandas.DataFrame, optional
        From :func:`~tlanalytics.session_outcomes`; adds the Kaplan-Meier curve.
    figsize : tuple, default (12, 8)

    Returns
    -------
    matplotlib.figure.Figure
        Built outside pyplot (nothing to close).

    Examples
    --------
    >>> from tlanalytics import generate_history, trends
    >>> len(trends_figure(trends(generate_history(days=2, seed=1))).axes) >= 3
    True
    """
    from matplotlib.figure import Figure

    from .histplots import plot_time_to_complete, plot_trends

    _check(trends)
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    for top in axes[:2]:  # the periods of the top panels are the rate panel's: its dates label all three
        top.sharex(axes[2])
    plot_trends(trends, kind="outcomes", ax=axes[0])
    plot_trends(trends, kind="bytes", ax=axes[1])
    plot_trends(trends, kind="rate", ax=axes[2])
    for top in axes[:2]:
        top.tick_params(axis="x", labelbottom=False)
        top.set_xlabel("")
    if outcomes is not None:
        plot_time_to_complete(outcomes, ax=axes[3])
    else:
        axes[3].set_visible(False)
    return fig


def _png(fig, dpi=80):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _table_html(text):
    head = "".join(f"<th>{_e(h)}</th>" for h in text.columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" if i == 0 else f'<td class="n">{_e(v)}</td>'
                                    for i, v in enumerate(row)) + "</tr>" for row in text.itertuples(index=False))
    return f'<table id="trends"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


@fill_doc(HISTORY_DOCS)
def trends_html(trends, outcomes=None, *, png=True):
    """The report's Trends section: a heading, a sentence, the figure as a base64 PNG and the table.

    Plain HTML with the classes of :func:`~tlanalytics.report` (so it takes
    its style when embedded there), every value escaped, no script.

    Parameters
    ----------
    {trends_param}
    outcomes : pandas.DataFrame, optional
        From :func:`~tlanalytics.session_outcomes` (adds the time-to-complete curve and totals).
    png : bool, default True
        Embed the figure (:func:`trends_figure`); False leaves it out.

    Returns
    -------
    str

    {raises_trends}

    Examples
    --------
    >>> from tlanalytics import generate_history, trends
    >>> trends_html(trends(generate_history(days=2, seed=1)), png=False)[:24]
    '<h2 id="trends-section">'
    """
    _check(trends)
    parts = ['<h2 id="trends-section">Trends</h2>']
    if len(trends) == 0:
        parts.append('<p class="note" id="trends-empty">No snapshots yet: run <code>tlanalytics snapshot</code> '
                     'regularly (e.g. hourly from cron) to build a history.</p>')
        return "\n".join(parts)
    text = format_trends(trends)
    ended = int(trends[["completed", "expired", "failed", "ended_unseen"]].to_numpy().sum())
    sentence = (f"{len(trends):,} periods from {text['Period'].iloc[0]} to {text['Period'].iloc[-1]} (UTC): "
                f"{int(trends['created'].sum()):,} sessions created, {ended:,} ended, of which "
                f"{int(trends['completed'].sum()):,} seen completed; "
                f"{format_bytes(int(trends['bytes_wasted'].sum()))} uploaded to sessions that never completed.")
    parts.append(f'<p id="trends-summary">{_e(sentence)}</p>')
    if png:
        data = base64.b64encode(_png(trends_figure(trends, outcomes))).decode("ascii")
        parts.append(f'<figure><img id="trends-plot" alt="Trends of the upload sessions" '
                     f'src="data:image/png;base64,{data}"></figure>')
    parts.append('<p class="note">Counts are by the period a session ended in (its end is known to within one '
                 'snapshot); open sessions and bytes held are as of the period\'s last snapshot; times to complete '
                 'are Kaplan-Meier estimates over the sessions created in the period.</p>')
    parts.append(f'<div class="scroll">{_table_html(text)}</div>')  # wide: scrolls on narrow pages
    return "\n".join(parts)


class HistoryTab:
    """The explorer's History tab: a period picker, the trends figure and the table, for one history.

    Parameters
    ----------
    history : pandas.DataFrame
        A history frame (:func:`~tlanalytics.load_history` or
        :func:`~tlanalytics.generate_history`).
    freq : {"D", "h", "W", "M"}, default "D"
        The period shown first.

    Examples
    --------
    >>> from tlanalytics import generate_history
    >>> tab = HistoryTab(generate_history(days=2, seed=1))
    >>> tab.widget.children[0].value
    'D'
    """

    def __init__(self, history, *, freq="D"):
        import ipywidgets as w

        from .outcomes import session_outcomes

        if freq not in _FREQS:
            raise InvalidArgumentError(f"The value for `freq` must be one of {list(_FREQS)}, but {freq!r} was passed.")
        self._history = history
        self._outcomes = session_outcomes(history)
        self._freq = w.Dropdown(options=[(f"per {v}", k) for k, v in _FREQS.items()], value=freq,
                                description="Periods")
        self._image = w.Image(format="png")
        self._table = w.HTML()
        self._freq.observe(self._on_freq_change, names="value")
        self.widget = w.VBox([self._freq, self._image, self._table])
        self._update()

    @property
    def trends(self):
        """The trend table shown now."""
        return self._trends

    def _update(self):
        from .outcomes import trends

        self._trends = trends(self._history, self._freq.value, outcomes=self._outcomes)
        if len(self._trends):
            self._image.value = _png(trends_figure(self._trends, self._outcomes), dpi=70)
        self._table.value = _table_html(format_trends(self._trends))

    def _on_freq_change(self, change):
        self._update()


def history_tab(history, *, freq="D"):
    """The History tab for the explorer: an ipywidgets VBox built from a history frame.

    Parameters
    ----------
    history : pandas.DataFrame
        A history frame.
    freq : {"D", "h", "W", "M"}, default "D"
        The period shown first.

    Returns
    -------
    ipywidgets.VBox
        Period picker, trends figure (PNG) and trend table.

    Examples
    --------
    >>> from tlanalytics import generate_history
    >>> len(history_tab(generate_history(days=2, seed=1)).children)
    3
    """
    return HistoryTab(history, freq=freq).widget
