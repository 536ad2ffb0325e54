"""The page kernel's side of ``tlanalytics dashboard``: an early start, and a History tab filled later.

Voilà (with progressive rendering) answers a visit at once with the page and
starts its kernel; the browser then spends a second or more loading the
page's scripts before it asks the kernel to run ``templates/dashboard.ipynb``.
The dashboard's kernel spec (written by :func:`tlanalytics.dashboard.serve`)
runs :func:`warm_up` as the kernel starts, so that time is not lost: the
modules the first view needs are imported and the sessions are being loaded
(in a thread) by the time the notebook runs; :func:`tlanalytics.dashboard.load`
then takes that load instead of starting another.

The History tab (with ``--store``, or the simulated history in demo mode) is
not on the first view's path: :func:`history_view` gives a tab that says it is
loading, and its :meth:`LaterHistory.start` builds the trends in a thread once
the explorer is displayed, then puts them in the tab.
"""

from __future__ import annotations

import concurrent.futures
import html
import logging
import threading

__all__ = ["warm_up", "take_prefetched", "history_view", "LaterHistory", "DEMO_DAYS", "DEMO_SEED"]

log = logging.getLogger(__name__)

#: What the demo's History tab shows: what ``tlanalytics history --demo`` shows (30 days, seed 0).
DEMO_DAYS, DEMO_SEED = 30, 0

_lock = threading.Lock()
_prefetched = {}  # settings -> Future of the sessions, started by warm_up, taken once by load


def warm_up(environ=None):
    """In a thread: import the first view's modules, then load the sessions of the kernel's settings.

    Run by the dashboard's kernel as it starts (IPython ``exec_lines``), while
    the browser is still loading the page. The kernel answers at once (the
    page's script waits for its first answer); the notebook then takes the
    result with :func:`take_prefetched`. One thread does both, in that order,
    so no two threads import at the same time; the notebook's own imports
    (``tlanalytics.dashboard``) are done here before the thread starts. Never
    raises: what fails here is logged, and then done again, the ordinary way,
    by the notebook.

    Parameters
    ----------
    environ : mapping, optional
        Where the settings are read (``os.environ`` when None).

    Returns
    -------
    concurrent.futures.Future or None
        The sessions, being loaded (None when that could not be started).

    Examples
    --------
    >>> warm_up({"TLANALYTICS_DASHBOARD": '{"demo": true}'})  # doctest: +SKIP
    <Future at 0x... state=running>
    """
    try:
        from .dashboard import settings

        cfg = settings(environ)
        future = concurrent.futures.Future()
        # A daemon thread: a kernel shut down mid-load (the visitor left) does not wait for the load to end.
        threading.Thread(target=_settle, args=(future, _warm, cfg), name="tlanalytics-dashboard-warm-up",
                         daemon=True).start()
    except Exception as exc:  # the notebook loads again, and reports what goes wrong then
        log.warning("The dashboard kernel could not start early: %s", type(exc).__name__)
        return None
    with _lock:
        _prefetched[cfg] = future
    return future


def _settle(future, function, *args):
    """Run ``function(*args)`` and put its result, or its exception, in ``future``."""
    future.set_running_or_notify_cancel()
    try:
        future.set_result(function(*args))
    except BaseException as exc:  # handed to whoever takes the future, as the load's own error
        future.set_exception(exc)


def _warm(cfg):
    """Imports, then the load (what :func:`tlanalytics.dashboard.load` would do, without its error display)."""
    try:
        _import_first_view()
    except Exception as exc:  # only time is lost: the notebook imports what it needs
        log.warning("The dashboard kernel could not import ahead: %s", type(exc).__name__)
    return cfg.loader()(progress=False)


def _import_first_view():
    """Import what the explorer's first view uses, and draw one tiny PNG (fonts and the Agg canvas load)."""
    import io

    import ipywidgets  # noqa: F401
    from matplotlib.figure import Figure

    from . import client, filters, metrics, plots, simulator, widgets  # noqa: F401

    fig = Figure(figsize=(1, 1))
    fig.add_subplot().set_title("warm-up")
    fig.savefig(io.BytesIO(), format="png", dpi=10)


