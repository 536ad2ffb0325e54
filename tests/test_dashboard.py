"""``tlanalytics dashboard``: the explorer served by Voilà, driven in headless Chromium.

One server (``python -m tlanalytics dashboard --demo``, a real subprocess on
loopback, with a canary API key in its environment) serves the whole module;
each browser test opens its own page, hence its own kernel. Expected figures
come from the same demo data, loaded here through the simulator and counted
with plain pandas.
"""

import contextlib
import csv
import dataclasses
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

import _browser
import tlanalytics as tla
from tlanalytics import _dashkernel, dashboard
from tlanalytics.client import load_uploads
from tlanalytics.errors import ConfigurationError
from tlanalytics.schema import STATUSES
from tlanalytics.simulator import Simulator

CANARY = "tlcanary_dash_5e1f0a9b77c24d3e"
ROOT = Path(__file__).resolve().parents[1]
READY = re.compile(r"Dashboard serving at (\S+)")
STARTUP_TIMEOUT = 90
NUMBER = re.compile(r"\d[\d,]*")


def env_with(**extra):
    """The environment without the developer's key or base URL, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TWELVELABS_API_KEY", "TWELVE_LABS_API_KEY", "TWELVELABS_BASE_URL")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.update(MPLBACKEND="Agg", PYTHONWARNINGS="", **extra)
    return env


class Server:
    """``python -m tlanalytics dashboard ARGS`` in the background; stdout and stderr go to files."""

    def __init__(self, folder, *args, env):
        self.out, self.err = Path(folder) / "stdout.txt", Path(folder) / "stderr.txt"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "tlanalytics", "dashboard", *map(str, args)],
                                         stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=folder)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not READY.search(self.out.read_text()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"the dashboard did not start: {self.err.read_text()[-2000:]}")
            time.sleep(0.1)
        self.url = READY.search(self.out.read_text()).group(1)

    def stop(self, sig=signal.SIGINT):
        """Stop it as Ctrl+C does; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def logs(self):
        return self.out.read_text() + self.err.read_text()


def run(*args, env=None, timeout=60):
    """``python -m tlanalytics dashboard ARGS`` to completion."""
    return subprocess.run([sys.executable, "-m", "tlanalytics", "dashboard", *map(str, args)], capture_output=True,
                          text=True, env=env or env_with(), timeout=timeout, stdin=subprocess.DEVNULL)


def one_error_line(proc, code):
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tlanalytics: error: "), proc.stderr
    return lines[0]


# --- without a browser -----------------------------------------------------------------

def test_without_voila_says_what_to_install(tmp_path):
    shim = tmp_path / "shim" / "voila"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('voila is broken here')\n")
    env = env_with()
    env["PYTHONPATH"] = os.pathsep.join([str(shim.parent), env["PYTHONPATH"]])
    line = one_error_line(run("--demo", "--port", 0, env=env), 3)
    assert 'pip install "tlanalytics[dashboard]"' in line


def test_a_store_that_does_not_exist_is_a_clear_error(tmp_path):
    line = one_error_line(run("--demo", "--store", tmp_path / "nowhere"), 3)
    assert "--store" in line and "no such folder" in line


def test_port_in_use_and_no_key_are_configuration_errors():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        line = one_error_line(run("--demo", "--port", sock.getsockname()[1]), 3)
        assert f"127.0.0.1:{sock.getsockname()[1]}" in line
    assert "TWELVELABS_API_KEY" in one_error_line(run("--port", 0), 3)


def test_settings_and_hosts():
    assert dashboard.settings({}) == dashboard.DashboardSettings()
    cfg = dashboard.DashboardSettings(demo=True, workers=3, store="/x")
    import dataclasses
    import json

    assert dashboard.settings({dashboard.ENV_VAR: json.dumps(dataclasses.asdict(cfg))}) == cfg
    with pytest.raises(ConfigurationError, match="TLANALYTICS_DASHBOARD"):
        dashboard.settings({dashboard.ENV_VAR: '{"api_key": "x"}'})
    assert [dashboard.is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "10.1.2.3", "example.org")] \
        == [True, True, True, False, False, False]
    assert dashboard.page_url("::", 8, "t") == "http://[::]:8/?token=t"


