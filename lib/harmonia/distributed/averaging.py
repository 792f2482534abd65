"""Elastic averaging for your own ``torchrun`` training script: :class:`ElasticAveraging`.

In the style of ``torch.distributed.algorithms.model_averaging``: wrap any model and optimizer, call
:meth:`ElasticAveraging.step` after ``optimizer.step()``, and every ``tau`` steps the ranks of the process
group run one synchronous EASGD exchange (Zhang, Choromanska, LeCun 2015) with a center variable
:math:`\\tilde x` that every rank keeps a replica of:

.. math:: d_i=\\alpha\\,(x^i_t-\\tilde x),\\qquad x^i\\leftarrow x^i-d_i,\\qquad
          \\tilde x\\leftarrow\\tilde x+\\sum_{i=1}^p d_i\\quad(\\text{one }\\texttt{all\\_reduce}),

with :math:`x^i_t` the parameters *before* this step's local update, as in the paper's synchronous
EASGD: the local step and the elastic pull are both computed from :math:`x^i_t` (an optimizer pre-hook
records :math:`d_i`). The replicas of :math:`\\tilde x` stay equal (every rank adds the same all-reduced
sum), and :math:`\\tilde x+\\sum_ix^i` is conserved by the exchange. With plain SGD this is the
simulation's :func:`harmonia.distributed.run_easgd` (``mode="sync"``) step for step; with
``torch.optim.SGD(momentum=delta, nesterov=True)`` it is EAMSGD (torch's form of Nesterov momentum, not
the simulation's Sutskever form: the same method, not the same rounding). With a
:class:`harmonia.optim.SAM` optimizer (``optimizer.step(closure)``) the workers take SAM steps: LSAM's workers
with a synchronous center, equal to ``run_easgd(mode="sync", rho=...)``.

Used in: chapter 02 (the README's torchrun example); chapter 04 (LSAM's workers).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.distributed as dist
from torch import nn

from harmonia.config import check_positive

__all__ = ["ElasticAveraging"]


class ElasticAveraging:
    """Synchronous elastic averaging (EASGD / EAMSGD) across the ranks of a process group.

    Parameters
    ----------
    params : nn.Module or iterable of tensors
        This rank's worker variable :math:`x^i` (a model's parameters). Every rank must pass tensors of
        the same shapes and dtypes; the center starts at rank 0's parameters, which are broadcast.
    optimizer : torch.optim.Optimizer
        The local optimizer of ``params`` (any); a step pre-hook records :math:`d_i` before its update.
    alpha : float, optional
        Moving rate :math:`\\alpha>0`; default :math:`\\beta/p`.
    beta : float
        :math:`\\beta=p\\alpha` when ``alpha`` is not given (0.9, the paper's choice).
    tau : int >= 1
        Communication period: an exchange every ``tau`` calls of :meth:`step` (the first at call 1).
    process_group : optional
        The group to average over (default: the whole world).

    Attributes
    ----------
    center : list of tensors
        :math:`\\tilde x`, same shapes as ``params`` (identical on every rank).
    steps : int
        Calls of :meth:`step` so far.
    """

    def __init__(self, params: nn.Module | Iterable[torch.Tensor], optimizer: torch.optim.Optimizer, *,
                 alpha: float | None = None, beta: float = 0.9, tau: int = 1, process_group=None) -> None:
        if not dist.is_available() or not dist.is_initialized():
            raise RuntimeError("ElasticAveraging: expected an initialised torch.distributed process group "
                               "(torchrun, or torch.distributed.init_process_group), got none")
        self.params = list(params.parameters() if isinstance(params, nn.Module) else params)
        if not self.params or not all(isinstance(p, torch.Tensor) for p in self.params):
            raise ValueError("params: expected a module or a non-empty iterable of tensors, got "
                             f"{len(self.params)} items")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer: expected a torch.optim.Optimizer, got {type(optimizer).__name__}")
        self.group = process_group
        self.world = dist.get_world_size(process_group)
        self.tau = int(check_positive(tau, "tau", integer=True))
        self.alpha = float(check_positive(beta, "beta")) / self.world if alpha is None else float(check_positive(alpha, "alpha"))
        src = dist.get_global_rank(process_group, 0) if process_group is not None else 0
        with torch.no_grad():
            for p in self.params:
                dist.broadcast(p.data, src=src, group=process_group)
        self.center = [p.detach().clone() for p in self.params]
        self.steps = 0
        self._pending: list[torch.Tensor] | None = None
        self._hook = optimizer.register_step_pre_hook(self._before_step)

    def _before_step(self, optimizer, args, kwargs) -> None:  # noqa: ARG002 - torch's hook signature
        if self.steps % self.tau == 0:
            self._pending = [self.alpha * (p.detach() - c) for p, c in zip(self.params, self.center)]

    @torch.no_grad()
    def step(self) -> bool:
        """Call after ``optimizer.step()``. Returns ``True`` when this call exchanged with the center."""
        exchanged = False
        if self.steps % self.tau == 0:
            if self._pending is None:
                raise RuntimeError("step: expected optimizer.step() before ElasticAveraging.step() (the elastic "
                                   "difference is taken before the local update), got none since the last exchange")
            flat = torch.cat([d.flatten() for d in self._pending])
            total = flat.clone()
            dist.all_reduce(total, op=dist.ReduceOp.SUM, group=self.group)
            offset = 0
            for p, c, d in zip(self.params, self.center, self._pending):
                p.sub_(d)
                c.add_(total[offset:offset + c.numel()].view_as(c))
                offset += c.numel()
            self._pending = None
            exchanged = True
        self.steps += 1
        return exchanged

    @torch.no_grad()
    def load_center_into(self, params: nn.Module | Iterable[torch.Tensor]) -> None:
        """Copy :math:`\\tilde x` into a model (or tensors) of the same shapes: the model to evaluate."""
        targets = list(params.parameters() if isinstance(params, nn.Module) else params)
        if [t.shape for t in targets] != [c.shape for c in self.center]:
            raise ValueError("params: expected the shapes of the averaged parameters, got "
                             f"{[tuple(t.shape) for t in targets]}")
        for t, c in zip(targets, self.center):
            t.copy_(c)

    def remove(self) -> None:
        """Detach from the optimizer (removes the step pre-hook)."""
        self._hook.remove()
