"""harmonia.linalg: the closed-form eigenvalues of symmetric 2 x 2 matrices against torch.linalg.eigvalsh, the
isotropic and diagonal limits, and the eps shift."""

from __future__ import annotations

import torch

from harmonia.config import make_generator
from harmonia.linalg import sym2x2_eigvals


def test_against_eigvalsh_on_a_batch():
    g = make_generator(0)
    a, b, d = (torch.randn(3, 50, generator=g, dtype=torch.float64) for _ in range(3))
    lam1, lam2 = sym2x2_eigvals(a, b, d)
    M = torch.stack([torch.stack([a, b], -1), torch.stack([b, d], -1)], -2)
    ref = torch.linalg.eigvalsh(M)
    torch.testing.assert_close(lam1, ref[..., 1], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(lam2, ref[..., 0], rtol=1e-12, atol=1e-12)
    assert bool((lam1 >= lam2).all())


def test_limits_and_eps():
    a = torch.tensor([2.0, 5.0], dtype=torch.float64)
    lam1, lam2 = sym2x2_eigvals(a, torch.zeros(2, dtype=torch.float64), torch.tensor([2.0, -1.0], dtype=torch.float64))
    assert lam1.tolist() == [2.0, 5.0] and lam2.tolist() == [2.0, -1.0]       # isotropic, diagonal
    one = torch.ones(1, dtype=torch.float64)
    l1, l2 = sym2x2_eigvals(one, 0 * one, one, eps=1e-6)                      # eps splits an isotropic pair by 2e-3
    assert abs(float(l1 - l2) - 2e-3) < 1e-12
