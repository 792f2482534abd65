"""L2-regularised softmax regression on fixed features, fitted by full-batch L-BFGS.

The objective is convex:

.. math:: \\min_{W,b}\\ \\frac1n\\sum_{i=1}^n -\\log\\operatorname{softmax}(W z_i + b)_{y_i}
          + \\frac{\\lambda}{2}\\|W\\|_F^2,\\qquad z_i=(x_i-\\mu)/s

with features standardised by the training mean :math:`\\mu` and standard deviation :math:`s`
(the bias is not penalised). Two classes give logistic regression.

Used in: chapter 05 (classifying scattering coefficients).
"""

from __future__ import annotations

import torch

from harmonia.config import check_positive, check_tensor
from harmonia.nn.metrics import accuracy

__all__ = ["SoftmaxRegression"]


class SoftmaxRegression:
    """Multinomial logistic regression with an L2 penalty, solved to optimality by L-BFGS.

    Parameters
    ----------
    l2 : float
        Penalty :math:`\\lambda \\ge 0` on the weights (not the bias).
    max_iter : int
        L-BFGS iterations.
    standardize : bool
        Standardise features with the training mean and std (default true).
    """

    def __init__(self, l2: float = 1e-2, max_iter: int = 200, standardize: bool = True) -> None:
        self.l2 = check_positive(l2, "l2", allow_zero=True)
        self.max_iter = check_positive(max_iter, "max_iter", integer=True)
        self.standardize = bool(standardize)
        self.weight: torch.Tensor | None = None
        self.bias: torch.Tensor | None = None

    def _features(self, X: torch.Tensor) -> torch.Tensor:
        return (X - self.mean) / self.scale if self.standardize else X

    def fit(self, X: torch.Tensor, y: torch.Tensor) -> SoftmaxRegression:
        """Fit on features ``X`` of shape (n, d) (float) and labels ``y`` of shape (n,) in 0..C-1."""
        check_tensor(X, "X", ndim=2, dtype="floating")
        check_tensor(y, "y", shape=(X.shape[0],), dtype="integer", like=X)
        if int(y.min()) < 0:
            raise ValueError(f"y: expected class labels 0..C-1, got a minimum of {int(y.min())}")
        n_classes = int(y.max()) + 1
        if n_classes < 2:
            raise ValueError("y: expected at least two classes, got one")
        X = X.to(torch.float64)
        self.mean = X.mean(dim=0)
        self.scale = X.std(dim=0).clamp_min(1e-12)
        Z = self._features(X)
        W = torch.zeros(n_classes, X.shape[1], dtype=torch.float64, device=X.device, requires_grad=True)
        b = torch.zeros(n_classes, dtype=torch.float64, device=X.device, requires_grad=True)
        opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=self.max_iter, tolerance_grad=1e-10,
                                tolerance_change=1e-14, history_size=20, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(Z @ W.T + b, y) + 0.5 * self.l2 * W.square().sum()
            loss.backward()
            return loss

        opt.step(closure)
        self.weight, self.bias = W.detach(), b.detach()
        return self

    def decision_function(self, X: torch.Tensor) -> torch.Tensor:
        """Class scores (n, C)."""
        if self.weight is None:
            raise RuntimeError("SoftmaxRegression: call fit() before predicting")
        check_tensor(X, "X", shape=(None, self.weight.shape[1]), dtype="floating")
        return self._features(X.to(torch.float64)) @ self.weight.T + self.bias

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        """Predicted labels (n,)."""
        return self.decision_function(X).argmax(dim=1)

    def score(self, X: torch.Tensor, y: torch.Tensor) -> float:
        """Accuracy on (X, y)."""
        return accuracy(self.predict(X), y)
