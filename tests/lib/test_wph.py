"""Wavelet phase harmonic moments: the papers' counting rules, translation invariance, agreement of the
Gram-matrix implementation with a direct double loop, the phase-alignment signatures of a Dirac and a
jump, target normalisation, batches, gradients (float64 gradcheck) and bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from harmonia.filters.morlet1d import morlet_bank_1d
from harmonia.phase_harmonics import phase_harmonic
from harmonia.wph import (
    WPH1D,
    WPH2D,
    MomentIndex,
    PhaseHarmonicCov,
    circular_distance,
    scale_interaction_2d,
    tolerance_rule_1d,
)

F64 = torch.float64


def test_figure8_counts():
    """The x-axis of the paper's Figure 8: N=256, J=8, L=8, dl=4, dk=1, dj=0..5."""
    got = [scale_interaction_2d(8, 8, dj, 4, 1).count_real("zhang-mallat") for dj in range(6)]
    assert got == [5890, 17426, 27314, 35714, 42434, 47474]


@pytest.mark.parametrize("K,counts", [(3, (147, 325)), (5, (342, 720)), (9, (953, 1975))])
def test_tolerance_rule_counts(K, counts):
    """Authors' 1D counts: Battle-Lemarie widths xi/3, 12 octaves from 0.5 + low-pass, tol 2,
    n_oct = 1 and 6 (n_diag = n_oct + 1); plus 13 first-order means."""
    xi = [0.5 * 2.0**-n for n in range(12)] + [0.0]
    width = [x / 3 for x in xi[:-1]] + [xi[-2] / 3]
    got = tuple(tolerance_rule_1d(xi, width, K, n_diag).n_rows for n_diag in (2, 7))
    assert got == counts
    assert tolerance_rule_1d(xi, width, K, 2).mean_fields.size == 13


def test_tolerance_rule_selection_properties():
    xi = [0.35 * 2.0**-n for n in range(6)] + [0.0]
    width = [0.9 * 0.4 * x for x in xi[:-1]]
    width.append(width[-1])
    ix = tolerance_rule_1d(xi, width, 5)
    for f1, k1, f2, k2, _ in ix.rows():
        assert xi[f1] > xi[f2] or (f1 == f2 and k1 <= k2)  # ordering
        assert not (f1 == f2 and k1 == k2 and k1 >= 1)  # redundant |z|^2 dropped
        d1, d2 = max(k1, 1) * width[f1], max(k2, 1) * width[f2]
        gap = abs(k1 * xi[f1] - k2 * xi[f2])
        assert gap + d1 + d2 <= 1 and gap <= 2 * (d1 + d2)
    # the cross-scale pair that sees phase alignment is there: (j, 1, j+1, 2)
    assert (0, 1, 1, 2, (0,)) in ix.rows()
    no_coupling = tolerance_rule_1d(xi, width, 5, coupling=False)
    assert all(k1 == k2 for _, k1, _, k2, _ in no_coupling.rows())
    assert 0 < no_coupling.n_rows < ix.n_rows


def test_scale_interaction_rows():
    ix = scale_interaction_2d(3, 4, 2, 2, 1)
    n_theta = 8
    for f1, k1, f2, k2, _ in ix.rows():
        if f1 == ix.lowpass:
            assert (f2, k1, k2) == (ix.lowpass, 1, 1)
            continue
        j1, j2 = f1 // n_theta, f2 // n_theta
        assert circular_distance(f1 % n_theta, f2 % n_theta, n_theta) <= 2
        if j1 == j2:
            assert (k1, k2) in {(1, 0), (1, 1), (0, 0)}
        else:
            assert 0 < j2 - j1 <= 2
            assert (k1 == 0 and k2 in (0, 1, 2)) or (k1 == 1 and abs(k2 - 2 ** (j2 - j1)) <= 1)
    assert ix.labels["j"][ix.lowpass] == -1
    assert circular_distance(0, 7, 8) == 1


def test_from_rows_and_restrict():
    ix = MomentIndex.from_rows([(0, 1, 1, 2), (0, 0, 1, 0), (1, 1, 1, 1, (3,))], means=[(0, 0)])
    assert ix.n_rows == 3 and ix.n_fields == 5
    assert ix.row_real.tolist() == [False, True, False]
    assert ix.n_values == 1 + 2 * 2 + 1
    small = ix.restrict(np.array([True, False, False]))
    assert small.rows() == [(0, 1, 1, 2, (0,))]
    assert small.mean_fields.size == 0
    with pytest.raises(ValueError, match="rows"):
        MomentIndex.from_rows([(0, 1, 1)])
    with pytest.raises(ValueError, match="keep"):
        ix.restrict(np.array([True]))


