r"""The soft rotated rectangle: pixel coordinates, the mask and its hard limit, corners for drawing.

A rectangle is five numbers :math:`\phi=(c_x,c_y,s_x,s_y,\theta)` in normalised coordinates: centre, half-sizes along
its own axes, angle. With :math:`u=\cos\theta(x-c_x)+\sin\theta(y-c_y)`, :math:`v=-\sin\theta(x-c_x)+\cos\theta(y-c_y)`
and the boxcar :math:`g_\kappa(t;s)=\sigma(\kappa(t+s))-\sigma(\kappa(t-s))`, the mask is
:math:`M_\phi=g_\kappa(u;s_x)\,g_\kappa(v;s_y)`. Since :math:`\int g_\kappa(t;s)\,dt=2s` for every :math:`\kappa`, its
area is exactly :math:`4s_xs_y`.

Pixel centres: :math:`x_j=-1+(2j+1)/W`, :math:`y_i=-1+(2i+1)/H` (row index :math:`i`, :math:`y` pointing down), both
multiplied by ``size / max(H, W)`` so a unit has the same length along x and y; the pixel spacing is
:math:`\Delta=2/\max(H,W)`.

Used in: chapter 16.
"""

from __future__ import annotations

import torch

from harmonia.config import check_broadcast, check_in, check_positive, check_tensor

__all__ = ["KINDS", "check_phi", "rect_coords", "rect_frame", "boxcar", "rect_mask", "rect_mask_derivative", "rect_indicator", "rectangle_polygon",
           "pixel_spacing"]

KINDS = ("sigmoid_box", "abs_sigmoid", "supergauss")


def pixel_spacing(H: int, W: int) -> float:
    """:math:`\\Delta=2/\\max(H,W)`, the distance between neighbouring pixel centres in normalised units."""
    return 2.0 / max(H, W)


