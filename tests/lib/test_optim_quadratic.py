"""The noisy quadratic model of harmonia.optim.quadratic: the optimal schedule and its mean squared distance
(closed form against the variance recursion and against 4000 simulated SGD runs), the greedy oracle rate
(argmin of the exact one-step expected loss), sample gradients (Monte-Carlo mean and variance), the loss
closed forms, jumping optima, the vectorised SGD/vSGD runners and argument validation."""

from __future__ import annotations

import math

import pytest
import torch

from harmonia.optim import (
    NoisyQuadratic,
    constant,
    greedy_oracle,
    inv_t,
    jumping_optima,
    optimal_schedule,
    run_sgd,
    run_vsgd,
)

F64 = torch.float64


def _t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


# ------------------------------------------------------------------------------ closed forms
@pytest.mark.parametrize("h", [0.5, 2.0, 10.0])
@pytest.mark.parametrize(("sigma", "e0"), [(0.3, 0.1), (1.0, 4.0), (3.0, 100.0), (1.0, 1e-3)])
def test_optimal_mse_closed_form_and_recursion(h, sigma, e0):
    problem = NoisyQuadratic(_t([h]), sigma)
    ts = torch.arange(60)
    mse = problem.optimal_mse(ts, e0)
    assert mse.shape == (60, 1)
    for t in (0, 1, 17, 59):
        assert math.isclose(float(mse[t, 0]), sigma**2 / (t + sigma**2 / e0), rel_tol=1e-14)
    # e <- (1 - eta h)^2 e + eta^2 h^2 sigma^2 with the optimal schedule reproduces e_t
    e = e0
    for t in range(59):
        eta = float(problem.optimal_schedule(t, e0)[0])
        # the schedule is the greedy optimum 1/h * e_t / (e_t + sigma^2) at every step
        assert math.isclose(eta, e / (h * (e + sigma**2)), rel_tol=1e-12)
        e = (1 - eta * h) ** 2 * e + eta**2 * h**2 * sigma**2
        assert math.isclose(e, float(mse[t + 1, 0]), rel_tol=1e-12)


def test_optimal_schedule_per_coordinate():
    h, sigma, e0 = _t([0.5, 2.0, 10.0]), _t([0.3, 1.0, 3.0]), _t([0.1, 4.0, 100.0])
    problem = NoisyQuadratic(h, sigma)
    e = e0.clone()
    for t in range(30):
        eta = problem.optimal_schedule(t, e0)
        assert eta.shape == (3,)
        e = (1 - eta * h).square() * e + eta.square() * h.square() * sigma.square()
        torch.testing.assert_close(e, problem.optimal_mse(t + 1, e0), rtol=1e-12, atol=0)


@pytest.mark.parametrize(("h", "sigma", "dist", "n"), [(1.0, 1.0, 2.0, 1), (4.0, 0.5, -0.3, 1), (0.2, 2.0, 1.0, 8),
                                                       (3.0, 1.0, 0.0, 2), (1.0, 0.0, 1.5, 1)])
def test_oracle_lr_minimises_the_expected_loss_after_one_step(h, sigma, dist, n):
    problem = NoisyQuadratic(_t([h]), sigma, theta_star=0.7)
    theta = _t([0.7 + dist])
    oracle = float(problem.oracle_lr(theta, n)[0])
    etas = torch.linspace(0.0, 2.0 / h, 20001, dtype=F64)
    spacing = float(etas[1] - etas[0])
    expected = (1 - etas * h) ** 2 * dist**2 + etas**2 * h**2 * sigma**2 / n
    best = float(etas[expected.argmin()])
    if dist == 0.0:
        assert oracle == 0.0 and best == 0.0
    else:
        assert abs(best - oracle) <= spacing
        assert math.isclose(oracle, dist**2 / (h * (dist**2 + sigma**2 / n)), rel_tol=1e-14)


def test_oracle_lr_by_monte_carlo(seeded):
    """The mini-batch rate of Schaul, Zhang & LeCun (2013) by Monte Carlo: the empirical one-step loss, a parabola
    in eta, has its minimum at the oracle rate."""
    h, sigma, n = 2.0, 1.5, 8
    problem = NoisyQuadratic(_t([h]), sigma)
    theta = _t([1.0])
    g = problem.sample_grads(theta.expand(100_000, 1), n, seeded(0)).mean(dim=0)[:, 0]  # 1e5 mean gradients
    # E_mc[(theta - eta g)^2] = theta^2 - 2 eta theta m1 + eta^2 m2: minimum at theta m1 / m2
    eta_mc = float(theta[0] * g.mean() / g.square().mean())
    assert abs(eta_mc / float(problem.oracle_lr(theta, n)[0]) - 1) < 0.02


