"""Chapter 10 demos: settings, processes, a tiny particle descent with its evaluation, and every figure and
widget callback driven headless."""

from __future__ import annotations

from dataclasses import replace

import matplotlib.pyplot as plt
import pytest
import torch

from harmonia.course.demos import point_process_synthesis as demo
from harmonia.course.exercises import ch10
from harmonia.course.settings import current
from harmonia.pointprocess import binomial, perturbed_lattice, structure_factor

FAST, FULL = current(mode="fast", device="cpu"), current(mode="full", device="cpu")
TINY = replace(demo.settings(FAST), N=32, n=60, J=2, steps=8, n_real=5)


@pytest.fixture(scope="module")
def syntheses():
    return {p: demo.synthesize(p, TINY, snapshot_every=4) for p in ("voronoi", "cluster", "poisson")}


def test_settings_follow_the_mode():
    fast, full = demo.settings(FAST), demo.settings(FULL)
    assert (fast.N, fast.n, fast.J, fast.steps) == (64, 300, 3, 60)
    assert (full.N, full.n, full.J, full.steps) == (128, 2000, 4, 100) and "turbulence" in full.processes


def test_every_process_has_n_points_on_the_torus():
    for p in demo.PROCESSES:
        x = demo.make_pattern(p, TINY, seed=3)
        assert x.shape == (60, 2) and bool(((x >= 0) & (x < 1)).all()), p
    with pytest.raises(ValueError, match="process"):
        demo.make_pattern("strauss", TINY, 0)


def test_descent_lowers_the_energy_and_records_snapshots(syntheses):
    for p, syn in syntheses.items():
        log = syn.log
        assert log.sigmas == [2.0, 1.0] and len(log.history) == 16, p  # sigma_schedule(32)
        assert log.end[0] < log.start[0] / 1.5 and log.end[-1] < log.start[-1], p
        assert syn.x.shape == syn.x_obs.shape == syn.x0.shape == (60, 2)
        assert log.snapshot_steps == [0, 4, 8, 12, 16] and torch.allclose(log.snapshots[0].double(), syn.x0, atol=1e-6)


def test_evaluation_has_every_summary(syntheses):
    ev = demo.evaluate(syntheses["voronoi"], TINY)
    for key in ("obs", "syn", "start"):
        assert 0 <= ev[f"coverage_{key}"] <= 1 and ev[f"sup_{key}"] >= 0
        assert ev[f"h0_{key}"].shape == (59,) and ev[f"g_{key}"].shape == (27,)
    lo, hi = ev["L_lo"], ev["L_hi"]
    assert bool((lo <= ev["L_mean"]).all() and (ev["L_mean"] <= hi).all())
    # a pattern and itself: a cross-correlation of 1; two independent ones: much less
    x = syntheses["voronoi"].x
    assert demo.diversity([x, x], TINY) == pytest.approx(1.0, abs=1e-6)
    assert demo.diversity([binomial(300, 1), binomial(300, 2)], demo.settings(FAST)) < 0.4


def test_band_average_is_near_one_for_poisson_and_small_for_a_lattice():
    assert 0.8 < sum(demo.band_average(binomial(300, s)) for s in range(10)) / 10 < 1.2
    assert demo.band_average(perturbed_lattice(32, 0.0, seed=0)) < 1e-10  # no Bragg ring below |m| = 32


def test_figures_and_widget_callbacks(syntheses):
    ev = {p: demo.evaluate(s, TINY) for p, s in syntheses.items()}
    figs = [demo.plot_patterns(syntheses, {"voronoi, again": syntheses["voronoi"].x}), demo.plot_descent(syntheses)]
    figs += [demo.plot_replay(syntheses["voronoi"], TINY, i) for i in (0, 2, 4, 99)]
    figs += [demo.plot_summaries(e, p) for p, e in ev.items()]
    for fig in figs:
        assert fig.axes
        plt.close(fig)


def test_exercise_references():
    x = binomial(40, 0)
    m = torch.tensor([[1, 0], [2, 3]])
    k, S = structure_factor(x, m_max=1)
    ring1 = ch10.structure_factor_at(x, torch.tensor([[1, 0], [0, 1], [-1, 0], [0, -1], [1, 1], [1, -1], [-1, 1], [-1, -1]]))
    assert torch.allclose(S[0], ring1.mean(), rtol=1e-12)  # ring 1: |m| rounds to 1 for the 4 axes and 4 diagonals
    assert ch10.structure_factor_at(x, m).shape == (2,)
