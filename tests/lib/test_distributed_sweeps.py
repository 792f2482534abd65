"""Jacobi vs Gauss-Seidel sweeps (the view of EASGD and DOWNPOUR as one family, Zhang 2016, PhD thesis; derived for
chapter 03): EASGD's exchange moves give the synchronous map under Jacobi and the round-robin map under Gauss-Seidel
(against the closed-form matrices of analysis.stability), our prototype's per-round radii, stochastic sweeps that
reproduce the simulations step for step (round-robin and synchronous EASGD, round-robin DOWNPOUR), the exact
identities DOWNPOUR(p = 1) = Gauss-Seidel EASGD(alpha = 1, center first) and "the Jacobi exchange at alpha = 1 swaps",
the sweep mechanics (no aliasing, seeded random order, summed Jacobi increments, argument checks), and DOWNPOUR's
pushes adding up (radius > 1 where EASGD contracts)."""

from __future__ import annotations

import pytest
import torch

from harmonia.distributed import AdditiveNoiseQuadratic, run_downpour, run_easgd
from harmonia.distributed.analysis.stability import easgd_rr_map, easgd_sync_map, spectral_radius
from harmonia.distributed.sweeps import (
    block_moves,
    downpour_moves,
    easgd_block_rules,
    easgd_moves,
    sweep,
    sweep_map,
)

F64 = torch.float64


def _linear(h: float):
    return lambda x, i: h * x


def _small_quadratic(p: int = 3, seed: int = 4) -> AdditiveNoiseQuadratic:
    h = torch.tensor([0.3, 1.0, 1.7, 0.6, 2.2], dtype=F64)
    return AdditiveNoiseQuadratic(h, sigma=0.7, p=p, seed=seed)


def _stream_grad(obj):
    """Worker i's next stochastic gradient at x (its own stream, like the simulations)."""
    return lambda x, i: obj.grad(x[None], [i])[0]


def _radii(p: int, u: float):
    alpha = 0.9 / p
    moves = easgd_moves(p, u, alpha, _linear(1.0))
    return (spectral_radius(sweep_map(moves, [1] * (p + 1), "jacobi")),
            spectral_radius(sweep_map(moves, [1] * (p + 1), "gauss_seidel")))


# ------------------------------------------------------------------------------ linear maps
@pytest.mark.parametrize(("p", "eta", "alpha", "h"), [(1, 0.1, 0.5, 1.0), (2, 0.3, 0.45, 1.0), (3, 0.2, 0.3, 2.0),
                                                      (4, 0.5, 0.225, 1.0), (8, 0.05, 0.1, 0.7), (5, 1.2, 0.05, 1.5)])
def test_sweep_map_of_easgd_moves_is_the_sync_and_round_robin_map(p, eta, alpha, h):
    moves = easgd_moves(p, eta, alpha, _linear(h))
    jac = sweep_map(moves, [1] * (p + 1), "jacobi")
    gs = sweep_map(moves, [1] * (p + 1), "gauss_seidel")
    assert jac.shape == gs.shape == (p + 1, p + 1) and jac.dtype == gs.dtype == F64
    torch.testing.assert_close(jac, easgd_sync_map(p, eta, alpha, h), rtol=0, atol=1e-14)
    torch.testing.assert_close(gs, easgd_rr_map(p, eta, alpha, h), rtol=0, atol=1e-14)
    if p > 1:
        assert float((jac - gs).abs().max()) > 1e-3  # the two orders are different schemes


@pytest.mark.parametrize(("p", "eta", "alpha", "h"), [(1, 0.1, 0.5, 1.0), (3, 0.2, 0.3, 2.0), (6, 0.5, 0.15, 0.8)])
def test_jacobi_sweep_of_the_block_rules_is_also_synchronous_easgd(p, eta, alpha, h):
    # the fixed-point map of the EASGD objective, block by block, swept Jacobi = synchronous EASGD
    rules = easgd_block_rules(p, eta, alpha, _linear(h))
    jac = sweep_map(block_moves(rules), [1] * (p + 1), "jacobi")
    torch.testing.assert_close(jac, easgd_sync_map(p, eta, alpha, h), rtol=0, atol=1e-14)


