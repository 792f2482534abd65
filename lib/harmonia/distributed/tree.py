"""EASGD-Tree: elastic springs on every edge of a tree whose leaves are the workers.

Every internal node :math:`q` holds a center variable :math:`x_q`; the root's is the model. An edge from a child
:math:`c` to its parent :math:`q` is an elastic spring with moving rate :math:`\\alpha_e` and period :math:`\\tau_e`:

.. math:: d=\\alpha_e(x_c-x_q),\\qquad x_c\\leftarrow x_c-d,\\qquad x_q\\leftarrow x_q+d .

Edges are grouped by *level*, the height of their parent (leaves have height 0, so the edges into the leaves'
parents are level 1). One round: (1) every leaf computes its gradient at its pre-exchange point (one call);
(2) from level 1 up, every level whose period divides the round exchanges on all its edges -- all from the
same snapshot (``order="jacobi"``) or child by child in index order (``"gauss_seidel"``); (3) the leaves take
their local steps. Internal nodes never compute gradients. The default rate of a child edge of a node with
:math:`d_q` children is :math:`\\beta/d_q`. A root with ``p`` leaves is flat EASGD (synchronous for Jacobi,
round robin for Gauss-Seidel).

The same synchronous algorithm runs on ``torch.distributed`` sub-groups in
:func:`harmonia.distributed.engine.dist_tree_easgd`.

Used in: chapter 03.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from harmonia.config import check_in, check_positive, check_tensor
from harmonia.distributed.algorithms import RunHistory, record_round
from harmonia.distributed.elastic import elastic_exchange, local_step

__all__ = ["Tree", "TreeResult", "run_easgd_tree", "edge_rates", "level_periods"]


class Tree:
    """A rooted tree given by its parent array: ``parents[k]`` is node ``k``'s parent, ``-1`` for the root.

    The leaves, in increasing node index, are the workers ``0..p-1``.
    """

    def __init__(self, parents: Sequence[int]) -> None:
        parents = [int(q) for q in parents]
        n = len(parents)
        roots = [k for k, q in enumerate(parents) if q == -1]
        if n < 2 or len(roots) != 1:
            raise ValueError(f"parents: expected at least 2 nodes and exactly one root (-1), got {parents}")
        if any(not (q == -1 or 0 <= q < n) or q == k for k, q in enumerate(parents)):
            raise ValueError(f"parents: expected parent indices in 0..{n - 1} (or -1 for the root), got {parents}")
        self.parents, self.root = parents, roots[0]
        self.children: list[list[int]] = [[] for _ in range(n)]
        for k, q in enumerate(parents):
            if q >= 0:
                self.children[q].append(k)
        for k in range(n):  # every node must reach the root (no cycles)
            seen, j = set(), k
            while j != self.root:
                if j in seen:
                    raise ValueError(f"parents: expected a tree, got a cycle through node {j}")
                seen.add(j)
                j = parents[j]
        self.leaves = [k for k in range(n) if not self.children[k]]
        self.height = [0] * n
        for k in sorted(range(n), key=self.depth_of, reverse=True):
            if self.children[k]:
                self.height[k] = 1 + max(self.height[c] for c in self.children[k])

    @classmethod
    def flat(cls, p: int) -> "Tree":
        """Root 0 with leaves 1..p (flat EASGD)."""
        p = check_positive(p, "p", integer=True)
        return cls([-1] + [0] * p)

    @classmethod
    def regular(cls, degree: int, depth: int) -> "Tree":
        """Every internal node has ``degree`` children; ``degree**depth`` leaves; nodes numbered level by level."""
        degree = check_positive(degree, "degree", integer=True)
        depth = check_positive(depth, "depth", integer=True)
        parents, level = [-1], [0]
        for _ in range(depth):
            nxt = []
            for q in level:
                for _ in range(degree):
                    parents.append(q)
                    nxt.append(len(parents) - 1)
            level = nxt
        return cls(parents)

    def __len__(self) -> int:
        return len(self.parents)

    @property
    def p(self) -> int:
        """Number of leaves (workers)."""
        return len(self.leaves)

    @property
    def levels(self) -> list[int]:
        """Edge levels present, from the leaves up: ``1..height(root)`` (some may be empty in irregular trees)."""
        return list(range(1, self.height[self.root] + 1))

    def depth_of(self, k: int) -> int:
        d = 0
        while self.parents[k] != -1:
            k, d = self.parents[k], d + 1
        return d

    def edges(self, level: int) -> list[tuple[int, int]]:
        """Edges ``(child, parent)`` whose parent has height ``level``, by increasing child index."""
        return [(c, q) for c, q in enumerate(self.parents) if q >= 0 and self.height[q] == level]

    def subtree_leaves(self, k: int) -> list[int]:
        """Leaves below node ``k`` (``[k]`` for a leaf), increasing."""
        out, stack = [], [k]
        while stack:
            j = stack.pop()
            if self.children[j]:
                stack.extend(self.children[j])
            else:
                out.append(j)
        return sorted(out)

    def worker(self, leaf: int) -> int:
        """Worker index of a leaf node."""
        return self.leaves.index(leaf)


def edge_rates(tree: Tree, alphas: Mapping[int, float] | Sequence[float] | None = None, beta: float = 0.9) -> list[float]:
    """Moving rate of every node's edge to its parent (0 for the root): ``alphas[level]`` (a mapping, or a
    sequence for levels 1, 2, ...), or :math:`\\beta/d_q` by default."""
    if alphas is None and not 0 < beta <= 1:
        raise ValueError(f"beta: expected a value in (0, 1] (edge rates beta/d_q), got {beta}")
    rates = [0.0] * len(tree)
    for c, q in enumerate(tree.parents):
        if q < 0:
            continue
        if alphas is None:
            rates[c] = beta / len(tree.children[q])
        else:
            rates[c] = float(_per_level(alphas, tree.height[q], "alphas"))
        if not 0 <= rates[c] <= 1:
            raise ValueError(f"alphas: expected moving rates in [0, 1], got {rates[c]} on the edge {c}->{q}")
    return rates


def level_periods(tree: Tree, taus: Mapping[int, int] | Sequence[int] | int = 1) -> dict[int, int]:
    """Communication period of every level: an int for all, a mapping level -> tau, or a sequence for 1, 2, ..."""
    if not isinstance(taus, (numbers.Integral, Mapping, Sequence)) or isinstance(taus, (bool, str)):
        raise TypeError(f"taus: expected an int, a sequence or a mapping of ints, got {type(taus).__name__}")
    out = {}
    for level in tree.levels:
        tau = taus if isinstance(taus, numbers.Integral) else _per_level(taus, level, "taus")
        out[level] = int(check_positive(tau, "taus", integer=True))
    return out


def _per_level(values, level: int, name: str):
    try:
        return values[level] if isinstance(values, Mapping) else values[level - 1]
    except (KeyError, IndexError):
        raise ValueError(f"{name}: expected a value for level {level}, got {values!r}") from None


@dataclass
class TreeResult:
    """Final state of a tree run: ``nodes`` (len(tree), n) -- leaves are the workers, ``nodes[tree.root]`` the
    model; ``history`` (``center_loss`` is the root's loss, ``messages`` those received by the root);
    ``node_messages``: messages received by every node; ``displacement`` (p, n): the leaves' local steps;
    ``root_index``: the root's node index."""

    nodes: torch.Tensor
    history: RunHistory
    node_messages: list[int]
    displacement: torch.Tensor
    root_index: int

    @property
    def root(self) -> torch.Tensor:
        """The root's variable (the model), shape (n,)."""
        return self.nodes[self.root_index]


def run_easgd_tree(objective, x0: torch.Tensor, tree: Tree, eta: float, rounds: int, *,
                   alphas: Mapping[int, float] | Sequence[float] | None = None, beta: float = 0.9,
                   taus: Mapping[int, int] | Sequence[int] | int = 1, order: str = "jacobi", momentum: float = 0.0,
                   record_every: int = 1) -> TreeResult:
    """EASGD-Tree (synchronous rounds), simulated in one process.

    Parameters
    ----------
    objective : AdditiveNoiseQuadratic or ModelObjective
        Worker ``i`` (the ``i``-th leaf) reads stream ``i``.
    x0 : Tensor, shape (n,)
        Common start of every node.
    tree : Tree
        The tree; its leaves are the workers.
    eta : float
        Learning rate of the leaves.
    rounds : int
        Local steps of every leaf.
    alphas, beta : per-level moving rates, or :math:`\\beta/d_q` by default (see :func:`edge_rates`).
    taus : per-level communication periods (see :func:`level_periods`).
    order : {"jacobi", "gauss_seidel"}
        All edges of a level from the same snapshot, or child by child.
    momentum : float
        Nesterov momentum of the leaves' local steps (0: SGD).
    record_every : int
        Record the root's loss every this many rounds (and after the last).
    """
    check_in(order, "order", ("jacobi", "gauss_seidel"))
    check_tensor(x0, "x0", shape=(objective.n,), dtype="floating")
    check_positive(eta, "eta")
    check_positive(rounds, "rounds", integer=True)
    check_positive(record_every, "record_every", integer=True)
    if not isinstance(tree, Tree):
        raise TypeError(f"tree: expected a Tree, got {type(tree).__name__}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum: expected a value in [0, 1), got {momentum}")
    p = tree.p
    if getattr(objective, "p", p) < p:
        raise ValueError(f"tree: expected at most the objective's {objective.p} worker streams as leaves, got {p}")
    rates = edge_rates(tree, alphas, beta)
    periods = level_periods(tree, taus)
    plan = []
    for level in tree.levels:
        edges = tree.edges(level)
        if edges:
            c, q = (torch.tensor(v, device=x0.device) for v in zip(*edges))
            a_list = [rates[k] for k, _ in edges]
            a = torch.tensor(a_list, dtype=x0.dtype, device=x0.device)[:, None]
            plan.append((periods[level], edges, c, q, a, a_list))
    objective.reset()
    leaves = torch.tensor(tree.leaves, device=x0.device)
    N = x0.expand(len(tree), -1).clone()
    V = torch.zeros(p, x0.shape[0], dtype=x0.dtype, device=x0.device)
    disp = torch.zeros_like(V)
    msgs = [0] * len(tree)
    hist, start = RunHistory(), time.perf_counter()
    workers = list(range(p))
    record_round(hist, objective, 0, N[tree.root], N[leaves], 0)
    for t in range(rounds):
        X = N[leaves]
        G = objective.grad(X + momentum * V if momentum else X, workers)
        if t == 0 and torch.promote_types(x0.dtype, G.dtype) != x0.dtype:
            # the objectives expose no common dtype attribute: the first gradient tells it (nothing written yet)
            raise ValueError(f"x0: expected the objective's dtype {G.dtype} (its gradients' dtype), got {x0.dtype}")
        for tau, edges, c, q, a, a_list in plan:
            if t % tau:
                continue
            if order == "jacobi":
                D = a * (N[c] - N[q])
                N[c] -= D
                N.index_add_(0, q, D)
            else:
                for (ci, qi), ai in zip(edges, a_list):
                    N[ci], N[qi], _ = elastic_exchange(N[ci], N[qi], ai)
            for _, qi in edges:
                msgs[qi] += 1
        X, V, step = local_step(N[leaves], V, G, eta, momentum)
        N[leaves] = X
        disp += step
        if (t + 1) % record_every == 0 or t + 1 == rounds:
            if record_round(hist, objective, t + 1, N[tree.root], X, msgs[tree.root]):
                break
    hist.seconds = time.perf_counter() - start
    return TreeResult(N, hist, msgs, disp, tree.root)
