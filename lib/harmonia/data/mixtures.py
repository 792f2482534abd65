"""Two-dimensional Gaussian mixtures, the usual toy data of GANs: a ring of ``k`` modes or a square grid.

Used in: chapter 12.
"""

from __future__ import annotations

import math

import torch

from harmonia.config import check_in, check_positive, make_generator

__all__ = ["gaussian_mixture_2d"]


def gaussian_mixture_2d(n: int, kind: str = "ring", k: int = 8, radius: float = 2.0, std: float = 0.05,
                        seed: int | torch.Generator | None = None) -> torch.Tensor:
    """``n`` points of a 2-D mixture of isotropic Gaussians (standard deviation ``std``) with equal weights:
    ``"ring"``: ``k`` modes evenly spaced on the circle of ``radius``; ``"grid"``: a ``k x k`` grid spanning
    ``[-radius, radius]^2``. Returns (n, 2) float64."""
    n = int(check_positive(n, "n", integer=True))
    check_in(kind, "kind", ("ring", "grid"))
    k = int(check_positive(k, "k", integer=True))
    gen = make_generator(seed)
    if kind == "ring":
        t = 2 * math.pi * torch.arange(k, dtype=torch.float64) / k
        centres = radius * torch.stack([torch.cos(t), torch.sin(t)], dim=1)
    else:
        g = torch.linspace(-radius, radius, k, dtype=torch.float64) if k > 1 else torch.zeros(1, dtype=torch.float64)
        centres = torch.cartesian_prod(g, g)
    pick = torch.randint(0, len(centres), (n,), generator=gen)
    return centres[pick] + std * torch.randn(n, 2, generator=gen, dtype=torch.float64)
