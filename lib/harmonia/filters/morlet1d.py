"""1D Morlet filter banks in Fourier, with the exact definitions and constants of kymatio 0.3.0.

Frequencies are in **cycles per sample**, :math:`f\\in[-1/2,1/2)`, on the DFT grid :math:`f_k=k/N`
(FFT order). Every filter is real in Fourier and built in float64.

The bank (:func:`morlet_1d_params`) has ``Q`` wavelets per octave: a constant-Q (geometric) part
from :math:`\\xi_{\\max}` down to the scale :math:`2^J`, then ``Q - 1`` constant-bandwidth wavelets
that tile the low frequencies. Each wavelet carries the integer ``j``, the largest dyadic
subsampling its output tolerates without aliasing; the scattering transform subsamples and prunes
second-order paths with this ``j`` (not with an octave index).

Constants (kymatio 0.3.0): :math:`r_\\psi=\\sqrt{1/2}`, :math:`\\sigma_0=0.1`, :math:`\\alpha=5`,
:math:`\\varepsilon=10^{-7}`.

Used in: chapter 05.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from harmonia.config import check_positive, check_tensor
from harmonia.fourier import periodize_filter

__all__ = [
    "morlet_bank_1d",
    "R_PSI",
    "SIGMA0",
    "ALPHA",
    "xi_max",
    "sigma_from_xi",
    "max_dyadic_subsampling",
    "morlet_1d_params",
    "gauss_1d_hat",
    "morlet_1d_hat",
    "temporal_support",
    "compute_padding",
    "filter_bank_1d",
]

R_PSI = math.sqrt(0.5)
SIGMA0 = 0.1
ALPHA = 5.0
_F64 = torch.float64


def _check_Q(Q: object, name: str = "Q") -> int:
    if isinstance(Q, bool) or not isinstance(Q, int):
        raise TypeError(f"{name}: expected an int >= 1 (wavelets per octave), got {type(Q).__name__} {Q!r}")
    if Q < 1:
        raise ValueError(f"{name}: expected an int >= 1 (wavelets per octave), got {Q!r}")
    return Q


def _check_r_psi(r_psi: object) -> float:
    r = check_positive(r_psi, "r_psi")
    if not r < 1:
        raise ValueError(f"r_psi: expected a number in (0, 1), got {r_psi!r}")
    return r


def xi_max(Q: int) -> float:
    """Centre frequency of the first (highest) wavelet, in cycles per sample.

    .. math:: \\xi_{\\max}(Q)=\\max\\big(1/(1+2^{3/Q}),\\ 0.35\\big)

    (0.35 for :math:`Q\\le3`, 0.3728 for :math:`Q=4`, 0.43538 for :math:`Q=8`). Used in: chapter 05.
    """
    Q = _check_Q(Q)
    return max(1.0 / (1.0 + math.pow(2.0, 3.0 / Q)), 0.35)


def sigma_from_xi(xi: float, Q: int, r_psi: float = R_PSI) -> float:
    """The constant-Q width rule: the width of a Morlet wavelet centred at ``xi``.

    Neighbouring Gaussians :math:`e^{-(f-\\xi)^2/2\\sigma^2}` at :math:`\\xi` and :math:`\\xi 2^{-1/Q}`
    cross at the level ``r_psi`` when

    .. math:: \\sigma(\\xi,Q)=\\xi\\,\\frac{1-2^{-1/Q}}{1+2^{-1/Q}}\\,\\frac{1}{\\sqrt{2\\ln(1/r_\\psi)}} .

    Parameters
    ----------
    xi : float
        Centre frequency (cycles per sample).
    Q : int >= 1
        Wavelets per octave.
    r_psi : float in (0, 1)
        Crossing level of neighbouring wavelets (default :math:`\\sqrt{1/2}`, half power).

    Returns
    -------
    float
        For :math:`Q=1`, :math:`\\sigma=0.40036\\,\\xi` (e.g. :math:`\\sigma(0.35,1)=0.140131`).

    Used in: chapter 05.
    """
    xi = check_positive(xi, "xi", allow_zero=True)
    Q = _check_Q(Q)
    r_psi = _check_r_psi(r_psi)
    factor = 1.0 / math.pow(2.0, 1.0 / Q)
    shape_term = (1.0 - factor) / (1.0 + factor)
    level_term = 1.0 / math.sqrt(2.0 * math.log(1.0 / r_psi))
    return xi * shape_term * level_term


def max_dyadic_subsampling(xi: float, sigma: float, alpha: float = ALPHA) -> int:
    """Largest ``j`` such that a filter at ``xi`` of width ``sigma`` can be subsampled by
    :math:`2^j` without (much) aliasing:

    .. math:: j=\\lfloor-\\log_2\\min(\\xi+\\alpha\\sigma,\\ 1/2)\\rfloor-1 .

    Used in: chapter 05.
    """
    if not isinstance(xi, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(xi, "xi")
    if not isinstance(sigma, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(sigma, "sigma")
    if not isinstance(alpha, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(alpha, "alpha", allow_zero=True)
    return int(math.floor(-math.log2(min(xi + alpha * sigma, 0.5)))) - 1


def morlet_1d_params(
    J: int, Q: int, r_psi: float = R_PSI, sigma0: float = SIGMA0, alpha: float = ALPHA
) -> dict[str, list]:
    """Centre frequencies, widths and maximal subsamplings of a 1D Morlet bank (kymatio 0.3.0).

    1. :math:`\\xi_{\\max}` from :func:`xi_max`, :math:`\\sigma_{\\min}=\\sigma_0/2^J`.
    2. Constant-Q part: start at :math:`(\\xi_{\\max},\\sigma(\\xi_{\\max}))` and, while the last
       :math:`\\sigma>\\sigma_{\\min}2^{1/Q}`, append :math:`(\\xi 2^{-1/Q},\\sigma 2^{-1/Q})`. The last
       centre is the elbow :math:`\\xi_e` (if :math:`\\sigma(\\xi_{\\max})\\le\\sigma_{\\min}` the part
       is empty and :math:`\\xi_e=\\sigma(\\xi_{\\max})`).
    3. Constant-bandwidth part: :math:`\\xi=\\xi_e(1-q/Q)`, :math:`\\sigma=\\sigma_{\\min}`,
       :math:`q=1..Q-1`.
    4. :math:`j=\\lfloor-\\log_2\\min(\\xi+\\alpha\\sigma,1/2)\\rfloor-1` for each filter.

    Parameters
    ----------
    J : int >= 0
        Number of octaves (maximal scale :math:`2^J`).
    Q : int >= 1
        Wavelets per octave.
    r_psi, sigma0, alpha : float
        Crossing level, low-pass width at scale 1, aliasing tolerance (kymatio's constants).

    Returns
    -------
    dict
        ``{"xi": [...], "sigma": [...], "j": [...]}``, lists of equal length, filters by
        decreasing ``xi``. Examples: ``J=6, Q=8`` has 38 filters, ``J=8, Q=1`` has 9 with
        ``j = [0, 0, 0, 1, 2, 3, 4, 5, 6]``.

    Used in: chapter 05.
    """
    J = check_positive(J, "J", integer=True, allow_zero=True)
    Q = _check_Q(Q)
    r_psi = _check_r_psi(r_psi)
    sigma0 = check_positive(sigma0, "sigma0")
    alpha = check_positive(alpha, "alpha")

    sigma_min = sigma0 / math.pow(2.0, J)
    x_max = xi_max(Q)
    s_max = sigma_from_xi(x_max, Q, r_psi)
    step = math.pow(2.0, 1.0 / Q)
    xis: list[float] = []
    sigmas: list[float] = []
    if s_max <= sigma_min:
        elbow = s_max
    else:
        xis.append(x_max)
        sigmas.append(s_max)
        while sigmas[-1] > sigma_min * step:
            xis.append(xis[-1] / step)
            sigmas.append(sigmas[-1] / step)
        elbow = xis[-1]
    for q in range(1, Q):
        xis.append(elbow - q / Q * elbow)
        sigmas.append(sigma_min)
    js = [max_dyadic_subsampling(xi, sigma, alpha) for xi, sigma in zip(xis, sigmas)]
    return {"xi": xis, "sigma": sigmas, "j": js}


def _n_periods(sigma: float, eps: float) -> int:
    """:math:`P=\\min(\\lceil\\sqrt{-2\\sigma^2\\ln\\varepsilon}+1\\rceil, 5)` (always >= 2)."""
    return min(int(math.ceil(math.sqrt(-2.0 * sigma**2 * math.log(eps)) + 1.0)), 5)


def _periodized_gaussian(N: int, center: float, sigma: float, P: int) -> torch.Tensor:
    """:math:`\\frac{1}{2P-1}\\sum_{p=1-P}^{P-1}g_\\sigma(k/N+p-\\text{center})`, k = 0..N-1."""
    m = torch.arange((1 - P) * N, P * N, dtype=_F64)
    f = m / N
    g = torch.exp(-((f - center) ** 2) / (2.0 * sigma**2))
    return g.reshape(2 * P - 1, N).mean(dim=0)


def _l1_normalize(h_hat: torch.Tensor) -> torch.Tensor:
    """Divide by :math:`\\sum_t|h[t]|`, the L1 norm in time."""
    return h_hat / torch.fft.ifft(h_hat).abs().sum()


def _check_grid(N: object, sigma: object, eps: object) -> tuple[int, float, float]:
    N = check_positive(N, "N", integer=True)
    sigma = check_positive(sigma, "sigma")
    eps = check_positive(eps, "eps")
    if not eps < 1:
        raise ValueError(f"eps: expected a number in (0, 1), got {eps!r}")
    return int(N), float(sigma), float(eps)


def gauss_1d_hat(N: int, sigma: float, eps: float = 1e-7) -> torch.Tensor:
    """Periodised Gaussian low-pass in Fourier, L1-normalised in time.

    .. math:: \\hat\\phi[k]=\\frac{\\mathrm{Per}[g_\\sigma][k]}{\\sum_t|\\phi[t]|},\\qquad
              \\mathrm{Per}[h][k]=\\frac{1}{2P-1}\\sum_{p=1-P}^{P-1}h\\big(\\tfrac kN+p\\big),

    :math:`g_\\sigma(f)=e^{-f^2/2\\sigma^2}`, :math:`P=\\min(\\lceil\\sqrt{-2\\sigma^2\\ln\\varepsilon}+1\\rceil,5)`.
    Since :math:`\\phi\\ge0`, :math:`\\hat\\phi[0]=1`.

    Parameters
    ----------
    N : int
        Grid size (number of frequencies).
    sigma : float
        Width in cycles per sample (the scattering low-pass uses :math:`\\sigma_0/T`).
    eps : float
        Tolerance that sets the number of periods ``P``.

    Returns
    -------
    (N,) float64 tensor
        :math:`\\hat\\phi` in FFT order.

    Used in: chapter 05.
    """
    N, sigma, eps = _check_grid(N, sigma, eps)
    return _l1_normalize(_periodized_gaussian(N, 0.0, sigma, _n_periods(sigma, eps)))


def morlet_1d_hat(N: int, xi: float, sigma: float, eps: float = 1e-7) -> torch.Tensor:
    """Periodised Morlet wavelet in Fourier: zero mean, L1-normalised in time.

    .. math:: \\hat\\psi=\\mathrm{Per}[g_\\sigma(\\cdot-\\xi)]-\\kappa\\,\\mathrm{Per}[g_\\sigma],\\qquad
              \\kappa=\\frac{\\mathrm{Per}[g_\\sigma(\\cdot-\\xi)][0]}{\\mathrm{Per}[g_\\sigma][0]},

    then :math:`\\hat\\psi\\leftarrow\\hat\\psi/\\sum_t|\\psi[t]|` (see :func:`gauss_1d_hat` for
    :math:`\\mathrm{Per}` and ``P``). So :math:`\\hat\\psi[0]=0` and :math:`\\sum_t|\\psi[t]|=1`.

    Parameters
    ----------
    N : int
        Grid size.
    xi : float
        Centre frequency in cycles per sample, in (0, 1/2).
    sigma : float
        Width in cycles per sample.
    eps : float
        Tolerance that sets the number of periods ``P``.

    Returns
    -------
    (N,) float64 tensor
        :math:`\\hat\\psi` in FFT order (real: the wavelet is analytic up to the small
        :math:`\\kappa` correction, its spectrum concentrates around :math:`+\\xi`).

    Used in: chapter 05.
    """
    N, sigma, eps = _check_grid(N, sigma, eps)
    xi = check_positive(xi, "xi")
    P = _n_periods(sigma, eps)
    gabor = _periodized_gaussian(N, float(xi), sigma, P)
    low = _periodized_gaussian(N, 0.0, sigma, P)
    kappa = gabor[0] / low[0]
    return _l1_normalize(gabor - kappa * low)


def temporal_support(h_hat: torch.Tensor, criterion: float = 1e-3) -> int:
    """Half temporal support of a centred, symmetric filter given in Fourier.

    With :math:`h=\\mathrm{IDFT}(\\hat h)` and :math:`r[n]=\\sum_{n\\le t<N/2}|h[t]|` (the L1 mass left
    beyond ``n`` on the first half), returns :math:`1+\\min\\{n: r[n]\\le\\text{criterion}\\}`
    (kymatio's ``compute_temporal_support``), or :math:`N/2` when no ``n`` qualifies (the filter
    is as wide as the signal, so expect border effects; kymatio also warns then, Harmonia does
    not: the padding rule caps the padded length at :math:`3N-2` anyway).

    Parameters
    ----------
    h_hat : (N,) tensor
        The filter in Fourier.
    criterion : float
        Tolerated L1 mass outside the support.

    Returns
    -------
    int

    Used in: chapter 05.
    """
    check_tensor(h_hat, "h_hat", ndim=1, dtype="float_or_complex", nonempty=True)
    criterion = check_positive(criterion, "criterion")
    h = torch.fft.ifft(h_hat.to(torch.complex128)).abs()
    half = h.shape[0] // 2
    residual = h[:half].flip(0).cumsum(0).flip(0)
    ok = torch.nonzero(residual <= criterion)
    if ok.numel() == 0:
        return half
    return int(ok[0, 0]) + 1


def _default_T(J: int, T: int | None) -> int:
    return 2**J if T is None else T


def compute_padding(N: int, J: int, T: int | None = None, sigma0: float = SIGMA0) -> tuple[int, int, int]:
    """Padded length and reflect-padding amounts of a 1D scattering input (kymatio 0.3.0 rule).

    With :math:`t_\\phi` the :func:`temporal_support` of the low-pass
    :math:`\\hat\\phi=` ``gauss_1d_hat(N, sigma0 / T)`` on ``N`` samples,

    .. math:: N_{\\rm pad}=2^{\\min(\\lceil\\log_2(N+6t_\\phi)\\rceil,\\ \\lfloor\\log_2(3N-2)\\rfloor)},

    ``pad_left = (N_pad - N) // 2``, ``pad_right = N_pad - N - pad_left`` (both < N, as reflect
    padding needs). Examples: ``N=1024, J=6`` gives 2048 (512/512); ``N=64, J=3`` gives 128.

    Parameters
    ----------
    N : int
        Signal length.
    J : int
        Number of octaves (sets the default ``T = 2**J``).
    T : int, optional
        Low-pass support.
    sigma0 : float
        Low-pass width at scale 1.

    Returns
    -------
    (N_pad, pad_left, pad_right) : tuple of int

    Used in: chapter 05.
    """
    N = int(check_positive(N, "N", integer=True))
    J = int(check_positive(J, "J", integer=True, allow_zero=True))
    T = _default_T(J, T)
    T = check_positive(T, "T")
    t_phi = temporal_support(gauss_1d_hat(N, sigma0 / T))
    want = (N + 6 * t_phi - 1).bit_length()  # ceil(log2(N + 6 t_phi))
    cap = (3 * N - 2).bit_length() - 1 if N > 1 else 0  # floor(log2(3N - 2))
    N_pad = 2 ** min(want, cap)
    pad_left = (N_pad - N) // 2
    pad_right = N_pad - N - pad_left
    if N_pad < N or max(pad_left, pad_right) >= N:
        raise ValueError(
            f"N: expected a signal long enough for reflect padding to {N_pad} samples "
            f"(pads must be < N), got N={N}"
        )
    return N_pad, pad_left, pad_right


def _levels(h_hat: torch.Tensor, max_level: int) -> list[torch.Tensor]:
    """:math:`\\hat h^{(k)}[m]=2^{-k}\\sum_{i<2^k}\\hat h[m+iN/2^k]`, k = 0..max_level (block mean)."""
    return [h_hat] + [periodize_filter(h_hat, 2**k, dims=-1, reduce="mean") for k in range(1, max_level + 1)]


def _split_Q(Q: object) -> tuple[int, int]:
    if isinstance(Q, Sequence) and not isinstance(Q, str):
        if len(Q) not in (1, 2):
            raise ValueError(f"Q: expected an int or a tuple (Q1,) or (Q1, Q2), got {Q!r}")
        Q1 = _check_Q(Q[0], "Q")
        Q2 = _check_Q(Q[1], "Q") if len(Q) == 2 else 1
        return Q1, Q2
    return _check_Q(Q), 1


def filter_bank_1d(
    N_pad: int,
    J: int,
    Q: int | tuple[int, ...] = 1,
    T: int | None = None,
    r_psi: float = R_PSI,
    sigma0: float = SIGMA0,
    alpha: float = ALPHA,
) -> dict[str, Any]:
    """The 1D scattering filter bank of kymatio 0.3.0 on a grid of ``N_pad`` frequencies.

    - first-order wavelets :math:`\\hat\\psi_{n_1}` (parameters ``morlet_1d_params(J, Q1)``), level 0;
    - second-order wavelets :math:`\\hat\\psi_{n_2}` (``morlet_1d_params(J, Q2)``) at the levels
      :math:`k=0..\\max\\{j_1: j_1<j_2\\}` (0 when no first-order ``j1 < j2``);
    - the low-pass :math:`\\hat\\phi` of width :math:`\\sigma_0/T` at the levels
      :math:`k=0..\\min(\\max_n j_n,\\ \\lfloor\\log_2T\\rfloor)`.

    Level ``k`` is the DFT of the time-subsampled filter :math:`h[2^kn]` (block mean of the
    spectrum), :math:`\\hat h^{(k)}[m]=2^{-k}\\sum_{i<2^k}\\hat h[m+iN_{\\rm pad}/2^k]`, of length
    :math:`N_{\\rm pad}/2^k`. (The scattering module multiplies it by :math:`2^k` in its physical
    convention.)

    Parameters
    ----------
    N_pad : int
        Grid size (padded signal length, divisible by :math:`2^k` for every level built).
    J : int
        Number of octaves.
    Q : int or tuple (Q1,) or (Q1, Q2)
        Wavelets per octave at orders 1 and 2 (an int means ``(Q, 1)``).
    T : int, optional
        Low-pass support (default :math:`2^J`).
    r_psi, sigma0, alpha : float
        kymatio's constants.

    Returns
    -------
    dict
        ``{"phi": {"levels": [...], "xi": 0.0, "sigma": sigma0 / T, "j": log2_T},
        "psi1": [{"levels": [(N_pad,) tensor], "xi", "sigma", "j"}, ...],
        "psi2": [{"levels": [(N_pad / 2**k,) tensor for k = 0..], "xi", "sigma", "j"}, ...]}``,
        every tensor float64.

    Used in: chapter 05.
    """
    N_pad = int(check_positive(N_pad, "N_pad", integer=True))
    J = int(check_positive(J, "J", integer=True, allow_zero=True))
    Q1, Q2 = _split_Q(Q)
    T = _default_T(J, T)
    T = check_positive(T, "T")
    if T < 1:
        raise ValueError(f"T: expected a number >= 1, got {T!r}")
    log2_T = int(math.floor(math.log2(T)))

    p1 = morlet_1d_params(J, Q1, r_psi, sigma0, alpha)
    p2 = morlet_1d_params(J, Q2, r_psi, sigma0, alpha)

    def _need(k: int) -> None:
        if N_pad % (2**k):
            raise ValueError(f"N_pad: expected a multiple of 2**{k} (filter levels up to {k}), got {N_pad}")

    psi2 = []
    for xi, sigma, j in zip(p2["xi"], p2["sigma"], p2["j"]):
        parents = [j1 for j1 in p1["j"] if j1 < j]
        max_level = max(parents) if parents else 0
        _need(max_level)
        psi2.append({"levels": _levels(morlet_1d_hat(N_pad, xi, sigma), max_level), "xi": xi, "sigma": sigma, "j": j})
    psi1 = [
        {"levels": [morlet_1d_hat(N_pad, xi, sigma)], "xi": xi, "sigma": sigma, "j": j}
        for xi, sigma, j in zip(p1["xi"], p1["sigma"], p1["j"])
    ]
    sigma_phi = sigma0 / T
    max_phi = min(max(p1["j"] + p2["j"], default=0), log2_T)
    _need(max_phi)
    phi = {"levels": _levels(gauss_1d_hat(N_pad, sigma_phi), max_phi), "xi": 0.0, "sigma": sigma_phi, "j": log2_T}
    return {"phi": phi, "psi1": psi1, "psi2": psi2}


def morlet_bank_1d(N: int, J: int, Q: int = 1, xi0: float | None = None, sigma0: float = SIGMA0) -> dict[str, Any]:
    r"""A full-resolution, periodic bank of constant-Q Morlet wavelets plus a Gaussian low-pass.

    Unlike :func:`filter_bank_1d` (padded grid, subsampling levels, constant-bandwidth tail), every
    filter lives on the signal's own periodic grid of ``N`` samples and the whole bank is constant-Q:

    .. math:: \xi_n=\xi_0\,2^{-n/Q},\qquad \sigma_n=\sigma(\xi_n,Q),\qquad n=0,\dots,JQ-1,

    with :func:`sigma_from_xi`'s width rule and a low-pass of width :math:`\sigma_0/2^J`. This is the bank
    of the phase harmonic moments (chapter 06), which use no subsampling.

    Parameters
    ----------
    N : int >= 2
        Signal length.
    J : int >= 1
        Number of octaves.
    Q : int >= 1
        Wavelets per octave.
    xi0 : float, optional
        Highest centre frequency in cycles per sample (default :func:`xi_max`, 0.35 for ``Q=1``).
    sigma0 : float
        Low-pass width at scale 1 (cycles per sample).

    Returns
    -------
    dict
        ``"psi"``: (J*Q, N) float64 spectra in FFT order (nearly analytic: concentrated on positive
        frequencies), ``"phi"``: (N,) float64, ``"xi"``, ``"sigma"``: lists of length J*Q.

    Used in: chapter 06.
    """
    N = check_positive(N, "N", integer=True)
    J = check_positive(J, "J", integer=True)
    Q = _check_Q(Q)
    x0 = xi_max(Q) if xi0 is None else check_positive(xi0, "xi0")
    if not x0 < 0.5:
        raise ValueError(f"xi0: expected a centre frequency in (0, 0.5) cycles per sample, got {xi0!r}")
    xis = [x0 * math.pow(2.0, -n / Q) for n in range(J * Q)]
    sigmas = [sigma_from_xi(xi, Q) for xi in xis]
    psi = torch.stack([morlet_1d_hat(N, xi, s) for xi, s in zip(xis, sigmas)])
    phi = gauss_1d_hat(N, check_positive(sigma0, "sigma0") / math.pow(2.0, J))
    return {"psi": psi, "phi": phi, "xi": xis, "sigma": sigmas}
