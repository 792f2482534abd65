"""Chapter 04 demos: small versions of every part and every widget callback driven headless."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch

from harmonia.course import widgets
from harmonia.course.demos import lsam as demo
from harmonia.course.exercises import ch04
from harmonia.course.settings import current
from harmonia.distributed import harmonic_number

FAST, FULL = current(mode="fast", device="cpu"), current(mode="full", device="cpu")
SMALL = demo.Settings(grid_points=1201, langevin_steps=3000, langevin_burn=500, chains=4, digits_hidden=8,
                      digits_budget=40.0, record_every=2)


def test_settings():
    fast, full = demo.settings(FAST), demo.settings(FULL)
    assert fast.grid_points == 2401 and full.grid_points == 3001
    assert full.digits_budget > fast.digits_budget and full.langevin_steps > fast.langevin_steps


def test_toy_gradient_is_the_derivative_of_the_loss():
    x = torch.linspace(-1.5, 1.5, 301, dtype=torch.float64, requires_grad=True)
    auto = torch.autograd.grad(demo.toy_loss(x).sum(), x)[0]
    assert torch.allclose(demo.toy_grad(x.detach()), auto, rtol=1e-12, atol=1e-12)


def test_the_four_landscapes_rank_the_wells_as_the_chapter_says():
    L = demo.landscape(SMALL)
    r = {name: demo.ranking(L, *v) for name, v in demo.SETTINGS_1D.items()}
    assert -0.16 < r["no SAM, little smoothing"]["diff"] < -0.12
    assert r["smoothing alone"]["diff"] > 0 and r["SAM alone"]["diff"] > 0
    minima = r["SAM + smoothing"]["minima"]
    assert len(minima) == 1 and abs(minima[0] - 0.59) < 0.02
    plt.close(demo.plot_landscapes(L, r))


def test_gradient_identity_and_the_exercise_reference():
    L = demo.landscape(SMALL)
    rho, sigma, T = demo.SETTINGS_1D["SAM + smoothing"]
    fs, F = demo.smoothed(L, rho, sigma, T)
    dF = (F[2:] - F[:-2]) / (2 * L.h)
    ident = ch04.smoothed_gradient(fs, L.x, L.points[1:-1], sigma, T)
    assert float((dF - ident).abs().max()) < 1e-3


def test_samplers_match_quadrature_away_from_the_barrier():
    res = demo.sampler_experiment(demo.Settings(grid_points=1201, langevin_steps=8000, langevin_burn=1000, chains=8),
                                  centers=(0.6, -0.5))
    assert res["groups"].shape == (2, 2)
    assert float((res["groups"] - res["ref"][:, None]).abs().max()) < 0.03
    plt.close(demo.plot_samplers(res, show=(0, 1)))


def test_throughput_ratio_is_the_harmonic_number():
    rows = demo.throughput_ratios("exponential", ps=(2, 4), rounds=5000)
    assert abs(rows[4]["ratio"] / harmonic_number(4) - 1) < 0.03
    assert all(r["ratio"] == 1.0 for r in demo.throughput_ratios("constant", ps=(1, 3), rounds=100).values())
    assert ch04.throughput_ratio(4) == pytest.approx(25 / 12, rel=1e-15)
    plt.close(demo.plot_throughput({"exponential": rows}))


def test_digits_race_small():
    race = demo.digits_race(SMALL)
    runs = race["runs"]
    assert set(runs) == set(demo.METHODS)
    for r in runs.values():
        assert r.history.times[-1] <= SMALL.digits_budget + 1e-9 and r.history.times[0] == 0.0
        assert r.history.center_error[-1] < r.history.center_error[0]
    # SAM steps count two gradient evaluations
    assert runs["LSAM"].history.gradients[-1] == 2 * 4 * runs["LSAM"].history.rounds[-1]
    lsam0, easgd = race["check"]
    assert torch.equal(lsam0.center, easgd.center) and torch.equal(lsam0.workers, easgd.workers)
    t = demo.time_to(runs["EASGD"], 0.0)
    assert t == 0.0 and demo.time_to(runs["EASGD"], 1.01) is None
    assert 0.0 <= demo.final_accuracy(runs["SGD"]) <= 1.0
    plt.close(demo.plot_digits(race))


def test_widget_callbacks_headless():
    w = widgets.interactive_figure(
        lambda rho, sigma, T: demo.plot_landscape_explorer(rho=rho, sigma=sigma, T=T, grid_points=601),
        alt=lambda rho, sigma, T: f"F at rho={rho}",
        rho=widgets.float_slider(0.1, 0.0, 0.2, 0.01, "ρ"),
        sigma=widgets.float_slider(0.3, 0.01, 0.4, 0.01, "σ"),
        T=widgets.log_slider(0.05, -1.7, -0.3, "T"),
    )
    first = w.result
    w.children[0].value = 0.0
    assert w.result is not first
    fig = demo.plot_landscape_explorer(rho=0.1, sigma=0.3, T=0.05, grid_points=601)
    assert "1 local minima" in fig.axes[0].get_title()
    plt.close(fig)
    w2 = widgets.interactive_figure(
        lambda kind, p: demo.plot_straggler_explorer(kind=kind, p=p, rounds=500),
        alt=lambda kind, p: f"throughput for {kind}, P={p}",
        kind=widgets.dropdown(["exponential", "lognormal", "straggler", "constant"], "exponential", "step times"),
        p=widgets.int_slider(4, 1, 8, "workers P"),
    )
    first = w2.result
    w2.children[0].value = "constant"
    assert w2.result is not first
    fig = demo.plot_straggler_explorer(kind="constant", p=3, rounds=100)
    assert "ratio 1.00" in fig.axes[0].get_title()
    plt.close(fig)


def test_device_check_runs_on_cpu():
    out = demo.device_check(FAST)
    assert set(demo.DEVICE_DEPENDENT) <= set(out)
    assert all(torch.isfinite(v).all() for v in out.values())
