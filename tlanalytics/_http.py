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
- a cancel event and an optional deadline per operation (:class:`Op`), so a
  failed page or a Ctrl+C stops the other workers' backoff waits and body
  reads instead of letting them finish their retries.

Every body is streamed and read in pieces (:meth:`Transport._read`): one
attempt has a wall-clock limit covering the whole body (a server trickling a
byte at a time cannot hold it), and the body is capped at ``max_body`` bytes,
raw and decoded (a small gzip bomb cannot fill memory). A loopback base URL
never goes through a proxy from the environment.

Two ways out, one retry loop: a client that made its own session sends
straight through a urllib3 ``PoolManager`` (:meth:`Transport._send`), with the
CA bundle and proxy decision ``requests`` would have made; a proxy from the
environment, or a session the caller passed, goes through ``requests``
unchanged. ``requests``' own layer (preparing, hooks, cookies, building the
response) cost about 0.35 ms of the 0.7 ms of client CPU a request took on
loopback (benchmarks/RESULTS.md).

Transport exceptions become :mod:`tlanalytics.errors` classes in one place
(:meth:`Transport.get`), always ``raise ... from exc``. The key travels only
in the ``x-api-key`` header of each request, never in a URL, message or log.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import os
import random
import threading
import time
from urllib.parse import urlencode, urlsplit

import requests
import urllib3
from urllib3.util.retry import Retry

from . import __version__, _window
from .errors import (APIError, AuthenticationError, BadRequestError, DeadlineExceededError, NotFoundError,
                     RateLimitError, ResponseFormatError, ServerError, TransportError)
from .keys import redact

log = logging.getLogger(__name__)

_USER_AGENT = f"tlanalytics/{__version__} python-requests/{requests.__version__}"
_DIRECT_AGENT = f"tlanalytics/{__version__} urllib3/{urllib3.__version__}"
#: urllib3 before 2.3 has no ``HTTPResponse.read1``, which the streamed read needs: requests then carries every request.
_CAN_GO_DIRECT = hasattr(urllib3.HTTPResponse, "read1")
_RETRY_AFTER = Retry(0)  # only its Retry-After parser is used
#: Transport failures worth another attempt: no (complete) response came.
_RETRYABLE_EXC = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                  requests.exceptions.ContentDecodingError, urllib3.exceptions.HTTPError)


class _Cancelled(Exception):
    """Another page of the same operation failed, or the caller was interrupted; stop quietly."""


class _TooLarge(Exception):
    """A body passed ``max_body``."""


#: Default cap on one response body, raw and decoded (a real listing page is ~15 KB).
DEFAULT_MAX_BODY = 8 * 2**20
_PIECE = 64 * 1024  # bytes asked of the socket per read; smaller reads return as soon as data arrives


_PACING_CREDIT = 0.05  # seconds of late starts that pacing may catch up (a burst of at most 5% of the rate)


def _wait_turn(cond, cancel, seconds_to_wait):
    """Wait on ``cond`` (held) until ``seconds_to_wait(now)`` is <= 0 and return that ``now``.

    Waits at most 0.5 s at a time, so a set ``cancel`` ends the wait
    (raising _Cancelled) within half a second.
    """
    while True:
        if cancel.is_set():
            raise _Cancelled
        now = time.monotonic()
        wait = seconds_to_wait(now)
        if wait <= 0:
            return now
        cond.wait(min(wait, 0.5))


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
            now = _wait_turn(self._cond, cancel, self._seconds_to_start)
            rate = self.window.rate(now)
            if rate:  # a thread that woke late may catch up a little, so the rate is kept on a busy client
                self._next_start = max(self._next_start, now - _PACING_CREDIT) + 1.0 / rate
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            return self.window.epoch

    def _seconds_to_start(self, now):
        """How long a request must still wait at ``now`` (a pause, a full window, the pacing); <= 0 to start."""
        if now < self._pause_until:
            return self._pause_until - now
        if self.in_flight >= self.window.allowed:
            return 0.5  # until a release notifies
        return self._next_start - now if self.window.rate(now) else 0.0

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
        """Wait until one more request fits the rate (raises _Cancelled once ``cancel`` is set)."""
        with self._cond:
            now = _wait_turn(self._cond, cancel, self._seconds_to_start)
            self._sent.append(now)
            self._last = now

    def _seconds_to_start(self, now):
        """How long the next request must still wait at ``now``; <= 0 to start."""
        while self._sent and now - self._sent[0] >= 1.0:
            self._sent.popleft()
        wait = self._last + self._interval - now
        if len(self._sent) >= self._cap:
            wait = max(wait, self._sent[0] + 1.0 - now)
        return wait


