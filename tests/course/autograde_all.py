"""nbgrader's full teachers' workflow over the ready chapters: release, then autograde twice.

For each chapter: :func:`harmonia.course.notebooks.nbgrader_notebook` writes the nbgrader source
notebook, ``nbgrader generate_assignment`` releases it (solutions stripped), and ``nbgrader autograde``
grades two submissions: the released notebook untouched (must score 0) and the source notebook with
its solutions (must score full marks, one point per exercise).

Autograding executes every chapter twice (about 15 minutes for the whole course on 2 cores), so the
test suite (tests/course/test_nbgrader.py) autogrades chapter 00 always and another chapter only
when its fingerprint (:func:`harmonia.course.portable.chapter_fingerprint`) is not the one recorded in
``chapters/autograde.toml``. Record it after a passing run::

    python tests/course/autograde_all.py --changed --record   # only chapters changed since the record
    python tests/course/autograde_all.py --record             # every ready chapter
    python tests/course/autograde_all.py 05_scattering.ipynb  # some chapters, nothing recorded

Exit status 0 when every chapter run scored 0 (released) and full marks (solutions).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECORD_FILE = Path("chapters") / "autograde.toml"
HEADER = """\
# nbgrader's autograde (tests/course/autograde_all.py: release with generate_assignment, then the released
# notebook scores 0 and the solutions full marks) passed each chapter below at this fingerprint of its
# notebook and of the library code it imports. Never edit by hand: the test suite autogrades chapter 00 and
# every chapter whose fingerprint differs from this record. Re-record after a passing run with
# `python tests/course/autograde_all.py --changed --record`.
"""
TIMEOUT_PER_CELL = 300  # seconds, nbgrader's ExecutePreprocessor.timeout


@dataclass(frozen=True)
class Grade:
    """The scores of one chapter: its released notebook ('empty'), its solutions ('perfect'), the maximum."""

    chapter: str
    exercises: int
    empty: float
    perfect: float
    max_score: float
    seconds: float

    @property
    def passed(self) -> bool:
        return self.max_score == self.exercises and self.empty == 0 and self.perfect == self.max_score


def ready_chapters(root: Path = ROOT) -> list[Path]:
    """The notebooks of the manifest's ready chapters, in manifest order."""
    from harmonia.course.manifest import load_manifest

    return [root / "chapters" / c.file for c in load_manifest(root / "chapters" / "manifest.toml") if c.ready]


def nbgrader(course: Path, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run ``python -m nbgrader ARGS --force`` in ``course``; raise with nbgrader's log on any error."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--force"], cwd=course, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or "ERROR" in proc.stderr:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def make_course(course: Path, notebooks: list[Path]) -> Path:
    """A course folder with one nbgrader source assignment per chapter (named after the notebook's stem)."""
    from harmonia.course import notebooks as nbt

    course.mkdir(parents=True, exist_ok=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.ExecutePreprocessor.timeout = {TIMEOUT_PER_CELL}\n"
    )
    for nb in notebooks:
        chapter = nbt.chapter_id_of(nb)
        nbt.write_notebook(nbt.nbgrader_notebook(nbt.read_notebook(nb), chapter), course / "source" / nb.stem / nb.name)
    return course


def release(course: Path, notebook: Path) -> Path:
    """``nbgrader generate_assignment`` for one chapter of ``course``; the released notebook's path."""
    nbgrader(course, "generate_assignment", notebook.stem)
    return course / "release" / notebook.stem / notebook.name


def autograde(course: Path, notebook: Path) -> Grade:
    """Release one chapter, submit it twice (untouched and with solutions), autograde, read the gradebook."""
    from nbgrader.api import Gradebook

    from harmonia.course import notebooks as nbt

    start = time.perf_counter()
    name = notebook.stem
    released = release(course, notebook)
    for student, source in [("empty", released), ("perfect", course / "source" / name / notebook.name)]:
        target = course / "submitted" / student / name
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target / notebook.name)
    nbgrader(course, "autograde", name)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        empty = gradebook.find_submission(name, "empty")
        perfect = gradebook.find_submission(name, "perfect")
        scores = (float(empty.score), float(perfect.score), float(perfect.max_score))
    return Grade(name, len(nbt.find_exercises(nbt.read_notebook(notebook))), *scores,
                 seconds=time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="chapter files (default: every ready chapter)")
    parser.add_argument("--changed", action="store_true", help=f"only chapters whose fingerprint differs from {RECORD_FILE}")
    parser.add_argument("--record", action="store_true", help=f"record passing chapters' fingerprints in {RECORD_FILE}")
    ns = parser.parse_args(argv)

    from harmonia.course import portable

    paths = [Path(p).resolve() if Path(p).exists() else ROOT / "chapters" / p for p in ns.notebooks] or ready_chapters()
    if ns.changed:
        stale = portable.stale_chapters(paths, ROOT, RECORD_FILE)
        print(f"autograde: {len(paths) - len(stale)} chapter(s) match {RECORD_FILE}; {len(stale)} to run", flush=True)
        paths = [p for p in paths if p.name in stale]
    before = {p.name: portable.chapter_fingerprint(p, ROOT) for p in paths}
    failed, passed = [], {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="harmonia-autograde-") as tmp:
        course = make_course(Path(tmp) / "course", paths)
        for nb in paths:
            try:
                g = autograde(course, nb)
            except Exception as err:  # report the chapter and go on with the others
                print(f"{nb.name}: FAILED\n{err}", flush=True)
                failed.append(nb.name)
                continue
            verdict = "ok" if g.passed else "WRONG SCORES"
            print(f"{nb.name}: {g.exercises} exercise(s), released {g.empty:g}/{g.max_score:g}, "
                  f"solutions {g.perfect:g}/{g.max_score:g}, {g.seconds:.0f} s: {verdict}", flush=True)
            if g.passed:
                passed[nb.name] = before[nb.name]
            else:
                failed.append(nb.name)
    print(f"autograde: {len(passed)} passed, {len(failed)} failed{': ' + ', '.join(failed) if failed else ''}; "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    if ns.record and passed:
        after = {name: portable.chapter_fingerprint(ROOT / "chapters" / name, ROOT) for name in passed}
        changed = sorted(n for n in passed if after[n] != passed[n])
        if changed:
            print(f"not recorded (changed during the run): {', '.join(changed)}", file=sys.stderr)
        keep = {n: fp for n, fp in passed.items() if n not in changed}
        if keep:
            print(f"recorded {len(keep)} fingerprint(s) in "
                  f"{portable.write_record(ROOT, keep, RECORD_FILE, HEADER)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
