"""Exercises of chapter 00 (start here): the gradient of a quadratic and the best constant step."""

from __future__ import annotations

import torch

from harmonia.course.demos.start_here import optimal_step_size, quadratic_grad
from harmonia.course.exercises import Exercise, register


def _random_spd(n: int, gen: torch.Generator) -> torch.Tensor:
    """A random symmetric positive definite matrix with eigenvalues in [0.1, 10]."""
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    eig = 10 ** (2 * torch.rand(n, generator=gen, dtype=torch.float64) - 1)
    return (q * eig) @ q.T


def _grad_cases(gen: torch.Generator):
    cases = []
    for batch in [(), (), (3,), (2, 4)]:
        n = int(torch.randint(2, 6, (1,), generator=gen))
        A = _random_spd(n, gen)
        b = torch.randn(n, generator=gen, dtype=torch.float64)
        x = torch.randn(*batch, n, generator=gen, dtype=torch.float64)
        cases.append(((A, b, x), {}))
    return cases


def _step_cases(gen: torch.Generator):
    return [((_random_spd(int(torch.randint(2, 7, (1,), generator=gen)), gen),), {}) for _ in range(5)]


register(
    Exercise(
        id="00.1",
        title="gradient of the quadratic",
        reference=quadratic_grad,
        cases=_grad_cases,
        level="easy",
        hints=(
            "the formula is A x - b; think of how to apply A to every row of a (..., n) tensor at once",
            "for f(x) = 1/2 x^T A x - b^T x with A symmetric, the gradient is A x - b; "
            "x may carry batch dimensions (..., n), so write it as x @ A.T - b",
        ),
        rtol=1e-9,
        atol=1e-12,
    )
)

register(
    Exercise(
        id="00.2",
        title="best constant step size",
        reference=optimal_step_size,
        cases=_step_cases,
        level="medium",
        hints=(
            "sketch |1 - eta lambda| against eta for the smallest and the largest eigenvalue, and see which sets the max",
            "rho(eta) = max(|1 - eta l_min|, |1 - eta l_max|): the first falls, the second rises with eta; the best eta "
            "makes them equal, 1 - eta l_min = eta l_max - 1",
            "eta* = 2 / (l_min + l_max): eig = torch.linalg.eigvalsh(A) (ascending), return float(2 / (eig[0] + eig[-1]))",
        ),
        rtol=1e-9,
        atol=1e-12,
    )
)
