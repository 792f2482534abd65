"""Chapter 15 demos: lens depth on 2-D toys, Fermat paths, the snapping artefact and its fix, two moons through a
small network, and the digits out-of-distribution benchmark (hold-out classes and far OOD images).

The method lives in :mod:`harmonia.uncertainty`, the metrics in :mod:`harmonia.metrics`; this module holds the
chapter's data, networks, runners and figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from harmonia.course.settings import ChapterSettings, extend
from harmonia.data.digits import load_digits
from harmonia.data.toys2d import grid_2d, make_moons  # noqa: F401 (make_moons re-exported for the chapter)
from harmonia.metrics import auroc, consistency_curve
from harmonia.nn import FeatureNet, fit
from harmonia.uncertainty import (
    EuclideanCentroidScorer,
    GDAScorer,
    KNNScorer,
    LensDepthScorer,
    distances,
    fermat_paths,
    max_softmax,
    neg_entropy,
)

__all__ = ["Settings", "settings", "moons_ood", "artefact_table", "FeatureNet", "train_net", "moons_network",
           "ood_images", "digits_benchmark", "reduction_table", "plot_paths", "plot_depth_map", "plot_fermat_depth",
           "plot_reduction", "plot_consistency", "plot_auroc_bars", "device_check"]

F64 = torch.float64


@dataclass(frozen=True)
class Settings(ChapterSettings):
    """Sizes: inner points per class ``n_inner`` (K-means centroids) for the toys and ``digits_inner`` for the
    digits; training epochs of the networks; digits seeds."""

    n_inner: int = 100
    digits_inner: int = 50
    moons_epochs: int = 160
    digits_epochs: int = 60
    seeds: tuple[int, ...] = (0, 1, 2)


def settings(base: ChapterSettings | None = None) -> Settings:
    """Fast mode as above; full mode: every training point as an inner point and five seeds."""
    return extend(Settings, base, {"n_inner": 500, "digits_inner": 10_000, "seeds": (0, 1, 2, 3, 4)})


# ------------------------------------------------------------------------------------------------ moons
def moons_ood(seed: int = 0):
    """The moons task of the artefact experiment: training moons (1000 points, noise 0.07), 1000 fresh moon points
    (in-distribution), and the points of 2000 uniform draws on [-1.5, 2.5] x [-1, 1.5] farther than 0.3 from every
    training point (far OOD). Returns (X, y, X_id, X_far, U)."""
    X, y = make_moons(1000, 0.07, seed=seed)
    Xid, _ = make_moons(1000, 0.07, seed=seed + 1)
    g = torch.Generator().manual_seed(seed + 2)
    U = torch.rand(2000, 2, generator=g, dtype=F64) * torch.tensor([4.0, 2.5], dtype=F64) + torch.tensor([-1.5, -1.0], dtype=F64)
    far = U[distances(U, X).min(1).values > 0.3]
    return X, y, Xid, far, U


def artefact_table(s: Settings, seed: int = 0) -> list[dict]:
    """AUROC (ID moons vs far points) and the fraction of far points scored exactly 0 for the Euclidean, snapped
    Fermat and modified Fermat lens depths (K-means inner points), and modified with random inner points."""
    X, y, Xid, far, U = moons_ood(seed)
    rows = []
    for name, kw in (("Euclidean (alpha = 1)", dict(alpha=1.0)),
                     ("Fermat, snapped", dict(alpha=5.0, snap=True)),
                     ("Fermat, modified", dict(alpha=5.0)),
                     ("Fermat, modified, random inner points", dict(alpha=5.0, strategy="random"))):
        sc = LensDepthScorer(n_inner=s.n_inner, **kw).fit(X, y)
        a, b = sc.score(Xid), sc.score(far)
        very_far = U[distances(U, X).min(1).values > 1.0]
        rows.append({"name": name, "auroc": auroc(a, b), "zero": float((b == 0).double().mean()),
                     "max_very_far": float(sc.score(very_far).max()) if len(very_far) else 0.0})
    return rows


# --------------------------------------------------------------------------------------------- networks
def moons_mlp(seed: int = 0) -> FeatureNet:
    """The paper's two-moons network: 2 -> 20 -> ReLU -> 20 (features) -> 2."""
    torch.manual_seed(seed)
    return FeatureNet(nn.Sequential(nn.Linear(2, 20), nn.ReLU(), nn.Linear(20, 20)), nn.Linear(20, 2))


