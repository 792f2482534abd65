"""Gaussian maximum-entropy model A (Zhang & Mallat 2021) of harmonia.maxent: random-phase surrogate,
the wavelet constraints (counts, meaning as auto-correlations, redundancy), the Newton solution of
the dual (KKT, positivity, symmetry, strong duality, entropy optimality, invariances, recovery of a
spectrum of the model's form), Gaussian sampling, and argument validation."""

from __future__ import annotations

import math

import pytest
import torch

from harmonia.filters.bump import filter_bank_bump_2d
from harmonia.maxent import (
    gaussian_maxent_spectrum,
    maxent_constraints,
    maxent_shifts,
    random_phase_surrogate,
    sample_gaussian,
)

F64 = torch.float64


def _mirror(a: torch.Tensor) -> torch.Tensor:
    """a(-omega) in FFT order (last two dims)."""
    return torch.roll(torch.flip(a, dims=(-2, -1)), shifts=(1, 1), dims=(-2, -1))


def _kurtosis(x: torch.Tensor) -> torch.Tensor:
    c = x - x.mean(dim=(-2, -1), keepdim=True)
    return c.pow(4).mean(dim=(-2, -1)) / c.square().mean(dim=(-2, -1)).square()


def _periodogram(x: torch.Tensor) -> torch.Tensor:
    M, N = x.shape[-2:]
    return torch.fft.fft2(x).abs().square().reshape(-1, M, N).mean(dim=0) / (M * N)


def _red_spectrum(M: int, N: int, k0: float) -> torch.Tensor:
    """k^2 exp(-(k/k0)^2), k the integer wavenumber: a turbulence-like spectrum (even)."""
    ky = torch.fft.fftfreq(M, d=1.0 / M, dtype=F64)[:, None]
    kx = torch.fft.fftfreq(N, d=1.0 / N, dtype=F64)[None, :]
    k2 = ky**2 + kx**2
    return k2 * torch.exp(-k2 / k0**2)


def _rel_residual(P_hat: torch.Tensor, x: torch.Tensor, J: int, L: int, delta: int) -> float:
    """max_m |F P_hat - F P_bar|_m / (energy of row m's filter), from scratch."""
    M, N = x.shape[-2:]
    c = maxent_constraints(M, N, J, L, delta)
    F = c["F"].reshape(c["n_constraints"], -1)
    Y = F @ _periodogram(x).reshape(-1)
    E = Y[: c["n_energy"]][c["filter"]]
    return float(((F @ P_hat.reshape(-1) - Y) / E).abs().max())


# ------------------------------------------------------------------------------ shared solutions
@pytest.fixture(scope="module")
def red32():
    """A Gaussian field with a red spectrum on 32 x 32 and its model-A spectrum (J=3, L=4, delta=2)."""
    x = sample_gaussian(_red_spectrum(32, 32, 5.0), 1, seed=3)[0]
    P_hat, info = gaussian_maxent_spectrum(x, 3, 4, 2)
    return x, P_hat, info


# ------------------------------------------------------------------------------ random-phase surrogate
def test_surrogate_keeps_modulus_and_mean_and_is_real(seeded):
    x = torch.randn(3, 32, 48, generator=seeded(0), dtype=F64).cumsum(dim=-1) + 2.0
    y = random_phase_surrogate(x, seed=1)
    assert y.shape == x.shape and y.dtype == F64 and not y.is_complex()
    xh, yh = torch.fft.fft2(x), torch.fft.fft2(y)
    assert torch.allclose(yh.abs(), xh.abs(), rtol=0, atol=1e-10)
    assert torch.allclose(y.mean(dim=(-2, -1)), x.mean(dim=(-2, -1)), rtol=0, atol=1e-12)
    # the phases did change (away from omega = 0)
    assert float((yh - xh).abs()[..., 1:, 1:].max()) > 1.0


def test_surrogate_seeding_and_float32(seeded):
    x = torch.randn(16, 16, generator=seeded(1))
    a, b, c = random_phase_surrogate(x, seed=5), random_phase_surrogate(x, seed=5), random_phase_surrogate(x, 6)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert torch.equal(random_phase_surrogate(x, seed=seeded(5)), a)  # a generator seeded alike
    assert a.dtype == torch.float32
    assert torch.allclose(torch.fft.fft2(a).abs(), torch.fft.fft2(x).abs(), rtol=1e-4, atol=1e-4)


