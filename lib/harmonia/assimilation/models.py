r"""State-space models of chapter 14: a hidden Markov chain observed with noise,

.. math::

    x_{t+1}=\mathcal M(x_t)+\eta_t,\quad \eta_t\sim\mathcal N(0,\sigma_q^2I_n),\qquad
    y_t=\mathcal H(x_t)+\epsilon_t,\quad \epsilon_t\sim\mathcal N(0,\sigma_r^2I_p).

Two models: the **rotation toy**, :math:`\mathcal M=R_\theta` a 2-D rotation (linear-Gaussian, so the Kalman filter is
exact), and **Lorenz-96**, :math:`\mathcal M` one RK4 step (:func:`harmonia.ode.rk4_step`) of

.. math::

    \frac{dx_i}{dt}=(x_{i+1}-x_{i-2})\,x_{i-1}-x_i+F\qquad(\text{indices mod }n).

Observation operators: the identity (full) or every other variable :math:`x_{0,2,4,\dots}` (half). Every function is
batched over leading dimensions and follows its input's device and dtype.

Used in: chapter 14.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from harmonia.config import check_broadcast, check_finite, check_int, check_positive, check_tensor, make_generator
from harmonia.ode import rk4_step

__all__ = ["lorenz96_rhs", "lorenz96_step", "rotation2d", "StateSpaceModel", "rotation_model", "lorenz96_model",
           "lorenz96_initial", "rmse_per_sample"]


def lorenz96_rhs(x: torch.Tensor, F: float = 8.0) -> torch.Tensor:
    r""":math:`dx_i/dt=(x_{i+1}-x_{i-2})x_{i-1}-x_i+F` on the last dimension (periodic). x: (..., n), n >= 4."""
    check_tensor(x, "x", min_ndim=1, dtype="floating", finite=False)
    check_finite(F, "F")
    return (torch.roll(x, -1, -1) - torch.roll(x, 2, -1)) * torch.roll(x, 1, -1) - x + F


def lorenz96_step(x: torch.Tensor, dt: float = 0.05, F: float = 8.0, n_substeps: int = 1) -> torch.Tensor:
    """``n_substeps`` RK4 steps of size ``dt / n_substeps`` of Lorenz-96. x: (..., n) -> (..., n)."""
    check_tensor(x, "x", min_ndim=1, dtype="floating", finite=False)
    check_finite(dt, "dt"), check_int(n_substeps, "n_substeps"), check_finite(F, "F")
    h = dt / n_substeps
    for _ in range(n_substeps):
        x = rk4_step(lambda t, y: lorenz96_rhs(y, F), 0.0, x, h)
    return x


def rotation2d(theta: float, *, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> torch.Tensor:
    r""":math:`R_\theta=\begin{pmatrix}\cos\theta&\sin\theta\\-\sin\theta&\cos\theta\end{pmatrix}` (clockwise). Shape (2, 2)."""
    check_finite(theta, "theta")
    c, s = math.cos(theta), math.sin(theta)
    return torch.tensor([[c, s], [-s, c]], dtype=dtype, device=device)


@dataclass(frozen=True)
class StateSpaceModel:
    """A hidden Markov model with additive Gaussian noises.

    Attributes
    ----------
    name : str
    n, p : int
        State and observation dimensions.
    forward : callable
        The deterministic model map :math:`\\mathcal M`: (..., n) -> (..., n).
    obs_index : tensor of int or None
        :math:`\\mathcal H(x)=x_{[\\text{obs\\_index}]}` (None: the identity).
    sigma_q, sigma_r : float
        Model and observation noise standard deviations.
    M : (n, n) tensor or None
        The matrix of :math:`\\mathcal M` when it is linear (for the Kalman filter).
    """

    name: str
    n: int
    p: int
    forward: Callable[[torch.Tensor], torch.Tensor]
    obs_index: torch.Tensor | None
    sigma_q: float
    sigma_r: float
    M: torch.Tensor | None = None

    def H(self, x: torch.Tensor) -> torch.Tensor:
        """The observation operator: (..., n) -> (..., p)."""
        return x if self.obs_index is None else x[..., self.obs_index.to(x.device)]

    def H_matrix(self, *, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> torch.Tensor:
        """:math:`\\mathcal H` as a (p, n) selection matrix."""
        eye = torch.eye(self.n, dtype=dtype, device=device)
        return self.H(eye).T

    def propagate(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """:math:`\\mathcal M(x)+\\sigma_q\\xi`. x: (..., n)."""
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return self.forward(x) + self.sigma_q * noise

    def observe(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """:math:`\\mathcal H(x)+\\sigma_r\\epsilon`. x: (..., n) -> (..., p)."""
        hx = self.H(x)
        return hx + self.sigma_r * torch.randn(hx.shape, generator=generator, dtype=x.dtype, device=x.device)

    def simulate(self, x0: torch.Tensor, T: int, generator: torch.Generator | int | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Truth and observations for :math:`t=0..T-1` from :math:`x_0`: :math:`y_t` is drawn from :math:`x_t`, then
        the truth moves on. x0: (..., n) -> states (T, ..., n), observations (T, ..., p)."""
        x0 = check_tensor(x0, "x0", shape=("...", self.n), dtype="floating")
        T = check_int(T, "T")
        g = _generator(generator, x0.device)
        xs, ys, x = [], [], x0
        for _ in range(T):
            xs.append(x)
            ys.append(self.observe(x, g))
            x = self.propagate(x, g)
        return torch.stack(xs), torch.stack(ys)


