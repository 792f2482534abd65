"""harmonia.manifolds.Orthogonal's transform-learning moves (chapter 13): the polar projection (the SVD's U V^T and
the nearest orthogonal matrix), the exponential left update e^{tE} Phi (orthogonal, a one-parameter group, velocity
E Phi), Givens rotations as matrices and as in-place row updates, their argument errors; and ``skew``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from harmonia.manifolds import Orthogonal, skew, sym

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def _orth_err(Phi):
    n = Phi.shape[-1]
    return float((Phi.transpose(-1, -2) @ Phi - torch.eye(n, dtype=F64)).abs().max())


def _skew(n, g):
    A = torch.randn(n, n, generator=g, dtype=F64)
    return A - A.T


def test_skew_and_sym_split_a_matrix(seeded):
    A = torch.randn(3, 5, 5, generator=seeded(0), dtype=F64)
    assert torch.allclose(skew(A), -skew(A).transpose(-1, -2), atol=0)
    assert torch.allclose(skew(A) + sym(A), A, atol=1e-15)
    assert torch.allclose(skew(A)[1], 0.5 * (A[1] - A[1].T), atol=0)


def test_polar_is_the_orthogonal_factor_of_the_svd(seeded):
    g = seeded(1)
    A = torch.randn(6, 6, generator=g, dtype=F64)
    U, _, Vt = np.linalg.svd(A.numpy())
    Q = Orthogonal.polar(A)
    assert np.allclose(Q.numpy(), U @ Vt, rtol=0, atol=1e-12)
    assert _orth_err(Q) < 1e-13
    # A = Q P with P symmetric positive definite
    P = Q.T @ A
    assert torch.allclose(P, P.T, atol=1e-12) and float(torch.linalg.eigvalsh(sym(P)).min()) > 0
    # the nearest orthogonal matrix in Frobenius norm
    best = float(torch.linalg.matrix_norm(A - Q))
    for _ in range(20):
        R = Orthogonal(6).random(g)
        assert float(torch.linalg.matrix_norm(A - R)) > best
    for E in (1e-3 * _skew(6, g), 1e-3 * _skew(6, g)):
        assert float(torch.linalg.matrix_norm(A - torch.linalg.matrix_exp(E) @ Q)) > best
    # batched
    B = torch.randn(4, 3, 3, generator=g, dtype=F64)
    assert torch.allclose(Orthogonal.polar(B)[2], Orthogonal.polar(B[2]), atol=1e-13)


def test_polar_of_an_orthogonal_matrix_is_itself(seeded):
    g = seeded(2)
    for n in (2, 5, 8):
        Q = Orthogonal(n).random(g)
        assert torch.allclose(Orthogonal.polar(Q), Q, rtol=0, atol=1e-12)
        Q[0] = -Q[0]                                            # det -1: still in O(n), still fixed
        assert torch.allclose(Orthogonal.polar(Q), Q, rtol=0, atol=1e-12)


def test_polar_rejects_a_non_square_matrix_naming_A():
    with pytest.raises(ValueError, match="^A: "):
        Orthogonal.polar(torch.randn(3, 4, dtype=F64))


def test_retr_expm_stays_orthogonal_with_velocity_E_phi(seeded):
    g = seeded(3)
    n = 6
    Phi = Orthogonal(n).random(g)
    E = _skew(n, g)
    for t in (0.0, 1e-3, 1.0, 10.0):
        assert _orth_err(Orthogonal.retr_expm(Phi, E, t)) < 1e-12
    assert torch.allclose(Orthogonal.retr_expm(Phi, E, 0.0), Phi, atol=0)
    assert torch.allclose(Orthogonal.retr_expm(Phi, E, 0.7), Orthogonal.retr_expm(Phi, 0.7 * E), atol=1e-14)
    # a one-parameter group acting on the left
    two_steps = Orthogonal.retr_expm(Orthogonal.retr_expm(Phi, E, 0.3), E, 0.4)
    assert torch.allclose(two_steps, Orthogonal.retr_expm(Phi, E, 0.7), atol=1e-12)
    # derivative at 0 is E Phi (autograd and central differences)
    t = torch.zeros((), dtype=F64, requires_grad=True)
    out = Orthogonal.retr_expm(Phi, E, t)
    W = torch.randn(n, n, generator=g, dtype=F64)
    (d,) = torch.autograd.grad((out * W).sum(), t)
    assert abs(float(d) - float((E @ Phi * W).sum())) < 1e-10
    h = 1e-6
    fd = (Orthogonal.retr_expm(Phi, E, h) - Orthogonal.retr_expm(Phi, E, -h)) / (2 * h)
    assert torch.allclose(fd, E @ Phi, atol=1e-7)
    assert not torch.allclose(fd, Phi @ E, atol=1e-3)            # left, not right, multiplication


@pytest.mark.parametrize(("p", "q"), [(0, 3), (4, 1), (2, 3)])
def test_givens_matches_rotate_rows(seeded, p, q):
    g = seeded(4)
    n = 5
    Phi = torch.randn(n, 7, generator=g, dtype=F64)
    theta = 0.83
    G = Orthogonal.givens(n, p, q, theta)
    assert _orth_err(G) < 1e-15 and abs(float(torch.linalg.det(G)) - 1) < 1e-14
    c, s = math.cos(theta), math.sin(theta)
    assert (float(G[p, p]), float(G[p, q]), float(G[q, p]), float(G[q, q])) == pytest.approx((c, s, -s, c), abs=1e-15)
    ref = Phi.clone()
    R = Orthogonal.rotate_rows(Phi, p, q, c, s)
    assert torch.equal(Phi, ref)                                 # returns a new tensor
    assert torch.allclose(R, G @ Phi, rtol=0, atol=1e-14)
    assert torch.allclose(R[p], c * Phi[p] + s * Phi[q], atol=1e-15)
    assert torch.allclose(R[q], -s * Phi[p] + c * Phi[q], atol=1e-15)
    others = [k for k in range(n) if k not in (p, q)]
    assert torch.equal(R[others], Phi[others])
    # tensor angles and cos/sin, and a batch of matrices
    th = torch.tensor(theta, dtype=F64)
    assert torch.allclose(Orthogonal.givens(n, p, q, th), G, atol=0)
    batch = torch.randn(3, n, 4, generator=g, dtype=F64)
    Rb = Orthogonal.rotate_rows(batch, p, q, torch.cos(th), torch.sin(th))
    assert torch.allclose(Rb, G @ batch, rtol=0, atol=1e-14)
    # the inverse rotation undoes it
    assert torch.allclose(Orthogonal.rotate_rows(R, p, q, c, -s), Phi, atol=1e-14)


def test_rotate_rows_preserves_orthogonality(seeded):
    g = seeded(5)
    n = 6
    Phi = Orthogonal(n).random(g)
    for _ in range(200):
        p, q = torch.randperm(n, generator=g)[:2].tolist()
        th = 2 * math.pi * float(torch.rand((), generator=g, dtype=F64))
        Phi = Orthogonal.rotate_rows(Phi, p, q, math.cos(th), math.sin(th))
    assert _orth_err(Phi) < 1e-13
    # without c^2 + s^2 = 1 it is not a rotation
    assert _orth_err(Orthogonal.rotate_rows(Phi, 0, 1, 1.0, 0.5)) > 0.1


def test_givens_bad_indices_name_p_and_q():
    with pytest.raises(ValueError, match="p, q"):
        Orthogonal.givens(4, 2, 2, 0.1)
    with pytest.raises(ValueError, match="p, q"):
        Orthogonal.givens(4, 0, 4, 0.1)
    with pytest.raises(ValueError, match="p, q"):
        Orthogonal.givens(4, -1, 2, 0.1)
