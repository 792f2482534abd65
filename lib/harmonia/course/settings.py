"""Chapter settings: the one place a chapter learns its mode, device and dtype.

:func:`current` is the only caller of :func:`harmonia.config.mode` and :func:`harmonia.config.device`
in the course. ``setup("NN")`` calls it once and keeps the result as ``session.settings``; each
chapter's demo module extends it with the experiment's sizes (``demo.settings(session.settings)``),
and every demo builds its tensors and models on ``settings.device``.

Example
-------
>>> from harmonia.course.settings import current
>>> s = current(mode="fast", device="cpu")
>>> s.mode, s.device.type, s.full
('fast', 'cpu', False)
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

import torch

from harmonia import config

__all__ = ["ChapterSettings", "current", "extend"]


def _cpu() -> torch.device:
    return torch.device("cpu")


@dataclass(frozen=True)
class ChapterSettings:
    """The run configuration of a chapter.

    Attributes
    ----------
    mode : {"fast", "full"}
        Fast mode runs every chapter on a laptop CPU in <= 90 s; full mode is closer to the paper's
        scale and meant for a GPU.
    device : torch.device
        Where the demos build their tensors and models.
    dtype : torch.dtype
        The working floating dtype of data and models (float32 by default). Closed-form and
        noisy-quadratic experiments that need float64 say so and keep it.
    """

    mode: str = "fast"
    device: torch.device = field(default_factory=_cpu)
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        config.check_in(self.mode, "mode", config.MODES)
        if not isinstance(self.device, torch.device):
            raise TypeError(f"device: expected a torch.device, got {type(self.device).__name__}")
        if self.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype: expected torch.float32 or torch.float64, got {self.dtype}")

    @property
    def full(self) -> bool:
        """``True`` in full mode."""
        return self.mode == "full"

    def put(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` on this device; floating tensors of another precision are cast to ``dtype``,
        float64 tensors stay float64 only when ``dtype`` is float64."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x: expected a torch.Tensor, got {type(x).__name__}")
        if x.is_floating_point():
            return x.to(device=self.device, dtype=self.dtype)
        return x.to(device=self.device)


def current(mode: str | None = None, device: str | torch.device | None = None,
            dtype: torch.dtype = torch.float32) -> ChapterSettings:
    """The chapter settings from the arguments, else from ``HARMONIA_MODE`` / ``HARMONIA_DEVICE``.

    Parameters
    ----------
    mode : {"fast", "full"}, optional
        Default: :func:`harmonia.config.mode` (``HARMONIA_MODE``, default ``"fast"``).
    device : str or torch.device, optional
        Default: :func:`harmonia.config.device` (``HARMONIA_DEVICE``, else CUDA when present, else CPU).
    dtype : torch.dtype
        float32 (default) or float64.
    """
    m = config.mode() if mode is None else mode
    if device is None:
        dev = config.device()
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {device!r}") from err
    return ChapterSettings(mode=m, device=dev, dtype=dtype)


S = TypeVar("S", bound=ChapterSettings)


def extend(cls: type[S], base: ChapterSettings | None, full_sizes: dict[str, Any] | None = None) -> S:
    """A chapter's ``Settings`` (a subclass of :class:`ChapterSettings` whose defaults are the fast
    sizes) carrying ``base``'s mode, device and dtype; in full mode ``full_sizes`` replace the
    defaults. ``base=None`` reads :func:`current`."""
    if base is None:
        base = current()
    if not isinstance(base, ChapterSettings):
        raise TypeError(f"base: expected ChapterSettings (e.g. session.settings), got {type(base).__name__}")
    common = {f.name: getattr(base, f.name) for f in fields(ChapterSettings)}
    return cls(**common, **((full_sizes or {}) if base.full else {}))