def test_sample_gradient_moments_by_monte_carlo(seeded):
    h, sigma, star = _t([0.5, 2.0, 4.0]), _t([1.0, 0.3, 2.0]), _t([0.0, 1.0, -1.0])
    problem = NoisyQuadratic(h, sigma, star)
    theta = _t([1.0, -2.0, 0.5])
    N = 100_000
    gs = problem.sample_grads(theta, N, seeded(1))
    assert gs.shape == (N, 3)
    mean, var = gs.mean(dim=0), gs.var(dim=0)
    sd = h * sigma
    assert bool(((mean - h * (theta - star)).abs() <= 4 * sd / math.sqrt(N)).all())
    assert bool(((var - sd.square()).abs() <= 4 * sd.square() * math.sqrt(2 / (N - 1))).all())
    # the per-sample loss sum_i g_i^2 / (2 h_i) averages to the expected loss J(theta)
    losses = (gs.square() / (2 * h)).sum(dim=1)
    se = float(losses.std()) / math.sqrt(N)
    assert abs(float(losses.mean()) - float(problem.expected_loss(theta))) <= 4 * se


def test_batch_mean_gradient_has_leading_trial_axes(seeded):
    problem = NoisyQuadratic(_t([1.0, 3.0]), _t([2.0, 0.5]))
    theta = torch.zeros(50_000, 2, dtype=F64)
    g = problem.sample_grad(theta, 4, seeded(2))
    assert g.shape == (50_000, 2)
    var = g.var(dim=0)
    expected = (problem.h * problem.sigma).square() / 4
    assert bool(((var - expected).abs() <= 4 * expected * math.sqrt(2 / 49_999)).all())
    assert problem.sample_grads(torch.zeros(5, 7, 2, dtype=F64), 3).shape == (3, 5, 7, 2)
    assert problem.curvature(torch.zeros(5, 7, 2, dtype=F64)).shape == (5, 7, 2)


def test_excess_and_expected_loss_closed_forms(seeded):
    h, sigma, star = _t([0.5, 2.0, 4.0]), _t([1.0, 0.3, 2.0]), _t([0.0, 1.0, -1.0])
    problem = NoisyQuadratic(h, sigma, star)
    theta = torch.randn(4, 5, 3, generator=seeded(3), dtype=F64)
    excess, expected = problem.excess_loss(theta), problem.expected_loss(theta)
    assert excess.shape == (4, 5) and expected.shape == (4, 5)
    noise_floor = sum(0.5 * hi * si**2 for hi, si in zip([0.5, 2.0, 4.0], [1.0, 0.3, 2.0]))
    for a, b in [(0, 0), (3, 4), (1, 2)]:
        ref = sum(0.5 * hi * (float(theta[a, b, i]) - si) ** 2 for i, (hi, si) in enumerate(zip([0.5, 2.0, 4.0],
                                                                                                  [0.0, 1.0, -1.0])))
        assert math.isclose(float(excess[a, b]), ref, rel_tol=1e-14)
        assert math.isclose(float(expected[a, b]), ref + noise_floor, rel_tol=1e-14)
    assert float(problem.excess_loss(star)) == 0.0
    # a per-trial optimum
    other = torch.randn(4, 5, 3, generator=seeded(4), dtype=F64)
    torch.testing.assert_close(problem.excess_loss(theta, other), 0.5 * (h * (theta - other).square()).sum(-1),
                               rtol=1e-14, atol=0)


# ------------------------------------------------------------------------------ SGD runs
def test_optimal_schedule_sgd_matches_optimal_mse():
    problem = NoisyQuadratic(_t([1.0]), 1.0)
    e0 = 25.0  # theta0 = 5, theta* = 0
    run = run_sgd(problem, 5.0, 200, optimal_schedule(problem, e0), trials=4000, seed=0)
    assert run.theta.shape == (201, 4000, 1) and run.excess.shape == (201, 4000) and run.lr.shape == (200, 4000, 1)
    for t in (10, 50, 200):
        sq = run.theta[t, :, 0].square()
        se = float(sq.std()) / math.sqrt(4000)
        assert abs(float(sq.mean()) - float(problem.optimal_mse(t, e0)[0])) <= 5 * se, t
    # the rates are the deterministic schedule 1/(h (t + 1 + sigma^2/e0))
    torch.testing.assert_close(run.lr[:, 0, 0], 1.0 / (torch.arange(200, dtype=F64) + 1 + 1 / 25), rtol=1e-14, atol=0)
    torch.testing.assert_close(run.excess, 0.5 * run.theta[..., 0].square(), rtol=1e-14, atol=0)


