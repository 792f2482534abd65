r"""Spatial attention modules: the rectangle (CRAM) with its two parameter heads, and CBAM's position-wise gates.

Every module maps a feature map F (B, C, H, W) to ``(F_out, aux)``: F_out has F's shape, ``aux`` holds the attention
map ``"mask"`` (B, 1, H, W) and, for the rectangle, ``"phi"`` (B, 5).

The rectangle's head is a course design (the paper's head is not public): ``"moments"`` turns a saliency map into a
soft-argmax centre and a covariance whose eigen-decomposition gives the angle and half-sizes (a uniform distribution
on :math:`[-s,s]` has variance :math:`s^2/3`); ``"regress"`` regresses five numbers STN-style from coordinate-augmented
features and squashes them into range.

Used in: chapter 16.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from harmonia.attention.mask import KINDS, pixel_spacing, rect_coords, rect_mask
from harmonia.config import check_in, check_positive, check_tensor
from harmonia.linalg import sym2x2_eigvals

__all__ = ["params_from_saliency", "params_from_raw", "RectangularAttention", "CBAMSpatialGate", "CBAMChannelGate",
           "area_penalty_closure"]


def params_from_saliency(h: torch.Tensor, gamma: torch.Tensor | float = 1.0, s_min: float | None = None,
                         eps: float = 1e-10) -> torch.Tensor:
    r"""The moments head: saliency logits -> rectangle parameters.

    :math:`w=\mathrm{softmax}(h)` over the H W positions :math:`p_{ij}=(x_j,y_i)` (:func:`rect_coords`);
    :math:`c=\sum w\,p`, :math:`\Sigma=\sum w\,(p-c)(p-c)^\top=\begin{pmatrix}a&b\\b&d\end{pmatrix}`;
    :math:`\lambda_{1,2}=\tfrac{a+d}2\pm\sqrt{(\tfrac{a-d}2)^2+b^2+\epsilon}`,
    :math:`\theta=\tfrac12\operatorname{atan2}(2b,\,a-d+10^{-3}\epsilon)` (the major axis),
    :math:`s_{x,y}=s_{\min}+\gamma\sqrt{3\lambda_{1,2}}`.

    Parameters
    ----------
    h : Tensor, shape (B, 1, H, W)
        Saliency logits.
    gamma : float or 0-d Tensor
        Scale of the half-sizes (learnable in :class:`RectangularAttention`).
    s_min : float, optional
        Smallest half-size; default one pixel, :math:`\Delta=2/\max(H,W)`.
    eps : float
        Keeps the eigenvalues apart, so gradients stay finite when :math:`\Sigma` is isotropic.

    Returns
    -------
    Tensor, shape (B, 5)
        :math:`(c_x,c_y,s_x,s_y,\theta)`, :math:`\theta\in(-\pi/2,\pi/2]`.
    """
    check_tensor(h, "h", shape=(None, 1, None, None), dtype="floating")
    B, _, H, W = h.shape
    s_min = pixel_spacing(H, W) if s_min is None else float(s_min)
    x, y = rect_coords(H, W, h.device, h.dtype)
    w = torch.softmax(h.reshape(B, H * W), dim=1)
    px, py = x.reshape(-1), y.reshape(-1)
    cx, cy = w @ px, w @ py
    dx, dy = px - cx[:, None], py - cy[:, None]
    a, b, d = (w * dx * dx).sum(1), (w * dx * dy).sum(1), (w * dy * dy).sum(1)
    lam1, lam2 = (lam.clamp_min(0) for lam in sym2x2_eigvals(a, b, d, eps))
    theta = 0.5 * torch.atan2(2 * b, a - d + 1e-3 * eps)
    sx = s_min + gamma * torch.sqrt(3 * lam1 + 1e-12)
    sy = s_min + gamma * torch.sqrt(3 * lam2 + 1e-12)
    return torch.stack([cx, cy, sx, sy, theta], 1)


def params_from_raw(a: torch.Tensor, H: int, W: int, s_min: float | None = None, s_max: float = 1.0) -> torch.Tensor:
    r"""The regression head's squashing: :math:`c=\tanh a_{1,2}`,
    :math:`s=s_{\min}+(s_{\max}-s_{\min})\,\sigma(a_{3,4})`, :math:`\theta=\tfrac\pi2\tanh a_5`.
    a (B, 5) -> phi (B, 5); ``s_min`` defaults to one pixel of an H x W map."""
    check_tensor(a, "a", shape=(None, 5), dtype="floating")
    s_min = pixel_spacing(H, W) if s_min is None else float(s_min)
    if not 0 < s_min < s_max:
        raise ValueError(f"s_min, s_max: expected 0 < s_min < s_max, got {s_min} and {s_max}")
    c = torch.tanh(a[:, :2])
    s = s_min + (s_max - s_min) * torch.sigmoid(a[:, 2:4])
    return torch.cat([c, s, (math.pi / 2) * torch.tanh(a[:, 4:5])], 1)


class RectangularAttention(nn.Module):
    r"""CRAM: one soft rotated rectangle per sample gates the feature map,
    :math:`F'=F\odot(\beta+(1-\beta)M_\phi)`, with :math:`\phi` predicted from F.

    Parameters
    ----------
    in_channels : int
        C of the feature map.
    head : {"moments", "regress"}
        ``"moments"``: 1x1 convolutions C -> r -> 1 give saliency logits, then :func:`params_from_saliency` (last
        convolution zero, so the box starts as the whole map). ``"regress"``: [F; x; y] -> 1x1 conv -> ReLU -> 3x3 conv
        -> ReLU -> global average -> Linear(r, 5) -> :func:`params_from_raw` (final layer zero, biases giving
        c = 0, theta = 0, s = ``init_size``).
    kappa : float, optional
        Edge sharpness; default :math:`\max(H,W)` of the map seen.
    kind : str
        Mask profile (:func:`rect_mask`).
    beta : float
        Floor of the gate, in [0, 1).
    init_size : float
        Initial half-size of the regression head.
    s_min, s_max : float, optional
        Range of the half-sizes (``s_max`` only bounds the regression head).

    ``forward(F)`` returns ``(F_out, {"phi": (B, 5), "mask": (B, 1, H, W)})``; r = max(8, C // 8).
    """

    def __init__(self, in_channels: int, head: str = "moments", kappa: float | None = None, kind: str = "sigmoid_box",
                 beta: float = 0.0, init_size: float = 0.9, s_min: float | None = None, s_max: float = 1.0) -> None:
        super().__init__()
        C = check_positive(in_channels, "in_channels", integer=True)
        self.head_kind = check_in(head, "head", ("moments", "regress"))
        self.kind = check_in(kind, "kind", KINDS)
        self.kappa = None if kappa is None else check_positive(kappa, "kappa")
        if not 0 <= beta < 1:
            raise ValueError(f"beta: expected a number in [0, 1), got {beta!r}")
        self.beta, self.s_min, self.s_max, self.init_size = float(beta), s_min, float(s_max), float(init_size)
        r = max(8, C // 8)
        if head == "moments":
            self.saliency = nn.Sequential(nn.Conv2d(C, r, 1), nn.ReLU(), nn.Conv2d(r, 1, 1))
            nn.init.zeros_(self.saliency[-1].weight)
            nn.init.zeros_(self.saliency[-1].bias)
            self.gamma = nn.Parameter(torch.ones(()))
        else:
            self.features = nn.Sequential(nn.Conv2d(C + 2, r, 1), nn.ReLU(), nn.Conv2d(r, r, 3, padding=1), nn.ReLU(),
                                          nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.linear = nn.Linear(r, 5)
            nn.init.zeros_(self.linear.weight)

    def _init_regress_bias(self, H: int, W: int) -> None:
        s_min = pixel_spacing(H, W) if self.s_min is None else self.s_min
        p = min(max((self.init_size - s_min) / (self.s_max - s_min), 1e-4), 1 - 1e-4)
        with torch.no_grad():
            self.linear.bias.copy_(torch.tensor([0.0, 0.0, math.log(p / (1 - p)), math.log(p / (1 - p)), 0.0],
                                               dtype=torch.float64))

    def params(self, F: torch.Tensor) -> torch.Tensor:
        """The rectangle predicted from F (B, C, H, W): phi (B, 5)."""
        B, _, H, W = F.shape
        if self.head_kind == "moments":
            return params_from_saliency(self.saliency(F), self.gamma, self.s_min)
        if not getattr(self, "_bias_done", False):      # the bias depends on s_min, hence on the map size seen first
            self._init_regress_bias(H, W)
            self._bias_done = True
        x, y = rect_coords(H, W, F.device, F.dtype)
        coords = torch.stack([x, y]).expand(B, 2, H, W)
        return params_from_raw(self.linear(self.features(torch.cat([F, coords], 1))), H, W, self.s_min, self.s_max)

    def forward(self, F: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        W = next(self.parameters(), None)
        check_tensor(F, "F", ndim=4, dtype="floating" if W is None else W.dtype, like=W)
        phi = self.params(F)
        M = rect_mask(phi, F.shape[-2], F.shape[-1], self.kappa, self.kind)
        return F * (self.beta + (1 - self.beta) * M), {"phi": phi, "mask": M}


class CBAMSpatialGate(nn.Module):
    r"""CBAM's spatial gate (Woo et al. 2018), the position-wise baseline: pool over channels to [max, mean], a 7x7
    convolution 2 -> 1 (padding 3, no bias), BatchNorm, sigmoid; :math:`F'=F\odot M`. 98 + 2 parameters.
    ``forward(F)`` returns ``(F_out, {"mask": (B, 1, H, W)})``."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        k = check_positive(kernel_size, "kernel_size", integer=True)
        if k % 2 == 0:
            raise ValueError(f"kernel_size: expected an odd int, got {k}")
        self.conv = nn.Conv2d(2, 1, k, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(1)

    def forward(self, F: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        check_tensor(F, "F", ndim=4, dtype=self.conv.weight.dtype, finite=False, like=self.conv.weight)
        pooled = torch.cat([F.amax(1, keepdim=True), F.mean(1, keepdim=True)], 1)
        M = torch.sigmoid(self.bn(self.conv(pooled)))
        return F * M, {"mask": M}


class CBAMChannelGate(nn.Module):
    r"""CBAM's channel gate: a shared MLP (C -> C/r -> C) on the average- and max-pooled vectors, summed, sigmoid;
    :math:`F'=F\odot m` with m (B, C, 1, 1). ``forward(F)`` returns ``(F_out, {"channel": m})``."""

    def __init__(self, in_channels: int, reduction: int = 16) -> None:
        super().__init__()
        C = check_positive(in_channels, "in_channels", integer=True)
        hidden = max(1, C // check_positive(reduction, "reduction", integer=True))
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(C, hidden), nn.ReLU(), nn.Linear(hidden, C))

    def forward(self, F: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        W = self.mlp[1].weight
        check_tensor(F, "F", shape=(None, W.shape[1], None, None), dtype=W.dtype, finite=False, like=W)
        m = torch.sigmoid(self.mlp(F.mean((2, 3), keepdim=True)) + self.mlp(F.amax((2, 3), keepdim=True)))
        m = m[:, :, None, None]
        return F * m, {"channel": m}


def area_penalty_closure(lambda_area: float, loss_fn: Callable | None = None) -> Callable:
    r"""A ``make_closure`` for :func:`harmonia.nn.fit` that adds the area prior :math:`\lambda_A\,\overline{s_xs_y}`
    (the batch mean of the rectangles' half-size products, read from ``model.last_aux["phi"]``) to the task loss."""
    lam = check_positive(lambda_area, "lambda_area", allow_zero=True)
    loss_fn = torch.nn.functional.cross_entropy if loss_fn is None else loss_fn

    def factory(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> Callable[[], torch.Tensor]:
        def closure() -> torch.Tensor:
            model.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            total = loss
            if lam > 0:
                phi = model.last_aux["phi"]
                total = loss + lam * (phi[:, 2] * phi[:, 3]).mean()
            total.backward()
            return loss

        return closure

    return factory
