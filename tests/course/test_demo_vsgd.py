"""Chapter 01 demos: small versions of parts A-D (our prototype's targets hold on them where the
statistics allow), the verdict helper, and every widget callback driven headless."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch

from harmonia.course.demos import vsgd as demo
from harmonia.course.settings import current

FAST, FULL = current(mode="fast", device="cpu"), current(mode="full", device="cpu")
from harmonia.data import load_digits
from harmonia.nn import FitHistory

SMALL = demo.Settings(trials=100, steps_a=600, steps_b=400, steps_c=700, jump_every=300, epochs=1)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_settings_fast_and_full_sizes():
    fast, full = demo.settings(FAST), demo.settings(FULL)
    assert (fast.batch_size, fast.epochs, fast.trials) == (16, 5, 400)
    assert (full.batch_size, full.epochs) == (1, 30)
    assert fast.sgd_grid == (0.003, 0.01, 0.03, 0.1, 0.3)


def test_percentile_band_and_windows():
    x = torch.arange(12.0).reshape(1, 12).expand(3, 12)
    med, lo, hi = demo.percentile_band(x, (0.0, 1.0))
    assert torch.allclose(med, torch.full((3,), 5.5, dtype=torch.float64))
    assert torch.allclose(lo, torch.zeros(3, dtype=torch.float64)) and torch.allclose(hi, torch.full((3,), 11.0, dtype=torch.float64))
    assert torch.equal(demo.window_means(torch.arange(10.0), 3), torch.tensor([1.0, 4.0, 7.0]))


def test_part_a_small_anneals_and_orders_methods():
    res = demo.part_a(SMALL)
    n = res.numbers
    assert 0.25 <= n["window_min"] <= n["window_max"] <= 0.7
    # the optimal schedule's measured excess matches its closed form within the Monte-Carlo error
    # (100 trials of a chi-square-like variable: relative standard error about 0.14; 3 of them)
    assert abs(n["optimal_final"] / n["optimal_theory"] - 1) < 0.45
    assert n["oracle_final"] < n["optimal_final"] < n["vsgd_final"]
    fig = demo.plot_part_a(res)
    assert len(fig.axes) == 2
    plt.close(fig)


def test_part_b_per_coordinate_rates_follow_the_curvatures():
    res = demo.part_b(SMALL)
    assert 5 <= res.numbers["rate_ratio"] <= 20
    assert res.numbers["vsgd_final"] < res.numbers["best_fixed_final"]
    assert len(res.runs) == 3
    plt.close(demo.plot_part_b(res))


def test_part_c_reheats_after_the_jump():
    res = demo.part_c(SMALL)
    n = res.numbers
    assert n["reheat_min"] > 10
    assert n["vsgd_avg"] * 5 < n["best_sched_avg"]
    assert res.extra["path"].shape == (SMALL.steps_c, SMALL.trials, 1)
    # one entry per segment end (300, 600 for 700 steps), each with the best baseline of that segment
    segments = res.extra["segments"]
    assert [sg["end"] for sg in segments] == [300, 600] and n["segments"] == 2
    assert n["segments_below_fixed"] == sum(sg["vSGD"] < sg["fixed"] for sg in segments)
    assert all(sg["fixed_eta"] in (0.03, 0.1, 0.3, 0.5) and sg["inv_t_eta0"] in (0.1, 1.0, 3.0) for sg in segments)
    # after the first jump a decaying schedule cannot follow: vSGD ends the second segment far below it
    assert segments[1]["vSGD"] * 10 < segments[1]["inv_t"]
    plt.close(demo.plot_part_c(res))


def test_train_digits_every_method_and_verdicts(digits):
    small = demo.Settings(epochs=1, batch_size=64)
    runs = {label: demo.train_digits(digits, (), m, lr=0.1, s=small) for m, label in demo.VARIANT_LABELS.items()}
    runs.update({f"SGD {eta:g}": demo.train_digits(digits, (), "sgd", eta, s=small) for eta in (0.01, 0.1, 0.3)})
    runs["AdaGrad 0.1"] = demo.train_digits(digits, (), "adagrad", 0.1, s=small)
    for label, h in runs.items():
        assert isinstance(h, FitHistory) and not h.diverged, label
        assert h.train_loss[-1] < h.train_loss[0], label
    v = demo.part_d_verdicts(runs)
    assert v["grid_best_nll"] <= v["grid_median_nll"]
    assert isinstance(v["nll_ok"], bool) and isinstance(v["err_ok"], bool)
    fig = demo.plot_part_d({"softmax regression": runs})
    plt.close(fig)
    with pytest.raises(ValueError, match="method"):
        demo.train_digits(digits, (), "adam", s=small)


@pytest.mark.parametrize("h, sigma", [(1.0, 1.0), (0.2, 3.0)])
def test_nqm_explorer_callback(h, sigma):
    fig = demo.plot_nqm_explorer(h, sigma, trials=20, steps=200)
    assert len(fig.axes) == 2 and fig.axes[0].get_title().startswith("NQM")
    plt.close(fig)


def test_jump_explorer_callback():
    fig = demo.plot_jump_explorer(every=100, steps=300, trials=20)
    assert "100" in fig.axes[0].get_title()
    plt.close(fig)


@pytest.mark.parametrize("n0, C", [(1, "1"), (10, "d/10"), (2, "10")])
def test_slow_start_callback(digits, n0, C):
    fig = demo.plot_slow_start(n0, C, digits, steps=40)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2 and len(lines[1].get_ydata()) == 40
    plt.close(fig)


def test_slow_start_summary_shares_the_widget_runs(digits):
    out = demo.slow_start_summary(digits, ((1, "d/10"), (10, "d/10")), steps=40)
    assert set(out) == {(1, "d/10"), (10, "d/10")}
    for v in out.values():
        assert v["max"] >= v["median_last_100"] > 0
    # n0 = 1 (memory 1 after the slow start) forgets the over-estimate at once: the loss blows up
    assert out[(1, "d/10")]["max"] > 100 * out[(10, "d/10")]["max"]
    fig = demo.plot_slow_start(1, "d/10", digits, steps=40)
    assert list(fig.axes[0].get_lines()[1].get_ydata()) == demo._slow_start_losses(digits, 1, "d/10", 40)
    plt.close(fig)
    with pytest.raises(ValueError, match="C"):
        demo.slow_start_summary(digits, ((10, "3"),), steps=40)


def test_widgets_drive_headless():
    from harmonia.course import widgets

    w = widgets.interactive_figure(lambda every: demo.plot_jump_explorer(every, steps=250, trials=10),
                                   alt="jump explorer", every=widgets.dropdown([100, 200], 100, "jump every"))
    w.children[0].value = 200
    assert w.result is not None
