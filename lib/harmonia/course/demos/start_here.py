"""Chapter 00 (start here): gradient descent on a 2-D quadratic, the prerequisite map, a timing.

The quadratic is :math:`f(x) = \\tfrac12 x^\\top A x - b^\\top x` with a symmetric positive
definite Hessian :math:`A`. Gradient descent with a constant step :math:`\\eta`,

.. math:: x_{t+1} = x_t - \\eta\\,\\nabla f(x_t),\\qquad \\nabla f(x) = Ax - b,

moves the error :math:`e_t = x_t - x^\\star` (with :math:`x^\\star = A^{-1}b`) by the linear map
:math:`e_{t+1} = (I - \\eta A)\\,e_t`. It converges iff the spectral radius
:math:`\\rho(\\eta) = \\max_i |1 - \\eta\\lambda_i|` is below one, i.e. iff
:math:`0 < \\eta < 2/\\lambda_{\\max}`; the best constant step is
:math:`\\eta^\\star = 2/(\\lambda_{\\min}+\\lambda_{\\max})`, with
:math:`\\rho(\\eta^\\star) = (\\kappa-1)/(\\kappa+1)`, :math:`\\kappa = \\lambda_{\\max}/\\lambda_{\\min}`.

Used in: chapter 00 (the widget demo, its exercises and its claims table).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from harmonia.config import check_positive, check_tensor
from harmonia.course.bench import time_call
from harmonia.course.manifest import Chapter
from harmonia.course.settings import ChapterSettings

__all__ = [
    "device_check",
    "rotated_quadratic",
    "quadratic_value",
    "quadratic_grad",
    "gradient_descent",
    "contraction_factor",
    "optimal_step_size",
    "plot_gradient_descent",
    "prerequisite_depths",
    "prerequisite_map",
    "prerequisite_alt_text",
    "time_matmul",
    "gd_alt_text",
    "COURSE_PARTS",
    "course_tour",
]

#: The course in parts: (title, chapter ids). Chapter 00's tour and the README describe them.
COURSE_PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Stochastic and distributed optimisation", ("01", "02", "03", "04")),
    ("Wavelets, scattering and phase harmonics", ("05", "06")),
    ("Maximum-entropy models: textures, turbulence, point processes", ("07", "08", "09", "10")),
    ("Games and min-max on manifolds", ("11", "12")),
    ("Signal processing and data assimilation", ("13", "14")),
    ("Uncertainty, attention and representation transfer", ("15", "16", "17")),
    ("Kernels", ("18",)),
)


def rotated_quadratic(kappa: float, angle_deg: float = 30.0, dtype: torch.dtype = torch.float64,
                      device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """A 2-D quadratic with eigenvalues ``1`` and ``1/kappa``, eigenvectors rotated by ``angle_deg``,
    on ``device``.

    Returns
    -------
    A : (2, 2) tensor
        Symmetric positive definite Hessian, :math:`A = R\\,\\mathrm{diag}(1, 1/\\kappa)\\,R^\\top`.
    b : (2,) tensor
        Chosen so that the minimiser is :math:`x^\\star = (0.5, -0.25)`.
    """
    kappa = check_positive(kappa, "kappa")
    if kappa < 1:
        raise ValueError(f"kappa: expected a condition number >= 1, got {kappa}")
    t = math.radians(angle_deg)
    rot = torch.tensor([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]], dtype=dtype)
    A = rot @ torch.diag(torch.tensor([1.0, 1.0 / kappa], dtype=dtype)) @ rot.T
    x_star = torch.tensor([0.5, -0.25], dtype=dtype)
    return A.to(device), (A @ x_star).to(device)


def _check_square(A: torch.Tensor) -> None:
    check_tensor(A, "A", ndim=2, dtype="real")
    check_tensor(A, "A", shape=(A.shape[0], A.shape[0]))
    if not torch.allclose(A, A.T, rtol=1e-6, atol=1e-12 * float(A.abs().max().clamp_min(1.0))):
        raise ValueError(f"A: expected a symmetric matrix, got one with max |A - A^T| = {float((A - A.T).abs().max()):.3g}")


def _check_quadratic(A: torch.Tensor, b: torch.Tensor) -> None:
    _check_square(A)
    check_tensor(b, "b", shape=(A.shape[0],), dtype="real", like=A)


def quadratic_value(A: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """:math:`f(x) = \\tfrac12 x^\\top A x - b^\\top x` for a batch of points.

    Parameters
    ----------
    A : (n, n) symmetric tensor
    b : (n,) tensor
    x : (..., n) tensor

    Returns
    -------
    (...) tensor
    """
    _check_quadratic(A, b)
    check_tensor(x, "x", shape=("...", A.shape[0]), like=A)
    return 0.5 * torch.einsum("...i,ij,...j->...", x, A, x) - x @ b


def quadratic_grad(A: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """:math:`\\nabla f(x) = Ax - b` (``A`` symmetric) for a batch of points.

    Parameters
    ----------
    A : (n, n) symmetric tensor
    b : (n,) tensor
    x : (..., n) tensor

    Returns
    -------
    (..., n) tensor
    """
    _check_quadratic(A, b)
    check_tensor(x, "x", shape=("...", A.shape[0]), like=A)
    return x @ A.T - b


def gradient_descent(A: torch.Tensor, b: torch.Tensor, x0: torch.Tensor, lr: float, steps: int) -> torch.Tensor:
    """Iterates of gradient descent :math:`x_{t+1} = x_t - \\eta (A x_t - b)`.

    Parameters
    ----------
    A, b : the quadratic (see :func:`quadratic_grad`)
    x0 : (..., n) tensor
        Starting point(s).
    lr : float
        The step :math:`\\eta > 0`.
    steps : int
        Number of steps.

    Returns
    -------
    (steps + 1, ..., n) tensor
        ``x_0, ..., x_steps``.
    """
    lr = check_positive(lr, "lr")
    steps = check_positive(steps, "steps", integer=True, allow_zero=True)
    _check_quadratic(A, b)
    check_tensor(x0, "x0", shape=("...", A.shape[0]), dtype="real", like=A)
    xs = [x0]
    x = x0
    for _ in range(steps):
        x = x - lr * quadratic_grad(A, b, x)
        xs.append(x)
    return torch.stack(xs)


def contraction_factor(A: torch.Tensor, lr: float) -> float:
    """Spectral radius :math:`\\rho(\\eta) = \\max_i |1 - \\eta\\lambda_i(A)|` of the error map
    :math:`I - \\eta A`, for a symmetric ``(n, n)`` matrix ``A`` (checked)."""
    lr = check_positive(lr, "lr")
    _check_square(A)
    eig = torch.linalg.eigvalsh(A)
    return float((1 - lr * eig).abs().max())


def optimal_step_size(A: torch.Tensor) -> float:
    """The constant step minimising :math:`\\rho(\\eta)`: :math:`\\eta^\\star = 2/(\\lambda_{\\min}+\\lambda_{\\max})`.

    Parameters
    ----------
    A : (n, n) symmetric positive definite tensor
    """
    _check_square(A)
    eig = torch.linalg.eigvalsh(A)
    if float(eig[0]) <= 0:
        raise ValueError(f"A: expected a positive definite matrix, got smallest eigenvalue {float(eig[0]):.3g}")
    return float(2.0 / (eig[0] + eig[-1]))


def plot_gradient_descent(lr: float = 1.0, kappa: float = 10.0, steps: int = 30) -> Figure:
    """The chapter-00 widget's callback: GD paths on the contours and the error decay.

    Left: contours of :math:`f` with the path from :math:`x_0=(-1.5, 1.5)`. Right:
    :math:`f(x_t)-f^\\star` on a log scale with the predicted envelope
    :math:`\\rho(\\eta)^{2t}\\,(f(x_0)-f^\\star)`.
    """
    A, b = rotated_quadratic(kappa)
    x0 = torch.tensor([-1.5, 1.5], dtype=A.dtype)
    path = gradient_descent(A, b, x0, lr, steps)
    x_star = torch.linalg.solve(A, b)
    f_star = quadratic_value(A, b, x_star)
    gap = (quadratic_value(A, b, path) - f_star).clamp_min(1e-300)
    rho = contraction_factor(A, lr)

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.0, 3.8))
    g = torch.linspace(-2.0, 2.0, 121, dtype=A.dtype)
    X, Y = torch.meshgrid(g, g, indexing="xy")
    Z = quadratic_value(A, b, torch.stack([X, Y], dim=-1)) - f_star
    ax0.contour(X.numpy(), Y.numpy(), Z.numpy(), levels=np.geomspace(1e-3, 4.0, 12), colors="0.6", linewidths=0.8)
    shown = path.clamp(-2.0, 2.0).numpy()
    ax0.plot(shown[:, 0], shown[:, 1], "o-", ms=3, lw=1.2, label=f"GD, $\\eta$={lr:.3g}")
    ax0.plot([float(x_star[0])], [float(x_star[1])], "*", ms=12, color="#D55E00", label="minimiser $x^\\star$")
    ax0.set(xlim=(-2, 2), ylim=(-2, 2), xlabel="$x_1$", ylabel="$x_2$", title=f"Paths on the contours ($\\kappa$={kappa:.3g})")
    ax0.set_aspect("equal")
    ax0.legend(loc="lower left")
    t = np.arange(steps + 1)
    ax1.semilogy(t, gap.numpy(), "o-", ms=3, label="$f(x_t)-f^\\star$")
    with np.errstate(over="ignore"):
        envelope = float(gap[0]) * rho ** (2.0 * t)
    ax1.semilogy(t, np.minimum(envelope, 1e300), "--", color="0.3", label=f"$\\rho^{{2t}}$ bound, $\\rho$={rho:.3f}")
    ax1.set(xlabel="step $t$", ylabel="optimality gap", title="Convergence" if rho < 1 else "Divergence ($\\rho \\geq 1$)")
    ax1.legend()
    return fig


def gd_alt_text(lr: float, kappa: float, steps: int) -> str:
    """Alt text of :func:`plot_gradient_descent`'s figure for these slider values."""
    A, _ = rotated_quadratic(kappa)
    rho = contraction_factor(A, lr)
    fate = "converges" if rho < 1 else "diverges"
    return (
        f"Gradient descent with step {lr:.3g} on a quadratic of condition number {kappa:.3g}: the path on the "
        f"contours and the optimality gap over {steps} steps, which {fate} at rate rho = {rho:.3f} per step."
    )


