"""Objectives for the worker simulations, with deterministic per-worker data streams.

Each worker draws its own stream: worker ``i``'s ``t``-th gradient depends only on ``(seed, i, t)``.
A simulation that computes all workers in one process and a ``torch.distributed`` run where each
process computes one worker therefore see the same samples, which is what makes the two agree.

- :class:`NoisyQuadraticObjective`: :math:`F(x)=\\frac12\\sum_kh_kx_k^2`, gradients
  :math:`h\\circ x-\\xi` with :math:`\\xi\\sim\\mathcal N(0,\\sigma^2I)` (the paper's quadratic analysis).
- :class:`ModelObjective`: a network's flat parameter vector on a classification data set, each
  worker reading its own shuffled mini-batch stream; gradients of all workers in one ``vmap``.

Used in: chapter 02; chapters 03-04.
"""

from __future__ import annotations

import torch
from torch import nn

from harmonia.config import check_positive, check_tensor
from harmonia.nn.flat import FlatParams
from harmonia.nn.metrics import error_rate

__all__ = ["NoisyQuadraticObjective", "ModelObjective", "make_objective", "OBJECTIVES"]

OBJECTIVES = ("quadratic", "digits")


def _worker_generator(seed: int, worker: int, salt: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(1_000_003 * int(seed) + 7919 * int(worker) + int(salt))


class NoisyQuadraticObjective:
    """:math:`F(x)=\\frac12\\sum_kh_kx_k^2` with additive gradient noise of variance ``sigma**2`` per coordinate.

    The noise model of the EASGD analysis (:math:`g=hx-\\xi`), not that of
    :class:`harmonia.optim.NoisyQuadratic` (random minima, gradient noise :math:`h\\sigma\\xi`); this
    class adds what workers need: one deterministic stream per worker.

    Parameters
    ----------
    h : Tensor, shape (n,)
        Curvatures, > 0 (float dtype sets the computation dtype).
    sigma : float
        Noise standard deviation, >= 0.
    p : int
        Number of workers (one noise stream each).
    seed : int
        Seed of the streams.
    """

    def __init__(self, h: torch.Tensor, sigma: float = 1.0, p: int = 1, seed: int = 0) -> None:
        check_tensor(h, "h", ndim=1, dtype="floating")
        if bool((h <= 0).any()):
            raise ValueError("h: expected positive curvatures, got a non-positive entry")
        self.h, self.sigma, self.p, self.seed = h, float(check_positive(sigma, "sigma", allow_zero=True)), \
            check_positive(p, "p", integer=True), int(seed)
        self.reset()

    @property
    def n(self) -> int:
        return self.h.shape[0]

    def reset(self) -> None:
        """Restart every worker's noise stream."""
        self._gens = [_worker_generator(self.seed, i) for i in range(self.p)]

    def grad(self, points: torch.Tensor, workers: list[int]) -> torch.Tensor:
        """Next stochastic gradients of the given workers at ``points`` (k, n); shape (k, n)."""
        noise = torch.stack([torch.randn(self.n, generator=self._gens[i], dtype=self.h.dtype) for i in workers])
        return self.h * points - self.sigma * noise.to(points.device)

    def loss(self, x: torch.Tensor) -> float:
        """:math:`F(x)` (the excess loss; the optimum is 0)."""
        return float(0.5 * (self.h * x.square()).sum())

    def error(self, x: torch.Tensor) -> float:
        """Same as :meth:`loss` (no classification error on a quadratic)."""
        return self.loss(x)


class ModelObjective:
    """Cross-entropy (+ L2) of a network, as a function of its flat parameter vector.

    Parameters
    ----------
    model : nn.Module
        Any model without batch-coupled layers; its current parameters define ``initial()``.
    X, y, X_test, y_test : Tensor
        Training and test data on one device.
    p : int
        Number of workers; worker ``i`` reads its own reshuffled stream of the training set.
    batch_size : int
        Samples per worker step.
    weight_decay : float
        :math:`\\frac\\lambda2\\|x\\|^2` added to the loss (its gradient to every step).
    seed : int
        Seed of the streams.
    """

    def __init__(self, model: nn.Module, X: torch.Tensor, y: torch.Tensor, X_test: torch.Tensor, y_test: torch.Tensor,
                 p: int = 1, batch_size: int = 32, weight_decay: float = 0.0, seed: int = 0) -> None:
        self.model, self.X, self.y, self.X_test, self.y_test = model, X, y, X_test, y_test
        self.p = check_positive(p, "p", integer=True)
        self.batch_size = check_positive(batch_size, "batch_size", integer=True)
        if batch_size > X.shape[0]:
            raise ValueError(f"batch_size: expected at most {X.shape[0]}, got {batch_size}")
        self.weight_decay = float(check_positive(weight_decay, "weight_decay", allow_zero=True))
        self.seed = int(seed)
        self._flat = FlatParams(model)
        self._theta0 = self._flat.flatten()
        self._grad = torch.func.vmap(torch.func.grad(self._batch_loss), in_dims=(0, 0, 0))
        self.reset()

    @property
    def n(self) -> int:
        return self._theta0.numel()

    def initial(self) -> torch.Tensor:
        """The model's parameters as a flat vector (n,)."""
        return self._theta0.clone()

    def reset(self) -> None:
        """Restart every worker's batch stream."""
        self._clock = [0] * self.p
        self._perm: dict[tuple[int, int], torch.Tensor] = {}

    def _batch_loss(self, theta: torch.Tensor, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        out = self._flat.call(theta, xb)
        loss = torch.nn.functional.cross_entropy(out, yb)
        return loss + 0.5 * self.weight_decay * theta.square().sum() if self.weight_decay else loss

    def batch_indices(self, worker: int, t: int) -> torch.Tensor:
        """Indices of worker ``worker``'s ``t``-th batch (a fresh permutation per epoch)."""
        per_epoch = self.X.shape[0] // self.batch_size
        epoch, k = divmod(t, per_epoch)
        key = (worker, epoch)
        if key not in self._perm:
            self._perm[key] = torch.randperm(self.X.shape[0], generator=_worker_generator(self.seed, worker, epoch + 1))
            self._perm.pop((worker, epoch - 2), None)
        return self._perm[key][k * self.batch_size:(k + 1) * self.batch_size].to(self.X.device)

    def grad(self, points: torch.Tensor, workers: list[int]) -> torch.Tensor:
        """Next mini-batch gradients of the given workers at ``points`` (k, n); shape (k, n)."""
        idx = []
        for i in workers:
            idx.append(self.batch_indices(i, self._clock[i]))
            self._clock[i] += 1
        idx = torch.stack(idx)
        return self._grad(points, self.X[idx], self.y[idx])

    @torch.no_grad()
    def loss(self, x: torch.Tensor) -> float:
        """Training loss at ``x``."""
        return float(self._batch_loss(x, self.X, self.y))

    @torch.no_grad()
    def error(self, x: torch.Tensor) -> float:
        """Test error at ``x``."""
        return error_rate(self._flat.call(x, self.X_test), self.y_test)


def make_objective(name: str, p: int, seed: int = 0, dtype: torch.dtype = torch.float64, hidden: int = 16,
                   batch_size: int = 32, weight_decay: float = 1e-4,
                   device: torch.device | str = "cpu") -> NoisyQuadraticObjective | ModelObjective:
    """The named problems shared by simulations, tests and the ``torchrun`` launcher.

    ``"quadratic"``: 10-D, :math:`h=\\mathrm{linspace}(0.1,1,10)`, :math:`\\sigma=1` (card 02, part C).
    ``"digits"``: MLP 64-``hidden``-10 (tanh) on scikit-learn's digits (seed-0 split), L2 ``weight_decay``.
    The streams are drawn on the CPU, so they are the same on every ``device``.
    """
    if name == "quadratic":
        return NoisyQuadraticObjective(torch.linspace(0.1, 1.0, 10, dtype=dtype, device=device), 1.0, p, seed)
    if name == "digits":
        from harmonia.data import load_digits
        from harmonia.nn import mlp

        data = load_digits(dtype=dtype, device=device)
        model = mlp(64, (hidden,), 10, seed=seed, dtype=dtype, device=device)
        return ModelObjective(model, data.X_train, data.y_train, data.X_test, data.y_test, p, batch_size,
                              weight_decay, seed)
    raise ValueError(f"name: expected one of {OBJECTIVES}, got {name!r}")
