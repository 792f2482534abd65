"""Chapter 09 demos: learning the marks of base-station patterns (nearest-neighbour distance, Voronoi
cell area, log shot-noise) with a local baseline and with scattering moments and an inverse problem.

The methods live in :mod:`harmonia.pointprocess` (samplers, marks, rendering, the two learners) and
:mod:`harmonia.scattering.moments`; this module holds the chapter's data, runners and figures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.collections import LineCollection
from scipy.spatial import Voronoi

from harmonia.config import make_generator
from harmonia.course.plots import to_host
from harmonia.course.settings import ChapterSettings, extend
from harmonia.nn import pearson, r2_score
from harmonia.pointprocess import (
    BaselineMarkRegressor,
    ScatteringMarkModel,
    nn_distance,
    sample,
    shot_noise,
    voronoi_areas,
)

__all__ = [
    "Settings",
    "settings",
    "MARKS",
    "PROCESSES",
    "compute_marks",
    "make_dataset",
    "baseline_r2",
    "baseline_curves",
    "Recovery",
    "run_pipeline",
    "shrink",
    "plot_pattern",
    "plot_baseline_curves",
    "plot_recovery",
    "plot_mark_maps",
    "plot_r2_bars",
    "device_check",
]

MARKS = {"nn": "nearest-neighbour distance", "voronoi": "Voronoi cell area", "log_shot": "log shot-noise"}
PROCESSES = ("poisson", "cluster", "hardcore", "lattice")


@dataclass(frozen=True)
class Settings(ChapterSettings):
    """Mode, device and sizes: pattern intensity (mean number of stations on the unit torus), numbers of
    training / validation / test patterns, the rendering (``P`` pixels, bumps of ``sigma`` pixels), the
    scattering moments (``J``, ``L``), the baseline's ``K`` neighbours, the shot-noise path loss (``beta``,
    ``r0``), the inverse problem's L-BFGS ``steps`` and the point ``process``."""

    intensity: float = 64.0
    n_train: int = 200
    n_val: int = 50
    n_test: int = 3
    P: int = 64
    J: int = 4
    L: int = 4
    sigma: float = 1.0
    K: int = 10
    beta: float = 3.0
    r0: float = 0.02
    steps: int = 150
    process: str = "poisson"


def settings(base: ChapterSettings | None = None) -> Settings:
    """``base`` (default: :func:`harmonia.course.settings.current`) with the sizes of its mode. Fast mode:
    intensity 64, 200 + 50 + 3 patterns, 64x64 renderings, ``J=4``; full mode: intensity 256, 400 + 100 +
    6 patterns, 128x128, ``J=5``, the shot-noise cut-off scaled with the spacing."""
    return extend(Settings, base, {"intensity": 256.0, "n_train": 400, "n_val": 100, "n_test": 6, "P": 128, "J": 5,
                                   "r0": 0.01})


def compute_marks(x: torch.Tensor, s: Settings) -> dict[str, torch.Tensor]:
    """The three marks of the pattern ``x`` (n, 2): nearest-neighbour distance, Voronoi cell area, and the
    logarithm of the shot-noise (its right tail is heavy)."""
    return {"nn": nn_distance(x), "voronoi": voronoi_areas(x), "log_shot": shot_noise(x, s.beta, s.r0).log()}


def make_dataset(s: Settings, seed: int = 0, process: str | None = None) -> dict[str, dict]:
    """Independent patterns split into ``train``, ``val`` and ``test`` (by pattern, never by point), each
    ``{"patterns": [...], "marks": {mark: [...]}}``."""
    gen = make_generator(seed)
    out = {}
    for split, n in (("train", s.n_train), ("val", s.n_val), ("test", s.n_test)):
        patterns = [sample(process or s.process, s.intensity, gen) for _ in range(n)]
        marks = [compute_marks(x, s) for x in patterns]
        out[split] = {"patterns": patterns, "marks": {k: [m[k] for m in marks] for k in MARKS}}
    return out


def baseline_r2(data: dict, mark: str, K: int) -> float:
    """Test :math:`R^2` of the local baseline with ``K`` neighbours (pooled over test points)."""
    model = BaselineMarkRegressor(K=K).fit(data["train"]["patterns"], data["train"]["marks"][mark])
    y = torch.cat(data["test"]["marks"][mark])
    y_hat = torch.cat([model.predict(x) for x in data["test"]["patterns"]])
    return float(r2_score(y, y_hat))


