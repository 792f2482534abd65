"""Who computes next: the event orders of the simulated workers.

- ``"round_robin"``: ticks go to workers 0, 1, ..., p-1, 0, 1, ... (the paper's analysis, and the order
  a deterministic parameter server reproduces exactly);
- ``"random"``: each tick goes to a uniformly drawn worker (seeded);
- ``"speeds"``: worker ``i`` needs ``1/speeds[i]`` time units per step; ticks follow the finishing
  times (a priority queue), so fast workers communicate more often.

Used in: chapter 02; chapters 03-04.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence

import torch

from harmonia.config import check_in, check_positive

__all__ = ["SCHEDULES", "Scheduler"]

SCHEDULES = ("round_robin", "random", "speeds")


class Scheduler:
    """An endless sequence of worker indices.

    Parameters
    ----------
    kind : {"round_robin", "random", "speeds"}
    p : int
        Number of workers.
    seed : int
        Seed of ``"random"``.
    speeds : sequence of float, optional
        Steps per time unit of each worker (``"speeds"`` only), > 0.
    """

    def __init__(self, kind: str, p: int, seed: int = 0, speeds: Sequence[float] | None = None) -> None:
        self.kind = check_in(kind, "kind", SCHEDULES)
        self.p = check_positive(p, "p", integer=True)
        self.seed = seed
        if kind == "speeds":
            if speeds is None or len(speeds) != p:
                raise ValueError(f"speeds: expected {p} positive numbers for kind='speeds', got {speeds!r}")
            for k, s in enumerate(speeds):
                check_positive(s, f"speeds[{k}]")
        self.speeds = None if speeds is None else [float(s) for s in speeds]

    def __iter__(self) -> Iterator[int]:
        if self.kind == "round_robin":
            t = 0
            while True:
                yield t % self.p
                t += 1
        elif self.kind == "random":
            gen = torch.Generator().manual_seed(self.seed)
            while True:
                yield from torch.randint(0, self.p, (1024,), generator=gen).tolist()
        else:
            heap = [(1.0 / s, i) for i, s in enumerate(self.speeds)]
            heapq.heapify(heap)
            while True:
                t, i = heapq.heappop(heap)
                yield i
                heapq.heappush(heap, (t + 1.0 / self.speeds[i], i))
