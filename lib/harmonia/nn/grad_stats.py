"""Per-sample gradients and their moments over a mini-batch.

Adaptive and distributed optimisers need more than the mean gradient of a batch: vSGD needs the
mean of the *per-sample* squared gradients, data-parallel training needs sums that combine
across workers. This module computes them for any model with :mod:`torch.func`:

.. math:: g=\\frac1n\\sum_{i=1}^n\\nabla_\\theta\\ell(\\theta;x_i,y_i),\\qquad
          g^{(2)}=\\frac1n\\sum_{i=1}^n\\big(\\nabla_\\theta\\ell(\\theta;x_i,y_i)\\big)^2 .

Used in: chapter 01 (vSGD), chapters 02-04 (distributed and sharpness-aware training).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from harmonia.config import check_tensor

__all__ = ["BatchStats", "per_sample_grads", "grad_moments"]


def check_model_input(model: nn.Module, x: object, name: str = "x") -> torch.Tensor:
    """Validate an input batch for ``model``: a tensor of the dtype and on the device of the model's first
    parameter, whose last dimension is the first layer's ``in_features`` when the model is an ``nn.Sequential``
    that starts with an ``nn.Linear``, or an ``nn.Linear`` itself (where the first layer is surely applied first).
    Values are not checked (a diverged model is reported by its outputs). Returns ``x``."""
    p = next(model.parameters(), None)
    if p is None:
        return check_tensor(x, name, dtype="floating", finite=False)
    check_tensor(x, name, min_ndim=1, dtype=p.dtype, like=p, finite=False)
    first = model[0] if isinstance(model, nn.Sequential) and len(model) else model
    if isinstance(first, nn.Linear) and x.shape[-1] != first.in_features:
        raise ValueError(f"{name}: expected a last dimension of {first.in_features} (the model's in_features), "
                         f"got shape {tuple(x.shape)}")
    return x

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class BatchStats:
    """Gradient statistics of one mini-batch, one tensor per parameter.

    Attributes
    ----------
    loss : Tensor, shape ()
        Mean loss over the batch.
    grad : list of Tensor
        Mean gradient :math:`g`, each like its parameter.
    grad_sq : list of Tensor
        Mean of the per-sample squared gradients :math:`g^{(2)}` (>= ``grad**2`` entrywise).
    n : int
        Number of samples.
    curvature : list of Tensor or None
        Optional non-negative diagonal curvature estimate (mean over the samples).
    """

    loss: torch.Tensor
    grad: list[torch.Tensor]
    grad_sq: list[torch.Tensor]
    n: int
    curvature: list[torch.Tensor] | None = None


def per_sample_grads(model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor
                     ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Gradient of the loss of every sample, by ``vmap(grad(...))`` over the batch.

    Parameters
    ----------
    model : nn.Module
        Any model without batch-coupled layers (no batch norm in training mode).
    loss_fn : callable
        ``loss_fn(output, target)`` returning the mean loss of a batch (e.g.
        ``torch.nn.functional.cross_entropy``); it is applied to batches of one sample.
    x : Tensor, shape (n, ...)
        Inputs.
    y : Tensor, shape (n, ...)
        Targets.

    Returns
    -------
    losses : Tensor, shape (n,)
        Per-sample losses.
    grads : list of Tensor, each (n, *p.shape)
        Per-sample gradients, in the order of ``model.parameters()``.
    """
    check_tensor(x, "x", min_ndim=1, dtype="floating")
    check_model_input(model, x)
    check_tensor(y, "y", shape=(x.shape[0], "..."), like=x)
    names = [name for name, _ in model.named_parameters()]
    params = {name: p.detach() for name, p in model.named_parameters()}
    buffers = {name: b.detach() for name, b in model.named_buffers()}

    def sample_loss(p: dict, xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        out = torch.func.functional_call(model, (p, buffers), (xi.unsqueeze(0),))
        return loss_fn(out, yi.unsqueeze(0))

    grad_fn = torch.func.grad_and_value(sample_loss)
    grads, losses = torch.func.vmap(grad_fn, in_dims=(None, 0, 0))(params, x, y)
    return losses, [grads[name] for name in names]


def grad_moments(model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor) -> BatchStats:
    """Mean loss, mean gradient and mean squared per-sample gradient of a batch (any model).

    The mean gradient equals the gradient of the batch-mean loss; it is also written into
    ``p.grad`` so that the usual optimisers can step after this call.
    """
    losses, grads = per_sample_grads(model, loss_fn, x, y)
    mean = [g.mean(dim=0) for g in grads]
    for p, m in zip(model.parameters(), mean):
        p.grad = m.detach().clone()
    return BatchStats(loss=losses.mean(), grad=mean, grad_sq=[g.square().mean(dim=0) for g in grads],
                      n=int(x.shape[0]))
