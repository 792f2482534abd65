"""Which wavelet phase harmonic moments to compute: index tables and their builders.

A moment pairs two *fields* :math:`H_{\\lambda,k}=[x\\star\\psi_\\lambda]^k` (a filter index and a harmonic
order) at a spatial shift :math:`\\tau`:

.. math:: C(\\lambda_1,k_1,\\lambda_2,k_2,\\tau)=\\frac1{|G|}\\sum_u\\tilde H_{\\lambda_1,k_1}(u)\\,
          \\overline{\\tilde H_{\\lambda_2,k_2}(u-\\tau)} .

A :class:`MomentIndex` lists the distinct fields once and the moments as pairs of field numbers, so the
moment modules compute each field once (:mod:`harmonia.wph.moments`).

Used in: chapters 06-08, 10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from harmonia.config import check_in, check_positive

__all__ = ["MomentIndex", "tolerance_rule_1d", "scale_interaction_2d", "circular_distance"]


@dataclass(frozen=True)
class MomentIndex:
    """A table of phase harmonic moments.

    Attributes
    ----------
    field_filter, field_k : (F,) int64 arrays
        Field ``f`` is :math:`[x\\star\\psi_{\\text{field\\_filter}[f]}]^{\\text{field\\_k}[f]}`.
    field_real : (F,) bool array
        Fields that are real-valued for a real input (``k = 0``, or a real low-pass filter).
    row_f1, row_f2 : (R,) int64 arrays
        Moment ``r`` correlates field ``row_f1[r]`` with the conjugate of field ``row_f2[r]``.
    row_shift : (R, d) int64 array
        Shift :math:`\\tau` of moment ``r`` (``d`` = 1 or 2 spatial dimensions; zeros for none).
    mean_fields : (Fm,) int64 array
        Fields whose spatial mean is appended to the moment vector (first-order statistics).
    lowpass : int or None
        Filter number of the low-pass (it carries no orientation or scale of a wavelet).
    labels : dict of (n_filters,) arrays
        Per-filter description, e.g. ``{"j": ..., "theta": ...}`` (2D) or ``{"n": ..., "xi": ...}`` (1D).
    """

    field_filter: np.ndarray
    field_k: np.ndarray
    field_real: np.ndarray
    row_f1: np.ndarray
    row_f2: np.ndarray
    row_shift: np.ndarray
    mean_fields: np.ndarray
    lowpass: int | None = None
    labels: dict = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Sequence[tuple], means: Sequence[tuple[int, int]] = (), lowpass: int | None = None,
                  labels: dict | None = None, ndim: int = 1) -> "MomentIndex":
        """Build an index from readable rows ``(filter1, k1, filter2, k2)`` or
        ``(filter1, k1, filter2, k2, shift)`` (shift: a tuple of ``ndim`` ints) and mean fields
        ``(filter, k)``."""
        full = []
        for row in rows:
            if len(row) not in (4, 5):
                raise ValueError(f"rows: expected tuples (filter1, k1, filter2, k2[, shift]), got {row!r}")
            shift = tuple(row[4]) if len(row) == 5 else (0,) * ndim
            if len(shift) != ndim:
                raise ValueError(f"rows: expected shifts of {ndim} ints, got {shift!r}")
            full.append((int(row[0]), int(row[1]), int(row[2]), int(row[3]), shift))
        return build_index(full, [(int(f), int(k)) for f, k in means], lowpass, labels or {}, ndim)

    @property
    def n_fields(self) -> int:
        return int(self.field_filter.shape[0])

    @property
    def n_rows(self) -> int:
        """Number of (complex) moments."""
        return int(self.row_f1.shape[0])

    @property
    def row_real(self) -> np.ndarray:
        """(R,) bool: moments that are real for a real input (both fields real-valued, or a field
        with itself at zero shift)."""
        both_real = self.field_real[self.row_f1] & self.field_real[self.row_f2]
        self_zero = (self.row_f1 == self.row_f2) & (self.row_shift == 0).all(axis=1)
        return both_real | self_zero

    @property
    def mean_real(self) -> np.ndarray:
        """(Fm,) bool: appended means that are real (of real-valued fields)."""
        return self.field_real[self.mean_fields]

    @property
    def n_values(self) -> int:
        """Length of the real moment vector a moment module returns: real moments count 1, complex
        ones 2 (real and imaginary parts), likewise for the appended means."""
        r, m = self.row_real, self.mean_real
        return int(r.sum() + 2 * (~r).sum() + m.sum() + 2 * (~m).sum())

    def rows(self) -> list[tuple[int, int, int, int, tuple[int, ...]]]:
        """The moments as readable tuples ``(filter1, k1, filter2, k2, shift)``."""
        ff, fk = self.field_filter, self.field_k
        return [(int(ff[a]), int(fk[a]), int(ff[b]), int(fk[b]), tuple(int(s) for s in t))
                for a, b, t in zip(self.row_f1, self.row_f2, self.row_shift)]

    def restrict(self, keep: np.ndarray) -> "MomentIndex":
        """A new index with only the rows where ``keep`` (an (R,) bool array) is true; fields that no
        row or mean uses any more are dropped."""
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (self.n_rows,):
            raise ValueError(f"keep: expected a bool array of shape ({self.n_rows},), got shape {keep.shape}")
        rows = [(int(self.field_filter[a]), int(self.field_k[a]), int(self.field_filter[b]), int(self.field_k[b]),
                 tuple(t)) for a, b, t, ok in zip(self.row_f1, self.row_f2, self.row_shift, keep) if ok]
        used = {(f, k) for f1, k1, f2, k2, _ in rows for f, k in ((f1, k1), (f2, k2))}
        means = [(int(self.field_filter[m]), int(self.field_k[m])) for m in self.mean_fields
                 if (int(self.field_filter[m]), int(self.field_k[m])) in used]
        return build_index(rows, means, self.lowpass, self.labels, self.row_shift.shape[1])

    def count_real(self, convention: str = "values") -> int:
        """Number of real-valued statistics.

        ``"values"``: the length of the returned moment vector (:attr:`n_values`).
        ``"zhang-mallat"``: the counting of Mallat, Zhang, Rochette (2020)'s figures: every moment counts
        2 except those with :math:`k_1=k_2=0` (1), means count 1 for :math:`k=0` and 2 for
        :math:`k\\ge2`, and the low-pass term counts 2.
        ``"zhang-mallat-2021"``: the counting of Zhang, Mallat (2021)'s models B, C, D: moments that are
        real for a real input and those with :math:`k_1=k_2=0` count 1, the others 2 (for model D
        this counts the cross-scale :math:`(0,0)` pairs of angular channels once, although they are
        complex: the returned vector keeps both parts).
        """
        check_in(convention, "convention", ("values", "zhang-mallat", "zhang-mallat-2021"))
        if convention == "values":
            return self.n_values
        if convention == "zhang-mallat-2021":
            k1, k2 = self.field_k[self.row_f1], self.field_k[self.row_f2]
            one = self.row_real | ((k1 == 0) & (k2 == 0))
            mr = self.mean_real
            return int(one.sum() + 2 * (~one).sum() + mr.sum() + 2 * (~mr).sum())
        k1, k2 = self.field_k[self.row_f1], self.field_k[self.row_f2]
        lp = self.lowpass
        on_lp = (self.field_filter[self.row_f1] == lp) & (self.field_filter[self.row_f2] == lp)
        wav = ~on_lp
        zero = (k1 == 0) & (k2 == 0) & wav
        mk = self.field_k[self.mean_fields]
        return int(zero.sum() + 2 * (wav & ~zero).sum() + (mk == 0).sum() + 2 * (mk != 0).sum()
                   + 2 * on_lp.sum())


def build_index(rows: Sequence[tuple[int, int, int, int, tuple[int, ...]]], means: Sequence[tuple[int, int]],
                lowpass: int | None, labels: dict, ndim: int) -> MomentIndex:
    """A :class:`MomentIndex` from its rows: the constructor shared by every moment set.

    Parameters
    ----------
    rows : sequence of ``(f1, k1, f2, k2, shift)``
        One covariance :math:`\\mathrm{Cov}([x\\star\\psi_{f_1}]^{k_1}, [x\\star\\psi_{f_2}]^{k_2}(\\cdot-n))` per
        row, ``shift`` a tuple of ``ndim`` ints.
    means : sequence of ``(f, k)``
        Fields whose mean is appended.
    lowpass : int or None
        Index of the low-pass filter (its fields are real), or ``None``.
    labels : dict
        Metadata kept on the index (scales, orientations, ...).
    ndim : int
        1 or 2, the dimension of the shifts.
    """
    fields: dict[tuple[int, int], int] = {}
    for f1, k1, f2, k2, _ in rows:
        fields.setdefault((f1, k1), len(fields))
        fields.setdefault((f2, k2), len(fields))
    for key in means:
        fields.setdefault(key, len(fields))
    ff = np.array([f for f, _ in fields], dtype=np.int64)
    fk = np.array([k for _, k in fields], dtype=np.int64)
    real = (fk == 0) | (ff == (-1 if lowpass is None else lowpass))
    r1 = np.array([fields[(f1, k1)] for f1, k1, _, _, _ in rows], dtype=np.int64)
    r2 = np.array([fields[(f2, k2)] for _, _, f2, k2, _ in rows], dtype=np.int64)
    shift = np.array([list(t) for *_, t in rows], dtype=np.int64).reshape(len(rows), ndim)
    mean_idx = np.array(sorted({fields[key] for key in means}), dtype=np.int64)
    return MomentIndex(ff, fk, real, r1, r2, shift, mean_idx, lowpass, dict(labels))


def circular_distance(a: np.ndarray | int, b: np.ndarray | int, n: int) -> np.ndarray:
    """:math:`d(\\ell,\\ell')=\\min(|\\ell-\\ell'|,\\,n-|\\ell-\\ell'|)`, the distance of two orientation indices
    on a circle of ``n`` orientations."""
    d = np.abs(np.asarray(a) - np.asarray(b)) % n
    return np.minimum(d, n - d)


def tolerance_rule_1d(xi: Sequence[float], width: Sequence[float], K: int, n_diag: int | None = None,
                      tol: float = 2.0, coupling: bool = True) -> MomentIndex:
    """The 1D moment set of Mallat, Zhang, Rochette (authors' ``PhaseHarmonicCov`` selection rule).

    Field :math:`[x\\star\\psi_n]^k` (:math:`k=0..K-1`) occupies the band centred at :math:`k\\xi_n` of
    half-width :math:`\\Delta_{k,n}=\\max(k,1)\\,w_n`. A pair is kept iff

    (i) no aliasing: :math:`|k\\xi_n-k'\\xi_{n'}|+\\Delta_{k,n}+\\Delta_{k',n'}\\le1`;
    (ii) overlap: :math:`|k\\xi_n-k'\\xi_{n'}|\\le\\mathrm{tol}\\,(\\Delta_{k,n}+\\Delta_{k',n'})`;
    (iii) ordering: :math:`\\xi_n>\\xi_{n'}`, or :math:`n=n'` and :math:`k\\le k'`;
    (iv) band: :math:`|n-n'|<n_{\\rm diag}`;
    (v) no :math:`(k,k,n,n)` with :math:`k\\ge1` (it equals :math:`E|x\\star\\psi_n|^2`, which the
    :math:`(0,0,n,n)` moment and the mean of :math:`|x\\star\\psi_n|` already give).

    The means of :math:`|x\\star\\psi_n|` (:math:`k=0`) are appended (first-order statistics).

    Parameters
    ----------
    xi : sequence of float, length n_filters
        Centre frequencies in cycles per sample, decreasing; a low-pass, if any, comes last with ``xi=0``.
    width : sequence of float, length n_filters
        Half-widths :math:`w_n` at :math:`k=1` (cycles per sample); the low-pass takes the last wavelet's.
    K : int >= 1
        Harmonics :math:`k=0,\\dots,K-1`.
    n_diag : int, optional
        Band of filter indices (default: all pairs).
    tol : float > 0
        Overlap tolerance (authors: 2).
    coupling : bool
        If false, keep only pairs with :math:`k=k'` (no phase coupling across frequencies): the
        "second-order only" baseline.

    Returns
    -------
    MomentIndex with 1-D zero shifts; ``labels = {"n": ..., "xi": ...}``.

    Examples
    --------
    Battle-Lemarie widths :math:`w=\\xi/3`, 12 octaves from :math:`\\xi_0=0.5` plus a low-pass,
    ``tol=2``: ``K=3`` gives 147 moments with ``n_diag=2`` and 325 with ``n_diag=7`` (the authors' counts).

    Used in: chapter 06.
    """
    xi_a = np.asarray(xi, dtype=np.float64)
    w_a = np.asarray(width, dtype=np.float64)
    if xi_a.ndim != 1 or xi_a.size == 0:
        raise ValueError(f"xi: expected a non-empty 1-D sequence of frequencies, got shape {xi_a.shape}")
    if w_a.shape != xi_a.shape:
        raise ValueError(f"width: expected {xi_a.size} half-widths (one per xi), got shape {w_a.shape}")
    if (xi_a < 0).any() or (xi_a > 0.5).any() or (np.diff(xi_a) >= 0).any():
        raise ValueError(f"xi: expected strictly decreasing frequencies in [0, 0.5], got {xi_a.tolist()}")
    if not (w_a > 0).all():
        raise ValueError(f"width: expected positive half-widths, got {w_a.tolist()}")
    K = check_positive(K, "K", integer=True)
    n_f = xi_a.size
    n_diag = n_f if n_diag is None else check_positive(n_diag, "n_diag", integer=True)
    tol = check_positive(tol, "tol")
    lowpass = n_f - 1 if xi_a[-1] == 0 else None

    fields = [(n, k, k * xi_a[n], max(k, 1) * w_a[n]) for n in range(n_f) for k in range(K)]
    rows = []
    for n, k, c, d in fields:
        for n2, k2, c2, d2 in fields:
            gap = abs(c - c2)
            if gap + d + d2 > 1 or gap > tol * (d + d2):
                continue
            if not (xi_a[n] > xi_a[n2] or (n == n2 and k <= k2)):
                continue
            if abs(n - n2) >= n_diag or (n == n2 and k == k2 and k >= 1):
                continue
            if not coupling and k != k2:
                continue
            rows.append((n, k, n2, k2, (0,)))
    means = [(n, 0) for n in range(n_f)]
    labels = {"n": np.arange(n_f), "xi": xi_a}
    return build_index(rows, means, lowpass, labels, 1)


def scale_interaction_2d(J: int, L: int, dj: int, dl: int | None = None, dk: int = 1,
                         full_circle: bool = True, lowpass: bool = True) -> MomentIndex:
    """The 2D moment set of Mallat, Zhang, Rochette's Figure 8 (authors' ``PhkScaleInter2d``).

    Filters are numbered ``j * n_theta + l`` (``n_theta = 2L`` orientations :math:`\\theta_\\ell=\\ell\\pi/L`
    when ``full_circle``), the low-pass last. With :math:`d(\\ell,\\ell')\\le\\Delta_\\ell` (circular distance,
    ordered pairs), at zero shift:

    - same scale :math:`j`: :math:`(k,k')\\in\\{(1,0),(1,1),(0,0)\\}`;
    - cross scale :math:`j<j'\\le\\min(j+\\Delta_j,J-1)`: :math:`(0,k')` for :math:`k'\\in\\{0,1,2\\}` and
      :math:`(1,k')` for :math:`k'\\in[2^{j'-j}-\\Delta_k,\\,2^{j'-j}+\\Delta_k]`, :math:`k'\\ge0`;
    - the low-pass energy :math:`(\\phi,1,\\phi,1)`.

    The means of the fields with :math:`k=0` or :math:`k\\ge2` are appended.

    Parameters
    ----------
    J : int >= 1
        Number of scales.
    L : int >= 1
        Orientations per half circle.
    dj : int >= 0
        Scale interactions :math:`\\Delta_j` (0 = no cross-scale moments).
    dl : int, optional
        Orientation band :math:`\\Delta_\\ell` (default :math:`L/2`, rounded down).
    dk : int >= 0
        Harmonic band :math:`\\Delta_k` around :math:`2^{j'-j}`.
    full_circle : bool
        ``2L`` orientations on :math:`[0,2\\pi)` (the papers' choice) or ``L`` on :math:`[0,\\pi)`.
    lowpass : bool
        Include the low-pass term.

    Returns
    -------
    MomentIndex with 2-D zero shifts; ``labels = {"j": ..., "theta": ...}`` (``-1`` for the low-pass).

    Examples
    --------
    ``J=8, L=8, dl=4, dk=1``: ``count_real("zhang-mallat")`` is 5890, 17426, 27314, 35714, 42434, 47474
    for ``dj = 0..5`` (the x-axis of the paper's Figure 8).

    Used in: chapters 06-07.
    """
    J = check_positive(J, "J", integer=True)
    L = check_positive(L, "L", integer=True)
    dj = check_positive(dj, "dj", integer=True, allow_zero=True)
    dk = check_positive(dk, "dk", integer=True, allow_zero=True)
    dl = L // 2 if dl is None else check_positive(dl, "dl", integer=True, allow_zero=True)
    n_theta = 2 * L if full_circle else L
    pairs = [(a, b) for a in range(n_theta) for b in range(n_theta) if circular_distance(a, b, n_theta) <= dl]
    rows = []
    for j in range(J):
        for a, b in pairs:
            f1, f2 = j * n_theta + a, j * n_theta + b
            for k1, k2 in ((1, 0), (1, 1), (0, 0)):
                rows.append((f1, k1, f2, k2, (0, 0)))
        for j2 in range(j + 1, min(j + dj, J - 1) + 1):
            centre = 2 ** (j2 - j)
            k_high = [k for k in range(centre - dk, centre + dk + 1) if k >= 0]
            for a, b in pairs:
                f1, f2 = j * n_theta + a, j2 * n_theta + b
                for k2 in (0, 1, 2):
                    rows.append((f1, 0, f2, k2, (0, 0)))
                for k2 in k_high:
                    rows.append((f1, 1, f2, k2, (0, 0)))
    lp = J * n_theta if lowpass else None
    if lowpass:
        rows.append((lp, 1, lp, 1, (0, 0)))
    used = {(f, k) for f1, k1, f2, k2, _ in rows for f, k in ((f1, k1), (f2, k2)) if f != lp}
    means = sorted((f, k) for f, k in used if k == 0 or k >= 2)
    n_filters = J * n_theta + (1 if lowpass else 0)
    js = np.array([f // n_theta if f != lp else -1 for f in range(n_filters)])
    thetas = np.array([(f % n_theta) * math.pi / L if f != lp else -1.0 for f in range(n_filters)])
    return build_index(rows, means, lp, {"j": js, "theta": thetas, "L": L, "n_theta": n_theta}, 2)
