"""A one-layer convolutional network with random filters and its Gram matrix: the "random filter" (RF)
texture statistics of Ustyuzhaninov, Brendel, Gatys and Bethge (ICLR 2017).

Maps :math:`F_k=\\mathrm{ReLU}(w_k\\circledast x)` for random filters :math:`w_k` of several sizes
(circular convolution, no bias) and the statistics

.. math:: G_{kk'}=\\frac1{|\\Omega|}\\sum_uF_k(u)F_{k'}(u),\\qquad k\\le k',

the Gram matrix of Gatys et al. computed on one random layer instead of a trained VGG. Our filters are
Gaussian with zero mean (each filter's mean removed, so a constant offset of :math:`x` changes nothing)
and unit norm; the original's exact initialisation is not reproduced.

Used in: chapter 08 (a baseline of the texture models).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from harmonia.config import check_int, check_tensor, make_generator

__all__ = ["RF_SIZES", "RandomFilterGram"]

#: Filter sizes of the paper's multi-scale random network (128 maps each there).
RF_SIZES = (3, 5, 7, 11, 15, 23, 37, 55)


class RandomFilterGram(nn.Module):
    """Gram statistics of a random one-layer CNN (module docstring).

    Parameters
    ----------
    sizes : sequence of odd int
        Filter sizes (each at most the image side when used).
    n_maps : int
        Filters per size.
    seed : int or Generator
        Draw of the filters.

    Attributes
    ----------
    n_stats : int
        :math:`K(K+1)/2` with :math:`K=` ``len(sizes) * n_maps``.

    Used in: chapter 08.
    """

    def __init__(self, sizes: Sequence[int] = RF_SIZES, n_maps: int = 128, seed: int | torch.Generator | None = 0) -> None:
        super().__init__()
        self.sizes = tuple(check_int(s, "sizes") for s in sizes)
        if not self.sizes or any(s % 2 == 0 for s in self.sizes):
            raise ValueError(f"sizes: expected a non-empty list of odd filter sizes, got {tuple(sizes)!r}")
        self.n_maps = check_int(n_maps, "n_maps")
        gen = make_generator(seed)
        for i, s in enumerate(self.sizes):
            w = torch.randn(self.n_maps, 1, s, s, generator=gen, dtype=torch.float64)
            w = w - w.mean(dim=(-2, -1), keepdim=True)
            w = w / w.flatten(1).norm(dim=1)[:, None, None, None]
            self.register_buffer(f"w{i}", w.float())
        K = len(self.sizes) * self.n_maps
        iu = torch.triu_indices(K, K)
        self.register_buffer("triu", iu[0] * K + iu[1])
        self.n_stats = int(iu.shape[1])

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`F_k` for ``x`` (B, M, N): (B, K, M, N)."""
        maps = []
        for i, s in enumerate(self.sizes):
            if s > min(x.shape[-2:]):
                raise ValueError(f"x: expected images of at least {s}x{s} pixels for filters of size {s}, "
                                 f"got {tuple(x.shape[-2:])}")
            padded = F.pad(x[:, None], (s // 2,) * 4, mode="circular")
            maps.append(torch.relu(F.conv2d(padded, getattr(self, f"w{i}"))))
        return torch.cat(maps, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Upper triangle of :math:`G` (row-major), (..., n_stats), for ``x`` (..., M, N)."""
        check_tensor(x, "x", dtype="floating", min_ndim=2)
        if x.dtype != self.w0.dtype or x.device != self.w0.device:
            raise ValueError(f"x: expected {self.w0.dtype} on {self.w0.device} like the filters, got {x.dtype} on "
                             f"{x.device}")
        lead = x.shape[:-2]
        Fm = self.feature_maps(x.reshape(-1, *x.shape[-2:])).flatten(2)  # (B, K, MN)
        G = Fm @ Fm.transpose(1, 2) / Fm.shape[-1]
        return G.flatten(1)[:, self.triu].reshape(*lead, self.n_stats)
