"""Chapter 18 demos: the pair-search table of the kernels' constants, the divergence of non-Lipschitz kernels, the
finite-width experiments (paired Fourier features, exact ReLU in the plane, random-phase features on growing domains),
the kernel-ridge certificate, and the figures and widget callbacks.

The method lives in :mod:`harmonia.kernels`. Every computation here is float64 (the distances of close points cancel
in float32) and draws its randomness from seeded generators.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch

from harmonia.course.settings import ChapterSettings, extend
from harmonia.kernels import (
    RandomFeatures,
    closed_form_lip,
    gaussian,
    gaussian_net_AB,
    gaussian_net_lip,
    kernel_distance,
    lip_on_points,
    lip_relu_2d,
    lip_second_moment,
    pair_search,
    rkhs_lip_bound,
    sample_spectral,
)

__all__ = ["Settings", "settings", "PAIR_ROWS", "FOURIER", "METRIC_KERNELS", "pair_table", "divergence",
           "fourier_widths", "relu_widths", "quantiles", "rate_slope", "phase_sup", "phase_table", "certificate",
           "plot_metric", "metric_inactive", "plot_AB", "plot_convergence", "plot_relu_rate", "plot_histogram", "plot_phase",
           "device_check"]

F64 = torch.float64

#: (label, kernel name, parameters) of the pair-search table
PAIR_ROWS = (
    ("Gaussian, ℓ = 1", "gaussian", {"ell": 1.0}),
    ("Gaussian, ℓ = 0.5", "gaussian", {"ell": 0.5}),
    ("Matérn 5/2, ℓ = 1", "matern", {"nu": 2.5, "ell": 1.0}),
    ("Matérn 3/2, ℓ = 1", "matern", {"nu": 1.5, "ell": 1.0}),
    ("rational quadratic, α = 0.5", "rational_quadratic", {"alpha": 0.5, "ell": 1.0}),
    ("ReLU network, s_b = 0", "arccos1", {"s_w": 1.0, "s_b": 0.0}),
    ("ReLU network, s_b = 0.7", "arccos1", {"s_w": 1.0, "s_b": 0.7}),
    ("erf network, s_b = 0", "arcsin_erf", {"s_w": 1.0, "s_b": 0.0}),
    ("erf network, s_b = 0.5", "arcsin_erf", {"s_w": 1.0, "s_b": 0.5}),
)

#: the paired-Fourier experiments: label -> (spectral law, its parameters, infinite-width constant)
FOURIER = {
    "Gaussian": ("gaussian", {}, 1.0),
    "Matérn 5/2": ("matern", {"nu": 2.5}, math.sqrt(5 / 3)),
    "Matérn 3/2": ("matern", {"nu": 1.5}, math.sqrt(3)),
    "Laplace": ("laplace", {}, math.inf),
}

#: the kernel-metric widget's choices: label -> (kernel name, parameter names it takes)
METRIC_KERNELS = {
    "Gaussian": ("gaussian", ("ell",)),
    "Matérn": ("matern", ("nu", "ell")),
    "Laplace": ("laplace", ("ell",)),
    "rational quadratic": ("rational_quadratic", ("ell",)),
    "ReLU network": ("arccos1", ()),
    "erf network": ("arcsin_erf", ()),
}


@dataclass(frozen=True)
class Settings(ChapterSettings):
    """Sizes of the chapter's experiments: input dimension, pairs of the pair search, widths and draws of the
    finite-width experiments, the random-phase widths and domain radii (grid step ``phase_step``), the certificate's
    sample size and ridge, and the seed."""

    d: int = 2
    n_pairs: int = 300_000
    widths: tuple[int, ...] = (10, 100, 1_000, 10_000, 100_000)
    relu_widths: tuple[int, ...] = (10, 100, 1_000, 10_000)
    draws: int = 20
    phase_widths: tuple[int, ...] = (4, 16, 64)
    phase_radii: tuple[float, ...] = (1.0, 10.0, 100.0)
    phase_step: float = 1e-3
    n_train: int = 200
    ridge: float = 1e-2
    seed: int = 0


def settings(base: ChapterSettings | None = None) -> Settings:
    """Fast mode as above; full mode: a million pairs, widths up to 10^6, 100 draws, ReLU up to 10^5."""
    return extend(Settings, base, {"n_pairs": 1_000_000, "widths": (10, 100, 1_000, 10_000, 100_000, 1_000_000),
                                   "relu_widths": (10, 100, 1_000, 10_000, 100_000), "draws": 100,
                                   "phase_widths": (4, 16, 64, 256), "phase_radii": (1.0, 10.0, 100.0, 1000.0)})


# --- kernel level ----------------------------------------------------------------------------------------------------

def pair_table(s: Settings, which: str = "all") -> list[dict]:
    """For each row of :data:`PAIR_ROWS` (``which``: "all", "stationary" or "networks"): the closed form, the pair
    search's largest slope, their relative gap, and the two-dimensional Gaussian integral for the network kernels
    (None for the others)."""
    if which not in ("all", "stationary", "networks"):
        raise ValueError(f"which: expected one of ('all', 'stationary', 'networks'), got {which!r}")
    rows = []
    for k, (label, name, params) in enumerate(PAIR_ROWS):
        network = name in ("arccos1", "arcsin_erf")
        if (which == "stationary" and network) or (which == "networks" and not network):
            continue
        found = pair_search(name, s.d, s.n_pairs, generator=s.seed + k, **params)
        closed = closed_form_lip(name, **params)
        integral = None
        if name in ("arccos1", "arcsin_erf"):
            integral = gaussian_net_lip("relu" if name == "arccos1" else "erf", params["s_w"], params["s_b"])
        rows.append({"label": label, "name": name, "params": params, "closed": closed, "search": found.lip,
                     "rel": abs(found.lip - closed) / closed, "integral": integral})
    return rows


def divergence(deltas: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4)) -> dict[str, list[float]]:
    """Slopes :math:`d_k(0,\\delta e_1)/\\delta` at shrinking separations: Laplace and Matérn 1 (unbounded, no
    Lipschitz constant) against Matérn 3/2 (bounded by its constant :math:`\\sqrt3`)."""
    cases = {"Laplace": ("laplace", {}), "Matérn ν = 1": ("matern", {"nu": 1.0}),
             "Matérn ν = 3/2": ("matern", {"nu": 1.5})}
    zero = torch.zeros(1, 2, dtype=F64)
    out = {}
    for label, (name, params) in cases.items():
        out[label] = [float(kernel_distance(name, zero, torch.tensor([[dl, 0.0]], dtype=F64), **params)[0]) / dl
                      for dl in deltas]
    return out


# --- finite width ----------------------------------------------------------------------------------------------------

def fourier_widths(s: Settings, label: str) -> dict[int, torch.Tensor]:
    """:math:`\\mathrm{Lip}(\\theta_N)` of ``s.draws`` independent paired-Fourier feature maps of each width, for the
    spectral law of ``label`` (a key of :data:`FOURIER`), exact: :math:`\\lambda_{\\max}(W^\\top W/N)^{1/2}`.
    Returns {N: (draws,)}."""
    if label not in FOURIER:
        raise ValueError(f"label: expected one of {tuple(FOURIER)}, got {label!r}")
    kind, params, _ = FOURIER[label]
    out = {}
    for k, N in enumerate(s.widths):
        W = sample_spectral(kind, s.draws * N, s.d, generator=1000 * s.seed + k, device=s.device, **params)
        out[N] = lip_second_moment(W.reshape(s.draws, N, s.d)).cpu()
    return out


def relu_widths(s: Settings) -> dict[int, torch.Tensor]:
    """Exact :math:`\\mathrm{Lip}(\\theta_N)` of ``s.draws`` bias-free ReLU feature maps in the plane
    (:func:`harmonia.kernels.lip_relu_2d`), weights :math:`\\mathcal N(0,I_2)`. Returns {N: (draws,)}."""
    out = {}
    for k, N in enumerate(s.relu_widths):
        g = torch.Generator().manual_seed(2000 * s.seed + k)
        W = torch.randn(s.draws, N, 2, generator=g, dtype=F64).to(s.device)
        out[N] = lip_relu_2d(W).cpu()
    return out


def quantiles(res: dict[int, torch.Tensor]) -> dict[int, tuple[float, float, float]]:
    """{N: (10 %, median, 90 %)} of each width's draws (medians and quantiles: heavy tails make means useless)."""
    q = torch.tensor([0.1, 0.5, 0.9], dtype=F64)
    return {N: tuple(float(v) for v in torch.quantile(vals.to(F64), q)) for N, vals in res.items()}


