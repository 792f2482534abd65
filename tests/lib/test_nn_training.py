"""Models, metrics, the training loop and the digits data of harmonia.nn / harmonia.data: layer structure
and seeded uniform initialisation (bounds, spread, no global RNG use), CNN shapes, metrics against hand
computations, fit (loss decrease, batching without replacement, history, reproducibility, hooks,
schedulers, divergence, argument checks), the digits split, and per-sample gradient moments."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from harmonia.data.digits import load_digits
from harmonia.nn import (
    accuracy,
    error_rate,
    evaluate,
    fit,
    grad_moments,
    mlp,
    nll,
    small_cnn,
    softmax_regression_net,
    standard_closure,
)

F64 = torch.float64


# ------------------------------------------------------------------------------ models
@pytest.mark.parametrize(("activation", "cls"), [("tanh", nn.Tanh), ("relu", nn.ReLU), ("sigmoid", nn.Sigmoid)])
def test_mlp_structure(activation, cls):
    model = mlp(5, (4, 3), 2, activation=activation)
    assert isinstance(model, nn.Sequential)
    kinds = [type(m) for m in model]
    assert kinds == [nn.Linear, cls, nn.Linear, cls, nn.Linear]
    sizes = [(m.in_features, m.out_features) for m in model if isinstance(m, nn.Linear)]
    assert sizes == [(5, 4), (4, 3), (3, 2)]
    assert model(torch.zeros(7, 5)).shape == (7, 2)
    linear = softmax_regression_net(6, 3)
    assert len(linear) == 1 and isinstance(linear[0], nn.Linear) and linear[0].weight.shape == (3, 6)
    assert [type(m) for m in mlp(5, (), 2)] == [nn.Linear]


def test_mlp_dtype_and_bad_arguments():
    model = mlp(5, (4,), 2, dtype=F64)
    assert all(p.dtype == F64 for p in model.parameters())
    with pytest.raises(ValueError, match="activation"):
        mlp(5, (4,), 2, activation="gelu")
    with pytest.raises(ValueError, match="hidden"):
        mlp(5, (4, 0), 2)
    with pytest.raises(ValueError, match="in_features"):
        mlp(0, (4,), 2)
    with pytest.raises(ValueError, match="out_features"):
        mlp(5, (4,), 0)


def test_seeded_initialisation():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        a = mlp(64, (32,), 10, seed=3)
        torch.manual_seed(1)  # the weights depend on the seed only, not on the global generator
        b = mlp(64, (32,), 10, seed=3)
        c = mlp(64, (32,), 10, seed=4)
    for p, q, r in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(p, q) and not torch.equal(p, r)
    for layer in (a[0], a[2]):
        bound = 1 / math.sqrt(layer.in_features)
        for p in (layer.weight, layer.bias):
            assert float(p.detach().abs().max()) <= bound
        w = layer.weight.detach().double()
        # uniform on [-bound, bound]: it fills the interval, mean 0, variance bound^2 / 3
        assert float(w.abs().max()) > 0.95 * bound
        n = w.numel()
        assert abs(float(w.mean())) < 4 * bound / math.sqrt(3 * n)
        assert abs(float(w.var()) / (bound**2 / 3) - 1) < 4 * math.sqrt(0.8 / n)


@pytest.mark.parametrize("build", [lambda: mlp(5, (4,), 3, seed=0), lambda: small_cnn(seed=0)], ids=["mlp", "cnn"])
def test_models_do_not_touch_the_global_generator(build):
    state = torch.random.get_rng_state()
    build()
    assert torch.equal(torch.random.get_rng_state(), state)


def test_small_cnn_shapes_and_initialisation():
    model = small_cnn(seed=1)
    assert model(torch.rand(3, 64)).shape == (3, 10)
    big = small_cnn(image_size=16, n_classes=4, channels=2, in_channels=3, dtype=F64)
    assert big(torch.rand(2, 3 * 256, dtype=F64)).shape == (2, 4)
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    for conv in convs:
        bound = 1 / math.sqrt(conv.in_channels * 9)
        assert float(conv.weight.detach().abs().max()) <= bound and float(conv.bias.detach().abs().max()) <= bound
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), small_cnn(seed=1).parameters()))
    with pytest.raises(ValueError, match="image_size"):
        small_cnn(image_size=6)
    with pytest.raises(ValueError, match="channels"):
        small_cnn(channels=0)


# ------------------------------------------------------------------------------ metrics
def test_metrics_against_hand_computation():
    assert accuracy(torch.tensor([0, 1, 2, 1]), torch.tensor([0, 2, 2, 1])) == 0.75
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.5, 3.0], [1.0, -1.0, 0.5], [0.0, 2.0, 1.0]], dtype=F64)
    y = torch.tensor([0, 1, 2, 1])
    assert error_rate(logits, y) == 0.5  # argmax = [0, 2, 0, 1]
    expected = 0.0
    for row, k in zip(logits.tolist(), y.tolist()):
        expected -= math.log(math.exp(row[k]) / sum(math.exp(v) for v in row))
    assert math.isclose(nll(logits, y), expected / 4, rel_tol=1e-14)
    with pytest.raises(ValueError, match="y"):
        accuracy(torch.tensor([0, 1]), torch.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="y"):
        nll(logits, y.to(F64))
    with pytest.raises(ValueError, match="logits"):
        error_rate(logits[0], y)


# ------------------------------------------------------------------------------ fit
def _separable(n: int = 70, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 2, generator=gen)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).long()
    return X, y


def _train(seed=0, epochs=4, batch_size=8, **kwargs):
    X, y = _separable()
    model = softmax_regression_net(2, 2, seed=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    return model, fit(model, opt, X, y, epochs=epochs, batch_size=batch_size, seed=seed, **kwargs)


def test_fit_reduces_the_loss_and_records_history():
    X, y = _separable()
    Xt, yt = _separable(30, seed=9)
    model, hist = _train(X_test=Xt, y_test=yt)
    assert hist.epoch == [0, 1, 2, 3, 4]
    assert len(hist.train_loss) == len(hist.train_error) == len(hist.test_loss) == len(hist.test_error) == 5
    assert len(hist.batch_loss) == 4 * (70 // 8)
    assert hist.train_loss[-1] < 0.5 * hist.train_loss[0] and hist.train_error[-1] <= 0.05
    assert hist.test_error[-1] <= 0.1 and not hist.diverged
    loss, err = evaluate(model, X, y)
    assert math.isclose(loss, hist.train_loss[-1], rel_tol=1e-6) and err == hist.train_error[-1]
    _, no_test = _train()
    assert no_test.test_loss == [] and no_test.test_error == []


def test_fit_batches_without_replacement_and_reports_the_loss_before_the_step():
    X, y = _separable()
    seen: list[torch.Tensor] = []
    first_loss: list[float] = []
    base = standard_closure(F.cross_entropy)

    def make_closure(model, xb, yb):
        seen.append(xb.clone())
        if not first_loss:
            first_loss.append(float(F.cross_entropy(model(xb), yb).detach()))
        return base(model, xb, yb)

    _, hist = _train(epochs=3, make_closure=make_closure)
    assert len(seen) == 3 * 8 and all(b.shape == (8, 2) for b in seen)
    for e in range(3):
        rows = Counter(tuple(r.tolist()) for b in seen[8 * e: 8 * (e + 1)] for r in b)
        assert len(rows) == 64 and max(rows.values()) == 1  # 64 distinct samples, the last 6 dropped
        assert set(rows) <= {tuple(r.tolist()) for r in X}
    assert math.isclose(hist.batch_loss[0], first_loss[0], rel_tol=1e-6)
    # the epochs see different orders
    assert not torch.equal(torch.cat(seen[:8]), torch.cat(seen[8:16]))


def test_fit_is_reproducible():
    _, a = _train(seed=5)
    _, b = _train(seed=5)
    _, c = _train(seed=6)
    _, d = _train(seed=5, device="cpu")
    assert a.batch_loss == b.batch_loss and a.train_loss == b.train_loss
    assert a.batch_loss != c.batch_loss
    assert d.batch_loss == a.batch_loss


def test_fit_steps_the_scheduler_once_per_epoch():
    X, y = _separable()
    model = softmax_regression_net(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0 / (1.0 + e))
    fit(model, opt, X, y, epochs=5, batch_size=10, scheduler=sched)
    assert math.isclose(opt.param_groups[0]["lr"], 0.3 / 6, rel_tol=1e-12)


def _one_hot_mse(out, target):
    return F.mse_loss(out, F.one_hot(target, out.shape[1]).to(out.dtype))


def test_fit_stops_on_divergence():
    X, y = _separable(64)
    model = mlp(2, (8,), 2)
    opt = torch.optim.SGD(model.parameters(), lr=1e6)
    hist = fit(model, opt, X, y, epochs=5, batch_size=8, loss_fn=_one_hot_mse)
    assert hist.diverged
    assert len(hist.batch_loss) < 5 * 8 and not math.isfinite(hist.batch_loss[-1])
    assert len(hist.epoch) < 6


def test_fit_stops_on_divergence_with_nan_outputs():
    X, y = _separable(64)
    model = mlp(2, (8,), 2)
    opt = torch.optim.SGD(model.parameters(), lr=1e8)
    hist = fit(model, opt, X, y, epochs=5, batch_size=8, loss_fn=_one_hot_mse)
    assert hist.diverged
    assert math.isnan(hist.train_loss[-1]) and math.isnan(hist.train_error[-1])


def test_fit_bad_arguments():
    X, y = _separable()
    model = softmax_regression_net(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="batch_size"):
        fit(model, opt, X, y, epochs=1, batch_size=71)
    with pytest.raises(ValueError, match="X_test"):
        fit(model, opt, X, y, epochs=1, batch_size=8, X_test=X)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, opt, X, y, epochs=0, batch_size=8)
    with pytest.raises(ValueError, match="y"):
        fit(model, opt, X, y[:-1], epochs=1, batch_size=8)


# ------------------------------------------------------------------------------ digits
def test_load_digits_split():
    from sklearn.datasets import load_digits as sk_load_digits

    data = load_digits()
    assert data.X_train.shape == (1297, 64) and data.X_test.shape == (500, 64)
    assert data.y_train.shape == (1297,) and data.y_test.shape == (500,)
    assert data.X_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    for X in (data.X_train, data.X_test):
        assert float(X.min()) == 0.0 and float(X.max()) == 1.0
    for yy in (data.y_train, data.y_test):
        assert sorted(torch.unique(yy).tolist()) == list(range(10))
    # train + test is exactly the full data set (a partition of the 1797 (image, label) pairs)
    raw = sk_load_digits()
    full = Counter((tuple((row / 16.0).tolist()), int(t)) for row, t in zip(raw.data, raw.target))
    ours = Counter((tuple(x.double().tolist()), int(t)) for X, Y in ((data.X_train, data.y_train),
                                                                      (data.X_test, data.y_test))
                   for x, t in zip(X, Y))
    assert ours == full
    again = load_digits()
    assert torch.equal(again.X_train, data.X_train) and torch.equal(again.y_test, data.y_test)
    other = load_digits(seed=1)
    assert not torch.equal(other.y_test, data.y_test)


def test_load_digits_arguments():
    data = load_digits(n_test=100, dtype=F64, device="cpu")
    assert data.X_train.shape == (1697, 64) and data.X_test.shape == (100, 64)
    assert data.X_train.dtype == F64 and data.X_test.device.type == "cpu" and data.y_test.dtype == torch.int64
    with pytest.raises(ValueError, match="n_test"):
        load_digits(n_test=0)
    with pytest.raises(ValueError, match="n_test"):
        load_digits(n_test=1797)


# ------------------------------------------------------------------------------ gradient moments
def test_grad_moments_for_a_cnn(seeded):
    model = small_cnn(channels=2, dtype=F64)
    gen = seeded(2)
    x = torch.rand(5, 64, generator=gen, dtype=F64)
    y = torch.randint(0, 10, (5,), generator=gen)
    stats = grad_moments(model, F.cross_entropy, x, y)
    params = list(model.parameters())
    per = [torch.autograd.grad(F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]), params) for i in range(5)]
    mean_loss = F.cross_entropy(model(x), y)
    auto = torch.autograd.grad(mean_loss, params)
    assert stats.n == 5
    torch.testing.assert_close(stats.loss, mean_loss.detach(), rtol=1e-12, atol=0)
    for k, p in enumerate(params):
        stacked = torch.stack([g[k] for g in per])
        torch.testing.assert_close(stats.grad[k], stacked.mean(0), rtol=1e-10, atol=1e-14)
        torch.testing.assert_close(stats.grad_sq[k], stacked.square().mean(0), rtol=1e-10, atol=1e-14)
        torch.testing.assert_close(p.grad, auto[k], rtol=1e-10, atol=1e-14)
        assert bool((stats.grad_sq[k] >= stats.grad[k].square() * (1 - 1e-12)).all())


def test_flat_params_round_trip_and_functional_call():
    from harmonia.nn import FlatParams

    model = mlp(3, (4,), 2, seed=0, dtype=F64)
    flat = FlatParams(model)
    theta = flat.flatten()
    assert flat.n == theta.numel() == 3 * 4 + 4 + 4 * 2 + 2
    for (name, p), view in zip(model.named_parameters(), flat.unflatten(theta).values()):
        assert torch.equal(p, view), name
    x = torch.randn(5, 3, dtype=F64)
    torch.testing.assert_close(flat.call(theta, x), model(x), rtol=0, atol=0)
    shifted = flat.call(theta + 1.0, x)  # evaluates elsewhere without touching the model
    assert not torch.allclose(shifted, model(x)) and torch.equal(flat.flatten(), theta)
    with pytest.raises(ValueError, match="theta"):
        flat.unflatten(theta[:-1])


def test_fit_without_tracking_trains_the_same_model_and_records_batch_means():
    g = torch.Generator().manual_seed(3)
    X, y = torch.randn(64, 5, generator=g), torch.randint(0, 3, (64,), generator=g)
    runs = []
    for track in (True, False):
        torch.manual_seed(0)
        model = torch.nn.Linear(5, 3)
        hist = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=3, batch_size=16, track=track)
        runs.append((model, hist))
    (m1, h1), (m2, h2) = runs
    assert all(torch.equal(a, b) for a, b in zip(m1.parameters(), m2.parameters()))
    assert h2.epoch == [0, 1, 2, 3] and math.isnan(h2.train_loss[0]) and all(math.isnan(e) for e in h2.train_error)
    for epoch in (1, 2, 3):
        assert h2.train_loss[epoch] == pytest.approx(sum(h2.batch_loss[4 * (epoch - 1):4 * epoch]) / 4)
