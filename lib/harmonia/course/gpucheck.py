"""``python -m harmonia.course gpucheck``: what to run the first time a GPU is at hand.

Three steps, within a time budget (default 8 minutes), each recorded in ``build/gpucheck/report.json``
and ``build/gpucheck/report.md``:

1. **tests** -- the device tests (every test whose name mentions ``cuda`` or ``device``: the
   CUDA-parametrised library tests and each chapter's demos on ``settings.device``), with
   ``HARMONIA_DEVICE`` set to the checked device;
2. **demos** -- every chapter's ``device_check`` (its demos at their smallest sizes, fast mode) on the
   device and on the CPU: each output must be on the device and finite, and agree with the CPU at the
   stated tolerance (relative to the CPU output's largest entry: 1e-4 in float32, 1e-9 in float64).
   Outputs listed in the demo module's ``DEVICE_DEPENDENT`` are expected to differ between devices
   (drawn from the device's own random generator, or iterated by an optimiser that amplifies
   rounding), so they are only checked for place, shape and finiteness;
3. **benchmarks** -- each benchmark's table on the device (small sizes with ``--quick``).

Without CUDA, ``--device cuda`` (the default) refuses with exit status 2 and says why; ``--device cpu``
is the dry run that CI can afford: the same steps with the CPU standing in for the GPU.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

__all__ = ["Step", "compare", "run", "main", "run_from", "add_arguments", "TOLERANCE", "BENCH_ARGS"]

#: relative tolerance of a device output against the CPU output, by dtype
TOLERANCE = {torch.float32: 1e-4, torch.float64: 1e-9, torch.complex64: 1e-4, torch.complex128: 1e-9}

#: benchmark arguments: (on a GPU, quick / dry run)
BENCH_ARGS: dict[str, tuple[list[str], list[str]]] = {
    "matmul": (["--sizes", "1024", "4096"], ["--sizes", "64", "--repeats", "2"]),
    "scattering": (["--rounds", "5"], ["--quick", "--rounds", "1", "--no-memory"]),
    "wph": (["--sizes", "64", "128"], ["--sizes", "32", "--repeats", "1"]),
    "vsgd": (["--hidden", "32", "256"], ["--hidden", "8", "--steps", "5", "--rounds", "1"]),
    "sam": (["--hidden", "128", "1024"], ["--hidden", "8", "--steps", "5", "--repeats", "1"]),
    "distributed": (["--rounds", "100"], ["--rounds", "5", "--hidden", "8", "--batch", "32", "--taus", "1"]),
}


@dataclass
class Step:
    """One step of the check: its name, verdict (``"pass"``, ``"fail"`` or ``"skipped"``), seconds and details."""

    name: str
    status: str = "pass"
    seconds: float = 0.0
    details: list[dict] = field(default_factory=list)
    note: str = ""


def compare(name: str, device_out: torch.Tensor, cpu_out: torch.Tensor, device: torch.device,
            random: bool = False) -> dict:
    """One output of a ``device_check``: on the device, finite, same shape and dtype as on the CPU,
    and (unless ``random``) within :data:`TOLERANCE` of it, relative to the CPU output's largest entry."""
    row: dict = {"output": name, "shape": list(device_out.shape), "dtype": str(device_out.dtype).replace("torch.", "")}
    problems = []
    if device_out.device.type != device.type:
        problems.append(f"on {device_out.device}, expected {device.type}")
    if device_out.shape != cpu_out.shape or device_out.dtype != cpu_out.dtype:
        problems.append(f"shape/dtype {tuple(device_out.shape)}/{device_out.dtype} vs CPU {tuple(cpu_out.shape)}/{cpu_out.dtype}")
    elif not torch.isfinite(device_out).all():
        problems.append("not finite")
    elif random:
        row["rel_diff"] = None
    else:
        scale = float(cpu_out.abs().max()) if cpu_out.numel() else 0.0
        diff = float((device_out.detach().cpu() - cpu_out.detach()).abs().max()) if cpu_out.numel() else 0.0
        rel = diff / scale if scale > 0 else diff
        tol = TOLERANCE.get(cpu_out.dtype, 0.0)
        row["rel_diff"], row["tolerance"] = rel, tol
        if not rel <= tol:
            problems.append(f"relative difference {rel:.1e} > {tol:.0e}")
    row["status"] = "fail" if problems else "pass"
    if problems:
        row["problem"] = "; ".join(problems)
    return row


