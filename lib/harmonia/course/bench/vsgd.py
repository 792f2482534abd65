"""Per-step cost of VSGD against torch.optim.SGD and Adam on the same MLP and batches.

Each row times one training step (closure + update) on a fixed mini-batch of the digits:
SGD and Adam with the usual loss closure; vSGD-l/-b/-g with the one-pass statistics of
``sequential_batch_stats`` (gradient, per-sample second moment and bbprop); vSGD-l with
finite differences (``curvature="fd"``, two gradient evaluations) on the same statistics
without bbprop; and vSGD-fd with a plain loss closure (batch-mean gradient as the sample).
Two extra rows time the closures alone, so the update's own cost is the difference. All rows of one MLP are timed
in rotation (:func:`harmonia.course.bench.round_robin`); the ratios to SGD and to Adam are medians of per-round
ratios with their 10-90 % spread.
"""

from __future__ import annotations

import argparse

import torch

from harmonia.course.bench import format_table, ratio_spread, round_robin
from harmonia.data import load_digits
from harmonia.nn import mlp, standard_closure
from harmonia.optim import VSGD, sequential_batch_stats

DESCRIPTION = "per-step time of VSGD (l/b/g/fd) vs torch.optim.SGD and Adam on a digits MLP, with ratios"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m harmonia.course bench vsgd", description=DESCRIPTION)
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=200, help="steps per timed call")
    parser.add_argument("--rounds", type=int, default=9)
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
            runs, n_params = {}, 0
            for name, (make, kind) in configs.items():
                model = mlp(64, (hidden,), 10, seed=0, device=dev)
                n_params = sum(p.numel() for p in model.parameters())
                opt = make(model.parameters())
                if kind == "loss":
                    closure = standard_closure(loss_fn)(model, xb, yb)
                else:
                    curv = kind == "stats"
                    closure = lambda m=model, c=curv: sequential_batch_stats(m, xb, yb, "ce", curvature=c)  # noqa: E731

                def run(opt=opt, closure=closure) -> None:
                    for _ in range(args.steps):
                        opt.step(closure)

                runs[name] = run
                if name in ("SGD", "vSGD-l (bbprop)"):  # the closure alone: what the update adds is the rest
                    label = "  closure only: loss + backward" if name == "SGD" else "  closure only: one-pass statistics + bbprop"

                    def closure_only(closure=closure) -> None:
                        for _ in range(args.steps):
                            closure()

                    runs[label] = closure_only
            times = round_robin(runs, rounds=args.rounds, device=dev)
            for name, ts in times.items():
                per_step = sorted(ts)[len(ts) // 2] / args.steps
                r_sgd = ratio_spread(ts, times["SGD"])
                r_adam = ratio_spread(ts, times["Adam"])
                rows.append([dev, f"64-{hidden}-10 ({n_params})", name, 1e6 * per_step,
                             f"{r_sgd[0]:.2f}x", f"{r_adam[0]:.2f}x [{r_adam[1]:.2f}-{r_adam[2]:.2f}]"])
    return (format_table(["device", "MLP (parameters)", "optimizer", "µs per step", "vs SGD", "vs Adam [10-90%]"], rows)
            + f"\nbatch {args.batch}, {args.steps} steps per timed call, {args.rounds} rounds in rotation, "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads")
