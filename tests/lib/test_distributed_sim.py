"""harmonia.distributed simulation (EASGD, EAMSGD and the DOWNPOUR comparators of Zhang, Choromanska & LeCun 2015;
chapter 02, part C): the elastic exchange and its conservation laws, Jacobi vs Gauss-Seidel, the local steps, the
schedulers, per-worker streams that do not depend on how calls are grouped (what makes the simulation and
torch.distributed agree), the model objective against autograd, the algorithms against reference loops written here,
their conservation law and limiting cases (EASGD/EAMSGD without communication = SGD/MSGD, DOWNPOUR p = 1 = SGD,
MDOWNPOUR = torch's Nesterov SGD), their bookkeeping, the part-C claims on the 10-D quadratic (our prototype's
values), and bad arguments."""

from __future__ import annotations

import copy
import math
from collections import Counter

import pytest
import torch

from harmonia.distributed import (
    AdditiveNoiseQuadratic,
    Scheduler,
    elastic_exchange,
    elastic_exchange_sync,
    make_objective,
    nesterov_step,
    run_downpour,
    run_easgd,
    run_mdownpour,
    run_msgd,
    sgd_step,
)

F64 = torch.float64


def _quadratic(p: int = 4, seed: int = 0):
    """Chapter 02's part-C problem: 10-D, h = linspace(0.1, 1, 10), sigma = 1, x0 = 5 * ones."""
    obj = make_objective("quadratic", p, seed=seed)
    return obj, 5.0 * torch.ones(obj.n, dtype=F64)


def _small_quadratic(p: int = 3, seed: int = 4) -> AdditiveNoiseQuadratic:
    h = torch.tensor([0.3, 1.0, 1.7, 0.6, 2.2], dtype=F64)
    return AdditiveNoiseQuadratic(h, sigma=0.7, p=p, seed=seed)


# ------------------------------------------------------------------------------ elastic exchange
def test_elastic_exchange_moves_worker_and_center_by_the_same_amount(seeded):
    g = seeded(0)
    x, c = torch.randn(7, generator=g, dtype=F64), torch.randn(7, generator=g, dtype=F64)
    alpha = 0.3
    x_new, c_new, d = elastic_exchange(x, c, alpha)
    torch.testing.assert_close(d, alpha * (x - c), rtol=0, atol=1e-15)
    torch.testing.assert_close(x - x_new, d, rtol=0, atol=1e-15)
    torch.testing.assert_close(c_new - c, d, rtol=0, atol=1e-15)
    torch.testing.assert_close(x_new + c_new, x + c, rtol=0, atol=1e-14)  # conserved
    # the gap shrinks by the factor 1 - 2 alpha (both ends move toward each other)
    torch.testing.assert_close(x_new - c_new, (1 - 2 * alpha) * (x - c), rtol=0, atol=1e-14)
    # alpha = 1/2: both meet in the middle
    x_half, c_half, _ = elastic_exchange(x, c, 0.5)
    torch.testing.assert_close(x_half, (x + c) / 2, rtol=0, atol=1e-15)
    torch.testing.assert_close(c_half, (x + c) / 2, rtol=0, atol=1e-15)


def test_elastic_exchange_sync_conserves_the_total_and_is_jacobi(seeded):
    g = seeded(1)
    p, n, alpha = 4, 6, 0.2
    X, c = torch.randn(p, n, generator=g, dtype=F64), torch.randn(n, generator=g, dtype=F64)
    X_new, c_new = elastic_exchange_sync(X, c, alpha)
    torch.testing.assert_close(c_new + X_new.sum(0), c + X.sum(0), rtol=0, atol=1e-13)
    # every worker uses the same old center; with beta = p alpha the center is a moving average of the mean
    torch.testing.assert_close(X_new, X - alpha * (X - c), rtol=0, atol=1e-15)
    torch.testing.assert_close(c_new, (1 - p * alpha) * c + p * alpha * X.mean(0), rtol=0, atol=1e-13)
    # Gauss-Seidel (one worker at a time, each seeing the updated center) is also conservative but different
    Xg, cg = X.clone(), c.clone()
    for i in range(p):
        Xg[i], cg, _ = elastic_exchange(Xg[i], cg, alpha)
    torch.testing.assert_close(cg + Xg.sum(0), c + X.sum(0), rtol=0, atol=1e-13)
    assert float((cg - c_new).abs().max()) > 1e-3
    assert float((Xg[1:] - X_new[1:]).abs().max()) > 1e-3
    torch.testing.assert_close(Xg[0], X_new[0], rtol=0, atol=1e-15)  # the first worker sees the same old center
    # p = 1: both orders coincide
    X1, c1 = elastic_exchange_sync(X[:1], c, alpha)
    x1, cc1, _ = elastic_exchange(X[0], c, alpha)
    torch.testing.assert_close(X1[0], x1, rtol=0, atol=1e-15)
    torch.testing.assert_close(c1, cc1, rtol=0, atol=1e-15)


