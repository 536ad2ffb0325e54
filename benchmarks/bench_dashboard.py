"""How long ``tlanalytics dashboard --demo`` takes to start and to show the explorer (issue 14).

Each run starts ``python -m tlanalytics dashboard --demo --port <free>`` as a
fresh subprocess and measures, from the moment it is launched:

- *URL printed*: the command printed its URL (the server listens);
- *page shown*: headless Chromium (already running) opened the URL and the
  explorer shows its summary and a plot (a new kernel loaded the sample of
  3,000 sessions from the in-kernel simulator and built the widgets);
- *History filled*: the History tab (not on view) holds the trends of the
  simulated 30-day history, built after the first view.

It also reports the CPU seconds used up to *page shown* by the server and its
kernel (``/proc``; earlier versions of this benchmark counted the server's
whole life through ``RUSAGE_CHILDREN``) and by Chromium (every process of the
browser, page loads only), and the load average before the run: on a shared
machine the wall times follow the load, the CPU seconds much less.

Target: the page shows within 10 s on the demo data.

Run from the repository root: ``python benchmarks/bench_dashboard.py [--runs 3]``;
``--against REF`` instead alternates runs of this tree with runs of git
revision REF (``--demo`` only), so that both meet the same load.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import _browser  # noqa: E402
from _common import machine, markdown_table  # noqa: E402
from tlanalytics.dashboard import free_port  # noqa: E402

READY = re.compile(r"Dashboard serving at (\S+)")
SHOWN = ("return Array.from(document.querySelectorAll('.widget-output img')).some(i => i.complete && "
         "i.naturalWidth > 0) && Array.from(document.querySelectorAll('.widget-html-content'))"
         ".some(e => / of [\\d,]+ sessions/.test(e.textContent))")


HISTORY = ("return !!document.querySelector('.tla-history-ready') && Array.from(document.querySelectorAll("
           "'.tla-history img')).some(i => i.complete && i.naturalWidth > 0)")
_TICK = os.sysconf("SC_CLK_TCK")


def _tree(pid):
    """``pid`` and its descendants (Linux ``/proc``)."""
    found, todo = [], [pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return found


def _cpu(pids):
    """CPU seconds (user + system) used so far by the processes ``pids`` (those still running)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def one_run(driver, extra, folder, root=ROOT):
    """Seconds from launch to URL printed, page shown and History filled; CPU seconds; load average.

    ``root`` is the source tree whose ``tlanalytics`` runs (``--against``: an older one).
    History filled is None when the page has no History tab.
    """
    from selenium.webdriver.support.ui import WebDriverWait

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
               MPLBACKEND="Agg")
    env.pop("TWELVELABS_API_KEY", None)
    out = Path(folder) / "stdout.txt"
    browser = driver.service.process.pid
    load = os.getloadavg()[0]
    with open(out, "w") as fh:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "tlanalytics", "dashboard", "--demo", "--port",
                                 str(free_port()), *extra], stdout=fh, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, env=env, cwd=root)
    try:
        while not READY.search(out.read_text()):
            if proc.poll() is not None or time.perf_counter() - start > 120:
                raise RuntimeError("the dashboard did not start")
            time.sleep(0.02)
        printed = time.perf_counter() - start
        before = _cpu(_tree(browser))
        driver.get(READY.search(out.read_text()).group(1))
        WebDriverWait(driver, 120, poll_frequency=0.05).until(lambda d: d.execute_script(SHOWN))
        shown = time.perf_counter() - start
        server_cpu, browser_cpu = _cpu(_tree(proc.pid)), _cpu(_tree(browser)) - before
        history = None
        if driver.execute_script("return !!document.querySelector('.tla-history')"):
            WebDriverWait(driver, 120, poll_frequency=0.05).until(lambda d: d.execute_script(HISTORY))
            history = time.perf_counter() - start
        driver.get("about:blank")  # leave the page: Voilà shuts its kernel down
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    return printed, shown, history, server_cpu, browser_cpu, load


def _median(values, digits=2):
    values = [v for v in values if v is not None]
    return f"{statistics.median(values):.{digits}f}" if values else "-"


def _row(label, runs):
    printed, shown, history, cpu, browser, load = zip(*runs)
    print(f"{label}: URL printed {printed}, page shown {shown}, History filled {history}, cpu {cpu}, "
          f"browser cpu {browser}, load {load}", file=sys.stderr)
    return (label, len(runs), _median(printed), _median(shown), f"{min(shown):.2f} / {max(shown):.2f}",
            _median(history), _median(cpu, 1), _median(browser, 1), f"{min(load):.1f}-{max(load):.1f}")


@contextlib.contextmanager
def _checkout(ref):
    """The source tree of git revision ``ref`` in a temporary folder (``git archive``; no worktree)."""
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as folder:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        yield Path(folder)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--against", metavar="REF",
                        help="also run the code of git revision REF, alternating with this tree run by run "
                             "(same load for both); --demo only")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder, _browser.chromium(Path(folder) / "profile", loopback=True) as d:
        if args.against:
            with _checkout(args.against) as old:
                pairs = [(one_run(d, [], folder, old), one_run(d, [], folder)) for _ in range(args.runs)]
            rows.append(_row(f"`--demo`, {args.against}", [p[0] for p in pairs]))
            rows.append(_row("`--demo`, this tree", [p[1] for p in pairs]))
        else:
            for label, extra in (("`--demo`", []), ("`--demo --with-progress`", ["--with-progress"])):
                rows.append(_row(label, [one_run(d, extra, folder) for _ in range(args.runs)]))
    print(machine())
    print(markdown_table(("command", "runs", "URL printed, median s", "page shown, median s", "min / max s",
                          "History filled, median s", "server + kernel CPU s", "browser CPU s", "load average"),
                         rows))


if __name__ == "__main__":
    main()
