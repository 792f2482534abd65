"""Tests of harmonia.config (layer 0): device, mode, seeding and input validation."""

from __future__ import annotations

import math
import random
import re

import numpy as np
import pytest
import torch

import harmonia.config as config
from harmonia.config import (
    check_in,
    check_positive,
    check_tensor,
    device,
    make_generator,
    mode,
    seed_everything,
)


# ---------------------------------------------------------------------------------------------
# device()
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def no_device_env(monkeypatch):
    monkeypatch.delenv("HARMONIA_DEVICE", raising=False)


def test_device_default_follows_cuda_availability(no_device_env):
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert device() == torch.device(expected)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only default")
def test_device_default_is_cpu_without_cuda(no_device_env):
    assert device() == torch.device("cpu")


@pytest.mark.parametrize("value", ["cpu", " cpu ", "cpu:0"])
def test_device_env_override_cpu(monkeypatch, value):
    monkeypatch.setenv("HARMONIA_DEVICE", value)
    assert device() == torch.device(value.strip())


def test_device_empty_env_means_automatic(monkeypatch):
    monkeypatch.setenv("HARMONIA_DEVICE", "   ")
    assert device() == torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("value", ["cuda", "cuda:1"])
def test_device_cuda_requested_without_cuda(monkeypatch, value):
    monkeypatch.setenv("HARMONIA_DEVICE", value)
    with pytest.raises(ValueError, match=r"^HARMONIA_DEVICE: .*torch\.cuda\.is_available\(\) is False") as info:
        device()
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("value", ["tpu9", "cuda:abc", "gpu"])
def test_device_garbage_rejected(monkeypatch, value):
    monkeypatch.setenv("HARMONIA_DEVICE", value)
    with pytest.raises(ValueError, match=r"^HARMONIA_DEVICE: expected 'cpu', 'cuda' or 'cuda:N'") as info:
        device()
    assert repr(value) in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)  # torch's own error is chained


@pytest.mark.parametrize("value", ["meta", "xla"])
def test_device_types_torch_knows_but_the_course_cannot_compute_on_are_rejected(monkeypatch, value):
    monkeypatch.setenv("HARMONIA_DEVICE", value)
    with pytest.raises(ValueError, match=rf"^HARMONIA_DEVICE: expected 'cpu', 'cuda', 'cuda:N' or 'mps', got '{value}'$"):
        device()


# ---------------------------------------------------------------------------------------------
# mode()
# ---------------------------------------------------------------------------------------------
def test_mode_default_is_fast(monkeypatch):
    monkeypatch.delenv("HARMONIA_MODE", raising=False)
    assert mode() == "fast"


def test_mode_empty_is_fast(monkeypatch):
    monkeypatch.setenv("HARMONIA_MODE", "  ")
    assert mode() == "fast"


@pytest.mark.parametrize(("value", "expected"), [("full", "full"), ("FULL", "full"), (" Full ", "full"), ("FaSt", "fast")])
def test_mode_values_case_insensitive(monkeypatch, value, expected):
    monkeypatch.setenv("HARMONIA_MODE", value)
    assert mode() == expected


@pytest.mark.parametrize("value", ["slow", "fulll", "1"])
def test_mode_invalid_names_variable(monkeypatch, value):
    monkeypatch.setenv("HARMONIA_MODE", value)
    with pytest.raises(ValueError, match=r"^HARMONIA_MODE: expected one of \('fast', 'full'\)") as info:
        mode()
    assert repr(value.lower()) in str(info.value)


def test_module_getattr_unknown_name():
    with pytest.raises(AttributeError, match="no attribute 'NOPE'"):
        config.NOPE  # noqa: B018


# ---------------------------------------------------------------------------------------------
# seed_everything, make_generator
# ---------------------------------------------------------------------------------------------
def _draws():
    return (
        [random.random() for _ in range(3)],
        np.random.rand(3).tolist(),
        torch.rand(3).tolist(),
    )


@pytest.fixture
def restore_global_rng():
    py, npy, th = random.getstate(), np.random.get_state(), torch.get_rng_state()
    yield
    random.setstate(py)
    np.random.set_state(npy)
    torch.set_rng_state(th)


