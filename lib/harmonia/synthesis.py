"""Layer 2: the course's one statistic matcher, :func:`match_statistics`.

Given statistics :math:`\\Phi` (scattering coefficients, phase-harmonic moments, texture or
point-pattern descriptors) and a target :math:`t`, find a signal :math:`x` with
:math:`\\Phi(x)\\approx t` by gradient descent from an initial :math:`x_0`:

.. math:: \\min_x\\ E(x)=s\\,D(\\Phi(x),t),\\qquad
          D=\\frac{\\|\\Phi(x)-t\\|^2}{\\|t\\|^2}\\ (\\text{relative}),\\quad
          \\frac1P\\sum_p|\\Phi_p(x)-t_p|^2\\ (\\text{mse}),\\quad
          \\sum_p|\\Phi_p(x)-t_p|^2\\ (\\text{sum}),

with :math:`s` = ``loss_scale`` and :math:`P` the number of statistics (complex ones allowed).

Why L-BFGS restarts: L-BFGS updates its curvature memory only when :math:`y^\\top s>10^{-10}`
(torch's threshold), so at tiny losses -- above all in float32 -- the memory stops updating and
the iterates stall on stale curvature. The remedies are a larger ``loss_scale`` (or float64) and
``restarts``: each round starts a fresh optimiser, hence an empty memory, from the current iterate.

:func:`histogram_match` is the usual last step of a texture synthesis: it gives the synthesis exactly
the observation's pixel histogram.

Used in: chapters 05-10 (inverting scattering, phase-harmonic recovery, texture, turbulence and
point-pattern synthesis).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from harmonia.config import check_in, check_positive, check_tensor

__all__ = ["METHODS", "LOSSES", "MatchResult", "discrepancy", "match_statistics", "histogram_match"]

METHODS = ("lbfgs", "adam")
LOSSES = ("relative", "mse", "sum")
_MAX_LINE_SEARCH = 25  # evaluations one strong-Wolfe line search may use (torch's default)


@dataclass
class MatchResult:
    """What :func:`match_statistics` returns.

    Attributes
    ----------
    x : tensor, same shape, dtype and device as ``x0``
        The iterate with the lowest loss in ``history`` (detached).
    loss : float
        :math:`E(x)`, the minimised objective (``loss_scale`` included).
    history : list of float
        :math:`E` after every optimiser step (one L-BFGS iteration or one Adam step).
    restart_starts : list of int
        Index in ``history`` of the first step of each round.
    n_evals : int
        Number of ``stat_fn`` evaluations (line-search trials included).
    """

    x: torch.Tensor
    loss: float
    history: list[float] = field(default_factory=list)
    restart_starts: list[int] = field(default_factory=list)
    n_evals: int = 0


def _squared(diff: torch.Tensor) -> torch.Tensor:
    return diff.real.square() + diff.imag.square() if diff.is_complex() else diff.square()


def discrepancy(phi: torch.Tensor, target: torch.Tensor, loss: str = "relative") -> torch.Tensor:
    """The discrepancy :math:`D(\\Phi, t)` that :func:`match_statistics` minimises (differentiable).

    Parameters
    ----------
    phi, target : tensors of the same shape, real or complex
    loss : {"relative", "mse", "sum"}
        :math:`\\|\\Phi-t\\|^2/\\|t\\|^2`, the mean of :math:`|\\Phi-t|^2`, or its sum.

    Returns
    -------
    0-d real tensor
    """
    check_in(loss, "loss", LOSSES)
    check_tensor(phi, "phi", dtype="float_or_complex", finite=False)
    check_tensor(target, "target", dtype="float_or_complex", finite=False, like=phi)
    if target.shape != phi.shape:
        raise ValueError(f"target: expected the shape of the statistics {tuple(phi.shape)}, got {tuple(target.shape)}")
    sq = _squared(phi - target)
    if loss == "mse":
        return sq.mean()
    if loss == "sum":
        return sq.sum()
    norm2 = _squared(target).sum()
    if float(norm2) == 0.0:
        raise ValueError("target: loss='relative' needs a nonzero target, got ||target|| = 0; use 'mse' or 'sum'")
    return sq.sum() / norm2


def match_statistics(
    stat_fn: Callable[[torch.Tensor], torch.Tensor],
    target: torch.Tensor,
    x0: torch.Tensor,
    *,
    method: str = "lbfgs",
    steps: int = 100,
    restarts: int = 1,
    lr: float | None = None,
    loss: str = "relative",
    loss_scale: float = 1.0,
    history_size: int = 50,
    tolerance: float = 1e-14,
    lr_decay: tuple[float, int] | None = None,
    callback: Callable[[int, torch.Tensor, float], bool | None] | None = None,
    progress: bool = False,
) -> MatchResult:
    """Find :math:`x` whose statistics match ``target``: minimise :math:`E(x)=s\\,D(\\Phi(x),t)`.

    Parameters
    ----------
    stat_fn : callable, tensor of x0's shape -> tensor
        The differentiable statistics :math:`\\Phi`. With a batch dimension in ``x0`` the loss is
        over the whole stacked output, so ``stat_fn`` decides what is matched (per element or
        pooled).
    target : tensor of the shape of ``stat_fn(x0)``, on x0's device
        :math:`t` (detached; real iff the statistics are real).
    x0 : floating tensor of any shape
        Starting point (cloned, never modified); its dtype and device are used throughout.
    method : {"lbfgs", "adam"}
        ``"lbfgs"``: ``torch.optim.LBFGS`` with a strong-Wolfe line search, ``restarts`` rounds of
        ``steps`` iterations, each round with a fresh memory; a round ends early when
        :math:`|\\Delta E|\\le` ``tolerance`` :math:`\\cdot\\max(1,|E|)`. ``"adam"``:
        ``steps * restarts`` Adam steps, the moments reset every ``steps`` steps.
    steps, restarts : int
        Iterations per round and number of rounds.
    lr : float, optional
        Step size (L-BFGS: initial line-search step, default 1; Adam: default 0.1).
    loss : {"relative", "mse", "sum"}
        The discrepancy :math:`D`, see :func:`discrepancy`.
    loss_scale : float
        :math:`s>0`; scale up tiny losses so float32 L-BFGS keeps its curvature memory alive.
    history_size : int
        L-BFGS memory length.
    tolerance : float
        L-BFGS ``tolerance_grad`` and ``tolerance_change``, and the round-stopping rule above.
        torch's L-BFGS does not step once :math:`|\\nabla E\\cdot d|\\le` ``tolerance``, so it
        stalls near :math:`E\\approx` ``tolerance``: lower it (even to 0) or raise ``loss_scale``
        to go further.
    lr_decay : (factor, every), optional
        Adam only: the step size is multiplied by ``factor`` every ``every`` steps (counted over
        all rounds), e.g. ``(0.9, 1000)``.
    callback : callable, optional
        ``callback(step, x, loss)`` after each step (``step`` = index in ``history``, ``x`` the
        current iterate, detached: do not modify it); returning ``True`` stops.
    progress : bool
        Show a ``tqdm`` bar.

    Returns
    -------
    MatchResult
        The best iterate (the lowest :math:`E` in ``history``) and the optimisation record. The
        run also stops when :math:`E` is exactly 0, not finite, or when a fresh L-BFGS round makes
        no progress at its first step (a further restart would repeat it exactly).
    """
    check_in(method, "method", METHODS)
    check_in(loss, "loss", LOSSES)
    steps = int(check_positive(steps, "steps", integer=True))
    restarts = int(check_positive(restarts, "restarts", integer=True))
    loss_scale = float(check_positive(loss_scale, "loss_scale"))
    history_size = int(check_positive(history_size, "history_size", integer=True))
    tolerance = float(check_positive(tolerance, "tolerance", allow_zero=True))
    lr = float(check_positive(lr, "lr")) if lr is not None else (1.0 if method == "lbfgs" else 0.1)
    if lr_decay is not None:
        if method != "adam":
            raise ValueError(f"lr_decay: expected None with method={method!r} (Adam only), got {lr_decay!r}")
        if not isinstance(lr_decay, tuple) or len(lr_decay) != 2:
            raise ValueError(f"lr_decay: expected a pair (factor, every), got {lr_decay!r}")
        factor = float(check_positive(lr_decay[0], "lr_decay[0]"))
        every = int(check_positive(lr_decay[1], "lr_decay[1]", integer=True))
    else:
        factor, every = 1.0, 1
    check_tensor(x0, "x0", dtype="floating")
    check_tensor(target, "target", dtype="float_or_complex", like=x0)

    x = x0.detach().clone().requires_grad_(True)
    t, n_evals = target, 0
    cache: dict[str, torch.Tensor] = {}

    def evaluate() -> torch.Tensor:
        """E at the current x with x.grad set; re-uses the last evaluation when x has not moved
        (L-BFGS evaluates the accepted line-search point again at the start of every .step())."""
        nonlocal n_evals, t
        if cache and torch.equal(x.detach(), cache["x"]):
            x.grad = cache["grad"].clone()
            return cache["loss"]
        with torch.enable_grad():
            phi = stat_fn(x)
            n_evals += 1
            if n_evals == 1:
                check_tensor(phi, "stat_fn(x0)", dtype="float_or_complex")
                if target.shape != phi.shape:
                    raise ValueError(f"target: expected the shape of stat_fn(x0) {tuple(phi.shape)}, "
                                     f"got {tuple(target.shape)}")
                if target.is_complex() != phi.is_complex():
                    raise TypeError(f"target: expected a {'complex' if phi.is_complex() else 'real'} tensor "
                                    f"like stat_fn(x0) ({phi.dtype}), got {target.dtype}")
                t = target.detach().to(phi.dtype)
            value = loss_scale * discrepancy(phi, t, loss)
            (grad,) = torch.autograd.grad(value, x)
        cache.update(x=x.detach().clone(), grad=grad, loss=value.detach())
        x.grad = grad.clone()
        return cache["loss"]

    current = float(evaluate())
    history: list[float] = []
    starts: list[int] = []
    if current == 0.0 or not math.isfinite(current):  # nothing to do (or nothing sensible)
        return MatchResult(x=x.detach().clone(), loss=current, history=history, restart_starts=starts, n_evals=1)
    best_x, best_loss, stop = x.detach().clone(), math.inf, False
    bar = tqdm(total=steps * restarts, desc="match_statistics", disable=not progress)
    try:  # an interrupted run (KeyboardInterrupt in stat_fn or callback) leaves no bar open
        for _ in range(restarts):
            if stop:
                break
            starts.append(len(history))
            if method == "lbfgs":
                opt: torch.optim.Optimizer = torch.optim.LBFGS(
                    [x], lr=lr, max_iter=1, max_eval=1 + _MAX_LINE_SEARCH, history_size=history_size,
                    tolerance_grad=tolerance, tolerance_change=tolerance, line_search_fn="strong_wolfe")
            else:
                opt = torch.optim.Adam([x], lr=lr)
            for k in range(steps):
                step = len(history)
                if method == "lbfgs":
                    opt.step(evaluate)  # max_iter=1: one iteration; the memory lives in opt.state
                else:
                    opt.param_groups[0]["lr"] = lr * factor ** (step // every)
                    opt.step()  # x.grad was set by the last evaluate()
                new = float(evaluate())
                history.append(new)
                bar.update(1)
                bar.set_postfix(loss=f"{new:.3e}", refresh=False)
                if new < best_loss:
                    best_x, best_loss = x.detach().clone(), new
                if (callback is not None and callback(step, x.detach(), new)) or new == 0.0 or not math.isfinite(new):
                    stop = True
                    break
                if method == "lbfgs" and abs(new - current) <= tolerance * max(1.0, abs(new)):
                    stop = k == 0  # a fresh memory did not help: restarting again would repeat this step
                    break
                current = new
            current = history[-1]
    finally:
        bar.close()
    return MatchResult(x=best_x, loss=best_loss, history=history, restart_starts=starts, n_evals=n_evals)


def histogram_match(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    r"""Give ``x`` the pixel histogram of ``ref`` by a monotone remapping (rank matching).

    The :math:`r`-th smallest pixel of ``x`` takes the value of the quantile :math:`(r+\tfrac12)/n` of
    ``ref``'s pixels (linear interpolation between its order statistics), so the order of the pixels
    of ``x`` is kept and, when ``ref`` has as many pixels as ``x``, the sorted values are exactly
    ``ref``'s. Ties in ``x`` are broken by position.

    Parameters
    ----------
    x : real tensor (..., M, N)
        One or more images; each is remapped separately.
    ref : real tensor (M', N') or of ``x``'s shape (then each image gets its own reference)

    Returns
    -------
    tensor of ``x``'s shape, dtype and device

    Used in: chapter 08.
    """
    check_tensor(x, "x", dtype="floating", min_ndim=2, nonempty=True)
    check_tensor(ref, "ref", dtype="floating", min_ndim=2, like=x, nonempty=True)
    if ref.ndim != 2 and ref.shape != x.shape:
        raise ValueError(f"ref: expected one (M, N) image or the shape of x {tuple(x.shape)}, got {tuple(ref.shape)}")
    flat = x.reshape(-1, x.shape[-2] * x.shape[-1])
    refs = ref.reshape(-1, ref.shape[-2] * ref.shape[-1]).to(x.dtype).sort(dim=-1).values
    n, m = flat.shape[-1], refs.shape[-1]
    q = (torch.arange(n, dtype=torch.float64, device=x.device) + 0.5) / n * m - 0.5  # position in ref's order stats
    lo = q.floor().clamp(0, m - 1).long()
    hi = (lo + 1).clamp(max=m - 1)
    w = (q - lo).clamp(0, 1).to(x.dtype)
    values = refs[:, lo] * (1 - w) + refs[:, hi] * w  # (1 or B, n), sorted
    order = flat.argsort(dim=-1, stable=True)
    out = torch.empty_like(flat)
    out.scatter_(-1, order, values.expand(flat.shape[0], n).contiguous())
    return out.reshape(x.shape)
