"""Headless Chromium for the report and dashboard tests: selenium driving Debian's chromium + chromedriver.

Why selenium rather than raw CDP over ``--remote-debugging-port``: CDP needs a
WebSocket client (not in the standard library) and hand-written waiting for
page loads; selenium brings both, and with the driver path given explicitly
it never runs Selenium Manager, so nothing is downloaded. The browser is
started with networking features off and a proxy that points at a closed
loopback port, so even a stray external URL could not be fetched; the report
is opened from a ``file://`` URL. The dashboard tests let loopback through
(the page is served there), record every request the page makes (the
``performance`` log: HTTP requests and websockets) and send downloads to a
folder of the test's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

CHROMIUM = os.environ.get("TLANALYTICS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TLANALYTICS_CHROMEDRIVER", "/usr/bin/chromedriver")
ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-extensions", "--disable-default-apps", "--hide-scrollbars",
        # Any request that is not a file:// or data: URL would go to a closed port on loopback and fail.
        "--proxy-server=http://127.0.0.1:9")
NO_LOOPBACK = "--proxy-bypass-list=<-loopback>"  # loopback too goes to the closed port

# What the page reports about itself once loaded.
_INSPECT = """
const imgs = Array.from(document.images).map(i => ({id: i.id, complete: i.complete, width: i.naturalWidth,
                                                     src: i.src.slice(0, 30)}));
const tables = {};
for (const t of document.querySelectorAll('table[id]')) tables[t.id] = t.tBodies[0] ? t.tBodies[0].rows.length : 0;
const cells = {};
for (const t of document.querySelectorAll('table[id]'))
  cells[t.id] = Array.from(t.querySelectorAll('tbody tr')).map(r => Array.from(r.cells).map(c => c.textContent));
return {images: imgs, tables: tables, cells: cells, title: document.title,
        resources: performance.getEntriesByType('resource').map(e => e.name),
        scripts: document.scripts.length, pwned: window.__pwned === undefined ? null : window.__pwned,
        height: document.documentElement.scrollHeight, text: document.body.innerText};
"""


def missing():
    """Why the browser tests cannot run here, or None when they can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return f"{path} is missing (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    return None


@contextlib.contextmanager
def chromium(profile_dir, *, loopback=False, downloads=None):
    """A headless Chromium WebDriver with a fresh profile in ``profile_dir``; quit on exit.

    ``loopback=True`` lets the browser reach servers on loopback (every other
    address still goes to the closed proxy) and records the network log
    (:func:`requested_urls`); ``downloads`` is the folder downloads are saved to.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ARGS + (() if loopback else (NO_LOOPBACK,)):
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.add_argument("--window-size=1280,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", **({"performance": "ALL"} if loopback else {})})
    if downloads is not None:
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                                  "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(30)
        if downloads is not None:
            driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        yield driver
    finally:
        driver.quit()


def inspect(driver, path, *, width=1280):
    """Open the HTML file at ``path`` and return what the page says about itself (see ``_INSPECT``).

    Adds ``console``: the browser console's entries (CSP violations and failed
    loads show up there as SEVERE).
    """
    driver.set_window_size(width, 900)  # a previous screenshot may have made it taller
    driver.get(Path(path).resolve().as_uri())
    # Images in data: URIs decode asynchronously; wait until each has finished (or failed).
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 15).until(lambda d: d.execute_script(
        "return document.readyState === 'complete' && Array.from(document.images).every(i => i.complete)"))
    page = driver.execute_script(_INSPECT)
    page["console"] = driver.get_log("browser")
    return page


def requested_urls(driver):
    """Every URL the browser asked for since the last call (HTTP requests and websockets), from the
    ``performance`` log of a driver made with ``loopback=True``."""
    import json

    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(params["request"]["url"])
        elif message.get("method") == "Network.webSocketCreated":
            urls.append(params["url"])
    return urls


def screenshot(driver, path, *, height, width=1280):
    """A PNG of the whole page (the window is made as tall as the page, at most 12,000 px)."""
    driver.set_window_size(width, min(max(int(height), 600), 12000))
    driver.save_screenshot(str(path))
    keep = os.environ.get("TLANALYTICS_SCREENSHOTS")
    if keep:  # for people: keep a copy to look at
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / Path(path).name)
    return Path(path)
