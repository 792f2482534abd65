"""harmonia.nmf (chapter 13): the IS divergence and its MM/ME updates (monotonicity, column normalisation,
argument errors); frames, Tukey window and DCT-II against scipy; the split C_S = L_S + I_S, Hadamard's bound and its
invariances; transform steps (gradient against autograd, Jacobi pair coefficients, monotonicity, orthogonality);
three joint diagonalisers on exactly diagonalisable stacks (and pyriemann where installed); the GCM with the
paper's seeds (published gaps, Monte-Carlo identity of the oracle gap); TL-NMF against JD+NMF; atom tools; the
synthetic two-note signal, end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.fft
import scipy.signal
import scipy.special
import torch

from harmonia.config import make_generator
from harmonia.data.audio import harmonic_notes
from harmonia.manifolds import Orthogonal
from harmonia.nmf import (
    atom_subspace_distance,
    dct2_matrix,
    delta_L_inf,
    fit_sinusoids,
    frame_covariances,
    frames,
    gcm_frames,
    is_divergence,
    jacobi_jd,
    jacobi_angle,
    jacobi_pair_coefficients,
    jd_nmf,
    legacy_starts,
    losses,
    nmf_is,
    nmf_is_update,
    offdiag_criterion,
    oracle_gap,
    pham_criterion,
    pham_jd,
    qn_orth_jd,
    sort_atoms,
    spectrogram,
    tl_gradient,
    tl_nmf,
    tl_objective,
    tl_step_jacobi,
    tl_step_qn,
    tukey,
)

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def _orth(M, g):
    return Orthogonal.polar(torch.randn(M, M, generator=g, dtype=F64))


def _spd_stack(N, M, g):
    A = torch.randn(N, M, M, generator=g, dtype=F64)
    return A @ A.transpose(-1, -2) / M + 0.1 * torch.eye(M, dtype=F64)


def _exp1(shape, g):
    """Exponential(1) = Gamma(1, 1) = chi2_2 / 2 draws."""
    return torch.empty(shape, dtype=F64).exponential_(generator=g)


def _orth_err(Phi):
    return float((Phi.T @ Phi - torch.eye(Phi.shape[0], dtype=F64)).abs().max())


def _assert_permutation(P, tol):
    """P (abs values) is within tol of a permutation matrix."""
    R = torch.round(P)
    assert float((P - R).abs().max()) < tol, float((P - R).abs().max())
    ones = torch.ones(P.shape[0], dtype=F64)
    assert torch.equal(R.sum(0), ones) and torch.equal(R.sum(1), ones)


def _signed_permutation(M, g):
    perm = torch.randperm(M, generator=g)
    signs = torch.where(torch.rand(M, generator=g) < 0.5, -1.0, 1.0).to(F64)
    return torch.eye(M, dtype=F64)[perm] * signs[:, None], perm


# ---------------------------------------------------------------------------------------------
# IS divergence and IS-NMF
# ---------------------------------------------------------------------------------------------
def test_is_divergence_properties_and_numpy_formula():
    g = make_generator(0)
    a = _exp1((7, 9), g) + 0.01
    b = _exp1((7, 9), g) + 0.01
    ref = np.sum(a.numpy() / b.numpy() - np.log(a.numpy() / b.numpy()) - 1)
    assert abs(float(is_divergence(a, b)) - ref) < 1e-12 * ref
    ref_eps = np.sum((a.numpy() + 0.3) / b.numpy() - np.log((a.numpy() + 0.3) / b.numpy()) - 1)
    assert abs(float(is_divergence(a, b, 0.3)) - ref_eps) < 1e-12 * ref_eps
    # entrywise (as a batch of 1x1 matrices): >= 0, and zero exactly where the entries agree
    ab = torch.stack([a.flatten(), b.flatten()], 0)
    d = is_divergence(a.reshape(-1, 1, 1), b.reshape(-1, 1, 1))
    assert d.shape == (63,) and bool((d > 0).all())
    assert float(is_divergence(a, a)) == 0.0
    assert float(is_divergence(ab[0].reshape(-1, 1, 1), ab[0].reshape(-1, 1, 1)).abs().max()) == 0.0
    # scale invariance
    for lam in (1e-3, 7.0, 1e4):
        assert abs(float(is_divergence(lam * a, lam * b)) - float(is_divergence(a, b))) < 1e-10 * ref
    # not symmetric (so the data-first convention matters)
    assert abs(float(is_divergence(a, b)) - float(is_divergence(b, a))) > 1e-3


def _nmf_problem(seed=0, M=30, N=60, K=4):
    g = make_generator(seed)
    Wb, Hb = _exp1((M, K), g), _exp1((K, N), g)
    V = (Wb @ Hb) * _exp1((M, N), g)                     # E ~ chi2_2 / 2
    W0 = torch.rand(M, K, generator=g, dtype=F64) + 0.5
    H0 = torch.rand(K, N, generator=g, dtype=F64) + 0.5
    return V, W0, H0


def test_mm_updates_never_increase_the_objective():
    V, W0, H0 = _nmf_problem()
    for eps in (0.0, 1e-3):
        _, _, hist = nmf_is(V, W0, H0, 100, eps, gamma=0.5)
        assert hist.shape == (101,)
        assert bool((hist[1:] <= hist[:-1] * (1 + 1e-12)).all())
        assert float(hist[-1]) < 0.9 * float(hist[0])
        # the history is the objective D_IS(V + eps | WH + eps)
        W, H, _ = nmf_is(V, W0, H0, 100, eps, gamma=0.5)
        f = ((V + eps) / (W @ H + eps))
        assert abs(float((f - torch.log(f) - 1).sum()) - float(hist[-1])) < 1e-10 * float(hist[-1])


def test_me_updates_decrease_and_beat_mm():
    V, W0, H0 = _nmf_problem()
    _, _, mm = nmf_is(V, W0, H0, 200, 0.0, gamma=0.5)
    _, _, me = nmf_is(V, W0, H0, 200, 0.0, gamma=1.0)
    assert float(me[-1]) < float(me[0])
    assert bool((me[1:] <= me[:-1] * (1 + 1e-9)).all())
    reached = (me <= mm[-1]).nonzero()
    assert reached.numel() > 0
    assert int(reached[0]) < 200                          # ME gets there in fewer iterations
    assert float(me[-1]) < float(mm[-1]) - 1e-3 * float(mm[-1])


def test_columns_of_w_sum_to_one_after_each_update():
    V, W, H = _nmf_problem(seed=1)
    W = W * 3.0                                           # start unnormalised
    for gamma in (0.5, 1.0):
        Wg, Hg = W, H
        for _ in range(5):
            before = Wg @ Hg
            Wg, Hg = nmf_is_update(V, Wg, Hg, 1e-6, gamma)
            assert torch.allclose(Wg.sum(0), torch.ones(Wg.shape[1], dtype=F64), atol=1e-13)
            assert bool((Wg > 0).all()) and bool((Hg > 0).all())
            assert not torch.allclose(Wg @ Hg, before)


def test_bad_inputs_name_the_argument():
    V, W0, H0 = _nmf_problem(M=5, N=6, K=2)
    with pytest.raises(ValueError, match="^V: "):
        nmf_is(-V, W0, H0, 3)
    with pytest.raises(ValueError, match="W0"):
        nmf_is(V, 0 * W0, H0, 3)
    with pytest.raises(ValueError, match="H0"):
        nmf_is(V, W0, -H0, 3)
    with pytest.raises(ValueError, match="^W0: "):
        nmf_is(V, W0[:4], H0, 3)
    with pytest.raises(ValueError, match="^H0: "):
        nmf_is(V, W0, H0[:, :5], 3)
    with pytest.raises(ValueError, match="^H0: "):
        nmf_is(V, W0, H0[:1], 3)
    with pytest.raises(ValueError, match="^Vhat: "):
        is_divergence(V, V[:, :5])


# ---------------------------------------------------------------------------------------------
# Frames, window, DCT
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("M", [8, 63, 80])
@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.5, 1.0])
def test_tukey_matches_scipy(M, alpha):
    assert np.allclose(tukey(M, alpha).numpy(), scipy.signal.get_window(("tukey", alpha), M), rtol=0, atol=1e-13)
    assert np.allclose(tukey(M, alpha, periodic=False).numpy(), scipy.signal.windows.tukey(M, alpha), rtol=0,
                       atol=1e-13)


@pytest.mark.parametrize("L", [1000, 1037])
@pytest.mark.parametrize(("M", "hop"), [(80, 40), (80, 20), (64, 16)])
def test_frames_match_scipy_stft(L, M, hop):
    y = np.random.default_rng(L + hop).standard_normal(L)
    _, _, Z = scipy.signal.stft(y, 2000, window=("tukey", 0.1), nperseg=M, noverlap=M - hop, return_onesided=False)
    ref = np.real(np.fft.ifft(Z, axis=0))
    F = frames(torch.from_numpy(y), M, hop)
    assert F.shape == ref.shape
    assert np.allclose(F.numpy(), ref, rtol=0, atol=1e-14 * np.abs(ref).max() * M)
    # batched input gives the same frames per signal
    Fb = frames(torch.stack([torch.from_numpy(y), -torch.from_numpy(y)]), M, hop)
    assert torch.allclose(Fb[0], F) and torch.allclose(Fb[1], -F)


@pytest.mark.parametrize("M", [8, 80])
def test_dct2_is_orthonormal_and_matches_scipy(M):
    Phi = dct2_matrix(M)
    assert float((Phi @ Phi.T - torch.eye(M, dtype=F64)).abs().max()) < 1e-12
    assert np.allclose(Phi.numpy(), scipy.fft.dct(np.eye(M), type=3, norm="ortho"), rtol=0, atol=1e-12)
    x = np.random.default_rng(M).standard_normal(M)
    assert np.allclose(Phi.numpy() @ x, scipy.fft.dct(x, type=2, norm="ortho"), rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# The split C_S = L_S + I_S
# ---------------------------------------------------------------------------------------------
def _split_problem(seed, M=6, N=9, K=3):
    g = make_generator(seed)
    Phi = _orth(M, g)
    C = _spd_stack(N, M, g)
    W = _exp1((M, K), g) + 0.1
    H = _exp1((K, N), g) + 0.1
    return Phi, W, H, C


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_identity_and_hadamard_bound(seed):
    Phi, W, H, C = _split_problem(seed)
    M, N = C.shape[1], C.shape[0]
    for eps in (0.0, 1e-3, 0.5):
        out = losses(Phi, W, H, C, eps)
        assert abs(out["C_S"] - (out["L_S"] + out["I_S"])) < 1e-10 * abs(out["C_S"])
        assert out["I_S"] >= 0
        # direct formulas
        V = np.einsum("mi,nij,mj->mn", Phi.numpy(), C.numpy(), Phi.numpy()) + eps
        Vh = W.numpy() @ H.numpy() + eps
        assert abs(out["C_S"] - np.sum(V / Vh + np.log(Vh))) < 1e-10 * abs(out["C_S"])
        assert abs(out["L_S"] - np.sum(np.log(V) + 1)) < 1e-10 * abs(out["L_S"])
        # Hadamard: L_S >= sum_n logdet(C_n + eps I) + M N, for every orthogonal Phi
        bound = float(torch.logdet(C + eps * torch.eye(M, dtype=F64)).sum()) + M * N
        assert out["L_S"] >= bound
        assert out["L_S"] - bound > 1e-3                   # strict for a generic (non-commuting) stack


def test_hadamard_bound_is_attained_by_the_joint_diagonaliser():
    g = make_generator(3)
    M, N, eps = 5, 8, 1e-2
    Phibar = _orth(M, g)
    d = _exp1((N, M), g) + 0.1
    C = Phibar.T @ torch.diag_embed(d) @ Phibar
    W, H = _exp1((M, 2), g) + 0.1, _exp1((2, N), g) + 0.1
    bound = float(torch.logdet(C + eps * torch.eye(M, dtype=F64)).sum()) + M * N
    assert abs(losses(Phibar, W, H, C, eps)["L_S"] - bound) < 1e-10 * abs(bound)
    assert losses(_orth(M, g), W, H, C, eps)["L_S"] > bound + 1e-2


def test_split_is_invariant_to_signed_permutations():
    Phi, W, H, C = _split_problem(4)
    P, perm = _signed_permutation(Phi.shape[0], make_generator(5))
    assert not torch.equal(perm, torch.arange(len(perm)))
    a = losses(Phi, W, H, C, 1e-3)
    b = losses(P @ Phi, W[perm], H, C, 1e-3)
    assert abs(a["C_S"] - b["C_S"]) < 1e-12 * abs(a["C_S"])
    assert abs(a["L_S"] - b["L_S"]) < 1e-12 * abs(a["L_S"])
    # permuting Phi without W changes the fit (so the check above has teeth)
    assert abs(losses(P @ Phi, W, H, C, 1e-3)["C_S"] - a["C_S"]) > 1e-6 * abs(a["C_S"])


def test_spectrogram_from_covariances_equals_mean_power_of_transformed_frames():
    g = make_generator(6)
    S, M, N = 7, 5, 11
    Y = torch.randn(S, M, N, generator=g, dtype=F64)
    C = frame_covariances(Y)
    assert C.shape == (N, M, M)
    assert np.allclose(C.numpy(), np.einsum("smn,skn->nmk", Y.numpy(), Y.numpy()) / S, rtol=0, atol=1e-14)
    Phi = _orth(M, g)
    assert torch.allclose(spectrogram(Phi, C), ((Phi @ Y) ** 2).mean(0), rtol=1e-12, atol=1e-14)
    # the mean spectrogram does not depend on the orthogonal transform
    target = float(torch.diagonal(C, dim1=-2, dim2=-1).sum()) / (M * N)
    for P in (Phi, _orth(M, g), dct2_matrix(M), torch.eye(M, dtype=F64)):
        assert abs(float(spectrogram(P, C).mean()) - target) < 1e-12 * target
    # ... but a non-orthogonal one does
    assert abs(float(spectrogram(2 * Phi, C).mean()) - target) > target


def test_single_realisation_L1_is_log_of_squared_coefficients():
    g = make_generator(7)
    M, N, eps = 6, 10, 1e-4
    Y = torch.randn(1, M, N, generator=g, dtype=F64)
    Phi = _orth(M, g)
    W, H = _exp1((M, 2), g) + 0.1, _exp1((2, N), g) + 0.1
    L1 = losses(Phi, W, H, frame_covariances(Y), eps)["L_S"]
    X = (Phi @ Y[0]).numpy()
    ref = np.sum(np.log(X**2 + eps)) + M * N
    assert abs(L1 - ref) < 1e-12 * abs(ref)


# ---------------------------------------------------------------------------------------------
# Transform steps
# ---------------------------------------------------------------------------------------------
def _tl_problem(seed, M=6, N=15, K=2):
    g = make_generator(seed)
    C = _spd_stack(N, M, g)
    Phi = _orth(M, g)
    Vhat = 0.5 + 1.5 * torch.rand(M, N, generator=g, dtype=F64)       # U = 1 / Vhat in [0.5, 2]
    return Phi, C, Vhat, g


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_tl_gradient_matches_autograd(eps):
    Phi, C, Vhat, g = _tl_problem(10)
    M = Phi.shape[0]
    G, Hd = tl_gradient(Phi, C, Vhat, eps)
    assert torch.allclose(G, -G.T, atol=0) and torch.allclose(Hd, Hd.T, atol=0)
    iu = torch.triu_indices(M, M, 1)
    for _ in range(3):
        A = torch.randn(M, M, generator=g, dtype=F64)
        E = A - A.T
        t = torch.zeros((), dtype=F64, requires_grad=True)
        f = tl_objective(torch.linalg.matrix_exp(t * E) @ Phi, C, Vhat, eps)
        (dfdt,) = torch.autograd.grad(f, t)
        docstring = 2 * (G[iu[0], iu[1]] * E[iu[0], iu[1]]).sum()          # 2 sum_{i<j} G_ij E_ij
        assert abs(float(dfdt) - float(docstring)) < 1e-10 * max(1.0, abs(float(dfdt)))
        assert abs(float(dfdt) - float((G * E).sum())) < 1e-10 * max(1.0, abs(float(dfdt)))
    # the diagonal Hessian: the curvature along E = e_i e_j^T - e_j e_i^T is 2 H_ij - H_ii - H_jj <= 2 H_ij
    for i, j in ((0, 1), (2, 5)):
        E = torch.zeros(M, M, dtype=F64)
        E[i, j], E[j, i] = 1.0, -1.0
        t = torch.zeros((), dtype=F64, requires_grad=True)
        f = tl_objective(torch.linalg.matrix_exp(t * E) @ Phi, C, Vhat, eps)
        (d1,) = torch.autograd.grad(f, t, create_graph=True)
        (d2,) = torch.autograd.grad(d1, t)
        d1 = d1.detach()
        assert abs(float(d1) - 2 * float(G[i, j])) < 1e-10 * max(1.0, abs(float(d1)))
        assert abs(float(d2) - float(2 * Hd[i, j] - Hd[i, i] - Hd[j, j])) < 1e-9 * float(Hd.abs().max())
        assert float(d2) <= 2 * float(Hd[i, j])


@pytest.mark.parametrize("step", [tl_step_qn, tl_step_jacobi], ids=["qn", "jacobi"])
def test_tl_steps_are_monotone_and_stay_orthogonal(step):
    Phi, C, Vhat, _ = _tl_problem(11)
    eps = 0.05
    f = [float(tl_objective(Phi, C, Vhat, eps))]
    for k in range(100):
        Phi = step(Phi, C, Vhat, eps)
        if k < 50:
            f.append(float(tl_objective(Phi, C, Vhat, eps)))
    f = np.array(f)
    assert np.all(f[1:] <= f[:-1] * (1 + 1e-14))
    assert f[-1] < f[0] - 1e-3 * abs(f[0])                  # the steps do move
    assert _orth_err(Phi) < 1e-10


def test_many_givens_rotations_stay_orthogonal():
    g = make_generator(12)
    M = 7
    Phi = _orth(M, g)
    pairs = torch.randint(0, M, (1000, 2), generator=g)
    theta = 2 * math.pi * torch.rand(1000, generator=g, dtype=F64)
    n = 0
    for (p, q), th in zip(pairs.tolist(), theta):
        if p == q:
            continue
        Phi = Orthogonal.rotate_rows(Phi, p, q, torch.cos(th), torch.sin(th))
        n += 1
    assert n > 800
    assert _orth_err(Phi) < 1e-12


def test_jacobi_pair_coefficients_and_closed_form_minimiser():
    Phi, C, Vhat, _ = _tl_problem(13)
    M, eps = Phi.shape[0], 0.1
    f0 = float(tl_objective(Phi, C, Vhat, eps))
    thetas = torch.linspace(-math.pi / 2, math.pi / 2, 2000, dtype=F64)
    for p, q in ((0, 1), (1, 4), (3, 5)):
        B, Cc = jacobi_pair_coefficients(Phi, C, Vhat, eps, p, q)
        for th in thetas[::97]:
            f = float(tl_objective(Orthogonal.givens(M, p, q, th) @ Phi, C, Vhat, eps))
            pred = float(B) * (math.cos(2 * th) - 1) + float(Cc) * math.sin(2 * th)
            assert abs(f - f0 - pred) < 1e-10 * max(1.0, abs(f0))
        grid = min(float(tl_objective(Orthogonal.givens(M, p, q, th) @ Phi, C, Vhat, eps)) for th in thetas)
        th_star = 0.5 * math.atan2(-float(Cc), -float(B))     # (cos 2t, sin 2t) = -(B, C) / r
        best = float(tl_objective(Orthogonal.givens(M, p, q, th_star) @ Phi, C, Vhat, eps))
        assert best <= grid + 1e-12 * abs(grid)
        assert best < f0 - 1e-6                               # a random transform is not pair-optimal
        # jacobi_angle lands on the grid's minimiser (angles mod pi, within one grid step)
        vals = torch.tensor([float(tl_objective(Orthogonal.givens(M, p, q, th) @ Phi, C, Vhat, eps)) for th in thetas])
        th_grid, th_lib = float(thetas[vals.argmin()]), float(jacobi_angle(Phi, C, Vhat, eps, p, q))
        gap = abs(th_lib - th_grid) % math.pi
        assert min(gap, math.pi - gap) <= math.pi / 1999 + 1e-12
        assert -math.pi / 2 < th_lib <= math.pi / 2
    # tl_step_jacobi is that closed-form rotation applied to every pair in turn
    ref = Phi
    for p in range(M - 1):
        for q in range(p + 1, M):
            B, Cc = jacobi_pair_coefficients(ref, C, Vhat, eps, p, q)
            ref = Orthogonal.givens(M, p, q, 0.5 * math.atan2(-float(Cc), -float(B))) @ ref
    assert torch.allclose(tl_step_jacobi(Phi, C, Vhat, eps), ref, rtol=0, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# Joint diagonalisation
# ---------------------------------------------------------------------------------------------
def _orth_stack(seed, N=20, M=6):
    g = make_generator(seed)
    Phibar = _orth(M, g)
    d = torch.exp(torch.randn(N, M, generator=g, dtype=F64))
    return Phibar.T @ torch.diag_embed(d) @ Phibar, Phibar, g


def test_qn_orth_jd_recovers_the_orthogonal_diagonaliser():
    C, Phibar, g = _orth_stack(20)
    res = qn_orth_jd(C, _orth(6, g), max_iter=1000, gtol=1e-9)      # stops at ||G|| < gtol sqrt(M)
    _assert_permutation((res.B @ Phibar.T).abs(), 1e-6)
    assert res.converged and res.gnorm[-1] < 1e-8
    assert _orth_err(res.B) < 1e-12
    assert all(b < a for a, b in zip(res.loss, res.loss[1:]))
    assert float(offdiag_criterion(res.B, C)) < 1e-16 * float((C**2).sum())


def test_qn_orth_jd_reports_convergence_on_an_approximately_diagonalisable_stack():
    """At a stationary point of the orthogonal criterion only skew(G) vanishes, so the stopping test and the
    recorded gnorm should measure it (the GCM covariance stack is not exactly diagonalisable)."""
    data = gcm_frames(100)
    C = frame_covariances(data.Y) + 1e-8 * torch.eye(10, dtype=F64)
    res = qn_orth_jd(C, legacy_starts(10, 5, 50, 1)[0][0], max_iter=1000)
    D = res.B @ C @ res.B.T
    d = torch.diagonal(D, dim1=-2, dim2=-1)
    G = (D / d[:, :, None]).mean(0) - torch.eye(10, dtype=F64)
    assert float(torch.linalg.matrix_norm(G - G.T)) / 2 < 1e-6        # it did reach a stationary point
    assert res.converged and res.gnorm[-1] < 1e-8 * math.sqrt(10)


def test_jacobi_jd_recovers_the_orthogonal_diagonaliser():
    C, Phibar, g = _orth_stack(21)
    res = jacobi_jd(C, _orth(6, g), max_sweeps=100)
    _assert_permutation((res.B @ Phibar.T).abs(), 1e-6)
    assert res.converged and _orth_err(res.B) < 1e-12
    loss = np.array(res.loss)
    assert np.all(loss[1:] <= loss[:-1] + 1e-12 * loss[0])
    assert loss[-1] < 1e-20 * loss[0]


def test_pham_jd_recovers_a_non_orthogonal_mixing():
    g = make_generator(22)
    N, M = 20, 6
    A = torch.randn(M, M, generator=g, dtype=F64) + 2 * torch.eye(M, dtype=F64)
    d = torch.exp(torch.randn(N, M, generator=g, dtype=F64))
    C = A @ torch.diag_embed(d) @ A.T
    res = pham_jd(C, max_sweeps=200)
    P = res.B @ A
    _assert_permutation((P / P.abs().max(1, keepdim=True).values).abs(), 1e-6)
    loss = np.array(res.loss)
    assert np.all(loss[1:] <= loss[:-1])
    assert loss[-1] < 1e-10 < loss[0]
    # rows are scaled so that the mean diagonal of B C_n B^T is 1
    Dm = torch.diagonal(res.B @ C @ res.B.T, dim1=-2, dim2=-1).mean(0)
    assert torch.allclose(Dm, torch.ones(M, dtype=F64), atol=1e-10)


def test_pham_criterion_is_flat_along_rotations_mixing_proportional_sources():
    """Two proportional rows of d: A^{-1} is not the only joint diagonaliser (JD is not unique)."""
    g = make_generator(23)
    N, M = 20, 5
    A = torch.randn(M, M, generator=g, dtype=F64) + 2 * torch.eye(M, dtype=F64)
    d = torch.exp(torch.randn(N, M, generator=g, dtype=F64))
    d_prop = d.clone()
    d_prop[:, 1] = 3 * d_prop[:, 0]
    T = torch.eye(M, dtype=F64)
    T[1, 1] = 1 / math.sqrt(3)
    Ainv = torch.linalg.inv(A)
    for theta in (0.0, 0.3, 1.1):
        B = Orthogonal.givens(M, 0, 1, theta) @ T @ Ainv
        flat = float(pham_criterion(B, A @ torch.diag_embed(d_prop) @ A.T))
        generic = float(pham_criterion(B, A @ torch.diag_embed(d) @ A.T))
        assert abs(flat) < 1e-10
        assert (generic > 1e-3) == (theta != 0.0)


def test_rjd_of_pyriemann_spans_the_same_atoms():
    try:
        from pyriemann.geometry.ajd import rjd
    except ImportError:
        rjd = pytest.importorskip("pyriemann.utils.ajd").rjd
    C, Phibar, _ = _orth_stack(24)
    V = torch.from_numpy(np.asarray(rjd(C.numpy())[0]))
    _assert_permutation((V.T @ Phibar.T).abs(), 1e-6)
    ours = qn_orth_jd(C, max_iter=1000).B
    _assert_permutation((V.T @ ours.T).abs(), 1e-6)


# ---------------------------------------------------------------------------------------------
# The Gaussian composite model with the paper's seeds
# ---------------------------------------------------------------------------------------------
def _best_jd(C, eps=1e-8, n_starts=5):
    M = C.shape[1]
    best = None
    for Phi0, _, _ in legacy_starts(M, 5, C.shape[0], n_starts):
        r = qn_orth_jd(C + eps * torch.eye(M, dtype=F64), Phi0, max_iter=1000)
        if best is None or r.loss[-1] < best.loss[-1]:
            best = r
    return best.B


def test_gcm_reproduces_the_papers_gaps():
    eps = 1e-8
    d100 = gcm_frames(100)
    C = frame_covariances(d100.Y)
    Phi = _best_jd(C, eps)
    assert abs(oracle_gap(Phi, C, d100.Phibar, d100.Vbar, eps) - 5.58) < 0.05
    assert abs(delta_L_inf(Phi, d100.Phibar, d100.Vbar) - 0.457) < 0.01
    d1000 = gcm_frames(1000)
    C = frame_covariances(d1000.Y)
    Phi = _best_jd(C, eps)
    assert abs(oracle_gap(Phi, C, d1000.Phibar, d1000.Vbar, eps) - 0.555) < 0.005


def test_gcm_frames_restore_numpy_state_and_are_nested():
    np.random.seed(123)
    expected = np.random.rand(3)
    np.random.seed(123)
    big = gcm_frames(10)
    assert np.array_equal(np.random.rand(3), expected)
    small = gcm_frames(3)
    assert big.Y.shape == (10, 10, 50) and small.Y.shape == (3, 10, 50)
    assert torch.equal(big.Y[:3], small.Y)
    assert torch.equal(big.Wbar, small.Wbar) and torch.equal(big.Hbar, small.Hbar)
    assert torch.allclose(big.Phibar, dct2_matrix(10), atol=0)
    assert not torch.equal(gcm_frames(3, data_seed=101).Y, small.Y)
    assert torch.equal(gcm_frames(3, data_seed=101).Wbar, small.Wbar)
    # frames are Phibar^T X with X_mn ~ N(0, Vbar_mn): the coefficients have the model variance
    X = big.Phibar @ gcm_frames(400).Y
    ratio = (X**2).mean(0) / big.Vbar
    assert abs(float(ratio.mean()) - 1) < 0.02


def test_gcm_oracle_gap_at_the_truth_matches_its_expectation():
    S, M, N = 100, 10, 50
    gaps = []
    for seed in range(20):
        data = gcm_frames(S, data_seed=1000 + seed)
        gaps.append(oracle_gap(data.Phibar, frame_covariances(data.Y), data.Phibar, data.Vbar, 0.0))
    expected = M * N * (math.log(S / 2) - scipy.special.digamma(S / 2))
    assert abs(np.mean(gaps) / expected - 1) < 0.15
    assert np.std(gaps) > 0


def test_delta_L_inf_vanishes_exactly_at_signed_permutations_of_the_truth():
    data = gcm_frames(1)
    Phibar, Vbar = data.Phibar, data.Vbar
    assert abs(delta_L_inf(Phibar, Phibar, Vbar)) < 1e-12
    P, _ = _signed_permutation(10, make_generator(30))
    assert abs(delta_L_inf(P @ Phibar, Phibar, Vbar)) < 1e-12
    g = make_generator(31)
    for _ in range(3):
        Phi = _orth(10, g)
        gap = delta_L_inf(Phi, Phibar, Vbar)
        assert gap > 0.1
        assert abs(delta_L_inf(P @ Phi, Phibar, Vbar) - gap) < 1e-10 * gap


def test_tl_nmf_matches_jd_nmf_on_the_gcm_at_large_S():
    eps = 1e-8
    data = gcm_frames(1000)
    C = frame_covariances(data.Y)
    tl = jd = None
    for Phi0, W0, H0 in legacy_starts(10, 5, 50, 2):
        r = tl_nmf(C, Phi0, W0, H0, eps=eps, n_outer=150)
        tl = r if tl is None or r.losses["C_S"] < tl.losses["C_S"] else tl
        r = jd_nmf(C, Phi0, W0, H0, eps=eps, n_jd=1000, n_nmf=1500)
        jd = r if jd is None or r.losses["C_S"] < jd.losses["C_S"] else jd
    assert abs(tl.losses["C_S"] - (tl.losses["L_S"] + tl.losses["I_S"])) < 1e-10 * abs(tl.losses["C_S"])
    assert tl.losses["I_S"] <= oracle_gap(jd.Phi, C, data.Phibar, data.Vbar, eps)
    assert abs(jd.losses["I_S"] - tl.losses["I_S"]) < 1e-2
    assert jd.losses["L_S"] <= tl.losses["L_S"] + 1e-9 * abs(tl.losses["L_S"])     # JD minimises L_S


def test_tl_nmf_history_is_monotone_at_S1():
    """QN transform steps with backtracking and ME updates (gamma = 1)."""
    data = gcm_frames(1)
    C = frame_covariances(data.Y)
    for Phi0, W0, H0 in legacy_starts(10, 5, 50, 2):
        r = tl_nmf(C, Phi0, W0, H0, eps=1e-8, n_outer=100)
        h = np.array(r.history)
        assert len(h) == 101
        assert np.all(h[1:] <= h[:-1] + 1e-9 * np.abs(h[:-1]))
        assert h[-1] < 0.2 * h[0]
        assert _orth_err(r.Phi) < 1e-10


# ---------------------------------------------------------------------------------------------
# Atoms
# ---------------------------------------------------------------------------------------------
def test_fit_sinusoids_recovers_pure_cosines():
    fs, M = 2000.0, 80
    g = make_generator(40)
    freqs = torch.tensor([440.0, 466.16, 880.0], dtype=F64)
    m = torch.arange(M, dtype=F64)
    phase = 2 * math.pi * torch.rand(3, 1, generator=g, dtype=F64)
    atoms = torch.cos(2 * math.pi * freqs[:, None] * m / fs + phase)
    atoms = atoms / atoms.norm(dim=1, keepdim=True)
    f, resid = fit_sinusoids(atoms, fs)
    assert torch.allclose(f, freqs, rtol=0, atol=0.05)
    assert float(resid.max()) < 1e-6
    # a random atom is not a sinusoid
    _, r = fit_sinusoids(torch.randn(1, M, generator=g, dtype=F64), fs)
    assert float(r[0]) > 0.5


def test_atom_subspace_distance():
    g = make_generator(41)
    Q = _orth(10, g)
    A, B = Q[:3], Q[3:6]
    # arccos is ill-conditioned at 1: exact-equal subspaces come out at ~sqrt(machine eps), not exactly 0
    assert atom_subspace_distance(A, A) < 1e-7
    assert atom_subspace_distance(A, _orth(3, g) @ A) < 1e-7             # a distance between row spaces
    assert abs(atom_subspace_distance(A, B) - math.sqrt(3) * math.pi / 2) < 1e-12
    C = Q[[0, 1, 4]]
    assert abs(atom_subspace_distance(A, C) - math.pi / 2) < 1e-12       # one principal angle of 90 degrees
    R = Orthogonal.givens(10, 2, 7, 0.3) @ Q
    assert abs(atom_subspace_distance(A, R[:3]) - 0.3) < 1e-12
    D = _orth(10, g)[:3]
    assert abs(atom_subspace_distance(A, D) - atom_subspace_distance(D, A)) < 1e-12


def test_sort_atoms():
    Phi, _, _, C = _split_problem(42, M=7, N=12)
    P, e = sort_atoms(Phi, C)
    assert abs(float(e.sum()) - 1) < 1e-12
    assert bool((e[1:] <= e[:-1]).all()) and bool((e > 0).all())
    energy = spectrogram(Phi, C).mean(1)
    order = [int((Phi == row).all(1).nonzero()) for row in P]
    assert sorted(order) == list(range(7))
    assert torch.allclose(e, energy[order] / energy.sum(), rtol=1e-12, atol=0)


# ---------------------------------------------------------------------------------------------
# The two-note signal
# ---------------------------------------------------------------------------------------------
def test_harmonic_notes():
    y, src = harmonic_notes(3, fs=2000.0, seg_len=0.25, seed=5)
    L = 3 * 500
    assert y.shape == (3, L) and src.shape == (3, 2, L) and y.dtype == F64
    assert torch.allclose(src.sum(1), y, atol=1e-15)
    y2, src2 = harmonic_notes(3, fs=2000.0, seg_len=0.25, seed=5)
    assert torch.equal(y, y2) and torch.equal(src, src2)
    assert not torch.equal(harmonic_notes(3, fs=2000.0, seg_len=0.25, seed=6)[0], y)
    assert not torch.equal(y[0], y[1])                                    # realisations differ by phase
    # segments: A alone, B alone, both
    assert float(src[:, 1, :500].abs().max()) == 0 and float(src[:, 0, 500:1000].abs().max()) == 0
    assert float(src[:, 0, 1000:].abs().max()) > 0.1 and float(src[:, 1, 1000:].abs().max()) > 0.1
    yn, srcn = harmonic_notes(2, seg_len=0.25, noise_std=0.1, seed=5)
    noise = yn - srcn.sum(1)
    assert abs(float(noise.std()) - 0.1) < 0.01
    with pytest.raises(ValueError, match="fs"):
        harmonic_notes(1, fs=1500.0)


def test_tl_nmf_learns_the_partials_of_the_two_notes():
    fs, M, hop = 2000.0, 80, 40
    y, _ = harmonic_notes(100, fs=fs, seed=0)
    C = frame_covariances(frames(y, M, hop))
    N = C.shape[0]
    eps = 0.75 * float(spectrogram(torch.eye(M, dtype=F64), C).mean())
    Phi0, W0, H0 = legacy_starts(M, 2, N, 1, seed=100)[0]
    run = tl_nmf(C, Phi0, W0, H0, eps=eps, n_outer=60)
    P, e = sort_atoms(run.Phi, C)
    f, resid = fit_sinusoids(P[:8], fs)
    partials = torch.tensor([440.0, 466.16, 880.0, 932.32], dtype=F64)
    nearest = (f[:, None] - partials[None, :]).abs()
    assert float(nearest.min(1).values.max()) < 3.0
    assert torch.equal(torch.bincount(nearest.argmin(1), minlength=4), torch.full((4,), 2))
    assert float(e[:8].sum()) > 0.99 and float(resid.max()) < 0.1
    # the random start does not: its top atoms are not sinusoids at the partials
    P0, _ = sort_atoms(Phi0, C)
    f0, _ = fit_sinusoids(P0[:8], fs)
    assert float((f0[:, None] - partials[None, :]).abs().min(1).values.max()) > 3.0
