"""Chapter 03 (limits of speedup in distributed SGD): the experiments of parts A-F, their figures and the
widgets' callbacks.

The methods live in :mod:`harmonia.distributed` (``analysis``, ``tree``, ``sweeps``); this module runs them in
the settings of our prototype. Every callback is a plain function, tested headless in
``tests/course/test_demo_distributed_sgd_theory.py``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np
import torch

from harmonia.course.settings import ChapterSettings, extend
from harmonia.distributed import AdditiveNoiseQuadratic, make_objective, run_easgd, run_msgd
from harmonia.distributed.analysis import (
    DoubleWell,
    double_well_easgd,
    easgd_mean_matrix,
    easgd_moment_system,
    easgd_moment_samples,
    easgd_sync_center_var,
    easgd_sync_stable,
    elastic_pair_run,
    heavy_ball_mean_matrix,
    heavy_ball_moment_system,
    heavy_ball_run,
    heavy_ball_var,
    iterations_to_shrink,
    minibatch_sgd_var,
    optimal_step,
    sgd_moment_step,
    sgd_optimum,
    spectral_radius,
    split_equilibrium,
    split_hessian,
    stable_steps,
    trap_threshold,
)
from harmonia.distributed.problems import RandomInputObjective, RandomInputs
from harmonia.distributed.sweeps import downpour_moves, easgd_moves, sweep_map
from harmonia.distributed.tree import Tree, run_easgd_tree

__all__ = [
    "Settings", "settings", "mean_rates", "plot_mean_rates", "rate_inequality", "additive_variance",
    "plot_additive_variance", "LAWS", "batch_curves", "plot_batch_curves", "one_step_rate_mc", "momentum_grid_best",
    "easgd_multiplicative", "easgd_moments_mc", "momentum_identity", "plot_momentum_identity", "saddle_sweep",
    "plot_saddle", "schur_curve", "noise_escape", "plot_noise_escape", "tree_race", "plot_tree_race", "tree_table", "tree_dist_check",
    "sweep_radii", "plot_sweep_radii", "plot_speedup_explorer", "plot_spring_explorer", "plot_trap_explorer",
    "plot_tree_explorer", "TRAP_START", "device_check",
]

F64 = torch.float64
COLORS = {"SGD": "0.3", "MSGD": "C1", "EASGD": "C3", "tree": "C2", "DOWNPOUR": "C0"}


@dataclass(frozen=True)
class Settings(ChapterSettings):
    """Mode, device and the sizes of the chapter's experiments (fast mode by default)."""

    mc_chains: int = 4000
    mc_rounds: int = 300
    rate_chains: int = 200_000
    tree_rounds: int = 4000
    trap_steps: int = 20_000
    noise_runs: int = 50
    record_every: int = 10


def settings(base: ChapterSettings | None = None) -> Settings:
    """``base`` (default: :func:`harmonia.course.settings.current`) with the sizes of its mode: fast
    mode as above; full mode: 4x more Monte-Carlo chains and 10 000 tree rounds."""
    return extend(Settings, base, {"mc_chains": 16_000, "rate_chains": 1_000_000, "tree_rounds": 10_000, "record_every": 20})


# ---------------------------------------------------------------------------------------------
# Part A: additive noise
# ---------------------------------------------------------------------------------------------
def mean_rates(us: np.ndarray, deltas=(0.5, 0.9), ps=(1, 4, 16), beta: float = 0.9) -> dict[str, np.ndarray]:
    """Contraction per step of the mean: SGD :math:`|1-u|`, heavy ball and the EASGD center (NaN when unstable)."""
    out = {"SGD": np.abs(1 - us)}
    for d in deltas:
        out[f"MSGD δ={d}"] = np.array([spectral_radius(heavy_ball_mean_matrix(u, d)) for u in us])
    for p in ps:
        out[f"EASGD p={p}"] = np.array([spectral_radius(easgd_mean_matrix(p, u, beta / p))
                                        if easgd_sync_stable(p, u, beta / p) else np.nan for u in us])
    return out