def course_tour(chapters: Sequence[Chapter]) -> str:
    """A Markdown tour of the course: each part, its chapters, and each chapter's first objective."""
    by_id = {ch.id: ch for ch in chapters}
    lines: list[str] = []
    for k, (title, ids) in enumerate(COURSE_PARTS, start=1):
        lines.append(f"**Part {k}. {title}**")
        lines.append("")
        for cid in ids:
            ch = by_id[cid]
            lines.append(f"- **{ch.id} · {ch.title}**: {ch.objectives[0]}")
        lines.append("")
    return "\n".join(lines).rstrip()


def prerequisite_depths(chapters: Sequence[Chapter]) -> dict[str, int]:
    """Depth of each chapter in the prerequisite graph: 0 for roots, else 1 + max over prerequisites."""
    depth: dict[str, int] = {}
    for ch in chapters:  # the manifest lists prerequisites before the chapters that need them
        depth[ch.id] = 1 + max((depth[p] for p in ch.prerequisites), default=-1)
    return depth


#: characters per line of a chapter's label in :func:`prerequisite_map` (titles are wrapped, not cut)
MAP_LABEL_WIDTH = 22


def prerequisite_map(chapters: Sequence[Chapter]) -> Figure:
    """The course's prerequisite graph: one column per depth, arrows from prerequisite to chapter.

    Within a column, chapters are ordered by the mean row of their prerequisites (fewer crossings).
    Boxes are blue for the chapters the manifest marks ready, grey for the planned ones; each label is
    the chapter's id and whole title, wrapped to ``MAP_LABEL_WIDTH`` characters per line.
    """
    depth = prerequisite_depths(chapters)
    columns: dict[int, list[Chapter]] = {}
    for ch in chapters:
        columns.setdefault(depth[ch.id], []).append(ch)
    height = max(len(col) for col in columns.values())
    row: dict[str, float] = {}
    for d in sorted(columns):
        col = columns[d]
        if d > 0:
            col.sort(key=lambda c: (sum(row[p] for p in c.prerequisites) / len(c.prerequisites), c.id))
        offset = (height - len(col)) / 2
        for i, ch in enumerate(col):
            row[ch.id] = offset + i
    fig, ax = plt.subplots(figsize=(12.0, 6.4))
    ax.set(xlim=(-0.6, max(columns) + 0.6), ylim=(height - 0.4, -0.6))
    ax.axis("off")
    boxes = {}
    for ch in chapters:
        # the whole title, wrapped (never cut, never split at a hyphen)
        label = textwrap.fill(f"{ch.id} {ch.title}", width=MAP_LABEL_WIDTH, break_on_hyphens=False)
        ready = ch.ready
        boxes[ch.id] = ax.text(
            depth[ch.id], row[ch.id], label, ha="center", va="center", fontsize=7.5, multialignment="center",
            bbox={"boxstyle": "round,pad=0.3", "fc": "#CFE8F7" if ready else "#F2F2F2",
                  "ec": "#0072B2" if ready else "0.6"},
        )
    for ch in chapters:
        for p in ch.prerequisites:
            ax.annotate("", xy=(0.0, 0.5), xycoords=boxes[ch.id], xytext=(1.0, 0.5), textcoords=boxes[p],
                        arrowprops={"arrowstyle": "-|>", "color": "0.45", "lw": 0.8, "shrinkA": 1, "shrinkB": 1})
    ax.set_title("Prerequisite map: an arrow from A to B means B builds on A (blue: ready, grey: planned)")
    return fig


