r"""Perception coherence of two feature maps on the same inputs, and the ranking loss that trains a student for it.

Both models see the same batch; around each anchor :math:`i` they rank the other inputs by dissimilarity.
Triplet concordance (a U-statistic over ordered triples of distinct indices)

.. math:: \widehat{\mathrm{PC}}=\frac1{B(B-1)(B-2)}\sum_i\sum_{j\ne i}\sum_{k\ne i,j}
          \Big(\mathbb 1[s_{ijk}t_{ijk}>0]+\tfrac12\mathbb 1[s_{ijk}t_{ijk}=0]\Big),\quad
          s_{ijk}=D^S_{ij}-D^S_{ik},\ t_{ijk}=D^T_{ij}-D^T_{ik},

equals :math:`(1+\bar\tau)/2` with :math:`\bar\tau` the mean over anchors of Kendall's :math:`\tau` of the two distance
profiles (no ties). The rank discrepancy :math:`\hat\Delta=\operatorname{mean}_{i\ne j}(R^S_{ij}-R^T_{ij})^2\in[0,1/3]`
uses the normalised ranks of :mod:`~harmonia.distill.ranks`. Both only compare distances, so any increasing transform
of either dissimilarity, any rescaling or isometry of either feature space, leaves them unchanged.

The loss (a course design; the paper's surrogate is not public) matches the student's soft ranks to the teacher's hard
ranks, :math:`\mathcal L_{PC}=\operatorname{mean}_{i\ne j}(\tilde R^S_{ij}-R^T_{ij})^2`, or penalises every
discordant triplet smoothly (``kind="pairwise"``).

Used in: chapter 17.
"""

from __future__ import annotations

import torch
import torch.nn.functional as Fn

from harmonia.config import check_in, check_positive, check_tensor, make_generator
from harmonia.distill.ranks import anchor_chunk, hard_ranks, off_diagonal, pairwise_dist, soft_ranks

__all__ = ["perception_coherence", "rank_discrepancy", "pc_loss"]


def _pair(s: torch.Tensor, t: torch.Tensor) -> int:
    check_tensor(s, "s", ndim=2, dtype="floating")
    check_tensor(t, "t", ndim=2, dtype="floating", like=s)
    if s.shape[0] != t.shape[0]:
        raise ValueError(f"s, t: expected features of the same inputs (same first dimension), got {s.shape[0]} and "
                         f"{t.shape[0]} rows")
    if s.shape[0] < 3:
        raise ValueError(f"s: expected at least 3 inputs, got {s.shape[0]}")
    return s.shape[0]


def _subsample(s, t, max_points, seed):
    B = s.shape[0]
    if max_points is not None:
        if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 3:
            raise ValueError(f"max_points: expected None or an int >= 3, got {max_points!r}")
    if max_points is not None and B > max_points:
        idx = torch.randperm(B, generator=make_generator(seed))[:max_points].to(s.device)
        return s[idx], t[idx]
    return s, t


@torch.no_grad()
def perception_coherence(s: torch.Tensor, t: torch.Tensor, metric: str = "euclidean", max_points: int | None = 512,
                         seed: int = 0) -> float:
    """Triplet concordance of features s (B, p_S) and t (B, p_T) of the same inputs, in [0, 1] (1: the same
    perception, 1/2: unrelated, 0: reversed). At most ``max_points`` inputs, drawn with ``seed``, are used."""
    _pair(s, t)
    s, t = _subsample(s, t, max_points, seed)
    B = s.shape[0]
    DS, DT = pairwise_dist(s.double(), metric), pairwise_dist(t.double(), metric)
    keep = off_diagonal(B, s.device)
    total = 0.0
    for lo in range(0, B, anchor_chunk(B)):
        hi = lo + anchor_chunk(B)
        prod = torch.sign(DS[lo:hi, :, None] - DS[lo:hi, None, :]) * torch.sign(DT[lo:hi, :, None] - DT[lo:hi, None, :])
        score = (prod > 0).double() + 0.5 * (prod == 0).double()
        total += float((score * keep[lo:hi, None, :] * keep[lo:hi, :, None] * keep[None, :, :]).sum())
    return total / (B * (B - 1) * (B - 2))


@torch.no_grad()
def rank_discrepancy(s: torch.Tensor, t: torch.Tensor, metric: str = "euclidean", max_points: int | None = 512,
                     seed: int = 0) -> float:
    r""":math:`\hat\Delta=\operatorname{mean}_{i\ne j}(R^S_{ij}-R^T_{ij})^2` with hard normalised ranks, in [0, 1/3]
    (0: the same perception, about 1/6: unrelated, about 1/3: reversed)."""
    _pair(s, t)
    s, t = _subsample(s, t, max_points, seed)
    B = s.shape[0]
    RS, RT = hard_ranks(pairwise_dist(s.double(), metric)), hard_ranks(pairwise_dist(t.double(), metric))
    return float(((RS - RT) ** 2).sum() / (B * (B - 1)))


def pc_loss(s: torch.Tensor, t: torch.Tensor, tau: float = 0.1, metric: str = "euclidean",
            kind: str = "softrank") -> torch.Tensor:
    r"""The perception-coherence loss of a student's features s (B, p_S) against a teacher's t (B, p_T) (no gradient
    flows to t).

    ``"softrank"``: :math:`\operatorname{mean}_{i\ne j}(\tilde R^S_{ij}-R^T_{ij})^2` (soft student ranks at temperature
    ``tau`` relative to each anchor's mean distance, hard teacher ranks). ``"pairwise"``: the mean over triplets with
    :math:`D^T_{ij}<D^T_{ik}` of :math:`\log(1+\exp(-(D^S_{ik}-D^S_{ij})/(\tau m_i)))`. Returns a 0-d tensor."""
    B = _pair(s, t)
    check_positive(tau, "tau")
    check_in(kind, "kind", ("softrank", "pairwise"))
    with torch.no_grad():
        DT = pairwise_dist(t, metric)
    DS = pairwise_dist(s, metric)
    keep = off_diagonal(B, s.device)
    if kind == "softrank":
        return ((soft_ranks(DS, tau) - hard_ranks(DT).to(DS.dtype)) ** 2)[keep].mean()
    m = ((DS * keep).sum(1) / (B - 1)).detach().clamp_min(1e-12)
    closer = (DT[:, :, None] < DT[:, None, :]) & keep[:, :, None] & keep[:, None, :]      # [i, j, k]: j closer
    if not bool(closer.any()):                       # a teacher that sees every input at the same distance
        return (DS * 0).sum()
    margin = (DS[:, None, :] - DS[:, :, None]) / (tau * m[:, None, None])
    return Fn.softplus(-margin)[closer].mean()
