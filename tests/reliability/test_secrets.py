"""A canary key through every entry point: it must never appear in anything tlanalytics produces.

The canary (``tlk_CANARY_`` + random hex, with ``+/=`` so that its encoded
forms differ) is the simulator's key and sits in the environment. Every
string and byte the package produces is collected into a :class:`Haystack`
and searched for the canary and for a wrong canary used to provoke errors:
raw, URL-encoded, JSON- and HTML-escaped, hex, base64 (standard and URL-safe,
at every byte alignment, and inside any base64 blob), and the random part
alone. Sources: frames and attrs, UploadsClient repr/str, exceptions (str,
repr, args, attributes, formatted tracebacks with their causes) for every
error path, warnings, DEBUG logs of tlanalytics, urllib3 and requests,
progress bars, the CLI with ``--debug`` (stdout, stderr, every file it
writes), exported CSV/sidecar/Parquet/JSONL/HTML files, the explorer widget
(its state, static fallback, error area and export link) and an executed
notebook. A server that echoes the key back in its error bodies is included.

Plain http to anything but loopback is refused with InsecureTransportError
before any connection: proven with a session whose adapter fails the test
when ``send`` is called.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import logging
import math
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import traceback
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, quote_plus

import pandas as pd
import pytest
import requests
from requests.adapters import HTTPAdapter

from tlanalytics.client import UploadsClient, add_progress, load_chunks, load_uploads
from tlanalytics.errors import (APIError, AuthenticationError, BadRequestError, InsecureTransportError,
                                InvalidArgumentError, NotFoundError, RateLimitError, ResponseFormatError,
                                ServerError, TLAnalyticsError, TransportError)
from tlanalytics.export import to_csv, to_jsonl, to_parquet
from tlanalytics.simulator import Simulator, generate_uploads

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-01-15T12:00:00Z"
KEY_VARS = ("TWELVELABS_API_KEY", "TWELVE_LABS_API_KEY", "TWELVELABS_BASE_URL")
FAST = dict(progress=False, backoff=0.001, backoff_max=0.01, max_retry_after=0.01, timeout=(2, 0.3))


def _canary():
    return f"tlk_CANARY_{secrets.token_hex(12)}+/={secrets.token_hex(4)}"


CANARY = _canary()
WRONG = _canary()  # a key the server rejects: what a user with a stale key would pass


# --- the search -------------------------------------------------------------------------------------

def _b64_needles(raw):
    """Base64 runs that encode ``raw`` wherever it sits in a longer blob (three byte alignments, two alphabets)."""
    out = set()
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + raw)
        start, end = 4 * math.ceil(k / 3), 4 * ((k + len(raw)) // 3)
        chunk = enc[start:end].decode()
        out |= {chunk, chunk.replace("+", "-").replace("/", "_")}
    return out


def needles(secret):
    """Every form of ``secret`` to look for: (case-insensitive forms, case-sensitive base64 forms)."""
    random_part = max(re.findall(r"[0-9a-f]{16,}", secret), key=len)  # a partial or masked copy still shows it
    plain = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret), html.escape(secret),
             json.dumps(secret)[1:-1], secret.encode().hex(), random_part, repr(secret)[1:-1]}
    return {n.lower() for n in plain}, _b64_needles(secret.encode())


_B64_BLOB = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")


class Haystack:
    """Everything produced, by label; :meth:`leaks` searches it for secrets."""

    def __init__(self):
        self.items = []

    def add(self, label, value):
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode("utf-8", errors="backslashreplace")
        elif not isinstance(value, str):
            value = repr(value)
        self.items.append((label, value))

    def add_exception(self, label, exc):
        self.add(label + ": str", str(exc))
        self.add(label + ": repr", repr(exc))
        self.add(label + ": args", repr(exc.args))
        self.add(label + ": attributes", repr(vars(exc)))
        self.add(label + ": traceback", "".join(traceback.format_exception(exc)))  # causes and contexts too

    def add_tree(self, label, folder):
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                self.add(f"{label}: {path.relative_to(folder)}", path.read_bytes())

    @property
    def size(self):
        return sum(len(v) for _, v in self.items)

    def leaks(self, *secret_values):
        found = []
        forms = [needles(s) for s in secret_values]
        for label, text in self.items:
            texts = [text]
            for blob in _B64_BLOB.findall(text):  # base64 inside base64 (data: URIs of exported files...)
                try:
                    texts.append(base64.b64decode(blob + "=" * (-len(blob) % 4), altchars=b"-_" if "-" in blob
                                                  or "_" in blob else None).decode("utf-8", "backslashreplace"))
                except ValueError:
                    pass
            for t in texts:
                low = t.lower()
                for plain, b64 in forms:
                    hit = next((n for n in plain if n in low), None) or next((n for n in b64 if n in t), None)
                    if hit:
                        found.append((label, hit, t[max(0, t.lower().find(hit.lower()) - 60):][:160]))
        return found


@pytest.fixture(scope="module")
def secret_counts(reliability_stats):
    counts = reliability_stats.setdefault("secrets", {"checks": 0, "strings_scanned": 0, "bytes_scanned": 0,
                                                      "secrets_found": 0})
    yield counts


@pytest.fixture
def hay(secret_counts, request):
    """A Haystack the test fills and ends with ``hay.check()``: no form of either canary anywhere."""
    h = Haystack()

    def check():
        found = h.leaks(CANARY, WRONG)
        secret_counts["checks"] += 1
        secret_counts["strings_scanned"] += len(h.items)
        secret_counts["bytes_scanned"] += h.size
        secret_counts["secrets_found"] += len(found)
        h.checked = True
        assert h.items, "nothing was collected: the test checked nothing"
        assert not found, "the key leaked:\n" + "\n".join(f"  {label}: {hit!r} in ...{ctx!r}"
                                                          for label, hit, ctx in found[:12])

    h.check, h.checked = check, False
    yield h
    rep = getattr(request.node, "rep_call", None)
    if not h.checked and rep is not None and rep.passed:
        pytest.fail("the test collected output but never called hay.check()")


@pytest.fixture
def env_key(monkeypatch):
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TWELVELABS_API_KEY", CANARY)


@pytest.fixture
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("tlanalytics", "urllib3", "requests"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _add_logs(hay, caplog, capsys=None):
    for record in caplog.records:
        hay.add(f"log {record.name}", record.getMessage())
        hay.add(f"log {record.name} args", repr(record.args))
        if record.exc_info:
            hay.add(f"log {record.name} exc", "".join(traceback.format_exception(*record.exc_info)))
    hay.add("log text", caplog.text)
    if capsys is not None:
        out, err = capsys.readouterr()
        hay.add("stdout", out)
        hay.add("stderr", err)


def _add_frame(hay, label, df):
    hay.add(label, df.to_string())
    hay.add(label + " json", df.to_json(date_format="iso", default_handler=str))
    hay.add(label + " attrs", repr(df.attrs))


def test_the_search_finds_every_form():
    """The scanner must be able to fail: each encoded form hidden in junk is found; clean text is not."""
    plain, b64 = needles(CANARY)
    for k in range(3):
        blob = base64.b64encode(os.urandom(7 + k) + CANARY.encode() + os.urandom(5)).decode()
        h = Haystack()
        h.add("b64", "data:text/csv;base64," + blob)
        assert h.leaks(CANARY), k
        h = Haystack()
        h.add("b64 url-safe", "x" + blob.replace("+", "-").replace("/", "_") + "y")
        assert h.leaks(CANARY), k
    for form in (CANARY, quote(CANARY, safe=""), quote(CANARY, safe="").lower(), quote_plus(CANARY),
                 json.dumps({"k": CANARY}), CANARY.encode().hex(), CANARY.split("_")[2][:24], repr(CANARY.encode())):
        h = Haystack()
        h.add("form", "prefix " + form + " suffix")
        assert h.leaks(CANARY), form
    h = Haystack()
    h.add("clean", "tlk_CANARY_ nothing here " + base64.b64encode(os.urandom(300)).decode() + WRONG)
    assert not h.leaks(CANARY)
    assert len(plain) >= 5 and len(b64) >= 3


# --- the loader, progress and chunks --------------------------------------------------------------------

@pytest.fixture(scope="module")
def busy_sim():
    """The canary's account: faults and a listing that keeps changing (retries logged, a warning raised)."""
    sim = Simulator(generate_uploads(40, seed=21, now=NOW), api_key=CANARY, faults=0.15,
                    fault_kinds=("500", "429", "drop", "nonjson", "truncate"), churn=1, seed=21).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def calm_sim():
    sim = Simulator(generate_uploads(60, seed=22, now=NOW), api_key=CANARY, seed=22).start()
    yield sim
    sim.stop()


