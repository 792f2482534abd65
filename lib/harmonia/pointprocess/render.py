r"""Rasterise a (marked) point pattern on the unit torus into an image, differentiably.

.. math:: \mu(u)=\sum_i w_i\,g_\sigma\big(u-PX_i\big),\qquad
          g_\sigma(v)=\frac{\prod_{a=1,2}\sum_{e\in\mathbb Z}e^{-(v_a+eP)^2/(2\sigma^2)}}{\text{its sum over the grid}},

a periodic Gaussian bump of width :math:`\sigma` pixels per point on the :math:`P\times P` grid (pixel
:math:`u=(u_1,u_2)` at :math:`u/P`), each bump of total mass 1, so :math:`\sum_u\mu(u)=\sum_iw_i` exactly. The bump
is separable, so the image is one matrix product :math:`G_1^\top\mathrm{diag}(w)G_2`; it is linear in the
weights (marks) :math:`w` and smooth in the positions.

Used in: chapters 09, 10.
"""

from __future__ import annotations

import math

import torch

from harmonia.config import check_int, check_positive, check_tensor

__all__ = ["render_gaussian"]


def _bumps(coord: torch.Tensor, P: int, sigma: float) -> torch.Tensor:
    """(n, P) periodic 1-D Gaussians centred at P * coord, each summing to 1."""
    grid = torch.arange(P, dtype=coord.dtype, device=coord.device)
    wraps = max(1, math.ceil(6 * sigma / P))
    e = torch.arange(-wraps, wraps + 1, dtype=coord.dtype, device=coord.device) * P
    v = grid[None, :, None] - P * coord[:, None, None] + e[None, None, :]
    g = torch.exp(-v.square() / (2 * sigma**2)).sum(-1)
    return g / g.sum(dim=1, keepdim=True)


def render_gaussian(x: torch.Tensor, P: int, sigma: float = 1.0, weights: torch.Tensor | None = None) -> torch.Tensor:
    """The measure :math:`\\sum_iw_i\\delta_{X_i}` smoothed by a periodic Gaussian of ``sigma`` pixels.

    Parameters
    ----------
    x : (n, 2) floating tensor, points in the unit torus (any real values: positions are periodic)
    P : int, grid side
    sigma : float > 0, bump width in pixels
    weights : (n,) tensor, optional (default 1 per point)

    Returns
    -------
    (P, P) tensor of ``x``'s dtype and device; row index = first coordinate

    Used in: chapters 09, 10.
    """
    check_tensor(x, "x", dtype="floating", shape=(None, 2))
    P = check_int(P, "P", 2)
    sigma = check_positive(sigma, "sigma")
    if weights is None:
        weights = torch.ones(len(x), dtype=x.dtype, device=x.device)
    check_tensor(weights, "weights", dtype=x.dtype, shape=(len(x),), like=x)
    g1 = _bumps(x[:, 0] % 1.0, P, sigma)
    g2 = _bumps(x[:, 1] % 1.0, P, sigma)
    return (g1 * weights[:, None]).T @ g2
