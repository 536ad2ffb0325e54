"""The one table of the DataFrame's columns, their dtypes and meanings.

Whoever adds a column adds it here and to the README's column table (a test
compares the two). ``group`` says where a column comes from:

- ``listing``: fields of ``GET /assets/multipart-uploads`` items, typed;
- ``derived``: computed from the listing fields relative to ``as_of``;
- ``progress``: from the per-session status endpoint
  (``GET /assets/multipart-uploads/{upload_id}``) and computed from it.

Fields the API adds later are kept as extra columns after these.
"""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

__all__ = [
    "Column",
    "COLUMNS",
    "STATUSES",
    "TERMINAL_STATUSES",
    "LISTING_FIELDS",
    "STALL_AFTER",
    "RISK_WINDOW",
    "EXPIRY_BUCKETS",
    "SIZE_BUCKETS",
    "SIZE_BUCKET_EDGES",
    "columns",
    "dtype_of",
    "column_table_markdown",
    "ATTRS",
    "attrs_table_markdown",
    "markdown_table",
]

#: Documented session statuses, in display order. Unknown values are kept as
#: extra categories after these.
STATUSES = ("active", "completed", "failed", "expired")
#: Statuses of sessions that are over: they can no longer finish nor be lost.
TERMINAL_STATUSES = ("completed", "failed", "expired")

#: Default idle time after which an unfinished session counts as ``stalled``.
STALL_AFTER = timedelta(hours=1)
#: Default life left under which a session where nothing moves is ``at_risk``.
RISK_WINDOW = timedelta(hours=2)

#: Labels of ``expiry_bucket``, in order. Edges: 0, 1 h, 6 h, 24 h.
EXPIRY_BUCKETS = ("expired", "< 1 h", "1-6 h", "6-24 h", "> 24 h")

_MiB = 1 << 20
_GiB = 1 << 30
#: Lower edges (bytes) of ``size_bucket`` after the first; binary units.
SIZE_BUCKET_EDGES = (_MiB, 10 * _MiB, 100 * _MiB, _GiB, 10 * _GiB)
#: Labels of ``size_bucket``, in order.
SIZE_BUCKETS = ("< 1 MiB", "1-10 MiB", "10-100 MiB", "100 MiB-1 GiB", "1-10 GiB", ">= 10 GiB")

_UTC = "datetime64[ns, UTC]"
_TD = "timedelta64[ns]"


class Column(NamedTuple):
    """One column of the uploads DataFrame."""

    name: str
    dtype: str
    group: str
    description: str


COLUMNS: tuple[Column, ...] = (
    # --- listing fields -------------------------------------------------
    Column("upload_id", "string", "listing", "Upload session id."),
    Column("status", "category", "listing",
           "Session status: active, completed, failed, expired; unknown values are kept as extra categories."),
    Column("total_size", "Int64", "listing", "File size in bytes."),
    Column("chunk_size", "Int64", "listing", "Chunk size in bytes, chosen by the platform."),
    Column("total_chunks", "Int64", "listing", "Number of chunks the API reports."),
    Column("created_at", _UTC, "listing", "When the session was created (UTC)."),
    Column("expires_at", _UTC, "listing", "When the session expires (UTC)."),
    # --- derived from the listing, relative to as_of ----------------------
    Column("age", _TD, "derived", "as_of - created_at."),
    Column("time_to_expiry", _TD, "derived", "expires_at - as_of; negative once expired."),
    Column("lifetime", _TD, "derived", "expires_at - created_at."),
    Column("lifetime_elapsed", "float64", "derived", "age / lifetime: 0 at creation, 1 at expiry."),
    Column("is_expired", "boolean", "derived", "expires_at <= as_of; <NA> when expires_at is unknown."),
    Column("expiry_bucket", "category", "derived",
           "Ordered: expired, < 1 h, 1-6 h, 6-24 h, > 24 h (time_to_expiry)."),
    Column("expected_chunks", "Int64", "derived", "ceil(total_size / chunk_size)."),
    Column("chunks_consistent", "boolean", "derived", "total_chunks == expected_chunks."),
    Column("last_chunk_size", "Int64", "derived", "Bytes in the last chunk: total_size - (expected_chunks - 1) * chunk_size."),
    Column("size_bucket", "category", "derived",
           "Ordered, binary units: < 1 MiB, 1-10 MiB, 10-100 MiB, 100 MiB-1 GiB, 1-10 GiB, >= 10 GiB."),
    # --- from the per-session status endpoint ---------------------------
    Column("uploaded_size", "Int64", "progress", "Bytes uploaded and reported."),
    Column("chunks_completed", "Int64", "progress", "Chunks uploaded and reported."),
    Column("chunks_failed", "Int64", "progress", "Chunks whose upload failed."),
    Column("chunks_pending", "Int64", "progress", "Chunks not yet uploaded: total - completed - failed."),
    Column("last_activity", _UTC, "progress", "The session's updated_at (UTC)."),
    Column("vanished", "boolean", "progress",
           "True when the session was listed but its status endpoint answered 404 (it ended meanwhile); its progress columns are null."),
    Column("progress", "float64", "progress", "uploaded_size / total_size."),
    Column("chunk_progress", "float64", "progress", "chunks_completed / total_chunks."),
    Column("idle_for", _TD, "progress", "as_of - last_activity."),
    Column("upload_rate", "float64", "progress",
           "Bytes per second over the session's active time (uploaded_size / (last_activity - created_at))."),
    Column("eta", _UTC, "progress", "as_of + remaining bytes / upload_rate; NaT when nothing moves."),
    Column("at_risk", "boolean", "progress",
           "Unfinished and either eta falls after expires_at, or nothing moved and less than the risk window of life is left."),
    Column("stalled", "boolean", "progress",
           f"Unfinished and idle longer than the stall threshold ({STALL_AFTER // timedelta(hours=1)} h by default)."),
)