def test_surrogate_batch_elements_get_independent_phases(seeded):
    a = torch.randn(64, 64, generator=seeded(2), dtype=F64)
    y = random_phase_surrogate(torch.stack([a, a]), seed=0)
    assert torch.allclose(torch.fft.fft2(y[0]).abs(), torch.fft.fft2(a).abs(), atol=1e-10)
    assert torch.allclose(torch.fft.fft2(y[1]).abs(), torch.fft.fft2(a).abs(), atol=1e-10)
    u, v = y[0] - y[0].mean(), y[1] - y[1].mean()
    corr = float((u * v).sum() / (u.norm() * v.norm()))
    assert abs(corr) < 0.1  # independent: ~N(0, 1/64)


def test_surrogate_of_a_sparse_field_is_gaussian(seeded):
    x = torch.zeros(64, 64, dtype=F64)
    g = seeded(7)
    idx = torch.randperm(64 * 64, generator=g)[:40]
    x.view(-1)[idx] = torch.randn(40, generator=g, dtype=F64).sign() * (1 + torch.rand(40, generator=g, dtype=F64))
    assert float(_kurtosis(x)) > 50
    y = random_phase_surrogate(x.expand(10, 64, 64), seed=11)
    assert abs(float(_kurtosis(y).mean()) - 3.0) < 0.3


# ------------------------------------------------------------------------------ constraints
def test_constraint_counts():
    c = maxent_constraints(32, 32, 5, 8, 2)  # the paper's J, L, delta on a small grid
    assert c["n_constraints"] == 2335 == c["F"].shape[0] and c["F"].shape == (2335, 32, 32)
    assert c["n_energy"] == 81 and len(c["shifts"]) == 14
    assert [c["kind"].count(k) for k in ("energy", "cos", "sin")] == [81, 14 + 80 * 14, 80 * 14]
    assert maxent_constraints(32, 32, 4, 4, 2)["n_constraints"] == 943
    assert maxent_constraints(32, 32, 4, 4, 2, shifts="unique")["n_constraints"] == 1 + 32 + 12 * (1 + 64)
    assert maxent_shifts(2) == [(0, -2), (0, -1), (0, 1), (0, 2)] + [(a, b) for a in (1, 2) for b in range(-2, 3)]
    assert maxent_shifts(1, "unique") == [(0, 1), (1, -1), (1, 0), (1, 1)]
    assert maxent_shifts(0) == [] and maxent_constraints(16, 16, 2, 2, 0)["n_constraints"] == 9


def test_constraints_are_wavelet_autocorrelations(seeded):
    """sum_omega P_bar F = sum_u z(u + 2^j n) conj(z(u)), z = x * psi_{j,l}: Re for cos rows, Im for sin rows."""
    M, N, J, L = 24, 32, 3, 2
    x = torch.randn(M, N, generator=seeded(4), dtype=F64)
    c = maxent_constraints(M, N, J, L, 2)
    Y = c["F"].reshape(c["n_constraints"], -1) @ _periodogram(x).reshape(-1)
    bank = filter_bank_bump_2d(M, N, J, L)
    xh = torch.fft.fft2(x)
    for r in range(c["n_constraints"]):
        f, j = int(c["filter"][r]), int(c["j"][r])
        filt = bank["phi"] if f == 0 else bank["psi"][j, int(c["l"][r])]
        z = torch.fft.ifft2(xh * filt)
        scale = 2 ** (J - 1) if f == 0 else 2**j
        ny, nx = (scale * int(v) for v in c["shift"][r])
        corr = (torch.roll(z, shifts=(-ny, -nx), dims=(0, 1)) * z.conj()).sum()
        want = corr.imag if c["kind"][r] == "sin" else corr.real
        assert abs(float(Y[r] - want)) < 1e-9 * float(Y[f]), (r, c["kind"][r], f, j, ny, nx)


def test_authors_shifts_duplicate_rows():
    c = maxent_constraints(32, 32, 3, 2, 2)
    F, kind, filt, shift = c["F"], c["kind"], c["filter"].tolist(), [tuple(s) for s in c["shift"].tolist()]
    row = {(k, f, s): r for r, (k, f, s) in enumerate(zip(kind, filt, shift))}
    for f in range(1, 13):
        for nx in (1, 2):
            assert torch.equal(F[row["cos", f, (0, nx)]], F[row["cos", f, (0, -nx)]])
            assert torch.equal(F[row["sin", f, (0, nx)]], -F[row["sin", f, (0, -nx)]])


