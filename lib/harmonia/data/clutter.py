r"""Digits in clutter: one rotated scikit-learn digit on a noisy canvas strewn with fragments of other digits, with
its ground-truth box (an offline cousin of the cluttered MNIST of Mnih et al. 2014, with rotation).

The 1797 source glyphs are split once into a train pool (1257) and a test pool (540) before anything is drawn
(:func:`harmonia.data.digits.load_digits` with 540 test samples, seed 0), and every image takes its object *and* its
clutter from one pool, so test objects are unseen exemplars. All draws come from one ``numpy.random.Generator``
seeded by ``(seed, pool)``, so a seed gives the same images on every machine.

Rendering: the 8x8 glyph is resampled bilinearly (``grid_sample``, ``align_corners=False``, zero fill) onto the canvas
as a square of side ``size`` pixels turned by ``angle`` (radians; positive turns the x axis towards y, which points
down), placed uniformly where it fits entirely. Fragments are ``patch`` x ``patch`` crops of other glyphs upsampled to
14 x 14, pasted (maximum) where they do not meet the object's box (50 tries, else left out). Gaussian noise of
standard deviation ``noise`` is added and the result clipped to [0, 1].

Used in: chapter 16.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as Fn

from harmonia.config import check_in, check_int, check_positive

__all__ = ["ClutteredDigits", "make_cluttered_digits", "glyph_pools"]

POOL_TEST = 540
FRAGMENT_SOURCE = 14      # fragments are cut from glyphs upsampled to this size
OBJECT_THRESHOLD = 0.1    # object pixels above this value define the ground-truth box


@dataclass(frozen=True)
class ClutteredDigits:
    """Images and their ground truth.

    Attributes
    ----------
    X : Tensor (n, 1, canvas, canvas), float32 in [0, 1]
    y : LongTensor (n,), the digit's class
    box : Tensor (n, 4), float64: (x0, y0, x1, y1) in pixel-edge coordinates, the bounding box of the object's
        pixels above 0.1 (pixel (i, j) covers [j, j+1) x [i, i+1))
    center : Tensor (n, 2), float64: the object's centre (x, y) in pixel-edge coordinates
    angle : Tensor (n,), float64: its rotation in radians
    size : Tensor (n,), int64: its side in pixels
    source : LongTensor (n,), the index of its glyph in scikit-learn's digits
    """

    X: torch.Tensor
    y: torch.Tensor
    box: torch.Tensor
    center: torch.Tensor
    angle: torch.Tensor
    size: torch.Tensor
    source: torch.Tensor

    def __len__(self) -> int:
        return self.X.shape[0]

    def to(self, device: torch.device | str) -> "ClutteredDigits":
        """The images and labels on ``device`` (the geometry stays on the CPU, for the metrics)."""
        return ClutteredDigits(self.X.to(device), self.y.to(device), self.box, self.center, self.angle, self.size,
                               self.source)


def glyph_pools() -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The two disjoint pools: ``{"train": (glyphs (1257, 8, 8), labels, source indices), "test": (540 ...)}``,
    glyphs float64 in [0, 1]."""
    from sklearn.datasets import load_digits as sk_load_digits

    raw = sk_load_digits()
    X = torch.as_tensor(raw.images, dtype=torch.float64) / 16.0
    y = torch.as_tensor(raw.target, dtype=torch.int64)
    perm = torch.randperm(X.shape[0], generator=torch.Generator().manual_seed(0))   # the split of load_digits
    test, train = perm[:POOL_TEST], perm[POOL_TEST:]
    return {"train": (X[train], y[train], train), "test": (X[test], y[test], test)}


