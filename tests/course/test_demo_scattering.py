"""Chapter 05's demo code: signals, invariance measurements, hand-made first order, figures."""

from __future__ import annotations

import math

import pytest
import torch
from matplotlib.figure import Figure

from harmonia.course.demos import scattering as demo

F64 = torch.float64


def test_tone_vanishes_at_both_ends_and_is_seeded():
    x = demo.tone(1024, seed=0)
    assert x.shape == (1024,) and float(x[:128].abs().max()) == 0 and float(x[-128:].abs().max()) == 0
    assert torch.equal(x, demo.tone(1024, seed=0)) and not torch.equal(x, demo.tone(1024, seed=1))


def test_am_and_fm_have_the_same_spectrum_but_different_envelopes():
    x, y = demo.am_fm_signals(4, N=4096, noise_db=-80, seed=0)
    assert x.shape == (8, 4096) and y.tolist() == [0] * 4 + [1] * 4
    power = torch.fft.rfft(x * torch.hann_window(4096, dtype=F64)).abs().square()
    peak = power.argmax(dim=1)
    k = torch.arange(power.shape[1])
    band = (k - peak[:, None]).abs() <= 40  # carrier +- 5 modulation frequencies (8 bins each)
    assert float(((power * band).sum(1) / power.sum(1)).min()) > 0.95  # a narrow band around the carrier
    analytic = torch.fft.ifft(torch.fft.fft(x) * (torch.fft.fftfreq(4096) > 0) * 2)
    env = analytic.abs()[:, 512:-512]
    spread = env.std(1) / env.mean(1)
    assert float(spread[:4].min()) > 0.2 and float(spread[4:].max()) < 0.05  # AM oscillates, FM is flat


def test_dilate_identity_and_linear_ramp():
    x = torch.arange(11, dtype=F64)
    assert torch.allclose(demo.dilate(x, 0.0), x)
    assert torch.allclose(demo.dilate(x, 0.1)[3:8], 5 + 1.1 * (x[3:8] - 5))


def test_relative_change_and_shift_invariance_of_fourier_modulus():
    x = torch.randn(64, dtype=F64, generator=torch.Generator().manual_seed(0))
    assert demo.relative_change(lambda v: torch.fft.fft(v).abs(), x, torch.roll(x, 7)) < 1e-12
    assert demo.relative_change(lambda v: v, x, 2 * x) == pytest.approx(1.0)


def test_first_order_full_rate_matches_direct_circular_convolution():
    N = 32
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N, dtype=F64, generator=g)
    psi_hat = torch.randn(2, N, dtype=torch.complex128, generator=g)
    phi_hat = torch.fft.fft(torch.randn(N, dtype=F64, generator=g))
    psi, phi = torch.fft.ifft(psi_hat), torch.fft.ifft(phi_hat)

    def circ(a, b):
        return torch.stack([sum(a[(t - s) % N] * b[s] for s in range(N)) for t in range(N)])

    expected = torch.stack([circ(circ(x.to(torch.complex128), psi[k]).abs().to(torch.complex128), phi).real for k in range(2)])
    assert torch.allclose(demo.first_order_full_rate(x, psi_hat, phi_hat), expected, atol=1e-10)


