"""3D solid harmonic wavelets in Fourier (the filters of :class:`~harmonia.scattering.HarmonicScattering3D`).

A solid harmonic wavelet of scale :math:`\\sigma`, degree :math:`\\ell\\ge0` and order
:math:`-\\ell\\le m\\le\\ell` is a Gaussian times a homogeneous harmonic polynomial. Its Fourier
transform has the same form (kymatio 0.3 definition):

.. math::

    \\hat\\psi_{\\sigma,0,0}(\\omega) = e^{-\\sigma^2|\\omega|^2/2},\\qquad
    \\hat\\psi_{\\sigma,\\ell,m}(\\omega) = c_\\ell\\,(2\\pi)^{3/2}\\,(-i)^\\ell\\,(\\sigma|\\omega|)^\\ell\\,
        e^{-\\sigma^2|\\omega|^2/2}\\,Y_\\ell^m(\\vartheta,\\varphi)\\quad(\\ell\\ge1),

with the normalising constants

.. math::

    c_\\ell = \\big(2\\pi\\sqrt{\\ell+\\tfrac12}\\,(\\ell+1)!!\\big)^{-1}\\ (\\ell\\text{ even}),\\qquad
    c_\\ell = \\big(2^{(\\ell+3)/2}\\sqrt{\\pi(2\\ell+1)}\\,(\\tfrac{\\ell+1}{2})!\\big)^{-1}\\ (\\ell\\text{ odd})

(:math:`c_0(2\\pi)^{3/2}Y_0^0=1`, so the general formula also gives the Gaussian at :math:`\\ell=0`).

Grid conventions (as kymatio): the frequency grid :math:`\\omega=2\\pi(k_0/M,k_1/N,k_2/O)` is in FFT order
(:func:`harmonia.fourier.fftfreq_grid`); axis 0 is :math:`z`, axis 1 is :math:`y`, axis 2 is :math:`x`;
the azimuth is :math:`\\varphi=\\operatorname{atan2}(\\omega_y,\\omega_x)` and the "polar" angle is
:math:`\\vartheta=\\operatorname{atan2}(\\omega_z,\\sqrt{\\omega_x^2+\\omega_y^2})+\\pi/2` -- the usual polar
angle reflected (:math:`\\vartheta=\\pi-\\theta`), which only multiplies :math:`Y_\\ell^m` by
:math:`(-1)^{\\ell+m}` and leaves every rotation-invariant quantity unchanged.

One difference from kymatio 0.3: kymatio builds its grid with ``-M // 2``, which for *odd* sizes is
off by one (its zero frequency is not at index 0); here odd sizes use the true FFT-order grid. For
even sizes the two agree.

:func:`sph_harm` hides SciPy's change of API: SciPy 1.17 removed ``sph_harm(m, l, azimuth, polar)``;
its replacement ``sph_harm_y(l, m, polar, azimuth)`` swaps both the (degree, order) and the angle
arguments, so ``sph_harm = sph_harm_y`` silently builds wrong filters.

Used in: chapter 05.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special as _special
import torch

from harmonia.config import check_broadcast, check_in, check_positive, check_tensor
from harmonia.fourier import fftfreq_grid

__all__ = ["sph_harm", "solid_harmonic_constant", "solid_harmonic_3d_hat", "solid_harmonic_filter_bank"]


def _check_degree_order(l: object, m: object) -> tuple[int, int]:
    l = int(check_positive(l, "l", integer=True, allow_zero=True))
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)):
        raise TypeError(f"m: expected an int with |m| <= l = {l}, got {type(m).__name__} {m!r}")
    if abs(int(m)) > l:
        raise ValueError(f"m: expected an int with |m| <= l = {l}, got {int(m)}")
    return l, int(m)


def sph_harm(l: int, m: int, polar: torch.Tensor | np.ndarray | float,
             azimuth: torch.Tensor | np.ndarray | float) -> torch.Tensor:
    """Orthonormal complex spherical harmonic :math:`Y_\\ell^m(\\theta,\\varphi)` (SciPy's convention).

    .. math::

        Y_\\ell^m(\\theta,\\varphi)=\\sqrt{\\frac{2\\ell+1}{4\\pi}\\frac{(\\ell-m)!}{(\\ell+m)!}}
        \\,P_\\ell^m(\\cos\\theta)\\,e^{im\\varphi},

    with the Condon-Shortley phase in :math:`P_\\ell^m`, so that
    :math:`\\int_{S^2}Y_\\ell^m\\overline{Y_{\\ell'}^{m'}}=\\delta_{\\ell\\ell'}\\delta_{mm'}` and
    :math:`Y_\\ell^{-m}=(-1)^m\\overline{Y_\\ell^m}`.

    Works with every SciPy: ``scipy.special.sph_harm_y(l, m, polar, azimuth)`` when it exists
    (SciPy >= 1.15; the only one from 1.17), else the legacy ``sph_harm(m, l, azimuth, polar)``.
    Note the argument order here is (degree, order, polar, azimuth), as ``sph_harm_y``.

    Parameters
    ----------
    l : int >= 0
        Degree.
    m : int, |m| <= l
        Order.
    polar : tensor, array or float
        Polar angle :math:`\\theta\\in[0,\\pi]` (colatitude).
    azimuth : tensor, array or float, broadcastable with ``polar``
        Azimuth :math:`\\varphi`.

    Returns
    -------
    complex128 tensor of the broadcast shape of ``polar`` and ``azimuth`` (on ``polar``'s device
    when it is a tensor, else on the CPU)

    Used in: chapter 05.
    """
    l, m = _check_degree_order(l, m)
    shapes = []
    for name, angle in (("polar", polar), ("azimuth", azimuth)):
        if isinstance(angle, torch.Tensor):
            check_tensor(angle, name, dtype="real", finite=False)
        shapes.append(tuple(np.shape(angle)))
    check_broadcast(shapes[0], shapes[1], "polar", "azimuth")
    device = polar.device if isinstance(polar, torch.Tensor) else None
    theta = np.asarray(polar.detach().cpu() if isinstance(polar, torch.Tensor) else polar, dtype=np.float64)
    phi = np.asarray(azimuth.detach().cpu() if isinstance(azimuth, torch.Tensor) else azimuth, dtype=np.float64)
    if hasattr(_special, "sph_harm_y"):
        values = _special.sph_harm_y(l, m, theta, phi)
    else:  # SciPy < 1.15: sph_harm(order, degree, azimuth, polar)
        values = _special.sph_harm(m, l, phi, theta)
    return torch.as_tensor(np.asarray(values, dtype=np.complex128), device=device)


def solid_harmonic_constant(l: int) -> float:
    """The normalising constant :math:`c_\\ell` of the solid harmonic wavelets (module docstring).

    Parameters
    ----------
    l : int >= 0

    Returns
    -------
    float
        :math:`(2\\pi\\sqrt{\\ell+1/2}\\,(\\ell+1)!!)^{-1}` for even :math:`\\ell`,
        :math:`(2^{(\\ell+3)/2}\\sqrt{\\pi(2\\ell+1)}\\,((\\ell+1)/2)!)^{-1}` for odd :math:`\\ell`.

    Used in: chapter 05.
    """
    l = int(check_positive(l, "l", integer=True, allow_zero=True))
    if l % 2 == 0:
        double_factorial = math.prod(range(l + 1, 0, -2))  # (l+1)!! = (l+1)(l-1)...1
        return 1.0 / (2 * math.pi * math.sqrt(l + 0.5) * double_factorial)
    return 1.0 / (2 ** ((l + 3) / 2) * math.sqrt(math.pi * (2 * l + 1)) * math.factorial((l + 1) // 2))


def _check_grid(M: object, N: object, O: object) -> tuple[int, int, int]:
    return tuple(int(check_positive(n, name, integer=True)) for n, name in ((M, "M"), (N, "N"), (O, "O")))


def _spherical_frequency_grid(M: int, N: int, O: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:math:`|\\omega|`, the reflected polar angle and the azimuth on the FFT-order grid, each (M, N, O)
    float64 (axis 0 = z, 1 = y, 2 = x)."""
    w_z, w_y, w_x = fftfreq_grid((M, N, O), radians=True, dtype=torch.float64)
    w_z, w_y, w_x = torch.broadcast_tensors(w_z, w_y, w_x)
    radius = torch.sqrt(w_z**2 + w_y**2 + w_x**2)
    azimuth = torch.atan2(w_y, w_x)
    polar = torch.atan2(w_z, torch.sqrt(w_x**2 + w_y**2)) + math.pi / 2
    return radius, polar, azimuth


def _angular_part(l: int, polar: torch.Tensor, azimuth: torch.Tensor, lowest_only: bool = False) -> torch.Tensor:
    """:math:`c_\\ell(2\\pi)^{3/2}(-i)^\\ell Y_\\ell^m(\\vartheta,\\varphi)` for m = -l..l (or only
    m = -l): (2l+1 or 1, *grid) complex128. For l = 0 this is exactly 1 (the plain Gaussian)."""
    if l == 0:
        return torch.ones((1, *polar.shape), dtype=torch.complex128)
    factor = solid_harmonic_constant(l) * (2 * math.pi) ** 1.5 * (-1j) ** l
    orders = [-l] if lowest_only else range(-l, l + 1)
    return torch.stack([sph_harm(l, m, polar, azimuth) for m in orders]) * factor


def _radial_part(l: int, sigma: float, radius: torch.Tensor) -> torch.Tensor:
    """:math:`(\\sigma|\\omega|)^\\ell e^{-\\sigma^2|\\omega|^2/2}` (float64, the grid's shape)."""
    scaled = sigma * radius
    gaussian = torch.exp(-0.5 * scaled**2)
    return gaussian if l == 0 else scaled**l * gaussian


def solid_harmonic_3d_hat(M: int, N: int, O: int, sigma: float, l: int) -> torch.Tensor:
    """The :math:`2\\ell+1` solid harmonic wavelets of scale ``sigma`` and degree ``l``, in Fourier.

    .. math::

        \\hat\\psi_{\\sigma,\\ell,m}(\\omega)=c_\\ell(2\\pi)^{3/2}(-i)^\\ell(\\sigma|\\omega|)^\\ell
        e^{-\\sigma^2|\\omega|^2/2}\\,Y_\\ell^m(\\vartheta,\\varphi),\\qquad m=-\\ell,\\dots,\\ell,

    and :math:`\\hat\\psi_{\\sigma,0,0}(\\omega)=e^{-\\sigma^2|\\omega|^2/2}` (a unit-mass Gaussian in space:
    :math:`\\hat\\psi(0)=1`). Angles and constants as in the module docstring.

    Parameters
    ----------
    M, N, O : int
        Grid size along axes 0 (z), 1 (y), 2 (x).
    sigma : float > 0
        Spatial width :math:`\\sigma` of the Gaussian.
    l : int >= 0
        Degree :math:`\\ell`.

    Returns
    -------
    (2l+1, M, N, O) complex128 tensor
        Index ``i`` along the first axis is the order :math:`m=i-\\ell`; frequencies in FFT order.

    Used in: chapter 05.
    """
    M, N, O = _check_grid(M, N, O)
    sigma = check_positive(sigma, "sigma")
    l = int(check_positive(l, "l", integer=True, allow_zero=True))
    radius, polar, azimuth = _spherical_frequency_grid(M, N, O)
    return _angular_part(l, polar, azimuth) * _radial_part(l, sigma, radius)


def solid_harmonic_filter_bank(M: int, N: int, O: int, J: int, L: int, sigma_0: float = 1.0, *,
                               orders: str = "all", dtype: torch.dtype = torch.complex128,
                               device: torch.device | str | None = None) -> list[torch.Tensor]:
    """Solid harmonic wavelets of scales :math:`\\sigma_j=\\sigma_0 2^j`, :math:`j=0..J`, and degrees
    :math:`\\ell=0..L`, in Fourier.

    A list (one tensor per degree, not one zero-padded tensor: for :math:`\\ell<L` padding along
    :math:`m` to :math:`2L+1` would waste memory) with ``bank[l][j, i] =
    solid_harmonic_3d_hat(M, N, O, sigma_0 * 2**j, l)[i]``, the order :math:`m=i-\\ell`.

    Parameters
    ----------
    M, N, O : int
        Grid size (axes z, y, x).
    J : int >= 0
        Largest scale index (there are ``J + 1`` scales).
    L : int >= 0
        Largest degree.
    sigma_0 : float > 0
        Width of the finest wavelet.
    orders : {"all", "lowest"}
        ``"all"``: the :math:`2\\ell+1` orders :math:`m=-\\ell..\\ell`; ``"lowest"``: only :math:`m=-\\ell`
        (what ``HarmonicScattering3D(rotation_covariant=False)`` uses).
    dtype : torch.complex64 or torch.complex128
        Storage dtype (computed in float64, then cast).
    device : torch.device or str, optional

    Returns
    -------
    list of L+1 tensors
        ``bank[l]`` has shape ``(J+1, 2l+1, M, N, O)`` (``(J+1, 1, M, N, O)`` for ``orders="lowest"``)
        and dtype ``dtype``; frequencies in FFT order.

    Used in: chapter 05.
    """
    M, N, O = _check_grid(M, N, O)
    J = int(check_positive(J, "J", integer=True, allow_zero=True))
    L = int(check_positive(L, "L", integer=True, allow_zero=True))
    sigma_0 = check_positive(sigma_0, "sigma_0")
    check_in(orders, "orders", ("all", "lowest"))
    check_in(dtype, "dtype", (torch.complex64, torch.complex128))
    radius, polar, azimuth = _spherical_frequency_grid(M, N, O)
    bank = []
    for l in range(L + 1):
        angular = _angular_part(l, polar, azimuth, lowest_only=orders == "lowest")
        filters_l = torch.empty((J + 1, angular.shape[0], M, N, O), dtype=dtype, device=device)
        for j in range(J + 1):
            filters_l[j] = (angular * _radial_part(l, sigma_0 * 2**j, radius)).to(device=device, dtype=dtype)
        bank.append(filters_l)
    return bank
