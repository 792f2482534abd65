"""Layer 1: Fourier tools shared by every wavelet method of the course (chapters 05-11).

Conventions
-----------
- DFT as torch/numpy: :math:`\\hat x[k]=\\sum_t x[t]e^{-2i\\pi kt/N}`, the inverse divides by ``N``.
- Convolutions are circular (periodic) and computed as a pointwise product in Fourier.
- "Subsampling by ``k`` in Fourier" is the block mean of the spectrum,
  :math:`\\hat y[m]=\\frac1k\\sum_{i<k}\\hat x[m+iN/k]`, the DFT of ``x[::k]``.
- Every function takes an explicit ``dims`` (negative dims count from the end) and follows its
  input's device and dtype.

Used in: chapters 05 (scattering), 06-08 (phase harmonics, wph), 09-11.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from harmonia.config import check_broadcast, check_positive, check_tensor

__all__ = [
    "half_plane_shifts",
    "fft",
    "ifft",
    "subsample_fourier",
    "periodize_filter",
    "crop_filter_2d",
    "pad_reflect",
    "unpad",
    "conv_fourier",
    "circular_crosscorr",
    "fftfreq_grid",
    "spatial_shift",
]


def _dims(dims: int | Sequence[int]) -> tuple[int, ...]:
    return (dims,) if isinstance(dims, int) else tuple(dims)


def _check_dims(x: torch.Tensor, name: str, dims: int | Sequence[int]) -> tuple[int, ...]:
    """``dims`` as a tuple, each a valid dimension of ``x`` (named ``name``) with a non-zero size."""
    d = _dims(dims)
    for k in d:
        if isinstance(k, bool) or not isinstance(k, int) or not -x.ndim <= k < x.ndim:
            raise ValueError(f"dims: expected dimensions of {name} (a tensor with {x.ndim} dimensions), got {dims!r}")
        if x.shape[k] == 0:
            raise ValueError(f"{name}: expected a non-zero size along dims {dims!r}, got shape {tuple(x.shape)}")
    return d




def fft(x: torch.Tensor, dims: int | Sequence[int] = -1) -> torch.Tensor:
    """N-D FFT over ``dims`` (a real input gives a complex output of the matching precision)."""
    check_tensor(x, "x", dtype="fft", finite=False, nonempty=True)
    return torch.fft.fftn(x, dim=_check_dims(x, "x", dims))


def ifft(x_hat: torch.Tensor, dims: int | Sequence[int] = -1) -> torch.Tensor:
    """N-D inverse FFT over ``dims`` (complex output)."""
    check_tensor(x_hat, "x_hat", dtype="fft", finite=False, nonempty=True)
    return torch.fft.ifftn(x_hat, dim=_check_dims(x_hat, "x_hat", dims))


def subsample_fourier(x_hat: torch.Tensor, k: int, dims: int | Sequence[int] = -1) -> torch.Tensor:
    """Subsample by ``k`` along ``dims`` in the Fourier domain (block mean).

    Parameters
    ----------
    x_hat : (..., N) complex tensor (or (..., M, N) for two dims)
        A spectrum; every size along ``dims`` must be divisible by ``k``.
    k : int
        Subsampling factor (1 returns the input).
    dims : int or sequence of int

    Returns
    -------
    tensor of size N/k along each of ``dims``
        :math:`\\hat y[m]=\\frac1k\\sum_{i<k}\\hat x[m+iN/k]`, i.e. the DFT of ``x[::k]``.
    """
    check_tensor(x_hat, "x_hat", dtype="float_or_complex", finite=False)
    _check_dims(x_hat, "x_hat", dims)
    k = check_positive(k, "k", integer=True)
    if k == 1:
        return x_hat
    out = x_hat
    for d in _dims(dims):
        n = out.shape[d]
        if n % k:
            raise ValueError(f"k: expected a divisor of the size {n} along dim {d}, got {k}")
        d = d % out.ndim
        out = out.unflatten(d, (k, n // k)).mean(dim=d)
    return out


def periodize_filter(h_hat: torch.Tensor, k: int, dims: int | Sequence[int] = -1, reduce: str = "sum") -> torch.Tensor:
    """The filter a signal already subsampled by ``k`` needs: the periodised spectrum.

    ``reduce="mean"`` is :func:`subsample_fourier` (the DFT of ``h[::k]``); ``reduce="sum"`` is ``k``
    times that per dimension, which keeps convolutions computed at the coarse rate equal to the
    full-rate ones sampled (the "physical" convention).
    """
    if reduce not in ("mean", "sum"):
        raise ValueError(f"reduce: expected 'mean' or 'sum', got {reduce!r}")
    check_tensor(h_hat, "h_hat", dtype="float_or_complex", finite=False)
    _check_dims(h_hat, "h_hat", dims)
    out = subsample_fourier(h_hat, k, dims)
    if reduce == "sum":
        out = out * (k ** len(_dims(dims)))
    return out


def crop_filter_2d(h_hat: torch.Tensor, r: int) -> torch.Tensor:
    """Low-frequency crop of a 2-D spectrum to ``(M/2^r, N/2^r)`` (kymatio's 2D filter levels).

    Rows with index in ``[M 2^{-r-1}, M 2^{-r-1} + M (1 - 2^{-r}))`` are zeroed (same for columns),
    then the ``2^r x 2^r`` tiles are summed (no averaging).

    Parameters
    ----------
    h_hat : (..., M, N) tensor, M and N divisible by ``2**r``
    r : int >= 0
    """
    check_tensor(h_hat, "h_hat", dtype="float_or_complex", min_ndim=2, finite=False)
    r = check_positive(r, "r", integer=True, allow_zero=True)
    if r == 0:
        return h_hat
    M, N = h_hat.shape[-2:]
    f = 2**r
    if M % f or N % f:
        raise ValueError(f"r: expected 2**r to divide the filter size ({M}, {N}), got r={r}")
    out = h_hat.clone()
    m0, n0 = M // (2 * f), N // (2 * f)
    out[..., m0 : m0 + M - M // f, :] = 0
    out[..., :, n0 : n0 + N - N // f] = 0
    out = out.unflatten(-2, (f, M // f)).sum(dim=-3)
    return out.unflatten(-1, (f, N // f)).sum(dim=-2)


def pad_reflect(x: torch.Tensor, pads: Sequence[tuple[int, int]], dims: Sequence[int]) -> torch.Tensor:
    """Reflect-pad (numpy ``reflect``: no edge repeat) along ``dims`` by ``(left, right)`` each.

    Parameters
    ----------
    x : tensor
    pads : sequence of (left, right), one per dim; each must be smaller than the size along it
    dims : sequence of int, the padded dims (at most 3, as torch's reflect padding)
    """
    check_tensor(x, "x", dtype="float_or_complex", finite=False)
    _check_dims(x, "x", tuple(dims))
    dims = tuple(d % x.ndim for d in dims)
    if len(pads) != len(dims):
        raise ValueError(f"pads: expected one (left, right) pair per dim ({len(dims)}), got {len(pads)}")
    for (left, right), d in zip(pads, dims):
        if max(left, right) >= x.shape[d]:
            raise ValueError(
                f"pads: reflect padding needs pad < size along dim {d} (size {x.shape[d]}), got ({left}, {right})"
            )
    if all(left == right == 0 for left, right in pads):
        return x
    # torch pads the trailing dims: move the padded dims last, flatten the rest into one batch dim
    order = [d for d in range(x.ndim) if d not in dims] + list(dims)
    y = x.permute(order)
    batch_shape = y.shape[: x.ndim - len(dims)]
    y = y.reshape(-1, 1, *y.shape[x.ndim - len(dims) :])
    flat = [p for left_right in reversed(pads) for p in left_right]
    if y.is_complex():
        y = torch.complex(F.pad(y.real, flat, mode="reflect"), F.pad(y.imag, flat, mode="reflect"))
    else:
        y = F.pad(y, flat, mode="reflect")
    y = y.reshape(*batch_shape, *y.shape[2:])
    inverse = [order.index(d) for d in range(x.ndim)]
    return y.permute(inverse)


def unpad(x: torch.Tensor, starts: Sequence[int], ends: Sequence[int], dims: Sequence[int]) -> torch.Tensor:
    """Slice ``x[..., start:end, ...]`` along each of ``dims``."""
    if isinstance(x, torch.Tensor):  # (numpy arrays slice the same way)
        check_tensor(x, "x", min_ndim=1, finite=False)  # a 0-d tensor has no dimension to slice
    index: list[slice] = [slice(None)] * x.ndim
    for s, e, d in zip(starts, ends, dims):
        index[d % x.ndim] = slice(s, e)
    return x[tuple(index)]


def conv_fourier(x_hat: torch.Tensor, filt_hat: torch.Tensor) -> torch.Tensor:
    """Circular convolution in Fourier: broadcasting product ``x_hat * filt_hat`` (real filters are
    promoted to the spectrum's complex dtype)."""
    check_tensor(x_hat, "x_hat", dtype="float_or_complex", finite=False)
    check_tensor(filt_hat, "filt_hat", dtype="float_or_complex", finite=False, like=x_hat)
    check_broadcast(x_hat.shape, filt_hat.shape, "x_hat", "filt_hat")
    if not filt_hat.is_complex():
        filt_hat = filt_hat.to(x_hat.real.dtype)
    return x_hat * filt_hat


def circular_crosscorr(a: torch.Tensor, b: torch.Tensor, dims: int | Sequence[int] = -1) -> torch.Tensor:
    """Circular cross-correlation :math:`c[\\tau]=\\sum_u a[u+\\tau]\\overline{b[u]}` over ``dims``.

    Returns a complex tensor when either input is complex, else a real one.
    """
    check_tensor(a, "a", dtype="fft", nonempty=True)
    check_tensor(b, "b", dtype="fft", like=a, nonempty=True)
    check_broadcast(a.shape, b.shape, "a", "b")
    d = _check_dims(a, "a", dims)
    _check_dims(b, "b", dims)
    c = torch.fft.ifftn(torch.fft.fftn(a, dim=d) * torch.fft.fftn(b, dim=d).conj(), dim=d)
    return c if (a.is_complex() or b.is_complex()) else c.real


def fftfreq_grid(shape: Sequence[int], *, radians: bool = True, dtype: torch.dtype = torch.float64,
                 device: torch.device | str | None = None) -> list[torch.Tensor]:
    """Frequency grids in FFT order, one broadcastable tensor per axis.

    ``radians=True`` gives :math:`\\omega=2\\pi k/N\\in[-\\pi,\\pi)`; ``False`` cycles per sample
    :math:`f=k/N\\in[-1/2,1/2)`. For ``shape=(M, N)`` the two tensors have shapes ``(M, 1)`` and
    ``(1, N)``.
    """
    out = []
    for axis, n in enumerate(shape):
        n = check_positive(n, "shape", integer=True, allow_zero=True)
        f = torch.fft.fftfreq(int(n), dtype=dtype, device=device)
        if radians:
            f = 2 * torch.pi * f
        view = [1] * len(shape)
        view[axis] = int(n)
        out.append(f.reshape(view))
    return out


def half_plane_shifts(dn: int) -> list[tuple[int, int]]:
    """Spatial shifts on one half of the integer grid: :math:`(n_1,n_2)`, :math:`n_1\\in\\{0..\\Delta_n\\}`, :math:`n_2\\in\\{-\\Delta_n..\\Delta_n\\}`,
    :math:`(n_1,n_2)\\ne(0,0)`: :math:`(\\Delta_n+1)(2\\Delta_n+1)-1` of them (14 for :math:`\\Delta_n=2`).

    Because a covariance at shift :math:`-n` is the conjugate of the one at :math:`n`, this half plane
    (with the :math:`n_1=0` row kept whole) is the set of shifts of the moment models of chapter 07.

    Parameters
    ----------
    dn : int >= 0
        The range :math:`\\Delta_n`.

    Returns
    -------
    list of (n1, n2) int pairs, in row-major order.

    Used in: chapter 07 (:mod:`harmonia.wph.models`, :mod:`harmonia.maxent`).
    """
    dn = check_positive(dn, "dn", integer=True, allow_zero=True)
    return [(a, b) for a in range(dn + 1) for b in range(-dn, dn + 1) if (a, b) != (0, 0)]


def spatial_shift(h_hat: torch.Tensor, tau: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Translate 2D filters by a (possibly non-integer) vector, in Fourier: the phase ramp

    .. math:: \\hat h_\\tau(\\omega)=\\hat h(\\omega)\\,e^{i\\langle\\omega,\\tau\\rangle}
              \\quad\\Longleftrightarrow\\quad h_\\tau(u)=h(u+\\tau)\\ \\text{(integer }\\tau\\text{: a circular roll)}.

    Parameters
    ----------
    h_hat : (..., M, N) tensor in FFT order (real or complex)
    tau : (2,) shift (rows, columns) in pixels, or (..., 2) one per filter (broadcast over the leading dims)

    Returns
    -------
    complex tensor of ``h_hat``'s shape

    Used in: chapter 10 (shifted wavelets of the point-process moments).
    """
    check_tensor(h_hat, "h_hat", dtype="float_or_complex", min_ndim=2)
    if isinstance(tau, torch.Tensor):
        check_tensor(tau, "tau", dtype="real")
    t = torch.as_tensor(tau, dtype=torch.float64, device=h_hat.device)
    if t.shape[-1:] != (2,):
        raise ValueError(f"tau: expected a (..., 2) shift (rows, columns), got shape {tuple(t.shape)}")
    M, N = h_hat.shape[-2:]
    wy, wx = fftfreq_grid((M, N), dtype=torch.float64, device=h_hat.device)
    phase = wy * t[..., 0, None, None] + wx * t[..., 1, None, None]
    cdtype = torch.complex64 if h_hat.dtype in (torch.float32, torch.complex64) else torch.complex128
    return h_hat.to(cdtype) * torch.polar(torch.ones_like(phase), phase).to(cdtype)
