"""Chapter 12 demos: simultaneous min-max algorithms on Riemannian manifolds -- the cylinder toy, planted Stiefel
games, a random ensemble, and an orthogonal Wasserstein GAN.

The manifolds live in :mod:`harmonia.manifolds`, the algorithms and the spectral tools in
:mod:`harmonia.games.riemannian`, the critic in :mod:`harmonia.nn.orthogonal`; this module holds the chapter's
games, runners and figures.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np
import torch

from harmonia.course.plots import to_host
from harmonia.course.settings import ChapterSettings, extend
from harmonia.data.mixtures import gaussian_mixture_2d
from harmonia.games import (
    M_asga,
    M_gda,
    M_sga,
    asymptotic_blocks,
    best_rate,
    classify,
    hessian_blocks,
    rate,
    tau_gda_step,
    tau_sga_step,
)
from harmonia.manifolds import Euclidean, Sphere, Stiefel
from harmonia.metrics import wasserstein1_exact
from harmonia.nn.orthogonal import OrthogonalCritic

__all__ = [
    "Settings",
    "settings",
    "METHODS",
    "toy",
    "toy_run",
    "empirical_rate",
    "planted_game",
    "planted_run",
    "ensemble",
    "GANRun",
    "wgan",
    "plot_cylinder",
    "plot_spectrum",
    "plot_tau_sweep",
    "plot_retractions",
    "plot_gan",
    "device_check",
]

F64 = torch.float64
METHODS = ("GDA", "SGA", "ASGA")


@dataclass(frozen=True)
class Settings(ChapterSettings):
    """Sizes: the random ensemble's ``n_games``; the WGAN's hidden widths, batch, step ``gamma``, pre-training
    steps with ``tau0`` (alternating GDA) and comparison steps at ``tau`` with SGA coefficient ``theta``."""

    n_games: int = 50
    critic_h: int = 32
    gen_h: int = 64
    batch: int = 256
    gamma: float = 0.02
    pre_steps: int = 1500
    tau0: float = 5.0
    cmp_steps: int = 800
    tau: float = 1.0
    theta: float = 0.5


def settings(base: ChapterSettings | None = None) -> Settings:
    """Fast mode as above; full mode: 200 random games, a wider GAN, 10 000 pre-training and 4 000 comparison steps."""
    return extend(Settings, base, {"n_games": 200, "critic_h": 64, "gen_h": 128, "pre_steps": 10000, "cmp_steps": 4000})


# -------------------------------------------------------------------------------------------- cylinder toy
def toy(a: float = -1.0, b: float = 2.0, kappa: float = 1.0):
    """The game on :math:`\\mathbb R\\times S^1`: :math:`f(x,y)=\\frac a2x^2+b\\,x\\,y_2+\\kappa\\,y_1`, critical point
    :math:`(0,(1,0))` with :math:`A=a`, :math:`|B|=b`, :math:`C=-\\kappa`. Returns ``(f, x*, y*, manifolds)``."""
    def f(xs, ys):
        return a / 2 * xs[0][0] ** 2 + b * xs[0][0] * ys[0][1] + kappa * ys[0][0]
    return f, torch.zeros(1, dtype=F64), torch.tensor([1.0, 0.0], dtype=F64), (Euclidean(1), Sphere(2))


def _step(method: str, f, xs, ys, ms, gamma, tau, theta):
    if method == "GDA":
        return tau_gda_step(f, xs, ys, [ms[0]], [ms[1]], gamma, tau)
    return tau_sga_step(f, xs, ys, [ms[0]], [ms[1]], gamma, tau, theta, asymptotic=method == "ASGA")


def toy_run(method: str, gamma: float, tau: float, theta: float = 0.5, steps: int = 600, start: float = 1e-3,
            game=None) -> np.ndarray:
    """Iterates of ``method`` on the toy from a point at distance ``start`` of the equilibrium: (k, 2) array of
    the chart coordinates :math:`(x,\\ \\mathrm{atan2}(y_2,y_1))`, stopped if they leave a ball of radius 10."""
    f, x0, y0, ms = game or toy()
    xs = [torch.tensor([0.6 * start], dtype=F64)]
    ys = [ms[1].retr(y0, torch.tensor([0.0, 0.8 * start], dtype=F64))]
    out = [(float(xs[0][0]), math.atan2(float(ys[0][1]), float(ys[0][0])))]
    for _ in range(steps):
        xs, ys = _step(method, f, xs, ys, ms, gamma, tau, theta)
        out.append((float(xs[0][0]), math.atan2(float(ys[0][1]), float(ys[0][0]))))
        if math.hypot(*out[-1]) > 10:
            break
    return np.array(out)


def empirical_rate(traj: np.ndarray, last: int = 200) -> float:
    """Geometric rate of the distance to the equilibrium over the last ``last`` steps (inf if the run left)."""
    d = np.hypot(traj[:, 0], traj[:, 1])
    if len(d) < last + 2 or not np.isfinite(d).all() or d[-1] > 10:
        return math.inf
    return float(math.exp((math.log(d[-1]) - math.log(d[-1 - last])) / last))


# --------------------------------------------------------------------------------------- planted games
def planted_game(seed: int, dne: bool = True, kappa: float = 1.0, negative: float = -0.3, retraction: str = "qr"):
    """The planted game :math:`f=\\frac12x^\\top Ax+\\sum_kx_k\\langle G_k,Y\\rangle+\\kappa\\,\\mathrm{tr}(E^\\top Y)` on
    :math:`\\mathbb R^3\\times\\mathrm{St}(4,2)`, :math:`E=[I_2;0]`, :math:`G_k\\in T_E\\mathrm{St}` random: critical point
    :math:`(0,E)`, :math:`C=-\\kappa I_5`, :math:`B_{kj}=\\langle G_k,U_j\\rangle` in the basis :math:`U` of :math:`T_E`. ``dne=False``
    makes one eigenvalue of :math:`A` equal to ``negative``; ``retraction`` is the Stiefel manifold's. Returns
    ``(f, x*, Y*, manifolds, A, G)``."""
    gen = torch.Generator().manual_seed(seed)
    St = Stiefel(4, 2, retraction=retraction)
    E = torch.zeros(4, 2, dtype=F64)
    E[0, 0] = E[1, 1] = 1.0
    U = St.tangent_basis(E)
    G = torch.einsum("kj,jab->kab", torch.randn(3, 5, generator=gen, dtype=F64), U)
    Q, _ = torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=F64))
    ev = torch.rand(3, generator=gen, dtype=F64) + 0.2
    if not dne:
        ev[0] = negative
    A = Q @ torch.diag(ev) @ Q.T

    def f(xs, ys):
        return 0.5 * xs[0] @ A @ xs[0] + (xs[0][:, None, None] * G * ys[0]).sum() + kappa * (E * ys[0]).sum()

    return f, torch.zeros(3, dtype=F64), E, (Euclidean(3), St), A, G


def planted_run(retraction: str, method: str = "GDA", gamma: float = 0.1, tau: float = 1.0, theta: float = 0.5,
                steps: int = 150, seed: int = 0) -> tuple[np.ndarray, float]:
    """Distance :math:`\\|x\\|+\\|Y-E\\|_F` to the equilibrium of the planted DNE game along ``method`` with the Stiefel
    ``retraction``, from a point at distance about 1e-3; and the predicted rate (the same for every retraction:
    the linearisation only sees the retraction's first order)."""
    f, x0, E, (mx, my), _, _ = planted_game(seed, dne=True, retraction=retraction)
    A, B, C, _, _ = hessian_blocks(f, x0, E, mx, my)
    M = {"GDA": M_gda(A, B, C, tau), "SGA": M_sga(A, B, C, tau, theta), "ASGA": M_asga(A, B, C, tau, theta)}[method]
    g = torch.Generator().manual_seed(seed + 1)
    xs = [1e-3 * torch.randn(3, generator=g, dtype=F64)]
    ys = [my.retr(E, my.proj(E, 1e-3 * torch.randn(4, 2, generator=g, dtype=F64)))]
    dist = []
    for _ in range(steps):
        if method == "GDA":
            xs, ys = tau_gda_step(f, xs, ys, [mx], [my], gamma, tau)
        else:
            xs, ys = tau_sga_step(f, xs, ys, [mx], [my], gamma, tau, theta, asymptotic=method == "ASGA")
        dist.append(float(xs[0].norm() + (ys[0] - E).norm()))
    return np.array(dist), rate(M, gamma)


def ensemble(s: Settings, seed: int = 0, taus: tuple[float, ...] = (0.25, 1.0, 4.0, 16.0, 64.0),
             theta: float = 0.5) -> dict[str, object]:
    """Random planted games, half DNE and half DSE-not-DNE (a negative eigenvalue of A, kept only if the Schur
    complement stays positive): best GDA rates over ``taus``, at :math:`\\tau=10^{-3}` and :math:`10^4`, and the
    relative gap between the slow eigenvalues of :math:`M_{\\rm ASGA}` at :math:`\\tau=10^4` and :math:`\\mathrm{spec}(P_\\theta S)`."""
    rows = []
    k = 0
    while len(rows) < s.n_games:
        dne = len(rows) % 2 == 0
        f, x, Y, ms, _, _ = planted_game(seed + k, dne=dne, negative=-0.2 - 0.6 * ((k * 7919) % 97) / 97)
        k += 1
        A, B, C, _, _ = hessian_blocks(f, x, Y, *ms)
        kind = classify(A, B, C)
        if kind != ("DNE" if dne else "DSE"):
            continue
        fast, slow = asymptotic_blocks(A, B, C, theta)
        ev = torch.linalg.eigvals(M_asga(A, B, C, 1e4, theta))
        slow_ev = ev[ev.abs().argsort()][: A.shape[0]]
        target = torch.linalg.eigvals(slow)
        gap = float(max(min(abs(complex(e) - complex(t)) for e in slow_ev) / abs(complex(t)) for t in target))
        rows.append({"kind": kind, "gda": [best_rate(M_gda(A, B, C, t))[0] for t in taus],
                     "gda_small": best_rate(M_gda(A, B, C, 1e-3))[0], "gda_large": best_rate(M_gda(A, B, C, 1e4))[0],
                     "asga_gap": gap})
    return {"taus": taus, "rows": rows}


# ------------------------------------------------------------------------------------------------- WGAN
@dataclass
class GANRun:
    """A WGAN run: the objective ``f`` per step, :math:`W_1` every 100 steps (``w1_steps``, ``w1``), the largest
    constraint violation seen, and the final parameters."""

    f: list[float]
    w1_steps: list[int]
    w1: list[float]
    violation: float
    gen: list[torch.Tensor]
    critic: list[torch.Tensor]


def _generator_init(h: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for i, o in ((2, h), (h, h), (h, 2)):
        out += [torch.randn(o, i, generator=g) * math.sqrt(2 / i), torch.zeros(o)]
    return out


def generate(params: list[torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    """The generator, a ReLU MLP 2-h-h-2, in functional form."""
    h = torch.relu(z @ params[0].T + params[1])
    h = torch.relu(h @ params[2].T + params[3])
    return h @ params[4].T + params[5]


def _violation(critic: list[torch.Tensor]) -> float:
    V1, _, V2, _, a = critic
    return max(float((V1.T @ V1 - torch.eye(V1.shape[1], device=V1.device)).abs().max()),
               float((V2.T @ V2 - torch.eye(V2.shape[1], device=V2.device)).abs().max()), abs(float(a.norm()) - 1))


def wgan(s: Settings, method: str, steps: int, tau: float, start: tuple[list, list] | None = None,
         alternating: bool = False, seed: int = 2) -> GANRun:
    """Train the orthogonal WGAN on the 8-Gaussian ring (radius 2, std 0.05) with stochastic Riemannian
    ``method`` ("GDA" or "SGA") from ``start`` (default: a fresh initialisation), batch ``s.batch``."""
    crit = OrthogonalCritic(s.critic_h, 2)
    gm = [Euclidean(*p.shape) for p in _generator_init(s.gen_h, 0)]
    dev = s.device
    xs, ys = start if start is not None else ([p.to(dev) for p in _generator_init(s.gen_h, 0)],
                                              [p.to(dev) for p in crit.init(1, torch.float32)])
    data = torch.Generator().manual_seed(seed)
    z_eval = torch.randn(512, 2, generator=torch.Generator().manual_seed(9)).to(dev)
    real_eval = gaussian_mixture_2d(512, seed=10).float().to(dev)
    run = GANRun([], [], [], 0.0, xs, ys)
    for k in range(steps + 1):
        if k % 100 == 0:
            run.w1_steps.append(k)
            run.w1.append(float(wasserstein1_exact(generate(xs, z_eval).detach(), real_eval)))
            run.violation = max(run.violation, _violation(ys))
        if k == steps:
            break
        real = gaussian_mixture_2d(s.batch, seed=data).float().to(dev)
        z = torch.randn(s.batch, 2, generator=data).to(dev)

        def f(x, y, real=real, z=z):
            return crit(y, real).mean() - crit(y, generate(x, z)).mean()

        run.f.append(float(f(xs, ys)))
        if method == "GDA":
            xs, ys = tau_gda_step(f, xs, ys, gm, crit.manifolds, s.gamma, tau, alternating=alternating)
        else:
            xs, ys = tau_sga_step(f, xs, ys, gm, crit.manifolds, s.gamma, tau, s.theta)
    run.gen, run.critic = xs, ys
    return run


# ------------------------------------------------------------------------------------------------ figures
def plot_cylinder(trajs: dict[str, np.ndarray], title: str) -> plt.Figure:
    """Trajectories on the cylinder :math:`\\mathbb R\\times S^1` (3-D) and the distance to the equilibrium."""
    fig = plt.figure(figsize=(11.0, 3.8))
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    t = np.linspace(0, 2 * np.pi, 60)
    for xv in np.linspace(-1.5e-3, 1.5e-3, 3):
        ax.plot(np.full_like(t, xv), np.cos(t), np.sin(t), color="0.85", lw=0.5)
    d = fig.add_subplot(1, 2, 2)
    for (name, tr), c in zip(trajs.items(), ("C0", "C3", "C2", "C1")):
        ax.plot(tr[:, 0], np.cos(tr[:, 1]), np.sin(tr[:, 1]), color=c, lw=0.8, label=name)
        d.semilogy(np.hypot(tr[:, 0], tr[:, 1]), color=c, label=name)
    ax.set_xlabel("x")
    ax.set_ylabel("y₁")
    ax.set_zlabel("y₂")
    ax.set_title("iterates on ℝ × S¹ near (0, (1, 0))", fontsize=9)
    d.set_xlabel("step")
    d.set_ylabel("distance to the equilibrium")
    d.set_title("local convergence (or not)", fontsize=9)
    d.legend(fontsize=7)
    fig.suptitle(title)
    return fig


def plot_spectrum(Ms: dict[str, torch.Tensor], gamma: float) -> plt.Figure:
    """Eigenvalues :math:`\\mu` of the update matrices in the complex plane, with the disc :math:`|1-\\gamma\\mu|<1`."""
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot((1 - np.cos(t)) / gamma, np.sin(t) / gamma, "k--", lw=0.8, label=f"|1 − γμ| = 1, γ = {gamma:g}")
    for (name, M), c in zip(Ms.items(), ("C0", "C3", "C2")):
        mu = torch.linalg.eigvals(M)
        ax.plot(mu.real.numpy(), mu.imag.numpy(), "o", color=c, label=f"{name}: ρ = {rate(M, gamma):.3f}")
    ax.axvline(0, color="0.7", lw=0.6)
    ax.set_xlabel("Re μ")
    ax.set_ylabel("Im μ")
    ax.set_title("Eigenvalues of M: inside the disc = locally convergent")
    ax.legend(fontsize=7)
    return fig


def plot_tau_sweep(A, B, C, theta: float, taus: np.ndarray, title: str) -> plt.Figure:
    """Best rate :math:`\\rho^*` against :math:`\\tau` for GDA, SGA and asymptotic SGA."""
    fig, ax = plt.subplots(figsize=(6.2, 3.4))
    for name, make, c in (("GDA", lambda t: M_gda(A, B, C, t), "C0"), ("SGA", lambda t: M_sga(A, B, C, t, theta), "C3"),
                          ("ASGA", lambda t: M_asga(A, B, C, t, theta), "C2")):
        ax.semilogx(taus, [best_rate(make(t))[0] for t in taus], color=c, label=f"{name}" + ("" if name == "GDA" else f", θ = {theta:g}"))
    ax.axhline(1, color="k", lw=0.8)
    ax.set_xlabel("τ (ratio of the maximiser's step)")
    ax.set_ylabel("best rate ρ* over γ")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def plot_retractions(method: str, gamma: float, tau: float, highlight: str = "qr") -> plt.Figure:
    """Distance to the planted equilibrium for the three Stiefel retractions (``highlight`` drawn thick), with
    the predicted rate :math:`\\rho^k`."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    pred = None
    for r in ("qr", "polar", "cayley"):
        d, pred = planted_run(r, method, gamma, tau)
        ax.semilogy(np.arange(1, len(d) + 1), d, lw=2.5 if r == highlight else 1, label=f"{r} retraction")
    k = np.arange(1, len(d) + 1)
    ax.semilogy(k, d[0] * pred ** (k - 1), "k--", lw=0.8, label=f"predicted rate ρ = {pred:.3f}")
    ax.set_xlabel("step")
    ax.set_ylabel("distance to (0, E)")
    ax.set_title(f"{method}, γ = {gamma:g}, τ = {tau:g}: the retraction does not change the local rate", fontsize=9)
    ax.legend(fontsize=7)
    return fig


def plot_gan(runs: dict[str, GANRun], pre: GANRun, s: Settings) -> plt.Figure:
    """Generated points after each run, the objective during the comparison, and :math:`W_1`."""
    z = torch.randn(1000, 2, generator=torch.Generator().manual_seed(11))
    real = gaussian_mixture_2d(1000, seed=12)
    fig, axes = plt.subplots(1, 4, figsize=(15.0, 3.5))
    axes[0].scatter(real[:, 0], real[:, 1], s=2, c="0.6", label="data")
    axes[0].scatter(*to_host(generate(pre.gen, z.to(pre.gen[0].device)).detach()).T.numpy(), s=2, c="C0", label="generator")
    axes[0].set_title(f"after pre-training ({s.pre_steps} steps)", fontsize=9)
    for ax, (name, r) in zip(axes[1:3], runs.items()):
        ax.scatter(real[:, 0], real[:, 1], s=2, c="0.6")
        ax.scatter(*to_host(generate(r.gen, z.to(r.gen[0].device)).detach()).T.numpy(), s=2,
                   c="C3" if name.startswith("SGA") else "C2")
        ax.set_title(f"then {s.cmp_steps} steps of {name}", fontsize=9)
    for ax in axes[:3]:
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
        ax.set_aspect("equal")
    for name, r in runs.items():
        axes[3].plot(np.arange(len(r.f)), r.f, lw=0.6, label=f"{name}: objective f")
    axes[3].set_xlabel("step after pre-training")
    axes[3].set_ylabel("critic's estimate of W₁ (f)")
    axes[3].set_title("simultaneous updates, τ = 1", fontsize=9)
    axes[3].legend(fontsize=7)
    fig.suptitle("Orthogonal Wasserstein GAN on a ring of 8 Gaussians")
    return fig


def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """The toy's Hessian blocks and three WGAN steps (the critic's first layer) on ``base.device``."""
    f, x, y, ms = toy()
    A, B, C, _, _ = hessian_blocks(f, x.to(base.device), y.to(base.device), *ms)
    s = replace(settings(replace(base, mode="fast")), critic_h=8, gen_h=8, batch=16)
    run = wgan(s, "SGA", 3, 1.0)
    return {"toy blocks": torch.cat([A.flatten(), B.flatten(), C.flatten()]), "critic V1": run.critic[0]}
