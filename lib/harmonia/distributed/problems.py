"""Objectives for the worker simulations, with deterministic per-worker data streams.

Each worker draws its own stream: worker ``i``'s ``t``-th gradient depends only on ``(seed, i, t)``.
``grad(points, workers, rho=...)`` returns SAM gradients instead (:func:`sam_gradients`): both passes on
the worker's one batch, so ``rho=0`` draws and returns exactly what plain gradients do.
A simulation that computes all workers in one process and a ``torch.distributed`` run where each
process computes one worker therefore see the same samples, which is what makes the two agree.

- :class:`AdditiveNoiseQuadratic`: :math:`F(x)=\\frac12\\sum_kh_kx_k^2`, gradients
  :math:`h\\circ x-\\xi` with :math:`\\xi\\sim\\mathcal N(0,\\sigma^2I)` (the paper's quadratic analysis).
- :class:`ModelObjective`: a network's flat parameter vector on a classification data set, each
  worker reading its own shuffled mini-batch stream; gradients of all workers in one ``vmap``.
- :class:`RandomInputs` and :class:`RandomInputObjective`: 1-D linear regression with random inputs
  (multiplicative gradient noise), ``n`` independent copies at once (chapter 03's Monte Carlo).

Used in: chapters 02-03; chapter 04.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from harmonia.config import check_in, check_positive, check_tensor
from harmonia.nn.flat import FlatParams
from harmonia.nn.metrics import error_rate
from harmonia.optim.sam import sam_perturbation

__all__ = ["AdditiveNoiseQuadratic", "ModelObjective", "RandomInputs", "RandomInputObjective", "spread",
           "make_objective", "sam_gradients", "worker_gradients", "OBJECTIVES"]

OBJECTIVES = ("quadratic", "digits")


def _worker_generator(seed: int, worker: int, salt: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(1_000_003 * int(seed) + 7919 * int(worker) + int(salt))


def sam_gradients(grad_on_batch: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor, rho: float = 0.0,
                  gamma: float = 1e-12, global_eps: bool = False) -> torch.Tensor:
    """Gradients of ``k`` workers on their current batches, or SAM gradients when ``rho > 0``.

    Parameters
    ----------
    grad_on_batch : callable
        ``(k, n) -> (k, n)``: each worker's gradient on *its drawn batch* at the given points (called
        twice for SAM, so both passes see the same batch).
    points : tensor (k, n)
    rho, gamma : float
        SAM's radius and constant (:func:`harmonia.optim.sam.sam_perturbation`); ``rho=0``: plain gradients.
    global_eps : bool
        One perturbation for all workers, from the mean of their gradients (data-parallel SAM with a
        synchronised ascent); default: each worker's own (Foret et al.'s m-sharpness).

    The points' values are not checked (one step of a loop; NaN propagates as in torch).
    """
    check_tensor(points, "points", finite=False)
    if rho != 0 and (points.ndim == 0 or points.shape[0] == 0):  # SAM stacks one perturbation per worker
        raise ValueError(f"points: expected one row per worker (k, n) with k >= 1 for SAM (rho > 0), "
                         f"got shape {tuple(points.shape)}")
    g = grad_on_batch(points)
    if rho == 0:
        return g
    if global_eps:
        eps = sam_perturbation([g.mean(dim=0)], rho, gamma)[0].expand_as(g)
    else:
        eps = torch.stack([sam_perturbation([gi], rho, gamma)[0] for gi in g])
    return grad_on_batch(points + eps)


def worker_gradients(objective, points: torch.Tensor, workers: list[int], rho: float = 0.0, gamma: float = 1e-12,
                     global_eps: bool = False) -> torch.Tensor:
    """The next gradients of ``workers`` at ``points`` (k, n): plain (``rho == 0``, any objective) or SAM
    gradients (objectives whose ``grad`` takes ``rho``); the one call every runner and engine makes. The points'
    values are not checked (one step of a loop; NaN propagates as in torch)."""
    n = getattr(objective, "n", None)
    check_tensor(points, "points", shape=(len(workers), n), dtype="floating", finite=False)
    if rho == 0:
        return objective.grad(points, workers)
    return objective.grad(points, workers, rho=rho, gamma=gamma, global_eps=global_eps)


class AdditiveNoiseQuadratic:
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

    def grad(self, points: torch.Tensor, workers: list[int], rho: float = 0.0, gamma: float = 1e-12,
             global_eps: bool = False) -> torch.Tensor:
        """Next stochastic gradients of the given workers at ``points`` (k, n); shape (k, n). With
        ``rho > 0``: SAM gradients on the same noise draw (see :func:`sam_gradients`)."""
        noise = torch.stack([torch.randn(self.n, generator=self._gens[i], dtype=self.h.dtype) for i in workers])
        noise = self.sigma * noise.to(points.device)
        return sam_gradients(lambda x: self.h * x - noise, points, rho, gamma, global_eps)

    def loss(self, x: torch.Tensor) -> float:
        """:math:`F(x)` (the excess loss; the optimum is 0)."""
        return float(0.5 * (self.h * x.square()).sum())

    def error(self, x: torch.Tensor) -> float:
        """Same as :meth:`loss` (no classification error on a quadratic)."""
        return self.loss(x)


def spread(a: torch.Tensor) -> float:
    """Empirical spread :math:`\\kappa=\\mathbb V[a^2]/(\\mathbb E[a^2])^2` of input samples ``a`` (any shape).

    A fourth-moment estimate: for heavy tails (Student-t with few degrees of freedom) it converges slowly
    or not at all -- prefer :attr:`RandomInputs.kappa` when the law is known.
    """
    check_tensor(a, "a", dtype="floating", finite=True)
    a2 = a.reshape(-1).to(torch.float64).square()
    if a2.numel() < 2:
        raise ValueError(f"a: expected at least 2 samples, got {a2.numel()}")
    return float(a2.var(correction=0) / a2.mean().square())


class RandomInputs:
    """Input laws of the 1-D regression, scaled to :math:`\\mathbb E[a^2]=h`, with analytic spread.

    ``law``: ``"rademacher"`` (:math:`\\pm1`, :math:`\\kappa=0`), ``"uniform"`` (on :math:`[-\\sqrt3,\\sqrt3]`,
    :math:`\\kappa=4/5`), ``"gaussian"`` (:math:`\\kappa=2`) or ``"student_t"`` with integer ``df`` > 4 degrees of
    freedom (:math:`\\kappa=\\frac{3(\\nu-2)}{\\nu-4}-1`, 8 for :math:`\\nu=5`).
    """

    LAWS = ("rademacher", "uniform", "gaussian", "student_t")

    def __init__(self, law: str = "gaussian", h: float = 1.0, df: int = 5) -> None:
        self.law = check_in(law, "law", self.LAWS)
        self.h = float(check_positive(h, "h"))
        self.df = check_positive(df, "df", integer=True)
        if law == "student_t" and df <= 4:
            raise ValueError(f"df: expected more than 4 degrees of freedom (a finite fourth moment), got {df}")

    @property
    def kappa(self) -> float:
        """:math:`\\mathbb V[a^2]/(\\mathbb E[a^2])^2`, analytic."""
        return {"rademacher": 0.0, "uniform": 0.8, "gaussian": 2.0,
                "student_t": 3 * (self.df - 2) / (self.df - 4) - 1}[self.law]

    @property
    def var_a2(self) -> float:
        """:math:`\\mathbb V[a^2]=\\kappa h^2`."""
        return self.kappa * self.h**2

    def sample(self, shape: tuple[int, ...], generator: torch.Generator | None = None,
               dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Draws of :math:`a`, shape ``shape``."""
        if self.law == "rademacher":
            a = 2.0 * torch.randint(0, 2, shape, generator=generator).to(dtype) - 1.0
        elif self.law == "uniform":
            a = math.sqrt(3.0) * (2 * torch.rand(shape, generator=generator, dtype=dtype) - 1)
        elif self.law == "gaussian":
            a = torch.randn(shape, generator=generator, dtype=dtype)
        else:  # t_nu = N / sqrt(chi2_nu / nu), rescaled by sqrt((nu - 2)/nu) to unit second moment
            nu = self.df
            z = torch.randn(shape, generator=generator, dtype=dtype)
            chi2 = torch.randn((nu, *shape), generator=generator, dtype=dtype).square().sum(dim=0)
            a = z / torch.sqrt(chi2 / nu) * math.sqrt((nu - 2) / nu)
        return math.sqrt(self.h) * a


