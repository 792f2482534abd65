"""Decaying 2D turbulence: a pseudo-spectral Navier-Stokes solver and the vorticity fields it makes.

The fields stand in for the turbulence images of chapter 07 (the authors' files are not public):
incompressible Navier-Stokes in vorticity form on the periodic square :math:`[0, 2\\pi)^2`,

.. math::

    \\partial_t\\omega + u\\cdot\\nabla\\omega = -\\nu(-\\Delta)^p\\omega, \\qquad
    -\\Delta\\psi = \\omega, \\qquad u = (u, v) = (\\partial_y\\psi, -\\partial_x\\psi),

with hyperviscosity :math:`p = 4` by default. Random-phase initial vorticity concentrated around
wavenumber :math:`k_0` evolves into coherent vortices and thin filaments: the vorticity kurtosis
grows from 3 (Gaussian) to 5-8 by :math:`T = 50`.

Conventions
-----------
- A field is a tensor ``(..., N, N)`` sampled at :math:`(x_j, y_i) = (2\\pi j/N, 2\\pi i/N)`:
  **array axis -1 (columns) is x, axis -2 (rows) is y**, so ``omega[..., i, j]`` is
  :math:`\\omega(x_j, y_i)`. Leading dimensions are a batch; every sample evolves independently.
- Derivatives are computed in Fourier (``torch.fft.rfft2`` over the last two axes, integer
  wavenumbers :math:`k_x, k_y`; odd derivatives of the Nyquist modes are set to zero).
- With ``dealias=True`` (default) the state and the nonlinear term are kept on the 2/3-rule modes
  :math:`|k_x|, |k_y| < N/3`: the discrete system is then the exact Galerkin truncation of the PDE,
  which conserves energy and enstrophy when :math:`\\nu = 0`.
- Time stepping: classical RK4 with an integrating factor
  :math:`e^{-\\nu|k|^{2p}\\Delta t/2}` per half step (the viscous part is integrated exactly);
  :math:`\\Delta t = \\min(\\mathrm{cfl}\\,\\Delta x/\\max|u|, \\Delta t_{\\max})`,
  :math:`\\Delta x = 2\\pi/N`, computed for each sample at each step, the last step shortened to
  land exactly on the requested times.

The committed file ``datasets/turbulence_ns64.npz`` (:func:`build_turbulence_file`,
:func:`load_turbulence`) holds the fast-mode data so the chapter does not wait for the solver.

Used in: chapter 07 (maximum-entropy phase-harmonic models of turbulence).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from harmonia.config import check_positive, check_tensor, make_generator
from harmonia.data.registry import load_npz, save_npz

__all__ = [
    "NavierStokes2D",
    "Run",
    "default_k0",
    "initial_vorticity",
    "decaying_turbulence",
    "build_turbulence_file",
    "load_turbulence",
]

DATASET = "turbulence_ns64"
SNAPSHOT_TIMES = tuple(5.0 * i for i in range(21))  # 0, 5, ..., 100 in the committed file


# ---------------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------------
def _check_grid_size(N: object) -> int:
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)):
        raise TypeError(f"N: expected an even int >= 8, got {type(N).__name__} {N!r}")
    N = int(N)
    if N < 8 or N % 2:
        raise ValueError(f"N: expected an even int >= 8, got {N}")
    return N


def _check_dtype(dtype: object) -> torch.dtype:
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
    return dtype  # type: ignore[return-value]


def default_k0(N: int) -> float:
    """The default peak wavenumber of the initial spectrum: :math:`k_0 = 8\\cdot1.5^{\\log_2(N/64)}`.

    It grows by a factor 1.5 per doubling of the grid: 8 at :math:`N=64`, 12 at :math:`N=128`
    (the values we calibrated on our own solver for chapter 07, not the authors' settings), 5.33 at
    :math:`N=32`; it stays well below the 2/3-rule cutoff
    :math:`N/3`.

    Parameters
    ----------
    N : int
        Grid size (even, >= 8).

    Returns
    -------
    float

    Used in: chapter 07.
    """
    N = _check_grid_size(N)
    return 8.0 * 1.5 ** math.log2(N / 64)


# ---------------------------------------------------------------------------------------------
# The solver
# ---------------------------------------------------------------------------------------------
@dataclass
class Run:
    """The result of :meth:`NavierStokes2D.run`.

    Attributes
    ----------
    omega : tensor (..., N, N)
        The vorticity at the final time ``T``.
    times : tensor (n_times,) float64 or None
        The snapshot times (sorted), or ``None`` when none were asked for.
    snapshots : tensor (n_times, ..., N, N) or None
        The vorticity at ``times``.
    n_steps : int
        Number of RK4 steps taken (for a batch: by the sample that needed the most; each sample
        advances with its own CFL step).
    """

    omega: torch.Tensor
    times: torch.Tensor | None
    snapshots: torch.Tensor | None
    n_steps: int


class NavierStokes2D:
    """Pseudo-spectral solver of 2D incompressible Navier-Stokes in vorticity form, periodic box.

    .. math::

        \\partial_t\\omega + u\\cdot\\nabla\\omega = -\\nu(-\\Delta)^p\\omega, \\quad
        -\\Delta\\psi = \\omega, \\quad u = \\partial_y\\psi, \\; v = -\\partial_x\\psi

    on :math:`[0, 2\\pi)^2`, fields of shape ``(..., N, N)`` with axis -1 = x and axis -2 = y.
    The mean vorticity (mode :math:`k = 0`) is conserved and does not enter the velocity.

    Parameters
    ----------
    N : int
        Grid size (even, >= 8).
    nu : float, optional
        (Hyper)viscosity :math:`\\nu\\ge0`. Default :math:`2/k_{\\max}^{2p}` with
        :math:`k_{\\max} = N/3`: a damping rate of 2 at the dealiasing cutoff.
    p : int
        Power of the Laplacian in the dissipation (1 = Newtonian viscosity, 4 = hyperviscosity).
    dealias : bool
        Keep the state and the nonlinear term on the 2/3-rule modes :math:`|k_x|,|k_y|<N/3`.
    dtype : torch.float64 or torch.float32
        Real dtype of the fields (default float64).
    device : torch.device or str, optional
        Where the fields live (default CPU). Inputs must be on this device with this dtype.

    Used in: chapter 07.
    """

    def __init__(self, N: int, *, nu: float | None = None, p: int = 4, dealias: bool = True,
                 dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> None:
        self.N = _check_grid_size(N)
        self.p = int(check_positive(p, "p", integer=True))
        if not isinstance(dealias, bool):
            raise TypeError(f"dealias: expected a bool, got {type(dealias).__name__} {dealias!r}")
        self.dealias = dealias
        self.k_max = self.N / 3
        self.nu = 2.0 / self.k_max ** (2 * self.p) if nu is None else float(check_positive(nu, "nu", allow_zero=True))
        self.dtype = _check_dtype(dtype)
        self.device = torch.device("cpu" if device is None else device)
        self.dx = 2 * math.pi / self.N
        N = self.N
        kx = torch.arange(N // 2 + 1, dtype=torch.float64)  # rfft axis (-1): x
        ky = torch.fft.fftfreq(N, d=1.0 / N, dtype=torch.float64)  # full axis (-2): y
        k2 = ky[:, None] ** 2 + kx[None, :] ** 2  # (N, N//2+1)
        kx_d, ky_d = kx.clone(), ky.clone()
        kx_d[N // 2] = 0.0  # odd derivatives of the Nyquist modes: zero (keeps fields real)
        ky_d[N // 2] = 0.0
        inv_k2 = torch.where(k2 > 0, 1.0 / torch.where(k2 > 0, k2, 1.0), 0.0)
        if dealias:
            mask = (ky.abs()[:, None] < N / 3) & (kx[None, :] < N / 3)
        else:
            mask = torch.ones(N, N // 2 + 1, dtype=torch.bool)
        cdtype = torch.complex128 if self.dtype == torch.float64 else torch.complex64
        to = dict(device=self.device)
        self._ikx = (1j * kx_d[None, :]).to(dtype=cdtype, **to)  # (1, N//2+1)
        self._iky = (1j * ky_d[:, None]).to(dtype=cdtype, **to)  # (N, 1)
        self._k2 = k2.to(dtype=self.dtype, **to)
        self._inv_k2 = inv_k2.to(dtype=self.dtype, **to)
        self._mask = mask.to(dtype=self.dtype, **to)
        self._lin = (self.nu * k2 ** self.p).to(dtype=self.dtype, **to)  # nu |k|^{2p}

    def __repr__(self) -> str:
        return (f"NavierStokes2D(N={self.N}, nu={self.nu:.3g}, p={self.p}, dealias={self.dealias}, "
                f"dtype={self.dtype}, device={self.device})")

    # -- transforms ---------------------------------------------------------------------------
    def _check(self, x: object, name: str) -> torch.Tensor:
        return check_tensor(x, name, shape=("...", self.N, self.N), dtype=self.dtype, device=self.device)

    def _fft(self, x: torch.Tensor) -> torch.Tensor:
        return torch.fft.rfft2(x)

    def _ifft(self, x_hat: torch.Tensor) -> torch.Tensor:
        return torch.fft.irfft2(x_hat, s=(self.N, self.N))

    def _state_hat(self, omega: torch.Tensor) -> torch.Tensor:
        w_hat = self._fft(omega)
        return w_hat * self._mask if self.dealias else w_hat

    def _nonlinear_hat(self, w_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Fourier transform of :math:`-u\\cdot\\nabla\\omega` (dealiased) and the max speed per sample."""
        psi_hat = w_hat * self._inv_k2
        fields = self._ifft(torch.stack([self._iky * psi_hat, -self._ikx * psi_hat,
                                         self._ikx * w_hat, self._iky * w_hat]))
        u, v, w_x, w_y = fields.unbind(0)
        nl_hat = self._fft(-(u * w_x + v * w_y))
        if self.dealias:
            nl_hat = nl_hat * self._mask
        speed = torch.sqrt(u * u + v * v).amax(dim=(-2, -1))
        return nl_hat, speed

    # -- diagnostics --------------------------------------------------------------------------
    def streamfunction(self, omega: torch.Tensor) -> torch.Tensor:
        """The streamfunction :math:`\\psi` with :math:`-\\Delta\\psi = \\omega` and zero mean.

        Parameters
        ----------
        omega : tensor (..., N, N)
            Vorticity (its mean is ignored: it has no periodic streamfunction).

        Returns
        -------
        tensor (..., N, N)
        """
        self._check(omega, "omega")
        return self._ifft(self._fft(omega) * self._inv_k2)

    def velocity(self, omega: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The velocity :math:`(u, v) = (\\partial_y\\psi, -\\partial_x\\psi)` of a vorticity field.

        ``u`` is the x-component (along axis -1), ``v`` the y-component (along axis -2). Example:
        :math:`\\psi = \\sin y` (i.e. :math:`\\omega = \\sin y`) gives :math:`u = \\cos y`, :math:`v = 0`.

        Parameters
        ----------
        omega : tensor (..., N, N)

        Returns
        -------
        u, v : tensors (..., N, N)
        """
        self._check(omega, "omega")
        psi_hat = self._fft(omega) * self._inv_k2
        u, v = self._ifft(torch.stack([self._iky * psi_hat, -self._ikx * psi_hat])).unbind(0)
        return u, v

    def divergence(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Spectral divergence :math:`\\partial_x u + \\partial_y v`, shape (..., N, N)."""
        self._check(u, "u")
        self._check(v, "v")
        return self._ifft(self._ikx * self._fft(u) + self._iky * self._fft(v))

    def energy(self, omega: torch.Tensor) -> torch.Tensor:
        """Kinetic energy :math:`\\tfrac12\\langle u^2+v^2\\rangle` (grid mean), shape ``omega.shape[:-2]``."""
        u, v = self.velocity(omega)
        return 0.5 * (u * u + v * v).mean(dim=(-2, -1))

    def enstrophy(self, omega: torch.Tensor) -> torch.Tensor:
        """Enstrophy :math:`\\tfrac12\\langle\\omega^2\\rangle` (grid mean), shape ``omega.shape[:-2]``."""
        self._check(omega, "omega")
        return 0.5 * (omega * omega).mean(dim=(-2, -1))

    def rhs(self, omega: torch.Tensor) -> torch.Tensor:
        """The full right-hand side :math:`\\partial_t\\omega = -u\\cdot\\nabla\\omega - \\nu(-\\Delta)^p\\omega`.

        With ``dealias=True`` the field is first projected on the 2/3-rule modes and the
        nonlinear term is dealiased.

        Parameters
        ----------
        omega : tensor (..., N, N)

        Returns
        -------
        tensor (..., N, N)
        """
        self._check(omega, "omega")
        w_hat = self._state_hat(omega)
        nl_hat, _ = self._nonlinear_hat(w_hat)
        return self._ifft(nl_hat - self._lin * w_hat)

    # -- time stepping ------------------------------------------------------------------------
    def _cfl(self, speed: torch.Tensor, cfl: float, dt_max: float) -> torch.Tensor:
        dt = cfl * self.dx / torch.clamp(speed, min=torch.finfo(speed.dtype).tiny)
        return torch.clamp(dt, max=dt_max)

    def cfl_dt(self, omega: torch.Tensor, cfl: float = 0.5, dt_max: float = 0.2) -> torch.Tensor:
        """The CFL time step :math:`\\min(\\mathrm{cfl}\\,\\Delta x/\\max|u|,\\ \\Delta t_{\\max})`.

        Parameters
        ----------
        omega : tensor (..., N, N)
        cfl : float
            Courant number (default 0.5).
        dt_max : float
            Largest step (default 0.2).

        Returns
        -------
        tensor of shape ``omega.shape[:-2]``
            One step per sample; :math:`|u|` is the speed :math:`\\sqrt{u^2+v^2}` maximised over the grid.
        """
        self._check(omega, "omega")
        cfl = check_positive(cfl, "cfl")
        dt_max = check_positive(dt_max, "dt_max")
        _, speed = self._nonlinear_hat(self._state_hat(omega))
        return self._cfl(speed, cfl, dt_max)

    def _step_hat(self, w_hat: torch.Tensor, dt: torch.Tensor, nl0: torch.Tensor | None = None) -> torch.Tensor:
        """One integrating-factor RK4 step in Fourier; ``dt`` broadcasts against the batch shape."""
        dt = dt[..., None, None]
        e = torch.exp(-0.5 * dt * self._lin)  # e^{-nu |k|^2p dt/2}
        e2 = e * e
        a = dt * (self._nonlinear_hat(w_hat)[0] if nl0 is None else nl0)
        b = dt * self._nonlinear_hat(e * (w_hat + 0.5 * a))[0]
        c = dt * self._nonlinear_hat(e * w_hat + 0.5 * b)[0]
        d = dt * self._nonlinear_hat(e2 * w_hat + e * c)[0]
        return e2 * w_hat + (e2 * a + 2.0 * e * (b + c) + d) / 6.0

    def step(self, omega: torch.Tensor, dt: float | torch.Tensor) -> torch.Tensor:
        """Advance by one integrating-factor RK4 step of size ``dt``.

        .. math::

            \\hat\\omega_{n+1} = E^2\\hat\\omega_n + \\tfrac16(E^2a + 2E(b+c) + d), \\quad
            E = e^{-\\nu|k|^{2p}\\Delta t/2},

        with :math:`a = \\Delta t\\,N(\\hat\\omega_n)`, :math:`b = \\Delta t\\,N(E(\\hat\\omega_n+a/2))`,
        :math:`c = \\Delta t\\,N(E\\hat\\omega_n+b/2)`, :math:`d = \\Delta t\\,N(E^2\\hat\\omega_n+Ec)` and
        :math:`N` the (dealiased) advection term.

        Parameters
        ----------
        omega : tensor (..., N, N)
        dt : float or tensor broadcastable to ``omega.shape[:-2]``
            Non-negative step(s).

        Returns
        -------
        tensor (..., N, N)
        """
        self._check(omega, "omega")
        if isinstance(dt, torch.Tensor):
            check_tensor(dt, "dt", dtype="floating", device=self.device)
            if bool((dt < 0).any()):
                raise ValueError(f"dt: expected non-negative steps, got a minimum of {float(dt.min())}")
            dt = dt.to(self.dtype)
        else:
            dt = torch.tensor(check_positive(dt, "dt", allow_zero=True), dtype=self.dtype, device=self.device)
        dt = dt.expand(omega.shape[:-2])
        return self._ifft(self._step_hat(self._state_hat(omega), dt))

    def run(self, omega0: torch.Tensor, T: float, times: Sequence[float] | torch.Tensor | None = None, *,
            cfl: float = 0.5, dt_max: float = 0.2, progress: bool = False) -> Run:
        """Integrate from :math:`t = 0` to ``T`` with CFL-adapted steps, recording ``times``.

        Each sample of the batch takes its own step
        :math:`\\Delta t = \\min(\\mathrm{cfl}\\,\\Delta x/\\max|u|, \\Delta t_{\\max})` (so a batch
        gives the same fields as separate runs); a step that would pass the next requested time
        is shortened to land on it exactly.

        Parameters
        ----------
        omega0 : tensor (..., N, N)
            Initial vorticity (projected on the 2/3-rule modes when ``dealias``).
        T : float
            Final time, >= 0.
        times : sequence of float or 1-D tensor, optional
            Snapshot times in :math:`[0, T]` (sorted here; may include 0 and ``T``).
        cfl, dt_max : float
            Courant number and largest step (defaults 0.5 and 0.2).
        progress : bool
            Show a ``tqdm`` bar over simulated time.

        Returns
        -------
        Run
            ``omega`` (..., N, N) at ``T``; ``times`` (n_times,) float64 and ``snapshots``
            (n_times, ..., N, N), or ``None``; ``n_steps`` (int).
        """
        self._check(omega0, "omega0")
        T = float(check_positive(T, "T", allow_zero=True))
        cfl = check_positive(cfl, "cfl")
        dt_max = check_positive(dt_max, "dt_max")
        if times is not None:
            t_arr = torch.as_tensor(times, dtype=torch.float64).flatten().cpu()
            if t_arr.numel() and (not bool(torch.isfinite(t_arr).all()) or float(t_arr.min()) < 0
                                  or float(t_arr.max()) > T):
                raise ValueError(f"times: expected values in [0, T] = [0, {T}], got {t_arr.tolist()}")
            t_arr = torch.sort(t_arr).values
            targets = t_arr.tolist()
        else:
            t_arr, targets = None, []
        batch = omega0.shape[:-2]
        w_hat = self._state_hat(omega0)
        t = torch.zeros(batch, dtype=self.dtype, device=self.device)
        snaps: list[torch.Tensor] = []
        n_steps = 0
        bar = tqdm(total=T, desc="NavierStokes2D", disable=not progress)
        try:  # an interrupted run (KeyboardInterrupt) leaves no bar open
            for target in [*targets, T]:
                while True:
                    remaining = target - t
                    if not bool((remaining > 0).any()):
                        break
                    nl0, speed = self._nonlinear_hat(w_hat)
                    dt_cfl = self._cfl(speed, cfl, dt_max)
                    last = dt_cfl >= remaining
                    dt = torch.where(last, remaining, dt_cfl).clamp(min=0.0)
                    w_hat = self._step_hat(w_hat, dt, nl0)
                    t_before = float(t.min())
                    t = torch.where(last, torch.full_like(t, target), t + dt)
                    n_steps += 1
                    bar.update(float(t.min()) - t_before)
                if len(snaps) < len(targets):
                    snaps.append(self._ifft(w_hat))
        finally:
            bar.close()
        if t_arr is None:
            snapshots = None
        elif snaps:
            snapshots = torch.stack(snaps)
        else:
            snapshots = omega0.new_zeros((0, *omega0.shape))
        return Run(omega=self._ifft(w_hat), times=t_arr, snapshots=snapshots, n_steps=n_steps)


# ---------------------------------------------------------------------------------------------
# Random initial conditions and decaying turbulence
# ---------------------------------------------------------------------------------------------
def _one_initial(N: int, k0: float, gen: torch.Generator) -> torch.Tensor:
    """One float64 CPU field: random phases (those of white noise), modulus k^2 exp(-(k/k0)^2)."""
    noise = torch.randn((N, N), generator=gen, dtype=torch.float64)
    w_hat = torch.fft.rfft2(noise)
    kx = torch.arange(N // 2 + 1, dtype=torch.float64)
    ky = torch.fft.fftfreq(N, d=1.0 / N, dtype=torch.float64)
    k2 = ky[:, None] ** 2 + kx[None, :] ** 2
    keep = (ky.abs()[:, None] < N / 3) & (kx[None, :] < N / 3) & (k2 > 0)
    modulus = k2 * torch.exp(-k2 / k0**2)
    w_hat = torch.where(keep, torch.polar(modulus, torch.angle(w_hat)), 0.0)
    omega = torch.fft.irfft2(w_hat, s=(N, N))
    omega = omega - omega.mean()
    return omega / omega.std(correction=0)


def initial_vorticity(N: int, k0: float | None = None, *, n_samples: int = 1,
                      seed: int | torch.Generator | None = 0, dtype: torch.dtype = torch.float64,
                      device: torch.device | str | None = None) -> torch.Tensor:
    """Random-phase initial vorticity with spectrum peaked at :math:`k_0`.

    .. math::

        |\\hat\\omega(k)| \\propto |k|^2 e^{-(|k|/k_0)^2}, \\qquad
        \\arg\\hat\\omega(k) = \\arg\\widehat{\\text{white noise}}(k),

    on the 2/3-rule modes :math:`|k_x|,|k_y|<N/3`, :math:`k\\ne0`; each field is then rescaled to
    zero mean and unit (population) standard deviation. Taking the phases of real white noise makes
    the field real (Hermitian spectrum). Drawn in float64 on the CPU, then cast and moved, so a seed
    gives the same field on every device.

    Parameters
    ----------
    N : int
        Grid size (even, >= 8).
    k0 : float, optional
        Peak wavenumber (default :func:`default_k0`: 8 at N=64, 12 at N=128).
    n_samples : int
        Number of fields.
    seed : int, torch.Generator or None
        An int gives sample ``i`` the seed ``seed + i`` (so ``n_samples=8, seed=0`` holds the fields
        of seeds 0-7); a generator draws the samples one after another; ``None`` draws a seed from
        torch's global generator.
    dtype : torch.float64 or torch.float32
    device : torch.device or str, optional

    Returns
    -------
    tensor (n_samples, N, N)

    Used in: chapter 07.
    """
    N = _check_grid_size(N)
    k0 = default_k0(N) if k0 is None else float(check_positive(k0, "k0"))
    n_samples = int(check_positive(n_samples, "n_samples", integer=True))
    dtype = _check_dtype(dtype)
    if isinstance(seed, torch.Generator) or seed is None:
        gen = make_generator(seed)
        fields = [_one_initial(N, k0, gen) for _ in range(n_samples)]
    else:
        make_generator(seed)  # validates the seed
        fields = [_one_initial(N, k0, make_generator(int(seed) + i)) for i in range(n_samples)]
    return torch.stack(fields).to(dtype=dtype, device=device)


def decaying_turbulence(n_samples: int, N: int = 64, T: float = 50.0, k0: float | None = None, seed: int = 0,
                        standardize: bool = True, dtype: torch.dtype = torch.float64,
                        device: torch.device | str | None = None, *, progress: bool = False) -> torch.Tensor:
    """Vorticity fields of freely decaying 2D turbulence at time ``T``.

    Sample ``i`` starts from :func:`initial_vorticity` with seed ``seed + i`` and evolves with
    :class:`NavierStokes2D` (default hyperviscosity :math:`p = 4`, :math:`\\nu = 2/(N/3)^{8}`,
    2/3 dealiasing, CFL 0.5, :math:`\\Delta t \\le 0.2`). At :math:`N = 64`, :math:`T = 50` a run
    takes about 280 steps and the vorticity kurtosis is about 5-6 (vortices and filaments).

    Parameters
    ----------
    n_samples : int
        Number of fields.
    N : int
        Grid size (even, >= 8).
    T : float
        Simulated time (>= 0); the kurtosis grows with ``T`` as vortices merge.
    k0 : float, optional
        Peak wavenumber of the initial spectrum (default :func:`default_k0`).
    seed : int
        Seed of sample 0.
    standardize : bool
        Subtract each field's mean and divide by its (population) standard deviation.
    dtype : torch.float64 or torch.float32
        Dtype of the computation and the result.
    device : torch.device or str, optional
    progress : bool
        Show a ``tqdm`` bar.

    Returns
    -------
    tensor (n_samples, N, N)

    Used in: chapter 07.
    """
    n_samples = int(check_positive(n_samples, "n_samples", integer=True))
    N = _check_grid_size(N)
    T = float(check_positive(T, "T", allow_zero=True))
    if isinstance(seed, torch.Generator):
        raise TypeError("seed: expected a non-negative int (sample i uses seed + i), got a torch.Generator")
    if not isinstance(standardize, bool):
        raise TypeError(f"standardize: expected a bool, got {type(standardize).__name__} {standardize!r}")
    omega0 = initial_vorticity(N, k0, n_samples=n_samples, seed=seed, dtype=dtype, device=device)
    solver = NavierStokes2D(N, dtype=dtype, device=omega0.device)
    omega = solver.run(omega0, T, progress=progress).omega
    if standardize:
        omega = omega - omega.mean(dim=(-2, -1), keepdim=True)
        omega = omega / omega.std(dim=(-2, -1), keepdim=True, correction=0)
    return omega


# ---------------------------------------------------------------------------------------------
# The committed file
# ---------------------------------------------------------------------------------------------
def build_turbulence_file(path: str | Path) -> Path:
    """Write the fast-mode turbulence file (about 4 s on one CPU core, 0.44 MB).

    Keys of the ``.npz`` file:

    - ``fields`` (8, 64, 64) float32: ``decaying_turbulence(8, 64, T=50, seed=0)``, standardised;
      field 0 is the training image of chapter 07, fields 1-7 the test set.
    - ``snapshot_times`` (21,) float64: 0, 5, ..., 100.
    - ``snapshots`` (21, 64, 64) float32: the (unstandardised) vorticity of seed 0 at those times,
      from one run to T=100 that lands on each time.
    - ``N``, ``T``, ``k0``, ``p``, ``nu``: 0-d arrays, the solver's settings (``T`` = 50, the
      time of ``fields``).

    The file is a compressed ``.npz`` with fixed zip timestamps, so on a given machine a rebuild is
    byte-identical (same sha256). Other CPU/FFT builds can differ by rounding, which the chaotic
    dynamics amplify a little; the committed file is the reference.

    Parameters
    ----------
    path : str or Path
        Where to write (``.npz``).

    Returns
    -------
    Path

    Used in: chapter 07.
    """
    N, T, seed = 64, 50.0, 0
    fields = decaying_turbulence(8, N, T=T, seed=seed)
    solver = NavierStokes2D(N)
    run = solver.run(initial_vorticity(N, seed=seed)[0], SNAPSHOT_TIMES[-1], times=SNAPSHOT_TIMES)
    assert run.snapshots is not None and run.times is not None
    path = Path(path)
    save_npz(
        path,
        fields=fields.numpy().astype(np.float32),
        snapshot_times=run.times.numpy().astype(np.float64),
        snapshots=run.snapshots.numpy().astype(np.float32),
        N=np.array(N, dtype=np.int64),
        T=np.array(T, dtype=np.float64),
        k0=np.array(default_k0(N), dtype=np.float64),
        p=np.array(solver.p, dtype=np.int64),
        nu=np.array(solver.nu, dtype=np.float64),
    )
    return path


def load_turbulence(device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The committed fast-mode turbulence data (checksum verified).

    Parameters
    ----------
    device : torch.device or str
    dtype : torch.dtype
        Dtype of ``fields`` and ``snapshots`` (default float32, as stored).

    Returns
    -------
    dict
        ``fields`` (8, 64, 64) standardised vorticity at T=50 (seeds 0-7); ``snapshots``
        (21, 64, 64) vorticity of seed 0 at ``snapshot_times`` (21,) float64 = 0, 5, ..., 100;
        the solver settings ``N``, ``p`` (int64) and ``T``, ``k0``, ``nu`` (float64) as 0-d tensors.

    Used in: chapter 07.
    """
    arrays = load_npz(DATASET)
    out = {}
    for key, value in arrays.items():
        target = dtype if key in ("fields", "snapshots") else None
        out[key] = torch.as_tensor(value, dtype=target, device=device)
    return out
