"""The ALPHA texture model (Brochard, Zhang, Mallat 2022): the shift set and border masks, the frozen
standardiser, three implementations of the shifted correlations, the statistic counts (closed form,
index table and the paper's table), invariances (translation, transposition and row flip as index
permutations), the rectifier's Gaussian closed forms, gradients (float64 gradcheck), the colour
correlation, the Haar filters and bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from harmonia.filters.bump import bump_steerable_2d_hat
from harmonia.filters.haar import HAAR_KERNELS, haar_highpass_2d
from harmonia.filters.morlet2d import filter_params_2d
from harmonia.phase_harmonics import phase_filter
from harmonia.wph.alpha import AlphaStats, alpha_stat_count, color_correlation
from harmonia.wph.correlations import FrozenStandardizer, border_masks, shift_set, shifted_correlations

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def _fitted(x: torch.Tensor, **kw) -> tuple[AlphaStats, torch.Tensor]:
    op = AlphaStats(x.shape[-1], x.shape[-1], **kw)
    if x.dtype == F64:
        op = op.double()
    return op, op.set_target(x)


# ----------------------------------------------------------------------------------------- shift set, masks
@pytest.mark.parametrize("J,size", [(2, 13), (3, 21), (4, 29), (5, 37)])
def test_shift_set_size_symmetry_and_order(J, size):
    T = shift_set(J)
    rows = [tuple(t) for t in T.tolist()]
    assert len(rows) == size == 8 * J - 3
    assert rows[0] == (0, 0)
    assert len(set(rows)) == len(rows)
    assert set(rows) == {(-a, -b) for a, b in rows}
    # the rounded compass points of radius 2^j (independent recomputation, numpy's rint)
    k = np.arange(8) * np.pi / 4
    expected = {(0, 0)} | {(int(np.rint(2**j * np.cos(a))), int(np.rint(2**j * np.sin(a)))) for j in range(J) for a in k}
    assert set(rows) == expected
    if J == 2:
        assert (1, 1) in rows and (2, 0) in rows and (0, -2) in rows and (2, 2) not in rows


def test_border_masks_zero_band_unit_mean_and_bad_size():
    J, M, N = 4, 20, 24
    m = border_masks(J, M, N, dtype=F64)
    assert m.shape == (J, M, N)
    assert torch.equal(m[0], torch.ones(M, N, dtype=F64))
    for j in range(J):
        b = 2**j // 2
        inner = m[j, b:M - b, b:N - b]
        assert torch.allclose(m[j].mean(), torch.tensor(1.0, dtype=F64), atol=1e-12)
        assert float(inner.min()) == float(inner.max()) == pytest.approx(M * N / ((M - 2 * b) * (N - 2 * b)))
        if b:
            assert m[j, :b].abs().max() == 0 and m[j, -b:].abs().max() == 0
            assert m[j, :, :b].abs().max() == 0 and m[j, :, -b:].abs().max() == 0
    with pytest.raises(ValueError, match="M, N"):
        border_masks(3, 4, 8)  # b_2 = 2 leaves no interior row


# ------------------------------------------------------------------------------------ frozen standardiser
def test_frozen_standardizer_fits_once_and_stays_frozen(seeded):
    t = 3.0 + 2.0 * torch.randn(2, 5, 8, 8, generator=seeded(0), dtype=F64) * torch.arange(1, 6, dtype=F64)[:, None, None]
    s = FrozenStandardizer(-3)
    with pytest.raises(RuntimeError, match="fit"):
        s(t)
    s.fit(t)
    out = s(t)
    per_channel = out.movedim(1, 0).reshape(5, -1)
    assert torch.allclose(per_channel.mean(1), torch.zeros(5, dtype=F64), atol=1e-12)
    assert torch.allclose(per_channel.std(1, correction=0), torch.ones(5, dtype=F64), atol=1e-9)
    mean, std = s.mean.clone(), s.std.clone()
    other = s(torch.randn(1, 5, 8, 8, generator=seeded(1), dtype=F64) * 7 - 4)
    assert torch.equal(s.mean, mean) and torch.equal(s.std, std)
    assert other.shape == (1, 5, 8, 8)
    with pytest.raises(ValueError, match="t: expected 5 channels"):
        s(torch.randn(2, 4, 8, 8, dtype=F64))
    no_centre = FrozenStandardizer(-3, center=False).fit(t)
    assert torch.allclose(no_centre(t), t / (std[:, None, None] + 1e-9))
    s.reset()
    assert not s.fitted
    with pytest.raises(ValueError, match="channel_dim"):
        FrozenStandardizer(1)


# ------------------------------------------------------------------------------------ shifted correlations
def _corr_case(dtype, gen):
    R1 = torch.randn(2, 3, 12, 10, generator=gen, dtype=dtype)
    R2 = torch.randn(2, 4, 12, 10, generator=gen, dtype=dtype)
    pairs = torch.tensor([[0, 0], [2, 3], [1, 0], [2, 2], [0, 3]])
    shifts = torch.cat([shift_set(2), torch.tensor([[-3, 2], [5, -4], [-11, -9]])])
    shifted = torch.tensor([True, False, True, False, True])
    return R1, R2, pairs, shifts, shifted


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (F64, 1e-12)])
def test_shifted_correlations_three_methods_agree(seeded, dtype, tol):
    R1, R2, pairs, shifts, shifted = _corr_case(dtype, seeded(2))
    T = len(shifts)
    out = {m: shifted_correlations(R1, R2, pairs, shifts, shifted, method=m) for m in ("gram", "fft", "direct")}
    assert out["gram"].shape == (2, 3 * T + 2)
    assert torch.allclose(out["gram"], out["direct"], atol=tol, rtol=0)
    assert torch.allclose(out["fft"], out["direct"], atol=tol, rtol=0)


def test_shifted_correlations_sign_convention(seeded):
    R1, R2, pairs, shifts, shifted = _corr_case(F64, seeded(3))
    out = shifted_correlations(R1, R2, pairs, shifts, shifted, method="fft")
    T = len(shifts)
    # pair 2 = (1, 0) is shifted; its block starts after pair 0 (T entries) and pair 1 (1 entry)
    for t in range(T):
        tau = tuple(shifts[t].tolist())
        explicit = torch.stack([(R1[b, 1] * R2[b, 0, (torch.arange(12)[:, None] - tau[0]) % 12,
                                                    (torch.arange(10)[None, :] - tau[1]) % 10]).mean()
                                for b in range(2)])
        assert torch.allclose(out[:, T + 1 + t], explicit, atol=1e-12)
        assert torch.allclose(explicit, (R1[:, 1] * torch.roll(R2[:, 0], tau, dims=(-2, -1))).mean((-2, -1)))
    # unshifted pair 1 = (2, 3): one plain inner product
    assert torch.allclose(out[:, T], (R1[:, 2] * R2[:, 3]).mean((-2, -1)), atol=1e-12)


def test_shifted_correlations_bad_inputs(seeded):
    R1, R2, pairs, shifts, shifted = _corr_case(F64, seeded(4))
    with pytest.raises(ValueError, match="shifts"):
        shifted_correlations(R1, R2, pairs, shifts.flip(0), shifted)
    with pytest.raises(ValueError, match="pairs"):
        shifted_correlations(R1, R2, torch.tensor([[0, 4], [0, 0], [0, 0], [0, 0], [0, 0]]), shifts, shifted)
    with pytest.raises(ValueError, match="pairs"):
        shifted_correlations(R1, R2, torch.tensor([[3, 0], [0, 0], [0, 0], [0, 0], [0, 0]]), shifts, shifted)
    with pytest.raises(ValueError, match="method"):
        shifted_correlations(R1, R2, pairs, shifts, shifted, method="loop")
    with pytest.raises(ValueError, match="R2"):
        shifted_correlations(R1, R2[:, :, :8], pairs, shifts, shifted)


# ------------------------------------------------------------------------------------------------- counts
GREY_CONFIGS = [
    dict(J=3, L=4, A=4, delta_j=2, shift="all"),
    dict(J=3, L=4, A=4, delta_j=2, shift="all", extras=()),
    dict(J=3, L=2, A=3, delta_j=1, shift="same"),
    dict(J=3, L=2, A=3, delta_j=0, shift="none", extras=("haar",)),
    dict(J=2, L=3, A=2, delta_j=1, shift="same", extras=("lowpass",)),
]
COLOUR_CONFIGS = [
    dict(J=2, L=2, A=2, delta_j=1, shift="samec", color=True),
    dict(J=2, L=2, A=2, delta_j=1, shift="samec", color=True, extras=("lowpass", "haar", "color")),
    dict(J=2, L=2, A=2, delta_j=0, shift="all", color=True, extras=()),
    dict(J=2, L=2, A=2, delta_j=1, shift="same", color=True, extras=("color",)),
]


@pytest.mark.parametrize("cfg", GREY_CONFIGS + COLOUR_CONFIGS)
def test_stat_count_closed_form_matches_module(cfg):
    op = AlphaStats(16, 16, **cfg)
    closed = alpha_stat_count(cfg["J"], cfg["L"], cfg["A"], cfg["delta_j"], cfg["shift"],
                              color=cfg.get("color", False), extras=cfg.get("extras", ("lowpass", "haar")))
    table = op.index_table()
    assert op.n_stats == closed == len(table) == len(set(table))
    assert op.n_maps == (3 if cfg.get("color") else 1) * cfg["J"] * cfg["L"] * cfg["A"]
    # second phase fixed to 0 and j <= j' <= j + delta_j
    cov = [r for r in table if r[0] == "cov"]
    assert all(r[2] <= r[6] <= r[2] + cfg["delta_j"] for r in cov)


@pytest.mark.parametrize("args,kw,count", [
    ((5, 4, 4, 2, "all"), dict(extras=()), 28416),
    ((5, 4, 4, 2, "all"), {}, 28564),
    ((5, 4, 4, 4, "all"), dict(extras=()), 35520),
    ((5, 4, 4, 4, "all"), {}, 35668),
    ((5, 4, 4, 4, "same"), dict(extras=()), 3840),
    ((5, 4, 4, 4, "same"), {}, 3988),
    ((4, 4, 4, 2, "all"), dict(extras=()), 16704),
    ((4, 4, 4, 2, "all"), {}, 16820),
    ((3, 4, 4, 2, "all"), dict(extras=()), 8064),
    ((3, 4, 4, 2, "all"), {}, 8148),
    ((5, 4, 4, 4, "samec"), dict(color=True, extras=()), 112320),
    ((5, 4, 4, 4, "samec"), dict(color=True), 112986),
    ((5, 4, 4, 4, "samec"), dict(color=True, extras=("lowpass", "haar", "color")), 112995),
])
def test_stat_count_paper_table(args, kw, count):
    assert alpha_stat_count(*args, **kw) == count


def test_stat_count_of_a_built_module_matches_paper_j3():
    assert AlphaStats(32, 32, J=3, mask=False).n_stats == 8148
    assert AlphaStats(32, 32, J=3, mask=False, extras=()).n_stats == 8064


# --------------------------------------------------------------------------------------------- invariants
@pytest.fixture(scope="module")
def grey_fit():
    x = torch.rand(32, 32, generator=torch.Generator().manual_seed(5))
    op = AlphaStats(32, 32, J=3, mask=False)
    K = op.set_target(x)
    return op, x, K


def test_translation_invariance(grey_fit):
    op, x, K = grey_fit
    for shift in [(3, -5), (16, 1)]:
        K2 = op(torch.roll(x, shift, dims=(0, 1)))
        assert torch.allclose(K2, K, atol=1e-5, rtol=0)


def test_loss_and_relative_error_vanish_at_the_observation(grey_fit):
    op, x, K = grey_fit
    assert float(op.loss(x)) == 0.0 and float(op.relative_error(x)) == 0.0
    y = torch.rand(32, 32, generator=torch.Generator().manual_seed(6))
    assert float(op.loss(y)) > 0
    assert torch.allclose(op.relative_error(y), op.loss(y) / K.square().sum())
    assert op.loss(torch.stack([x, y])).shape == (2,)


def test_unit_variance_and_shift_symmetry_of_autocorrelations(grey_fit):
    op, x, K = grey_fit
    table = op.index_table()
    where = {r: i for i, r in enumerate(table)}
    diag = [i for i, r in enumerate(table) if r[0] == "cov" and r[4] == 0 and r[1:4] == r[5:8] and r[8] == (0, 0)]
    assert len(diag) == op.J * op.L
    assert torch.allclose(K[diag], torch.ones(len(diag)), atol=1e-5)
    n_sym = 0
    for i, r in enumerate(table):
        if r[0] == "cov" and r[4] == 0 and r[1:4] == r[5:8]:
            mirror = where[r[:8] + ((-r[8][0], -r[8][1]),)]
            assert abs(float(K[i] - K[mirror])) < 1e-5
            n_sym += 1
        elif r[0] in ("lowpass", "haar"):
            mirror = where[r[:3] + ((-r[3][0], -r[3][1]),)]
            assert abs(float(K[i] - K[mirror])) < 1e-5
    assert n_sym == op.J * op.L * len(op.shifts)
    # off-diagonal correlations are correlations of standardised maps: |C| <= 1
    cov = torch.tensor([i for i, r in enumerate(table) if r[0] == "cov"])
    assert float(K[cov].abs().max()) <= 1 + 1e-5


def test_standardisation_is_frozen_on_the_observation(grey_fit):
    op, x, K = grey_fit
    R = op.std_maps(op.rectified_maps(x[None, None]))
    flat = R.movedim(1, 0).reshape(op.n_maps, -1)
    assert torch.allclose(flat.mean(1), torch.zeros(op.n_maps), atol=1e-5)
    assert torch.allclose(flat.std(1, correction=0), torch.ones(op.n_maps), atol=1e-4)
    mean, std = op.std_maps.mean.clone(), op.std_maps.std.clone()
    lp = op.std_lowpass.std.clone()
    y = 2.0 + 5.0 * torch.rand(32, 32, generator=torch.Generator().manual_seed(7))
    Ky = op(y)
    assert torch.equal(op.std_maps.mean, mean) and torch.equal(op.std_maps.std, std)
    assert torch.equal(op.std_lowpass.std, lp) and torch.equal(op.target, K)
    # frozen constants: a rescaled image is not standardised away
    assert not torch.allclose(op(3 * x), K, atol=1e-2)
    assert Ky.shape == K.shape


def _permuted_rows(op: AlphaStats, perm_l, wrap, haar_map, tau_map) -> list[tuple]:
    A = op.A
    out = []
    for r in op.index_table():
        if r[0] == "cov":
            _, c, j, l, a, c2, j2, l2, tau = r
            a_new = (-a) % A if wrap[l] else a
            out.append(("cov", c, j, perm_l[l], a_new, c2, j2, perm_l[l2], tau_map(tau)))
        elif r[0] == "lowpass":
            out.append(r[:3] + (tau_map(r[3]),))
        else:
            out.append(("haar", r[1], haar_map[r[2]], tau_map(r[3])))
    return out


def test_filter_angles_in_kymatio_order():
    angles = [p["angle"] for p in filter_params_2d(1, 4)]
    assert angles == pytest.approx([math.pi / 4, 0.0, -math.pi / 4, -math.pi / 2])


@pytest.mark.parametrize("kind", ["transpose", "flip_rows"])
def test_transpose_and_flip_equivariance_as_index_permutations(kind):
    """Angles (L=4) in kymatio order: pi/4, 0, -pi/4, -pi/2. Transposition maps theta -> pi/2 - theta, row
    flip theta -> pi - theta; an angle outside the bank is theta' + pi, whose wavelet is conj(psi_theta'),
    and rho_alpha(conj z) = rho_{-alpha}(z): the phase index a -> -a mod A."""
    x = torch.rand(32, 32, generator=torch.Generator().manual_seed(8))
    op, K = _fitted(x, J=3, L=4, A=4, delta_j=2, mask=False)
    K = K.clone()
    if kind == "transpose":
        y, tau_map = x.T.contiguous(), (lambda t: (t[1], t[0]))
        perm_l, wrap, haar_map = [0, 3, 2, 1], [False, True, True, True], [1, 0, 2]
        expected_angles = [math.pi / 2 - a for a in (math.pi / 4, 0.0, -math.pi / 4, -math.pi / 2)]
    else:
        y, tau_map = x.flip(0).contiguous(), (lambda t: (-t[0] + 0, t[1]))
        perm_l, wrap, haar_map = [2, 1, 0, 3], [True, True, True, False], [0, 1, 2]
        expected_angles = [math.pi - a for a in (math.pi / 4, 0.0, -math.pi / 4, -math.pi / 2)]
    # the permutation is the analytic one: image angle = bank angle + pi * wrap
    bank = [p["angle"] for p in filter_params_2d(1, 4)]
    for l in range(4):
        assert math.isclose(expected_angles[l], bank[perm_l[l]] + math.pi * wrap[l], abs_tol=1e-12) or \
            math.isclose(expected_angles[l], bank[perm_l[l]] + 2 * math.pi, abs_tol=1e-12)
    Ky = op.set_target(y)
    where = {r: i for i, r in enumerate(op.index_table())}
    mapped = _permuted_rows(op, perm_l, wrap, haar_map, tau_map)
    idx = torch.tensor([where[r] for r in mapped])
    assert sorted(idx.tolist()) == list(range(op.n_stats))  # a permutation of the statistics
    assert torch.allclose(Ky, K[idx], atol=1e-4, rtol=0)
    assert not torch.allclose(Ky, K, atol=1e-3)  # the statistics do see the orientation


# ------------------------------------------------------------------------------------------ closed forms
@pytest.fixture(scope="module")
def gaussian_z():
    gen = torch.Generator().manual_seed(9)
    s2 = 2.5
    z = math.sqrt(s2 / 2) * torch.complex(torch.randn(10**6, generator=gen, dtype=F64),
                                          torch.randn(10**6, generator=gen, dtype=F64))
    return z, s2


def test_rectifier_gaussian_closed_forms(gaussian_z):
    z, s2 = gaussian_z
    s = math.sqrt(s2)
    U = phase_filter(z, 12)  # alpha_k = k pi / 6
    mean, var = U.mean(0), U.var(0)
    assert torch.allclose(mean, torch.full((12,), s / (2 * math.sqrt(math.pi)), dtype=F64), rtol=5e-3)
    assert torch.allclose(var, torch.full((12,), s2 * (0.25 - 0.25 / math.pi), dtype=F64), rtol=1e-2)
    Uc = U - mean
    for k in (2, 3, 6, 9):
        a = k * math.pi / 6
        a = min(a, 2 * math.pi - a)
        expected = s2 / (4 * math.pi) * (math.sin(a) + (math.pi - a) * math.cos(a) - 1)
        got = float((Uc[:, 0] * Uc[:, k]).mean())
        assert abs(got - expected) < 4e-3 * s2, (k, got, expected)
    assert s2 / (4 * math.pi) * (math.sin(math.pi / 3) + 2 * math.pi / 3 * 0.5 - 1) > 0.07 * s2  # a nontrivial case


def test_rectifier_identities(gaussian_z):
    z, _ = gaussian_z
    U = phase_filter(z[:10000], 4)
    assert torch.allclose(U[:, 0] - U[:, 2], z[:10000].real, atol=1e-12)
    assert torch.allclose(U.sum(-1), z[:10000].real.abs() + z[:10000].imag.abs(), atol=1e-12)
    assert torch.allclose(U[:, 1], torch.relu(z[:10000].imag), atol=1e-12)  # e^{-i alpha}: rho_{pi/2} = ReLU(Im z)
    assert torch.allclose(U[:, 1] - U[:, 3], z[:10000].imag, atol=1e-12)


def test_white_noise_through_bump_wavelet_matches_closed_forms():
    M = 256
    psi = bump_steerable_2d_hat(M, M, 1, 0.3, 4)
    x = torch.randn(M, M, generator=torch.Generator().manual_seed(10), dtype=F64)
    v = 1.0
    z = torch.fft.ifft2(torch.fft.fft2(x) * psi)
    s2 = v * float(psi.square().sum()) / M**2
    U = phase_filter(z, 2)
    m = U.mean((0, 1))
    assert torch.allclose(m, torch.full((2,), math.sqrt(s2) / (2 * math.sqrt(math.pi)), dtype=F64), rtol=0.03)
    cov = float(((U[..., 0] - m[0]) * (U[..., 1] - m[1])).mean())
    assert cov == pytest.approx(-s2 / (4 * math.pi), rel=0.03)


# --------------------------------------------------------------------------------------------- gradients
def test_gradcheck_grey_float64():
    gen = torch.Generator().manual_seed(11)
    op = AlphaStats(16, 16, J=2, L=2, A=2, delta_j=1, mask=True, extras=("lowpass", "haar")).double()
    op.set_target(torch.rand(16, 16, generator=gen, dtype=F64))
    W = torch.randn(op.n_stats, 3, generator=gen, dtype=F64)
    x = torch.rand(16, 16, generator=gen, dtype=F64).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: op(t) @ W, (x,), eps=1e-7, atol=1e-6)
    assert torch.autograd.gradcheck(op.loss, (x,), eps=1e-7, atol=1e-6)


def test_gradcheck_colour_float64():
    gen = torch.Generator().manual_seed(12)
    op = AlphaStats(16, 16, J=2, L=2, A=2, delta_j=1, shift="samec", color=True,
                    extras=("lowpass", "haar", "color")).double()
    op.set_target(torch.rand(3, 16, 16, generator=gen, dtype=F64))
    W = torch.randn(op.n_stats, 2, generator=gen, dtype=F64)
    W[-9:] *= 50  # weigh the colour correlation term
    x = torch.rand(3, 16, 16, generator=gen, dtype=F64).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: op(t) @ W, (x,), eps=1e-7, atol=1e-6)


# ---------------------------------------------------------------------------------------- implementations
def test_fft_and_direct_modules_agree_with_gram():
    gen = torch.Generator().manual_seed(13)
    x, y = torch.rand(2, 16, 16, generator=gen)
    Ks = []
    for method in ("gram", "fft", "direct"):
        op = AlphaStats(16, 16, J=2, L=2, A=2, delta_j=1, method=method)
        op.set_target(x)
        Ks.append(op(y))
    assert torch.allclose(Ks[1], Ks[0], atol=1e-5) and torch.allclose(Ks[2], Ks[0], atol=1e-5)


def test_batch_of_images_equals_images_one_by_one():
    gen = torch.Generator().manual_seed(14)
    x = torch.rand(2, 3, 16, 16, generator=gen)
    op = AlphaStats(16, 16, J=2, L=2, A=2, delta_j=1)
    op.set_target(x[0, 0])
    K = op(x)
    assert K.shape == (2, 3, op.n_stats)
    assert torch.allclose(K[1, 2], op(x[1, 2]), atol=1e-6)


# -------------------------------------------------------------------------------------------------- colour
def test_color_correlation_properties():
    gen = torch.Generator().manual_seed(15)
    base = torch.randn(3, 1, 16, 16, generator=gen, dtype=F64)
    x = torch.cat([base[0], base[0] + base[1], base[2] - 0.5 * base[0]])
    C = color_correlation(x)
    assert C.shape == (3, 3)
    assert torch.allclose(C.diagonal(), torch.ones(3, dtype=F64), atol=1e-12)
    assert torch.allclose(C, C.T, atol=1e-14)
    assert float(torch.linalg.eigvalsh(C).min()) > 0
    assert float(C[0, 1]) > 0.5 and float(C[0, 2]) < -0.2
    affine = torch.tensor([2.0, 0.1, 7.0], dtype=F64)[:, None, None] * x + torch.tensor([-3.0, 5.0, 0.2], dtype=F64)[:, None, None]
    assert torch.allclose(color_correlation(affine), C, atol=1e-12)
    flipped = x * torch.tensor([1.0, -1.0, 1.0], dtype=F64)[:, None, None]
    assert torch.allclose(color_correlation(flipped)[0, 1], -C[0, 1])
    assert color_correlation(torch.stack([x, affine])).shape == (2, 3, 3)


def test_color_correlation_constant_channel_raises():
    x = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(16))
    x[0] = 0.0
    with pytest.raises(ValueError, match="x: expected colour channels that are not constant"):
        color_correlation(x)
    # a constant that is not exactly representable must raise too (its rounded mean is not the constant)
    x[0] = 0.3
    with pytest.raises(ValueError, match="constant"):
        color_correlation(x)
    with pytest.raises(ValueError, match="x"):
        color_correlation(torch.rand(4, 16, 16))


# ---------------------------------------------------------------------------------------------------- haar
def test_haar_fourier_moduli():
    M, N = 8, 12
    h = haar_highpass_2d(M, N, dtype=torch.complex128)
    assert h.shape == (3, M, N)
    mod = h.abs()
    assert torch.allclose(mod[:, 0, 0], torch.zeros(3, dtype=F64), atol=1e-15)
    assert float(mod[0, 0, N // 2]) == pytest.approx(1.0) and float(mod[1, M // 2, 0]) == pytest.approx(1.0)
    assert float(mod[2, M // 2, N // 2]) == pytest.approx(1.0)
    assert float(mod.max()) == pytest.approx(1.0)
    # closed form |h1| = |cos(w1/2) sin(w2/2)|
    w1 = 2 * math.pi * torch.fft.fftfreq(M, dtype=F64)[:, None]
    w2 = 2 * math.pi * torch.fft.fftfreq(N, dtype=F64)[None, :]
    assert torch.allclose(mod[0], (torch.cos(w1 / 2) * torch.sin(w2 / 2)).abs(), atol=1e-12)
    assert torch.allclose(mod[2], (torch.sin(w1 / 2) * torch.sin(w2 / 2)).abs(), atol=1e-12)
    with pytest.raises(TypeError, match="dtype"):
        haar_highpass_2d(M, N, dtype=F64)


def test_haar_fourier_filtering_equals_direct_correlation():
    M, N = 10, 14
    x = torch.randn(M, N, generator=torch.Generator().manual_seed(17), dtype=F64)
    h = haar_highpass_2d(M, N, dtype=torch.complex128)
    fourier = torch.fft.ifft2(torch.fft.fft2(x) * h)
    assert float(fourier.imag.abs().max()) < 1e-12
    for k in range(3):
        direct = sum(HAAR_KERNELS[k, v0, v1] * torch.roll(x, (v0, v1), dims=(0, 1)) for v0 in (0, 1) for v1 in (0, 1))
        assert torch.allclose(fourier[k].real, direct, atol=1e-12)


# ---------------------------------------------------------------------------------------------- bad inputs
def test_bad_inputs_name_the_argument(grey_fit):
    op, x, _ = grey_fit
    with pytest.raises(ValueError, match="x"):
        op(torch.rand(32, 16))
    with pytest.raises(ValueError, match="x: expected torch.float32"):
        op(x.double())
    with pytest.raises(ValueError, match="shift"):
        AlphaStats(16, 16, J=2, shift="samec")
    with pytest.raises(ValueError, match="extras"):
        AlphaStats(16, 16, J=2, extras=("color",))
    with pytest.raises(ValueError, match="extras"):
        AlphaStats(16, 16, J=2, extras=("bandpass",))
    with pytest.raises(ValueError, match="shift"):
        AlphaStats(16, 16, J=2, shift="diag")
    with pytest.raises(ValueError, match="method"):
        AlphaStats(16, 16, J=2, method="loop")
    fresh = AlphaStats(16, 16, J=2, L=2, A=2)
    with pytest.raises(RuntimeError, match="set_target"):
        fresh(torch.rand(16, 16))
    with pytest.raises(RuntimeError, match="set_target"):
        fresh.loss(torch.rand(16, 16))
    colour = AlphaStats(16, 16, J=2, L=2, A=2, shift="samec", color=True)
    with pytest.raises(ValueError, match="x"):
        colour.set_target(torch.rand(16, 16))


def test_stat_count_docstring_keeps_its_latex():
    """A single backslash in a non-raw docstring: ``c\\ne c'`` became a newline and "e c'"."""
    assert "c\\ne c'" in alpha_stat_count.__doc__
