"""Phase harmonics and the rectifier as a phase filter: closed forms, identities, Lipschitz bounds,
gradients (float64 gradcheck, finite at 0), Gaussian statistics and bad inputs."""

from __future__ import annotations

import math

import pytest
import torch

from harmonia.phase_harmonics import (
    phase_filter,
    phase_filter_distance_ratio,
    phase_fourier,
    phase_harmonic,
    rectifier_fourier_coeff,
)

C128 = torch.complex128


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def randz(n, gen, dtype=C128):
    return torch.randn(n, generator=gen, dtype=dtype)


def test_relu_coefficients_closed_form():
    got = rectifier_fourier_coeff(torch.arange(0, 9))
    want = [1 / math.pi, 0.25, 1 / (3 * math.pi), 0.0, -1 / (15 * math.pi), 0.0, 1 / (35 * math.pi), 0.0,
            -1 / (63 * math.pi)]
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64), rtol=0, atol=1e-15)
    # even in k, and equal to the numerical Fourier integral of relu(cos)
    k = torch.arange(-12, 13)
    alpha = torch.arange(200_000, dtype=torch.float64) * 2 * math.pi / 200_000
    numeric = (torch.relu(torch.cos(alpha))[None] * torch.cos(k[:, None] * alpha[None])).mean(-1)
    torch.testing.assert_close(rectifier_fourier_coeff(k), numeric, rtol=0, atol=1e-9)


def test_abs_coefficients_lose_odd_harmonics():
    k = torch.arange(-9, 10)
    got = rectifier_fourier_coeff(k, "abs")
    assert torch.all(got[k % 2 == 1] == 0)
    alpha = torch.arange(100_000, dtype=torch.float64) * 2 * math.pi / 100_000
    numeric = (torch.abs(torch.cos(alpha))[None] * torch.cos(k[:, None] * alpha[None])).mean(-1)
    torch.testing.assert_close(got, numeric, rtol=0, atol=1e-9)
    assert float(rectifier_fourier_coeff(0, "abs")) == pytest.approx(2 / math.pi, abs=1e-15)


@pytest.mark.parametrize("rectifier", ["relu", "abs"])
def test_phase_dft_equals_gamma_times_harmonic(gen, rectifier):
    """The rectifier as a filter along the phase (Mallat, Zhang & Rochette 2020): the DFT of rho(Re(e^{-i alpha} z))
    along A = 1024 phases is gamma(k) [z]^k up to aliases O(A^-2)."""
    z = randz(500, gen)
    U = phase_filter(z, 1024, rectifier)
    for k in range(-8, 9):
        want = rectifier_fourier_coeff(k, rectifier) * phase_harmonic(z, k)
        assert (phase_fourier(U, k) - want).abs().max() < 1e-5, k


def test_phase_fourier_tensor_k_matches_int_k(gen):
    U = phase_filter(randz(7, gen), 64)
    ks = torch.tensor([-3, 0, 2, 5])
    got = phase_fourier(U, ks)
    assert got.shape == (7, 4)
    for i, k in enumerate(ks.tolist()):
        torch.testing.assert_close(got[:, i], phase_fourier(U, k))


def test_inversion_from_first_harmonic(gen):
    """z = 4 * (1/2pi) int relu(Re(e^{-i alpha} z)) e^{i alpha} d alpha: the ReLU representation is invertible."""
    z = randz(100, gen)
    torch.testing.assert_close(4 * phase_fourier(phase_filter(z, 4096), 1), z, rtol=0, atol=1e-6)


def test_identities(gen):
    z = randz(1000, gen)
    assert phase_harmonic(z, 1) is z
    torch.testing.assert_close(phase_harmonic(z, 0), z.abs().to(C128))
    torch.testing.assert_close(phase_harmonic(z, -1), z.conj())
    for k in range(2, 7):
        pk = phase_harmonic(z, k)
        torch.testing.assert_close(phase_harmonic(z, -k), pk.conj())
        torch.testing.assert_close(pk.abs(), z.abs())
        torch.testing.assert_close(pk, z**k / z.abs() ** (k - 1))


def test_tensor_k_broadcasts(gen):
    z = randz(5, gen)
    k = torch.tensor([[0], [1], [3]])
    out = phase_harmonic(z, k)
    assert out.shape == (3, 5)
    for i, kk in enumerate([0, 1, 3]):
        torch.testing.assert_close(out[i], phase_harmonic(z, kk))


def test_real_input_is_promoted():
    x = torch.tensor([-2.0, 3.0], dtype=torch.float64)
    torch.testing.assert_close(phase_harmonic(x, 2), torch.tensor([2.0, 3.0], dtype=C128), atol=1e-12, rtol=0)
    torch.testing.assert_close(phase_harmonic(x, 3), torch.tensor([-2.0, 3.0], dtype=C128), atol=1e-12, rtol=0)


@pytest.mark.parametrize("k", [-3, 0, 2, 4])
def test_lipschitz_bound_is_tight(gen, k):
    z1, z2 = randz(100_000, gen), randz(100_000, gen)
    ratio = (phase_harmonic(z1, k) - phase_harmonic(z2, k)).abs() / (z1 - z2).abs()
    bound = max(1, abs(k))
    assert float(ratio.max()) <= bound + 1e-12
    # nearby points attain it: along the phase for k != 0, along the radius for k = 0
    z = randz(100, gen)
    dz = 1e-6 * (1j if k != 0 else 1) * z
    near = (phase_harmonic(z + dz, k) - phase_harmonic(z, k)).abs() / dz.abs()
    assert float(near.max()) == pytest.approx(bound, rel=1e-4)