def test_loads_warnings_logs_and_progress_bars(busy_sim, calm_sim, env_key, debug_logs, capsys, hay):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = load_uploads(CANARY, base_url=busy_sim.base_url, page_limit=20, max_retries=10, with_progress=True,
                          progress=True, as_of=NOW)
        env_df = load_uploads(base_url=calm_sim.base_url, progress=True)  # the key from the environment
        client = UploadsClient(base_url=calm_sim.base_url, progress=True)
        pages = list(client.iter_pages())
        chunks = client.load_chunks(env_df["upload_id"].iloc[0])
        enriched = add_progress(env_df, client=client)
        enriched2 = add_progress(env_df, api_key=CANARY, base_url=calm_sim.base_url, progress=True)
        chunks2 = load_chunks(env_df["upload_id"].iloc[1], api_key=CANARY, base_url=calm_sim.base_url)
        for thing in (client, f"{client}", f"{client!r}", format(client, ""), client.concurrency):
            hay.add("client", thing)
        client.close()
    assert df.attrs["retries"] > 0 and any("InconsistentListing" in w.category.__name__ for w in caught)
    for w in caught:
        hay.add(f"warning {w.category.__name__}", f"{w.message} {w.filename}:{w.lineno} {w.message.args!r}")
    for label, frame in (("load", df), ("env load", env_df), ("chunks", chunks), ("progress", enriched),
                         ("progress2", enriched2), ("chunks2", chunks2)):
        _add_frame(hay, label, frame)
    hay.add("pages", json.dumps(pages))
    _add_logs(hay, debug_logs, capsys)
    assert any("retrying" in r.getMessage() for r in debug_logs.records)  # the DEBUG path really ran
    assert any(r.name.startswith("urllib3") for r in debug_logs.records)
    hay.check()


