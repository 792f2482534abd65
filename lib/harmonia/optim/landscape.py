"""Loss landscapes on grids: the exact SAM envelope, the Gibbs-smoothed landscape and Langevin samplers.

For a loss :math:`f` sampled on a uniform grid (1-D or N-D, float64 recommended):

- :func:`sam_envelope` -- :math:`f^{\\rm SAM}_\\rho(x)=\\max_{\\|\\epsilon\\|\\le\\rho}f(x+\\epsilon)`, exactly, as a
  running maximum over the grid points in the ball (the grid is not extended beyond its ends);
- :func:`smoothed_landscape` -- the Boltzmann density of :math:`f` seen through a Gaussian kernel,

  .. math:: F_{\\sigma,T}(x)=-T\\log\\int e^{-f(y)/T}\\,\\varphi_\\sigma(x-y)\\,dy,

  by log-sum-exp quadrature (the kernel is separable, so an N-D grid is smoothed axis by axis in the
  log domain; nothing underflows);
- :func:`gibbs_mean` -- :math:`\\mathbb E[y\\mid x]` under :math:`p(y\\mid x)\\propto e^{-f(y)/T}\\varphi_\\sigma(x-y)`, which gives
  :math:`\\nabla F(x)=\\frac{T}{\\sigma^2}\\,(x-\\mathbb E[y\\mid x])`;
- :func:`langevin_chains` -- chains :math:`y\\leftarrow y-\\eta(\\nabla f(y)+\\beta_e(y-x_0))+\\sqrt{2\\eta T}\\,\\zeta` that sample
  :math:`p(\\cdot\\mid x_0)` with :math:`\\beta_e=T/\\sigma^2`.

Used in: chapter 04 (the smoothed sharpness-aware landscape of LSAM).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from harmonia.config import check_int, check_positive, check_tensor, make_generator

__all__ = ["sam_envelope", "smoothed_landscape", "gibbs_mean", "langevin_chains", "local_minima"]


def _spacings(values: torch.Tensor, spacing: float | Sequence[float]) -> list[float]:
    sp = [spacing] * values.ndim if isinstance(spacing, (int, float)) else list(spacing)
    if len(sp) != values.ndim:
        raise ValueError(f"spacing: expected one number or {values.ndim} (one per axis of values), got {len(sp)}")
    return [float(check_positive(h, "spacing")) for h in sp]


def sam_envelope(values: torch.Tensor, spacing: float | Sequence[float], rho: float) -> torch.Tensor:
    """:math:`\\max_{\\|\\epsilon\\|\\le\\rho}f(x+\\epsilon)` at every grid point.

    Parameters
    ----------
    values : tensor, shape (n_1, ..., n_D)
        :math:`f` on a uniform grid (D >= 1).
    spacing : float or sequence of D floats
        Grid steps.
    rho : float
        Radius (>= 0); the offsets taken are the grid vectors of Euclidean length <= rho
        (up to 1e-9 relative, so a radius that is a multiple of the step includes its end points).

    Returns
    -------
    tensor, shape of ``values``
        The envelope; near the grid's ends only offsets that stay on the grid are used.
    """
    check_tensor(values, "values", dtype="floating")
    if values.ndim < 1:
        raise ValueError("values: expected at least one axis, got a scalar")
    hs = _spacings(values, spacing)
    check_positive(rho, "rho", allow_zero=True)
    ks = [int(math.floor(rho / h * (1 + 1e-9))) for h in hs]
    ranges = [torch.arange(-k, k + 1) for k in ks]
    offsets = torch.cartesian_prod(*ranges).reshape(-1, values.ndim)
    lengths = (offsets.double() * torch.tensor(hs, dtype=torch.float64)).norm(dim=1)
    offsets = offsets[lengths <= rho * (1 + 1e-9)]
    padded = torch.full([n + 2 * k for n, k in zip(values.shape, ks)], -math.inf, dtype=values.dtype, device=values.device)
    padded[tuple(slice(k, k + n) for n, k in zip(values.shape, ks))] = values
    out = torch.full_like(values, -math.inf)
    for off in offsets.tolist():
        window = tuple(slice(k + o, k + o + n) for n, k, o in zip(values.shape, ks, off))
        out = torch.maximum(out, padded[window])
    return out


def _log_kernel_matrix(axis: torch.Tensor, points: torch.Tensor, sigma: float) -> torch.Tensor:
    """:math:`\\log(h\\,\\varphi_\\sigma(x-y))` for x in ``points`` (rows) and y on ``axis`` (columns), 1-D kernel."""
    h = float(axis[1] - axis[0]) if axis.numel() > 1 else 1.0
    d2 = (points[:, None] - axis[None, :]).square()
    return -d2 / (2 * sigma**2) + math.log(h) - 0.5 * math.log(2 * math.pi * sigma**2)


def _check_axes(values: torch.Tensor, axes: torch.Tensor | Sequence[torch.Tensor],
                name: str = "axes") -> list[torch.Tensor]:
    """The uniform grids of ``values`` (one per axis); ``name`` is the caller's argument name: ``"axes"``
    (a sequence, reported as ``axes[i]``) or ``"axis"`` (the one grid of a 1-D function)."""
    axes = [axes] if isinstance(axes, torch.Tensor) else list(axes)
    if len(axes) != values.ndim:
        raise ValueError(f"{name}: expected {values.ndim} 1-D grids (one per axis of values), got {len(axes)}")
    for i, (a, n) in enumerate(zip(axes, values.shape)):
        label = f"{name}[{i}]" if name == "axes" else name
        check_tensor(a, label, shape=(n,), dtype="floating", like=values)
        if n > 1 and not bool((a[1] - a[0]) != 0):
            raise ValueError(f"{label}: expected a uniform grid with a non-zero step, got a constant grid")
        if n > 1 and not bool(((a[1:] - a[:-1]) - (a[1] - a[0])).abs().max() <= 1e-9 * (a[1] - a[0]).abs()):
            raise ValueError(f"{label}: expected a uniform grid, got unequal steps")
    return axes


def smoothed_landscape(values: torch.Tensor, axes: torch.Tensor | Sequence[torch.Tensor], sigma: float, T: float,
                       points: torch.Tensor | Sequence[torch.Tensor] | None = None) -> torch.Tensor:
    """:math:`F_{\\sigma,T}=-T\\log\\big(e^{-f/T}\\ast\\varphi_\\sigma\\big)` by quadrature on the grid.

    Parameters
    ----------
    values : tensor, shape (n_1, ..., n_D)
        :math:`f` (or :math:`f^{\\rm SAM}_\\rho`) on the grid.
    axes : tensor (n_1,) or sequence of D tensors
        The uniform grid of each axis.
    sigma, T : float
        Kernel width and temperature (> 0).
    points : tensor or sequence of D tensors, optional
        Where to evaluate :math:`F` (a grid, one 1-D tensor per axis); default: ``axes``.

    Returns
    -------
    tensor, shape (len(points_1), ..., len(points_D))
        :math:`F`, including the kernel's normalisation, so that :math:`F\\to f` as :math:`\\sigma\\to0` and
        adding a constant to :math:`f` adds it to :math:`F`.
    """
    check_tensor(values, "values", dtype="floating")
    axes = _check_axes(values, axes)
    check_positive(sigma, "sigma")
    check_positive(T, "T")
    pts = axes if points is None else ([points] if isinstance(points, torch.Tensor) else list(points))
    if len(pts) != values.ndim or any(p.ndim != 1 for p in pts):
        raise ValueError(f"points: expected {values.ndim} 1-D tensors (one per axis of values), got {len(pts)}")
    m = values.min()
    logw = -(values - m) / T  # log of e^{-(f - m)/T}, <= 0
    for d in range(values.ndim):
        K = _log_kernel_matrix(axes[d].to(values), pts[d].to(values), sigma)  # (n_points_d, n_d)
        moved = logw.movedim(d, -1).unsqueeze(-2)  # (..., 1, n_d)
        logw = torch.logsumexp(moved + K, dim=-1).movedim(-1, d)
    return m - T * logw


def gibbs_mean(values: torch.Tensor, axis: torch.Tensor, x: torch.Tensor, sigma: float, T: float) -> torch.Tensor:
    """:math:`\\mathbb E[y\\mid x]` for :math:`p(y\\mid x)\\propto e^{-f(y)/T}\\varphi_\\sigma(x-y)`, 1-D, by quadrature.

    Parameters
    ----------
    values : tensor (n,)
        :math:`f` on the uniform grid ``axis`` (n,).
    x : tensor (m,)
        Centres.
    sigma, T : float
        Kernel width and temperature.

    Returns
    -------
    tensor (m,)
    """
    check_tensor(values, "values", ndim=1, dtype="floating", nonempty=True)
    (axis,) = _check_axes(values, axis, "axis")
    check_tensor(x, "x", ndim=1, dtype="floating")
    check_positive(sigma, "sigma")
    check_positive(T, "T")
    logits = -(values - values.min())[None, :] / T + _log_kernel_matrix(axis.to(values), x.to(values), sigma)
    return torch.softmax(logits, dim=1) @ axis.to(values)


def local_minima(values: torch.Tensor, axis: torch.Tensor) -> torch.Tensor:
    """Grid positions of the strict interior local minima of a 1-D array (plateaus count once, at their left end)."""
    check_tensor(values, "values", ndim=1, dtype="floating", nonempty=True)
    (axis,) = _check_axes(values, axis, "axis")
    v = values
    left = v[1:-1] < v[:-2]
    right = v[2:] > v[1:-1]
    for i in (torch.nonzero(left & (v[2:] == v[1:-1])).flatten() + 1).tolist():  # a plateau: look past it
        j = i + 1
        while j < v.numel() and v[j] == v[i]:
            j += 1
        right[i - 1] = j < v.numel() and bool(v[j] > v[i])
    return axis[1:-1][left & right]


def langevin_chains(grad_fn: Callable[[torch.Tensor], torch.Tensor], x0: torch.Tensor, beta_e: float, T: float,
                    eta: float, steps: int, n_chains: int = 1, generator: torch.Generator | int | None = 0,
                    start: torch.Tensor | None = None) -> torch.Tensor:
    """Overdamped Langevin chains around a frozen centre :math:`x_0`:

    .. math:: y\\leftarrow y-\\eta\\big(\\nabla f(y)+\\beta_e(y-x_0)\\big)+\\sqrt{2\\eta T}\\,\\zeta,\\quad \\zeta\\sim\\mathcal N(0,I),

    whose stationary law (as :math:`\\eta\\to0`) is :math:`p(y\\mid x_0)\\propto e^{-[f(y)+\\frac{\\beta_e}{2}\\|y-x_0\\|^2]/T}`.

    Parameters
    ----------
    grad_fn : callable
        :math:`\\nabla f`, applied to a tensor (n_chains, *x0.shape), returns the same shape.
    x0 : tensor
        The centre (any shape; a 0-d tensor for 1-D problems).
    beta_e, T, eta : float
        Stiffness (>= 0), temperature (>= 0) and step (> 0).
    steps, n_chains : int
    generator : torch.Generator or int
        The noise (drawn on ``x0``'s device).
    start : tensor (n_chains, *x0.shape), optional
        Initial states (default: ``x0`` for every chain).

    Returns
    -------
    tensor, shape (steps + 1, n_chains, *x0.shape)
        The states, the start first.
    """
    check_tensor(x0, "x0", dtype="floating")
    check_positive(beta_e, "beta_e", allow_zero=True)
    check_positive(T, "T", allow_zero=True)
    check_positive(eta, "eta")
    steps = check_int(steps, "steps", minimum=1)
    n_chains = check_int(n_chains, "n_chains", minimum=1)
    gen = make_generator(generator, device=x0.device, name="generator")
    y = x0.expand(n_chains, *x0.shape).clone() if start is None else start.to(x0).clone()
    if y.shape != (n_chains, *x0.shape):
        raise ValueError(f"start: expected shape {(n_chains, *x0.shape)}, got {tuple(y.shape)}")
    out = torch.empty((steps + 1, *y.shape), dtype=y.dtype, device=y.device)
    out[0] = y
    noise_scale = math.sqrt(2 * eta * T)
    for t in range(steps):
        g = grad_fn(y)
        if g.shape != y.shape:
            raise ValueError(f"grad_fn: expected a gradient of shape {tuple(y.shape)}, got {tuple(g.shape)}")
        y = y - eta * (g + beta_e * (y - x0))
        if noise_scale > 0:
            y = y + noise_scale * torch.randn(y.shape, generator=gen, dtype=y.dtype, device=y.device)
        out[t + 1] = y
    return out
