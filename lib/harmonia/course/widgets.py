"""Widget factories. A widget is a set of controls bound to a *plain function*
``callback(**values) -> matplotlib Figure``; the factory only wires them together.

The callback is an ordinary, importable function (in ``harmonia.course.demos.<slug>``), so the
tests call it directly, and can also drive the widget headless: setting a control's ``.value``
re-runs the callback and stores its figure in ``widget.result``.

In a chapter, a widget cell carries ``# NBVAL_IGNORE_OUTPUT`` (its output is interactive).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as W
from matplotlib.figure import Figure

from harmonia.course.plots import show

__all__ = ["float_slider", "log_slider", "int_slider", "dropdown", "interactive_figure"]

_STYLE = {"description_width": "initial"}
_LAYOUT = {"width": "420px"}


def float_slider(value: float, min: float, max: float, step: float, description: str) -> W.FloatSlider:
    """A float slider that updates on release (each update recomputes a figure)."""
    if not min <= value <= max:
        raise ValueError(f"value: expected a number in [{min}, {max}], got {value}")
    return W.FloatSlider(
        value=value, min=min, max=max, step=step, description=description,
        continuous_update=False, style=_STYLE, layout=_LAYOUT, readout_format=".3g",
    )


def log_slider(value: float, min_exp: float, max_exp: float, description: str, step: float = 0.05) -> W.FloatLogSlider:
    """A log-scale slider over ``[10**min_exp, 10**max_exp]``."""
    if not 10**min_exp <= value <= 10**max_exp:
        raise ValueError(f"value: expected a number in [1e{min_exp}, 1e{max_exp}], got {value}")
    return W.FloatLogSlider(
        value=value, base=10, min=min_exp, max=max_exp, step=step, description=description,
        continuous_update=False, style=_STYLE, layout=_LAYOUT, readout_format=".3g",
    )


def int_slider(value: int, min: int, max: int, description: str, step: int = 1) -> W.IntSlider:
    """An integer slider that updates on release."""
    if not min <= value <= max:
        raise ValueError(f"value: expected an int in [{min}, {max}], got {value}")
    return W.IntSlider(
        value=value, min=min, max=max, step=step, description=description,
        continuous_update=False, style=_STYLE, layout=_LAYOUT,
    )


def dropdown(options: Sequence[Any], value: Any, description: str) -> W.Dropdown:
    """A dropdown; ``options`` may be values or ``(label, value)`` pairs."""
    return W.Dropdown(options=options, value=value, description=description, style=_STYLE)


def interactive_figure(
    callback: Callable[..., Figure],
    alt: str | Callable[..., str],
    **controls: W.ValueWidget,
) -> W.interactive:
    """Bind controls to a figure-making callback.

    Parameters
    ----------
    callback : callable
        ``callback(**values) -> Figure``; a plain function, tested without widgets.
    alt : str or callable
        Alt text of the figure, or ``alt(**values) -> str``.
    **controls
        One widget per keyword argument of ``callback``.

    Returns
    -------
    ipywidgets.interactive
        Display it as the last value of the cell. ``widget.result`` holds the last figure (closed
        after display); setting a control's ``.value`` recomputes it.
    """
    if not controls:
        raise ValueError("controls: expected at least one widget, got none")
    for name, control in controls.items():
        if not isinstance(control, W.ValueWidget):
            raise TypeError(f"{name}: expected an ipywidgets value widget, got {type(control).__name__}")

    def render(**values: Any) -> Figure:
        fig = callback(**values)
        if not isinstance(fig, Figure):
            raise TypeError(f"callback: expected it to return a matplotlib Figure, got {type(fig).__name__}")
        show(fig, alt=alt(**values) if callable(alt) else alt)
        return fig

    render.__name__ = getattr(callback, "__name__", "render")
    return W.interactive(render, **controls)
