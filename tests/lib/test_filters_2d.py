"""2D Morlet filters (kymatio 0.3.0 definitions): constants, symmetries, peak location, bank layout,
Littlewood-Paley bounds, padding rule and agreement with kymatio's own filter bank."""

from __future__ import annotations

import math

import pytest
import torch

from harmonia.scattering.peers import import_kymatio
from harmonia.filters.littlewood_paley import littlewood_paley_sum
from harmonia.filters.morlet2d import (
    PI_KYMATIO,
    compute_padding_2d,
    filter_bank_2d,
    filter_params_2d,
    gabor_2d,
    morlet_2d,
)

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")  # many small tensors: one thread is faster


@pytest.fixture(scope="module")
def bank_64():
    return filter_bank_2d(64, 64, 3, 8)


def test_gaussian_mass_is_pi_over_3_1415():
    """sum_u gab_{sigma,theta,0,s}(u) = (2 pi sigma^2 / s) * s / (2 * 3.1415 sigma^2) = pi / 3.1415,
    whatever sigma, theta and the slant: the origin of phi_hat(0) = 1.0000295."""
    for sigma, theta, slant in [(1.6, 0.0, 1.0), (2.0, 0.7, 0.5), (3.2, -1.2, 0.25)]:
        g = gabor_2d(48, 40, sigma, theta, 0.0, slant)
        assert g.dtype == torch.complex64 and g.shape == (48, 40)
        assert abs(complex(g.sum()) - math.pi / PI_KYMATIO) < 2e-6
    assert abs(math.pi / PI_KYMATIO - 1.0000295) < 1e-7


def test_phi_hat_at_zero_is_1_0000295(bank_64):
    phi0 = bank_64["phi"][0]
    assert phi0.dtype == torch.float32 and phi0.shape == (64, 64)
    assert abs(float(phi0[0, 0]) - 1.0000295) < 1e-6
    assert float(phi0.max()) == float(phi0[0, 0])  # a low-pass: maximal at omega = 0
    for r, level in enumerate(bank_64["phi"]):  # crops keep the DC value (sum of tiles, no averaging)
        assert level.shape == (64 >> r, 64 >> r) and abs(float(level[0, 0]) - 1.0000295) < 1e-6


def test_morlet_has_zero_mean_real_spectrum_and_hermitian_symmetry():
    psi = morlet_2d(40, 40, 1.6, 3 * math.pi / 8, 3 * math.pi / 8, 0.5)
    assert abs(complex(psi.sum())) < 1e-6
    flipped = torch.roll(torch.flip(psi, (0, 1)), (1, 1), (0, 1))  # psi(-u)
    assert torch.allclose(flipped, psi.conj(), atol=1e-7)  # psi(-u) = conj psi(u)
    spectrum = torch.fft.fft2(psi)
    assert float(spectrum.imag.abs().max()) < 1e-5 * float(spectrum.real.abs().max())


def test_wavelets_are_real_band_pass_with_zero_dc(bank_64):
    for p in bank_64["psi"]:
        level0 = p["levels"][0]
        assert level0.dtype == torch.float32 and not level0.is_complex()
        assert abs(float(level0[0, 0])) < 1e-6 * float(level0.abs().max())


def test_peak_of_j0_t0_on_40x40_is_at_0_94_2_20_radians():
    bank = filter_bank_2d(40, 40, 1, 8)
    p = bank["psi"][0]
    assert (p["j"], p["theta"]) == (0, 0) and abs(p["angle"] - 3 * math.pi / 8) < 1e-12
    hat = p["levels"][0]
    k1, k2 = divmod(int(hat.argmax()), 40)
    w1, w2 = 2 * math.pi * k1 / 40, 2 * math.pi * k2 / 40
    assert abs(w1 - 0.94) < 0.01 and abs(w2 - 2.20) < 0.01
    assert abs(math.hypot(w1, w2) - 3 * math.pi / 4) < 2 * math.pi / 40  # |omega| ~ xi_0
    assert abs(math.atan2(w2, w1) - 3 * math.pi / 8) < 0.1  # angle from axis 0 ~ theta_0


def test_parameters_and_angle_convention():
    params = filter_params_2d(2, 8)
    assert [p["j"] for p in params] == [0] * 8 + [1] * 8
    angles = [p["angle"] for p in params[:8]]
    assert angles == pytest.approx([(3 - t) * math.pi / 8 for t in range(8)])  # 3pi/8 ... -pi/2
    assert params[9]["sigma"] == pytest.approx(1.6) and params[9]["xi"] == pytest.approx(3 * math.pi / 8)
    assert params[0]["slant"] == 0.5
    assert filter_params_2d(1, 4)[0]["angle"] == pytest.approx(math.pi / 4)
    assert filter_params_2d(1, 1)[0]["angle"] == 0.0  # int() truncation, as kymatio


