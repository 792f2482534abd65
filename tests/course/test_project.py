"""The project's own files: layers import downwards only, the environment files agree, the CI
entry point runs the README's test command."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "lib" / "harmonia"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {n for n in names if n.startswith("harmonia")}


def test_config_imports_no_other_harmonia_module():
    assert _imports(LIB / "config.py") == set()


def test_only_the_teaching_layer_imports_harmonia_course():
    for path in LIB.rglob("*.py"):
        if "course" in path.relative_to(LIB).parts:
            continue
        bad = {n for n in _imports(path) if n.startswith("harmonia.course")}
        assert not bad, f"{path.relative_to(ROOT)} imports the teaching layer: {bad}"


def test_library_has_no_print_network_or_pickle():
    for path in LIB.rglob("*.py"):
        rel = path.relative_to(LIB)
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\burllib\b|\brequests\b|https?://", text) or rel.parts[0] == "course", rel
        assert "allow_pickle=True" not in text and "pickle.load" not in text, rel
        assert not re.search(r"sys\.path\.(insert|append)|sys\.path\s*=", text), rel
        if rel.parts[0] != "course":
            assert not re.search(r"^\s*print\(", text, re.M), f"{rel} prints; return values instead"


def _requirement_names(reqs):
    return {re.split(r"[<>=!~ \[]", r, maxsplit=1)[0].lower(): r for r in reqs}


def test_torch_range_admits_the_local_cpu_build():
    torch_req = _requirement_names(PYPROJECT["project"]["dependencies"])["torch"]
    lower = re.search(r">=\s*([\d.]+)", torch_req).group(1)
    upper = re.search(r"<\s*([\d.]+)", torch_req).group(1)
    as_tuple = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
    assert as_tuple(lower) <= (2, 13, 0) < as_tuple(upper)


def test_environment_yml_mirrors_pyproject():
    env = (ROOT / "environment.yml").read_text()
    conda = dict(re.findall(r"^  - ([a-z0-9_-]+)(\S*)$", env, re.M))
    for name, req in _requirement_names(PYPROJECT["project"]["dependencies"]).items():
        if name == "torch":
            assert "      - torch==2.13.0" in env
            continue
        assert name in conda, f"{name} missing from environment.yml"
        assert conda[name] == req[len(name):], f"{name}: environment.yml {conda[name]!r} vs pyproject {req!r}"
    assert "      - -e .[dev]" in env


def test_dev_extra_has_the_test_tools():
    dev = _requirement_names(PYPROJECT["project"]["optional-dependencies"]["dev"])
    assert {"pytest", "nbval", "nbclient", "nbformat", "pytest-env"} <= set(dev)
    assert "bench" in PYPROJECT["project"]["optional-dependencies"]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme.split("## The two commands", 1)[1].split("##", 1)[0]
    ci = [line for line in (ROOT / ".ci" / "run").read_text().strip().splitlines() if not line.startswith("#")]
    # the README's command, then the portable pass, then the browser pass on chapter 00 and the changed chapters
    assert ci[-3] == "make test" and ci[-2].startswith("make test-portable")
    assert ci[-1] == "make test-browser BROWSER_ARGS=--changed"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: \$\(STAMP\)\n\t\$\(PY\) -m pytest tests chapters \$\(NBVAL\)$", makefile, re.M)
    assert "pip install --quiet torch==2.13.0" in makefile
    assert "--nbval-sanitize-with tests/nbval_sanitize.cfg" in makefile
    assert re.search(r"^test-portable: \$\(STAMP\)\n\t\$\(PY\) -m harmonia.course portable \$\(PORTABLE_ARGS\)$", makefile, re.M)
    assert "make test-portable" in readme
    assert re.search(r"^test-browser: \$\(STAMP\)\n(\t.*\n)*\t\$\(PY\) -m harmonia.course browser \$\(BROWSER_ARGS\)$", makefile, re.M)
    assert "make test-browser" in readme


def test_top_level_is_as_designed():
    allowed = {"chapters", "lib", "datasets", "tests", "environment.yml", "README.md", "pyproject.toml", "Makefile"}
    tracked = {p.name for p in ROOT.iterdir() if not p.name.startswith(".")}
    ignored = {"build"}
    assert tracked - ignored <= allowed, tracked - ignored - allowed


def test_sanitize_file_is_wellformed():
    text = (ROOT / "tests" / "nbval_sanitize.cfg").read_text()
    headers = re.findall(r"^\[.+\]$", text, re.M)
    sections = re.findall(r"^\[.+\]\nregex: (.+)\nreplace: (.+)$", text, re.M)
    assert headers and len(sections) == len(headers)
    for regex, _ in sections:
        re.compile(regex)
    assert re.sub(sections[1][0], sections[1][1], "| device: cuda") == "| device: DEVICE"
