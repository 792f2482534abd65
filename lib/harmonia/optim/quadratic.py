"""The noisy quadratic model (NQM): the test bed where vSGD's rate is derived, vectorised over trials.

Each sample has its own minimum :math:`c\\sim\\mathcal N(\\theta^\\star,\\sigma^2)` and the same curvature:

.. math:: L(\\theta;c)=\\sum_i\\tfrac{h_i}{2}(\\theta_i-c_i)^2,\\qquad
          J(\\theta)=\\sum_i\\tfrac{h_i}{2}\\big[(\\theta_i-\\theta_i^\\star)^2+\\sigma_i^2\\big],\\qquad
          \\nabla=h\\,(\\theta-c).

The greedy optimal rate after a step with a batch of :math:`n` samples and the optimal
deterministic schedule are

.. math:: \\eta^\\star=\\frac1h\\,\\frac{(\\theta-\\theta^\\star)^2}{(\\theta-\\theta^\\star)^2+\\sigma^2/n},\\qquad
          \\eta^\\star_t=\\frac{1}{h\\,(t+1+\\sigma^2/e_0)},\\qquad e_t=\\frac{\\sigma^2}{t+\\sigma^2/e_0} .

:func:`run_sgd` and :func:`run_vsgd` run many independent trials at once (leading axis ``trials``),
optionally with an optimum that jumps (:func:`jumping_optima`).

Used in: chapter 01; reused by chapters 02-03 (noisy quadratics for distributed SGD).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from harmonia.config import check_broadcast, check_finite, check_int, check_positive, check_tensor, make_generator
from harmonia.optim.vsgd import block_index, vsgd_init, vsgd_update

__all__ = ["NoisyQuadratic", "jumping_optima", "QuadraticRun", "run_sgd", "run_vsgd",
           "constant", "inv_t", "greedy_oracle", "optimal_schedule"]

Schedule = Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor]


class NoisyQuadratic:
    """A separable noisy quadratic in ``d`` dimensions.

    Parameters
    ----------
    h : Tensor, shape (d,)
        Curvatures, > 0.
    sigma : float or Tensor (d,)
        Standard deviation of the sample minima around the optimum, >= 0.
    theta_star : float or Tensor broadcastable to (..., d)
        The optimum (default 0).
    """

    def __init__(self, h: torch.Tensor, sigma: float | torch.Tensor = 1.0,
                 theta_star: float | torch.Tensor = 0.0) -> None:
        check_tensor(h, "h", ndim=1, dtype="floating")
        if bool((h <= 0).any()):
            raise ValueError(f"h: expected positive curvatures, got {h.tolist()}")
        self.h = h
        self.sigma = torch.as_tensor(sigma, dtype=h.dtype, device=h.device).expand(h.shape).clone()
        check_tensor(self.sigma, "sigma")  # finite
        if bool((self.sigma < 0).any()):
            raise ValueError(f"sigma: expected non-negative noise levels, got {self.sigma.tolist()}")
        self.theta_star = torch.as_tensor(theta_star, dtype=h.dtype, device=h.device)
        check_tensor(self.theta_star, "theta_star")  # finite

    @property
    def d(self) -> int:
        return self.h.shape[0]

    def _theta(self, theta: torch.Tensor) -> torch.Tensor:
        return check_tensor(theta, "theta", shape=("...", self.d), dtype=self.h.dtype, like=self.h)

    def sample_grads(self, theta: torch.Tensor, n: int = 1, generator: torch.Generator | None = None,
                     theta_star: torch.Tensor | None = None) -> torch.Tensor:
        """Per-sample gradients :math:`h(\\theta-c_k)`, shape (n, ..., d)."""
        theta = self._theta(theta)
        n = check_positive(n, "n", integer=True)
        star = self.theta_star if theta_star is None else theta_star
        noise = torch.randn((n, *theta.shape), generator=generator, dtype=theta.dtype, device=theta.device)
        return self.h * (theta - star - self.sigma * noise)

    def sample_grad(self, theta: torch.Tensor, n: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean gradient of a batch of ``n`` samples, shape (..., d)."""
        return self.sample_grads(theta, n, generator).mean(dim=0)

    def curvature(self, theta: torch.Tensor) -> torch.Tensor:
        """The exact curvature, ``h`` broadcast like ``theta``."""
        return self.h.expand_as(self._theta(theta))

    def excess_loss(self, theta: torch.Tensor, theta_star: torch.Tensor | None = None) -> torch.Tensor:
        """:math:`J(\\theta)-J(\\theta^\\star)=\\sum_i\\frac{h_i}{2}(\\theta_i-\\theta^\\star_i)^2`, shape (...)."""
        star = self.theta_star if theta_star is None else theta_star
        return 0.5 * (self.h * (self._theta(theta) - star).square()).sum(dim=-1)

    def expected_loss(self, theta: torch.Tensor) -> torch.Tensor:
        """:math:`J(\\theta)`, shape (...)."""
        return self.excess_loss(theta) + 0.5 * (self.h * self.sigma.square()).sum()

    def oracle_lr(self, theta: torch.Tensor, n: int = 1, theta_star: torch.Tensor | None = None) -> torch.Tensor:
        """Greedy optimal rate with the true distance: :math:`\\frac1h\\frac{\\Delta^2}{\\Delta^2+\\sigma^2/n}`, (..., d)."""
        star = self.theta_star if theta_star is None else theta_star
        dist2 = (self._theta(theta) - star).square()
        denom = dist2 + self.sigma.square() / n
        # noise-free and already at the optimum (0/0): any rate is optimal; return the Newton rate 1/h
        safe = torch.where(denom > 0, dist2 / denom.clamp_min(torch.finfo(denom.dtype).tiny), torch.ones_like(denom))
        return safe / self.h

    def optimal_mse(self, t: torch.Tensor | int, e0: torch.Tensor | float) -> torch.Tensor:
        """Mean squared distance under the optimal schedule, :math:`e_t=\\sigma^2/(t+\\sigma^2/e_0)`, per coordinate."""
        s2 = self.sigma.square()
        return s2 / (torch.as_tensor(t, dtype=s2.dtype).unsqueeze(-1) + s2 / e0)

    def optimal_schedule(self, t: torch.Tensor | int, e0: torch.Tensor | float) -> torch.Tensor:
        """The greedy-optimal rate :math:`1/(h(t+1+\\sigma^2/e_0))`, per coordinate."""
        s2 = self.sigma.square()
        return 1.0 / (self.h * (torch.as_tensor(t, dtype=s2.dtype).unsqueeze(-1) + 1 + s2 / e0))


