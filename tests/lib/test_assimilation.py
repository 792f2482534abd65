"""harmonia.assimilation (chapter 14) with harmonia.nn.fczero and harmonia.nn.gaussian: Lorenz-96 (hand-computed
tendencies, RK4 local order against scipy, a numpy re-implementation, climate statistics, the energy budget,
sensitivity to initial conditions); Gaspari-Cohn and ring distances; the Kalman filter (steady state in closed form
and against scipy's DARE, a numpy loop, calibrated NLLs); ensemble filters (EnKF and LETKF against the Kalman filter
on the linear toy, analyses against direct formulas, the chapter's Lorenz-96 baselines); the Gaussian head against
torch.distributions; FcZero; DAN shapes, gradients, truncated BPTT, reproducibility, training; bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from scipy.linalg import solve_discrete_are

from harmonia.assimilation import (
    DAN,
    assimilate,
    dan_loss,
    enkf_analysis,
    evaluate_dan,
    gaspari_cohn,
    kalman_filter,
    letkf_analysis,
    lorenz96_initial,
    lorenz96_model,
    lorenz96_rhs,
    lorenz96_step,
    periodic_distance,
    rotation_model,
    steady_state,
    train_online,
)
from harmonia.nn.fczero import FcZero
from harmonia.nn.gaussian import GaussianHead, gaussian_nll, head_size, vec_to_tril

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64
Q_TOY = 0.1**2                                                   # rotation_model(): sigma_q = 0.1, sigma_r = 1
PA_TOY = (-Q_TOY + math.sqrt(Q_TOY**2 + 4 * Q_TOY)) / 2         # p_a^2 + q p_a - q = 0 (isotropic fixed point)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _np_rhs(x, F=8.0):
    return (np.roll(x, -1, -1) - np.roll(x, 2, -1)) * np.roll(x, 1, -1) - x + F


def _np_rk4(x, h, F=8.0):
    k1 = _np_rhs(x, F)
    k2 = _np_rhs(x + h / 2 * k1, F)
    k3 = _np_rhs(x + h / 2 * k2, F)
    k4 = _np_rhs(x + h * k3, F)
    return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def _toy_matrices(m):
    return (m.M, m.sigma_q**2 * torch.eye(m.n, dtype=F64), m.H_matrix(), m.sigma_r**2 * torch.eye(m.p, dtype=F64))


# ------------------------------------------------------------------------------------------------------ Lorenz-96
def test_lorenz96_rhs_hand_values():
    assert torch.equal(lorenz96_rhs(8 * torch.ones(40, dtype=F64)), torch.zeros(40, dtype=F64))
    # by hand, i = 0..4 with indices mod 5: (x1-x3)x4-x0+8 = -8+8, (x2-x4)x0-x1+8, (x3-x0)x1-x2+8, (x4-x1)x2-x3+8,
    # (x0-x2)x3-x4+8
    out = lorenz96_rhs(torch.arange(5, dtype=F64))
    assert torch.equal(out, torch.tensor([0.0, 7.0, 9.0, 11.0, -2.0], dtype=F64))
    assert torch.equal(lorenz96_rhs(torch.arange(5, dtype=F64), F=0.0), out - 8)


def test_lorenz96_step_local_order_against_scipy(seeded):
    x0 = lorenz96_initial(1, lorenz96_model(), burn_in=200, generator=seeded(0))[0]
    errs = []
    for dt in (0.02, 0.01, 0.005):
        ref = solve_ivp(lambda t, y: _np_rhs(y), (0.0, dt), x0.numpy(), method="DOP853", rtol=1e-12, atol=1e-12)
        errs.append(np.abs(lorenz96_step(x0, dt).numpy() - ref.y[:, -1]).max())
    ratios = [errs[0] / errs[1], errs[1] / errs[2]]
    assert all(20 <= r <= 45 for r in ratios), (errs, ratios)               # O(dt^5): halving dt divides by ~32


def test_lorenz96_step_matches_numpy(seeded):
    x = 3 + 2 * torch.randn(3, 5, 40, generator=seeded(1), dtype=F64)
    np.testing.assert_allclose(lorenz96_step(x).numpy(), _np_rk4(x.numpy(), 0.05), rtol=0, atol=1e-12)
    ref = x.numpy()
    for _ in range(3):
        ref = _np_rk4(ref, 0.1 / 3, F=10.0)
    np.testing.assert_allclose(lorenz96_step(x, 0.1, F=10.0, n_substeps=3).numpy(), ref, rtol=0, atol=1e-12)


def test_lorenz96_climate(seeded):
    m = lorenz96_model()
    g = seeded(2)
    x0 = lorenz96_initial(8, m, generator=g)
    xs, _ = m.simulate(x0, 2000, g)
    assert abs(float(xs.mean()) - 2.33) < 0.15
    assert abs(float(xs.std()) - 3.65) < 0.15


def test_lorenz96_energy_budget(seeded):
    # d/dt |x|^2/2 = x . rhs(x) = -|x|^2 + F sum(x): the quadratic advection term conserves energy
    for n, F in ((40, 8.0), (7, 3.5)):
        x = 4 * torch.randn(16, n, generator=seeded(n), dtype=F64)
        lhs = (x * lorenz96_rhs(x, F)).sum(-1)
        rhs = -x.pow(2).sum(-1) + F * x.sum(-1)
        torch.testing.assert_close(lhs, rhs, rtol=1e-12, atol=1e-10)


def test_lorenz96_sensitivity(seeded):
    g = seeded(3)
    a = lorenz96_initial(1, lorenz96_model(), generator=g)[0]
    d0 = torch.randn(40, generator=g, dtype=F64)
    b = a + 1e-8 * d0 / d0.norm()
    for _ in range(200):                                     # 10 time units, ~16 e-foldings
        a, b = lorenz96_step(a), lorenz96_step(b)
    assert float((a - b).norm()) / 1e-8 > 1e3


# ------------------------------------------------------------------------------------------- localisation tools
def _gc_reference(r, c):
    """Gaspari & Cohn (1999), eq. (4.10), written independently, numpy."""
    z = np.abs(np.asarray(r, dtype=float)) / c
    out = np.zeros_like(z)
    a = z <= 1
    out[a] = -0.25 * z[a]**5 + 0.5 * z[a]**4 + 0.625 * z[a]**3 - 5 / 3 * z[a]**2 + 1
    b = (z > 1) & (z < 2)
    zb = z[b]
    out[b] = zb**5 / 12 - 0.5 * zb**4 + 0.625 * zb**3 + 5 / 3 * zb**2 - 5 * zb + 4 - 2 / (3 * zb)
    return out


def test_gaspari_cohn():
    c = 4.0
    gc = lambda r: gaspari_cohn(torch.as_tensor(r, dtype=F64), c)  # noqa: E731
    assert float(gc(0.0)) == 1.0
    assert torch.equal(gc([2 * c, 2 * c + 0.5, 10 * c, -3 * c]), torch.zeros(4, dtype=F64))
    assert float(gc(2 * c * (1 - 1e-6))) < 1e-12                        # continuous to 0 at the support's edge
    left, mid, right = gc([c * (1 - 1e-10), c, c * (1 + 1e-10)]).tolist()
    for v in (left, mid, right):
        assert v == pytest.approx(5 / 24, abs=1e-8)                      # both branches: 5/24 at z = 1
    r = torch.linspace(0, 2.5 * c, 2001, dtype=F64)
    vals = gaspari_cohn(r, c)
    assert float(vals.diff().max()) <= 1e-15                             # non-increasing
    assert torch.equal(gaspari_cohn(-r, c), vals)
    np.testing.assert_allclose(vals.numpy(), _gc_reference(r.numpy(), c), rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [7, 40])
def test_periodic_distance(n):
    d = periodic_distance(n)
    assert torch.equal(d, d.T)
    assert torch.equal(torch.diagonal(d), torch.zeros(n, dtype=F64))
    assert float(d.max()) == n // 2
    j = torch.arange(n)
    assert torch.equal(d[0], torch.minimum(j, n - j).to(F64))
    assert torch.equal(d[3], torch.roll(d[0], 3))                        # translation invariant on the ring


# ------------------------------------------------------------------------------------------------------ Kalman
def test_steady_state_rotation_toy():
    m = rotation_model()
    M, Q, H, R = _toy_matrices(m)
    Pb, Pa, K = steady_state(M, Q, H, R)
    eye = torch.eye(2, dtype=F64)
    torch.testing.assert_close(Pa, PA_TOY * eye, rtol=0, atol=1e-10)
    torch.testing.assert_close(Pb, (PA_TOY + Q_TOY) * eye, rtol=0, atol=1e-10)
    assert PA_TOY == pytest.approx(0.0951249, abs=1e-7)
    torch.testing.assert_close(K, (PA_TOY + Q_TOY) / (PA_TOY + Q_TOY + 1) * eye, rtol=0, atol=1e-10)


@pytest.mark.parametrize("partial", [False, True])
def test_steady_state_is_riccati_fixed_point_and_dare(partial):
    m = rotation_model(partial=partial)
    M, Q, H, R = _toy_matrices(m)
    Pb, Pa, K = steady_state(M, Q, H, R)
    # one more forecast/analysis cycle, written out: Pa = Pb - Pb H^T S^-1 H Pb, Pb' = M Pa M^T + Q
    S = H @ Pb @ H.T + R
    Pa_direct = Pb - Pb @ H.T @ torch.linalg.inv(S) @ H @ Pb
    torch.testing.assert_close(Pa, Pa_direct, rtol=0, atol=1e-12)
    torch.testing.assert_close(M @ Pa @ M.T + Q, Pb, rtol=0, atol=1e-12)
    torch.testing.assert_close(K, Pb @ H.T @ torch.linalg.inv(S), rtol=0, atol=1e-12)
    # filter form P = M P M^T - M P H^T (H P H^T + R)^-1 H P M^T + Q is scipy's control DARE for (M^T, H^T)
    dare = solve_discrete_are(M.numpy().T, H.numpy().T, Q.numpy(), R.numpy())
    np.testing.assert_allclose(Pb.numpy(), dare, rtol=0, atol=1e-10)


def test_partial_toy_steady_state_nll():
    m = rotation_model(partial=True)
    Pb, Pa, _ = steady_state(*_toy_matrices(m))
    nll = lambda P: 0.5 * float(torch.logdet(2 * math.pi * math.e * P))  # noqa: E731  expected NLL, n = 2
    assert nll(Pa) == pytest.approx(1.2388, abs=5e-3)
    assert nll(Pb) == pytest.approx(1.2992, abs=5e-3)


@pytest.mark.parametrize("partial", [False, True])
def test_kalman_filter_matches_numpy_loop(partial, seeded):
    m = rotation_model(partial=partial)
    g = seeded(4)
    xs, ys = m.simulate(torch.randn(3, 2, generator=g, dtype=F64), 30, g)
    M, Q, H, R = _toy_matrices(m)
    m0 = torch.randn(3, 2, generator=g, dtype=F64)
    A = torch.randn(2, 2, generator=g, dtype=F64)
    P0 = A @ A.T + 0.5 * torch.eye(2, dtype=F64)
    res = kalman_filter(M, Q, H, R, m0, P0, ys)
    Mn, Qn, Hn, Rn = (t.numpy() for t in (M, Q, H, R))
    mean, P = m0.numpy().copy(), P0.numpy().copy()
    for t in range(ys.shape[0]):
        np.testing.assert_allclose(res.mean_b[t].numpy(), mean, rtol=0, atol=1e-12)
        np.testing.assert_allclose(res.cov_b[t].numpy(), P, rtol=0, atol=1e-12)
        K = P @ Hn.T @ np.linalg.inv(Hn @ P @ Hn.T + Rn)
        mean = mean + (ys[t].numpy() - mean @ Hn.T) @ K.T
        P = (np.eye(2) - K @ Hn) @ P
        np.testing.assert_allclose(res.mean_a[t].numpy(), mean, rtol=0, atol=1e-12)
        np.testing.assert_allclose(res.cov_a[t].numpy(), P, rtol=0, atol=1e-12)
        mean, P = mean @ Mn.T, Mn @ P @ Mn.T + Qn


def test_kalman_filter_nll_is_calibrated(seeded):
    m = rotation_model()
    g = seeded(5)
    xs, ys = m.simulate(torch.randn(256, 2, generator=g, dtype=F64), 400, g)
    M, Q, H, R = _toy_matrices(m)
    res = kalman_filter(M, Q, H, R, torch.zeros(2, dtype=F64), torch.eye(2, dtype=F64), ys)
    s = slice(50, None)
    nll_a = gaussian_nll(xs[s], res.mean_a[s], torch.linalg.cholesky(res.cov_a[s]).unsqueeze(1)).mean()
    nll_b = gaussian_nll(xs[s], res.mean_b[s], torch.linalg.cholesky(res.cov_b[s]).unsqueeze(1)).mean()
    assert float(nll_a) == pytest.approx(1 + math.log(2 * math.pi * PA_TOY), abs=0.03)             # 0.4853
    assert float(nll_b) == pytest.approx(1 + math.log(2 * math.pi * (PA_TOY + Q_TOY)), abs=0.03)    # 0.5853


# --------------------------------------------------------------------------------------------- ensemble filters
@pytest.mark.parametrize("method, n_ens, tol, batch", [("enkf", 2000, 0.03, 4), ("letkf", 300, 0.05, 2)])
def test_large_ensemble_tracks_kalman(method, n_ens, tol, batch, seeded):
    m = rotation_model()
    g = seeded(6)
    xs, ys = m.simulate(torch.randn(batch, 2, generator=g, dtype=F64), 100, g)
    kf = kalman_filter(*_toy_matrices(m), torch.zeros(2, dtype=F64), torch.eye(2, dtype=F64), ys)
    E0 = torch.randn(batch, n_ens, 2, generator=g, dtype=F64)                # the KF's prior N(0, I)
    run = assimilate(m, xs, ys, E0, method=method, generator=g)
    gap = (run.mean_a - kf.mean_a).norm(dim=-1).mean()
    kf_err = (kf.mean_a - xs).norm(dim=-1).mean()
    assert float(gap) < tol, (float(gap), float(kf_err))


def _ens_problem(seed, n=10, n_ens=8, batch=(2,)):
    m = lorenz96_model(n=n, partial=True, sigma_r=0.7)
    g = _gen(seed)
    E = 2 + torch.randn(*batch, n_ens, n, generator=g, dtype=F64) * torch.linspace(0.5, 1.5, n, dtype=F64)
    y = torch.randn(*batch, m.p, generator=g, dtype=F64)
    return m, E, y, g


@pytest.mark.parametrize("localise", [False, True])
def test_enkf_analysis_direct_formula(localise):
    m, E, y, g = _ens_problem(7)
    n_ens = E.shape[-2]
    pert = torch.randn(*E.shape[:-1], m.p, generator=g, dtype=F64)
    loc = gaspari_cohn(periodic_distance(m.n), 2.0) if localise else None
    out = enkf_analysis(E, y, m, loc, perturbations=pert)
    H = m.H_matrix().numpy()
    for b in range(E.shape[0]):
        Eb = E[b].numpy()
        A = Eb - Eb.mean(0)
        P = A.T @ A / (n_ens - 1)
        if localise:
            P = P * loc.numpy()
        K = P @ H.T @ np.linalg.inv(H @ P @ H.T + m.sigma_r**2 * np.eye(m.p))
        ref = Eb + (y[b].numpy() + m.sigma_r * pert[b].numpy() - Eb @ H.T) @ K.T
        np.testing.assert_allclose(out[b].numpy(), ref, rtol=0, atol=1e-10)


def _etkf_reference(Eb, yb, H, R):
    """Kalman update of the ensemble mean with the sample covariance, and the posterior covariance (I - KH) P."""
    n_ens = Eb.shape[0]
    xm = Eb.mean(0)
    A = Eb - xm
    P = A.T @ A / (n_ens - 1)
    K = P @ H.T @ np.linalg.inv(H @ P @ H.T + R)
    return xm + K @ (yb - H @ xm), (np.eye(len(xm)) - K @ H) @ P


@pytest.mark.parametrize("n_ens", [6, 15])
def test_letkf_global_equals_etkf(n_ens):
    m, E, y, _ = _ens_problem(8, n_ens=n_ens)
    out = letkf_analysis(E, y, m, torch.ones(m.n, m.p, dtype=F64))
    H = m.H_matrix().numpy()
    for b in range(E.shape[0]):
        mean, Pa = _etkf_reference(E[b].numpy(), y[b].numpy(), H, m.sigma_r**2 * np.eye(m.p))
        Ea = out[b].numpy()
        Aa = Ea - Ea.mean(0)
        np.testing.assert_allclose(Ea.mean(0), mean, rtol=0, atol=1e-8)
        np.testing.assert_allclose(Aa.T @ Aa / (n_ens - 1), Pa, rtol=0, atol=1e-8)


def test_letkf_local_equals_etkf_with_inflated_errors():
    # grid point i: a global ETKF with the observations of weight w > 0 and error variances sigma_r^2 / w
    m, E, y, _ = _ens_problem(9, n_ens=7)
    w = m.H(gaspari_cohn(periodic_distance(m.n), 2.0))                     # (n, p)
    out = letkf_analysis(E, y, m, w)
    H = m.H_matrix().numpy()
    for b in range(E.shape[0]):
        for i in range(m.n):
            keep = (w[i] > 0).numpy()
            R = np.diag(m.sigma_r**2 / w[i].numpy()[keep])
            mean, Pa = _etkf_reference(E[b].numpy(), y[b].numpy()[keep], H[keep], R)
            Ea = out[b, :, i].numpy()
            np.testing.assert_allclose(Ea.mean(), mean[i], rtol=0, atol=1e-8)
            np.testing.assert_allclose(Ea.var(ddof=1), Pa[i, i], rtol=0, atol=1e-8)


@pytest.mark.parametrize("method, lo, hi", [("enkf", 0.30, 0.45), ("letkf", 0.28, 0.42)])
def test_lorenz96_baselines(method, lo, hi, seeded):
    m = lorenz96_model()
    g = seeded(10)
    xs, ys = m.simulate(lorenz96_initial(2, m, generator=g), 750, g)
    E0 = xs[0].unsqueeze(-2) + torch.randn(2, 20, m.n, generator=g, dtype=F64)
    run = assimilate(m, xs, ys, E0, method=method, inflation=1.05, loc_radius=4.0, generator=g)
    score = float(run.rmse_a[150:].mean())
    assert lo <= score <= hi, score
    assert float(run.rmse_b[150:].mean()) > score                          # the analysis improves on the prior


# ------------------------------------------------------------------------------------------------ Gaussian head
def test_vec_to_tril_layout():
    eta = torch.arange(1.0, 10.0, dtype=F64)                               # n = 3: mean 1..3, log-diag 4..6, 7 8 9
    mu, L = vec_to_tril(eta, 3)
    assert torch.equal(mu, torch.tensor([1.0, 2.0, 3.0], dtype=F64))
    expected = torch.tensor([[math.exp(4), 0, 0], [7, math.exp(5), 0], [9, 8, math.exp(6)]], dtype=F64)
    torch.testing.assert_close(L, expected, rtol=1e-15, atol=0)
    # n = 4: (1,0),(2,1),(3,2), then (2,0),(3,1), then (3,0)
    _, L4 = vec_to_tril(torch.cat([torch.zeros(8), torch.arange(1.0, 7.0)]).to(F64), 4)
    off = [(1, 0), (2, 1), (3, 2), (2, 0), (3, 1), (3, 0)]
    assert [float(L4[i, j]) for i, j in off] == [1, 2, 3, 4, 5, 6]
    assert torch.equal(torch.triu(L4, 1), torch.zeros(4, 4, dtype=F64))
    assert (head_size(40), head_size(40, "diag"), head_size(40, "iso"), head_size(3)) == (860, 80, 41, 9)


def test_zero_eta_is_standard_normal():
    for cov in ("full", "diag", "iso"):
        mu, L = vec_to_tril(torch.zeros(5, head_size(4, cov), dtype=F64), 4, cov)
        assert torch.equal(mu, torch.zeros(5, 4, dtype=F64))
        assert torch.equal(L, torch.eye(4, dtype=F64).expand(5, 4, 4))


def _random_tril(shape, n, g):
    L = torch.tril(torch.randn(*shape, n, n, generator=g, dtype=F64), -1)
    return L + torch.diag_embed(0.5 + torch.rand(*shape, n, generator=g, dtype=F64))


def test_gaussian_nll_matches_torch_distributions(seeded):
    g = seeded(11)
    L = _random_tril((3, 4), 5, g)
    mu = torch.randn(3, 4, 5, generator=g, dtype=F64)
    x = torch.randn(3, 4, 5, generator=g, dtype=F64)
    ref = -torch.distributions.MultivariateNormal(mu, scale_tril=L).log_prob(x)
    torch.testing.assert_close(gaussian_nll(x, mu, L), ref, rtol=0, atol=1e-10)


def test_gaussian_nll_gradcheck(seeded):
    g = seeded(12)
    L = _random_tril((2,), 3, g).requires_grad_(True)
    mu = torch.randn(2, 3, generator=g, dtype=F64, requires_grad=True)
    x = torch.randn(2, 3, generator=g, dtype=F64)
    assert torch.autograd.gradcheck(lambda mu, L: gaussian_nll(x, mu, L), (mu, L))


@pytest.mark.parametrize("cov", ["full", "diag", "iso"])
def test_gaussian_head(cov, seeded):
    torch.manual_seed(0)
    head = GaussianHead(6, 4, cov).double()
    with torch.no_grad():
        head.linear.weight.mul_(20)                                        # far from the identity head
    with torch.no_grad():
        q = head(torch.randn(2, 3, 6, generator=seeded(13), dtype=F64))
    assert q.mean.shape == (2, 3, 4) and q.scale_tril.shape == (2, 3, 4, 4)
    diag = torch.diagonal(q.scale_tril, dim1=-2, dim2=-1)
    assert bool((diag > 0).all())
    assert torch.equal(torch.triu(q.scale_tril, 1), torch.zeros_like(q.scale_tril))
    r, c = torch.tril_indices(4, 4, -1)
    strict = q.scale_tril[..., r, c]
    if cov == "full":
        assert bool((strict != 0).all())
    else:
        assert torch.equal(strict, torch.zeros_like(strict))
    if cov == "iso":
        assert torch.equal(diag, diag[..., :1].expand_as(diag))
    else:
        assert float((diag - diag[..., :1]).abs().max()) > 0


# ------------------------------------------------------------------------------------------------------ FcZero
def test_fczero_initial_identity_and_validation(seeded):
    torch.manual_seed(0)
    net = FcZero([8, 8, 8, 3]).double()
    h = torch.randn(5, 8, generator=seeded(14), dtype=F64)
    assert torch.equal(net.alphas.detach(), torch.zeros(2, dtype=F64))
    torch.testing.assert_close(net(h), net.out(h), rtol=0, atol=0)
    with torch.no_grad():
        net.alphas.fill_(0.5)
        assert float((net(h) - net.out(h)).abs().max()) > 1e-3             # the residual branches are live
    for bad in ([8], [8, 6, 3]):
        with pytest.raises(ValueError, match="^widths"):
            FcZero(bad)


# --------------------------------------------------------------------------------------------------------- DAN
def _toy_dan(seed=0, d_h=8, depth=2, cov="full", partial=False):
    torch.manual_seed(seed)
    m = rotation_model(partial=partial, dtype=torch.float32)
    return DAN(m.n, m.p, d_h, depth, cov), m


def test_dan_shapes(seeded):
    dan, m = _toy_dan(partial=True)
    ha = dan.initial_memory(5)
    assert ha.shape == (5, 8) and not bool(ha.any())
    ha, qb, qa = dan(ha, torch.randn(5, m.p, generator=seeded(15)))
    assert ha.shape == (5, 8)
    for q in (qb, qa):
        assert q.mean.shape == (5, 2) and q.scale_tril.shape == (5, 2, 2)
        assert torch.equal(torch.triu(q.scale_tril, 1), torch.zeros_like(q.scale_tril))
        assert bool((torch.diagonal(q.scale_tril, dim1=-2, dim2=-1) > 0).all())


def test_dan_every_module_gets_gradients(seeded):
    dan, m = _toy_dan()
    g = seeded(16)
    x = torch.randn(16, 2, generator=g)
    ha, loss = dan.initial_memory(16), 0.0
    for _ in range(2):                                                     # the second cycle has a non-zero memory
        ha, qb, qa = dan(ha, m.observe(x, g))
        loss = loss + dan_loss(qb, qa, x)
        x = m.propagate(x, g)
    assert math.isfinite(float(loss.detach()))
    loss.backward()
    for name in ("analyzer", "propagater", "procoder"):
        grads = [p.grad for p in getattr(dan, name).parameters()]
        assert all(gr is not None and bool(torch.isfinite(gr).all()) for gr in grads), name
        assert any(float(gr.abs().max()) > 0 for gr in grads), name
    assert bool((dan.analyzer.alphas.grad != 0).all())                     # ReZero gains move first


def test_train_online_step_and_tbptt(seeded):
    dan, m = _toy_dan()
    before = {k: v.clone() for k, v in dan.state_dict().items()}
    opt = torch.optim.Adam(dan.parameters(), lr=1e-3)
    g = seeded(17)
    x = torch.randn(16, 2, generator=g)
    x1, ha, hist = train_online(dan, m, x, opt, 1, window=3, generator=g)
    assert not ha.requires_grad and ha.grad_fn is None and ha.shape == (16, 8)
    assert x1.shape == (16, 2) and not x1.requires_grad
    assert len(hist.loss) == len(hist.rmse_a) == len(hist.rmse_b) == 1 and math.isfinite(hist.loss[0])
    after = dan.state_dict()
    for name in ("analyzer", "propagater", "procoder"):
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(name)), name
    # resuming from the returned memory and truths appends to the history
    _, _, hist2 = train_online(dan, m, x1, opt, 2, ha=ha, generator=g, history=hist)
    assert hist2 is hist and len(hist.loss) == 3


def test_train_online_reproducible():
    def run():
        dan, m = _toy_dan(seed=3)
        g = _gen(18)
        x = torch.randn(8, 2, generator=g)
        opt = torch.optim.Adam(dan.parameters(), lr=1e-3)
        return train_online(dan, m, x, opt, 5, window=2, generator=g)[2]

    h1, h2 = run(), run()
    assert h1.loss == h2.loss and h1.rmse_a == h2.rmse_a and h1.rmse_b == h2.rmse_b


def test_tiny_dan_learns_the_toy(seeded):
    dan, m = _toy_dan(seed=0, d_h=16, depth=1)
    g = seeded(19)
    x = torch.randn(64, 2, generator=g)
    opt = torch.optim.Adam(dan.parameters(), lr=3e-3)
    _, _, hist = train_online(dan, m, x, opt, 300, generator=g)
    first, last = np.mean(hist.loss[:50]), np.mean(hist.loss[-50:])
    assert np.isfinite(hist.loss).all()
    assert last < first, (first, last)


def test_evaluate_dan(seeded):
    dan, m = _toy_dan()
    g = seeded(20)
    xs, ys = m.simulate(torch.randn(4, 2, generator=g), 12, g)
    out = evaluate_dan(dan, m, xs, ys, warmup=2)
    assert out["mean_a"].shape == (12, 4, 2) and out["scale_tril_a"].shape == (12, 4, 2, 2)
    assert all(math.isfinite(out[k]) for k in ("rmse_b", "rmse_a", "nll_b", "nll_a"))
    for warmup in (12, 20):
        with pytest.raises(ValueError, match="^warmup"):
            evaluate_dan(dan, m, xs, ys, warmup=warmup)


# --------------------------------------------------------------------------------------------------- bad input
def test_bad_input(seeded):
    m = lorenz96_model(n=8)
    with pytest.raises(ValueError, match="^x0"):
        m.simulate(torch.zeros(3, 7, dtype=F64), 5)
    xs, ys = m.simulate(torch.randn(8, generator=seeded(21), dtype=F64), 4, seeded(22))
    for method in ("enkf", "letkf"):
        with pytest.raises(ValueError, match="^E0"):
            assimilate(m, xs, ys, torch.zeros(1, 8, dtype=F64), method=method)
    with pytest.raises(ValueError, match="^n"):
        lorenz96_model(n=3)


# ---------------------------------------------------------------- train_online's options (restarts, clipping, units)
def test_restarts_replace_trajectories_with_fresh_states_and_zero_memory():
    from harmonia.assimilation import DAN, rotation_model, train_online
    torch.manual_seed(0)
    m = rotation_model(dtype=torch.float32)
    dan = DAN(2, 2, 8, 1)
    g = torch.Generator().manual_seed(0)
    x = torch.full((64, 2), 100.0)                        # far from N(0, I): restarted rows are recognisable
    opt = torch.optim.SGD(dan.parameters(), lr=0.0)
    x1, ha, _ = train_online(dan, m, x, opt, 1, generator=g, restart_prob=0.5,
                             initial=lambda k: torch.zeros(k, 2))
    fresh = x1.norm(dim=1) < 1.0
    assert 10 < int(fresh.sum()) < 54                     # about half restarted
    assert torch.all(ha[fresh] == 0) and torch.all(ha[~fresh].abs().sum(1) > 0)
    with pytest.raises(ValueError, match="restart_prob"):
        train_online(dan, m, x, opt, 1, restart_prob=0.5)  # no `initial`


def test_clipping_bounds_the_step_and_the_scheduler_decays_the_rate():
    from harmonia.assimilation import DAN, rotation_model, train_online
    torch.manual_seed(0)
    m = rotation_model(dtype=torch.float32)
    dan = DAN(2, 2, 8, 1)
    before = [p.detach().clone() for p in dan.parameters()]
    opt = torch.optim.SGD(dan.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    train_online(dan, m, 10 * torch.randn(32, 2), opt, 2, max_grad_norm=1e-3, scheduler=sched)
    moved = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(dan.parameters(), before)))
    assert 0 < float(moved) <= 1.5e-3 + 1e-9               # two clipped SGD steps of lr 1 then 0.5
    assert opt.param_groups[0]["lr"] == pytest.approx(0.25)


def test_units_change_is_a_change_of_variables():
    from harmonia.assimilation import DAN
    torch.manual_seed(0)
    a, b = DAN(3, 3, 8, 1), DAN(3, 3, 8, 1, loc=2.0, scale=4.0)
    b.load_state_dict(a.state_dict())
    y, x = torch.randn(5, 3), torch.randn(5, 3)
    ha = a.initial_memory(5)
    _, _, qa = a(ha, y)
    _, _, qb = b(ha, 2.0 + 4.0 * y)                        # same normalised input
    assert torch.allclose(qb.mean, 2.0 + 4.0 * qa.mean, atol=1e-6)
    # density of X = 2 + 4 Z: log q_X(2 + 4 z) = log q_Z(z) - n log 4
    assert torch.allclose(qb.nll(2.0 + 4.0 * x), qa.nll(x) + 3 * math.log(4.0), atol=1e-5)
