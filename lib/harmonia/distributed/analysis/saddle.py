"""A derived non-convex example: EASGD's center trapped on the saddle of a double well.

:math:`f(x,y)=\\frac14(x^2-1)^2+\\frac12y^2` has minima :math:`(\\pm1,0)` and a saddle at the origin. With an
elastic penalty :math:`\\rho=\\alpha/\\eta` and an even number :math:`p` of workers, the split state (half the
workers at :math:`(a,0)`, half at :math:`(-a,0)`, the center at the saddle) is stationary for the EASGD objective
:math:`\\sum_if(x^i)+\\frac\\rho2\\|x^i-\\tilde x\\|^2` iff :math:`f'(a)+\\rho a=0`, i.e. :math:`a^2=1-\\rho`. Its Hessian
has worker blocks :math:`\\mathrm{diag}(2-2\\rho,\\,1+\\rho)`, center block :math:`p\\rho I` and couplings
:math:`-\\rho I`; along :math:`x` the Schur complement of the workers is :math:`p\\rho\\frac{2-3\\rho}{2-2\\rho}`:

- :math:`\\rho<2/3`: a strict local minimum -- the center stays on the saddle of :math:`f`;
- :math:`2/3<\\rho<1`: a saddle of the EASGD objective -- a small perturbation escapes to consensus;
- :math:`\\rho\\ge1`: no split state.

Derived for the course (the thesis announces a saddle-point trap; its own example was not available to us).

Used in: chapter 03.
"""

from __future__ import annotations

import math

import torch

from harmonia.config import check_positive, check_tensor, make_generator
from harmonia.distributed.elastic import elastic_exchange_sync

__all__ = ["DoubleWell", "split_equilibrium", "trap_threshold", "split_hessian", "split_schur", "double_well_easgd"]

F64 = torch.float64


class DoubleWell:
    """:math:`f(x,y)=\\frac14(x^2-1)^2+\\frac12y^2` on points of shape (..., 2)."""

    minima = ((1.0, 0.0), (-1.0, 0.0))
    saddle = (0.0, 0.0)

    @staticmethod
    def f(z: torch.Tensor) -> torch.Tensor:
        """Values, shape (...)."""
        x, y = z[..., 0], z[..., 1]
        return 0.25 * (x * x - 1) ** 2 + 0.5 * y * y

    @staticmethod
    def grad(z: torch.Tensor) -> torch.Tensor:
        """:math:`(x^3-x,\\ y)`, shape (..., 2)."""
        x, y = z[..., 0], z[..., 1]
        return torch.stack([x * (x * x - 1), y], dim=-1)

    @staticmethod
    def hessian(z: torch.Tensor) -> torch.Tensor:
        """:math:`\\mathrm{diag}(3x^2-1,\\ 1)`, shape (..., 2, 2)."""
        x = z[..., 0]
        H = torch.zeros(*z.shape[:-1], 2, 2, dtype=z.dtype, device=z.device)
        H[..., 0, 0] = 3 * x * x - 1
        H[..., 1, 1] = 1.0
        return H


def _check_rho(rho: float) -> float:
    check_positive(rho, "rho")
    return float(rho)


def split_equilibrium(rho: float) -> float:
    """The workers' distance :math:`a=\\sqrt{1-\\rho}` in the split state (needs :math:`0<\\rho<1`)."""
    if not 0 < _check_rho(rho) < 1:
        raise ValueError(f"rho: expected a coupling in (0, 1) for a split state to exist, got {rho}")
    return math.sqrt(1 - rho)


def trap_threshold() -> float:
    """The coupling below which the split state is a strict local minimum: :math:`\\rho=2/3`."""
    return 2.0 / 3.0


def split_hessian(rho: float, p: int = 2) -> torch.Tensor:
    """Hessian of :math:`\\sum_if(x^i)+\\frac\\rho2\\|x^i-\\tilde x\\|^2` at the split state, ((p+1)*2, (p+1)*2).

    Variables ordered :math:`(x^1,y^1,\\dots,x^p,y^p,\\tilde x,\\tilde y)`; ``p`` even.
    """
    a = split_equilibrium(rho)
    p = check_positive(p, "p", integer=True)
    if p % 2:
        raise ValueError(f"p: expected an even number of workers (a balanced split), got {p}")
    n = 2 * (p + 1)
    H = torch.zeros(n, n, dtype=F64)
    c = 2 * p
    for i in range(p):
        xi = torch.tensor([a if i < p // 2 else -a, 0.0], dtype=F64)
        H[2 * i:2 * i + 2, 2 * i:2 * i + 2] = DoubleWell.hessian(xi) + rho * torch.eye(2, dtype=F64)
        H[2 * i:2 * i + 2, c:c + 2] = H[c:c + 2, 2 * i:2 * i + 2] = -rho * torch.eye(2, dtype=F64)
    H[c:, c:] = p * rho * torch.eye(2, dtype=F64)
    return H


def split_schur(rho: float, p: int = 2) -> float:
    """Schur complement along :math:`x`: :math:`p\\rho\\frac{2-3\\rho}{2-2\\rho}` (its sign decides the trap)."""
    split_equilibrium(rho)
    return p * rho * (2 - 3 * rho) / (2 - 2 * rho)


def double_well_easgd(rho: torch.Tensor, eta: float, steps: int, workers0: torch.Tensor, center0: torch.Tensor, *,
                      noise: torch.Tensor | float = 0.0, seed: int | torch.Generator | None = 0
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Synchronous EASGD on the double well for a batch of runs, :math:`\\alpha=\\eta\\rho`.

    Each step: gradients at the old points plus Gaussian noise of std ``noise``, the elastic exchange
    (:func:`~harmonia.distributed.elastic_exchange_sync`), the gradient step.

    Parameters
    ----------
    rho : Tensor, shape (R,)
        Coupling of each run.
    eta : float
        Learning rate.
    steps : int
        Number of steps.
    workers0 : Tensor, shape (p, 2)
        Common start of the workers; ``center0`` (2,) that of the center.
    noise : float or Tensor of shape (R,)
        Gradient-noise standard deviation of each run.
    seed : int or Generator
        Noise stream.

    Returns
    -------
    workers (R, p, 2) and center (R, 2) after ``steps`` steps.
    """
    check_tensor(rho, "rho", ndim=1, dtype="floating")
    check_tensor(workers0, "workers0", shape=(None, 2), dtype="floating", like=rho)
    check_tensor(center0, "center0", shape=(2,), dtype="floating", like=rho)
    check_positive(eta, "eta")
    check_positive(steps, "steps", integer=True)
    R, p = rho.shape[0], workers0.shape[0]
    alpha = (eta * rho).to(workers0.dtype)[:, None, None]
    s = torch.as_tensor(noise, dtype=workers0.dtype).expand(R).clone()[:, None, None]
    if bool((s < 0).any()):
        raise ValueError("noise: expected standard deviations >= 0, got a negative one")
    gen = make_generator(seed)
    X = workers0.expand(R, p, 2).clone()
    c = center0.expand(R, 2).clone()
    noisy = bool((s > 0).any())
    for _ in range(steps):
        g = DoubleWell.grad(X)
        if noisy:
            g = g + s * torch.randn(X.shape, generator=gen, dtype=X.dtype)
        X, c = elastic_exchange_sync(X, c, alpha)
        X = X - eta * g
    return X, c
