r"""Point processes on the unit torus :math:`[0,1)^2`: Poisson, Matérn cluster, Matérn hard-core, perturbed lattice.

Every sampler takes a ``seed`` (int or ``torch.Generator``), is vectorised, and returns the points as a
float64 tensor of shape (n, 2) with coordinates in :math:`[0,1)` (columns :math:`(x_1, x_2)`); :math:`n`
is random except for the lattice. Wrapping the unit square into a torus removes edge effects from
marks and statistics.

- Poisson of intensity :math:`\lambda`: :math:`n\sim\mathrm{Poisson}(\lambda)`, points i.i.d. uniform.
- Matérn cluster: Poisson parents of intensity :math:`\kappa`, each with :math:`\mathrm{Poisson}(\mu)`
  children uniform in the disc of radius :math:`R` around it (intensity :math:`\kappa\mu`; clustered).
- Matérn hard-core (type II): Poisson proposals of intensity :math:`\lambda_0` with uniform marks; a point
  is kept unless a proposal with a smaller mark lies within :math:`r`; kept intensity
  :math:`(1-e^{-\lambda_0\pi r^2})/(\pi r^2)` (repulsive: no pair closer than :math:`r`).
- Fixed-:math:`n` versions for synthesis (the model is conditioned on :math:`n`): binomial (uniform),
  :func:`cluster_fixed`, the **Voronoi-edge Cox** process (points uniform on the edges of a Poisson-Voronoi
  tessellation) and a **Cox process driven by an intensity image** (:func:`field_cox`, e.g. a turbulence field).
- Perturbed lattice: the :math:`k\times k` grid shifted by one uniform offset, each point moved by an
  independent :math:`\mathcal N(0,s^2)` step (repulsive, "planned" networks).

Used in: chapters 09, 10.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.spatial import Voronoi

from harmonia.config import check_positive, check_tensor, make_generator
from harmonia.pointprocess.marks import periodic_distances

__all__ = ["poisson", "matern_cluster", "matern_hardcore", "perturbed_lattice", "SAMPLERS", "sample", "binomial",
           "cluster_fixed", "voronoi_edge_cox", "field_cox"]

F64 = torch.float64


def _count(mean: float, gen: torch.Generator) -> int:
    return int(torch.poisson(torch.tensor([float(mean)], dtype=F64), generator=gen))


def _wrap(y: torch.Tensor) -> torch.Tensor:
    """``y mod 1`` in [0, 1): ``-1e-17 % 1.0`` rounds to 1.0 in floating point, so fold that back to 0."""
    y = y % 1.0
    return torch.where(y >= 1.0, y - 1.0, y)


def poisson(intensity: float, seed: int | torch.Generator | None = None) -> torch.Tensor:
    """Homogeneous Poisson process of intensity ``intensity`` (mean number of points) on the unit torus.

    Returns
    -------
    (n, 2) float64 tensor, :math:`n\\sim\\mathrm{Poisson}(\\lambda)`
    """
    intensity = check_positive(intensity, "intensity")
    gen = make_generator(seed)
    n = _count(intensity, gen)
    return torch.rand(n, 2, generator=gen, dtype=F64)


def matern_cluster(parents: float, children: float, radius: float,
                   seed: int | torch.Generator | None = None) -> torch.Tensor:
    """Matérn cluster process: ``parents`` parent intensity, ``children`` mean children per parent, uniform in
    a disc of ``radius`` around it (wrapped on the torus); intensity ``parents * children``.

    Returns
    -------
    (n, 2) float64 tensor
    """
    parents, children = check_positive(parents, "parents"), check_positive(children, "children")
    radius = check_positive(radius, "radius")
    if radius >= 0.5:
        raise ValueError(f"radius: expected a cluster radius below 0.5 (half the torus), got {radius}")
    gen = make_generator(seed)
    centres = torch.rand(_count(parents, gen), 2, generator=gen, dtype=F64)
    counts = torch.poisson(torch.full((len(centres),), float(children), dtype=F64), generator=gen).long()
    owner = torch.repeat_interleave(torch.arange(len(centres)), counts)
    n = int(counts.sum())
    r = radius * torch.sqrt(torch.rand(n, generator=gen, dtype=F64))
    t = 2 * math.pi * torch.rand(n, generator=gen, dtype=F64)
    return _wrap(centres[owner] + torch.stack([r * torch.cos(t), r * torch.sin(t)], dim=1))


def matern_hardcore(intensity: float, r: float, seed: int | torch.Generator | None = None) -> torch.Tensor:
    """Matérn hard-core process of type II: proposals of intensity ``intensity``, thinned so that no two
    kept points are closer than ``r`` (a proposal survives if no proposal within ``r`` has a smaller
    uniform mark).

    Returns
    -------
    (n, 2) float64 tensor, pairwise periodic distances >= ``r``
    """
    intensity, r = check_positive(intensity, "intensity"), check_positive(r, "r")
    if r >= 0.5:
        raise ValueError(f"r: expected a hard-core distance below 0.5, got {r}")
    gen = make_generator(seed)
    x = torch.rand(_count(intensity, gen), 2, generator=gen, dtype=F64)
    birth = torch.rand(len(x), generator=gen, dtype=F64)
    close = periodic_distances(x) < r
    close.fill_diagonal_(False)
    older = close & (birth[None, :] < birth[:, None])  # a neighbour within r born before me
    return x[~older.any(dim=1)]


def perturbed_lattice(side: int, sigma: float, seed: int | torch.Generator | None = None) -> torch.Tensor:
    """The ``side x side`` square lattice of the torus, shifted by one uniform offset, each point moved by
    an independent Gaussian step of standard deviation ``sigma`` (in units of the torus side).

    Returns
    -------
    (side**2, 2) float64 tensor
    """
    side = int(check_positive(side, "side", integer=True))
    sigma = check_positive(sigma, "sigma", allow_zero=True)
    gen = make_generator(seed)
    g = torch.arange(side, dtype=F64) / side
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), dim=-1).reshape(-1, 2)
    offset = torch.rand(1, 2, generator=gen, dtype=F64) / side
    return _wrap(grid + offset + sigma * torch.randn(side * side, 2, generator=gen, dtype=F64))


def binomial(n: int, seed: int | torch.Generator | None = None) -> torch.Tensor:
    """``n`` independent uniform points on the unit torus (a Poisson process conditioned on ``n`` points).

    Returns
    -------
    (n, 2) float64 tensor
    """
    n = int(check_positive(n, "n", integer=True))
    return torch.rand(n, 2, generator=make_generator(seed), dtype=F64)


def cluster_fixed(n: int, parents: int, radius: float, seed: int | torch.Generator | None = None) -> torch.Tensor:
    """Matérn cluster pattern with exactly ``n`` points: ``parents`` uniform centres, each point picks one
    uniformly and lands uniformly in the disc of ``radius`` around it (wrapped).

    Returns
    -------
    (n, 2) float64 tensor
    """
    n, parents = int(check_positive(n, "n", integer=True)), int(check_positive(parents, "parents", integer=True))
    radius = check_positive(radius, "radius")
    gen = make_generator(seed)
    centres = torch.rand(parents, 2, generator=gen, dtype=F64)
    owner = torch.randint(0, parents, (n,), generator=gen)
    r = radius * torch.sqrt(torch.rand(n, generator=gen, dtype=F64))
    t = 2 * math.pi * torch.rand(n, generator=gen, dtype=F64)
    return _wrap(centres[owner] + torch.stack([r * torch.cos(t), r * torch.sin(t)], dim=1))


def voronoi_edge_cox(n: int, seeds: int = 20, seed: int | torch.Generator | None = None) -> torch.Tensor:
    """``n`` points uniform on the edges of a Poisson-Voronoi tessellation of the torus with ``seeds`` cells
    (a Cox process: a random measure on the edges, points i.i.d. given it). An edge is picked with
    probability proportional to its length, then a uniform position on it.

    Returns
    -------
    (n, 2) float64 tensor
    """
    n, seeds = int(check_positive(n, "n", integer=True)), int(check_positive(seeds, "seeds", integer=True))
    if seeds < 3:
        raise ValueError(f"seeds: expected at least 3 Voronoi cells, got {seeds}")
    gen = make_generator(seed)
    centres = torch.rand(seeds, 2, generator=gen, dtype=F64).numpy()
    shifts = np.array([(a, b) for a in (0, -1, 1) for b in (0, -1, 1)], dtype=np.float64)
    vor = Voronoi((centres[None] + shifts[:, None]).reshape(-1, 2))
    segs = np.array([vor.vertices[e] for e in vor.ridge_vertices if -1 not in e])  # (E, 2, 2)
    mid = segs.mean(axis=1)
    segs = segs[np.all((mid >= 0) & (mid < 1), axis=1)]  # one copy of every edge of the torus
    length = torch.from_numpy(np.linalg.norm(segs[:, 1] - segs[:, 0], axis=1))
    pick = torch.multinomial(length / length.sum(), n, replacement=True, generator=gen)
    t = torch.rand(n, 1, generator=gen, dtype=F64)
    s = torch.from_numpy(segs)[pick]
    return _wrap(s[:, 0] + t * (s[:, 1] - s[:, 0]))


def field_cox(intensity: torch.Tensor, n: int, seed: int | torch.Generator | None = None) -> torch.Tensor:
    """``n`` points drawn from a non-negative intensity image (M, N) on the torus: a pixel with probability
    proportional to its value, then a uniform position inside it (a Cox process when the image is random,
    e.g. a function of a turbulence field).

    Returns
    -------
    (n, 2) float64 tensor, row coordinate first
    """
    check_tensor(intensity, "intensity", dtype="floating", ndim=2)
    if bool((intensity < 0).any()) or float(intensity.sum()) <= 0:
        raise ValueError("intensity: expected non-negative values with a positive sum")
    n = int(check_positive(n, "n", integer=True))
    gen = make_generator(seed)
    M, N = intensity.shape
    w = intensity.detach().to("cpu", F64).flatten()
    pick = torch.multinomial(w / w.sum(), n, replacement=True, generator=gen)
    rows, cols = (pick // N).to(F64), (pick % N).to(F64)
    jitter = torch.rand(n, 2, generator=gen, dtype=F64)
    return _wrap(torch.stack([(rows + jitter[:, 0]) / M, (cols + jitter[:, 1]) / N], dim=1))


#: Named processes at a target intensity :math:`\lambda` (mean number of points on the unit torus).
SAMPLERS = ("poisson", "cluster", "hardcore", "lattice")


def sample(process: str, intensity: float, seed: int | torch.Generator | None = None) -> torch.Tensor:
    """One pattern of ``process`` with about ``intensity`` points, with the course's default shapes:
    ``"poisson"``; ``"cluster"`` (:math:`\\lambda/8` parents, 8 children in a disc of radius
    :math:`0.5/\\sqrt\\lambda\\cdot2`); ``"hardcore"`` (type II, :math:`r=0.5/\\sqrt\\lambda`, proposals tuned so the kept
    intensity is :math:`\\lambda`); ``"lattice"`` (:math:`\\mathrm{round}(\\sqrt\\lambda)^2` points, steps of
    0.2 of the spacing).

    Used in: chapters 09, 10.
    """
    intensity = check_positive(intensity, "intensity")
    spacing = 1.0 / math.sqrt(intensity)
    if process == "poisson":
        return poisson(intensity, seed)
    if process == "cluster":
        return matern_cluster(intensity / 8, 8.0, spacing, seed)
    if process == "hardcore":
        r = 0.5 * spacing
        area = math.pi * r * r
        if intensity * area >= 1:
            raise ValueError(f"intensity: too high for a hard-core distance {r:.3g}")
        proposals = -math.log(1 - intensity * area) / area  # kept intensity (1 - e^{-l0 a}) / a = intensity
        return matern_hardcore(proposals, r, seed)
    if process == "lattice":
        side = max(1, round(math.sqrt(intensity)))
        return perturbed_lattice(side, 0.2 / side, seed)
    raise ValueError(f"process: expected one of {SAMPLERS}, got {process!r}")
