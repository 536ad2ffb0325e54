"""Optional fast path of :func:`tlanalytics.frame.frame_from_pages` for raw page bodies (needs pyarrow).

Raw bodies are read a block at a time by ``pyarrow.json`` (one page per line,
the item type given explicitly so nothing is guessed) and typed column-wise
from the Arrow buffers. The result is exactly that of the per-page path in
``frame.py``, because the fast path only ever takes a whole *chunk* of rows
(the rows the collector would type together, see
:class:`~tlanalytics._parse.ListingCollector`) and only when that chunk is
regular: every body plain ASCII JSON without escapes or carriage returns that
pyarrow reads as exactly one row (line breaks are JSON whitespace to both
parsers; a block pyarrow refuses is read again without the bodies that have
one, as pyarrow's chunks are cut at line breaks), items
with exactly the documented fields, no null or bad value that would be
reported, no value the two parsers could read differently. Anything else
sends the pages of that chunk, in order, through the per-page path, which
then decides values, warnings and errors as it always does.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import repeat

import numpy as np

from . import _parse
from .schema import LISTING_FIELDS

ENABLED = True  # private switch (tests force either path)
BLOCK_BYTES = 1 << 23  # raw bytes read per pyarrow call (8 MiB: faster than 4 MiB at 1,000,000 sessions)
BLOCK_PAGES = 4096  # at most this many pages read ahead (bodies that are not bytes count too)
_GIVE_UP = 3  # blocks in a row of which no page could be taken fast (e.g. items with extra fields)
_ZEROS = np.zeros(40, np.uint8)  # padding: reads past a value's end hit zeros, as in _parse._vectorised

_TS_UTC = _TS_NS = None  # pyarrow.timestamp("s"/"ns", tz="UTC") once imported
# read_json's tables come from the C allocator, which gives a block's memory back once it is freed;
# pyarrow's default pool (mimalloc) kept ~40 MiB more resident at 200,000 sessions, for about the same CPU time.
_POOL = None
_pa = None  # (pyarrow, pyarrow.json, pyarrow.compute, options, item type) once imported


def _arrow():
    """The pyarrow modules and parse options, or None when pyarrow is not importable."""
    global _pa, _TS_UTC, _TS_NS, _POOL
    if _pa is None:
        try:
            import pyarrow as pa
            import pyarrow.compute as pc
            import pyarrow.json as pj
        except ImportError:
            return None
        # Text as binary: the bodies taken are ASCII (checked), so pyarrow's UTF-8 validation would be a
        # pass for nothing (~2.5 % of the parse); typing views them as strings, without a copy.
        item = pa.struct([
            ("upload_id", pa.binary()), ("status", pa.binary()), ("total_size", pa.int64()),
            ("chunk_size", pa.int64()), ("total_chunks", pa.int64()),
            ("created_at", pa.binary()), ("expires_at", pa.binary()),
        ])
        assert tuple(f.name for f in item) == LISTING_FIELDS  # StructType.names needs pyarrow >= 17
        parse = pj.ParseOptions(explicit_schema=pa.schema([("data", pa.list_(item))]),
                                unexpected_field_behavior="infer")
        read = pj.ReadOptions(use_threads=False, block_size=BLOCK_BYTES + (1 << 20))
        _pa = (pa, pj, pc, read, parse, item)
        _TS_UTC = pa.timestamp("s", tz="UTC")
        _TS_NS = pa.timestamp("ns", tz="UTC")
        _POOL = pa.system_memory_pool()
    return _pa


def usable():
    """Whether the fast path is on and pyarrow importable."""
    return ENABLED and _arrow() is not None


def feed(pages, collector, add_page):
    """Add every page to ``collector`` as ``add_page(collector, position, page)`` would, faster.

    ``add_page`` is the per-page path; it is called, in page order, for every
    page of a chunk the fast path does not take.
    """
    it = enumerate(pages, start=1)
    misses = 0  # blocks in a row where pyarrow took no page: after _GIVE_UP, stop asking it
    pending, rows = [], 0  # ((position, page), seg) of the open chunk (all fast so far) and their rows
    slow = False  # True while the collector holds a part-filled chunk from add_page
    while True:
        block, error = _read(it)
        segs = _parse_block(block) if misses < _GIVE_UP else [None] * len(block)
        slow_pages = segs.count(None)
        misses = misses + 1 if block and slow_pages == len(segs) else 0
        if not slow and not slow_pages:
            pending, rows = _take(block, segs, pending, rows, collector, add_page)
        else:
            for (position, page), seg in zip(block, segs):
                if slow:
                    add_page(collector, position, page)
                    slow = collector.open_rows() > 0
                elif seg is None:
                    for (p, pg), _ in pending:
                        add_page(collector, p, pg)
                    pending, rows = [], 0
                    add_page(collector, position, page)
                    slow = collector.open_rows() > 0
                else:
                    pending.append(((position, page), seg))
                    rows += seg[2] - seg[1]
                    if rows >= _parse.CHUNK_ROWS:
                        _commit(collector, pending, add_page)
                        pending, rows = [], 0
        if error is not None:
            raise error  # as the per-page loop would, after the pages before it (an open chunk is not typed)
        if not block:
            break
    if pending:
        _commit(collector, pending, add_page)


def _take(block, segs, pending, rows, collector, add_page):
    """As feed's per-page loop on a block whose pages all go fast; returns the new (pending, rows).

    The pages' items are consecutive in one table, so the rows up to a page are
    its end offset minus the first page's start: each chunk's last page is found
    by bisection instead of adding up the pages one by one.
    """
    ends = [seg[2] for seg in segs]
    first, count = 0, len(block)
    while first < count:
        base = segs[first][1]
        last = bisect_left(ends, base + _parse.CHUNK_ROWS - rows, first)  # rows reach CHUNK_ROWS there
        if last == count:
            pending.extend(zip(block[first:], segs[first:]))
            return pending, rows + ends[-1] - base
        pending.extend(zip(block[first:last + 1], segs[first:last + 1]))
        _commit(collector, pending, add_page)
        pending, rows, first = [], 0, last + 1
    return pending, rows


def _read(it):
    """The next block of (position, page), and the exception the iterator raised (or None)."""
    block, size = [], 0
    try:
        for entry in it:  # enumerate's (position, page) tuples, kept as they are
            block.append(entry)
            page = entry[1]
            if page.__class__ is bytes or isinstance(page, (bytes, bytearray, str)):
                size += len(page)
            if size >= BLOCK_BYTES or len(block) >= BLOCK_PAGES:
                break
    except Exception as exc:  # noqa: BLE001 - re-raised in order by feed
        return block, exc
    return block, None


def _body(page):
    """The page as bytes when it may go to pyarrow (ASCII JSON object on one line), else None."""
    if page.__class__ is str:
        if not page.isascii():
            return None
        page = page.encode("ascii")
    elif page.__class__ is bytearray:
        page = bytes(page)
    elif page.__class__ is not bytes:
        return None
    if page[:1] != b"{" or page[-1:] != b"}":
        return None
    return page


def _clean(body, newlines=False):
    """Whether both parsers read ``body`` alike: ASCII, no escapes, no line breaks (unless ``newlines``)."""
    return body.isascii() and b"\\" not in body and b"\r" not in body and (newlines or b"\n" not in body)


def _parse_block(block):
    """Per page of ``block``: (field arrays, first item, end item) of its items, or None (per-page path)."""
    segs = [None] * len(block)
    where, bodies = [], []
    for i, (_, page) in enumerate(block):
        # _body(page), inlined for the common case (bytes of one object)
        body = page if page.__class__ is bytes and page[:1] == b"{" and page[-1:] == b"}" else _body(page)
        if body is not None:
            where.append(i)
            bodies.append(body)
    if not bodies:
        return segs
    joined = b"\n".join(bodies)
    if not _clean(joined, newlines=True):  # find the bodies that are not
        keep = [k for k, b in enumerate(bodies) if _clean(b)]
        where, bodies = [where[k] for k in keep], [bodies[k] for k in keep]
        joined = b"\n".join(bodies) if bodies else None
    table = _read_json(joined)
    if table is None or table.num_rows != len(bodies):
        # One body per line: a body with a line break (pretty-printed JSON) broke the block. Such bodies
        # are rare, so they are looked for only now (one scan less per block), and the others read again.
        keep = [k for k, b in enumerate(bodies) if b"\n" not in b]
        if len(keep) == len(bodies):
            return segs  # no line break: a body that is not one object
        where, bodies = [where[k] for k in keep], [bodies[k] for k in keep]
        table = _read_json(b"\n".join(bodies) if bodies else None)
        if table is None or table.num_rows != len(bodies):
            return segs
    del joined
    item = _arrow()[5]
    data = table.column("data")
    if data.type.value_type != item:
        return segs  # a body that is not one object (or blank), or items with more fields
    data = data.chunk(0) if data.num_chunks == 1 else data.combine_chunks()
    values = data.values
    if values.null_count:
        return segs  # an item that is null (the per-page path reports it)
    offsets = np.asarray(data.offsets).tolist()  # Python ints: cheaper here than numpy scalars
    fields = [values.field(k) for k in range(len(LISTING_FIELDS))]
    if not data.null_count and len(where) == len(block):  # the usual case: every page read, every data a list
        return list(zip(repeat(fields), offsets, offsets[1:]))
    valid = np.asarray(data.is_valid()).tolist()
    for k, i in enumerate(where):
        if valid[k]:
            segs[i] = (fields, offsets[k], offsets[k + 1])
    return segs


def _read_json(joined):
    """The table pyarrow reads from ``joined`` (one JSON object per line), or None when it refuses it."""
    if joined is None:
        return None
    pa, pj, _, read, parse, _ = _arrow()
    try:
        return pj.read_json(pa.py_buffer(joined), read_options=read, parse_options=parse, memory_pool=_POOL)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        return None


def _commit(collector, pending, add_page):
    """Type the rows of a whole chunk's pages at once, or hand its pages to the per-page path."""
    typed = _typed_chunk(collector, [seg for _, seg in pending])
    if typed is None:
        for (position, page), _ in pending:
            add_page(collector, position, page)
    else:
        collector.commit(*typed)


