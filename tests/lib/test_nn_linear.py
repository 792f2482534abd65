"""Softmax regression: optimality of the L-BFGS solution, agreement with SciPy, classification."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import torch

from harmonia.nn import SoftmaxRegression, accuracy

F64 = torch.float64


def _data(n=120, d=4, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = 2 * torch.randn(classes, d, generator=g, dtype=F64)
    y = torch.arange(n) % classes
    X = centers[y] + torch.randn(n, d, generator=g, dtype=F64)
    return X, y


def _objective(W, b, Z, y, l2):
    return torch.nn.functional.cross_entropy(Z @ W.T + b, y) + 0.5 * l2 * W.square().sum()


def test_solution_is_stationary():
    X, y = _data()
    model = SoftmaxRegression(l2=0.1).fit(X, y)
    W = model.weight.clone().requires_grad_(True)
    b = model.bias.clone().requires_grad_(True)
    _objective(W, b, model._features(X), y, 0.1).backward()
    assert float(W.grad.abs().max()) < 1e-6 and float(b.grad.abs().max()) < 1e-6


def test_agrees_with_scipy_minimiser():
    X, y = _data(n=60, d=3, classes=2, seed=1)
    l2 = 0.05
    model = SoftmaxRegression(l2=l2).fit(X, y)
    Z = model._features(X)

    def f(theta):
        t = torch.tensor(theta, dtype=F64, requires_grad=True)
        W, b = t[:6].reshape(2, 3), t[6:]
        loss = _objective(W, b, Z, y, l2)
        loss.backward()
        return float(loss.detach()), t.grad.numpy()

    res = scipy.optimize.minimize(f, np.zeros(8), jac=True, method="BFGS", options={"gtol": 1e-10})
    ours = float(_objective(model.weight, model.bias, Z, y, l2))
    assert abs(ours - res.fun) < 1e-9
    # softmax is invariant to adding a constant to all classes' scores: compare score differences
    theirs = torch.tensor(res.x[:6], dtype=F64).reshape(2, 3)
    assert torch.allclose(model.weight[1] - model.weight[0], theirs[1] - theirs[0], atol=1e-5)


def test_classifies_separated_clusters_and_accuracy_helper():
    X, y = _data(n=300, seed=2)
    model = SoftmaxRegression(l2=1e-3).fit(X[:150], y[:150])
    assert model.score(X[150:], y[150:]) > 0.9
    assert accuracy(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0])) == pytest.approx(2 / 3)


def test_bad_inputs():
    X, y = _data()
    with pytest.raises(ValueError, match="^l2: "):
        SoftmaxRegression(l2=-1.0)
    with pytest.raises(TypeError, match="^y: "):
        SoftmaxRegression().fit(X, y.double())
    with pytest.raises(ValueError, match="^y: expected at least two classes"):
        SoftmaxRegression().fit(X, torch.zeros(len(y), dtype=torch.long))
    with pytest.raises(RuntimeError, match="call fit"):
        SoftmaxRegression().predict(X)
    model = SoftmaxRegression().fit(X, y)
    with pytest.raises(ValueError, match="^X: expected shape"):
        model.predict(X[:, :2])