def test_sweep_map_on_vector_blocks_is_a_kronecker_product():
    # blocks of size n with a diagonal curvature: the map is the 1-D map per coordinate
    p, eta, alpha, n = 3, 0.2, 0.25, 2
    hs = torch.tensor([0.5, 2.0], dtype=F64)
    M = sweep_map(easgd_moves(p, eta, alpha, lambda x, i: hs * x), [n] * (p + 1), "gauss_seidel")
    assert M.shape == (n * (p + 1), n * (p + 1))
    for k in range(n):
        idx = [b * n + k for b in range(p + 1)]
        torch.testing.assert_close(M[idx][:, idx], easgd_rr_map(p, eta, alpha, float(hs[k])), rtol=0, atol=1e-14)
        others = [j for j in range(n * (p + 1)) if j not in idx]
        assert float(M[idx][:, others].abs().max()) == 0.0  # coordinates do not mix


# ------------------------------------------------------------------------------ per-round radii (prototype values)
@pytest.mark.parametrize(("p", "u", "jacobi", "gauss_seidel"), [(4, 0.1, 0.92150, 0.92205), (4, 0.5, 0.64593, 0.66764),
                                                                (8, 0.5, 0.59291, 0.61986)])
def test_per_round_radii(p, u, jacobi, gauss_seidel):
    rj, rg = _radii(p, u)
    assert abs(rj - jacobi) < 1e-5 and abs(rg - gauss_seidel) < 1e-5
    # both slower than single-worker SGD per step (section 1): radius >= |1 - u|
    assert rj >= abs(1 - u) and rg >= abs(1 - u)
    assert rg > rj  # here Gauss-Seidel (round robin) contracts a little more slowly per round


def test_easgd_radii_never_beat_sgd_on_a_grid():
    for p in (1, 2, 4, 8):
        for u in (0.05, 0.2, 0.5, 0.9, 1.3):
            rj, rg = _radii(p, u)
            if rj < 1:
                assert rj >= abs(1 - u) - 1e-12, (p, u)
            if rg < 1:
                assert rg >= abs(1 - u) - 1e-12, (p, u)


def test_downpour_pushes_add_up():
    # DOWNPOUR's per-round map (Gauss-Seidel, tau = 1) has radius > 1 where EASGD's contracts
    for p, u in [(4, 0.5), (8, 0.5)]:
        dp = spectral_radius(sweep_map(downpour_moves(p, u, _linear(1.0)), [1] * (2 * p + 1), "gauss_seidel"))
        rj, rg = _radii(p, u)
        assert dp > 1.0 and rj < 1.0 and rg < 1.0, (p, dp, rj, rg)
    # p = 1: DOWNPOUR is SGD (the map's only non-zero mode is 1 - u)
    for u in (0.1, 0.5, 1.5):
        dp1 = sweep_map(downpour_moves(1, u, _linear(1.0)), [1, 1, 1], "gauss_seidel")
        assert abs(spectral_radius(dp1) - abs(1 - u)) < 1e-12


# ------------------------------------------------------------------------------ stochastic sweeps = simulations
@pytest.mark.parametrize("p", [1, 3])
def test_gauss_seidel_sweeps_are_round_robin_easgd(p):
    obj = _small_quadratic(p)
    x0 = torch.linspace(-1.0, 2.0, 5, dtype=F64)
    eta, alpha, rounds = 0.1, 0.9 / p if p > 1 else 0.5, 25
    ref = run_easgd(obj, x0, p, eta, rounds, alpha=alpha, tau=1, mode="async", schedule="round_robin")
    obj.reset()
    state = [x0.clone() for _ in range(p + 1)]
    moves = easgd_moves(p, eta, alpha, _stream_grad(obj))
    for _ in range(rounds):
        state = sweep(state, moves, "gauss_seidel")
    torch.testing.assert_close(state[p], ref.center, rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.stack(state[:p]), ref.workers, rtol=0, atol=1e-12)
    assert float((ref.center - x0).abs().max()) > 0.1


