"""Scattering transforms, Harmonia vs kymatio 0.3 (torch backend), side by side in one run.

Cases (the issue's): 1D 4x65536 J=8 Q=8; 2D 8x1x256x256 J=4 L=8; 3D 2x64^3 J=2 (L=3). For each:
forward and forward+backward median wall time of both libraries on the same input, their ratio
(kymatio time / ours: > 1 means we are faster), and the maximal relative difference of the outputs
(1D compared with ``compat="kymatio-0.3"``, which reproduces kymatio's normalisation).
``--quick`` uses small sizes (for tests); without kymatio only our times are printed.
"""

from __future__ import annotations

import argparse

import torch

from harmonia.course.bench import format_table, time_call
from harmonia.scattering.peers import import_kymatio

DESCRIPTION = "Scattering1D/2D/HarmonicScattering3D vs kymatio 0.3: forward and forward+backward times, ratios, agreement"

CASES = {
    "full": [
        ("1D", dict(J=8, shape=(65536,), Q=8), (4, 65536)),
        ("2D", dict(J=4, shape=(256, 256), L=8), (8, 1, 256, 256)),
        ("3D", dict(J=2, shape=(64, 64, 64)), (2, 64, 64, 64)),
    ],
    "quick": [
        ("1D", dict(J=4, shape=(1024,), Q=2), (2, 1024)),
        ("2D", dict(J=2, shape=(32, 32), L=4), (2, 1, 32, 32)),
        ("3D", dict(J=1, shape=(16, 16, 16), L=1), (1, 16, 16, 16)),
    ],
}


def _ours(kind: str, kwargs: dict):
    from harmonia.scattering import HarmonicScattering3D, Scattering1D, Scattering2D

    if kind == "1D":
        return Scattering1D(**kwargs), Scattering1D(**kwargs, compat="kymatio-0.3")
    if kind == "2D":
        return Scattering2D(**kwargs), None
    return HarmonicScattering3D(**kwargs), None


def _theirs(kt, kind: str, kwargs: dict):
    args = dict(kwargs)
    shape = args.pop("shape")
    if kind == "1D":
        return kt.Scattering1D(shape=shape[0], **args)
    if kind == "2D":
        return kt.Scattering2D(shape=shape, **args)
    return kt.HarmonicScattering3D(shape=shape, **args)


def _fwd_bwd(module, x: torch.Tensor):
    def run():
        xg = x.detach().requires_grad_(True)
        module(xg).sum().backward()

    return run


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m harmonia.course bench scattering", description=DESCRIPTION)
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", choices=["1D", "2D", "3D"], action="append", help="run only these cases")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    kt = import_kymatio()
    rows = []
    for kind, kwargs, in_shape in CASES["quick" if args.quick else "full"]:
        if args.only and kind not in args.only:
            continue
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(in_shape, generator=gen)
        if kind == "3D":
            x = x.abs()
        x = x.to(device)
        ours, compat = _ours(kind, kwargs)
        ours = ours.to(device)
        t_f = time_call(lambda: ours(x), repeats=args.repeats, device=device).median
        t_b = time_call(_fwd_bwd(ours, x), repeats=args.repeats, device=device).median
        if kt is None:
            rows.append([kind, str(in_shape), t_f, t_b, "-", "-", "-", "-", "-"])
            continue
        theirs = _theirs(kt, kind, kwargs).to(device)
        k_f = time_call(lambda: theirs(x), repeats=args.repeats, device=device).median
        k_b = time_call(_fwd_bwd(theirs, x), repeats=args.repeats, device=device).median
        with torch.no_grad():
            reference = theirs(x)
            mine = (compat.to(device) if compat is not None else ours)(x)
        err = float((mine - reference).abs().max() / reference.abs().max())
        rows.append([kind, str(in_shape), t_f, t_b, k_f, k_b, f"{k_f / t_f:.2f}x", f"{k_b / t_b:.2f}x", f"{err:.1e}"])
    headers = ["case", "input", "ours fwd s", "ours fwd+bwd s", "kymatio fwd s", "kymatio fwd+bwd s",
               "speed-up fwd", "speed-up fwd+bwd", "max rel diff"]
    threads = torch.get_num_threads()
    note = f"device {device}, torch {torch.__version__}, {threads} threads, median of {args.repeats}"
    if kt is None:
        note += "; kymatio not installed (pip install -e '.[bench]'), only our times"
    return format_table(headers, rows) + "\n" + note