def _expect(hay, label, error_cls, func, *args, **kwargs):
    with pytest.raises(error_cls) as info:
        func(*args, **kwargs)
    assert isinstance(info.value, TLAnalyticsError)
    hay.add_exception(label, info.value)
    return info.value


EXHAUSTED = {"500": (ServerError,), "429": (RateLimitError,), "429-no-retry-after": (RateLimitError,),
             "drop": (TransportError,), "slow": (TransportError,), "nonjson": (ResponseFormatError,),
             "truncate": (TransportError, ResponseFormatError)}


@pytest.mark.parametrize("kind", sorted(EXHAUSTED))
def test_every_exhausted_retry_error(kind, env_key, debug_logs, hay):
    errors = EXHAUSTED[kind]
    with Simulator(generate_uploads(30, seed=3, now=NOW), api_key=CANARY, slow_seconds=0.4) as sim:
        df = pd.DataFrame({"upload_id": pd.array([sim.initial_ids[0]], dtype="string")})
        for call in ("load", "add_progress", "load_chunks"):
            sim.inject(kind, 3)  # every attempt of the one request: max_retries=2
            with UploadsClient(CANARY, base_url=sim.base_url, max_retries=2, **FAST) as client:
                func, args = {"load": (client.load, ()), "add_progress": (client.add_progress, (df,)),
                              "load_chunks": (client.load_chunks, (sim.initial_ids[0],))}[call]
                exc = _expect(hay, f"{kind} {call}", errors, func, *args)
            assert exc.url and "multipart-uploads" in exc.url and exc.url.startswith(sim.base_url)
    _add_logs(hay, debug_logs)
    hay.check()


