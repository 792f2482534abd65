"""Wavelet phase harmonic moments: time and peak memory of one forward and one forward+backward pass of
:class:`harmonia.wph.WPH2D`, on the CPU and on CUDA when present, side by side with pywph (the peer library,
`bench` extra) when it is installed. The two compute different moment sets -- harmonia the paper's Figure 8 set,
pywph its default model (S11, S00, S01, C01, Cphase, L with dn=0) -- so the table gives the number of real values
of each and the time per value as well as the time per image."""

from __future__ import annotations

import argparse
import math

import torch

from harmonia.course.bench import bound_fraction, format_table, time_call
from harmonia.data.signals import cartoon_image
from harmonia.wph import WPH2D

DESCRIPTION = "WPH2D moments (bump steerable, scale interactions): forward and forward+backward time per image"


def _pywph_op(M: int, J: int, L: int, dev: str):
    """pywph's operator with its default model, or None when pywph is not installed."""
    try:
        import pywph
    except ImportError:
        return None
    return pywph.WPHOp(M, M, J, L=L, dn=0, device=0 if dev == "cuda" else "cpu")


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
            frac = f"{bound_fraction(lambda: op(x))[2]:.2f}" if dev == "cpu" else "-"
            rows.append([f"{M}x{M} J={J} L={args.L} dj={args.dj}", "harmonia", dev, op.n_moments,
                         1e3 * fwd, 1e3 * both, 1e6 * both / op.n_moments, mem, frac])
            peer = _pywph_op(M, J, args.L, dev)
            if peer is not None:
                xp = img.clone().requires_grad_(True)
                n_peer = 2 * peer(xp).numel()  # complex coefficients
                if dev == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                pf = time_call(lambda: peer(xp, requires_grad=True), repeats=args.repeats, device=dev).median
                pb = time_call(lambda: peer(xp, requires_grad=True).abs().square().sum().backward(),
                               repeats=args.repeats, device=dev).median
                mem = f"{torch.cuda.max_memory_allocated() / 2**20:.0f}" if dev == "cuda" else "-"
                rows.append([f"{M}x{M} J={J} L={args.L} default", "pywph", dev, n_peer, 1e3 * pf, 1e3 * pb,
                             1e6 * pb / n_peer, mem, "-"])
    return format_table(["case", "library", "device", "values", "fwd ms", "fwd+bwd ms", "fwd+bwd us/value", "peak MiB (cuda)",
                         "fwd: fraction of bound"], rows)
