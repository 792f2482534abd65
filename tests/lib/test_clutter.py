"""harmonia.data.clutter: seeded determinism, shapes and dtypes, the ground-truth box (tight around the object's
pixels, never met by clutter), class balance, the disjoint glyph pools, the angle range, the object's size, and
argument checks."""

from __future__ import annotations

import math

import pytest
import torch

from harmonia.data.clutter import glyph_pools, make_cluttered_digits

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def pools():
    return glyph_pools()


def _pool_glyphs(pools, data, pool="train"):
    """The 8x8 glyph of every sample, looked up in its pool by source index."""
    glyphs, _, source = pools[pool]
    where = torch.full((1797,), -1, dtype=torch.long)
    where[source] = torch.arange(len(source))
    pos = where[data.source]
    assert bool((pos >= 0).all())
    return glyphs[pos]


def _inside(box, H, W):
    """Pixels (i, j) with [j, j+1) x [i, i+1) inside the pixel-edge box (x0, y0, x1, y1): (n, H, W) bool."""
    j = torch.arange(W, dtype=torch.float64)
    i = torch.arange(H, dtype=torch.float64)
    inx = (j >= box[:, 0, None]) & (j + 1 <= box[:, 2, None])
    iny = (i >= box[:, 1, None]) & (i + 1 <= box[:, 3, None])
    return iny[:, :, None] & inx[:, None, :]


def test_deterministic_for_a_seed():
    a = make_cluttered_digits(20, seed=3)
    b = make_cluttered_digits(20, seed=3)
    for f in ("X", "y", "box", "center", "angle", "size", "source"):
        assert torch.equal(getattr(a, f), getattr(b, f)), f
    c = make_cluttered_digits(20, seed=4)
    assert not torch.equal(a.X, c.X) and not torch.equal(a.source, c.source)
    d = make_cluttered_digits(20, seed=3, pool="test")
    assert not torch.equal(a.source, d.source)


def test_shapes_and_dtypes():
    n, C = 7, 40
    d = make_cluttered_digits(n, canvas=C, obj_size=(10, 20))
    assert len(d) == n
    assert d.X.shape == (n, 1, C, C) and d.X.dtype == torch.float32
    assert float(d.X.min()) >= 0 and float(d.X.max()) <= 1
    assert d.y.shape == (n,) and d.y.dtype == torch.int64 and bool(((d.y >= 0) & (d.y <= 9)).all())
    assert d.box.shape == (n, 4) and d.box.dtype == torch.float64
    assert d.center.shape == (n, 2) and d.center.dtype == torch.float64
    assert d.angle.shape == (n,) and d.angle.dtype == torch.float64
    assert d.size.shape == (n,) and d.size.dtype == torch.int64 and bool(((d.size >= 10) & (d.size <= 20)).all())
    assert d.source.shape == (n,) and d.source.dtype == torch.int64


def test_box_is_tight_around_the_object():
    C = 32
    d = make_cluttered_digits(60, canvas=C, n_clutter=0, noise=0.0, seed=5)
    box = d.box
    assert bool((box[:, 0] >= 0).all() and (box[:, 1] >= 0).all() and (box[:, 2] <= C).all() and (box[:, 3] <= C).all())
    assert bool((box[:, 2] > box[:, 0]).all() and (box[:, 3] > box[:, 1]).all())
    assert torch.equal(box, box.round())                                  # pixel edges
    on = d.X[:, 0] > 0.1
    inside = _inside(box, C, C)
    assert not bool((on & ~inside).any())                                 # every object pixel is in the box
    for k in range(len(d)):                                               # and each edge touches one
        rows, cols = on[k].nonzero().unbind(1)
        assert (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1) == tuple(
            int(v) for v in box[k])


def test_clutter_never_meets_the_box():
    """Objects are drawn before the clutter from the same stream, so with noise 0 the images with and without clutter
    share the object, and can only differ outside its box."""
    C = 32
    clean = make_cluttered_digits(40, canvas=C, n_clutter=0, noise=0.0, seed=6)
    busy = make_cluttered_digits(40, canvas=C, n_clutter=6, noise=0.0, seed=6)
    for f in ("y", "box", "center", "angle", "size", "source"):
        assert torch.equal(getattr(clean, f), getattr(busy, f)), f
    differ = busy.X[:, 0] != clean.X[:, 0]
    assert int(differ.any(-1).any(-1).sum()) >= 35                       # clutter was placed in most images
    assert not bool((differ & _inside(busy.box, C, C)).any())
    assert bool((busy.X >= clean.X).all())                                # pasted by maximum


def test_centre_inside_box():
    d = make_cluttered_digits(200, seed=7)
    cx, cy = d.center.unbind(1)
    assert bool(((cx > d.box[:, 0]) & (cx < d.box[:, 2]) & (cy > d.box[:, 1]) & (cy < d.box[:, 3])).all())


def test_class_balance():
    d = make_cluttered_digits(1000, n_clutter=0, noise=0.0, seed=8)
    counts = torch.bincount(d.y, minlength=10)
    assert counts.shape == (10,)
    assert bool(((counts >= 80) & (counts <= 120)).all()), counts.tolist()


