"""Chapter 03 demos: small versions of every part and every widget callback driven headless."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest

from harmonia.course.demos import distributed_sgd_theory as demo
from harmonia.course.settings import current

FAST, FULL = current(mode="fast", device="cpu"), current(mode="full", device="cpu")

SMALL = demo.Settings(mc_chains=1500, mc_rounds=200, rate_chains=20_000, tree_rounds=400, trap_steps=4000,
                      noise_runs=8, record_every=10)


def test_settings():
    fast, full = demo.settings(FAST), demo.settings(FULL)
    assert full.mc_chains > fast.mc_chains and full.tree_rounds > fast.tree_rounds


def test_mean_rates_and_inequality():
    us = np.linspace(0.05, 1.9, 25)
    rates = demo.mean_rates(us)
    assert np.allclose(rates["SGD"], np.abs(1 - us))
    for name, r in rates.items():
        if name.startswith("EASGD"):
            ok = np.isfinite(r)
            assert np.all(r[ok] >= np.abs(1 - us[ok]) - 1e-12), name
    assert np.nanmin(rates["MSGD δ=0.5"] - np.abs(1 - us)) < 0  # momentum can beat SGD on the mean
    ineq = demo.rate_inequality(300, seed=1)
    assert ineq["settings"] == 300 and ineq["min_margin"] >= -1e-12
    plt.close(demo.plot_mean_rates(us, rates))


def test_additive_variance_mc_agrees():
    res = demo.additive_variance(0.1, SMALL)
    assert set(res["closed"]) == {("SGD", 1), ("SGD", 4), ("SGD", 16), ("EASGD", 1), ("EASGD", 4), ("EASGD", 16), ("MSGD", 1)}
    assert max(res["z"].values()) < 4.5
    # the center at beta = 0.9 sits below batch-p SGD
    assert res["closed"][("EASGD", 4)] < res["closed"][("SGD", 4)]
    unstable = demo.additive_variance(0.5, SMALL, ps=(1,))
    assert ("EASGD", 1) not in unstable["closed"]  # p = 1, alpha = 0.9 is unstable at eta = 0.5
    plt.close(demo.plot_additive_variance([res]))


def test_batch_curves_and_one_step_mc():
    curves = demo.batch_curves()
    g = curves["gaussian"]
    assert g["kappa"] == 2.0 and math.isclose(g["rate"][0], 2 / 3) and math.isclose(g["rate"][2], 1 / 3)
    assert np.all(np.diff(g["iterations"]) < 0)
    r, est, se = demo.one_step_rate_mc(demo.LAWS["uniform"], 4, SMALL.rate_chains)
    assert math.isclose(r, 0.8 / 4.8) and abs(est - r) < 4.5 * se
    plt.close(demo.plot_batch_curves(curves, {"gaussian": [(1, 0.67), (4, 0.33)]}))


def test_momentum_grid_and_easgd_multiplicative():
    r, eta, delta = demo.momentum_grid_best(demo.LAWS["gaussian"], 4, etas=np.linspace(0.3, 1.0, 36),
                                            deltas=np.linspace(-0.3, 0.3, 7))
    assert abs(r - 1 / 3) < 3e-3 and abs(delta) < 1e-9
    em = demo.easgd_multiplicative(2.0, ps=(4,))
    assert abs(em[4]["rate"] - 0.586) < 2e-3 and em[4]["eta_max"] > em[4]["eta"]


def test_easgd_moments_mc():
    mom = demo.easgd_moments_mc(chains=5000)
    assert np.all(np.abs(mom["mc"] - mom["theory"]) < 4.5 * mom["se"])


def test_momentum_identity_and_figure():
    res = demo.momentum_identity(steps=100)
    assert res["max_diff"] < 1e-12 and res["center_lag"] < 1e-12 and res["off_diff"] > 1e-3
    plt.close(demo.plot_momentum_identity(res))


def test_saddle_parts():
    sw = demo.saddle_sweep(np.array([0.3, 0.9]), 8000)
    assert sw["center"][0] < 1e-6 and abs(sw["workers"][0] - math.sqrt(0.7)) < 1e-6
    assert abs(sw["center"][1] - 1) < 1e-6
    eig = demo.schur_curve(np.array([0.5, 0.8]))
    assert eig[0] > 0 > eig[1]
    esc = demo.noise_escape(rhos=(0.65,), noises=(0.0, 0.3), runs=SMALL.noise_runs, steps=SMALL.trap_steps)
    assert esc.shape == (1, 2) and esc[0, 0] == 0 and esc[0, 1] > 0
    plt.close(demo.plot_noise_escape(esc, (0.65,), (0.0, 0.3)))
    plt.close(demo.plot_saddle(sw, np.array([0.5, 0.8]), eig))


def test_tree_race_and_table():
    runs = demo.tree_race(SMALL, etas=(0.05,), flat_taus=(1,), leaf_taus=(1,))
    rows = {(r["kind"], r["tau"]): r for r in demo.tree_table(runs)}
    assert rows[("flat", 1)]["messages"] == 16 * SMALL.tree_rounds
    assert rows[("tree", 1)]["messages"] == 4 * math.ceil(SMALL.tree_rounds / 16)
    assert rows[("tree", 1)]["to_0.5"] > rows[("flat", 1)]["to_0.5"]
    plt.close(demo.plot_tree_race(runs))


def test_sweep_radii_prototype_table():
    r = demo.sweep_radii(4, 0.5)
    assert abs(r["jacobi"] - 0.64593) < 1e-5 and abs(r["gauss_seidel"] - 0.66764) < 1e-5
    assert r["downpour"] > 1 > r["jacobi"] >= r["sgd"]
    plt.close(demo.plot_sweep_radii(4, np.linspace(0.1, 1.0, 5)))


@pytest.mark.parametrize("noise, law", [("additive", "gaussian"), ("multiplicative", "student_t (5)")])
def test_speedup_explorer(noise, law):
    fig = demo.plot_speedup_explorer(noise, law, 4, 0.5)
    assert len(fig.axes) == 2
    assert ("κ = 8" in fig.axes[0].get_title()) == (noise == "multiplicative")
    its = fig.axes[1].get_lines()[0].get_ydata()
    assert min(its) >= 1                               # never fewer than one iteration (one step at u = 1)
    plt.close(fig)


def test_widget_callbacks_headless():
    from harmonia.course import widgets

    w = widgets.interactive_figure(demo.plot_spring_explorer, alt="Heavy ball against one-worker EASGD.",
                                   delta=widgets.float_slider(0.9, 0.0, 0.95, 0.05, "d"),
                                   beta=widgets.float_slider(1.0, 0.5, 1.0, 0.01, "b"))
    w.children[1].value = 0.8
    assert "β = 0.80" in w.result.axes[0].get_title()
    plt.close("all")
    fig = demo.plot_trap_explorer(0.3, 0.0, steps=400, chunk=100)
    assert "trapped" in fig.axes[0].get_title()
    plt.close(fig)
    fig = demo.plot_trap_explorer(1.1, 0.0, steps=400, chunk=100)
    assert "no split state" in fig.axes[0].get_title()
    plt.close(fig)
    fig = demo.plot_tree_explorer(2, 2, 1, 4, rounds=60)
    assert "root messages: flat 240, tree 30" in fig.axes[1].get_title()
    plt.close(fig)