# ------------------------------------------------------------------------------ the max-ent spectrum
def test_maxent_kkt_positivity_symmetry_and_duality(red32):
    x, P_hat, info = red32
    assert info["converged"] and info["residual"] < 1e-8
    assert _rel_residual(P_hat, x, 3, 4, 2) < 1e-6  # F P_hat = Y from scratch
    assert P_hat.shape == (32, 32) and P_hat.dtype == F64 and bool((P_hat > 0).all())
    assert torch.equal(P_hat, _mirror(P_hat))
    # P_hat = 1 / F^T beta with the returned coefficients of the raw features
    c = maxent_constraints(32, 32, 3, 4, 2)
    A = torch.einsum("m,mab->ab", info["beta"], c["F"])
    assert torch.allclose(1.0 / A, P_hat, rtol=1e-5, atol=0)  # beta is large: cancellation in F^T beta
    # the dual decreases, and strong duality: g(beta*) = (sum log P_hat + MN) / 2
    g = torch.tensor(info["dual"], dtype=F64)
    assert bool((g[1:] <= g[:-1] + 1e-9 * g.abs().max()).all())
    assert math.isclose(info["dual"][-1], 0.5 * (float(P_hat.log().sum()) + 32 * 32), rel_tol=1e-8)
    assert info["n_constraints"] == 1 + 24 + 14 * (1 + 48) and info["rank"] <= info["n_distinct"]


def test_maxent_has_more_entropy_than_feasible_alternatives(red32, seeded):
    x, P_hat, info = red32
    P_bar = _periodogram(x)  # feasible (it defines Y) and > 0 for a Gaussian sample
    assert bool((P_bar > 0).all())
    gap = float(P_hat.log().sum() - P_bar.log().sum())
    assert gap > 0.3 * 32 * 32  # E log of an exponential variable is -0.577: a large, sure gap
    # moving along the null space of F (P_hat + t v stays feasible) only lowers the entropy
    c = maxent_constraints(32, 32, 3, 4, 2)
    F = c["F"].reshape(c["n_constraints"], -1)
    v = torch.randn(32 * 32, generator=seeded(8), dtype=F64)
    v = 0.5 * (v + _mirror(v.reshape(32, 32)).reshape(-1))
    v = v - torch.linalg.pinv(F, rtol=1e-12) @ (F @ v)
    assert float((F @ v).abs().max()) < 1e-9 * float(v.abs().max())
    v = v / float((v / P_hat.reshape(-1)).abs().max())  # |t v| < P_hat for |t| < 1
    H0 = float(P_hat.log().sum())
    assert abs(float((v / P_hat.reshape(-1)).sum())) < 1e-5 * 32 * 32  # stationarity: 1/P_hat is in F's row space
    for t in (-0.3, -0.03, 0.03, 0.3):
        assert float((P_hat.reshape(-1) + t * v).log().sum()) < H0


def test_maxent_invariant_to_normalisation_start_and_duplicate_shifts(red32):
    x, P_hat, _ = red32
    for kwargs in ({"normalize": "none"}, {"start": "authors"}, {"shifts": "unique"}):
        P2, info2 = gaussian_maxent_spectrum(x, 3, 4, 2, **kwargs)
        assert info2["converged"], kwargs
        assert torch.allclose(P2, P_hat, rtol=1e-6, atol=0), kwargs


def test_maxent_scaling_covariance_and_batch_pooling(red32):
    x, P_hat, _ = red32
    P3, _ = gaussian_maxent_spectrum(3.0 * x, 3, 4, 2)
    assert torch.allclose(P3, 9.0 * P_hat, rtol=1e-6, atol=0)
    # a batch pools periodograms; a circular shift does not change the periodogram
    Pb, _ = gaussian_maxent_spectrum(torch.stack([x, torch.roll(x, (5, -3), (0, 1))]), 3, 4, 2)
    assert torch.allclose(Pb, P_hat, rtol=1e-6, atol=0)
    P32, _ = gaussian_maxent_spectrum(x.float(), 3, 4, 2)
    assert P32.dtype == torch.float32 and torch.allclose(P32.double(), P_hat, rtol=1e-4, atol=0)


