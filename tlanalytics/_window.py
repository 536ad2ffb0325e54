"""The adaptive concurrency window: how many requests may be in flight, and how fast they may start.

Pure: :class:`Window` is fed observations (each response's outcome, its
latency, the moment it came back and how many requests were in flight) and
answers two questions, :attr:`Window.allowed` (requests in flight) and
:meth:`Window.rate` (requests per second, or None). It reads no clock, takes
no lock and does no I/O; :class:`tlanalytics._http._Concurrency` wraps it with
a lock, the clock and the waiting, so the algorithm is tested without HTTP.

The API's rate limit is not published, so the client finds the server's
capacity the way TCP congestion control and the AWS SDK's adaptive retry mode
do:

- **Slow start**: the window starts at :data:`START` (at most the ceiling,
  ``max_workers``) and grows by one per healthy response (doubling per round
  trip) until the first sign of congestion, then by ``1/limit`` per healthy
  response (one per round trip: additive increase). It only grows while it is
  used (at least half of it in flight), so an idle or rate-paced window does
  not inflate.
- **Latency gradient** (as in Vegas and Netflix's concurrency-limits): the
  baseline is the lowest latency of the last :data:`BASE_SAMPLES` x 2
  responses, the current latency a moving average over about one window of
  responses. Above :data:`HOLD` x baseline the window stops growing; above
  :data:`RISE` x baseline (and :data:`SLACK` seconds more) it is cut by
  :data:`BETA_LATENCY`: requests are queueing at the server.
- **Multiplicative decrease**: a 429 cuts the window by :data:`BETA_THROTTLE`,
  a 5xx by :data:`BETA_ERROR`; at most one cut per congestion event (a
  response to a request sent before the last cut was caused by the old window
  and cuts nothing). Once a rate is learned, a cut keeps at least
  :data:`HEADROOM` x rate x baseline latency: the rate then spaces requests.
- **Learned rate**: a window is a coarse control (at 50 ms per request, 2 in
  flight is 40 requests/s and 3 is 60), and every 429 costs a ``Retry-After``
  pause. So a 429 also sets a rate: :data:`BETA_RATE` x the responses accepted
  in the last second (what the server let through), at least half the previous
  rate. The rate then grows along a cubic curve (as in TCP CUBIC): flat around
  the rate that was throttled for about :data:`RATE_PLATEAU` seconds, then
  faster, so a server whose limit is fixed is probed rarely and one whose
  limit was a transient is found again. A rate that could no longer bind is
  dropped.
"""

from __future__ import annotations

import collections
import math

START = 16  # first window: one round trip fewer than 8 to reach 32 in flight (5,000 sessions: 1.42x to 1.27x
#             the ideal bound); against a rate limit it overshoots once, as 8 did (benchmarks/RESULTS.md)
BASE_SAMPLES = 256  # the latency baseline is the minimum over the last 2 buckets of this many responses
HOLD = 1.5  # latency above HOLD x baseline (+ SLACK): stop growing
RISE = 2.0  # latency above RISE x baseline (+ SLACK): cut
SLACK = 0.010  # seconds of latency noise ignored (thread scheduling on a busy client)
BETA_THROTTLE = 0.5  # window kept after a 429
BETA_ERROR = 0.7  # window kept after a 5xx
BETA_LATENCY = 0.8  # window kept after a clear latency rise
BETA_RATE = 0.9  # rate set after a 429, as a share of what the server accepted in the last second
RATE_PLATEAU = 15.0  # seconds for the learned rate to grow back to where it was throttled
RATE_DEPTH = 1 - BETA_RATE  # the cubic's depth: rate(t) = top * (1 + RATE_DEPTH * ((t - K) / K) ** 3)
MIN_RATE = 10.0  # requests per second: the learned rate never goes below this (the window and Retry-After guard below it)
MIN_SAMPLE = 8  # responses accepted in the last second before a first 429 may set a rate: fewer say nothing of
#                 the server's capacity (a stray 429, or a client that was barely sending), and only the window is cut
HEADROOM = 2.0  # a cut keeps at least HEADROOM x rate x baseline latency in flight


