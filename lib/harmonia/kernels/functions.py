r"""Positive-definite kernels :math:`k(x,y)` and their kernel distance :math:`d_k(x,y)=\|\Phi(x)-\Phi(y)\|`.

Every kernel takes ``x`` (..., d) and ``y`` (..., d), broadcasts their leading dimensions and returns (...,), in the
inputs' dtype and device (float64 recommended: the distances of close points cancel in float32). The Gaussian,
rational-quadratic and erf kernels are written in smooth forms, so autograd gives their derivatives at x = y too
(:func:`harmonia.kernels.kernel_gram`); the Laplace, Matérn and ReLU forms go through a norm or an angle whose
derivative at x = y is undefined, so use their closed forms there.

Conventions (they differ between books and libraries):

- Gaussian :math:`e^{-r^2/(2\ell^2)}` (scikit-learn's ``gamma`` is :math:`1/(2\ell^2)`);
- Laplace :math:`e^{-r/\ell}` with the Euclidean (``norm=2``) or the :math:`\ell_1` (``norm=1``) distance;
- Matérn in the Rasmussen-Williams parametrisation,
  :math:`\frac{2^{1-\nu}}{\Gamma(\nu)}(\sqrt{2\nu}r/\ell)^\nu K_\nu(\sqrt{2\nu}r/\ell)` (scikit-learn's ``Matern``);
- rational quadratic :math:`(1+r^2/(2\alpha\ell^2))^{-\alpha}`;
- ``arccos1``: the ReLU network kernel :math:`\mathbb E[\mathrm{relu}(w\cdot x+b)\,\mathrm{relu}(w\cdot y+b)]` with
  :math:`w\sim\mathcal N(0,s_w^2I)`, :math:`b\sim\mathcal N(0,s_b^2)` (Cho-Saul's arc-cosine kernel of order 1 on
  :math:`\tilde x=(s_wx,s_b)`, no factor 2 and no 1/d weight scaling);
- ``arcsin_erf``: the erf network kernel :math:`\mathbb E[\mathrm{erf}(w\cdot x+b)\,\mathrm{erf}(w\cdot y+b)]`
  (Williams 1997) with the same weights.

Used in: chapter 18.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from harmonia.config import check_broadcast, check_in, check_positive, check_tensor

__all__ = ["KERNELS", "STATIONARY", "gaussian", "laplace", "matern", "rational_quadratic", "arccos1", "arcsin_erf",
           "kernel", "kernel_distance"]


def _pair(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    check_tensor(x, "x", min_ndim=1, dtype="floating")
    check_tensor(y, "y", min_ndim=1, dtype="floating", like=x)
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(f"y: expected the same last dimension d as x ({x.shape[-1]}), got shape {tuple(y.shape)}")
    check_broadcast(x.shape[:-1], y.shape[:-1], "x", "y")
    return x, y


def _sqdist(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distance, smooth at x = y (so second derivatives exist there)."""
    return ((x - y) ** 2).sum(-1)


def _dist(x: torch.Tensor, y: torch.Tensor, norm: int = 2) -> torch.Tensor:
    diff = x - y
    if norm == 1:
        return diff.abs().sum(-1)
    return torch.linalg.vector_norm(diff, dim=-1)


# --- stationary kernels: psi(r) and the stable 1 - psi(r) -----------------------------------------------------------

def _gauss_1m(r: torch.Tensor, ell: float) -> torch.Tensor:
    return -torch.expm1(-0.5 * (r / ell) ** 2)


def _laplace_1m(r: torch.Tensor, ell: float) -> torch.Tensor:
    return -torch.expm1(-r / ell)


def _matern_closed(nu: float) -> bool:
    return nu in (0.5, 1.5, 2.5)


