"""Chapter 14 demos: the toy's exact steady state, a short DAN training against the Kalman filter's scores, the
Lorenz-96 filters' RMSE levels, the exercises' references against independent computations, the shipped checkpoint,
and every figure and widget callback driven headless."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from harmonia.assimilation import rotation_model, steady_state
from harmonia.course.demos import data_assimilation as demo
from harmonia.course.exercises import ch14, evaluate
from harmonia.course.settings import current

FAST, FULL = current(mode="fast", device="cpu"), current(mode="full", device="cpu")
TINY = replace(demo.settings(FAST), toy_dh=16, toy_depth=1, toy_steps=200, toy_batch=64, test_batch=32, test_T=80,
               warmup=10, l96_dh=16, l96_depth=1, l96_steps=40, l96_batch=8, l96_test_batch=2, l96_test_T=40,
               enkf_T=300, enkf_spinup=100)


def test_settings_follow_the_mode():
    fast, full = demo.settings(FAST), demo.settings(FULL)
    assert (fast.toy_dh, fast.l96_dh, fast.l96_depth, fast.n_ens) == (40, 160, 3, 20)
    assert full.l96_dh == 800 and full.l96_depth == 19 and full.l96_steps > fast.l96_steps


def test_toy_kalman_is_the_closed_form():
    k = demo.toy_kalman()
    pa = (-0.01 + math.sqrt(0.0401)) / 2
    assert k["pa"] == pytest.approx(pa, rel=1e-10) and k["pb"] == pytest.approx(pa + 0.01, rel=1e-10)
    assert k["nll_a"] == pytest.approx(0.48531, abs=1e-4) and k["nll_b"] == pytest.approx(0.58527, abs=1e-4)


def test_short_toy_training_and_scores():
    dan, hist = demo.train_toy_dan(TINY)
    assert len(hist.loss) == TINY.toy_steps and all(math.isfinite(v) for v in hist.loss)
    sc = demo.toy_scores(dan, TINY)
    assert sc["KF"]["nll_a"] < sc["DAN"]["nll_a"] + 0.05          # nothing beats the exact filter (up to noise)
    assert sc["obs"]["rmse_a"] == pytest.approx(math.sqrt(math.pi) / 2, abs=0.05)
    assert sc["obs"]["nll_a"] == pytest.approx(1 + math.log(2 * math.pi), abs=0.1)


def test_lorenz_filters_reach_their_levels():
    r = demo.enkf_scores(TINY, "letkf")
    assert 0.25 < r["rmse_a"] < 0.5 and r["rmse_b"] > r["rmse_a"]
    res = demo.train_l96_dan(TINY, log_every=20)
    assert res["curve"]["step"] == [20, 40] and res["test_mean_a"].shape == (TINY.l96_test_T, 2, 40)


def test_shipped_checkpoint_loads_and_assimilates():
    dan = demo.load_checkpoint(TINY)
    m, xs, ys = demo.l96_test_run(TINY, 120, 4, seed=3, dtype=torch.float32)
    from harmonia.assimilation import evaluate_dan
    ev = evaluate_dan(dan, m, xs, ys, warmup=20)
    assert ev["rmse_a"] < 0.8 and ev["rmse_a"] < ev["rmse_b"]


def test_exercise_references_against_independent_computations():
    m = rotation_model()
    eye = torch.eye(2, dtype=torch.float64)
    for q, r in ((0.01, 1.0), (0.5, 0.2)):
        Pb, Pa, _ = steady_state(m.M, q * eye, m.H_matrix(), r * eye)
        pb, pa = ch14.steady_state_variances(q, r)
        assert pb == pytest.approx(float(Pb[0, 0]), rel=1e-9) and pa == pytest.approx(float(Pa[0, 0]), rel=1e-9)
    g = torch.Generator().manual_seed(0)
    x, mu = torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randn(5, 3, generator=g, dtype=torch.float64)
    L = torch.randn(5, 3, 3, generator=g, dtype=torch.float64).tril(-1) + torch.diag_embed(torch.rand(5, 3, generator=g, dtype=torch.float64) + 0.5)
    ref = -torch.distributions.MultivariateNormal(mu, scale_tril=L).log_prob(x)
    assert torch.allclose(ch14.nll(x, mu, L), ref, atol=1e-12)
    E = torch.randn(30, 4, generator=g, dtype=torch.float64)
    xi = torch.randn(30, 2, generator=g, dtype=torch.float64)
    idx = torch.tensor([0, 2])
    y = torch.randn(2, generator=g, dtype=torch.float64)
    A = E - E.mean(0)
    P = A.T @ A / 29
    H = torch.eye(4, dtype=torch.float64)[idx]
    K = P @ H.T @ torch.linalg.inv(H @ P @ H.T + 0.25 * torch.eye(2, dtype=torch.float64))
    assert torch.allclose(ch14.enkf_update(E, y, idx, 0.5, xi), E + (y + 0.5 * xi - E @ H.T) @ K.T, atol=1e-12)
    for ex, ref_fn in (("14.1", ch14.steady_state_variances), ("14.2", ch14.nll), ("14.3", ch14.enkf_update)):
        assert evaluate(ex, ref_fn).passed
    assert not evaluate("14.1", lambda q, r: (q + r, r)).passed
    assert not evaluate("14.3", lambda E, y, idx, s, xi: E).passed


def test_figures_and_widget_callbacks():
    dan, hist = demo.train_toy_dan(TINY)
    sc = demo.toy_scores(dan, TINY)
    res = demo.train_l96_dan(TINY, log_every=20)
    enkf = demo.enkf_scores(TINY, "enkf")
    figs = [demo.plot_toy_tracks(sc, steps=40), demo.plot_training(hist, "t", {"KF": 1.07}, smooth=10),
            demo.plot_l96(res, enkf, 3.66), demo.plot_toy_mismatch(dan, TINY, 2.0, 0.05),
            demo.plot_enkf_sweep(TINY, F=6.0, n_ens=10, T=60)]
    for fig in figs:
        assert fig._suptitle is not None or any(ax.get_title() for ax in fig.axes)
        assert any(ax.get_xlabel() for ax in fig.axes)


def test_device_check_runs_on_cpu():
    out = demo.device_check(FAST)
    assert set(out) == {"EnKF mean", "DAN analysis mean"}
    assert all(torch.isfinite(v).all() for v in out.values())
