r"""Where does an attention map look? Localisation metrics against ground-truth boxes, compactness, and the exact
intersection-over-union of two rotated rectangles.

Ground-truth boxes are axis-aligned, ``(x0, y0, x1, y1)`` in pixel-edge coordinates of the input image (pixel (i, j)
covers :math:`[j,j+1)\times[i,i+1)`). Attention maps (B, 1, h, w) are brought to the input's size by bilinear
upsampling (``align_corners=False``), or, for a rectangle, re-drawn there from its resolution-free parameters.

Used in: chapter 16.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as Fn

from harmonia.attention.mask import check_phi, rectangle_polygon
from harmonia.config import check_int, check_tensor

__all__ = ["upsample_map", "box_raster", "normalised_to_pixels", "peak_location", "pointing_game", "map_box_iou",
           "mass_in_box", "largest_component_fraction", "polygon_area", "rotated_iou"]


def _check_boxes(box: torch.Tensor, B: int | None = None) -> torch.Tensor:
    check_tensor(box, "box", shape=(B, 4), dtype="real")
    if bool((box[:, 2] <= box[:, 0]).any() | (box[:, 3] <= box[:, 1]).any()):
        raise ValueError("box: expected x1 > x0 and y1 > y0 in every row (x0, y0, x1, y1)")
    return box


def upsample_map(maps: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling (``align_corners=False``) of maps (B, 1, h, w) to (B, 1, *size)."""
    check_tensor(maps, "maps", shape=(None, 1, None, None), dtype="floating")
    size = (size, size) if isinstance(size, int) else tuple(size)
    size = tuple(check_int(n, "size") for n in size)
    return Fn.interpolate(maps, size=size, mode="bilinear", align_corners=False)


