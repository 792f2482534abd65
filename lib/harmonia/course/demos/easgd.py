"""Chapter 02 (EASGD): the experiments of parts A-E, their figures and the widgets' callbacks.

The methods live in :mod:`harmonia.distributed`; this module runs them in the settings of our prototype.
Every callback is a plain function, tested headless in ``tests/course/test_demo_easgd.py``.
"""

from __future__ import annotations

import functools
import math
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from harmonia.course.settings import ChapterSettings, extend
from harmonia.distributed import AdditiveNoiseQuadratic, make_objective, run_downpour, run_easgd, run_msgd
from harmonia.distributed.algorithms import RunResult
from harmonia.distributed.analysis import (
    admm_rr_map,
    easgd_large_p_var,
    easgd_rr_map,
    easgd_sync_center_var,
    minibatch_sgd_var,
    spectral_radius,
)

__all__ = [
    "Settings", "settings", "rr_radius_grid", "admm_radius_grid", "plot_stability_maps", "trajectories",
    "plot_trajectories", "variance_experiment", "plot_variance", "race", "plot_race", "digits_runs",
    "plot_digits", "digits_verdicts", "torchrun_experiment", "plot_stability_explorer", "plot_admm_explorer", "plot_race_explorer", "admm_state", "digits_table",
    "ETA_GRID_ADMM", "RHO_GRID_ADMM", "device_check",
]

F64 = torch.float64
ETA_GRID_ADMM = np.linspace(1e-4, 1e-2, 25)
RHO_GRID_ADMM = np.linspace(0.1, 10, 25)
COLORS = {"EASGD": "C3", "EAMSGD": "C1", "DOWNPOUR": "C0", "MSGD": "0.4", "ADMM": "C0"}


@dataclass(frozen=True)
class Settings(ChapterSettings):
    """Mode, device and the sizes of the chapter's experiments (fast mode by default)."""

    race_rounds: int = 2000
    digits_rounds: int = 250
    digits_hidden: int = 16
    record_every: int = 25
    taus: tuple[int, ...] = (1, 16)
    p: int = 4


def settings(base: ChapterSettings | None = None) -> Settings:
    """``base`` (default: :func:`harmonia.course.settings.current`) with the sizes of its mode: fast
    mode as above; full mode: 4000-round races, 2000 digits rounds, tau in {1, 4, 16, 64}."""
    return extend(Settings, base, {"race_rounds": 4000, "digits_rounds": 2000, "digits_hidden": 64, "taus": (1, 4, 16, 64)})


