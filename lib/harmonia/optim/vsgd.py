"""vSGD: variance-based SGD with adaptive learning rates and adaptive memory (Schaul, Zhang & LeCun 2013).

On a noisy quadratic bowl the step size that minimises the expected loss after the next step is

.. math:: \\eta_i^\\star=\\frac{1}{h_i}\\,\\frac{(\\mathbb E\\nabla_i)^2}{\\mathbb E[\\nabla_i^2]}
          \\quad\\text{(one sample)},\\qquad
          \\eta_i^\\star=\\frac{n\\,\\bar g_i^2}{\\bar h_i\\,(\\bar v_i+(n-1)\\bar g_i^2)}
          \\quad\\text{(mini-batch of } n\\text{, per-sample statistics)}.

vSGD tracks the three unknowns by exponential moving averages whose memory :math:`\\tau_i` adapts:

.. math:: \\bar g\\leftarrow(1-\\tau^{-1})\\bar g+\\tau^{-1}\\nabla,\\quad
          \\bar v\\leftarrow(1-\\tau^{-1})\\bar v+\\tau^{-1}\\nabla^2,\\quad
          \\bar h\\leftarrow(1-\\tau^{-1})\\bar h+\\tau^{-1}\\hat h,\\\\
          r=\\frac{n\\bar g^2}{\\bar v+(n-1)\\bar g^2},\\quad \\eta=\\frac{r}{\\bar h},\\quad
          \\tau\\leftarrow(1-r)\\,\\tau+1,\\quad \\theta\\leftarrow\\theta-\\eta\\,\\nabla .

Variants: ``"l"`` one rate and one memory per coordinate; ``"b"`` one per block of coordinates
(sums of :math:`\\bar g^2` and :math:`\\bar v` over the block, the block's largest :math:`\\bar h`);
``"g"`` a single block. The finite-difference variant (vSGD-fd, Schaul & LeCun 2013) keeps
:math:`\\bar v^h`, the moving average of :math:`\\hat h^2`, and divides by :math:`\\bar v^h/\\bar h`
instead of :math:`\\bar h`.

Two faces of one algorithm:

- the functional core :func:`vsgd_init` / :func:`vsgd_step` works on flat tensors of shape
  (..., d) with any leading "trials" axes (the noisy-quadratic experiments vectorise 400 runs);
- :class:`VSGD` is a :class:`torch.optim.Optimizer` built on that core, for any model.

Used in: chapter 01.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from harmonia.config import check_finite, check_in, check_positive, check_tensor
from harmonia.nn.grad_stats import BatchStats

__all__ = ["VARIANTS", "CURVATURES", "VSGDState", "vsgd_init", "vsgd_step", "block_index", "VSGD"]

VARIANTS = ("l", "b", "g")
CURVATURES = ("bbprop", "fd")


@dataclass(frozen=True)
class VSGDState:
    """The running statistics of vSGD on a flat parameter vector.

    Attributes
    ----------
    gbar, vbar, hbar : Tensor, shape (..., d)
        Moving averages of the gradient, of the per-sample squared gradient and of the curvature.
    tau : Tensor, shape (..., d) for vSGD-l, (..., B) for B blocks
        Memory sizes (time constants), always >= 1.
    vhbar : Tensor (..., d) or None
        Moving average of the squared curvature estimate (finite-difference variant only).
    t : int
        Number of updates done since the initialisation.
    """

    gbar: torch.Tensor
    vbar: torch.Tensor
    hbar: torch.Tensor
    tau: torch.Tensor
    vhbar: torch.Tensor | None = None
    t: int = 0


def block_index(sizes: Sequence[int], device: torch.device | str = "cpu") -> torch.Tensor:
    """Block label of every coordinate for consecutive blocks of the given sizes.

    ``block_index([2, 3])`` is ``tensor([0, 0, 1, 1, 1])``: the flat layout of two parameter
    tensors with 2 and 3 entries, one block each (vSGD-b's default).
    """
    if len(sizes) == 0:
        raise ValueError("sizes: expected at least one block size, got an empty sequence")
    for k, s in enumerate(sizes):
        check_positive(s, f"sizes[{k}]", integer=True)
    counts = torch.as_tensor(list(sizes), device=device)
    return torch.repeat_interleave(torch.arange(len(sizes), device=device), counts)


def _n_blocks(blocks: torch.Tensor | None) -> int | None:
    return None if blocks is None else int(blocks.max()) + 1


def _block_sum(x: torch.Tensor, blocks: torch.Tensor, n_blocks: int) -> torch.Tensor:
    out = torch.zeros(*x.shape[:-1], n_blocks, dtype=x.dtype, device=x.device)
    return out.index_add_(-1, blocks, x)


def _block_max(x: torch.Tensor, blocks: torch.Tensor, n_blocks: int) -> torch.Tensor:
    out = torch.zeros(*x.shape[:-1], n_blocks, dtype=x.dtype, device=x.device)
    idx = blocks.expand_as(x)
    return out.scatter_reduce_(-1, idx, x, reduce="amax", include_self=False)


def _check_blocks(blocks: torch.Tensor | None, d: int, like: torch.Tensor) -> None:
    if blocks is None:
        return
    check_tensor(blocks, "blocks", shape=(d,), dtype="integer", like=like)
    if int(blocks.min()) != 0 or torch.unique(blocks).numel() != int(blocks.max()) + 1:
        raise ValueError(
            "blocks: expected labels 0..B-1 with every label used, "
            f"got labels from {int(blocks.min())} to {int(blocks.max())}"
        )


def vsgd_init(
    g_samples: torch.Tensor,
    g2_samples: torch.Tensor,
    h_samples: torch.Tensor,
    *,
    C: float = 1.0,
    tau0: float | None = None,
    blocks: torch.Tensor | None = None,
    fd: bool = False,
    eps: float = 0.0,
) -> VSGDState:
    """Slow start: initialise the statistics from ``n0`` draws taken at the starting point.

    .. math:: \\bar g=\\operatorname{mean}_k g_k,\\quad \\bar v=C\\,(\\operatorname{mean}_k g^2_k+\\varepsilon),
              \\quad \\bar h=\\operatorname{mean}_k \\hat h_k,\\quad \\tau=\\tau_0 .

    Over-estimating :math:`\\bar v` by :math:`C\\ge1` makes the first rates small and the first memory
    updates conservative.

    Parameters
    ----------
    g_samples : Tensor, shape (n0, ..., d)
        Mean gradient of each warm-up draw (a draw may be a mini-batch).
    g2_samples : Tensor, shape (n0, ..., d)
        Mean of the per-sample squared gradients of each draw (equal to ``g_samples**2`` when a
        draw is a single sample).
    h_samples : Tensor, shape (n0, ..., d)
        Non-negative curvature estimate of each draw.
    C : float
        Slow-start over-estimation factor, >= 1.
    tau0 : float, optional
        Initial memory (default ``n0``), >= 1.
    blocks : LongTensor, shape (d,), optional
        Block label 0..B-1 of each coordinate (vSGD-b/-g); ``None`` for vSGD-l.
    fd : bool
        Keep :math:`\\bar v^h` for the finite-difference variant.
    eps : float
        Added to the second moments before the factor ``C``.

    Notes
    -----
    ``n0 = 1`` is allowed but degenerate for single-sample draws: then :math:`\\bar v=\\bar g^2`,
    the rate is pinned at :math:`1/h` and the memory stays near 1 (the update
    :math:`\\tau\\leftarrow(1-\\bar g^2/\\bar v)\\tau+1` gives :math:`\\tau=1`), which is why Schaul, Zhang &
    LeCun (2013) initialise from several samples ("slow start"); chapter 01 shows it.
    """
    check_tensor(g_samples, "g_samples", min_ndim=2, dtype="floating")
    check_tensor(g2_samples, "g2_samples", shape=tuple(g_samples.shape), dtype=g_samples.dtype, like=g_samples)
    check_tensor(h_samples, "h_samples", shape=tuple(g_samples.shape), dtype=g_samples.dtype, like=g_samples)
    if bool((h_samples < 0).any()):
        raise ValueError("h_samples: expected non-negative curvature estimates, got negative entries")
    if bool((g2_samples < 0).any()):
        raise ValueError("g2_samples: expected non-negative squared gradients, got negative entries")
    if not C >= 1:
        raise ValueError(f"C: expected a slow-start factor >= 1, got {C}")
    n0 = g_samples.shape[0]
    tau0 = float(n0) if tau0 is None else float(tau0)
    if not tau0 >= 1:
        raise ValueError(f"tau0: expected a memory >= 1, got {tau0}")
    d = g_samples.shape[-1]
    _check_blocks(blocks, d, g_samples)
    gbar = g_samples.mean(dim=0)
    vbar = C * (g2_samples.mean(dim=0) + eps)
    hbar = h_samples.mean(dim=0)
    vhbar = C * (h_samples.square().mean(dim=0) + eps) if fd else None
    tau_shape = gbar.shape if blocks is None else (*gbar.shape[:-1], _n_blocks(blocks))
    tau = torch.full(tau_shape, tau0, dtype=gbar.dtype, device=gbar.device)
    return VSGDState(gbar=gbar, vbar=vbar, hbar=hbar, tau=tau, vhbar=vhbar, t=0)


def vsgd_step(
    state: VSGDState,
    g: torch.Tensor,
    g2: torch.Tensor,
    h: torch.Tensor,
    n: int = 1,
    *,
    blocks: torch.Tensor | None = None,
    eps: float = 1e-9,
    outlier_sigma: float | None = None,
) -> tuple[VSGDState, torch.Tensor]:
    """One vSGD update of the statistics; returns the new state and the learning rates.

    The order follows the authors' code: (outlier rule) -> moving averages -> rate -> memory.
    The caller then moves the parameters: :math:`\\theta\\leftarrow\\theta-\\eta\\,g`.

    Parameters
    ----------
    state : VSGDState
        Statistics of shape (..., d) (``tau`` (..., B) with blocks).
    g : Tensor, shape (..., d)
        Mean gradient of the current draw of ``n`` samples.
    g2 : Tensor, shape (..., d)
        Mean of the per-sample squared gradients of the draw (``g**2`` when ``n = 1``).
    h : Tensor, shape (..., d)
        Non-negative curvature estimate of the draw (mean over its samples, not divided by ``n``).
    n : int
        Number of samples in the draw (the mini-batch formula; ``n = 1`` is the base formula).
    blocks : LongTensor, shape (d,), optional
        Block labels (vSGD-b/-g), as in :func:`vsgd_init`.
    eps : float
        Guard added to the denominators (use 0 to check exact invariances).
    outlier_sigma : float, optional
        vSGD-fd's outlier rule: where :math:`|g-\\bar g|` exceeds ``outlier_sigma`` standard
        deviations of a draw's mean (or :math:`\\hat h` is that far from :math:`\\bar h`), the memory
        grows by one before the update. Per-coordinate variant only.

    Returns
    -------
    state : VSGDState
    lr : Tensor, shape (..., d)
        The learning rate of every coordinate (block rates repeated over their coordinates).
    """
    d = state.gbar.shape[-1]
    for name, x in (("g", g), ("g2", g2), ("h", h)):
        check_tensor(x, name, shape=tuple(state.gbar.shape), dtype=state.gbar.dtype, like=state.gbar)
    n = check_positive(n, "n", integer=True)
    check_finite(eps, "eps")
    _check_blocks(blocks, d, state.gbar)
    nb = _n_blocks(blocks)
    expected_tau = tuple(state.gbar.shape) if blocks is None else (*state.gbar.shape[:-1], nb)
    if tuple(state.tau.shape) != expected_tau:
        raise ValueError(
            f"blocks: expected the state's memory shape {tuple(state.tau.shape)} to match "
            f"{'per-coordinate' if blocks is None else f'{nb} blocks'}, i.e. {expected_tau}"
        )
    if outlier_sigma is not None:
        if blocks is not None:
            raise ValueError("outlier_sigma: expected None for the block variants, got a value (vSGD-l only)")
        check_positive(outlier_sigma, "outlier_sigma")
    return vsgd_update(state, g, g2, h, n, blocks, nb, eps, outlier_sigma)


def vsgd_update(state: VSGDState, g: torch.Tensor, g2: torch.Tensor, h: torch.Tensor, n: int,
                blocks: torch.Tensor | None, nb: int | None, eps: float, outlier_sigma: float | None) -> tuple[VSGDState, torch.Tensor]:
    """:func:`vsgd_step` without the argument checks: the update shared by :class:`VSGD` and the
    noisy-quadratic runners of :mod:`harmonia.optim.quadratic`, which validate once per run."""
    tau = state.tau
    if outlier_sigma is not None:
        spread = ((state.vbar - state.gbar.square()).clamp_min(0) / n).sqrt()
        outlier = (g - state.gbar).abs() > outlier_sigma * spread
        if state.vhbar is not None:
            h_spread = (state.vhbar - state.hbar.square()).clamp_min(0).sqrt()
            outlier = outlier | ((h - state.hbar).abs() > outlier_sigma * h_spread)
        tau = tau + outlier.to(tau.dtype)

    w = 1.0 / (tau if blocks is None else tau[..., blocks])
    gbar = state.gbar + w * (g - state.gbar)
    vbar = state.vbar + w * (g2 - state.vbar)
    hbar = state.hbar + w * (h - state.hbar)
    vhbar = None if state.vhbar is None else state.vhbar + w * (h.square() - state.vhbar)

    # effective curvature: hbar, or vhbar/hbar for the finite-difference variant
    curv = hbar if vhbar is None else vhbar / (hbar + eps)
    G, V = gbar.square(), vbar
    if blocks is not None:
        G, V = _block_sum(G, blocks, nb), _block_sum(V, blocks, nb)
        curv = _block_max(curv, blocks, nb)
    r = n * G / (V + (n - 1) * G + eps)
    lr = r / (curv + eps)
    tau = (1.0 - r) * tau + 1.0
    if blocks is not None:
        lr = lr[..., blocks]
    new = VSGDState(gbar=gbar, vbar=vbar, hbar=hbar, tau=tau, vhbar=vhbar, t=state.t + 1)
    return new, lr


# ---------------------------------------------------------------------------------------------
# The optimizer
# ---------------------------------------------------------------------------------------------
Closure = Callable[[], "torch.Tensor | BatchStats"]


class VSGD(torch.optim.Optimizer):
    """vSGD as a :class:`torch.optim.Optimizer`: no learning rate to tune.

    Parameters
    ----------
    params : iterable of Tensor or dict
        The parameters (all param groups share the same vSGD settings).
    variant : {"l", "b", "g"}
        One rate per coordinate, per parameter tensor (block), or one global rate.
    curvature : {"bbprop", "fd"}
        ``"bbprop"``: the closure supplies a non-negative diagonal curvature estimate in a
        :class:`~harmonia.nn.grad_stats.BatchStats` (e.g. from
        :func:`harmonia.optim.curvature.sequential_batch_stats`). ``"fd"``: finite differences
        along :math:`\\bar g`, computed by calling the closure a second time at
        :math:`\\theta+\\bar g` (the closure must reuse the same samples); works on any model.
    n0 : int
        Number of slow-start draws: the first ``n0`` calls of :meth:`step` only collect
        statistics and leave the parameters where they are.
    C : float or "auto"
        Slow-start factor; ``"auto"`` is :math:`\\max(2, d/10)` with ``d`` the number of
        parameters.
    tau0 : float, optional
        Initial memory (default ``n0``).
    eps : float
        Guard in the denominators.
    outlier_sigma : float, optional
        Outlier rule of vSGD-fd (variant ``"l"`` only); see :func:`vsgd_step`.

    Notes
    -----
    :meth:`step` takes a closure that zeroes the gradients, evaluates the loss, calls
    ``backward()`` and returns either the loss (the batch-mean gradient is then treated as one
    sample, ``n = 1``) or a :class:`~harmonia.nn.grad_stats.BatchStats` with per-sample moments
    (mini-batch formula). After each update ``state[p]`` holds ``gbar``, ``vbar``, ``hbar``,
    ``tau`` (block memories repeated over the block's entries) and ``lr``, all shaped like ``p``;
    :attr:`last_lr` lists the rates.
    """

    def __init__(
        self,
        params,
        variant: str = "l",
        curvature: str = "bbprop",
        n0: int = 10,
        C: float | str = "auto",
        tau0: float | None = None,
        eps: float = 1e-9,
        outlier_sigma: float | None = None,
    ) -> None:
        check_in(variant, "variant", VARIANTS)
        check_in(curvature, "curvature", CURVATURES)
        check_positive(n0, "n0", integer=True)
        if not (C == "auto" or (isinstance(C, (int, float)) and C >= 1)):
            raise ValueError(f"C: expected 'auto' or a number >= 1, got {C!r}")
        if tau0 is not None and not tau0 >= 1:
            raise ValueError(f"tau0: expected None or a memory >= 1, got {tau0}")
        check_positive(eps, "eps", allow_zero=True)
        if outlier_sigma is not None:
            check_positive(outlier_sigma, "outlier_sigma")
            if variant != "l":
                raise ValueError(f"outlier_sigma: expected None for variant {variant!r} (vSGD-l only), got {outlier_sigma}")
        defaults = dict(variant=variant, curvature=curvature, n0=int(n0), C=C, tau0=tau0, eps=eps,
                        outlier_sigma=outlier_sigma)
        super().__init__(params, defaults)
        # the flat statistics of the last update; state[p] holds views of them (read them, don't assign)
        self._flat_state: VSGDState | None = None

    def add_param_group(self, param_group: dict) -> None:
        """Refuses a second group: vSGD's statistics, blocks and rates span every parameter together
        (the closure returns one :class:`~harmonia.nn.BatchStats` for all of them), so per-group options
        would be silently ignored. Pass one group, or one :class:`VSGD` per group."""
        if self.param_groups:
            raise ValueError(f"params: expected one parameter group for VSGD (its statistics span all parameters "
                             f"together), got a second group with options {sorted(k for k in param_group if k != 'params')}; "
                             "use one VSGD per group")
        super().add_param_group(param_group)

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state saved by :meth:`state_dict` (the flat statistics are rebuilt from it)."""
        super().load_state_dict(state_dict)
        self._flat_state = None

    # -- flat views ---------------------------------------------------------------------------
    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    @property
    def _cfg(self) -> dict:
        return self.param_groups[0]

    def _blocks(self, params: list[torch.Tensor]) -> torch.Tensor | None:
        variant = self._cfg["variant"]
        if variant == "l":
            return None
        key = (variant, params[0].device, tuple(p.numel() for p in params))
        if getattr(self, "_block_cache", (None,))[0] != key:
            sizes = [p.numel() for p in params] if variant == "b" else [sum(p.numel() for p in params)]
            blocks = block_index(sizes, device=params[0].device)
            first = torch.zeros(len(sizes), dtype=torch.long, device=blocks.device)
            first.scatter_reduce_(0, blocks, torch.arange(blocks.numel(), device=blocks.device), reduce="amin",
                                  include_self=False)
            self._block_cache = (key, blocks, first)
        return self._block_cache[1]

    @staticmethod
    def _flat(xs: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat([x.reshape(-1) for x in xs])

    def _unflat(self, flat: torch.Tensor, params: list[torch.Tensor]) -> list[torch.Tensor]:
        # views of consecutive pieces of ``flat`` shaped like the parameters (one split, then reshapes)
        return [piece.view(p.shape) for piece, p in zip(flat.split([p.numel() for p in params]), params)]

    @property
    def initialized(self) -> bool:
        """True once the ``n0`` slow-start draws have been collected."""
        params = self._params()
        return bool(params) and "tau" in self.state[params[0]]

    @property
    def last_lr(self) -> list[torch.Tensor]:
        """The learning rates of the last update, one tensor like each parameter."""
        return [self.state[p]["lr"] for p in self._params() if "lr" in self.state[p]]

    # -- statistics of one draw ---------------------------------------------------------------
    def _evaluate(self, closure: Closure, params: list[torch.Tensor]) -> tuple[torch.Tensor, BatchStats]:
        with torch.enable_grad():
            out = closure()
        if isinstance(out, BatchStats):
            stats = out
        elif isinstance(out, torch.Tensor):
            grads = [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone() for p in params]
            stats = BatchStats(loss=out.detach(), grad=grads, grad_sq=[g.square() for g in grads], n=1)
        else:
            raise TypeError(f"closure: expected it to return a loss tensor or a BatchStats, got {type(out).__name__}")
        if len(stats.grad) != len(params):
            raise ValueError(f"closure: expected statistics for {len(params)} parameters, got {len(stats.grad)}")
        return stats.loss, stats

    @torch.no_grad()
    def _fd_curvature(self, closure: Closure, params: list[torch.Tensor], g: torch.Tensor,
                      direction: torch.Tensor) -> torch.Tensor:
        from harmonia.optim.curvature import fd_diag

        def grad_at_shift() -> list[torch.Tensor]:
            return self._evaluate(closure, params)[1].grad

        grads = self._unflat(g, params)
        h = fd_diag(grad_at_shift, params, self._unflat(direction, params), grads=grads, eps=self._cfg["eps"])
        for p, gp in zip(params, grads):  # the probe overwrote p.grad: put back the gradient at theta
            p.grad = gp.clone()
        return self._flat(h)

    def step(self, closure: Closure) -> torch.Tensor:  # type: ignore[override]
        """Evaluate the closure, update the statistics and (after the slow start) the parameters.

        Returns the loss the closure returned (at the parameters before the update).
        """
        if closure is None:
            raise ValueError("closure: expected a function that evaluates the loss, got None (vSGD needs one)")
        cfg, params = self._cfg, self._params()
        loss, stats = self._evaluate(closure, params)
        g, g2 = self._flat(stats.grad), self._flat(stats.grad_sq)
        first = self.state[params[0]]
        if cfg["curvature"] == "bbprop":
            if stats.curvature is None:
                raise ValueError(
                    "closure: curvature='bbprop' expects a BatchStats with a curvature estimate "
                    "(e.g. harmonia.optim.curvature.sequential_batch_stats), got none; use curvature='fd' "
                    "for models without one"
                )
            h = self._flat(stats.curvature)
        else:
            if self.initialized:
                direction = self._flat([self.state[p]["gbar"] for p in params])
            elif "warmup" in first:
                direction = torch.stack(first["warmup"]["g"]).mean(dim=0)
            else:
                direction = g
            h = self._fd_curvature(closure, params, g, direction)
        if bool((h < 0).any()):
            raise ValueError("closure: expected a non-negative curvature estimate, got negative entries")

        blocks = self._blocks(params)
        if not self.initialized:
            warm = first.setdefault("warmup", {"g": [], "g2": [], "h": []})
            for key, val in (("g", g), ("g2", g2), ("h", h)):
                warm[key].append(val)
            if len(warm["g"]) >= cfg["n0"]:
                d = g.numel()
                C = max(2.0, d / 10) if cfg["C"] == "auto" else float(cfg["C"])
                state = vsgd_init(torch.stack(warm["g"]), torch.stack(warm["g2"]), torch.stack(warm["h"]), C=C,
                                  tau0=cfg["tau0"], blocks=blocks, fd=cfg["curvature"] == "fd", eps=cfg["eps"])
                del first["warmup"]
                self._store(state, params, blocks, lr=torch.zeros_like(g))
            return loss

        state = self._load(params, blocks)
        nb = None if blocks is None else int(self._block_cache[2].numel())
        state, lr = vsgd_update(state, g, g2, h, stats.n, blocks, nb, cfg["eps"], cfg["outlier_sigma"])
        with torch.no_grad():
            for p, update in zip(params, self._unflat(lr * g, params)):
                p.sub_(update)
        self._store(state, params, blocks, lr=lr)
        return loss

    def _store(self, state: VSGDState, params: list[torch.Tensor], blocks: torch.Tensor | None,
               lr: torch.Tensor) -> None:
        tau = state.tau if blocks is None else state.tau[blocks]
        fields = {"gbar": state.gbar, "vbar": state.vbar, "hbar": state.hbar, "tau": tau, "lr": lr}
        if state.vhbar is not None:
            fields["vhbar"] = state.vhbar
        for name, flat in fields.items():
            for p, piece in zip(params, self._unflat(flat, params)):
                self.state[p][name] = piece  # a view of a fresh flat tensor: nothing else holds it
        first = self.state[params[0]]
        first["t"] = torch.tensor(float(state.t))
        self._flat_state = state

    def _load(self, params: list[torch.Tensor], blocks: torch.Tensor | None) -> VSGDState:
        if self._flat_state is not None:
            return self._flat_state
        get = lambda name: self._flat([self.state[p][name] for p in params])  # noqa: E731
        tau = get("tau")
        if blocks is not None:
            tau = tau[self._block_cache[2]]  # the memory of each block, read at its first coordinate
        vhbar = get("vhbar") if "vhbar" in self.state[params[0]] else None
        return VSGDState(gbar=get("gbar"), vbar=get("vbar"), hbar=get("hbar"), tau=tau, vhbar=vhbar,
                         t=int(self.state[params[0]]["t"].item()))

    def warm_start(self, closures: Sequence[Closure]) -> None:
        """Run the slow start on ``n0`` closures (one draw each) without moving the parameters."""
        if len(closures) != self._cfg["n0"]:
            raise ValueError(f"closures: expected n0 = {self._cfg['n0']} draws, got {len(closures)}")
        if self.initialized:
            raise RuntimeError("warm_start: the statistics are already initialised")
        for c in closures:
            self.step(c)

    def statistics(self) -> VSGDState:
        """The current statistics as a flat :class:`VSGDState` (for plots and tests)."""
        if not self.initialized:
            raise RuntimeError("statistics: the slow start has not finished (call step() n0 times first)")
        params = self._params()
        return self._load(params, self._blocks(params))

