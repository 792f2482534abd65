"""harmonia.games and harmonia.ode: the moment-matching game of chapter 11 against closed forms, simulation and
autograd; the generic GDA / SGA dynamics and Jacobian tools; RK4's order."""

from __future__ import annotations

import math

import pytest
import torch

from harmonia.games import (
    MinMaxGame,
    MomentMatchingGame,
    circ_conv,
    circulant,
    empirical_autocov,
    eta_star,
    exp_filter,
    filter_autocov,
    frequency_energy,
    frequency_field,
    gda_step,
    periodogram,
    proj_circulant,
    run_dynamics,
    sample_conv_gaussian,
    sga_step,
    spectral_radius,
    update_jacobian,
    zero_phase_filter,
)
from harmonia.maxent import sample_gaussian
from harmonia.ode import integrate, rk4_step

F64 = torch.float64


def _theta_star(d: int = 16) -> torch.Tensor:
    t = torch.zeros(d, dtype=F64)
    t[0], t[1] = 1.0, 0.5
    return t


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------------- ode
def test_rk4_is_fourth_order_on_the_harmonic_oscillator():
    f = lambda t, y: torch.stack([y[1], -y[0]])  # noqa: E731
    y0 = torch.tensor([1.0, 0.0], dtype=F64)
    errs = []
    for steps in (20, 40):
        y = integrate(f, y0, h=2.0 / steps, steps=steps)[-1]
        errs.append(float((y - torch.tensor([math.cos(2.0), -math.sin(2.0)], dtype=F64)).norm()))
    assert 14 < errs[0] / errs[1] < 18  # halving h divides the error by 2^4


def test_integrate_returns_the_trajectory_and_checks_its_arguments():
    traj = integrate(lambda t, y: -y, torch.ones(3, dtype=F64), h=0.1, steps=5)
    assert traj.shape == (6, 3) and torch.equal(traj[0], torch.ones(3, dtype=F64))
    assert torch.allclose(traj[1], rk4_step(lambda t, y: -y, 0.0, torch.ones(3, dtype=F64), 0.1))
    with pytest.raises(ValueError, match="h"):
        integrate(lambda t, y: y, torch.ones(1), h=-1.0, steps=3)


# ------------------------------------------------------------------------------ stationary Gaussian
def test_circular_convolution_equals_a_double_loop():
    g = _gen(0)
    a, b = torch.randn(7, generator=g, dtype=F64), torch.randn(7, generator=g, dtype=F64)
    loop = torch.stack([sum(a[v] * b[(u - v) % 7] for v in range(7)) for u in range(7)])
    assert torch.allclose(circ_conv(a, b), loop, atol=1e-12)


def test_autocovariance_and_periodogram_identities():
    g = _gen(1)
    th = torch.randn(9, generator=g, dtype=F64)
    r = filter_autocov(th)
    loop = torch.stack([sum(th[u] * th[(u + t) % 9] for u in range(9)) for t in range(9)])
    assert torch.allclose(r, loop, atol=1e-12)
    assert torch.allclose(torch.fft.fft(r).real, torch.fft.fft(th).abs() ** 2, atol=1e-10)
    x = torch.randn(5, 9, generator=g, dtype=F64)
    r_hat = empirical_autocov(x)
    loop = torch.stack([(x * x.roll(-t, dims=1)).sum() / (5 * 9) for t in range(9)])
    assert torch.allclose(r_hat, loop, atol=1e-12)
    assert torch.allclose(torch.fft.fft(r_hat).real, periodogram(x), atol=1e-12)
    assert float((x**2).sum() / 5) == pytest.approx(float(periodogram(x).sum()), rel=1e-12)  # Parseval


def test_periodogram_is_unbiased_and_both_samplers_agree():
    t = _theta_star()
    P = torch.fft.fft(filter_autocov(t)).real
    x = sample_conv_gaussian(t, 20000, seed=3)
    assert float(((periodogram(x) - P) / P).abs().max()) < 0.05
    # the other view: a Gaussian field with spectrum P sampled by chapter 07's sample_gaussian (a 1 x 16 grid)
    y = sample_gaussian(P[None, :], 20000, seed=4)[:, 0]
    assert float(((periodogram(y) - P) / P).abs().max()) < 0.05


def test_model_covariance_matches_monte_carlo():
    t = _theta_star(8)
    x = sample_conv_gaussian(t, 100000, seed=5)
    game = MomentMatchingGame(x, "cov", "full", lam=1.0)
    C = game.model_moments(t)
    assert torch.allclose(C, circulant(filter_autocov(t)))
    se = 3 * math.sqrt(2 * float(C.abs().max()) ** 2 / 100000)
    assert float((game.m_hat - C).abs().max()) < 3 * se


