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

    table = scattering.main(["--quick", "--rounds", "2", "--only", "1D", "--only", "3D", "--no-memory"])
    header = re.split(r"\s{2,}", table.splitlines()[0].strip())
    rows = [re.split(r"\s{2,}", line.strip()) for line in table.splitlines()[2:-1]]
    assert [r[0] for r in rows] == ["1D", "3D"]
    assert all(float(r[2]) > 0 and float(r[3]) > 0 for r in rows)  # our forward and forward+backward times
    frac = header.index("ours fwd: fraction of bound")
    assert all(0 < float(r[frac]) <= 1 for r in rows)
    if "kymatio not installed" not in table:
        diff = header.index("max rel diff")
        assert all(float(r[diff]) < 1e-5 for r in rows), "outputs must agree with kymatio to 1e-5"
        assert all(re.fullmatch(r"\d+\.\d\dx \[\d+\.\d\d-\d+\.\d\d\]", r[header.index("speed-up fwd [10-90%]")]) for r in rows)


def test_wph_benchmark_table():
    from harmonia.course.bench import wph

    table = wph.main(["--sizes", "16", "--repeats", "1"])
    rows = [line.split() for line in table.splitlines()[2:]]
    ours = [r for r in rows if r[4] == "harmonia"]
    assert len(ours) == 1 + torch.cuda.is_available()
    assert ours[0][:6] == ["16x16", "J=2", "L=4", "dj=1", "harmonia", "cpu"] and float(ours[0][-3]) > 0
    assert 0 < float(ours[0][-1]) <= 1  # fraction of bound


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


def test_round_robin_times_every_callable_each_round_in_rotation():
    calls = []
    fns = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    times = bench.round_robin(fns, rounds=4, warmup=1)
    assert set(times) == set("abc") and all(len(ts) == 4 for ts in times.values())
    assert calls[:3] == list("abc")                                   # the warm-up
    rounds = [calls[3 + 3 * r: 6 + 3 * r] for r in range(4)]
    assert sorted(map(tuple, rounds)) != [tuple("abc")] * 4           # the order changes from round to round
    assert all(sorted(r) == list("abc") for r in rounds)
    with pytest.raises(ValueError, match="rounds, warmup"):
        bench.round_robin(fns, rounds=0)
    with pytest.raises(ValueError, match="fns"):
        bench.round_robin({})


def test_alternate_ratio_of_a_slow_and_a_fast_sleeper():
    c = bench.alternate(lambda: time.sleep(0.004), lambda: time.sleep(0.012), rounds=5, warmup=0)
    assert c.rounds == 5 and c.ours.median < c.peer.median
    assert 2.0 < c.ratio < 4.5 and c.ratio_lo <= c.ratio <= c.ratio_hi
    assert re.fullmatch(r"\d\.\d\dx \[\d\.\d\d-\d\.\d\d\]", c.ratio_text())
    assert bench.ratio_spread([2.0, 4.0, 6.0], [1.0, 1.0, 1.0]) == (4.0, 2.4, 5.6)


def test_peak_rss_counts_the_child_only():
    base = bench.peak_rss_mib("import torch")
    big = bench.peak_rss_mib("import torch\nx = torch.ones(50_000_000)")          # 200 MB of float32
    assert 150 < big - base < 260
    with pytest.raises(RuntimeError, match="code: the memory probe failed"):
        bench.peak_rss_mib("raise SystemExit(3)")


def test_bound_fraction_separates_fft_work_from_other_work():
    x = torch.randn(64, 4096)
    _, _, fft_only = bench.bound_fraction(lambda: torch.fft.fft(x))
    _, _, sort_only = bench.bound_fraction(lambda: torch.sort(x))
    assert fft_only > 0.8 and sort_only < 0.2


def test_distributed_benchmark_reports_threads_and_rates():
    from harmonia.course.bench import distributed

    table = distributed.main(["--rounds", "3", "--hidden", "8", "--batch", "4", "--taus", "1"])
    lines = table.splitlines()
    assert [re.split(r"\s{2,}", line)[1] for line in lines[2:5]] == ["1", "2", "2 workers"]
    assert lines[-1].startswith("1 intra-op thread(s) per process, MLP 64-8-10, batch 4")


def test_bench_all_writes_one_report(monkeypatch, tmp_path):
    import importlib

    from harmonia.course import cli

    fake = {"matmul": bench.available()["matmul"], "broken": "always fails"}
    real_import = importlib.import_module

    def fake_import(name):
        if name.endswith(".broken"):
            raise RuntimeError("no such benchmark here")
        module = real_import(name)
        if name.endswith(".matmul"):                                       # its defaults, made small
            return type("M", (), {"main": staticmethod(lambda argv: module.main(["--sizes", "16", "--repeats", "1"]))})
        return module

    monkeypatch.setattr(bench, "available", lambda: fake)
    monkeypatch.setattr(importlib, "import_module", fake_import)
    monkeypatch.setattr(cli, "repo_root", lambda: tmp_path)
    assert main(["bench", "all"]) == 1                                     # one benchmark failed
    report = (tmp_path / "build" / "bench" / "report.md").read_text()
    assert report.startswith("# Harmonia benchmarks") and "## matmul" in report and "## broken" in report
    assert "FAILED: RuntimeError: no such benchmark here" in report and "float32" in report
    assert (tmp_path / "build" / "bench" / "matmul.txt").exists()
