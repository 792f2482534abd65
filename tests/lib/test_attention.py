"""harmonia.attention: pixel coordinates and the soft rotated rectangle (area identity, boxcar integral, centre value,
symmetries, rotation by a quarter turn, integer shifts, hard limit, gradients), the moments and regression heads,
RectangularAttention, CBAM's gates against hand-written references, the area prior's closure, and the localisation
metrics (hand cases, and rotated IoU against a fine raster)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as Fn

from harmonia.attention import (
    CBAMChannelGate,
    CBAMSpatialGate,
    RectangularAttention,
    area_penalty_closure,
    box_raster,
    boxcar,
    largest_component_fraction,
    map_box_iou,
    mass_in_box,
    normalised_to_pixels,
    params_from_raw,
    params_from_saliency,
    peak_location,
    pixel_spacing,
    pointing_game,
    polygon_area,
    rect_coords,
    rect_frame,
    rect_indicator,
    rect_mask,
    rect_mask_derivative,
    rectangle_polygon,
    rotated_iou,
)
from harmonia.nn import SlotCNN

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64


def _phi(*rows, dtype=F64):
    return torch.tensor(rows, dtype=dtype)


def _random_phi(g, B, c=0.2, s=(0.15, 0.4), dtype=F64):
    """B rectangles with centres in [-c, c]^2, half-sizes in [s0, s1], any angle."""
    u = torch.rand(B, 5, generator=g, dtype=F64)
    phi = torch.stack([(2 * u[:, 0] - 1) * c, (2 * u[:, 1] - 1) * c, s[0] + (s[1] - s[0]) * u[:, 2],
                       s[0] + (s[1] - s[0]) * u[:, 3], (2 * u[:, 4] - 1) * math.pi], 1)
    return phi.to(dtype)


# ----------------------------------------------------------------------------------------------- coordinates


@pytest.mark.parametrize("N", [1, 4, 7])
def test_rect_coords_pixel_centres_on_square_maps(N):
    x, y = rect_coords(N, N, dtype=F64)
    assert x.shape == y.shape == (N, N)
    centres = -1 + (2 * torch.arange(N, dtype=F64) + 1) / N
    assert torch.allclose(x, centres[None, :].expand(N, N), atol=1e-15, rtol=0)    # x grows along columns
    assert torch.allclose(y, centres[:, None].expand(N, N), atol=1e-15, rtol=0)    # y grows along rows (down)
    assert pixel_spacing(N, N) == 2 / N


@pytest.mark.parametrize("H,W", [(4, 8), (8, 4)])
def test_rect_coords_aspect_correction(H, W):
    x, y = rect_coords(H, W, dtype=F64)
    D = pixel_spacing(H, W)
    assert D == 2 / max(H, W)
    # equal spacing on both axes
    assert torch.allclose(x.diff(dim=1), torch.full((H, W - 1), D, dtype=F64), atol=1e-15, rtol=0)
    assert torch.allclose(y.diff(dim=0), torch.full((H - 1, W), D, dtype=F64), atol=1e-15, rtol=0)
    # the longer side spans (-1, 1), the shorter (-short/long, short/long); centred
    for t, n in ((x[0], W), (y[:, 0], H)):
        half = n / max(H, W)
        assert float(t[0]) == pytest.approx(-half + D / 2, abs=1e-15)
        assert float(t[-1]) == pytest.approx(half - D / 2, abs=1e-15)
    if (H, W) == (4, 8):
        assert float(x.min()) > -1 and float(x.max()) < 1 and float(x.max()) > 0.8
        assert float(y.min()) > -0.5 and float(y.max()) < 0.5 and float(y.max()) > 0.3


# ----------------------------------------------------------------------------------------------- the mask


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_rect_mask_shape_range_dtype(dtype, seeded):
    phi = _random_phi(seeded(0), 3, dtype=dtype)
    for H, W in ((9, 9), (5, 11)):
        M = rect_mask(phi, H, W)
        assert M.shape == (3, 1, H, W) and M.dtype == dtype
        assert bool((M >= 0).all()) and bool((M < 1).all())
    # strictly positive where the sigmoid difference does not cancel (moderate kappa, float64)
    M = rect_mask(phi.double(), 9, 9, kappa=5.0)
    assert bool((M > 0).all()) and bool((M < 1).all())


def test_rect_mask_area_identity(seeded):
    H = W = 65
    D = pixel_spacing(H, W)
    phi = _random_phi(seeded(1), 6, c=0.15, s=(0.12, 0.35))
    phi[0, 4] = 0.0                                                     # one axis-aligned rectangle
    phi[1, 4] = math.pi / 5
    assert float(rectangle_polygon(phi).abs().max()) < 0.8             # fully inside, margin >= 0.2 = 6 / kappa
    M = rect_mask(phi, H, W, kappa=30.0)
    area = D * D * M.sum((1, 2, 3))
    exact = 4 * phi[:, 2] * phi[:, 3]
    assert torch.allclose(area, exact, rtol=5e-3, atol=0)


@pytest.mark.parametrize("kappa", [2.0, 5.0, 30.0, 200.0])
@pytest.mark.parametrize("s", [0.1, 0.5, 1.3])
def test_boxcar_integral_is_2s(kappa, s):
    t = torch.linspace(-10, 10, 400_001, dtype=F64)
    g = boxcar(t, torch.tensor(s, dtype=F64), kappa)
    assert float(torch.trapezoid(g, t)) == pytest.approx(2 * s, rel=1e-7)


def test_rect_mask_centre_value():
    N = 15                                                            # odd: pixel 7 sits at 0
    x, y = rect_coords(N, N, dtype=F64)
    i, j = 4, 10
    kappa = 12.0
    for sx, sy, th in ((0.2, 0.35, 0.0), (0.05, 0.1, 0.7), (0.4, 0.08, -2.0)):
        phi = _phi([float(x[i, j]), float(y[i, j]), sx, sy, th])
        M = rect_mask(phi, N, N, kappa=kappa)
        expected = math.tanh(kappa * sx / 2) * math.tanh(kappa * sy / 2)
        assert float(M[0, 0, i, j]) == pytest.approx(expected, abs=1e-14)
        assert int(M[0, 0].argmax()) == i * N + j                     # and it is the maximum


@pytest.mark.parametrize("kind", ["sigmoid_box", "abs_sigmoid", "supergauss"])
def test_rect_mask_symmetries(kind, seeded):
    phi = _random_phi(seeded(2), 4)
    M = rect_mask(phi, 13, 17, kappa=9.0, kind=kind)
    half_turn = phi.clone()
    half_turn[:, 4] += math.pi
    assert torch.allclose(rect_mask(half_turn, 13, 17, kappa=9.0, kind=kind), M, atol=1e-12, rtol=0)
    swapped = phi[:, [0, 1, 3, 2, 4]].clone()
    swapped[:, 4] += math.pi / 2
    assert torch.allclose(rect_mask(swapped, 13, 17, kappa=9.0, kind=kind), M, atol=1e-12, rtol=0)


@pytest.mark.parametrize("N", [10, 11])
def test_rect_mask_quarter_turn(N, seeded):
    """torch.rot90(M, 1, (-2, -1)) maps the new pixel (x', y') to the old (-y', x'): the rectangle
    (c_y, -c_x, s_x, s_y, theta - pi/2)."""
    phi = _random_phi(seeded(3), 5)
    M = rect_mask(phi, N, N, kappa=8.0)
    cx, cy, sx, sy, th = phi.unbind(1)
    turned = torch.stack([cy, -cx, sx, sy, th - math.pi / 2], 1)
    assert torch.allclose(torch.rot90(M, 1, (-2, -1)), rect_mask(turned, N, N, kappa=8.0), atol=1e-12, rtol=0)
    assert torch.allclose(torch.rot90(rect_indicator(phi, N, N), 1, (-2, -1)), rect_indicator(turned, N, N))


@pytest.mark.parametrize("k", [1, 3, -2])
def test_rect_mask_integer_shift_is_a_roll(k, seeded):
    H, W = 12, 20
    D = pixel_spacing(H, W)
    phi = _random_phi(seeded(4), 3, s=(0.1, 0.25))
    shifted = phi.clone()
    shifted[:, 0] += k * D
    M, Ms = rect_mask(phi, H, W, kappa=10.0), rect_mask(shifted, H, W, kappa=10.0)
    rolled = torch.roll(M, k, dims=-1)
    interior = slice(max(k, 0), W + min(k, 0))                        # columns that did not wrap around
    assert torch.allclose(Ms[..., interior], rolled[..., interior], atol=1e-12, rtol=0)
    assert not torch.allclose(Ms, M, atol=1e-3)                       # the shift did move it


def test_rect_mask_hard_limit(seeded):
    H, W = 41, 53
    phi = _random_phi(seeded(5), 4)
    M = rect_mask(phi, H, W, kappa=1e4)
    I = rect_indicator(phi, H, W)
    x, y = rect_coords(H, W, dtype=F64)
    u, v = rect_frame(phi, x, y)
    near = ((u.abs() - phi[:, 2, None, None]).abs() < 1e-3) | ((v.abs() - phi[:, 3, None, None]).abs() < 1e-3)
    far = ~near[:, None]
    assert int(far.sum()) > 0.95 * far.numel()
    assert float((M - I)[far].abs().max()) < 1e-4
    assert float(I.sum()) > 50                                        # the rectangles cover pixels


@pytest.mark.parametrize("kind", ["sigmoid_box", "supergauss"])
def test_rect_mask_gradcheck(kind, seeded):
    phi = _random_phi(seeded(6), 2, c=0.3, s=(0.3, 0.6)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: rect_mask(p, 6, 7, kappa=5.0, kind=kind), (phi,))


def test_rect_mask_bad_inputs():
    good = _phi([0.0, 0.0, 0.3, 0.3, 0.0])
    with pytest.raises(ValueError, match="phi"):
        rect_mask(torch.zeros(2, 4, dtype=F64), 8, 8)
    with pytest.raises(ValueError, match="phi"):
        rect_mask(good[0], 8, 8)                                      # (5,) instead of (B, 5)
    for bad in (0.0, -0.2):
        phi = good.clone()
        phi[0, 3] = bad
        with pytest.raises(ValueError, match="phi"):
            rect_mask(phi, 8, 8)
    with pytest.raises(ValueError, match="kind"):
        rect_mask(good, 8, 8, kind="gaussian")
    for kappa in (0.0, -1.0):
        with pytest.raises(ValueError, match="kappa"):
            rect_mask(good, 8, 8, kappa=kappa)
    with pytest.raises(ValueError, match="phi"):
        rect_indicator(-good, 8, 8)
    with pytest.raises(ValueError, match="phi"):
        rectangle_polygon(-good)


@pytest.mark.parametrize("shape", [(5,), (2, 3, 5)])
def test_rect_indicator_rejects_non_batched_phi(shape):
    phi = torch.full(shape, 0.3, dtype=F64)
    with pytest.raises(ValueError, match="phi"):
        rect_indicator(phi, 8, 8)


def test_rect_mask_angle_direction():
    """theta turns the rectangle's long axis from +x towards +y (downwards): a thin rectangle at theta = pi/6 covers
    (r cos theta, r sin theta), not its mirror image (r cos theta, -r sin theta)."""
    N = 41
    x, y = rect_coords(N, N, dtype=F64)
    th = math.pi / 6
    M = rect_mask(_phi([0.0, 0.0, 0.8, 0.12, th]), N, N, kappa=40.0)[0, 0]
    r = 0.6
    on = ((x - r * math.cos(th)) ** 2 + (y - r * math.sin(th)) ** 2).argmin()
    mirror = ((x - r * math.cos(th)) ** 2 + (y + r * math.sin(th)) ** 2).argmin()
    assert float(M.reshape(-1)[on]) > 0.9 and float(M.reshape(-1)[mirror]) < 1e-5


def test_rect_indicator_matches_polygon(seeded):
    """The hard rectangle on the pixel centres equals a point-in-convex-polygon test against rectangle_polygon."""
    H, W = 23, 31
    phi = _random_phi(seeded(18), 4, c=0.3, s=(0.1, 0.5))
    I = rect_indicator(phi, H, W)[:, 0].bool()
    x, y = rect_coords(H, W, dtype=F64)
    P = rectangle_polygon(phi)                                        # (B, 4, 2), one orientation
    a, b = P, P.roll(-1, dims=1)
    cross = ((b[..., 0] - a[..., 0])[:, :, None, None] * (y - a[..., 1, None, None])
             - (b[..., 1] - a[..., 1])[:, :, None, None] * (x - a[..., 0, None, None]))   # (B, 4, H, W)
    margin = cross.abs().amin(1) > 1e-9                               # skip centres on an edge
    inside = (cross >= 0).all(1) | (cross <= 0).all(1)
    assert torch.equal(I[margin], inside[margin])
    assert int(I.sum()) > 20 and int((~I).sum()) > 20


# ----------------------------------------------------------------------------------------------- corners


def test_rectangle_polygon_corners_on_boundary(seeded):
    phi = _random_phi(seeded(7), 5)
    P = rectangle_polygon(phi)
    assert P.shape == (5, 4, 2)
    for b in range(5):
        u, v = rect_frame(phi[b:b + 1], P[b, :, 0], P[b, :, 1])
        assert torch.allclose(u.abs()[0], phi[b, 2].expand(4), atol=1e-12, rtol=0)
        assert torch.allclose(v.abs()[0], phi[b, 3].expand(4), atol=1e-12, rtol=0)
        assert float(polygon_area(P[b])) == pytest.approx(4 * float(phi[b, 2] * phi[b, 3]), rel=1e-12)
        assert torch.allclose(P[b].mean(0), phi[b, :2], atol=1e-12, rtol=0)


# ----------------------------------------------------------------------------------------------- heads


def test_params_from_saliency_one_hot_centre():
    for H, W, i, j in ((9, 9, 2, 7), (6, 10, 5, 0)):
        x, y = rect_coords(H, W, dtype=F64)
        h = torch.zeros(1, 1, H, W, dtype=F64)
        h[0, 0, i, j] = 50.0
        p = params_from_saliency(h)
        assert p.shape == (1, 5)
        assert float(p[0, 0]) == pytest.approx(float(x[i, j]), abs=1e-6)
        assert float(p[0, 1]) == pytest.approx(float(y[i, j]), abs=1e-6)
        assert float(p[0, 2:4].min()) >= pixel_spacing(H, W)         # s_min floor


@pytest.mark.parametrize("N", [5, 16])
@pytest.mark.parametrize("gamma", [1.0, 0.6])
def test_params_from_saliency_uniform(N, gamma):
    p = params_from_saliency(torch.zeros(2, 1, N, N, dtype=F64), gamma=gamma)
    expected = 2 / N + gamma * math.sqrt(1 - 1 / N**2)
    assert torch.allclose(p[:, :2], torch.zeros(2, 2, dtype=F64), atol=1e-12, rtol=0)
    assert torch.allclose(p[:, 2:4], torch.full((2, 2), expected, dtype=F64), atol=1e-4, rtol=0)
    p = params_from_saliency(torch.zeros(1, 1, N, N, dtype=F64), s_min=0.05)
    assert float(p[0, 2]) == pytest.approx(0.05 + math.sqrt(1 - 1 / N**2), abs=1e-4)


@pytest.mark.parametrize("a,b", [(5, 2), (2, 5), (3, 4), (7, 1)])
def test_params_from_saliency_block(a, b):
    """Uniform weight on a block a columns wide, b rows tall: the variance of a centres spaced Delta is
    Delta^2 (a^2 - 1) / 12, so s = s_min + gamma Delta sqrt((a^2 - 1) / 4), the larger along the longer side."""
    N, gamma = 16, 0.8
    D = pixel_spacing(N, N)
    x, y = rect_coords(N, N, dtype=F64)
    h = torch.zeros(1, 1, N, N, dtype=F64)
    i0, j0 = 4, 6
    h[0, 0, i0:i0 + b, j0:j0 + a] = 50.0
    cx, cy, sx, sy, th = params_from_saliency(h, gamma=gamma)[0].tolist()
    assert cx == pytest.approx(float(x[0, j0:j0 + a].mean()), abs=1e-9)
    assert cy == pytest.approx(float(y[i0:i0 + b, 0].mean()), abs=1e-9)
    s_of = lambda n: D + gamma * D * math.sqrt((n * n - 1) / 4)   # noqa: E731
    assert sx == pytest.approx(s_of(max(a, b)), abs=1e-6)            # major axis
    assert sy == pytest.approx(s_of(min(a, b)), abs=1e-6)
    major = (math.cos(th), math.sin(th))                             # direction of the u axis, i.e. of s_x
    if a > b:
        assert abs(major[0]) == pytest.approx(1, abs=1e-9)             # theta = 0 (mod pi)
    else:
        assert abs(major[1]) == pytest.approx(1, abs=1e-9)             # theta = +-pi/2
    assert -math.pi / 2 < th <= math.pi / 2 + 1e-12


@pytest.mark.parametrize("deg", [30.0, -50.0])
def test_params_from_saliency_rotated_gaussian(deg):
    x, y = rect_coords(32, 32, dtype=F64)
    t = math.radians(deg)
    u = math.cos(t) * x + math.sin(t) * y                            # major axis (cos t, sin t), y pointing down
    v = -math.sin(t) * x + math.cos(t) * y
    h = (-0.5 * (u**2 / 0.3**2 + v**2 / 0.08**2))[None, None]
    p = params_from_saliency(h)
    assert math.degrees(float(p[0, 4])) == pytest.approx(deg, abs=3.0)
    assert float(p[0, 2]) > 2 * float(p[0, 3])
    assert float(p[0, :2].abs().max()) < 1e-3


def test_params_from_saliency_finite_gradients_when_isotropic():
    h = torch.zeros(2, 1, 8, 8, dtype=F64, requires_grad=True)
    params_from_saliency(h).sum().backward()
    assert bool(torch.isfinite(h.grad).all())
    for dtype in (torch.float32, F64):
        h = torch.zeros(1, 1, 6, 6, dtype=dtype, requires_grad=True)
        gamma = torch.ones((), dtype=dtype, requires_grad=True)
        (params_from_saliency(h, gamma) * torch.arange(1.0, 6.0, dtype=dtype)).sum().backward()
        assert bool(torch.isfinite(h.grad).all()) and bool(torch.isfinite(gamma.grad))


def test_params_from_raw_ranges(seeded):
    H, W = 8, 12
    a = 4 * torch.randn(300, 5, generator=seeded(8), dtype=F64)
    p = params_from_raw(a, H, W, s_max=0.7)
    s_min = pixel_spacing(H, W)
    assert bool((p[:, :2].abs() < 1).all())
    assert bool((p[:, 2:4] > s_min).all()) and bool((p[:, 2:4] < 0.7).all())
    assert bool((p[:, 4].abs() < math.pi / 2).all())
    # saturating inputs reach the closed ranges, and zero maps to the middle
    big = params_from_raw(torch.tensor([[1e3, -1e3, 1e3, -1e3, 1e3]], dtype=F64), H, W, s_min=0.1, s_max=0.7)[0]
    assert big.tolist() == pytest.approx([1, -1, 0.7, 0.1, math.pi / 2], abs=1e-12)
    mid = params_from_raw(torch.zeros(1, 5, dtype=F64), H, W, s_min=0.1, s_max=0.7)[0]
    assert mid.tolist() == pytest.approx([0, 0, 0.4, 0.4, 0], abs=1e-15)


def test_params_from_raw_bad_range():
    a = torch.zeros(1, 5, dtype=F64)
    for s_min, s_max in ((0.5, 0.5), (0.8, 0.5), (0.0, 1.0), (-0.1, 1.0)):
        with pytest.raises(ValueError, match="s_min"):
            params_from_raw(a, 8, 8, s_min=s_min, s_max=s_max)
    with pytest.raises(ValueError, match="s_max"):
        params_from_raw(a, 8, 8, s_max=0.1)                           # default s_min = 0.25 > s_max
    with pytest.raises(ValueError, match="a"):
        params_from_raw(torch.zeros(1, 4, dtype=F64), 8, 8)


# ----------------------------------------------------------------------------------------------- modules


def test_rectangular_attention_moments_init(seeded):
    N = 10
    att = RectangularAttention(6).double()
    F = torch.randn(3, 6, N, N, generator=seeded(9), dtype=F64)
    out, aux = att(F)
    assert out.shape == F.shape
    assert set(aux) == {"phi", "mask"}
    assert aux["phi"].shape == (3, 5) and aux["mask"].shape == (3, 1, N, N)
    phi = aux["phi"]
    assert torch.allclose(phi[:, :2], torch.zeros(3, 2, dtype=F64), atol=1e-12, rtol=0)
    assert torch.allclose(phi[:, 2:4], torch.full((3, 2), 2 / N + math.sqrt(1 - 1 / N**2), dtype=F64), atol=1e-4)
    assert torch.allclose(out, F * aux["mask"], atol=1e-15, rtol=0)  # beta = 0
    assert torch.allclose(aux["mask"], rect_mask(phi, N, N), atol=1e-15, rtol=0)


def test_rectangular_attention_identity_limit(seeded):
    att = RectangularAttention(4, head="regress", s_max=2.0, init_size=1.5, kappa=100.0, beta=0.0).double()
    F = torch.randn(2, 4, 8, 8, generator=seeded(10), dtype=F64)
    with torch.no_grad():
        out, aux = att(F)
    assert float((out - F).norm() / F.norm()) < 1e-3
    # (1e-6, not 1e-12: the initial bias is built as a float32 tensor before it is copied into the float64 layer)
    assert torch.allclose(aux["phi"].detach(), _phi([0.0, 0.0, 1.5, 1.5, 0.0]).expand(2, 5), atol=1e-6, rtol=0)


@pytest.mark.parametrize("head", ["moments", "regress"])
def test_rectangular_attention_beta_floor(head, seeded):
    g = seeded(11)
    att = RectangularAttention(4, head=head, beta=0.3, init_size=0.3).double()
    F = torch.rand(2, 4, 12, 12, generator=g, dtype=F64) + 0.1
    with torch.no_grad():
        out, aux = att(F)
    ratio = out / F
    assert float(ratio.min()) >= 0.3 - 1e-12 and float(ratio.max()) <= 1 + 1e-12
    assert torch.allclose(ratio, (0.3 + 0.7 * aux["mask"]).expand_as(F), atol=1e-12, rtol=0)
    if head == "regress":                                             # a small box: the floor is reached far from it
        assert float(ratio.min()) < 0.35 and float(ratio.max()) > 0.8


def test_rectangular_attention_gradients_reach_saliency(seeded):
    g = seeded(12)
    att = RectangularAttention(5).double()
    F = torch.randn(2, 5, 9, 9, generator=g, dtype=F64)
    target = torch.randn(2, 5, 9, 9, generator=g, dtype=F64)
    out, _ = att(F)
    ((out - target) ** 2).sum().backward()
    last = att.saliency[-1]
    assert last.weight.grad is not None and float(last.weight.grad.abs().max()) > 1e-8
    assert float(att.gamma.grad.abs()) > 1e-8
    assert all(bool(torch.isfinite(p.grad).all()) for p in att.parameters() if p.grad is not None)


def test_rectangular_attention_bad_arguments():
    with pytest.raises(ValueError, match="head"):
        RectangularAttention(4, head="foo")
    for beta in (1.0, -0.1):
        with pytest.raises(ValueError, match="beta"):
            RectangularAttention(4, beta=beta)
    with pytest.raises(ValueError, match="in_channels"):
        RectangularAttention(0)
    with pytest.raises(ValueError, match="kind"):
        RectangularAttention(4, kind="box")
    with pytest.raises(ValueError, match="kappa"):
        RectangularAttention(4, kappa=0.0)


def test_cbam_spatial_gate_against_reference(seeded):
    g = seeded(13)
    gate = CBAMSpatialGate().double()
    assert sum(p.numel() for p in gate.parameters()) == 98 + 2
    with torch.no_grad():
        gate.conv.weight.copy_(torch.randn(1, 2, 7, 7, generator=g, dtype=F64) * 0.3)
        gate.bn.running_mean.copy_(torch.randn(1, generator=g, dtype=F64))
        gate.bn.running_var.copy_(torch.rand(1, generator=g, dtype=F64) + 0.5)
        gate.bn.weight.copy_(torch.randn(1, generator=g, dtype=F64))
        gate.bn.bias.copy_(torch.randn(1, generator=g, dtype=F64))
    gate.eval()
    F = torch.randn(3, 5, 11, 9, generator=g, dtype=F64)
    out, aux = gate(F)
    pooled = torch.cat([F.max(1, keepdim=True).values, F.mean(1, keepdim=True)], 1)
    z = Fn.conv2d(pooled, gate.conv.weight, padding=3)
    z = (z - gate.bn.running_mean) / torch.sqrt(gate.bn.running_var + gate.bn.eps) * gate.bn.weight + gate.bn.bias
    M = torch.sigmoid(z)
    assert aux["mask"].shape == (3, 1, 11, 9)
    assert torch.allclose(aux["mask"], M, atol=1e-13, rtol=0)
    assert torch.allclose(out, F * M, atol=1e-13, rtol=0)
    for k in (2, 4):
        with pytest.raises(ValueError, match="kernel_size"):
            CBAMSpatialGate(k)
    assert sum(p.numel() for p in CBAMSpatialGate(3).parameters()) == 18 + 2


def test_cbam_channel_gate_against_reference(seeded):
    torch.manual_seed(0)
    gate = CBAMChannelGate(32, reduction=8).double()
    F = torch.randn(2, 32, 5, 6, generator=seeded(14), dtype=F64)
    out, aux = gate(F)
    l1, l2 = gate.mlp[1], gate.mlp[3]
    assert (l1.in_features, l1.out_features, l2.out_features) == (32, 4, 32)

    def mlp(v):
        return Fn.linear(torch.relu(Fn.linear(v, l1.weight, l1.bias)), l2.weight, l2.bias)

    m = torch.sigmoid(mlp(F.mean((2, 3))) + mlp(F.amax((2, 3))))[:, :, None, None]
    assert aux["channel"].shape == (2, 32, 1, 1)
    assert torch.allclose(aux["channel"], m, atol=1e-14, rtol=0)
    assert torch.allclose(out, F * m, atol=1e-14, rtol=0)


# ----------------------------------------------------------------------------------------------- area prior


def _tiny_slot_cnn(seeded):
    model = SlotCNN(widths=(4, 8), attention=RectangularAttention, seed=0).double()
    with torch.no_grad():                          # leave the zero initialisation, so phi depends on the input
        w = model.attention.saliency[-1].weight
        w.copy_(torch.randn(w.shape, generator=seeded(15), dtype=F64))
    g = seeded(16)
    xb = torch.randn(4, 1, 16, 16, generator=g, dtype=F64)
    yb = torch.tensor([0, 3, 9, 3])
    return model, xb, yb


def _grads(model):
    return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in model.parameters()]


def test_area_penalty_closure(seeded):
    model, xb, yb = _tiny_slot_cnn(seeded)
    # references by plain autograd
    model.zero_grad(set_to_none=True)
    ce = Fn.cross_entropy(model(xb), yb)
    ce.backward()
    ce = ce.detach()
    g_ce = _grads(model)
    model.zero_grad(set_to_none=True)
    model(xb)
    phi = model.last_aux["phi"]
    assert phi.shape == (4, 5)
    (phi[:, 2] * phi[:, 3]).mean().backward()
    g_area = _grads(model)
    # the prior reaches the saliency head and, through the features, the first stage
    assert float(model.attention.saliency[-1].weight.grad.abs().max()) > 1e-6
    assert float(model.stages[0][0].weight.grad.abs().max()) > 1e-8

    loss0 = area_penalty_closure(0.0)(model, xb, yb)().detach()
    g0 = _grads(model)
    assert float(loss0) == pytest.approx(float(ce), rel=1e-13)
    for a, b in zip(g0, g_ce):
        assert torch.allclose(a, b, atol=1e-13, rtol=1e-10)

    lam = 0.37
    loss = area_penalty_closure(lam)(model, xb, yb)().detach()
    g_lam = _grads(model)
    assert float(loss) == pytest.approx(float(ce), rel=1e-13)             # the task loss, without the prior
    for a, b, c in zip(g_lam, g_ce, g_area):
        assert torch.allclose(a - b, lam * c, atol=1e-12, rtol=1e-8)
    with pytest.raises(ValueError, match="lambda_area"):
        area_penalty_closure(-1.0)


# ----------------------------------------------------------------------------------------------- localisation


def test_box_raster_counts():
    R = box_raster(torch.tensor([[2.0, 3.0, 6.0, 8.0], [0.0, 0.0, 10.0, 10.0], [4.2, 4.2, 4.8, 4.8]]), 10, 10)
    assert R.shape == (3, 1, 10, 10) and R.dtype == torch.bool
    assert R.sum((1, 2, 3)).tolist() == [20, 100, 1]
    rows, cols = R[0, 0].nonzero().unbind(1)
    assert set(cols.tolist()) == {2, 3, 4, 5} and set(rows.tolist()) == {3, 4, 5, 6, 7}
    assert R[2, 0, 4, 4]


def test_pointing_game_hand_cases():
    box = torch.tensor([[2.0, 3.0, 6.0, 8.0]]).expand(5, 4)
    pts = torch.tensor([[4.0, 5.0],        # inside
                        [2.0, 5.0],        # on the left edge
                        [6.0, 8.0],        # on a corner
                        [6.01, 5.0],       # just outside
                        [4.0, 1.0]])       # outside
    assert pointing_game(pts, box) == pytest.approx(3 / 5, abs=0)
    assert pointing_game(pts[:1], box[:1]) == 1.0
    assert pointing_game(pts[3:], box[3:]) == 0.0


def test_map_box_iou_hand_cases():
    box = torch.tensor([[0.0, 0.0, 4.0, 4.0]])
    exact = box_raster(box, 8, 8).double()
    assert float(map_box_iou(exact, box)[0]) == 1.0
    disjoint = torch.zeros(1, 1, 8, 8, dtype=F64)
    disjoint[..., 5:, 5:] = 1.0
    assert float(map_box_iou(disjoint, box)[0]) == 0.0
    half = torch.zeros(1, 1, 8, 8, dtype=F64)
    half[..., 0:4, 2:6] = 0.9                              # 16 pixels, 8 of them in the box
    assert float(map_box_iou(half, box)[0]) == pytest.approx(8 / 24, abs=1e-15)
    assert float(map_box_iou(half, box, threshold=0.95)[0]) == 0.0
    assert float(map_box_iou(torch.zeros(1, 1, 8, 8), box)[0]) == 0.0


def test_mass_in_box_hand_case():
    box = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0]])
    m = torch.zeros(2, 1, 4, 4, dtype=F64)
    m[0, 0, 0, 0], m[0, 0, 1, 1], m[0, 0, 3, 3], m[0, 0, 2, 0] = 1.0, 0.5, 2.0, 0.5
    m[1, 0, :2, :2] = 0.25
    assert mass_in_box(m, box).tolist() == pytest.approx([1.5 / 4.0, 1.0], abs=1e-15)


def test_largest_component_fraction_hand_cases():
    m = torch.zeros(4, 1, 10, 10)
    m[0, 0, 2:5, 3:7] = 0.9                                # one blob
    m[1, 0, 1:3, 1:3] = 0.8
    m[1, 0, 6:8, 6:8] = 0.8                                # two equal blobs
    m[2] = 0.3                                             # nothing above threshold
    m[3, 0, 0, 0:3] = 0.9                                  # 3 pixels, and one touching only by a corner
    m[3, 0, 1, 3] = 0.9
    assert largest_component_fraction(m).tolist() == pytest.approx([1.0, 0.5, 1.0, 0.75], abs=1e-15)
    assert float(largest_component_fraction(m[2:3], threshold=0.2)[0]) == 1.0


def test_peak_location():
    m = torch.zeros(2, 1, 5, 7)
    m[0, 0, 3, 1] = 1.0
    m[1, 0, 0, 6] = 2.0
    assert peak_location(m).tolist() == [[1.5, 3.5], [6.5, 0.5]]


@pytest.mark.parametrize("H,W", [(6, 6), (4, 9), (9, 4)])
def test_normalised_to_pixels_maps_centres(H, W):
    x, y = rect_coords(H, W, dtype=F64)
    p = normalised_to_pixels(torch.stack([x, y], -1), H, W)
    jj, ii = torch.meshgrid(torch.arange(W, dtype=F64), torch.arange(H, dtype=F64), indexing="xy")
    assert torch.allclose(p[..., 0], jj + 0.5, atol=1e-12, rtol=0)
    assert torch.allclose(p[..., 1], ii + 0.5, atol=1e-12, rtol=0)


def test_rotated_iou_hand_cases():
    a = torch.tensor([0.0, 0.0, 0.5, 0.5, 0.0], dtype=F64)
    b = torch.tensor([0.5, 0.0, 0.5, 0.5, 0.0], dtype=F64)     # a unit square moved by half a side
    assert rotated_iou(a, a) == pytest.approx(1.0, abs=1e-12)
    assert rotated_iou(a, b) == pytest.approx(1 / 3, abs=1e-12)
    far = torch.tensor([2.0, 0.3, 0.4, 0.2, 0.7], dtype=F64)
    assert rotated_iou(a, far) == 0.0
    inner = torch.tensor([0.05, -0.1, 0.1, 0.2, 0.6], dtype=F64)   # inside a
    assert rotated_iou(a, inner) == pytest.approx(4 * 0.1 * 0.2 / 1.0, abs=1e-12)
    assert rotated_iou(inner, a) == pytest.approx(4 * 0.1 * 0.2 / 1.0, abs=1e-12)
    # the same rectangle described by (s_y, s_x, theta + pi/2)
    r = torch.tensor([0.1, 0.2, 0.3, 0.15, 0.4], dtype=F64)
    same = torch.tensor([0.1, 0.2, 0.15, 0.3, 0.4 + math.pi / 2], dtype=F64)
    assert rotated_iou(r, same) == pytest.approx(1, abs=1e-12)


def test_rotated_iou_against_raster_and_invariances(seeded):
    g = seeded(17)
    N = 1501
    for _ in range(3):
        p = _random_phi(g, 2, c=0.15, s=(0.15, 0.35))
        iou = rotated_iou(p[0], p[1])
        I = rect_indicator(p, N, N)
        raster = float((I[0] * I[1]).sum() / ((I[0] + I[1]) > 0).sum())
        assert 0.05 < iou < 0.95
        assert iou == pytest.approx(raster, abs=5e-3)
        assert rotated_iou(p[1], p[0]) == pytest.approx(iou, abs=1e-12)
        alpha, shift = float(torch.rand((), generator=g, dtype=F64)) * 6.0, torch.tensor([0.3, -0.7], dtype=F64)
        R = torch.tensor([[math.cos(alpha), -math.sin(alpha)], [math.sin(alpha), math.cos(alpha)]], dtype=F64)
        q = p.clone()
        q[:, :2] = p[:, :2] @ R.T + shift
        q[:, 4] += alpha
        assert rotated_iou(q[0], q[1]) == pytest.approx(iou, abs=1e-12)


def test_localisation_bad_box():
    bad = torch.tensor([[3.0, 0.0, 3.0, 4.0]])
    with pytest.raises(ValueError, match="box"):
        box_raster(bad, 8, 8)
    with pytest.raises(ValueError, match="box"):
        pointing_game(torch.zeros(1, 2), torch.tensor([[0.0, 5.0, 4.0, 2.0]]))
    with pytest.raises(ValueError, match="box"):
        map_box_iou(torch.zeros(1, 1, 8, 8), bad)
    with pytest.raises(ValueError, match="box"):
        mass_in_box(torch.ones(1, 1, 8, 8), bad)
    with pytest.raises(ValueError, match="phi"):
        rotated_iou(torch.tensor([0.0, 0.0, -0.1, 0.2, 0.0]), torch.tensor([0.0, 0.0, 0.1, 0.2, 0.0]))
    with pytest.raises(ValueError, match="phi2"):
        rotated_iou(torch.tensor([0.0, 0.0, 0.1, 0.2, 0.0]), torch.zeros(4))


@pytest.mark.parametrize("index", range(5))
def test_rect_mask_derivative_against_central_differences(index):
    phi = torch.tensor([[0.1, -0.15, 0.4, 0.25, 0.6], [-0.2, 0.1, 0.3, 0.5, -1.0]], dtype=F64)
    e = torch.zeros_like(phi)
    e[:, index] = 1e-6
    fd = (rect_mask(phi + e, 9, 12, 10.0) - rect_mask(phi - e, 9, 12, 10.0)) / 2e-6
    assert torch.allclose(rect_mask_derivative(phi, 9, 12, 10.0, index=index), fd, atol=1e-8)
    with pytest.raises(ValueError, match="^index:"):
        rect_mask_derivative(phi, 9, 12, 10.0, index=5)
