r"""Ridge regression in closed form, with the penalty chosen on validation data.

Inputs are standardised with the training means and standard deviations, outputs centred, and

.. math:: \hat W=\arg\min_W\ \|Y_c-\tilde XW\|_F^2+\eta\,n\,\|W\|_F^2=(\tilde X^\top\tilde X+\eta nI)^{-1}\tilde X^\top Y_c,

for each :math:`\eta` in ``alphas``; the one with the best pooled validation :math:`R^2` is kept (the first
one without validation data). ``residual_std_`` holds the per-output standard deviation of the residuals
on the validation data (training data otherwise): the natural weights of a later inverse problem.

Used in: chapter 09.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from harmonia.config import check_tensor

__all__ = ["RidgeRegression"]


def _as_2d(y: torch.Tensor) -> torch.Tensor:
    return y[:, None] if y.ndim == 1 else y


class RidgeRegression:
    """Multi-output ridge regression (module docstring).

    Parameters
    ----------
    alphas : sequence of float >= 0, the penalties :math:`\\eta` tried

    Attributes (after :meth:`fit`)
    ------------------------------
    alpha_ : float, the chosen penalty
    coef_ : (d, k) tensor on standardised inputs; intercept_ : (k,)
    residual_std_ : (k,) tensor
    val_r2_ : (k,) tensor of validation :math:`R^2` per output (NaN without validation data)
    """

    def __init__(self, alphas: Sequence[float] = (1e-4, 1e-3, 1e-2, 1e-1)) -> None:
        alphas = tuple(float(a) for a in alphas)
        if not alphas or any(a < 0 for a in alphas):
            raise ValueError(f"alphas: expected a non-empty list of penalties >= 0, got {alphas!r}")
        self.alphas = alphas

    def _solve(self, Xs: torch.Tensor, Yc: torch.Tensor, alpha: float) -> torch.Tensor:
        n, d = Xs.shape
        A = Xs.T @ Xs + alpha * n * torch.eye(d, dtype=Xs.dtype, device=Xs.device)
        return torch.linalg.lstsq(A, Xs.T @ Yc).solution if alpha == 0 else torch.linalg.solve(A, Xs.T @ Yc)

    def fit(self, X: torch.Tensor, Y: torch.Tensor, X_val: torch.Tensor | None = None,
            Y_val: torch.Tensor | None = None) -> "RidgeRegression":
        """Fit on ``X`` (n, d) and ``Y`` (n,) or (n, k); choose the penalty on (``X_val``, ``Y_val``)."""
        check_tensor(X, "X", dtype="floating", ndim=2)
        check_tensor(Y, "Y", dtype=X.dtype, ndim=(1, 2), like=X)
        if len(Y) != len(X):
            raise ValueError(f"Y: expected {len(X)} rows like X, got {len(Y)}")
        if (X_val is None) != (Y_val is None):
            raise ValueError("X_val, Y_val: expected both or neither")
        self._single = Y.ndim == 1
        Y2 = _as_2d(Y)
        self.mean_, self.scale_ = X.mean(dim=0), X.std(dim=0, correction=0)
        self.scale_ = torch.where(self.scale_ > 0, self.scale_, torch.ones_like(self.scale_))
        self.y_mean_ = Y2.mean(dim=0)
        Xs, Yc = (X - self.mean_) / self.scale_, Y2 - self.y_mean_
        if X_val is not None:
            check_tensor(X_val, "X_val", dtype=X.dtype, shape=(None, X.shape[1]), like=X)
            Yv = _as_2d(check_tensor(Y_val, "Y_val", dtype=X.dtype, shape=(len(X_val),) + tuple(Y.shape[1:]), like=X))
            Xv = (X_val - self.mean_) / self.scale_
            best = None
            for a in self.alphas:
                W = self._solve(Xs, Yc, a)
                res = Yv - (Xv @ W + self.y_mean_)
                r2 = 1 - res.square().sum() / (Yv - Yv.mean(dim=0)).square().sum()
                if best is None or float(r2) > best[0]:
                    best = (float(r2), a, W, res)
            _, self.alpha_, self.coef_, res = best
            self.val_r2_ = 1 - res.square().sum(dim=0) / (Yv - Yv.mean(dim=0)).square().sum(dim=0)
        else:
            self.alpha_ = self.alphas[0]
            self.coef_ = self._solve(Xs, Yc, self.alpha_)
            res = Yc - Xs @ self.coef_
            self.val_r2_ = torch.full((Y2.shape[1],), float("nan"), dtype=X.dtype)
        self.residual_std_ = res.std(dim=0, correction=0)
        self.intercept_ = self.y_mean_ - (self.mean_ / self.scale_) @ self.coef_
        return self

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        """Predictions for ``X`` (n, d): (n,) or (n, k) like the training ``Y``."""
        if not hasattr(self, "coef_"):
            raise RuntimeError("RidgeRegression: call fit(X, Y) first")
        check_tensor(X, "X", dtype=self.coef_.dtype, shape=(None, self.coef_.shape[0]))
        out = (X - self.mean_) / self.scale_ @ self.coef_ + self.y_mean_
        return out[:, 0] if self._single else out