# ------------------------------------------------------------------------------ local steps
def test_sgd_step_displacement():
    h = torch.tensor([0.5, 2.0, 3.0], dtype=F64)
    x = torch.tensor([1.0, -1.0, 0.25], dtype=F64)
    x_new, disp = sgd_step(x, lambda z: h * z, 0.1)
    torch.testing.assert_close(disp, -0.1 * h * x, rtol=0, atol=1e-16)
    torch.testing.assert_close(x_new, x * (1 - 0.1 * h), rtol=0, atol=1e-16)


def test_nesterov_step_two_steps_by_hand():
    # F(x) = x^2 (gradient 2x), x0 = 1, v0 = 0, eta = 0.1, delta = 0.5 (Sutskever form)
    # step 1: g(1 + 0) = 2, v1 = -0.2, x1 = 0.8
    # step 2: look-ahead 0.8 + 0.5 * (-0.2) = 0.7, g = 1.4, v2 = 0.5 * (-0.2) - 0.14 = -0.24, x2 = 0.56
    queried = []

    def grad(z):
        queried.append(float(z))
        return 2 * z

    x, v = torch.tensor(1.0, dtype=F64), torch.tensor(0.0, dtype=F64)
    x, v = nesterov_step(x, v, grad, 0.1, 0.5)
    assert math.isclose(float(v), -0.2, abs_tol=1e-15) and math.isclose(float(x), 0.8, abs_tol=1e-15)
    x, v = nesterov_step(x, v, grad, 0.1, 0.5)
    assert math.isclose(float(v), -0.24, abs_tol=1e-15) and math.isclose(float(x), 0.56, abs_tol=1e-15)
    assert queried == pytest.approx([1.0, 0.7], abs=1e-15)
    # delta = 0 is plain SGD
    x0 = torch.tensor([0.3, -2.0], dtype=F64)
    xs, _ = sgd_step(x0, lambda z: 2 * z, 0.1)
    xn, vn = nesterov_step(x0, torch.zeros(2, dtype=F64), lambda z: 2 * z, 0.1, 0.0)
    assert torch.equal(xs, xn) and torch.equal(vn, -0.1 * (2 * x0))


# ------------------------------------------------------------------------------ schedulers
def _take(sched: Scheduler, k: int) -> list[int]:
    it = iter(sched)
    return [next(it) for _ in range(k)]


def test_round_robin_order():
    assert _take(Scheduler("round_robin", 3), 8) == [0, 1, 2, 0, 1, 2, 0, 1]
    assert _take(Scheduler("round_robin", 1), 3) == [0, 0, 0]


def test_random_schedule_is_seeded_and_uniform():
    p, k = 5, 10_000
    a = _take(Scheduler("random", p, seed=3), k)
    assert a == _take(Scheduler("random", p, seed=3), k)  # reproducible (across the 1024-draw blocks)
    assert a != _take(Scheduler("random", p, seed=4), k)
    assert a[:20] != _take(Scheduler("round_robin", p), 20)
    counts = Counter(a)
    assert set(counts) == set(range(p))
    # Pearson chi-square with p - 1 = 4 degrees of freedom: P(chi2 > 25) ~ 5e-5
    chi2 = sum((counts[i] - k / p) ** 2 / (k / p) for i in range(p))
    assert chi2 < 25
    # successive draws are not tied together: the next worker is the same one about 1/p of the time
    repeats = sum(x == y for x, y in zip(a, a[1:]))
    expected, sd = (k - 1) / p, math.sqrt((k - 1) / p * (1 - 1 / p))
    assert abs(repeats - expected) < 5 * sd


