"""Notebook tools: execute with stored outputs, student and nbgrader versions, hygiene checks.

These are what ``python -m harmonia.course execute | student | nbgrader | timings | hygiene`` run,
and what the course's tests use to check every chapter.

Conventions they enforce (see ``shared/NOTEBOOKS.md`` and ``DESIGN.md`` section 4-5):

- the first code cell is ``from harmonia.course import setup`` + ``setup("NN")``;
- an exercise cell holds a function whose body has ``### BEGIN SOLUTION`` / ``### END SOLUTION``
  around the answer, and the next code cell is exactly ``name = check("NN.k", name)``;
- ``# NBVAL_IGNORE_OUTPUT`` only on widget and timing cells; stored outputs are complete, counted
  1..N, carry no saved widget state and no stderr; every figure is shown with ``show(fig, alt=...)``;
- no stored output prints a number at float64 rounding level (``2.7e-15``): it is printed as the bound
  it satisfies (``< 1e-12``), since its digits change with the CPU's kernels.
"""

from __future__ import annotations

import copy
import os
import re
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import nbformat
from nbformat import NotebookNode

__all__ = [
    "NOTEBOOK_ENV",
    "NBVAL_MARKERS",
    "ExerciseCells",
    "NotebookError",
    "read_notebook",
    "write_notebook",
    "execute_notebook",
    "strip_volatile",
    "find_exercises",
    "stub_solution",
    "student_notebook",
    "nbgrader_notebook",
    "hygiene_problems",
    "chapter_id_of",
]

#: Environment of every notebook run, in tests (pyproject's pytest ``env``) and in ``execute``.
NOTEBOOK_ENV: dict[str, str] = {
    "HARMONIA_MODE": "fast",
    "TQDM_DISABLE": "1",
    "PYTHONHASHSEED": "0",
}

NBVAL_MARKERS = ("# NBVAL_IGNORE_OUTPUT", "# NBVAL_CHECK_OUTPUT", "# NBVAL_SKIP", "# NBVAL_RAISES_EXCEPTION")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "# YOUR CODE HERE\nreturn None"

_CHECK_CELL = re.compile(r'^(?P<target>\w+)\s*=\s*check\(\s*"(?P<id>\d\d\.\d+)"\s*,\s*(?P<fn>\w+)\s*\)\s*$')
_SETUP_CALL = re.compile(r'^(\w+\s*=\s*)?setup\(\s*"(?P<id>\d\d)"\s*(,[^)]*)?\)\s*$', re.M)
_WIDGET_CELL = re.compile(r"\bwidgets\.|\binteractive(_figure)?\(|\binteract\(")
_TIMING_CELL = re.compile(r"\btime_\w+\(|perf_counter|%%?timeit|%%?time\b|\bbenchmark|\btiming")
_NETWORK = re.compile(r"https?://|\burllib\b|\brequests\b|\burlopen\b|\bwget\b|\bcurl\b|\bsocket\b|pip install")
_CARD = re.compile(r"\bcards?\b", re.I)  # the course's paper cards are for developers, not for students
_MARKER_LIKE = re.compile(r"#\s*NBVAL\S*[^\n]*")
# a number printed at float64 rounding level (exponent -13 or below), unless it is a bound ("< 1e-13")
_ROUNDING_LEVEL = re.compile(r"(?<![<\d.])(?<!< )(?<!<= )\b\d(\.\d+)?e-(1[3-9]|[2-9]\d|\d{3})\b")


class NotebookError(RuntimeError):
    """A notebook could not be read, executed or converted."""


@dataclass(frozen=True)
class ExerciseCells:
    """Where an exercise sits in a notebook: its solution cell and its check cell (indices into
    ``nb.cells``), the exercise id, and the checked function's name."""

    solution_index: int
    check_index: int
    exercise_id: str
    function: str
    target: str


def chapter_id_of(path: str | Path) -> str:
    """``"05"`` for ``chapters/05_scattering.ipynb``."""
    name = Path(path).name
    if not re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", name):
        raise NotebookError(f"path: expected a chapter file named NN_slug.ipynb, got {name!r}")
    return name[:2]