def plot_mean_rates(us: np.ndarray, rates: dict[str, np.ndarray]) -> plt.Figure:
    """Mean contraction per step against :math:`u=\\eta h` for every method."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for k, (name, r) in enumerate(rates.items()):
        color = COLORS["SGD"] if name == "SGD" else (COLORS["MSGD"] if name.startswith("MSGD") else COLORS["EASGD"])
        ls = ["-", "--", ":", "-."][k % 4]
        ax.plot(us, r, color=color, ls=ls if name != "SGD" else "-", lw=2.5 if name == "SGD" else 1.5, label=name)
    ax.axhline(1, color="k", lw=0.5)
    ax.set(xlabel="u = η h", ylabel="contraction of the mean per step", ylim=(0, 1.3),
           title="Initial phase, additive noise: no curve goes below SGD's |1 − u| except momentum")
    ax.legend(fontsize=8, ncol=2)
    return fig


def rate_inequality(n: int = 5000, seed: int = 0) -> dict[str, float]:
    """Random stable synchronous-EASGD settings: the smallest margin radius(center mean) - |1-u| (>= 0 means
    EASGD is never faster than single-worker SGD with the same step in the initial phase)."""
    rng = np.random.default_rng(seed)
    margins, tried = [], 0
    while len(margins) < n:
        tried += 1
        p = int(rng.integers(1, 65))
        u, alpha = float(rng.uniform(0, 2)), float(rng.uniform(0, 2 / (p + 1)))
        if not easgd_sync_stable(p, u, alpha):
            continue
        margins.append(spectral_radius(easgd_mean_matrix(p, u, alpha)) - abs(1 - u))
    return {"settings": n, "tried": tried, "min_margin": float(min(margins))}


def additive_variance(eta: float, s: Settings, ps=(1, 4, 16), delta: float = 0.5, beta: float = 0.9,
                      seed: int = 0) -> dict:
    """Stationary variance, closed forms and Monte Carlo (``mc_chains`` independent 1-D chains, :math:`h=\\sigma=1`):
    SGD with batch b, heavy ball (batch 1), EASGD's center with p workers (:math:`\\alpha=\\beta/p`).

    The chains start at the stationary mean 0 and run ``mc_rounds`` steps (burn-in long enough for these
    settings); the standard error of a sample variance of ``n`` Gaussian values is :math:`V\\sqrt{2/(n-1)}`.
    """
    n = s.mc_chains
    ones, zeros = torch.ones(n, dtype=F64, device=s.device), torch.zeros(n, dtype=F64, device=s.device)
    out = {"eta": eta, "ps": list(ps), "closed": {}, "mc": {}}
    for b in ps:
        obj = AdditiveNoiseQuadratic(ones, 1 / math.sqrt(b), 1, seed)
        out["closed"][("SGD", b)] = minibatch_sgd_var(b, eta)
        out["mc"][("SGD", b)] = float(run_msgd(obj, zeros, eta, s.mc_rounds, record_every=s.mc_rounds).center.var())
        a = beta / b
        if easgd_sync_stable(b, eta, a):
            obj = AdditiveNoiseQuadratic(ones, 1.0, b, seed)
            out["closed"][("EASGD", b)] = easgd_sync_center_var(b, eta, a)
            res = run_easgd(obj, zeros, b, eta, s.mc_rounds, alpha=a, mode="sync", record_every=s.mc_rounds)
            out["mc"][("EASGD", b)] = float(res.center.var())
    obj = AdditiveNoiseQuadratic(ones, 1.0, 1, seed)
    out["closed"][("MSGD", 1)] = heavy_ball_var(eta, delta)
    out["mc"][("MSGD", 1)] = float(heavy_ball_run(obj, zeros, eta, delta, s.mc_rounds, record_every=s.mc_rounds)[-1].var())
    out["z"] = {k: abs(out["mc"][k] - v) / (v * math.sqrt(2 / (n - 1))) for k, v in out["closed"].items()}
    return out


def plot_additive_variance(results: list[dict], delta: float = 0.5, beta: float = 0.9) -> plt.Figure:
    """Stationary variance against the number of samples per step (batch b or workers p), for each eta."""
    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.8), sharey=False)
    axes = np.atleast_1d(axes)
    for ax, res in zip(axes, results):
        eta = res["eta"]
        ks = np.array([1, 2, 4, 8, 16, 32, 64])
        ax.plot(ks, [minibatch_sgd_var(int(k), eta) for k in ks], color=COLORS["SGD"], label="SGD, batch b")
        ev = [easgd_sync_center_var(int(k), eta, beta / k) if easgd_sync_stable(int(k), eta, beta / k) else np.nan for k in ks]
        ax.plot(ks, ev, color=COLORS["EASGD"], label=f"EASGD center, p workers (β={beta})")
        ax.axhline(heavy_ball_var(eta, delta), color=COLORS["MSGD"], ls="--", label=f"MSGD δ={delta}, batch 1")
        for (name, k), v in res["mc"].items():
            ax.plot(k, v, "o", color=COLORS[name], ms=5, mfc="none")
        ax.set(xscale="log", yscale="log", xlabel="b or p (samples per step)", ylabel="stationary variance",
               title=f"η = {eta} (circles: Monte Carlo)")
    axes[0].legend(fontsize=7)
    fig.suptitle("Asymptotic phase, additive noise: the variance falls like 1/b and 1/p")
    return fig


# ---------------------------------------------------------------------------------------------
# Part B: multiplicative noise (random inputs)
# ---------------------------------------------------------------------------------------------
LAWS = {"uniform": RandomInputs("uniform"), "gaussian": RandomInputs("gaussian"), "student_t (5)": RandomInputs("student_t", df=5)}
BATCHES = np.array([2**k for k in range(9)])


def batch_curves(factor: float = 1e-3) -> dict[str, dict[str, np.ndarray]]:
    """For each input law: best rate :math:`r^\\star(b)=\\kappa/(b+\\kappa)` and the iterations it needs to shrink
    :math:`\\mathbb Ex^2` by ``factor``, for :math:`b=1,2,\\dots,256`."""
    out = {}
    for name, law in LAWS.items():
        r = np.array([sgd_optimum(law.h, law.var_a2, int(b))[1] for b in BATCHES])
        out[name] = {"kappa": law.kappa, "rate": r, "iterations": np.array([iterations_to_shrink(x, factor) for x in r])}
    return out


def one_step_rate_mc(law: RandomInputs, b: int, chains: int, seed: int = 0) -> tuple[float, float, float]:
    """Monte Carlo of the best one-step rate: from :math:`x=1` with no label noise, :math:`\\mathbb Ex_1^2=r^\\star(b)`.
    Returns ``(closed form, estimate, standard error)``."""
    eta, r, _ = sgd_optimum(law.h, law.var_a2, b)
    obj = RandomInputObjective(law, chains, 1, b, sigma_eps=0.0, seed=seed)
    x1 = run_msgd(obj, torch.ones(chains, dtype=F64), eta, 1, record_every=1).center
    sq = x1.square()
    return r, float(sq.mean()), float(sq.std() / math.sqrt(chains))


def plot_batch_curves(curves: dict, mc: dict[str, list[tuple[int, float]]]) -> plt.Figure:
    """Left: best rate vs batch; right: iterations to shrink the second moment by 1e-3, knee at b = kappa."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for k, (name, c) in enumerate(curves.items()):
        ax1.plot(BATCHES, c["rate"], "-", color=f"C{k}", label=f"{name} (κ = {c['kappa']:g})")
        if name in mc:
            bs, est = zip(*mc[name])
            ax1.plot(bs, est, "o", color=f"C{k}", mfc="none", ms=6)
        ax2.plot(BATCHES, c["iterations"], "-", color=f"C{k}", label=f"{name}")
        ax2.axvline(c["kappa"], color=f"C{k}", ls=":", lw=1)
    ax2.plot(BATCHES, curves["gaussian"]["iterations"][0] / BATCHES, "k--", lw=0.8,
             label="linear speedup from b = 1 (Gaussian)")
    ax1.set(xscale="log", yscale="log", xlabel="batch b", ylabel="best rate r*(b) = κ/(b+κ)",
            title="Best second-moment rate (circles: Monte Carlo)")
    ax2.set(xscale="log", yscale="log", xlabel="batch b", ylabel="iterations to shrink E x² by 1e-3",
            title="Linear speedup only while b ≲ κ (dotted: b = κ)")
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=8)
    return fig


