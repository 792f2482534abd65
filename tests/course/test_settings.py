"""Chapter settings: the one reader of mode and device, and every chapter's demos on settings.device."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
import torch

import harmonia
from harmonia.course import demos
from harmonia.course.plots import to_host
from harmonia.course.session import setup
from harmonia.course.settings import ChapterSettings, current, extend

LIB = Path(harmonia.__file__).parent
ROOT = LIB.parent.parent


def test_current_reads_mode_and_device_from_the_environment(monkeypatch):
    monkeypatch.setenv("HARMONIA_MODE", "full")
    monkeypatch.setenv("HARMONIA_DEVICE", "cpu")
    s = current()
    assert (s.mode, s.device, s.dtype, s.full) == ("full", torch.device("cpu"), torch.float32, True)
    monkeypatch.setenv("HARMONIA_MODE", "fast")
    assert current().full is False
    assert current(mode="full").mode == "full"  # arguments win over the environment


def test_bad_settings_name_the_argument():
    with pytest.raises(ValueError, match=r"^mode: expected one of \('fast', 'full'\), got 'slow'$"):
        ChapterSettings(mode="slow")
    with pytest.raises(TypeError, match="^device: expected a torch.device, got str$"):
        ChapterSettings(device="cpu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^dtype: expected torch.float32 or torch.float64, got torch.float16$"):
        ChapterSettings(dtype=torch.float16)
    with pytest.raises(ValueError, match="^device: expected 'cpu', 'cuda' or 'cuda:N', got 'gpu0'$"):
        current(device="gpu0")
    with pytest.raises(TypeError, match="^base: expected ChapterSettings"):
        extend(ChapterSettings, "fast")  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True)
class _Sizes(ChapterSettings):
    steps: int = 10
    grid: tuple[int, ...] = (1, 2)


def test_extend_carries_mode_device_dtype_and_picks_the_sizes_of_the_mode():
    fast = extend(_Sizes, ChapterSettings(mode="fast", dtype=torch.float64), {"steps": 99})
    full = extend(_Sizes, ChapterSettings(mode="full"), {"steps": 99})
    assert (fast.steps, fast.dtype, fast.grid) == (10, torch.float64, (1, 2))
    assert (full.steps, full.mode, full.grid) == (99, "full", (1, 2))


def test_put_moves_and_casts_floating_tensors_only():
    s = ChapterSettings(dtype=torch.float64)
    assert s.put(torch.ones(2, dtype=torch.float32)).dtype == torch.float64
    assert s.put(torch.ones(2, dtype=torch.int64)).dtype == torch.int64
    with pytest.raises(TypeError, match="^x: expected a torch.Tensor, got list$"):
        s.put([1.0])  # type: ignore[arg-type]


def test_setup_keeps_the_settings_on_the_session(monkeypatch):
    monkeypatch.setenv("HARMONIA_MODE", "full")
    session = setup("01", quiet=True)
    assert session.settings.mode == session.mode == "full"
    assert setup("01", quiet=True, mode="fast", device="cpu").settings == ChapterSettings("fast", torch.device("cpu"))


def test_to_host_walks_containers_and_dataclasses():
    @dataclasses.dataclass(frozen=True)
    class Run:
        x: torch.Tensor
        extra: dict

    t = torch.ones(3, requires_grad=True) * 2
    out = to_host({"a": [t, (t, 1)], "r": Run(t, {"k": t})})
    assert not out["a"][0].requires_grad and out["a"][1][1] == 1
    assert isinstance(out["r"], Run) and out["r"].extra["k"].device.type == "cpu"


# ---------------------------------------------------------------------------------------------
# One reader: only harmonia.course.settings calls config.mode() and config.device()
# ---------------------------------------------------------------------------------------------
def _env_reads(tree: ast.AST) -> list[int]:
    """Lines calling ``config.mode()`` / ``config.device()``, or ``mode()`` / ``device()`` imported from it."""
    imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                and n.module == "harmonia.config" for a in n.names if a.name in ("mode", "device")}
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr in ("mode", "device") and isinstance(f.value, ast.Name) \
                and f.value.id == "config":
            lines.append(node.lineno)
        elif isinstance(f, ast.Name) and f.id in imported:
            lines.append(node.lineno)
    return lines


def test_env_reads_are_found():
    assert _env_reads(ast.parse("from harmonia import config\nconfig.mode()\nx.device()")) == [2]
    assert _env_reads(ast.parse("from harmonia.config import device as d\nd()")) == [2]


def test_only_the_settings_module_reads_mode_and_device():
    offenders = []
    for path in sorted(LIB.rglob("*.py")):
        rel = path.relative_to(LIB).as_posix()
        if rel in ("config.py", "course/settings.py"):
            continue
        offenders += [f"{rel}:{line}" for line in _env_reads(ast.parse(path.read_text()))]
    for nb in sorted((ROOT / "chapters").glob("*.ipynb")):
        text = nb.read_text()
        for needle in ("config.mode(", "config.device(", "from harmonia.config import device", "is_full"):
            if needle in text:
                offenders.append(f"{nb.name}: {needle}")
    assert not offenders, "read mode/device through session.settings (harmonia.course.settings.current):\n" + "\n".join(offenders)


# ---------------------------------------------------------------------------------------------
# Every chapter's demos compute on settings.device (CPU here; gpucheck runs the same on CUDA)
# ---------------------------------------------------------------------------------------------
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("chapter", sorted(demos.DEVICE_CHECKS))
def test_demos_compute_on_the_settings_device(chapter, device):
    s = current(mode="fast", device=device)
    out = demos.device_check(chapter)(s)
    assert out, f"chapter {chapter}: device_check returned nothing"
    for name, value in out.items():
        assert isinstance(value, torch.Tensor), f"chapter {chapter}, {name}: not a tensor"
        assert value.device.type == s.device.type, f"chapter {chapter}, {name}: on {value.device}, settings say {s.device}"
        assert torch.isfinite(value).all(), f"chapter {chapter}, {name}: not finite"


def test_every_chapter_with_demos_has_a_device_check():
    modules = {p.stem for p in (LIB / "course" / "demos").glob("*.py")} - {"__init__"}
    assert modules == set(demos.DEVICE_CHECKS.values())
    with pytest.raises(ValueError, match="^chapter_id: expected one of"):
        demos.device_check("99")
