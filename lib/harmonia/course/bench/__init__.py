"""Benchmarks: scripts that time the library (and peer libraries, from the ``bench`` extra) and
print a table. Speed claims of the course come from here, never from timed tests.

``python -m harmonia.course bench --list`` lists them; ``python -m harmonia.course bench NAME``
runs ``harmonia.course.bench.NAME.main(args)``, prints its table and writes it to
``build/bench/NAME.txt``. Each benchmark module defines ``DESCRIPTION`` and ``main(argv) -> str``;
``python -m harmonia.course bench all`` runs every one with its defaults and writes one Markdown report,
``build/bench/report.md``.

On a shared or noisy machine a single "median of 3" per side is not a ratio one can trust: comparisons with a peer
use :func:`alternate` (the two sides timed in turns, A B B A ..., and the ratio summarised over the rounds),
:func:`peak_rss_mib` measures a library's whole-process peak memory in a fresh interpreter, and
:func:`bound_fraction` reports which share of a call's time is spent in the work the method cannot avoid (FFTs and
filter products, found by the profiler).
"""

from __future__ import annotations

import pkgutil
import statistics
import time
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Timing", "time_call", "format_table", "available", "Comparison", "alternate", "round_robin",
           "ratio_spread", "peak_rss_mib", "bound_fraction", "BOUND_OPS"]


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


def _one_call(fn: Callable[[], object], device: torch.device | str | None) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


@dataclass(frozen=True)
class Comparison:
    """Two callables timed in turns: each side's :class:`Timing`, and the per-round ratio peer / ours (> 1: ours is
    faster) summarised by its median and its 10 % and 90 % quantiles over the rounds."""

    ours: Timing
    peer: Timing
    ratio: float
    ratio_lo: float
    ratio_hi: float
    rounds: int

    def ratio_text(self) -> str:
        """``"1.52x [1.31-1.77]"``: the median ratio and its 10-90 % spread."""
        return f"{self.ratio:.2f}x [{self.ratio_lo:.2f}-{self.ratio_hi:.2f}]"


def round_robin(fns: dict[str, Callable[[], object]], *, rounds: int = 9, warmup: int = 1,
                device: torch.device | str | None = None) -> dict[str, list[float]]:
    """Time every callable once per round, the order rotating from round to round, so that a slow phase of the
    machine hits all of them alike. Returns ``{name: [seconds per round]}``."""
    if rounds < 1 or warmup < 0:
        raise ValueError(f"rounds, warmup: expected rounds >= 1 and warmup >= 0, got {rounds}, {warmup}")
    if not fns:
        raise ValueError("fns: expected at least one callable, got none")
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        order = names[shift:] + names[:shift]
        if r % 2:
            order = order[::-1]
        for name in order:
            times[name].append(_one_call(fns[name], device))
    return times


def ratio_spread(numerator: Sequence[float], denominator: Sequence[float]) -> tuple[float, float, float]:
    """Median and 10 % / 90 % quantiles of the per-round ratios numerator / denominator."""
    ratios = [a / b for a, b in zip(numerator, denominator)]
    lo, hi = np.quantile(ratios, [0.1, 0.9])                # linear interpolation between order statistics
    return statistics.median(ratios), float(lo), float(hi)


def alternate(ours: Callable[[], object], peer: Callable[[], object], *, rounds: int = 9, warmup: int = 1,
              device: torch.device | str | None = None) -> Comparison:
    """Time ``ours`` and ``peer`` in alternation (ours first in even rounds, the peer first in odd ones), so that a
    slow phase of the machine hits both sides alike; the ratio of each round is computed within the round."""
    times = round_robin({"ours": ours, "peer": peer}, rounds=rounds, warmup=warmup, device=device)
    t_o, t_p = times["ours"], times["peer"]

    def timing(ts: list[float]) -> Timing:
        return Timing(statistics.median(ts), min(ts), max(ts), rounds)

    return Comparison(timing(t_o), timing(t_p), *ratio_spread(t_p, t_o), rounds)


def peak_rss_mib(code: str, timeout: float = 600.0) -> float:
    """Whole-process peak resident memory (MiB) of a fresh ``python -c code``: a library's footprint on one
    workload, imports included, unaffected by what this process already holds. Read from ``VmHWM`` in
    ``/proc/self/status`` (``ru_maxrss`` would also count the forking parent's memory, which Linux carries across
    ``exec``), or ``ru_maxrss`` where there is no ``/proc``."""
    probe = code + (
        "\nimport os, resource\n"
        "if os.path.exists('/proc/self/status'):\n"
        "    kib = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        "else:\n"
        "    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print('PEAK_KIB', kib)\n")
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"code: the memory probe failed with exit status {res.returncode}: {res.stderr[-500:]}")
    kib = next(line.split()[1] for line in res.stdout.splitlines() if line.startswith("PEAK_KIB"))
    return int(kib) / 1024


#: profiler event names (substrings) of the work a Fourier-domain transform cannot avoid
BOUND_OPS = ("fft", "bmm", "mul", "hypot", "abs", "mm")


def bound_fraction(fn: Callable[[], object], ops: Sequence[str] = BOUND_OPS) -> tuple[float, float, float]:
    """Run ``fn`` once under the profiler: (time in the ops named by ``ops``, total operator time, their ratio),
    times in seconds. The first is the call's "bound" -- its FFTs and filter products, each timed as it ran --
    and the ratio says how close the call is to it (1: nothing but unavoidable work)."""
    from torch.profiler import ProfilerActivity, profile

    fn()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    bound = total = 0.0
    for ev in prof.key_averages():
        if not ev.key.startswith("aten::"):
            continue
        t = ev.self_cpu_time_total / 1e6
        total += t
        name = ev.key[len("aten::"):]
        if any(op in name for op in ops) and "copy" not in name:
            bound += t
    return bound, total, bound / total if total > 0 else float("nan")


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