def box_raster(box: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """The pixels whose centres lie inside each box: box (B, 4) -> bool (B, 1, H, W)."""
    _check_boxes(box)
    H, W = check_int(H, "H"), check_int(W, "W")
    cx = torch.arange(W, device=box.device, dtype=torch.float64) + 0.5
    cy = torch.arange(H, device=box.device, dtype=torch.float64) + 0.5
    b = box.double()
    inx = (cx >= b[:, 0, None]) & (cx <= b[:, 2, None])
    iny = (cy >= b[:, 1, None]) & (cy <= b[:, 3, None])
    return (iny[:, :, None] & inx[:, None, :])[:, None]


def normalised_to_pixels(p: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """Normalised, aspect-corrected (x, y) of :func:`rect_coords` -> pixel-edge coordinates of an H x W image.
    p (..., 2) -> (..., 2)."""
    check_tensor(p, "p", shape=("...", 2), dtype="floating")
    H, W = check_int(H, "H"), check_int(W, "W")
    m = max(H, W)
    return torch.stack([(p[..., 0] + W / m) * m / 2, (p[..., 1] + H / m) * m / 2], -1)


def peak_location(maps: torch.Tensor) -> torch.Tensor:
    """The centre of each map's largest pixel, in pixel-edge coordinates of the map: (B, 1, h, w) -> (B, 2) as
    (x, y). Rescale by the input/map size ratio to point in the input."""
    check_tensor(maps, "maps", shape=(None, 1, None, None), dtype="real", nonempty=True)
    B, _, h, w = maps.shape
    idx = maps.reshape(B, -1).argmax(1)
    return torch.stack([(idx % w).double() + 0.5, torch.div(idx, w, rounding_mode="floor").double() + 0.5], 1)


def pointing_game(points: torch.Tensor, box: torch.Tensor) -> float:
    """The fraction of points (B, 2) (pixel coordinates (x, y)) inside their box (B, 4), edges included."""
    check_tensor(points, "points", shape=(None, 2))
    _check_boxes(box, points.shape[0])
    check_tensor(box, "box", like=points)
    p, b = points.double(), box.double()
    hit = (p[:, 0] >= b[:, 0]) & (p[:, 0] <= b[:, 2]) & (p[:, 1] >= b[:, 1]) & (p[:, 1] <= b[:, 3])
    return float(hit.double().mean())


def map_box_iou(maps: torch.Tensor, box: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """IoU of ``{map > threshold}`` with each box's pixels, for maps already at the image's size (B, 1, H, W);
    0 when both are empty. Returns (B,) float64."""
    check_tensor(maps, "maps", shape=(None, 1, None, None), dtype="floating")
    _check_boxes(box, maps.shape[0])
    check_tensor(box, "box", like=maps)
    a = maps > threshold
    b = box_raster(box, maps.shape[-2], maps.shape[-1])
    inter = (a & b).sum((1, 2, 3)).double()
    union = (a | b).sum((1, 2, 3)).double()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.zeros_like(union))


def mass_in_box(maps: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
    r""":math:`\sum_{\text{box}}M/\sum M` for maps at the image's size (B, 1, H, W) (non-negative). Returns (B,)."""
    check_tensor(maps, "maps", shape=(None, 1, None, None), dtype="floating")
    _check_boxes(box, maps.shape[0])
    check_tensor(box, "box", like=maps)
    m = maps.double()
    inside = (m * box_raster(box, maps.shape[-2], maps.shape[-1])).sum((1, 2, 3))
    return inside / m.sum((1, 2, 3)).clamp_min(1e-300)


def largest_component_fraction(maps: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Compactness: the fraction of the above-threshold mass of each map (B, 1, H, W) that lies in its largest
    4-connected component (1 for a single blob, small for a scattered map; 1 when nothing is above threshold).
    Returns (B,) float64 on the CPU."""
    check_tensor(maps, "maps", shape=(None, 1, None, None), dtype="floating")
    from scipy import ndimage

    out = []
    for m in maps.detach().double().cpu().numpy()[:, 0]:
        mass = np.where(m > threshold, m, 0.0)
        labels, n = ndimage.label(mass > 0)
        if n == 0:
            out.append(1.0)
            continue
        per = ndimage.sum(mass, labels, index=np.arange(1, n + 1))
        out.append(float(per.max() / per.sum()))
    return torch.tensor(out, dtype=torch.float64)


def polygon_area(P: torch.Tensor) -> torch.Tensor:
    """Shoelace area of a simple polygon P (n, 2) (either orientation); 0 for fewer than 3 vertices."""
    check_tensor(P, "P", shape=(None, 2), dtype="floating")
    if P.shape[0] < 3:
        return P.new_zeros(())
    x, y = P[:, 0], P[:, 1]
    return 0.5 * (x * y.roll(-1) - x.roll(-1) * y).sum().abs()


def _clip(subject: list, a: torch.Tensor, b: torch.Tensor, sign: float) -> list:
    """Keep the part of polygon ``subject`` on the inner side of the directed line a -> b (Sutherland-Hodgman)."""
    def side(p):
        return sign * ((b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]))

    out = []
    for i in range(len(subject)):
        p, q = subject[i], subject[(i + 1) % len(subject)]
        sp, sq = side(p), side(q)
        if sp >= 0:
            out.append(p)
        if (sp >= 0) != (sq >= 0):
            t = sp / (sp - sq)
            out.append(p + t * (q - p))
    return out


def rotated_iou(phi1: torch.Tensor, phi2: torch.Tensor) -> float:
    r"""Exact IoU of two hard rotated rectangles (5,) each: the intersection of two convex polygons by
    Sutherland-Hodgman clipping, areas by the shoelace formula, union :math:`4s_xs_y+4s_x's_y'-\text{inter}`."""
    for name, phi in (("phi1", phi1), ("phi2", phi2)):
        check_tensor(phi, name, shape=(5,), dtype="floating")
    check_phi(phi1, name="phi1"), check_phi(phi2, name="phi2")
    P, Q = rectangle_polygon(phi1.double()), rectangle_polygon(phi2.double())
    orient = 1.0 if float((P[1, 0] - P[0, 0]) * (P[2, 1] - P[0, 1]) - (P[1, 1] - P[0, 1]) * (P[2, 0] - P[0, 0])) > 0 else -1.0
    poly = [q for q in Q]
    for i in range(4):
        if not poly:
            break
        poly = _clip(poly, P[i], P[(i + 1) % 4], orient)
    inter = float(polygon_area(torch.stack(poly))) if len(poly) >= 3 else 0.0
    a1 = 4 * float(phi1[2] * phi1[3])
    a2 = 4 * float(phi2[2] * phi2[3])
    return inter / (a1 + a2 - inter)


