"""Layer 3, the teaching layer: everything a chapter notebook calls besides the methods.

- :func:`setup` -- first cell of every chapter (seeds, figures, style, banner);
- :func:`check` -- automatic checks of exercises (``harmonia.course.exercises``);
- :mod:`~harmonia.course.widgets` -- widget factories with plain, testable callbacks;
- :mod:`~harmonia.course.plots` -- ``show(fig, alt=...)``, image grids, spectra, curves;
- :mod:`~harmonia.course.manifest` -- the curriculum (``chapters/manifest.toml``);
- :mod:`~harmonia.course.notebooks` -- execute / student / nbgrader / hygiene tools, also
  reachable as ``python -m harmonia.course ...``;
- ``harmonia.course.demos.<slug>`` -- chapter-specific experiment code.

The teaching layer may import every other layer; no other layer imports it.
"""

from harmonia.course.exercises import check
from harmonia.course.plots import show
from harmonia.course.session import Session, setup

__all__ = ["setup", "Session", "check", "show"]
