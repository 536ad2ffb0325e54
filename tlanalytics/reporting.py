"""A self-contained HTML report an operator acts on.

Every figure comes from :mod:`tlanalytics.metrics` (``summarize`` lives there
and is re-exported here). :func:`report` writes one HTML file that needs
nothing else: charts are embedded PNGs, the style sheet is inline, there is
no script, and a Content-Security-Policy forbids the browser to fetch
anything but ``data:`` images. Every value from the data is escaped.

The page, top to bottom: what needs attention now (headline), the "Do now"
table of open sessions with the upload rate each needs, the time left per
open session, failed sessions, the status and size overview (one image per
panel; a click opens it full size, by a CSS ``:target`` rule), chunk
configurations, where the data came from and the glossary.
"""

from __future__ import annotations

import base64
import html
import math
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pandas as pd

from . import __version__
from . import metrics
from ._units import NA_TEXT, format_bytes, format_duration, format_utc, plural
from .metrics import EXPIRY_WINDOWS, summarize
from .validate import check_frame

__all__ = ["summarize", "report", "render_html", "overview_png", "summary_rows", "headline", "source_text",
           "clean_url", "EXPIRY_WINDOWS"]

_NEEDED_BY_REPORT = ("status", "total_size", "time_to_expiry", "is_expired", "upload_id", "chunk_size",
                     "total_chunks", "expires_at", "chunks_consistent")
_e = html.escape


# --- text shared with the CLI ---------------------------------------------------------

def clean_url(url):
    """``url`` without user info, query or fragment (None stays None).

    Parameters
    ----------
    url : str or None

    Returns
    -------
    str or None

    Examples
    --------
    >>> clean_url("https://u:p@api.example/v1.3?x=1")
    'https://api.example/v1.3'
    """
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


def source_text(summary):
    """Where the data came from, for people: ``"demo (built-in simulator)"`` or the API URL without credentials.

    Parameters
    ----------
    summary : tlanalytics.metrics.Summary
        The figures of :func:`tlanalytics.metrics.summarize`; only ``demo`` and ``base_url`` are read.

    Returns
    -------
    str
        The demo's name, the base URL without credentials, or ``"n/a"``.

    Examples
    --------
    >>> source_text(summarize(df))  # doctest: +SKIP
    'https://api.twelvelabs.io/v1.3'
    """
    if summary.demo:
        return "demo (built-in simulator)"
    return clean_url(summary.base_url) or NA_TEXT


def headline(summary):
    """One sentence of what needs attention now (the report's headline and the CLI's last line).

    Parameters
    ----------
    summary : tlanalytics.metrics.Summary
        The figures of :func:`tlanalytics.metrics.summarize`.

    Returns
    -------
    str
        The sentence, ending in a full stop.

    Examples
    --------
    >>> headline(summarize(df))  # doctest: +SKIP
    '12 open sessions need attention now (4 at risk, 3 expiring within 1 h, 9 stalled): 31.2 GiB at stake.'
    """
    s = summary
    parts = []
    if s.has_progress:
        parts.append(f"{s.at_risk:,} at risk")
    parts.append(f"{s.expiring_1h:,} expiring within 1 h")
    if s.has_progress:
        parts.append(f"{s.stalled:,} stalled")
    verb = "needs" if s.attention == 1 else "need"
    text = (f"{plural(s.attention, 'open session')} {verb} attention now ({', '.join(parts)}): "
            f"{format_bytes(s.attention_bytes)} at stake.")
    if not s.has_progress:
        text += " Progress was not read, so stalled and at-risk sessions are unknown."
    return text


