"""Grey-level texture images (brick, grass, gravel) and random crops of them.

The file ``datasets/textures_skimage.npz`` holds three 256x256 uint8 images: scikit-image's
``brick``, ``grass`` and ``gravel`` (512x512, each licensed CC0 by its authors, shipped inside the
scikit-image wheel), reduced by 2x2 block means. :func:`build_texture_file` regenerates it and is
the only code that needs scikit-image; the course itself only reads the committed file.

Used in: chapter 05 (texture discrimination with 2D scattering).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from harmonia.config import check_positive, check_tensor, make_generator
from harmonia.data.registry import load_npz, save_npz

__all__ = ["TEXTURE_NAMES", "build_texture_file", "load_textures", "random_crops"]

TEXTURE_NAMES = ("brick", "grass", "gravel")
DATASET = "textures_skimage"


def build_texture_file(path: str | Path) -> Path:
    """Write the texture file from scikit-image's bundled images (needs ``scikit-image``)."""
    try:
        import skimage.data
    except ImportError as err:
        raise ImportError("build_texture_file needs scikit-image (pip install scikit-image); "
                          "the course reads the committed datasets/textures_skimage.npz instead") from err
    arrays = {}
    for name in TEXTURE_NAMES:
        image = np.asarray(getattr(skimage.data, name)(), dtype=np.float64)  # (512, 512) uint8 -> float
        small = image.reshape(256, 2, 256, 2).mean(axis=(1, 3))
        arrays[name] = np.clip(np.rint(small), 0, 255).astype(np.uint8)
    path = Path(path)
    save_npz(path, **arrays)
    return path


def load_textures(device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The three textures as ``{name: (256, 256) tensor}`` scaled to [0, 1] (checksum verified)."""
    arrays = load_npz(DATASET)
    return {name: torch.as_tensor(arrays[name], dtype=dtype, device=device) / 255.0 for name in TEXTURE_NAMES}


def random_crops(image: torch.Tensor, n: int, size: int, seed: int | torch.Generator | None = None) -> torch.Tensor:
    """``n`` random ``size x size`` crops of a 2-D image (uniform positions), shape ``(n, size, size)``."""
    check_tensor(image, "image", ndim=2)
    n = check_positive(n, "n", integer=True)
    size = check_positive(size, "size", integer=True)
    H, W = image.shape
    if size > min(H, W):
        raise ValueError(f"size: expected at most the image's smaller side {min(H, W)}, got {size}")
    gen = make_generator(seed)
    rows = torch.randint(0, H - size + 1, (n,), generator=gen).tolist()
    cols = torch.randint(0, W - size + 1, (n,), generator=gen).tolist()
    return torch.stack([image[r : r + size, c : c + size] for r, c in zip(rows, cols)])
