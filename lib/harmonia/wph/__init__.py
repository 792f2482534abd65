"""Layer 2: wavelet phase harmonic (WPH) moments.

- :mod:`~harmonia.wph.index` -- which moments: :class:`MomentIndex`, the 1D tolerance rule and the 2D
  scale-interaction sets of the papers, and their counting conventions;
- :mod:`~harmonia.wph.moments` -- the moment modules :class:`PhaseHarmonicCov`, :class:`WPH1D`,
  :class:`WPH2D` (batched, differentiable, GPU-ready).

Used in: chapters 06-08, 10.
"""

from harmonia.wph.index import MomentIndex, circular_distance, scale_interaction_2d, tolerance_rule_1d
from harmonia.wph.moments import MORLET_WIDTH_FACTOR, WPH1D, WPH2D, PhaseHarmonicCov

__all__ = [
    "MomentIndex",
    "circular_distance",
    "scale_interaction_2d",
    "tolerance_rule_1d",
    "PhaseHarmonicCov",
    "WPH1D",
    "WPH2D",
    "MORLET_WIDTH_FACTOR",
]