def summary_rows(summary, *, exact=True):
    """``(label, value)`` pairs of the key figures for people, each label naming its population.

    Parameters
    ----------
    summary : tlanalytics.metrics.Summary
        The figures of :func:`tlanalytics.metrics.summarize`.
    exact : bool, default True
        Add the exact byte count after each binary-unit size.

    Returns
    -------
    list of (str, str)

    Examples
    --------
    >>> summary_rows(summarize(df))[0]  # doctest: +SKIP
    ('Sessions listed', '3,000')
    """
    s = summary

    def size(n):
        return f"{format_bytes(n)} ({n:,} bytes)" if n and exact else format_bytes(n)

    rows = [("Sessions listed", f"{s.sessions:,}, {size(s.total_bytes)}"),
            ("Needs attention now (open)", f"{plural(s.attention, 'session')}, {size(s.attention_bytes)} at stake")]
    if s.has_progress:
        rows += [("At risk (open)", f"{s.at_risk:,}"), ("Stalled (open)", f"{s.stalled:,}")]
    rows.append(("Open", f"{plural(s.open, 'session')}, {size(s.open_bytes)} held"))
    for name in EXPIRY_WINDOWS:
        rows.append((f"Expiring within {name[:-1]} h (open)",
                     f"{plural(s[f'expiring_{name}'], 'session')}, {size(s[f'expiring_{name}_bytes'])}"))
    if s.has_progress:
        share = NA_TEXT if s.overall_progress is None else f"{s.overall_progress:.1%}"
        rows += [("Bytes still to upload (open)", f"{size(s.bytes_to_upload)}; {share} uploaded, "
                                                  f"progress known for {plural(s.progress_known, 'session')}"),
                 ("Vanished while read", f"{s.vanished:,}")]
    rows += [("Failed (status)", f"{plural(s.failed, 'session')}, {size(s.failed_bytes)}"),
             ("Completed (status)", f"{s.completed:,}"),
             ("Past expiry (any status)", f"{s.past_expiry:,}, of which {s.active_past_expiry:,} not marked expired"),
             ("Median age", format_duration(s.median_age)),
             ("Inconsistent chunk counts", f"{s.inconsistent_chunks:,}")]
    if s.duplicate_ids:
        rows.append(("Duplicated upload ids", f"{s.duplicate_ids:,}"))
    rows += [("As of", format_utc(s.as_of)), ("Source", source_text(s))]
    return rows


# --- charts -------------------------------------------------------------------------------

def overview_png(df, *, dpi=90):
    """The :func:`~tlanalytics.plots.overview` figure of ``df`` as PNG bytes (the CLI's ``overview.png``).

    Parameters
    ----------
    df : pandas.DataFrame
    dpi : int, default 90

    Returns
    -------
    bytes

    Examples
    --------
    >>> Path("overview.png").write_bytes(overview_png(df))  # doctest: +SKIP
    """
    from .plots import figure_png, overview

    return figure_png(overview(df), dpi=dpi)


def _panel(draw, df, figsize, dpi=130, **kwargs):
    """One plot function drawn on its own constrained Figure, as PNG bytes."""
    from .plots import plot_png

    return plot_png(draw, df, figsize=figsize, dpi=dpi, **kwargs)


def _panels(df):
    """``(id, caption, png)`` of the overview panels."""
    from . import plots

    specs = [("status", "Sessions and bytes by reported status", plots.plot_status_breakdown, (7, 3.6)),
             ("sizes", "File sizes", plots.plot_size_distribution, (7, 4)),
             ("expiry", "Time to expiry, all sessions", plots.plot_expiry_distribution, (7, 4))]
    if metrics.has_progress(df) and metrics.progress_known_mask(df).any():
        specs.append(("progress", "Upload progress (sessions whose progress was read)", plots.plot_progress, (7, 4)))
    return [(pid, caption, _panel(draw, df, size)) for pid, caption, draw, size in specs]


def _img(png, element_id, alt):
    data = base64.b64encode(png).decode("ascii")
    return f'<img id="{element_id}" alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _figure(pid, caption, png):
    """A panel that opens full size when clicked (CSS :target, no script)."""
    return (f'<figure class="panel" id="panel-{pid}"><a href="#panel-{pid}" title="Open full size">'
            f'{_img(png, f"img-{pid}", caption)}</a><figcaption>{_e(caption)} '
            f'<a class="close" href="#overview">close</a></figcaption></figure>')


# --- tables -------------------------------------------------------------------------------

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
    return f'<div class="scroll"><table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _num(v):
    """A count with thousands separators, or n/a."""
    return NA_TEXT if pd.isna(v) else f"{round(float(v)):,}"


def _percent(v):
    """A share as a whole percentage, rounded down so that an unfinished session never shows 100%."""
    return NA_TEXT if pd.isna(v) else f"{math.floor(float(v) * 100)}%"


def _rate(v):
    """Bytes per second for people."""
    return NA_TEXT if pd.isna(v) else f"{format_bytes(v)}/s"


def _expires_in(td):
    """A time to expiry for people: "2 h 5 min", or "expired 3 h ago"."""
    if pd.notna(td) and td <= pd.Timedelta(0):
        return f"expired {format_duration(-td)} ago"
    return format_duration(td)


def _get(row, name):
    return row[name] if name in row.index else None


