"""summarize() against plain pandas, and the HTML report: self-contained, escaped, complete, and in a real browser."""

import os
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

import _browser
from _data import listing_items as listing, status_body
from tlanalytics._units import format_bytes
from tlanalytics.errors import InvalidArgumentError, MalformedItemWarning
from tlanalytics.frame import build_frame, empty_frame, join_progress, recompute
from tlanalytics.reporting import report, summarize
from tlanalytics.simulator import generate_uploads

AS_OF = pd.Timestamp("2025-12-01T12:00:00Z")
TERMINAL = ("completed", "failed", "expired")
EVIL_ID = "<script>window.__pwned=1</script>"
EVIL_STATUS = '<img src=x onerror="window.__pwned=2">'


@pytest.fixture(scope="module")
def sessions():
    return generate_uploads(400, seed=7, now=AS_OF)


@pytest.fixture(scope="module")
def frame(sessions):
    df = build_frame(listing(sessions), as_of=AS_OF)
    df.attrs.update(base_url="http://127.0.0.1:8765/v1.3", pages=8, requests=8, consistent=True)
    return df


@pytest.fixture(scope="module")
def progress_frame(sessions, frame):
    """Progress for every session but the first three, which vanished (404)."""
    statuses = {s["upload_id"]: status_body(s) for s in sessions}
    for s in sessions[:3]:
        statuses[s["upload_id"]] = None
    df = join_progress(frame, statuses, as_of=AS_OF)
    df.attrs.update(frame.attrs)
    return df


# --- what the expected numbers are, in plain pandas --------------------------------

def expected_open(df, now):
    status = df["status"].astype("object")
    return ~status.isin(TERMINAL) & (df["expires_at"] > now)


def expected_expiring(df, now, hours):
    left = df["expires_at"] - now
    return expected_open(df, now) & (left > pd.Timedelta(0)) & (left <= pd.Timedelta(hours=hours))


def test_summarize_matches_pandas(frame):
    kpis = summarize(frame)
    assert kpis["sessions"] == 400
    assert kpis["total_bytes"] == int(frame["total_size"].astype("int64").sum())
    counts = [int(expected_expiring(frame, AS_OF, h).sum()) for h in (1, 6, 24)]
    assert 0 < counts[0] < counts[1] < counts[2]  # the windows are cumulative and each adds sessions
    for name, h, n in zip(("1h", "6h", "24h"), (1, 6, 24), counts):
        mask = expected_expiring(frame, AS_OF, h)
        assert kpis[f"expiring_{name}"] == n
        assert kpis[f"expiring_{name}_bytes"] == int(frame.loc[mask, "total_size"].astype("int64").sum())
    status = frame["status"].astype("object")
    assert kpis["failed"] == int((status == "failed").sum()) > 0
    assert kpis["past_expiry"] == int((frame["expires_at"] <= AS_OF).sum()) > 0
    assert kpis["open"] == int(expected_open(frame, AS_OF).sum())
    assert kpis["status_counts"] == {s: int((status == s).sum()) for s in ("active", "completed", "failed", "expired")}
    assert kpis["median_age"] == (AS_OF - frame["created_at"]).median()
    assert kpis["inconsistent_chunks"] == 0
    assert kpis["as_of"] == AS_OF and kpis["base_url"] == "http://127.0.0.1:8765/v1.3"
    assert kpis["has_progress"] is False and kpis["stalled"] is None


def test_summarize_progress_figures(sessions, progress_frame):
    kpis = summarize(progress_frame)
    opened = expected_open(progress_frame, AS_OF)
    known = opened & progress_frame["uploaded_size"].notna()
    assert kpis["has_progress"] is True
    assert kpis["vanished"] == 3
    uploaded = int(progress_frame.loc[known, "uploaded_size"].sum())
    total = int(progress_frame.loc[known, "total_size"].sum())
    assert kpis["uploaded_bytes"] == uploaded and kpis["bytes_to_upload"] == total - uploaded
    assert kpis["overall_progress"] == pytest.approx(uploaded / total)
    assert kpis["stalled"] == int((opened & progress_frame["stalled"].fillna(False)).sum()) > 0
    assert kpis["at_risk"] == int((opened & progress_frame["at_risk"].fillna(False)).sum()) > 0


def test_summarize_now_recomputes_for_that_moment(frame):
    later = AS_OF + pd.Timedelta(hours=3)
    kpis = summarize(frame, as_of=later)
    assert kpis["as_of"] == later
    assert kpis["expiring_1h"] == int(expected_expiring(frame, later, 1).sum())
    assert kpis["expiring_6h_bytes"] == int(frame.loc[expected_expiring(frame, later, 6), "total_size"].sum())
    assert kpis["median_age"] == (later - frame["created_at"]).median()
    assert kpis == summarize(recompute(frame, later))
    assert summarize(frame)["median_age"] != kpis["median_age"]


