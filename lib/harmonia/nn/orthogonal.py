r"""A 1-Lipschitz critic with orthonormal weights, for Wasserstein GANs on manifolds.

.. math:: D(u)=a^\top\sigma\big(V_2\,\sigma(V_1u+b_1)+b_2\big),\qquad V_1\in\mathrm{St}(h,d),\ V_2\in O(h),\ a\in S^{h-1},

with the MaxMin activation :math:`\sigma` (sort each pair of coordinates: 1-Lipschitz and gradient-norm
preserving). :math:`V_1` is an isometry, :math:`V_2` orthogonal, :math:`\|a\|=1`: every layer is 1-Lipschitz in the
Euclidean norm, so :math:`D` is 1-Lipschitz *for every parameter on the manifolds* -- the constraint of the
Kantorovich-Rubinstein dual of :math:`W_1` holds by construction, kept by Riemannian updates (retractions).

Used in: chapter 12.
"""

from __future__ import annotations

import torch

from harmonia.config import check_int, check_tensor, make_generator
from harmonia.manifolds.embedded import Euclidean, Orthogonal, Sphere, Stiefel

__all__ = ["maxmin", "OrthogonalCritic"]


def maxmin(z: torch.Tensor) -> torch.Tensor:
    """MaxMin activation: each consecutive pair :math:`(z_{2i},z_{2i+1})` becomes (max, min). Even last dimension."""
    check_tensor(z, "z", min_ndim=1, dtype="real", finite=False)
    if z.shape[-1] % 2:
        raise ValueError(f"z: expected an even last dimension (pairs), got {z.shape[-1]}")
    pairs = z.unflatten(-1, (-1, 2))
    return torch.stack([pairs.amax(-1), pairs.amin(-1)], dim=-1).flatten(-2)


class OrthogonalCritic:
    """The critic of the module docstring, in functional form: parameters are a list of tensors with one
    manifold each (:attr:`manifolds`), so that Riemannian min-max updates can move them.

    Parameters
    ----------
    h : int, even hidden width
    d : int, input dimension (<= h)
    """

    def __init__(self, h: int = 32, d: int = 2) -> None:
        self.h, self.d = check_int(h, "h", 2), check_int(d, "d")
        if h % 2 or d > h:
            raise ValueError(f"h: expected an even width >= d = {d}, got {h}")
        self.manifolds = [Stiefel(h, d), Euclidean(h), Orthogonal(h), Euclidean(h), Sphere(h)]

    def init(self, seed: int | torch.Generator | None = 0, dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
        """Random parameters on the manifolds (biases 0)."""
        gen = make_generator(seed)
        V1, V2, a = (self.manifolds[i].random(gen) for i in (0, 2, 4))
        zeros = torch.zeros(self.h, dtype=torch.float64)
        return [p.to(dtype) for p in (V1, zeros, V2, zeros.clone(), a)]

    def __call__(self, params: list[torch.Tensor], u: torch.Tensor) -> torch.Tensor:
        """:math:`D(u)` for points ``u`` (N, d): (N,)."""
        check_tensor(u, "u", dtype="floating", shape=(None, self.d))
        V1, b1, V2, b2, a = params
        z = maxmin(u @ V1.T + b1)
        z = maxmin(z @ V2.T + b2)
        return z @ a
