"""Layer 1: the complex modulus with a finite gradient at zero.

:math:`|z|` is not differentiable at :math:`z=0`; its gradient :math:`z/|z|` is 0/0 there, and
``torch.abs`` on complex tensors returns NaN gradients at exact zeros. Scattering (chapter 05) and
phase harmonics (chapters 06-08) need the modulus inside long computational graphs where exact
zeros happen (a constant input, a zero-padded border), so the course uses one modulus whose
(sub)gradient is set to 0 where :math:`|z|=0`.

Used in: chapters 05-08.
"""

from __future__ import annotations

import torch

__all__ = ["modulus"]


class _SafeModulus(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        r = torch.abs(z)
        ctx.save_for_backward(z, r)
        return r

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        z, r = ctx.saved_tensors
        safe = torch.where(r > 0, r, torch.ones_like(r))
        scale = torch.where(r > 0, grad / safe, torch.zeros_like(grad))
        return scale * z  # for complex z, torch expects grad_z = grad * z / |z| (conjugate Wirtinger)


def modulus(z: torch.Tensor) -> torch.Tensor:
    """:math:`|z|` of a real or complex tensor, with gradient :math:`z/|z|` (0 where :math:`z=0`).

    Parameters
    ----------
    z : tensor of any shape, real or complex

    Returns
    -------
    real tensor of the same shape (float32 for complex64, float64 for complex128)
    """
    return _SafeModulus.apply(z)
