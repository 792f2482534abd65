"""How good are frozen features? A linear probe (L2-regularised softmax regression solved exactly) and the
k-nearest-neighbour classifier, both scored by test accuracy.

Used in: chapter 17.
"""

from __future__ import annotations

import torch

from harmonia.config import check_positive, check_tensor
from harmonia.nn import SoftmaxRegression

__all__ = ["linear_probe", "knn_accuracy"]


def _check(F_train, y_train, F_test, y_test) -> None:
    check_tensor(F_train, "F_train", ndim=2, dtype="floating")
    check_tensor(y_train, "y_train", shape=(F_train.shape[0],), dtype="integer", like=F_train)
    check_tensor(F_test, "F_test", shape=(None, F_train.shape[1]), dtype="floating", like=F_train)
    check_tensor(y_test, "y_test", shape=(F_test.shape[0],), dtype="integer", like=F_train)


def linear_probe(F_train: torch.Tensor, y_train: torch.Tensor, F_test: torch.Tensor, y_test: torch.Tensor,
                 l2: float = 1e-4, max_iter: int = 200) -> float:
    """Test accuracy of :class:`harmonia.nn.SoftmaxRegression` (standardised features, penalty ``l2``) fitted on
    the training features (n, p)."""
    _check(F_train, y_train, F_test, y_test)
    if y_train.numel() and bool((y_train == y_train.reshape(-1)[0]).all()):
        raise ValueError(f"y_train: expected at least two classes, got one (class {int(y_train.reshape(-1)[0])})")
    model = SoftmaxRegression(l2=l2, max_iter=max_iter).fit(F_train.detach(), y_train)
    return model.score(F_test.detach(), y_test)


def knn_accuracy(F_train: torch.Tensor, y_train: torch.Tensor, F_test: torch.Tensor, y_test: torch.Tensor,
                 k: int = 5) -> float:
    """Test accuracy of the majority vote of the k nearest training features (Euclidean; a tied vote goes to the
    smallest label)."""
    _check(F_train, y_train, F_test, y_test)
    k = check_positive(k, "k", integer=True)
    if k > F_train.shape[0]:
        raise ValueError(f"k: expected at most the {F_train.shape[0]} training points, got {k}")
    nearest = torch.cdist(F_test.detach().double(), F_train.detach().double()).topk(k, largest=False).indices
    votes = torch.nn.functional.one_hot(y_train[nearest], int(y_train.max()) + 1).sum(1)
    return float((votes.argmax(1) == y_test).double().mean())
