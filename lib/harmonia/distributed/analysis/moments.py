"""Moment recursions of mini-batch SGD, heavy-ball momentum and synchronous EASGD on a 1-D quadratic.

One noise model covers both cases of the thesis' speed-up analysis. With :math:`x^\\star=0`, a mini-batch of
:math:`b` samples gives the gradient :math:`g=m\\,x-n` with

.. math:: \\mathbb Em=h,\\quad \\mathbb Vm=\\frac{v}{b},\\qquad \\mathbb En=0,\\quad \\mathbb En^2=\\frac{s}{b},\\qquad
          \\mathbb E[mn]=0,

where :math:`v` is the per-sample variance of the curvature and :math:`s` that of the additive part:

- **additive noise** :math:`g=hx-\\xi`: :math:`v=0`, :math:`s=\\sigma^2`;
- **multiplicative noise** (regression with a random input :math:`a`, :math:`y=a\\varepsilon`): a sample gradient is
  :math:`a^2x-a\\varepsilon`, so :math:`h=\\mathbb E[a^2]`, :math:`v=\\mathbb V[a^2]=\\kappa h^2` (``var_m``) and
  :math:`s=h\\sigma_\\varepsilon^2`.

The mean obeys :math:`m_{t+1}=Am_t` and the second moments :math:`S_{t+1}=MS_t+q`; the spectral radius of
:math:`A` is the initial-phase rate of the mean, that of :math:`M` the rate of the second moment, and
:math:`(I-M)^{-1}q` the stationary second moments (the asymptotic phase).

These recursions are derived for the course from the phenomena the thesis announces (its body was not
available to us); every one is checked against Monte Carlo in the tests and in chapter 03.

Used in: chapter 03.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from harmonia.config import check_positive, check_tensor
from harmonia.distributed.analysis.stability import spectral_radius

__all__ = [
    "sgd_moment_step", "sgd_optimum", "heavy_ball_mean_matrix", "heavy_ball_var", "heavy_ball_moment_system",
    "heavy_ball_tuned", "easgd_mean_matrix", "easgd_moment_system", "easgd_moment_samples", "easgd_moments", "stationary_moments",
    "optimal_step", "stable_steps", "iterations_to_shrink",
]

F64 = torch.float64


def _check_noise(var_m: float, s2: float, b: int) -> int:
    check_positive(var_m, "var_m", allow_zero=True)
    check_positive(s2, "s2", allow_zero=True)
    return check_positive(b, "b", integer=True)


def sgd_moment_step(eta: float, h: float = 1.0, var_m: float = 0.0, s2: float = 1.0, b: int = 1) -> tuple[float, float]:
    """Second moment of mini-batch SGD, :math:`\\mathbb Ex_{t+1}^2=r\\,\\mathbb Ex_t^2+q`; returns ``(r, q)``.

    :math:`r=(1-\\eta h)^2+\\eta^2v/b` and :math:`q=\\eta^2s/b`. The stationary value :math:`q/(1-r)` equals
    :func:`~harmonia.distributed.analysis.minibatch_sgd_var` under additive noise (:math:`v=0`).
    """
    b = _check_noise(var_m, s2, b)
    return (1 - eta * h) ** 2 + eta * eta * var_m / b, eta * eta * s2 / b


def sgd_optimum(h: float = 1.0, var_m: float = 0.0, b: int = 1) -> tuple[float, float, float]:
    """Best constant step of mini-batch SGD for the second moment: ``(eta_star, rate_star, eta_max)``.

    With :math:`\\kappa=v/h^2`: :math:`\\eta^\\star=\\frac1{h(1+\\kappa/b)}`, :math:`r^\\star=\\frac{\\kappa}{b+\\kappa}`,
    and the stable steps are :math:`0<\\eta<\\eta_{\\max}=\\frac2{h(1+\\kappa/b)}`.
    """
    b = _check_noise(var_m, 0.0, b)
    check_positive(h, "h")
    kappa = var_m / h**2
    return 1 / (h * (1 + kappa / b)), kappa / (b + kappa), 2 / (h * (1 + kappa / b))


def heavy_ball_mean_matrix(eta: float, delta: float, h: float = 1.0) -> torch.Tensor:
    """Heavy ball :math:`x_{t+1}=x_t-\\eta g_t+\\delta(x_t-x_{t-1})` on the mean of :math:`(x_t,x_{t-1})`: (2, 2).

    Its eigenvalues are the roots of :math:`\\lambda^2-(1+\\delta-\\eta h)\\lambda+\\delta`.
    """
    return torch.tensor([[1 + delta - eta * h, -delta], [1.0, 0.0]], dtype=F64)


def heavy_ball_var(eta: float, delta: float, h: float = 1.0, sigma2: float = 1.0, b: int = 1) -> float:
    """Stationary variance of heavy ball under additive noise:
    :math:`\\frac{\\eta\\sigma^2(1+\\delta)}{b\\,h\\,(1-\\delta)(2+2\\delta-\\eta h)}`.

    Needs the stable region :math:`|\\delta|<1,\\ 0<\\eta h<2(1+\\delta)`.
    """
    check_positive(sigma2, "sigma2", allow_zero=True)
    check_positive(h, "h")
    b = check_positive(b, "b", integer=True)
    u = eta * h
    if not (abs(delta) < 1 and 0 < u < 2 * (1 + delta)):
        raise ValueError(f"eta, delta: expected |delta| < 1 and 0 < eta h < 2(1 + delta), got eta h = {u}, delta = {delta}")
    return eta * sigma2 * (1 + delta) / (b * h * (1 - delta) * (2 + 2 * delta - u))


def heavy_ball_moment_system(eta: float, delta: float, h: float = 1.0, var_m: float = 0.0, s2: float = 1.0,
                             b: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Second moments of heavy ball on :math:`(\\mathbb Ex_t^2,\\mathbb Ex_{t-1}^2,\\mathbb Ex_tx_{t-1})`: ``(M (3, 3), q (3,))``.

    With :math:`K=1+\\delta-\\eta m`, :math:`k=\\mathbb EK`, :math:`x_{t+1}=Kx_t-\\delta x_{t-1}+\\eta n`:

    .. math:: \\begin{pmatrix}k^2+\\eta^2v/b&\\delta^2&-2\\delta k\\\\1&0&0\\\\k&0&-\\delta\\end{pmatrix},\\qquad
              q=(\\eta^2s/b,\\,0,\\,0).
    """
    b = _check_noise(var_m, s2, b)
    k = 1 + delta - eta * h
    M = torch.tensor([[k * k + eta * eta * var_m / b, delta * delta, -2 * delta * k],
                      [1.0, 0.0, 0.0],
                      [k, 0.0, -delta]], dtype=F64)
    return M, torch.tensor([eta * eta * s2 / b, 0.0, 0.0], dtype=F64)


