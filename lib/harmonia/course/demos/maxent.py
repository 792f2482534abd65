"""Chapter 07 demos: turbulence data views, syntheses of the models A-D, their evaluation, widgets.

The methods live in layer 2 (:mod:`harmonia.wph` for the moment sets, :mod:`harmonia.maxent` for the
Gaussian model and the microcanonical sampler, :mod:`harmonia.metrics` for the statistics); this
module only runs the chapter's experiments and draws them.

Used in: chapter 07.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import matplotlib.pyplot as plt
import numpy as np
import torch

from harmonia.config import check_in
from harmonia.course.plots import to_host
from harmonia.course.settings import ChapterSettings, extend
from harmonia.data.turbulence import decaying_turbulence, load_turbulence
from harmonia.maxent import gaussian_maxent_spectrum, microcanonical_synthesis, random_phase_surrogate, sample_gaussian
from harmonia.metrics import (
    kurtosis,
    log_spectrum_error,
    max_normalized_crosscorr,
    radial_power_spectrum,
    spectral_rel_error,
)
from harmonia.wph import WPH2D, AngularWPH2D, PhaseHarmonicCov, foveal_covariance, model_B, model_C, model_D

__all__ = [
    "MODELS",
    "MODEL_NAMES",
    "Settings",
    "settings",
    "load_data",
    "device_check",
    "build_operator",
    "Synthesis",
    "synthesize",
    "evaluate",
    "spectrum_error",
    "moment_counts",
    "plot_fields",
    "plot_solver_time",
    "plot_samples",
    "plot_statistics",
    "plot_loss_curves",
    "plot_errors",
    "plot_evaluation_table",
    "plot_model_explorer",
    "plot_moment_counts",
    "plot_maxent_spectrum",
    "SHIFT_CHOICES",
    "Explorer",
]

MODELS = ("A", "B", "C", "D")
MODEL_NAMES = {
    "A": "A: Gaussian (random phases)",
    "Afit": "A (fit): max-ent Gaussian of wavelet moments",
    "B": "B: same scale + shifts",
    "C": "C: B + scale interactions",
    "D": "D: angular Fourier (isotropic)",
}
#: The paper's foveal errors on its turbulence data (from the authors' notebooks); "real" is one
#: real training image instead of syntheses. The paper's model A is the fitted maximum-entropy
#: Gaussian ("Afit"); the random-phase surrogate "A" is the course's teaching version (no paper value).
PAPER_EPSILON = {"Afit": 0.82, "B": 0.29, "C": 0.24, "D": 0.25, "real": 0.58}
#: The authors' final losses :math:`\\sum|K(x)-K(\\bar x)|^2` (normalised moments, loss factor left out)
#: for turbulence, model B (256x256, 11 x 500 L-BFGS iterations).
PAPER_FINAL_LOSS = (3.8e-5, 1.1e-4)
#: The loss factor :math:`f` of :math:`E(x)=\\|f\\,(K(x)-K(\\bar x))\\|^2` (authors: 10).
LOSS_FACTOR = 10.0
EVALUATION_ORDER = ("A", "Afit", "B", "C", "D", "real")
SHORT_NAMES = {"A": "A (random phases)", "Afit": "A (max-ent fit)", "B": "B (same scale + shifts)",
               "C": "C (B + scale inter.)", "D": "D (angular Fourier)", "real": "one real image x̄"}
CMAP = "RdBu_r"


@dataclass(frozen=True)
class Settings(ChapterSettings):
    """Mode, device and the experiment's sizes: wavelets (``J``, ``L``, ``dl``, ``dn``), the sampler (``steps`` L-BFGS
    iterations x ``restarts``, ``n_samples`` syntheses per model) and the foveal evaluation."""

    J: int = 4
    L: int = 4
    dl: int = 2
    dn: int = 1
    steps: int = 100
    restarts: int = 3
    n_samples: int = 2
    k_max: int = 2
    delta: int = 1
    step: int = 4


def settings(base: ChapterSettings | None = None) -> Settings:
    """``base`` (default: :func:`harmonia.course.settings.current`) with the sizes of its mode.
    Fast mode: 64x64 fields, ``J=4, L=4``; full mode: the paper's ``J=5, L=8, dl=4, dn=2``,
    11 x 500 L-BFGS iterations, 10 syntheses (meant for a GPU)."""
    return extend(Settings, base, {"J": 5, "L": 8, "dl": 4, "dn": 2, "steps": 500, "restarts": 11, "n_samples": 10,
                                   "k_max": 2, "delta": 2, "step": 8})


def load_data(s: ChapterSettings | None = None) -> dict[str, torch.Tensor]:
    """``x_bar`` (training field), ``test`` (held-out fields), ``snapshots`` and ``times`` (one run), on
    ``s.device`` in ``s.dtype``.

    Fast mode reads the committed 64x64 fields (milliseconds); full mode generates 8 fields of
    128x128 with the same solver (about a minute on a CPU)."""
    s = settings(s) if s is None else s
    data = load_turbulence()
    fields = decaying_turbulence(8, 128, T=50.0, seed=0) if s.full else data["fields"]
    fields, snapshots = s.put(fields), s.put(data["snapshots"])
    return {"x_bar": fields[0], "test": fields[1:], "snapshots": snapshots, "times": data["snapshot_times"]}


def build_operator(model: str, M: int, N: int, s: Settings, dn: int | None = None) -> PhaseHarmonicCov:
    """The moment operator of model B, C or D (target-normalised, no appended means)."""
    check_in(model, "model", ("B", "C", "D"))
    dn = s.dn if dn is None else dn
    if model == "D":
        return AngularWPH2D(M, N, s.J, s.L, dj=1)
    index = model_B(s.J, s.L, s.dl, dn) if model == "B" else model_C(s.J, s.L, 1, s.dl, 0, dn)
    return WPH2D(M, N, s.J, s.L, index=index, std_norm=True, include_means=False)


@dataclass
class Synthesis:
    """Samples of one model and how the sampler went."""

    model: str
    samples: torch.Tensor
    n_moments: int = 0
    loss_ratio: list[float] = field(default_factory=list)
    #: final :math:`\\sum|K(x)-K(\\bar x)|^2` per sample (the loss without the factor :math:`f^2`)
    final_loss: list[float] = field(default_factory=list)
    histories: list[list[float]] = field(default_factory=list)
    seconds: float = 0.0


def synthesize(model: str, x_bar: torch.Tensor, s: Settings, seed: int = 0, n_samples: int | None = None,
               dn: int | None = None) -> Synthesis:
    """``n_samples`` samples of a model for the target ``x_bar`` (M, N).

    A: random-phase surrogates; Afit: Gaussian fields with the maximum-entropy spectrum of model A's
    wavelet constraints (:func:`harmonia.maxent.gaussian_maxent_spectrum`, shifts up to 2); B, C, D: microcanonical gradient descent from white noise
    (:func:`harmonia.maxent.microcanonical_synthesis`, loss factor 10, history 20)."""
    check_in(model, "model", (*MODELS, "Afit"))
    n = s.n_samples if n_samples is None else n_samples
    start = time.perf_counter()
    if model == "A":
        samples = random_phase_surrogate(x_bar.expand(n, *x_bar.shape), seed=seed)
        return Synthesis("A", samples, seconds=time.perf_counter() - start)
    if model == "Afit":
        P, info = gaussian_maxent_spectrum(x_bar.double(), s.J, s.L, delta=2)
        samples = sample_gaussian(P, n, seed=seed).to(x_bar.dtype)
        return Synthesis("Afit", samples, n_moments=int(info["n_constraints"]), seconds=time.perf_counter() - start)
    op = build_operator(model, *x_bar.shape, s, dn=dn).to(x_bar.device)
    res = microcanonical_synthesis(op, x_bar, n, steps=s.steps, restarts=s.restarts, seed=seed, loss_factor=LOSS_FACTOR)
    ratio = [f / i for f, i in zip(res.losses, res.initial_losses)]
    final = [f / LOSS_FACTOR**2 for f in res.losses]
    return Synthesis(model, res.samples, op.n_moments, ratio, final, res.histories, time.perf_counter() - start)


def spectrum_error(samples: torch.Tensor, x_bar: torch.Tensor) -> float:
    """Mean :math:`|\\log_{10}\\bar P_{\\rm synth}-\\log_{10}P_{\\bar x}|` over :math:`1\\le|k|<N/3` (the
    samples' spectra averaged first): :func:`harmonia.metrics.log_spectrum_error` below the solver's
    dealiasing cut."""
    return float(log_spectrum_error(samples, x_bar, k_max=min(x_bar.shape) / 3))


def evaluate(syntheses: dict[str, Synthesis], x_bar: torch.Tensor, test: torch.Tensor,
             s: Settings) -> dict[str, dict[str, float]]:
    """Per model: mean kurtosis of the samples, spectrum error, foveal error :math:`\\epsilon` against
    the test fields, and the largest normalised cross-correlation with ``x_bar`` over samples and
    shifts. The row ``"real"`` evaluates ``x_bar`` itself (one real image instead of syntheses).

    Like is compared with like: ``"epsilon"`` is computed from *one* field per row, as for the real
    image (each sample alone, then the mean over samples; ``"epsilon_each"`` lists them)."""
    fov = dict(J=s.J, L=s.L, k_max=s.k_max, delta=s.delta, step=s.step)
    K_test = foveal_covariance(test, **fov)
    rows = {}
    for name, syn in syntheses.items():
        x = syn.samples
        each = [float(spectral_rel_error(K_test, foveal_covariance(x[i:i + 1], **fov))) for i in range(len(x))]
        rows[name] = {
            "kurtosis": float(kurtosis(x).mean()),
            "spectrum": spectrum_error(x, x_bar),
            "epsilon": float(np.mean(each)),
            "epsilon_each": each,
            "crosscorr": float(max_normalized_crosscorr(x, x_bar.expand_as(x)).max()),
        }
    rows["real"] = {"kurtosis": float(kurtosis(x_bar)), "spectrum": 0.0,
                    "epsilon": float(spectral_rel_error(K_test, foveal_covariance(x_bar[None], **fov))),
                    "crosscorr": 1.0}
    rows["real"]["epsilon_each"] = [rows["real"]["epsilon"]]
    return rows


def moment_counts(J: int, L: int, dj: int, dl: int, dn: int) -> dict[str, int]:
    """Real moments of B, C (with ``dj``) and D, in the paper's counting, for given parameters."""
    return {"B": model_B(J, L, dl, dn).count_real("zhang-mallat-2021"),
            "C": model_C(J, L, max(dj, 1), dl, 0, dn).count_real("zhang-mallat-2021"),
            "D": model_D(J, L, max(dj, 1)).count_real("zhang-mallat-2021")}


# ----------------------------------------------------------------------------------------- figures
def _imshow(ax, x: torch.Tensor, title: str, vmax: float | None = None) -> None:
    a = x.detach().cpu().float().numpy()
    v = float(np.abs(a).max()) if vmax is None else vmax
    ax.imshow(a, cmap=CMAP, vmin=-v, vmax=v)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def plot_fields(fields: torch.Tensor, titles: list[str], suptitle: str) -> plt.Figure:
    """A row of vorticity fields on one symmetric colour scale."""
    fields = to_host(fields)
    n = len(fields)
    fig, axes = plt.subplots(1, n, figsize=(2.3 * n, 2.6))
    axes = np.atleast_1d(axes)
    vmax = float(max(f.abs().max() for f in fields))
    for ax, f, t in zip(axes, fields, titles):
        _imshow(ax, f, t, vmax)
    fig.suptitle(suptitle)
    return fig


def plot_solver_time(snapshots: torch.Tensor, times: torch.Tensor, t_index: int = 10) -> plt.Figure:
    """The vorticity of the seed-0 run at ``times[t_index]`` and its radial power spectrum next to the
    initial one."""
    snapshots, times = to_host((snapshots, times))
    t_index = int(np.clip(t_index, 0, len(times) - 1))
    w = snapshots[t_index]
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(8, 3.4))
    _imshow(a0, w, f"vorticity at t = {float(times[t_index]):.0f}, kurtosis {float(kurtosis(w)):.1f}")
    for idx, style in ((0, "--"), (t_index, "-")):
        k, p = radial_power_spectrum(snapshots[idx].double())
        a1.loglog(k[1:].numpy(), p[1:].numpy(), style, label=f"t = {float(times[idx]):.0f}")
    a1.set_xlabel("wavenumber |k|")
    a1.set_ylabel("radial power spectrum")
    a1.set_title("spectrum: energy spreads to small scales")
    a1.legend()
    return fig


