"""1D wavelet scattering with Morlet wavelets (kymatio 0.3.0 filters, padding and path order).

For a signal :math:`x` of length :math:`N` (reflect-padded to :math:`N_{\\rm pad}`), with the bank of
:func:`harmonia.filters.morlet1d.filter_bank_1d`,

.. math:: S_0x=x\\star\\phi_T,\\qquad S_1x[n_1]=|x\\star\\psi_{n_1}|\\star\\phi_T,\\qquad
          S_2x[n_1,n_2]=\\big||x\\star\\psi_{n_1}|\\star\\psi_{n_2}\\big|\\star\\phi_T\\quad(j_{n_2}>j_{n_1}),

each subsampled by :math:`2^{\\lfloor\\log_2T\\rfloor}` (less with ``oversampling``). Intermediate
signals are subsampled as soon as their band allows: :math:`|x\\star\\psi_{n_1}|` by
:math:`2^{k_1}`, :math:`k_1=\\max(\\min(j_1,\\log_2T)-o,0)`, the second-order one by a further
:math:`2^{k_2}`, :math:`k_2=\\max(\\min(j_2,\\log_2T)-k_1-o,0)`.

Two normalisations of the filters used at a coarse rate :math:`2^k`:

- physical (default): :math:`2^k` times the DFT of :math:`h[2^kn]`, so a convolution computed at the
  coarse rate equals the full-rate one, sampled. Outputs do not depend on ``oversampling`` (up to
  the small aliasing that subsampling tolerates).
- ``compat="kymatio-0.3"``: the DFT of :math:`h[2^kn]` itself, as kymatio 0.3.0 does. Then
  :math:`S_1` carries a factor :math:`2^{-k_1}` and :math:`S_2` a factor :math:`2^{-(2k_1+k_2)}`, and
  the output reproduces kymatio's array output (and its dependence on ``oversampling``).

Implementation (same arithmetic as kymatio, organised for speed):

- batches instead of kymatio's path-by-path loop: all first-order wavelets sharing :math:`k_1` at
  once, all second-order paths sharing :math:`(j_1,k_2)` at once (a broadcast product of the
  first-order envelopes with the second-order wavelets); the channels are then put back in
  kymatio's order;
- real signals (:math:`x`, :math:`U_1`, :math:`U_2`) are carried by their ``rfft``; the bins above
  :math:`N/2` that a product needs are read by Hermitian symmetry;
- "multiply, then subsample by :math:`K` in Fourier" (a mean over :math:`K` spectral blocks) only
  visits the blocks where the filter exceeds :math:`10^{-20}` of its peak, usually the two around
  frequency 0 (the skipped terms are far below floating-point rounding).

Used in: chapter 05.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import torch

from harmonia.config import check_in, check_positive
from harmonia.filters.morlet1d import compute_padding, filter_bank_1d
from harmonia.fourier import pad_reflect, periodize_filter
from harmonia.pointwise import modulus
from harmonia.scattering.base import ScatteringBase

__all__ = ["Scattering1D", "COMPAT_MODES"]

COMPAT_MODES = (None, "kymatio-0.3")
# Spectral blocks where a filter stays below this fraction of its peak are skipped when a product
# is subsampled in Fourier (their contribution is far below double-precision rounding).
_BLOCK_TOL = 1e-20


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _parse_shape(shape: object) -> int:
    if isinstance(shape, Sequence) and not isinstance(shape, str):
        if len(shape) != 1:
            raise ValueError(f"shape: expected an int or a 1-tuple (N,), got {shape!r}")
        shape = shape[0]
    if not _is_int(shape):
        raise TypeError(f"shape: expected an int or a 1-tuple (N,), got {type(shape).__name__} {shape!r}")
    if shape < 2:  # (on one sample the wavelets, zero-mean, vanish and cannot be normalised)
        raise ValueError(f"shape: expected a signal length >= 2, got {shape!r}")
    return int(shape)


def _parse_Q(Q: object) -> tuple[int, int]:
    if isinstance(Q, Sequence) and not isinstance(Q, str):
        if len(Q) not in (1, 2):
            raise ValueError(f"Q: expected an int or a tuple (Q1,) or (Q1, Q2), got {Q!r}")
        values = list(Q) + [1] * (2 - len(Q))
    else:
        values = [Q, 1]
    for v in values:
        if not _is_int(v):
            raise TypeError(f"Q: expected an int >= 1 or a tuple of them, got {Q!r}")
        if v < 1:
            raise ValueError(f"Q: expected an int >= 1 or a tuple of them (wavelets per octave), got {Q!r}")
    return int(values[0]), int(values[1])


class Scattering1D(ScatteringBase):
    """1D Morlet wavelet scattering transform of order 1 or 2.

    Parameters
    ----------
    J : int >= 0
        Number of octaves: the wavelets reach the scale :math:`2^J`; needs :math:`2^J\\le N`.
    shape : int or (int,)
        Signal length :math:`N`.
    Q : int or tuple (Q1,) or (Q1, Q2)
        Wavelets per octave at orders 1 and 2 (an int means ``(Q, 1)``).
    T : int, optional
        Support of the low-pass :math:`\\phi_T` (width :math:`\\sigma_0/T`), :math:`1\\le T\\le N`;
        default :math:`2^J`. Outputs are subsampled by :math:`2^{\\lfloor\\log_2T\\rfloor}`.
    max_order : {1, 2}
        Highest scattering order.
    oversampling : int >= 0
        Subsample :math:`2^{\\rm oversampling}` times less (at every stage).
    compat : {None, "kymatio-0.3"}
        ``None``: physical normalisation (outputs independent of ``oversampling``);
        ``"kymatio-0.3"``: kymatio 0.3.0's array output exactly (its level normalisation quirk).

    Shapes
    ------
    - input: ``(..., N)``, float32 or float64 (float32 computes in complex64, float64 in complex128);
    - output: ``(..., P, N_out)`` with :math:`P` = :meth:`output_size` channels in kymatio's order
      (:math:`S_0`; :math:`S_1` by decreasing :math:`\\xi`; :math:`S_2` with :math:`n_1` outer,
      :math:`n_2` inner, only :math:`j_2>j_1`) and :math:`N_{\\rm out}=N/2^{\\max(\\log_2T-o,0)}` when
      that divides.

    Attributes
    ----------
    N_pad, pad_left, pad_right : int
        Reflect padding (see :func:`harmonia.filters.morlet1d.compute_padding`).
    log2_T : int
    params1, params2 : dict
        ``xi``, ``sigma``, ``j`` lists of the first- and second-order banks.

    Examples
    --------
    >>> S = Scattering1D(J=6, shape=1024, Q=8)
    >>> S.output_size(detail=True)
    (1, 38, 87)

    Used in: chapter 05.
    """

    signal_ndim = 1

    def __init__(
        self,
        J: int,
        shape: int | tuple[int],
        Q: int | tuple[int, ...] = 1,
        T: int | None = None,
        max_order: int = 2,
        oversampling: int = 0,
        compat: str | None = None,
    ) -> None:
        super().__init__()
        N = _parse_shape(shape)
        J = int(check_positive(J, "J", integer=True, allow_zero=True))
        max_J = N.bit_length() - 1
        if J > max_J:
            raise ValueError(
                f"J: expected at most {max_J} for signals of length {N} (the scale 2**J must not "
                f"exceed the length), got {J}"
            )
        Q1, Q2 = _parse_Q(Q)
        if T is None:
            T = 2**J
        elif not _is_int(T) or not 1 <= T <= N:
            raise ValueError(
                f"T: expected None or an int in [1, {N}] (the low-pass support, at most the signal "
                f"length), got {T!r}"
            )
        T = int(T)
        check_in(max_order, "max_order", (1, 2))
        oversampling = int(check_positive(oversampling, "oversampling", integer=True, allow_zero=True))
        check_in(compat, "compat", COMPAT_MODES)

        self.J, self.Q, self.T = J, (Q1, Q2), T
        self.max_order, self.oversampling, self.compat = int(max_order), oversampling, compat
        self.shape = (N,)
        self.log2_T = int(math.floor(math.log2(T)))
        self.N_pad, self.pad_left, self.pad_right = compute_padding(N, J, T)

        bank = filter_bank_1d(self.N_pad, J, (Q1, Q2), T)
        psi1, psi2, phi = bank["psi1"], bank["psi2"], bank["phi"]
        self.params1 = {key: [f[key] for f in psi1] for key in ("xi", "sigma", "j")}
        self.params2 = {key: [f[key] for f in psi2] for key in ("xi", "sigma", "j")}
        self._build_plan()

        # Filters as float64 buffers; level k gets the factor 2**k in the physical convention.
        def scale(k: int) -> float:
            return 1.0 if compat == "kymatio-0.3" else float(2**k)

        # (a second-order wavelet only has the levels its parents need; the stacks are periodised
        # here from level 0 so every row exists at every level used)
        self.register_buffer("psi1_hat", torch.stack([f["levels"][0] for f in psi1]))
        psi2_0 = torch.stack([f["levels"][0] for f in psi2])
        for k in sorted(self._psi2_levels):
            level = periodize_filter(psi2_0, 2**k, dims=-1, reduce="mean")
            self.register_buffer(f"psi2_hat_{k}", level * scale(k))
        for k in sorted(self._phi_levels):
            self.register_buffer(f"phi_hat_{k}", phi["levels"][k] * scale(k))
        # Which spectral blocks each subsampling needs (the others hold negligible filter values).
        self._blocks: dict[tuple[str, tuple[int, int] | None, int], list[int]] = {}
        for k in self._phi_levels:
            self._keep_blocks(f"phi_hat_{k}", None, max(self.log2_T - k - oversampling, 0))
        for group in self._groups1:
            self._keep_blocks("psi1_hat", group["n1"], group["k1"])
            for block in group["blocks"]:
                self._keep_blocks(f"psi2_hat_{group['k1']}", block["n2"], block["k2"])
        self._build_gathers()
        perm = torch.as_tensor(self._perm, dtype=torch.long)
        self.register_buffer("_order_index", perm, persistent=False)
        self._identity_order = bool(torch.equal(perm, torch.arange(perm.numel())))

    # -----------------------------------------------------------------------------------------
    # The plan: which paths are computed together, at which rates, and where they go.
    # -----------------------------------------------------------------------------------------
    def _build_plan(self) -> None:
        o, log2_T = self.oversampling, self.log2_T
        j1s, j2s = self.params1["j"], self.params2["j"]
        self._k0 = max(log2_T - o, 0)
        self._k_out = self._k0  # every output ends at this total subsampling exponent
        start, end = self.pad_left, self.pad_left + self.shape[0]
        for _ in range(self._k_out):
            start, end = -(-start // 2), -(-end // 2)
        self._out_slice = (start, end)

        def k1_of(j1: int) -> int:
            return max(min(j1, log2_T) - o, 0)

        def k2_of(j2: int, k1: int) -> int:
            return max(min(j2, log2_T) - k1 - o, 0)

        # Output channel of each path, kymatio's order.
        channel: dict[tuple[int, ...], int] = {(): 0}
        for n1 in range(len(j1s)):
            channel[(n1,)] = len(channel)
        if self.max_order == 2:
            for n1, j1 in enumerate(j1s):
                for n2, j2 in enumerate(j2s):
                    if j2 > j1:
                        channel[(n1, n2)] = len(channel)
        self._paths = list(channel)

        # First order: groups of filters with the same k1, as contiguous runs (j is sorted).
        groups: dict[int, list[int]] = {}
        for n1, j1 in enumerate(j1s):
            groups.setdefault(k1_of(j1), []).append(n1)
        self._groups1: list[dict[str, Any]] = []
        computed: list[tuple[int, ...]] = [()]
        psi2_levels: set[int] = set()
        phi_levels: set[int] = {0}
        for k1 in sorted(groups):
            for run in _runs(groups[k1]):
                blocks = []
                phi_levels.add(k1)
                computed += [(n1,) for n1 in run]
                if self.max_order == 2:
                    # second order: (same j1) x (same k2) blocks, n1 outer, n2 inner
                    by_j1: dict[int, list[int]] = {}
                    for n1 in run:
                        by_j1.setdefault(j1s[n1], []).append(n1)
                    for j1, n1_list in by_j1.items():
                        children: dict[int, list[int]] = {}
                        for n2, j2 in enumerate(j2s):
                            if j2 > j1:
                                children.setdefault(k2_of(j2, k1), []).append(n2)
                        for n1_run in _runs(n1_list):
                            for k2 in sorted(children):
                                for n2_run in _runs(children[k2]):
                                    blocks.append(
                                        {
                                            "n1": (n1_run[0] - run[0], n1_run[-1] + 1 - run[0]),
                                            "n2": (n2_run[0], n2_run[-1] + 1),
                                            "k2": k2,
                                        }
                                    )
                                    psi2_levels.add(k1)
                                    phi_levels.add(k1 + k2)
                                    computed += [(n1, n2) for n1 in n1_run for n2 in n2_run]
                self._groups1.append({"k1": k1, "n1": (run[0], run[-1] + 1), "blocks": blocks})
        self._psi2_levels = psi2_levels
        self._phi_levels = phi_levels
        position = {path: i for i, path in enumerate(computed)}
        # output channel c takes computed row perm[c]
        self._perm = [position[path] for path in self._paths]

    # -----------------------------------------------------------------------------------------
    # Forward
    # -----------------------------------------------------------------------------------------
    def _prepared(self, name: str, rows: tuple[int, int] | None, k: int, dtype: torch.dtype) -> torch.Tensor:
        """Filter rows of buffer ``name`` ready for :func:`_mul_sum_blocks` (subsampling by ``2**k``):
        the kept blocks only, divided by ``2**k`` (the block mean), cast to ``dtype``."""
        h = getattr(self, name)
        if rows is not None:
            h = h[rows[0] : rows[1]]
        return _select_blocks(h, 2**k, self._blocks[(name, rows, k)]).to(dtype) / 2**k

    def _keep_blocks(self, name: str, rows: tuple[int, int] | None, k: int) -> None:
        """Record which of the ``2**k`` spectral blocks of the filters matter (peak above
        ``_BLOCK_TOL`` times the filters' peak); the others are skipped when subsampling."""
        h = getattr(self, name)
        if rows is not None:
            h = h[rows[0] : rows[1]]
        K = 2**k
        peak = h.abs().reshape(-1, K, h.shape[-1] // K).amax(dim=(0, 2))
        keep = torch.nonzero(peak > _BLOCK_TOL * peak.max()).flatten().tolist()
        self._blocks[(name, rows, k)] = keep or [0]  # (an all-zero filter: any one block)

    def _build_gathers(self) -> None:
        """For each real signal of the tree (``x``, each group's envelopes, each block's second-order
        envelopes): the runs of its ``rfft`` that make up every spectral block its uses need (its
        low-pass and, for a first-order envelope, its second-order wavelets), read in one
        :class:`_GatherRuns` so the backward pass fills one gradient buffer per signal."""
        o, log2_T = self.oversampling, self.log2_T
        self._gathers: dict[tuple, tuple[tuple[tuple[int, int, bool], ...], list[tuple[int, int]]]] = {}

        def k_J(k: int) -> int:
            return max(log2_T - k - o, 0)

        def add(key: tuple, L: int, uses: list[tuple[int, list[int]]]) -> None:
            runs: list[tuple[int, int, bool]] = []
            for K, keep in uses:
                runs += _real_spectrum_runs(L, K, keep)
            self._gathers[key] = (tuple(runs), [(len(keep), L // K) for K, keep in uses])

        def phi_use(k: int) -> tuple[int, list[int]]:
            return 2 ** k_J(k), self._blocks[(f"phi_hat_{k}", None, k_J(k))]

        x_uses = [phi_use(0)]
        for g, group in enumerate(self._groups1):
            k1 = group["k1"]
            x_uses.append((2**k1, self._blocks[("psi1_hat", group["n1"], k1)]))
            L1 = self.N_pad // 2**k1
            u1_uses = [phi_use(k1)]
            for b, block in enumerate(group["blocks"]):
                k2 = block["k2"]
                u1_uses.append((2**k2, self._blocks[(f"psi2_hat_{k1}", block["n2"], k2)]))
                add(("u2", g, b), L1 // 2**k2, [phi_use(k1 + k2)])
            add(("u1", g), L1, u1_uses)
        add(("x",), self.N_pad, x_uses)

    def _gather(self, a_half: torch.Tensor, key: tuple) -> list[torch.Tensor]:
        """The spectral blocks of the full DFT of a real signal that its uses need, from its rfft
        ``a_half`` (..., L/2+1): one (..., n_blocks, L/K) tensor per use (see :meth:`_build_gathers`)."""
        runs, shapes = self._gathers[key]
        g = _GatherRuns.apply(a_half, runs)
        parts = g.split([nb * w for nb, w in shapes], dim=-1)
        return [p.unflatten(-1, shape) for p, shape in zip(parts, shapes)]

    def _lowpass(self, u_blocks: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        """Re IFFT(sub(u_hat * phi)) from the kept blocks of u_hat, cropped to the signal's support."""
        y = torch.fft.ifft(_mul_sum_blocks(u_blocks, phi), dim=-1).real
        start, end = self._out_slice
        return y[..., start:end]

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        B = x.shape[0]
        o, log2_T = self.oversampling, self.log2_T

        def k_J(k: int) -> int:  # the low-pass subsampling after a stage at exponent k
            return max(log2_T - k - o, 0)

        phi = {k: self._prepared(f"phi_hat_{k}", None, k_J(k), dtype) for k in self._phi_levels}
        x_pad = pad_reflect(x, [(self.pad_left, self.pad_right)], dims=[-1])
        # Real signals are carried by their rfft (half spectrum); the blocks of the full spectrum
        # that a product needs are gathered from it by Hermitian symmetry.
        x_half = torch.fft.rfft(x_pad, dim=-1)  # (B, N_pad / 2 + 1)
        x_blocks = self._gather(x_half, ("x",))
        pieces = [self._lowpass(x_blocks[0], phi[0]).unsqueeze(1)]  # S0: (B, 1, N_out)
        for g, group in enumerate(self._groups1):
            k1 = group["k1"]
            a1, b1 = group["n1"]
            # |x * psi_n1| for the whole group, subsampled by 2^k1: (B, F, N_pad / 2^k1)
            psi1 = self._prepared("psi1_hat", (a1, b1), k1, dtype)
            v1 = _mul_sum_blocks(x_blocks[1 + g].unsqueeze(1), psi1)
            u1_half = torch.fft.rfft(modulus(torch.fft.ifft(v1, dim=-1)), dim=-1)
            u1_blocks = self._gather(u1_half, ("u1", g))
            pieces.append(self._lowpass(u1_blocks[0], phi[k1]))
            for b, block in enumerate(group["blocks"]):
                s1, e1 = block["n1"]
                rows2, k2 = block["n2"], block["k2"]
                psi2 = self._prepared(f"psi2_hat_{k1}", rows2, k2, dtype)
                blocks = u1_blocks[1 + b]
                if (s1, e1) != (0, b1 - a1):
                    blocks = blocks[:, s1:e1]
                # (B, n1, 1, n_blocks, L2) x (n2, n_blocks, L2) -> (B, n1, n2, L2), L2 = L1 / 2^k2
                v2 = _mul_sum_blocks(blocks.unsqueeze(2), psi2)
                u2_half = torch.fft.rfft(modulus(torch.fft.ifft(v2, dim=-1)), dim=-1)
                s2 = self._lowpass(self._gather(u2_half, ("u2", g, b))[0], phi[k1 + k2])
                pieces.append(s2.reshape(B, (e1 - s1) * (rows2[1] - rows2[0]), -1))
        out = torch.cat(pieces, dim=1)
        if not self._identity_order:
            out = out.index_select(1, self._order_index)
        return out

    # -----------------------------------------------------------------------------------------
    # Description
    # -----------------------------------------------------------------------------------------
    def meta(self) -> list[dict[str, Any]]:
        """One dict per output channel, in output order.

        Returns
        -------
        list of dict
            ``{"order": 0|1|2, "xi": tuple, "sigma": tuple, "j": tuple, "n": tuple}``; the tuples
            have one entry per order of the path (empty for :math:`S_0`): centre frequencies,
            widths, subsampling indices ``j`` and filter indices ``n`` of :math:`(\\psi_{n_1}, \\psi_{n_2})`.
        """
        banks = (self.params1, self.params2)
        out = []
        for path in self._paths:
            out.append(
                {
                    "order": len(path),
                    "xi": tuple(banks[i]["xi"][n] for i, n in enumerate(path)),
                    "sigma": tuple(banks[i]["sigma"][n] for i, n in enumerate(path)),
                    "j": tuple(banks[i]["j"][n] for i, n in enumerate(path)),
                    "n": tuple(path),
                }
            )
        return out

    def output_size(self, detail: bool = False) -> int | tuple[int, ...]:
        """Number of output channels :math:`P`, or ``(1, n_order1[, n_order2])`` with ``detail=True``."""
        counts = [0] * (self.max_order + 1)
        for path in self._paths:
            counts[len(path)] += 1
        return tuple(counts) if detail else sum(counts)

    def extra_repr(self) -> str:
        return (
            f"J={self.J}, shape={self.shape}, Q={self.Q}, T={self.T}, max_order={self.max_order}, "
            f"oversampling={self.oversampling}, compat={self.compat!r}, N_pad={self.N_pad}"
        )


def _select_blocks(h: torch.Tensor, K: int, keep: list[int]) -> torch.Tensor:
    """``h`` of shape (..., N) seen as ``K`` blocks of length N/K: the kept blocks, (..., len(keep), N/K)."""
    blocks = h.unflatten(-1, (K, h.shape[-1] // K))
    if len(keep) == K:
        return blocks
    if keep == list(range(keep[0], keep[-1] + 1)):
        return blocks[..., keep[0] : keep[-1] + 1, :]
    return blocks.index_select(-2, torch.as_tensor(keep, device=h.device))


def _real_spectrum_runs(L: int, K: int, keep: list[int]) -> list[tuple[int, int, bool]]:
    """Where the kept blocks of the full DFT of a real signal of length ``L`` sit in its rfft.

    Block ``i`` holds the bins :math:`n\\in[iL/K,(i+1)L/K)`; bin :math:`n\\le L/2` is rfft bin
    ``n``, a bin above :math:`L/2` is the conjugate of rfft bin :math:`L-n` (Hermitian symmetry).
    Returns runs ``(start, length, conjugate)``: ``rfft[start:start+length]`` as is, or reversed and
    conjugated when ``conjugate`` is true; concatenated they give the blocks in order.
    """
    width, half = L // K, L // 2
    runs = []
    for i in keep:
        lo, hi = i * width, (i + 1) * width
        if lo <= half:  # bins lo .. min(hi, half + 1) - 1, stored directly
            runs.append((lo, min(hi, half + 1) - lo, False))
        if hi - 1 > half:  # bins first .. hi - 1 are conj(rfft[L - n]), n increasing
            first = max(lo, half + 1)
            runs.append((L - hi + 1, hi - first, True))
    return runs


class _GatherRuns(torch.autograd.Function):
    """Concatenate runs of the last axis of ``a`` (some reversed and conjugated), with a backward
    that scatters into one gradient buffer (slicing the same tensor many times would allocate a
    full-size zero gradient per slice)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, runs: tuple[tuple[int, int, bool], ...]) -> torch.Tensor:
        ctx.runs, ctx.shape = runs, a.shape
        parts = [a[..., s : s + n].flip(-1).conj() if c else a[..., s : s + n] for s, n, c in runs]
        return torch.cat(parts, dim=-1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        out = grad.new_zeros(ctx.shape)
        pos = 0
        for s, n, c in ctx.runs:
            g = grad[..., pos : pos + n]
            out[..., s : s + n] += g.flip(-1).conj() if c else g
            pos += n
        return out, None


def _mul_sum_blocks(a_blocks: torch.Tensor, h_blocks: torch.Tensor) -> torch.Tensor:
    """:math:`\\mathrm{sub}_K(\\hat a\\cdot\\hat h)[m]=\\frac1K\\sum_{i}\\hat a[m+iL/K]\\,\\hat h[m+iL/K]`
    over the kept blocks ``i``.

    ``a_blocks``: (..., n_blocks, L/K), the kept blocks of the spectrum; ``h_blocks``: the same
    blocks of the filters, already divided by ``K`` (:meth:`Scattering1D._prepared`), broadcasting
    against ``a_blocks``. The skipped blocks hold filter values below ``_BLOCK_TOL`` times the peak:
    their terms are far below floating-point rounding. Returns (..., L/K).
    """
    prod = a_blocks * h_blocks
    return prod.squeeze(-2) if prod.shape[-2] == 1 else prod.sum(dim=-2)


def _runs(indices: list[int]) -> list[list[int]]:
    """Split a sorted list of ints into runs of consecutive values."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and runs[-1][-1] + 1 == i:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs
