"""A pytest plugin (loaded from pyproject's ``addopts``) that adds up each notebook's wall time
under ``pytest --nbval`` and prints it, with the chapter's budget, at the end of the run.

The table is also written to ``build/nbval-timings.json`` for ``python -m harmonia.course timings
--last``. Under the portable pass (``HARMONIA_PORTABLE=1``, one thread, portable kernels) the budget is
not what is tested: the table says so and goes to ``build/nbval-timings-portable.json``.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

_SECONDS: dict[str, float] = defaultdict(float)
_FAILED: set[str] = set()
BUDGET_S = 90.0


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _SECONDS[path] += report.duration
        if report.failed:
            _FAILED.add(path)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001 - pytest API
    if not _SECONDS:
        return
    tr = terminalreporter
    portable = os.environ.get("HARMONIA_PORTABLE") == "1"
    if portable:
        tr.section("notebook wall times (portable pass: one thread, portable kernels; no budget)")
    else:
        tr.section("notebook wall times (nbval, kernel start included)")
    for path, seconds in sorted(_SECONDS.items()):
        if portable:
            tr.write_line(f"{path:<48} {seconds:7.1f} s  {'FAILED' if path in _FAILED else 'ok'}")
            continue
        verdict = "FAILED" if path in _FAILED else ("over budget" if seconds > BUDGET_S else "ok")
        tr.write_line(f"{path:<48} {seconds:7.1f} s  (budget {BUDGET_S:.0f} s)  {verdict}")
    tr.write_line(f"{'total':<48} {sum(_SECONDS.values()):7.1f} s")
    out = Path(config.rootpath) / "build" / ("nbval-timings-portable.json" if portable else "nbval-timings.json")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({p: round(s, 2) for p, s in sorted(_SECONDS.items())}, indent=1) + "\n")
    except OSError:  # a read-only checkout still gets the printed table
        pass
