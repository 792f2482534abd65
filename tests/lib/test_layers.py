"""Imports point down: every import of the library, read with ``ast``, against ``harmonia.LAYERS``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from harmonia import LAYERS

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "lib"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(LIB).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str:
    """``harmonia.wph.models`` -> ``harmonia.wph`` (the entry of LAYERS it belongs to)."""
    return ".".join(module.split(".")[:2])


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, imported names) for every harmonia import of a file, relative ones resolved."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names if a.name.split(".")[0] == "harmonia"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] == "harmonia":
                out.append((node.lineno, base, [a.name for a in node.names]))
    return out


LIBRARY_FILES = sorted((LIB / "harmonia").rglob("*.py"))


def test_every_library_module_has_a_rank():
    units = {_unit(_module_name(p)) for p in LIBRARY_FILES} - {"harmonia"}
    assert units == set(LAYERS), f"missing from harmonia.LAYERS: {units - set(LAYERS)}; stale: {set(LAYERS) - units}"


@pytest.mark.parametrize("path", LIBRARY_FILES, ids=lambda p: str(p.relative_to(LIB)))
def test_imports_point_down(path):
    module = _module_name(path)
    if module == "harmonia":
        return
    unit = _unit(module)
    bad = []
    for line, target, names in _imports(path):
        if target == "harmonia":  # `from harmonia import LAYERS`: the top package imports nothing
            continue
        t_unit = _unit(target)
        if t_unit not in LAYERS:
            bad.append(f"line {line}: imports {target}, which has no rank in harmonia.LAYERS")
        elif t_unit != unit and LAYERS[t_unit] >= LAYERS[unit]:
            way = "sideways" if LAYERS[t_unit] == LAYERS[unit] else "up"
            bad.append(f"line {line}: {unit} (rank {LAYERS[unit]}) imports {target} (rank {LAYERS[t_unit]}): {way}")
        private = [n for n in names if n.startswith("_") and n != "__version__"]
        if private and target != module:
            bad.append(f"line {line}: imports private {private} from {target}; make it public where it belongs")
    assert not bad, f"{path.relative_to(ROOT)}:\n  " + "\n  ".join(bad)


def test_library_tests_do_not_import_the_teaching_layer():
    bad = [f"{p.relative_to(ROOT)}:{line} imports {target}"
           for p in sorted((ROOT / "tests" / "lib").rglob("*.py"))
           for line, target, _ in _imports_any(p) if _unit(target) == "harmonia.course"]
    assert not bad, bad


def _imports_any(path: Path) -> list[tuple[int, str, list[str]]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.append((node.lineno, node.module, [a.name for a in node.names]))
    return out


def test_the_checker_catches_up_sideways_and_private_imports(tmp_path, monkeypatch):
    """The test above on a fake file: it must fail for each kind of bad import."""
    fake = LIB / "harmonia" / "metrics.py"
    src = "from harmonia.wph import WPH2D\nfrom harmonia.synthesis import match_statistics\nfrom harmonia.fourier import _dims\n"
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: src)
    with pytest.raises(AssertionError) as err:
        test_imports_point_down(fake)
    text = str(err.value)
    assert "imports harmonia.wph (rank 4): up" in text
    assert "imports harmonia.synthesis (rank 3): sideways" in text
    assert "imports private ['_dims']" in text