class Window:
    """An adaptive limit on requests in flight, between 1 and ``ceiling``, and an optional learned rate.

    Parameters
    ----------
    ceiling : int
        Most requests in flight ever allowed (the client's ``max_workers``).
    start : int, default START
        First window (capped at ``ceiling``).

    Examples
    --------
    >>> w = Window(32)
    >>> w.allowed
    16
    >>> for _ in range(16):  # a healthy round trip, each response replaced at once by the next request
    ...     w.observe(w.epoch, now=0.05, latency=0.05, in_flight=16)
    >>> w.allowed
    32
    >>> w.observe(w.epoch, now=0.1, throttled=True, in_flight=32)
    >>> w.allowed, w.decreases
    (16, 1)
    """

    def __init__(self, ceiling, *, start=START):
        self.ceiling = int(ceiling)
        self.limit = float(max(1, min(int(start), self.ceiling)))
        self.start = self.peak = self.low = int(self.limit)
        self.slow_start = self.limit < self.ceiling
        self.epoch = 0  # bumped by every cut; observations of older requests cut nothing
        self.decreases = 0
        self.cuts = collections.Counter()  # why: "429", "5xx", "latency"
        self._accepted = collections.deque()  # moments of healthy responses in the last second
        self._base = [math.inf, math.inf]  # latency minimum of the previous and the current bucket
        self._base_n = 0
        self._recent = None  # moving average of latency since the last cut
        self._recent_n = 0
        self._rate_top = None  # the rate the server throttled (requests/s)
        self._rate_since = 0.0

    # -- answers ---------------------------------------------------------
    @property
    def allowed(self):
        """Requests that may be in flight now: ``int(limit)``, at least 1."""
        return max(1, int(self.limit))

    @property
    def baseline(self):
        """The lowest recent latency (seconds), or None before any."""
        low = min(self._base)
        return None if low == math.inf else low

    def rate(self, now):
        """Requests per second allowed at ``now``, or None when no rate was learned (or it was dropped)."""
        if self._rate_top is None:
            return None
        k = RATE_PLATEAU
        t = max(0.0, now - self._rate_since)
        rate = self._rate_top * (1 + RATE_DEPTH * ((t - k) / k) ** 3)
        base = self.baseline
        if t > k and base is not None and rate > 2 * self.ceiling / max(base, 1e-3):
            self._rate_top = None  # the window alone keeps it lower: the rate can no longer bind
            return None
        return max(MIN_RATE, rate)

    def history(self, now=None):
        """What the server allowed so far: ``start``, ``peak``, ``low``, ``final``, ``decreases``, ``rate``..."""
        rate = self.rate(now) if now is not None else self._rate_top
        return {"start": self.start, "peak": self.peak, "low": self.low, "final": self.allowed,
                "decreases": self.decreases, "throttled": self.cuts["429"], "server_errors": self.cuts["5xx"],
                "latency_rises": self.cuts["latency"], "rate": None if rate is None else round(rate, 3)}

    # -- observations ----------------------------------------------------
    def observe(self, epoch, now, *, latency=None, throttled=False, server_error=False, ok=True, in_flight=0):
        """Feed one response.

        Parameters
        ----------
        epoch : int
            :attr:`epoch` when the request was sent.
        now : float
            When the response came back (any monotonic clock, in seconds).
        latency : float or None
            Seconds from sending to the response; None when unknown.
        throttled, server_error : bool
            The response was a 429, or a 5xx.
        ok : bool
            The response was usable (a 2xx with the expected body, or an expected 404).
            A response that is none of these (a transport error, say) changes nothing.
        in_flight : int
            Requests in flight when it came back, itself included.
        """
        current = epoch == self.epoch
        if throttled:
            self._learn_rate(now, first=self._rate_top is None)
            if current:
                self._cut(BETA_THROTTLE, "429", now)
            return
        if server_error:
            if current:
                self._cut(BETA_ERROR, "5xx", now)
            return
        if not ok:
            return
        self._accepted.append(now)
        while self._accepted and now - self._accepted[0] > 1.0:
            self._accepted.popleft()
        level = self._latency(latency)
        if level == "rise" and current:
            self._cut(BETA_LATENCY, "latency", now)
            return
        if level == "hold":
            self.slow_start = False  # as HyStart: leave slow start when delay starts to rise
            return
        if in_flight * 2 < self.limit:
            return  # the window is not what limits the requests: do not grow
        if self.slow_start:
            self.limit += 1.0
        else:
            self.limit += 1.0 / self.limit
        if self.limit >= self.ceiling:
            self.limit = float(self.ceiling)
            self.slow_start = False
        self.peak = max(self.peak, self.allowed)

    # -- internals -------------------------------------------------------
    def _latency(self, latency):
        """'ok', 'hold' or 'rise' for the current latency against the baseline."""
        if latency is None or latency < 0 or not math.isfinite(latency):
            return "ok"
        if self._base_n >= BASE_SAMPLES:
            self._base = [self._base[1], math.inf]
            self._base_n = 0
        self._base[1] = min(self._base[1], latency)
        self._base_n += 1
        n = max(8, self.allowed)
        alpha = 2.0 / (n + 1)
        self._recent = latency if self._recent is None else self._recent + alpha * (latency - self._recent)
        self._recent_n += 1
        base = min(self._base)
        if self._recent_n < n:
            return "ok"
        if self._recent > RISE * base + SLACK:
            return "rise"
        if self._recent > HOLD * base + SLACK:
            return "hold"
        return "ok"

    def _cut(self, beta, why, now):
        # Never below what the learned rate needs in flight (rate x latency, with headroom): once a rate is
        # learned it is what spaces the requests, and a window under it would lower the rate a second time.
        rate, base = self.rate(now), self.baseline
        floor = min(self.ceiling, math.ceil(HEADROOM * rate * base)) if rate and base else 1
        self.limit = max(1.0, floor, self.limit * beta)
        self.slow_start = False
        self.epoch += 1
        self.decreases += 1
        self.cuts[why] += 1
        self.low = min(self.low, self.allowed)
        self._recent, self._recent_n = None, 0

    def _learn_rate(self, now, *, first):
        """Set the rate from what the server accepted in the last second (once per congestion event)."""
        while self._accepted and now - self._accepted[0] > 1.0:
            self._accepted.popleft()
        if not first and now - self._rate_since < 1.0:
            return  # the same burst of 429s
        accepted = float(len(self._accepted))
        if first:
            if accepted < MIN_SAMPLE:
                return
            top = accepted
        else:
            current = self.rate(now) or accepted
            top = min(max(accepted, current * BETA_THROTTLE), current)  # never more than it had, at most halved
        self._rate_top = max(MIN_RATE, top)
        # start the curve at BETA_RATE x top: rate(0) = top * (1 - RATE_DEPTH)
        self._rate_since = now
