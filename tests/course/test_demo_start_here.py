"""Tests of harmonia.course.demos.start_here: gradient descent on a quadratic, the prerequisite
map, the course tour and the timing helper."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.text import Annotation

from harmonia.course.demos import start_here as sh
from harmonia.course.manifest import load_manifest

F64 = torch.float64


def random_spd(n: int, seed: int, lmin: float = 0.5, lmax: float = 4.0) -> torch.Tensor:
    """A random symmetric positive definite matrix with spectrum in [lmin, lmax] (both attained)."""
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=F64))
    eig = torch.cat([torch.tensor([lmin, lmax], dtype=F64), lmin + (lmax - lmin) * torch.rand(n - 2, generator=gen, dtype=F64)])
    return (q * eig) @ q.T


def random_problem(n: int = 4, seed: int = 0):
    A = random_spd(n, seed)
    gen = torch.Generator().manual_seed(seed + 100)
    b = torch.randn(n, generator=gen, dtype=F64)
    return A, b, gen


@pytest.fixture(scope="module")
def chapters():
    return load_manifest()


# ---------------------------------------------------------------------------------------------
# The quadratic and its gradient
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch", [(), (3,), (2, 4)])
def test_quadratic_grad_matches_autograd(batch):
    A, b, gen = random_problem(4, seed=1)
    x = torch.randn(*batch, 4, generator=gen, dtype=F64, requires_grad=True)
    f = sh.quadratic_value(A, b, x)
    assert f.shape == batch
    (auto,) = torch.autograd.grad(f.sum(), x)
    grad = sh.quadratic_grad(A, b, x.detach())
    assert grad.shape == (*batch, 4)
    torch.testing.assert_close(grad, auto, rtol=1e-12, atol=1e-12)


def test_quadratic_value_closed_form():
    A, b, gen = random_problem(3, seed=2)
    x = torch.randn(5, 3, generator=gen, dtype=F64)
    expected = torch.stack([0.5 * xi @ A @ xi - b @ xi for xi in x])
    torch.testing.assert_close(sh.quadratic_value(A, b, x), expected, rtol=1e-13, atol=1e-13)
    # the minimum value is -1/2 b^T A^{-1} b, attained at A^{-1} b where the gradient vanishes
    x_star = torch.linalg.solve(A, b)
    torch.testing.assert_close(sh.quadratic_value(A, b, x_star), -0.5 * b @ x_star)
    torch.testing.assert_close(sh.quadratic_grad(A, b, x_star), torch.zeros(3, dtype=F64), atol=1e-12, rtol=0)
    assert bool((sh.quadratic_value(A, b, x) > sh.quadratic_value(A, b, x_star)).all())


def test_quadratic_value_gradcheck():
    A, b, gen = random_problem(3, seed=3)
    x = torch.randn(2, 3, generator=gen, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: sh.quadratic_value(A, b, x), (x,))
    assert torch.autograd.gradgradcheck(lambda x: sh.quadratic_value(A, b, x), (x,))


# ---------------------------------------------------------------------------------------------
# Gradient descent and its rate
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch", [(), (3,)])
def test_gradient_descent_matches_closed_form(batch):
    A, b, gen = random_problem(4, seed=4)
    x0 = torch.randn(*batch, 4, generator=gen, dtype=F64)
    lr, steps = 0.3, 25
    path = sh.gradient_descent(A, b, x0, lr, steps)
    assert path.shape == (steps + 1, *batch, 4)
    assert torch.equal(path[0], x0)
    x_star = torch.linalg.solve(A, b)
    M = torch.eye(4, dtype=F64) - lr * A
    e0 = x0 - x_star
    for t in range(steps + 1):
        expected = e0 @ torch.linalg.matrix_power(M, t).T
        torch.testing.assert_close(path[t] - x_star, expected, rtol=0, atol=1e-12)


def test_gradient_descent_zero_steps():
    A, b, gen = random_problem(2, seed=5)
    x0 = torch.randn(2, generator=gen, dtype=F64)
    path = sh.gradient_descent(A, b, x0, 0.1, 0)
    assert path.shape == (1, 2) and torch.equal(path[0], x0)


@pytest.mark.parametrize("lr", [0.05, 0.3, 0.5, 0.9])
def test_contraction_factor_is_spectral_radius(lr):
    A = random_spd(5, seed=6)
    eig = torch.linalg.eigvals(torch.eye(5, dtype=F64) - lr * A)
    assert sh.contraction_factor(A, lr) == pytest.approx(float(eig.abs().max()), rel=1e-12)


def test_contraction_factor_bounds_error_decay():
    A, b, gen = random_problem(4, seed=7)
    lr = 0.4
    rho = sh.contraction_factor(A, lr)
    x_star = torch.linalg.solve(A, b)
    x0 = torch.randn(4, generator=gen, dtype=F64)
    errors = (sh.gradient_descent(A, b, x0, lr, 40) - x_star).norm(dim=-1)
    t = torch.arange(41, dtype=F64)
    assert bool((errors <= rho**t * errors[0] * (1 + 1e-10)).all())


def test_optimal_step_size_closed_form_and_minimises_rho():
    A = random_spd(4, seed=8, lmin=0.3, lmax=5.0)
    eig = torch.linalg.eigvals(A).real
    eta = sh.optimal_step_size(A)
    assert eta == pytest.approx(2.0 / (0.3 + 5.0), rel=1e-12)
    assert eta == pytest.approx(float(2.0 / (eig.min() + eig.max())), rel=1e-12)
    grid = np.linspace(1e-3, 2.0 / 5.0, 4001)
    rhos = np.array([sh.contraction_factor(A, float(g)) for g in grid])
    rho_star = sh.contraction_factor(A, eta)
    assert rho_star <= rhos.min() + 1e-12
    assert abs(grid[rhos.argmin()] - eta) <= 2 * (grid[1] - grid[0])


@pytest.mark.parametrize("kappa", [1.0, 2.0, 10.0, 100.0, 1e4])
def test_optimal_rate_for_rotated_quadratic(kappa):
    A, _ = sh.rotated_quadratic(kappa)
    eta = sh.optimal_step_size(A)
    assert eta == pytest.approx(2.0 / (1.0 + 1.0 / kappa), rel=1e-12)
    assert sh.contraction_factor(A, eta) == pytest.approx((kappa - 1) / (kappa + 1), abs=1e-12)


@pytest.mark.parametrize("kappa", [3.0, 10.0])
def test_gradient_descent_stability_threshold(kappa):
    A, b = sh.rotated_quadratic(kappa)
    x_star = torch.linalg.solve(A, b)
    x0 = torch.tensor([-1.5, 1.5], dtype=F64)
    e0 = float((x0 - x_star).norm())
    threshold = 2.0 / 1.0  # 2 / lambda_max, lambda_max = 1
    above = sh.gradient_descent(A, b, x0, 1.02 * threshold, 400)
    below = sh.gradient_descent(A, b, x0, 0.98 * threshold, 400)
    assert sh.contraction_factor(A, 1.02 * threshold) > 1 > sh.contraction_factor(A, 0.98 * threshold)
    assert float((above[-1] - x_star).norm()) > 1e3 * e0
    assert float((below[-1] - x_star).norm()) < 1e-3 * e0


def test_rotated_quadratic_properties():
    kappa = 7.0
    A, b = sh.rotated_quadratic(kappa, angle_deg=30.0)
    assert A.dtype == F64 and A.shape == (2, 2) and b.shape == (2,)
    torch.testing.assert_close(A, A.T, rtol=0, atol=0)
    torch.testing.assert_close(torch.linalg.eigvalsh(A), torch.tensor([1 / kappa, 1.0], dtype=F64))
    torch.testing.assert_close(torch.linalg.solve(A, b), torch.tensor([0.5, -0.25], dtype=F64))
    # the eigenvector of eigenvalue 1 is the x-axis rotated by 30 degrees
    v = torch.tensor([np.cos(np.pi / 6), np.sin(np.pi / 6)], dtype=F64)
    torch.testing.assert_close(A @ v, v)
    A32, _ = sh.rotated_quadratic(2.0, dtype=torch.float32)
    assert A32.dtype == torch.float32


def test_rotated_quadratic_rejects_bad_kappa():
    with pytest.raises(ValueError, match=r"^kappa: expected a condition number >= 1, got 0.5"):
        sh.rotated_quadratic(0.5)
    with pytest.raises(ValueError, match=r"^kappa: expected a positive number"):
        sh.rotated_quadratic(0.0)
    with pytest.raises(TypeError, match=r"^kappa: "):
        sh.rotated_quadratic("10")


# ---------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------
def test_bad_inputs_name_the_argument():
    A, b = sh.rotated_quadratic(10.0)
    x = torch.zeros(2, dtype=F64)
    with pytest.raises(ValueError, match=r"^A: expected shape \(2, 2\), got a tensor of shape \(2, 3\)"):
        sh.quadratic_value(torch.ones(2, 3, dtype=F64), b, x)
    with pytest.raises(ValueError, match=r"^A: expected 2 dimensions"):
        sh.quadratic_grad(torch.ones(2, dtype=F64), b, x)
    with pytest.raises(TypeError, match=r"^A: expected a real dtype"):
        sh.quadratic_grad(A.to(torch.complex128), b, x)
    with pytest.raises(ValueError, match=r"^b: expected shape \(2\), got a tensor of shape \(3,\)"):
        sh.quadratic_grad(A, torch.zeros(3, dtype=F64), x)
    with pytest.raises(ValueError, match=r"^x: expected shape \(\.\.\., 2\), got a tensor of shape \(4, 3\)"):
        sh.quadratic_value(A, b, torch.zeros(4, 3, dtype=F64))
    with pytest.raises(ValueError, match=r"^x: expected finite values"):
        sh.quadratic_grad(A, b, torch.tensor([float("nan"), 0.0], dtype=F64))
    for lr in (0.0, -0.1):
        with pytest.raises(ValueError, match=r"^lr: expected a positive number"):
            sh.gradient_descent(A, b, x, lr, 3)
        with pytest.raises(ValueError, match=r"^lr: expected a positive number"):
            sh.contraction_factor(A, lr)
    with pytest.raises(TypeError, match=r"^steps: expected a non-negative int"):
        sh.gradient_descent(A, b, x, 0.1, 2.5)
    with pytest.raises(ValueError, match=r"^A: expected a positive definite matrix, got smallest eigenvalue -1"):
        sh.optimal_step_size(torch.diag(torch.tensor([-1.0, 2.0], dtype=F64)))
    with pytest.raises(ValueError, match=r"^A: expected a positive definite matrix, got smallest eigenvalue 0"):
        sh.optimal_step_size(torch.zeros(2, 2, dtype=F64))


@pytest.mark.parametrize("fn", [lambda A: sh.contraction_factor(A, 0.1), sh.optimal_step_size])
def test_non_square_or_asymmetric_A_rejected_with_library_error(fn):
    with pytest.raises(ValueError, match=r"^A: expected shape \(2, 2\)"):
        fn(torch.ones(2, 3, dtype=F64))
    with pytest.raises(ValueError, match=r"^A: expected a symmetric matrix"):
        fn(torch.tensor([[1.0, 0.5], [0.0, 1.0]], dtype=F64))


@pytest.mark.parametrize("steps", [0, 3])
def test_gradient_descent_validates_x0(steps):
    A, b = sh.rotated_quadratic(10.0)
    with pytest.raises(ValueError, match=r"^x0: expected shape \(\.\.\., 2\)"):
        sh.gradient_descent(A, b, torch.zeros(3, dtype=F64), 0.1, steps)


# ---------------------------------------------------------------------------------------------
# The widget callback and its alt text
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("lr", "title"), [(1.0, "Convergence"), (2.1, "Divergence")])
def test_plot_gradient_descent_titles(lr, title):
    fig = sh.plot_gradient_descent(lr=lr, kappa=10.0, steps=30)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    left, right = fig.axes
    assert right.get_title().startswith(title)
    assert "10" in left.get_title()
    # the plotted optimality gap is f(x_t) - f*, one point per step
    gap_line = right.get_lines()[0]
    assert len(gap_line.get_ydata()) == 31
    gaps = np.asarray(gap_line.get_ydata())
    assert (gaps[-1] < gaps[0]) if title == "Convergence" else (gaps[-1] > gaps[0])


@pytest.mark.parametrize(("lr", "fate"), [(1.0, "converges"), (0.1, "converges"), (2.1, "diverges"), (2.0, "diverges")])
def test_gd_alt_text(lr, fate):
    text = sh.gd_alt_text(lr, 10.0, 30)
    other = {"converges": "diverges", "diverges": "converges"}[fate]
    assert fate in text and other not in text
    A, _ = sh.rotated_quadratic(10.0)
    assert f"rho = {sh.contraction_factor(A, lr):.3f}" in text
    assert "over 30 steps" in text and len(text) >= 10


# ---------------------------------------------------------------------------------------------
# Prerequisite map and course tour (on the real manifest)
# ---------------------------------------------------------------------------------------------
def test_prerequisite_depths_on_manifest(chapters):
    depth = sh.prerequisite_depths(chapters)
    assert set(depth) == {ch.id for ch in chapters}
    assert depth["00"] == 0
    by_id = {ch.id: ch for ch in chapters}

    @functools.cache
    def longest(cid: str) -> int:  # independent recursive definition
        prereqs = by_id[cid].prerequisites
        return 0 if not prereqs else 1 + max(longest(p) for p in prereqs)

    for ch in chapters:
        assert depth[ch.id] == longest(ch.id)
        if ch.prerequisites:
            assert depth[ch.id] == 1 + max(depth[p] for p in ch.prerequisites)
        else:
            assert depth[ch.id] == 0


def test_prerequisite_map_boxes_and_arrows(chapters):
    fig = sh.prerequisite_map(chapters)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    boxes = [t for t in ax.texts if not isinstance(t, Annotation)]
    arrows = [t for t in ax.texts if isinstance(t, Annotation)]
    assert len(boxes) == len(chapters)
    assert all(t.get_bbox_patch() is not None for t in boxes)
    assert sorted(t.get_text().split()[0] for t in boxes) == sorted(ch.id for ch in chapters)
    depth = sh.prerequisite_depths(chapters)
    for t in boxes:
        assert t.get_position()[0] == depth[t.get_text().split()[0]]
    assert len(arrows) == sum(len(ch.prerequisites) for ch in chapters)
    assert "Prerequisite map" in ax.get_title()


def test_prerequisite_map_colours_and_labels_follow_the_manifest(chapters):
    fig = sh.prerequisite_map(chapters)
    (ax,) = fig.axes
    boxes = {t.get_text().split()[0]: t for t in ax.texts if not isinstance(t, Annotation)}
    blue = {cid for cid, t in boxes.items() if np.allclose(t.get_bbox_patch().get_facecolor()[:3], (0xCF / 255, 0xE8 / 255, 0xF7 / 255))}
    assert blue == {ch.id for ch in chapters if ch.ready}
    for ch in chapters:  # whole titles, wrapped, never cut
        text = boxes[ch.id].get_text()
        assert "…" not in text and " ".join(text.split()) == f"{ch.id} {' '.join(ch.title.split())}"
        assert max(len(line) for line in text.splitlines()) <= sh.MAP_LABEL_WIDTH


def test_prerequisite_alt_text_lists_exactly_the_ready_chapters(chapters):
    alt = sh.prerequisite_alt_text(chapters)
    def ids(text: str) -> list[str]:
        return [] if text == "none" else text.split(", ")

    ready = ids(re.search(r"Blue boxes \(ready\): ([^;]*);", alt).group(1))
    planned = ids(re.search(r"grey boxes \(planned\): ([^.]*)\.", alt).group(1))
    assert ready == [ch.id for ch in chapters if ch.ready]
    assert planned == [ch.id for ch in chapters if not ch.ready]


def test_stored_course_map_of_chapter_00_is_drawn_from_the_manifest(chapters):
    """The map stored in chapter 00 is an image (nbval does not compare it): its alt text, stored beside it,
    must be the one the current manifest gives, so a stale map (e.g. old ready flags) fails here."""
    nb = json.loads((Path(__file__).resolve().parents[2] / "chapters" / "00_start_here.ipynb").read_text())
    stored = [
        "".join(out["data"]["text/plain"])
        for cell in nb["cells"] if cell["cell_type"] == "code" and "prerequisite_map" in "".join(cell["source"])
        for out in cell.get("outputs", []) if "text/plain" in out.get("data", {})
    ]
    assert stored == [f"<Figure: {sh.prerequisite_alt_text(chapters)}>"]


def test_course_parts_cover_chapters_once(chapters):
    ids = [cid for _, part in sh.COURSE_PARTS for cid in part]
    assert sorted(ids) == [f"{i:02d}" for i in range(1, 19)]
    assert len(ids) == len(set(ids))
    assert set(ids) == {ch.id for ch in chapters} - {"00"}


def test_course_tour(chapters):
    tour = sh.course_tour(chapters)
    for ch in chapters:
        expected = 0 if ch.id == "00" else 1
        assert tour.count(f"**{ch.id} · ") == expected, ch.id
        if expected:
            (line,) = [ln for ln in tour.splitlines() if f"**{ch.id} · " in ln]
            assert line.startswith(f"- **{ch.id} · {ch.title}**")
            assert line.endswith(ch.objectives[0])
    parts = re.findall(r"^\*\*Part (\d+)\. (.+)\*\*$", tour, flags=re.MULTILINE)
    assert parts == [(str(k), title) for k, (title, _) in enumerate(sh.COURSE_PARTS, start=1)]
    assert not tour.endswith("\n")


def test_time_matmul():
    timings = sh.time_matmul(n=32, repeats=2)
    expected = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    assert [d for d, _ in timings] == expected
    for _, ms in timings:
        assert isinstance(ms, float) and ms > 0
    assert [d for d, _ in sh.time_matmul(n=8, repeats=1, devices=["cpu"])] == ["cpu"]
    with pytest.raises(ValueError, match=r"^n: expected a positive int"):
        sh.time_matmul(n=0)
    with pytest.raises(TypeError, match=r"^repeats: expected a positive int"):
        sh.time_matmul(n=8, repeats=1.5)
