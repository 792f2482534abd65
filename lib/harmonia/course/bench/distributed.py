"""Throughput of the torch.distributed EASGD run on this machine with 1 and 2 worker processes.

Synchronous EASGD (all-reduce over gloo) on the digits MLP, one process per worker, spawned
locally; the time covers the whole run after the process group is up (rank 0's clock), so the
processes' start-up is excluded. Steps/s counts worker steps summed over the workers; samples/s
multiplies by the batch size. The single-process simulation of the same run is the reference. Every process runs
``--threads`` intra-op threads (default 1), so 1 and 2 processes on a 2-core machine compare like with like; the
default model is compute-bound (hidden width 1024, batch 256), what data-parallel training is for.

With ``--tree`` (chapter 03) it adds 4-process rows: flat synchronous EASGD (all-reduce over all ranks)
against the 2 x 2 EASGD-Tree on sub-groups (all-reduce among siblings, broadcast to subtrees), with the
messages the root receives per round.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.distributed as dist

from harmonia.course.bench import format_table
from harmonia.distributed import make_objective, run_easgd
from harmonia.distributed.engine import dist_sync_easgd, dist_tree_easgd
from harmonia.distributed.launch import spawn
from harmonia.distributed.tree import Tree

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


def timed_tree_run(parents: list[int], taus: list[int], rounds: int, hidden: int, batch: int) -> dict:
    """Body of each process for the tree rows: EASGD-Tree on sub-groups, rank 0's wall time."""
    tree = Tree(parents)
    obj = make_objective("digits", tree.p, hidden=hidden, batch_size=batch, dtype=torch.float32)
    x0 = obj.initial()
    dist.barrier()
    start = time.perf_counter()
    dist_tree_easgd(obj, x0, tree, 0.1, rounds, taus=taus)
    return {"seconds": torch.tensor(time.perf_counter() - start)}


def tree_rows(rounds: int, hidden: int, batch: int) -> list[list]:
    """4 processes: flat synchronous EASGD (tau 1) and the 2 x 2 tree with periods (1, 1) and (1, 4)."""
    rows, base = [], None
    configs = [("flat, all-reduce", Tree.flat(4), [1]), ("tree 2x2, sub-groups", Tree.regular(2, 2), [1, 1]),
               ("tree 2x2, sub-groups", Tree.regular(2, 2), [1, 4])]
    for name, tree, taus in configs:
        out = spawn(tree.p, timed_tree_run, tree.parents, taus, rounds, hidden, batch, threads=1)
        rate = tree.p * rounds / float(out["seconds"])
        base = rate if base is None else base
        root = len(tree.children[tree.root]) / taus[-1]
        rows.append([name, tree.p, str(tuple(taus)), root, float(out["seconds"]), rate, f"{rate / base:.2f}x"])
    return rows


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m harmonia.course bench distributed", description=DESCRIPTION)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads per process")
    parser.add_argument("--taus", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--tree", action="store_true", help="add 4-process rows: flat EASGD against EASGD-Tree")
    args = parser.parse_args(argv)
    rows = []
    for tau in args.taus:
        base = None
        for procs in (1, 2):
            out = spawn(procs, timed_sync_run, args.rounds, tau, args.hidden, args.batch, threads=args.threads)
            rate = procs * args.rounds / float(out["seconds"])
            base = rate if base is None else base
            rows.append(["torch.distributed (gloo)", procs, tau, float(out["seconds"]), rate, rate * args.batch, f"{rate / base:.2f}x"])
        obj = make_objective("digits", 2, hidden=args.hidden, batch_size=args.batch, dtype=torch.float32)
        threads = torch.get_num_threads()
        torch.set_num_threads(args.threads)
        try:
            start = time.perf_counter()
            run_easgd(obj, obj.initial(), 2, 0.1, args.rounds, tau=tau, mode="sync", record_every=args.rounds)
            sec = time.perf_counter() - start
        finally:
            torch.set_num_threads(threads)
        rate = 2 * args.rounds / sec
        rows.append(["simulation (1 process)", "2 workers", tau, sec, rate, rate * args.batch, f"{rate / base:.2f}x"])
    table = format_table(["engine", "processes", "tau", "seconds", "worker steps/s", "samples/s", "vs 1 process"], rows)
    table += (f"\n{args.threads} intra-op thread(s) per process, MLP 64-{args.hidden}-10, batch {args.batch}, "
              f"{args.rounds} rounds, torch {torch.__version__}")
    if args.tree:
        table += "\n\n" + format_table(["engine (4 processes)", "leaves", "taus", "root messages/round", "seconds",
                                         "worker steps/s", "vs flat"], tree_rows(args.rounds, args.hidden, args.batch))
    return table
