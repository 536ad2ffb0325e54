"""Load a TwelveLabs account's incomplete multipart uploads into a DataFrame.

The client only fetches: pages go to :mod:`tlanalytics.frame`, which types
them and adds the derived columns. Requests go through one pooled
``requests.Session`` and the retrying, rate-aware transport of
:mod:`tlanalytics._http`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import numbers
import os
import sys
import warnings
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from urllib.parse import quote

import pandas as pd
import requests
from requests.adapters import HTTPAdapter

from . import frame as _frame
from ._http import Op, _Transport, check_base_url
from .errors import ConfigurationError, InconsistentListingWarning, InvalidArgumentError, NotFoundError
from .keys import BASE_URL_ENV_VAR, check_key, key_from_env
from .validate import as_of as _sanitize_as_of, check_int, check_number, check_timeout

__all__ = ["UploadsClient", "load_uploads", "add_progress", "load_chunks"]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.twelvelabs.io/v1.3"
MAX_PAGE_LIMIT = 50
_LIST = "/assets/multipart-uploads"


def _int_or_none(value):
    return int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0 else None


def _listing_id(item):
    value = item.get("upload_id") if isinstance(item, dict) else None
    return value if isinstance(value, str) and value else None


def _chunk_id(item):
    value = item.get("index") if isinstance(item, dict) else None
    return value if isinstance(value, numbers.Integral) and not isinstance(value, bool) else None


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


class _Walk:
    """What one pass over a paged endpoint saw, and the signals that it changed meanwhile."""

    def __init__(self, limit, items_key, id_of):
        self.limit = limit
        self.items_key, self.id_of = items_key, id_of
        self.bodies = {}
        self.counts = {}
        self.ids = set()
        self.duplicates = 0
        self.totals, self.total_pages = set(), set()
        self.last_total = self.declared = None
        self.missing_info = False
        self.stop = None  # first short or empty page: nothing is requested past it
        self.extended = False  # pages were read past what page_info declared

    def add(self, page, body):
        """Record one page; returns the last page page_info now implies."""
        self.bodies[page] = body
        data = body.get(self.items_key) or []
        info = body.get("page_info")
        implied = 0
        if isinstance(info, dict):
            total, pages = _int_or_none(info.get("total_results")), _int_or_none(info.get("total_page"))
            per = _int_or_none(info.get("limit_per_page"))
            if per and per < self.limit and page == 1:
                self.limit = per  # the server pages by less than we asked for
            if total is not None:
                self.totals.add(total)
                self.last_total = total
                implied = math.ceil(total / self.limit)
            if pages is not None:
                self.total_pages.add(pages)
                self.declared = max(self.declared or 0, pages)
                implied = max(implied, pages)
        else:
            self.missing_info = True
        self.counts[page] = len(data)
        if len(data) < self.limit:
            self.stop = page if self.stop is None else min(self.stop, page)
        for item in data:
            key = self.id_of(item)
            if key is None:
                continue
            if key in self.ids:
                self.duplicates += 1
            self.ids.add(key)
        return implied

    def verified(self):
        """True when page_info is self-consistent and matches what was read: no need to look past it."""
        if self.missing_info or self.last_total is None or len(self.totals) != 1:
            return False
        pages = math.ceil(self.last_total / self.limit)
        return (self.declared in (None, pages) and len(self.ids) == self.last_total and max(self.counts) >= pages)

    @property
    def changed(self):
        """Evidence that the listing changed during this pass."""
        last_nonempty = max((p for p, n in self.counts.items() if n), default=0)
        short_inside = any(n < self.limit and p < last_nonempty for p, n in self.counts.items())
        return len(self.totals) > 1 or len(self.total_pages) > 1 or self.duplicates > 0 or short_inside

    @property
    def mismatch(self):
        """page_info disagreeing with what was read (a change, or a server that miscounts); None if it agrees."""
        if self.last_total is None:
            return None
        if len(self.ids) != self.last_total or (self.declared is not None and self.extended and self.stop
                                                and self.stop - 1 > self.declared):
            return (self.last_total, self.declared, len(self.ids))
        return None

    def pages(self):
        return [self.bodies[p] for p in sorted(self.bodies)]


class UploadsClient:
    """A client for the multipart-upload endpoints of the TwelveLabs API.

    One pooled ``requests.Session`` (an ``HTTPAdapter`` pool sized to
    ``max_workers``), a bounded thread pool, retries with exponential backoff
    and full jitter that honour ``Retry-After``, an adaptive window on the
    requests in flight (it starts at 8, grows up to ``max_workers`` while
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
        of the adaptive window, which starts at 8.
    timeout : float or (float, float), default (3.05, 30)
        Connect and read timeouts of every request, in seconds.
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
    progress : bool, default True
        Show a tqdm progress bar on stderr.
    session : requests.Session or None
        A session to use as is (its adapters are not replaced, and it is not
        closed by :meth:`close`); None makes and owns one.
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

    def __init__(self, api_key=None, *, base_url=None, page_limit=50, max_workers=32, timeout=(3.05, 30),
                 max_retries=5, backoff=0.5, backoff_max=30.0, max_retry_after=60.0, max_rate=None, max_passes=4,
                 progress=True, session=None, strict=False):
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
        self.progress, self.strict = bool(progress), bool(strict)
        if session is not None and not isinstance(session, requests.Session):
            raise InvalidArgumentError(
                f"The value for `session` must be a requests.Session or None, but {type(session).__name__} was passed.")
        self._own_session = session is None
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=self.max_workers)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self._transport = _Transport(
            key=key, session=session, timeout=check_timeout(timeout),
            max_retries=check_int("max_retries", max_retries, 0),
            backoff=check_number("backoff", backoff, positive=False),
            backoff_max=check_number("backoff_max", backoff_max, positive=False),
            max_retry_after=check_number("max_retry_after", max_retry_after, positive=False),
            max_workers=self.max_workers, max_rate=check_number("max_rate", max_rate, allow_none=True))
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
        """Stop the worker threads and close the session if the client made it."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._own_session:
            self._transport.session.close()

    @property
    def session(self):
        """The ``requests.Session`` every request goes through."""
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

    def _window_history(self):
        state = self.concurrency
        return {k: state[k] for k in ("start", "peak", "low", "final", "decreases", "rate")}

    def _executor(self):
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="tlanalytics")
        return self._pool

    def _get(self, path, params, *, op, what, page=None, check, allow_404=False, raw=False):
        return self._transport.get(self.base_url + path, params, op=op, what=what, page=page, check=check,
                                   allow_404=allow_404, raw=raw)

    def _walk(self, fetch, walk, op, bar, hint=None):
        """Yield ``(page, body)`` of one pass in page order, fetching concurrently.

        Without a hint, page 1 comes first and its page_info plans the rest; a
        hint (pages of the previous pass) fetches those pages at once. Nothing
        is requested past the first short or empty page; when the last planned
        page is full and page_info cannot be verified, pages are read one by
        one until a short or empty page.
        """
        pool = self._executor()
        pending, ready = {}, {}
        end, next_submit, next_yield = hint or 1, 1, 1
        window = 2 * self.max_workers
        base = bar.n  # pages of earlier passes on the same bar
        try:
            while True:
                while next_submit <= end and (walk.stop is None or next_submit <= walk.stop) and len(pending) < window:
                    pending[pool.submit(fetch, next_submit)] = next_submit
                    next_submit += 1
                if not pending:
                    if walk.stop is None and not walk.verified():
                        end += 1
                        bar.total = base + end
                        walk.extended = walk.extended or walk.declared is not None
                        log.debug("page %d is full but page_info does not account for it: reading page %d", end - 1, end)
                        continue
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    page = pending.pop(fut)
                    ready[page] = body = fut.result()
                    end = max(end, walk.add(page, body))
                    if base + end != bar.total:
                        bar.total = base + end
                        bar.refresh()
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
            content, body = got
            raw[page] = body if content is None else content
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
        op = Op()
        walk = _Walk(self.page_limit, "data", _listing_id)
        bar = _progress_bar(self.progress, total=None, unit="page", desc="Listing uploads")
        try:
            for _, body in self._walk(self._fetch_listing_page(op), walk, op, bar):
                yield body
        finally:
            bar.close()

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
            ``concurrency`` (the window's ``start``, ``peak``, ``low``,
            ``final``, ``decreases`` and learned ``rate``: what the server allowed).

        Raises
        ------
        AuthenticationError
            The key was rejected (401/403).
        BadRequestError, NotFoundError
            The API rejected the request (400) or the endpoint is not at ``base_url`` (404).
        RateLimitError, ServerError, TransportError, ResponseFormatError
            429s, 5xx, no response, or unusable bodies kept coming after every retry.

        Warns
        -----
        InconsistentListingWarning
            The listing kept changing and a consistent read was not confirmed
            (``attrs["consistent"]`` is False).

        Examples
        --------
        >>> df = client.load()  # doctest: +SKIP
        >>> df.attrs["consistent"], df.attrs["requests"]  # doctest: +SKIP
        (True, 3)
        """
        return self._load(as_of=as_of, with_progress=with_progress, stacklevel=3)

    def _load(self, *, as_of, with_progress, stacklevel):
        as_of = _sanitize_as_of(as_of)
        op = Op()
        walks, raws, hint, consistent = [], [], None, False
        bar = _progress_bar(self.progress, total=None, unit="page", desc="Listing uploads")
        try:
            for n in range(1, self.max_passes + 1):
                walk = _Walk(self.page_limit, "data", _listing_id)
                if walks:
                    walk.limit = walks[-1].limit
                raws.append({})
                for _ in self._walk(self._fetch_listing_page(op, raws[-1]), walk, op, bar, hint=hint):
                    pass
                walks.append(walk)
                if not walk.changed and walk.mismatch is None:
                    consistent = True
                elif n > 1 and not walk.changed and walk.ids == walks[-2].ids and walk.mismatch == walks[-2].mismatch:
                    consistent = True
                if consistent:
                    break
                hint = max([p for p, count in walk.counts.items() if count] or [1])
                log.debug("the listing changed while it was paged (pass %d: %d ids, total_results %s, %d duplicates); "
                          "reading it again", n, len(walk.ids), sorted(walk.totals), walk.duplicates)
        finally:
            bar.close()
        df = _listing_frame(walks, raws, as_of=as_of, strict=self.strict)
        df.attrs.update(base_url=self.base_url, pages=sum(len(w.counts) for w in walks),
                        requests=op.requests, retries=op.retries, total_results=walks[-1].last_total,
                        consistent=consistent, passes=len(walks), concurrency=self._window_history())
        if not consistent:
            warnings.warn(f"The listing kept changing while it was paged ({len(walks)} passes); the result unites them "
                          f"but may miss or keep sessions that changed meanwhile. Load again later for a consistent "
                          f"view.", InconsistentListingWarning, stacklevel=stacklevel)
        if with_progress:
            df = self.add_progress(df)
        return df

    # -- progress --------------------------------------------------------
    def _fetch_status(self, op, upload_id, page=1, page_limit=1, allow_404=True):
        return self._get(f"{_LIST}/{quote(upload_id, safe='')}", {"page": page, "page_limit": page_limit}, op=op,
                         page=page, what=f"the status of upload {upload_id!r} (page {page})", check=_check_status,
                         allow_404=allow_404)

    def add_progress(self, df):
        """Add every session's progress columns from its status endpoint.

        One ``GET /assets/multipart-uploads/{upload_id}?page_limit=1`` per
        session, concurrently, with the same retries and rate limits as the
        listing. A session that ended meanwhile (404 ``resource_not_exist``)
        keeps its row, with ``vanished`` True and null progress; any other 404
        (such as a wrong ``base_url``) raises. Rows whose ``upload_id`` is null,
        or repeats an earlier row's, send no request of their own (a repeat
        shares the first row's status).

        Parameters
        ----------
        df : pandas.DataFrame
            Sessions as returned by :meth:`load`; ``attrs["as_of"]`` is used.

        Returns
        -------
        pandas.DataFrame
            ``df`` with the progress columns, and ``attrs["progress_requests"]``
            and ``attrs["progress_retries"]``; ``attrs["concurrency"]`` is
            updated with the window's history (see :meth:`load`).

        Raises
        ------
        NotFoundError
            A 404 that does not say the session is gone (e.g. a wrong ``base_url``).
        AuthenticationError, RateLimitError, ServerError, TransportError, ResponseFormatError
            As :meth:`load`.

        Examples
        --------
        >>> df = client.add_progress(client.load())  # doctest: +SKIP
        >>> df["vanished"].sum()  # doctest: +SKIP
        0
        """
        if not isinstance(df, pd.DataFrame) or "upload_id" not in df.columns:
            raise InvalidArgumentError("The value for `df` must be a DataFrame with an `upload_id` column, "
                                       f"but {type(df).__name__} was passed.")
        ids = list(dict.fromkeys(i for i in df["upload_id"].tolist() if isinstance(i, str) and i))
        op, statuses = Op(), {}
        bar = _progress_bar(self.progress, total=len(ids), unit="session", desc="Reading progress")
        pool = self._executor()
        futures = {pool.submit(self._fetch_status, op, uid): uid for uid in ids}
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    statuses[futures[fut]] = fut.result()
                    bar.update(1)
        except BaseException:
            op.cancel.set()
            for fut in futures:
                fut.cancel()
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
        AuthenticationError, RateLimitError, ServerError, TransportError, ResponseFormatError
            As :meth:`load`.

        Examples
        --------
        >>> chunks = client.load_chunks("507f1f77bcf86cd799439011")  # doctest: +SKIP
        >>> chunks["status"].value_counts()  # doctest: +SKIP
        """
        if not isinstance(upload_id, str) or not upload_id:
            raise InvalidArgumentError(f"The value for `upload_id` must be a non-empty string, but {upload_id!r} was passed.")
        op = Op()
        walk = _Walk(MAX_PAGE_LIMIT, "uploaded_chunks", _chunk_id)
        bar = _progress_bar(self.progress, total=None, unit="page", desc="Reading chunks")

        def fetch(page):
            return self._fetch_status(op, upload_id, page, MAX_PAGE_LIMIT, allow_404=False)

        try:
            pages = [body for _, body in self._walk(fetch, walk, op, bar)]
        except NotFoundError as err:
            raise NotFoundError(f"The upload session {upload_id!r} was not found ({err.status} {err.code}): it may have "
                                f"completed, failed or expired since it was listed. Load the listing again.",
                                status=err.status, code=err.code, api_message=err.api_message, page=err.page,
                                url=err.url) from err
        finally:
            bar.close()
        items = {}
        for body in pages:
            for item in body.get("uploaded_chunks") or []:
                items[_chunk_id(item) if _chunk_id(item) is not None else ("?", len(items))] = item
        df = _frame.chunks_frame(list(items.values()))
        first = pages[0]
        df.attrs.update({k: first.get(k) for k in ("status", "chunks_completed", "chunks_failed", "chunks_pending",
                                                   "total_size", "uploaded_size", "created_at", "updated_at")})
        df.attrs.update(upload_id=upload_id, total_chunks=walk.last_total, pages=len(pages), requests=op.requests,
                        retries=op.retries)
        return df


def _union(walks):
    """Items of every pass, one per id: the newest pass's row wins; id-less items only from the newest pass."""
    newest, seen, out = walks[-1], set(), []
    for walk in reversed(walks):
        for body in walk.pages():
            for item in body.get("data") or []:
                key = _listing_id(item)
                if key is None:
                    if walk is newest:
                        out.append(item)
                elif key not in seen:
                    seen.add(key)
                    out.append(item)
    return out