def test_seed_everything_reproduces_all_generators(restore_global_rng):
    seed_everything(123)
    first = _draws()
    seed_everything(123)
    second = _draws()
    assert first == second
    seed_everything(124)
    third = _draws()
    for a, b in zip(first, third):  # each library's stream depends on the seed
        assert a != b


def test_seed_everything_returns_seeded_generator(restore_global_rng):
    gen = seed_everything(7)
    assert isinstance(gen, torch.Generator)
    assert gen.initial_seed() == 7
    assert torch.equal(torch.rand(4, generator=gen), torch.rand(4, generator=torch.Generator().manual_seed(7)))


def test_seed_everything_accepts_numpy_integer_and_large_seed(restore_global_rng):
    seed_everything(np.int64(5))
    a = _draws()
    seed_everything(5)
    assert _draws() == a
    seed_everything(2**40)  # numpy gets seed % 2**32: must not raise


@pytest.mark.parametrize("seed", [-1, True, False, 1.0, 0.5, "3", None])
def test_seed_everything_rejects_bad_seed(seed, restore_global_rng):
    with pytest.raises(ValueError, match=r"^seed: expected a non-negative int, got "):
        seed_everything(seed)


def test_make_generator_from_int():
    g = make_generator(11)
    assert isinstance(g, torch.Generator)
    assert g.initial_seed() == 11
    assert torch.equal(torch.randn(5, generator=g), torch.randn(5, generator=make_generator(11)))


def test_make_generator_passthrough():
    g = torch.Generator().manual_seed(3)
    assert make_generator(g) is g


def test_make_generator_none_follows_global_seed(restore_global_rng):
    torch.manual_seed(99)
    s1 = make_generator(None).initial_seed()
    torch.manual_seed(99)
    s2 = make_generator().initial_seed()
    assert s1 == s2
    assert 0 <= s1 < 2**62
    torch.manual_seed(100)
    assert make_generator(None).initial_seed() != s1


@pytest.mark.parametrize("seed", [-3, True, 2.0, "1"])
def test_make_generator_rejects_bad_seed(seed):
    with pytest.raises(ValueError, match=r"^seed: expected a non-negative int, a torch.Generator or None"):
        make_generator(seed)


# ---------------------------------------------------------------------------------------------
# check_tensor
# ---------------------------------------------------------------------------------------------
def test_check_tensor_returns_same_object():
    x = torch.zeros(3, 2)
    assert check_tensor(x, "x", shape=(3, 2), dtype="floating", ndim=2, device="cpu", like=x) is x


@pytest.mark.parametrize(
    ("value", "what"),
    [([1, 2], "list [1, 2]"), (3.5, "float 3.5"), (np.zeros((2, 3)), "a numpy array of shape (2, 3), dtype float64"), (None, "NoneType None")],
)
def test_check_tensor_rejects_non_tensors(value, what):
    with pytest.raises(TypeError) as info:
        check_tensor(value, "points")
    assert str(info.value) == f"points: expected a torch.Tensor, got {what}"


def test_check_tensor_long_repr_is_truncated():
    with pytest.raises(TypeError) as info:
        check_tensor("a" * 200, "s")
    msg = str(info.value)
    assert msg.startswith("s: expected a torch.Tensor, got str ")
    assert msg.endswith("...") and len(msg) < 120


@pytest.mark.parametrize(
    ("dtype", "ok", "bad"),
    [
        ("floating", torch.float64, torch.int64),
        ("real", torch.bfloat16, torch.complex64),
        ("complex", torch.complex128, torch.float32),
        ("float_or_complex", torch.complex64, torch.int32),
        ("integer", torch.uint8, torch.bool),
        (torch.float32, torch.float32, torch.float64),
        ((torch.int32, torch.int64), torch.int64, torch.int16),
    ],
)
def test_check_tensor_dtype(dtype, ok, bad):
    x = torch.zeros(2, dtype=ok)
    assert check_tensor(x, "x", dtype=dtype) is x
    with pytest.raises(TypeError, match=r"^x: expected .*, got a tensor of shape \(2,\), dtype " + re.escape(str(bad))):
        check_tensor(torch.zeros(2, dtype=bad), "x", dtype=dtype)


