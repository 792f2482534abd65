"""Chapter 04 (LSAM): the 1-D smoothed landscape, the Langevin samplers, the straggler throughput and the
digits race at equal simulated wall-clock; their figures and the widgets' callbacks.

The methods live in :mod:`harmonia.optim` (SAM, the landscape tools) and :mod:`harmonia.distributed`
(``run_lsam``, ``run_dp_sam``, ``run_easgd``, the step-time model); this module runs them in the settings of our
prototype. LSAM here is *LSAM as we understand it* (the paper's exact update rule was not available).
Every callback is a plain function, tested headless in ``tests/course/test_demo_lsam.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np
import torch

from harmonia.course.plots import to_host
from harmonia.course.settings import ChapterSettings, extend
from harmonia.distributed import (
    StepTimes,
    event_schedule,
    harmonic_number,
    make_objective,
    round_times,
    run_dp_sam,
    run_easgd,
    run_lsam,
    throughputs,
)
from harmonia.distributed.algorithms import RunResult
from harmonia.optim import gibbs_mean, langevin_chains, local_minima, sam_envelope, smoothed_landscape

__all__ = [
    "Settings", "settings", "toy_loss", "toy_grad", "Landscape", "landscape", "smoothed", "SETTINGS_1D", "ranking",
    "plot_landscapes", "SHARP", "FLAT", "sampler_experiment", "plot_samplers", "throughput_ratios", "plot_throughput",
    "digits_race", "time_to", "final_accuracy", "plot_digits", "plot_landscape_explorer", "plot_straggler_explorer",
    "device_check", "DEVICE_DEPENDENT", "METHODS", "COLORS",
]

F64 = torch.float64
SHARP, FLAT = -0.5, 0.6
#: (rho, sigma, T) of the four landscapes of part 1, and what each shows
SETTINGS_1D = {
    "no SAM, little smoothing": (0.0, 0.02, 0.05),
    "smoothing alone": (0.0, 0.2, 0.2),
    "SAM alone": (0.1, 0.02, 0.05),
    "SAM + smoothing": (0.1, 0.3, 0.05),
}
METHODS = ("SGD", "SAM", "DP-SAM", "EASGD", "LSAM")
COLORS = {"SGD": "0.4", "SAM": "C1", "DP-SAM": "C0", "EASGD": "C2", "LSAM": "C3"}
#: the Langevin samples are drawn with the device's generator: their digits differ between devices
DEVICE_DEPENDENT = frozenset({"B: Langevin means"})


@dataclass(frozen=True)
class Settings(ChapterSettings):
    """Mode, device and the sizes of the chapter's experiments (fast mode by default)."""

    grid_points: int = 2401           # grid on [-3, 3] for f and its envelope
    window: float = 1.5               # F is evaluated on [-window, window]
    langevin_steps: int = 20_000
    langevin_burn: int = 2_000
    chains: int = 12                  # 3 groups of 4 chains
    throughput_rounds: int = 10_000
    p: int = 4
    digits_hidden: int = 32
    digits_eta: float = 0.5
    digits_budget: float = 300.0      # simulated time units (one gradient pass takes 1 on average)
    rho: float = 0.05
    tau: int = 4
    record_every: int = 5


def settings(base: ChapterSettings | None = None) -> Settings:
    """``base`` (default: :func:`harmonia.course.settings.current`) with the sizes of its mode: fast mode as
    above; full mode: a finer grid, 100 000 Langevin steps, a 64-unit MLP and a budget of 1500 time units."""
    return extend(Settings, base, {"grid_points": 3001, "langevin_steps": 100_000, "langevin_burn": 10_000,
                                   "digits_hidden": 64, "digits_budget": 1500.0, "throughput_rounds": 50_000})


