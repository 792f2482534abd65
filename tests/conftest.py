"""Shared test set-up: a non-interactive matplotlib backend, and no figure leaks between tests."""

import os

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# tests/browser/ drives JupyterLab in headless Chromium: `python -m harmonia.course browser` (make test-browser)
# runs it with HARMONIA_BROWSER=1; make test leaves it out.
collect_ignore = [] if os.environ.get("HARMONIA_BROWSER") == "1" else ["browser"]
