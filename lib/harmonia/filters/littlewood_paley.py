"""The Littlewood-Paley sum of a filter bank, :math:`\\sum_\\lambda|\\hat\\psi_\\lambda(\\omega)|^2`.

If it lies in :math:`[A, B]` (with :math:`A>0`) on the frequencies of interest, the wavelet transform
is a stable frame: :math:`A\\|x\\|^2\\le\\sum_\\lambda\\|x\\star\\psi_\\lambda\\|^2\\le B\\|x\\|^2`
(plus the low-pass term). Used in: chapter 05.
"""

from __future__ import annotations

import torch

from harmonia.config import check_tensor

__all__ = ["littlewood_paley_sum"]


def littlewood_paley_sum(psi_hat: torch.Tensor, phi_hat: torch.Tensor | None = None) -> torch.Tensor:
    """:math:`\\sum_\\lambda|\\hat\\psi_\\lambda|^2` (+ :math:`|\\hat\\phi|^2` when given).

    Parameters
    ----------
    psi_hat : (n_filters, *grid) tensor, real or complex
        Filters in Fourier, the filter index first.
    phi_hat : (*grid) tensor, optional
        The low-pass.

    Returns
    -------
    (*grid) real tensor
    """
    check_tensor(psi_hat, "psi_hat", dtype="float_or_complex", min_ndim=2)
    lp = psi_hat.abs().square().sum(dim=0)
    if phi_hat is not None:
        check_tensor(phi_hat, "phi_hat", dtype="float_or_complex", shape=tuple(psi_hat.shape[1:]), like=psi_hat)
        lp = lp + phi_hat.abs().square()
    return lp
