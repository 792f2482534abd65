"""Layer 0 of Harmonia: device, fast/full mode, seeding and input validation.

This module imports no other part of :mod:`harmonia` and has no import-time side effects.
Every other layer reads the run configuration from here.

Environment variables
---------------------
``HARMONIA_DEVICE``
    ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; overrides the automatic choice of :func:`device`.
``HARMONIA_MODE``
    ``"fast"`` (default: every chapter runs on a laptop CPU in <= 90 s) or ``"full"``
    (closer to the paper's scale, meant for a GPU).
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

__all__ = [
    "MODES",
    "device",
    "mode",
    "seed_everything",
    "make_generator",
    "check_tensor",
    "check_in",
    "check_positive",
    "check_int",
    "check_finite",
    "check_broadcast",
]

MODES = ("fast", "full")
Mode = Literal["fast", "full"]


# ---------------------------------------------------------------------------------------------
# Device and mode
# ---------------------------------------------------------------------------------------------
def device() -> torch.device:
    """The device the course computes on.

    ``HARMONIA_DEVICE`` wins when set (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...); otherwise ``cuda``
    when a CUDA device is available, else ``cpu``.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If ``HARMONIA_DEVICE`` names something torch does not know, or asks for CUDA on a machine
        without it.
    """
    wanted = os.environ.get("HARMONIA_DEVICE", "").strip()
    if wanted:
        try:
            dev = torch.device(wanted)
        except RuntimeError as err:
            raise ValueError(
                f"HARMONIA_DEVICE: expected 'cpu', 'cuda' or 'cuda:N', got {wanted!r}"
            ) from err
        if dev.type not in ("cpu", "cuda", "mps"):
            raise ValueError(f"HARMONIA_DEVICE: expected 'cpu', 'cuda', 'cuda:N' or 'mps', got {wanted!r}")
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"HARMONIA_DEVICE: expected a device this machine has, got {wanted!r} "
                "but torch.cuda.is_available() is False; unset it or use 'cpu'"
            )
        return dev
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def mode() -> Mode:
    """The run mode, read from ``HARMONIA_MODE`` each time (default ``"fast"``).

    Chapters do not call this: :func:`harmonia.course.settings.current` reads it once into the
    chapter's settings (``session.settings``), the one place the course learns its mode.

    Returns
    -------
    {"fast", "full"}

    Raises
    ------
    ValueError
        If ``HARMONIA_MODE`` is set to anything else.
    """
    value = os.environ.get("HARMONIA_MODE", "fast").strip().lower() or "fast"
    if value not in MODES:
        raise ValueError(f"HARMONIA_MODE: expected one of {MODES}, got {value!r}")
    return value  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Randomness
# ---------------------------------------------------------------------------------------------
def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python's, NumPy's and torch's global generators (CPU and all CUDA devices).

    Only the teaching layer calls this (once per notebook, through ``harmonia.course.setup``);
    library code takes an explicit ``torch.Generator`` or ``seed=`` argument instead.

    Parameters
    ----------
    seed : int
        A non-negative integer.

    Returns
    -------
    torch.Generator
        A fresh CPU generator seeded with ``seed``, for code that wants an explicit one.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return make_generator(seed)


def make_generator(seed: int | torch.Generator | None = None, device: str | torch.device = "cpu", *,
                   name: str = "seed") -> torch.Generator:
    """An explicit ``torch.Generator``: pass one through, or build one from an int seed.

    Parameters
    ----------
    seed : int, torch.Generator or None
        ``None`` draws a seed from torch's global generator (so ``seed_everything`` makes it
        reproducible); an int seeds a new generator; a generator is returned unchanged.
    device : str or torch.device
        Device of a newly built generator.
    name : str
        The caller's name for ``seed`` (``"generator"``, ...), used in the error message.
    """
    if isinstance(seed, torch.Generator):
        return seed
    gen = torch.Generator(device=device)
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{name}: expected a non-negative int, a torch.Generator or None, got {seed!r}")
    gen.manual_seed(int(seed))
    return gen


# ---------------------------------------------------------------------------------------------
# Validation: one helper for every public boundary of the library
# ---------------------------------------------------------------------------------------------
_DTYPE_GROUPS: dict[str, tuple[torch.dtype, ...]] = {
    "floating": (torch.float16, torch.bfloat16, torch.float32, torch.float64),
    "real": (torch.float16, torch.bfloat16, torch.float32, torch.float64),
    "complex": (torch.complex64, torch.complex128),
    "float_or_complex": (
        torch.float16,
        torch.bfloat16,
        torch.float32,
        torch.float64,
        torch.complex64,
        torch.complex128,
    ),
    "integer": (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64),
    # single or double precision only: torch.fft and torch.linalg have no half-precision CPU kernels
    "float32_64": (torch.float32, torch.float64),
    "fft": (torch.float32, torch.float64, torch.complex64, torch.complex128),
}
_DTYPE_LABELS: dict[str, str] = {
    "float32_64": "a floating dtype of single or double precision (torch.float32 or torch.float64)",
    "fft": "a float or complex dtype of single or double precision (float32, float64, complex64, complex128)",
}


def _describe(x: object) -> str:
    if isinstance(x, torch.Tensor):
        return f"a tensor of shape {tuple(x.shape)}, dtype {x.dtype}, on {x.device}"
    if isinstance(x, np.ndarray):
        return f"a numpy array of shape {x.shape}, dtype {x.dtype}"
    text = repr(x)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(x).__name__} {text}"


def _shape_matches(shape: tuple[int, ...], spec: Sequence[int | str | None]) -> bool:
    """Match ``shape`` against ``spec``; ``"..."`` (once) stands for any leading dimensions,
    ``None`` or a name for any size (a name used twice for one size), an int for that exact size."""
    spec = list(spec)
    if "..." in spec:
        i = spec.index("...")
        head, tail = spec[:i], spec[i + 1 :]
        if len(shape) < len(head) + len(tail):
            return False
        pairs = list(zip(shape[: len(head)], head)) + list(zip(shape[len(shape) - len(tail) :], tail))
    else:
        if len(shape) != len(spec):
            return False
        pairs = list(zip(shape, spec))
    bound: dict[str, int] = {}  # a name used twice must bind one size: ("n", "n") is a square matrix
    for n, s in pairs:
        if isinstance(s, str):
            if bound.setdefault(s, n) != n:
                return False
        elif isinstance(s, int) and s != n:
            return False
    return True


def check_tensor(
    x: object,
    name: str,
    *,
    shape: Sequence[int | str | None] | None = None,
    ndim: int | tuple[int, ...] | None = None,
    min_ndim: int | None = None,
    dtype: str | torch.dtype | tuple[torch.dtype, ...] | None = None,
    finite: bool = True,
    device: torch.device | str | None = None,
    like: torch.Tensor | None = None,
    nonempty: bool = False,
) -> torch.Tensor:
    """Validate a tensor argument and return it unchanged, or raise with a message that names
    the argument, what was expected and what came.

    Parameters
    ----------
    x : object
        The value received.
    name : str
        The argument's name as the caller spells it (appears first in every message).
    shape : sequence of int, str or None, optional
        Expected shape. Ints must match exactly, ``None`` or a name (``"N"``) match any size (a name
        that appears twice must match the same size both times: ``("n", "n")`` is square), and
        one ``"..."`` stands for any number of leading (or inner) dimensions. Example:
        ``("...", "N", 2)``.
    ndim : int or tuple of int, optional
        Allowed number(s) of dimensions.
    min_ndim : int, optional
        Minimum number of dimensions.
    dtype : str, torch.dtype or tuple of torch.dtype, optional
        A dtype, a tuple of dtypes, or a group name: ``"floating"``, ``"real"``, ``"complex"``,
        ``"float_or_complex"``, ``"integer"``, ``"float32_64"`` (float32 or float64), ``"fft"``
        (float32/64 or complex64/128: what torch.fft and torch.linalg accept on every device).
    finite : bool
        If true (default), NaN or infinite entries are an error (floating and complex tensors only).
    device : torch.device or str, optional
        Required device (compared by type and index when an index is given).
    like : torch.Tensor, optional
        Another argument whose device ``x`` must share (the usual "device mismatch" check).
    nonempty : bool
        If true, a tensor with no entries (a zero size) is an error.

    Returns
    -------
    torch.Tensor
        ``x`` itself.

    Raises
    ------
    TypeError
        If ``x`` is not a tensor or has the wrong dtype.
    ValueError
        If the shape, the number of dimensions, the values (NaN/inf) or the device are wrong.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {_describe(x)}")
    if dtype is not None:
        if isinstance(dtype, str):
            if dtype not in _DTYPE_GROUPS:
                raise ValueError(f"dtype: expected one of {sorted(_DTYPE_GROUPS)}, got {dtype!r}")
            allowed = _DTYPE_GROUPS[dtype]
            label = _DTYPE_LABELS.get(dtype, f"a {dtype.replace('_', ' ')} dtype")
        elif isinstance(dtype, torch.dtype):
            allowed, label = (dtype,), str(dtype)
        else:
            allowed = tuple(dtype)
            label = "one of " + ", ".join(str(d) for d in allowed)
        if x.dtype not in allowed:
            raise TypeError(f"{name}: expected {label}, got {_describe(x)}")
    if ndim is not None:
        allowed_ndim = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed_ndim:
            want = " or ".join(str(n) for n in allowed_ndim)
            raise ValueError(f"{name}: expected {want} dimensions, got {_describe(x)}")
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(f"{name}: expected at least {min_ndim} dimensions, got {_describe(x)}")
    if shape is not None and not _shape_matches(tuple(x.shape), shape):
        spec = "(" + ", ".join("..." if s == "..." else str(s) if s is not None else "*" for s in shape) + ")"
        raise ValueError(f"{name}: expected shape {spec}, got {_describe(x)}")
    if device is not None:
        want = torch.device(device)
        if x.device.type != want.type or (want.index is not None and x.device.index != want.index):
            raise ValueError(f"{name}: expected a tensor on {want}, got {_describe(x)}")
    if nonempty and x.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty tensor, got {_describe(x)}")
    if like is not None and x.device != like.device:
        raise ValueError(
            f"{name}: expected a tensor on the same device as the other inputs ({like.device}), "
            f"got {_describe(x)}"
        )
    if finite and (x.is_floating_point() or x.is_complex()) and x.numel() > 0 and x.device.type != "meta":
        bad = ~torch.isfinite(x)
        if bool(bad.any()):
            n_nan = int(torch.isnan(x).sum())
            n_inf = int(bad.sum()) - n_nan
            raise ValueError(
                f"{name}: expected finite values, got {_describe(x)} with {n_nan} NaN and {n_inf} inf entries"
            )
    return x


