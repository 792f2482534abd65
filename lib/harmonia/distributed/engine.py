"""The same algorithms on ``torch.distributed``: all-reduce for synchronous EASGD, a parameter server
for the asynchronous ones.

Call these inside an initialised process group (``torchrun`` with :mod:`harmonia.distributed.launch`,
or :func:`harmonia.distributed.launch.spawn` in tests and notebooks). Every process builds the same
objective (same seed), so worker ``i`` reads the same stream as in the simulation.

- :func:`dist_sync_easgd`: world size ``p``, rank ``i`` is worker ``i`` and keeps a replica of the
  center; at a communication step :math:`d_i=\\alpha(x^i-\\tilde x)`, ``all_reduce(SUM)`` of the :math:`d_i`,
  :math:`\\tilde x\\mathrel{+}=\\sum_id_i`, :math:`x^i\\mathrel{-}=d_i`. Tensors follow ``x0``'s device, so
  the NCCL backend works with one GPU per rank.
- :func:`dist_async`: world size ``p + 1``; rank 0 is the master holding :math:`\\tilde x`, ranks 1..p the
  workers. A worker at a communication step sends its vector (EASGD: its pre-elastic copy
  :math:`x`; DOWNPOUR: its accumulated steps :math:`u^i`) and receives the center; the master serves
  one message at a time (atomic). ``order="round_robin"`` serves workers in the fixed cyclic order
  1..p, which reproduces the simulation's round-robin schedule exactly; ``order="any"`` serves
  whoever arrives first (free-running). Gloo only (NCCL cannot receive from any source).
- :func:`dist_dp_sam`: data-parallel SAM, world size ``p``: every rank takes the SAM gradient of its own
  batch at the shared point (its own perturbation, no synchronisation of the ascent), one
  ``all_reduce(SUM)`` of the SAM gradients, the same averaged step on every replica. :func:`dist_async`
  with ``rho > 0`` is LSAM on the parameter server (SAM workers, asynchronous elastic center).
- :func:`dist_tree_easgd`: EASGD-Tree on sub-groups, world size = number of leaves. Every rank holds its
  leaf and a replica of each ancestor. An edge level exchanges among the *representatives* of the children
  (a child's representative is the lowest rank below it): ``all_reduce(SUM)`` of :math:`\alpha_e(x_c-x_q)` in the
  group of :math:`q`'s children, then each representative broadcasts the new :math:`(x_c,x_q)` to the ranks below
  :math:`c`, so every replica of a node stays bit-identical.

Used in: chapters 02-04.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from harmonia.config import check_in, check_positive
from harmonia.distributed.algorithms import RunHistory, RunResult, check_sam
from harmonia.distributed.elastic import elastic_exchange, local_step
from harmonia.distributed.problems import worker_gradients
from harmonia.distributed.tree import Tree, edge_rates, level_periods

__all__ = ["dist_sync_easgd", "dist_dp_sam", "dist_async", "dist_tree_easgd", "ASYNC_ALGOS", "EXCHANGE_TAG", "FINAL_TAG"]

ASYNC_ALGOS = ("easgd", "downpour")
EXCHANGE_TAG, FINAL_TAG = 1, 2


def _gather_workers(x: torch.Tensor, disp: torch.Tensor, dst_offset: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Collect every worker's final vector and displacement on rank 0 (``dst_offset``: first worker rank)."""
    rank, world = dist.get_rank(), dist.get_world_size()
    p = world - dst_offset
    payload = torch.stack([x, disp])
    if rank == 0:
        out = torch.empty(p, 2, x.numel(), dtype=x.dtype, device=x.device)
        for w in range(p):
            src = w + dst_offset
            if src == 0:
                out[w] = payload
            else:
                dist.recv(out[w], src=src, tag=FINAL_TAG)
        return out[:, 0], out[:, 1]
    dist.send(payload.contiguous(), dst=0, tag=FINAL_TAG)
    return None


