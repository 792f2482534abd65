r"""Lens depth: how central a point is in a sample, from distances alone.

The lens of two points :math:`a,b` is :math:`\{z:\max(d(z,a),d(z,b))\le d(a,b)\}`; the empirical lens depth of :math:`x`
in :math:`Q=\{q_1,\dots,q_n\}` is the fraction of pairs whose lens contains it,

.. math::

    \widehat{LD}(x)=\binom n2^{-1}\sum_{i<j}\mathbb 1\big[\max\{d(x,q_i),d(x,q_j)\}\le d(q_i,q_j)\big].

It only compares distances, so any increasing transform of :math:`d` gives the same depth. In 1-D with
:math:`k` sample points below :math:`x` and :math:`n-k` above, :math:`\widehat{LD}=k(n-k)/\binom n2`.

Used in: chapter 15.
"""

from __future__ import annotations

import torch

from harmonia.config import check_tensor
from harmonia.uncertainty.fermat import distances, fermat_inner, fermat_to_inner

__all__ = ["lens_depth", "lens_depth_euclidean", "fermat_lens_depth"]


def lens_depth(dist_to_inner: torch.Tensor, inner_dist: torch.Tensor, chunk: int = 128) -> torch.Tensor:
    """The empirical lens depth for any distance. dist_to_inner: (B, n) distances of B points to the n inner points;
    inner_dist: (n, n) distances between inner points -> (B,) in [0, 1]. Chunked over B (memory B x n x n)."""
    d = check_tensor(dist_to_inner, "dist_to_inner", shape=("B", "n"), dtype="floating")
    n = d.shape[1]
    D = check_tensor(inner_dist, "inner_dist", shape=(n, n), dtype="floating", like=d)
    if n < 2:
        raise ValueError(f"inner_dist: expected at least 2 inner points, got {n}")
    iu = torch.triu_indices(n, n, 1, device=d.device)
    Dp = D.to(d.dtype)[iu[0], iu[1]]                                   # (pairs,)
    out = []
    for s in range(0, d.shape[0], chunk):
        dc = d[s:s + chunk]
        inside = torch.maximum(dc[:, iu[0]], dc[:, iu[1]]) <= Dp
        out.append(inside.sum(1))
    if not out:  # no query point
        return d.new_zeros(0)
    return torch.cat(out).to(d.dtype) / (n * (n - 1) / 2)


def _check_points(Z: torch.Tensor, Q: torch.Tensor) -> None:
    check_tensor(Q, "Q", shape=("n", "p"), dtype="float32_64")
    check_tensor(Z, "Z", shape=("B", Q.shape[1]), dtype="float32_64", like=Q)
    if Q.shape[0] < 2:
        raise ValueError(f"Q: expected at least 2 inner points, got {Q.shape[0]}")


def lens_depth_euclidean(Z: torch.Tensor, Q: torch.Tensor) -> torch.Tensor:
    """Lens depth with the Euclidean distance. Z: (B, p); Q: (n, p) -> (B,)."""
    _check_points(Z, Q)
    return lens_depth(distances(Z, Q), distances(Q, Q))


def fermat_lens_depth(Z: torch.Tensor, Q: torch.Tensor, alpha: float, *, snap: bool = False,
                      D: torch.Tensor | None = None) -> torch.Tensor:
    """Lens depth with the sample Fermat distance (modified, or snapped with ``snap=True``); the pair distances are
    the plain :math:`D_{Q,\\alpha}`. Z: (B, p); Q: (n, p) -> (B,). ``D``: a precomputed :func:`fermat_inner`."""
    _check_points(Z, Q)
    if D is not None:
        check_tensor(D, "D", shape=(Q.shape[0], Q.shape[0]), dtype="float32_64", like=Q)
    D = fermat_inner(Q, alpha) if D is None else D
    return lens_depth(fermat_to_inner(Z, Q, D, alpha, snap=snap), D)
