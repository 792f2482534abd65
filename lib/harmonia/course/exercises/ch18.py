"""Exercises of chapter 18 (Lipschitz bounds of kernel feature maps)."""

from __future__ import annotations

import math

import torch

from harmonia.course.exercises import Exercise, register
from harmonia.kernels import closed_form_lip, kernel_distance

F64 = torch.float64


def gaussian_distance(x: torch.Tensor, y: torch.Tensor, ell: float) -> torch.Tensor:
    """Reference of 18.1: the Gaussian kernel's distance d_k(x, y) (n,) for x, y (n, d), accurate for close points."""
    return kernel_distance("gaussian", x, y, ell=ell)


def matern_lip(nu: float, ell: float) -> float:
    """Reference of 18.2: Lip of the Matérn-nu feature map (inf when nu <= 1)."""
    return closed_form_lip("matern", nu=nu, ell=ell)


def erf_net_lip(s_w: float, s_b: float) -> float:
    """Reference of 18.3: Lip of the erf network kernel's feature map."""
    return closed_form_lip("arcsin_erf", s_w=s_w, s_b=s_b)


def _distance_cases(gen: torch.Generator):
    out = []
    for n, d, scale in ((6, 2, 1.0), (5, 3, 1e-3), (4, 2, 1e-9)):
        x = torch.randn(n, d, generator=gen, dtype=F64)
        y = x + scale * torch.randn(n, d, generator=gen, dtype=F64)
        ell = 0.3 + 2 * float(torch.rand(1, generator=gen, dtype=F64))
        out.append(((x, y, ell), {}))
    return out


def _matern_cases(gen: torch.Generator):
    u = torch.rand(6, generator=gen, dtype=F64)
    nus = [0.3 + 0.6 * float(u[0]), 1.2 + 3.0 * float(u[1]), 2.5, 1.0 + 0.05 * float(u[2])]
    return [((nu, 0.4 + 2 * float(u[3 + k % 3])), {}) for k, nu in enumerate(nus)]


def _erf_cases(gen: torch.Generator):
    u = torch.rand(6, generator=gen, dtype=F64)
    return [((0.5 + 2 * float(u[0]), 0.0), {}), ((0.5 + 2 * float(u[1]), 0.1 + 1.5 * float(u[2])), {}),
            ((1.0, 0.2 + float(u[3])), {})]


register(Exercise(
    id="18.1", title="the Gaussian kernel distance, accurate for close points", reference=gaussian_distance,
    cases=_distance_cases, level="easy", hints=(
        "k(x, x) = 1 for the Gaussian kernel, so d_k^2 = 2 (1 - k(x, y)); for close points 1 - k(x, y) is a "
        "difference of two nearly equal numbers.",
        "1 - exp(-t) = -expm1(-t) is computed without cancellation by torch.expm1",
        "r2 = ((x - y) ** 2).sum(-1); return torch.sqrt(-2 * torch.expm1(-r2 / (2 * ell ** 2)))"),
    rtol=1e-9, atol=0,
))
register(Exercise(
    id="18.2", title="the Matérn constant from its spectral law", reference=matern_lip, cases=_matern_cases,
    level="easy", hints=(
        "Lip(Phi)^2 is the largest eigenvalue of E[omega omega^T]; omega = z / (ell sqrt(u / (2 nu))) with z standard "
        "normal and u a chi-square with 2 nu degrees of freedom, independent.",
        "E[omega_1^2] = E[z_1^2] E[2 nu / u] / ell^2, and E[1 / u] = 1 / (k - 2) for a chi-square with k > 2 degrees "
        "of freedom (infinite for k <= 2)",
        "Lip = sqrt(nu / (nu - 1)) / ell for nu > 1, math.inf otherwise"),
    rtol=1e-9, atol=0,
))
register(Exercise(
    id="18.3", title="the erf network's constant", reference=erf_net_lip, cases=_erf_cases,
    level="medium", hints=(
        "erf'(t) = 2 / sqrt(pi) exp(-t^2); compute A(tau) = E[erf'(tau g)^2] and B(tau) = E[erf'(tau g)^2 g^2] with "
        "the Gaussian integral E[exp(-c g^2)] = (1 + 2c)^(-1/2).",
        "A = 4/pi (1 + 4 tau^2)^(-1/2) and B = 4/pi (1 + 4 tau^2)^(-3/2) <= A, so take rho = 0 and the smallest "
        "feasible tau",
        "the smallest tau is s_b: Lip^2 = s_w^2 A(s_b), i.e. Lip = 2 s_w / sqrt(pi) * (1 + 4 s_b^2) ** -0.25"),
    rtol=1e-9, atol=0,
))
