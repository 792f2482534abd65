"""Tests of harmonia.course.plots (show, PNG, image grids, spectra, curves, style) and
harmonia.course.widgets (slider factories, interactive_figure driven headless)."""

from __future__ import annotations

import io
import logging

import ipywidgets as W
import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from harmonia.course import plots, widgets
from harmonia.course.demos import start_here

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ALT = "some alt text here"


def _figure() -> Figure:
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    ax.set_title("t")
    return fig


# ---------------------------------------------------------------------------------------------
# show, figure_png
# ---------------------------------------------------------------------------------------------
def test_show_outside_ipython_closes_figure():
    from IPython import get_ipython

    assert get_ipython() is None  # the premise: no IPython shell under pytest
    fig = _figure()
    other = _figure()
    assert fig.number in plt.get_fignums()
    assert plots.show(fig, alt="A line that goes down from left to right.") is None
    assert fig.number not in plt.get_fignums()
    assert other.number in plt.get_fignums()  # only that figure is closed


@pytest.mark.parametrize("alt", ["", "short", "   too short   ", None, 42])
def test_show_rejects_bad_alt_text(alt):
    fig = _figure()
    with pytest.raises(ValueError, match=r"^alt: expected a sentence describing the figure \(>= 10 characters\), got "):
        plots.show(fig, alt=alt)
    assert fig.number not in plt.get_fignums(), "a rejected figure is closed, not leaked"


def test_show_alt_text_is_stripped_before_length_check():
    with pytest.raises(ValueError, match="^alt: "):
        plots.show(_figure(), alt="   abc  def   " + " " * 20)  # 7 characters once stripped
    plots.show(_figure(), alt="  0123456789  ")  # exactly 10 once stripped: accepted


@pytest.mark.parametrize("obj", [None, "figure", np.zeros((2, 2))])
def test_show_rejects_non_figures(obj):
    with pytest.raises(TypeError) as info:
        plots.show(obj, alt=ALT)
    assert str(info.value) == f"fig: expected a matplotlib Figure, got {type(obj).__name__}"


def test_show_rejects_axes():
    fig, ax = plt.subplots()
    with pytest.raises(TypeError, match=r"^fig: expected a matplotlib Figure, got Axes"):
        plots.show(ax, alt=ALT)


def test_figure_png():
    fig = plt.figure(figsize=(2.0, 1.5), dpi=50)
    fig.add_subplot().plot([0, 1])
    data = plots.figure_png(fig)
    assert isinstance(data, bytes)
    assert data.startswith(PNG_MAGIC)
    # the IHDR chunk holds width and height: 2.0 in x 50 dpi = 100 px, 1.5 in x 50 dpi = 75 px
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (100, 75)
    assert fig.number in plt.get_fignums()  # rendering does not close


# ---------------------------------------------------------------------------------------------
# image_grid
# ---------------------------------------------------------------------------------------------
def test_image_grid_layout_and_titles():
    images = [np.full((4, 5), float(k)) for k in range(8)]
    titles = [f"im {k}" for k in range(8)]
    fig = plots.image_grid(images, titles, ncols=3, suptitle="eight images")
    axes = fig.axes
    assert len(axes) == 9  # 3 rows x 3 columns, the last one empty
    assert [ax.get_title() for ax in axes[:8]] == titles
    assert [len(ax.images) for ax in axes] == [1] * 8 + [0]
    assert all(not ax.axison for ax in axes)
    assert fig.get_suptitle() == "eight images"
    np.testing.assert_array_equal(axes[5].images[0].get_array(), images[5])


def test_image_grid_default_columns_and_batch_tensor():
    batch = torch.arange(7 * 3 * 3, dtype=torch.float32).reshape(7, 3, 3)
    fig = plots.image_grid(batch)
    assert len(fig.axes) == 12  # min(7, 6) = 6 columns, 2 rows
    assert all(ax.get_title() == "" for ax in fig.axes)
    np.testing.assert_array_equal(fig.axes[6].images[0].get_array(), batch[6].numpy())


def test_image_grid_shared_range():
    a, b = np.zeros((2, 2)), np.full((2, 2), 3.0)
    a[0, 0] = -1.0
    fig = plots.image_grid([a, b], shared_range=True)
    assert [ax.images[0].get_clim() for ax in fig.axes] == [(-1.0, 3.0), (-1.0, 3.0)]
    fig = plots.image_grid([a, b])
    assert [ax.images[0].get_clim() for ax in fig.axes] == [(-1.0, 0.0), (3.0, 3.0)]


