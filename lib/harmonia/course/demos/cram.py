"""Chapter 16 demos: the rectangle playground, digits in clutter, four small CNNs (no attention, CBAM's spatial gate,
CRAM with and without the area prior) trained with one recipe, their accuracy and localisation, and the figures.

The method lives in :mod:`harmonia.attention`, the data in :mod:`harmonia.data.clutter`, the backbone and its training
loop in :mod:`harmonia.nn`; this module holds the chapter's runners and figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Polygon, Rectangle

from harmonia.attention import (
    CBAMSpatialGate,
    RectangularAttention,
    area_penalty_closure,
    box_raster,
    largest_component_fraction,
    map_box_iou,
    mass_in_box,
    normalised_to_pixels,
    peak_location,
    pixel_spacing,
    pointing_game,
    rect_mask,
    rect_mask_derivative,
    rectangle_polygon,
    upsample_map,
)
from harmonia.course.settings import ChapterSettings, extend
from harmonia.data.clutter import ClutteredDigits, make_cluttered_digits
from harmonia.nn import SlotCNN, fit

__all__ = ["Settings", "settings", "VARIANTS", "attention_factory", "make_data", "make_optimizer", "train", "run",
           "attention_outputs", "evaluate", "random_guess", "mcnemar", "plot_masks", "plot_rectangle",
           "plot_edge_band", "plot_samples", "plot_overlays", "plot_browser", "plot_accuracy", "plot_localisation", "plot_mcnemar", "device_check"]

VARIANTS = ("no attention", "CBAM spatial", "CRAM", "CRAM + area prior")


@dataclass(frozen=True)
class Settings(ChapterSettings):
    """Data sizes, the training recipe shared by every variant (Adam, cosine decay, the attention module's
    parameters at ``head_lr_scale`` times the learning rate), the area prior's weight and the shifted test's
    clutter."""

    n_train: int = 3000
    n_test: int = 1000
    epochs: int = 6
    lr: float = 2e-3
    head_lr_scale: float = 5.0
    batch_size: int = 64
    lambda_area: float = 0.5
    clutter: int = 6
    shift_clutter: int = 12
    seed: int = 0


def settings(base: ChapterSettings | None = None) -> Settings:
    """Fast mode as above; full mode: 20 000 training images and 20 epochs."""
    return extend(Settings, base, {"n_train": 20_000, "epochs": 20})


def attention_factory(name: str):
    """The ``attention`` argument of :class:`harmonia.nn.SlotCNN` for a variant name of :data:`VARIANTS`."""
    if name == "no attention":
        return None
    if name == "CBAM spatial":
        return lambda C: CBAMSpatialGate()
    if name in ("CRAM", "CRAM + area prior"):
        return RectangularAttention
    raise ValueError(f"name: expected one of {VARIANTS}, got {name!r}")


def make_data(s: Settings) -> dict[str, ClutteredDigits]:
    """Training images from the train pool (seed 0), an i.i.d. test set and a shifted one with twice the clutter,
    both from the test pool (seeds 1 and 2); images on ``s.device``."""
    return {"train": make_cluttered_digits(s.n_train, n_clutter=s.clutter, pool="train", seed=0, device=s.device),
            "test": make_cluttered_digits(s.n_test, n_clutter=s.clutter, pool="test", seed=1, device=s.device),
            "shifted": make_cluttered_digits(s.n_test, n_clutter=s.shift_clutter, pool="test", seed=2,
                                             device=s.device)}


def make_optimizer(model: SlotCNN, s: Settings) -> torch.optim.Adam:
    """Adam at ``s.lr`` for the backbone and ``s.head_lr_scale * s.lr`` for the attention module."""
    head = [] if model.attention is None else list(model.attention.parameters())
    ids = {id(p) for p in head}
    groups = [{"params": [p for p in model.parameters() if id(p) not in ids]}]
    if head:
        groups.append({"params": head, "lr": s.head_lr_scale * s.lr})
    return torch.optim.Adam(groups, lr=s.lr)


def train(s: Settings, name: str, data: dict[str, ClutteredDigits], seed: int | None = None) -> SlotCNN:
    """One variant trained with the shared recipe (cross-entropy, plus the area prior for "CRAM + area prior")."""
    seed = s.seed if seed is None else seed
    model = SlotCNN(attention=attention_factory(name), seed=seed).to(s.device)
    opt = make_optimizer(model, s)
    closure = area_penalty_closure(s.lambda_area) if name == "CRAM + area prior" else None
    fit(model, opt, data["train"].X, data["train"].y, epochs=s.epochs, batch_size=s.batch_size, seed=seed,
        make_closure=closure, scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(opt, s.epochs))
    return model.eval()


@torch.no_grad()
def attention_outputs(model: SlotCNN, X: torch.Tensor) -> dict[str, torch.Tensor]:
    """Logits and, with attention, the map at the image's size (CRAM: the rectangle re-drawn from its parameters;
    CBAM: the 8 x 8 map upsampled), the point it designates (CRAM: the centre; CBAM: the peak) in pixels, and CRAM's
    ``phi``. Everything on the CPU, float64."""
    model.eval()
    out = {"logits": model(X).double().cpu()}
    aux = model.last_aux
    if "mask" not in aux:
        return out
    C = X.shape[-1]
    if "phi" in aux:
        phi = aux["phi"].double().cpu()
        out.update(phi=phi, map=rect_mask(phi, C, C), point=normalised_to_pixels(phi[:, :2], C, C))
    else:
        M = aux["mask"].double().cpu()
        out.update(map=upsample_map(M, C), point=peak_location(M) * (C / M.shape[-1]))
    return out


def evaluate(model: SlotCNN, d: ClutteredDigits) -> dict:
    """Accuracy, per-image correctness, and with attention: pointing game, mean IoU of {map > 0.5} with the box,
    mean mass in the box, mean compactness (largest component's share) and, for CRAM, the mean box area as a
    fraction of the image."""
    o = attention_outputs(model, d.X)
    correct = o["logits"].argmax(1) == d.y.cpu()
    res = {"acc": float(correct.double().mean()), "correct": correct, "outputs": o}
    if "map" in o:
        res.update(pointing=pointing_game(o["point"], d.box), iou=float(map_box_iou(o["map"], d.box).mean()),
                   mass=float(mass_in_box(o["map"], d.box).mean()),
                   compact=float(largest_component_fraction(o["map"]).mean()))
        if "phi" in o:
            res["area"] = float((o["phi"][:, 2] * o["phi"][:, 3]).mean())     # 4 s_x s_y over the image's 4
    return res


def run(s: Settings, data: dict[str, ClutteredDigits], trained: dict[str, SlotCNN] | None = None) -> dict:
    """Train every variant of :data:`VARIANTS` not already in ``trained`` and evaluate each on both test sets:
    ``{name: {"model", "test", "shifted"}}``."""
    trained = dict(trained or {})
    out = {}
    for name in VARIANTS:
        model = trained[name] if name in trained else train(s, name, data)
        out[name] = {"model": model, "test": evaluate(model, data["test"]),
                     "shifted": evaluate(model, data["shifted"])}
    return out


def random_guess(d: ClutteredDigits, seed: int = 0) -> dict[str, float]:
    """Localisation by chance: a uniform random point (pointing game) and a box of the true box's size at a
    uniform random position (IoU)."""
    g = np.random.default_rng(seed)
    C = d.X.shape[-1]
    pts = torch.as_tensor(g.uniform(0, C, (len(d), 2)))
    w, h = (d.box[:, 2] - d.box[:, 0]).numpy(), (d.box[:, 3] - d.box[:, 1]).numpy()
    x0, y0 = g.uniform(0, C - w), g.uniform(0, C - h)
    rand = torch.as_tensor(np.stack([x0, y0, x0 + w, y0 + h], 1))
    iou = map_box_iou(box_raster(rand, C, C).double(), d.box)
    return {"pointing": pointing_game(pts, d.box), "iou": float(iou.mean())}


def mcnemar(correct_a: torch.Tensor, correct_b: torch.Tensor) -> dict[str, float]:
    """McNemar's paired comparison of two classifiers on the same images: b = a right and b wrong, c = the
    reverse, z = (b - c) / sqrt(b + c) (about N(0, 1) when both are equally accurate)."""
    b = int((correct_a & ~correct_b).sum())
    c = int((~correct_a & correct_b).sum())
    return {"b": b, "c": c, "z": (b - c) / math.sqrt(b + c) if b + c else 0.0}


# ----------------------------------------------------------------------------------------------- figures
def _draw_phi(ax, phi: torch.Tensor, C: int, **kw) -> None:
    corners = normalised_to_pixels(rectangle_polygon(phi.double()), C, C).numpy()
    ax.add_patch(Polygon(corners, closed=True, fill=False, **kw))


def _draw_box(ax, box: torch.Tensor, **kw) -> None:
    x0, y0, x1, y1 = box.tolist()
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, **kw))


def plot_masks(kappa: float = 32.0):
    """Four masks on a 32 x 32 map: axis-aligned, turned by 30 degrees, soft edges (kappa / 4), super-Gaussian."""
    F64 = torch.float64
    cases = [("axis-aligned", [0.0, 0.0, 0.6, 0.3, 0.0], kappa, "sigmoid_box"),
             ("turned by 30°", [0.2, -0.1, 0.6, 0.3, math.radians(30)], kappa, "sigmoid_box"),
             (f"soft edges, κ = {kappa / 4:g}", [0.2, -0.1, 0.6, 0.3, math.radians(30)], kappa / 4, "sigmoid_box"),
             ("super-Gaussian profile", [0.2, -0.1, 0.6, 0.3, math.radians(30)], kappa, "supergauss")]
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.2))
    for ax, (title, phi, k, kind) in zip(axes, cases):
        M = rect_mask(torch.tensor([phi], dtype=F64), 32, 32, k, kind)[0, 0]
        im = ax.imshow(M.numpy(), cmap="magma", vmin=0, vmax=1, extent=(0, 32, 32, 0))
        ax.set(title=title, xlabel="column (pixels)")
        ax.grid(False)
    axes[0].set_ylabel("row (pixels)")
    fig.colorbar(im, ax=axes, shrink=0.8, label="mask value")
    fig.suptitle("The soft rotated rectangle M_φ on a 32 × 32 map")
    return fig


def plot_rectangle(cx: float = 0.0, cy: float = 0.0, sx: float = 0.5, sy: float = 0.3, theta_deg: float = 20.0,
                   kappa: float = 32.0, kind: str = "sigmoid_box", image: torch.Tensor | None = None):
    """The rectangle designer: the mask for the five parameters and kappa, its area against 4 s_x s_y, and the
    masked image (a 32 x 32 canvas)."""
    phi = torch.tensor([[cx, cy, sx, sy, math.radians(theta_deg)]], dtype=torch.float64)
    M = rect_mask(phi, 32, 32, kappa, kind)[0, 0]
    area = float(M.sum()) * pixel_spacing(32, 32) ** 2
    fig, axes = plt.subplots(1, 2 if image is not None else 1, figsize=(8 if image is not None else 4.4, 4))
    axes = np.atleast_1d(axes)
    axes[0].imshow(M.numpy(), cmap="magma", vmin=0, vmax=1, extent=(0, 32, 32, 0))
    _draw_phi(axes[0], phi[0], 32, ec="cyan", lw=1, ls="--")
    # how far this profile is from the sigmoid box: at sharp edges (large kappa) abs_sigmoid draws the same mask
    gap = float((M - rect_mask(phi, 32, 32, kappa, "sigmoid_box")[0, 0]).abs().max())
    axes[0].set(title=f"{kind} mask: Δ²ΣM = {area:.3f}, 4 s_x s_y = {4 * sx * sy:.3f}\n"
                      f"max |M − M_sigmoid_box| = {gap:.1g}", xlabel="column (pixels)", ylabel="row (pixels)")
    if image is not None:
        axes[1].imshow((image.double().cpu()[0] * M).numpy(), cmap="gray", vmin=0, vmax=1, extent=(0, 32, 32, 0))
        axes[1].set(title="image × mask", xlabel="column (pixels)")
    for ax in axes:
        ax.grid(False)
    return fig


def plot_edge_band(phi: list[float] | None = None, kappa: float = 16.0):
    """|∂M/∂θ| and |∂M/∂c_x| on a 32 x 32 map by forward-mode differentiation: both live on the edge band."""
    phi = torch.tensor([phi or [0.1, 0.0, 0.5, 0.3, 0.4]], dtype=torch.float64)
    maps = [rect_mask_derivative(phi, 32, 32, kappa, index=k)[0, 0].abs() for k in (4, 0)]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
    for ax, img, title in zip(axes, [rect_mask(phi, 32, 32, kappa)[0, 0]] + maps,
                              ["mask M", "|∂M/∂θ|", "|∂M/∂c_x|"]):
        im = ax.imshow(img.numpy(), cmap="magma", extent=(0, 32, 32, 0))
        fig.colorbar(im, ax=ax, shrink=0.8)
        ax.set(title=title, xlabel="column (pixels)")
        ax.grid(False)
    axes[0].set_ylabel("row (pixels)")
    fig.suptitle(f"Where the gradient lives (κ = {kappa:g})")
    return fig


def plot_samples(d: ClutteredDigits, n: int = 12, title: str = "Digits in clutter, with their true boxes"):
    """The first n images with their ground-truth boxes and labels."""
    cols = 6
    fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(11, 2.1 * ((n + cols - 1) // cols) + 0.4))
    C = d.X.shape[-1]
    for k, ax in enumerate(np.atleast_1d(axes).flat):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(d.X[k, 0].cpu().numpy(), cmap="gray", vmin=0, vmax=1, extent=(0, C, C, 0))
        _draw_box(ax, d.box[k], ec="lime", lw=1)
        ax.set_title(f"{int(d.y[k])}, {math.degrees(float(d.angle[k])):+.0f}°", fontsize=9)
    fig.suptitle(title)
    return fig


def plot_overlays(d: ClutteredDigits, results: dict, index: list[int] | None = None):
    """For a few test images: the true box (green), CRAM's rectangles with (cyan) and without (orange, dashed) the
    area prior, and CBAM's map."""
    index = index or list(range(6))
    C = d.X.shape[-1]
    fig, axes = plt.subplots(2, len(index), figsize=(1.9 * len(index), 4.2))
    for j, k in enumerate(index):
        top, bottom = axes[0, j], axes[1, j]
        top.imshow(d.X[k, 0].cpu().numpy(), cmap="gray", vmin=0, vmax=1, extent=(0, C, C, 0))
        _draw_box(top, d.box[k], ec="lime", lw=1)
        _draw_phi(top, results["CRAM + area prior"]["test"]["outputs"]["phi"][k], C, ec="cyan", lw=1.5)
        _draw_phi(top, results["CRAM"]["test"]["outputs"]["phi"][k], C, ec="orange", lw=1, ls="--")
        bottom.imshow(results["CBAM spatial"]["test"]["outputs"]["map"][k, 0].numpy(), cmap="magma", vmin=0, vmax=1,
                      extent=(0, C, C, 0))
        _draw_box(bottom, d.box[k], ec="lime", lw=1)
        for ax in (top, bottom):
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("CRAM rectangles")
    axes[1, 0].set_ylabel("CBAM map")
    fig.suptitle("Where the models look: true box green; CRAM + prior cyan, CRAM orange dashed; CBAM map below")
    return fig


def plot_browser(d: ClutteredDigits, results: dict, index: int = 0):
    """One test image: the image with the true box and both CRAM rectangles, CBAM's map, and each model's
    prediction."""
    C = d.X.shape[-1]
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    axes[0].imshow(d.X[index, 0].cpu().numpy(), cmap="gray", vmin=0, vmax=1, extent=(0, C, C, 0))
    _draw_box(axes[0], d.box[index], ec="lime", lw=1.5)
    _draw_phi(axes[0], results["CRAM + area prior"]["test"]["outputs"]["phi"][index], C, ec="cyan", lw=2)
    _draw_phi(axes[0], results["CRAM"]["test"]["outputs"]["phi"][index], C, ec="orange", lw=1, ls="--")
    axes[1].imshow(results["CBAM spatial"]["test"]["outputs"]["map"][index, 0].numpy(), cmap="magma", vmin=0, vmax=1,
                   extent=(0, C, C, 0))
    _draw_box(axes[1], d.box[index], ec="lime", lw=1.5)
    preds = ", ".join(f"{name}: {int(r['test']['outputs']['logits'][index].argmax())}" for name, r in results.items())
    axes[0].set(title=f"image {index} (label {int(d.y[index])}): rectangles", xlabel="column (pixels)",
                ylabel="row (pixels)")
    axes[1].set(title="CBAM spatial map", xlabel="column (pixels)")
    for ax in axes:
        ax.grid(False)
    fig.suptitle("predictions — " + preds, fontsize=9)
    return fig


def plot_accuracy(results: dict):
    """Accuracy of every variant on the i.i.d. and the shifted test set."""
    names = list(results)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    for off, key, label in ((-0.2, "test", "i.i.d. test"), (0.2, "shifted", "shifted test (twice the clutter)")):
        ax.bar(x + off, [100 * results[n][key]["acc"] for n in names], width=0.4, label=label)
    ax.set(xticks=x, xticklabels=names, ylabel="accuracy (%)", ylim=(70, 100), title="Accuracy of the four variants")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_mcnemar(results: dict):
    """McNemar's z of "CRAM + area prior" against CBAM and against no attention on both test sets."""
    pairs = [("CBAM spatial", "vs CBAM"), ("no attention", "vs no attention")]
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for k, (key, label) in enumerate((("test", "i.i.d. test"), ("shifted", "shifted test"))):
        z = [mcnemar(results["CRAM + area prior"][key]["correct"], results[b][key]["correct"])["z"] for b, _ in pairs]
        ax.bar(np.arange(2) + (k - 0.5) * 0.35, z, width=0.35, label=label)
    for level in (-2, 2):
        ax.axhline(level, color="k", ls="--", lw=1)
    ax.set(xticks=np.arange(2), xticklabels=[t for _, t in pairs], ylabel="McNemar z",
           title="CRAM + area prior, paired with each baseline (|z| > 2: significant)")
    ax.legend(fontsize=8)
    return fig


def plot_localisation(results: dict, chance: dict[str, float]):
    """Grouped bars of pointing game, IoU, mass in the box and compactness on the i.i.d. test set, with chance."""
    names = ["CBAM spatial", "CRAM", "CRAM + area prior"]
    metrics = [("pointing", "pointing game"), ("iou", "IoU with the box"), ("mass", "mass in the box"),
               ("compact", "compactness")]
    x = np.arange(len(metrics))
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for k, name in enumerate(names):
        ax.bar(x + (k - 1) * 0.25, [results[name]["test"][m] for m, _ in metrics], width=0.25, label=name)
    ax.plot([-0.4, 0.4], [chance["pointing"]] * 2, "k--", lw=1.5, label="chance")
    ax.plot([0.6, 1.4], [chance["iou"]] * 2, "k--", lw=1.5)
    ax.set(xticks=x, xticklabels=[t for _, t in metrics], ylim=(0, 1.05), ylabel="score (1 is best)",
           title="Localisation on the i.i.d. test set (no box was used in training)")
    ax.legend(fontsize=8, loc="upper center", ncol=4, bbox_to_anchor=(0.5, -0.12))
    return fig


def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """A CRAM network's forward pass and a mask on ``base.device``."""
    d = make_cluttered_digits(8, seed=0, device=base.device)
    model = SlotCNN(attention=RectangularAttention, seed=0).to(base.device).eval()
    with torch.no_grad():
        logits = model(d.X)
    phi = torch.tensor([[0.1, -0.2, 0.5, 0.3, 0.4]], dtype=torch.float64, device=base.device)
    return {"CRAM logits": logits, "CRAM rectangle": model.last_aux["phi"], "mask": rect_mask(phi, 16, 16)}
