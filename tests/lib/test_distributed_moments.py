"""harmonia.distributed.analysis (moments, momentum, saddle) and the random-input problems against chapter 03's
derivations (the "limits in speedup" of Zhang 2016, PhD thesis, re-derived in closed form for the course; the
reference numbers are those of our independent NumPy prototype).

What is asserted (float64 throughout, fixed seeds):

- closed forms against independent routes: batch-b SGD's stationary q/(1-r) is stability.minibatch_sgd_var; the
  heavy-ball variance is the fixed point of the 3x3 system and scipy's Lyapunov solution of the 2x2 state map; the
  additive-noise 4x4 EASGD fixed point is (A, B, C, D) of the (p+1)-dimensional Lyapunov solution and its D is
  easgd_sync_center_var; with multiplicative noise the 3x3 and 4x4 systems are the exact reductions of the full
  covariance recursions (built here from the update rules, including beta != p alpha); our prototype's values;
- the mean matrices: eigenvalues, the noise-free runners (heavy_ball_run, elastic_pair_run, run_easgd) follow them,
  EASGD's center never contracts faster than |1 - eta h| (>= 2000 random stable settings);
- multiplicative SGD: the optimum (eta*, r*, eta_max), our prototype's values and a one-step Monte Carlo of r;
- Monte Carlo of the heavy-ball 3x3 and EASGD 4x4 moments (RandomInputObjective) and of the additive-noise stationary
  variances (AdditiveNoiseQuadratic); tolerances are 5 standard errors computed from the per-chain samples (chains
  are independent, so std / sqrt(chains) is the standard error of a mean over chains);
- grids: heavy ball buys nothing under 1-D multiplicative noise, EASGD's best rates and stable steps (prototype values);
- Polyak's tuning; heavy ball == one-worker EASGD with beta = 1, alpha = -delta (quadratic and a network);
- the double-well saddle: derivatives against autograd, the split state, its Hessian and Schur complement, the trap in
  simulation and the switch between 0.64 and 0.69;
- RandomInputs / RandomInputObjective / spread: the laws (KS tests), the spread (delta-method SE), the shared input a
  in both parts of the gradient, per-worker streams; and bad inputs (the last two tests pin two library findings of
  the test-writing pass, since fixed).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.linalg import solve_discrete_lyapunov

from harmonia.distributed import AdditiveNoiseQuadratic, make_objective, run_easgd
from harmonia.distributed.analysis import (
    DoubleWell,
    double_well_easgd,
    easgd_mean_matrix,
    easgd_moment_samples,
    easgd_moment_system,
    easgd_moments,
    easgd_sync_center_var,
    easgd_sync_map,
    easgd_sync_roots,
    easgd_sync_stable,
    elastic_pair_run,
    heavy_ball_mean_matrix,
    heavy_ball_moment_system,
    heavy_ball_run,
    heavy_ball_tuned,
    heavy_ball_var,
    iterations_to_shrink,
    minibatch_sgd_var,
    optimal_step,
    sgd_moment_step,
    sgd_optimum,
    spectral_radius,
    split_equilibrium,
    split_hessian,
    split_schur,
    stable_steps,
    stationary_moments,
    trap_threshold,
)
from harmonia.distributed.problems import RandomInputObjective, RandomInputs, spread

F64 = torch.float64
Z = 5.0  # Monte-Carlo tolerance in standard errors


def _iterate(M: torch.Tensor, q: torch.Tensor, S0: torch.Tensor, steps: int) -> list[torch.Tensor]:
    """S_0, S_1 = M S_0 + q, ..., S_steps."""
    out = [S0.clone()]
    for _ in range(steps):
        out.append(M @ out[-1] + q)
    return out


def _mc_close(samples: torch.Tensor, expected: torch.Tensor, z: float = Z) -> tuple[torch.Tensor, torch.Tensor]:
    """samples (chains, k): per-chain values of k moments; assert |mean - expected| < z SE; return (mean, se)."""
    n = samples.shape[0]
    mean, se = samples.mean(dim=0), samples.std(dim=0) / math.sqrt(n)
    assert bool(((mean - expected).abs() <= z * se + 1e-12).all()), (mean, expected, se)  # se = 0: exact
    return mean, se


# =============================================================================== 1. closed forms vs other routes
def test_sgd_moment_step_stationary_is_minibatch_sgd_var():
    rng = np.random.default_rng(0)
    for _ in range(50):
        h, b, s2 = float(rng.uniform(0.2, 4)), int(rng.integers(1, 65)), float(rng.uniform(0.1, 3))
        eta = float(rng.uniform(0.01, 1.99)) / h
        r, q = sgd_moment_step(eta, h, 0.0, s2, b)
        assert math.isclose(r, (1 - eta * h) ** 2, rel_tol=1e-14)
        assert math.isclose(q, eta * eta * s2 / b, rel_tol=1e-14)
        assert math.isclose(q / (1 - r), minibatch_sgd_var(b, eta, h, s2), rel_tol=1e-10)


def _hb_lyapunov(eta, delta, h, sigma2, b):
    """scipy on the 2x2 state map z = (x_t, x_{t-1}) with noise eta n on the first entry (an independent route)."""
    A = np.array([[1 + delta - eta * h, -delta], [1.0, 0.0]])
    Q = np.diag([eta * eta * sigma2 / b, 0.0])
    return solve_discrete_lyapunov(A, Q)


def test_heavy_ball_var_equals_the_fixed_point_of_the_3x3_system_and_lyapunov():
    rng = np.random.default_rng(1)
    checked = 0
    while checked < 60:
        h, b, s2 = float(rng.uniform(0.2, 4)), int(rng.integers(1, 33)), float(rng.uniform(0.1, 3))
        delta = float(rng.uniform(-0.95, 0.95))
        eta = float(rng.uniform(0.01, 0.99)) * 2 * (1 + delta) / h
        M, q = heavy_ball_moment_system(eta, delta, h, 0.0, s2, b)
        if spectral_radius(M) > 0.999:  # ill-conditioned next to the boundary
            continue
        V = heavy_ball_var(eta, delta, h, s2, b)
        S = stationary_moments(M, q)
        assert V > 0
        assert math.isclose(float(S[0]), V, rel_tol=1e-10)
        assert math.isclose(float(S[1]), V, rel_tol=1e-10)  # stationary: E x_{t-1}^2 = E x_t^2
        # third row: E x_{t+1} x_t = k E x_t^2 - delta E x_t x_{t-1}  =>  S2 = k V / (1 + delta)
        assert math.isclose(float(S[2]), (1 + delta - eta * h) * V / (1 + delta), rel_tol=1e-9, abs_tol=1e-14)
        P = _hb_lyapunov(eta, delta, h, s2, b)
        assert math.isclose(P[0, 0], V, rel_tol=1e-9)
        assert math.isclose(P[0, 1], float(S[2]), rel_tol=1e-8, abs_tol=1e-12)
        checked += 1


def test_heavy_ball_var_reference_value():
    assert math.isclose(heavy_ball_var(0.05, 0.9, 2.0, 1.0), 0.12837837837837837, rel_tol=1e-5)
    M, q = heavy_ball_moment_system(0.05, 0.9, 2.0, 0.0, 1.0)
    assert math.isclose(float(stationary_moments(M, q)[0]), 0.12837837837837837, rel_tol=1e-10)
    # batch b divides the variance by b; delta = 0 is SGD
    assert math.isclose(heavy_ball_var(0.05, 0.9, 2.0, 1.0, b=8), 0.12837837837837837 / 8, rel_tol=1e-12)
    assert math.isclose(heavy_ball_var(0.3, 0.0, 2.0, 1.5, b=3), minibatch_sgd_var(3, 0.3, 2.0, 1.5), rel_tol=1e-12)


def _abcd(P):
    """(A, B, C, D) read off the (p+1)-dim covariance P (workers, then the center)."""
    p = P.shape[0] - 1
    B = P[0, 1] if p > 1 else 0.0
    return np.array([P[0, 0], B, P[0, p], P[p, p]])


def test_easgd_4x4_additive_fixed_point_equals_lyapunov_and_the_center_closed_form(easgd_lyapunov):
    rng = np.random.default_rng(2)
    checked = 0
    while checked < 50:
        p = int(rng.integers(1, 17))
        h = float(rng.uniform(0.3, 3.0))
        eta = float(rng.uniform(0.01, 1.9)) / h
        alpha = float(rng.uniform(0.01, 1.5)) / p
        sigma2 = float(rng.uniform(0.1, 4.0))
        if not easgd_sync_stable(p, eta, alpha, h) or spectral_radius(easgd_sync_map(p, eta, alpha, h)) > 0.999:
            continue
        M, q = easgd_moment_system(p, eta, alpha, h, 0.0, sigma2, 1)
        S = stationary_moments(M, q)
        assert math.isclose(float(S[3]), easgd_sync_center_var(p, eta, alpha, h, sigma2), rel_tol=1e-9)
        P = easgd_lyapunov(easgd_sync_map(p, eta, alpha, h).numpy(), eta, sigma2)  # scipy, worker noise eta^2 sigma^2
        np.testing.assert_allclose(S.numpy(), _abcd(P), rtol=1e-8, atol=1e-13)
        checked += 1


def test_easgd_4x4_reference_stationary_values():
    """Synchronous EASGD with multiplicative noise at p = 4, eta = 0.3, alpha = 0.2, h = 1, kappa = 2 (var_m = 2), b = 2,
    sigma_eps = 0.5 (s2 = h sigma_eps^2 = 0.25): (A, B, C, D) = (1.829, 0.109, 0.317, 0.465) e-2 and D = 4.649e-3
    (our prototype's values)."""
    M, q = easgd_moment_system(4, 0.3, 0.2, 1.0, 2.0, 0.25, 2)
    S = stationary_moments(M, q)
    for value, ref in zip(S.tolist(), (1.829e-2, 0.109e-2, 0.317e-2, 0.465e-2)):
        assert abs(value - ref) <= 5e-6, (value, ref)  # half the last printed digit (and rel < 2e-3 for A, C, D)
    assert abs(float(S[3]) - 4.649e-3) <= 5e-7
    assert math.isclose(float(S[3]), 4.649e-3, rel_tol=2e-4)


def _full_easgd_second_moments(p, eta, alpha, h, var_m, s2, b, beta, P):
    """One step of the exact (p+1)x(p+1) second-moment recursion of x_i' = (1 - eta m_i - alpha) x_i + alpha c + eta n_i,
    c' = (1 - beta) c + beta/p sum_i x_i, with independent m_i (mean h, var var_m / b) and n_i (var s2 / b)."""
    K = torch.zeros(p + 1, p + 1, dtype=F64)
    K[:p, :p] = (1 - eta * h - alpha) * torch.eye(p, dtype=F64)
    K[:p, p] = alpha
    K[p, :p] = beta / p
    K[p, p] = 1 - beta
    extra = torch.zeros(p + 1, p + 1, dtype=F64)
    extra[:p, :p] = torch.diag(eta * eta * var_m / b * torch.diagonal(P)[:p] + eta * eta * s2 / b)
    return K @ P @ K.T + extra


def _reduce(P: torch.Tensor) -> torch.Tensor:
    p = P.shape[0] - 1
    W = P[:p, :p]
    B = (W.sum() - W.diagonal().sum()) / (p * (p - 1)) if p > 1 else torch.zeros((), dtype=F64)
    return torch.stack([W.diagonal().mean(), B, P[:p, p].mean(), P[p, p]])


@pytest.mark.parametrize(("p", "eta", "alpha", "h", "var_m", "s2", "b", "beta"), [
    (1, 0.3, 0.5, 1.0, 2.0, 0.25, 1, None),
    (2, 0.2, 0.3, 1.5, 0.8, 1.0, 3, None),
    (4, 0.3, 0.2, 1.0, 2.0, 0.25, 2, None),
    (4, 0.1, 0.15, 2.0, 8.0, 0.5, 4, 0.35),  # beta != p alpha
    (3, 0.4, -0.2, 1.0, 1.0, 1.0, 1, 1.0),  # negative alpha (the heavy-ball link needs p = 1, but the algebra holds)
])
def test_easgd_4x4_is_the_exact_reduction_of_the_full_covariance_recursion(p, eta, alpha, h, var_m, s2, b, beta):
    M, q = easgd_moment_system(p, eta, alpha, h, var_m, s2, b, beta)
    assert M.shape == (4, 4) and q.shape == (4,)
    beta_ = p * alpha if beta is None else beta
    # an exchangeable start: A0 on the diagonal, B0 off it, C0 worker-center, D0 center
    A0, B0, C0, D0 = 1.3, 0.4 if p > 1 else 0.0, -0.2, 0.7
    P = torch.full((p + 1, p + 1), B0, dtype=F64)
    P.diagonal()[:p] = A0
    P[:p, p] = P[p, :p] = C0
    P[p, p] = D0
    S = torch.tensor([A0, B0, C0, D0], dtype=F64)
    for _ in range(25):
        P = _full_easgd_second_moments(p, eta, alpha, h, var_m, s2, b, beta_, P)
        S = M @ S + q
        torch.testing.assert_close(S, _reduce(P), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("eta", "delta", "h", "var_m", "s2", "b"), [
    (0.3, 0.5, 1.0, 0.8, 0.25, 2), (0.05, 0.9, 2.0, 8.0, 1.0, 1), (0.5, -0.3, 1.0, 2.0, 0.5, 4)])
def test_heavy_ball_3x3_is_the_exact_reduction_of_the_2x2_covariance_recursion(eta, delta, h, var_m, s2, b):
    """z = (x_t, x_{t-1}), z' = K z + (eta n, 0) with K = [[1 + delta - eta m, -delta], [1, 0]]:
    E z'z'^T = K_bar P K_bar^T + eta^2 (var_m/b P_00 + s2/b) e1 e1^T."""
    M, q = heavy_ball_moment_system(eta, delta, h, var_m, s2, b)
    K = heavy_ball_mean_matrix(eta, delta, h)
    P = torch.tensor([[1.0, 0.3], [0.3, 0.5]], dtype=F64)
    S = torch.tensor([P[0, 0], P[1, 1], P[0, 1]], dtype=F64)
    for _ in range(25):
        E = torch.zeros(2, 2, dtype=F64)
        E[0, 0] = eta * eta * (var_m / b * P[0, 0] + s2 / b)
        P = K @ P @ K.T + E
        S = M @ S + q
        torch.testing.assert_close(S, torch.stack([P[0, 0], P[1, 1], P[0, 1]]), rtol=1e-12, atol=1e-15)


def test_the_systems_reduce_to_sgd():
    for eta, h, var_m, s2, b in [(0.3, 1.0, 2.0, 0.25, 1), (0.7, 2.0, 0.5, 1.0, 4)]:
        r, q = sgd_moment_step(eta, h, var_m, s2, b)
        # heavy ball with delta = 0: eigenvalues (r, 0, 0)
        M, qh = heavy_ball_moment_system(eta, 0.0, h, var_m, s2, b)
        assert math.isclose(spectral_radius(M), r, rel_tol=1e-12)
        assert math.isclose(float(stationary_moments(M, qh)[0]), q / (1 - r), rel_tol=1e-12)
        # one EASGD worker with alpha = 0 is SGD (its center averages it without pulling back)
        M, qe = easgd_moment_system(1, eta, 0.0, h, var_m, s2, b, beta=0.5)
        assert math.isclose(float(stationary_moments(M, qe)[0]), q / (1 - r), rel_tol=1e-12)


# =============================================================================== 2. mean matrices
def test_heavy_ball_mean_matrix_eigenvalues_are_the_roots_of_the_polynomial():
    rng = np.random.default_rng(3)
    for _ in range(40):
        eta, delta, h = float(rng.uniform(0.01, 2)), float(rng.uniform(-0.99, 0.99)), float(rng.uniform(0.2, 3))
        u = eta * h
        A = heavy_ball_mean_matrix(eta, delta, h)
        ev = np.sort_complex(torch.linalg.eigvals(A).numpy())
        roots = np.sort_complex(np.roots([1.0, -(1 + delta - u), delta]).astype(complex))
        np.testing.assert_allclose(ev, roots, rtol=0, atol=1e-7)  # double roots are only sqrt(eps)-accurate
        assert math.isclose(float(torch.trace(A)), 1 + delta - u, rel_tol=1e-12, abs_tol=1e-15)
        assert math.isclose(float(torch.linalg.det(A)), delta, rel_tol=1e-12, abs_tol=1e-15)


def test_easgd_mean_matrix_eigenvalues_are_the_sync_roots():
    rng = np.random.default_rng(4)
    for _ in range(40):
        p, h = int(rng.integers(1, 33)), float(rng.uniform(0.2, 3))
        eta, alpha = float(rng.uniform(0.01, 2)) / h, float(rng.uniform(0.01, 1.5)) / p
        ev = np.sort_complex(torch.linalg.eigvals(easgd_mean_matrix(p, eta, alpha, h)).numpy())
        roots = np.sort_complex(np.array(easgd_sync_roots(p, eta, alpha, h), dtype=complex))
        np.testing.assert_allclose(ev, roots, rtol=0, atol=1e-7)
        # beta given explicitly as p alpha is the same matrix
        assert torch.equal(easgd_mean_matrix(p, eta, alpha, h, beta=p * alpha), easgd_mean_matrix(p, eta, alpha, h))


def test_noise_free_runs_follow_the_mean_matrices():
    """sigma = 0: heavy_ball_run's (x_t, x_{t-1}) is A^t (x0, x0); elastic_pair_run's (x, c) follows
    easgd_mean_matrix(1, ..., beta); run_easgd's (worker average, center) follows easgd_mean_matrix(p, ...)."""
    h = torch.tensor([0.5, 1.0, 2.0], dtype=F64)
    x0 = torch.tensor([1.0, -2.0, 0.5], dtype=F64)
    obj = AdditiveNoiseQuadratic(h, sigma=0.0, p=4)
    T = 15
    xs = heavy_ball_run(obj, x0, 0.3, 0.6, T)
    ws, cs = elastic_pair_run(obj, x0, 0.3, 0.25, 0.4, T)
    res = run_easgd(obj, x0, 4, 0.3, T, alpha=0.15, mode="sync")
    for k in range(3):
        hk = float(h[k])
        z = torch.tensor([x0[k], x0[k]], dtype=F64)
        Ah = torch.linalg.matrix_power(heavy_ball_mean_matrix(0.3, 0.6, hk), T)
        assert torch.allclose(Ah @ z, torch.stack([xs[T, k], xs[T - 1, k]]), rtol=1e-12, atol=1e-14)
        Ae = easgd_mean_matrix(1, 0.3, 0.25, hk, beta=0.4)
        for t in (1, 7, T):
            zt = torch.linalg.matrix_power(Ae, t) @ z
            assert torch.allclose(zt, torch.stack([ws[t, k], cs[t, k]]), rtol=1e-12, atol=1e-14)
        zt = torch.linalg.matrix_power(easgd_mean_matrix(4, 0.3, 0.15, hk), T) @ z
        assert torch.allclose(zt, torch.stack([res.workers[:, k].mean(), res.center[k]]), rtol=1e-12, atol=1e-14)


def test_easgd_center_never_contracts_faster_than_sgd():
    """The initial-phase limit (no speedup from p; Zhang 2016, PhD thesis, derived for chapter 03): for every stable
    (p, u, alpha >= 0), max(|gamma|, |phi|) >= |1 - u|."""
    rng = np.random.default_rng(5)
    checked, tight = 0, 0
    while checked < 2000:
        p = int(rng.integers(1, 65))
        h = float(rng.uniform(0.2, 3))
        eta = float(rng.uniform(0.0, 2.1)) / h
        alpha = float(rng.uniform(0.0, 2.0)) / p
        if not easgd_sync_stable(p, eta, alpha, h):
            continue
        r = spectral_radius(easgd_mean_matrix(p, eta, alpha, h))
        assert r < 1
        assert r >= abs(1 - eta * h) - 1e-12, (p, eta, alpha, h, r)
        tight += r < abs(1 - eta * h) + 0.01
        checked += 1
    assert tight > 10  # the bound is approached, not only satisfied loosely


# =============================================================================== 3. multiplicative SGD
@pytest.mark.parametrize("h", [1.0, 2.5])
@pytest.mark.parametrize("kappa", [0.8, 2.0, 8.0])
@pytest.mark.parametrize("b", [1, 4, 16])
def test_sgd_optimum(h, kappa, b):
    var_m = kappa * h * h
    eta_star, r_star, eta_max = sgd_optimum(h, var_m, b)
    assert math.isclose(r_star, kappa / (b + kappa), rel_tol=1e-12)
    assert math.isclose(eta_star, 1 / (h * (1 + kappa / b)), rel_tol=1e-12)
    assert math.isclose(eta_max, 2 / (h * (1 + kappa / b)), rel_tol=1e-12)
    rate = lambda e: sgd_moment_step(e, h, var_m, 0.0, b)[0]  # noqa: E731
    assert math.isclose(rate(eta_star), r_star, rel_tol=1e-12)
    assert math.isclose(rate(eta_max), 1.0, rel_tol=1e-12)
    grid = torch.linspace(0.001, 1.2 * eta_max, 1201, dtype=F64)
    e_best, r_best = optimal_step(rate, grid)
    assert r_best >= r_star - 1e-14
    assert abs(e_best - eta_star) <= float(grid[1] - grid[0])
    # the rate is a parabola in eta: r - r* = (h^2 + var_m / b)(eta - eta*)^2
    assert r_best - r_star <= (h * h + var_m / b) * float(grid[1] - grid[0]) ** 2
    mask = stable_steps(rate, grid)
    inside = (grid - eta_max).abs() > 1e-9
    assert torch.equal(mask[inside], (grid < eta_max)[inside])


@pytest.mark.parametrize(("b", "r_star", "eta_max", "r_03"), [(1, 0.667, 0.667, 0.6700), (4, 0.333, 1.333, 0.5350),
                                                               (16, 0.111, 1.778, 0.5012)])
def test_sgd_multiplicative_reference_values_and_one_step_monte_carlo(b, r_star, eta_max, r_03):
    _, rs, em = sgd_optimum(1.0, 2.0, b)
    assert abs(rs - r_star) <= 5e-4 and abs(em - eta_max) <= 5e-4
    r, q = sgd_moment_step(0.3, 1.0, 2.0, 0.0, b)
    assert math.isclose(r, 0.7**2 + 0.09 * 2 / b, rel_tol=1e-12) and q == 0.0
    assert abs(r - r_03) <= 1e-4
    # one step from x = 1 with Gaussian inputs (kappa = 2) and no label noise: E x'^2 = r
    n = 200_000
    obj = RandomInputObjective(RandomInputs("gaussian"), n, b=b, sigma_eps=0.0, seed=11)
    x = torch.ones(n, dtype=F64)
    x1 = x - 0.3 * obj.grad(x[None], [0])[0]
    mean, se = _mc_close(x1.square()[:, None], torch.tensor([r], dtype=F64), z=4.0)
    assert float(se[0]) < 0.005 * r  # 4 se is within the 1 % tolerance we set for this check
    # the additive-only prediction (1 - eta h)^2 = 0.49 is rejected: the test sees the multiplicative term
    assert abs(float(mean[0]) - 0.49) > 4 * float(se[0])


def test_iterations_to_shrink():
    assert math.isclose(iterations_to_shrink(0.5), math.log(1e-3) / math.log(0.5), rel_tol=1e-14)
    assert iterations_to_shrink(1.0) == math.inf and iterations_to_shrink(1.3) == math.inf
    assert iterations_to_shrink(0.0) == 0.0
    for b in (1, 2, 4, 16, 256):  # r* = kappa / (b + kappa): shrink E x^2 by e in 1 / ln((b + kappa) / kappa) steps
        r = sgd_optimum(1.0, 2.0, b)[1]
        assert math.isclose(iterations_to_shrink(r, math.exp(-1)), 1 / math.log((b + 2.0) / 2.0), rel_tol=1e-12)


# =============================================================================== 4. Monte Carlo of the moment systems
@pytest.mark.parametrize("law", ["uniform", "gaussian"])
def test_heavy_ball_3x3_against_monte_carlo(law):
    """heavy_ball_run on RandomInputObjective: 20 000 chains, b = 2, sigma_eps = 0.5, from x = 1 (x_{-1} = x_0, so
    S_0 = (1, 1, 1)). Per-chain x_t^2, x_{t-1}^2, x_t x_{t-1} are i.i.d. across chains."""
    n, b, sig, eta, delta, T = 20_000, 2, 0.5, 0.3, 0.5, 12
    inputs = RandomInputs(law)
    obj = RandomInputObjective(inputs, n, b=b, sigma_eps=sig, seed=3)
    xs = heavy_ball_run(obj, torch.ones(n, dtype=F64), eta, delta, T)
    M, q = heavy_ball_moment_system(eta, delta, 1.0, inputs.var_a2, inputs.h * sig * sig, b)
    S = _iterate(M, q, torch.ones(3, dtype=F64), T)
    M0, q0 = heavy_ball_moment_system(eta, delta, 1.0, 0.0, inputs.h * sig * sig, b)
    S_add = _iterate(M0, q0, torch.ones(3, dtype=F64), T)
    for t in (1, 4, 8, T):
        samples = torch.stack([xs[t].square(), xs[t - 1].square(), xs[t] * xs[t - 1]], dim=1)
        mean, se = _mc_close(samples, S[t])
        assert bool((se < 0.03 * S[t].abs()).all()), (t, se, S[t])
        # the additive-noise system (var_m = 0) is rejected: the test sees the multiplicative term
        if t >= 4:
            assert abs(float(mean[0] - S_add[t][0])) > 2 * Z * float(se[0]), (t, mean, S_add[t], se)


@pytest.mark.parametrize(("p", "rounds"), [(4, 4), (4, 12), (2, 10)])
def test_easgd_4x4_against_run_easgd(p, rounds):
    """run_easgd (sync, alpha = 0.2, so beta = p alpha) on RandomInputObjective(p = p): Gaussian inputs (kappa = 2),
    b = 2, sigma_eps = 0.5, eta = 0.3, 20 000 chains from x = 1 (S_0 = (1, 1, 1, 1)); per-chain moments
    (mean_i x_i^2, mean_{i != j} x_i x_j, mean_i x_i c, c^2) are i.i.d. across chains."""
    n, b, sig, eta, alpha = 20_000, 2, 0.5, 0.3, 0.2
    inputs = RandomInputs("gaussian")
    obj = RandomInputObjective(inputs, n, p=p, b=b, sigma_eps=sig, seed=4)
    res = run_easgd(obj, torch.ones(n, dtype=F64), p, eta, rounds, alpha=alpha, mode="sync")
    W, c = res.workers, res.center
    M, q = easgd_moment_system(p, eta, alpha, 1.0, inputs.var_a2, inputs.h * sig * sig, b)
    S = _iterate(M, q, torch.ones(4, dtype=F64), rounds)[-1]
    tot = W.sum(dim=0)
    samples = torch.stack([W.square().mean(dim=0), (tot.square() - W.square().sum(dim=0)) / (p * (p - 1)),
                           (W * c).mean(dim=0), c.square()], dim=1)
    mean, se = _mc_close(samples, S)
    torch.testing.assert_close(easgd_moments(W, c), mean, rtol=1e-12, atol=0)  # the library's estimator
    assert bool((se < 0.03 * S).all()), (se, S)
    # the history's center loss is h/2 sum_k c_k^2
    assert math.isclose(res.history.center_loss[-1], 0.5 * n * float(mean[3]), rel_tol=1e-12)


def test_easgd_moments_estimator():
    gen = torch.Generator().manual_seed(0)
    W, c = torch.randn(3, 7, generator=gen, dtype=F64), torch.randn(7, generator=gen, dtype=F64)
    pairs = [W[i] * W[j] for i in range(3) for j in range(3) if i != j]
    expected = torch.stack([W.square().mean(), torch.stack(pairs).mean(), (W * c).mean(), c.square().mean()])
    torch.testing.assert_close(easgd_moments(W, c), expected, rtol=1e-14, atol=1e-15)
    one = easgd_moments(W[:1], c)
    assert float(one[1]) == 0.0 and math.isclose(float(one[0]), float(W[0].square().mean()), rel_tol=1e-14)
    # per-chain samples: column k uses chain k only, and their mean is the estimator
    per = easgd_moment_samples(W, c)
    assert per.shape == (4, 7)
    pair_k = torch.stack(pairs).mean(dim=0)
    torch.testing.assert_close(per, torch.stack([W.square().mean(0), pair_k, (W * c).mean(0), c.square()]),
                               rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(per.mean(dim=1), easgd_moments(W, c), rtol=1e-14, atol=0)
    assert bool((easgd_moment_samples(W[:1], c)[1] == 0).all())


@pytest.mark.parametrize("b", [1, 4])
def test_stationary_variance_of_minibatch_sgd_monte_carlo(b):
    """Batch-b SGD written here from b worker streams of AdditiveNoiseQuadratic (g = mean of b draws of h x - xi),
    20 000 chains (coordinates) from 0; after 100 steps the transient r^100 = 0.49^100 is negligible."""
    n, h, eta, sigma = 20_000, 1.5, 0.2, 1.2
    obj = AdditiveNoiseQuadratic(torch.full((n,), h, dtype=F64), sigma=sigma, p=b, seed=7)
    x = torch.zeros(n, dtype=F64)
    for _ in range(100):
        x = x - eta * obj.grad(x.expand(b, n), list(range(b))).mean(dim=0)
    r, q = sgd_moment_step(eta, h, 0.0, sigma * sigma, b)
    expected = minibatch_sgd_var(b, eta, h, sigma * sigma)
    assert math.isclose(q / (1 - r), expected, rel_tol=1e-12)
    _, se = _mc_close(x.square()[:, None], torch.tensor([expected], dtype=F64))
    assert float(se[0]) < 0.015 * expected


def test_stationary_variance_of_heavy_ball_monte_carlo():
    """heavy_ball_run on the reference setting (eta = 0.05, delta = 0.9, h = 2, sigma = 1), 20 000 chains from 0, 400
    steps (second-moment rate 0.9: transient 0.9^400 ~ 5e-19); the final (x_T^2, x_{T-1}^2, x_T x_{T-1})."""
    n, T = 20_000, 400
    obj = AdditiveNoiseQuadratic(torch.full((n,), 2.0, dtype=F64), sigma=1.0, seed=8)
    xs = heavy_ball_run(obj, torch.zeros(n, dtype=F64), 0.05, 0.9, T, record_every=T - 1)
    assert xs.shape == (3, n)  # t = 0, T - 1 and T
    S = stationary_moments(*heavy_ball_moment_system(0.05, 0.9, 2.0, 0.0, 1.0))
    assert math.isclose(float(S[0]), 0.12837837837837837, rel_tol=1e-10)
    samples = torch.stack([xs[2].square(), xs[1].square(), xs[2] * xs[1]], dim=1)
    _, se = _mc_close(samples, S)
    assert float(se[0]) < 0.015 * float(S[0])


def test_stationary_moments_of_easgd_monte_carlo():
    """run_easgd (sync, p = 4, eta = 0.3, alpha = 0.2) on AdditiveNoiseQuadratic (h = 1, sigma = 1), 20 000 chains from
    0, 150 rounds (the 4x4 radius is ~0.62); (A, B, C, D) against the additive 4x4 fixed point and D against
    easgd_sync_center_var."""
    n, p, eta, alpha = 20_000, 4, 0.3, 0.2
    obj = AdditiveNoiseQuadratic(torch.ones(n, dtype=F64), sigma=1.0, p=p, seed=9)
    res = run_easgd(obj, torch.zeros(n, dtype=F64), p, eta, 150, alpha=alpha, mode="sync", record_every=150)
    M, q = easgd_moment_system(p, eta, alpha, 1.0, 0.0, 1.0, 1)
    assert spectral_radius(M) < 0.65
    S = stationary_moments(M, q)
    assert math.isclose(float(S[3]), easgd_sync_center_var(p, eta, alpha), rel_tol=1e-9)
    W, c = res.workers, res.center
    tot = W.sum(dim=0)
    samples = torch.stack([W.square().mean(dim=0), (tot.square() - W.square().sum(dim=0)) / (p * (p - 1)),
                           (W * c).mean(dim=0), c.square()], dim=1)
    _, se = _mc_close(samples, S)
    assert float(se[3]) < 0.02 * float(S[3])


def test_easgd_center_below_minibatch_sgd():
    """Chapter 03, part A (our prototype's ranges): at beta = 0.9 the EASGD center's variance over batch-p SGD's is
    0.79-0.80 (p = 4) and 0.87-0.93 (p = 16) for eta in {0.05, 0.1, 0.5}; p = 1, alpha = 0.9 is unstable at eta = 0.5
    (stationary -> inf)."""
    for p, lo, hi in [(4, 0.785, 0.805), (16, 0.865, 0.935)]:
        for eta in (0.05, 0.1, 0.5):
            ratio = easgd_sync_center_var(p, eta, 0.9 / p) / minibatch_sgd_var(p, eta)
            assert lo <= ratio <= hi, (p, eta, ratio)
    M, q = easgd_moment_system(1, 0.5, 0.9, 1.0, 0.0, 1.0)
    assert spectral_radius(M) > 1
    assert bool(torch.isinf(stationary_moments(M, q)).all())
    # the naive solve would return a meaningless (negative) variance
    assert float(torch.linalg.solve(torch.eye(4, dtype=F64) - M, q)[3]) < 0


# =============================================================================== 5. grids
@pytest.mark.parametrize("b", [1, 4, 16])
def test_heavy_ball_buys_nothing_under_1d_multiplicative_noise(b):
    """Best spectral radius of the 3x3 system over eta in (0, 2.2] (step 0.01) x delta in [-0.6, 0.9] (step 0.05),
    h = 1, kappa = 2: equals SGD's kappa / (b + kappa) to the grid's resolution, at delta = 0."""
    kappa = 2.0
    etas = torch.arange(1, 221, dtype=F64) * 0.01
    deltas = torch.arange(-12, 19, dtype=F64) * 0.05
    Ms = torch.stack([heavy_ball_moment_system(float(e), float(d), 1.0, kappa, 1.0, b)[0]
                      for e in etas for d in deltas])
    radii = torch.linalg.eigvals(Ms).abs().amax(dim=1).reshape(len(etas), len(deltas))
    k = int(torch.argmin(radii))
    best, e_best, d_best = float(radii.flatten()[k]), float(etas[k // len(deltas)]), float(deltas[k % len(deltas)])
    r_star = kappa / (b + kappa)
    eta_star = 1 / (1 + kappa / b)
    assert r_star - 1e-12 <= best <= r_star + (1 + kappa / b) * 0.005**2 + 1e-12, (best, r_star)
    assert abs(d_best) < 1e-9 and abs(e_best - eta_star) <= 0.005 + 1e-12
    # momentum makes it worse: the best over eta grows with |delta| on both sides of 0 (the row minima are
    # resolved to (1 + kappa/b) 0.005^2 <= 7.5e-5 by the eta grid; neighbouring rows differ by > 4e-4)
    row_min = radii.amin(dim=0)
    assert bool((row_min[deltas.abs() > 1e-9] > r_star + 1e-4).all())
    zero = int(torch.argmin(deltas.abs()))
    assert bool((row_min[zero + 1:].diff() > 0).all()) and bool((row_min[:zero + 1].diff() < 0).all())


def _easgd_rate(p: int, var_m: float):
    return lambda eta: spectral_radius(easgd_moment_system(p, eta, 0.9 / p, 1.0, var_m, 1.0, 1)[0])


@pytest.mark.parametrize(("p", "ref_rate", "ref_eta_max"), [(1, 0.856, 0.18), (4, 0.586, 0.26), (16, 0.603, 0.22)])
def test_easgd_best_rate_and_stable_steps_reference(p, ref_rate, ref_eta_max):
    # reference values: our prototype's grid search (h = 1, kappa = 2, b = 1, beta = 0.9)
    grid = torch.arange(1, 1001, dtype=F64) * 1e-3
    eta, rate = optimal_step(_easgd_rate(p, 2.0), grid)
    assert abs(rate - ref_rate) <= 2e-3, (rate, ref_rate)
    assert 0 < eta < 1
    # kappa = 10: the stable steps form one interval (0, eta_max) with eta_max as in our prototype
    mask = stable_steps(_easgd_rate(p, 10.0), grid)
    m = int(mask.sum())
    assert m > 0 and bool(mask[:m].all()) and not bool(mask[m:].any())
    assert abs(float(grid[m - 1]) - ref_eta_max) <= 5e-3 + 1e-3, float(grid[m - 1])
    # batch-16 SGD's stable range is much larger (prototype: 1.23)
    assert abs(sgd_optimum(1.0, 10.0, 16)[2] - 1.23) <= 5e-3


def test_optimal_step_and_stable_steps_on_a_known_function():
    grid = torch.linspace(0, 2, 201, dtype=F64)
    eta, r = optimal_step(lambda e: abs(1 - e), grid)
    assert eta == 1.0 and r == 0.0
    mask = stable_steps(lambda e: abs(1 - e), grid)
    assert mask.dtype == torch.bool and torch.equal(mask, (grid > 0) & (grid < 2))


# =============================================================================== 6. Polyak's tuning
@pytest.mark.parametrize(("h_min", "h_max"), [(1.0, 1.0), (0.5, 8.0), (0.1, 1.0), (1.0, 100.0)])
def test_heavy_ball_tuned(h_min, h_max):
    eta, delta, rate = heavy_ball_tuned(h_min, h_max)
    k = h_max / h_min
    assert math.isclose(rate, (math.sqrt(k) - 1) / (math.sqrt(k) + 1), rel_tol=1e-12, abs_tol=1e-15)
    assert math.isclose(eta, 4 / (math.sqrt(h_max) + math.sqrt(h_min)) ** 2, rel_tol=1e-12)
    assert math.isclose(delta, rate * rate, rel_tol=1e-12, abs_tol=1e-15)
    hs = torch.linspace(h_min, h_max, 301, dtype=F64)
    radii = torch.tensor([spectral_radius(heavy_ball_mean_matrix(eta, delta, float(h))) for h in hs], dtype=F64)
    # every curvature contracts at the same rate (complex roots, |lambda|^2 = delta); at h_min and h_max the root is
    # double (a defective matrix), where eigenvalues are only sqrt(eps)-accurate
    interior = radii[1:-1] if k > 1 else radii
    assert abs(float(interior.max()) - rate) <= 1e-9
    assert float((interior - rate).abs().max()) <= 1e-9
    assert float((radii - rate).abs().max()) <= 1e-7
    if k > 1:
        assert spectral_radius(heavy_ball_mean_matrix(eta, delta, 1.1 * h_max)) > rate + 1e-3  # tight
        # SGD's best rate over the same curvatures is (k - 1)/(k + 1), slower
        sgd = max(abs(1 - 2 / (h_min + h_max) * float(h)) for h in hs)
        assert math.isclose(sgd, (k - 1) / (k + 1), rel_tol=1e-12) and sgd > rate


# =============================================================================== 7. momentum == negative elastic force
def test_heavy_ball_is_one_worker_easgd_on_a_quadratic():
    obj = AdditiveNoiseQuadratic(torch.full((10,), 2.0, dtype=F64), sigma=1.0, seed=1)
    x0 = torch.linspace(-1, 1, 10, dtype=F64)
    xs = heavy_ball_run(obj, x0, 0.05, 0.9, 300)
    ws, cs = elastic_pair_run(obj, x0, 0.05, -0.9, 1.0, 300)
    assert xs.shape == ws.shape == cs.shape == (301, 10)
    assert float((xs - ws).abs().max()) < 1e-12
    assert float((cs[1:] - xs[:-1]).abs().max()) < 1e-12  # the center stores the last iterate
    assert torch.equal(cs[0], x0)
    ws9, _ = elastic_pair_run(obj, x0, 0.05, -0.9, 0.9, 300)
    assert float((ws9 - xs).abs().max()) > 1e-6
    # record_every keeps the same states
    torch.testing.assert_close(heavy_ball_run(obj, x0, 0.05, 0.9, 300, record_every=7), xs[[*range(0, 301, 7), 300]],
                               rtol=0, atol=0)


def test_heavy_ball_is_one_worker_easgd_on_a_network():
    obj = make_objective("digits", 1, hidden=8, batch_size=16)
    x0 = obj.initial()
    xs = heavy_ball_run(obj, x0, 0.05, 0.9, 30)
    ws, cs = elastic_pair_run(obj, x0, 0.05, -0.9, 1.0, 30)
    assert float((xs - ws).abs().max()) < 1e-12
    assert float((cs[1:] - xs[:-1]).abs().max()) < 1e-12
    assert float((xs[-1] - x0).abs().max()) > 1e-3  # it moved
    ws9, _ = elastic_pair_run(obj, x0, 0.05, -0.9, 0.9, 30)
    assert float((ws9 - xs).abs().max()) > 1e-6


def test_characteristic_polynomials_match_only_for_beta_one_alpha_minus_delta():
    rng = np.random.default_rng(6)
    us = [0.05, 0.3, 0.9, 1.7]
    for _ in range(100):
        delta = float(rng.uniform(-0.9, 0.95))
        alpha, beta = float(rng.uniform(-1, 1)), float(rng.uniform(0.1, 1.9))
        for a, bt, match in [(-delta, 1.0, True), (alpha, beta, False), (-delta, beta, False), (alpha, 1.0, False)]:
            diff = 0.0
            for u in us:
                E, H = easgd_mean_matrix(1, u, a, 1.0, beta=bt), heavy_ball_mean_matrix(u, delta, 1.0)
                tE, dE = float(torch.trace(E)), float(torch.linalg.det(E))
                # the mean map's characteristic polynomial (derived from the update rules):
                # lambda^2 - (2 - u - alpha - beta) lambda + (1 - u - alpha - beta + u beta)
                assert math.isclose(tE, 2 - u - a - bt, rel_tol=1e-12, abs_tol=1e-14)
                assert math.isclose(dE, 1 - u - a - bt + u * bt, rel_tol=1e-12, abs_tol=1e-14)
                diff = max(diff, abs(tE - float(torch.trace(H))), abs(dE - float(torch.linalg.det(H))))
            if match:
                assert diff < 1e-12
            elif abs(bt - 1) > 1e-3 or abs(a + delta) > 1e-3:
                assert diff > 1e-4
        # the symmetric choice beta = p alpha: any alpha < 0 is unstable (c^2 < 0 => a real root > 1)
        p, h = int(rng.integers(1, 33)), float(rng.uniform(0.2, 3))
        eta, a_neg = float(rng.uniform(0.01, 2)) / h, -float(rng.uniform(1e-3, 1))
        assert spectral_radius(easgd_mean_matrix(p, eta, a_neg, h)) > 1
        assert not easgd_sync_stable(p, eta, a_neg, h)


# =============================================================================== 8. the saddle
def test_double_well_derivatives_against_autograd():
    gen = torch.Generator().manual_seed(0)
    z = 2 * torch.randn(5, 3, 2, generator=gen, dtype=F64)
    zr = z.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(DoubleWell.f(zr).sum(), zr)
    torch.testing.assert_close(DoubleWell.grad(z), g, rtol=1e-13, atol=1e-13)
    H = DoubleWell.hessian(z)
    assert H.shape == (5, 3, 2, 2)
    for point in z.reshape(-1, 2)[:6]:
        Ha = torch.autograd.functional.hessian(lambda w: DoubleWell.f(w), point)
        torch.testing.assert_close(DoubleWell.hessian(point), Ha, rtol=1e-13, atol=1e-13)
    for m in DoubleWell.minima:
        assert float(DoubleWell.grad(torch.tensor(m, dtype=F64)).abs().max()) == 0.0
    assert float(DoubleWell.grad(torch.tensor(DoubleWell.saddle, dtype=F64)).abs().max()) == 0.0
    assert torch.linalg.eigvalsh(DoubleWell.hessian(torch.tensor(DoubleWell.saddle, dtype=F64))).min() < 0


def _split_state(rho: float, p: int) -> torch.Tensor:
    a = split_equilibrium(rho)
    z = torch.zeros(2 * (p + 1), dtype=F64)
    for i in range(p):
        z[2 * i] = a if i < p // 2 else -a
    return z


def _penalised(z: torch.Tensor, rho: float, p: int) -> torch.Tensor:
    """sum_i f(x^i) + rho/2 sum_i ||x^i - c||^2 on (x^1, y^1, ..., x^p, y^p, c_x, c_y)."""
    X, c = z[:2 * p].reshape(p, 2), z[2 * p:]
    return DoubleWell.f(X).sum() + 0.5 * rho * (X - c).square().sum()


@pytest.mark.parametrize("p", [2, 4])
@pytest.mark.parametrize("rho", [0.1, 0.3, 0.6, 0.7, 0.9])
def test_split_state_is_stationary_and_its_hessian(p, rho):
    a = split_equilibrium(rho)
    assert math.isclose(a * a, 1 - rho, rel_tol=1e-14)
    z = _split_state(rho, p).requires_grad_(True)
    (g,) = torch.autograd.grad(_penalised(z, rho, p), z)
    assert float(g.abs().max()) < 1e-14  # the EASGD penalised gradient vanishes
    Ha = torch.autograd.functional.hessian(lambda w: _penalised(w, rho, p), z.detach())
    H = split_hessian(rho, p)
    torch.testing.assert_close(H, Ha, rtol=1e-13, atol=1e-13)
    # the Schur complement of the workers along the center's x
    W = list(range(2 * p))
    cx = 2 * p
    schur = H[cx, cx] - H[cx, W] @ torch.linalg.solve(H[W][:, W], H[W, cx])
    assert math.isclose(float(schur), split_schur(rho, p), rel_tol=1e-10, abs_tol=1e-13)
    assert math.isclose(split_schur(rho, p), p * rho * (2 - 3 * rho) / (2 - 2 * rho), rel_tol=1e-14)


@pytest.mark.parametrize("p", [2, 4])
def test_trap_threshold_is_the_sign_change(p):
    assert trap_threshold() == 2 / 3
    assert abs(split_schur(trap_threshold(), p)) < 1e-12
    for rho in np.linspace(0.02, 0.66, 33).tolist():
        assert float(torch.linalg.eigvalsh(split_hessian(rho, p)).min()) > 0, rho
        assert split_schur(rho, p) > 0
    for rho in np.linspace(0.67, 0.99, 33).tolist():
        assert float(torch.linalg.eigvalsh(split_hessian(rho, p)).min()) < 0, rho
        assert split_schur(rho, p) < 0


def test_double_well_easgd_trap_and_escape():
    """Chapter 03's saddle example (derived for the course), part D: workers (1.001, 0.5), (-1, -0.3), center 0,
    eta = 0.05, 20 000 steps, noise-free."""
    coarse = [0.3, 0.6, 0.7, 0.9, 1.2]
    fine = (torch.arange(55, 81, dtype=F64) / 100).tolist()
    rho = torch.tensor(coarse + fine, dtype=F64)
    W0 = torch.tensor([[1.001, 0.5], [-1.0, -0.3]], dtype=F64)
    X, c = double_well_easgd(rho, 0.05, 20_000, W0, torch.zeros(2, dtype=F64))
    assert X.shape == (len(rho), 2, 2) and c.shape == (len(rho), 2)
    for k, r in enumerate(coarse):
        if r < 2 / 3:  # trapped: center on the saddle, workers at +-sqrt(1 - rho)
            assert float(c[k].abs().max()) < 1e-6
            a = math.sqrt(1 - r)
            torch.testing.assert_close(X[k], torch.tensor([[a, 0.0], [-a, 0.0]], dtype=F64), rtol=0, atol=1e-6)
        else:  # consensus at the minimum (1, 0)
            assert abs(float(c[k, 0]) - 1) < 1e-6 and abs(float(c[k, 1])) < 1e-6
            torch.testing.assert_close(X[k], torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=F64), rtol=0, atol=1e-6)
    escaped = (c[len(coarse):, 0].abs() > 0.5).tolist()
    switch = escaped.index(True)
    assert not any(escaped[:switch]) and all(escaped[switch:])  # a single switch
    assert 0.64 < fine[switch - 1] < fine[switch] <= 0.69, (fine[switch - 1], fine[switch])


def test_double_well_easgd_noise_is_reproducible():
    rho = torch.tensor([0.5, 0.5, 0.8], dtype=F64)
    W0 = torch.tensor([[1.001, 0.5], [-1.0, -0.3]], dtype=F64)
    c0 = torch.zeros(2, dtype=F64)
    run = lambda seed, noise=0.05: double_well_easgd(rho, 0.05, 300, W0, c0, noise=noise, seed=seed)  # noqa: E731
    X1, c1 = run(7)
    X2, c2 = run(7)
    assert torch.equal(X1, X2) and torch.equal(c1, c2)
    X3, _ = run(8)
    assert float((X3 - X1).abs().max()) > 1e-3
    # per-run noise: a run with noise 0 is the noise-free run
    Xn, _ = run(7, torch.tensor([0.0, 0.05, 0.2], dtype=F64))
    X0, _ = double_well_easgd(rho, 0.05, 300, W0, c0)
    assert torch.equal(Xn[0], X0[0]) and not torch.equal(Xn[1], X0[1])


# =============================================================================== 9. random inputs
def _kappa_se(a: torch.Tensor) -> float:
    """Delta-method standard error of spread(a) = s^2 / mu^2 of y = a^2 (influence function from the samples)."""
    y = a.reshape(-1).square()
    mu, s2 = y.mean(), y.var(correction=0)
    psi = ((y - mu).square() - s2) / mu**2 - 2 * s2 * (y - mu) / mu**3
    return float(psi.std() / math.sqrt(y.numel()))


@pytest.mark.parametrize(("law", "df", "kappa"), [("rademacher", 5, 0.0), ("uniform", 5, 0.8), ("gaussian", 5, 2.0),
                                                  ("student_t", 5, 8.0), ("student_t", 7, 4.0)])
def test_random_inputs_laws_and_spread(law, df, kappa):
    h = 2.5
    inputs = RandomInputs(law, h=h, df=df)
    assert math.isclose(inputs.kappa, kappa, rel_tol=1e-14, abs_tol=0)
    assert math.isclose(inputs.var_a2, kappa * h * h, rel_tol=1e-14, abs_tol=0)
    if law == "student_t":  # independently: E t^2 = nu/(nu-2), E t^4 = 3 nu^2 / ((nu-2)(nu-4))
        m2, m4 = df / (df - 2), 3 * df * df / ((df - 2) * (df - 4))
        assert math.isclose(inputs.kappa, m4 / m2**2 - 1, rel_tol=1e-12)
    n = 200_000
    a = inputs.sample((n,), torch.Generator().manual_seed(21))
    assert a.shape == (n,) and a.dtype == F64
    y = a.square()
    _mc_close(y[:, None], torch.tensor([h], dtype=F64))  # E a^2 = h (exactly for Rademacher: se = 0)
    _mc_close(a[:, None], torch.zeros(1, dtype=F64))  # symmetric
    # the law itself (KS test of the standardised samples; deterministic seed)
    s = (a / math.sqrt(h)).numpy()
    if law == "rademacher":
        assert set(np.unique(s).tolist()) == {-1.0, 1.0}
        assert spread(a) == 0.0
        return
    cdf = {"uniform": stats.uniform(-math.sqrt(3), 2 * math.sqrt(3)).cdf, "gaussian": stats.norm.cdf,
           "student_t": lambda v: stats.t(df).cdf(v * math.sqrt(df / (df - 2)))}[law]
    assert stats.kstest(s, cdf).pvalue > 1e-3
    if law in ("uniform", "gaussian"):  # light tails: the spread estimate is asymptotically normal
        se = _kappa_se(a)
        assert abs(spread(a) - kappa) < Z * se, (spread(a), kappa, se)
        assert se < 0.02 * kappa


@pytest.mark.parametrize(("law", "b"), [("uniform", 1), ("gaussian", 1), ("gaussian", 4)])
def test_random_input_objective_noise_model(law, b):
    """g = m x - n: read m = g(1) - g(0) and n = -g(0) from the same stream position (reset in between).
    E m = h, V m = kappa h^2 / b, E n^2 = h sigma^2 / b, E[mn] = 0, and the same a in both parts:
    for b = 1, E[m n^2] = sigma^2 E[a^4] = sigma^2 (1 + kappa) h^2 (independent inputs would give sigma^2 h^2)."""
    n, h, sig = 100_000, 1.5, 0.7
    inputs = RandomInputs(law, h=h)
    obj = RandomInputObjective(inputs, n, b=b, sigma_eps=sig, seed=2)
    g0 = obj.grad(torch.zeros(1, n, dtype=F64), [0])[0]
    obj.reset()
    g1 = obj.grad(torch.ones(1, n, dtype=F64), [0])[0]
    m, nn = g1 - g0, -g0
    assert bool((m >= 0).all())
    _mc_close(m[:, None], torch.tensor([h], dtype=F64))
    _mc_close(((m - h).square())[:, None], torch.tensor([inputs.var_a2 / b], dtype=F64))
    _mc_close(nn.square()[:, None], torch.tensor([h * sig * sig / b], dtype=F64))
    _mc_close((m * nn)[:, None], torch.zeros(1, dtype=F64))
    if b == 1:
        mean, se = _mc_close((m * nn.square())[:, None], torch.tensor([sig * sig * (1 + inputs.kappa) * h * h]))
        assert abs(float(mean[0]) - sig * sig * h * h) > 2 * Z * float(se[0])
        # with one sample n^2 / m = sigma^2 eps^2 exactly: a chi-square(1) times sigma^2
        ratio = (nn.square() / m / (sig * sig)).numpy()
        assert stats.kstest(ratio, stats.chi2(1).cdf).pvalue > 1e-3


def test_random_input_objective_shares_the_input():
    n = 1000
    obj = RandomInputObjective(RandomInputs("gaussian"), n, b=1, sigma_eps=0.0, seed=5)
    assert torch.equal(obj.grad(torch.zeros(1, n, dtype=F64), [0]), torch.zeros(1, n, dtype=F64))
    g = obj.grad(torch.ones(1, n, dtype=F64), [0])[0]
    assert bool((g >= 0).all()) and float(g.min()) < 0.01  # a^2: non-negative, reaching near 0
    obj.reset()
    a = RandomInputs("gaussian").sample((1, n), torch.Generator().manual_seed(0))  # a different stream
    assert not torch.equal(g, a[0].square())
    assert obj.h == 1.0 and obj.n == n
    assert math.isclose(obj.loss(torch.ones(n, dtype=F64)), 0.5 * n, rel_tol=1e-14)


def test_random_input_objective_streams():
    n, p = 50, 3
    obj = RandomInputObjective(RandomInputs("uniform"), n, p=p, b=2, sigma_eps=1.0, seed=4)
    X = torch.randn(p, n, generator=torch.Generator().manual_seed(1), dtype=F64)
    together = [obj.grad(X, [0, 1, 2]) for _ in range(3)]
    obj.reset()
    apart = []
    for _ in range(3):  # other grouping and order: worker 2 alone, then (1, 0)
        g2 = obj.grad(X[2:3], [2])
        g10 = obj.grad(X[[1, 0]], [1, 0])
        apart.append(torch.cat([g10[[1, 0]], g2]))
    for t in range(3):
        assert torch.equal(together[t], apart[t])
    assert not torch.equal(together[0][0], together[0][1])  # workers have their own streams
    assert not torch.equal(together[0], together[1])  # and the stream advances
    other = RandomInputObjective(RandomInputs("uniform"), n, p=p, b=2, sigma_eps=1.0, seed=5)
    assert not torch.equal(other.grad(X, [0, 1, 2]), together[0])


# =============================================================================== 10. bad inputs
def test_bad_inputs():
    with pytest.raises(ValueError, match=r"^b: expected"):
        sgd_moment_step(0.1, b=0)
    with pytest.raises(ValueError, match=r"^b: expected"):
        easgd_moment_system(2, 0.1, 0.1, b=0)
    with pytest.raises(TypeError, match=r"^b: expected"):
        heavy_ball_moment_system(0.1, 0.5, b=2.5)
    with pytest.raises(ValueError, match=r"^var_m: expected"):
        sgd_moment_step(0.1, var_m=-1.0)
    with pytest.raises(ValueError, match=r"^var_m: expected"):
        sgd_optimum(1.0, var_m=-1.0)
    with pytest.raises(ValueError, match=r"^var_m: expected"):
        heavy_ball_moment_system(0.1, 0.5, var_m=-0.1)
    with pytest.raises(ValueError, match=r"^s2: expected"):
        easgd_moment_system(2, 0.1, 0.1, s2=-1.0)
    with pytest.raises(ValueError, match=r"^h: expected"):
        sgd_optimum(0.0, 1.0)
    for eta, delta, h in [(0.1, 1.0, 1.0), (0.1, -1.2, 1.0), (2.0, 0.0, 1.0), (1.0, 0.5, 3.0), (0.0, 0.5, 1.0)]:
        with pytest.raises(ValueError, match=r"^eta, delta: expected"):
            heavy_ball_var(eta, delta, h)
    with pytest.raises(ValueError, match=r"^h_max: expected"):
        heavy_ball_tuned(2.0, 1.0)
    with pytest.raises(ValueError, match=r"^h_min: expected"):
        heavy_ball_tuned(0.0, 1.0)
    with pytest.raises(ValueError, match=r"^p: expected"):
        easgd_mean_matrix(0, 0.1, 0.1)
    M, q = heavy_ball_moment_system(0.5, 0.5, 1.0, var_m=20.0)
    assert spectral_radius(M) > 1 and bool(torch.isinf(stationary_moments(M, q)).all())
    for factor in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"^factor: expected"):
            iterations_to_shrink(0.5, factor)
    for rho in (1.0, 1.5):
        with pytest.raises(ValueError, match=r"^rho: expected"):
            split_equilibrium(rho)
    with pytest.raises(ValueError, match=r"^rho: expected"):
        split_equilibrium(0.0)
    with pytest.raises(ValueError, match=r"^rho: expected"):
        split_schur(1.0)
    with pytest.raises(ValueError, match=r"^p: expected an even"):
        split_hessian(0.5, 3)
    with pytest.raises(ValueError, match=r"^law: expected"):
        RandomInputs(law="cauchy")
    with pytest.raises(ValueError, match=r"^df: expected"):
        RandomInputs("student_t", df=4)
    with pytest.raises(ValueError, match=r"^h: expected"):
        RandomInputs("gaussian", h=-1.0)
    with pytest.raises(TypeError, match=r"^inputs: expected a RandomInputs"):
        RandomInputObjective("gaussian", 10)
    with pytest.raises(ValueError, match=r"^sigma_eps: expected"):
        RandomInputObjective(RandomInputs(), 10, sigma_eps=-1.0)
    W0, c0 = torch.zeros(2, 2, dtype=F64), torch.zeros(2, dtype=F64)
    with pytest.raises(ValueError, match=r"^noise: expected"):
        double_well_easgd(torch.tensor([0.5], dtype=F64), 0.05, 10, W0, c0, noise=-0.1)
    with pytest.raises(ValueError, match=r"^noise: expected"):
        double_well_easgd(torch.tensor([0.5, 0.6], dtype=F64), 0.05, 10, W0, c0, noise=torch.tensor([0.1, -0.1]))
    with pytest.raises(ValueError, match=r"^a: expected at least 2"):
        spread(torch.ones(1, dtype=F64))
    obj = AdditiveNoiseQuadratic(torch.ones(3, dtype=F64))
    with pytest.raises(ValueError, match=r"^x0: expected"):
        heavy_ball_run(obj, torch.zeros(4, dtype=F64), 0.1, 0.5, 3)
    with pytest.raises(ValueError, match=r"^steps: expected"):
        elastic_pair_run(obj, torch.zeros(3, dtype=F64), 0.1, 0.5, 1.0, 0)


def test_heavy_ball_var_bad_sigma2_and_h_name_themselves():
    with pytest.raises(ValueError, match=r"^sigma2: expected"):
        heavy_ball_var(0.1, 0.5, 1.0, sigma2=-1.0)
    with pytest.raises(ValueError, match=r"^h: expected"):
        heavy_ball_var(0.1, 0.5, 0.0)


def test_heavy_ball_tuned_refuses_an_infinite_h_max():
    with pytest.raises(ValueError, match=r"^h_max: expected"):
        heavy_ball_tuned(1.0, math.inf)