def baseline_curves(data: dict, Ks: tuple[int, ...] = tuple(range(1, 11))) -> dict[str, list[float]]:
    """:math:`R^2(K)` of the baseline for every mark."""
    return {mark: [baseline_r2(data, mark, K) for K in Ks] for mark in MARKS}


def shrink(y: torch.Tensor, y_hat: torch.Tensor) -> tuple[float, torch.Tensor]:
    """The least-squares shrinkage of predictions towards their mean, :math:`\\tilde m=\\bar y+c(\\hat m-\\bar{\\hat m})`,
    and the factor :math:`c` (a diagnostic: it uses the true marks)."""
    d = y_hat - y_hat.mean()
    c = float(((y - y.mean()) * d).sum() / d.square().sum())
    return c, y.mean() + c * d


@dataclass
class Recovery:
    """One mark through the scattering pipeline: true marks of the test patterns, the marks recovered from
    the predicted moments and from the true moments (oracle), the median validation :math:`R^2` of the
    moment regression, and pooled scores."""

    mark: str
    true: list[torch.Tensor]
    predicted: list[torch.Tensor]
    oracle: list[torch.Tensor]
    moment_r2: float
    scores: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def run_pipeline(data: dict, s: Settings, marks: tuple[str, ...] = tuple(MARKS)) -> dict[str, Recovery]:
    """Fit :class:`~harmonia.pointprocess.ScatteringMarkModel` for each mark (the unmarked moments computed
    once) and recover the marks of every test pattern from predicted and from oracle moments."""
    model = ScatteringMarkModel(s.P, s.J, s.L, s.sigma, device=s.device, dtype=s.dtype)
    unmarked = (model.unmarked_moments(data["train"]["patterns"]), model.unmarked_moments(data["val"]["patterns"]))
    out = {}
    for mark in marks:
        start = time.perf_counter()
        model.fit(data["train"]["patterns"], data["train"]["marks"][mark], data["val"]["patterns"],
                  data["val"]["marks"][mark], unmarked=unmarked)
        pred, orac = [], []
        for x, m in zip(data["test"]["patterns"], data["test"]["marks"][mark]):
            pred.append(model.recover_marks(x, model.predict_moments(x), steps=s.steps)[0].cpu().double())
            with torch.no_grad():
                target = model.log_moments(x, m)
            orac.append(model.recover_marks(x, target, steps=s.steps)[0].cpu().double())
        rec = Recovery(mark, list(data["test"]["marks"][mark]), pred, orac, float(model.ridge.val_r2_.median()),
                       seconds=time.perf_counter() - start)
        y, p, o = torch.cat(rec.true), torch.cat(pred), torch.cat(orac)
        rec.scores = {"r2_pred": float(r2_score(y, p)), "corr_pred": float(pearson(y, p)),
                      "r2_oracle": float(r2_score(y, o)), "corr_oracle": float(pearson(y, o))}
        out[mark] = rec
    return out


# ------------------------------------------------------------------------------------------------ figures
def _voronoi_edges(x: np.ndarray) -> list[np.ndarray]:
    shifts = np.array([(a, b) for a in (0, -1, 1) for b in (0, -1, 1)], dtype=float)
    vor = Voronoi((x[None] + shifts[:, None]).reshape(-1, 2))
    segs = [vor.vertices[e] for e in vor.ridge_vertices if -1 not in e]
    return [seg for seg in segs if np.all((seg > -0.05) & (seg < 1.05))]


