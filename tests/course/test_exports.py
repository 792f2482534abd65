"""Exports that lose nothing, for every ready chapter: the student version keeps every cell in order and
changes only the solution regions; exporting twice gives the same bytes; nbgrader's release (the real
``nbgrader generate_assignment``) has exactly one stub per exercise and nothing else stubbed."""

from __future__ import annotations

from pathlib import Path

import pytest

from harmonia.course import notebooks as nbt

import autograde_all

ROOT = Path(__file__).resolve().parents[2]
READY = autograde_all.ready_chapters(ROOT)
IDS = [p.name for p in READY]
NB_STUB = "raise NotImplementedError()"  # what nbgrader's ClearSolutions puts in a code solution region


def _src(cell) -> str:
    return "".join(cell.source) if isinstance(cell.source, list) else cell.source


def _expected_stubbed(source: str) -> str:
    """The solution cell with each BEGIN..END region (marker lines included) replaced by the course's stub at
    the marker's indentation, written independently of :func:`notebooks.stub_solution`."""
    out, lines, k = [], source.split("\n"), 0
    while k < len(lines):
        if lines[k].strip() == nbt.BEGIN:
            indent = lines[k][: len(lines[k]) - len(lines[k].lstrip())]
            out += [indent + "# YOUR CODE HERE", indent + "return None"]
            k = next(j for j in range(k, len(lines)) if lines[j].strip() == nbt.END) + 1
        else:
            out.append(lines[k])
            k += 1
    return "\n".join(out)


def test_there_are_ready_chapters():
    assert len(READY) >= 1 and all(p.is_file() for p in READY)


@pytest.mark.parametrize("path", READY, ids=IDS)
def test_student_version_keeps_every_cell_in_order(path):
    nb = nbt.read_notebook(path)
    student = nbt.student_notebook(nb)
    solutions = {e.solution_index for e in nbt.find_exercises(nb)}
    assert solutions, f"{path.name}: no exercises found"
    assert [c.cell_type for c in student.cells] == [c.cell_type for c in nb.cells]
    for i, (orig, new) in enumerate(zip(nb.cells, student.cells)):
        if i in solutions:
            assert _src(new) == _expected_stubbed(_src(orig)) != _src(orig), f"cell {i}: solution not stubbed"
            assert nbt.BEGIN not in _src(new) and nbt.END not in _src(new)
        else:
            assert _src(new) == _src(orig), f"{path.name}: cell {i} ({orig.cell_type}) changed in the student version"
        if orig.cell_type == "markdown":
            assert new.get("attachments") == orig.get("attachments"), f"cell {i}: attachments lost"
        if orig.cell_type == "code":
            assert new.outputs == [] and new.execution_count is None
    # the source notebook itself is not modified by the export
    assert nb == nbt.read_notebook(path)


@pytest.mark.parametrize("path", READY, ids=IDS)
def test_exports_are_byte_identical_when_repeated(path, tmp_path):
    chapter = nbt.chapter_id_of(path)
    for kind, export in [("student", nbt.student_notebook), ("nbgrader", lambda nb: nbt.nbgrader_notebook(nb, chapter))]:
        first = nbt.write_notebook(export(nbt.read_notebook(path)), tmp_path / "a" / kind / path.name)
        second = nbt.write_notebook(export(nbt.read_notebook(path)), tmp_path / "b" / kind / path.name)
        assert first.read_bytes() == second.read_bytes(), f"{kind} export of {path.name} is not reproducible"
        # exporting the written export again changes nothing more (idempotent on solution-free notebooks)
        if kind == "student":
            third = nbt.write_notebook(export(nbt.read_notebook(first)), tmp_path / "c" / kind / path.name)
            assert nbt.read_notebook(third).cells == nbt.read_notebook(first).cells


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """Every ready chapter as an nbgrader source assignment, released by ONE ``generate_assignment "*"``."""
    pytest.importorskip("nbgrader", reason="nbgrader comes with the dev extra")
    course = autograde_all.make_course(tmp_path_factory.mktemp("nbgrader") / "course", READY)
    autograde_all.nbgrader(course, "generate_assignment", "*")
    return course


@pytest.mark.parametrize("path", READY, ids=IDS)
def test_release_has_one_stub_per_exercise(path, released):
    source = nbt.read_notebook(released / "source" / path.stem / path.name)
    release = nbt.read_notebook(released / "release" / path.stem / path.name)
    exercises = nbt.find_exercises(nbt.read_notebook(path))
    solution_cells = {e.solution_index for e in exercises}
    assert len(release.cells) == len(source.cells)
    for i, (src, rel) in enumerate(zip(source.cells, release.cells)):
        assert rel.cell_type == src.cell_type
        assert rel.metadata["nbgrader"]["grade_id"] == src.metadata["nbgrader"]["grade_id"]
        text = _src(rel)
        assert nbt.BEGIN not in text and nbt.END not in text, f"cell {i}: solution markers left in the release"
        if i in solution_cells:
            assert text.count(NB_STUB) == 1, f"{path.name} cell {i}: expected one stub, got {text.count(NB_STUB)}"
            assert "# YOUR CODE HERE" in text and text != _src(src)
        else:
            assert text == _src(src), f"{path.name} cell {i}: changed by the release"
    stubs = sum(_src(c).count(NB_STUB) for c in release.cells)
    assert stubs == len(exercises) >= 1
