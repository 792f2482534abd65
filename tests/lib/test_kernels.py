"""harmonia.kernels: the kernels against their closed forms (Matérn 1/2, 3/2, 5/2, 7/2), scikit-learn and Monte-Carlo
network averages, symmetry and positive semi-definiteness; the stable kernel distance against the three-term formula
and its small-r series; the closed-form Lipschitz constants against the pair search, autograd Gamma(x) and the
two-layer network integral; gradchecks; the Bochner samplers (characteristic functions, second moments, the gamma
sampler); random feature maps (Jacobians against autograd, isometry at large width, fourier_pair constancy); the
exact 2-D ReLU constant against a naive per-arc recomputation and angle grids; the random-phase phenomenon; the
mean-value bound on finite slopes; the RKHS certificate; argument checks and dtype propagation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from harmonia.config import make_generator
from harmonia.kernels import (
    FEATURE_KINDS,
    KERNELS,
    STATIONARY,
    RandomFeatures,
    arccos1,
    arcsin_erf,
    closed_form_lip,
    gaussian,
    gaussian_net_AB,
    gaussian_net_lip,
    kernel,
    kernel_distance,
    kernel_gram,
    laplace,
    lip_on_points,
    lip_relu_2d,
    lip_second_moment,
    matern,
    pair_search,
    rational_quadratic,
    rkhs_lip_bound,
    sample_gamma,
    sample_spectral,
)

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
SQ2 = math.sqrt(2.0)


def _randn(g, *shape):
    return torch.randn(*shape, generator=g, dtype=F64)


def _naive_dist(name, x, y, **p):
    k = KERNELS[name]
    return torch.sqrt((k(x, x, **p) + k(y, y, **p) - 2 * k(x, y, **p)).clamp_min(0))


# every kernel with a few parameter sets (matern nu=3.7: the scipy path)
CASES = [
    ("gaussian", {"ell": 0.7}),
    ("laplace", {"ell": 0.7}),
    ("laplace", {"ell": 1.3, "norm": 1}),
    ("matern", {"nu": 0.5, "ell": 0.9}),
    ("matern", {"nu": 1.5, "ell": 0.8}),
    ("matern", {"nu": 2.5, "ell": 1.2}),
    ("matern", {"nu": 3.7, "ell": 0.6}),
    ("matern", {"nu": math.inf, "ell": 0.8}),
    ("rational_quadratic", {"alpha": 0.5, "ell": 1.3}),
    ("arccos1", {}),
    ("arccos1", {"s_w": 1.3, "s_b": 0.7}),
    ("arcsin_erf", {}),
    ("arcsin_erf", {"s_w": 1.1, "s_b": 0.5}),
]
CASE_IDS = [f"{n}-{'-'.join(f'{k}{v}' for k, v in p.items())}" for n, p in CASES]


# ------------------------------------------------------------------------------------------------------------------
# 1. kernels
# ------------------------------------------------------------------------------------------------------------------
def test_matern_half_integer_closed_forms():
    g = make_generator(0)
    x, y = _randn(g, 60, 3), _randn(g, 60, 3)
    r = torch.linalg.vector_norm(x - y, dim=-1)
    for ell in (0.5, 1.0, 2.3):
        torch.testing.assert_close(matern(x, y, nu=0.5, ell=ell), torch.exp(-r / ell), rtol=1e-13, atol=0)
        a = math.sqrt(3) * r / ell
        torch.testing.assert_close(matern(x, y, nu=1.5, ell=ell), (1 + a) * torch.exp(-a), rtol=1e-13, atol=0)
        a = math.sqrt(5) * r / ell
        torch.testing.assert_close(matern(x, y, nu=2.5, ell=ell), (1 + a + a * a / 3) * torch.exp(-a),
                                   rtol=1e-13, atol=0)
        # nu = 7/2 is not one of the hard-coded forms, so it goes through scipy's K_nu: compare with the
        # half-integer formula exp(-a) (1 + a + 2 a^2 / 5 + a^3 / 15), a = sqrt(7) r / ell
        a = math.sqrt(7) * r / ell
        torch.testing.assert_close(matern(x, y, nu=3.5, ell=ell),
                                   (1 + a + 2 * a * a / 5 + a ** 3 / 15) * torch.exp(-a), rtol=1e-10, atol=1e-14)


def test_matern_general_nu_continuity_and_limits():
    g = make_generator(1)
    x, y = _randn(g, 40, 2), _randn(g, 40, 2)
    torch.testing.assert_close(matern(x, y, nu=0.5 + 1e-9), matern(x, y, nu=0.5), rtol=1e-6, atol=1e-12)
    torch.testing.assert_close(matern(x, y, nu=1.5000001), matern(x, y, nu=1.5), rtol=1e-5, atol=1e-12)
    torch.testing.assert_close(matern(x, y, nu=2.5 - 1e-8, ell=0.7), matern(x, y, nu=2.5, ell=0.7),
                               rtol=1e-6, atol=1e-12)
    torch.testing.assert_close(matern(x, y, nu=math.inf, ell=0.8), gaussian(x, y, ell=0.8), rtol=1e-14, atol=0)
    # the general path at x = y gives 1
    assert torch.all(matern(x, x, nu=3.7) == 1)


def test_matern_general_nu_large_nu_and_small_r():
    r = torch.logspace(-10, 0.5, 22, dtype=F64)
    x = torch.stack([r, torch.zeros_like(r)], -1)
    for nu in (30.5, 50.5, 200.0):
        k = matern(x, torch.zeros_like(x), nu=nu)
        assert torch.all((k >= 0) & (k <= 1))
        assert torch.all(k[1:] <= k[:-1])                 # psi decreases with r
        assert torch.all(k[r <= 1e-3] > 0.99)
    # large nu approaches the Gaussian kernel (the gap is O(1/nu))
    g = make_generator(1)
    x, y = _randn(g, 40, 2), _randn(g, 40, 2)
    torch.testing.assert_close(matern(x, y, nu=400.0), gaussian(x, y), rtol=0, atol=2e-3)


def test_kernels_against_sklearn():
    kernels_mod = pytest.importorskip("sklearn.gaussian_process.kernels")
    g = make_generator(2)
    X, Y = _randn(g, 12, 3), _randn(g, 9, 3)
    Xn, Yn = X.numpy(), Y.numpy()
    xb, yb = X[:, None, :], Y[None, :, :]
    for nu, ell in ((3.7, 0.8), (0.9, 1.4), (1.5, 1.1), (2.5, 0.6)):
        ref = kernels_mod.Matern(length_scale=ell, nu=nu)(Xn, Yn)
        np.testing.assert_allclose(matern(xb, yb, nu=nu, ell=ell).numpy(), ref, rtol=1e-9, atol=1e-14)
    for ell in (0.5, 2.0):
        ref = kernels_mod.RBF(length_scale=ell)(Xn, Yn)
        np.testing.assert_allclose(gaussian(xb, yb, ell=ell).numpy(), ref, rtol=1e-12, atol=1e-300)
    for alpha, ell in ((0.3, 0.7), (2.0, 1.5)):
        ref = kernels_mod.RationalQuadratic(length_scale=ell, alpha=alpha)(Xn, Yn)
        np.testing.assert_allclose(rational_quadratic(xb, yb, alpha=alpha, ell=ell).numpy(), ref, rtol=1e-12)


def test_laplace_forms():
    g = make_generator(3)
    x, y = _randn(g, 50, 4), _randn(g, 50, 4)
    ell = 0.8
    prod = torch.prod(torch.exp(-(x - y).abs() / ell), dim=-1)
    torch.testing.assert_close(laplace(x, y, ell=ell, norm=1), prod, rtol=1e-12, atol=0)
    r = torch.linalg.vector_norm(x - y, dim=-1)
    torch.testing.assert_close(laplace(x, y, ell=ell), torch.exp(-r / ell), rtol=1e-13, atol=0)
    torch.testing.assert_close(laplace(x, y, ell=ell), matern(x, y, nu=0.5, ell=ell), rtol=1e-13, atol=0)


@pytest.mark.parametrize(("name", "p"), CASES, ids=CASE_IDS)
def test_symmetry_diagonal_and_psd(name, p):
    g = make_generator(4)
    X = _randn(g, 30, 3)
    K = kernel(name, X[:, None, :], X[None, :, :], **p)
    assert K.shape == (30, 30)
    torch.testing.assert_close(K, K.T, rtol=1e-13, atol=1e-15)
    if name in STATIONARY:
        assert torch.all(torch.diagonal(K) == 1)
    assert torch.linalg.eigvalsh(K).min() > -1e-10


@pytest.mark.parametrize(("name", "p"), CASES, ids=CASE_IDS)
def test_broadcasting(name, p):
    g = make_generator(5)
    x, y = _randn(g, 5, 1, 3), _randn(g, 1, 4, 3)
    K = kernel(name, x, y, **p)
    assert K.shape == (5, 4)
    for i in range(5):
        for j in range(4):
            torch.testing.assert_close(K[i, j], kernel(name, x[i, 0], y[0, j], **p), rtol=1e-12, atol=1e-15)
    assert kernel_distance(name, x, y, **p).shape == (5, 4)


def _aug(x, s_w, s_b):
    return torch.cat([s_w * x, torch.full_like(x[..., :1], s_b)], -1)


# pairs with a substantial kernel value (so that 1 % relative is meaningful), d = 3
_MC_X = torch.tensor([[0.5, -0.3, 0.8], [1.2, 0.4, -0.5], [-0.7, 0.9, 0.2], [0.3, 0.3, 0.3]], dtype=F64)
_MC_Y = torch.tensor([[0.9, 0.2, 0.1], [0.8, -0.6, 0.3], [-0.2, 1.1, -0.6], [0.3, 0.3, 0.3]], dtype=F64)


@pytest.mark.parametrize(("s_w", "s_b"), [(1.0, 0.0), (1.3, 0.7)])
def test_arccos1_diagonal_and_monte_carlo(s_w, s_b):
    g = make_generator(6)
    x = _randn(g, 20, 3)
    diag = arccos1(x, x, s_w=s_w, s_b=s_b)
    torch.testing.assert_close(diag, (_aug(x, s_w, s_b) ** 2).sum(-1) / 2, rtol=1e-13, atol=0)
    n = 400_000
    gm = make_generator(7)
    w, b = s_w * _randn(gm, n, 3), s_b * _randn(gm, n)
    fx, fy = torch.relu(_MC_X @ w.T + b), torch.relu(_MC_Y @ w.T + b)
    mc = (fx * fy).mean(-1)
    torch.testing.assert_close(arccos1(_MC_X, _MC_Y, s_w=s_w, s_b=s_b), mc, rtol=1e-2, atol=0)


@pytest.mark.parametrize(("s_w", "s_b"), [(1.0, 0.0), (1.3, 0.7)])
def test_arcsin_erf_monte_carlo(s_w, s_b):
    n = 400_000
    gm = make_generator(8)
    w, b = s_w * _randn(gm, n, 3), s_b * _randn(gm, n)
    fx, fy = torch.erf(_MC_X @ w.T + b), torch.erf(_MC_Y @ w.T + b)
    mc = (fx * fy).mean(-1)
    torch.testing.assert_close(arcsin_erf(_MC_X, _MC_Y, s_w=s_w, s_b=s_b), mc, rtol=1e-2, atol=0)
    # the diagonal: (2/pi) asin(2|x~|^2 / (1 + 2|x~|^2))
    t2 = (_aug(_MC_X, s_w, s_b) ** 2).sum(-1)
    torch.testing.assert_close(arcsin_erf(_MC_X, _MC_X, s_w=s_w, s_b=s_b),
                               2 / math.pi * torch.asin(2 * t2 / (1 + 2 * t2)), rtol=1e-13, atol=0)


# ------------------------------------------------------------------------------------------------------------------
# 2. kernel distance
# ------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "p"), CASES, ids=CASE_IDS)
def test_kernel_distance_three_term(name, p):
    g = make_generator(9)
    x, y = _randn(g, 40, 3), _randn(g, 40, 3)
    y = x + 0.5 * y        # moderate separations, |x - y| ~ 0.2 .. 2
    torch.testing.assert_close(kernel_distance(name, x, y, **p), _naive_dist(name, x, y, **p), rtol=1e-10, atol=0)
    assert torch.all(kernel_distance(name, x, x, **p) == 0)


SERIES = [  # d_k at small r, to first order
    ("gaussian", {"ell": 0.7}, lambda r: r / 0.7),
    ("matern", {"nu": math.inf, "ell": 0.7}, lambda r: r / 0.7),
    ("rational_quadratic", {"alpha": 0.3, "ell": 0.7}, lambda r: r / 0.7),
    ("rational_quadratic", {"alpha": 2.0, "ell": 1.5}, lambda r: r / 1.5),
    ("matern", {"nu": 1.5, "ell": 0.7}, lambda r: math.sqrt(3) * r / 0.7),
    ("matern", {"nu": 2.5, "ell": 0.7}, lambda r: math.sqrt(5 / 3) * r / 0.7),
    ("matern", {"nu": 0.5, "ell": 0.7}, lambda r: math.sqrt(2 * r / 0.7)),
    ("laplace", {"ell": 0.7}, lambda r: math.sqrt(2 * r / 0.7)),
]


@pytest.mark.parametrize(("name", "p", "series"), SERIES, ids=[f"{n}-{p}" for n, p, _ in SERIES])
def test_kernel_distance_small_r_series(name, p, series):
    r = 1e-7
    x = torch.tensor([[0.3, -1.1]], dtype=F64)
    y = x + r * torch.tensor([[0.6, 0.8]], dtype=F64)
    r = float(torch.linalg.vector_norm(y - x))
    want = series(r)
    got = float(kernel_distance(name, x, y, **p))
    assert got == pytest.approx(want, rel=1e-6)
    if name != "laplace" and p.get("nu") != 0.5:
        # the smooth kernels: d_k^2 ~ r^2 ~ 1e-14 is lost in the naive three-term sum
        naive = float(_naive_dist(name, x, y, **p))
        assert abs(naive / want - 1) > 1e-5


def test_kernel_distance_small_r_laplace_l1():
    x = torch.tensor([0.2, 0.5, -0.4], dtype=F64)
    u = torch.tensor([1e-7, -2e-7, 5e-8], dtype=F64)
    got = float(kernel_distance("laplace", x, x + u, ell=0.9, norm=1))
    assert got == pytest.approx(math.sqrt(2 * float(u.abs().sum()) / 0.9), rel=1e-6)


def test_laplace_is_not_lipschitz():
    r = 1e-4
    x = torch.zeros(2, dtype=F64)
    y = torch.tensor([r, 0.0], dtype=F64)
    slope = float(kernel_distance("laplace", x, y)) / r
    assert slope > 100
    assert slope == pytest.approx(math.sqrt(2 / r), rel=1e-4)


# ------------------------------------------------------------------------------------------------------------------
# 3. closed-form constants against the pair search
# ------------------------------------------------------------------------------------------------------------------
LIP_CASES = [
    ("gaussian", {"ell": 0.5}, 2.0),
    ("gaussian", {"ell": 2.0}, 0.5),
    ("matern", {"nu": 1.5, "ell": 1.0}, math.sqrt(3)),
    ("matern", {"nu": 1.5, "ell": 2.0}, math.sqrt(3) / 2),
    ("matern", {"nu": 2.5, "ell": 1.0}, math.sqrt(5 / 3)),
    ("matern", {"nu": 2.5, "ell": 2.0}, math.sqrt(5 / 3) / 2),
    ("rational_quadratic", {"alpha": 0.3}, 1.0),
    ("rational_quadratic", {"alpha": 2.0, "ell": 0.8}, 1 / 0.8),
    ("arccos1", {"s_w": 1.0, "s_b": 0.0}, 1 / SQ2),
    ("arccos1", {"s_w": 1.3, "s_b": 0.7}, 1.3 / SQ2),
    ("arcsin_erf", {"s_w": 1.0, "s_b": 0.0}, 2 / math.sqrt(math.pi)),
    ("arcsin_erf", {"s_w": 1.2, "s_b": 0.5}, 2 * 1.2 / math.sqrt(math.pi) * 2 ** -0.25),
]


@pytest.mark.parametrize(("name", "p", "want"), LIP_CASES, ids=[f"{n}-{p}" for n, p, _ in LIP_CASES])
def test_closed_form_against_pair_search(name, p, want):
    cf = closed_form_lip(name, **p)
    assert cf == pytest.approx(want, rel=1e-14)
    ps = pair_search(name, 2, 50_000, generator=10, **p)
    assert ps.lip == pytest.approx(cf, rel=5e-3)
    assert ps.lip <= cf * (1 + 1e-6)                       # a lower estimate
    # the reported pair realises the reported slope
    slope = float(kernel_distance(name, ps.x, ps.y, **p) / torch.linalg.vector_norm(ps.x - ps.y))
    assert slope == pytest.approx(ps.lip, rel=1e-9)


def test_pair_search_callable_kernel():
    ps = pair_search(lambda x, y: gaussian(x, y, ell=0.5), 2, 30_000, generator=11)
    assert ps.lip == pytest.approx(2.0, rel=5e-3)
    assert ps.lip <= 2.0 * (1 + 1e-6)


def test_pair_search_laplace_diverges():
    big = pair_search("laplace", 2, 20_000, delta=(1e-2, 1e-2), generator=12).lip
    small = pair_search("laplace", 2, 20_000, delta=(1e-4, 1e-4), generator=12).lip
    assert small > 20
    assert small / big == pytest.approx(10, rel=0.05)          # slope ~ sqrt(2 / delta)
    assert closed_form_lip("laplace") == math.inf


def test_pair_search_matern_nu1_diverges():
    lips = [pair_search("matern", 2, 10_000, delta=(dl, dl), generator=13, nu=1.0).lip
            for dl in (1e-1, 1e-2, 1e-3, 1e-4)]
    assert all(b > a * 1.05 for a, b in zip(lips, lips[1:], strict=False))
    # the slope^2 grows like log(1 / delta): equal steps in log10(delta) give equal increments of lip^2
    inc = np.diff(np.square(lips))
    np.testing.assert_allclose(inc, inc.mean(), rtol=0.1)
    assert closed_form_lip("matern", nu=1.0) == math.inf
    assert closed_form_lip("matern", nu=0.5) == math.inf


# ------------------------------------------------------------------------------------------------------------------
# 4. autograd Gamma(x) and the Gauss-Hermite network integral
# ------------------------------------------------------------------------------------------------------------------
def test_kernel_gram_shift_invariant():
    g = make_generator(14)
    x = 2 * _randn(g, 25, 3)
    eye = torch.eye(3, dtype=F64)
    for ell in (0.5, 1.7):
        G = kernel_gram(lambda a, b, ell=ell: gaussian(a, b, ell=ell), x)
        assert G.shape == (25, 3, 3)
        torch.testing.assert_close(G, eye.expand(25, 3, 3) / ell ** 2, rtol=0, atol=1e-10)
        for alpha in (0.3, 2.0):
            G = kernel_gram(lambda a, b, ell=ell, alpha=alpha: rational_quadratic(a, b, alpha=alpha, ell=ell), x)
            torch.testing.assert_close(G, eye.expand(25, 3, 3) / ell ** 2, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("s_w", "s_b"), [(1.0, 0.0), (1.2, 0.5)])
def test_kernel_gram_arcsin_erf(s_w, s_b):
    def k(a, b):
        return arcsin_erf(a, b, s_w=s_w, s_b=s_b)

    cf = closed_form_lip("arcsin_erf", s_w=s_w, s_b=s_b)
    at0 = math.sqrt(float(torch.linalg.eigvalsh(kernel_gram(k, torch.zeros(2, dtype=F64)))[-1]))
    assert at0 == pytest.approx(cf, rel=1e-12)
    g = make_generator(15)
    x = _randn(g, 500, 2) * torch.logspace(-2, 0.5, 500, dtype=F64)[:, None]
    lips = torch.sqrt(torch.linalg.eigvalsh(kernel_gram(k, x))[..., -1])
    assert torch.all(lips < cf)
    assert float(lips.max()) == pytest.approx(cf, rel=1e-3)       # approached near 0


@pytest.mark.parametrize(("s_w", "s_b"), [(1.0, 0.0), (1.3, 0.0), (1.3, 0.7)])
def test_gaussian_net_lip_relu(s_w, s_b):
    assert gaussian_net_lip("relu", s_w, s_b) == pytest.approx(s_w / SQ2, rel=1e-12)


@pytest.mark.parametrize("s_b", [0.0, 0.3, 1.0])
def test_gaussian_net_lip_erf(s_b):
    for s_w in (1.0, 0.7):
        want = closed_form_lip("arcsin_erf", s_w=s_w, s_b=s_b)
        assert want == pytest.approx(2 * s_w / math.sqrt(math.pi) * (1 + 4 * s_b ** 2) ** -0.25, rel=1e-14)
        assert gaussian_net_lip("erf", s_w, s_b) == pytest.approx(want, rel=1e-9)


def test_gaussian_net_lip_tanh_sigmoid_and_callable():
    assert gaussian_net_lip("tanh", 1.7) == pytest.approx(1.7, rel=1e-12)
    assert gaussian_net_lip("sigmoid", 1.7) == pytest.approx(1.7 / 4, rel=1e-12)
    # an independently written derivative gives the named activation's value
    for s_b in (0.0, 0.5):
        named = gaussian_net_lip("tanh", 1.2, s_b)
        mine = gaussian_net_lip(lambda t: 1 / torch.cosh(t) ** 2, 1.2, s_b)
        assert mine == pytest.approx(named, rel=1e-12)
        named = gaussian_net_lip("erf", 0.8, s_b)
        mine = gaussian_net_lip(lambda t: 2 / math.sqrt(math.pi) * torch.exp(-t * t), 0.8, s_b)
        assert mine == pytest.approx(named, rel=1e-12)


def test_gaussian_net_AB_closed_forms():
    # erf: A = 4/pi (1 + 4 tau^2)^(-1/2), B = 4/pi (1 + 4 tau^2)^(-3/2), from tau = 1e-3 to 1e3
    tau = torch.logspace(-3, 3, 61, dtype=F64)
    A, B = gaussian_net_AB("erf", tau)
    c = 1 + 4 * tau ** 2
    torch.testing.assert_close(A, 4 / math.pi * c ** -0.5, rtol=1e-10, atol=0)
    torch.testing.assert_close(B, 4 / math.pi * c ** -1.5, rtol=1e-10, atol=0)
    A, B = gaussian_net_AB("relu", torch.tensor([0.1, 1.0, 7.0], dtype=F64))
    torch.testing.assert_close(A, torch.full((3,), 0.5, dtype=F64), rtol=0, atol=1e-14)
    torch.testing.assert_close(B, torch.full((3,), 0.5, dtype=F64), rtol=0, atol=1e-14)
    # sin: E[cos^2(tau g)] = (1 + e^{-2 tau^2}) / 2
    tau = torch.linspace(0, 1.5, 7, dtype=F64)
    A, _ = gaussian_net_AB("sin", tau)
    torch.testing.assert_close(A, (1 + torch.exp(-2 * tau ** 2)) / 2, rtol=1e-10, atol=1e-12)


def test_gaussian_net_lip_erf_with_large_bias():
    tau = torch.linspace(0, 2, 41, dtype=F64)
    A, B = gaussian_net_AB("erf", tau)
    c = 1 + 4 * tau ** 2
    torch.testing.assert_close(A, 4 / math.pi * c ** -0.5, rtol=1e-6, atol=0)
    torch.testing.assert_close(B, 4 / math.pi * c ** -1.5, rtol=1e-6, atol=0)
    assert gaussian_net_lip("erf", 1.0, 2.0) == pytest.approx(closed_form_lip("arcsin_erf", s_b=2.0), rel=1e-6)


# ------------------------------------------------------------------------------------------------------------------
# 5. gradients
# ------------------------------------------------------------------------------------------------------------------
def test_gradcheck_kernels():
    g = make_generator(16)
    x = _randn(g, 4, 3).requires_grad_(True)
    y = _randn(g, 4, 3).requires_grad_(True)
    fns = [
        lambda a, b: gaussian(a, b, ell=0.8),
        lambda a, b: rational_quadratic(a, b, alpha=0.7, ell=1.3),
        lambda a, b: matern(a, b, nu=2.5, ell=0.9),
        lambda a, b: arcsin_erf(a, b, s_w=1.1, s_b=0.4),
        lambda a, b: arccos1(a, b, s_w=1.2, s_b=0.3),
        lambda a, b: arccos1(a, b),
    ]
    for f in fns:
        assert torch.autograd.gradcheck(f, (x, y))


def test_gradcheck_features_and_second_moment():
    g = make_generator(17)
    rf = RandomFeatures("erf", 3, 7, s_b=0.5, generator=18)
    x = _randn(g, 4, 3).requires_grad_(True)
    assert torch.autograd.gradcheck(rf.features, (x,))
    W = _randn(g, 9, 3) * torch.tensor([1.0, 2.0, 3.0], dtype=F64)
    M = W.T @ W / 9
    ev = torch.linalg.eigvalsh(M)
    assert float(ev[-1] - ev[-2]) > 0.1                       # distinct top eigenvalue
    assert torch.autograd.gradcheck(lip_second_moment, (W.requires_grad_(True),))


# ------------------------------------------------------------------------------------------------------------------
# 6. spectral samplers
# ------------------------------------------------------------------------------------------------------------------
SPEC_CASES = [
    ("gaussian", {}, "gaussian", {}),
    ("laplace", {}, "laplace", {}),
    ("laplace", {"norm": 1}, "laplace", {"norm": 1}),
    ("matern", {"nu": 0.5}, "matern", {"nu": 0.5}),
    ("matern", {"nu": 1.5}, "matern", {"nu": 1.5}),
    ("matern", {"nu": 2.5}, "matern", {"nu": 2.5}),
    ("matern", {"nu": 3.7}, "matern", {"nu": 3.7}),
    ("rational_quadratic", {"alpha": 0.5}, "rational_quadratic", {"alpha": 0.5}),
    ("rational_quadratic", {"alpha": 2.0}, "rational_quadratic", {"alpha": 2.0}),
]


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize(("kind", "sp", "kname", "kp"), SPEC_CASES, ids=[f"{k}-{p}" for k, p, _, _ in SPEC_CASES])
def test_bochner_characteristic_function(kind, sp, kname, kp, d):
    ell = 0.7
    n = 1_000_000
    w = sample_spectral(kind, n, d, ell=ell, generator=19 + d, **sp)
    assert w.shape == (n, d) and w.dtype == F64
    z = torch.cat([_randn(make_generator(20), 3, d), torch.full((1, d), 0.3, dtype=F64)])
    c = torch.cos(w @ z.T)                                           # (n, 4)
    mean, se = c.mean(0), c.std(0) / math.sqrt(n)
    psi = kernel(kname, z, torch.zeros_like(z), ell=ell, **kp)
    err = (mean - psi).abs()
    assert torch.all(err <= 4 * se), (err / se).tolist()
    assert torch.all(err <= 5e-3)


def test_spectral_second_moments():
    n = 1_000_000
    ell = 0.8
    w = sample_spectral("gaussian", n, 3, ell=ell, generator=21)
    torch.testing.assert_close(w.T @ w / n, torch.eye(3, dtype=F64) / ell ** 2, rtol=0, atol=0.03 / ell ** 2)
    nu = 2.5
    w = sample_spectral("matern", n, 2, ell=ell, nu=nu, generator=22)
    assert float((w[:, 0] ** 2).mean()) == pytest.approx(nu / ((nu - 1) * ell ** 2), rel=0.03)
    for alpha in (0.5, 2.0):
        w = sample_spectral("rational_quadratic", n, 2, ell=ell, alpha=alpha, generator=23)
        assert float((w[:, 0] ** 2).mean()) == pytest.approx(1 / ell ** 2, rel=0.03)
    # nu = inf is the Gaussian law
    torch.testing.assert_close(sample_spectral("matern", 10, 2, nu=math.inf, ell=ell, generator=5),
                               sample_spectral("gaussian", 10, 2, ell=ell, generator=5))


@pytest.mark.parametrize("a", [0.3, 1.0, 4.5])
def test_sample_gamma(a):
    n = 400_000
    x = sample_gamma(a, n, generator=24)
    assert x.shape == (n,) and x.dtype == F64
    assert torch.all(x > 0)
    m = x.mean()
    assert abs(float(m) - a) <= 4 * float(x.std()) / math.sqrt(n)
    dev2 = (x - m) ** 2
    assert abs(float(dev2.mean()) - a) <= 4 * float(dev2.std()) / math.sqrt(n)
    # reproducible, and seed-dependent (the rejection loop refills in rounds, so compare equal n)
    ref = sample_gamma(a, 1000, generator=26)
    torch.testing.assert_close(sample_gamma(a, 1000, generator=26), ref, rtol=0, atol=0)
    torch.testing.assert_close(sample_gamma(a, 1000, generator=make_generator(26)), ref, rtol=0, atol=0)
    assert not torch.equal(sample_gamma(a, 1000, generator=27), ref)
    assert sample_gamma(a, 0, generator=0).shape == (0,)


# ------------------------------------------------------------------------------------------------------------------
# 7. random features
# ------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", FEATURE_KINDS)
def test_random_features_shapes_and_jacobian(kind):
    d, N = 3, 11
    rf = RandomFeatures(kind, d, N, s_b=0.5, generator=26)
    Np = 2 * N if kind == "fourier_pair" else N
    assert rf.width == Np
    g = make_generator(27)
    x = _randn(g, 2, 5, d)
    assert rf.features(x).shape == (2, 5, Np)
    J = rf.jacobian(x)
    assert J.shape == (2, 5, Np, d)
    G = rf.gram_derivative(x)
    assert G.shape == (2, 5, d, d)
    L = rf.local_lip(x)
    assert L.shape == (2, 5)
    assert rf.kernel(x, x).shape == (2, 5)
    torch.testing.assert_close(G, J.transpose(-1, -2) @ J, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(L, torch.linalg.matrix_norm(J, ord=2), rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(rf.kernel(x, x), (rf.features(x) ** 2).sum(-1))
    for p in x.reshape(-1, d)[:4]:
        if kind == "relu":
            assert torch.all((rf.W @ p + rf.b).abs() > 1e-6)        # not on a kink
        Ja = torch.autograd.functional.jacobian(rf.features, p)
        torch.testing.assert_close(rf.jacobian(p), Ja, rtol=1e-12, atol=1e-14)


ISO_CASES = [
    ("fourier_phase", {"spectral": "gaussian", "ell": 0.8}, "gaussian", {"ell": 0.8}),
    ("fourier_pair", {"spectral": "gaussian", "ell": 0.8}, "gaussian", {"ell": 0.8}),
    ("fourier_pair", {"spectral": "matern", "nu": 2.5, "ell": 0.8}, "matern", {"nu": 2.5, "ell": 0.8}),
    ("relu", {"s_w": 1.3, "s_b": 0.7}, "arccos1", {"s_w": 1.3, "s_b": 0.7}),
    ("erf", {"s_w": 1.1, "s_b": 0.5}, "arcsin_erf", {"s_w": 1.1, "s_b": 0.5}),
]


@pytest.mark.parametrize(("kind", "fp", "kname", "kp"), ISO_CASES, ids=[f"{c[0]}-{c[2]}" for c in ISO_CASES])
def test_random_features_isometry(kind, fp, kname, kp):
    rf = RandomFeatures(kind, 2, 500_000, generator=28, **fp)
    x = torch.tensor([[0.3, -0.4], [0.1, 0.2], [-0.5, 0.5]], dtype=F64)
    y = torch.tensor([[0.9, 0.1], [0.15, 0.3], [0.4, -0.3]], dtype=F64)
    emp = ((rf.features(x) - rf.features(y)) ** 2).sum(-1)
    torch.testing.assert_close(emp, kernel_distance(kname, x, y, **kp) ** 2, rtol=0.015, atol=0)
    torch.testing.assert_close(rf.kernel(x, y), kernel(kname, x, y, **kp), rtol=0, atol=0.015)


def test_fourier_pair_local_lip_is_constant():
    rf = RandomFeatures("fourier_pair", 3, 40, spectral="matern", nu=2.5, generator=29)
    x = 3 * _randn(make_generator(30), 10, 3)
    L = rf.local_lip(x)
    want = lip_second_moment(rf.W)
    torch.testing.assert_close(L, want.expand(10), rtol=1e-12, atol=0)
    torch.testing.assert_close(rf.gram_derivative(x), (rf.W.T @ rf.W / 40).expand(10, 3, 3), rtol=1e-12, atol=1e-14)


def test_random_features_given_W_b():
    g = make_generator(31)
    W, b = _randn(g, 6, 2), _randn(g, 6)
    x = _randn(g, 4, 2)
    for kind, act in (("relu", torch.relu), ("erf", torch.erf), ("tanh", torch.tanh)):
        rf = RandomFeatures(kind, 2, 6, W=W, b=b)
        torch.testing.assert_close(rf.W, W, rtol=0, atol=0)
        torch.testing.assert_close(rf.features(x), act(x @ W.T + b) / math.sqrt(6), rtol=1e-14, atol=0)
    rf = RandomFeatures("fourier_phase", 2, 6, W=W, b=b)
    torch.testing.assert_close(rf.features(x), math.sqrt(2 / 6) * torch.cos(x @ W.T + b), rtol=1e-14, atol=0)
    rf = RandomFeatures("fourier_pair", 2, 6, W=W)
    z = x @ W.T
    torch.testing.assert_close(rf.features(x), torch.cat([torch.cos(z), torch.sin(z)], -1) / math.sqrt(6))
    with pytest.raises(ValueError, match=r"^W:"):
        RandomFeatures("relu", 2, 6, W=_randn(g, 6, 3))
    with pytest.raises(ValueError, match=r"^W:"):
        RandomFeatures("relu", 2, 6, W=_randn(g, 5, 2))
    with pytest.raises(ValueError, match=r"^b:"):
        RandomFeatures("relu", 2, 6, W=W, b=_randn(g, 5))


# ------------------------------------------------------------------------------------------------------------------
# 8. exact 2-D ReLU constant
# ------------------------------------------------------------------------------------------------------------------
def _naive_relu_2d(W):
    """Evaluate the local constant at the midpoint of every arc between the sorted events arg(w_i) +- pi/2."""
    N = W.shape[0]
    alpha = torch.atan2(W[:, 1], W[:, 0])
    ev = torch.sort(torch.remainder(torch.cat([alpha - math.pi / 2, alpha + math.pi / 2]), 2 * math.pi)).values
    nxt = torch.cat([ev[1:], ev[:1] + 2 * math.pi])
    mid = (ev + nxt) / 2
    u = torch.stack([torch.cos(mid), torch.sin(mid)], -1)
    rf = RandomFeatures("relu", 2, N, W=W, b=torch.zeros(N, dtype=W.dtype))
    return rf.local_lip(u).max()


def test_lip_relu_2d_against_naive_arcs():
    g = make_generator(32)
    W = _randn(g, 5, 200, 2)
    L = lip_relu_2d(W)
    assert L.shape == (5,)
    for r in range(5):
        torch.testing.assert_close(L[r], _naive_relu_2d(W[r]), rtol=1e-10, atol=0)
        torch.testing.assert_close(lip_relu_2d(W[r]), L[r], rtol=1e-13, atol=0)
    # bounds: a fine angle grid from below, the second moment from above
    phi = torch.linspace(0, 2 * math.pi, 20_001, dtype=F64)[:-1]
    u = torch.stack([torch.cos(phi), torch.sin(phi)], -1)
    for r in range(5):
        rf = RandomFeatures("relu", 2, 200, W=W[r], b=torch.zeros(200, dtype=F64))
        grid = rf.local_lip(u).max()
        assert grid <= L[r] * (1 + 1e-12)
        assert float(L[r] - grid) < 1e-3
    assert torch.all(L <= lip_second_moment(W) * (1 + 1e-12))


def test_lip_relu_2d_large_width():
    W = _randn(make_generator(33), 20, 10_000, 2)
    med = float(lip_relu_2d(W).median())
    assert abs(med - 1 / SQ2) < 0.02
    meds = [float(lip_relu_2d(_randn(make_generator(34), 20, N, 2)).median()) for N in (10, 100, 1000)]
    assert meds[0] > meds[1] > meds[2]


# ------------------------------------------------------------------------------------------------------------------
# 9. the random-phase phenomenon (d = 1)
# ------------------------------------------------------------------------------------------------------------------
def _grid_1d(R, step=1e-3):
    n = round(R / step)
    return (torch.arange(-n, n + 1, dtype=F64) * step)[:, None]     # nested grids: the same floats for every R


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_phase_lip_grows_with_domain(seed):
    rf = RandomFeatures("fourier_phase", 1, 16, generator=seed)
    m2 = float(lip_second_moment(rf.W))
    lips = [float(lip_on_points(rf, _grid_1d(R))) for R in (1, 10, 100, 1000)]
    assert all(b >= a for a, b in zip(lips, lips[1:], strict=False))
    assert all(v <= SQ2 * m2 + 1e-9 for v in lips)
    assert lips[-1] > 1.25 * m2


# ------------------------------------------------------------------------------------------------------------------
# 10. finite slopes against the local constants
# ------------------------------------------------------------------------------------------------------------------
def _pairs_in_square(seed, n=2000):
    g = make_generator(seed)
    x = 2 * torch.rand(n, 2, generator=g, dtype=F64) - 1
    y = 2 * torch.rand(n, 2, generator=g, dtype=F64) - 1
    return x, y


# smooth kinds: (constructor arguments, c such that |d/dz of each slope| <= c |w_i|, i.e. c_N sup |sigma''|)
SMOOTH = [
    ("fourier_phase", {"ell": 0.5}, lambda N: math.sqrt(2 / N)),
    ("erf", {"s_w": 2.0, "s_b": 0.5}, lambda N: 4 / math.sqrt(2 * math.pi) * math.exp(-0.5) / math.sqrt(N)),
    ("tanh", {"s_w": 2.0, "s_b": 0.5}, lambda N: 4 / (3 * math.sqrt(3)) / math.sqrt(N)),
]


@pytest.mark.parametrize(("kind", "kw", "c2"), SMOOTH, ids=[k for k, _, _ in SMOOTH])
def test_finite_slopes_below_sup_local_lip_smooth(kind, kw, c2):
    N = 50
    rf = RandomFeatures(kind, 2, N, generator=35, **kw)
    h = 2 / 400
    t = torch.linspace(-1, 1, 401, dtype=F64)
    sup_grid = float(lip_on_points(rf, torch.cartesian_prod(t, t)))
    # mean value: a slope on a segment of the square is <= the sup of local_lip over the square; the grid misses it
    # by at most |J(x) - J(x')|_op <= c2 sqrt(sum |w_i|^4) |x - x'|, |x - x'| <= h / sqrt(2)
    tol = c2(N) * math.sqrt(float((rf.W.norm(dim=-1) ** 4).sum())) * h / SQ2
    assert tol < 0.05 * sup_grid
    x, y = _pairs_in_square(36)
    slopes = torch.linalg.vector_norm(rf.features(x) - rf.features(y), dim=-1) / torch.linalg.vector_norm(x - y, dim=-1)
    assert float(slopes.max()) <= sup_grid + tol
    assert float(slopes.max()) > 0.5 * sup_grid          # not vacuous


def test_finite_slopes_below_exact_relu_2d():
    W = _randn(make_generator(44), 50, 2)
    rf = RandomFeatures("relu", 2, 50, W=W, b=torch.zeros(50, dtype=F64))
    x, y = _pairs_in_square(45)
    slopes = torch.linalg.vector_norm(rf.features(x) - rf.features(y), dim=-1) / torch.linalg.vector_norm(x - y, dim=-1)
    assert float(slopes.max()) <= float(lip_relu_2d(W)) * (1 + 1e-12)
    assert float(slopes.max()) > 0.8 * float(lip_relu_2d(W))


def test_finite_slopes_below_second_moment_fourier_pair():
    rf = RandomFeatures("fourier_pair", 2, 50, ell=0.5, generator=37)
    x, y = _pairs_in_square(38)
    dx = torch.linalg.vector_norm(x - y, dim=-1)
    slopes = torch.linalg.vector_norm(rf.features(x) - rf.features(y), dim=-1) / dx
    assert float(slopes.max()) <= float(lip_second_moment(rf.W)) * (1 + 1e-12)
    # short pairs get close to it along the top eigenvector
    M = rf.W.T @ rf.W / 50
    v = torch.linalg.eigh(M).eigenvectors[:, -1]
    p = torch.tensor([0.2, -0.1], dtype=F64)
    s = float(torch.linalg.vector_norm(rf.features(p + 1e-6 * v) - rf.features(p)) / 1e-6)
    assert s == pytest.approx(float(lip_second_moment(rf.W)), rel=1e-4)


# ------------------------------------------------------------------------------------------------------------------
# 11. RKHS certificate
# ------------------------------------------------------------------------------------------------------------------
def test_rkhs_lip_bound():
    g = make_generator(39)
    ell = 0.5
    xi = 2 * torch.rand(50, 2, generator=g, dtype=F64) - 1
    alpha = _randn(g, 50)
    K = gaussian(xi[:, None], xi[None, :], ell=ell)
    bound = rkhs_lip_bound(alpha, K, closed_form_lip("gaussian", ell=ell))
    assert bound.ndim == 0
    torch.testing.assert_close(bound, torch.sqrt(alpha @ K @ alpha) / ell)

    def f(z):
        return (gaussian(z[:, None, :], xi[None], ell=ell) * alpha).sum(-1)

    z = (2.4 * torch.rand(2000, 2, generator=g, dtype=F64) - 1.2).requires_grad_(True)
    (grad,) = torch.autograd.grad(f(z).sum(), z)
    gmax = float(torch.linalg.vector_norm(grad, dim=-1).max())
    assert gmax <= float(bound)
    assert gmax > 0.05 * float(bound)                    # not vacuous
    x, y = _pairs_in_square(40)
    with torch.no_grad():
        slopes = (f(x) - f(y)).abs() / torch.linalg.vector_norm(x - y, dim=-1)
    assert float(slopes.max()) <= float(bound)


# ------------------------------------------------------------------------------------------------------------------
# 12. argument checks
# ------------------------------------------------------------------------------------------------------------------
def test_bad_inputs():
    x = torch.zeros(3, 2, dtype=F64)
    with pytest.raises(TypeError, match=r"^x:"):
        gaussian(torch.zeros(3, 2, dtype=torch.long), x)
    with pytest.raises(ValueError, match=r"^y:"):
        gaussian(x, torch.zeros(3, 3, dtype=F64))
    with pytest.raises(ValueError, match=r"^y:"):
        kernel_distance("laplace", x, torch.zeros(3, 3, dtype=F64))
    for bad in (0, -1):
        with pytest.raises(ValueError, match=r"^ell:"):
            gaussian(x, x, ell=bad)
        with pytest.raises(ValueError, match=r"^ell:"):
            kernel_distance("matern", x, x, ell=bad)
        with pytest.raises(ValueError, match=r"^ell:"):
            sample_spectral("gaussian", 3, 2, ell=bad)
    with pytest.raises(ValueError, match=r"^nu:"):
        matern(x, x, nu=-1)
    with pytest.raises(ValueError, match=r"^nu:"):
        kernel_distance("matern", x, x, nu=-1)
    with pytest.raises(ValueError, match=r"^norm:"):
        laplace(x, x, norm=3)
    with pytest.raises(ValueError, match=r"^norm:"):
        kernel_distance("laplace", x, x, norm=3)
    with pytest.raises(ValueError, match=r"^name:"):
        kernel("rbf", x, x)
    with pytest.raises(ValueError, match=r"^name:"):
        kernel_distance("rbf", x, x)
    with pytest.raises(ValueError, match=r"^name:"):
        closed_form_lip("rbf")
    with pytest.raises(ValueError, match=r"^kind:"):
        sample_spectral("cauchy", 3, 2)
    with pytest.raises(ValueError, match=r"^nu:"):
        sample_spectral("matern", 3, 2)
    with pytest.raises(ValueError, match=r"^nu:"):
        RandomFeatures("fourier_pair", 2, 3, spectral="matern")
    with pytest.raises(ValueError, match=r"^alpha:"):
        sample_spectral("rational_quadratic", 3, 2)
    with pytest.raises(ValueError, match=r"^kind:"):
        RandomFeatures("sin", 2, 3)
    with pytest.raises(ValueError, match=r"^N:"):
        RandomFeatures("relu", 2, 0)
    rf = RandomFeatures("relu", 2, 3, generator=0)
    with pytest.raises(ValueError, match=r"^x:"):
        rf.features(torch.zeros(4, 3, dtype=F64))
    with pytest.raises(ValueError, match=r"^delta:"):
        pair_search("gaussian", 2, 10, delta=(1, 1e-4))
    with pytest.raises(ValueError, match=r"^activation:"):
        gaussian_net_AB("swish", torch.ones(2, dtype=F64))
    with pytest.raises(ValueError, match=r"^W:"):
        lip_relu_2d(torch.zeros(5, 3, dtype=F64))
    with pytest.raises(ValueError, match=r"^K:"):
        rkhs_lip_bound(torch.ones(4, dtype=F64), torch.eye(3, dtype=F64), 1.0)
    with pytest.raises(TypeError, match=r"^rf:"):
        lip_on_points(torch.nn.Linear(2, 3), torch.zeros(4, 2, dtype=F64))


# ------------------------------------------------------------------------------------------------------------------
# 13. dtype
# ------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "p"), CASES, ids=CASE_IDS)
def test_float32_in_float32_out(name, p):
    g = make_generator(41)
    x, y = _randn(g, 6, 3), _randn(g, 6, 3)
    k32 = kernel(name, x.float(), y.float(), **p)
    assert k32.dtype == torch.float32
    torch.testing.assert_close(k32, kernel(name, x, y, **p).float(), rtol=1e-4, atol=1e-6)
    d32 = kernel_distance(name, x.float(), y.float(), **p)
    assert d32.dtype == torch.float32
    torch.testing.assert_close(d32, kernel_distance(name, x, y, **p).float(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", FEATURE_KINDS)
def test_random_features_float32(kind):
    rf = RandomFeatures(kind, 3, 8, dtype=torch.float32, generator=42)
    assert rf.W.dtype == torch.float32 and rf.b.dtype == torch.float32
    x = torch.randn(5, 3, generator=make_generator(43))
    for out in (rf.features(x), rf.jacobian(x), rf.gram_derivative(x), rf.local_lip(x), rf.kernel(x, x)):
        assert out.dtype == torch.float32
    with pytest.raises(TypeError, match=r"^x:"):
        rf.features(torch.zeros(5, 3, dtype=torch.long))