def test_the_kernel_spec_runs_ipython_with_the_warm_up(tmp_path):
    path = dashboard._write_kernel_spec(tmp_path)
    assert path == tmp_path / "kernels" / dashboard.KERNEL / "kernel.json"
    argv = json.loads(path.read_text())["argv"]
    assert argv[:3] == [sys.executable, "-m", "ipykernel_launcher"] and "{connection_file}" in argv
    lines = next(a for a in argv if a.startswith("--IPKernelApp.exec_lines="))
    assert "_dashkernel" in lines and "warm_up()" in lines
    assert json.loads(dashboard.NOTEBOOK.read_text())["metadata"]["kernelspec"]["name"] == dashboard.KERNEL


def test_the_kernel_loads_early_and_the_notebook_takes_that_load(caplog):
    cfg = dashboard.DashboardSettings(demo=True, progress_bars=False)
    early = _dashkernel.warm_up({dashboard.ENV_VAR: json.dumps(dataclasses.asdict(cfg))})
    df = early.result(timeout=120)
    assert df.attrs["demo"] and len(df) == 3000
    assert dashboard.load(cfg) is df  # the early load, not a second one
    assert _dashkernel.take_prefetched(cfg) is None  # taken once
    again = dashboard.load(cfg)
    assert again is not df and len(again) == len(df)
    with caplog.at_level(logging.WARNING, logger="tlanalytics._dashkernel"):
        assert _dashkernel.warm_up({dashboard.ENV_VAR: "{not json"}) is None  # never raises in the kernel
    assert "could not start early: ConfigurationError" in caplog.text


def test_the_history_tab_says_loading_until_built_and_shows_failures():
    import threading

    history = tla.generate_history(days=2, seed=1, now="2026-01-03T00:00:00Z")
    release = threading.Event()
    later = _dashkernel.LaterHistory(lambda: history if release.wait(60) else None, "two <days>")
    thread = later.start()
    assert later.start() is thread and thread.daemon
    assert len(later.widget.children) == 1 and "Loading two &lt;days&gt;" in later.widget.children[0].value
    assert later.tab is None  # the build waits for `release`: still loading
    release.set()
    thread.join(60)
    assert later.error is None and later.widget.children[1] is later.tab.widget
    assert "Trends of two &lt;days&gt;" in later.widget.children[0].value
    pd.testing.assert_frame_equal(later.tab.trends, tla.trends(history, outcomes=tla.session_outcomes(history)))

    def damaged():
        raise tla.FileFormatError("snapshot-1.parquet is damaged <here>")

    broken = _dashkernel.LaterHistory(damaged, "a bad store")
    broken.start().join(60)
    assert broken.tab is None and isinstance(broken.error, tla.FileFormatError)
    assert len(broken.widget.children) == 1
    shown = broken.widget.children[0].value
    assert "Could not load a bad store" in shown and "FileFormatError" in shown and "damaged &lt;here&gt;" in shown


def test_history_view_follows_the_settings(tmp_path, demo):
    assert _dashkernel.history_view(dashboard.DashboardSettings()) is None
    simulated = _dashkernel.history_view(dashboard.DashboardSettings(demo=True), now="2026-01-03T05:40:00Z")
    assert "30 days of hourly snapshots up to 2026-01-03 05:00 UTC (seed 0" in simulated.widget.children[0].value
    assert simulated.tab is None  # nothing is built before start()
    for hour in (1, 2):  # a store of two snapshots: with --store (demo or not) the tab shows the store
        tla.save_snapshot(demo, tmp_path, snapshot_at=f"2026-01-03T0{hour}:00:00Z")
    stored = _dashkernel.history_view(dashboard.DashboardSettings(demo=True, store=str(tmp_path)))
    assert str(tmp_path) in stored.widget.children[0].value
    stored.start().join(120)
    assert stored.error is None
    history = tla.load_history(tmp_path, columns=list(tla.ANALYSIS_COLUMNS))
    pd.testing.assert_frame_equal(stored.tab.trends, tla.trends(history, outcomes=tla.session_outcomes(history)))


def test_the_server_process_skips_the_iri_grammar_and_still_validates():
    code = ("import sys; from tlanalytics import dashboard; dashboard.skip_slow_imports(); "
            "import voila.app, jsonschema; assert sys.modules['rfc3987_syntax'] is None; "
            "jsonschema.validate({'a': 1}, {'properties': {'a': {'type': 'string'}}})")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env_with(), timeout=120)
    assert proc.returncode == 1 and "ValidationError" in proc.stderr and "'string'" in proc.stderr, proc.stderr


