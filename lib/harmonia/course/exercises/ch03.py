"""Exercises of chapter 03 (limits of speedup in distributed SGD)."""

from __future__ import annotations

import torch

from harmonia.course.exercises import Exercise, register
from harmonia.distributed.analysis import easgd_mean_matrix, easgd_moment_system, sgd_optimum, split_schur
from harmonia.distributed.problems import RandomInputs

F64 = torch.float64


def mean_after(t: int, eta: float, h: float, x0: float, b: int) -> float:
    """Reference of 03.1: the mean of SGD's iterate after t steps under additive noise, whatever the batch b."""
    return (1 - eta * h) ** t * x0


def uniform_optimum(b: int) -> tuple[float, float]:
    """Reference of 03.2: (r*, eta*) of batch-b SGD for uniform inputs on [-sqrt 3, sqrt 3] (h = 1, kappa = 0.8)."""
    law = RandomInputs("uniform")
    eta, r, _ = sgd_optimum(law.h, law.var_a2, b)
    return r, eta


def elastic_pair_matrix(eta: float, alpha: float, beta: float, h: float) -> torch.Tensor:
    """Reference of 03.4: the (2, 2) map of one worker and its center, (x, center) -> (x', center')."""
    return easgd_mean_matrix(1, eta, alpha, h, beta)


def schur_complement(rho: float, p: int) -> float:
    """Reference of 03.5: the Schur complement along x at the split state of the double well."""
    return split_schur(rho, p)


def easgd_second_moment_matrix(p: int, eta: float, alpha: float, h: float, var_a2: float, b: int) -> torch.Tensor:
    """Reference of 03.3: the 4x4 matrix of (A, B, C, D) for synchronous EASGD with beta = p alpha (p >= 2)."""
    return easgd_moment_system(p, eta, alpha, h, var_a2, 1.0, b)[0]


def _u(gen, lo: float, hi: float) -> float:
    return float(lo + (hi - lo) * torch.rand(1, generator=gen, dtype=F64))


def _mean_cases(gen):
    cases = []
    for _ in range(6):
        h = _u(gen, 0.2, 3.0)
        cases.append(((int(torch.randint(1, 40, (1,), generator=gen)), _u(gen, 0.0, 1.9) / h, h, _u(gen, -5, 5),
                       int(torch.randint(1, 256, (1,), generator=gen))), {}))
    return cases


def _uniform_cases(gen):
    return [((b,), {}) for b in (1, 4, 7, 64)]


def _pair_cases(gen):
    return [((_u(gen, 0.0, 0.5), _u(gen, -0.9, 0.9), _u(gen, 0.0, 1.0), _u(gen, 0.5, 3.0)), {}) for _ in range(5)]


def _schur_cases(gen):
    return [((_u(gen, 0.05, 0.95), int(2 * torch.randint(1, 5, (1,), generator=gen))), {}) for _ in range(6)]


def _moment_cases(gen):
    cases = []
    for _ in range(5):
        p = int(torch.randint(2, 17, (1,), generator=gen))
        cases.append(((p, _u(gen, 0.01, 0.8), _u(gen, 0.0, 0.9) / p, _u(gen, 0.5, 2.0), _u(gen, 0.0, 8.0),
                       int(torch.randint(1, 33, (1,), generator=gen))), {}))
    return cases


register(Exercise(
    id="03.1", title="the mean of SGD does not depend on the batch", reference=mean_after, cases=_mean_cases,
    level="easy", hints=(
        "take the expectation of x_{t+1} = x_t - eta g_t: what is E[g_t | x_t], and does b appear in it?",
        "E[g | x] = h x whatever the batch b, so E x_{t+1} = (1 - eta h) E x_t: return (1 - eta h)**t * x0 (b is unused)",
    ),
    rtol=1e-12, atol=1e-14,
))
register(Exercise(
    id="03.2", title="the best step and rate for uniform inputs", reference=uniform_optimum, cases=_uniform_cases,
    level="easy", hints=(
        "first the spread kappa from E a^2 and E a^4; then r(eta, b) is a parabola in eta: where is its minimum?",
        "E a^2 = 1, E a^4 = 9/5, so kappa = 0.8; r(eta) = (1 - eta)^2 + eta^2 kappa / b is smallest at "
         "eta* = 1/(1 + kappa/b), where r* = kappa/(b + kappa); return (r*, eta*)"),
    rtol=1e-9, atol=1e-12,
))
register(Exercise(
    id="03.4", title="one worker and its center as a 2x2 map", reference=elastic_pair_matrix, cases=_pair_cases,
    level="medium", hints=(
        "replace g by its mean h x in both updates: which old values does each new value read?",
        "x' = x - eta h x - alpha (x - c) and c' = c + beta (x - c), both from the old (x, c): rows "
         "[1 - eta h - alpha, alpha] and [beta, 1 - beta]; return a float64 (2, 2) tensor"),
    rtol=1e-12, atol=1e-14,
))
register(Exercise(
    id="03.5", title="the trap threshold of the double well", reference=schur_complement, cases=_schur_cases,
    level="medium", hints=(
        "Schur complement: center entry minus coupling^T (worker block)^-1 coupling; the worker block is diagonal",
        "at the split state the x-part of the Hessian has worker entries f''(a) + rho = 2 - 2 rho, center p rho, "
         "couplings -rho; eliminate the workers: p rho - p rho^2/(2 - 2 rho) = p rho (2 - 3 rho)/(2 - 2 rho)"),
    rtol=1e-12, atol=1e-14,
))
register(Exercise(
    id="03.3", title="second moments of synchronous EASGD with random inputs", reference=easgd_second_moment_matrix,
    cases=_moment_cases,
    level="hard", hints=(
        "expand x_i' x_i', x_i' x_j', x_i' c' and c'^2 from the updates and take expectations: which cross terms vanish?",
        "E c_i = c := 1 - eta h - alpha, E c_i^2 = c^2 + eta^2 var_a2 / b, E c_i c_j = c^2 (i != j); the label noise n_i only "
        "feeds A (the forcing term, left out); sum_j x_j against x_i or c brings A + (p - 1) B and p C",
        "with c = 1 - eta h - alpha and c2 = c^2 + eta^2 var_a2 / b: A' = c2 A + 2 c alpha C + alpha^2 D, "
         "B' = c^2 B + 2 c alpha C + alpha^2 D, C' = alpha c (A + (p-1) B) + (c e + p alpha^2) C + alpha e D, "
         "D' = p alpha^2 (A + (p-1) B) + 2 e alpha p C + e^2 D with e = 1 - p alpha"),
    rtol=1e-12, atol=1e-14,
))