def digits_cnn(n_classes: int, seed: int = 0, feat_dim: int = 16) -> FeatureNet:
    """A small CNN on 8x8 digits: two 3x3 convolutions (16, 32 channels) with ReLU and pooling, a linear layer to
    ``feat_dim`` features, then the classifier."""
    torch.manual_seed(seed)
    body = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(32 * 4, feat_dim))
    return FeatureNet(body, nn.Linear(feat_dim, n_classes))


def train_net(net: FeatureNet, X: torch.Tensor, y: torch.Tensor, epochs: int, seed: int = 0) -> FeatureNet:
    """Adam (lr 1e-3) on the cross-entropy in mini-batches of 128, through :func:`harmonia.nn.fit`."""
    fit(net, torch.optim.Adam(net.parameters(), lr=1e-3), X, y, epochs=epochs, batch_size=128, seed=seed)
    return net.eval()


def moons_network(s: Settings, seed: int = 0, alphas=(3.0, 10.0)) -> dict:
    """Train the two-moons MLP (800 training points), then score in its 20-d feature space: 1000 fresh moons (ID)
    against the grid points farther than 0.3 from the training data (OOD). Returns accuracies, AUROCs per score and the
    grid maps."""
    X, y = make_moons(1000, 0.07, seed=1)
    X, y = X.float(), y
    net = train_net(moons_mlp(seed), X[:800], y[:800], s.moons_epochs, seed=seed)
    with torch.no_grad():
        acc = float((net(X[800:]).argmax(1) == y[800:]).float().mean())
        Ftr = net.features(X[:800]).double()
        Xid, _ = make_moons(1000, 0.07, seed=seed + 10)
        G, xx, yy = grid_2d(X.double(), 0.5, 30)
        far = distances(G, X.double()).min(1).values > 0.3
        Fid, FG = net.features(Xid.float()).double(), net.features(G.float()).double()
        Lid, LG = net.head(Fid.float()), net.head(FG.float())
    scores = {"entropy": (neg_entropy(Lid), neg_entropy(LG)),
              "centroid": tuple(EuclideanCentroidScorer().fit(Ftr, y[:800]).score(F) for F in (Fid, FG)),
              "GDA": tuple(GDAScorer().fit(Ftr, y[:800]).score(F) for F in (Fid, FG))}
    for a in alphas:
        sc = LensDepthScorer(alpha=a, n_inner=s.n_inner).fit(Ftr, y[:800])
        scores[f"LD alpha={a:g}"] = (sc.score(Fid), sc.score(FG))
    return {"acc": acc, "auroc": {k: auroc(v[0], v[1][far]) for k, v in scores.items()},
            "maps": {k: v[1].reshape(30, 30) for k, v in scores.items()}, "xx": xx, "yy": yy, "X": X, "y": y}


# --------------------------------------------------------------------------------------------- digits
def ood_images(n: int, seed: int = 0, digits: torch.Tensor | None = None) -> torch.Tensor:
    """Procedural 8x8 images in the digits' value range [0, 1], a third each: smoothed noise, random strokes (lines
    between random points), and inverted digits (1 - x, from ``digits``). Returns (n, 64) float32."""
    g = torch.Generator().manual_seed(seed)
    k = n // 3
    noise = torch.rand(k, 1, 10, 10, generator=g)
    noise = nn.functional.avg_pool2d(noise, 3, stride=1).reshape(k, 64)
    noise = (noise - noise.min(1, keepdim=True).values) / (noise.max(1, keepdim=True).values - noise.min(1, keepdim=True).values)
    strokes = torch.zeros(k, 8, 8)
    for i in range(k):
        for _ in range(2):
            p0, p1 = torch.rand(2, generator=g) * 7, torch.rand(2, generator=g) * 7
            for t in torch.linspace(0, 1, 12):
                r, c = (p0 + t * (p1 - p0)).round().long()
                strokes[i, r, c] = 1.0
    rest = n - 2 * k
    inv = 1 - digits[torch.randperm(len(digits), generator=g)[:rest]] if digits is not None else torch.rand(rest, 64, generator=g)
    return torch.cat([noise, strokes.reshape(k, 64), inv.float()])


