"""Exercises of chapter 09 (learning the marks of wireless networks)."""

from __future__ import annotations

import math

import torch

from harmonia.course.demos.wireless_networks import shrink
from harmonia.course.exercises import Exercise, register
from harmonia.pointprocess import poisson, voronoi_areas

F64 = torch.float64


def cell_moments(areas: list[torch.Tensor]) -> torch.Tensor:
    """Reference of 09.1: mean and (population) variance of the normalised cell areas :math:`n_t|V_i|`,
    pooled over the points of all patterns ``areas`` (one tensor of areas per pattern)."""
    z = torch.cat([a.to(F64) * len(a) for a in areas])
    return torch.stack([z.mean(), z.var(correction=0)])


def scaled_log_moments(s: torch.Tensor, c: float) -> torch.Tensor:
    """Reference of 09.2: :math:`\\log S(\\mu_{cm})` from :math:`s=\\log S(\\mu_m)`, for :math:`c>0`."""
    return s + math.log(c)


def _cell_cases(gen: torch.Generator):
    cases = []
    for n_patterns, lam in ((3, 20), (5, 64), (1, 10)):
        seed = int(torch.randint(0, 10**6, (1,), generator=gen))
        cases.append((([voronoi_areas(poisson(lam, seed + t)) for t in range(n_patterns)],), {}))
    cases.append((([torch.rand(7, generator=gen, dtype=F64), torch.rand(4, generator=gen, dtype=F64)],), {}))
    return cases


def _scale_cases(gen: torch.Generator):
    return [((torch.randn(113, generator=gen, dtype=F64), float(0.1 + 5 * torch.rand(1, generator=gen))), {})
            for _ in range(3)] + [((torch.randn(5, generator=gen, dtype=F64), 1.0), {})]


def _shrink_cases(gen: torch.Generator):
    y = torch.randn(60, generator=gen, dtype=F64)
    noisy = y + 2 * torch.randn(60, generator=gen, dtype=F64)
    return [((y, noisy), {}), ((y, 3 * y + 1), {}), ((y, -y + 0.5 * torch.randn(60, generator=gen, dtype=F64)), {})]


register(Exercise(
    id="09.1", title="the mean and spread of Voronoi cells", reference=cell_moments, cases=_cell_cases,
    level="easy", hints=(
        "Normalise each pattern's areas by its own number of points before pooling: what must the mean be, whatever the pattern?",
        "z = n_t * areas_t for each pattern t (n_t = len(areas_t)); concatenate; return tensor([z.mean(), z.var(correction=0)])"),
    rtol=1e-9, atol=1e-12,
))
register(Exercise(
    id="09.2", title="homogeneity of the scattering moments in the marks", reference=scaled_log_moments,
    cases=_scale_cases,
    level="easy", hints=(
        "Multiply every mark by c: what happens to the measure, to each convolution, to each modulus, to each mean?",
        "mu_{cm} = c mu_m, and |c z| = c |z| for c > 0 at both layers: S(mu_{cm}) = c S(mu_m), so log S shifts by log c"),
    rtol=1e-12, atol=1e-12,
))
register(Exercise(
    id="09.3", title="the least-squares shrinkage factor", reference=shrink, cases=_shrink_cases,
    level="medium", hints=(
        "Look for the best c in the family y_bar + c (y_hat - mean(y_hat)): it is a one-parameter least-squares problem.",
        "minimise sum (y - y_bar - c d)^2 over c with d = y_hat - mean(y_hat): set the derivative to zero",
        "c = sum (y - y_bar) d / sum d^2; return (c as a float, y_bar + c d)"),
    rtol=1e-9, atol=1e-12,
))
