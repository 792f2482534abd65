"""Exercises of chapter 15 (lens depth and Fermat distance)."""

from __future__ import annotations

import itertools
import math

import torch

from harmonia.course.exercises import Exercise, register
from harmonia.metrics import auroc
from harmonia.uncertainty import distances, lens_depth

F64 = torch.float64


def lens_depth_count(x: torch.Tensor, Q: torch.Tensor) -> float:
    """Reference of 15.1: the Euclidean lens depth of one point x (p,) in the sample Q (n, p)."""
    return float(lens_depth(distances(x[None], Q), distances(Q, Q))[0])


def fermat_limit(Q: torch.Tensor) -> torch.Tensor:
    """Reference of 15.2: the limit of D_{Q,alpha}^{1/alpha} as alpha -> infinity: for every pair, the smallest
    possible largest hop over paths between them (the minimax path distance). Q: (n, p) -> (n, n)."""
    W = distances(Q, Q)
    for k in range(len(Q)):                                  # Floyd-Warshall in the (min, max) semiring
        W = torch.minimum(W, torch.maximum(W[:, k:k + 1], W[k:k + 1, :]))
    return W


def auroc_by_hand(score_id: torch.Tensor, score_ood: torch.Tensor) -> float:
    """Reference of 15.3: P(ID score > OOD score) + P(tie) / 2."""
    return auroc(score_id, score_ood)


def _ld_cases(gen: torch.Generator):
    out = []
    for n, p in ((12, 1), (20, 2), (15, 3)):
        Q = torch.randn(n, p, generator=gen, dtype=F64)
        for x in (torch.randn(p, generator=gen, dtype=F64), 4 * torch.randn(p, generator=gen, dtype=F64), Q.mean(0)):
            out.append(((x, Q), {}))
    return out


def _limit_cases(gen: torch.Generator):
    return [((torch.randn(n, 2, generator=gen, dtype=F64),), {}) for n in (5, 12, 30)]


def _auroc_cases(gen: torch.Generator):
    out = []
    for n, m, levels in ((20, 15, 4), (50, 40, 1000), (7, 9, 2)):
        a = torch.randint(0, levels, (n,), generator=gen).to(F64)
        b = torch.randint(0, levels, (m,), generator=gen).to(F64) - 0.5 * (levels > 2)
        out.append(((a, b), {}))
    out.append(((torch.zeros(5, dtype=F64), torch.zeros(3, dtype=F64)), {}))
    return out


register(Exercise(
    id="15.1", title="lens depth by counting lenses", reference=lens_depth_count, cases=_ld_cases,
    level="easy", hints=(
        "Replace the two random sample points by every pair of the sample: for how many pairs does x fall in their "
        "lens, and out of how many pairs?",
        "x is in the lens of (q_i, q_j) when max(|x - q_i|, |x - q_j|) <= |q_i - q_j|; count over i < j and divide "
        "by n (n - 1) / 2",
        "loop over itertools.combinations(range(n), 2); return a float"),
    rtol=0, atol=1e-15,
))
register(Exercise(
    id="15.2", title="the Fermat distance as alpha grows", reference=fermat_limit, cases=_limit_cases,
    level="medium", hints=(
        "For a fixed path, what does (sum of hop lengths^alpha)^(1/alpha) tend to as alpha grows? Then take the best "
        "path.",
        "(sum_k h_k^alpha)^(1/alpha) -> max_k h_k, so the limit is the minimum over paths of the largest hop "
        "(a minimax, or bottleneck, path)",
        "Floyd-Warshall with (min, max) instead of (min, +): W = min(W, max(W[:, k], W[k, :])) for every k, starting "
        "from the Euclidean distances"),
    rtol=1e-12, atol=1e-12,
))
register(Exercise(
    id="15.3", title="an AUROC by hand, with ties", reference=auroc_by_hand, cases=_auroc_cases,
    level="easy", hints=(
        "The AUROC is a probability over one random in-distribution score and one random out-of-distribution score: "
        "which event, and how do ties count?",
        "compare every ID score with every OOD score: count 1 when ID > OOD and 1/2 when they are equal, then divide "
        "by the number of pairs",
        "(a[:, None] > b[None, :]).sum() + 0.5 * (a[:, None] == b[None, :]).sum(), over len(a) * len(b)"),
    rtol=1e-12, atol=1e-12,
))