def take_prefetched(cfg):
    """The load :func:`warm_up` started for ``cfg`` (once), or None.

    Parameters
    ----------
    cfg : tlanalytics.dashboard.DashboardSettings

    Returns
    -------
    concurrent.futures.Future or None

    Examples
    --------
    >>> from tlanalytics.dashboard import DashboardSettings
    >>> take_prefetched(DashboardSettings(demo=True)) is None
    True
    """
    with _lock:
        return _prefetched.pop(cfg, None)


class LaterHistory:
    """The explorer's History tab, shown at once as "loading" and filled by a thread.

    Parameters
    ----------
    build : callable
        Returns the history frame (:func:`~tlanalytics.load_history` or
        :func:`~tlanalytics.generate_history`); called in the thread.
    what : str
        What is being loaded, as people read it (HTML-escaped here).

    Attributes
    ----------
    widget : ipywidgets.VBox
        The tab's content (class ``tla-history``): a line saying what it
        shows, then the :func:`~tlanalytics.history_tab` once built.
    history : pandas.DataFrame or None
        The history, once built.
    tab : tlanalytics.HistoryTab or None
        The tab's trends view, once built.
    error : Exception or None
        What went wrong while building, if anything (also shown in the tab).

    Examples
    --------
    >>> from tlanalytics import generate_history
    >>> later = LaterHistory(lambda: generate_history(days=2, seed=1), "two days")
    >>> later.start().join(60)
    >>> later.tab.trends.shape[0] > 0
    True
    """

    def __init__(self, build, what):
        import ipywidgets as w

        self._build, self._what = build, what
        self.history = self.tab = self.error = None
        self._note = w.HTML(f"<p class='tla-history-loading'><i>Loading {html.escape(what)}…</i> "
                            "The other tabs work meanwhile.</p>")
        self.widget = w.VBox([self._note])
        self.widget.add_class("tla-history")
        self._thread = None

    def start(self):
        """Build the tab in a daemon thread (once); returns the thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tlanalytics-dashboard-history", daemon=True)
            self._thread.start()
        return self._thread

    def _run(self):
        from .histviews import HistoryTab
        from .keys import redact

        try:
            history = self._build()
            tab = HistoryTab(history)
        except Exception as exc:  # a thread's exception would otherwise only reach the kernel's log
            self.error = exc
            message = redact(str(exc))  # no key is involved here; if one ever were, it would not show
            log.error("The dashboard could not build the History tab: %s: %s", type(exc).__name__, message)
            self._note.value = (f"<p class='tla-history-error' style='color:#b00020'><b>Could not load "
                                f"{html.escape(self._what)}:</b> {html.escape(type(exc).__name__)}: "
                                f"{html.escape(message)}</p>")
            return
        self.history, self.tab = history, tab
        self._note.value = f"<p class='tla-history-ready'>Trends of {html.escape(self._what)}.</p>"
        self.widget.children = (self._note, tab.widget)


def history_view(cfg, *, now=None):
    """The History tab the page shows for ``cfg``, not yet built; None when there is none.

    ``--store DIR`` shows that store's trends; demo mode without a store
    shows the simulated history of ``tlanalytics history --demo``
    (:func:`~tlanalytics.generate_history` of :data:`DEMO_DAYS` days, seed
    :data:`DEMO_SEED`) up to the current hour, which the tab names.

    Parameters
    ----------
    cfg : tlanalytics.dashboard.DashboardSettings
    now : datetime-like, optional
        The demo history's last snapshot (None: the current hour, UTC).

    Returns
    -------
    LaterHistory or None
        Call its ``start()`` once the explorer is displayed.

    Examples
    --------
    >>> from tlanalytics.dashboard import DashboardSettings
    >>> history_view(DashboardSettings()) is None
    True
    """
    import tlanalytics as tla

    if cfg.store:
        store = cfg.store
        return LaterHistory(lambda: tla.load_history(store, columns=list(tla.ANALYSIS_COLUMNS)),
                            f"the snapshot store {store}")
    if not cfg.demo:
        return None
    import pandas as pd

    end = (pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)).floor("h")
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    what = (f"the simulated history: {DEMO_DAYS} days of hourly snapshots up to {end:%Y-%m-%d %H:%M} UTC "
            f"(seed {DEMO_SEED}, as tlanalytics history --demo)")
    return LaterHistory(lambda: tla.generate_history(days=DEMO_DAYS, seed=DEMO_SEED, now=end), what)