def test_schedules():
    problem = NoisyQuadratic(_t([2.0, 0.5]), 0.0, _t([1.0, -1.0]))
    # without noise the greedy oracle is Newton's step: the optimum in one step
    run = run_sgd(problem, _t([3.0, 4.0]), 1, greedy_oracle(problem), trials=2)
    torch.testing.assert_close(run.theta[1], _t([[1.0, -1.0], [1.0, -1.0]]), rtol=0, atol=1e-15)
    # a float rate is the constant schedule; the deterministic run is theta* + (1 - eta h)^t (theta0 - theta*)
    a = run_sgd(problem, _t([3.0, 4.0]), 5, 0.1)
    b = run_sgd(problem, _t([3.0, 4.0]), 5, constant(0.1))
    assert torch.equal(a.theta, b.theta)
    torch.testing.assert_close(a.theta[5, 0], _t([1.0, -1.0]) + (1 - 0.1 * problem.h) ** 5 * _t([2.0, 5.0]),
                               rtol=1e-14, atol=0)
    c = run_sgd(problem, _t([3.0, 4.0]), 6, inv_t(0.4, 0.5))
    torch.testing.assert_close(c.lr[:, 0, 0], 0.4 / (1 + 0.5 * torch.arange(6, dtype=F64)), rtol=1e-14, atol=0)


# ------------------------------------------------------------------------------ jumping optima
@pytest.mark.parametrize(("steps", "every"), [(50, 10), (47, 10), (9, 10), (30, 1)])
def test_jumping_optima_structure(steps, every, seeded):
    path = jumping_optima(steps, every, 2.5, (6, 2), start=1.0, generator=seeded(0))
    assert path.shape == (steps, 6, 2) and path.dtype == F64
    assert bool((path[0] == 1.0).all())
    for t in range(1, steps):
        jump = path[t] - path[t - 1]
        if t % every:
            assert bool((jump == 0).all())
        else:
            assert bool((jump.abs() == 2.5).all())
    if steps // every >= 5:
        idx = torch.arange(every, steps, every)
        jumps = path[idx] - path[idx - 1]
        assert bool((jumps > 0).any()) and bool((jumps < 0).any())


