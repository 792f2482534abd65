"""ALPHA texture statistics (:class:`harmonia.wph.AlphaStats`, chapter 08): the time of one synthesis closure
-- forward and backward of :meth:`~harmonia.wph.alpha.AlphaStats.loss` on one image, what L-BFGS evaluates
at every step -- for the three implementations of the shifted correlations
(:func:`harmonia.wph.correlations.shifted_correlations`): ``"gram"`` (one batched product per shift, the
default), ``"fft"`` (one inverse FFT per channel pair) and ``"direct"`` (a Python loop over pairs and shifts,
the straightforward reference, only up to ``--direct-max-size``, timed once without a warm-up call). The last column is the time relative to
``"gram"`` on the same case and device. On the CPU, and on CUDA when present."""

from __future__ import annotations

import argparse
import math

import torch

from harmonia.course.bench import bound_fraction, format_table, time_call
from harmonia.data.textures import bubbles
from harmonia.wph.alpha import AlphaStats

DESCRIPTION = "ALPHA texture statistics: forward+backward of the loss, gram vs fft vs direct correlations"

METHODS = ("gram", "fft", "direct")


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m harmonia.course bench alpha", description=DESCRIPTION)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="image sides (J = log2(size) - 2)")
    parser.add_argument("--L", type=int, default=4)
    parser.add_argument("--A", type=int, default=4)
    parser.add_argument("--dj", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--direct-max-size", type=int, default=64,
                        help="largest size timed with the (slow) direct loop")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--direct-repeats", type=int, default=1,
                        help="repeats of the direct loop (no warm-up call: one closure takes seconds to minutes)")
    parser.add_argument("--cpu-only", action="store_true", help="skip CUDA even when it is available")
    args = parser.parse_args(argv)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and not args.cpu_only else [])
    rows = []
    for M in args.sizes:
        J = max(1, int(math.log2(M)) - 2)
        case = f"{M}x{M} J={J} L={args.L} A={args.A} dj={args.dj}"
        img = bubbles(M, n_disks=max(4, M * M // 100), seed=0)
        for dev in devices:
            base = None
            for method in METHODS:
                if method == "direct" and M > args.direct_max_size:
                    rows.append([case, method, dev, "-", "-", f"skipped (size > {args.direct_max_size})", "-"])
                    continue
                op = AlphaStats(M, M, J, args.L, args.A, args.dj, method=method).to(dev)
                target = img.to(dev)
                op.set_target(target)
                x = (target + 0.1 * torch.randn(target.shape, generator=torch.Generator().manual_seed(1))
                     .to(dev)).requires_grad_(True)

                def closure() -> None:
                    x.grad = None
                    op.loss(x).backward()

                slow = method == "direct"
                t = time_call(closure, repeats=args.direct_repeats if slow else args.repeats,
                              warmup=0 if slow else args.warmup, device=dev).median
                if method == "gram":
                    base = t
                frac = f"{bound_fraction(closure)[2]:.2f}" if dev == "cpu" and not slow else "-"
                rows.append([case, method, dev, op.n_stats, 1e3 * t, t / base, frac])
    return format_table(["case", "method", "device", "n_stats", "closure ms", "ratio to gram", "fraction of bound"], rows)