@pytest.mark.parametrize("p", [1, 3])
def test_jacobi_sweeps_are_synchronous_easgd(p):
    obj = _small_quadratic(p)
    x0 = torch.linspace(-1.0, 2.0, 5, dtype=F64)
    eta, alpha, rounds = 0.1, 0.2, 25
    ref = run_easgd(obj, x0, p, eta, rounds, alpha=alpha, tau=1, mode="sync")
    obj.reset()
    state = [x0.clone() for _ in range(p + 1)]
    moves = easgd_moves(p, eta, alpha, _stream_grad(obj))
    for _ in range(rounds):
        state = sweep(state, moves, "jacobi")
    torch.testing.assert_close(state[p], ref.center, rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.stack(state[:p]), ref.workers, rtol=0, atol=1e-12)


@pytest.mark.parametrize("p", [1, 3])
def test_gauss_seidel_sweeps_of_downpour_moves_are_round_robin_downpour(p):
    obj = _small_quadratic(p)
    x0 = torch.linspace(-1.0, 2.0, 5, dtype=F64)
    eta, rounds = 0.05, 25
    ref = run_downpour(obj, x0, p, eta, rounds, tau=1, schedule="round_robin")
    obj.reset()
    state = [x0.clone() for _ in range(p)] + [torch.zeros_like(x0) for _ in range(p)] + [x0.clone()]
    moves = downpour_moves(p, eta, _stream_grad(obj))
    centers = []
    for _ in range(rounds):
        state = sweep(state, moves, "gauss_seidel")
        centers.append(obj.loss(state[2 * p]))
    torch.testing.assert_close(state[2 * p], ref.center, rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.stack(state[:p]), ref.workers, rtol=0, atol=1e-12)
    assert centers == pytest.approx(ref.history.center_loss[1:], rel=1e-12, abs=1e-12)  # the whole trajectory
    # the accumulators hold the last local step: x^i = (center at i's pull) + u^i
    assert float(torch.stack(state[p:2 * p]).abs().max()) > 0


# ------------------------------------------------------------------------------ exact identities
def test_downpour_with_one_worker_is_gauss_seidel_easgd_alpha_one_center_first():
    obj = _small_quadratic(1, seed=9)
    x0 = torch.tensor([1.5, -0.5, 2.0, 0.25, -1.0], dtype=F64)
    eta, rounds = 0.1, 30
    ref = run_downpour(obj, x0, 1, eta, rounds, tau=1)
    obj.reset()
    # blocks (worker, center); block_moves numbers the blocks by rule position, so order the moves instead
    moves = block_moves(easgd_block_rules(1, eta, 1.0, _stream_grad(obj)))
    state = [x0.clone(), x0.clone()]
    losses = []
    for _ in range(rounds):
        state = sweep(state, [moves[1], moves[0]], "gauss_seidel")  # center first, then the worker reads it
        losses.append(obj.loss(state[1]))
    torch.testing.assert_close(state[1], ref.center, rtol=0, atol=1e-12)
    torch.testing.assert_close(state[0], ref.workers[0], rtol=0, atol=1e-12)
    assert losses == pytest.approx(ref.history.center_loss[1:], rel=1e-12, abs=1e-12)
    assert float((ref.center - x0).abs().max()) > 0.1


def test_worker_first_or_jacobi_is_not_downpour():
    obj = _small_quadratic(1, seed=9)
    x0 = torch.tensor([1.5, -0.5, 2.0, 0.25, -1.0], dtype=F64)
    ref = run_downpour(obj, x0, 1, 0.1, 10, tau=1)
    for order, perm in (("gauss_seidel", [0, 1]), ("jacobi", [1, 0])):
        obj.reset()
        moves = block_moves(easgd_block_rules(1, 0.1, 1.0, _stream_grad(obj)))
        state = [x0.clone(), x0.clone()]
        for _ in range(10):
            state = sweep(state, [moves[j] for j in perm], order)
        assert float((state[1] - ref.center).abs().max()) > 1e-3, order


