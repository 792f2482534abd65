"""Chapter 01 (vSGD): the experiments of parts A-D, their figures and the widgets' callbacks.

The method lives in :mod:`harmonia.optim` (the chapter writes vSGD-l out once as a loop and checks
it against :func:`harmonia.optim.run_vsgd`); this module only runs it in the settings of our prototype
and draws the results. Every callback is a plain function, tested headless in
``tests/course/test_demo_vsgd.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import partial

import matplotlib.pyplot as plt
import torch

from harmonia.config import check_in, make_generator
from harmonia.course.plots import to_host
from harmonia.course.settings import ChapterSettings, extend
from harmonia.data import Digits, load_digits
from harmonia.nn import FitHistory, fit, mlp
from harmonia.optim import (
    VSGD,
    NoisyQuadratic,
    QuadraticRun,
    greedy_oracle,
    inv_t,
    jumping_optima,
    optimal_schedule,
    run_sgd,
    run_vsgd,
    sequential_batch_stats,
)

__all__ = [
    "Settings", "settings", "nqm", "percentile_band", "window_means",
    "part_a", "part_b", "part_c", "part_d", "PartResult",
    "plot_part_a", "plot_part_b", "plot_part_c", "plot_part_d",
    "plot_nqm_explorer", "plot_jump_explorer", "plot_slow_start", "train_digits", "VARIANT_LABELS",
    "part_d_verdicts", "SLOW_START_C", "slow_start_summary", "device_check",
]

F64 = torch.float64
COLORS = {"vSGD": "C3", "oracle": "k", "optimal": "0.4", "SGD": "C0", "1/t": "C2", "AdaGrad": "C1"}
VARIANT_LABELS = {"l": "vSGD-l", "b": "vSGD-b", "g": "vSGD-g", "fd": "vSGD-fd"}


@dataclass(frozen=True)
class Settings(ChapterSettings):
    """Mode, device and the sizes of the chapter's experiments (fast mode by default)."""

    trials: int = 400
    steps_a: int = 3000
    steps_b: int = 2000
    steps_c: int = 1500
    jump_every: int = 300
    jump_size: float = 5.0
    batch_size: int = 16
    epochs: int = 5
    hidden: int = 32
    sgd_grid: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1, 0.3)
    adagrad_grid: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3)


def settings(base: ChapterSettings | None = None) -> Settings:
    """``base`` (default: :func:`harmonia.course.settings.current`) with the sizes of its mode.
    Fast mode: batch 16 and 5 epochs on digits; full mode: batch 1 (the paper's setting), 30 epochs."""
    return extend(Settings, base, {"batch_size": 1, "epochs": 30})


def nqm(h: float | tuple[float, ...] = 1.0, sigma: float = 1.0, device: torch.device | str = "cpu") -> NoisyQuadratic:
    """A noisy quadratic with curvatures ``h`` (float64, on ``device``)."""
    h = (h,) if isinstance(h, (int, float)) else h
    return NoisyQuadratic(torch.tensor(h, dtype=F64, device=device), sigma)


