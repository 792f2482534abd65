"""Chapter 02 demos: small versions of every part and every widget callback driven headless."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from harmonia.course.demos import easgd as demo
from harmonia.course.settings import current

FAST, FULL = current(mode="fast", device="cpu"), current(mode="full", device="cpu")

SMALL = demo.Settings(race_rounds=300, digits_rounds=30, digits_hidden=8, record_every=10, taus=(1, 4))


def test_settings():
    fast, full = demo.settings(FAST), demo.settings(FULL)
    assert fast.taus == (1, 16) and full.taus == (1, 4, 16, 64)
    assert full.race_rounds == 4000


def test_stability_grids_and_figure():
    us, alphas, R = demo.rr_radius_grid(p=1, n=12)
    assert R.shape == (12, 12) and np.all(R >= 0)
    A = demo.admm_radius_grid(3)
    assert A.shape == (25, 25) and 0.05 < float((A > 1).mean()) < 0.3
    plt.close(demo.plot_stability_maps((us, alphas, R), {3: A}))


def test_trajectories_admm_grows_easgd_decays():
    tr = demo.trajectories(8, rounds=12_000)
    assert tr["ADMM"][-1] > 10 * tr["ADMM"][0] and tr["ADMM"][-1] > 1e4  # grows from ~1e3
    assert tr["EASGD"][-1] < 1.0
    plt.close(demo.plot_trajectories({8: tr}))


def test_variance_experiment_matches_closed_form():
    var = demo.variance_experiment(ps=(1, 4), betas=np.array([0.2, 0.8]), chains=1500, rounds=200)
    for p in (1, 4):
        z = np.abs(var["mc"][p] - var["closed"][p]) / var["se"][p]
        assert np.all(z < 4.5), (p, z)
    plt.close(demo.plot_variance(var))


def test_race_downpour_diverges_easgd_does_not():
    runs = demo.race(demo.Settings(race_rounds=2000), settings_=((16, 0.05),))
    assert runs[("DOWNPOUR", 16, 0.05)].history.diverged
    assert not runs[("EASGD", 16, 0.05)].history.diverged
    assert demo.rounds_to(runs[("EASGD", 16, 0.05)], 100.0) is not None
    plt.close(demo.plot_race(runs))


def test_digits_runs_and_verdicts():
    res = demo.digits_runs(SMALL)
    assert set(res) == {("EASGD", 1), ("EASGD", 4), ("EAMSGD", 1), ("EAMSGD", 4), ("DOWNPOUR", 1), ("DOWNPOUR", 4), ("MSGD", 1)}
    eta, run = demo.best(res[("EASGD", 1)])
    assert eta in demo.DIGITS_METHODS["EASGD"] and run.history.center_error[-1] < run.history.center_error[0]
    # one message per worker and communication step: p * ceil(rounds / tau)
    assert res[("EASGD", 1)][eta].history.messages[-1] == 4 * 30
    assert res[("EASGD", 4)][eta].history.messages[-1] == 4 * 8
    rows = demo.digits_table(res)
    assert len(rows) == len(res) and all(r[2] in (demo.DIGITS_METHODS.get(r[0]) or demo.DIGITS_METHODS["EAMSGD"]) for r in rows)
    assert {(r[0], r[1]): r[4] for r in rows}[("EASGD", 4)] == 4 * 8
    v = demo.digits_verdicts(res, SMALL)
    assert len(v) == 3 and all(isinstance(x, bool) for x in v.values())
    plt.close(demo.plot_digits(res))


def test_stability_explorer_callback():
    fig = demo.plot_stability_explorer(eta_h=0.5, alpha=0.3, p=2, rounds=200)
    assert "EASGD" in fig.axes[0].get_title()
    plt.close(fig)


def test_admm_explorer_shows_the_divergent_example():
    """The ADMM widget's default point (eta, rho) = (1e-3, 2.5) is unstable for p = 3, its slider reaches 1e-4,
    and the trajectory it draws ends far above its start."""
    fig = demo.plot_admm_explorer(eta=1e-3, rho=2.5, p=3)
    assert "1.000974" in fig.axes[1].get_title()
    y = fig.axes[1].get_lines()[0].get_ydata()
    assert y[-1] > 100 * 1000.0
    plt.close(fig)
    assert demo.ETA_LOG_GRID_ADMM[0] == pytest.approx(1e-4)
    fig = demo.plot_admm_explorer(eta=1e-4, rho=0.5, p=3, rounds=100)
    assert "ADMM" in fig.axes[0].get_title()
    plt.close(fig)


def test_trajectory_figure_gives_each_scheme_and_p_its_own_colour():
    tr = {p: demo.trajectories(p, rounds=50) for p in (3, 8)}
    fig = demo.plot_trajectories(tr)
    colours = [line.get_color() for line in fig.axes[0].get_lines()]
    assert len(colours) == 4 and len(set(colours)) == 4
    plt.close(fig)


def test_race_explorer_callback():
    fig = demo.plot_race_explorer(tau=4, p=2, eta=0.05, rounds=60)
    assert len(fig.axes[0].get_lines()) >= 2
    assert "p = 2" in fig.axes[0].get_title()          # the title follows the workers slider
    plt.close(fig)
