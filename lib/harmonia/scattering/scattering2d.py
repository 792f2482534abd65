"""2D wavelet scattering with Morlet wavelets (kymatio 0.3.0 filters, padding and channel order).

For an image :math:`x` of size :math:`M\\times N`, reflect-padded to :math:`M_p\\times N_p`
(:func:`harmonia.filters.morlet2d.compute_padding_2d`), with the bank of
:func:`harmonia.filters.morlet2d.filter_bank_2d` (scales :math:`j<J`, orientations :math:`t<L`),

.. math:: S_0x=x\\star\\phi_J,\\qquad S_1x[j_1,t_1]=|x\\star\\psi_{j_1,t_1}|\\star\\phi_J,\\qquad
          S_2x[j_1,t_1,j_2,t_2]=\\big||x\\star\\psi_{j_1,t_1}|\\star\\psi_{j_2,t_2}\\big|\\star\\phi_J
          \\quad(j_2>j_1),

each sampled every :math:`2^J` pixels and cropped by one coarse pixel at each border, so the output
is :math:`\\lfloor M/2^J\\rfloor\\times\\lfloor N/2^J\\rfloor`. Intermediate envelopes are subsampled as
their band allows: :math:`|x\\star\\psi_{j_1,t_1}|` by :math:`2^{j_1}`, the second-order one by
:math:`2^{j_2}`; a filter applied at resolution :math:`2^r` is its level-:math:`r` crop. All
convolutions are periodic (in Fourier), subsampling is the block mean of the spectrum, and the
low-pass outputs are real parts. This is kymatio 0.3.0's ``Scattering2D`` exactly (2D has no
normalisation quirk), so the array output matches kymatio's to float32 rounding.

Implementation (same numbers, less time than kymatio's path-by-path loop):

- paths are computed in batches sized to about :math:`2^{20}` complex values (``_CHUNK_ELEMENTS``): a chunk of
  the first-order orientations :math:`t_1` of one scale :math:`j_1`, carried through both orders before the next,
  and, for each pair :math:`(j_1,j_2)`, chunks of its paths :math:`(t_1,b)` with all :math:`t_2` at once. Small
  batches keep the working set in cache and the peak memory at kymatio's (measured by ``bench scattering``);
  the paths are independent, so the numbers do not depend on the chunking;
- "multiply by a filter, then subsample by :math:`k` in Fourier" is one batched matrix product per
  frequency of the coarse grid (the :math:`k^2` aliased frequencies are contracted with the filter),
  so the full-size product is never stored;
- the spectra of real signals are computed with ``rfft2`` where only a low-pass follows, and the
  low-pass + subsampling folds the rows in Fourier and samples the columns in space (exactly the
  same as the block mean in Fourier, on half the spectrum).

Used in: chapter 05.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import torch

from harmonia.config import check_in, check_positive
from harmonia.filters.morlet2d import compute_padding_2d, filter_bank_2d, filter_params_2d
from harmonia.fourier import conv_fourier, pad_reflect, unpad
from harmonia.pointwise import modulus
from harmonia.scattering.base import ScatteringBase

__all__ = ["Scattering2D"]

#: complex values of one chunk of paths (paths x filters x grid): 2**20 complex64 = 8 MiB; smaller chunks lower the
#: peak memory and keep the working set in cache (measured: 2**20 is both faster and leaner than one big batch)
_CHUNK_ELEMENTS = 1 << 20


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _parse_shape(shape: object) -> tuple[int, int]:
    if not isinstance(shape, Sequence) or isinstance(shape, str) or len(shape) != 2 or not all(
        _is_int(s) and s >= 1 for s in shape
    ):
        raise ValueError(f"shape: expected a pair of positive ints (M, N), got {shape!r}")
    return int(shape[0]), int(shape[1])


def _reflect_index(n: int, before: int, after: int) -> torch.Tensor:
    """Indices of numpy's ``reflect`` padding (no edge repeat) of a length-``n`` axis, valid for any
    pad (period :math:`2(n-1)`); used when a pad equals the size, which torch's reflect refuses."""
    i = torch.arange(-before, n + after) % (2 * (n - 1))
    return torch.where(i >= n, 2 * (n - 1) - i, i)


