"""Every notebook under notebooks/ runs end to end, is committed clean, and never shows a key.

Notebooks run with nbclient on a kernel of the interpreter running the tests
(a kernelspec written to a temporary folder, so this works in any fresh
virtualenv with ``pip install .[test]``), in a temporary working folder.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tlanalytics.simulator import Simulator, generate_uploads

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "tlanalytics-tests"
CELL_TIMEOUT = 120
# Keys the simulator makes up: "tlsim_" + 32 hex digits.
SIMULATOR_KEY = re.compile(r"tlsim_[0-9a-f]{32}")
KEY_VARS = ("TWELVELABS_API_KEY", "TWELVE_LABS_API_KEY")
ids = [p.name for p in NOTEBOOKS]


@pytest.fixture(scope="module")
def env_key():
    """The key set in the test environment, if any, before any test changes the environment."""
    return os.environ.get("TWELVELABS_API_KEY", "").strip() or None


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """A kernelspec for this interpreter, visible to nbclient through JUPYTER_PATH."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tlanalytics tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend, as in Jupyter
    for var in KEY_VARS + ("TWELVELABS_BASE_URL",):
        monkeypatch.delenv(var, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    return work


def _run(path, work):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name=KERNEL, timeout=CELL_TIMEOUT, startup_timeout=60,
                            resources={"metadata": {"path": str(work)}}, store_widget_state=True)
    client.execute()  # raises CellExecutionError on the first failing cell
    return nb


def _outputs(nb):
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


def _check_ran_cleanly(nb):
    outputs = _outputs(nb)
    assert not [o for o in outputs if o.output_type == "error"]
    tracebacks = [o.text for o in outputs if o.output_type == "stream" and "Traceback" in o.text]
    assert not tracebacks
    return outputs


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_committed_notebook_has_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear the outputs"
    assert "widgets" not in nb.metadata, f"{path.name}: clear the widget state"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_runs_in_demo_mode_and_shows_no_key(path, request, tmp_path, env_key):
    if path.name == "explore_uploads.ipynb":  # executed once for this test and tests/reliability/test_secrets.py
        run = request.getfixturevalue("walkthrough_demo")
        nb, files = run.nb, run.files
    else:
        work = request.getfixturevalue("kernel")
        nb = _run(path, work)
        files = {}
    outputs = _check_ran_cleanly(nb)
    text = json.dumps(nbformat.from_dict(nb))  # outputs and stored widget state
    assert not SIMULATOR_KEY.search(text), "a simulator key was shown"
    if env_key:
        assert env_key not in text
    if path.name == "explore_uploads.ipynb":
        kinds = [set(o.get("data", {})) for o in outputs]
        assert sum(k == {"image/png", "text/plain"} for k in kinds) == 7  # the six plots and tla.overview(df)
        assert {"application/vnd.jupyter.widget-view+json", "text/plain"} in kinds  # the widget
        static = [o for o in outputs if "tlanalytics-summary" in o.get("data", {}).get("text/html", "")]
        assert static and "image/png" in static[0]["data"]  # its static fallback, an output of its own
        assert len([n for n in run.exports_first if n.startswith("uploads-") and n.endswith(".csv")]) == 1
        assert "urgent-uploads.csv" in run.exports_first and "exports/urgent-uploads.csv" in files
        # Re-running the export cell (within the same second its new file would be uploads-<stamp>-1.csv)
        # replaces the export instead of leaving one more file.
        assert len([n for n in run.exports_again if n.startswith("uploads-") and n.endswith(".csv")]) == 1
        _check_static_fallback_in_nbconvert_html(nb, tmp_path)


def _check_static_fallback_in_nbconvert_html(nb, work):
    """`jupyter nbconvert --to html` of the executed notebook shows the explorer's summary and overview,
    checked in headless Chromium with every network request refused (so no CDN can help)."""
    import _browser
    from nbconvert import HTMLExporter

    html, _ = HTMLExporter().from_notebook_node(nb)
    page = work / "explore_uploads.html"
    page.write_text(html, encoding="utf-8")
    reason = _browser.missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the browser check must run in CI: {reason}")
        pytest.skip(reason)
    with _browser.chromium(work / "chromium-profile") as driver:
        _browser.inspect(driver, page)
        summary = driver.execute_script(
            "const t = document.querySelector('table.tlanalytics-summary');"
            "return t ? {text: t.innerText, visible: t.getBoundingClientRect().height > 0} : null")
        overview = driver.execute_script(
            "const i = document.querySelector('img[alt=\"overview of the filtered sessions\"]');"
            "return i ? i.naturalWidth : 0")
    assert summary and summary["visible"] and "Open, expiring within 1 h" in summary["text"]
    assert overview > 300


def test_walkthrough_with_a_key_in_the_environment_never_shows_it(kernel, monkeypatch):
    """The API branch, pointed at a loopback simulator whose key is a canary."""
    canary = "tlk_canary_" + "5f3a9c" * 5
    with Simulator(generate_uploads(150, seed=11), api_key=canary) as sim:
        monkeypatch.setenv("TWELVELABS_API_KEY", canary)
        monkeypatch.setenv("TWELVELABS_BASE_URL", sim.base_url)
        nb = _run(ROOT / "notebooks" / "explore_uploads.ipynb", kernel)
        assert sim.requests > 150  # the notebook talked to this server, with progress
    outputs = _check_ran_cleanly(nb)
    text = json.dumps(nbformat.from_dict(nb))
    assert canary not in text and canary[:20] not in text
    assert any("150 sessions from the TwelveLabs API" in o.get("text", "") for o in outputs)
