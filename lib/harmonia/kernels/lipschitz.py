r"""Lipschitz constants of kernel feature maps :math:`\Phi(x)=k(\cdot,x)` and of finite random feature maps.

The isometry :math:`\|\Phi(x)-\Phi(y)\|_{\mathcal H}=d_k(x,y)` makes :math:`\mathrm{Lip}(\Phi)=\sup_{x\ne y}
d_k(x,y)/\|x-y\|` a property of the kernel alone. For an integral kernel
:math:`k(x,y)=\mathbb E[\varphi(\omega,x)\varphi(\omega,y)]` with differentiable features,

.. math:: \mathrm{Lip}(\Phi)^2=\sup_x\lambda_{\max}\Gamma(x),\qquad
          \Gamma(x)=\mathbb E[\nabla_x\varphi\,\nabla_x\varphi^\top]=\partial_x\partial_yk(x,y)|_{y=x}.

This module holds the closed forms (:func:`closed_form_lip`), the pair search on the kernel distance
(:func:`pair_search`), :math:`\Gamma(x)` by automatic differentiation (:func:`kernel_gram`), the two-dimensional
Gaussian integral of two-layer networks (:func:`gaussian_net_AB`, :func:`gaussian_net_lip`) and the finite-width
constants :math:`\mathrm{Lip}(\theta_N)=\sup_x\lambda_{\max}(\Gamma_N(x))^{1/2}`: exact for paired Fourier features
(:func:`lip_second_moment`) and for bias-free ReLU features in the plane (:func:`lip_relu_2d`), a lower bound from
given points otherwise (:func:`lip_on_points`).

Used in: chapter 18.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch

from harmonia.config import check_in, check_int, check_positive, check_tensor, make_generator
from harmonia.kernels.features import RandomFeatures
from harmonia.kernels.functions import KERNELS, kernel_distance
from harmonia.linalg import sym2x2_eigvals

__all__ = ["ACTIVATIONS", "closed_form_lip", "PairSearch", "pair_search", "kernel_gram", "gaussian_net_AB",
           "gaussian_net_lip", "lip_second_moment", "lip_relu_2d", "lip_on_points", "rkhs_lip_bound"]


def closed_form_lip(name: str, **params: float) -> float:
    r""":math:`\mathrm{Lip}(\Phi)` of the kernel ``name`` (a key of :data:`harmonia.kernels.KERNELS`).

    Gaussian and rational quadratic :math:`1/\ell`; Laplace :math:`\infty`; Matérn
    :math:`\frac1\ell\sqrt{\nu/(\nu-1)}` for :math:`\nu>1` (:math:`1/\ell` for :math:`\nu=\infty`), :math:`\infty` for
    :math:`\nu\le1`; ReLU network (``arccos1``) :math:`s_w/\sqrt2` whatever :math:`s_b`; erf network
    (``arcsin_erf``) :math:`\frac{2s_w}{\sqrt\pi}(1+4s_b^2)^{-1/4}`. Parameters default as in the kernels.
    """
    check_in(name, "name", tuple(KERNELS))
    if name in ("gaussian", "rational_quadratic"):
        return 1 / check_positive(params.get("ell", 1.0), "ell")
    if name == "laplace":
        return math.inf
    if name == "matern":
        ell = check_positive(params.get("ell", 1.0), "ell")
        nu = float(params.get("nu", 1.5))
        if math.isinf(nu):
            return 1 / ell
        check_positive(nu, "nu")
        return math.sqrt(nu / (nu - 1)) / ell if nu > 1 else math.inf
    s_w = check_positive(params.get("s_w", 1.0), "s_w")
    s_b = check_positive(params.get("s_b", 0.0), "s_b", allow_zero=True)
    if name == "arccos1":
        return s_w / math.sqrt(2)
    return 2 * s_w / math.sqrt(math.pi) * (1 + 4 * s_b ** 2) ** -0.25


class PairSearch(NamedTuple):
    """Result of :func:`pair_search`: the largest slope d_k(x, y) / |x - y| found and its pair x, y (d,)."""

    lip: float
    x: torch.Tensor
    y: torch.Tensor


def pair_search(kernel: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor], d: int, n_pairs: int = 300_000,
                *, delta: tuple[float, float] = (1e-4, 1.0), radius: float = 2.0,
                generator: torch.Generator | int | None = None, chunk: int = 100_000, **params: float) -> PairSearch:
    r"""Lower estimate of :math:`\mathrm{Lip}(\Phi)=\sup d_k(x,y)/\|x-y\|` from random pairs :math:`(x,x+\delta u)`.

    :math:`x` has a uniform direction and a norm log-uniform in :math:`[10^{-3}r, r]` (r = ``radius``; the network
    kernels' constants are approached near the origin), :math:`u` is a uniform unit vector and :math:`\delta` is
    log-uniform in ``delta``. Below :math:`\delta\approx10^{-4}` float64 cancellation in :math:`d_k` would dominate.

    Parameters
    ----------
    kernel : str or callable
        A name of :data:`harmonia.kernels.KERNELS` (its stable :func:`kernel_distance` is used, with ``params``) or a
        kernel ``k(x, y)`` (..., d) -> (...,) (the three-term distance).
    d, n_pairs : int
        Dimension and number of pairs.
    """
    d = check_int(d, "d")
    n_pairs = check_int(n_pairs, "n_pairs")
    lo, hi = (check_positive(v, "delta") for v in delta)
    if lo > hi:
        raise ValueError(f"delta: expected (low, high) with low <= high, got {delta!r}")
    radius = check_positive(radius, "radius")
    gen = make_generator(generator, name="generator")
    if isinstance(kernel, str):
        check_in(kernel, "kernel", tuple(KERNELS))

        def dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return kernel_distance(kernel, a, b, **params)
    elif callable(kernel):
        def dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return torch.sqrt((kernel(a, a) + kernel(b, b) - 2 * kernel(a, b)).clamp_min(0))
    else:
        raise TypeError(f"kernel: expected a kernel name or a callable k(x, y), got {type(kernel).__name__}")
    best, bx, by = -1.0, None, None
    f64 = torch.float64
    for start in range(0, n_pairs, chunk):
        m = min(chunk, n_pairs - start)
        v = torch.nn.functional.normalize(torch.randn(m, d, generator=gen, dtype=f64), dim=-1)
        r = radius * 10 ** (-3 * torch.rand(m, 1, generator=gen, dtype=f64))
        u = torch.nn.functional.normalize(torch.randn(m, d, generator=gen, dtype=f64), dim=-1)
        dl = torch.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * torch.rand(m, 1, generator=gen, dtype=f64))
        x = r * v
        y = x + dl * u
        s = dist(x, y) / dl[:, 0]
        i = int(torch.argmax(s))
        if float(s[i]) > best:
            best, bx, by = float(s[i]), x[i], y[i]
    return PairSearch(best, bx, by)


def kernel_gram(k: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    r""":math:`\Gamma(x)=\partial_x\partial_yk(x,y)|_{y=x}` by automatic differentiation (double backward):
    x (..., d) -> (..., d, d). ``k`` must be written so that autograd can differentiate it twice at y = x: the library's
    Gaussian, rational-quadratic and erf kernels are; the Matérn, Laplace and ReLU ones (a norm or an angle at 0) give
    NaN there."""
    check_tensor(x, "x", min_ndim=1, dtype="floating")
    with torch.enable_grad():
        xa = x.detach().clone().requires_grad_(True)
        ya = x.detach().clone().requires_grad_(True)
        (gy,) = torch.autograd.grad(k(xa, ya).sum(), ya, create_graph=True)       # (..., d): dk/dy_j per point
        rows = [torch.autograd.grad(gy[..., j].sum(), xa, retain_graph=True)[0] for j in range(x.shape[-1])]
    return torch.stack(rows, dim=-2).detach()                                     # [..., j, i] symmetric


def _sigmoid_prime(t: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(t)
    return s * (1 - s)


def _gelu_prime(t: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(t / math.sqrt(2))) + t * torch.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)


#: derivatives sigma' of the activations known to :func:`gaussian_net_AB`
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": lambda t: (t > 0).to(t.dtype),
    "erf": lambda t: 2 / math.sqrt(math.pi) * torch.exp(-t * t),
    "tanh": lambda t: 1 - torch.tanh(t) ** 2,
    "sigmoid": _sigmoid_prime,
    "gelu": _gelu_prime,
    "sin": torch.cos,
}


@functools.lru_cache(maxsize=1)
def _gauss_rule_np() -> tuple[np.ndarray, np.ndarray]:
    """Nodes g and weights w with sum(w f(g)) ~ E f(g), g ~ N(0, 1): composite 8-point Gauss-Legendre on panels with
    an edge at 0, geometric from 1e-4 to 1 (40 per side) and of width 1/4 from 1 to 12. Built once."""
    inner = np.geomspace(1e-4, 1.0, 41)
    edges = np.concatenate([[0.0], inner, np.arange(1.25, 12.0 + 1e-9, 0.25)])
    x, w = np.polynomial.legendre.leggauss(8)
    lo, hi = edges[:-1, None], edges[1:, None]
    g = (0.5 * (hi - lo) * x + 0.5 * (hi + lo)).ravel()
    wt = (0.5 * (hi - lo) * w).ravel() * np.exp(-0.5 * g * g) / math.sqrt(2 * math.pi)
    return np.concatenate([-g[::-1], g]), np.concatenate([wt[::-1], wt])


def _gauss_rule(dtype: torch.dtype, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    g, wt = _gauss_rule_np()
    return torch.as_tensor(g, dtype=dtype, device=device), torch.as_tensor(wt, dtype=dtype, device=device)


def gaussian_net_AB(activation: str | Callable[[torch.Tensor], torch.Tensor],
                    tau: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    r""":math:`A(\tau)=\mathbb E[\sigma'(\tau g)^2]` and :math:`B(\tau)=\mathbb E[\sigma'(\tau g)^2g^2]`,
    :math:`g\sim\mathcal N(0,1)`. ``activation``: a key of :data:`ACTIVATIONS` or a derivative :math:`\sigma'`.
    tau (...,) -> A, B (...,).

    Composite Gauss-Legendre quadrature against the normal density: panels are geometric near 0, so a derivative
    peaked at width :math:`1/\tau` (erf at large :math:`\tau`) is resolved up to :math:`\tau\approx10^3`, and one
    panel edge sits at 0, so a ReLU's step gives 1/2 and 1/2 to rounding. (Plain 64-node Gauss-Hermite, enough for
    :math:`\tau\lesssim1`, loses digits beyond.) Oscillating derivatives (``sin`` at large :math:`\tau`) need
    more panels.
    """
    act = ACTIVATIONS[check_in(activation, "activation", tuple(ACTIVATIONS))] if isinstance(activation, str) \
        else activation
    if not callable(act):
        raise TypeError(f"activation: expected a name or a callable derivative, got {type(activation).__name__}")
    tau = torch.as_tensor(tau, dtype=torch.float64)
    g, w = _gauss_rule(tau.dtype, tau.device)
    s2 = act(tau[..., None] * g) ** 2
    return (s2 * w).sum(-1), (s2 * g * g * w).sum(-1)


def gaussian_net_lip(activation: str | Callable[[torch.Tensor], torch.Tensor], s_w: float = 1.0, s_b: float = 0.0,
                     n_tau: int = 2000) -> float:
    r""":math:`\mathrm{Lip}(\Phi)` of the two-layer network kernel :math:`\mathbb E[\sigma(w\cdot x+b)\sigma(w\cdot y+b)]`,
    :math:`w\sim\mathcal N(0,s_w^2I_d)`, :math:`b\sim\mathcal N(0,s_b^2)`, :math:`d\ge2`:

    .. math:: \mathrm{Lip}^2=s_w^2\sup_{\tau\ge s_b}\ \max_{0\le\rho^2\le1-s_b^2/\tau^2}
              \big[\rho^2B(\tau)+(1-\rho^2)A(\tau)\big],

    :math:`\tau^2=s_w^2\|x\|^2+s_b^2` and :math:`\rho` the correlation of :math:`w\cdot x+b` with :math:`w\cdot u`.
    The sup runs over :math:`\tau=s_b` and ``n_tau`` log-spaced values up to :math:`10^2` (a lower estimate where the
    sup is approached only as :math:`\tau\to\infty`).
    """
    s_w = check_positive(s_w, "s_w")
    s_b = check_positive(s_b, "s_b", allow_zero=True)
    n_tau = check_int(n_tau, "n_tau", minimum=2)
    taus = torch.cat([torch.tensor([s_b], dtype=torch.float64),
                      torch.logspace(math.log10(max(s_b, 1e-3)), 2, n_tau, dtype=torch.float64)])
    A, B = gaussian_net_AB(activation, taus)
    rho2_max = 1 - s_b ** 2 / torch.where(taus > 0, taus, 1) ** 2
    rho2_max = torch.where(taus > 0, rho2_max, torch.ones_like(taus)).clamp(0, 1)
    best = torch.maximum(A, rho2_max * B + (1 - rho2_max) * A)
    return s_w * math.sqrt(float(best.max()))


def lip_second_moment(W: torch.Tensor) -> torch.Tensor:
    r""":math:`\lambda_{\max}(\frac1N W^\top W)^{1/2}` for W (..., N, d) -> (...,): the exact :math:`\mathrm{Lip}(\theta_N)`
    of paired Fourier features (their :math:`\Gamma_N(x)=\frac1N\sum_i\omega_i\omega_i^\top` for every x), and an
    upper bound for ReLU features."""
    check_tensor(W, "W", min_ndim=2, dtype="float32_64", nonempty=True)
    M = W.transpose(-1, -2) @ W / W.shape[-2]
    return torch.sqrt(torch.linalg.eigvalsh(M)[..., -1].clamp_min(0))


def lip_relu_2d(W: torch.Tensor) -> torch.Tensor:
    r"""Exact :math:`\mathrm{Lip}(\theta_N)` of bias-free ReLU features :math:`N^{-1/2}\mathrm{relu}(w_i\cdot x)` in the
    plane: W (..., N, 2) -> (...,).

    :math:`\Gamma_N(x)=\frac1N\sum_{i:\,w_i\cdot x>0}w_iw_i^\top` depends only on the angle :math:`\phi` of x, and
    changes only where some :math:`w_i` enters (:math:`\phi=\arg w_i-\pi/2`) or leaves (:math:`\arg w_i+\pi/2`) the
    half-plane. Sorting the 2N events and accumulating the signed rank-one terms visits every arc's
    :math:`\Gamma_N` in :math:`O(N\log N)`; the answer is the largest :math:`\lambda_{\max}` over arcs (closed form
    for 2 x 2).
    """
    check_tensor(W, "W", shape=("...", None, 2), dtype="floating")
    N = W.shape[-2]
    alpha = torch.atan2(W[..., 1], W[..., 0])
    outer = torch.stack([W[..., 0] ** 2, W[..., 0] * W[..., 1], W[..., 1] ** 2], dim=-1) / N      # (..., N, 3)
    active0 = torch.cos(alpha) > 0                                                                    # at phi = 0
    G0 = (outer * active0.unsqueeze(-1).to(W.dtype)).sum(-2)                                          # (..., 3)
    two_pi = 2 * math.pi
    ev = torch.cat([torch.remainder(alpha - math.pi / 2, two_pi), torch.remainder(alpha + math.pi / 2, two_pi)], -1)
    sign = torch.cat([torch.ones_like(alpha), -torch.ones_like(alpha)], -1)
    terms = torch.cat([outer, outer], -2) * sign.unsqueeze(-1)                                        # (..., 2N, 3)
    order = torch.argsort(ev, dim=-1)
    terms = torch.gather(terms, -2, order.unsqueeze(-1).expand(*order.shape, 3))
    G = torch.cat([G0.unsqueeze(-2), G0.unsqueeze(-2) + torch.cumsum(terms, dim=-2)], dim=-2)         # (..., 2N+1, 3)
    lam = sym2x2_eigvals(G[..., 0], G[..., 1], G[..., 2])[0]
    return torch.sqrt(lam.max(-1).values.clamp_min(0))


def lip_on_points(rf: RandomFeatures, x: torch.Tensor, chunk: int = 65_536) -> torch.Tensor:
    r""":math:`\max_j\lambda_{\max}(\Gamma_N(x_j))^{1/2}` over the points x (P, d): a lower bound of
    :math:`\mathrm{Lip}(\theta_N)` on any domain that holds them (exact in the limit of a dense grid of a bounded
    domain for smooth features). Returns a 0-dim tensor."""
    if not isinstance(rf, RandomFeatures):
        raise TypeError(f"rf: expected a RandomFeatures, got {type(rf).__name__}")
    check_tensor(x, "x", shape=(None, rf.d), dtype="floating", like=rf.W)
    chunk = check_int(chunk, "chunk")
    best = torch.zeros((), dtype=x.dtype, device=x.device)
    for start in range(0, x.shape[0], chunk):
        best = torch.maximum(best, rf.local_lip(x[start:start + chunk]).max())
    return best


def rkhs_lip_bound(alpha: torch.Tensor, K: torch.Tensor, lip_phi: float) -> torch.Tensor:
    r"""Certificate :math:`\mathrm{Lip}(f)\le\|f\|_{\mathcal H}\,\mathrm{Lip}(\Phi)=\sqrt{\alpha^\top K\alpha}\,
    \mathrm{Lip}(\Phi)` for :math:`f=\sum_i\alpha_ik(x_i,\cdot)`: alpha (n,), K (n, n) -> 0-dim tensor."""
    check_tensor(alpha, "alpha", ndim=1, dtype="float32_64")
    n = alpha.shape[0]
    check_tensor(K, "K", shape=(n, n), dtype=alpha.dtype, like=alpha)
    lip_phi = check_positive(lip_phi, "lip_phi")
    return torch.sqrt((alpha @ K @ alpha).clamp_min(0)) * lip_phi
