"""The "foveal" phase-harmonic covariance: the evaluation statistic of the maximum-entropy syntheses.

Local vectors of phase harmonics of bump steerable wavelet coefficients, sampled on a small
neighbourhood of every point of a coarse grid (:func:`foveal_features`), and their empirical
covariance pooled over points and images (:func:`foveal_covariance`). The covariance of held-out
fields against the covariance of a model's samples, compared by
:func:`harmonia.metrics.spectral_rel_error`, is how Zhang & Mallat (ACHA 2021) evaluate models A-D.

Used in: chapter 07.
"""

from __future__ import annotations

import torch

from harmonia.config import check_positive, check_tensor
from harmonia.filters.bump import filter_bank_bump_2d
from harmonia.pointwise import phase_harmonic

__all__ = ["foveal_features", "foveal_covariance"]


def _foveal_args(x: torch.Tensor, J: int, L: int, k_max: int, k_min: int, delta: int,
                 step: int | None) -> tuple[torch.Tensor, int, int, int, int, int, int]:
    check_tensor(x, "x", dtype="float32_64", ndim=(2, 3))
    J, L = int(check_positive(J, "J", integer=True)), int(check_positive(L, "L", integer=True))
    k_max = int(check_positive(k_max, "k_max", integer=True, allow_zero=True))
    k_min = int(check_positive(k_min, "k_min", integer=True, allow_zero=True))
    if k_min > k_max:
        raise ValueError(f"k_min: expected k_min <= k_max = {k_max}, got {k_min}")
    delta = int(check_positive(delta, "delta", integer=True, allow_zero=True))
    M, N = x.shape[-2:]
    if 2**J > min(M, N):
        raise ValueError(f"J: expected 2**J <= min(M, N) = {min(M, N)}, got J={J} (2**J = {2**J})")
    step = 2 ** (J - 1) if step is None else int(check_positive(step, "step", integer=True))
    return x.reshape(-1, M, N), J, L, k_max, k_min, delta, step


def _foveal(x: torch.Tensor, bank: dict, J: int, k_max: int, k_min: int, delta: int, step: int) -> torch.Tensor:
    """Features of (B, M, N) images, (B, n_points, D); see :func:`foveal_features`."""
    M, N = x.shape[-2:]
    dev = x.device
    uy, ux = torch.arange(0, M, step, device=dev), torch.arange(0, N, step, device=dev)
    dy, dx = (t.flatten() for t in torch.meshgrid(torch.arange(-delta, delta + 1, device=dev),
                                                  torch.arange(-delta, delta + 1, device=dev), indexing="ij"))

    def sample(field: torch.Tensor, spacing: int) -> torch.Tensor:  # (..., M, N) -> (..., n_points, P)
        rows = (uy[:, None, None] + spacing * dy) % M  # (ny, 1, P), periodic wrap
        cols = (ux[None, :, None] + spacing * dx) % N  # (1, nx, P)
        return field[..., rows, cols].flatten(-3, -2)

    xf = torch.fft.fft2(x)
    parts = []
    for j in range(J):
        ks = range(k_min, min(k_max, 2**j) + 1)
        if len(ks) == 0:
            continue
        # the harmonic is pointwise: sample z first, then raise the few samples to the powers k
        z = sample(torch.fft.ifft2(xf[:, None] * bank["psi"][j]), 2**j)  # (B, 2L, n_points, P)
        h = torch.stack([phase_harmonic(z, k) for k in ks], dim=2)  # (B, 2L, n_k, n_points, P)
        parts.append(h.permute(0, 3, 1, 2, 4).flatten(2))  # feature order (l, k, offset)
    low = sample(torch.fft.ifft2(xf * bank["phi"]).real, 2 ** (J - 1))  # x * phi_J is real (phi even)
    parts.append(low.to(xf.dtype))
    return torch.cat(parts, dim=-1)