def rate_slope(res: dict[int, torch.Tensor], limit: float, lo: int = 100, hi: int = 10_000) -> float:
    """Least-squares slope of :math:`\\log|\\mathrm{median}-\\mathrm{limit}|` against :math:`\\log N` for widths in
    [lo, hi]."""
    Ns = [N for N in res if lo <= N <= hi]
    if len(Ns) < 2:
        raise ValueError(f"res: expected at least two widths in [{lo}, {hi}], got {sorted(res)}")
    x = np.log([float(N) for N in Ns])
    y = np.log([abs(float(res[N].median()) - limit) for N in Ns])
    return float(np.polyfit(x, y, 1)[0])


def phase_sup(N: int, radius: float, seed: int = 0, step: float = 1e-3) -> tuple[float, float]:
    """Random-phase features :math:`\\sqrt{2/N}\\cos(\\omega_ix+b_i)` in d = 1, :math:`\\omega_i\\sim\\mathcal N(0,1)`:
    (sup of :math:`|\\theta_N'(x)|` on a grid of step ``step`` over [-radius, radius],
    the paired-feature constant :math:`(\\frac1N\\sum\\omega_i^2)^{1/2}` of the same frequencies)."""
    rf = RandomFeatures("fourier_phase", 1, N, generator=seed)
    x = torch.arange(-radius, radius + step / 2, step, dtype=F64)[:, None]
    return float(lip_on_points(rf, x)), float(lip_second_moment(rf.W))


