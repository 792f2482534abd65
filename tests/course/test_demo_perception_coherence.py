"""Chapter 17 demos: the teacher and both transfer protocols at a tiny size, the packed class-aware targets, the
concept table's exact rows, the exercises' references against independent computations, and every figure and widget
callback driven headless."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from scipy.stats import kendalltau

from harmonia.course.demos import perception_coherence as demo
from harmonia.course.exercises import ch17
from harmonia.course.settings import current
from harmonia.distill import pairwise_dist

FAST, FULL = current(mode="fast", device="cpu"), current(mode="full", device="cpu")
TINY = replace(demo.settings(FAST), teacher_epochs=2, student_epochs=1, aware_epochs=1, dims=(2,))


@pytest.fixture(scope="module")
def tiny():
    data = demo.load(TINY)
    teacher = demo.train_teacher(TINY, data)
    return data, teacher, demo.unaware_table(TINY, data, teacher, 2)


def test_settings_follow_the_mode():
    fast, full = demo.settings(FAST), demo.settings(FULL)
    assert (fast.student_epochs, fast.tau, fast.lam, fast.dims) == (20, 0.1, 10.0, (8, 2))
    assert full.student_epochs > fast.student_epochs and len(full.dims) > len(fast.dims)


def test_teacher_is_frozen_and_tables_are_complete(tiny):
    data, teacher, table = tiny
    assert not any(p.requires_grad for p in teacher.parameters()) and not teacher.training
    assert list(table) == list(demo.UNAWARE)
    for r in table.values():
        assert 0 <= r["probe"] <= 1 and 0 <= r["knn"] <= 1 and 0 <= r["pc"] <= 1 and -1 <= r["spearman"] <= 1
    assert table["random init"]["history"] is None and len(table["PC"]["history"].train_loss) == 2
    with pytest.raises(ValueError, match="method"):
        demo.transfer_loss("CRD", TINY)


def test_transfer_moves_only_the_student_body(tiny):
    data, teacher, _ = tiny
    before = demo.student_net(2, TINY.seed)
    after, _ = demo.transfer(TINY, "PC", 2, data, teacher)
    assert torch.equal(before.head.weight, after.head.weight)          # labels never used: the head is untouched
    assert not torch.equal(before.body[0].weight, after.body[0].weight)


def test_class_aware_recipes_run_and_unpack_their_targets(tiny):
    data, teacher, _ = tiny
    res = demo.aware_table(TINY, data, teacher, dim=4)
    assert list(res) == list(demo.AWARE) and all(0 <= r["acc"] <= 1 for r in res.values())
    with pytest.raises(ValueError, match="method"):
        demo.train_aware(TINY, "KD only", 4, data, teacher)


def test_concept_table_exact_rows():
    rows = {name: (pc, rho) for name, pc, rho in demo.concept_table()}
    assert rows["the same points"] == (1.0, 1.0)
    assert rows["rotated, scaled by 3, shifted"][0] >= 0.999
    assert abs(rows["an independent 8-D cloud"][0] - 0.5) < 0.03
    assert rows["2-D PCA of the points"][0] > rows["2-D random projection"][0] > 0.5


def test_exercise_references_against_independent_computations():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(15, generator=g, dtype=torch.float64), torch.randn(15, generator=g, dtype=torch.float64)
    n = 15
    pairs = [(k, l) for k in range(n) for l in range(k + 1, n)]
    by_hand = sum(float(torch.sign((a[k] - a[l]) * (b[k] - b[l]))) for k, l in pairs) / len(pairs)
    assert ch17.kendall_tau(a, b) == pytest.approx(by_hand, abs=1e-12)
    Z = torch.randn(8, 3, generator=g, dtype=torch.float64)
    D = pairwise_dist(Z)
    R = ch17.normalised_ranks(D)
    for i in range(8):
        for j in range(8):
            if i != j:
                ks = [k for k in range(8) if k not in (i, j)]
                assert float(R[i, j]) == pytest.approx(sum(float(D[i, k] < D[i, j]) for k in ks) / 6, abs=1e-12)
    # 17.3: central differences of the soft rank in D_ij with m_i frozen
    tau, i, j = 0.2, 2, 5
    off = ~torch.eye(8, dtype=torch.bool)
    m = (D * off).sum(1) / 7

    def soft(Dm):
        ks = [k for k in range(8) if k not in (i, j)]
        return sum(torch.sigmoid((Dm[i, j] - Dm[i, k]) / (tau * m[i])) for k in ks) / 6

    E = torch.zeros_like(D)
    E[i, j] = 1e-6
    fd = (soft(D + E) - soft(D - E)) / 2e-6
    assert float(ch17.soft_rank_slope(D, tau)[i, j]) == pytest.approx(float(fd), rel=1e-6)
    assert ch17.kendall_tau(a, b) == pytest.approx(kendalltau(a.numpy(), b.numpy())[0])


def test_figures_and_widget_callbacks(tiny):
    data, teacher, table = tiny
    figs = [demo.plot_embeddings(table, data), demo.plot_embedding(table, data, "RKD"), demo.plot_bars(table),
            demo.plot_soft_ranks(0.01, 3), demo.plot_neighbours(table, teacher, data, anchor=5, methods=("SP", "PC"))]
    for fig in figs:
        titled = (fig._suptitle is not None and fig._suptitle.get_text()) or any(ax.get_title() for ax in fig.axes)
        assert fig.axes and titled


def test_device_check_runs_on_the_cpu():
    out = demo.device_check(FAST)
    assert out["PC loss"].ndim == 0 and out["PC loss gradient"].shape == (32, 4)
    assert torch.isfinite(out["PC loss gradient"]).all()