def read_notebook(path: str | Path) -> NotebookNode:
    """Read a notebook (nbformat 4), with a clear error for a missing or broken file."""
    path = Path(path)
    if not path.is_file():
        raise NotebookError(f"notebook: expected an .ipynb file, got {str(path)!r} (no such file)")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as err:  # nbformat raises several kinds
        raise NotebookError(f"notebook: {path} is not a valid notebook ({err})") from err


def write_notebook(nb: NotebookNode, path: str | Path) -> Path:
    """Write a notebook (validated, 1-space JSON indent as Jupyter writes it), creating folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return path


def _source(cell: NotebookNode) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _code_cells(nb: NotebookNode) -> list[tuple[int, NotebookNode]]:
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


# ---------------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------------
@contextmanager
def _environment(extra: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _current_env_kernel_manager():
    """A kernel manager that starts ipykernel with *this* interpreter (as nbval's
    ``--nbval-current-env``), so outputs are produced by the same environment the tests use."""
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    class _CurrentEnvSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):  # noqa: D401 - jupyter API
            return self.kernel_spec_class(
                resource_dir=ipykernel.kernelspec.RESOURCES, **ipykernel.kernelspec.get_kernel_dict()
            )

    return KernelManager(kernel_name="python3", kernel_spec_manager=_CurrentEnvSpecs())


def strip_volatile(nb: NotebookNode) -> NotebookNode:
    """Remove what changes from run to run and is not content: saved widget state, execution
    timestamps, collapsed/scrolled view flags. Returns the same notebook (changed in place)."""
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    lang = nb.metadata.get("language_info", {})
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3", **{k: v for k, v in lang.items() if k in ("codemirror_mode", "file_extension", "mimetype", "nbconvert_exporter")}}
    for cell in nb.cells:
        for key in ("execution", "collapsed", "scrolled", "ExecuteTime"):
            cell.metadata.pop(key, None)
    return nb


def execute_notebook(
    path: str | Path,
    *,
    write: bool = True,
    timeout: int = 600,
    env: dict[str, str] | None = None,
) -> tuple[NotebookNode, float]:
    """Execute a notebook top to bottom in its own folder, like nbval does, and store the outputs.

    Parameters
    ----------
    path : path to the ``.ipynb``
    write : bool
        Write the executed notebook back to ``path`` (default). With ``False`` only time it.
    timeout : int
        Seconds allowed per cell.
    env : dict, optional
        Environment variables for the kernel (default :data:`NOTEBOOK_ENV`).

    Returns
    -------
    (notebook, seconds)
        The executed notebook and the wall time, kernel start included.

    Raises
    ------
    NotebookError
        If a cell fails (the message names the cell) or execution counts are not 1..N.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path).resolve()
    nb = read_notebook(path)
    km = _current_env_kernel_manager()
    client = NotebookClient(
        nb,
        km=km,
        timeout=timeout,
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        store_widget_state=True,  # nbclient needs it for output widgets; strip_volatile drops it
    )
    start = time.perf_counter()
    with _environment(NOTEBOOK_ENV if env is None else env):
        try:
            client.execute(cwd=str(path.parent))
        except CellExecutionError as err:
            raise NotebookError(f"{path.name}: a cell failed:\n{err}") from err
        finally:  # nbclient leaves a kernel it did not create running: shut it down
            if km.has_kernel:
                km.shutdown_kernel(now=False)
    seconds = time.perf_counter() - start
    strip_volatile(nb)
    counts = [c.execution_count for _, c in _code_cells(nb) if _source(c).strip()]
    if counts != list(range(1, len(counts) + 1)):
        raise NotebookError(f"{path.name}: execution counts are {counts}, expected 1..{len(counts)}")
    if write:
        write_notebook(nb, path)
    return nb, seconds