def plot_samples(x_bar: torch.Tensor, syntheses: dict[str, Synthesis]) -> plt.Figure:
    """The training field next to the first sample of each model."""
    x_bar, syntheses = to_host((x_bar, syntheses))
    fields = [x_bar] + [syn.samples[0] for syn in syntheses.values()]
    titles = ["training field x̄"] + [SHORT_NAMES[m] for m in syntheses]
    return plot_fields(fields, titles, "Turbulence and its syntheses (same colour scale)")


def plot_statistics(x_bar: torch.Tensor, syntheses: dict[str, Synthesis]) -> plt.Figure:
    """Histograms (log density) and radial power spectra of the samples against the training field."""
    x_bar, syntheses = to_host((x_bar, syntheses))
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(9, 3.6))
    bins = np.linspace(-8, 8, 61)
    a0.hist(x_bar.flatten().numpy(), bins=bins, density=True, histtype="step", color="k", lw=2, label="training")
    k, p = radial_power_spectrum(x_bar.double())
    a1.loglog(k[1:].numpy(), p[1:].numpy(), "k", lw=2, label="training")
    for m, syn in syntheses.items():
        a0.hist(syn.samples.flatten().detach().numpy(), bins=bins, density=True, histtype="step", label=m)
        _, ps = radial_power_spectrum(syn.samples.detach().double())
        a1.loglog(k[1:].numpy(), ps.mean(0)[1:].numpy(), label=m)
    a0.set_yscale("log")
    a0.set_xlabel("vorticity (standardised)")
    a0.set_ylabel("density")
    a0.set_title("histograms: heavy tails = vortices")
    a1.set_xlabel("wavenumber |k|")
    a1.set_ylabel("power")
    a1.set_title("radial power spectra")
    a0.legend(fontsize=8)
    a1.legend(fontsize=8)
    return fig


