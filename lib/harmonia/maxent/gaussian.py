"""The Gaussian maximum-entropy model (model A of Zhang & Mallat, ACHA 2021).

Gaussian part -- model "A" of the paper
---------------------------------------
A stationary Gaussian field on an :math:`M\\times N` periodic grid is described by its power spectrum
:math:`P(\\omega)`, in the periodogram convention :math:`E|\\hat x(\\omega)|^2/(MN)=P(\\omega)`, with
:math:`\\hat x=\\mathrm{FFT2}(x)` and :math:`\\omega=(\\omega_y,\\omega_x)\\in[-\\pi,\\pi)^2` in radians per
sample (:math:`\\omega_y` along array axis 0, :math:`\\omega_x` along axis 1, FFT order). Model A
constrains only *second-order wavelet moments*, which are linear in :math:`P`,

.. math:: Y_m=\\sum_\\omega\\bar P(\\omega)F_m(\\omega),\\qquad
          \\bar P(\\omega)=|\\hat{\\bar x}(\\omega)|^2/(MN),

with the features :math:`F_m` of :func:`maxent_constraints` (bump steerable wavelet energies and their
spatial auto-covariances at a few shifts). The Gaussian of maximal entropy
(:math:`\\tfrac12\\sum_\\omega\\log P(\\omega)` up to a constant) that satisfies the constraints has spectrum

.. math:: \\hat P(\\omega)=\\frac1{\\sum_m\\beta_mF_m(\\omega)},\\qquad
          \\beta=\\arg\\min_{F^\\top\\beta>0}\\;g(\\beta)=-\\frac12\\sum_\\omega\\log(F^\\top\\beta)(\\omega)
          +\\frac12\\beta\\cdot Y,

found by :func:`gaussian_maxent_spectrum` (damped Newton on the convex dual :math:`g`). Samples of the
model are Gaussian fields with spectrum :math:`\\hat P` (:func:`sample_gaussian`). The teaching
shortcut :func:`random_phase_surrogate` keeps the whole :math:`|\\hat{\\bar x}|` and draws uniform
phases: the Gaussian model that keeps *every* Fourier energy, to which model A is a smoothed
approximation.


Used in: chapter 07.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from harmonia.config import check_in, check_positive, check_tensor, make_generator
from harmonia.filters.bump import filter_bank_bump_2d
from harmonia.fourier import fftfreq_grid, half_plane_shifts

__all__ = [
    "random_phase_surrogate",
    "maxent_shifts",
    "maxent_constraints",
    "gaussian_maxent_spectrum",
    "sample_gaussian",
]

_F64 = torch.float64
_REAL = (torch.float32, torch.float64)
_SHIFT_SETS = ("authors", "unique")


# =============================================================================================
# Gaussian models (model A)
# =============================================================================================
def _generator_noise(shape: tuple[int, ...], seed: int | torch.Generator | None, dtype: torch.dtype,
                     device: torch.device) -> torch.Tensor:
    """Standard normal noise of ``shape`` drawn with an explicit generator, then moved to ``device``.

    An int seed (or ``None``) builds a CPU generator, so a seed gives the same draw on every device."""
    gen = make_generator(seed)
    w = torch.randn(shape, generator=gen, dtype=_F64, device=gen.device)
    return w.to(device=device, dtype=dtype)


def _mirror(a: torch.Tensor) -> torch.Tensor:
    """:math:`a(-\\omega)` for a spectrum in FFT order over the last two dims."""
    return torch.roll(torch.flip(a, dims=(-2, -1)), shifts=(1, 1), dims=(-2, -1))


def random_phase_surrogate(x: torch.Tensor, seed: int | torch.Generator | None = None) -> torch.Tensor:
    """Random-phase surrogate: keep :math:`|\\hat x|`, draw uniform Hermitian-symmetric phases.

    .. math:: y=\\mathrm{IFFT2}\\big(|\\hat x(\\omega)|\\,e^{i\\varphi(\\omega)}\\big),\\qquad
              e^{i\\varphi}=\\hat w/|\\hat w|,\\quad w\\ \\text{real white noise},

    with :math:`\\varphi(0)=\\arg\\hat x(0)` (the mean is kept). Because :math:`w` is real,
    :math:`\\varphi(-\\omega)=-\\varphi(\\omega)` exactly, so :math:`y` is real (its imaginary part is
    rounding, dropped); the phases are uniform on :math:`[0,2\\pi)` and independent across pairs
    :math:`\\{\\omega,-\\omega\\}`, and :math:`\\pm1` at the self-conjugate (Nyquist) frequencies.
    The result is a sample of the stationary, nearly Gaussian field with the periodogram of :math:`x`:
    the teaching version of the Gaussian model A.

    Parameters
    ----------
    x : (..., M, N) float32 or float64 tensor
        Real field(s); every leading index is an independent field with its own phases.
    seed : int, torch.Generator or None
        Randomness (:func:`harmonia.config.make_generator`); an int gives the same result on every
        device.

    Returns
    -------
    (..., M, N) tensor, same dtype and device as ``x``
        :math:`|\\mathrm{FFT2}(y)|=|\\mathrm{FFT2}(x)|` up to rounding, same mean as ``x``.

    Used in: chapter 07.
    """
    check_tensor(x, "x", dtype=_REAL, min_ndim=2)
    if x.shape[-2] < 2 or x.shape[-1] < 2:
        raise ValueError(f"x: expected at least 2 x 2 pixels in the last two dims, got shape {tuple(x.shape)}")
    x_hat = torch.fft.fft2(x)
    w_hat = torch.fft.fft2(_generator_noise(tuple(x.shape), seed, x.dtype, x.device))
    mag = w_hat.abs()
    phase = torch.where(mag > 0, w_hat / torch.where(mag > 0, mag, torch.ones_like(mag)), torch.ones_like(w_hat))
    y_hat = x_hat.abs() * phase
    y_hat[..., 0, 0] = x_hat[..., 0, 0]
    return torch.fft.ifft2(y_hat).real


def maxent_shifts(delta: int, shifts: str = "authors") -> list[tuple[int, int]]:
    """The spatial shifts :math:`n=(n_y,n_x)` (array-axis order) of model A's auto-covariances.

    ``"authors"`` (the set of Zhang & Mallat 2021, written :math:`n_1\\in\\{-\\Delta..\\Delta\\}` horizontally
    and :math:`n_2\\in\\{0..\\Delta\\}` vertically in the authors' code): :math:`n_y\\in\\{0..\\Delta\\}`,
    :math:`n_x\\in\\{-\\Delta..\\Delta\\}`, :math:`n\\ne0` -- :math:`(\\Delta+1)(2\\Delta+1)-1` shifts (14 for
    :math:`\\Delta=2`), the set of :func:`harmonia.fourier.half_plane_shifts`. It holds both
    :math:`(0,n_x)` and :math:`(0,-n_x)`, whose cosine features are equal and sine features opposite.
    ``"unique"`` drops those :math:`\\Delta` duplicates (keeps :math:`n_y>0`, or :math:`n_y=0,n_x>0`):
    :math:`2\\Delta(\\Delta+1)` shifts, the same constraints on a spectrum.

    Parameters
    ----------
    delta : int >= 0
    shifts : {"authors", "unique"}

    Returns
    -------
    list of (n_y, n_x) int pairs

    Used in: chapter 07.
    """
    delta = int(check_positive(delta, "delta", integer=True, allow_zero=True))
    check_in(shifts, "shifts", _SHIFT_SETS)
    out = half_plane_shifts(delta)
    if shifts == "unique":
        out = [(a, b) for a, b in out if a > 0 or b > 0]
    return out


def maxent_constraints(M: int, N: int, J: int, L: int, delta: int = 2, *, shifts: str = "authors",
                       dtype: torch.dtype = _F64, device: torch.device | str | None = None) -> dict[str, Any]:
    """The features :math:`F_m(\\omega)` of the Gaussian maximum-entropy model A.

    With the bump steerable bank of :func:`~harmonia.filters.bump.filter_bank_bump_2d` (``J`` scales,
    :math:`2L` orientations :math:`\\theta_\\ell=\\ell\\pi/L`) and its Gaussian low-pass :math:`\\hat\\phi_J`,
    the rows are, in this order,

    1. :math:`|\\hat\\phi_J|^2`;
    2. :math:`|\\hat\\psi_{j,\\ell}|^2`, :math:`j=0..J-1`, :math:`\\ell=0..2L-1` (row ``1 + j*2L + l``);
    3. :math:`|\\hat\\phi_J|^2\\cos(2^{J-1}\\omega\\cdot n)` for each shift :math:`n`;
    4. :math:`|\\hat\\psi_{j,\\ell}|^2\\cos(2^j\\omega\\cdot n)` for each :math:`(j,\\ell,n)` (shift fastest);
    5. :math:`|\\hat\\psi_{j,\\ell}|^2\\sin(2^j\\omega\\cdot n)` for each :math:`(j,\\ell,n)`;

    with :math:`\\omega\\cdot n=\\omega_yn_y+\\omega_xn_x` and the shifts of :func:`maxent_shifts`.
    On the periodogram of :math:`x` these are auto-correlations of :math:`z=x\\star\\psi_{j,\\ell}=
    \\mathrm{IFFT2}(\\hat x\\hat\\psi_{j,\\ell})` (circular):

    .. math:: \\sum_\\omega\\bar P(\\omega)|\\hat\\psi_{j,\\ell}(\\omega)|^2e^{i2^j\\omega\\cdot n}
              =\\sum_uz(u+2^jn)\\,\\overline{z(u)},

    whose real part is the cosine row (the energy :math:`\\sum|z|^2` for :math:`n=0`) and imaginary part
    the sine row; likewise for :math:`x\\star\\phi_J` at :math:`2^{J-1}n`. Count: :math:`m=1+2JL+|S|(1+4JL)` -- 2 335 for the paper's
    :math:`J=5,L=8,\\Delta=2` (``"authors"``), 943 for :math:`J=4,L=4,\\Delta=2`.

    The rows are linearly dependent: with ``"authors"`` the shifts :math:`(0,\\pm n_x)` give equal cosine
    and opposite sine rows, and on grids where :math:`2^j|n|` reaches the grid size a shift aliases
    (a sine row can be identically zero). The dual's Hessian is then singular;
    :func:`gaussian_maxent_spectrum` handles it.

    Parameters
    ----------
    M, N : int >= 2
        Grid size (rows, columns).
    J : int >= 1, with :math:`2^J\\le\\min(M,N)`
    L : int >= 1
    delta : int >= 0
        Shift range :math:`\\Delta`.
    shifts : {"authors", "unique"}
        See :func:`maxent_shifts`.
    dtype : torch.float32 or torch.float64
    device : torch.device or str, optional

    Returns
    -------
    dict
        ``"F"``: ``(m, M, N)`` real tensor (FFT order); ``"kind"``: list of ``m`` strings in
        ``{"energy", "cos", "sin"}``; ``"filter"``: ``(m,)`` int64, ``0`` for :math:`\\phi_J` and
        ``1 + j*2L + l`` for :math:`\\psi_{j,\\ell}`; ``"j"``: ``(m,)`` int64 (``J`` for :math:`\\phi_J`);
        ``"l"``: ``(m,)`` int64 (``-1`` for :math:`\\phi_J`); ``"shift"``: ``(m, 2)`` int64
        :math:`(n_y,n_x)` (zero on energy rows, not multiplied by :math:`2^j`); ``"shifts"``: the shift
        list; ``"n_energy"``: :math:`2JL+1`; ``"n_constraints"``: ``m``.

    Used in: chapter 07.
    """
    delta = int(check_positive(delta, "delta", integer=True, allow_zero=True))
    shift_list = maxent_shifts(delta, shifts)
    check_in(dtype, "dtype", _REAL)
    bank = filter_bank_bump_2d(M, N, J, L, full_circle=True, dtype=_F64, device=device)
    psi2 = bank["psi"].square().reshape(J * 2 * L, M, N)
    phi2 = bank["phi"].square()
    dev = psi2.device
    wy, wx = fftfreq_grid((M, N), dtype=_F64, device=dev)
    n_filt = 2 * J * L
    jl = [(j, l) for j in range(J) for l in range(2 * L)]

    def phases(scale: int) -> torch.Tensor:  # (S, M, N): scale * omega . n
        return torch.stack([scale * (wy * ny + wx * nx) for ny, nx in shift_list]) if shift_list else \
            torch.zeros(0, M, N, dtype=_F64, device=dev)

    rows = [phi2[None], psi2]
    kind = ["energy"] * (1 + n_filt)
    filt = list(range(1 + n_filt))
    shift_rows: list[tuple[int, int]] = [(0, 0)] * (1 + n_filt)
    rows.append(phi2 * torch.cos(phases(2 ** (J - 1))))
    kind += ["cos"] * len(shift_list)
    filt += [0] * len(shift_list)
    shift_rows += shift_list
    for trig in ("cos", "sin"):
        fn = torch.cos if trig == "cos" else torch.sin
        for j in range(J):
            t = fn(phases(2**j))  # (S, M, N)
            rows.append((psi2[j * 2 * L:(j + 1) * 2 * L, None] * t[None]).reshape(-1, M, N))
        kind += [trig] * (n_filt * len(shift_list))
        filt += [1 + f for f in range(n_filt) for _ in shift_list]
        shift_rows += shift_list * n_filt
    F = torch.cat(rows).to(dtype=dtype)
    filt_t = torch.tensor(filt, dtype=torch.int64)
    j_of = torch.tensor([J] + [j for j, _ in jl], dtype=torch.int64)
    l_of = torch.tensor([-1] + [l for _, l in jl], dtype=torch.int64)
    return {"F": F, "kind": kind, "filter": filt_t, "j": j_of[filt_t], "l": l_of[filt_t],
            "shift": torch.tensor(shift_rows, dtype=torch.int64).reshape(-1, 2), "shifts": shift_list,
            "n_energy": 1 + n_filt, "n_constraints": F.shape[0]}


def _half_spectrum(M: int, N: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One representative per pair :math:`\\{\\omega,-\\omega\\}`: flat indices ``rep``, multiplicities
    ``w`` (1 for self-conjugate frequencies, else 2) and, for every flat index, its representative's
    position in ``rep`` (to expand a half spectrum back to the grid)."""
    idx = torch.arange(M * N, device=device)
    ky, kx = idx // N, idx % N
    partner = ((-ky) % M) * N + (-kx) % N
    keep = idx <= partner
    rep = idx[keep]
    w = torch.where(partner[keep] == rep, 1.0, 2.0).to(_F64)
    pos = torch.empty(M * N, dtype=torch.int64, device=device)
    pos[rep] = torch.arange(rep.numel(), device=device)
    pos[partner[keep]] = torch.arange(rep.numel(), device=device)
    return rep, w, pos


def gaussian_maxent_spectrum(x: torch.Tensor, J: int, L: int, delta: int = 2, *, max_iter: int = 100,
                             tol: float = 1e-8, shifts: str = "authors", normalize: str = "energy",
                             start: str = "band", floor: float = 1e-10) -> tuple[torch.Tensor, dict[str, Any]]:
    """Maximum-entropy Gaussian spectrum under model A's wavelet constraints (damped Newton).

    Periodogram :math:`\\bar P(\\omega)=|\\hat x(\\omega)|^2/(MN)` (averaged over a batch), constraints
    :math:`Y=F\\bar P` with the features of :func:`maxent_constraints`. The spectrum of maximal entropy
    :math:`\\sum_\\omega\\log P(\\omega)` subject to :math:`FP=Y` is :math:`\\hat P=1/F^\\top\\beta`, with
    :math:`\\beta` minimising the convex dual

    .. math:: g(\\beta)=-\\frac12\\sum_\\omega\\log(F^\\top\\beta)(\\omega)+\\frac12\\beta\\cdot Y,\\quad
              \\nabla g=\\frac12(Y-F\\hat P),\\quad \\nabla^2g=\\frac12F\\,\\mathrm{diag}(\\hat P^2)F^\\top

    (the paper adds the constant :math:`\\frac{MN}2\\log2\\pi`; at the optimum
    :math:`g=\\frac12\\sum\\log\\hat P+\\frac{MN}2`, and :math:`g(\\beta)\\ge\\frac12\\sum\\log P+\\frac{MN}2` for
    every feasible :math:`P`).

    Algorithm (float64 on ``x``'s device):

    - *floor*: :math:`\\bar P\\leftarrow\\bar P+\\epsilon\\,\\mathrm{mean}(\\bar P)` (``floor`` :math:`=\\epsilon`,
      default :math:`10^{-10}`). The problem needs a strictly positive feasible spectrum; fields whose
      periodogram vanishes on a band (a dealiased solver's output, a band-limited image) have none, and
      :math:`\\hat P` then collapses towards 0 there. The floor moves each constraint by at most
      :math:`\\epsilon` relative, far below ``tol``; ``floor=0`` solves the raw problem;
    - *normalisation*: with ``normalize="energy"`` each filter's rows are divided by its energy
      :math:`E_f=\\sum_\\omega\\bar P|\\hat\\psi_f|^2` (the authors' normalisation: unit energy on :math:`\\bar x`'s
      periodogram); ``"none"`` keeps :math:`F` as built. :math:`\\hat P` does not depend on it;
    - *symmetry*: :math:`\\bar P` is symmetrised and the features averaged over :math:`\\pm\\omega`,
      which changes no constraint on an even spectrum, so :math:`\\hat P(\\omega)=\\hat P(-\\omega)`
      exactly. The sums run over one frequency per pair :math:`\\{\\omega,-\\omega\\}` (weighted), and rows
      that coincide on even spectra (orientations :math:`\\ell` and :math:`\\ell+L`; shifts :math:`\\pm n`
      of the ``"authors"`` set) are kept once: 413 of 943 rows for :math:`J=L=4,\\Delta=2`;
    - *redundancy*: the remaining rows are still linearly dependent (aliasing of :math:`2^jn`, and coarse
      scales that carry more features than the grid has frequencies in their band), so the Hessian is
      singular. The dual is solved on an orthonormal basis of the rows' span (singular values above
      :math:`10^{-13}\\sigma_1` of the row-normalised, weighted :math:`F`; ``info["rank"]``), where it is
      strictly convex; null directions of :math:`\\beta` do not change :math:`F^\\top\\beta`;
    - *start*: :math:`\\beta` on the :math:`2JL+1` energy rows only, 0 on the shifted ones, rescaled to the
      minimum of :math:`g` along that ray. ``"authors"``: :math:`\\beta_f=1/E_f` (1 on energy-normalised
      features, the start of the authors' code); ``"band"`` (default):
      :math:`\\beta_f=\\|\\hat\\psi_f\\|^2/E_f`, one over the band average of :math:`\\bar P` (fewer damped steps).
      The squared filters cover every frequency, so :math:`F^\\top\\beta>0`;
    - *Newton step*: :math:`\\nabla^2g\\,d=-\\nabla g` in its square-root form, the weighted least-squares
      problem :math:`\\min_d\\|\\hat P\\,(F^\\top d)-(1-\\bar P\\,F^\\top\\beta)\\|_w`, by Householder QR (a
      truncated SVD if QR gives a poor direction): its condition number is the square root of the
      Hessian's, which matters for red spectra (:math:`\\hat P^2` spans twenty decades and the normal
      equations lose the directions that set the high-frequency tail);
    - *line search*: Armijo backtracking (halving) that keeps :math:`F^\\top\\beta>0`. The dual is
      evaluated as :math:`\\sum_\\omega\\big(-\\frac12\\log A+\\frac12\\bar PA\\big)` with
      :math:`A=F^\\top\\beta` (so :math:`\\beta\\cdot Y=\\sum\\bar PA`: positive terms, no cancellation
      between large coefficients of nearly dependent rows), and a step's change of :math:`g` as a sum of
      per-frequency differences (``log1p``), so that the last Newton steps, whose decrease is far below
      the rounding of :math:`g`, are judged the same on every CPU;
    - *stop* when the residual (``tol``) is reached; it is recomputed at the end with the raw rows of
      :func:`maxent_constraints` on the full grid.

    Cost: one SVD of the (distinct rows) x (MN/2) feature matrix, then one QR of that size per
    iteration. Measured (1 CPU thread): 64 x 64, :math:`J=L=4`, :math:`\\Delta=2`: 1.1-1.5 s and 25-40
    iterations for red (turbulence-like) spectra, 13 iterations for white noise.

    Parameters
    ----------
    x : (M, N) or (B, M, N) float32 or float64 tensor
        One field, or a batch whose periodograms are averaged.
    J : int >= 1, with :math:`2^J\\le\\min(M,N)`
    L : int >= 1
    delta : int >= 0
    max_iter : int >= 1
        Maximum number of Newton iterations (a ``RuntimeWarning`` if ``tol`` is not reached).
    tol : float > 0
        Target of the residual :math:`\\max_m|(F\\hat P-Y)_m|/E_{f(m)}`, each constraint relative to the
        energy :math:`E_f` of its filter (that is :math:`\\max|F\\hat P-Y|/\\max|Y|` for energy-normalised
        features).
    shifts : {"authors", "unique"}
        See :func:`maxent_shifts`; both give the same :math:`\\hat P`.
    normalize : {"energy", "none"}
    start : {"band", "authors"}
    floor : float >= 0
        Relative floor added to the periodogram.

    Returns
    -------
    P_hat : (M, N) tensor, dtype and device of ``x``
        :math:`\\hat P>0`, even, in the periodogram convention of :math:`\\bar P`, FFT order.
    info : dict
        ``"beta"`` (m,) float64: coefficients of the raw features of :func:`maxent_constraints`,
        :math:`\\hat P=1/F^\\top\\beta` (one representative modulo the null space, even:
        equal weights on orientations :math:`\\ell` and :math:`\\ell+L`); ``"Y"`` (m,) float64
        :math:`=F\\bar P` (floored periodogram); ``"n_constraints"`` (m), ``"n_distinct"`` (rows distinct on
        even spectra), ``"rank"`` (dimension of their span); ``"n_iter"`` (Newton steps taken);
        ``"converged"``; ``"residual"`` (final, as in ``tol``); ``"residual_history"`` and ``"dual"``
        (:math:`g` at the start and after each step; independent of ``normalize``); ``"step_sizes"``;
        ``"floor"`` (the absolute floor added).

    Raises
    ------
    ValueError
        On bad arguments, or if a filter carries no energy in :math:`\\bar P` (no maximum-entropy
        spectrum exists then).

    Used in: chapter 07.
    """
    check_tensor(x, "x", dtype=_REAL, ndim=(2, 3))
    M, N = int(x.shape[-2]), int(x.shape[-1])
    if x.numel() == 0 or M < 2 or N < 2:
        raise ValueError(f"x: expected one or more fields of at least 2 x 2 pixels, got shape {tuple(x.shape)}")
    delta = int(check_positive(delta, "delta", integer=True, allow_zero=True))
    max_iter = int(check_positive(max_iter, "max_iter", integer=True))
    tol = float(check_positive(tol, "tol"))
    floor = float(check_positive(floor, "floor", allow_zero=True))
    check_in(normalize, "normalize", ("energy", "none"))
    check_in(start, "start", ("band", "authors"))
    dev = torch.device("cpu") if x.device.type == "mps" else x.device
    cons = maxent_constraints(M, N, J, L, delta, shifts=shifts, dtype=_F64, device=dev)
    m, n_energy = cons["n_constraints"], cons["n_energy"]
    F_raw = cons["F"].reshape(m, M * N)

    # periodogram, symmetrised; one frequency per pair {omega, -omega} with multiplicity w
    xd = x.to(device=dev, dtype=_F64).reshape(-1, M, N)
    P_bar = (torch.fft.fft2(xd).abs().square() / (M * N)).mean(dim=0)
    P_bar = 0.5 * (P_bar + _mirror(P_bar))
    floor_abs = floor * float(P_bar.mean())
    P_bar = P_bar + floor_abs
    rep, w, pos = _half_spectrum(M, N, dev)
    flip = _mirror(torch.arange(M * N, device=dev).reshape(M, N)).reshape(-1)
    Pb = P_bar.reshape(-1)[rep]
    Y_raw = F_raw @ P_bar.reshape(-1)
    energy = Y_raw[:n_energy]
    if bool((energy <= 0).any()):
        bad = int(torch.nonzero(energy <= 0)[0, 0])
        raise ValueError(f"x: expected a periodogram with energy in every filter's band, got none in filter {bad} "
                         "(0 is the low-pass); no maximum-entropy spectrum exists")
    E = energy[cons["filter"].to(dev)]  # (m,) energy of each row's filter

    # distinct rows on even spectra, symmetrised, normalised
    keep, mirror_row, mirror_sign = _distinct_rows(cons, L)
    keep_t = torch.tensor(keep, dtype=torch.int64, device=dev)
    scale = (1.0 / E if normalize == "energy" else torch.ones_like(E))[keep_t]
    F = 0.5 * (F_raw[keep_t][:, rep] + F_raw[keep_t][:, flip[rep]]) * scale[:, None]  # (k, S)
    Y = F @ (w * Pb)
    tol_scale = scale * E[keep_t]  # residual of row r relative to its filter's energy: |r| / tol_scale

    beta = _initial_beta(F, w, Pb, n_energy, start, keep)
    A_start = beta @ F
    if not bool((A_start > 0).all()):
        raise ValueError(f"J: expected a bank whose squared filters cover every frequency of the {M} x {N} grid, "
                         f"got sum of squares 0 somewhere for J={J}, L={L}")
    basis = _RowSpace(F, w)
    gamma, A, hist = _damped_newton(basis, F, w, Pb, Y, basis.to_gamma(beta), tol_scale, tol, max_iter, A_start)
    beta = basis.to_beta(gamma)

    P_half = 1.0 / A
    P_full = P_half[pos]
    # honest residual: the raw features of maxent_constraints on the full grid
    res = float(((F_raw @ P_full - Y_raw) / E).abs().max())
    converged = res < tol
    if not converged:
        warnings.warn(f"gaussian_maxent_spectrum: residual {res:.2e} above tol={tol:.1e} after {hist['n_iter']} "
                      "Newton iterations", RuntimeWarning, stacklevel=2)
    # coefficients of the raw features: half on a row, half (with sign) on its orientation mirror
    beta_k = beta * scale
    beta_raw = torch.zeros(m, dtype=_F64, device=dev)
    mir = torch.tensor([mirror_row[r] for r in keep], dtype=torch.int64, device=dev)
    sgn = torch.tensor([mirror_sign[r] for r in keep], dtype=_F64, device=dev)
    beta_raw.index_add_(0, keep_t, 0.5 * beta_k)
    beta_raw.index_add_(0, mir, 0.5 * sgn * beta_k)
    P_hat = P_full.reshape(M, N).to(device=x.device, dtype=x.dtype)
    info = {"beta": beta_raw, "Y": Y_raw, "n_constraints": m, "n_distinct": len(keep), "rank": basis.rank,
            "n_iter": hist["n_iter"], "converged": converged, "residual": res, "residual_history": hist["residual"],
            "dual": hist["dual"], "step_sizes": hist["step"], "floor": floor_abs}
    return P_hat, info


def _distinct_rows(cons: dict[str, Any], L: int) -> tuple[list[int], list[int], list[float]]:
    """Rows of :func:`maxent_constraints` that stay distinct on even spectra.

    On an even :math:`P`, the row of orientation :math:`\\ell+L` equals (sine rows: minus) the row of
    :math:`\\ell` (:math:`|\\hat\\psi_{j,\\ell+L}(\\omega)|=|\\hat\\psi_{j,\\ell}(-\\omega)|`), and a shift
    :math:`-n` equals (sine: minus) the shift :math:`n`. Returns the first row of each class, and for
    every row its orientation mirror and the sign relating them."""
    kind, filt, shift = cons["kind"], cons["filter"].tolist(), cons["shift"].tolist()
    n_filt = 2 * L

    def mirror_filter(f: int) -> int:
        if f == 0:
            return 0
        j, l = divmod(f - 1, n_filt)
        return 1 + j * n_filt + (l + L) % n_filt

    def canon(f: int, n: list[int]) -> tuple[int, tuple[int, int]]:
        ny, nx = n
        if ny < 0 or (ny == 0 and nx < 0):
            ny, nx = -ny, -nx
        return min(f, mirror_filter(f)), (ny, nx)

    where = {(k, f, tuple(n)): r for r, (k, f, n) in enumerate(zip(kind, filt, shift))}
    keep, seen = [], set()
    mirror_row, mirror_sign = [], []
    for r, (k, f, n) in enumerate(zip(kind, filt, shift)):
        mirror_row.append(where[(k, mirror_filter(f), tuple(n))])
        mirror_sign.append(-1.0 if k == "sin" else 1.0)
        key = (k, *canon(f, n))
        if key not in seen:
            seen.add(key)
            keep.append(r)
    return keep, mirror_row, mirror_sign


def _initial_beta(F: torch.Tensor, w: torch.Tensor, Pb: torch.Tensor, n_energy: int, start: str,
                  keep: list[int]) -> torch.Tensor:
    """Start of the Newton iterations, on the energy rows only, rescaled to the minimum of :math:`g`
    along its ray (:math:`c=\\sum w/\\beta\\cdot Y`).

    ``"authors"``: :math:`\\beta_f=1/E_f` (1 on energy-normalised rows); ``"band"``:
    :math:`\\beta_f=\\|\\hat\\psi_f\\|^2/E_f`, one over the band average of :math:`\\bar P`, so that
    :math:`F^\\top\\beta\\approx1/\\bar P` where the squared filters tile the plane."""
    is_energy = torch.tensor([r < n_energy for r in keep], device=F.device)
    Y = F @ (w * Pb)
    beta = torch.where(is_energy, 1.0 / Y, torch.zeros_like(Y))
    if start == "band":
        beta = beta * (F @ w)
    return beta * (float(w.sum()) / float(beta @ Y))


class _RowSpace:
    """An orthonormal basis of the row space of ``F`` (``(k, S)``) for the inner product weighted by ``w``.

    With the rows scaled to unit norm, :math:`D F\\,\\mathrm{diag}(\\sqrt w)=U\\Sigma V^\\top`; the singular
    values below :math:`10^{-10}\\sigma_1` are exact linear dependencies (:math:`2^jn` aliasing, and on
    small grids coarse scales carrying more features than frequencies) and are dropped. Then
    :math:`F^\\top\\beta=G^\\top\\gamma` with :math:`G=V_r^\\top\\mathrm{diag}(w^{-1/2})` and
    :math:`\\gamma=\\Sigma_rU_r^\\top D^{-1}\\beta`; the map back is the minimum-norm
    :math:`\\beta=DU_r\\Sigma_r^{-1}\\gamma`."""

    def __init__(self, F: torch.Tensor, w: torch.Tensor, rcond: float = 1e-13) -> None:
        norms = F.norm(dim=1)
        self.d = torch.where(norms > 0, 1.0 / norms, torch.ones_like(norms))  # D
        U, sv, Vh = torch.linalg.svd(self.d[:, None] * F * torch.sqrt(w), full_matrices=False)
        r = int((sv > rcond * sv[0]).sum())
        self.U, self.sv, self.Vh = U[:, :r], sv[:r], Vh[:r]
        self.G = self.Vh / torch.sqrt(w)  # (r, S)
        self.rank = r

    def to_gamma(self, beta: torch.Tensor) -> torch.Tensor:
        return self.sv * (self.U.T @ (beta / self.d))

    def to_beta(self, gamma: torch.Tensor) -> torch.Tensor:
        return self.d * (self.U @ (gamma / self.sv))


def _lstsq(B: torch.Tensor, c: torch.Tensor, rcond: float = 1e-13, svd: bool = False) -> torch.Tensor:
    """Least-squares solution of :math:`Bd\\approx c` for a tall, row-graded ``B`` of full column rank:
    Householder QR with the rows sorted by decreasing size and the columns scaled to unit norm (accurate
    for graded rows); a truncated SVD (the pseudo-inverse) if ``R`` turns out numerically singular."""
    norms = B.norm(dim=0)
    s_col = torch.where(norms > 0, 1.0 / norms, torch.ones_like(norms))
    Bs = B * s_col
    order = torch.argsort(Bs.abs().amax(dim=1), descending=True)
    Bs, c = Bs[order], c[order]
    if not svd:
        qr, tau = torch.geqrf(Bs)  # Householder QR without forming Q
        n = Bs.shape[1]
        R = qr[:n].triu()
        diag = R.diagonal().abs()
        if float(diag.min()) > rcond * float(diag.max()):
            qtc = torch.ormqr(qr, tau, c[:, None], left=True, transpose=True)[:n]
            return s_col * torch.linalg.solve_triangular(R, qtc, upper=True)[:, 0]
    U, sv, Vh = torch.linalg.svd(Bs, full_matrices=False)
    inv = torch.where(sv > rcond * sv[0], 1.0 / sv, torch.zeros_like(sv))
    return s_col * (Vh.T @ (inv * (U.T @ c)))


def _backtrack(w: torch.Tensor, Pb: torch.Tensor, A: torch.Tensor, Gd: torch.Tensor, slope: float,
               rounding: float) -> tuple[float, torch.Tensor, float] | None:
    """Armijo backtracking (halving) from the full step, keeping :math:`A>0`; ``None`` if 60 halvings
    fail. Returns ``(t, A + t Gd, change of g)``.

    The change of the dual is computed as a difference, term by term,

    .. math:: g(A+t\\,Gd)-g(A)=\\sum_\\omega w\\Big(-\\tfrac12\\log\\big(1+t\\,Gd/A\\big)+\\tfrac t2\\bar P\\,Gd\\Big),

    not as :math:`g(A+tGd)-g(A)` of two values of size :math:`|g|`: near the optimum the decrease is far
    below the rounding of :math:`g` itself, and comparing two rounded values of :math:`g` stalls the
    search on some CPUs and not others. A decrease below ``rounding`` is accepted if :math:`g` does not
    grow by more than it."""
    t = 1.0
    for _ in range(60):
        ratio = t * Gd / A
        if bool((ratio > -1).all()):
            dg = float((w * (-0.5 * torch.log1p(ratio) + 0.5 * t * Pb * Gd)).sum())
            if dg <= 1e-4 * t * slope or (-slope * t < rounding and dg <= rounding):
                return t, A + t * Gd, dg
        t *= 0.5
    return None


def _damped_newton(basis: _RowSpace, F: torch.Tensor, w: torch.Tensor, Pb: torch.Tensor, Y: torch.Tensor,
                   gamma: torch.Tensor, tol_scale: torch.Tensor, tol: float, max_iter: int,
                   A_start: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Damped Newton on :math:`g(\\gamma)=-\\frac12\\sum w\\log A+\\frac12\\gamma\\cdot Y_G`,
    :math:`A=G^\\top\\gamma`, :math:`Y_G=G(w\\bar P)` (the dual in the row-space coordinates of ``basis``).

    The Newton system :math:`G\\,\\mathrm{diag}(wP^2)G^\\top d=Gw(P-\\bar P)` is solved in its square-root
    form, the least-squares problem :math:`\\min_d\\|\\sqrt w\\,P\\,(G^\\top d)-\\sqrt w\\,(1-\\bar PA)\\|`, whose
    condition number is the square root of the Hessian's: for red spectra, whose :math:`P^2` spans
    twenty decades, the normal equations lose the directions that set the high-frequency tail.
    Backtracking (Armijo, halving, :func:`_backtrack`) keeps :math:`A>0`; :math:`g` is evaluated from
    :math:`A` alone, :math:`\\gamma\\cdot Y_G=\\sum w\\bar PA`. The residual is that of the original rows ``F``.

    ``A_start`` (:math:`F^\\top\\beta` of the start, positive) replaces :math:`G^\\top\\gamma` when the change of
    basis has rounded the latter to non-positive values: a floored periodogram that vanishes on most of the grid
    (an image constant along its rows) gives a start spanning twenty decades, beyond the precision of the
    row-space coordinates; :math:`\\log A` would be NaN and :math:`\\hat P` negative. Other starts are unchanged."""
    G = basis.G
    sw = torch.sqrt(w)
    n_pix = float(w.sum())
    A = gamma @ G
    if A_start is not None and not bool((A > 0).all()):
        A = A_start  # positive by construction; gamma keeps its coordinates (same span, rounding aside)

    def dual(a: torch.Tensor) -> float:
        # gamma . Y_G = sum w Pb A: every term positive, no cancellation between large coefficients
        return float((w * (-0.5 * torch.log(a) + 0.5 * Pb * a)).sum())

    def resid(a: torch.Tensor) -> float:
        return float(((F @ (w / a) - Y) / tol_scale).abs().max())

    g, res = dual(A), resid(A)
    hist: dict[str, Any] = {"dual": [g], "residual": [res], "step": [], "n_iter": 0}
    while res >= tol and hist["n_iter"] < max_iter:
        P = 1.0 / A
        B, c = (sw * P)[:, None] * G.T, sw * (1.0 - Pb * A)
        best = None
        for svd in (False, True):  # QR first; the pseudo-inverse if QR gives a poor direction
            d = _lstsq(B, c, svd=svd)
            Gd = d @ G
            slope = 0.5 * float((w * (Pb - P)) @ Gd)  # directional derivative of g along d
            step = _backtrack(w, Pb, A, Gd, slope, 1e-13 * n_pix) if slope < 0 else None
            if step is not None and (best is None or step[2] < best[2]):
                best = (*step, d)
            if best is not None and best[0] >= 1e-3:
                break
        if best is None:
            break  # no acceptable step: rounding level reached
        t, A, _, d = best
        g = dual(A)
        gamma = gamma + t * d
        res = resid(A)
        hist["n_iter"] += 1
        hist["dual"].append(g)
        hist["residual"].append(res)
        hist["step"].append(t)
    return gamma, A, hist


def sample_gaussian(P: torch.Tensor, n: int, seed: int | torch.Generator | None = None) -> torch.Tensor:
    """Stationary Gaussian fields with power spectrum ``P`` (periodic, real).

    .. math:: x=\\mathrm{IFFT2}\\big(\\mathrm{FFT2}(w)\\sqrt{P}\\big),\\quad w\\ \\text{white}\\ \\mathcal N(0,1),
              \\qquad E|\\hat x(\\omega)|^2/(MN)=P(\\omega),

    the periodogram convention of :func:`gaussian_maxent_spectrum`. :math:`P` must be even
    (:math:`P(\\omega)=P(-\\omega)`) for :math:`x` to be real, which makes :math:`\\hat x` Hermitian;
    then :math:`\\mathrm{Cov}(x_u,x_v)=\\frac1{MN}\\sum_\\omega P(\\omega)e^{i\\omega\\cdot(u-v)}`.

    Parameters
    ----------
    P : (M, N) float32 or float64 tensor
        Spectrum in FFT order, :math:`P\\ge0`, even to rounding (relative :math:`10^{-6}` of
        :math:`\\max P`; it is symmetrised exactly).
    n : int >= 1
        Number of independent samples.
    seed : int, torch.Generator or None
        Randomness (:func:`harmonia.config.make_generator`).

    Returns
    -------
    (n, M, N) tensor, dtype and device of ``P``

    Used in: chapter 07.
    """
    check_tensor(P, "P", dtype=_REAL, ndim=2, nonempty=True)
    n = int(check_positive(n, "n", integer=True))
    if bool((P < 0).any()):
        raise ValueError(f"P: expected a non-negative spectrum, got min {float(P.min()):.3g}")
    Pm = _mirror(P)
    gap = float((P - Pm).abs().max())
    if gap > 1e-6 * float(P.abs().max()):
        raise ValueError(f"P: expected an even spectrum P(omega) = P(-omega) (FFT order), got max |P - P(-omega)| = "
                         f"{gap:.3g} for max P = {float(P.max()):.3g}")
    amp = torch.sqrt(0.5 * (P + Pm))
    w = _generator_noise((n, *P.shape), seed, P.dtype, P.device)
    return torch.fft.ifft2(torch.fft.fft2(w) * amp).real
