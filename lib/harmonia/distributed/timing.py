"""Simulated wall-clock: how long workers take per step, and what that does to synchronous and asynchronous runs.

A :class:`StepTimes` model draws step durations (constant, exponential, log-normal, or a straggler mix).
The durations of a run are drawn once, as a tensor (p, steps), and then shared, so that two methods can
be compared on the *same* schedule:

- :func:`event_schedule` -- asynchronous workers: each starts its next step when it finishes the last;
  the events (worker, finishing time) merged in time order. It iterates like a
  :class:`~harmonia.distributed.schedule.Scheduler`, so every asynchronous runner accepts it;
- :func:`round_times` -- synchronous rounds: every round waits for the slowest worker (a barrier), plus
  the all-reduce cost: the round ends at :math:`\\sum_r(\\max_it_{i,r}+c)`.

With i.i.d. exponential durations of mean :math:`\\mu` and no communication cost, a synchronous round takes
:math:`\\mathbb E\\max_{i\\le P}t_i=\\mu H_P` (:math:`H_P=\\sum_{k\\le P}1/k`) while asynchronous workers finish
:math:`P/\\mu` steps per unit time: the throughput ratio is :math:`H_P` (:func:`harmonic_number`).

Used in: chapter 04 (straggler throughput; LSAM against data-parallel SAM at equal simulated time).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from harmonia.config import check_in, check_int, check_positive, check_tensor, make_generator

__all__ = ["StepTimes", "EventSchedule", "event_schedule", "round_times", "throughputs", "harmonic_number",
           "STEP_TIME_KINDS"]

STEP_TIME_KINDS = ("constant", "exponential", "lognormal", "straggler")


def harmonic_number(p: int) -> float:
    """:math:`H_P=\\sum_{k=1}^P 1/k`."""
    p = check_int(p, "p", minimum=1)
    return math.fsum(1.0 / k for k in range(1, p + 1))


@dataclass(frozen=True)
class StepTimes:
    """A model of step durations.

    Attributes
    ----------
    kind : {"constant", "exponential", "lognormal", "straggler"}
        ``constant``: every step takes ``mean``; ``exponential``: i.i.d. with mean ``mean``;
        ``lognormal``: :math:`\\exp(\\mathcal N(m, s^2))` with ``s = sigma`` and mean ``mean``;
        ``straggler``: ``mean``, times ``factor`` with probability ``p_straggler``.
    mean, sigma, p_straggler, factor : float
    """

    kind: str = "exponential"
    mean: float = 1.0
    sigma: float = 0.5
    p_straggler: float = 0.1
    factor: float = 5.0

    def __post_init__(self) -> None:
        check_in(self.kind, "kind", STEP_TIME_KINDS)
        check_positive(self.mean, "mean")
        check_positive(self.sigma, "sigma", allow_zero=True)
        check_positive(self.factor, "factor")
        if not 0 <= self.p_straggler <= 1:
            raise ValueError(f"p_straggler: expected a probability in [0, 1], got {self.p_straggler}")

    def sample(self, shape: tuple[int, ...], generator: torch.Generator | int | None = 0) -> torch.Tensor:
        """Durations of the given shape (float64, CPU, deterministic given the generator or seed)."""
        gen = make_generator(generator, name="generator")
        f64 = torch.float64
        if self.kind == "constant":
            return torch.full(shape, self.mean, dtype=f64)
        if self.kind == "exponential":
            return -self.mean * torch.log1p(-torch.rand(shape, generator=gen, dtype=f64))
        if self.kind == "lognormal":
            m = math.log(self.mean) - 0.5 * self.sigma**2
            return torch.exp(m + self.sigma * torch.randn(shape, generator=gen, dtype=f64))
        slow = torch.rand(shape, generator=gen, dtype=f64) < self.p_straggler
        return torch.where(slow, self.mean * self.factor, self.mean).to(f64)


@dataclass(frozen=True)
class EventSchedule:
    """Asynchronous events in time order: ``workers[k]`` finishes a step at ``times[k]``.

    Iterating yields the workers (like a :class:`~harmonia.distributed.schedule.Scheduler`, with ``kind ==
    "events"``); the sequence is finite: a run may use at most ``len(schedule)`` ticks."""

    workers: tuple[int, ...]
    times: tuple[float, ...]
    p: int
    kind: str = "events"

    def __iter__(self) -> Iterator[int]:
        return iter(self.workers)

    def __len__(self) -> int:
        return len(self.workers)


def event_schedule(durations: torch.Tensor) -> EventSchedule:
    """The finishing events of ``p`` asynchronous workers whose step durations are ``durations`` (p, steps).

    Worker ``i``'s ``k``-th step ends at ``durations[i, :k+1].sum()``; ties go to the lower worker index.
    """
    check_tensor(durations, "durations", ndim=2, dtype="floating", nonempty=True)
    if bool((durations <= 0).any()) or not bool(torch.isfinite(durations).all()):
        raise ValueError("durations: expected positive finite step durations")
    ends = durations.double().cumsum(dim=1).tolist()
    p = len(ends)
    heap = [(row[0], i, 0) for i, row in enumerate(ends)]
    heapq.heapify(heap)
    workers, times = [], []
    while heap:
        t, i, k = heapq.heappop(heap)
        workers.append(i)
        times.append(t)
        if k + 1 < len(ends[i]):
            heapq.heappush(heap, (ends[i][k + 1], i, k + 1))
    return EventSchedule(tuple(workers), tuple(times), p)


def round_times(durations: torch.Tensor, allreduce_cost: float = 0.0) -> torch.Tensor:
    """End times of synchronous rounds (rounds,): round ``r`` waits for the slowest of the ``p`` workers'
    ``durations[:, r]``, then pays ``allreduce_cost``."""
    check_tensor(durations, "durations", ndim=2, dtype="floating", nonempty=True)
    check_positive(allreduce_cost, "allreduce_cost", allow_zero=True)
    return (durations.double().max(dim=0).values + allreduce_cost).cumsum(dim=0)


def throughputs(durations: torch.Tensor, allreduce_cost: float = 0.0) -> dict[str, float]:
    """Worker steps per unit time, synchronous and asynchronous, from the same durations (p, steps).

    Synchronous: ``p * steps`` over the end of the last round. Asynchronous: the steps finished by the time
    the first worker runs out of drawn durations, over that time (every worker is still busy until then).
    ``ratio`` is asynchronous / synchronous.
    """
    check_tensor(durations, "durations", ndim=2, dtype="floating", nonempty=True)
    p, steps = durations.shape
    sync = p * steps / float(round_times(durations, allreduce_cost)[-1])
    ends = durations.double().cumsum(dim=1)
    horizon = float(ends[:, -1].min())
    asyn = int((ends <= horizon).sum()) / horizon
    return {"sync": sync, "async": asyn, "ratio": asyn / sync}