def heavy_ball_tuned(h_min: float, h_max: float) -> tuple[float, float, float]:
    """Polyak's tuning for curvatures in :math:`[h_{\\min},h_{\\max}]`: ``(eta, delta, rate)`` with
    :math:`\\eta=\\frac4{(\\sqrt{h_{\\max}}+\\sqrt{h_{\\min}})^2}`, :math:`\\delta=\\rho^2`,
    rate :math:`\\rho=\\frac{\\sqrt{\\kappa_H}-1}{\\sqrt{\\kappa_H}+1}` (SGD's best is :math:`\\frac{\\kappa_H-1}{\\kappa_H+1}`)."""
    check_positive(h_min, "h_min")
    if not (math.isfinite(h_max) and h_max >= h_min):
        raise ValueError(f"h_max: expected a finite value >= h_min = {h_min}, got {h_max}")
    rate = (math.sqrt(h_max) - math.sqrt(h_min)) / (math.sqrt(h_max) + math.sqrt(h_min))
    return 4 / (math.sqrt(h_max) + math.sqrt(h_min)) ** 2, rate * rate, rate


def _easgd_rates(p: int, alpha: float, beta: float | None) -> tuple[int, float]:
    p = check_positive(p, "p", integer=True)
    return p, p * alpha if beta is None else beta


def easgd_mean_matrix(p: int, eta: float, alpha: float, h: float = 1.0, beta: float | None = None) -> torch.Tensor:
    """Synchronous EASGD on the mean of (worker average :math:`\\bar x`, center :math:`\\tilde x`): (2, 2).

    :math:`\\bar x'=(1-\\eta h-\\alpha)\\bar x+\\alpha\\tilde x`, :math:`\\tilde x'=\\beta\\bar x+(1-\\beta)\\tilde x`;
    ``beta=None`` is the symmetric choice :math:`\\beta=p\\alpha` (then the eigenvalues are the roots
    :math:`\\gamma,\\phi` of :func:`~harmonia.distributed.analysis.easgd_sync_roots`). ``alpha`` may be negative.
    """
    p, beta = _easgd_rates(p, alpha, beta)
    return torch.tensor([[1 - eta * h - alpha, alpha], [beta, 1 - beta]], dtype=F64)


