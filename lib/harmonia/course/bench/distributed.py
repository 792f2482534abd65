"""Throughput of the torch.distributed EASGD run on this machine with 1 and 2 worker processes.

Synchronous EASGD (all-reduce over gloo) on the digits MLP, one process per worker, spawned
locally; the time covers the whole run after the process group is up (rank 0's clock), so the
processes' start-up is excluded. Steps/s counts worker steps summed over the workers; samples/s
multiplies by the batch size. The single-process simulation of the same run is the reference.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.distributed as dist

from harmonia.course.bench import format_table
from harmonia.distributed import make_objective, run_easgd
from harmonia.distributed.engine import dist_sync_easgd
from harmonia.distributed.launch import spawn

DESCRIPTION = "torch.distributed (gloo) synchronous EASGD on a digits MLP: worker steps/s with 1 and 2 processes"


def timed_sync_run(rounds: int, tau: int, hidden: int, batch: int) -> dict:
    """Body of each process: build the objective, synchronise, run, report rank 0's wall time."""
    obj = make_objective("digits", dist.get_world_size(), hidden=hidden, batch_size=batch, dtype=torch.float32)
    x0 = obj.initial()
    dist.barrier()
    start = time.perf_counter()
    dist_sync_easgd(obj, x0, 0.1, rounds, tau=tau)
    seconds = torch.tensor(time.perf_counter() - start)
    return {"seconds": seconds}


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m harmonia.course bench distributed", description=DESCRIPTION)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--taus", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args(argv)
    rows = []
    for tau in args.taus:
        base = None
        for procs in (1, 2):
            out = spawn(procs, timed_sync_run, args.rounds, tau, args.hidden, args.batch)
            rate = procs * args.rounds / float(out["seconds"])
            base = rate if base is None else base
            rows.append(["torch.distributed (gloo)", procs, tau, float(out["seconds"]), rate, rate * args.batch, f"{rate / base:.2f}x"])
        obj = make_objective("digits", 2, hidden=args.hidden, batch_size=args.batch, dtype=torch.float32)
        start = time.perf_counter()
        run_easgd(obj, obj.initial(), 2, 0.1, args.rounds, tau=tau, mode="sync", record_every=args.rounds)
        sec = time.perf_counter() - start
        rate = 2 * args.rounds / sec
        rows.append(["simulation (1 process)", "2 workers", tau, sec, rate, rate * args.batch, f"{rate / base:.2f}x"])
    return format_table(["engine", "processes", "tau", "seconds", "worker steps/s", "samples/s", "vs 1 process"], rows)
