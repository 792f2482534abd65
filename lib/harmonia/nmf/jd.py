r"""Joint diagonalisation of a stack of symmetric positive definite matrices.

Given :math:`C_1,\dots,C_N\in\mathbb R^{M\times M}`, find one matrix :math:`B` making every :math:`BC_nB^\top` (nearly)
diagonal. Three algorithms, one criterion each:

- :func:`qn_orth_jd` -- Pham's log-likelihood criterion over the orthogonal group,
  :math:`\ell(\Phi)=\frac1{2N}\sum_n\log\det\mathrm{Diag}(\Phi C_n\Phi^\top)`, minimised by the quasi-Newton method of
  Ablin, Cardoso & Gramfort (2019) in its orthogonal variant: a Newton step per skew coordinate with a diagonal
  Hessian approximation, a polar retraction and backtracking. This is the "JD" of chapter 13.
- :func:`pham_jd` -- Pham's (2001) algorithm for the same criterion over all invertible :math:`B`,
  :math:`\sum_n[\log\det\mathrm{Diag}(BC_nB^\top)-\log\det(BC_nB^\top)]\ge 0` (Hadamard), by Newton steps on pairs of rows.
- :func:`jacobi_jd` -- Cardoso & Souloumiac's (1996) Jacobi angles, orthogonal, minimising the off-diagonal
  Frobenius mass :math:`\sum_n\|\mathrm{off}(\Phi C_n\Phi^\top)\|_F^2` one Givens rotation at a time.

On an exactly jointly diagonalisable stack, :math:`C_n=A\,\mathrm{diag}(d_n)A^\top`, all three return :math:`A^{-1}`
up to a permutation and a scaling of rows (signs for the orthogonal ones), provided no two rows of
:math:`(d_n)_n` are proportional.

Used in: chapter 13.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from harmonia.config import check_int, check_positive, check_tensor
from harmonia.manifolds import Orthogonal

__all__ = [
    "frame_covariances",
    "spectrogram",
    "logdiag_criterion",
    "pham_criterion",
    "offdiag_criterion",
    "JDResult",
    "qn_orth_jd",
    "pham_jd",
    "jacobi_jd",
]


def frame_covariances(Y: torch.Tensor) -> torch.Tensor:
    r"""Empirical frame covariances :math:`\hat\Sigma_n=\frac1S\sum_s y^{(s)}_n y^{(s)\top}_n`.

    Y: (S, M, N) -- S realisations of M x N frame matrices (frames are columns) -> (N, M, M), rank <= S."""
    Y = check_tensor(Y, "Y", shape=("S", "M", "N"), dtype="floating", nonempty=True)
    return torch.einsum("smn,skn->nmk", Y, Y) / Y.shape[0]


def spectrogram(Phi: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    r"""The transform's mean power spectrogram from the covariance stack alone:
    :math:`[\bar V_\Phi]_{mn}=[\Phi\hat\Sigma_n\Phi^\top]_{mm}=\frac1S\sum_s(\Phi Y^{(s)})^2_{mn}`.

    Phi: (M, M); C: (N, M, M) -> (M, N). Cost :math:`O(NM^3)`, independent of S."""
    _check_transform(Phi, C)
    return ((Phi @ C) * Phi).sum(-1).T


def _check_transform(Phi: torch.Tensor, C: torch.Tensor, name: str = "Phi") -> None:
    """A transform of K <= M rows (the whole basis, or some of its atoms, as a chapter plots them) and a covariance
    stack of one dtype and device (values unchecked: the criteria propagate NaN like torch; the solvers check their
    inputs)."""
    check_tensor(C, "C", shape=("N", "M", "M"), dtype="float32_64", finite=False)
    M = C.shape[-1]
    check_tensor(Phi, name, shape=("K", M), dtype=C.dtype, like=C, finite=False)


def _check_stack(C: torch.Tensor, name: str = "C") -> torch.Tensor:
    C = check_tensor(C, name, shape=("N", "M", "M"), dtype="float32_64", nonempty=True)
    if not torch.allclose(C, C.transpose(-1, -2), rtol=1e-10, atol=1e-12 * float(C.abs().max())):
        raise ValueError(f"{name}: expected symmetric matrices (N, M, M), got a non-symmetric stack")
    return C


def logdiag_criterion(Phi: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    r""":math:`\sum_n\sum_m\log[\Phi C_n\Phi^\top]_{mm}`. For orthogonal :math:`\Phi` it differs from Pham's criterion
    by the constant :math:`\sum_n\log\det C_n`. Phi: (M, M); C: (N, M, M) -> scalar."""
    return torch.log(spectrogram(Phi, C)).sum()


def pham_criterion(B: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    r"""Pham's criterion :math:`\sum_n[\log\det\mathrm{Diag}(BC_nB^\top)-\log\det(BC_nB^\top)]\ge0` (zero iff every
    :math:`BC_nB^\top` is diagonal). B: (M, M) invertible; C: (N, M, M) SPD -> scalar."""
    _check_transform(B, C, "B")
    D = B @ C @ B.T
    return (torch.log(torch.diagonal(D, dim1=-2, dim2=-1)).sum(-1) - torch.logdet(D)).sum()


def offdiag_criterion(Phi: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    r""":math:`\sum_n\|\mathrm{off}(\Phi C_n\Phi^\top)\|_F^2` (sum of squared off-diagonal entries) -> scalar."""
    _check_transform(Phi, C)
    D = Phi @ C @ Phi.T
    return (D**2).sum() - (torch.diagonal(D, dim1=-2, dim2=-1) ** 2).sum()


@dataclass
class JDResult:
    """A joint diagonaliser and its history: ``B`` (M, M), ``loss`` per iteration, ``gnorm`` (gradient norms,
    QN only), ``converged``."""

    B: torch.Tensor
    loss: list[float] = field(default_factory=list)
    gnorm: list[float] = field(default_factory=list)
    converged: bool = False


def qn_orth_jd(C: torch.Tensor, Phi0: torch.Tensor | None = None, *, max_iter: int = 1000, gtol: float = 1e-8,
               lambda_min: float = 1e-16, max_ls: int = 30) -> JDResult:
    r"""Orthogonal joint diagonalisation by quasi-Newton steps on :math:`\ell(\Phi)=\frac1{2N}\sum_{n,m}\log d_{nm}`,
    :math:`d_{nm}=[D_n]_{mm}`, :math:`D_n=\Phi C_n\Phi^\top`.

    Per iteration: relative gradient :math:`G=\frac1N\sum_n\mathrm{diag}(d_n)^{-1}D_n-I` (stop when
    :math:`\|\mathrm{skew}(G)\|_F<\mathrm{gtol}\sqrt M`, the norm of the gradient on the group); Hessian
    approximation :math:`h_{ij}=\frac1N\sum_n d_{nj}/d_{ni}`; direction
    :math:`E=-\tfrac12(G-G^\top)\oslash\max(\tfrac12(h+h^\top)-1,\lambda_{\min})` (skew); step :math:`1,\tfrac12,\dots`
    (at most ``max_ls`` tries) on :math:`\Phi'=\mathrm{polar}((I+tE)\Phi)`, accepting the first strict decrease.

    Parameters
    ----------
    C : (N, M, M) SPD matrices
    Phi0 : (M, M) orthogonal start (default identity)

    Returns
    -------
    JDResult with ``B`` orthogonal, ``loss`` = :math:`\ell` after each iteration (first entry: at the start).
    """
    C = _check_stack(C)
    N, M = C.shape[0], C.shape[1]
    max_iter = check_int(max_iter, "max_iter", minimum=0)
    max_ls = check_int(max_ls, "max_ls")
    check_positive(gtol, "gtol", allow_zero=True)
    eye = torch.eye(M, dtype=C.dtype, device=C.device)
    Phi = eye.clone() if Phi0 is None else check_tensor(Phi0, "Phi0", shape=(M, M), dtype="floating", like=C)

    def loss_of(P):
        return float(logdiag_criterion(P, C)) / (2 * N)

    res = JDResult(Phi, [loss_of(Phi)])
    for _ in range(max_iter):
        D = Phi @ C @ Phi.T
        d = torch.diagonal(D, dim1=-2, dim2=-1)                        # (N, M)
        G = (D / d[:, :, None]).mean(0) - eye
        Ga = 0.5 * (G - G.T)                                           # the gradient on O(M) is the skew part
        gnorm = float(torch.linalg.matrix_norm(Ga))
        res.gnorm.append(gnorm)
        if gnorm < gtol * math.sqrt(M):
            res.converged = True
            break
        h = (d[:, None, :] / d[:, :, None]).mean(0)                    # h_ij = mean_n d_j / d_i
        det = (0.5 * (h + h.T) - 1).clamp_min(lambda_min)
        E = -Ga / det
        step, accepted = 1.0, False
        for _ in range(max_ls):
            cand = Orthogonal.polar(Phi + step * (E @ Phi))
            new = loss_of(cand)
            if new < res.loss[-1]:
                Phi, accepted = cand, True
                res.loss.append(new)
                break
            step /= 2
        if not accepted:
            break
    res.B = Phi
    return res


def pham_jd(C: torch.Tensor, B0: torch.Tensor | None = None, *, max_sweeps: int = 100, tol: float = 1e-12) -> JDResult:
    r"""Pham's algorithm for the approximate joint diagonalisation of SPD matrices (non-orthogonal :math:`B`).

    Sweeps over pairs :math:`i<j` of rows. For a pair, with :math:`D_n=BC_nB^\top` and weights :math:`1/N`:
    :math:`g_{ij}=\frac1N\sum_n[D_n]_{ij}/[D_n]_{ii}`, :math:`\omega_{ij}=\frac1N\sum_n[D_n]_{jj}/[D_n]_{ii}`; the Newton
    step of the criterion along :math:`T=I+\begin{pmatrix}0&a\\b&0\end{pmatrix}` solves
    :math:`\begin{pmatrix}\omega_{ij}&1\\1&\omega_{ji}\end{pmatrix}\begin{pmatrix}a\\b\end{pmatrix}=-\begin{pmatrix}g_{ij}\\g_{ji}\end{pmatrix}`
    (positive definite by Cauchy-Schwarz, :math:`\omega_{ij}\omega_{ji}\ge1`); the two rows become :math:`T` times
    themselves, with the step halved until the pair's criterion decreases. Stops when a sweep lowers the criterion by
    less than ``tol`` (relative). Rows are finally scaled so that :math:`\frac1N\sum_n[D_n]_{ii}=1`.

    C: (N, M, M) SPD; B0: (M, M) invertible start (default identity). Returns JDResult with ``loss`` = Pham's
    criterion after each sweep.
    """
    C = _check_stack(C)
    N, M = C.shape[0], C.shape[1]
    max_sweeps = check_int(max_sweeps, "max_sweeps", minimum=0)
    B = torch.eye(M, dtype=C.dtype, device=C.device) if B0 is None else \
        check_tensor(B0, "B0", shape=(M, M), dtype="floating", like=C).clone()
    D = B @ C @ B.T
    res = JDResult(B, [float(pham_criterion(B, C))])
    for _ in range(max_sweeps):
        for i in range(M - 1):
            for j in range(i + 1, M):
                dii, djj, dij = D[:, i, i], D[:, j, j], D[:, i, j]
                g = torch.stack([(dij / dii).mean(), (dij / djj).mean()])
                w_ij, w_ji = (djj / dii).mean(), (dii / djj).mean()
                Hm = torch.stack([torch.stack([w_ij, torch.ones_like(w_ij)]), torch.stack([torch.ones_like(w_ij), w_ji])])
                if float(torch.linalg.det(Hm)) <= 1e-14:
                    continue                                           # proportional rows: no information
                a, b = -torch.linalg.solve(Hm, g)
                old = _pair_criterion(dii, djj, dij)
                t = 1.0
                for _ in range(30):
                    T = torch.stack([torch.stack([torch.ones_like(a), t * a]), torch.stack([t * b, torch.ones_like(a)])])
                    if float(torch.linalg.det(T)) > 0:
                        Dp = _pair_block(D, i, j, T)
                        if _pair_criterion(*Dp) < old:        # the 2x2 block's share of the criterion
                            break
                    t /= 2
                else:
                    continue
                B[[i, j]] = T @ B[[i, j]]
                D = B @ C @ B.T
        res.loss.append(float(pham_criterion(B, C)))
        if res.loss[-2] - res.loss[-1] <= tol * max(1.0, abs(res.loss[-2])):
            res.converged = True
            break
    scale = torch.diagonal(D, dim1=-2, dim2=-1).mean(0).rsqrt()
    res.B = B * scale[:, None]
    return res


def _pair_block(D: torch.Tensor, i: int, j: int, T: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """New (D_ii, D_jj, D_ij) per matrix after rows/columns i, j are transformed by the 2x2 T."""
    blk = torch.stack([torch.stack([D[:, i, i], D[:, i, j]], -1), torch.stack([D[:, j, i], D[:, j, j]], -1)], -2)
    new = T @ blk @ T.T
    return new[:, 0, 0], new[:, 1, 1], new[:, 0, 1]


def _pair_criterion(dii: torch.Tensor, djj: torch.Tensor, dij: torch.Tensor) -> float:
    """Pham's criterion restricted to a 2x2 block: sum_n log(d_ii d_jj / (d_ii d_jj - d_ij^2))."""
    return float((torch.log(dii * djj) - torch.log(dii * djj - dij**2)).sum())