def _step_tests(device: torch.device, quick: bool, root: Path, deadline: float) -> Step:
    step = Step("tests")
    paths = ["tests/course/test_settings.py"] if quick else ["tests/lib", "tests/course/test_settings.py"]
    env = {**os.environ, "HARMONIA_DEVICE": str(device)}
    cmd = [sys.executable, "-m", "pytest", *paths, "-q", "-k", "cuda or device", "-p", "no:cacheprovider"]
    try:
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True,
                              timeout=max(10.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        step.status, step.note = "fail", "timed out"
        return step
    summary = (proc.stdout.strip().splitlines() or [""])[-1]
    step.note = summary
    step.details.append({"command": " ".join(cmd[2:]), "returncode": proc.returncode, "summary": summary})
    if proc.returncode != 0:
        step.status = "fail"
        step.details[-1]["tail"] = proc.stdout[-3000:]
    return step


def _step_demos(device: torch.device, deadline: float) -> Step:
    from harmonia.course import demos
    from harmonia.course.settings import current

    step = Step("demos")
    for chapter in sorted(demos.DEVICE_CHECKS):
        if time.monotonic() > deadline:
            step.details.append({"chapter": chapter, "status": "skipped", "problem": "time budget spent"})
            continue
        module = importlib.import_module(f"harmonia.course.demos.{demos.DEVICE_CHECKS[chapter]}")
        random = set(getattr(module, "DEVICE_DEPENDENT", ()))
        start = time.perf_counter()
        try:
            on_device = module.device_check(current(mode="fast", device=device))
            seconds = time.perf_counter() - start
            on_cpu = module.device_check(current(mode="fast", device="cpu")) if device.type != "cpu" else on_device
        except Exception as err:  # noqa: BLE001 - reported, not hidden
            step.details.append({"chapter": chapter, "status": "fail", "problem": f"{type(err).__name__}: {err}"})
            continue
        for name, value in on_device.items():
            row = compare(name, value, on_cpu[name], device, random=name in random)
            step.details.append({"chapter": chapter, "seconds": round(seconds, 3), **row})
    if any(d["status"] == "fail" for d in step.details):
        step.status = "fail"
    elif any(d["status"] == "skipped" for d in step.details):
        step.status = "skipped"
    return step


def _step_bench(device: torch.device, quick: bool, deadline: float) -> Step:
    from harmonia.course import bench

    step = Step("benchmarks")
    names = bench.available()
    for name in sorted(names):
        if time.monotonic() > deadline:
            step.details.append({"benchmark": name, "status": "skipped", "problem": "time budget spent"})
            continue
        args = BENCH_ARGS.get(name, ([], []))[1 if quick or device.type == "cpu" else 0]
        if name == "scattering":
            args = [*args, "--device", str(device)]
        start = time.perf_counter()
        try:
            table = importlib.import_module(f"harmonia.course.bench.{name}").main(list(args))
            step.details.append({"benchmark": name, "status": "pass", "args": args,
                                 "seconds": round(time.perf_counter() - start, 2), "table": table})
        except (Exception, SystemExit) as err:  # noqa: BLE001 - reported, not hidden (argparse exits on bad args)
            step.details.append({"benchmark": name, "status": "fail", "args": args, "problem": f"{type(err).__name__}: {err}"})
    if any(d["status"] == "fail" for d in step.details):
        step.status = "fail"
    elif any(d["status"] == "skipped" for d in step.details):
        step.status = "skipped"
    return step


def _markdown(report: dict) -> str:
    lines = [f"# gpucheck on {report['device']} ({report['device_name']})", "",
             f"torch {report['torch']}, {report['seconds']:.0f} s of a {report['budget_s']:.0f} s budget: "
             f"**{report['status']}**", "", "| step | status | seconds | note |", "|---|---|---|---|"]
    for s in report["steps"]:
        lines.append(f"| {s['name']} | {s['status']} | {s['seconds']:.1f} | {s['note']} |")
    demos = next(s for s in report["steps"] if s["name"] == "demos") if any(
        s["name"] == "demos" for s in report["steps"]) else None
    if demos:
        lines += ["", "## Chapter demos: device against CPU", "",
                  "| chapter | output | shape | dtype | rel. diff | tolerance | status |", "|---|---|---|---|---|---|---|"]
        for d in demos["details"]:
            rel = d.get("rel_diff")
            rel_s = "device-dependent" if "rel_diff" in d and rel is None else (f"{rel:.1e}" if rel is not None else "-")
            tol = d.get("tolerance")
            lines.append(f"| {d['chapter']} | {d.get('output', '-')} | {d.get('shape', '-')} | {d.get('dtype', '-')} | "
                         f"{rel_s} | {f'{tol:.0e}' if tol else '-'} | {d['status']}{': ' + d['problem'] if 'problem' in d else ''} |")
    bench = next((s for s in report["steps"] if s["name"] == "benchmarks"), None)
    if bench:
        lines += ["", "## Benchmarks", ""]
        for d in bench["details"]:
            lines += [f"### {d['benchmark']} ({d['status']})", "", "```", d.get("table", d.get("problem", "")), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def run(device: str = "cuda", *, quick: bool = False, budget: float = 480.0, out: Path | None = None,
        steps: tuple[str, ...] = ("tests", "demos", "benchmarks"), root: Path | None = None) -> dict:
    """Run the check on ``device`` and write ``report.json`` and ``report.md`` to ``out``.

    Raises
    ------
    RuntimeError
        If ``device`` is CUDA and torch sees none (the message says what to do instead).
    ValueError
        If ``device`` is not a device name, ``budget`` is not positive, or ``steps`` names an unknown step.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device: expected 'cuda', 'cuda:N' or 'cpu', got {device!r}") from err
    if dev.type not in ("cuda", "cpu"):
        raise ValueError(f"device: expected 'cuda', 'cuda:N' or 'cpu', got {device!r}")
    if not (isinstance(budget, (int, float)) and math.isfinite(budget) and budget > 0):
        raise ValueError(f"budget: expected a positive number of seconds, got {budget!r}")
    unknown = set(steps) - {"tests", "demos", "benchmarks"}
    if unknown:
        raise ValueError(f"steps: expected some of ('tests', 'demos', 'benchmarks'), got {sorted(unknown)}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"gpucheck needs a CUDA device, but torch {torch.__version__} sees none "
            f"(torch.cuda.is_available() is False; built with CUDA {torch.version.cuda}). Run it on a machine "
            "with a GPU, or use --device cpu for the dry run.")
    from harmonia.course.manifest import repo_root

    root = root or repo_root() or Path.cwd()
    out = out or root / "build" / "gpucheck"
    start, deadline = time.monotonic(), time.monotonic() + budget
    report_steps = []
    for name in ("tests", "demos", "benchmarks"):
        if name not in steps:
            continue
        t0 = time.perf_counter()
        if time.monotonic() > deadline:
            step = Step(name, "skipped", note="time budget spent")
        elif name == "tests":
            step = _step_tests(dev, quick, root, deadline)
        elif name == "demos":
            step = _step_demos(dev, deadline)
        else:
            step = _step_bench(dev, quick, deadline)
        step.seconds = time.perf_counter() - t0
        if name != "tests" and not step.note:
            n_fail = sum(d["status"] == "fail" for d in step.details)
            step.note = f"{len(step.details)} checked, {n_fail} failed"
        report_steps.append(step)
    statuses = {s.status for s in report_steps}
    report = {
        "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU dry run",
        "torch": torch.__version__, "quick": quick, "budget_s": budget,
        "seconds": time.monotonic() - start,
        "status": "fail" if "fail" in statuses else "incomplete" if "skipped" in statuses else "pass",
        "steps": [asdict(s) for s in report_steps],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (out / "report.md").write_text(_markdown(report), encoding="utf-8")
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (shared by ``main`` and ``python -m harmonia.course gpucheck``)."""
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu for the dry run")
    parser.add_argument("--quick", action="store_true", help="only the settings device tests; small benchmarks")
    parser.add_argument("--budget", type=float, default=480.0, metavar="SECONDS", help="time budget (default 480)")
    parser.add_argument("--out", type=Path, default=None, help="report folder (default build/gpucheck)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harmonia.course gpucheck", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run_from(parser.parse_args(argv))


def run_from(ns: argparse.Namespace) -> int:
    """Run the check for parsed options; print one line per step; exit status 0 pass, 1 fail, 2 refused."""
    try:
        report = run(ns.device, quick=ns.quick, budget=ns.budget, out=ns.out)
    except (RuntimeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for s in report["steps"]:
        print(f"{s['name']:<11} {s['status']:<8} {s['seconds']:6.1f} s  {s['note']}")
    where = ns.out or "build/gpucheck"
    print(f"gpucheck on {report['device']}: {report['status']} in {report['seconds']:.0f} s (report: {where}/report.md)")
    return 0 if report["status"] == "pass" else 1