def test_image_grid_complex_shown_by_modulus():
    z = torch.polar(torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64), torch.tensor([[0.3, -1.0], [2.5, 0.0]], dtype=torch.float64))
    fig = plots.image_grid([z])
    shown = np.asarray(fig.axes[0].images[0].get_array())
    assert not np.iscomplexobj(shown)
    np.testing.assert_allclose(shown, [[1.0, 2.0], [3.0, 4.0]], rtol=1e-12)


def test_image_grid_errors():
    with pytest.raises(ValueError, match=r"^images\[1\]: expected a 2-D image \(H, W\), got shape \(2, 2, 3\)$"):
        plots.image_grid([np.zeros((2, 2)), np.zeros((2, 2, 3))])
    with pytest.raises(ValueError, match=r"^images\[0\]: expected a 2-D image \(H, W\), got shape \(5,\)$"):
        plots.image_grid([torch.zeros(5)])
    with pytest.raises(ValueError, match=r"^titles: expected 2 titles, got 3$"):
        plots.image_grid([np.zeros((2, 2))] * 2, ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"^images: expected at least one image, got none$"):
        plots.image_grid([])
    with pytest.raises(ValueError, match=r"^ncols: expected a positive int, got 0$"):
        plots.image_grid([np.zeros((2, 2))], ncols=0)


# ---------------------------------------------------------------------------------------------
# plot_spectrum, plot_curves
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "sample_rate", "freq"), [(256, 1.0, 0.125), (200, 50.0, 7.0), (512, 8.0, 2.5)])
def test_plot_spectrum_peak_at_cosine_frequency(n, sample_rate, freq):
    t = np.arange(n) / sample_rate
    signal = torch.tensor(np.cos(2 * np.pi * freq * t + 0.4))
    fig = plots.plot_spectrum(signal, sample_rate=sample_rate, db=False)
    (line,) = fig.axes[0].get_lines()
    x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    assert len(x) == n // 2 + 1 and x[-1] == pytest.approx(sample_rate / 2)
    assert x[np.argmax(y)] == pytest.approx(freq)
    # an on-bin cosine of amplitude 1 has |X_k|^2 / N = N / 4 at its bin, (almost) nothing elsewhere
    assert y.max() == pytest.approx(n / 4, rel=1e-9)
    assert np.sort(y)[-2] < 1e-18 * n
    # dB is 10 log10 of the same power
    fig_db = plots.plot_spectrum(signal, sample_rate=sample_rate)
    y_db = np.asarray(fig_db.axes[0].get_lines()[0].get_ydata())
    np.testing.assert_allclose(y_db, 10 * np.log10(y + 1e-20))


def test_plot_spectrum_labels_axes_and_errors():
    fig = plots.plot_spectrum(np.ones(8), label="flat", title="T")
    ax = fig.axes[0]
    assert ax.get_title() == "T"
    assert ax.get_xlabel() == "frequency (cycles per sample)" and ax.get_ylabel() == "power (dB)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["flat"]
    fig2, ax2 = plt.subplots()
    assert plots.plot_spectrum(np.ones(8), ax=ax2, sample_rate=2.0, db=False) is fig2
    assert ax2.get_xlabel() == "frequency (cycles per unit)" and ax2.get_ylabel() == "power"
    with pytest.raises(ValueError, match=r"^signal: expected a 1-D signal \(N,\), got shape \(2, 4\)$"):
        plots.plot_spectrum(np.zeros((2, 4)))


def test_plot_curves_legend_and_data():
    loss = torch.tensor([4.0, 2.0, 1.0])
    fig = plots.plot_curves(
        {"train": loss, "test": [5.0, 3.0, 2.5]}, xlabel="epoch", ylabel="loss", title="Losses", logy=True
    )
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "test"]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title(), ax.get_yscale()) == ("epoch", "loss", "Losses", "log")
    train, test = ax.get_lines()
    np.testing.assert_array_equal(train.get_xdata(), [0, 1, 2])
    np.testing.assert_array_equal(train.get_ydata(), [4.0, 2.0, 1.0])
    np.testing.assert_array_equal(test.get_ydata(), [5.0, 3.0, 2.5])
    fig2 = plots.plot_curves({"a": np.ones(3)}, xlabel="x", ylabel="y", title="t", x=np.array([10, 20, 30]))
    np.testing.assert_array_equal(fig2.axes[0].get_lines()[0].get_xdata(), [10, 20, 30])
    assert fig2.axes[0].get_yscale() == "linear"
    with pytest.raises(ValueError, match=r"^curves: expected at least one named curve, got none$"):
        plots.plot_curves({}, xlabel="x", ylabel="y", title="t")


