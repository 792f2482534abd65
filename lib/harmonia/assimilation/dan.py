r"""Data assimilation networks (DAN, Boudier et al. 2023): a recurrent network whose memory :math:`h` is propagated,
updated with each observation and decoded into Gaussian densities of the state,

.. math::

    h^b_t=b(h^a_{t-1}),\quad q^b_t=c(h^b_t),\quad h^a_t=a([h^b_t;\,y_t]),\quad q^a_t=c(h^a_t),

trained on simulated trajectories by minimising :math:`\sum_t\mathbb E[-\log q^b_t(x_t)-\log q^a_t(x_t)]`, whose minimiser
(for expressive enough :math:`a,b,c`) is the Bayesian filter; with a Gaussian head, the moment-matched one. The
analyzer :math:`a` and the propagater :math:`b` are ReZero MLPs (:class:`harmonia.nn.FcZero`), the procoder :math:`c` a
Gaussian head with a full Cholesky factor (:class:`harmonia.nn.GaussianHead`).

Training is online truncated back-propagation through time: a batch of truth trajectories evolves forever; each
cycle draws :math:`y_t`, runs the network, and every ``window`` cycles takes one optimiser step and detaches the memory.

Used in: chapter 14.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from harmonia.assimilation.models import StateSpaceModel, rmse_per_sample
from harmonia.config import check_int, check_positive, check_tensor
from harmonia.nn.fczero import FcZero
from harmonia.nn.gaussian import Gaussian, GaussianHead

__all__ = ["DAN", "dan_loss", "DANHistory", "train_online", "evaluate_dan"]


class DAN(nn.Module):
    r"""Analyzer, propagater and procoder.

    Parameters
    ----------
    n, p : int
        State and observation dimensions.
    d_h : int
        Memory size (the paper: :math:`20n`).
    depth : int
        Residual layers of the analyzer and of the propagater (the paper: 19).
    cov : {"full", "diag", "iso"}
        Covariance of the Gaussian head.
    loc, scale : float
        Typical mean and spread of the state (its climatology): observations enter as :math:`(y-\text{loc})/\text{scale}`
        and the head's Gaussian :math:`\mathcal N(\tilde\mu,\tilde\Lambda\tilde\Lambda^\top)` is returned in state units,
        :math:`\mathcal N(\text{loc}+\text{scale}\,\tilde\mu,\ \text{scale}^2\tilde\Lambda\tilde\Lambda^\top)` -- a fixed change of
        units that keeps the network's numbers of order one (defaults: no change).
    saturation : float or None
        If set, every new memory is passed through :math:`h\mapsto s\tanh(h/s)` (identity for :math:`|h|\ll s`): the
        memory is carried forever, and a recurrence that becomes expansive during training would otherwise blow it
        up. None (the paper's network): no bound.
    """

    def __init__(self, n: int, p: int, d_h: int, depth: int = 3, cov: str = "full", loc: float = 0.0,
                 scale: float = 1.0, saturation: float | None = None) -> None:
        super().__init__()
        self.n, self.p, self.d_h = check_int(n, "n"), check_int(p, "p"), check_int(d_h, "d_h")
        self.loc, self.scale = float(loc), float(check_positive(scale, "scale"))
        self.saturation = None if saturation is None else float(check_positive(saturation, "saturation"))
        depth = check_int(depth, "depth", minimum=0)
        self.analyzer = FcZero([d_h + p] * (depth + 1) + [d_h])
        self.propagater = FcZero([d_h] * (depth + 1) + [d_h])
        self.procoder = GaussianHead(d_h, n, cov)

    def initial_memory(self, batch: int) -> torch.Tensor:
        """The zero memory :math:`h^a_{-1}` (batch, d_h) on the network's device and dtype."""
        w = self.procoder.linear.weight
        return torch.zeros(check_int(batch, "batch"), self.d_h, dtype=w.dtype, device=w.device)

    def forward(self, ha: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, Gaussian, Gaussian]:
        """One cycle. ha: (B, d_h) previous analysis memory; y: (B, p). Returns (new ha, prior q^b, posterior q^a)."""
        hb = self._bound(self.propagater(ha))
        ha = self._bound(self.analyzer(torch.cat([hb, (y - self.loc) / self.scale], -1)))
        return ha, self.decode(hb), self.decode(ha)

    def _bound(self, h: torch.Tensor) -> torch.Tensor:
        return h if self.saturation is None else self.saturation * torch.tanh(h / self.saturation)

    def decode(self, h: torch.Tensor) -> Gaussian:
        """The procoder's Gaussian in state units (see ``loc``, ``scale``). h: (B, d_h)."""
        q = self.procoder(h)
        return Gaussian(self.loc + self.scale * q.mean, self.scale * q.scale_tril)


def dan_loss(qb: Gaussian, qa: Gaussian, x: torch.Tensor) -> torch.Tensor:
    """:math:`\\mathrm{mean}_i[-\\log q^b(x_i)]+\\mathrm{mean}_i[-\\log q^a(x_i)]` for a batch x: (B, n).

    A loss: NaN in ``x`` propagates (as in :func:`~harmonia.nn.gaussian.gaussian_nll`)."""
    # the state dimension; the rest (dtype, batch broadcasting) is Gaussian.nll's, which names x too
    check_tensor(x, "x", shape=("...", qb.mean.shape[-1]), finite=False, like=qb.mean)
    return _dan_loss(qb, qa, x)


def _dan_loss(qb: Gaussian, qa: Gaussian, x: torch.Tensor) -> torch.Tensor:
    return qb.nll(x).mean() + qa.nll(x).mean()


@dataclass
class DANHistory:
    """Per optimiser step: ``loss`` (the window's mean of prior + posterior NLL), ``rmse_b``, ``rmse_a`` (batch means of
    per-sample RMSEs)."""

    loss: list[float] = field(default_factory=list)
    rmse_b: list[float] = field(default_factory=list)
    rmse_a: list[float] = field(default_factory=list)


def train_online(dan: DAN, model: StateSpaceModel, x: torch.Tensor, optimizer: torch.optim.Optimizer, n_steps: int, *,
                 window: int = 1, ha: torch.Tensor | None = None, generator: torch.Generator | None = None,
                 history: DANHistory | None = None, restart_prob: float = 0.0,
                 initial: Callable[[int], torch.Tensor] | None = None, max_grad_norm: float | None = None,
                 scheduler: torch.optim.lr_scheduler.LRScheduler | None = None, progress: bool = False
                 ) -> tuple[torch.Tensor, torch.Tensor, DANHistory]:
    """Online truncated BPTT: ``n_steps`` optimiser steps of ``window`` cycles each on the batch of truths
    ``x`` (B, n), continuing from memory ``ha`` (default zero). Returns the final truths, the detached memory and the
    history (appended to ``history`` when given), so training can be resumed.

    For a model without a stationary regime (the rotation toy's state is a random walk in norm), ``restart_prob > 0``
    replaces each trajectory, after each step, with probability ``restart_prob`` by a fresh state ``initial(k)``
    (k, n) with a zero memory, so the training states keep the law of the first cycles of a run.
    ``max_grad_norm`` clips the gradient's global norm before each step (None: no clipping); ``scheduler`` is stepped
    after each optimiser step."""
    w = dan.procoder.linear.weight
    x = check_tensor(x, "x", shape=("B", dan.n), dtype="floating", nonempty=True, like=w)
    n_steps, window = check_int(n_steps, "n_steps", minimum=0), check_int(window, "window")
    if not 0 <= restart_prob <= 1 or (restart_prob > 0 and initial is None):
        raise ValueError(f"restart_prob: expected a probability in [0, 1] (and `initial` when positive), got {restart_prob}")
    ha = dan.initial_memory(x.shape[0]) if ha is None else ha
    hist = history if history is not None else DANHistory()
    it = range(n_steps)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="DAN training")
    for _ in it:
        loss = 0.0
        rb = ra = 0.0
        for _ in range(window):
            y = model.observe(x, generator)
            ha, qb, qa = dan(ha, y)
            loss = loss + _dan_loss(qb, qa, x)
            rb += float(rmse_per_sample(x, qb.mean.detach()).mean())
            ra += float(rmse_per_sample(x, qa.mean.detach()).mean())
            x = model.propagate(x, generator)
        optimizer.zero_grad(set_to_none=True)
        (loss / window).backward()
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(dan.parameters(), max_grad_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        ha = ha.detach()
        if restart_prob > 0:
            fresh = torch.rand(x.shape[0], generator=generator, device=x.device) < restart_prob
            k = int(fresh.sum())
            if k:
                x, ha = x.clone(), ha.clone()
                x[fresh] = initial(k).to(x)
                ha[fresh] = 0
        hist.loss.append(float(loss.detach()) / window)
        hist.rmse_b.append(rb / window)
        hist.rmse_a.append(ra / window)
    return x, ha, hist


@torch.no_grad()
def evaluate_dan(dan: DAN, model: StateSpaceModel, xs: torch.Tensor, ys: torch.Tensor, warmup: int = 50) -> dict:
    """Run the trained network over a simulated test run (xs (T, B, n), ys (T, B, p)) from the zero memory, without
    gradients. Returns the means over cycles ``t >= warmup`` of ``rmse_b``, ``rmse_a``, ``nll_b``, ``nll_a`` (floats),
    and the per-cycle series ``mean_b``, ``mean_a`` (T, B, n) and ``scale_tril_a`` (T, B, n, n)."""
    w = dan.procoder.linear.weight
    check_tensor(xs, "xs", shape=("T", "B", dan.n), dtype="float32_64", nonempty=True, like=w)
    # the observations enter the network: a dtype its weights' dtype holds (a float64 ys meets float32 weights)
    check_tensor(ys, "ys", shape=(xs.shape[0], xs.shape[1], dan.p),
                 dtype=(torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.uint8, torch.int8,
                        torch.int16, torch.int32, torch.int64), like=w)
    if torch.promote_types(ys.dtype, w.dtype) != w.dtype:
        raise TypeError(f"ys: expected the network's dtype {w.dtype} or one it holds, got {ys.dtype}")
    T = xs.shape[0]
    warmup = check_int(warmup, "warmup", minimum=0)
    if warmup >= T:
        raise ValueError(f"warmup: expected fewer than the T={T} test cycles, got {warmup}")
    ha = dan.initial_memory(xs.shape[1])
    mb, ma, La, nb, na = [], [], [], [], []
    for x, y in zip(xs, ys):
        ha, qb, qa = dan(ha, y)
        mb.append(qb.mean)
        ma.append(qa.mean)
        La.append(qa.scale_tril)
        nb.append(qb.nll(x))
        na.append(qa.nll(x))
    mb, ma = torch.stack(mb), torch.stack(ma)
    s = slice(warmup, None)
    return {
        "rmse_b": float(rmse_per_sample(xs[s], mb[s]).mean()), "rmse_a": float(rmse_per_sample(xs[s], ma[s]).mean()),
        "nll_b": float(torch.stack(nb)[s].mean()), "nll_a": float(torch.stack(na)[s].mean()),
        "mean_b": mb, "mean_a": ma, "scale_tril_a": torch.stack(La),
    }
