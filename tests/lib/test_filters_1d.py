"""1D Morlet filter bank: kymatio 0.3.0 constants, filter normalisation, padding rule, LP sum."""

from __future__ import annotations

import math

import pytest
import torch

from harmonia.filters import morlet1d as M
from harmonia.filters.littlewood_paley import littlewood_paley_sum

F64 = torch.float64


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------
def test_xi_max_and_width_rule():
    assert M.xi_max(1) == M.xi_max(2) == M.xi_max(3) == 0.35
    assert M.xi_max(8) == pytest.approx(0.4353809, abs=1e-7)
    assert M.xi_max(4) == pytest.approx(1 / (1 + 2 ** 0.75), abs=1e-15)
    assert M.sigma_from_xi(0.35, 1) == pytest.approx(0.1401310, abs=1e-7)
    # Q = 1: sigma / xi = (1 - 1/2) / (1 + 1/2) / sqrt(2 ln sqrt 2) = 1 / (3 sqrt(ln 2)) = 0.4003741
    assert M.sigma_from_xi(1.0, 1) == pytest.approx(0.4003741, abs=1e-7)
    # the rule is the half-power crossing: adjacent Gaussians meet at r_psi
    for Q in (1, 2, 8, 16):
        xi = 0.3
        s1, s2 = M.sigma_from_xi(xi, Q), M.sigma_from_xi(xi / 2 ** (1 / Q), Q)
        # crossing point f between xi2 and xi where (f - xi2)/s2 = (xi - f)/s1
        xi2 = xi / 2 ** (1 / Q)
        f = (xi * s2 + xi2 * s1) / (s1 + s2)
        assert math.exp(-((f - xi) ** 2) / (2 * s1**2)) == pytest.approx(math.sqrt(0.5), rel=1e-12)


@pytest.mark.parametrize(
    "J, Q, n",
    [(6, 8, 38), (8, 1, 9), (6, 16, 63), (3, 1, 4), (6, 1, 7)],
)
def test_filter_counts(J, Q, n):
    p = M.morlet_1d_params(J, Q)
    assert len(p["xi"]) == len(p["sigma"]) == len(p["j"]) == n
    assert all(a > b for a, b in zip(p["xi"], p["xi"][1:]))  # decreasing centre frequencies
    assert all(a <= b for a, b in zip(p["j"], p["j"][1:]))


def test_j_list_and_constant_bandwidth_tail():
    p = M.morlet_1d_params(8, 1)
    assert p["j"] == [0, 0, 0, 1, 2, 3, 4, 5, 6]
    assert M.morlet_1d_params(6, 8)["sigma"][-7:] == [0.1 / 2**6] * 7  # Q - 1 constant-bandwidth filters
    assert len(M.morlet_1d_params(6, 1)["xi"]) == 7
    assert M.max_dyadic_subsampling(0.35, 0.14) == 0  # xi + 5 sigma > 1/2 -> no subsampling


def test_parameter_errors_name_the_argument():
    with pytest.raises(ValueError, match="^Q: expected an int >= 1"):
        M.morlet_1d_params(4, 0)
    with pytest.raises(TypeError, match="^Q: expected"):
        M.morlet_1d_params(4, 1.5)
    with pytest.raises(ValueError, match="^J: expected a non-negative int"):
        M.morlet_1d_params(-1, 1)
    with pytest.raises(ValueError, match="^r_psi: expected a number in"):
        M.sigma_from_xi(0.3, 1, r_psi=1.5)
    with pytest.raises(ValueError, match="^sigma: expected a positive number"):
        M.gauss_1d_hat(64, 0.0)


# ---------------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("xi, sigma", [(0.35, 0.1401310), (0.05, 0.002), (0.4353809, 0.0227), (0.01, 0.0015)])
def test_morlet_zero_mean_and_unit_l1(xi, sigma):
    psi = M.morlet_1d_hat(512, xi, sigma)
    assert psi.dtype == F64 and psi.shape == (512,)
    assert abs(float(psi[0])) < 1e-12
    assert float(torch.fft.ifft(psi).abs().sum()) == pytest.approx(1.0, abs=1e-12)
    peak = int(psi.abs().argmax())
    assert abs(peak / 512 - xi) <= 1 / 512 + 0.02  # peaks near xi (slightly shifted by kappa)