def dist_sync_easgd(objective, x0: torch.Tensor, eta: float, rounds: int, *, alpha: float | None = None,
                    beta: float = 0.9, tau: int = 1, momentum: float = 0.0) -> RunResult | None:
    """Synchronous EASGD/EAMSGD with one worker per rank; returns the result on rank 0, None elsewhere."""
    p, i = dist.get_world_size(), dist.get_rank()
    tau = check_positive(tau, "tau", integer=True)
    alpha = beta / p if alpha is None else alpha
    objective.reset()
    x, center = x0.clone(), x0.clone()
    v, disp = torch.zeros_like(x), torch.zeros_like(x)
    for t in range(rounds):
        work = None
        if t % tau == 0:
            # the elastic term depends on x only: start its all-reduce, compute the gradient while it travels
            d = alpha * (x - center)
            total = d.clone()
            work = dist.all_reduce(total, op=dist.ReduceOp.SUM, async_op=True)
        g = objective.grad((x + momentum * v)[None] if momentum else x[None], [i])[0]
        if work is not None:
            work.wait()
            center = center + total
            x = x - d
        x, v, step = local_step(x, v, g, eta, momentum)
        disp = disp + step
    gathered = _gather_workers(x, disp, 0)
    if gathered is None:
        return None
    return RunResult(center, gathered[0], RunHistory(), gathered[1])


def dist_dp_sam(objective, x0: torch.Tensor, eta: float, rounds: int, *, rho: float = 0.05, gamma: float = 1e-12,
                momentum: float = 0.0) -> RunResult | None:
    """Data-parallel SAM with one worker per rank (per-worker perturbation); the result on rank 0, None elsewhere.
    The simulation is :func:`harmonia.distributed.run_dp_sam` (``global_eps=False``)."""
    check_sam(rho, gamma)
    p, i = dist.get_world_size(), dist.get_rank()
    objective.reset()
    x, v = x0.clone(), torch.zeros_like(x0)
    for _ in range(rounds):
        point = x + momentum * v if momentum else x
        g = worker_gradients(objective, point[None], [i], rho, gamma)[0]
        dist.all_reduce(g, op=dist.ReduceOp.SUM)
        x, v, _ = local_step(x, v, g / p, eta, momentum)
    gathered = _gather_workers(x, torch.zeros_like(x), 0)
    if gathered is None:
        return None
    return RunResult(x, gathered[0], RunHistory())


def dist_async(algo: str, objective, x0: torch.Tensor, eta: float, rounds: int, *, alpha: float | None = None,
               beta: float = 0.9, tau: int = 1, momentum: float = 0.0, order: str = "round_robin",
               rho: float = 0.0, gamma: float = 1e-12) -> RunResult | None:
    """Asynchronous EASGD/EAMSGD (``algo="easgd"``; LSAM with ``rho > 0``) or DOWNPOUR on a parameter server (rank 0).

    Returns the result on rank 0 (center, workers, displacements), None on the workers.
    """
    check_in(algo, "algo", ASYNC_ALGOS)
    check_sam(rho, gamma)
    if rho and algo != "easgd":
        raise ValueError(f"rho: expected 0 for algo={algo!r} (SAM workers are LSAM's: algo='easgd'), got {rho}")
    check_in(order, "order", ("round_robin", "any"))
    tau = check_positive(tau, "tau", integer=True)
    world = dist.get_world_size()
    p, rank = world - 1, dist.get_rank()
    if p < 1:
        raise ValueError(f"world size: expected at least 2 processes (a master and a worker), got {world}")
    alpha = beta / p if alpha is None else alpha
    objective.reset()
    n_exchanges = (rounds + tau - 1) // tau  # communication steps of each worker
    if rank == 0:
        center, buf = x0.clone(), torch.empty_like(x0)
        sources = (src for _ in range(n_exchanges) for src in range(1, p + 1))
        for k in range(n_exchanges * p):
            if order == "round_robin":
                src = next(sources)
                dist.recv(buf, src=src, tag=EXCHANGE_TAG)
            else:
                src = dist.recv(buf, src=None, tag=EXCHANGE_TAG)
            if algo == "easgd":
                dist.send(center, dst=src, tag=EXCHANGE_TAG)  # the snapshot the worker uses
                center = elastic_exchange(buf, center, alpha)[1]
            else:
                center = center + buf
                dist.send(center, dst=src, tag=EXCHANGE_TAG)
        workers, disp = _gather_workers(torch.zeros_like(x0), torch.zeros_like(x0), 1)
        return RunResult(center, workers, RunHistory(), disp)

    i = rank - 1
    x, v, u, disp = x0.clone(), torch.zeros_like(x0), torch.zeros_like(x0), torch.zeros_like(x0)
    snap = torch.empty_like(x0)
    for t in range(rounds):
        if algo == "easgd":
            copy = x.clone()
            if t % tau == 0:
                dist.send(copy, dst=0, tag=EXCHANGE_TAG)
                dist.recv(snap, src=0, tag=EXCHANGE_TAG)
                x = elastic_exchange(copy, snap, alpha)[0]  # the worker's half of the same exchange
            point = copy + momentum * v if momentum else copy
            x, v, step = local_step(x, v, worker_gradients(objective, point[None], [i], rho, gamma)[0], eta, momentum)
        else:
            if t % tau == 0:
                dist.send(u, dst=0, tag=EXCHANGE_TAG)
                dist.recv(snap, src=0, tag=EXCHANGE_TAG)
                x, u = snap.clone(), torch.zeros_like(u)
            x, _, step = local_step(x, v, objective.grad(x[None], [i])[0], eta)
            u = u + step
        disp = disp + step
    _gather_workers(x, disp, 1)
    return None


