"""Layer 2: min-max games and their dynamics.

- :mod:`~harmonia.games.core` -- :class:`MinMaxGame`, simultaneous / alternating / two-time-scale GDA,
  symplectic gradient adjustment, the Jacobian of an update map and its spectral radius;
- :mod:`~harmonia.games.moment_gan` -- moment-matching GANs for stationary Gaussian processes on the
  circle: convolution generators, periodograms, second-order discriminators, Nash gaps, the per-frequency
  systems and their stability threshold (chapter 11).

Used in: chapters 11, 12.
"""

from harmonia.games.core import MinMaxGame, gda_step, run_dynamics, sga_step, spectral_radius, update_jacobian
from harmonia.games.moment_gan import (
    FAMILIES,
    FEATURES,
    MomentMatchingGame,
    circ_conv,
    circulant,
    empirical_autocov,
    eta_star,
    exp_filter,
    filter_autocov,
    frequency_energy,
    frequency_field,
    periodogram,
    proj_circulant,
    sample_conv_gaussian,
    zero_phase_filter,
)

__all__ = [
    "MinMaxGame",
    "gda_step",
    "sga_step",
    "run_dynamics",
    "update_jacobian",
    "spectral_radius",
    "FEATURES",
    "FAMILIES",
    "MomentMatchingGame",
    "circ_conv",
    "circulant",
    "empirical_autocov",
    "eta_star",
    "exp_filter",
    "filter_autocov",
    "frequency_energy",
    "frequency_field",
    "periodogram",
    "proj_circulant",
    "sample_conv_gaussian",
    "zero_phase_filter",
]
