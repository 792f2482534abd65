"""Exercises of chapter 11 (Nash equilibria of moment-matching GANs for stationary Gaussian processes)."""

from __future__ import annotations

import torch

from harmonia.course.exercises import Exercise, register
from harmonia.games import eta_star, frequency_energy, periodogram, sample_conv_gaussian

F64 = torch.float64


def gda_threshold(P: torch.Tensor, lam: float, tau: float) -> float:
    """Reference of 11.2: the largest stable step size of simultaneous GDA (:func:`harmonia.games.eta_star`)."""
    return eta_star(P, lam, tau)


def energy(a: torch.Tensor, w: torch.Tensor, P: float, tau: float) -> torch.Tensor:
    """Reference of 11.3: the conserved quantity of the :math:`\\lambda=0` flow of one frequency."""
    return frequency_energy(torch.stack([a, w], dim=-1), torch.as_tensor(P, dtype=a.dtype), tau)


def _periodogram_cases(gen: torch.Generator):
    cases = []
    for d, n in ((16, 5), (7, 40), (32, 1)):
        theta = torch.randn(d, generator=gen, dtype=F64)
        cases.append(((sample_conv_gaussian(theta, n, seed=int(torch.randint(0, 10**6, (1,), generator=gen))),), {}))
    return cases


def _threshold_cases(gen: torch.Generator):
    cases = [((torch.tensor([2.25, 1.0, 0.25], dtype=F64), 1.0, 1.0), {})]
    for lam, tau in ((1.0, 1.0), (0.5, 2.0), (8.0, 1.0), (3.0, 0.5)):
        P = 0.1 + 2 * torch.rand(8, generator=gen, dtype=F64)
        cases.append(((P, lam, tau), {}))
    return cases


def _energy_cases(gen: torch.Generator):
    a = 0.1 + 2 * torch.rand(20, generator=gen, dtype=F64)
    w = torch.randn(20, generator=gen, dtype=F64)
    return [((a, w, 1.3, 1.0), {}), ((a, w, 0.4, 2.5), {})]


register(Exercise(
    id="11.1", title="the averaged periodogram", reference=periodogram, cases=_periodogram_cases,
    level="easy", hints=(
        "Which FFT normalisation does torch use by default, and what must you divide by so that white noise of "
        "variance 1 has a periodogram of 1?",
        "P(omega) = (1 / (n d)) sum_i |fft(x_i)(omega)|^2: torch.fft.fft(x) over the last dimension, abs()^2, mean "
        "over the samples, divided by d"),
    rtol=1e-10, atol=1e-12,
))
register(Exercise(
    id="11.2", title="the stability threshold of GDA", reference=gda_threshold, cases=_threshold_cases,
    level="medium", hints=(
        "Linearise the per-frequency map (a, w) -> (a(1 + 2 eta w), w + eta tau (P - a^2 - lam w)) at a^2 = P, "
        "w = 0: its eigenvalues are 1 + eta mu for which mu?",
        "mu^2 + tau lam mu + 4 tau P = 0; with complex mu, |1 + eta mu|^2 < 1 iff eta < lam / (4 P); with real mu, "
        "iff eta |mu| < 2 for the most negative root",
        "per frequency: lam / (4 P) if tau lam^2 < 16 P else 4 / (tau lam + sqrt(tau^2 lam^2 - 16 tau P)); take the "
        "minimum over frequencies and 2 / (tau lam) (the antisymmetric part of w contracts by 1 - eta tau lam)"),
    rtol=1e-10, atol=1e-12,
))
register(Exercise(
    id="11.3", title="the conserved quantity of the flow", reference=energy, cases=_energy_cases,
    level="medium", hints=(
        "Look for H(a, w) = w^2 + G(a) with dH/dt = 0 along da/dt = 2 a w, dw/dt = tau (P - a^2): what must G'(a) be?",
        "dH/dt = 2 w tau (P - a^2) + G'(a) 2 a w = 0 gives G'(a) = tau (a^2 - P) / a",
        "H = w^2 + tau (a^2 / 2 - P log a)"),
    rtol=1e-10, atol=1e-12,
))
