"""Fixtures shared by the library tests.

- ``one_thread`` (module scope): torch on one thread while a module runs. Use it with
  ``pytestmark = pytest.mark.usefixtures("one_thread")`` in modules of many small tensors: on a busy
  2-core machine, waking a second thread costs more than it saves (kymatio's thousands of tiny ops most
  of all). Results do not depend on it.
- ``seeded``: a function ``seed -> torch.Generator().manual_seed(seed)`` (a fresh CPU generator each call), for
  tests that draw from fixed seeds. Module-level helpers and constants, which run outside any test, build
  ``torch.Generator().manual_seed(seed)`` themselves (the same stream).
- ``easgd_lyapunov``: the independent reference for synchronous EASGD's stationary covariance, a function
  ``(M, eta, sigma2) -> P``: scipy's discrete Lyapunov solution ``P = M P M^T + Q`` of the (p+1)-dimensional
  synchronous map ``M`` (p workers, then the center; numpy or CPU float64 torch), worker noise ``eta xi`` of
  variance ``eta^2 sigma2`` on each worker and none on the center. Each test builds ``M`` its own way.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import solve_discrete_lyapunov


@pytest.fixture(scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="session")
def seeded():
    return _seeded


def _easgd_lyapunov(M, eta: float, sigma2: float) -> np.ndarray:
    M = np.asarray(M)
    p = M.shape[0] - 1
    Q = np.zeros((p + 1, p + 1))
    Q[:p, :p] = eta * eta * sigma2 * np.eye(p)
    return solve_discrete_lyapunov(M, Q)


@pytest.fixture(scope="session")
def easgd_lyapunov():
    return _easgd_lyapunov


# The bad-input sweep (tests/lib/test_bad_input_sweep.py) adds its counts here; the line is printed at the end.
_BAD_INPUT_TALLY: dict = {"cases": 0, "callables": set(), "obscure": set(), "ran": False}


@pytest.fixture(scope="session")
def bad_input_tally():
    _BAD_INPUT_TALLY["ran"] = True
    return _BAD_INPUT_TALLY


def pytest_terminal_summary(terminalreporter):
    t = _BAD_INPUT_TALLY
    if t["ran"]:
        terminalreporter.write_line(
            f"bad-input sweep: {t['cases']} cases over {len(t['callables'])} callables, {len(t['obscure'])} obscure "
            f"errors ({t.get('swept', '?')} of {t.get('exported', '?')} exported callables swept, "
            f"{t.get('gaps', 0)} known gaps)"
        )
