"""Chapter 06 (phase harmonics): experiment runners and figures, each called in one line by the notebook.

The methods live in :mod:`harmonia.phase_harmonics`, :mod:`harmonia.wph`, :mod:`harmonia.synthesis` and
:mod:`harmonia.metrics`; this module only sets up the chapter's experiments and draws them.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field, replace

import matplotlib.pyplot as plt
import numpy as np
import torch

from harmonia.config import make_generator
from harmonia.course.plots import to_host
from harmonia.course.settings import ChapterSettings, extend
from harmonia.data.signals import cantor_measure, cartoon_image, dirac, staircase, up_jump
from harmonia.filters.morlet1d import morlet_bank_1d
from harmonia.metrics import psnr_aligned, relative_error_aligned
from harmonia.phase_harmonics import (
    phase_filter,
    phase_filter_distance_ratio,
    phase_fourier,
    phase_harmonic,
    rectifier_fourier_coeff,
)
from harmonia.synthesis import match_statistics
from harmonia.wph import WPH1D, WPH2D, MomentIndex, PhaseHarmonicCov

F64 = torch.float64


@dataclass(frozen=True)
class Settings(ChapterSettings):
    """Mode, device and the size of the chapter's recoveries (fast mode by default): L-BFGS
    iterations per run."""

    recovery_steps: int = 200


def settings(base: ChapterSettings | None = None) -> Settings:
    """``base`` (default: :func:`harmonia.course.settings.current`) with the sizes of its mode: fast
    mode as above; full mode: 1000 iterations per run."""
    return extend(Settings, base, {"recovery_steps": 1000})

# ---------------------------------------------------------------------------------------------------------
# 1. The rectifier as a phase filter


def truncated_series(alpha: torch.Tensor, K: int, rectifier: str = "relu") -> torch.Tensor:
    """:math:`\\sum_{|k|\\le K}\\hat\\gamma(k)e^{ik\\alpha}` (the window :math:`\\rho(\\cos\\alpha)` rebuilt from
    its first harmonics)."""
    k = torch.arange(-K, K + 1)
    coeff = rectifier_fourier_coeff(k, rectifier)
    return (coeff[:, None] * torch.cos(k[:, None].to(F64) * alpha[None])).sum(0)


def phase_filter_dft_error(n: int = 500, n_alpha: int = 1024, k_max: int = 8, seed: int = 0) -> float:
    """Largest :math:`|\\hat U_k-\\hat\\gamma(k)[z]^k|` over :math:`|k|\\le k_{\\max}` for ``n`` random ``z``."""
    z = torch.randn(n, generator=make_generator(seed), dtype=torch.complex128)
    U = phase_filter(z, n_alpha)
    k = torch.arange(-k_max, k_max + 1)
    want = rectifier_fourier_coeff(k) * torch.stack([phase_harmonic(z, int(v)) for v in k], -1)
    return float((phase_fourier(U, k) - want).abs().max())


def bilipschitz_ratios(n_pairs: int = 10_000, n_alpha: int = 1024, seed: int = 0) -> dict[str, float]:
    """Ratios :math:`R(z,z')` of :func:`harmonia.phase_harmonics.phase_filter_distance_ratio` on random pairs,
    on opposite pairs :math:`z'=-z` and on nearby pairs."""
    g = make_generator(seed)
    z1 = torch.randn(n_pairs, generator=g, dtype=torch.complex128)
    z2 = torch.randn(n_pairs, generator=g, dtype=torch.complex128)
    r = phase_filter_distance_ratio(z1, z2, n_alpha)
    z = z1[:100]
    return {
        "min": float(r.min()),
        "max": float(r.max()),
        "opposite": float(phase_filter_distance_ratio(z, -z, n_alpha).mean()),
        "nearby": float(phase_filter_distance_ratio(z, z * (1 + 1e-3), n_alpha).mean()),
    }


def plot_phase_filter(phi: float = 0.6, bias: float = 0.0, k: int = 2, rectifier: str = "relu",
                      n_alpha: int = 256) -> plt.Figure:
    """Widget figure: the response :math:`\\rho(\\cos(\\alpha-\\varphi)-b)` of a unit coefficient of phase
    :math:`\\varphi` along the phase :math:`\\alpha`, its harmonic ``k`` component, and the spectrum
    :math:`|\\hat\\gamma_b(k)|` measured by a DFT along :math:`\\alpha` (for ``bias = 0`` it equals the closed
    form; a bias makes the rectifier non-homogeneous and changes the weights)."""
    z = torch.polar(torch.tensor(1.0, dtype=F64), torch.tensor(float(phi), dtype=F64)).reshape(1)
    rho = {"relu": torch.relu, "abs": torch.abs}[rectifier]
    U = phase_filter(z, n_alpha, lambda a: rho(a - bias))[0]
    alpha = torch.arange(n_alpha, dtype=F64) * 2 * math.pi / n_alpha
    ks = torch.arange(0, 9)
    coeff = phase_fourier(U, ks)  # gamma_b(k) [z]^k
    component = 2 * (coeff[k] * torch.polar(torch.ones_like(alpha), -k * alpha)).real if k else coeff[0].real.expand_as(alpha)
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(9, 3.2))
    a0.plot(alpha.numpy(), U.numpy(), label=r"$\rho(\cos(\alpha-\varphi)-b)$")
    a0.plot(alpha.numpy(), component.numpy(), "--", label=f"harmonic k={k}")
    a0.axvline(phi % (2 * math.pi), color="0.6", lw=0.8)
    a0.set(xlabel=r"phase $\alpha$", ylabel="response", title=f"phase filter ({rectifier}, bias {bias:.2f})")
    a0.legend(fontsize=8, loc="upper right")
    a1.bar(ks.numpy(), coeff.abs().numpy(), color=["C1" if int(v) == k else "C0" for v in ks])
    if bias == 0:
        a1.plot(ks.numpy(), rectifier_fourier_coeff(ks, rectifier).abs().numpy(), "kx", label="closed form")
        a1.legend(fontsize=8)
    a1.set(xlabel="harmonic k", ylabel=r"$|\hat\gamma(k)|$", title="Fourier coefficients along the phase")
    return fig


# ---------------------------------------------------------------------------------------------------------
# 2. Phase alignment across scales and Fourier sparsity


def alignment_operator(N: int = 1024, J: int = 8) -> tuple[PhaseHarmonicCov, int]:
    """Moments :math:`C(j,1,j+1,2)` and :math:`C(j,1,j+2,4)` of a Morlet bank (:math:`\\xi_0=0.35, Q=1`),
    each signal centred by its own means."""
    bank = morlet_bank_1d(N, J)
    rows = [(j, 1, j + 1, 2) for j in range(J - 1)] + [(j, 1, j + 2, 4) for j in range(J - 2)]
    return PhaseHarmonicCov(bank["psi"], MomentIndex.from_rows(rows), center="self"), J


def alignment_signals(N: int = 1024, seed: int = 0) -> dict[str, torch.Tensor]:
    """The four test signals of the phase-alignment experiment."""
    return {
        "Dirac": dirac(N),
        "negative Dirac": -dirac(N),
        "up-jump": up_jump(N),
        "white noise": torch.randn(N, generator=make_generator(seed), dtype=F64),
    }


def alignment_table(N: int = 1024, J: int = 8, seed: int = 0, fine: int = 3) -> dict[str, dict[str, float]]:
    """Normalised :math:`C(j,1,j+1,2)` and :math:`C(j,1,j+2,4)` averaged over the ``fine`` finest
    :math:`j` (for noise: the mean modulus, its phase being random): modulus and phase per signal."""
    op, J = alignment_operator(N, J)
    out = {}
    for name, x in alignment_signals(N, seed).items():
        c = op.correlations(x)
        one, two = c[:fine], c[J - 1: J - 1 + fine]
        out[name] = {
            "|C1|": float(one.abs().mean()), "arg C1": float(one.mean().angle()),
            "|C2|": float(two.abs().mean()), "arg C2": float(two.mean().angle()),
        }
    return out


def fourier_sparsity(N: int = 64, n_samples: int = 5000, seed: int = 0) -> dict[str, torch.Tensor]:
    """Monte-Carlo :math:`|\\mathrm{Cov}([\\hat X(\\omega)]^k,[\\hat X(\\omega')]^{k'})|` for :math:`k,k'\\in\\{1,2\\}`,
    :math:`\\omega,\\omega'=1..N/4`, for randomly shifted Diracs and for white noise.

    Returns a dict with the two (2W, 2W) matrices (rows/columns ordered (k=1, all w), (k=2, all w)) and
    the boolean mask of the pairs with :math:`k\\omega=k'\\omega'`.
    """
    g = make_generator(seed)
    W = N // 4
    omega = torch.arange(1, W + 1)
    shifts = torch.randint(0, N, (n_samples,), generator=g)
    diracs = torch.zeros(n_samples, N, dtype=F64)
    diracs[torch.arange(n_samples), shifts] = 1
    noise = torch.randn(n_samples, N, generator=g, dtype=F64)
    ks = torch.tensor([1] * W + [2] * W)
    ws = torch.cat([omega, omega])
    out = {}
    for name, X in (("Dirac", diracs), ("white noise", noise)):
        Xh = torch.fft.fft(X, dim=-1)[:, ws]
        H = phase_harmonic(Xh, ks)  # (n, 2W)
        H = H / H.abs().pow(2).mean(0).sqrt()  # unit variance per entry
        H = H - H.mean(0)
        out[name] = (H.T @ H.conj() / n_samples).abs()
    out["mask"] = (ks[:, None] * ws[:, None]) == (ks[None, :] * ws[None, :])
    return out


def plot_fourier_sparsity(result: dict[str, torch.Tensor]) -> plt.Figure:
    """The two covariance matrices side by side."""
    result = to_host(result)
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.8))
    W = result["mask"].shape[0] // 2
    for ax, name in zip(axes, ("Dirac", "white noise")):
        im = ax.imshow(result[name].numpy(), vmin=0, vmax=1, cmap="magma")
        ax.axhline(W - 0.5, color="w", lw=0.6)
        ax.axvline(W - 0.5, color="w", lw=0.6)
        ax.set(title=name, xlabel="(k', w'): k'=1 | k'=2", ylabel="(k, w): k=1 | k=2")
    fig.colorbar(im, ax=axes, shrink=0.8)
    fig.suptitle("|Cov([X(w)]^k, [X(w')]^k')| for k, k' in {1, 2}, w, w' = 1..N/4", fontsize=10)
    return fig


# ---------------------------------------------------------------------------------------------------------
# 3. Recovery from phase harmonic moments


@dataclass
class Recovery:
    """Outcome of recovering one target from its moments, over several seeds."""

    target: torch.Tensor
    best: torch.Tensor
    errors: list[float]
    losses: list[float]
    histories: list[list[float]] = field(default_factory=list)
    n_moments: int = 0

    @property
    def best_error(self) -> float:
        return min(self.errors)


SIGNALS_1D = {"staircase": lambda T: staircase(T, 4, seed=1), "Cantor": lambda T: cantor_measure(T)}


def recover_1d(x0: torch.Tensor, *, coupling: bool = True, J: int = 7, K: int = 5, seeds: tuple[int, ...] = (0, 1),
               steps: int = 200) -> Recovery:
    """Recover a 1D signal from its phase harmonic moments (:class:`~harmonia.wph.WPH1D`, Morlet ``J``
    octaves, ``K`` harmonics, all filter pairs) by L-BFGS from Gaussian noise of the target's std,
    one run per seed, on ``x0``'s device (starts drawn on the CPU); errors after the best circular alignment."""
    T = x0.shape[-1]
    op = WPH1D(T, J, K=K, coupling=coupling).to(x0.device)
    target = op.set_target(x0)
    errors, losses, histories, best = [], [], [], None
    for s in seeds:
        init = torch.randn(T, generator=make_generator(s), dtype=x0.dtype).to(x0.device) * x0.std()
        res = match_statistics(op, target, init, steps=steps)
        err = float(relative_error_aligned(res.x, x0))
        if best is None or err < min(errors):
            best = res.x
        errors.append(err)
        losses.append(res.loss)
        histories.append(res.history)
    return Recovery(x0, best, errors, losses, histories, op.n_moments)