def test_check_tensor_dtype_messages():
    with pytest.raises(TypeError, match=r"^w: expected a complex dtype, got"):
        check_tensor(torch.zeros(1), "w", dtype="complex")
    with pytest.raises(TypeError, match=r"^w: expected a float or complex dtype, got"):
        check_tensor(torch.zeros(1, dtype=torch.int64), "w", dtype="float_or_complex")
    with pytest.raises(TypeError, match=r"^w: expected one of torch.int32, torch.int64, got"):
        check_tensor(torch.zeros(1), "w", dtype=(torch.int32, torch.int64))
    with pytest.raises(ValueError, match=r"^dtype: expected one of \['complex', 'fft', 'float32_64', 'float_or_complex', 'floating', 'integer', 'real'\], got 'double'"):
        check_tensor(torch.zeros(1), "w", dtype="double")


def test_check_tensor_ndim_and_min_ndim():
    x = torch.zeros(2, 3, 4)
    assert check_tensor(x, "x", ndim=3) is x
    assert check_tensor(x, "x", ndim=(2, 3)) is x
    assert check_tensor(x, "x", min_ndim=3) is x
    with pytest.raises(ValueError, match=r"^x: expected 2 dimensions, got a tensor of shape \(2, 3, 4\)"):
        check_tensor(x, "x", ndim=2)
    with pytest.raises(ValueError, match=r"^x: expected 1 or 2 dimensions, got"):
        check_tensor(x, "x", ndim=(1, 2))
    with pytest.raises(ValueError, match=r"^x: expected at least 4 dimensions, got"):
        check_tensor(x, "x", min_ndim=4)


@pytest.mark.parametrize("shape", [(5, 2), (3, 4, 2), (1, 1, 1, 2)])
def test_check_tensor_shape_ellipsis_accepts(shape):
    x = torch.zeros(shape)
    assert check_tensor(x, "pts", shape=("...", "N", 2)) is x


@pytest.mark.parametrize("shape", [(5, 3), (2,), (), (3, 4, 5)])
def test_check_tensor_shape_ellipsis_rejects(shape):
    with pytest.raises(ValueError) as info:
        check_tensor(torch.zeros(shape), "pts", shape=("...", "N", 2))
    assert str(info.value).startswith(f"pts: expected shape (..., N, 2), got a tensor of shape {shape}")


def test_check_tensor_shape_exact_none_and_inner_ellipsis():
    assert check_tensor(torch.zeros(3, 7), "a", shape=(3, None)) is not None
    with pytest.raises(ValueError, match=r"^a: expected shape \(3, \*\), got"):
        check_tensor(torch.zeros(4, 7), "a", shape=(3, None))
    with pytest.raises(ValueError, match=r"^a: expected shape \(3, \*\), got"):
        check_tensor(torch.zeros(3, 7, 1), "a", shape=(3, None))
    # "..." in the middle: head and tail pinned, anything in between
    spec = (2, "...", 3)
    for ok in [(2, 3), (2, 9, 3), (2, 1, 1, 3)]:
        check_tensor(torch.zeros(ok), "a", shape=spec)
    for bad in [(3, 3), (2, 9, 4), (2,)]:
        with pytest.raises(ValueError):
            check_tensor(torch.zeros(bad), "a", shape=spec)
    # the trailing "..." matches zero or more dimensions
    check_tensor(torch.zeros(4), "a", shape=(4, "..."))
    check_tensor(torch.zeros(4, 5, 6), "a", shape=(4, "..."))


def test_check_tensor_nonfinite_counts():
    x = torch.tensor([1.0, float("nan"), float("inf"), -float("inf"), float("nan"), float("nan")])
    with pytest.raises(ValueError) as info:
        check_tensor(x, "x")
    assert str(info.value) == (
        "x: expected finite values, got a tensor of shape (6,), dtype torch.float32, on cpu with 3 NaN and 2 inf entries"
    )


def test_check_tensor_nonfinite_complex():
    z = torch.tensor([complex(1, 0), complex(0, float("inf"))], dtype=torch.complex128)
    with pytest.raises(ValueError, match=r"with 0 NaN and 1 inf entries$"):
        check_tensor(z, "z")


def test_check_tensor_finite_false_allows_nan_and_integers_are_skipped():
    x = torch.tensor([float("nan"), float("inf")])
    assert check_tensor(x, "x", finite=False) is x
    i = torch.tensor([1, 2, 3])
    assert check_tensor(i, "i") is i
    empty = torch.empty(0)
    assert check_tensor(empty, "e") is empty


