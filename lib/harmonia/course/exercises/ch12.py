"""Exercises of chapter 12 (simultaneous min-max algorithms on Riemannian manifolds)."""

from __future__ import annotations

import torch

from harmonia.course.exercises import Exercise, register
from harmonia.manifolds import Sphere, Stiefel

F64 = torch.float64


def sphere_proj(z: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Reference of 12.1: :math:`P_z v=v-(z^\\top v)z` on the unit sphere (batched over leading dims)."""
    return Sphere(z.shape[-1]).proj(z, v)


def sphere_rhess(z: torch.Tensor, egrad: torch.Tensor, ehess_u: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Reference of 12.2: the Riemannian Hessian-vector product on the sphere from Euclidean derivatives."""
    return Sphere(z.shape[-1]).ehess2rhess(z, egrad, ehess_u, u)


def qr_retraction(X: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """Reference of 12.3: the Q factor of :math:`X+V` with a positive diagonal of R."""
    return Stiefel(*X.shape, retraction="qr").retr(X, V)


def _sphere_points(gen: torch.Generator, m: int, batch: int = 5):
    z = torch.randn(batch, m, generator=gen, dtype=F64)
    return z / z.norm(dim=-1, keepdim=True)


def _proj_cases(gen: torch.Generator):
    return [((_sphere_points(gen, m), torch.randn(5, m, generator=gen, dtype=F64)), {}) for m in (2, 3, 7)]


def _rhess_cases(gen: torch.Generator):
    cases = []
    for m in (2, 4):
        z = _sphere_points(gen, m)
        u = Sphere(m).proj(z, torch.randn(5, m, generator=gen, dtype=F64))
        cases.append(((z, torch.randn(5, m, generator=gen, dtype=F64), torch.randn(5, m, generator=gen, dtype=F64), u), {}))
    return cases


def _qr_cases(gen: torch.Generator):
    cases = []
    for n, p in ((4, 2), (5, 5), (6, 3)):
        St = Stiefel(n, p)
        X = St.random(gen)
        V = St.proj(X, 0.3 * torch.randn(n, p, generator=gen, dtype=F64))
        cases.append(((X, V), {}))
        cases.append(((X, torch.zeros_like(X)), {}))
    return cases


register(Exercise(
    id="12.1", title="tangent projection on the sphere", reference=sphere_proj, cases=_proj_cases,
    level="easy", hints=(
        "The tangent space at z is the set of vectors orthogonal to z: which component of v must go?",
        "remove the component along z: v - (z . v) z, with the dot product over the last dimension (keepdim)"),
    rtol=1e-12, atol=1e-12,
))
register(Exercise(
    id="12.2", title="the Riemannian Hessian on the sphere", reference=sphere_rhess, cases=_rhess_cases,
    level="medium", hints=(
        "Differentiate the Riemannian gradient P_z grad f along a curve on the sphere and project: which term "
        "comes from the projection P_z changing with z?",
        "d/dt [g - (z.g) z] = H u - (u.g) z - (z.H u) z - (z.g) u; projecting onto T_z kills the terms along z",
        "Hess f(z)[u] = P_z(ehess_u) - (z . egrad) u"),
    rtol=1e-12, atol=1e-12,
))
register(Exercise(
    id="12.3", title="the QR retraction and its sign fix", reference=qr_retraction, cases=_qr_cases,
    level="medium", hints=(
        "torch.linalg.qr returns some Q with X + V = Q R; what freedom is left in that factorisation, and why "
        "must R_X(0) = X hold?",
        "Q R = (Q D)(D R) for any diagonal D of signs: choose D so that diag(D R) > 0",
        "Q, R = torch.linalg.qr(X + V); s = sign(diag(R)); return Q * s (column scaling)"),
    rtol=1e-10, atol=1e-12,
))