def plot_loss_curves(syntheses: dict[str, Synthesis], steps: int | None = None) -> plt.Figure:
    """:math:`\\sum|K(x)-K(\\bar x)|^2=E(x)/f^2` of every microcanonical descent against the iteration,
    the final values written at the right, beside the paper's range of final losses (shaded);
    dotted lines mark the L-BFGS restarts every ``steps`` iterations."""
    syntheses = to_host(syntheses)
    fig, ax = plt.subplots(figsize=(7.2, 3.8))
    ax.axhspan(*PAPER_FINAL_LOSS, color="0.8", label="paper's final losses (model B, 256², 5500 it.)")
    n_max = 0
    for i, (m, syn) in enumerate((m, syn) for m, syn in syntheses.items() if syn.histories):
        for j, h in enumerate(syn.histories):
            h = np.asarray(h) / LOSS_FACTOR**2
            n_max = max(n_max, len(h))
            ax.semilogy(np.arange(1, len(h) + 1), h, color=f"C{i}", alpha=0.8, label=m if j == 0 else None)
            ax.annotate(f"{m}: {syn.final_loss[j]:.1e}", (len(h), syn.final_loss[j]), xytext=(4, 0),
                        textcoords="offset points", fontsize=7, color=f"C{i}", va="center")
    if steps:
        for r in range(steps, n_max, steps):
            ax.axvline(r, color="0.5", ls=":", lw=1)
    ax.set_xlim(0, n_max * 1.18)
    ax.set_xlabel("L-BFGS iteration")
    ax.set_ylabel("Σ|K(x) − K(x̄)|²  (= E(x) / f²)")
    ax.set_title("microcanonical gradient descent from white noise")
    ax.legend(fontsize=8, loc="upper right")
    return fig


