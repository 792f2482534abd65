"""Landscapes on grids: the SAM envelope and the smoothed landscape against brute force, the gradient
identity, limits, invariances and the Langevin sampler against the Gibbs mean."""

from __future__ import annotations

import math

import pytest
import torch

from harmonia.optim import gibbs_mean, langevin_chains, local_minima, sam_envelope, smoothed_landscape

F64 = torch.float64


def _f(x):
    return -1.1 * torch.exp(-(x + 0.5) ** 2 / (2 * 0.12**2)) - 1.0 * torch.exp(-(x - 0.6) ** 2 / (2 * 0.45**2)) + 0.05 * x**2


def _toy(n: int = 1201):
    """Two wells: sharp and deep at -0.5, wide at 0.6, on [-3, 3]."""
    x = torch.linspace(-3, 3, n, dtype=F64)
    return x, _f(x), float(x[1] - x[0])


def _at(x, F, v):
    return float(F[int(torch.argmin((x - v).abs()))])


def test_envelope_equals_brute_force_in_1d_and_2d():
    g = torch.Generator().manual_seed(0)
    v = torch.randn(40, generator=g, dtype=F64)
    env = sam_envelope(v, 0.1, 0.35)  # window: 3 steps each side
    brute = torch.stack([v[max(0, i - 3):i + 4].max() for i in range(40)])
    assert torch.equal(env, brute)
    V = torch.randn(12, 15, generator=g, dtype=F64)
    env2 = sam_envelope(V, (1.0, 0.5), 1.0)  # ball: |di| <= 1 rows, |dj| <= 2 columns, di^2 + (dj/2)^2 <= 1
    brute2 = torch.full_like(V, -math.inf)
    for i in range(12):
        for j in range(15):
            for di in range(-1, 2):
                for dj in range(-2, 3):
                    if di**2 + (0.5 * dj) ** 2 <= 1 + 1e-12 and 0 <= i + di < 12 and 0 <= j + dj < 15:
                        brute2[i, j] = max(brute2[i, j], V[i + di, j + dj])
    assert torch.equal(env2, brute2)


def test_envelope_is_above_f_and_grows_with_rho():
    x, f, h = _toy()
    envs = [sam_envelope(f, h, r) for r in (0.0, 0.05, 0.1, 0.2)]
    assert torch.equal(envs[0], f)
    for a, b in zip(envs, envs[1:]):
        assert bool((b >= a).all())


def test_smoothed_landscape_against_direct_quadrature_and_its_limits():
    x, f, h = _toy(601)
    sigma, T = 0.2, 0.1
    F = smoothed_landscape(f, x, sigma, T)
    # direct: -T log sum_i h phi(x - y_i) exp(-f_i / T), in float64 (no overflow for this f and T)
    phi = torch.exp(-(x[:, None] - x[None, :]) ** 2 / (2 * sigma**2)) / math.sqrt(2 * math.pi * sigma**2)
    direct = -T * torch.log((h * phi * torch.exp(-f / T)[None, :]).sum(1))
    assert torch.allclose(F, direct, rtol=0, atol=1e-10)
    # a constant added to f is added to F; sigma -> 0 gives f back (away from the ends)
    assert torch.allclose(smoothed_landscape(f + 7.0, x, sigma, T), F + 7.0, atol=1e-10)
    x2, f2, h2 = _toy(3001)
    env = sam_envelope(f2, h2, 0.1)
    assert float((smoothed_landscape(env, x2, h2, 0.05) - env)[200:-200].abs().max()) < 1e-2


def test_separable_smoothing_in_2d_equals_the_2d_quadrature():
    a = torch.linspace(-1, 1, 21, dtype=F64)
    X, Y = torch.meshgrid(a, a, indexing="ij")
    f = (X**2 - 0.5) ** 2 + 0.5 * Y**2 + 0.3 * X * Y
    sigma, T, h = 0.3, 0.2, float(a[1] - a[0])
    F = smoothed_landscape(f, (a, a), sigma, T)
    pts = torch.stack([X.flatten(), Y.flatten()], 1)
    d2 = (pts[:, None, :] - pts[None, :, :]).square().sum(-1)
    w = h * h * torch.exp(-d2 / (2 * sigma**2)) / (2 * math.pi * sigma**2) * torch.exp(-f.flatten() / T)[None, :]
    assert torch.allclose(F.flatten(), -T * torch.log(w.sum(1)), atol=1e-10)