def test_speeds_schedule_follows_the_finishing_times():
    ticks = _take(Scheduler("speeds", 2, speeds=[2.0, 1.0]), 3000)
    c = Counter(ticks)
    assert abs(c[0] / c[1] - 2.0) < 0.02  # twice as fast -> twice as many ticks, within 1 %
    three = Counter(_take(Scheduler("speeds", 3, speeds=[1.0, 0.5, 0.25]), 3500))
    assert three[0] == 2000 and three[1] == 1000 and three[2] == 500
    # the k-th tick of worker i finishes at time k / speeds[i]: the ticks are these events in time order
    speeds = [1.0, 0.37, 2.93]
    events = sorted((k / s, i) for i, s in enumerate(speeds) for k in range(1, 200))
    times = [t for t, _ in events[:150]]
    assert min(b - a for a, b in zip(times, times[1:])) > 1e-6  # no near-ties in this prefix
    assert _take(Scheduler("speeds", 3, speeds=speeds), 150) == [i for _, i in events[:150]]
    # equal speeds: a round-robin-like interleaving (every worker once per time unit)
    eq = _take(Scheduler("speeds", 3, speeds=[1.5, 1.5, 1.5]), 30)
    for r in range(10):
        assert sorted(eq[3 * r:3 * r + 3]) == [0, 1, 2]


def test_scheduler_bad_arguments():
    with pytest.raises(ValueError, match=r"^kind: expected one of"):
        Scheduler("fifo", 3)
    with pytest.raises(ValueError, match=r"^speeds: expected 3 positive numbers"):
        Scheduler("speeds", 3)
    with pytest.raises(ValueError, match=r"^speeds: expected 3 positive numbers"):
        Scheduler("speeds", 3, speeds=[1.0, 2.0])
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match=r"^speeds\[1\]: expected a positive number"):
            Scheduler("speeds", 3, speeds=[1.0, bad, 2.0])
    with pytest.raises(ValueError, match=r"^p: expected a positive int"):
        Scheduler("round_robin", 0)


# ------------------------------------------------------------------------------ noisy quadratic objective
def test_quadratic_streams_do_not_depend_on_call_grouping(seeded):
    p = 3
    grouped, single = _small_quadratic(p), _small_quadratic(p)
    g = seeded(2)
    P1, P2 = torch.randn(p, 5, generator=g, dtype=F64), torch.randn(p, 5, generator=g, dtype=F64)
    G1, G2 = grouped.grad(P1, [0, 1, 2]), grouped.grad(P2, [0, 1, 2])
    # the same six gradients, requested one worker at a time in an interleaved order
    out = {}
    for (k, i) in [(0, 2), (0, 0), (1, 2), (0, 1), (1, 0), (1, 1)]:
        out[(k, i)] = single.grad((P1, P2)[k][i][None], [i])[0]
    for i in range(p):
        assert torch.equal(out[(0, i)], G1[i]) and torch.equal(out[(1, i)], G2[i])
    # a different order inside one call also gives each worker its own next sample
    third = _small_quadratic(p)
    G = third.grad(P1[[2, 0, 1]], [2, 0, 1])
    assert torch.equal(G, G1[[2, 0, 1]])
    # reset restarts the streams; different seeds give different streams
    grouped.reset()
    assert torch.equal(grouped.grad(P1, [0, 1, 2]), G1)
    assert not torch.equal(_small_quadratic(p, seed=5).grad(P1, [0, 1, 2]), G1)


def test_quadratic_gradient_mean_and_variance():
    h = torch.tensor([0.5, 2.0], dtype=F64)
    sigma, p, calls = 1.5, 4, 2500
    obj = AdditiveNoiseQuadratic(h, sigma=sigma, p=p, seed=1)
    x = torch.tensor([1.0, -2.0], dtype=F64)
    G = torch.stack([obj.grad(x.expand(p, -1), list(range(p))) for _ in range(calls)])  # (calls, p, 2)
    S = G.reshape(-1, 2)
    N = S.shape[0]
    mean, var = S.mean(0), S.var(0)
    torch.testing.assert_close(mean, h * x, rtol=0, atol=4 * sigma / math.sqrt(N))
    # standard error of the sample variance from the sample fourth moment
    m4 = ((S - mean) ** 4).mean(0)
    se_var = ((m4 - var**2) / N).sqrt()
    assert bool(((var - sigma**2).abs() < 4 * se_var).all()), (var, se_var)
    # workers are independent of each other (correlation ~ N(0, 1/calls))
    noise = G - h * x
    corr = torch.corrcoef(noise[:, :, 0].T)
    off = corr[~torch.eye(p, dtype=torch.bool)]
    assert float(off.abs().max()) < 4 / math.sqrt(calls)
    # sigma = 0: the exact gradient
    exact = AdditiveNoiseQuadratic(h, sigma=0.0, p=2)
    assert torch.equal(exact.grad(x.expand(2, -1), [0, 1]), (h * x).expand(2, -1))
    assert math.isclose(obj.loss(x), 0.5 * (0.5 * 1 + 2.0 * 4), rel_tol=1e-15)