def _matern_1m(r: torch.Tensor, nu: float, ell: float) -> torch.Tensor:
    if math.isinf(nu):
        return _gauss_1m(r, ell)
    a = math.sqrt(2 * nu) * r / ell
    if nu == 0.5:
        return -torch.expm1(-a)
    if nu == 1.5:
        return -torch.expm1(-a) - a * torch.exp(-a)
    if nu == 2.5:
        return -torch.expm1(-a) - (a + a * a / 3) * torch.exp(-a)
    return 1 - _matern_general(r, nu, ell)


def _log_bessel_k_debye(nu: float, a: "np.ndarray") -> "np.ndarray":
    """log K_nu(a) by Debye's uniform expansion for large nu (terms up to u_3; relative error O(nu^-4))."""
    import numpy as np

    z = a / nu
    sq = np.sqrt(1 + z * z)
    eta = sq + np.log(z / (1 + sq))
    t = 1 / sq
    u1 = (3 * t - 5 * t ** 3) / 24
    u2 = (81 * t ** 2 - 462 * t ** 4 + 385 * t ** 6) / 1152
    u3 = (30375 * t ** 3 - 369603 * t ** 5 + 765765 * t ** 7 - 425425 * t ** 9) / 414720
    return (0.5 * np.log(np.pi / (2 * nu)) - nu * eta - 0.5 * np.log(sq)
            + np.log(1 - u1 / nu + u2 / nu ** 2 - u3 / nu ** 3))


def _matern_general(r: torch.Tensor, nu: float, ell: float) -> torch.Tensor:
    """Any nu > 0 through scipy's Bessel K_nu (CPU, no autograd), in log space so that neither factor overflows:
    the small-argument series 1 - a^2/(4(nu-1)) + a^4/(32(nu-1)(nu-2)) where a^2 < 1e-4 (nu - 1) (nu > 3),
    the exponentially scaled ``kve`` where it is finite, and Debye's expansion of K_nu where ``kve`` overflows."""
    import numpy as np
    from scipy.special import gammaln, kve

    a = (math.sqrt(2 * nu) * r / ell).detach().cpu().numpy().astype(np.float64)
    out = np.ones_like(a)
    pos = a > 0
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        log_pre = (1 - nu) * math.log(2) - gammaln(nu) + nu * np.log(np.where(pos, a, 1.0))
        log_k = np.log(kve(nu, np.where(pos, a, 1.0))) - a
        if nu > 3:
            bad = ~np.isfinite(log_k)
            if bad.any():
                log_k[bad] = _log_bessel_k_debye(nu, a[bad])
        val = np.exp(log_pre + log_k)
    if nu > 3:
        small = a * a < 1e-4 * (nu - 1)
        a2 = a * a
        val = np.where(small, 1 - a2 / (4 * (nu - 1)) + a2 * a2 / (32 * (nu - 1) * (nu - 2)), val)
    out = np.where(pos, np.clip(np.nan_to_num(val, nan=1.0, posinf=1.0), 0.0, 1.0), out)
    return torch.as_tensor(out, dtype=r.dtype, device=r.device)


def gaussian(x: torch.Tensor, y: torch.Tensor, ell: float = 1.0) -> torch.Tensor:
    r""":math:`e^{-\|x-y\|^2/(2\ell^2)}`. x, y (..., d) -> (...,)."""
    x, y = _pair(x, y)
    ell = check_positive(ell, "ell")
    return torch.exp(-0.5 * _sqdist(x, y) / ell ** 2)


def laplace(x: torch.Tensor, y: torch.Tensor, ell: float = 1.0, norm: int = 2) -> torch.Tensor:
    r""":math:`e^{-\|x-y\|_p/\ell}`, p = ``norm`` (2: Euclidean, the Matérn-1/2 kernel; 1: a product of 1-D Laplace
    kernels). x, y (..., d) -> (...,)."""
    x, y = _pair(x, y)
    ell = check_positive(ell, "ell")
    check_in(norm, "norm", (1, 2))
    return torch.exp(-_dist(x, y, norm) / ell)