def _signal(n, seed):
    return torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _naive_moments(op: PhaseHarmonicCov, x: torch.Tensor) -> torch.Tensor:
    """An independent double loop: convolve, take harmonics filter by filter, centre, correlate row by row."""
    d = len(op.spatial)
    dims = tuple(range(-d, 0))
    ix = op.index
    out = []
    for f1, k1, f2, k2, shift in ix.rows():
        fields = []
        for f, k in ((f1, k1), (f2, k2)):
            z = torch.fft.ifftn(torch.fft.fftn(x, dim=dims) * op.filters_hat[f], dim=dims)
            h = phase_harmonic(z, k)
            h = h - h.mean()  # center="self"
            fields.append(h)
        b = torch.roll(fields[1], shifts=shift, dims=dims)
        out.append((fields[0] * b.conj()).mean())
    return torch.stack(out)


def test_gram_implementation_matches_naive_loop_1d():
    bank = morlet_bank_1d(64, 4)
    rows = [(0, 1, 1, 2), (1, 0, 2, 0), (2, 1, 2, 0), (0, 1, 0, 1, (5,)), (3, 0, 3, 0, (-2,)), (1, 2, 3, 8)]
    op = PhaseHarmonicCov(bank["psi"], MomentIndex.from_rows(rows), center="self")
    x = _signal(64, 1)
    got, _ = op.complex_moments(x)
    torch.testing.assert_close(got, _naive_moments(op, x), rtol=1e-12, atol=1e-14)


