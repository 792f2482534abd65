"""Chapter 09 demos: settings, data, the baseline, a tiny run of the scattering pipeline, and every
figure and widget callback driven headless."""

from __future__ import annotations

from dataclasses import replace

import matplotlib.pyplot as plt
import pytest
import torch

from harmonia.course.demos import wireless_networks as demo
from harmonia.course.exercises import ch09
from harmonia.course.settings import current
from harmonia.pointprocess import BaselineMarkRegressor, poisson, voronoi_areas

FAST, FULL = current(mode="fast", device="cpu"), current(mode="full", device="cpu")
TINY = replace(demo.settings(FAST), intensity=32.0, n_train=12, n_val=6, n_test=2, P=32, J=3, steps=10)


@pytest.fixture(scope="module")
def data():
    return demo.make_dataset(TINY, seed=0)


@pytest.fixture(scope="module")
def results(data):
    return demo.run_pipeline(data, TINY)


def test_settings_follow_the_mode():
    fast, full = demo.settings(FAST), demo.settings(FULL)
    assert (fast.intensity, fast.n_train, fast.n_val, fast.n_test, fast.P, fast.J) == (64, 200, 50, 3, 64, 4)
    assert (full.intensity, full.P, full.J) == (256, 128, 5) and full.n_train > fast.n_train


def test_dataset_splits_by_pattern_with_three_marks(data):
    assert [len(data[s]["patterns"]) for s in ("train", "val", "test")] == [12, 6, 2]
    for split in data.values():
        for t, x in enumerate(split["patterns"]):
            for mark in demo.MARKS:
                assert split["marks"][mark][t].shape == (len(x),)
            assert abs(float(split["marks"]["voronoi"][t].sum()) - 1) < 1e-9
    other = demo.make_dataset(TINY, seed=1)
    assert not torch.equal(other["train"]["patterns"][0], data["train"]["patterns"][0])
    lattice = demo.make_dataset(replace(TINY, n_train=1, n_val=1, n_test=1), process="lattice")
    assert len(lattice["train"]["patterns"][0]) == 36


def test_baseline_learns_the_nearest_neighbour_distance_exactly(data):
    assert demo.baseline_r2(data, "nn", 1) > 0.99
    curves = demo.baseline_curves(data, Ks=(1, 3))
    assert set(curves) == set(demo.MARKS) and all(len(c) == 2 for c in curves.values())


def test_pipeline_recovers_marks_and_scores_them(data, results):
    assert set(results) == set(demo.MARKS)
    for mark, r in results.items():
        assert len(r.true) == len(r.predicted) == len(r.oracle) == 2
        assert all(p.shape == t.shape and torch.isfinite(p).all() for p, t in zip(r.predicted, r.true))
        assert set(r.scores) == {"r2_pred", "corr_pred", "r2_oracle", "corr_oracle"}
        assert -1 <= r.scores["corr_oracle"] <= 1
    # the oracle target is the truth's moments: even 10 iterations get the Voronoi areas roughly right
    assert results["voronoi"].scores["corr_oracle"] > 0.5


def test_shrink_is_the_least_squares_factor():
    gen = torch.Generator().manual_seed(0)
    y = torch.randn(50, generator=gen, dtype=torch.float64)
    y_hat = 2 * y + torch.randn(50, generator=gen, dtype=torch.float64)
    c, shrunk = demo.shrink(y, y_hat)
    for dc in (-1e-3, 1e-3):  # the error is minimal at c
        other = y.mean() + (c + dc) * (y_hat - y_hat.mean())
        assert (y - shrunk).square().sum() < (y - other).square().sum()


def test_exercise_references():
    areas = [voronoi_areas(poisson(40, s)) for s in range(3)]
    mean, var = ch09.cell_moments(areas).tolist()
    assert abs(mean - 1) < 1e-12 and 0 < var < 1
    s = torch.randn(7, dtype=torch.float64)
    assert torch.allclose(ch09.scaled_log_moments(s, 2.0), s + torch.log(torch.tensor(2.0, dtype=torch.float64)))


def test_figures_and_widget_callbacks(data, results):
    x = data["test"]["patterns"][0]
    marks = demo.compute_marks(x, TINY)
    baselines = {m: BaselineMarkRegressor(K=3).fit(data["train"]["patterns"], data["train"]["marks"][m]) for m in demo.MARKS}
    figs = [demo.plot_pattern(x, marks, "t"), demo.plot_baseline_curves({m: [0.5, 0.6] for m in demo.MARKS}),
            demo.plot_recovery(results), demo.plot_r2_bars({m: 0.5 for m in demo.MARKS}, results)]
    for mark in demo.MARKS:
        figs.append(demo.plot_mark_maps(data, results, baselines, mark, pattern=1))
    for process in demo.PROCESSES:
        p = demo.make_dataset(replace(TINY, n_train=1, n_val=1, n_test=1), process=process)["test"]["patterns"][0]
        figs.append(demo.plot_pattern(p, demo.compute_marks(p, TINY), process))
    for fig in figs:
        assert fig.axes
        plt.close(fig)


def test_device_check_runs_on_the_cpu():
    out = demo.device_check(current(mode="fast", device="cpu"))
    assert {"log moments", "voronoi: predicted", "voronoi: oracle"} == set(out)
    assert all(torch.isfinite(v).all() for v in out.values())
