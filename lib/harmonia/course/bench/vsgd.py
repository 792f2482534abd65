"""Per-step cost of VSGD against torch.optim.SGD and Adam on the same MLP and batches.

Each row times one training step (closure + update) on a fixed mini-batch of the digits:
SGD and Adam with the usual loss closure; vSGD-l/-b/-g with the one-pass statistics of
``sequential_batch_stats`` (gradient, per-sample second moment and bbprop); vSGD-l with
finite differences (``curvature="fd"``, two gradient evaluations) on the same statistics
without bbprop; and vSGD-fd with a plain loss closure (batch-mean gradient as the sample).
Two extra rows time the closures alone, so the update's own cost is the difference.
"""

from __future__ import annotations

import argparse

import torch

from harmonia.course.bench import format_table, time_call
from harmonia.data import load_digits
from harmonia.nn import mlp, standard_closure
from harmonia.optim import VSGD, sequential_batch_stats

DESCRIPTION = "per-step time of VSGD (l/b/g/fd) vs torch.optim.SGD and Adam on a digits MLP, with ratios"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m harmonia.course bench vsgd", description=DESCRIPTION)
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=200, help="steps per timed call")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    loss_fn = torch.nn.functional.cross_entropy
    rows = []
    for dev in devices:
        data = load_digits(device=dev)
        xb, yb = data.X_train[:args.batch], data.y_train[:args.batch]
        for hidden in args.hidden:
            configs = {
                "SGD": (lambda p: torch.optim.SGD(p, lr=0.01), "loss"),
                "Adam": (lambda p: torch.optim.Adam(p, lr=1e-3), "loss"),
                "vSGD-l (bbprop)": (lambda p: VSGD(p, "l", "bbprop", n0=2), "stats"),
                "vSGD-b (bbprop)": (lambda p: VSGD(p, "b", "bbprop", n0=2), "stats"),
                "vSGD-g (bbprop)": (lambda p: VSGD(p, "g", "bbprop", n0=2), "stats"),
                "vSGD-l (fd, per-sample)": (lambda p: VSGD(p, "l", "fd", n0=2), "stats-nocurv"),
                "vSGD-l (fd, loss closure)": (lambda p: VSGD(p, "l", "fd", n0=2), "loss"),
            }
            base = None
            for name, (make, kind) in configs.items():
                model = mlp(64, (hidden,), 10, seed=0, device=dev)
                opt = make(model.parameters())
                if kind == "loss":
                    closure = standard_closure(loss_fn)(model, xb, yb)
                else:
                    curv = kind == "stats"
                    closure = lambda m=model, c=curv: sequential_batch_stats(m, xb, yb, "ce", curvature=c)  # noqa: E731

                def run(opt=opt, closure=closure) -> None:
                    for _ in range(args.steps):
                        opt.step(closure)

                t = time_call(run, repeats=args.repeats, device=dev).median / args.steps
                base = t if base is None else base
                n_params = sum(p.numel() for p in model.parameters())
                rows.append([dev, f"64-{hidden}-10 ({n_params})", name, 1e6 * t, f"{t / base:.2f}x"])
                if name in ("SGD", "vSGD-l (bbprop)"):  # the closure alone: what the update adds is the rest

                    def closure_only(closure=closure) -> None:
                        for _ in range(args.steps):
                            closure()

                    tc = time_call(closure_only, repeats=args.repeats, device=dev).median / args.steps
                    label = "  closure only: loss + backward" if name == "SGD" else "  closure only: one-pass statistics + bbprop"
                    rows.append([dev, f"64-{hidden}-10 ({n_params})", label, 1e6 * tc, f"{tc / base:.2f}x"])
    return format_table(["device", "MLP (parameters)", "optimizer", "µs per step", "vs SGD"], rows)
