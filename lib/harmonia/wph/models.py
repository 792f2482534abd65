"""The moment sets of Zhang & Mallat's maximum-entropy models B, C and D (ACHA 2021).

All three use bump steerable wavelets :math:`\\psi_{j,\\ell}` (:math:`j<J`, :math:`2L` orientations
:math:`\\theta_\\ell=\\ell\\pi/L`), numbered ``j * 2L + l`` with the low-pass :math:`\\phi_J` last, and
fields normalised by the target's means and RMS (``std_norm=True``).

- **B** (:func:`model_B`): same-scale pairs :math:`(k,k')\\in\\{(1,0),(1,1),(0,0)\\}` over orientations
  :math:`d(\\ell,\\ell')\\le\\Delta_\\ell`, spatial auto-covariances of :math:`[x\\star\\psi_{j,\\ell}]^k`
  (:math:`k\\le k_{\\rm shift}`) at :math:`\\tau=2^j(n_1,n_2)`, and the low-pass energy with its
  auto-covariances at :math:`2^{J-1}(n_1,n_2)`;
- **C** (:func:`model_C`): B plus one octave (:math:`\\Delta_j`) of scale interactions
  :math:`(0,k'\\le2)` and the phase coupling :math:`(1,2^{j'-j})`;
- **D** (:func:`model_D`): the same pairs on the *angular Fourier* channels
  :math:`\\hat H_{j,q,k}=\\frac1{\\sqrt{2L}}\\sum_\\ell\\tilde H_{j,\\ell,k}e^{-2\\pi iq\\ell/2L}`, always the
  same :math:`q` on both sides; no shifts (computed by :class:`~harmonia.wph.moments.AngularWPH2D`).

Shifts :math:`(n_1,n_2)` (axis 0, axis 1) run over the half plane :math:`n_1\\in\\{0..\\Delta_n\\}`,
:math:`n_2\\in\\{-\\Delta_n..\\Delta_n\\}`, :math:`(n_1,n_2)\\ne0` -- the authors' set (it keeps both
:math:`(0,n_2)` and :math:`(0,-n_2)`, conjugates of each other).

Counts for the paper's parameters (:math:`J=5,L=8,\\Delta_\\ell=4,\\Delta_n=2`), in the paper's counting
(:meth:`MomentIndex.count_real` ``"zhang-mallat-2021"``): B 6 895, C 10 927, D 769.

:func:`point_process_moments` is the set of Brochard et al.'s particle descent (chapter 10): the
scale-interaction families of Mallat, Zhang, Rochette with each first wavelet also taken *shifted* along
its direction.

Used in: chapters 07, 10.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from harmonia.config import check_positive
from harmonia.fourier import half_plane_shifts
from harmonia.wph.index import MomentIndex, build_index, scale_interaction_2d

__all__ = ["model_B", "model_C", "model_D", "maxent_moments", "point_process_moments"]


def maxent_moments(J: int, L: int, dj: int, dl: int | None = None, dk: int = 0, dn: int = 2,
                   k_shift: int = 1) -> MomentIndex:
    """Models B (``dj=0``) and C (``dj>=1``): zero-shift pairs of
    :func:`~harmonia.wph.index.scale_interaction_2d` (cross-scale :math:`(0,k')` limited to
    :math:`k'\\le2^{\\Delta_j}+\\Delta_k`), spatial shifts, no appended means.

    Parameters
    ----------
    J, L : int >= 1
        Scales and orientations per half circle (``2L`` orientations).
    dj : int >= 0
        Scale interactions :math:`\\Delta_j`.
    dl : int, optional
        Orientation band :math:`\\Delta_\\ell` (default :math:`L/2`).
    dk : int >= 0
        Harmonic band :math:`\\Delta_k` around :math:`2^{j'-j}`.
    dn : int >= 0
        Shift range :math:`\\Delta_n` (0: no shifts).
    k_shift : int >= 0
        Shifted auto-covariances for :math:`k=0..k_{\\rm shift}`.

    Returns
    -------
    MomentIndex (2-D shifts); labels ``j``, ``theta``, ``L``, ``n_theta``.
    """
    J = check_positive(J, "J", integer=True)
    L = check_positive(L, "L", integer=True)
    dj = check_positive(dj, "dj", integer=True, allow_zero=True)
    dk = check_positive(dk, "dk", integer=True, allow_zero=True)
    k_shift = check_positive(k_shift, "k_shift", integer=True, allow_zero=True)
    base = scale_interaction_2d(J, L, dj, dl, dk, full_circle=True, lowpass=True)
    n_theta, lp = 2 * L, base.lowpass
    k_limit = 2**dj + dk
    rows = [r for r in base.rows()
            if not (r[0] // n_theta != r[2] // n_theta and r[1] == 0 and r[3] > k_limit)]
    for n1, n2 in half_plane_shifts(dn):
        for j in range(J):
            for l in range(n_theta):
                f = j * n_theta + l
                for k in range(k_shift + 1):
                    rows.append((f, k, f, k, (2**j * n1, 2**j * n2)))
        rows.append((lp, 1, lp, 1, (2 ** (J - 1) * n1, 2 ** (J - 1) * n2)))
    return build_index(rows, [], lp, base.labels, 2)


def model_B(J: int = 5, L: int = 8, dl: int | None = None, dn: int = 2, k_shift: int = 1) -> MomentIndex:
    """Model B: same-scale phase harmonic covariances and spatial shifts (:math:`\\Delta_j=0`).
    6 895 moments for the paper's ``J=5, L=8, dl=4, dn=2``; 1 254 for ``J=4, L=4, dl=2, dn=1``."""
    return maxent_moments(J, L, 0, dl, 0, dn, k_shift)


