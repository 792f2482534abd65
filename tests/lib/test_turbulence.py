"""Tests of harmonia.data.turbulence: the pseudo-spectral 2D Navier-Stokes solver and its data file."""

from __future__ import annotations

import math

import pytest
import torch

from harmonia.data.turbulence import (
    NavierStokes2D,
    decaying_turbulence,
    default_k0,
    initial_vorticity,
    load_turbulence,
)
from harmonia.metrics import kurtosis


def _grid(N: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x along axis -1 (columns), y along axis -2 (rows)."""
    s = torch.arange(N, dtype=torch.float64) * 2 * math.pi / N
    return s[None, :], s[:, None]


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a / b) - 1).abs().max())


# ---------------------------------------------------------------------------------------------
# Invariants and closed forms
# ---------------------------------------------------------------------------------------------
def test_inviscid_galerkin_truncation_conserves_energy_and_enstrophy():
    # The 2/3-rule system is an exact Galerkin truncation: E and Z are invariants of the ODE, so
    # only the RK4 error remains, and it shrinks like dt^4 (10x smaller steps: >= 1e4 smaller error).
    solver = NavierStokes2D(32, nu=0.0)
    omega0 = initial_vorticity(32, n_samples=2, seed=1)
    E0, Z0 = solver.energy(omega0), solver.enstrophy(omega0)
    coarse = solver.run(omega0, 1.0)  # dt = 0.2 (dt_max), 6 steps
    fine = solver.run(omega0, 1.0, dt_max=0.02)
    assert float((coarse.omega - omega0).abs().max()) > 1.0  # the field really moved
    err_coarse = max(_rel(solver.energy(coarse.omega), E0), _rel(solver.enstrophy(coarse.omega), Z0))
    err_fine = max(_rel(solver.energy(fine.omega), E0), _rel(solver.enstrophy(fine.omega), Z0))
    assert err_coarse < 1e-5  # measured 1.8e-6
    assert err_fine < 1e-10  # measured 1.1e-11
    assert err_fine < 1e-4 * err_coarse
    # the mean vorticity is conserved too (k = 0 mode)
    assert abs(float(fine.omega.mean())) < 1e-13


def test_viscous_decay_is_monotone():
    solver = NavierStokes2D(32, nu=1e-3, p=1)
    omega0 = initial_vorticity(32, seed=2)
    run = solver.run(omega0, 4.0, times=[0.0, 0.5, 1.0, 2.0, 3.0, 4.0])
    assert run.snapshots.shape == (6, 1, 32, 32)
    assert torch.equal(run.snapshots[-1], run.omega)
    torch.testing.assert_close(run.snapshots[0], omega0, rtol=0, atol=1e-13)
    E, Z = solver.energy(run.snapshots)[:, 0], solver.enstrophy(run.snapshots)[:, 0]
    assert bool((E[1:] < E[:-1]).all()) and bool((Z[1:] < Z[:-1]).all())
    assert float(Z[-1]) < 0.9 * float(Z[0])
    empty = solver.run(omega0, 0.5, times=[])
    assert empty.snapshots.shape == (0, 1, 32, 32) and empty.times.shape == (0,)


@pytest.mark.parametrize("p, nu, k, dealias", [(1, 0.05, 2, True), (1, 0.05, 2, False), (4, 1e-4, 2, True),
                                               (4, None, 3, True)])
def test_taylor_green_vortex_decays_in_closed_form(p, nu, k, dealias):
    # omega = 2k cos(kx) cos(ky) has u.grad(omega) = 0: a steady Euler flow that decays as
    # exp(-nu (2k^2)^p t) under the (hyper)viscous term.
    N = 32
    x, y = _grid(N)
    omega0 = 2 * k * torch.cos(k * x) * torch.cos(k * y)
    solver = NavierStokes2D(N, nu=nu, p=p, dealias=dealias)
    # rounding noise of the field is amplified by the largest damping rate kept, nu (2 (N/3)^2)^p
    atol = 1e-13 * (1 + solver.nu * (2 * (N / 3) ** 2) ** p)
    torch.testing.assert_close(solver.rhs(omega0), -solver.nu * (2 * k * k) ** p * omega0, rtol=0, atol=atol)
    run = solver.run(omega0, 2.0, times=[0.5, 1.25])
    for t, field in zip([0.5, 1.25, 2.0], [*run.snapshots, run.omega]):
        exact = omega0 * math.exp(-solver.nu * (2 * k * k) ** p * t)
        assert float((field - exact).abs().max()) < 1e-10 * 2 * k
    assert run.n_steps > 10


def test_velocity_streamfunction_and_divergence():
    N = 32
    x, y = _grid(N)
    solver = NavierStokes2D(N)
    # psi = sin(y): omega = -lap psi = sin(y), u = d_y psi = cos(y), v = -d_x psi = 0
    omega = torch.sin(y).expand(N, N).contiguous()
    torch.testing.assert_close(solver.streamfunction(omega), omega, rtol=0, atol=1e-14)
    u, v = solver.velocity(omega)
    torch.testing.assert_close(u, torch.cos(y).expand(N, N), rtol=0, atol=1e-14)
    assert float(v.abs().max()) < 1e-14
    # psi = sin(2x): omega = 4 sin(2x), u = 0, v = -2 cos(2x)
    u, v = solver.velocity(4 * torch.sin(2 * x).expand(N, N).contiguous())
    assert float(u.abs().max()) < 1e-14
    torch.testing.assert_close(v, -2 * torch.cos(2 * x).expand(N, N), rtol=0, atol=1e-14)
    # random field: div u = 0 to machine precision, -lap psi = omega (minus its mean), energy formula
    omega = initial_vorticity(N, n_samples=3, seed=4) + 0.7
    u, v = solver.velocity(omega)
    assert float(solver.divergence(u, v).abs().max()) < 1e-13 * float(u.abs().max())
    kx = torch.fft.rfftfreq(N, d=1.0 / N, dtype=torch.float64)
    ky = torch.fft.fftfreq(N, d=1.0 / N, dtype=torch.float64)
    k2 = ky[:, None] ** 2 + kx[None, :] ** 2
    minus_lap_psi = torch.fft.irfft2(k2 * torch.fft.rfft2(solver.streamfunction(omega)), s=(N, N))
    torch.testing.assert_close(minus_lap_psi, omega - omega.mean(dim=(-2, -1), keepdim=True), rtol=0, atol=1e-12)
    # Parseval: energy = 1/2 sum |omega_hat|^2/|k|^2 / N^4 (full FFT)
    w_hat = torch.fft.fft2(omega)
    k2_full = ky[:, None] ** 2 + ky[None, :] ** 2
    spectral = 0.5 * (w_hat.abs() ** 2 / torch.where(k2_full > 0, k2_full, math.inf)).sum(dim=(-2, -1)) / N**4
    torch.testing.assert_close(solver.energy(omega), spectral, rtol=1e-12, atol=0)
    torch.testing.assert_close(solver.enstrophy(omega), 0.5 * omega.square().mean(dim=(-2, -1)))


def test_cfl_step_and_single_step():
    N = 32
    x, y = _grid(N)
    solver = NavierStokes2D(N, nu=0.0)
    omega = 2 * torch.cos(x) * torch.cos(y)  # max speed 1
    torch.testing.assert_close(solver.cfl_dt(omega), torch.tensor(0.5 * 2 * math.pi / N, dtype=torch.float64))
    torch.testing.assert_close(solver.cfl_dt(0.01 * omega), torch.tensor(0.2, dtype=torch.float64))
    assert solver.cfl_dt(torch.stack([omega, 2 * omega])).shape == (2,)
    # a zero step is the identity; a steady state stays put
    field = initial_vorticity(N, seed=3)[0]
    torch.testing.assert_close(solver.step(field, 0.0), field, rtol=0, atol=1e-14)
    torch.testing.assert_close(solver.step(omega, 0.1), omega, rtol=0, atol=1e-13)


def test_initial_condition_spectrum_and_statistics():
    N = 64
    omega = initial_vorticity(N, n_samples=4, seed=0)
    assert omega.shape == (4, N, N) and omega.dtype == torch.float64
    torch.testing.assert_close(omega.mean(dim=(-2, -1)), torch.zeros(4, dtype=torch.float64), rtol=0, atol=1e-14)
    torch.testing.assert_close(omega.std(dim=(-2, -1), correction=0), torch.ones(4, dtype=torch.float64))
    w_hat = torch.fft.rfft2(omega)
    kx = torch.fft.rfftfreq(N, d=1.0 / N, dtype=torch.float64)
    ky = torch.fft.fftfreq(N, d=1.0 / N, dtype=torch.float64)
    k2 = ky[:, None] ** 2 + kx[None, :] ** 2
    keep = (ky.abs()[:, None] < N / 3) & (kx[None, :] < N / 3) & (k2 > 0)
    assert float(w_hat[:, ~keep].abs().max()) < 1e-10  # dealiased, zero mean
    ratio = w_hat.abs()[:, keep] / (k2 * torch.exp(-k2 / 8.0**2))[keep]
    torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio))  # modulus k^2 exp(-(k/k0)^2), k0 = 8
    assert default_k0(64) == 8.0 and default_k0(128) == 12.0
    # a random-phase field is close to Gaussian
    assert 2.6 < float(kurtosis(omega).mean()) < 3.4


# ---------------------------------------------------------------------------------------------
# Seeds, batches, dtypes
# ---------------------------------------------------------------------------------------------
def test_seeds_and_batches():
    N = 32
    a = initial_vorticity(N, n_samples=3, seed=5)
    assert torch.equal(a, initial_vorticity(N, n_samples=3, seed=5))
    assert torch.equal(a[1], initial_vorticity(N, seed=6)[0])  # sample i uses seed + i
    assert not torch.allclose(a[0], a[1])
    gen_a, gen_b = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    assert torch.equal(initial_vorticity(N, n_samples=2, seed=gen_a), initial_vorticity(N, n_samples=2, seed=gen_b))

    batch = decaying_turbulence(3, N, T=3.0, seed=5)
    assert batch.shape == (3, N, N)
    assert torch.equal(batch, decaying_turbulence(3, N, T=3.0, seed=5))
    singles = torch.cat([decaying_turbulence(1, N, T=3.0, seed=5 + i) for i in range(3)])
    torch.testing.assert_close(batch, singles, rtol=0, atol=1e-10)  # each sample has its own CFL step
    torch.testing.assert_close(batch.mean(dim=(-2, -1)), torch.zeros(3, dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(batch.std(dim=(-2, -1), correction=0), torch.ones(3, dtype=torch.float64))

    # nested batch dimensions run too; float32 follows float64 closely on a short run
    solver = NavierStokes2D(N)
    nested = solver.run(a.reshape(3, 1, N, N), 1.0)
    assert nested.omega.shape == (3, 1, N, N) and nested.snapshots is None
    assert solver.run(a.reshape(3, 1, N, N), 1.0, times=[0.5]).snapshots.shape == (1, 3, 1, N, N)
    raw = decaying_turbulence(2, N, T=1.0, seed=5, standardize=False)
    torch.testing.assert_close(raw, nested.omega[:2, 0], rtol=0, atol=1e-12)
    low = decaying_turbulence(2, N, T=1.0, seed=5, standardize=False, dtype=torch.float32)
    assert low.dtype == torch.float32
    torch.testing.assert_close(low.double(), raw, rtol=0, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# The committed file
# ---------------------------------------------------------------------------------------------
def test_committed_file():
    data = load_turbulence()
    fields, snaps, times = data["fields"], data["snapshots"], data["snapshot_times"]
    assert fields.shape == (8, 64, 64) and fields.dtype == torch.float32
    assert snaps.shape == (21, 64, 64) and snaps.dtype == torch.float32
    assert times.dtype == torch.float64
    torch.testing.assert_close(times, torch.arange(21, dtype=torch.float64) * 5)
    assert int(data["N"]) == 64 and int(data["p"]) == 4 and float(data["T"]) == 50.0 and float(data["k0"]) == 8.0
    assert math.isclose(float(data["nu"]), 2 / (64 / 3) ** 8, rel_tol=1e-12)
    assert float(fields.mean(dim=(-2, -1)).abs().max()) < 1e-5
    assert float((fields.double().std(dim=(-2, -1), correction=0) - 1).abs().max()) < 1e-5
    kurt = kurtosis(fields.double())
    assert 4.0 < float(kurt.mean()) < 8.0  # measured 6.52 (range 5.0-8.3)
    assert float(kurt.min()) > 4.0
    assert float(kurtosis(snaps[0].double())) < 3.5 < float(kurtosis(snaps[-1].double()))  # grows with time

    solver = NavierStokes2D(64)
    E = solver.energy(snaps.double())
    assert bool((E[1:] < E[:-1]).all())
    assert 0.0075 < float(E[0]) < 0.0080 and 0.0058 < float(E[10]) < 0.0065  # measured 0.00781 -> 0.00620
    # the file is reproducible: field 0 is seed 0 at T = 50
    again = decaying_turbulence(1, 64, 50.0, seed=0)[0]
    torch.testing.assert_close(again.float(), fields[0], rtol=0, atol=1e-4)
    torch.testing.assert_close(initial_vorticity(64, seed=0)[0].float(), snaps[0], rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------------------------
def test_bad_inputs():
    with pytest.raises(ValueError, match="^N: expected an even int >= 8"):
        NavierStokes2D(33)
    with pytest.raises(ValueError, match="^N: expected an even int >= 8"):
        NavierStokes2D(6)
    with pytest.raises(TypeError, match="^N: expected"):
        NavierStokes2D(32.0)
    with pytest.raises(ValueError, match="^p: expected a positive int"):
        NavierStokes2D(32, p=0)
    with pytest.raises(ValueError, match="^nu: expected a non-negative number"):
        NavierStokes2D(32, nu=-1.0)
    with pytest.raises(TypeError, match="^dtype: expected"):
        NavierStokes2D(32, dtype=torch.int64)
    solver = NavierStokes2D(32)
    omega = initial_vorticity(32, seed=0)
    with pytest.raises(ValueError, match="^T: expected a non-negative number"):
        solver.run(omega, -1.0)
    with pytest.raises(ValueError, match="^times: expected values in"):
        solver.run(omega, 1.0, times=[0.5, 2.0])
    with pytest.raises(ValueError, match=r"^omega0: expected shape \(\.\.\., 32, 32\)"):
        solver.run(initial_vorticity(16, seed=0), 1.0)
    with pytest.raises(TypeError, match="^omega: expected torch.float64"):
        solver.velocity(omega.float())
    with pytest.raises(TypeError, match="^omega: expected a torch.Tensor"):
        solver.energy(omega.numpy())
    with pytest.raises(ValueError, match="^omega: expected finite values"):
        solver.rhs(torch.full((32, 32), math.nan, dtype=torch.float64))
    with pytest.raises(ValueError, match="^dt: expected a non-negative number"):
        solver.step(omega, -0.1)
    with pytest.raises(ValueError, match="^T: expected a non-negative number"):
        decaying_turbulence(1, 32, T=-1.0)
    with pytest.raises(ValueError, match="^N: expected an even int >= 8"):
        decaying_turbulence(1, 31)
    with pytest.raises(ValueError, match="^n_samples: expected a positive int"):
        initial_vorticity(32, n_samples=0)
    with pytest.raises(ValueError, match="^k0: expected a positive number"):
        initial_vorticity(32, k0=0.0)
    with pytest.raises(ValueError, match="^seed: expected a non-negative int"):
        initial_vorticity(32, seed=-1)
