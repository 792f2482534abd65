r"""Min-max games on products of Riemannian manifolds: simultaneous updates and their local analysis.

For :math:`\min_{x\in\mathcal M_1}\max_{y\in\mathcal M_2}f(x,y)` with Riemannian gradients :math:`g_x,g_y`, step
:math:`\gamma` for :math:`x` and :math:`\gamma\tau` for :math:`y`:

- :math:`\tau`-GDA: :math:`x^+=R_x(-\gamma g_x)`, :math:`y^+=R_y(\gamma\tau g_y)` (:func:`tau_gda_step`; alternating:
  :math:`g_y` at :math:`x^+`);
- :math:`\tau`-SGA, our reconstruction (SGA of Balduzzi et al. applied to the field :math:`(g_x,-\tau g_y)`, coefficient
  :math:`\theta`): :math:`x^+=R_x(-\gamma[g_x+\theta\tau Bg_y])`, :math:`y^+=R_y(\gamma[\tau g_y-\theta B^\top g_x])`, with the
  cross Hessian :math:`B=\mathrm{Hess}_{xy}f` applied by Hessian-vector products; the *asymptotic* variant drops
  the :math:`\theta B^\top g_x` term (:func:`tau_sga_step`).

At a critical point with Hessian blocks :math:`A=\mathrm{Hess}_{xx}f`, :math:`B`, :math:`C=\mathrm{Hess}_{yy}f` in orthonormal
tangent bases (:func:`hessian_blocks`, by pulling :math:`f` back through the retractions), the update maps
linearise to :math:`I-\gamma M` with

.. math:: M_{\rm GDA}=\begin{pmatrix}A&B\\-\tau B^\top&-\tau C\end{pmatrix},\quad
          M_{\rm SGA}=\begin{pmatrix}A+\theta\tau BB^\top&B+\theta\tau BC\\-\tau B^\top+\theta B^\top A&-\tau C+\theta B^\top B\end{pmatrix},

:math:`M_{\rm ASGA}` = :math:`M_{\rm SGA}` with the bottom row of :math:`M_{\rm GDA}`. The local rate is
:math:`\rho(\gamma)=\max_i|1-\gamma\mu_i|` over the eigenvalues :math:`\mu_i` of :math:`M` (:func:`rate`), below 1 iff
every :math:`\mathrm{Re}\,\mu_i>0` and :math:`\gamma<\gamma^*=\min_i2\mathrm{Re}\,\mu_i/|\mu_i|^2` (:func:`gamma_star`).
A critical point is a differential Nash equilibrium (DNE) when :math:`A\succ0`, :math:`C\prec0`, a differential
Stackelberg equilibrium (DSE) when :math:`C\prec0` and :math:`S=A-BC^{-1}B^\top\succ0` (:func:`classify`).

Used in: chapter 12.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from harmonia.config import check_finite, check_int, check_positive, check_tensor
from harmonia.manifolds.embedded import Manifold

__all__ = ["riemannian_grads", "tau_gda_step", "tau_sga_step", "hessian_blocks", "classify", "M_gda", "M_sga",
           "M_asga", "gamma_star", "rate", "best_rate", "asymptotic_blocks"]

Objective = Callable[[list[torch.Tensor], list[torch.Tensor]], torch.Tensor]


def _as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def riemannian_grads(f: Objective, xs: Sequence[torch.Tensor], ys: Sequence[torch.Tensor], mx: Sequence[Manifold],
                     my: Sequence[Manifold], create_graph: bool = False):
    """Riemannian gradients :math:`(g_x, g_y)` (lists, one tensor per factor) and the Euclidean ones."""
    with torch.enable_grad():
        xr = [x.detach().requires_grad_(True) if not x.requires_grad else x for x in xs]
        yr = [y.detach().requires_grad_(True) if not y.requires_grad else y for y in ys]
        eg = torch.autograd.grad(f(xr, yr), xr + yr, create_graph=create_graph)
    ex, ey = list(eg[: len(xr)]), list(eg[len(xr):])
    gx = [m.proj(x, g) for m, x, g in zip(mx, xr, ex)]
    gy = [m.proj(y, g) for m, y, g in zip(my, yr, ey)]
    return gx, gy, xr, yr, ex, ey


def tau_gda_step(f: Objective, xs, ys, mx, my, gamma: float, tau: float = 1.0, alternating: bool = False):
    """One :math:`\\tau`-GDA step on the product manifold; returns the new ``(xs, ys)`` (detached lists)."""
    check_finite(gamma, "gamma")
    check_finite(tau, "tau")
    xs, ys, mx, my = _as_list(xs), _as_list(ys), _as_list(mx), _as_list(my)
    gx, gy, *_ = riemannian_grads(f, xs, ys, mx, my)
    new_x = [m.retr(x.detach(), -gamma * g) for m, x, g in zip(mx, xs, gx)]
    if alternating:
        gy = riemannian_grads(f, new_x, ys, mx, my)[1]
    new_y = [m.retr(y.detach(), gamma * tau * g) for m, y, g in zip(my, ys, gy)]
    return [x.detach() for x in new_x], [y.detach() for y in new_y]


def tau_sga_step(f: Objective, xs, ys, mx, my, gamma: float, tau: float = 1.0, theta: float = 0.5,
                 asymptotic: bool = False):
    """One :math:`\\tau`-SGA step (module docstring; ``asymptotic`` drops the :math:`\\theta B^\\top g_x` term)."""
    check_finite(gamma, "gamma")
    check_finite(tau, "tau")
    check_finite(theta, "theta")
    xs, ys, mx, my = _as_list(xs), _as_list(ys), _as_list(mx), _as_list(my)
    gx, gy, xr, yr, ex, ey = riemannian_grads(f, xs, ys, mx, my, create_graph=True)
    with torch.enable_grad():
        # B g_y = P_x d/dx <grad_y f, g_y> and B^T g_x = P_y d/dy <grad_x f, g_x> (g's held fixed)
        Bgy = torch.autograd.grad(sum((e * g.detach()).sum() for e, g in zip(ey, gy)), xr, retain_graph=True,
                                  allow_unused=True)
        BTgx = torch.autograd.grad(sum((e * g.detach()).sum() for e, g in zip(ex, gx)), yr, allow_unused=True)
    Bgy = [m.proj(x, torch.zeros_like(x) if b is None else b) for m, x, b in zip(mx, xr, Bgy)]
    BTgx = [m.proj(y, torch.zeros_like(y) if b is None else b) for m, y, b in zip(my, yr, BTgx)]
    dx = [g.detach() + theta * tau * b.detach() for g, b in zip(gx, Bgy)]
    dy = [tau * g.detach() - (0.0 if asymptotic else theta) * b.detach() for g, b in zip(gy, BTgx)]
    new_x = [m.retr(x.detach(), -gamma * d) for m, x, d in zip(mx, xs, dx)]
    new_y = [m.retr(y.detach(), gamma * d) for m, y, d in zip(my, ys, dy)]
    return [x.detach() for x in new_x], [y.detach() for y in new_y]


def hessian_blocks(f: Objective, x: torch.Tensor, y: torch.Tensor, mx: Manifold, my: Manifold):
    """Riemannian Hessian blocks :math:`(A, B, C)` at a critical point ``(x, y)`` (one factor per player), in the
    orthonormal tangent bases :math:`E_x`, :math:`E_y` of :meth:`~harmonia.manifolds.Manifold.tangent_basis`: the
    Euclidean Hessian of the pull-back :math:`F(\\xi_x,\\xi_y)=f(R_x(E_x\\xi_x),R_y(E_y\\xi_y))` at 0 (valid at a
    critical point, for any retraction). Also returns the gradient norm (should be ~0) and the bases."""
    check_tensor(x, "x", shape=tuple(mx.shape), dtype="float32_64")
    check_tensor(y, "y", shape=tuple(my.shape), dtype="float32_64", like=x)
    Ex, Ey = mx.tangent_basis(x), my.tangent_basis(y)
    n, m = len(Ex), len(Ey)

    def F(z):
        return f([mx.retr(x, torch.tensordot(z[:n], Ex, 1))], [my.retr(y, torch.tensordot(z[n:], Ey, 1))])

    z0 = torch.zeros(n + m, dtype=x.dtype, device=x.device)
    H = torch.autograd.functional.hessian(F, z0)
    g = torch.autograd.functional.jacobian(F, z0)
    return H[:n, :n], H[:n, n:], H[n:, n:], float(g.norm()), (Ex, Ey)


def _check_blocks(A: torch.Tensor, B: torch.Tensor, C: torch.Tensor) -> None:
    """The Hessian blocks A (n, n), B (n, m), C (m, m): one real dtype (float32/64) and one device."""
    check_tensor(A, "A", shape=("n", "n"), dtype="float32_64")
    check_tensor(C, "C", shape=("m", "m"), dtype=A.dtype, like=A)
    check_tensor(B, "B", shape=(A.shape[0], C.shape[0]), dtype=A.dtype, like=A)


def classify(A: torch.Tensor, B: torch.Tensor, C: torch.Tensor, tol: float = 1e-10) -> str:
    """``"DNE"`` (A > 0, C < 0), ``"DSE"`` (C < 0 and the Schur complement :math:`A-BC^{-1}B^\\top>0`) or ``"none"``."""
    _check_blocks(A, B, C)
    negC = torch.linalg.eigvalsh(-C).min() > tol if C.numel() else True
    if not negC:
        return "none"
    if A.numel() == 0 or torch.linalg.eigvalsh(A).min() > tol:
        return "DNE"
    S = A - B @ torch.linalg.solve(C, B.T)
    return "DSE" if torch.linalg.eigvalsh(0.5 * (S + S.T)).min() > tol else "none"


def M_gda(A, B, C, tau: float) -> torch.Tensor:
    """:math:`\\Lambda_\\tau J=\\begin{pmatrix}A&B\\\\-\\tau B^\\top&-\\tau C\\end{pmatrix}`."""
    _check_blocks(A, B, C)
    if not isinstance(tau, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(tau, "tau")
    return torch.cat([torch.cat([A, B], 1), torch.cat([-tau * B.T, -tau * C], 1)], 0)


def M_sga(A, B, C, tau: float, theta: float) -> torch.Tensor:
    """The linearisation of :math:`\\tau`-SGA (module docstring)."""
    _check_blocks(A, B, C)
    if not isinstance(tau, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(tau, "tau")
    if not isinstance(theta, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(theta, "theta", allow_zero=True)
    top = torch.cat([A + theta * tau * B @ B.T, B + theta * tau * B @ C], 1)
    bottom = torch.cat([-tau * B.T + theta * B.T @ A, -tau * C + theta * B.T @ B], 1)
    return torch.cat([top, bottom], 0)


def M_asga(A, B, C, tau: float, theta: float) -> torch.Tensor:
    """The linearisation of asymptotic :math:`\\tau`-SGA: the top row of :func:`M_sga`, the bottom row of :func:`M_gda`."""
    _check_blocks(A, B, C)
    if not isinstance(tau, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(tau, "tau")
    if not isinstance(theta, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(theta, "theta", allow_zero=True)
    top = torch.cat([A + theta * tau * B @ B.T, B + theta * tau * B @ C], 1)
    return torch.cat([top, torch.cat([-tau * B.T, -tau * C], 1)], 0)


def _eig(M: torch.Tensor) -> torch.Tensor:
    check_tensor(M, "M", shape=("n", "n"), dtype="float32_64", nonempty=True)
    return torch.linalg.eigvals(M)


def gamma_star(M: torch.Tensor) -> float:
    """Largest stable step :math:`\\min_i2\\mathrm{Re}\\,\\mu_i/|\\mu_i|^2` (0 if some :math:`\\mathrm{Re}\\,\\mu_i\\le0`)."""
    mu = _eig(M)
    if bool((mu.real <= 0).any()):
        return 0.0
    return float((2 * mu.real / mu.abs() ** 2).min())


def rate(M: torch.Tensor, gamma: float) -> float:
    """:math:`\\rho(\\gamma)=\\max_i|1-\\gamma\\mu_i|`: the local linear rate of the update :math:`I-\\gamma M`."""
    if not isinstance(gamma, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(gamma, "gamma", allow_zero=True)
    return float((1 - gamma * _eig(M)).abs().max())


def best_rate(M: torch.Tensor, points: int = 400) -> tuple[float, float]:
    """:math:`(\\rho^*,\\gamma)`: the best rate over :math:`\\gamma\\in(0,\\gamma^*)` (grid refined once) and its step;
    ``(1.0, 0.0)`` when no step converges."""
    points = check_int(points, "points", minimum=2)
    mu = _eig(M)
    gs = gamma_star(M)
    if gs == 0.0:
        return 1.0, 0.0
    grid = torch.linspace(0, gs, points + 1, dtype=torch.float64)[1:]
    rates = (1 - grid[:, None] * mu[None, :].to(torch.complex128)).abs().max(dim=1).values
    k = int(rates.argmin())
    lo, hi = float(grid[max(k - 1, 0)]), float(grid[min(k + 1, points - 1)])
    fine = torch.linspace(lo, hi, points, dtype=torch.float64)
    rf = (1 - fine[:, None] * mu[None, :].to(torch.complex128)).abs().max(dim=1).values
    k = int(rf.argmin())
    return float(rf[k]), float(fine[k])


def asymptotic_blocks(A, B, C, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The large-:math:`\\tau` blocks of :math:`M_{\\rm ASGA}`: the fast :math:`\\theta B^\\top B-C` and the slow
    :math:`P_\\theta S` with :math:`P_\\theta=I+\\theta B(C-\\theta B^\\top B)^{-1}B^\\top`, :math:`S=A-BC^{-1}B^\\top`."""
    _check_blocks(A, B, C)
    if not isinstance(theta, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(theta, "theta", allow_zero=True)
    fast = theta * B.T @ B - C
    try:
        P = torch.eye(A.shape[0], dtype=A.dtype) + theta * B @ torch.linalg.solve(C - theta * B.T @ B, B.T)
        S = A - B @ torch.linalg.solve(C, B.T)
    except torch.linalg.LinAlgError:
        raise ValueError("C: expected invertible C and C - theta B^T B (a strict local maximum in y), "
                         "got a singular matrix") from None
    return fast, P @ S
