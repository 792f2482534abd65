"""The ALPHA texture model: covariances of rectified wavelet coefficients (Brochard, Zhang, Mallat 2022).

A grey image :math:`x` on the periodic grid :math:`\\Omega` (:math:`|\\Omega|=MN`) goes through the complex
Morlet wavelets :math:`\\psi_{j,\\ell}` (:func:`harmonia.filters.filter_bank_2d`, :math:`J` scales,
:math:`L` orientations in :math:`[0,\\pi)`) and the phase-shifted rectifier

.. math:: \\rho_\\alpha(z)=\\mathrm{ReLU}\\big(\\mathrm{Re}(e^{-i\\alpha}z)\\big)=|z|\\,\\mathrm{ReLU}(\\cos(\\varphi(z)-\\alpha)),
          \\qquad \\alpha\\in\\{2\\pi a/A\\}

(:func:`harmonia.phase_harmonics.phase_filter`; the paper writes :math:`e^{+i\\alpha}`, the same set of
phases in another order). The rectified maps :math:`R(\\gamma,u)=m_j(u)\\rho_\\alpha((x\\star\\psi_{j,\\ell})(u))`,
:math:`\\gamma=(j,\\ell,\\alpha)`, are standardised with the observation's frozen mean and standard
deviation, :math:`\\tilde R=(R-\\mu_\\gamma)/s_\\gamma`, and the statistics are their shifted correlations

.. math:: K(\\gamma,\\gamma',\\tau)=\\frac1{|\\Omega|}\\sum_u\\tilde R(\\gamma,u)\\,\\tilde R(\\gamma',u-\\tau),
          \\qquad \\gamma=(j,\\ell,\\alpha),\\ \\gamma'=(j',\\ell',0),\\ j\\le j'\\le j+\\Delta_j,

with :math:`\\tau` in the shift set :math:`\\mathcal T_J` for every pair (``shift="all"``), only for
:math:`(j,\\ell)=(j',\\ell')` (``"same"``) or never (``"none"``). Extras: shifted autocorrelations of the
modulus of the standardised low-pass :math:`x\\star\\phi_J` and of the three Haar high-passes. In colour
every map exists per channel :math:`c\\in\\{R,G,B\\}`, pairs run over the 9 ordered channel pairs (shifts
only within a channel, ``"samec"``), and the 3x3 correlation matrix of the pixel values is matched too.

Used in: chapter 08.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from harmonia.config import check_in, check_int, check_tensor
from harmonia.filters.haar import haar_highpass_2d
from harmonia.filters.morlet2d import filter_bank_2d
from harmonia.phase_harmonics import phase_filter
from harmonia.wph.correlations import FrozenStandardizer, border_masks, shift_set, shifted_correlations

__all__ = ["SHIFT_MODES", "EXTRAS", "AlphaStats", "alpha_stat_count", "color_correlation"]

SHIFT_MODES = ("all", "same", "none", "samec")
EXTRAS = ("lowpass", "haar", "color")


def _scale_pairs(J: int, delta_j: int) -> list[tuple[int, int]]:
    return [(j, j2) for j in range(J) for j2 in range(j, min(J - 1, j + delta_j) + 1)]


def alpha_stat_count(J: int, L: int, A: int, delta_j: int, shift: str = "all", *, color: bool = False,
                     extras: Sequence[str] = ("lowpass", "haar")) -> int:
    """Number of statistics of :class:`AlphaStats`, from the closed form

    .. math:: |\\Upsilon|=P\\,L^2A\\,|\\mathcal T_J|\\ (\\text{"all"}),\\qquad
              P=\\sum_{j=0}^{J-1}\\big(\\min(J-1,j+\\Delta_j)-j+1\\big),

    :math:`PL^2A` for ``"none"``, :math:`PL^2A+JLA(|\\mathcal T_J|-1)` for ``"same"`` (per channel
    pair :math:`c=c'`); in colour the 6 pairs :math:`c\\ne c'` are shifted only with ``"all"``
    (``"samec"``: all shifts when :math:`c=c'`, none otherwise), plus :math:`|\\mathcal T_J|` per low-pass pair (1 grey, 9 colour), :math:`3|\\mathcal T_J|`
    per channel for Haar, and 9 for the colour correlation matrix.

    Used in: chapter 08 (exercise 08.3).
    """
    J, L, A = check_int(J, "J"), check_int(L, "L"), check_int(A, "A")
    delta_j = check_int(delta_j, "delta_j", 0)
    check_in(shift, "shift", SHIFT_MODES)
    T = 8 * J - 3 if J >= 2 else 9
    P = sum(min(J - 1, j + delta_j) - j + 1 for j in range(J))
    maps = P * L * L * A
    n_colour = 3 if color else 1
    same_colour, cross_colour = n_colour, n_colour * n_colour - n_colour
    per = {"all": maps * T, "none": maps, "same": maps + J * L * A * (T - 1), "samec": maps * T}
    n = same_colour * per[shift] + cross_colour * (maps * T if shift == "all" else maps)
    if "lowpass" in extras:
        n += n_colour * n_colour * T
    if "haar" in extras:
        n += 3 * n_colour * T
    if "color" in extras:
        n += 9
    return n


def color_correlation(x: torch.Tensor) -> torch.Tensor:
    """Correlation matrix of the three colour channels, each standardised with its **own** mean and std:

    .. math:: \\mathrm{Corr}(x)_{cc'}=\\frac1{|\\Omega|}\\sum_u\\frac{x_c(u)-\\mu_c}{\\sigma_c}\\,\\frac{x_{c'}(u)-\\mu_{c'}}{\\sigma_{c'}} .

    Parameters
    ----------
    x : (..., 3, M, N) real tensor, no constant channel

    Returns
    -------
    (..., 3, 3) tensor (diagonal 1)

    Used in: chapter 08.
    """
    check_tensor(x, "x", dtype="floating", shape=("...", 3, None, None))
    flat = x.flatten(-2)
    if bool((flat.amax(dim=-1) == flat.amin(dim=-1)).any()):
        raise ValueError("x: expected colour channels that are not constant, got a constant channel")
    centred = flat - flat.mean(dim=-1, keepdim=True)
    std = centred.square().mean(dim=-1, keepdim=True).sqrt()
    z = centred / std
    return z @ z.transpose(-1, -2) / flat.shape[-1]


class AlphaStats(nn.Module):
    """The statistics :math:`K(x)` of the ALPHA model (module docstring), batched and differentiable.

    Parameters
    ----------
    M, N : int
        Image size (multiples of :math:`2^{J-1}`).
    J, L, A : int
        Scales, orientations in :math:`[0,\\pi)`, phases of the rectifier.
    delta_j : int >= 0
        Scale interaction: pairs :math:`j\\le j'\\le j+\\Delta_j`.
    shift : {"all", "same", "none", "samec"}
        Which pairs are shifted ("samec": the colour default, shifts within a colour channel only).
    mask : bool
        Border masks :math:`m_j` (for non-periodic photographs; periodic images want ``False``).
    color : bool
        Inputs (..., 3, M, N) instead of (..., M, N).
    extras : subset of {"lowpass", "haar", "color"}
        Extra statistics (``"color"`` needs ``color=True``).
    method : {"gram", "fft", "direct"}
        Implementation of the correlations (:func:`shifted_correlations`).

    Attributes
    ----------
    n_stats : int
        Length of :math:`K(x)`.
    shifts : (T, 2) int64 buffer, :math:`\\mathcal T_J`.
    target : (n_stats,) buffer, :math:`K(\\bar x)` after :meth:`set_target`.

    Examples
    --------
    >>> op = AlphaStats(64, 64, J=4, mask=False)
    >>> K_bar = op.set_target(x_bar)          # freezes the standardisation, returns K(x_bar)
    >>> op.relative_error(x)                  # ||K(x) - K(x_bar)||^2 / ||K(x_bar)||^2

    Used in: chapter 08.
    """

    def __init__(self, M: int, N: int, J: int = 5, L: int = 4, A: int = 4, delta_j: int = 2, shift: str = "all", *,
                 mask: bool = True, color: bool = False, extras: Sequence[str] = ("lowpass", "haar"),
                 method: str = "gram") -> None:
        super().__init__()
        self.M, self.N = check_int(M, "M"), check_int(N, "N")
        self.J, self.L, self.A = check_int(J, "J"), check_int(L, "L"), check_int(A, "A")
        self.delta_j = check_int(delta_j, "delta_j", 0)
        self.shift = check_in(shift, "shift", SHIFT_MODES)
        if shift == "samec" and not color:
            raise ValueError("shift: 'samec' (shifts within a colour channel) needs color=True, got color=False")
        for e in extras:
            check_in(e, "extras", EXTRAS)
        if "color" in extras and not color:
            raise ValueError("extras: 'color' (the colour correlation matrix) needs color=True")
        self.extras = tuple(extras)
        self.method = check_in(method, "method", ("gram", "fft", "direct"))
        self.mask, self.color = bool(mask), bool(color)
        self.C = 3 if color else 1
        bank = filter_bank_2d(self.M, self.N, self.J, self.L)
        self.register_buffer("psi_hat", torch.stack([p["levels"][0] for p in bank["psi"]]))  # (J*L, M, N) real
        self.register_buffer("phi_hat", bank["phi"][0].clone())  # (M, N) real
        self.register_buffer("haar_hat", torch.view_as_real(haar_highpass_2d(self.M, self.N)))  # (3, M, N, 2)
        masks = border_masks(self.J, self.M, self.N) if self.mask else torch.ones(self.J, self.M, self.N)
        self.register_buffer("masks", masks)
        self.register_buffer("shifts", shift_set(self.J))
        self._build_index()
        self.std_maps = FrozenStandardizer(-3)
        self.std_lowpass = FrozenStandardizer(-3)
        self.std_haar = FrozenStandardizer(-3, center=False)
        self.register_buffer("target", None)

    # ----------------------------------------------------------------------------------------------- index
    def _channel(self, c: int, j: int, l: int, a: int) -> int:
        return ((c * self.J + j) * self.L + l) * self.A + a

    def _build_index(self) -> None:
        J, L, A, C, T = self.J, self.L, self.A, self.C, len(self.shifts)
        pairs, shifted, rows = [], [], []
        for c in range(C):
            for c2 in range(C):
                for j, j2 in _scale_pairs(J, self.delta_j):
                    for l in range(L):
                        for a in range(A):
                            for l2 in range(L):
                                same_map = (c, j, l) == (c2, j2, l2)
                                s = {"all": True, "none": False, "same": same_map, "samec": c == c2}[self.shift]
                                pairs.append((self._channel(c, j, l, a), (c2 * J + j2) * L + l2))
                                shifted.append(s)
                                rows.extend(("cov", c, j, l, a, c2, j2, l2, tuple(t))
                                            for t in self.shifts.tolist()[: T if s else 1])
        self.register_buffer("pairs", torch.tensor(pairs, dtype=torch.int64))
        self.register_buffer("shifted", torch.tensor(shifted, dtype=torch.bool))
        lp = [(c, c2) for c in range(C) for c2 in range(C)]
        self.register_buffer("lowpass_pairs", torch.tensor(lp, dtype=torch.int64))
        self.register_buffer("lowpass_shifted", torch.ones(len(lp), dtype=torch.bool))
        self.register_buffer("haar_pairs", torch.arange(3 * C).repeat(2, 1).T.contiguous())
        self.register_buffer("haar_shifted", torch.ones(3 * C, dtype=torch.bool))
        if "lowpass" in self.extras:
            rows.extend(("lowpass", c, c2, tuple(t)) for c, c2 in lp for t in self.shifts.tolist())
        if "haar" in self.extras:
            rows.extend(("haar", c, k, tuple(t)) for c in range(C) for k in range(3) for t in self.shifts.tolist())
        if "color" in self.extras:
            rows.extend(("color", c, c2) for c in range(3) for c2 in range(3))
        self._rows = rows

    def index_table(self) -> list[tuple]:
        """One row per statistic, in the order of :meth:`forward`:
        ``("cov", c, j, l, a, c', j', l', tau)`` (:math:`\\alpha=2\\pi a/A`, :math:`\\alpha'=0`),
        ``("lowpass", c, c', tau)``, ``("haar", c, k, tau)``, ``("color", c, c')``."""
        return list(self._rows)

    @property
    def n_stats(self) -> int:
        return len(self._rows)

    @property
    def n_maps(self) -> int:
        """Number of rectified maps :math:`C\\cdot J L A`."""
        return self.C * self.J * self.L * self.A

    # ------------------------------------------------------------------------------------------------ maps
    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        shape = ("...", 3, self.M, self.N) if self.color else ("...", self.M, self.N)
        check_tensor(x, "x", dtype="floating", shape=shape)
        if x.dtype != self.psi_hat.dtype or x.device != self.psi_hat.device:
            raise ValueError(f"x: expected {self.psi_hat.dtype} on {self.psi_hat.device} like the module's filters "
                             f"(move the module with .to(...)), got {x.dtype} on {x.device}")
        return x.reshape(-1, self.C, self.M, self.N)

    def rectified_maps(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`m_j\\,\\rho_\\alpha(x\\star\\psi_{j,\\ell})` before standardisation, (B, C*J*L*A, M, N) in
        the channel order ``((c*J + j)*L + l)*A + a``; ``x`` (B, C, M, N)."""
        B = x.shape[0]
        z = torch.fft.ifft2(torch.fft.fft2(x)[:, :, None] * self.psi_hat)  # (B, C, J*L, M, N)
        U = phase_filter(z, self.A).movedim(-1, 3)  # (B, C, J*L, A, M, N)
        U = U.reshape(B, self.C, self.J, self.L, self.A, self.M, self.N) * self.masks[:, None, None]
        return U.reshape(B, self.n_maps, self.M, self.N)

    def _lowpass(self, x_hat: torch.Tensor) -> torch.Tensor:
        return torch.fft.ifft2(x_hat * self.phi_hat).real  # (B, C, M, N)

    def _haar(self, x_hat: torch.Tensor) -> torch.Tensor:
        h = torch.fft.ifft2(x_hat[:, :, None] * torch.view_as_complex(self.haar_hat)).real  # (B, C, 3, M, N)
        return h.reshape(x_hat.shape[0], 3 * self.C, self.M, self.N)

    # ---------------------------------------------------------------------------------------------- target
    def set_target(self, x_obs: torch.Tensor) -> torch.Tensor:
        """Freeze the standardisation constants on the observation :math:`\\bar x` and store
        :math:`K(\\bar x)` in ``target`` (returned, shape ``(n_stats,)``; a batch of observations is
        pooled: its constants are measured over all of it and ``target`` is the mean)."""
        xb = self._check_input(x_obs)
        with torch.no_grad():
            self.std_maps.fit(self.rectified_maps(xb))
            x_hat = torch.fft.fft2(xb)
            self.std_lowpass.fit(self._lowpass(x_hat))
            self.std_haar.fit(self._haar(x_hat))
            self.target = self.forward(x_obs).reshape(-1, self.n_stats).mean(dim=0)
        return self.target

    def reset(self) -> None:
        """Forget the observation (constants and target)."""
        for s in (self.std_maps, self.std_lowpass, self.std_haar):
            s.reset()
        self.target = None

    # --------------------------------------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`K(x)`: (..., n_stats) for ``x`` (..., M, N) (grey) or (..., 3, M, N) (colour)."""
        if not self.std_maps.fitted:
            raise RuntimeError("AlphaStats: call set_target(x_obs) first (it freezes the standardisation)")
        lead = x.shape[:-3] if self.color else x.shape[:-2]
        xb = self._check_input(x)
        R = self.std_maps(self.rectified_maps(xb))
        R0 = R.reshape(xb.shape[0], self.C * self.J * self.L, self.A, self.M, self.N)[:, :, 0]
        parts = [shifted_correlations(R, R0, self.pairs, self.shifts, self.shifted, self.method)]
        x_hat = torch.fft.fft2(xb)
        if "lowpass" in self.extras:
            y = (self.std_lowpass(self._lowpass(x_hat)) * self.masks[-1]).abs()
            parts.append(shifted_correlations(y, y, self.lowpass_pairs, self.shifts, self.lowpass_shifted, self.method))
        if "haar" in self.extras:
            h = self.std_haar(self._haar(x_hat)).abs()
            parts.append(shifted_correlations(h, h, self.haar_pairs, self.shifts, self.haar_shifted, self.method))
        if "color" in self.extras:
            parts.append(color_correlation(xb).flatten(-2))
        return torch.cat(parts, dim=-1).reshape(*lead, self.n_stats)

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\|K(x)-K(\\bar x)\\|^2`, shape ``x``'s batch shape."""
        if self.target is None:
            raise RuntimeError("AlphaStats: call set_target(x_obs) first")
        return (self.forward(x) - self.target).square().sum(dim=-1)

    def relative_error(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\mathcal E(x)=\\|K(x)-K(\\bar x)\\|^2/\\|K(\\bar x)\\|^2` (scale-free), x's batch shape."""
        return self.loss(x) / self.target.square().sum()
