"""Chapter 14 demos: the rotation toy (exact Kalman filter vs a trained DAN), Lorenz-96 (the ensemble Kalman filters and
a small DAN), the figures and the widget callbacks.

The models, filters and networks live in :mod:`harmonia.assimilation` (with :class:`harmonia.nn.FcZero` and
:class:`harmonia.nn.GaussianHead`); this module holds the chapter's configurations, runners and figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np
import torch

from harmonia.assimilation import (
    DAN,
    DANHistory,
    assimilate,
    evaluate_dan,
    kalman_filter,
    lorenz96_initial,
    lorenz96_model,
    rmse_per_sample,
    rotation_model,
    steady_state,
    train_online,
)
from harmonia.course.settings import ChapterSettings, extend
from harmonia.nn.gaussian import gaussian_nll

__all__ = [
    "Settings",
    "settings",
    "toy_kalman",
    "toy_test_run",
    "observation_only",
    "train_toy_dan",
    "toy_scores",
    "l96_test_run",
    "enkf_scores",
    "train_l96_dan",
    "CHECKPOINT",
    "build_checkpoint",
    "load_checkpoint",
    "plot_toy_tracks",
    "plot_training",
    "plot_l96",
    "plot_toy_mismatch",
    "plot_enkf_sweep",
    "device_check",
]

F64 = torch.float64

#: Memory bound of the toy's DAN (its state has no stationary regime; see :class:`harmonia.assimilation.DAN`).
TOY_SATURATION = 10.0

#: Mean and standard deviation of Lorenz-96 (F = 8, model noise 0.1) on its attractor, measured over long runs;
#: the mini-DAN works in these units.
CLIMATOLOGY = (2.34, 3.66)


@dataclass(frozen=True)
class Settings(ChapterSettings):
    """Sizes. Toy: DAN memory ``toy_dh``, ``toy_depth`` residual layers, ``toy_steps`` Adam steps (lr ``toy_lr``) on
    ``toy_batch`` trajectories, the learning rate decaying exponentially by ``toy_lr_decay`` over the run; tests on
    ``test_batch`` trajectories of ``test_T`` cycles (``warmup`` discarded).
    Lorenz-96: ``l96_dh``, ``l96_depth``, ``l96_steps``, ``l96_batch``, ``l96_lr`` (decaying by ``l96_lr_decay``), tested
    on ``l96_test_batch`` runs of ``l96_test_T`` cycles; EnKF with ``n_ens`` members over ``enkf_T`` cycles (the first
    ``enkf_spinup`` discarded)."""

    toy_dh: int = 40
    toy_depth: int = 4
    toy_steps: int = 4000
    toy_batch: int = 512
    toy_lr: float = 3e-3
    toy_lr_decay: float = 0.003
    test_batch: int = 256
    test_T: int = 300
    warmup: int = 50
    l96_dh: int = 160
    l96_depth: int = 3
    l96_steps: int = 4000
    l96_batch: int = 64
    l96_lr: float = 3e-3
    l96_lr_decay: float = 0.1
    l96_test_batch: int = 16
    l96_test_T: int = 300
    n_ens: int = 20
    enkf_T: int = 1000
    enkf_spinup: int = 200


def settings(base: ChapterSettings | None = None) -> Settings:
    """Fast mode as above; full mode: the paper's DAN (memory 800, 19 residual layers, batch 1024, 100 000 steps at
    lr 1e-4) and longer tests."""
    return extend(Settings, base, {
        "toy_steps": 10000, "l96_dh": 800, "l96_depth": 19, "l96_steps": 100_000, "l96_batch": 1024, "l96_lr": 3e-4,
        "l96_test_batch": 64, "l96_test_T": 2000, "enkf_T": 5000,
    })


# -------------------------------------------------------------------------------------------- toy
def toy_kalman(theta: float = math.pi / 100, sigma_q: float = 0.1, sigma_r: float = 1.0) -> dict:
    """Steady-state Kalman filter of the rotation toy: ``pa``, ``pb`` (the isotropic variances) and its expected
    per-cycle NLLs, :math:`\\tfrac n2\\log(2\\pi e\\,p)` with n = 2."""
    m = rotation_model(theta, sigma_q, sigma_r)
    eye = torch.eye(2, dtype=F64)
    Pb, Pa, _ = steady_state(m.M, sigma_q**2 * eye, m.H_matrix(), sigma_r**2 * eye)
    pa, pb = float(Pa[0, 0]), float(Pb[0, 0])
    return {"pa": pa, "pb": pb, "nll_a": 1 + math.log(2 * math.pi * pa), "nll_b": 1 + math.log(2 * math.pi * pb)}


def toy_test_run(s: Settings, theta: float = math.pi / 100, sigma_q: float = 0.1, sigma_r: float = 1.0, seed: int = 1
                 ) -> tuple:
    """A test run of the toy: ``test_batch`` trajectories from :math:`x_0\\sim\\mathcal N(0,I)`, ``test_T`` cycles.
    Returns (model, xs (T, B, 2), ys (T, B, 2)) in float32 on ``s.device``."""
    m = rotation_model(theta, sigma_q, sigma_r, dtype=torch.float32, device=s.device)
    g = torch.Generator(device=s.device).manual_seed(seed)
    x0 = torch.randn(s.test_batch, 2, generator=g, device=s.device)
    xs, ys = m.simulate(x0, s.test_T, g)
    return m, xs, ys


def toy_scores_kalman(m, xs, ys, warmup: int) -> dict:
    """Scores of the exact Kalman filter (prior :math:`\\mathcal N(0,I)` for :math:`x_0`) on a test run."""
    xs64, ys64 = xs.to(F64), ys.to(F64)
    eye = torch.eye(2, dtype=F64, device=xs.device)
    kf = kalman_filter(m.M.to(F64), m.sigma_q**2 * eye, m.H_matrix(dtype=F64, device=xs.device), m.sigma_r**2 * eye,
                       torch.zeros(2, dtype=F64, device=xs.device), eye, ys64)
    s = slice(warmup, None)
    La, Lb = torch.linalg.cholesky(kf.cov_a)[:, None], torch.linalg.cholesky(kf.cov_b)[:, None]
    return {"rmse_a": float(rmse_per_sample(xs64[s], kf.mean_a[s]).mean()),
            "rmse_b": float(rmse_per_sample(xs64[s], kf.mean_b[s]).mean()),
            "nll_a": float(gaussian_nll(xs64[s], kf.mean_a[s], La[s]).mean()),
            "nll_b": float(gaussian_nll(xs64[s], kf.mean_b[s], Lb[s]).mean()), "mean_a": kf.mean_a.float()}


def observation_only(m, xs, ys, warmup: int) -> dict:
    """The baseline "analysis = observation": :math:`\\mathcal N(y_t,\\sigma_r^2I)` (full observation only)."""
    s = slice(warmup, None)
    L = m.sigma_r * torch.eye(m.n, dtype=xs.dtype, device=xs.device)
    return {"rmse_a": float(rmse_per_sample(xs[s], ys[s]).mean()), "nll_a": float(gaussian_nll(xs[s], ys[s], L).mean())}


def train_toy_dan(s: Settings, seed: int = 0, theta: float = math.pi / 100) -> tuple[DAN, DANHistory]:
    """A DAN with memory ``toy_dh`` trained online (window 1, Adam ``toy_lr``) for ``toy_steps`` steps on
    ``toy_batch`` trajectories of the toy, in float32 on ``s.device``."""
    torch.manual_seed(seed)
    m = rotation_model(theta, dtype=torch.float32, device=s.device)
    dan = DAN(2, 2, s.toy_dh, s.toy_depth, saturation=TOY_SATURATION).to(s.device)
    g = torch.Generator(device=s.device).manual_seed(seed)
    x = torch.randn(s.toy_batch, 2, generator=g, device=s.device)
    opt = torch.optim.Adam(dan.parameters(), lr=s.toy_lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=s.toy_lr_decay ** (1 / max(s.toy_steps, 1)))
    _, _, hist = train_online(dan, m, x, opt, s.toy_steps, generator=g, restart_prob=1 / s.test_T, max_grad_norm=1.0,
                              initial=lambda k: torch.randn(k, 2, generator=g, device=s.device), scheduler=sched)
    return dan, hist


def toy_scores(dan: DAN, s: Settings, theta: float = math.pi / 100, sigma_r: float = 1.0, seed: int = 1) -> dict:
    """DAN, Kalman filter and observation-only scores on one toy test run (same truths and observations)."""
    m, xs, ys = toy_test_run(s, theta=theta, sigma_r=sigma_r, seed=seed)
    return {"DAN": evaluate_dan(dan, m, xs, ys, s.warmup), "KF": toy_scores_kalman(m, xs, ys, s.warmup),
            "obs": observation_only(m, xs, ys, s.warmup), "xs": xs, "ys": ys}


# ------------------------------------------------------------------------------------------ Lorenz
def l96_test_run(s: Settings, T: int, batch: int, seed: int = 1, dtype: torch.dtype = F64, partial: bool = False,
                 F: float = 8.0) -> tuple:
    """A Lorenz-96 test run: ``batch`` truths on the attractor (burn-in 1000 steps), ``T`` cycles. Returns
    (model, xs (T, B, 40), ys (T, B, p))."""
    m = lorenz96_model(F=F, partial=partial)
    g = torch.Generator(device=s.device).manual_seed(seed)
    x0 = lorenz96_initial(batch, m, generator=g, dtype=dtype, device=s.device)
    xs, ys = m.simulate(x0, T, g)
    return m, xs, ys


def enkf_scores(s: Settings, method: str = "enkf", n_ens: int | None = None, inflation: float = 1.05,
                loc_radius: float | None = 4.0, T: int | None = None, F: float = 8.0, seed: int = 1) -> dict:
    """An ensemble filter on one Lorenz-96 run of ``enkf_T`` cycles (the first ``enkf_spinup`` discarded): mean
    ``rmse_a``, ``rmse_b`` and the :class:`harmonia.assimilation.FilterRun`."""
    T = s.enkf_T if T is None else T
    m, xs, ys = l96_test_run(s, T, 1, seed=seed, F=F)
    g = torch.Generator(device=s.device).manual_seed(seed + 100)
    E0 = xs[0] + torch.randn(n_ens or s.n_ens, m.n, generator=g, dtype=F64, device=s.device)
    run = assimilate(m, xs[:, 0], ys[:, 0], E0, method=method, inflation=inflation, loc_radius=loc_radius,
                     generator=g)
    k = min(s.enkf_spinup, T // 2)
    return {"rmse_a": float(run.rmse_a[k:].mean()), "rmse_b": float(run.rmse_b[k:].mean()), "run": run,
            "xs": xs[:, 0], "ys": ys[:, 0]}


def train_l96_dan(s: Settings, seed: int = 0, log_every: int = 250, progress: bool = False) -> dict:
    """The mini-DAN on fully observed Lorenz-96: memory ``l96_dh``, ``l96_depth`` residual layers, full Cholesky head,
    trained online for ``l96_steps`` steps; every ``log_every`` steps it is tested (no gradients) on one fixed test
    run. Returns the network, the training history and the test curve (steps, rmse_b, rmse_a)."""
    torch.manual_seed(seed)
    m = lorenz96_model()
    dan = DAN(m.n, m.p, s.l96_dh, s.l96_depth, loc=CLIMATOLOGY[0], scale=CLIMATOLOGY[1]).to(s.device)
    g = torch.Generator(device=s.device).manual_seed(seed)
    x = lorenz96_initial(s.l96_batch, m, generator=g, dtype=torch.float32, device=s.device)
    _, xs, ys = l96_test_run(s, s.l96_test_T, s.l96_test_batch, seed=seed + 1, dtype=torch.float32)
    opt = torch.optim.Adam(dan.parameters(), lr=s.l96_lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=s.l96_lr_decay ** (1 / max(s.l96_steps, 1)))
    hist, ha, curve = DANHistory(), None, {"step": [], "rmse_b": [], "rmse_a": [], "nll_a": []}
    done = 0
    while done < s.l96_steps:
        k = min(log_every, s.l96_steps - done)
        x, ha, hist = train_online(dan, m, x, opt, k, ha=ha, generator=g, history=hist, max_grad_norm=1.0,
                                   scheduler=sched, progress=progress)
        done += k
        ev = evaluate_dan(dan, m, xs, ys, s.warmup)
        for key in ("rmse_b", "rmse_a", "nll_a"):
            curve[key].append(ev[key])
        curve["step"].append(done)
    return {"dan": dan, "history": hist, "curve": curve, "test": ev, "test_mean_a": ev["mean_a"], "xs": xs, "ys": ys}


#: The shipped Lorenz-96 checkpoint: the fast-mode mini-DAN's architecture trained ten times longer on a larger batch.
CHECKPOINT = {"l96_steps": 40000, "l96_batch": 128, "l96_lr": 3e-3, "l96_lr_decay": 0.03}


def build_checkpoint(path=None) -> str:
    """Train the shipped checkpoint (:data:`CHECKPOINT`, seed 0; about 7 minutes on one CPU core) and write its
    weights to ``datasets/dan_l96.npz`` in float16 (arrays only, no pickle; about 0.7 MB). Returns the path."""
    from harmonia.data import datasets_dir, save_npz
    from harmonia.course.settings import current

    s = replace(settings(current(mode="fast", device="cpu")), **CHECKPOINT)
    res = train_l96_dan(s, seed=0, log_every=s.l96_steps)
    out = path or str(datasets_dir() / "dan_l96.npz")
    save_npz(out, **{k.replace(".", "__"): v.detach().cpu().numpy().astype("float16")
                     for k, v in res["dan"].state_dict().items()})
    return out


def load_checkpoint(s: Settings) -> DAN:
    """The shipped mini-DAN (registered dataset ``dan_l96``, sha256-checked) on ``s.device``."""
    from harmonia.data import load_npz

    arrays = load_npz("dan_l96")
    dan = DAN(40, 40, 160, 3, loc=CLIMATOLOGY[0], scale=CLIMATOLOGY[1])
    dan.load_state_dict({k.replace("__", "."): torch.from_numpy(v.astype("float32")) for k, v in arrays.items()})
    return dan.to(s.device).eval()


# ------------------------------------------------------------------------------------------ figures
def plot_toy_tracks(sc: dict, steps: int = 120):
    """First coordinate of one test trajectory: truth, observations, Kalman and DAN posterior means."""
    xs, ys = sc["xs"][:steps, 0, 0].cpu(), sc["ys"][:steps, 0, 0].cpu()
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    t = np.arange(len(xs))
    ax.plot(t, ys, ".", color="0.6", ms=4, label="observation y")
    ax.plot(t, xs, "k", lw=2, label="truth x")
    ax.plot(t, sc["KF"]["mean_a"][:steps, 0, 0].cpu(), color="C0", label="Kalman filter mean")
    ax.plot(t, sc["DAN"]["mean_a"][:steps, 0, 0].cpu(), "--", color="C1", label="DAN mean")
    ax.set(xlabel="cycle t", ylabel="first coordinate", title="Rotation toy: the DAN tracks like the Kalman filter")
    ax.legend(ncol=2, fontsize=8)
    return fig


def plot_training(hist: DANHistory, title: str, reference: dict[str, float] | None = None, smooth: int = 50):
    """Training loss (prior + posterior NLL, smoothed over ``smooth`` steps) with optional horizontal references."""
    loss = np.convolve(np.array(hist.loss), np.ones(smooth) / smooth, mode="valid")
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(np.arange(len(loss)) + smooth, loss, label="DAN training loss")
    for i, (name, v) in enumerate((reference or {}).items()):
        ax.axhline(v, ls="--", color=f"C{i + 2}", lw=1, label=name)
    ax.set(xlabel="optimiser step", ylabel="NLL_b + NLL_a (nats, log scale)", title=title, yscale="log")
    ax.legend()
    return fig


def plot_l96(res: dict, enkf: dict, climatology: float):
    """Left: the DAN's test RMSE against training steps with the EnKF, observation-only and climatology levels.
    Right: one variable of the test run, truth vs DAN and EnKF analyses."""
    c = res["curve"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    ax = axes[0]
    ax.plot(c["step"], c["rmse_b"], "o-", label="DAN prior (test)")
    ax.plot(c["step"], c["rmse_a"], "s-", label="DAN posterior (test)")
    ax.axhline(enkf["rmse_a"], color="C2", ls="--", lw=1, label=f"EnKF, N = 20: {enkf['rmse_a']:.2f}")
    ax.axhline(1.0, color="0.5", ls=":", lw=1, label="observation only: 1.0")
    ax.axhline(climatology, color="k", ls="-.", lw=1, label=f"climatology: {climatology:.2f}")
    ax.set(yscale="log", xlabel="optimiser step", ylabel="RMSE (per sample)", title="Lorenz-96: learning to assimilate",
           ylim=(0.25, 12))
    ax.legend(fontsize=8, ncol=2, loc="upper right")
    ax = axes[1]
    T = min(150, res["xs"].shape[0])
    t = np.arange(T)
    ax.plot(t, res["ys"][:T, 0, 0].cpu(), ".", color="0.6", ms=4, label="observation")
    ax.plot(t, res["xs"][:T, 0, 0].cpu(), "k", lw=2, label="truth")
    ax.plot(t, res["test_mean_a"][:T, 0, 0].cpu(), color="C1", label="DAN posterior mean")
    ax.set(xlabel="cycle t", ylabel="x_0", title="One variable of a test run")
    ax.legend(fontsize=8)
    return fig


def plot_toy_mismatch(dan: DAN, s: Settings, sigma_r: float = 1.0, theta_over_pi: float = 0.01):
    """The toy DAN (trained at sigma_r = 1, theta = pi/100) and the exact Kalman filter of the chosen setting on the
    same test run: analysis NLL and RMSE as bars."""
    sc = toy_scores(dan, replace(s, test_batch=64, test_T=200), theta=math.pi * theta_over_pi, sigma_r=sigma_r)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
    for ax, key, label in ((axes[0], "nll_a", "analysis NLL (nats)"), (axes[1], "rmse_a", "analysis RMSE")):
        vals = [sc["KF"][key], sc["DAN"][key], sc["obs"][key]]
        ax.bar(["Kalman (true model)", "DAN (trained)", "observation"], vals, color=["C0", "C1", "0.6"])
        ax.set(ylabel=label, title=label.split(" (")[0], xlabel="filter")
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle(f"σ_r = {sigma_r:g}, θ = {theta_over_pi:g}π: the DAN only knows the training setting")
    return fig


def plot_enkf_sweep(s: Settings, F: float = 8.0, n_ens: int = 20, T: int = 300):
    """RMSE of the stochastic EnKF (inflation 1.05, localisation 4) and the LETKF on a short Lorenz-96 run with
    forcing ``F`` and ``n_ens`` members: analysis RMSE over time."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for i, method in enumerate(("enkf", "letkf")):
        r = enkf_scores(s, method, n_ens=n_ens, T=T, F=F)
        ax.plot(r["run"].rmse_a.cpu(), color=f"C{i}", lw=1, label=f"{method.upper()}: mean {r['rmse_a']:.2f}")
    ax.axhline(1.0, color="0.5", ls=":", lw=1, label="observation only")
    ax.set(yscale="log", xlabel="cycle t", ylabel="analysis RMSE", title=f"Lorenz-96, F = {F:g}, N = {n_ens} members")
    ax.legend(fontsize=8)
    return fig


# -------------------------------------------------------------------------------------------- device
def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """Lorenz-96 steps, a LETKF analysis and three DAN training steps on ``base.device``."""
    s = replace(settings(replace(base, mode="fast")), l96_dh=16, l96_depth=1, l96_batch=8, l96_steps=3,
                l96_test_batch=2, l96_test_T=60, warmup=10, enkf_T=20)
    r = enkf_scores(s, "letkf", n_ens=8, T=20)
    res = train_l96_dan(s, log_every=3)
    return {"EnKF mean": r["run"].mean_a, "DAN analysis mean": res["test_mean_a"]}