def test_gauss_low_pass():
    phi = M.gauss_1d_hat(1024, 0.1 / 64)
    assert float(phi[0]) == pytest.approx(1.0, abs=1e-12)
    assert float(torch.fft.ifft(phi).real.min()) > -1e-12  # a positive window
    assert torch.allclose(phi[1:], phi[1:].flip(0), atol=1e-15)  # even


def test_q1_peak_and_periodisation_by_averaging():
    # L1 normalisation puts the peak close to 1 (0.9996 for Q=1)
    psi = M.morlet_1d_hat(4096, 0.35, M.sigma_from_xi(0.35, 1))
    assert float(psi.max()) == pytest.approx(0.9996, abs=5e-4)
    # direct evaluation of kymatio 0.3.0's definition (periodised Gabor minus kappa times the periodised low-pass,
    # L1-normalised in time) for every bin
    N, xi, sigma = 64, 0.3, 0.2
    P = min(math.ceil(math.sqrt(-2 * sigma**2 * math.log(1e-7)) + 1), 5)
    gab = [sum(math.exp(-((k / N + p - xi) ** 2) / (2 * sigma**2)) for p in range(1 - P, P)) / (2 * P - 1) for k in range(N)]
    low = [sum(math.exp(-((k / N + p) ** 2) / (2 * sigma**2)) for p in range(1 - P, P)) / (2 * P - 1) for k in range(N)]
    h = torch.tensor(gab, dtype=F64) - gab[0] / low[0] * torch.tensor(low, dtype=F64)
    h = h / torch.fft.ifft(h).abs().sum()
    assert torch.allclose(M.morlet_1d_hat(N, xi, sigma), h, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# Padding and the bank
# ---------------------------------------------------------------------------------------------
def test_padding_examples():
    assert M.compute_padding(1024, 6) == (2048, 512, 512)
    assert M.compute_padding(64, 3)[0] == 128
    N_pad, left, right = M.compute_padding(1000, 5, T=20)
    assert N_pad == 2048 and left + right == 1048 and max(left, right) < 1000
    assert M.temporal_support(M.gauss_1d_hat(1024, 0.1 / 64)) < 512


def test_filter_bank_levels():
    bank = M.filter_bank_1d(2048, 6, 8)
    assert len(bank["psi1"]) == 38 and len(bank["psi2"]) == 7
    assert all(len(f["levels"]) == 1 for f in bank["psi1"])
    j1 = [f["j"] for f in bank["psi1"]]
    for f in bank["psi2"]:
        parents = [j for j in j1 if j < f["j"]]
        assert len(f["levels"]) == (max(parents) if parents else 0) + 1
        for k, level in enumerate(f["levels"]):
            assert level.shape == (2048 // 2**k,) and level.dtype == F64
    phi = bank["phi"]
    assert phi["j"] == 6 and phi["sigma"] == pytest.approx(0.1 / 64)
    assert len(phi["levels"]) == min(max(j1 + [f["j"] for f in bank["psi2"]]), 6) + 1
    # level k is the DFT of the filter sampled every 2^k samples
    h = torch.fft.ifft(phi["levels"][0])
    assert torch.allclose(phi["levels"][3].to(torch.complex128), torch.fft.fft(h[::8]), atol=1e-13)


def test_filter_bank_q_pair():
    bank = M.filter_bank_1d(4096, 6, (8, 2))
    assert len(bank["psi1"]) == len(M.morlet_1d_params(6, 8)["xi"])
    assert [f["xi"] for f in bank["psi2"]] == M.morlet_1d_params(6, 2)["xi"]


def test_littlewood_paley_sum_bounded():
    N = 2048
    bank = M.filter_bank_1d(N, 8, 1)
    psi = torch.stack([f["levels"][0] for f in bank["psi1"]])
    lp = littlewood_paley_sum(psi)
    f = torch.fft.fftfreq(N, dtype=F64)
    band = (f > 0.01) & (f < 0.45)
    assert float(lp[band].max()) <= 1.25
    assert float(lp[band].min()) >= 0.5
    # analytic: little at negative frequencies (away from the wrap-around of the first filter)
    assert float(lp[(f > -0.25) & (f < -0.02)].max()) < 0.01
