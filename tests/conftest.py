"""Shared test fixtures. Module-specific fixtures live in their test files."""

import os
import time

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

# --- running in parallel: pytest-xdist, `-n auto --dist loadfile` (pyproject.toml) ---------------------------
# Each test file runs whole on one worker, in file order, its module fixtures once (`--dist loadfile`). Files
# that share a session fixture run on the same worker, so it runs once: the walkthrough notebook
# (test_notebooks.py and tests/reliability) and the demo report (test_report.py, test_history_views.py).
# tests/reliability is one unit, so its session-wide figures (tests/reliability/conftest.py) are complete.
# (A scheduler, not `xdist_group` marks: `--dist loadgroup` renames node ids, which pytest 9.2 no longer allows.)
_SHARED = {"tests/test_notebooks.py": "tests/reliability", "tests/test_report.py": "demo report",
           "tests/test_history_views.py": "demo report"}


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` with the units above; any other ``--dist`` is xdist's own."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Units(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            path = nodeid.split("::", 1)[0]
            return "tests/reliability" if path.startswith("tests/reliability/") else _SHARED.get(path, path)

    return Units(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker per CPU, at most 4 (each worker repeats the session fixtures it needs).

    ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still decides when set; ``-n 0`` runs
    everything in this process.
    """
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


_STARTED = time.time()  # this file is imported before any test runs (in the main process too, under xdist)


def pytest_terminal_summary(terminalreporter):
    """Show the reliability figures (tests/reliability/conftest.py) when this session wrote them.

    Here, not in tests/reliability/conftest.py: under pytest-xdist a worker
    writes them, and the main process, which prints the summary, loads only
    this conftest.
    """
    import json

    path = os.environ.get("TLANALYTICS_RELIABILITY_JSON", "/tmp/tlanalytics-reliability.json")
    try:
        if os.stat(path).st_mtime < _STARTED:
            return  # no reliability test ran in this session
        with open(path, encoding="utf-8") as fh:
            stats = json.load(fh)
    except (OSError, ValueError):
        return
    terminalreporter.section("tlanalytics reliability figures")
    terminalreporter.write_line(f"(written to {path})")
    terminalreporter.write_line(json.dumps(stats, indent=1, sort_keys=True, default=str))


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every matplotlib figure a test opened (seaborn's habit)."""
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


# --- client fixtures (tests/test_client.py, tests/test_progress.py) ----------

@pytest.fixture
def make_sim():
    """Start simulators on loopback for the test; they stop at its end."""
    from tlanalytics.simulator import Simulator

    started = []

    def make(uploads, **kwargs):
        sim = Simulator(uploads, **kwargs).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def make_client():
    """UploadsClient factory for a simulator: tiny backoff, no progress bar; closed at the end."""
    from tlanalytics.client import UploadsClient

    made = []

    def make(sim=None, **kwargs):
        if sim is not None:
            kwargs.setdefault("base_url", sim.base_url)
            kwargs.setdefault("api_key", sim.api_key)
        kwargs.setdefault("progress", False)
        kwargs.setdefault("backoff", 0.001)
        kwargs.setdefault("timeout", (2, 5))
        client = UploadsClient(**kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


# --- hostile loopback servers (tests/test_hardening.py, tests/reliability/test_hostile.py) ----

@pytest.fixture
def hostile():
    """Start scriptable hostile servers on 127.0.0.1 (see tests/_hostile.py); they stop at the test's end."""
    from _hostile import Hostile

    started = []

    def make(script, **kwargs):
        server = Hostile(script, **kwargs)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


# --- the walkthrough notebook, executed once (tests/test_notebooks.py, tests/reliability/test_secrets.py) ----

WALKTHROUGH_EXTRA_CELLS = (
    # read back by the tests, then removed with these cells: the demo simulator's key ...
    "open('.demo_key', 'w').write(demo.api_key)",
    # ... the exports after one run, and after re-running the export cell (the notebook's last code cell)
    "import json as _json\nopen('.exports_first', 'w').write(_json.dumps(sorted(os.listdir('exports'))))",
    None,  # the export cell again, as a user re-running it
    "open('.exports_again', 'w').write(_json.dumps(sorted(os.listdir('exports'))))",
)


@pytest.fixture(scope="session")
def walkthrough_demo(tmp_path_factory):
    """``notebooks/explore_uploads.ipynb`` executed once in demo mode, as a user runs it, for every test that reads it.

    The kernel is this interpreter (a kernelspec in a temporary folder), the
    environment has no key (so the notebook takes its demo branch) and no
    ``MPLBACKEND`` (the kernel's inline backend, as in Jupyter), and the
    working folder is fresh. After the notebook's own cells, test cells write
    the demo simulator's key and the exports folder's listing, run the export
    cell again and list the folder again; their files are read back and
    removed, and the cells are dropped. Returns a namespace: ``nb`` (the
    notebook as committed, with the outputs of its run), ``key``, ``work``,
    ``files`` (every file the notebook wrote: relative path -> bytes),
    ``exports_first`` and ``exports_again`` (the listings).
    """
    import json
    import sys
    import types

    import nbformat
    from nbclient import NotebookClient

    root = tmp_path_factory.mktemp("walkthrough")
    spec = root / "jupyter" / "kernels" / "tlanalytics-walkthrough"
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tlanalytics walkthrough", "language": "python"}))
    work = root / "work"
    work.mkdir()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(repo, "notebooks", "explore_uploads.ipynb")
    nb = nbformat.read(path, as_version=4)
    n_cells = len(nb.cells)
    export_cell = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert "explorer.export()" in export_cell.source  # the cell the re-run checks
    for source in WALKTHROUGH_EXTRA_CELLS:
        nb.cells.append(nbformat.v4.new_code_cell(export_cell.source if source is None else source))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(root / "jupyter"))
        mp.delenv("MPLBACKEND", raising=False)
        for var in ("TWELVELABS_API_KEY", "TWELVE_LABS_API_KEY", "TWELVELABS_BASE_URL"):
            mp.delenv(var, raising=False)
        NotebookClient(nb, kernel_name="tlanalytics-walkthrough", timeout=180, startup_timeout=60,
                       resources={"metadata": {"path": str(work)}}, store_widget_state=True).execute()
    read = {}
    for name in (".demo_key", ".exports_first", ".exports_again"):
        read[name] = work.joinpath(name).read_text()
        work.joinpath(name).unlink()
    nb.cells = nb.cells[:n_cells]
    files = {p.relative_to(work).as_posix(): p.read_bytes() for p in sorted(work.rglob("*")) if p.is_file()}
    return types.SimpleNamespace(nb=nb, key=read[".demo_key"], work=work, files=files,
                                 exports_first=json.loads(read[".exports_first"]),
                                 exports_again=json.loads(read[".exports_again"]))


# --- the demo report, written once (tests/test_report.py, tests/test_history_views.py) ----------------------

@pytest.fixture(scope="session")
def demo_report(tmp_path_factory):
    """``report.html`` of ``python -m tlanalytics report --demo --quiet -o DIR``, run once as a user runs it.

    A subprocess without the developer's key, base URL or snapshot store in
    its environment (so the demo's own simulated 30 days of history are the
    trends); progress is read (the default). The report takes ~10 s of CPU.
    """
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tmp_path_factory.mktemp("demo-report")
    env = {k: v for k, v in os.environ.items() if k not in ("TWELVELABS_API_KEY", "TWELVE_LABS_API_KEY",
                                                            "TWELVELABS_BASE_URL", "TLANALYTICS_STORE")}
    env.update(PYTHONPATH=root + os.pathsep + env.get("PYTHONPATH", ""), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-m", "tlanalytics", "report", "--demo", "--quiet", "-o", str(out)],
                          capture_output=True, text=True, env=env, timeout=180, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return out / "report.html"