class Op:
    """Counters, the cancel switch and the deadline of one client operation (a load, an enrichment).

    ``deadline`` is a :func:`time.monotonic` moment (or None): once it passes,
    no attempt starts, backoff waits end, and :meth:`check` raises.
    """

    def __init__(self, deadline=None):
        self.requests = self.retries = 0
        self.cancel = threading.Event()
        self.deadline = deadline
        self._lock = threading.Lock()

    def count(self, *, retry):
        with self._lock:
            self.requests += 1
            self.retries += retry

    def remaining(self):
        """Seconds left before the deadline (None without one; never negative)."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def check(self, what):
        """Raise :class:`_Cancelled` after a cancel, :class:`DeadlineExceededError` past the deadline."""
        if self.cancel.is_set():
            raise _Cancelled
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise DeadlineExceededError(f"The deadline passed before {what} finished; raise `deadline` (seconds for a "
                                        f"whole load) or try again later.")


class _AttemptTimeout(Exception):
    """The whole response did not arrive within the attempt's wall-clock limit."""


class _Direct:
    """A urllib3 response seen through the few ``requests.Response`` attributes the retry loop reads."""

    __slots__ = ("raw",)

    def __init__(self, raw):
        self.raw = raw

    @property
    def status_code(self):
        return self.raw.status

    @property
    def headers(self):
        return self.raw.headers

    def close(self):
        """Drop the connection (the body was not read to its end), and give its slot back to the pool."""
        self.raw.close()
        self.raw.release_conn()


def _json(content):
    """The parsed body, or ``(None, reason)`` when it is not usable JSON."""
    try:
        return json.loads(content), None
    except RecursionError:
        return None, "JSON nested too deeply"
    except ValueError:  # includes UnicodeDecodeError
        return None, "not JSON"


def _error_fields(body, key):
    """The API's ``code`` and ``message`` from a parsed error body, with the key redacted."""
    if not isinstance(body, dict):
        return None, None
    code, message = body.get("code"), body.get("message")
    return (redact(str(code)[:200], key) if code is not None else None,
            redact(str(message)[:500], key) if message is not None else None)


