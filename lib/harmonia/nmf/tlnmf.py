r"""Transform-learning NMF (TL-NMF) and its split into joint diagonalisation plus IS-NMF.

With the covariance stack :math:`\hat\Sigma` (N, M, M) of S realisations and :math:`\bar V_\Phi` its spectrogram under
:math:`\Phi\in O(M)` (:func:`harmonia.nmf.jd.spectrogram`), the TL-NMF objective is

.. math::

    C_S(\Phi,W,H)=\sum_{mn}\Big[\frac{[\bar V_\Phi]_{mn}+\varepsilon}{[WH]_{mn}+\varepsilon}+\log([WH]_{mn}+\varepsilon)\Big]
    =\underbrace{\sum_{mn}\big[\log([\bar V_\Phi]_{mn}+\varepsilon)+1\big]}_{L_S(\Phi)\ \text{(JD criterion)}}
    +\underbrace{D_{IS}(\bar V_\Phi+\varepsilon\,|\,WH+\varepsilon)}_{I\ \text{(IS misfit)}}.

TL-NMF alternates IS-NMF updates of :math:`(W,H)` with a transform step on
:math:`f(\Phi)=\tfrac12\sum_{mn}([\bar V_\Phi]_{mn}+\varepsilon)/([WH]_{mn}+\varepsilon)` (quasi-Newton on :math:`O(M)` or
exact Jacobi rotations); JD+NMF minimises :math:`L_S` first (a joint diagonalisation) and runs IS-NMF afterwards.

Used in: chapter 13.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import torch

from harmonia.config import check_in, check_int, check_positive, check_tensor
from harmonia.manifolds import Orthogonal
from harmonia.nmf.is_nmf import is_divergence, nmf_is_update
from harmonia.nmf.jd import qn_orth_jd, spectrogram

__all__ = [
    "losses",
    "tl_objective",
    "tl_gradient",
    "tl_step_qn",
    "tl_step_jacobi",
    "jacobi_pair_coefficients",
    "best_rotation",
    "NMFRun",
    "tl_nmf",
    "jd_nmf",
    "dct_nmf",
    "oracle_gap",
    "delta_L_inf",
    "legacy_starts",
]


def losses(Phi: torch.Tensor, W: torch.Tensor, H: torch.Tensor, C: torch.Tensor, eps: float) -> dict[str, float]:
    r"""The three numbers of the split: ``C_S`` (TL-NMF objective), ``L_S`` (JD term), ``I_S`` (IS misfit), with
    :math:`C_S=L_S+I_S`. Phi: (M, M); W: (M, K); H: (K, N); C: (N, M, M)."""
    check_tensor(C, "C", shape=("N", "M", "M"), dtype="float32_64", nonempty=True)
    N, M = C.shape[0], C.shape[1]
    check_tensor(Phi, "Phi", shape=(M, M), dtype=C.dtype, like=C)
    check_tensor(W, "W", shape=(M, "K"), dtype=C.dtype, like=C)
    check_tensor(H, "H", shape=(W.shape[1], N), dtype=C.dtype, like=C)
    if not isinstance(eps, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(eps, "eps", allow_zero=True)
    V = spectrogram(Phi, C) + eps
    Vhat = W @ H + eps
    C_S = (V / Vhat + torch.log(Vhat)).sum()
    L_S = (torch.log(V) + 1).sum()
    I_S = is_divergence(V, Vhat)
    return {"C_S": float(C_S), "L_S": float(L_S), "I_S": float(I_S)}


def _check_tl(Phi: torch.Tensor, C: torch.Tensor, Vhat: torch.Tensor, eps: float) -> None:
    """Phi (M, M), C (N, M, M), Vhat (M, N): one real dtype (float32/64) and one device; eps >= 0. Values are not
    checked (these per-iteration pieces propagate NaN like torch; the drivers check their inputs)."""
    check_tensor(C, "C", shape=("N", "M", "M"), dtype="float32_64", finite=False, nonempty=True)
    N, M = C.shape[0], C.shape[1]
    check_tensor(Phi, "Phi", shape=(M, M), dtype=C.dtype, like=C, finite=False)
    check_tensor(Vhat, "Vhat", shape=(M, N), dtype=C.dtype, like=C, finite=False)
    if not isinstance(eps, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(eps, "eps", allow_zero=True)


def _check_pair(Phi: torch.Tensor, p: int, q: int) -> None:
    M = Phi.shape[0]
    for v, name in ((p, "p"), (q, "q")):
        if check_int(v, name, minimum=0) >= M:
            raise ValueError(f"{name}: expected a row index of Phi in [0, {M}), got {v}")
    if p == q:
        raise ValueError(f"q: expected a row different from p={p}, got {q}")


def tl_objective(Phi: torch.Tensor, C: torch.Tensor, Vhat: torch.Tensor, eps: float) -> torch.Tensor:
    r""":math:`f(\Phi)=\tfrac12\sum_{mn}([\bar V_\Phi]_{mn}+\varepsilon)/(\hat V_{mn}+\varepsilon)`, the part of
    :math:`C_S/2` that depends on :math:`\Phi`. Vhat: (M, N) = WH."""
    _check_tl(Phi, C, Vhat, eps)
    return 0.5 * ((spectrogram(Phi, C) + eps) / (Vhat + eps)).sum()


def tl_gradient(Phi: torch.Tensor, C: torch.Tensor, Vhat: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Relative gradient and diagonal Hessian approximation of :math:`f(e^E\Phi)` at :math:`E=0`.

    With :math:`U=(\hat V+\varepsilon)^{\circ-1}` and :math:`D_n=\Phi\hat\Sigma_n\Phi^\top`:
    :math:`G=\mathrm{skew}(G^s)`, :math:`G^s_{ij}=\sum_nU_{in}[D_n]_{ij}`, so that
    :math:`f(e^E\Phi)=f(\Phi)+2\sum_{i<j}G_{ij}E_{ij}+O(E^2)` for skew :math:`E`; and
    :math:`\mathcal H=\mathrm{sym}(\mathcal H^s)`, :math:`\mathcal H^s_{ij}=\sum_nU_{in}[D_n]_{jj}`, the curvature along
    :math:`E_{ij}` without its non-positive part. Returns (G, H), both (M, M)."""
    _check_tl(Phi, C, Vhat, eps)
    U = 1 / (Vhat + eps)                                               # (M, N)
    D = Phi @ C @ Phi.T                                                # (N, M, M)
    Gs = torch.einsum("in,nij->ij", U, D)
    d = torch.diagonal(D, dim1=-2, dim2=-1)                            # (N, M)
    Hs = U @ d                                                         # Hs_ij = sum_n U_in d_nj
    return 0.5 * (Gs - Gs.T), 0.5 * (Hs + Hs.T)


