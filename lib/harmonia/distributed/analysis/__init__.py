"""Closed forms on quadratics and small derived examples.

- :mod:`~harmonia.distributed.analysis.stability` -- EASGD and ADMM round-robin maps, the synchronous map,
  the center's stationary variance (chapter 02);
- :mod:`~harmonia.distributed.analysis.moments` -- mean and second-moment recursions of mini-batch SGD,
  heavy ball and synchronous EASGD under additive or multiplicative noise (chapter 03);
- :mod:`~harmonia.distributed.analysis.momentum` -- heavy ball as one-worker EASGD with a negative rate;
- :mod:`~harmonia.distributed.analysis.saddle` -- the double well where the center can be trapped.

Used in: chapters 02-03.
"""

from harmonia.distributed.analysis.moments import (
    easgd_mean_matrix,
    easgd_moment_samples,
    easgd_moment_system,
    easgd_moments,
    heavy_ball_mean_matrix,
    heavy_ball_moment_system,
    heavy_ball_tuned,
    heavy_ball_var,
    iterations_to_shrink,
    optimal_step,
    sgd_moment_step,
    sgd_optimum,
    stable_steps,
    stationary_moments,
)
from harmonia.distributed.analysis.momentum import elastic_pair_run, heavy_ball_run
from harmonia.distributed.analysis.saddle import (
    DoubleWell,
    double_well_easgd,
    split_equilibrium,
    split_hessian,
    split_schur,
    trap_threshold,
)
from harmonia.distributed.analysis.stability import (
    admm_rr_map,
    easgd_large_p_var,
    easgd_rr_map,
    easgd_rr_stable,
    easgd_rr_step,
    easgd_sync_center_var,
    easgd_sync_map,
    easgd_sync_roots,
    easgd_sync_stable,
    lyapunov_var,
    minibatch_sgd_var,
    spectral_radius,
)

__all__ = [
    "spectral_radius", "easgd_rr_step", "easgd_rr_map", "easgd_rr_stable", "admm_rr_map",
    "easgd_sync_map", "easgd_sync_stable", "easgd_sync_roots", "easgd_sync_center_var",
    "lyapunov_var", "easgd_large_p_var", "minibatch_sgd_var",
    "sgd_moment_step", "sgd_optimum", "heavy_ball_mean_matrix", "heavy_ball_var", "heavy_ball_moment_system",
    "heavy_ball_tuned", "easgd_mean_matrix", "easgd_moment_system", "easgd_moment_samples", "easgd_moments", "stationary_moments",
    "optimal_step", "stable_steps", "iterations_to_shrink",
    "heavy_ball_run", "elastic_pair_run",
    "DoubleWell", "split_equilibrium", "trap_threshold", "split_hessian", "split_schur", "double_well_easgd",
]