def model_C(J: int = 5, L: int = 8, dj: int = 1, dl: int | None = None, dk: int = 0, dn: int = 2,
            k_shift: int = 1) -> MomentIndex:
    """Model C: model B plus scale interactions up to ``dj`` octaves.
    10 927 moments for the paper's parameters; 2 094 for ``J=4, L=4, dl=2, dn=1``."""
    if check_positive(dj, "dj", integer=True) < 1:
        raise ValueError(f"dj: expected >= 1 for model C (dj = 0 is model B), got {dj}")
    return maxent_moments(J, L, dj, dl, dk, dn, k_shift)


def model_D(J: int = 5, L: int = 8, dj: int = 1, dk: int = 0) -> MomentIndex:
    """Model D: the moments of models B/C on angular Fourier channels, without shifts.

    Filter number ``j * 2L + q`` here means the angular frequency ``q`` of scale ``j`` (labels ``j``,
    ``q``); the low-pass is last. For each :math:`(j,q)`: :math:`(1,0),(1,1),(0,0)`; for
    :math:`j<j'\\le j+\\Delta_j`: :math:`(0,k'\\le2)` and :math:`(1,k')`,
    :math:`k'\\in[2^{j'-j}-\\Delta_k,2^{j'-j}+\\Delta_k]`; plus the low-pass energy. 769 moments in the
    paper's counting for ``J=5, L=8, dj=1``. Compute it with :class:`~harmonia.wph.moments.AngularWPH2D`.
    """
    J = check_positive(J, "J", integer=True)
    L = check_positive(L, "L", integer=True)
    dj = check_positive(dj, "dj", integer=True, allow_zero=True)
    dk = check_positive(dk, "dk", integer=True, allow_zero=True)
    n_q = 2 * L
    rows = []
    for j in range(J):
        for q in range(n_q):
            f = j * n_q + q
            rows += [(f, 1, f, 0, (0, 0)), (f, 1, f, 1, (0, 0)), (f, 0, f, 0, (0, 0))]
    for j in range(J):
        for j2 in range(j + 1, min(j + dj, J - 1) + 1):
            centre = 2 ** (j2 - j)
            for q in range(n_q):
                f1, f2 = j * n_q + q, j2 * n_q + q
                rows += [(f1, 0, f2, k2, (0, 0)) for k2 in range(min(2, 2**dj + dk) + 1)]
                rows += [(f1, 1, f2, k2, (0, 0)) for k2 in range(max(0, centre - dk), centre + dk + 1)]
    lp = J * n_q
    rows.append((lp, 1, lp, 1, (0, 0)))
    js = np.array([f // n_q if f != lp else -1 for f in range(lp + 1)])
    qs = np.array([f % n_q if f != lp else -1 for f in range(lp + 1)])
    index = build_index(rows, [], lp, {"j": js, "q": qs, "L": L, "n_theta": n_q, "angular": True}, 2)
    # an angular channel of a real field (k = 0) is complex except at q = 0 and q = L (DFT of a real
    # sequence); the low-pass is real
    q_of = qs[index.field_filter]
    real = (index.field_filter == lp) | ((index.field_k == 0) & ((q_of == 0) | (q_of == L)))
    return replace(index, field_real=real)


def point_process_moments(J: int, L: int, dj: int = 2, dl: int | None = None, dk: int = 0,
                          shifted: bool = True) -> MomentIndex:
    """The moments of the particle descent (Brochard, Błaszczyszyn, Mallat, Zhang 2022; authors' code).

    Filters are numbered ``j * 2L + l`` (bump wavelets), then ``J * 2L + j * 2L + l`` (the same wavelets
    shifted by :math:`2^j` pixels along their direction, see :class:`~harmonia.wph.ShiftedWPH2D`), the
    low-pass last. Rows, with :math:`d(\\ell_1,\\ell_2)\\le\\Delta_\\ell` and the first wavelet plain or
    shifted (``shifted``), the second plain:

    - (a) same scale, :math:`(k_1,k_2)\\in\\{(1,0),(1,1)\\}`; (b) same scale :math:`(0,0)`;
    - (c) :math:`j_1<j_2\\le j_1+\\Delta_j`, :math:`(0,k_2)`, :math:`k_2\\in\\{0,1,2\\}`;
    - (d) :math:`j_1<j_2\\le j_1+\\Delta_j`, :math:`(1,2^{j_2-j_1}\\pm\\Delta_k)`;
    - (e) the low-pass energy.

    No means are appended. Complex moments (``len(row_f1)``): 1 681 for :math:`J=3`, :math:`L=4`; 2 561 for
    :math:`J=4` (the authors' demo; 1 281 without shifts); 3 441 for :math:`J=5`.

    Used in: chapter 10.
    """
    base = scale_interaction_2d(J, L, dj, dl, dk, full_circle=True, lowpass=True)
    n_wav = J * 2 * L
    lp_old = base.lowpass
    fields = list(zip(base.field_filter.tolist(), base.field_k.tolist()))
    rows = []
    for f1, f2, t in zip(base.row_f1.tolist(), base.row_f2.tolist(), base.row_shift.tolist()):
        (a, k1), (b, k2) = fields[f1], fields[f2]
        if a == lp_old:
            continue
        rows.append((a, k1, b, k2, tuple(t)))
        if shifted:
            rows.append((n_wav + a, k1, b, k2, tuple(t)))
    lp = 2 * n_wav if shifted else n_wav
    rows.append((lp, 1, lp, 1, (0, 0)))
    n_filters = lp + 1
    js = np.array([(f % n_wav) // (2 * L) if f != lp else -1 for f in range(n_filters)])
    ls = np.array([(f % n_wav) % (2 * L) if f != lp else -1 for f in range(n_filters)])
    sh = np.array([f >= n_wav and f != lp for f in range(n_filters)])
    return build_index(rows, [], lp, {"j": js, "l": ls, "shifted": sh, "L": L, "n_theta": 2 * L}, 2)