def percentile_band(x: torch.Tensor, q: tuple[float, float] = (0.1, 0.9)) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Median and a percentile band over the trials axis (last axis) of ``x`` (steps, trials)."""
    qs = torch.quantile(x.double(), torch.tensor([q[0], 0.5, q[1]], dtype=F64, device=x.device), dim=-1)
    return qs[1], qs[0], qs[2]


def window_means(x: torch.Tensor, width: int) -> torch.Tensor:
    """Means of consecutive windows of ``width`` entries of a 1-D tensor (the tail is dropped)."""
    n = x.shape[0] // width
    return x[: n * width].reshape(n, width).mean(dim=1)


@dataclass
class PartResult:
    """Runs of one part: ``runs[name]`` is a :class:`QuadraticRun`; ``numbers`` the computed summaries."""

    runs: dict[str, QuadraticRun]
    numbers: dict[str, float] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def _tail(run: QuadraticRun, k: int = 100) -> float:
    return float(run.excess[-k:].mean())


# ---------------------------------------------------------------------------------------------
# Part A: stationary 1-D noisy quadratic
# ---------------------------------------------------------------------------------------------
def part_a(s: Settings, seed: int = 0) -> PartResult:
    """vSGD-l against fixed rates, the :math:`1/t` family, the greedy oracle and the optimal schedule.

    :math:`h=\\sigma=1`, :math:`\\theta_0=5`, ``s.trials`` trials, ``s.steps_a`` steps, same noise seed
    for every method.
    """
    P, theta0, T = nqm(1.0, 1.0, s.device), 5.0, s.steps_a
    e0 = theta0**2
    runs: dict[str, QuadraticRun] = {"vSGD": run_vsgd(P, theta0, T, s.trials, n0=10, C=1.0, seed=seed)}
    for eta in (0.001, 0.003, 0.01, 0.03):
        runs[f"SGD η={eta:g}"] = run_sgd(P, theta0, T, eta, s.trials, seed=seed)
    for eta0 in (0.003, 0.01, 0.1, 1.0, 10.0):
        runs[f"1/t η0={eta0:g}"] = run_sgd(P, theta0, T, inv_t(eta0, eta0 * 1.0), s.trials, seed=seed)
    runs["oracle"] = run_sgd(P, theta0, T, greedy_oracle(P), s.trials, seed=seed)
    runs["optimal"] = run_sgd(P, theta0, T, optimal_schedule(P, e0), s.trials, seed=seed)
    t = torch.arange(T, dtype=F64, device=s.device)
    eta_h_t = runs["vSGD"].lr[:, :, 0] * (t + 1)[:, None]
    windows = window_means(eta_h_t.median(dim=1).values[100:], 100)
    fixed = {k: _tail(r) for k, r in runs.items() if k.startswith("SGD")}
    best_fixed = min(fixed, key=fixed.get)
    numbers = {
        "window_min": float(windows.min()), "window_max": float(windows.max()),
        "vsgd_final": _tail(runs["vSGD"]), "optimal_final": _tail(runs["optimal"]),
        # theory for the same window: mean of h/2 e_t over the last 100 steps' end points
        "optimal_theory": float(0.5 * P.optimal_mse(torch.arange(T - 99, T + 1, device=s.device), e0).mean()),
        "best_fixed_final": fixed[best_fixed], "best_fixed_eta": float(best_fixed.split("=")[1]),
        "oracle_final": _tail(runs["oracle"]),
    }
    for eta0 in (0.003, 0.01, 1.0, 3.0, 10.0):
        key = f"1/t η0={eta0:g}"
        run = runs[key] if key in runs else run_sgd(P, theta0, T, inv_t(eta0, eta0), s.trials, seed=seed)
        numbers[f"inv_t_{eta0:g}_final"] = _tail(run)
        numbers[f"inv_t_{eta0:g}_max"] = float(run.excess.mean(dim=1).max())
    return PartResult(runs, numbers, {"windows": windows})


def plot_part_a(res: PartResult) -> plt.Figure:
    """Excess loss (median and 10-90 % band) and :math:`\\eta_t h\\,(t+1)` of vSGD against the schedules."""
    res = to_host(res)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    T = res.runs["vSGD"].lr.shape[0]
    t = torch.arange(T + 1)
    styles = {"vSGD": (COLORS["vSGD"], "-"), "optimal": (COLORS["optimal"], "--"), "SGD η=0.003": (COLORS["SGD"], "-"),
              "1/t η0=0.1": (COLORS["1/t"], "-"), "1/t η0=10": (COLORS["1/t"], ":")}
    for name, (color, ls) in styles.items():
        med, lo, hi = percentile_band(res.runs[name].excess)
        ax1.plot(t[1:], med[1:], color=color, ls=ls, label=name)
        if name == "vSGD":
            ax1.fill_between(t[1:], lo[1:], hi[1:], color=color, alpha=0.2, lw=0)
    ax1.set(xscale="log", yscale="log", xlabel="step t", ylabel="excess loss (median, 10-90 % band)",
            title="A. Stationary noisy quadratic", ylim=(1e-6, 1e3))
    ax1.legend(fontsize=8)
    ts = torch.arange(T, dtype=F64)
    med, lo, hi = percentile_band(res.runs["vSGD"].lr[:, :, 0] * (ts + 1)[:, None], q=(0.25, 0.75))
    ax2.plot(ts + 1, med, color=COLORS["vSGD"], label="vSGD: median η_t h (t+1), 25-75 % band")
    ax2.fill_between(ts + 1, lo, hi, color=COLORS["vSGD"], alpha=0.2, lw=0)
    opt = res.runs["optimal"].lr[:, 0, 0] * (ts + 1)
    ax2.plot(ts + 1, opt, color=COLORS["optimal"], ls="--", label="optimal schedule 1/(t+1+σ²/e0) · (t+1)")
    ax2.axhspan(0.3, 0.6, color="0.9", label="our prototype's window [0.3, 0.6]")
    ax2.set(xscale="log", xlabel="step t", ylabel="η_t h (t+1)", title="vSGD anneals like c/t", ylim=(0, 1.5))
    ax2.legend(fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------------
# Part B: ill-conditioned 2-D quadratic
# ---------------------------------------------------------------------------------------------
INV_T_GRID_B = tuple((eta0, decay) for eta0 in (0.01, 0.03, 0.1, 0.2) for decay in (0.001, 0.01, 0.1, 1.0))


def part_b(s: Settings, seed: int = 0) -> PartResult:
    """:math:`h=(1,10)`, :math:`\\sigma=1`, :math:`\\theta_0=(2,2)`: per-coordinate rates vs one global rate."""
    P, theta0, T = nqm((1.0, 10.0), 1.0, s.device), torch.tensor([2.0, 2.0], dtype=F64, device=s.device), s.steps_b
    runs = {"vSGD": run_vsgd(P, theta0, T, s.trials, n0=10, C=1.0, seed=seed)}
    fixed = {eta: run_sgd(P, theta0, T, eta, s.trials, seed=seed) for eta in (0.001, 0.002, 0.003, 0.005, 0.01)}
    sched = {k: run_sgd(P, theta0, T, inv_t(*k), s.trials, seed=seed) for k in INV_T_GRID_B}
    final = lambda r: float(r.excess[-1].mean())  # noqa: E731
    best_eta = min(fixed, key=lambda k: final(fixed[k]))
    best_sched = min(sched, key=lambda k: final(sched[k]))
    runs[f"SGD η={best_eta:g}"] = fixed[best_eta]
    runs[f"1/t η0={best_sched[0]:g}, decay={best_sched[1]:g}"] = sched[best_sched]
    lr = runs["vSGD"].lr[T // 2:]
    numbers = {"vsgd_final": final(runs["vSGD"]), "best_fixed_final": final(fixed[best_eta]), "best_fixed_eta": best_eta,
               "best_inv_t_final": final(sched[best_sched]),
               "rate_ratio": float((lr[..., 0] / lr[..., 1]).median())}
    return PartResult(runs, numbers, {"best_sched": best_sched, "best_eta": best_eta})


def plot_part_b(res: PartResult, trial: int = 0) -> plt.Figure:
    """One trial's path in the plane, the mean excess loss, and vSGD's two per-coordinate rates."""
    res = to_host(res)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    names = list(res.runs)
    colors = [COLORS["vSGD"], COLORS["SGD"], COLORS["1/t"]]
    for name, c in zip(names, colors):
        th = res.runs[name].theta[:, trial]
        axes[0].plot(th[:, 0], th[:, 1], color=c, lw=0.7, label=name)
    axes[0].plot([0], [0], "k*", ms=12, label="optimum")
    axes[0].set(xlabel="θ₁ (h=1)", ylabel="θ₂ (h=10)", title=f"B. One trial's path (trial {trial})", xlim=(-1, 2.5), ylim=(-1, 2.5))
    axes[0].legend(fontsize=7)
    for name, c in zip(names, colors):
        axes[1].plot(res.runs[name].excess.mean(dim=1), color=c, label=name)
    axes[1].set(xscale="log", yscale="log", xlabel="step t", ylabel="mean excess loss", title="Excess loss (mean of trials)")
    axes[1].legend(fontsize=7)
    lr = res.runs["vSGD"].lr
    t = torch.arange(1, lr.shape[0] + 1)
    for i, c in ((0, "C4"), (1, "C5")):
        axes[2].plot(t, lr[:, :, i].median(dim=1).values, color=c, label=f"vSGD rate of θ{i + 1} (median)")
    axes[2].set(xscale="log", yscale="log", xlabel="step t", ylabel="learning rate",
                title=f"Per-coordinate rates: ratio ≈ {res.numbers['rate_ratio']:.0f}")
    axes[2].legend(fontsize=7)
    return fig


# ---------------------------------------------------------------------------------------------
# Part C: non-stationary quadratic (jumping optimum)
# ---------------------------------------------------------------------------------------------
def part_c(s: Settings, seed: int = 0, every: int | None = None) -> PartResult:
    """The optimum jumps by :math:`\\pm5` every 300 steps: vSGD re-heats, decaying schedules cannot."""
    every = s.jump_every if every is None else every
    P, theta0, T = nqm(1.0, 1.0, s.device), 5.0, s.steps_c
    path = jumping_optima(T, every, s.jump_size, (s.trials, 1), generator=make_generator(seed + 1, device=s.device),
                          dtype=F64, device=s.device)
    runs = {"vSGD": run_vsgd(P, theta0, T, s.trials, n0=10, C=1.0, seed=seed, theta_star_path=path),
            "oracle": run_sgd(P, theta0, T, greedy_oracle(P), s.trials, seed=seed, theta_star_path=path)}
    fixed = {eta: run_sgd(P, theta0, T, eta, s.trials, seed=seed, theta_star_path=path) for eta in (0.03, 0.1, 0.3, 0.5)}
    sched = {eta0: run_sgd(P, theta0, T, inv_t(eta0, eta0), s.trials, seed=seed, theta_star_path=path)
             for eta0 in (0.1, 1.0, 3.0)}
    avg = lambda r: float(r.excess.mean())  # noqa: E731
    end = lambda r: float(r.excess[every - 30:every].mean())  # noqa: E731
    best_avg = min(fixed, key=lambda k: avg(fixed[k]))
    best_end = min(fixed, key=lambda k: end(fixed[k]))
    best_sched = min(sched, key=lambda k: avg(sched[k]))
    runs[f"SGD η={best_avg:g}"] = fixed[best_avg]
    runs[f"1/t η0={best_sched:g}"] = sched[best_sched]
    lr_med = runs["vSGD"].lr[:, :, 0].median(dim=1).values
    jumps = list(range(every, T, every))
    ratios = [float(lr_med[j + 30:j + 100].max() / lr_med[j - 5:j].mean()) for j in jumps if j + 100 <= T]
    # end of every segment (its last 30 steps): vSGD against the best fixed rate and the best 1/t schedule there
    segments = []
    for j in range(every, T + 1, every):
        seg_end = lambda r: float(r.excess[j - 30:j].mean())  # noqa: E731
        f_best = min(fixed, key=lambda k: seg_end(fixed[k]))
        s_best = min(sched, key=lambda k: seg_end(sched[k]))
        segments.append({"end": j, "vSGD": seg_end(runs["vSGD"]), "fixed_eta": f_best, "fixed": seg_end(fixed[f_best]),
                         "inv_t_eta0": s_best, "inv_t": seg_end(sched[s_best])})
    numbers = {"vsgd_avg": avg(runs["vSGD"]), "best_sched_avg": avg(sched[best_sched]), "best_fixed_avg": avg(fixed[best_avg]),
               "best_fixed_avg_eta": best_avg, "vsgd_end": end(runs["vSGD"]), "best_fixed_end": end(fixed[best_end]),
               "best_fixed_end_eta": best_end, "reheat_min": min(ratios) if ratios else math.nan,
               "reheat_max": max(ratios) if ratios else math.nan,
               "segments": len(segments),
               "segments_below_fixed": sum(sg["vSGD"] < sg["fixed"] for sg in segments),
               "segments_below_inv_t": sum(sg["vSGD"] < sg["inv_t"] for sg in segments)}
    return PartResult(runs, numbers, {"path": path, "every": every, "segments": segments})


def plot_part_c(res: PartResult) -> plt.Figure:
    """Loss and learning rate over time with the jumps marked."""
    res = to_host(res)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    every = res.extra["every"]
    colors = [COLORS["vSGD"], COLORS["oracle"], COLORS["SGD"], COLORS["1/t"]]
    for (name, run), c in zip(res.runs.items(), colors):
        med, lo, hi = percentile_band(run.excess[1:])
        ax1.plot(med, color=c, lw=1, label=name)
        ax2.plot(run.lr[:, :, 0].median(dim=1).values, color=c, lw=1, label=name)
    for ax in (ax1, ax2):
        for j in range(every, res.runs["vSGD"].lr.shape[0], every):
            ax.axvline(j, color="0.7", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.legend(fontsize=7, ncol=4)
    ax1.set(ylabel="excess loss (median)", title=f"C. Optimum jumps by ±5 every {every} steps")
    ax2.set(xlabel="step t", ylabel="learning rate (median)")
    return fig


# ---------------------------------------------------------------------------------------------
# Part D: networks on digits
# ---------------------------------------------------------------------------------------------
def _vsgd_closure(model, xb, yb, curvature: bool = True):
    return lambda: sequential_batch_stats(model, xb, yb, "ce", curvature=curvature)


def train_digits(data: Digits, hidden: tuple[int, ...], method: str, lr: float | None = None, s: Settings | None = None,
                 seed: int = 0, n0: int = 10, C: float | str = "auto", epochs: int | None = None,
                 batch_size: int | None = None) -> FitHistory:
    """Train softmax regression (``hidden=()``) or an MLP on the digits with one method.

    ``method`` is ``"l"``, ``"b"``, ``"g"`` (vSGD with bbprop), ``"fd"`` (vSGD-l with finite
    differences), ``"sgd"`` (rate ``lr``, divided by 1+epoch after each epoch) or ``"adagrad"``.
    """
    s = settings(None) if s is None else s
    check_in(method, "method", ("l", "b", "g", "fd", "sgd", "adagrad"))
    model = mlp(64, hidden, 10, activation="tanh", seed=seed, dtype=data.X_train.dtype, device=data.X_train.device)
    scheduler, make_closure = None, None
    if method in VARIANT_LABELS:
        fd = method == "fd"
        opt = VSGD(model.parameters(), variant="l" if fd else method, curvature="fd" if fd else "bbprop", n0=n0, C=C)
        make_closure = partial(_vsgd_closure, curvature=not fd)
    elif method == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1.0 / (1.0 + epoch))
    else:
        opt = torch.optim.Adagrad(model.parameters(), lr=lr)
    return fit(model, opt, data.X_train, data.y_train, epochs=s.epochs if epochs is None else epochs,
               batch_size=s.batch_size if batch_size is None else batch_size, X_test=data.X_test, y_test=data.y_test,
               make_closure=make_closure, scheduler=scheduler, seed=seed + 1)


def part_d(s: Settings, data: Digits | None = None, seed: int = 0) -> dict[str, dict[str, FitHistory]]:
    """Every method on softmax regression and on the 64-32-10 tanh MLP: ``{model: {label: FitHistory}}``."""
    data = load_digits(dtype=s.dtype, device=s.device) if data is None else data
    out: dict[str, dict[str, FitHistory]] = {}
    for model_name, hidden in (("softmax regression", ()), (f"MLP 64-{s.hidden}-10", (s.hidden,))):
        runs = {VARIANT_LABELS[v]: train_digits(data, hidden, v, s=s, seed=seed) for v in VARIANT_LABELS}
        runs.update({f"SGD {eta:g}": train_digits(data, hidden, "sgd", eta, s=s, seed=seed) for eta in s.sgd_grid})
        runs.update({f"AdaGrad {eta:g}": train_digits(data, hidden, "adagrad", eta, s=s, seed=seed) for eta in s.adagrad_grid})
        out[model_name] = runs
    return out


def part_d_verdicts(runs: dict[str, FitHistory]) -> dict[str, float | bool]:
    """Our prototype's targets for vSGD-l against the SGD grid (train NLL <= grid median and within x10 of the
    best grid point; test error within +3 points of the best grid point)."""
    sgd = {k: h for k, h in runs.items() if k.startswith("SGD")}
    nlls = sorted(h.train_loss[-1] for h in sgd.values())
    median = nlls[len(nlls) // 2] if len(nlls) % 2 else 0.5 * (nlls[len(nlls) // 2 - 1] + nlls[len(nlls) // 2])
    best_nll = nlls[0]
    best_err = min(h.test_error[-1] for h in sgd.values())
    v = runs["vSGD-l"]
    return {"nll": v.train_loss[-1], "err": v.test_error[-1], "grid_median_nll": median, "grid_best_nll": best_nll,
            "grid_best_err": best_err,
            "nll_ok": bool(v.train_loss[-1] <= median and v.train_loss[-1] <= 10 * best_nll),
            "err_ok": bool(v.test_error[-1] <= best_err + 0.03)}


def plot_part_d(results: dict[str, dict[str, FitHistory]]) -> plt.Figure:
    """Bar charts of the final training NLL and test error of every method on both models."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 6.5), sharex="col")
    for col, (model_name, runs) in enumerate(results.items()):
        labels = list(runs)
        colors = [COLORS["vSGD"] if k.startswith("vSGD") else COLORS["SGD"] if k.startswith("SGD") else COLORS["AdaGrad"]
                  for k in labels]
        nll = [min(runs[k].train_loss[-1], 10.0) for k in labels]
        err = [100 * runs[k].test_error[-1] for k in labels]
        axes[0, col].bar(range(len(labels)), nll, color=colors)
        axes[0, col].set(yscale="log", ylabel="final training NLL (nats)", title=f"D. {model_name}")
        axes[1, col].bar(range(len(labels)), err, color=colors)
        axes[1, col].set(ylabel="test error (%)")
        axes[1, col].set_xticks(range(len(labels)), labels, rotation=60, fontsize=7, ha="right")
    return fig