def momentum_grid_best(law: RandomInputs, b: int, etas: np.ndarray | None = None,
                       deltas: np.ndarray | None = None) -> tuple[float, float, float]:
    """Best second-moment rate of heavy ball over an (eta, delta) grid: ``(rate, eta, delta)``."""
    etas = np.linspace(0.01, 1.8, 90) if etas is None else etas
    deltas = np.linspace(-0.6, 0.9, 31) if deltas is None else deltas
    best = (math.inf, 0.0, 0.0)
    for d in deltas:
        for e in etas:
            r = spectral_radius(heavy_ball_moment_system(float(e), float(d), law.h, law.var_a2, 1.0, b)[0])
            if r < best[0]:
                best = (r, float(e), float(d))
    return best


def easgd_multiplicative(kappa: float, ps=(1, 4, 16), beta: float = 0.9, b: int = 1,
                         etas: torch.Tensor | None = None) -> dict[int, dict[str, float]]:
    """Best rate and largest stable step of the EASGD 4x4 second-moment system (:math:`h=1`, :math:`\\alpha=\\beta/p`)."""
    etas = torch.linspace(0.002, 2.0, 1000, dtype=F64) if etas is None else etas
    out = {}
    for p in ps:
        @functools.lru_cache(maxsize=None)  # one eigenvalue solve per step, shared by both scans of the grid
        def rate(e: float, p: int = p) -> float:
            return spectral_radius(easgd_moment_system(p, e, beta / p, 1.0, kappa, 1.0, b)[0])
        eta, r = optimal_step(rate, etas)
        mask = stable_steps(rate, etas)
        out[p] = {"rate": r, "eta": eta, "eta_max": float(etas[mask].max()) if bool(mask.any()) else 0.0}
    return out


