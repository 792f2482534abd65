"""vSGD (Schaul, Zhang & LeCun 2013) in harmonia.optim.vsgd: the functional core checked against the paper's equations
written out by hand (moving averages, mini-batch rate, adaptive memory, blocks, slow start; the outlier rule and
finite-difference rate of the follow-up, Schaul & LeCun 2013), the invariants of a long run, the noise-free and
pure-noise limits, invariance to the scale of the loss and of a coordinate, and the VSGD optimizer (slow start,
agreement with the core, state_dict round trip, finite differences on a CNN, float32, state shapes, argument
validation, CUDA)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from harmonia.nn import BatchStats, mlp, small_cnn
from harmonia.optim import (
    VSGD,
    NoisyQuadratic,
    VSGDState,
    block_index,
    run_vsgd,
    sequential_batch_stats,
    vsgd_init,
    vsgd_step,
)

F64 = torch.float64


def _t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


def _state(gbar, vbar, hbar, tau, vhbar=None) -> VSGDState:
    return VSGDState(gbar=_t(gbar), vbar=_t(vbar), hbar=_t(hbar), tau=_t(tau),
                     vhbar=None if vhbar is None else _t(vhbar))


def _reference_step(gbar, vbar, hbar, tau, g, g2, h, n, vhbar=None, extra=None):
    """The paper's equations (and the follow-up's outlier rule and finite-difference rate), one coordinate at a time
    in plain Python floats (eps = 0).

    ``extra[i]`` is added to tau_i before the update (the outlier rule)."""
    out = {"gbar": [], "vbar": [], "hbar": [], "tau": [], "lr": [], "vhbar": []}
    for i in range(len(gbar)):
        t = tau[i] + (0.0 if extra is None else extra[i])
        a = 1.0 - 1.0 / t
        gb = a * gbar[i] + g[i] / t
        vb = a * vbar[i] + g2[i] / t
        hb = a * hbar[i] + h[i] / t
        r = n * gb**2 / (vb + (n - 1) * gb**2)
        if vhbar is None:
            lr = r / hb
        else:
            vhb = a * vhbar[i] + h[i] ** 2 / t
            lr = r * hb / vhb  # (gbar^2 / vbar) (hbar / vhbar) at n = 1
            out["vhbar"].append(vhb)
        for key, val in (("gbar", gb), ("vbar", vb), ("hbar", hb), ("lr", lr), ("tau", (1.0 - r) * t + 1.0)):
            out[key].append(val)
    return out


def _assert_matches(state, lr, ref, rtol=1e-14):
    for key in ("gbar", "vbar", "hbar", "tau"):
        torch.testing.assert_close(getattr(state, key), _t(ref[key]), rtol=rtol, atol=0)
    torch.testing.assert_close(lr, _t(ref["lr"]), rtol=rtol, atol=0)


# ------------------------------------------------------------------------------ the functional core
@pytest.mark.parametrize(("n", "g2"), [(1, [2.25, 0.04]), (3, [3.0, 0.5])], ids=["n=1", "n=3"])
def test_step_matches_hand_computation(n, g2):
    gbar, vbar, hbar, tau = [0.5, -1.0], [1.0, 3.0], [2.0, 0.5], [4.0, 2.0]
    g, h = [1.5, 0.2], [1.0, 0.25]
    state = _state(gbar, vbar, hbar, tau)
    new, lr = vsgd_step(state, _t(g), _t(g2), _t(h), n, eps=0.0)
    _assert_matches(new, lr, _reference_step(gbar, vbar, hbar, tau, g, g2, h, n))
    assert new.t == state.t + 1 and new.vhbar is None


def test_step_with_leading_trial_axes_acts_per_trial():
    g = torch.Generator().manual_seed(3)
    gbar = torch.randn(4, 5, 3, generator=g, dtype=F64)
    vbar = gbar.square() + torch.rand(4, 5, 3, generator=g, dtype=F64)
    hbar = 0.5 + torch.rand(4, 5, 3, generator=g, dtype=F64)
    tau = 1.0 + 5 * torch.rand(4, 5, 3, generator=g, dtype=F64)
    gs = torch.randn(4, 5, 3, generator=g, dtype=F64)
    g2 = gs.square() + torch.rand(4, 5, 3, generator=g, dtype=F64)
    h = torch.rand(4, 5, 3, generator=g, dtype=F64)
    new, lr = vsgd_step(VSGDState(gbar, vbar, hbar, tau), gs, g2, h, 2, eps=0.0)
    for a, b in [(0, 0), (3, 4), (2, 1)]:
        one, lr1 = vsgd_step(VSGDState(gbar[a, b], vbar[a, b], hbar[a, b], tau[a, b]), gs[a, b], g2[a, b], h[a, b],
                             2, eps=0.0)
        torch.testing.assert_close(new.tau[a, b], one.tau, rtol=1e-15, atol=0)
        torch.testing.assert_close(lr[a, b], lr1, rtol=1e-15, atol=0)


def test_finite_difference_rate_matches_hand_computation():
    gbar, vbar, hbar, tau, vhbar = [0.5, -1.0], [1.0, 3.0], [2.0, 0.5], [4.0, 2.0], [5.0, 0.5]
    g, g2, h = [1.5, 0.2], [2.25, 0.04], [1.0, 0.25]
    new, lr = vsgd_step(_state(gbar, vbar, hbar, tau, vhbar), _t(g), _t(g2), _t(h), 1, eps=0.0)
    ref = _reference_step(gbar, vbar, hbar, tau, g, g2, h, 1, vhbar=vhbar)
    _assert_matches(new, lr, ref)
    torch.testing.assert_close(new.vhbar, _t(ref["vhbar"]), rtol=1e-14, atol=0)


def test_init_is_the_slow_start(seeded):
    gen = seeded(0)
    gs = torch.randn(4, 3, generator=gen, dtype=F64)
    g2s = gs.square() + torch.rand(4, 3, generator=gen, dtype=F64)
    hs = torch.rand(4, 3, generator=gen, dtype=F64)
    C, eps = 2.5, 1e-3
    state = vsgd_init(gs, g2s, hs, C=C, eps=eps)
    for i in range(3):
        col = [float(v) for v in gs[:, i]]
        assert math.isclose(float(state.gbar[i]), sum(col) / 4, rel_tol=1e-14)
        mean_g2 = sum(float(v) for v in g2s[:, i]) / 4
        assert math.isclose(float(state.vbar[i]), C * (mean_g2 + eps), rel_tol=1e-14)
        assert math.isclose(float(state.hbar[i]), sum(float(v) for v in hs[:, i]) / 4, rel_tol=1e-14)
    assert torch.equal(state.tau, torch.full((3,), 4.0, dtype=F64))  # tau0 defaults to n0
    assert state.t == 0 and state.vhbar is None
    assert torch.equal(vsgd_init(gs, g2s, hs, tau0=2.0).tau, torch.full((3,), 2.0, dtype=F64))
    fd = vsgd_init(gs, g2s, hs, C=C, eps=eps, fd=True)
    torch.testing.assert_close(fd.vhbar, C * (hs.square().mean(dim=0) + eps), rtol=1e-14, atol=0)
    blocked = vsgd_init(gs, g2s, hs, blocks=torch.tensor([0, 1, 1]))
    assert torch.equal(blocked.tau, torch.full((2,), 4.0, dtype=F64))


def test_block_index_layout():
    assert block_index([2, 3]).tolist() == [0, 0, 1, 1, 1]
    assert block_index([1, 1, 1]).tolist() == [0, 1, 2]
    assert block_index([4]).tolist() == [0, 0, 0, 0]


def _random_draws(steps, d, seed, n=1):
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(steps, d, generator=gen, dtype=F64) + 0.3
    g2 = g.square() + (n > 1) * torch.rand(steps, d, generator=gen, dtype=F64)
    h = 0.1 + torch.rand(steps, d, generator=gen, dtype=F64)
    return g, g2, h


@pytest.mark.parametrize("n", [1, 4])
def test_singleton_blocks_are_vsgd_l(n):
    d = 5
    g, g2, h = _random_draws(30, d, seed=1, n=n)
    blocks = block_index([1] * d)
    s_l = vsgd_init(g[:4], g2[:4], h[:4], C=2.0)
    s_b = vsgd_init(g[:4], g2[:4], h[:4], C=2.0, blocks=blocks)
    for k in range(4, 30):
        s_l, lr_l = vsgd_step(s_l, g[k], g2[k], h[k], n)
        s_b, lr_b = vsgd_step(s_b, g[k], g2[k], h[k], n, blocks=blocks)
        assert torch.equal(lr_l, lr_b) and torch.equal(s_l.tau, s_b.tau) and torch.equal(s_l.gbar, s_b.gbar)


def test_global_variant_on_one_coordinate_is_vsgd_l():
    g, g2, h = _random_draws(30, 1, seed=2)
    blocks = block_index([1])
    s_l = vsgd_init(g[:3], g2[:3], h[:3], C=3.0)
    s_g = vsgd_init(g[:3], g2[:3], h[:3], C=3.0, blocks=blocks)
    for k in range(3, 30):
        s_l, lr_l = vsgd_step(s_l, g[k], g2[k], h[k])
        s_g, lr_g = vsgd_step(s_g, g[k], g2[k], h[k], blocks=blocks)
        assert torch.equal(lr_l, lr_g) and torch.equal(s_l.tau, s_g.tau)


def test_block_rate_matches_hand_computation():
    """n = 1, blocks {0, 2} and {1, 3}: rate sum gbar^2 / (max hbar * sum vbar), memory from the same ratio."""
    gbar, vbar, hbar = [0.5, -1.0, 0.2, 0.3], [1.0, 3.0, 0.5, 0.4], [2.0, 0.5, 1.0, 0.7]
    tau_b = [3.0, 1.5]
    g, h = [1.5, 0.2, -0.7, 0.9], [1.0, 0.25, 3.0, 0.1]
    g2 = [x**2 for x in g]
    blocks = [0, 1, 0, 1]
    state = VSGDState(_t(gbar), _t(vbar), _t(hbar), _t(tau_b))
    new, lr = vsgd_step(state, _t(g), _t(g2), _t(h), 1, blocks=torch.tensor(blocks), eps=0.0)
    ema = {k: [] for k in ("g", "v", "h")}
    for i, b in enumerate(blocks):
        w = 1.0 / tau_b[b]
        ema["g"].append((1 - w) * gbar[i] + w * g[i])
        ema["v"].append((1 - w) * vbar[i] + w * g2[i])
        ema["h"].append((1 - w) * hbar[i] + w * h[i])
    exp_lr, exp_tau = [], []
    for b in (0, 1):
        idx = [i for i in range(4) if blocks[i] == b]
        r = sum(ema["g"][i] ** 2 for i in idx) / sum(ema["v"][i] for i in idx)
        exp_lr.append(r / max(ema["h"][i] for i in idx))
        exp_tau.append((1 - r) * tau_b[b] + 1)
    torch.testing.assert_close(new.gbar, _t(ema["g"]), rtol=1e-14, atol=0)
    torch.testing.assert_close(new.tau, _t(exp_tau), rtol=1e-14, atol=0)
    torch.testing.assert_close(lr, _t([exp_lr[b] for b in blocks]), rtol=1e-14, atol=0)


def test_minibatch_formula_with_one_sample_is_the_base_formula():
    g, g2, h = _random_draws(20, 3, seed=4)
    state = vsgd_init(g[:5], g2[:5], h[:5], C=2.0)
    for k in range(5, 20):
        old = state
        state, lr = vsgd_step(state, g[k], g2[k], h[k], 1, eps=0.0)
        ratio = state.gbar.square() / state.vbar
        torch.testing.assert_close(lr, ratio / state.hbar, rtol=1e-13, atol=0)
        torch.testing.assert_close(state.tau, (1 - ratio) * old.tau + 1, rtol=1e-13, atol=0)


@pytest.mark.parametrize("n", [1, 2, 7])
def test_exact_statistics_give_the_newton_rate(n):
    """Noise-free limit at formula level: vbar = gbar^2 makes the rate 1/h for any batch size."""
    gbar = _t([0.5, -2.0, 3.0])
    hbar = _t([0.5, 2.0, 10.0])
    state = VSGDState(gbar, gbar.square(), hbar, _t([3.0, 3.0, 3.0]))
    new, lr = vsgd_step(state, gbar, gbar.square(), hbar, n, eps=0.0)
    torch.testing.assert_close(lr, 1.0 / hbar, rtol=1e-14, atol=0)
    torch.testing.assert_close(new.tau, torch.ones(3, dtype=F64), rtol=0, atol=1e-14)


def test_outlier_rule_adds_one_to_the_memory():
    gbar, vbar, hbar, tau = [0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [5.0, 5.0]
    g, h = [100.0, 0.5], [1.0, 1.0]  # coordinate 0 is 100 standard deviations away, coordinate 1 is not
    g2 = [x**2 for x in g]
    state = _state(gbar, vbar, hbar, tau)
    new, lr = vsgd_step(state, _t(g), _t(g2), _t(h), 1, eps=0.0, outlier_sigma=2.0)
    ref = _reference_step(gbar, vbar, hbar, tau, g, g2, h, 1, extra=[1.0, 0.0])
    _assert_matches(new, lr, ref)
    # tau_new = (1 - r) (tau + 1) + 1 with r computed from the EMAs of weight 1 / (tau + 1)
    w = 1 / 6
    r = (w * 100) ** 2 / ((1 - w) * 1 + w * 100**2)
    assert math.isclose(float(new.tau[0]), (1 - r) * 6 + 1, rel_tol=1e-14)
    plain, _ = vsgd_step(state, _t(g), _t(g2), _t(h), 1, eps=0.0)
    assert float(new.tau[0]) > float(plain.tau[0]) and float(new.tau[1]) == float(plain.tau[1])


def test_outlier_rule_uses_the_spread_of_a_batch_mean():
    """With n samples per draw the mean gradient has standard deviation sqrt((vbar - gbar^2) / n)."""
    gbar, vbar, hbar, tau = [0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [5.0, 5.0]
    g, g2, h = [1.5, 0.9], [2.5, 1.0], [1.0, 1.0]  # 3 and 1.8 standard deviations of a mean of 4 samples
    new, lr = vsgd_step(_state(gbar, vbar, hbar, tau), _t(g), _t(g2), _t(h), 4, eps=0.0, outlier_sigma=2.0)
    _assert_matches(new, lr, _reference_step(gbar, vbar, hbar, tau, g, g2, h, 4, extra=[1.0, 0.0]))


def test_outlier_rule_on_the_curvature():
    """With vhbar (finite-difference variant) a curvature far from hbar also counts as an outlier."""
    gbar, vbar, hbar, tau, vhbar = [0.0], [1.0], [1.0], [5.0], [1.25]  # curvature spread 0.5
    g, g2, h = [0.1], [0.01], [3.0]  # gradient within 2 sigma, curvature 4 sigma away
    new, lr = vsgd_step(_state(gbar, vbar, hbar, tau, vhbar), _t(g), _t(g2), _t(h), 1, eps=0.0, outlier_sigma=2.0)
    ref = _reference_step(gbar, vbar, hbar, tau, g, g2, h, 1, vhbar=vhbar, extra=[1.0])
    _assert_matches(new, lr, ref)


# ------------------------------------------------------------------------------ long runs: invariants
def _check_invariants(tau_prev, state, lr, extra=0.0):
    assert bool((state.vbar >= state.gbar.square() * (1 - 1e-12)).all())
    assert bool((state.tau >= 1).all())
    assert bool((state.tau <= tau_prev + 1 + extra + 1e-12).all())
    assert bool((lr >= 0).all()) and bool((state.hbar > 0).all())


@pytest.mark.parametrize("variant", ["l", "g"])
def test_run_vsgd_invariants(variant):
    h = _t([0.5, 1.0, 4.0])
    problem = NoisyQuadratic(h, _t([1.0, 0.1, 2.0]), _t([0.5, -1.0, 0.0]))
    n0 = 10
    run = run_vsgd(problem, _t([3.0, -1.0, 0.5]), 300, trials=20, n=2, n0=n0, C=2.0, variant=variant, seed=1)
    assert bool((run.vbar >= run.gbar.square() * (1 - 1e-12)).all())
    assert bool((run.tau >= 1).all())
    tau = torch.cat([torch.full_like(run.tau[:1], float(n0)), run.tau])
    assert bool((tau[1:] <= tau[:-1] + 1 + 1e-12).all())
    assert bool((run.lr >= 0).all())
    if variant == "l":  # the exact curvature is used, so lr * h is the ratio r, in [0, 1]
        r = run.lr * h
        assert bool((r <= 1 + 1e-12).all())
    assert bool(torch.isfinite(run.theta).all())
    # and it optimises: the median excess loss falls by more than 5x
    assert float(run.excess[-1].median()) < 0.2 * float(run.excess[0].median())


@pytest.mark.parametrize(("variant", "outlier_sigma"), [("l", None), ("l", 2.0), ("b", None)])
def test_direct_loop_invariants(variant, outlier_sigma, seeded):
    d, n = 4, 5
    problem = NoisyQuadratic(_t([0.3, 1.0, 2.0, 8.0]), _t([1.0, 0.5, 0.0, 2.0]), _t([1.0, -1.0, 2.0, 0.0]))
    blocks = None if variant == "l" else torch.tensor([0, 0, 1, 1])
    gen = seeded(5)
    theta = _t([0.0, 0.0, 0.0, 3.0])
    e0 = float(problem.excess_loss(theta))
    warm = problem.sample_grads(theta.expand(6, d), n, gen)  # (n, n0, d)
    state = vsgd_init(warm.mean(0), warm.square().mean(0), problem.h.expand(6, d), C=2.0, blocks=blocks)
    for _ in range(300):
        gs = problem.sample_grads(theta, n, gen)
        g = gs.mean(0)
        tau_prev = state.tau
        state, lr = vsgd_step(state, g, gs.square().mean(0), problem.curvature(theta), n, blocks=blocks,
                              outlier_sigma=outlier_sigma)
        _check_invariants(tau_prev, state, lr, extra=0.0 if outlier_sigma is None else 1.0)
        theta = theta - lr * g
    assert float(problem.excess_loss(theta)) < 0.01 * e0


# ------------------------------------------------------------------------------ limits
def test_noise_free_dynamics():
    problem = NoisyQuadratic(_t([1.0, 10.0]), 0.0)
    run = run_vsgd(problem, _t([2.0, 2.0]), 10, n0=10, C=2.0)
    e = run.excess[:, 0]
    assert bool((e[1:] < e[:-1]).all())
    assert float(e[10] / e[0]) < 1e-3


def test_noise_free_with_c_one_has_no_nan():
    """C = 1: the first step lands on the optimum, the next ratio is 0/0 without the eps guard."""
    problem = NoisyQuadratic(_t([1.0, 10.0]), 0.0)
    run = run_vsgd(problem, _t([2.0, 2.0]), 50, n0=10, C=1.0)
    for x in (run.theta, run.lr, run.tau, run.excess):
        assert bool(torch.isfinite(x).all())
    assert float(run.excess[1:, 0].max()) < 1e-12 * float(run.excess[0, 0])


def test_pure_noise_memory_grows_linearly_with_run_vsgd():
    problem = NoisyQuadratic(_t([1.0]), 1.0, 0.0)
    run = run_vsgd(problem, 0.0, 3000, trials=200, seed=0)
    for t in (100, 1000, 2999):
        ratio = float((run.tau[t - 1, :, 0] / t).median())  # tau after t updates
        assert 0.5 <= ratio <= 0.8, (t, ratio)


def test_pure_noise_memory_grows_linearly_statistics_only(seeded):
    """The pure-noise limit: parameters frozen at the optimum (statistics only), g ~ N(0, 1), 200 streams."""
    gen = seeded(11)
    warm = torch.randn(10, 200, 1, generator=gen, dtype=F64)
    state = vsgd_init(warm, warm.square(), torch.ones_like(warm))
    ones = torch.ones(200, 1, dtype=F64)
    for t in range(1, 3001):
        g = torch.randn(200, 1, generator=gen, dtype=F64)
        state, _ = vsgd_step(state, g, g.square(), ones)
        if t in (100, 1000, 3000):
            ratio = float((state.tau[:, 0] / t).median())
            assert 0.5 <= ratio <= 0.8, (t, ratio)


# ------------------------------------------------------------------------------ invariances
_H = _t([0.5, 2.0, 5.0])
_SIGMA = _t([0.5, 1.0, 0.2])
_STAR = _t([1.0, -1.0, 0.5])
_NOISE = torch.randn(5 + 100, 2, 3, generator=torch.Generator().manual_seed(7), dtype=F64)  # (n0 + steps, n, d)


def _trajectory(loss_scale: float, coord_scale: torch.Tensor, blocks: torch.Tensor | None) -> torch.Tensor:
    """vSGD on c * sum_i h_i/2 (theta_i - c_i)^2 written in u with theta = S u; returns theta = S u per step."""
    S = coord_scale

    def draw(u, k):
        minima = _STAR + _SIGMA * _NOISE[k]  # (n, d): the same samples for every problem
        gs = loss_scale * S * _H * (S * u - minima)
        return gs.mean(0), gs.square().mean(0), loss_scale * S.square() * _H

    u = _t([3.0, 2.0, -1.0]) / S
    warm = [draw(u, k) for k in range(5)]
    state = vsgd_init(*(torch.stack(p) for p in zip(*warm)), C=2.0, blocks=blocks)
    thetas = [S * u]
    for k in range(5, 105):
        g, g2, h = draw(u, k)
        state, lr = vsgd_step(state, g, g2, h, 2, blocks=blocks, eps=0.0)
        u = u - lr * g
        thetas.append(S * u)
    return torch.stack(thetas)


@pytest.mark.parametrize("blocks", [None, torch.tensor([0, 0, 1]), torch.tensor([0, 0, 0])], ids=["l", "b", "g"])
def test_invariance_to_the_scale_of_the_loss(blocks):
    one = torch.ones(3, dtype=F64)
    ref = _trajectory(1.0, one, blocks)
    assert float((ref[-1] - ref[0]).abs().max()) > 1.0  # it does move
    torch.testing.assert_close(_trajectory(7.3, one, blocks), ref, rtol=0, atol=1e-10)


def test_invariance_to_the_scale_of_a_coordinate_for_vsgd_l():
    ref = _trajectory(1.0, torch.ones(3, dtype=F64), None)
    scale = _t([1.0, 1.0, 0.05])
    torch.testing.assert_close(_trajectory(1.0, scale, None), ref, rtol=0, atol=1e-10)
    torch.testing.assert_close(_trajectory(3.0, _t([20.0, 1.0, 0.05]), None), ref, rtol=0, atol=1e-10)
    # control: the block variant shares one rate over coordinates and is *not* invariant
    blocks = torch.tensor([0, 0, 1])
    ref_b = _trajectory(1.0, torch.ones(3, dtype=F64), blocks)
    assert float((_trajectory(1.0, _t([1.0, 20.0, 1.0]), blocks) - ref_b).abs().max()) > 1e-3


# ------------------------------------------------------------------------------ the optimizer
def _mlp_data(steps: int, batch: int = 8, seed: int = 0, dtype=F64):
    gen = torch.Generator().manual_seed(seed)
    xs = torch.randn(steps, batch, 5, generator=gen, dtype=dtype)
    ys = torch.randint(0, 3, (steps, batch), generator=gen)
    return xs, ys


def _stats_closure(model, x, y, curvature=True):
    return lambda: sequential_batch_stats(model, x, y, "ce", curvature=curvature)


def _flat(xs) -> torch.Tensor:
    return torch.cat([x.reshape(-1) for x in xs])


def test_slow_start_does_not_move_the_parameters():
    model = mlp(5, (4,), 3, dtype=F64)
    before = [p.detach().clone() for p in model.parameters()]
    opt = VSGD(model.parameters(), n0=4)
    xs, ys = _mlp_data(5)
    for k in range(4):
        assert not opt.initialized
        loss = opt.step(_stats_closure(model, xs[k], ys[k]))
        torch.testing.assert_close(loss, F.cross_entropy(model(xs[k]), ys[k]), rtol=1e-12, atol=0)
        assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before))
    assert opt.initialized
    opt.step(_stats_closure(model, xs[4], ys[4]))
    assert not all(torch.equal(p, b) for p, b in zip(model.parameters(), before))


@pytest.mark.parametrize(("variant", "hidden"), [("l", (4,)), ("b", (4,)), ("g", (4,)), ("l", ())],
                         ids=["l", "b", "g", "l-softmax"])
def test_first_update_equals_the_functional_core(variant, hidden):
    """C = "auto" is max(2, d / 10): 3.9 for the MLP (d = 39), 2 for softmax regression (d = 18)."""
    n0, eps = 4, 1e-9
    model = mlp(5, hidden, 3, dtype=F64)
    ref = copy.deepcopy(model)
    params = list(model.parameters())
    opt = VSGD(params, variant=variant, n0=n0)
    xs, ys = _mlp_data(n0 + 1)
    for k in range(n0 + 1):
        opt.step(_stats_closure(model, xs[k], ys[k]))
    # the same draws through the functional core, at the (unmoved) starting point
    draws = [sequential_batch_stats(ref, xs[k], ys[k], "ce") for k in range(n0 + 1)]
    g = [_flat(s.grad) for s in draws]
    g2 = [_flat(s.grad_sq) for s in draws]
    h = [_flat(s.curvature) for s in draws]
    d = g[0].numel()
    sizes = [p.numel() for p in params]
    blocks = {"l": None, "b": block_index(sizes), "g": block_index([d])}[variant]
    state = vsgd_init(torch.stack(g[:n0]), torch.stack(g2[:n0]), torch.stack(h[:n0]), C=max(2.0, d / 10),
                      blocks=blocks, eps=eps)
    state, lr = vsgd_step(state, g[n0], g2[n0], h[n0], xs.shape[1], blocks=blocks, eps=eps)
    theta = _flat(ref.parameters()).detach() - lr * g[n0]
    torch.testing.assert_close(_flat(model.parameters()).detach(), theta, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(_flat(opt.last_lr), lr, rtol=1e-12, atol=0)
    stats = opt.statistics()
    for key in ("gbar", "vbar", "hbar", "tau"):
        torch.testing.assert_close(getattr(stats, key), getattr(state, key), rtol=1e-12, atol=0)
    assert stats.t == 1


def test_finite_difference_update_equals_the_functional_core():
    """vSGD-fd: the probe step is the own gradient (first draw), the mean of the earlier warm-up gradients,
    then gbar; h = |grad(theta + delta) - grad(theta)| / |delta| on the same batch."""
    n0, eps = 3, 1e-9
    model = mlp(5, (4,), 3, dtype=F64)
    ref = copy.deepcopy(model)
    opt = VSGD(model.parameters(), curvature="fd", n0=n0, C=2.0)
    xs, ys = _mlp_data(n0 + 1)
    for k in range(n0 + 1):
        opt.step(_stats_closure(model, xs[k], ys[k], curvature=False))

    theta0 = _flat(ref.parameters()).detach()

    def grad_at(theta, k):
        shifted = copy.deepcopy(ref)
        torch.nn.utils.vector_to_parameters(theta, shifted.parameters())
        s = sequential_batch_stats(shifted, xs[k], ys[k], "ce", curvature=False)
        return _flat(s.grad), _flat(s.grad_sq)

    def probe(g, direction, k):
        delta = torch.where(direction >= 0, direction + eps, direction - eps)
        return (grad_at(theta0 + delta, k)[0] - g).abs() / delta.abs()

    gs, g2s, hs = [], [], []
    for k in range(n0):
        g, g2 = grad_at(theta0, k)
        direction = g if k == 0 else torch.stack(gs).mean(0)
        gs.append(g)
        g2s.append(g2)
        hs.append(probe(g, direction, k))
    state = vsgd_init(torch.stack(gs), torch.stack(g2s), torch.stack(hs), C=2.0, fd=True, eps=eps)
    g, g2 = grad_at(theta0, n0)
    state, lr = vsgd_step(state, g, g2, probe(g, state.gbar, n0), xs.shape[1], eps=eps)
    torch.testing.assert_close(_flat(model.parameters()).detach(), theta0 - lr * g, rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(opt.statistics().vhbar, state.vhbar, rtol=1e-10, atol=0)


@pytest.mark.parametrize(("variant", "curvature", "split"), [
    ("l", "bbprop", 6), ("b", "bbprop", 6), ("g", "bbprop", 6), ("l", "fd", 6), ("b", "fd", 6), ("l", "bbprop", 2),
])
def test_state_dict_round_trip(variant, curvature, split):
    """Save after ``split`` steps (2 = in the middle of the slow start), restore into a copy, continue."""
    bb = curvature == "bbprop"
    model = mlp(5, (4,), 3, dtype=F64)
    opt = VSGD(model.parameters(), variant=variant, curvature=curvature, n0=4, outlier_sigma=None)
    xs, ys = _mlp_data(split + 5)
    for k in range(split):
        opt.step(_stats_closure(model, xs[k], ys[k], bb))
    twin = copy.deepcopy(model)
    opt2 = VSGD(twin.parameters(), variant=variant, curvature=curvature, n0=4)
    opt2.load_state_dict(opt.state_dict())
    for k in range(split, split + 5):
        opt.step(_stats_closure(model, xs[k], ys[k], bb))
        opt2.step(_stats_closure(twin, xs[k], ys[k], bb))
    for p, q in zip(model.parameters(), twin.parameters()):
        assert torch.equal(p, q)
        assert torch.equal(opt.state[p]["tau"], opt2.state[q]["tau"])
        assert torch.equal(opt.state[p]["gbar"], opt2.state[q]["gbar"])
    assert opt2.statistics().t == opt.statistics().t == split + 5 - 4


def test_finite_differences_train_a_cnn_with_a_plain_closure(seeded):
    gen = seeded(1)
    x = torch.rand(16, 64, generator=gen, dtype=F64)
    y = torch.randint(0, 10, (16,), generator=gen)
    model = small_cnn(channels=4, dtype=F64)
    opt = VSGD(model.parameters(), curvature="fd", n0=10, C=2.0)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    start = [p.detach().clone() for p in model.parameters()]
    losses = [float(opt.step(closure)) for _ in range(40)]
    assert losses[:10] == [losses[0]] * 10  # slow start: same batch, same point
    assert not all(torch.equal(p, s) for p, s in zip(model.parameters(), start))
    final = float(F.cross_entropy(model(x), y).detach())
    assert final < 0.75 * losses[0]
    assert all(bool((lr >= 0).all()) for lr in opt.last_lr)
    # after a step p.grad is the gradient at the point where the step started, not at the probe point
    before = copy.deepcopy(model)
    F.cross_entropy(before(x), y).backward()
    opt.step(closure)
    for p, q in zip(model.parameters(), before.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-12, atol=1e-15)


def test_float32_model():
    model = mlp(5, (4,), 3, dtype=torch.float32)
    opt = VSGD(model.parameters(), variant="l", n0=3)
    xs, ys = _mlp_data(1, batch=32, dtype=torch.float32)
    x, y = xs[0], ys[0]
    first = float(F.cross_entropy(model(x), y).detach())
    for _ in range(40):
        opt.step(_stats_closure(model, x, y))
    for p in model.parameters():
        assert p.dtype == torch.float32 and bool(torch.isfinite(p).all())
        assert all(opt.state[p][k].dtype == torch.float32 for k in ("gbar", "vbar", "hbar", "tau", "lr"))
    assert float(F.cross_entropy(model(x), y).detach()) < first


@pytest.mark.parametrize("variant", ["l", "b", "g"])
def test_state_shapes_and_shared_memories(variant):
    model = mlp(5, (4,), 3, dtype=F64)
    params = list(model.parameters())
    opt = VSGD(params, variant=variant, n0=3)
    xs, ys = _mlp_data(8)
    for k in range(8):
        opt.step(_stats_closure(model, xs[k], ys[k]))
    assert len(opt.last_lr) == len(params)
    for p, lr in zip(params, opt.last_lr):
        assert opt.state[p]["tau"].shape == p.shape and lr.shape == p.shape
        assert bool((opt.state[p]["tau"] >= 1).all())
    taus = [opt.state[p]["tau"] for p in params]
    if variant == "b":
        assert all(torch.unique(t).numel() == 1 for t in taus)
        assert torch.unique(torch.stack([t.reshape(-1)[0] for t in taus])).numel() > 1
        assert all(torch.unique(lr).numel() == 1 for lr in opt.last_lr)
    elif variant == "g":
        assert torch.unique(_flat(taus)).numel() == 1 and torch.unique(_flat(opt.last_lr)).numel() == 1
    else:
        assert torch.unique(_flat(taus)).numel() > len(params)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_vsgd_on_device(device):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    xs, ys = _mlp_data(20)
    results = {}
    for dev in ("cpu", device):
        model = mlp(5, (4,), 3, dtype=F64, device=dev)
        opt = VSGD(model.parameters(), n0=5)
        for k in range(20):
            opt.step(_stats_closure(model, xs[k].to(dev), ys[k].to(dev)))
        assert all(opt.state[p]["tau"].device.type == torch.device(dev).type for p in model.parameters())
        results[dev] = _flat(model.parameters()).detach().cpu()
    torch.testing.assert_close(results[device], results["cpu"], rtol=1e-8, atol=1e-10)


# ------------------------------------------------------------------------------ bad arguments
@pytest.mark.parametrize(("kwargs", "name"), [
    ({"variant": "x"}, "variant"),
    ({"curvature": "x"}, "curvature"),
    ({"curvature": "exact"}, "curvature"),
    ({"n0": 0}, "n0"),
    ({"C": 0.5}, "C"),
    ({"C": "big"}, "C"),
    ({"tau0": 0.5}, "tau0"),
    ({"eps": -1.0}, "eps"),
    ({"variant": "b", "outlier_sigma": 2.0}, "outlier_sigma"),
    ({"variant": "g", "outlier_sigma": 2.0}, "outlier_sigma"),
    ({"outlier_sigma": -1.0}, "outlier_sigma"),
])
def test_optimizer_bad_arguments(kwargs, name):
    model = mlp(5, (4,), 3, dtype=F64)
    with pytest.raises(ValueError, match=name):
        VSGD(model.parameters(), **kwargs)


def test_optimizer_refuses_a_second_parameter_group():
    """Per-group options would be silently ignored (the statistics span every parameter): refused by name."""
    model = mlp(5, (4,), 3, dtype=F64)
    first, *rest = list(model.parameters())
    with pytest.raises(ValueError, match="^params: expected one parameter group for VSGD.*'variant'"):
        VSGD([{"params": [first]}, {"params": rest, "variant": "g"}])
    opt = VSGD([{"params": list(model.parameters())}])  # one explicit group is fine
    with pytest.raises(ValueError, match="^params: expected one parameter group"):
        opt.add_param_group({"params": [torch.zeros(2, requires_grad=True)]})
    assert len(opt.param_groups) == 1


def test_optimizer_bad_closures():
    model = mlp(5, (4,), 3, dtype=F64)
    xs, ys = _mlp_data(1)
    opt = VSGD(model.parameters(), n0=2)
    with pytest.raises(ValueError, match="closure"):
        opt.step(None)

    def loss_only():
        opt.zero_grad()
        loss = F.cross_entropy(model(xs[0]), ys[0])
        loss.backward()
        return loss

    with pytest.raises(ValueError, match="closure"):
        opt.step(loss_only)  # bbprop needs a curvature estimate

    def negative():
        s = sequential_batch_stats(model, xs[0], ys[0])
        return BatchStats(s.loss, s.grad, s.grad_sq, s.n, [-c - 1.0 for c in s.curvature])

    with pytest.raises(ValueError, match="closure"):
        opt.step(negative)

    def too_few():
        s = sequential_batch_stats(model, xs[0], ys[0])
        return BatchStats(s.loss, s.grad[:2], s.grad_sq[:2], s.n, s.curvature[:2])

    with pytest.raises(ValueError, match="closure"):
        opt.step(too_few)
    with pytest.raises(TypeError, match="closure"):
        opt.step(lambda: 3.0)
    with pytest.raises(ValueError, match="closures"):
        opt.warm_start([_stats_closure(model, xs[0], ys[0])])
    with pytest.raises(RuntimeError, match="statistics"):
        opt.statistics()


def test_functional_core_bad_arguments():
    g, g2, h = _random_draws(6, 3, seed=0)
    with pytest.raises(ValueError, match="C"):
        vsgd_init(g, g2, h, C=0.5)
    with pytest.raises(ValueError, match="tau0"):
        vsgd_init(g, g2, h, tau0=0.5)
    with pytest.raises(ValueError, match="h_samples"):
        vsgd_init(g, g2, -h)
    with pytest.raises(ValueError, match="g2_samples"):
        vsgd_init(g, g2[:, :2], h)
    with pytest.raises(ValueError, match="blocks"):
        vsgd_init(g, g2, h, blocks=torch.tensor([0, 2, 2]))  # label 1 unused
    state = vsgd_init(g[:3], g2[:3], h[:3])
    with pytest.raises(ValueError, match="g"):
        vsgd_step(state, g[3, :2], g2[3], h[3])
    with pytest.raises(ValueError, match="h"):
        vsgd_step(state, g[3], g2[3], h[3:5])
    with pytest.raises(TypeError, match="g2"):
        vsgd_step(state, g[3], g2[3].float(), h[3])
    with pytest.raises(ValueError, match="n"):
        vsgd_step(state, g[3], g2[3], h[3], 0)
    with pytest.raises(ValueError, match="blocks"):  # per-coordinate state, block labels given
        vsgd_step(state, g[3], g2[3], h[3], blocks=torch.tensor([0, 0, 1]))
    blocked = vsgd_init(g[:3], g2[:3], h[:3], blocks=torch.tensor([0, 0, 1]))
    with pytest.raises(ValueError, match="blocks"):  # two memories, three blocks
        vsgd_step(blocked, g[3], g2[3], h[3], blocks=torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="blocks"):
        vsgd_step(blocked, g[3], g2[3], h[3], blocks=torch.tensor([0, 0]))
    with pytest.raises(ValueError, match="outlier_sigma"):
        vsgd_step(blocked, g[3], g2[3], h[3], blocks=torch.tensor([0, 0, 1]), outlier_sigma=2.0)
    with pytest.raises(ValueError, match="sizes"):
        block_index([])
    with pytest.raises(ValueError, match=r"sizes\[1\]"):
        block_index([2, 0])
