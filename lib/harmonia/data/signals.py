"""Procedural test signals and images with sparse wavelet coefficients (Diracs, jumps, self-similar
measures, piecewise-constant cartoons). Seeded, deterministic, no files.

Used in: chapters 06-07.
"""

from __future__ import annotations

import torch

from harmonia.config import check_positive, make_generator

__all__ = ["dirac", "up_jump", "staircase", "cantor_measure", "cartoon_image"]


def dirac(N: int, position: int | None = None, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A unit Dirac :math:`\\delta(u-u_0)` on :math:`N` periodic samples (default :math:`u_0=N/2`). Shape (N,)."""
    N = check_positive(N, "N", integer=True)
    u0 = N // 2 if position is None else int(position) % N
    x = torch.zeros(N, dtype=dtype)
    x[u0] = 1
    return x


def up_jump(N: int, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A periodic, zero-mean sawtooth with one upward jump of height 1 at :math:`N/2` and a slow linear
    decrease elsewhere: the jump dominates at fine scales. Shape (N,)."""
    N = check_positive(N, "N", integer=True)
    u = torch.arange(N, dtype=torch.float64)
    x = -torch.remainder(u - N // 2, N) / N
    return (x - x.mean()).to(dtype)


def staircase(N: int, n_jumps: int = 4, seed: int | torch.Generator | None = 0, *,
              dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Cumulative sum of ``n_jumps`` Diracs with Gaussian amplitudes at random positions in the central
    half, set to 0 outside it (support in the central half, as in the paper's zero-padded signals), then
    made zero-mean and scaled to maximum modulus 1. Shape (N,)."""
    N = check_positive(N, "N", integer=True)
    n_jumps = check_positive(n_jumps, "n_jumps", integer=True)
    if N < 8:
        raise ValueError(f"N: expected at least 8 samples, got {N}")
    g = make_generator(seed)
    pos = N // 4 + torch.randperm(N // 2, generator=g)[:n_jumps]
    amp = torch.randn(n_jumps, generator=g, dtype=torch.float64)
    d = torch.zeros(N, dtype=torch.float64)
    d[pos] = amp
    x = torch.cumsum(d, 0)
    x[3 * N // 4:] = 0
    x = x - x.mean()
    return (x / x.abs().max()).to(dtype)


def cantor_measure(N: int, min_length: int = 6, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A Cantor-type measure on the central half: the support is split recursively into its first and last
    thirds with equal weights 1/2 until intervals have at most ``min_length`` samples; the density is then
    made zero-mean and scaled to maximum 1. Shape (N,)."""
    N = check_positive(N, "N", integer=True)
    min_length = check_positive(min_length, "min_length", integer=True)
    x = torch.zeros(N, dtype=torch.float64)

    def split(a: int, b: int, weight: float) -> None:
        n = b - a
        if n <= min_length:
            x[a:b] += weight / max(n, 1)
            return
        third = n // 3
        split(a, a + third, weight / 2)
        split(b - third, b, weight / 2)

    split(N // 4, 3 * N // 4, 1.0)
    x = x - x.mean()
    return (x / x.max()).to(dtype)


def cartoon_image(M: int, n_shapes: int = 5, seed: int | torch.Generator | None = 0, *,
                  background: float = 0.2, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A piecewise-constant "cartoon": filled disks and rectangles of random positions, sizes and grey
    levels in [0.2, 1] on a constant background, values in [0, 1]. Shape (M, M)."""
    M = check_positive(M, "M", integer=True)
    n_shapes = check_positive(n_shapes, "n_shapes", integer=True)
    if M < 16:
        raise ValueError(f"M: expected an image side of at least 16 pixels, got {M}")
    g = make_generator(seed)
    yy, xx = torch.meshgrid(torch.arange(M), torch.arange(M), indexing="ij")
    img = torch.full((M, M), float(background), dtype=torch.float64)
    for c in range(n_shapes):
        cy, cx = torch.randint(M // 8, 7 * M // 8, (2,), generator=g).tolist()
        r = int(torch.randint(M // 12, M // 5, (1,), generator=g))
        v = float(torch.rand(1, generator=g, dtype=torch.float64)) * 0.8 + 0.2
        if c % 2 == 0:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
        else:
            mask = ((yy - cy).abs() < r) & ((xx - cx).abs() < 0.6 * r)
        img[mask] = v
    return img.to(dtype)
