"""Diagonal curvature estimates for vSGD: bbprop, finite differences, and exact references.

**bbprop** (Becker & LeCun 1989) back-propagates second derivatives with squared weights and drops
the off-diagonal terms, giving a non-negative estimate of the Gauss-Newton diagonal. For layers
:math:`a^{(l)}=W^{(l)}z^{(l-1)}+b^{(l)}`, :math:`z^{(l)}=f(a^{(l)})`:

.. math:: \\frac{\\partial^2\\ell}{\\partial z_j^{(l-1)2}}\\approx\\sum_k\\big(W^{(l)}_{kj}\\big)^2
          \\frac{\\partial^2\\ell}{\\partial a_k^{(l)2}},\\qquad
          \\frac{\\partial^2\\ell}{\\partial a_j^{(l-1)2}}\\approx f'(a_j^{(l-1)})^2
          \\frac{\\partial^2\\ell}{\\partial z_j^{(l-1)2}},\\qquad
          \\hat h_{W_{kj}}=\\big(z_j^{(l-1)}\\big)^2\\frac{\\partial^2\\ell}{\\partial a_k^{(l)2}},

starting from :math:`p_k(1-p_k)` (softmax cross-entropy) or 1 (squared error) at the output.
The same pass gives the mean gradient and the mean of the per-sample squared gradients
(:math:`g^{(2)}_{W_{kj}}=\\frac1n\\sum_i \\delta_{ik}^2 z_{ij}^2`), so one call returns everything
vSGD needs.

**Finite differences** (vSGD-fd, Schaul & LeCun 2013): with the same samples,
:math:`\\hat h_i=|\\nabla_i L(\\theta+\\delta)-\\nabla_i L(\\theta)|/|\\delta_i|`; works for any model,
including non-smooth losses.

Used in: chapter 01.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from harmonia.config import check_finite, check_in, check_tensor
from harmonia.nn.flat import FlatParams
from harmonia.nn.grad_stats import BatchStats, check_model_input

__all__ = ["LOSSES", "sequential_batch_stats", "bbprop_diag", "fd_diag", "exact_hessian_diag",
           "gauss_newton_diag"]

LOSSES = ("ce", "mse")

# elementwise activations: derivative as a function of (pre-activation a, output z)
_ACTIVATIONS: dict[type, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    nn.Tanh: lambda a, z: 1.0 - z.square(),
    nn.Sigmoid: lambda a, z: z * (1.0 - z),
    nn.ReLU: lambda a, z: (a > 0).to(a.dtype),
    nn.Identity: lambda a, z: torch.ones_like(a),
}


def _check_sequential(model: nn.Module) -> None:
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model: expected an nn.Sequential of Linear layers and activations, got {type(model).__name__}")
    for k, layer in enumerate(model):
        if not isinstance(layer, nn.Linear) and type(layer) not in _ACTIVATIONS:
            allowed = ", ".join(t.__name__ for t in _ACTIVATIONS)
            raise TypeError(f"model[{k}]: expected nn.Linear or an activation ({allowed}), got {type(layer).__name__}")


def _output_derivatives(out: torch.Tensor, y: torch.Tensor, loss: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample loss, first and (diagonal, Gauss-Newton) second derivative at the output."""
    if loss == "ce":
        check_tensor(y, "y", shape=(out.shape[0],), dtype="integer", like=out)
        logp = torch.log_softmax(out, dim=1)
        p = logp.exp()
        onehot = torch.nn.functional.one_hot(y, out.shape[1]).to(out.dtype)
        return -(logp * onehot).sum(dim=1), p - onehot, p * (1.0 - p)
    check_tensor(y, "y", shape=tuple(out.shape), dtype=out.dtype, like=out)
    r = out - y
    return 0.5 * r.square().sum(dim=1), r, torch.ones_like(out)


@torch.no_grad()
def sequential_batch_stats(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor, loss: str = "ce",
                           curvature: bool = True) -> BatchStats:
    """Loss, mean gradient, mean squared per-sample gradient and bbprop curvature in one pass.

    Parameters
    ----------
    model : nn.Sequential
        ``nn.Linear`` layers and elementwise activations (Tanh, Sigmoid, ReLU, Identity).
    x : Tensor, shape (n, d_in)
        Inputs.
    y : Tensor
        Class labels (n,) for ``loss="ce"`` (softmax cross-entropy), targets (n, d_out) for
        ``loss="mse"`` (:math:`\\frac12\\|a-y\\|^2` per sample).
    loss : {"ce", "mse"}
        Per-sample loss; the batch loss is the mean.
    curvature : bool
        Also compute the bbprop estimate (mean over the batch, not divided by ``n``).

    Returns
    -------
    BatchStats
        Lists in the order of ``model.parameters()``; ``p.grad`` is also set to the mean gradient.
    """
    _check_sequential(model)
    check_in(loss, "loss", LOSSES)
    check_tensor(x, "x", ndim=2, dtype="floating", nonempty=True)
    check_model_input(model, x)
    n = x.shape[0]
    acts, z = [], x  # (layer, input z, pre-activation a, output)
    for layer in model:
        out = layer(z)
        acts.append((layer, z, out))
        z = out
    losses, delta, curv = _output_derivatives(z, y, loss)
    grads, sqs, hs = {}, {}, {}
    # backward: delta = dl/d(output of the layer), curv = d2l/d(output)^2 (Gauss-Newton, diagonal)
    for layer, z_in, z_out in reversed(acts):
        if isinstance(layer, nn.Linear):
            d_out = delta.shape[1]
            grads[id(layer.weight)] = delta.T @ z_in / n
            delta_sq = delta.square()
            # one product for the squared gradients and the curvature: [delta^2, curv]^T z_in^2
            second = (torch.cat([delta_sq, curv], dim=1) if curvature else delta_sq).T @ z_in.square() / n
            sqs[id(layer.weight)] = second[:d_out]
            if curvature:
                hs[id(layer.weight)] = second[d_out:]
            if layer.bias is not None:
                grads[id(layer.bias)] = delta.mean(dim=0)
                sqs[id(layer.bias)] = delta_sq.mean(dim=0)
                if curvature:
                    hs[id(layer.bias)] = curv.mean(dim=0)
            delta = delta @ layer.weight
            if curvature:
                curv = curv @ layer.weight.square()
        else:
            fprime = _ACTIVATIONS[type(layer)](z_in, z_out)      # the layer's output, kept from the forward pass
            delta = delta * fprime
            if curvature:
                curv = curv * fprime.square()
    params = list(model.parameters())
    for p in params:
        p.grad = grads[id(p)].clone()
    return BatchStats(loss=losses.mean(), grad=[grads[id(p)] for p in params], grad_sq=[sqs[id(p)] for p in params],
                      n=n, curvature=[hs[id(p)] for p in params] if curvature else None)