def jumping_optima(steps: int, every: int, size: float, shape: tuple[int, ...], start: torch.Tensor | float = 0.0,
                   generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64,
                   device: torch.device | str = "cpu") -> torch.Tensor:
    """Optimum path that jumps by :math:`\\pm` ``size`` (random sign per trial and coordinate) every ``every`` steps.

    Returns a tensor of shape (steps, *shape); entry ``t`` is the optimum seen at step ``t``.
    """
    steps = check_positive(steps, "steps", integer=True)
    every = check_positive(every, "every", integer=True)
    check_positive(size, "size", allow_zero=True)
    shape = tuple(check_int(n, "shape", minimum=0) for n in shape)
    n_jumps = (steps - 1) // every
    signs = torch.randint(0, 2, (n_jumps, *shape), generator=generator, device=device).to(dtype) * 2 - 1
    levels = torch.cat([torch.zeros(1, *shape, dtype=dtype, device=device), (size * signs).cumsum(dim=0)])
    segment = torch.arange(steps, device=device) // every
    return levels[segment] + torch.as_tensor(start, dtype=dtype, device=device)


@dataclass
class QuadraticRun:
    """Trajectories of many trials on a noisy quadratic.

    Attributes
    ----------
    excess : Tensor, shape (steps + 1, trials)
        Excess loss before each step and after the last.
    lr : Tensor, shape (steps, trials, d)
        Learning rate used at each step.
    theta : Tensor, shape (steps + 1, trials, d)
        Parameters.
    tau, gbar, vbar : Tensor (steps, trials, d) or None
        vSGD's memory and statistics after each step (``run_vsgd`` only; block memories repeated).
    """

    excess: torch.Tensor
    lr: torch.Tensor
    theta: torch.Tensor
    tau: torch.Tensor | None = None
    gbar: torch.Tensor | None = None
    vbar: torch.Tensor | None = None