def digits_benchmark(s: Settings, protocol: str = "holdout", seed: int = 0) -> dict:
    """Train the digits CNN and score its 16-d features with every method.

    ``"holdout"``: train on classes 0-4, ID = test images of 0-4, OOD = test images of 5-9. ``"far"``: train on all
    ten classes, ID = the test images, OOD = :func:`ood_images`. Returns accuracy, AUROC per method, the scores and
    which ID predictions were correct (for the consistency curve)."""
    d = load_digits(n_test=500, seed=seed)
    if protocol == "holdout":
        tr = d.y_train < 5
        Xtr, ytr = d.X_train[tr], d.y_train[tr]
        te = d.y_test < 5
        Xid, yid, Xood = d.X_test[te], d.y_test[te], d.X_test[~te]
        n_classes = 5
    else:
        Xtr, ytr, Xid, yid = d.X_train, d.y_train, d.X_test, d.y_test
        Xood = ood_images(300, seed, d.X_test)
        n_classes = 10
    net = train_net(digits_cnn(n_classes, seed), Xtr, ytr, s.digits_epochs, seed=seed)
    with torch.no_grad():
        Ftr, Fid, Food = (net.features(X).double() for X in (Xtr, Xid, Xood))
        Lid, Lood = net.head(Fid.float()), net.head(Food.float())
    correct = Lid.argmax(1) == yid
    scorers = {"lens depth": LensDepthScorer(alpha=7.0, n_inner=s.digits_inner, normalize=True),
               "centroid": EuclideanCentroidScorer(), "GDA": GDAScorer(), "kNN": KNNScorer(k=10)}
    scores = {k: (sc.fit(Ftr, ytr).score(Fid), sc.score(Food)) for k, sc in scorers.items()}
    scores["max softmax"] = (max_softmax(Lid), max_softmax(Lood))
    scores["entropy"] = (neg_entropy(Lid), neg_entropy(Lood))
    return {"acc": float(correct.float().mean()), "auroc": {k: auroc(*v) for k, v in scores.items()},
            "scores": scores, "correct": correct, "features": (Ftr, ytr, Fid, Food)}


def reduction_table(s: Settings, runs: list[dict], sizes=(10, 25, 50)) -> dict:
    """AUROC of the lens depth (alpha 7, L2-normalised) on the hold-out protocol for each reduction strategy and
    number of inner points, averaged over the given benchmark runs (their features are reused)."""
    from harmonia.uncertainty import STRATEGIES

    out = {}
    for strat in STRATEGIES:
        for n in sizes:
            vals = []
            for k, r in enumerate(runs):
                Ftr, ytr, Fid, Food = r["features"]
                sc = LensDepthScorer(alpha=7.0, n_inner=n, strategy=strat, normalize=True, seed=k).fit(Ftr, ytr)
                vals.append(auroc(sc.score(Fid), sc.score(Food)))
            out[(strat, n)] = sum(vals) / len(vals)
    return out


# --------------------------------------------------------------------------------------------- figures
def plot_fermat_depth(alpha: float = 5.0, distance: str = "modified", n_inner: int = 100):
    """Lens depth of one moon (500 points, noise 0.1) on a 40 x 40 grid: Euclidean, snapped or modified Fermat."""
    X, y = make_moons(1000, 0.1, seed=4)
    X = X[y == 0]
    G, xx, yy = grid_2d(X, 0.6, 40)
    a = 1.0 if distance == "Euclidean" else alpha
    sc = LensDepthScorer(alpha=a, n_inner=n_inner, snap=distance == "snapped").fit(X, torch.zeros(len(X), dtype=torch.long))
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    cs = ax.contourf(xx, yy, sc.score(G).reshape(40, 40).numpy(), 20, cmap="viridis", vmin=0, vmax=1)
    ax.plot(X[:, 0], X[:, 1], "w.", ms=1.5)
    fig.colorbar(cs, ax=ax, label="lens depth")
    ax.set(title=f"{distance} lens depth" + ("" if distance == "Euclidean" else f", α = {alpha:g}"), xlabel="x_1",
           ylabel="x_2")
    ax.grid(False)
    return fig


