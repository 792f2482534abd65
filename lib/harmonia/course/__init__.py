"""Layer 3, the teaching layer: everything a chapter notebook calls besides the methods.

- :func:`setup` -- first cell of every chapter (seeds, figures, style, banner);
- :func:`check` -- automatic checks of exercises (``harmonia.course.exercises``); :func:`hint` -- the next hint;
- :mod:`~harmonia.course.settings` -- the chapter settings (mode, device, dtype), ``session.settings``;
- :mod:`~harmonia.course.widgets` -- widget factories with plain, testable callbacks;
- :mod:`~harmonia.course.plots` -- ``show(fig, alt=...)``, image grids, spectra, curves;
- :mod:`~harmonia.course.report` -- the "paper vs. this notebook" claims table;
- :mod:`~harmonia.course.manifest` -- the curriculum (``chapters/manifest.toml``);
- :mod:`~harmonia.course.notebooks` -- execute / student / nbgrader / hygiene tools, also
  reachable as ``python -m harmonia.course ...``;
- ``harmonia.course.demos.<slug>`` -- chapter-specific experiment code.

The teaching layer may import every other layer; no other layer imports it. The names below are
loaded on first use, so that tools such as the pytest plugin import quickly.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["setup", "Session", "check", "hint", "show"]

_LAZY = {
    "setup": "harmonia.course.session",
    "Session": "harmonia.course.session",
    "check": "harmonia.course.exercises",
    "hint": "harmonia.course.exercises",
    "show": "harmonia.course.plots",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'harmonia.course' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))
