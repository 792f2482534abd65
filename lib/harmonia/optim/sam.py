"""Sharpness-aware minimisation (SAM, Foret et al. 2021) and its adaptive variant (ASAM, Kwon et al. 2021).

SAM minimises :math:`f^{\\rm SAM}_\\rho(w)=\\max_{\\|\\epsilon\\|\\le\\rho}f(w+\\epsilon)`. Its first-order
inner solution on the current mini-batch gradient :math:`g` is

.. math:: \\hat\\epsilon = \\rho\\,\\frac{g}{\\|g\\|+\\gamma}

(the norm runs over *all* parameters together), and the update feeds the gradient measured at
:math:`w+\\hat\\epsilon` -- with :math:`\\hat\\epsilon` held constant -- to a base optimizer. ASAM scales
the ball by :math:`T_w=|w|+\\eta_a`: :math:`\\hat\\epsilon=\\rho\\,T_w^2 g/(\\|T_w g\\|+\\gamma)`.

- :func:`sam_perturbation` -- :math:`\\hat\\epsilon` from gradients (the one implementation, also used by the
  distributed engines);
- :class:`SAM` -- a ``torch.optim.Optimizer`` wrapping any base optimizer: ``step(closure)`` runs the two
  passes on the same batch, or call ``first_step`` / ``second_step`` yourself.

Used in: chapter 04.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import torch

from harmonia.config import check_positive

__all__ = ["sam_perturbation", "SAM"]


def sam_perturbation(grads: Sequence[torch.Tensor], rho: float | Sequence[float], gamma: float = 1e-12, *,
                     params: Sequence[torch.Tensor] | None = None, adaptive_eta: float | None = None) -> list[torch.Tensor]:
    """The ascent step :math:`\\hat\\epsilon` of SAM (or ASAM) for each tensor of ``grads``.

    Parameters
    ----------
    grads : sequence of tensors
        The mini-batch gradient, one tensor per parameter (any shapes).
    rho : float or sequence of float
        Radius, one for all tensors or one per tensor (per parameter group in :class:`SAM`).
    gamma : float
        The constant in the denominator, :math:`\\|g\\|+\\gamma` (default ``1e-12``).
    params : sequence of tensors, optional
        The parameters, required for ASAM.
    adaptive_eta : float, optional
        ``None`` for SAM; a number :math:`\\eta_a\\ge0` for ASAM with :math:`T_w=|w|+\\eta_a`.

    Returns
    -------
    list of tensors
        :math:`\\hat\\epsilon`, shaped like ``grads``: ``rho g / (||g|| + gamma)`` for SAM,
        ``rho T^2 g / (||T g|| + gamma)`` for ASAM, with one global norm over all tensors.
    """
    grads = list(grads)
    if not grads:
        raise ValueError("grads: expected at least one tensor, got none")
    rhos = [rho] * len(grads) if isinstance(rho, (int, float)) else list(rho)
    if len(rhos) != len(grads):
        raise ValueError(f"rho: expected one radius or {len(grads)}, got {len(rhos)}")
    for r in rhos:
        check_positive(r, "rho", allow_zero=True)
    check_positive(gamma, "gamma", allow_zero=True)
    if adaptive_eta is None:
        scales = [None] * len(grads)
    else:
        check_positive(adaptive_eta, "adaptive_eta", allow_zero=True)
        if params is None or len(params) != len(grads):
            raise ValueError("params: ASAM (adaptive_eta set) needs the parameters, one per gradient")
        scales = [p.detach().abs() + adaptive_eta for p in params]
    scaled = [g if s is None else s * g for g, s in zip(grads, scales)]
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in scaled]))
    return [(r / (norm + gamma)) * (sg if s is None else s * sg) for sg, s, r in zip(scaled, scales, rhos)]


class SAM(torch.optim.Optimizer):
    """SAM or ASAM around any base optimizer.

    Parameters
    ----------
    params : iterable of tensors or of dicts
        Parameters or parameter groups (a group may set its own ``rho`` and ``adaptive``).
    base_optimizer : type or callable
        E.g. ``torch.optim.SGD``; called as ``base_optimizer(self.param_groups, **base_kwargs)``, so it
        shares the groups (attach learning-rate schedulers to ``sam.base_optimizer``).
    rho : float
        Radius of the ball (default 0.05); ``rho=0`` makes every step the base optimizer's step.
    gamma : float
        Constant of the normalisation :math:`\\|g\\|+\\gamma` (default ``1e-12``).
    adaptive : bool
        ASAM's scaling :math:`T_w=|w|+\\eta_a` (default ``False``).
    adaptive_eta : float
        ASAM's :math:`\\eta_a` (default 0, as in the common PyTorch port).
    **base_kwargs
        Passed to the base optimizer (``lr``, ``momentum``, ``weight_decay``, ...).

    Examples
    --------
    >>> model = torch.nn.Linear(3, 1)
    >>> opt = SAM(model.parameters(), torch.optim.SGD, rho=0.05, lr=0.1)
    >>> x, y = torch.randn(8, 3), torch.randn(8, 1)
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = torch.nn.functional.mse_loss(model(x), y)
    ...     loss.backward()
    ...     return loss
    >>> loss = opt.step(closure)  # two forward/backward passes on the same batch
    """

    def __init__(self, params: Iterable[torch.Tensor] | Iterable[dict], base_optimizer: Callable[..., torch.optim.Optimizer],
                 rho: float = 0.05, gamma: float = 1e-12, adaptive: bool = False, adaptive_eta: float = 0.0,
                 **base_kwargs) -> None:
        check_positive(rho, "rho", allow_zero=True)
        check_positive(gamma, "gamma", allow_zero=True)
        check_positive(adaptive_eta, "adaptive_eta", allow_zero=True)
        if "lr" in base_kwargs and not isinstance(base_kwargs["lr"], torch.Tensor):
            check_positive(base_kwargs["lr"], "lr", allow_zero=True)
        if not isinstance(adaptive, bool):
            raise TypeError(f"adaptive: expected a bool, got {type(adaptive).__name__}")
        if not callable(base_optimizer):
            raise TypeError(f"base_optimizer: expected an optimizer class such as torch.optim.SGD, got {base_optimizer!r}")
        super().__init__(params, {"rho": float(rho), "adaptive": adaptive, "adaptive_eta": float(adaptive_eta)})
        for group in self.param_groups:
            check_positive(group["rho"], "rho", allow_zero=True)
        self.gamma = float(gamma)
        self.base_optimizer = base_optimizer(self.param_groups, **base_kwargs)
        if not isinstance(self.base_optimizer, torch.optim.Optimizer):
            raise TypeError(f"base_optimizer: expected it to build a torch.optim.Optimizer, got {type(self.base_optimizer).__name__}")
        self.param_groups = self.base_optimizer.param_groups
        self.defaults.update(self.base_optimizer.defaults)

    def _with_grads(self) -> list[tuple[dict, torch.Tensor]]:
        return [(g, p) for g in self.param_groups for p in g["params"] if p.grad is not None]

    @torch.no_grad()
    def first_step(self, zero_grad: bool = True) -> None:
        """Move every parameter with a gradient to :math:`w+\\hat\\epsilon` (remembering :math:`w`)."""
        pairs = self._with_grads()
        if not pairs:
            raise RuntimeError("SAM.first_step: no parameter has a gradient; call loss.backward() first")
        adaptive = {g["adaptive"] for g, _ in pairs}
        if len(adaptive) > 1:
            raise ValueError("adaptive: expected the same value in every parameter group, got both")
        etas = {g["adaptive_eta"] for g, _ in pairs}
        eta = etas.pop() if adaptive.pop() else None
        if eta is not None and etas:
            raise ValueError("adaptive_eta: expected the same value in every parameter group")
        eps = sam_perturbation([p.grad for _, p in pairs], [g["rho"] for g, _ in pairs], self.gamma,
                               params=[p for _, p in pairs], adaptive_eta=eta)
        for (_, p), e in zip(pairs, eps):
            self.state[p]["old_p"] = p.detach().clone()
            p.add_(e)
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def second_step(self, zero_grad: bool = True) -> None:
        """Restore :math:`w` exactly and take the base optimizer's step with the gradient measured at
        :math:`w+\\hat\\epsilon`."""
        moved = [p for g in self.param_groups for p in g["params"] if "old_p" in self.state[p]]
        if not moved:
            raise RuntimeError("SAM.second_step: call first_step() before second_step()")
        for p in moved:
            p.copy_(self.state[p].pop("old_p"))
        self.base_optimizer.step()
        if zero_grad:
            self.zero_grad()

    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor:  # type: ignore[override]
        """One SAM step; ``closure`` must zero the gradients, compute the loss on a batch, call
        ``backward()`` and return the loss. It is called twice, on the same batch; the first loss is returned."""
        if closure is None:
            raise ValueError("closure: SAM needs a closure that recomputes the loss on the same batch, got None")
        with torch.enable_grad():
            loss = closure()
        if not math.isfinite(float(loss.detach() if isinstance(loss, torch.Tensor) else loss)):
            raise FloatingPointError(f"SAM.step: the loss is {loss}, not a finite number")
        self.first_step(zero_grad=True)
        try:
            with torch.enable_grad():
                closure()
        except BaseException:  # e.g. KeyboardInterrupt at w + eps: put the parameters back at w, step not taken
            self._restore()
            raise
        self.second_step()
        return loss

    @torch.no_grad()
    def _restore(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if "old_p" in self.state[p]:
                    p.copy_(self.state[p].pop("old_p"))

    def state_dict(self) -> dict:
        """The base optimizer's state dict (its momentum buffers, ...); the groups carry ``rho`` and
        ``adaptive``. SAM keeps no state between steps."""
        return self.base_optimizer.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self.base_optimizer.load_state_dict(state_dict)
        self.param_groups = self.base_optimizer.param_groups
