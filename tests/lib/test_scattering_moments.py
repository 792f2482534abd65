"""Scattering moments of an image (chapter 09): the moment count (closed form and index table), S0 as the
image mean, S1 and S2 against direct FFT computations with the filter bank, positive homogeneity (and its log
form), translation invariance, positivity on a rendered pattern, gradients (float64 gradcheck w.r.t. the
image and w.r.t. the marks through the renderer; the hand-derived adjoint of S1 w.r.t. the marks), and bad
inputs."""

from __future__ import annotations

import math

import pytest
import torch

from harmonia.filters.morlet2d import filter_bank_2d
from harmonia.pointprocess import poisson, render_gaussian
from harmonia.scattering.moments import ScatteringMoments

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def _module(P, J, L, **kw):
    return ScatteringMoments(P, J, L, **kw).to(F64)


def _image(P, seed, batch=()):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*batch, P, P, generator=g, dtype=F64)


@pytest.mark.parametrize("J,L,D", [(4, 4, 113), (5, 4, 181), (2, 2, 9), (3, 8, 1 + 24 + 3 * 64)])
def test_moment_count_and_index_table(J, L, D):
    op = ScatteringMoments(2 ** (J - 1) * 4, J, L)
    assert op.n_moments == D == 1 + J * L + math.comb(J, 2) * L * L
    table = op.index_table()
    assert len(table) == D and len(set(table)) == D
    assert table[0] == ("S0",)
    assert table[1:1 + J * L] == [("S1", j, l) for j in range(J) for l in range(L)]
    s2 = table[1 + J * L:]
    assert all(r[0] == "S2" and r[3] > r[1] for r in s2)
    assert {(r[1], r[2], r[3], r[4]) for r in s2} == {(j1, l1, j2, l2) for j1 in range(J) for j2 in range(j1 + 1, J)
                                                     for l1 in range(L) for l2 in range(L)}


def test_s0_is_mean_and_s1_s2_match_direct_fft():
    P, J, L = 32, 3, 4
    op = _module(P, J, L)
    x = _image(P, 0, (2,))
    S = op(x)
    assert S.shape == (2, op.n_moments)
    assert torch.equal(S[:, 0], x.mean(dim=(-2, -1)))
    bank = filter_bank_2d(P, P, J, L)
    table = op.index_table()
    psi = {(int(p["j"]), int(p["theta"])): p["levels"][0].to(F64) for p in bank["psi"]}
    for k, row in enumerate(table):
        if row[0] == "S1":
            direct = torch.fft.ifft2(torch.fft.fft2(x) * psi[row[1:]]).abs().mean(dim=(-2, -1))
            assert torch.allclose(S[:, k], direct, rtol=1e-12, atol=0)
        elif row[0] == "S2" and row[1:] in {(0, 1, 2, 3), (1, 0, 2, 2)}:
            u1 = torch.fft.ifft2(torch.fft.fft2(x) * psi[row[1:3]]).abs()
            direct = torch.fft.ifft2(torch.fft.fft2(u1) * psi[row[3:]]).abs().mean(dim=(-2, -1))
            assert torch.allclose(S[:, k], direct, rtol=1e-12, atol=0)


def test_homogeneity_and_log():
    P = 32
    x = _image(P, 1)
    op, oplog = _module(P, 3, 4), _module(P, 3, 4, log=True, eps=0.0)
    for c in (0.01, 3.7, 250.0):
        assert torch.allclose(op(c * x), c * op(x), rtol=1e-12, atol=0)
        assert torch.allclose(oplog(c * x), math.log(c) + oplog(x), rtol=0, atol=1e-11)
    assert torch.allclose(oplog(x), op(x).log(), rtol=0, atol=1e-14)
    # the default eps is a floor, not a bias: log S + eps ~ log S for moments of order 1e-3 and above
    assert torch.allclose(_module(P, 3, 4, log=True)(x), oplog(x), rtol=0, atol=1e-8)
    # degree 1, not 0: the moments of a nonconstant image are not scale-free
    assert not torch.allclose(op(2 * x), op(x))


