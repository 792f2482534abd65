"""Chapter 11 demos: Nash equilibria of moment-matching GANs for stationary Gaussian processes, in the course's
model (the three outcomes as Propositions A, B, C), and the dynamics of gradient descent-ascent.

The game and the dynamics live in :mod:`harmonia.games` (and RK4 in :mod:`harmonia.ode`); this module holds
the chapter's runners and figures. Everything is closed form or FFT, in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np
import torch

from harmonia.course.plots import to_host
from harmonia.course.settings import ChapterSettings, extend
from harmonia.games import (
    MomentMatchingGame,
    eta_star,
    exp_filter,
    filter_autocov,
    frequency_energy,
    frequency_field,
    gda_step,
    periodogram,
    proj_circulant,
    sample_conv_gaussian,
    spectral_radius,
    update_jacobian,
)
from harmonia.ode import integrate

__all__ = [
    "Settings",
    "settings",
    "theta_star",
    "GDARun",
    "run_gda",
    "prop_a",
    "prop_c",
    "stability",
    "predicted_radius",
    "plot_model",
    "plot_prop_a",
    "plot_gda",
    "plot_portrait",
    "plot_prop_c",
    "plot_stability",
    "device_check",
]

F64 = torch.float64


@dataclass(frozen=True)
class Settings(ChapterSettings):
    """Sizes: signal length ``d``, data samples ``n``, discriminator ridge ``lam``, time-scale ratio ``tau``,
    GDA ``steps``, the curved family's ``K`` taps and true ``phi``, and the sample sizes and number of draws of
    Proposition C."""

    d: int = 16
    n: int = 64
    lam: float = 1.0
    tau: float = 1.0
    steps: int = 5000
    K: int = 4
    phi: float = 0.6
    c_sizes: tuple[int, ...] = (16, 256)
    c_draws: int = 100


def settings(base: ChapterSettings | None = None) -> Settings:
    """Fast mode: 5000 GDA steps, Proposition C at n = 16 and 256 with 100 draws; full mode: 20 000 steps,
    n = 8 ... 2048 with 200 draws."""
    return extend(Settings, base, {"steps": 20000, "c_sizes": (8, 32, 128, 512, 2048), "c_draws": 200})


def theta_star(d: int = 16) -> torch.Tensor:
    """The true filter :math:`\\theta^\\star=\\delta_0+0.5\\,\\delta_1`: :math:`P^\\star(\\omega)=1.25+\\cos(2\\pi\\omega/d)`."""
    t = torch.zeros(d, dtype=F64)
    t[0], t[1] = 1.0, 0.5
    return t


@dataclass
class GDARun:
    """A GDA run: final ``params`` and ``w``, the relative moment error :math:`\\|m(\\theta_k)-\\hat m_n\\|/\\|\\hat m_n\\|`
    after each step, and the largest change of the phases of :math:`\\hat\\theta` along the run."""

    params: torch.Tensor
    w: torch.Tensor
    error: list[float]
    phase_change: float


def run_gda(game: MomentMatchingGame, p0: torch.Tensor, lr: float, steps: int, tau: float = 1.0,
            alternating: bool = False) -> GDARun:
    """Simultaneous (or alternating) :math:`\\tau`-GDA from ``(p0, w=0)`` on ``game``."""
    g = game.game()
    p, w = p0.clone(), torch.zeros(game.m_hat.numel(), dtype=F64)
    norm = float(game.m_hat.norm())
    ph0 = torch.angle(torch.fft.fft(game.theta(p0)))
    err, dphase = [], 0.0
    for _ in range(steps):
        p, w = gda_step(g, p, w, lr, tau=tau, alternating=alternating)
        e = float((game.model_moments(p) - game.m_hat).norm()) / norm
        err.append(e)
        if not math.isfinite(e) or e > 1e6:
            break
    if game.family == "full":
        amp = torch.fft.fft(p)
        live = amp.abs() > 1e-6
        diff = (torch.angle(amp) - ph0 + math.pi) % (2 * math.pi) - math.pi
        dphase = float(diff[live].abs().max()) if bool(live.any()) else 0.0
    return GDARun(p, w, err, dphase)


def prop_a(d: int = 8, n: int = 32, lr: float = 0.01, steps: int = 300, lams: tuple[float, ...] = (0.0, 0.5),
           seed: int = 1) -> dict[float, dict[str, list[float]]]:
    """Covariance discriminator (not translation invariant): the part :math:`W_\\perp` of :math:`W` orthogonal to
    circulant matrices under GDA, measured and predicted (:math:`\\frac{1-(1-\\eta\\lambda)^k}{\\lambda}\\|\\hat C_\\perp\\|`,
    :math:`k\\eta\\|\\hat C_\\perp\\|` at :math:`\\lambda=0`), per :math:`\\lambda`."""
    t = torch.zeros(d, dtype=F64)
    t[0], t[1] = 1.0, 0.5
    x = sample_conv_gaussian(t, n, seed=seed)
    out = {}
    for lam in lams:
        game = MomentMatchingGame(x, "cov", "full", lam=lam)
        c_perp = float((game.m_hat - proj_circulant(game.m_hat)).norm())
        g = game.game()
        p = 0.5 * torch.randn(d, dtype=F64, generator=torch.Generator().manual_seed(0))
        w = torch.zeros(d * d, dtype=F64)
        measured, predicted = [], []
        for k in range(1, steps + 1):
            p, w = gda_step(g, p, w, lr)
            W = w.reshape(d, d)
            measured.append(float((W - proj_circulant(W)).norm()))
            predicted.append(k * lr * c_perp if lam == 0 else (1 - (1 - lr * lam) ** k) / lam * c_perp)
        out[lam] = {"measured": measured, "predicted": predicted, "c_perp": c_perp}
    return out


def prop_c(s: Settings, seed: int = 1000) -> dict[int, dict[str, float]]:
    """Curved family :math:`\\theta_\\phi(u)=\\phi^u` (:math:`u<K`), stationary discriminator, :math:`\\lambda>0`: for each n,
    the fraction of data draws whose min-max solution is not a Nash equilibrium (Nash gap > 1e-9) and the mean
    error :math:`|\\bar\\phi_n-\\phi^\\star|`."""
    true = exp_filter(torch.tensor(s.phi, dtype=F64), s.d, s.K)
    out = {}
    for n in s.c_sizes:
        non_nash, errs, gaps = 0, [], []
        for draw in range(s.c_draws):
            game = MomentMatchingGame(sample_conv_gaussian(true, n, seed=seed + 7919 * n + draw), "stat", "exp",
                                      lam=s.lam, K=s.K)
            phi = game.minmax_solution()
            gap = game.nash_gap(phi, game.best_response(phi))
            non_nash += gap > 1e-9
            errs.append(abs(float(phi) - s.phi))
            gaps.append(gap)
        out[n] = {"non_nash": non_nash / s.c_draws, "error": float(np.mean(errs)), "median_gap": float(np.median(gaps))}
    return out


def predicted_radius(P: torch.Tensor, lam: float, lr: float, tau: float = 1.0) -> float:
    """Spectral radius of the linearised GDA map at the zero-phase equilibrium, neutral directions left out:
    the largest :math:`|1+\\eta\\mu|` over :math:`\\mu^2+\\tau\\lambda\\mu+4\\tau P(\\omega)=0` and :math:`|1-\\eta\\tau\\lambda|`."""
    out = abs(1 - lr * tau * lam)
    for p in P.tolist():
        if p <= 0:
            continue
        root = complex(tau**2 * lam**2 - 16 * tau * p) ** 0.5
        for mu in ((-tau * lam + root) / 2, (-tau * lam - root) / 2):
            out = max(out, abs(1 + lr * mu))
    return out


def stability(game: MomentMatchingGame, ratios: tuple[float, ...], tau: float = 1.0) -> dict[float, float]:
    """Spectral radius (eigenvalues within 1e-9 of 1 left out: the phases) of the Jacobian of the GDA map at the
    zero-phase Nash equilibrium, by autograd, for step sizes ``ratio * eta_star``."""
    P = torch.fft.fft(game.m_hat).real
    es = eta_star(P, game.lam, tau)
    g, d = game.game(), game.m_hat.numel()
    z = torch.cat([game.minmax_solution(), torch.zeros(d, dtype=F64)])
    out = {}
    for ratio in ratios:
        def step(v, lr=ratio * es):
            a, b = gda_step(g, v[:d], v[d:], lr, tau=tau, create_graph=True)
            return torch.cat([a, b])
        out[ratio] = spectral_radius(update_jacobian(step, z), exclude_one=1e-9)
    return out


# ------------------------------------------------------------------------------------------------ figures
def plot_model(s: Settings, seed: int = 0) -> plt.Figure:
    """The true filter, three samples, and the true spectrum against periodograms for n = 8, 64, 1024."""
    t = theta_star(s.d)
    P_star = torch.fft.fft(filter_autocov(t)).real
    fig, axes = plt.subplots(1, 3, figsize=(13.0, 3.4))
    axes[0].stem(np.arange(s.d), t.numpy())
    axes[0].set_xlabel("u")
    axes[0].set_ylabel("θ*(u)")
    axes[0].set_title("true filter θ* = δ0 + 0.5 δ1", fontsize=9)
    x = sample_conv_gaussian(t, 3, seed=seed)
    for i in range(3):
        axes[1].plot(x[i].numpy(), marker=".", label=f"sample {i + 1}")
    axes[1].set_xlabel("u (position on the circle)")
    axes[1].set_ylabel("x(u)")
    axes[1].set_title("samples x = θ* ⋆ Z", fontsize=9)
    omega = np.arange(s.d)
    axes[2].plot(omega, P_star.numpy(), "k", lw=2.5, label="P* = |θ̂*|²")
    for n in (8, 64, 1024):
        axes[2].plot(omega, periodogram(sample_conv_gaussian(t, n, seed=seed + n)).numpy(), marker=".", label=f"P̂_n, n = {n}")
    axes[2].set_xlabel("frequency ω")
    axes[2].set_ylabel("power")
    axes[2].set_title("averaged periodograms approach P*", fontsize=9)
    axes[2].legend(fontsize=7)
    fig.suptitle("The data: a stationary Gaussian process on the circle of d = 16 points")
    return fig


def plot_prop_a(res: dict[float, dict[str, list[float]]]) -> plt.Figure:
    """:math:`\\|W_\\perp^{(k)}\\|` measured (dots) and predicted (lines)."""
    fig, ax = plt.subplots(figsize=(6.2, 3.4))
    for lam, r in res.items():
        k = np.arange(1, len(r["measured"]) + 1)
        ax.plot(k, r["predicted"], lw=2, label=f"predicted, λ = {lam:g}")
        ax.plot(k[::15], r["measured"][::15], "o", ms=4, label=f"GDA, λ = {lam:g}")
    ax.set_xlabel("GDA step k")
    ax.set_ylabel("‖W⊥‖ (Frobenius)")
    ax.set_title("Covariance discriminator: the invisible part of W grows")
    ax.legend(fontsize=8)
    return fig


def plot_gda(runs: dict[str, GDARun], title: str) -> plt.Figure:
    """Relative moment error against GDA step for several runs."""
    fig, ax = plt.subplots(figsize=(6.6, 3.4))
    for label, r in runs.items():
        ax.semilogy(np.arange(1, len(r.error) + 1), np.maximum(r.error, 1e-17), label=label)
    ax.set_xlabel("GDA step")
    ax.set_ylabel("‖r_θ − r̂_n‖ / ‖r̂_n‖")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def plot_portrait(P: float, lam: float, eta: float, tau: float = 1.0, start: tuple[float, float] = (0.6, 0.3),
                  steps: int = 400) -> plt.Figure:
    """One frequency's plane :math:`(a^2,\\hat w)`: the continuous flow (RK4) and explicit GDA from one start, over
    the level sets of :math:`H` (left), and :math:`H` along both (right)."""
    Pt = torch.tensor(P, dtype=F64)
    flow = integrate(frequency_field(Pt, lam, tau), torch.tensor(start, dtype=F64), h=eta, steps=steps)
    disc = [torch.tensor(start, dtype=F64)]
    for _ in range(steps):
        a, w = disc[-1]
        disc.append(torch.stack([a * (1 + 2 * eta * w), w + eta * tau * (P - a * a - lam * w)]))
    disc = torch.stack(disc)
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(11.0, 3.6))
    A, W = np.meshgrid(np.linspace(0.05, 2.2, 200), np.linspace(-1.2, 1.2, 200))
    Hgrid = frequency_energy(torch.from_numpy(np.stack([A, W], -1)), Pt, tau).numpy()
    a0.contour(A**2, W, Hgrid, levels=25, colors="0.8", linewidths=0.6)
    a0.plot(flow[:, 0].numpy() ** 2, flow[:, 1].numpy(), "C0", label="continuous flow (RK4)")
    a0.plot(disc[:, 0].numpy() ** 2, disc[:, 1].numpy(), "C3", lw=0.8, label=f"GDA, η = {eta:.3g}")
    a0.plot([P], [0], "k*", ms=10, label="equilibrium a² = P̂, ŵ = 0")
    a0.set_xlabel("a² = |θ̂(ω)|²")
    a0.set_ylabel("ŵ(ω)")
    a0.set_xlim(0, 4.5)
    a0.set_ylim(-1.2, 1.2)
    a0.legend(fontsize=7)
    a0.set_title(f"one frequency, P̂ = {P:.2f}, λ = {lam:g}", fontsize=9)
    for traj, c, lab in ((flow, "C0", "flow"), (disc, "C3", "GDA")):
        ok = traj[:, 0] > 0
        a1.plot(np.arange(len(traj))[ok.numpy()], frequency_energy(traj[ok], Pt, tau).numpy(), c, label=lab)
    a1.set_xlabel("step")
    a1.set_ylabel("H(a, ŵ)")
    a1.set_title("the quantity H along both", fontsize=9)
    a1.legend(fontsize=8)
    fig.suptitle("Per-frequency dynamics of GDA")
    return fig


def plot_prop_c(res: dict[int, dict[str, float]]) -> plt.Figure:
    """Non-Nash fraction and mean error of the min-max solution against n."""
    ns = list(res)
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(10.0, 3.3))
    a0.bar([str(n) for n in ns], [res[n]["non_nash"] for n in ns], color="C1")
    a0.axhline(0.5, color="k", ls="--", lw=0.8)
    a0.set_ylim(0, 1)
    a0.set_xlabel("samples n")
    a0.set_ylabel("fraction of draws")
    a0.set_title("min-max solution is not a Nash equilibrium", fontsize=9)
    a1.loglog(ns, [res[n]["error"] for n in ns], "o-", label="mean |φ̄ − φ*|")
    a1.loglog(ns, [res[ns[0]]["error"] * (ns[0] / n) ** 0.5 for n in ns], "k--", lw=0.8, label="∝ n^(-1/2)")
    a1.set_xlabel("samples n")
    a1.set_ylabel("error")
    a1.set_title("but it is consistent", fontsize=9)
    a1.legend(fontsize=8)
    fig.suptitle("Curved generator family: consistent, not Nash")
    return fig


def plot_stability(P: torch.Tensor, lam: float, measured: dict[float, float], tau: float = 1.0) -> plt.Figure:
    """Predicted spectral radius against :math:`\\eta/\\eta^\\star`, with the autograd values as dots."""
    es = eta_star(P, lam, tau)
    ratios = np.linspace(0.05, 1.5, 200)
    fig, ax = plt.subplots(figsize=(6.2, 3.4))
    ax.plot(ratios, [predicted_radius(P, lam, r * es, tau) for r in ratios], "C0", label="closed form")
    ax.plot(list(measured), list(measured.values()), "C3o", label="autograd Jacobian")
    ax.axhline(1, color="k", lw=0.8)
    ax.axvline(1, color="0.5", ls=":")
    ax.set_xlabel("η / η*")
    ax.set_ylabel("spectral radius (phases left out)")
    ax.set_title("Local stability of GDA at the Nash equilibrium")
    ax.legend(fontsize=8)
    return fig


def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """The game's moments and one short GDA run on ``base.device`` (float64)."""
    t = theta_star(16).to(base.device)
    x = sample_conv_gaussian(t, 32, seed=0)
    game = MomentMatchingGame(x, "stat", "full", lam=1.0)
    g = game.game()
    p, w = 0.5 * torch.ones(16, dtype=F64, device=base.device), torch.zeros(16, dtype=F64, device=base.device)
    for _ in range(20):
        p, w = gda_step(g, p, w, 0.05)
    return {"periodogram": periodogram(x), "theta": p, "w": w}
