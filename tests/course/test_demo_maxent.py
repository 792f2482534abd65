"""Chapter 07 demos: data loading, a tiny end-to-end run of every model and its evaluation, and every
widget callback driven headless."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch

from harmonia.course.demos import maxent as demo
from harmonia.course.settings import current

FAST, FULL = current(mode="fast", device="cpu"), current(mode="full", device="cpu")
from harmonia.course.exercises.ch07 import count_moments, fourier_phase_corr

TINY = demo.Settings(J=3, L=2, dl=1, dn=1, steps=15, restarts=1, n_samples=2, k_max=2, delta=1, step=4)


@pytest.fixture(scope="module")
def data():
    d = demo.load_data(demo.settings(FAST))
    # a 32x32 corner keeps the run short (the statistics need not be periodic for a smoke test)
    return {"x_bar": d["x_bar"][:32, :32].contiguous(), "test": d["test"][:3, :32, :32].contiguous(),
            "snapshots": d["snapshots"], "times": d["times"]}


@pytest.fixture(scope="module")
def syntheses(data):
    return {m: demo.synthesize(m, data["x_bar"], TINY, seed=0) for m in (*demo.MODELS, "Afit")}


def test_load_data_and_settings():
    d = demo.load_data(demo.settings(FAST))
    assert d["x_bar"].shape == (64, 64) and d["test"].shape == (7, 64, 64)
    assert d["snapshots"].shape[0] == d["times"].shape[0] == 21
    fast, full = demo.settings(FAST), demo.settings(FULL)
    assert (fast.J, fast.L, fast.dl, fast.dn) == (4, 4, 2, 1)
    assert (full.J, full.L, full.dl, full.dn, full.restarts, full.steps) == (5, 8, 4, 2, 11, 500)


def test_operators_have_the_fast_mode_counts():
    S = demo.settings(FAST)
    counts = {m: demo.build_operator(m, 64, 64, S).index.count_real("zhang-mallat-2021") for m in "BCD"}
    assert counts["B"] == 1254 and counts["C"] == 2094
    assert demo.moment_counts(S.J, S.L, 1, S.dl, S.dn) == counts
    with pytest.raises(ValueError, match="model"):
        demo.build_operator("E", 64, 64, S)


def test_every_model_synthesises_and_evaluates(data, syntheses):
    for m, syn in syntheses.items():
        assert syn.samples.shape == (2, 32, 32) and torch.isfinite(syn.samples).all(), m
    for m in "BCD":
        assert syntheses[m].n_moments > 0 and max(syntheses[m].loss_ratio) < 0.5, m
        # the final loss is reported without the loss factor, on the paper's scale
        assert syntheses[m].final_loss == pytest.approx([min(h) / demo.LOSS_FACTOR**2 for h in syntheses[m].histories]), m
    assert syntheses["A"].loss_ratio == [] and syntheses["Afit"].n_moments > 0
    rows = demo.evaluate(syntheses, data["x_bar"], data["test"], TINY)
    assert set(rows) == {*syntheses, "real"}
    for m, r in rows.items():
        assert all(torch.isfinite(torch.tensor(v)).all() for v in r.values()), m
        assert -1 <= r["crosscorr"] <= 1 and r["epsilon"] >= 0
    assert rows["A"]["spectrum"] < 1e-6  # random phases keep the spectrum exactly
    # one field per row, as for the real image: epsilon is the mean of the single-sample errors
    for m in syntheses:
        assert len(rows[m]["epsilon_each"]) == 2 and rows[m]["epsilon"] == pytest.approx(sum(rows[m]["epsilon_each"]) / 2)
    assert rows["real"]["epsilon_each"] == [rows["real"]["epsilon"]]
    assert demo.settings(FAST).restarts * demo.settings(FAST).steps == 300
    assert rows["real"]["crosscorr"] == 1.0


def test_spectrum_error_is_zero_for_the_field_itself(data):
    x = data["x_bar"]
    assert demo.spectrum_error(x[None], x) == pytest.approx(0.0, abs=1e-6)
    assert demo.spectrum_error(2 * x[None], x) == pytest.approx(float(torch.log10(torch.tensor(4.0))), rel=1e-4)


def test_figures(data, syntheses):
    x = data["x_bar"]
    rows = demo.evaluate(syntheses, x, data["test"], TINY)
    for fig in (demo.plot_samples(x, syntheses), demo.plot_statistics(x, syntheses), demo.plot_loss_curves(syntheses, steps=5),
                demo.plot_errors(rows), demo.plot_evaluation_table(rows),
                demo.plot_fields(data["test"], ["a", "b", "c"], "t")):
        assert isinstance(fig, plt.Figure) and fig.axes


@pytest.mark.parametrize("t_index", [0, 10, 20, 99])
def test_solver_time_widget(data, t_index):
    fig = demo.plot_solver_time(data["snapshots"], data["times"], t_index)
    assert "t = " in fig.axes[0].get_title()


@pytest.mark.parametrize("dj, dl, dn", [(1, 2, 1), (3, 0, 4), (2, 4, 0)])
def test_moment_count_widget(dj, dl, dn):
    fig = demo.plot_moment_counts(dj, dl, dn)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [float(v) for v in demo.moment_counts(4, 4, dj, dl, dn).values()]


def test_explorer_widget_uses_the_cache_and_runs_new_choices(data, syntheses):
    ex = demo.Explorer(data["x_bar"], syntheses, TINY)
    fig = ex.plot("C", demo.SHIFT_CHOICES[1], 1)
    assert "model C, sample 1" in fig.axes[1].get_title()
    n = len(ex.cache)
    ex.plot("B", demo.SHIFT_CHOICES[0], 0)  # dn = 0: a new synthesis, remembered
    assert len(ex.cache) == n + 1 and ("B", 0) in ex.cache
    ex.plot("B", demo.SHIFT_CHOICES[0], 5)  # a sample index past the end is clipped
    assert len(ex.cache) == n + 1
    ex.plot("D", demo.SHIFT_CHOICES[2], 0)  # D has no shifts: the precomputed run
    assert len(ex.cache) == n + 1
    with pytest.raises(ValueError, match="shifts"):
        ex.plot("B", "many", 0)


def test_maxent_spectrum_figure(data):
    from harmonia.maxent import gaussian_maxent_spectrum, sample_gaussian

    P, _ = gaussian_maxent_spectrum(data["x_bar"].double(), 3, 2, delta=1)
    fig = demo.plot_maxent_spectrum(data["x_bar"], P, sample_gaussian(P, 1, seed=0)[0])
    assert len(fig.axes[0].lines) == 2


def test_exercise_references_agree_with_closed_forms():
    # 07.3: the paper's counts
    assert [count_moments(m, 5, 8, 1, 4, 2) for m in "BCD"] == [6895, 10927, 769]
    # 07.1: shifted Diracs lock the phases of w and 2w
    g = torch.Generator().manual_seed(0)
    D = torch.zeros(3000, 32, dtype=torch.float64)
    D[torch.arange(3000), torch.randint(0, 32, (3000,), generator=g)] = 1.0
    assert abs(complex(fourier_phase_corr(D, 3, 2, 6, 1)) - 1) < 1e-9
    assert abs(complex(fourier_phase_corr(D, 3, 1, 7, 1))) < 0.1
