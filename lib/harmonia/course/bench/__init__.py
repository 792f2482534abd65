"""Benchmarks: scripts that time the library (and peer libraries, from the ``bench`` extra) and
print a table. Speed claims of the course come from here, never from timed tests.

``python -m harmonia.course bench --list`` lists them; ``python -m harmonia.course bench NAME``
runs ``harmonia.course.bench.NAME.main(args)``, prints its table and writes it to
``build/bench/NAME.txt``. Each benchmark module defines ``DESCRIPTION`` and ``main(argv) -> str``.
"""

from __future__ import annotations

import pkgutil
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

__all__ = ["Timing", "time_call", "format_table", "available"]


@dataclass(frozen=True)
class Timing:
    """Wall times of repeated calls, in seconds: median, and the min and max over the repeats."""

    median: float
    best: float
    worst: float
    repeats: int


def _sync(device: torch.device | str | None) -> None:
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], *, repeats: int = 5, warmup: int = 1,
              device: torch.device | str | None = None) -> Timing:
    """Time ``fn()`` ``repeats`` times after ``warmup`` untimed calls; CUDA work is synchronised
    before and after each call so the time covers the kernels, not just their launch."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats, warmup: expected repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return Timing(statistics.median(times), min(times), max(times), repeats)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A fixed-width text table; floats are printed with 4 significant digits."""
    cells = [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)] if cells else [len(h) for h in headers]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def available() -> dict[str, str]:
    """``{name: description}`` of the benchmark modules in this package."""
    import importlib

    out = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        out[info.name] = getattr(module, "DESCRIPTION", "")
    return out