def test_jacobi_exchange_at_alpha_one_swaps_worker_and_center():
    # the elastic part alone (eta = 0), on dyadic values so that every operation is exact
    x = torch.tensor([1.5, -2.0, 3.25, 0.0], dtype=F64)
    c = torch.tensor([0.5, 4.0, -1.0, 7.75], dtype=F64)
    rules = easgd_block_rules(1, 0.0, 1.0, _linear(1.0))
    new = sweep([x, c], block_moves(rules), "jacobi")
    assert torch.equal(new[0], c) and torch.equal(new[1], x)
    new = sweep([x, c], easgd_moves(1, 0.0, 1.0, _linear(1.0)), "jacobi")  # same with the exchange move
    assert torch.equal(new[0], c) and torch.equal(new[1], x)
    # random values: a swap up to rounding; Gauss-Seidel with the center first instead copies x into both
    g = torch.Generator().manual_seed(0)
    x, c = torch.randn(6, generator=g, dtype=F64), torch.randn(6, generator=g, dtype=F64)
    new = sweep([x, c], block_moves(rules), "jacobi")
    torch.testing.assert_close(new[0], c, rtol=0, atol=1e-15)
    torch.testing.assert_close(new[1], x, rtol=0, atol=1e-15)
    m = block_moves(rules)
    gs = sweep([x, c], [m[1], m[0]], "gauss_seidel")
    torch.testing.assert_close(gs[0], x, rtol=0, atol=1e-15)
    torch.testing.assert_close(gs[1], x, rtol=0, atol=1e-15)


def test_with_several_workers_downpour_and_gauss_seidel_easgd_differ():
    p, eta, rounds = 3, 0.05, 20
    obj = _small_quadratic(p)
    x0 = torch.linspace(-1.0, 2.0, 5, dtype=F64)
    dp = run_downpour(obj, x0, p, eta, rounds, tau=1)
    # EASGD at alpha = 1 with the center first, as in the p = 1 identity
    obj.reset()
    moves = block_moves(easgd_block_rules(p, eta, 1.0, _stream_grad(obj)))
    state = [x0.clone() for _ in range(p + 1)]
    for _ in range(rounds):
        state = sweep(state, [moves[p], *moves[:p]], "gauss_seidel")
    assert float((state[p] - dp.center).abs().max()) > 1e-2
    # and round-robin EASGD exchanges (any alpha) differ from DOWNPOUR too
    rr = run_easgd(obj, x0, p, eta, rounds, tau=1, mode="async")
    assert float((rr.center - dp.center).abs().max()) > 1e-2
    # the linear maps differ as well: DOWNPOUR's center takes the whole pushes
    Md = sweep_map(downpour_moves(p, eta, _linear(1.0)), [1] * (2 * p + 1), "gauss_seidel")
    Me = sweep_map(easgd_moves(p, eta, 0.9 / p, _linear(1.0)), [1] * (p + 1), "gauss_seidel")
    assert abs(spectral_radius(Md) - spectral_radius(Me)) > 1e-3


# ------------------------------------------------------------------------------ sweep mechanics
def _random_state(k: int = 4, n: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, generator=g, dtype=F64) for _ in range(k)]


@pytest.mark.parametrize("order", ["jacobi", "gauss_seidel", "random"])
def test_sweep_does_not_modify_or_alias_its_input(order):
    state = _random_state()
    saved = [s.clone() for s in state]
    moves = easgd_moves(3, 0.1, 0.3, _linear(1.5))
    moves.append(lambda s: {})  # a move that touches nothing
    out = sweep(state, moves, order, generator=1)
    assert len(out) == len(state)
    assert all(torch.equal(a, b) for a, b in zip(state, saved))
    for o in out:
        o.add_(100.0)  # writing to the result must not reach the input
    assert all(torch.equal(a, b) for a, b in zip(state, saved))
    # blocks that no move touches are copied unchanged
    untouched = sweep(state, [lambda s: {0: torch.ones(3, dtype=F64)}], order, generator=1)
    assert all(torch.equal(untouched[k], saved[k]) for k in (1, 2, 3))
    assert untouched[1] is not state[1]


