"""Exercises of chapter 01 (vSGD)."""

from __future__ import annotations

import torch

from harmonia.course.exercises import Exercise, register
from harmonia.optim import NoisyQuadratic, bbprop_diag, vsgd_init, vsgd_step

F64 = torch.float64


def eta_star(h: torch.Tensor, sigma2: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """Reference of 01.1: the greedy optimal rate :math:`\\frac1h\\frac{e}{e+\\sigma^2}`."""
    return e / (h * (e + sigma2))


def greedy_schedule(t: torch.Tensor, h: float, sigma2: float, e0: float) -> torch.Tensor:
    """Reference of 01.2: the rate at step ``t`` when the greedy rate is used from the start."""
    P = NoisyQuadratic(torch.tensor([h], dtype=F64), sigma2**0.5)
    return P.optimal_schedule(t, e0)[..., 0]


def vsgd_update(gbar, vbar, hbar, tau, g, g2, h, n):
    """Reference of 01.3: one per-coordinate vSGD update; returns (gbar, vbar, hbar, tau, lr)."""
    from harmonia.optim import VSGDState

    state, lr = vsgd_step(VSGDState(gbar, vbar, hbar, tau), g, g2, h, n, eps=0.0)
    return state.gbar, state.vbar, state.hbar, state.tau, lr


def adaptive_memory(x_init: torch.Tensor, x: torch.Tensor, C: float = 1.0, tau0: float | None = None):
    """Reference of 01.4: vSGD's statistics on a scalar stream (curvature 1, nothing optimised).

    ``x_init`` (n0,) initialises :math:`\\bar g,\\bar v`; returns the memory :math:`\\tau_t` and the
    average :math:`\\bar g_t` after each sample of ``x`` (T,), both (T,).
    """
    ones = torch.ones_like(x_init)
    state = vsgd_init(x_init[:, None], x_init[:, None].square(), ones[:, None], C=C, tau0=tau0)
    taus, gbars = [], []
    one = torch.ones(1, dtype=x.dtype)
    for xt in x:
        state, _ = vsgd_step(state, xt.reshape(1), xt.reshape(1).square(), one, eps=0.0)
        taus.append(state.tau[0])
        gbars.append(state.gbar[0])
    return torch.stack(taus), torch.stack(gbars)


def softmax_bbprop(W: torch.Tensor, b: torch.Tensor, X: torch.Tensor, y: torch.Tensor):
    """Reference of 01.5: bbprop curvature (hW (C, d), hb (C,)) of softmax regression, batch mean."""
    layer = torch.nn.Linear(W.shape[1], W.shape[0]).to(W.dtype)
    with torch.no_grad():
        layer.weight.copy_(W)
        layer.bias.copy_(b)
    hW, hb = bbprop_diag(torch.nn.Sequential(layer), X, y, loss="ce")
    return hW, hb


def fixed_rate_excess(t: torch.Tensor, h: float, sigma2: float, eta: float, e0: float) -> torch.Tensor:
    """Reference of 01.6: expected excess loss :math:`\\frac h2 e_t` after ``t`` steps of SGD with the fixed
    rate ``eta`` (``0 < eta h < 2``) on the 1-D noisy quadratic, from :math:`e_0=(\\theta_0-\\theta^\\star)^2`.

    .. math:: e_\\infty=\\frac{\\eta h\\sigma^2}{2-\\eta h},\\qquad e_t=e_\\infty+(1-\\eta h)^{2t}(e_0-e_\\infty).
    """
    floor = eta * h * sigma2 / (2 - eta * h)
    return 0.5 * h * (floor + (1 - eta * h) ** (2 * t) * (e0 - floor))


def _floor_cases(gen):
    cases = []
    for _ in range(4):
        h, s2, e0 = (float(0.1 + 5 * torch.rand(1, generator=gen, dtype=F64)) for _ in range(3))
        eta = float(0.01 + 1.8 * torch.rand(1, generator=gen, dtype=F64)) / h
        cases.append(((torch.arange(0, 60, dtype=F64), h, s2, eta, e0), {}))
    cases.append(((torch.tensor([0.0, 1.0, 3000.0], dtype=F64), 1.0, 1.0, 0.003, 25.0), {}))
    return cases


def _eta_cases(gen):
    r = lambda *s: torch.rand(*s, generator=gen, dtype=F64)  # noqa: E731
    return [((0.1 + 10 * r(20), 5 * r(20), 10 * r(20)), {}), ((torch.tensor(2.0, dtype=F64), torch.tensor(1.0, dtype=F64),
                                                            torch.tensor(4.0, dtype=F64)), {})]


def _schedule_cases(gen):
    cases = []
    for _ in range(4):
        h, s2, e0 = (float(0.1 + 5 * torch.rand(1, generator=gen)) for _ in range(3))
        cases.append(((torch.arange(0, 50, dtype=F64), h, s2, e0), {}))
    cases.append(((torch.tensor([10.0], dtype=F64), 2.0, 1.0, 4.0), {}))
    return cases


def _update_cases(gen):
    cases = []
    for n in (1, 1, 4, 16):
        d = 6
        g = torch.randn(d, generator=gen, dtype=F64)
        gbar = torch.randn(d, generator=gen, dtype=F64)
        vbar = gbar.square() + torch.rand(d, generator=gen, dtype=F64)
        hbar = 0.1 + torch.rand(d, generator=gen, dtype=F64)
        tau = 1 + 20 * torch.rand(d, generator=gen, dtype=F64)
        g2 = g.square() + (n > 1) * torch.rand(d, generator=gen, dtype=F64)
        h = 0.1 + torch.rand(d, generator=gen, dtype=F64)
        cases.append(((gbar, vbar, hbar, tau, g, g2, h, n), {}))
    return cases


def _stream_cases(gen):
    cases = []
    for shift in (3.0, -2.0):
        x_init = torch.randn(10, generator=gen, dtype=F64)
        x = torch.randn(300, generator=gen, dtype=F64)
        x[150:] += shift
        cases.append(((x_init, x), {"C": 1.0, "tau0": 10.0}))
    cases.append(((torch.randn(5, generator=gen, dtype=F64), torch.randn(100, generator=gen, dtype=F64)), {"C": 2.0}))
    return cases


def _bbprop_cases(gen):
    cases = []
    for n, d, c in ((8, 5, 3), (20, 4, 10), (1, 6, 2)):
        W = torch.randn(c, d, generator=gen, dtype=F64)
        b = torch.randn(c, generator=gen, dtype=F64)
        X = torch.randn(n, d, generator=gen, dtype=F64)
        y = torch.randint(0, c, (n,), generator=gen)
        cases.append(((W, b, X, y), {}))
    return cases


register(Exercise(
    id="01.1", title="greedy optimal learning rate on the NQM", reference=eta_star, cases=_eta_cases,
    level="easy",
    hints=("Write the expected loss after the step as a function of eta: what shape is it?",
           "theta_{t+1} - theta* = (1 - eta h)(theta_t - theta*) + eta h (c - theta*), two independent terms: "
           "square them and take expectations",
           "expected loss after the step: h/2 [(1 - eta h)^2 e + eta^2 h^2 sigma2 + sigma2]; set its derivative in "
           "eta to zero: eta = e / (h (e + sigma2))"),
    rtol=1e-12, atol=1e-14,
))
register(Exercise(
    id="01.2", title="the greedy schedule is 1/t", reference=greedy_schedule, cases=_schedule_cases,
    level="medium",
    hints=("Put the greedy rate into the recursion of e_t and look at 1/e_{t+1} - 1/e_t.",
           "with the greedy rate e_{t+1} = e_t sigma2 / (e_t + sigma2), so 1/e_{t+1} = 1/e_t + 1/sigma2: "
           "1/e_t grows by 1/sigma2 per step",
           "with the greedy rate, 1/e_{t+1} = 1/e_t + 1/sigma2, so e_t = sigma2 / (t + sigma2/e0) and "
           "eta_t = 1 / (h (t + 1 + sigma2/e0)); return a tensor shaped like t"),
    rtol=1e-12, atol=1e-14,
))
register(Exercise(
    id="01.3", title="one vSGD update (moving averages, rate, memory)", reference=vsgd_update, cases=_update_cases,
    level="medium",
    hints=("For the memory, write the new tau as a(r) tau + b(r): what must a and b be at r = 0 and at r = 1?",
           "a(r) = 1 - r and b(r) = 1; r = n gbar^2 / (vbar + (n-1) gbar^2) and lr = r / hbar, all from the NEW "
           "averages",
           "w = 1/tau; gbar += w (g - gbar), same for vbar with g2 and hbar with h; r = n gbar^2 / (vbar + (n-1) gbar^2); "
           "lr = r / hbar; tau = (1 - r) tau + 1 (use the NEW averages)"),
    rtol=1e-12, atol=1e-14,
))
register(Exercise(
    id="01.4", title="adaptive memory on a stream", reference=adaptive_memory, cases=_stream_cases,
    level="easy",
    hints=("This is the update of 01.3 with curvature 1 and n = 1, run over the stream. Where do the averages start?",
           "initialise gbar = mean(x_init), vbar = C mean(x_init^2), tau = tau0 (default len(x_init)); for each x_t: "
           "w = 1/tau, gbar += w (x_t - gbar), vbar += w (x_t^2 - vbar), tau = (1 - gbar^2/vbar) tau + 1; "
           "record tau and gbar after each sample"),
    rtol=1e-10, atol=1e-12,
))
register(Exercise(
    id="01.5", title="bbprop for softmax regression", reference=softmax_bbprop, cases=_bbprop_cases,
    level="medium",
    hints=("Differentiate the cross-entropy -log p_y twice with respect to one logit a_k, then use a_k = W_k . x + b_k.",
           "the output curvature is d2l/da_k^2 = p_k (1 - p_k) (the label drops out); a weight W_kj multiplies x_j, "
           "so its curvature is x_j^2 p_k (1 - p_k)",
           "p = softmax(X W^T + b); the output curvature is p (1 - p); hW[k, j] = mean_i p_ik (1 - p_ik) X_ij^2, "
           "hb[k] = mean_i p_ik (1 - p_ik)"),
    rtol=1e-10, atol=1e-12,
))
register(Exercise(
    id="01.6", title="the noise floor of a fixed rate", reference=fixed_rate_excess, cases=_floor_cases,
    level="hard",
    hints=("The recursion of e_t is affine in e_t for a fixed rate: what is its fixed point?",
           "the fixed point of e <- (1 - eta h)^2 e + eta^2 h^2 sigma2 is e_inf = eta h sigma2 / (2 - eta h); "
           "e_t - e_inf shrinks by the factor (1 - eta h)^2 per step",
           "e_inf = eta h sigma2 / (2 - eta h), e_t = e_inf + (1 - eta h)^(2 t) (e0 - e_inf); return the excess loss "
           "h/2 e_t, a tensor shaped like t"),
    rtol=1e-10, atol=1e-14,
))