def jacobi_jd(C: torch.Tensor, Phi0: torch.Tensor | None = None, *, max_sweeps: int = 100, tol: float = 1e-14) -> JDResult:
    r"""Cardoso-Souloumiac Jacobi angles. For a pair :math:`(p,q)`, with :math:`h_n=([D_n]_{pp}-[D_n]_{qq},\,2[D_n]_{pq})`,
    the rotation of rows :math:`\phi_p\leftarrow c\phi_p+s\phi_q`, :math:`\phi_q\leftarrow-s\phi_p+c\phi_q` leaves
    :math:`[D'_n]_{pq}=\tfrac12(-\sin2\theta\,h_{n1}+\cos2\theta\,h_{n2})`, so the best :math:`(\cos2\theta,\sin2\theta)` is the
    top eigenvector of :math:`\sum_nh_nh_n^\top`, taken with :math:`\cos2\theta\ge0` (the smallest rotation). Sweeps
    until no rotation moves by more than ``tol`` radians.

    C: (N, M, M) symmetric; Phi0: (M, M) orthogonal start. Returns JDResult with ``loss`` = off-diagonal mass after
    each sweep.
    """
    C = _check_stack(C)
    M = C.shape[1]
    max_sweeps = check_int(max_sweeps, "max_sweeps", minimum=0)
    Phi = torch.eye(M, dtype=C.dtype, device=C.device) if Phi0 is None else \
        check_tensor(Phi0, "Phi0", shape=(M, M), dtype="floating", like=C)
    res = JDResult(Phi, [float(offdiag_criterion(Phi, C))])
    D = Phi @ C @ Phi.T
    for _ in range(max_sweeps):
        largest = 0.0
        for p in range(M - 1):
            for q in range(p + 1, M):
                h = torch.stack([D[:, p, p] - D[:, q, q], 2 * D[:, p, q]], -1)
                _, vecs = torch.linalg.eigh(h.T @ h)
                x, y = vecs[:, 1]
                if x < 0:
                    x, y = -x, -y
                c = torch.sqrt((1 + x) / 2)
                s = y / (2 * c)
                largest = max(largest, abs(math.atan2(float(s), float(c))))
                Phi = Orthogonal.rotate_rows(Phi, p, q, c, s)
                D = Orthogonal.rotate_rows(Orthogonal.rotate_rows(D, p, q, c, s).transpose(-1, -2), p, q, c, s)
        res.loss.append(float(offdiag_criterion(Phi, C)))
        if largest < tol:
            res.converged = True
            break
    res.B = Phi
    return res