# ---------------------------------------------------------------------------------------------
# Widgets
# ---------------------------------------------------------------------------------------------
def plot_nqm_explorer(h: float = 1.0, sigma: float = 1.0, theta0: float = 5.0, trials: int = 100, steps: int = 1000) -> plt.Figure:
    """Widget 1: vSGD on a 1-D NQM with curvature ``h`` and noise ``sigma`` against the oracle and the
    optimal schedule: excess loss and :math:`\\eta h` over time."""
    P = nqm(float(h), float(sigma))
    e0 = theta0**2
    runs = {"vSGD": run_vsgd(P, theta0, steps, trials, seed=0), "oracle": run_sgd(P, theta0, steps, greedy_oracle(P), trials, seed=0)}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    t = torch.arange(1, steps + 1)
    for name, run in runs.items():
        med, lo, hi = percentile_band(run.excess[1:])
        ax1.plot(t, med, color=COLORS[name], label=name)
        ax1.fill_between(t, lo, hi, color=COLORS[name], alpha=0.15, lw=0)
        ax2.plot(t, h * run.lr[:, :, 0].median(dim=1).values, color=COLORS[name], label=f"{name} (median)")
    ax1.plot(t, 0.5 * h * P.optimal_mse(torch.arange(1, steps + 1), e0)[:, 0], color=COLORS["optimal"], ls="--",
             label="optimal schedule (theory)")
    ax2.plot(t, h * P.optimal_schedule(torch.arange(steps), e0)[:, 0], color=COLORS["optimal"], ls="--",
             label="1/(t+1+σ²/e0)")
    ax1.set(xscale="log", yscale="log", xlabel="step t", ylabel="excess loss", title=f"NQM h={h:.3g}, σ={sigma:.3g}")
    ax2.set(xscale="log", yscale="log", xlabel="step t", ylabel="η h", title="Learning rate (times h)")
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=8)
    return fig


