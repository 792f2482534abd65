"""Layer 2: stochastic optimisation.

- :mod:`~harmonia.optim.vsgd` -- vSGD (Schaul, Zhang & LeCun 2013): the functional core and the
  :class:`~harmonia.optim.vsgd.VSGD` optimizer;
- :mod:`~harmonia.optim.curvature` -- diagonal curvature estimates (bbprop, finite differences)
  and exact references for tests;
- :mod:`~harmonia.optim.quadratic` -- the noisy quadratic model, vectorised runners, baseline
  schedules.

Used in: chapter 01; reused by chapters 02-04.
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
from harmonia.optim.vsgd import VSGD, VSGDState, block_index, vsgd_init, vsgd_step

__all__ = [
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
