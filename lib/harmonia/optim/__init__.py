"""Layer 2: stochastic optimisation.

- :mod:`~harmonia.optim.vsgd` -- vSGD (Schaul, Zhang & LeCun 2013): the functional core and the
  :class:`~harmonia.optim.vsgd.VSGD` optimizer;
- :mod:`~harmonia.optim.curvature` -- diagonal curvature estimates (bbprop, finite differences)
  and exact references for tests;
- :mod:`~harmonia.optim.quadratic` -- the noisy quadratic model, vectorised runners, baseline
  schedules;
- :mod:`~harmonia.optim.sam` -- sharpness-aware minimisation: :class:`~harmonia.optim.sam.SAM` (and ASAM)
  around any base optimizer, and its ascent step :func:`~harmonia.optim.sam.sam_perturbation`;
- :mod:`~harmonia.optim.landscape` -- losses on grids: the exact SAM envelope, the Gibbs-smoothed
  landscape, Gibbs means and Langevin chains.

Used in: chapters 01 and 04; reused by chapters 02-03.
"""

from harmonia.optim.curvature import (
    bbprop_diag,
    exact_hessian_diag,
    fd_diag,
    gauss_newton_diag,
    sequential_batch_stats,
)
from harmonia.optim.quadratic import (
    NoisyQuadratic,
    QuadraticRun,
    constant,
    greedy_oracle,
    inv_t,
    jumping_optima,
    optimal_schedule,
    run_sgd,
    run_vsgd,
)
from harmonia.optim.landscape import gibbs_mean, langevin_chains, local_minima, sam_envelope, smoothed_landscape
from harmonia.optim.sam import SAM, sam_perturbation
from harmonia.optim.vsgd import VSGD, VSGDState, block_index, vsgd_init, vsgd_step

__all__ = [
    "SAM",
    "sam_perturbation",
    "sam_envelope",
    "smoothed_landscape",
    "gibbs_mean",
    "local_minima",
    "langevin_chains",
    "VSGD",
    "VSGDState",
    "vsgd_init",
    "vsgd_step",
    "block_index",
    "bbprop_diag",
    "sequential_batch_stats",
    "fd_diag",
    "exact_hessian_diag",
    "gauss_newton_diag",
    "NoisyQuadratic",
    "QuadraticRun",
    "jumping_optima",
    "run_sgd",
    "run_vsgd",
    "constant",
    "inv_t",
    "greedy_oracle",
    "optimal_schedule",
]
