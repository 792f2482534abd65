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

__all__ = ["float_slider", "log_slider", "int_slider", "dropdown", "interactive_figure", "InteractiveFigure", "RUN_THE_CELL"]

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


#: what a notebook shows for a widget whose cell has not run in the current kernel (saved notebooks keep no widget
#: state, so JupyterLab falls back to this text)
RUN_THE_CELL = "Interactive figure: run this cell (Shift+Enter) to use its controls."


class InteractiveFigure(W.interactive):
    """:class:`ipywidgets.interactive` whose text form tells the reader to run the cell, instead of the raw
    ``interactive(children=(FloatSlider(...`` repr a saved notebook would show."""

    def __repr__(self) -> str:
        return RUN_THE_CELL


def interactive_figure(
    callback: Callable[..., Figure],
    alt: str | Callable[..., str],
    inactive: Callable[..., dict[str, str]] | None = None,
    **controls: W.ValueWidget,
) -> W.interactive:
    """Bind controls to a figure-making callback.

    Parameters
    ----------
    callback : callable
        ``callback(**values) -> Figure``; a plain function, tested without widgets.
    alt : str or callable
        Alt text of the figure, or ``alt(**values) -> str``.
    inactive : callable, optional
        ``inactive(**values) -> {control name: reason}``: the controls that have no effect for the current values.
        They are disabled (greyed out) and the reasons are shown under the controls, so a student never moves a
        control that does nothing without being told why.
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

    note = W.HTML("")

    def update_controls(values: dict[str, Any]) -> None:
        reasons = inactive(**values) if inactive is not None else {}
        unknown = set(reasons) - set(controls)
        if unknown:
            raise ValueError(f"inactive: expected names of controls {sorted(controls)}, got {sorted(unknown)}")
        for name, control in controls.items():
            control.disabled = name in reasons
        note.value = "<br>".join(
            f"<i>{controls[name].description or name}: no effect here ({reason})</i>" for name, reason in reasons.items()
        )

    def render(**values: Any) -> Figure:
        update_controls(values)
        fig = callback(**values)
        if not isinstance(fig, Figure):
            raise TypeError(f"callback: expected it to return a matplotlib Figure, got {type(fig).__name__}")
        show(fig, alt=alt(**values) if callable(alt) else alt)
        return fig

    render.__name__ = getattr(callback, "__name__", "render")
    update_controls({name: control.value for name, control in controls.items()})  # a bad `inactive` fails here
    widget = InteractiveFigure(render, **controls)
    if inactive is not None:  # the note sits between the controls and the figure
        widget.children = (*widget.children[:-1], note, widget.children[-1])
    widget.note = note
    return widget
