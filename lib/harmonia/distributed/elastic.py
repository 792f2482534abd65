"""The elastic exchange between workers and a center, and the local steps (flat tensors).

Elastic force with moving rate :math:`\\alpha=\\eta\\rho`: the worker moves a fraction :math:`\\alpha` of the way to
the center and the center moves by exactly the same amount toward the worker,

.. math:: d=\\alpha(x^i-\\tilde x),\\qquad x^i\\leftarrow x^i-d,\\qquad \\tilde x\\leftarrow\\tilde x+d,

so :math:`\\tilde x+\\sum_ix^i` is conserved by every exchange.

Used in: chapter 02; chapters 03-04 (EASGD-Tree, LSAM).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from harmonia.config import check_broadcast, check_tensor

__all__ = ["elastic_exchange", "elastic_exchange_sync", "moving_average", "local_step", "sgd_step", "nesterov_step"]


def _check_states(first: tuple[torch.Tensor, str], *others: tuple[torch.Tensor, str]) -> None:
    """States of one update: floating tensors on one device whose shapes broadcast together (values are not
    checked: these one-line updates run in tight loops and propagate NaN like torch)."""
    x, name = first
    check_tensor(x, name, dtype="floating", finite=False)
    for y, other in others:
        check_tensor(y, other, dtype="floating", finite=False, like=x)
        check_broadcast(x.shape, y.shape, name, other)


def elastic_exchange(x: torch.Tensor, center: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One worker's exchange (Gauss-Seidel): returns ``(x - d, center + d, d)`` with :math:`d=\\alpha(x-\\tilde x)`.

    ``x`` and ``center`` have shape (n,) (or any common shape).
    """
    _check_states((x, "x"), (center, "center"))
    d = alpha * (x - center)
    return x - d, center + d, d


def elastic_exchange_sync(X: torch.Tensor, center: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """All workers at once from the same old state (Jacobi): ``X`` (..., p, n), ``center`` (..., n).

    :math:`x^i\\leftarrow x^i-\\alpha(x^i-\\tilde x)`, :math:`\\tilde x\\leftarrow\\tilde x+\\alpha\\sum_i(x^i-\\tilde x)`.
    Leading batch dimensions hold independent runs; ``alpha`` is a float or a tensor broadcasting to ``X``.
    """
    check_tensor(X, "X", dtype="floating", min_ndim=2, finite=False)
    check_tensor(center, "center", dtype="floating", min_ndim=1, finite=False, like=X)
    check_broadcast(X.shape, center.unsqueeze(-2).shape, "X", "center")
    D = alpha * (X - center.unsqueeze(-2))
    return X - D, center + D.sum(dim=-2)


def moving_average(z: torch.Tensor, x: torch.Tensor, a: float) -> torch.Tensor:
    """:math:`z\\leftarrow(1-a)z+ax`."""
    _check_states((z, "z"), (x, "x"))
    return z + a * (x - z)


def local_step(x: torch.Tensor, v: torch.Tensor, g: torch.Tensor, eta: float,
               momentum: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A worker's local step from the gradient ``g`` (taken at :math:`x+\\delta v` when ``momentum`` :math:`\\delta>0`).

    SGD: :math:`x\\leftarrow x-\\eta g`; Nesterov (Sutskever): :math:`v\\leftarrow\\delta v-\\eta g`, :math:`x\\leftarrow x+v`.
    Works on one worker (n,) or stacked workers (p, n). Returns ``(x_new, v_new, step)``.
    """
    _check_states((x, "x"), (v, "v"), (g, "g"))
    if momentum:
        v = momentum * v - eta * g
        step = v
    else:
        step = -eta * g
    return x + step, v, step


def sgd_step(x: torch.Tensor, grad: Callable[[torch.Tensor], torch.Tensor], eta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """:math:`x\\leftarrow x-\\eta\\,g(x)`; returns the new ``x`` and the displacement."""
    step = -eta * grad(x)
    return x + step, step


def nesterov_step(x: torch.Tensor, v: torch.Tensor, grad: Callable[[torch.Tensor], torch.Tensor], eta: float,
                  delta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Nesterov momentum in Sutskever's form: :math:`v\\leftarrow\\delta v-\\eta\\,g(x+\\delta v)`, :math:`x\\leftarrow x+v`.

    Returns the new ``(x, v)``; the displacement of ``x`` is the new ``v``.
    """
    _check_states((x, "x"), (v, "v"))
    v = delta * v - eta * grad(x + delta * v)
    return x + v, v
