"""harmonia.distributed.analysis: the round-robin EASGD condition against spectral radii, the card's ADMM
numbers, the synchronous variance closed form against the Lyapunov equation and its large-p limit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from harmonia.distributed.analysis import (
    admm_rr_map,
    easgd_large_p_var,
    easgd_rr_map,
    easgd_rr_stable,
    easgd_rr_step,
    easgd_sync_center_var,
    easgd_sync_map,
    easgd_sync_roots,
    easgd_sync_stable,
    lyapunov_var,
    minibatch_sgd_var,
    spectral_radius,
)


def test_round_robin_steps_are_symmetric_and_compose():
    M = easgd_rr_step(3, 1, 0.3, 0.2, h=2.0)
    assert torch.equal(M, M.T)
    assert M[1, 1] == 1 - 0.6 - 0.2 and M[1, 3] == 0.2 and M[3, 3] == 0.8 and M[0, 0] == 1
    full = easgd_rr_step(3, 2, 0.3, 0.2, 2.0) @ easgd_rr_step(3, 1, 0.3, 0.2, 2.0) @ easgd_rr_step(3, 0, 0.3, 0.2, 2.0)
    torch.testing.assert_close(easgd_rr_map(3, 0.3, 0.2, 2.0), full, rtol=0, atol=0)


@pytest.mark.parametrize("u", [0.2, 0.7, 1.2, 1.7, 1.95])
def test_p1_condition_is_exact(u):
    boundary = (4 - 2 * u) / (4 - u)
    for a in np.linspace(0.02, 1.4, 40):
        if abs(a - boundary) < 0.01:
            continue
        stable = spectral_radius(easgd_rr_map(1, u, a)) <= 1
        assert stable == easgd_rr_stable(u, a), (u, a)


def test_condition_implies_stability_for_several_workers():
    gen = torch.Generator().manual_seed(0)
    for _ in range(300):
        p = int(torch.randint(2, 7, (1,), generator=gen))
        u = 2 * float(torch.rand(1, generator=gen))
        a = float(torch.rand(1, generator=gen)) * (4 - 2 * u) / (4 - u)
        assert spectral_radius(easgd_rr_map(p, u, a)) <= 1 + 1e-12


def test_admm_radius_and_unstable_fraction_match_the_card():
    assert math.isclose(spectral_radius(admm_rr_map(3, 1e-3, 2.5)), 1.000974, rel_tol=1e-5)
    assert math.isclose(spectral_radius(admm_rr_map(8, 1e-3, 2.5)), 1.002258, rel_tol=1e-5)
    etas, rhos = np.linspace(1e-4, 1e-2, 25), np.linspace(0.1, 10, 25)
    frac = {p: np.mean([[spectral_radius(admm_rr_map(p, e, r)) > 1 for e in etas] for r in rhos]) for p in (3, 8)}
    assert abs(frac[3] - 0.15) < 0.05 and abs(frac[8] - 0.35) < 0.05


def test_admm_map_is_the_card_update():
    p, eta, rho = 2, 0.01, 3.0
    s = torch.tensor([0.1, 1.0, -0.2, 2.0, 0.5], dtype=torch.float64)  # (lam1, x1, lam2, x2, center)
    lam, x, c = [0.1, -0.2], [1.0, 2.0], 0.5
    for i in range(p):
        lam[i] = lam[i] - (x[i] - c)
        x[i] = (x[i] - eta * x[i] + eta * rho * (lam[i] + c)) / (1 + eta * rho)
        c = sum(x[j] - lam[j] for j in range(p)) / p
    out = admm_rr_map(p, eta, rho) @ s
    torch.testing.assert_close(out, torch.tensor([lam[0], x[0], lam[1], x[1], c], dtype=torch.float64), rtol=1e-14, atol=1e-15)


def test_sync_stability_condition_matches_the_spectral_radius():
    gen = torch.Generator().manual_seed(1)
    checked = 0
    for _ in range(2000):
        p = int(torch.randint(1, 9, (1,), generator=gen))
        u = 2.5 * float(torch.rand(1, generator=gen))
        a = 1.2 * float(torch.rand(1, generator=gen))
        r = spectral_radius(easgd_sync_map(p, u, a))
        if abs(r - 1) < 1e-3:
            continue
        assert (r < 1) == easgd_sync_stable(p, u, a), (p, u, a, r)
        checked += 1
    assert checked > 1500


def test_sync_roots_are_eigenvalues_of_the_reduced_recursion():
    p, eta, a = 5, 0.2, 0.1
    g, f = easgd_sync_roots(p, eta, a)
    # mean of the workers and the center: [[1 - eta - a, a], [p a, 1 - p a]]
    R = torch.tensor([[1 - eta - a, a], [p * a, 1 - p * a]], dtype=torch.float64)
    ev = sorted(torch.linalg.eigvals(R).real.tolist())
    assert np.allclose(sorted([g, f]), ev, atol=1e-14)


def test_variance_closed_form_equals_lyapunov_and_card_values():
    assert math.isclose(easgd_sync_center_var(4, 0.1, 0.05), 7.6214e-3, rel_tol=1e-4)
    gen = torch.Generator().manual_seed(2)
    for _ in range(50):
        p = int(torch.randint(1, 12, (1,), generator=gen))
        eta = 0.05 + 0.9 * float(torch.rand(1, generator=gen))
        a = float(torch.rand(1, generator=gen)) * 0.9 / p
        if not easgd_sync_stable(p, eta, a):
            continue
        assert math.isclose(easgd_sync_center_var(p, eta, a), lyapunov_var(p, eta, a), rel_tol=1e-10)
    for p, target in ((10, 0.0471), (100, 0.0511), (10_000, 0.05158)):
        assert math.isclose(p * easgd_sync_center_var(p, 0.1, 0.9 / p), target, rel_tol=2e-3)
    assert math.isclose(easgd_large_p_var(0.9, 0.1), 0.05158, rel_tol=1e-3)


def test_large_p_limit_against_minibatch_sgd():
    # beta = 1: the center is the workers' mean, which is mini-batch SGD
    assert math.isclose(easgd_large_p_var(1.0, 0.3), minibatch_sgd_var(1, 0.3), rel_tol=1e-12)
    # beta = 0.1, eta h = 0.5: ratio 0.14 (card)
    assert abs(easgd_large_p_var(0.1, 0.5) / minibatch_sgd_var(1, 0.5) - 0.14) < 0.005


def test_variance_matches_monte_carlo():
    # 3000 independent 1-D chains of synchronous EASGD, p = 3, eta = 0.2, alpha = 0.2, started at 0
    p, eta, a, chains, steps = 3, 0.2, 0.2, 3000, 300
    gen = torch.Generator().manual_seed(3)
    X, c = torch.zeros(chains, p, dtype=torch.float64), torch.zeros(chains, dtype=torch.float64)
    for _ in range(steps):
        g = X - torch.randn(chains, p, generator=gen, dtype=torch.float64)
        X, c = X - eta * g - a * (X - c[:, None]), c + a * (X - c[:, None]).sum(dim=1)
    v, target = float(c.var()), easgd_sync_center_var(p, eta, a)
    se = v * math.sqrt(2 / (chains - 1))
    assert abs(v - target) < 4 * se


def test_bad_arguments():
    with pytest.raises(ValueError, match="p"):
        easgd_rr_map(0, 0.1, 0.1)
    with pytest.raises(ValueError, match="i"):
        easgd_rr_step(3, 3, 0.1, 0.1)
    with pytest.raises(ValueError, match="eta, alpha"):
        easgd_sync_center_var(4, 0.1, 0.6)
    with pytest.raises(ValueError, match="eta"):
        minibatch_sgd_var(2, 2.5)
