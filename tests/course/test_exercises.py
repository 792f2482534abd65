"""The exercise checker: a right answer passes on fresh inputs, wrong ones fail with a hint."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from harmonia.course import exercises as ex


def _cases(gen):
    return [((torch.randn(int(torch.randint(2, 6, (1,), generator=gen)), 3, generator=gen, dtype=torch.float64),), {})
            for _ in range(4)]


def _reference(x):
    return torch.tanh(x) * 2


ex.register(ex.Exercise(id="99.1", title="twice tanh", reference=_reference, cases=_cases, level="easy",
                        hints=("which elementwise function saturates at +-1?", "use torch.tanh, then scale")))


def _verdict(fn, seed=0):
    return ex.evaluate("99.1", fn, seed=seed)


def test_right_answer_passes():
    result = _verdict(lambda x: 2 * torch.tanh(x))
    assert result.passed and result.n_cases == 4 and "PASS" in result.message


def test_numpy_answer_is_accepted():
    assert _verdict(lambda x: 2 * np.tanh(x.numpy())).passed


def test_hard_coded_answer_fails():
    fixed = _reference(_cases(torch.Generator().manual_seed(0))[0][0][0])
    result = _verdict(lambda x: fixed, seed=0)
    assert not result.passed and "FAIL" in result.message


@pytest.mark.parametrize(
    "fn, reason",
    [
        (lambda x: (2 * torch.tanh(x)).unsqueeze(0), "expected shape"),
        (lambda x: 2 * torch.tanh(x) + 1e-3, "differs from the reference"),
        (lambda x: (2 * torch.tanh(x)).to(torch.complex128), "expected a real tensor"),
        (lambda x: [1.0], "expected a tensor"),
        (lambda x: None, "returned None"),
        (lambda x: x / 0 * 0, "NaN or inf"),
        (lambda x: 1 / 0, "raised ZeroDivisionError"),
        (lambda x: (_ for _ in ()).throw(NotImplementedError()), "not implemented yet"),
    ],
)
def test_wrong_answers_fail_with_reason_and_hint(fn, reason):
    result = _verdict(fn)
    assert not result.passed
    assert reason in result.message and "Hint: which elementwise function saturates" in result.message
    assert "use torch.tanh" not in result.message  # the nudge only; hint("99.1") gives the rest


def test_not_a_function_fails():
    result = _verdict(3.0)
    assert not result.passed and "expected a function" in result.message


def test_inputs_are_fresh_each_call():
    seen = []

    def spy(x):
        seen.append(x.clone())
        return 2 * torch.tanh(x)

    ex.evaluate("99.1", spy)
    ex.evaluate("99.1", spy)
    first, second = seen[0], seen[4]
    assert first.shape != second.shape or not torch.equal(first, second)


def test_student_mutating_inputs_cannot_fool_the_check():
    def mutating(x):
        y = 2 * torch.tanh(x)
        x.zero_()
        return torch.zeros_like(y)  # wrong, and would match a reference computed on the zeroed input

    assert not _verdict(mutating).passed


def test_check_returns_student_function_or_reference(capsys):
    good = lambda x: 2 * torch.tanh(x)  # noqa: E731
    assert ex.check("99.1", good, seed=3) is good
    assert "PASS" in capsys.readouterr().out
    bad = lambda x: x  # noqa: E731
    assert ex.check("99.1", bad, seed=3) is _reference
    out = capsys.readouterr().out
    assert "FAIL" in out and "reference solution is used" in out
    assert out.count("\n") == 1, "the verdict is one line"


def test_strict_check_raises():
    with pytest.raises(AssertionError, match="FAIL"):
        ex.check("99.1", lambda x: x, strict=True, seed=0)


def test_compare_numbers_and_sequences():
    assert ex.compare(1.0 + 1e-9, 1.0) is None
    assert "expected about" in ex.compare(1.1, 1.0)
    assert "expected a number" in ex.compare("1.0", 1.0)
    assert ex.compare(torch.tensor(2.0), 2.0) is None
    assert "length" in ex.compare((1.0,), (1.0, 2.0))
    assert "[1]" in ex.compare((1.0, 3.0), (1.0, 2.0))
    assert "expected a finite number" in ex.compare(float("nan"), 1.0)
    assert ex.compare(math.inf, math.inf) is None                      # "no constant" is an exact answer
    assert "expected inf" in ex.compare(1e300, math.inf) and "expected -inf" in ex.compare(math.inf, -math.inf)


def test_bad_ids_are_clear():
    with pytest.raises(ValueError, match="expected 'NN.k'"):
        ex.get_exercise("1.1")
    with pytest.raises(ValueError, match="no exercise '00.9'.*00.1, 00.2"):
        ex.get_exercise("00.9")
    with pytest.raises(ValueError, match="expected 'NN.k'"):
        ex.register(ex.Exercise(id="x", title="", reference=abs, cases=_cases, level="easy", hints=("a", "b")))


def test_chapter_exercises_are_discoverable():
    assert ex.exercise_ids("00") == ["00.1", "00.2"]
    assert ex.exercise_ids("17") == ["17.1", "17.2", "17.3"]
    assert ex.exercise_ids("18") == ["18.1", "18.2", "18.3"]


def test_levels_and_hint_ladder_are_enforced():
    good = dict(id="99.2", title="", reference=abs, cases=_cases)
    with pytest.raises(ValueError, match=r"^exercise.level: expected one of \('easy', 'medium', 'hard', 'research'\), got 'TODO'$"):
        ex.register(ex.Exercise(**good, level="TODO", hints=("a", "b")))
    with pytest.raises(ValueError, match="^exercise.hints: expected a tuple of at least two non-empty strings"):
        ex.register(ex.Exercise(**good, level="easy", hints=("the whole answer",)))
    with pytest.raises(ValueError, match="^exercise.hints: expected a tuple of at least two non-empty strings"):
        ex.register(ex.Exercise(**good, level="easy", hints=("nudge", " ")))


def test_a_failed_check_prints_the_nudge_only_and_hint_climbs_the_ladder(capsys):
    result = _verdict(lambda x: x)
    assert "[99.1 · easy]" in result.message and "which elementwise function" in result.message
    assert "use torch.tanh" not in result.message and 'hint("99.1")' in result.message
    ex._HINTS_SHOWN.pop("99.1", None)
    assert ex.hint("99.1") == "[99.1] hint 2 of 2: use torch.tanh, then scale"
    assert ex.hint("99.1") == "[99.1] hint 2 of 2: use torch.tanh, then scale"  # the last one repeats
    assert "hint 2 of 2" in capsys.readouterr().out


@pytest.mark.parametrize("chapter", ["00", "01", "02", "03", "04", "05", "06", "07"])
def test_every_chapter_exercise_has_a_level_and_a_nudge_that_is_not_the_answer(chapter):
    for exercise_id in ex.exercise_ids(chapter):
        e = ex.get_exercise(exercise_id)
        assert e.level in ex.LEVELS
        assert len(e.hints[0]) < len(e.hints[-1]), f"{exercise_id}: the first hint should be a nudge, shorter than the last"
