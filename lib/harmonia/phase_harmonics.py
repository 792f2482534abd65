"""Layer 2: phase harmonics and the rectifier seen as a filter along the phase.

For a complex coefficient :math:`z=|z|e^{i\\varphi(z)}` and an integer :math:`k`, the phase harmonic is

.. math:: [z]^k = |z|\\,e^{ik\\varphi(z)},\\qquad [0]^k=0 .

A rectifier applied to the real parts of a complex filter output rotated by :math:`\\alpha`,
:math:`U(\\alpha)=\\rho(\\mathrm{Re}(e^{-i\\alpha}z))=|z|\\,\\rho(\\cos(\\varphi(z)-\\alpha))` (for a positively
homogeneous :math:`\\rho`), is a window along :math:`\\alpha` centred at the phase of :math:`z`; its Fourier
coefficients along :math:`\\alpha` are :math:`\\hat\\gamma(k)[z]^k` (Mallat, Zhang, Rochette 2020):

.. math:: \\frac1{2\\pi}\\int_0^{2\\pi}\\rho(\\mathrm{Re}(e^{-i\\alpha}z))\\,e^{ik\\alpha}\\,d\\alpha=\\hat\\gamma(k)\\,[z]^k,
          \\qquad \\hat\\gamma(k)=\\frac1{2\\pi}\\int_0^{2\\pi}\\rho(\\cos\\alpha)e^{-ik\\alpha}d\\alpha .

Used in: chapters 06-08 (and 10 through :mod:`harmonia.wph`).
"""

from __future__ import annotations

import math
from typing import Callable, Union

import torch

from harmonia.config import check_in, check_positive, check_tensor
from harmonia.pointwise import phase_harmonic  # re-exported: chapter 06 teaches it here

__all__ = [
    "RECTIFIERS",
    "phase_harmonic",
    "phase_filter",
    "phase_fourier",
    "rectifier_fourier_coeff",
    "phase_filter_distance_ratio",
]

Rectifier = Union[str, Callable[[torch.Tensor], torch.Tensor]]

#: The homogeneous rectifiers known by name: ReLU :math:`\max(a,0)` and the absolute value :math:`|a|`.
RECTIFIERS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "abs": torch.abs,
}


def _rectifier(rectifier: Rectifier) -> Callable[[torch.Tensor], torch.Tensor]:
    if callable(rectifier):
        return rectifier
    check_in(rectifier, "rectifier", tuple(RECTIFIERS))
    return RECTIFIERS[rectifier]


def phase_filter(z: torch.Tensor, n_alpha: int, rectifier: Rectifier = "relu") -> torch.Tensor:
    """Rectified real parts of the rotated coefficient, one per phase :math:`\\alpha_a=2\\pi a/A`:

    .. math:: U_a=\\rho\\big(\\mathrm{Re}(e^{-i\\alpha_a}z)\\big),\\qquad a=0,\\dots,A-1 .

    This is a CNN layer whose filters :math:`\\mathrm{Re}(e^{-i\\alpha}\\psi)` share one frequency band and
    differ by their phase, followed by the rectifier :math:`\\rho`.

    Parameters
    ----------
    z : complex tensor, shape (...)
    n_alpha : int >= 1
        Number :math:`A` of equispaced phases.
    rectifier : "relu", "abs" or a callable acting elementwise on real tensors

    Returns
    -------
    real tensor, shape (..., n_alpha)

    Used in: chapter 06.
    """
    check_tensor(z, "z", dtype="complex")
    n_alpha = check_positive(n_alpha, "n_alpha", integer=True)
    rho = _rectifier(rectifier)
    alpha = 2 * math.pi * torch.arange(n_alpha, device=z.device, dtype=z.real.dtype) / n_alpha
    rotation = torch.polar(torch.ones_like(alpha), -alpha)
    return rho((z.unsqueeze(-1) * rotation).real)


