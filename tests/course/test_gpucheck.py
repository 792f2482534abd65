"""``python -m harmonia.course gpucheck``: refuses without a GPU, its CPU dry run passes, its comparisons can fail."""

from __future__ import annotations

import json

import pytest
import torch

from harmonia.course import gpucheck
from harmonia.course.cli import main as cli_main


def test_refuses_without_cuda(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match=r"^gpucheck needs a CUDA device, but torch .* sees none .*--device cpu"):
        gpucheck.run("cuda")
    assert cli_main(["gpucheck"]) == 2
    assert "use --device cpu for the dry run" in capsys.readouterr().err


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"device": "tpu"}, r"^device: expected 'cuda', 'cuda:N' or 'cpu', got 'tpu'$"),
    ({"device": "meta"}, r"^device: expected 'cuda', 'cuda:N' or 'cpu', got 'meta'$"),
    ({"device": "cpu", "budget": 0}, r"^budget: expected a positive number of seconds, got 0$"),
    ({"device": "cpu", "steps": ("tests", "lint")}, r"^steps: expected some of .*got \['lint'\]$"),
])
def test_bad_arguments_name_themselves(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gpucheck.run(**kwargs)


def test_compare_catches_place_shape_and_difference():
    cpu = torch.tensor([1.0, 2.0, 4.0])
    assert gpucheck.compare("x", cpu.clone(), cpu, torch.device("cpu"))["status"] == "pass"
    off = gpucheck.compare("x", cpu + torch.tensor([0.0, 0.0, 1e-3]), cpu, torch.device("cpu"))
    assert off["status"] == "fail" and off["problem"] == "relative difference 2.5e-04 > 1e-04"
    assert gpucheck.compare("x", cpu, cpu, torch.device("cuda"))["problem"] == "on cpu, expected cuda"
    assert "shape/dtype" in gpucheck.compare("x", cpu[:2], cpu, torch.device("cpu"))["problem"]
    assert gpucheck.compare("x", torch.tensor([1.0, float("nan"), 4.0]), cpu, torch.device("cpu"))["problem"] == "not finite"
    # device-dependent outputs are checked for place, shape and finiteness only
    assert gpucheck.compare("x", cpu + 1, cpu, torch.device("cpu"), random=True)["status"] == "pass"
    assert gpucheck.TOLERANCE[torch.float64] == 1e-9


def test_cpu_dry_run_of_demos_and_benchmarks_writes_the_report(tmp_path):
    report = gpucheck.run("cpu", quick=True, steps=("demos", "benchmarks"), out=tmp_path)
    assert report["status"] == "pass", json.dumps(report["steps"], indent=1)[:3000]
    demos = next(s for s in report["steps"] if s["name"] == "demos")
    from harmonia.course.demos import DEVICE_CHECKS

    assert {d["chapter"] for d in demos["details"]} == set(DEVICE_CHECKS)
    assert json.loads((tmp_path / "report.json").read_text())["device"] == "cpu"
    md = (tmp_path / "report.md").read_text()
    assert "| demos | pass |" in md and "## Benchmarks" in md and "### matmul (pass)" in md


def test_budget_spent_marks_the_rest_skipped(tmp_path):
    report = gpucheck.run("cpu", quick=True, budget=1e-9, steps=("demos", "benchmarks"), out=tmp_path)
    assert report["status"] == "incomplete"
    assert all(s["status"] == "skipped" for s in report["steps"])
