"""Exercises of chapter 13 (transform-learning NMF and joint diagonalisation)."""

from __future__ import annotations

import math

import torch

from harmonia.course.exercises import Exercise, register
from harmonia.manifolds import Orthogonal
from harmonia.nmf import best_rotation, pham_criterion, tl_objective

F64 = torch.float64


def is_div(p: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Reference of 13.1: the Itakura-Saito divergence d_IS(p | v), elementwise (same shape as p)."""
    f = p / v
    return f - torch.log(f) - 1


def givens_update(Phi: torch.Tensor, C: torch.Tensor, Vhat: torch.Tensor, eps: float, p: int, q: int) -> torch.Tensor:
    """Reference of 13.2: Phi with rows p, q rotated by the angle that minimises the transform objective."""
    return best_rotation(Phi, C, Vhat, eps, p, q)


def pham(B: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """Reference of 13.3: Pham's joint-diagonalisation criterion of an invertible B over an SPD stack C."""
    return pham_criterion(B, C)


def expected_oracle_gap(M: int, N: int, S: int) -> float:
    """Reference of 13.4: E Q_S at the true transform for the GCM, M N [log(S/2) - digamma(S/2)]."""
    return float(M * N * (math.log(S / 2) - torch.special.digamma(torch.tensor(S / 2, dtype=F64))))


def _is_cases(gen: torch.Generator):
    out = []
    for shape in ((7,), (4, 9), (2, 3, 5)):
        p = torch.rand(shape, generator=gen, dtype=F64) * 10 + 1e-3
        v = torch.rand(shape, generator=gen, dtype=F64) * 10 + 1e-3
        out.append(((p, v), {}))
        out.append(((p, p.clone()), {}))
        lam = 10.0 ** torch.randint(-6, 6, (1,), generator=gen).item()
        out.append(((lam * p, lam * v), {}))
    return out


def _toy(gen: torch.Generator, M: int, N: int):
    Phi = Orthogonal(M).random(gen)
    A = torch.randn(N, M, M, generator=gen, dtype=F64)
    C = A @ A.transpose(-1, -2) / M + 0.05 * torch.eye(M, dtype=F64)
    Vhat = 0.5 + 1.5 * torch.rand(M, N, generator=gen, dtype=F64)
    return Phi, C, Vhat


def _givens_cases(gen: torch.Generator):
    out = []
    for M, N, p, q, eps in ((4, 12, 0, 1, 0.0), (6, 15, 1, 4, 0.01), (5, 9, 3, 4, 0.1)):
        Phi, C, Vhat = _toy(gen, M, N)
        out.append(((Phi, C, Vhat, eps, p, q), {}))
    return out


def _givens_compare(got, expected, args, kwargs) -> str | None:
    Phi, C, Vhat, eps, p, q = args
    if not isinstance(got, torch.Tensor) or got.shape != Phi.shape:
        return f"expected a tensor of shape {tuple(Phi.shape)}, got {type(got).__name__}" + \
            (f" of shape {tuple(got.shape)}" if isinstance(got, torch.Tensor) else "")
    eye = torch.eye(Phi.shape[0], dtype=F64)
    if not torch.allclose(got.T @ got, eye, atol=1e-9):
        return "the result is not orthogonal: a rotation needs c^2 + s^2 = 1"
    others = [i for i in range(Phi.shape[0]) if i not in (p, q)]
    if not torch.allclose(got[others], Phi[others], atol=1e-12):
        return f"rows other than p={p} and q={q} changed"
    f_got, f_best = float(tl_objective(got, C, Vhat, eps)), float(tl_objective(expected, C, Vhat, eps))
    if f_got > f_best + 1e-9 * abs(f_best):
        return f"f after your rotation is {f_got:.8g}, but the best rotation reaches {f_best:.8g}"
    return None


def _pham_cases(gen: torch.Generator):
    out = []
    for M, N in ((3, 5), (5, 8)):
        A = torch.randn(N, M, M, generator=gen, dtype=F64)
        C = A @ A.transpose(-1, -2) + 0.1 * torch.eye(M, dtype=F64)
        out.append(((torch.randn(M, M, generator=gen, dtype=F64), C), {}))
        D = torch.rand(N, M, generator=gen, dtype=F64) + 0.1
        Binv = torch.randn(M, M, generator=gen, dtype=F64)
        out.append(((torch.linalg.inv(Binv), Binv @ torch.diag_embed(D) @ Binv.T), {}))   # exact diagonaliser: 0
    return out


def _gap_cases(gen: torch.Generator):
    return [((10, 50, S), {}) for S in (1, 2, 10, 100, 1000, 5000)] + [((3, 7, 4), {})]


register(Exercise(
    id="13.1", title="the Itakura-Saito divergence from the likelihood", reference=is_div, cases=_is_cases,
    level="easy", hints=(
        "Write the negative log-likelihood of an observed power p = x^2 when x ~ N(0, v), as a function of v. "
        "Where is it smallest, and what is left when you subtract that minimum?",
        "-log p(x | v) = (1/2) (p / v + log v + log 2 pi); it is minimal at v = p. Twice the difference is a "
        "function of the ratio p / v only",
        "return p / v - log(p / v) - 1 (elementwise)"),
    rtol=1e-10, atol=1e-12,
))
register(Exercise(
    id="13.2", title="one exact Givens rotation of the transform", reference=givens_update, cases=_givens_cases,
    level="medium", hints=(
        "Only two rows move. Write the new diagonal entries [Phi C_n Phi^T]_pp and _qq after the rotation in terms "
        "of c^2, s^2 and c s, then use the double-angle formulas: what kind of function of theta is f?",
        "f(theta) = const + B cos(2 theta) + C sin(2 theta) with, for U = 1/(Vhat + eps) and d_n = [Phi C_n Phi^T]: "
        "B = (1/4) sum_n (d_pp - d_qq)(U_p - U_q) and C = (1/2) sum_n d_pq (U_p - U_q); its minimum is at "
        "(cos 2theta, sin 2theta) = -(B, C) / sqrt(B^2 + C^2)",
        "c = sqrt((1 + cos 2theta) / 2), s = sin 2theta / (2 c); new row p = c phi_p + s phi_q, "
        "new row q = -s phi_p + c phi_q (Orthogonal.rotate_rows does the last step)"),
    compare=_givens_compare,
))
register(Exercise(
    id="13.3", title="Pham's joint-diagonalisation criterion", reference=pham, cases=_pham_cases,
    level="medium", hints=(
        "Hadamard's inequality says det(D) <= prod_i D_ii for a positive definite D, with equality iff D is "
        "diagonal. Which sum over the stack is then >= 0 and zero exactly for a joint diagonaliser?",
        "for each n, D_n = B C_n B^T; add up log det Diag(D_n) - log det(D_n)",
        "D = B @ C @ B.T; return (log(diagonal(D)).sum(-1) - logdet(D)).sum()"),
    rtol=1e-9, atol=1e-9,
))
register(Exercise(
    id="13.4", title="the oracle gap at the true transform", reference=expected_oracle_gap, cases=_gap_cases,
    level="hard", hints=(
        "At the true transform each entry of the spectrogram is v_mn times an average of S squared standard "
        "Gaussians. What is the law of that average, and which two expectations does E d_IS need?",
        "V_mn / v_mn = X with S X ~ chi^2_S; E X = 1 and E log X = psi(S/2) + log 2 - log S (psi = digamma)",
        "E Q_S = M N (E X - E log X - 1) = M N [log(S/2) - psi(S/2)]; torch.special.digamma gives psi"),
    rtol=1e-9, atol=1e-9,
))
