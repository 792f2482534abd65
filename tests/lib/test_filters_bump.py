"""2D bump steerable wavelets and the Gaussian low-pass (pywph definitions): constant, peak, support,
half-plane, axis and rotation conventions, periodisation, Littlewood-Paley band, low-pass width,
bank layout, dtype and argument validation."""

from __future__ import annotations

import math

import pytest
import torch

from harmonia.filters.bump import (
    XI0,
    bump_constant,
    bump_steerable_2d_hat,
    filter_bank_bump_2d,
    gaussian_2d_hat,
    lowpass_sigma,
)
from harmonia.filters.littlewood_paley import littlewood_paley_sum

F64 = torch.float64


def _grid(M, N):
    """(omega_y, omega_x) as (M, N) float64 grids: omega_y along axis 0, omega_x along axis 1."""
    wy = 2 * math.pi * torch.fft.fftfreq(M, dtype=F64)
    wx = 2 * math.pi * torch.fft.fftfreq(N, dtype=F64)
    return torch.meshgrid(wy, wx, indexing="ij")


def _minus(t):
    """t(-omega) for a spectrum t in FFT order (index k -> -k mod n on both axes)."""
    return torch.roll(torch.flip(t, (-2, -1)), (1, 1), (-2, -1))


def test_bump_constant_values_and_formula():
    assert bump_constant(4) == pytest.approx(0.69335, abs=5e-6)
    assert bump_constant(8) == pytest.approx(0.59883, abs=5e-6)
    for L in range(1, 13):
        direct = 2 ** (L - 1) * math.factorial(L - 1) / (1.29 * math.sqrt(L * math.factorial(2 * L - 2)))
        assert bump_constant(L) == pytest.approx(direct, rel=1e-12)
    assert bump_constant(1) == pytest.approx(1 / 1.29, rel=1e-14)


@pytest.mark.parametrize("L", [4, 8])
def test_peak_value_and_location(L):
    """On 256x256 the grid maximum is within one grid step (per coordinate) of
    (xi_j cos theta, xi_j sin theta) = (omega_x, omega_y), i.e. (column, row), and its value is c_L
    up to the curvature over that step (measured <= 2e-3 relative for j <= 3); never above c_L."""
    N, step, c = 256, 2 * math.pi / 256, bump_constant(L)
    w = 2 * math.pi * torch.fft.fftfreq(N, dtype=F64)
    for j in range(4):
        xi = XI0 / 2**j
        for theta in [0.0, math.pi / 8, 3 * math.pi / 4, 5 * math.pi / 4, 11 * math.pi / 8]:
            psi = bump_steerable_2d_hat(N, N, j, theta, L)
            row, col = divmod(int(psi.argmax()), N)
            wrap = lambda d: (d + math.pi) % (2 * math.pi) - math.pi  # noqa: E731
            assert abs(wrap(float(w[col]) - xi * math.cos(theta))) <= step
            assert abs(wrap(float(w[row]) - xi * math.sin(theta))) <= step
            assert c * (1 - 3e-3) <= float(psi.max()) <= c * (1 + 1e-12)


def test_nonnegative_and_exactly_zero_on_the_opposite_half_plane():
    M, N = 48, 40
    wy, wx = _grid(M, N)
    for j in (1, 2):
        for theta in [0.0, 0.3, math.pi / 2, 2.0, 5 * math.pi / 4]:
            psi = bump_steerable_2d_hat(M, N, j, theta, 8)
            assert psi.dtype == F64 and psi.shape == (M, N)
            assert float(psi.min()) >= 0.0
            cos_gap = torch.cos(torch.atan2(wy, wx) - theta)  # independent of the module's dot product
            opposite = cos_gap < -1e-9
            assert int(opposite.sum()) > M * N // 3
            assert bool((psi[opposite] == 0).all())
            assert float(psi[cos_gap > 0.5].max()) > 0.1  # not zero everywhere


def test_radial_support_is_inside_the_annulus():
    M, N = 64, 72
    wy, wx = _grid(M, N)
    r = torch.sqrt(wx**2 + wy**2)
    cos_gap = torch.cos(torch.atan2(wy, wx) - 1.1)
    for j in (1, 2, 3):
        xi = XI0 / 2**j
        psi = bump_steerable_2d_hat(M, N, j, 1.1, 4)
        nonzero = psi != 0
        assert bool((r[nonzero] > 0).all()) and bool((r[nonzero] < 2 * xi).all())
        assert float(r[nonzero].max()) > 1.8 * xi  # reaches near the edge of the annulus
        inside = ((r - xi).abs() < 0.95 * xi) & (cos_gap > 0.05)
        assert bool((psi[inside] > 0).all())


