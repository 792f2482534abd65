"""Chapter 16 demos: the training recipe at a tiny size, evaluation and chance levels, the paired test against a
hand count, the exercises' references against independent computations, and every figure and widget callback
driven headless."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from harmonia.attention import rect_indicator, rect_mask, rotated_iou
from harmonia.course.demos import cram as demo
from harmonia.course.exercises import ch16
from harmonia.course.settings import current

FAST, FULL = current(mode="fast", device="cpu"), current(mode="full", device="cpu")
TINY = replace(demo.settings(FAST), n_train=256, n_test=64, epochs=1)


@pytest.fixture(scope="module")
def tiny_run():
    data = demo.make_data(TINY)
    return data, demo.run(TINY, data)


def test_settings_follow_the_mode():
    fast, full = demo.settings(FAST), demo.settings(FULL)
    assert (fast.n_train, fast.epochs, fast.lambda_area) == (3000, 6, 0.5)
    assert full.n_train > fast.n_train and full.epochs > fast.epochs


def test_optimizer_gives_the_head_its_own_rate():
    model = demo.SlotCNN(attention=demo.attention_factory("CRAM"))
    opt = demo.make_optimizer(model, TINY)
    assert [g["lr"] for g in opt.param_groups] == [TINY.lr, TINY.head_lr_scale * TINY.lr]
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))
    assert len(demo.make_optimizer(demo.SlotCNN(), TINY).param_groups) == 1
    with pytest.raises(ValueError, match="name"):
        demo.attention_factory("SE")


def test_run_trains_and_evaluates_every_variant(tiny_run):
    data, res = tiny_run
    assert list(res) == list(demo.VARIANTS)
    for name, r in res.items():
        for key in ("test", "shifted"):
            e = r[key]
            assert 0 <= e["acc"] <= 1 and e["correct"].shape == (TINY.n_test,)
            if name != "no attention":
                assert 0 <= e["pointing"] <= 1 and 0 <= e["iou"] <= 1 and 0 <= e["mass"] <= 1
                assert 0 < e["compact"] <= 1
    # CRAM's map is its rectangle re-drawn at the image's size: compact by construction
    o = res["CRAM"]["test"]["outputs"]
    assert torch.allclose(o["map"], rect_mask(o["phi"], 32, 32)) and res["CRAM"]["test"]["compact"] == 1.0


def test_random_guess_matches_its_definition(tiny_run):
    data, _ = tiny_run
    d = data["test"]
    ch = demo.random_guess(d)
    area = ((d.box[:, 2] - d.box[:, 0]) * (d.box[:, 3] - d.box[:, 1]) / 32**2).mean()
    assert abs(ch["pointing"] - float(area)) < 0.12        # a uniform point hits the box with probability area / canvas
    assert 0 < ch["iou"] < 1 and demo.random_guess(d) == ch


def test_mcnemar_counts_by_hand():
    a = torch.tensor([1, 1, 0, 0, 1, 1, 1], dtype=torch.bool)
    b = torch.tensor([1, 0, 1, 0, 0, 0, 1], dtype=torch.bool)
    r = demo.mcnemar(a, b)
    assert (r["b"], r["c"]) == (3, 1) and r["z"] == pytest.approx(2 / math.sqrt(4))
    assert demo.mcnemar(a, a)["z"] == 0.0


def test_exercise_references_against_independent_computations():
    g = torch.Generator().manual_seed(0)
    # 16.1: the quadrature of the mask on a fine grid
    phi = torch.tensor([[0.05, -0.1, 0.3, 0.2, 0.7]], dtype=torch.float64)
    M = rect_mask(phi, 401, 401, kappa=20.0)
    assert float(M.sum()) * (2 / 401) ** 2 == pytest.approx(ch16.mask_area(0.3, 0.2, 20.0), rel=1e-3)
    # 16.2: central finite differences in theta
    phi = torch.rand(2, 5, generator=g, dtype=torch.float64) * 0.4 + 0.2
    e = torch.zeros_like(phi)
    e[:, 4] = 1e-6
    fd = (rect_mask(phi + e, 9, 11, 12.0) - rect_mask(phi - e, 9, 11, 12.0)) / 2e-6
    assert torch.allclose(ch16.mask_dtheta(phi, 9, 11, 12.0), fd, atol=1e-6)
    # 16.3: the exact IoU against pixel counting
    p1 = torch.tensor([0.1, 0.0, 0.4, 0.2, 0.3], dtype=torch.float64)
    p2 = torch.tensor([0.0, 0.1, 0.3, 0.3, -0.6], dtype=torch.float64)
    R = rect_indicator(torch.stack([p1, p2]), 1500, 1500)
    inter = float((R[0] * R[1]).sum())
    assert ch16.box_iou(p1, p2) == pytest.approx(inter / (float(R.sum()) - inter), abs=3e-3)
    assert ch16.box_iou(p1, p2) == rotated_iou(p2, p1)


def test_figures_and_widget_callbacks(tiny_run):
    data, res = tiny_run
    chance = demo.random_guess(data["test"])
    figs = [demo.plot_masks(), demo.plot_edge_band(), demo.plot_samples(data["train"], n=6),
            demo.plot_rectangle(0.2, -0.1, 0.4, 0.3, 45.0, 8.0, "supergauss", image=data["test"].X[0]),
            demo.plot_rectangle(kind="abs_sigmoid"), demo.plot_overlays(data["test"], res, [0, 1]),
            demo.plot_browser(data["test"], res, 3), demo.plot_accuracy(res), demo.plot_mcnemar(res),
            demo.plot_localisation(res, chance)]
    for fig in figs:
        titled = (fig._suptitle is not None and fig._suptitle.get_text()) or any(ax.get_title() for ax in fig.axes)
        assert fig.axes and titled


def test_device_check_runs_on_the_cpu():
    out = demo.device_check(FAST)
    assert out["CRAM logits"].shape == (8, 10) and out["CRAM rectangle"].shape == (8, 5)
    assert torch.isfinite(out["mask"]).all()