def recover_2d(x0: torch.Tensor, dj: int, *, J: int = 4, L: int = 4, seeds: tuple[int, ...] = (0, 1),
               steps: int = 200, loss_scale: float = 1e3) -> Recovery:
    """Recover an image from its 2D phase harmonic moments (:class:`~harmonia.wph.WPH2D`: bump steerable
    wavelets, scale interactions ``dj``, orientation band L/2, harmonic band 1, fields centred and
    normalised by the target's means and RMS) by L-BFGS from :math:`\\mathcal N(0.5,0.01^2)` per pixel
    (the paper's start, drawn on the CPU), one run per seed, on ``x0``'s device. ``errors`` holds the aligned PSNRs in dB (higher is better),
    ``n_moments`` the paper's count of the moment set."""
    M = x0.shape[-1]
    op = WPH2D(M, M, J, L, dj=dj, std_norm=True).to(x0.device)
    target = op.set_target(x0)
    psnrs, losses, histories, best = [], [], [], None
    for s in seeds:
        init = 0.5 + 0.01 * torch.randn(M, M, generator=make_generator(s), dtype=x0.dtype)
        res = match_statistics(op, target, init.to(x0.device), steps=steps, loss_scale=loss_scale)
        p = float(psnr_aligned(res.x, x0, dims=(-2, -1)))
        if best is None or p > max(psnrs):
            best = res.x
        psnrs.append(p)
        losses.append(res.loss / loss_scale)
        histories.append([h / loss_scale for h in res.history])
    return Recovery(x0, best, psnrs, losses, histories, op.index.count_real("zhang-mallat"))