def phase_table(s: Settings) -> dict[int, dict]:
    """{N: {"paired": constant, radius: sup over [-radius, radius]}} for the settings' widths and radii (seed s.seed)."""
    out = {}
    for N in s.phase_widths:
        row: dict = {}
        for R in s.phase_radii:
            sup, paired = phase_sup(N, R, s.seed, s.phase_step)
            row[R] = sup
            row["paired"] = paired
        out[N] = row
    return out


def certificate(s: Settings, ridge: float | None = None, ell: float = 0.5, grid: int = 200) -> dict[str, float]:
    """Kernel ridge regression with the Gaussian kernel on ``s.n_train`` uniform points of :math:`[-1,1]^2`, targets
    :math:`\\sin(3x_1)\\cos(2x_2)+\\mathcal N(0,0.1^2)`: :math:`\\alpha=(K+n\\lambda I)^{-1}y`. Returns the
    certificate :math:`\\sqrt{\\alpha^\\top K\\alpha}/\\ell`, the largest gradient norm of f on a grid x grid of
    :math:`[-1,1]^2` (closed form :math:`\\nabla f(x)=\\sum_i\\alpha_ik(x_i,x)(x_i-x)/\\ell^2`) and their ratio."""
    lam = s.ridge if ridge is None else ridge
    g = torch.Generator().manual_seed(s.seed)
    X = 2 * torch.rand(s.n_train, 2, generator=g, dtype=F64) - 1
    y = torch.sin(3 * X[:, 0]) * torch.cos(2 * X[:, 1]) + 0.1 * torch.randn(s.n_train, generator=g, dtype=F64)
    K = gaussian(X[:, None], X[None], ell)
    alpha = torch.linalg.solve(K + s.n_train * lam * torch.eye(s.n_train, dtype=F64), y)
    bound = float(rkhs_lip_bound(alpha, K, 1 / ell))
    t = torch.linspace(-1, 1, grid, dtype=F64)
    P = torch.stack(torch.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)
    Kp = gaussian(P[:, None], X[None], ell)                                     # (P, n)
    grad = ((Kp * alpha)[..., None] * (X[None] - P[:, None])).sum(1) / ell ** 2
    emp = float(torch.linalg.vector_norm(grad, dim=-1).max())
    return {"bound": bound, "empirical": emp, "ratio": bound / emp}


# --- figures and widget callbacks ------------------------------------------------------------------------------------

def _metric_params(label: str, ell: float, nu: float) -> tuple[str, dict]:
    if label not in METRIC_KERNELS:
        raise ValueError(f"kernel: expected one of {tuple(METRIC_KERNELS)}, got {label!r}")
    name, keys = METRIC_KERNELS[label]
    return name, {k: v for k, v in (("ell", ell), ("nu", nu)) if k in keys}


def metric_inactive(kernel: str = "Matérn", ell: float = 1.0, nu: float = 1.5) -> dict[str, str]:
    """The controls of :func:`plot_metric` that have no effect for ``kernel``, with the reason (for the widget)."""
    _metric_params(kernel, ell, nu)
    _, keys = METRIC_KERNELS[kernel]
    reasons = {"ell": "the network kernels have no length scale", "nu": "only the Matérn kernel has a smoothness ν"}
    return {k: why for k, why in reasons.items() if k not in keys}