def test_translation_invariance():
    P = 32
    op = _module(P, 3, 4)
    x = _image(P, 2)
    S = op(x)
    for shift in ((1, 0), (0, 5), (7, 13), (-3, 31)):
        assert torch.allclose(op(torch.roll(x, shift, dims=(0, 1))), S, rtol=1e-10, atol=0)
    # not a trivially invariant statistic: a transpose changes the oriented moments
    assert not torch.allclose(op(x.T.contiguous()), S, rtol=1e-6)


def test_positive_on_rendered_pattern():
    P = 64
    x = poisson(64, 3)
    op = _module(P, 4, 4)
    img = render_gaussian(x, P, 1.0)
    S = op(img)
    assert S.shape == (113,) and bool((S > 0).all())
    assert float(S[0]) == pytest.approx(len(x) / P**2, rel=1e-12)
    assert bool(torch.isfinite(_module(P, 4, 4, log=True)(img)).all())


def test_gradcheck_wrt_image():
    P = 16
    op = _module(P, 2, 2)
    x = _image(P, 4).requires_grad_()
    assert torch.autograd.gradcheck(op, (x,))
    oplog = _module(P, 2, 2, log=True)
    assert torch.autograd.gradcheck(oplog, (x,))


def test_gradcheck_wrt_marks_through_render():
    P = 32
    op = _module(P, 3, 4, log=True)
    g = torch.Generator().manual_seed(5)
    x = torch.rand(20, 2, generator=g, dtype=F64)
    m = (0.5 + torch.rand(20, generator=g, dtype=F64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda w: op(render_gaussian(x, P, 1.0, w)), (m,), eps=1e-6, atol=1e-8,
                                    rtol=1e-6)


def test_s1_mark_gradient_hand_adjoint():
    """Exercise 4: g_z = g_U z/|z|, g_mu = Re(conj(psi_hat) applied to g_z), g_m = G(X)^T g_mu."""
    P, J, L = 32, 3, 4
    op = _module(P, J, L)
    g = torch.Generator().manual_seed(6)
    x = torch.rand(20, 2, generator=g, dtype=F64)
    m = (0.5 + torch.rand(20, generator=g, dtype=F64)).requires_grad_()
    coef = torch.randn(J * L, generator=g, dtype=F64)  # loss = sum_lambda coef_lambda S1(lambda)
    loss = (op(render_gaussian(x, P, 1.0, m))[1:1 + J * L] * coef).sum()
    (auto,) = torch.autograd.grad(loss, m)
    with torch.no_grad():
        mu = render_gaussian(x, P, 1.0, m)
        psi_hat = op.psi_hat
        z = torch.fft.ifft2(torch.fft.fft2(mu) * psi_hat)
        g_z = coef[:, None, None] * z / z.abs() / P**2
        g_mu = torch.fft.ifft2(torch.fft.fft2(g_z) * psi_hat.conj()).real.sum(0)
        G = torch.stack([render_gaussian(x[i:i + 1], P, 1.0) for i in range(len(x))])  # (n, P, P)
        hand = (G * g_mu).sum(dim=(-2, -1))
    assert torch.allclose(auto, hand, rtol=1e-6, atol=1e-12)


def test_bad_inputs():
    op = ScatteringMoments(16, 2, 2)
    with pytest.raises(ValueError, match=r"^img:"):
        op(torch.zeros(16, 16, dtype=F64))
    with pytest.raises(ValueError, match=r"^img:"):
        op(torch.zeros(16, 8))
    with pytest.raises(TypeError, match=r"^img:"):
        op(torch.zeros(16, 16, dtype=torch.int64))
    assert op(torch.ones(3, 16, 16)).shape == (3, op.n_moments)
