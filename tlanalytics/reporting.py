"""Key figures of an uploads DataFrame and a self-contained HTML report of it.

:func:`summarize` is pure: it turns a frame into a dict of key figures (the
report, the CLI's ``summary`` and ``check`` and the widgets use it).
:func:`report` writes one HTML file that needs nothing else: the overview
figure is embedded as a base64 PNG, the style sheet is inline, there is no
script, and a Content-Security-Policy forbids the browser to fetch anything
but ``data:`` images. Every value from the data is escaped.

Definitions used throughout:

- *open* session: its status is none of ``completed``, ``failed``,
  ``expired`` (unknown or missing statuses count as open: nothing says they
  are over) and it has not expired by the clock (``is_expired`` is not True).
  Those are the sessions whose data can still be lost when they expire.
- *expiring within* a window: an open session whose ``time_to_expiry`` is
  above 0 and at most the window.
- *expired*: status ``expired`` or past ``expires_at`` by the clock.
"""

from __future__ import annotations

import base64
import html
import io
import math
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pandas as pd

from . import __version__
from ._units import NA_TEXT, format_bytes, format_duration, format_utc
from .errors import InvalidArgumentError
from .schema import STATUSES
from .validate import as_of as sanitize_as_of

__all__ = ["summarize", "report", "EXPIRY_WINDOWS"]

#: The windows of the ``expiring_<w>`` key figures: name -> Timedelta.
EXPIRY_WINDOWS = {"1h": pd.Timedelta(hours=1), "6h": pd.Timedelta(hours=6), "24h": pd.Timedelta(hours=24)}
_DONE = ("completed", "failed", "expired")
_PROGRESS = ("uploaded_size", "stalled", "at_risk", "vanished")


# --- key figures -------------------------------------------------------------

def _flags(series):
    """A nullable boolean column as a plain bool Series, missing counted as False."""
    return series.astype("boolean").fillna(False).astype(bool)


def _int(series):
    """Sum of a nullable integer column as a Python int (missing values skipped)."""
    return sum(map(int, series.dropna())) if len(series) else 0  # Python ints: an int64 sum wraps past 2**63


def _status_text(df):
    """The status column as object strings; missing statuses become None."""
    return df["status"].astype("object").where(df["status"].notna(), None)


def _open_mask(df):
    """Sessions that are not over (completed, failed, expired) nor past their expiry."""
    status = _status_text(df)
    return ~status.isin(_DONE) & ~_flags(df["is_expired"])


def _expiring_mask(df, within):
    """Open sessions whose ``time_to_expiry`` is in (0, ``within``]."""
    tte = df["time_to_expiry"]
    return _open_mask(df) & (tte > pd.Timedelta(0)).fillna(False) & (tte <= pd.Timedelta(within)).fillna(False)


def _has_progress(df):
    """True when the frame has the progress columns (``with_progress=True`` or ``add_progress``)."""
    return set(_PROGRESS) <= set(df.columns)


_NEEDED = ("status", "total_size", "time_to_expiry", "is_expired", "age")
_NEEDED_BY_REPORT = _NEEDED + ("upload_id", "chunk_size", "total_chunks", "expires_at", "chunks_consistent")


def _check_frame(df, needed=_NEEDED):
    """Raise InvalidArgumentError unless ``df`` is a DataFrame with the ``needed`` columns."""
    if not isinstance(df, pd.DataFrame):
        raise InvalidArgumentError(f"The value for `df` must be a pandas DataFrame, but {type(df).__name__} was passed.")
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise InvalidArgumentError(f"The columns {missing} are missing; load the frame with `load_uploads(...)` "
                                   f"or `build_frame(...)`, which give every listing and derived column.")