def plot_reduction(s: Settings, n_inner: int = 25, strategy: str = "kmeans_center"):
    """The inner points of the moons task's class 0 for a strategy and size, and the ID-vs-far AUROC it gives."""
    X, y, Xid, far, _ = moons_ood(0)
    sc = LensDepthScorer(alpha=5.0, n_inner=n_inner, strategy=strategy).fit(X, y)
    a = auroc(sc.score(Xid), sc.score(far))
    Q = sc.inner[0] * sc.scale
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    ax.plot(X[:, 0], X[:, 1], ".", color="0.8", ms=2, label="training points")
    ax.plot(Q[:, 0], Q[:, 1], "o", color="C3", ms=4, label=f"{len(Q)} inner points of class 0")
    ax.set(title=f"{strategy}, n = {n_inner}: AUROC {a:.3f}", xlabel="x_1", ylabel="x_2")
    ax.legend(fontsize=8)
    return fig


def plot_auroc_bars(groups: dict[str, dict[str, float]], title: str):
    """Grouped horizontal bars of AUROCs: one panel per group (e.g. protocol), one bar per method, value labels."""
    fig, axes = plt.subplots(1, len(groups), figsize=(4.6 * len(groups), 0.45 * max(len(g) for g in groups.values()) + 1.4),
                             squeeze=False)
    for ax, (name, vals) in zip(axes[0], groups.items()):
        keys = list(vals)[::-1]
        ax.barh(keys, [vals[k] for k in keys], color=["C3" if "LD" in k or "lens" in k else "C0" for k in keys])
        for i, k in enumerate(keys):
            ax.text(min(vals[k], 1.0) - 0.01, i, f"{vals[k]:.3f}", va="center", ha="right", color="white", fontsize=8)
        ax.set(xlim=(0.0, 1.0), xlabel="AUROC (ID vs OOD)", title=name)
    fig.suptitle(title)
    return fig


def plot_consistency(curves: dict[str, tuple[list[float], list[float]]], title: str):
    """Accuracy on the kept samples against the rejected fraction, one curve per score."""
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    for name, (fr, acc) in curves.items():
        ax.plot(100 * np.array(fr), acc, "o-", label=name)
    ax.set(xlabel="rejected samples, lowest scores first (%)", ylabel="accuracy on kept samples", title=title)
    ax.legend(fontsize=8)
    return fig



def plot_paths(X: torch.Tensor, alphas=(1.0, 1.2, 3.0, 7.0)):
    """Fermat shortest paths on one moon from its left end to the point at the 90 % x-quantile, per alpha."""
    src = int(torch.argmin(X[:, 0]))
    tgt = int(torch.argmin((X[:, 0] - torch.quantile(X[:, 0], 0.9)).abs() + 10 * (X[:, 1] < 0.3)))
    fig, axes = plt.subplots(1, len(alphas), figsize=(3.2 * len(alphas), 3.0), sharey=True)
    for ax, a in zip(np.atleast_1d(axes), alphas):
        _, pred = fermat_paths(X, a, src)
        path = [tgt]
        while path[-1] != src:
            path.append(int(pred[path[-1]]))
        P = X[path].numpy()
        ax.plot(X[:, 0], X[:, 1], ".", color="0.75", ms=2)
        ax.plot(P[:, 0], P[:, 1], "-o", color="C3", ms=3, lw=1.5)
        ax.set(title=f"α = {a:g}: {len(path) - 1} hops", xlabel="x_1")
    np.atleast_1d(axes)[0].set_ylabel("x_2")
    fig.suptitle("Fermat shortest paths on one moon")
    return fig


def plot_depth_map(res: dict, keys, title: str):
    """Filled contours of several scores over the 30 x 30 input grid, with the training moons."""
    fig, axes = plt.subplots(1, len(keys), figsize=(3.3 * len(keys), 3.0))
    for ax, k in zip(np.atleast_1d(axes), keys):
        ax.contourf(res["xx"], res["yy"], res["maps"][k].numpy(), 20, cmap="viridis")
        ax.scatter(res["X"][:, 0], res["X"][:, 1], c=res["y"], s=2, cmap="coolwarm")
        ax.set(title=k, xlabel="x_1")
        ax.grid(False)
    np.atleast_1d(axes)[0].set_ylabel("x_2")
    fig.suptitle(title)
    return fig


def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """Fermat distances by min-plus squaring and a lens depth on ``base.device``."""
    from harmonia.uncertainty import fermat_inner, fermat_to_inner, lens_depth

    X, _ = make_moons(60, 0.1, seed=0)
    Q = X.to(base.device)
    D = fermat_inner(Q, 3.0, method="minplus")
    return {"Fermat matrix": D, "lens depth": lens_depth(fermat_to_inner(Q[:5] + 0.05, Q, D, 3.0), D)}
