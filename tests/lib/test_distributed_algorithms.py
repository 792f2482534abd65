"""harmonia.distributed simulation: the elastic exchange and its conservation law, schedulers, per-worker
streams that do not depend on how calls are grouped (what makes simulation and torch.distributed agree),
the algorithms' bookkeeping, limiting cases, the card's race on the 10-D quadratic, and bad arguments."""

from __future__ import annotations

import math

import pytest
import torch

from harmonia.distributed import (
    NoisyQuadraticObjective,
    Scheduler,
    elastic_exchange,
    elastic_exchange_sync,
    make_objective,
    nesterov_step,
    run_downpour,
    run_easgd,
    run_mdownpour,
    run_msgd,
)

F64 = torch.float64


def _quadratic(p=4, seed=0):
    obj = make_objective("quadratic", p, seed=seed)
    return obj, 5.0 * torch.ones(obj.n, dtype=F64)


def test_elastic_exchange_is_symmetric_and_conservative():
    gen = torch.Generator().manual_seed(0)
    x, c = torch.randn(5, generator=gen, dtype=F64), torch.randn(5, generator=gen, dtype=F64)
    x2, c2, d = elastic_exchange(x, c, 0.3)
    torch.testing.assert_close(x2 + c2, x + c, rtol=0, atol=1e-15)
    torch.testing.assert_close(d, 0.3 * (x - c))
    X = torch.randn(4, 5, generator=gen, dtype=F64)
    X2, c3 = elastic_exchange_sync(X, c, 0.2)
    torch.testing.assert_close(X2.sum(0) + c3, X.sum(0) + c, rtol=0, atol=1e-14)
    # Jacobi (all from the old center) differs from exchanging one worker after the other
    Xs, cs = X.clone(), c.clone()
    for i in range(4):
        Xs[i], cs, _ = elastic_exchange(Xs[i], cs, 0.2)
    assert not torch.allclose(cs, c3)


def test_nesterov_step_by_hand():
    grad = lambda z: 2 * z  # noqa: E731
    x, v = torch.tensor([1.0], dtype=F64), torch.tensor([0.5], dtype=F64)
    x2, v2 = nesterov_step(x, v, grad, 0.1, 0.9)
    v_ref = 0.9 * 0.5 - 0.1 * 2 * (1.0 + 0.9 * 0.5)
    assert math.isclose(float(v2), v_ref, rel_tol=1e-15) and math.isclose(float(x2), 1.0 + v_ref, rel_tol=1e-15)


