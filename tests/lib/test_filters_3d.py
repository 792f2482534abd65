"""Solid harmonic wavelets (harmonia.filters.solid_harmonics): spherical harmonics, the Fourier filters
and the filter bank of HarmonicScattering3D (chapter 05)."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest
import scipy.special
import torch

from harmonia.filters import solid_harmonics as sh
from harmonia.filters.solid_harmonics import (
    solid_harmonic_3d_hat,
    solid_harmonic_constant,
    solid_harmonic_filter_bank,
    sph_harm,
)

ORDERS = [(l, m) for l in range(5) for m in range(-l, l + 1)]


pytestmark = pytest.mark.usefixtures("one_thread")  # many small tensors: one thread is faster


def _random_angles(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, np.pi, n), rng.uniform(-np.pi, np.pi, n)


# --------------------------------------------------------------------------------------------------
# spherical harmonics
# --------------------------------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(scipy.special, "sph_harm_y"), reason="needs SciPy >= 1.15 (sph_harm_y)")
def test_sph_harm_equals_scipy_sph_harm_y_and_the_naive_alias_differs():
    polar, azimuth = _random_angles()
    for l, m in ORDERS:
        ours = sph_harm(l, m, polar, azimuth).numpy()
        np.testing.assert_allclose(ours, scipy.special.sph_harm_y(l, m, polar, azimuth), rtol=0, atol=1e-13)
    # `sph_harm = sph_harm_y` keeps the legacy call sph_harm(m, l, azimuth, polar): both pairs swapped
    naive = scipy.special.sph_harm_y(1, 2, azimuth, polar)  # legacy order for (l, m) = (2, 1)
    assert np.abs(naive - sph_harm(2, 1, polar, azimuth).numpy()).max() > 0.1
    naive = scipy.special.sph_harm_y(2, 2, azimuth, polar)  # (l, m) = (2, 2): still wrong (angles swapped)
    assert np.abs(naive - sph_harm(2, 2, polar, azimuth).numpy()).max() > 0.1


@pytest.mark.skipif(not hasattr(scipy.special, "sph_harm_y"), reason="needs SciPy >= 1.15 (sph_harm_y)")
def test_sph_harm_legacy_scipy_code_path(monkeypatch):
    """With an old SciPy (only sph_harm(m, l, azimuth, polar)) the wrapper gives the same values."""

    def legacy_sph_harm(m, n, theta, phi):  # SciPy < 1.15 signature: order, degree, azimuth, polar
        return scipy.special.sph_harm_y(n, m, phi, theta)

    polar, azimuth = _random_angles(seed=1)
    new = [sph_harm(l, m, polar, azimuth) for l, m in ORDERS]
    monkeypatch.setattr(sh, "_special", types.SimpleNamespace(sph_harm=legacy_sph_harm))
    for (l, m), expected in zip(ORDERS, new):
        torch.testing.assert_close(sph_harm(l, m, polar, azimuth), expected, rtol=0, atol=1e-14)


def test_sph_harm_orthonormal_on_a_quadrature_grid():
    # Gauss-Legendre in cos(theta) x uniform azimuth: exact for the products of degree <= 8 below
    nodes, weights = np.polynomial.legendre.leggauss(10)
    n_phi = 20
    polar = torch.from_numpy(np.arccos(nodes))[:, None].expand(-1, n_phi)
    azimuth = torch.linspace(0, 2 * math.pi, n_phi + 1, dtype=torch.float64)[:-1][None, :].expand(10, -1)
    w = torch.from_numpy(weights)[:, None].expand(-1, n_phi) * (2 * math.pi / n_phi)
    Y = torch.stack([sph_harm(l, m, polar, azimuth).flatten() for l, m in ORDERS])  # (25, points)
    gram = (Y * w.flatten()) @ Y.conj().T
    torch.testing.assert_close(gram, torch.eye(len(ORDERS), dtype=torch.complex128), rtol=0, atol=1e-12)


def test_sph_harm_conjugate_symmetry_and_tensor_in_tensor_out():
    polar, azimuth = (torch.from_numpy(a) for a in _random_angles(seed=2))
    for l, m in ORDERS:
        out = sph_harm(l, m, polar, azimuth)
        assert isinstance(out, torch.Tensor) and out.dtype == torch.complex128 and out.shape == polar.shape
        torch.testing.assert_close(sph_harm(l, -m, polar, azimuth), (-1) ** m * out.conj(), rtol=0, atol=1e-13)


def test_sph_harm_bad_arguments():
    with pytest.raises(ValueError, match="^m:"):
        sph_harm(1, 2, 0.3, 0.1)
    with pytest.raises(ValueError, match="^l:"):
        sph_harm(-1, 0, 0.3, 0.1)
    with pytest.raises(TypeError, match="^m:"):
        sph_harm(2, 0.5, 0.3, 0.1)


# --------------------------------------------------------------------------------------------------
# filters
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sigma", [1.0, 2.0, 4.0])
def test_l0_filter_is_a_unit_mass_gaussian(sigma):
    g_hat = solid_harmonic_3d_hat(16, 16, 16, sigma, 0)
    assert g_hat.shape == (1, 16, 16, 16) and g_hat.dtype == torch.complex128
    assert g_hat[0, 0, 0, 0] == 1  # hat(0) = 1: unit mass
    assert torch.all(g_hat.imag == 0)
    w = torch.fft.fftfreq(16, dtype=torch.float64) * 2 * math.pi
    expected = torch.exp(-0.5 * sigma**2 * (w[:, None, None] ** 2 + w[None, :, None] ** 2 + w[None, None, :] ** 2))
    torch.testing.assert_close(g_hat[0].real, expected, rtol=1e-12, atol=0)
    g = torch.fft.ifftn(g_hat[0])
    assert abs(g.real.sum().item() - 1) < 1e-12 and g.imag.abs().max() < 1e-15


def test_filters_are_the_fourier_transform_of_spatial_solid_harmonic_wavelets():
    """Hecke-Bochner: the inverse FFT of hat(psi) is c_l sigma^-3 (r/sigma)^l exp(-r^2/2sigma^2) Y_l^m,
    with the same (reflected) angles; this checks the (-i)^l factor and the (2 pi)^(3/2)."""
    n, sigma = 32, 2.0  # large enough sigma: no aliasing in Fourier; large grid: no periodisation in space
    coord = torch.fft.fftfreq(n, dtype=torch.float64) * n
    z, y, x = torch.meshgrid(coord, coord, coord, indexing="ij")
    r = torch.sqrt(x**2 + y**2 + z**2)
    azimuth = torch.atan2(y, x)
    polar = torch.atan2(z, torch.sqrt(x**2 + y**2)) + math.pi / 2
    radial = torch.exp(-(r**2) / (2 * sigma**2)) / sigma**3
    psi = torch.fft.ifftn(solid_harmonic_3d_hat(n, n, n, sigma, 0), dim=(-3, -2, -1))[0]
    torch.testing.assert_close(psi.real, radial / (2 * math.pi) ** 1.5, rtol=0, atol=1e-10 * radial.max())
    for l in (1, 2, 3):
        psi = torch.fft.ifftn(solid_harmonic_3d_hat(n, n, n, sigma, l), dim=(-3, -2, -1))
        for i, m in enumerate(range(-l, l + 1)):
            ref = solid_harmonic_constant(l) * (r / sigma) ** l * radial * sph_harm(l, m, polar, azimuth)
            assert (psi[i] - ref).abs().max() < 1e-6 * ref.abs().max(), (l, m)


def test_wavelets_of_degree_at_least_one_have_zero_mean_and_rotation_invariant_energy():
    w_hat = solid_harmonic_3d_hat(12, 12, 12, 1.5, 2)
    assert w_hat.shape == (5, 12, 12, 12)
    assert w_hat[:, 0, 0, 0].abs().max() == 0  # zero mean: (sigma |omega|)^l vanishes at 0
    # sum_m |hat psi_m|^2 is radial (addition theorem): equal on grid points of equal |omega|
    energy = w_hat.abs().square().sum(0)
    torch.testing.assert_close(energy, energy.permute(2, 0, 1), rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(energy, energy.flip(0).roll(1, 0), rtol=1e-12, atol=1e-15)


def test_odd_grid_sizes_put_the_zero_frequency_at_index_0():
    g_hat = solid_harmonic_3d_hat(5, 7, 9, 1.0, 0)[0]
    assert g_hat[0, 0, 0] == 1 and g_hat.real.max() == 1
    # FFT order: index k and index n - k hold frequencies of equal magnitude
    torch.testing.assert_close(g_hat, g_hat.flip(0).roll(1, 0), rtol=0, atol=0)


def test_filter_bank_layout():
    bank = solid_harmonic_filter_bank(8, 10, 12, J=2, L=3, sigma_0=0.8)
    assert [tuple(b.shape) for b in bank] == [(3, 2 * l + 1, 8, 10, 12) for l in range(4)]
    for l in range(4):
        for j in range(3):
            torch.testing.assert_close(bank[l][j], solid_harmonic_3d_hat(8, 10, 12, 0.8 * 2**j, l), rtol=0, atol=0)
    lowest = solid_harmonic_filter_bank(8, 10, 12, J=2, L=3, sigma_0=0.8, orders="lowest", dtype=torch.complex64)
    for l in range(4):
        assert lowest[l].shape == (3, 1, 8, 10, 12) and lowest[l].dtype == torch.complex64
        torch.testing.assert_close(lowest[l][:, 0], bank[l][:, 0].to(torch.complex64), rtol=0, atol=0)


def test_constants():
    # c_0 (2 pi)^(3/2) Y_0^0 = 1: the general formula also gives the plain Gaussian at l = 0
    assert solid_harmonic_constant(0) * (2 * math.pi) ** 1.5 / math.sqrt(4 * math.pi) == pytest.approx(1, abs=1e-15)
    assert solid_harmonic_constant(1) == pytest.approx(1 / (4 * math.sqrt(3 * math.pi)), rel=1e-15)
    assert solid_harmonic_constant(2) == pytest.approx(1 / (2 * math.pi * math.sqrt(2.5) * 3), rel=1e-15)
    assert solid_harmonic_constant(3) == pytest.approx(1 / (2**3 * math.sqrt(7 * math.pi) * 2), rel=1e-15)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: solid_harmonic_3d_hat(0, 8, 8, 1.0, 1), "M"),
        (lambda: solid_harmonic_3d_hat(8, 8, 8, 0.0, 1), "sigma"),
        (lambda: solid_harmonic_3d_hat(8, 8, 8, 1.0, -1), "l"),
        (lambda: solid_harmonic_filter_bank(8, 8, 8, -1, 2), "J"),
        (lambda: solid_harmonic_filter_bank(8, 8, 8, 1, 2, sigma_0=-1.0), "sigma_0"),
        (lambda: solid_harmonic_filter_bank(8, 8, 8, 1, 2, orders="some"), "orders"),
        (lambda: solid_harmonic_filter_bank(8, 8, 8, 1, 2, dtype=torch.float32), "dtype"),
    ],
)
def test_filter_bad_arguments(call, name):
    with pytest.raises((ValueError, TypeError), match=f"^{name}:"):
        call()
