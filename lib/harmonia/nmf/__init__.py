r"""Layer 2: transform-learning NMF and joint diagonalisation (chapter 13).

- :mod:`~harmonia.nmf.is_nmf` -- the Itakura-Saito divergence and its multiplicative updates (MM and ME);
- :mod:`~harmonia.nmf.frames` -- Tukey-windowed frames and the DCT-II;
- :mod:`~harmonia.nmf.jd` -- frame covariances, the transform's spectrogram from them, and three joint
  diagonalisers (orthogonal quasi-Newton on Pham's criterion, Pham's non-orthogonal algorithm, Jacobi angles);
- :mod:`~harmonia.nmf.tlnmf` -- the split :math:`C_S=L_S+I_S`, TL-NMF (quasi-Newton or Jacobi transform steps),
  JD+NMF, the DCT baseline, and the paper's gap quantities :math:`Q_S` and :math:`\Delta L_\infty`;
- :mod:`~harmonia.nmf.gcm` -- the Gaussian composite model with the paper's seeds;
- :mod:`~harmonia.nmf.atoms` -- sorting, sinusoid fits and subspace distances of learned atoms.
"""

from harmonia.nmf.atoms import atom_subspace_distance, fit_sinusoids, sort_atoms
from harmonia.nmf.frames import dct2_matrix, frames, tukey
from harmonia.nmf.gcm import GCMData, gcm_frames
from harmonia.nmf.is_nmf import is_divergence, nmf_is, nmf_is_update
from harmonia.nmf.jd import (
    JDResult,
    frame_covariances,
    jacobi_jd,
    logdiag_criterion,
    offdiag_criterion,
    pham_criterion,
    pham_jd,
    qn_orth_jd,
    spectrogram,
)
from harmonia.nmf.tlnmf import (
    NMFRun,
    best_rotation,
    dct_nmf,
    delta_L_inf,
    jacobi_angle,
    jacobi_pair_coefficients,
    jd_nmf,
    legacy_starts,
    losses,
    oracle_gap,
    tl_gradient,
    tl_nmf,
    tl_objective,
    tl_step_jacobi,
    tl_step_qn,
)

__all__ = [
    "is_divergence", "nmf_is_update", "nmf_is",
    "dct2_matrix", "tukey", "frames",
    "frame_covariances", "spectrogram", "logdiag_criterion", "pham_criterion", "offdiag_criterion", "JDResult",
    "qn_orth_jd", "pham_jd", "jacobi_jd",
    "losses", "tl_objective", "tl_gradient", "tl_step_qn", "tl_step_jacobi", "jacobi_pair_coefficients", "best_rotation", "jacobi_angle", "NMFRun",
    "tl_nmf", "jd_nmf", "dct_nmf", "oracle_gap", "delta_L_inf", "legacy_starts",
    "GCMData", "gcm_frames",
    "sort_atoms", "fit_sinusoids", "atom_subspace_distance",
]
