r"""Dissimilarities in a feature space and the ranks they induce around each anchor.

For a batch of features Z (B, p), :math:`D_{ij}=d(z_i,z_j)`. Around anchor :math:`i`, the normalised rank of
:math:`j` is the share of the other points :math:`k\ne i,j` that are closer to :math:`i` (ties count one half),

.. math:: R_{ij}=\frac1{B-2}\sum_{k\ne i,j}\Big(\mathbb 1[D_{ik}<D_{ij}]+\tfrac12\mathbb 1[D_{ik}=D_{ij}]\Big)\in[0,1],

the finite-sample version of the probabilistic rank :math:`\mathbb P_Z[d(x,Z)<d(x,y)]`. The soft ranks replace the
step by a sigmoid whose width is relative to the anchor's mean distance (held fixed under differentiation), so
rescaling the features changes nothing.

Used in: chapter 17.
"""

from __future__ import annotations

import torch

from harmonia.config import check_in, check_int, check_positive, check_tensor

__all__ = ["METRICS", "anchor_chunk", "pairwise_dist", "hard_ranks", "soft_ranks", "off_diagonal"]

METRICS = ("euclidean", "sqeuclidean", "cosine")


def pairwise_dist(Z: torch.Tensor, metric: str = "euclidean", eps: float = 1e-12) -> torch.Tensor:
    r"""The (B, B) matrix of dissimilarities of the rows of Z (B, p): Euclidean (with ``eps`` under the square root so
    the gradient exists at 0), squared Euclidean, or cosine :math:`1-\cos`. The diagonal is 0 (up to ``eps``)."""
    check_tensor(Z, "Z", ndim=2, dtype="floating")
    check_in(metric, "metric", METRICS)
    if metric == "cosine":
        U = Z / Z.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return (1 - U @ U.T).clamp_min(0)
    sq = (Z[:, None, :] - Z[None, :, :]).pow(2).sum(-1)
    return sq if metric == "sqeuclidean" else torch.sqrt(sq + eps)


def off_diagonal(B: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Boolean (B, B) mask of the pairs i != j."""
    B = check_int(B, "B", minimum=0)
    return ~torch.eye(B, dtype=torch.bool, device=device)


def _check_square(D: torch.Tensor) -> int:
    check_tensor(D, "D", ndim=2, dtype="floating")
    B = D.shape[0]
    if D.shape[1] != B or B < 3:
        raise ValueError(f"D: expected a square (B, B) matrix with B >= 3, got shape {tuple(D.shape)}")
    return B


def anchor_chunk(B: int) -> int:
    """Anchors per chunk so that one (chunk, B, B) comparison tensor holds about 4M entries."""
    B = check_int(B, "B")
    return max(1, (1 << 22) // (B * B))


def hard_ranks(D: torch.Tensor) -> torch.Tensor:
    r"""Normalised ranks :math:`R_{ij}` (see the module) of a dissimilarity matrix D (B, B), ties one half; the
    diagonal is set to 0 and never used. Returns (B, B), dtype of D."""
    B = _check_square(D)
    keep = off_diagonal(B, D.device)
    rows = []
    for lo in range(0, B, anchor_chunk(B)):                                          # anchors in chunks: O(chunk B^2) memory
        Dc = D[lo:lo + anchor_chunk(B)]
        Dij, Dik = Dc[:, :, None], Dc[:, None, :]
        cmp = (Dik < Dij).to(D.dtype) + 0.5 * (Dik == Dij).to(D.dtype)      # [i, j, k]
        cmp = cmp * keep[lo:lo + anchor_chunk(B), None, :] * keep[None, :, :]       # k != i, k != j
        rows.append(cmp.sum(-1))
    return torch.cat(rows) / (B - 2) * keep


def soft_ranks(D: torch.Tensor, tau: float = 0.1, scale: str = "anchor_mean") -> torch.Tensor:
    r"""Soft normalised ranks :math:`\tilde R_{ij}=\frac1{B-2}\sum_{k\ne i,j}\sigma\big((D_{ij}-D_{ik})/(\tau m_i)\big)`
    with :math:`m_i` the anchor's mean distance to the others, detached (``scale="anchor_mean"``), or
    :math:`m_i=1` (``scale="none"``). Differentiable in D; tends to :func:`hard_ranks` as :math:`\tau\to0` (no ties).
    D (B, B) -> (B, B), diagonal 0."""
    B = _check_square(D)
    tau = check_positive(tau, "tau")
    check_in(scale, "scale", ("anchor_mean", "none"))
    keep = off_diagonal(B, D.device)
    if scale == "anchor_mean":
        m = ((D * keep).sum(1) / (B - 1)).detach().clamp_min(1e-12)
    else:
        m = torch.ones(B, dtype=D.dtype, device=D.device)
    S = torch.sigmoid((D[:, :, None] - D[:, None, :]) / (tau * m[:, None, None]))   # [i, j, k]
    return (S * keep[:, None, :] * keep[None, :, :]).sum(-1) / (B - 2) * keep
