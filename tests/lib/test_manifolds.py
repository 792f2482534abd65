"""harmonia.manifolds: projection and retraction identities, tangent bases, Riemannian Hessians against finite
differences along retraction curves (and geoopt where installed)."""

from __future__ import annotations

import pytest
import torch

from harmonia.manifolds import Euclidean, Orthogonal, Sphere, Stiefel

F64 = torch.float64
MANIFOLDS = [Euclidean(3), Sphere(4), Stiefel(5, 2), Stiefel(4, 2, "polar"), Stiefel(4, 3, "cayley"), Orthogonal(3)]


def _gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("M", MANIFOLDS, ids=lambda m: f"{type(m).__name__}{m.shape}{getattr(m, 'retraction', '')}")
def test_projection_and_retraction_identities(M):
    g = _gen(0)
    z = M.random(g)
    assert M.check(z, 1e-12)
    w = torch.randn(M.shape, generator=g, dtype=F64)
    v = M.proj(z, w)
    assert torch.allclose(M.proj(z, v), v, atol=1e-12)                             # idempotent
    w2 = torch.randn(M.shape, generator=g, dtype=F64)
    assert abs(float((M.proj(z, w) * w2).sum() - (w * M.proj(z, w2)).sum())) < 1e-12   # self-adjoint
    assert M.check(M.retr(z, v), 1e-12) and torch.allclose(M.retr(z, 0 * v), z, atol=1e-12)
    h = 1e-6
    velocity = (M.retr(z, h * v) - M.retr(z, -h * v)) / (2 * h)
    assert torch.allclose(velocity, v, atol=1e-8)                                   # first-order agreement
    B = M.tangent_basis(z)
    assert B.shape[0] == M.dim
    assert torch.allclose(torch.einsum("i...,j...->ij", B, B), torch.eye(M.dim, dtype=F64), atol=1e-12)
    assert torch.allclose(torch.stack([M.proj(z, b) for b in B]), B, atol=1e-12)


def test_dimensions():
    assert (Sphere(4).dim, Stiefel(5, 2).dim, Orthogonal(4).dim, Euclidean(2, 3).dim) == (3, 7, 6, 6)


def test_sphere_retraction_agrees_with_the_exponential_map_to_second_order():
    S = Sphere(3)
    z = S.random(_gen(1))
    v = S.proj(z, torch.randn(3, generator=_gen(2), dtype=F64))
    v = v / v.norm()
    for t in (1e-2, 5e-3):
        exp = torch.cos(torch.tensor(t, dtype=F64)) * z + torch.sin(torch.tensor(t, dtype=F64)) * v
        assert float((S.retr(z, t * v) - exp).norm()) < 2 * t**3


def test_qr_retraction_is_continuous_and_fixes_signs():
    St = Stiefel(4, 2)
    X = St.random(_gen(3))
    V = St.proj(X, torch.randn(4, 2, generator=_gen(4), dtype=F64))
    Q = St.retr(X, V)
    R = Q.T @ (X + V)                                   # X + V = Q R with R upper triangular, positive diagonal
    assert torch.allclose(torch.tril(R, -1), torch.zeros_like(R), atol=1e-12) and bool((R.diagonal() > 0).all())
    steps = [St.retr(X, t * V) for t in torch.linspace(0, 1e-3, 11).tolist()]
    assert max(float((a - b).norm()) for a, b in zip(steps, steps[1:])) < 1e-3


@pytest.mark.parametrize("M", [Sphere(3), Stiefel(4, 2)], ids=["sphere", "stiefel"])
def test_riemannian_hessian_matches_second_derivatives_along_retraction_curves(M):
    """At a critical point of f on M, <u, Hess f[u]> = d²/dt² f(R_z(t u)) at 0 (any retraction)."""
    g = _gen(5)
    z = M.random(g)
    N = z.numel()
    Q = torch.randn(N, N, generator=g, dtype=F64)
    Q = Q + Q.T
    lin = torch.randn(N, generator=g, dtype=F64)
    # make z critical: remove the tangent part of the gradient by choosing the linear term
    grad_quad = (Q @ z.flatten())
    c = -M.proj(z, (grad_quad + lin).reshape(M.shape)).flatten() + lin
    f = lambda w: 0.5 * w.flatten() @ Q @ w.flatten() + c @ w.flatten()  # noqa: E731
    egrad = (Q @ z.flatten() + c).reshape(M.shape)
    assert float(M.proj(z, egrad).norm()) < 1e-10
    for _ in range(3):
        u = M.proj(z, torch.randn(M.shape, generator=g, dtype=F64))
        rh = M.ehess2rhess(z, egrad, (Q @ u.flatten()).reshape(M.shape), u)
        h = 1e-4
        fd = (f(M.retr(z, h * u)) - 2 * f(z) + f(M.retr(z, -h * u))) / h**2
        assert float((rh * u).sum()) == pytest.approx(float(fd), rel=1e-5, abs=1e-6)


def test_against_geoopt_where_installed():
    geoopt = pytest.importorskip("geoopt")
    St = Stiefel(5, 3)
    X = St.random(_gen(6))
    G = torch.randn(5, 3, generator=_gen(7), dtype=F64)
    ref = geoopt.Stiefel().egrad2rgrad(X, G)
    # geoopt's canonical metric differs; compare the projection for the Euclidean metric instead
    assert torch.allclose(geoopt.EuclideanStiefel().proju(X, G), St.proj(X, G), atol=1e-12)
    assert ref.shape == G.shape


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="p"):
        Stiefel(2, 3)
    with pytest.raises(ValueError, match="retraction"):
        Stiefel(4, 2, "exp")
    with pytest.raises(ValueError, match="m"):
        Sphere(1)


@pytest.mark.parametrize("retraction", ["qr", "polar", "cayley"])
def test_hessian_blocks_do_not_depend_on_the_retraction(retraction):
    """At a critical point the pull-back Hessian is the Riemannian Hessian, whatever the retraction (the polar
    one is twice differentiable at V = 0 thanks to its Newton-Schulz inverse square root)."""
    from harmonia.games import hessian_blocks

    St = Stiefel(4, 2, retraction=retraction)
    E = torch.eye(4, 2, dtype=F64)
    f = lambda xs, ys: (xs[0] ** 2).sum() + 2.0 * (E * ys[0]).sum() + xs[0][0] * ys[0][2, 0]  # noqa: E731
    A, B, C, gnorm, _ = hessian_blocks(f, torch.zeros(2, dtype=F64), E, Euclidean(2), St)
    assert gnorm < 1e-12 and bool(torch.isfinite(C).all())
    assert torch.allclose(torch.linalg.eigvalsh(C), torch.full((5,), -2.0, dtype=F64), atol=1e-10)
    assert torch.allclose(A, 2 * torch.eye(2, dtype=F64), atol=1e-10)