def test_circulant_projection():
    g = _gen(6)
    M = torch.randn(6, 6, generator=g, dtype=F64)
    Pm = proj_circulant(M)
    assert torch.allclose(proj_circulant(Pm), Pm, atol=1e-12)
    assert torch.allclose(Pm, Pm.T, atol=1e-12)
    C = circulant(filter_autocov(torch.randn(6, generator=g, dtype=F64)))
    assert torch.allclose(proj_circulant(C), C, atol=1e-12)
    assert abs(float(((M - Pm) * C).sum())) < 1e-10  # the orthogonal part is invisible to circulants


def test_zero_phase_filter_is_real_even_and_has_the_spectrum():
    P = torch.rand(12, generator=_gen(7), dtype=F64)
    P = 0.5 * (P + P.roll(-1).flip(0))
    th = zero_phase_filter(P)
    assert torch.allclose(th, th.roll(-1).flip(0), atol=1e-12)
    assert torch.allclose(torch.fft.fft(th).abs() ** 2, P, atol=1e-12)
    with pytest.raises(ValueError, match="P"):
        zero_phase_filter(-P)


# ------------------------------------------------------------------------------------ propositions
def test_proposition_a_the_invisible_part_grows_exactly():
    x = sample_conv_gaussian(_theta_star(8), 32, seed=1)
    for lam in (0.0, 0.5):
        game = MomentMatchingGame(x, "cov", "full", lam=lam)
        c_perp = game.m_hat - proj_circulant(game.m_hat)
        g = game.game()
        p, w = 0.5 * torch.randn(8, dtype=F64, generator=_gen(0)), torch.zeros(64, dtype=F64)
        for _ in range(200):
            p, w = gda_step(g, p, w, 0.01)
        W = w.reshape(8, 8)
        expected = 200 * 0.01 * c_perp if lam == 0 else (1 - (1 - 0.01 * lam) ** 200) / lam * c_perp
        assert torch.allclose(W - proj_circulant(W), expected, rtol=1e-8, atol=1e-12)
    assert MomentMatchingGame(x, "cov", "full", lam=0.0).nash_gap(_theta_star(8), torch.zeros(8, 8, dtype=F64)) == math.inf


def test_proposition_b_nash_equilibrium_and_stationary_gradient():
    x = sample_conv_gaussian(_theta_star(), 64, seed=0)
    game = MomentMatchingGame(x, "stat", "full", lam=1.0)
    th0 = game.minmax_solution()
    w0 = torch.zeros(16, dtype=F64)
    assert game.nash_gap(th0, w0) < 1e-10
    gx, gy = game.game().grads(th0, w0)
    assert float(gx.abs().max()) < 1e-12 and float(gy.abs().max()) < 1e-12
    # a pair off the equilibrium has a positive gap
    assert game.nash_gap(th0 * 1.1, game.best_response(th0 * 1.1)) > 1e-6


def test_generator_symmetries_leave_the_game_unchanged():
    x = sample_conv_gaussian(_theta_star(), 16, seed=2)
    g = _gen(3)
    th, w = torch.randn(16, generator=g, dtype=F64), torch.randn(16, generator=g, dtype=F64)
    for features in ("stat", "cov"):
        game = MomentMatchingGame(x, features, "full", lam=0.7)
        ww = w if features == "stat" else torch.randn(16, 16, generator=g, dtype=F64)
        base = float(game.value(th, ww))
        for other in (th.roll(5), th.flip(0), -th, th.roll(-1).flip(0)):
            assert float(game.value(other, ww)) == pytest.approx(base, rel=1e-12, abs=1e-12)


def test_gda_gradient_oracle_and_phase_preservation():
    x = sample_conv_gaussian(_theta_star(), 64, seed=0)
    game = MomentMatchingGame(x, "stat", "full", lam=1.0)
    g = _gen(4)
    th = torch.randn(16, generator=g, dtype=F64)
    w = torch.randn(16, generator=g, dtype=F64)
    w = w + w.roll(-1).flip(0)  # symmetric
    gx, _ = game.game().grads(th, w)
    assert torch.allclose(gx, -2 * circ_conv(w, th), atol=1e-12)
    p, ww = th.clone(), torch.zeros(16, dtype=F64)
    ph0 = torch.angle(torch.fft.fft(th))
    for _ in range(300):
        p, ww = gda_step(game.game(), p, ww, 0.5 * eta_star(periodogram(x), 1.0))
    amp = torch.fft.fft(p)
    dph = (torch.angle(amp) - ph0 + math.pi) % (2 * math.pi) - math.pi
    live = amp.abs() > 1e-3 * float(amp.abs().max())  # phases of tiny coefficients are ill-conditioned
    assert float(dph[live].abs().max()) < 1e-6


