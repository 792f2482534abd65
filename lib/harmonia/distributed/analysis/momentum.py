"""Heavy-ball momentum as one-worker EASGD with a negative moving rate.

One worker with an elastic link to a center, rates :math:`\\alpha` (worker) and :math:`\\beta` (center), both
read the same old state (Jacobi):

.. math:: x_{t+1}=x_t-\\eta g_t(x_t)-\\alpha(x_t-\\tilde x_t),\\qquad \\tilde x_{t+1}=\\tilde x_t+\\beta(x_t-\\tilde x_t).

With :math:`\\beta=1` the center stores the last iterate, :math:`\\tilde x_t=x_{t-1}`, and the worker's update is
heavy ball :math:`x_{t+1}=x_t-\\eta g_t(x_t)+\\delta(x_t-x_{t-1})` with :math:`\\delta=-\\alpha`: momentum is an elastic
force that pushes the worker away from where it just was. Both runners read any objective of
:mod:`harmonia.distributed.problems` (stream of worker 0), so the identity holds sample by sample.

Used in: chapter 03.
"""

from __future__ import annotations

import torch

from harmonia.config import check_finite, check_positive, check_tensor

__all__ = ["heavy_ball_run", "elastic_pair_run"]


def _start(objective, x0: torch.Tensor, steps: int, record_every: int) -> None:
    check_tensor(x0, "x0", shape=(objective.n,), dtype="floating")
    check_positive(steps, "steps", integer=True)
    check_positive(record_every, "record_every", integer=True)
    objective.reset()


def heavy_ball_run(objective, x0: torch.Tensor, eta: float, delta: float, steps: int,
                   record_every: int = 1) -> torch.Tensor:
    """Heavy ball :math:`x_{t+1}=x_t-\\eta g_t(x_t)+\\delta(x_t-x_{t-1})`, :math:`x_{-1}=x_0`.

    Returns the states at :math:`t=0,r,2r,\\dots` and at ``steps`` (``r = record_every``): shape (k, n).
    """
    _start(objective, x0, steps, record_every)
    check_finite(eta, "eta"), check_finite(delta, "delta")
    x, prev = x0.clone(), x0.clone()
    out = [x.clone()]
    for t in range(steps):
        g = objective.grad(x[None], [0])[0]
        x, prev = x - eta * g + delta * (x - prev), x
        if (t + 1) % record_every == 0 or t + 1 == steps:
            out.append(x.clone())
    return torch.stack(out)


def elastic_pair_run(objective, x0: torch.Tensor, eta: float, alpha: float, beta: float, steps: int,
                     record_every: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """One worker and its center, :math:`x\\leftarrow x-\\eta g(x)-\\alpha(x-\\tilde x)`,
    :math:`\\tilde x\\leftarrow\\tilde x+\\beta(x-\\tilde x)` from the same old state, both starting at ``x0``.

    ``alpha`` may be negative (:math:`\\alpha=-\\delta,\\ \\beta=1` is heavy ball). Returns the worker's and the
    center's recorded states, each (k, n) as in :func:`heavy_ball_run`.
    """
    _start(objective, x0, steps, record_every)
    check_finite(eta, "eta"), check_finite(alpha, "alpha"), check_finite(beta, "beta")
    x, c = x0.clone(), x0.clone()
    xs, cs = [x.clone()], [c.clone()]
    for t in range(steps):
        g = objective.grad(x[None], [0])[0]
        x, c = x - eta * g - alpha * (x - c), c + beta * (x - c)
        if (t + 1) % record_every == 0 or t + 1 == steps:
            xs.append(x.clone())
            cs.append(c.clone())
    return torch.stack(xs), torch.stack(cs)
