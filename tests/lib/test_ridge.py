"""Closed-form ridge regression with a validated penalty (chapter 09) and the regression metrics: ordinary
least squares at alpha=0 against numpy's lstsq, exact recovery of noise-free linear data, the validated
choice (refitting each penalty alone), residual standard deviations, multi-output = per-output fits, shapes,
the closed form of the penalised solution, bad inputs; R^2 and Pearson's correlation (limiting values,
per-column, symmetry, numpy agreement, constant inputs)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harmonia.nn.metrics import pearson, r2_score
from harmonia.nn.ridge import RidgeRegression

F64 = torch.float64


def _data(n=60, d=4, k=3, noise=0.1, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = 2 + 3 * torch.randn(n, d, generator=g, dtype=F64)
    W = torch.randn(d, k, generator=g, dtype=F64)
    b = torch.randn(k, generator=g, dtype=F64)
    Y = X @ W + b + noise * torch.randn(n, k, generator=g, dtype=F64)
    return X, Y, W, b


def _pooled_r2(Y, P):
    return 1 - float((Y - P).square().sum() / (Y - Y.mean(0)).square().sum())


# ------------------------------------------------------------------------------------------------ ridge
def test_alpha_zero_is_least_squares():
    X, Y, _, _ = _data()
    model = RidgeRegression([0.0]).fit(X, Y)
    Xs = (X - X.mean(0)) / X.std(0, correction=0)
    A = np.hstack([Xs.numpy(), np.ones((len(X), 1))])
    sol = np.linalg.lstsq(A, Y.numpy(), rcond=None)[0]
    assert np.allclose(model.coef_.numpy(), sol[:-1], rtol=1e-10, atol=1e-12)
    assert np.allclose(model.y_mean_.numpy(), sol[-1], atol=1e-12)
    # the same predictions as OLS on the raw augmented system [X, 1]
    raw = np.linalg.lstsq(np.hstack([X.numpy(), np.ones((len(X), 1))]), Y.numpy(), rcond=None)[0]
    Xt = _data(seed=1)[0]
    pred = np.hstack([Xt.numpy(), np.ones((len(Xt), 1))]) @ raw
    assert np.allclose(model.predict(Xt).numpy(), pred, atol=1e-10)
    assert torch.allclose(Xt @ (model.coef_ / model.scale_[:, None]) + model.intercept_, model.predict(Xt), atol=1e-10)


def test_penalised_closed_form():
    X, Y, _, _ = _data(n=30, d=6, k=2, noise=1.0, seed=2)
    alpha = 0.3
    model = RidgeRegression([alpha]).fit(X, Y)
    Xs = ((X - X.mean(0)) / X.std(0, correction=0)).numpy()
    n, d = Xs.shape
    W = np.linalg.solve(Xs.T @ Xs + alpha * n * np.eye(d), Xs.T @ (Y - Y.mean(0)).numpy())
    assert np.allclose(model.coef_.numpy(), W, rtol=1e-10, atol=1e-12)
    # shrinkage: the coefficient norm decreases with the penalty
    norms = [float(RidgeRegression([a]).fit(X, Y).coef_.norm()) for a in (0.0, 0.01, 0.1, 1.0)]
    assert all(a > b for a, b in zip(norms, norms[1:]))


def test_noise_free_recovery():
    X, Y, W, b = _data(noise=0.0, seed=3)
    model = RidgeRegression([1e-12]).fit(X, Y)
    assert torch.allclose(model.predict(X), Y, atol=1e-8, rtol=0)
    Xt = _data(seed=4)[0]
    assert torch.allclose(model.predict(Xt), Xt @ W + b, atol=1e-8, rtol=0)
    assert torch.allclose(model.intercept_, b, atol=1e-8)


def test_validation_choice_and_residual_std():
    X, Y, W, b = _data(n=25, d=20, k=3, noise=3.0, seed=5)  # few noisy samples: some shrinkage helps
    g = torch.Generator().manual_seed(50)
    Xv = 2 + 3 * torch.randn(200, 20, generator=g, dtype=F64)
    Yv = Xv @ W + b + 3.0 * torch.randn(200, 3, generator=g, dtype=F64)
    alphas = (1e-4, 1e-2, 1e-1, 1.0, 10.0)
    model = RidgeRegression(alphas).fit(X, Y, Xv, Yv)
    scores = {a: _pooled_r2(Yv, RidgeRegression([a]).fit(X, Y).predict(Xv)) for a in alphas}
    assert len(set(round(s, 12) for s in scores.values())) == len(alphas)
    best = max(scores, key=scores.get)
    assert model.alpha_ == best
    assert best not in (alphas[0], alphas[-1])  # the data make the choice non-trivial
    pred = model.predict(Xv)
    assert torch.allclose(pred, RidgeRegression([best]).fit(X, Y).predict(Xv), atol=1e-12)
    res = (Yv - pred).numpy()
    assert np.allclose(model.residual_std_.numpy(), res.std(axis=0), rtol=1e-10)
    assert torch.allclose(model.val_r2_, r2_score(Yv, pred), atol=1e-12)


def test_without_validation_defaults():
    X, Y, _, _ = _data(seed=6)
    model = RidgeRegression([0.5, 1e-3]).fit(X, Y)
    assert model.alpha_ == 0.5
    assert bool(torch.isnan(model.val_r2_).all())
    res = (Y - model.predict(X)).numpy()
    assert np.allclose(model.residual_std_.numpy(), res.std(axis=0), rtol=1e-10)


def test_multi_output_equals_per_output_and_1d():
    X, Y, _, _ = _data(seed=7)
    Xt = _data(seed=8)[0]
    model = RidgeRegression([0.05]).fit(X, Y)
    P = model.predict(Xt)
    assert P.shape == (len(Xt), Y.shape[1])
    for c in range(Y.shape[1]):
        single = RidgeRegression([0.05]).fit(X, Y[:, c])
        p = single.predict(Xt)
        assert p.shape == (len(Xt),)
        assert torch.allclose(p, P[:, c], atol=1e-12)
        assert torch.allclose(single.residual_std_, model.residual_std_[c:c + 1], atol=1e-12)


def test_constant_feature_is_harmless():
    X, Y, _, _ = _data(seed=9)
    Xc = torch.cat([X, torch.full((len(X), 1), 5.0, dtype=F64)], dim=1)
    a = RidgeRegression([0.01]).fit(X, Y).predict(X)
    b = RidgeRegression([0.01]).fit(Xc, Y).predict(Xc)
    assert torch.allclose(a, b, atol=1e-12)


def test_ridge_bad_inputs():
    X, Y, _, _ = _data(seed=10)
    with pytest.raises(RuntimeError, match="fit"):
        RidgeRegression().predict(X)
    with pytest.raises(ValueError, match=r"^Y:"):
        RidgeRegression().fit(X, Y[:-1])
    with pytest.raises(ValueError, match=r"^alphas:"):
        RidgeRegression([0.1, -1.0])
    with pytest.raises(ValueError, match=r"^alphas:"):
        RidgeRegression([])
    with pytest.raises(ValueError, match="X_val"):
        RidgeRegression().fit(X, Y, X_val=X)
    model = RidgeRegression().fit(X, Y)
    with pytest.raises(ValueError, match=r"^X:"):
        model.predict(X[:, :2])


@pytest.mark.parametrize("bad_rows", [1, 7])
def test_ridge_validation_shape_mismatch_names_y_val(bad_rows):
    """Y_val with a row count unlike X_val's must be refused. Library bug: one row is broadcast silently
    (a wrong alpha_, residual_std_ and val_r2_), seven rows give a bare torch RuntimeError."""
    X, Y, _, _ = _data(seed=11)
    Xv, Yv, _, _ = _data(n=20, seed=12)
    with pytest.raises(ValueError, match=r"^Y_val:"):
        RidgeRegression().fit(X, Y, Xv, Yv[:bad_rows])


def test_ridge_validation_column_mismatch_names_y_val():
    """Y_val with one column while Y has three: broadcast silently today (library bug)."""
    X, Y, _, _ = _data(seed=13)
    Xv, Yv, _, _ = _data(n=20, seed=14)
    with pytest.raises(ValueError, match=r"^Y_val:"):
        RidgeRegression().fit(X, Y, Xv, Yv[:, :1])


# ---------------------------------------------------------------------------------------------- metrics
def test_r2_limits_and_columns():
    g = torch.Generator().manual_seed(20)
    y = torch.randn(50, generator=g, dtype=F64)
    assert float(r2_score(y, y)) == 1.0
    assert float(r2_score(y, torch.full_like(y, float(y.mean())))) == pytest.approx(0.0, abs=1e-15)
    mirror = 2 * y.mean() - y  # residuals twice the deviations: R^2 = 1 - 4 = -3
    assert float(r2_score(y, mirror)) == pytest.approx(-3.0, rel=1e-12)
    noisy = y + 0.5 * torch.randn(50, generator=g, dtype=F64)
    expected = 1 - float(((y - noisy) ** 2).sum() / ((y - y.mean()) ** 2).sum())
    assert float(r2_score(y, noisy)) == pytest.approx(expected, rel=1e-12)
    Y = torch.randn(40, 3, generator=g, dtype=F64)
    Yh = Y + torch.randn(40, 3, generator=g, dtype=F64)
    r = r2_score(Y, Yh)
    assert r.shape == (3,)
    for c in range(3):
        assert float(r[c]) == pytest.approx(float(r2_score(Y[:, c], Yh[:, c])), rel=1e-14)
    with pytest.raises(ValueError, match=r"^y:"):
        r2_score(torch.ones(5, dtype=F64), y[:5])
    with pytest.raises(ValueError, match=r"^y_hat:"):
        r2_score(y, y[:-1])


def test_pearson():
    g = torch.Generator().manual_seed(21)
    y = torch.randn(30, generator=g, dtype=F64)
    z = torch.randn(30, generator=g, dtype=F64)
    assert float(pearson(y, 3 * y + 2)) == pytest.approx(1.0, abs=1e-14)
    assert float(pearson(y, -0.5 * y + 7)) == pytest.approx(-1.0, abs=1e-14)
    assert float(pearson(y, z)) == pytest.approx(float(pearson(z, y)), abs=1e-15)
    assert float(pearson(y, z)) == pytest.approx(float(np.corrcoef(y.numpy(), z.numpy())[0, 1]), abs=1e-12)
    assert float(pearson(2 * y + 1, 5 * z - 3)) == pytest.approx(float(pearson(y, z)), abs=1e-12)
    with pytest.raises(ValueError, match="constant"):
        pearson(torch.ones(30, dtype=F64), z)
    with pytest.raises(ValueError, match="constant"):
        pearson(y, torch.full((30,), 2.0, dtype=F64))
