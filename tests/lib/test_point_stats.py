"""Summary statistics and fixed-n samplers of chapter 10 (:mod:`harmonia.pointprocess.stats`,
:mod:`harmonia.pointprocess.samplers`): the structure factor, pair correlation and Ripley's L against their
closed forms for binomial patterns, the structure factor of a perfect lattice (zero below the Bragg ring, Bragg
peak n) and against a direct loop, invariances; H0 persistence against an independent Prim's MST (and ripser
when installed); envelopes; the geometry of the Voronoi-edge Cox, fixed-n cluster and field Cox samplers
(recomputing their first random draws); bad inputs naming the argument."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
import torch

from harmonia.pointprocess import (
    binomial,
    cluster_fixed,
    envelope,
    envelope_coverage,
    field_cox,
    h0_persistence,
    nn_distance,
    pair_correlation,
    perturbed_lattice,
    ripley_k,
    ripley_l,
    structure_factor,
    voronoi_edge_cox,
)

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


@functools.lru_cache(maxsize=None)
def _binomial_patterns(n: int, count: int, first_seed: int) -> tuple[torch.Tensor, ...]:
    return tuple(binomial(n, first_seed + s) for s in range(count))


def _brute_distances(x: torch.Tensor) -> np.ndarray:
    """Periodic distances as the minimum over the 9 translated copies (independent of the mod formula)."""
    p = x.numpy()
    best = np.full((len(p), len(p)), np.inf)
    for a, b in itertools.product((-1, 0, 1), repeat=2):
        best = np.minimum(best, np.linalg.norm(p[:, None, :] - (p[None, :, :] + np.array([a, b])), axis=-1))
    return best


def _s_direct(x: torch.Tensor, m: tuple[int, int]) -> float:
    """|sum_j exp(-2 pi i <m, x_j>)|^2 / n by a plain loop over the points."""
    s = sum(complex(math.cos(2 * math.pi * (m[0] * a + m[1] * b)), -math.sin(2 * math.pi * (m[0] * a + m[1] * b)))
            for a, b in x.tolist())
    return abs(s) ** 2 / len(x)


# ------------------------------------------------------------------------------------- Poisson closed forms
def test_binomial_summaries_match_their_poisson_closed_forms():
    pats = _binomial_patterns(200, 50, 100)
    S = torch.stack([structure_factor(x, m_max=16)[1] for x in pats]).mean(0)
    assert 0.9 <= float(S.mean()) <= 1.1
    assert float((S - 1).abs().max()) < 0.35  # each ring (the smallest ones average only a few m)
    r = torch.linspace(0.05, 0.2, 16, dtype=F64)
    g = torch.stack([pair_correlation(x, r) for x in pats]).mean(0)
    assert float((g - 1).abs().max()) < 0.1
    r = torch.linspace(0.02, 0.2, 19, dtype=F64)
    L = torch.stack([ripley_l(x, r) for x in pats]).mean(0)
    assert float(((L - r) / r).abs().max()) < 0.03


def test_clustered_pattern_has_large_structure_factor_and_pair_correlation():
    x = cluster_fixed(200, 10, 0.03, seed=1)
    _, S = structure_factor(x, m_max=8)
    assert float(S[:3].mean()) > 3  # many points per cluster: S(k) ~ n / parents at small k
    assert float(pair_correlation(x, torch.tensor([0.02], dtype=F64))[0]) > 5


def test_pair_correlation_is_the_box_derivative_of_ripley_k():
    x = binomial(150, seed=2)
    r = torch.linspace(0.03, 0.3, 10, dtype=F64)
    h = 0.02
    g = pair_correlation(x, r, bandwidth=h)
    dk = ripley_k(x, r + h / 2) - ripley_k(x, r - h / 2)
    torch.testing.assert_close(g * 2 * math.pi * r * h, dk, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------------------------------ structure factor
def test_structure_factor_of_a_perfect_lattice_and_bragg_peak():
    side = 8
    x = perturbed_lattice(side, 0.0, seed=3)
    n = side * side
    r, S = structure_factor(x, m_max=side + 2)
    torch.testing.assert_close(r, torch.arange(1, side + 3, dtype=F64))
    assert float(S[: side - 1].abs().max()) < 1e-20 * n  # rings 1..side-1: every |m_i| < side
    assert _s_direct(x, (side, 0)) == pytest.approx(n, rel=1e-12)
    assert _s_direct(x, (0, -side)) == pytest.approx(n, rel=1e-12)
    # ring `side` holds the four Bragg vectors (+-side, 0), (0, +-side) and others with S = 0
    ring = [(a, b) for a in range(-side - 2, side + 3) for b in range(-side - 2, side + 3) if round(math.hypot(a, b)) == side]
    assert float(S[side - 1]) == pytest.approx(4 * n / len(ring), rel=1e-10)


def test_structure_factor_equals_a_direct_loop_and_is_invariant(seeded):
    x = cluster_fixed(40, 5, 0.1, seed=4)
    m_max = 5
    _, S = structure_factor(x, m_max=m_max)
    sums, counts = np.zeros(m_max + 1), np.zeros(m_max + 1)
    for a in range(-m_max, m_max + 1):
        for b in range(-m_max, m_max + 1):
            k = int(round(math.hypot(a, b)))
            if 1 <= k <= m_max:
                sums[k] += _s_direct(x, (a, b))
                counts[k] += 1
    torch.testing.assert_close(S, torch.from_numpy(sums[1:] / counts[1:]), rtol=1e-10, atol=1e-12)
    moved = (x + torch.tensor([0.31, 0.77], dtype=F64)) % 1.0
    torch.testing.assert_close(structure_factor(moved, m_max=m_max)[1], S, rtol=1e-10, atol=1e-12)
    perm = torch.randperm(len(x), generator=seeded(5))
    torch.testing.assert_close(structure_factor(x[perm], m_max=m_max)[1], S, rtol=1e-10, atol=1e-12)


def test_stats_bad_inputs_name_the_argument():
    x = binomial(20, seed=6)
    with pytest.raises(ValueError, match="m_max"):
        structure_factor(x, m_max=0)
    with pytest.raises(ValueError, match="bandwidth"):
        pair_correlation(x, torch.tensor([0.1], dtype=F64), bandwidth=0.0)
    with pytest.raises(ValueError, match="r"):
        pair_correlation(x, torch.tensor([[0.1]], dtype=F64))
    with pytest.raises(ValueError, match="x"):
        h0_persistence(x[:1])


# ------------------------------------------------------------------------------------------- H0 persistence
def _prim(d: np.ndarray) -> np.ndarray:
    """Edge lengths of a minimum spanning tree of the complete graph with weights d (Prim, O(n^2))."""
    n = len(d)
    inside = np.zeros(n, dtype=bool)
    inside[0] = True
    best = d[0].copy()
    edges = []
    for _ in range(n - 1):
        cand = np.where(inside, np.inf, best)
        j = int(np.argmin(cand))
        edges.append(cand[j])
        inside[j] = True
        best = np.minimum(best, d[j])
    return np.sort(np.array(edges))


def test_h0_persistence_is_the_mst_of_periodic_distances():
    x = cluster_fixed(60, 6, 0.08, seed=7)
    deaths = h0_persistence(x)
    assert deaths.shape == (59,) and deaths.dtype == F64
    ref = _prim(_brute_distances(x))
    torch.testing.assert_close(deaths, torch.from_numpy(ref), rtol=1e-12, atol=1e-15)
    assert float(deaths.sum()) == pytest.approx(float(ref.sum()), rel=1e-12)
    nn = nn_distance(x)
    assert float(deaths.min()) == pytest.approx(float(nn.min()), rel=1e-12)
    assert float(nn.max()) <= float(deaths.max()) + 1e-15  # every point joins the tree by an edge >= its NN distance
    assert (deaths[1:] >= deaths[:-1]).all()


def test_h0_persistence_with_coincident_points_has_a_zero_death():
    """Two coincident points merge at distance 0. scipy's ``minimum_spanning_tree`` reads a 0 in a dense matrix as
    'no edge', so without care the zero edge is dropped and replaced by a longer one."""
    x = binomial(30, seed=8)
    dup = torch.cat([x, x[:1]])
    deaths = h0_persistence(dup)
    assert deaths.shape == (30,)
    torch.testing.assert_close(deaths, torch.cat([torch.zeros(1, dtype=F64), h0_persistence(x)]), rtol=1e-12, atol=0)


def test_h0_persistence_agrees_with_ripser():
    ripser = pytest.importorskip("ripser")
    x = binomial(50, seed=9)
    dgm = ripser.ripser(_brute_distances(x), distance_matrix=True, maxdim=0)["dgms"][0]
    finite = np.sort(dgm[np.isfinite(dgm[:, 1]), 1])
    np.testing.assert_allclose(h0_persistence(x).numpy(), finite, rtol=1e-6)  # ripser stores float32


# ---------------------------------------------------------------------------------------------- envelopes
def test_envelope_and_coverage():
    curves = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.5, 3.0], [0.5, 2.0, 2.5]], dtype=F64)
    lo, hi = envelope(curves)
    torch.testing.assert_close(lo, torch.tensor([0.0, 0.5, 2.0], dtype=F64))
    torch.testing.assert_close(hi, torch.tensor([1.0, 2.0, 3.0], dtype=F64))
    assert envelope_coverage(torch.tensor([0.5, 1.0, 2.5], dtype=F64), lo, hi) == 1.0
    assert envelope_coverage(hi, lo, hi) == 1.0 and envelope_coverage(lo, lo, hi) == 1.0  # closed interval
    assert envelope_coverage(torch.tensor([-1.0, 3.0, 4.0], dtype=F64), lo, hi) == 0.0
    assert envelope_coverage(torch.tensor([0.5, 3.0, 2.5], dtype=F64), lo, hi) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="curves"):
        envelope(curves[0])
    with pytest.raises(ValueError, match="curves"):
        envelope(curves[:1])
    with pytest.raises(ValueError, match="lo"):
        envelope_coverage(lo, lo[:2], hi)
    with pytest.raises(ValueError, match="curve"):
        envelope_coverage(curves, lo, hi)


# ------------------------------------------------------------------------------------------------ samplers
def _torus_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs(a[:, None, :] - b[None, :, :])
    d = np.minimum(d, 1 - d)
    return np.linalg.norm(d, axis=-1)


def test_voronoi_edge_cox_points_are_equidistant_to_two_seeds():
    n, seeds, seed = 400, 12, 10
    x = voronoi_edge_cox(n, seeds, seed=seed)
    assert x.shape == (n, 2) and x.dtype == F64 and float(x.min()) >= 0 and float(x.max()) < 1
    centres = torch.rand(seeds, 2, generator=torch.Generator().manual_seed(seed), dtype=F64).numpy()  # its first draw
    d = np.sort(_torus_dist(x.numpy(), centres), axis=1)
    assert np.abs(d[:, 1] - d[:, 0]).max() < 1e-9
    # a binomial pattern is not on the edges (the check above can fail)
    d0 = np.sort(_torus_dist(binomial(n, seed=seed).numpy(), centres), axis=1)
    assert np.median(d0[:, 1] - d0[:, 0]) > 1e-3
    torch.testing.assert_close(voronoi_edge_cox(n, seeds, seed=seed), x, rtol=0, atol=0)


def test_cluster_fixed_points_lie_within_radius_of_a_parent():
    n, parents, radius, seed = 300, 7, 0.05, 11
    x = cluster_fixed(n, parents, radius, seed=seed)
    assert x.shape == (n, 2) and float(x.min()) >= 0 and float(x.max()) < 1
    centres = torch.rand(parents, 2, generator=torch.Generator().manual_seed(seed), dtype=F64).numpy()
    near = _torus_dist(x.numpy(), centres).min(axis=1)
    assert near.max() <= radius + 1e-12
    assert near.max() > 0.8 * radius  # uniform in the disc, not all at the centre


def test_field_cox_follows_the_intensity():
    M, N = 4, 8
    w = torch.zeros(M, N, dtype=F64)
    w[:, N // 2:] = torch.rand(M, N // 2, generator=torch.Generator().manual_seed(12), dtype=F64) + 0.2
    n = 20000
    x = field_cox(w, n, seed=13)
    assert x.shape == (n, 2) and float(x.min()) >= 0 and float(x.max()) < 1
    assert float(x[:, 1].min()) >= 0.5  # the left half has zero intensity
    counts = torch.zeros(M, N, dtype=F64)
    counts.index_put_(((x[:, 0] * M).long(), (x[:, 1] * N).long()), torch.ones(n, dtype=F64), accumulate=True)
    expected = n * w / w.sum()
    pos = expected > 0
    chi2 = float(((counts[pos] - expected[pos]) ** 2 / expected[pos]).sum())
    assert chi2 < 60  # 15 degrees of freedom: p < 1e-6
    # a wrong layout (e.g. the transpose) would put points where the intensity is zero or disagree strongly
    assert float(counts[~pos].sum()) == 0


def test_binomial_shape_range_and_seed():
    x = binomial(100, seed=14)
    assert x.shape == (100, 2) and x.dtype == F64 and float(x.min()) >= 0 and float(x.max()) < 1
    torch.testing.assert_close(binomial(100, seed=14), x, rtol=0, atol=0)
    assert not torch.equal(binomial(100, seed=15), x)


def test_sampler_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="n"):
        binomial(0)
    with pytest.raises(ValueError, match="seeds"):
        voronoi_edge_cox(10, seeds=2)
    with pytest.raises(ValueError, match="n"):
        voronoi_edge_cox(0)
    with pytest.raises(ValueError, match="parents"):
        cluster_fixed(10, 0, 0.1)
    with pytest.raises(ValueError, match="radius"):
        cluster_fixed(10, 2, -0.1)
    with pytest.raises(ValueError, match="intensity"):
        field_cox(-torch.ones(4, 4, dtype=F64), 10)
    with pytest.raises(ValueError, match="intensity"):
        field_cox(torch.zeros(4, 4, dtype=F64), 10)
    with pytest.raises(ValueError, match="intensity"):
        field_cox(torch.ones(16, dtype=F64), 10)
    with pytest.raises(ValueError, match="n"):
        field_cox(torch.ones(4, 4, dtype=F64), 0)