# ------------------------------------------------------------------------------ model objective (digits)
@pytest.fixture(scope="module")
def digits():
    return make_objective("digits", 3)


def _fresh(obj):
    """A second objective with the same model, data and streams."""
    other = copy.copy(obj)
    other.reset()
    return other


def test_digits_streams_do_not_depend_on_call_grouping(digits, seeded):
    obj = _fresh(digits)
    g = seeded(3)
    theta = obj.initial() + 0.1 * torch.randn(obj.n, generator=g, dtype=F64)
    P = theta.expand(3, -1)
    G1, G2 = obj.grad(P, [0, 1, 2]), obj.grad(P, [0, 1, 2])
    single = _fresh(digits)
    out = {}
    for (k, i) in [(0, 1), (1, 1), (0, 2), (0, 0), (1, 0), (1, 2)]:
        out[(k, i)] = single.grad(theta[None], [i])[0]
    for i in range(3):
        torch.testing.assert_close(out[(0, i)], G1[i], rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(out[(1, i)], G2[i], rtol=1e-12, atol=1e-14)
    assert not torch.allclose(G1[0], G1[1])  # the workers read different batches
    assert not torch.allclose(G1[0], G2[0])  # and a fresh batch every step


def test_digits_batches_are_per_epoch_permutations(digits):
    obj = _fresh(digits)
    per_epoch = obj.X.shape[0] // obj.batch_size
    epoch0 = torch.cat([obj.batch_indices(0, t) for t in range(per_epoch)])
    assert epoch0.numel() == per_epoch * obj.batch_size and epoch0.unique().numel() == epoch0.numel()
    epoch1 = torch.cat([obj.batch_indices(0, t) for t in range(per_epoch, 2 * per_epoch)])
    assert epoch1.unique().numel() == epoch1.numel() and not torch.equal(epoch0, epoch1)
    assert not torch.equal(obj.batch_indices(1, 0), obj.batch_indices(0, 0))
    # asking again (even after later epochs were drawn) gives the same indices
    assert torch.equal(obj.batch_indices(0, 3), epoch0[3 * obj.batch_size:4 * obj.batch_size])


def _autograd_grad(obj, theta, idx, weight_decay):
    model = copy.deepcopy(obj.model)
    torch.nn.utils.vector_to_parameters(theta.clone(), model.parameters())
    model.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(obj.X[idx]), obj.y[idx])
    loss = loss + 0.5 * weight_decay * sum(q.square().sum() for q in model.parameters())
    loss.backward()
    return torch.cat([q.grad.reshape(-1) for q in model.parameters()])


def test_digits_gradient_is_the_autograd_gradient_of_the_batch_loss(digits, seeded):
    obj = _fresh(digits)
    assert obj.weight_decay == 1e-4
    g = seeded(4)
    P = obj.initial() + 0.2 * torch.randn(3, obj.n, generator=g, dtype=F64)
    for t in range(2):  # the t-th call of each worker reads batch_indices(i, t)
        G = obj.grad(P, [0, 1, 2])
        for i in range(3):
            expected = _autograd_grad(obj, P[i], obj.batch_indices(i, t), obj.weight_decay)
            torch.testing.assert_close(G[i], expected, rtol=1e-10, atol=1e-12)
    # the L2 term: its gradient is weight_decay * theta
    heavy = make_objective("digits", 1, weight_decay=0.5)
    none = make_objective("digits", 1, weight_decay=0.0)
    theta = P[0]
    diff = heavy.grad(theta[None], [0])[0] - none.grad(theta[None], [0])[0]
    torch.testing.assert_close(diff, 0.5 * theta, rtol=1e-10, atol=1e-12)


