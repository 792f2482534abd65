"""Per-step cost of SAM and ASAM against their base optimizer (SGD with momentum) on a digits MLP.

SAM evaluates the gradient twice per step (at w and at w + eps), so its step should cost about twice the
base optimizer's; the table prints the measured ratio on each device and network size.
"""

from __future__ import annotations

import argparse

import torch

from harmonia.course.bench import format_table, time_call
from harmonia.data import load_digits
from harmonia.nn import mlp, standard_closure
from harmonia.optim import SAM

DESCRIPTION = "per-step time of SAM and ASAM vs their base optimizer (SGD, momentum 0.9) on a digits MLP, with ratios"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m harmonia.course bench sam", description=DESCRIPTION)
    parser.add_argument("--hidden", type=int, nargs="+", default=[128, 1024])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=100, help="steps per timed call")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    closure_of = standard_closure(torch.nn.functional.cross_entropy)
    rows = []
    for dev in devices:
        data = load_digits(device=dev)
        xb, yb = data.X_train[:args.batch], data.y_train[:args.batch]
        for hidden in args.hidden:
            configs = {
                "SGD (momentum 0.9)": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
                "SAM, rho 0.05": lambda p: SAM(p, torch.optim.SGD, rho=0.05, lr=0.05, momentum=0.9),
                "ASAM, rho 0.5": lambda p: SAM(p, torch.optim.SGD, rho=0.5, adaptive=True, lr=0.05, momentum=0.9),
            }
            base = None
            for name, make in configs.items():
                model = mlp(64, (hidden,), 10, seed=0, device=dev)
                opt = make(model.parameters())
                closure = closure_of(model, xb, yb)

                def run(opt=opt, closure=closure) -> None:
                    for _ in range(args.steps):
                        opt.step(closure)

                ms = 1e3 * time_call(run, repeats=args.repeats, device=dev).median / args.steps
                base = ms if base is None else base
                rows.append([dev, f"64-{hidden}-10", name, ms, f"{ms / base:.2f}x"])
    threads = torch.get_num_threads()
    note = (f"torch {torch.__version__}, {threads} threads, batch {args.batch}, median of {args.repeats} x {args.steps} steps; "
            "ratio = time per step / SGD's on the same device and network (SAM: two gradients per step)")
    return format_table(["device", "network", "optimizer", "ms per step", "ratio to SGD"], rows) + "\n" + note