def matern(x: torch.Tensor, y: torch.Tensor, nu: float = 1.5, ell: float = 1.0) -> torch.Tensor:
    r"""Matérn kernel :math:`\frac{2^{1-\nu}}{\Gamma(\nu)}(\sqrt{2\nu}r/\ell)^\nu K_\nu(\sqrt{2\nu}r/\ell)`, r = |x - y|.

    nu in {1/2, 3/2, 5/2} uses the closed forms (differentiable by autograd), ``nu=inf`` the Gaussian kernel; any other
    nu > 0 goes through ``scipy.special.kv`` on the CPU (no autograd). x, y (..., d) -> (...,).
    """
    x, y = _pair(x, y)
    ell = check_positive(ell, "ell")
    nu = float(nu) if math.isinf(float(nu)) else check_positive(nu, "nu")
    if math.isinf(nu):
        return torch.exp(-0.5 * _sqdist(x, y) / ell ** 2)
    r = _dist(x, y)
    if not _matern_closed(nu):
        return _matern_general(r, nu, ell)
    a = math.sqrt(2 * nu) * r / ell
    poly = {0.5: 1.0, 1.5: 1 + a, 2.5: 1 + a + a * a / 3}[nu]
    return poly * torch.exp(-a)


def rational_quadratic(x: torch.Tensor, y: torch.Tensor, alpha: float = 1.0, ell: float = 1.0) -> torch.Tensor:
    r""":math:`(1+\|x-y\|^2/(2\alpha\ell^2))^{-\alpha}`, a scale mixture of Gaussian kernels. x, y (..., d) -> (...,)."""
    x, y = _pair(x, y)
    alpha = check_positive(alpha, "alpha")
    ell = check_positive(ell, "ell")
    return torch.pow(1 + _sqdist(x, y) / (2 * alpha * ell ** 2), -alpha)


def _augment(x: torch.Tensor, s_w: float, s_b: float) -> torch.Tensor:
    """x~ = (s_w x, s_b): (..., d) -> (..., d + 1)."""
    return torch.cat([s_w * x, torch.full_like(x[..., :1], s_b)], dim=-1)


def _angle(u: torch.Tensor, v: torch.Tensor, nu: torch.Tensor, nv: torch.Tensor) -> torch.Tensor:
    """Angle between u and v, accurate for nearly parallel vectors: 2 atan2(|u^ - v^|, |u^ + v^|) (Kahan)."""
    uh, vh = u / nu.unsqueeze(-1), v / nv.unsqueeze(-1)
    return 2 * torch.atan2(torch.linalg.vector_norm(uh - vh, dim=-1), torch.linalg.vector_norm(uh + vh, dim=-1))


def arccos1(x: torch.Tensor, y: torch.Tensor, s_w: float = 1.0, s_b: float = 0.0) -> torch.Tensor:
    r"""ReLU network kernel :math:`\frac{\|\tilde x\|\|\tilde y\|}{2\pi}(\sin\vartheta+(\pi-\vartheta)\cos\vartheta)`,
    :math:`\tilde x=(s_wx,s_b)`, :math:`\vartheta=\angle(\tilde x,\tilde y)`; so :math:`k(x,x)=\|\tilde x\|^2/2`.
    x, y (..., d) -> (...,). Zero where x~ or y~ is zero."""
    x, y = _pair(x, y)
    s_w = check_positive(s_w, "s_w")
    s_b = check_positive(s_b, "s_b", allow_zero=True)
    xt, yt = _augment(x, s_w, s_b), _augment(y, s_w, s_b)
    xt, yt = torch.broadcast_tensors(xt, yt)
    nx, ny = torch.linalg.vector_norm(xt, dim=-1), torch.linalg.vector_norm(yt, dim=-1)
    safe_x, safe_y = torch.where(nx > 0, nx, 1), torch.where(ny > 0, ny, 1)
    th = _angle(xt, yt, safe_x, safe_y)
    out = nx * ny / (2 * math.pi) * (torch.sin(th) + (math.pi - th) * torch.cos(th))
    return torch.where((nx > 0) & (ny > 0), out, torch.zeros_like(out))