def check_broadcast(shape_a: Sequence[int], shape_b: Sequence[int], name_a: str, name_b: str) -> tuple[int, ...]:
    """Check that two shapes broadcast together; return the broadcast shape, or raise ``ValueError`` naming
    ``name_b`` (the argument checked against ``name_a``)."""
    try:
        return tuple(torch.broadcast_shapes(tuple(shape_a), tuple(shape_b)))
    except RuntimeError:
        raise ValueError(
            f"{name_b}: expected a shape that broadcasts with {name_a}'s {tuple(shape_a)}, got {tuple(shape_b)}"
        ) from None


def check_in(value: object, name: str, allowed: Sequence[object]) -> object:
    """Check that ``value`` is one of ``allowed``; return it or raise ``ValueError`` naming ``name``."""
    if value not in allowed:
        raise ValueError(f"{name}: expected one of {tuple(allowed)!r}, got {value!r}")
    return value


def _scalar_tensor_value(value: object, integer: bool) -> object:
    """The Python number held by a one-element tensor of a real (or, for ``integer``, integer) dtype; any other
    value unchanged (so that the checks below report it)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.device.type != "meta":
        ok = value.dtype in _DTYPE_GROUPS["integer"] if integer else value.is_floating_point() or (
            value.dtype in _DTYPE_GROUPS["integer"])
        if ok:
            return value.item()
    return value


def check_finite(value: object, name: str) -> float:
    """Check that ``value`` is a finite real number (an int or a float, not a bool); return it as ``float``.

    A one-element real tensor counts as its value. A non-number raises ``TypeError`` and NaN/inf ``ValueError``,
    both naming ``name``."""
    value = _scalar_tensor_value(value, False)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a finite real number, got {_describe(value)}")
    try:
        v = float(value)
    except OverflowError:
        raise ValueError(f"{name}: expected a finite real number that fits a float, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite real number, got {value!r}")
    return v


def check_int(value: object, name: str, minimum: int = 1) -> int:
    """Check that ``value`` is an int (not a bool) with ``value >= minimum`` (``minimum >= 0``).

    Returns it as ``int``; a non-int raises ``TypeError`` and a too-small int ``ValueError``, both
    naming ``name`` (e.g. ``"M: expected an int >= 2, got 1"``).
    """
    if not isinstance(minimum, int) or minimum < 0:
        raise ValueError(f"minimum: expected an int >= 0, got {minimum!r}")
    v = int(check_positive(value, name, integer=True, allow_zero=minimum == 0))
    if v < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return v


def check_positive(value: object, name: str, *, integer: bool = False, allow_zero: bool = False) -> float | int:
    """Check that ``value`` is a positive (or non-negative) finite number, optionally an int.

    Returns the value as ``int`` or ``float``; raises ``TypeError``/``ValueError`` naming ``name``.
    """
    kind = "int" if integer else "number"
    sign = "non-negative" if allow_zero else "positive"
    ok_type = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, ok_type):
        raise TypeError(f"{name}: expected a {sign} {kind}, got {_describe(value)}")
    if integer:
        v: float | int = int(value)
        bad = v < 0 or (v == 0 and not allow_zero)
    else:
        try:
            v = float(value)
        except OverflowError:  # an int too large for a float
            raise ValueError(f"{name}: expected a {sign} {kind} that fits a float, got {value!r}") from None
        bad = not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero)
    if bad:
        raise ValueError(f"{name}: expected a {sign} {kind}, got {value!r}")
    return v
