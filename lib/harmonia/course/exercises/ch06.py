"""Exercises of chapter 06 (phase harmonics)."""

from __future__ import annotations

import cmath
from typing import Any

import torch

from harmonia.course.exercises import Exercise, register
from harmonia.phase_harmonics import phase_filter_distance_ratio, phase_harmonic, rectifier_fourier_coeff

C128 = torch.complex128

KINDS = ("dirac", "negative dirac", "up-jump", "down-jump")


def alignment_phase(kind: str, dj: int) -> complex:
    """Reference of 06.4: :math:`e^{i\\arg C(j,1,j+\\Delta_j,2^{\\Delta_j})}` for an isolated singularity.

    A Dirac of amplitude :math:`a` gives :math:`z_j\\propto a` and :math:`[z_{j'}]^{k'}\\propto|a|\\,\\mathrm{sign}(a)^{k'}`,
    so :math:`C\\propto\\mathrm{sign}(a)^{1+k'}`. A jump is the primitive of a Dirac: each analytic wavelet
    coefficient picks up the factor :math:`1/(i\\omega)`, i.e. :math:`-i`, so
    :math:`C\\propto(-i)\\,\\overline{(-i)^{k'}}=-i\\cdot i^{k'}` (times the jump's sign to the power :math:`1+k'`).
    """
    k2 = 2**dj
    sign = -1 if kind in ("negative dirac", "down-jump") else 1
    base = 1 if kind in ("dirac", "negative dirac") else -1j * 1j**k2
    return complex(sign ** (1 + k2) * base)


def sign_invariant(k1: int, k2: int) -> bool:
    """Reference of 06.5: :math:`C(\\lambda,k_1,\\lambda',k_2)` of :math:`-x` is :math:`(-1)^{k_1+k_2}` times that of
    :math:`x` (:math:`[-z]^k=(-1)^k[z]^k`), so it is invariant iff :math:`k_1+k_2` is even."""
    return (k1 + k2) % 2 == 0


def _harmonic_cases(gen: torch.Generator):
    cases = []
    for k in (0, 2, 3, int(torch.randint(4, 9, (1,), generator=gen))):
        z = torch.randn(3, 5, generator=gen, dtype=C128)
        z[0, 0] = 0  # the zero coefficient: [0]^k = 0
        cases.append(((z, k), {}))
    return cases


def _gamma_cases(gen: torch.Generator):
    k = torch.randperm(12, generator=gen)[:6]
    slope = float(torch.empty(()).uniform_(-0.9, 0.9, generator=gen))
    return [((k.clone(), 0.0), {}), ((k.clone(), -1.0), {}), ((torch.arange(0, 9), slope), {}),
            ((k.clone(), 0.1), {})]


def _gamma_reference(k, slope):
    """Reference of 06.2: the leaky ReLU :math:`\\rho_s(a)=\\max(a,0)+s\\min(a,0)=\\rho(a)-s\\rho(-a)`, and
    :math:`\\rho(-\\cos\\alpha)=\\rho(\\cos(\\alpha+\\pi))` shifts the window by :math:`\\pi`, which multiplies
    :math:`\\hat\\gamma(k)` by :math:`(-1)^k`: :math:`\\hat\\gamma_s(k)=(1-s(-1)^k)\\,\\hat\\gamma(k)`."""
    k = torch.as_tensor(k)
    sign = 1.0 - 2.0 * (k.abs() % 2).to(torch.float64)
    return (1 - slope * sign) * rectifier_fourier_coeff(k, "relu")


def _ratio_cases(gen: torch.Generator):
    cases = []
    for _ in range(3):
        z1 = torch.randn(20, generator=gen, dtype=C128)
        z2 = torch.randn(20, generator=gen, dtype=C128)
        cases.append(((z1, z2, 512), {}))
    z = torch.randn(10, generator=gen, dtype=C128)
    cases.append(((z, -z, 512), {}))
    return cases


