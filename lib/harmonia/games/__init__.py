"""Layer 2: min-max games and their dynamics.

- :mod:`~harmonia.games.core` -- :class:`MinMaxGame`, simultaneous / alternating / two-time-scale GDA,
  symplectic gradient adjustment, the Jacobian of an update map and its spectral radius;
- :mod:`~harmonia.games.moment_gan` -- moment-matching GANs for stationary Gaussian processes on the
  circle: convolution generators, periodograms, second-order discriminators, Nash gaps, the per-frequency
  systems and their stability threshold (chapter 11);
- :mod:`~harmonia.games.riemannian` -- tau-GDA and tau-SGA on products of Riemannian manifolds, Hessian
  blocks at a critical point, DNE/DSE, the linearised update maps and their rates (chapter 12).

Used in: chapters 11, 12.
"""

from harmonia.games.core import MinMaxGame, gda_step, run_dynamics, sga_step, spectral_radius, update_jacobian
from harmonia.games.riemannian import (
    M_asga,
    M_gda,
    M_sga,
    asymptotic_blocks,
    best_rate,
    classify,
    gamma_star,
    hessian_blocks,
    rate,
    riemannian_grads,
    tau_gda_step,
    tau_sga_step,
)
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
    "riemannian_grads",
    "tau_gda_step",
    "tau_sga_step",
    "hessian_blocks",
    "classify",
    "M_gda",
    "M_sga",
    "M_asga",
    "gamma_star",
    "rate",
    "best_rate",
    "asymptotic_blocks",
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