def plot_metric(kernel: str = "Matérn", ell: float = 1.0, nu: float = 1.5):
    """Left: the kernel distance :math:`d_k(0,re_1)` against r; right: its slope :math:`d_k/r` (log r axis) with the
    closed-form constant. The slope grows without bound at small r exactly when the kernel has no constant."""
    name, params = _metric_params(kernel, ell, nu)
    r = torch.logspace(-4, 1, 300, dtype=F64)
    x0 = torch.full((len(r), 2), 0.3, dtype=F64)          # the network kernels are not shift-invariant: start at (0.3, 0.3)
    if name in ("gaussian", "matern", "laplace", "rational_quadratic"):
        x0 = torch.zeros_like(x0)
    y = x0.clone()
    y[:, 0] += r
    dk = kernel_distance(name, x0, y, **params)
    lip = closed_form_lip(name, **params)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    a1.plot(r, dk)
    a1.set(xscale="log", xlabel="separation r", ylabel="$d_k(x, x + r e_1)$", title=f"{kernel}: kernel distance")
    a2.plot(r, dk / r, label="slope $d_k / r$")
    if math.isfinite(lip):
        a2.axhline(lip, color="k", ls="--", label=f"Lip(Φ) = {lip:.3f}")
        a2.set_ylim(0, 1.3 * max(lip, float((dk / r).max())))
    else:
        a2.set_yscale("log")
        a2.plot(r, torch.sqrt(2 / (r / ell)) / ell if name == "laplace" else torch.full_like(r, float("nan")),
                ":", color="gray", label="$\\sqrt{2/(r\\ell)}$" if name == "laplace" else None)
    a2.set(xscale="log", xlabel="separation r", ylabel="slope", title="slope: Lip(Φ) = " +
           ("∞" if not math.isfinite(lip) else f"{lip:.3f}"))
    a2.legend(fontsize=8)
    return fig


