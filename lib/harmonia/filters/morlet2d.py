"""2D Morlet filter banks with L orientations, with the exact definitions and constants of kymatio 0.3.0
(which are ScatNet's).

Filters are built in **space** on the (padded) periodic grid :math:`M\\times N` and then transformed:
a rotated, anisotropic Gaussian envelope times a plane wave, periodised over the 5x5 neighbouring
copies of the grid. Frequencies are in **radians per sample**, :math:`\\omega\\in[-\\pi,\\pi)^2`, axis 0
(rows) being the first coordinate :math:`u_1`.

Kymatio's numerical details are kept on purpose so that the filters agree with kymatio's to float32
precision: the literal constant ``3.1415`` in the normalisation (so :math:`\\hat\\phi(0)=1.0000295`,
not 1), rotation matrices rounded to float32, the 25 copies accumulated in complex64, and the stored
filter is the **real part** of the FFT (the imaginary part vanishes since
:math:`\\psi(-u)=\\overline{\\psi(u)}`).

Bank (:func:`filter_bank_2d`), for scales :math:`j=0..J-1` and orientation indices :math:`t=0..L-1`:

.. math:: \\sigma_j=0.8\\cdot2^j,\\qquad \\xi_j=\\tfrac{3\\pi}{4}2^{-j},\\qquad s=4/L,\\qquad
          \\theta_t=\\big(\\lfloor L-L/2-1\\rfloor-t\\big)\\pi/L,

(for ``L=8``: :math:`\\theta_t=3\\pi/8,2\\pi/8,\\dots,-\\pi/2`, decreasing; the integer part is a
truncation toward zero, as kymatio's ``int``, which differs from the floor only for ``L=1``), and the
low-pass :math:`\\phi` is the Gabor function with :math:`\\sigma=0.8\\cdot2^{J-1}`, :math:`\\xi=0`,
:math:`s=1`. Each filter is stored at several "levels" :math:`r` (resolutions :math:`M/2^r\\times N/2^r`,
see :func:`harmonia.fourier.crop_filter_2d`), for use on signals already subsampled by :math:`2^r`.

Used in: chapter 05.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from harmonia.config import check_int, check_positive
from harmonia.fourier import crop_filter_2d

__all__ = [
    "PI_KYMATIO",
    "gabor_2d",
    "morlet_2d",
    "filter_params_2d",
    "filter_bank_2d",
    "compute_padding_2d",
]

PI_KYMATIO = 3.1415
"""The literal constant of kymatio's (and ScatNet's) Gabor normalisation, instead of :math:`\\pi`."""

_F64, _C64 = torch.float64, torch.complex64
# A periodised copy whose envelope stays below exp(-_NEGLIGIBLE) everywhere is below the smallest
# float32 subnormal / 2 (exp(-104) ~ 7e-46): adding it to a complex64 accumulator changes nothing,
# so skipping it is exact.
_NEGLIGIBLE = 120.0


def _curvature(sigma: float, theta: float, slant: float) -> tuple[float, float, float]:
    """Coefficients ``(a, b, c)`` of :math:`u^\\top C u=a u_1^2+b u_1u_2+c u_2^2` with
    :math:`C=R_\\theta\\,\\mathrm{diag}(1,s^2)R_\\theta^\\top/(2\\sigma^2)` and :math:`R_\\theta` rounded to
    float32 (as kymatio), the products in float64."""
    cos32 = float(torch.tensor(math.cos(theta), dtype=torch.float32))
    sin32 = float(torch.tensor(math.sin(theta), dtype=torch.float32))
    R = torch.tensor([[cos32, -sin32], [sin32, cos32]], dtype=_F64)
    R_inv = torch.tensor([[cos32, sin32], [-sin32, cos32]], dtype=_F64)
    D = torch.tensor([[1.0, 0.0], [0.0, slant * slant]], dtype=_F64)
    C = R @ (D @ R_inv) / (2 * sigma * sigma)
    return float(C[0, 0]), float(C[0, 1] + C[1, 0]), float(C[1, 1])


def _axis_distance(e: int, n: int, offset: int) -> int:
    """Distance from 0 to the integers ``offset + e*n + [0, n)``."""
    lo, hi = offset + e * n, offset + e * n + n - 1
    return 0 if lo <= 0 <= hi else min(abs(lo), abs(hi))


def _gabor_stack(M: int, N: int, sigma: float, thetas: list[float], xi: float, slant: float,
                 offset: int, with_gaussian: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """:func:`gabor_2d` for several orientations at once: a ``(len(thetas), M, N)`` complex64 tensor,
    and (``with_gaussian``) the same with :math:`\\xi=0`, which shares the envelope.

    The copies of the grid that matter are evaluated together (float64 exponent, real-valued exp, cos
    and sin), cast to complex64 and summed over copies; copies whose envelope is below
    ``exp(-_NEGLIGIBLE)`` everywhere vanish in complex64 and are skipped. The smallest eigenvalue of
    :math:`C` (:math:`\\min(1,s^2)/2\\sigma^2`, whatever :math:`\\theta`) bounds the envelope of a copy by
    its distance to the origin.
    """
    coefs = torch.tensor([_curvature(sigma, t, slant) for t in thetas], dtype=_F64)  # (T, 3)
    lam_min = min(1.0, slant * slant) / (2 * sigma * sigma) * (1 - 1e-6)  # float32 rounding of R
    tiles = [(e1, e2) for e1 in range(-2, 3) for e2 in range(-2, 3)
             if lam_min * (_axis_distance(e1, M, offset) ** 2 + _axis_distance(e2, N, offset) ** 2) <= _NEGLIGIBLE]
    # (copies, M, 1) and (copies, 1, N) coordinates, in kymatio's order (e1 outer, e2 inner)
    x = (torch.arange(M, dtype=_F64)[None, :, None]
         + torch.tensor([offset + e1 * M for e1, _ in tiles], dtype=_F64)[:, None, None])
    y = (torch.arange(N, dtype=_F64)[None, None, :]
         + torch.tensor([offset + e2 * N for _, e2 in tiles], dtype=_F64)[:, None, None])
    T = len(thetas)
    wave = torch.zeros(T, M, N, dtype=_C64)
    gauss = torch.zeros(T, M, N, dtype=_C64) if with_gaussian or xi == 0 else None
    # one orientation and one copy of the grid at a time, accumulated in order in complex64: the float64
    # temporaries are (M, N), so building a bank costs little more memory than the bank itself
    for t, theta in enumerate(thetas):
        a, b, c = (float(v) for v in coefs[t])
        for q in range(len(tiles)):
            xq, yq = x[q], y[q]                                                      # (M, 1), (1, N)
            envelope = torch.exp(-(a * xq * xq + b * xq * yq + c * yq * yq))       # (M, N)
            if gauss is not None:
                gauss[t] += envelope.to(_C64)
            if xi != 0:
                phase = xq * (xi * math.cos(theta)) + yq * (xi * math.sin(theta))
                wave[t] += torch.complex(envelope * torch.cos(phase), envelope * torch.sin(phase)).to(_C64)
    if xi == 0:
        wave = gauss
    if not with_gaussian:
        gauss = None
    norm = 2 * PI_KYMATIO * sigma * sigma / slant
    return wave / norm, (gauss / norm if gauss is not None else None)


def _check_gabor_args(M, N, sigma, theta, xi, slant, offset) -> tuple:
    M, N = check_int(M, "M"), check_int(N, "N")
    sigma = check_positive(sigma, "sigma")
    slant = check_positive(slant, "slant")
    for name, v in (("theta", theta), ("xi", xi)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{name}: expected a finite number, got {v!r}")
    if isinstance(offset, bool) or not isinstance(offset, int):
        raise TypeError(f"offset: expected an int, got {type(offset).__name__} {offset!r}")
    return M, N, sigma, float(theta), float(xi), slant, offset


def gabor_2d(M: int, N: int, sigma: float, theta: float, xi: float, slant: float = 1.0,
             offset: int = 0) -> torch.Tensor:
    """A periodised 2D Gabor function in space (kymatio 0.3.0's ``gabor_2d``).

    .. math:: \\mathrm{gab}(u)=\\frac{s}{2\\cdot3.1415\\,\\sigma^2}\\sum_{e_1,e_2=-2}^{2}
              \\exp\\!\\big(-\\tilde u^\\top C\\tilde u+i\\xi(\\tilde u_1\\cos\\theta+\\tilde u_2\\sin\\theta)\\big),
              \\quad \\tilde u=(u_1+\\mathrm{offset}+e_1M,\\ u_2+\\mathrm{offset}+e_2N),

    with :math:`C=R_\\theta\\,\\mathrm{diag}(1,s^2)R_\\theta^{\\top}/(2\\sigma^2)`. The envelope has width
    :math:`\\sigma` along the direction :math:`\\theta` and :math:`\\sigma/s` across it; the plane wave has
    frequency :math:`\\xi` (radians per sample) along :math:`(\\cos\\theta,\\sin\\theta)`. The 25 copies are
    summed in complex64; copies that vanish in complex64 are skipped (exactly).

    Parameters
    ----------
    M, N : int
        Grid size (rows, columns).
    sigma : float
        Width of the envelope, in samples.
    theta : float
        Orientation in radians, measured from axis 0.
    xi : float
        Centre frequency in radians per sample (0 gives a Gaussian).
    slant : float
        Aspect ratio :math:`s` of the envelope (1: isotropic).
    offset : int
        Shift of the grid origin (kymatio's ``offset``).

    Returns
    -------
    (M, N) complex64 tensor

    Used in: chapter 05.
    """
    M, N, sigma, theta, xi, slant, offset = _check_gabor_args(M, N, sigma, theta, xi, slant, offset)
    return _gabor_stack(M, N, sigma, [theta], xi, slant, offset)[0][0]


def _morlet_stack(M: int, N: int, sigma: float, thetas: list[float], xi: float, slant: float,
                  offset: int) -> torch.Tensor:
    wave, gauss = _gabor_stack(M, N, sigma, thetas, xi, slant, offset, with_gaussian=True)
    K = wave.sum(dim=(-2, -1), keepdim=True) / gauss.sum(dim=(-2, -1), keepdim=True)
    return wave - K * gauss


def morlet_2d(M: int, N: int, sigma: float, theta: float, xi: float, slant: float = 0.5,
              offset: int = 0) -> torch.Tensor:
    """A periodised 2D Morlet wavelet in space: a Gabor function minus a Gaussian, exactly zero-mean.

    .. math:: \\psi=\\mathrm{gab}_{\\sigma,\\theta,\\xi,s}-K\\,\\mathrm{gab}_{\\sigma,\\theta,0,s},\\qquad
              K=\\frac{\\sum_u\\mathrm{gab}_{\\sigma,\\theta,\\xi,s}(u)}{\\sum_u\\mathrm{gab}_{\\sigma,\\theta,0,s}(u)}

    (see :func:`gabor_2d`; all in complex64 as kymatio).

    Parameters
    ----------
    M, N, sigma, theta, xi, slant, offset
        As in :func:`gabor_2d` (default slant 0.5, the value for ``L=8``).

    Returns
    -------
    (M, N) complex64 tensor with :math:`\\sum_u\\psi(u)=0` (up to float32 rounding)

    Used in: chapter 05.
    """
    M, N, sigma, theta, xi, slant, offset = _check_gabor_args(M, N, sigma, theta, xi, slant, offset)
    return _morlet_stack(M, N, sigma, [theta], xi, slant, offset)[0]


def filter_params_2d(J: int, L: int = 8) -> list[dict[str, Any]]:
    """Parameters of the 2D wavelets, in kymatio's filter order (:math:`n=jL+t`).

    Returns
    -------
    list of dicts with keys ``j``, ``theta`` (orientation index :math:`t`), ``angle``
    (:math:`\\theta_t` in radians), ``sigma`` (:math:`0.8\\cdot2^j`), ``xi``
    (:math:`\\tfrac{3\\pi}{4}2^{-j}`), ``slant`` (:math:`4/L`).

    Used in: chapter 05.
    """
    J, L = check_int(J, "J"), check_int(L, "L")
    top = int(L - L / 2 - 1)  # truncation toward zero, as kymatio
    return [
        {"j": j, "theta": t, "angle": (top - t) * math.pi / L, "sigma": 0.8 * 2**j,
         "xi": 3.0 / 4.0 * math.pi / 2**j, "slant": 4.0 / L}
        for j in range(J)
        for t in range(L)
    ]


def _real_fft2(h: torch.Tensor) -> torch.Tensor:
    return torch.fft.fft2(h).real.contiguous()  # (..., M, N) float32


def filter_bank_2d(M: int, N: int, J: int, L: int = 8) -> dict[str, Any]:
    """The 2D Morlet filter bank of the scattering transform, in Fourier, at all the levels it needs.

    Wavelets :math:`\\hat\\psi_{j,t}=\\mathrm{Re}\\,\\mathrm{FFT2}(\\psi_{j,t})` with the parameters of
    :func:`filter_params_2d`; low-pass :math:`\\hat\\phi=\\mathrm{Re}\\,\\mathrm{FFT2}(\\mathrm{gab}_{0.8\\cdot
    2^{J-1},0,0,1})`. Level :math:`r` of a filter is :func:`~harmonia.fourier.crop_filter_2d` of it
    (size :math:`M/2^r\\times N/2^r`); the low-pass is kept at levels :math:`r=0..J-1`, the wavelet of
    scale :math:`j` at levels :math:`r<\\min(j+1,\\max(J-1,1))` (the resolutions at which a scattering
    path reaches it).

    Parameters
    ----------
    M, N : int
        Grid size, usually the padded size of :func:`compute_padding_2d`; both must be multiples of
        :math:`2^{J-1}`.
    J : int >= 1
        Number of scales.
    L : int >= 1
        Number of orientations (the filters are designed for ``L=8``).

    Returns
    -------
    dict
        ``"phi"``: list of ``J`` float32 tensors, level ``r`` of shape ``(M/2^r, N/2^r)``;
        ``"psi"``: list of ``J*L`` dicts (order :math:`n=jL+t`) with ``"j"``, ``"theta"`` (index),
        ``"angle"`` (radians), ``"sigma"``, ``"xi"``, ``"slant"`` and ``"levels"`` (list of float32
        tensors as for ``"phi"``); ``"J"``, ``"L"``, ``"shape"``.

    Used in: chapter 05.
    """
    M, N = check_int(M, "M"), check_int(N, "N")
    J, L = check_int(J, "J"), check_int(L, "L")
    f = 2 ** (J - 1)
    if M % f or N % f:
        raise ValueError(f"M, N: expected multiples of 2**(J-1) = {f} (the coarsest filter level), got ({M}, {N})")
    n_psi_levels = lambda j: min(j + 1, max(J - 1, 1))  # noqa: E731
    params = filter_params_2d(J, L)
    psi = []
    for j in range(J):  # the L orientations of one scale at once
        group = params[j * L : (j + 1) * L]
        spatial = _morlet_stack(M, N, group[0]["sigma"], [p["angle"] for p in group], group[0]["xi"],
                                group[0]["slant"], 0)
        levels = [crop_filter_2d(_real_fft2(spatial), r) for r in range(n_psi_levels(j))]
        psi.extend({**p, "levels": [level[t] for level in levels]} for t, p in enumerate(group))
    phi_hat = _real_fft2(_gabor_stack(M, N, 0.8 * 2 ** (J - 1), [0.0], 0.0, 1.0, 0)[0][0])
    phi = [crop_filter_2d(phi_hat, r) for r in range(J)]
    return {"phi": phi, "psi": psi, "J": J, "L": L, "shape": (M, N)}


def compute_padding_2d(M: int, N: int, J: int) -> tuple[int, int]:
    """Padded grid size of the 2D scattering (kymatio 0.3.0's rule).

    .. math:: M_p=\\big(\\lfloor (M+2^J)/2^J\\rfloor+1\\big)2^J,\\qquad N_p\\text{ likewise},

    i.e. the input plus at least :math:`2^J` samples of (reflect) padding, rounded to a multiple of
    :math:`2^J`. The scattering pads :math:`\\lfloor(M_p-M)/2\\rfloor` rows on top and
    :math:`\\lfloor(M_p-M+1)/2\\rfloor` at the bottom (columns alike).

    Parameters
    ----------
    M, N : int
        Input size.
    J : int >= 0

    Returns
    -------
    (M_padded, N_padded) : tuple of int

    Used in: chapter 05.
    """
    M, N = check_int(M, "M"), check_int(N, "N")
    J = check_int(J, "J", 0)
    step = 2**J
    return ((M + step) // step + 1) * step, ((N + step) // step + 1) * step
