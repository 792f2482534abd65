"""Chapter 17 demos: the digits teacher, small students trained to copy its representation by each transfer loss
(class-unaware) or alongside their labels (class-aware), their evaluation (linear probe, k-NN, perception coherence),
and the figures.

The method lives in :mod:`harmonia.distill`; networks and the training loop in :mod:`harmonia.nn`. Transfer uses
:func:`harmonia.nn.fit` with the teacher's outputs as the targets: the student's features are compared with the
teacher's features of the same batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as Fn
from torch import nn

from harmonia.course.settings import ChapterSettings, extend
from harmonia.data.digits import load_digits
from harmonia.distill import (
    fitnet_loss,
    kd_loss,
    knn_accuracy,
    linear_probe,
    pairwise_dist,
    pc_loss,
    perception_coherence,
    pkt_loss,
    rank_discrepancy,
    rkd_loss,
    sp_loss,
)
from harmonia.nn import FeatureNet, fit

__all__ = ["Settings", "settings", "UNAWARE", "AWARE", "load", "teacher_net", "student_net", "train_teacher",
           "transfer_loss", "transfer", "train_aware", "evaluate", "unaware_table", "aware_table", "concept_table",
           "plot_embeddings", "plot_embedding", "plot_bars", "plot_soft_ranks", "plot_neighbours", "device_check"]

UNAWARE = ("random init", "FitNet", "RKD", "PKT", "SP", "PC")
AWARE = ("CE", "CE + KD", "CE + PC", "CE + KD + PC")


@dataclass(frozen=True)
class Settings(ChapterSettings):
    """Epochs of the teacher, the class-unaware and the class-aware students, batch size, the coherence loss's temperature and weight, the
    students' feature dimensions, the KD temperature and the seed."""

    teacher_epochs: int = 40
    student_epochs: int = 20
    aware_epochs: int = 40
    batch_size: int = 128
    lr: float = 1e-3
    tau: float = 0.1
    lam: float = 10.0
    kd_T: float = 4.0
    dims: tuple[int, ...] = (8, 2)
    seed: int = 0


def settings(base: ChapterSettings | None = None) -> Settings:
    """Fast mode as above; full mode: twice the student epochs and a feature-dimension sweep."""
    return extend(Settings, base, {"student_epochs": 60, "aware_epochs": 80, "dims": (16, 8, 4, 2, 1)})


def load(s: Settings) -> dict[str, torch.Tensor]:
    """The digits (1437 train / 360 test, pixels in [0, 1]) on ``s.device``."""
    d = load_digits(n_test=360, seed=0, device=s.device)
    return {"X": d.X_train, "y": d.y_train, "X_test": d.X_test, "y_test": d.y_test}


def teacher_net(seed: int = 0) -> FeatureNet:
    """The teacher: 64 -> 256 -> 256 -> 64 features (ReLU between) -> 10 classes."""
    torch.manual_seed(seed)
    body = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 64))
    return FeatureNet(body, nn.Linear(64, 10))


def student_net(dim: int, seed: int = 0) -> FeatureNet:
    """A lightweight student: 64 -> 32 -> ``dim`` features -> 10 classes."""
    torch.manual_seed(seed)
    return FeatureNet(nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, dim)), nn.Linear(dim, 10))


def train_teacher(s: Settings, data: dict) -> FeatureNet:
    """Adam on the cross-entropy; returned frozen (eval mode, no gradients)."""
    net = teacher_net(s.seed).to(s.device)
    fit(net, torch.optim.Adam(net.parameters(), lr=s.lr), data["X"], data["y"], epochs=s.teacher_epochs,
        batch_size=s.batch_size, seed=s.seed)
    net.eval().requires_grad_(False)
    return net


def transfer_loss(method: str, s: Settings):
    """The loss of a class-unaware method as a function (student features, teacher features) -> scalar (FitNet's
    regressor is part of the trained model, so its loss is the plain MSE)."""
    losses = {"FitNet": Fn.mse_loss, "RKD": lambda a, b: rkd_loss(a, b, w_d=25.0, w_a=50.0),
              "PKT": pkt_loss, "SP": sp_loss, "PC": lambda a, b: pc_loss(a, b, tau=s.tau)}
    if method not in losses:
        raise ValueError(f"method: expected one of {tuple(losses)}, got {method!r}")
    return losses[method]


def transfer(s: Settings, method: str, dim: int, data: dict, teacher: FeatureNet):
    """A class-unaware student: its body trained on the inputs alone to match the teacher's features by ``method``
    ("random init" is the untrained body). Returns (student, history)."""
    student = student_net(dim, s.seed).to(s.device)
    if method == "random init":
        return student.eval(), None
    with torch.no_grad():
        targets = teacher.features(data["X"])
    model = student.body
    if method == "FitNet":
        torch.manual_seed(s.seed)
        model = nn.Sequential(student.body, nn.Linear(dim, targets.shape[1]).to(s.device))   # the learned regressor
    hist = fit(model, torch.optim.Adam(model.parameters(), lr=s.lr), data["X"], targets, epochs=s.student_epochs,
               batch_size=s.batch_size, loss_fn=transfer_loss(method, s), seed=s.seed, track=False)
    return student.eval(), hist