def _listing_frame(walks, raws, *, as_of, strict):
    """The frame of the passes read (their walks saw only ids; ``raws`` hold the pages).

    One pass without a repeated id (the common case) is taken from its pages'
    raw bytes by :func:`tlanalytics.frame.frame_from_pages`, whose pyarrow fast
    path types them column-wise: :func:`_union` of such a pass is every item in
    page order, so the frame is the same. Otherwise the pages are parsed again
    and the union's items are typed.
    """
    if len(walks) == 1 and walks[0].duplicates == 0:
        return _frame.frame_from_pages([raws[0][p] for p in sorted(raws[0])], as_of=as_of, strict=strict)
    for walk, raw in zip(walks, raws):
        walk.bodies = {p: json.loads(page) if isinstance(page, bytes) else page for p, page in raw.items()}
    return _frame.build_frame(_union(walks), as_of=as_of, strict=strict)


@contextlib.contextmanager
def _client(client, kwargs):
    """The given client, or a new one from ``kwargs`` that is closed afterwards."""
    if client is not None:
        if kwargs:
            raise InvalidArgumentError(f"Pass either `client` or client options, not both; got {sorted(kwargs)}.")
        if not isinstance(client, UploadsClient):
            raise InvalidArgumentError(
                f"The value for `client` must be an UploadsClient or None, but {type(client).__name__} was passed.")
        yield client
        return
    with UploadsClient(**kwargs) as owned:
        yield owned


