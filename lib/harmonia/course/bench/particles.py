"""Particle gradient descent (chapter 10, :func:`harmonia.pointprocess.particle_descent`): the time of one
L-BFGS closure -- render the particles (:func:`~harmonia.pointprocess.render_gaussian`), compute the moments
(:class:`harmonia.wph.ShiftedWPH2D`, normalised), the relative energy, and its gradient with respect to the
positions -- on an :math:`N\\times N` grid with :math:`J=\\log_2N-3` and ``n`` particles, in float32. Every case
is timed with the shifted wavelet copies (the authors' moments) and without (``shifted=False``, half the rows);
the last column is the time relative to the plain operator on the same case and device. The observation is a
Voronoi-edge Cox pattern, the particles a binomial start. On the CPU, and on CUDA when present."""

from __future__ import annotations

import argparse
import math

import torch

from harmonia.course.bench import bound_fraction, format_table, time_call
from harmonia.pointprocess import binomial, render_gaussian, sigma_schedule, voronoi_edge_cox
from harmonia.wph import ShiftedWPH2D

DESCRIPTION = "particle descent: one closure (render + shifted WPH moments + energy + backward), shifted vs plain"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m harmonia.course bench particles", description=DESCRIPTION)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="grid sides (J = log2(size) - 3)")
    parser.add_argument("--points", type=int, nargs="+", default=[300, 2000], help="numbers of particles")
    parser.add_argument("--L", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--cpu-only", action="store_true", help="skip CUDA even when it is available")
    args = parser.parse_args(argv)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and not args.cpu_only else [])
    rows = []
    for N in args.sizes:
        J = max(1, int(math.log2(N)) - 3)
        sigma = sigma_schedule(N)[-1] if N >= 16 else 1.0  # the finest level: the most detailed images
        for n in args.points:
            case = f"{N}x{N} J={J} L={args.L} sigma={sigma:g}"
            x_obs = voronoi_edge_cox(n, 20, seed=0).float()
            x_start = binomial(n, seed=1).float()
            for dev in devices:
                plain_ms = None
                for shifted in (False, True):
                    op = ShiftedWPH2D(N, N, J, args.L, shifted=shifted, std_norm=True).to(dev)
                    target = op.set_target(render_gaussian(x_obs.to(dev), N, sigma))
                    norm = target.square().sum()
                    x = x_start.to(dev).requires_grad_(True)

                    def closure() -> float:
                        x.grad = None
                        loss = (op(render_gaussian(x, N, sigma)) - target).square().sum() / norm
                        loss.backward()
                        return float(loss.detach())

                    ms = 1e3 * time_call(closure, repeats=args.repeats, warmup=args.warmup, device=dev).median
                    if not shifted:
                        plain_ms = ms
                    frac = f"{bound_fraction(closure)[2]:.2f}" if dev == "cpu" else "-"
                    rows.append([case, n, "shifted" if shifted else "plain", dev, op.n_moments, ms, ms / plain_ms, frac])
    return format_table(["case", "n points", "wavelets", "device", "moments", "closure ms", "ratio to plain",
                         "fraction of bound"], rows)