def test_energy_is_conserved_by_the_flow_and_dissipated_with_a_ridge():
    P = torch.tensor(1.3, dtype=F64)
    s0 = torch.tensor([0.6, 0.3], dtype=F64)
    H = frequency_energy(integrate(frequency_field(P, 0.0), s0, 0.01, 1000), P)
    assert float((H - H[0]).abs().max() / H[0].abs()) < 1e-7
    H_l = frequency_energy(integrate(frequency_field(P, 1.0), s0, 0.01, 1000), P)
    assert bool((H_l.diff() <= 1e-12).all()) and float(H_l[-1]) < float(H_l[0]) - 0.1


def test_stability_threshold_matches_the_jacobian_spectrum():
    x = sample_conv_gaussian(_theta_star(), 64, seed=0)
    game = MomentMatchingGame(x, "stat", "full", lam=1.0)
    P = periodogram(x)
    es = eta_star(P, 1.0)
    assert es == pytest.approx(1 / (4 * float(P.max())), rel=1e-12)  # all-complex regime here
    g, z = game.game(), torch.cat([game.minmax_solution(), torch.zeros(16, dtype=F64)])
    radii = {}
    for ratio in (0.99, 1.01):
        def step(v, lr=ratio * es):
            a, b = gda_step(g, v[:16], v[16:], lr, create_graph=True)
            return torch.cat([a, b])
        radii[ratio] = spectral_radius(update_jacobian(step, z), exclude_one=1e-9)
    assert radii[0.99] < 1 < radii[1.01]
    # real-root regime (tau lam^2 >= 16 P): 4 / (tau lam + sqrt(...)) >= 2 / (tau lam), so the antisymmetric part binds
    assert eta_star(torch.tensor([0.1], dtype=F64), 4.0) == pytest.approx(0.5, rel=1e-12)
    assert eta_star(torch.tensor([0.1], dtype=F64), 4.0, tau=1.0) <= 4 / (4.0 + math.sqrt(16.0 - 1.6))
    assert eta_star(torch.tensor([2.0, 0.5], dtype=F64), 1.0) == pytest.approx(1 / 8, rel=1e-12)


def test_proposition_c_curved_family():
    true = exp_filter(torch.tensor(0.6, dtype=F64), 16, 4)
    assert torch.allclose(true[:5], torch.tensor([1, 0.6, 0.36, 0.216, 0], dtype=F64))
    gaps, errs = [], []
    for draw in range(20):
        game = MomentMatchingGame(sample_conv_gaussian(true, 256, seed=draw), "stat", "exp", lam=1.0, K=4)
        phi = game.minmax_solution()
        gap = game.nash_gap(phi, game.best_response(phi))
        assert gap >= -1e-12
        gaps.append(gap)
        errs.append(abs(float(phi) - 0.6))
    assert sum(g > 1e-9 for g in gaps) >= 10 and max(errs) < 0.1


def test_bilinear_game_gda_diverges_sga_and_alternating_do_not():
    game = MinMaxGame(lambda x, y: (x * y).sum())
    x0, y0 = torch.tensor([1.0], dtype=F64), torch.tensor([1.0], dtype=F64)
    norm = lambda x, y: float(torch.cat([x, y]).norm())  # noqa: E731
    xs, ys, _ = run_dynamics(lambda x, y: gda_step(game, x, y, 0.1), x0, y0, 200)
    assert norm(xs, ys) > 2 * norm(x0, y0)
    xs, ys, _ = run_dynamics(lambda x, y: sga_step(game, x, y, 0.1, lam=1.0), x0, y0, 200)
    assert norm(xs, ys) < 0.5 * norm(x0, y0)
    xs, ys, log = run_dynamics(lambda x, y: gda_step(game, x, y, 0.1, alternating=True), x0, y0, 200, record=norm)
    assert max(log) < 2 * norm(x0, y0) and min(log) > 0.3 * norm(x0, y0)


def test_bad_inputs_name_the_argument():
    x = torch.randn(4, 8, dtype=F64)
    with pytest.raises(ValueError, match="features"):
        MomentMatchingGame(x, "vgg")
    with pytest.raises(ValueError, match="lam"):
        MomentMatchingGame(x, "stat", "full", lam=0.0).best_response(torch.ones(8, dtype=F64))
    with pytest.raises(ValueError, match="M"):
        proj_circulant(torch.ones(3, 4, dtype=F64))
    with pytest.raises(ValueError, match="lam"):
        eta_star(torch.ones(3, dtype=F64), -1.0)
