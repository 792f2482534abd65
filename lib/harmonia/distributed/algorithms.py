"""EASGD, EAMSGD, DOWNPOUR and the sequential baselines, simulated in one process.

Workers hold flat parameter vectors stacked in ``X`` (p, n); the center :math:`\\tilde x` is (n,).
``mode="sync"`` updates all workers from the same old state (Jacobi; gradients of all workers in
one call). ``mode="async"`` processes one worker at a time in the order of a :class:`Scheduler`,
following the paper's Algorithms 1-2 (asynchronous EASGD / EAMSGD): worker ``i`` with clock
:math:`t^i`

1. copies :math:`x\\leftarrow x^i`;
2. if :math:`\\tau\\mid t^i`: :math:`d=\\alpha(x-\\tilde x)`, :math:`x^i\\leftarrow x^i-d`, :math:`\\tilde x\\leftarrow\\tilde x+d`;
3. EASGD: :math:`x^i\\leftarrow x^i-\\eta g(x)`; EAMSGD: :math:`v^i\\leftarrow\\delta v^i-\\eta g(x+\\delta v^i)`,
   :math:`x^i\\leftarrow x^i+v^i`.

DOWNPOUR: if :math:`\\tau\\mid t^i`: :math:`\\tilde x\\leftarrow\\tilde x+u^i`, :math:`x^i\\leftarrow\\tilde x`, :math:`u^i\\leftarrow0`;
then :math:`x^i\\leftarrow x^i-\\eta g(x^i)`, :math:`u^i\\leftarrow u^i-\\eta g(x^i)`. MDOWNPOUR (:math:`\\tau=1`): the worker
reads :math:`\\tilde x`, the master takes a Nesterov step with its gradient.

A *round* is one step of every worker (p ticks when asynchronous); histories are recorded per round.

LSAM (:func:`run_lsam`, Teng & Zhang 2025, *as we reconstruct it*: the paper's update rule was not available)
is asynchronous EASGD whose workers take SAM steps: each worker's gradient is measured at
:math:`x+\\hat\\epsilon`, :math:`\\hat\\epsilon=\\rho g/(\\|g\\|+\\gamma)`, on the same batch. Data-parallel SAM
(:func:`run_dp_sam`) is its synchronous baseline: every round all workers take SAM gradients at the shared
point and one averaged step follows. Given a :class:`~harmonia.distributed.timing.EventSchedule` (or round
durations), the histories also record simulated wall-clock ``times``.

Used in: chapter 02; chapters 03-04.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from harmonia.config import check_in, check_positive, check_tensor
from harmonia.distributed.elastic import elastic_exchange, elastic_exchange_sync, local_step
from harmonia.distributed.problems import worker_gradients
from harmonia.distributed.schedule import Scheduler
from harmonia.distributed.timing import EventSchedule, round_times

__all__ = ["RunHistory", "RunResult", "check_sam", "run_easgd", "run_lsam", "run_dp_sam", "run_downpour", "run_mdownpour", "run_msgd",
           "DIVERGENCE_THRESHOLD"]

#: A center with an entry above this magnitude (or not finite) counts as diverged.
DIVERGENCE_THRESHOLD = 1e8


@dataclass
class RunHistory:
    """Per-round records of a run: ``rounds``, ``center_loss``, ``center_error``, ``spread``
    (:math:`\\frac1p\\sum_i\\|x^i-\\tilde x\\|^2`) and ``messages`` (exchanges with the center so far),
    ``diverged``, the wall time ``seconds``, ``times``: the simulated wall-clock of each record (only
    when the run follows an event schedule or round durations) and ``gradients``: the gradient
    evaluations of all workers so far (SAM counts two per step)."""

    rounds: list[int] = field(default_factory=list)
    center_loss: list[float] = field(default_factory=list)
    center_error: list[float] = field(default_factory=list)
    spread: list[float] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    gradients: list[int] = field(default_factory=list)
    diverged: bool = False
    seconds: float = 0.0


@dataclass
class RunResult:
    """Final state of a run: ``center`` (n,), ``workers`` (p, n), ``history``, and ``displacement``
    (p, n): the sum of each worker's local (gradient or momentum) steps, for the conservation law
    :math:`\\tilde x+\\sum_ix^i=(p+1)x_0+\\sum_i\\text{displacement}_i` of elastic averaging."""

    center: torch.Tensor
    workers: torch.Tensor
    history: RunHistory
    displacement: torch.Tensor | None = None


def _start(objective, x0: torch.Tensor, p: int, rounds: int, record_every: int):
    check_tensor(x0, "x0", shape=(objective.n,), dtype="floating")
    p = check_positive(p, "p", integer=True)
    if getattr(objective, "p", p) < p:
        raise ValueError(f"p: expected at most the objective's {objective.p} worker streams, got {p}")
    check_positive(rounds, "rounds", integer=True)
    check_positive(record_every, "record_every", integer=True)
    objective.reset()
    return x0.expand(p, -1).clone(), x0.clone()


def record_round(hist: RunHistory, objective, r: int, center: torch.Tensor, X: torch.Tensor, messages: int,
                 gradients: int | None = None) -> bool:
    """Append the records of round ``r`` (``gradients``: evaluations so far, default ``p r``); return True
    when the run diverged."""
    finite = bool(torch.isfinite(center).all()) and float(center.abs().max()) < DIVERGENCE_THRESHOLD
    hist.rounds.append(r)
    hist.messages.append(messages)
    hist.gradients.append(X.shape[0] * r if gradients is None else gradients)
    if not finite:
        hist.center_loss.append(float("nan"))
        hist.center_error.append(float("nan"))
        hist.spread.append(float("nan"))
        hist.diverged = True
        return True
    hist.center_loss.append(objective.loss(center))
    hist.center_error.append(objective.error(center))
    hist.spread.append(float((X - center).square().sum(dim=1).mean()))
    return False


def _scheduler(schedule: str | Scheduler | EventSchedule, p: int) -> Scheduler | EventSchedule:
    """The scheduler of a run: a name (``"round_robin"``, ``"random"``), a :class:`Scheduler` or an
    :class:`~harmonia.distributed.timing.EventSchedule` for ``p`` workers."""
    if isinstance(schedule, (Scheduler, EventSchedule)):
        if schedule.p != p:
            raise ValueError(f"schedule: expected a Scheduler for p = {p} workers, got one for {schedule.p}")
        return schedule
    check_in(schedule, "schedule", ("round_robin", "random"))
    return Scheduler(schedule, p)


def _is_round_robin(schedule: str | Scheduler, p: int) -> bool:
    return _scheduler(schedule, p).kind == "round_robin"


def check_sam(rho: float, gamma: float) -> None:
    """Validate SAM's radius and constant (both >= 0)."""
    check_positive(rho, "rho", allow_zero=True)
    check_positive(gamma, "gamma", allow_zero=True)