def plot_errors(rows: dict[str, dict[str, float]]) -> plt.Figure:
    """Foveal error per model: this notebook beside the paper's values."""
    names = [m for m in EVALUATION_ORDER if m in rows]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(7.2, 3.6))
    ax.bar(x - 0.2, [rows[m]["epsilon"] for m in names], 0.4, label="this notebook (64², one field per row)")
    paper = [PAPER_EPSILON.get(m, np.nan) for m in names]
    ax.bar(x + 0.2, paper, 0.4, label="paper (256², 10 syntheses; real: one image)")
    for xi, m, pv in zip(x, names, paper):
        ax.text(xi - 0.2, rows[m]["epsilon"], f"{rows[m]['epsilon']:.2f}", ha="center", va="bottom", fontsize=8)
        if not np.isnan(pv):
            ax.text(xi + 0.2, pv, f"{pv:.2f}", ha="center", va="bottom", fontsize=8)
    labels = {"real": "one real\nimage", "A": "A\n(random\nphases)", "Afit": "A (fit)"}
    ax.set_xticks(x, [labels.get(m, m) for m in names])
    ax.set_ylabel("foveal error ε")
    ax.set_title("Covariance error on held-out fields (lower is better)")
    ax.legend(fontsize=8)
    return fig


def plot_evaluation_table(rows: dict[str, dict[str, float]]) -> plt.Figure:
    """The evaluation as a table figure (values depend on the optimiser's path, so they are drawn, not
    printed)."""
    names = [m for m in EVALUATION_ORDER if m in rows]
    cells = [[f"{rows[m]['kurtosis']:.2f}", f"{rows[m]['spectrum']:.3f}",
              " / ".join(f"{e:.2f}" for e in rows[m]["epsilon_each"]) + (f" (mean {rows[m]['epsilon']:.2f})"
                                                                        if len(rows[m]["epsilon_each"]) > 1 else ""),
              f"{rows[m]['crosscorr']:.2f}"] for m in names]
    fig, ax = plt.subplots(figsize=(8.4, 0.3 * len(names) + 0.6))
    ax.axis("off")
    table = ax.table(cellText=cells, rowLabels=[SHORT_NAMES[m] for m in names],
                     colLabels=["kurtosis", "spectrum error", "foveal ε per field", "max cross-corr."], loc="center")
    table.scale(1, 1.3)
    ax.set_title("Evaluation against the training field and the 7 test fields")
    return fig