# ---------------------------------------------------------------------------------------------
# Part 1: the smoothed landscape in 1-D
# ---------------------------------------------------------------------------------------------
def toy_loss(x: torch.Tensor) -> torch.Tensor:
    """The two-well toy: a sharp deep well at -0.5 and a wide shallower one at 0.6,
    :math:`f(x)=-1.1e^{-(x+0.5)^2/(2\\cdot0.12^2)}-e^{-(x-0.6)^2/(2\\cdot0.45^2)}+0.05x^2`."""
    return -1.1 * torch.exp(-(x + 0.5) ** 2 / (2 * 0.12**2)) - 1.0 * torch.exp(-(x - 0.6) ** 2 / (2 * 0.45**2)) + 0.05 * x**2


def toy_grad(x: torch.Tensor) -> torch.Tensor:
    """:math:`f'(x)` of :func:`toy_loss`, in closed form."""
    a = -1.1 * torch.exp(-(x + 0.5) ** 2 / (2 * 0.12**2)) * (-(x + 0.5) / 0.12**2)
    b = -1.0 * torch.exp(-(x - 0.6) ** 2 / (2 * 0.45**2)) * (-(x - 0.6) / 0.45**2)
    return a + b + 0.1 * x


@dataclass(frozen=True)
class Landscape:
    """The grid ``x`` on [-3, 3] (float64, on the device), ``f`` on it, and the evaluation ``points`` in the window."""

    x: torch.Tensor
    f: torch.Tensor
    points: torch.Tensor
    h: float


def landscape(s: Settings) -> Landscape:
    """The toy on the chapter's grid."""
    x = torch.linspace(-3.0, 3.0, s.grid_points, dtype=F64, device=s.device)
    inside = (x >= -s.window - 1e-12) & (x <= s.window + 1e-12)
    return Landscape(x, toy_loss(x), x[inside], float(x[1] - x[0]))