def plot_AB(activation: str = "erf", s_b: float = 0.0):
    """Heat map of :math:`\\rho^2B(\\tau)+(1-\\rho^2)A(\\tau)` over :math:`(\\tau,\\rho^2)` (s_w = 1), the infeasible
    region :math:`\\rho^2>1-s_b^2/\\tau^2` greyed out, and the maximiser."""
    tau = torch.logspace(-2, 1, 200, dtype=F64)
    rho2 = torch.linspace(0, 1, 101, dtype=F64)
    A, B = gaussian_net_AB(activation, tau)
    val = rho2[:, None] * B[None] + (1 - rho2[:, None]) * A[None]
    feasible = (tau[None] >= s_b) & (rho2[:, None] <= 1 - s_b ** 2 / tau[None] ** 2)
    shown = torch.where(feasible, val, torch.full_like(val, float("nan")))
    i = int(torch.nan_to_num(shown, nan=-1.0).argmax())
    fig, ax = plt.subplots(figsize=(6.2, 3.6), constrained_layout=True)
    ax.set_facecolor("0.85")
    m = ax.pcolormesh(tau.numpy(), rho2.numpy(), shown.numpy(), shading="auto", cmap="viridis")
    ax.plot(float(tau[i % len(tau)]), float(rho2[i // len(tau)]), "r*", ms=12,
            label=f"max {float(shown.flatten()[i]):.3f} → Lip ≈ {math.sqrt(float(shown.flatten()[i])):.3f}")
    ax.set(xscale="log", xlabel="τ = (s_w²|x|² + s_b²)^½", ylabel="ρ²",
           title=f"{activation}, s_w = 1, s_b = {s_b:g}: ρ²B(τ) + (1 − ρ²)A(τ)")
    ax.legend(loc="upper right", fontsize=8)
    fig.colorbar(m, ax=ax)
    return fig


def plot_convergence(fourier: dict[str, dict[int, torch.Tensor]], relu: dict[int, torch.Tensor]):
    """Median and 10-90 % band of :math:`\\mathrm{Lip}(\\theta_N)` against N for each paired-Fourier law and for ReLU
    features, with the infinite-width constants (Laplace on its own log axis)."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, res in list(fourier.items()) + [("ReLU (exact, plane)", relu)]:
        q = quantiles(res)
        Ns = list(q)
        ax = a2 if label == "Laplace" else a1
        line, = ax.plot(Ns, [q[N][1] for N in Ns], "o-", label=label)
        ax.fill_between(Ns, [q[N][0] for N in Ns], [q[N][2] for N in Ns], color=line.get_color(), alpha=0.2)
        lim = FOURIER[label][2] if label in FOURIER else 1 / math.sqrt(2)
        if math.isfinite(lim):
            ax.axhline(lim, color=line.get_color(), ls="--", lw=1)
    a1.set(xscale="log", xlabel="width N", ylabel="Lip(θ_N)", title="Finite width: median, 10-90 % band; dashed: Lip(Φ)")
    a1.legend(fontsize=8)
    a2.set(xscale="log", yscale="log", xlabel="width N", ylabel="Lip(θ_N)", title="Laplace: no limit")
    return fig


def plot_relu_rate(relu: dict[int, torch.Tensor], slope: float):
    """:math:`|\\mathrm{median}-1/\\sqrt2|` of the ReLU constants against N, log-log, with an :math:`N^{-1/2}` guide."""
    Ns = np.array(list(relu), dtype=float)
    err = np.array([abs(float(v.median()) - 1 / math.sqrt(2)) for v in relu.values()])
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    ax.loglog(Ns, err, "o-", label=f"|median − 1/√2|, fitted slope {slope:.2f}")
    ax.loglog(Ns, err[0] * (Ns / Ns[0]) ** -0.5, "k--", lw=1, label="$N^{-1/2}$ guide")
    ax.set(xlabel="width N", ylabel="error of the median", title="ReLU features in the plane: convergence from above")
    ax.legend(fontsize=8)
    return fig


def plot_histogram(kind: str = "Matérn 5/2", log10_width: float = 3.0, draws: int = 200):
    """Histogram of :math:`\\mathrm{Lip}(\\theta_N)` over ``draws`` paired-Fourier (or exact ReLU) feature maps of
    width :math:`N=10^{\\log_{10}N}`, with the infinite-width constant."""
    N = int(round(10 ** log10_width))
    s = Settings(widths=(N,), relu_widths=(N,), draws=draws)
    vals = relu_widths(s)[N] if kind == "ReLU" else fourier_widths(s, kind)[N]
    lim = 1 / math.sqrt(2) if kind == "ReLU" else FOURIER[kind][2]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    v = vals.numpy()
    ax.hist(np.log10(v) if kind == "Laplace" else v, bins=30, color="C0", alpha=0.8)
    if math.isfinite(lim):
        ax.axvline(lim, color="k", ls="--", label=f"Lip(Φ) = {lim:.3f}")
        ax.legend(fontsize=8)
    ax.set(xlabel="log10 Lip(θ_N)" if kind == "Laplace" else "Lip(θ_N)", ylabel="draws",
           title=f"{kind}, N = {N}: median {float(np.median(v)):.3g} over {draws} draws")
    return fig


def plot_phase(N: int = 16, radius: float = 10.0, seed: int = 0):
    """:math:`|\\theta_N'(x)|` of random-phase features over [-radius, radius] (d = 1), with
    :math:`\\mathrm{Lip}(\\Phi)=1`, the paired constant :math:`m=(\\frac1N\\sum\\omega_i^2)^{1/2}` and
    :math:`\\sqrt2\\,m`."""
    rf = RandomFeatures("fourier_phase", 1, N, generator=seed)
    n = int(min(200_000, max(2_000, 200 * radius)))
    x = torch.linspace(-radius, radius, n, dtype=F64)[:, None]
    local = rf.local_lip(x)
    m = float(lip_second_moment(rf.W))
    fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.plot(x[:, 0], local, lw=0.6)
    ax.axhline(1.0, color="k", ls=":", label="Lip(Φ) = 1")
    ax.axhline(m, color="C1", ls="--", label=f"paired constant m = {m:.3f}")
    ax.axhline(math.sqrt(2) * m, color="C3", ls="--", label=f"√2 m = {math.sqrt(2) * m:.3f}")
    ax.set(xlabel="x", ylabel="|θ_N'(x)|", title=f"Random-phase features, N = {N}: sup on [−{radius:g}, {radius:g}] = "
           f"{float(local.max()):.3f}")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """The finite-width constants (eigvalsh of Gram matrices, the ReLU arc walk) and a feature Jacobian on
    ``base.device``."""
    g = torch.Generator().manual_seed(0)
    W = torch.randn(4, 500, 2, generator=g, dtype=F64).to(base.device)
    rf = RandomFeatures("erf", 2, 64, generator=1, device=base.device)
    x = torch.randn(8, 2, generator=g, dtype=F64).to(base.device)
    return {"paired Fourier Lip": lip_second_moment(W), "ReLU arc walk": lip_relu_2d(W),
            "erf Gram derivative": rf.gram_derivative(x)}
