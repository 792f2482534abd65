"""The teachers' workflow end to end with the real nbgrader: our nbgrader source notebook is
released (solutions stripped) and autograded; an empty submission scores 0, the solutions full marks.

Autograding runs every chapter twice, so it is gated like the portable pass: chapter 00 always, another
ready chapter only when its fingerprint is not the one recorded in chapters/autograde.toml (written by
``python tests/course/autograde_all.py --changed --record`` after a passing run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harmonia.course import portable

import autograde_all

ROOT = autograde_all.ROOT
READY = autograde_all.ready_chapters(ROOT)
ALWAYS = "00_start_here.ipynb"


def _needs_autograde(path: Path) -> bool:
    return path.name == ALWAYS or path.name in portable.stale_chapters([path], ROOT, autograde_all.RECORD_FILE)


def test_chapter_00_is_ready_and_always_autograded():
    assert ALWAYS in [p.name for p in READY]
    assert _needs_autograde(ROOT / "chapters" / ALWAYS)


def test_record_file_names_only_ready_chapters():
    recorded = portable.read_record(ROOT, autograde_all.RECORD_FILE)
    assert set(recorded) <= {p.name for p in READY}
    assert all(len(fp) == 64 for fp in recorded.values())


@pytest.mark.parametrize("path", READY, ids=[p.name for p in READY])
def test_nbgrader_release_and_autograde(path, tmp_path):
    pytest.importorskip("nbgrader", reason="nbgrader comes with the dev extra")
    if not _needs_autograde(path):
        pytest.skip(f"fingerprint recorded in {autograde_all.RECORD_FILE} (autograded at this version)")
    course = autograde_all.make_course(tmp_path / "course", [path])
    grade = autograde_all.autograde(course, path)
    assert grade.exercises >= 1
    assert grade.max_score == grade.exercises, "one point per exercise"
    assert grade.empty == 0, f"{path.name}: the released notebook scored {grade.empty}/{grade.max_score}"
    assert grade.perfect == grade.max_score, f"{path.name}: the solutions scored {grade.perfect}/{grade.max_score}"