def dist_tree_easgd(objective, x0: torch.Tensor, tree: Tree, eta: float, rounds: int, *, alphas=None,
                    beta: float = 0.9, taus=1, momentum: float = 0.0) -> dict | None:
    """Synchronous EASGD-Tree (Jacobi per level) with one leaf per rank, on ``torch.distributed`` sub-groups.

    Same arguments as :func:`harmonia.distributed.tree.run_easgd_tree`. Returns on rank 0 a dict with
    ``nodes`` (len(tree), n) -- each internal node read from its representative -- and ``replicas``
    (world, len(tree), n): every rank's copy of every node it holds (NaN elsewhere); None on other ranks.
    All ranks must call this with the same arguments (the sub-groups are created collectively).
    """
    world, rank = dist.get_world_size(), dist.get_rank()
    if world != tree.p:
        raise ValueError(f"tree: expected as many leaves as processes ({world}), got {tree.p}")
    rates = edge_rates(tree, alphas, beta)
    periods = level_periods(tree, taus)
    rank_of = {leaf: w for w, leaf in enumerate(tree.leaves)}
    rep = [rank_of[tree.subtree_leaves(k)[0]] for k in range(len(tree))]
    # collective creation, same order on every rank: one group per internal node (its children's
    # representatives) and one per non-root internal node (the ranks below it)
    child_group, below_group = {}, {}
    for k in range(len(tree)):
        if tree.children[k]:
            ranks = sorted({rep[c] for c in tree.children[k]})
            g = dist.new_group(ranks) if len(ranks) > 1 else None
            child_group[k] = (g, ranks)
            if k != tree.root:
                below = sorted(rank_of[leaf] for leaf in tree.subtree_leaves(k))
                below_group[k] = (dist.new_group(below), below)
    leaf = tree.leaves[rank]
    chain = [leaf]
    while tree.parents[chain[-1]] != -1:
        chain.append(tree.parents[chain[-1]])
    # on this rank's chain: the edge (child, parent) of each level
    edge_at = {tree.height[q]: (c, q) for c, q in zip(chain[:-1], chain[1:])}
    objective.reset()
    held = {k: x0.clone() for k in chain}
    v, disp = torch.zeros_like(x0), torch.zeros_like(x0)
    for t in range(rounds):
        x = held[leaf]
        g = objective.grad((x + momentum * v)[None] if momentum else x[None], [rank])[0]
        for level in tree.levels:
            if t % periods[level] or level not in edge_at:
                continue
            c, q = edge_at[level]
            if rep[c] == rank:
                d = rates[c] * (held[c] - held[q])
                total = d.clone()
                group, _ = child_group[q]
                if group is not None:
                    dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)
                held[q] = held[q] + total
                held[c] = held[c] - d
            if c in below_group:
                group, ranks = below_group[c]
                pair = torch.stack([held[c], held[q]])
                dist.broadcast(pair, src=rep[c], group=group)
                held[c], held[q] = pair[0].clone(), pair[1].clone()
        held[leaf], v, step = local_step(held[leaf], v, g, eta, momentum)
        disp = disp + step
    mine = torch.full((len(tree), x0.numel()), float("nan"), dtype=x0.dtype, device=x0.device)
    for k, val in held.items():
        mine[k] = val
    gathered = [torch.empty_like(mine) for _ in range(world)] if rank == 0 else None
    dist.gather(mine, gathered, dst=0)
    if rank != 0:
        return None
    replicas = torch.stack(gathered)
    nodes = torch.stack([replicas[rep[k], k] for k in range(len(tree))])
    return {"nodes": nodes, "replicas": replicas}
