r"""Scattering moments of an image (Bruna, Mallat, Bacry, Muzy 2015): spatial means of the first two layers of
the scattering transform at full resolution (no subsampling, no low-pass),

.. math:: S_0=\frac1{P^2}\sum_u\mu(u),\qquad S_1(\lambda)=\frac1{P^2}\sum_u|\mu\star\psi_\lambda(u)|,\qquad
          S_2(\lambda_1,\lambda_2)=\frac1{P^2}\sum_u\big||\mu\star\psi_{\lambda_1}|\star\psi_{\lambda_2}(u)\big|
          \quad(j_2>j_1),

with the 2D Morlet wavelets :math:`\psi_{j,\ell}` of :func:`harmonia.filters.filter_bank_2d` (:math:`J` scales,
:math:`L` orientations in :math:`[0,\pi)`), all orientation pairs. :math:`D=1+JL+\binom J2L^2` moments (113 for
:math:`J=L=4`). They are translation invariant (circular convolutions), positively homogeneous of degree 1
(:math:`S(c\mu)=cS(\mu)`, :math:`c>0`), and differentiable (zero-safe modulus).

Used in: chapter 09 (moments of marked point patterns).
"""

from __future__ import annotations

import torch
from torch import nn

from harmonia.config import check_int, check_tensor
from harmonia.filters.morlet2d import filter_bank_2d
from harmonia.pointwise import modulus

__all__ = ["ScatteringMoments"]


class ScatteringMoments(nn.Module):
    """:math:`(S_0,S_1,S_2)` of images (P, P) (module docstring), optionally their logarithms.

    Parameters
    ----------
    P : int, image side (a multiple of :math:`2^{J-1}`)
    J, L : int, scales and orientations
    log : bool, return :math:`\\log(S+\\epsilon)`
    eps : float

    Attributes
    ----------
    n_moments : int, :math:`D`

    Used in: chapter 09.
    """

    def __init__(self, P: int, J: int = 4, L: int = 4, *, log: bool = False, eps: float = 1e-12) -> None:
        super().__init__()
        self.P, self.J, self.L = check_int(P, "P", 2), check_int(J, "J"), check_int(L, "L")
        self.log, self.eps = bool(log), float(eps)
        bank = filter_bank_2d(self.P, self.P, self.J, self.L)
        self.register_buffer("psi_hat", torch.stack([p["levels"][0] for p in bank["psi"]]))  # (J*L, P, P)
        pairs = [(n1, n2) for n1 in range(self.J * self.L) for n2 in range(self.J * self.L)
                 if n2 // self.L > n1 // self.L]
        self.register_buffer("pair1", torch.tensor([p[0] for p in pairs], dtype=torch.int64))
        self.register_buffer("pair2", torch.tensor([p[1] for p in pairs], dtype=torch.int64))
        self.n_moments = 1 + self.J * self.L + len(pairs)

    def index_table(self) -> list[tuple]:
        """One row per moment: ``("S0",)``, ``("S1", j, l)``, ``("S2", j1, l1, j2, l2)``."""
        rows: list[tuple] = [("S0",)]
        rows += [("S1", n // self.L, n % self.L) for n in range(self.J * self.L)]
        rows += [("S2", a // self.L, a % self.L, b // self.L, b % self.L)
                 for a, b in zip(self.pair1.tolist(), self.pair2.tolist())]
        return rows

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Moments of ``img`` (..., P, P): (..., D), in the order of :meth:`index_table`."""
        check_tensor(img, "img", dtype="floating", shape=("...", self.P, self.P), nonempty=True)
        if img.dtype != self.psi_hat.dtype or img.device != self.psi_hat.device:
            raise ValueError(f"img: expected {self.psi_hat.dtype} on {self.psi_hat.device} like the filters "
                             f"(move the module with .to(...)), got {img.dtype} on {img.device}")
        lead = img.shape[:-2]
        x = img.reshape(-1, self.P, self.P)
        U1 = modulus(torch.fft.ifft2(torch.fft.fft2(x)[:, None] * self.psi_hat))  # (B, J*L, P, P)
        S1 = U1.mean(dim=(-2, -1))
        U1_hat = torch.fft.fft2(U1)
        U2 = modulus(torch.fft.ifft2(U1_hat[:, self.pair1] * self.psi_hat[self.pair2]))
        S2 = U2.mean(dim=(-2, -1))
        S = torch.cat([x.mean(dim=(-2, -1))[:, None], S1, S2], dim=1).reshape(*lead, self.n_moments)
        return torch.log(S + self.eps) if self.log else S
