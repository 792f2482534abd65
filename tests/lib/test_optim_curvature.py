"""Diagonal curvature estimates of harmonia.optim.curvature: bbprop against the exact Hessian (softmax
regression, closed form x_j^2 p_k (1 - p_k)) and against the Gauss-Newton diagonal (exact under squared
error for one hidden layer; output layer only under softmax cross-entropy), non-negativity, the
one-pass batch statistics against autograd and torch.func per-sample gradients, finite differences on
quadratics, and argument validation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from harmonia.nn import mlp, per_sample_grads, softmax_regression_net
from harmonia.optim import bbprop_diag, exact_hessian_diag, fd_diag, gauss_newton_diag, sequential_batch_stats

F64 = torch.float64

# torch.func.hessian/jacrev go through torch.jit.script internally, which warns in torch >= 2.10
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def _data(n: int, d_in: int, classes: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d_in, generator=gen, dtype=F64)
    y = torch.randint(0, classes, (n,), generator=gen)
    return x, y


def _targets(n: int, d_out: int, seed: int) -> torch.Tensor:
    return torch.randn(n, d_out, generator=torch.Generator().manual_seed(100 + seed), dtype=F64)


def _mse(out, target):
    return 0.5 * (out - target).square().sum(dim=1).mean()


def _assert_lists_close(a, b, rtol, atol=0.0):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert u.shape == v.shape
        torch.testing.assert_close(u, v, rtol=rtol, atol=atol)


def _rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


# ------------------------------------------------------------------------------ bbprop
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n", [1, 7, 32])
def test_bbprop_is_the_exact_hessian_for_softmax_regression(seed, n):
    model = softmax_regression_net(6, 4, seed=seed, dtype=F64)
    x, y = _data(n, 6, 4, seed)
    _assert_lists_close(bbprop_diag(model, x, y), exact_hessian_diag(model, x, y), rtol=1e-10, atol=1e-14)


def test_bbprop_softmax_regression_closed_form():
    """d2/dW_kj^2 of the mean cross-entropy is mean_i x_ij^2 p_ik (1 - p_ik), the bias has x_ij = 1."""
    model = softmax_regression_net(3, 5, seed=4, dtype=F64)
    x, y = _data(9, 3, 5, 4)
    W, b = model[0].weight.detach(), model[0].bias.detach()
    h_w, h_b = bbprop_diag(model, x, y)
    for k in range(5):
        for j in range(3):
            total = 0.0
            for i in range(9):
                logits = [float(v) for v in x[i] @ W.T + b]
                p = math.exp(logits[k]) / sum(math.exp(v) for v in logits)
                total += float(x[i, j]) ** 2 * p * (1 - p)
            assert abs(float(h_w[k, j]) - total / 9) <= 1e-13 * max(1.0, total)
    p = torch.softmax(x @ W.T + b, dim=1)
    torch.testing.assert_close(h_b, (p * (1 - p)).mean(dim=0), rtol=1e-13, atol=0)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_bbprop_is_non_negative_on_deep_nets(activation):
    model = mlp(6, (8, 5), 4, activation=activation, seed=3, dtype=F64)
    x, y = _data(20, 6, 4, 3)
    curv = bbprop_diag(model, x, y)
    assert all(bool((c >= 0).all()) for c in curv)
    assert all(float(c.max()) > 0 for c in curv)
    # the exact Hessian diagonal, by contrast, has negative entries somewhere in a non-convex net
    if activation == "tanh":
        exact = exact_hessian_diag(model, x, y)
        assert any(bool((e < 0).any()) for e in exact)


@pytest.mark.parametrize("seed", [0, 5])
def test_bbprop_is_the_gauss_newton_diagonal_for_one_hidden_layer_mse(seed):
    model = mlp(4, (6,), 3, activation="tanh", seed=seed, dtype=F64)
    x, _ = _data(11, 4, 3, seed)
    target = _targets(11, 3, seed)
    _assert_lists_close(bbprop_diag(model, x, target, loss="mse"), gauss_newton_diag(model, x, target, loss="mse"),
                        rtol=1e-8, atol=1e-14)


def test_bbprop_under_cross_entropy_drops_the_softmax_off_diagonal_terms():
    model = mlp(4, (6,), 3, activation="tanh", seed=1, dtype=F64)
    x, y = _data(11, 4, 3, 1)
    bb = bbprop_diag(model, x, y)
    gn = gauss_newton_diag(model, x, y)
    # output layer (weight, bias): exact
    _assert_lists_close(bb[2:], gn[2:], rtol=1e-10, atol=1e-14)
    # first layer: the off-diagonal terms of diag(p) - p p^T matter
    assert _rel_diff(bb[0], gn[0]) > 1e-3
    assert _rel_diff(bb[1], gn[1]) > 1e-3


def test_gauss_newton_is_the_hessian_for_a_linear_model_with_mse():
    model = mlp(5, (), 3, seed=2, dtype=F64)
    x, _ = _data(13, 5, 3, 2)
    target = _targets(13, 3, 2)
    _assert_lists_close(gauss_newton_diag(model, x, target, loss="mse"),
                        exact_hessian_diag(model, x, target, loss="mse"), rtol=1e-10, atol=1e-14)
    # and the Hessian of 1/2 |W x + b - y|^2 is mean_i x_ij^2 for W_kj, 1 for b_k
    h_w, h_b = exact_hessian_diag(model, x, target, loss="mse")
    torch.testing.assert_close(h_w, x.square().mean(dim=0).expand(3, 5), rtol=1e-12, atol=0)
    torch.testing.assert_close(h_b, torch.ones(3, dtype=F64), rtol=1e-12, atol=0)


# ------------------------------------------------------------------------------ batch statistics
_MODELS = [
    ("tanh", lambda: mlp(5, (7, 4), 3, activation="tanh", seed=0, dtype=F64)),
    ("relu", lambda: mlp(5, (7,), 3, activation="relu", seed=1, dtype=F64)),
    ("sigmoid", lambda: mlp(5, (4,), 3, activation="sigmoid", seed=2, dtype=F64)),
    ("identity", lambda: nn.Sequential(nn.Linear(5, 4), nn.Identity(), nn.Linear(4, 3)).to(F64)),
    ("linear", lambda: softmax_regression_net(5, 3, seed=3, dtype=F64)),
]


@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("make", [m for _, m in _MODELS], ids=[name for name, _ in _MODELS])
def test_batch_stats_match_autograd_and_per_sample_gradients(make, loss):
    model = make()
    x, y = _data(12, 5, 3, 7)
    if loss == "mse":
        y = _targets(12, 3, 7)
    loss_fn = F.cross_entropy if loss == "ce" else _mse
    stats = sequential_batch_stats(model, x, y, loss)
    assert stats.n == 12
    # mean gradient = autograd gradient of the batch-mean loss
    value = loss_fn(model(x), y)
    auto = torch.autograd.grad(value, list(model.parameters()))
    torch.testing.assert_close(stats.loss, value.detach(), rtol=1e-13, atol=0)
    _assert_lists_close(stats.grad, list(auto), rtol=1e-11, atol=1e-14)
    # p.grad is set to the same mean gradient
    _assert_lists_close([p.grad for p in model.parameters()], list(auto), rtol=1e-11, atol=1e-14)
    # mean of squared per-sample gradients (independent torch.func implementation)
    _, per_sample = per_sample_grads(model, loss_fn, x, y)
    _assert_lists_close(stats.grad_sq, [g.square().mean(dim=0) for g in per_sample], rtol=1e-10, atol=1e-14)
    for sq, g in zip(stats.grad_sq, stats.grad):
        assert bool((sq >= g.square() * (1 - 1e-12)).all())
    assert all(bool((c >= 0).all()) for c in stats.curvature)


def test_batch_stats_without_curvature():
    model = mlp(5, (4,), 3, seed=0, dtype=F64)
    x, y = _data(6, 5, 3, 0)
    with_h = sequential_batch_stats(model, x, y)
    without = sequential_batch_stats(model, x, y, curvature=False)
    assert without.curvature is None
    _assert_lists_close(without.grad, with_h.grad, rtol=0, atol=0)
    _assert_lists_close(without.grad_sq, with_h.grad_sq, rtol=0, atol=0)


def test_one_sample_batch_has_grad_sq_equal_grad_squared():
    model = mlp(5, (4,), 3, seed=0, dtype=F64)
    x, y = _data(1, 5, 3, 0)
    stats = sequential_batch_stats(model, x, y)
    _assert_lists_close(stats.grad_sq, [g.square() for g in stats.grad], rtol=1e-14, atol=0)


# ------------------------------------------------------------------------------ finite differences
def _quadratic_grad_fn(A: torch.Tensor, params: list[torch.Tensor], calls: list[int]):
    """Gradient of 1/2 theta^T A theta, theta the concatenation of ``params`` (a (3,) and a (2,) tensor)."""

    def grad_fn():
        calls.append(1)
        theta = torch.cat([p.reshape(-1) for p in params])
        g = A @ theta
        return [g[:3].clone(), g[3:].clone()]

    return grad_fn


def _params(seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(3, generator=gen, dtype=F64), torch.randn(2, generator=gen, dtype=F64)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fd_on_a_diagonal_quadratic_is_the_diagonal(seed, seeded):
    diag = torch.tensor([0.5, 2.0, 7.0, 0.01, 3.0], dtype=F64)
    params = _params(seed)
    saved = [p.clone() for p in params]
    direction = [torch.randn(3, generator=seeded(10 + seed), dtype=F64),
                 torch.randn(2, generator=seeded(20 + seed), dtype=F64) * 1e-3]
    calls: list[int] = []
    h = fd_diag(_quadratic_grad_fn(torch.diag(diag), params, calls), params, direction)
    torch.testing.assert_close(torch.cat(h), diag, rtol=1e-8, atol=0)
    assert len(calls) == 2
    assert all(torch.equal(p, s) for p, s in zip(params, saved))  # restored bit-exactly


def test_fd_on_a_full_quadratic_is_the_probe_ratio(seeded):
    """Non-diagonal A: h_i = |(A delta)_i| / |delta_i|, with delta moved away from zero by eps."""
    gen = seeded(3)
    M = torch.randn(5, 5, generator=gen, dtype=F64)
    A = M @ M.T + torch.eye(5, dtype=F64)
    params = _params(4)
    saved = [p.clone() for p in params]
    delta = torch.tensor([0.3, -0.2, 0.0, 1.5, -0.7], dtype=F64)
    calls: list[int] = []
    grad_fn = _quadratic_grad_fn(A, params, calls)
    base = grad_fn()
    eps = 1e-3
    h = torch.cat(fd_diag(grad_fn, params, [delta[:3], delta[3:]], grads=base, eps=eps))
    assert len(calls) == 2  # one for base above, one inside: the given gradients are reused
    step = torch.where(delta >= 0, delta + eps, delta - eps)
    torch.testing.assert_close(h, (A @ step).abs() / step.abs(), rtol=1e-10, atol=0)
    assert all(torch.equal(p, s) for p, s in zip(params, saved))


def test_fd_restores_parameters_when_the_gradient_fails():
    params = _params(5)
    saved = [p.clone() for p in params]
    count = {"n": 0}

    def grad_fn():
        count["n"] += 1
        if count["n"] == 2:
            raise RuntimeError("boom")
        return [torch.zeros(3, dtype=F64), torch.zeros(2, dtype=F64)]

    with pytest.raises(RuntimeError, match="boom"):
        fd_diag(grad_fn, params, [torch.ones(3, dtype=F64), torch.ones(2, dtype=F64)])
    assert all(torch.equal(p, s) for p, s in zip(params, saved))


def test_fd_bad_direction():
    params = _params(0)
    with pytest.raises(ValueError, match="direction"):
        fd_diag(lambda: [torch.zeros(3, dtype=F64), torch.zeros(2, dtype=F64)], params, [torch.ones(3, dtype=F64)])


# ------------------------------------------------------------------------------ bad inputs
def test_batch_stats_bad_inputs():
    x, y = _data(4, 5, 3, 0)
    model = mlp(5, (4,), 3, seed=0, dtype=F64)

    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, z):
            return self.inner(z)

    with pytest.raises(TypeError, match="model"):
        sequential_batch_stats(Wrapped(), x, y)
    conv = nn.Sequential(nn.Unflatten(1, (1, 5)), nn.Conv1d(1, 2, 3), nn.Flatten(), nn.Linear(6, 3)).to(F64)
    with pytest.raises(TypeError, match=r"model\[0\]"):
        sequential_batch_stats(conv, x, y)
    with pytest.raises(TypeError, match=r"model\[1\]"):
        sequential_batch_stats(nn.Sequential(nn.Linear(5, 4), nn.Softplus(), nn.Linear(4, 3)).to(F64), x, y)
    with pytest.raises(ValueError, match="loss"):
        sequential_batch_stats(model, x, y, loss="x")
    with pytest.raises(TypeError, match="y"):
        sequential_batch_stats(model, x, y.to(F64))
    with pytest.raises(ValueError, match="y"):
        sequential_batch_stats(model, x, y[:3])
    with pytest.raises(ValueError, match="y"):
        sequential_batch_stats(model, x, _targets(4, 2, 0), loss="mse")
    with pytest.raises(TypeError, match="x"):
        sequential_batch_stats(model, x.long(), y)
    with pytest.raises(ValueError, match="x"):
        sequential_batch_stats(model, x[0], y)
    with pytest.raises(ValueError, match="loss"):
        exact_hessian_diag(model, x, y, loss="x")
    with pytest.raises(ValueError, match="loss"):
        gauss_newton_diag(model, x, y, loss="x")