# ---------------------------------------------------------------------------------------------
# Exercises: find them, stub them
# ---------------------------------------------------------------------------------------------
def find_exercises(nb: NotebookNode) -> list[ExerciseCells]:
    """Every (solution cell, check cell) pair of a notebook, in order.

    Raises
    ------
    NotebookError
        A solution cell not followed by a well-formed check cell, or unbalanced markers.
    """
    found = []
    code = _code_cells(nb)
    for pos, (i, cell) in enumerate(code):
        src = _source(cell)
        if BEGIN not in src:
            continue
        if src.count(BEGIN) != src.count(END):
            raise NotebookError(f"cell {i}: unbalanced {BEGIN!r} / {END!r} markers")
        if pos + 1 >= len(code):
            raise NotebookError(f"cell {i}: an exercise cell must be followed by its check cell")
        j, nxt = code[pos + 1]
        match = _CHECK_CELL.match(_source(nxt).strip())
        if not match:
            raise NotebookError(
                f"cell {j}: expected the check cell of the exercise in cell {i}, e.g. "
                f'`f = check("NN.k", f)`, got {_source(nxt).strip()[:60]!r}'
            )
        if match.group("target") != match.group("fn"):
            raise NotebookError(f"cell {j}: the check must rebind the same name (`f = check(..., f)`)")
        if not re.search(rf"^def {re.escape(match.group('fn'))}\(", src, re.M):
            raise NotebookError(f"cell {i}: expected it to define `{match.group('fn')}` that cell {j} checks")
        found.append(ExerciseCells(i, j, match.group("id"), match.group("fn"), match.group("target")))
    return found


