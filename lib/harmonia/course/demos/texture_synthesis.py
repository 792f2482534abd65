"""Chapter 08 demos: texture synthesis with rectified wavelet covariances (the ALPHA model).

The method lives in :mod:`harmonia.wph.alpha` (:class:`~harmonia.wph.AlphaStats`) and the sampler in
:func:`harmonia.maxent.microcanonical_synthesis` (through :func:`harmonia.synthesis.match_statistics`);
this module holds the chapter's runners, evaluations and figures.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field, replace

import matplotlib.pyplot as plt
import numpy as np
import torch

from harmonia.course.plots import to_host
from harmonia.course.settings import ChapterSettings, extend
from harmonia.data.textures import bubbles, cracks, texture_image
from harmonia.filters.morlet2d import filter_bank_2d
from harmonia.maxent import microcanonical_synthesis, random_phase_surrogate
from harmonia.metrics import log_spectrum_error, max_normalized_crosscorr, pixel_correlation, radial_power_spectrum
from harmonia.nn import RandomFilterGram
from harmonia.phase_harmonics import phase_filter
from harmonia.synthesis import histogram_match
from harmonia.wph import AlphaStats, alpha_stat_count

__all__ = [
    "Settings",
    "settings",
    "LOSS_FACTOR",
    "MODELS",
    "MODEL_NAMES",
    "load_textures",
    "build_operator",
    "Synthesis",
    "synthesize",
    "evaluate",
    "plot_textures",
    "plot_syntheses",
    "plot_loss_curves",
    "plot_spectra",
    "plot_evaluation",
    "plot_rectifier",
    "plot_stat_counts",
    "Explorer",
    "device_check",
]

#: :math:`f` in :math:`E(x)=f^2\|K(x)-K(\bar x)\|^2` (keeps float32 L-BFGS away from its curvature threshold).
LOSS_FACTOR = 10.0
MODELS = ("alpha", "same", "ablation", "gaussian", "rf")
MODEL_NAMES = {
    "alpha": "ALPHA (A=4, Δj=2, shifts across scales)",
    "same": "ALPHA, shifts only within a map",
    "ablation": "ablation (A=1, Δj=0, no shift)",
    "gaussian": "Gaussian (random phases)",
    "rf": "random filters (RF)",
}
SHORT = {"alpha": "ALPHA", "same": "shift same", "ablation": "ablation", "gaussian": "Gaussian", "rf": "RF"}


@dataclass(frozen=True)
class Settings(ChapterSettings):
    """Mode, device and sizes: images ``size`` x ``size``, wavelets (``J``, ``L``), rectifier phases ``A``,
    scale interaction ``delta_j``, the sampler (``steps`` L-BFGS iterations x ``restarts`` rounds,
    memory ``history``), the random-filter baseline (``rf_sizes`` x ``rf_maps``) and the textures."""

    size: int = 64
    J: int = 4
    L: int = 4
    A: int = 4
    delta_j: int = 2
    steps: int = 150
    restarts: int = 2
    history: int = 50
    rf_sizes: tuple[int, ...] = (3, 5, 7, 11, 15, 23)
    rf_maps: int = 16
    textures: tuple[str, ...] = ("bubbles", "gravel")


def settings(base: ChapterSettings | None = None) -> Settings:
    """``base`` (default: :func:`harmonia.course.settings.current`) with the sizes of its mode. Fast mode:
    64x64, ``J=4``, 2 x 150 L-BFGS iterations, RF with 6 sizes x 16 maps; full mode: the paper's
    256x256, ``J=5``, 5 x 500 iterations, RF with 8 sizes x 128 maps, and brick and grass too (meant for
    a GPU)."""
    return extend(Settings, base, {"size": 256, "J": 5, "steps": 500, "restarts": 5,
                                   "rf_sizes": (3, 5, 7, 11, 15, 23, 37, 55), "rf_maps": 128,
                                   "textures": ("bubbles", "gravel", "brick", "grass")})


def load_textures(s: Settings) -> dict[str, tuple[torch.Tensor, bool]]:
    """``{name: (image, periodic)}`` on ``s.device`` in ``s.dtype``: procedural periodic textures
    (``bubbles``, ``cracks``) and central crops of scikit-image's photographs (``gravel``, ``brick``,
    ``grass``; not periodic, so their statistics use border masks)."""
    out = {}
    for name in s.textures:
        if name == "bubbles":
            x, periodic = bubbles(s.size, n_disks=int(40 * (s.size / 64) ** 2), seed=0), True
        elif name == "cracks":
            x, periodic = cracks(s.size, n_seeds=int(24 * (s.size / 64) ** 2), seed=0), True
        else:
            x, periodic = texture_image(name, s.size), False
        out[name] = (x.to(dtype=s.dtype, device=s.device), periodic)
    return out


def build_operator(kind: str, s: Settings, periodic: bool, **overrides) -> torch.nn.Module:
    """The statistics of a model, on ``s.device``: ``"alpha"`` (the chapter's ALPHA model), ``"same"``
    (shifts only for a map with itself), ``"ablation"`` (``A=1``, ``Δj=0``, no shift, no extras) or
    ``"rf"`` (random-filter Gram). ``overrides`` go to :class:`~harmonia.wph.AlphaStats`."""
    if kind == "rf":
        return RandomFilterGram(sizes=s.rf_sizes, n_maps=s.rf_maps, seed=0).to(dtype=s.dtype, device=s.device)
    base = dict(J=s.J, L=s.L, A=s.A, delta_j=s.delta_j, shift="all", mask=not periodic)
    variants = {"alpha": {}, "same": {"shift": "same"},
                "ablation": {"A": 1, "delta_j": 0, "shift": "none", "extras": ()}}
    if kind not in variants:
        raise ValueError(f"kind: expected one of {('rf', *variants)}, got {kind!r}")
    kw = {**base, **variants[kind], **overrides}
    return AlphaStats(s.size, s.size, **kw).to(dtype=s.dtype, device=s.device)


@dataclass
class Synthesis:
    """One synthesis: ``sample`` (the descent's output), ``matched`` (histogram-matched to the observation),
    ``history`` (relative error :math:`\\mathcal E` after every L-BFGS iteration, empty for the Gaussian),
    ``E0`` (:math:`\\mathcal E` of the white-noise start), ``n_stats`` and wall ``seconds``."""

    kind: str
    sample: torch.Tensor
    matched: torch.Tensor
    n_stats: int = 0
    history: list[float] = field(default_factory=list)
    E0: float = math.nan
    seconds: float = 0.0


def synthesize(kind: str, x: torch.Tensor, periodic: bool, s: Settings, seed: int = 0, progress: bool = False,
               **overrides) -> Synthesis:
    """Synthesise one texture like ``x`` with model ``kind`` (see :data:`MODEL_NAMES`).

    ``"gaussian"`` is a random-phase surrogate (exact power spectrum); the others run
    :func:`harmonia.maxent.microcanonical_synthesis` -- white noise with ``x``'s mean and standard
    deviation, then ``restarts`` x ``steps`` L-BFGS iterations on :math:`f^2\\|K(x)-K(\\bar x)\\|^2`."""
    start = time.perf_counter()
    if kind == "gaussian":
        g = random_phase_surrogate(x.double()[None], seed=seed)[0].to(x)
        return Synthesis(kind, g, histogram_match(g, x), seconds=time.perf_counter() - start)
    op = build_operator(kind, s, periodic, **overrides)
    res = microcanonical_synthesis(op, x, 1, steps=s.steps, restarts=s.restarts, history_size=s.history,
                                   loss_factor=LOSS_FACTOR, seed=seed, progress=progress)
    scale = LOSS_FACTOR**2 * float(op.target.square().sum()) if hasattr(op, "target") else None
    if scale is None:  # RandomFilterGram keeps no target: E relative to ||K(x_bar)||^2
        with torch.no_grad():
            scale = LOSS_FACTOR**2 * float(op(x).square().sum())
    sample = res.samples[0]
    return Synthesis(kind, sample, histogram_match(sample, x), int(op.n_stats), [h / scale for h in res.histories[0]],
                     res.initial_losses[0] / scale, time.perf_counter() - start)


def evaluate(results: dict[str, Synthesis], x: torch.Tensor, judge: AlphaStats) -> dict[str, dict[str, float]]:
    """Per model, before histogram matching: ``E_full`` (the relative error under ``judge``, the full ALPHA
    operator, held out for every other model), ``spectrum`` (:func:`~harmonia.metrics.log_spectrum_error`),
    ``ncc`` (largest normalised circular cross-correlation with ``x``: copying shows as 1)."""
    rows = {}
    with torch.no_grad():
        for name, r in results.items():
            rows[name] = {"E_full": float(judge.relative_error(r.sample)),
                          "spectrum": float(log_spectrum_error(r.sample, x)),
                          "ncc": float(max_normalized_crosscorr(r.sample, x))}
    return rows


# ------------------------------------------------------------------------------------------------ figures
def _show(ax, img: torch.Tensor, title: str) -> None:
    ax.imshow(to_host(img).float().numpy(), cmap="gray", vmin=0.0, vmax=1.0)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def plot_textures(textures: dict[str, tuple[torch.Tensor, bool]]) -> plt.Figure:
    """The observations side by side, each tiled 2x2 to show whether it is periodic."""
    fig, axes = plt.subplots(1, len(textures), figsize=(3.2 * len(textures), 3.4), squeeze=False)
    for ax, (name, (x, periodic)) in zip(axes[0], textures.items()):
        _show(ax, torch.tile(x, (2, 2)), f"{name} ({'periodic' if periodic else 'not periodic'}), tiled 2x2")
    fig.suptitle("Observed textures x̄")
    return fig


def plot_syntheses(x: torch.Tensor, results: dict[str, Synthesis], title: str) -> plt.Figure:
    """The observation and each model's histogram-matched synthesis in one row."""
    fig, axes = plt.subplots(1, 1 + len(results), figsize=(2.4 * (1 + len(results)), 2.8))
    _show(axes[0], x, "observation x̄")
    for ax, (name, r) in zip(axes[1:], results.items()):
        _show(ax, r.matched, SHORT.get(name, name))
    fig.suptitle(title)
    return fig


def plot_loss_curves(runs: dict[str, Synthesis], steps: int | None = None) -> plt.Figure:
    """Relative error :math:`\\mathcal E` against L-BFGS iteration (log scale), restarts dotted."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for label, r in runs.items():
        ax.semilogy(np.arange(1, len(r.history) + 1), r.history, label=label)
    if steps:
        for k in range(1, 1 + max(len(r.history) for r in runs.values()) // steps):
            ax.axvline(k * steps, color="0.6", ls=":", lw=1)
    ax.set_xlabel("L-BFGS iteration")
    ax.set_ylabel("relative error ℰ = ‖K(x)−K(x̄)‖² / ‖K(x̄)‖²")
    ax.set_title("ALPHA syntheses: the statistics are matched")
    ax.legend(fontsize=8)
    return fig


def plot_spectra(x: torch.Tensor, results: dict[str, Synthesis], title: str) -> plt.Figure:
    """Radial power spectra (log-log) of the observation and of each model's sample."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    k, p = radial_power_spectrum(to_host(x).double())
    ax.loglog(k[1:].numpy(), p[1:].numpy(), "k", lw=2.5, label="observation x̄")
    for name, r in results.items():
        _, ps = radial_power_spectrum(to_host(r.sample).double())
        ax.loglog(k[1:].numpy(), ps[1:].numpy(), lw=1.2, label=SHORT.get(name, name))
    ax.set_xlabel("radial frequency |k| (cycles per image)")
    ax.set_ylabel("power P(|k|)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def plot_evaluation(rows: dict[str, dict[str, dict[str, float]]]) -> plt.Figure:
    """The evaluation of :func:`evaluate` for each texture as a table figure (values vary slightly with
    the CPU, so they are drawn, not printed)."""
    fig, ax = plt.subplots(figsize=(8.4, 0.5 + 0.32 * sum(len(r) for r in rows.values())))
    ax.axis("off")
    cells = [[name, SHORT.get(model, model), f"{v['E_full']:.2g}", f"{v['spectrum']:.3f}", f"{v['ncc']:.2f}"]
             for name, r in rows.items() for model, v in r.items()]
    table = ax.table(cellText=cells, colLabels=["texture", "model", "held-out ℰ (full ALPHA)", "log-spectrum error",
                                                "max cross-corr."], loc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    ax.set_title("Every sample measured with the full ALPHA operator and the radial spectrum (before histogram matching)")
    return fig


@functools.lru_cache(maxsize=4)
def _wavelets(size: int, J: int, L: int) -> torch.Tensor:
    """The Morlet spectra (J*L, size, size) of the ALPHA operator, built once per size for the widget."""
    return torch.stack([p["levels"][0] for p in filter_bank_2d(size, size, J, L)["psi"]])


def plot_rectifier(x: torch.Tensor, s: Settings, alpha: float, j: int = 1, l: int = 0) -> plt.Figure:
    """The real part :math:`\\mathrm{Re}(e^{-i\\alpha}x\\star\\psi_{j,\\ell})`, its rectification
    :math:`\\rho_\\alpha`, and the rectifier's response :math:`\\mathrm{ReLU}(\\cos(\\varphi-\\alpha))` on the
    phase circle."""
    psi_hat = _wavelets(s.size, s.J, s.L).to(dtype=x.dtype, device=x.device)
    z = torch.fft.ifft2(torch.fft.fft2(x) * psi_hat[j * s.L + l])
    rotated = (z * complex(math.cos(alpha), -math.sin(alpha))).real
    rho = phase_filter(z * complex(math.cos(alpha), -math.sin(alpha)), 1)[..., 0]
    fig = plt.figure(figsize=(10, 3.3))
    a0, a1 = fig.add_subplot(1, 3, 1), fig.add_subplot(1, 3, 2)
    a2 = fig.add_subplot(1, 3, 3, projection="polar")
    v = float(to_host(rotated).abs().max())
    a0.imshow(to_host(rotated).numpy(), cmap="RdBu_r", vmin=-v, vmax=v)
    a0.set_title(f"Re(e^(-iα) x⋆ψ), j={j}, ℓ={l}", fontsize=9)
    a1.imshow(to_host(rho).numpy(), cmap="magma", vmin=0, vmax=v)
    a1.set_title(f"ρ_α = ReLU(…), α = {alpha:.2f} rad", fontsize=9)
    for a in (a0, a1):
        a.axis("off")
    phi = np.linspace(0, 2 * np.pi, 361)
    a2.plot(phi, np.maximum(np.cos(phi - alpha), 0), "C3", lw=2)
    a2.set_title("ReLU(cos(φ − α)) against the phase φ", fontsize=9)
    a2.set_yticks([0.5, 1.0])
    fig.suptitle("The phase-shifted rectifier keeps the coefficients whose phase is near α")
    return fig


def plot_stat_counts(delta_j: int, A: int, J: int = 4, L: int = 4, pixels: int = 64 * 64) -> plt.Figure:
    """Number of statistics of the three shift modes for ``delta_j`` and ``A``, against the pixel count."""
    counts = {m: alpha_stat_count(J, L, A, delta_j, m) for m in ("none", "same", "all")}
    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    ax.bar(list(counts), list(counts.values()), color=["C0", "C1", "C2"])
    ax.axhline(pixels, color="k", ls="--", lw=1, label=f"pixels ({pixels})")
    for i, v in enumerate(counts.values()):
        ax.text(i, v, f"{v}", ha="center", va="bottom", fontsize=9)
    ax.set_yscale("log")
    ax.set_xlabel("shift mode")
    ax.set_ylabel("number of statistics |Υ|")
    ax.set_title(f"J={J}, L={L}, A={A}, Δj={delta_j} (low-pass and Haar included)")
    ax.legend(fontsize=8)
    return fig


class Explorer:
    """Model selector: shows a stored synthesis, or runs (and caches) a model that was not stored or an
    ALPHA variant with another :math:`\\Delta_j` (``steps`` L-BFGS iterations, one round)."""

    def __init__(self, textures: dict[str, tuple[torch.Tensor, bool]], results: dict[str, dict[str, Synthesis]],
                 s: Settings, steps: int = 60) -> None:
        self.textures, self.results, self.s, self.steps = textures, results, s, steps
        self.cache: dict[tuple[str, str], Synthesis] = {}

    def synthesis(self, texture: str, model: str) -> Synthesis:
        if model in self.results.get(texture, {}):
            return self.results[texture][model]
        key = (texture, model)
        if key not in self.cache:
            x, periodic = self.textures[texture]
            s = replace(self.s, steps=self.steps, restarts=1)
            if model in MODELS:
                self.cache[key] = synthesize(model, x, periodic, s, seed=0)
            elif model.startswith("alpha dj=") and model[9:].isdigit():
                self.cache[key] = synthesize("alpha", x, periodic, s, seed=0, delta_j=int(model[9:]))
            else:
                raise ValueError(f"model: expected one of {MODELS} or 'alpha dj=<int>', got {model!r}")
        return self.cache[key]

    def plot(self, texture: str, model: str) -> plt.Figure:
        x, _ = self.textures[texture]
        r = self.synthesis(texture, model)
        fig, axes = plt.subplots(1, 3, figsize=(9.6, 3.2))
        _show(axes[0], x, f"{texture}: observation")
        _show(axes[1], r.matched, f"{SHORT.get(model, model)} ({r.n_stats} statistics)")
        k, p = radial_power_spectrum(to_host(x).double())
        _, ps = radial_power_spectrum(to_host(r.sample).double())
        axes[2].loglog(k[1:].numpy(), p[1:].numpy(), "k", lw=2, label="observation")
        axes[2].loglog(k[1:].numpy(), ps[1:].numpy(), "C1", label="synthesis")
        axes[2].set_xlabel("radial frequency |k|")
        axes[2].set_ylabel("power")
        axes[2].legend(fontsize=8)
        axes[2].set_title("radial power spectrum", fontsize=9)
        fig.suptitle(f"{MODEL_NAMES.get(model, model)}")
        return fig


def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """Every model at 32x32 (``J=3``, 5 L-BFGS iterations) on ``base.device``: the statistics of the
    observation and one synthesis each. Used by the device tests and ``gpucheck``."""
    s = replace(settings(replace(base, mode="fast")), size=32, J=3, steps=5, restarts=1, rf_sizes=(3, 5, 7),
                rf_maps=4, textures=("bubbles",))
    x, periodic = load_textures(s)["bubbles"]
    out = {"alpha: K(x_bar)": build_operator("alpha", s, periodic).set_target(x)}
    for kind in MODELS:
        out[f"{kind}: sample"] = synthesize(kind, x, periodic, s).sample
    colour = AlphaStats(32, 32, J=3, shift="samec", color=True, extras=("lowpass", "haar", "color")).to(
        dtype=s.dtype, device=s.device)
    out["colour: K(x_bar)"] = colour.set_target(bubbles(32, channels=3, seed=0).to(dtype=s.dtype, device=s.device))
    return out