def test_apply_style():
    with mpl.rc_context():
        mpl.rcParams["axes.prop_cycle"] = mpl.cycler(color=["red"])
        mpl.rcParams["figure.facecolor"] = "black"
        plots.apply_style()
        colors = mpl.rcParams["axes.prop_cycle"].by_key()["color"]
        assert [to_hex(c) for c in colors] == [c.lower() for c in plots.PALETTE]
        assert len(plots.PALETTE) == 8 and plots.PALETTE[0] == "#0072B2"
        for key in ("figure.facecolor", "axes.facecolor", "savefig.facecolor"):
            assert to_hex(mpl.rcParams[key]) == "#ffffff", key
        fig, ax = plt.subplots()
        assert to_hex(fig.get_facecolor()) == "#ffffff" and to_hex(ax.get_facecolor()) == "#ffffff"
        (line,) = ax.plot([0, 1])
        assert to_hex(line.get_color()) == "#0072b2"
        # the rendered PNG is opaque: its top-left pixel is white with full alpha
        img = plt.imread(io.BytesIO(plots.figure_png(fig)))
        np.testing.assert_allclose(img[0, 0], [1.0, 1.0, 1.0, 1.0])
    assert mpl.rcParams["figure.facecolor"] != "black"  # rc_context restored the global style


# ---------------------------------------------------------------------------------------------
# widgets: factories
# ---------------------------------------------------------------------------------------------
def test_slider_factories_accept_in_range():
    s = widgets.float_slider(0.5, 0.0, 1.0, 0.1, "a")
    assert isinstance(s, W.FloatSlider)
    assert (s.value, s.min, s.max, s.step, s.description, s.continuous_update) == (0.5, 0.0, 1.0, 0.1, "a", False)
    k = widgets.log_slider(10.0, 0, 2, "kappa")
    assert isinstance(k, W.FloatLogSlider) and k.value == 10.0 and (k.min, k.max, k.base) == (0, 2, 10)
    n = widgets.int_slider(30, 5, 100, "steps")
    assert isinstance(n, W.IntSlider) and n.value == 30
    d = widgets.dropdown([("one", 1), ("two", 2)], 2, "pick")
    assert isinstance(d, W.Dropdown) and d.value == 2 and d.label == "two"
    # the boundaries are allowed
    assert widgets.float_slider(1.0, 0.0, 1.0, 0.1, "a").value == 1.0
    assert widgets.int_slider(5, 5, 100, "s").value == 5


@pytest.mark.parametrize(
    ("factory", "args", "message"),
    [
        (widgets.float_slider, (1.5, 0.0, 1.0, 0.1, "a"), r"^value: expected a number in \[0.0, 1.0\], got 1.5$"),
        (widgets.float_slider, (-0.1, 0.0, 1.0, 0.1, "a"), r"^value: expected a number in \[0.0, 1.0\], got -0.1$"),
        (widgets.log_slider, (1000.0, 0, 2, "k"), r"^value: expected a number in \[1e0, 1e2\], got 1000.0$"),
        (widgets.log_slider, (0.5, 0, 2, "k"), r"^value: expected a number in \[1e0, 1e2\], got 0.5$"),
        (widgets.int_slider, (4, 5, 100, "s"), r"^value: expected an int in \[5, 100\], got 4$"),
        (widgets.int_slider, (101, 5, 100, "s"), r"^value: expected an int in \[5, 100\], got 101$"),
    ],
)
def test_slider_factories_reject_out_of_range(factory, args, message):
    with pytest.raises(ValueError, match=message):
        factory(*args)


def test_interactive_figure_rejects_no_controls():
    with pytest.raises(ValueError, match=r"^controls: expected at least one widget, got none$"):
        widgets.interactive_figure(lambda: _figure(), alt=ALT)


@pytest.mark.parametrize(("control", "kind"), [(0.5, "float"), (W.Button(), "Button"), (W.VBox(), "VBox")])
def test_interactive_figure_rejects_non_value_widgets(control, kind):
    with pytest.raises(TypeError) as info:
        widgets.interactive_figure(lambda a: _figure(), alt=ALT, a=control)
    assert str(info.value) == f"a: expected an ipywidgets value widget, got {kind}"