def _fold_filter(h: torch.Tensor, k: int) -> torch.Tensor:
    """Lay out real filters ``h`` (F, m, n) for :func:`_filter_subsample` with factor ``k``: a
    ``(m/k * n/k, F, k*k)`` tensor, ``G[(r, s), f, (a, c)] = h[f, a m/k + r, c n/k + s] / k^2``."""
    F, m, n = h.shape
    mk, nk = m // k, n // k
    g = h.reshape(F, k, mk, k, nk).permute(2, 4, 0, 1, 3).reshape(mk * nk, F, k * k)
    return (g / (k * k)).contiguous()


def _transpose(z: torch.Tensor) -> torch.Tensor:
    """``z.t().contiguous()`` of a 2D tensor (torch copies 2D transposes in cache blocks)."""
    return z.t().contiguous()


def _filter_subsample(u_t: torch.Tensor, shape: tuple[int, int], g: torch.Tensor, k: int) -> torch.Tensor:
    """``subsample_fourier(h[:, None] * u_hat[None], k, dims=(-2, -1))`` without the full product.

    Parameters
    ----------
    u_t : (m*n, P) complex tensor
        Spectra ``u_hat`` (P, m, n), transposed: ``u_hat.reshape(P, m*n).t().contiguous()`` (shared by
        the calls with several ``k``).
    shape : (m, n)
    g : (m/k * n/k, F, k*k) real tensor
        Filters ``h`` (F, m, n) laid out by :func:`_fold_filter` (which includes the ``1/k^2``).
    k : int >= 2

    Returns
    -------
    (F, P, m/k, n/k) complex tensor
        :math:`\\frac1{k^2}\\sum_{a,c<k}h[f,r+am/k,s+cn/k]\\,\\hat u[p,r+am/k,s+cn/k]`: for every coarse
        frequency :math:`(r,s)`, one (F x k^2) @ (k^2 x 2P) real matrix product (real and imaginary
        parts as columns). The spectra are moved to "frequency-major" layout and back with 2D
        transposes (cache-blocked copies) and one permutation with contiguous runs of ``P``.
    """
    (m, n), P = shape, u_t.shape[1]
    mk, nk = m // k, n // k
    F = g.shape[1]
    u = u_t.reshape(k, mk, k, nk, P).permute(1, 3, 0, 2, 4).contiguous()  # (r, s, a, c, P)
    u = torch.view_as_real(u).reshape(mk * nk, k * k, 2 * P)
    out = torch.bmm(g, u)  # (r s, F, 2P)
    del u  # free the gathered spectra before the transposed copy of the product
    out = torch.view_as_complex(out.reshape(mk * nk, F * P, 2))
    return _transpose(out).reshape(F, P, mk, nk)


