"""``setup("NN")``: the first code cell of every chapter.

It seeds Python, NumPy and torch, selects matplotlib's inline PNG backend, applies the course plot
style and prints a short, stable banner (chapter title from the manifest, mode, device class).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harmonia import config
from harmonia.course import plots
from harmonia.course.manifest import Chapter, ManifestError, get_chapter, load_manifest
from harmonia.course.settings import ChapterSettings, current

__all__ = ["Session", "setup", "banner"]


@dataclass(frozen=True)
class Session:
    """What ``setup`` configured: the chapter, its settings (mode, device, dtype) and the seeded generator."""

    chapter: Chapter | None
    chapter_id: str
    settings: ChapterSettings
    seed: int
    generator: torch.Generator

    @property
    def mode(self) -> str:
        """``settings.mode``."""
        return self.settings.mode

    @property
    def device(self) -> torch.device:
        """``settings.device``."""
        return self.settings.device


def _in_ipython():
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return None
    return get_ipython()


def banner(chapter_id: str, chapter: Chapter | None, mode: str, device: torch.device) -> str:
    """The one-line banner ``setup`` prints, e.g.
    ``Harmonia 00 · Start here: how the course works | mode: fast | device: cpu``."""
    title = f" · {chapter.title}" if chapter is not None else ""
    return f"Harmonia {chapter_id}{title} | mode: {mode} | device: {device.type}"


def setup(chapter_id: str, seed: int = 0, *, quiet: bool = False, mode: str | None = None,
          device: str | torch.device | None = None) -> Session:
    """Prepare a chapter: seeds, inline PNG figures, course style, banner.

    Parameters
    ----------
    chapter_id : str
        The chapter's two-digit id, e.g. ``"05"``.
    seed : int
        Seed for Python, NumPy and torch (default 0, so stored outputs are reproducible).
    quiet : bool
        Do not print the banner.
    mode, device : optional
        Override ``HARMONIA_MODE`` / ``HARMONIA_DEVICE`` (see :func:`harmonia.course.settings.current`).

    Returns
    -------
    Session
    """
    if isinstance(chapter_id, int) and not isinstance(chapter_id, bool):
        chapter_id = f"{chapter_id:02d}"
    if not isinstance(chapter_id, str) or len(chapter_id) != 2 or not chapter_id.isdigit():
        raise ValueError(f"chapter_id: expected a two-digit string such as '05', got {chapter_id!r}")
    settings = current(mode=mode, device=device)
    generator = config.seed_everything(seed)
    try:
        chapter: Chapter | None = get_chapter(chapter_id, load_manifest())
    except ManifestError:
        chapter = None
    shell = _in_ipython()
    if shell is not None and hasattr(shell, "run_line_magic"):
        shell.run_line_magic("matplotlib", "inline")
        try:
            from matplotlib_inline.backend_inline import set_matplotlib_formats

            set_matplotlib_formats("png")
        except ImportError:  # pragma: no cover - comes with ipykernel
            pass
    plots.apply_style()
    if not quiet:
        print(banner(chapter_id, chapter, settings.mode, settings.device))
    return Session(chapter, chapter_id, settings, seed, generator)