@pytest.mark.parametrize("J, L", [(1, 4), (3, 8), (4, 2)])
def test_bank_levels(J, L):
    M, N = compute_padding_2d(2**J + 3, 2**J * 2, J)
    bank = filter_bank_2d(M, N, J, L)
    assert len(bank["phi"]) == J and len(bank["psi"]) == J * L
    for n, p in enumerate(bank["psi"]):
        assert (p["j"], p["theta"]) == divmod(n, L)
        assert len(p["levels"]) == min(p["j"] + 1, max(J - 1, 1))
        assert [tuple(h.shape) for h in p["levels"]] == [(M >> r, N >> r) for r in range(len(p["levels"]))]


def test_littlewood_paley_bounds(bank_64):
    """ScatNet/kymatio's 2D bank is a frame but not a tight one. For real signals the wavelets of one
    half-plane act on both +omega and -omega, so the relevant sum is
    0.5 sum_lambda (|psi_lambda(omega)|^2 + |psi_lambda(-omega)|^2) + |phi(omega)|^2.
    Measured on 64x64, J=3, L=8: max 1.0136 (near 1: non-expansive up to 1.4 %), min 0.348 on the disc
    |omega| <= pi, 0.123 at the corners (|omega| -> pi sqrt 2, beyond the finest wavelet)."""
    psi = torch.stack([p["levels"][0] for p in bank_64["psi"]]).to(F64)
    phi = bank_64["phi"][0].to(F64)
    one_sided = littlewood_paley_sum(psi)
    assert 1.9 < float(one_sided.max()) < 2.05  # one half-plane carries the energy of both

    def at_minus_omega(t):
        return torch.roll(torch.flip(t, (-2, -1)), (1, 1), (-2, -1))

    lp = 0.5 * (one_sided + at_minus_omega(one_sided)) + phi**2
    w = 2 * math.pi * torch.fft.fftfreq(64, dtype=F64)
    disc = (w[:, None] ** 2 + w[None, :] ** 2) <= math.pi**2
    assert 1.0 < float(lp.max()) < 1.02
    assert 0.33 < float(lp[disc].min()) < 0.36
    assert 0.12 < float(lp.min()) < 0.13
    assert float(lp[0, 0]) == pytest.approx(1.0000295**2, rel=1e-5)  # only phi at omega = 0


def test_compute_padding_2d():
    assert compute_padding_2d(32, 32, 2) == (40, 40)
    assert compute_padding_2d(37, 45, 2) == (44, 52)
    assert compute_padding_2d(256, 256, 4) == (288, 288)
    for M, N, J in [(17, 33, 3), (8, 8, 3), (100, 7, 1)]:
        Mp, Np = compute_padding_2d(M, N, J)
        assert Mp % 2**J == 0 and Np % 2**J == 0
        assert Mp - M >= 2**J and Np - N >= 2**J  # at least 2^J samples of padding


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="^M, N: expected multiples of 2\\*\\*\\(J-1\\)"):
        filter_bank_2d(30, 32, 3)
    with pytest.raises(ValueError, match="^J: expected a positive int"):
        filter_bank_2d(32, 32, 0)
    with pytest.raises(ValueError, match="^L: expected a positive int"):
        filter_bank_2d(32, 32, 2, L=0)
    with pytest.raises(ValueError, match="^sigma: expected a positive number"):
        gabor_2d(8, 8, -1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="^theta: expected a finite number"):
        morlet_2d(8, 8, 1.0, float("nan"), 1.0)
    with pytest.raises(TypeError, match="^M: expected a positive int"):
        compute_padding_2d(32.0, 32, 2)


def test_agrees_with_kymatio_filter_bank():
    if import_kymatio() is None:
        pytest.skip("kymatio not installed (bench extra)")
    from kymatio.scattering2d.filter_bank import filter_bank as kymatio_filter_bank

    M, N, J, L = 32, 48, 3, 4
    theirs = kymatio_filter_bank(M, N, J, L)
    ours = filter_bank_2d(M, N, J, L)
    for a, b in zip(theirs["phi"]["levels"], ours["phi"]):
        a = torch.from_numpy(a)
        assert float((a - b).abs().max()) <= 3e-7 * float(a.abs().max())
    for p, q in zip(theirs["psi"], ours["psi"]):
        assert (p["j"], p["theta"]) == (q["j"], q["theta"]) and len(p["levels"]) == len(q["levels"])
        for a, b in zip(p["levels"], q["levels"]):
            a = torch.from_numpy(a)
            assert float((a - b).abs().max()) <= 5e-7 * float(a.abs().max())