# ---------------------------------------------------------------------------------------------
# widgets: driven headless
# ---------------------------------------------------------------------------------------------
def test_interactive_figure_headless():
    calls: list[float] = []
    alts: list[dict] = []

    def callback(a):
        calls.append(a)
        fig, ax = plt.subplots()
        ax.set_title(f"a = {a}")
        return fig

    def alt(**values):
        alts.append(values)
        return f"A figure for a = {values['a']}."

    slider = widgets.float_slider(0.5, 0.0, 1.0, 0.1, "a")
    w = widgets.interactive_figure(callback, alt=alt, a=slider)
    assert isinstance(w, W.interactive)
    assert calls == [0.5] and alts == [{"a": 0.5}]
    first = w.result
    assert isinstance(first, Figure) and first.axes[0].get_title() == "a = 0.5"
    assert first.number not in plt.get_fignums()  # shown, hence closed

    slider.value = 0.7
    assert calls == [0.5, 0.7] and alts[-1] == {"a": 0.7}
    assert isinstance(w.result, Figure) and w.result is not first
    assert w.result.axes[0].get_title() == "a = 0.7"
    assert w.kwargs == {"a": 0.7}
    assert plt.get_fignums() == []
    # before its cell runs (or in a saved notebook), the widget's text form says what to do
    assert repr(w) == widgets.RUN_THE_CELL and w._repr_mimebundle_()["text/plain"] == widgets.RUN_THE_CELL


def test_interactive_figure_with_static_alt_and_two_controls():
    calls = []

    def callback(a, n):
        calls.append((a, n))
        return _figure()

    n = widgets.int_slider(3, 1, 10, "n")
    widgets.interactive_figure(callback, alt=ALT, a=widgets.float_slider(0.2, 0.0, 1.0, 0.1, "a"), n=n)
    n.value = 7
    assert calls == [(0.2, 3), (0.2, 7)]


def test_interactive_figure_non_figure_result_is_logged_not_stored(caplog):
    calls = []

    def callback(a):
        calls.append(a)
        return _figure() if a < 0.8 else "not a figure"

    slider = widgets.float_slider(0.5, 0.0, 1.0, 0.1, "a")
    w = widgets.interactive_figure(callback, alt=ALT, a=slider)
    good = w.result
    assert isinstance(good, Figure)
    with caplog.at_level(logging.WARNING):
        slider.value = 0.9  # must not raise: ipywidgets logs the callback's exception
    assert calls == [0.5, 0.9]
    assert w.result is good  # the last good figure stays
    assert "Exception in interact callback" in caplog.text
    assert "callback: expected it to return a matplotlib Figure, got str" in caplog.text
    slider.value = 0.3  # and the widget recovers
    assert isinstance(w.result, Figure) and w.result is not good


def test_interactive_figure_bad_alt_text_is_logged_not_stored(caplog):
    slider = widgets.float_slider(0.5, 0.0, 1.0, 0.1, "a")
    with caplog.at_level(logging.WARNING):
        w = widgets.interactive_figure(lambda a: _figure(), alt="short", a=slider)
    assert w.result is None
    assert "alt: expected a sentence describing the figure" in caplog.text


def test_chapter_00_widget_diverges_at_lr_2_1():
    lr = widgets.float_slider(1.0, 0.05, 2.2, 0.05, "step η")
    w = widgets.interactive_figure(
        start_here.plot_gradient_descent,
        alt=start_here.gd_alt_text,
        lr=lr,
        kappa=widgets.log_slider(10.0, 0, 2, "condition number κ"),
        steps=widgets.int_slider(30, 5, 100, "steps"),
    )
    assert w.result.axes[1].get_title() == "Convergence"
    lr.value = 2.1
    fig = w.result
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert fig.axes[1].get_title().startswith("Divergence")
    assert "2.1" in fig.axes[0].get_legend().get_texts()[0].get_text()


def test_interactive_figure_disables_controls_without_effect():
    def callback(mode, level):
        fig, ax = plt.subplots()
        ax.set_title(f"{mode} {level}")
        return fig

    mode = widgets.dropdown(["plain", "leveled"], "plain", "mode")
    level = widgets.int_slider(1, 0, 5, "level")
    w = widgets.interactive_figure(callback, alt="A figure whose level matters only in leveled mode.",
                                   inactive=lambda mode, level: {"level": "plain mode has no level"} if mode == "plain" else {},
                                   mode=mode, level=level)
    assert level.disabled and not mode.disabled
    assert "level: no effect here (plain mode has no level)" in w.note.value and w.note in w.children
    assert w.children[-1] is w.out                                   # the figure stays last
    mode.value = "leveled"
    assert not level.disabled and w.note.value == ""
    with pytest.raises(ValueError, match="inactive: expected names of controls"):
        widgets.interactive_figure(callback, alt="A figure whose level matters only in leveled mode.",
                                   inactive=lambda mode, level: {"colour": "no such control"}, mode=mode, level=level)
    plt.close("all")