def kernels(server):
    """Process ids of the server's kernels (its child processes)."""
    pid = server.proc.pid
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_off_loopback_the_page_needs_the_token_and_the_key_never_shows(browser, tmp_path):
    """A real (not demo) load from a loopback simulator whose key is the canary; served on 0.0.0.0."""
    with Simulator(api_key=CANARY) as sim:
        server = Server(tmp_path, "--base-url", sim.base_url, "--host", "0.0.0.0", "--port", 0,
                        env=env_with(TWELVELABS_API_KEY=CANARY))
        try:
            token = re.search(r"token=([\w-]+)", server.url).group(1)
            base = f"http://127.0.0.1:{server.url.split(':')[2].split('/')[0]}/"
            denied = requests.get(base, timeout=30, allow_redirects=False)
            assert denied.status_code in (302, 403) and "sessions" not in denied.text
            with screenshot_on_failure(browser, tmp_path, "token"):
                open_page(browser, f"{base}?token={token}")  # the explorer shows: websocket and all got in
                assert sim.requests >= len(sim.sessions()) // 50  # read every page, with the canary key
                assert CANARY not in browser.page_source
                assert len(kernels(server)) == 1
                browser.get("about:blank")  # leaving the page shuts its kernel down (a POST, behind the token)
                wait(browser, lambda d: not kernels(server), timeout=30)
            assert "Traceback" not in server.logs()
            sim.api_key = "tlsim_another_key"  # now the canary is rejected: the page says so, without the key
            with screenshot_on_failure(browser, tmp_path, "rejected"):
                browser.get(f"{base}?token={token}")
                text = wait(browser, lambda d: (lambda t: t if "Could not load the upload sessions" in t else None)(
                    d.execute_script("return document.body.innerText")), timeout=120)
                assert "api_key_invalid" in text and "Traceback" not in text
                assert not browser.find_elements("css selector", ".widget-vbox") and CANARY not in browser.page_source
                browser.get("about:blank")
                wait(browser, lambda d: not kernels(server), timeout=30)
            page = requests.get(f"{base}?token={token}", timeout=120)  # the page itself, before any output
            assert "default-src 'self'" in page.headers["Content-Security-Policy"] and CANARY not in page.text
        finally:
            code = server.stop()
    assert code == 0
    logs = server.logs()
    assert logs.count(token) == 1 and "Traceback" not in logs and CANARY not in logs
    assert "WARNING" not in logs


# --- in headless Chromium ------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo():
    """The demo sessions, as the page's kernel loads them."""
    with Simulator() as sim:
        return load_uploads(sim.api_key, base_url=sim.base_url, progress=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if _browser.missing() and not os.environ.get("CI"):
        pytest.skip(_browser.missing())
    folder = tmp_path_factory.mktemp("dashboard")
    (folder / "private.png").write_bytes(b"\x89PNG not to be served")  # in the folder it was started from
    srv = Server(folder, "--demo", "--port", dashboard.free_port(), env=env_with(TWELVELABS_API_KEY=CANARY))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory):
    reason = _browser.missing()
    if reason:
        pytest.fail(f"the browser test must run in CI: {reason}")
    downloads = tmp_path_factory.mktemp("downloads")
    with _browser.chromium(tmp_path_factory.mktemp("chromium-profile"), loopback=True, downloads=downloads) as d:
        d.downloads = downloads
        yield d


@contextlib.contextmanager
def screenshot_on_failure(driver, tmp_path, name):
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            _browser.screenshot(driver, tmp_path / f"{name}-failure.png", height=1400)
        raise


def wait(driver, condition, timeout=60):
    """Wait until ``condition`` (a script returning a truthy value, or a callable of the driver) holds."""
    from selenium.webdriver.support.ui import WebDriverWait

    check = condition if callable(condition) else (lambda d: d.execute_script(condition))
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(check)


SUMMARY = "return (document.querySelector('.tla-summary .widget-html-content') || {textContent: ''}).textContent"
PLOT = "return Array.from(document.querySelectorAll('.widget-output img')).filter(" \
       "i => i.complete && i.naturalWidth > 0 && i.offsetParent !== null).length"


def open_page(driver, url):
    """Open the dashboard in the current tab and wait until the explorer shows a plot."""
    driver.get(url)
    wait(driver, PLOT)
    return summary(driver)


