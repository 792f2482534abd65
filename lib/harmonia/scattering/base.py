"""What the 1D, 2D and 3D scattering modules share: input validation, batch flattening, metadata."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from harmonia.config import check_tensor

__all__ = ["ScatteringBase"]


class ScatteringBase(nn.Module):
    """Base class of the scattering modules.

    Subclasses set ``self.shape`` (the signal shape, a tuple of ``signal_ndim`` ints) and implement
    ``_forward(x)`` on a ``(B, *shape)`` tensor, ``meta()`` and ``output_size()``.
    """

    signal_ndim: int = 1
    shape: tuple[int, ...]
    #: whether ``_forward`` handles an empty batch (B = 0); if not, an empty input is rejected up front
    empty_batch_ok: bool = False

    def _check_input(self, x: object) -> torch.Tensor:
        """Validate ``x``: a real float tensor of shape ``(..., *self.shape)``, finite, on the
        device of the module's buffers."""
        check_tensor(x, "x", dtype=(torch.float32, torch.float64), min_ndim=self.signal_ndim,
                     nonempty=not self.empty_batch_ok)
        if tuple(x.shape[-self.signal_ndim :]) != tuple(self.shape):
            raise ValueError(
                f"x: expected a tensor whose last {self.signal_ndim} dimension(s) are {tuple(self.shape)} "
                f"(the shape this {type(self).__name__} was built for), got shape {tuple(x.shape)}"
            )
        check_tensor(x, "x")  # finite
        buffer = next(iter(self.buffers()), None)
        if buffer is not None and buffer.device != x.device:
            raise ValueError(
                f"x: expected a tensor on {buffer.device} (where this module's filters are; use .to(device)), "
                f"got one on {x.device}"
            )
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scattering coefficients of ``x`` of shape ``(..., *shape)``; see the subclass for the
        output shape. Leading batch dimensions are flattened, computed at once and restored."""
        x = self._check_input(x)
        batch = x.shape[: x.ndim - self.signal_ndim]
        flat = x.reshape(-1, *self.shape)
        out = self._forward(flat)
        return out.reshape(*batch, *out.shape[1:])

    def _forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def meta(self) -> list[dict[str, Any]]:  # pragma: no cover - abstract
        """One dict per output channel (``order`` and the path's scales/orientations)."""
        raise NotImplementedError

    def output_size(self) -> int:  # pragma: no cover - abstract
        """Number of output channels."""
        raise NotImplementedError
