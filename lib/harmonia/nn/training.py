"""One training loop for every chapter: mini-batches from a seeded generator, history, devices.

:func:`fit` runs epochs of shuffled mini-batches and calls ``optimizer.step(closure)`` once per
batch, so it drives any :class:`torch.optim.Optimizer` (SGD, Adam, AdaGrad, L-BFGS-style closures)
and optimisers that need more than a loss from the closure (vSGD's per-sample statistics) through
``make_closure``. After every epoch it evaluates the full training and test sets.

Used in: chapter 01; chapters 02-04 and 15-17.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from harmonia.config import check_positive, check_tensor, make_generator
from harmonia.nn.grad_stats import check_model_input
from harmonia.nn.metrics import error_rate

__all__ = ["FitHistory", "fit", "evaluate", "standard_closure"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
ClosureFactory = Callable[[nn.Module, torch.Tensor, torch.Tensor], Callable[[], object]]


@dataclass
class FitHistory:
    """What :func:`fit` records.

    Attributes
    ----------
    batch_loss : list of float
        Loss of every mini-batch, as returned by the optimizer's step (before the update).
    epoch : list of int
        Epoch numbers of the evaluations (0 is the initial model).
    train_loss, train_error, test_loss, test_error : list of float
        Full-set evaluations after each epoch (test lists stay empty without test data).
    diverged : bool
        True when a loss became NaN or infinite (training then stops).
    """

    batch_loss: list[float] = field(default_factory=list)
    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_error: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_error: list[float] = field(default_factory=list)
    diverged: bool = False


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn: LossFn | None = None) -> tuple[float, float]:
    """Mean loss (cross-entropy by default) and classification error of ``model`` on (X, y).

    Both are NaN when the model's outputs are not finite (a diverged run)."""
    check_model_input(model, X, "X")
    if loss_fn is None:  # cross-entropy: X (n, ...) and class labels y (n,)
        check_tensor(X, "X", min_ndim=2, finite=False, nonempty=True)
        check_tensor(y, "y", shape=(X.shape[0],), dtype="integer", like=X)
    loss_fn = torch.nn.functional.cross_entropy if loss_fn is None else loss_fn
    out = model(X)
    if not bool(torch.isfinite(out).all()):  # a diverged model: no meaningful loss or error
        return float("nan"), float("nan")
    return float(loss_fn(out, y)), error_rate(out, y)


def standard_closure(loss_fn: LossFn) -> ClosureFactory:
    """The usual closure: zero the gradients, evaluate the batch loss, back-propagate, return the loss."""

    def factory(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> Callable[[], torch.Tensor]:
        def closure() -> torch.Tensor:
            model.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            return loss

        return closure

    return factory


def fit(model: nn.Module, optimizer: torch.optim.Optimizer, X: torch.Tensor, y: torch.Tensor, *, epochs: int,
        batch_size: int, X_test: torch.Tensor | None = None, y_test: torch.Tensor | None = None,
        loss_fn: LossFn | None = None, make_closure: ClosureFactory | None = None,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None, seed: int | torch.Generator | None = 0,
        device: torch.device | str | None = None, progress: bool = False, track: bool = True) -> FitHistory:
    """Train ``model`` for ``epochs`` passes over (X, y) in shuffled mini-batches.

    Parameters
    ----------
    model : nn.Module
        Maps a batch of inputs (b, ...) to outputs (b, C).
    optimizer : torch.optim.Optimizer
        Stepped once per batch with a closure.
    X, y : Tensor
        Training inputs (n, ...) and targets (n,) on the model's device.
    epochs, batch_size : int
        Number of passes; samples per batch (the last, smaller batch of an epoch is dropped so
        every step sees ``batch_size`` samples).
    X_test, y_test : Tensor, optional
        Held-out data evaluated after every epoch.
    loss_fn : callable, optional
        Mean batch loss ``loss_fn(output, target)``; cross-entropy by default.
    make_closure : callable, optional
        ``make_closure(model, xb, yb)`` returns the closure for one batch (default:
        :func:`standard_closure`). vSGD passes one returning per-sample statistics.
    scheduler : LRScheduler, optional
        Stepped once per epoch (e.g. a :math:`1/t` decay with ``LambdaLR``).
    seed : int or Generator
        Seeds the batch order (drawn on the CPU, so the order is the same on every device).
    device : torch.device or str, optional
        Move the model and the data there first (e.g. ``harmonia.config.device()``); by default
        they must already share a device. Create the optimizer after moving the model, or pass
        a model that is already on ``device``.
    progress : bool
        Show a progress bar over epochs.
    track : bool
        Evaluate the full training (and test) sets after every epoch (default). Turn it off for losses defined on a
        batch, such as rankings or relational distillation, whose full-set value is costly or meaningless: the
        history then records each epoch's mean batch loss as ``train_loss`` and NaN errors.
    """
    if device is not None:
        model.to(device)
        X, y = X.to(device), y.to(device)
        if X_test is not None:
            X_test, y_test = X_test.to(device), y_test.to(device)
    check_tensor(X, "X", min_ndim=2, dtype="floating")
    check_tensor(y, "y", shape=(X.shape[0], "..."), like=X)
    if loss_fn is None and make_closure is None:  # the default cross-entropy needs class labels
        check_tensor(y, "y", dtype="integer")
    first = next(model.parameters(), None)
    if first is not None and first.device != X.device:
        raise ValueError(f"X: expected the model's device {first.device}, got {X.device} (pass device= to move both)")
    epochs = check_positive(epochs, "epochs", integer=True)
    batch_size = check_positive(batch_size, "batch_size", integer=True)
    if batch_size > X.shape[0]:
        raise ValueError(f"batch_size: expected at most the {X.shape[0]} training samples, got {batch_size}")
    if (X_test is None) != (y_test is None):
        raise ValueError("X_test, y_test: expected both or neither, got only one")
    loss_fn = torch.nn.functional.cross_entropy if loss_fn is None else loss_fn
    make_closure = standard_closure(loss_fn) if make_closure is None else make_closure
    gen = make_generator(seed)
    hist = FitHistory()

    def record(epoch: int) -> None:
        hist.epoch.append(epoch)
        if not track:
            done = hist.batch_loss[-n_batches:] if epoch else []
            hist.train_loss.append(sum(done) / len(done) if done else float("nan"))
            hist.train_error.append(float("nan"))
            return
        loss, err = evaluate(model, X, y, loss_fn)
        hist.train_loss.append(loss)
        hist.train_error.append(err)
        if X_test is not None:
            loss, err = evaluate(model, X_test, y_test, loss_fn)
            hist.test_loss.append(loss)
            hist.test_error.append(err)

    from tqdm.auto import tqdm

    n_batches = X.shape[0] // batch_size
    record(0)
    for epoch in tqdm(range(1, epochs + 1), disable=not progress, desc="epochs"):
        order = torch.randperm(X.shape[0], generator=gen).to(X.device)
        for b in range(n_batches):
            idx = order[b * batch_size:(b + 1) * batch_size]
            loss = optimizer.step(make_closure(model, X[idx], y[idx]))
            value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
            hist.batch_loss.append(value)
            if not torch.isfinite(torch.tensor(value)):
                hist.diverged = True
                break
        if scheduler is not None:
            scheduler.step()
        record(epoch)
        if hist.diverged or not all(torch.isfinite(p).all() for p in model.parameters()):
            hist.diverged = True
            break
    return hist