def test_rejected_and_missing_keys_and_sessions(calm_sim, env_key, debug_logs, hay):
    for func, args in ((load_uploads, ()), (add_progress, (pd.DataFrame({"upload_id": ["a"]}),)),
                       (load_chunks, ("a",))):
        kwargs = dict(api_key=WRONG, base_url=calm_sim.base_url, progress=False)
        if func is load_uploads:
            exc = _expect(hay, "403 load", AuthenticationError, func, *args, **kwargs)
        else:
            exc = _expect(hay, f"403 {func.__name__}", AuthenticationError, func, *args, **kwargs)
        assert exc.status == 403
    _expect(hay, "404 chunks", NotFoundError, load_chunks, "no-such-upload", api_key=CANARY,
            base_url=calm_sim.base_url, progress=False)
    _expect(hay, "404 endpoint", NotFoundError, load_uploads, CANARY, base_url=calm_sim.base_url + "/v9",
            progress=False)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _expect(hay, "refused", TransportError, load_uploads, CANARY, base_url=f"http://127.0.0.1:{port}/v1.3",
            progress=False, max_retries=1)
    _add_logs(hay, debug_logs)
    hay.check()


@pytest.mark.parametrize("bad", [CANARY + " x", CANARY + "\n" + "x", CANARY + "\u00e9", CANARY.encode(),
                                 CANARY + "\x00", " ".join([CANARY, CANARY])],
                         ids=["space", "newline", "non-ascii", "bytes", "nul", "two-keys"])  # ids never hold the key
def test_unusable_keys_are_refused_without_echo(bad, hay):
    _expect(hay, "bad key", InvalidArgumentError, UploadsClient, bad, base_url="https://api.twelvelabs.io/v1.3")
    hay.check()


@pytest.mark.parametrize("url", [f"http://user:{quote(CANARY, safe='')}@127.0.0.1:9/v1.3",
                                 f"https://{quote(CANARY, safe='')}@api.twelvelabs.io/v1.3",
                                 f"https://api.twelvelabs.io/v1.3?key={quote(CANARY, safe='')}",
                                 f"https://api.twelvelabs.io/v1.3#{CANARY}", CANARY, f"ftp://{CANARY}/"],
                         ids=["userinfo-loopback", "userinfo", "query", "fragment", "bare-key", "ftp"])
def test_a_key_in_the_wrong_place_is_not_echoed(url, hay):
    """Credentials or the key pasted into base_url (or the two arguments swapped) must not be echoed back."""
    _expect(hay, "key in base_url", InvalidArgumentError, UploadsClient, CANARY, base_url=url, progress=False)
    hay.check()


class EchoServer:
    """A loopback server that answers every request with ``status`` and echoes the key it was sent everywhere."""

    def __init__(self, status):
        outer = self
        self.status = status

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                key = self.headers.get("x-api-key", "")
                if outer.status == 200:
                    raw = f"<html>proxy error for {key}</html>".encode()
                else:
                    raw = json.dumps({"code": f"api_key_invalid:{key}", "message": f"The key {key} is not valid.",
                                      "docs_url": f"https://docs.example/{key}"}).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json" if outer.status != 200 else "text/html")
                self.send_header("Content-Length", str(len(raw)))
                self.send_header("X-Echo", key)
                if outer.status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1.3"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("status,error", [(400, BadRequestError), (401, AuthenticationError),
                                          (403, AuthenticationError), (404, NotFoundError), (429, RateLimitError),
                                          (500, ServerError), (503, ServerError), (418, APIError),
                                          (200, ResponseFormatError)])
def test_a_server_echoing_the_key_in_its_error_bodies(status, error, debug_logs, hay):
    server = EchoServer(status)
    try:
        for func, args in ((load_uploads, ()), (load_chunks, ("u1",)),
                           (add_progress, (pd.DataFrame({"upload_id": ["u1"]}),))):
            kwargs = dict(api_key=CANARY, base_url=server.base_url, progress=False, max_retries=1)
            if func is not load_uploads:
                kwargs.update(backoff=0.001, max_retry_after=0.01)
            exc = _expect(hay, f"echo {status} {func.__name__}", error, func, *args, **kwargs)
            assert exc.status == status
    finally:
        server.close()
    _add_logs(hay, debug_logs)
    hay.check()


# --- files -------------------------------------------------------------------------------------------------------

def test_exported_files_and_the_report(calm_sim, env_key, tmp_path, hay):
    from tlanalytics.reporting import report, summarize

    df = load_uploads(CANARY, base_url=calm_sim.base_url, progress=False, with_progress=True)
    df.attrs.update(api_key=CANARY, token=CANARY, secret_key=CANARY)  # a careless caller; documented to be dropped
    to_csv(df, tmp_path / "u.csv")
    to_csv(df, tmp_path / "excel.csv", excel=True)
    to_parquet(df, tmp_path / "u.parquet")
    to_jsonl(df, tmp_path / "u.jsonl")
    report(df, tmp_path / "report.html", title="Uploads")
    hay.add("summarize", summarize(df))
    hay.add_tree("files", tmp_path)
    assert len(list(tmp_path.iterdir())) == 7
    hay.check()


