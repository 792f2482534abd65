"""harmonia.uncertainty and the AUROC / consistency helpers of harmonia.metrics: lens depth against brute-force
counting and the 1-D closed form, invariances, Fermat distances against scipy/networkx and the min-plus path, the
modified distance against an augmented-graph Dijkstra, Proposition 1 (snapped depth constant on Voronoi cells), the
vanishing radius, reductions, scorers, and the paper's moons artefact."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from harmonia.config import make_generator
from harmonia.data.toys2d import grid_2d, make_blobs, make_moons, make_spiral
from harmonia.metrics import auroc, consistency_curve
from harmonia.uncertainty import (
    EuclideanCentroidScorer,
    GDAScorer,
    KNNScorer,
    LensDepthScorer,
    fermat_inner,
    fermat_lens_depth,
    fermat_paths,
    fermat_to_inner,
    kmeans,
    lens_depth,
    lens_depth_euclidean,
    max_softmax,
    neg_entropy,
    reduce_points,
)

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64


def _brute_ld(x, Q, dist):
    n = len(Q)
    inside = sum(max(dist(x, Q[i]), dist(x, Q[j])) <= dist(Q[i], Q[j]) for i, j in itertools.combinations(range(n), 2))
    return inside / math.comb(n, 2)


def test_lens_depth_against_brute_force_counting():
    g = make_generator(0)
    Q, Z = torch.randn(30, 3, generator=g, dtype=F64), torch.randn(7, 3, generator=g, dtype=F64)
    ld = lens_depth_euclidean(Z, Q)
    ref = [_brute_ld(z, Q, lambda a, b: float((a - b).norm())) for z in Z]
    assert torch.allclose(ld, torch.tensor(ref, dtype=F64), atol=0)
    for chunk in (1, 3, 128):                                    # batch-size independence
        assert torch.equal(lens_depth(torch.cdist(Z, Q), torch.cdist(Q, Q), chunk=chunk), ld)


def test_one_dimensional_closed_form():
    g = make_generator(1)
    x = torch.randn(51, 1, generator=g, dtype=F64)
    med = x.median(0).values[None] + 1e-12
    assert float(lens_depth_euclidean(med, x)) == pytest.approx(26 * 25 / 1275, abs=1e-15)
    pts = torch.linspace(-3, 3, 13, dtype=F64)[:, None] + 1e-9
    k = (x[:, 0][None, :] < pts).sum(1).to(F64)
    assert torch.allclose(lens_depth_euclidean(pts, x), k * (51 - k) / math.comb(51, 2), atol=0)


def test_two_points_and_monotone_invariance():
    Q = torch.tensor([[0.0, 0.0], [2.0, 0.0]], dtype=F64)
    assert float(lens_depth_euclidean(torch.tensor([[1.0, 0.0]], dtype=F64), Q)) == 1.0
    assert float(lens_depth_euclidean(torch.tensor([[0.0, 2.5]], dtype=F64), Q)) == 0.0
    g = make_generator(2)
    Q, Z = torch.randn(20, 2, generator=g, dtype=F64), torch.randn(9, 2, generator=g, dtype=F64)
    d, D = torch.cdist(Z, Q), torch.cdist(Q, Q)
    for f in (lambda t: t**3, torch.log1p):
        assert torch.equal(lens_depth(f(d), f(D)), lens_depth(d, D))


def test_fermat_inner_against_scipy_networkx_and_minplus():
    nx = pytest.importorskip("networkx")
    g = make_generator(3)
    Q = torch.randn(25, 2, generator=g, dtype=F64)
    for alpha in (1.0, 2.0, 7.0):
        D = fermat_inner(Q, alpha)
        G = nx.Graph()
        E = (torch.cdist(Q, Q) ** alpha).numpy()
        for i, j in itertools.combinations(range(25), 2):
            G.add_edge(i, j, weight=E[i, j])
        ref = dict(nx.all_pairs_dijkstra_path_length(G))
        R = torch.tensor([[ref[i][j] for j in range(25)] for i in range(25)], dtype=F64)
        assert torch.allclose(D, R, rtol=1e-12, atol=1e-14)
        assert torch.allclose(fermat_inner(Q, alpha, method="minplus"), D, rtol=1e-12, atol=1e-14)
    assert torch.allclose(fermat_inner(Q, 1.0), torch.cdist(Q, Q), atol=1e-12)      # alpha = 1: Euclidean


def test_collinear_points_and_paths():
    Q = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]], dtype=F64)
    assert float(fermat_inner(Q, 2.0)[0, 2]) == pytest.approx(2.0)                 # 2 h^2 via the middle
    X, _ = make_moons(300, 0.1, seed=1)
    dist, pred = fermat_paths(X, 1.0, 0)
    target = int(torch.argmax(X[:, 0]))
    assert pred[target] == 0                                                        # alpha = 1: the direct edge


def test_modified_distance_against_augmented_dijkstra_and_limits():
    from scipy.sparse.csgraph import dijkstra
    g = make_generator(4)
    Q, Z = torch.randn(20, 2, generator=g, dtype=F64), 2 * torch.randn(6, 2, generator=g, dtype=F64)
    alpha = 3.0
    D = fermat_inner(Q, alpha)
    M = fermat_to_inner(Z, Q, D, alpha)
    for b, z in enumerate(Z):
        P = torch.cat([Q, z[None]])
        E = (torch.cdist(P, P) ** alpha).numpy()
        ref = dijkstra(E, directed=False, indices=20)[:20]
        assert np.allclose(M[b].numpy(), ref, rtol=1e-12)
    assert torch.allclose(fermat_to_inner(Q, Q, D, alpha), D, atol=1e-12)            # x in Q: plain distance
    assert torch.all(M >= torch.cdist(Z, Q).min(1).values[:, None] ** alpha - 1e-12)
    radius = float(D.max()) ** (1 / alpha)                                          # exercise: vanishing radius
    far = Q.mean(0) + (radius + float(torch.cdist(Q.mean(0)[None], Q).max()) + 1e-6) * torch.tensor([[1.0, 0.0]], dtype=F64)
    assert float(lens_depth(fermat_to_inner(far, Q, D, alpha), D)) == 0.0


def test_snapped_depth_is_constant_on_voronoi_cells():
    g = make_generator(5)
    Q = torch.randn(15, 2, generator=g, dtype=F64)
    Z = 5 * torch.randn(40, 2, generator=g, dtype=F64)
    ld = fermat_lens_depth(Z, Q, 3.0, snap=True)
    nearest = Q[torch.cdist(Z, Q).argmin(1)]
    assert torch.equal(ld, fermat_lens_depth(nearest, Q, 3.0, snap=True))
    assert float(ld.max()) > 0 and float(fermat_lens_depth(Z, Q, 3.0).min()) == 0.0


def test_scale_rotation_and_permutation_invariance():
    X, y = make_moons(200, 0.1, seed=2)
    Z, _ = make_moons(50, 0.2, seed=3)
    base = LensDepthScorer(alpha=5.0, n_inner=None).fit(X, y).score(Z)
    th = 0.7
    R = torch.tensor([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]], dtype=F64)
    for f in (lambda t: 3.0 * t, lambda t: t @ R.T + 1.5):
        assert torch.allclose(LensDepthScorer(alpha=5.0, n_inner=None).fit(f(X), y).score(f(Z)), base, atol=0.02)
    perm = torch.randperm(200, generator=make_generator(6))
    assert torch.equal(LensDepthScorer(alpha=5.0, n_inner=None).fit(X[perm], y[perm]).score(Z), base)


def test_kmeans_and_reductions():
    X, y = make_blobs([[0, 0], [6, 0], [0, 6]], 100, std=0.5, seed=7)
    C, lab, inertia = kmeans(X, 3, seed=0)
    assert sorted(torch.bincount(lab).tolist()) == [100, 100, 100]
    skl = pytest.importorskip("sklearn.cluster")
    ref = skl.KMeans(3, n_init=4, random_state=0).fit(X.numpy())
    assert inertia == pytest.approx(ref.inertia_, rel=1e-6)
    for strategy in ("random", "kmeans_center", "kmeans_center_plus"):
        Q = reduce_points(X, 20, strategy, seed=0)
        assert Q.shape[1] == 2 and 2 <= Q.shape[0] <= 20
        if strategy != "kmeans_center":                                             # data points
            assert float(torch.cdist(Q, X, compute_mode="donot_use_mm_for_euclid_dist").min(1).values.max()) == 0.0
    with pytest.raises(ValueError, match="strategy"):
        reduce_points(X, 5, "median")


def test_auroc_is_the_mann_whitney_statistic_with_ties():
    a, b = torch.tensor([0.9, 0.5, 0.5, 0.1]), torch.tensor([0.5, 0.2, 0.0])
    pairs = [(x > z) + 0.5 * (x == z) for x in a.tolist() for z in b.tolist()]
    assert auroc(a, b) == pytest.approx(sum(pairs) / len(pairs))
    assert auroc(a, a) == 0.5 and auroc(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])) == 1.0
    skm = pytest.importorskip("sklearn.metrics")
    g = make_generator(8)
    s1, s2 = torch.randint(0, 5, (200,), generator=g).double(), torch.randint(0, 4, (150,), generator=g).double()
    ref = skm.roc_auc_score(np.r_[np.ones(200), np.zeros(150)], np.r_[s1.numpy(), s2.numpy()])
    assert auroc(s1, s2) == pytest.approx(ref, abs=1e-12)
    with pytest.raises(ValueError, match="score_id"):
        auroc(torch.tensor([]), s2)


def test_consistency_curve():
    score = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    correct = score > 0.45
    fr, acc = consistency_curve(score, correct)
    assert acc[0] == 0.6 and acc[-1] == 1.0 and all(x <= y + 1e-12 for x, y in zip(acc, acc[1:]))


def test_scorers_and_logit_scores():
    X, y = make_blobs([[0, 0], [8, 0]], 200, std=1.0, seed=9)
    near, far = torch.tensor([[0.0, 0.0], [8.0, 0.0]], dtype=F64), torch.tensor([[4.0, 10.0], [-10.0, -5.0]], dtype=F64)
    for sc in (LensDepthScorer(alpha=3.0, n_inner=30), EuclideanCentroidScorer(), GDAScorer(), KNNScorer(k=5, normalize=False)):
        sc.fit(X, y)
        assert float(sc.score(near).min()) > float(sc.score(far).max()), type(sc).__name__
    per = LensDepthScorer(alpha=3.0, n_inner=30).fit(X, y).score(near, per_class=True)
    assert per.shape == (2, 2) and per[0, 0] > 0 and per[1, 1] > 0
    logits = torch.tensor([[10.0, 0.0], [0.0, 0.0]])
    assert torch.allclose(max_softmax(logits), torch.tensor([1 / (1 + math.exp(-10)), 0.5]))
    assert float(neg_entropy(logits)[1]) == pytest.approx(-math.log(2)) and float(neg_entropy(logits)[0]) > -1e-3
    with pytest.raises(RuntimeError, match="fit"):
        LensDepthScorer().score(near)
    with pytest.raises(ValueError, match="Q"):
        fermat_inner(torch.zeros(3, 2, dtype=F64), 2.0)                             # duplicates


def test_moons_artefact_and_its_fix():
    X, y = make_moons(1000, 0.07, seed=0)
    Xid, _ = make_moons(1000, 0.07, seed=1)
    U = torch.rand(2000, 2, generator=make_generator(2), dtype=F64) * torch.tensor([4.0, 2.5], dtype=F64) + torch.tensor([-1.5, -1.0], dtype=F64)
    far = U[torch.cdist(U, X).min(1).values > 0.3]
    mod = LensDepthScorer(alpha=5.0, n_inner=100).fit(X, y)
    snap = LensDepthScorer(alpha=5.0, n_inner=100, snap=True).fit(X, y)
    a_mod, a_snap = auroc(mod.score(Xid), mod.score(far)), auroc(snap.score(Xid), snap.score(far))
    assert a_mod >= 0.99 and a_snap <= 0.92
    assert float((mod.score(far) == 0).double().mean()) >= 0.99
    very_far = U[torch.cdist(U, X).min(1).values > 1.0]
    if len(very_far):
        assert float(snap.score(very_far).max()) > 0


def test_toy_generators():
    X, y = make_moons(101, 0.0, seed=0)
    assert X.shape == (101, 2) and int((y == 0).sum()) == 50
    assert torch.allclose((X[y == 0] ** 2).sum(1), torch.ones(50, dtype=F64))
    S = make_spiral(200, noise=0.0)
    assert torch.all(S.norm(dim=1) >= math.pi - 1e-9)
    G, xx, yy = grid_2d(X, 0.5, 7)
    assert G.shape == (49, 2) and xx.shape == (7, 7)


def test_large_alpha_matches_minplus():
    Q = torch.randn(12, 2, generator=make_generator(10), dtype=F64)
    for alpha in (15.0, 30.0, 60.0):                         # weights spanning tens of orders of magnitude
        D = fermat_inner(Q, alpha)
        assert torch.allclose(D, fermat_inner(Q, alpha, method="minplus"), rtol=1e-12)
