"""Procedural 1D signals and cartoon images: shapes, normalisation, support, determinism, bad inputs."""

from __future__ import annotations

import pytest
import torch

from harmonia.data.signals import cantor_measure, cartoon_image, dirac, staircase, up_jump


def test_dirac_and_jump():
    d = dirac(16, 3)
    assert d.sum() == 1 and d[3] == 1
    j = up_jump(64)
    assert abs(float(j.mean())) < 1e-12
    jumps = torch.diff(j, append=j[:1])
    assert int(jumps.argmax()) == 31 and float(jumps.max()) == pytest.approx(1 - 1 / 64)


def test_staircase_support_and_determinism():
    x = staircase(256, 4, seed=3)
    assert x.shape == (256,) and float(x.abs().max()) == pytest.approx(1.0)
    assert abs(float(x.mean())) < 1e-12
    outside = torch.cat([x[: 256 // 4], x[3 * 256 // 4:]])
    assert torch.allclose(outside, outside[0].expand_as(outside))  # constant outside the central half
    assert len(torch.unique(torch.diff(x[64:192]).nonzero())) <= 4
    torch.testing.assert_close(staircase(256, 4, seed=3), x)
    assert not torch.equal(staircase(256, 4, seed=4), x)


def test_cantor_is_self_similar():
    x = cantor_measure(729, min_length=3) + 0  # support 3^6 / 2 ... central half
    assert float(x.max()) == pytest.approx(1.0) and abs(float(x.mean())) < 1e-12
    pos = (x > x.min() + 1e-12).nonzero().flatten()
    assert int(pos.min()) >= 729 // 4 and int(pos.max()) < 3 * 729 // 4
    # the middle third of the support is empty
    a, b = 729 // 4, 3 * 729 // 4
    third = (b - a) // 3
    assert torch.all(x[a + third + 1: b - third - 1] == x.min())


def test_cartoon_image():
    img = cartoon_image(64, 5, seed=0)
    assert img.shape == (64, 64) and img.dtype == torch.float32
    assert float(img.min()) >= 0 and float(img.max()) <= 1
    assert 3 <= len(torch.unique(img)) <= 6  # piecewise constant
    torch.testing.assert_close(cartoon_image(64, 5, seed=0), img)


def test_bad_inputs():
    with pytest.raises(ValueError, match="N"):
        staircase(4)
    with pytest.raises(ValueError, match="n_jumps"):
        staircase(64, 0)
    with pytest.raises(ValueError, match="M"):
        cartoon_image(8)
    with pytest.raises(ValueError, match="seed"):
        cartoon_image(32, seed=-1)
    with pytest.raises(TypeError, match="N"):
        dirac(10.5)