# --- the CLI ---------------------------------------------------------------------------------------------------

def _cli_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    env.update(MPLBACKEND="Agg", PYTHONWARNINGS="", **extra)
    return env


@pytest.fixture(scope="module")
def cli_sims():
    """A noisy account (500s, dropped connections, a listing that never settles) and a calm one."""
    noisy = Simulator(generate_uploads(90, seed=23, now=NOW), api_key=CANARY, faults=0.1, fault_kinds=("500", "drop"),
                      seed=23).start()
    churning = Simulator(generate_uploads(90, seed=25, now=NOW), api_key=CANARY, churn=3, seed=25).start()
    calm = Simulator(generate_uploads(40, seed=24, now=NOW), api_key=CANARY, seed=24).start()
    yield noisy, churning, calm
    for sim in (noisy, churning, calm):
        sim.stop()


def test_the_cli_with_debug(cli_sims, tmp_path, hay):
    """Every command with --debug, run concurrently as real subprocesses: stdout, stderr and every file."""
    noisy_sim, churning_sim, calm_sim = cli_sims
    noisy = _cli_env(TWELVELABS_API_KEY=CANARY, TWELVELABS_BASE_URL=noisy_sim.base_url)
    good = _cli_env(TWELVELABS_API_KEY=CANARY, TWELVELABS_BASE_URL=calm_sim.base_url)
    runs = {
        "fetch_csv": (["fetch", "-o", "u.csv"], _cli_env(TWELVELABS_API_KEY=CANARY,
                                                         TWELVELABS_BASE_URL=churning_sim.base_url), 0),
        "fetch_jsonl": (["fetch", "-o", "u.jsonl", "--with-progress"], good, 0),
        "summary_json": (["summary", "--json"], noisy, 0),
        "report": (["report", "-o", "rep", "--with-progress"], good, 0),
        "check": (["check", "--max-expiring", "100000"], good, 0),
        "wrong_key": (["summary"], _cli_env(TWELVE_LABS_API_KEY=WRONG, TWELVELABS_BASE_URL=calm_sim.base_url), 4),
        "insecure": (["fetch", "-o", "x.csv"], _cli_env(TWELVELABS_API_KEY=CANARY,
                                                         TWELVELABS_BASE_URL="http://example.com/v1.3"), 3),
        "key_in_url": (["summary", "--base-url", f"http://u:{quote(CANARY, safe='')}@127.0.0.1:9/v1.3"],
                       _cli_env(TWELVELABS_API_KEY=WRONG), 3),
        "demo": (["summary", "--demo", "--json"], good, 0),
    }
    procs = {}
    for name, (args, env, _) in runs.items():
        cwd = tmp_path / name
        cwd.mkdir()
        procs[name] = subprocess.Popen([sys.executable, "-m", "tlanalytics", *args, "--debug"], cwd=cwd, env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=150)
        hay.add(f"cli {name} stdout", out)
        hay.add(f"cli {name} stderr", err)
        assert proc.returncode == runs[name][2], f"{name}: exit {proc.returncode}\n{err.decode()[-2000:]}"
        if name != "demo":
            assert b"DEBUG" in err or proc.returncode == 3, name  # --debug really logged
    hay.add_tree("cli files", tmp_path)
    assert b"warning: The listing kept changing" in b"".join(v.encode() for k, v in hay.items if "fetch_csv" in k)
    assert (tmp_path / "report" / "rep" / "report.html").is_file() and (tmp_path / "fetch_jsonl" / "u.jsonl").is_file()
    hay.check()


# --- the widget ----------------------------------------------------------------------------------------------------

def _widget_texts(widget):
    """The state of every widget in the tree (Output widgets' outputs included), as text."""
    import ipywidgets as w

    seen, stack, texts = set(), [widget], []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        texts.append(json.dumps(node.get_state(), default=str))
        if isinstance(node, w.Output):
            texts.append(json.dumps(node.outputs, default=str))
        stack.extend(getattr(node, "children", ()) or ())
    return texts