def plot_model_explorer(x_bar: torch.Tensor, syntheses: dict[str, Synthesis], model: str = "B",
                        sample: int = 0) -> plt.Figure:
    """One sample of a model beside the training field, with histogram and spectrum overlays."""
    x_bar, syntheses = to_host((x_bar, syntheses))
    check_in(model, "model", tuple(syntheses))
    syn = syntheses[model]
    sample = int(np.clip(sample, 0, len(syn.samples) - 1))
    x = syn.samples[sample].detach()
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.0))
    v = float(max(x_bar.abs().max(), x.abs().max()))
    _imshow(axes[0], x_bar, "training field", v)
    moments = f", {syn.n_moments} moments" if syn.n_moments else ""
    _imshow(axes[1], x, f"model {model}, sample {sample}{moments}", v)
    bins = np.linspace(-8, 8, 61)
    axes[2].hist(x_bar.flatten().numpy(), bins=bins, density=True, histtype="step", color="k", label="training")
    axes[2].hist(x.flatten().numpy(), bins=bins, density=True, histtype="step", label=f"model {model}")
    axes[2].set_yscale("log")
    axes[2].set_title(f"kurtosis {float(kurtosis(x_bar)):.1f} vs {float(kurtosis(x)):.1f}")
    axes[2].set_xlabel("vorticity")
    axes[2].legend(fontsize=7)
    k, p0 = radial_power_spectrum(x_bar.double())
    _, p1 = radial_power_spectrum(x.double())
    axes[3].loglog(k[1:].numpy(), p0[1:].numpy(), "k", label="training")
    axes[3].loglog(k[1:].numpy(), p1[1:].numpy(), label=f"model {model}")
    axes[3].set_xlabel("|k|")
    axes[3].set_title("radial spectrum")
    axes[3].legend(fontsize=7)
    fig.suptitle(MODEL_NAMES[model])
    return fig


