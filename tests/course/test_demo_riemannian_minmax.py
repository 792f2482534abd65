"""Chapter 12 demos: the toy runs and rates, planted games, the ensemble, a short WGAN, and every figure and
widget callback driven headless."""

from __future__ import annotations

from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import torch

from harmonia.course.demos import riemannian_minmax as demo
from harmonia.course.exercises import ch12
from harmonia.course.settings import current
from harmonia.games import M_gda, M_sga, hessian_blocks, rate

FAST, FULL = current(mode="fast", device="cpu"), current(mode="full", device="cpu")
TINY = replace(demo.settings(FAST), n_games=6, critic_h=8, gen_h=8, batch=32, pre_steps=200, cmp_steps=100)


def test_settings_follow_the_mode():
    fast, full = demo.settings(FAST), demo.settings(FULL)
    assert (fast.n_games, fast.pre_steps, fast.cmp_steps) == (50, 1500, 800)
    assert full.n_games > fast.n_games and full.pre_steps > fast.pre_steps


def test_toy_runs_and_empirical_rates():
    tr = demo.toy_run("SGA", 0.2, 0.5, 1.0)
    assert tr.shape == (601, 2) and abs(demo.empirical_rate(tr) - 0.5) < 0.01
    away = demo.toy_run("GDA", 0.3, 1.0, steps=600)     # rho > 1: the iterates leave the equilibrium
    assert np.hypot(*away[-1]) > 100 * np.hypot(*away[0])


def test_planted_games_and_ensemble():
    for dne, kind in ((True, "DNE"), (False, "DSE")):
        f, x, Y, ms, A, G = demo.planted_game(3, dne=dne)
        A1, B1, C1, gnorm, _ = hessian_blocks(f, x, Y, *ms)
        assert gnorm < 1e-12 and torch.allclose(A1, A, atol=1e-10) and torch.allclose(C1, -torch.eye(5, dtype=torch.float64), atol=1e-10)
    ens = demo.ensemble(TINY)
    assert len(ens["rows"]) == 6 and {r["kind"] for r in ens["rows"]} == {"DNE", "DSE"}
    assert all(max(r["gda"]) < 1 for r in ens["rows"] if r["kind"] == "DNE")


def test_short_wgan_keeps_constraints():
    pre = demo.wgan(TINY, "GDA", TINY.pre_steps, TINY.tau0, alternating=True)
    run = demo.wgan(TINY, "SGA", TINY.cmp_steps, 1.0, start=(pre.gen, pre.critic))
    assert pre.violation < 1e-5 and run.violation < 1e-5
    assert len(pre.w1) == 3 and len(run.f) == 100 and all(np.isfinite(run.f))


def test_exercise_references():
    z = torch.tensor([[0.6, 0.8]], dtype=torch.float64)
    v = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    assert torch.allclose(ch12.sphere_proj(z, v) @ z.T, torch.zeros(1, 1, dtype=torch.float64), atol=1e-15)
    X = torch.eye(3, 2, dtype=torch.float64)
    assert torch.allclose(ch12.qr_retraction(X, torch.zeros_like(X)), X)


def test_figures_and_widget_callbacks():
    f, x, y, ms = demo.toy()
    A, B, C, _, _ = hessian_blocks(f, x, y, *ms)
    pre = demo.wgan(TINY, "GDA", 50, 5.0, alternating=True)
    runs = {m: demo.wgan(TINY, m, 30, 1.0, start=(pre.gen, pre.critic)) for m in ("GDA", "SGA")}
    figs = [demo.plot_cylinder({m: demo.toy_run(m, 0.1, 1.0, steps=50) for m in demo.METHODS}, "t"),
            demo.plot_spectrum({"GDA": M_gda(A, B, C, 1.0), "SGA": M_sga(A, B, C, 1.0, 0.5)}, 0.1),
            demo.plot_tau_sweep(A, B, C, 0.5, np.logspace(-1, 1, 5), "t"), demo.plot_gan(runs, pre, TINY)]
    for fig in figs:
        assert fig.axes
        plt.close(fig)
    assert rate(M_gda(A, B, C, 1.0), 0.1) > 1


def test_device_check_on_the_cpu():
    out = demo.device_check(current(mode="fast", device="cpu"))
    assert set(out) == {"toy blocks", "critic V1"} and all(torch.isfinite(v).all() for v in out.values())


def test_retraction_selector_callback():
    rates = set()
    for r in ("qr", "polar", "cayley"):
        d, pred = demo.planted_run(r, "GDA", 0.1, 1.0, steps=40)
        assert d.shape == (40,) and np.isfinite(d).all() and d[-1] < d[0]
        rates.add(round(pred, 12))
    assert len(rates) == 1  # the linearisation does not see the retraction
    fig = demo.plot_retractions("SGA", 0.1, 1.0, highlight="polar")
    assert fig.axes
    plt.close(fig)