def test_pools_disjoint_and_sources_in_pool(pools):
    gtr, ytr, str_ = pools["train"]
    gte, yte, ste = pools["test"]
    assert gtr.shape == (1257, 8, 8) and gte.shape == (540, 8, 8)
    assert len(ytr) == 1257 and len(yte) == 540
    assert not set(str_.tolist()) & set(ste.tolist())
    assert sorted(str_.tolist() + ste.tolist()) == list(range(1797))
    assert float(gtr.min()) >= 0 and float(gtr.max()) <= 1
    for pool in ("train", "test"):
        d = make_cluttered_digits(50, pool=pool, n_clutter=0, noise=0.0, seed=9)
        glyphs, labels, source = pools[pool]
        assert set(d.source.tolist()) <= set(source.tolist())
        pos = torch.tensor([int((source == s).nonzero()[0, 0]) for s in d.source])
        assert torch.equal(d.y, labels[pos])                              # the label is the glyph's


@pytest.mark.parametrize("max_rot_deg", [0.0, 10.0, 45.0])
def test_angle_range(max_rot_deg):
    d = make_cluttered_digits(200, canvas=40, max_rot_deg=max_rot_deg, n_clutter=0, noise=0.0, seed=10)
    bound = math.radians(max_rot_deg)
    assert bool((d.angle.abs() <= bound + 1e-12).all())
    if max_rot_deg > 0:
        assert float(d.angle.abs().max()) > 0.8 * bound                   # the range is used
        assert float(d.angle.min()) < 0 < float(d.angle.max())


def test_upright_object_size(pools):
    """Unrotated: the height of the box is the object's side (every glyph has ink in its top and bottom rows) give or
    take 2 pixels of bilinear spread; its width is at most the side + 2 and within one glyph pixel plus one canvas pixel
    of the glyph's inked columns (many glyphs have blank outer columns, so the width can be far below the side)."""
    d = make_cluttered_digits(300, max_rot_deg=0.0, n_clutter=0, noise=0.0, seed=11)
    assert torch.equal(d.angle, torch.zeros(300, dtype=torch.float64))
    w = d.box[:, 2] - d.box[:, 0]
    h = d.box[:, 3] - d.box[:, 1]
    s = d.size.double()
    assert bool(((h - s).abs() <= 2).all())
    assert bool((w <= s + 2).all())
    G = _pool_glyphs(pools, d)
    inked = G.amax(1) > 0.1                                               # (n, 8): columns with a pixel above 0.1
    cols = torch.arange(8).expand_as(inked)
    extent = (torch.where(inked, cols, -1).amax(1) - torch.where(inked, cols, 99).amin(1) + 1).double()
    assert bool(((w - extent * s / 8).abs() <= s / 8 + 1).all())


def _moments(X):
    """Intensity centroid (n, 2) and covariance (n, 2, 2) of images (n, 1, H, W), in pixel-edge (x, y)."""
    X = X[:, 0].double()
    H, W = X.shape[-2:]
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float64) + 0.5, torch.arange(W, dtype=torch.float64) + 0.5,
                            indexing="ij")
    m = X.sum((1, 2))
    cx, cy = (X * xx).sum((1, 2)) / m, (X * yy).sum((1, 2)) / m
    dx, dy = xx - cx[:, None, None], yy - cy[:, None, None]
    a, b, d = ((X * p).sum((1, 2)) / m for p in (dx * dx, dx * dy, dy * dy))
    return torch.stack([cx, cy], 1), torch.stack([torch.stack([a, b], -1), torch.stack([b, d], -1)], -2)


def test_rotation_about_the_centre_and_its_sign():
    """The same objects drawn upright and turned (same seed: the angle draws are rescaled, the glyphs and sizes are
    the same): the offset of the ink centroid from ``center`` and the ink covariance turn by R(angle), with
    R = [[cos, -sin], [sin, cos]] in (x, y), y down -- positive angles turn the x axis towards y."""
    turned = make_cluttered_digits(50, max_rot_deg=40.0, n_clutter=0, noise=0.0, seed=12)
    upright = make_cluttered_digits(50, max_rot_deg=0.0, n_clutter=0, noise=0.0, seed=12)
    assert torch.equal(turned.source, upright.source) and torch.equal(turned.size, upright.size)
    c_t, S_t = _moments(turned.X)
    c_u, S_u = _moments(upright.X)
    off_t, off_u = c_t - turned.center, c_u - upright.center
    errors = {}
    for sign in (1, -1):
        t = sign * turned.angle
        R = torch.stack([torch.stack([t.cos(), -t.sin()], -1), torch.stack([t.sin(), t.cos()], -1)], -2)
        errors[sign] = (float(((R @ off_u[:, :, None])[:, :, 0] - off_t).norm(dim=1).max()),
                        float(((R @ S_u @ R.transpose(1, 2) - S_t).norm(dim=(1, 2)) / S_t.norm(dim=(1, 2))).max()))
    assert errors[1][0] < 0.25 and errors[1][1] < 0.05
    assert errors[-1][0] > 1.0 and errors[-1][1] > 0.3                    # the other sign is far off


@pytest.mark.parametrize("kwargs,name", [
    ({"n": 0}, "n"),
    ({"pool": "val"}, "pool"),
    ({"obj_size": (12, 24)}, "obj_size"),                                 # 24 sqrt(2) > 32
    ({"obj_size": (16, 12)}, "obj_size"),
    ({"patch": 15}, "patch"),
    ({"noise": -1.0}, "noise"),
    ({"max_rot_deg": -5.0}, "max_rot_deg"),
    ({"n_clutter": -1}, "n_clutter"),
])
def test_bad_inputs(kwargs, name):
    args = {"n": 4, **kwargs}
    with pytest.raises(ValueError, match=rf"^{name}:"):
        make_cluttered_digits(**args)


def test_patch_larger_than_canvas_is_rejected():
    with pytest.raises(ValueError, match="patch"):
        make_cluttered_digits(3, canvas=10, obj_size=(4, 6), patch=12, n_clutter=2)
