"""Harmonia: one compact, GPU-ready PyTorch library for a course in 18 research papers.

Layers (imports flow downward only)::

    layer 3  harmonia.course     teaching layer: setup(), exercises, widgets, plots, notebook tools
    layer 2  methods             one module per method family (added chapter by chapter)
    layer 1  building blocks     harmonia.data (dataset registry, generators), ...
    layer 0  harmonia.config     device(), mode(), seed_everything(), check_tensor()

Importing :mod:`harmonia` has no side effects: it only defines the version.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