def test_schedulers():
    it = iter(Scheduler("round_robin", 3))
    assert [next(it) for _ in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    a, b = iter(Scheduler("random", 4, seed=5)), iter(Scheduler("random", 4, seed=5))
    draws = [next(a) for _ in range(4000)]
    assert draws == [next(b) for _ in range(4000)]
    counts = torch.bincount(torch.tensor(draws), minlength=4).double()
    assert float(((counts - 1000) ** 2 / 1000).sum()) < 16.3  # chi-square, 3 dof, p = 0.001
    it = iter(Scheduler("speeds", 2, speeds=[2.0, 1.0]))
    ticks = [next(it) for _ in range(3000)]
    assert abs(ticks.count(0) / ticks.count(1) - 2) < 0.02
    with pytest.raises(ValueError, match="kind"):
        Scheduler("fifo", 2)
    with pytest.raises(ValueError, match="speeds"):
        Scheduler("speeds", 2)
    with pytest.raises(ValueError, match="speeds"):
        Scheduler("speeds", 2, speeds=[1.0, 0.0])


@pytest.mark.parametrize("name", ["quadratic", "digits"])
def test_worker_streams_do_not_depend_on_call_grouping(name):
    a, b = make_objective(name, 3, hidden=4), make_objective(name, 3, hidden=4)
    x = (a.initial() if hasattr(a, "initial") else torch.ones(a.n, dtype=F64)).expand(3, -1)
    together = [a.grad(x, [0, 1, 2]) for _ in range(3)]
    # the same draws, asked for one worker at a time in another order
    alone = {i: [] for i in range(3)}
    for i in (2, 0, 1, 1, 2, 0, 0, 1, 2):
        alone[i].append(b.grad(x[i][None], [i])[0])
    for t in range(3):
        for i in range(3):
            torch.testing.assert_close(together[t][i], alone[i][t], rtol=0, atol=0)


def test_quadratic_gradient_statistics():
    obj = NoisyQuadraticObjective(torch.tensor([0.5, 2.0], dtype=F64), sigma=1.5, p=1, seed=1)
    x = torch.tensor([[1.0, -1.0]], dtype=F64)
    g = torch.cat([obj.grad(x, [0]) for _ in range(20_000)])
    mean, var = g.mean(0), g.var(0)
    torch.testing.assert_close(mean, torch.tensor([0.5, -2.0], dtype=F64), rtol=0, atol=4 * 1.5 / math.sqrt(20_000))
    assert torch.allclose(var, torch.full((2,), 2.25, dtype=F64), rtol=4 * math.sqrt(2 / 20_000))


def test_model_objective_gradient_is_the_batch_gradient():
    obj = make_objective("digits", 2, hidden=5, weight_decay=1e-3)
    theta = obj.initial()
    idx = obj.batch_indices(1, 0)
    g = obj.grad(theta[None], [1])[0]
    t = theta.clone().requires_grad_(True)
    loss = obj._batch_loss(t, obj.X[idx], obj.y[idx])
    (ref,) = torch.autograd.grad(loss, t)
    torch.testing.assert_close(g, ref, rtol=1e-12, atol=1e-14)
    assert math.isfinite(obj.loss(theta)) and 0 <= obj.error(theta) <= 1


@pytest.mark.parametrize("mode, momentum", [("async", 0.0), ("async", 0.9), ("sync", 0.0), ("sync", 0.9)])
def test_conservation_law(mode, momentum):
    obj, x0 = _quadratic(3)
    res = run_easgd(obj, x0, 3, 0.05, 50, tau=3, momentum=momentum, mode=mode)
    lhs = res.center + res.workers.sum(0)
    torch.testing.assert_close(lhs, 4 * x0 + res.displacement.sum(0), rtol=0, atol=1e-10)


def test_single_worker_without_exchange_is_plain_sgd():
    # clock 0 exchanges with a center equal to the worker (nothing moves); tau > rounds: never again
    obj, x0 = _quadratic(1)
    easgd = run_easgd(obj, x0, 1, 0.1, 40, alpha=0.5, tau=1000)
    msgd = run_msgd(obj, x0, 0.1, 40)
    torch.testing.assert_close(easgd.workers[0], msgd.center, rtol=0, atol=0)
    torch.testing.assert_close(easgd.center, x0)


@pytest.mark.parametrize("name", ["quadratic", "digits"])
@pytest.mark.parametrize("algo", ["easgd", "eamsgd", "downpour"])
def test_vectorised_round_robin_equals_one_tick_at_a_time(name, algo):
    # equal speeds give the round-robin order through the event queue, one worker per tick
    obj = make_objective(name, 3, hidden=4)
    x0 = obj.initial() if hasattr(obj, "initial") else 5.0 * torch.ones(obj.n, dtype=F64)
    ticks = Scheduler("speeds", 3, speeds=[1.0, 1.0, 1.0])
    if algo == "downpour":
        fast, slow = (run_downpour(obj, x0, 3, 0.05, 12, tau=2, schedule=s) for s in ("round_robin", ticks))
    else:
        m = 0.9 if algo == "eamsgd" else 0.0
        fast, slow = (run_easgd(obj, x0, 3, 0.05, 12, tau=2, momentum=m, schedule=s) for s in ("round_robin", ticks))
    torch.testing.assert_close(fast.center, slow.center, rtol=0, atol=1e-12)
    torch.testing.assert_close(fast.workers, slow.workers, rtol=0, atol=1e-12)
    assert fast.history.messages == slow.history.messages


def test_history_bookkeeping():
    obj, x0 = _quadratic(4)
    res = run_easgd(obj, x0, 4, 0.05, 45, tau=4, record_every=10)
    h = res.history
    assert h.rounds == [0, 10, 20, 30, 40, 45]
    assert h.messages[-1] == 4 * math.ceil(45 / 4)
    assert len(h.center_loss) == len(h.spread) == len(h.rounds) and h.spread[0] == 0.0
    sync = run_easgd(obj, x0, 4, 0.05, 45, tau=4, mode="sync", record_every=45)
    assert sync.history.messages[-1] == 4 * math.ceil(45 / 4)


def test_card_race_downpour_diverges_where_easgd_does_not():
    obj, x0 = _quadratic(4)
    down = run_downpour(obj, x0, 4, 0.05, 1500, tau=16, record_every=10)
    ea = run_easgd(obj, x0, 4, 0.05, 1500, tau=16, record_every=10)
    ea1 = run_easgd(obj, x0, 4, 0.05, 1500, tau=1, record_every=10)
    assert down.history.diverged and not ea.history.diverged
    tail = lambda r: sum(r.history.center_loss[-50:]) / 50  # noqa: E731
    assert tail(ea) <= 1.5 * tail(ea1)


def test_momentum_variants_and_averaging_reduce_the_loss():
    obj, x0 = _quadratic(2)
    start = obj.loss(x0)
    assert run_mdownpour(obj, x0, 2, 0.01, 300).history.center_loss[-1] < 0.1 * start
    assert run_msgd(obj, x0, 0.05, 600, average="asgd").history.center_loss[-1] < 0.1 * start
    # Polyak-Ruppert averaging of a constant-rate run: lower variance at the end than the iterate
    it = run_msgd(obj, torch.zeros_like(x0), 0.2, 3000, record_every=3000)
    av = run_msgd(obj, torch.zeros_like(x0), 0.2, 3000, average="asgd", record_every=3000)
    assert av.history.center_loss[-1] < it.history.center_loss[-1]


def test_bad_arguments():
    obj, x0 = _quadratic(2)
    with pytest.raises(ValueError, match="eta"):
        run_easgd(obj, x0, 2, 0.0, 10)
    with pytest.raises(ValueError, match="tau"):
        run_easgd(obj, x0, 2, 0.1, 10, tau=0)
    with pytest.raises(ValueError, match="momentum"):
        run_easgd(obj, x0, 2, 0.1, 10, momentum=1.0)
    with pytest.raises(ValueError, match="mode"):
        run_easgd(obj, x0, 2, 0.1, 10, mode="semi")
    with pytest.raises(ValueError, match="alpha"):
        run_easgd(obj, x0, 2, 0.1, 10, alpha=0.0)
    with pytest.raises(ValueError, match="schedule"):
        run_easgd(obj, x0, 2, 0.1, 10, schedule="fifo")
    with pytest.raises(ValueError, match="x0"):
        run_easgd(obj, x0[:3], 2, 0.1, 10)
    with pytest.raises(ValueError, match="p"):
        run_easgd(obj, x0, 5, 0.1, 10)
    with pytest.raises(ValueError, match="name"):
        make_objective("mnist", 2)
