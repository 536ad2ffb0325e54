"""The repository keeps its promises: README tables, CI command, public API, docstrings."""

import inspect
import re
from pathlib import Path

import tlanalytics
from tlanalytics.schema import COLUMNS, column_table_markdown

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _between(text, name):
    match = re.search(rf"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", text, re.S)
    assert match, f"README has no {name} block"
    return match.group(1).strip()


def test_readme_column_table_matches_schema():
    assert _between(README, "columns") == column_table_markdown()
    assert len(set(c.name for c in COLUMNS)) == len(COLUMNS)


def test_readme_glossary_matches_metrics():
    from tlanalytics.metrics import GLOSSARY, glossary_markdown

    assert _between(README, "glossary") == glossary_markdown()
    assert len({t.name for t in GLOSSARY}) == len(GLOSSARY)


def test_column_table_escapes_angle_brackets():
    table = column_table_markdown()
    assert "<NA>" not in table and "&lt;NA&gt;" in table  # a Markdown renderer would swallow <NA> as a tag
    assert "< 1 h" not in table and "&lt; 1 h" in table


def test_ci_runs_exactly_the_readme_test_command():
    block = README.split("<!-- test-command -->", 1)[1]
    command = re.search(r"```bash\n(.+?)\n```", block, re.S).group(1).strip()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci_lines
    assert "pytest" in command and ".[test]" in command


def test_every_public_name_resolves_and_is_documented():
    for name in tlanalytics.__all__:
        obj = getattr(tlanalytics, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            doc = inspect.getdoc(obj) or ""
            assert doc, f"{name} has no docstring"
        if inspect.isfunction(obj) and inspect.signature(obj).parameters:
            doc = inspect.getdoc(obj)
            assert "Parameters\n----------" in doc and "Returns\n-------" in doc, f"{name} lacks numpydoc sections"
