"""Exercises of chapter 05 (scattering transforms)."""

from __future__ import annotations

import torch

from harmonia.course.demos.scattering import relative_change, relu_phase_average
from harmonia.course.exercises import Exercise, register
from harmonia.filters.morlet1d import morlet_1d_hat, sigma_from_xi

F64 = torch.float64


def n_coefficients_2d(J: int, L: int) -> int:
    """Reference of 05.1: the channel count of a 2D scattering with max_order 2, read off the library."""
    from harmonia.scattering import Scattering2D

    side = 2 ** (J + 1)
    return Scattering2D(J, (side, side), L=L).output_size()


def _count_cases(gen: torch.Generator):
    return [((int(torch.randint(1, 5, (1,), generator=gen)), int(torch.randint(1, 9, (1,), generator=gen))), {})
            for _ in range(5)]


def _morlet_cases(gen: torch.Generator):
    cases = []
    for _ in range(4):
        N = int(2 ** torch.randint(7, 11, (1,), generator=gen))
        xi = float(0.05 + 0.3 * torch.rand(1, generator=gen, dtype=F64))
        sigma = float(xi * (0.05 + 0.35 * torch.rand(1, generator=gen, dtype=F64)))
        cases.append(((N, xi, sigma), {}))
    return cases


def _width_cases(gen: torch.Generator):
    cases = []
    for _ in range(6):
        xi = float(0.01 + 0.44 * torch.rand(1, generator=gen, dtype=F64))
        Q = int(torch.randint(1, 17, (1,), generator=gen))
        r_psi = float(0.3 + 0.6 * torch.rand(1, generator=gen, dtype=F64))
        cases.append(((xi, Q, r_psi), {}))
    return cases


def _width_reference(xi, Q, r_psi):
    return sigma_from_xi(xi, Q, r_psi)


def _transform_cases(gen: torch.Generator):
    transforms = [
        lambda s: torch.fft.fft(s).abs(),
        lambda s: s.square(),
        lambda s: s.cumsum(-1),
    ]
    cases = []
    for T in transforms:
        x = torch.randn(64, generator=gen, dtype=F64)
        shift = int(torch.randint(1, 63, (1,), generator=gen))
        cases.append(((T, x, shift), {}))
    return cases


def _shift_sensitivity_reference(transform, x, shift):
    return relative_change(transform, x, torch.roll(x, shift, dims=-1))


def _phase_cases(gen: torch.Generator):
    return [((torch.randn(5, 7, generator=gen, dtype=torch.complex128), int(torch.randint(3, 9, (1,), generator=gen))), {})
            for _ in range(4)]


register(Exercise(
    id="05.1", title="number of 2D scattering coefficients", reference=n_coefficients_2d, cases=_count_cases,
    level="easy",
    hints=("count each order separately: how many (j1, theta1) paths are there, and how many scale pairs j1 < j2?",
           "1 low-pass + J L first-order paths + second-order paths (j1 < j2, any two orientations): "
           "L^2 times the number of pairs j1 < j2, which is J(J-1)/2"),
))
register(Exercise(
    id="05.2", title="a 1D Morlet filter in Fourier", reference=morlet_1d_hat, cases=_morlet_cases,
    level="medium",
    hints=("build the two Gaussians on the long grid f = m/N first, then fold it into 2P-1 rows of length N",
           "reshape each Gaussian to (2P-1, N) and take the mean over the rows; kappa = bump[0] / gauss[0]",
           "evaluate the Gaussians g(f - xi) and g(f) on f = m/N for m in [(1-P)N, PN) with "
           "P = min(ceil(sqrt(-2 sigma^2 ln 1e-7) + 1), 5), average the 2P-1 blocks of length N, subtract "
           "kappa * (periodised g) with kappa making the value at f = 0 vanish, then divide by sum_t |psi[t]| "
           "(the L1 norm of the inverse DFT)"),
    rtol=1e-9, atol=1e-12,
))
register(Exercise(
    id="05.3", title="the width rule of the Morlet bank", reference=_width_reference, cases=_width_cases,
    level="hard",
    hints=("at which frequency f* do the two neighbouring Gaussians both equal r?",
           "at the crossing f*, (xi - f*) / sigma = (f* - xi') / sigma' = sqrt(2 ln(1/r)); add the two distances",
           "with xi' = xi 2^(-1/Q) and sigma' = sigma 2^(-1/Q): xi - xi' = sqrt(2 ln(1/r)) (sigma + sigma'), so "
           "sigma = xi (1 - 2^(-1/Q)) / (1 + 2^(-1/Q)) / sqrt(2 ln(1/r))"),
    rtol=1e-12, atol=0.0,
))
register(Exercise(
    id="05.4", title="relative change under a shift", reference=_shift_sensitivity_reference, cases=_transform_cases,
    level="easy",
    hints=("transform both the signal and its rolled copy; which torch function shifts circularly?",
           "||T(roll(x, shift)) - T(x)|| / ||T(x)|| with torch.roll(x, shift, dims=-1) and the Euclidean norm of "
           "all entries; return a Python float"),
    rtol=1e-9, atol=1e-12,
))
register(Exercise(
    id="05.5", title="rectifiers averaged over phases", reference=relu_phase_average, cases=_phase_cases,
    level="research",
    hints=("put the P phases on a new last axis, so that one broadcast multiplication rotates z by every alpha_k",
           "alpha_k = 2 pi k / P; compute ReLU(Re(exp(-i alpha_k) z)) for every k (a new last axis) and average "
           "over that axis; the output has the shape of z and is real"),
    rtol=1e-9, atol=1e-12,
))