def _id_cell(row):
    uid = row["upload_id"]
    return f"<code>{_e(str(uid) if pd.notna(uid) else NA_TEXT)}</code>"


def _do_now_section(df, s, top):
    rows_df = metrics.do_now(df, top)
    risky, stalled = metrics.at_risk_mask(df), metrics.stalled_mask(df)
    soon = metrics.expiring_mask(df, metrics.URGENT_WINDOW)
    rows = []
    for idx, r in rows_df.iterrows():
        why = [w for w, m in (("at risk", risky), ("stalled", stalled), ("< 1 h left", soon)) if m[idx]]
        rows.append([_id_cell(r), _e(", ".join(why) or "next to expire"),
                     f'<span title="expires {_e(format_utc(r["expires_at"]))}">'
                     f'{_e(format_duration(r["time_to_expiry"]))}</span>',
                     _e(_percent(_get(r, "progress"))), _e(format_bytes(r["total_size"])),
                     _e(format_bytes(r["bytes_to_upload"])), _e(_rate(r["required_rate"])),
                     _e(_rate(_get(r, "upload_rate")))])
    header = ["Upload id", "Why", "Time left", "Progress", "Size", "Still to upload", "Rate needed", "Current rate"]
    intro = (f"<p>Open sessions that need attention now ({plural(s.attention, 'session')}), soonest expiry first, "
             f"then the next open sessions to expire; at most {top}. <b>Rate needed</b> is the upload speed that "
             f"finishes the session before it expires: resume the upload from the client that started it, or "
             f"start it again if that speed cannot be reached.</p>")
    if not len(rows_df):
        return intro + '<p class="note" id="nothing-open">No open session: nothing can be lost.</p>'
    return intro + _table("do-now", header, rows, numeric=header[2:])


def _failed_section(df, s, top):
    failed = metrics.failed_sessions(df, top)
    intro = (f"<p>{plural(s.failed, 'session')} failed ({format_bytes(s.failed_bytes)}); they will not finish: "
             f"upload those files again in a new session. Largest first, at most {top}.</p>")
    if not len(failed):
        return intro.replace("; they will not finish: upload those files again in a new session", "")
    known = "chunks_failed" in df.columns and failed["chunks_failed"].notna().any()
    rows = [[_id_cell(r), _e(format_bytes(r["total_size"])),
             _e(f"{_num(r['total_chunks'])} × {format_bytes(r['chunk_size'])}"),
             *([_e(_num(r["chunks_failed"]))] if known else []), _e(format_utc(_get(r, "created_at"))),
             _e(_expires_in(r["time_to_expiry"]))] for _, r in failed.iterrows()]
    header = ["Upload id", "Size", "Chunks", *(["Failed chunks"] if known else []), "Created", "Expires in"]
    return intro + _table("failed", header, rows, numeric=("Size", "Failed chunks"))


def _status_section(df, s):
    table = metrics.status_table(df)
    rows = [[_badge(None if name == "missing" else name), _e(f"{int(r.sessions):,}"), _e(format_bytes(r.bytes))]
            for name, r in table.iterrows() if r.sessions or name in s.status_counts]
    rows.append(["<b>all</b>", _e(f"{s.sessions:,}"), _e(format_bytes(s.total_bytes))])
    note = (f"<p>Statuses as the API reports them. {plural(s.open, 'session')} ({format_bytes(s.open_bytes)}) "
            f"are open; {s.past_expiry:,} are past expiry, of which {plural(s.active_past_expiry, 'session')} "
            f"still {'carries' if s.active_past_expiry == 1 else 'carry'} a status other than completed, failed "
            f"or expired (they are not open).</p>")
    return note + _table("status", ["Reported status", "Sessions", "Size"], rows, numeric=("Sessions", "Size"))