def test_check_tensor_device():
    x = torch.zeros(2)
    assert check_tensor(x, "x", device="cpu") is x
    assert check_tensor(x, "x", device=torch.device("cpu")) is x
    with pytest.raises(ValueError, match=r"^x: expected a tensor on meta, got a tensor of shape \(2,\), dtype torch.float32, on cpu$"):
        check_tensor(x, "x", device="meta")


def test_check_tensor_like_device_mismatch():
    other = torch.empty(2, device="meta")
    with pytest.raises(ValueError) as info:
        check_tensor(torch.zeros(2), "x", like=other)
    assert str(info.value) == (
        "x: expected a tensor on the same device as the other inputs (meta), "
        "got a tensor of shape (2,), dtype torch.float32, on cpu"
    )
    # meta tensors hold no values, so the finiteness check is switched off here
    assert check_tensor(other, "y", like=torch.empty(3, device="meta"), finite=False) is other


# ---------------------------------------------------------------------------------------------
# check_in, check_positive
# ---------------------------------------------------------------------------------------------
def test_check_in():
    assert check_in("b", "method", ("a", "b")) == "b"
    with pytest.raises(ValueError) as info:
        check_in("c", "method", ["a", "b"])
    assert str(info.value) == "method: expected one of ('a', 'b'), got 'c'"


@pytest.mark.parametrize(("value", "expected"), [(3, 3.0), (2.5, 2.5), (np.float32(0.25), 0.25), (np.int64(4), 4.0)])
def test_check_positive_accepts(value, expected):
    out = check_positive(value, "lr")
    assert out == expected and type(out) is float


def test_check_positive_integer_mode():
    out = check_positive(np.int32(6), "n", integer=True)
    assert out == 6 and type(out) is int
    with pytest.raises(TypeError, match=r"^n: expected a positive int, got float 6.0$"):
        check_positive(6.0, "n", integer=True)


def test_check_positive_zero():
    with pytest.raises(ValueError, match=r"^lr: expected a positive number, got 0$"):
        check_positive(0, "lr")
    assert check_positive(0, "steps", integer=True, allow_zero=True) == 0
    with pytest.raises(ValueError, match=r"^steps: expected a non-negative int, got -1$"):
        check_positive(-1, "steps", integer=True, allow_zero=True)


@pytest.mark.parametrize("value", [-1, -0.5, float("nan"), float("inf"), -float("inf"), np.float64("nan")])
def test_check_positive_rejects_values(value):
    with pytest.raises(ValueError, match=r"^lr: expected a positive number, got "):
        check_positive(value, "lr")


@pytest.mark.parametrize("value", [True, False, "1", None, torch.tensor(1.0), 1 + 0j])
def test_check_positive_rejects_types(value):
    with pytest.raises(TypeError, match=r"^lr: expected a positive number, got "):
        check_positive(value, "lr")


def test_check_positive_integers_beyond_int64():
    # regression: these used to crash in np.isfinite with numpy's TypeError
    out = check_positive(2**64, "n", integer=True)
    assert out == 2**64 and type(out) is int
    assert check_positive(10**400, "n", integer=True) == 10**400


def test_check_positive_int_too_large_for_float():
    # regression: this used to leak float()'s OverflowError
    with pytest.raises(ValueError, match=r"^x: expected a positive number that fits a float, got 1000"):
        check_positive(10**400, "x")
    assert math.isfinite(check_positive(10**300, "x"))


def test_check_int_names_the_argument_and_honours_its_minimum():
    from harmonia.config import check_int

    assert check_int(3, "M", 2) == 3 and check_int(0, "j", 0) == 0 and check_int(np.int64(5), "L") == 5
    with pytest.raises(ValueError, match=r"^M: expected an int >= 2, got 1$"):
        check_int(1, "M", 2)
    with pytest.raises(ValueError, match="^L: expected a positive int, got 0"):
        check_int(0, "L")
    with pytest.raises(ValueError, match="^j: expected a non-negative int, got -1"):
        check_int(-1, "j", 0)
    with pytest.raises(TypeError, match="^N: expected a positive int"):
        check_int(16.0, "N", 2)
    with pytest.raises(TypeError, match="^N: expected a positive int"):
        check_int(True, "N")
    with pytest.raises(ValueError, match="^minimum: expected an int >= 0"):
        check_int(3, "M", -1)
