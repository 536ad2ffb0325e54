"""Time to complete, a censored duration: the Kaplan-Meier estimate (pure numpy).

Open sessions have not finished, so their time to complete is only known to
be longer than their age: dropping them would bias every estimate short.
The product-limit estimator takes them as censored. Written in a few lines
of numpy; no survival-analysis dependency. :func:`~tlanalytics.trends` uses
the same functions for its median and p90.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._docfill import HISTORY_DOCS, fill_doc
from .errors import InvalidArgumentError
from .histstate import NAT as _NAT
from .histstate import require_frame, to_ns

__all__ = ["completion_curve", "time_to_complete", "kaplan_meier", "completion_durations", "quantile_time"]



def _check(outcomes, needed):
    require_frame(outcomes, "outcomes", needed, "the result of `session_outcomes(history)`")


def kaplan_meier(durations, events):
    """The Kaplan-Meier (product-limit) estimate: ``(times, survival)`` at each distinct event time.

    Parameters
    ----------
    durations : numpy.ndarray of int
        Time each subject was followed (any unit, here nanoseconds).
    events : numpy.ndarray of bool
        True where the follow-up ended with the event (completion), False
        where it was censored (still open).

    Returns
    -------
    tuple of numpy.ndarray
        The distinct event times, ascending, and the estimated share still
        without the event just after each.

    Examples
    --------
    >>> t, s = kaplan_meier(np.array([1, 2, 2, 3]), np.array([True, True, False, True]))
    >>> t.tolist(), s.round(3).tolist()
    ([1, 2, 3], [0.75, 0.5, 0.0])
    """
    if not len(durations):
        return np.array([], dtype=np.int64), np.array([])
    order = np.argsort(durations, kind="stable")
    d, e = durations[order], events[order]
    times, start = np.unique(d, return_index=True)
    at_risk = len(d) - start
    deaths = np.add.reduceat(e.astype(np.int64), start)
    hit = deaths > 0
    survival = np.cumprod(1.0 - deaths[hit] / at_risk[hit])
    return times[hit], survival


@fill_doc(HISTORY_DOCS)
def completion_durations(outcomes, mask=None):
    """Durations (ns) and completion flags of the time-to-complete population: completed and open sessions.

    Completed sessions count from ``created_at`` to ``ended_at``; open ones
    are censored at the last snapshot (``outcomes.attrs["snapshots"]``).

    Parameters
    ----------
    {outcomes_param}
    mask : numpy.ndarray of bool, optional
        Only these rows.

    Returns
    -------
    tuple of numpy.ndarray
        Durations in nanoseconds and completion flags, in row order.
    """
    snaps = outcomes.attrs.get("snapshots")
    snaps = pd.DatetimeIndex(pd.to_datetime(snaps if snaps is not None else [], utc=True))
    end = to_ns(pd.Series([snaps.max()]))[0] if len(snaps) else _NAT
    kind = outcomes["outcome"].to_numpy(dtype=object)
    take = np.isin(kind, ["completed", "open"]) & outcomes["created_at"].notna().to_numpy()
    if mask is not None:
        take &= mask
    created = to_ns(outcomes["created_at"])[take]
    done = kind[take] == "completed"
    stop = np.where(done, to_ns(outcomes["ended_at"])[take], end)
    return np.maximum(stop - created, 0), done


def quantile_time(times, survival, q):
    """The smallest time by which a share ``q`` has had the event, or NaT when the curve never gets there.

    Parameters
    ----------
    times, survival : numpy.ndarray
        From :func:`kaplan_meier` (times in nanoseconds).
    q : float
        The share, in (0, 1].

    Returns
    -------
    pandas.Timedelta
    """
    hit = np.nonzero(1.0 - survival >= q - 1e-12)[0]
    return pd.Timedelta(int(times[hit[0]]), "ns") if len(hit) else pd.NaT


@fill_doc(HISTORY_DOCS)
def completion_curve(outcomes):
    """The Kaplan-Meier estimate of time from creation to completion.

    Time to complete is censored: open sessions have not finished yet, so
    they count as "not completed after their age at the last snapshot"
    instead of being dropped (which would bias the estimate short). The
    population is completed and open sessions; sessions that expired, failed
    or ended unseen will never complete and are left out, so the curve reads
    "of the sessions that complete, the share done after t". Written with
    numpy (product-limit estimator), no survival-analysis dependency.

    Parameters
    ----------
    {outcomes_param}

    Returns
    -------
    pandas.DataFrame
        ``time`` (Timedelta, each distinct completion time), ``completed``
        (estimated share completed by then, 0-1), ``at_risk`` (sessions still
        going just before). Empty when nothing completed.

    Examples
    --------
    >>> import tlanalytics as tla
    >>> curve = completion_curve(tla.session_outcomes(tla.generate_history(days=3, seed=1)))
    >>> bool(curve["completed"].is_monotonic_increasing)
    True
    """
    _check(outcomes, ("outcome", "created_at", "ended_at"))
    durations, events = completion_durations(outcomes)
    times, survival = kaplan_meier(durations, events)
    at_risk = len(durations) - np.searchsorted(np.sort(durations), times, side="left")
    return pd.DataFrame({"time": pd.to_timedelta(times, unit="ns"), "completed": 1.0 - survival,
                         "at_risk": at_risk.astype(np.int64)})


@fill_doc(HISTORY_DOCS)
def time_to_complete(outcomes, q=0.5):
    """The time by which a share ``q`` of the sessions that complete have completed (Kaplan-Meier).

    The same estimate as the trend table's median and p90, over all sessions
    of ``outcomes`` (see :func:`completion_curve`).

    Parameters
    ----------
    {outcomes_param}
    q : float, default 0.5
        The share, in (0, 1]: 0.5 for the median, 0.9 for the 90th percentile.

    Returns
    -------
    pandas.Timedelta
        NaT while fewer than ``q`` are known to have completed.

    Examples
    --------
    >>> import tlanalytics as tla
    >>> time_to_complete(tla.session_outcomes(tla.generate_history(days=3, seed=1))) > pd.Timedelta(0)
    True
    """
    _check(outcomes, ("outcome", "created_at", "ended_at"))
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q <= 1:
        raise InvalidArgumentError(f"The value for `q` must be a number in (0, 1], but {q!r} was passed.")
    times, survival = kaplan_meier(*completion_durations(outcomes))
    return quantile_time(times, survival, q)