def _chunk_section(df):
    """Sessions per chunk size: count, chunks min/median/max, inconsistent count."""
    sizes = df["chunk_size"].astype("Float64")
    bad = metrics.inconsistent_chunks_mask(df)
    frame = pd.DataFrame({"chunk_size": sizes.fillna(-1.0).to_numpy(), "total_chunks": df["total_chunks"].astype("Float64").to_numpy(),
                          "bad": bad.to_numpy()})
    table = frame.groupby("chunk_size", sort=True).agg(
        sessions=("bad", "size"), min_chunks=("total_chunks", "min"), median_chunks=("total_chunks", "median"),
        max_chunks=("total_chunks", "max"), inconsistent=("bad", "sum")).reset_index()
    rows = [[_e("unknown" if r.chunk_size < 0 else format_bytes(r.chunk_size)), _e(f"{r.sessions:,}"),
             _e(_num(r.min_chunks)), _e(_num(r.median_chunks)), _e(_num(r.max_chunks)), _e(f"{int(r.inconsistent):,}")]
            for r in table.itertuples()]
    n_bad = int(table["inconsistent"].sum())
    note = (f"<p>{plural(len(table), 'chunk size')} in use; {plural(n_bad, 'session')} whose chunk count does "
            f"not match file size ÷ chunk size.</p>")
    header = ["Chunk size", "Sessions", "Fewest chunks", "Median chunks", "Most chunks", "Chunk count mismatch"]
    return note + _table("chunks", header, rows, numeric=header[1:])


