"""Classification metrics on label and logit tensors.

Used in: chapters 01, 05 and every chapter that trains a classifier.
"""

from __future__ import annotations

import torch

from harmonia.config import check_tensor

__all__ = ["accuracy", "error_rate", "nll"]


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
