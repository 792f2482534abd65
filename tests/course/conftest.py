"""Fixtures shared by the course tests: every test closes the matplotlib figures it opened (demos return figures,
and an open figure per test would accumulate over the session)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")
