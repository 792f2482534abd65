"""Chapter 08 demos: settings, data, a tiny end-to-end run of every model with its evaluation, and every
widget callback driven headless."""

from __future__ import annotations

import math
from dataclasses import replace

import matplotlib.pyplot as plt
import pytest
import torch

from harmonia.course.demos import texture_synthesis as demo
from harmonia.course.exercises import ch08
from harmonia.course.settings import current
from harmonia.wph import alpha_stat_count

FAST, FULL = current(mode="fast", device="cpu"), current(mode="full", device="cpu")
TINY = replace(demo.settings(FAST), size=32, J=3, steps=20, restarts=1, rf_sizes=(3, 5), rf_maps=4,
               textures=("bubbles", "gravel"))


@pytest.fixture(scope="module")
def textures():
    return demo.load_textures(TINY)


@pytest.fixture(scope="module")
def results(textures):
    x, periodic = textures["bubbles"]
    return {kind: demo.synthesize(kind, x, periodic, TINY, seed=0) for kind in demo.MODELS}


def test_settings_follow_the_mode():
    fast, full = demo.settings(FAST), demo.settings(FULL)
    assert (fast.size, fast.J, fast.steps * fast.restarts) == (64, 4, 300)
    assert (full.size, full.J, full.steps, full.restarts) == (256, 5, 500, 5)
    assert full.rf_sizes == (3, 5, 7, 11, 15, 23, 37, 55) and full.rf_maps == 128
    assert set(fast.textures) <= set(full.textures)


def test_textures_are_in_range_and_only_procedural_ones_are_periodic(textures):
    for name, (x, periodic) in textures.items():
        assert x.shape == (32, 32) and x.dtype == torch.float32
        assert 0 <= float(x.min()) and float(x.max()) <= 1
        assert periodic == (name == "bubbles")


def test_operators_have_the_chapter_counts():
    S = demo.settings(FAST)
    alpha, same, ablation = (demo.build_operator(k, S, True) for k in ("alpha", "same", "ablation"))
    assert alpha.n_stats == 16820 == alpha_stat_count(4, 4, 4, 2, "all")
    assert same.n_stats == alpha_stat_count(4, 4, 4, 2, "same") == 2484
    assert ablation.n_stats == 64
    assert demo.build_operator("rf", S, True).n_stats == 96 * 97 // 2
    assert demo.build_operator("alpha", S, False).mask and not alpha.mask
    with pytest.raises(ValueError, match="kind"):
        demo.build_operator("vgg", S, True)


def test_every_model_synthesises_and_descends(results):
    for kind, r in results.items():
        assert r.sample.shape == r.matched.shape == (32, 32) and torch.isfinite(r.sample).all(), kind
    for kind in ("alpha", "same", "ablation", "rf"):
        r = results[kind]
        assert r.n_stats > 0 and len(r.history) == 20 and r.history[-1] < r.E0 / 10, kind
    assert results["gaussian"].history == [] and results["gaussian"].n_stats == 0


def test_histogram_matching_gives_the_observation_histogram(textures, results):
    x, _ = textures["bubbles"]
    for r in results.values():
        assert torch.equal(r.matched.flatten().sort().values, x.flatten().sort().values)


def test_evaluation_scores_the_observation_perfectly(textures, results):
    x, periodic = textures["bubbles"]
    judge = demo.build_operator("alpha", TINY, periodic)
    judge.set_target(x)
    own = demo.Synthesis("observation", x, x)
    rows = demo.evaluate({**results, "observation": own}, x, judge)
    assert rows["observation"]["E_full"] == 0 and rows["observation"]["spectrum"] == 0
    assert rows["observation"]["ncc"] == pytest.approx(1.0, abs=1e-5)
    assert rows["gaussian"]["spectrum"] < 1e-5  # random phases keep the spectrum exactly
    assert rows["alpha"]["E_full"] < rows["gaussian"]["E_full"]


def test_figures_and_widget_callbacks(textures, results):
    x, _ = textures["bubbles"]
    rows = {"bubbles": demo.evaluate(results, x, _judge(x))}
    figs = [demo.plot_textures(textures), demo.plot_syntheses(x, results, "t"), demo.plot_loss_curves(
        {"a": results["alpha"]}, steps=10), demo.plot_spectra(x, results, "s"), demo.plot_evaluation(rows)]
    for alpha in (0.0, 2.0):
        figs.append(demo.plot_rectifier(x, TINY, alpha, j=1, l=2))
    for dj, A in ((0, 1), (3, 4)):
        figs.append(demo.plot_stat_counts(dj, A, 4, 4, 64 * 64))
    explorer = demo.Explorer(textures, {"bubbles": results}, TINY, steps=5)
    figs.append(explorer.plot("bubbles", "alpha"))
    figs.append(explorer.plot("gravel", "ablation"))     # not stored: run once, then cached
    figs.append(explorer.plot("gravel", "alpha dj=1"))
    assert ("gravel", "ablation") in explorer.cache and ("gravel", "alpha dj=1") in explorer.cache
    assert explorer.synthesis("gravel", "alpha dj=1") is explorer.cache[("gravel", "alpha dj=1")]
    with pytest.raises(ValueError, match="model"):
        explorer.synthesis("bubbles", "vgg")
    for fig in figs:
        assert fig.axes and fig.axes[0].get_title() is not None
        plt.close(fig)


def _judge(x):
    op = demo.build_operator("alpha", TINY, True)
    op.set_target(x)
    return op


def test_exercise_references_agree_with_the_library_and_monte_carlo():
    assert ch08.count_stats(5, 4, 4, 2, "all") == 28564
    c = ch08.relu_cos_coeff(torch.arange(0, 7))
    expected = torch.tensor([1 / math.pi, 0.25, 1 / (3 * math.pi), 0, -1 / (15 * math.pi), 0, 1 / (35 * math.pi)],
                            dtype=torch.float64)
    assert torch.allclose(c, expected, atol=1e-12)
    gen = torch.Generator().manual_seed(0)
    z = torch.complex(torch.randn(400_000, generator=gen, dtype=torch.float64),
                      torch.randn(400_000, generator=gen, dtype=torch.float64)) * (2.0 / math.sqrt(2))
    a = 2.0
    r0 = torch.relu(z.real)
    ra = torch.relu((z * complex(math.cos(a), -math.sin(a))).real)
    mc = torch.stack([r0.mean(), r0.var(), ((r0 - r0.mean()) * (ra - ra.mean())).mean()])
    assert torch.allclose(mc, ch08.rectifier_moments(2.0, a), atol=0.01)


def test_device_check_runs_every_model_on_the_cpu():
    out = demo.device_check(current(mode="fast", device="cpu"))
    assert {f"{k}: sample" for k in demo.MODELS} <= set(out)
    assert all(torch.isfinite(v).all() and v.device.type == "cpu" for v in out.values())