def _lowpass(u_half: torch.Tensor, phi_half: torch.Tensor, k: int, n: int) -> torch.Tensor:
    """Low-pass filter and subsample by ``k``: ``Re ifft2(subsample_fourier(u_hat * phi, k))``.

    Parameters
    ----------
    u_half : (P, m, n//2 + 1) complex tensor
        Half spectrum (``rfft2``) of real signals of size (m, n).
    phi_half : (m, n//2 + 1) real tensor
        Half of a real, centro-symmetric filter, divided by ``k``.
    k : int
    n : int
        Full length of the last axis.

    Returns
    -------
    (P, m/k, n/k) real tensor
        The rows are subsampled in Fourier (sum of the ``k`` aliased rows, the ``1/k`` being in
        ``phi_half``), the columns in space (every ``k``-th sample of the inverse real FFT); both are
        exact forms of the block mean of the spectrum.
    """
    z = conv_fourier(u_half, phi_half)
    if k > 1:
        z = z.unflatten(-2, (k, z.shape[-2] // k)).sum(dim=-3)
    z = torch.fft.ifft(z, dim=-2)
    y = torch.fft.irfft(z, n=n, dim=-1)
    return y[..., ::k] if k > 1 else y


class Scattering2D(ScatteringBase):
    """2D scattering transform with Morlet wavelets, as kymatio 0.3.0's (array output).

    .. math:: S_0x=x\\star\\phi_J,\\quad S_1x[j_1,t_1]=|x\\star\\psi_{j_1,t_1}|\\star\\phi_J,\\quad
              S_2x[j_1,t_1,j_2,t_2]=||x\\star\\psi_{j_1,t_1}|\\star\\psi_{j_2,t_2}|\\star\\phi_J\\ (j_2>j_1),

    sampled every :math:`2^J` pixels (see the module docstring for padding, subsampling and levels).

    Parameters
    ----------
    J : int >= 1
        Number of scales; :math:`2^J` (the averaging scale) must not exceed ``min(M, N)``.
    shape : (int, int)
        Spatial size ``(M, N)`` of the input images.
    L : int >= 1
        Number of orientations (the filters are designed for ``L=8``).
    max_order : {1, 2}
        Highest scattering order.
    pre_pad : bool
        If true, the input is already padded to ``compute_padding_2d(M, N, J)`` (e.g. a crop of a
        larger image) and is not reflect-padded again.

    Attributes
    ----------
    J, L, max_order, pre_pad
        As given.
    signal_shape : (int, int)
        ``(M, N)``.
    padded_shape : (int, int)
        ``(M_p, N_p)``.
    shape : (int, int)
        Expected spatial shape of the input (``signal_shape``, or ``padded_shape`` with ``pre_pad``).

    Notes
    -----
    ``forward(x)``: ``x`` of shape ``(..., M, N)`` (``(..., M_p, N_p)`` with ``pre_pad``), float32 or
    float64, on the module's device; returns ``(..., C, M // 2**J, N // 2**J)`` of ``x``'s dtype with
    :math:`C=1+LJ+L^2J(J-1)/2` channels (``1+LJ`` for ``max_order=1``), in kymatio's order: :math:`S_0`;
    :math:`S_1` indexed :math:`n_1=j_1L+t_1`; :math:`S_2` with :math:`(j_1,t_1)` outer and
    :math:`(j_2,t_2)`, :math:`j_2>j_1`, inner. ``meta()`` describes each channel.

    The filters are ``filter_bank_2d(*padded_shape, J, L)``
    (:func:`~harmonia.filters.morlet2d.filter_bank_2d`), held as (non-persistent) buffers in layouts
    made for the batched forward pass.

    Used in: chapter 05.
    """

    signal_ndim = 2

    def __init__(self, J: int, shape: Sequence[int], L: int = 8, max_order: int = 2, pre_pad: bool = False) -> None:
        super().__init__()
        J = int(check_positive(J, "J", integer=True))
        M, N = _parse_shape(shape)
        L = int(check_positive(L, "L", integer=True))
        if not _is_int(max_order):
            raise TypeError(f"max_order: expected 1 or 2, got {type(max_order).__name__} {max_order!r}")
        check_in(max_order, "max_order", (1, 2))
        if not isinstance(pre_pad, bool):
            raise TypeError(f"pre_pad: expected a bool, got {type(pre_pad).__name__} {pre_pad!r}")
        if 2**J > min(M, N):
            raise ValueError(
                f"J: expected 2**J <= min(M, N) = {min(M, N)} for shape {(M, N)}, got J={J} (2**J = {2**J})"
            )
        self.J, self.L, self.max_order, self.pre_pad = J, L, int(max_order), pre_pad
        self.signal_shape = (M, N)
        Mp, Np = compute_padding_2d(M, N, J)
        self.padded_shape = (Mp, Np)
        self.pads = (((Mp - M) // 2, (Mp - M + 1) // 2), ((Np - N) // 2, (Np - N + 1) // 2))
        self.shape = (Mp, Np) if pre_pad else (M, N)
        self._register_filters(filter_bank_2d(Mp, Np, J, L))

    # ------------------------------------------------------------------------------------------
    # Filters, laid out for the batched forward pass
    # ------------------------------------------------------------------------------------------
    def _register_filters(self, bank: dict[str, Any]) -> None:
        """Buffers (float32, not saved in the state dict: they follow from the arguments):

        - ``phi_r`` (r < J): half (``rfft`` columns) of the low-pass at level r, divided by
          :math:`2^{J-r}` (see :func:`_lowpass`);
        - ``psi_0_0``: (L, M_p, N_p) the wavelets of scale 0 (first order, no subsampling);
        - ``psi_j_r``: the L wavelets of scale j at level r, laid out by :func:`_fold_filter` for the
          subsampling by :math:`2^{j-r}` (first order: r = 0; second order: r = j_1 < j).
        """
        J, L = self.J, self.L

        def stack(j: int, level: int) -> torch.Tensor:  # (L, Mp/2^level, Np/2^level)
            return torch.stack([p["levels"][level] for p in bank["psi"][j * L : (j + 1) * L]])

        for r, phi in enumerate(bank["phi"]):
            half = phi[:, : phi.shape[-1] // 2 + 1] / 2 ** (J - r)
            self.register_buffer(f"phi_{r}", half.contiguous(), persistent=False)
        self.register_buffer("psi_0_0", stack(0, 0).contiguous(), persistent=False)
        self._psi_keys: dict[tuple[int, int], str] = {}
        for j in range(1, J):
            for r in [0] + (list(range(1, j)) if self.max_order == 2 else []):
                name = f"psi_{j}_{r}"
                self.register_buffer(name, _fold_filter(stack(j, r), 2 ** (j - r)), persistent=False)
                self._psi_keys[(j, r)] = name

    def _buf(self, name: str, dtype: torch.dtype) -> torch.Tensor:
        b = getattr(self, name)
        return b if b.dtype == dtype else b.to(dtype)

    # ------------------------------------------------------------------------------------------
    # Forward
    # ------------------------------------------------------------------------------------------
    def _check_input(self, x: object) -> torch.Tensor:
        if self.pre_pad and isinstance(x, torch.Tensor) and x.ndim >= 2 and tuple(x.shape[-2:]) != self.shape:
            raise ValueError(
                f"x: expected a tensor whose last 2 dimensions are {self.shape} (pre_pad=True: the input "
                f"already padded to compute_padding_2d{self.signal_shape + (self.J,)}), got shape {tuple(x.shape)}"
            )
        return super()._check_input(x)

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_pad:
            return x
        (top, bottom), (left, right) = self.pads
        M, N = self.signal_shape
        if max(top, bottom) < M and max(left, right) < N:
            return pad_reflect(x, self.pads, dims=(-2, -1))
        # a pad equal to the size (M or N = 2^J): torch's reflect refuses, index numpy-style
        rows = _reflect_index(M, top, bottom).to(x.device)
        cols = _reflect_index(N, left, right).to(x.device)
        return x.index_select(-2, rows).index_select(-1, cols)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        J, L = self.J, self.L
        B = x.shape[0]
        rdtype = x.dtype
        cdtype = torch.complex64 if rdtype == torch.float32 else torch.complex128
        Mp, Np = self.padded_shape
        # torch's fft2 of a real tensor is slower than casting to complex first
        x_hat = torch.fft.fft2(self._pad(x).to(cdtype))  # (B, Mp, Np)

        def crop(s: torch.Tensor) -> torch.Tensor:
            return unpad(s, (1, 1), (-1, -1), dims=(-2, -1))

        s0 = crop(_lowpass(x_hat[..., : Np // 2 + 1], self._buf("phi_0", rdtype), 2**J, Np))
        x_t = _transpose(x_hat.reshape(B, Mp * Np)) if J > 1 else None
        out_1, out_2 = [], []
        for j1 in range(J):
            m1, n1 = Mp >> j1, Np >> j1
            children = range(j1 + 1, J) if self.max_order == 2 else range(0)
            # the orientations t1 of scale j1 in chunks, each carried through both orders before the next (peak
            # memory: one chunk's envelopes and spectra at a time; paths are independent, the numbers the same)
            per_orientation = B * m1 * n1
            width = max(1, min(L, _CHUNK_ELEMENTS // (2 * per_orientation)))
            s1_parts, s2_parts = [], []
            for t0 in range(0, L, width):
                t1 = min(L, t0 + width)
                l = t1 - t0
                # first order, orientations t0..t1-1 of scale j1: (l, B, m1, n1) (orientation-major)
                if j1 == 0:
                    v = conv_fourier(x_hat[None], self._buf("psi_0_0", rdtype)[t0:t1, None])
                else:
                    g1 = self._buf(self._psi_keys[(j1, 0)], rdtype)[:, t0:t1]
                    v = _filter_subsample(x_t, (Mp, Np), g1, 2**j1)
                u1 = modulus(torch.fft.ifft2(v))
                del v
                u1_t = None
                if len(children):
                    u1_hat = torch.fft.fft2(u1.to(cdtype))
                    u1_half = u1_hat[..., : n1 // 2 + 1]
                    u1_t = _transpose(u1_hat.reshape(l * B, m1 * n1))
                else:
                    u1_half = torch.fft.rfft2(u1)
                s1_parts.append(crop(_lowpass(u1_half, self._buf(f"phi_{j1}", rdtype), 2 ** (J - j1), n1)))
                del u1, u1_half
                u1_hat = None
                blocks = []
                for j2 in children:
                    # second order, all (t1, t2) of the pair (j1, j2): (L2, l B, m2, n2), in chunks of paths (t1, b)
                    # so that the product, its transposed copy and its inverse FFT stay small
                    g = self._buf(self._psi_keys[(j2, j1)], rdtype)
                    k = 2 ** (j2 - j1)
                    per_path = g.shape[1] * (m1 // k) * (n1 // k)      # complex values of one path's product
                    step = max(1, min(l * B, _CHUNK_ELEMENTS // per_path))
                    pieces = []
                    for c0 in range(0, l * B, step):
                        v2 = _filter_subsample(u1_t[:, c0:c0 + step], (m1, n1), g, k)
                        u2 = modulus(torch.fft.ifft2(v2))
                        del v2
                        pieces.append(crop(_lowpass(torch.fft.rfft2(u2), self._buf(f"phi_{j2}", rdtype),
                                                    2 ** (J - j2), Np >> j2)))
                        del u2
                    s2 = torch.cat(pieces, dim=1) if len(pieces) > 1 else pieces[0]
                    blocks.append(s2.reshape(L, l, B, *s2.shape[-2:]).permute(2, 1, 0, 3, 4))  # (B, l, L2, ...)
                if blocks:
                    s2_parts.append(torch.cat(blocks, dim=2))  # (B, l, (j2, L2), ...)
                del u1_t
            s1 = torch.cat(s1_parts, dim=0) if len(s1_parts) > 1 else s1_parts[0]
            out_1.append(s1.transpose(0, 1))  # (B, L, ...)
            if s2_parts:
                s2 = torch.cat(s2_parts, dim=1) if len(s2_parts) > 1 else s2_parts[0]  # (t1 outer, (j2, t2) inner)
                out_2.append(s2.reshape(B, -1, *s2.shape[-2:]))
        return torch.cat([s0[:, None], *out_1, *out_2], dim=1)

    # ------------------------------------------------------------------------------------------
    # Description of the output
    # ------------------------------------------------------------------------------------------
    def output_size(self) -> int:
        """Number of output channels, :math:`1+LJ+L^2J(J-1)/2` (``1+LJ`` for ``max_order=1``)."""
        J, L = self.J, self.L
        return 1 + L * J + (L * L * J * (J - 1) // 2 if self.max_order == 2 else 0)

    def meta(self) -> list[dict[str, Any]]:
        """One dict per output channel, in output order.

        Returns
        -------
        list of dicts with ``"order"`` (0, 1 or 2), ``"j"`` (tuple of scales, ``()`` for order 0),
        ``"theta"`` (tuple of orientation indices) and ``"angle"`` (tuple of the orientations
        :math:`\\theta_t` in radians).
        """
        J, L = self.J, self.L
        angle = [p["angle"] for p in filter_params_2d(1, L)]  # theta_t, t < L
        out: list[dict[str, Any]] = [{"order": 0, "j": (), "theta": (), "angle": ()}]
        out += [{"order": 1, "j": (j, ), "theta": (t, ), "angle": (angle[t], )} for j in range(J) for t in range(L)]
        if self.max_order == 2:
            out += [
                {"order": 2, "j": (j1, j2), "theta": (t1, t2), "angle": (angle[t1], angle[t2])}
                for j1 in range(J)
                for t1 in range(L)
                for j2 in range(j1 + 1, J)
                for t2 in range(L)
            ]
        return out

    def extra_repr(self) -> str:
        return (f"J={self.J}, shape={self.signal_shape}, L={self.L}, max_order={self.max_order}, "
                f"pre_pad={self.pre_pad}, padded_shape={self.padded_shape}")
