"""Point processes on the unit torus (chapter 09): the samplers' intensities and second-order behaviour
(Ripley's K and L, envelopes), the laws of the marks (Voronoi areas: sum 1 and Gilbert's variance; NN distance
1/(2 sqrt(lambda))), marks against independent brute-force implementations and their invariances, the
Gaussian renderer (mass, linearity, periodicity, peak, closed form, gradcheck), bad inputs, and the learning
helpers (local features, the local baseline, the scattering pipeline's oracle fixed point and descent)."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from harmonia.pointprocess import (
    SAMPLERS,
    BaselineMarkRegressor,
    ScatteringMarkModel,
    knn_distances,
    local_features,
    matern_cluster,
    matern_hardcore,
    nn_distance,
    periodic_distances,
    perturbed_lattice,
    poisson,
    render_gaussian,
    ripley_k,
    ripley_l,
    sample,
    shot_noise,
    voronoi_areas,
)

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


@functools.lru_cache(maxsize=None)
def _poisson_patterns(intensity: float, n: int, first_seed: int) -> tuple[torch.Tensor, ...]:
    return tuple(poisson(intensity, first_seed + s) for s in range(n))


def _brute_distances(x: torch.Tensor) -> np.ndarray:
    """Periodic distances as the minimum over the 9 translated copies (independent of the mod formula)."""
    p = x.numpy()
    best = np.full((len(p), len(p)), np.inf)
    for a, b in itertools.product((-1, 0, 1), repeat=2):
        d = np.linalg.norm(p[:, None, :] - (p[None, :, :] + np.array([a, b])), axis=-1)
        best = np.minimum(best, d)
    return best


# ----------------------------------------------------------------------------------------------- samplers
def _counts(fn, n=200, first_seed=0):
    return torch.tensor([float(len(fn(first_seed + s))) for s in range(n)], dtype=F64)


def test_poisson_count_mean_and_variance():
    c = _counts(lambda s: poisson(64, s))
    N = len(c)
    assert abs(float(c.mean()) - 64) < 4 * math.sqrt(64 / N)
    # Var of the sample variance of Poisson(l): 2 l^2/(N-1) + l/N
    assert abs(float(c.var()) - 64) < 4 * math.sqrt(2 * 64**2 / (N - 1) + 64 / N)


def test_matern_cluster_count_mean_and_variance():
    kappa, mu = 10.0, 5.0
    c = _counts(lambda s: matern_cluster(kappa, mu, 0.05, s))
    N = len(c)
    var = kappa * mu * (1 + mu)  # compound Poisson: kappa E[Poisson(mu)^2]
    assert abs(float(c.mean()) - kappa * mu) < 4 * math.sqrt(var / N)
    assert float(c.var()) > 2 * kappa * mu  # over-dispersed (Poisson would give var = mean)


def test_matern_hardcore_kept_intensity_and_hard_core():
    lam0, r = 200.0, 0.05
    kept = (1 - math.exp(-lam0 * math.pi * r * r)) / (math.pi * r * r)
    c = _counts(lambda s: matern_hardcore(lam0, r, s))
    assert abs(float(c.mean()) - kept) < 4 * float(c.std()) / math.sqrt(len(c))
    assert float(c.var()) < float(c.mean())  # under-dispersed
    for s in range(5):
        x = matern_hardcore(lam0, r, s)
        d = torch.from_numpy(_brute_distances(x))
        d.fill_diagonal_(float("inf"))
        assert float(d.min()) >= r


def test_perturbed_lattice_exact_count():
    for side in (1, 5, 8):
        assert len(perturbed_lattice(side, 0.01, 0)) == side * side


@pytest.mark.parametrize("process", SAMPLERS)
def test_sample_mean_count_near_intensity(process):
    c = _counts(lambda s: sample(process, 64, s), n=100)
    if process == "lattice":
        assert torch.all(c == 64)
    else:
        se = float(c.std()) / math.sqrt(len(c))
        assert abs(float(c.mean()) - 64) < 4 * se + 1e-9


@pytest.mark.parametrize("process", SAMPLERS)
def test_sampler_coordinates_dtype_and_seeds(process):
    x = sample(process, 64, 3)
    assert x.dtype == F64 and x.ndim == 2 and x.shape[1] == 2
    assert bool(((x >= 0) & (x < 1)).all())
    assert torch.equal(x, sample(process, 64, 3))
    assert torch.equal(x, sample(process, 64, torch.Generator().manual_seed(3)))
    y = sample(process, 64, 4)
    assert x.shape != y.shape or not torch.equal(x, y)


# ------------------------------------------------------------------------------------ Ripley's K and L
RADII = torch.linspace(0.01, 0.25, 25, dtype=F64)


def test_ripley_k_matches_pair_count_and_l_is_sqrt():
    x = poisson(30, 11)
    d = _brute_distances(x)
    n = len(x)
    off = ~np.eye(n, dtype=bool)
    r = torch.tensor([0.0, 0.03, 0.1, 0.2, 0.49], dtype=F64)
    K = ripley_k(x, r)
    expected = [float((d[off] <= float(t)).sum()) / (n * (n - 1)) for t in r]
    assert torch.allclose(K, torch.tensor(expected, dtype=F64), atol=0, rtol=0)
    assert torch.allclose(ripley_l(x, r), torch.sqrt(K / math.pi), atol=1e-15)


def test_ripley_k_poisson_mean_is_pi_r2():
    r = torch.tensor([0.02, 0.05, 0.1], dtype=F64)
    K = torch.stack([ripley_k(x, r) for x in _poisson_patterns(100.0, 100, 1000)])
    mean, se = K.mean(0), K.std(0) / math.sqrt(len(K))
    assert torch.all((mean - math.pi * r**2).abs() < 4 * se)
    assert torch.allclose(mean[1:], math.pi * r[1:] ** 2, rtol=0.03)


def _envelope(patterns):
    K = torch.stack([ripley_k(x, RADII) for x in patterns])
    return torch.quantile(K, 0.025, dim=0), torch.quantile(K, 0.975, dim=0)


def test_ripley_envelope_contains_theory_and_a_poisson_pattern_but_not_others():
    pats = _poisson_patterns(100.0, 100, 2000)
    lo, hi = _envelope(pats[:99])
    theory = math.pi * RADII**2
    assert torch.all((lo <= theory) & (theory <= hi))
    k = ripley_k(pats[99], RADII)
    assert float(((lo <= k) & (k <= hi)).double().mean()) >= 0.8
    # negative controls: a clustered and a repulsive pattern of the same intensity leave it at small r
    small = RADII <= 0.06
    kc = ripley_k(matern_cluster(12.5, 8.0, 0.05, 5), RADII)
    assert bool((kc[small] > hi[small]).all())
    kl = ripley_k(perturbed_lattice(10, 0.01, 5), RADII)
    tight = (RADII <= 0.06) & (lo > 0)
    assert int(tight.sum()) >= 3 and bool((kl[tight] < lo[tight]).all())


def test_ripley_hardcore_and_cluster():
    rh = 0.04
    radii = torch.tensor([0.01, 0.03, 0.0399, 0.045, 0.05], dtype=F64)
    L = torch.stack([ripley_l(matern_hardcore(150.0, rh, s), radii) for s in range(20)]).mean(0)
    assert torch.all(L[:3] == 0)  # no pair closer than r_hc
    assert torch.all(L[3:] < radii[3:])  # repulsive just above the hard core
    R = 0.05
    radii = torch.tensor([R / 2, R, 2 * R], dtype=F64)
    L = torch.stack([ripley_l(matern_cluster(10.0, 8.0, R, s), radii) for s in range(20)]).mean(0)
    assert torch.all(L > 1.2 * radii)


# --------------------------------------------------------------------------------------- Voronoi areas
def test_voronoi_areas_sum_to_one_and_gilbert_variance():
    pooled = []
    for x in _poisson_patterns(64.0, 100, 0):
        a = voronoi_areas(x)
        assert a.dtype == F64 and a.shape == (len(x),)
        assert bool((a > 0).all())
        assert abs(float(a.sum()) - 1) < 1e-9
        pooled.append(len(x) * a)
    v = torch.cat(pooled)
    assert abs(float(v.mean()) - 1) < 1e-9
    assert 0.25 <= float(v.var()) <= 0.30


def test_voronoi_areas_match_nearest_point_pixel_count():
    x = poisson(20, 7)
    G = 512
    g = (torch.arange(G, dtype=F64) + 0.5) / G
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2).numpy()
    _, owner = cKDTree(x.numpy(), boxsize=1.0).query(grid)
    est = np.bincount(owner, minlength=len(x)) / G**2
    assert np.allclose(voronoi_areas(x).numpy(), est, atol=2e-3)


def test_voronoi_areas_equivariant_and_translation_invariant():
    x = poisson(40, 8)
    a = voronoi_areas(x)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    assert torch.allclose(voronoi_areas(x[perm]), a[perm], atol=1e-9)
    shift = torch.tensor([0.37, 0.81], dtype=F64)
    assert torch.allclose(voronoi_areas((x + shift) % 1.0), a, atol=1e-9)


@pytest.mark.parametrize("side", [4, 7])
def test_perfect_lattice_marks(side):
    x = perturbed_lattice(side, 0.0, 1)
    assert torch.allclose(voronoi_areas(x), torch.full((side * side,), 1 / side**2, dtype=F64), atol=1e-12)
    assert torch.allclose(nn_distance(x), torch.full((side * side,), 1 / side, dtype=F64), atol=1e-12)
    assert torch.allclose(knn_distances(x, 4), torch.full((side * side, 4), 1 / side, dtype=F64), atol=1e-12)


# ------------------------------------------------------------------------------------ NN distances
def test_mean_nn_distance_poisson():
    z = torch.tensor([float(nn_distance(x).mean()) * math.sqrt(len(x)) for x in _poisson_patterns(64.0, 100, 0)])
    assert abs(float(z.mean()) - 0.5) < 0.02


def test_nn_and_knn_against_brute_force():
    x = poisson(40, 9)
    d = _brute_distances(x)
    np.fill_diagonal(d, np.inf)
    ds = np.sort(d, axis=1)
    K = 6
    knn = knn_distances(x, K)
    assert knn.dtype == F64 and knn.shape == (len(x), K)
    assert np.allclose(knn.numpy(), ds[:, :K], atol=1e-12)
    assert bool((knn[:, 1:] >= knn[:, :-1]).all())
    nn = nn_distance(x)
    assert torch.equal(nn, knn_distances(x, 1)[:, 0])
    pd = periodic_distances(x)
    pd.fill_diagonal_(float("inf"))
    assert torch.allclose(nn, pd.min(dim=1).values, atol=1e-12)
    assert np.allclose(pd.numpy(), d, atol=1e-12)


# ------------------------------------------------------------------------------------ shot-noise
def test_shot_noise_direct_loop_and_invariances():
    x = poisson(15, 10)
    beta, r0 = 2.5, 0.05
    d = _brute_distances(x)
    direct = [sum(max(d[i, j], r0) ** -beta for j in range(len(x)) if j != i) for i in range(len(x))]
    m = shot_noise(x, beta, r0)
    assert m.dtype == F64
    assert np.allclose(m.numpy(), direct, rtol=1e-12)
    shift = torch.tensor([0.61, 0.29], dtype=F64)
    assert torch.allclose(shot_noise((x + shift) % 1.0, beta, r0), m, rtol=1e-10)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(1))
    assert torch.allclose(shot_noise(x[perm], beta, r0), m[perm], rtol=1e-12)


def test_shot_noise_cutoff_limit():
    """All points within r0 of each other across the torus seam: every term is r0^-beta, m_i = (n-1) r0^-beta."""
    x = torch.tensor([[0.99, 0.5], [0.01, 0.5], [0.995, 0.52], [0.005, 0.49]], dtype=F64)
    assert torch.allclose(shot_noise(x, 3.0, 0.1), torch.full((4,), 3 * 0.1**-3, dtype=F64), rtol=1e-12)


# --------------------------------------------------------------------------------------- rendering
def test_render_mass_linearity_periodicity():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(7, 2, generator=g, dtype=F64)
    w1, w2 = torch.randn(7, generator=g, dtype=F64), torch.randn(7, generator=g, dtype=F64)
    img = render_gaussian(x, 24, 1.3, w1)
    assert img.shape == (24, 24) and img.dtype == F64
    assert abs(float(img.sum()) - float(w1.sum())) < 1e-12
    assert abs(float(render_gaussian(x, 24, 1.3).sum()) - 7) < 1e-12
    assert torch.allclose(render_gaussian(x, 24, 1.3, 2 * w1 - 3 * w2), 2 * img - 3 * render_gaussian(x, 24, 1.3, w2),
                          atol=1e-13)
    assert torch.allclose(render_gaussian(x + 1, 24, 1.3, w1), img, atol=1e-13)
    assert torch.allclose(render_gaussian(x - torch.tensor([2.0, 1.0], dtype=F64), 24, 1.3, w1), img, atol=1e-13)


def test_render_peak_and_closed_form():
    P, sigma = 16, 1.5
    u = (3, 11)
    x = torch.tensor([[u[0] / P, u[1] / P]], dtype=F64)
    img = render_gaussian(x, P, sigma)
    assert tuple(np.unravel_index(int(img.argmax()), img.shape)) == u
    # independent closed form: 2-D sum over 7x7 periodic images, normalised
    grid = np.arange(P)
    v1 = grid[:, None, None, None] - u[0] + P * np.arange(-3, 4)[None, None, :, None]
    v2 = grid[None, :, None, None] - u[1] + P * np.arange(-3, 4)[None, None, None, :]
    ref = np.exp(-(v1**2 + v2**2) / (2 * sigma**2)).sum(axis=(2, 3))
    assert np.allclose(img.numpy(), ref / ref.sum(), atol=1e-14)
    # symmetric about the peak (mirror through u on the torus)
    assert torch.allclose(img, torch.roll(torch.flip(torch.roll(img, (-u[0], -u[1]), (0, 1)), (0, 1)),
                                          (u[0] + 1, u[1] + 1), (0, 1)), atol=1e-15)


def test_render_gradcheck():
    g = torch.Generator().manual_seed(3)
    x = (0.1 + 0.8 * torch.rand(5, 2, generator=g, dtype=F64)).requires_grad_()
    w = torch.rand(5, generator=g, dtype=F64).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, w: render_gaussian(x, 16, 1.0, w), (x, w))


# --------------------------------------------------------------------------------------- bad inputs
def test_bad_inputs_name_the_argument():
    x = poisson(20, 0)
    bad = x.clone()
    bad[0, 0] = 1.0
    for fn in (nn_distance, shot_noise, voronoi_areas, lambda z: knn_distances(z, 2),
               lambda z: ripley_k(z, torch.tensor([0.1], dtype=F64))):
        with pytest.raises(ValueError, match=r"^x:"):
            fn(bad)
        with pytest.raises(ValueError, match=r"^x:"):
            fn(x - 0.5)
    with pytest.raises(ValueError, match=r"^K:"):
        knn_distances(x, len(x))
    with pytest.raises(ValueError, match=r"^process:"):
        sample("ginibre", 64, 0)
    with pytest.raises(ValueError, match=r"^r:"):
        matern_hardcore(50, 0.5, 0)
    with pytest.raises(ValueError, match=r"^radius:"):
        matern_cluster(5, 5, 0.6, 0)
    with pytest.raises(ValueError, match=r"^weights:"):
        render_gaussian(x, 16, 1.0, torch.ones(len(x) + 1, dtype=F64))


# ----------------------------------------------------------------------------------------- learning
def test_local_features_shape_and_content():
    x = poisson(30, 4)
    f = local_features(x, 5)
    assert f.shape == (len(x), 10) and f.dtype == F64
    assert bool((f[:, 1:5] >= f[:, :4]).all())
    assert torch.allclose(f[:, :5], knn_distances(x, 5))
    assert torch.allclose(f[:, 5:], f[:, :5].log())


def test_baseline_predicts_nn_distance():
    train = _poisson_patterns(64.0, 30, 500)
    model = BaselineMarkRegressor(K=3).fit(list(train), [nn_distance(x) for x in train])
    test = _poisson_patterns(64.0, 5, 900)
    y = torch.cat([nn_distance(x) for x in test])
    y_hat = torch.cat([model.predict(x) for x in test])
    r2 = 1 - float((y - y_hat).square().sum() / (y - y.mean()).square().sum())
    assert r2 > 0.99
    with pytest.raises(ValueError, match=r"^marks:"):
        model.fit(list(train), [nn_distance(x) for x in train[:-1]])


@functools.lru_cache(maxsize=None)
def _scattering_model():
    train, val = _poisson_patterns(32.0, 20, 300), _poisson_patterns(32.0, 10, 400)
    model = ScatteringMarkModel(P=32, J=3, L=4, sigma=1.0)
    model.fit(list(train), [nn_distance(x) for x in train], list(val), [nn_distance(x) for x in val])
    return model


def _oracle_loss(model, x, m, target):
    w = 1.0 / model.moment_weights_floor()
    return ((model.log_moments(x, m) - target) * w).square().sum()


def test_scattering_model_fit_and_weights():
    model = _scattering_model()
    D = model.moments.n_moments
    assert D == 1 + 3 * 4 + 3 * 16
    r = model.ridge.residual_std_
    floor = model.moment_weights_floor()
    assert floor.shape == (D,) and bool((floor >= 0.1 * float(r.median())).all())
    assert torch.equal(floor[r >= 0.1 * r.median()], r[r >= 0.1 * r.median()])
    train = _poisson_patterns(32.0, 20, 300)
    assert model.mean_mark == pytest.approx(float(torch.cat([nn_distance(x) for x in train]).mean()), rel=1e-12)
    assert model.predict_moments(poisson(32.0, 5)).shape == (D,)


def test_scattering_oracle_fixed_point_and_descent():
    model = _scattering_model()
    x = poisson(32.0, 999)
    m = nn_distance(x)
    target = model.log_moments(x, m)
    mm = m.clone().requires_grad_()
    loss = _oracle_loss(model, x, mm, target)
    (grad,) = torch.autograd.grad(loss, mm)
    assert float(loss.detach()) == 0.0
    assert float(grad.abs().max()) < 1e-10
    # a perturbed start has a nonzero gradient (the check above is not vacuous)
    mp = (m * 1.1).requires_grad_()
    (gp,) = torch.autograd.grad(_oracle_loss(model, x, mp, target), mp)
    assert float(gp.abs().max()) > 1e-3
    m_fix, _ = model.recover_marks(x, target, m0=m.clone(), steps=10)
    assert float((m_fix - m).abs().max()) < 1e-8
    m_hat, hist = model.recover_marks(x, target, steps=30)
    start = _oracle_loss(model, x, torch.full_like(m, model.mean_mark), target)
    end = _oracle_loss(model, x, m_hat, target)
    assert len(hist) <= 30 and float(end) == pytest.approx(min(hist), rel=1e-8)
    assert float(end) < float(start) / 10
