"""Exercises of chapter 04 (LSAM)."""

from __future__ import annotations

import torch

from harmonia.course.exercises import Exercise, register
from harmonia.distributed import harmonic_number
from harmonia.optim import gibbs_mean, sam_perturbation

F64 = torch.float64


def sam_epsilon(grads: list[torch.Tensor], rho: float, gamma: float = 1e-12) -> list[torch.Tensor]:
    """Reference of 04.1: SAM's first-order ascent step rho g / (||g|| + gamma), one global norm over all tensors."""
    return sam_perturbation(grads, rho, gamma)


def smoothed_gradient(values: torch.Tensor, axis: torch.Tensor, x: torch.Tensor, sigma: float, T: float) -> torch.Tensor:
    """Reference of 04.2: F'(x) = (T / sigma^2) (x - E[y | x]) with the Gibbs mean by quadrature."""
    return (T / sigma**2) * (x - gibbs_mean(values, axis, x, sigma, T))


def throughput_ratio(p: int) -> float:
    """Reference of 04.3: the expected async/sync throughput ratio with i.i.d. exponential step times, H_P."""
    return harmonic_number(p)


def _eps_cases(gen):
    cases = []
    for shapes in (((3, 4), (4,)), ((5,),), ((2, 3), (3,), (3, 1), (1,))):
        grads = [torch.randn(s, generator=gen, dtype=F64) for s in shapes]
        cases.append(((grads, float(0.01 + torch.rand(1, generator=gen))), {}))
    cases.append((([torch.randn(6, generator=gen, dtype=F64)], 0.05), {"gamma": 0.5}))
    return cases


def _grad_cases(gen):
    cases = []
    axis = torch.linspace(-3.0, 3.0, 601, dtype=F64)
    for _ in range(3):
        c = -1.5 + 3 * torch.rand(3, generator=gen, dtype=F64)
        w = 0.1 + 0.4 * torch.rand(3, generator=gen, dtype=F64)
        a = 0.5 + torch.rand(3, generator=gen, dtype=F64)
        values = -(a[:, None] * torch.exp(-(axis[None, :] - c[:, None]) ** 2 / (2 * w[:, None] ** 2))).sum(0) + 0.05 * axis**2
        x = -1.5 + 3 * torch.rand(7, generator=gen, dtype=F64)
        cases.append(((values, axis, x, float(0.1 + 0.3 * torch.rand(1, generator=gen)), float(0.05 + 0.25 * torch.rand(1, generator=gen))), {}))
    return cases


def _ratio_cases(gen):
    return [((int(p),), {}) for p in torch.randint(1, 17, (5,), generator=gen)] + [((1,), {}), ((4,), {})]


register(Exercise(
    id="04.1", title="SAM's ascent step", reference=sam_epsilon, cases=_eps_cases,
    level="easy",
    hints=("Linearise f(w + eps) = f(w) + eps . g: which vector of norm rho makes eps . g largest?",
           "the maximiser points along g and has length rho; the norm is the global one, over all tensors together",
           "n = sqrt(sum over tensors of (g_k ** 2).sum()); return [rho * g_k / (n + gamma) for g_k in grads]"),
    rtol=1e-10, atol=1e-13,
))
register(Exercise(
    id="04.2", title="the gradient of the smoothed landscape", reference=smoothed_gradient, cases=_grad_cases,
    level="medium",
    hints=("F = -T log Z(x): differentiate Z under the integral. What does d/dx of the Gaussian kernel bring down?",
           "d/dx φ_σ(x - y) = -(x - y) / σ² φ_σ(x - y), so Z'(x) / Z(x) is an expectation under p(y | x)",
           "F' = -T Z'/Z = (T / sigma^2) E[x - y | x]; in code: "
           "(T / sigma**2) * (x - gibbs_mean(values, axis, x, sigma, T))"),
    rtol=1e-6, atol=1e-6,
))
register(Exercise(
    id="04.3", title="the straggler throughput ratio", reference=throughput_ratio, cases=_ratio_cases,
    level="medium",
    hints=("A synchronous round lasts as long as the slowest of P workers: what is the mean of the maximum of P "
           "i.i.d. exponential times?",
           "sort the P times: the gap before the first finish is exponential with rate P/μ, the next with rate (P-1)/μ, ... "
           "(memorylessness)",
           "E max = μ (1/P + 1/(P-1) + ... + 1) = μ H_P; async does P/μ steps per unit time, sync P/(μ H_P): "
           "the ratio is H_P = sum(1 / k for k in range(1, p + 1))"),
    rtol=1e-9, atol=1e-12,
))
