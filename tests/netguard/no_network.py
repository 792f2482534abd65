"""pytest plugin: no test reaches the network, in this process or in any Python process it starts.

Loaded by pyproject's ``addopts`` (``-p no_network``, found through the ``pythonpath`` ini entry), so it is
active for ``make test``, for the nbval pass over the chapters and for ``make test-portable`` (which runs
``python -m pytest -c pyproject.toml chapters/... --nbval``).

- In this process: :func:`netguard.install` at import, before any conftest or test module is imported.
- In subprocesses (Jupyter kernels started by nbval or nbclient, nbgrader, ``python -c`` ...): this folder
  goes first on ``PYTHONPATH`` with ``HARMONIA_NO_NETWORK=1``, and its ``sitecustomize.py`` installs the
  same guard when the interpreter starts. Loopback keeps working (kernels talk to their client over it).
- Every blocked attempt fails the test that made it, even if the code under test caught the exception:
  in-process attempts are collected in ``netguard.BLOCKED``, subprocesses append theirs to the file named by
  ``HARMONIA_NO_NETWORK_LOG``; both are read after each test phase. (A test that provokes an attempt on
  purpose consumes it: it pops ``netguard.BLOCKED`` or gives its subprocess a log file of its own.)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

import netguard

HERE = Path(__file__).resolve().parent
ENV_FLAG = "HARMONIA_NO_NETWORK"

netguard.install()
os.environ[ENV_FLAG] = "1"
_paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != HERE]
os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), *_paths])
_fd, _LOG = tempfile.mkstemp(prefix="harmonia-no-network-", suffix=".log")
os.close(_fd)
os.environ[netguard.LOG_ENV] = _LOG
_offset = 0


def _new_attempts() -> list[str]:
    """Blocked attempts since the last call: this process's, then its subprocesses'."""
    global _offset
    found = list(netguard.BLOCKED)
    netguard.BLOCKED.clear()
    try:
        with open(_LOG, encoding="utf-8") as fh:
            fh.seek(_offset)
            text = fh.read()
            _offset = fh.tell()
    except OSError:
        text = ""
    own = f"pid {os.getpid()}: "  # this process's attempts are in BLOCKED already
    return found + [f"subprocess {line}" for line in text.splitlines() if line.strip() and not line.startswith(own)]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    attempts = _new_attempts()
    if not attempts:
        return
    report = outcome.get_result()
    message = "network access attempted (blocked by tests/netguard):\n" + "\n".join(f"  {a}" for a in attempts)
    if report.passed or report.skipped:
        report.outcome = "failed"
        report.longrepr = message
    else:
        report.sections.append(("network access", message))


def pytest_report_header(config):
    return f"network: blocked except loopback (tests/netguard, subprocesses via PYTHONPATH={HERE})"


_outside: list[str] = []


def pytest_sessionfinish(session, exitstatus):
    _outside.extend(_new_attempts())  # attempts outside any test (collection, module or session fixtures' teardown)
    if _outside and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _outside:
        terminalreporter.write_sep("!", "network access attempted outside a test (blocked)", red=True)
        for a in _outside:
            terminalreporter.write_line(a)


def pytest_unconfigure(config):
    try:
        os.unlink(_LOG)
    except OSError:
        pass
