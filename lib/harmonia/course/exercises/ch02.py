"""Exercises of chapter 02 (EASGD)."""

from __future__ import annotations

import torch

from harmonia.course.exercises import Exercise, register
from harmonia.distributed import elastic_exchange_sync
from harmonia.distributed.analysis import easgd_rr_step, minibatch_sgd_var

F64 = torch.float64


def elastic_sync(X: torch.Tensor, center: torch.Tensor, alpha: float):
    """Reference of 02.1: the synchronous elastic exchange; returns (X_new (p, n), center_new (n,))."""
    return elastic_exchange_sync(X, center, alpha)


def alpha_max(eta_h: torch.Tensor) -> torch.Tensor:
    """Reference of 02.2: the largest stable moving rate of round-robin EASGD, (4 - 2 eta h)/(4 - eta h)."""
    return (4 - 2 * eta_h) / (4 - eta_h)


def pair_map(eta: float, alpha: float, h: float) -> torch.Tensor:
    """Reference of 02.3: the 2x2 matrix of one worker's round-robin EASGD turn on (x^i, center)."""
    M = easgd_rr_step(1, 0, eta, alpha, h)
    return M


def sgd_variance(p: int, eta: float, h: float, sigma2: float) -> float:
    """Reference of 02.4: stationary variance of SGD with a batch of p samples on the noisy quadratic."""
    return minibatch_sgd_var(p, eta, h, sigma2)


def _sync_cases(gen):
    cases = []
    for p, n in ((4, 3), (1, 5), (7, 2)):
        X = torch.randn(p, n, generator=gen, dtype=F64)
        c = torch.randn(n, generator=gen, dtype=F64)
        cases.append(((X, c, float(torch.rand(1, generator=gen)) / p), {}))
    return cases


def _alpha_cases(gen):
    return [((2 * torch.rand(20, generator=gen, dtype=F64),), {}), ((torch.tensor([0.0, 1.0, 2.0], dtype=F64),), {})]


def _pair_cases(gen):
    return [((float(torch.rand(1, generator=gen)), float(torch.rand(1, generator=gen)), float(0.1 + 3 * torch.rand(1, generator=gen))), {})
            for _ in range(4)]


def _var_cases(gen):
    cases = []
    for _ in range(5):
        h = float(0.2 + 2 * torch.rand(1, generator=gen))
        eta = float(torch.rand(1, generator=gen)) * 1.9 / h
        cases.append(((int(torch.randint(1, 64, (1,), generator=gen)), eta, h, float(0.1 + torch.rand(1, generator=gen))), {}))
    return cases


register(Exercise(
    id="02.1", title="the synchronous elastic exchange", reference=elastic_sync, cases=_sync_cases,
    hint="D = alpha (X - center) (broadcast over the workers); X_new = X - D; center_new = center + D.sum(0)",
    rtol=1e-12, atol=1e-14,
))
register(Exercise(
    id="02.2", title="stability of round-robin EASGD for p = 1", reference=alpha_max, cases=_alpha_cases,
    hint="the eigenvalues of [[1-u-a, a], [a, 1-a]] stay in [-1, 1] iff 1 + tr + det >= 0, i.e. "
         "4 - 4a - 2u + ua >= 0: a <= (4 - 2u)/(4 - u)",
    rtol=1e-12, atol=1e-14,
))
register(Exercise(
    id="02.3", title="one worker's round-robin turn as a matrix", reference=pair_map, cases=_pair_cases,
    hint="x <- x - eta h x - alpha (x - c), c <- c + alpha (x_old - c): rows [1 - eta h - alpha, alpha] and "
         "[alpha, 1 - alpha]; return a float64 (2, 2) tensor",
    rtol=1e-12, atol=1e-14,
))
register(Exercise(
    id="02.4", title="the variance of mini-batch SGD on the noisy quadratic", reference=sgd_variance, cases=_var_cases,
    hint="x <- (1 - eta h) x + eta xi_bar with Var(xi_bar) = sigma2/p; stationary V = (1-eta h)^2 V + eta^2 sigma2/p, "
         "so V = eta sigma2 / (p h (2 - eta h))",
    rtol=1e-12, atol=1e-14,
))