def test_gradient_identity_on_the_grid():
    x, f, h = _toy(3001)
    sigma, T = 0.2, 0.1
    F = smoothed_landscape(f, x, sigma, T)
    dF = (F[2:] - F[:-2]) / (2 * h)
    identity = (T / sigma**2) * (x[1:-1] - gibbs_mean(f, x, x[1:-1], sigma, T))
    inside = (x[1:-1] > -1.5) & (x[1:-1] < 1.5)
    assert float((dF - identity)[inside].abs().max()) < 1e-3


def test_the_toys_ranking_flips_and_the_sharp_minimum_disappears():
    """The facts the chapter shows: smoothing or SAM flips which well is lowest; together they erase the sharp one."""
    x, f, h = _toy(3001)
    diff = lambda F: _at(x, F, -0.5) - _at(x, F, 0.6)  # noqa: E731
    assert -0.16 < diff(smoothed_landscape(f, x, 0.02, 0.05)) < -0.12  # sharp well deeper
    assert diff(smoothed_landscape(f, x, 0.2, 0.2)) > 0  # smoothing alone flips
    env = sam_envelope(f, h, 0.1)
    assert diff(smoothed_landscape(env, x, 0.02, 0.05)) > 0  # SAM alone flips
    minima = local_minima(smoothed_landscape(env, x, 0.3, 0.05), x)
    assert minima.numel() == 1 and abs(float(minima[0]) - 0.59) < 0.01


def test_local_minima_handles_plateaus():
    axis = torch.arange(7, dtype=F64)
    v = torch.tensor([3.0, 1.0, 1.0, 2.0, 0.5, 0.5, 0.2], dtype=F64)
    assert local_minima(v, axis).tolist() == [1.0]  # the plateau 1,1 counts once; 0.5,0.5 descends further


def test_langevin_chains_sample_the_gibbs_mean():
    x, f, h = _toy(3001)
    sigma, T = 0.2, 0.1
    beta_e = T / sigma**2

    def grad(y):  # f'(y) of _toy, by hand
        a, b = 0.12**2, 0.45**2
        return (1.1 * (y + 0.5) / a * torch.exp(-(y + 0.5) ** 2 / (2 * a))
                + 1.0 * (y - 0.6) / b * torch.exp(-(y - 0.6) ** 2 / (2 * b)) + 0.1 * y)

    h_fd = 1e-6
    assert abs(float(grad(torch.tensor(0.1, dtype=F64))) - float((_f(torch.tensor(0.1 + h_fd, dtype=F64))
                                                                  - _f(torch.tensor(0.1 - h_fd, dtype=F64))) / (2 * h_fd))) < 1e-6

    x0 = torch.tensor(0.6, dtype=F64)
    chains = langevin_chains(grad, x0, beta_e, T, eta=1e-3, steps=20_000, n_chains=4, generator=0)
    assert chains.shape == (20_001, 4)
    estimate = float(chains[2000:].mean())
    exact = float(gibbs_mean(f, x, x0.reshape(1), sigma, T))
    assert abs(estimate - exact) < 0.02
    # no noise and no force: the chain stays put; same seed, same chains
    still = langevin_chains(lambda y: torch.zeros_like(y), x0, 0.0, 0.0, 0.1, 5, n_chains=2)
    assert torch.equal(still, x0.expand(6, 2))
    again = langevin_chains(grad, x0, beta_e, T, eta=1e-3, steps=50, n_chains=4, generator=0)
    assert torch.equal(again, chains[:51])


def test_bad_inputs_are_named():
    x, f, h = _toy(101)
    with pytest.raises(ValueError, match="spacing: expected one number or 1"):
        sam_envelope(f, (h, h), 0.1)
    with pytest.raises(ValueError, match="rho"):
        sam_envelope(f, h, -1.0)
    with pytest.raises(ValueError, match="sigma"):
        smoothed_landscape(f, x, 0.0, 0.1)
    with pytest.raises(ValueError, match=r"axes\[0\]: expected a uniform grid"):
        smoothed_landscape(f, x**3, 0.1, 0.1)
    with pytest.raises(ValueError, match="axes: expected 1"):
        smoothed_landscape(f, (x, x), 0.1, 0.1)
    with pytest.raises(ValueError, match="start: expected shape"):
        langevin_chains(lambda y: y, torch.tensor(0.0, dtype=F64), 1.0, 0.1, 0.01, 3, n_chains=2,
                        start=torch.zeros(3, dtype=F64))
    with pytest.raises(ValueError, match="grad_fn: expected a gradient of shape"):
        langevin_chains(lambda y: y.sum(), torch.tensor(0.0, dtype=F64), 1.0, 0.1, 0.01, 3, n_chains=2)
