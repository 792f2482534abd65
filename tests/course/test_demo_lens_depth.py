"""Chapter 15 demos: the moons artefact table against its gates, the two-moons network, the digits benchmark and the
reduction table at small sizes, the exercises' references against brute force and scikit-learn, and every figure and
widget callback driven headless."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch

from harmonia.course.demos import lens_depth as demo
from harmonia.course.exercises import ch15, evaluate
from harmonia.course.settings import current
from harmonia.uncertainty import fermat_inner

FAST, FULL = current(mode="fast", device="cpu"), current(mode="full", device="cpu")
TINY = replace(demo.settings(FAST), n_inner=40, digits_inner=15, moons_epochs=40, digits_epochs=15, seeds=(0,))


def test_settings_follow_the_mode():
    fast, full = demo.settings(FAST), demo.settings(FULL)
    assert (fast.n_inner, fast.digits_inner, fast.seeds) == (100, 50, (0, 1, 2))
    assert full.n_inner > fast.n_inner and len(full.seeds) == 5


def test_artefact_table_meets_its_gates():
    rows = {r["name"]: r for r in demo.artefact_table(demo.settings(FAST))}
    assert rows["Fermat, modified"]["auroc"] >= 0.99 and rows["Fermat, modified"]["zero"] >= 0.99
    assert rows["Fermat, snapped"]["auroc"] <= 0.92 and rows["Fermat, snapped"]["zero"] == 0.0
    assert rows["Fermat, snapped"]["max_very_far"] > 0
    assert rows["Euclidean (alpha = 1)"]["auroc"] <= 0.97


def test_networks_and_benchmarks_run():
    res = demo.moons_network(TINY)
    assert set(res["auroc"]) >= {"entropy", "centroid", "GDA", "LD alpha=10"} and res["maps"]["GDA"].shape == (30, 30)
    for protocol in ("holdout", "far"):
        r = demo.digits_benchmark(TINY, protocol, 0)
        assert 0.5 < r["acc"] <= 1 and all(0 <= v <= 1 for v in r["auroc"].values())
    red = demo.reduction_table(TINY, [demo.digits_benchmark(TINY, "holdout", 0)], sizes=(5, 10))
    assert len(red) == 6 and all(0 <= v <= 1 for v in red.values())
    imgs = demo.ood_images(30, 0, torch.rand(40, 64))
    assert imgs.shape == (30, 64) and float(imgs.min()) >= 0 and float(imgs.max()) <= 1


def test_exercise_references_against_brute_force_and_sklearn():
    g = torch.Generator().manual_seed(0)
    Q, x = torch.randn(10, 2, generator=g, dtype=torch.float64), torch.randn(2, generator=g, dtype=torch.float64)
    brute = sum(max(float((x - Q[i]).norm()), float((x - Q[j]).norm())) <= float((Q[i] - Q[j]).norm())
                for i, j in itertools.combinations(range(10), 2)) / 45
    assert ch15.lens_depth_count(x, Q) == brute
    L = ch15.fermat_limit(Q)
    assert torch.allclose(fermat_inner(Q, 80.0) ** (1 / 80), L, rtol=0.1)
    skm = pytest.importorskip("sklearn.metrics")
    a, b = torch.tensor([1.0, 1.0, 0.5, 0.0]), torch.tensor([1.0, 0.0, 0.0])
    ref = skm.roc_auc_score(np.r_[np.ones(4), np.zeros(3)], np.r_[a.numpy(), b.numpy()])
    assert ch15.auroc_by_hand(a, b) == pytest.approx(ref)
    for ex, fn in (("15.1", ch15.lens_depth_count), ("15.2", ch15.fermat_limit), ("15.3", ch15.auroc_by_hand)):
        assert evaluate(ex, fn).passed
    assert not evaluate("15.3", lambda a, b: float((a[:, None] >= b[None, :]).double().mean())).passed   # ties as wins


def test_figures_and_widget_callbacks():
    X, y = demo.make_moons(300, 0.1, seed=1)
    res = demo.moons_network(TINY)
    figs = [demo.plot_paths(X[y == 0], alphas=(1.0, 3.0)), demo.plot_depth_map(res, ["entropy", "GDA"], "t"),
            demo.plot_fermat_depth(3.0, "snapped", 40), demo.plot_fermat_depth(1.0, "Euclidean", 40),
            demo.plot_reduction(TINY, 10, "random"),
            demo.plot_consistency({"a": ([0.0, 0.5], [0.5, 1.0])}, "t")]
    for fig in figs:
        assert fig._suptitle is not None or any(ax.get_title() for ax in fig.axes)
        assert any(ax.get_xlabel() for ax in fig.axes)


def test_device_check_runs_on_cpu():
    out = demo.device_check(FAST)
    assert out["Fermat matrix"].shape == (60, 60) and torch.all((out["lens depth"] >= 0) & (out["lens depth"] <= 1))
