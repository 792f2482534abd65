r"""Two-player differentiable games :math:`\min_x\max_y f(x,y)` and their first-order dynamics.

- :class:`MinMaxGame`: the objective and its gradients (autograd);
- simultaneous gradient descent-ascent with two time scales (:func:`gda_step`,
  :math:`x\leftarrow x-\eta\nabla_xf`, :math:`y\leftarrow y+\eta\tau\nabla_yf`), its alternating variant
  (:math:`y` sees the new :math:`x`), and symplectic gradient adjustment (:func:`sga_step`, Balduzzi et al.
  2018: the simultaneous field :math:`\xi=(\nabla_xf,-\nabla_yf)` corrected by :math:`\lambda A^\top\xi`, with
  :math:`A` the antisymmetric part of its Jacobian);
- local analysis of an update map :math:`z\mapsto F(z)` at a fixed point: its Jacobian by autograd
  (:func:`update_jacobian`) and :func:`spectral_radius` (:math:`<1`: locally convergent).

States are flat tensors; any device and dtype (float64 in tests).

Used in: chapters 11, 12.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from harmonia.config import check_finite, check_positive, check_tensor

__all__ = ["MinMaxGame", "gda_step", "sga_step", "run_dynamics", "update_jacobian", "spectral_radius"]


@dataclass
class MinMaxGame:
    """:math:`\\min_x\\max_y f(x,y)` for a differentiable scalar ``f(x, y)`` of two flat tensors."""

    f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

    def grads(self, x: torch.Tensor, y: torch.Tensor, create_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """:math:`(\\nabla_xf,\\nabla_yf)` at ``(x, y)`` (``create_graph`` keeps them differentiable)."""
        with torch.enable_grad():
            xr = x if x.requires_grad else x.detach().requires_grad_(True)
            yr = y if y.requires_grad else y.detach().requires_grad_(True)
            gx, gy = torch.autograd.grad(self.f(xr, yr), (xr, yr), create_graph=create_graph)
        return gx, gy


def _check_step(x: torch.Tensor, y: torch.Tensor, lr: float, vectors: bool = False) -> None:
    """The players' states (real floating tensors on one device, 1-D for ``vectors``) and a finite step size."""
    check_tensor(x, "x", dtype="real", finite=False, ndim=1 if vectors else None)
    check_tensor(y, "y", dtype="real", finite=False, ndim=1 if vectors else None, like=x)
    check_finite(lr, "lr")


def gda_step(game: MinMaxGame, x: torch.Tensor, y: torch.Tensor, lr: float, tau: float = 1.0,
             alternating: bool = False, create_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of :math:`\\tau`-GDA: :math:`x_+=x-\\eta\\nabla_xf(x,y)`, :math:`y_+=y+\\eta\\tau\\nabla_yf(\\cdot,y)` at
    :math:`x` (simultaneous) or at :math:`x_+` (``alternating``)."""
    _check_step(x, y, lr)
    gx, gy = game.grads(x, y, create_graph)
    x_new = x - lr * gx
    if alternating:
        gy = game.grads(x_new, y, create_graph)[1]
    return x_new, y + lr * tau * gy


def sga_step(game: MinMaxGame, x: torch.Tensor, y: torch.Tensor, lr: float, lam: float = 1.0,
             create_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of symplectic gradient adjustment: :math:`z_+=z-\\eta(\\xi+\\lambda A^\\top\\xi)`, with
    :math:`\\xi=(\\nabla_xf,-\\nabla_yf)`, :math:`J=\\partial\\xi/\\partial z`, :math:`A=(J-J^\\top)/2`."""
    _check_step(x, y, lr, vectors=True)
    n = x.numel()

    def xi(z: torch.Tensor) -> torch.Tensor:
        gx, gy = game.grads(z[:n], z[n:], create_graph=True)
        return torch.cat([gx, -gy])

    z = torch.cat([x, y]).detach()
    with torch.enable_grad():
        v = xi(z).detach()
        _, jv = torch.autograd.functional.jvp(xi, z, v, create_graph=create_graph)   # J xi
        _, vj = torch.autograd.functional.vjp(xi, z, v, create_graph=create_graph)   # J^T xi
    step = v + lam * 0.5 * (vj - jv)                                                   # xi + lam A^T xi
    z_new = z - lr * step
    return z_new[:n], z_new[n:]


def run_dynamics(step: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]], x0: torch.Tensor,
                 y0: torch.Tensor, steps: int, record: Callable[[torch.Tensor, torch.Tensor], float] | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """Iterate ``step`` from ``(x0, y0)`` ``steps`` times; ``record(x, y)`` after each step gives the returned list."""
    steps = int(check_positive(steps, "steps", integer=True))
    check_tensor(x0, "x0", dtype="real", finite=False)
    check_tensor(y0, "y0", dtype="real", finite=False, like=x0)
    x, y, log = x0.detach(), y0.detach(), []
    for _ in range(steps):
        x, y = step(x, y)
        x, y = x.detach(), y.detach()
        if record is not None:
            log.append(float(record(x, y)))
    return x, y, log


def update_jacobian(step: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    """Jacobian :math:`\\partial F/\\partial z` of an update map ``step`` (flat tensor -> flat tensor) at ``z``:
    (m, m), by ``torch.autograd.functional.jacobian`` (``step`` must be differentiable, e.g. built with
    ``create_graph=True``)."""
    check_tensor(z, "z", dtype="floating", ndim=1, nonempty=True)
    return torch.autograd.functional.jacobian(step, z)


def spectral_radius(J: torch.Tensor, exclude_one: float | None = None) -> float:
    """:math:`\\max|\\mathrm{eig}(J)|`, optionally over the eigenvalues farther than ``exclude_one`` from 1 (the
    neutral directions of a continuum of fixed points, e.g. the phases of a filter)."""
    check_tensor(J, "J", shape=("n", "n"), dtype="float32_64", nonempty=True)
    ev = torch.linalg.eigvals(J)
    if exclude_one is not None:
        ev = ev[(ev - 1).abs() > exclude_one]
    return float(ev.abs().max()) if ev.numel() else 0.0
