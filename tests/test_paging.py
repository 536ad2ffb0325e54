"""tlanalytics.paging: which pages a walk reads and when it stops, over plain dict pages (no I/O)."""

import pytest

from tlanalytics import paging
from tlanalytics.paging import EXTRA_PAGES, Walk, count_or_none, describe, settled, union


def item(n, prefix="u"):
    return {"upload_id": f"{prefix}{n}"}


def honest(n, *, info="full", cap=None):
    """A truthful server over ``n`` items; ``info`` picks which page_info fields it sends."""
    items = [item(i) for i in range(n)]

    def page(p, limit):
        per = min(limit, cap or limit)
        body = {"data": items[(p - 1) * per: p * per]}
        fields = {"full": {"limit_per_page": per, "page": p, "total_page": -(-n // per), "total_results": n},
                  "total_results": {"total_results": n}, "none": None}[info]
        if fields is not None:
            body["page_info"] = fields
        return body
    return page


def ignores_page(info=None):
    def page(p, limit):
        body = {"data": [item(i) for i in range(limit)]}
        if info is not None:
            body["page_info"] = info
        return body
    return page


def endless(info=None):
    def page(p, limit):
        body = {"data": [item(p * 1000 + i) for i in range(limit)]}
        if info is not None:
            body["page_info"] = info
        return body
    return page


WINDOW = 4


def run(server, *, limit=50, mode="one", **kwargs):
    """Drive a Walk like the client does; returns (pages requested in order, walk).

    ``one`` has one page in flight at a time; ``window`` keeps up to
    ``WINDOW`` pages in flight and hands them back in order (what the
    client's concurrent workers do).
    """
    walk = Walk(limit, "data", paging.listing_id, **kwargs)
    requested, pending, next_page = [], [], 1
    width = 1 if mode == "one" else WINDOW
    for _ in range(100_000):  # the test's own bound: a walk that never ends fails here, not by hanging
        end = walk.plan()
        while next_page <= end and len(pending) < width:
            pending.append(next_page)
            requested.append(next_page)
            next_page += 1
        if not pending or walk.stop_reason is not None:
            return requested, walk
        p = pending.pop(0)
        walk.add(p, server(p, walk.limit))
    raise AssertionError("the walk never ended")


CASES = [
    # (name, server, kwargs, pages requested, stop_reason)
    ("truthful, short last page", honest(130), {}, [1, 2, 3], None),
    ("truthful, full last page", honest(100), {}, [1, 2], None),
    ("total_results alone verifies", honest(100, info="total_results"), {}, [1, 2], None),
    ("no page_info: until a short page", honest(130, info="none"), {}, [1, 2, 3], None),
    ("no page_info, full last page: one empty page", honest(100, info="none"), {}, [1, 2, 3], None),
    ("empty listing", honest(0), {}, [1], None),
    ("server pages by 20", honest(95, cap=20), {}, [1, 2, 3, 4, 5], None),
    ("ignores page, no page_info", ignores_page(), {}, [1, 2], "repeat"),
    ("ignores page, total_page 1e9", ignores_page({"total_page": 10**9, "total_results": 50}), {}, [1, 2], "repeat"),
    ("endless, no page_info", endless(), {"max_pages": 6}, [1, 2, 3, 4, 5, 6], "max_pages"),
    ("endless, total_page 1e9", endless({"total_page": 10**9}), {"max_pages": 4}, [1, 2, 3, 4], "max_pages"),
    ("endless past total_page 2", endless({"total_page": 2}), {}, list(range(1, 3 + EXTRA_PAGES)), "overrun"),
    ("endless, 400-digit counts", endless({"total_page": 10**400, "total_results": 10**400}), {"max_pages": 3},
     [1, 2, 3], "max_pages"),
    ("hint of 3 from the last pass", honest(130), {"hint": 3}, [1, 2, 3], None),
]


@pytest.mark.parametrize("name, server, kwargs, expected, reason", CASES, ids=[c[0] for c in CASES])
def test_pages_requested_one_at_a_time(name, server, kwargs, expected, reason):
    requested, walk = run(server, **kwargs)
    assert requested == expected
    assert walk.stop_reason == reason
    assert (describe(walk) is None) == (reason is None)


@pytest.mark.parametrize("name, server, kwargs, expected, reason", CASES, ids=[c[0] for c in CASES])
def test_pages_requested_concurrently_stay_within_the_bounds(name, server, kwargs, expected, reason):
    requested, walk = run(server, mode="window", **kwargs)
    assert walk.stop_reason == reason
    assert set(expected) <= set(requested)
    assert max(requested) <= max(expected) + WINDOW  # only what was already in flight
    assert len(requested) == len(set(requested))


def test_a_huge_total_page_with_a_short_page_is_not_a_stop_reason():
    def server(p, limit):
        return {"data": [item(p * 100 + i) for i in range(limit if p < 3 else 7)],
                "page_info": {"total_page": 10**9, "total_results": 5 * 10**10}}
    for mode in ("one", "window"):
        requested, walk = run(server, mode=mode, max_pages=50)
        assert walk.stop_reason is None and walk.stop == 3 and len(walk.ids) >= 107
        assert max(requested) <= 3 + WINDOW


@pytest.mark.parametrize("value, expected", [(5, 5), (0, 0), (-1, None), (True, None), (2.0, None), ("3", None),
                                             (10**12, 10**12), (10**12 + 1, None), (10**400, None), (None, None)])
def test_count_or_none(value, expected):
    assert count_or_none(value) == expected


def _walk(pages, limit=2):
    walk = Walk(limit, "data", paging.listing_id)
    for p, body in enumerate(pages, 1):
        walk.add(p, body)
    return walk


def _page(ids, total=None):
    body = {"data": [item(i) for i in ids]}
    if total is not None:
        body["page_info"] = {"total_results": total}
    return body


@pytest.mark.parametrize("pages, changed, mismatch", [
    ([_page([1, 2], 3), _page([3], 3)], False, None),
    ([_page([1, 2], 3), _page([3], 4)], True, (4, None, 3)),  # total_results moved
    ([_page([1, 2], 4), _page([2, 3], 4)], True, (4, None, 3)),  # an id on two pages
    ([_page([1], 3), _page([2, 3], 3)], True, None),  # a short page before the last
    ([_page([1, 2], 2)], False, None),
    ([_page([1], 2)], False, (2, None, 1)),  # the reference example: one item, total_results 2
])
def test_signs_of_change(pages, changed, mismatch):
    walk = _walk(pages)
    assert walk.changed is changed and walk.mismatch == mismatch


def test_settled_accepts_a_clean_pass_or_two_that_agree():
    clean = _walk([_page([1, 2], 3), _page([3], 3)])
    miscount = [_walk([_page([1], 2)]), _walk([_page([1], 2)])]
    changing = [_walk([_page([1, 2], 3), _page([3], 4)]), _walk([_page([1, 2], 3), _page([3], 4)])]
    assert settled([clean]) and not settled(miscount[:1]) and settled(miscount)
    assert not settled(changing)  # agreeing passes that both show a change are not enough


def test_settled_never_trusts_a_pass_cut_short_by_a_bound():
    _, walk = run(ignores_page())
    assert walk.stop_reason == "repeat" and not settled([walk]) and not settled([walk, walk])


def test_union_newest_pass_wins_and_keeps_id_less_items_once():
    old = _walk([{"data": [{"upload_id": "a", "v": 1}, {"upload_id": "b", "v": 1}, {"x": "old"}]}], limit=5)
    new = _walk([{"data": [{"upload_id": "a", "v": 2}, {"x": "new"}, "junk"]}], limit=5)
    out = union([old, new])
    assert out == [{"upload_id": "a", "v": 2}, {"x": "new"}, "junk", {"upload_id": "b", "v": 1}]


def test_pages_without_a_data_list_count_as_empty():
    walk = _walk([{"data": "nope", "page_info": {"total_results": 0}}])
    assert walk.counts == {1: 0} and walk.stop == 1 and union([walk]) == []


def test_a_page_of_id_less_items_is_not_a_repeat():
    walk = Walk(2, "data", paging.listing_id, max_pages=4)
    walk.add(1, {"data": [{"x": 1}, {"x": 2}]})
    walk.add(2, {"data": [{"x": 1}, {"x": 2}]})
    assert walk.stop_reason is None and walk.plan() == 3
