"""Chapter 18 demos: the settings, the pair-search table split, the divergence slopes against their closed forms, the
finite-width experiments at a tiny size (shapes, the paired constant's independence of x, the ReLU walk against a
dense grid), the random-phase sup's growth, the certificate's inequality, the exercises' references against
independent computations, and every figure and widget callback driven headless."""

from __future__ import annotations

import math
from dataclasses import replace

import matplotlib.pyplot as plt
import pytest
import torch

from harmonia.course import widgets
from harmonia.course.demos import lipschitz_kernels as demo
from harmonia.course.exercises import ch18
from harmonia.course.settings import current

FAST, FULL = current(mode="fast", device="cpu"), current(mode="full", device="cpu")
TINY = replace(demo.settings(FAST), n_pairs=20_000, widths=(10, 100, 1000), relu_widths=(10, 100, 1000), draws=5,
               phase_widths=(4,), phase_radii=(1.0, 10.0), n_train=60)


def test_settings_follow_the_mode():
    fast, full = demo.settings(FAST), demo.settings(FULL)
    assert (fast.d, fast.draws, fast.widths[-1], fast.relu_widths[-1]) == (2, 20, 100_000, 10_000)
    assert full.n_pairs > fast.n_pairs and full.widths[-1] > fast.widths[-1] and full.draws > fast.draws


def test_pair_table_splits_and_meets_the_closed_forms():
    stat, nets = demo.pair_table(TINY, "stationary"), demo.pair_table(TINY, "networks")
    assert len(stat) + len(nets) == len(demo.PAIR_ROWS) == len(demo.pair_table(TINY))
    assert all(r["integral"] is None for r in stat) and all(r["integral"] is not None for r in nets)
    for r in stat + nets:
        assert r["search"] <= r["closed"] * (1 + 1e-7) and r["rel"] < 0.01        # a lower estimate (to rounding)
    for r in nets:
        assert r["integral"] == pytest.approx(r["closed"], rel=1e-6)
    with pytest.raises(ValueError, match="which"):
        demo.pair_table(TINY, "laplace")


def test_divergence_slopes_match_their_closed_forms():
    deltas = (1e-1, 1e-3)
    s = demo.divergence(deltas)
    for dl, v in zip(deltas, s["Laplace"]):
        assert v == pytest.approx(math.sqrt(2 * (1 - math.exp(-dl))) / dl, rel=1e-12)
    a = math.sqrt(3) * 1e-3
    assert s["Matérn ν = 3/2"][1] == pytest.approx(math.sqrt(2 * (1 - (1 + a) * math.exp(-a))) / 1e-3, rel=1e-9)
    assert s["Matérn ν = 1"][0] < s["Matérn ν = 1"][1]


def test_finite_width_experiments():
    res = demo.fourier_widths(TINY, "Gaussian")
    assert list(res) == list(TINY.widths) and all(v.shape == (TINY.draws,) for v in res.values())
    q = demo.quantiles(res)
    assert all(lo <= med <= hi for lo, med, hi in q.values())
    relu = demo.relu_widths(TINY)
    assert all(float(v.min()) > 0.6 for v in relu.values())
    assert demo.rate_slope(relu, 1 / math.sqrt(2), lo=10, hi=1000) < 0
    with pytest.raises(ValueError, match="label"):
        demo.fourier_widths(TINY, "Cauchy")
    with pytest.raises(ValueError, match="res"):
        demo.rate_slope({10: relu[10]}, 0.7)


def test_random_phase_sup_grows_with_the_domain_and_stays_below_root_two():
    sup1, m = demo.phase_sup(4, 1.0, seed=0)
    sup10, m10 = demo.phase_sup(4, 10.0, seed=0)
    assert m == m10 and sup1 <= sup10 <= math.sqrt(2) * m + 1e-9
    table = demo.phase_table(TINY)
    assert set(table[4]) == {1.0, 10.0, "paired"}


