r"""ReZero residual MLPs (Bachlechner et al. 2020), the building block of the data-assimilation networks:

.. math::

    h\leftarrow h+\alpha_\ell\,\mathrm{LeakyReLU}(A_\ell h+\beta_\ell),\qquad \alpha_\ell=0\ \text{at initialisation},

for the first :math:`L-1` layers of equal width, then a plain affine layer. At initialisation the network is the final
affine map of its input: deep stacks start as the identity and train stably.

Used in: chapter 14.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from harmonia.config import check_int, check_tensor

__all__ = ["FcZero"]


class FcZero(nn.Module):
    """``FcZero([w, w, ..., w, w_out])``: ``len(widths) - 2`` residual layers of width ``w`` with zero-initialised
    gains, then ``Linear(w, w_out)``. Input (..., w) -> (..., w_out).

    Parameters
    ----------
    widths : sequence of int, at least two; all but the last equal
    slope : float
        Negative slope of the LeakyReLU (0.01).
    """

    def __init__(self, widths: Sequence[int], slope: float = 0.01) -> None:
        super().__init__()
        widths = [check_int(w, "widths") for w in widths]
        if len(widths) < 2:
            raise ValueError(f"widths: expected at least an input and an output width, got {widths}")
        if len(set(widths[:-1])) != 1:
            raise ValueError(f"widths: expected equal widths before the last (residual layers), got {widths}")
        w = widths[0]
        self.layers = nn.ModuleList(nn.Linear(w, w) for _ in range(len(widths) - 2))
        self.alphas = nn.Parameter(torch.zeros(len(widths) - 2))
        self.out = nn.Linear(w, widths[-1])
        self.act = nn.LeakyReLU(slope)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        W = self.out.weight
        check_tensor(h, "h", shape=("...", W.shape[1]), dtype=W.dtype, finite=False, like=W)
        for alpha, layer in zip(self.alphas, self.layers):
            h = h + alpha * self.act(layer(h))
        return self.out(h)
