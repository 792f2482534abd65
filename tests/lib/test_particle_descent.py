"""Particle gradient descent (chapter 10, Brochard, Blaszczyszyn, Mallat, Zhang 2022): the gradient of the whole
pipeline (positions -> Gaussian rendering -> shifted WPH moments -> relative energy) against finite differences
and gradcheck in float64, the energy's invariances (integer-pixel translation, permutation of the particles), a
Parseval identity for a same-filter moment and the shift convention of the shifted copies (an autocorrelation at
lag tau), :func:`harmonia.fourier.spatial_shift` against ``torch.roll``, the moment counts of the paper notes,
and :func:`harmonia.pointprocess.particle_descent` / :func:`sigma_schedule` on a tiny problem and bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from harmonia.filters.bump import filter_bank_bump_2d
from harmonia.fourier import spatial_shift
from harmonia.pointprocess import binomial, cluster_fixed, particle_descent, render_gaussian, sigma_schedule
from harmonia.synthesis import discrepancy
from harmonia.wph import PhaseHarmonicCov, ShiftedWPH2D, point_process_moments
from harmonia.wph.index import build_index

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def _energy(x_target: torch.Tensor, N: int = 32, J: int = 2, L: int = 4, sigma: float = 1.0, **kwargs):
    """The relative energy x -> ||K(x) - K(target)||^2 / ||K(target)||^2 of the particle descent, and its operator."""
    kwargs.setdefault("std_norm", True)
    op = ShiftedWPH2D(N, N, J, L, **kwargs)
    target = op.set_target(render_gaussian(x_target, N, sigma))

    def energy(x: torch.Tensor) -> torch.Tensor:
        K = op(render_gaussian(x, N, sigma))
        return (K - target).square().sum() / target.square().sum()

    return energy, op


# ------------------------------------------------------------------------------------------------ gradients
def test_pipeline_gradient_matches_central_finite_differences():
    x_obs = cluster_fixed(20, 4, 0.08, seed=1)
    energy, _ = _energy(x_obs, N=32, J=2, L=4)
    x = binomial(20, seed=2).requires_grad_(True)
    (grad,) = torch.autograd.grad(energy(x), x)
    h = 1e-6
    fd = torch.zeros_like(grad)
    with torch.no_grad():
        for i in range(x.shape[0]):
            for a in range(2):
                e = torch.zeros_like(x)
                e[i, a] = h
                fd[i, a] = (energy(x + e) - energy(x - e)) / (2 * h)
    assert float(grad.norm()) > 0
    assert float((grad - fd).norm() / grad.norm()) < 1e-5


def test_pipeline_gradcheck_small():
    x_obs = cluster_fixed(6, 2, 0.1, seed=3)
    energy, _ = _energy(x_obs, N=16, J=2, L=2)
    x = binomial(6, seed=4).requires_grad_(True)
    assert torch.autograd.gradcheck(energy, (x,), eps=1e-6, atol=1e-7, rtol=1e-5)


# ----------------------------------------------------------------------------------------------- invariances
def test_energy_invariant_to_integer_pixel_translation_and_permutation(seeded):
    N = 32
    x_obs = cluster_fixed(20, 4, 0.08, seed=5)
    energy, op = _energy(x_obs, N=N, J=2, L=4)
    x = binomial(20, seed=6)
    K = op(render_gaussian(x, N, 1.0))
    moved = x + torch.tensor([3.0, -5.0], dtype=F64) / N
    # the rendering of the translated pattern is the rolled image, so every moment is unchanged
    torch.testing.assert_close(render_gaussian(moved, N, 1.0), torch.roll(render_gaussian(x, N, 1.0), (3, -5), (0, 1)),
                               rtol=0, atol=1e-12)
    torch.testing.assert_close(op(render_gaussian(moved, N, 1.0)), K, rtol=0, atol=1e-10)
    perm = torch.randperm(20, generator=seeded(7))
    torch.testing.assert_close(op(render_gaussian(x[perm], N, 1.0)), K, rtol=0, atol=1e-12)
    assert abs(float(energy(moved)) - float(energy(x))) < 1e-10
    # a non-integer translation does change the moments (the test above can fail)
    half = x + torch.tensor([0.5, 0.0], dtype=F64) / N
    assert float((op(render_gaussian(half, N, 1.0)) - K).abs().max()) > 1e-6


def test_energy_is_zero_at_the_observation():
    x_obs = cluster_fixed(30, 5, 0.06, seed=8)
    energy, _ = _energy(x_obs)
    assert float(energy(x_obs)) == pytest.approx(0.0, abs=1e-24)
    assert float(energy(binomial(30, seed=9))) > 1e-3


# ---------------------------------------------------------------------------------------- Parseval / shifts
def _row(op, f1: int, k1: int, f2: int, k2: int) -> int:
    ix = op.index
    ff, fk = ix.field_filter, ix.field_k
    hits = np.flatnonzero((ff[ix.row_f1] == f1) & (fk[ix.row_f1] == k1) & (ff[ix.row_f2] == f2)
                          & (fk[ix.row_f2] == k2) & (ix.row_shift == 0).all(axis=1))
    assert hits.size == 1, f"row ({f1},{k1},{f2},{k2}) found {hits.size} times"
    return int(hits[0])


def test_same_filter_moment_is_parseval_and_shifted_row_is_the_lag_tau_autocorrelation():
    N, J, L = 32, 2, 4
    img = render_gaussian(cluster_fixed(40, 5, 0.07, seed=10), N, 1.0)
    op = ShiftedWPH2D(N, N, J, L, center="none", std_norm=False)
    C, _ = op.complex_moments(img)
    img_hat = torch.fft.fft2(img)
    n_wav = J * 2 * L
    theta = filter_bank_bump_2d(N, N, J, L, full_circle=True)["theta"]
    for j, ell in [(0, 0), (1, 0), (1, L), (0, 3)]:
        f = j * 2 * L + ell
        psi_hat = op.filters_hat[f]
        parseval = float((img_hat.abs().square() * psi_hat.abs().square()).sum()) / N**4
        c = C[_row(op, f, 1, f, 1)]
        assert float(c.real) == pytest.approx(parseval, rel=1e-10) and abs(float(c.imag)) < 1e-12 * parseval
        # the shifted copy only ever comes first: (shifted f, 1, f, 1) = sum |img_hat psi_hat|^2 e^{i<w, tau>} / |Omega|^2
        tau = (2.0**j * math.sin(float(theta[ell])), 2.0**j * math.cos(float(theta[ell])))
        ramp = torch.polar(torch.ones(N, N, dtype=F64), _phase(N, tau))
        expected = (img_hat.abs().square() * psi_hat.abs().square() * ramp).sum() / N**4
        cs = C[_row(op, n_wav + f, 1, f, 1)]
        torch.testing.assert_close(cs, expected.to(cs.dtype), rtol=1e-10, atol=1e-14)
        if ell in (0, L):  # tau = (0, +-2^j): an integer lag, so the moment is mean_u z(u + tau) conj(z(u))
            z = torch.fft.ifft2(img_hat * psi_hat)
            lag = (0, -round(tau[1]))
            torch.testing.assert_close(cs, (torch.roll(z, lag, (0, 1)) * z.conj()).mean(), rtol=1e-10, atol=1e-14)
    # the modulus-one ramp: a (shifted, 1, shifted, 1) moment equals the plain (f, 1, f, 1) one
    f = 1 * 2 * L + 2
    extra = PhaseHarmonicCov(op.filters_hat, build_index([(n_wav + f, 1, n_wav + f, 1, (0, 0)), (f, 1, f, 1, (0, 0))],
                                                         [], None, {}, 2), center="none", include_means=False)
    both, _ = extra.complex_moments(img)
    torch.testing.assert_close(both[0], both[1], rtol=1e-12, atol=0)


def _phase(N: int, tau: tuple[float, float]) -> torch.Tensor:
    w = 2 * math.pi * torch.fft.fftfreq(N, dtype=F64)
    return w[:, None] * tau[0] + w[None, :] * tau[1]


def test_spatial_shift_is_a_roll_keeps_modulus_and_composes(seeded):
    h = torch.randn(3, 16, 12, generator=seeded(11), dtype=F64)
    h_hat = torch.fft.fft2(h)
    for tau in [(2, 0), (0, -3), (5, 7)]:
        out = torch.fft.ifft2(spatial_shift(h_hat, tau))
        torch.testing.assert_close(out.real, torch.roll(h, (-tau[0], -tau[1]), (-2, -1)), rtol=0, atol=1e-12)
        assert float(out.imag.abs().max()) < 1e-12
    a, b = (0.3, -1.7), (2.25, 0.6)
    sa = spatial_shift(h_hat, a)
    torch.testing.assert_close(sa.abs(), h_hat.abs(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(spatial_shift(sa, b), spatial_shift(h_hat, (a[0] + b[0], a[1] + b[1])),
                               rtol=1e-12, atol=1e-12)
    # one shift per filter, broadcast over the leading dimension
    taus = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]], dtype=F64)
    per = spatial_shift(h_hat, taus)
    for i in range(3):
        torch.testing.assert_close(per[i], spatial_shift(h_hat[i], taus[i]), rtol=0, atol=1e-12)
    # float32 in, complex64 out
    assert spatial_shift(h_hat.real.float(), (1, 1)).dtype == torch.complex64


def test_spatial_shift_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="tau"):
        spatial_shift(torch.zeros(8, 8, dtype=F64), (1.0, 2.0, 3.0))
    with pytest.raises((ValueError, TypeError), match="h_hat"):
        spatial_shift(torch.zeros(8, dtype=F64), (1.0, 2.0))


# --------------------------------------------------------------------------------------------- moment index
@pytest.mark.parametrize("J, shifted, count, families", [
    (3, True, 1681, (480, 240, 720, 240)),
    (4, True, 2561, (640, 320, 1200, 400)),
    (4, False, 1281, (320, 160, 600, 200)),
    (5, True, 3441, (800, 400, 1680, 560)),
])
def test_point_process_moment_counts_match_the_paper_notes(J, shifted, count, families):
    L = 4
    ix = point_process_moments(J, L, shifted=shifted)
    assert len(ix.row_f1) == count
    f1, f2 = ix.field_filter[ix.row_f1], ix.field_filter[ix.row_f2]
    k1, k2 = ix.field_k[ix.row_f1], ix.field_k[ix.row_f2]
    n_wav = J * 2 * L
    lp = ix.lowpass
    assert lp == (2 * n_wav if shifted else n_wav)
    wav = (f1 != lp)
    assert int((~wav).sum()) == 1 and (f2[~wav] == lp).all()
    # the shifted copies only appear as the first filter of a row; the second is always plain
    assert (f2[wav] < n_wav).all()
    assert int((f1[wav] >= n_wav).sum()) == (int(wav.sum()) // 2 if shifted else 0)
    j1, j2 = (f1[wav] % n_wav) // (2 * L), f2[wav] // (2 * L)
    l1, l2 = (f1[wav] % n_wav) % (2 * L), f2[wav] % (2 * L)
    d = np.abs(l1 - l2) % (2 * L)
    assert (np.minimum(d, 2 * L - d) <= L // 2).all()
    same = j1 == j2
    a = same & (k1[wav] == 1)
    b = same & (k1[wav] == 0)
    c = ~same & (k1[wav] == 0)
    dd = ~same & (k1[wav] == 1)
    assert (int(a.sum()), int(b.sum()), int(c.sum()), int(dd.sum())) == families
    assert (k2[wav][dd] == 2 ** (j2[dd] - j1[dd])).all() and (j2 > j1)[~same].all() and (j2 - j1 <= 2).all()
    assert (ix.row_shift == 0).all()


def test_shifted_filters_are_plain_filters_times_a_unit_ramp():
    N, J, L = 32, 2, 4
    n_wav = J * 2 * L
    op = ShiftedWPH2D(N, N, J, L, std_norm=True)
    plain = ShiftedWPH2D(N, N, J, L, shifted=False, std_norm=True)
    F = op.filters_hat
    assert F.shape == (2 * n_wav + 1, N, N) and plain.filters_hat.shape == (n_wav + 1, N, N)
    torch.testing.assert_close(F[n_wav:2 * n_wav].abs(), F[:n_wav].abs(), rtol=1e-12, atol=1e-14)
    assert float((F[n_wav:2 * n_wav] - F[:n_wav]).abs().max()) > 1e-3  # really shifted
    torch.testing.assert_close(plain.filters_hat[:n_wav], F[:n_wav])
    torch.testing.assert_close(plain.filters_hat[-1], F[-1])
    # the copy of (j, l) is the plain filter translated by 2^j pixels along its central frequency (rows, columns)
    j, ell = 1, 0  # theta = 0: tau = (0, 2)
    torch.testing.assert_close(torch.fft.ifft2(F[n_wav + j * 2 * L + ell]),
                               torch.roll(torch.fft.ifft2(F[j * 2 * L + ell]), (0, -2), (0, 1)), rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------------------- the descent
def test_sigma_schedule_matches_the_authors():
    assert sigma_schedule(64) == [3, 1.5, 0.75]
    assert sigma_schedule(128) == [4, 2, 1, 0.5]
    s = sigma_schedule(256)
    assert s == [5, 2.5, 1.25, 0.625, 0.3125] and len(s) == 5


def test_particle_descent_tiny_problem():
    N, J, L = 32, 2, 4
    x_obs = cluster_fixed(30, 4, 0.08, seed=12)
    make = lambda: ShiftedWPH2D(N, N, J, L, std_norm=True)  # noqa: E731
    x, log = particle_descent(x_obs, make, N=N, sigmas=(2, 1), steps=15, seed=13, snapshot_every=5)
    assert x.shape == x_obs.shape and x.dtype == x_obs.dtype
    assert float(x.min()) >= 0 and float(x.max()) < 1
    assert log.sigmas == [2.0, 1.0] and len(log.start) == len(log.end) == 2
    for s, e in zip(log.start, log.end):
        assert e < s / 5, (log.start, log.end)
    n0 = log.level_starts[1]
    assert log.level_starts[0] == 0 and 0 < n0 <= 15 and len(log.history) - n0 <= 15
    assert log.end[0] == pytest.approx(min(log.history[:n0])) and log.end[1] == pytest.approx(min(log.history[n0:]))
    total = len(log.history)
    assert log.snapshot_steps == list(range(0, total + 1, 5))
    assert len(log.snapshots) == len(log.snapshot_steps) and all(s.shape == x.shape for s in log.snapshots)
    # the start is the seeded uniform pattern
    torch.testing.assert_close(log.snapshots[0], binomial(30, seed=13))
    # the returned pattern has the final level's recorded energy
    op = make()
    target = op.set_target(render_gaussian(x_obs, N, 1.0))
    assert float(discrepancy(op(render_gaussian(x, N, 1.0)), target)) == pytest.approx(log.end[1], rel=1e-6)
    # no snapshots unless asked, and a start x0 is used as given
    x0 = binomial(30, seed=14)
    _, log2 = particle_descent(x_obs, make, N=N, sigmas=(2,), steps=1, x0=x0)
    assert log2.snapshots == [] and log2.snapshot_steps == []
    op2 = make()
    t2 = op2.set_target(render_gaussian(x_obs, N, 2.0))
    assert log2.start[0] == pytest.approx(float(discrepancy(op2(render_gaussian(x0, N, 2.0)), t2)), rel=1e-10)


def test_particle_descent_bad_inputs_name_the_argument():
    x_obs = binomial(10, seed=0)
    make = lambda: ShiftedWPH2D(32, 32, 2, 2, std_norm=True)  # noqa: E731
    for bad in ([], [1.0, 0.0], [-1.0]):
        with pytest.raises(ValueError, match="sigmas"):
            particle_descent(x_obs, make, N=32, sigmas=bad, steps=1)
    with pytest.raises(ValueError, match="x_obs"):
        particle_descent(torch.rand(10, 3, dtype=F64), make, N=32, steps=1)
    with pytest.raises(ValueError, match="x0"):
        particle_descent(x_obs, make, N=32, steps=1, x0=torch.rand(9, 2, dtype=F64))
    with pytest.raises(ValueError, match="steps"):
        particle_descent(x_obs, make, N=32, steps=0)
    with pytest.raises(ValueError, match="N"):
        sigma_schedule(8)