def test_summarize_unknown_missing_status_and_bad_chunks():
    items = listing(generate_uploads(4, seed=1, now=AS_OF))
    for item in items:
        item["expires_at"] = (AS_OF + pd.Timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    items[0]["status"], items[1]["status"], items[2]["status"] = "paused", None, "failed"
    items[3]["total_chunks"] += 1
    with pytest.warns(MalformedItemWarning, match="status"):  # a missing status is kept as null
        df = build_frame(items, as_of=AS_OF)
    kpis = summarize(df)
    assert kpis["status_counts"]["paused"] == 1 and kpis["status_counts"]["missing"] == 1
    # unknown and missing statuses count as open (nothing says they are over); failed does not
    assert kpis["expiring_1h"] == 2 + (items[3]["status"] not in TERMINAL)
    assert kpis["inconsistent_chunks"] == 1


def test_summarize_empty_and_bad_input():
    kpis = summarize(empty_frame())
    assert kpis["sessions"] == kpis["total_bytes"] == kpis["expiring_24h_bytes"] == 0
    assert kpis["median_age"] is None and kpis["as_of"] is None
    with pytest.raises(InvalidArgumentError, match="DataFrame"):
        summarize([1, 2])
    with pytest.raises(InvalidArgumentError, match="time_to_expiry"):
        summarize(pd.DataFrame({"status": ["active"], "total_size": [1]}))


# --- the HTML, parsed with the standard library ---------------------------------------

class Page(HTMLParser):
    """Tags, attributes, table body row counts and cell texts of an HTML document."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.rows, self.cells = [], [], {}, {}
        self._table = self._cell = None
        self._in_body = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        attrs = dict(attrs)
        if tag == "table":
            self._table = attrs.get("id")
            self.rows[self._table], self.cells[self._table] = 0, []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows[self._table] += 1
            self.cells[self._table].append([])
        elif tag == "td" and self._in_body:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            self.cells[self._table][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def render(df, path, **kwargs):
    assert report(df, path, **kwargs) == path
    text = path.read_text(encoding="utf-8")
    return text, Page(text)


def evil_items():
    """Listing items with markup in an id and a status, and two with inconsistent chunk counts."""
    items = listing(generate_uploads(6, seed=5, now=AS_OF))
    items[0]["upload_id"] = EVIL_ID
    items[0]["expires_at"] = (AS_OF + pd.Timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    items[0]["status"] = "active"
    items[1]["status"] = EVIL_STATUS
    items[2]["total_chunks"] += 1
    items[3]["total_chunks"] += 1
    return items


@pytest.fixture(scope="module")
def frame_html(frame, tmp_path_factory):
    return render(frame, tmp_path_factory.mktemp("plain") / "report.html")


@pytest.fixture(scope="module")
def full(sessions, tmp_path_factory):
    """Evil rows plus the generated sessions, with progress (first three generated ones vanished), rendered."""
    statuses = {s["upload_id"]: status_body(s) for s in sessions}
    for s in sessions[:3]:
        statuses[s["upload_id"]] = None
    df = join_progress(build_frame(evil_items() + listing(sessions), as_of=AS_OF), statuses, as_of=AS_OF)
    df.attrs.update(base_url="http://user:pass@127.0.0.1:9/v1.3?token=s3cret#frag", pages="<b>1</b>")
    path = tmp_path_factory.mktemp("full") / "report.html"
    text, page = render(df, path, title="Uploads <i>of</i> & co")
    return df, path, text, page


def expected_rows(df):
    """Row counts of the report's tables, from pandas."""
    status = df["status"].astype("object")
    shown = set(status.fillna("missing")) | {"active", "completed", "failed", "expired"}
    return {"do-now": min(20, int(expected_open(df, AS_OF).sum())), "failed": min(20, int((status == "failed").sum())),
            "chunks": df["chunk_size"].nunique(dropna=False), "status": len(shown) + 1}  # + the "all" row


def test_report_is_self_contained(frame_html):
    text, page = frame_html
    assert text.startswith("<!DOCTYPE html>")
    assert "link" not in page.tags and "script" not in page.tags and "iframe" not in page.tags
    srcs = [v for tag, k, v in page.attrs if k == "src"]
    assert srcs and all(v.startswith("data:image/png;base64,") for v in srcs)
    assert not [v for tag, k, v in page.attrs if k in ("href", "src", "srcset", "action") and re.match(r"\s*(https?:)?//", v)]
    assert "url(" not in text and "@import" not in text  # nothing fetched from CSS either
    csp = [v for tag, k, v in page.attrs if k == "content" and "default-src" in v]
    assert csp == ["default-src 'none'; img-src data:; style-src 'unsafe-inline'"]
    assert "http://127.0.0.1:8765/v1.3" in text  # where the data came from, as text
    assert "2025-12-01 12:00 UTC" in text


def test_report_tables_have_the_expected_rows(frame, frame_html):
    _, page = frame_html
    rows = expected_rows(frame)
    assert rows["do-now"] == 20 and rows["failed"] > 0 and rows["chunks"] > 1
    for table, n in rows.items():
        assert page.rows[table] == n, table
    # without progress: expiring within 1 h comes first, then the soonest open sessions
    soonest = frame[expected_expiring(frame, AS_OF, 10**6)].sort_values(["expires_at", "upload_id"])
    assert [c[0] for c in page.cells["do-now"]] == list(soonest["upload_id"].head(20))
    failed = frame[frame["status"] == "failed"].sort_values("total_size", ascending=False)
    assert page.cells["failed"][0][0] == failed["upload_id"].iloc[0]
    assert len(page.cells["failed"][0]) == 5  # no failed-chunk column without progress
    by_size = frame["chunk_size"].value_counts()
    for cells in page.cells["chunks"]:
        size = {"5 MiB": 5, "10 MiB": 10, "25 MiB": 25, "50 MiB": 50, "100 MiB": 100}[cells[0]] << 20
        assert int(cells[1].replace(",", "")) == by_size[size]
        assert cells[5] == "0"


def test_report_leads_with_what_needs_attention(frame_html, full):
    text, _ = frame_html
    assert "Progress was not read, so stalled and at-risk sessions are unknown" in text
    df, _, text, page = full
    kpis = summarize(df)
    assert f"{kpis.attention:,} open sessions need attention now ({kpis.at_risk:,} at risk" in text
    order = [text.index(marker) for marker in ('id="headline"', 'id="do-now"', 'id="failed"', 'id="status"',
                                               'id="chunks"', 'id="source"', 'id="glossary"')]
    assert order == sorted(order)


def test_do_now_shows_time_left_progress_and_the_rate_needed(full):
    df, _, _, page = full
    by_id = df.drop_duplicates("upload_id").set_index("upload_id")
    header = ["Upload id", "Why", "Time left", "Progress", "Size", "Still to upload", "Rate needed", "Current rate"]
    for cells in page.cells["do-now"]:
        row = dict(zip(header, cells))
        session = by_id.loc[row["Upload id"]]
        assert expected_open(by_id.loc[[row["Upload id"]]], AS_OF).all()
        if pd.notna(session["uploaded_size"]):
            left = max(int(session["total_size"]) - int(session["uploaded_size"]), 0)
            rate = left / session["time_to_expiry"].total_seconds()
            assert row["Still to upload"] == format_bytes(left) and row["Rate needed"] == f"{format_bytes(rate)}/s"
    assert any("at risk" in cells[1] for cells in page.cells["do-now"])


def test_report_with_progress_counts_failed_chunks(full):
    df, _, _, page = full
    failed = df[df["status"] == "failed"].sort_values("total_size", ascending=False, kind="stable")
    assert [c[3] for c in page.cells["failed"]] == [f"{int(v):,}" if pd.notna(v) else "n/a"
                                                     for v in failed["chunks_failed"].head(20)]


def test_report_counts_inconsistent_chunk_arithmetic(full):
    df, _, text, page = full
    assert sum(int(cells[5]) for cells in page.cells["chunks"]) == 2
    assert "2 sessions whose chunk count does not match file size ÷ chunk size" in text


def test_report_uses_plain_words(full):
    _, _, text, _ = full
    visible = re.sub(r"<[^>]+>", " ", text.split("<style>")[0] + text.split("</style>")[1])
    visible = re.sub(r"Glossary.*", "", visible, flags=re.S)  # the glossary names the columns it defines
    for raw in ("total_size", "as_of", "total_chunks", "chunk_size", "time_to_expiry"):
        assert raw not in visible, raw


def test_report_escapes_every_value(full):
    _, _, text, page = full
    assert "<script" not in text.lower() and "onerror=" not in text.replace("onerror=&quot;", "")
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in text
    assert "<b>1</b>" not in text and "&lt;b&gt;1&lt;/b&gt;" in text
    assert "<i>of</i>" not in text and "Uploads &lt;i&gt;of&lt;/i&gt; &amp; co" in text
    assert page.cells["do-now"][0][0] == EVIL_ID  # shown as text, verbatim
    assert any(EVIL_STATUS in cell for row in page.cells["status"] for cell in row)
    # credentials, query and fragment of the base URL are not shown
    assert "user:pass" not in text and ":pass@" not in text and "s3cret" not in text and "#frag" not in text
    assert "http://127.0.0.1:9/v1.3" in text


def test_report_of_an_empty_frame(tmp_path):
    df = empty_frame()
    df.attrs["as_of"] = AS_OF
    text, page = render(df, tmp_path / "empty.html")
    assert "There are no uploads" in text
    assert "img" not in page.tags
    assert set(page.rows) == {"source"}
    assert text.rstrip().endswith("</html>")


def test_report_rejects_what_is_not_an_uploads_frame(tmp_path):
    with pytest.raises(InvalidArgumentError):
        report(pd.DataFrame({"a": [1]}), tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


# --- in headless Chromium ----------------------------------------------------------------

@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    reason = _browser.missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI: {reason}")
        pytest.skip(reason)
    with _browser.chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def test_report_renders_in_chromium(browser, full, tmp_path):
    df, path, _, _ = full
    page = _browser.inspect(browser, path)
    assert page["images"] and all(i["complete"] and i["width"] > 0 for i in page["images"])
    ids = [i["id"] for i in page["images"]]
    assert ids == ["img-time-left", "img-status", "img-sizes", "img-expiry", "img-progress"]
    rows = expected_rows(df)
    assert page["tables"] == {**rows, "source": len(page["cells"]["source"])} and page["tables"]["source"] >= 5
    assert page["cells"]["do-now"][0][0] == EVIL_ID  # escaped: text, not a script
    assert page["scripts"] == 0 and page["pwned"] is None
    assert page["resources"] == []  # nothing was fetched
    assert [e for e in page["console"] if e["level"] == "SEVERE"] == []
    assert page["title"].startswith("Uploads <i>of</i> & co")


def test_panels_open_full_size_when_clicked(browser, full):
    _, path, _, _ = full
    _browser.inspect(browser, path)
    from selenium.webdriver.common.by import By

    img = browser.find_element(By.ID, "img-status")
    small = img.size["width"]
    img.click()  # a plain link to the panel's own #fragment; CSS :target shows it full size
    assert browser.execute_script("return location.hash") == "#panel-status"
    big = browser.find_element(By.ID, "img-status")
    natural = browser.execute_script("return arguments[0].naturalWidth", big)
    assert natural <= big.size["width"] <= natural + 2 and natural > small  # + its 1 px border
    browser.find_element(By.CSS_SELECTOR, "#panel-status .close").click()
    assert browser.find_element(By.ID, "img-status").size["width"] == small


@pytest.mark.parametrize("width", [1400, 800])
def test_demo_report_reads_at_1400_and_800_px(browser, demo_report, tmp_path, width):
    path = demo_report  # `tlanalytics report --demo`, written once per session (tests/conftest.py)
    page = _browser.inspect(browser, path, width=width)
    text = page["text"]
    assert "need attention now" in text and "Do now" in text and "Failed sessions" in text
    assert page["tables"]["do-now"] == 20 and page["tables"]["failed"] == 20
    assert any(cells[3].endswith("%") for cells in page["cells"]["do-now"])  # progress was read
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width  # nothing sticks out
    panels = browser.execute_script(
        "return Array.from(document.querySelectorAll('.panels img')).map(i => i.getBoundingClientRect().width)")
    assert panels and min(panels) >= min(width - 80, 500)  # each panel legible: at least 500 px wide
    # no number contradicts another: tiles, subtitle, status table and tables agree
    tiles = dict(line.split("\n", 1) for line in browser.execute_script(
        "return Array.from(document.querySelectorAll('#kpis li')).map(li => li.innerText)"))
    status = {c[0]: int(c[1].replace(",", "")) for c in page["cells"]["status"]}
    subtitle = browser.find_element("id", "subtitle").text
    opened = int(tiles["Open sessions"].replace(",", ""))
    assert f"{status['all']:,} upload sessions listed" in subtitle and f"{opened:,} open" in subtitle
    assert f"{status['failed']:,} failed" in subtitle and tiles["Failed"] == f"{status['failed']:,}"
    assert opened <= status["active"]  # active but past expiry are not open
    _browser.screenshot(browser, tmp_path / f"report-{width}.png", height=page["height"], width=width)


def test_empty_report_renders_in_chromium(browser, tmp_path):
    path = report(empty_frame(), tmp_path / "empty.html")
    page = _browser.inspect(browser, path)
    assert page["images"] == []
    assert "There are no uploads" in page["text"]
    assert list(page["tables"]) == ["source"]
    assert [e for e in page["console"] if e["level"] == "SEVERE"] == []
    _browser.screenshot(browser, tmp_path / "empty.png", height=page["height"])