def test_maxent_recovers_a_spectrum_of_its_own_form(seeded):
    """If the periodogram is exactly 1 / F^T beta, the maximum-entropy spectrum is that spectrum."""
    M = N = 32
    c = maxent_constraints(M, N, 3, 2, 1)
    g = seeded(9)
    beta = torch.zeros(c["n_constraints"], dtype=F64)
    beta[: c["n_energy"]] = 1.0 + torch.rand(c["n_energy"], generator=g, dtype=F64)
    beta[c["n_energy"]:] = 0.1 * torch.randn(c["n_constraints"] - c["n_energy"], generator=g, dtype=F64)
    A = torch.einsum("m,mab->ab", beta, c["F"])
    A = 0.5 * (A + _mirror(A))  # even (still of the form F^T beta', see gaussian_maxent_spectrum)
    assert bool((A > 0).all())
    P_true = 1.0 / A
    # a real field with exactly this periodogram: modulus sqrt(MN P), the phases of real noise
    wh = torch.fft.fft2(torch.randn(M, N, generator=g, dtype=F64))
    x = torch.fft.ifft2(wh / wh.abs() * torch.sqrt(M * N * P_true)).real
    P_hat, info = gaussian_maxent_spectrum(x, 3, 2, 1, floor=0.0)
    assert info["converged"]
    assert torch.allclose(P_hat, P_true, rtol=1e-6, atol=0)


def test_maxent_943_constraints_on_a_turbulence_like_field():
    x = sample_gaussian(_red_spectrum(64, 64, 8.0), 1, seed=0)[0]
    P_hat, info = gaussian_maxent_spectrum(x, 4, 4, 2)
    assert info["n_constraints"] == 943 and info["n_distinct"] == 413
    assert info["converged"] and info["n_iter"] <= 60
    assert _rel_residual(P_hat, x, 4, 4, 2) < 1e-6
    assert bool((P_hat > 0).all()) and torch.equal(P_hat, _mirror(P_hat))


def test_maxent_rejects_a_field_without_energy_in_a_band():
    with pytest.raises(ValueError, match="^x: expected a periodogram with energy"):
        gaussian_maxent_spectrum(torch.full((16, 16), 2.0, dtype=F64), 2, 2, 1, floor=0.0)


# ------------------------------------------------------------------------------ Gaussian sampling
def test_sample_gaussian_has_the_requested_spectrum():
    P = _red_spectrum(16, 16, 4.0) + 0.1
    x = sample_gaussian(P, 800, seed=0)
    assert x.shape == (800, 16, 16) and x.dtype == F64 and not x.is_complex()
    ratio = (torch.fft.fft2(x).abs().square() / 256).mean(dim=0) / P
    # each frequency: a mean of 800 exponential (chi2_1 at the 4 self-conjugate ones) variables
    assert float((ratio - 1).abs().max()) < 0.25  # > 5 standard deviations
    assert abs(float(ratio.mean()) - 1) < 0.02
    assert float(x.mean(dim=(-2, -1)).var()) == pytest.approx(float(P[0, 0]) / 256, rel=0.25)


def test_sample_gaussian_seeding_dtype_and_zeros():
    P = torch.zeros(8, 12)
    P[1, 2] = P[-1, -2] = 1.0
    a, b, c = sample_gaussian(P, 3, seed=1), sample_gaussian(P, 3, seed=1), sample_gaussian(P, 3, seed=2)
    assert torch.equal(a, b) and not torch.allclose(a, c) and a.dtype == torch.float32
    # a single Fourier pair: each sample is one cosine wave
    power = torch.fft.fft2(a.double()).abs().square()
    assert float(power[:, 1, 2].min()) > 0 and float(power.sum() - 2 * power[:, 1, 2].sum()) < 1e-6 * float(power.sum())


def test_sample_gaussian_rejects_bad_spectra():
    P = torch.ones(8, 8, dtype=F64)
    P[1, 2] = 2.0  # P(-omega) = P[7, 6] = 1
    with pytest.raises(ValueError, match="^P: expected an even spectrum"):
        sample_gaussian(P, 1)
    with pytest.raises(ValueError, match="^P: expected a non-negative"):
        sample_gaussian(-torch.ones(8, 8), 1)
    with pytest.raises(TypeError, match="^P:"):
        sample_gaussian(torch.ones(8, 8, dtype=torch.complex128), 1)
    with pytest.raises(ValueError, match="^P:"):
        sample_gaussian(torch.ones(8), 1)
    with pytest.raises(ValueError, match="^n:"):
        sample_gaussian(torch.ones(8, 8), 0)
    with pytest.raises(TypeError, match="^n:"):
        sample_gaussian(torch.ones(8, 8), 1.5)