def _buttons(widget, description):
    import ipywidgets as w

    found, stack = [], [widget]
    while stack:
        node = stack.pop()
        if isinstance(node, w.Button) and node.description == description:
            found.append(node)
        stack.extend(getattr(node, "children", ()) or ())
    return found


def test_the_explorer_widget_its_fallback_errors_and_export(env_key, debug_logs, tmp_path, hay):
    from tlanalytics.widgets import Explorer

    with Simulator(generate_uploads(50, seed=5, now=NOW), api_key=CANARY) as sim:
        loader = functools.partial(load_uploads, CANARY, base_url=sim.base_url, progress=False, with_progress=True)
        explorer = Explorer(loader, export_dir=tmp_path / "exports")
        explorer.export()
        failing = {"now": False}

        def flaky():
            """A user's loader (key only in the environment) that fails with the key in its message."""
            if failing["now"]:
                raise RuntimeError(f"could not load with {CANARY}")
            return loader()

        rotten = Explorer(flaky)
        failing["now"] = True
        _buttons(rotten.widget, "Refresh")[0].click()
        sim.api_key = "tlk_rotated_" + secrets.token_hex(8)  # the canary is now rejected: refresh fails
        _buttons(explorer.widget, "Refresh")[0].click()
        client = UploadsClient(WRONG, base_url=sim.base_url, progress=False)
        try:
            Explorer(client)  # the first load fails in the constructor, as a typed error
        except AuthenticationError as exc:
            hay.add_exception("explorer constructor", exc)
        else:
            pytest.fail("an Explorer was built with a rejected key")
        client.close()
    texts = _widget_texts(explorer.widget) + _widget_texts(rotten.widget)
    assert any("AuthenticationError" in t for t in texts), "the refresh error was not shown"
    assert any("RuntimeError" in t for t in texts)
    for i, text in enumerate(texts):
        hay.add(f"widget state {i}", text)
    for ex in (explorer, rotten):
        hay.add("explorer repr", repr(ex))
        hay.add("explorer bundle", json.dumps(ex._repr_mimebundle_(), default=str))
        hay.add("explorer summary", ex.summary)
    hay.add_tree("widget exports", tmp_path)
    _add_logs(hay, debug_logs)
    hay.check()


# --- the notebook ---------------------------------------------------------------------------------------------------

def test_the_walkthrough_notebook_in_demo_mode_never_shows_the_simulator_key(walkthrough_demo, hay):
    """The notebook uses the API when TWELVELABS_API_KEY is set, so the canary stays out of its environment:
    it runs in demo mode (the ``walkthrough_demo`` fixture of tests/conftest.py, shared with
    tests/test_notebooks.py), and the key of its demo simulator (read back through an extra cell that
    writes it to a file, removed before the search) must not appear in any output or file it wrote."""
    import nbformat

    source = (ROOT / "notebooks" / "explore_uploads.ipynb").read_text(encoding="utf-8")
    assert "demo = tla.Simulator()" in source and "TWELVELABS_API_KEY" in source  # the demo branch this relies on
    nb, key = walkthrough_demo.nb, walkthrough_demo.key
    assert re.fullmatch(r"tlsim_[0-9a-f]{32}", key)
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert ".demo_key" not in walkthrough_demo.files and walkthrough_demo.files  # the files it wrote, not ours
    text = json.dumps(nbformat.from_dict(nb))
    h = Haystack()
    h.add("notebook", text)
    for name, data in walkthrough_demo.files.items():
        h.add(f"notebook files: {name}", data)
    found = h.leaks(key)
    assert not found, found
    assert "sessions from the demo simulator" in text  # it really ran the demo branch
    hay.add("notebook", text)  # the canaries are absent too
    for name, data in walkthrough_demo.files.items():
        hay.add(f"notebook files: {name}", data)
    hay.check()


# --- plain http to anything but loopback ------------------------------------------------------------------------------

class Tripwire(HTTPAdapter):
    """A real HTTPAdapter that fails the test the moment anything tries to send through it."""

    sent = []

    def send(self, request, **kwargs):
        Tripwire.sent.append(request.url)
        pytest.fail(f"a connection was attempted: {request.method} {request.url}")


