r"""Reading learned transforms: atoms sorted by energy, their best-fitting sinusoids, and distances between the
subspaces two transforms span.

An atom :math:`\phi\in\mathbb R^M` (a row of :math:`\Phi`) is fitted by :math:`a\cos(2\pi f m/f_s)+b\sin(2\pi fm/f_s)`,
:math:`m=0..M-1`, by least squares for every :math:`f` of a dense grid on :math:`[0,f_s/2]`; the best :math:`f` and the
squared residual :math:`\|\phi-\text{fit}\|^2` (relative, atoms have unit norm) are returned.

Used in: chapter 13.
"""

from __future__ import annotations

import math

import torch

from harmonia.config import check_positive, check_tensor
from harmonia.nmf.jd import spectrogram

__all__ = ["sort_atoms", "fit_sinusoids", "atom_subspace_distance"]


def sort_atoms(Phi: torch.Tensor, C: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Rows of ``Phi`` sorted by decreasing mean energy :math:`\frac1N\sum_n[\bar V_\Phi]_{mn}`.
    Returns (Phi sorted (M, M), energies (M,) sorted, as fractions of the total)."""
    check_tensor(C, "C", shape=("N", "M", "M"), dtype="float32_64", nonempty=True)
    check_tensor(Phi, "Phi", shape=(C.shape[-1], C.shape[-1]), dtype=C.dtype, like=C)
    e = spectrogram(Phi, C).mean(-1)
    order = torch.argsort(e, descending=True)
    return Phi[order], e[order] / e.sum()


def fit_sinusoids(atoms: torch.Tensor, fs: float, *, resolution: float = 0.02) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Best sinusoid per atom on a frequency grid of step ``resolution`` Hz.

    atoms: (A, M) rows; fs: sampling rate in Hz. Returns (frequencies (A,) in Hz, squared residuals (A,) relative to
    :math:`\|\phi\|^2`)."""
    atoms = check_tensor(atoms, "atoms", shape=("A", "M"), dtype="floating")
    fs = float(check_positive(fs, "fs"))
    M = atoms.shape[1]
    f = torch.arange(0.0, fs / 2 + resolution / 2, check_positive(resolution, "resolution"), dtype=torch.float64)
    m = torch.arange(M, dtype=torch.float64)
    ang = 2 * math.pi * f[:, None] * m[None, :] / fs                   # (F, M)
    basis = torch.stack([torch.cos(ang), torch.sin(ang)], 1)           # (F, 2, M)
    gram = basis @ basis.transpose(-1, -2) + 1e-12 * torch.eye(2, dtype=torch.float64)   # (F, 2, 2)
    rhs = basis @ atoms.to(torch.float64).T                            # (F, 2, A)
    coef = torch.linalg.solve(gram, rhs)
    explained = (rhs * coef).sum(1)                                    # (F, A): projection energy
    norm2 = (atoms.to(torch.float64) ** 2).sum(-1)
    best = explained.argmax(0)
    resid = (norm2 - explained[best, torch.arange(atoms.shape[0])]) / norm2
    return f[best], resid.clamp_min(0)


def atom_subspace_distance(A: torch.Tensor, B: torch.Tensor) -> float:
    r"""Geodesic distance between the row spaces of two sets of orthonormal rows,
    :math:`(\sum_i\arccos^2\sigma_i(AB^\top))^{1/2}` (principal angles). A, B: (k, M) -> float."""
    A = check_tensor(A, "A", shape=("k", "M"), dtype="float32_64")
    B = check_tensor(B, "B", shape=A.shape, dtype="float32_64", like=A)
    cos = torch.linalg.svdvals(A @ B.T)                                 # descending
    sin = torch.linalg.svdvals(A - (A @ B.T) @ B).flip(0)               # ascending: pairs with cos
    return float(torch.sqrt((torch.atan2(sin, cos) ** 2).sum()))        # atan2: exact near 0, unlike arccos
