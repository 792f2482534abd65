"""Run the distributed algorithms for real: a ``torchrun`` entry point and a local process spawner.

With ``torchrun`` (one process per worker, plus a master for the asynchronous algorithms)::

    torchrun --nproc_per_node=4 -m harmonia.distributed.launch --algo easgd --mode sync --p 4 --tau 16
    torchrun --nproc_per_node=5 -m harmonia.distributed.launch --algo easgd --mode async --p 4 --tau 16
    torchrun --nproc_per_node=16 -m harmonia.distributed.launch --algo tree --tree 4x2 --taus 1,16
    torchrun --nproc_per_node=5 -m harmonia.distributed.launch --algo lsam --mode async --p 4 --tau 4 --rho 0.05
    torchrun --nproc_per_node=4 -m harmonia.distributed.launch --algo dp_sam --mode sync --p 4 --rho 0.05

(``--tree DEGREExDEPTH``: a regular EASGD-Tree, one process per leaf, ``--taus`` per level from the leaves up.)

``--problem`` picks ``quadratic`` or ``digits``; rank 0 writes the final center, workers and
displacements to ``--out`` (a ``.pt`` file read back with ``torch.load(..., weights_only=True)``).
The backend is gloo by default (CPU tensors; processes may sit on several machines with torchrun's
usual ``--nnodes``/``--rdzv-endpoint`` options); ``--backend nccl`` runs the synchronous algorithm
with one GPU per rank.

:func:`spawn` starts the same thing from Python (``torch.multiprocessing``, gloo on localhost via a
``file://`` rendezvous), for tests and notebooks.

Used in: chapters 02-03.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
import torch.distributed as dist

from harmonia.config import check_positive
from harmonia.distributed.averaging import ElasticAveraging
from harmonia.optim.sam import SAM
from harmonia.distributed.engine import dist_async, dist_dp_sam, dist_sync_easgd, dist_tree_easgd
from harmonia.distributed.problems import OBJECTIVES, make_objective
from harmonia.distributed.tree import Tree

__all__ = ["spawn", "run_named", "run_tree", "run_batch", "run_averaging", "run_averaging_batch", "main"]

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def run_named(algo: str, mode: str, p: int, eta: float, rounds: int, tau: int = 1, momentum: float = 0.0,
              problem: str = "quadratic", seed: int = 0, dtype: str = "float64", order: str = "round_robin",
              beta: float = 0.9, device: str = "cpu", rho: float = 0.05):
    """The body every process runs (inside an initialised process group); rank 0 returns a dict of CPU tensors.

    ``device`` other than the CPU is for the synchronous algorithm with NCCL (one GPU per rank); the
    parameter server of the asynchronous algorithms runs on the CPU with gloo. ``algo="lsam"`` (async: EASGD with
    SAM workers) and ``algo="dp_sam"`` (sync: data-parallel SAM) use ``rho``.
    """
    if mode == "async" and torch.device(device).type != "cpu":
        raise ValueError(f"device: expected 'cpu' for mode='async' (the parameter server uses gloo), got {device!r}")
    objective, x0 = _problem(problem, p, seed, dtype, device)
    if mode == "sync":
        if algo not in ("easgd", "dp_sam"):
            raise ValueError(f"algo: expected 'easgd' or 'dp_sam' for mode='sync', got {algo!r}")
        if algo == "dp_sam":
            res = dist_dp_sam(objective, x0, eta, rounds, rho=rho, momentum=momentum)
        else:
            res = dist_sync_easgd(objective, x0, eta, rounds, beta=beta, tau=tau, momentum=momentum)
    else:
        lsam = algo == "lsam"
        res = dist_async("easgd" if lsam else algo, objective, x0, eta, rounds, beta=beta, tau=tau, momentum=momentum,
                         order=order, rho=rho if lsam else 0.0)
    if res is None:
        return None
    out = {"center": res.center, "workers": res.workers, "x0": x0}
    if res.displacement is not None:
        out["displacement"] = res.displacement
    out = {k: v.cpu() for k, v in out.items()}
    out["center_loss"] = torch.tensor(objective.loss(res.center), dtype=torch.float64)
    return out


def _problem(problem: str, p: int, seed: int, dtype: str, device: str):
    objective = make_objective(problem, p, seed=seed, dtype=DTYPES[dtype], device=device)
    x0 = (objective.initial() if hasattr(objective, "initial")
          else 5.0 * torch.ones(objective.n, dtype=DTYPES[dtype], device=device))
    return objective, x0


def run_tree(parents: list[int], eta: float, rounds: int, taus=1, alphas=None, beta: float = 0.9,
             momentum: float = 0.0, problem: str = "quadratic", seed: int = 0, dtype: str = "float64",
             device: str = "cpu"):
    """EASGD-Tree with one leaf per process (inside an initialised process group of ``len(leaves)`` ranks);
    rank 0 returns a dict of CPU tensors (``nodes``, ``replicas``, ``x0``, ``root_loss``)."""
    tree = Tree(parents)
    objective, x0 = _problem(problem, tree.p, seed, dtype, device)
    res = dist_tree_easgd(objective, x0, tree, eta, rounds, alphas=alphas, beta=beta, taus=taus, momentum=momentum)
    if res is None:
        return None
    out = {k: v.cpu() for k, v in res.items()}
    out["x0"] = x0.cpu()
    out["root_loss"] = torch.tensor(objective.loss(res["nodes"][tree.root]), dtype=torch.float64)
    return out


def run_averaging(p: int, eta: float, rounds: int, tau: int = 1, momentum: float = 0.0, problem: str = "quadratic",
                  seed: int = 0, beta: float = 0.9, rho: float = 0.0) -> dict | None:
    """A user's training loop with :class:`~harmonia.distributed.averaging.ElasticAveraging` (one worker per
    rank, inside an initialised process group of ``p`` ranks): the parameters are one ``nn.Parameter`` whose
    gradient comes from the worker's stream of ``problem``, the optimizer is ``torch.optim.SGD`` (Nesterov
    when ``momentum > 0``), or, with ``rho > 0``, :class:`harmonia.optim.SAM` around it (LSAM's workers,
    synchronously; the quadratic only: the closure's loss :math:`\\frac12\\sum_kh_kx_k^2-\\xi\\cdot x` reuses one
    noise draw for both passes), and ``averager.step()`` follows ``optimizer.step()``. Rank 0 returns the
    center, every rank's center replica and worker variable, and the number of exchanges."""
    if dist.get_world_size() != p:
        raise ValueError(f"p: expected the world size {dist.get_world_size()}, got {p}")
    if rho and problem != "quadratic":
        raise ValueError(f"problem: expected 'quadratic' with rho > 0 (SAM's closure), got {problem!r}")
    objective, x0 = _problem(problem, p, seed, "float64", "cpu")
    objective.reset()
    i = dist.get_rank()
    x = torch.nn.Parameter(x0.clone())
    if rho:
        optimizer = SAM([x], torch.optim.SGD, rho=rho, lr=eta, momentum=momentum, nesterov=momentum > 0)
    else:
        optimizer = torch.optim.SGD([x], lr=eta, momentum=momentum, nesterov=momentum > 0)
    averager = ElasticAveraging([x], optimizer, beta=beta, tau=tau)
    exchanges = 0
    for _ in range(rounds):
        if rho:
            noise = objective.h * x.detach() - objective.grad(x.detach()[None], [i])[0]  # this step's draw, xi

            def closure(noise=noise):
                optimizer.zero_grad()
                loss = 0.5 * (objective.h * x.square()).sum() - (noise * x).sum()
                loss.backward()
                return loss

            optimizer.step(closure)
        else:
            x.grad = objective.grad(x.detach()[None], [i])[0]
            optimizer.step()
        exchanges += averager.step()
    workers = [torch.empty_like(x0) for _ in range(p)]
    centers = [torch.empty_like(x0) for _ in range(p)]
    dist.all_gather(workers, x.detach().clone())
    dist.all_gather(centers, averager.center[0].clone())
    averager.remove()
    if i != 0:
        return None
    return {"center": averager.center[0].clone(), "centers": torch.stack(centers), "workers": torch.stack(workers),
            "x0": x0, "exchanges": torch.tensor(exchanges)}