class _Both(nn.Module):
    """Outputs [features, logits] of a FeatureNet, so one loss can use both."""

    def __init__(self, net: FeatureNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.net.features(x)
        return torch.cat([f, self.net.head(f)], 1)


def train_aware(s: Settings, method: str, dim: int, data: dict, teacher: FeatureNet) -> FeatureNet:
    """A class-aware student trained on the labels, plus KD on the teacher's logits and/or lambda times the coherence
    loss on its features. The targets are packed as [label, teacher features, teacher logits]."""
    if method not in AWARE:
        raise ValueError(f"method: expected one of {AWARE}, got {method!r}")
    student = student_net(dim, s.seed).to(s.device)
    with torch.no_grad():
        tf = teacher.features(data["X"])
        packed = torch.cat([data["y"][:, None].to(tf.dtype), tf, teacher.head(tf)], 1)
    p = tf.shape[1]

    def loss(out, target):
        f, logits = out[:, :dim], out[:, dim:]
        y, t_feat, t_logits = target[:, 0].long(), target[:, 1:1 + p], target[:, 1 + p:]
        total = Fn.cross_entropy(logits, y)
        if "KD" in method:
            total = total + kd_loss(logits, t_logits, T=s.kd_T)
        if "PC" in method:
            total = total + s.lam * pc_loss(f, t_feat, tau=s.tau)
        return total

    model = _Both(student)
    fit(model, torch.optim.Adam(model.parameters(), lr=s.lr), data["X"], packed, epochs=s.aware_epochs,
        batch_size=s.batch_size, loss_fn=loss, seed=s.seed, track=False)
    return student.eval()


@torch.no_grad()
def evaluate(student: FeatureNet, teacher: FeatureNet, data: dict, logits: bool = False) -> dict[str, float]:
    """Linear-probe and 5-NN accuracy of the frozen features, and their perception coherence and 1 - 6 Delta with
    the teacher on the 360 test digits; with ``logits``, the student's own test accuracy too."""
    Ftr, Fte = student.features(data["X"]), student.features(data["X_test"])
    Tte = teacher.features(data["X_test"])
    out = {"probe": linear_probe(Ftr, data["y"], Fte, data["y_test"]),
           "knn": knn_accuracy(Ftr, data["y"], Fte, data["y_test"], k=5),
           "pc": perception_coherence(Fte, Tte), "spearman": 1 - 6 * rank_discrepancy(Fte, Tte)}
    if logits:
        out["acc"] = float((student(data["X_test"]).argmax(1) == data["y_test"]).double().mean())
    return out


def unaware_table(s: Settings, data: dict, teacher: FeatureNet, dim: int) -> dict[str, dict]:
    """Every class-unaware method at feature dimension ``dim``: {method: metrics, with "model" and "history"}."""
    out = {}
    for method in UNAWARE:
        student, hist = transfer(s, method, dim, data, teacher)
        out[method] = {**evaluate(student, teacher, data), "model": student, "history": hist}
    return out


def aware_table(s: Settings, data: dict, teacher: FeatureNet, dim: int = 8) -> dict[str, dict]:
    """Every class-aware recipe at feature dimension ``dim``."""
    return {m: evaluate(train_aware(s, m, dim, data, teacher), teacher, data, logits=True) for m in AWARE}


def concept_table(seed: int = 0) -> list[tuple[str, float, float]]:
    """Coherence and 1 - 6 Delta of 128 random 64-D 'teacher' points with: themselves, a rotated, scaled and shifted
    copy, an independent 8-D cloud, their 2-D PCA and a 2-D random projection."""
    g = torch.Generator().manual_seed(seed)
    T = torch.randn(128, 64, generator=g, dtype=torch.float64)
    Q, _ = torch.linalg.qr(torch.randn(64, 64, generator=g, dtype=torch.float64))
    centred = T - T.mean(0)
    V = torch.linalg.svd(centred, full_matrices=False).Vh
    rows = [("the same points", T),
            ("rotated, scaled by 3, shifted", 3 * T @ Q + 1.0),
            ("an independent 8-D cloud", torch.randn(128, 8, generator=g, dtype=torch.float64)),
            ("2-D PCA of the points", centred @ V[:2].T),
            ("2-D random projection", T @ torch.randn(64, 2, generator=g, dtype=torch.float64))]
    return [(name, perception_coherence(S, T), 1 - 6 * rank_discrepancy(S, T)) for name, S in rows]


# ----------------------------------------------------------------------------------------------- figures
def plot_embeddings(table: dict[str, dict], data: dict, methods=UNAWARE):
    """The 2-D test features of each student, coloured by digit class."""
    fig, axes = plt.subplots(1, len(methods), figsize=(2.6 * len(methods), 3.0))
    for ax, m in zip(np.atleast_1d(axes), methods):
        with torch.no_grad():
            F = table[m]["model"].features(data["X_test"]).cpu().double()
        sc = ax.scatter(F[:, 0], F[:, 1], c=data["y_test"].cpu(), cmap="tab10", s=5, vmin=-0.5, vmax=9.5)
        ax.set(title=f"{m}\ncoherence {table[m]['pc']:.2f}", xticks=[], yticks=[])
    fig.colorbar(sc, ax=axes, ticks=range(10), label="digit", shrink=0.8)
    fig.suptitle("2-D students on the test digits (no label used in training)")
    return fig


def plot_embedding(table: dict[str, dict], data: dict, method: str = "PC"):
    """One 2-D student's test features, coloured by digit class (the method selector's figure)."""
    with torch.no_grad():
        F = table[method]["model"].features(data["X_test"]).cpu().double()
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    sc = ax.scatter(F[:, 0], F[:, 1], c=data["y_test"].cpu(), cmap="tab10", s=8, vmin=-0.5, vmax=9.5)
    fig.colorbar(sc, ax=ax, ticks=range(10), label="digit")
    ax.set(xlabel="feature 1", ylabel="feature 2",
           title=f"{method}: coherence {table[method]['pc']:.3f}, probe {table[method]['probe']:.2f}")
    return fig


def plot_bars(table: dict[str, dict], keys=(("probe", "linear probe"), ("knn", "5-NN"), ("pc", "coherence")),
              title: str = "Transfer methods on the test set"):
    """Grouped bars of the metrics of every method in ``table``."""
    names = list(table)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 3.6))
    w = 0.8 / len(keys)
    for k, (key, label) in enumerate(keys):
        ax.bar(x + (k - (len(keys) - 1) / 2) * w, [table[n][key] for n in names], width=w, label=label)
    ax.set(xticks=x, xticklabels=names, ylim=(0.3, 1.0), ylabel="score (test set)", title=title)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def plot_soft_ranks(tau: float = 0.1, seed: int = 0):
    """Soft against hard ranks of one anchor's distances (20 random points): the soft ranks approach the hard ones as
    tau shrinks."""
    from harmonia.distill import hard_ranks, soft_ranks

    g = torch.Generator().manual_seed(seed)
    Z = torch.randn(20, 5, generator=g, dtype=torch.float64)
    D = pairwise_dist(Z)
    h, sr = hard_ranks(D)[0, 1:], soft_ranks(D, tau)[0, 1:]
    order = torch.argsort(D[0, 1:])
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(D[0, 1:][order], h[order], "o-", label="hard ranks R", drawstyle="steps-mid")
    ax.plot(D[0, 1:][order], sr[order], "s--", label=f"soft ranks (τ = {tau:g})")
    ax.set(xlabel="distance to the anchor", ylabel="normalised rank",
           title=f"Soft ranks of one anchor, max gap {float((sr - h).abs().max()):.3f}")
    ax.legend()
    return fig