def bbprop_diag(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor, loss: str = "ce") -> list[torch.Tensor]:
    """The bbprop curvature estimate, one non-negative tensor like each parameter (batch mean).

    Exact Hessian diagonal :math:`x_j^2p_k(1-p_k)` for softmax regression; the exact Gauss-Newton
    diagonal for a one-hidden-layer network with squared error.
    """
    return sequential_batch_stats(model, x, y, loss=loss, curvature=True).curvature


@torch.no_grad()
def fd_diag(grad_fn: Callable[[], Sequence[torch.Tensor]], params: Sequence[torch.Tensor],
            direction: Sequence[torch.Tensor], grads: Sequence[torch.Tensor] | None = None,
            eps: float = 1e-9) -> list[torch.Tensor]:
    """Finite-difference curvature :math:`|\\nabla L(\\theta+\\delta)-\\nabla L(\\theta)|/|\\delta|`, entrywise.

    Parameters
    ----------
    grad_fn : callable
        Returns the gradients (one tensor per parameter) at the parameters' current values,
        on the *same* samples at every call.
    params : sequence of Tensor
        The parameters; shifted in place by ``direction`` for one call and restored exactly.
    direction : sequence of Tensor
        The probe step :math:`\\delta` (vSGD-fd uses :math:`\\bar g`); entries are moved away
        from zero by ``eps`` (keeping their sign) before use.
    grads : sequence of Tensor, optional
        The gradients at :math:`\\theta` if already known (saves one call).
    eps : float
        Smallest probe step magnitude.
    """
    if len(direction) != len(params):
        raise ValueError(f"direction: expected {len(params)} tensors (one per parameter), got {len(direction)}")
    check_finite(eps, "eps")
    base = [g.detach().clone() for g in (grad_fn() if grads is None else grads)]
    steps = [torch.where(d >= 0, d + eps, d - eps) for d in direction]
    saved = [p.detach().clone() for p in params]
    try:
        for p, s in zip(params, steps):
            p.add_(s)
        shifted = [g.detach().clone() for g in grad_fn()]
    finally:
        for p, v in zip(params, saved):
            p.copy_(v)
    return [(gs - g0).abs() / s.abs() for gs, g0, s in zip(shifted, base, steps)]


def _functional_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str):
    check_tensor(x, "x", ndim=2, dtype="floating", nonempty=True)
    check_model_input(model, x)
    flat = FlatParams(model)

    def out_fn(theta: torch.Tensor) -> torch.Tensor:
        return flat.call(theta, x)

    def loss_fn(theta: torch.Tensor) -> torch.Tensor:
        return _output_derivatives(out_fn(theta), y, loss)[0].mean()

    return flat.flatten(), out_fn, loss_fn, flat.unflatten


def exact_hessian_diag(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str = "ce") -> list[torch.Tensor]:
    """Diagonal of the exact Hessian of the batch-mean loss (``torch.func.hessian``; tiny models only)."""
    check_in(loss, "loss", LOSSES)
    theta0, _, loss_fn, unflatten = _functional_loss(model, x, y, loss)
    diag = torch.func.hessian(loss_fn)(theta0).diagonal()
    return list(unflatten(diag).values())


def gauss_newton_diag(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str = "ce") -> list[torch.Tensor]:
    """Diagonal of the Gauss-Newton matrix :math:`\\frac1n\\sum_i J_i^\\top H_{\\ell,i}J_i` from autograd Jacobians.

    :math:`H_\\ell=\\operatorname{diag}(p)-pp^\\top` for softmax cross-entropy, the identity for squared
    error. Tiny models only (the per-sample Jacobians are materialised).
    """
    check_in(loss, "loss", LOSSES)
    theta0, out_fn, _, unflatten = _functional_loss(model, x, y, loss)
    J = torch.func.jacrev(out_fn)(theta0)  # (n, out, P)
    if loss == "ce":
        p = torch.softmax(out_fn(theta0), dim=1)
        H = torch.diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1)
    else:
        H = torch.eye(J.shape[1], dtype=J.dtype, device=J.device).expand(J.shape[0], -1, -1)
    diag = torch.einsum("nkp,nkl,nlp->p", J, H, J) / J.shape[0]
    return list(unflatten(diag).values())