def easgd_moment_system(p: int, eta: float, alpha: float, h: float = 1.0, var_m: float = 0.0, s2: float = 1.0,
                        b: int = 1, beta: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Second moments of synchronous EASGD, each worker with its own batch of ``b``: ``(M (4, 4), q (4,))``.

    State :math:`(A,B,C,D)=(\\mathbb Ex_i^2,\\ \\mathbb Ex_ix_j\\,(i\\ne j),\\ \\mathbb Ex_i\\tilde x,\\ \\mathbb E\\tilde x^2)`.
    With :math:`\\bar c=1-\\eta h-\\alpha`, :math:`c_2=\\bar c^2+\\eta^2v/b`, :math:`\\gamma=\\beta/p`, :math:`e=1-\\beta`,
    :math:`S=A+(p-1)B`:

    .. math:: A'=c_2A+2\\bar c\\alpha C+\\alpha^2D+\\eta^2s/b,\\qquad B'=\\bar c^2B+2\\bar c\\alpha C+\\alpha^2D,

    .. math:: C'=\\bar c\\gamma S+(\\bar ce+p\\alpha\\gamma)C+\\alpha eD,\\qquad D'=p\\gamma^2S+2e\\gamma pC+e^2D.

    For ``p = 1`` there is no pair of workers: the row and column of :math:`B` are zero.
    """
    b = _check_noise(var_m, s2, b)
    p, beta = _easgd_rates(p, alpha, beta)
    c = 1 - eta * h - alpha
    c2 = c * c + eta * eta * var_m / b
    g, e = beta / p, 1 - beta
    M = torch.tensor([
        [c2, 0.0, 2 * c * alpha, alpha * alpha],
        [0.0, c * c, 2 * c * alpha, alpha * alpha],
        [c * g, c * g * (p - 1), c * e + p * alpha * g, alpha * e],
        [p * g * g, p * g * g * (p - 1), 2 * e * g * p, e * e],
    ], dtype=F64)
    if p == 1:
        M[1, :] = 0.0
        M[:, 1] = 0.0
    return M, torch.tensor([eta * eta * s2 / b, 0.0, 0.0, 0.0], dtype=F64)


def easgd_moment_samples(workers: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
    """Per-chain :math:`(A,B,C,D)` from independent chains: ``workers`` (p, n), ``center`` (n,) -> (4, n).

    Each of the ``n`` coordinates is one chain; :math:`A` and :math:`C` average over the workers, :math:`B` over
    the ordered pairs :math:`i\\ne j` (0 when ``p = 1``). Their spread across chains gives standard errors.
    """
    check_tensor(workers, "workers", ndim=2, dtype="floating", nonempty=True)
    check_tensor(center, "center", shape=(workers.shape[1],), dtype="floating", like=workers)
    p = workers.shape[0]
    sq = workers.square()
    B = (workers.sum(dim=0).square() - sq.sum(dim=0)) / (p * (p - 1)) if p > 1 else torch.zeros_like(center)
    return torch.stack([sq.mean(dim=0), B, (workers * center).mean(dim=0), center.square()])


def easgd_moments(workers: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
    """Empirical :math:`(A,B,C,D)`: the mean over chains of :func:`easgd_moment_samples`, shape (4,)."""
    return easgd_moment_samples(workers, center).mean(dim=1)


def stationary_moments(M: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Fixed point :math:`(I-M)^{-1}q` of :math:`S_{t+1}=MS_t+q`; all ``inf`` when the radius of ``M`` is >= 1
    (a Lyapunov-type solve of an unstable map returns meaningless, even negative, values)."""
    check_tensor(M, "M", shape=("n", "n"), dtype="float32_64", nonempty=True)
    check_tensor(q, "q", shape=(M.shape[0], "..."), dtype=M.dtype, like=M)
    if spectral_radius(M) >= 1:
        return torch.full_like(q, math.inf)
    return torch.linalg.solve(torch.eye(M.shape[0], dtype=M.dtype) - M, q)


def optimal_step(rate: Callable[[float], float], eta_grid: torch.Tensor) -> tuple[float, float]:
    """The step of ``eta_grid`` with the smallest ``rate(eta)`` (e.g. a spectral radius): ``(eta, rate)``."""
    check_tensor(eta_grid, "eta_grid", ndim=1, dtype="real", nonempty=True)
    rates = torch.tensor([rate(float(e)) for e in eta_grid], dtype=F64)
    k = int(torch.argmin(rates))
    return float(eta_grid[k]), float(rates[k])


def stable_steps(rate: Callable[[float], float], eta_grid: torch.Tensor) -> torch.Tensor:
    """Boolean mask of the steps of ``eta_grid`` where ``rate(eta) < 1``."""
    check_tensor(eta_grid, "eta_grid", ndim=1, dtype="real")
    return torch.tensor([rate(float(e)) < 1 for e in eta_grid])


def iterations_to_shrink(rate: float, factor: float = 1e-3) -> float:
    """Steps for a quantity contracting by ``rate`` per step to shrink by ``factor``: :math:`\\ln f/\\ln r`
    (``inf`` when ``rate >= 1``, 0 when ``rate == 0``)."""
    if not 0 < factor < 1:
        raise ValueError(f"factor: expected a value in (0, 1), got {factor}")
    if rate >= 1:
        return math.inf
    if rate <= 0:
        return 0.0
    return math.log(factor) / math.log(rate)