def _generator(generator, device) -> torch.Generator | None:
    if isinstance(generator, torch.Generator) or generator is None:
        return generator
    return make_generator(generator, device=torch.device(device).type if torch.device(device).type == "cuda" else "cpu")


def rotation_model(theta: float = math.pi / 100, sigma_q: float = 0.1, sigma_r: float = 1.0, partial: bool = False,
                   *, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> StateSpaceModel:
    r"""The rotation toy: :math:`x_{t+1}=R_\theta x_t+\mathcal N(0,\sigma_q^2I_2)`, :math:`y_t=x_t+\mathcal N(0,\sigma_r^2I)`
    (``partial=True``: only the first coordinate is observed)."""
    check_positive(sigma_q, "sigma_q")
    check_positive(sigma_r, "sigma_r")
    R = rotation2d(theta, dtype=dtype, device=device)
    idx = torch.tensor([0]) if partial else None
    return StateSpaceModel("rotation" + (" (partial)" if partial else ""), 2, 1 if partial else 2,
                           lambda x: x @ R.to(x.dtype).T, idx, float(sigma_q), float(sigma_r), R)


def lorenz96_model(n: int = 40, F: float = 8.0, dt: float = 0.05, sigma_q: float = 0.1, sigma_r: float = 1.0,
                   partial: bool = False) -> StateSpaceModel:
    """Lorenz-96 with one RK4 step of ``dt`` per cycle, additive model noise, and full or half (``x[..., ::2]``)
    observation."""
    n = check_int(n, "n", minimum=4)
    check_positive(sigma_q, "sigma_q", allow_zero=True)
    check_positive(sigma_r, "sigma_r")
    idx = torch.arange(0, n, 2) if partial else None
    return StateSpaceModel("Lorenz-96" + (" (half observed)" if partial else ""), n, len(idx) if partial else n,
                           lambda x: lorenz96_step(x, dt, F), idx, float(sigma_q), float(sigma_r))


def lorenz96_initial(batch: int, model: StateSpaceModel, burn_in: int = 1000,
                     generator: torch.Generator | int | None = 0, *, dtype: torch.dtype = torch.float64,
                     device: str | torch.device = "cpu") -> torch.Tensor:
    """Independent states on the attractor: :math:`3+\\mathcal N(0,I)` moved by ``burn_in`` noise-free model steps.
    Returns (batch, n)."""
    g = _generator(generator, device)
    x = 3 + torch.randn(check_int(batch, "batch"), model.n, generator=g, dtype=dtype, device=device)
    for _ in range(check_int(burn_in, "burn_in", minimum=0)):
        x = model.forward(x)
    return x


def rmse_per_sample(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    r"""Root-mean-square error of each sample, :math:`\|x-m\|_2/\sqrt n`, over the last dimension (the convention of the
    paper's code: per-sample RMSEs are then averaged). x, m: (..., n) -> (...,)."""
    check_tensor(x, "x", min_ndim=1, dtype="floating", finite=False, nonempty=True)
    check_tensor(m, "m", min_ndim=1, dtype="floating", finite=False, like=x)
    check_broadcast(x.shape, m.shape, "x", "m")
    return (x - m).pow(2).mean(-1).sqrt()
