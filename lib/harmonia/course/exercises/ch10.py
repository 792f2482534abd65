"""Exercises of chapter 10 (point process synthesis by particle gradient descent)."""

from __future__ import annotations

import math

import torch

from harmonia.course.exercises import Exercise, register
from harmonia.pointprocess import binomial, cluster_fixed, ripley_k, sigma_schedule

F64 = torch.float64


def structure_factor_at(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Reference of 10.2: :math:`S(2\\pi m)=\\frac1n|\\sum_je^{-2\\pi i\\langle m,x_j\\rangle}|^2` for the
    integer vectors ``m`` (K, 2) and the pattern ``x`` (n, 2) on the unit torus: (K,) float64."""
    phase = -2 * math.pi * (x.to(F64) @ m.to(F64).T)  # (n, K)
    amp = torch.polar(torch.ones_like(phase), phase).sum(dim=0)
    return amp.abs().square() / len(x)


def _k_cases(gen: torch.Generator):
    r = torch.tensor([0.01, 0.05, 0.1, 0.2], dtype=F64)
    seeds = torch.randint(0, 10**6, (3,), generator=gen).tolist()
    return [((binomial(60, seeds[0]), r), {}), ((cluster_fixed(80, 5, 0.05, seeds[1]), r), {}),
            ((binomial(25, seeds[2]), torch.tensor([0.3, 0.45], dtype=F64)), {})]


def _s_cases(gen: torch.Generator):
    m = torch.randint(-12, 13, (10, 2), generator=gen)
    m[m.abs().sum(dim=1) == 0] = torch.tensor([1, 0])
    seeds = torch.randint(0, 10**6, (2,), generator=gen).tolist()
    return [((binomial(50, seeds[0]), m), {}), ((cluster_fixed(40, 4, 0.05, seeds[1]), m[:4]), {})]


def _schedule_cases(gen: torch.Generator):
    return [((N,), {}) for N in (16, 32, 64, 128, 256, 512)]


register(Exercise(
    id="10.1", title="Ripley's K on the torus", reference=ripley_k, cases=_k_cases,
    level="easy", hints=(
        "Which pairs count, with which distance, and what do you divide by so that a Poisson pattern gives pi r^2?",
        "periodic difference d = (x_i - x_j + 1/2) mod 1 - 1/2; count ordered pairs i != j with |d| <= r; divide "
        "by n (n - 1) (the window has area 1)"),
    rtol=1e-12, atol=1e-12,
))
register(Exercise(
    id="10.2", title="the structure factor at given frequencies", reference=structure_factor_at, cases=_s_cases,
    level="medium", hints=(
        "Each frequency vector m gives one complex sum over the points: what is its phase for point x_j?",
        "phase_j = -2 pi <m, x_j>; S = |sum_j exp(i phase_j)|^2 / n; all K vectors at once with x @ m.T (n, K)"),
    rtol=1e-9, atol=1e-9,
))
register(Exercise(
    id="10.3", title="the coarse-to-fine blur schedule", reference=sigma_schedule, cases=_schedule_cases,
    level="medium", hints=(
        "The authors start at log2(N) - 3 pixels and halve the width at each level: how many levels until it "
        "drops below one pixel for N = 64?",
        "sigma_s = (log2 N - 3) / 2^s for s = 0, ..., log2(N) - 4: [3, 1.5, 0.75] for N = 64"),
    rtol=1e-12, atol=1e-12,
))
