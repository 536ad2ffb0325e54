"""The retrying, rate-aware HTTP transport under :mod:`tlanalytics.client`.

Why a hand-written retry loop instead of urllib3's ``Retry`` mounted on the
adapter: ``Retry`` cannot retry a 200 whose body is truncated or not the
documented JSON, cannot lower the number of requests in flight when 429s keep
coming, and does not tell us how many retries it spent. What urllib3 does
offer is reused: its ``Retry-After`` parser (seconds or HTTP date).

Three gates sit in front of every attempt, shared by all worker threads:

- :class:`_Concurrency`: the adaptive window of :mod:`tlanalytics._window` on
  the requests in flight (slow start, additive increase, cut on 429s, 5xx and
  a clear latency rise; a rate learned from 429s), plus a global pause after
  a ``Retry-After``;
- :class:`_RateLimit`: at most ``max_rate`` requests in any one-second window,
  spaced ``1/max_rate`` apart;
- a cancel event per operation, so a failed page stops the other workers'
  backoff waits instead of letting them finish their retries.

Transport exceptions become :mod:`tlanalytics.errors` classes in one place
(:meth:`_Transport.get`), always ``raise ... from exc``. The key travels only
in the ``x-api-key`` header of each request, never in a URL, message or log.
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import math
import random
import threading
import time
from urllib.parse import urlsplit

import requests
from urllib3.util.retry import Retry

from . import __version__, _window
from .errors import (APIError, AuthenticationError, BadRequestError, InsecureTransportError, InvalidArgumentError,
                     NotFoundError, RateLimitError, ResponseFormatError, ServerError, TransportError)
from .keys import redact

log = logging.getLogger(__name__)

_USER_AGENT = f"tlanalytics/{__version__} python-requests/{requests.__version__}"
_RETRY_AFTER = Retry(0)  # only its Retry-After parser is used
#: Transport failures worth another attempt: no (complete) response came.
_RETRYABLE_EXC = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                  requests.exceptions.ContentDecodingError)


class _Cancelled(Exception):
    """Another page of the same operation failed; stop quietly."""


def check_base_url(base_url):
    """Validate ``base_url`` and return it without a trailing slash.

    http/https only, a host, no credentials, no query or fragment, and plain
    http only to a loopback host: the key must never cross a network in clear.
    Messages never echo the URL: a key pasted into it must not be shown back.
    """
    if not isinstance(base_url, str) or not base_url.strip():
        raise InvalidArgumentError(
            f"The value for `base_url` must be an http(s) URL string, but {type(base_url).__name__} was passed.")
    unshown = "(the value is not shown, in case it holds a secret)"
    try:
        parts = urlsplit(base_url.strip())
        host, _ = parts.hostname, parts.port
    except ValueError:  # e.g. an unclosed or invalid [IPv6] host, a bad port
        raise InvalidArgumentError(f"The value for `base_url` must be a valid http(s) URL, but a value that does not "
                                   f"parse was passed {unshown}.") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidArgumentError("The value for `base_url` must start with https:// (or http:// for a loopback "
                                   f"host such as the simulator), but another value was passed {unshown}.")
    if not host:
        raise InvalidArgumentError(f"The value for `base_url` must name a host (and a valid port), "
                                   f"but a URL without one was passed {unshown}.")
    if parts.query or parts.fragment:
        raise InvalidArgumentError(f"The value for `base_url` must not have a query string or fragment, "
                                   f"but a URL with one was passed {unshown}; pass the key as `api_key`.")
    if parts.scheme == "http" and not is_loopback(host):
        raise InsecureTransportError(
            "Refusing to send the API key over plain http to a host that is not loopback: use an https:// base "
            "URL (plain http is only allowed to 127.0.0.1, ::1 or localhost, e.g. the simulator).")
    if parts.username is not None or parts.password is not None:
        raise InvalidArgumentError("The value for `base_url` must not contain credentials (user:password@); "
                                   "pass the key as `api_key` or set TWELVELABS_API_KEY instead.")
    return base_url.strip().rstrip("/")


def is_loopback(host):
    """True for ``localhost``, 127.0.0.0/8 and ::1."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_PACING_CREDIT = 0.05  # seconds of late starts that pacing may catch up (a burst of at most 5% of the rate)


