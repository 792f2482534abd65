"""Zhang & Mallat's moment sets B, C, D: the paper's counts, shifted moments against a direct loop,
the target normalisation, symmetries (translation, sign, rotation for model D) and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harmonia.filters.bump import filter_bank_bump_2d
from harmonia.phase_harmonics import phase_harmonic
from harmonia.wph import (
    WPH2D,
    AngularWPH2D,
    half_plane_shifts,
    maxent_moments,
    model_B,
    model_C,
    model_D,
)

F64 = torch.float64


def _field(M=32, N=32, seed=0, dtype=F64):
    """A zero-mean non-Gaussian test image (cubed smoothed noise)."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(M, N, generator=g, dtype=F64)
    k = torch.fft.fftfreq(M)[:, None] ** 2 + torch.fft.fftfreq(N)[None] ** 2
    x = torch.fft.ifft2(torch.fft.fft2(w) * torch.exp(-k * 60)).real
    x = (x / x.std()) ** 3
    return ((x - x.mean()) / x.std()).to(dtype)


@pytest.mark.parametrize("builder, kwargs, paper", [
    (model_B, dict(J=5, L=8, dl=4, dn=2), 6895),
    (model_C, dict(J=5, L=8, dl=4, dn=2), 10927),
    (model_D, dict(J=5, L=8, dj=1), 769),
    (model_B, dict(J=4, L=4, dl=2, dn=1), 1254),
    (model_C, dict(J=4, L=4, dl=2, dn=1), 2094),
])
def test_paper_counts(builder, kwargs, paper):
    index = builder(**kwargs)
    assert index.count_real("zhang-mallat-2021") == paper
    if builder is not model_D:  # B and C: every moment is real or complex as counted
        assert index.n_values == paper


def test_model_B_count_splits_into_shifts_and_others():
    index = model_B(5, 8, 4, 2)
    shifted = (index.row_shift != 0).any(axis=1)
    assert index.restrict(shifted).count_real("zhang-mallat-2021") == 3374
    assert index.restrict(~shifted).count_real("zhang-mallat-2021") == 3521


def test_model_D_keeps_the_imaginary_parts_the_paper_does_not_count():
    # cross-scale (0,0) pairs of angular channels are complex except at q = 0 and q = L
    assert model_D(5, 8, 1).n_values == 769 + 4 * (16 - 2) * 1


def test_half_plane_shifts():
    s = half_plane_shifts(2)
    assert len(s) == 14 and (0, 0) not in s and len(set(s)) == 14
    assert all(a >= 0 for a, _ in s)
    assert half_plane_shifts(0) == []
    with pytest.raises(ValueError, match="dn"):
        half_plane_shifts(-1)


def test_builders_reject_bad_arguments():
    with pytest.raises(ValueError, match="dj"):
        model_C(4, 4, dj=0)
    with pytest.raises(ValueError, match="k_shift"):
        maxent_moments(3, 2, 0, k_shift=-1)
    with pytest.raises(ValueError, match="J"):
        model_D(0, 4)


def _op(index, M=32, N=32, J=3, L=2, **kw):
    return WPH2D(M, N, J, L, index=index, std_norm=True, include_means=False, **kw)


def test_shifted_moments_match_a_direct_roll_loop():
    J, L = 3, 2
    index = model_C(J, L, dj=1, dl=1, dn=1)
    op = _op(index, J=J, L=L)
    x0, x = _field(seed=0), _field(seed=1)
    op.set_target(x0)
    got, _ = op.complex_moments(x)
    H = op.fields(x)  # (F, M, N) raw fields
    H0 = op.fields(x0)
    m = H0.mean(dim=(-2, -1))
    s = ((H0 - m[:, None, None]).abs() ** 2).mean(dim=(-2, -1)).sqrt()
    Ht = (H - m[:, None, None]) / s[:, None, None]
    ref = torch.stack([(Ht[a] * torch.roll(Ht[b], tuple(int(v) for v in t), (0, 1)).conj()).mean()
                       for a, b, t in zip(index.row_f1, index.row_f2, index.row_shift)])
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)
    assert (index.row_shift != 0).any(axis=1).sum() > 0


def test_target_normalisation():
    index = model_B(3, 2, dl=1, dn=1)
    op = _op(index)
    x0 = _field()
    op.set_target(x0)
    c, _ = op.complex_moments(x0)
    rows = index.rows()
    self_zero = [i for i, (f1, k1, f2, k2, t) in enumerate(rows) if f1 == f2 and k1 == k2 and t == (0, 0)]
    lp = [i for i, r in enumerate(rows) if r[0] == index.lowpass and r[4] == (0, 0)]
    assert len(lp) == 1 and len(self_zero) > 10
    torch.testing.assert_close(c[self_zero].real, torch.ones(len(self_zero), dtype=F64), rtol=1e-12, atol=1e-12)


def test_translation_invariance_float32():
    op = _op(model_C(3, 2, dj=1, dl=1, dn=1))
    x0 = _field(dtype=torch.float32)
    op.set_target(x0)
    x = _field(seed=3, dtype=torch.float32)
    k = op(x)
    torch.testing.assert_close(op(torch.roll(x, (5, -11), (0, 1))), k, rtol=1e-5, atol=1e-5 * k.abs().max().item())