def test_digits_initial_loss_and_error(digits):
    theta = digits.initial()
    assert theta.shape == (digits.n,) and digits.n == 64 * 16 + 16 + 16 * 10 + 10
    theta[0] += 1.0  # initial() returns a copy
    assert not torch.equal(theta, digits.initial())
    loss, err = digits.loss(digits.initial()), digits.error(digits.initial())
    assert math.isfinite(loss) and loss > 0 and 0.0 <= err <= 1.0
    # loss = mean cross-entropy on the training set + L2
    model = copy.deepcopy(digits.model)
    with torch.no_grad():
        ce = torch.nn.functional.cross_entropy(model(digits.X), digits.y)
        l2 = sum(q.square().sum() for q in model.parameters())
    assert math.isclose(loss, float(ce + 0.5 * 1e-4 * l2), rel_tol=1e-12)


# ------------------------------------------------------------------------------ algorithms vs reference loops
def _ref_async_easgd(obj, x0, p, eta, alpha, tau, momentum, order):
    """The paper's Algorithms 1-2 (asynchronous EASGD / EAMSGD), one tick at a time, on scalar-per-worker
    bookkeeping."""
    X = [x0.clone() for _ in range(p)]
    V = [torch.zeros_like(x0) for _ in range(p)]
    c = x0.clone()
    clock = [0] * p
    for i in order:
        x = X[i].clone()  # copy before the exchange: the gradient is taken here
        if clock[i] % tau == 0:
            d = alpha * (x - c)
            X[i] = X[i] - d
            c = c + d
        g = obj.grad((x + momentum * V[i])[None], [i])[0]
        V[i] = momentum * V[i] - eta * g
        X[i] = X[i] + V[i]
        clock[i] += 1
    return torch.stack(X), c


@pytest.mark.parametrize(("schedule", "momentum", "tau"), [("round_robin", 0.0, 1), ("random", 0.0, 3),
                                                           ("random", 0.6, 2), ("speeds", 0.9, 3)])
def test_async_easgd_matches_the_reference_loop(schedule, momentum, tau):
    p, rounds, eta, alpha = 3, 15, 0.2, 0.25
    sched = Scheduler(schedule, p, seed=7, speeds=[1.0, 2.5, 0.7] if schedule == "speeds" else None)
    x0 = torch.linspace(-1.0, 2.0, 5, dtype=F64)
    res = run_easgd(_small_quadratic(p), x0, p, eta, rounds, alpha=alpha, tau=tau, momentum=momentum, schedule=sched)
    X, c = _ref_async_easgd(_small_quadratic(p), x0, p, eta, alpha, tau, momentum, _take(sched, rounds * p))
    torch.testing.assert_close(res.center, c, rtol=0, atol=1e-12)
    torch.testing.assert_close(res.workers, X, rtol=0, atol=1e-12)


@pytest.mark.parametrize("momentum", [0.0, 0.7])
def test_sync_easgd_matches_the_jacobi_reference(momentum):
    p, rounds, eta, alpha, tau = 3, 12, 0.2, 0.2, 2
    x0 = torch.linspace(-1.0, 2.0, 5, dtype=F64)
    res = run_easgd(_small_quadratic(p), x0, p, eta, rounds, alpha=alpha, tau=tau, momentum=momentum, mode="sync")
    obj = _small_quadratic(p)
    X, V, c = x0.expand(p, -1).clone(), torch.zeros(p, 5, dtype=F64), x0.clone()
    for t in range(rounds):
        G = torch.stack([obj.grad((X[i] + momentum * V[i])[None], [i])[0] for i in range(p)])
        D = alpha * (X - c) if t % tau == 0 else torch.zeros_like(X)  # all from the same old state
        V = momentum * V - eta * G
        X, c = X - D + V, c + D.sum(0)
    torch.testing.assert_close(res.center, c, rtol=0, atol=1e-12)
    torch.testing.assert_close(res.workers, X, rtol=0, atol=1e-12)


