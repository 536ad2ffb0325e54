"""Load a TwelveLabs account's incomplete multipart uploads into a DataFrame.

The client only fetches: pages go to :mod:`tlanalytics.frame`, which types
them and adds the derived columns. Requests go through one connection pool
(urllib3's, or a ``requests.Session`` through a proxy or when one is passed)
and the retrying, rate-aware transport of :mod:`tlanalytics._http`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
import warnings
from urllib.parse import quote, urlsplit

import pandas as pd
import requests
from requests.adapters import HTTPAdapter

from . import frame as _frame
from . import paging
from ._defaults import MAX_RETRIES, MAX_WORKERS
from ._http import DEFAULT_MAX_BODY, Op, Transport
from ._pool import Completions, Pool
from ._urls import check_base_url, is_loopback
from .errors import (ConfigurationError, InconsistentListingWarning, InvalidArgumentError, MalformedItemWarning,
                     NotFoundError)
from .keys import BASE_URL_ENV_VAR, check_key, key_from_env
from .validate import as_of as _sanitize_as_of, requestable_id, check_int, check_number, check_timeout

__all__ = ["UploadsClient", "load_uploads", "add_progress", "load_chunks"]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.twelvelabs.io/v1.3"
MAX_PAGE_LIMIT = 50
_LIST = "/assets/multipart-uploads"
_WAKE = 0.2  # seconds: the longest a wait for responses goes without a chance to raise KeyboardInterrupt


def _check_listing(body):
    if not isinstance(body, dict):
        return f"a JSON {type(body).__name__}, not an object"
    if not isinstance(body.get("data"), list):
        return "an object without a `data` list"
    return None


def _check_status(body):
    if not isinstance(body, dict):
        return f"a JSON {type(body).__name__}, not an object"
    if "uploaded_chunks" in body and not isinstance(body["uploaded_chunks"], list):
        return "an object whose `uploaded_chunks` is not a list"
    return None


class _NoBar:
    """Stands in for tqdm when progress is off."""

    total = n = 0

    def update(self, n=1):
        pass

    def refresh(self):
        pass

    def close(self):
        pass


def _progress_bar(enabled, *, total, unit, desc):
    """A tqdm.auto bar on stderr; plain tqdm when the notebook frontend is missing."""
    if not enabled:
        return _NoBar()
    options = dict(total=total, unit=unit, desc=desc, file=sys.stderr, leave=True, dynamic_ncols=True)
    try:
        from tqdm.auto import tqdm
        return tqdm(**options)
    except Exception:  # e.g. a notebook without ipywidgets: never let the bar break the load
        from tqdm.std import tqdm
        return tqdm(**options)


def _no_auth(request):
    """requests auth hook of the client's own session: the request unchanged (the key is a header of _http)."""
    return request