# ---------------------------------------------------------------------------------------------
# Part A: stability of the round-robin schemes
# ---------------------------------------------------------------------------------------------
def rr_radius_grid(p: int = 1, n: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spectral radius of round-robin EASGD over :math:`\\eta h\\in[0,2.2]`, :math:`\\alpha\\in[0,1.2]`."""
    us, alphas = np.linspace(0.0, 2.2, n), np.linspace(0.0, 1.2, n)
    R = np.array([[spectral_radius(easgd_rr_map(p, u, a)) for u in us] for a in alphas])
    return us, alphas, R


def admm_radius_grid(p: int) -> np.ndarray:
    """Spectral radius of round-robin ADMM on our prototype's 25 x 25 grid (rows: rho, columns: eta)."""
    return np.array([[spectral_radius(admm_rr_map(p, eta, rho)) for eta in ETA_GRID_ADMM] for rho in RHO_GRID_ADMM])


def plot_stability_maps(rr: tuple, admm: dict[int, np.ndarray]) -> plt.Figure:
    """Left: EASGD (p=1) radius with the paper's boundary; right: ADMM's unstable region for each p."""
    us, alphas, R = rr
    fig, axes = plt.subplots(1, 1 + len(admm), figsize=(5 + 4.5 * len(admm), 4))
    im = axes[0].pcolormesh(us, alphas, np.minimum(R, 1.5), cmap="viridis", shading="auto")
    axes[0].contour(us, alphas, R, levels=[1.0], colors="w", linewidths=1.5)
    u = np.linspace(0, 2, 200)
    axes[0].plot(u, (4 - 2 * u) / (4 - u), "r--", lw=1.5, label="α = (4 − 2ηh)/(4 − ηh)")
    axes[0].set(xlabel="η h", ylabel="α", title="EASGD round robin (p = 1): radius (white: = 1)")
    axes[0].legend(fontsize=8, loc="upper right")
    fig.colorbar(im, ax=axes[0], shrink=0.8)
    for ax, (p, A) in zip(axes[1:], admm.items()):
        im = ax.pcolormesh(ETA_GRID_ADMM, RHO_GRID_ADMM, A - 1, cmap="RdBu_r", vmin=-3e-3, vmax=3e-3, shading="auto")
        ax.set(xlabel="η", ylabel="ρ", title=f"ADMM round robin, p = {p}: radius − 1 (red: unstable)")
        fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def trajectories(p: int, eta: float = 1e-3, rho: float = 2.5, rounds: int = 20_000, x0: float = 1000.0) -> dict[str, np.ndarray]:
    """:math:`|\\tilde x|` per round for ADMM and EASGD (:math:`\\alpha=\\eta\\rho`) started at ``x0`` (no noise)."""
    F = admm_rr_map(p, eta, rho)
    M = easgd_rr_map(p, eta, eta * rho)
    s_admm = admm_state(p, x0)
    s_easgd = torch.full((p + 1,), x0, dtype=F64)
    out = {"ADMM": np.empty(rounds), "EASGD": np.empty(rounds)}
    for t in range(rounds):
        s_admm, s_easgd = F @ s_admm, M @ s_easgd
        out["ADMM"][t], out["EASGD"][t] = abs(float(s_admm[-1])), abs(float(s_easgd[-1]))
    return out


def plot_trajectories(runs: dict[int, dict[str, np.ndarray]]) -> plt.Figure:
    """:math:`|\\tilde x_t|` of ADMM and EASGD for each p (log scale)."""
    fig, ax = plt.subplots(figsize=(8, 4))
    palette = {"ADMM": ("C0", "C2"), "EASGD": ("C3", "C1")}  # one colour per (scheme, p)
    for k, ((p, tr), ls) in enumerate(zip(runs.items(), ("-", "--"))):
        for name, y in tr.items():
            ax.plot(np.arange(1, len(y) + 1), y, ls=ls, color=palette[name][k % 2], label=f"{name}, p = {p}")
    ax.set(xscale="log", yscale="log", xlabel="round", ylabel="|center|",
           title="Round robin from x = 1000, η = 1e-3, ρ = 2.5 (α = ηρ)")
    ax.legend(fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------------
# Part B: variance of the center under synchronous EASGD
# ---------------------------------------------------------------------------------------------
def variance_experiment(ps: tuple[int, ...] = (1, 4, 16), betas: np.ndarray | None = None, eta: float = 0.1,
                        chains: int = 4000, rounds: int = 250, seed: int = 0, device: torch.device | str = "cpu") -> dict:
    """Closed form vs Monte Carlo of :math:`\\mathbb V[\\tilde x_\\infty]`, 1-D, :math:`h=\\sigma=1`, :math:`\\alpha=\\beta/p`.

    The Monte Carlo runs ``chains`` independent 1-D problems as the coordinates of one simulation
    (the quadratic is separable), from the stationary mean 0, and measures the spread of the center
    across chains after ``rounds`` (burn-in long enough for these settings). The standard error of a
    sample variance of ``chains`` Gaussian values is :math:`V\\sqrt{2/(\\text{chains}-1)}`. The chains
    run on ``device`` (pass ``settings.device``); their noise is drawn on the CPU, as in every engine.
    """
    betas = np.linspace(0.1, 0.9, 5) if betas is None else np.asarray(betas, dtype=float)
    out = {"betas": betas, "closed": {}, "mc": {}, "se": {}}
    for p in ps:
        closed, mc, se = [], [], []
        for b in betas:
            a = float(b) / p
            obj = AdditiveNoiseQuadratic(torch.ones(chains, dtype=F64, device=device), 1.0, p, seed=seed)
            res = run_easgd(obj, torch.zeros(chains, dtype=F64, device=device), p, eta, rounds, alpha=a, mode="sync", record_every=rounds)
            v = float(res.center.var())
            closed.append(easgd_sync_center_var(p, eta, a))
            mc.append(v)
            se.append(v * math.sqrt(2 / (chains - 1)))
        out["closed"][p], out["mc"][p], out["se"][p] = np.array(closed), np.array(mc), np.array(se)
    return out


def plot_variance(var: dict, eta: float = 0.1, beta: float = 0.9) -> plt.Figure:
    """Left: closed form and Monte Carlo vs beta = p alpha; right: p V vs p towards the large-p limit, against mini-batch SGD."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for k, p in enumerate(var["closed"]):
        ax1.plot(var["betas"], var["closed"][p], color=f"C{k}", label=f"closed form, p = {p}")
        ax1.errorbar(var["betas"], var["mc"][p], yerr=2 * var["se"][p], fmt="o", color=f"C{k}", ms=4,
                     label=f"Monte Carlo ± 2 s.e., p = {p}")
    ax1.set(xlabel="β = p α", ylabel="stationary Var[center]", yscale="log", title=f"Synchronous EASGD, η = {eta}, h = σ = 1")
    ax1.legend(fontsize=7)
    ps = np.array([1, 2, 4, 10, 30, 100, 1000, 10_000])
    pv = [p * easgd_sync_center_var(int(p), eta, beta / p) for p in ps]
    ax2.plot(ps, pv, "o-", color="C3", label=f"p · Var, EASGD (β = p α = {beta})")
    ax2.axhline(easgd_large_p_var(beta, eta), color="C3", ls="--", label="large-p limit")
    ax2.axhline(minibatch_sgd_var(1, eta), color="0.4", ls=":", label="p · Var, mini-batch SGD (batch p)")
    ratio = easgd_large_p_var(beta, eta) / minibatch_sgd_var(1, eta)
    ax2.set(xscale="log", xlabel="workers p", ylabel="p · Var[center]",
            title=f"β = {beta}: large-p limit {100 * (1 - ratio):.0f} % below mini-batch SGD")
    ax2.legend(fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------------
# Part C: the asynchronous race on a 10-D quadratic
# ---------------------------------------------------------------------------------------------
RACE = ((1, 0.05), (16, 0.05), (64, 0.05))


def race(s: Settings, p: int = 4, settings_: tuple = RACE) -> dict[tuple[str, int, float], RunResult]:
    """EASGD and DOWNPOUR, round robin, on the 10-D noisy quadratic of our prototype from :math:`x_0=5\\cdot\\mathbf 1`."""
    out = {}
    for tau, eta in settings_:
        for name in ("EASGD", "DOWNPOUR"):
            obj = make_objective("quadratic", p, device=s.device)
            x0 = 5.0 * torch.ones(obj.n, dtype=F64, device=s.device)
            if name == "EASGD":
                out[(name, tau, eta)] = run_easgd(obj, x0, p, eta, s.race_rounds, tau=tau, record_every=10)
            else:
                out[(name, tau, eta)] = run_downpour(obj, x0, p, eta, s.race_rounds, tau=tau, record_every=10)
    return out


def tail_loss(res: RunResult, k: int = 50) -> float:
    """Mean center loss over the last ``k`` records (NaN when the run diverged)."""
    return float("nan") if res.history.diverged else float(np.mean(res.history.center_loss[-k:]))


def plot_race(runs: dict, p: int = 4) -> plt.Figure:
    """Center loss per round for each (method, tau, eta) of a race with ``p`` workers; diverged runs end with a
    cross."""
    fig, ax = plt.subplots(figsize=(9, 4.5))
    styles = {1: "-", 4: "-.", 16: "--", 64: ":"}
    for (name, tau, eta), res in runs.items():
        y = np.array(res.history.center_loss, dtype=float)
        x = np.array(res.history.rounds)
        ax.plot(x, y, color=COLORS[name], ls=styles.get(tau, "-"), label=f"{name} τ={tau} η={eta:g}")
        if res.history.diverged:
            last = np.flatnonzero(np.isfinite(y))[-1]
            ax.plot(x[last], y[last], "x", color=COLORS[name], ms=10, mew=2)
    ax.set(yscale="log", xlabel="round", ylabel="center loss F(x̃)", ylim=(1e-3, 1e4),
           title=f"Round robin, p = {p}, 10-D noisy quadratic (× = diverged)")
    ax.legend(fontsize=7, ncol=2)
    return fig


def rounds_to(res: RunResult, level: float) -> int | None:
    """First recorded round where the center loss is below ``level``."""
    for r, v in zip(res.history.rounds, res.history.center_loss):
        if v < level:
            return r
    return None


# ---------------------------------------------------------------------------------------------
# Part D: digits with 4 workers
# ---------------------------------------------------------------------------------------------
DIGITS_METHODS = {"EASGD": (0.05, 0.2), "EAMSGD": (0.01, 0.05), "DOWNPOUR": (0.05, 0.2)}


def digits_runs(s: Settings) -> dict[tuple[str, int], dict[float, RunResult]]:
    """Every method x tau x learning rate on the digits MLP, plus MSGD (p = 1) at the same rates as EAMSGD."""
    out: dict = {}
    for name, etas in DIGITS_METHODS.items():
        for tau in s.taus:
            runs = {}
            for eta in etas:
                obj = make_objective("digits", s.p, hidden=s.digits_hidden, device=s.device)
                x0 = obj.initial()
                if name == "DOWNPOUR":
                    runs[eta] = run_downpour(obj, x0, s.p, eta, s.digits_rounds, tau=tau, record_every=s.record_every)
                else:
                    runs[eta] = run_easgd(obj, x0, s.p, eta, s.digits_rounds, tau=tau, momentum=0.9 if name == "EAMSGD" else 0.0,
                                          record_every=s.record_every)
            out[(name, tau)] = runs
    obj = make_objective("digits", 1, hidden=s.digits_hidden, device=s.device)
    out[("MSGD", 1)] = {eta: run_msgd(obj, obj.initial(), eta, s.digits_rounds, momentum=0.9, record_every=s.record_every)
                        for eta in DIGITS_METHODS["EAMSGD"]}
    return out


def best(runs: dict[float, RunResult]) -> tuple[float, RunResult]:
    """The learning rate with the lowest final center test error (diverged runs excluded)."""
    ok = {eta: r for eta, r in runs.items() if not r.history.diverged}
    if not ok:
        eta = min(runs)
        return eta, runs[eta]
    eta = min(ok, key=lambda e: ok[e].history.center_error[-1])
    return eta, ok[eta]


def digits_verdicts(results: dict, s: Settings) -> dict[str, bool]:
    """Our prototype's soft targets, for the largest tau against tau = 1."""
    T = max(s.taus)
    err = {key: best(runs)[1].history.center_error[-1] for key, runs in results.items()}
    div = {key: best(runs)[1].history.diverged for key, runs in results.items()}
    return {
        f"EASGD at tau={T} within +2 points of tau=1, with {T}x fewer messages": err[("EASGD", T)] <= err[("EASGD", 1)] + 0.02,
        f"EAMSGD at tau={T} within +2 points of tau=1": err[("EAMSGD", T)] <= err[("EAMSGD", 1)] + 0.02,
        f"DOWNPOUR at tau={T} worse than at tau=1 (or diverged)": div[("DOWNPOUR", T)] or err[("DOWNPOUR", T)] > err[("DOWNPOUR", 1)],
    }


def digits_table(results: dict) -> list[tuple[str, int, float, float, int]]:
    """One row per (method, tau): the chosen learning rate, its final center test error (a fraction; NaN when
    every rate diverged) and the messages it exchanged with the center."""
    rows = []
    for (name, tau), runs in results.items():
        eta, res = best(runs)
        err = float("nan") if res.history.diverged else float(res.history.center_error[-1])
        rows.append((name, tau, eta, err, int(res.history.messages[-1])))
    return rows


def plot_digits(results: dict) -> plt.Figure:
    """Center test error vs rounds and vs messages, best learning rate of each (method, tau)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    styles = {1: "-", 4: "-.", 16: "--", 64: ":"}
    for (name, tau), runs in results.items():
        eta, res = best(runs)
        h = res.history
        label = f"{name} τ={tau} (η={eta:g})"
        ax1.plot(h.rounds, 100 * np.array(h.center_error), color=COLORS[name], ls=styles[tau], label=label)
        if name != "MSGD":
            ax2.plot(np.maximum(h.messages, 1), 100 * np.array(h.center_error), color=COLORS[name], ls=styles[tau], label=label)
    ax1.set(xlabel="round (steps per worker)", ylabel="center test error (%)", ylim=(0, 60), title="Digits, p = 4 workers, MLP")
    ax2.set(xscale="log", xlabel="messages exchanged with the center", title="The same against communication")
    ax1.legend(fontsize=7)
    return fig


# ---------------------------------------------------------------------------------------------
# Part E: the same on torch.distributed, launched with torchrun
# ---------------------------------------------------------------------------------------------
def torchrun_experiment(p: int = 4, tau: int = 16, eta: float = 0.05, rounds: int = 200, timeout: float = 120.0) -> dict:
    """Run asynchronous EASGD on the quadratic with ``torchrun`` (1 master + ``p`` workers, gloo,
    round-robin server) and the simulation with the same streams; return both centers."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.pt"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={p + 1}",
               "-m", "harmonia.distributed.launch", "--algo", "easgd", "--mode", "async", "--p", str(p),
               "--tau", str(tau), "--eta", str(eta), "--rounds", str(rounds), "--problem", "quadratic", "--out", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"torchrun failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        dist_result = torch.load(out, weights_only=True)
    obj = make_objective("quadratic", p)
    sim = run_easgd(obj, 5.0 * torch.ones(obj.n, dtype=F64), p, eta, rounds, tau=tau, record_every=rounds)
    return {"dist_center": dist_result["center"], "sim_center": sim.center, "command": " ".join(cmd[2:]).replace(tmp, "<tmp>")}


# ---------------------------------------------------------------------------------------------
# Widgets
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=32)
def _explorer_grid(p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The EASGD explorer's 30 x 30 radius map, computed once per p and reused by every slider move."""
    us, alphas = np.linspace(0.02, 2.2, 30), np.linspace(0.02, 1.2, 30)
    R = np.array([[spectral_radius(easgd_rr_map(p, u, a)) for u in us] for a in alphas])
    return us, alphas, R


def _center_trajectory(M: torch.Tensor, s: torch.Tensor, rounds: int) -> np.ndarray:
    """:math:`|\\tilde x_t|` (the last entry of the state) for ``rounds`` applications of ``M``, capped at 1e30."""
    A, v = M.numpy(), s.numpy().copy()
    out = np.empty(rounds)
    for t in range(rounds):
        v = A @ v
        out[t] = min(abs(v[-1]), 1e30)
    return np.maximum(out, 1e-30)


def plot_stability_explorer(eta_h: float = 0.5, alpha: float = 0.3, p: int = 3, rounds: int = 3000) -> plt.Figure:
    """Widget 1a: spectral radius map of round-robin EASGD (p workers) over (eta h, alpha) with the current
    point, and the trajectory :math:`|\\tilde x_t|` from 1000."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    us, alphas, R = _explorer_grid(p)
    M = easgd_rr_map(p, eta_h, alpha)
    im = ax1.pcolormesh(us, alphas, np.minimum(R, 1.5), cmap="viridis", shading="auto", vmin=0, vmax=1.5)
    ax1.contour(us, alphas, R, levels=[1.0], colors="w")
    ax1.plot([eta_h], [alpha], "r*", ms=14)
    ax1.set(xlabel="η h (dimensionless)", ylabel="α (dimensionless)", title=f"EASGD round robin, p = {p}: spectral radius")
    fig.colorbar(im, ax=ax1, shrink=0.8)
    traj = _center_trajectory(M, torch.full((p + 1,), 1000.0, dtype=F64), rounds)
    ax2.plot(np.arange(1, rounds + 1), traj, color=COLORS["EASGD"])
    ax2.set(yscale="log", xlabel="round", ylabel="|center|", title=f"EASGD from 1000: radius {spectral_radius(M):.4f}")
    return fig


ETA_LOG_GRID_ADMM = np.logspace(-4, -2, 25)


@functools.lru_cache(maxsize=16)
def _admm_explorer_grid(p: int) -> np.ndarray:
    """Radius of round-robin ADMM over log-spaced eta in [1e-4, 1e-2] (columns) and rho in [0.1, 10] (rows)."""
    return np.array([[spectral_radius(admm_rr_map(p, eta, rho)) for eta in ETA_LOG_GRID_ADMM] for rho in RHO_GRID_ADMM])


def admm_state(p: int, x0: float = 1000.0) -> torch.Tensor:
    """ADMM's starting state :math:`(\\lambda^1,x^1,\\dots,\\lambda^p,x^p,\\tilde x)`: multipliers 0, variables ``x0``."""
    s = torch.zeros(2 * p + 1, dtype=F64)
    s[1::2] = x0
    s[-1] = x0
    return s


def plot_admm_explorer(eta: float = 1e-3, rho: float = 2.5, p: int = 3, rounds: int = 20_000) -> plt.Figure:
    """Widget 1b: round-robin ADMM's radius minus one over (eta, rho) with the current point (h = 1), and
    :math:`|\\tilde x_t|` from 1000 over ``rounds`` rounds (long enough to see the slow growth)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    A = _admm_explorer_grid(p)
    im = ax1.pcolormesh(ETA_LOG_GRID_ADMM, RHO_GRID_ADMM, A - 1, cmap="RdBu_r", vmin=-3e-3, vmax=3e-3, shading="auto")
    if (A > 1).any() and (A < 1).any():
        ax1.contour(ETA_LOG_GRID_ADMM, RHO_GRID_ADMM, A, levels=[1.0], colors="k", linewidths=1)
    ax1.plot([eta], [rho], "k*", ms=14)
    ax1.set(xscale="log", xlabel="η (h = 1)", ylabel="ρ", title=f"ADMM round robin, p = {p}: radius − 1 (red: unstable)")
    fig.colorbar(im, ax=ax1, shrink=0.8)
    M = admm_rr_map(p, eta, rho)
    traj = _center_trajectory(M, admm_state(p), rounds)
    ax2.plot(np.arange(1, rounds + 1), traj, color=COLORS["ADMM"])
    ax2.set(xscale="log", yscale="log", xlabel="round", ylabel="|center|",
            title=f"ADMM from 1000: radius {spectral_radius(M):.6f}")
    return fig


def plot_race_explorer(tau: int = 16, p: int = 4, eta: float = 0.05, rounds: int = 800) -> plt.Figure:
    """Widget 2: EASGD against DOWNPOUR on the 10-D quadratic for one (tau, p, eta)."""
    runs = race(Settings(race_rounds=rounds), p=p, settings_=((tau, eta),))
    return plot_race(runs, p=p)


def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """Parts B-D at their smallest sizes on ``base.device``: the centers and workers they return, by
    name. Used by the device tests and ``gpucheck``."""
    s = replace(settings(base), race_rounds=40, digits_rounds=10, record_every=5, taus=(1, 4))
    var = variance_experiment(ps=(2,), betas=np.array([0.5]), chains=64, rounds=20, device=s.device)
    if not np.isfinite(var["mc"][2]).all():
        raise RuntimeError(f"the variance experiment gave {var['mc'][2]} on {s.device}")
    runs = race(s, settings_=((4, 0.05),))
    digits = digits_runs(replace(s, taus=(4,)))
    return {"C: EASGD center": runs[("EASGD", 4, 0.05)].center, "C: DOWNPOUR workers": runs[("DOWNPOUR", 4, 0.05)].workers,
            "D: EAMSGD center": digits[("EAMSGD", 4)][0.01].center, "D: MSGD center": digits[("MSGD", 1)][0.01].center}
