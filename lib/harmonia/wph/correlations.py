"""Shifted correlations of standardised feature maps, the workhorse of the rectifier texture model.

For maps :math:`R_1(c,u)`, :math:`R_2(c',u)` on the periodic grid :math:`\\Omega` (:math:`|\\Omega|=MN`),

.. math:: C(c,c',\\tau)=\\frac1{|\\Omega|}\\sum_{u\\in\\Omega}R_1(c,u)\\,R_2(c',u-\\tau),

kept for a list of channel pairs and a list of shifts :math:`\\tau`. Three implementations that must
agree (tests check it): a *Gram with shifts* (one batched matrix product against the shifted copies of
:math:`R_2`, memory-light, the default), *FFT* (:math:`\\mathrm{IFFT2}(\\hat R_1\\overline{\\hat R_2})/|\\Omega|`,
read at :math:`\\tau\\bmod(M,N)`), and *direct* (a Python loop over pairs and shifts, the reference).

Also here: the shift set :math:`\\mathcal T_J`, the border masks :math:`m_j` for non-periodic photographs,
and :class:`FrozenStandardizer` (mean and standard deviation measured once, on the observation).

Used in: chapter 08 (and 09, 10 for shifted statistics).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from harmonia.config import check_in, check_int, check_tensor

__all__ = ["CORRELATION_METHODS", "shift_set", "border_masks", "FrozenStandardizer", "shifted_correlations"]

CORRELATION_METHODS = ("gram", "fft", "direct")


def shift_set(J: int) -> torch.Tensor:
    """The shifts :math:`\\mathcal T_J`: zero and, per scale :math:`2^j` (:math:`0\\le j<J`), the 8 compass points

    .. math:: \\tau=\\big(\\mathrm{round}(2^j\\cos\\tfrac{\\pi k}4),\\ \\mathrm{round}(2^j\\sin\\tfrac{\\pi k}4)\\big),
              \\qquad k=0,\\dots,7,

    as (row, column), duplicates removed (at :math:`j=1` the diagonals round to :math:`(\\pm1,\\pm1)`).
    :math:`|\\mathcal T_J|=8J-3` for :math:`J\\ge2`, and :math:`\\mathcal T_J=-\\mathcal T_J`.

    Parameters
    ----------
    J : int >= 1

    Returns
    -------
    (T, 2) int64 tensor, ``(0, 0)`` first, then in order of scale and angle.

    Used in: chapter 08.
    """
    J = check_int(J, "J")
    shifts = [(0, 0)]
    for j in range(J):
        for k in range(8):
            t = (round(2**j * math.cos(math.pi * k / 4)), round(2**j * math.sin(math.pi * k / 4)))
            t = (t[0] + 0, t[1] + 0)  # -0 -> 0
            if t not in shifts:
                shifts.append(t)
    return torch.tensor(shifts, dtype=torch.int64)


def border_masks(J: int, M: int, N: int, *, dtype: torch.dtype = torch.float32,
                 device: torch.device | str | None = None) -> torch.Tensor:
    """Border masks :math:`m_j` for statistics of non-periodic images.

    :math:`m_j(u)=0` within :math:`b_j=\\lfloor2^j/2\\rfloor` pixels of a border, otherwise
    :math:`|\\Omega|/\\#\\{\\text{interior pixels}\\}`, so that a mean over :math:`\\Omega` of a masked map
    equals the mean over the interior. :math:`m_0\\equiv1`.

    Parameters
    ----------
    J : int >= 1
    M, N : int, the grid (each larger than :math:`2b_{J-1}`)

    Returns
    -------
    (J, M, N) tensor

    Used in: chapter 08.
    """
    J, M, N = check_int(J, "J"), check_int(M, "M"), check_int(N, "N")
    masks = torch.zeros(J, M, N, dtype=torch.float64)
    for j in range(J):
        b = 2**j // 2
        if M <= 2 * b or N <= 2 * b:
            raise ValueError(f"M, N: expected more than {2 * b} pixels per side for the border of scale j={j}, "
                             f"got ({M}, {N})")
        masks[j, b:M - b, b:N - b] = 1.0
        masks[j] *= M * N / masks[j].sum()
    return masks.to(dtype=dtype, device=device)


class FrozenStandardizer(nn.Module):
    """:math:`\\tilde R=(R-\\mu)/(s+\\epsilon)` with :math:`\\mu`, :math:`s` the per-channel mean and standard
    deviation measured once by :meth:`fit` (detached) and then frozen.

    Freezing matters for synthesis: the statistics of a candidate :math:`x` are standardised with the
    observation's constants, so they still see its mean and scale (re-standardising every image would
    make them blind to both).

    Parameters
    ----------
    channel_dim : int
        The dimension that indexes channels (negative, counted from the end); every other dimension is
        averaged over by :meth:`fit` (population standard deviation).
    center, scale : bool
        Subtract :math:`\\mu`; divide by :math:`s+\\epsilon`.
    eps : float

    Used in: chapter 08.
    """

    def __init__(self, channel_dim: int = -3, *, center: bool = True, scale: bool = True, eps: float = 1e-9) -> None:
        super().__init__()
        if channel_dim >= 0:
            raise ValueError(f"channel_dim: expected a negative dimension (counted from the end), got {channel_dim}")
        self.channel_dim, self.center, self.scale, self.eps = channel_dim, center, scale, eps
        self.register_buffer("mean", None)
        self.register_buffer("std", None)

    @property
    def fitted(self) -> bool:
        return self.mean is not None

    def fit(self, t: torch.Tensor) -> "FrozenStandardizer":
        """Measure and freeze the per-channel mean and standard deviation of ``t`` (..., C, ...)."""
        check_tensor(t, "t", dtype="floating", min_ndim=-self.channel_dim)
        moved = t.detach().movedim(self.channel_dim, 0).reshape(t.shape[self.channel_dim], -1)
        self.mean = moved.mean(dim=1)
        self.std = moved.std(dim=1, correction=0)
        return self

    def reset(self) -> None:
        """Forget the constants (the next :meth:`fit` measures new ones)."""
        self.mean = None
        self.std = None

    def _expand(self, v: torch.Tensor) -> torch.Tensor:
        return v.reshape(v.shape + (1,) * (-self.channel_dim - 1))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        if not self.fitted:
            raise RuntimeError("FrozenStandardizer: call fit(t) on the observation first")
        if t.shape[self.channel_dim] != self.mean.shape[0]:
            raise ValueError(f"t: expected {self.mean.shape[0]} channels in dimension {self.channel_dim}, "
                             f"got shape {tuple(t.shape)}")
        if self.center:
            t = t - self._expand(self.mean)
        if self.scale:
            t = t / self._expand(self.std + self.eps)
        return t


def shifted_correlations(R1: torch.Tensor, R2: torch.Tensor, pairs: torch.Tensor, shifts: torch.Tensor,
                         shifted: torch.Tensor, method: str = "gram") -> torch.Tensor:
    """Correlations :math:`C(c,c',\\tau)=\\frac1{MN}\\sum_uR_1(c,u)R_2(c',u-\\tau)` of the listed channel pairs.

    Pair :math:`p=(c,c')` contributes all the shifts if ``shifted[p]``, else only :math:`\\tau=0`
    (``shifts[0]`` must be ``(0, 0)``). :math:`R_2(u-\\tau)` is ``torch.roll(R2, tau)``; a negative shift
    :math:`\\tau` lives at FFT index :math:`\\tau\\bmod(M,N)`.

    Parameters
    ----------
    R1 : (B, C1, M, N) real tensor
    R2 : (B, C2, M, N) real tensor, same dtype and device
    pairs : (P, 2) int64, rows :math:`(c,c')` with :math:`c<C_1`, :math:`c'<C_2`
    shifts : (T, 2) int64, ``shifts[0] == (0, 0)``
    shifted : (P,) bool
    method : {"gram", "fft", "direct"}
        ``"gram"``: for every shift one batched product :math:`R_1\\,\\mathrm{roll}(R_2,\\tau)^\\top/|\\Omega|`
        (:math:`C_1\\times C_2` per shift), then the pairs are gathered; ``"fft"``: one inverse FFT per
        pair; ``"direct"``: loops over pairs and shifts (slow; the reference).

    Returns
    -------
    (B, n) tensor, :math:`n=\\sum_p(T\\text{ if shifted else }1)`, pair-major then shift order.

    Used in: chapter 08.
    """
    check_in(method, "method", CORRELATION_METHODS)
    check_tensor(R1, "R1", dtype="floating", ndim=4)
    check_tensor(R2, "R2", dtype=R1.dtype, ndim=4, like=R1)
    if R1.shape[0] != R2.shape[0] or R1.shape[-2:] != R2.shape[-2:]:
        raise ValueError(f"R2: expected batch and grid of R1 {(R1.shape[0], *R1.shape[-2:])}, got {tuple(R2.shape)}")
    check_tensor(pairs, "pairs", dtype="integer", shape=(None, 2))
    check_tensor(shifts, "shifts", dtype="integer", shape=(None, 2))
    check_tensor(shifted, "shifted", dtype=torch.bool, shape=(pairs.shape[0],))
    if shifts.shape[0] == 0 or shifts[0].tolist() != [0, 0]:
        raise ValueError(f"shifts: expected (0, 0) as the first shift, got {shifts[:1].tolist()}")
    B, C1, M, N = R1.shape
    C2, T = R2.shape[1], shifts.shape[0]
    if pairs.numel() and (int(pairs[:, 0].max()) >= C1 or int(pairs[:, 1].max()) >= C2 or int(pairs.min()) < 0):
        raise ValueError(f"pairs: expected channels in [0, {C1}) x [0, {C2}), got a pair out of range")
    dev = R1.device
    pairs, shifts, shifted = pairs.to(dev), shifts.to(dev), shifted.to(dev)
    n_each = torch.where(shifted, T, 1)
    # for output entry e: its pair p(e) and shift index t(e)
    p_of = torch.repeat_interleave(torch.arange(len(pairs), device=dev), n_each)
    starts = torch.cumsum(n_each, 0) - n_each
    t_of = torch.arange(int(n_each.sum()), device=dev) - starts[p_of]
    c1, c2 = pairs[p_of, 0], pairs[p_of, 1]
    if method == "direct":
        out = []
        for p in range(len(pairs)):
            a, b = int(pairs[p, 0]), int(pairs[p, 1])
            for t in range(T if bool(shifted[p]) else 1):
                tau = (int(shifts[t, 0]), int(shifts[t, 1]))
                out.append((R1[:, a] * torch.roll(R2[:, b], tau, dims=(-2, -1))).mean(dim=(-2, -1)))
        return torch.stack(out, dim=-1) if out else R1.new_zeros(B, 0)
    if method == "fft":
        F1 = torch.fft.fft2(R1)[:, pairs[:, 0]]
        F2 = torch.fft.fft2(R2)[:, pairs[:, 1]]
        cross = torch.fft.ifft2(F1 * F2.conj()).real / (M * N)  # (B, P, M, N), entry tau at tau mod (M, N)
        rows, cols = shifts[t_of, 0] % M, shifts[t_of, 1] % N
        return cross[:, p_of, rows, cols]
    # Gram with shifts: G[b, t, i, k] = <R1_i, roll(R2_k, tau_t)> / MN
    rolled = torch.stack([torch.roll(R2, (int(s[0]), int(s[1])), dims=(-2, -1)) for s in shifts.tolist()], dim=1)
    G = torch.matmul(R1.reshape(B, 1, C1, M * N), rolled.reshape(B, T, C2, M * N).transpose(-1, -2)) / (M * N)
    flat = (t_of * C1 + c1) * C2 + c2
    return G.reshape(B, T * C1 * C2)[:, flat]