def rect_coords(H: int, W: int, device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised, aspect-corrected coordinates of the pixel centres of an H x W map: ``x`` (H, W) grows along
    columns, ``y`` (H, W) along rows (downwards); both in :math:`(-1, 1)` along the longer side."""
    H = check_positive(H, "H", integer=True)
    W = check_positive(W, "W", integer=True)
    m = max(H, W)
    xs = (-1 + (2 * torch.arange(W, device=device, dtype=dtype) + 1) / W) * (W / m)
    ys = (-1 + (2 * torch.arange(H, device=device, dtype=dtype) + 1) / H) * (H / m)
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return x, y


def check_phi(phi: torch.Tensor, batched: bool = False, name: str = "phi") -> torch.Tensor:
    """Validate rectangle parameters phi (..., 5) (or (B, 5) when ``batched``): floating, finite, positive
    half-sizes; return phi or raise naming it (``name``: the caller's argument name)."""
    check_tensor(phi, name, shape=(None, 5) if batched else ("...", 5), dtype="floating")
    if bool((phi[..., 2:4] <= 0).any()):
        raise ValueError(f"{name}: expected positive half-sizes {name}[..., 2:4], "
                         f"got a minimum of {float(phi[..., 2:4].min()):.3g}")
    return phi


def rect_frame(phi: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Coordinates in the rectangle's frame, :math:`u=\cos\theta(x-c_x)+\sin\theta(y-c_y)`,
    :math:`v=-\sin\theta(x-c_x)+\cos\theta(y-c_y)`. phi (B, 5); x, y (H, W) -> u, v (B, H, W)."""
    check_tensor(phi, "phi", shape=(None, 5), dtype="floating", finite=False)
    check_tensor(x, "x", dtype="floating", finite=False, like=phi)
    check_tensor(y, "y", dtype="floating", finite=False, like=phi)
    check_broadcast(x.shape, y.shape, "x", "y")
    cx, cy, th = (phi[:, k, None, None] for k in (0, 1, 4))
    dx, dy = x - cx, y - cy
    c, s = torch.cos(th), torch.sin(th)
    return c * dx + s * dy, -s * dx + c * dy


def boxcar(t: torch.Tensor, s: torch.Tensor, kappa: float, kind: str = "sigmoid_box") -> torch.Tensor:
    r"""The 1-D profile of the mask along one axis of the rectangle, half-size ``s`` (broadcast with ``t``).

    ``"sigmoid_box"``: :math:`\sigma(\kappa(t+s))-\sigma(\kappa(t-s))` (area :math:`2s` for every :math:`\kappa`);
    ``"abs_sigmoid"``: :math:`\sigma(\kappa(s-|t|))` (kink at 0, no exact area);
    ``"supergauss"``: :math:`\exp(-(t/s)^8)` (``kappa`` unused)."""
    check_tensor(t, "t", dtype="floating", finite=False)
    check_tensor(s, "s", dtype="floating", finite=False, like=t)
    check_broadcast(t.shape, s.shape, "t", "s")
    if not isinstance(kappa, torch.Tensor):
        check_positive(kappa, "kappa")
    if kind == "sigmoid_box":
        return torch.sigmoid(kappa * (t + s)) - torch.sigmoid(kappa * (t - s))
    if kind == "abs_sigmoid":
        return torch.sigmoid(kappa * (s - t.abs()))
    return torch.exp(-((t / s) ** 8))


def rect_mask(phi: torch.Tensor, H: int, W: int, kappa: float | None = None, kind: str = "sigmoid_box") -> torch.Tensor:
    r"""The soft rectangle mask :math:`M_\phi(x,y)=g_\kappa(u;s_x)\,g_\kappa(v;s_y)` on the pixel centres of an H x W map.

    Parameters
    ----------
    phi : Tensor, shape (B, 5)
        :math:`(c_x,c_y,s_x,s_y,\theta)` in normalised units (half-sizes > 0, angle in radians).
    H, W : int
        Size of the map.
    kappa : float, optional
        Edge sharpness; default :math:`\max(H,W)` (= :math:`2/\Delta`, an edge of about one pixel each side).
    kind : {"sigmoid_box", "abs_sigmoid", "supergauss"}
        The profile (:func:`boxcar`).

    Returns
    -------
    Tensor, shape (B, 1, H, W)
        Values in [0, 1) (exactly 0 where the two sigmoids cancel in floating point, far from the box); dtype and device of ``phi``; differentiable in ``phi``.
    """
    check_phi(phi, batched=True)
    check_in(kind, "kind", KINDS)
    kappa = float(max(H, W)) if kappa is None else check_positive(kappa, "kappa")
    x, y = rect_coords(H, W, phi.device, phi.dtype)
    u, v = rect_frame(phi, x, y)
    sx, sy = phi[:, 2, None, None], phi[:, 3, None, None]
    return (boxcar(u, sx, kappa, kind) * boxcar(v, sy, kappa, kind))[:, None]


def rect_mask_derivative(phi: torch.Tensor, H: int, W: int, kappa: float | None = None, index: int = 4,
                         kind: str = "sigmoid_box") -> torch.Tensor:
    r""":math:`\partial M_\phi/\partial\phi_k` on the pixel centres for parameter ``index`` k (0 c_x, 1 c_y, 2 s_x,
    3 s_y, 4 theta), by forward-mode differentiation of :func:`rect_mask`. phi (B, 5) -> (B, 1, H, W)."""
    check_phi(phi, batched=True)
    if index not in range(5):
        raise ValueError(f"index: expected one of 0..4 (c_x, c_y, s_x, s_y, theta), got {index!r}")
    tangent = torch.zeros(phi.shape, dtype=phi.dtype, device=phi.device)  # not zeros_like: phi may be expanded
    tangent[:, index] = 1.0
    # forward-mode AD cannot attach a tangent to an expanded (stride-0) primal; .contiguous() is phi itself
    # when phi is contiguous
    return torch.func.jvp(lambda p: rect_mask(p, H, W, kappa, kind), (phi.contiguous(),), (tangent,))[1]


def rect_indicator(phi: torch.Tensor, H: int, W: int) -> torch.Tensor:
    r"""The hard rectangle :math:`\mathbb 1[|u|\le s_x,\ |v|\le s_y]` on the pixel centres (the limit
    :math:`\kappa\to\infty` of :func:`rect_mask`). phi (B, 5) -> (B, 1, H, W), dtype of ``phi``."""
    check_phi(phi, batched=True)
    x, y = rect_coords(H, W, phi.device, phi.dtype)
    u, v = rect_frame(phi, x, y)
    inside = (u.abs() <= phi[:, 2, None, None]) & (v.abs() <= phi[:, 3, None, None])
    return inside[:, None].to(phi.dtype)


def rectangle_polygon(phi: torch.Tensor) -> torch.Tensor:
    r"""The four corners :math:`c+R_\theta(\pm s_x,\pm s_y)^\top` of the rectangle, in order around it
    (:math:`(u,v)=(s_x,s_y),(-s_x,s_y),(-s_x,-s_y),(s_x,-s_y)`), with :math:`R_\theta=\begin{pmatrix}\cos\theta&-\sin\theta\\\sin\theta&\cos\theta\end{pmatrix}`
    (the inverse of :func:`rect_frame`). phi (..., 5) -> (..., 4, 2) in normalised (x, y)."""
    check_phi(phi)
    cx, cy, sx, sy, th = phi.unbind(-1)
    su = torch.stack([sx, -sx, -sx, sx], -1)
    sv = torch.stack([sy, sy, -sy, -sy], -1)
    c, s = torch.cos(th)[..., None], torch.sin(th)[..., None]
    return torch.stack([cx[..., None] + c * su - s * sv, cy[..., None] + s * su + c * sv], -1)
