"""The peer implementation of the scattering transforms, kymatio (``bench`` extra), imported for
comparison: one importer, shared by the agreement tests and the benchmarks (``bench scattering``).
The library never needs it; ``compat="kymatio-0.3"`` of the scattering modules reproduces its output.

kymatio 0.3.0 imports ``scipy.special.sph_harm``, which SciPy 1.17 removed; :func:`import_kymatio`
installs the correct shim first: ``sph_harm(m, l, azimuth, polar) == sph_harm_y(l, m, polar, azimuth)``
(both the degree/order and the angle arguments swap; aliasing the two names gives wrong 3D filters).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["import_kymatio"]


def _install_sph_harm_shim() -> None:
    import scipy.special as special

    if hasattr(special, "sph_harm") or not hasattr(special, "sph_harm_y"):
        return

    def sph_harm(m, n, theta, phi):  # SciPy < 1.17 signature: order, degree, azimuth, polar
        return special.sph_harm_y(n, m, phi, theta)

    special.sph_harm = sph_harm


def import_kymatio() -> ModuleType | None:
    """``kymatio.torch`` (0.3.x) with the SciPy shim, or ``None`` when kymatio is not installed."""
    try:
        importlib.import_module("kymatio")
    except ImportError:
        return None
    _install_sph_harm_shim()
    return importlib.import_module("kymatio.torch")