def prerequisite_alt_text(chapters: Sequence[Chapter]) -> str:
    """Alt text of :func:`prerequisite_map`: which chapters each chapter leads to, and which boxes are
    ready (blue) or planned (grey), as the manifest says."""
    leads: dict[str, list[str]] = {ch.id: [] for ch in chapters}
    for ch in chapters:
        for p in ch.prerequisites:
            leads[p].append(ch.id)
    parts = [f"{cid} leads to {', '.join(nxt)}" for cid, nxt in leads.items() if nxt]
    ready = [ch.id for ch in chapters if ch.ready]
    planned = [ch.id for ch in chapters if not ch.ready]
    status = f"Blue boxes (ready): {', '.join(ready) or 'none'}; grey boxes (planned): {', '.join(planned) or 'none'}."
    return (f"Prerequisite map of the {len(chapters)} chapters, drawn left to right: " + "; ".join(parts) + ". "
            + status)


def time_matmul(n: int = 512, repeats: int = 5, devices: Sequence[str] | None = None) -> list[tuple[str, float]]:
    """Median wall time (ms) of an ``n x n`` float32 matrix product on each device.

    ``devices`` defaults to ``["cpu"]`` plus ``"cuda"`` when available. Timing numbers depend on
    the machine: chapters show them in cells that nbval ignores.
    """
    n = check_positive(n, "n", integer=True)
    repeats = check_positive(repeats, "repeats", integer=True)
    if devices is None:
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    out = []
    for dev in devices:
        gen = torch.Generator(device="cpu").manual_seed(0)
        a = torch.randn(n, n, generator=gen).to(dev)
        b = torch.randn(n, n, generator=gen).to(dev)
        out.append((dev, 1e3 * time_call(lambda: a @ b, repeats=repeats, device=dev).median))
    return out


def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """Gradient descent on the rotated quadratic on ``base.device``: the problem and the path, by
    name. Used by the device tests and ``gpucheck``."""
    A, b = rotated_quadratic(10.0, device=base.device)
    x0 = torch.zeros(2, dtype=A.dtype, device=base.device)
    return {"A": A, "b": b, "path": gradient_descent(A, b, x0, optimal_step_size(A), 20)}