def _runs(segs):
    """The runs of items of ``segs`` contiguous in one block: [fields, start, stop] each."""
    runs, last = [], None
    for fields, start, stop in segs:
        if stop == start:
            continue
        if last is not None and last[0] is fields and last[2] == start:
            last[2] = stop  # contiguous in the same block
        else:
            last = [fields, start, stop]
            runs.append(last)
    return runs


def _column(runs, *keys):
    """Fields ``keys`` of the items of ``runs``, one after the other, as one Arrow array (one copy at most)."""
    arrays = [fields[k][start:stop] for k in keys for fields, start, stop in runs]
    if len(arrays) == 1:
        return arrays[0]
    pa = _arrow()[0]
    return pa.concat_arrays(arrays) if arrays else pa.array([], type=_arrow()[5][keys[0]].type)


def _strings(arr):
    """(offsets int64 relative to the first value, data bytes as uint8) of a string array."""
    buffers = arr.buffers()
    off = np.frombuffer(buffers[1], np.int32)[arr.offset:arr.offset + len(arr) + 1].astype(np.int64)
    data = np.frombuffer(buffers[2], np.uint8) if buffers[2] is not None else np.empty(0, np.uint8)
    return off - off[0], data[off[0]:off[-1]]


def _ints(runs, k, minimum):
    """int64 values of field ``k``, or None when a value is null or below ``minimum`` (then reported per page)."""
    pieces = []
    for fields, start, stop in runs:
        arr = fields[k]
        if arr.null_count and arr[start:stop].null_count:
            return None
        pieces.append(np.frombuffer(arr.buffers()[1], np.int64)[arr.offset + start:arr.offset + stop])
    out = np.concatenate(pieces) if pieces else np.empty(0, np.int64)  # a copy: no Arrow buffer kept
    if len(out) and out.min() < minimum:
        return None
    return out