def plot_pattern(x: torch.Tensor, marks: dict[str, torch.Tensor], title: str) -> plt.Figure:
    """The pattern coloured by each mark (Voronoi tessellation drawn in every panel)."""
    pts = to_host(x).numpy()
    edges = _voronoi_edges(pts)
    fig, axes = plt.subplots(1, len(marks), figsize=(3.6 * len(marks), 3.7))
    for ax, (name, m) in zip(np.atleast_1d(axes), marks.items()):
        ax.add_collection(LineCollection(edges, colors="0.75", linewidths=0.6))
        sc = ax.scatter(pts[:, 1], pts[:, 0], c=to_host(m).numpy(), s=18, cmap="viridis")
        fig.colorbar(sc, ax=ax, shrink=0.8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_title(MARKS.get(name, name), fontsize=9)
        ax.set_xlabel("x₂ (torus side = 1)")
        ax.set_ylabel("x₁")
    fig.suptitle(title)
    return fig


def plot_baseline_curves(curves: dict[str, list[float]]) -> plt.Figure:
    """:math:`R^2` of the baseline against the number of neighbours :math:`K`."""
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    for mark, r2 in curves.items():
        ax.plot(range(1, len(r2) + 1), r2, "o-", label=MARKS[mark])
    ax.set_xlabel("neighbours K in the local features")
    ax.set_ylabel("test R²")
    ax.set_ylim(0.3, 1.02)
    ax.set_title("Local baseline: how far does each mark look?")
    ax.legend(fontsize=8)
    return fig


def plot_recovery(results: dict[str, Recovery]) -> plt.Figure:
    """True against recovered marks (all test points), oracle and predicted moments, one panel per mark."""
    fig, axes = plt.subplots(1, len(results), figsize=(3.7 * len(results), 3.6))
    for ax, (mark, r) in zip(np.atleast_1d(axes), results.items()):
        y = torch.cat(r.true).numpy()
        ax.scatter(y, torch.cat(r.oracle).numpy(), s=8, label="oracle moments", alpha=0.7)
        ax.scatter(y, torch.cat(r.predicted).numpy(), s=8, label="predicted moments", alpha=0.7)
        lo, hi = float(y.min()), float(y.max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        ax.set_xlabel(f"true {MARKS[mark]}")
        ax.set_ylabel("recovered")
        ax.set_title(MARKS[mark], fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle("Marks recovered from scattering moments (test points)")
    return fig


def plot_mark_maps(data: dict, results: dict[str, Recovery], baselines: dict[str, BaselineMarkRegressor], mark: str,
                   pattern: int = 0) -> plt.Figure:
    """One test pattern coloured by the true mark, the baseline's prediction, and the marks recovered from
    predicted and from oracle moments (one colour scale)."""
    x = data["test"]["patterns"][pattern]
    r = results[mark]
    maps = {"true": r.true[pattern], "baseline": baselines[mark].predict(x),
            "scattering (predicted)": r.predicted[pattern], "scattering (oracle)": r.oracle[pattern]}
    lo, hi = float(r.true[pattern].min()), float(r.true[pattern].max())
    pts = to_host(x).numpy()
    fig, axes = plt.subplots(1, 4, figsize=(13.5, 3.5))
    for ax, (name, m) in zip(axes, maps.items()):
        sc = ax.scatter(pts[:, 1], pts[:, 0], c=to_host(m).numpy(), s=22, cmap="viridis", vmin=lo, vmax=hi)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(name, fontsize=9)
    fig.colorbar(sc, ax=axes, shrink=0.8)
    fig.suptitle(f"{MARKS[mark]}, test pattern {pattern}")
    return fig


def plot_r2_bars(baseline: dict[str, float], results: dict[str, Recovery]) -> plt.Figure:
    """Test :math:`R^2` per mark: baseline (K neighbours), scattering with predicted moments, oracle."""
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    marks = list(results)
    w = 0.27
    pos = np.arange(len(marks))
    ax.bar(pos - w, [baseline[m] for m in marks], w, label="local baseline")
    ax.bar(pos, [max(results[m].scores["r2_pred"], -1.0) for m in marks], w, label="scattering, predicted (clipped at −1)")
    ax.bar(pos + w, [results[m].scores["r2_oracle"] for m in marks], w, label="scattering, oracle")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(pos, [MARKS[m] for m in marks], fontsize=8)
    ax.set_ylabel("test R²")
    ax.set_ylim(-1.05, 1.05)
    ax.set_title("Who predicts the marks? (test points)")
    ax.legend(fontsize=7, loc="lower left")
    return fig


def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """The pipeline at its smallest size (intensity 32, 32x32, ``J=3``, 6 + 4 + 1 patterns, 5 L-BFGS steps)
    on ``base.device``. Used by the device tests and ``gpucheck``."""
    s = replace(settings(replace(base, mode="fast")), intensity=32.0, n_train=6, n_val=4, n_test=1, P=32, J=3, steps=5)
    data = make_dataset(s, seed=0)
    tr, va = data["train"], data["val"]
    model = ScatteringMarkModel(s.P, s.J, s.L, s.sigma, device=s.device, dtype=s.dtype).fit(
        tr["patterns"], tr["marks"]["voronoi"], va["patterns"], va["marks"]["voronoi"])
    x, m = data["test"]["patterns"][0], data["test"]["marks"]["voronoi"][0]
    with torch.no_grad():
        target = model.log_moments(x, m)
    return {"log moments": target,
            "voronoi: predicted": model.recover_marks(x, model.predict_moments(x), steps=s.steps)[0],
            "voronoi: oracle": model.recover_marks(x, target, steps=s.steps)[0]}
