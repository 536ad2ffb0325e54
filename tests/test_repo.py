"""The repository keeps its promises: README tables, CI command, public API, docstrings."""

import ast
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


def test_readme_attrs_table_matches_schema_and_a_real_load():
    from tlanalytics.schema import ATTRS, attrs_table_markdown
    from tlanalytics.simulator import Simulator, generate_uploads

    assert _between(README, "attrs") == attrs_table_markdown()
    with Simulator(generate_uploads(30, seed=1)) as sim:
        df = tlanalytics.load_uploads(sim.api_key, base_url=sim.base_url, progress=False, with_progress=True)
    assert set(df.attrs) == set(ATTRS)


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


def _floors():
    """``{name: floor}`` of Python and every runtime dependency, from pyproject.toml."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    floors = {"python": project["requires-python"].removeprefix(">=")}
    for requirement in project["dependencies"]:
        name, op, version = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(>=)\s*([0-9.]+)", requirement).groups()
        floors[name.lower()] = version
    return project, floors


def _release(version):
    parts = [int(p) for p in version.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def test_readme_states_the_supported_range_of_pyproject():
    project, floors = _floors()
    line = README.split("<!-- supported -->\n", 1)[1].splitlines()[0]
    stated = {name.lower(): v for name, v in re.findall(r"([A-Za-z]+) >= ([0-9.]+)", line)}
    assert stated == floors
    tested = re.search(r"tested on ([0-9.]+(?:, [0-9.]+)*(?: and [0-9.]+)?)", line).group(1)
    classifiers = [c.rsplit(" :: ", 1)[1] for c in project["classifiers"]
                   if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert re.split(r", | and ", tested) == classifiers
    assert classifiers[0] == floors["python"]


def test_floor_constraints_pin_every_floor_and_ci_tests_every_classified_python():
    project, floors = _floors()
    oldest = floors.pop("python")
    pins = {}
    for line in (ROOT / ".ci" / "constraints-floor.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    assert pins.keys() == floors.keys()
    assert all(_release(pins[name]) == _release(floors[name]) for name in floors), (pins, floors)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert f"fresh_venv .ci/venv-floor {oldest} -c .ci/constraints-floor.txt" in ci
    for c in project["classifiers"]:
        version = c.rsplit(" :: ", 1)[1]
        if re.fullmatch(r"3\.\d+", version) and version != oldest:  # the oldest: the floor run
            assert f"fresh_venv .ci/venv-{version} {version}" in ci, version


def test_readme_exit_code_table_matches_cli(capsys):
    from tlanalytics.cli import EXIT_CODES, exit_code_table_markdown, main

    assert _between(README, "exit-codes") == exit_code_table_markdown()
    assert sorted(EXIT_CODES) == [0, 1, 2, 3, 4, 5, 70, 130, 141, 143]
    assert main(["--help"]) == 0
    shown = capsys.readouterr().out
    for code, meaning in EXIT_CODES.items():  # --help shows the same table
        assert f"\n  {code:<4} {meaning.replace('`', '')}\n" in shown


# _fastparse is the vectorised twin of _parse's per-item code and shares its
# date and integer helpers; it is being reworked for speed this session, so
# its imports are allowed here until those helpers get public names in _parse.
_PRIVATE_IMPORTS_ALLOWED = {("_fastparse", "_parse")}


def _private_names_used_across_modules(tree, importer):
    """``(line, module, name)`` of every private name ``importer`` takes from another package module."""
    modules, found = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            for alias in node.names:
                if node.module is None:  # from . import module
                    modules[alias.asname or alias.name] = alias.name
                elif alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append((node.lineno, node.module, alias.name))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            found.append((node.lineno, modules[node.value.id], node.attr))
    return [f for f in found if (importer, f[1]) not in _PRIVATE_IMPORTS_ALLOWED]


def test_no_module_uses_another_modules_private_names():
    offences = []
    for path in sorted((ROOT / "tlanalytics").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offences += [f"{path.name}:{line}: {module}.{name}"
                     for line, module, name in _private_names_used_across_modules(tree, path.stem)]
    assert offences == [], "a name another module needs is public (or moves to its owner)"


def test_the_private_name_check_finds_both_forms():
    tree = ast.parse("from .a import _x, y\nfrom . import b\nb._z\nb.w\n")
    assert _private_names_used_across_modules(tree, "c") == [(1, "a", "_x"), (3, "b", "_z")]
