"""load_uploads builds its frame from the raw page bytes (frame_from_pages, pyarrow fast path): the same frame,
attrs, warnings and errors as build_frame of the items the server sent, over fuzzed listings served on loopback."""

import json
import math
import warnings

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlanalytics import _fastparse, frame
from tlanalytics.client import load_uploads
from tlanalytics.errors import TLAnalyticsError

from _hostile import Hostile, Reply

AS_OF = pd.Timestamp("2026-01-15T12:00:00Z")
KEY = "tlk_fastpath_test_key_000000000000"


class ListingServer:
    """The scriptable loopback server (tests/_hostile.py) serving ``items`` as listing pages with a truthful
    page_info; ``ascii`` False sends UTF-8 as is."""

    def __init__(self):
        self.items, self.ascii = [], True
        self._http = Hostile(self._reply)
        self.base_url = self._http.base_url

    @property
    def requests(self):
        return len(self._http.requests)

    def _reply(self, req):
        page, limit, n = req.param("page", 1), req.param("page_limit", 10), len(self.items)
        body = {"data": self.items[(page - 1) * limit: page * limit],
                "page_info": {"limit_per_page": limit, "page": page, "total_page": math.ceil(n / limit),
                              "total_results": n}}
        return Reply(200, json.dumps(body, ensure_ascii=self.ascii).encode("utf-8"), {"Content-Type": "application/json"})

    def close(self):
        self._http.stop()


@pytest.fixture(scope="module")
def server():
    s = ListingServer()
    yield s
    s.close()


_STAMP = st.sampled_from(["2025-12-01T10:00:00Z", "2025-12-01T10:00:00.123456Z", "2025-12-01T12:00:00+02:00",
                          "2025-12-01", "not a date", "", "2025-13-01T00:00:00Z", "2025-12-01T10:00:00.5-01:30"])
_ODD = st.one_of(st.none(), st.just(""), st.just("12"), st.just(-3), st.just(1.5), st.just(True), st.just([1]),
                 st.just({"a": 1}))


@st.composite
def listing(draw):
    """Unique ids (sometimes non-ASCII or with escapes); mostly valid fields, sometimes odd ones or extras."""
    ids = draw(st.lists(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8),
                        unique=True, max_size=40))
    items = []
    for i, uid in enumerate(ids):
        plain = draw(st.integers(0, 3)) > 0
        item = {"upload_id": f"u{i}-{uid.encode('ascii', 'ignore').decode() or 'x'}" if plain else uid,
                "status": draw(st.sampled_from(["active", "completed", "failed", "expired", "paused", "Active"])),
                "total_size": draw(st.integers(0, 2**62)), "chunk_size": draw(st.integers(1, 2**40)),
                "total_chunks": draw(st.integers(0, 2**20)),
                "created_at": draw(_STAMP), "expires_at": draw(_STAMP)}
        if draw(st.integers(0, 5)) == 0:
            item[draw(st.sampled_from(list(item)))] = draw(_ODD)
        if draw(st.integers(0, 7)) == 0:
            item["extra_field"] = draw(st.integers(0, 9) | st.text(max_size=3))
        items.append(item)
    uniq = {}
    for item in items:  # ids must stay unique after the odd values: one pass, the path under test
        key = item["upload_id"]
        if isinstance(key, str) and key and key not in uniq:
            uniq[key] = item
    return list(uniq.values())


def _outcome(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            df, err = fn(), None
        except TLAnalyticsError as exc:
            df, err = None, (type(exc), str(exc))
    return df, err, sorted((w.category.__name__, str(w.message)) for w in caught)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(items=listing(), limit=st.sampled_from([1, 7, 50]), ascii_only=st.booleans(), strict=st.booleans())
def test_the_loader_frame_equals_build_frame_of_the_items(server, items, limit, ascii_only, strict):
    server.items, server.ascii = items, ascii_only
    expected = _outcome(lambda: frame.build_frame(items, as_of=AS_OF, strict=strict))
    got = _outcome(lambda: load_uploads(KEY, base_url=server.base_url, page_limit=limit, as_of=AS_OF,
                                        progress=False, strict=strict, max_retries=0))
    assert got[1] == expected[1]  # the same error, or none
    assert got[2] == expected[2]  # the same warnings
    if expected[0] is not None:
        pd.testing.assert_frame_equal(got[0], expected[0])
        assert {k: got[0].attrs[k] for k in expected[0].attrs} == expected[0].attrs
        assert got[0].attrs["passes"] == 1


def test_the_loader_takes_the_fast_path_on_regular_pages(server, monkeypatch):
    """The pages go to frame_from_pages as bytes, and the pyarrow path takes every one of them."""
    from tlanalytics.simulator import Simulator, generate_uploads

    server.items = Simulator(generate_uploads(230, seed=4, now="2026-01-15T12:00:00Z")).listing()
    server.ascii = True
    fed, slow = [], []
    real_feed, real_add = _fastparse.feed, frame._add_page

    def feed(pages, collector, add_page):
        pages = list(pages)
        fed.extend(type(p).__name__ for p in pages)
        return real_feed(pages, collector, add_page)

    def add_page(collector, position, page):
        slow.append(position)
        return real_add(collector, position, page)

    monkeypatch.setattr(_fastparse, "feed", feed)
    monkeypatch.setattr(frame, "_add_page", add_page)
    df = load_uploads(KEY, base_url=server.base_url, as_of=AS_OF, progress=False)
    assert fed == ["bytes"] * 5 and slow == []
    monkeypatch.undo()
    pd.testing.assert_frame_equal(df, frame.build_frame(server.items, as_of=AS_OF))
