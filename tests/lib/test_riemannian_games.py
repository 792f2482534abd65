"""harmonia.games.riemannian: Hessian blocks, classification, linearisations and rates (the toy's predicted vs
measured rates), SGA limits, the orthogonal critic and exact W1."""

from __future__ import annotations

import math

import pytest
import torch

from harmonia.data.mixtures import gaussian_mixture_2d
from harmonia.games import (
    M_asga,
    M_gda,
    M_sga,
    asymptotic_blocks,
    best_rate,
    classify,
    gamma_star,
    hessian_blocks,
    rate,
    tau_gda_step,
    tau_sga_step,
)
from harmonia.manifolds import Euclidean, Sphere
from harmonia.metrics import wasserstein1_exact
from harmonia.nn.orthogonal import OrthogonalCritic, maxmin

F64 = torch.float64


def _toy(a=-1.0, b=2.0, k=1.0):
    f = lambda xs, ys: a / 2 * xs[0][0] ** 2 + b * xs[0][0] * ys[0][1] + k * ys[0][0]  # noqa: E731
    return f, torch.zeros(1, dtype=F64), torch.tensor([1.0, 0.0], dtype=F64), Euclidean(1), Sphere(2)


def test_toy_blocks_are_the_closed_forms_and_the_point_is_a_dse():
    f, x, y, mx, my = _toy()
    A, B, C, gnorm, _ = hessian_blocks(f, x, y, mx, my)
    assert gnorm < 1e-12
    assert float(A) == pytest.approx(-1) and abs(float(B)) == pytest.approx(2) and float(C) == pytest.approx(-1)
    assert classify(A, B, C) == "DSE"
    assert classify(torch.tensor([[1.0]]), B.float(), C.float()) == "DNE"
    assert classify(A, B, -C) == "none"


def _measured(method, gamma, tau, theta=0.5):
    f, x, y0, mx, my = _toy()
    xs, ys = [torch.tensor([6e-4], dtype=F64)], [my.retr(y0, torch.tensor([0.0, 8e-4], dtype=F64))]
    d = []
    for _ in range(600):
        if method == "GDA":
            xs, ys = tau_gda_step(f, xs, ys, [mx], [my], gamma, tau)
        else:
            xs, ys = tau_sga_step(f, xs, ys, [mx], [my], gamma, tau, theta, asymptotic=method == "ASGA")
        d.append(math.hypot(float(xs[0][0]), math.atan2(float(ys[0][1]), float(ys[0][0]))))
        if d[-1] > 10:
            return math.inf
    return math.exp((math.log(d[-1]) - math.log(d[-201])) / 200)


@pytest.mark.parametrize("method,gamma,tau,theta,expected", [
    ("GDA", 0.05, 4.0, 0.0, 0.9381), ("GDA", 0.05, 8.0, 0.0, 0.8426), ("SGA", 0.1, 1.0, 0.5, 0.8124),
    ("ASGA", 0.1, 1.0, 0.5, 0.9110), ("SGA", 0.2, 0.5, 1.0, 0.5000)])
def test_predicted_rates_match_the_toy_and_the_reference_values(method, gamma, tau, theta, expected):
    f, x, y, mx, my = _toy()
    A, B, C, _, _ = hessian_blocks(f, x, y, mx, my)
    M = {"GDA": M_gda(A, B, C, tau), "SGA": M_sga(A, B, C, tau, theta), "ASGA": M_asga(A, B, C, tau, theta)}[method]
    pred = rate(M, gamma)
    assert pred == pytest.approx(expected, abs=1e-4)
    assert abs(_measured(method, gamma, tau, theta) - pred) < 0.01


def test_gda_diverges_where_predicted():
    f, x, y, mx, my = _toy()
    A, B, C, _, _ = hessian_blocks(f, x, y, mx, my)
    assert rate(M_gda(A, B, C, 1.0), 0.1) > 1 and _measured("GDA", 0.1, 1.0) > 1