def test_sign_flip_changes_the_sign_of_odd_pairs_only():
    index = model_C(3, 2, dj=1, dl=1, dn=0)
    op = _op(index)
    x0 = _field()
    op.set_target(x0)
    c, _ = op.complex_moments(x0)
    cm, _ = op.complex_moments(-x0)
    k1, k2 = index.field_k[index.row_f1], index.field_k[index.row_f2]
    wav = index.field_filter[index.row_f1] != index.lowpass
    odd = torch.as_tensor(wav & ((k1 + k2) % 2 == 1))
    torch.testing.assert_close(cm[odd], -c[odd], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(cm[~odd], c[~odd], rtol=1e-10, atol=1e-12)
    assert int(odd.sum()) > 0


def _model_d_reference(x, x0, J, L, rows):
    """Model D computed directly: orientation fields, target normalisation, DFT over orientations."""
    M, N = x.shape
    bank = filter_bank_bump_2d(M, N, J, L)
    n_q = 2 * L

    def fields(img):
        z = torch.fft.ifft2(torch.fft.fft2(img) * bank["psi"])  # (J, 2L, M, N)
        zphi = torch.fft.ifft2(torch.fft.fft2(img) * bank["phi"])
        return {k: phase_harmonic(z, k) for k in (0, 1, 2)}, zphi

    H0, p0 = fields(x0)
    H, p = fields(x)
    ang = {}
    for k in H:
        m = H0[k].mean(dim=(-2, -1), keepdim=True)
        s = ((H0[k] - m).abs() ** 2).mean(dim=(-2, -1), keepdim=True).sqrt()
        ang[k] = torch.fft.fft((H[k] - m) / s, dim=1, norm="ortho")  # (J, Q, M, N)
    pm = p0.mean()
    ps = ((p0 - pm).abs() ** 2).mean().sqrt()
    out = []
    for f1, k1, f2, k2, _ in rows:
        if f1 == J * n_q:
            out.append((((p - pm) / ps).abs() ** 2).mean().to(torch.complex128))
        else:
            a = ang[k1][f1 // n_q, f1 % n_q]
            b = ang[k2][f2 // n_q, f2 % n_q]
            out.append((a * b.conj()).mean())
    return torch.stack(out)


def test_model_D_matches_a_direct_computation():
    J, L = 3, 2
    op = AngularWPH2D(32, 32, J, L, dj=1)
    x0, x = _field(seed=0), _field(seed=2)
    op.set_target(x0)
    got, _ = op.complex_moments(x)
    torch.testing.assert_close(got, _model_d_reference(x, x0, J, L, op.index.rows()), rtol=1e-10, atol=1e-12)
    assert op.n_moments == op.index.n_values == op(x).shape[-1]


def test_model_D_is_invariant_to_quarter_turns_with_a_symmetric_target():
    J, L = 3, 2  # 2L = 4 orientations, a quarter turn shifts l by 1
    op = AngularWPH2D(32, 32, J, L, dj=1)
    x0 = _field(seed=0)
    op.set_target(torch.stack([torch.rot90(x0, r, (0, 1)) for r in range(4)]))
    x = _field(seed=4)
    k = op(x)
    torch.testing.assert_close(op(torch.rot90(x, 1, (0, 1))), k, rtol=1e-9, atol=1e-9 * k.abs().max().item())
    # model B is not invariant: its moments follow the orientation
    opb = _op(model_B(J, L, dl=1, dn=1), J=J, L=L)
    opb.set_target(x0)
    assert (opb(torch.rot90(x, 1, (0, 1))) - opb(x)).abs().max() > 1e-3


def test_model_D_needs_a_target():
    op = AngularWPH2D(16, 16, 2, 2)
    with pytest.raises(RuntimeError, match="set_target"):
        op(_field(16, 16))


@pytest.mark.parametrize("kind", ["C", "D"])
def test_gradcheck(kind):
    x0 = _field(16, 16, seed=5)
    op = _op(model_C(2, 2, dj=1, dl=1, dn=1), 16, 16, J=2, L=2) if kind == "C" else AngularWPH2D(16, 16, 2, 2)
    op.set_target(x0)
    w = torch.randn(op.n_moments, generator=torch.Generator().manual_seed(0), dtype=F64)
    x = (_field(16, 16, seed=6) + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda v: (op(v) * w).sum(), (x,), eps=1e-6, atol=1e-5)


def test_batch_equals_loop():
    op = _op(model_B(3, 2, dl=1, dn=1))
    op.set_target(_field())
    xs = torch.stack([_field(seed=s) for s in (7, 8)])
    torch.testing.assert_close(op(xs), torch.stack([op(x) for x in xs]), rtol=1e-12, atol=1e-12)


def test_shift_sets_are_what_the_docs_say():
    J, L = 3, 2
    index = model_B(J, L, dl=1, dn=1)
    shifts = {tuple(t) for t in index.row_shift if any(t)}
    expected = {(2**j * a, 2**j * b) for j in range(J) for a, b in half_plane_shifts(1)}
    expected |= {(2 ** (J - 1) * a, 2 ** (J - 1) * b) for a, b in half_plane_shifts(1)}
    assert shifts == expected
    shifted = (index.row_shift != 0).any(axis=1)
    assert np.all(index.row_f1[shifted] == index.row_f2[shifted])  # auto-covariances only
    assert set(index.field_k[index.row_f1[shifted]].tolist()) == {0, 1}