def load_uploads(api_key=None, *, base_url=None, page_limit=50, max_workers=32, timeout=(3.05, 30), max_retries=5,
                 max_rate=None, progress=True, as_of=None, session=None, strict=False, with_progress=False):
    """Load every incomplete multipart upload session of the account into a DataFrame.

    A shortcut for ``UploadsClient(...).load(...)``; see :class:`UploadsClient`
    for the transport and :meth:`UploadsClient.load` for how a listing that
    changes while it is paged is handled.

    Parameters
    ----------
    api_key : str or None
        The key; None reads ``TWELVELABS_API_KEY``, then ``TWELVE_LABS_API_KEY``.
    base_url : str or None
        API root; None reads ``TWELVELABS_BASE_URL``, else ``https://api.twelvelabs.io/v1.3``.
    page_limit : int, default 50
        Items per page, 1 to 50.
    max_workers : int, default 32
        Most requests in flight at once: the ceiling of the adaptive window.
    timeout : float or (float, float), default (3.05, 30)
        Connect and read timeouts of every request, in seconds.
    max_retries : int, default 5
        Retries of one request before giving up.
    max_rate : float or None
        Most requests per second; None for no client-side limit.
    progress : bool, default True
        Show a progress bar on stderr.
    as_of : datetime, Timestamp, str or None
        Moment the derived columns are computed against; None for now.
    session : requests.Session or None
        A session to use (not closed afterwards).
    strict : bool, default False
        Raise on malformed items instead of keeping them with nulls.
    with_progress : bool, default False
        Also read each session's progress from its status endpoint.

    Returns
    -------
    pandas.DataFrame
        One row per session; see :meth:`UploadsClient.load` for ``attrs``.

    Raises
    ------
    ConfigurationError
        No key was found.
    InvalidArgumentError, InsecureTransportError
        Bad arguments, or plain http to a host that is not loopback.
    AuthenticationError, BadRequestError, NotFoundError, RateLimitError, ServerError, TransportError, ResponseFormatError
        See :meth:`UploadsClient.load`.

    Examples
    --------
    >>> import tlanalytics
    >>> with tlanalytics.Simulator(tlanalytics.generate_uploads(75, seed=2)) as sim:
    ...     df = tlanalytics.load_uploads(sim.api_key, base_url=sim.base_url, progress=False)
    >>> len(df), df.attrs["requests"]
    (75, 2)
    """
    with UploadsClient(api_key, base_url=base_url, page_limit=page_limit, max_workers=max_workers, timeout=timeout,
                       max_retries=max_retries, max_rate=max_rate, progress=progress, session=session,
                       strict=strict) as client:
        return client._load(as_of=as_of, with_progress=with_progress, stacklevel=3)