def test_gamma_star_is_the_stability_threshold_and_theta_zero_is_gda():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(3, 3, generator=g, dtype=F64)
    A = A @ A.T + 0.5 * torch.eye(3, dtype=F64)
    B = torch.randn(3, 2, generator=g, dtype=F64)
    C = -torch.eye(2, dtype=F64)
    for tau in (0.5, 3.0):
        M = M_gda(A, B, C, tau)
        gs = gamma_star(M)
        assert rate(M, 0.99 * gs) < 1 < rate(M, 1.01 * gs)
        assert torch.equal(M_sga(A, B, C, tau, 0.0), M) and torch.equal(M_asga(A, B, C, tau, 0.0), M)
        rho, gam = best_rate(M)
        assert rho == pytest.approx(min(rate(M, t * gs) for t in torch.linspace(0.01, 0.99, 99).tolist()), abs=2e-3)


def test_asymptotic_sga_slow_spectrum():
    g = torch.Generator().manual_seed(1)
    A = torch.diag(torch.tensor([-0.2, 0.8, 1.1], dtype=F64))
    B = torch.randn(3, 4, generator=g, dtype=F64)
    C = -torch.eye(4, dtype=F64)
    fast, slow = asymptotic_blocks(A, B, C, 0.5)
    ev = torch.linalg.eigvals(M_asga(A, B, C, 1e5, 0.5))
    slow_ev = ev[ev.abs().argsort()][:3]
    target = torch.linalg.eigvals(slow)
    for t in target:
        assert min(abs(complex(e) - complex(t)) for e in slow_ev) < 0.01 * abs(complex(t))


def test_orthogonal_critic_is_one_lipschitz_and_keeps_its_constraints():
    crit = OrthogonalCritic(8, 2)
    params = crit.init(0, F64)
    u, v = torch.randn(500, 2, dtype=F64), torch.randn(500, 2, dtype=F64)
    assert float(((crit(params, u) - crit(params, v)).abs() / (u - v).norm(dim=1)).max()) <= 1 + 1e-12
    assert torch.equal(maxmin(torch.tensor([3.0, 1.0, -1.0, 2.0])), torch.tensor([3.0, 1.0, 2.0, -1.0]))
    gm = [Euclidean(2)]
    f = lambda xs, ys: crit(ys, u).mean() - crit(ys, v + xs[0]).mean()  # noqa: E731
    xs, ys = [torch.zeros(2, dtype=F64)], params
    for _ in range(20):
        xs, ys = tau_sga_step(f, xs, ys, gm, crit.manifolds, 0.1, 1.0, 0.5)
    for M, p in zip(crit.manifolds, ys):
        assert M.check(p, 1e-10)
    with pytest.raises(ValueError, match="z"):
        maxmin(torch.ones(3))


def test_w1_exact_against_the_sorted_matching_in_one_dimension():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(40, 1, generator=g, dtype=F64), torch.randn(40, 1, generator=g, dtype=F64) + 1
    assert float(wasserstein1_exact(a, b)) == pytest.approx(float((a.sort(0).values - b.sort(0).values).abs().mean()), rel=1e-12)
    assert float(wasserstein1_exact(a, a[torch.randperm(40, generator=g)])) == 0.0
    with pytest.raises(ValueError, match="b"):
        wasserstein1_exact(a, b[:5])


def test_gaussian_mixture():
    x = gaussian_mixture_2d(4000, "ring", k=8, radius=2.0, std=0.05, seed=0)
    r = x.norm(dim=1)
    assert x.shape == (4000, 2) and float((r - 2).abs().max()) < 0.4
    grid = gaussian_mixture_2d(100, "grid", k=3, radius=0.5, std=0.0, seed=1)
    assert set(grid.flatten().tolist()) <= {-0.5, 0.0, 0.5}
    with pytest.raises(ValueError, match="kind"):
        gaussian_mixture_2d(10, "spiral")
