"""Chapter 11 demos: settings, the three propositions at small sizes, GDA runs, the stability check, and every
figure and widget callback driven headless."""

from __future__ import annotations

from dataclasses import replace

import matplotlib.pyplot as plt
import torch

from harmonia.course.demos import gan_nash_gaussian as demo
from harmonia.course.exercises import ch11
from harmonia.course.settings import current
from harmonia.games import MomentMatchingGame, eta_star, periodogram, sample_conv_gaussian

FAST, FULL = current(mode="fast", device="cpu"), current(mode="full", device="cpu")
TINY = replace(demo.settings(FAST), steps=300, c_sizes=(16, 256), c_draws=12)


def _game(lam=1.0):
    x = sample_conv_gaussian(demo.theta_star(16), 64, seed=0)
    return MomentMatchingGame(x, "stat", "full", lam=lam), periodogram(x)


def test_settings_follow_the_mode():
    fast, full = demo.settings(FAST), demo.settings(FULL)
    assert (fast.steps, fast.c_draws, fast.c_sizes) == (5000, 100, (16, 256))
    assert full.steps == 20000 and len(full.c_sizes) == 5


def test_prop_a_measured_equals_predicted():
    res = demo.prop_a(steps=50)
    for r in res.values():
        assert max(abs(m - p) / p for m, p in zip(r["measured"], r["predicted"])) < 1e-8


def test_gda_runs_converge_below_the_threshold_and_keep_phases():
    game, P = _game()
    es = eta_star(P, 1.0)
    p0 = 0.5 * torch.randn(16, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    slow, fast = demo.run_gda(game, p0, 0.5 * es, 2000), demo.run_gda(game, p0, 1.3 * es, 300)
    assert slow.error[-1] < 1e-6 < fast.error[-1] and slow.phase_change < 1e-8
    alt = demo.run_gda(game, p0, 0.5 * es, 300, alternating=True)
    assert len(alt.error) == 300


def test_prop_c_and_stability():
    res = demo.prop_c(TINY)
    assert set(res) == {16, 256} and all(0 <= r["non_nash"] <= 1 for r in res.values())
    assert res[256]["error"] < res[16]["error"]
    game, P = _game()
    measured = demo.stability(game, (0.9, 1.1))
    for ratio, rho in measured.items():
        assert abs(rho - demo.predicted_radius(P, 1.0, ratio * eta_star(P, 1.0))) < 1e-6
    assert measured[0.9] < 1 < measured[1.1]


def test_exercise_references():
    game, P = _game()
    assert ch11.gda_threshold(P, 1.0, 1.0) == eta_star(P, 1.0)
    a, w = torch.tensor([0.5, 1.0], dtype=torch.float64), torch.tensor([0.2, -0.1], dtype=torch.float64)
    assert torch.allclose(ch11.energy(a, w, 1.3, 1.0), w**2 + (a**2 / 2 - 1.3 * torch.log(a)))


def test_figures_and_widget_callbacks():
    game, P = _game()
    p0 = 0.5 * torch.ones(16, dtype=torch.float64)
    runs = {"a": demo.run_gda(game, p0, 0.05, 50)}
    figs = [demo.plot_model(TINY), demo.plot_prop_a(demo.prop_a(steps=30)), demo.plot_gda(runs, "t"),
            demo.plot_prop_c({16: {"non_nash": 0.8, "error": 0.05}, 256: {"non_nash": 0.9, "error": 0.01}}),
            demo.plot_stability(P, 1.0, {0.5: 0.9, 1.1: 1.01})]
    for lam in (0.0, 1.0):
        figs.append(demo.plot_portrait(float(P[1]), lam, 0.05, steps=100))
    for fig in figs:
        assert fig.axes
        plt.close(fig)


def test_device_check_on_the_cpu():
    out = demo.device_check(current(mode="fast", device="cpu"))
    assert set(out) == {"periodogram", "theta", "w"} and all(torch.isfinite(v).all() for v in out.values())
