"""Microcanonical maximum-entropy sampling (Bruna & Mallat 2019; Zhang & Mallat 2021, models B, C, D).

Used in: chapter 07.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from harmonia.config import check_positive, check_tensor, make_generator
from harmonia.synthesis import discrepancy, match_statistics

__all__ = ["MicrocanonicalResult", "microcanonical_synthesis"]

@dataclass
class MicrocanonicalResult:
    """What :func:`microcanonical_synthesis` returns.

    Attributes
    ----------
    samples : (n_samples, *shape) tensor
        One synthesis per independent white-noise draw (detached, dtype and device of the target).
    losses, initial_losses : list of float
        :math:`E` at the end and at the start of each descent (``loss_factor`` included).
    histories : list of list of float
        :math:`E` after every L-BFGS iteration, per sample.
    n_evals : int
        Moment evaluations over all samples (line-search trials included).
    """

    samples: torch.Tensor
    losses: list[float] = field(default_factory=list)
    initial_losses: list[float] = field(default_factory=list)
    histories: list[list[float]] = field(default_factory=list)
    n_evals: int = 0


def microcanonical_synthesis(op: Callable[[torch.Tensor], torch.Tensor], x_target: torch.Tensor, n_samples: int = 1,
                             *, steps: int = 500, restarts: int = 11, history_size: int = 20,
                             loss_factor: float = 10.0, seed: int | torch.Generator | None = None,
                             progress: bool = False) -> MicrocanonicalResult:
    """Approximate samples of the microcanonical maximum-entropy model of the moments ``op``.

    Each sample is one gradient descent (Bruna & Mallat 2019; Zhang & Mallat 2021, Algorithm C)

    .. math:: x_0\\sim\\mathcal N(m_{\\bar x},\\sigma_{\\bar x}^2 I),\\qquad
              \\min_x E(x)=\\|f\\,(K(x)-K(\\bar x))\\|^2,

    run by L-BFGS (:func:`harmonia.synthesis.match_statistics`, loss ``"sum"`` scaled by :math:`f^2`) for
    ``restarts`` rounds of ``steps`` iterations, the curvature memory reset at each round.

    Parameters
    ----------
    op : module with ``set_target``, or callable (..., *shape) -> (..., n_moments)
        The moments :math:`K` (e.g. :class:`~harmonia.wph.WPH2D` with ``std_norm=True``). If it has
        ``set_target``, it is called on ``x_target`` first: the normalisation is the target's.
    x_target : (*shape) real tensor
        :math:`\\bar x`; its dtype and device are used throughout.
    n_samples : int >= 1
        Independent syntheses.
    steps, restarts, history_size : int
        L-BFGS iterations per round, rounds, memory (authors: 500, 11, 20).
    loss_factor : float > 0
        :math:`f` (authors: 10), which keeps float32 losses away from L-BFGS's curvature threshold.
    seed : int, Generator or None
        The white-noise draws.

    Returns
    -------
    MicrocanonicalResult

    Used in: chapter 07.
    """
    check_tensor(x_target, "x_target", dtype="float32_64", finite=True, nonempty=True)
    n_samples = check_positive(n_samples, "n_samples", integer=True)
    loss_factor = check_positive(loss_factor, "loss_factor")
    try:
        if hasattr(op, "set_target"):
            target = op.set_target(x_target)
        else:
            with torch.no_grad():
                target = op(x_target)
    except (ValueError, TypeError) as err:  # the operator's message names its own argument: say it is x_target
        raise type(err)(f"x_target: expected a field that op accepts, got one it rejects ({err})") from err
    gen = make_generator(seed)
    mean, std = float(x_target.mean()), float(x_target.std())
    out = MicrocanonicalResult(samples=torch.empty(n_samples, *x_target.shape, dtype=x_target.dtype,
                                                   device=x_target.device))
    for i in range(n_samples):
        noise = torch.randn(x_target.shape, generator=gen, dtype=torch.float64)
        x0 = (mean + std * noise).to(x_target.dtype).to(x_target.device)
        res = match_statistics(op, target, x0, steps=steps, restarts=restarts, loss="sum",
                               loss_scale=loss_factor**2, history_size=history_size, progress=progress)
        with torch.no_grad():
            initial = float(loss_factor**2 * discrepancy(op(x0), target, "sum"))
        out.samples[i] = res.x
        out.losses.append(res.loss)
        out.initial_losses.append(initial)
        out.histories.append(res.history)
        out.n_evals += res.n_evals
    return out
