"""Layer 2: maximum-entropy models of stationary fields (Zhang & Mallat, ACHA 2021).

- :mod:`~harmonia.maxent.gaussian` -- model A: the maximum-entropy Gaussian of second-order wavelet
  moments (:func:`gaussian_maxent_spectrum`, convex dual solved by damped Newton), its sampler
  :func:`sample_gaussian`, and the random-phase surrogate :func:`random_phase_surrogate`;
- :mod:`~harmonia.maxent.microcanonical` -- models B, C, D: :func:`microcanonical_synthesis`, gradient
  descent from white noise on :math:`\\|f(K(x)-K(\\bar x))\\|^2` for any moment operator
  (:mod:`harmonia.wph`).

Used in: chapter 07.
"""

from harmonia.maxent.gaussian import (
    gaussian_maxent_spectrum,
    maxent_constraints,
    maxent_shifts,
    random_phase_surrogate,
    sample_gaussian,
)
from harmonia.maxent.microcanonical import MicrocanonicalResult, microcanonical_synthesis

__all__ = [
    "random_phase_surrogate",
    "maxent_shifts",
    "maxent_constraints",
    "gaussian_maxent_spectrum",
    "sample_gaussian",
    "MicrocanonicalResult",
    "microcanonical_synthesis",
]