@pytest.mark.parametrize("schedule", ["round_robin", "random"])
def test_downpour_matches_the_reference_loop(schedule):
    p, rounds, eta, tau = 3, 15, 0.2, 4
    x0 = torch.linspace(-1.0, 2.0, 5, dtype=F64)
    sched = Scheduler(schedule, p, seed=2)
    res = run_downpour(_small_quadratic(p), x0, p, eta, rounds, tau=tau, schedule=sched)
    obj = _small_quadratic(p)
    X, U, c, clock = [x0.clone() for _ in range(p)], [torch.zeros(5, dtype=F64) for _ in range(p)], x0.clone(), [0] * p
    for i in _take(sched, rounds * p):
        if clock[i] % tau == 0:
            c = c + U[i]  # push the accumulated steps, pull the fresh center
            X[i], U[i] = c.clone(), torch.zeros(5, dtype=F64)
        step = -eta * obj.grad(X[i][None], [i])[0]
        X[i], U[i] = X[i] + step, U[i] + step
        clock[i] += 1
    torch.testing.assert_close(res.center, c, rtol=0, atol=1e-12)
    torch.testing.assert_close(res.workers, torch.stack(X), rtol=0, atol=1e-12)


def test_mdownpour_is_torch_nesterov_sgd_on_the_center():
    p, rounds, eta, delta = 3, 10, 0.1, 0.9
    x0 = torch.linspace(-1.0, 2.0, 5, dtype=F64)
    res = run_mdownpour(_small_quadratic(p), x0, p, eta, rounds, momentum=delta)
    obj = _small_quadratic(p)
    w = torch.nn.Parameter(x0.clone())
    opt = torch.optim.SGD([w], lr=eta, momentum=delta, nesterov=True)
    for tick in range(rounds * p):
        opt.zero_grad()
        w.grad = obj.grad(w.detach()[None], [tick % p])[0].clone()  # the gradient at the current center
        opt.step()
    torch.testing.assert_close(res.center, w.detach(), rtol=0, atol=1e-12)
    assert res.history.messages[-1] == rounds * p


