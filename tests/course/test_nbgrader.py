"""The teachers' workflow end to end with the real nbgrader: our nbgrader source notebook is
released (solutions stripped) and autograded; an empty submission scores 0, the solutions full marks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harmonia.course import notebooks as nbt

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = ROOT / "chapters" / "00_start_here.ipynb"


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--force"], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "ERROR" not in proc.stderr, proc.stderr[-3000:]
    return proc


def test_nbgrader_release_and_autograde(tmp_path):
    pytest.importorskip("nbgrader", reason="nbgrader comes with the dev extra")
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    name = CHAPTER.stem
    source = nbt.write_notebook(nbt.nbgrader_notebook(nbt.read_notebook(CHAPTER), "00"),
                                course / "source" / name / CHAPTER.name)
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\nc.ExecutePreprocessor.timeout = 300\n"
    )
    _nbgrader(course, "generate_assignment", name)
    release = nbt.read_notebook(course / "release" / name / CHAPTER.name)
    released = [c.source for c in release.cells if c.cell_type == "code"]
    assert not any(nbt.BEGIN in s for s in released)
    assert sum("raise NotImplementedError()" in s for s in released) == len(nbt.find_exercises(nbt.read_notebook(CHAPTER)))

    for student, notebook in [("empty", course / "release" / name / CHAPTER.name), ("perfect", source)]:
        target = course / "submitted" / student / name
        target.mkdir(parents=True)
        shutil.copy(notebook, target / CHAPTER.name)
    _nbgrader(course, "autograde", name)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        empty = gradebook.find_submission(name, "empty")
        perfect = gradebook.find_submission(name, "perfect")
        assert empty.max_score == perfect.max_score == 2
        assert empty.score == 0 and perfect.score == 2