def test_quarter_turn_is_a_transpose_with_axis_1_as_omega_x():
    """theta + pi/2 rotates the filter: psi_{theta+pi/2}(wx, wy) = psi_theta(wy, -wx), i.e. in arrays
    B[r, c] = A[-c mod N, r] = A.T[r, -c]. For theta = 0 (even in omega_y) this is the transpose.
    Equal up to the rounding of cos(pi/2) != 0 (1e-14); the wrong index maps are far off."""
    N = 48
    neg = (-torch.arange(N)) % N
    for j in (0, 2):
        a0, a1 = (bump_steerable_2d_hat(N, N, j, th, 8) for th in (0.0, math.pi / 2))
        assert float((a1 - a0.T).abs().max()) < 1e-14
        a, b = (bump_steerable_2d_hat(N, N, j, th, 8) for th in (math.pi / 8, 5 * math.pi / 8))
        assert float((b - a.T[:, neg]).abs().max()) < 1e-14
        assert float((b - a.T).abs().max()) > 0.1  # the plain transpose is a reflection, not this
        assert float((b - a.T[neg, :]).abs().max()) > 0.1  # the rotation by -pi/2


def test_half_turn_is_the_point_reflection():
    M, N = 40, 56
    for j in (0, 1, 3):
        for theta in (0.0, 0.7, 2 * math.pi / 3):
            a = bump_steerable_2d_hat(M, N, j, theta, 6)
            b = bump_steerable_2d_hat(M, N, j, theta + math.pi, 6)
            assert float((b - _minus(a)).abs().max()) < 1e-14
            assert float((b - a).abs().max()) > 0.1


def _bump_point(x, y, xi, theta, L):
    """The unperiodised formula at one frequency, with math only (circular angle difference)."""
    r = math.hypot(x, y)
    t = (r - xi) / xi
    if not abs(t) < 1:
        return 0.0
    gap = (math.atan2(y, x) - theta + math.pi) % (2 * math.pi) - math.pi
    if abs(gap) > math.pi / 2:
        return 0.0
    return bump_constant(L) * math.exp(1 - 1 / (1 - t * t)) * math.cos(gap) ** (L - 1)


