"""Exercises with automatic checks.

In a chapter, an exercise is a code cell whose answer sits between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` (nbgrader's markers), followed by a check cell::

    f = check("00.1", f)

Every exercise has a level (``easy``, ``medium``, ``hard`` or ``research``, shown in its heading and
its verdict) and a ladder of hints: a failed check prints only the first, a nudge; ``hint("NN.k")``
prints the next one each time it is called. Derivations and answers are never displayed above an
exercise: the chapter shows them after the check cell.

:func:`check` runs the student's function and the library's reference on *fresh random inputs*
(so a hard-coded value cannot pass), prints a one-line verdict (with a hint on failure) and
returns the student's function when it passes, else the reference, so the chapter still runs.

The checks of chapter ``NN`` live in ``harmonia.course.exercises.chNN`` and register themselves
with :func:`register` when that module is imported (``check`` imports it on demand).
"""

from __future__ import annotations

import importlib
import math
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["Exercise", "CheckResult", "LEVELS", "register", "get_exercise", "evaluate", "check", "hint", "compare",
           "exercise_ids"]

#: exercise levels, in order
LEVELS = ("easy", "medium", "hard", "research")

_ID = re.compile(r"(\d\d)\.(\d+)")
_REGISTRY: dict[str, Exercise] = {}

Case = tuple[tuple, dict]


@dataclass(frozen=True)
class Exercise:
    """A registered exercise.

    Parameters
    ----------
    id : str
        ``"NN.k"``: chapter and number.
    title : str
        A few words shown in the verdict.
    reference : callable
        The library's answer (the function the student writes, with the same signature).
    cases : callable
        ``cases(generator) -> list[(args, kwargs)]``: fresh random inputs drawn from the generator.
    level : {"easy", "medium", "hard", "research"}
        How much thought it needs (research: beyond the paper's page).
    hints : tuple of str
        At least two, from a nudge to the last step: a failed check prints the first, :func:`hint`
        the next one on each call.
    rtol, atol : float
        Tolerances of the default comparison.
    compare : callable, optional
        ``compare(got, expected, args, kwargs) -> str | None``: a reason for failure, or None.
        Default: :func:`compare` with ``rtol``/``atol``.
    """

    id: str
    title: str
    reference: Callable[..., Any]
    cases: Callable[[torch.Generator], Sequence[Case]]
    level: str
    hints: tuple[str, ...]
    rtol: float = 1e-5
    atol: float = 1e-7
    compare: Callable[[Any, Any, tuple, dict], str | None] | None = None
    extra: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of :func:`evaluate`: ``passed``, the verdict line, and the number of cases."""

    exercise_id: str
    passed: bool
    message: str
    n_cases: int

    def __bool__(self) -> bool:
        return self.passed


def register(exercise: Exercise) -> Exercise:
    """Add an exercise to the registry (called at import of ``harmonia.course.exercises.chNN``)."""
    if not _ID.fullmatch(exercise.id):
        raise ValueError(f"exercise.id: expected 'NN.k' (e.g. '05.2'), got {exercise.id!r}")
    if exercise.level not in LEVELS:
        raise ValueError(f"exercise.level: expected one of {LEVELS}, got {exercise.level!r}")
    hints = exercise.hints
    if not isinstance(hints, tuple) or len(hints) < 2 or not all(isinstance(h, str) and h.strip() for h in hints):
        raise ValueError(f"exercise.hints: expected a tuple of at least two non-empty strings (a nudge first), got {hints!r}")
    _REGISTRY[exercise.id] = exercise
    return exercise


def get_exercise(exercise_id: str) -> Exercise:
    """The registered exercise ``"NN.k"``, importing its chapter's module on demand."""
    match = _ID.fullmatch(str(exercise_id))
    if not match:
        raise ValueError(f"exercise_id: expected 'NN.k' (e.g. '05.2'), got {exercise_id!r}")
    if exercise_id not in _REGISTRY:
        try:
            importlib.import_module(f"harmonia.course.exercises.ch{match.group(1)}")
        except ModuleNotFoundError as err:
            if err.name != f"harmonia.course.exercises.ch{match.group(1)}":
                raise
    if exercise_id not in _REGISTRY:
        known = ", ".join(sorted(k for k in _REGISTRY if k.startswith(match.group(1) + "."))) or "none"
        raise ValueError(f"exercise_id: no exercise {exercise_id!r} (chapter {match.group(1)} has: {known})")
    return _REGISTRY[exercise_id]


def exercise_ids(chapter_id: str) -> list[str]:
    """Ids of the registered exercises of a chapter, in order."""
    try:
        importlib.import_module(f"harmonia.course.exercises.ch{chapter_id}")
    except ModuleNotFoundError:
        return []
    return sorted((k for k in _REGISTRY if k.startswith(chapter_id + ".")), key=lambda k: int(k.split(".")[1]))


# ---------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------
def _describe(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"a tensor of shape {tuple(x.shape)} ({x.dtype})"
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} ({x.dtype})"
    if x is None:
        return "None"
    text = repr(x)
    return f"{type(x).__name__} {text[:40] + '...' if len(text) > 40 else text}"