# ------------------------------------------------------------------------------ bad inputs
def test_bad_inputs_name_the_argument():
    x = torch.randn(16, 16, dtype=F64)
    with pytest.raises(TypeError, match="^x:"):
        random_phase_surrogate(torch.ones(8, 8, dtype=torch.complex128))
    with pytest.raises(ValueError, match="^x:"):
        random_phase_surrogate(torch.ones(8))
    with pytest.raises(ValueError, match="^seed:"):
        random_phase_surrogate(x, seed=-1)
    with pytest.raises(TypeError, match="^x:"):
        gaussian_maxent_spectrum(x.to(torch.complex128), 2, 2)
    with pytest.raises(ValueError, match="^x:"):
        gaussian_maxent_spectrum(torch.ones(16, dtype=F64), 2, 2)
    with pytest.raises(ValueError, match="^x:"):
        gaussian_maxent_spectrum(x.expand(2, 2, 16, 16), 2, 2)
    with pytest.raises(ValueError, match="^J:"):
        gaussian_maxent_spectrum(x, 5, 2)
    with pytest.raises(ValueError, match="^delta:"):
        gaussian_maxent_spectrum(x, 2, 2, -1)
    for kwargs, name in (({"shifts": "all"}, "shifts"), ({"normalize": "max"}, "normalize"),
                         ({"start": 1}, "start"), ({"tol": 0.0}, "tol"), ({"max_iter": 0}, "max_iter"),
                         ({"floor": -1.0}, "floor")):
        with pytest.raises(ValueError, match=f"^{name}:"):
            gaussian_maxent_spectrum(x, 2, 2, **kwargs)
    with pytest.raises(ValueError, match="^J:"):
        maxent_constraints(16, 16, 5, 2)
    with pytest.raises(ValueError, match="^delta:"):
        maxent_constraints(16, 16, 2, 2, -2)
    with pytest.raises(ValueError, match="^dtype:"):
        maxent_constraints(16, 16, 2, 2, dtype=torch.int64)


def test_maxent_warns_when_not_converged(red32):
    x = red32[0]
    with pytest.warns(RuntimeWarning, match="residual"):
        _, info = gaussian_maxent_spectrum(x, 3, 4, 2, max_iter=1)
    assert not info["converged"] and info["n_iter"] == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_follows_the_input_device(red32):
    x, P_hat, _ = red32
    P_gpu, info = gaussian_maxent_spectrum(x.cuda(), 3, 4, 2)
    assert P_gpu.device.type == "cuda" and info["converged"]
    assert torch.allclose(P_gpu.cpu(), P_hat, rtol=1e-6, atol=0)
    y = random_phase_surrogate(x.cuda(), seed=3)
    assert y.device.type == "cuda" and torch.allclose(y.cpu(), random_phase_surrogate(x, seed=3), atol=1e-10)
    s = sample_gaussian(P_hat.cuda(), 2, seed=4)
    assert s.device.type == "cuda" and torch.allclose(s.cpu(), sample_gaussian(P_hat, 2, seed=4), atol=1e-10)


_PORTABLE_FIT = """
import warnings
import torch
from harmonia.data.turbulence import load_turbulence
from harmonia.maxent import gaussian_maxent_spectrum

warnings.simplefilter("error")  # a non-convergence warning fails the run
assert torch.backends.cpu.get_cpu_capability() == "DEFAULT", torch.backends.cpu.get_cpu_capability()
x = load_turbulence()["fields"][0].double()
_, info = gaussian_maxent_spectrum(x, 4, 4, delta=2)
print(info["converged"], info["residual"], info["rank"])
"""


def test_maxent_converges_on_portable_cpu_kernels():
    """Chapter 07's fit (943 constraints, rank 379 on the committed 64 x 64 vorticity field) with torch's
    portable kernels and one thread, as another CPU would run it: it converges without a warning.
    (Before the dual was evaluated from A alone, the line search stalled at residual 2e-7 there.)"""
    import os
    import subprocess
    import sys

    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", _PORTABLE_FIT], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    converged, residual, rank = proc.stdout.split()
    assert converged == "True" and float(residual) < 1e-8 and rank == "379", proc.stdout


def test_maxent_on_an_image_constant_along_its_rows():
    """An image whose rows are all equal has a periodogram that vanishes off the row ky = 0; floored, it spans
    twenty decades, and the start G^T gamma, rounded in the row-space coordinates, went negative: the dual was
    NaN and P_hat negative. The solver then starts from F^T beta itself and converges to a positive spectrum."""
    import warnings

    from harmonia.maxent import gaussian_maxent_spectrum

    x = torch.randn(8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)[:1].expand(8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P_hat, info = gaussian_maxent_spectrum(x, 2, 2)
    assert all(math.isfinite(g) for g in info["dual"])
    assert info["converged"] and bool((P_hat > 0).all())
    assert all(b <= a + 1e-9 * abs(a) for a, b in zip(info["dual"], info["dual"][1:]))  # a descent
