"""The browser pass: each chapter as a student meets it, in the course's JupyterLab driven by headless Chromium.

``python -m harmonia.course browser`` (``make test-browser``) runs the suite in ``tests/browser/``: it starts the
project's ``lab`` command on 127.0.0.1 with a token over a copy of ``chapters/`` (JupyterLab autosaves; the
repository's notebooks are never touched), opens each chapter, runs all its cells, moves every widget control
(sliders with the keyboard, dropdowns) and checks that the figure changes, with no error output and no console
error; the screenshots go to ``build/browser/``. Chromium is Debian's package (``/usr/bin/chromium``), driven by
Playwright's Python API (the ``browser`` extra); nothing downloads a browser.

Which chapters passed, at which version of what the student sees, is recorded in ``chapters/browser.toml``, one
fingerprint per chapter (:func:`browser_fingerprint`): the notebook file, the teaching-layer modules it imports
(widgets, plots, demos, exercises; the methods below them are covered by the library tests and the nbval passes),
the course's JupyterLab settings and the browser suite itself. ``browser --changed`` runs chapter 00 and the
chapters whose fingerprint differs from the record; CI runs that.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from harmonia.course.portable import chapter_modules, library_modules

__all__ = ["RECORD_FILE", "HEADER", "ALWAYS", "CHROMIUM_FLAGS", "find_chromium", "browser_fingerprint"]

#: the record of the last passing browser run, relative to the repository root
RECORD_FILE = Path("chapters") / "browser.toml"

HEADER = """\
# The browser pass (`make test-browser`: the course's JupyterLab in headless Chromium runs each chapter and moves
# every widget control) passed each chapter below at this fingerprint of its notebook and teaching-layer code.
# Written by `python -m harmonia.course browser --record`; never edit by hand. A test fails when a chapter's
# fingerprint has changed since: re-run `python -m harmonia.course browser --changed --record`.
"""

#: chapters the browser pass runs every time (the course's front door)
ALWAYS = ("00_start_here.ipynb",)

#: Chromium's start flags here: headless, and no background requests (this machine's network is closed, and the
#: course promises no network at run time)
CHROMIUM_FLAGS = (
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
)

_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def find_chromium() -> str | None:
    """The path of Debian's Chromium (``chromium`` package), or ``None`` when it is not installed."""
    for path in _CANDIDATES:
        if Path(path).is_file():
            return path
    found = shutil.which("chromium")
    return found


def browser_fingerprint(notebook: Path, root: Path) -> str:
    """sha256 of what decides a chapter's browser pass (see the module docstring)."""
    lib = root / "lib"
    h = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        h.update(f"{label}\0{len(data)}\0".encode())
        h.update(data)

    add("notebook", notebook.read_bytes())
    modules = library_modules(lib)
    for name in chapter_modules(notebook, lib):
        if name == "harmonia.course" or name.startswith("harmonia.course."):
            add(name, modules[name].read_bytes())
    extras = sorted((root / "lib" / "harmonia" / "course" / "lab").rglob("*.json"))
    extras += sorted((root / "tests" / "browser").glob("*.py"))
    for path in extras:
        add(str(path.relative_to(root)), path.read_bytes())
    return h.hexdigest()