def _setup(problem: NoisyQuadratic, theta0, steps: int, trials: int, theta_star_path):
    steps = check_positive(steps, "steps", integer=True)
    trials = check_positive(trials, "trials", integer=True)
    if isinstance(theta0, torch.Tensor):
        check_tensor(theta0, "theta0", dtype="real", like=problem.h)
        check_broadcast((trials, problem.d), theta0.shape, "the (trials, d) state", "theta0")
        if theta0.ndim > 2:
            raise ValueError(f"theta0: expected a (d,) or (trials, d) start, got shape {tuple(theta0.shape)}")
    else:
        check_finite(theta0, "theta0")
    theta = torch.as_tensor(theta0, dtype=problem.h.dtype, device=problem.h.device).expand(trials, problem.d).clone()
    if theta_star_path is not None:
        check_tensor(theta_star_path, "theta_star_path", shape=(steps, "..."), dtype=problem.h.dtype, like=problem.h)
    star = (lambda t: problem.theta_star) if theta_star_path is None else (lambda t: theta_star_path[t])
    return steps, trials, theta, star


def run_sgd(problem: NoisyQuadratic, theta0: torch.Tensor | float, steps: int, schedule: Schedule | float,
            trials: int = 1, n: int = 1, seed: int | torch.Generator | None = 0,
            theta_star_path: torch.Tensor | None = None) -> QuadraticRun:
    """SGD :math:`\\theta\\leftarrow\\theta-\\eta_t\\,g_t` with a fixed rate or a schedule, all trials at once.

    ``schedule`` is a float (fixed rate) or a function ``(t, theta, theta_star) -> rate`` returning
    a tensor broadcastable to (trials, d) (see :func:`constant`, :func:`inv_t`,
    :func:`greedy_oracle`, :func:`optimal_schedule`).
    """
    steps, trials, theta, star = _setup(problem, theta0, steps, trials, theta_star_path)
    if not callable(schedule):
        schedule = constant(check_positive(schedule, "schedule"))
    gen = make_generator(seed, device=problem.h.device)
    excess, lrs, thetas = [problem.excess_loss(theta, star(0))], [], [theta]
    for t in range(steps):
        s = star(t)
        lr = torch.as_tensor(schedule(t, theta, s), dtype=theta.dtype, device=theta.device).expand_as(theta)
        g = problem.sample_grads(theta, n, gen, theta_star=s).mean(dim=0)
        theta = theta - lr * g
        lrs.append(lr)
        thetas.append(theta)
        excess.append(problem.excess_loss(theta, s))
    return QuadraticRun(excess=torch.stack(excess), lr=torch.stack(lrs), theta=torch.stack(thetas))


