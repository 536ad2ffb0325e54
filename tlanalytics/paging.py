"""What a walk over a paged endpoint saw, and when it must stop: pure, no I/O.

The client asks :class:`Walk` which pages to request (:meth:`Walk.plan`) and
hands it every page it gets (:meth:`Walk.add`); this module decides, from the
pages alone, whether the listing changed meanwhile, whether passes agree, how
passes unite, and when to stop reading a server that never ends.

A walk is bounded three ways, whatever the server sends:

- a full page that brings no new id (a server that ignores ``page`` and sends
  the same page every time) ends the walk: ``stop_reason`` ``"repeat"``;
- with usable ``page_info``, at most ``extra_pages`` pages are read past the
  last page it implies (a server that keeps sending full pages past its own
  count): ``"overrun"``;
- never more than ``max_pages`` pages in one pass: ``"max_pages"``.

A walk that stopped for one of these reasons says so in :attr:`Walk.stop_reason`
and :func:`describe`; the client then flags its result as not consistent.
"""

from __future__ import annotations

import numbers

__all__ = ["Walk", "listing_id", "chunk_id", "settled", "union", "describe", "DEFAULT_MAX_PAGES", "EXTRA_PAGES",
           "MAX_COUNT"]

#: Most pages read in one pass unless the caller says otherwise (50,000 sessions at 50 a page).
DEFAULT_MAX_PAGES = 1000
#: Most pages read past the last page ``page_info`` implies.
EXTRA_PAGES = 10
#: Counts in ``page_info`` above this are not believed (no account holds a trillion sessions).
MAX_COUNT = 10**12