def smoothed(L: Landscape, rho: float, sigma: float, T: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(:math:`f^{\\rm SAM}_\\rho` on the grid, :math:`F_{\\sigma,T}` of it on ``L.points``)."""
    fs = sam_envelope(L.f, L.h, rho) if rho > 0 else L.f
    return fs, smoothed_landscape(fs, L.x, sigma, T, points=L.points)


def _at(points: torch.Tensor, values: torch.Tensor, x0: float) -> float:
    return float(values[int(torch.argmin((points - x0).abs()))])


def ranking(L: Landscape, rho: float, sigma: float, T: float) -> dict:
    """``F(-0.5) - F(0.6)`` (negative: the sharp well is lower) and the local minima of ``F`` in the window."""
    fs, F = smoothed(L, rho, sigma, T)
    return {"diff": _at(L.points, F, SHARP) - _at(L.points, F, FLAT), "minima": local_minima(F, L.points).cpu().tolist(),
            "F": F, "fs": fs}


def plot_landscapes(L: Landscape, results: dict[str, dict]) -> plt.Figure:
    """Left: f and its SAM envelope at rho = 0.1; right: F of each setting, shifted to minimum 0, minima marked."""
    L, results = to_host(L), to_host(results)
    inside = (L.x >= L.points[0]) & (L.x <= L.points[-1])
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.2))
    a1.plot(L.x[inside], L.f[inside], color="k", label="f")
    env = sam_envelope(L.f, L.h, 0.1)
    a1.plot(L.x[inside], env[inside], color="C1", label="f^SAM, ρ = 0.1")
    a1.set(xlabel="parameter x (dimensionless)", ylabel="loss", title="The toy loss and its SAM envelope")
    a1.legend()
    for k, (name, r) in enumerate(results.items()):
        rho, sigma, T = SETTINGS_1D[name]
        F = r["F"] - r["F"].min()
        a2.plot(L.points, F, color=f"C{k}", label=f"{name}: ρ={rho}, σ={sigma}, T={T}")
        for m in r["minima"]:
            a2.plot([m], [float(F[int(torch.argmin((L.points - m).abs()))])], "o", color=f"C{k}")
    a2.set(xlabel="parameter x (dimensionless)", ylabel="F(x) − min F", title="Smoothed landscapes F (dots: local minima)",
           ylim=(-0.02, 1.45))
    a2.legend(fontsize=7, loc="upper center")
    return fig


# ---------------------------------------------------------------------------------------------
# Part 2: workers as samplers
# ---------------------------------------------------------------------------------------------
def sampler_experiment(s: Settings, centers: tuple[float, ...] = (0.6, 0.3, -0.5, 0.0), sigma: float = 0.2, T: float = 0.1,
                       eta: float = 1e-3, seed: int = 0) -> dict:
    """Langevin chains around each frozen center (rho = 0), all centres in one batch (each coordinate is an
    independent 1-D chain): ``s.chains`` chains split into groups of 4 (our P = 4 workers). Returns the
    quadrature means ``ref``, the per-group time-and-chain averages ``groups`` (len(centers), n_groups), the
    kept samples of the first group and the grid density."""
    L = landscape(s)
    x0 = torch.tensor(centers, dtype=F64, device=s.device)
    beta_e = T / sigma**2
    chains = langevin_chains(toy_grad, x0, beta_e=beta_e, T=T, eta=eta, steps=s.langevin_steps, n_chains=s.chains,
                             generator=seed)
    kept = chains[s.langevin_burn + 1:]                                   # (steps - burn, chains, centers)
    groups = kept.reshape(kept.shape[0], -1, 4, len(centers)).mean(dim=(0, 2)).T  # (centers, groups)
    ref = gibbs_mean(L.f, L.x, x0, sigma, T)
    logp = -(L.f[None, :] - L.f.min()) / T - (L.x[None, :] - x0[:, None]) ** 2 / (2 * sigma**2)
    dens = torch.softmax(logp, dim=1) / L.h
    return {"centers": centers, "sigma": sigma, "T": T, "ref": ref, "groups": groups, "samples": kept[:, :4, :],
            "x": L.x, "density": dens}


def plot_samplers(res: dict, show: tuple[int, ...] = (0, 3)) -> plt.Figure:
    """Histograms of the first four chains' samples against the quadrature density p(y | x0)."""
    res = to_host(res)
    fig, axes = plt.subplots(1, len(show), figsize=(6 * len(show), 3.8))
    for ax, k in zip(np.atleast_1d(axes), show):
        x0 = res["centers"][k]
        ax.hist(res["samples"][:, :, k].flatten().numpy(), bins=120, range=(-1.5, 1.5), density=True, color="C0",
                alpha=0.5, label="4 Langevin chains")
        ax.plot(res["x"], res["density"][k], color="k", label="p(y | x0), quadrature")
        ax.axvline(float(res["ref"][k]), color="k", ls="--", label=f"E[y] = {float(res['ref'][k]):.3f}")
        ax.axvline(float(res["groups"][k, 0]), color="C3", ls=":", label=f"chain average = {float(res['groups'][k, 0]):.3f}")
        ax.set(xlim=(-1.5, 1.5), xlabel="worker parameter y (dimensionless)", ylabel="density (1 / unit of y)",
               title=f"Center frozen at x0 = {x0}")
        ax.legend(fontsize=7)
    return fig


# ---------------------------------------------------------------------------------------------
# Part 3: straggler throughput
# ---------------------------------------------------------------------------------------------
def throughput_ratios(kind: str, ps: tuple[int, ...] = tuple(range(1, 9)), rounds: int = 10_000, seed: int = 0) -> dict[int, dict]:
    """:func:`harmonia.distributed.throughputs` for ``p`` workers with ``rounds`` step durations each, one seed per p."""
    model = StepTimes(kind)
    return {p: throughputs(model.sample((p, rounds), generator=seed + p)) for p in ps}


def plot_throughput(tp: dict[str, dict[int, dict]]) -> plt.Figure:
    """Async/sync ratio against P for each step-time kind, with the harmonic number H_P."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for k, (kind, rows) in enumerate(tp.items()):
        ps = sorted(rows)
        ax.plot(ps, [rows[p]["ratio"] for p in ps], "o-", color=f"C{k}", label=f"simulated, {kind}")
    ps = np.arange(1, max(max(r) for r in tp.values()) + 1)
    ax.plot(ps, [harmonic_number(int(p)) for p in ps], "k--", label="H_P = 1 + 1/2 + … + 1/P")
    ax.set(xlabel="workers P", ylabel="throughput ratio async / sync", title="Asynchronous workers do not wait for stragglers")
    ax.legend(fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------------
# Part 4: digits at equal simulated wall-clock
# ---------------------------------------------------------------------------------------------
def _rounds_async(times: tuple[float, ...], budget: float, p: int) -> int:
    return max(1, sum(t <= budget for t in times) // p)


def _rounds_sync(durations: torch.Tensor, budget: float) -> int:
    return max(1, int((round_times(durations) <= budget).sum()))


def digits_race(s: Settings, kind: str = "exponential", seed: int = 0) -> dict:
    """SGD, SAM (one worker), DP-SAM, EASGD and LSAM (P workers) on digits, each for as many steps as fit in
    ``s.digits_budget`` simulated time units. One table of step durations (P, steps) is drawn once and shared:
    a plain gradient step of worker i takes ``d[i, k]``; a SAM step (two passes) takes ``2 d[i, k]``. Also runs
    LSAM with rho = 0 and EASGD on the same events (``"check"``)."""
    p, B, eta = s.p, s.digits_budget, s.digits_eta
    d = StepTimes(kind).sample((p, int(4 * B) + 64), generator=seed)
    ev1, ev2 = event_schedule(d), event_schedule(2 * d)

    def obj(workers: int):
        return make_objective("digits", workers, seed=seed, hidden=s.digits_hidden, device=s.device)

    rec = s.record_every
    runs: dict[str, RunResult] = {}
    o = obj(1)
    runs["SGD"] = run_dp_sam(o, o.initial(), 1, eta, _rounds_sync(d[:1], B), rho=0.0, durations=d[:1], record_every=rec)
    o = obj(1)
    runs["SAM"] = run_dp_sam(o, o.initial(), 1, eta, _rounds_sync(2 * d[:1], B), rho=s.rho, durations=2 * d[:1], record_every=rec)
    o = obj(p)
    runs["DP-SAM"] = run_dp_sam(o, o.initial(), p, eta, _rounds_sync(2 * d, B), rho=s.rho, durations=2 * d, record_every=rec)
    o = obj(p)
    runs["EASGD"] = run_easgd(o, o.initial(), p, eta, _rounds_async(ev1.times, B, p), tau=s.tau, mode="async", schedule=ev1,
                              record_every=rec)
    o = obj(p)
    runs["LSAM"] = run_lsam(o, o.initial(), p, eta, _rounds_async(ev2.times, B, p), rho=s.rho, tau=s.tau, schedule=ev2,
                            record_every=rec)
    n_check = min(60, _rounds_async(ev1.times, B, p))
    o1, o2 = obj(p), obj(p)
    check = (run_lsam(o1, o1.initial(), p, eta, n_check, rho=0.0, tau=s.tau, schedule=ev1, record_every=10),
             run_easgd(o2, o2.initial(), p, eta, n_check, tau=s.tau, mode="async", schedule=ev1, record_every=10))
    return {"runs": runs, "check": check, "budget": B, "kind": kind, "p": p}


def final_accuracy(res: RunResult) -> float:
    """Test accuracy of the center at the run's last record (NaN if it diverged)."""
    return float("nan") if res.history.diverged else 1.0 - float(res.history.center_error[-1])


def time_to(res: RunResult, accuracy: float) -> float | None:
    """First simulated time at which the center's test accuracy reaches ``accuracy`` (None if never)."""
    for t, e in zip(res.history.times, res.history.center_error):
        if 1.0 - e >= accuracy:
            return float(t)
    return None


def plot_digits(race: dict) -> plt.Figure:
    """Center test accuracy against simulated time (left) and against gradient evaluations (right)."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    for name, r in race["runs"].items():
        h = r.history
        acc = 100 * (1 - np.array(h.center_error))
        a1.plot(h.times, acc, color=COLORS[name], label=name)
        a2.plot(h.gradients, acc, color=COLORS[name], label=name)
    for a in (a1, a2):
        a.axhline(90, color="k", ls=":", lw=1)
    a1.set(xlabel="simulated wall-clock (mean time of one gradient pass = 1)", ylabel="center test accuracy (%)",
           ylim=(50, 100), title=f"Digits, P = {race['p']}, {race['kind']} step times")
    a2.set(xlabel="gradient evaluations, all workers (SAM: 2 per step)", title="The same against computation")
    a1.legend(fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------------
# Widgets
# ---------------------------------------------------------------------------------------------
_EXPLORER: dict[int, Landscape] = {}


def plot_landscape_explorer(rho: float = 0.1, sigma: float = 0.3, T: float = 0.05, grid_points: int = 1201) -> plt.Figure:
    """Widget 1: f, f^SAM_rho and F_{sigma,T} (shifted to share the minimum), minima marked, on a CPU grid."""
    if grid_points not in _EXPLORER:
        _EXPLORER[grid_points] = landscape(Settings(grid_points=grid_points))
    L = _EXPLORER[grid_points]
    r = ranking(L, rho, sigma, T)
    inside = (L.x >= L.points[0]) & (L.x <= L.points[-1])
    fig, ax = plt.subplots(figsize=(8, 4.2))
    base = float(L.f[inside].min())
    ax.plot(L.x[inside], L.f[inside] - base, color="k", label="f")
    ax.plot(L.x[inside], r["fs"][inside] - float(r["fs"][inside].min()), color="C1", label=f"f^SAM, ρ = {rho:.3g}")
    F = r["F"] - r["F"].min()
    ax.plot(L.points, F, color="C3", lw=2, label=f"F, σ = {sigma:.3g}, T = {T:.3g}")
    for m in r["minima"]:
        ax.plot([m], [float(F[int(torch.argmin((L.points - m).abs()))])], "o", color="C3")
    ax.set(xlabel="parameter x (dimensionless)", ylabel="value − its minimum", ylim=(-0.05, 1.5),
           title=f"F(−0.5) − F(0.6) = {r['diff']:+.3f};  {len(r['minima'])} local minima of F")
    ax.legend(fontsize=8)
    return fig


def plot_straggler_explorer(kind: str = "exponential", p: int = 4, rounds: int = 4000) -> plt.Figure:
    """Widget 2: steps per unit time of synchronous rounds and asynchronous workers, for one step-time model."""
    rows = throughput_ratios(kind, ps=tuple(range(1, 9)), rounds=rounds)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    a1.bar([0, 1], [rows[p]["sync"], rows[p]["async"]], color=["C0", "C3"])
    a1.set_xticks([0, 1], ["synchronous (DP-SAM)", "asynchronous (LSAM)"])
    a1.set(ylabel="worker steps per unit time", title=f"P = {p}, {kind}: ratio {rows[p]['ratio']:.2f}")
    ps = sorted(rows)
    a2.plot(ps, [rows[q]["ratio"] for q in ps], "o-", color="C3", label=f"simulated, {kind}")
    a2.plot(ps, [harmonic_number(q) for q in ps], "k--", label="H_P (exponential times)")
    a2.set(xlabel="workers P", ylabel="throughput ratio async / sync", title="Ratio against the number of workers")
    a2.legend(fontsize=8)
    return fig


def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """Parts 1, 2 and 4 at their smallest sizes on ``base.device``: the tensors they return, by name. Used by
    the device tests and ``gpucheck``. The Langevin means come from the device's generator
    (:data:`DEVICE_DEPENDENT`)."""
    s = replace(settings(base), grid_points=601, langevin_steps=200, langevin_burn=50, chains=4, digits_hidden=8,
                digits_budget=12.0)
    L = landscape(s)
    r = ranking(L, *SETTINGS_1D["SAM + smoothing"])
    samp = sampler_experiment(s, centers=(0.6, -0.5))
    race = digits_race(s)
    return {"A: smoothed landscape": r["F"], "A: Gibbs means": samp["ref"], "B: Langevin means": samp["groups"],
            "D: LSAM center": race["runs"]["LSAM"].center, "D: DP-SAM center": race["runs"]["DP-SAM"].center}
