r"""Gaussian densities parametrised by a network: a vector :math:`\eta` is mapped to :math:`\mathcal N(\mu,\Lambda\Lambda^\top)` with
:math:`\Lambda` lower triangular and a positive diagonal,

.. math::

    \mu=\eta_{0:n},\qquad \Lambda_{ii}=e^{\eta_{n+i}},\qquad -\log q(x)=\tfrac12\|\Lambda^{-1}(x-\mu)\|^2+\sum_i\log\Lambda_{ii}
    +\tfrac n2\log2\pi .

The strictly lower entries of a full :math:`\Lambda` are filled **diagonal by diagonal** (first sub-diagonal
:math:`(1,0),(2,1),\dots`, then the second, ...), the layout of the data-assimilation networks' code; a full head has
:math:`n(n+3)/2` outputs, a diagonal head :math:`2n`, an isotropic head :math:`n+1`.

Used in: chapter 14.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from harmonia.config import check_broadcast, check_in, check_int, check_tensor

__all__ = ["COVARIANCES", "head_size", "vec_to_tril", "gaussian_nll", "Gaussian", "GaussianHead"]

COVARIANCES = ("full", "diag", "iso")


def head_size(n: int, cov: str = "full") -> int:
    """Number of outputs of a Gaussian head in dimension ``n``: n(n+3)/2 (full), 2n (diag), n+1 (iso)."""
    n = check_int(n, "n")
    return {"full": n * (n + 3) // 2, "diag": 2 * n, "iso": n + 1}[check_in(cov, "cov", COVARIANCES)]


def _diag_by_diag(n: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    rows = torch.cat([torch.arange(k, n, device=device) for k in range(1, n)]) if n > 1 else torch.zeros(0, dtype=torch.long)
    cols = torch.cat([torch.arange(0, n - k, device=device) for k in range(1, n)]) if n > 1 else torch.zeros(0, dtype=torch.long)
    return rows, cols


def vec_to_tril(eta: torch.Tensor, n: int, cov: str = "full", log_clamp: float = 8.0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Split a head's output into :math:`(\mu,\Lambda)`.

    eta: (..., head_size(n, cov)) -> mean (..., n), scale_tril (..., n, n) lower triangular with diagonal
    :math:`\exp(\mathrm{clamp}(\eta_{n:2n},\pm\text{log\_clamp}))` (the clamp keeps early training finite)."""
    n = check_int(n, "n")
    eta = check_tensor(eta, "eta", shape=("...", head_size(n, cov)), dtype="floating", finite=False)
    mu = eta[..., :n]
    L = torch.zeros(*eta.shape[:-1], n, n, dtype=eta.dtype, device=eta.device)
    idx = torch.arange(n, device=eta.device)
    if cov == "iso":
        L[..., idx, idx] = torch.exp(eta[..., n:n + 1].clamp(-log_clamp, log_clamp)).expand(*eta.shape[:-1], n)
        return mu, L
    L[..., idx, idx] = torch.exp(eta[..., n:2 * n].clamp(-log_clamp, log_clamp))
    if cov == "full" and n > 1:
        r, c = _diag_by_diag(n, eta.device)
        L[..., r, c] = eta[..., 2 * n:]
    return mu, L


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, scale_tril: torch.Tensor) -> torch.Tensor:
    r""":math:`-\log\mathcal N(x;\mu,\Lambda\Lambda^\top)` by one triangular solve. x, mean: (..., n); scale_tril: (..., n, n)
    -> (...,)."""
    check_tensor(x, "x", min_ndim=1, dtype="float32_64", finite=False)
    n = x.shape[-1]
    check_tensor(mean, "mean", shape=("...", n), dtype=x.dtype, finite=False, like=x)
    check_broadcast(x.shape, mean.shape, "x", "mean")
    check_tensor(scale_tril, "scale_tril", shape=("...", n, n), dtype=x.dtype, finite=False, like=x)
    check_broadcast(x.shape[:-1], scale_tril.shape[:-2], "x", "scale_tril")
    z = torch.linalg.solve_triangular(scale_tril, (x - mean).unsqueeze(-1), upper=False).squeeze(-1)
    logdet = torch.log(torch.diagonal(scale_tril, dim1=-2, dim2=-1)).sum(-1)
    return 0.5 * z.pow(2).sum(-1) + logdet + 0.5 * n * math.log(2 * math.pi)


@dataclass
class Gaussian:
    """A batch of Gaussians :math:`\\mathcal N(\\mu,\\Lambda\\Lambda^\\top)`: ``mean`` (..., n), ``scale_tril`` (..., n, n)."""

    mean: torch.Tensor
    scale_tril: torch.Tensor

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`-\\log q(x)` for x (..., n) -> (...,)."""
        return gaussian_nll(x, self.mean, self.scale_tril)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return -self.nll(x)

    @property
    def covariance(self) -> torch.Tensor:
        return self.scale_tril @ self.scale_tril.transpose(-1, -2)


class GaussianHead(nn.Module):
    r"""An affine layer :math:`h\mapsto\eta` followed by :func:`vec_to_tril`: memory (..., d_in) -> :class:`Gaussian`.

    Parameters
    ----------
    d_in : int
    n : int
        Dimension of the density.
    cov : {"full", "diag", "iso"}
    init_gain : float
        The affine layer's default initial weights are multiplied by ``init_gain`` and its bias is zero, so that an
        untrained head outputs nearly :math:`\mathcal N(0,I)` whatever its input (a large random Cholesky factor at
        initialisation makes the first gradients erratic).
    """

    def __init__(self, d_in: int, n: int, cov: str = "full", init_gain: float = 0.01) -> None:
        super().__init__()
        self.n, self.cov = check_int(n, "n"), check_in(cov, "cov", COVARIANCES)
        self.linear = nn.Linear(check_int(d_in, "d_in"), head_size(n, cov))
        with torch.no_grad():
            self.linear.weight.mul_(init_gain)
            self.linear.bias.zero_()

    def forward(self, h: torch.Tensor) -> Gaussian:
        return Gaussian(*vec_to_tril(self.linear(h), self.n, self.cov))
