r"""Particle gradient descent (Brochard, Błaszczyszyn, Mallat, Zhang 2022): synthesise a point pattern by moving
particles until the wavelet phase harmonic moments of their rendering match those of an observation.

With :math:`\mu_\sigma[x]` the rendering of the particles :math:`x` (periodic Gaussian bumps of :math:`\sigma`
pixels on an :math:`N\times N` grid, :func:`~harmonia.pointprocess.render_gaussian`) and :math:`K` the
normalised WPH moments of :func:`~harmonia.wph.point_process_moments`,

.. math:: \mathcal E_\sigma(x)=\frac{\|K(\mu_\sigma[x])-K(\mu_\sigma[\bar x])\|^2}{\|K(\mu_\sigma[\bar x])\|^2},

minimised by L-BFGS (:func:`harmonia.synthesis.match_statistics`) from :math:`n` uniform particles, for a
coarse-to-fine schedule of widths :math:`\sigma_s=(\log_2N-3)/2^s`, :math:`s=0..\log_2N-4` (:func:`sigma_schedule`);
at every level the moments' frozen means and scales and the target are refitted on the observation rendered
at that width. Particles move jointly; no birth or death (the model is conditioned on :math:`n`).

Used in: chapter 10.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from harmonia.config import check_int, check_positive, check_tensor, make_generator
from harmonia.pointprocess.render import render_gaussian
from harmonia.synthesis import discrepancy, match_statistics

__all__ = ["sigma_schedule", "DescentLog", "particle_descent"]


def sigma_schedule(N: int) -> list[float]:
    r"""The authors' widths :math:`\sigma_s=(\log_2N-3)/2^s`, :math:`s=0..\log_2N-4`: [3, 1.5, 0.75] for
    :math:`N=64`, [4, 2, 1, 0.5] for 128."""
    N = check_int(N, "N", 16)
    top = math.log2(N) - 3
    return [top / 2**s for s in range(int(math.log2(N)) - 3)]


@dataclass
class DescentLog:
    """What :func:`particle_descent` records: per level its ``sigmas``, the relative energy at its start and
    end (``start``, ``end``), the energy after every L-BFGS iteration (``history``, all levels in a row,
    ``level_starts`` their first indices), and ``snapshots`` of the positions (every ``snapshot_every``
    iterations, the start included) with their iteration numbers ``snapshot_steps``."""

    sigmas: list[float] = field(default_factory=list)
    start: list[float] = field(default_factory=list)
    end: list[float] = field(default_factory=list)
    history: list[float] = field(default_factory=list)
    level_starts: list[int] = field(default_factory=list)
    snapshots: list[torch.Tensor] = field(default_factory=list)
    snapshot_steps: list[int] = field(default_factory=list)


def particle_descent(x_obs: torch.Tensor, make_moments: Callable[[], torch.nn.Module], N: int = 64,
                     sigmas: Sequence[float] | None = None, steps: int = 50, seed: int | torch.Generator | None = 0,
                     x0: torch.Tensor | None = None, snapshot_every: int = 0,
                     progress: bool = False) -> tuple[torch.Tensor, DescentLog]:
    """Synthesise a pattern with the statistics of ``x_obs`` (module docstring).

    Parameters
    ----------
    x_obs : (n, 2) tensor, the observation on the unit torus (its dtype and device are used)
    make_moments : callable returning a fresh moment module with ``set_target`` (on x_obs's device),
        e.g. ``lambda: WPH2D(N, N, J, L, index=point_process_moments(J, L), std_norm=True, ...)``
    N : int, grid side
    sigmas : widths in pixels, default :func:`sigma_schedule` ``(N)``
    steps : L-BFGS iterations per level
    seed : the uniform start (ignored when ``x0`` is given)
    x0 : (n, 2) tensor, optional start
    snapshot_every : record the positions every so many iterations (0: never)

    Returns
    -------
    x : (n, 2) tensor in [0, 1), the synthesis
    log : DescentLog
    """
    check_tensor(x_obs, "x_obs", dtype="floating", shape=(None, 2), nonempty=True)
    N = check_int(N, "N", 16)
    steps = int(check_positive(steps, "steps", integer=True))
    sigmas = list(sigma_schedule(N) if sigmas is None else sigmas)
    if not sigmas or any(s <= 0 for s in sigmas):
        raise ValueError(f"sigmas: expected a non-empty list of positive widths, got {sigmas!r}")
    if x0 is None:
        x0 = torch.rand(x_obs.shape, generator=make_generator(seed), dtype=torch.float64)
    check_tensor(x0, "x0", dtype="floating", shape=tuple(x_obs.shape))
    x = x0.to(dtype=x_obs.dtype, device=x_obs.device)
    log = DescentLog()

    if snapshot_every:
        log.snapshots.append(x.detach().cpu() % 1.0)
        log.snapshot_steps.append(0)
    for sigma in sigmas:
        op = make_moments()
        target = op.set_target(render_gaussian(x_obs, N, sigma))
        stat = lambda y: op(render_gaussian(y, N, sigma))  # noqa: E731
        with torch.no_grad():
            start = float(discrepancy(stat(x), target))
        offset = len(log.history)

        def record(k: int, xs: torch.Tensor, loss: float, offset: int = offset) -> None:
            if snapshot_every and (offset + k + 1) % snapshot_every == 0:
                log.snapshots.append(xs.cpu() % 1.0)
                log.snapshot_steps.append(offset + k + 1)

        res = match_statistics(stat, target, x, steps=steps, restarts=1, history_size=100, tolerance=0.0,
                               callback=record, progress=progress)
        x = res.x
        log.sigmas.append(float(sigma))
        log.start.append(start)
        log.end.append(res.loss)
        log.level_starts.append(offset)
        log.history.extend(res.history)
    return x.detach() % 1.0, log
