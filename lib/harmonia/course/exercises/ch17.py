"""Exercises of chapter 17 (perception coherence)."""

from __future__ import annotations

import torch

from harmonia.course.exercises import Exercise, register
from harmonia.distill import hard_ranks, soft_ranks

F64 = torch.float64


def kendall_tau(a: torch.Tensor, b: torch.Tensor) -> float:
    """Reference of 17.1: Kendall's tau of two score vectors (n,) without ties, by scipy."""
    from scipy.stats import kendalltau

    return float(kendalltau(a.numpy(), b.numpy())[0])


def normalised_ranks(D: torch.Tensor) -> torch.Tensor:
    """Reference of 17.2: the normalised ranks R (B, B) of a dissimilarity matrix, ties one half, diagonal 0."""
    return hard_ranks(D)


def soft_rank_slope(D: torch.Tensor, tau: float) -> torch.Tensor:
    """Reference of 17.3: d R~_ij / d D_ij for every pair (B, B) (diagonal 0), by automatic differentiation of
    harmonia.distill.soft_ranks (the anchor's mean distance held fixed, as in the library)."""
    B = D.shape[0]
    out = torch.zeros_like(D)
    Dv = D.detach().clone().requires_grad_(True)
    R = soft_ranks(Dv, tau)
    for i in range(B):
        for j in range(B):
            if i != j:
                out[i, j] = torch.autograd.grad(R[i, j], Dv, retain_graph=True)[0][i, j]
    return out


def _tau_cases(gen: torch.Generator):
    out = []
    for n in (5, 12, 40):
        a = torch.randn(n, generator=gen, dtype=F64)
        out.append(((a, a + 0.7 * torch.randn(n, generator=gen, dtype=F64)), {}))
    a = torch.randn(9, generator=gen, dtype=F64)
    out.append(((a, -a), {}))
    return out


def _dist(gen: torch.Generator, B: int, p: int, integer: bool = False) -> torch.Tensor:
    Z = torch.randn(B, p, generator=gen, dtype=F64)
    if integer:
        Z = torch.round(2 * Z)
    return torch.cdist(Z, Z)


def _rank_cases(gen: torch.Generator):
    return [((_dist(gen, 7, 3),), {}), ((_dist(gen, 12, 2, integer=True),), {}), ((_dist(gen, 20, 5) ** 3,), {})]


def _slope_cases(gen: torch.Generator):
    return [((_dist(gen, 6, 3), 0.2), {}), ((_dist(gen, 9, 2), 0.05), {})]


register(Exercise(
    id="17.1", title="Kendall's tau by counting pairs", reference=kendall_tau, cases=_tau_cases,
    level="easy", hints=(
        "Look at every pair of positions (k, l): do a and b order them the same way?",
        "a pair is concordant when (a_k - a_l)(b_k - b_l) > 0 and discordant when < 0; tau = (concordant - "
        "discordant) / number of pairs",
        "loop over k < l, or use torch.sign(a[:, None] - a[None, :]) * torch.sign(b[:, None] - b[None, :]) and "
        "average its strict upper triangle"),
    rtol=1e-12, atol=1e-12,
))
register(Exercise(
    id="17.2", title="normalised ranks around every anchor", reference=normalised_ranks, cases=_rank_cases,
    level="easy", hints=(
        "For anchor i and point j, count the other points k (not i, not j) that are closer to i than j is.",
        "R_ij = (#{k != i, j: D_ik < D_ij} + 0.5 #{k != i, j: D_ik = D_ij}) / (B - 2), and R_ii = 0",
        "compare D[i, :, None] with D[i, None, :] and mask out k = i and k = j before summing"),
    rtol=0, atol=1e-12,
))
register(Exercise(
    id="17.3", title="the slope of a soft rank", reference=soft_rank_slope, cases=_slope_cases,
    level="medium", hints=(
        "R~_ij depends on D_ij through every sigmoid of its sum; the anchor's mean distance m_i is held fixed.",
        "d sigma(x)/dx = sigma(x)(1 - sigma(x)); each term has x = (D_ij - D_ik) / (tau m_i)",
        "slope_ij = sum over k != i, j of sigma(x)(1 - sigma(x)) / (tau m_i (B - 2)), with m_i the mean of D_ik "
        "over k != i"),
    rtol=1e-8, atol=1e-12,
))
