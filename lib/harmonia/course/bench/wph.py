"""Wavelet phase harmonic moments: time and peak memory of one forward and one forward+backward pass of
:class:`harmonia.wph.WPH2D`, on the CPU and on CUDA when present. (A side-by-side run with pywph, the peer
library, is not wired in yet: its default moment set differs from the paper's Figure 8 set timed here.)"""

from __future__ import annotations

import argparse
import math

import torch

from harmonia.course.bench import format_table, time_call
from harmonia.data.signals import cartoon_image
from harmonia.wph import WPH2D

DESCRIPTION = "WPH2D moments (bump steerable, scale interactions): forward and forward+backward time per image"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m harmonia.course bench wph", description=DESCRIPTION)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--L", type=int, default=4)
    parser.add_argument("--dj", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for M in args.sizes:
        J = int(math.log2(M)) - 2
        for dev in devices:
            op = WPH2D(M, M, J, args.L, dj=args.dj).to(dev)
            img = cartoon_image(M, 5, seed=0).to(dev)
            op.set_target(img)
            x = img.clone().requires_grad_(True)
            if dev == "cuda":
                torch.cuda.reset_peak_memory_stats()
            fwd = time_call(lambda: op(x), repeats=args.repeats, device=dev).median
            both = time_call(lambda: op(x).square().sum().backward(), repeats=args.repeats, device=dev).median
            mem = f"{torch.cuda.max_memory_allocated() / 2**20:.0f}" if dev == "cuda" else "-"
            rows.append([f"{M}x{M} J={J} L={args.L} dj={args.dj}", "harmonia", dev, op.n_moments,
                         1e3 * fwd, 1e3 * both, mem])
    return format_table(["case", "library", "device", "values", "fwd ms", "fwd+bwd ms", "peak MiB (cuda)"], rows)