class _Concurrency:
    """The adaptive window (:class:`tlanalytics._window.Window`) on requests in flight, with its clock and lock.

    ``acquire`` waits until the window has room, the learned rate allows the
    next start and no ``Retry-After`` pause is running; ``release`` feeds the
    response to the window. ``state()`` is the window's history for
    ``UploadsClient.concurrency`` and ``df.attrs["concurrency"]``.
    """

    def __init__(self, max_workers, *, start=_window.START):
        self.max = max_workers
        self.window = _window.Window(max_workers, start=start)
        self.in_flight = self.peak_in_flight = 0
        self._pause_until = 0.0
        self._next_start = 0.0  # pacing at the learned rate
        self._cond = threading.Condition()

    def acquire(self, cancel):
        """Wait for room; returns the token to pass to :meth:`release`."""
        with self._cond:
            while True:
                if cancel.is_set():
                    raise _Cancelled
                now = time.monotonic()
                wait = self._pause_until - now
                if wait <= 0:
                    if self.in_flight >= self.window.allowed:
                        wait = 0.5  # until a release notifies
                    else:
                        rate = self.window.rate(now)
                        wait = self._next_start - now if rate else 0.0
                        if wait <= 0:
                            break
                self._cond.wait(min(wait, 0.5))
            if rate:  # a thread that woke late may catch up a little, so the rate is kept on a busy client
                self._next_start = max(self._next_start, now - _PACING_CREDIT) + 1.0 / rate
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            return self.window.epoch

    def release(self, epoch, *, throttled, ok, latency=None, server_error=False):
        """Feed one response (or failure) of a request sent with token ``epoch``."""
        with self._cond:
            cuts = self.window.decreases
            self.window.observe(epoch, time.monotonic(), latency=latency, throttled=throttled,
                                server_error=server_error, ok=ok, in_flight=self.in_flight)
            if self.window.decreases != cuts:
                log.debug("%s: the concurrency window is now %d (rate %s)", "429" if throttled else
                          "5xx" if server_error else "latency rise", self.window.allowed, self.window.history()["rate"])
            self.in_flight -= 1
            self._cond.notify(max(1, self.window.allowed - self.in_flight))  # one waiter per free slot, not all

    def pause(self, seconds):
        with self._cond:
            self._pause_until = max(self._pause_until, time.monotonic() + seconds)
            self._cond.notify_all()

    def state(self):
        """The window's history, for tests and attrs."""
        with self._cond:
            history = self.window.history(time.monotonic())
            return {**history, "limit": self.window.limit, "min_limit": float(history["low"]), "max_workers": self.max,
                    "peak_in_flight": self.peak_in_flight}


class _RateLimit:
    """At most ``rate`` requests in any one-second window, spaced ``1/rate`` apart."""

    def __init__(self, rate):
        self.rate = rate
        self._interval = 1.0 / rate
        self._cap = max(1, math.floor(rate))
        self._sent = collections.deque()
        self._last = -math.inf
        self._cond = threading.Condition()

    def acquire(self, cancel):
        with self._cond:
            while True:
                if cancel.is_set():
                    raise _Cancelled
                now = time.monotonic()
                while self._sent and now - self._sent[0] >= 1.0:
                    self._sent.popleft()
                wait = self._last + self._interval - now
                if len(self._sent) >= self._cap:
                    wait = max(wait, self._sent[0] + 1.0 - now)
                if wait <= 0:
                    self._sent.append(now)
                    self._last = now
                    return
                self._cond.wait(wait)


class Op:
    """Counters and the cancel switch of one client operation (a load, an enrichment)."""

    def __init__(self):
        self.requests = self.retries = 0
        self.cancel = threading.Event()
        self._lock = threading.Lock()

    def count(self, *, retry):
        with self._lock:
            self.requests += 1
            self.retries += retry