def plot_moment_counts(dj: int = 1, dl: int = 2, dn: int = 1, J: int = 4, L: int = 4, pixels: int = 64 * 64) -> plt.Figure:
    """Moments of B, C, D against the number of pixels, for the chosen interactions."""
    counts = moment_counts(J, L, dj, dl, dn)
    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    names = list(counts)
    ax.bar(names, [counts[m] for m in names], color=["C1", "C2", "C3"])
    ax.axhline(pixels, color="k", ls="--", label=f"pixels ({pixels})")
    for i, m in enumerate(names):
        ax.text(i, counts[m], f"{counts[m]}", ha="center", va="bottom")
    ax.set_ylabel("real moments")
    ax.set_title(f"J={J}, 2L={2 * L}: Δj={dj}, Δl={dl}, Δn={dn}")
    ax.legend()
    return fig


#: The explorer's moment menu: spatial shifts of models B and C (model D has none, A has no moments).
SHIFT_CHOICES = ("Δn = 0 (no shifts)", "Δn = 1", "Δn = 2")


class Explorer:
    """The chapter's model explorer: precomputed syntheses, plus new ones (one sample, same seed) for
    other shift ranges, computed on first request and remembered."""

    def __init__(self, x_bar: torch.Tensor, syntheses: dict[str, Synthesis], s: Settings, seed: int = 1) -> None:
        self.x_bar, self.s, self.seed = x_bar, s, seed
        self.cache = {(m, s.dn if m in "BC" else None): syn for m, syn in syntheses.items()}

    def synthesis(self, model: str, dn: int) -> Synthesis:
        key = (model, dn if model in "BC" else None)
        if key not in self.cache:
            self.cache[key] = synthesize(model, self.x_bar, self.s, seed=self.seed, n_samples=1, dn=dn)
        return self.cache[key]

    def plot(self, model: str = "C", shifts: str = SHIFT_CHOICES[1], sample: int = 0) -> plt.Figure:
        """Widget callback: ``shifts`` is one of :data:`SHIFT_CHOICES`."""
        check_in(shifts, "shifts", SHIFT_CHOICES)
        syn = self.synthesis(model, SHIFT_CHOICES.index(shifts))
        return plot_model_explorer(self.x_bar, {model: syn}, model, sample)


def plot_maxent_spectrum(x_bar: torch.Tensor, P_hat: torch.Tensor, sample: torch.Tensor) -> plt.Figure:
    """Radial profiles of the periodogram of ``x_bar`` and of the maximum-entropy spectrum ``P_hat``
    (M, N), and one Gaussian sample with spectrum ``P_hat``."""
    x_bar, P_hat, sample = to_host((x_bar, P_hat, sample))
    M, N = P_hat.shape
    # a field whose periodogram is exactly P_hat, so the radial average is the library's
    k, p_bar = radial_power_spectrum(x_bar.double())
    _, p_fit = radial_power_spectrum(torch.fft.ifft2((P_hat.double() * M * N).sqrt()).real)
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(9, 3.5))
    a0.loglog(k[1:].numpy(), p_bar[1:].numpy(), "k", label="periodogram of x̄")
    a0.loglog(k[1:].numpy(), p_fit[1:].numpy(), "C1", lw=2, label="max-ent spectrum P̂")
    a0.set_xlabel("wavenumber |k|")
    a0.set_ylabel("power")
    a0.set_title("model A: spectrum from wavelet moments")
    a0.legend()
    _imshow(a1, sample, f"Gaussian sample, kurtosis {float(kurtosis(sample)):.1f}")
    return fig


#: outputs of :func:`device_check` expected to differ between devices (drawn from the device's own
#: generator, or iterated by an optimiser that amplifies rounding): ``gpucheck`` checks only their
#: place, shape and finiteness
DEVICE_DEPENDENT = frozenset({"A: sample", "Afit: sample", "C: sample"})


def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """The data and the syntheses of models A, A-fit and C at their smallest sizes on ``base.device``
    (one sample, 5 L-BFGS iterations). Used by the device tests and ``gpucheck``."""
    s = replace(settings(replace(base, mode="fast")), steps=5, restarts=1, n_samples=1)
    data = load_data(s)
    out = {"data: x_bar": data["x_bar"], "data: test": data["test"]}
    for model in ("A", "Afit", "C"):
        out[f"{model}: sample"] = synthesize(model, data["x_bar"], s).samples
    return out