def _phase_cases(gen: torch.Generator):
    return [((kind, int(torch.randint(1, 4, (1,), generator=gen))), {}) for kind in KINDS]


def _phase_compare(got: Any, expected: complex, args, kwargs) -> str | None:
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if not isinstance(got, (complex, float, int)) or isinstance(got, bool):
        return f"the answer: expected a complex number e^(i arg C), got {type(got).__name__}"
    if abs(abs(got) - 1) > 1e-6:
        return f"the answer: expected a unit complex number, got modulus {abs(got):.3g}"
    gap = abs(cmath.phase(complex(got) / expected))
    return None if gap <= 0.2 else f"the answer: phase off by {gap:.2f} rad for {args[0]!r}, dj={args[1]}"


def _sign_cases(gen: torch.Generator):
    return [((int(a), int(b)), {}) for a, b in torch.randint(0, 9, (8, 2), generator=gen)]


register(Exercise(
    id="06.1", title="phase harmonics without atan2", reference=phase_harmonic, cases=_harmonic_cases,
    level="easy", hints=(
        "z^k has modulus |z|^k and phase k arg z: what must you divide by to bring the modulus back to |z|?",
        "k = 0 is the special case |z|; what should happen where z = 0?",
        "for k >= 1, [z]^k = z^k / |z|^(k-1); for k = 0 it is |z| (as a complex tensor); where z = 0 return 0 "
         "(use torch.where so no 0/0 appears)",
    ),
    rtol=1e-10, atol=1e-12,
))
register(Exercise(
    id="06.2", title="Fourier coefficients of a leaky ReLU along the phase", reference=_gamma_reference, cases=_gamma_cases,
    level="easy", hints=(
        "gamma(k) is an integral over one period: would a Riemann sum on a fine regular grid of alpha do?",
        "rho_s(a) = max(a, 0) + slope * min(a, 0); the window rho_s(cos alpha) is real and even, so only "
        "cos(k alpha) survives",
        "sample alpha on a fine grid of [0, 2 pi), compute w = relu(cos alpha) + slope * min(cos alpha, 0) and "
        "average w * cos(k alpha) over the grid; return a float64 tensor shaped like k (the closed form is "
        "(1 - slope (-1)^k) times the ReLU's gamma(k), since rho_s(a) = rho(a) - slope rho(-a))",
    ),
    rtol=0, atol=1e-6,
))
register(Exercise(
    id="06.3", title="the bi-Lipschitz ratio by hand", reference=phase_filter_distance_ratio, cases=_ratio_cases,
    level="medium", hints=(
        "broadcast: put the n_alpha phases on a new last axis of z1 and z2",
        "alpha_a = 2 pi a / n_alpha; U(z) = relu(Re(exp(-i alpha) z)) on a new last axis; return "
         "mean_a (U(z1) - U(z2))^2 / |z1 - z2|^2, a real tensor shaped like z1",
    ),
    rtol=1e-9, atol=1e-12,
))
register(Exercise(
    id="06.4", title="predict the phase of C(j,1,j+dj,2^dj)", reference=alignment_phase, cases=_phase_cases,
    level="medium", hints=(
        "what is the phase of x * psi_j at the singularity for a Dirac, and what does integrating (a jump) do "
        "to every Fourier coefficient?",
        "a Dirac of amplitude a gives C ~ sign(a)^(1+k'); a jump is the integral of a Dirac, so every analytic "
         "wavelet coefficient is multiplied by 1/(i omega): the phase factor -i, raised to k' in the second field",
    ),
    compare=_phase_compare,
))
register(Exercise(
    id="06.5", title="which moments survive x -> -x", reference=sign_invariant, cases=_sign_cases,
    level="hard", hints=(
        "what happens to the phase of z when z becomes -z, and so to [z]^k?",
        "[-z]^k = (-1)^k [z]^k, and the second factor is conjugated, so C(-x) = (-1)^(k1 + k2) C(x)",
    ),
))
