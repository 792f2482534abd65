"""Scattering transforms, Harmonia vs kymatio 0.3 (torch backend), side by side in one run.

Cases: 1D 4x65536 J=8 Q=8; 2D 8x1x256x256 J=4 L=8; 3D 2x64^3 J=2 (L=3). For each: forward and
forward+backward wall times of both libraries on the same input, timed in alternation
(:func:`harmonia.course.bench.alternate`), the ratio kymatio time / ours (> 1 means we are faster) as the median over
the rounds with its 10-90 % spread, the maximal relative difference of the outputs (1D compared with
``compat="kymatio-0.3"``, which reproduces kymatio's normalisation), our "fraction of bound" (the share of our
forward spent in FFTs, filter products and the modulus, :func:`harmonia.course.bench.bound_fraction`), and the
whole-process peak memory of each library's forward in a fresh interpreter (:func:`peak_rss_mib`).
``--quick`` uses small sizes (for tests); without kymatio only our times are printed.
"""

from __future__ import annotations

import argparse

import torch

from harmonia.course.bench import alternate, bound_fraction, format_table, peak_rss_mib, time_call
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


def _memory_probe(lib: str, kind: str, kwargs: dict, in_shape: tuple[int, ...]) -> str:
    """Code for :func:`peak_rss_mib`: build ``lib``'s transform and run one forward on the bench's input."""
    build = (f"from harmonia.course.bench.scattering import _ours; op = _ours({kind!r}, {kwargs!r})[0]" if lib == "ours"
             else f"from harmonia.course.bench.scattering import _theirs; from harmonia.scattering.peers import "
                  f"import_kymatio; op = _theirs(import_kymatio(), {kind!r}, {kwargs!r})")
    return ("import torch\n" + build + "\n"
            f"x = torch.randn({in_shape!r}, generator=torch.Generator().manual_seed(0))\n"
            + ("x = x.abs()\n" if kind == "3D" else "") + "op(x)\n")


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m harmonia.course bench scattering", description=DESCRIPTION)
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds per side")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", choices=["1D", "2D", "3D"], action="append", help="run only these cases")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory probes (fresh interpreters)")
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
        _, _, frac = bound_fraction(lambda: ours(x)) if device.type == "cpu" else (0, 0, float("nan"))
        mem_ours = "-" if args.no_memory or device.type != "cpu" else f"{peak_rss_mib(_memory_probe('ours', kind, kwargs, in_shape)):.0f}"
        if kt is None:
            t_f = time_call(lambda: ours(x), repeats=args.rounds, device=device).median
            t_b = time_call(_fwd_bwd(ours, x), repeats=args.rounds, device=device).median
            rows.append([kind, str(in_shape), t_f, t_b, "-", "-", "-", "-", "-", f"{frac:.2f}", mem_ours, "-"])
            continue
        theirs = _theirs(kt, kind, kwargs).to(device)
        fwd = alternate(lambda: ours(x), lambda: theirs(x), rounds=args.rounds, device=device)
        both = alternate(_fwd_bwd(ours, x), _fwd_bwd(theirs, x), rounds=args.rounds, device=device)
        with torch.no_grad():
            reference = theirs(x)
            mine = (compat.to(device) if compat is not None else ours)(x)
        err = float((mine - reference).abs().max() / reference.abs().max())
        mem_peer = "-" if args.no_memory or device.type != "cpu" else f"{peak_rss_mib(_memory_probe('kymatio', kind, kwargs, in_shape)):.0f}"
        rows.append([kind, str(in_shape), fwd.ours.median, both.ours.median, fwd.peer.median, both.peer.median,
                     fwd.ratio_text(), both.ratio_text(), f"{err:.1e}", f"{frac:.2f}", mem_ours, mem_peer])
    headers = ["case", "input", "ours fwd s", "ours fwd+bwd s", "kymatio fwd s", "kymatio fwd+bwd s",
               "speed-up fwd [10-90%]", "speed-up fwd+bwd [10-90%]", "max rel diff", "ours fwd: fraction of bound",
               "ours peak MiB", "kymatio peak MiB"]
    threads = torch.get_num_threads()
    note = (f"device {device}, torch {torch.__version__}, {threads} threads, {args.rounds} alternating rounds; "
            "fraction of bound = time in FFTs, filter products and the modulus / total operator time (profiler); "
            "peak MiB = whole process, one forward, fresh interpreter")
    if kt is None:
        note += "; kymatio not installed (pip install -e '.[bench]'), only our times"
    return format_table(headers, rows) + "\n" + note
