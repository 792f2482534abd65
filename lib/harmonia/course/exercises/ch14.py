"""Exercises of chapter 14 (data assimilation networks)."""

from __future__ import annotations

import math

import torch

from harmonia.assimilation import StateSpaceModel, enkf_analysis
from harmonia.course.exercises import Exercise, register
from harmonia.nn.gaussian import gaussian_nll

F64 = torch.float64


def steady_state_variances(q: float, r: float) -> tuple[float, float]:
    """Reference of 14.1: the steady prior and posterior variances (p_b, p_a) of the Kalman filter of
    x_{t+1} = R x_t + N(0, q I), y_t = x_t + N(0, r I) with R a rotation."""
    pa = (-q + math.sqrt(q * q + 4 * q * r)) / 2
    return pa + q, pa


def nll(x: torch.Tensor, mu: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    """Reference of 14.2: -log N(x; mu, L L^T) with a lower-triangular L, batched."""
    return gaussian_nll(x, mu, L)


def enkf_update(E: torch.Tensor, y: torch.Tensor, obs_index: torch.Tensor, sigma_r: float,
                xi: torch.Tensor) -> torch.Tensor:
    """Reference of 14.3: the stochastic EnKF analysis of E (Ne, n) with y (p,) = x[obs_index] + noise, and the
    standard normal perturbations xi (Ne, p)."""
    model = StateSpaceModel("exercise", E.shape[-1], len(obs_index), lambda x: x, obs_index, 0.0, float(sigma_r))
    return enkf_analysis(E, y, model, perturbations=xi)


def _var_cases(gen: torch.Generator):
    vals = 10.0 ** (4 * torch.rand(6, 2, generator=gen, dtype=F64) - 2)
    return [((0.01, 1.0), {})] + [((float(q), float(r)), {}) for q, r in vals]


def _nll_cases(gen: torch.Generator):
    out = []
    for shape, n in (((), 1), ((5,), 3), ((2, 4), 6)):
        x = torch.randn(*shape, n, generator=gen, dtype=F64)
        mu = torch.randn(*shape, n, generator=gen, dtype=F64)
        L = torch.randn(*shape, n, n, generator=gen, dtype=F64).tril(-1) + torch.diag_embed(
            torch.rand(*shape, n, generator=gen, dtype=F64) + 0.2)
        out.append(((x, mu, L), {}))
    return out


def _enkf_cases(gen: torch.Generator):
    out = []
    for Ne, n, idx in ((10, 4, [0, 1, 2, 3]), (20, 6, [0, 2, 4]), (5, 3, [1])):
        E = torch.randn(Ne, n, generator=gen, dtype=F64) * 2 + 1
        idx = torch.tensor(idx)
        y = torch.randn(len(idx), generator=gen, dtype=F64)
        xi = torch.randn(Ne, len(idx), generator=gen, dtype=F64)
        out.append(((E, y, idx, 0.7, xi), {}))
    return out


register(Exercise(
    id="14.1", title="the steady state of the Kalman filter", reference=steady_state_variances, cases=_var_cases,
    level="medium", hints=(
        "A rotation keeps an isotropic covariance isotropic, so everything is scalar: write one forecast step and one "
        "analysis step for the variance, and ask for a fixed point.",
        "forecast: p_b = p_a + q (R p I R^T = p I); analysis: p_a = p_b r / (p_b + r). Substitute and solve the "
        "quadratic for p_a > 0",
        "p_a^2 + q p_a - q r = 0, so p_a = (-q + sqrt(q^2 + 4 q r)) / 2 and p_b = p_a + q; return (p_b, p_a)"),
    rtol=1e-10, atol=1e-12,
))
register(Exercise(
    id="14.2", title="the Gaussian NLL with a Cholesky factor", reference=nll, cases=_nll_cases,
    level="easy", hints=(
        "With Sigma = L L^T, what are (x - mu)^T Sigma^{-1} (x - mu) and log det Sigma in terms of L? Neither needs "
        "Sigma or its inverse.",
        "solve L z = x - mu (torch.linalg.solve_triangular, upper=False): the quadratic form is |z|^2; "
        "log det Sigma = 2 sum log diag(L)",
        "0.5 |z|^2 + sum log diag(L) + (n / 2) log(2 pi), batched over leading dimensions"),
    rtol=1e-10, atol=1e-10,
))
register(Exercise(
    id="14.3", title="one stochastic EnKF analysis", reference=enkf_update, cases=_enkf_cases,
    level="medium", hints=(
        "Replace the Kalman filter's covariance by the ensemble's sample covariance, and give each member its own "
        "noisy copy of the observation, so that the analysis spread is right.",
        "A = E - mean(E); P = A^T A / (Ne - 1); K = P H^T (H P H^T + sigma_r^2 I)^{-1}, with H selecting obs_index",
        "E_a = E + (y + sigma_r xi - E[:, obs_index]) K^T"),
    rtol=1e-9, atol=1e-10,
))