def test_relu_phase_average_closed_form_for_four_phases():
    z = torch.randn(20, dtype=torch.complex128, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(demo.relu_phase_average(z, 4), (z.real.abs() + z.imag.abs()) / 4)
    # many phases -> the mean of ReLU(|z| cos) = |z| / pi
    assert torch.allclose(demo.relu_phase_average(z, 720), z.abs() / math.pi, rtol=1e-4)
    with pytest.raises(TypeError, match="^z: "):
        demo.relu_phase_average(z.real)


def test_scattering_features_1d_renormalises_by_the_parent():
    meta = [{"order": 0, "n": ()}, {"order": 1, "n": (0,)}, {"order": 1, "n": (1,)}, {"order": 2, "n": (0, 1)}]
    S = torch.tensor([[[1.0, 1.0], [2.0, 2.0], [4.0, 4.0], [1.0, 1.0]]], dtype=F64)
    s1, s2 = demo.scattering_features_1d(S, meta, eps=0.0)
    assert torch.allclose(s1, torch.log(torch.tensor([[2.0, 4.0]], dtype=F64)))
    assert torch.allclose(s2, torch.log(torch.tensor([[0.5]], dtype=F64)))


def test_texture_dataset_is_standardised():
    textures = {"a": torch.rand(64, 64), "b": torch.rand(64, 64) ** 3}
    x, y = demo.texture_dataset(textures, 5, size=16, seed=0)
    assert x.shape == (10, 16, 16) and y.tolist() == [0] * 5 + [1] * 5
    assert torch.allclose(x.mean(dim=(-2, -1)), torch.zeros(10), atol=1e-5)
    assert torch.allclose(x.std(dim=(-2, -1)), torch.ones(10), atol=1e-4)


def test_molecule_peaks_and_rotation_matrix():
    rho = demo.molecule(torch.tensor([[0.0, 0.0, 0.0]]), torch.tensor([2.0]), size=16, sigma=1.0)
    assert tuple(int(i) for i in divmod(int(rho.argmax()), 16 * 16)) == (8, 8 * 16 + 8)
    assert float(rho.max()) == pytest.approx(2.0)
    R = demo.random_rotation(seed=3)
    assert torch.allclose(R @ R.T, torch.eye(3, dtype=F64), atol=1e-12) and float(torch.det(R)) == pytest.approx(1.0)


def test_figures():
    assert isinstance(demo.plot_filter_bank_1d(J=4, Q=2, N_pad=512), Figure)
    assert isinstance(demo.plot_filter_2d(j=0, theta=1, L=4, size=32), Figure)
    table = {"shift": {"x": 1.0, "S1": 0.01}, "dilation": {"x": 0.5, "S1": 0.02}}
    fig = demo.plot_invariance(table, shift=4, eps=0.02)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["x", "S1"]
    S = torch.rand(3, 4, 4)
    fig = demo.plot_channel_2d(S, [{"order": 0}, {"order": 1, "j": (0,), "theta": (2,)}, {"order": 1, "j": (1,), "theta": (0,)}], 1)
    assert "order 1" in fig.axes[0].get_title() and "θ=2" in fig.axes[0].get_title()


def test_modulation_spectrum_sums_over_the_first_wavelet():
    meta = [{"order": 0, "n": ()}, {"order": 1, "n": (0,)}, {"order": 1, "n": (1,)},
            {"order": 2, "n": (0, 2)}, {"order": 2, "n": (1, 2)}, {"order": 2, "n": (1, 3)}]
    S = torch.tensor([[[9.0], [1.0], [3.0], [0.5], [1.5], [4.0]]], dtype=F64)
    M = demo.modulation_spectrum(S, meta, eps=0.0)
    assert torch.allclose(M, torch.log(torch.tensor([[2.0 / 4.0, 4.0 / 4.0]], dtype=F64)))
    with pytest.raises(ValueError, match="^meta: expected one entry per channel"):
        demo.modulation_spectrum(S, meta[:-1])


def test_littlewood_paley_range_matches_kymatio_and_alt_text_reports_it():
    lo, hi = demo.lp_range(8, 1)
    assert abs(lo - 0.60) < 0.01 and abs(hi - 1.24) < 0.01  # kymatio 0.3: about 0.60-1.24 for J=8, Q=1
    assert "between 0.60 and 1.24" in demo.filter_bank_alt_text(8, 1) and "9 first-order" in demo.filter_bank_alt_text(8, 1)


def test_filter_bank_widget_headless():
    from harmonia.course import widgets

    w = widgets.interactive_figure(demo.plot_filter_bank_1d, alt=demo.filter_bank_alt_text,
                                   J=widgets.int_slider(4, 3, 10, "J"), Q=widgets.int_slider(2, 1, 16, "Q"))
    assert "J=4, Q=2" in w.result.axes[0].get_title()
    w.children[1].value = 4
    assert "J=4, Q=4" in w.result.axes[0].get_title()


def test_filter_2d_widget_headless_follows_L():
    from harmonia.course import widgets

    w = widgets.interactive_figure(
        lambda j, theta, L: demo.plot_filter_2d(j=j, theta=theta % L, L=L, size=32),
        alt="a 2D Morlet wavelet for a test",
        j=widgets.int_slider(1, 0, 3, "j"), theta=widgets.int_slider(2, 0, 7, "theta"), L=widgets.int_slider(8, 2, 8, "L"),
    )
    assert "theta=2" in w.result.axes[0].get_title().replace("\\theta", "theta")
    w.children[2].value = 2  # L = 2: orientation index 2 wraps to 0
    assert "theta=0" in w.result.axes[0].get_title().replace("\\theta", "theta")


def test_disk_images_are_binary_periodic_and_seeded():
    x = demo.disk_images(3, size=16, n_disks=2, radius=2.0, seed=0)
    assert x.shape == (3, 16, 16) and x.dtype == F64
    assert set(x.unique().tolist()) <= {0.0, 1.0} and float(x.sum()) > 0
    assert torch.equal(x, demo.disk_images(3, size=16, n_disks=2, radius=2.0, seed=0))
    one = demo.disk_images(1, size=16, n_disks=1, radius=2.5, seed=1)[0]
    area = float(one.sum())
    assert 12 <= area <= 29  # about pi r^2 = 19.6 pixels, wherever the disk lies on the torus


def test_modulated_gratings_envelopes():
    am = demo.modulated_gratings(2, "am", size=32, noise=0.0, seed=0)
    fm = demo.modulated_gratings(2, "fm", size=32, noise=0.0, seed=0)
    assert am.shape == fm.shape == (2, 32, 32)
    assert float(fm.abs().max()) <= 1.0 + 1e-12 and float(am.abs().max()) > 1.2  # only AM exceeds 1 (1 + m = 1.5)
    with pytest.raises(ValueError, match="^kind: "):
        demo.modulated_gratings(2, "pm")


def test_texture_pair_is_standardised_and_labelled():
    for kind in ("disks", "gratings"):
        x, y = demo.texture_pair(kind, 3, seed=0, size=16)
        assert x.shape == (6, 16, 16) and x.dtype == torch.float32 and y.tolist() == [0] * 3 + [1] * 3
        assert torch.allclose(x.mean(dim=(-2, -1)), torch.zeros(6), atol=1e-5)
        assert torch.allclose(x.std(dim=(-2, -1)), torch.ones(6), atol=1e-4)
    with pytest.raises(ValueError, match="^kind: "):
        demo.texture_pair("stripes", 3)


def test_plot_reconstruction():
    x0, x1 = torch.randn(64, dtype=F64), torch.randn(64, dtype=F64)
    s0, s1 = torch.rand(5, 4, dtype=F64), torch.rand(5, 4, dtype=F64)
    fig = demo.plot_reconstruction(x0, x1, s0, s1, [1.0, 0.1, 0.01])
    assert isinstance(fig, Figure) and len(fig.axes) == 3 and fig.axes[2].get_yscale() == "log"


def test_settings_sizes_by_mode():
    from harmonia.course.settings import ChapterSettings

    fast = demo.settings(ChapterSettings(mode="fast", device=torch.device("cpu")))
    full = demo.settings(ChapterSettings(mode="full", device=torch.device("cpu")))
    assert (fast.am_fm_per_class, fast.pair_per_class, fast.inversion_steps) == (50, 30, 60)
    assert (full.am_fm_per_class, full.pair_per_class, full.inversion_steps) == (200, 100, 300)
