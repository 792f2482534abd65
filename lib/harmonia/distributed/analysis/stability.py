"""Closed forms of EASGD on quadratics (Zhang, Choromanska & LeCun 2015): round-robin stability
maps of EASGD and ADMM, and the synchronous noisy-quadratic mean and variance.

Round robin, 1-D quadratic :math:`F(x)=\\frac h2x^2`, state :math:`(x^1,\\dots,x^p,\\tilde x)`. The active
worker's EASGD step acts on the pair :math:`(x^i,\\tilde x)` through the symmetric matrix

.. math:: M=\\begin{pmatrix}1-\\eta h-\\alpha&\\alpha\\\\ \\alpha&1-\\alpha\\end{pmatrix},\\qquad
          \\text{stable iff } 0\\le\\eta h\\le2,\\ 0\\le\\alpha\\le\\frac{4-2\\eta h}{4-\\eta h}.

ADMM's turn (scaled multipliers, linearised local step) is a product of three non-symmetric maps;
a full round can have spectral radius above 1.

Synchronous EASGD on :math:`g^i_t(x)=hx-\\xi^i_t`, :math:`\\mathbb V\\xi=\\sigma^2`, :math:`\\beta=p\\alpha`:
with :math:`a=\\eta h+(p+1)\\alpha`, :math:`c^2=\\eta hp\\alpha`, the roots
:math:`\\gamma,\\phi=1-\\frac{a\\mp\\sqrt{a^2-4c^2}}2` govern the mean, and

.. math:: \\lim_t\\mathbb V[\\tilde x_t]=\\frac{p^2\\alpha^2\\eta^2}{(\\gamma-\\phi)^2}
          \\Big(\\frac{\\gamma^2}{1-\\gamma^2}+\\frac{\\phi^2}{1-\\phi^2}-\\frac{2\\gamma\\phi}{1-\\gamma\\phi}\\Big)\\frac{\\sigma^2}{p}.

Used in: chapters 02-03 (chapter 03 compares the synchronous (Jacobi) and round-robin (Gauss-Seidel) maps).
"""

from __future__ import annotations

import torch

from harmonia.config import check_positive, check_tensor

__all__ = [
    "spectral_radius", "easgd_rr_step", "easgd_rr_map", "easgd_rr_stable", "admm_rr_map",
    "easgd_sync_map", "easgd_sync_stable", "easgd_sync_roots", "easgd_sync_center_var",
    "lyapunov_var", "easgd_large_p_var", "minibatch_sgd_var",
]

F64 = torch.float64


def spectral_radius(M: torch.Tensor) -> float:
    """:math:`\\max|\\lambda(M)|` of a square matrix."""
    check_tensor(M, "M", shape=("n", "n"), dtype="real", nonempty=True)
    return float(torch.linalg.eigvals(M.to(F64)).abs().max())


def _check_p(p: int) -> int:
    return check_positive(p, "p", integer=True)


def easgd_rr_step(p: int, i: int, eta: float, alpha: float, h: float = 1.0) -> torch.Tensor:
    """The (p+1)x(p+1) matrix of worker ``i``'s turn (0-based) on the state (x^1..x^p, x~)."""
    p = _check_p(p)
    if not 0 <= i < p:
        raise ValueError(f"i: expected a worker index in 0..{p - 1}, got {i}")
    M = torch.eye(p + 1, dtype=F64)
    M[i, i], M[i, p] = 1 - eta * h - alpha, alpha
    M[p, i], M[p, p] = alpha, 1 - alpha
    return M


def easgd_rr_map(p: int, eta: float, alpha: float, h: float = 1.0) -> torch.Tensor:
    """One full round-robin round of EASGD (workers 1..p in order), a (p+1)x(p+1) matrix."""
    p = _check_p(p)
    M = torch.eye(p + 1, dtype=F64)
    for i in range(p):
        M = easgd_rr_step(p, i, eta, alpha, h) @ M
    return M


def easgd_rr_stable(eta: float, alpha: float, h: float = 1.0) -> bool:
    """The paper's condition :math:`0\\le\\eta h\\le2,\\ 0\\le\\alpha\\le(4-2\\eta h)/(4-\\eta h)`."""
    u = eta * h
    return 0 <= u <= 2 and 0 <= alpha <= (4 - 2 * u) / (4 - u)


def admm_rr_map(p: int, eta: float, rho: float, h: float = 1.0) -> torch.Tensor:
    """One full round-robin round of linearised ADMM on :math:`\\frac h2x^2`, a (2p+1)x(2p+1) matrix.

    State :math:`(\\lambda^1,x^1,\\dots,\\lambda^p,x^p,\\tilde x)`; the active worker does
    :math:`\\lambda^i\\leftarrow\\lambda^i-(x^i-\\tilde x)`, then
    :math:`x^i\\leftarrow(x^i-\\eta hx^i+\\eta\\rho(\\lambda^i+\\tilde x))/(1+\\eta\\rho)`, then
    :math:`\\tilde x\\leftarrow\\frac1p\\sum_j(x^j-\\lambda^j)`.
    """
    p = _check_p(p)
    n = 2 * p + 1
    c = n - 1
    F = torch.eye(n, dtype=F64)
    for i in range(p):
        lam, x = 2 * i, 2 * i + 1
        F1 = torch.eye(n, dtype=F64)
        F1[lam, x], F1[lam, c] = -1.0, 1.0
        F2 = torch.eye(n, dtype=F64)
        F2[x, x] = (1 - eta * h) / (1 + eta * rho)
        F2[x, lam] = F2[x, c] = eta * rho / (1 + eta * rho)
        F3 = torch.eye(n, dtype=F64)
        F3[c, :] = 0.0
        for j in range(p):
            F3[c, 2 * j + 1], F3[c, 2 * j] = 1.0 / p, -1.0 / p
        F = F3 @ F2 @ F1 @ F
    return F