def test_msgd_asgd_is_the_running_mean_of_the_iterates():
    rounds, eta = 30, 0.3
    x0 = torch.linspace(-1.0, 2.0, 5, dtype=F64)
    res = run_msgd(_small_quadratic(1), x0, eta, rounds, average="asgd")
    obj = _small_quadratic(1)
    xs = [x0.clone()]
    for _ in range(rounds):
        xs.append(xs[-1] - eta * obj.grad(xs[-1][None], [0])[0])
    torch.testing.assert_close(res.workers[0], xs[-1], rtol=0, atol=1e-12)
    torch.testing.assert_close(res.center, torch.stack(xs).mean(0), rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------ conservation and limits
@pytest.mark.parametrize(("mode", "schedule", "momentum"), [("async", "round_robin", 0.0), ("async", "random", 0.0),
                                                            ("sync", "round_robin", 0.0), ("async", "random", 0.9),
                                                            ("sync", "round_robin", 0.9)])
def test_conservation_law(mode, schedule, momentum):
    obj, x0 = _quadratic(4, seed=1)
    p = 4
    res = run_easgd(obj, x0, p, 0.05, 60, tau=3, momentum=momentum, mode=mode, schedule=schedule)
    total = res.center + res.workers.sum(0)
    torch.testing.assert_close(total, (p + 1) * x0 + res.displacement.sum(0), rtol=0, atol=1e-10)
    # the law is not empty: the elastic force moved the center, and the displacements are not zero
    assert float((res.center - x0).abs().min()) > 0.1 and float(res.displacement.abs().min()) > 0.1


def test_no_communication_gives_plain_sgd_and_msgd():
    """tau > rounds: the only exchange is at clock 0, where x = center, so nothing moves; the worker then runs
    SGD (EAMSGD: Nesterov MSGD) on worker 0's stream and the center stays at x0."""
    obj, x0 = _quadratic(1, seed=2)
    for momentum in (0.0, 0.9):
        res = run_easgd(obj, x0, 1, 0.05, 50, tau=1000, momentum=momentum)
        ref = run_msgd(obj, x0, 0.05, 50, momentum=momentum)
        assert torch.equal(res.workers[0], ref.workers[0])
        assert torch.equal(res.center, x0)
        assert res.history.messages[-1] == 1
        assert float((res.workers[0] - x0).abs().min()) > 0.5


@pytest.mark.parametrize("tau", [1, 3, 7])
def test_downpour_with_one_worker_is_sgd_sampled_at_the_syncs(tau):
    obj, x0 = _quadratic(1, seed=3)
    rounds, eta = 22, 0.1
    res = run_downpour(obj, x0, 1, eta, rounds, tau=tau)
    torch.testing.assert_close(res.workers[0], run_msgd(obj, x0, eta, rounds).workers[0], rtol=0, atol=1e-12)
    last_sync = tau * ((rounds - 1) // tau)  # the center is the worker's iterate at its last push
    torch.testing.assert_close(res.center, run_msgd(obj, x0, eta, last_sync).center, rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------ histories
@pytest.mark.parametrize(("mode", "rounds", "tau", "every"), [("async", 10, 3, 1), ("async", 11, 4, 3),
                                                              ("sync", 9, 2, 4), ("sync", 12, 5, 3)])
def test_easgd_history_bookkeeping(mode, rounds, tau, every):
    p = 3
    obj, x0 = _quadratic(p)
    res = run_easgd(obj, x0, p, 0.05, rounds, tau=tau, mode=mode, record_every=every)
    h = res.history
    expected_rounds = list(range(0, rounds + 1, every))
    if expected_rounds[-1] != rounds:
        expected_rounds.append(rounds)
    assert h.rounds == expected_rounds
    assert len(h.center_loss) == len(h.center_error) == len(h.spread) == len(h.messages) == len(h.rounds)
    assert h.messages == [p * math.ceil(r / tau) for r in h.rounds]  # each worker talks when tau | clock
    assert h.center_loss[0] == obj.loss(x0) and h.spread[0] == 0.0
    assert math.isclose(h.center_loss[-1], obj.loss(res.center), rel_tol=1e-15)
    spread = float((res.workers - res.center).square().sum(1).mean())
    assert math.isclose(h.spread[-1], spread, rel_tol=1e-12)
    assert not h.diverged and h.seconds > 0


def test_downpour_and_mdownpour_history_messages():
    p, rounds, tau = 3, 10, 4
    obj, x0 = _quadratic(p)
    h = run_downpour(obj, x0, p, 0.05, rounds, tau=tau).history
    assert h.rounds == list(range(rounds + 1))
    assert h.messages == [p * math.ceil(r / tau) for r in h.rounds]
    h = run_mdownpour(obj, x0, p, 0.05, rounds, record_every=4).history
    assert h.rounds == [0, 4, 8, 10] and h.messages == [0, 12, 24, 30]


def test_mdownpour_and_asgd_reduce_the_loss():
    obj, x0 = _quadratic(4)
    start = obj.loss(x0)
    md = run_mdownpour(obj, x0, 4, 0.01, 300)
    assert not md.history.diverged and md.history.center_loss[-1] < 0.05 * start
    obj1, _ = _quadratic(1)
    asgd = run_msgd(obj1, x0, 0.1, 300, average="asgd")
    assert asgd.history.center_loss[-1] < 0.2 * start
    assert all(b < a for a, b in zip(asgd.history.center_loss[:50], asgd.history.center_loss[1:51]))


# ------------------------------------------------------------------------------ part C (10-D quadratic)
def _tail(history, k=500):
    return sum(history.center_loss[-k:]) / k


def test_part_c_easgd_is_stable_under_rare_communication_downpour_is_not():
    obj, x0 = _quadratic(4)
    p, eta, rounds = 4, 0.05, 4000
    easgd = {tau: run_easgd(obj, x0, p, eta, rounds, tau=tau).history for tau in (1, 16, 64)}
    for tau, h in easgd.items():
        assert not h.diverged and len(h.center_loss) == rounds + 1, tau
    base = _tail(easgd[1])
    assert abs(base / 0.037 - 1) < 0.3  # our prototype: 0.037, accept +-30 %
    for tau in (16, 64):
        assert base / 1.5 < _tail(easgd[tau]) < 1.5 * base, tau  # within x1.5 of its tau = 1 value
    for tau in (16, 64):
        h = run_downpour(obj, x0, p, eta, rounds, tau=tau).history
        assert h.diverged, tau
        assert h.rounds[-1] < rounds and math.isnan(h.center_loss[-1])  # the run stops at the blow-up
    assert not run_downpour(obj, x0, p, eta, 300, tau=1).history.diverged


def test_part_c_eamsgd_is_faster_than_easgd():
    # our prototype: EAMSGD (delta 0.9, eta 0.01, tau 10) reaches center loss < 0.1 in ~220 rounds vs ~1700 for EASGD.
    # The first crossing of a noisy loss moves between ~150 and ~240 over seeds, so the bounds are wide.
    obj, x0 = _quadratic(4)

    def first_below(h, level=0.1):
        return next((r for r, v in zip(h.rounds, h.center_loss) if v < level), None)

    fast = first_below(run_easgd(obj, x0, 4, 0.01, 320, tau=10, momentum=0.9).history)
    slow = first_below(run_easgd(obj, x0, 4, 0.01, 2300, tau=10).history)
    assert fast is not None and fast < 320
    assert slow is not None and abs(slow / 1700 - 1) < 0.3
    assert slow > 4 * fast


# ------------------------------------------------------------------------------ bad arguments
def test_run_bad_arguments():
    obj, x0 = _quadratic(4)
    with pytest.raises(ValueError, match=r"^eta: expected a positive number"):
        run_easgd(obj, x0, 4, 0.0, 5)
    with pytest.raises(ValueError, match=r"^eta: expected a positive number"):
        run_downpour(obj, x0, 4, -0.1, 5)
    with pytest.raises(ValueError, match=r"^eta: expected a positive number"):
        run_msgd(obj, x0, 0.0, 5)
    with pytest.raises(ValueError, match=r"^tau: expected a positive int"):
        run_easgd(obj, x0, 4, 0.05, 5, tau=0)
    with pytest.raises(ValueError, match=r"^tau: expected a positive int"):
        run_downpour(obj, x0, 4, 0.05, 5, tau=0)
    for m in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"^momentum: expected a value in \[0, 1\)"):
            run_easgd(obj, x0, 4, 0.05, 5, momentum=m)
        with pytest.raises(ValueError, match=r"^momentum: expected a value in \[0, 1\)"):
            run_mdownpour(obj, x0, 4, 0.05, 5, momentum=m)
    with pytest.raises(ValueError, match=r"^mode: expected one of"):
        run_easgd(obj, x0, 4, 0.05, 5, mode="x")
    for mode in ("sync", "async"):
        for alpha in (0.0, -0.1, 1.5):
            with pytest.raises(ValueError, match=r"^alpha: expected a moving rate in \(0, 1\]"):
                run_easgd(obj, x0, 4, 0.05, 5, alpha=alpha, mode=mode)
    with pytest.raises(ValueError, match=r"^x0: expected shape"):
        run_easgd(obj, torch.ones(9, dtype=F64), 4, 0.05, 5)
    with pytest.raises(TypeError, match=r"^x0: expected a floating"):
        run_easgd(obj, torch.ones(10, dtype=torch.int64), 4, 0.05, 5)
    for run in (run_easgd, run_downpour, run_mdownpour):
        with pytest.raises(ValueError, match=r"^p: expected at most the objective's 4 worker streams, got 5"):
            run(obj, x0, 5, 0.05, 5)
    with pytest.raises(ValueError, match=r"^rounds: expected a positive int"):
        run_easgd(obj, x0, 4, 0.05, 0)
    with pytest.raises(ValueError, match=r"^record_every: expected a positive int"):
        run_easgd(obj, x0, 4, 0.05, 5, record_every=0)
    with pytest.raises(ValueError, match=r"^average: expected None or 'asgd'"):
        run_msgd(obj, x0, 0.05, 5, average="ema")


@pytest.mark.parametrize("run", [run_easgd, run_downpour, run_mdownpour])
def test_unknown_schedule_name_is_refused(run):
    obj, x0 = _quadratic(4)
    with pytest.raises(ValueError, match=r"^schedule: expected one of"):  # the argument is called schedule
        run(obj, x0, 4, 0.05, 5, schedule="x")


@pytest.mark.parametrize("sched_p", [3, 5])
@pytest.mark.parametrize("run", [run_easgd, run_downpour, run_mdownpour])
def test_scheduler_for_another_number_of_workers_is_refused(run, sched_p):
    # a Scheduler over 3 workers never ticks worker 3 of 4 (yet the history counts full rounds of 4 ticks);
    # one over 5 ticks a worker that does not exist
    obj, x0 = _quadratic(4)
    with pytest.raises(ValueError):
        run(obj, x0, 4, 0.05, 5, schedule=Scheduler("random", sched_p, seed=1))