def run_vsgd(problem: NoisyQuadratic, theta0: torch.Tensor | float, steps: int, trials: int = 1, n: int = 1,
             n0: int = 10, C: float = 1.0, tau0: float | None = None, variant: str = "l", fd: bool = False,
             eps: float = 1e-9, seed: int | torch.Generator | None = 0,
             theta_star_path: torch.Tensor | None = None) -> QuadraticRun:
    """vSGD (functional core) on a noisy quadratic, all trials at once.

    The curvature estimate is the exact ``h`` (what bbprop gives on a quadratic); the slow start
    draws ``n0`` batches at ``theta0``. ``variant`` "l" or "g" (one block of all ``d``
    coordinates). ``fd=True`` uses the finite-difference rate (on a quadratic the probe returns
    ``h`` exactly, so only the :math:`\\bar v^h` bookkeeping differs). ``eps`` guards the update's
    denominators; the slow start itself adds nothing (``vsgd_init(..., eps=0)``).
    """
    steps, trials, theta, star = _setup(problem, theta0, steps, trials, theta_star_path)
    if variant not in ("l", "g"):
        raise ValueError(f"variant: expected 'l' or 'g' on a quadratic, got {variant!r}")
    n0 = check_positive(n0, "n0", integer=True)
    blocks = None if variant == "l" else block_index([problem.d], device=theta.device)
    gen = make_generator(seed, device=problem.h.device)

    def draw(theta: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        gs = problem.sample_grads(theta, n, gen, theta_star=s)
        return gs.mean(dim=0), gs.square().mean(dim=0), problem.curvature(theta)

    warm = [draw(theta, star(0)) for _ in range(n0)]
    state = vsgd_init(*(torch.stack(parts) for parts in zip(*warm)), C=C, tau0=tau0, blocks=blocks, fd=fd, eps=0.0)
    excess, lrs, thetas, taus, gbars, vbars = [problem.excess_loss(theta, star(0))], [], [theta], [], [], []
    for t in range(steps):
        s = star(t)
        g, g2, h = draw(theta, s)
        state, lr = vsgd_update(state, g, g2, h, n, blocks, None if blocks is None else 1, eps, None)
        theta = theta - lr * g
        lrs.append(lr)
        thetas.append(theta)
        excess.append(problem.excess_loss(theta, s))
        taus.append(state.tau if blocks is None else state.tau[..., blocks])
        gbars.append(state.gbar)
        vbars.append(state.vbar)
    return QuadraticRun(excess=torch.stack(excess), lr=torch.stack(lrs), theta=torch.stack(thetas),
                        tau=torch.stack(taus), gbar=torch.stack(gbars), vbar=torch.stack(vbars))


# ---------------------------------------------------------------------------------------------
# Baseline schedules: functions (t, theta, theta_star) -> rate
# ---------------------------------------------------------------------------------------------
def constant(eta: float) -> Schedule:
    """A fixed rate :math:`\\eta`."""
    eta = check_positive(eta, "eta")
    return lambda t, theta, star: torch.tensor(eta, dtype=theta.dtype)


def inv_t(eta0: float, decay: float) -> Schedule:
    """The Robbins-Monro family :math:`\\eta_t=\\eta_0/(1+\\text{decay}\\cdot t)`."""
    eta0 = check_positive(eta0, "eta0")
    decay = check_positive(decay, "decay", allow_zero=True)
    return lambda t, theta, star: torch.tensor(eta0 / (1.0 + decay * t), dtype=theta.dtype)


def greedy_oracle(problem: NoisyQuadratic, n: int = 1) -> Schedule:
    """The greedy optimal rate with the true distance to the (current) optimum (needs the truth)."""
    return lambda t, theta, star: problem.oracle_lr(theta, n, theta_star=star)


def optimal_schedule(problem: NoisyQuadratic, e0: float | torch.Tensor) -> Schedule:
    """The optimal deterministic schedule :math:`1/(h(t+1+\\sigma^2/e_0))` (needs h, sigma and e0)."""
    if isinstance(e0, torch.Tensor):
        check_tensor(e0, "e0", dtype="real", like=problem.h)
        if bool((e0 <= 0).any()):
            raise ValueError(f"e0: expected positive initial excess losses, got min {float(e0.min()):.3g}")
    else:
        check_positive(e0, "e0")
    return lambda t, theta, star: problem.optimal_schedule(t, e0).squeeze(0)