def summary(driver):
    return driver.execute_script(SUMMARY)


def numbers(text):
    return [int(n.replace(",", "")) for n in NUMBER.findall(text)]


def select_only(driver, label, value):
    """Select only the option of the multi-select labelled ``label`` whose text starts with ``value``."""
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.XPATH, f"//label[normalize-space()='{label}']/following-sibling::select")
    next(o for o in box.find_elements(By.TAG_NAME, "option") if o.text.startswith(value + "\u00a0")
         or o.text.startswith(value + " ")).click()


def change_summary(driver, before, action):
    action()
    wait(driver, lambda d: summary(d) != before, timeout=30)
    return summary(driver)


@pytest.fixture(scope="module")
def first_page(server, browser, tmp_path_factory):
    """The page of the first tab, opened once: (summary text, seconds to open)."""
    _browser.requested_urls(browser)  # drop what the browser fetched before (on its own, or other tests)
    browser.get_log("browser")
    start = time.monotonic()
    text = open_page(browser, server.url)
    return text, time.monotonic() - start


def test_page_loads_without_errors(server, browser, first_page, demo, tmp_path):
    text, _ = first_page
    with screenshot_on_failure(browser, tmp_path, "load"):
        body = browser.execute_script("return document.body.innerText")
        assert "Error displaying widget" not in body and "Traceback" not in body
        assert len(demo) in numbers(text)
        assert browser.execute_script(PLOT) >= 1
        severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == []
        for pid in kernels(server):  # the page's kernel is the dashboard's: it warmed up as it started
            assert b"_dashkernel')._dashkernel.warm_up()" in Path(f"/proc/{pid}/cmdline").read_bytes()
        shot = _browser.screenshot(browser, tmp_path / "dashboard.png", height=900)
        import matplotlib.image

        assert matplotlib.image.imread(shot).std() > 0.05


def click_tab(driver, title):
    from selenium.webdriver.common.by import By

    next(t for t in driver.find_elements(By.CSS_SELECTOR, ".lm-TabBar-tab") if t.text.strip() == title).click()


HISTORY_READY = ("return !!document.querySelector('.tla-history-ready') && Array.from(document.querySelectorAll("
                 "'.tla-history img')).some(i => i.complete && i.naturalWidth > 0 && i.offsetParent !== null)")
TREND_ROWS = ("const t = document.querySelector('.tla-history table#trends'); if (!t) return null;"
              "return [Array.from(t.tHead.rows[0].cells).map(c => c.textContent)].concat("
              "Array.from(t.tBodies[0].rows).map(r => Array.from(r.cells).map(c => c.textContent)));")


