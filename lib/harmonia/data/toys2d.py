r"""Two-dimensional point clouds with curved shapes, for depth and uncertainty demos: two interleaved moons, a
spiral, Gaussian blobs, and a regular grid around a cloud.

- moons: outer arc :math:`(\cos t,\sin t)`, inner arc :math:`(1-\cos t,\tfrac12-\sin t)`, :math:`t` evenly spaced in
  :math:`[0,\pi]` (as scikit-learn's ``make_moons``), plus Gaussian noise;
- spiral: :math:`\theta=3\pi\sqrt U`, :math:`r=2\theta+\pi`, points :math:`r(\cos\theta,\sin\theta)+\mathcal N(0,\sigma^2I)`.

Used in: chapter 15.
"""

from __future__ import annotations

import math

import torch

from harmonia.config import check_finite, check_int, check_positive, check_tensor, make_generator

__all__ = ["make_moons", "make_spiral", "make_blobs", "grid_2d"]


def make_moons(n: int, noise: float = 0.1, seed: int | torch.Generator | None = 0,
               dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of two interleaved half circles (``n // 2`` outer with label 0, the rest inner with label 1),
    in a random order. Returns X (n, 2), y (n,) int64."""
    n = check_int(n, "n", minimum=2)
    check_positive(noise, "noise", allow_zero=True)
    g = make_generator(seed)
    n0, n1 = n // 2, n - n // 2
    t0 = torch.linspace(0, math.pi, n0, dtype=torch.float64)
    t1 = torch.linspace(0, math.pi, n1, dtype=torch.float64)
    X = torch.cat([torch.stack([torch.cos(t0), torch.sin(t0)], 1),
                   torch.stack([1 - torch.cos(t1), 0.5 - torch.sin(t1)], 1)])
    y = torch.cat([torch.zeros(n0, dtype=torch.long), torch.ones(n1, dtype=torch.long)])
    X = X + noise * torch.randn(n, 2, generator=g, dtype=torch.float64)
    perm = torch.randperm(n, generator=g)
    return X[perm].to(dtype), y[perm]


def make_spiral(n: int, noise: float = 1.0, seed: int | torch.Generator | None = 0,
                dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``n`` points along an Archimedean spiral with Gaussian noise (module docstring). Returns (n, 2)."""
    n = check_int(n, "n")
    g = make_generator(seed)
    theta = 3 * math.pi * torch.sqrt(torch.rand(n, generator=g, dtype=torch.float64))
    r = 2 * theta + math.pi
    X = r[:, None] * torch.stack([torch.cos(theta), torch.sin(theta)], 1)
    return (X + noise * torch.randn(n, 2, generator=g, dtype=torch.float64)).to(dtype)


def make_blobs(means, n_per: int, std: float = 1.0, seed: int | torch.Generator | None = 0,
               dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_per`` points of an isotropic Gaussian around each mean (k, 2). Returns X (k n_per, 2), y (k n_per,)."""
    M = torch.as_tensor(means, dtype=torch.float64)
    check_tensor(M, "means", shape=("k", 2))
    g = make_generator(seed)
    n_per = check_int(n_per, "n_per")
    X = (M[:, None, :] + std * torch.randn(len(M), n_per, 2, generator=g, dtype=torch.float64)).reshape(-1, 2)
    return X.to(dtype), torch.arange(len(M)).repeat_interleave(n_per)


def grid_2d(X: torch.Tensor, margin: float = 0.5, steps: int = 30) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A ``steps x steps`` grid covering the bounding box of X (n, 2) enlarged by ``margin``. Returns the points
    (steps^2, 2) and the coordinate arrays xx, yy (steps, steps) for contour plots."""
    X = check_tensor(X, "X", shape=("n", 2), dtype="floating", nonempty=True)
    margin = check_finite(margin, "margin")
    steps = check_int(steps, "steps", minimum=1)
    lo, hi = X.min(0).values - margin, X.max(0).values + margin
    xs = torch.linspace(float(lo[0]), float(hi[0]), steps, dtype=X.dtype)
    ys = torch.linspace(float(lo[1]), float(hi[1]), steps, dtype=X.dtype)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1), xx, yy
