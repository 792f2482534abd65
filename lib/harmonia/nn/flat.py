"""A model's parameters as one flat vector, and back: what second-order tools and simulated
workers need to treat a network as a function of :math:`\\theta\\in\\mathbb R^n`.

Used in: chapter 01 (exact Hessian and Gauss-Newton references), chapter 02 (worker stacks).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FlatParams"]


class FlatParams:
    """The flat layout of ``model``'s parameters (in ``model.named_parameters()`` order).

    ``flatten()`` returns the current parameters as a vector (n,); ``unflatten(theta)`` returns a
    ``{name: view}`` dict for ``torch.func.functional_call``; ``call(theta, *inputs)`` evaluates
    the model at ``theta`` without touching its parameters.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.names = [name for name, _ in model.named_parameters()]
        self.shapes = [p.shape for p in model.parameters()]
        self.sizes = [p.numel() for p in model.parameters()]

    @property
    def n(self) -> int:
        return sum(self.sizes)

    def flatten(self) -> torch.Tensor:
        """The model's current parameters, detached, as one vector (n,)."""
        return torch.cat([p.detach().reshape(-1) for p in self.model.parameters()])

    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views of ``theta`` (n,) shaped like each parameter, keyed by name."""
        if theta.shape != (self.n,):
            raise ValueError(f"theta: expected shape ({self.n},), got {tuple(theta.shape)}")
        return {nm: t.view(sh) for nm, t, sh in zip(self.names, torch.split(theta, self.sizes), self.shapes)}

    def call(self, theta: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
        """``model(*inputs)`` with the parameters ``theta`` (differentiable in ``theta``)."""
        buffers = dict(self.model.named_buffers())
        return torch.func.functional_call(self.model, (self.unflatten(theta), buffers), inputs)