@pytest.mark.parametrize("M, N", [(12, 10), (9, 7)])
def test_j0_is_the_sum_of_nine_shifted_copies(M, N):
    wy = [2 * math.pi * k / M if k < (M + 1) // 2 else 2 * math.pi * (k - M) / M for k in range(M)]
    wx = [2 * math.pi * k / N if k < (N + 1) // 2 else 2 * math.pi * (k - N) / N for k in range(N)]
    for L, theta in [(8, 0.0), (8, 3 * math.pi / 8), (3, math.pi), (3, 7 * math.pi / 4)]:
        ours = bump_steerable_2d_hat(M, N, 0, theta, L)
        slow = torch.tensor([[sum(_bump_point(wx[c] + 2 * math.pi * ex, wy[r] + 2 * math.pi * ey, XI0, theta, L)
                                  for ex in (-1, 0, 1) for ey in (-1, 0, 1)) for c in range(N)] for r in range(M)],
                            dtype=F64)
        central = torch.tensor([[_bump_point(wx[c], wy[r], XI0, theta, L) for c in range(N)] for r in range(M)],
                               dtype=F64)
        assert float((ours - slow).abs().max()) < 1e-12
        assert float((ours - central).abs().max()) > 0.02  # the wrap matters at j = 0


def test_littlewood_paley_band():
    """N=64, J=5, L=8, 2L orientations. "Inside the band" = the grid frequencies with
    xi_{J-1} <= |omega| <= xi_0 (between the centre frequencies of the coarsest and finest wavelets).
    Measured there: min 0.6194 (at |omega| ~ 0.94 xi_0), max 1.0652 (at |omega| ~ 0.08 xi_0); on the
    continuum of radii the range is [0.597, 1.066]. Outside it the sum falls to 0 at omega = 0 and
    reaches 1.127 at the Nyquist frequency on the axes, where the periodised j=0 filters of theta and
    theta+pi overlap. Over the full circle the angular part sums to a constant, so for each j >= 1
    sum_l |psi_{j,l}|^2 = exp(2 - 2/(1-t^2)) / 1.29^2 exactly: the sum is isotropic."""
    N, J, L = 64, 5, 8
    bank = filter_bank_bump_2d(N, N, J, L)
    psi = bank["psi"]
    lp = littlewood_paley_sum(psi.flatten(0, 1))
    wy, wx = _grid(N, N)
    r = torch.sqrt(wx**2 + wy**2)
    band = (r >= float(bank["xi"][-1])) & (r <= float(bank["xi"][0]))
    assert 0.61 < float(lp[band].min()) < 0.63
    assert 1.06 < float(lp[band].max()) < 1.07
    assert float(lp[0, 0]) == 0.0 and 1.12 < float(lp.max()) < 1.13
    for j in range(1, J):
        xi = float(bank["xi"][j])
        t = (r - xi) / xi
        inside = t.abs() < 1
        radial2 = torch.where(inside, torch.exp(2 - 2 / (1 - torch.where(inside, t * t, 0.0))), 0.0)
        assert float(((psi[j] ** 2).sum(0) - radial2 / 1.29**2).abs().max()) < 1e-12


def test_gaussian_lowpass_is_one_at_zero_real_and_even():
    for M, N, sigma in [(64, 48, 3.0), (33, 40, 8.8), (16, 16, 0.7)]:
        phi = gaussian_2d_hat(M, N, sigma)
        assert phi.dtype == F64 and phi.shape == (M, N) and not phi.is_complex()
        assert abs(float(phi[0, 0]) - 1) < 1e-12
        assert torch.equal(phi, _minus(phi))  # even, to the last bit
        assert float(phi.max()) == float(phi[0, 0])


def test_gaussian_lowpass_is_the_fold_of_a_4x4_tiled_gaussian():
    """A wide Gaussian on a small grid, where the folding matters: compare with the 2D construction
    (centred Gaussian on 4M x 4N, sum of the 16 tiles, normalised, FFT2)."""
    M, N, sigma = 8, 6, 5.0
    u = torch.arange(-2 * M, 2 * M, dtype=F64)[:, None]
    v = torch.arange(-2 * N, 2 * N, dtype=F64)[None, :]
    big = torch.exp(-(u**2 + v**2) / (2 * sigma**2))
    folded = big.reshape(4, M, 4, N).sum(dim=(0, 2))
    expected = torch.fft.fft2(folded / folded.sum())
    phi = gaussian_2d_hat(M, N, sigma)
    assert float((phi - expected.real).abs().max()) < 1e-12
    assert float(expected.imag.abs().max()) < 1e-12
    assert float((phi - gaussian_2d_hat(M, N, sigma / 4)).abs().max()) > 0.1  # sigma does matter


@pytest.mark.parametrize("sigma", [3.0, pytest.param(lowpass_sigma(5), id="sigma_J5")])
def test_gaussian_lowpass_has_the_requested_width(sigma):
    M, N = 160, 192
    g = torch.fft.ifft2(gaussian_2d_hat(M, N, sigma))
    assert float(g.imag.abs().max()) < 1e-15
    g = g.real
    assert abs(float(g.sum()) - 1) < 1e-12 and float(g.min()) > -1e-15
    u = torch.fft.fftfreq(M, 1 / M, dtype=F64)[:, None]  # centred integer coordinates
    v = torch.fft.fftfreq(N, 1 / N, dtype=F64)[None, :]
    assert abs(float((u * g).sum())) < 1e-9 and abs(float((v * g).sum())) < 1e-9
    for second_moment in (float((u**2 * g).sum()), float((v**2 * g).sum())):
        assert math.sqrt(second_moment) == pytest.approx(sigma, rel=1e-3)


def test_default_lowpass_sigma():
    assert lowpass_sigma(5) == pytest.approx(8.84, abs=0.01)
    assert lowpass_sigma(1) == pytest.approx(1 / (0.702 * math.sqrt(2) * 2**-0.55 * 0.85 * math.pi), rel=1e-14)
    assert lowpass_sigma(6) == pytest.approx(2 * lowpass_sigma(5), rel=1e-14)
    assert lowpass_sigma(3, xi0=XI0 / 2) == pytest.approx(2 * lowpass_sigma(3), rel=1e-14)
    assert lowpass_sigma(5) == pytest.approx(0.552 * 16, rel=1e-3)


@pytest.mark.parametrize("full_circle, n_theta", [(True, 8), (False, 4)])
def test_bank_layout(full_circle, n_theta):
    M, N, J, L = 32, 48, 3, 4
    bank = filter_bank_bump_2d(M, N, J, L, full_circle=full_circle)
    assert bank["psi"].shape == (J, n_theta, M, N) and bank["psi"].dtype == F64
    assert bank["phi"].shape == (M, N) and bank["phi"].dtype == F64
    assert bank["j"] == [0, 1, 2] and bank["L"] == L and bank["full_circle"] is full_circle
    assert torch.allclose(bank["theta"], torch.arange(n_theta, dtype=F64) * math.pi / L, rtol=0, atol=1e-15)
    assert torch.allclose(bank["xi"], XI0 / 2.0 ** torch.arange(J, dtype=F64), rtol=1e-15)
    assert bank["sigma_phi"] == lowpass_sigma(J)
    for j in range(J):
        for ell in range(n_theta):
            one = bump_steerable_2d_hat(M, N, j, ell * math.pi / L, L)
            assert float((bank["psi"][j, ell] - one).abs().max()) < 1e-15
    assert torch.equal(bank["phi"], gaussian_2d_hat(M, N, lowpass_sigma(J)))
    other = filter_bank_bump_2d(M, N, J, L, full_circle=full_circle, sigma_phi=2.0)
    assert torch.equal(other["phi"], gaussian_2d_hat(M, N, 2.0))


def test_float32_option():
    b64 = filter_bank_bump_2d(32, 32, 2, 4)
    b32 = filter_bank_bump_2d(32, 32, 2, 4, dtype=torch.float32)
    assert b32["psi"].dtype == torch.float32 and b32["phi"].dtype == torch.float32
    assert torch.equal(b32["psi"], b64["psi"].float()) and torch.equal(b32["phi"], b64["phi"].float())
    assert bump_steerable_2d_hat(16, 16, 1, 0.0, 4, dtype=torch.float32).dtype == torch.float32
    assert gaussian_2d_hat(16, 16, 2.0, dtype=torch.float32).dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    cpu = filter_bank_bump_2d(64, 64, 3, 8)
    gpu = filter_bank_bump_2d(64, 64, 3, 8, device="cuda")
    assert gpu["psi"].device.type == "cuda" and gpu["phi"].device.type == "cuda"
    assert float((gpu["psi"].cpu() - cpu["psi"]).abs().max()) < 1e-13
    assert float((gpu["phi"].cpu() - cpu["phi"]).abs().max()) < 1e-13


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match=r"^J: expected 2\*\*J <= min\(M, N\) = 32"):
        filter_bank_bump_2d(32, 64, 6, 8)
    with pytest.raises(ValueError, match="^J: expected a positive int"):
        filter_bank_bump_2d(32, 32, 0, 8)
    with pytest.raises(ValueError, match="^L: expected a positive int"):
        filter_bank_bump_2d(32, 32, 2, 0)
    with pytest.raises(ValueError, match="^L: expected a positive int"):
        bump_constant(0)
    with pytest.raises(TypeError, match="^theta: expected a finite number"):
        bump_steerable_2d_hat(16, 16, 1, "pi/2", 8)
    with pytest.raises(ValueError, match="^theta: expected a finite number"):
        bump_steerable_2d_hat(16, 16, 1, float("nan"), 8)
    with pytest.raises(ValueError, match=r"^xi0: expected a number in \(0, pi\]"):
        bump_steerable_2d_hat(16, 16, 1, 0.0, 8, xi0=4.0)
    with pytest.raises(ValueError, match="^xi0: expected a positive number"):
        filter_bank_bump_2d(16, 16, 2, 8, xi0=0.0)
    with pytest.raises(ValueError, match="^sigma: expected a positive number"):
        gaussian_2d_hat(16, 16, -1.0)
    with pytest.raises(ValueError, match="^sigma_phi: expected a positive number"):
        filter_bank_bump_2d(16, 16, 2, 8, sigma_phi=-2.0)
    with pytest.raises(ValueError, match="^M: expected an int >= 2"):
        bump_steerable_2d_hat(1, 16, 0, 0.0, 8)
    with pytest.raises(TypeError, match="^N: expected a positive int"):
        gaussian_2d_hat(16, 16.0, 1.0)
    with pytest.raises(ValueError, match="^j: expected a non-negative int"):
        bump_steerable_2d_hat(16, 16, -1, 0.0, 8)
    with pytest.raises(ValueError, match="^dtype: expected one of"):
        filter_bank_bump_2d(16, 16, 2, 8, dtype=torch.int64)


def test_agrees_with_pywph():
    pywph = pytest.importorskip("pywph")
    M, N, L = 32, 40, 4
    for j in range(3):
        for ell in range(2 * L):
            theta = ell * math.pi / L
            theirs = torch.from_numpy(pywph.BumpSteerableWavelet(M, N, j, theta, k0=XI0, L=L, fourier=True).data)
            ours = bump_steerable_2d_hat(M, N, j, theta, L)
            assert float((theirs.real - ours).abs().max()) < 1e-10