def plot_jump_explorer(every: int = 300, steps: int = 1200, trials: int = 100) -> plt.Figure:
    """Widget 2: the jumping optimum with period ``every``: loss, rate, and vSGD's memory
    :math:`\\tau` with its consistency ratio :math:`\\bar g^2/\\bar v` (median over trials)."""
    s = Settings(trials=trials, steps_c=steps, jump_every=every)
    P, theta0 = nqm(1.0, 1.0), 5.0
    path = jumping_optima(steps, every, s.jump_size, (trials, 1), generator=make_generator(1), dtype=F64)
    run = run_vsgd(P, theta0, steps, trials, seed=0, theta_star_path=path)
    oracle = run_sgd(P, theta0, steps, greedy_oracle(P), trials, seed=0, theta_star_path=path)
    fig, axes = plt.subplots(3, 1, figsize=(11, 7), sharex=True)
    axes[0].plot(run.excess[1:].median(dim=1).values, color=COLORS["vSGD"], label="vSGD")
    axes[0].plot(oracle.excess[1:].median(dim=1).values, color=COLORS["oracle"], lw=0.8, label="oracle")
    axes[1].plot(run.lr[:, :, 0].median(dim=1).values, color=COLORS["vSGD"], label="vSGD rate")
    axes[1].plot(oracle.lr[:, :, 0].median(dim=1).values, color=COLORS["oracle"], lw=0.8, label="oracle rate")
    ratio = (run.gbar.square() / run.vbar)[:, :, 0].median(dim=1).values
    axes[2].plot(run.tau[:, :, 0].median(dim=1).values, color="C4", label="memory τ (median)")
    ax_r = axes[2].twinx()
    ax_r.plot(ratio, color="C8", lw=0.8, label="ḡ²/v̄ (median)")
    ax_r.set(ylabel="ḡ²/v̄", ylim=(0, 1))
    for ax in axes:
        for j in range(every, steps, every):
            ax.axvline(j, color="0.7", lw=0.8, ls=":")
        ax.legend(fontsize=8, loc="upper left")
    ax_r.legend(fontsize=8, loc="upper right")
    axes[0].set(yscale="log", ylabel="excess loss", title=f"Optimum jumps by ±5 every {every} steps")
    axes[1].set(yscale="log", ylabel="learning rate")
    axes[2].set(yscale="log", xlabel="step t", ylabel="τ")
    return fig


