r"""The Gaussian composite model (GCM): frames whose coefficients in a hidden orthogonal transform are independent
centred Gaussians with a low-rank variance,

.. math::

    Y=\bar\Phi^\top X,\qquad X_{mn}\sim\mathcal N(0,[\bar W\bar H]_{mn}),\qquad
    \Sigma_n=\mathbb E[y_ny_n^\top]=\bar\Phi^\top\mathrm{diag}(\bar v_n)\bar\Phi,

so every frame covariance is diagonalised by the same :math:`\bar\Phi`. :func:`gcm_frames` draws it with the paper's
legacy numpy seeds (:math:`\bar\Phi` = DCT-II, :math:`\bar W,\bar H` i.i.d. Gamma(1, 2) with ``np.random.seed(2020)``,
the data with ``np.random.seed(100)``); realisations are nested (the first S of a larger draw).

Used in: chapter 13.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from harmonia.config import check_int
from harmonia.nmf.frames import dct2_matrix

__all__ = ["GCMData", "gcm_frames"]


@dataclass
class GCMData:
    """``Y`` (S, M, N) frames; ``Phibar`` (M, M) the hidden transform; ``Wbar`` (M, K), ``Hbar`` (K, N) its factors;
    ``Vbar`` (M, N) = Wbar @ Hbar the true variances; all float64."""

    Y: torch.Tensor
    Phibar: torch.Tensor
    Wbar: torch.Tensor
    Hbar: torch.Tensor

    @property
    def Vbar(self) -> torch.Tensor:
        return self.Wbar @ self.Hbar


def gcm_frames(S: int, M: int = 10, N: int = 50, K: int = 5, *, factor_seed: int = 2020,
               data_seed: int = 100) -> GCMData:
    r"""S realisations of the GCM with :math:`\bar\Phi` the orthonormal DCT-II. With the defaults this is the paper's
    synthetic data set (M = 10, N = 50, :math:`\bar K` = 5), drawn with numpy's legacy global generator exactly as the
    authors' code does: ``seed(2020)``; :math:`\bar W` then :math:`\bar H` by ``gamma(shape=1, scale=2)``;
    ``seed(100)``; ``X = randn(S, N, M) * sqrt(Vbar.T)``; ``Y[s] = Phibar.T @ X[s].T``. numpy's global state is
    saved and restored around the draw."""
    S, M, N, K = (check_int(v, name) for v, name in ((S, "S"), (M, "M"), (N, "N"), (K, "K")))
    state = np.random.get_state()
    try:
        np.random.seed(factor_seed)
        Wbar = np.random.gamma(size=(M, K), shape=1, scale=2)
        Hbar = np.random.gamma(size=(K, N), shape=1, scale=2)
        np.random.seed(data_seed)
        X = np.random.randn(S, N, M) * np.sqrt((Wbar @ Hbar).T)
    finally:
        np.random.set_state(state)
    Phibar = dct2_matrix(M)
    Y = Phibar.T @ torch.from_numpy(X).transpose(-1, -2)
    return GCMData(Y, Phibar, torch.from_numpy(Wbar), torch.from_numpy(Hbar))
