"""harmonia.distill: dissimilarities against torch.cdist, hard ranks against a triple loop (ties, chunks, monotone
invariance), soft ranks (tau -> 0, scale invariance, gradcheck), perception coherence against scipy's Kendall tau and
a U-statistic triple loop, the rank discrepancy's Spearman identity and its null / reversed values, the PC loss, the
KD / FitNet / RKD / PKT / SP baselines against re-implementations of their published formulas, and the probes
against sklearn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as Fn
from torch import nn

import harmonia.distill.coherence as coherence_mod
import harmonia.distill.ranks as ranks_mod
from harmonia.distill import (
    fitnet_loss,
    hard_ranks,
    kd_loss,
    knn_accuracy,
    linear_probe,
    pairwise_dist,
    pc_loss,
    perception_coherence,
    pkt_loss,
    rank_discrepancy,
    rkd_loss,
    soft_ranks,
    sp_loss,
)

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64


def _randn(g, *shape):
    return torch.randn(*shape, generator=g, dtype=F64)


def _orthogonal(g, p):
    Q, R = torch.linalg.qr(_randn(g, p, p))
    return Q * torch.sign(torch.diagonal(R))


# ------------------------------------------------------------------------------------------------------------------
# references
# ------------------------------------------------------------------------------------------------------------------
def _ref_hard_ranks(D):
    D = D.tolist()
    B = len(D)
    R = np.zeros((B, B))
    for i in range(B):
        for j in range(B):
            if j == i:
                continue
            c = 0.0
            for k in range(B):
                if k in (i, j):
                    continue
                c += 1.0 if D[i][k] < D[i][j] else 0.5 if D[i][k] == D[i][j] else 0.0
            R[i, j] = c / (B - 2)
    return torch.tensor(R, dtype=F64)


def _ref_pc(DS, DT):
    DS, DT = DS.tolist(), DT.tolist()
    B = len(DS)
    tot = 0.0
    for i in range(B):
        for j in range(B):
            for k in range(B):
                if len({i, j, k}) < 3:
                    continue
                p = (DS[i][j] - DS[i][k]) * (DT[i][j] - DT[i][k])
                tot += 1.0 if p > 0 else 0.5 if p == 0 else 0.0
    return tot / (B * (B - 1) * (B - 2))


def _drop_anchor(D, i):
    return np.delete(D[i].numpy(), i)


# ------------------------------------------------------------------------------------------------------------------
# pairwise_dist
# ------------------------------------------------------------------------------------------------------------------
def test_pairwise_dist_metrics(seeded):
    Z = _randn(seeded(0), 15, 4)
    off = ~torch.eye(15, dtype=torch.bool)
    ref = torch.cdist(Z, Z)
    E = pairwise_dist(Z)
    assert torch.allclose(E[off], ref[off], rtol=0, atol=1e-10)
    # the eps under the square root (for a gradient at 0) leaves sqrt(eps) on the diagonal; eps=0 gives cdist exactly
    assert torch.all(torch.diagonal(E) <= 1e-6 + 1e-18)
    assert torch.allclose(pairwise_dist(Z, eps=0.0), ref, rtol=0, atol=1e-10)
    assert torch.all(torch.diagonal(pairwise_dist(Z, eps=0.0)) == 0)
    sq = pairwise_dist(Z, "sqeuclidean")
    assert torch.allclose(sq, ref**2, rtol=0, atol=1e-10)
    assert torch.all(torch.diagonal(sq) == 0)
    cos = pairwise_dist(Z, "cosine")
    ref_cos = torch.tensor([[1 - float(a @ b) / (float(a.norm()) * float(b.norm())) for b in Z] for a in Z], dtype=F64)
    assert torch.allclose(cos, ref_cos, rtol=0, atol=1e-12)
    assert torch.all(torch.diagonal(cos).abs() <= 1e-12)
    assert torch.all(cos >= 0) and torch.allclose(cos, cos.T, atol=0)


def test_pairwise_dist_errors(seeded):
    Z = _randn(seeded(1), 5, 3)
    with pytest.raises(ValueError, match=r"^metric:"):
        pairwise_dist(Z, "manhattan")
    with pytest.raises((ValueError, TypeError), match=r"^Z:"):
        pairwise_dist(Z[0])
    with pytest.raises((ValueError, TypeError), match=r"^Z:"):
        pairwise_dist(Z[None])


# ------------------------------------------------------------------------------------------------------------------
# hard_ranks / soft_ranks
# ------------------------------------------------------------------------------------------------------------------
def test_hard_ranks_against_triple_loop_with_and_without_ties(seeded):
    g = seeded(2)
    D = pairwise_dist(_randn(g, 12, 3))
    R = hard_ranks(D)
    assert torch.allclose(R, _ref_hard_ranks(D), rtol=0, atol=1e-15)
    assert torch.all(torch.diagonal(R) == 0)
    # ties: integer-valued, symmetric distances with many repeats
    A = torch.randint(1, 4, (12, 12), generator=g).to(F64)
    Dt = torch.triu(A, 1) + torch.triu(A, 1).T
    Rt = hard_ranks(Dt)
    assert torch.allclose(Rt, _ref_hard_ranks(Dt), rtol=0, atol=1e-15)
    assert torch.any(Rt * 10 % 1 == 0.5)                                # some half counts really occur
    # each row of the ranks of distinct distances is a permutation of 0, 1/(B-2), ..., 1
    rows = torch.sort(R[~torch.eye(12, dtype=torch.bool)].reshape(12, 11), 1).values
    assert torch.allclose(rows, torch.arange(11, dtype=F64).expand(12, 11) / 10, atol=1e-15)


def test_hard_ranks_monotone_invariance_range_and_errors(seeded):
    D = pairwise_dist(_randn(seeded(3), 25, 4))
    R = hard_ranks(D)
    assert torch.equal(hard_ranks(D**3), R)
    assert torch.equal(hard_ranks(torch.exp(D)), R)
    assert torch.equal(hard_ranks(2.5 * D + 1.0), R)
    assert float(R.min()) >= 0 and float(R.max()) <= 1
    assert float(R.max()) == 1.0
    with pytest.raises(ValueError, match=r"^D:"):
        hard_ranks(D[:2, :2])
    with pytest.raises(ValueError, match=r"^D:"):
        hard_ranks(D[:, :7])
    with pytest.raises((ValueError, TypeError), match=r"^D:"):
        hard_ranks(D[0])


def test_chunked_paths_match_unchunked(seeded, monkeypatch):
    g = seeded(4)
    s, t = _randn(g, 20, 3), _randn(g, 20, 5)
    t = t + 0.5 * torch.cat([s, s[:, :2]], 1)
    D = pairwise_dist(s)
    A = torch.randint(1, 4, (20, 20), generator=g).to(F64)
    Dt = torch.triu(A, 1) + torch.triu(A, 1).T                         # ties too
    R, Rt = hard_ranks(D), hard_ranks(Dt)
    pc, delta = perception_coherence(s, t), rank_discrepancy(s, t)
    calls = []

    def chunk(B):
        calls.append(B)
        return 3

    monkeypatch.setattr(ranks_mod, "anchor_chunk", chunk)
    monkeypatch.setattr(coherence_mod, "anchor_chunk", chunk)
    assert torch.equal(hard_ranks(D), R)
    assert torch.equal(hard_ranks(Dt), Rt)
    assert perception_coherence(s, t) == pytest.approx(pc, abs=1e-15)
    assert rank_discrepancy(s, t) == pytest.approx(delta, abs=1e-15)
    assert calls                                                        # the patched chunking was really used
    assert ranks_mod.anchor_chunk is chunk


def test_anchor_chunk_budget():
    for B in (3, 20, 128, 500, 2048, 2049, 5000):
        c = ranks_mod.anchor_chunk(B)
        assert c >= 1
        assert c == 1 or c * B * B <= (1 << 22)                         # about 4M entries per comparison tensor
        assert (c + 1) * B * B > (1 << 22)                              # and no fewer anchors than fit


def test_soft_ranks_limit_scale_and_range(seeded):
    B = 30
    D = pairwise_dist(_randn(seeded(5), B, 4))
    R = hard_ranks(D)
    keep = ~torch.eye(B, dtype=torch.bool)
    m = (D * keep).sum(1) / (B - 1)
    # smallest gap between two distances around one anchor, relative to the anchor's mean distance: no ties, but
    # B = 30 already holds near ties (~1e-6), so the sigmoid needs tau far below the gap to become a step
    prof = torch.sort(D[keep].reshape(B, B - 1), 1).values
    gap = float(((prof[:, 1:] - prof[:, :-1]) / m[:, None]).min())
    assert gap > 1e-7
    for tau in (1e-2, 1e-3, 1e-4, 1e-6, 1e-9):                          # |R~ - R| <= sigmoid(-gap / tau) entrywise
        bound = math.exp(-gap / tau) / (1 + math.exp(-gap / tau))
        assert float((soft_ranks(D, tau=tau) - R).abs().max()) <= bound + 1e-15
    assert float((soft_ranks(D, tau=1e-4) - R).abs().mean()) < 1e-3
    assert float((soft_ranks(D, tau=1e-9) - R).abs().max()) < 1e-12
    assert float((soft_ranks(D, tau=0.3) - R).abs().max()) > 1e-2          # a wide sigmoid does smooth
    S = soft_ranks(D, tau=0.2)
    assert torch.allclose(soft_ranks(7 * D, tau=0.2), S, rtol=0, atol=1e-12)
    assert float((soft_ranks(7 * D, tau=0.2, scale="none") - soft_ranks(D, tau=0.2, scale="none")).abs().max()) > 1e-2
    assert float(S.min()) >= 0 and float(S.max()) <= 1 and torch.all(torch.diagonal(S) == 0)
    # each anchor's soft ranks still sum to (B-1)/2 (sigma(x) + sigma(-x) = 1 over each pair j, k)
    assert torch.allclose(S.sum(1), torch.full((B,), (B - 1) / 2, dtype=F64), atol=1e-12)
    with pytest.raises(ValueError, match=r"^tau:"):
        soft_ranks(D, tau=0.0)
    with pytest.raises(ValueError, match=r"^scale:"):
        soft_ranks(D, scale="max")


def _ref_soft_ranks(D, tau, m):
    B = D.shape[0]
    keep = (~torch.eye(B, dtype=torch.bool)).to(D.dtype)
    S = torch.sigmoid((D[:, :, None] - D[:, None, :]) / (tau * m[:, None, None]))
    return (S * keep[:, None, :] * keep[None, :, :]).sum(-1) / (B - 2) * keep


def _central_grad(f, x, h=1e-6):
    g = torch.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        e = torch.zeros_like(x)
        e[idx] = h
        g[idx] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def test_soft_ranks_gradients(seeded):
    g = seeded(6)
    A = torch.rand(6, 6, generator=g, dtype=F64) + 0.5
    D = (A + A.T).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda X: soft_ranks(X, tau=0.3, scale="none"), (D,))
    # scale="anchor_mean": the anchor means are detached, so autograd gives the derivative at a frozen scale (a
    # plain gradcheck, whose finite differences move the means too, does not apply)
    W = _randn(g, 6, 6)
    m0 = ((D * ~torch.eye(6, dtype=torch.bool)).sum(1) / 5).detach()
    with torch.no_grad():
        assert torch.allclose(soft_ranks(D, tau=0.3), _ref_soft_ranks(D, 0.3, m0), atol=1e-15)
    (grad,) = torch.autograd.grad((soft_ranks(D, tau=0.3) * W).sum(), D)
    with torch.no_grad():
        num = _central_grad(lambda X: float((_ref_soft_ranks(X, 0.3, m0) * W).sum()), D.detach())
        full = _central_grad(lambda X: float((soft_ranks(X, tau=0.3) * W).sum()), D.detach())
    assert torch.allclose(grad, num, rtol=0, atol=1e-8)
    # the full derivative of the scale-free ranks vanishes along D itself; the frozen-scale gradient does not
    D = D.detach()
    assert float((full * D).sum()) == pytest.approx(0.0, abs=1e-7)
    assert abs(float((grad * D).sum())) > 1e-3


# ------------------------------------------------------------------------------------------------------------------
# perception_coherence / rank_discrepancy
# ------------------------------------------------------------------------------------------------------------------
def test_perception_coherence_identity_symmetry_invariances(seeded):
    g = seeded(7)
    s = _randn(g, 30, 4)
    t = torch.cat([s, _randn(g, 30, 2)], 1) @ _randn(g, 6, 5)
    assert perception_coherence(s, s) == 1.0
    pc = perception_coherence(s, t)
    assert 0.5 < pc < 1
    assert perception_coherence(t, s) == pytest.approx(pc, abs=1e-15)
    Qs, Qt = _orthogonal(g, 4), _orthogonal(g, 5)
    for s2, t2 in [(3.7 * s, t), (s, 0.01 * t), (s @ Qs, t), (s, t @ Qt), (s + 5.0, t - 2.0), (s @ Qs + 1, 4 * t @ Qt)]:
        assert perception_coherence(s2, t2) == pytest.approx(pc, abs=1e-12)
    # the cosine metric is scale invariant per row, not translation invariant
    assert perception_coherence(s * torch.rand(30, 1, generator=g, dtype=F64).add(0.5), t, metric="cosine") == \
        pytest.approx(perception_coherence(s, t, metric="cosine"), abs=1e-12)


def test_perception_coherence_is_mean_kendall_tau(seeded):
    stats = pytest.importorskip("scipy.stats")
    g = seeded(8)
    s = _randn(g, 40, 3)
    t = s + 0.8 * _randn(g, 40, 3)
    DS, DT = pairwise_dist(s), pairwise_dist(t)
    taus = [stats.kendalltau(_drop_anchor(DS, i), _drop_anchor(DT, i))[0] for i in range(40)]
    assert perception_coherence(s, t) == pytest.approx((1 + np.mean(taus)) / 2, abs=1e-12)


def test_perception_coherence_triple_loop_with_ties(seeded):
    g = seeded(9)
    s, t = _randn(g, 12, 3), _randn(g, 12, 2)
    assert perception_coherence(s, t) == pytest.approx(_ref_pc(pairwise_dist(s), pairwise_dist(t)), abs=1e-14)
    si = torch.randint(0, 3, (12, 2), generator=g).to(F64)                # integer features: tied distances
    ti = torch.randint(0, 3, (12, 2), generator=g).to(F64)
    DS, DT = pairwise_dist(si), pairwise_dist(ti)
    ref = _ref_pc(DS, DT)
    assert perception_coherence(si, ti) == pytest.approx(ref, abs=1e-14)
    assert perception_coherence(si, si) < 1                                # ties count one half, even against itself
    assert perception_coherence(si, si) == pytest.approx(_ref_pc(DS, DS), abs=1e-14)


def test_perception_coherence_null_and_subsampling(seeded):
    g = seeded(10)
    s, t = _randn(g, 128, 8), _randn(g, 128, 8)
    assert perception_coherence(s, t) == pytest.approx(0.5, abs=0.03)
    s, t = _randn(g, 100, 3), _randn(g, 100, 3)
    t = t + s
    for seed in (0, 5):
        idx = torch.randperm(100, generator=torch.Generator().manual_seed(seed))[:30]
        want = perception_coherence(s[idx], t[idx], max_points=None)
        assert perception_coherence(s, t, max_points=30, seed=seed) == want
        assert rank_discrepancy(s, t, max_points=30, seed=seed) == rank_discrepancy(s[idx], t[idx], max_points=None)
    assert perception_coherence(s, t, max_points=30, seed=0) != perception_coherence(s, t, max_points=30, seed=5)
    assert perception_coherence(s, t, max_points=100) == perception_coherence(s, t, max_points=None)


def test_coherence_only_sees_the_order_of_distances(seeded):
    g = seeded(15)
    s, t = _randn(g, 25, 3), _randn(g, 25, 3)
    t = t + s
    for f in (perception_coherence, rank_discrepancy):
        assert f(s, t, metric="sqeuclidean") == f(s, t)
        assert f(s, t, metric="cosine") != f(s, t)


@pytest.mark.parametrize("max_points", [-1, 2])
def test_max_points_is_validated(seeded, max_points):
    g = seeded(16)
    s, t = _randn(g, 10, 3), _randn(g, 10, 3)
    with pytest.raises(ValueError, match=r"^max_points:"):
        perception_coherence(s, t, max_points=max_points)


def test_coherence_errors(seeded):
    g = seeded(11)
    s = _randn(g, 10, 3)
    with pytest.raises(ValueError, match=r"^s, t:"):
        perception_coherence(s, _randn(g, 9, 3))
    with pytest.raises(ValueError, match=r"^s, t:"):
        rank_discrepancy(s, _randn(g, 9, 3))
    with pytest.raises(ValueError, match=r"^s:"):
        perception_coherence(s[:2], s[:2])
    with pytest.raises(ValueError, match=r"^metric:"):
        perception_coherence(s, s, metric="l1")


def test_rank_discrepancy_identity_symmetry_and_null(seeded):
    g = seeded(12)
    s = _randn(g, 30, 4)
    t = s + _randn(g, 30, 4)
    assert rank_discrepancy(s, s) == 0.0
    assert rank_discrepancy(s, 3 * s @ _orthogonal(g, 4) + 1) == pytest.approx(0.0, abs=1e-15)
    assert rank_discrepancy(s, t) == pytest.approx(rank_discrepancy(t, s), abs=1e-15)
    B = 128
    d = rank_discrepancy(_randn(g, B, 8), _randn(g, B, 8))
    assert d == pytest.approx((1 + 2 / (B - 2)) / 6, abs=0.01)


def test_rank_discrepancy_spearman_identity(seeded):
    stats = pytest.importorskip("scipy.stats")
    g = seeded(13)
    B = 40
    s = _randn(g, B, 3)
    t = s + 0.7 * _randn(g, B, 3)
    DS, DT = pairwise_dist(s), pairwise_dist(t)
    rhos = [stats.spearmanr(_drop_anchor(DS, i), _drop_anchor(DT, i))[0] for i in range(B)]
    assert np.mean(rhos) == pytest.approx(1 - 6 * rank_discrepancy(s, t) * (B - 2) / B, abs=1e-10)


def test_reversed_ranks_give_the_maximal_discrepancy(seeded):
    for B in (5, 17, 40):
        D = pairwise_dist(_randn(seeded(14 + B), B, 3))
        R, Rrev = hard_ranks(D), hard_ranks(D.max() + 1 - D)
        off = ~torch.eye(B, dtype=torch.bool)
        assert torch.allclose(Rrev[off], 1 - R[off], atol=1e-15)
        assert float(((R - Rrev)[off] ** 2).mean()) == pytest.approx((1 + 2 / (B - 2)) / 3, abs=1e-12)


# ------------------------------------------------------------------------------------------------------------------
# pc_loss
# ------------------------------------------------------------------------------------------------------------------
def test_pc_loss_softrank_floor_and_invariances(seeded):
    g = seeded(20)
    s = _randn(g, 128, 64)
    lo, hi = float(pc_loss(s, s, tau=0.01)), float(pc_loss(s, s, tau=0.1))
    assert lo < 1e-3 and hi > 10 * lo                               # tau sets a smoothing floor
    t = s[:, :16] + 0.5 * _randn(g, 128, 16)
    base = pc_loss(s, t, tau=0.1)
    assert float(base) > hi
    assert torch.allclose(pc_loss(10 * s, t, tau=0.1), base, rtol=0, atol=1e-10)
    assert torch.equal(pc_loss(s, 5 * t, tau=0.1), base)
    for kind in ("softrank", "pairwise"):
        assert pc_loss(s[:20], t[:20], kind=kind).dim() == 0


def _ref_pairwise(s, t, tau, m0=None):
    DS, DT = pairwise_dist(s).tolist(), pairwise_dist(t).tolist()
    B = len(DS)
    vals = []
    for i in range(B):
        m = sum(DS[i][j] for j in range(B) if j != i) / (B - 1) if m0 is None else float(m0[i])
        for j in range(B):
            for k in range(B):
                if len({i, j, k}) == 3 and DT[i][j] < DT[i][k]:
                    vals.append(math.log1p(math.exp(-(DS[i][k] - DS[i][j]) / (tau * m))))
    return sum(vals) / len(vals)


def test_pc_loss_pairwise_against_triple_loop(seeded):
    g = seeded(21)
    s, t = _randn(g, 7, 3), _randn(g, 7, 4)
    for tau in (0.1, 0.5):
        assert float(pc_loss(s, t, tau=tau, kind="pairwise")) == pytest.approx(_ref_pairwise(s, t, tau), abs=1e-12)
    # softrank against its definition from the ranks
    keep = ~torch.eye(7, dtype=torch.bool)
    want = ((soft_ranks(pairwise_dist(s), 0.2) - _ref_hard_ranks(pairwise_dist(t))) ** 2)[keep].mean()
    assert float(pc_loss(s, t, tau=0.2)) == pytest.approx(float(want), abs=1e-14)


def test_pc_loss_gradients(seeded):
    g = seeded(22)
    s, t = _randn(g, 6, 3).requires_grad_(True), _randn(g, 6, 4)
    # both kinds scale by the detached anchor means of D^S: compare autograd with finite differences at a frozen scale
    keep = ~torch.eye(6, dtype=torch.bool)
    m0 = ((pairwise_dist(s) * keep).sum(1) / 5).detach()
    RT = _ref_hard_ranks(pairwise_dist(t))
    refs = {
        "softrank": lambda x: float(((_ref_soft_ranks(pairwise_dist(x), 0.3, m0) - RT) ** 2)[keep].mean()),
        "pairwise": lambda x: _ref_pairwise(x, t, 0.3, m0),
    }
    for kind, ref in refs.items():
        assert float(pc_loss(s.detach(), t, tau=0.3, kind=kind)) == pytest.approx(ref(s.detach()), abs=1e-14)
        (grad,) = torch.autograd.grad(pc_loss(s, t, tau=0.3, kind=kind), s)
        assert torch.allclose(grad, _central_grad(ref, s.detach()), rtol=0, atol=1e-8)
    t = t.clone().requires_grad_(True)
    for kind in ("softrank", "pairwise"):
        s.grad = None
        pc_loss(s, t, kind=kind).backward()
        assert s.grad is not None and float(s.grad.abs().sum()) > 0
        assert t.grad is None or torch.all(t.grad == 0)


def test_pc_loss_errors(seeded):
    s = _randn(seeded(23), 8, 3)
    with pytest.raises(ValueError, match=r"^kind:"):
        pc_loss(s, s, kind="listwise")
    for tau in (0.0, -1.0):
        with pytest.raises(ValueError, match=r"^tau:"):
            pc_loss(s, s, tau=tau)
    with pytest.raises(ValueError, match=r"^s, t:"):
        pc_loss(s, s[:5])


# ------------------------------------------------------------------------------------------------------------------
# baselines
# ------------------------------------------------------------------------------------------------------------------
def _smooth_l1(x):
    a = x.abs()
    return torch.where(a < 1, 0.5 * x * x, a - 0.5).mean()


def test_kd_loss_formula(seeded):
    g = seeded(30)
    zs, zt = 3 * _randn(g, 9, 5), 3 * _randn(g, 9, 5)
    for T in (1.0, 4.0):
        ps, pt = torch.softmax(zs / T, 1), torch.softmax(zt / T, 1)
        want = (pt * (pt.log() - ps.log())).sum(1).mean() * T * T
        assert float(kd_loss(zs, zt, T=T)) == pytest.approx(float(want), abs=1e-10)
    assert float(kd_loss(zt, zt)) == pytest.approx(0.0, abs=1e-12)
    assert float(kd_loss(zt + 2.0, zt)) == pytest.approx(0.0, abs=1e-12)         # softmax ignores a shift
    with pytest.raises(ValueError, match=r"^T:"):
        kd_loss(zs, zt, T=0.0)


def test_fitnet_loss_formula(seeded):
    g = seeded(31)
    torch.manual_seed(0)
    s, t = _randn(g, 8, 3), _randn(g, 8, 5)
    reg = nn.Linear(3, 5).double().requires_grad_(False)
    want = ((s @ reg.weight.T + reg.bias - t) ** 2).mean()
    assert float(fitnet_loss(s, t, reg)) == pytest.approx(float(want), abs=1e-10)
    assert float(fitnet_loss(t, t, nn.Identity())) == 0.0


def _ref_rkd_angle(z):
    B = z.shape[0]
    vals = []
    for j in range(B):                                   # anchor
        e = [torch.zeros_like(z[0]) if i == j else (z[i] - z[j]) / (z[i] - z[j]).norm() for i in range(B)]
        for i in range(B):
            for k in range(B):
                vals.append(e[i] @ e[k])                 # 0 when i or k is the anchor (RepDistiller's normalize of 0)
    return torch.stack(vals)


def test_rkd_loss_formula(seeded):
    g = seeded(32)
    s, t = _randn(g, 6, 3), _randn(g, 6, 4)

    def ndist(z):
        d = torch.stack([torch.stack([(a - b).norm() for b in z]) for a in z])
        return d / d[d > 0].mean()

    dist_term = _smooth_l1(ndist(s) - ndist(t))
    angle_term = _smooth_l1(_ref_rkd_angle(s) - _ref_rkd_angle(t))
    assert float(rkd_loss(s, t, w_d=1, w_a=0)) == pytest.approx(float(dist_term), abs=1e-10)
    assert float(rkd_loss(s, t, w_d=0, w_a=1)) == pytest.approx(float(angle_term), abs=1e-10)
    assert float(rkd_loss(s, t)) == pytest.approx(float(25 * dist_term + 50 * angle_term), abs=1e-9)
    assert float(angle_term) > 0 and float(dist_term) > 0
    # the distance term ignores the scale of s, the angle term also any isometry and translation
    assert float(rkd_loss(7 * s, t, w_d=1, w_a=0)) == pytest.approx(float(dist_term), abs=1e-10)
    assert float(rkd_loss(3 * s @ _orthogonal(g, 3) + 1, t)) == pytest.approx(float(rkd_loss(s, t)), abs=1e-9)


def test_pkt_loss_formula(seeded):
    g = seeded(33)
    s, t = _randn(g, 7, 3), _randn(g, 7, 5)
    eps = 1e-7

    def probs(z):
        sim = torch.tensor([[float(a @ b) / (float(a.norm()) * float(b.norm())) for b in z] for a in z], dtype=F64)
        sim = (sim + 1) / 2
        return sim / sim.sum(1, keepdim=True)

    ps, pt = probs(s), probs(t)
    want = (pt * torch.log((pt + eps) / (ps + eps))).mean()
    assert float(pkt_loss(s, t)) == pytest.approx(float(want), abs=1e-10)
    assert float(pkt_loss(s, t)) > 0


def test_sp_loss_formula(seeded):
    g = seeded(34)
    s, t = _randn(g, 7, 3), _randn(g, 7, 5)

    def gram(z):
        G = z @ z.T
        return G / G.norm(dim=1, keepdim=True)

    want = ((gram(s) - gram(t)) ** 2).sum() / 49
    assert float(sp_loss(s, t)) == pytest.approx(float(want), abs=1e-10)
    assert float(sp_loss(2 * s, t)) == pytest.approx(float(want), abs=1e-10)       # row normalisation: scale-free


def test_kd_loss_names_its_arguments(seeded):
    z = _randn(seeded(36), 4, 3)
    with pytest.raises(ValueError, match=r"^logits_s:"):
        kd_loss(z[0], z)


@pytest.mark.parametrize("name", ["kd", "fitnet", "rkd", "pkt", "sp"])
def test_baselines_vanish_on_identical_features_no_teacher_gradient_and_check_batch(seeded, name):
    g = seeded(35)
    t = _randn(g, 8, 4)
    fns = {
        "kd": kd_loss,
        "fitnet": lambda a, b: fitnet_loss(a, b, nn.Identity()),
        "rkd": rkd_loss,
        "pkt": pkt_loss,
        "sp": sp_loss,
    }
    fn = fns[name]
    assert abs(float(fn(t.clone(), t))) < 1e-12
    s = _randn(g, 8, 4).requires_grad_(True)
    tt = t.clone().requires_grad_(True)
    loss = fn(s, tt)
    assert float(loss.detach()) > 0
    loss.backward()
    assert s.grad is not None and float(s.grad.abs().sum()) > 0
    assert tt.grad is None or torch.all(tt.grad == 0)
    with pytest.raises(ValueError, match=r"^logits_s, logits_t:" if name == "kd" else r"^s, t:"):
        fn(s.detach()[:7], t)


# ------------------------------------------------------------------------------------------------------------------
# probes
# ------------------------------------------------------------------------------------------------------------------
def _blobs(g, n, centers, scale):
    y = torch.randint(0, len(centers), (n,), generator=g)
    return centers[y] + scale * _randn(g, n, centers.shape[1]), y


def test_knn_accuracy(seeded):
    g = seeded(40)
    centers = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 1.7]], dtype=F64)
    Xtr, ytr = _blobs(g, 90, centers, 0.9)
    Xte, yte = _blobs(g, 60, centers, 0.9)
    assert knn_accuracy(Xtr, ytr, Xtr, ytr, k=1) == 1.0
    neighbors = pytest.importorskip("sklearn.neighbors")
    D = torch.cdist(Xte, Xtr).sort(1).values
    assert float((D[:, 5] - D[:, 4]).min()) > 1e-9                      # no tie at the k-th neighbour
    for k in (1, 5):
        clf = neighbors.KNeighborsClassifier(n_neighbors=k).fit(Xtr.numpy(), ytr.numpy())
        want = float(clf.score(Xte.numpy(), yte.numpy()))
        assert knn_accuracy(Xtr, ytr, Xte, yte, k=k) == pytest.approx(want, abs=1e-15)
    acc = knn_accuracy(Xtr, ytr, Xte, yte)
    assert 0.4 < acc < 1                                                    # overlapping blobs: a real test
    with pytest.raises(ValueError, match=r"^k:"):
        knn_accuracy(Xtr, ytr, Xte, yte, k=91)
    with pytest.raises((ValueError, TypeError), match=r"^k:"):
        knn_accuracy(Xtr, ytr, Xte, yte, k=0)


def test_linear_probe(seeded):
    g = seeded(41)
    X = _randn(g, 200, 5)
    w = _randn(g, 5)
    y = (X @ w > 0).long()
    margin = (X @ w).abs() > 0.05 * float(w.norm())                     # keep a margin: separable
    X, y = X[margin], y[margin]
    n = len(y) // 2
    assert linear_probe(X[:n], y[:n], X[:n], y[:n], max_iter=500) == 1.0
    assert linear_probe(X[:n], y[:n], X[n:], y[n:], max_iter=500) > 0.9
    y_rand = torch.randint(0, 2, (len(y) - n,), generator=g)
    assert linear_probe(X[:n], y[:n], X[n:], y_rand) < 0.8
    with pytest.raises(ValueError, match=r"^F_test:"):
        linear_probe(X[:n], y[:n], X[n:, :3], y[n:])
    with pytest.raises(ValueError, match=r"^F_test:"):
        knn_accuracy(X[:n], y[:n], X[n:, :3], y[n:])


def test_pairwise_loss_is_finite_for_a_constant_teacher(seeded):
    s = _randn(seeded(40), 10, 3).requires_grad_(True)
    loss = pc_loss(s, torch.ones(10, 3, dtype=F64), kind="pairwise")
    loss.backward()
    assert float(loss) == 0.0 and torch.isfinite(s.grad).all()