def test_jumping_optima_reproducible(seeded):
    a = jumping_optima(100, 10, 1.0, (8,), generator=seeded(3))
    b = jumping_optima(100, 10, 1.0, (8,), generator=seeded(3))
    c = jumping_optima(100, 10, 1.0, (8,), generator=seeded(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


# ------------------------------------------------------------------------------ vSGD runs
def test_run_vsgd_global_on_one_coordinate_is_local():
    problem = NoisyQuadratic(_t([2.0]), 0.7, 1.0)
    a = run_vsgd(problem, 4.0, 100, trials=5, n=3, variant="l", seed=2)
    b = run_vsgd(problem, 4.0, 100, trials=5, n=3, variant="g", seed=2)
    for x, y in ((a.theta, b.theta), (a.lr, b.lr), (a.tau, b.tau)):
        torch.testing.assert_close(x, y, rtol=1e-15, atol=0)


def test_run_vsgd_reproducible_and_shapes():
    problem = NoisyQuadratic(_t([1.0, 4.0]), _t([1.0, 0.2]))
    a = run_vsgd(problem, _t([2.0, -1.0]), 40, trials=7, seed=5)
    b = run_vsgd(problem, _t([2.0, -1.0]), 40, trials=7, seed=5)
    c = run_vsgd(problem, _t([2.0, -1.0]), 40, trials=7, seed=6)
    assert torch.equal(a.theta, b.theta) and not torch.equal(a.theta, c.theta)
    assert a.theta.shape == (41, 7, 2) and a.excess.shape == (41, 7)
    for x in (a.lr, a.tau, a.gbar, a.vbar):
        assert x.shape == (40, 7, 2)
    assert torch.equal(a.theta[0], _t([[2.0, -1.0]] * 7))


def test_run_vsgd_fd_rate_on_a_quadratic_is_the_bbprop_rate():
    """On a quadratic the probe returns h exactly; with C = 1, vhbar / hbar = h, so vSGD-fd = vSGD."""
    problem = NoisyQuadratic(_t([0.5, 3.0]), _t([1.0, 0.5]))
    a = run_vsgd(problem, _t([2.0, 2.0]), 60, trials=4, C=1.0, seed=1)
    b = run_vsgd(problem, _t([2.0, 2.0]), 60, trials=4, C=1.0, fd=True, seed=1)
    torch.testing.assert_close(b.theta, a.theta, rtol=1e-6, atol=1e-9)


def test_run_vsgd_reacts_to_a_jump(seeded):
    """The optimum jumps by 3 sigma at t = 500: the memory collapses, the rate rises, the loss recovers."""
    problem = NoisyQuadratic(_t([1.0]), 1.0)
    path = jumping_optima(1000, 500, 3.0, (50, 1), generator=seeded(0))
    run = run_vsgd(problem, 0.0, 1000, trials=50, seed=0, theta_star_path=path)
    tau, lr, excess = run.tau[..., 0], run.lr[..., 0], run.excess
    assert float(tau[500:600].min(dim=0).values.median()) < 0.2 * float(tau[498].median())
    assert float(lr[500:600].max(dim=0).values.median()) > 10 * float(lr[498].median())
    assert float(excess[1000].median()) < 0.01 * float(excess[501].median())


# ------------------------------------------------------------------------------ bad arguments
def test_bad_arguments():
    problem = NoisyQuadratic(_t([1.0, 2.0]), 1.0)
    with pytest.raises(ValueError, match="steps"):
        run_vsgd(problem, 0.0, 0)
    with pytest.raises(ValueError, match="trials"):
        run_vsgd(problem, 0.0, 10, trials=0)
    with pytest.raises(ValueError, match="variant"):
        run_vsgd(problem, 0.0, 10, variant="b")
    with pytest.raises(ValueError, match="n0"):
        run_vsgd(problem, 0.0, 10, n0=0)
    with pytest.raises(ValueError, match="theta_star_path"):
        run_vsgd(problem, 0.0, 10, theta_star_path=torch.zeros(9, 1, 2, dtype=F64))
    with pytest.raises(ValueError, match="steps"):
        run_sgd(problem, 0.0, 0, 0.1)
    with pytest.raises(ValueError, match="schedule"):
        run_sgd(problem, 0.0, 10, -0.1)
    with pytest.raises(ValueError, match="theta_star_path"):
        run_sgd(problem, 0.0, 10, 0.1, theta_star_path=torch.zeros(11, 2, dtype=F64))
    with pytest.raises(ValueError, match="h"):
        NoisyQuadratic(_t([1.0, 0.0]))
    with pytest.raises(ValueError, match="h"):
        NoisyQuadratic(_t([[1.0, 2.0]]))
    with pytest.raises(TypeError, match="h"):
        NoisyQuadratic(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="sigma"):
        NoisyQuadratic(_t([1.0, 2.0]), _t([1.0, -0.1]))
    with pytest.raises(ValueError, match="theta"):
        problem.excess_loss(torch.zeros(3, dtype=F64))
    with pytest.raises(ValueError, match="n"):
        problem.sample_grads(torch.zeros(2, dtype=F64), 0)
    with pytest.raises(ValueError, match="every"):
        jumping_optima(10, 0, 1.0, (2,))
    with pytest.raises(ValueError, match="size"):
        jumping_optima(10, 2, -1.0, (2,))


def test_oracle_rate_at_the_optimum_without_noise_is_the_newton_rate():
    p = NoisyQuadratic(torch.tensor([2.0, 0.5], dtype=torch.float64), sigma=0.0)
    lr = p.oracle_lr(torch.tensor([[0.0, 1.0]], dtype=torch.float64))
    assert torch.allclose(lr, torch.tensor([[0.5, 2.0]], dtype=torch.float64), rtol=1e-15, atol=0)
    run = run_sgd(p, 3.0, 5, greedy_oracle(p), trials=2)  # lands on the optimum at step 1, then stays
    assert torch.isfinite(run.theta).all() and float(run.excess[-1].max()) == 0.0