def _render(glyphs: torch.Tensor, canvas: int, size: np.ndarray, angle: np.ndarray, center: np.ndarray) -> torch.Tensor:
    """Glyphs (n, 8, 8) drawn as squares of side ``size`` turned by ``angle`` around ``center`` (pixel-edge
    coordinates): the affine map from canvas to glyph normalised coordinates, q = (2/s) R^T (X - c)."""
    n = glyphs.shape[0]
    s = torch.as_tensor(size, dtype=torch.float64)
    c, si = torch.cos(torch.as_tensor(angle)), torch.sin(torch.as_tensor(angle))
    Rt = torch.stack([torch.stack([c, si], -1), torch.stack([-si, c], -1)], -2)          # R^T, (n, 2, 2)
    A = (canvas / s)[:, None, None] * Rt
    b = (2 / s)[:, None] * (Rt @ (canvas / 2 - torch.as_tensor(center))[:, :, None])[:, :, 0]
    grid = Fn.affine_grid(torch.cat([A, b[:, :, None]], 2), [n, 1, canvas, canvas], align_corners=False)
    return Fn.grid_sample(glyphs[:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[:, 0]


def make_cluttered_digits(n: int, canvas: int = 32, obj_size: tuple[int, int] = (12, 16), max_rot_deg: float = 30.0,
                          n_clutter: int = 6, patch: int = 5, noise: float = 0.05, pool: str = "train", seed: int = 0,
                          device: torch.device | str = "cpu") -> ClutteredDigits:
    """``n`` seeded images of one rotated digit in clutter.

    Parameters
    ----------
    n : int
        Number of images.
    canvas : int
        Side of the square images in pixels (>= the largest object's rotated extent).
    obj_size : (int, int)
        The object's side is drawn uniformly from these integers (both included).
    max_rot_deg : float
        Its angle is uniform in [-max_rot_deg, max_rot_deg] degrees.
    n_clutter, patch : int
        Number and side of the clutter fragments.
    noise : float
        Standard deviation of the background noise (0 for none).
    pool : {"train", "test"}
        Which glyph pool the objects and fragments come from.
    seed : int
        Seed of every draw.
    device
        Of ``X`` and ``y``.
    """
    n = check_int(n, "n")
    canvas = check_int(canvas, "canvas", 8)
    lo, hi = (check_int(v, "obj_size", 2) for v in obj_size)
    if lo > hi:
        raise ValueError(f"obj_size: expected (low, high) with low <= high, got {tuple(obj_size)}")
    check_positive(max_rot_deg, "max_rot_deg", allow_zero=True)
    if hi * math.sqrt(2) > canvas:
        raise ValueError(f"obj_size: expected sides whose rotated extent fits the canvas of {canvas} pixels "
                         f"(at most {int(canvas / math.sqrt(2))}), got {tuple(obj_size)}")
    n_clutter = check_int(n_clutter, "n_clutter", 0)
    patch = check_int(patch, "patch", 1)
    if patch > min(FRAGMENT_SOURCE, canvas):
        raise ValueError(f"patch: expected at most {min(FRAGMENT_SOURCE, canvas)} pixels (the fragments' source and "
                         f"the canvas), got {patch}")
    check_positive(noise, "noise", allow_zero=True)
    check_in(pool, "pool", ("train", "test"))
    seed = check_int(seed, "seed", 0)  # numpy's seed sequence takes non-negative ints only
    glyphs, labels, source = glyph_pools()[pool]
    rng = np.random.default_rng([int(seed), 0 if pool == "train" else 1])

    idx = rng.integers(0, len(glyphs), n)
    size = rng.integers(lo, hi + 1, n)
    angle = np.deg2rad(rng.uniform(-max_rot_deg, max_rot_deg, n))
    half = size / 2 * (np.abs(np.cos(angle)) + np.abs(np.sin(angle)))
    center = half[:, None] + rng.uniform(0, 1, (n, 2)) * (canvas - 2 * half)[:, None]
    obj = _render(glyphs[idx], canvas, size, angle, center).numpy()                     # (n, canvas, canvas)
    box = np.zeros((n, 4))
    for k in range(n):
        rows, cols = np.nonzero(obj[k] > OBJECT_THRESHOLD)
        box[k] = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)

    img = obj.copy()
    if n_clutter:
        big = Fn.interpolate(glyphs[:, None], size=(FRAGMENT_SOURCE,) * 2, mode="bilinear",
                             align_corners=False)[:, 0].numpy()
        other = (idx[:, None] + rng.integers(1, len(glyphs), (n, n_clutter))) % len(glyphs)   # never the object
        off = rng.integers(0, FRAGMENT_SOURCE - patch + 1, (n, n_clutter, 4, 2))      # 4 candidate crops each
        pos = rng.integers(0, canvas - patch + 1, (n, n_clutter, 50, 2))             # 50 candidate places each
        for k in range(n):
            x0, y0, x1, y1 = box[k]
            for j in range(n_clutter):
                g = big[other[k, j]]
                crops = [g[r:r + patch, c:c + patch] for r, c in off[k, j]]
                crop = max(crops, key=lambda a: float(a.sum()))                      # skip blank corners
                r, c = pos[k, j, :, 0], pos[k, j, :, 1]
                free = (c >= x1) | (c + patch <= x0) | (r >= y1) | (r + patch <= y0)
                if free.any():
                    t = int(np.argmax(free))
                    sl = np.s_[r[t]:r[t] + patch, c[t]:c[t] + patch]
                    img[k][sl] = np.maximum(img[k][sl], crop)
    if noise > 0:
        img = img + noise * rng.standard_normal(img.shape)
    img = np.clip(img, 0.0, 1.0)
    return ClutteredDigits(
        X=torch.as_tensor(img[:, None], dtype=torch.float32).to(device),
        y=labels[idx].to(device),
        box=torch.as_tensor(box, dtype=torch.float64),
        center=torch.as_tensor(center, dtype=torch.float64),
        angle=torch.as_tensor(angle, dtype=torch.float64),
        size=torch.as_tensor(size, dtype=torch.int64),
        source=source[idx],
    )
