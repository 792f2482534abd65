"""Layer 1: pointwise operations on complex tensors -- the modulus and the phase harmonics.

:math:`|z|` is not differentiable at :math:`z=0`; its gradient :math:`z/|z|` is 0/0 there, and
``torch.abs`` on complex tensors returns NaN gradients at exact zeros. Scattering (chapter 05) and
phase harmonics (chapters 06-08) need the modulus inside long computational graphs where exact
zeros happen (a constant input, a zero-padded border), so the course uses one modulus whose
(sub)gradient is set to 0 where :math:`|z|=0`. The phase harmonic :math:`[z]^k=|z|e^{ik\\varphi(z)}`
(:func:`phase_harmonic`) generalises it (:math:`[z]^0=|z|`) with the same convention at zero; chapter
06 (:mod:`harmonia.phase_harmonics`) explains where it comes from, and the moment modules of
:mod:`harmonia.wph` apply it to every wavelet coefficient.

Used in: chapters 05-08, 10.
"""

from __future__ import annotations

import torch

from harmonia.config import check_tensor

__all__ = ["modulus", "phase_harmonic"]


class _SafeModulus(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        if z.is_complex():
            zr = torch.view_as_real(z)
            r = torch.hypot(zr[..., 0], zr[..., 1])       # same value as abs(z), about 2x faster on CPU
        else:
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
    check_tensor(z, "z", dtype="float_or_complex", finite=False)
    return _SafeModulus.apply(z)


def _as_k(k: object, z: torch.Tensor) -> int | torch.Tensor:
    if isinstance(k, bool):
        raise TypeError(f"k: expected an int or an integer tensor, got {k!r}")
    if isinstance(k, int):
        return k
    if isinstance(k, torch.Tensor):
        check_tensor(k, "k", dtype="integer")
        try:
            torch.broadcast_shapes(k.shape, z.shape)
        except RuntimeError:
            raise ValueError(
                f"k: expected a shape that broadcasts with z's {tuple(z.shape)}, got shape {tuple(k.shape)}"
            ) from None
        return k.to(z.device)
    raise TypeError(f"k: expected an int or an integer tensor, got {type(k).__name__}")


def _unit_power(u: torch.Tensor, m: int) -> torch.Tensor:
    """:math:`u^m` for a unit-modulus (or zero) complex tensor and any integer :math:`m`
    (:math:`u^{-m}=\\bar u^m`), by repeated squaring: a few multiplications instead of trigonometry."""
    if m < 0:
        u, m = u.conj(), -m
    result = None
    base = u
    while m:
        if m & 1:
            result = base if result is None else result * base
        m >>= 1
        if m:
            base = base * base
    return torch.ones_like(u) if result is None else result


class _PhaseHarmonic(torch.autograd.Function):
    """:math:`f(z)=z^{(1+k)/2}\\bar z^{(1-k)/2}=|z|u^k` with :math:`u=z/|z|`, so
    :math:`\\partial f/\\partial z=\\tfrac{1+k}2u^{k-1}` and :math:`\\partial f/\\partial\\bar z=\\tfrac{1-k}2u^{k+1}`,
    both of modulus at most :math:`\\max(1,|k|)` and set to 0 where :math:`z=0`."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, k: int) -> torch.Tensor:
        r = torch.abs(z)
        alive = r > 0
        u = torch.where(alive, z / torch.where(alive, r, torch.ones_like(r)), torch.zeros_like(z))
        ctx.save_for_backward(u)
        ctx.k = k
        return r * _unit_power(u, k) if k != 0 else r.to(z.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (u,) = ctx.saved_tensors
        k = ctx.k
        alive = (u != 0).to(u.real.dtype)
        # PyTorch's convention for a non-holomorphic s(z) with incoming grad g = dL/d(conj s):
        # dL/d(conj z) = g * conj(ds/dz) + conj(g) * ds/d(conj z).
        out = grad.conj() * ((1 - k) / 2 * alive * _unit_power(u, k + 1)) if k != 1 else 0
        if k != -1:
            out = out + grad * ((1 + k) / 2 * alive * _unit_power(u, 1 - k))
        return out, None


def phase_harmonic(z: torch.Tensor, k: int | torch.Tensor) -> torch.Tensor:
    """The phase harmonic :math:`[z]^k=|z|e^{ik\\varphi(z)}` of a complex tensor.

    Properties (tested): :math:`[z]^0=|z|`, :math:`[z]^1=z`, :math:`[z]^{-k}=\\overline{[z]^k}`,
    :math:`|[z]^k|=|z|`, :math:`[z]^k=z^k/|z|^{k-1}` for :math:`k\\ge1`, and the Lipschitz bound
    :math:`|[z]^k-[z']^k|\\le\\max(1,|k|)\\,|z-z'|`. The gradient is finite everywhere: it is set to 0 where
    :math:`z=0` (where ``atan2`` and :math:`\\partial|z|` would give NaN).

    Parameters
    ----------
    z : complex tensor of any shape (a real tensor is promoted to complex)
    k : int or integer tensor broadcastable with ``z``
        The harmonic order(s). A tensor ``k`` costs one full-size evaluation per distinct order; modules
        that apply many orders (:mod:`harmonia.wph`) group their fields by order and pass int ``k``.

    Returns
    -------
    complex tensor of the broadcast shape, same complex dtype as ``z``.
    ``k=1`` (int) returns ``z`` itself.

    Used in: chapters 06-08.
    """
    check_tensor(z, "z", dtype="float_or_complex")
    if not z.is_complex():
        z = z.to(torch.complex128 if z.dtype == torch.float64 else torch.complex64)
    k = _as_k(k, z)
    if isinstance(k, int):
        if k == 1:
            return z
        if k == -1:
            return z.conj()
        return _PhaseHarmonic.apply(z, k)
    shape = torch.broadcast_shapes(k.shape, z.shape)
    out = None
    for value in torch.unique(k).tolist():  # a few distinct orders: each by repeated squaring
        part = torch.where(k == value, phase_harmonic(z, int(value)), 0)
        out = part if out is None else out + part
    return out.expand(shape) if out is not None else z.new_zeros(shape)