def summarize(df, *, now=None):
    """Key figures of an uploads frame, as a dict.

    Parameters
    ----------
    df : pandas.DataFrame
        An uploads frame (from :func:`~tlanalytics.load_uploads` or
        :func:`~tlanalytics.build_frame`), with or without progress columns.
    now : datetime, pandas.Timestamp, str or None
        Moment to measure expiry and age against; None uses the frame's own
        derived columns (computed against ``df.attrs["as_of"]``). Otherwise
        the derived columns are recomputed for ``now`` first.

    Returns
    -------
    dict
        ``sessions``, ``total_bytes``; ``status_counts`` (status -> sessions,
        documented statuses first, missing status as ``"missing"``);
        ``expiring_1h``/``expiring_6h``/``expiring_24h`` and the same with
        ``_bytes`` (open sessions expiring within the window, cumulative, and
        their ``total_size``); ``failed`` (status failed), ``expired`` (status
        expired or past ``expires_at``), ``open``; ``median_age`` (Timedelta
        or None); ``inconsistent_chunks`` (``chunks_consistent`` False);
        ``as_of`` (Timestamp or None) and ``base_url`` (from ``df.attrs``);
        ``has_progress``. With progress columns also ``uploaded_bytes``,
        ``overall_progress`` (uploaded bytes / total bytes of the sessions
        whose progress is known, or None), ``stalled``, ``at_risk`` and
        ``vanished`` (counts).

    Examples
    --------
    >>> kpis = summarize(df)  # doctest: +SKIP
    >>> kpis["sessions"], kpis["expiring_1h_bytes"]  # doctest: +SKIP
    (3000, 7516192768)
    """
    _check_frame(df)
    if now is not None:
        from .frame import recompute

        df = recompute(df, now)
    status = _status_text(df)
    counts = {s: int((status == s).sum()) for s in STATUSES}
    for other in sorted({s for s in status.dropna() if s not in STATUSES}):
        counts[other] = int((status == other).sum())
    if status.isna().any():
        counts["missing"] = int(status.isna().sum())
    age = df["age"].median() if len(df) else pd.NaT
    out = {
        "sessions": len(df),
        "total_bytes": _int(df["total_size"]),
        "status_counts": {k: v for k, v in counts.items() if v or k in STATUSES},
        "open": int(_open_mask(df).sum()),
        "failed": int((status == "failed").sum()),
        "expired": int(((status == "expired") | _flags(df["is_expired"])).sum()),
        "median_age": None if pd.isna(age) else pd.Timedelta(age),
        "inconsistent_chunks": int(_flags(~df["chunks_consistent"].astype("boolean")).sum())
        if "chunks_consistent" in df.columns else 0,
    }
    for name, window in EXPIRY_WINDOWS.items():
        mask = _expiring_mask(df, window)
        out[f"expiring_{name}"] = int(mask.sum())
        out[f"expiring_{name}_bytes"] = _int(df.loc[mask, "total_size"])
    as_of = df.attrs.get("as_of")  # recompute() set it to ``now``
    out["as_of"] = None if as_of is None else _utc(as_of)
    out["base_url"] = df.attrs.get("base_url")
    out["has_progress"] = _has_progress(df)
    if out["has_progress"]:
        known = df["uploaded_size"].notna() & df["total_size"].notna()
        uploaded, total = _int(df.loc[known, "uploaded_size"]), _int(df.loc[known, "total_size"])
        out.update(uploaded_bytes=_int(df["uploaded_size"]), overall_progress=uploaded / total if total else None,
                   stalled=int(_flags(df["stalled"]).sum()), at_risk=int(_flags(df["at_risk"]).sum()),
                   vanished=int(_flags(df["vanished"]).sum()))
    return out


def _utc(ts):
    """A moment as a UTC Timestamp (naive means UTC)."""
    return sanitize_as_of(ts, name="now")


def _kpi_rows(kpis, *, exact=True):
    """``(label, value text)`` pairs of :func:`summarize`'s dict, for people (CLI; report with ``exact=False``)."""
    def size(n):
        return f"{format_bytes(n)} ({n:,} bytes)" if n and exact else format_bytes(n)

    rows = [("Sessions", f"{kpis['sessions']:,}"), ("Total size", size(kpis["total_bytes"])),
            ("Open sessions", f"{kpis['open']:,}")]
    for name in EXPIRY_WINDOWS:
        rows.append((f"Expiring within {name[:-1]} h", f"{kpis[f'expiring_{name}']:,} sessions, "
                                                       f"{size(kpis[f'expiring_{name}_bytes'])}"))
    rows += [("Failed", f"{kpis['failed']:,}"), ("Expired", f"{kpis['expired']:,}"),
             ("Median age", format_duration(kpis["median_age"])),
             ("Inconsistent chunk counts", f"{kpis['inconsistent_chunks']:,}")]
    if kpis["has_progress"]:
        share = kpis["overall_progress"]
        rows += [("Uploaded", size(kpis["uploaded_bytes"])),
                 ("Overall progress", NA_TEXT if share is None else f"{share:.1%}"),
                 ("Stalled", f"{kpis['stalled']:,}"), ("At risk", f"{kpis['at_risk']:,}"),
                 ("Vanished", f"{kpis['vanished']:,}")]
    rows.append(("As of", format_utc(kpis["as_of"])))
    return rows