def arcsin_erf(x: torch.Tensor, y: torch.Tensor, s_w: float = 1.0, s_b: float = 0.0) -> torch.Tensor:
    r"""erf network kernel :math:`\frac2\pi\arcsin\frac{2\tilde x\cdot\tilde y}{\sqrt{(1+2\|\tilde x\|^2)
    (1+2\|\tilde y\|^2)}}`, :math:`\tilde x=(s_wx,s_b)`. x, y (..., d) -> (...,)."""
    x, y = _pair(x, y)
    s_w = check_positive(s_w, "s_w")
    s_b = check_positive(s_b, "s_b", allow_zero=True)
    xt, yt = _augment(x, s_w, s_b), _augment(y, s_w, s_b)
    num = 2 * (xt * yt).sum(-1)
    den = torch.sqrt((1 + 2 * (xt * xt).sum(-1)) * (1 + 2 * (yt * yt).sum(-1)))
    return 2 / math.pi * torch.asin(num / den)


KERNELS: dict[str, Callable[..., torch.Tensor]] = {
    "gaussian": gaussian, "laplace": laplace, "matern": matern, "rational_quadratic": rational_quadratic,
    "arccos1": arccos1, "arcsin_erf": arcsin_erf,
}
#: the shift-invariant kernels, k(x, y) = psi(x - y) with psi(0) = 1
STATIONARY = ("gaussian", "laplace", "matern", "rational_quadratic")


def kernel(name: str, x: torch.Tensor, y: torch.Tensor, **params: float) -> torch.Tensor:
    """The kernel ``name`` (a key of :data:`KERNELS`) with its parameters. x, y (..., d) -> (...,)."""
    check_in(name, "name", tuple(KERNELS))
    return KERNELS[name](x, y, **params)


def kernel_distance(name: str, x: torch.Tensor, y: torch.Tensor, **params: float) -> torch.Tensor:
    r"""The kernel distance :math:`d_k(x,y)=\sqrt{k(x,x)+k(y,y)-2k(x,y)}=\|\Phi(x)-\Phi(y)\|_{\mathcal H}`.

    Shift-invariant kernels use :math:`d_k^2=2(1-\psi(r))` with ``expm1``-type formulas, accurate down to
    :math:`r\approx10^{-7}\ell` in float64 (the naive sum loses every digit below :math:`r\approx10^{-8}`); the network
    kernels use the three-term sum (accurate to about :math:`10^{-16}/r^2` relative). x, y (..., d) -> (...,).
    """
    check_in(name, "name", tuple(KERNELS))
    x, y = _pair(x, y)
    if name in STATIONARY:
        ell = check_positive(params.get("ell", 1.0), "ell")
        if name == "gaussian":
            one_minus = _gauss_1m(_dist(x, y), ell)
        elif name == "laplace":
            norm = check_in(params.get("norm", 2), "norm", (1, 2))
            one_minus = _laplace_1m(_dist(x, y, norm), ell)
        elif name == "matern":
            nu = float(params.get("nu", 1.5))
            if not math.isinf(nu):
                check_positive(nu, "nu")
            one_minus = _matern_1m(_dist(x, y), nu, ell)
        else:
            alpha = check_positive(params.get("alpha", 1.0), "alpha")
            one_minus = -torch.expm1(-alpha * torch.log1p(_dist(x, y) ** 2 / (2 * alpha * ell ** 2)))
        return torch.sqrt(2 * one_minus.clamp_min(0))
    k = KERNELS[name]
    sq = k(x, x, **params) + k(y, y, **params) - 2 * k(x, y, **params)
    return torch.sqrt(sq.clamp_min(0))
