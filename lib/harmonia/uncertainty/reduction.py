r"""Summarising a class by fewer inner points: random subsets, K-means centroids, or the data points nearest to the
centroids (the paper's strategies I, II and III). K-means (k-means++ seeding, Lloyd iterations, best of ``n_init``
runs by inertia) is implemented in torch so it runs where the features are.

Used in: chapter 15.
"""

from __future__ import annotations

import torch

from harmonia.config import check_in, check_int, check_tensor, make_generator

__all__ = ["STRATEGIES", "kmeans", "reduce_points"]

STRATEGIES = ("random", "kmeans_center", "kmeans_center_plus")


def _kmeans_pp(F: torch.Tensor, k: int, g: torch.Generator) -> torch.Tensor:
    idx = [int(torch.randint(F.shape[0], (1,), generator=g))]
    d2 = ((F - F[idx[0]]) ** 2).sum(1)
    for _ in range(1, k):
        p = d2 / d2.sum() if float(d2.sum()) > 0 else torch.full_like(d2, 1 / len(d2))
        i = int(torch.multinomial(p.cpu(), 1, generator=g))
        idx.append(i)
        d2 = torch.minimum(d2, ((F - F[i]) ** 2).sum(1))
    return F[idx].clone()


def kmeans(F: torch.Tensor, k: int, *, n_init: int = 4, iters: int = 50,
           seed: int | torch.Generator | None = 0) -> tuple[torch.Tensor, torch.Tensor, float]:
    """K-means of the rows of F (N, p) into k clusters. Returns (centroids (k, p), labels (N,), inertia)."""
    F = check_tensor(F, "F", shape=("N", "p"), dtype="float32_64")
    k = check_int(k, "k")
    if k > F.shape[0]:
        raise ValueError(f"k: expected at most the {F.shape[0]} points, got {k}")
    g = make_generator(seed)
    best = None
    for _ in range(check_int(n_init, "n_init")):
        C = _kmeans_pp(F, k, g)
        for _ in range(iters):
            lab = torch.cdist(F, C).argmin(1)
            newC = torch.zeros_like(C).index_add_(0, lab, F)
            cnt = torch.bincount(lab, minlength=k).to(F.dtype)
            empty = cnt == 0
            newC = newC / cnt.clamp_min(1)[:, None]
            newC[empty] = C[empty]                                     # an empty cluster keeps its centre
            if torch.equal(newC, C):
                break
            C = newC
        lab = torch.cdist(F, C).argmin(1)
        inertia = float(((F - C[lab]) ** 2).sum())
        if best is None or inertia < best[2]:
            best = (C, lab, inertia)
    return best


def reduce_points(F: torch.Tensor, n: int, strategy: str = "kmeans_center",
                  seed: int | torch.Generator | None = 0) -> torch.Tensor:
    """n inner points summarising the rows of F (N, p): ``"random"`` (a subset without replacement),
    ``"kmeans_center"`` (the K-means centroids, not data points), ``"kmeans_center_plus"`` (for each centroid, the
    nearest data point; duplicates removed). Returns (n', p), n' <= n (= n unless ``n >= N``: then all points)."""
    F = check_tensor(F, "F", shape=("N", "p"), dtype="float32_64")
    check_in(strategy, "strategy", STRATEGIES)
    n = check_int(n, "n", minimum=2)
    if n >= F.shape[0]:
        return F.clone()
    g = make_generator(seed)
    if strategy == "random":
        return F[torch.randperm(F.shape[0], generator=g)[:n].to(F.device)]
    C, _, _ = kmeans(F, n, seed=g)
    if strategy == "kmeans_center":
        return C
    return F[torch.unique(torch.cdist(C, F).argmin(1))]