class Transport:
    """One pooled session, the gates, and the retry loop; shared by all threads of a client."""

    def __init__(self, *, key, session, timeout, max_retries, backoff, backoff_max, max_retry_after, max_workers,
                 max_rate, max_body=DEFAULT_MAX_BODY, loopback=False, direct=False):
        self._key = key
        self.session = session
        self.timeout = timeout
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        self.attempt_limit = connect + read  # wall clock of one whole attempt, body included
        self.max_retries = max_retries
        self.backoff, self.backoff_max, self.max_retry_after = backoff, backoff_max, max_retry_after
        self.max_body = max_body
        self.loopback = loopback
        self.concurrency = _Concurrency(max_workers)
        self.rate = _RateLimit(max_rate) if max_rate else None
        self._headers = {"x-api-key": key, "Accept": "application/json", "User-Agent": _USER_AGENT}
        self._settings = None
        self._direct = direct and _CAN_GO_DIRECT
        self._pool = None  # the urllib3 PoolManager of the direct path, made with the settings
        self._setup_lock = threading.Lock()

    @property
    def direct(self):
        """True when requests go straight through urllib3 (known after the first request), else False."""
        return self._pool is not None

    def close(self):
        """Close the direct path's connections (the session is the client's to close)."""
        if self._pool is not None:
            self._pool.clear()

    def _setup(self, url):
        """Read the environment's settings once per client: proxies, CA bundle; choose the way out.

        ``Session.request`` re-reads them on every call, which costs more CPU
        than the rest of the request on loopback. A loopback base URL never
        goes through a proxy: the environment's proxies are dropped, so the key
        cannot reach a proxy over plain http and the simulator works behind one.
        The direct path is taken only where ``requests`` would have sent the
        request itself, with no proxy and no client certificate, and verifies
        TLS against the same CA bundle (``REQUESTS_CA_BUNDLE``,
        ``CURL_CA_BUNDLE``, else certifi's).
        """
        settings = self.session.merge_environment_settings(url, {}, True, None, None)
        if self.loopback:
            settings["proxies"] = {}
        self._settings = settings
        verify = settings.get("verify")
        if (not self._direct or settings.get("cert") or not verify
                or requests.utils.select_proxy(url, settings.get("proxies") or {})):
            return
        ca = requests.utils.DEFAULT_CA_BUNDLE_PATH if verify is True else verify
        tls = {"ca_cert_dir": ca} if os.path.isdir(ca) else {"ca_certs": ca}
        self._pool = urllib3.PoolManager(num_pools=2, maxsize=self.concurrency.max, retries=False,
                                         cert_reqs="CERT_REQUIRED", **tls)
        self._headers = {**self._headers, "User-Agent": _DIRECT_AGENT,
                         "Accept-Encoding": requests.utils.DEFAULT_ACCEPT_ENCODING}

    def _send(self, url, params, limit):
        """One streamed GET, no redirects: straight through urllib3, or through the session (its headers,
        params, auth, adapters); see :meth:`_setup`."""
        if self._settings is None:
            with self._setup_lock:
                if self._settings is None:
                    self._setup(url)
        timeout = self.timeout
        if limit is not None:  # never wait on one socket read past the op's deadline
            pair = timeout if isinstance(timeout, tuple) else (timeout, timeout)
            timeout = tuple(max(0.05, min(t, limit)) for t in pair)
        if self._pool is not None:
            connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
            return _Direct(self._pool.urlopen("GET", f"{url}?{urlencode(params)}" if params else url,
                                              headers=self._headers, redirect=False, retries=False,
                                              preload_content=False, timeout=urllib3.Timeout(connect=connect,
                                                                                             read=read)))
        prep = self.session.prepare_request(requests.Request("GET", url, params=params, headers=self._headers))
        return self.session.send(prep, timeout=timeout, allow_redirects=False, **self._settings)

    def _read(self, resp, op, until):
        """The whole (decoded) body, read in pieces with a wall-clock limit, the op's cancel and a size cap.

        The raw bytes received and the decoded bytes kept are both capped at
        ``max_body``, so neither a huge body nor a small gzip bomb can fill
        memory. The connection goes back to the pool only after a full read.
        """
        raw = getattr(resp, "raw", None)
        if raw is None or not hasattr(raw, "read1"):  # a custom adapter without a urllib3 response
            return resp.content
        out = bytearray()
        done = False
        try:
            while True:
                if op.cancel.is_set():
                    raise _Cancelled
                if time.monotonic() > until:
                    raise _AttemptTimeout
                piece = raw.read1(_PIECE, decode_content=True)
                if not piece:
                    done = True
                    break
                out += piece
                if len(out) > self.max_body or raw.tell() > self.max_body:
                    raise _TooLarge
        finally:
            if done:
                resp.raw.release_conn()
            else:
                resp.close()
        return bytes(out)

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

        Only a 404 whose code is ``resource_not_exist`` counts as "gone"; any
        other 404 (another code, or none: a proxy's HTML page, a wrong path)
        raises :class:`NotFoundError`. With ``raw``, returns ``(body, bytes)``.

        ``check(body)`` returns None when the body has the expected shape, else a
        short reason; a bad shape is retried like a truncated body.
        """
        attempts = self.max_retries + 1
        last = None  # (kind, status, code, api_message, detail, exc)
        wait = 0.0  # set by every failed attempt before the next one
        for attempt in range(attempts):
            if attempt:
                remaining = op.remaining()
                if op.cancel.wait(wait if remaining is None else min(wait, remaining)):
                    raise _Cancelled
            op.check(what)
            epoch = self.concurrency.acquire(op.cancel)
            throttled = ok = server_error = False
            latency = None
            try:
                if self.rate is not None:
                    self.rate.acquire(op.cancel)
                op.check(what)
                op.count(retry=attempt > 0)
                log.debug("GET %s %s (attempt %d/%d)", url, params, attempt + 1, attempts)
                started = time.monotonic()
                remaining = op.remaining()
                until = started + self.attempt_limit if remaining is None else started + min(self.attempt_limit,
                                                                                               remaining)
                try:
                    resp = self._send(url, params, remaining)
                    latency = time.monotonic() - started  # to the response's headers: what the window watches
                    content = self._read(resp, op, until)
                except (requests.exceptions.SSLError, urllib3.exceptions.SSLError) as exc:
                    raise TransportError(f"The TLS handshake with the API failed for {what} ({type(exc).__name__}). "
                                         f"Check `base_url` and the system's certificates.", page=page, url=url) from exc
                except urllib3.exceptions.LocationValueError as exc:  # the direct path's "could not be sent"
                    raise TransportError(f"The request for {what} could not be sent ({type(exc).__name__}). "
                                         f"Check `base_url`.", page=page, url=url) from exc
                except (_AttemptTimeout, *_RETRYABLE_EXC) as exc:
                    name = "no complete response in time" if isinstance(exc, _AttemptTimeout) else type(exc).__name__
                    last = ("transport", None, None, None, name, exc)
                    wait = self._wait(attempt, None)
                    log.debug("retrying %s: %s; waiting %.3f s", what, name, wait)
                    continue
                except _TooLarge:
                    raise ResponseFormatError(f"The API answered {what} with a body larger than `max_body` "
                                              f"({self.max_body:,} bytes, before or after decompression); a real "
                                              f"page is a few KB. Check `base_url`.", page=page, url=url) from None
                except requests.RequestException as exc:
                    raise TransportError(f"The request for {what} could not be sent ({type(exc).__name__}). "
                                         f"Check `base_url`.", page=page, url=url) from exc
                status = resp.status_code
                body, reason = _json(content)
                if status == 429 or status >= 500:
                    throttled, server_error = status == 429, status >= 500
                    code, api_message = _error_fields(body, self._key)
                    retry_after = self._retry_after(resp)
                    wait = self._wait(attempt, retry_after)
                    if throttled and retry_after is not None:
                        self.concurrency.pause(min(retry_after, self.max_retry_after))
                    last = ("status", status, code, api_message, None, None)
                    log.debug("retrying %s: HTTP %d %s; waiting %.3f s", what, status, code or "", wait)
                    continue
                if 200 <= status < 300:
                    if reason is not None:
                        reason = f"{reason} ({resp.headers.get('Content-Type') or 'no content type'}, {len(content)} bytes)"
                    elif check is not None:
                        reason = check(body)
                    if reason is None:
                        ok = True
                        return (body, content) if raw else body
                    last = ("format", status, None, None, reason, None)
                    wait = self._wait(attempt, None)
                    log.debug("retrying %s: the body is %s; waiting %.3f s", what, reason, wait)
                    continue
                if status == 404 and allow_404 and _error_fields(body, self._key)[0] == "resource_not_exist":
                    ok = True  # the resource is gone; any other 404 (a wrong base_url, a proxy's page) is an error
                    return (None, content) if raw else None
                raise self._status_error(resp, body, what=what, page=page, url=url)
            finally:
                self.concurrency.release(epoch, throttled=throttled, ok=ok, latency=latency, server_error=server_error)
        raise self._exhausted(last, attempts, what=what, page=page, url=url)

    def _status_error(self, resp, body, *, what, page, url):
        """The error for a final, non-retryable status."""
        status = resp.status_code
        code, api_message = _error_fields(body, self._key)
        label = f"{status} {code}" if code else str(status)
        said = f": {api_message}" if api_message else ""
        kw = dict(status=status, code=code, api_message=api_message, page=page, url=url)
        if status in (401, 403):
            return AuthenticationError(f"The API rejected the key ({label}). Set TWELVELABS_API_KEY to a valid key.", **kw)
        if status == 400:
            return BadRequestError(f"The API rejected the request for {what} ({label}{said}). Check the arguments "
                                   f"and that `base_url` points at API v1.3.", **kw)
        if status == 404:
            return NotFoundError(f"Nothing was found for {what} at {urlsplit(url).path} ({label}{said}). Check the id, "
                                 f"and that `base_url` "
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