def test_random_order_is_a_seeded_permutation():
    m = 6
    log: list[int] = []

    def make(j):
        def move(s):
            log.append(j)
            # non-commuting moves: block 0 <- (j + 1) * block 0 + j^2 (fixed point -j), so the order matters
            return {0: j * s[0] + j * j}
        return move

    moves = [make(j) for j in range(m)]
    state = [torch.tensor([1.0], dtype=F64)]
    out = sweep(state, moves, "random", generator=5)
    perm = log.copy()
    assert sorted(perm) == list(range(m))  # every move once
    assert perm == torch.randperm(m, generator=torch.Generator().manual_seed(5)).tolist()
    log.clear()
    again = sweep(state, moves, "random", generator=torch.Generator().manual_seed(5))  # a Generator works too
    assert log == perm and torch.equal(again[0], out[0])
    log.clear()
    gs = sweep(state, [moves[j] for j in perm], "gauss_seidel")  # = Gauss-Seidel of the permuted list
    assert torch.equal(gs[0], out[0])
    # other seeds give other orders (and here other results); some seed differs from index order
    orders, results = set(), set()
    for seed in range(8):
        log.clear()
        res = sweep(state, moves, "random", generator=seed)
        orders.add(tuple(log))
        results.add(float(res[0]))
    assert len(orders) > 4 and len(results) > 4
    # seeded from torch's global generator when no generator is given
    torch.manual_seed(11)
    log.clear()
    a = sweep(state, moves, "random")
    first = log.copy()
    torch.manual_seed(11)
    log.clear()
    b = sweep(state, moves, "random")
    assert log == first and torch.equal(a[0], b[0])


def test_gauss_seidel_runs_the_moves_in_list_order_each_reading_the_freshest_state():
    seen = []

    def reader(j):
        def move(s):
            seen.append(float(s[0]))
            return {0: torch.tensor([1.0], dtype=F64)}
        return move

    state = [torch.tensor([0.0], dtype=F64)]
    out = sweep(state, [reader(j) for j in range(4)], "gauss_seidel")
    assert seen == [0.0, 1.0, 2.0, 3.0] and float(out[0]) == 4.0
    seen.clear()
    out = sweep(state, [reader(j) for j in range(4)], "jacobi")
    assert seen == [0.0, 0.0, 0.0, 0.0] and float(out[0]) == 4.0  # same old state, increments summed


def test_jacobi_sums_the_increments_of_moves_writing_the_same_block():
    state = _random_state(4, 3, seed=2)  # workers 0..2, center 3
    p, eta, alpha = 3, 0.0, 0.2
    out = sweep(state, easgd_moves(p, eta, alpha, _linear(1.0)), "jacobi")
    d = [alpha * (state[i] - state[p]) for i in range(p)]
    torch.testing.assert_close(out[p], state[p] + d[0] + d[1] + d[2], rtol=0, atol=1e-15)
    for i in range(p):
        torch.testing.assert_close(out[i], state[i] - d[i], rtol=0, atol=1e-15)
    # Gauss-Seidel instead lets worker i see the center moved by workers 0..i-1
    gs = sweep(state, easgd_moves(p, eta, alpha, _linear(1.0)), "gauss_seidel")
    torch.testing.assert_close(gs[0], out[0], rtol=0, atol=1e-15)
    assert float((gs[1] - out[1]).abs().max()) > 1e-3
    # both conserve the sum of the blocks of the elastic exchange
    torch.testing.assert_close(sum(out), sum(state), rtol=0, atol=1e-14)
    torch.testing.assert_close(sum(gs), sum(state), rtol=0, atol=1e-14)


def test_sweep_bad_arguments():
    state = _random_state(2)
    moves = easgd_moves(1, 0.1, 0.3, _linear(1.0))
    for bad in ("chaotic", "Jacobi", None):
        with pytest.raises(ValueError, match=r"^order: expected one of"):
            sweep(state, moves, bad)
    with pytest.raises(ValueError, match=r"^order: expected one of \('jacobi', 'gauss_seidel'\)"):
        sweep_map(moves, [1, 1], "random")
    with pytest.raises(ValueError, match=r"^sizes: expected a positive int"):
        sweep_map(moves, [1, 0])
    with pytest.raises(ValueError, match=r"^seed: expected a non-negative int"):
        sweep(state, moves, "random", generator=-1)
    for make in (lambda: easgd_moves(0, 0.1, 0.3, _linear(1.0)), lambda: downpour_moves(0, 0.1, _linear(1.0)),
                 lambda: easgd_block_rules(0, 0.1, 0.3, _linear(1.0))):
        with pytest.raises(ValueError, match=r"^p: expected a positive int"):
            make()