def _error_fields(resp, key):
    """The API's ``code`` and ``message`` from an error body, with the key redacted."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return None, None
    code, message = body.get("code"), body.get("message")
    return (redact(str(code), key) if code is not None else None,
            redact(str(message), key) if message is not None else None)


class _Transport:
    """One pooled session, the gates, and the retry loop; shared by all threads of a client."""

    def __init__(self, *, key, session, timeout, max_retries, backoff, backoff_max, max_retry_after, max_workers,
                 max_rate):
        self._key = key
        self.session = session
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff, self.backoff_max, self.max_retry_after = backoff, backoff_max, max_retry_after
        self.concurrency = _Concurrency(max_workers)
        self.rate = _RateLimit(max_rate) if max_rate else None
        self._headers = {"x-api-key": key, "Accept": "application/json", "User-Agent": _USER_AGENT}
        self._settings = None

    def _send(self, url, params):
        """One GET through the session (its headers, params, auth, adapters), no redirects.

        ``Session.request`` re-reads proxy settings from the environment on every
        call, which costs more CPU than the rest of the request on loopback; they
        are read once per client instead.
        """
        prep = self.session.prepare_request(requests.Request("GET", url, params=params, headers=self._headers))
        if self._settings is None:
            self._settings = self.session.merge_environment_settings(prep.url, {}, False, None, None)
        return self.session.send(prep, timeout=self.timeout, allow_redirects=False, **self._settings)

    def _wait(self, attempt, retry_after):
        """Full-jitter exponential backoff; at least ``Retry-After`` when given (capped)."""
        jitter = random.uniform(0, min(self.backoff_max, self.backoff * 2 ** attempt))
        if retry_after is None:
            return jitter
        return min(retry_after, self.max_retry_after) + min(jitter, self.backoff)

    def _retry_after(self, resp):
        value = resp.headers.get("Retry-After")
        if value is None:
            return None
        try:
            return _RETRY_AFTER.parse_retry_after(value)
        except Exception:  # an unparsable header falls back to plain backoff (not logged: it is server text)
            log.debug("ignoring an unparsable Retry-After header")
            return None

    def get(self, url, params, *, op, what, page=None, check=None, allow_404=False, raw=False):
        """GET ``url`` with retries; the parsed JSON body, or None for a 404 when ``allow_404``.

        With ``raw``, a 2xx gives ``(raw, body)``: the body's bytes as sent when
        they are ASCII (then every decoding reads them alike), else None.

        Only a 404 whose code is ``resource_not_exist`` (or that has none) counts
        as "gone"; a 404 with another code, such as the ``not_found`` of a wrong
        path, raises :class:`NotFoundError`.

        ``check(body)`` returns None when the body has the expected shape, else a
        short reason; a bad shape is retried like a truncated body.
        """
        attempts = self.max_retries + 1
        last = None  # (kind, status, code, api_message, detail, exc)
        wait = 0.0  # set by every failed attempt before the next one
        for attempt in range(attempts):
            if attempt:
                if op.cancel.wait(wait):
                    raise _Cancelled
            epoch = self.concurrency.acquire(op.cancel)
            throttled = ok = server_error = False
            latency = None
            try:
                if self.rate is not None:
                    self.rate.acquire(op.cancel)
                op.count(retry=attempt > 0)
                log.debug("GET %s %s (attempt %d/%d)", url, params, attempt + 1, attempts)
                try:
                    sent = time.monotonic()
                    resp = self._send(url, params)
                    latency = time.monotonic() - sent
                except requests.exceptions.SSLError as exc:
                    raise TransportError(f"The TLS handshake with the API failed for {what} ({type(exc).__name__}). "
                                         f"Check `base_url` and the system's certificates.", page=page, url=url) from exc
                except _RETRYABLE_EXC as exc:
                    last = ("transport", None, None, None, type(exc).__name__, exc)
                    wait = self._wait(attempt, None)
                    log.debug("retrying %s: %s; waiting %.3f s", what, type(exc).__name__, wait)
                    continue
                except requests.RequestException as exc:
                    raise TransportError(f"The request for {what} could not be sent ({type(exc).__name__}). "
                                         f"Check `base_url`.", page=page, url=url) from exc
                status = resp.status_code
                if status == 429 or status >= 500:
                    throttled, server_error = status == 429, status >= 500
                    code, api_message = _error_fields(resp, self._key)
                    retry_after = self._retry_after(resp)
                    wait = self._wait(attempt, retry_after)
                    if throttled and retry_after is not None:
                        self.concurrency.pause(min(retry_after, self.max_retry_after))
                    last = ("status", status, code, api_message, None, None)
                    log.debug("retrying %s: HTTP %d %s; waiting %.3f s", what, status, code or "", wait)
                    continue
                if 200 <= status < 300:
                    try:
                        body = resp.json()
                    except ValueError:
                        body, reason = None, (f"not JSON ({resp.headers.get('Content-Type') or 'no content type'}, "
                                              f"{len(resp.content)} bytes)")
                    else:
                        reason = check(body) if check is not None else None
                    if reason is None:
                        ok = True
                        return ((resp.content if resp.content.isascii() else None), body) if raw else body
                    last = ("format", status, None, None, reason, None)
                    wait = self._wait(attempt, None)
                    log.debug("retrying %s: the body is %s; waiting %.3f s", what, reason, wait)
                    continue
                if status == 404 and allow_404 and _error_fields(resp, self._key)[0] in (None, "resource_not_exist"):
                    ok = True  # the resource is gone; any other 404 (a wrong base_url, say) is an error
                    return None
                raise self._status_error(resp, what=what, page=page, url=url)
            finally:
                self.concurrency.release(epoch, throttled=throttled, ok=ok, latency=latency, server_error=server_error)
        raise self._exhausted(last, attempts, what=what, page=page, url=url)

    def _status_error(self, resp, *, what, page, url):
        """The error for a final, non-retryable status."""
        status = resp.status_code
        code, api_message = _error_fields(resp, self._key)
        label = f"{status} {code}" if code else str(status)
        said = f": {api_message}" if api_message else ""
        kw = dict(status=status, code=code, api_message=api_message, page=page, url=url)
        if status in (401, 403):
            return AuthenticationError(f"The API rejected the key ({label}). Set TWELVELABS_API_KEY to a valid key.", **kw)
        if status == 400:
            return BadRequestError(f"The API rejected the request for {what} ({label}{said}). Check the arguments "
                                   f"and that `base_url` points at API v1.3.", **kw)
        if status == 404:
            return NotFoundError(f"Nothing was found for {what} ({label}{said}). Check the id, and that `base_url` "
                                 f"ends with the API version, e.g. https://api.twelvelabs.io/v1.3.", **kw)
        if 300 <= status < 400:
            return APIError(f"The API answered {what} with a redirect ({status}); tlanalytics does not follow "
                            f"redirects so the key is never sent elsewhere. Check `base_url`.", **kw)
        return APIError(f"The API answered {what} with an unexpected error ({label}{said}).", **kw)

    def _exhausted(self, last, attempts, *, what, page, url):
        """The error once every attempt failed."""
        kind, status, code, api_message, detail, exc = last
        tries = f"after {attempts} attempt{'s' if attempts > 1 else ''}"
        kw = dict(status=status, code=code, api_message=api_message, page=page, url=url)
        if kind == "transport":
            err = TransportError(f"No usable response for {what} {tries} (last: {detail}). Check the network and "
                                 f"`base_url`, or raise `timeout` or `max_retries`.", **kw)
            err.__cause__ = exc
            return err
        if kind == "format":
            return ResponseFormatError(f"The API answered {what} with a body that is {detail} {tries}. "
                                       f"Check that `base_url` points at the TwelveLabs API v1.3.", **kw)
        label = f"{status} {code}" if code else str(status)
        if status == 429:
            return RateLimitError(f"The API kept answering {label} (rate limited) for {what} {tries}. Wait a minute "
                                  f"and try again, or lower `max_workers` or set `max_rate`.", **kw)
        return ServerError(f"The API kept failing ({label}) for {what} {tries}. Try again later, or raise "
                           f"`max_retries`.", **kw)
