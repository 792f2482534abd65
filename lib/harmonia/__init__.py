"""Harmonia: one compact, GPU-ready PyTorch library for a course in 18 research papers.

Layers (imports flow downward only)::

    layer 3  harmonia.course     teaching layer: setup(), exercises, widgets, plots, notebook tools
    layer 2  methods             one module or sub-package per method family: scattering, phase_harmonics,
                                 wph, maxent, optim, games, nmf, assimilation, distributed, pointprocess (more as chapters add them)
    layer 1  building blocks     1c: metrics, synthesis (tools the methods share)
                                 1b: filters, nn, data
                                 1a: fourier, pointwise (FFT tools and grids; modulus, phase harmonics)
    layer 0  harmonia.config     device(), mode(), seed_everything(), check_tensor()

:data:`LAYERS` is that table, module by module: a module may import a module of a strictly lower rank,
or a module of its own sub-package (``harmonia.wph.models`` may import ``harmonia.wph.index``), and
never a name that starts with ``_`` from another file. ``tests/lib/test_layers.py`` checks every
import of the library against it; a new module gets its rank here.

Importing :mod:`harmonia` has no side effects: it only defines the version and the table.
"""

__version__ = "0.1.0"

#: Rank of every top-level module or sub-package of :mod:`harmonia` (see the module docstring).
LAYERS: dict[str, int] = {
    "harmonia.config": 0,
    "harmonia.fourier": 1,
    "harmonia.linalg": 1,
    "harmonia.manifolds": 1,
    "harmonia.ode": 1,
    "harmonia.pointwise": 1,
    "harmonia.filters": 2,
    "harmonia.nn": 2,
    "harmonia.data": 2,
    "harmonia.metrics": 3,
    "harmonia.synthesis": 3,
    "harmonia.phase_harmonics": 3,
    "harmonia.scattering": 4,
    "harmonia.wph": 4,
    "harmonia.maxent": 4,
    "harmonia.optim": 4,
    "harmonia.games": 4,
    "harmonia.nmf": 4,
    "harmonia.assimilation": 4,
    "harmonia.uncertainty": 4,
    "harmonia.attention": 4,
    "harmonia.distill": 4,
    "harmonia.kernels": 4,
    "harmonia.distributed": 5,
    "harmonia.pointprocess": 5,
    "harmonia.course": 9,
}

__all__ = ["__version__", "LAYERS"]