@pytest.mark.parametrize("k", [-2, 0, 2, 3])
def test_gradcheck_float64(gen, k):
    z = randz(6, gen).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: phase_harmonic(v, k), (z,))


def test_gradcheck_tensor_k(gen):
    z = randz(6, gen).requires_grad_(True)
    k = torch.tensor([0, 1, 2, 3, -1, 5])
    assert torch.autograd.gradcheck(lambda v: phase_harmonic(v, k), (z,))


def test_zero_input_gives_zero_output_and_finite_gradient():
    z = torch.zeros(4, dtype=C128, requires_grad=True)
    out = phase_harmonic(z, 3)
    assert torch.all(out == 0)
    out.abs().sum().backward()
    assert torch.all(torch.isfinite(torch.view_as_real(z.grad)))
    assert torch.all(z.grad == 0)
    # a mixed batch: zeros do not poison the other entries' gradients
    z = torch.tensor([0, 1 + 1j, -2j], dtype=C128, requires_grad=True)
    (phase_harmonic(z, 2).real.sum()).backward()
    assert torch.all(torch.isfinite(torch.view_as_real(z.grad)))


def test_float32_keeps_complex64(gen):
    z = randz(10, gen, torch.complex64)
    assert phase_harmonic(z, 2).dtype == torch.complex64
    assert phase_filter(z, 8).dtype == torch.float32


def test_bi_lipschitz_bounds(gen):
    r = phase_filter_distance_ratio(randz(10_000, gen), randz(10_000, gen), 1024)
    assert float(r.min()) >= 0.125 - 1e-3 and float(r.max()) <= 0.25 + 1e-3
    z = randz(50, gen)
    torch.testing.assert_close(phase_filter_distance_ratio(z, -z), torch.full((50,), 0.125, dtype=torch.float64),
                               rtol=0, atol=1e-3)
    near = phase_filter_distance_ratio(z, z * (1 + 1e-3))
    torch.testing.assert_close(near, torch.full((50,), 0.25, dtype=torch.float64), rtol=0, atol=1e-3)


def test_gaussian_modulus_statistics(gen):
    """Circular complex Gaussian with E|z|^2 = sigma^2: E|z| = sqrt(pi)/2 sigma, Var|z| = (1 - pi/4) sigma^2,
    E[z]^k = 0 for k != 0."""
    sigma = 1.7
    z = sigma * randz(400_000, gen)  # torch.randn complex: E|z|^2 = 1
    r = phase_harmonic(z, 0).real
    assert float(r.mean()) == pytest.approx(math.sqrt(math.pi) / 2 * sigma, rel=0.02)
    assert float(r.var()) == pytest.approx((1 - math.pi / 4) * sigma**2, rel=0.02)
    for k in (1, 2, 3):
        assert float(phase_harmonic(z, k).mean().abs()) < 0.02 * sigma


def test_dirac_fourier_covariance_is_one():
    """For X = delta(. - T0), T0 uniform on Z_N: Cov([X^(w)]^2, X^(2w)) = 1 (exact average over all shifts),
    while a phase-blind pair has zero covariance."""
    N = 32
    X = torch.eye(N, dtype=torch.float64)  # all N shifted Diracs
    Xh = torch.fft.fft(X, dim=-1)
    w = 3
    a, b = phase_harmonic(Xh[:, w], 2), Xh[:, 2 * w]
    cov = (a * b.conj()).mean() - a.mean() * b.mean().conj()
    assert abs(complex(cov) - 1) < 1e-12
    c = Xh[:, w + 1]
    cov2 = (a * c.conj()).mean() - a.mean() * c.mean().conj()
    assert abs(complex(cov2)) < 1e-12


def test_bad_inputs():
    z = torch.ones(3, dtype=C128)
    with pytest.raises(TypeError, match="z"):
        phase_harmonic(torch.ones(3, dtype=torch.long), 2)
    with pytest.raises(TypeError, match="k"):
        phase_harmonic(z, 1.5)
    with pytest.raises(TypeError, match="k"):
        phase_harmonic(z, torch.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="k"):
        phase_harmonic(z, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="z"):
        phase_harmonic(torch.tensor([float("nan")], dtype=C128), 2)
    with pytest.raises(ValueError, match="n_alpha"):
        phase_filter(z, 0)
    with pytest.raises(ValueError, match="rectifier"):
        phase_filter(z, 8, "tanh")
    with pytest.raises(TypeError, match="z"):
        phase_filter(torch.ones(3), 8)
    with pytest.raises(ValueError, match="z2"):
        phase_filter_distance_ratio(z, z.clone())
    with pytest.raises(ValueError, match="z2"):
        phase_filter_distance_ratio(z, torch.ones(4, dtype=C128))
    with pytest.raises(ValueError, match="rectifier"):
        rectifier_fourier_coeff(2, "sigmoid")
    with pytest.raises(TypeError, match="k"):
        rectifier_fourier_coeff(2.0)
