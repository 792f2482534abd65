"""Each chapter as a student meets it: JupyterLab in headless Chromium runs all cells, then every widget control is
moved and its figure must change, with no error output and no console error. Screenshots: build/browser/NN_slug/."""

from __future__ import annotations

import re
import time

import pytest

from conftest import SHOTS, chapters_to_run

from harmonia.course.widgets import RUN_THE_CELL

expect = pytest.importorskip("playwright.sync_api", reason="Playwright comes with the browser extra").expect

RUN_ALL_TIMEOUT_S = 600
REDRAW_TIMEOUT_S = 120

# --- what the page tells about the notebook, read from JupyterLab's own models (window.jupyterapp) -------------

_NOTEBOOK_STATE = """(name) => {
  const app = window.jupyterapp;
  if (!app) return {ready: false, why: 'no app'};
  const panel = app.shell.currentWidget;
  if (!panel || !panel.context || !panel.context.path.endsWith(name)) return {ready: false, why: 'not open'};
  const session = panel.sessionContext.session;
  const kernel = session ? session.kernel : null;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  const problems = [];
  cells.forEach((c, i) => {
    for (const out of c.model.outputs.toJSON()) {
      if (out.output_type === 'error') problems.push(`code cell ${i}: ${out.ename}: ${out.evalue}`);
      if (out.output_type === 'stream' && out.name === 'stderr') problems.push(`code cell ${i} stderr: ${out.text}`);
    }
  });
  return {
    ready: panel.context.isReady && !!kernel,
    status: kernel ? kernel.status : 'none',
    pending: cells.filter(c => c.model.executionCount === null).length,
    cells: cells.length,
    widgets: cells.filter(c => /interactive_figure\\(/.test(c.model.sharedModel.getSource())).length,
    problems,
  };
}"""

# the figure (or text) a widget shows now: its Output child's images and text
_WIDGET_SIGNATURE = """(el) => {
  const out = el.querySelector('.widget-output');
  if (!out) return null;
  const imgs = [...out.querySelectorAll('img')].map(i => i.src.length + ':' + i.src.slice(-200) + '|' + i.alt);
  const text = out.innerText.trim();
  return imgs.length || text ? imgs.join(';') + '#' + text : null;
}"""

_WIDGET_ERRORS = """(el) => [...el.querySelectorAll('.widget-output [data-mime-type="application/vnd.jupyter.stderr"]')]
  .map(e => e.innerText.slice(0, 2000))"""


def _state(page, name: str) -> dict:
    return page.evaluate(_NOTEBOOK_STATE, name)


def _open(page, lab, name: str) -> None:
    base, token = lab
    # ?reset: a clean workspace (JupyterLab would reopen the chapters of earlier tests beside this one)
    page.goto(f"{base}/lab/tree/chapters/{name}?reset&token={token}")
    deadline = time.monotonic() + 180
    while True:
        state = _state(page, name)
        if state["ready"] and state["status"] == "idle":
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{name} did not open with an idle kernel in 180 s: {state}")
        time.sleep(0.5)


