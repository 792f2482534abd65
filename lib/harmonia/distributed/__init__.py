"""Layer 5: distributed stochastic optimisation -- EASGD, EAMSGD, DOWNPOUR, LSAM, data-parallel SAM.

- :mod:`~harmonia.distributed.elastic` -- the elastic exchange (one worker, or all at once) and local steps;
- :mod:`~harmonia.distributed.problems` -- objectives with deterministic per-worker streams;
- :mod:`~harmonia.distributed.schedule` -- the order of asynchronous ticks;
- :mod:`~harmonia.distributed.timing` -- simulated step durations (stragglers), asynchronous event schedules,
  synchronous round times and throughputs;
- :mod:`~harmonia.distributed.algorithms` -- the simulation (workers stacked in one process), including LSAM
  (asynchronous EASGD with SAM workers) and data-parallel SAM;
- :mod:`~harmonia.distributed.engine` -- the same algorithms on ``torch.distributed`` (all-reduce,
  parameter server); :mod:`~harmonia.distributed.launch` -- ``torchrun`` entry point and a spawner;
- :mod:`~harmonia.distributed.averaging` -- :class:`ElasticAveraging`, EASGD/EAMSGD for your own ``torchrun``
  script (wraps any model and optimizer);
- :mod:`~harmonia.distributed.tree` -- EASGD-Tree (springs on every edge of a tree of centers);
- :mod:`~harmonia.distributed.sweeps` -- Jacobi and Gauss-Seidel sweeps, one family for EASGD and DOWNPOUR;
- :mod:`~harmonia.distributed.analysis` -- closed forms on quadratics (stability, variance, moment
  recursions), momentum as a negative elastic force, the double-well saddle trap.

Used in: chapters 02-03; chapter 04.
"""

from harmonia.distributed.algorithms import (
    RunHistory,
    RunResult,
    run_downpour,
    run_dp_sam,
    run_easgd,
    run_lsam,
    run_mdownpour,
    run_msgd,
)
from harmonia.distributed.averaging import ElasticAveraging
from harmonia.distributed.elastic import elastic_exchange, elastic_exchange_sync, moving_average, nesterov_step, sgd_step
from harmonia.distributed.problems import ModelObjective, AdditiveNoiseQuadratic, make_objective
from harmonia.distributed.schedule import Scheduler
from harmonia.distributed.timing import EventSchedule, StepTimes, event_schedule, harmonic_number, round_times, throughputs
from harmonia.distributed.tree import Tree, TreeResult, run_easgd_tree

__all__ = [
    "run_easgd", "run_lsam", "run_dp_sam", "run_downpour", "run_mdownpour", "run_msgd", "RunHistory", "RunResult",
    "StepTimes", "EventSchedule", "event_schedule", "round_times", "throughputs", "harmonic_number",
    "elastic_exchange", "elastic_exchange_sync", "moving_average", "sgd_step", "nesterov_step",
    "AdditiveNoiseQuadratic", "ModelObjective", "make_objective", "Scheduler", "Tree", "TreeResult", "run_easgd_tree",
    "ElasticAveraging",
]
