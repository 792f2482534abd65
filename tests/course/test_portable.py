"""The second-machine pass (harmonia.course.portable, `python -m harmonia.course portable`): the record
of which chapters passed it is current, the fingerprint follows exactly the code a chapter imports, and
the pass really runs the kernels with torch's portable kernels and one thread."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from harmonia.course import notebooks as nbt
from harmonia.course import portable
from harmonia.course.manifest import load_manifest

ROOT = Path(__file__).resolve().parents[2]


def test_every_ready_chapter_passed_the_portable_pass_at_its_current_fingerprint():
    ready = [ROOT / "chapters" / ch.file for ch in load_manifest() if ch.ready]
    stale = portable.stale_chapters(ready, ROOT)
    assert not stale, (
        f"chapters changed since they last passed the portable pass: {sorted(stale)}. Run "
        "`python -m harmonia.course portable --changed --record` (strict nbval with ATEN_CPU_CAPABILITY=default, "
        "one thread) and commit chapters/portable.toml."
    )
    recorded = portable.read_record(ROOT)
    assert set(recorded) <= {p.name for p in (ROOT / "chapters").glob("*.ipynb")}, "record names a missing notebook"


# ------------------------------------------------------------------------------ a tiny course
def _tiny_course(tmp_path: Path) -> Path:
    files = {
        "lib/harmonia/__init__.py": '"""top"""\n',
        "lib/harmonia/config.py": "X = 1\n",
        "lib/harmonia/alpha.py": "from .beta import f\n",
        "lib/harmonia/beta.py": "import math\n\ndef f():\n    from harmonia import config\n    return config.X\n",
        "lib/harmonia/gamma.py": "Y = 2\n",  # imported by nobody
        "lib/harmonia/course/__init__.py": '_LAZY = {"show": "harmonia.course.plots"}\n',
        "lib/harmonia/course/plots.py": "Z = 3\n",
        "lib/harmonia/course/exercises/__init__.py": "",
        "lib/harmonia/course/exercises/ch00.py": "W = 4\n",
        "lib/harmonia/course/exercises/ch01.py": "V = 5\n",
        "tests/nbval_sanitize.cfg": "",
        "datasets/registry.toml": "",
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    nb = new_notebook(cells=[new_code_cell("from harmonia.course import show\nimport harmonia.alpha as a\n%matplotlib inline"),
                             new_code_cell('f = check("00.1", f)')])
    path = tmp_path / "chapters" / "00_tiny.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    return path


def test_chapter_modules_follow_imports_relative_imports_lazy_names_and_exercises(tmp_path):
    nb = _tiny_course(tmp_path)
    assert portable.chapter_modules(nb, tmp_path / "lib") == [
        "harmonia", "harmonia.alpha", "harmonia.beta", "harmonia.config", "harmonia.course",
        "harmonia.course.exercises", "harmonia.course.exercises.ch00", "harmonia.course.plots",
    ]


@pytest.mark.parametrize("changed, moves", [
    ("lib/harmonia/config.py", True),            # imported inside a function of an imported module
    ("lib/harmonia/course/plots.py", True),      # a lazy name of harmonia.course
    ("lib/harmonia/course/exercises/ch00.py", True),
    ("tests/nbval_sanitize.cfg", True),
    ("datasets/registry.toml", True),
    ("lib/harmonia/gamma.py", False),            # nobody imports it
    ("lib/harmonia/course/exercises/ch01.py", False),
])
def test_fingerprint_moves_with_what_decides_the_outputs_only(tmp_path, changed, moves):
    nb = _tiny_course(tmp_path)
    before = portable.chapter_fingerprint(nb, tmp_path)
    assert portable.chapter_fingerprint(nb, tmp_path) == before
    with open(tmp_path / changed, "a") as fh:
        fh.write("# edited\n")
    assert (portable.chapter_fingerprint(nb, tmp_path) != before) is moves


def test_record_round_trip_staleness_and_bad_record(tmp_path):
    nb = _tiny_course(tmp_path)
    assert portable.read_record(tmp_path) == {}
    assert set(portable.stale_chapters([nb], tmp_path)) == {nb.name}
    portable.write_record(tmp_path, {"99_other.ipynb": "abc"})
    portable.write_record(tmp_path, portable.stale_chapters([nb], tmp_path))
    record = portable.read_record(tmp_path)
    assert record["99_other.ipynb"] == "abc" and record[nb.name] == portable.chapter_fingerprint(nb, tmp_path)
    assert portable.stale_chapters([nb], tmp_path) == {}
    nb.write_text(nb.read_text().replace("import harmonia.alpha as a", "import harmonia.alpha as b"))
    assert set(portable.stale_chapters([nb], tmp_path)) == {nb.name}
    (tmp_path / portable.RECORD_FILE).write_text("[chapters]\nx = 1\n")
    with pytest.raises(ValueError, match="portable.toml: expected a"):
        portable.read_record(tmp_path)
    (tmp_path / portable.RECORD_FILE).write_text("[chapters\n")
    with pytest.raises(ValueError, match="portable.toml: expected TOML"):
        portable.read_record(tmp_path)


# ------------------------------------------------------------------------------ the command
def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (*nbt.NOTEBOOK_ENV, *portable.PORTABLE_ENV)}
    return subprocess.run([sys.executable, "-m", "harmonia.course", "portable", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_portable_pass_runs_kernels_with_portable_kernels_and_one_thread(tmp_path):
    """A stored output that only the portable environment reproduces: the pass must set it in the kernel."""
    src = textwrap.dedent("""\
        import os
        import torch
        print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads(), os.environ["HARMONIA_MODE"])""")
    cell = new_code_cell(src, execution_count=1, outputs=[new_output("stream", name="stdout", text="DEFAULT 1 fast\n")])
    path = tmp_path / "00_env.ipynb"
    nbformat.write(new_notebook(cells=[cell]), path)
    proc = _cli(str(path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout and "ATEN_CPU_CAPABILITY=default" in proc.stdout
    cell.outputs[0].text = "AVX512 2 fast\n"  # what a default run on a vector CPU would print
    nbformat.write(new_notebook(cells=[cell]), path)
    assert _cli(str(path)).returncode != 0


def test_portable_changed_runs_nothing_when_the_record_is_current():
    if portable.stale_chapters([ROOT / "chapters" / ch.file for ch in load_manifest() if ch.ready], ROOT):
        pytest.skip("the record is stale (the test above fails); --changed would run those chapters")
    proc = _cli("--changed")
    assert proc.returncode == 0, proc.stderr
    assert "0 to run" in proc.stdout


def test_estimate_scales_make_test_timings_and_needs_every_chapter(tmp_path):
    assert portable.estimate_seconds(tmp_path, ["00_a.ipynb"]) is None  # no make test yet
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "nbval-timings.json").write_text('{"chapters/00_a.ipynb": 10.0, "chapters/01_b.ipynb": 30.0}')
    assert portable.estimate_seconds(tmp_path, ["00_a.ipynb", "01_b.ipynb"]) == pytest.approx(40.0 * portable.SLOWDOWN)
    assert portable.estimate_seconds(tmp_path, ["00_a.ipynb", "02_c.ipynb"]) is None
    (tmp_path / "build" / "nbval-timings.json").write_text("{not json")
    assert portable.estimate_seconds(tmp_path, ["00_a.ipynb"]) is None


def test_budget_too_small_falls_back_to_changed_chapters():
    if portable.stale_chapters([ROOT / "chapters" / ch.file for ch in load_manifest() if ch.ready], ROOT):
        pytest.skip("the record is stale (the first test fails); the fallback would run those chapters")
    proc = _cli("--budget", "0")
    assert proc.returncode == 0, proc.stderr
    assert "over the budget of 0 s" in proc.stdout and "0 to run" in proc.stdout
