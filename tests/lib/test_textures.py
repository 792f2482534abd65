"""The committed texture file and random crops."""

from __future__ import annotations

import pytest
import torch

from harmonia.data.textures import TEXTURE_NAMES, load_textures, random_crops


def test_textures_load_with_checksum():
    textures = load_textures()
    assert tuple(textures) == TEXTURE_NAMES
    for image in textures.values():
        assert image.shape == (256, 256) and image.dtype == torch.float32
        assert 0 <= float(image.min()) and float(image.max()) <= 1 and float(image.std()) > 0.05
    # three different images
    assert not torch.equal(textures["brick"], textures["grass"])


def test_random_crops_are_crops():
    image = torch.arange(64 * 48, dtype=torch.float64).reshape(64, 48)
    crops = random_crops(image, 5, 16, seed=3)
    assert crops.shape == (5, 16, 16)
    for crop in crops:
        r, c = divmod(int(crop[0, 0]), 48)
        assert torch.equal(crop, image[r : r + 16, c : c + 16])
    assert torch.equal(crops, random_crops(image, 5, 16, seed=3))
    with pytest.raises(ValueError, match="^size: expected at most"):
        random_crops(image, 2, 49)
