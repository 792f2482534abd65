"""Chapter 13 demos: the GCM runner against the paper's table at S = 100 (one start is enough: the JD optimum is
unique there), the notes runner's verdicts at a small budget, the exercises' references against independent
formulas, and every figure and widget callback driven headless."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from harmonia.course.demos import tl_nmf as demo
from harmonia.course.exercises import ch13, evaluate
from harmonia.course.settings import current
from harmonia.manifolds import Orthogonal

FAST, FULL = current(mode="fast", device="cpu"), current(mode="full", device="cpu")
TINY = replace(demo.settings(FAST), jd_starts=1, jd_its=200, nmf_its=300, tl_starts=1, tl_its=60, notes_its=30)


def test_settings_follow_the_mode():
    fast, full = demo.settings(FAST), demo.settings(FULL)
    assert (fast.jd_starts, fast.tl_starts, fast.M, fast.notes_S) == (5, 3, 80, (1, 100))
    assert full.tl_its > fast.tl_its and full.M == 200 and max(full.gcm_S) == 5000


def test_gcm_run_matches_the_paper_at_S100():
    row = demo.gcm_run(100, TINY)
    assert abs(row["Q"] - 5.583) < 0.05 and abs(row["dLinf"] - 0.4566) < 0.01
    assert row["I_TL"] <= row["Q"] and row["I_JD"] <= row["Q"]
    assert demo.worst_atom_angle(row["Phi_JD"], row["Phibar"]) < 0.3
    assert demo.worst_atom_angle(row["Phibar"], row["Phibar"]) == pytest.approx(0.0, abs=1e-6)


def test_notes_run_shows_the_transition():
    runs = {S: demo.notes_run(S, TINY) for S in (1, 100)}
    for S, r in runs.items():
        assert set(r) >= {"TL", "JD", "DCT", "C", "eps"}
        assert r["DCT"].losses["C_S"] > r["TL"].losses["C_S"]            # a fixed DCT has a worse likelihood
        rep = demo.atom_report(r["TL"], r["C"], TINY.fs)
        assert rep["atoms"].shape == (8, TINY.M) and 0.9 < rep["energy"] <= 1.0 + 1e-12
    assert runs[1]["JD"].losses["I_S"] > runs[1]["TL"].losses["I_S"]
    assert abs(runs[100]["JD"].losses["C_S"] - runs[100]["TL"].losses["C_S"]) < 5


def test_exercise_references_against_direct_formulas():
    p, v = torch.tensor([1.0, 4.0]), torch.tensor([2.0, 4.0])
    assert torch.allclose(ch13.is_div(p, v), torch.tensor([0.5 + math.log(2) - 1, 0.0]))
    assert ch13.expected_oracle_gap(10, 50, 2) == pytest.approx(500 * 0.5772156649015329, rel=1e-9)  # log1 - psi(1)
    assert ch13.expected_oracle_gap(10, 50, 10**6) == pytest.approx(500 / 10**6, rel=1e-3)
    Phi, C, Vhat = demo.jacobi_toy(1)
    best = ch13.givens_update(Phi, C, Vhat, 0.0, 0, 2)
    grid = torch.linspace(-math.pi / 2, math.pi / 2, 2001, dtype=torch.float64)
    f_grid = min(float(ch13.tl_objective(Orthogonal.givens(4, 0, 2, t) @ Phi, C, Vhat, 0.0)) for t in grid)
    assert float(ch13.tl_objective(best, C, Vhat, 0.0)) <= f_grid + 1e-9
    for ex, ref in (("13.1", ch13.is_div), ("13.2", ch13.givens_update), ("13.3", ch13.pham),
                    ("13.4", ch13.expected_oracle_gap)):
        assert evaluate(ex, ref).passed
    assert not evaluate("13.2", lambda Phi, C, Vhat, eps, p, q: Phi).passed          # no rotation is not the best
    assert not evaluate("13.3", lambda B, C: torch.logdet(B @ C @ B.T).sum()).passed


def test_figures_and_widget_callbacks():
    rows = [demo.gcm_run(S, TINY) for S in (10, 100)]
    figs = [demo.plot_gaps(rows), demo.plot_gap_explorer(rows, 10), demo.plot_jacobi_toy(0, 3, 0.4),
            demo.plot_jacobi_toy(1, 2, -1.0)]
    r = demo.notes_run(1, replace(TINY, notes_its=5))
    for method in ("TL", "JD", "DCT"):
        figs.append(demo.plot_atoms(r[method], r["C"], TINY.fs, method))
    from harmonia.data.audio import harmonic_notes
    from harmonia.nmf import dct2_matrix, frames
    y, _ = harmonic_notes(1, fs=TINY.fs, seg_len=TINY.seg_len)
    figs.append(demo.plot_notes(y[0], dct2_matrix(TINY.M) @ frames(y, TINY.M, TINY.hop)[0], TINY.fs, TINY.hop))
    for fig in figs:
        assert fig._suptitle is not None or any(ax.get_title() for ax in fig.axes)
        assert any(ax.get_xlabel() for ax in fig.axes)
    with pytest.raises(ValueError, match="S: expected one of"):
        demo.plot_gap_explorer(rows, 7)


def test_device_check_runs_on_cpu():
    out = demo.device_check(FAST)
    assert set(out) == {"JD transform", "TL-NMF transform", "TL-NMF W"}
    for key in ("JD transform", "TL-NMF transform"):
        P = out[key]
        assert torch.allclose(P @ P.T, torch.eye(10, dtype=P.dtype), atol=1e-10)
