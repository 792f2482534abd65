"""Every stored chapter follows the notebook rules, and its exercises are sound:
each solution passes its check, each student stub fails it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harmonia.course import exercises as ex
from harmonia.course import notebooks as nbt
from harmonia.course.manifest import load_manifest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
IDS = [p.name for p in NOTEBOOKS]


def test_there_are_chapters():
    assert NOTEBOOKS, "no chapter notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_hygiene(path):
    assert nbt.hygiene_problems(path) == []


def _cell_source(nb, index):
    src = nb.cells[index].source
    return "".join(src) if isinstance(src, list) else src


def _exercise_function(source: str, name: str):
    namespace: dict = {}
    exec(compile(source, f"<exercise {name}>", "exec"), namespace)
    return namespace[name]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_exercises_solutions_pass_and_stubs_fail(path):
    nb = nbt.read_notebook(path)
    found = nbt.find_exercises(nb)
    chapter = path.name[:2]
    registered = ex.exercise_ids(chapter)
    assert [e.exercise_id for e in found] == registered, "every registered exercise appears once, in order"
    for e in found:
        source = _cell_source(nb, e.solution_index)
        solution = _exercise_function(source, e.function)
        for seed in (1, 2, 3):
            result = ex.evaluate(e.exercise_id, solution, seed=seed)
            assert result.passed, result.message
        stub = _exercise_function(nbt.stub_solution(source), e.function)
        result = ex.evaluate(e.exercise_id, stub, seed=1)
        assert not result.passed and "returned None" in result.message


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_student_version_has_no_solutions(path):
    nb = nbt.read_notebook(path)
    student = nbt.student_notebook(nb)
    text = "\n".join(_cell_source(student, i) for i, c in enumerate(student.cells) if c.cell_type == "code")
    assert nbt.BEGIN not in text and nbt.END not in text
    assert all(c.get("outputs", []) == [] for c in student.cells if c.cell_type == "code")
    # the check cells survive unchanged
    for e in nbt.find_exercises(nb):
        assert _cell_source(student, e.check_index) == _cell_source(nb, e.check_index)
    # and every stubbed cell still compiles
    for i, cell in enumerate(student.cells):
        if cell.cell_type == "code":
            compile(_cell_source(student, i), f"cell {i}", "exec")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_nbgrader_version_metadata(path):
    nb = nbt.read_notebook(path)
    chapter = path.name[:2]
    graded = nbt.nbgrader_notebook(nb, chapter)
    found = nbt.find_exercises(nb)
    grade_ids = [c.metadata["nbgrader"]["grade_id"] for c in graded.cells]
    assert len(grade_ids) == len(set(grade_ids)), "nbgrader grade_ids must be unique"
    for c in graded.cells:
        meta = c.metadata["nbgrader"]
        assert meta["schema_version"] == 3
        assert re.fullmatch(r"[A-Za-z0-9_-]+", meta["grade_id"])
        if meta["grade"]:
            assert meta["points"] > 0 and meta["locked"] and c.cell_type == "code"
    for e in found:
        sol = graded.cells[e.solution_index].metadata["nbgrader"]
        assert sol["solution"] and not sol["grade"] and not sol["locked"]
        chk = graded.cells[e.check_index]
        assert chk.metadata["nbgrader"]["grade"]
        assert _cell_source(graded, e.check_index) == f'{e.target} = check("{e.exercise_id}", {e.function}, strict=True)'
    # solutions are kept in the source notebook (nbgrader strips them when it releases)
    kept = [i for i, c in enumerate(graded.cells) if c.cell_type == "code" and nbt.BEGIN in _cell_source(graded, i)]
    assert kept == [e.solution_index for e in found]


def test_manifest_lists_each_notebook_as_ready():
    ready = {c.file for c in load_manifest(ROOT / "chapters" / "manifest.toml") if c.ready}
    assert set(IDS) == ready


def test_student_version_of_chapter_00_runs_top_to_bottom(tmp_path):
    """Unanswered exercises fall back to the reference, so a student's chapter still runs."""
    student = nbt.student_notebook(nbt.read_notebook(ROOT / "chapters" / "00_start_here.ipynb"))
    path = nbt.write_notebook(student, tmp_path / "00_start_here.ipynb")
    nb, _ = nbt.execute_notebook(path, write=False)
    verdicts = [o.text for c in nb.cells if c.cell_type == "code" and 'check("00.' in c.source for o in c.outputs]
    assert len(verdicts) == 3 and all("FAIL" in v and "reference solution is used" in v for v in verdicts)
