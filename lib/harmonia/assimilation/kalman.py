r"""The Kalman filter: the exact Bayesian filter of a linear-Gaussian model :math:`x_{t+1}=Mx_t+\mathcal N(0,Q)`,
:math:`y_t=Hx_t+\mathcal N(0,R)`.

.. math::

    \text{analysis: } K=P^bH^\top(HP^bH^\top+R)^{-1},\quad m^a=m^b+K(y-Hm^b),\quad P^a=(I-KH)P^b(I-KH)^\top+KRK^\top;
    \qquad\text{forecast: } m^b\leftarrow Mm^a,\quad P^b\leftarrow MP^aM^\top+Q .

The covariances do not depend on the data, so they are computed once and the means are batched over trajectories.
Iterating the covariance recursion to its fixed point solves the discrete Riccati equation (:func:`steady_state`).

Used in: chapter 14.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harmonia.config import check_int, check_tensor

__all__ = ["KalmanResult", "kalman_filter", "steady_state"]


@dataclass
class KalmanResult:
    """Prior (``b``) and posterior (``a``) moments for :math:`t=0..T-1`: means (T, ..., n), covariances (T, n, n)."""

    mean_b: torch.Tensor
    cov_b: torch.Tensor
    mean_a: torch.Tensor
    cov_a: torch.Tensor


def _analysis_cov(Pb, H, R):
    S = H @ Pb @ H.T + R
    K = torch.linalg.solve(S, H @ Pb).T                      # Pb H^T S^{-1} (S, Pb symmetric)
    IKH = torch.eye(Pb.shape[0], dtype=Pb.dtype, device=Pb.device) - K @ H
    return K, IKH @ Pb @ IKH.T + K @ R @ K.T


def _check_model(M: torch.Tensor, Q: torch.Tensor, H: torch.Tensor, R: torch.Tensor) -> int:
    """Validate the linear-Gaussian model (one dtype and device for all four matrices); return n."""
    check_tensor(M, "M", shape=("n", "n"), dtype="float32_64", nonempty=True)
    n = M.shape[0]
    check_tensor(Q, "Q", shape=(n, n), dtype=M.dtype, like=M)
    check_tensor(H, "H", shape=("p", n), dtype=M.dtype, like=M, nonempty=True)
    check_tensor(R, "R", shape=(H.shape[0], H.shape[0]), dtype=M.dtype, like=M)
    return n


def kalman_filter(M: torch.Tensor, Q: torch.Tensor, H: torch.Tensor, R: torch.Tensor, m0: torch.Tensor,
                  P0: torch.Tensor, ys: torch.Tensor) -> KalmanResult:
    """Filter the observations ``ys`` (T, ..., p) from the prior :math:`\\mathcal N(m_0,P_0)` of :math:`x_0`.

    M, Q: (n, n); H: (p, n); R: (p, p); m0: (..., n) or (n,); P0: (n, n). The prior of cycle t is the law of
    :math:`x_t` given :math:`y_{0:t-1}`, its posterior given :math:`y_{0:t}` (the cycle's order: observe, then move)."""
    n = _check_model(M, Q, H, R)
    P0 = check_tensor(P0, "P0", shape=(n, n), dtype=M.dtype, like=M)
    ys = check_tensor(ys, "ys", shape=("T", "...", H.shape[0]), dtype="float32_64", like=M)
    if ys.shape[0] == 0:
        raise ValueError(f"ys: expected at least one observation time (T >= 1), got shape {tuple(ys.shape)}")
    check_tensor(m0, "m0", shape=("...", n), dtype="float32_64", like=M)
    if m0.ndim > ys.ndim - 1:
        raise ValueError(f"m0: expected a (..., n) mean whose batch shape broadcasts to the batch shape of ys "
                         f"{tuple(ys.shape[1:-1])}, got shape {tuple(m0.shape)}")
    m = m0.to(ys.dtype).expand(*ys.shape[1:-1], n)
    mb, Pbs, ma, Pas = [], [], [], []
    Pb = P0
    for y in ys:
        K, Pa = _analysis_cov(Pb, H, R)
        mb.append(m)
        Pbs.append(Pb)
        m = m + (y - m @ H.T) @ K.T
        ma.append(m)
        Pas.append(Pa)
        m = m @ M.T
        Pb = M @ Pa @ M.T + Q
    return KalmanResult(torch.stack(mb), torch.stack(Pbs), torch.stack(ma), torch.stack(Pas))


def steady_state(M: torch.Tensor, Q: torch.Tensor, H: torch.Tensor, R: torch.Tensor, *, tol: float = 1e-14,
                 max_iter: int = 100_000) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The fixed point of the covariance recursion (the discrete algebraic Riccati equation), from :math:`P^b=Q`.
    Returns :math:`(P^b, P^a, K)` at steady state. Raises if it has not converged after ``max_iter`` iterations."""
    _check_model(M, Q, H, R)
    Pb = Q.clone()
    for _ in range(check_int(max_iter, "max_iter")):
        K, Pa = _analysis_cov(Pb, H, R)
        new = M @ Pa @ M.T + Q
        if float((new - Pb).abs().max()) <= tol * float(Pb.abs().max()):
            K, Pa = _analysis_cov(new, H, R)
            return new, Pa, K
        Pb = new
    raise RuntimeError(f"max_iter: the Riccati recursion did not converge in {max_iter} iterations (unstable model?)")