def foveal_features(x: torch.Tensor, J: int, L: int, k_max: int = 4, k_min: int = 0, delta: int = 2,
                    step: int | None = None) -> torch.Tensor:
    """Local phase-harmonic vectors of the "foveal" evaluation covariance (Zhang & Mallat 2021, the metric of their
    turbulence tables; the authors' ``compute_coeff_frame_steerablebump_klim_par.m``).

    With the bump bank :func:`~harmonia.filters.bump.filter_bank_bump_2d` ``(M, N, J, L, full_circle=True)``
    (:math:`2L` orientations) and periodic FFT convolutions, each grid point :math:`u` of the coarse grid
    :math:`\\{0,s,2s,\\dots\\}^2` (step :math:`s`, default :math:`2^{J-1}`) gets the complex vector of

    .. math:: [x\\star\\psi_{j,\\ell}]^k\\big(u+2^j(d_y,d_x)\\big),\\quad
              j=0..J-1,\\ \\ell=0..2L-1,\\ k_{\\min}\\le k\\le\\min(k_{\\max},2^j),\\ |d_y|,|d_x|\\le\\Delta,

    then :math:`x\\star\\phi_J\\big(u+2^{J-1}(d_y,d_x)\\big)`, positions wrapped periodically. Our ``j``
    is the MATLAB ``j - 1``, so the bound :math:`2^{j-1}` of the paper is :math:`2^j` here. The
    low-pass offsets' spacing :math:`2^{J-1}` is our reconstruction (the low-pass term is sampled at 25 offsets;
    we could not confirm their step). The authors multiply each filter by :math:`2^j`; the diagonal normalisation of
    :func:`spectral_rel_error` makes :math:`\\epsilon` invariant to any per-feature scale, so we omit it.
    Dimension :math:`D=2L(2\\Delta+1)^2\\sum_j n_k(j)+(2\\Delta+1)^2`: 8025 for :math:`J=5,L=8,
    k\\in[0,4],\\Delta=2`. Order: ``j``, then ``l``, ``k``, offset ``(dy, dx)`` (row-major), low-pass last.

    Parameters
    ----------
    x : real tensor (B, M, N) or (M, N)
        Periodic images, :math:`2^J\\le\\min(M,N)`.
    J, L : int >= 1
        Scales and orientations per half circle.
    k_max, k_min : int >= 0, ``k_min <= k_max``
        Range of harmonics (``k = 0`` is the modulus, ``k = 1`` the coefficient).
    delta : int >= 0
        Offsets :math:`|d_y|,|d_x|\\le\\Delta`, in units of :math:`2^j`.
    step : int >= 1, optional
        Step of the coarse grid; default :math:`2^{J-1}`.

    Returns
    -------
    complex tensor (B, n_points, D) (or (n_points, D) for a single image), complex dtype matching x,
    :math:`n_\\text{points}=\\lceil M/s\\rceil\\lceil N/s\\rceil` in row-major order of the grid.

    Used in: chapter 07.
    """
    x3, J, L, k_max, k_min, delta, step = _foveal_args(x, J, L, k_max, k_min, delta, step)
    bank = filter_bank_bump_2d(x.shape[-2], x.shape[-1], J, L, full_circle=True, dtype=x.dtype, device=x.device)
    out = _foveal(x3, bank, J, k_max, k_min, delta, step)
    return out[0] if x.ndim == 2 else out


def foveal_covariance(x: torch.Tensor, J: int, L: int, k_max: int = 4, k_min: int = 0, delta: int = 2,
                      step: int | None = None) -> torch.Tensor:
    """Empirical covariance of the :func:`foveal_features`, pooled over all grid points and images:

    .. math:: K_{ab}=\\frac1n\\sum_{i=1}^n(f_{i,a}-m_a)\\,\\overline{(f_{i,b}-m_b)},\\qquad m=\\frac1n\\sum_i f_i

    (:math:`n=B\\,n_\\text{points}`, the biased estimator). Images are processed in chunks and the sums
    accumulated around the first chunk's mean (stable in float32). The result is Hermitian (exactly:
    symmetrised) and positive semi-definite; it is invariant to circular shifts of the images by
    multiples of ``step`` (they permute the grid points).

    Parameters
    ----------
    x, J, L, k_max, k_min, delta, step
        As in :func:`foveal_features`.

    Returns
    -------
    complex tensor (D, D), complex dtype matching x

    Used in: chapter 07.
    """
    x3, J, L, k_max, k_min, delta, step = _foveal_args(x, J, L, k_max, k_min, delta, step)
    if x3.shape[0] == 0:
        raise ValueError(f"x: expected at least one image (B >= 1) for a covariance, got shape {tuple(x.shape)}")
    M, N = x.shape[-2:]
    bank = filter_bank_bump_2d(M, N, J, L, full_circle=True, dtype=x.dtype, device=x.device)
    P = (2 * delta + 1) ** 2
    D = 2 * L * P * sum(max(0, min(k_max, 2**j) - k_min + 1) for j in range(J)) + P
    n_points = -(-M // step) * -(-N // step)
    chunk = max(1, 2**22 // (n_points * D))  # images per chunk: about 2**22 feature entries
    n, shift, s1, s2 = 0, None, None, None
    for i in range(0, x3.shape[0], chunk):
        f = _foveal(x3[i:i + chunk], bank, J, k_max, k_min, delta, step).flatten(0, 1)  # (n_i, D)
        if shift is None:
            shift = f.mean(dim=0)
        f = f - shift
        a, b = f.sum(dim=0), f.transpose(0, 1) @ f.conj()
        s1, s2 = (a, b) if s1 is None else (s1 + a, s2 + b)
        n += f.shape[0]
    m = s1 / n
    K = s2 / n - m[:, None] * m.conj()[None, :]
    return 0.5 * (K + K.mH)
