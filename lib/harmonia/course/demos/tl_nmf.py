"""Chapter 13 demos: transform-learning NMF against JD+NMF on the Gaussian composite model (the paper's seeds) and on
two synthetic piano notes; the figures and the widget callbacks.

The methods live in :mod:`harmonia.nmf` and the notes in :mod:`harmonia.data.audio`; this module holds the
chapter's multi-start runners, tables and figures. Everything is float64 (logs of tiny variances).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np
import torch

from harmonia.course.settings import ChapterSettings, extend
from harmonia.data.audio import harmonic_notes
from harmonia.nmf import (
    dct_nmf,
    delta_L_inf,
    fit_sinusoids,
    frame_covariances,
    frames,
    gcm_frames,
    jacobi_angle,
    jacobi_pair_coefficients,
    legacy_starts,
    losses,
    nmf_is_update,
    oracle_gap,
    qn_orth_jd,
    sort_atoms,
    spectrogram,
    tl_nmf,
    tl_objective,
)
from harmonia.manifolds import Orthogonal

__all__ = [
    "Settings",
    "settings",
    "PAPER_GCM",
    "PARTIALS",
    "gcm_run",
    "gcm_table",
    "notes_data",
    "notes_run",
    "atom_report",
    "worst_atom_angle",
    "plot_notes",
    "plot_gaps",
    "plot_gap_explorer",
    "plot_atoms",
    "plot_jacobi_toy",
    "jacobi_toy",
    "device_check",
]

F64 = torch.float64

#: The paper's GCM table (best of 200 starts, as printed by the authors' reproduction notebooks):
#: S -> (I_JD - I_TL, Q_S(Phi_JD), Delta L_inf(Phi_JD), I_S JD+NMF, I_S TL-NMF).
PAPER_GCM = {
    1: (45.5, 1110.0, 51.52, 415.67, 370.17),
    10: (6.243, 70.87, 11.76, 27.87, 21.63),
    100: (0.05046, 5.583, 0.4566, 2.2831, 2.2326),
    1000: (6.571e-4, 0.5547, 0.04059, 0.27157, 0.27091),
}

#: The partials of the two notes (Hz): 440 and 466.16 and their octaves.
PARTIALS = (440.0, 466.16, 880.0, 932.32)


@dataclass(frozen=True)
class Settings(ChapterSettings):
    """Sizes. GCM: ``gcm_S`` (realisations), ``jd_starts`` JD runs of at most ``jd_its`` iterations, IS-NMF of
    ``nmf_its`` ME updates from ``jd_starts`` starts, ``tl_starts`` TL-NMF runs of ``tl_its`` outer iterations.
    Notes: ``fs`` (Hz), ``seg_len`` (s), frame length ``M`` and ``hop``, ``notes_S``, ``notes_its`` outer TL-NMF
    iterations (JD gets as many, NMF ``10 x`` as many updates), ``eps_rel`` (the floor relative to the mean power)."""

    gcm_S: tuple[int, ...] = (1, 3, 10, 30, 100, 300, 1000)
    jd_starts: int = 5
    jd_its: int = 1000
    nmf_its: int = 2000
    tl_starts: int = 3
    tl_its: int = 300
    fs: float = 2000.0
    seg_len: float = 0.5
    M: int = 80
    hop: int = 40
    notes_S: tuple[int, ...] = (1, 100)
    notes_its: int = 60
    eps_rel: float = 0.75


def settings(base: ChapterSettings | None = None) -> Settings:
    """Fast mode as above; full mode: the paper's GCM budget (100 starts, 1000 TL-NMF iterations, 10 000 NMF updates,
    S up to 5000) and 3-second notes at 5 kHz with M = 200 (40 ms) and S up to 1000."""
    return extend(Settings, base, {
        "gcm_S": (1, 10, 100, 1000, 5000), "jd_starts": 100, "nmf_its": 10000, "tl_starts": 100, "tl_its": 1000,
        "fs": 5000.0, "seg_len": 1.0, "M": 200, "hop": 100, "notes_S": (1, 10, 100, 1000), "notes_its": 100,
    })


# ---------------------------------------------------------------------------------------------- GCM
def gcm_run(S: int, s: Settings, *, K: int = 5) -> dict:
    """JD+NMF and TL-NMF on the paper's GCM data with ``S`` realisations, each from the paper's seeded starts.

    JD: the run with the smallest :math:`L_S` over ``jd_starts`` starts, then IS-NMF on its spectrogram from the
    same starts' :math:`(W_0,H_0)`, keeping the smallest :math:`I_S`; TL-NMF: the smallest :math:`C_S` over
    ``tl_starts`` starts. Returns a dict of floats (``I_JD``, ``I_TL``, ``C_JD``, ``C_TL``, ``L_JD``, ``L_TL``, ``Q``,
    ``dLinf``) and the transforms ``Phi_JD``, ``Phi_TL``, ``Phibar`` (CPU)."""
    data = gcm_frames(S)
    C = frame_covariances(data.Y).to(s.device)
    M, N = C.shape[1], C.shape[0]
    eps = 1e-8
    starts = [tuple(t.to(s.device) for t in st) for st in legacy_starts(M, K, N, max(s.jd_starts, s.tl_starts))]
    eye = torch.eye(M, dtype=F64, device=s.device)
    jd = min((qn_orth_jd(C + eps * eye, P0, max_iter=s.jd_its) for P0, _, _ in starts[: s.jd_starts]),
             key=lambda r: r.loss[-1])
    V = spectrogram(jd.B, C)
    fits = []
    for _, W, H in starts[: s.jd_starts]:
        for _ in range(s.nmf_its):
            W, H = nmf_is_update(V, W, H, eps, 1.0)
        fits.append(losses(jd.B, W, H, C, eps))
    jdn = min(fits, key=lambda d: d["I_S"])
    tl = min((tl_nmf(C, P0, W0, H0, eps=eps, n_outer=s.tl_its) for P0, W0, H0 in starts[: s.tl_starts]),
             key=lambda r: r.losses["C_S"])
    Phibar, Vbar = data.Phibar.to(s.device), data.Vbar.to(s.device)
    return {
        "S": S, "I_JD": jdn["I_S"], "I_TL": tl.losses["I_S"], "C_JD": jdn["C_S"], "C_TL": tl.losses["C_S"],
        "L_JD": jdn["L_S"], "L_TL": tl.losses["L_S"], "Q": oracle_gap(jd.B, C, Phibar, Vbar, eps),
        "dLinf": delta_L_inf(jd.B, Phibar, Vbar), "Phi_JD": jd.B.cpu(), "Phi_TL": tl.Phi.cpu(),
        "Phibar": data.Phibar, "MN": M * N,
    }


def gcm_table(s: Settings) -> list[dict]:
    """:func:`gcm_run` for every S of ``s.gcm_S``."""
    return [gcm_run(S, s) for S in s.gcm_S]


def worst_atom_angle(Phi: torch.Tensor, Phibar: torch.Tensor) -> float:
    r"""The worst-recovered true atom: :math:`\arccos\min_j\max_i|\langle\phi_i,\bar\phi_j\rangle|` in radians (0 when
    :math:`\Phi` is a signed permutation of :math:`\bar\Phi`)."""
    return float(torch.arccos((Phi @ Phibar.T).abs().max(0).values.min().clamp(max=1.0)))


# -------------------------------------------------------------------------------------------- notes
def notes_data(S: int, s: Settings, seed: int = 0) -> tuple[torch.Tensor, float]:
    """The covariance stack (N, M, M) of ``S`` realisations of the two notes and the floor
    :math:`\\varepsilon=` ``eps_rel`` :math:`\\times` the mean power."""
    y, _ = harmonic_notes(S, fs=s.fs, seg_len=s.seg_len, seed=seed)
    C = frame_covariances(frames(y, s.M, s.hop)).to(s.device)
    eps = s.eps_rel * float(torch.diagonal(C, dim1=-2, dim2=-1).mean())
    return C, eps


def notes_run(S: int, s: Settings, seed: int = 0) -> dict:
    """TL-NMF, JD+NMF and DCT-NMF (K = 2) on ``S`` realisations from one seeded start (the paper's init seed 100):
    ``notes_its`` TL-NMF iterations; JD with as many iterations, then ``10 x notes_its`` NMF updates; the same NMF
    budget on the fixed DCT. Returns ``{"C": ..., "eps": ..., "TL": NMFRun, "JD": NMFRun, "DCT": NMFRun}``."""
    from harmonia.nmf import jd_nmf

    C, eps = notes_data(S, s, seed)
    N, M = C.shape[0], C.shape[1]
    ((P0, W0, H0),) = [tuple(t.to(s.device) for t in st) for st in legacy_starts(M, 2, N, 1, seed=100)]
    return {
        "S": S, "C": C, "eps": eps,
        "TL": tl_nmf(C, P0, W0, H0, eps=eps, n_outer=s.notes_its),
        "JD": jd_nmf(C, P0, W0, H0, eps=eps, n_jd=s.notes_its, n_nmf=10 * s.notes_its),
        "DCT": dct_nmf(C, W0, H0, eps=eps, n_nmf=10 * s.notes_its),
    }


def atom_report(run, C: torch.Tensor, fs: float, top: int = 8) -> dict:
    """The ``top`` most energetic atoms of a run: the atoms (top, M), their energy share, fitted frequencies (Hz),
    squared residuals, and for each partial of :data:`PARTIALS` how many atoms lie within 3 Hz of it."""
    A, e = sort_atoms(run.Phi, C)
    A = A[:top].cpu()
    f, r = fit_sinusoids(A, fs)
    per = [int(((f - p).abs() < 3).sum()) for p in PARTIALS]
    return {"atoms": A, "energy": float(e[:top].sum()), "freq": f, "resid": r, "per_partial": per}


# ------------------------------------------------------------------------------------------ figures
def plot_notes(y: torch.Tensor, X: torch.Tensor, fs: float, hop: int):
    """The signal (top) and the log-power of its transform coefficients X (M, N) over time (bottom)."""
    y = y.cpu().numpy()
    fig, axes = plt.subplots(2, 1, figsize=(8, 5), gridspec_kw={"height_ratios": [1, 2]})
    axes[0].plot(np.arange(len(y)) / fs, y, lw=0.5)
    axes[0].set(xlabel="time (s)", ylabel="amplitude", title="Two notes: A alone, B alone, then both")
    M, N = X.shape
    P = np.log10(X.cpu().numpy() ** 2 + 1e-12)
    axes[1].imshow(P, aspect="auto", origin="lower", cmap="magma", vmin=P.max() - 6,
                   extent=(0, N * hop / fs, -0.5, M - 0.5))
    axes[1].set(xlabel="time (s)", ylabel="DCT index k (k fs / 2M Hz)", title="log10 of the DCT power spectrogram")
    axes[1].grid(False)
    return fig


def plot_gaps(rows: list[dict], title: str = "Gaps between TL-NMF and JD+NMF shrink like 1/S"):
    """Log-log plot of :math:`Q_S(\\Phi_{JD})`, :math:`I_{JD}-I_{TL}` and :math:`\\Delta L_\\infty(\\Phi_{JD})` against S, with
    the line :math:`MN/S` and the paper's values as crosses."""
    S = np.array([r["S"] for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.loglog(S, [r["Q"] for r in rows], "o-", label=r"$Q_S(\Phi_{JD})$")
    ax.loglog(S, [max(r["I_JD"] - r["I_TL"], 1e-7) for r in rows], "s-", label=r"$I_{JD}-I_{TL}$")
    ax.loglog(S, [r["dLinf"] for r in rows], "^-", label=r"$\Delta L_\infty(\Phi_{JD})$")
    ax.loglog(S, rows[0]["MN"] / S, "k--", lw=1, label=r"$MN/S$")
    pS = np.array(sorted(PAPER_GCM), dtype=float)
    for j, c in ((1, "C0"), (0, "C1"), (2, "C2")):
        ax.loglog(pS, [PAPER_GCM[int(k)][j] for k in pS], "x", color=c, ms=9, mew=2)
    ax.plot([], [], "kx", label="paper (best of 200 starts)")
    ax.set(xlabel="number of realisations S", ylabel="value (log scale)", title=title)
    ax.legend(ncol=2)
    return fig


def plot_gap_explorer(rows: list[dict], S: int):
    """Left: the gaps against S with the chosen S marked; middle and right: :math:`|\\Phi\\bar\\Phi^\\top|` for the JD
    and the TL-NMF transforms at that S (a signed permutation shows as one 1 per row and column)."""
    row = next((r for r in rows if r["S"] == S), None)
    if row is None:
        raise ValueError(f"S: expected one of the computed {[r['S'] for r in rows]}, got {S}")
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1.4, 1, 1]})
    Ss = np.array([r["S"] for r in rows], dtype=float)
    ax = axes[0]
    ax.loglog(Ss, [r["Q"] for r in rows], "o-", label=r"$Q_S$")
    ax.loglog(Ss, [max(r["I_JD"] - r["I_TL"], 1e-7) for r in rows], "s-", label=r"$I_{JD}-I_{TL}$")
    ax.loglog(Ss, rows[0]["MN"] / Ss, "k--", lw=1, label=r"$MN/S$")
    ax.axvline(S, color="C3", lw=1)
    ax.set(xlabel="number of realisations S", ylabel="value (log scale)",
           title=f"S = {S}: I_JD - I_TL = {row['I_JD'] - row['I_TL']:.2g}")
    ax.legend()
    for a, key, name in ((axes[1], "Phi_JD", "JD"), (axes[2], "Phi_TL", "TL-NMF")):
        P = (row[key] @ row["Phibar"].T).abs().numpy()
        im = a.imshow(P, vmin=0, vmax=1, cmap="magma")
        a.set(title=f"{name}: |Φ Φ̄ᵀ|\nworst atom {worst_atom_angle(row[key], row['Phibar']):.2f} rad",
              xlabel="true atom", ylabel="learned atom")
        a.grid(False)
    fig.colorbar(im, ax=axes[1:], shrink=0.8, label="|inner product|")
    return fig


