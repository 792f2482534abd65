r"""The standard representation-transfer losses the chapter compares with, written from their published formulas
(the conventions of the RepDistiller collection): each takes student and teacher features of the same batch.

- KD (Hinton et al. 2015): :math:`T^2\,\mathrm{KL}(\mathrm{softmax}(z_t/T)\,\|\,\mathrm{softmax}(z_s/T))`, batch mean.
- FitNet (Romero et al. 2015): mean squared error between a learned linear map of the student's features and the
  teacher's.
- RKD (Park et al. 2019): pairwise distances, each matrix divided by its mean positive entry, and triplet angles
  :math:`\langle e_{ij},e_{kj}\rangle` with :math:`e_{ij}=(z_i-z_j)/|z_i-z_j|`, both compared by smooth-L1.
- PKT (Passalis & Tefas 2018): cosine similarities mapped to [0, 1] and row-normalised into conditional
  probabilities; :math:`\operatorname{mean}\,p_t\log((p_t+\epsilon)/(p_s+\epsilon))`.
- SP (Tung & Mori 2019): row-normalised Gram matrices, :math:`\|G_s-G_t\|_F^2/B^2`.

Used in: chapter 17.
"""

from __future__ import annotations

import torch
import torch.nn.functional as Fn
from torch import nn

from harmonia.config import check_positive, check_tensor
from harmonia.nn.grad_stats import check_model_input

__all__ = ["kd_loss", "fitnet_loss", "rkd_loss", "pkt_loss", "sp_loss"]


def _pair(s: torch.Tensor, t: torch.Tensor, names: tuple[str, str] = ("s", "t"), dtype: str = "floating") -> None:
    check_tensor(s, names[0], ndim=2, dtype=dtype)
    check_tensor(t, names[1], ndim=2, dtype=dtype, like=s)
    if s.shape[0] != t.shape[0]:
        raise ValueError(f"{names[0]}, {names[1]}: expected the same batch (same first dimension), got {s.shape[0]} "
                         f"and {t.shape[0]}")


def kd_loss(logits_s: torch.Tensor, logits_t: torch.Tensor, T: float = 4.0) -> torch.Tensor:
    """Hinton's distillation term: logits (B, C) each; a 0-d tensor."""
    _pair(logits_s, logits_t, ("logits_s", "logits_t"))
    if logits_t.shape != logits_s.shape:
        raise ValueError(f"logits_t: expected the shape of logits_s {tuple(logits_s.shape)} (same classes), "
                         f"got {tuple(logits_t.shape)}")
    T = check_positive(T, "T")
    return Fn.kl_div(Fn.log_softmax(logits_s / T, 1), Fn.softmax(logits_t.detach() / T, 1),
                     reduction="batchmean") * T * T


def fitnet_loss(s: torch.Tensor, t: torch.Tensor, regressor: nn.Module) -> torch.Tensor:
    """FitNet's hint: MSE between ``regressor(s)`` (B, p_T) and t (B, p_T)."""
    _pair(s, t)
    out = regressor(check_model_input(regressor, s, "s"))
    if out.shape != t.shape:
        raise ValueError(f"t: expected the shape of regressor(s) {tuple(out.shape)}, got {tuple(t.shape)}")
    return Fn.mse_loss(out, t.detach())


def _normalised_dist(z: torch.Tensor, name: str) -> torch.Tensor:
    d = torch.cdist(z, z)
    positive = d[d > 0]
    if positive.numel() == 0:
        raise ValueError(f"{name}: expected at least two distinct rows (distances are normalised by their mean), "
                         f"got {z.shape[0]} equal rows")
    return d / positive.mean()


def rkd_loss(s: torch.Tensor, t: torch.Tensor, w_d: float = 25.0, w_a: float = 50.0) -> torch.Tensor:
    """RKD: ``w_d`` times the distance term plus ``w_a`` times the angle term (set one weight to 0 to drop it)."""
    _pair(s, t, dtype="float32_64")
    if not isinstance(w_d, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(w_d, "w_d", allow_zero=True)
    if not isinstance(w_a, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(w_a, "w_a", allow_zero=True)
    t = t.detach()
    loss = s.new_zeros(())
    if w_d:
        with torch.no_grad():
            td = _normalised_dist(t, "t")
        loss = loss + w_d * Fn.smooth_l1_loss(_normalised_dist(s, "s"), td)
    if w_a:
        def angles(z):
            e = Fn.normalize(z[None, :, :] - z[:, None, :], p=2, dim=2)         # e[j, i] = unit(z_i - z_j)
            return torch.bmm(e, e.transpose(1, 2)).reshape(-1)
        with torch.no_grad():
            ta = angles(t)
        loss = loss + w_a * Fn.smooth_l1_loss(angles(s), ta)
    return loss


def pkt_loss(s: torch.Tensor, t: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """PKT: KL between the conditional-probability matrices of cosine similarities (teacher's as the target)."""
    _pair(s, t)

    def probs(z):
        u = Fn.normalize(z, p=2, dim=1)
        sim = (u @ u.T + 1) / 2
        return sim / sim.sum(1, keepdim=True)

    ps = probs(s)
    with torch.no_grad():
        pt = probs(t)
    return torch.mean(pt * torch.log((pt + eps) / (ps + eps)))


def sp_loss(s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """SP: squared Frobenius distance of the row-normalised Gram matrices, over B^2."""
    _pair(s, t)
    B = s.shape[0]
    Gs = Fn.normalize(s @ s.T, p=2, dim=1)
    with torch.no_grad():
        Gt = Fn.normalize(t @ t.T, p=2, dim=1)
    return ((Gs - Gt) ** 2).sum() / (B * B)