def test_certificate_bounds_the_gradient():
    for lam in (1e-3, 1e-1):
        c = demo.certificate(TINY, ridge=lam, grid=60)
        assert c["bound"] >= c["empirical"] > 0 and c["ratio"] == pytest.approx(c["bound"] / c["empirical"])


def test_exercise_references_against_independent_formulas():
    x = torch.zeros(1, 2, dtype=torch.float64)
    y = torch.tensor([[3e-9, 4e-9]], dtype=torch.float64)
    assert float(ch18.gaussian_distance(x, y, 1.0)) == pytest.approx(5e-9, rel=1e-12)      # d_k ~ r / ell
    assert ch18.matern_lip(1.5, 1.0) == pytest.approx(math.sqrt(3)) and ch18.matern_lip(0.9, 1.0) == math.inf
    assert ch18.matern_lip(2.5, 2.0) == pytest.approx(math.sqrt(5 / 3) / 2)
    assert ch18.erf_net_lip(1.0, 0.0) == pytest.approx(2 / math.sqrt(math.pi))


@pytest.mark.parametrize("kernel", list(demo.METRIC_KERNELS))
def test_metric_figure_for_every_kernel(kernel):
    fig = demo.plot_metric(kernel, ell=0.7, nu=0.8)
    assert "slope" in fig.axes[1].get_title()
    plt.close(fig)


def test_figures_and_widgets_headless():
    for fig in (demo.plot_AB("relu"), demo.plot_AB("erf", 0.5), demo.plot_phase(4, 3.0),
                demo.plot_histogram("Laplace", 1.5, 20), demo.plot_histogram("ReLU", 2.0, 20),
                demo.plot_convergence({"Gaussian": demo.fourier_widths(TINY, "Gaussian"),
                                       "Laplace": demo.fourier_widths(TINY, "Laplace")}, demo.relu_widths(TINY)),
                demo.plot_relu_rate(demo.relu_widths(TINY), -0.5)):
        assert fig.axes[0].get_title()
        plt.close(fig)
    with pytest.raises(ValueError, match="kernel"):
        demo.plot_metric("Cauchy")
    w = widgets.interactive_figure(demo.plot_metric, alt="The kernel distance and its slope against the separation.", kernel=widgets.dropdown(list(demo.METRIC_KERNELS),
                                   "Gaussian", "kernel"), ell=widgets.log_slider(1.0, -1.0, 1.0, "ℓ"),
                                   nu=widgets.float_slider(1.5, 0.3, 5.0, 0.1, "ν"))
    first = w.result
    w.children[0].value = "Laplace"
    assert w.result is not first
    w = widgets.interactive_figure(demo.plot_phase, alt="The local slope of random-phase features along the line.", N=widgets.dropdown([4, 16], 4, "N"),
                                   radius=widgets.log_slider(3.0, 0.0, 1.0, "R"), seed=widgets.int_slider(0, 0, 3, "draw"))
    first = w.result
    w.children[2].value = 1
    assert w.result is not first


def test_device_check_runs_on_cpu():
    out = demo.device_check(FAST)
    assert set(out) == {"paired Fourier Lip", "ReLU arc walk", "erf Gram derivative"}
    assert bool((out["ReLU arc walk"] <= out["paired Fourier Lip"] + 1e-12).all())


def test_metric_widget_disables_exactly_the_controls_a_kernel_ignores():
    """ν moves only the Matérn curve and ℓ no network curve: the widget greys the others out and says why."""
    assert demo.metric_inactive("Matérn") == {}
    assert set(demo.metric_inactive("Gaussian")) == {"nu"}
    assert set(demo.metric_inactive("ReLU network")) == {"ell", "nu"}
    for label, (_, keys) in demo.METRIC_KERNELS.items():
        inactive = demo.metric_inactive(label)
        for name, value in (("ell", 2.0), ("nu", 2.5)):
            moved = demo._metric_params(label, **{"ell": 1.0, "nu": 1.5, name: value})
            assert (moved == demo._metric_params(label, 1.0, 1.5)) is (name in inactive), (label, name)
    with pytest.raises(ValueError, match="kernel"):
        demo.metric_inactive("nope")
