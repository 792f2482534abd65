"""The second-machine pass: strict nbval over the chapters with another CPU's kernels.

A chapter's stored outputs were produced on one CPU. Another CPU (other vector kernels, another
thread count) rounds differently, and a printed digit at rounding level or a verdict that hangs on an
optimiser's path then changes and nbval fails there. The cheapest stand-in for "another CPU" is
torch's portable kernels with one thread (:data:`PORTABLE_ENV`); ``python -m harmonia.course
portable`` (``make test-portable``) re-runs the chapters under it, with the course's notebook
environment, the same sanitize file and no timing budget.

Which chapters passed it, at which version of their code, is recorded in ``chapters/portable.toml``:
one fingerprint per chapter (:func:`chapter_fingerprint`), written by ``portable --record`` after a
passing run. A test fails when a ready chapter's fingerprint differs from the record, so a changed
notebook or library module cannot land unchecked; ``portable --changed`` runs only those chapters.

The fingerprint hashes what decides a chapter's outputs: the notebook file (sources and stored
outputs), the sanitize file, the dataset registry (which holds every data file's sha256), the
installed torch version, and every ``harmonia`` module the notebook imports, followed through the
library's own imports (statically, with :mod:`ast`; module names written as strings, such as the
lazy names of :mod:`harmonia.course`, count too, and ``check("NN.k", f)`` brings in the exercise
module ``harmonia.course.exercises.chNN`` that it loads by name).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "PORTABLE_ENV",
    "RECORD_FILE",
    "library_modules",
    "chapter_modules",
    "chapter_fingerprint",
    "read_record",
    "write_record",
    "stale_chapters",
    "SLOWDOWN",
    "estimate_seconds",
]

#: Variables set on top of :data:`harmonia.course.notebooks.NOTEBOOK_ENV` for the portable pass.
PORTABLE_ENV: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "default",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "HARMONIA_PORTABLE": "1",
}

#: Wall time of the portable pass over that of ``make test``'s nbval pass, measured on 2 cores over chapters
#: 00-07: 180 s / 118 s and 192 s / 137 s (one thread instead of two); 1.6 leaves a margin.
SLOWDOWN = 1.6

#: The record of the last passing portable run, relative to the repository root.
RECORD_FILE = Path("chapters") / "portable.toml"

_HEADER = """\
# The portable pass (`make test-portable`: strict nbval with ATEN_CPU_CAPABILITY=default, one thread)
# passed each chapter below at this fingerprint of its notebook and of the library code it imports.
# Written by `python -m harmonia.course portable --record`; never edit by hand. A test fails when a
# chapter's fingerprint has changed since: re-run `python -m harmonia.course portable --changed --record`.
"""
_MODULE_NAME = re.compile(r"^harmonia(\.[A-Za-z_]\w*)*$")


def library_modules(lib: Path) -> dict[str, Path]:
    """Every module of the ``harmonia`` package under ``lib`` (the source root): name -> file."""
    out = {}
    for path in sorted((lib / "harmonia").rglob("*.py")):
        parts = list(path.relative_to(lib).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imported_names(source: str, module: str, is_package: bool) -> set[str]:
    """Module names a piece of code may import: ``import a.b``, ``from a import b`` (``a`` and ``a.b``),
    relative imports resolved against ``module``, and string constants that look like module names."""
    names: set[str] = set()
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_NAME.match(node.value):
            names.add(node.value)
    return names


def _with_parents(name: str) -> list[str]:
    """``a.b.c`` -> ``a``, ``a.b``, ``a.b.c`` (importing a module runs its packages' ``__init__``)."""
    parts = name.split(".")
    return [".".join(parts[: k + 1]) for k in range(len(parts))]


def chapter_modules(notebook: Path, lib: Path) -> list[str]:
    """The ``harmonia`` modules a chapter imports, directly or through the library, sorted."""
    import nbformat

    modules = library_modules(lib)
    nb = nbformat.read(notebook, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    # IPython lines (%magic, !shell) are not Python: blank them before parsing
    code = "\n".join("" if line.lstrip().startswith(("%", "!", "?")) else line for line in code.splitlines())
    todo = [n for n in _imported_names(code, "__main__", False) if n.split(".")[0] == "harmonia"]
    # check("NN.k", f) loads harmonia.course.exercises.chNN by name at run time
    todo += [f"harmonia.course.exercises.ch{nn}" for nn in set(re.findall(r"""check\(\s*["'](\d\d)\.""", code))]
    seen: set[str] = set()
    while todo:
        for name in _with_parents(todo.pop()):
            if name in seen or name not in modules:
                continue
            seen.add(name)
            path = modules[name]
            todo.extend(n for n in _imported_names(path.read_text(encoding="utf-8"), name,
                                                   path.name == "__init__.py") if n.startswith("harmonia"))
    return sorted(seen)


def chapter_fingerprint(notebook: Path, root: Path) -> str:
    """sha256 of everything that decides a chapter's stored outputs (see the module docstring)."""
    lib = root / "lib"
    h = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        h.update(f"{label}\0{len(data)}\0".encode())
        h.update(data)

    add("notebook", notebook.read_bytes())
    for extra in (Path("tests") / "nbval_sanitize.cfg", Path("datasets") / "registry.toml"):
        path = root / extra
        add(str(extra), path.read_bytes() if path.is_file() else b"")
    try:
        add("torch", importlib.metadata.version("torch").encode())
    except importlib.metadata.PackageNotFoundError:
        add("torch", b"")
    modules = library_modules(lib)
    for name in chapter_modules(notebook, lib):
        add(name, modules[name].read_bytes())
    return h.hexdigest()


def read_record(root: Path, record: Path = RECORD_FILE) -> dict[str, str]:
    """``{notebook file name: fingerprint}`` from a record file (default ``chapters/portable.toml``; the browser
    and autograde passes keep their own), relative to ``root``; empty if absent."""
    path = root / record
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{record}: expected TOML, got a parse error ({err})") from err
    chapters = data.get("chapters", {})
    if not isinstance(chapters, dict) or not all(isinstance(v, str) for v in chapters.values()):
        raise ValueError(f"{record}: expected a [chapters] table of file = \"fingerprint\" strings")
    return dict(chapters)


def write_record(root: Path, fingerprints: dict[str, str], record: Path = RECORD_FILE,
                 header: str | None = None) -> Path:
    """Merge ``fingerprints`` into the record file (other chapters' entries are kept) and write it, under
    ``header`` (default: the portable pass's)."""
    merged = {**read_record(root, record), **fingerprints}
    path = root / record
    lines = [_HEADER if header is None else header, "[chapters]"]
    lines += [f"{json.dumps(name)} = {json.dumps(fp)}" for name, fp in sorted(merged.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def stale_chapters(notebooks: list[Path], root: Path, record_file: Path = RECORD_FILE,
                   fingerprint: Callable[[Path, Path], str] | None = None) -> dict[str, str]:
    """The chapters among ``notebooks`` whose fingerprint (default :func:`chapter_fingerprint`) differs from the
    record file's: ``{file name: current fingerprint}``."""
    record = read_record(root, record_file)
    fingerprint = chapter_fingerprint if fingerprint is None else fingerprint
    out = {}
    for nb in notebooks:
        fp = fingerprint(nb, root)
        if record.get(nb.name) != fp:
            out[nb.name] = fp
    return out


def estimate_seconds(root: Path, names: list[str]) -> float | None:
    """Expected wall time of the portable pass over the chapters ``names``: :data:`SLOWDOWN` times their
    nbval time in the last ``make test`` (``build/nbval-timings.json``); ``None`` when a time is missing."""
    path = root / "build" / "nbval-timings.json"
    try:
        times = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    by_name = {Path(k).name: float(v) for k, v in times.items()}
    if not all(n in by_name for n in names):
        return None
    return SLOWDOWN * sum(by_name[n] for n in names)