def _zulu_ns(arr, mat):
    """As ``_parse._seconds_to_ns(*_parse._zulu(mat), ...)`` (ns, ok) on the 20-character strings ``arr``.

    ``mat`` holds their bytes. When every value has the canonical form's 'T'
    and 'Z', Arrow's ISO 8601 cast (``pyarrow.compute.cast`` to
    ``timestamp("s", "UTC")``) reads them: it takes only
    'YYYY-MM-DDTHH:MM:SSZ' with digits where digits belong and a valid date and
    time (no leap second), values ``_parse._zulu`` accepts, with the same
    seconds (proleptic Gregorian, as numpy). When it refuses any value,
    ``_parse._zulu`` decides them all.
    """
    sec = None
    if len(mat) and (mat[:, 10] == 84).all() and (mat[:, 19] == 90).all():
        pa, _, pc = _arrow()[:3]
        try:
            cast = pc.cast(arr, _TS_UTC)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            cast = None
        if cast is not None and not cast.null_count:
            sec = np.frombuffer(cast.buffers()[1], np.int64)[cast.offset:cast.offset + len(cast)]
            if sec.min() >= _parse._SEC_MIN and sec.max() <= _parse._SEC_MAX:  # the usual case: all in range
                return sec * 1_000_000_000, np.ones(len(sec), bool)
    sec, ok = _parse._zulu(mat) if sec is None else (sec, np.ones(len(sec), bool))
    return _parse._seconds_to_ns(sec, 0, ok)