def easgd_moments_mc(p: int = 4, eta: float = 0.3, alpha: float = 0.2, b: int = 2, sigma_eps: float = 0.5,
                     steps: int = 12, chains: int = 20_000, seed: int = 0) -> dict[str, np.ndarray]:
    """The 4x4 system propagated ``steps`` times from :math:`x=1` against Monte Carlo (Gaussian inputs)."""
    law = RandomInputs("gaussian")
    M, q = easgd_moment_system(p, eta, alpha, law.h, law.var_a2, law.h * sigma_eps**2, b)
    S = torch.ones(4, dtype=F64)
    if p == 1:
        S[1] = 0.0
    for _ in range(steps):
        S = M @ S + q
    obj = RandomInputObjective(law, chains, p, b, sigma_eps, seed)
    res = run_easgd(obj, torch.ones(chains, dtype=F64), p, eta, steps, alpha=alpha, mode="sync", record_every=steps)
    samples = easgd_moment_samples(res.workers, res.center)
    se = samples.std(dim=1) / math.sqrt(chains)
    return {"theory": S.numpy(), "mc": samples.mean(dim=1).numpy(), "se": se.numpy()}


# ---------------------------------------------------------------------------------------------
# Part C: momentum = negative elastic force
# ---------------------------------------------------------------------------------------------
def momentum_identity(eta: float = 0.05, delta: float = 0.9, h: float = 2.0, steps: int = 300, seed: int = 0,
                      beta_off: float = 0.9) -> dict:
    """Heavy ball and one-worker EASGD (:math:`\\alpha=-\\delta,\\ \\beta=1`, and :math:`\\beta` = ``beta_off``) on
    the same noise stream of a 10-D quadratic with curvature ``h``, from :math:`5\\cdot\\mathbf 1`."""
    obj = AdditiveNoiseQuadratic(torch.full((10,), h, dtype=F64), 1.0, 1, seed)
    x0 = 5.0 * torch.ones(10, dtype=F64)
    hb = heavy_ball_run(obj, x0, eta, delta, steps)
    ea, center = elastic_pair_run(obj, x0, eta, -delta, 1.0, steps)
    off, _ = elastic_pair_run(obj, x0, eta, -delta, beta_off, steps)
    return {"heavy_ball": hb, "easgd": ea, "center": center, "off": off, "beta_off": beta_off,
            "max_diff": float((hb - ea).abs().max()), "center_lag": float((center[1:] - hb[:-1]).abs().max()),
            "off_diff": float((hb - off).abs().max())}