def run_easgd(objective, x0: torch.Tensor, p: int, eta: float, rounds: int, *, alpha: float | None = None,
              beta: float = 0.9, tau: int = 1, momentum: float = 0.0, mode: str = "async",
              schedule: str | Scheduler | EventSchedule = "round_robin", record_every: int = 1,
              rho: float = 0.0, gamma: float = 1e-12) -> RunResult:
    """EASGD (``momentum=0``) or EAMSGD (Nesterov ``momentum`` :math:`\\delta>0`) with ``p`` workers; with
    ``rho > 0`` the workers take SAM steps (LSAM, see :func:`run_lsam`).

    Parameters
    ----------
    objective : AdditiveNoiseQuadratic or ModelObjective
        Supplies ``grad(points, workers)``, ``loss(x)``, ``error(x)``, ``reset()`` and ``n``.
    x0 : Tensor, shape (n,)
        Common starting point of the workers and the center.
    p : int
        Number of workers.
    eta : float
        Learning rate.
    rounds : int
        Steps per worker.
    alpha, beta : float
        Moving rate :math:`\\alpha`; by default :math:`\\alpha=\\beta/p` (the paper's :math:`\\beta=0.9`).
    tau : int
        Communication period.
    momentum : float
        :math:`\\delta` of EAMSGD (0 gives EASGD).
    mode : {"async", "sync"}
        Asynchronous (one worker per tick, Gauss-Seidel) or synchronous (Jacobi).
    schedule : str, Scheduler or EventSchedule
        Order of the asynchronous ticks (``"round_robin"``, ``"random"``, a :class:`Scheduler`, or the events
        of :func:`harmonia.distributed.timing.event_schedule`, which also gives the records simulated times).
    record_every : int
        Record the history every this many rounds (and after the last).
    rho, gamma : float
        SAM radius and constant of the workers' steps (``rho=0``: plain gradient steps, the same draws).
    """
    check_in(mode, "mode", ("async", "sync"))
    check_sam(rho, gamma)
    per_step = 2 if rho else 1
    check_positive(eta, "eta")
    tau = check_positive(tau, "tau", integer=True)
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum: expected a value in [0, 1), got {momentum}")
    X, center = _start(objective, x0, p, rounds, record_every)
    _scheduler(schedule, p)  # validated in every mode
    alpha = beta / p if alpha is None else alpha
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha: expected a moving rate in (0, 1], got {alpha}")
    V = torch.zeros_like(X)
    disp = torch.zeros_like(X)
    hist, messages, start = RunHistory(), 0, time.perf_counter()
    record_round(hist, objective, 0, center, X, messages)
    all_workers = list(range(p))
    if mode == "sync" or _is_round_robin(schedule, p):
        # sync: every worker pulls from the same old center (Jacobi). Round robin, vectorised exactly: worker i's
        # gradient is taken at its pre-elastic copy, which no other worker touches, so all gradients of a round
        # can come first (one call); the exchanges then run in worker order (Gauss-Seidel), and the local steps
        # never read the center. The two differ only in the exchange.
        def exchange(X: torch.Tensor, center: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            if mode == "sync":
                return elastic_exchange_sync(X, center, alpha)
            for i in range(p):
                X[i], center, _ = elastic_exchange(X[i], center, alpha)
            return X, center

        for t in range(rounds):
            points = X + momentum * V if momentum else X
            G = worker_gradients(objective, points, all_workers, rho, gamma)
            if t % tau == 0:
                X, center = exchange(X, center)
                messages += p
            X, V, step = local_step(X, V, G, eta, momentum)
            disp = disp + step
            if (t + 1) % record_every == 0 or t + 1 == rounds:
                if record_round(hist, objective, t + 1, center, X, messages, gradients=per_step * p * (t + 1)):
                    break
    else:
        sched = _scheduler(schedule, p)
        events = sched if isinstance(sched, EventSchedule) else None
        if events is not None:
            hist.times.append(0.0)
            if len(events) < rounds * p:
                raise ValueError(f"schedule: expected at least rounds * p = {rounds * p} events, got {len(events)}")
        clock = [0] * p
        ticks = iter(sched)
        for tick in range(rounds * p):
            i = next(ticks)
            x = X[i].clone()
            if clock[i] % tau == 0:
                X[i], center, _ = elastic_exchange(X[i], center, alpha)
                messages += 1
            g = worker_gradients(objective, (x + momentum * V[i] if momentum else x)[None], [i], rho, gamma)[0]
            X[i], V[i], step = local_step(X[i], V[i], g, eta, momentum)
            disp[i] += step
            clock[i] += 1
            if (tick + 1) % (p * record_every) == 0 or tick + 1 == rounds * p:
                if events is not None:
                    hist.times.append(events.times[tick])
                if record_round(hist, objective, (tick + 1) // p, center, X, messages, gradients=per_step * (tick + 1)):
                    break
    hist.seconds = time.perf_counter() - start
    return RunResult(center, X, hist, disp)


def run_lsam(objective, x0: torch.Tensor, p: int, eta: float, rounds: int, *, rho: float = 0.05, gamma: float = 1e-12,
             alpha: float | None = None, beta: float = 0.9, tau: int = 4, momentum: float = 0.0,
             schedule: str | Scheduler | EventSchedule = "round_robin", record_every: int = 1) -> RunResult:
    """LSAM as we reconstruct it (Teng & Zhang 2025): asynchronous EASGD whose ``p`` workers take SAM steps.

    Each worker runs SAM on its own small batches (a sampler of the Gibbs density around the center) and,
    every ``tau`` of its steps, makes the elastic exchange :math:`d=\\alpha(x^i-\\tilde x)`,
    :math:`x^i\\leftarrow x^i-d`, :math:`\\tilde x\\leftarrow\\tilde x+d` without any barrier; the center is the model.
    ``rho=0`` is asynchronous EASGD exactly (the same draws, the same events). The arguments are those of
    :func:`run_easgd` (``mode="async"``); pass an :class:`~harmonia.distributed.timing.EventSchedule` for
    simulated wall-clock times.
    """
    return run_easgd(objective, x0, p, eta, rounds, alpha=alpha, beta=beta, tau=tau, momentum=momentum, mode="async",
                     schedule=schedule, record_every=record_every, rho=rho, gamma=gamma)


def run_dp_sam(objective, x0: torch.Tensor, p: int, eta: float, rounds: int, *, rho: float = 0.05,
               gamma: float = 1e-12, global_eps: bool = False, momentum: float = 0.0,
               durations: torch.Tensor | None = None, allreduce_cost: float = 0.0, record_every: int = 1) -> RunResult:
    """Data-parallel SAM (Foret et al. 2021), synchronous: every round each of the ``p`` workers takes a SAM
    gradient on its own batch at the shared point, and one step with their mean follows (a barrier).

    Parameters
    ----------
    objective, x0, p, eta, rounds, momentum, record_every
        As in :func:`run_easgd` (Nesterov momentum in Sutskever's form, gradients at :math:`x+\\delta v`).
    rho, gamma : float
        SAM radius and constant.
    global_eps : bool
        ``False`` (default): each worker's own perturbation from its own gradient (no synchronisation of the
        ascent); ``True``: one perturbation from the averaged gradient (a second all-reduce per round).
    durations : tensor (p, rounds), optional
        Step durations (:class:`~harmonia.distributed.timing.StepTimes`); each round lasts its slowest
        worker's plus ``allreduce_cost``, and the history records those simulated times.

    Returns
    -------
    RunResult
        ``center`` is the shared model; ``workers`` its ``p`` copies.
    """
    check_positive(eta, "eta")
    check_sam(rho, gamma)
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum: expected a value in [0, 1), got {momentum}")
    X, x = _start(objective, x0, p, rounds, record_every)
    ends = None
    if durations is not None:
        check_tensor(durations, "durations", ndim=2, dtype="floating")
        if durations.shape[0] != p or durations.shape[1] < rounds:
            raise ValueError(f"durations: expected shape ({p}, >= {rounds}), got {tuple(durations.shape)}")
        ends = round_times(durations[:, :rounds], allreduce_cost).tolist()
    v = torch.zeros_like(x)
    workers = list(range(p))
    hist, start = RunHistory(), time.perf_counter()
    if ends is not None:
        hist.times.append(0.0)
    record_round(hist, objective, 0, x, X, 0)
    per_step = 2 if rho else 1
    for t in range(rounds):
        point = x + momentum * v if momentum else x
        g = worker_gradients(objective, point.expand(p, -1), workers, rho, gamma, global_eps).mean(dim=0)
        x, v, _ = local_step(x, v, g, eta, momentum)
        if (t + 1) % record_every == 0 or t + 1 == rounds:
            if ends is not None:
                hist.times.append(ends[t])
            if record_round(hist, objective, t + 1, x, x.expand(p, -1), p * (t + 1), gradients=per_step * p * (t + 1)):
                break
    hist.seconds = time.perf_counter() - start
    return RunResult(x, x.expand(p, -1).clone(), hist)


def run_downpour(objective, x0: torch.Tensor, p: int, eta: float, rounds: int, *, tau: int = 1,
                 schedule: str | Scheduler = "round_robin", record_every: int = 1) -> RunResult:
    """DOWNPOUR (Dean et al. 2012): workers push accumulated steps every ``tau`` steps and pull the center."""
    check_positive(eta, "eta")
    tau = check_positive(tau, "tau", integer=True)
    X, center = _start(objective, x0, p, rounds, record_every)
    U = torch.zeros_like(X)
    hist, messages, start = RunHistory(), 0, time.perf_counter()
    record_round(hist, objective, 0, center, X, messages)
    if _is_round_robin(schedule, p):
        # exact vectorisation of round robin: the pushes and pulls of a round run in worker order,
        # then every worker's gradient at its fresh copy in one call
        all_workers = list(range(p))
        for t in range(rounds):
            if t % tau == 0:
                for i in range(p):
                    center = center + U[i]
                    X[i] = center
                    U[i] = 0.0
                messages += p
            step = -eta * objective.grad(X, all_workers)
            X, U = X + step, U + step
            if (t + 1) % record_every == 0 or t + 1 == rounds:
                if record_round(hist, objective, t + 1, center, X, messages):
                    break
        hist.seconds = time.perf_counter() - start
        return RunResult(center, X, hist)
    sched = _scheduler(schedule, p)
    clock = [0] * p
    ticks = iter(sched)
    for tick in range(rounds * p):
        i = next(ticks)
        if clock[i] % tau == 0:
            center = center + U[i]
            X[i] = center
            U[i] = 0.0
            messages += 1
        step = -eta * objective.grad(X[i][None], [i])[0]
        X[i] = X[i] + step
        U[i] = U[i] + step
        clock[i] += 1
        if (tick + 1) % (p * record_every) == 0 or tick + 1 == rounds * p:
            if record_round(hist, objective, (tick + 1) // p, center, X, messages):
                break
    hist.seconds = time.perf_counter() - start
    return RunResult(center, X, hist)


def run_mdownpour(objective, x0: torch.Tensor, p: int, eta: float, rounds: int, *, momentum: float = 0.9,
                  schedule: str | Scheduler = "round_robin", record_every: int = 1) -> RunResult:
    """MDOWNPOUR (:math:`\\tau=1`): each tick a worker's gradient at :math:`\\tilde x` drives a Nesterov step of the
    master, :math:`\\tilde v\\leftarrow\\delta\\tilde v-\\eta g`, :math:`\\tilde x\\leftarrow\\tilde x-\\eta g+\\delta\\tilde v`
    (PyTorch's ``SGD(nesterov=True)`` form)."""
    check_positive(eta, "eta")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum: expected a value in [0, 1), got {momentum}")
    X, center = _start(objective, x0, p, rounds, record_every)
    v = torch.zeros_like(center)
    hist, messages, start = RunHistory(), 0, time.perf_counter()
    record_round(hist, objective, 0, center, X, messages)
    sched = _scheduler(schedule, p)
    ticks = iter(sched)
    for tick in range(rounds * p):
        i = next(ticks)
        g = objective.grad(center[None], [i])[0]
        v = momentum * v - eta * g
        center = center - eta * g + momentum * v
        X[i] = center
        messages += 1
        if (tick + 1) % (p * record_every) == 0 or tick + 1 == rounds * p:
            if record_round(hist, objective, (tick + 1) // p, center, X, messages):
                break
    hist.seconds = time.perf_counter() - start
    return RunResult(center, X, hist)


def run_msgd(objective, x0: torch.Tensor, eta: float, rounds: int, *, momentum: float = 0.0,
             average: str | None = None, record_every: int = 1) -> RunResult:
    """Sequential baseline (one worker): SGD or Nesterov momentum SGD (Sutskever form), optionally
    evaluated at an average of the iterates: ``average="asgd"`` (:math:`a_t=1/(t+1)`, Polyak-Ruppert)."""
    check_positive(eta, "eta")
    if average not in (None, "asgd"):
        raise ValueError(f"average: expected None or 'asgd', got {average!r}")
    X, _ = _start(objective, x0, 1, rounds, record_every)
    x, v = X[0], torch.zeros_like(X[0])
    z = x.clone()
    hist, start = RunHistory(), time.perf_counter()
    record_round(hist, objective, 0, z, x[None], 0)
    for t in range(rounds):
        g = objective.grad((x + momentum * v)[None], [0])[0]
        v = momentum * v - eta * g
        x = x + v
        z = z + (x - z) / (t + 2) if average == "asgd" else x
        if (t + 1) % record_every == 0 or t + 1 == rounds:
            if record_round(hist, objective, t + 1, z, x[None], 0):
                break
    hist.seconds = time.perf_counter() - start
    return RunResult(z, x[None], hist)
