"""Wavelet phase harmonic moments: batched, differentiable, device-agnostic modules.

For a real signal or image :math:`x` on a periodic grid :math:`G` (:math:`|G|=P` points), a filter bank
:math:`\\{\\hat\\psi_\\lambda\\}` and a :class:`~harmonia.wph.index.MomentIndex`:

1. :math:`z_\\lambda=x\\star\\psi_\\lambda` at full resolution (periodic convolution by FFT);
2. fields :math:`H_{\\lambda,k}=[z_\\lambda]^k` (:func:`harmonia.phase_harmonics.phase_harmonic`);
3. centring and optional normalisation by the **target's** statistics, frozen by ``set_target``:
   :math:`\\tilde H=(H-m_{\\bar x})/s_{\\bar x}`;
4. moments :math:`\\frac1P\\sum_u\\tilde H_1(u)\\overline{\\tilde H_2(u-\\tau)}` -- all zero-shift moments at once
   as one Gram matrix :math:`\\tilde H\\tilde H^*/P`, shifted ones by rolling;
5. a real vector: real parts, imaginary parts of the complex moments, then the fields' means.

Every moment is exactly invariant to circular translations of :math:`x`.

Used in: chapters 06-08, 10.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from harmonia.config import check_in, check_tensor
from harmonia.filters.bump import filter_bank_bump_2d
from harmonia.filters.morlet1d import morlet_bank_1d
from harmonia.fourier import spatial_shift
from harmonia.pointwise import phase_harmonic
from harmonia.wph.index import MomentIndex, build_index, scale_interaction_2d, tolerance_rule_1d
from harmonia.wph.models import model_D, point_process_moments

__all__ = ["PhaseHarmonicCov", "WPH1D", "WPH2D", "AngularWPH2D", "ShiftedWPH2D", "MORLET_WIDTH_FACTOR"]

#: Half-width of a Morlet band at :math:`k=1` in units of its :math:`\sigma`: :math:`\pi/(2\sqrt3)`
#: (the authors' :math:`\delta=\frac{\pi}{2\sqrt3}\sigma_0/\xi_0` times :math:`\xi`).
MORLET_WIDTH_FACTOR = math.pi / (2 * math.sqrt(3))


def _bump_filters(M: int, N: int, J: int, L: int) -> torch.Tensor:
    """The bump bank as (J * 2L + 1, M, N) spectra, numbered ``j * 2L + l``, the low-pass last."""
    bank = filter_bank_bump_2d(M, N, J, L, full_circle=True)
    return torch.cat([bank["psi"].reshape(-1, M, N), bank["phi"][None]])


def _long(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.long)


class PhaseHarmonicCov(nn.Module):
    """Phase harmonic moments of a filter bank and a moment index.

    Parameters
    ----------
    filters_hat : (n_filters, *spatial) real or complex tensor
        Filter spectra in FFT order; ``spatial`` has 1 or 2 dimensions (the index's shift dimension).
    index : MomentIndex
        Which fields and moments (:mod:`harmonia.wph.index`).
    center : "target", "self" or "none"
        Subtract the target's field means (frozen by :meth:`set_target`; the papers' choice), each
        input's own means (the empirical covariance of one signal), or nothing.
    std_norm : bool
        Divide each centred field by the target's RMS :math:`s_{\\bar x}` (chapter 07's normalisation).
    include_means : bool
        Append the means of ``index.mean_fields`` (first-order statistics).

    Used in: chapters 06-08, 10.
    """

    def __init__(self, filters_hat: torch.Tensor, index: MomentIndex, *, center: str = "target",
                 std_norm: bool = False, include_means: bool = True) -> None:
        super().__init__()
        if not isinstance(index, MomentIndex):
            raise TypeError(f"index: expected a MomentIndex, got {type(index).__name__}")
        d = index.row_shift.shape[1]
        check_tensor(filters_hat, "filters_hat", dtype="float_or_complex", ndim=1 + d, nonempty=True)
        n_filters = filters_hat.shape[0]
        if index.n_fields and int(index.field_filter.max()) >= n_filters:
            raise ValueError(f"index: expected filter numbers below the {n_filters} filters of filters_hat, "
                             f"got filter {int(index.field_filter.max())}")
        self.center = check_in(center, "center", ("target", "self", "none"))
        self.std_norm = bool(std_norm)
        if self.std_norm and center == "self":
            raise ValueError("std_norm: expected False with center='self' (the RMS is the target's), got True")
        self.include_means = bool(include_means)
        self.index = index
        self.spatial = tuple(filters_hat.shape[1:])
        self.register_buffer("filters_hat", filters_hat.detach().clone())
        self.register_buffer("field_filter", _long(index.field_filter))
        self.register_buffer("field_k", _long(index.field_k))
        self.register_buffer("row_f1", _long(index.row_f1))
        self.register_buffer("row_f2", _long(index.row_f2))
        self.register_buffer("row_imag", torch.as_tensor(~index.row_real))
        self.register_buffer("mean_fields", _long(index.mean_fields))
        self.register_buffer("mean_imag", torch.as_tensor(~index.mean_real))
        self.register_buffer("target_mean", torch.zeros(index.n_fields, dtype=torch.complex128))
        self.register_buffer("target_std", torch.ones(index.n_fields, dtype=torch.float64))
        self.has_target = False
        shifts = index.row_shift
        zero = (shifts == 0).all(axis=1)
        # Internally the fields are sorted by group (the scale of a 2D bank, one group in 1D) so that the
        # zero-shift moments come from Gram blocks H_A H_B^* / P between contiguous groups: only the blocks
        # that some row needs are computed, and splitting (not indexing) keeps the backward cheap.
        scale = np.asarray(index.labels.get("j", np.zeros(n_filters, dtype=np.int64)))
        group = scale[index.field_filter]
        perm = np.argsort(group, kind="stable")
        rank = np.empty_like(perm)
        rank[perm] = np.arange(perm.size)
        groups, sizes = np.unique(group[perm], return_counts=True)
        offset = dict(zip(groups.tolist(), np.concatenate([[0], np.cumsum(sizes)[:-1]]).tolist()))
        self._group_sizes = sizes.tolist()
        self._group_pos = {int(g): i for i, g in enumerate(groups)}
        self.register_buffer("perm", _long(perm))
        self.register_buffer("rank", _long(rank))
        # the filters to convolve with, and for each harmonic order the convolutions it reads; all index
        # tensors are (non-persistent) buffers so that .to(device) moves them once
        used, where = np.unique(index.field_filter[perm], return_inverse=True)
        self.register_buffer("conv_filters", self.filters_hat[_long(used)], persistent=False)
        self._k_groups, order = [], []
        for k in np.unique(index.field_k):
            pos = np.flatnonzero(index.field_k[perm] == k)
            self._k_groups.append((int(k), self._index_buffer(f"k{len(self._k_groups)}_conv", where[pos])))
            order.append(pos)
        self.register_buffer("k_order", _long(np.argsort(np.concatenate(order))), persistent=False)
        rows_zero = np.flatnonzero(zero)
        pair = np.stack([group[index.row_f1[rows_zero]], group[index.row_f2[rows_zero]]], axis=1)
        self._blocks = []
        for ga, gb in sorted({(int(a), int(b)) for a, b in pair}):
            rows = rows_zero[(pair[:, 0] == ga) & (pair[:, 1] == gb)]
            ia = rank[index.row_f1[rows]] - offset[ga]
            ib = rank[index.row_f2[rows]] - offset[gb]
            names = [self._index_buffer(f"block{len(self._blocks)}_{what}", v)
                     for what, v in (("rows", rows), ("ia", ia), ("ib", ib))]
            self._blocks.append((self._group_pos[ga], self._group_pos[gb], *names))
        # shifted moments: one FFT cross-correlation map per distinct field pair, read at the shifts
        rows_shift = np.flatnonzero(~zero)
        self._has_shifts = rows_shift.size > 0
        if self._has_shifts:
            pairs = np.stack([rank[index.row_f1[rows_shift]], rank[index.row_f2[rows_shift]]], axis=1)
            uniq, pair_of_row = np.unique(pairs, axis=0, return_inverse=True)
            sizes_arr = np.array(self.spatial)
            flat = np.ravel_multi_index(tuple((shifts[rows_shift] % sizes_arr).T), self.spatial)
            used_f = np.unique(uniq)
            self._index_buffer("shift_fields", used_f)
            self._index_buffer("shift_p1", np.searchsorted(used_f, uniq[:, 0]))
            self._index_buffer("shift_p2", np.searchsorted(used_f, uniq[:, 1]))
            self._index_buffer("shift_pos", pair_of_row.ravel() * int(np.prod(self.spatial)) + flat)
        order = np.concatenate([getattr(self, rows).numpy() for _, _, rows, _, _ in self._blocks]
                               + ([rows_shift] if self._has_shifts else []) + [np.zeros(0, dtype=np.int64)])
        self._index_buffer("row_order", np.argsort(order))

    def _index_buffer(self, name: str, values: np.ndarray) -> str:
        self.register_buffer(name, _long(values), persistent=False)
        return name

    @property
    def n_moments(self) -> int:
        """Length of the returned real vector."""
        mean_part = int(self.mean_fields.numel() + self.mean_imag.sum()) if self.include_means else 0
        return int(self.row_f1.numel() + self.row_imag.sum()) + mean_part

    def _check_input(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        check_tensor(x, name, dtype="float32_64", shape=("...", *self.spatial), like=self.filters_hat, nonempty=True)
        return x

    def _sorted_fields(self, x: torch.Tensor) -> torch.Tensor:
        """The fields in the internal (group-sorted) order, spatial dims flattened: (..., F, P)."""
        self._check_input(x)
        d = len(self.spatial)
        dims = tuple(range(-d, 0))
        x_hat = torch.fft.fftn(x, dim=dims)
        filt = self.conv_filters.to(x_hat.dtype if self.conv_filters.is_complex() else x.dtype)  # no-op if same
        z = torch.fft.ifftn(x_hat.unsqueeze(-d - 1) * filt, dim=dims).flatten(-d)
        parts = [phase_harmonic(z.index_select(-2, getattr(self, conv)), k)  # one order at a time: no trigonometry
                 for k, conv in self._k_groups]
        return torch.cat(parts, dim=-2).index_select(-2, self.k_order)

    def fields(self, x: torch.Tensor) -> torch.Tensor:
        """The fields :math:`H_f=[x\\star\\psi_{\\lambda_f}]^{k_f}`, in the index's field order.

        Parameters
        ----------
        x : (..., *spatial) real tensor

        Returns
        -------
        (..., F, *spatial) complex tensor (complex64 for float32 input, complex128 for float64).
        """
        H = self._sorted_fields(x).index_select(-2, self.rank)
        return H.unflatten(-1, self.spatial)

    @torch.no_grad()
    def set_target(self, x0: torch.Tensor) -> torch.Tensor:
        """Freeze the target's field means and RMS (averaged over any batch of target samples)
        and return the target's moment vector (detached).

        Parameters
        ----------
        x0 : (..., *spatial) real tensor
        """
        self._check_input(x0, "x0")
        H = self.fields(x0).flatten(-len(self.spatial))
        H = H.reshape(-1, *H.shape[-2:])
        mean = H.mean(dim=(0, -1))
        std = ((H - mean[:, None]).abs() ** 2).mean(dim=(0, -1)).sqrt() + 1e-16
        self.target_mean = mean.to(torch.complex128)
        self.target_std = std.to(torch.float64)
        self.has_target = True
        return self.forward(x0).detach()

    def _prepared_fields(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The fields in internal order, centred and normalised as configured, (..., F, P), and the
        means of the uncentred fields (..., F) in internal order."""
        if self.center == "target" and not self.has_target:
            raise RuntimeError("set_target(x0) must be called before computing moments with center='target'")
        H = self._sorted_fields(x)
        means = H.mean(-1)
        if self.center == "target":
            H = H - self.target_mean[self.perm].to(H.dtype)[:, None]
        elif self.center == "self":
            H = H - means.unsqueeze(-1)
        if self.std_norm:
            H = H / self.target_std[self.perm].to(H.real.dtype)[:, None]
        return H, means

    def complex_moments(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The moments as complex numbers, one per index row, and the fields' means.

        Returns
        -------
        moments : (..., R) complex tensor
        means : (..., F) complex tensor (means of the uncentred fields)
        """
        H, means = self._prepared_fields(x)
        P = H.shape[-1]
        chunks = torch.split(H, self._group_sizes, dim=-2)
        pieces = []
        for ga, gb, _, ia, ib in self._blocks:
            gram = chunks[ga] @ chunks[gb].conj().transpose(-1, -2) / P
            pieces.append(gram[..., getattr(self, ia), getattr(self, ib)])
        if self._has_shifts:
            dims = tuple(range(-len(self.spatial), 0))
            F = torch.fft.fftn(H.index_select(-2, self.shift_fields).unflatten(-1, self.spatial), dim=dims)
            # sum_u a(u) conj(b(u - tau)) = IFFT(FFT(a) conj(FFT(b)))(tau)
            fd = -len(self.spatial) - 1  # the field dimension
            maps = torch.fft.ifftn(F.index_select(fd, self.shift_p1) * F.index_select(fd, self.shift_p2).conj(),
                                   dim=dims)
            pieces.append(maps.flatten(fd).index_select(-1, self.shift_pos) / P)
        if not pieces:  # an index of fields only (e.g. AngularWPH2D's base)
            pieces.append(H.new_zeros(*H.shape[:-2], 0))
        moments = torch.cat(pieces, dim=-1).index_select(-1, self.row_order)
        return moments, means.index_select(-1, self.rank)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The real moment vector.

        Parameters
        ----------
        x : (..., *spatial) real tensor (float32 or float64)

        Returns
        -------
        (..., n_moments) real tensor: ``[Re C, Im C (complex rows), Re m, Im m (k >= 2)]``.
        """
        moments, means = self.complex_moments(x)
        parts = [moments.real, moments.imag[..., self.row_imag]]
        if self.include_means:
            m = means[..., self.mean_fields]
            parts += [m.real, m.imag[..., self.mean_imag]]
        return torch.cat(parts, dim=-1)

    def correlations(self, x: torch.Tensor) -> torch.Tensor:
        """Zero-shift moments of each input's own centred fields normalised by their variances,
        :math:`C_{12}/\\sqrt{C_{11}C_{22}}`, so :math:`|\\cdot|\\le1` by Cauchy-Schwarz (shifts are ignored).

        Returns
        -------
        (..., R) complex tensor
        """
        H = self.fields(x).flatten(-len(self.spatial))
        H = H - H.mean(-1, keepdim=True)
        var = (H.abs() ** 2).mean(-1)
        c = (H[..., self.row_f1, :] * H[..., self.row_f2, :].conj()).mean(-1)
        return c / torch.sqrt(var[..., self.row_f1] * var[..., self.row_f2]).clamp_min(1e-30)


class WPH1D(PhaseHarmonicCov):
    """Phase harmonic moments of 1D periodic signals with a constant-Q Morlet bank and the authors'
    tolerance rule (:func:`~harmonia.wph.index.tolerance_rule_1d`).

    Parameters
    ----------
    N : int
        Signal length.
    J, Q : int
        Octaves and wavelets per octave (:func:`harmonia.filters.morlet1d.morlet_bank_1d`; a Gaussian
        low-pass is appended as the last filter).
    K : int
        Harmonics :math:`k=0..K-1`.
    n_diag : int, optional
        Band of filter indices (default: all pairs).
    tol : float
        Overlap tolerance.
    coupling : bool
        False keeps only :math:`k=k'` pairs (no phase coupling across frequencies).
    **kwargs
        ``center``, ``std_norm``, ``include_means`` of :class:`PhaseHarmonicCov`.

    Used in: chapter 06.
    """

    def __init__(self, N: int, J: int, Q: int = 1, K: int = 5, n_diag: int | None = None, tol: float = 2.0,
                 coupling: bool = True, **kwargs) -> None:
        bank = morlet_bank_1d(N, J, Q)
        xi = list(bank["xi"]) + [0.0]
        width = [MORLET_WIDTH_FACTOR * s for s in bank["sigma"]]
        width.append(width[-1])
        index = tolerance_rule_1d(xi, width, K, n_diag=n_diag, tol=tol, coupling=coupling)
        filters = torch.cat([bank["psi"], bank["phi"][None]])
        super().__init__(filters, index, **kwargs)
        self.xi = xi


class WPH2D(PhaseHarmonicCov):
    """Phase harmonic moments of periodic images with bump steerable wavelets
    (:func:`harmonia.filters.bump.filter_bank_bump_2d`, 2L orientations, low-pass last).

    Parameters
    ----------
    M, N : int
        Image size.
    J, L : int
        Scales and orientations per half circle.
    dj, dl, dk : int
        Scale interactions, orientation band (default L/2), harmonic band of
        :func:`~harmonia.wph.index.scale_interaction_2d`; ignored when ``index`` is given.
    index : MomentIndex, optional
        Another moment set over the same filter numbering (``j * 2L + l``, low-pass last).
    **kwargs
        ``center``, ``std_norm``, ``include_means`` of :class:`PhaseHarmonicCov`.

    Used in: chapters 06-08.
    """

    def __init__(self, M: int, N: int, J: int, L: int, dj: int = 1, dl: int | None = None, dk: int = 1,
                 index: MomentIndex | None = None, **kwargs) -> None:
        filters = _bump_filters(M, N, J, L)
        if index is None:
            index = scale_interaction_2d(J, L, dj, dl, dk, full_circle=True)
        super().__init__(filters, index, **kwargs)


class ShiftedWPH2D(PhaseHarmonicCov):
    """Phase harmonic moments with bump wavelets and their copies shifted along their direction: the moment
    operator of the particle descent (chapter 10), index :func:`~harmonia.wph.point_process_moments`.

    The shifted copy :math:`\\psi_{j,\\ell,1}(u)=\\psi_{j,\\ell}(u+\\tau_{j\\ell})` with
    :math:`\\tau_{j\\ell}=2^j(\\sin\\theta_\\ell,\\cos\\theta_\\ell)` (rows, columns) -- :math:`2^j` pixels along the
    wavelet's central frequency (the bump module measures :math:`\\theta` from the column axis) -- is a
    Fourier phase ramp (:func:`harmonia.fourier.spatial_shift`), so a moment between a shifted and a plain
    wavelet compares coefficients :math:`2^j` pixels apart along the direction of oscillation.

    Parameters
    ----------
    M, N, J, L : int
    dj, dl, dk : int, the families' bands (defaults of the authors: 2, L/2, 0)
    shifted : bool, include the shifted copies
    **kwargs : ``center``, ``std_norm``, ``include_means`` of :class:`PhaseHarmonicCov`

    Used in: chapter 10.
    """

    def __init__(self, M: int, N: int, J: int, L: int, dj: int = 2, dl: int | None = None, dk: int = 0,
                 shifted: bool = True, **kwargs) -> None:
        bank = filter_bank_bump_2d(M, N, J, L, full_circle=True)
        psi = bank["psi"].reshape(-1, M, N)
        parts = [psi.to(torch.complex128)]
        if shifted:
            theta = bank["theta"]
            tau = torch.stack([torch.stack([2.0**j * torch.sin(theta), 2.0**j * torch.cos(theta)], dim=-1)
                               for j in range(J)]).reshape(-1, 2)
            parts.append(spatial_shift(psi, tau))
        parts.append(bank["phi"][None].to(torch.complex128))
        kwargs.setdefault("include_means", False)
        super().__init__(torch.cat(parts), point_process_moments(J, L, dj, dl, dk, shifted), **kwargs)


class AngularWPH2D(PhaseHarmonicCov):
    """Model D of Zhang & Mallat (2021): phase harmonic moments of angular Fourier channels.

    The fields :math:`\\tilde H_{j,\\ell,k}` (bump wavelets, ``2L`` orientations, centred and divided by
    the target's RMS) are transformed along the orientation by a unitary DFT,

    .. math:: \\hat H_{j,q,k}(u)=\\frac1{\\sqrt{2L}}\\sum_{\\ell=0}^{2L-1}\\tilde H_{j,\\ell,k}(u)\\,
              e^{-2\\pi iq\\ell/2L},

    and the moments of :func:`~harmonia.wph.models.model_D` pair channels of the same angular frequency
    :math:`q`. Rotating the image by :math:`\\pi/L` shifts :math:`\\ell` circularly, which only changes
    the phase of :math:`\\hat H_{j,q,k}` by :math:`e^{2\\pi iq/2L}` -- the same on both sides of a pair --
    so the moments are invariant to these rotations (for rotation-invariant target statistics).

    Parameters
    ----------
    M, N : int
        Image size.
    J, L : int
        Scales and orientations per half circle.
    dj, dk : int
        Scale interactions and harmonic band of :func:`~harmonia.wph.models.model_D`.
    std_norm : bool
        Divide the centred fields by the target's RMS before the angular DFT (the paper's choice).

    Used in: chapter 07.
    """

    def __init__(self, M: int, N: int, J: int, L: int, dj: int = 1, dk: int = 0, *, std_norm: bool = True) -> None:
        index = model_D(J, L, dj, dk)
        filters = _bump_filters(M, N, J, L)
        n_q, lp = 2 * L, index.lowpass
        ks = sorted({int(k) for f, k in zip(index.field_filter, index.field_k) if f != lp})
        # the orientation fields, numbered ((j * n_k + ik) * 2L + l), then the low-pass
        base_fields = [(j * n_q + l, k) for j in range(J) for k in ks for l in range(n_q)] + [(lp, 1)]
        base = build_index([], base_fields, lp, {"j": np.array([f // n_q if f != lp else -1 for f in range(lp + 1)])}, 2)
        super().__init__(filters, index, center="none", std_norm=False, include_means=False)
        self.base = PhaseHarmonicCov(filters, base, center="target", std_norm=std_norm, include_means=False)
        del self.conv_filters  # the fields come from self.base
        self._shape = (J, len(ks), n_q)
        kpos = {k: i for i, k in enumerate(ks)}
        angular = [J * len(ks) * n_q if f == lp else ((f // n_q) * len(ks) + kpos[int(k)]) * n_q + f % n_q
                   for f, k in zip(index.field_filter, index.field_k)]
        self.register_buffer("angular_select", _long(np.asarray(angular)[self.perm.cpu().numpy()]), persistent=False)

    def _sorted_fields(self, x: torch.Tensor) -> torch.Tensor:
        Hb, _ = self.base._prepared_fields(x)
        Hb = Hb.index_select(-2, self.base.rank)  # the base index's field order
        n_wav = math.prod(self._shape)
        wav = Hb[..., :n_wav, :].unflatten(-2, self._shape)
        ang = torch.fft.fft(wav, dim=-2, norm="ortho").flatten(-4, -2)
        return torch.cat([ang, Hb[..., n_wav:, :]], dim=-2).index_select(-2, self.angular_select)

    @torch.no_grad()
    def set_target(self, x0: torch.Tensor) -> torch.Tensor:
        """Freeze the target's means and RMS of the orientation fields and return its moment vector."""
        self.base.set_target(x0)
        self.has_target = True
        return self.forward(x0).detach()

    def complex_moments(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.has_target:
            raise RuntimeError("set_target(x0) must be called before computing model D moments")
        return super().complex_moments(x)
