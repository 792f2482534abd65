"""Matrix-product throughput on each device: the sanity check of a machine (and of its GPU)."""

from __future__ import annotations

import argparse

import torch

from harmonia.course.bench import format_table, time_call

DESCRIPTION = "n x n matrix products in float32 and float64 on the CPU (and CUDA when present), in GFLOP/s"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m harmonia.course bench matmul", description=DESCRIPTION)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for n in args.sizes:
        for dtype in (torch.float32, torch.float64):
            per_device = {}
            for dev in devices:
                gen = torch.Generator().manual_seed(0)
                a = torch.randn(n, n, generator=gen, dtype=dtype).to(dev)
                b = torch.randn(n, n, generator=gen, dtype=dtype).to(dev)
                t = time_call(lambda: a @ b, repeats=args.repeats, device=dev)
                per_device[dev] = t.median
                rows.append([n, str(dtype).removeprefix("torch."), dev, 1e3 * t.median, 2 * n**3 / t.median / 1e9,
                             "" if dev == "cpu" else f"{per_device['cpu'] / t.median:.1f}x"])
    return format_table(["n", "dtype", "device", "ms (median)", "GFLOP/s", "speed-up vs cpu"], rows)
