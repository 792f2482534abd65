"""Exercises of chapter 07 (maximum-entropy models of turbulence)."""

from __future__ import annotations

import torch

from harmonia.course.exercises import Exercise, register
from harmonia.metrics import kurtosis, max_normalized_crosscorr, radial_power_spectrum
from harmonia.phase_harmonics import phase_harmonic
from harmonia.wph import model_B, model_C, model_D

F64 = torch.float64


def fourier_phase_corr(X: torch.Tensor, w1: int, k1: int, w2: int, k2: int) -> torch.Tensor:
    """Reference of 07.1: the normalised covariance over a batch ``X`` (n, N) of
    :math:`A=[\\hat X(\\omega_1)]^{k_1}` and :math:`B=[\\hat X(\\omega_2)]^{k_2}`,
    :math:`\\widehat{\\mathrm{Cov}}(A,B)/\\sqrt{\\widehat{\\mathrm{Var}}A\\,\\widehat{\\mathrm{Var}}B}` (a complex 0-d tensor)."""
    Xh = torch.fft.fft(X.to(F64), dim=-1)
    a = phase_harmonic(Xh[:, w1], k1)
    b = phase_harmonic(Xh[:, w2], k2)
    a, b = a - a.mean(), b - b.mean()
    return (a * b.conj()).mean() / torch.sqrt((a.abs() ** 2).mean() * (b.abs() ** 2).mean())


def count_moments(model: str, J: int, L: int, dj: int, dl: int, dn: int) -> int:
    """Reference of 07.3: the library's count (paper's convention) of model B, C or D."""
    if model == "B":
        index = model_B(J, L, dl, dn)
    elif model == "C":
        index = model_C(J, L, dj, dl, 0, dn)
    else:
        index = model_D(J, L, dj)
    return index.count_real("zhang-mallat-2021")


def _corr_cases(gen: torch.Generator):
    N, n = 32, 400
    diracs = torch.zeros(n, N, dtype=F64)
    diracs[torch.arange(n), torch.randint(0, N, (n,), generator=gen)] = 1.0
    noise = torch.randn(n, N, generator=gen, dtype=F64)
    w = int(torch.randint(1, 8, (1,), generator=gen))
    return [((diracs, w, 2, 2 * w, 1), {}), ((diracs, w, 1, w + 3, 1), {}), ((noise, w, 2, 2 * w, 1), {}),
            ((noise, w, 1, w, 1), {}), ((noise, w + 1, 0, w + 1, 0), {})]


def _kurtosis_cases(gen: torch.Generator):
    return [((torch.randn(3, 16, 16, generator=gen, dtype=F64) ** 3,), {}),
            ((torch.rand(16, 24, generator=gen, dtype=F64),), {}),
            ((torch.randn(2, 2, 8, 8, generator=gen, dtype=F64).exp(),), {})]


def _kurtosis_reference(x: torch.Tensor) -> torch.Tensor:
    return kurtosis(x, dims=(-2, -1))


def _count_cases(gen: torch.Generator):
    cases = []
    for model in ("B", "C", "D", "C"):
        J = int(torch.randint(2, 6, (1,), generator=gen))
        L = int(torch.randint(2, 7, (1,), generator=gen))
        dl = int(torch.randint(0, L, (1,), generator=gen))
        dn = int(torch.randint(0, 3, (1,), generator=gen))
        dj = int(torch.randint(1, 3, (1,), generator=gen))
        cases.append(((model, J, L, dj, dl, dn), {}))
    cases.append((("B", 5, 8, 1, 4, 2), {}))
    return cases


def _spectrum_cases(gen: torch.Generator):
    return [((torch.randn(16, 16, generator=gen, dtype=F64),), {}),
            ((torch.randn(32, 32, generator=gen, dtype=F64).cumsum(0),), {})]


def _spectrum_reference(x: torch.Tensor) -> torch.Tensor:
    return radial_power_spectrum(x)[1]