def _source_rows(df, s):
    attrs = df.attrs
    rows = [("As of", format_utc(s.as_of)), ("Source", source_text(s))]
    if s.has_progress:
        asked = attrs.get("progress_requests")
        rows.append(("Progress", f"read for {plural(s.progress_known, 'open session')}"
                     + (f" ({plural(int(asked), 'request')})" if asked is not None else "")))
    else:
        rows.append(("Progress", "not read (listing only)"))
    for key, label in (("pages", "Listing pages read"), ("requests", "Listing requests"), ("retries", "Retries"),
                       ("passes", "Passes over the listing"), ("total_results", "Sessions the API reported"),
                       ("consistent", "Listing held still while read")):
        if key in attrs:
            value = attrs[key]
            rows.append((label, ("yes" if value else "no") if isinstance(value, bool)
                         else f"{value:,}" if isinstance(value, int) else str(value)))
    rows.append(("Report written", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")))
    rows.append(("tlanalytics", __version__))
    return [[_e(k), _e(v)] for k, v in rows]


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;margin:0;
color:#222;background:#f6f7f9}
main{max-width:1200px;margin:0 auto;padding:1rem}
h1{margin:.2rem 0}h2{margin-top:2rem;border-bottom:2px solid #ddd;padding-bottom:.2rem}
.sub{color:#555;margin:0 0 1rem}
#headline{background:#fff7e6;border:1px solid #e69f00;border-radius:6px;padding:.6rem 1rem}
#headline .lead{font-size:1.2rem;font-weight:600;margin:.3rem 0}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:.6rem;padding:0;list-style:none}
.kpis li{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5rem .8rem}
.kpis b{display:block;font-size:.8rem;color:#555;font-weight:600}.kpis span{font-size:1.05rem}
.scroll{overflow-x:auto}#do-now{font-size:.85rem}
@media (max-width:900px){th,td{padding:.25rem .35rem}main{padding:.6rem}}
table{border-collapse:collapse;background:#fff;font-size:.9rem;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#eef0f3}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem;word-break:break-all}
.badge{display:inline-block;padding:0 .45rem;border-radius:.6rem;color:#fff;font-size:.8rem}
figure{margin:0}img{max-width:100%;height:auto;background:#fff;border:1px solid #ddd}
.panels{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,520px),1fr));gap:1rem}
.panel figcaption{font-size:.85rem;color:#555}.panel .close{display:none}
.panel:target{position:fixed;inset:0;z-index:10;background:#fff;overflow:auto;padding:1rem}
.panel:target img{max-width:none}.panel:target .close{display:inline}
.note{color:#555;font-style:italic}footer{color:#444;font-size:.85rem;margin-top:2rem}
dt{font-weight:600;margin-top:.4rem}dd{margin-left:1rem}
"""
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def render_html(df, *, title=None, top=20, trends=None):
    """The report's HTML text (what :func:`report` writes).

    Parameters
    ----------
    df : pandas.DataFrame
        An uploads frame, with or without progress columns.
    title : str, optional
        Heading; "TwelveLabs upload sessions" by default.
    top : int, default 20
        Most rows in each session table.
    trends : pandas.DataFrame, optional
        A trend table (:func:`tlanalytics.trends`): adds a Trends section.

    Returns
    -------
    str

    Examples
    --------
    >>> html = render_html(df)  # doctest: +SKIP
    """
    check_frame(df, _NEEDED_BY_REPORT)
    s = summarize(df)
    when = f" as of {format_utc(s.as_of)}" if s.as_of is not None else ""
    title = title or "TwelveLabs upload sessions"
    sub = (f"{plural(s.sessions, 'upload session')} listed{when}: {s.open:,} open, {s.past_expiry:,} past expiry, "
           f"{s.completed:,} completed, {s.failed:,} failed. Source: {source_text(s)}.")
    parts = [f"<h1>{_e(title)}</h1>", f'<p class="sub" id="subtitle">{_e(sub)}</p>']
    if len(df) == 0:
        parts.append('<p class="note" id="empty">There are no uploads: the account lists no multipart-upload '
                     'sessions.</p>')
    else:
        tiles = [("Need attention now", f"{s.attention:,}"), ("Bytes at stake", format_bytes(s.attention_bytes))]
        if s.has_progress:
            tiles += [("At risk", f"{s.at_risk:,}")]
        tiles += [("Expiring within 1 h", f"{s.expiring_1h:,}")]
        if s.has_progress:
            tiles += [("Stalled", f"{s.stalled:,}"), ("Still to upload (open)", format_bytes(s.bytes_to_upload))]
        tiles += [("Open sessions", f"{s.open:,}"), ("Failed", f"{s.failed:,}")]
        tile_html = "".join(f"<li><b>{_e(k)}</b><span>{_e(v)}</span></li>" for k, v in tiles)
        parts += [f'<section id="headline"><p class="lead">{_e(headline(s))}</p>'
                  f'<ul class="kpis" id="kpis">{tile_html}</ul></section>',
                  "<h2 id=\"do-now-title\">Do now</h2>", _do_now_section(df, s, top)]
        if s.open:
            from .plots import plot_expiry_timeline

            n = min(top, s.open)
            png = _panel(plot_expiry_timeline, df, (9, 1.6 + 0.3 * n), dpi=110, n=n)
            parts.append(f'<figure class="panel" id="panel-time-left"><a href="#panel-time-left" title="Open full '
                         f'size">{_img(png, "img-time-left", "Time left per open session")}</a><figcaption>Time '
                         f'left per open session, soonest first <a class="close" href="#do-now-title">close</a>'
                         f'</figcaption></figure>')
        parts += ["<h2>Failed sessions</h2>", _failed_section(df, s, top),
                  '<h2 id="overview">Status and size overview</h2>', _status_section(df, s),
                  '<div class="panels">' + "".join(_figure(*p) for p in _panels(df)) + "</div>",
                  "<h2>Chunk configurations</h2>", _chunk_section(df)]
    if trends is not None:  # the Trends section of a snapshot history
        from .histviews import trends_html

        parts.append(trends_html(trends))
    parts += ["<h2>Where the data came from</h2>", _table("source", ["What", "Value"], _source_rows(df, s))]
    glossary = "".join(f"<dt>{_e(t.name)}</dt><dd>{_e(t.definition)}</dd>" for t in metrics.GLOSSARY)
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title + when)}</title><style>{_CSS}</style></head>\n"
            f"<body><main>\n{body}\n<footer id=\"glossary\"><h2>Glossary</h2><dl>{glossary}</dl>"
            f"<p>Generated by tlanalytics {_e(__version__)}. Sizes in binary units (1 MiB = 1,048,576 bytes); "
            f"times in UTC.</p></footer></main></body></html>\n")


def report(df, path, *, title=None, trends=None):
    """Write a self-contained HTML report of an uploads frame.

    One file with no external assets (charts are embedded PNGs, styles are
    inline, no script): what needs attention now, a "Do now" table of open
    sessions with the upload rate each needs, the time left per open
    session, failed sessions, the status and size overview, chunk
    configurations, where the data came from and a glossary. Every figure
    comes from :func:`tlanalytics.metrics.summarize`; every value is escaped.

    Parameters
    ----------
    df : pandas.DataFrame
        An uploads frame, with or without progress columns (without them,
        stalled and at-risk sessions are unknown and the page says so).
    path : str or os.PathLike
        The HTML file to write (its folder must exist).
    title : str, optional
        Heading of the report; "TwelveLabs upload sessions" by default.
    trends : pandas.DataFrame, optional
        A trend table of a snapshot history (:func:`tlanalytics.trends`):
        adds a Trends section before where the data came from.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InvalidArgumentError
        ``df`` is not an uploads frame.

    Examples
    --------
    >>> report(load_uploads(), "uploads.html")  # doctest: +SKIP
    PosixPath('uploads.html')
    """
    text = render_html(df, title=title, trends=trends)
    path = Path(path)
    path.write_text(text, encoding="utf-8")
    return path