def compare_seeds(before: Recovery, after: Recovery) -> dict[str, float]:
    """Paired comparison of two recoveries run from the same seeds (2D: PSNR, higher is better).

    A single L-BFGS run lands in one of several basins, and which one can change with the CPU's
    rounding; the seed-by-seed comparison and the median are what stays put. Returns ``wins`` (seeds
    on which ``after`` is higher), ``n`` (seeds), ``median_gain`` (median of ``after - before``, dB)."""
    if len(before.errors) != len(after.errors) or not before.errors:
        raise ValueError(f"after: expected as many runs as before ({len(before.errors)}), got {len(after.errors)}")
    gains = [b - a for a, b in zip(before.errors, after.errors)]
    return {"wins": sum(g > 0 for g in gains), "n": len(gains), "median_gain": statistics.median(gains)}


def plot_psnr_by_seed(results: dict[int, Recovery]) -> plt.Figure:
    """PSNR of every run against the number of scale interactions, one line per run (in seed order)."""
    results = to_host(results)
    djs = sorted(results)
    runs = np.array([results[dj].errors for dj in djs])  # (n_dj, n_seeds)
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    for s in range(runs.shape[1]):
        ax.plot(djs, runs[:, s], marker="o", lw=1, alpha=0.7, label=f"run {s + 1}")
    ax.plot(djs, np.median(runs, axis=1), color="k", lw=2.5, label="median")
    ax.set(xticks=djs, xlabel="scale interactions Δj", ylabel="PSNR after alignment (dB)",
           title="Every run, paired by seed")
    ax.legend(fontsize=7, ncol=2)
    return fig