def run_averaging_batch(configs: list[dict]) -> list | None:
    """Several :func:`run_averaging` configurations one after the other in the same process group (one
    process start-up for all); rank 0 returns the list of results."""
    results = [run_averaging(**cfg) for cfg in configs]
    return results if dist.get_rank() == 0 else None


def run_batch(configs: list[dict]) -> list:
    """Run several configurations one after the other in the same process group (one process start-up for
    all of them): :func:`run_tree` for a dict with ``"parents"``, :func:`run_named` otherwise; rank 0 returns
    the list of results."""
    results = [run_tree(**cfg) if "parents" in cfg else run_named(**cfg) for cfg in configs]
    return results if dist.get_rank() == 0 else None


def _worker(rank: int, world: int, init_file: str, out_dir: str, threads: int, fn: Callable, args: tuple,
            kwargs: dict) -> None:
    torch.set_num_threads(threads)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        result = fn(*args, **kwargs)
        if rank == 0:
            torch.save(result, os.path.join(out_dir, "result.pt"))
    finally:
        dist.destroy_process_group()
    # A process that stepped a torch.optim optimizer and used gloo can abort at interpreter shutdown (SIGABRT,
    # "terminate called without an active exception": 4-8 of 16 two-process runs with torch 2.13, none with
    # os._exit). Everything is written and the group is gone: leave without the static destructors.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def spawn(world_size: int, fn: Callable, *args, timeout: float = 120.0, threads: int | None = None, **kwargs):
    """Run ``fn(*args, **kwargs)`` in ``world_size`` fresh gloo processes on this machine; return rank 0's result.

    ``fn`` must be importable (a module-level function) and return tensors (or dicts of them) on rank 0.
    The processes are joined before returning; an exception in any of them is re-raised here. Each process uses
    ``threads`` intra-op threads (default: this machine's cores shared among the processes, at least one), so that
    ``world_size`` processes do not oversubscribe the cores -- two processes of two threads on two cores run slower
    than one.
    """
    import torch.multiprocessing as mp

    world_size = check_positive(world_size, "world_size", integer=True)
    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // world_size)
    threads = check_positive(threads, "threads", integer=True)
    with tempfile.TemporaryDirectory() as tmp:
        init_file = str(Path(tmp) / "rendezvous")
        ctx = mp.start_processes(_worker, args=(world_size, init_file, tmp, threads, fn, args, kwargs), nprocs=world_size,
                                 join=False, start_method="spawn")
        while not ctx.join(timeout=timeout):
            pass
        return torch.load(Path(tmp) / "result.pt", weights_only=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harmonia.distributed.launch", description=__doc__.split("\n")[0])
    parser.add_argument("--algo", choices=("easgd", "downpour", "lsam", "dp_sam", "tree"), default="easgd")
    parser.add_argument("--rho", type=float, default=0.05, help="SAM radius of --algo lsam / dp_sam")
    parser.add_argument("--tree", default="2x2", help="--algo tree: DEGREExDEPTH of a regular tree")
    parser.add_argument("--taus", default="1", help="--algo tree: periods per level from the leaves up, e.g. 1,16")
    parser.add_argument("--mode", choices=("sync", "async"), default="async")
    parser.add_argument("--p", type=int, default=None, help="number of workers (not with --algo tree)")
    parser.add_argument("--tau", type=int, default=1)
    parser.add_argument("--eta", type=float, default=0.05)
    parser.add_argument("--beta", type=float, default=0.9)
    parser.add_argument("--momentum", type=float, default=0.0)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--problem", choices=OBJECTIVES, default="quadratic")
    parser.add_argument("--dtype", choices=tuple(DTYPES), default="float64")
    parser.add_argument("--order", choices=("round_robin", "any"), default="round_robin")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", choices=("gloo", "nccl"), default="gloo",
                        help="nccl: synchronous mode only, one GPU per rank (cuda:LOCAL_RANK)")
    parser.add_argument("--out", type=Path, default=Path("build/distributed/result.pt"))
    args = parser.parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if args.algo == "tree":
        return _main_tree(parser, args, world)
    if args.p is None:
        parser.error("--p: expected the number of workers")
    expected = args.p if args.mode == "sync" else args.p + 1
    if world != expected:
        parser.error(f"--p {args.p} with --mode {args.mode} needs {expected} processes (torchrun --nproc_per_node={expected}), got {world}")
    device = "cpu"
    if args.backend == "nccl":
        if args.mode != "sync":
            parser.error("--backend nccl: expected --mode sync (the parameter server needs gloo)")
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        torch.cuda.set_device(device)
    dist.init_process_group(args.backend)
    try:
        result = run_named(args.algo, args.mode, args.p, args.eta, args.rounds, args.tau, args.momentum, args.problem,
                           args.seed, args.dtype, args.order, args.beta, device, args.rho)
        if dist.get_rank() == 0:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            torch.save(result, args.out)  # the library prints nothing: the file is the output
    finally:
        dist.destroy_process_group()
    return 0