SLOW_START_C = (("1", 1.0), ("2", 2.0), ("10", 10.0), ("d/10", "d/10"))


_SLOW_START_CACHE: dict = {}


def _slow_start_losses(data: Digits, n0: int, C: float | str, steps: int) -> list[float]:
    """Mini-batch losses of the first ``steps`` updates after the slow start (remembered per data set and setting)."""
    key = (id(data), n0, C, steps)
    if key not in _SLOW_START_CACHE or _SLOW_START_CACHE[key][0] is not data:  # the data object itself is kept
        d, batch = 64 * 10 + 10, 16
        epochs = max(1, math.ceil((steps + n0) / (data.X_train.shape[0] // batch)))
        h = train_digits(data, (), "l", n0=n0, C=d / 10 if C == "d/10" else float(C), epochs=epochs, batch_size=batch)
        # losses of exactly 0 (float32 saturation of a blown-up model) are drawn at the axis floor
        _SLOW_START_CACHE[key] = (data, [max(v, 1e-3) for v in h.batch_loss[n0:n0 + steps]])
    return _SLOW_START_CACHE[key][1]


def slow_start_summary(data: Digits, settings: tuple[tuple[int, str], ...] = ((1, "d/10"), (10, "1"), (10, "d/10")),
                       steps: int = 300) -> dict[tuple[int, str], dict[str, float]]:
    """For each slow start ``(n0, C)`` (``C`` a label of :data:`SLOW_START_C`), the largest mini-batch loss
    over the first ``steps`` updates of vSGD-l on digits softmax regression and the median over the last
    100 of them (the runs are shared with :func:`plot_slow_start`)."""
    labels = dict(SLOW_START_C)
    out = {}
    for n0, C in settings:
        check_in(C, "C", tuple(labels))
        losses = torch.tensor(_slow_start_losses(data, int(n0), C, steps), dtype=F64)
        out[(int(n0), C)] = {"max": float(losses.max()), "median_last_100": float(losses[-100:].median())}
    return out


def plot_slow_start(n0: int = 10, C: float | str = "d/10", data: Digits | None = None, steps: int = 300) -> plt.Figure:
    """Widget 3: the first ``steps`` updates of vSGD-l on digits softmax regression for a slow start
    ``(n0, C)``, against the recommended ``n0=10, C=d/10``."""
    data = load_digits() if data is None else data
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(_slow_start_losses(data, 10, "d/10", steps), color="0.5", lw=1, label="n0=10, C=d/10 (recommended)")
    ax.plot(_slow_start_losses(data, int(n0), C, steps), color=COLORS["vSGD"], lw=1, label=f"n0={n0}, C={C}")
    ax.set(yscale="log", xlabel="update", ylabel="mini-batch loss (NLL)", title="Slow start on digits (softmax regression, vSGD-l)",
           ylim=(1e-3, None))
    ax.legend(fontsize=8)
    return fig


#: outputs of :func:`device_check` expected to differ between devices (drawn from the device's own
#: generator, or iterated by an optimiser that amplifies rounding): ``gpucheck`` checks only their
#: place, shape and finiteness
DEVICE_DEPENDENT = frozenset({"A: vSGD excess", "A: vSGD rates", "B: vSGD path", "C: jump path", "C: vSGD rates"})


def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """Parts A-D at their smallest sizes on ``base.device`` (4 trials, a few hundred steps, one epoch
    of vSGD-l on digits): the tensors they return, by name. Used by the device tests and ``gpucheck``."""
    s = replace(settings(base), trials=4, steps_a=200, steps_b=200, steps_c=300, jump_every=100, epochs=1)
    a, b, c = part_a(s), part_b(s), part_c(s)
    data = load_digits(dtype=s.dtype, device=s.device)
    hist = train_digits(data, (), "l", s=s)
    if hist.diverged:
        raise RuntimeError(f"vSGD-l diverged on digits on {s.device}")
    return {"A: vSGD excess": a.runs["vSGD"].excess, "A: vSGD rates": a.runs["vSGD"].lr,
            "B: vSGD path": b.runs["vSGD"].theta, "C: jump path": c.extra["path"], "C: vSGD rates": c.runs["vSGD"].lr,
            "D: digits features": data.X_train}