def add_progress(df, client=None, **client_kwargs):
    """Add every session's progress columns (see :meth:`UploadsClient.add_progress`).

    Parameters
    ----------
    df : pandas.DataFrame
        Sessions as returned by :func:`load_uploads`.
    client : UploadsClient or None
        The client to use; None makes one from ``client_kwargs`` (and closes it).
    **client_kwargs
        Options of :class:`UploadsClient` (``api_key``, ``base_url``, ...).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    InvalidArgumentError
        Both ``client`` and client options were given, or ``df`` has no ``upload_id``.
    AuthenticationError, RateLimitError, ServerError, TransportError, ResponseFormatError
        See :meth:`UploadsClient.load`.

    Examples
    --------
    >>> df = add_progress(load_uploads())  # doctest: +SKIP
    """
    with _client(client, client_kwargs) as client:
        return client.add_progress(df)


def load_chunks(upload_id, client=None, **client_kwargs):
    """Load every chunk of one upload session (see :meth:`UploadsClient.load_chunks`).

    Parameters
    ----------
    upload_id : str
        The session's id.
    client : UploadsClient or None
        The client to use; None makes one from ``client_kwargs`` (and closes it).
    **client_kwargs
        Options of :class:`UploadsClient`.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    NotFoundError
        The session does not exist (any more).
    AuthenticationError, RateLimitError, ServerError, TransportError, ResponseFormatError
        See :meth:`UploadsClient.load`.

    Examples
    --------
    >>> chunks = load_chunks("507f1f77bcf86cd799439011")  # doctest: +SKIP
    """
    with _client(client, client_kwargs) as client:
        return client.load_chunks(upload_id)