def tl_step_qn(Phi: torch.Tensor, C: torch.Tensor, Vhat: torch.Tensor, eps: float, *, max_ls: int = 30) -> torch.Tensor:
    r"""One quasi-Newton transform step: :math:`E=-G\oslash\mathcal H` (:func:`tl_gradient`), then
    :math:`\Phi\leftarrow e^{tE}\Phi` with :math:`t=1,\tfrac12,\dots` until :math:`f` decreases (unchanged if it never
    does). Phi: (M, M) orthogonal -> (M, M) orthogonal."""
    check_int(max_ls, "max_ls", minimum=0)
    G, Hd = tl_gradient(Phi, C, Vhat, eps)
    E = -G / Hd
    f0 = tl_objective(Phi, C, Vhat, eps)
    t = 1.0
    for _ in range(max_ls):
        cand = Orthogonal.retr_expm(Phi, E, t)
        if tl_objective(cand, C, Vhat, eps) < f0:
            return cand
        t /= 2
    return Phi


def jacobi_pair_coefficients(Phi: torch.Tensor, C: torch.Tensor, Vhat: torch.Tensor, eps: float, p: int,
                             q: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""(B, C) with :math:`f(G_\theta\Phi)=\text{const}+B\cos2\theta+C\sin2\theta` for the Givens rotation of rows
    :math:`p,q` (:meth:`harmonia.manifolds.Orthogonal.givens`)."""
    _check_tl(Phi, C, Vhat, eps)
    _check_pair(Phi, p, q)
    U = 1 / (Vhat + eps)
    a, b = Phi[p], Phi[q]
    dpp = ((a @ C) * a).sum(-1)
    dqq = ((b @ C) * b).sum(-1)
    dpq = ((a @ C) * b).sum(-1)
    du = U[p] - U[q]
    return 0.25 * ((dpp - dqq) * du).sum(), 0.5 * (dpq * du).sum()


def jacobi_angle(Phi: torch.Tensor, C: torch.Tensor, Vhat: torch.Tensor, eps: float, p: int, q: int) -> torch.Tensor:
    r"""The exact minimiser over :math:`\theta\in(-\pi/2,\pi/2]` of :math:`f` after rotating rows p, q of ``Phi`` by
    :math:`\theta`: with :math:`f=\text{const}+B\cos2\theta+C\sin2\theta` (:func:`jacobi_pair_coefficients`),
    :math:`2\theta^*=\operatorname{atan2}(-C,-B)`, i.e. :math:`(\cos2\theta^*,\sin2\theta^*)=-(B,C)/\sqrt{B^2+C^2}`
    (0 when :math:`B=C=0`). Phi: (M, M); returns a 0-d tensor."""
    B, Cc = jacobi_pair_coefficients(Phi, C, Vhat, eps, p, q)
    return 0.5 * torch.atan2(-Cc, -B)


def best_rotation(Phi: torch.Tensor, C: torch.Tensor, Vhat: torch.Tensor, eps: float, p: int, q: int) -> torch.Tensor:
    r"""``Phi`` with rows p, q rotated by the exact minimiser :math:`\theta^*` of :func:`jacobi_angle`
    (:math:`c=\cos\theta^*\ge0`, :math:`s=\sin\theta^*`). Phi: (M, M)."""
    theta = jacobi_angle(Phi, C, Vhat, eps, p, q)
    return Orthogonal.rotate_rows(Phi, p, q, torch.cos(theta), torch.sin(theta))


def tl_step_jacobi(Phi: torch.Tensor, C: torch.Tensor, Vhat: torch.Tensor, eps: float) -> torch.Tensor:
    r"""One sweep of exact Jacobi rotations (:func:`best_rotation`) over all pairs :math:`p<q`, so :math:`f` never
    increases. Phi: (M, M) orthogonal -> (M, M) orthogonal."""
    _check_tl(Phi, C, Vhat, eps)
    for p, q in itertools.combinations(range(Phi.shape[0]), 2):
        Phi = best_rotation(Phi, C, Vhat, eps, p, q)
    return Phi


@dataclass
class NMFRun:
    """The result of :func:`tl_nmf`, :func:`jd_nmf` or :func:`dct_nmf`: ``Phi`` (M, M), ``W`` (M, K), ``H`` (K, N),
    the final ``losses`` (C_S, L_S, I_S), ``history`` (C_S per outer iteration, TL-NMF only) and ``jd_loss``
    (JD+NMF only)."""

    Phi: torch.Tensor
    W: torch.Tensor
    H: torch.Tensor
    losses: dict[str, float]
    history: list[float] = field(default_factory=list)
    jd_loss: list[float] = field(default_factory=list)


def _check_problem(C, Phi0, W0, H0, eps):
    C = check_tensor(C, "C", shape=("N", "M", "M"), dtype="float32_64", nonempty=True)
    N, M = C.shape[0], C.shape[1]
    Phi0 = check_tensor(Phi0, "Phi0", shape=(M, M), dtype=C.dtype, like=C)
    W0 = check_tensor(W0, "W0", shape=(M, "K"), dtype=C.dtype, like=C)
    H0 = check_tensor(H0, "H0", shape=(W0.shape[1], N), dtype=C.dtype, like=C)
    if not isinstance(eps, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(eps, "eps", allow_zero=True)
    if bool((W0 <= 0).any()) or bool((H0 <= 0).any()):
        raise ValueError("W0, H0: expected positive initial factors (multiplicative updates keep zeros at zero)")
    return C, Phi0, W0, H0


def tl_nmf(C: torch.Tensor, Phi0: torch.Tensor, W0: torch.Tensor, H0: torch.Tensor, *, eps: float, n_outer: int,
           n_nmf: int = 10, gamma: float = 1.0, step: str = "qn", tol: float = 1e-12, progress: bool = False) -> NMFRun:
    r"""TL-NMF: for each outer iteration, (i) :math:`\bar V\leftarrow\bar V_\Phi`; (ii) ``n_nmf`` IS-NMF updates of
    :math:`(W,H)`; (iii) one transform step (``"qn"``: :func:`tl_step_qn`, ``"jacobi"``: :func:`tl_step_jacobi`)
    with :math:`WH` fixed; (iv) record :math:`C_S`, stop when its relative change is below ``tol``.

    C: (N, M, M) covariance stack; Phi0: (M, M) orthogonal; W0: (M, K), H0: (K, N) positive.
    """
    C, Phi, W, H = _check_problem(C, Phi0, W0, H0, eps)
    n_outer = check_int(n_outer, "n_outer", minimum=0)
    step_fn = {"qn": tl_step_qn, "jacobi": tl_step_jacobi}[check_in(step, "step", ("qn", "jacobi"))]
    history = [losses(Phi, W, H, C, eps)["C_S"]]
    it = range(n_outer)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="TL-NMF")
    for _ in it:
        V = spectrogram(Phi, C)
        for _ in range(n_nmf):
            W, H = nmf_is_update(V, W, H, eps, gamma)
        Phi = step_fn(Phi, C, W @ H, eps)
        history.append(losses(Phi, W, H, C, eps)["C_S"])
        if abs(history[-2] - history[-1]) <= tol * abs(history[-2]):
            break
    return NMFRun(Phi, W, H, losses(Phi, W, H, C, eps), history)


def _nmf_on(Phi, C, W, H, eps, n_nmf, gamma):
    V = spectrogram(Phi, C)
    for _ in range(n_nmf):
        W, H = nmf_is_update(V, W, H, eps, gamma)
    return W, H


def jd_nmf(C: torch.Tensor, Phi0: torch.Tensor, W0: torch.Tensor, H0: torch.Tensor, *, eps: float, n_jd: int,
           n_nmf: int, gamma: float = 1.0, gtol: float = 1e-8) -> NMFRun:
    r"""JD+NMF: :math:`\Phi_{JD}` minimises :math:`L_S` (:func:`harmonia.nmf.jd.qn_orth_jd` on
    :math:`\{\hat\Sigma_n+\varepsilon I\}`, at most ``n_jd`` iterations from ``Phi0``), then ``n_nmf`` IS-NMF updates
    on :math:`\bar V_{\Phi_{JD}}` from :math:`(W_0,H_0)`."""
    C, Phi0, W0, H0 = _check_problem(C, Phi0, W0, H0, eps)
    eye = torch.eye(C.shape[1], dtype=C.dtype, device=C.device)
    jd = qn_orth_jd(C + eps * eye, Phi0, max_iter=check_int(n_jd, "n_jd", minimum=0), gtol=gtol)
    W, H = _nmf_on(jd.B, C, W0, H0, eps, check_int(n_nmf, "n_nmf", minimum=0), gamma)
    return NMFRun(jd.B, W, H, losses(jd.B, W, H, C, eps), jd_loss=jd.loss)


def dct_nmf(C: torch.Tensor, W0: torch.Tensor, H0: torch.Tensor, *, eps: float, n_nmf: int,
            gamma: float = 1.0) -> NMFRun:
    """IS-NMF on the fixed DCT-II spectrogram (the transform is not learned): the classic baseline."""
    from harmonia.nmf.frames import dct2_matrix

    check_tensor(C, "C", shape=("N", "M", "M"), dtype="float32_64", nonempty=True)
    Phi = dct2_matrix(C.shape[1], dtype=C.dtype, device=C.device)
    C, Phi, W0, H0 = _check_problem(C, Phi, W0, H0, eps)
    W, H = _nmf_on(Phi, C, W0, H0, eps, check_int(n_nmf, "n_nmf", minimum=0), gamma)
    return NMFRun(Phi, W, H, losses(Phi, W, H, C, eps))


def oracle_gap(Phi: torch.Tensor, C: torch.Tensor, Phibar: torch.Tensor, Vbar_true: torch.Tensor, eps: float) -> float:
    r""":math:`Q_S(\Phi)=D_{IS}(\bar V_\Phi+\varepsilon\,|\,(\Phi\bar\Phi^\top)^{\circ2}\bar W\bar H)`: the IS misfit of the
    oracle model, whose non-negative rank is at most :math:`\bar K`, so :math:`I_S(\Phi)\le Q_S(\Phi)` when
    :math:`K\ge\bar K`. Vbar_true: (M, N) = :math:`\bar W\bar H`."""
    check_tensor(C, "C", shape=("N", "M", "M"), dtype="float32_64", nonempty=True)
    N, M = C.shape[0], C.shape[1]
    for T, name in ((Phi, "Phi"), (Phibar, "Phibar")):
        check_tensor(T, name, shape=(M, M), dtype=C.dtype, like=C)
    check_tensor(Vbar_true, "Vbar_true", shape=(M, N), dtype=C.dtype, like=C)
    if not isinstance(eps, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(eps, "eps", allow_zero=True)
    model = (Phi @ Phibar.T) ** 2 @ Vbar_true
    return float(is_divergence(spectrogram(Phi, C), model, eps))


def delta_L_inf(Phi: torch.Tensor, Phibar: torch.Tensor, Vbar_true: torch.Tensor) -> float:
    r""":math:`\Delta L_\infty(\Phi)=L_\infty(\Phi)-L_\infty(\bar\Phi)` with the true covariances
    :math:`\Sigma_n=\bar\Phi^\top\mathrm{diag}(\bar v_n)\bar\Phi` and no floor:
    :math:`\sum_{mn}\log[(\Phi\bar\Phi^\top)^{\circ2}\bar V]_{mn}-\sum_{mn}\log\bar V_{mn}\ge0` (zero iff :math:`\Phi` is a
    signed permutation of :math:`\bar\Phi`, for a generic :math:`\bar V`)."""
    check_tensor(Phibar, "Phibar", shape=("M", "M"), dtype="float32_64", nonempty=True)
    check_tensor(Phi, "Phi", shape=tuple(Phibar.shape), dtype=Phibar.dtype, like=Phibar)
    check_tensor(Vbar_true, "Vbar_true", shape=(Phibar.shape[0], "N"), dtype=Phibar.dtype, like=Phibar)
    return float(torch.log((Phi @ Phibar.T) ** 2 @ Vbar_true).sum() - torch.log(Vbar_true).sum())


def legacy_starts(M: int, K: int, N: int, n_starts: int, seed: int = 2021) -> list[tuple[torch.Tensor, ...]]:
    r"""Random starts drawn exactly as the paper's code does (numpy's legacy ``RandomState(seed)``, per start in this
    order): :math:`\Phi_0=\mathrm{polar}(G)` with :math:`G_{ij}\sim\mathcal N(0,1)`; :math:`W_0=|\mathcal N(0,1)|+1` with
    columns scaled to sum 1; :math:`H_0=|\mathcal N(0,1)|+1`. Returns a list of (Phi0 (M, M), W0 (M, K), H0 (K, N)),
    float64."""
    M, K, N = check_int(M, "M"), check_int(K, "K"), check_int(N, "N")
    rs = np.random.RandomState(check_int(seed, "seed", minimum=0))
    out = []
    for _ in range(check_int(n_starts, "n_starts")):
        Phi0 = Orthogonal.polar(torch.from_numpy(rs.randn(M, M)))
        W0 = np.abs(rs.randn(M, K)) + 1
        W0 = W0 / W0.sum(0)
        H0 = np.abs(rs.randn(K, N)) + 1
        out.append((Phi0, torch.from_numpy(W0), torch.from_numpy(H0)))
    return out
