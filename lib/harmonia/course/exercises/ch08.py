"""Exercises of chapter 08 (texture synthesis with rectified wavelet covariances)."""

from __future__ import annotations

import math

import torch

from harmonia.course.exercises import Exercise, register
from harmonia.phase_harmonics import rectifier_fourier_coeff
from harmonia.wph import alpha_stat_count

F64 = torch.float64


def rectifier_moments(s: float, a: float) -> torch.Tensor:
    """Reference of 08.1: for a circular complex Gaussian :math:`z` with :math:`E|z|^2=s^2` and
    :math:`0\\le a\\le\\pi`, the tensor :math:`(E\\rho_0(z),\\ \\mathrm{Var}\\,\\rho_0(z),\\ \\mathrm{Cov}(\\rho_0(z),\\rho_a(z)))`."""
    mean = s / (2 * math.sqrt(math.pi))
    var = s**2 * (0.25 - 1 / (4 * math.pi))
    cov = s**2 / (4 * math.pi) * (math.sin(a) + (math.pi - a) * math.cos(a) - 1)
    return torch.tensor([mean, var, cov], dtype=F64)


def relu_cos_coeff(k: torch.Tensor) -> torch.Tensor:
    """Reference of 08.2: :math:`c_k=\\frac1{2\\pi}\\int_0^{2\\pi}\\mathrm{ReLU}(\\cos t)e^{-ikt}dt` for an
    integer tensor ``k`` (float64 of its shape)."""
    return rectifier_fourier_coeff(k)


def count_stats(J: int, L: int, A: int, delta_j: int, shift: str) -> int:
    """Reference of 08.3: the number of ALPHA statistics of a grey image, low-pass and Haar included."""
    return alpha_stat_count(J, L, A, delta_j, shift)


def _moment_cases(gen: torch.Generator):
    cases = [((1.0, math.pi), {}), ((2.0, 0.0), {})]
    for _ in range(4):
        s = float(0.2 + 3 * torch.rand(1, generator=gen, dtype=F64))
        a = float(math.pi * torch.rand(1, generator=gen, dtype=F64))
        cases.append(((s, a), {}))
    return cases


def _coeff_cases(gen: torch.Generator):
    return [((torch.arange(0, 7),), {}), ((torch.arange(-6, 1),), {}),
            ((torch.randint(-20, 21, (12,), generator=gen),), {})]


def _count_cases(gen: torch.Generator):
    cases = [((5, 4, 4, 2, "all"), {}), ((4, 4, 4, 2, "all"), {}), ((5, 4, 4, 4, "same"), {})]
    for shift in ("all", "same", "none"):
        J = int(torch.randint(2, 7, (1,), generator=gen))
        L = int(torch.randint(1, 9, (1,), generator=gen))
        A = int(torch.randint(1, 5, (1,), generator=gen))
        dj = int(torch.randint(0, J + 1, (1,), generator=gen))
        cases.append(((J, L, A, dj, shift), {}))
    return cases


register(Exercise(
    id="08.1", title="moments of the rectifier for a Gaussian coefficient", reference=rectifier_moments,
    cases=_moment_cases,
    level="medium", hints=(
        "What is the law of Re(z) when z is circular Gaussian with E|z|^2 = s^2? And what is rho_0 * rho_pi?",
        "Re(z) ~ N(0, s^2/2): E ReLU(g) = sigma/sqrt(2 pi) and E ReLU(g)^2 = sigma^2/2 for g ~ N(0, sigma^2). For the "
        "covariance write z = r e^{i phi} with phi uniform and independent of r, and integrate "
        "cos(phi) cos(phi - a) over the arc where both are positive",
        "mean = s / (2 sqrt(pi)); var = s^2 (1/4 - 1/(4 pi)); E[rho_0 rho_a] = E r^2 / (2 pi) * integral over "
        "phi in [a - pi/2, pi/2] of cos(phi) cos(phi - a) = s^2 (sin a + (pi - a) cos a) / (4 pi); subtract mean^2"),
    rtol=1e-9, atol=1e-12,
))
register(Exercise(
    id="08.2", title="Fourier coefficients of ReLU(cos t)", reference=relu_cos_coeff, cases=_coeff_cases,
    level="easy", hints=(
        "ReLU(cos t) is cos t on [-pi/2, pi/2] and 0 elsewhere: integrate cos(t) cos(kt) there (it is even in t).",
        "c_k = (1/pi) * integral_0^{pi/2} cos t cos kt dt; use cos t cos kt = (cos((k-1)t) + cos((k+1)t)) / 2; "
        "k = +-1 is a special case",
        "c_0 = 1/pi, c_{+-1} = 1/4, c_k = 0 for odd |k| >= 3, c_k = -cos(k pi / 2) / (pi (k^2 - 1)) for even k"),
    rtol=1e-9, atol=1e-12,
))
register(Exercise(
    id="08.3", title="count the statistics of an ALPHA model", reference=count_stats, cases=_count_cases,
    level="medium", hints=(
        "Count the pairs of maps first: for one scale j, how many scales j' may it meet, and how many "
        "orientations and phases are there on each side?",
        "map pairs: P L^2 A with P = sum_j (min(J-1, j+dj) - j + 1) (phases on the first map only); each pair "
        "carries |T_J| = 8J - 3 shifts (J >= 2; 9 for J = 1) under 'all', only tau = 0 under 'none'",
        "'all': P L^2 A T; 'none': P L^2 A; 'same': P L^2 A + J L A (T - 1) (a map with itself); then add T for "
        "the low-pass and 3 T for the Haar filters"),
))
