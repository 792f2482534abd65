"""Benchmark tooling: the timer, the table, the registry and the CLI (correctness, not speed)."""

from __future__ import annotations

import re
import time

import pytest
import torch

from harmonia.course import bench
from harmonia.course.bench import matmul
from harmonia.course.cli import main


def test_time_call_counts_calls_and_measures_sleep():
    calls = []
    t = bench.time_call(lambda: (calls.append(1), time.sleep(0.01)), repeats=3, warmup=2)
    assert len(calls) == 5 and t.repeats == 3
    assert 0.009 <= t.best <= t.median <= t.worst


def test_time_call_rejects_bad_counts():
    with pytest.raises(ValueError, match="repeats, warmup"):
        bench.time_call(lambda: None, repeats=0)


def test_format_table_aligns_columns():
    table = bench.format_table(["a", "long header"], [[1, 0.123456], ["xyz", 12345.678]])
    lines = table.splitlines()
    assert lines[0] == "a    long header"
    assert lines[2] == "1    0.1235" and lines[3] == "xyz  1.235e+04"


def test_registry_lists_matmul():
    assert "matmul" in bench.available() and bench.available()["matmul"] == matmul.DESCRIPTION


def test_matmul_benchmark_table():
    table = matmul.main(["--sizes", "32", "--repeats", "1"])
    rows = [line.split() for line in table.splitlines()[2:]]
    assert [r[:3] for r in rows] == [["32", "float32", "cpu"], ["32", "float64", "cpu"]]
    assert all(float(r[3]) > 0 and float(r[4]) > 0 for r in rows)


def test_bench_cli(capsys, tmp_path):
    assert main(["bench", "--list"]) == 0
    assert "matmul" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="NAME: expected one of"):
        main(["bench", "nope"])


def test_scattering_benchmark_quick_table():
    from harmonia.course.bench import scattering

    table = scattering.main(["--quick", "--repeats", "1", "--only", "1D", "--only", "3D"])
    import re

    rows = [re.split(r"\s{2,}", line.strip()) for line in table.splitlines()[2:-1]]
    assert [r[0] for r in rows] == ["1D", "3D"]
    assert all(float(r[2]) > 0 and float(r[3]) > 0 for r in rows)  # our forward and forward+backward times
    if "kymatio not installed" not in table:
        assert all(float(r[-1]) < 1e-5 for r in rows), "outputs must agree with kymatio to 1e-5"


def test_wph_benchmark_table():
    from harmonia.course.bench import wph

    table = wph.main(["--sizes", "16", "--repeats", "1"])
    rows = [line.split() for line in table.splitlines()[2:]]
    ours = [r for r in rows if r[4] == "harmonia"]
    assert len(ours) == 1 + torch.cuda.is_available()
    assert ours[0][:6] == ["16x16", "J=2", "L=4", "dj=1", "harmonia", "cpu"] and float(ours[0][-2]) > 0


def test_sam_benchmark_table_has_a_ratio_per_optimizer():
    from harmonia.course.bench import sam

    table = sam.main(["--hidden", "8", "--steps", "2", "--repeats", "1", "--batch", "4"])
    lines = [line for line in table.splitlines() if line.startswith("cpu")]
    assert [re.split(r"\s{2,}", line)[2] for line in lines] == ["SGD (momentum 0.9)", "SAM, rho 0.05", "ASAM, rho 0.5"]
    assert lines[0].rstrip().endswith("1.00x") and all(line.rstrip().endswith("x") for line in lines)


def test_alpha_benchmark_quick_table():
    from harmonia.course.bench import alpha

    table = alpha.main(["--sizes", "16", "--L", "2", "--A", "2", "--dj", "1", "--repeats", "1", "--warmup", "0",
                        "--cpu-only"])
    rows = [re.split(r"\s{2,}", line.strip()) for line in table.splitlines()[2:]]
    assert [r[1] for r in rows] == ["gram", "fft", "direct"]
    assert all(r[0] == "16x16 J=2 L=2 A=2 dj=1" and r[2] == "cpu" and r[3] == "364" for r in rows)
    assert all(float(r[4]) > 0 for r in rows)
    assert float(rows[0][5]) == 1.0 and float(rows[1][5]) > 0 and float(rows[2][5]) > 0
    skipped = alpha.main(["--sizes", "16", "--L", "2", "--A", "2", "--dj", "1", "--repeats", "1", "--warmup", "0",
                          "--cpu-only", "--direct-max-size", "8"])
    assert "skipped (size > 8)" in skipped.splitlines()[-1]


def test_particles_benchmark_quick_table():
    from harmonia.course.bench import particles

    table = particles.main(["--sizes", "16", "--points", "20", "--L", "2", "--repeats", "1", "--warmup", "0",
                            "--cpu-only"])
    rows = [re.split(r"\s{2,}", line.strip()) for line in table.splitlines()[2:]]
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [("16x16 J=1 L=2 sigma=1", "20", w, "cpu") for w in ("plain", "shifted")]
    assert int(rows[1][4]) > int(rows[0][4]) > 0  # the shifted copies add moments
    assert all(float(r[5]) > 0 for r in rows)
    assert float(rows[0][6]) == 1.0 and float(rows[1][6]) > 0
