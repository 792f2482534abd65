"""Chapter 07 evaluation metrics: isotropic spectrum, kurtosis, foveal phase-harmonic covariance and its
normalised spectral error, maximal normalised cross-correlation."""

from __future__ import annotations

import math

import pytest
import torch

from harmonia import metrics as M
from harmonia.wph import foveal as F
from harmonia.filters.bump import filter_bank_bump_2d
from harmonia.phase_harmonics import phase_harmonic

F64 = torch.float64
SMALL = dict(J=4, L=4, k_max=2, k_min=0, delta=1)  # D = 8*9*(2+3+3+3) + 9 = 801
EPS = dict(J=3, L=2, k_max=2, delta=1, step=4)  # D = 4*9*(2+3+3) + 9 = 297, 64 points per 32x32 image


def _randn(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ---------------------------------------------------------------- radial power spectrum


def test_radial_spectrum_of_white_noise_is_its_variance():
    k, P = M.radial_power_spectrum(2 * _randn(32, 128, 128))  # variance 4
    assert torch.equal(k, torch.arange(65, dtype=F64)) and P.shape == (32, 65)
    Pm = P.mean(dim=0)
    assert torch.all((Pm[2:] - 4).abs() < 0.15 * 4)
    assert abs(float(Pm[1:].mean()) - 4) < 0.02 * 4


def test_radial_spectrum_of_a_cosine_peaks_on_its_annulus():
    n = 64
    u = torch.arange(n, dtype=F64)
    x = torch.cos(2 * math.pi * (3 * u[:, None] + 4 * u[None, :]) / n)
    _, P = M.radial_power_spectrum(x)
    assert int(P.argmax()) == 5
    others = torch.cat([P[:5], P[6:]])
    assert float(others.abs().max()) < 1e-12 * float(P[5])
    # Parseval: both peaks (+-(3, 4)) carry |X|^2/(MN) = MN/4 and lie on annulus 5, so count_5 * P_5 = MN/2
    ky = (torch.arange(n) + n // 2) % n - n // 2
    count5 = int(((ky[:, None] ** 2 + ky[None, :] ** 2).double().sqrt().round() == 5).sum())
    assert math.isclose(count5 * float(P[5]), n * n / 2, rel_tol=1e-12)


def test_radial_spectrum_constant_shift_invariance_and_shapes():
    _, P = M.radial_power_spectrum(torch.full((16, 24), 3.0, dtype=F64))
    assert math.isclose(float(P[0]), 9 * 16 * 24, rel_tol=1e-12) and float(P[1:].abs().max()) < 1e-20
    x = _randn(3, 30, 40, seed=1)
    k, P = M.radial_power_spectrum(x)
    assert k.shape == (16,) and P.shape == (3, 16)
    _, Pr = M.radial_power_spectrum(torch.roll(x, (7, -11), (-2, -1)))
    torch.testing.assert_close(Pr, P, rtol=1e-10, atol=1e-12)
    k32, P32 = M.radial_power_spectrum(x.float())
    assert k32.dtype == P32.dtype == torch.float32


def test_radial_spectrum_bad_inputs():
    with pytest.raises(ValueError, match="^x:"):
        M.radial_power_spectrum(_randn(8))
    with pytest.raises(TypeError, match="^x:"):
        M.radial_power_spectrum(_randn(8, 8).to(torch.complex128))


# ---------------------------------------------------------------- kurtosis


def test_kurtosis_closed_forms(seeded):
    signs = torch.tensor([1.0, -1.0], dtype=F64).repeat(500)[torch.randperm(1000, generator=seeded(0))]
    assert float(M.kurtosis(signs, dims=-1)) == pytest.approx(1.0, abs=1e-12)
    # two values with frequency p: (1 - 3pq) / (pq)
    b = (torch.arange(1000) < 300).to(F64)
    p, q = 0.3, 0.7
    assert float(M.kurtosis(b, dims=-1)) == pytest.approx((1 - 3 * p * q) / (p * q), rel=1e-12)
    uni = torch.rand(400_000, generator=seeded(1), dtype=F64)
    assert float(M.kurtosis(uni, dims=-1)) == pytest.approx(1.8, abs=0.02)
    g = _randn(400, 500, seed=2)
    assert float(M.kurtosis(g)) == pytest.approx(3.0, abs=0.05)
    assert float(M.kurtosis(g, excess=True)) == pytest.approx(float(M.kurtosis(g)) - 3, abs=1e-12)


def test_kurtosis_affine_invariance_batch_and_constant():
    x = torch.exp(_randn(3, 16, 20, seed=3))
    k = M.kurtosis(x)
    assert k.shape == (3,) and bool((k > 3).all())  # log-normal: heavy tails
    torch.testing.assert_close(M.kurtosis(-2.5 * x + 7.0), k, rtol=1e-10, atol=0)
    torch.testing.assert_close(M.kurtosis(x.permute(1, 0, 2), dims=(0, 2)), k, rtol=1e-12, atol=0)
    assert torch.isnan(M.kurtosis(torch.ones(4, 4, dtype=F64)))
    with pytest.raises(ValueError, match="^dims:"):
        M.kurtosis(x, dims=(1, 1))
    with pytest.raises(TypeError, match="^excess:"):
        M.kurtosis(x, excess="yes")
    with pytest.raises(TypeError, match="^x:"):
        M.kurtosis(x.to(torch.complex128))


# ---------------------------------------------------------------- foveal covariance


def test_foveal_feature_dimensions():
    x = _randn(32, 32, seed=4)
    f = F.foveal_features(x, J=5, L=8)  # 2L * 25 offsets * sum_j n_k(j) + 25 = 16*25*(2+3+5+5+5) + 25
    assert f.shape == (4, 8025) and f.dtype == torch.complex128  # step 16: 2x2 grid points
    f = F.foveal_features(x[None].float(), **SMALL)
    assert f.shape == (1, 16, 801) and f.dtype == torch.complex64
    assert F.foveal_features(x, **SMALL, step=4).shape == (64, 801)
    # k_min > 0 drops the moduli and, at j = 0 (k <= 1), keeps only k = 1: 8*9*(1+2+2+2) + 9
    assert F.foveal_features(x, **{**SMALL, "k_min": 1}).shape == (16, 8 * 9 * 7 + 9)


def test_foveal_features_sample_the_phase_harmonics_where_documented():
    x = _randn(2, 32, 32, seed=5)
    f = F.foveal_features(x, **SMALL)  # step 8: grid 4x4, offsets 2**j * (dy, dx)
    bank = filter_bank_bump_2d(32, 32, 4, 4, full_circle=True, dtype=F64)
    b, j, l, k, dy, dx, iy, ix = 1, 1, 5, 2, 1, -1, 1, 3
    z = torch.fft.ifft2(torch.fft.fft2(x[b]) * bank["psi"][j, l])
    want = phase_harmonic(z[(8 * iy + 2 * dy) % 32, (8 * ix + 2 * dx) % 32], k)
    col = 8 * 9 * 2 + l * 3 * 9 + k * 9 + (dy + 1) * 3 + (dx + 1)  # after the j = 0 block (2 harmonics)
    torch.testing.assert_close(f[b, iy * 4 + ix, col], want, rtol=1e-12, atol=1e-14)
    low = torch.fft.ifft2(torch.fft.fft2(x[b]) * bank["phi"]).real
    want = low[(8 * iy - 8) % 32, (8 * ix + 8) % 32]  # low-pass offsets 2**(J-1) * (dy, dx) = (-8, 8)
    torch.testing.assert_close(f[b, iy * 4 + ix, 801 - 9 + 0 * 3 + 2].real, want, rtol=1e-12, atol=1e-14)


def test_foveal_covariance_hermitian_psd_and_shift_invariant():
    x = _randn(3, 32, 32, seed=6)
    K = F.foveal_covariance(x, **SMALL)
    assert K.shape == (801, 801) and K.dtype == torch.complex128
    assert torch.equal(K, K.mH)
    ev = torch.linalg.eigvalsh(K)
    assert float(ev.min()) >= -1e-10 * float(ev.max())
    # direct formula (1/n) sum (f - m)(f - m)^*
    f = F.foveal_features(x, **SMALL).flatten(0, 1)
    fc = f - f.mean(dim=0)
    torch.testing.assert_close(K, fc.T @ fc.conj() / fc.shape[0], rtol=1e-10, atol=1e-12)
    # a roll by a multiple of the grid step permutes the grid points
    Kr = F.foveal_covariance(torch.roll(x, (8, -16), (-2, -1)), **SMALL)
    torch.testing.assert_close(Kr, K, rtol=1e-9, atol=1e-11)


def _cov(x):
    return F.foveal_covariance(x, **EPS)


def test_spectral_rel_error_identities(seeded):
    K1, K2 = _cov(_randn(2, 32, 32, seed=7)), _cov(_randn(2, 32, 32, seed=8))
    assert float(M.spectral_rel_error(K1, K1)) == 0.0
    eps = M.spectral_rel_error(K1, K2)
    assert eps.ndim == 0 and eps.dtype == F64 and float(eps) > 0
    # invariant to scaling the images, and to any positive per-feature scale applied to both matrices
    K1s, K2s = _cov(3 * _randn(2, 32, 32, seed=7)), _cov(3 * _randn(2, 32, 32, seed=8))
    assert float(M.spectral_rel_error(K1s, K2s)) == pytest.approx(float(eps), rel=1e-9)
    s = torch.rand(297, generator=seeded(9), dtype=F64) + 0.1
    S = s[:, None] * s[None, :]
    assert float(M.spectral_rel_error(K1 * S, K2 * S)) == pytest.approx(float(eps), rel=1e-9)


def test_spectral_rel_error_statistics(seeded):
    # two independent Gaussian-noise sets agree better when the sets grow
    eps_small = float(M.spectral_rel_error(_cov(_randn(2, 32, 32, seed=10)), _cov(_randn(2, 32, 32, seed=11))))
    test16 = _cov(_randn(16, 32, 32, seed=12))
    eps_large = float(M.spectral_rel_error(test16, _cov(_randn(16, 32, 32, seed=13))))
    assert eps_large < 0.6 * eps_small
    # sparse spikes (same variance, very different phase-harmonic structure) are farther away
    spikes = torch.zeros(16, 32 * 32, dtype=F64)
    idx = torch.randint(0, 32 * 32, (16, 6), generator=seeded(14))
    spikes.scatter_(1, idx, torch.randn(16, 6, generator=seeded(15), dtype=F64))
    spikes = spikes.reshape(16, 32, 32)
    spikes = spikes / spikes.std()
    eps_spikes = float(M.spectral_rel_error(test16, _cov(spikes)))
    assert eps_spikes > 5 * eps_large


def test_foveal_bad_inputs():
    x = _randn(2, 32, 32)
    with pytest.raises(TypeError, match="^x:"):
        F.foveal_features(x.to(torch.complex128), **SMALL)
    with pytest.raises(ValueError, match="^x:"):
        F.foveal_features(_randn(32), **SMALL)
    with pytest.raises(ValueError, match="^x:"):
        F.foveal_covariance(x[None], **SMALL)
    with pytest.raises(ValueError, match="^J:"):
        F.foveal_features(x, J=6, L=4)
    with pytest.raises(ValueError, match="^delta:"):
        F.foveal_covariance(x, **{**SMALL, "delta": -1})
    with pytest.raises(ValueError, match="^k_min:"):
        F.foveal_features(x, **{**SMALL, "k_min": 3})
    with pytest.raises(ValueError, match="^step:"):
        F.foveal_features(x, **SMALL, step=0)
    with pytest.raises(TypeError, match="^L:"):
        F.foveal_features(x, J=3, L=2.5)


def test_spectral_rel_error_bad_inputs():
    K = torch.eye(4, dtype=torch.complex128)
    with pytest.raises(ValueError, match="^K_test:"):
        M.spectral_rel_error(K[:3], K[:3])
    with pytest.raises(ValueError, match="^K_model:"):
        M.spectral_rel_error(K, torch.eye(5, dtype=F64))
    with pytest.raises(ValueError, match="^K_model:"):
        M.spectral_rel_error(K, K[None])
    Kz = K.clone()
    Kz[2, 2] = 0
    with pytest.raises(ValueError, match="^K_test: .*index 2"):
        M.spectral_rel_error(Kz, K)


# ---------------------------------------------------------------- maximal normalised cross-correlation


def test_max_crosscorr_shifted_and_rescaled_copies():
    x = _randn(3, 20, 24, seed=16)
    y = torch.roll(x, (5, -7), (-2, -1))
    rho = M.max_normalized_crosscorr(x, y)
    assert rho.shape == (3,)
    torch.testing.assert_close(rho, torch.ones(3, dtype=F64), rtol=0, atol=1e-12)
    torch.testing.assert_close(M.max_normalized_crosscorr(x, 2.5 * y - 4.0), torch.ones(3, dtype=F64),
                               rtol=0, atol=1e-12)
    assert bool((M.max_normalized_crosscorr(x, -y) < 0.5).all())  # a < 0 is not a match
    s = _randn(50, seed=17)
    assert float(M.max_normalized_crosscorr(s, torch.roll(s, 9), dims=-1)) == pytest.approx(1.0, abs=1e-12)


def test_max_crosscorr_independent_noise_is_small_and_symmetric():
    x, y = _randn(4, 64, 64, seed=18), _randn(4, 64, 64, seed=19)
    rho = M.max_normalized_crosscorr(x, y)
    assert bool((rho.abs() < 0.2).all()) and bool((rho > 0).all())
    torch.testing.assert_close(M.max_normalized_crosscorr(y, x), rho, rtol=1e-12, atol=1e-14)


def test_max_crosscorr_bad_inputs():
    x = _randn(8, 8)
    with pytest.raises(ValueError, match="^y:"):
        M.max_normalized_crosscorr(x, _randn(8, 9))
    with pytest.raises(TypeError, match="^x:"):
        M.max_normalized_crosscorr(x.to(torch.complex128), x)
    with pytest.raises(ValueError, match="^y:"):
        M.max_normalized_crosscorr(x, torch.ones(8, 8, dtype=F64))
    with pytest.raises(ValueError, match="^dims:"):
        M.max_normalized_crosscorr(x, x, dims=(0, 2))


def test_spectral_error_hermitian_path_equals_the_svd_definition():
    g = torch.Generator().manual_seed(3)
    A = torch.randn(40, 60, dtype=torch.complex128, generator=g)
    B = torch.randn(40, 60, dtype=torch.complex128, generator=g)
    Ka, Kb = A @ A.mH / 60, B @ B.mH / 60
    w = Ka.diagonal().abs().rsqrt()
    s = w[:, None] * w[None, :]
    svd = torch.linalg.matrix_norm((Ka - Kb) * s, ord=2) / torch.linalg.matrix_norm(Ka * s, ord=2)
    torch.testing.assert_close(M.spectral_rel_error(Ka, Kb), svd, rtol=1e-12, atol=0)
    # a non-Hermitian pair goes through the SVD
    C = torch.randn(40, 40, dtype=torch.float64, generator=g) + 10 * torch.eye(40, dtype=torch.float64)
    w = C.diagonal().abs().rsqrt()
    s = w[:, None] * w[None, :]
    svd = torch.linalg.matrix_norm((C - Ka.real) * s, ord=2) / torch.linalg.matrix_norm(C * s, ord=2)
    torch.testing.assert_close(M.spectral_rel_error(C, Ka.real), svd, rtol=1e-12, atol=0)