def plot_recovery_1d(results: dict[str, Recovery], title: str) -> plt.Figure:
    """Target and best aligned recoveries (one panel per moment set)."""
    results = to_host(results)
    from harmonia.metrics import align_circular

    fig, axes = plt.subplots(1, len(results), figsize=(4.4 * len(results), 2.9), sharey=True, squeeze=False)
    for ax, (name, rec) in zip(axes[0], results.items()):
        aligned, _ = align_circular(rec.best, rec.target)
        ax.plot(rec.target.cpu().numpy(), color="0.3", lw=2.2, label="target")
        ax.plot(aligned.detach().cpu().numpy(), color="C1", lw=1.2, label="recovered (aligned)")
        ax.set(title=f"{name}: error {rec.best_error:.2f}", xlabel="u")
        ax.title.set_fontsize(9)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def plot_recovery_2d(x0: torch.Tensor, results: dict[int, Recovery]) -> plt.Figure:
    """The target and the aligned recovery for each number of scale interactions."""
    x0, results = to_host((x0, results))
    from harmonia.metrics import align_circular

    fig, axes = plt.subplots(1, 1 + len(results), figsize=(2.6 * (1 + len(results)), 2.9))
    axes[0].imshow(x0.cpu().numpy(), cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("target", fontsize=9)
    for ax, (dj, rec) in zip(axes[1:], results.items()):
        aligned, _ = align_circular(rec.best, x0, dims=(-2, -1))
        ax.imshow(aligned.detach().cpu().clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"dj={dj}: best {max(rec.errors):.1f} dB", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


# ---------------------------------------------------------------------------------------------------------
# 4. Widget figures

EXPLORER_MOMENTS = ("phase coupling / dj=1", "no coupling / dj=0", "dj=2 (cartoon)")


def plot_recovery_explorer(rec_1d: dict[tuple[str, bool], Recovery], rec_2d: dict[int, Recovery], signal: str,
                           moments: str) -> plt.Figure:
    """Widget figure over precomputed runs: target, best aligned recovery and the loss curves of every start.

    ``rec_1d`` maps (signal name, coupling) to a :class:`Recovery`, ``rec_2d`` maps dj to one (the cartoon);
    ``moments`` is one of :data:`EXPLORER_MOMENTS` (for 1D signals "dj=2" falls back to phase coupling).
    """
    rec_1d, rec_2d = to_host((rec_1d, rec_2d))
    from harmonia.metrics import align_circular

    if moments not in EXPLORER_MOMENTS:
        raise ValueError(f"moments: expected one of {EXPLORER_MOMENTS}, got {moments!r}")
    coupled = not moments.startswith("no coupling")
    if signal == "cartoon":
        rec = rec_2d[{EXPLORER_MOMENTS[0]: 1, EXPLORER_MOMENTS[1]: 0, EXPLORER_MOMENTS[2]: 2}[moments]]
    elif (signal, coupled) in rec_1d:
        rec = rec_1d[signal, coupled]
    else:
        raise ValueError(f"signal: expected one of {sorted({s for s, _ in rec_1d})} or 'cartoon', got {signal!r}")
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(9.5, 3.2))
    if signal == "cartoon":
        aligned, _ = align_circular(rec.best, rec.target, dims=(-2, -1))
        a0.imshow(torch.cat([rec.target, aligned.clamp(0, 1)], dim=1).detach().cpu().numpy(), cmap="gray", vmin=0, vmax=1)
        a0.set(title=f"target | recovery: best {max(rec.errors):.1f} dB", xticks=[], yticks=[])
    else:
        aligned, _ = align_circular(rec.best, rec.target)
        a0.plot(rec.target.cpu().numpy(), color="0.3", lw=2.2, label="target")
        a0.plot(aligned.detach().cpu().numpy(), color="C1", lw=1.2, label="recovered (aligned)")
        a0.set(title=f"{signal}: best aligned error {rec.best_error:.2f}", xlabel="u")
        a0.legend(fontsize=8)
    for i, h in enumerate(rec.histories):
        a1.semilogy(h, label=f"start {i}")
    fallback = signal != "cartoon" and moments == EXPLORER_MOMENTS[2]
    a1.set(xlabel="L-BFGS iteration", ylabel="relative loss",
           title=f"{rec.n_moments} moments" + (" (dj=2 is run on the cartoon only: showing dj=1)" if fallback else ""))
    a1.legend(fontsize=8)
    return fig


CORRELATION_SIGNALS = {
    "Dirac": lambda T: dirac(T),
    "up-jump": lambda T: up_jump(T),
    "white noise": lambda T: torch.randn(T, generator=make_generator(0), dtype=F64),
    "staircase": lambda T: staircase(T, 4, seed=1),
    "Cantor": lambda T: cantor_measure(T),
}


def correlation_map(signal: str, T: int = 256, J: int = 7, K: int = 5) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """Normalised moments of the 1D tolerance rule (Morlet ``J``, ``K`` harmonics) of one signal as a square
    complex matrix over the fields (filter n, harmonic k), zeros where no moment is kept.

    Returns the (F, F) complex matrix and the list of (n, k) labels of its rows/columns."""
    if signal not in CORRELATION_SIGNALS:
        raise ValueError(f"signal: expected one of {tuple(CORRELATION_SIGNALS)}, got {signal!r}")
    op = WPH1D(T, J, K=K, center="self")
    c = op.correlations(CORRELATION_SIGNALS[signal](T))
    rows = op.index.rows()
    labels = sorted({(f, k) for f1, k1, f2, k2, _ in rows for f, k in ((f1, k1), (f2, k2))})
    pos = {lab: i for i, lab in enumerate(labels)}
    mat = torch.zeros(len(labels), len(labels), dtype=c.dtype)
    for value, (f1, k1, f2, k2, _) in zip(c, rows):
        mat[pos[(f1, k1)], pos[(f2, k2)]] = value
        mat[pos[(f2, k2)], pos[(f1, k1)]] = value.conj()
    return mat, labels


def plot_correlation_map(signal: str = "Dirac") -> plt.Figure:
    """Widget figure: modulus (brightness) and argument (hue) of :func:`correlation_map`."""
    from matplotlib.colors import hsv_to_rgb

    mat, labels = correlation_map(signal)
    hue = (mat.angle() / (2 * math.pi)) % 1.0
    value = mat.abs().clamp(0, 1)
    rgb = hsv_to_rgb(np.stack([hue.numpy(), np.ones(hue.shape), value.numpy()], axis=-1))
    fig, ax = plt.subplots(figsize=(5.6, 5.0))
    ax.imshow(rgb)
    ticks = [i for i, (_, k) in enumerate(labels) if k == 0]
    ax.set_xticks(ticks, [f"n={labels[i][0]}" for i in ticks], rotation=90, fontsize=7)
    ax.set_yticks(ticks, [f"n={labels[i][0]}" for i in ticks], fontsize=7)
    ax.set(title=f"{signal}: |C| (brightness), arg C (hue)", xlabel="field (n, k=0..K-1)", ylabel="field (n, k)")
    return fig


def format_angle(value: float) -> str:
    """An angle in (-pi, pi] with two decimals, printed the same on every machine: -pi is shown as +pi and
    -0.00 as +0.00 (float noise must not flip a printed sign)."""
    v = math.remainder(float(value), 2 * math.pi)
    if v <= -math.pi + 5e-3:
        v = math.pi
    return f"{round(v, 2) + 0.0:+.2f}"


def chirp(N: int = 512, f0: float = 0.02, f1: float = 0.07) -> torch.Tensor:
    r"""A linear chirp :math:`w(u)\cos(2\pi(f_0u+(f_1-f_0)u^2/(2N)))` whose frequency sweeps from ``f0`` to
    ``f1`` cycles per sample, under a :math:`\sin^2` window :math:`w` (so it wraps around smoothly), float64."""
    u = torch.arange(N, dtype=F64)
    window = torch.sin(math.pi * (u + 0.5) / N) ** 2
    return window * torch.cos(2 * math.pi * (f0 * u + (f1 - f0) * u**2 / (2 * N)))


TRANSPOSITION_SIGNALS = {
    "Dirac": lambda N: dirac(N),
    "up-jump": lambda N: up_jump(N),
    "chirp": lambda N: chirp(N),
    "white noise": lambda N: torch.randn(N, generator=make_generator(0), dtype=F64),
}


def spectral_widths(signal: str = "Dirac", ks: tuple[int, ...] = (0, 1, 2, 4), N: int = 512, J: int = 6,
                    j: int = 3) -> dict[int, tuple[float, float]]:
    r"""Centre and RMS width (cycles per sample) of the power spectrum of :math:`[x\star\psi_j]^k` for each
    ``k`` (Morlet bank of chapter 05): centre :math:`c=\sum_f f\,P(f)/\sum_f P(f)`, width
    :math:`\sqrt{\sum_f(f-c)^2P(f)/\sum_f P(f)}` over :math:`f\in[-1/2,1/2)`."""
    if signal not in TRANSPOSITION_SIGNALS:
        raise ValueError(f"signal: expected one of {tuple(TRANSPOSITION_SIGNALS)}, got {signal!r}")
    z = torch.fft.ifft(torch.fft.fft(TRANSPOSITION_SIGNALS[signal](N)) * morlet_bank_1d(N, J)["psi"][j])
    f = torch.fft.fftfreq(N, dtype=F64)
    out = {}
    for k in ks:
        P = torch.fft.fft(phase_harmonic(z, k)).abs() ** 2
        c = float((f * P).sum() / P.sum())
        out[k] = (c, float((((f - c) ** 2) * P).sum().div(P.sum()).sqrt()))
    return out


def plot_transposition_widths(signals: tuple[str, ...] = ("Dirac", "chirp"), ks: tuple[int, ...] = (0, 1, 2, 4),
                              N: int = 512, J: int = 6, j: int = 3) -> plt.Figure:
    r"""One panel per signal: the normalised spectra of :math:`[x\star\psi_j]^k` for each ``k``, with
    their RMS widths in the legend."""
    bank = morlet_bank_1d(N, J)
    f = torch.fft.fftshift(torch.fft.fftfreq(N, dtype=F64)).numpy()
    fig, axes = plt.subplots(1, len(signals), figsize=(4.6 * len(signals), 3.3), sharey=True,
                             layout="constrained")
    for ax, name in zip(np.atleast_1d(axes), signals):
        z = torch.fft.ifft(torch.fft.fft(TRANSPOSITION_SIGNALS[name](N)) * bank["psi"][j])
        widths = spectral_widths(name, ks, N, J, j)
        for k in ks:
            spec = torch.fft.fftshift(torch.fft.fft(phase_harmonic(z, k)).abs())
            ax.plot(f, (spec / spec.max()).numpy(), label=f"k={k}: width {widths[k][1]:.4f}")
        ax.set(xlabel="frequency (cycles per sample)", title=f"{name}: spectra of $[x\\star\\psi_j]^k$",
               xlim=(-0.05, 0.25))
        ax.legend(fontsize=7)
    np.atleast_1d(axes)[0].set_ylabel("normalised |spectrum|")
    fig.suptitle(f"frequency transposition at scale j={j} ($\\xi_j$ = {bank['xi'][j]:.3f} cycles/sample)", fontsize=10)
    return fig


def plot_transposition(k: int = 2, j: int = 3, signal: str = "Dirac", N: int = 512, J: int = 6) -> plt.Figure:
    """Widget figure (frequency transposition): the spectra of :math:`x\\star\\psi_j` and of
    :math:`[x\\star\\psi_j]^k` for a Dirac, an up-jump, a chirp or white noise, with the centres :math:`\\xi_j` and
    :math:`k\\xi_j` marked (Morlet bank, :math:`\\xi_0=0.35`, ``N`` samples)."""
    if signal not in TRANSPOSITION_SIGNALS:
        raise ValueError(f"signal: expected one of {tuple(TRANSPOSITION_SIGNALS)}, got {signal!r}")
    if not 0 <= j < J:
        raise ValueError(f"j: expected a scale in [0, {J - 1}], got {j!r}")
    bank = morlet_bank_1d(N, J)
    z = torch.fft.ifft(torch.fft.fft(TRANSPOSITION_SIGNALS[signal](N)) * bank["psi"][j])
    f = torch.fft.fftshift(torch.fft.fftfreq(N, dtype=F64)).numpy()
    fig, ax = plt.subplots(figsize=(7.5, 3))
    for data, label in ((z, r"$x\star\psi_j$"), (phase_harmonic(z, k), rf"$[x\star\psi_j]^{{{k}}}$")):
        spec = torch.fft.fftshift(torch.fft.fft(data).abs())
        ax.plot(f, (spec / spec.max().clamp_min(1e-30)).numpy(), label=label)
    xi = bank["xi"][j]
    ax.axvline(xi, color="0.5", lw=0.8, ls=":")
    ax.axvline(math.remainder(k * xi, 1.0), color="C1", lw=0.8, ls=":")
    ax.set(xlabel="frequency (cycles per sample)", ylabel="normalised |spectrum|",
           title=f"{signal}: scale j={j} (xi={xi:.3f}) moved to k xi = {k * xi:.3f} by the harmonic k={k}")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    return fig


#: outputs of :func:`device_check` expected to differ between devices (drawn from the device's own
#: generator, or iterated by an optimiser that amplifies rounding): ``gpucheck`` checks only their
#: place, shape and finiteness
DEVICE_DEPENDENT = frozenset({"1D recovery", "2D recovery"})


def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """The 1D and 2D recoveries at their smallest sizes on ``base.device`` (one seed, 5 L-BFGS
    iterations, a 64-sample staircase and a 32x32 cartoon): targets and best recoveries, by name.
    Used by the device tests and ``gpucheck``."""
    s = replace(settings(base), recovery_steps=5)
    x1 = SIGNALS_1D["staircase"](64).to(s.device)
    r1 = recover_1d(x1, J=4, K=3, seeds=(0,), steps=s.recovery_steps)
    x2 = cartoon_image(32, 3, seed=0).to(s.device)
    r2 = recover_2d(x2, 1, J=3, L=4, seeds=(0,), steps=s.recovery_steps)
    return {"1D target": r1.target, "1D recovery": r1.best, "2D target": r2.target, "2D recovery": r2.best}