_BY_NAME = {c.name: c for c in COLUMNS}
#: Fields of a listing item (``GET /assets/multipart-uploads``), in column order: the ``listing`` group.
LISTING_FIELDS = tuple(c.name for c in COLUMNS if c.group == "listing")


def columns(group=None):
    """Names of the columns, optionally of one group, in table order.

    Parameters
    ----------
    group : {"listing", "derived", "progress"} or None
        Only the columns of this group; None for all.

    Returns
    -------
    list of str
    """
    if group is None:
        return [c.name for c in COLUMNS]
    groups = sorted({c.group for c in COLUMNS})
    if group not in groups:
        from .errors import InvalidArgumentError

        raise InvalidArgumentError(f"The value for `group` must be one of {groups}, but {group!r} was passed.")
    return [c.name for c in COLUMNS if c.group == group]


def dtype_of(name):
    """The pandas dtype of a known column (categoricals with their categories).

    Parameters
    ----------
    name : str
        A column name from :data:`COLUMNS`.

    Returns
    -------
    pandas dtype or str
    """
    import pandas as pd  # here, so the pandas-free simulator can read the field names

    if name == "status":
        return pd.CategoricalDtype(list(STATUSES))
    if name == "expiry_bucket":
        return pd.CategoricalDtype(list(EXPIRY_BUCKETS), ordered=True)
    if name == "size_bucket":
        return pd.CategoricalDtype(list(SIZE_BUCKETS), ordered=True)
    return _BY_NAME[name].dtype


def column_table_markdown():
    """The README's column table, as Markdown, generated from :data:`COLUMNS`.

    Angle brackets and ampersands in the descriptions are written as HTML
    entities (``&lt;NA&gt;``), so renderers show them instead of dropping
    them as tags.

    Returns
    -------
    str
    """
    # Markdown renderers read <NA> as an HTML tag and drop it: escape the brackets.
    escaped = [c.description.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for c in COLUMNS]
    return markdown_table(["column", "dtype", "group", "meaning"],
                          [(f"`{c.name}`", f"`{c.dtype}`", c.group, text) for c, text in zip(COLUMNS, escaped)])


def markdown_table(header, rows):
    """A Markdown table, as the README's generated blocks are written.

    Parameters
    ----------
    header : sequence of str
        The column titles.
    rows : iterable of sequence
        One sequence of cells per row (written with ``str``).

    Returns
    -------
    str
        Header, ``---`` line and rows, joined by line breaks (no final one).

    Examples
    --------
    >>> print(markdown_table(["a", "b"], [(1, 2)]))
    | a | b |
    | --- | --- |
    | 1 | 2 |
    """
    lines = [list(header), ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(map(str, cells)) + " |" for cells in lines)


#: What a loaded frame's ``df.attrs`` holds, key -> meaning (``load_uploads``; the ``progress_*`` keys
#: with progress). The README's attrs table is generated from it.
ATTRS = {
    "as_of": "The moment the derived columns are relative to (UTC Timestamp).",
    "base_url": "The API base URL, without credentials.",
    "pages": "Listing pages read.",
    "requests": "Listing requests sent, retries included.",
    "retries": "Listing requests retried.",
    "total_results": "How many sessions the API's page_info said the listing holds.",
    "passes": "Walks over the listing (another one when the listing changed during the first).",
    "consistent": "True when the listing held still while it was read (see stopped).",
    "stopped": "None, or why a walk ended early (a page with no new upload_id, max_pages, ...).",
    "malformed_rows": "Rows with a value that broke the documented shape (kept, the value as null).",
    "malformed": "The first few of those problems: row, field and reason.",
    "concurrency": "What the server allowed: start, peak, low and final requests in flight, decreases (and why: "
                   "throttled, server_errors, latency_rises), rate.",
    "progress_requests": "Status requests sent for the progress columns, retries included.",
    "progress_retries": "Status requests retried.",
    "progress_malformed_rows": "Rows whose status body broke the documented shape.",
    "progress_malformed": "What was malformed in status bodies.",
}


def attrs_table_markdown():
    """The README's ``df.attrs`` table, as Markdown, generated from :data:`ATTRS`.

    Returns
    -------
    str
        One row per key, with its meaning.

    Examples
    --------
    >>> attrs_table_markdown().splitlines()[2]
    '| `as_of` | The moment the derived columns are relative to (UTC Timestamp). |'
    """
    return markdown_table(["key", "meaning"], [(f"`{k}`", v) for k, v in ATTRS.items()])
