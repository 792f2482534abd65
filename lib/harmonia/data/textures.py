"""Grey-level texture images (brick, grass, gravel), crops of them, and periodic procedural textures.

The file ``datasets/textures_skimage.npz`` holds three 256x256 uint8 images: scikit-image's
``brick``, ``grass`` and ``gravel`` (512x512, each licensed CC0 by its authors, shipped inside the
scikit-image wheel), reduced by 2x2 block means. :func:`build_texture_file` regenerates it and is
the only code that needs scikit-image; the course itself only reads the committed file.

:func:`bubbles` (occluding disks) and :func:`cracks` (Voronoi boundaries) are generated on the torus, so
they tile seamlessly and need no border handling.

Used in: chapter 05 (texture discrimination with 2D scattering), chapter 08 (texture synthesis).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from harmonia.config import check_in, check_positive, check_tensor, make_generator
from harmonia.data.registry import load_npz, save_npz

__all__ = ["TEXTURE_NAMES", "build_texture_file", "load_textures", "random_crops", "texture_image", "bubbles",
           "cracks"]

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


def texture_image(name: str, size: int = 64, *, device: torch.device | str = "cpu",
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The central crop of a stored texture, block-averaged to ``size x size``, values in [0, 1].

    The central ``size * k`` square of the 256x256 file, averaged over ``k x k`` blocks with
    ``k = max(1, 128 // size)`` (``size=64``: the central half of scikit-image's 512x512 original, 4x4
    blocks of it).

    Used in: chapter 08.
    """
    check_in(name, "name", TEXTURE_NAMES)
    size = check_positive(size, "size", integer=True)
    if size > 256:
        raise ValueError(f"size: expected at most 256 (the stored images), got {size}")
    k = max(1, 128 // size)
    side = size * k
    image = load_textures(dtype=torch.float64)[name]
    start = (256 - side) // 2
    crop = image[start:start + side, start:start + side]
    return crop.reshape(size, k, size, k).mean(dim=(1, 3)).to(dtype=dtype, device=device)


def _torus_distances(N: int, points: torch.Tensor) -> torch.Tensor:
    """Distances (N, N, P) from every pixel centre to ``points`` (P, 2) on the N-periodic square."""
    u = torch.arange(N, dtype=torch.float64)
    d0 = (u[:, None] - points[None, :, 0]).abs()
    d1 = (u[:, None] - points[None, :, 1]).abs()
    d0, d1 = torch.minimum(d0, N - d0), torch.minimum(d1, N - d1)
    return torch.sqrt(d0[:, None, :] ** 2 + d1[None, :, :] ** 2)


def bubbles(N: int = 64, n_disks: int = 40, radius: tuple[float, float] = (3.0, 7.0),
            seed: int | torch.Generator | None = 0, *, channels: int = 1,
            dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Occluding disks on the torus: disks of uniform random centres and radii, drawn one over the other
    (later ones on top), each with a uniform random level in [0.2, 1] per channel, on a background of 0.

    Returns
    -------
    (N, N) tensor for ``channels=1``, else (channels, N, N) (e.g. 3: colour disks); periodic (tiles
    seamlessly)

    Used in: chapter 08.
    """
    N = check_positive(N, "N", integer=True)
    n_disks = check_positive(n_disks, "n_disks", integer=True)
    r_lo, r_hi = (check_positive(r, "radius") for r in radius)
    if r_lo > r_hi:
        raise ValueError(f"radius: expected (min, max) with min <= max, got {radius!r}")
    gen = make_generator(seed)
    centres = torch.rand(n_disks, 2, generator=gen, dtype=torch.float64) * N
    radii = r_lo + (r_hi - r_lo) * torch.rand(n_disks, generator=gen, dtype=torch.float64)
    channels = check_positive(channels, "channels", integer=True)
    levels = 0.2 + 0.8 * torch.rand(n_disks, generator=gen, dtype=torch.float64)
    if channels > 1:
        levels = torch.stack([levels] + [0.2 + 0.8 * torch.rand(n_disks, generator=gen, dtype=torch.float64)
                                         for _ in range(channels - 1)])  # (channels, P)
    inside = _torus_distances(N, centres) <= radii  # (N, N, P)
    last = torch.where(inside, torch.arange(n_disks), -1).amax(dim=-1)  # the top disk at each pixel
    image = torch.where(last >= 0, levels[..., last.clamp(min=0)], torch.zeros((), dtype=torch.float64))
    return image.to(dtype)


def cracks(N: int = 64, n_seeds: int = 24, width: float = 1.0, seed: int | torch.Generator | None = 0, *,
           dtype: torch.dtype = torch.float32) -> torch.Tensor:
    r"""Voronoi cell boundaries on the torus: :math:`1-\exp(-(d_2-d_1)^2/(2w^2))` with :math:`d_1\le d_2` the
    distances to the two nearest of ``n_seeds`` uniform seeds (dark lines of width about :math:`w` on a
    light background).

    Returns
    -------
    (N, N) tensor in [0, 1] (1 far from every boundary), periodic

    Used in: chapter 08.
    """
    N = check_positive(N, "N", integer=True)
    n_seeds = check_positive(n_seeds, "n_seeds", integer=True)
    if n_seeds < 2:
        raise ValueError(f"n_seeds: expected at least 2 seeds (a boundary needs two cells), got {n_seeds}")
    width = check_positive(width, "width")
    gen = make_generator(seed)
    seeds = torch.rand(n_seeds, 2, generator=gen, dtype=torch.float64) * N
    d = _torus_distances(N, seeds).topk(2, dim=-1, largest=False).values
    return (1 - torch.exp(-((d[..., 1] - d[..., 0]) ** 2) / (2 * width**2))).to(dtype)
