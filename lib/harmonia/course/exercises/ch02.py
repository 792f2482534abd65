"""Exercises of chapter 02 (EASGD)."""

from __future__ import annotations

import torch

from harmonia.course.exercises import Exercise, register
from harmonia.distributed import elastic_exchange_sync
from harmonia.distributed.analysis import admm_rr_map, easgd_rr_step, minibatch_sgd_var

F64 = torch.float64


def elastic_sync(X: torch.Tensor, center: torch.Tensor, alpha: float):
    """Reference of 02.1: the synchronous elastic exchange; returns (X_new (p, n), center_new (n,))."""
    return elastic_exchange_sync(X, center, alpha)


def alpha_max(eta_h: torch.Tensor) -> torch.Tensor:
    """Reference of 02.3: the largest stable moving rate of round-robin EASGD, (4 - 2 eta h)/(4 - eta h)."""
    return (4 - 2 * eta_h) / (4 - eta_h)


def pair_map(eta: float, alpha: float, h: float) -> torch.Tensor:
    """Reference of 02.2: the 2x2 matrix of one worker's round-robin EASGD turn on (x^i, center)."""
    M = easgd_rr_step(1, 0, eta, alpha, h)
    return M


def sgd_variance(p: int, eta: float, h: float, sigma2: float) -> float:
    """Reference of 02.5: stationary variance of SGD with a batch of p samples on the noisy quadratic."""
    return minibatch_sgd_var(p, eta, h, sigma2)


def admm_round(p: int, eta: float, rho: float, h: float) -> torch.Tensor:
    """Reference of 02.4: one round of round-robin linearised ADMM on F = h x^2 / 2, a (2p+1, 2p+1) float64
    matrix on the state (lambda^1, x^1, ..., lambda^p, x^p, center)."""
    return admm_rr_map(p, eta, rho, h)


def downpour_conserved(center: torch.Tensor, X: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
    """Reference of 02.6: the quantity that DOWNPOUR's pushes and pulls leave unchanged, center + sum_i u^i
    (X (p, n), U (p, n), center (n,)); only local steps change it."""
    return center + U.sum(dim=0)


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




def _admm_cases(gen):
    cases = []
    for p in (1, 2, 3, 5):
        eta = float(1e-3 + 0.3 * torch.rand(1, generator=gen))
        rho = float(0.1 + 5 * torch.rand(1, generator=gen))
        h = float(0.2 + 2 * torch.rand(1, generator=gen))
        cases.append(((p, eta, rho, h), {}))
    return cases


def _downpour_cases(gen):
    cases = []
    for p, n in ((4, 3), (1, 5), (6, 2)):
        X, U = torch.randn(p, n, generator=gen, dtype=F64), torch.randn(p, n, generator=gen, dtype=F64)
        cases.append(((torch.randn(n, generator=gen, dtype=F64), X, U), {}))
    return cases


register(Exercise(
    id="02.1", title="the synchronous elastic exchange", reference=elastic_sync, cases=_sync_cases,
    level="easy",
    hints=("Each worker moves toward the center: by how much, and where does the center's move come from?",
           "the exchange moves every worker by -alpha (x^i - center) and the center by the sum of the opposite moves",
           "D = alpha (X - center) (broadcast over the workers); X_new = X - D; center_new = center + D.sum(0)"),
    rtol=1e-12, atol=1e-14,
))
register(Exercise(
    id="02.2", title="one worker's round-robin turn as a matrix", reference=pair_map, cases=_pair_cases,
    level="easy",
    hints=("Write the new x^i and the new center as linear combinations of the old x^i and the old center: "
           "the coefficients are the rows.",
           "x <- x - eta h x - alpha (x - c), c <- c + alpha (x_old - c): rows [1 - eta h - alpha, alpha] and "
           "[alpha, 1 - alpha]; return a float64 (2, 2) tensor"),
    rtol=1e-12, atol=1e-14,
))
register(Exercise(
    id="02.3", title="stability of round-robin EASGD for p = 1", reference=alpha_max, cases=_alpha_cases,
    level="medium",
    hints=("Which of Jury's conditions (1 - tr + det >= 0, 1 + tr + det >= 0, |det| <= 1) binds as alpha grows?",
           "with u = eta h: 1 - tr + det = u alpha >= 0 always holds; the binding one is 1 + tr + det = 4 - 4 alpha - 2u + u alpha",
           "the eigenvalues of [[1-u-a, a], [a, 1-a]] stay in [-1, 1] iff 1 + tr + det >= 0, i.e. "
           "4 - 4a - 2u + ua >= 0: a <= (4 - 2u)/(4 - u)"),
    rtol=1e-12, atol=1e-14,
))
register(Exercise(
    id="02.4", title="one round of round-robin ADMM as a matrix", reference=admm_round, cases=_admm_cases,
    level="hard",
    hints=("Give each of the three updates of worker i its own (2p+1) x (2p+1) matrix (an identity with one row "
           "changed); in what order do they multiply?",
           "order the state (lambda^1, x^1, ..., lambda^p, x^p, center): worker i's multiplier is entry 2i, its variable 2i+1, the center the last",
           "F1: row lambda^i = lambda^i - x^i + center; F2: row x^i = ((1 - eta h) x^i + eta rho (lambda^i + center)) / (1 + eta rho); "
           "F3: row center = (1/p) sum_j (x^j - lambda^j); one round is F3 F2 F1 for worker p times ... times F3 F2 F1 for worker 1"),
    rtol=1e-12, atol=1e-14,
))
register(Exercise(
    id="02.5", title="the variance of mini-batch SGD on the noisy quadratic", reference=sgd_variance, cases=_var_cases,
    level="medium",
    hints=("Write one step as x <- a x + b xi with a random xi independent of x; what does the variance obey, and "
           "what is its fixed point?",
           "x <- (1 - eta h) x + eta xi_bar with Var(xi_bar) = sigma2/p; stationary V = (1-eta h)^2 V + eta^2 sigma2/p, "
           "so V = eta sigma2 / (p h (2 - eta h))"),
    rtol=1e-12, atol=1e-14,
))
register(Exercise(
    id="02.6", title="what DOWNPOUR conserves", reference=downpour_conserved, cases=_downpour_cases,
    level="medium",
    hints=("Follow one push and one pull: which sum of state variables survives both?",
           "a pull overwrites x^i, so no sum containing x^i survives it; a push moves u^i into the center",
           "center + U.sum(0): a push keeps it, a pull does not touch it, and a local step adds -eta g to it"),
    rtol=1e-12, atol=1e-14,
))
