r"""Layer 2: data assimilation (chapter 14).

- :mod:`~harmonia.assimilation.models` -- state-space models: the rotation toy and Lorenz-96 (RK4), observation
  operators, simulation, the per-sample RMSE;
- :mod:`~harmonia.assimilation.kalman` -- the Kalman filter and its steady state (the discrete Riccati equation);
- :mod:`~harmonia.assimilation.ensemble` -- the stochastic EnKF with Gaspari-Cohn localisation and the LETKF, with
  inflation, and a cycle runner;
- :mod:`~harmonia.assimilation.dan` -- data assimilation networks: analyzer, propagater, Gaussian procoder, online
  truncated back-propagation through time, evaluation.
"""

from harmonia.assimilation.dan import DAN, DANHistory, dan_loss, evaluate_dan, train_online
from harmonia.assimilation.ensemble import (
    FilterRun,
    assimilate,
    enkf_analysis,
    gaspari_cohn,
    letkf_analysis,
    periodic_distance,
)
from harmonia.assimilation.kalman import KalmanResult, kalman_filter, steady_state
from harmonia.assimilation.models import (
    StateSpaceModel,
    lorenz96_initial,
    lorenz96_model,
    lorenz96_rhs,
    lorenz96_step,
    rmse_per_sample,
    rotation2d,
    rotation_model,
)

__all__ = [
    "StateSpaceModel", "lorenz96_rhs", "lorenz96_step", "lorenz96_model", "lorenz96_initial", "rotation2d",
    "rotation_model", "rmse_per_sample",
    "KalmanResult", "kalman_filter", "steady_state",
    "periodic_distance", "gaspari_cohn", "enkf_analysis", "letkf_analysis", "FilterRun", "assimilate",
    "DAN", "DANHistory", "dan_loss", "train_online", "evaluate_dan",
]