def phase_fourier(U: torch.Tensor, k: int | torch.Tensor) -> torch.Tensor:
    """Fourier coefficients along the phase axis (the last one) of :func:`phase_filter`'s output:

    .. math:: \\hat U_k=\\frac1A\\sum_{a=0}^{A-1}U_a\\,e^{ik\\alpha_a} .

    With :math:`A` phases, :math:`\\hat U_k=\\hat\\gamma(k)[z]^k` plus aliases from :math:`k\\pm A, k\\pm2A,\\dots`

    Parameters
    ----------
    U : real or complex tensor, shape (..., A)
    k : int or 1-D integer tensor of harmonic orders

    Returns
    -------
    complex tensor, shape (...) for an int ``k``, (..., len(k)) for a tensor.

    Used in: chapter 06.
    """
    check_tensor(U, "U", dtype="fft", min_ndim=1, nonempty=True)
    A = U.shape[-1]
    spectrum = torch.fft.ifft(U, dim=-1)  # (1/A) sum_a U_a e^{+2 pi i k a / A}
    if isinstance(k, int) and not isinstance(k, bool):
        return spectrum[..., k % A]
    check_tensor(k, "k", dtype="integer", ndim=1)
    return spectrum[..., torch.remainder(k.to(U.device), A)]


def rectifier_fourier_coeff(k: int | torch.Tensor, rectifier: str = "relu") -> torch.Tensor:
    """Closed-form Fourier coefficients :math:`\\hat\\gamma(k)` of :math:`\\gamma(\\alpha)=\\rho(\\cos\\alpha)`.

    ReLU: :math:`\\hat\\gamma(0)=1/\\pi`, :math:`\\hat\\gamma(\\pm1)=1/4`, :math:`\\hat\\gamma(k)=0` for odd
    :math:`|k|\\ge3`, and :math:`\\hat\\gamma(k)=-\\cos(k\\pi/2)/(\\pi(k^2-1))` for even :math:`k`.
    Absolute value: :math:`|a|=\\rho(a)+\\rho(-a)`, so :math:`\\hat\\gamma_{|\\cdot|}(k)=(1+(-1)^k)\\hat\\gamma(k)`:
    every odd harmonic, :math:`k=\\pm1` included, vanishes (the sign is lost).

    Parameters
    ----------
    k : int or integer tensor
    rectifier : "relu" or "abs"

    Returns
    -------
    float64 tensor of ``k``'s shape (0-d for an int).

    Used in: chapter 06.
    """
    check_in(rectifier, "rectifier", tuple(RECTIFIERS))
    if isinstance(k, bool) or not isinstance(k, (int, torch.Tensor)):
        raise TypeError(f"k: expected an int or an integer tensor, got {k!r}")
    kk = torch.as_tensor(k)
    check_tensor(kk, "k", dtype="integer")
    kk = kk.to(torch.float64)
    even = torch.remainder(kk, 2) == 0
    denom = torch.where(even, math.pi * (kk**2 - 1), torch.ones_like(kk))
    relu = torch.where(even, -torch.cos(kk * math.pi / 2) / denom, torch.zeros_like(kk))
    relu = torch.where(kk.abs() == 1, torch.full_like(kk, 0.25), relu)
    if rectifier == "abs":
        return torch.where(even, 2 * relu, torch.zeros_like(kk))
    return relu


def phase_filter_distance_ratio(z1: torch.Tensor, z2: torch.Tensor, n_alpha: int = 1024,
                                rectifier: Rectifier = "relu") -> torch.Tensor:
    """Squared distance of the phase-filter representations relative to the coefficients' distance:

    .. math:: R(z,z')=\\frac{\\frac1A\\sum_a|\\rho(\\mathrm{Re}(e^{-i\\alpha_a}z))-\\rho(\\mathrm{Re}(e^{-i\\alpha_a}z'))|^2}{|z-z'|^2}.

    For the ReLU, :math:`1/8\\le R\\le1/4` (the bi-Lipschitz bounds; :math:`z'=-z` attains 1/8, nearby
    pairs attain 1/4).

    Parameters
    ----------
    z1, z2 : complex tensors of the same shape (...), with ``z1 != z2`` everywhere

    Returns
    -------
    real tensor, shape (...)

    Used in: chapter 06.
    """
    check_tensor(z1, "z1", dtype="complex")
    check_tensor(z2, "z2", dtype="complex", shape=tuple(z1.shape), like=z1)
    gap = (z1 - z2).abs() ** 2
    if bool((gap == 0).any()):
        raise ValueError(f"z2: expected z2 != z1 everywhere, got {int((gap == 0).sum())} equal entries")
    diff = phase_filter(z1, n_alpha, rectifier) - phase_filter(z2, n_alpha, rectifier)
    return (diff**2).mean(-1) / gap