def _main_tree(parser: argparse.ArgumentParser, args: argparse.Namespace, world: int) -> int:
    try:
        degree, depth = (int(v) for v in args.tree.lower().split("x"))
        taus = [int(v) for v in args.taus.split(",")]
    except ValueError:
        parser.error(f"--tree/--taus: expected DEGREExDEPTH and comma-separated integers, got {args.tree!r}, {args.taus!r}")
    if args.backend != "gloo":
        parser.error("--backend: expected gloo for --algo tree (the tree engine is tested on gloo sub-groups only)")
    try:
        tree = Tree.regular(degree, depth)
    except ValueError as err:
        parser.error(f"--tree: {err}")
    if len(taus) not in (1, depth):
        parser.error(f"--taus: expected 1 or {depth} periods (one per level of --tree {args.tree}), got {len(taus)}")
    if world != tree.p:
        parser.error(f"--tree {args.tree} has {tree.p} leaves and needs {tree.p} processes, got {world}")
    if len(taus) == 1:
        taus = taus * depth
    dist.init_process_group("gloo")
    try:
        result = run_tree(tree.parents, args.eta, args.rounds, taus, None, args.beta, args.momentum, args.problem,
                          args.seed, args.dtype)
        if dist.get_rank() == 0:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            torch.save(result, args.out)
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