def _tripwired_session():
    session = requests.Session()
    session.mount("http://", Tripwire())
    session.mount("https://", Tripwire())
    return session


def test_the_tripwire_fires_when_a_request_is_sent():
    session = _tripwired_session()
    with pytest.raises(pytest.fail.Exception, match="connection was attempted"):
        load_uploads(CANARY, base_url="https://api.twelvelabs.invalid/v1.3", session=session, progress=False)
    assert Tripwire.sent == ["https://api.twelvelabs.invalid/v1.3/assets/multipart-uploads?page=1&page_limit=50"]
    Tripwire.sent.clear()


REMOTE_PLAIN_HTTP = [
    "http://example.com/v1.3", "HTTP://EXAMPLE.COM/v1.3", " http://example.com:80/v1.3 ", "http://10.0.0.1/v1.3",
    "http://8.8.8.8/", "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0:8765/v1.3",
    "http://127.0.0.1.nip.io/v1.3", "http://localhost.evil.example/v1.3", "http://127.0.0.1.evil.example/",
    "http://[::ffff:8.8.8.8]/", "http://[2001:db8::1]/v1.3", "http://[::ffff:7f00:1].evil.example/",
    "http://localhost%2e.evil.example/", "http://127.0.0.1%40evil.example/",
    # userinfo tricks: the host is what follows the last "@"
    "http://127.0.0.1@evil.example/", "http://127.0.0.1:8765@evil.example/v1.3", "http://localhost@evil.example/",
    "http://[::1]@evil.example/", "http://user:pw@127.0.0.1@evil.example/",
]
OTHER_TRICKS = [
    "http://evil.example#@127.0.0.1/", "http://evil.example?@127.0.0.1/", "http://evil.example\\@127.0.0.1/",
    "http:\\\\evil.example/v1.3", "//evil.example/v1.3", "http:/evil.example/v1.3", "ws://127.0.0.1/",
    "file:///etc/passwd", "http://", "http://:80/", "http://evil.example:99999/", "http://[::1", "http://[zz]/",
    "https://[::1/v1.3",
]


def _refused(url, error, monkeypatch):
    session = _tripwired_session()
    df = pd.DataFrame({"upload_id": pd.array(["u1"], dtype="string")})
    attempts = [
        lambda: load_uploads(CANARY, base_url=url, session=session, progress=False),
        lambda: UploadsClient(CANARY, base_url=url, session=session),
        lambda: add_progress(df, api_key=CANARY, base_url=url, session=session, progress=False),
        lambda: load_chunks("u1", api_key=CANARY, base_url=url, session=session, progress=False),
    ]
    errors = []
    for attempt in attempts:
        with pytest.raises(error) as info:
            attempt()
        errors.append(info.value)
    monkeypatch.setenv("TWELVELABS_API_KEY", CANARY)
    monkeypatch.setenv("TWELVELABS_BASE_URL", url)
    with pytest.raises(error) as info:
        UploadsClient(session=session)  # both from the environment
    errors.append(info.value)
    assert Tripwire.sent == []
    for exc in errors:
        assert CANARY not in str(exc) and CANARY not in repr(exc)
    return errors


@pytest.mark.parametrize("url", REMOTE_PLAIN_HTTP)
def test_plain_http_to_a_remote_host_is_refused_before_any_connection(url, monkeypatch):
    errors = _refused(url, InsecureTransportError, monkeypatch)
    assert all("https" in str(e) for e in errors)


@pytest.mark.parametrize("url", OTHER_TRICKS)
def test_other_url_tricks_are_refused_before_any_connection(url, monkeypatch):
    _refused(url, InvalidArgumentError, monkeypatch)


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/v1.3", "http://localhost:{port}/v1.3",
                                 "http://[::1]:{port}/v1.3", "http://127.0.0.1:{port}/v1.3/"])
def test_plain_http_to_loopback_is_allowed(url):
    """The refusals above are not blanket: the simulator on loopback is reachable over plain http."""
    host = "::1" if "[" in url else "127.0.0.1"
    with Simulator(generate_uploads(3, seed=1, now=NOW), api_key=CANARY, host=host) as sim:
        df = load_uploads(CANARY, base_url=url.format(port=sim.port), progress=False)
    assert len(df) == 3
