"""Chapter 06's experiment runners and widget callbacks, run headless on small sizes."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pytest
import torch

from harmonia.course.demos import phase_harmonics as demo
from harmonia.course.exercises.ch06 import alignment_phase


def test_truncated_series_converges():
    alpha = torch.linspace(0, 2 * math.pi, 200, dtype=torch.float64)
    target = torch.relu(torch.cos(alpha))
    errs = [float((demo.truncated_series(alpha, K) - target).abs().max()) for K in (1, 3, 9, 31)]
    assert errs == sorted(errs, reverse=True) and errs[-1] < 0.02


def test_dft_error_and_bilipschitz():
    assert demo.phase_filter_dft_error(n=50) < 1e-5
    bl = demo.bilipschitz_ratios(n_pairs=500)
    assert 0.125 - 1e-3 <= bl["min"] <= bl["max"] <= 0.25 + 1e-3
    assert bl["opposite"] == pytest.approx(0.125, abs=1e-3) and bl["nearby"] == pytest.approx(0.25, abs=1e-3)


@pytest.mark.parametrize("bias,k,rectifier", [(0.0, 2, "relu"), (0.4, 0, "abs"), (-0.3, 5, "relu")])
def test_phase_filter_widget(bias, k, rectifier):
    fig = demo.plot_phase_filter(phi=1.2, bias=bias, k=k, rectifier=rectifier)
    assert len(fig.axes) == 2 and fig.axes[0].get_title()
    plt.close(fig)


def test_alignment_table_matches_exercise_reference():
    """The measured phases agree with the closed form of exercise 06.4 (an independent derivation)."""
    table = demo.alignment_table(N=512, J=6)
    for name, kind in (("Dirac", "dirac"), ("negative Dirac", "negative dirac"), ("up-jump", "up-jump")):
        for key, dj in (("arg C1", 1), ("arg C2", 2)):
            measured = complex(math.cos(table[name][key]), math.sin(table[name][key]))
            assert abs(measured - alignment_phase(kind, dj)) < 0.1, (name, key)
    assert table["Dirac"]["|C1|"] > 4 * table["white noise"]["|C1|"]


def test_format_angle_is_sign_stable():
    assert demo.format_angle(-math.pi) == demo.format_angle(math.pi) == "+3.14"
    assert demo.format_angle(-1e-17) == "+0.00"
    assert demo.format_angle(-math.pi / 2) == "-1.57"


def test_fourier_sparsity_small():
    out = demo.fourier_sparsity(N=16, n_samples=800, seed=1)
    mask = out["mask"]
    assert float(out["Dirac"][mask].min()) > 0.95
    assert float(out["Dirac"][~mask].max()) < 0.2
    eye = torch.eye(mask.shape[0], dtype=torch.bool)
    assert float(out["white noise"][~eye].max()) < 0.2
    plt.close(demo.plot_fourier_sparsity(out))


def test_recover_1d_small_with_and_without_coupling():
    x0 = demo.SIGNALS_1D["staircase"](64)
    rec = demo.recover_1d(x0, coupling=True, J=4, K=3, seeds=(0,), steps=60)
    assert rec.histories[0][-1] < rec.histories[0][0] / 100
    assert rec.best_error == min(rec.errors) and rec.n_moments > 0
    # recovering a translated target gives the translated recovery (same seed): errors agree
    moved = demo.recover_1d(torch.roll(x0, 9), coupling=True, J=4, K=3, seeds=(0,), steps=60)
    assert moved.best_error == pytest.approx(rec.best_error, abs=1e-6)
    plt.close(demo.plot_recovery_1d({"a": rec, "b": moved}, "t"))


def test_recover_2d_and_explorer_widget():
    img = demo.cartoon_image(16, 3, seed=0)
    rec2 = {dj: demo.recover_2d(img, dj, J=2, L=2, seeds=(0,), steps=5) for dj in (0, 1, 2)}
    assert all(len(r.errors) == 1 and math.isfinite(r.errors[0]) for r in rec2.values())
    x0 = demo.SIGNALS_1D["staircase"](64)
    rec1 = {(name, c): demo.recover_1d(x0, coupling=c, J=4, K=3, seeds=(0,), steps=3)
            for name in ("staircase", "Cantor") for c in (True, False)}
    for signal in ("staircase", "Cantor", "cartoon"):
        for moments in demo.EXPLORER_MOMENTS:
            fig = demo.plot_recovery_explorer(rec1, rec2, signal, moments)
            # a 1D signal has no dj=2 run: the figure says which run it shows instead
            said = "cartoon only" in fig.axes[1].get_title()
            assert said == (signal != "cartoon" and moments == demo.EXPLORER_MOMENTS[2])
            plt.close(fig)
    plt.close(demo.plot_recovery_2d(img, rec2))
    plt.close(demo.plot_psnr_by_seed(rec2))
    with pytest.raises(ValueError, match="moments"):
        demo.plot_recovery_explorer(rec1, rec2, "staircase", "all of them")
    with pytest.raises(ValueError, match="signal"):
        demo.plot_recovery_explorer(rec1, rec2, "speech", demo.EXPLORER_MOMENTS[0])


def test_correlation_map_widget():
    mat, labels = demo.correlation_map("Dirac", T=128, J=5, K=3)
    assert mat.shape == (len(labels), len(labels))
    torch.testing.assert_close(mat, mat.conj().T)  # Hermitian by construction
    assert float(mat.abs().max()) <= 1 + 1e-9
    for signal in demo.CORRELATION_SIGNALS:
        plt.close(demo.plot_correlation_map(signal))
    with pytest.raises(ValueError, match="signal"):
        demo.correlation_map("chirp")


@pytest.mark.parametrize("k,j,signal", [(2, 3, "Dirac"), (0, 1, "white noise"), (5, 0, "up-jump"), (4, 3, "chirp")])
def test_transposition_widget(k, j, signal):
    plt.close(demo.plot_transposition(k, j, signal))


def test_transposition_moves_the_peak():
    """For a Dirac the spectrum of [x * psi_j]^k peaks near k xi_j (frequency transposition)."""
    from harmonia.filters.morlet1d import morlet_bank_1d

    N, j = 1024, 4
    bank = morlet_bank_1d(N, 6)
    z = torch.fft.ifft(torch.fft.fft(demo.dirac(N)) * bank["psi"][j])
    freqs = torch.fft.fftfreq(N, dtype=torch.float64)
    for k in (1, 2, 3):
        peak = float(freqs[torch.fft.fft(demo.phase_harmonic(z, k)).abs().argmax()])
        assert abs(peak - k * bank["xi"][j]) < 2.0 / N
    with pytest.raises(ValueError, match="signal"):
        demo.plot_transposition(2, 1, "sawtooth")
    with pytest.raises(ValueError, match="j"):
        demo.plot_transposition(2, 9)


def test_spectral_widths_equal_for_a_dirac_and_growing_for_a_chirp():
    """The band of [z]^k widens only where the envelope's phase varies: a Dirac seen through a Morlet wavelet
    (real Gaussian envelope) keeps one width for every k; a chirp's width grows like k (section 3's figure)."""
    dirac_w = demo.spectral_widths("Dirac", ks=(1, 2, 4))
    chirp_w = demo.spectral_widths("chirp", ks=(0, 1, 2, 4))
    for k in (1, 2, 4):
        assert dirac_w[k][0] == pytest.approx(k * 0.04375, abs=2e-3)  # centre k xi_j
        assert chirp_w[k][0] == pytest.approx(k * 0.04375, rel=0.05)
    assert max(w for _, w in dirac_w.values()) / min(w for _, w in dirac_w.values()) < 1.15
    assert chirp_w[2][1] / chirp_w[1][1] == pytest.approx(2, rel=0.1)
    assert chirp_w[4][1] / chirp_w[1][1] == pytest.approx(4, rel=0.1)
    assert chirp_w[0][1] < chirp_w[1][1] / 3  # k = 0: the envelope |z|, narrow
    with pytest.raises(ValueError, match="signal"):
        demo.spectral_widths("sawtooth")
    fig = demo.plot_transposition_widths()
    assert len(fig.axes) == 2 and all(ax.get_xlabel() for ax in fig.axes)
    plt.close(fig)


def test_chirp_sweeps_its_band():
    x = demo.chirp(512, f0=0.02, f1=0.07)
    spec = torch.fft.rfft(x).abs()
    band = torch.fft.rfftfreq(512, dtype=torch.float64)[spec > 0.1 * spec.max()]
    assert x.dtype == torch.float64 and 0.015 < float(band.min()) and float(band.max()) < 0.075


def test_compare_seeds_pairs_runs_by_seed():
    def rec(errors):
        t = torch.zeros(4, 4)
        return demo.Recovery(t, t, list(errors), [0.0] * len(errors))

    out = demo.compare_seeds(rec([20.0, 18.0, 25.0, 14.0]), rec([22.0, 17.0, 26.0, 24.0]))
    assert out == {"wins": 3, "n": 4, "median_gain": 1.5}  # gains -1, 1, 2, 10
    assert demo.compare_seeds(rec([1.0, 2.0, 3.0]), rec([1.0, 5.0, 0.0]))["median_gain"] == 0.0
    with pytest.raises(ValueError, match="^after: expected as many runs"):
        demo.compare_seeds(rec([1.0, 2.0]), rec([1.0]))
