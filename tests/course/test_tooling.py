"""The notebook tools on small notebooks: execute, student, nbgrader, timings, hygiene, and the
rules the hygiene check enforces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from harmonia.course import notebooks as nbt

ROOT = Path(__file__).resolve().parents[2]

SETUP = 'from harmonia.course import setup\n\nsession = setup("00")'
EXERCISE = 'def half(x):\n    """x / 2"""\n    ### BEGIN SOLUTION\n    return x / 2\n    ### END SOLUTION'


def _notebook(*sources: str) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[new_markdown_cell("# 00 · test")] + [new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return nb


def _write(tmp_path: Path, nb, name="00_tiny.ipynb") -> Path:
    return nbt.write_notebook(nb, tmp_path / name)


def _run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in nbt.NOTEBOOK_ENV}
    return subprocess.run([sys.executable, "-m", "harmonia.course", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """A small chapter executed once with the CLI (one kernel start for the module)."""
    tmp = tmp_path_factory.mktemp("tiny")
    nb = _notebook(
        SETUP,
        'import os\nprint(os.environ["HARMONIA_MODE"], os.environ["TQDM_DISABLE"], os.environ["PYTHONHASHSEED"])',
        "import matplotlib.pyplot as plt\nfrom harmonia.course import show\n\nfig, ax = plt.subplots()\n"
        "_ = ax.plot([0, 1], [1, 0])\nshow(fig, alt=\"A falling straight line from (0, 1) to (1, 0).\")",
        "# NBVAL_IGNORE_OUTPUT\nfrom harmonia.course import widgets\n\n"
        "widgets.interactive_figure(lambda a: plt.figure(), alt='an empty figure for a test', "
        "a=widgets.int_slider(1, 0, 3, 'a'))",
        EXERCISE,
        'from harmonia.course import check\n\nhalf = half',
    )
    path = _write(tmp, nb)
    proc = _run_cli("execute", str(path))
    return path, proc


def test_execute_stores_outputs_with_the_test_environment(executed):
    path, proc = executed
    assert proc.returncode == 0, proc.stderr
    assert f"executed {path}" in proc.stdout
    nb = nbt.read_notebook(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    assert code[0].outputs[0].text.startswith("Harmonia 00 · Start here")
    assert code[1].outputs[0].text.strip() == "fast 1 0"
    image = code[2].outputs[0]
    assert "image/png" in image.data and image.metadata["image/png"]["alt"].startswith("A falling")
    assert image.data["text/plain"] == "<Figure: A falling straight line from (0, 1) to (1, 0).>"
    assert "widgets" not in nb.metadata, "saved widget state must be stripped"
    assert all("execution" not in c.metadata for c in code)


def test_hygiene_after_execute_reports_only_the_missing_check(executed):
    path, _ = executed
    problems = nbt.hygiene_problems(path)
    assert len(problems) == 1 and "check cell" in problems[0]


def test_student_and_nbgrader_commands(executed, tmp_path):
    path, _ = executed
    nb = nbt.read_notebook(path)
    nb.cells[-1].source = "half = check(\"00.1\", half)"
    fixed = _write(tmp_path, nb)
    proc = _run_cli("student", str(fixed), "--out", str(tmp_path / "student"))
    assert proc.returncode == 0, proc.stderr
    student = nbt.read_notebook(tmp_path / "student" / fixed.name)
    assert "    # YOUR CODE HERE\n    return None" in student.cells[5].source
    assert student.metadata["harmonia"] == {"version": "student"}
    proc = _run_cli("nbgrader", str(fixed), "--out", str(tmp_path / "source"))
    assert proc.returncode == 0, proc.stderr
    graded = nbt.read_notebook(tmp_path / "source" / fixed.stem / fixed.name)
    assert graded.cells[5].metadata["nbgrader"]["solution"] is True
    assert graded.cells[6].source == 'half = check("00.1", half, strict=True)'


def test_timings_command_reports_budget(executed):
    path, _ = executed
    proc = _run_cli("timings", str(path))
    assert proc.returncode == 0, proc.stderr
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith(str(path))][0]
    seconds = float(line.split()[1])
    assert 0 < seconds < 90 and line.endswith("ok")


def test_execute_reports_a_failing_cell(tmp_path):
    path = _write(tmp_path, _notebook(SETUP, "1 / 0"))
    proc = _run_cli("execute", str(path))
    assert proc.returncode == 1
    assert "a cell failed" in proc.stderr and "ZeroDivisionError" in proc.stderr


def test_cli_rejects_missing_notebook(tmp_path):
    proc = _run_cli("student", str(tmp_path / "nope.ipynb"))
    assert proc.returncode != 0 and "NOTEBOOK: expected existing .ipynb files" in proc.stderr


def test_readme_check_command_passes_on_the_repository():
    proc = _run_cli("readme", "--check")
    assert proc.returncode == 0, proc.stdout


# --- hygiene rules, one broken notebook each ------------------------------------------------------
def _executed_copy(nb):
    """Fake a stored run: counts 1..N and an empty stdout for every code cell."""
    k = 0
    for c in nb.cells:
        if c.cell_type == "code":
            k += 1
            c.execution_count = k
            c.outputs = [new_output("stream", name="stdout", text="")]
    return nb


@pytest.mark.parametrize(
    "sources, expected",
    [
        (("print(1)",), "first code cell must be"),
        (('from harmonia.course import setup\nsetup("05")',), 'expected setup("00")'),
        ((SETUP, "# NBVAL_IGNORE_OUTPUT\nprint(2)"), "only for widget and timing cells"),
        ((SETUP, "# NBVAL_SKIP\nprint(2)"), "NBVAL_SKIP hides a cell"),
        ((SETUP, "x = 1  # NBVAL_IGNORE_OUTPUT because"), "is not recognised"),
        ((SETUP, "import sys\nsys.path.insert(0, '..')"), "edits sys.path"),
        ((SETUP, "import urllib.request\nurllib.request.urlopen('x')"), "reaches the network"),
        ((SETUP, EXERCISE), "must be followed by its check cell"),
        ((SETUP, EXERCISE, "half = check('00.1', half)"), "expected the check cell"),
        ((SETUP, EXERCISE, 'other = check("00.1", half)'), "rebind the same name"),
        ((SETUP, EXERCISE.replace("    ### END SOLUTION", ""), 'half = check("00.1", half)'), "unbalanced"),
        ((SETUP, EXERCISE, 'half = check("05.1", half)'), "belongs to another chapter"),
    ],
)
def test_hygiene_catches(tmp_path, sources, expected):
    path = _write(tmp_path, _executed_copy(_notebook(*sources)))
    problems = nbt.hygiene_problems(path)
    assert any(expected in p for p in problems), problems


def _with_output(output, source="print(1)"):
    nb = _executed_copy(_notebook(SETUP, source))
    nb.cells[-1].outputs = [output]
    return nb


@pytest.mark.parametrize(
    "output, expected",
    [
        (new_output("stream", name="stderr", text="UserWarning: x"), "stderr output"),
        (new_output("error", ename="ValueError", evalue="bad", traceback=[]), "stored error output ValueError"),
        (new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}), "without alt text"),
        (new_output("display_data", data={"image/svg+xml": "<svg/>", "text/plain": "<Figure>"}), "SVG figure"),
        (new_output("stream", name="stdout", text="tensor([1., 2.])\n"), "raw tensor"),
        (new_output("stream", name="stdout", text="<object at 0x7f00aa>\n"), "memory address"),
        (new_output("stream", name="stdout", text="max difference 2.7e-15 — PASS\n"), "rounding level"),
        (new_output("stream", name="stdout", text="errors 1.0e-02, 3e-16\n"), "prints 3e-16"),
    ],
)
def test_hygiene_catches_outputs(tmp_path, output, expected):
    problems = nbt.hygiene_problems(_write(tmp_path, _with_output(output)))
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("text", ["max difference < 1e-12 — PASS", "bound <= 1e-15", "< 1e-16", "ratio 2.3e-10",
                                  "error 1e-12", "lr 3e-4, 12e-15x"])
def test_hygiene_accepts_bounds_and_values_above_rounding_level(tmp_path, text):
    problems = nbt.hygiene_problems(_write(tmp_path, _with_output(new_output("stream", name="stdout", text=text + "\n"))))
    assert not any("rounding level" in p for p in problems), problems


def test_hygiene_catches_the_word_card_in_text_and_outputs(tmp_path):
    nb = _executed_copy(_notebook(SETUP, 'print("target 0.9 (card)")'))
    nb.cells.append(new_markdown_cell("As the paper card records it."))
    problems = nbt.hygiene_problems(_write(tmp_path, nb))
    assert sum("students do not have the paper cards" in p for p in problems) == 2, problems  # code source + markdown
    nb = _executed_copy(_notebook(SETUP, "x = 1"))
    nb.cells[-1].outputs = [new_output("stream", name="stdout", text="prototype (Card 01)\n")]
    assert any("paper cards" in p for p in nbt.hygiene_problems(_write(tmp_path, nb)))
    nb = _executed_copy(_notebook(SETUP, "discard = 1  # scorecard"))
    assert not any("paper cards" in p for p in nbt.hygiene_problems(_write(tmp_path, nb)))


def test_hygiene_catches_solution_markers_outside_exercise_cells(tmp_path):
    nb = _executed_copy(_notebook(SETUP))
    nb.cells.append(new_markdown_cell("Write your answer after `### BEGIN SOLUTION`."))
    problems = nbt.hygiene_problems(_write(tmp_path, nb))
    assert any("mentions a solution marker" in p for p in problems), problems


def test_hygiene_catches_missing_outputs_and_counts_and_widget_state(tmp_path):
    nb = _executed_copy(_notebook(SETUP, "print(1)", "print(2)"))
    nb.cells[2].execution_count = 3
    nb.cells[3].execution_count = 2
    problems = nbt.hygiene_problems(_write(tmp_path, nb))
    assert any("not 1..N" in p for p in problems)
    nb.cells[3].execution_count = None
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    problems = nbt.hygiene_problems(_write(tmp_path, nb))
    assert any("never executed" in p for p in problems)
    assert any("saved widget state" in p for p in problems)


def test_raises_marker_allows_a_stored_error(tmp_path):
    nb = _with_output(new_output("error", ename="ValueError", evalue="bad", traceback=[]),
                      source="# NBVAL_RAISES_EXCEPTION\nraise ValueError('bad')")
    assert nbt.hygiene_problems(_write(tmp_path, nb)) == []


def test_stub_solution_keeps_indentation_and_rejects_bad_markers():
    assert nbt.stub_solution(EXERCISE) == 'def half(x):\n    """x / 2"""\n    # YOUR CODE HERE\n    return None'
    with pytest.raises(nbt.NotebookError, match="without"):
        nbt.stub_solution("### END SOLUTION")
    with pytest.raises(nbt.NotebookError, match="without"):
        nbt.stub_solution("def f():\n    ### BEGIN SOLUTION\n    return 1")
    with pytest.raises(nbt.NotebookError, match="nested"):
        nbt.stub_solution("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION")


def test_chapter_id_and_read_errors(tmp_path):
    assert nbt.chapter_id_of("chapters/05_scattering.ipynb") == "05"
    with pytest.raises(nbt.NotebookError, match="NN_slug.ipynb"):
        nbt.chapter_id_of("scattering.ipynb")
    with pytest.raises(nbt.NotebookError, match="no such file"):
        nbt.read_notebook(tmp_path / "00_missing.ipynb")
    (tmp_path / "00_broken.ipynb").write_text("{not json")
    with pytest.raises(nbt.NotebookError, match="not a valid notebook"):
        nbt.read_notebook(tmp_path / "00_broken.ipynb")


def test_pytest_env_equals_notebook_env():
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    env = dict(item.split("=", 1) for item in pyproject["tool"]["pytest"]["ini_options"]["env"])
    assert env == nbt.NOTEBOOK_ENV
    for key, value in nbt.NOTEBOOK_ENV.items():  # pytest-env really set them for this run
        assert os.environ[key] == value


def test_timings_plugin_adds_up_cells_per_notebook(tmp_path):
    from types import SimpleNamespace

    from harmonia.course import pytest_timings as plugin

    plugin._SECONDS.clear()
    plugin._FAILED.clear()
    for nodeid, duration, failed in [
        ("chapters/00_a.ipynb::Cell 0", 2.0, False),
        ("chapters/00_a.ipynb::Cell 1", 1.5, False),
        ("chapters/01_b.ipynb::Cell 0", 95.0, False),
        ("chapters/02_c.ipynb::Cell 3", 1.0, True),
        ("tests/course/test_x.py::test_y", 7.0, False),
    ]:
        plugin.pytest_runtest_logreport(SimpleNamespace(nodeid=nodeid, duration=duration, failed=failed))
    lines: list[str] = []
    reporter = SimpleNamespace(section=lambda title: lines.append(title), write_line=lines.append)
    plugin.pytest_terminal_summary(reporter, 0, SimpleNamespace(rootpath=tmp_path))
    text = "\n".join(lines)
    assert "chapters/00_a.ipynb" in text and "3.5 s" in text
    assert "over budget" in text and "FAILED" in text and "test_x" not in text
    data = json.loads((tmp_path / "build" / "nbval-timings.json").read_text())
    assert data == {"chapters/00_a.ipynb": 3.5, "chapters/01_b.ipynb": 95.0, "chapters/02_c.ipynb": 1.0}
    plugin._SECONDS.clear()
    plugin._FAILED.clear()


def test_timings_plugin_under_the_portable_pass_enforces_no_budget(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from harmonia.course import pytest_timings as plugin

    monkeypatch.setenv("HARMONIA_PORTABLE", "1")
    plugin._SECONDS.clear()
    plugin._FAILED.clear()
    plugin.pytest_runtest_logreport(SimpleNamespace(nodeid="chapters/01_b.ipynb::Cell 0", duration=120.0, failed=False))
    lines: list[str] = []
    reporter = SimpleNamespace(section=lambda title: lines.append(title), write_line=lines.append)
    plugin.pytest_terminal_summary(reporter, 0, SimpleNamespace(rootpath=tmp_path))
    text = "\n".join(lines)
    assert "no budget" in text and "120.0 s" in text and "over budget" not in text
    assert json.loads((tmp_path / "build" / "nbval-timings-portable.json").read_text()) == {"chapters/01_b.ipynb": 120.0}
    assert not (tmp_path / "build" / "nbval-timings.json").exists()  # make test's timings are left alone
    plugin._SECONDS.clear()


def test_below_prints_rounding_level_values_as_their_bound():
    from harmonia.course.report import below

    assert below(2.7e-15, 1e-12) == "< 1e-12"
    assert below(0.0, 1e-12) == "< 1e-12"
    assert below(3.4e-9, 1e-12) == "3.4e-09"  # a failing check shows its value
    assert below(float("nan"), 1e-12) == "nan"
    assert below(1e-12, 1e-12) == "1.0e-12"  # the bound itself is not below it
    with pytest.raises(ValueError, match="^bound: expected a positive tolerance"):
        below(1.0, 0.0)
