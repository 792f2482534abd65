r"""Layer 1: fixed-step integration of ordinary differential equations :math:`\dot y=f(t,y)`.

:func:`rk4_step` is the classical fourth-order Runge-Kutta step

.. math:: k_1=f(t,y),\ k_2=f(t+\tfrac h2,y+\tfrac h2k_1),\ k_3=f(t+\tfrac h2,y+\tfrac h2k_2),\
          k_4=f(t+h,y+hk_3),\qquad y_{+}=y+\tfrac h6(k_1+2k_2+2k_3+k_4),

with local error :math:`O(h^5)` and global error :math:`O(h^4)`; :func:`integrate` applies it ``steps``
times and returns the whole trajectory. States are tensors of any shape (a batch of systems is one
tensor); ``f`` must be vectorised over it.

Used in: chapters 11 (gradient flows of games), 14 (dynamical systems of data assimilation).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from harmonia.config import check_positive, check_tensor

__all__ = ["rk4_step", "integrate"]

Field = Callable[[float, torch.Tensor], torch.Tensor]


def rk4_step(f: Field, t: float, y: torch.Tensor, h: float) -> torch.Tensor:
    """One classical Runge-Kutta step of size ``h`` from ``y`` at time ``t`` (module docstring)."""
    check_tensor(y, "y", dtype="float_or_complex", finite=False)
    k1 = f(t, y)
    k2 = f(t + h / 2, y + h / 2 * k1)
    k3 = f(t + h / 2, y + h / 2 * k2)
    k4 = f(t + h, y + h * k3)
    return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def integrate(f: Field, y0: torch.Tensor, h: float, steps: int, t0: float = 0.0) -> torch.Tensor:
    """``steps`` RK4 steps of size ``h`` from ``y0`` at ``t0``.

    Parameters
    ----------
    f : callable ``f(t, y) -> dy/dt`` of ``y``'s shape
    y0 : tensor (any shape)
    h : float > 0
    steps : int >= 1

    Returns
    -------
    (steps + 1, *y0.shape) tensor, ``y0`` first

    Used in: chapters 11, 14.
    """
    check_tensor(y0, "y0", dtype="float_or_complex")
    h = float(check_positive(h, "h"))
    steps = int(check_positive(steps, "steps", integer=True))
    out = [y0]
    y = y0
    for k in range(steps):
        y = rk4_step(f, t0 + k * h, y, h)
        out.append(y)
    return torch.stack(out)