def easgd_sync_map(p: int, eta: float, alpha: float, h: float = 1.0) -> torch.Tensor:
    """Synchronous EASGD (tau = 1, beta = p alpha) on :math:`\\frac h2x^2`, a (p+1)x(p+1) matrix (the mean)."""
    p = _check_p(p)
    M = torch.zeros(p + 1, p + 1, dtype=F64)
    for i in range(p):
        M[i, i], M[i, p] = 1 - eta * h - alpha, alpha
        M[p, i] = alpha
    M[p, p] = 1 - p * alpha
    return M


def easgd_sync_stable(p: int, eta: float, alpha: float, h: float = 1.0) -> bool:
    """Mean and variance converge iff :math:`\\eta h>0,\\ \\alpha>0,\\ (2-\\eta h)(2-p\\alpha)>2\\alpha,\\
    (2-\\eta h)+(2-p\\alpha)>\\alpha`."""
    u = eta * h
    return u > 0 and alpha > 0 and (2 - u) * (2 - p * alpha) > 2 * alpha and (2 - u) + (2 - p * alpha) > alpha


def easgd_sync_roots(p: int, eta: float, alpha: float, h: float = 1.0) -> tuple[complex, complex]:
    """The roots :math:`(\\gamma,\\phi)` of :math:`\\lambda^2-(2-a)\\lambda+(1-a+c^2)` (complex when :math:`a^2<4c^2`)."""
    p = _check_p(p)
    a = eta * h + (p + 1) * alpha
    c2 = eta * h * p * alpha
    disc = complex(a * a - 4 * c2) ** 0.5
    gamma, phi = 1 - (a - disc) / 2, 1 - (a + disc) / 2
    return (gamma.real if gamma.imag == 0 else gamma), (phi.real if phi.imag == 0 else phi)


def easgd_sync_center_var(p: int, eta: float, alpha: float, h: float = 1.0, sigma2: float = 1.0) -> float:
    """Stationary variance of the center under synchronous EASGD (closed form; needs real distinct roots)."""
    p = _check_p(p)
    check_positive(sigma2, "sigma2", allow_zero=True)
    if not easgd_sync_stable(p, eta, alpha, h):
        raise ValueError(f"eta, alpha: expected a stable setting for p={p}, got eta={eta}, alpha={alpha}, h={h}")
    g, f = easgd_sync_roots(p, eta, alpha, h)
    if isinstance(g, complex) or g == f:
        return lyapunov_var(p, eta, alpha, h, sigma2)
    s = g * g / (1 - g * g) + f * f / (1 - f * f) - 2 * g * f / (1 - g * f)
    return (p * alpha * eta) ** 2 / (g - f) ** 2 * s * sigma2 / p


def lyapunov_var(p: int, eta: float, alpha: float, h: float = 1.0, sigma2: float = 1.0) -> float:
    """The same variance from the discrete Lyapunov equation :math:`P=MPM^\\top+Q` (an independent route)."""
    M = easgd_sync_map(p, eta, alpha, h)
    Q = torch.zeros(p + 1, p + 1, dtype=F64)
    Q[:p, :p] = eta * eta * sigma2 * torch.eye(p, dtype=F64)
    n = p + 1
    # vec(P) = (I - M kron M)^{-1} vec(Q)
    K = torch.eye(n * n, dtype=F64) - torch.kron(M, M)
    P = torch.linalg.solve(K, Q.reshape(-1)).reshape(n, n)
    return float(P[p, p])


def easgd_large_p_var(beta: float, eta: float, h: float = 1.0, sigma2: float = 1.0) -> float:
    """:math:`\\lim_{p\\to\\infty}p\\,\\mathbb V[\\tilde x_\\infty]` with :math:`\\beta=p\\alpha` fixed (needs
    :math:`0<\\beta<2` and :math:`0<\\eta h<2`)."""
    check_positive(sigma2, "sigma2", allow_zero=True)
    if not (0 < beta < 2 and 0 < eta * h < 2):
        raise ValueError(f"beta, eta: expected 0 < beta < 2 and 0 < eta h < 2, got beta={beta}, eta h={eta * h}")
    u = eta * h
    return sigma2 / h**2 * beta * u / ((2 - beta) * (2 - u)) * (2 - beta - u + beta * u) / (beta + u - beta * u)


def minibatch_sgd_var(p: int, eta: float, h: float = 1.0, sigma2: float = 1.0) -> float:
    """Stationary variance of SGD with a batch of ``p`` samples: :math:`\\frac{\\sigma^2}{p h^2}\\frac{\\eta h}{2-\\eta h}`."""
    p = _check_p(p)
    check_positive(sigma2, "sigma2", allow_zero=True)
    u = eta * h
    if not 0 < u < 2:
        raise ValueError(f"eta: expected 0 < eta h < 2, got eta h = {u}")
    return sigma2 / (p * h * h) * u / (2 - u)
