"""Metrics: classification (labels and logits) and regression (:math:`R^2`, Pearson correlation).

Used in: chapters 01, 05 and every chapter that trains a classifier; chapter 09 (regression).
"""

from __future__ import annotations

import torch

from harmonia.config import check_tensor

__all__ = ["accuracy", "error_rate", "nll", "r2_score", "pearson"]


def accuracy(pred: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of equal entries of two label tensors of shape (n,)."""
    check_tensor(pred, "pred", ndim=1)
    check_tensor(y, "y", shape=(pred.shape[0],), like=pred)
    return float((pred == y).double().mean())


def error_rate(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of misclassified samples for logits (n, C) and labels (n,)."""
    check_tensor(logits, "logits", ndim=2, dtype="floating")
    return 1.0 - accuracy(logits.argmax(dim=1), y)


def nll(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Mean negative log-likelihood :math:`-\\frac1n\\sum_i\\log\\operatorname{softmax}(z_i)_{y_i}` (nats)."""
    check_tensor(logits, "logits", ndim=2, dtype="floating")
    check_tensor(y, "y", shape=(logits.shape[0],), dtype="integer", like=logits)
    return float(torch.nn.functional.cross_entropy(logits, y))


def r2_score(y: torch.Tensor, y_hat: torch.Tensor) -> torch.Tensor:
    r"""Coefficient of determination :math:`R^2=1-\sum_i(y_i-\hat y_i)^2/\sum_i(y_i-\bar y)^2` over the first
    dimension (per column for 2-D inputs). 1 for a perfect prediction, 0 for predicting the mean,
    negative when worse than the mean.

    Parameters
    ----------
    y, y_hat : (n,) or (n, k) tensors of the same shape, ``y`` not constant

    Returns
    -------
    0-d tensor, or (k,)

    Used in: chapter 09.
    """
    check_tensor(y, "y", dtype="floating", ndim=(1, 2))
    check_tensor(y_hat, "y_hat", dtype="floating", shape=tuple(y.shape), like=y)
    total = (y - y.mean(dim=0)).square().sum(dim=0)
    if bool((total == 0).any()):
        raise ValueError("y: expected values that are not all equal (R^2 is undefined for a constant target)")
    return 1 - (y - y_hat).square().sum(dim=0) / total


def pearson(y: torch.Tensor, y_hat: torch.Tensor) -> torch.Tensor:
    r"""Pearson correlation of two 1-D tensors, :math:`\sum\tilde y\tilde{\hat y}/(\|\tilde y\|\|\tilde{\hat y}\|)`
    with :math:`\tilde y=y-\bar y`: 0-d tensor in [-1, 1].

    Used in: chapter 09.
    """
    check_tensor(y, "y", dtype="floating", ndim=1)
    check_tensor(y_hat, "y_hat", dtype="floating", shape=tuple(y.shape), like=y)
    a, b = y - y.mean(), y_hat - y_hat.mean()
    na, nb = a.norm(), b.norm()
    if float(na) == 0 or float(nb) == 0:
        raise ValueError("y, y_hat: expected non-constant tensors (the correlation is undefined)")
    return ((a * b).sum() / (na * nb)).clamp(-1, 1)