def stub_solution(source: str) -> str:
    """Replace every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block by a stub that returns
    None, keeping the block's indentation (the answer is always the body of a function)."""
    lines = source.split("\n")
    out: list[str] = []
    inside = False
    for line in lines:
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise NotebookError(f"nested {BEGIN!r}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + s for s in STUB.split("\n")]
        elif stripped == END:
            if not inside:
                raise NotebookError(f"{END!r} without {BEGIN!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise NotebookError(f"{BEGIN!r} without {END!r}")
    return "\n".join(out)


def _clear_outputs(cell: NotebookNode) -> None:
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None


def student_notebook(nb: NotebookNode) -> NotebookNode:
    """The student version: solutions replaced by stubs, every output cleared, checks kept."""
    out = copy.deepcopy(nb)
    for i, cell in enumerate(out.cells):
        if cell.cell_type == "code" and BEGIN in _source(cell):
            cell.source = stub_solution(_source(cell))
        _clear_outputs(cell)
    strip_volatile(out)
    out.metadata["harmonia"] = {"version": "student"}
    return out


def nbgrader_notebook(nb: NotebookNode, chapter_id: str) -> NotebookNode:
    """An nbgrader *source* notebook: solution cells and grade cells carry nbgrader's metadata
    (schema 3), check cells are made strict so that a wrong answer fails the grade cell, the
    other cells are read-only. ``nbgrader generate_assignment`` turns it into the release."""
    out = copy.deepcopy(nb)
    exercises = {e.solution_index: e for e in find_exercises(out)}
    checks = {e.check_index: e for e in exercises.values()}
    for i, cell in enumerate(out.cells):
        _clear_outputs(cell)
        base = {"schema_version": 3, "task": False}
        if i in exercises:
            ex = exercises[i]
            cell.metadata["nbgrader"] = {**base, "grade": False, "solution": True, "locked": False,
                                         "grade_id": f"ex{ex.exercise_id.replace('.', '_')}"}
        elif i in checks:
            ex = checks[i]
            cell.source = f'{ex.target} = check("{ex.exercise_id}", {ex.function}, strict=True)'
            cell.metadata["nbgrader"] = {**base, "grade": True, "solution": False, "locked": True, "points": 1,
                                         "grade_id": f"ex{ex.exercise_id.replace('.', '_')}_check"}
        else:
            cell.metadata["nbgrader"] = {**base, "grade": False, "solution": False, "locked": True,
                                         "grade_id": f"cell{chapter_id}_{i:03d}"}
    strip_volatile(out)
    return out


# ---------------------------------------------------------------------------------------------
# Hygiene: what every stored chapter must satisfy
# ---------------------------------------------------------------------------------------------
def hygiene_problems(path: str | Path) -> list[str]:
    """Every way a stored chapter breaks the course's notebook rules (empty list when clean)."""
    path = Path(path)
    problems: list[str] = []
    nb = read_notebook(path)
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as err:
        problems.append(f"not a valid nbformat 4 notebook: {err.message}")
    chapter = chapter_id_of(path)
    code = _code_cells(nb)
    if not code:
        return problems + ["no code cells"]
    first = _source(code[0][1])
    m = _SETUP_CALL.search(first)
    if not re.search(r"^from harmonia\.course import .*\bsetup\b", first, re.M) or not m:
        problems.append('first code cell must be `from harmonia.course import setup` and `setup("NN")`')
    elif m.group("id") != chapter:
        problems.append(f'first code cell calls setup("{m.group("id")}"), expected setup("{chapter}")')
    if nb.metadata.get("widgets"):
        problems.append("saved widget state in the notebook metadata (strip it: python -m harmonia.course execute)")
    counts = [c.get("execution_count") for _, c in code if _source(c).strip()]
    if any(n is None for n in counts):
        problems.append("some code cells have no stored outputs (never executed)")
    elif counts != list(range(1, len(counts) + 1)):
        problems.append(f"execution counts are not 1..N: {counts}")
    for i, cell in code:
        src = _source(cell)
        where = f"code cell {i}"
        for marker in _MARKER_LIKE.findall(src):
            if marker.strip() not in NBVAL_MARKERS:
                problems.append(f"{where}: nbval marker {marker.strip()!r} is not recognised (it must stand alone)")
        lines = {line.strip() for line in src.splitlines()}
        if "# NBVAL_SKIP" in lines:
            problems.append(f"{where}: # NBVAL_SKIP hides a cell from the tests; make it fast instead")
        if "# NBVAL_IGNORE_OUTPUT" in lines and not (_WIDGET_CELL.search(src) or _TIMING_CELL.search(src)):
            problems.append(f"{where}: # NBVAL_IGNORE_OUTPUT is only for widget and timing cells")
        if "sys.path" in src:
            problems.append(f"{where}: edits sys.path; import the installed package instead")
        if _NETWORK.search(src):
            problems.append(f"{where}: looks like it reaches the network ({_NETWORK.search(src).group(0)!r})")
        for out in cell.get("outputs", []):
            if out.output_type == "error" and "# NBVAL_RAISES_EXCEPTION" not in lines:
                problems.append(f"{where}: stored error output {out.get('ename')}: {out.get('evalue')}")
            if out.output_type == "stream" and out.name == "stderr":
                problems.append(f"{where}: stderr output (a warning?) is stored; fix its cause")
            data = out.get("data", {})
            if "image/svg+xml" in data:
                problems.append(f"{where}: SVG figure (carries a timestamp); use PNG")
            if "image/png" in data and not out.get("metadata", {}).get("image/png", {}).get("alt"):
                problems.append(f"{where}: figure without alt text; display it with harmonia.course.show(fig, alt=...)")
            text = "".join(data.get("text/plain", "")) + "".join(out.get("text", ""))
            if re.search(r"tensor\(|device='|at 0x[0-9a-f]+", text):
                problems.append(f"{where}: prints a raw tensor or a memory address; print formatted numbers")
            rounding = _ROUNDING_LEVEL.search(text)
            if rounding:
                problems.append(f"{where}: prints {rounding.group(0)}, a value at rounding level whose digits change "
                                "with the CPU; print the bound it satisfies (harmonia.course.report.below)")
    for i, cell in enumerate(nb.cells):
        text = _source(cell) + "".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                                       for o in cell.get("outputs", []))
        if _CARD.search(text):
            problems.append(f"{cell.cell_type} cell {i}: says {_CARD.search(text).group(0)!r}; students do not have the "
                            "paper cards (say \"the paper\", \"our prototype\" or \"our target\")")
        if cell.cell_type != "code" and re.search(r"(BEGIN|END) SOLUTION", _source(cell)):
            problems.append(f"{cell.cell_type} cell {i}: mentions a solution marker; nbgrader would treat it as one")
    try:
        exercises = find_exercises(nb)
    except NotebookError as err:
        problems.append(str(err))
        exercises = []
    for ex in exercises:
        if not ex.exercise_id.startswith(chapter + "."):
            problems.append(f"code cell {ex.check_index}: exercise {ex.exercise_id} belongs to another chapter")
        try:
            compile(stub_solution(_source(nb.cells[ex.solution_index])), f"cell {ex.solution_index}", "exec")
        except (SyntaxError, NotebookError) as err:
            problems.append(f"code cell {ex.solution_index}: its student stub does not compile ({err})")
    return problems


def python_executable() -> str:
    """The interpreter that runs the tools (used to launch JupyterLab and kernels)."""
    return sys.executable
