"""Exercises of chapter 05 (scattering transforms)."""

from __future__ import annotations

import torch

from harmonia.course.demos.scattering import first_order_full_rate, relative_change, relu_phase_average
from harmonia.course.exercises import Exercise, register
from harmonia.filters.morlet1d import morlet_1d_hat

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


def _first_order_cases(gen: torch.Generator):
    cases = []
    for batch in [(), (3,)]:
        N = 128
        x = torch.randn(*batch, N, generator=gen, dtype=F64)
        xis = [0.35 / 2**k for k in range(3)]
        psi = torch.stack([morlet_1d_hat(N, xi, 0.4 * xi) for xi in xis])
        f = torch.fft.fftfreq(N, dtype=F64)
        phi = torch.exp(-(f**2) / (2 * 0.02**2))
        cases.append(((x, psi, phi), {}))
    return cases


def _first_order_reference(x, psi_hat, phi_hat):
    return first_order_full_rate(x, psi_hat, phi_hat)


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
    hint="1 low-pass + J L first-order paths + second-order paths (j1 < j2, any two orientations): "
         "L^2 times the number of pairs j1 < j2, which is J(J-1)/2",
))
register(Exercise(
    id="05.2", title="a 1D Morlet filter in Fourier", reference=morlet_1d_hat, cases=_morlet_cases,
    hint="evaluate the Gaussians g(f - xi) and g(f) on f = m/N for m in [(1-P)N, PN) with "
         "P = min(ceil(sqrt(-2 sigma^2 ln 1e-7) + 1), 5), average the 2P-1 blocks of length N, subtract "
         "kappa * (periodised g) with kappa making the value at f = 0 vanish, then divide by sum_t |psi[t]| "
         "(the L1 norm of the inverse DFT)",
    rtol=1e-9, atol=1e-12,
))
register(Exercise(
    id="05.3", title="first-order scattering by hand", reference=_first_order_reference, cases=_first_order_cases,
    hint="FFT x along the last axis, multiply by each psi_hat (add a filter axis before the time axis), inverse "
         "FFT, take the modulus, FFT again, multiply by phi_hat, inverse FFT and keep the real part",
    rtol=1e-9, atol=1e-12,
))
register(Exercise(
    id="05.4", title="relative change under a shift", reference=_shift_sensitivity_reference, cases=_transform_cases,
    hint="||T(roll(x, shift)) - T(x)|| / ||T(x)|| with torch.roll(x, shift, dims=-1) and the Euclidean norm of "
         "all entries; return a Python float",
    rtol=1e-9, atol=1e-12,
))
register(Exercise(
    id="05.5", title="rectifiers averaged over phases", reference=relu_phase_average, cases=_phase_cases,
    hint="alpha_k = 2 pi k / P; compute ReLU(Re(exp(-i alpha_k) z)) for every k (a new last axis) and average "
         "over that axis; the output has the shape of z and is real",
    rtol=1e-9, atol=1e-12,
))