# --- the HTML report -----------------------------------------------------------

def _clean_url(url):
    """``url`` without user info, query or fragment (None stays None)."""
    if not url:
        return None
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _overview_png(df, *, dpi=90):
    """The :func:`~tlanalytics.plots.overview` figure of ``df`` as PNG bytes."""
    from .plots import overview

    buf = io.BytesIO()
    overview(df).savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


_e = html.escape

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;margin:0;
color:#222;background:#f6f7f9}
main{max-width:1200px;margin:0 auto;padding:1.5rem}
h1{margin:.2rem 0}h2{margin-top:2rem;border-bottom:2px solid #ddd;padding-bottom:.2rem}
.sub{color:#555;margin:0 0 1rem}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:.6rem;padding:0;list-style:none}
.kpis li{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6rem .8rem}
.kpis b{display:block;font-size:.8rem;color:#555;font-weight:600}.kpis span{font-size:1.05rem}
table{border-collapse:collapse;background:#fff;font-size:.9rem;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#eef0f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem;word-break:break-all}
.badge{display:inline-block;padding:0 .45rem;border-radius:.6rem;color:#fff;font-size:.8rem}
figure{margin:0}figure img{max-width:100%;height:auto;background:#fff;border:1px solid #ddd}
.note{color:#555;font-style:italic}footer{color:#777;font-size:.8rem;margin-top:2rem}
"""
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _badge(status):
    """A status as a coloured badge (the plots' colour), escaped."""
    from .plots import status_color

    text = status if isinstance(status, str) else "missing"
    return f'<span class="badge" style="background:{_e(status_color(status))}">{_e(text)}</span>'


def _table(table_id, header, rows, *, numeric=()):
    """An HTML table; cells in ``rows`` are already-escaped HTML, ``numeric`` names right-aligned columns."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if h in numeric else f"<td>{c}</td>"
                                    for h, c in zip(header, row)) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _value(row, name, fmt):
    """``fmt(row[name])`` escaped, or n/a when the column is absent."""
    return _e(fmt(row[name])) if name in row.index else _e(NA_TEXT)


def _session_rows(df, cols):
    """Escaped cells of the standard session columns named in ``cols``."""
    render = {
        "Upload id": lambda r: f"<code>{_e(str(r['upload_id']) if pd.notna(r['upload_id']) else NA_TEXT)}</code>",
        "Status": lambda r: _badge(r["status"] if pd.notna(r["status"]) else None),
        "Size": lambda r: _value(r, "total_size", format_bytes),
        "Chunks": lambda r: _e(f"{_num(r['total_chunks'])} × {format_bytes(r['chunk_size'])}"),
        "Expires in": lambda r: _value(r, "time_to_expiry", _expires_in),
        "Expires at": lambda r: _value(r, "expires_at", format_utc),
        "Age": lambda r: _value(r, "age", format_duration),
        "Progress": lambda r: _value(r, "progress", _percent),
        "Idle for": lambda r: _value(r, "idle_for", format_duration),
        "At risk": lambda r: _value(r, "at_risk", lambda v: NA_TEXT if pd.isna(v) else ("yes" if v else "no")),
    }
    return [[render[c](row) for c in cols] for _, row in df.iterrows()]


def _expires_in(td):
    """A time to expiry for people: "2 h 5 min", or "expired 3 h ago"."""
    if pd.notna(td) and td <= pd.Timedelta(0):
        return f"expired {format_duration(-td)} ago"
    return format_duration(td)


def _num(v):
    """A count with thousands separators, or n/a."""
    return NA_TEXT if pd.isna(v) else f"{round(float(v)):,}"


def _percent(v):
    """A share as a whole percentage, rounded down so that an unfinished session never shows 100%."""
    return NA_TEXT if pd.isna(v) else f"{math.floor(float(v) * 100)}%"


def _session_table(table_id, df, cols):
    """A table of sessions with the named columns (see :func:`_session_rows`)."""
    return _table(table_id, cols, _session_rows(df, cols), numeric=("Size", "Expires in", "Age", "Progress", "Idle for"))


def _session_tables(df, *, top=20):
    """The frames behind the report's session tables: ``{"expiring": ..., "largest": ..., "stalled": ...}``.

    ``expiring``: open sessions not yet expired, soonest first; ``largest``:
    by ``total_size``; ``stalled`` (only with progress columns): stalled
    sessions, longest idle first. Each has at most ``top`` rows.
    """
    out = {}
    soon = df[_expiring_mask(df, pd.Timedelta.max)]
    out["expiring"] = soon.sort_values("time_to_expiry", kind="stable").head(top)
    out["largest"] = df.sort_values("total_size", ascending=False, kind="stable", na_position="last").head(top)
    if _has_progress(df):
        stalled = df[_flags(df["stalled"])]
        out["stalled"] = stalled.sort_values("idle_for", ascending=False, kind="stable", na_position="last").head(top)
    return out


def _chunk_table(df):
    """Sessions per ``chunk_size``: count, ``total_chunks`` min/median/max, inconsistent count (a frame)."""
    sizes = df["chunk_size"].astype("Float64")
    bad = ~_flags(df["chunks_consistent"]) & df["chunks_consistent"].notna()
    frame = pd.DataFrame({"chunk_size": sizes.fillna(-1.0), "total_chunks": df["total_chunks"].astype("Float64"),
                          "bad": bad.to_numpy()})
    grouped = frame.groupby("chunk_size", sort=True)
    table = grouped.agg(sessions=("bad", "size"), min_chunks=("total_chunks", "min"),
                        median_chunks=("total_chunks", "median"), max_chunks=("total_chunks", "max"),
                        inconsistent=("bad", "sum"))
    return table.reset_index()


def _chunk_section(df):
    """The chunk configurations: a sentence and the table of :func:`_chunk_table`."""
    table = _chunk_table(df)
    rows = []
    for r in table.itertuples():
        label = "unknown" if r.chunk_size < 0 else format_bytes(r.chunk_size)
        rows.append([_e(label), _e(f"{r.sessions:,}"), _e(_num(r.min_chunks)), _e(_num(r.median_chunks)),
                     _e(_num(r.max_chunks)), _e(f"{int(r.inconsistent):,}")])
    pairs = df[["chunk_size", "total_chunks"]].dropna().drop_duplicates()
    bad = int(table["inconsistent"].sum())
    note = (f"<p>{len(pairs):,} distinct (chunk_size, total_chunks) pairs; {bad:,} sessions whose total_chunks "
            f"is not ceil(total_size / chunk_size).</p>")
    header = ["Chunk size", "Sessions", "Fewest chunks", "Median chunks", "Most chunks", "Inconsistent arithmetic"]
    return note + _table("chunks", header, rows, numeric=header[1:])


def _source_rows(df, kpis):
    """Escaped (what, value) cells saying where and when the data was read."""
    attrs = df.attrs
    rows = [("As of", format_utc(kpis["as_of"]) if kpis["as_of"] is not None else NA_TEXT),
            ("API base URL", _clean_url(attrs.get("base_url")) or NA_TEXT)]
    if attrs.get("demo"):
        rows.append(("Data", "demo: the shipped sample of generated sessions, served by the built-in simulator"))
    for key, label in (("pages", "Listing pages read"), ("requests", "Requests sent"), ("retries", "Retries"),
                       ("passes", "Passes over the listing"), ("total_results", "total_results reported"),
                       ("consistent", "Consistent read"), ("progress_requests", "Status requests")):
        if key in attrs:
            value = attrs[key]
            rows.append((label, ("yes" if value else "no") if isinstance(value, bool) else str(value)))
    rows.append(("Report written", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")))
    rows.append(("tlanalytics", __version__))
    return [[_e(k), _e(v)] for k, v in rows]


def _render_html(df, *, title=None, png=None, top=20):
    """The report's HTML text (``png``: the overview figure's bytes, or None to leave it out)."""
    kpis = summarize(df)
    when = f" as of {format_utc(kpis['as_of'])}" if kpis["as_of"] is not None else ""
    title = title or "TwelveLabs upload sessions"
    kpi_html = "".join(f"<li><b>{_e(k)}</b><span>{_e(v)}</span></li>" for k, v in _kpi_rows(kpis, exact=False)
                       if k != "As of")  # already in the subtitle
    parts = [f"<h1>{_e(title)}</h1>", f'<p class="sub">{_e(f"{len(df):,} incomplete upload sessions{when}")}</p>',
             f'<ul class="kpis" id="kpis">{kpi_html}</ul>']
    if len(df) == 0:
        parts.append('<p class="note" id="empty">There are no uploads: the account has no incomplete '
                     'multipart-upload sessions.</p>')
    else:
        status_rows = [[_badge(s if s != "missing" else None), _e(f"{n:,}"),
                        _e(format_bytes(_int(df.loc[_status_text(df).fillna("missing") == s, "total_size"])))]
                       for s, n in kpis["status_counts"].items()]
        parts += ["<h2>Overview</h2>", _table("status", ["Status", "Sessions", "Size"], status_rows,
                                             numeric=("Sessions", "Size"))]
        if png is not None:
            data = base64.b64encode(png).decode("ascii")
            parts.append(f'<figure><img id="overview" alt="Overview plots of the upload sessions" '
                         f'src="data:image/png;base64,{data}"></figure>')
        tables = _session_tables(df, top=top)
        progress_cols = ["Progress"] if _has_progress(df) else []
        parts += [f"<h2>Expiring soonest</h2><p>Open sessions closest to expiry (at most {top}).</p>",
                  _session_table("expiring", tables["expiring"],
                                 ["Upload id", "Status", "Size", "Expires in", "Expires at", "Age", *progress_cols])
                  if len(tables["expiring"]) else '<p class="note">No open session is waiting to expire.</p>',
                  f"<h2>Largest</h2><p>The largest sessions (at most {top}).</p>",
                  _session_table("largest", tables["largest"],
                                 ["Upload id", "Status", "Size", "Chunks", "Expires in", *progress_cols])]
        if "stalled" in tables:
            parts.append(f"<h2>Stalled</h2><p>Unfinished sessions idle longer than the stall threshold, longest "
                         f"idle first (at most {top} of {kpis['stalled']:,}).</p>")
            parts.append(_session_table("stalled", tables["stalled"],
                                        ["Upload id", "Status", "Size", "Progress", "Idle for", "Expires in", "At risk"])
                         if len(tables["stalled"]) else '<p class="note">No session is stalled.</p>')
        parts += ["<h2>Chunk configurations</h2>", _chunk_section(df)]
    parts += ["<h2>Where the data came from</h2>", _table("source", ["What", "Value"], _source_rows(df, kpis))]
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title + when)}</title><style>{_CSS}</style></head>\n"
            f"<body><main>\n{body}\n<footer>Generated by tlanalytics {_e(__version__)}. Sizes in binary units "
            f"(1 MiB = 1,048,576 bytes).</footer></main></body></html>\n")


def report(df, path, *, title=None):
    """Write a self-contained HTML report of an uploads frame.

    One file with no external assets (the overview figure is an embedded PNG,
    styles are inline, no script): key figures, the overview plots, the
    sessions expiring soonest, the largest, the stalled ones (with progress
    columns), chunk configurations and where and when the data was read.
    Every value is HTML-escaped; an empty frame gives a report saying there
    are no uploads.

    Parameters
    ----------
    df : pandas.DataFrame
        An uploads frame, with or without progress columns.
    path : str or os.PathLike
        The HTML file to write (its folder must exist).
    title : str, optional
        Heading of the report; "TwelveLabs upload sessions" by default.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> report(load_uploads(), "uploads.html")  # doctest: +SKIP
    PosixPath('uploads.html')
    """
    _check_frame(df, _NEEDED_BY_REPORT)
    png = _overview_png(df) if len(df) else None
    return _write_html(df, path, title=title, png=png)


def _write_html(df, path, *, title=None, png=None):
    """Write :func:`render_html` to ``path`` (UTF-8) and return it as a Path."""
    path = Path(path)
    path.write_text(_render_html(df, title=title, png=png), encoding="utf-8")
    return path