def test_demo_history_tab_shows_the_trends_of_the_simulated_history(browser, first_page, tmp_path):
    """The tab says what it shows; its table is tla.trends of that same seeded history, per day, then per week."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with screenshot_on_failure(browser, tmp_path, "history"):
        click_tab(browser, "History")
        wait(browser, HISTORY_READY, timeout=120)
        note = browser.find_element(By.CSS_SELECTOR, ".tla-history-ready").text
        end = re.search(r"30 days of hourly snapshots up to (\d{4}-\d\d-\d\d \d\d:\d\d) UTC \(seed 0", note).group(1)
        history = tla.generate_history(days=30, seed=0, now=pd.Timestamp(end, tz="UTC"))
        outcomes = tla.session_outcomes(history)
        daily = tla.format_trends(tla.trends(history, outcomes=outcomes))
        rows = browser.execute_script(TREND_ROWS)
        assert rows[0] == list(daily.columns) and rows[1:] == daily.values.tolist()
        assert len(rows) > 30  # one row a day
        width = browser.execute_script("return document.querySelector('.tla-history img').naturalWidth")
        assert width == 12 * 70  # the trends figure (12 x 8 in at 70 dpi), not some other image
        _browser.screenshot(browser, tmp_path / "dashboard-history.png", height=1400)
        box = browser.find_element(By.XPATH, "//label[normalize-space()='Periods']/following-sibling::select")
        Select(box).select_by_visible_text("per week")
        weekly = tla.format_trends(tla.trends(history, "W", outcomes=outcomes))
        rows = wait(browser, lambda d: (lambda r: r if r and len(r) == len(weekly) + 1 else None)(
            d.execute_script(TREND_ROWS)), timeout=60)
        assert rows[1:] == weekly.values.tolist()
        click_tab(browser, "Status")


def test_status_filter_changes_the_summary(browser, first_page, demo, tmp_path):
    before = summary(browser)
    counts = demo["status"].astype("object").value_counts()
    status = next(s for s in STATUSES if counts.get(s, 0) and counts[s] not in numbers(before))
    with screenshot_on_failure(browser, tmp_path, "status"):
        after = change_summary(browser, before, lambda: select_only(browser, "Status", status))
        assert counts[status] in numbers(after) and len(demo) in numbers(after)


def selected(driver, label):
    """The values (text before the count) selected in the multi-select labelled ``label``."""
    texts = driver.execute_script(
        "const l = Array.from(document.querySelectorAll('label')).find(e => e.textContent.trim() === arguments[0]);"
        "return Array.from(l.parentElement.querySelector('select').selectedOptions).map(o => o.textContent);", label)
    return [t.replace("\u00a0", " ").rsplit(" (", 1)[0] for t in texts]


def size_bounds(driver):
    """The (low, high) bytes of the File size slider, read from its readout (binary units)."""
    from tlanalytics._units import format_bytes

    stops = {format_bytes(0): 0, **{format_bytes(2 ** k): 2 ** k for k in range(64)}}
    text = driver.execute_script(
        "const l = Array.from(document.querySelectorAll('label')).find(e => e.textContent.trim() === 'File size');"
        "return l.parentElement.querySelector('.widget-readout').textContent.trim();")
    low, high = text.split("-")
    return stops[low.strip()], stops[high.strip()]


def filtered(demo, driver):
    """The demo sessions passing the filters the page shows (status and file size), in plain pandas."""
    df = demo
    statuses = selected(driver, "Status")
    if statuses:
        df = df[df["status"].astype("object").isin(statuses)]
    low, high = size_bounds(driver)
    if (low, high) != (0, 2 ** int(demo["total_size"].max() - 1).bit_length()):
        df = df[(df["total_size"] >= low) & (df["total_size"] <= high)]
    return df


def test_size_filter_changes_the_summary(browser, first_page, demo, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    before = summary(browser)
    with screenshot_on_failure(browser, tmp_path, "size"):
        handle = browser.find_element(By.XPATH, "//label[normalize-space()='File size']/..//*[contains(@class, "
                                                "'noUi-handle-upper')]")
        handle.send_keys(*[Keys.ARROW_LEFT] * 4)  # four stops down: each key press is one change
        wait(browser, lambda d: size_bounds(d)[1] <= demo["total_size"].max() / 8, timeout=30)
        # the kernel answers each step in turn: wait for the summary of the last one
        wait(browser, lambda d: len(filtered(demo, d)) in numbers(summary(d)), timeout=30)
        after, expected = summary(browser), filtered(demo, browser)
        assert after != before and len(demo) in numbers(after)
        assert 0 < len(expected) < (demo["status"].astype("object").isin(selected(browser, "Status"))).sum()


def test_table_tab_lists_the_most_urgent_sessions(browser, first_page, demo, tmp_path):
    from selenium.webdriver.common.by import By

    with screenshot_on_failure(browser, tmp_path, "table"):
        tab = next(t for t in browser.find_elements(By.CSS_SELECTOR, ".lm-TabBar-tab") if t.text.strip() == "Table")
        tab.click()
        df = filtered(demo, browser).set_index("upload_id")
        table = ("const t = Array.from(document.querySelectorAll('.widget-output table'))"
                 ".find(t => t.offsetParent !== null); if (!t) return null;"
                 "const head = Array.from(t.tHead.rows[0].cells).map(c => c.textContent.trim());"
                 "return Array.from(t.tBodies[0].rows)"
                 ".map(r => r.cells[head.indexOf('upload_id')].textContent.trim());")
        # the kernel redraws the table after the summary: wait for the one of the current filters
        rows = wait(browser, lambda d: (lambda r: r if r and set(r) <= set(df.index) else None)(
            d.execute_script(table)), timeout=30)
        column = browser.execute_script(
            "const l = Array.from(document.querySelectorAll('label')).find(e => e.textContent.trim() === 'Sort by');"
            "return l.parentElement.querySelector('select').value;")
        ascending = browser.find_element(By.CSS_SELECTOR, ".widget-toggle-button.mod-active").text == "ascending"
        _browser.screenshot(browser, tmp_path / "dashboard-table.png", height=1400)
        from tlanalytics.metrics import open_mask
        from tlanalytics.widgets import MOST_URGENT_FIRST as _URGENCY

        assert column == _URGENCY and ascending  # the default: most urgent first
        assert len(rows) == min(20, len(df)) and set(rows) <= set(df.index)
        # Without progress, "most urgent" is the open sessions by soonest expiry. The kernel loaded the sample a
        # moment apart from this test, and the simulator re-anchors timestamps to whole seconds, so equal-looking
        # moments may differ by a second: compare with that slack.
        slack = pd.Timedelta(seconds=1)
        open_ = df[open_mask(df)]
        assert set(rows) <= set(open_.index)
        shown = df.loc[rows, "expires_at"]
        assert (shown.diff().dropna() >= -slack).all()  # in order
        assert shown.max() <= open_.drop(index=rows)["expires_at"].min() + slack  # and no more urgent one left out


def test_export_downloads_the_filtered_rows(browser, first_page, demo, tmp_path):
    from selenium.webdriver.common.by import By

    with screenshot_on_failure(browser, tmp_path, "export"):
        expected = filtered(demo, browser)
        button = next(b for b in browser.find_elements(By.CSS_SELECTOR, "button") if "Export CSV" in b.text)
        button.click()
        link = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "a[download]"), timeout=30)[0]
        name = link.get_attribute("download")
        link.click()
        path = Path(browser.downloads) / name
        wait(browser, lambda d: path.exists() and not Path(str(path) + ".crdownload").exists(), timeout=30)
        data = path.read_bytes()
        assert CANARY.encode() not in data
        with open(path, newline="", encoding="utf-8") as fh:
            ids = [row["upload_id"] for row in csv.DictReader(fh)]
        assert len(ids) == len(expected) > 0 and set(ids) == set(expected["upload_id"])


def test_second_tab_has_its_own_state(server, browser, first_page, demo, tmp_path):
    first, filtered_summary = browser.current_window_handle, summary(browser)
    shown = len(filtered(demo, browser))
    assert selected(browser, "Status") and shown < len(demo) and shown in numbers(filtered_summary)
    browser.switch_to.new_window("tab")
    try:
        with screenshot_on_failure(browser, tmp_path, "second-tab"):
            fresh = open_page(browser, server.url)
            assert selected(browser, "Status") == [] and len(filtered(demo, browser)) == len(demo)
            assert len(demo) in numbers(fresh) and shown not in numbers(fresh)
            counts = demo["status"].astype("object").value_counts()
            status = next(s for s in STATUSES if counts.get(s, 0) and counts[s] not in numbers(fresh)
                          and counts[s] not in numbers(filtered_summary))
            after = change_summary(browser, fresh, lambda: select_only(browser, "Status", status))
            assert counts[status] in numbers(after)
            before = set(kernels(server))
            browser.get("about:blank")  # leaving the page shuts its kernel down (a POST without _xsrf)
            wait(browser, lambda d: len(set(kernels(server))) == len(before) - 1, timeout=30)
    finally:
        browser.close()
        browser.switch_to.window(first)
    assert summary(browser) == filtered_summary


def test_every_request_goes_to_the_dashboard(server, browser, first_page):
    origin = server.url.rstrip("/")
    urls = _browser.requested_urls(browser)
    assert any(u.startswith(origin.replace("http", "ws", 1)) for u in urls)  # the kernel's websocket
    assert any("/voila/static/" in u for u in urls)
    foreign = [u for u in urls if not u.startswith((origin + "/", origin.replace("http", "ws", 1) + "/", "data:",
                                                    "blob:"))]
    assert foreign == []
    assert CANARY not in browser.page_source


def test_no_file_of_the_working_folder_is_served(server):
    for path in ("voila/files/private.png", "private.png", "voila/files/dashboard.ipynb"):
        answer = requests.get(server.url + path, timeout=30)
        assert answer.status_code in (403, 404) and b"not to be served" not in answer.content, path


def test_ctrl_c_stops_the_server_cleanly(server):
    children = kernels(server)
    assert children  # the kernel of the page still open in the browser
    assert server.stop(signal.SIGINT) == 0
    logs = server.logs()
    assert "Traceback" not in logs and CANARY not in logs
    deadline = time.monotonic() + 10
    while any(map(alive, children)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(alive, children))  # the kernels stopped with the server


def alive(pid):
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