def _any_form_ns(arr, off, data):
    """int64 ns of every value of ``arr`` in one Arrow cast, or None (then ``_timestamps`` decides).

    Arrow's ISO 8601 cast to ``timestamp("ns", "UTC")`` reads more forms than
    RFC 3339 ('T00:00Z', '+02', '+0200') and, in pyarrow 16, wraps around
    outside 1677-2262; so the values are taken only when every one also has
    the seconds (a 'Z', '.', '+' or '-' right after them), a zone that is 'Z'
    or '+HH:MM'/'-HH:MM', and a year 1900-2099. Those are values
    ``_parse._parse_one`` reads too, with the same nanoseconds (Arrow takes at
    most 9 fraction digits, 'T' or ' ' between date and time, upper-case 'Z',
    no leap second, valid dates, offsets up to 23:59, and refuses anything else).
    """
    n = len(arr)
    if not n or arr.null_count:
        return None
    starts, ends = off[:-1], off[1:]
    if (ends - starts).min() < 20:
        return None
    c = data[starts + 19]
    if not ((c == 90) | (c == 46) | (c == 43) | (c == 45)).all():  # 'Z', '.', '+', '-'
        return None
    c, d = data[starts], data[starts + 1]
    if not (((c == 50) & (d == 48)) | ((c == 49) & (d == 57))).all():  # '20' or '19'
        return None
    zulu = data[ends - 1] == 90
    if not zulu.all():
        e = ends[~zulu]
        c = data[e - 6]
        if not ((data[e - 3] == 58) & ((c == 43) | (c == 45))).all():  # ':', '+', '-'
            return None
    pa, _, pc = _arrow()[:3]
    try:
        cast = pc.cast(arr, _TS_NS)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if cast.null_count:
        return None
    return np.frombuffer(cast.buffers()[1], np.int64)[cast.offset:cast.offset + n]