class RandomInputObjective:
    """``n`` independent copies of the 1-D regression :math:`\\frac12(ax-y)^2`, :math:`y=a x^\\star+\\varepsilon=\\varepsilon`
    (:math:`x^\\star=0`), one coordinate each, with per-worker streams.

    A worker's step draws a batch of ``b`` pairs :math:`(a_k,\\varepsilon_k)` per coordinate and returns
    :math:`g=m\\,x-n` with :math:`m=\\frac1b\\sum a_k^2` and :math:`n=\\frac1b\\sum a_k\\varepsilon_k` (the *same*
    :math:`a_k` in both parts). :math:`\\mathbb Em=h`, :math:`\\mathbb Vm=\\kappa h^2/b`, :math:`\\mathbb En^2=h\\sigma_\\varepsilon^2/b`.

    Parameters
    ----------
    inputs : RandomInputs
        The input law.
    n : int
        Number of independent copies (chains).
    p : int
        Number of workers (one stream each).
    b : int
        Batch size of every step.
    sigma_eps : float
        Standard deviation of the label noise.
    seed : int
        Seed of the streams.
    dtype : torch.dtype
        Computation dtype.
    """

    def __init__(self, inputs: RandomInputs, n: int, p: int = 1, b: int = 1, sigma_eps: float = 1.0, seed: int = 0,
                 dtype: torch.dtype = torch.float64) -> None:
        if not isinstance(inputs, RandomInputs):
            raise TypeError(f"inputs: expected a RandomInputs, got {type(inputs).__name__}")
        self.inputs = inputs
        self._n = check_positive(n, "n", integer=True)
        self.p = check_positive(p, "p", integer=True)
        self.b = check_positive(b, "b", integer=True)
        self.sigma_eps = float(check_positive(sigma_eps, "sigma_eps", allow_zero=True))
        self.seed, self.dtype = int(seed), dtype
        self.reset()

    @property
    def n(self) -> int:
        return self._n

    @property
    def h(self) -> float:
        return self.inputs.h

    def reset(self) -> None:
        """Restart every worker's stream."""
        self._gens = [_worker_generator(self.seed, i, salt=17) for i in range(self.p)]

    def grad(self, points: torch.Tensor, workers: list[int]) -> torch.Tensor:
        """Next batch gradients of the given workers at ``points`` (k, n); shape (k, n)."""
        out = []
        for i in workers:
            a = self.inputs.sample((self.b, self._n), self._gens[i], self.dtype)
            eps = torch.randn(self.b, self._n, generator=self._gens[i], dtype=self.dtype)
            out.append(torch.stack([a.square().mean(dim=0), (a * eps).mean(dim=0) * self.sigma_eps]))
        mn = torch.stack(out).to(points.device)
        return mn[:, 0] * points - mn[:, 1]

    def loss(self, x: torch.Tensor) -> float:
        """Expected excess loss :math:`\\frac h2\\sum_kx_k^2`."""
        return float(0.5 * self.h * x.square().sum())

    def error(self, x: torch.Tensor) -> float:
        """Same as :meth:`loss`."""
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
        check_tensor(X, "X")  # finite values (the other checks are the model's and the loss's)
        check_tensor(X_test, "X_test")
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

    def grad(self, points: torch.Tensor, workers: list[int], rho: float = 0.0, gamma: float = 1e-12,
             global_eps: bool = False) -> torch.Tensor:
        """Next mini-batch gradients of the given workers at ``points`` (k, n); shape (k, n). With
        ``rho > 0``: SAM gradients, both passes on the worker's same batch (see :func:`sam_gradients`)."""
        idx = []
        for i in workers:
            idx.append(self.batch_indices(i, self._clock[i]))
            self._clock[i] += 1
        idx = torch.stack(idx)
        Xb, yb = self.X[idx], self.y[idx]
        return sam_gradients(lambda x: self._grad(x, Xb, yb), points, rho, gamma, global_eps)

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
                   device: torch.device | str = "cpu") -> AdditiveNoiseQuadratic | ModelObjective:
    """The named problems shared by simulations, tests and the ``torchrun`` launcher.

    ``"quadratic"``: 10-D, :math:`h=\\mathrm{linspace}(0.1,1,10)`, :math:`\\sigma=1` (chapter 02, part C: our
    small stand-in for the paper's experiments).
    ``"digits"``: MLP 64-``hidden``-10 (tanh) on scikit-learn's digits (seed-0 split), L2 ``weight_decay``.
    The streams are drawn on the CPU, so they are the same on every ``device``.
    """
    if name == "quadratic":
        return AdditiveNoiseQuadratic(torch.linspace(0.1, 1.0, 10, dtype=dtype, device=device), 1.0, p, seed)
    if name == "digits":
        from harmonia.data import load_digits
        from harmonia.nn import mlp

        data = load_digits(dtype=dtype, device=device)
        model = mlp(64, (hidden,), 10, seed=seed, dtype=dtype, device=device)
        return ModelObjective(model, data.X_train, data.y_train, data.X_test, data.y_test, p, batch_size,
                              weight_decay, seed)
    raise ValueError(f"name: expected one of {OBJECTIVES}, got {name!r}")
