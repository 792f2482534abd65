"""Layer 2: wavelet scattering transforms (chapter 05; reused by 09 and 11).

- :class:`Scattering1D` -- Morlet scattering of 1D signals (kymatio 0.3 definitions; the physical
  normalisation by default, ``compat="kymatio-0.3"`` for kymatio's exact outputs);
- :class:`Scattering2D` -- Morlet scattering of images, L orientations;
- :class:`HarmonicScattering3D` -- solid harmonic scattering of volumes, rotation invariant;
- :class:`ScatteringMoments` -- spatial means of the first two layers at full resolution (chapter 09).

All are ``torch.nn.Module``s: filters are buffers, inputs have any leading batch shape, float32 or
float64, CPU or CUDA, differentiable (zero-safe modulus). ``meta()`` describes each output channel.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Scattering1D", "Scattering2D", "HarmonicScattering3D", "ScatteringMoments"]

_WHERE = {
    "Scattering1D": "harmonia.scattering.scattering1d",
    "Scattering2D": "harmonia.scattering.scattering2d",
    "HarmonicScattering3D": "harmonia.scattering.harmonic3d",
    "ScatteringMoments": "harmonia.scattering.moments",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'harmonia.scattering' has no attribute {name!r}")
