"""Fourier building blocks: closed forms and agreement with direct computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harmonia import fourier as Fo

F64, C128 = torch.float64, torch.complex128


def _randn(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("k", [1, 2, 4, 8])
def test_subsample_fourier_is_dft_of_decimated_signal(k):
    x = _randn(3, 64)
    assert torch.allclose(Fo.subsample_fourier(Fo.fft(x), k), torch.fft.fft(x[..., ::k]), atol=1e-12)


def test_subsample_fourier_2d_and_errors():
    x = _randn(2, 16, 24)
    got = Fo.subsample_fourier(Fo.fft(x, (-2, -1)), 4, (-2, -1))
    assert torch.allclose(got, torch.fft.fft2(x[..., ::4, ::4]), atol=1e-12)
    with pytest.raises(ValueError, match="^k: expected a divisor of the size 24"):
        Fo.subsample_fourier(Fo.fft(x), 5, -1)
    with pytest.raises(ValueError, match="^k: expected a positive int"):
        Fo.subsample_fourier(Fo.fft(x), 0, -1)


def test_periodized_filter_sum_keeps_convolutions_physical():
    """Convolving the decimated signal with the 'sum' periodisation equals decimating the full-rate
    convolution of a band-limited signal (the physical convention of the 1D scattering)."""
    N, k = 128, 4
    f = torch.fft.fftfreq(N, dtype=F64)
    h_hat = torch.exp(-(f**2) / (2 * 0.02**2)).to(C128)  # low-pass, support well inside |f| < 1/(2k)
    x = _randn(N, seed=1)
    x_lp = torch.fft.ifft(torch.fft.fft(x) * (f.abs() < 1 / (2 * k))).real  # band-limited: no aliasing
    full = torch.fft.ifft(torch.fft.fft(x_lp) * h_hat).real[::k]
    coarse = torch.fft.ifft(torch.fft.fft(x_lp[::k]) * Fo.periodize_filter(h_hat, k, reduce="sum")).real
    assert torch.allclose(coarse, full, atol=1e-10)
    mean = Fo.periodize_filter(h_hat, k, reduce="mean")
    assert torch.allclose(mean * k, Fo.periodize_filter(h_hat, k, reduce="sum"))
    with pytest.raises(ValueError, match="^reduce: "):
        Fo.periodize_filter(h_hat, k, reduce="max")


def test_crop_filter_2d_keeps_low_frequencies():
    M, N, r = 16, 8, 1
    h = torch.zeros(M, N, dtype=C128)
    h[0, 0], h[1, 1], h[-1, -2], h[5, 1] = 1.0, 2.0, 3.0, 7.0  # row 5 is in the zeroed band for r=1
    out = Fo.crop_filter_2d(h, r)
    assert out.shape == (8, 4)
    assert out[0, 0] == 1 and out[1, 1] == 2 and out[-1, -2] == 3 and float(out.abs().sum()) == 6
    assert torch.equal(Fo.crop_filter_2d(h, 0), h)
    with pytest.raises(ValueError, match="^r: expected 2\\*\\*r to divide"):
        Fo.crop_filter_2d(h, 4)


@pytest.mark.parametrize("pads, dims", [([(3, 5)], [-1]), ([(2, 3), (1, 2)], [-2, -1]), ([(1, 0)], [0])])
def test_pad_reflect_matches_numpy(pads, dims):
    x = _randn(4, 6, 9)
    np_pads = [(0, 0)] * 3
    for (left, right), d in zip(pads, dims):
        np_pads[d % 3] = (left, right)
    assert np.allclose(Fo.pad_reflect(x, pads, dims).numpy(), np.pad(x.numpy(), np_pads, mode="reflect"))
    z = torch.complex(x, -x)
    assert torch.allclose(Fo.pad_reflect(z, pads, dims).real, Fo.pad_reflect(x, pads, dims))


def test_pad_reflect_errors_and_unpad():
    x = _randn(5)
    with pytest.raises(ValueError, match="^pads: reflect padding needs pad < size"):
        Fo.pad_reflect(x, [(5, 0)], [-1])
    with pytest.raises(ValueError, match="^pads: expected one"):
        Fo.pad_reflect(x, [(1, 1), (1, 1)], [-1])
    y = Fo.pad_reflect(x, [(2, 3)], [-1])
    assert torch.equal(Fo.unpad(y, [2], [7], [-1]), x)


def test_conv_fourier_is_circular_convolution():
    N = 16
    x, h = _randn(N, seed=2), _randn(N, seed=3)
    direct = torch.stack([sum(x[(t - s) % N] * h[s] for s in range(N)) for t in range(N)])
    got = Fo.ifft(Fo.conv_fourier(Fo.fft(x), Fo.fft(h))).real
    assert torch.allclose(got, direct, atol=1e-10)


def test_circular_crosscorr_direct_and_peak_at_shift():
    N = 32
    a = _randn(N, seed=4)
    b = torch.roll(a, 5)
    c = Fo.circular_crosscorr(b, a)
    direct = torch.stack([(torch.roll(b, -tau) * a).sum() for tau in range(N)])
    assert torch.allclose(c, direct, atol=1e-10) and int(c.argmax()) == 5
    assert Fo.circular_crosscorr(a.to(C128), a).is_complex()


def test_fftfreq_grid():
    gz, gx = Fo.fftfreq_grid((4, 6))
    assert gz.shape == (4, 1) and gx.shape == (1, 6)
    assert torch.allclose(gx.flatten(), 2 * torch.pi * torch.fft.fftfreq(6, dtype=F64))
    (f,) = Fo.fftfreq_grid((8,), radians=False)
    assert float(f.min()) == -0.5 and float(f[1]) == 0.125
