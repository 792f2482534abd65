"""Plot helpers shared by every chapter: the course style, ``show`` with alt text, image grids,
spectra and curves.

Figures are PNG (matplotlib's inline backend), opaque, with a fixed size, a title and labelled
axes. ``show(fig, alt=...)`` is how a chapter displays a figure: it renders the PNG, attaches the
alt text to the output twice -- as its ``text/plain`` fallback (what text-only front ends and
screen readers of exported notebooks get, and what nbval compares) and as
``metadata["image/png"]["alt"]`` (read by exporters and by the course's notebook tests) -- and
closes the figure so nothing is displayed twice.
"""

from __future__ import annotations

import base64
import dataclasses
import io
from collections.abc import Sequence
from typing import TypeVar

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

T = TypeVar("T")

__all__ = [
    "PALETTE",
    "STYLE",
    "apply_style",
    "show",
    "to_host",
    "figure_png",
    "image_grid",
    "plot_spectrum",
    "plot_curves",
]

#: Okabe-Ito colour-blind-safe palette (black first is avoided for lines).
PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)

#: The course's matplotlib style: opaque white backgrounds, colour-blind-safe cycle, readable sizes.
STYLE: dict[str, object] = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "axes.prop_cycle": mpl.cycler(color=list(PALETTE)),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "image.cmap": "viridis",
    "figure.constrained_layout.use": True,
}


def apply_style() -> None:
    """Apply :data:`STYLE` to matplotlib's global rcParams (called by ``setup``)."""
    mpl.rcParams.update(STYLE)


def figure_png(fig: Figure) -> bytes:
    """The figure rendered as PNG bytes (opaque background, the figure's own dpi)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", facecolor=fig.get_facecolor(), transparent=False)
    return buffer.getvalue()


def _check_alt(alt: object) -> str:
    if not isinstance(alt, str) or len(alt.strip()) < 10:
        raise ValueError(f"alt: expected a sentence describing the figure (>= 10 characters), got {alt!r}")
    return alt.strip()


def show(fig: Figure, alt: str) -> None:
    """Display ``fig`` as a PNG with alt text, then close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure (give it a title and axis labels).
    alt : str
        A sentence that says what the figure shows, for readers who cannot see it.

    Outside IPython (a script, a test) the figure is only closed, after its alt text was checked.
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"fig: expected a matplotlib Figure, got {type(fig).__name__}")
    try:
        alt = _check_alt(alt)
    except ValueError:
        plt.close(fig)
        raise
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        get_ipython = None  # type: ignore[assignment]
    try:
        if get_ipython is not None and get_ipython() is not None:
            bundle = {
                "image/png": base64.b64encode(figure_png(fig)).decode("ascii"),
                "text/plain": f"<Figure: {alt}>",
            }
            display(bundle, raw=True, metadata={"image/png": {"alt": alt}})
    finally:
        plt.close(fig)


def to_host(obj: T) -> T:
    """``obj`` with every tensor it holds moved to the CPU and detached, for drawing.

    Walks tensors, dicts, lists, tuples and dataclass instances (rebuilt with ``dataclasses.replace``);
    anything else is returned as is. Demos compute on ``settings.device``; their plot functions call
    this first, since matplotlib reads only host memory.
    """
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()  # type: ignore[return-value]
    if isinstance(obj, dict):
        return type(obj)((k, to_host(v)) for k, v in obj.items())  # type: ignore[return-value]
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(to_host(v) for v in obj)  # type: ignore[return-value]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {f.name: to_host(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
        return dataclasses.replace(obj, **changes)
    return obj


def _to_numpy(x: object) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu")
        if x.is_complex():
            x = x.abs()
        return x.numpy()
    return np.asarray(x)


def image_grid(
    images: Sequence[object] | torch.Tensor,
    titles: Sequence[str] | None = None,
    *,
    ncols: int | None = None,
    cmap: str = "viridis",
    suptitle: str | None = None,
    size: float = 2.2,
    shared_range: bool = False,
) -> Figure:
    """A grid of 2-D images (tensors or arrays of shape (H, W); complex ones are shown by modulus).

    Parameters
    ----------
    images : sequence of (H, W) arrays or a (B, H, W) tensor
    titles : sequence of str, optional
        One per image.
    ncols : int, optional
        Columns (default: up to 6).
    shared_range : bool
        Use one colour range for all images (to compare intensities).
    """
    arrays = [_to_numpy(im) for im in images]
    if not arrays:
        raise ValueError("images: expected at least one image, got none")
    for i, a in enumerate(arrays):
        if a.ndim != 2:
            raise ValueError(f"images[{i}]: expected a 2-D image (H, W), got shape {a.shape}")
    if titles is not None and len(titles) != len(arrays):
        raise ValueError(f"titles: expected {len(arrays)} titles, got {len(titles)}")
    n = len(arrays)
    if ncols is not None and (isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1):
        raise ValueError(f"ncols: expected a positive int, got {ncols!r}")
    ncols = min(n, 6) if ncols is None else ncols
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if suptitle else 0)), squeeze=False)
    vmin = min(float(a.min()) for a in arrays) if shared_range else None
    vmax = max(float(a.max()) for a in arrays) if shared_range else None
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(arrays[k], cmap=cmap, vmin=vmin, vmax=vmax)
            if titles is not None:
                ax.set_title(titles[k], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_spectrum(
    signal: object,
    *,
    sample_rate: float = 1.0,
    ax: plt.Axes | None = None,
    label: str | None = None,
    db: bool = True,
    title: str = "Power spectrum",
) -> Figure:
    """Plot the one-sided power spectrum :math:`|\\hat x[k]|^2 / N` of a 1-D real signal.

    Parameters
    ----------
    signal : array or tensor of shape (N,)
    sample_rate : float
        Samples per unit of time; frequencies are in cycles per unit.
    db : bool
        Power in decibels (``10 log10``) rather than linear.
    """
    x = _to_numpy(signal).astype(float)
    if x.ndim != 1:
        raise ValueError(f"signal: expected a 1-D signal (N,), got shape {x.shape}")
    n = x.shape[0]
    power = np.abs(np.fft.rfft(x)) ** 2 / n
    freqs = np.fft.rfftfreq(n, d=1.0 / sample_rate)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.2))
    else:
        fig = ax.figure
    values = 10 * np.log10(power + 1e-20) if db else power
    ax.plot(freqs, values, label=label)
    ax.set_xlabel("frequency (cycles per unit)" if sample_rate != 1.0 else "frequency (cycles per sample)")
    ax.set_ylabel("power (dB)" if db else "power")
    ax.set_title(title)
    if label:
        ax.legend()
    return fig


def plot_curves(
    curves: dict[str, object],
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    logy: bool = False,
    ax: plt.Axes | None = None,
    x: object | None = None,
) -> Figure:
    """Plot named 1-D curves (loss histories, errors) on one axis, with a legend.

    Parameters
    ----------
    curves : dict of name -> (T,) array or tensor
    x : (T,) array, optional
        Shared abscissa (default 0..T-1 for each curve).
    """
    if not curves:
        raise ValueError("curves: expected at least one named curve, got none")
    if ax is None:
        fig, ax = plt.subplots()
    else:
        fig = ax.figure
    for name, values in curves.items():
        y = _to_numpy(values).astype(float).ravel()
        xs = np.arange(len(y)) if x is None else _to_numpy(x)
        ax.plot(xs, y, label=name)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    return fig
