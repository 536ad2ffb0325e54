"""The ``tlanalytics`` command line, run as a real subprocess against a simulator on loopback."""

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import requests

from tlanalytics.client import load_uploads
from tlanalytics.export import read_csv, read_parquet
from tlanalytics.metrics import summarize
from tlanalytics.simulator import Simulator, generate_uploads

from _data import frame_of
from _hostile import RecordingProxy

AS_OF = "2025-12-01T12:00:00Z"
N = 240
# A key that must never show up anywhere: stdout, stderr, files.
CANARY = "tlcanary_7f3a9c2e5b81d4406a1e"
ROOT = Path(__file__).resolve().parents[1]


def clean_env(**extra):
    """The environment without any key or base URL of the developer, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TWELVELABS_API_KEY", "TWELVE_LABS_API_KEY", "TWELVELABS_BASE_URL")}
    env.update(MPLBACKEND="Agg", PYTHONWARNINGS="", **extra)
    return env


def run(*args, env=None, cwd=None, timeout=60):
    """Run ``python -m tlanalytics ARGS``; the canary key never appears in its output."""
    proc = subprocess.run([sys.executable, "-m", "tlanalytics", *map(str, args)], capture_output=True, text=True,
                          env=env if env is not None else clean_env(TWELVELABS_API_KEY=CANARY), cwd=cwd,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    assert CANARY not in proc.stdout and CANARY not in proc.stderr
    return proc


def no_canary_in(folder):
    for path in Path(folder).rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path


def one_error_line(proc, code):
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tlanalytics: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def sessions():
    return generate_uploads(N, seed=11, now=AS_OF)


@pytest.fixture(scope="module")
def sim(sessions):
    with Simulator(sessions, api_key=CANARY) as sim:
        yield sim


@pytest.fixture(scope="module")
def frame(sessions):
    return frame_of(sessions, AS_OF)


@pytest.fixture(scope="module")
def progress_frame(sim):
    """What the CLI reads with progress: the listing, then the progress of open sessions only."""
    from tlanalytics.client import add_progress
    from tlanalytics.metrics import open_mask

    df = load_uploads(sim.api_key, base_url=sim.base_url, as_of=AS_OF, progress=False)
    return add_progress(df, only=open_mask(df), api_key=sim.api_key, base_url=sim.base_url, progress=False)


def remote(sim):
    """Options that read the test simulator through the ordinary, non-demo path."""
    return ["--base-url", sim.base_url, "--as-of", AS_OF, "--quiet"]


# --- help and usage -----------------------------------------------------------------

def test_help_lists_commands_and_exit_codes():
    proc = run("--help")
    assert proc.returncode == 0
    for word in ("fetch", "summary", "report", "check", "simulate", "TWELVELABS_API_KEY", "exit codes", "130"):
        assert word in proc.stdout
    assert run("--version").stdout.startswith("tlanalytics ")


@pytest.mark.parametrize("args", [["check", "--max-expiring", "-1"], ["fetch", "-o", "uploads.txt"], [],
                                  ["summary", "--as-of", "yesterday-ish"], ["summary", "--as-of", "9999-01-01"],
                                  ["summary", "--demo", "--base-url", "x"],
                                  ["summary", "--api-key", "x"]])
def test_usage_errors_are_one_line_and_exit_2(args, tmp_path):
    one_error_line(run(*args, cwd=tmp_path), 2)
    assert not list(tmp_path.iterdir())


def test_no_option_takes_the_key():
    import argparse

    from tlanalytics.cli import _parser

    parser = _parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) == {"fetch", "summary", "report", "check", "simulate", "dashboard", "snapshot", "history"}
    options = [o for p in [parser, *commands.values()] for a in p._actions for o in a.option_strings]
    assert "--base-url" in options and "--demo" in options
    assert not [o for o in options if re.search("key|token|secret|auth", o)]


# --- fetch -----------------------------------------------------------------------------

def read_back(path):
    if path.suffix == ".csv":
        return read_csv(path)
    if path.suffix == ".parquet":
        return read_parquet(path)
    return pd.read_json(path, lines=True)


@pytest.mark.parametrize("name", ["uploads.csv", "uploads.parquet", "uploads.JSONL"])
def test_fetch_writes_the_format_of_the_extension(sim, sessions, tmp_path, name):
    proc = run("fetch", "-o", tmp_path / name, *remote(sim))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"Wrote {N} sessions to {tmp_path / name}"
    assert proc.stderr == ""  # --quiet: nothing on stderr
    df = read_back(tmp_path / name)
    assert sorted(df["upload_id"]) == sorted(s["upload_id"] for s in sessions)
    assert int(df["total_size"].sum()) == sum(s["total_size"] for s in sessions)
    if name.endswith(".csv"):
        assert df.attrs["base_url"] == sim.base_url and df.attrs["as_of"] == pd.Timestamp(AS_OF)
    no_canary_in(tmp_path)


def _on_a_terminal(*args):
    """Run the CLI with stderr on a pseudo-terminal; return (exit code, what the terminal showed, stdout)."""
    import pty

    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal 100 columns wide
    try:
        proc = subprocess.Popen([sys.executable, "-m", "tlanalytics", *map(str, args)], stdout=subprocess.PIPE,
                                stderr=slave, stdin=subprocess.DEVNULL, env=clean_env(TWELVELABS_API_KEY=CANARY),
                                text=True)
        os.close(slave)
        slave = None
        shown = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        out = proc.communicate(timeout=60)[0]
    finally:
        os.close(master)
        if slave is not None:
            os.close(slave)
    return proc.returncode, shown.decode("utf-8", "replace"), out


def test_progress_bars_only_on_a_terminal_and_never_with_quiet(sim, tmp_path):
    code, shown, out = _on_a_terminal("fetch", "-o", tmp_path / "a.csv", "--base-url", sim.base_url)
    assert code == 0 and "Listing uploads" in shown and "Listing" not in out
    code, shown, _ = _on_a_terminal("fetch", "-o", tmp_path / "b.csv", "--base-url", sim.base_url, "--quiet")
    assert code == 0 and "Listing" not in shown
    code, shown, _ = _on_a_terminal("fetch", "-o", tmp_path / "c.csv", "--base-url", sim.base_url, "--no-progress")
    assert code == 0 and "Listing" not in shown  # the old name still works, hidden from --help
    proc = run("fetch", "-o", tmp_path / "d.csv", "--base-url", sim.base_url)  # stderr is a pipe: no bars
    assert proc.returncode == 0 and proc.stderr == ""
    help_text = run("fetch", "--help").stdout
    assert "--quiet" in help_text and "--no-progress" not in help_text


def test_fetch_to_a_missing_folder_is_a_file_error(sim, tmp_path):
    line = one_error_line(run("fetch", "-o", tmp_path / "nope" / "u.csv", *remote(sim)), 5)
    assert "nope" in line


def test_output_paths_are_checked_before_the_first_request(sim, tmp_path):
    (tmp_path / "taken.csv").mkdir()
    (tmp_path / "file").write_text("x")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    before = sim.requests
    cases = [(["fetch", "-o", tmp_path / "taken.csv"], "it is a folder"),
             (["fetch", "-o", tmp_path / "nope" / "u.csv"], "does not exist"),
             (["report", "-o", tmp_path / "file"], "it is a file, not a folder"),
             (["report", "-o", tmp_path / "file" / "deeper"], "is a file")]
    if os.geteuid() != 0:  # root may write anywhere
        cases.append((["report", "-o", locked / "out"], "permission denied"))
    for args, words in cases:
        line = one_error_line(run(*args, *remote(sim)), 5)
        assert words in line, line
    assert sim.requests == before  # nothing was asked of the API


def test_fetch_excel_and_plurals(sim, tmp_path):
    proc = run("fetch", "--excel", "-o", tmp_path / "x.csv", *remote(sim))
    assert proc.returncode == 0, proc.stderr
    raw = (tmp_path / "x.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"created_at (UTC)" in raw
    one_error_line(run("fetch", "--excel", "-o", tmp_path / "x.jsonl", *remote(sim)), 2)
    with Simulator(generate_uploads(1, seed=2, now=AS_OF), api_key=CANARY) as one:
        proc = run("fetch", "-o", tmp_path / "one.csv", "--base-url", one.base_url, "--quiet")
    assert proc.stdout.strip() == f"Wrote 1 session to {tmp_path / 'one.csv'}"


def test_simulate_help_describes_it():
    text = run("simulate", "--help").stdout
    assert "127.0.0.1" in text and "TWELVELABS_API_KEY" in text and "Ctrl+C" in text and "3,000" in text


# --- summary ----------------------------------------------------------------------------

def test_summary_json_matches_summarize(sim, frame):
    proc = run("summary", "--json", *remote(sim))
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    want = summarize(frame)
    for key in ("sessions", "total_bytes", "open", "failed", "past_expiry", "expiring_1h", "expiring_1h_bytes",
                "expiring_6h_bytes", "expiring_24h_bytes", "status_counts", "inconsistent_chunks"):
        assert got[key] == want[key], key
    assert got["expiring_1h"] > 0 and got["sessions"] == N
    assert got["median_age"] == want["median_age"].total_seconds()
    assert pd.Timestamp(got["as_of"]) == pd.Timestamp(AS_OF) and got["base_url"] == sim.base_url
    assert got["source"] == sim.base_url


def test_summary_table(sim, frame):
    proc = run("summary", *remote(sim))
    assert proc.returncode == 0, proc.stderr
    want = summarize(frame)
    rows = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in proc.stdout.strip().splitlines())
    assert rows["Sessions listed"].startswith(f"{N:,}, ")
    assert f"({want['total_bytes']:,} bytes)" in rows["Sessions listed"]
    assert rows["Open"].startswith(f"{want['open']:,} sessions")
    assert rows["Expiring within 1 h (open)"].startswith(f"{want['expiring_1h']:,} session")
    assert f"({want['expiring_24h_bytes']:,} bytes)" in rows["Expiring within 24 h (open)"]
    assert rows["Failed (status)"].startswith(f"{want['failed']:,} session")
    assert rows["Past expiry (any status)"].startswith(f"{want['past_expiry']:,}, of which")
    assert rows["Status expired"] == f"{want['status_counts']['expired']:,}"
    assert rows["As of"] == "2025-12-01 12:00 UTC" and rows["Source"] == sim.base_url


def test_summary_with_progress(sim, progress_frame):
    proc = run("summary", "--json", "--with-progress", *remote(sim))
    assert proc.returncode == 0, proc.stderr
    got, want = json.loads(proc.stdout), summarize(progress_frame)
    assert got["has_progress"] is True
    for key in ("uploaded_bytes", "bytes_to_upload", "stalled", "at_risk", "vanished", "attention"):
        assert got[key] == want[key], key
    assert got["stalled"] > 0


# --- report -----------------------------------------------------------------------------

def test_report_writes_csv_html_and_png(sim, tmp_path):
    out = tmp_path / "out" / "deeper"
    proc = run("report", "-o", out, *remote(sim), "--title", "Nightly <check>")
    assert proc.returncode == 0, proc.stderr
    names = ["uploads.csv", "uploads.csv.meta.json", "overview.png"]
    lines = proc.stdout.splitlines()
    assert lines[:-1] == [str(out / n) for n in names]
    url = (out / "report.html").resolve().as_uri()
    assert lines[-1].startswith(url + " ") and "need attention now" in lines[-1] and "at stake" in lines[-1]
    assert (out / "overview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "Nightly &lt;check&gt;" in html and sim.base_url in html
    assert len(read_csv(out / "uploads.csv")) == N
    no_canary_in(tmp_path)


def test_report_demo_needs_no_key(tmp_path):
    proc = run("report", "--demo", "--quiet", "--listing-only", "-o", tmp_path, env=clean_env())
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "3,000 upload sessions listed" in html and "Source: demo (built-in simulator)." in html
    assert "127.0.0.1" not in html  # not the simulator's ephemeral URL
    assert "Progress was not read" in html and "not read (listing only)" in html


def test_report_reads_progress_of_open_sessions_only(sim, progress_frame, tmp_path):
    from tlanalytics.metrics import open_mask

    before = sim.requests
    proc = run("report", "-o", tmp_path, *remote(sim))
    assert proc.returncode == 0, proc.stderr
    opened = int(open_mask(progress_frame).sum())
    assert 0 < opened < N and sim.requests - before == 5 + opened  # 5 listing pages of 50, one per open session
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert f"read for {opened:,} open sessions ({opened:,} requests)" in html


# --- check ---------------------------------------------------------------------------------

def expiring(frame, hours):
    left = frame["expires_at"] - pd.Timestamp(AS_OF)
    open_ = ~frame["status"].astype("object").isin(["completed", "failed", "expired"])
    return frame[open_ & (left > pd.Timedelta(0)) & (left <= pd.Timedelta(hours=hours))]


def check(sim, *options):
    proc = run("check", *options, *remote(sim))
    assert len(proc.stdout.splitlines()) == 1 and "Traceback" not in proc.stderr, (proc.stdout, proc.stderr)
    return proc.returncode, proc.stdout.strip()


def checks(sim, *option_lists):
    """``check`` with each list of options, run side by side; ``(code, line)`` for each."""
    with ThreadPoolExecutor(len(option_lists)) as pool:
        return list(pool.map(lambda options: check(sim, *options), option_lists))


def test_check_expiring_by_default_any_within_an_hour(sim, frame):
    n = len(expiring(frame, 1))
    assert n > 0
    n6 = len(expiring(frame, 6))
    assert n6 > n
    default, enough, six = checks(sim, [], ["--max-expiring", n], ["--max-expiring", n6 - 1, "--within", 6])
    assert default == (1, f"FAIL: {n} open sessions expiring within 1 h (--within 1), more than the 0 allowed by "
                          f"--max-expiring")
    assert enough == (0, f"OK: {n} open sessions expiring within 1 h (--within 1) (allowed: {n}, --max-expiring)")
    assert six == (1, f"FAIL: {n6} open sessions expiring within 6 h (--within 6), more than the {n6 - 1} allowed "
                      f"by --max-expiring")


def test_check_failed_sessions(sim, frame):
    failed = int((frame["status"].astype("object") == "failed").sum())
    assert failed > 0
    too_many, enough = checks(sim, ["--max-expiring", 10**6, "--max-failed", failed - 1],
                              ["--max-expiring", 10**6, "--max-failed", failed])
    assert too_many == (1, f"FAIL: {failed} failed sessions, more than the {failed - 1} allowed by --max-failed")
    assert enough[0] == 0 and enough[1].startswith("OK: ") and f"{failed} failed sessions (allowed: {failed}" in enough[1]


def test_check_stuck_bytes_without_progress_counts_expiring_sessions(sim, frame):
    size = int(expiring(frame, 6)["total_size"].sum())
    common = ["--max-expiring", 10**6, "--within", 6]
    (code, line), ok = checks(sim, [*common, "--max-stuck-bytes", size - 1], [*common, "--max-stuck-bytes", size])
    assert code == 1 and f"({size:,} bytes) in {len(expiring(frame, 6))} open sessions expiring within 6 h" in line
    assert "--max-stuck-bytes" in line
    assert ok[0] == 0 and line.startswith("FAIL: ")


def test_check_stuck_bytes_with_progress_counts_stalled_and_at_risk(sim, progress_frame):
    from tlanalytics.metrics import open_mask

    flagged = progress_frame["stalled"].fillna(False) | progress_frame["at_risk"].fillna(False)
    stuck = progress_frame[open_mask(progress_frame) & flagged]
    size = int(stuck["total_size"].sum())
    assert size > 0
    common = ["--max-expiring", 10**6, "--with-progress"]
    (code, line), ok = checks(sim, [*common, "--max-stuck-bytes", size - 1],
                              [*common, "--max-stuck-bytes", f"{size / 2**30 + 0.01:.2f}GiB"])
    assert code == 1 and f"({size:,} bytes) in {len(stuck)} stalled or at-risk open sessions" in line
    assert ok[0] == 0, ok


# --- errors, keys and logs ---------------------------------------------------------------------

def test_missing_key_says_what_to_do():
    line = one_error_line(run("summary", env=clean_env()), 3)
    assert "TWELVELABS_API_KEY" in line and "`tlanalytics summary --demo`" in line
    line = one_error_line(run("fetch", "-o", "u.csv", env=clean_env()), 3)
    assert "`tlanalytics fetch --demo -o uploads.csv`" in line  # works when pasted


def test_plain_http_to_another_host_is_refused_before_connecting():
    proxy = RecordingProxy(secret=CANARY)  # a request to example.com would have to go through it
    proxies = {var: proxy.url for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")}
    try:
        env = {k: v for k, v in clean_env(TWELVELABS_API_KEY=CANARY, **proxies).items() if k.lower() != "no_proxy"}
        line = one_error_line(run("summary", "--base-url", "http://example.com/v1.3", env=env), 3)
    finally:
        proxy.stop()
    assert "plain http" in line and "loopback" in line
    assert proxy.contacts == 0


def test_rejected_key_is_an_api_error(sim):
    env = clean_env(TWELVELABS_API_KEY="tl_wrong_key_123")
    line = one_error_line(run("summary", *remote(sim), env=env), 4)
    assert "403" in line and "tl_wrong_key_123" not in line


def test_debug_shows_the_traceback_and_logs_but_never_the_key(sim):
    proc = run("summary", "--debug", "--base-url", "http://example.com/v1.3")
    assert proc.returncode == 3
    assert "Traceback (most recent call last)" in proc.stderr and "InsecureTransportError" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("tlanalytics: error: ")
    proc = run("summary", "--debug", "--with-progress", *remote(sim))
    assert proc.returncode == 0
    assert "DEBUG" in proc.stderr and "/v1.3/assets/multipart-uploads" in proc.stderr  # real logs, no key in them


def test_report_defaults_to_a_folder_here_and_the_key_never_reaches_files_even_with_debug(sim, tmp_path):
    proc = run("report", "--debug", "--with-progress", *remote(sim), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "DEBUG" in proc.stderr
    assert (tmp_path / "tlanalytics-report" / "report.html").is_file()
    assert proc.stdout.splitlines()[-1].startswith((tmp_path / "tlanalytics-report" / "report.html").resolve().as_uri())
    assert "Stalled" in (tmp_path / "tlanalytics-report" / "report.html").read_text(encoding="utf-8")
    no_canary_in(tmp_path)


def test_warnings_are_one_line_on_stderr(tmp_path):
    with Simulator(generate_uploads(120, seed=4), churn=3, api_key=CANARY) as busy:
        proc = run("fetch", "-o", tmp_path / "u.csv", "--base-url", busy.base_url, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tlanalytics: warning: The listing kept changing"), lines


def test_interrupt_exits_130(tmp_path):
    with Simulator(generate_uploads(120, seed=2), latency=0.5, api_key=CANARY) as slow:
        proc = subprocess.Popen([sys.executable, "-m", "tlanalytics", "fetch", "-o", tmp_path / "u.csv",
                                 "--base-url", slow.base_url, "--no-progress"], env=clean_env(TWELVELABS_API_KEY=CANARY),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while slow.requests == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "tlanalytics: interrupted"
    assert not (tmp_path / "u.csv").exists()


# --- simulate ------------------------------------------------------------------------------------

def test_simulate_serves_on_a_free_port_until_terminated():
    proc = subprocess.Popen([sys.executable, "-m", "tlanalytics", "simulate", "--port", "0", "--uploads", "25",
                             "--seed", "3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=clean_env(TWELVELABS_API_KEY=CANARY))
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        seen = []
        while not any("Press Ctrl+C" in line for line in seen):
            seen.append(lines.get(timeout=30))
        text = "".join(seen)
        base_url = re.search(r"TWELVELABS_BASE_URL=(\S+)", text).group(1)
        key = re.search(r"TWELVELABS_API_KEY=(\S+)", text).group(1)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1\.3", base_url) and not base_url.endswith(":0/v1.3")
        assert key != CANARY
        body = requests.get(base_url + "/assets/multipart-uploads", headers={"x-api-key": key},
                            params={"page_limit": 50}, timeout=10).json()
        assert body["page_info"]["total_results"] == 25
        assert body["data"][0]["upload_id"] == generate_uploads(25, seed=3)[0]["upload_id"]
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert proc.returncode == 0  # SIGTERM stops it like Ctrl+C
    assert CANARY not in proc.stderr.read()


def test_simulate_port_in_use_is_a_configuration_error(sim):
    line = one_error_line(run("simulate", "--port", sim.port, "--uploads", "1"), 3)
    assert str(sim.port) in line


# --- python -m and main() ------------------------------------------------------------------------

def test_main_returns_exit_codes_in_process(capsys):
    from tlanalytics.cli import main

    assert main(["--version"]) == 0
    assert main(["check", "--within", "0"]) == 2
    assert "--within" in capsys.readouterr().err


def test_errors_name_flags_not_python_parameters():
    line = one_error_line(run("summary", "--base-url", "ftp://example.com/v1.3"), 3)
    assert "--base-url" in line and "`base_url`" not in line
    line = one_error_line(run("summary", "--base-url", "http://127.0.0.1:9/v1.3", "--quiet", "--retries", "0"), 4)
    assert "after 1 attempt " in line  # --retries 0: the first failure is the last
    assert "--base-url" in line and "`base_url`" not in line and "or raise --retries." in line
    assert "max_retries" not in line and "`timeout`" not in line  # no flag sets the timeout: not named


def test_defaults_are_the_clients_and_the_dashboards():
    import inspect

    from tlanalytics import dashboard
    from tlanalytics.cli import _parser
    from tlanalytics.client import UploadsClient

    args = _parser().parse_args(["summary"])
    params = inspect.signature(UploadsClient).parameters
    settings = dashboard.DashboardSettings()
    assert args.workers == params["max_workers"].default == settings.workers == 32
    assert args.retries == params["max_retries"].default == settings.retries == 5


def test_retries_is_how_often_a_failed_request_is_tried_again(tmp_path):
    with Simulator(generate_uploads(30, seed=1), api_key=CANARY) as sim:
        sim.inject("500", 2, path="multipart-uploads")
        line = one_error_line(run("summary", "--base-url", sim.base_url, "--quiet", "--retries", "1"), 4)
        assert "after 2 attempts" in line and "500" in line and "or raise --retries." in line
        assert sim.requests == 2
        sim.inject("500", 2, path="multipart-uploads")
        proc = run("fetch", "-o", tmp_path / "u.csv", "--base-url", sim.base_url, "--quiet", "--retries", "2")
        assert proc.returncode == 0, proc.stderr
        assert sim.requests == 2 + 3  # two failures, then the page
    assert len(read_csv(tmp_path / "u.csv")) == 30
    for bad in ("-1", "x", "1.5"):
        assert "--retries" in one_error_line(run("summary", "--demo", "--retries", bad), 2)
