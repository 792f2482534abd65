"""Chapter 10 demos: point process synthesis by particle gradient descent on wavelet phase harmonic moments.

The method lives in :mod:`harmonia.pointprocess` (rendering, :func:`~harmonia.pointprocess.particle_descent`,
the summaries) and :class:`harmonia.wph.ShiftedWPH2D`; this module holds the chapter's processes, runners,
evaluation and figures.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np
import torch

from harmonia.course.plots import to_host
from harmonia.course.settings import ChapterSettings, extend
from harmonia.data.turbulence import load_turbulence
from harmonia.metrics import max_normalized_crosscorr
from harmonia.pointprocess import (
    DescentLog,
    binomial,
    cluster_fixed,
    envelope,
    envelope_coverage,
    field_cox,
    h0_persistence,
    nn_distance,
    pair_correlation,
    particle_descent,
    render_gaussian,
    ripley_l,
    structure_factor,
    voronoi_edge_cox,
)
from harmonia.wph import ShiftedWPH2D

__all__ = [
    "Settings",
    "settings",
    "PROCESSES",
    "RADII",
    "make_pattern",
    "make_moments",
    "Synthesis",
    "synthesize",
    "evaluate",
    "band_average",
    "diversity",
    "plot_patterns",
    "plot_descent",
    "plot_replay",
    "plot_summaries",
    "device_check",
]

PROCESSES = {
    "voronoi": "Voronoi-edge Cox",
    "cluster": "Matérn cluster",
    "poisson": "Poisson (binomial)",
    "turbulence": "turbulence-driven Cox",
}
#: Radii of the :math:`L` function (unit torus).
RADII = torch.linspace(0.005, 0.15, 30, dtype=torch.float64)
#: The dual-lattice band :math:`|k|/2\pi\in[10,30]` of the structure-factor check.
BAND = (10, 30)


@dataclass(frozen=True)
class Settings(ChapterSettings):
    """Mode, device and sizes: grid ``N``, points ``n``, wavelets (``J``, ``L``), L-BFGS ``steps`` per blur
    level, ``n_real`` fresh realisations for the envelopes, and the processes synthesised."""

    N: int = 64
    n: int = 300
    J: int = 3
    L: int = 4
    steps: int = 60
    n_real: int = 19
    processes: tuple[str, ...] = ("voronoi", "cluster", "poisson")


def settings(base: ChapterSettings | None = None) -> Settings:
    """``base`` (default: :func:`harmonia.course.settings.current`) with the sizes of its mode. Fast mode:
    64x64, 300 points, ``J=3``, 60 iterations per level; full mode: the authors' 128x128, 2000 points,
    ``J=4``, 100 iterations per level, and the turbulence-driven Cox process too (meant for a GPU)."""
    return extend(Settings, base, {"N": 128, "n": 2000, "J": 4, "steps": 100,
                                   "processes": ("voronoi", "cluster", "poisson", "turbulence")})


def make_pattern(process: str, s: Settings, seed: int) -> torch.Tensor:
    """One pattern of ``s.n`` points (float64, unit torus) of a named process, with shapes scaled so that
    the typical spacing relative to the pattern stays that of 300 points: Voronoi-edge Cox with
    :math:`20n/300` cells, Matérn cluster with :math:`25n/300` parents of radius :math:`0.04\\sqrt{300/n}`,
    binomial, or a Cox process of intensity :math:`e^{2\\omega}` for a standardised turbulence vorticity
    field :math:`\\omega` (chapter 07's data; field ``seed % 8``)."""
    scale = s.n / 300
    if process == "voronoi":
        return voronoi_edge_cox(s.n, max(3, round(20 * scale)), seed)
    if process == "cluster":
        return cluster_fixed(s.n, max(1, round(25 * scale)), 0.04 / math.sqrt(scale), seed)
    if process == "poisson":
        return binomial(s.n, seed)
    if process == "turbulence":
        field = load_turbulence(dtype=torch.float64)["fields"][seed % 8]
        return field_cox(torch.exp(2 * field / field.std()), s.n, seed)
    raise ValueError(f"process: expected one of {tuple(PROCESSES)}, got {process!r}")


def make_moments(s: Settings):
    """A factory of the moment operator: normalised WPH moments with shifted wavelets
    (:class:`~harmonia.wph.ShiftedWPH2D`, :math:`\\Delta_j=2`, :math:`\\Delta_\\ell=L/2`) on ``s.device``."""
    return lambda: ShiftedWPH2D(s.N, s.N, s.J, s.L, std_norm=True).to(device=s.device)  # complex buffers: no dtype cast


@dataclass
class Synthesis:
    """One particle descent: the observation ``x_obs``, the uniform start ``x0``, the synthesis ``x``
    (all (n, 2) float64 on the CPU), the descent ``log`` and wall ``seconds``."""

    process: str
    x_obs: torch.Tensor
    x0: torch.Tensor
    x: torch.Tensor
    log: DescentLog
    seconds: float


def synthesize(process: str, s: Settings, seed: int = 1, obs_seed: int = 0, snapshot_every: int = 5,
               progress: bool = False) -> Synthesis:
    """Synthesise a pattern like ``make_pattern(process, s, obs_seed)`` from ``s.n`` uniform particles
    (seeded by ``seed``) with :func:`~harmonia.pointprocess.particle_descent`."""
    start = time.perf_counter()
    x_obs = make_pattern(process, s, obs_seed)
    x0 = binomial(s.n, seed)
    x, log = particle_descent(x_obs.to(dtype=s.dtype, device=s.device), make_moments(s), N=s.N, steps=s.steps,
                              x0=x0, snapshot_every=snapshot_every, progress=progress)
    return Synthesis(process, x_obs, x0, x.cpu().double(), log, time.perf_counter() - start)


def band_average(x: torch.Tensor) -> float:
    """Mean of the structure factor over the rings :math:`|k|/2\\pi\\in[10,30]`."""
    k, S = structure_factor(x)
    band = (k >= BAND[0]) & (k <= BAND[1])
    return float(S[band].mean())


def evaluate(syn: Synthesis, s: Settings, n_real: int | None = None) -> dict[str, object]:
    """Summaries the model never matched, for the observation, the synthesis and the uniform start, against
    ``n_real`` fresh realisations of the process (seeds 100, 101, ...): :math:`L(r)` curves, their envelope
    and mean, the coverage of the envelope, :math:`\\sup_r|L-\\bar L|`, the structure-factor band average,
    pair correlation, :math:`H_0` death times and the mean nearest-neighbour distance."""
    n_real = s.n_real if n_real is None else n_real
    truths = [make_pattern(syn.process, s, 100 + i) for i in range(n_real)]
    L_real = torch.stack([ripley_l(t, RADII) for t in truths])
    lo, hi = envelope(L_real)
    L_mean = L_real.mean(dim=0)
    out: dict[str, object] = {"r": RADII, "L_lo": lo, "L_hi": hi, "L_mean": L_mean,
                              "band_real": float(np.mean([band_average(t) for t in truths]))}
    for name, x in (("obs", syn.x_obs), ("syn", syn.x), ("start", syn.x0)):
        L = ripley_l(x, RADII)
        out[f"L_{name}"] = L
        out[f"coverage_{name}"] = envelope_coverage(L, lo, hi)
        out[f"sup_{name}"] = float((L - L_mean).abs().max())
        out[f"band_{name}"] = band_average(x)
        out[f"g_{name}"] = pair_correlation(x, RADII[3:], bandwidth=0.01)
        out[f"S_{name}"] = structure_factor(x)
        out[f"h0_{name}"] = h0_persistence(x)
        out[f"nn_{name}"] = float(nn_distance(x).mean())
    return out


def diversity(patterns: list[torch.Tensor], s: Settings) -> float:
    """Largest normalised circular cross-correlation between the renderings (:math:`\\sigma=1` px) of any
    two of ``patterns``: close to 1 if one is a translate of another."""
    imgs = [render_gaussian(p.double(), s.N, 1.0) for p in patterns]
    return max(float(max_normalized_crosscorr(a, b)) for i, a in enumerate(imgs) for b in imgs[i + 1:])


# ------------------------------------------------------------------------------------------------ figures
def _dots(ax, x: torch.Tensor, title: str, color: str = "k") -> None:
    p = to_host(x).numpy()
    ax.scatter(p[:, 1], p[:, 0], s=3, c=color)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def plot_patterns(syntheses: dict[str, Synthesis], extra: dict[str, torch.Tensor] | None = None) -> plt.Figure:
    """One row per process: observation, uniform start, synthesis (and ``extra`` patterns, by title)."""
    extra = extra or {}
    cols = 3 + len(extra)
    fig, axes = plt.subplots(len(syntheses), cols, figsize=(2.6 * cols, 2.7 * len(syntheses)), squeeze=False)
    for row, (name, syn) in zip(axes, syntheses.items()):
        _dots(row[0], syn.x_obs, f"{PROCESSES[name]}: observation")
        _dots(row[1], syn.x0, "uniform start", "0.5")
        _dots(row[2], syn.x, "synthesis", "C0")
        for ax, (title, p) in zip(row[3:], extra.items()):
            if title.startswith(name):
                _dots(ax, p, title, "C1")
            else:
                ax.axis("off")
    fig.suptitle(f"Particle gradient descent, {len(next(iter(syntheses.values())).x)} points")
    return fig


def plot_descent(syntheses: dict[str, Synthesis]) -> plt.Figure:
    """Relative energy against L-BFGS iteration, one curve per process, the blur levels marked."""
    fig, ax = plt.subplots(figsize=(6.6, 3.4))
    for name, syn in syntheses.items():
        ax.semilogy(np.arange(1, len(syn.log.history) + 1), syn.log.history, label=PROCESSES[name])
    first = next(iter(syntheses.values())).log
    for start, sigma in zip(first.level_starts, first.sigmas):
        ax.axvline(start + 0.5, color="0.6", ls=":", lw=1)
        ax.text(start + 2, 0.97, f"σ = {sigma:g} px", fontsize=8, va="top", transform=ax.get_xaxis_transform())
    ax.set_xlabel("L-BFGS iteration (all blur levels)")
    ax.set_ylabel("relative energy ℰσ")
    ax.set_title("Coarse to fine: the energy restarts at each new blur σ")
    ax.legend(fontsize=8)
    return fig


def plot_replay(syn: Synthesis, s: Settings, index: int) -> plt.Figure:
    """Snapshot ``index`` of the descent: the particles, their rendering at the current blur, and the
    energy curve with a marker."""
    log = syn.log
    index = max(0, min(index, len(log.snapshots) - 1))
    step = log.snapshot_steps[index]
    level = max(i for i, st in enumerate(log.level_starts) if st <= max(step - 1, 0))
    sigma = log.sigmas[level]
    x = log.snapshots[index]
    fig, axes = plt.subplots(1, 3, figsize=(11.5, 3.5))
    _dots(axes[0], x, f"particles, iteration {step}")
    axes[1].imshow(to_host(render_gaussian(x.double(), s.N, sigma)).numpy(), cmap="magma")
    axes[1].set_title(f"rendering μσ, σ = {sigma:g} px", fontsize=9)
    axes[1].axis("off")
    axes[2].semilogy(np.arange(1, len(log.history) + 1), log.history, "C0")
    if step > 0:
        axes[2].plot([step], [log.history[step - 1]], "o", color="C3")
    axes[2].set_xlabel("L-BFGS iteration")
    axes[2].set_ylabel("relative energy")
    axes[2].set_title("energy (marker: this snapshot)", fontsize=9)
    fig.suptitle(f"{PROCESSES[syn.process]}: from uniform particles to the synthesis")
    return fig


def plot_summaries(ev: dict[str, object], process: str) -> plt.Figure:
    """:math:`L(r)-r` with the envelope of fresh realisations, pair correlation, structure factor, and
    :math:`H_0` death times, for the observation, the synthesis and the uniform start."""
    r = to_host(ev["r"]).numpy()
    styles = {"obs": ("k", "observation"), "syn": ("C0", "synthesis"), "start": ("0.6", "uniform start")}
    fig, axes = plt.subplots(1, 4, figsize=(15.0, 3.5))
    axes[0].fill_between(r, (ev["L_lo"] - ev["r"]).numpy(), (ev["L_hi"] - ev["r"]).numpy(), color="C2", alpha=0.25,
                         label="envelope of fresh realisations")
    for key, (c, lab) in styles.items():
        axes[0].plot(r, (ev[f"L_{key}"] - ev["r"]).numpy(), color=c, label=lab)
        axes[1].plot(r[3:], ev[f"g_{key}"].numpy(), color=c, label=lab)
        k, S = ev[f"S_{key}"]
        axes[2].semilogy(k.numpy(), S.numpy(), color=c, label=lab, lw=1)
        axes[3].hist(ev[f"h0_{key}"].numpy(), bins=30, histtype="step", color=c, label=lab, density=True)
    axes[0].set_xlabel("r (torus side = 1)")
    axes[0].set_ylabel("L(r) − r")
    axes[0].set_title("Ripley's L: 0 for Poisson", fontsize=9)
    axes[1].axhline(1, color="k", lw=0.5, ls="--")
    axes[1].set_xlabel("r")
    axes[1].set_ylabel("pair correlation g(r)")
    axes[1].set_title("pair correlation: 1 for Poisson", fontsize=9)
    axes[2].set_xlabel("|k| / 2π (cycles per unit)")
    axes[2].set_ylabel("structure factor S(k)")
    axes[2].set_title("structure factor: 1 for Poisson", fontsize=9)
    axes[3].set_xlabel("H0 death time (MST edge length)")
    axes[3].set_ylabel("density")
    axes[3].set_title("H0 persistence", fontsize=9)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{PROCESSES[process]}: statistics the synthesis never matched")
    return fig


def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """A particle descent at its smallest size (32x32, 40 points, ``J=2``, 3 iterations per level) on
    ``base.device``; the moments of the observation and the synthesis. Used by the device tests and
    ``gpucheck``."""
    s = replace(settings(replace(base, mode="fast")), N=32, n=40, J=2, steps=3)
    x_obs = make_pattern("voronoi", s, 0).to(dtype=s.dtype, device=s.device)
    op = make_moments(s)()
    x, _ = particle_descent(x_obs, make_moments(s), N=s.N, steps=s.steps, seed=1)
    return {"moments: observation": op.set_target(render_gaussian(x_obs, s.N, 1.0)), "synthesis": x}