class UploadsClient:
    """A client for the multipart-upload endpoints of the TwelveLabs API.

    One connection pool sized to ``max_workers`` (urllib3's; a
    ``requests.Session`` when a proxy variable applies or ``session`` is
    passed; ``~/.netrc`` is never read for the client's own), a bounded
    thread pool, retries with exponential backoff
    and full jitter that honour ``Retry-After``, an adaptive window on the
    requests in flight (it starts at 16, grows up to ``max_workers`` while
    responses stay healthy, and is cut on 429s, 5xx and a clear rise in
    latency; 429s also set a request rate, see :mod:`tlanalytics._window`),
    and an optional client-side ``max_rate``.

    Parameters
    ----------
    api_key : str or None
        The key; None reads ``TWELVELABS_API_KEY``, then ``TWELVE_LABS_API_KEY``.
        It is sent only in the ``x-api-key`` header and never shown.
    base_url : str or None
        API root; None reads ``TWELVELABS_BASE_URL``, else
        ``https://api.twelvelabs.io/v1.3``. Plain http is refused except to a
        loopback host (the simulator).
    page_limit : int, default 50
        Items per listing page, 1 to 50 (the API's maximum).
    max_workers : int, default 32
        Most requests in flight at once (and threads in the pool): the ceiling
        of the adaptive window, which starts at 16.
    timeout : float or (float, float), default (3.05, 30)
        Connect and read timeouts of every request, in seconds. Their sum
        also bounds one whole attempt, body included: a server sending a
        byte at a time cannot hold an attempt longer.
    deadline : float or None
        Most seconds one operation may take as a whole (a :meth:`load`,
        listing and progress together; an :meth:`add_progress`; a
        :meth:`load_chunks`), retries and backoff included; past it,
        :class:`~tlanalytics.errors.DeadlineExceededError` is raised and
        requests in flight are abandoned. None for no deadline.
    max_retries : int, default 5
        Retries of one request after a 429, 5xx, connection error, timeout,
        truncated or unparsable body; 0 disables retrying.
    backoff : float, default 0.5
        Base of the exponential backoff, in seconds: retry ``n`` waits a random
        time up to ``backoff * 2 ** n`` (capped at ``backoff_max``).
    backoff_max : float, default 30
        Longest backoff wait, in seconds.
    max_retry_after : float, default 60
        Longest wait honoured from a ``Retry-After`` header, in seconds.
    max_rate : float or None
        Most requests per second, shared by all threads; None for no limit.
    max_passes : int, default 4
        Most full passes over the listing when it changes while it is paged.
    max_pages : int, default 1000
        Most pages read in one pass over the listing (or a session's chunk
        list), whatever ``page_info`` says; 1,000 pages hold 50,000 sessions.
    max_body : int, default 8 MiB
        Largest response body accepted, in bytes, before and after
        decompression (a real listing page is about 15 KB).
    progress : bool, default True
        Show a tqdm progress bar on stderr.
    session : requests.Session or None
        A session to use as is (its adapters are not replaced, and it is not
        closed by :meth:`close`); every request then goes through it. None
        makes and owns one, and requests go straight through urllib3 (with
        the CA bundle requests would use) unless a proxy from the environment
        applies. Proxies from the environment or the session are never used
        for a loopback ``base_url``.
    strict : bool, default False
        Raise :class:`~tlanalytics.errors.ResponseFormatError` on a malformed
        item instead of keeping it with nulls and warning.

    Raises
    ------
    ConfigurationError
        No key was passed and none is set in the environment.
    InvalidArgumentError
        An argument has a value the client cannot use.
    InsecureTransportError
        ``base_url`` is plain http to a host that is not loopback.

    Examples
    --------
    >>> from tlanalytics import Simulator, UploadsClient, generate_uploads
    >>> with Simulator(generate_uploads(120, seed=1)) as sim:
    ...     with UploadsClient(sim.api_key, base_url=sim.base_url, progress=False) as client:
    ...         df = client.load()
    >>> len(df), df.attrs["pages"]
    (120, 3)
    """

    def __init__(self, api_key=None, *, base_url=None, page_limit=50, max_workers=MAX_WORKERS, timeout=(3.05, 30),
                 max_retries=MAX_RETRIES, backoff=0.5, backoff_max=30.0, max_retry_after=60.0, max_rate=None,
                 max_passes=4, progress=True, session=None, strict=False, deadline=None,
                 max_pages=paging.DEFAULT_MAX_PAGES, max_body=DEFAULT_MAX_BODY):
        if api_key is None:
            api_key = key_from_env()
        if api_key is None:
            raise ConfigurationError(
                "No API key: pass `api_key=` or set the TWELVELABS_API_KEY environment variable "
                "(TWELVE_LABS_API_KEY also works). To try tlanalytics without an account, run "
                "`tlanalytics report --demo`, or serve fake sessions locally with `tlanalytics.Simulator`.")
        key = check_key(api_key)
        if base_url is None:
            base_url = os.environ.get(BASE_URL_ENV_VAR, "").strip() or DEFAULT_BASE_URL
        self.base_url = check_base_url(base_url)
        self.page_limit = check_int("page_limit", page_limit, 1, MAX_PAGE_LIMIT)
        self.max_workers = check_int("max_workers", max_workers, 1)
        self.max_passes = check_int("max_passes", max_passes, 1)
        self.max_pages = check_int("max_pages", max_pages, 1)
        self.deadline = check_number("deadline", deadline, allow_none=True)
        self.progress, self.strict = bool(progress), bool(strict)
        if session is not None and not isinstance(session, requests.Session):
            raise InvalidArgumentError(
                f"The value for `session` must be a requests.Session or None, but {type(session).__name__} was passed.")
        self._own_session = session is None
        if session is None:
            session = requests.Session()
            # An auth that adds nothing: requests then skips its ~/.netrc lookup (two stat calls on every request,
            # ~12 % of the client's CPU per request), and no .netrc password goes to the API, which takes the key
            session.auth = _no_auth
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=self.max_workers)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self._transport = Transport(
            key=key, session=session, timeout=check_timeout(timeout),
            max_retries=check_int("max_retries", max_retries, 0),
            backoff=check_number("backoff", backoff, positive=False),
            backoff_max=check_number("backoff_max", backoff_max, positive=False),
            max_retry_after=check_number("max_retry_after", max_retry_after, positive=False),
            max_workers=self.max_workers, max_rate=check_number("max_rate", max_rate, allow_none=True),
            max_body=check_int("max_body", max_body, 1024), loopback=is_loopback(urlsplit(self.base_url).hostname),
            direct=self._own_session)
        self._pool = None

    # -- plumbing --------------------------------------------------------
    def __repr__(self):
        return (f"UploadsClient(base_url={self.base_url!r}, page_limit={self.page_limit}, "
                f"max_workers={self.max_workers}, api_key=<hidden>)")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Stop the worker threads and close the session if the client made it.

        Requests still in flight (after an interruption) are abandoned, not
        awaited: their workers stop at their next check.
        """
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._own_session:
            self._transport.close()
            self._transport.session.close()

    @property
    def session(self):
        """The ``requests.Session`` of the client: the one passed, or the one it made.

        A session the client made carries requests only when a proxy from the
        environment applies; otherwise they go straight through urllib3 (about
        half the client's CPU per request), so changes to this session's
        headers, adapters or proxies do not reach them. Pass your own session
        to have every request go through it.
        """
        return self._transport.session

    @property
    def concurrency(self):
        """The adaptive concurrency window's history since the client was made.

        A dict: ``start``, ``peak``, ``low`` and ``final`` window (requests in
        flight allowed), ``decreases`` (cuts; ``throttled``, ``server_errors``
        and ``latency_rises`` say why), ``rate`` (requests/s learned from 429s,
        or None), ``limit``, ``max_workers`` and ``peak_in_flight``.
        """
        return self._transport.concurrency.state()

    def _drop_pool(self):
        """Abandon the pool after an interrupted operation: its workers may still sit in abandoned requests."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _window_history(self):
        state = self.concurrency
        return {k: state[k] for k in ("start", "peak", "low", "final", "decreases", "throttled", "server_errors",
                                      "latency_rises", "rate")}

    def _executor(self):
        if self._pool is None:
            self._pool = Pool(self.max_workers, "tlanalytics")
        return self._pool

    def _get(self, path, params, *, op, what, page=None, check, allow_404=False, raw=False):
        return self._transport.get(self.base_url + path, params, op=op, what=what, page=page, check=check,
                                   allow_404=allow_404, raw=raw)

    def _op(self, deadline=None):
        """A new operation; ``deadline`` (a monotonic moment) is shared with an enclosing one."""
        if deadline is None and self.deadline is not None:
            deadline = time.monotonic() + self.deadline
        return Op(deadline)

    @staticmethod
    def _wait_any(done, op, what):
        """The futures finished since the last call (from ``done``, a :class:`Completions`): waits until one
        is, or the op's deadline passes (then raises).

        The wait wakes every :data:`_WAKE` seconds: a Ctrl+C (KeyboardInterrupt) is then raised within that
        time even when nothing cuts the lock wait short (an interrupt that only sets Python's flag, such as
        ``_thread.interrupt_main``).
        """
        while True:
            remaining = op.remaining()
            finished = done.wait(_WAKE if remaining is None else min(remaining, _WAKE))
            if finished:
                return finished
            op.check(what)  # past the deadline: raises

    def _walk(self, fetch, walk, op, bar, what):
        """Yield ``(page, body)`` of one pass in page order, fetching concurrently.

        Which pages to request is :meth:`paging.Walk.plan`'s decision: page 1
        first (or the previous pass's pages at once), then what its page_info
        implies, nothing past a short page, and never past the walk's bounds.
        On any exit (an error, Ctrl+C, the deadline) the pages in flight are
        abandoned: the op is cancelled and nothing waits for them.
        """
        pool, done = self._executor(), Completions()
        pending, ready = {}, {}
        next_submit, next_yield = 1, 1
        window = 2 * self.max_workers
        base = bar.n  # pages of earlier passes on the same bar
        try:
            while True:
                end = walk.plan()
                while next_submit <= end and len(pending) < window:
                    pending[done.watch(pool.submit(fetch, next_submit))] = next_submit
                    next_submit += 1
                if not pending or walk.stop_reason is not None:
                    break
                if base + end != bar.total:
                    bar.total = base + end
                    bar.refresh()
                for fut in self._wait_any(done, op, what):
                    page = pending.pop(fut)
                    ready[page] = body = fut.result()
                    walk.add(page, body)
                    bar.update(1)
                while next_yield in ready:
                    yield next_yield, ready.pop(next_yield)
                    next_yield += 1
            for page in sorted(ready):
                yield page, ready.pop(page)
        finally:
            if pending:
                op.cancel.set()
                for fut in pending:
                    fut.cancel()
                self._drop_pool()

    def _fetch_listing_page(self, op, raw=None):
        """A fetch of one listing page.

        With a dict ``raw``, the page's bytes are kept in it (its parsed body
        when the bytes are not ASCII) and the walk gets the page with only the
        items' ids: the items are read from the bytes once, by _listing_frame.
        """
        def fetch(page):
            got = self._get(_LIST, {"page": page, "page_limit": self.page_limit}, op=op, page=page,
                            what=f"page {page} of the listing", check=_check_listing, raw=raw is not None)
            if raw is None:
                return got
            body, content = got
            raw[page] = content if content.isascii() else body  # non-ASCII bytes may be UTF-16/32: keep the parse
            return {**body, "data": [{"upload_id": item.get("upload_id")} if isinstance(item, dict) else item
                                     for item in body["data"]]}
        return fetch

    # -- the listing -----------------------------------------------------
    def iter_pages(self):
        """Yield the listing's pages, parsed, in page order: one pass, as they arrive.

        Pages after the first are fetched concurrently and handed out in order.
        Unlike :meth:`load`, this makes a single pass and does not re-read a
        listing that changes meanwhile (duplicates across pages are possible).

        Yields
        ------
        dict
            A page as the API sent it: ``{"data": [...], "page_info": {...}}``.

        Raises
        ------
        AuthenticationError, BadRequestError, NotFoundError, RateLimitError, ServerError, TransportError, ResponseFormatError
            As :meth:`load`.

        Examples
        --------
        >>> for page in client.iter_pages():  # doctest: +SKIP
        ...     print(len(page["data"]))
        """
        op = self._op()
        walk = paging.Walk(self.page_limit, "data", paging.listing_id, max_pages=self.max_pages)
        bar = _progress_bar(self.progress, total=None, unit="page", desc="Listing uploads")
        try:
            for _, body in self._walk(self._fetch_listing_page(op), walk, op, bar, "the listing"):
                yield body
        finally:
            bar.close()
        if walk.stop_reason is not None:
            warnings.warn(f"The listing was cut short: {paging.describe(walk)}.", InconsistentListingWarning,
                          stacklevel=2)

    def load(self, *, as_of=None, with_progress=False):
        """Load every incomplete upload session into a DataFrame.

        Page 1 is read first; its ``page_info`` says how many pages follow, and
        those are fetched concurrently. The listing is offset-paginated and can
        change while it is read (sessions end, expire, new ones appear at the
        front and shift the rest), so the client watches for signs of change:
        ``total_results`` moving between responses, an id on two pages, a short
        page before the last, fewer or more ids than ``total_results``. A pass
        without any of these is accepted alone (no extra request in the common
        case). Otherwise the listing is read again (whole, concurrent passes)
        and the passes are united, the newest pass's row winning for an id,
        until a pass shows no sign at all, or two consecutive passes agree
        (same ids, no sign of change during the pass, the same disagreement
        with ``total_results``: a server that miscounts), or ``max_passes`` is
        reached.

        Limitation: offset pagination cannot prove a snapshot. Changes that
        cancel out between two responses (one session leaving and one arriving
        with ``total_results`` unchanged) can hide a session from a pass that
        looks clean; and the union keeps sessions that ended between passes.

        Parameters
        ----------
        as_of : datetime, Timestamp, str or None
            Moment the derived columns are computed against; None for the
            moment the fetch started (UTC).
        with_progress : bool, default False
            Also read every session's progress (see :meth:`add_progress`).

        Returns
        -------
        pandas.DataFrame
            One row per session (see :data:`tlanalytics.schema.COLUMNS`), with
            ``attrs``: ``as_of``, ``base_url``, ``pages`` (listing pages read,
            all passes), ``requests`` (sent, retries included), ``retries``,
            ``total_results`` (last reported), ``consistent``, ``passes``,
            ``stopped`` (None, or ``"repeat"``, ``"overrun"``, ``"max_pages"``
            when a bound of :mod:`tlanalytics.paging` cut the listing short),
            ``concurrency`` (the window's ``start``, ``peak``, ``low``,
            ``final``, ``decreases`` and why (``throttled``, ``server_errors``,
            ``latency_rises``) and learned ``rate``: what the server allowed).

        Raises
        ------
        AuthenticationError
            The key was rejected (401/403).
        BadRequestError, NotFoundError
            The API rejected the request (400) or the endpoint is not at ``base_url`` (404).
        RateLimitError, ServerError, TransportError, ResponseFormatError
            429s, 5xx, no response, or unusable bodies kept coming after every retry.
        DeadlineExceededError
            ``deadline`` passed first.

        Warns
        -----
        InconsistentListingWarning
            The listing kept changing and a consistent read was not confirmed,
            or the server never ended it (a page with no new id, full pages
            past its own count, ``max_pages``): ``attrs["consistent"]`` is False.

        Examples
        --------
        >>> df = client.load()  # doctest: +SKIP
        >>> df.attrs["consistent"], df.attrs["requests"]  # doctest: +SKIP
        (True, 3)
        """
        return self._load(as_of=as_of, with_progress=with_progress, stacklevel=3)

    def _load(self, *, as_of, with_progress, stacklevel):
        as_of = _sanitize_as_of(as_of)
        op = self._op()
        walks, raws, hint, consistent = [], [], None, False
        bar = _progress_bar(self.progress, total=None, unit="page", desc="Listing uploads")
        try:
            for n in range(1, self.max_passes + 1):
                walk = paging.Walk(walks[-1].limit if walks else self.page_limit, "data", paging.listing_id,
                                   hint=hint, max_pages=self.max_pages)
                raws.append({})
                for _ in self._walk(self._fetch_listing_page(op, raws[-1]), walk, op, bar, "the listing"):
                    pass
                walks.append(walk)
                consistent = paging.settled(walks)
                if consistent or walk.stop_reason is not None:
                    break  # a bound ended the pass: another pass would meet the same server
                hint = walk.last_nonempty() or 1
                log.debug("the listing changed while it was paged (pass %d: %d ids, total_results %s, %d duplicates); "
                          "reading it again", n, len(walk.ids), sorted(walk.totals), walk.duplicates)
        finally:
            bar.close()
        df = _listing_frame(walks, raws, as_of=as_of, strict=self.strict)
        stopped = walks[-1].stop_reason
        df.attrs.update(base_url=self.base_url, pages=sum(len(w.counts) for w in walks),
                        requests=op.requests, retries=op.retries, total_results=walks[-1].last_total,
                        consistent=consistent, passes=len(walks), stopped=stopped,
                        concurrency=self._window_history())
        if stopped is not None:
            warnings.warn(f"The listing was cut short: {paging.describe(walks[-1])}. The result holds the "
                          f"{len(df):,} sessions read until then.", InconsistentListingWarning, stacklevel=stacklevel)
        elif not consistent:
            warnings.warn(f"The listing kept changing while it was paged ({len(walks)} passes); the result unites them "
                          f"but may miss sessions (pages shift as sessions come and go) or keep ones that ended. "
                          f"Load again later for a consistent view.", InconsistentListingWarning, stacklevel=stacklevel)
        if with_progress:
            df = self._add_progress(df, op.deadline, stacklevel=stacklevel)
        return df

    # -- progress --------------------------------------------------------
    def _fetch_status(self, op, upload_id, page=1, page_limit=1, allow_404=True):
        return self._get(f"{_LIST}/{quote(upload_id, safe='')}", {"page": page, "page_limit": page_limit}, op=op,
                         page=page, what=f"the status of upload {upload_id!r} (page {page})", check=_check_status,
                         allow_404=allow_404)

    def add_progress(self, df, *, only=None):
        """Add every session's progress columns from its status endpoint.

        One ``GET /assets/multipart-uploads/{upload_id}?page_limit=1`` per
        session, concurrently, with the same retries and rate limits as the
        listing. A session that ended meanwhile (404 ``resource_not_exist``)
        keeps its row, with ``vanished`` True and null progress; any other 404
        (such as a wrong ``base_url``) raises. Rows whose ``upload_id`` is null,
        or repeats an earlier row's, send no request of their own (a repeat
        shares the first row's status); ids that would change the URL's path
        (``.``, ``..``, ``a/b``, ``%2e%2e``) send none either, and warn.

        Parameters
        ----------
        df : pandas.DataFrame
            Sessions as returned by :meth:`load`; ``attrs["as_of"]`` is used.
        only : array-like of bool, optional
            A mask with one value per row of ``df``: read progress only for
            the rows where it is True (e.g. ``tla.metrics.open_mask(df)``);
            the other rows keep null progress columns (``vanished`` <NA>).
            None reads every row.

        Returns
        -------
        pandas.DataFrame
            ``df`` with the progress columns, and ``attrs["progress_requests"]``
            and ``attrs["progress_retries"]``; ``attrs["concurrency"]`` is
            updated with the window's history (see :meth:`load`).

        Raises
        ------
        NotFoundError
            A 404 without the API's ``resource_not_exist`` code (a wrong
            ``base_url``, a proxy's error page).
        DeadlineExceededError
            ``deadline`` passed first.
        AuthenticationError, RateLimitError, ServerError, TransportError, ResponseFormatError
            As :meth:`load`.

        Warns
        -----
        MalformedItemWarning
            Some ids could not be requested safely; their progress is null.

        Examples
        --------
        >>> df = client.add_progress(client.load())  # doctest: +SKIP
        >>> df["vanished"].sum()  # doctest: +SKIP
        0
        """
        return self._add_progress(df, None, only=only, stacklevel=3)

    def _add_progress(self, df, deadline, *, only=None, stacklevel):
        if not isinstance(df, pd.DataFrame) or "upload_id" not in df.columns:
            raise InvalidArgumentError("The value for `df` must be a DataFrame with an `upload_id` column, "
                                       f"but {type(df).__name__} was passed.")
        uids = df["upload_id"]
        if only is not None:
            try:
                keep = pd.array(only, dtype="boolean").to_numpy(dtype=bool, na_value=False)
            except (TypeError, ValueError):
                keep = None
            if keep is None or keep.shape != (len(df),):
                raise InvalidArgumentError(f"The value for `only` must be a boolean mask with one value per row of "
                                           f"`df` ({len(df)}), but {type(only).__name__} was passed.")
            uids = uids[keep]
        ids = list(dict.fromkeys(i for i in uids.tolist() if isinstance(i, str) and i))
        refused = [i for i in ids if not requestable_id(i)]
        if refused:
            ids = [i for i in ids if requestable_id(i)]
            warnings.warn(f"{len(refused):,} upload_id value(s) would change the status URL's path (such as '.', "
                          f"'..' or ids holding '/' or '%2e'); no request was sent for them and their progress "
                          f"columns are null.", MalformedItemWarning, stacklevel=stacklevel)
        op, statuses = self._op(deadline), {}
        bar = _progress_bar(self.progress, total=len(ids), unit="session", desc="Reading progress")
        pool, done = self._executor(), Completions()
        futures = {done.watch(pool.submit(self._fetch_status, op, uid)): uid for uid in ids}
        try:
            left = len(futures)
            while left:
                finished = self._wait_any(done, op, "reading progress")
                left -= len(finished)
                for fut in finished:
                    statuses[futures[fut]] = fut.result()
                    bar.update(1)
        except BaseException:
            op.cancel.set()
            for fut in futures:
                fut.cancel()
            self._drop_pool()
            raise
        finally:
            bar.close()
        out = _frame.join_progress(df, statuses, as_of=df.attrs.get("as_of"), strict=self.strict)
        out.attrs.update(progress_requests=op.requests, progress_retries=op.retries,
                         concurrency=self._window_history())
        return out

    def load_chunks(self, upload_id):
        """Load every chunk of one upload session, across all its status pages.

        Parameters
        ----------
        upload_id : str
            The session's id.

        Returns
        -------
        pandas.DataFrame
            Columns ``index`` (Int64), ``status`` (category: completed, pending,
            failed, plus any unknown value), ``uploaded_at``, ``updated_at``
            (datetime64[ns, UTC]) and ``error`` (string), ordered by ``index``
            without duplicates. ``attrs`` hold ``upload_id``, the session's
            ``status``, ``chunks_completed``, ``chunks_failed``,
            ``chunks_pending``, ``total_size``, ``uploaded_size``,
            ``created_at``, ``updated_at``, ``total_chunks``, ``pages``,
            ``requests`` and ``retries``.

        Raises
        ------
        NotFoundError
            The session does not exist (any more).
        InvalidArgumentError
            ``upload_id`` is not a string, or would change the URL's path
            (``.``, ``..``, ``a/b``, ``%2e%2e``); no request is sent.
        AuthenticationError, RateLimitError, ServerError, TransportError, ResponseFormatError, DeadlineExceededError
            As :meth:`load`.

        Warns
        -----
        InconsistentListingWarning
            The server never ended the chunk list (see :mod:`tlanalytics.paging`);
            ``attrs["stopped"]`` names why.

        Examples
        --------
        >>> chunks = client.load_chunks("507f1f77bcf86cd799439011")  # doctest: +SKIP
        >>> chunks["status"].value_counts()  # doctest: +SKIP
        """
        return self._load_chunks(upload_id, stacklevel=3)

    def _load_chunks(self, upload_id, *, stacklevel):
        if not isinstance(upload_id, str) or not upload_id or not requestable_id(upload_id):
            raise InvalidArgumentError(f"The value for `upload_id` must be a session id (a non-empty string that "
                                       f"cannot change the URL's path: not '.', '..', nor holding '/', '?', '#' or "
                                       f"'%2e'), but {upload_id!r} was passed.")
        op = self._op()
        walk = paging.Walk(MAX_PAGE_LIMIT, "uploaded_chunks", paging.chunk_id, max_pages=self.max_pages)
        bar = _progress_bar(self.progress, total=None, unit="page", desc="Reading chunks")

        def fetch(page):
            return self._fetch_status(op, upload_id, page, MAX_PAGE_LIMIT, allow_404=False)

        try:
            pages = [body for _, body in self._walk(fetch, walk, op, bar, f"the chunks of upload {upload_id!r}")]
        except NotFoundError as err:
            raise NotFoundError(f"The upload session {upload_id!r} was not found ({err.status} {err.code}): it may have "
                                f"completed, failed or expired since it was listed. Load the listing again.",
                                status=err.status, code=err.code, api_message=err.api_message, page=err.page,
                                url=err.url) from err
        finally:
            bar.close()
        if walk.stop_reason is not None:
            warnings.warn(f"The chunk list of upload {upload_id!r} was cut short: {paging.describe(walk)}.",
                          InconsistentListingWarning, stacklevel=stacklevel)
        items = {}
        for body in pages:
            chunks = body.get("uploaded_chunks")
            for item in chunks if isinstance(chunks, list) else []:
                key = paging.chunk_id(item)
                items[key if key is not None else ("?", len(items))] = item
        df = _frame.chunks_frame(list(items.values()), strict=self.strict)
        first = pages[0]
        df.attrs.update({k: first.get(k) for k in ("status", "chunks_completed", "chunks_failed", "chunks_pending",
                                                   "total_size", "uploaded_size", "created_at", "updated_at")})
        df.attrs.update(upload_id=upload_id, total_chunks=walk.last_total, pages=len(pages), requests=op.requests,
                        retries=op.retries, stopped=walk.stop_reason)
        return df


_OPTIONS = ("api_key", "base_url", "page_limit", "max_workers", "timeout", "deadline", "max_retries", "backoff",
            "backoff_max", "max_retry_after", "max_rate", "max_passes", "max_pages", "max_body", "progress", "session",
            "strict")


def _listing_frame(walks, raws, *, as_of, strict):
    """The frame of the passes read (their walks saw only ids; ``raws`` hold the pages).

    One pass without a repeated id (the common case) is taken from its pages'
    raw bytes by :func:`tlanalytics.frame.frame_from_pages`, whose pyarrow fast
    path types them column-wise: :func:`tlanalytics.paging.union` of such a pass is every item in
    page order, so the frame is the same. Otherwise the pages are parsed again
    and the union's items are typed.
    """
    if len(walks) == 1 and walks[0].duplicates == 0:
        return _frame.frame_from_pages([raws[0][p] for p in sorted(raws[0])], as_of=as_of, strict=strict)
    for walk, raw in zip(walks, raws):
        walk.bodies = {p: json.loads(page) if isinstance(page, bytes) else page for p, page in raw.items()}
    return _frame.build_frame(paging.union(walks), as_of=as_of, strict=strict)


@contextlib.contextmanager
def _client(client, options):
    """The given client, or a new one from ``options`` that is closed afterwards (like ``requests.get``'s Session)."""
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise InvalidArgumentError(f"Unknown option(s) {unknown}: the options are those of UploadsClient "
                                   f"({', '.join(_OPTIONS)}).")
    if client is not None:
        if options:
            raise InvalidArgumentError(f"Pass either `client` or client options, not both; got {sorted(options)}.")
        if not isinstance(client, UploadsClient):
            raise InvalidArgumentError(
                f"The value for `client` must be an UploadsClient or None, but {type(client).__name__} was passed.")
        yield client
        return
    with UploadsClient(**options) as owned:
        yield owned


_SHORTCUT_OPTIONS = """client : UploadsClient or None
        The client to use, as is (not closed afterwards); None makes one from
        ``**options`` and closes it when done.
    **options
        Any option of :class:`UploadsClient` (``api_key``, ``base_url``,
        ``page_limit``, ``max_workers``, ``timeout``, ``deadline``,
        ``max_retries``, ``backoff``, ``backoff_max``, ``max_retry_after``,
        ``max_rate``, ``max_passes``, ``max_pages``, ``max_body``,
        ``progress``, ``session``, ``strict``), documented there once; not
        together with ``client``."""


def load_uploads(api_key=None, *, client=None, as_of=None, with_progress=False, **options):
    """Load every incomplete multipart upload session of the account into a DataFrame.

    A thin shortcut for ``UploadsClient(api_key, **options).load(...)``, the
    way ``requests.get`` sits over a ``Session``; see :class:`UploadsClient`
    for every option and :meth:`UploadsClient.load` for how a listing that
    changes while it is paged is handled.

    Parameters
    ----------
    api_key : str or None
        The key; None reads ``TWELVELABS_API_KEY``, then ``TWELVE_LABS_API_KEY``
        (not together with ``client``).
    as_of : datetime, Timestamp, str or None
        Moment the derived columns are computed against; None for now.
    with_progress : bool, default False
        Also read each session's progress from its status endpoint.
    {options}

    Returns
    -------
    pandas.DataFrame
        One row per session; see :meth:`UploadsClient.load` for ``attrs``.

    Raises
    ------
    ConfigurationError
        No key was found.
    InvalidArgumentError, InsecureTransportError
        Bad or unknown options, or plain http to a host that is not loopback.
    AuthenticationError, BadRequestError, NotFoundError, RateLimitError, ServerError, TransportError, ResponseFormatError
        See :meth:`UploadsClient.load`.
    DeadlineExceededError
        ``deadline`` passed first.

    Warns
    -----
    InconsistentListingWarning
        See :meth:`UploadsClient.load`.

    Examples
    --------
    >>> import tlanalytics
    >>> with tlanalytics.Simulator(tlanalytics.generate_uploads(75, seed=2)) as sim:
    ...     df = tlanalytics.load_uploads(sim.api_key, base_url=sim.base_url, progress=False)
    >>> len(df), df.attrs["requests"]
    (75, 2)
    """
    if api_key is not None:
        if client is not None:
            raise InvalidArgumentError("Pass either `client` or `api_key`, not both: the client holds its key.")
        options["api_key"] = api_key
    with _client(client, options) as owned:
        return owned._load(as_of=as_of, with_progress=with_progress, stacklevel=3)


def add_progress(df, client=None, *, only=None, **options):
    """Add every session's progress columns (see :meth:`UploadsClient.add_progress`).

    Parameters
    ----------
    df : pandas.DataFrame
        Sessions as returned by :func:`load_uploads`.
    only : array-like of bool, optional
        Read progress only for the rows where this mask is True (see
        :meth:`UploadsClient.add_progress`); None reads every row.
    {options}

    Returns
    -------
    pandas.DataFrame
        ``df`` with the progress columns and the ``progress_*`` attrs.

    Raises
    ------
    InvalidArgumentError
        Both ``client`` and options were given, an unknown option, ``df`` has no
        ``upload_id``, or ``only`` does not have one value per row.
    NotFoundError
        A 404 without the API's ``resource_not_exist`` code.
    AuthenticationError, RateLimitError, ServerError, TransportError, ResponseFormatError, DeadlineExceededError
        See :meth:`UploadsClient.load`.

    Examples
    --------
    >>> df = add_progress(load_uploads())  # doctest: +SKIP
    """
    with _client(client, options) as owned:
        return owned._add_progress(df, None, only=only, stacklevel=3)


def load_chunks(upload_id, client=None, **options):
    """Load every chunk of one upload session (see :meth:`UploadsClient.load_chunks`).

    Parameters
    ----------
    upload_id : str
        The session's id.
    {options}

    Returns
    -------
    pandas.DataFrame
        One row per chunk, ordered by ``index``.

    Raises
    ------
    NotFoundError
        The session does not exist (any more).
    InvalidArgumentError
        A bad ``upload_id`` (one that would change the URL's path), or bad options.
    AuthenticationError, RateLimitError, ServerError, TransportError, ResponseFormatError, DeadlineExceededError
        See :meth:`UploadsClient.load`.

    Examples
    --------
    >>> chunks = load_chunks("507f1f77bcf86cd799439011")  # doctest: +SKIP
    """
    with _client(client, options) as owned:
        return owned._load_chunks(upload_id, stacklevel=3)


for _shortcut in (load_uploads, add_progress, load_chunks):
    _shortcut.__doc__ = _shortcut.__doc__.replace("{options}", _SHORTCUT_OPTIONS)
del _shortcut