def _ncc_cases(gen: torch.Generator):
    x = torch.randn(24, 24, generator=gen, dtype=F64)
    shift = tuple(int(v) for v in torch.randint(0, 24, (2,), generator=gen))
    return [((x, torch.randn(24, 24, generator=gen, dtype=F64)), {}),
            ((x, 3 * torch.roll(x, shift, (0, 1)) + 1), {}),
            ((x, -x + 0.1 * torch.randn(24, 24, generator=gen, dtype=F64)), {})]


register(Exercise(
    id="07.1", title="phase harmonic covariance of Fourier coefficients", reference=fourier_phase_corr,
    cases=_corr_cases,
    level="easy", hints=(
        "Which Fourier coefficient of each signal do you need, and what must you subtract before averaging "
        "A conj(B) over the batch?",
        "A = [X^(w1)]^k1 for every signal of the batch: torch.fft.fft along the last dimension, then "
        "harmonia.phase_harmonics.phase_harmonic; normalise by the two standard deviations",
        "Xh = torch.fft.fft(X, dim=-1); A = [Xh[:, w1]]^k1 with harmonia.phase_harmonics.phase_harmonic; centre A "
         "and B over the batch; return mean(A conj(B)) / sqrt(mean|A|^2 mean|B|^2)"),
    rtol=1e-8, atol=1e-10,
))
register(Exercise(
    id="07.2", title="kurtosis of a field", reference=_kurtosis_reference, cases=_kurtosis_cases,
    level="easy", hints=(
        "Centre each field by its own mean: over which dimensions, and with keepdim?",
        "over the last two dimensions: m = mean, kappa = mean((x - m)^4) / mean((x - m)^2)^2; keep the other "
         "dimensions as a batch"),
    rtol=1e-9, atol=1e-12,
))
register(Exercise(
    id="07.3", title="count the moments of models B, C, D", reference=count_moments, cases=_count_cases,
    level="hard", hints=(
        "Count one scale first: how many ordered pairs (l, l') have d(l, l') <= dl, and which of the moments "
        "(1,0), (1,1), (0,0) are real numbers?",
        "(0,0) is real (1 value); (1,0) is complex (2); (1,1) is complex except for l = l' (a variance: 1). Shifts: "
        "per field and shift, k = 0 gives 1 value and k = 1 gives 2; the low-pass 1 per shift",
        "P = 2L(2dl+1) ordered orientation pairs per scale; same scale: (1,0) counts 2, (1,1) 2 except l = l' "
         "(real: 1), (0,0) 1; S = (dn+1)(2dn+1)-1 shifts, each with k=0 (1) and k=1 (2) per field, 1 for the "
         "low-pass; cross-scale pairs j < j' <= j+dj give (0,0) 1 + (0,1) 2 + (0,2) 2 + (1,2^(j'-j)) 2; D uses "
         "2L angular channels with the same q on both sides and no shifts; +1 for the low-pass energy"),
))
register(Exercise(
    id="07.4", title="radial power spectrum", reference=_spectrum_reference, cases=_spectrum_cases,
    level="medium", hints=(
        "On which integer radius does each frequency (kx, ky) fall, and how can you average per radius without a loop?",
        "P = |fft2(x)|^2 / (M N); radius r = round(sqrt(kx^2 + ky^2)) with integer frequencies "
         "(torch.fft.fftfreq(n) * n); average P over each r = 0 .. min(M, N) // 2 (bincount with weights)"),
    rtol=1e-9, atol=1e-12,
))
register(Exercise(
    id="07.5", title="non-memorisation: max normalised cross-correlation", reference=max_normalized_crosscorr,
    cases=_ncc_cases,
    level="medium", hints=(
        "The correlation for every circular shift at once is a product in Fourier space: which product?",
        "centre x and y; c(s) = sum_u x(u) y(u - s) for every circular shift s is ifft2(fft2(x) conj(fft2(y))).real; "
         "return max_s c(s) / (||x|| ||y||)"),
    rtol=1e-9, atol=1e-12,
))
