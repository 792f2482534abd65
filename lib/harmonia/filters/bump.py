"""2D bump steerable wavelets (Mallat, Zhang & Rochette; the definitions of pywph) and a Gaussian
low-pass, built directly in the **Fourier** domain, in FFT order.

Frequencies :math:`\\omega=(\\omega_x,\\omega_y)` are in radians per sample, :math:`\\omega_x` along
array axis 1 (columns) and :math:`\\omega_y` along axis 0 (rows); angles are measured from
:math:`+\\omega_x` towards :math:`+\\omega_y`. With :math:`\\xi_j=\\xi_0 2^{-j}` (default
:math:`\\xi_0=0.85\\pi`) and :math:`t=(|\\omega|-\\xi_j)/\\xi_j`,

.. math:: \\hat\\psi_{j,\\theta}(\\omega)=c_L\\,e^{1-1/(1-t^2)}\\,\\mathbf 1_{|t|<1}\\,
          \\cos^{L-1}(\\arg\\omega-\\theta)\\,\\mathbf 1_{|\\arg\\omega-\\theta|\\le\\pi/2},\\qquad
          c_L=\\frac{2^{L-1}(L-1)!}{1.29\\sqrt{L\\,(2L-2)!}},

periodised by summing it over :math:`\\omega+2\\pi(e_x,e_y)`, :math:`e_x,e_y\\in\\{-1,0,1\\}` (only
:math:`j=0`, whose bump reaches :math:`|\\omega|=2\\xi_0>\\pi`, is affected). Each wavelet is real,
non-negative, maximal (:math:`c_L`) at :math:`|\\omega|=\\xi_j` in the direction :math:`\\theta`,
supported in the annulus :math:`0<|\\omega|<2\\xi_j` and zero on the half-plane opposite to
:math:`\\theta`: it is (nearly) analytic. The bank (:func:`filter_bank_bump_2d`) uses the
orientations :math:`\\theta_\\ell=\\ell\\pi/L`, :math:`\\ell=0..2L-1` (full circle, the phase-harmonic
convention) or :math:`\\ell=0..L-1`. The low-pass (:func:`gaussian_2d_hat`) is the DFT of a spatial
Gaussian of standard deviation :math:`\\sigma` pixels, periodised over :math:`4\\times4` tiles and
normalised to sum 1, so :math:`\\hat\\phi(0)=1`.

Used in: chapters 06-08.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from harmonia.config import check_in, check_int, check_positive
from harmonia.fourier import fftfreq_grid

__all__ = [
    "XI0",
    "bump_constant",
    "bump_steerable_2d_hat",
    "gaussian_2d_hat",
    "lowpass_sigma",
    "filter_bank_bump_2d",
]

XI0 = 0.85 * math.pi
"""Default centre frequency :math:`\\xi_0` of the finest scale, in radians per sample."""

_F64 = torch.float64
_DTYPES = (torch.float32, torch.float64)


def _check_xi0(xi0: object) -> float:
    v = float(check_positive(xi0, "xi0"))
    if v > math.pi:
        raise ValueError(f"xi0: expected a number in (0, pi] (radians per sample), got {xi0!r}")
    return v


def _setup(dtype: torch.dtype, device: torch.device | str | None) -> tuple[torch.device, torch.device]:
    """Validated ``(device, work_device)``: the float64 computation runs on ``device`` (CPU for MPS,
    which has no float64)."""
    check_in(dtype, "dtype", _DTYPES)
    dev = torch.device("cpu") if device is None else torch.device(device)
    return dev, (torch.device("cpu") if dev.type == "mps" else dev)


def bump_constant(L: int) -> float:
    """The normalisation :math:`c_L=2^{L-1}(L-1)!\\,/\\,(1.29\\sqrt{L\\,(2L-2)!})` (the peak value).

    ``L`` is an int >= 1; returns a float (:math:`c_4=0.69335`, :math:`c_8=0.59883`).
    """
    L = check_int(L, "L", 1)
    # in logarithms, so that large L does not overflow a float
    log_c = (L - 1) * math.log(2) + math.lgamma(L) - math.log(1.29) - 0.5 * (math.log(L) + math.lgamma(2 * L - 1))
    return math.exp(log_c)


def _bump_stack(M: int, N: int, xi: float, thetas: torch.Tensor, L: int, device: torch.device) -> torch.Tensor:
    """Periodised :math:`\\hat\\psi` for several orientations: ``(len(thetas), M, N)`` float64.

    A copy whose radial bump vanishes on the whole grid is skipped (exactly: it adds zeros)."""
    wy, wx = fftfreq_grid((M, N), dtype=_F64, device=device)  # (M, 1) rows, (1, N) columns
    cos_t = torch.cos(thetas).to(device)[:, None, None]
    sin_t = torch.sin(thetas).to(device)[:, None, None]
    out = torch.zeros(len(thetas), M, N, dtype=_F64, device=device)
    for ey in (-1, 0, 1):
        for ex in (-1, 0, 1):
            x, y = wx + 2 * math.pi * ex, wy + 2 * math.pi * ey
            r = torch.sqrt(x * x + y * y)  # (M, N)
            t = (r - xi) / xi
            inside = t.abs() < 1  # excludes omega = 0 (t = -1)
            if not bool(inside.any()):
                continue
            t2 = torch.where(inside, t * t, torch.zeros_like(t))
            radial = torch.where(inside, torch.exp(1 - 1 / (1 - t2)), torch.zeros_like(t))
            # cos(arg omega - theta) = <omega, u_theta> / |omega|; >= 0 iff the angle gap is <= pi/2
            cos_d = (x * cos_t + y * sin_t) / torch.where(r > 0, r, torch.ones_like(r))
            angular = torch.where(cos_d >= 0, cos_d.clamp(min=0) ** (L - 1), torch.zeros_like(cos_d))
            out += radial * angular
    return bump_constant(L) * out


def bump_steerable_2d_hat(M: int, N: int, j: int, theta: float, L: int, xi0: float = XI0, *,
                          dtype: torch.dtype = _F64, device: torch.device | str | None = None) -> torch.Tensor:
    """One bump steerable wavelet in Fourier (see the module docstring for the formula).

    Parameters
    ----------
    M, N : int >= 2
        Grid size (rows, columns).
    j : int >= 0
        Scale: centre frequency :math:`\\xi_j=\\xi_0 2^{-j}`, support :math:`0<|\\omega|<2\\xi_j`.
    theta : float
        Orientation in radians, from :math:`+\\omega_x` (axis 1) towards :math:`+\\omega_y` (axis 0).
    L : int >= 1
        Angular parameter: the angular profile is :math:`\\cos^{L-1}`; the bank uses :math:`\\pi/L` steps.
    xi0 : float in (0, pi]
        Centre frequency of ``j = 0``.
    dtype : torch.float32 or torch.float64
        Output dtype (computed in float64).
    device : torch.device or str, optional

    Returns
    -------
    (M, N) real tensor
        :math:`\\hat\\psi_{j,\\theta}` in FFT order (entry ``[0, 0]`` is :math:`\\omega=0`).
    """
    M, N = check_int(M, "M", 2), check_int(N, "N", 2)
    j, L = check_int(j, "j", 0), check_int(L, "L", 1)
    if isinstance(theta, bool) or not isinstance(theta, (int, float)):
        raise TypeError(f"theta: expected a finite number (radians), got {type(theta).__name__} {theta!r}")
    if not math.isfinite(theta):
        raise ValueError(f"theta: expected a finite number (radians), got {theta!r}")
    xi0 = _check_xi0(xi0)
    dev, work = _setup(dtype, device)
    return _bump_stack(M, N, xi0 / 2**j, torch.tensor([float(theta)], dtype=_F64), L, work)[0].to(dev, dtype)


def lowpass_sigma(J: int, xi0: float = XI0) -> float:
    """Default width (pixels) of the low-pass of a ``J``-scale bank, the paper's MATLAB convention

    .. math:: \\sigma_J=\\frac{2^{J-1}}{0.702\\sqrt2\\,2^{-0.55}\\,\\xi_0}\\approx0.552\\cdot2^{J-1}
              \\quad(8.84\\text{ px for }J=5,\\ \\xi_0=0.85\\pi).

    Parameters: ``J`` int >= 1, ``xi0`` float in (0, pi]. Returns a float.
    """
    J, xi0 = check_int(J, "J", 1), _check_xi0(xi0)
    return 2 ** (J - 1) / (0.702 * math.sqrt(2) * 2**-0.55 * xi0)


def _gaussian_1d_hat(n: int, sigma: float, device: torch.device) -> torch.Tensor:
    u = torch.arange(-2 * n, 2 * n, dtype=_F64, device=device)  # 4 tiles, centred on u = 0
    g = torch.exp(-u * u / (2 * sigma * sigma)).reshape(4, n).sum(dim=0)  # fold: index u mod n
    g = g / g.sum()
    h = torch.fft.fft(g).real
    return 0.5 * (h + h[(-torch.arange(n, device=device)) % n])  # even to the last bit


def gaussian_2d_hat(M: int, N: int, sigma: float, *, dtype: torch.dtype = _F64,
                    device: torch.device | str | None = None) -> torch.Tensor:
    """Gaussian low-pass in Fourier: the DFT of :math:`g(u)\\propto e^{-|u|^2/2\\sigma^2}` periodised.

    The spatial Gaussian lives on a :math:`4M\\times4N` grid centred on the origin, is folded onto
    :math:`M\\times N` (sum of the :math:`4\\times4` tiles) and normalised to sum 1. It is separable,
    so this is done per axis: :math:`\\hat\\phi=\\hat g_M\\otimes\\hat g_N`.

    Parameters
    ----------
    M, N : int >= 2
    sigma : float > 0
        Standard deviation of the spatial Gaussian, in pixels (see :func:`lowpass_sigma`).
    dtype : torch.float32 or torch.float64
    device : torch.device or str, optional

    Returns
    -------
    (M, N) real tensor
        :math:`\\hat\\phi` in FFT order, even (:math:`\\hat\\phi(-\\omega)=\\hat\\phi(\\omega)`),
        :math:`\\hat\\phi(0)=1`.
    """
    M, N = check_int(M, "M", 2), check_int(N, "N", 2)
    sigma = float(check_positive(sigma, "sigma"))
    dev, work = _setup(dtype, device)
    phi = _gaussian_1d_hat(M, sigma, work)[:, None] * _gaussian_1d_hat(N, sigma, work)[None, :]
    return phi.to(device=dev, dtype=dtype)


def filter_bank_bump_2d(M: int, N: int, J: int, L: int, *, full_circle: bool = True, xi0: float = XI0,
                        sigma_phi: float | None = None, dtype: torch.dtype = _F64,
                        device: torch.device | str | None = None) -> dict[str, Any]:
    """The bump steerable bank :math:`\\{\\hat\\psi_{j,\\theta_\\ell}\\}` and its Gaussian low-pass, in Fourier.

    Scales :math:`j=0..J-1` (:math:`\\xi_j=\\xi_0 2^{-j}`, finest first), orientations
    :math:`\\theta_\\ell=\\ell\\pi/L` for :math:`\\ell=0..2L-1` (``full_circle``) or :math:`0..L-1`.

    Parameters
    ----------
    M, N : int >= 2
        Grid size (rows, columns).
    J : int >= 1
        Number of scales, with :math:`2^J\\le\\min(M,N)`.
    L : int >= 1
        Orientations per half circle (:math:`\\pi/L` apart); angular profile :math:`\\cos^{L-1}`.
    full_circle : bool
        ``True``: :math:`2L` orientations covering :math:`[0,2\\pi)`; ``False``: :math:`L`, over :math:`[0,\\pi)`.
    xi0 : float in (0, pi]
    sigma_phi : float > 0, optional
        Width in pixels of the low-pass; default :func:`lowpass_sigma` ``(J, xi0)``.
    dtype : torch.float32 or torch.float64
    device : torch.device or str, optional

    Returns
    -------
    dict
        ``"psi"``: ``(J, n_theta, M, N)`` real tensor, ``psi[j, l]`` = :math:`\\hat\\psi_{j,\\theta_l}`;
        ``"phi"``: ``(M, N)`` real tensor (both in FFT order, entry ``[0, 0]`` is :math:`\\omega=0`);
        ``"j"``: list ``[0..J-1]``; ``"theta"``: ``(n_theta,)`` float64 CPU tensor of angles;
        ``"xi"``: ``(J,)`` float64 CPU tensor of :math:`\\xi_j`; ``"L"``, ``"J"``, ``"full_circle"``,
        ``"xi0"``, ``"sigma_phi"``.
    """
    M, N = check_int(M, "M", 2), check_int(N, "N", 2)
    J, L = check_int(J, "J", 1), check_int(L, "L", 1)
    if 2**J > min(M, N):
        raise ValueError(f"J: expected 2**J <= min(M, N) = {min(M, N)}, got J={J} (2**J = {2**J})")
    check_in(full_circle, "full_circle", (True, False))
    xi0 = _check_xi0(xi0)
    sigma_phi = lowpass_sigma(J, xi0) if sigma_phi is None else float(check_positive(sigma_phi, "sigma_phi"))
    dev, work = _setup(dtype, device)
    n_theta = 2 * L if full_circle else L
    theta = torch.arange(n_theta, dtype=_F64) * (math.pi / L)
    xi = xi0 / 2.0 ** torch.arange(J, dtype=_F64)
    psi = torch.empty(J, n_theta, M, N, dtype=dtype, device=dev)
    for j in range(J):
        psi[j] = _bump_stack(M, N, float(xi[j]), theta, L, work).to(device=dev, dtype=dtype)
    phi = gaussian_2d_hat(M, N, sigma_phi, dtype=dtype, device=dev)
    return {"psi": psi, "phi": phi, "j": list(range(J)), "theta": theta, "xi": xi, "L": L, "J": J,
            "full_circle": bool(full_circle), "xi0": xi0, "sigma_phi": sigma_phi}