def plot_atoms(run, C: torch.Tensor, fs: float, title: str, top: int = 8):
    """The ``top`` most energetic atoms (black) with their fitted sinusoids (orange), labelled with the fitted
    frequency and squared residual; on the right the log-spectrogram of those atoms."""
    rep = atom_report(run, C, fs, top)
    M = rep["atoms"].shape[1]
    m = np.arange(M)
    fig = plt.figure(figsize=(11, 4.6))
    gs = fig.add_gridspec(2, top // 2 + 2)
    for i in range(top):
        ax = fig.add_subplot(gs[i // (top // 2), i % (top // 2)])
        a = rep["atoms"][i].numpy()
        fr = float(rep["freq"][i])
        basis = np.stack([np.cos(2 * math.pi * fr * m / fs), np.sin(2 * math.pi * fr * m / fs)], 1)
        fit = basis @ np.linalg.lstsq(basis, a, rcond=None)[0]
        ax.plot(m, a, "k", lw=1)
        ax.plot(m, fit, color="C1", lw=1)
        ax.set_title(f"{fr:.1f} Hz, r²={float(rep['resid'][i]):.2f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    ax = fig.add_subplot(gs[:, top // 2:])
    A, _ = sort_atoms(run.Phi, C)
    V = spectrogram(A[:top], C).cpu().numpy()
    ax.imshow(np.log10(V + 1e-12), aspect="auto", origin="lower", cmap="magma")
    ax.set(xlabel="frame n", ylabel="atom (by energy)", title="log10 power of these atoms")
    ax.grid(False)
    fig.suptitle(title)
    return fig


def jacobi_toy(seed: int = 0, M: int = 4, N: int = 12):
    """A small transform-step problem: orthogonal :math:`\\Phi` (M, M), SPD stack C (N, M, M), a model
    :math:`\\hat V` (M, N) with entries in [0.5, 2] and :math:`\\varepsilon=0`."""
    g = torch.Generator().manual_seed(seed)
    Phi = Orthogonal(M).random(g)
    A = torch.randn(N, M, M, generator=g, dtype=F64)
    C = A @ A.transpose(-1, -2) + 0.1 * torch.eye(M, dtype=F64)
    Vhat = 0.5 + 1.5 * torch.rand(M, N, generator=g, dtype=F64)
    return Phi, C, Vhat


def plot_jacobi_toy(p: int = 0, q: int = 1, theta: float = 0.0, seed: int = 0):
    """:math:`f(G_\\theta\\Phi)` over :math:`\\theta\\in[-\\pi/2,\\pi/2]` for the rotation of rows p, q of the toy, the
    closed form :math:`\\text{const}+B\\cos2\\theta+C\\sin2\\theta` on top, its minimiser, and the chosen θ."""
    Phi, C, Vhat = jacobi_toy(seed)
    th = np.linspace(-math.pi / 2, math.pi / 2, 181)
    f = [float(tl_objective(Orthogonal.givens(4, p, q, t) @ Phi, C, Vhat, 0.0)) for t in th]
    B, Cc = (float(v) for v in jacobi_pair_coefficients(Phi, C, Vhat, 0.0, p, q))
    f0 = float(tl_objective(Phi, C, Vhat, 0.0))
    closed = f0 + B * (np.cos(2 * th) - 1) + Cc * np.sin(2 * th)
    t_star = float(jacobi_angle(Phi, C, Vhat, 0.0, p, q))
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.plot(th, f, lw=3, alpha=0.4, label="f(G_θ Φ), evaluated")
    ax.plot(th, closed, "k--", lw=1, label="const + B cos 2θ + C sin 2θ")
    ax.axvline(t_star, color="C2", lw=1, label=f"closed-form minimiser θ* = {t_star:.3f}")
    ax.plot([theta], [float(tl_objective(Orthogonal.givens(4, p, q, theta) @ Phi, C, Vhat, 0.0))], "o", color="C3",
            label=f"θ = {theta:.2f}")
    ax.set(xlabel="rotation angle θ (rad)", ylabel="transform objective f",
           title=f"One Givens rotation of rows {p} and {q}")
    ax.legend(fontsize=8)
    return fig


# -------------------------------------------------------------------------------------------- device
def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """JD and a few TL-NMF iterations on the GCM (S = 100, the paper's seeds) on ``base.device``."""
    s = replace(settings(replace(base, mode="fast")), jd_starts=1, jd_its=20, nmf_its=20, tl_starts=1, tl_its=5)
    data = gcm_frames(100)
    C = frame_covariances(data.Y).to(base.device)
    ((P0, W0, H0),) = [tuple(t.to(base.device) for t in st) for st in legacy_starts(10, 5, 50, 1)]
    jd = qn_orth_jd(C + 1e-8 * torch.eye(10, dtype=F64, device=base.device), P0, max_iter=s.jd_its)
    tl = tl_nmf(C, P0, W0, H0, eps=1e-8, n_outer=s.tl_its)
    return {"JD transform": jd.B, "TL-NMF transform": tl.Phi, "TL-NMF W": tl.W}
