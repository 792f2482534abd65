"""Layer 2: how close a reconstruction is to the original, up to a circular shift.

Statistics that are invariant to translation (scattering, phase-harmonic moments) can only
recover a signal up to a shift, so reconstructions are compared after the best circular
alignment

.. math:: s^*=\\arg\\min_s\\|\\operatorname{roll}(x,s)-x_0\\|
             =\\arg\\max_s\\sum_u x(u-s)\\,x_0(u),

the maximiser of the circular cross-correlation, computed with the FFT. With it,

.. math:: \\mathrm{PSNR}=10\\log_{10}\\frac{\\text{peak}^2}{\\mathrm{MSE}},\\qquad
          \\mathrm{MSE}=\\frac1N\\min_s\\|\\operatorname{roll}(x,s)-x_0\\|^2

(peak 1, :math:`N` pixels) is the evaluation of Mallat, Zhang and Rochette.

Every function takes ``dims`` (``(-1,)`` for 1D signals, ``(-2, -1)`` for images); the other
dimensions are batch dimensions, each element compared separately. Inputs are real, finite and
of equal shapes.

Used in: chapters 05-08 (inverting scattering and phase-harmonic representations).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from harmonia.config import check_positive, check_tensor
from harmonia.fourier import circular_crosscorr

__all__ = ["align_circular", "relative_error", "relative_error_aligned", "psnr", "psnr_aligned"]


def _check(x: torch.Tensor, x0: torch.Tensor, dims: int | Sequence[int]) -> tuple[int, ...]:
    """Validate a pair of signals and return ``dims`` as distinct non-negative ints."""
    check_tensor(x, "x", dtype="floating")
    check_tensor(x0, "x0", dtype="floating", like=x)
    if x0.shape != x.shape:
        raise ValueError(f"x0: expected the shape of x {tuple(x.shape)}, got {tuple(x0.shape)}")
    raw = (dims,) if isinstance(dims, int) else tuple(dims)
    if (not raw or any(isinstance(d, bool) or not isinstance(d, int) for d in raw)
            or any(not -x.ndim <= d < x.ndim for d in raw) or len({d % x.ndim for d in raw}) != len(raw)):
        raise ValueError(f"dims: expected distinct dimensions of a {x.ndim}-D tensor (in [{-x.ndim}, {x.ndim})), "
                         f"got {dims!r}")
    return tuple(d % x.ndim for d in raw)


def align_circular(x: torch.Tensor, x0: torch.Tensor,
                   dims: int | Sequence[int] = (-1,)) -> tuple[torch.Tensor, torch.Tensor]:
    """Circularly shift ``x`` to best match ``x0``: :math:`\\operatorname{roll}(x,s^*)`.

    Parameters
    ----------
    x, x0 : real tensors of the same shape (..., N) or (..., M, N)
    dims : int or sequence of int
        The shifted dimensions; all others are batch dimensions, aligned separately.

    Returns
    -------
    aligned : tensor of x's shape
        ``torch.roll(x, s*, dims)`` per batch element (an exact permutation of x's entries).
    shifts : int64 tensor of shape (*batch, len(dims))
        :math:`s^*\\in[0,n)` per dim: the first (in row-major order) maximiser of the FFT
        cross-correlation :math:`c[s]=\\sum_u x(u-s)\\,x_0(u)`. If ``x = roll(x0, k)`` then
        :math:`s^*=-k \\bmod n`.
    """
    d = _check(x, x0, dims)
    k = len(d)
    batch = [i for i in range(x.ndim) if i not in d]
    xm, x0m = x.permute(*batch, *d), x0.permute(*batch, *d)  # batch first, shifted dims last
    sizes = xm.shape[xm.ndim - k:]
    last = tuple(range(-k, 0))
    corr = circular_crosscorr(x0m, xm, last)  # c[s] = sum_u x0(u + s) x(u) = sum_v roll(x, s)(v) x0(v)
    flat = corr.flatten(start_dim=xm.ndim - k).argmax(dim=-1)  # first maximum
    shifts = torch.stack(torch.unravel_index(flat, tuple(sizes)), dim=-1).to(torch.int64)
    out = xm
    for j in range(k):  # roll(x, s)[u] = x[u - s], one gather per shifted dim
        n = sizes[j]
        view = [1] * k
        view[j] = n
        ar = torch.arange(n, device=x.device).view(view)
        idx = (ar - shifts[..., j].reshape(*shifts.shape[:-1], *([1] * k))) % n
        out = torch.gather(out, out.ndim - k + j, idx.expand(out.shape))
    inverse = [0] * x.ndim
    for pos, dim in enumerate(batch + list(d)):
        inverse[dim] = pos
    return out.permute(inverse), shifts


def relative_error(x: torch.Tensor, x0: torch.Tensor, dims: int | Sequence[int] = (-1,)) -> torch.Tensor:
    """:math:`\\|x-x_0\\|/\\|x_0\\|` over ``dims``.

    Parameters
    ----------
    x, x0 : real tensors of the same shape; ``x0`` nonzero in every batch element
    dims : int or sequence of int

    Returns
    -------
    tensor of the batch shape (0-d without batch dimensions)
    """
    d = _check(x, x0, dims)
    ref = torch.linalg.vector_norm(x0, dim=d)
    if bool((ref == 0).any()):
        raise ValueError("x0: expected a nonzero reference in every batch element, got one with ||x0|| = 0")
    return torch.linalg.vector_norm(x - x0, dim=d) / ref


def relative_error_aligned(x: torch.Tensor, x0: torch.Tensor, dims: int | Sequence[int] = (-1,)) -> torch.Tensor:
    """:func:`relative_error` after :func:`align_circular`:
    :math:`\\min_s\\|\\operatorname{roll}(x,s)-x_0\\|/\\|x_0\\|`."""
    return relative_error(align_circular(x, x0, dims)[0], x0, dims)


def psnr(x: torch.Tensor, x0: torch.Tensor, peak: float = 1.0, dims: int | Sequence[int] = (-1,)) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, :math:`10\\log_{10}(\\text{peak}^2/\\mathrm{MSE})`.

    Parameters
    ----------
    x, x0 : real tensors of the same shape
    peak : float
        The signal's peak value (1 for images in [0, 1]).
    dims : int or sequence of int
        The MSE is the mean of :math:`(x-x_0)^2` over ``dims``.

    Returns
    -------
    tensor of the batch shape (0-d without batch dimensions); ``inf`` where ``x == x0``
    """
    peak = float(check_positive(peak, "peak"))
    d = _check(x, x0, dims)
    mse = (x - x0).square().mean(dim=d)
    return 10 * torch.log10(peak**2 / mse)


def psnr_aligned(x: torch.Tensor, x0: torch.Tensor, peak: float = 1.0,
                 dims: int | Sequence[int] = (-1,)) -> torch.Tensor:
    """:func:`psnr` after :func:`align_circular` (Mallat-Zhang-Rochette's reconstruction score)."""
    check_positive(peak, "peak")
    return psnr(align_circular(x, x0, dims)[0], x0, peak, dims)