def plot_momentum_identity(res: dict) -> plt.Figure:
    """First coordinate of heavy ball, of one-worker EASGD with beta = 1 (markers) and with beta != 1."""
    fig, ax = plt.subplots(figsize=(8, 3.8))
    t = np.arange(res["heavy_ball"].shape[0])
    ax.plot(t, res["heavy_ball"][:, 0], color=COLORS["MSGD"], lw=2, label="heavy ball, δ")
    ax.plot(t[::6], res["easgd"][::6, 0], "o", color=COLORS["EASGD"], ms=4, mfc="none", label="one-worker EASGD, α = −δ, β = 1")
    ax.plot(t, res["off"][:, 0], color="0.5", ls="--", label=f"one-worker EASGD, α = −δ, β = {res['beta_off']}")
    ax.set(xlabel="step t", ylabel="first coordinate x_t", title="Momentum is an elastic force that pushes away")
    ax.legend(fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------------
# Part D: the saddle trap
# ---------------------------------------------------------------------------------------------
TRAP_START = ((1.001, 0.5), (-1.0, -0.3))


def _trap_start() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(TRAP_START, dtype=F64), torch.zeros(2, dtype=F64)


def saddle_sweep(rhos: np.ndarray, steps: int, eta: float = 0.05) -> dict[str, np.ndarray]:
    """Noise-free synchronous EASGD (p = 2) from our prototype's start: final center distance to the saddle and the
    workers' final :math:`|x|`, one run per coupling."""
    W0, c0 = _trap_start()
    X, c = double_well_easgd(torch.tensor(rhos, dtype=F64), eta, steps, W0, c0)
    return {"rho": np.asarray(rhos), "center": c.norm(dim=1).numpy(), "workers": X[:, :, 0].abs().mean(dim=1).numpy()}


def schur_curve(rhos: np.ndarray, p: int = 2) -> np.ndarray:
    """Smallest eigenvalue of the EASGD objective's Hessian at the split state, for each coupling (< 1)."""
    return np.array([float(torch.linalg.eigvalsh(split_hessian(float(r), p)).min()) for r in rhos])


def plot_saddle(coarse: dict, rhos_h: np.ndarray, eig: np.ndarray) -> plt.Figure:
    """Left: final positions against the coupling, with sqrt(1 - rho); right: the Hessian's smallest eigenvalue."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(coarse["rho"], coarse["center"], "o-", color=COLORS["EASGD"], label="|center| (0: on the saddle)")
    ax1.plot(coarse["rho"], coarse["workers"], "s--", color="C0", label="workers' |x|")
    r = np.linspace(0.01, 0.999, 200)
    ax1.plot(r, np.sqrt(1 - r), "k:", label="split state a = √(1 − ρ)")
    ax1.axvline(trap_threshold(), color="0.5", lw=1, label="ρ = 2/3")
    ax1.set(xlabel="coupling ρ = α/η", ylabel="final position", title="Double well, p = 2, 20 000 noise-free steps")
    ax1.legend(fontsize=8)
    ax2.plot(rhos_h, eig, color=COLORS["EASGD"])
    ax2.axhline(0, color="k", lw=0.5)
    ax2.axvline(trap_threshold(), color="0.5", lw=1)
    ax2.set(xlabel="coupling ρ", ylabel="smallest Hessian eigenvalue",
            title="Split state: a local minimum of the EASGD objective iff ρ < 2/3")
    return fig


def noise_escape(rhos=(0.5, 0.6, 0.65), noises=(0.0, 0.05, 0.2), runs: int = 50, steps: int = 20_000,
                 eta: float = 0.05, seed: int = 0) -> np.ndarray:
    """Fraction of ``runs`` noisy runs whose center leaves the saddle (|x| > 0.5) within ``steps``:
    array (len(rhos), len(noises))."""
    W0, c0 = _trap_start()
    rho = torch.tensor(rhos, dtype=F64).repeat_interleave(len(noises) * runs)
    s = torch.tensor(noises, dtype=F64).repeat_interleave(runs).repeat(len(rhos))
    _, c = double_well_easgd(rho, eta, steps, W0, c0, noise=s, seed=seed)
    return (c[:, 0].abs() > 0.5).reshape(len(rhos), len(noises), runs).double().mean(dim=2).numpy()


def plot_noise_escape(esc: np.ndarray, rhos=(0.5, 0.6, 0.65), noises=(0.0, 0.05, 0.2)) -> plt.Figure:
    """Grouped bars: fraction of noisy runs escaping the saddle, per coupling and noise level."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / len(noises)
    x = np.arange(len(rhos))
    for j, s in enumerate(noises):
        ax.bar(x + (j - (len(noises) - 1) / 2) * width, 100 * esc[:, j], width, label=f"noise std {s:g}", color=f"C{j}")
    ax.set_xticks(x, [f"ρ = {r:g}" for r in rhos])
    ax.set(ylabel="runs escaping (%)", ylim=(0, 105), title="Gradient noise kicks the center off the saddle")
    ax.legend(fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------------
# Part E: EASGD-Tree against flat EASGD
# ---------------------------------------------------------------------------------------------
def tree_race(s: Settings, etas=(0.05, 0.01), flat_taus=(1, 4, 16), leaf_taus=(1, 4), top_tau: int = 16,
              p: int = 16) -> dict[tuple, object]:
    """16 workers on chapter 02's 10-D quadratic from :math:`5\\cdot\\mathbf 1`: flat synchronous EASGD
    (:math:`\\alpha=0.9/16`) and a 4 x 4 tree (:math:`\\alpha=0.9/4` on every edge)."""
    out = {}
    x0 = 5.0 * torch.ones(10, dtype=F64, device=s.device)
    for eta in etas:
        for tau in flat_taus:
            obj = make_objective("quadratic", p, device=s.device)
            out[("flat", eta, tau)] = run_easgd_tree(obj, x0, Tree.flat(p), eta, s.tree_rounds, taus=tau,
                                                     record_every=s.record_every)
        for tau in leaf_taus:
            obj = make_objective("quadratic", p, device=s.device)
            out[("tree", eta, tau)] = run_easgd_tree(obj, x0, Tree.regular(4, 2), eta, s.tree_rounds,
                                                     taus=(tau, top_tau), record_every=s.record_every)
    return out


def _tail(h, k: int = 500) -> float:
    r = np.array(h.rounds)
    return float(np.mean(np.array(h.center_loss)[r > r[-1] - k]))


def _first_below(h, level: float) -> int | None:
    return next((r for r, v in zip(h.rounds, h.center_loss) if v < level), None)


def tree_table(runs: dict) -> list[dict]:
    """One row per run: mean root loss over the last 500 rounds, root messages, first round below 0.5."""
    return [{"kind": k, "eta": eta, "tau": tau, "tail": _tail(r.history), "messages": r.history.messages[-1],
             "to_0.5": _first_below(r.history, 0.5)} for (k, eta, tau), r in runs.items()]


def plot_tree_race(runs: dict, eta: float = 0.05) -> plt.Figure:
    """Root loss against rounds and against messages received by the root."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    styles = {1: "-", 4: "--", 16: ":"}
    for (kind, e, tau), r in runs.items():
        if e != eta:
            continue
        h = r.history
        label = f"flat τ={tau}" if kind == "flat" else f"tree τ=({tau}, 16)"
        color = COLORS["EASGD"] if kind == "flat" else COLORS["tree"]
        ax1.plot(h.rounds, h.center_loss, color=color, ls=styles[tau], label=label)
        ax2.plot(np.maximum(h.messages, 1), h.center_loss, color=color, ls=styles[tau], label=label)
    ax1.set(yscale="log", xscale="log", xlabel="round", ylabel="root loss", title=f"16 workers, η = {eta}")
    ax2.set(xscale="log", xlabel="messages received by the root", title="The same against root traffic")
    ax1.legend(fontsize=8)
    return fig


def tree_dist_check(rounds: int = 20) -> dict[str, float]:
    """EASGD-Tree (2 x 2, periods (1, 2)) on 4 gloo processes against the simulation: largest difference of the
    node variables and whether every node's replicas are bit-identical across ranks."""
    from harmonia.distributed.launch import run_batch, spawn

    tree = Tree.regular(2, 2)
    cfg = {"parents": tree.parents, "eta": 0.05, "rounds": rounds, "taus": [1, 2]}
    (res,) = spawn(tree.p, run_batch, [cfg])
    sim = run_easgd_tree(make_objective("quadratic", tree.p), res["x0"], tree, 0.05, rounds, taus=(1, 2))
    R = res["replicas"]
    identical = all(
        all(torch.equal(R[w, k], R[w0, k]) for w in range(R.shape[0]) if not torch.isnan(R[w, k]).any())
        for k in range(len(tree)) for w0 in [next(w for w in range(R.shape[0]) if not torch.isnan(R[w, k]).any())]
    )
    return {"max_diff": float((res["nodes"] - sim.nodes).abs().max()), "replicas_identical": identical}


# ---------------------------------------------------------------------------------------------
# Part F: Jacobi vs Gauss-Seidel
# ---------------------------------------------------------------------------------------------
def _linear(h: float = 1.0):
    return lambda x, i: h * x


def sweep_radii(p: int, u: float, beta: float = 0.9) -> dict[str, float]:
    """Per-round spectral radius of EASGD (Jacobi and Gauss-Seidel sweeps) and DOWNPOUR (Gauss-Seidel), 1-D,
    noise-free, :math:`\\alpha=\\beta/p`."""
    mv = easgd_moves(p, u, beta / p, _linear())
    return {
        "jacobi": spectral_radius(sweep_map(mv, [1] * (p + 1), "jacobi")),
        "gauss_seidel": spectral_radius(sweep_map(mv, [1] * (p + 1), "gauss_seidel")),
        "downpour": spectral_radius(sweep_map(downpour_moves(p, u, _linear()), [1] * (2 * p + 1), "gauss_seidel")),
        "sgd": abs(1 - u),
    }


def plot_sweep_radii(p: int = 4, us: np.ndarray | None = None) -> plt.Figure:
    """Per-round radius against :math:`u=\\eta h` for the three sweeps and SGD."""
    us = np.linspace(0.02, 1.0, 40) if us is None else us
    rows = [sweep_radii(p, float(u)) for u in us]
    fig, ax = plt.subplots(figsize=(8, 3.8))
    ax.plot(us, [r["sgd"] for r in rows], color=COLORS["SGD"], lw=2.5, label="SGD, one worker: |1 − u|")
    ax.plot(us, [r["jacobi"] for r in rows], color=COLORS["EASGD"], label="EASGD, Jacobi (synchronous)")
    ax.plot(us, [r["gauss_seidel"] for r in rows], color=COLORS["EASGD"], ls="--", label="EASGD, Gauss–Seidel (round robin)")
    ax.plot(us, [r["downpour"] for r in rows], color=COLORS["DOWNPOUR"], ls=":", label="DOWNPOUR, Gauss–Seidel")
    ax.axhline(1, color="k", lw=0.5)
    ax.set(xlabel="u = η h", ylabel="spectral radius per round", ylim=(0, 1.6),
           title=f"One family, p = {p}: per-round contraction of the noise-free 1-D quadratic")
    ax.legend(fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------------
# Widgets
# ---------------------------------------------------------------------------------------------
def plot_speedup_explorer(noise: str = "additive", law: str = "gaussian", k: int = 4, delta: float = 0.5,
                          beta: float = 0.9) -> plt.Figure:
    """Widget 1: second-moment rate against eta for SGD with batch k, heavy ball (delta, batch k) and EASGD with
    k workers, under additive noise (:math:`\\kappa=0`) or random inputs of the chosen law; stable steps shaded
    for SGD, and iterations-to-1e-3 of SGD against the batch with the knee at kappa."""
    var_m = 0.0 if noise == "additive" else LAWS[law].var_a2
    etas = np.linspace(0.005, 2.2, 220)
    sgd = np.array([sgd_moment_step(e, 1.0, var_m, 1.0, k)[0] for e in etas])
    hb = np.array([spectral_radius(heavy_ball_moment_system(e, delta, 1.0, var_m, 1.0, k)[0]) for e in etas])
    ea = np.array([spectral_radius(easgd_moment_system(k, e, beta / k, 1.0, var_m, 1.0, 1)[0]) for e in etas])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.fill_between(etas, 0, 1, where=sgd < 1, color="0.9", label="SGD stable")
    ax1.plot(etas, sgd, color=COLORS["SGD"], label=f"SGD, batch {k}")
    ax1.plot(etas, hb, color=COLORS["MSGD"], label=f"MSGD δ={delta:.2f}, batch {k}")
    ax1.plot(etas, ea, color=COLORS["EASGD"], label=f"EASGD, {k} workers of batch 1")
    ax1.set(xlabel="η (h = 1)", ylabel="second-moment rate per step", ylim=(0, 1.5),
            title=f"{noise} noise" + ("" if noise == "additive" else f", {law} inputs (κ = {LAWS[law].kappa:g})"))
    ax1.legend(fontsize=8)
    kappa = 0.0 if noise == "additive" else LAWS[law].kappa
    its = [iterations_to_shrink(sgd_optimum(1.0, kappa, int(b))[1]) for b in BATCHES]
    # a rate of 0 (additive noise at u = 1) shrinks the error in one step: at least one iteration, never fewer
    ax2.plot(BATCHES, np.maximum(its, 1.0), "o-", color=COLORS["SGD"])
    if kappa > 0:
        ax2.axvline(kappa, color="0.5", ls=":", label="b = κ")
        ax2.legend(fontsize=8)
    ax2.set(xscale="log", yscale="log", xlabel="batch b", ylabel="iterations to shrink E x² by 1e-3 (best η)",
            title="Additive noise: one step (u = 1) at any batch" if kappa == 0 else "Linear speedup until b ≈ κ")
    return fig


def plot_spring_explorer(delta: float = 0.9, beta: float = 1.0, steps: int = 150) -> plt.Figure:
    """Widget 2: heavy ball (delta) against one-worker EASGD with alpha = -delta and the chosen beta."""
    res = momentum_identity(delta=delta, steps=steps, beta_off=beta)
    fig = plot_momentum_identity(res)
    fig.axes[0].set_title(f"max |heavy ball − EASGD(β = {beta:.2f})| = {res['off_diff']:.2e}")
    return fig


def plot_trap_explorer(rho: float = 0.6, noise: float = 0.0, steps: int = 4000, chunk: int = 50,
                       eta: float = 0.05, seed: int = 0) -> plt.Figure:
    """Widget 3: the two workers and the center on the double well's contours, with the verdict."""
    W0, c0 = _trap_start()
    Ws, cs = [W0.clone()], [c0.clone()]
    rho_t = torch.tensor([rho], dtype=F64)
    for k in range(steps // chunk):
        X, c = double_well_easgd(rho_t, eta, chunk, Ws[-1], cs[-1], noise=noise, seed=seed + k)
        Ws.append(X[0])
        cs.append(c[0])
    W, C = torch.stack(Ws).numpy(), torch.stack(cs).numpy()
    g = np.linspace(-1.6, 1.6, 120)
    xx, yy = np.meshgrid(g, np.linspace(-0.8, 0.8, 80))
    ff = DoubleWell.f(torch.tensor(np.stack([xx, yy], -1))).numpy()
    fig, ax = plt.subplots(figsize=(7.5, 4))
    ax.contour(xx, yy, ff, levels=15, colors="0.75", linewidths=0.8)
    for i in range(W.shape[1]):
        ax.plot(W[:, i, 0], W[:, i, 1], color="C0", lw=1, label="workers" if i == 0 else None)
    ax.plot(C[:, 0], C[:, 1], color=COLORS["EASGD"], lw=2, label="center")
    ax.plot([0], [0], "kx", ms=10, label="saddle")
    trapped = float(np.linalg.norm(C[-1])) < 0.1
    verdict = "trapped on the saddle" if trapped else "escaped"
    theory = "theory: trap for ρ < 2/3" + (f", a = {split_equilibrium(rho):.3f}" if rho < 1 else ", no split state")
    ax.set(xlabel="x", ylabel="y", title=f"ρ = {rho:.2f}, noise {noise:.2f}: {verdict} ({theory})")
    ax.legend(fontsize=8, loc="upper left")
    return fig


def plot_tree_explorer(degree: int = 4, depth: int = 2, tau_leaf: int = 1, tau_top: int = 16, eta: float = 0.05,
                       rounds: int = 1000) -> plt.Figure:
    """Widget 4: root loss against root messages for a regular tree, with flat EASGD (tau = 1) on the same
    workers for reference."""
    tree = Tree.regular(degree, depth)
    taus = (tau_leaf,) if depth == 1 else (tau_leaf,) + (tau_top,) * (depth - 1)
    x0 = 5.0 * torch.ones(10, dtype=F64)
    t = run_easgd_tree(make_objective("quadratic", tree.p), x0, tree, eta, rounds, taus=taus, record_every=5)
    f = run_easgd_tree(make_objective("quadratic", tree.p), x0, Tree.flat(tree.p), eta, rounds, taus=1, record_every=5)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for r, name, color in ((f, "flat, τ = 1", COLORS["EASGD"]), (t, f"tree {degree}^{depth}, τ = {taus}", COLORS["tree"])):
        ax1.plot(r.history.rounds, r.history.center_loss, color=color, label=name)
        ax2.plot(np.maximum(r.history.messages, 1), r.history.center_loss, color=color, label=name)
    ax1.set(yscale="log", xscale="log", xlabel="round", ylabel="root loss", title=f"{tree.p} workers, η = {eta}")
    ax2.set(xscale="log", xlabel="messages received by the root",
            title=f"root messages: flat {f.history.messages[-1]}, tree {t.history.messages[-1]}")
    ax1.legend(fontsize=8)
    return fig


def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """Parts A and E at their smallest sizes on ``base.device`` (64 chains, 40 tree rounds): the
    tree's centers, by name. Used by the device tests and ``gpucheck``."""
    s = replace(settings(base), mc_chains=64, mc_rounds=20, tree_rounds=40, record_every=10)
    var = additive_variance(0.1, s, ps=(1, 4))
    if not all(math.isfinite(v) for v in var["mc"].values()):
        raise RuntimeError(f"the additive-noise Monte Carlo gave {var['mc']} on {s.device}")
    runs = tree_race(s, etas=(0.05,), flat_taus=(4,), leaf_taus=(4,))
    return {"E: flat EASGD nodes": runs[("flat", 0.05, 4)].nodes, "E: tree nodes": runs[("tree", 0.05, 4)].nodes}