def count_or_none(value):
    """A non-negative, believable integer count, else None (bools, floats, huge or negative numbers)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return int(value)
    return None


def listing_id(item):
    """The ``upload_id`` of a listing item, or None when it has no usable one."""
    value = item.get("upload_id") if isinstance(item, dict) else None
    return value if isinstance(value, str) and value else None


def chunk_id(item):
    """The ``index`` of a chunk item, or None when it has no usable one."""
    value = item.get("index") if isinstance(item, dict) else None
    return value if isinstance(value, numbers.Integral) and not isinstance(value, bool) else None


def _pages_for(total, limit):
    return -(-total // limit)  # integer ceil: no float, whatever the size


class Walk:
    """What one pass over a paged endpoint saw, the signals that it changed meanwhile, and its bounds.

    Parameters
    ----------
    limit : int
        Items per page asked for (lowered when page 1 says the server pages by less).
    items_key : str
        The key of a page's item list (``"data"``, ``"uploaded_chunks"``).
    id_of : callable
        An item's id, or None.
    hint : int or None
        Pages the previous pass found: read at once instead of planning from page 1.
    max_pages : int
        Most pages read in this pass.
    extra_pages : int
        Most pages read past what ``page_info`` implies.
    """

    def __init__(self, limit, items_key, id_of, *, hint=None, max_pages=DEFAULT_MAX_PAGES, extra_pages=EXTRA_PAGES):
        self.limit = limit
        self.items_key, self.id_of = items_key, id_of
        self.hint = self.planned = hint or 1
        self.max_pages, self.extra_pages = max_pages, extra_pages
        self.bodies = {}
        self.counts = {}
        self._prefix = 0  # pages 1.._prefix are all read (so plan() does not scan them on every call)
        self.ids = set()
        self.duplicates = 0
        self.totals, self.total_pages = set(), set()
        self.last_total = self.declared = None
        self.info_pages = None  # the last page usable page_info implies (None: no usable page_info yet)
        self.missing_info = False
        self.stop = None  # first short or empty page: nothing is requested past it
        self.extended = False  # pages were read past what page_info declared
        self.stop_reason = None  # "repeat", "overrun" or "max_pages" when a bound ended the walk
        self.stop_page = None

    def add(self, page, body):
        """Record one page (a dict); returns the last page page_info now implies (0 when it implies none)."""
        self.bodies[page] = body
        data = body.get(self.items_key)
        data = data if isinstance(data, list) else []
        info = body.get("page_info")
        implied = 0
        if isinstance(info, dict):
            total, pages = count_or_none(info.get("total_results")), count_or_none(info.get("total_page"))
            per = count_or_none(info.get("limit_per_page"))
            if per and per < self.limit and page == 1:
                self.limit = per  # the server pages by less than we asked for
            if total is not None:
                self.totals.add(total)
                self.last_total = total
                implied = _pages_for(total, self.limit)
            if pages is not None:
                self.total_pages.add(pages)
                self.declared = max(self.declared or 0, pages)
                implied = max(implied, pages)
            if total is None and pages is None:
                self.missing_info = True
            else:
                self.info_pages = max(self.info_pages or 0, implied)
        else:
            self.missing_info = True
        self.counts[page] = len(data)
        while self._prefix + 1 in self.counts:
            self._prefix += 1
        if len(data) < self.limit:
            self.stop = page if self.stop is None else min(self.stop, page)
        with_id = new = 0
        for item in data:
            key = self.id_of(item)
            if key is None:
                continue
            with_id += 1
            if key in self.ids:
                self.duplicates += 1
            else:
                new += 1
                self.ids.add(key)
        if with_id and not new and len(data) >= self.limit and self.stop_reason is None:
            self._halt("repeat", page)
        return implied

    def _halt(self, reason, page):
        self.stop_reason, self.stop_page = reason, page

    def _bound(self):
        """The last page this pass may read at all."""
        if self.info_pages is None:
            return self.max_pages
        return min(self.max_pages, max(self.hint, self.info_pages) + self.extra_pages)

    def plan(self):
        """The last page to request, given what was seen so far (0 once a bound ended the walk).

        Pages up to what ``page_info`` (or the previous pass) implies; nothing
        past the first short or empty page; one more page at a time when
        every planned page was full and ``page_info`` cannot be verified;
        never past the bounds (see the module docstring).
        """
        if self.stop_reason is not None:
            return 0
        want = max(self.planned, self.info_pages or 0)
        if self.stop is not None:
            want = min(want, self.stop)
        elif self._prefix >= want and not self.verified():
            want += 1
            while want in self.counts:  # pages already read past the plan (a hint, or an earlier extension)
                want += 1
            self.extended = self.extended or self.declared is not None
        bound = self._bound()
        if want > bound:
            if self._prefix >= bound and self.stop is None:
                self._halt("max_pages" if bound == self.max_pages else "overrun", bound)
                return 0
            want = bound
        if self.stop is None:
            self.planned = max(self.planned, want)
        return want

    def verified(self):
        """True when page_info is self-consistent and matches what was read: no need to look past it."""
        if self.missing_info or self.last_total is None or len(self.totals) != 1 or not self.counts:
            return False
        pages = _pages_for(self.last_total, self.limit)
        return self.declared in (None, pages) and len(self.ids) == self.last_total and max(self.counts) >= pages

    @property
    def changed(self):
        """Evidence that the listing changed during this pass."""
        last_nonempty = self.last_nonempty()
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

    def last_nonempty(self):
        """The last page that held items (0 when none did)."""
        return max((p for p, n in self.counts.items() if n), default=0)

    def pages(self):
        """The bodies read, in page order."""
        return [self.bodies[p] for p in sorted(self.bodies)]


def settled(walks):
    """True when the newest pass can be trusted: no sign of change, or it agrees with the pass before it.

    Parameters
    ----------
    walks : list of Walk
        The passes so far, oldest first.

    Returns
    -------
    bool
        False whenever a bound cut the newest (or the previous) pass short.

    Examples
    --------
    >>> w = Walk(50, "data", listing_id)
    >>> _ = w.add(1, {"data": [{"upload_id": "a"}], "page_info": {"total_results": 1}})
    >>> settled([w])
    True
    """
    walk = walks[-1]
    if walk.stop_reason is not None:
        return False
    if not walk.changed and walk.mismatch is None:
        return True
    if len(walks) > 1:
        before = walks[-2]
        return (before.stop_reason is None and not walk.changed and walk.ids == before.ids
                and walk.mismatch == before.mismatch)
    return False


def union(walks, items_key="data", id_of=listing_id):
    """Items of every pass, one per id: the newest pass's row wins; id-less items only from the newest pass.

    Parameters
    ----------
    walks : list of Walk
        The passes, oldest first.
    items_key : str, default "data"
        The key of a page's item list.
    id_of : callable, default :func:`listing_id`
        An item's id, or None.

    Returns
    -------
    list
        The items, newest pass first, in page order within a pass.

    Examples
    --------
    >>> old, new = Walk(50, "data", listing_id), Walk(50, "data", listing_id)
    >>> _ = old.add(1, {"data": [{"upload_id": "a", "v": 1}, {"upload_id": "b"}]})
    >>> _ = new.add(1, {"data": [{"upload_id": "a", "v": 2}]})
    >>> union([old, new])
    [{'upload_id': 'a', 'v': 2}, {'upload_id': 'b'}]
    """
    newest, seen, out = walks[-1], set(), []
    for walk in reversed(walks):
        for body in walk.pages():
            data = body.get(items_key)
            for item in data if isinstance(data, list) else []:
                key = id_of(item)
                if key is None:
                    if walk is newest:
                        out.append(item)
                elif key not in seen:
                    seen.add(key)
                    out.append(item)
    return out


def describe(walk):
    """What the server did when a bound ended ``walk``, for warnings and errors.

    Parameters
    ----------
    walk : Walk

    Returns
    -------
    str or None
        None when no bound ended the walk.

    Examples
    --------
    >>> w = Walk(1, "data", listing_id)
    >>> _ = w.add(1, {"data": [{"upload_id": "a"}]}); _ = w.add(2, {"data": [{"upload_id": "a"}]})
    >>> describe(w).startswith("the server sent page 2 full of items already seen")
    True
    """
    reason, page = walk.stop_reason, walk.stop_page
    if reason == "repeat":
        return (f"the server sent page {page} full of items already seen on other pages (it seems to ignore "
                f"`page`), so reading stopped there")
    if reason == "overrun":
        return (f"the server kept sending full pages {walk.extra_pages} pages past what its page_info implies, "
                f"so reading stopped at page {page}")
    if reason == "max_pages":
        return (f"the listing was still sending full pages at page {page}, the `max_pages` limit, so reading "
                f"stopped there; raise `max_pages` if the account really holds more")
    return None
