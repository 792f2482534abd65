"""Reconstruction metrics: exact recovery of circular shifts, PSNR and relative-error identities."""

from __future__ import annotations

import math

import pytest
import torch

from harmonia import metrics as M

F64 = torch.float64


def _randn(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_align_circular_recovers_a_1d_shift():
    x0 = _randn(50)
    aligned, shifts = M.align_circular(torch.roll(x0, 7), x0)
    assert torch.equal(aligned, x0) and shifts.dtype == torch.int64 and shifts.tolist() == [43]


def test_align_circular_recovers_2d_shifts_of_a_batch():
    x0 = _randn(3, 12, 20, seed=1)
    k = [(1, 3), (5, 0), (11, 19)]
    x = torch.stack([torch.roll(x0[i], k[i], (-2, -1)) for i in range(3)])
    aligned, shifts = M.align_circular(x, x0, (-2, -1))
    assert torch.equal(aligned, x0)
    assert shifts.tolist() == [[(-a) % 12, (-b) % 20] for a, b in k]
    # the aligned signal is roll(x, s*), and the shifted dims need not be the last ones
    assert torch.equal(torch.roll(x[2], tuple(shifts[2].tolist()), (0, 1)), x0[2])
    aligned_t, shifts_t = M.align_circular(x.permute(1, 2, 0), x0.permute(1, 2, 0), (0, 1))
    assert torch.equal(aligned_t, x0.permute(1, 2, 0)) and torch.equal(shifts_t, shifts)


def test_align_circular_minimises_the_distance():
    x, x0 = _randn(4, 24, seed=2), _randn(4, 24, seed=3)
    aligned, shifts = M.align_circular(x, x0)
    brute = torch.stack([(torch.roll(x, s, -1) - x0).norm(dim=-1) for s in range(24)], dim=-1)
    assert torch.equal(shifts[:, 0], brute.argmin(dim=-1))
    assert torch.allclose((aligned - x0).norm(dim=-1), brute.min(dim=-1).values, atol=1e-12, rtol=0)


def test_relative_error_aligned_of_a_shifted_signal_is_zero():
    x0 = _randn(2, 32, seed=4)
    err = M.relative_error_aligned(torch.roll(x0, 9, -1), x0)
    assert err.shape == (2,) and float(err.abs().max()) <= 1e-12
    assert float(M.relative_error(torch.roll(x0, 9, -1), x0).min()) > 0.5


def test_relative_error_is_scale_covariant_and_psnr_of_an_offset():
    x, x0 = _randn(16, 16, seed=5), _randn(16, 16, seed=6)
    e = M.relative_error(x, x0, (-2, -1))
    assert e.shape == () and float(e) == pytest.approx(float((x - x0).norm() / x0.norm()), rel=1e-14)
    assert float(M.relative_error(3.5 * x, 3.5 * x0, (-2, -1))) == pytest.approx(float(e), rel=1e-12)
    for c in (0.01, 0.3, 2.0):
        assert abs(float(M.psnr(x0 + c, x0, dims=(-2, -1))) + 20 * math.log10(c)) < 1e-10
        assert abs(float(M.psnr_aligned(x0 + c, x0, dims=(-2, -1))) + 20 * math.log10(c)) < 1e-10
    assert abs(float(M.psnr(x0 + 0.5, x0, peak=255.0, dims=(-2, -1))) - 20 * math.log10(510)) < 1e-10
    assert float(M.psnr(x0, x0, dims=(-2, -1))) == math.inf


def test_psnr_aligned_is_at_least_psnr():
    x, x0 = _randn(20, 8, 8, seed=7), _randn(20, 8, 8, seed=8)
    plain, aligned = M.psnr(x, x0, dims=(-2, -1)), M.psnr_aligned(x, x0, dims=(-2, -1))
    assert aligned.shape == (20,) and bool((aligned >= plain - 1e-12).all()) and bool((aligned > plain).any())


def test_bad_inputs():
    x = _randn(4, 8)
    with pytest.raises(ValueError, match="^x0: expected the shape of x"):
        M.psnr(x, x[:, :7])
    with pytest.raises(ValueError, match="^dims: expected distinct dimensions"):
        M.relative_error(x, x, dims=(2,))
    with pytest.raises(ValueError, match="^dims: expected distinct dimensions"):
        M.align_circular(x, x, dims=(1, -1))
    with pytest.raises(ValueError, match="^peak: "):
        M.psnr(x, x, peak=0.0)
    with pytest.raises(ValueError, match="^peak: "):
        M.psnr_aligned(x, x, peak=-1.0)
    with pytest.raises(ValueError, match="^x: expected finite values"):
        M.relative_error(torch.full((8,), float("nan"), dtype=F64), x[0])
    with pytest.raises(ValueError, match="^x0: expected a nonzero reference"):
        M.relative_error(x, torch.zeros_like(x))
    with pytest.raises(TypeError, match="^x: expected a floating dtype"):
        M.align_circular(torch.zeros(8, dtype=torch.int64), x[0])