def test_gram_implementation_matches_naive_loop_2d():
    ix = scale_interaction_2d(2, 2, 1, 1, 1)
    keep = np.zeros(ix.n_rows, dtype=bool)
    keep[:: max(1, ix.n_rows // 12)] = True
    small = ix.restrict(keep)
    rows = small.rows() + [(0, 1, 0, 1, (2, -1)), (1, 0, 1, 0, (0, 3))]
    op = WPH2D(16, 16, 2, 2, index=MomentIndex.from_rows(rows, ndim=2, lowpass=small.lowpass), center="self")
    x = torch.randn(16, 16, generator=torch.Generator().manual_seed(2), dtype=F64)
    got, _ = op.complex_moments(x)
    torch.testing.assert_close(got, _naive_moments(op, x), rtol=1e-12, atol=1e-14)


def test_translation_invariance_1d():
    op = WPH1D(128, 5, K=5)
    x = _signal(128, 3)
    op.set_target(x)
    torch.testing.assert_close(op(torch.roll(x, 37)), op(x), rtol=0, atol=1e-10)


def test_translation_invariance_2d_with_shifts():
    ix = MomentIndex.from_rows(scale_interaction_2d(3, 2, 1).rows() + [(2, 1, 2, 1, (1, -2))], ndim=2, lowpass=12)
    op = WPH2D(32, 32, 3, 2, index=ix, std_norm=True)
    x = torch.randn(32, 32, generator=torch.Generator().manual_seed(4), dtype=F64)
    op.set_target(x)
    torch.testing.assert_close(op(torch.roll(x, (5, -9), (0, 1))), op(x), rtol=0, atol=1e-10)


def test_output_length_real_rows_and_means():
    op = WPH2D(32, 32, 3, 2, dj=1)
    x = torch.rand(32, 32, generator=torch.Generator().manual_seed(5), dtype=F64)
    v = op.set_target(x)
    assert v.shape == (op.n_moments,) and op.n_moments == op.index.n_values
    moments, means = op.complex_moments(x)
    real = torch.as_tensor(op.index.row_real)
    assert moments[real].imag.abs().max() < 1e-12  # nothing is lost by dropping them
    # centred by the target's own means, so the k=0 fields have zero-mean centred versions: the
    # appended means are the field means themselves
    torch.testing.assert_close(v[-op.mean_fields.numel() - int(op.mean_imag.sum()):][: op.mean_fields.numel()],
                               means[op.mean_fields].real)


def test_std_norm_makes_target_autocorrelations_one():
    op = WPH1D(64, 4, K=3, std_norm=True)
    x = _signal(64, 6)
    op.set_target(x)
    moments, _ = op.complex_moments(x)
    diag = [r for r, (f1, k1, f2, k2, _) in enumerate(op.index.rows()) if (f1, k1) == (f2, k2)]
    assert diag
    torch.testing.assert_close(moments[diag].real, torch.ones(len(diag), dtype=F64), rtol=0, atol=1e-9)


def test_batch_matches_single():
    op = WPH1D(64, 4, K=3)
    xs = torch.stack([_signal(64, s) for s in range(3)]).reshape(3, 1, 64)
    op.set_target(xs[0, 0])
    batch = op(xs)
    assert batch.shape == (3, 1, op.n_moments)
    for i in range(3):
        torch.testing.assert_close(batch[i, 0], op(xs[i, 0]))


def test_float32_follows_input():
    op = WPH1D(64, 4, K=3)
    x = _signal(64, 7)
    op.set_target(x)
    v32 = op(x.float())
    assert v32.dtype == torch.float32
    torch.testing.assert_close(v32.double(), op(x), rtol=1e-4, atol=1e-5)


def test_gradcheck_float64():
    op = WPH1D(32, 3, K=3)
    op.set_target(_signal(32, 8))
    x = _signal(32, 9).requires_grad_(True)
    assert torch.autograd.gradcheck(op, (x,))


def test_gradcheck_2d_float64():
    op = WPH2D(8, 8, 2, 1, dj=1)
    op.set_target(torch.rand(8, 8, generator=torch.Generator().manual_seed(1), dtype=F64))
    x = torch.rand(8, 8, generator=torch.Generator().manual_seed(2), dtype=F64).requires_grad_(True)
    assert torch.autograd.gradcheck(op, (x,))


def _alignment_op(N=1024, J=8):
    bank = morlet_bank_1d(N, J)
    rows = [(j, 1, j + 1, 2) for j in range(J - 1)] + [(j, 1, j + 2, 4) for j in range(J - 2)]
    return PhaseHarmonicCov(bank["psi"], MomentIndex.from_rows(rows), center="self"), J


def test_phase_alignment_dirac_and_jump():
    """Normalised C(j,1,j+1,2) of an isolated Dirac: modulus 0.88 and phase 0 (pi for a negative Dirac);
    C(j,1,j+2,4): modulus 0.67. An up-jump: phase +pi/2 for j'=j+1 and -pi/2 for j'=j+2."""
    op, J = _alignment_op()
    N = 1024
    dirac = torch.zeros(N, dtype=F64)
    dirac[N // 2] = 1
    c = op.correlations(dirac)
    one, two = c[: J - 1], c[J - 1:]
    assert torch.all((one.abs() - 0.88).abs() < 0.02) and torch.all((two.abs() - 0.67).abs() < 0.02)
    assert float(c.angle().abs().max()) < 0.1
    assert float((op.correlations(-dirac).angle().abs() - math.pi).abs().max()) < 0.1
    u = torch.arange(N, dtype=F64)
    up_jump = 0.5 - ((u - N // 2) % N) / N
    c = op.correlations(up_jump)
    assert float((c[: J - 1].angle() - math.pi / 2).abs().max()) < 0.1
    assert float((c[J - 1:].angle() + math.pi / 2).abs().max()) < 0.1


def test_noise_has_weak_fine_scale_alignment():
    """White noise has no phase alignment: averaged over 10 draws, |C(j,1,j+1,2)| at the finest scales is
    small (it only reflects the finite sample), 8x below the Dirac's 0.88."""
    op, J = _alignment_op()
    noise = torch.randn(10, 1024, generator=torch.Generator().manual_seed(0), dtype=F64)
    c = op.correlations(noise)
    assert float(c[:, :3].abs().mean()) < 0.11


def test_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    op = WPH2D(32, 32, 3, 2, dj=1)
    x = torch.rand(32, 32, generator=torch.Generator().manual_seed(1), dtype=F64)
    ref = op.set_target(x)
    op_gpu = op.to("cuda")
    torch.testing.assert_close(op_gpu(x.cuda()).cpu(), ref, rtol=1e-10, atol=1e-12)


def test_bad_inputs():
    op = WPH1D(64, 4, K=3)
    with pytest.raises(RuntimeError, match="set_target"):
        op(_signal(64, 0))
    op.set_target(_signal(64, 0))
    with pytest.raises(ValueError, match="x"):
        op(_signal(63, 0))
    with pytest.raises(TypeError, match="x"):
        op(torch.zeros(64, dtype=torch.complex128))
    with pytest.raises(ValueError, match="x0"):
        op.set_target(torch.full((64,), float("nan"), dtype=F64))
    with pytest.raises(ValueError, match="center"):
        WPH1D(64, 4, center="median")
    with pytest.raises(TypeError, match="index"):
        PhaseHarmonicCov(torch.ones(3, 8), [(0, 1, 1, 1)])
    with pytest.raises(ValueError, match="index"):
        PhaseHarmonicCov(torch.ones(2, 8), MomentIndex.from_rows([(0, 1, 5, 1)]))
    with pytest.raises(ValueError, match="filters_hat"):
        PhaseHarmonicCov(torch.ones(2, 8, 8), MomentIndex.from_rows([(0, 1, 1, 1)]))
    with pytest.raises(ValueError, match="xi"):
        tolerance_rule_1d([0.1, 0.2], [0.01, 0.01], 3)
    with pytest.raises(ValueError, match="width"):
        tolerance_rule_1d([0.2, 0.1], [0.01], 3)
    with pytest.raises(ValueError, match="K"):
        tolerance_rule_1d([0.2, 0.1], [0.01, 0.01], 0)
    with pytest.raises(ValueError, match="dj"):
        scale_interaction_2d(3, 4, -1)
    with pytest.raises(ValueError, match="convention"):
        scale_interaction_2d(3, 4, 1).count_real("pywph")
