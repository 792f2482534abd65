"""Exercises of chapter 16 (rectangular spatial attention)."""

from __future__ import annotations

import math

import torch

from harmonia.attention import rect_mask_derivative, rotated_iou
from harmonia.course.exercises import Exercise, register

F64 = torch.float64


def mask_area(sx: float, sy: float, kappa: float) -> float:
    """Reference of 16.1: the integral over the whole plane of the soft mask with half-sizes sx, sy and sharpness
    kappa (any centre and angle): 4 sx sy."""
    return 4.0 * sx * sy


def mask_dtheta(phi: torch.Tensor, H: int, W: int, kappa: float) -> torch.Tensor:
    """Reference of 16.2: dM/dtheta on the pixel centres, by forward-mode automatic differentiation of
    harmonia.attention.rect_mask (rect_mask_derivative). phi (B, 5) -> (B, 1, H, W)."""
    return rect_mask_derivative(phi, H, W, kappa, index=4)


def box_iou(phi1: torch.Tensor, phi2: torch.Tensor) -> float:
    """Reference of 16.3: intersection over union of two hard rotated rectangles (5,) each, exactly."""
    return rotated_iou(phi1, phi2)


def _area_cases(gen: torch.Generator):
    out = []
    for _ in range(5):
        sx, sy = (0.05 + 0.9 * torch.rand(2, generator=gen, dtype=F64)).tolist()
        out.append(((sx, sy, float(4 + 60 * torch.rand((), generator=gen, dtype=F64))), {}))
    return out


def _phi(gen: torch.Generator, B: int) -> torch.Tensor:
    u = torch.rand(B, 5, generator=gen, dtype=F64)
    return torch.stack([u[:, 0] - 0.5, u[:, 1] - 0.5, 0.15 + 0.5 * u[:, 2], 0.15 + 0.5 * u[:, 3],
                        math.pi * (u[:, 4] - 0.5)], 1)


def _dtheta_cases(gen: torch.Generator):
    return [((_phi(gen, 3), 16, 16, 12.0), {}), ((_phi(gen, 2), 9, 13, 30.0), {})]


def _iou_cases(gen: torch.Generator):
    out = []
    for _ in range(4):
        p = _phi(gen, 2)
        p[1, :2] = p[0, :2] + 0.4 * (torch.rand(2, generator=gen, dtype=F64) - 0.5)   # overlapping
        out.append(((p[0], p[1]), {}))
    p = _phi(gen, 2)
    p[1, 0] = p[0, 0] + 3.0                                                            # disjoint
    out.append(((p[0], p[1]), {}))
    return out


register(Exercise(
    id="16.1", title="the area of the soft rectangle", reference=mask_area, cases=_area_cases,
    level="easy", hints=(
        "The mask is a product of a function of u and a function of v, and (u, v) is a rotation of (x, y): what "
        "does a rotation do to areas? Then integrate one boxcar over the whole line.",
        "a difference of two shifted sigmoids integrates like a difference of two shifted antiderivatives "
        "log(1 + e^{kappa t}) / kappa, which differ by 2 s far out on the line",
        "the area does not depend on kappa, the centre or the angle: (2 sx) (2 sy)"),
    rtol=1e-3, atol=1e-6,
))
register(Exercise(
    id="16.2", title="the gradient of the mask with respect to the angle", reference=mask_dtheta, cases=_dtheta_cases,
    level="medium", hints=(
        "Apply the chain rule through u and v: how do u and v change when theta turns?",
        "du/dtheta = v and dv/dtheta = -u; the boxcar's derivative is kappa [sigma'(kappa(t+s)) - sigma'(kappa(t-s))] "
        "with sigma' = sigma (1 - sigma)",
        "dM/dtheta = g'(u; sx) g(v; sy) v - g(u; sx) g'(v; sy) u, with u, v from harmonia.attention.rect_frame and "
        "rect_coords"),
    rtol=1e-6, atol=1e-8,
))
register(Exercise(
    id="16.3", title="IoU of two rotated rectangles", reference=box_iou, cases=_iou_cases,
    level="medium", hints=(
        "The union's area follows from the two areas and the intersection's; the intersection of two convex "
        "polygons is a convex polygon (or count pixels on a fine grid).",
        "clip one rectangle's corners by the four edges of the other (Sutherland-Hodgman), then take the shoelace "
        "area; or rasterise both hard rectangles (harmonia.attention.rect_indicator) on a 1000 x 1000 grid",
        "IoU = inter / (4 sx sy + 4 sx' sy' - inter)"),
    rtol=0, atol=5e-3,
))