def compare(got: Any, expected: Any, *, rtol: float = 1e-5, atol: float = 1e-7, path: str = "the answer") -> str | None:
    """Compare an answer with the reference; return a short reason when they differ, else None.

    Tensors must match in shape, be real/complex alike, and agree to ``rtol``/``atol`` (compared in
    float64); numbers must agree to the same tolerances; tuples/lists elementwise; other values
    by equality.
    """
    if isinstance(expected, torch.Tensor):
        if isinstance(got, np.ndarray):
            got = torch.from_numpy(got)
        if not isinstance(got, torch.Tensor):
            return f"{path}: expected {_describe(expected)}, got {_describe(got)}"
        if tuple(got.shape) != tuple(expected.shape):
            return f"{path}: expected shape {tuple(expected.shape)}, got shape {tuple(got.shape)}"
        if got.is_complex() != expected.is_complex():
            kind = "complex" if expected.is_complex() else "real"
            return f"{path}: expected a {kind} tensor, got {got.dtype}"
        g = got.detach().to("cpu", torch.complex128 if got.is_complex() else torch.float64)
        e = expected.detach().to("cpu", g.dtype)
        if not bool(torch.isfinite(g).all()):
            return f"{path}: contains NaN or inf"
        if not torch.allclose(g, e, rtol=rtol, atol=atol):
            err = float((g - e).abs().max())
            return f"{path}: differs from the reference by up to {err:.2e}"
        return None
    if isinstance(expected, (bool, np.bool_)):
        return None if got is expected or got == expected else f"{path}: expected {expected}, got {_describe(got)}"
    if isinstance(expected, (int, float, np.integer, np.floating)):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, (int, float, np.integer, np.floating)):
            return f"{path}: expected a number, got {_describe(got)}"
        if not math.isfinite(float(expected)):               # e.g. "no Lipschitz constant": exactly inf
            return None if float(got) == float(expected) else f"{path}: expected {float(expected)}, got {got}"
        if not math.isfinite(float(got)):
            return f"{path}: expected a finite number, got {got}"
        if not math.isclose(float(got), float(expected), rel_tol=rtol, abs_tol=atol):
            return f"{path}: expected about {float(expected):.6g}, got {float(got):.6g}"
        return None
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"{path}: expected a {type(expected).__name__} of length {len(expected)}, got {_describe(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            reason = compare(g, e, rtol=rtol, atol=atol, path=f"{path}[{i}]")
            if reason:
                return reason
        return None
    return None if got == expected else f"{path}: expected {expected!r}, got {_describe(got)}"


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------------
# Evaluation and the check a notebook calls
# ---------------------------------------------------------------------------------------------
def evaluate(exercise_id: str, fn: object, *, seed: int | None = None) -> CheckResult:
    """Run ``fn`` against the reference on fresh random inputs; never raises for a wrong answer.

    Parameters
    ----------
    exercise_id : str
        ``"NN.k"``.
    fn : callable
        The student's function.
    seed : int, optional
        Seed of the inputs (default: fresh entropy, so the inputs change every run).
    """
    ex = get_exercise(exercise_id)
    head = f"[{ex.id} · {ex.level}] {ex.title}"
    nudge = f"Hint: {ex.hints[0]}. More: hint(\"{ex.id}\")."
    if not callable(fn):
        return CheckResult(ex.id, False, f"{head}: FAIL, expected a function, got {_describe(fn)}. {nudge}", 0)
    gen = torch.Generator().manual_seed(secrets.randbits(62) if seed is None else int(seed))
    cases = list(ex.cases(gen))
    for k, (args, kwargs) in enumerate(cases, start=1):
        expected = ex.reference(*_clone(args), **_clone(kwargs))
        try:
            got = fn(*_clone(args), **_clone(kwargs))
        except NotImplementedError:
            reason = "not implemented yet"
        except Exception as err:  # the student's code may raise anything
            reason = f"raised {type(err).__name__}: {err}"
        else:
            if got is None:
                reason = "returned None (is the solution written?)"
            elif ex.compare is not None:
                reason = ex.compare(got, expected, args, kwargs)
            else:
                reason = compare(got, expected, rtol=ex.rtol, atol=ex.atol)
        if reason:
            msg = f"{head}: FAIL on random case {k} of {len(cases)}: {reason}. {nudge}"
            return CheckResult(ex.id, False, msg, len(cases))
    return CheckResult(ex.id, True, f"{head}: PASS on {len(cases)} random cases.", len(cases))


def check(exercise_id: str, fn: Callable[..., Any], *, strict: bool = False, seed: int | None = None) -> Callable[..., Any]:
    """Check a student's answer, print a one-line verdict, and return the function to use next.

    Parameters
    ----------
    exercise_id : str
        ``"NN.k"``, as printed in the exercise's heading.
    fn : callable
        The student's function.
    strict : bool
        Raise ``AssertionError`` on failure instead of falling back to the reference (this is
        what nbgrader grade cells use).
    seed : int, optional
        Fix the random inputs (default: fresh ones every call).

    Returns
    -------
    callable
        ``fn`` when it passes, else the library's reference, so the rest of the chapter runs.
    """
    result = evaluate(exercise_id, fn, seed=seed)
    if result.passed:
        print(result.message)
        return fn
    if strict:
        raise AssertionError(result.message)
    print(result.message + " The reference solution is used from here on.")
    return get_exercise(exercise_id).reference


_HINTS_SHOWN: dict[str, int] = {}


def hint(exercise_id: str) -> str:
    """Print (and return) the next hint of an exercise: the first call gives the second hint (the
    failed check already printed the first), later calls go one step further, the last one repeats."""
    ex = get_exercise(exercise_id)
    k = min(_HINTS_SHOWN.get(ex.id, 0) + 1, len(ex.hints) - 1)
    _HINTS_SHOWN[ex.id] = k
    text = f"[{ex.id}] hint {k + 1} of {len(ex.hints)}: {ex.hints[k]}"
    print(text)
    return text