def _run_all(page, name: str) -> dict:
    """Clear outputs (so pending cells show as unexecuted), run all cells, wait until every code cell has run and
    the kernel is idle; fail on the first error or stderr output."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + RUN_ALL_TIMEOUT_S
    while True:
        state = _state(page, name)
        assert not state["problems"], f"{name}: " + "\n".join(state["problems"])[:4000]
        if state["pending"] == 0 and state["status"] == "idle":
            return state
        if time.monotonic() > deadline:
            pytest.fail(f"{name}: cells still running after {RUN_ALL_TIMEOUT_S} s: {state}")
        time.sleep(1.0)


def _controls(widget) -> list:
    """The sliders and dropdowns of one interactive figure, in order."""
    return widget.locator(":scope > .widget-slider, :scope > .widget-dropdown").all()


def _label(control) -> str:
    return (control.locator(".widget-label").first.inner_text() or "?").strip()


def _is_disabled(control) -> bool:
    return control.evaluate("""(c) => {
      const s = c.querySelector('select'); if (s) return s.disabled;
      const t = c.querySelector('.noUi-target'); return !!t && t.hasAttribute('disabled');
    }""")


def _move(control) -> str:
    """Move one control as a student would: a slider one step with the keyboard (right, or left at the top end), a
    dropdown to its next option. Returns what was done."""
    select = control.locator("select")
    if select.count():
        n = select.evaluate("s => s.options.length")
        current = select.evaluate("s => s.selectedIndex")
        target = (current + 1) % n
        select.select_option(index=target)
        return f"option {current} -> {target}"
    handle = control.locator(".noUi-handle").first
    now, top = (float(handle.get_attribute(a)) for a in ("aria-valuenow", "aria-valuemax"))
    key = "ArrowLeft" if now >= top else "ArrowRight"
    handle.focus()
    handle.press(key)
    return f"{key} from {now:g}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:40] or "control"


def test_student_lab_front_door(page, lab):
    """(Runs first, on the untouched copy.) What a student sees on opening chapter 00: the widget cells' stored text says to run them, no pop-up
    (news, updates), and no teacher tooling (nbgrader's menu, Validate button, Create Assignment sidebar)."""
    name = "00_start_here.ipynb"
    _open(page, lab, name)
    cells = page.locator(".jp-CodeCell", has_text="interactive_figure(").all()
    assert cells, f"{name}: no widget cell"
    for cell in cells:  # JupyterLab renders cells as they scroll into view
        cell.scroll_into_view_if_needed()
        expect(cell.locator(".jp-OutputArea-output").first).to_have_text(RUN_THE_CELL, timeout=30_000)
    page.wait_for_timeout(3000)  # the news/update prompt, when on, shows within a second or two of loading
    toasts = page.locator(".Toastify__toast, .jp-Notification-Toast").all_inner_texts()
    assert not toasts, f"notifications shown to the student: {toasts}"
    menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
    assert "Nbgrader" not in menus and "Formgrader" not in " ".join(menus), menus
    assert page.locator("button:has-text('Validate')").count() == 0
    assert page.locator("[title*='Create Assignment'], [data-id*='nbgrader']").count() == 0
    page.screenshot(path=str(SHOTS / "00_start_here" / "front_door.png"))
    assert not page.errors, "the browser console reported errors:\n" + "\n".join(page.errors)[:4000]


@pytest.mark.parametrize("name", chapters_to_run())
def test_chapter_runs_and_every_control_redraws(page, lab, name):
    shots = SHOTS / name.removesuffix(".ipynb")
    shots.mkdir(parents=True, exist_ok=True)
    _open(page, lab, name)
    state = _run_all(page, name)
    panel = page.evaluate("() => window.jupyterapp.shell.currentWidget.id")
    widgets = page.locator(f"[id='{panel}'] .widget-interact").all()
    assert len(widgets) == state["widgets"], f"{name}: {state['widgets']} widget cells, {len(widgets)} widgets shown"
    moved = 0
    for k, widget in enumerate(widgets):
        widget.scroll_into_view_if_needed()
        page.wait_for_function(f"(el) => ({_WIDGET_SIGNATURE})(el) !== null", arg=widget.element_handle(),
                               timeout=REDRAW_TIMEOUT_S * 1000)
        # JupyterLab 4's image renderer drops the `alt` metadata of a PNG output (jupyter/enhancement-proposals#120),
        # so the figure's alt text lives in its text/plain form, not in the <img>: only check that a figure shows
        assert widget.locator(".widget-output img").count() >= 1, f"{name} widget {k}: no figure shown"
        widget.screenshot(path=str(shots / f"w{k}_0_before.png"))
        for j, control in enumerate(_controls(widget)):
            label = _label(control)
            if _is_disabled(control):
                note = widget.locator(".widget-html").inner_text()
                assert label.split(" ")[0].lower() in note.lower() or "no effect" in note, \
                    f"{name} widget {k}: control {label!r} is disabled and the note does not say why: {note!r}"
                continue
            before = widget.evaluate(_WIDGET_SIGNATURE)
            what = _move(control)
            try:
                page.wait_for_function(
                    f"([el, before]) => {{ const s = ({_WIDGET_SIGNATURE})(el); return s !== null && s !== before; }}",
                    arg=[widget.element_handle(), before], timeout=REDRAW_TIMEOUT_S * 1000)
            except Exception as err:  # playwright's TimeoutError
                widget.screenshot(path=str(shots / f"w{k}_{j + 1}_{_slug(label)}_stuck.png"))
                pytest.fail(f"{name} widget {k}: moving {label!r} ({what}) did not change the figure in "
                            f"{REDRAW_TIMEOUT_S} s ({type(err).__name__})")
            errors = widget.evaluate(_WIDGET_ERRORS)
            assert not errors, f"{name} widget {k}: moving {label!r} ({what}) gave an error:\n{errors[0]}"
            widget.screenshot(path=str(shots / f"w{k}_{j + 1}_{_slug(label)}.png"))
            moved += 1
    state = _state(page, name)
    assert not state["problems"], f"{name}: " + "\n".join(state["problems"])[:4000]
    assert not page.errors, f"{name}: the browser console reported errors:\n" + "\n".join(page.errors)[:4000]
    assert moved >= len(widgets), f"{name}: only {moved} controls moved in {len(widgets)} widgets"


_CELL_TEXT = """([name, marker]) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.widgets;
  const i = cells.findIndex(c => c.model.sharedModel.getSource().includes(marker));
  if (i < 0) return null;
  const text = c => c.model.outputs.toJSON().map(o => o.text || (o.data && o.data['text/plain']) || '').join('');
  return {index: i, source: cells[i].model.sharedModel.getSource(), count: cells[i].model.executionCount,
          next: text(cells[i + 1]), nextCount: cells[i + 1].model.executionCount,
          status: panel.sessionContext.session.kernel.status};
}"""


def _answer_and_check(page, name: str, line: str, new_line: str) -> str:
    """Edit the exercise line ``line`` into ``new_line`` with the keyboard, run the cell and its check cell with
    Shift+Enter, and return the check cell's output."""
    before = page.evaluate(_CELL_TEXT, [name, line.strip()])
    assert before is not None, f"{name}: no cell contains {line.strip()!r}"
    editor_line = page.locator(".jp-Cell .cm-line", has_text=line.strip()).first
    editor_line.click()
    page.keyboard.press("End")
    page.keyboard.press("Shift+Home")
    page.keyboard.type(new_line.strip())
    after = page.evaluate(_CELL_TEXT, [name, new_line.strip()])
    assert after is not None and new_line in after["source"].splitlines(), \
        f"{name}: the edit did not give {new_line!r}: {after}"
    page.keyboard.press("Shift+Enter")  # runs the exercise cell, selects the check cell
    page.keyboard.press("Shift+Enter")  # runs the check cell
    page.wait_for_function(
        f"""([name, marker, count]) => {{ const s = ({_CELL_TEXT})([name, marker]);
            return s && s.nextCount !== null && s.nextCount > count + 1 && s.status === 'idle'; }}""",
        arg=[name, new_line.strip(), before["count"]], timeout=REDRAW_TIMEOUT_S * 1000)
    return page.evaluate(_CELL_TEXT, [name, new_line.strip()])["next"]


def test_chapter_00_exercise_flow(page, lab):
    """A wrong answer to exercise 00.1 shows FAIL with a hint; the right one PASS, in the browser."""
    name = "00_start_here.ipynb"
    _open(page, lab, name)
    _run_all(page, name)
    right, wrong = "    return x @ A.T - b", "    return x @ A.T + b"
    out = _answer_and_check(page, name, right, wrong)
    assert "[00.1" in out and "FAIL" in out and "Hint:" in out, out
    page.screenshot(path=str(SHOTS / "00_start_here" / "exercise_fail.png"))
    out = _answer_and_check(page, name, wrong, right)
    assert "[00.1" in out and "PASS" in out and "FAIL" not in out, out
    page.screenshot(path=str(SHOTS / "00_start_here" / "exercise_pass.png"))
    assert not page.errors, "the browser console reported errors:\n" + "\n".join(page.errors)[:4000]