def _timestamps(arr):
    """int64 ns (NAT for null), or None when a value would be reported as malformed.

    The same steps as :func:`tlanalytics._parse.parse_timestamps` (vectorised
    forms on the same rows, then the per-row parser), on the Arrow buffers.
    """
    n = len(arr)
    off, data = _strings(arr)
    ns = _any_form_ns(arr, off, data)
    if ns is not None:
        return ns
    starts, lens = off[:-1], np.diff(off)
    is20 = lens == 20
    if n and is20.all():
        # As _parse._vectorised's first branch: every value 20 characters long.
        ns, ok = _zulu_ns(arr, data.reshape(n, 20))
    else:
        ns, ok = np.full(n, _parse.NAT), np.zeros(n, bool)
        rows = np.flatnonzero(is20)
        if rows.size:
            pa = _arrow()[0]
            short = arr.filter(pa.array(is20))  # the 20-character values, contiguous
            ns[rows], ok[rows] = _zulu_ns(short, _strings(short)[1].reshape(rows.size, 20))
        rows = np.flatnonzero(lens > 20)
        if rows.size > _parse._FEW:
            buf = np.concatenate([data, _ZEROS])
            ns[rows], ok[rows] = _parse._other_forms(buf, starts[rows], lens[rows])
    if ok.all():
        return ns
    null = np.asarray(arr.is_null()) if arr.null_count else np.zeros(n, bool)
    for i in np.flatnonzero(~ok & ~null).tolist():
        value, problem = _parse._parse_one(data[starts[i]:starts[i] + lens[i]].tobytes().decode("ascii"))
        if problem is not None:
            return None
        ns[i] = value
    return ns


def _ids_ok(off, data):
    """Whether no id (ASCII here) is one that :func:`tlanalytics._parse.text_problem` reports."""
    if ((data < 32) | (data == 127)).any():  # control characters
        return False
    lens = np.diff(off)
    if (lens > _parse.MAX_ID_CHARS).any():
        return False
    short = np.flatnonzero(lens <= 2)  # '.' and '..'
    return not short.size or not (data[off[short]] == 46).any() or all(
        data[off[i]:off[i + 1]].tobytes().strip(b".") for i in short.tolist())


def _typed_chunk(collector, segs):
    """(parts by field, status codes, rows) of a chunk when no value of it is malformed, else None.

    Nothing in ``collector`` changes before every value has been checked.
    """
    pa, _, pc = _arrow()[:3]
    runs = _runs(segs)
    n = sum(stop - start for _, start, stop in runs)
    uid, status = _column(runs, 0).view(pa.string()), _column(runs, 1).view(pa.string())
    if uid.null_count or status.null_count:
        return None
    uid_off, uid_data = _strings(uid)
    st_off, _ = _strings(status)
    if n and ((np.diff(uid_off) == 0).any() or (np.diff(st_off) == 0).any()):
        return None  # empty strings are reported
    if n and not _ids_ok(uid_off, uid_data):
        return None  # ids that _parse.text_problem reports
    parts = {}
    for k, (f, minimum) in enumerate(_parse._INTS, start=2):
        parts[f] = _ints(runs, k, minimum)
        if parts[f] is None:
            return None
    # Both timestamp fields in one pass (half the per-call cost; a value's result does not depend on its field).
    stamps = _timestamps(_column(runs, 5, 6).view(pa.string()))
    if stamps is None:
        return None
    parts["created_at"], parts["expires_at"] = stamps[:n], stamps[n:]
    # Every value is good: now the collector's state may change.
    if collector.arrow:
        # A copy only of a slice of a block's buffer (which the frame must not keep); runs were concatenated.
        data = uid_data.copy() if len(runs) == 1 else uid_data
        parts["upload_id"] = pa.Array.from_buffers(pa.large_string(), n,
                                                   [None, pa.py_buffer(uid_off), pa.py_buffer(data)])
    else:
        parts["upload_id"] = np.array(uid.to_pylist(), dtype=object) if n else np.empty(0, object)
    codes = collector.codes.codes
    known = pa.array(list(codes), type=pa.string())
    idx = pc.index_in(status, value_set=known)
    if idx.null_count:
        # Unknown statuses get codes in order of first appearance, as StatusCodes.parse gives them.
        for value in pc.unique(status.filter(pc.is_null(idx))).to_pylist():
            codes.setdefault(value, len(codes))
        idx = pc.index_in(status, value_set=pa.array(list(codes), type=pa.string()))
    parts["status"] = np.asarray(idx.to_numpy(zero_copy_only=False), dtype=np.int32)
    return parts, n
