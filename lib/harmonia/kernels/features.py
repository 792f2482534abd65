r"""Finite-width random feature maps :math:`\theta_N(x)\in\mathbb R^{N'}` of integral kernels, their Jacobians and
their feature Gram matrices :math:`\Gamma_N(x)=J_N(x)^\top J_N(x)`.

=================  ================================================================  ==================================
kind               features                                                           kernel :math:`\theta_N(x)\cdot\theta_N(y)\to`
=================  ================================================================  ==================================
``fourier_pair``   :math:`N^{-1/2}(\cos\omega_i\cdot x,\ \sin\omega_i\cdot x)_i` (N' = 2N)  :math:`\psi(x-y)`
``fourier_phase``  :math:`\sqrt{2/N}\cos(\omega_i\cdot x+b_i)`, :math:`b_i\sim U[0,2\pi)`      :math:`\psi(x-y)`
``relu``           :math:`N^{-1/2}\mathrm{relu}(w_i\cdot x+b_i)`                          ``arccos1``
``erf``            :math:`N^{-1/2}\mathrm{erf}(w_i\cdot x+b_i)`                           ``arcsin_erf``
``tanh``           :math:`N^{-1/2}\tanh(w_i\cdot x+b_i)`                                  (no closed form)
=================  ================================================================  ==================================

Fourier frequencies come from :func:`harmonia.kernels.sample_spectral` (``spectral=``, ``ell``, ``nu``, ``alpha``);
network weights are :math:`w_i\sim\mathcal N(0,s_w^2I_d)`, :math:`b_i\sim\mathcal N(0,s_b^2)`.

Used in: chapter 18.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from harmonia.config import check_in, check_int, check_positive, check_tensor, make_generator
from harmonia.kernels.spectral import SPECTRAL, sample_spectral

__all__ = ["FEATURE_KINDS", "RandomFeatures"]

FEATURE_KINDS = ("fourier_pair", "fourier_phase", "relu", "erf", "tanh")


class RandomFeatures(nn.Module):
    r"""A random feature map of width N: ``features`` (..., N'), ``jacobian`` (..., N', d), ``gram_derivative``
    :math:`\Gamma_N(x)` (..., d, d), ``kernel`` :math:`k_N(x,y)` (...,) and ``local_lip``
    :math:`\|J_N(x)\|_{op}=\lambda_{\max}(\Gamma_N(x))^{1/2}` (...,).

    Parameters
    ----------
    kind : one of :data:`FEATURE_KINDS`
    d, N : int
        Input dimension and number of random draws (``fourier_pair`` has N' = 2N features, the others N' = N).
    spectral : str
        For the Fourier kinds, the shift-invariant kernel whose spectral law gives the frequencies.
    ell, nu, alpha : float
        Its parameters (see :func:`harmonia.kernels.sample_spectral`).
    s_w, s_b : float
        Standard deviations of the network weights and biases.
    W, b : torch.Tensor, optional
        Given frequencies / weights (N, d) and phases / biases (N,) instead of random ones.
    generator : torch.Generator, int or None
    dtype, device
        Of the buffers ``W`` (N, d) and ``b`` (N,); float64 by default.
    """

    def __init__(self, kind: str, d: int, N: int, *, spectral: str = "gaussian", ell: float = 1.0,
                 nu: float | None = None, alpha: float | None = None, s_w: float = 1.0, s_b: float = 0.0,
                 W: torch.Tensor | None = None, b: torch.Tensor | None = None,
                 generator: torch.Generator | int | None = None, dtype: torch.dtype = torch.float64,
                 device: torch.device | str = "cpu") -> None:
        super().__init__()
        self.kind = check_in(kind, "kind", FEATURE_KINDS)
        self.d, self.N = check_int(d, "d"), check_int(N, "N")
        gen = make_generator(generator, name="generator")
        if W is None:
            if kind.startswith("fourier"):
                check_in(spectral, "spectral", SPECTRAL)
                W = sample_spectral(spectral, self.N, self.d, ell=ell, nu=nu, alpha=alpha, generator=gen, dtype=dtype)
            else:
                W = check_positive(s_w, "s_w") * torch.randn(self.N, self.d, generator=gen, dtype=dtype)
        else:
            check_tensor(W, "W", shape=(self.N, self.d), dtype="floating")
        if b is None:
            if kind == "fourier_phase":
                b = 2 * math.pi * torch.rand(self.N, generator=gen, dtype=W.dtype)
            elif kind == "fourier_pair":
                b = torch.zeros(self.N, dtype=W.dtype)
            else:
                b = check_positive(s_b, "s_b", allow_zero=True) * torch.randn(self.N, generator=gen, dtype=W.dtype)
        else:
            check_tensor(b, "b", shape=(self.N,), dtype="floating")
        self.register_buffer("W", W.to(device))
        self.register_buffer("b", b.to(device=device, dtype=W.dtype))

    @property
    def width(self) -> int:
        """N', the number of features."""
        return 2 * self.N if self.kind == "fourier_pair" else self.N

    def _pre(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", shape=("...", self.d), dtype=self.W.dtype, like=self.W)
        return x @ self.W.T + self.b

    def features(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\theta_N(x)`: x (..., d) -> (..., N')."""
        z = self._pre(x)
        if self.kind == "fourier_pair":
            return torch.cat([torch.cos(z), torch.sin(z)], dim=-1) / math.sqrt(self.N)
        if self.kind == "fourier_phase":
            return math.sqrt(2 / self.N) * torch.cos(z)
        act = {"relu": torch.relu, "erf": torch.erf, "tanh": torch.tanh}[self.kind]
        return act(z) / math.sqrt(self.N)

    def _slopes(self, x: torch.Tensor) -> torch.Tensor:
        """Derivative of each feature along its own w_i: (..., N') so that J = slopes[..., None] * W'."""
        z = self._pre(x)
        if self.kind == "fourier_pair":
            return torch.cat([-torch.sin(z), torch.cos(z)], dim=-1) / math.sqrt(self.N)
        if self.kind == "fourier_phase":
            return -math.sqrt(2 / self.N) * torch.sin(z)
        if self.kind == "relu":
            return (z > 0).to(z.dtype) / math.sqrt(self.N)
        if self.kind == "erf":
            return 2 / math.sqrt(math.pi) * torch.exp(-z * z) / math.sqrt(self.N)
        return (1 - torch.tanh(z) ** 2) / math.sqrt(self.N)

    def _weights(self) -> torch.Tensor:
        return torch.cat([self.W, self.W]) if self.kind == "fourier_pair" else self.W

    def jacobian(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`J_N(x)=\partial\theta_N/\partial x`: x (..., d) -> (..., N', d) (ReLU: the right derivative 0 at
        a kink)."""
        return self._slopes(x).unsqueeze(-1) * self._weights()

    def gram_derivative(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\Gamma_N(x)=J_N(x)^\top J_N(x)=\sum_i\theta_i'(x)^2w_iw_i^\top`: x (..., d) -> (..., d, d)."""
        s2 = self._slopes(x) ** 2
        Wp = self._weights()
        return torch.einsum("...n,ni,nj->...ij", s2, Wp, Wp)

    def local_lip(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\|J_N(x)\|_{op}=\lambda_{\max}(\Gamma_N(x))^{1/2}`: x (..., d) -> (...,)."""
        if self.d == 1:
            return torch.sqrt(self.gram_derivative(x)[..., 0, 0])
        return torch.sqrt(torch.linalg.eigvalsh(self.gram_derivative(x))[..., -1].clamp_min(0))

    def kernel(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        r""":math:`k_N(x,y)=\theta_N(x)\cdot\theta_N(y)`: x, y (..., d) -> (...,)."""
        return (self.features(x) * self.features(y)).sum(-1)