def plot_neighbours(table: dict[str, dict], teacher: FeatureNet, data: dict, anchor: int = 0,
                    methods=("FitNet", "PC"), k: int = 8):
    """The k nearest test digits of one anchor according to the teacher and to two students."""
    X = data["X_test"]
    rows = [("teacher", teacher)] + [(m, table[m]["model"]) for m in methods]
    fig, axes = plt.subplots(len(rows), k + 1, figsize=(1.1 * (k + 1), 1.25 * len(rows)))
    for r, (name, net) in enumerate(rows):
        with torch.no_grad():
            F = net.features(X)
        nn_idx = torch.cdist(F[anchor:anchor + 1], F)[0].argsort()[: k + 1]
        for c, idx in enumerate(nn_idx.tolist()):
            ax = axes[r, c]
            ax.imshow(X[idx].reshape(8, 8).cpu(), cmap="gray_r")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, fontsize=8)
    axes[0, 0].set_title("anchor", fontsize=8)
    fig.suptitle(f"The {k} nearest test digits of anchor {anchor}, as each model perceives them")
    return fig


def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """The coherence loss and its gradient on ``base.device``."""
    g = torch.Generator().manual_seed(0)
    t = torch.randn(32, 16, generator=g).to(base.device)
    s = torch.randn(32, 4, generator=g).to(base.device).requires_grad_(True)
    loss = pc_loss(s, t)
    loss.backward()
    return {"PC loss": loss.detach(), "PC loss gradient": s.grad}
