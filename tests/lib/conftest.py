"""Fixtures shared by the library tests.

- ``one_thread`` (module scope): torch on one thread while a module runs. Use it with
  ``pytestmark = pytest.mark.usefixtures("one_thread")`` in modules of many small tensors: on a busy
  2-core machine, waking a second thread costs more than it saves (kymatio's thousands of tiny ops most
  of all). Results do not depend on it.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
