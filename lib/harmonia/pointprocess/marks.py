r"""Geometric marks and summaries of point patterns on the unit torus.

With the periodic distance :math:`d(x,y)=\|((x-y+\tfrac12)\bmod1)-\tfrac12\|`:

- nearest-neighbour distances :math:`d_{i,(k)}` (:func:`knn_distances`, :func:`nn_distance`);
- the **shot-noise** (interference) :math:`m_i=\sum_{j\ne i}\ell(d(X_i,X_j))`, path loss
  :math:`\ell(r)=\max(r,r_0)^{-\beta}` (:func:`shot_noise`);
- the **Voronoi cell area** :math:`|V_i|`, the zone served by station :math:`i` (:func:`voronoi_areas`,
  from SciPy's Voronoi diagram of the 3x3 periodic tiling; the areas sum to 1);
- Ripley's :math:`K(r)=\frac{1}{n(n-1)}\sum_{i\ne j}\mathbf 1\{d(X_i,X_j)\le r\}` (unit area, no edge
  correction needed on the torus; :math:`\pi r^2` for Poisson) and :math:`L(r)=\sqrt{K(r)/\pi}`.

Inputs are (n, 2) tensors of points in :math:`[0,1)^2`; outputs are float64 tensors on the CPU (SciPy works
there). A mark is *equivariant*: translating every point or permuting them translates/permutes nothing else.

Used in: chapters 09, 10.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import Voronoi, cKDTree

from harmonia.config import check_positive, check_tensor

__all__ = ["points_array", "periodic_distances", "knn_distances", "nn_distance", "shot_noise", "voronoi_areas",
           "ripley_k", "ripley_l"]


def points_array(x: torch.Tensor, name: str = "x", min_points: int = 2) -> np.ndarray:
    """Validate a pattern (n, 2) of points in :math:`[0,1)^2` (at least ``min_points``) and return it as a
    float64 NumPy array (for SciPy)."""
    check_tensor(x, name, dtype="floating", shape=(None, 2))
    if len(x) < min_points:
        raise ValueError(f"{name}: expected at least {min_points} points, got {len(x)}")
    if bool(((x < 0) | (x >= 1)).any()):
        raise ValueError(f"{name}: expected coordinates in [0, 1) (points on the unit torus), got values outside")
    return x.detach().to("cpu", torch.float64).numpy()


def periodic_distances(x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """Periodic distances between the rows of ``x`` (n, 2) and ``y`` (m, 2) (default ``x``): (n, m),
    differentiable, on ``x``'s device."""
    check_tensor(x, "x", dtype="floating", shape=(None, 2))
    y = x if y is None else check_tensor(y, "y", dtype="floating", shape=(None, 2), like=x)
    d = (x[:, None, :] - y[None, :, :] + 0.5) % 1.0 - 0.5
    return d.square().sum(-1).clamp_min(0).sqrt()


def knn_distances(x: torch.Tensor, K: int) -> torch.Tensor:
    """Periodic distances from each point to its ``K`` nearest other points, sorted: (n, K) float64."""
    pts = points_array(x, min_points=2)
    K = int(check_positive(K, "K", integer=True))
    if K >= len(pts):
        raise ValueError(f"K: expected fewer neighbours than points ({len(pts)}), got {K}")
    tree = cKDTree(pts, boxsize=1.0)
    d, _ = tree.query(pts, k=K + 1)
    return torch.from_numpy(np.ascontiguousarray(d[:, 1:]))


def nn_distance(x: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour distance of each point (periodic): (n,) float64."""
    return knn_distances(x, 1)[:, 0]


def shot_noise(x: torch.Tensor, beta: float = 3.0, r0: float = 0.02) -> torch.Tensor:
    r"""Interference received at each point from all the others:
    :math:`m_i=\sum_{j\ne i}\max(d(X_i,X_j),r_0)^{-\beta}` (periodic distances). (n,) float64."""
    points_array(x)
    beta, r0 = check_positive(beta, "beta"), check_positive(r0, "r0")
    d = periodic_distances(x.detach().to("cpu", torch.float64))
    d.fill_diagonal_(float("inf"))
    return d.clamp_min(r0).pow(-beta).sum(dim=1)


def _shoelace(poly: np.ndarray) -> float:
    a, b = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(a, np.roll(b, -1)) - np.dot(b, np.roll(a, -1))))


def voronoi_areas(x: torch.Tensor) -> torch.Tensor:
    """Area of the periodic Voronoi cell of each point (the cells tile the torus: the areas sum to 1).

    Computed with ``scipy.spatial.Voronoi`` on the 9 translated copies of the pattern; the cells of the
    central copy are bounded (for at least 3 points) and their areas come from the shoelace formula. (n,) float64.
    """
    pts = points_array(x, min_points=3)
    n = len(pts)
    shifts = np.array([(a, b) for a in (0, -1, 1) for b in (0, -1, 1)], dtype=np.float64)  # (0, 0) first
    tiled = (pts[None, :, :] + shifts[:, None, :]).reshape(-1, 2)
    vor = Voronoi(tiled)
    areas = np.empty(n)
    for i in range(n):
        region = vor.regions[vor.point_region[i]]
        if -1 in region or not region:
            raise RuntimeError("voronoi_areas: an unbounded central cell (too few points?)")
        areas[i] = _shoelace(vor.vertices[region])
    return torch.from_numpy(areas)


def ripley_k(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    r"""Ripley's :math:`K(r)=\frac1{n(n-1)}\sum_{i\ne j}\mathbf 1\{d(X_i,X_j)\le r\}` on the unit torus
    (:math:`\pi r^2` for a Poisson process, :math:`r<\tfrac12`), for radii ``r`` (R,): (R,) float64."""
    pts = points_array(x)
    check_tensor(r, "r", dtype="floating", ndim=1)
    n = len(pts)
    d = periodic_distances(torch.from_numpy(pts))
    pair = d[~torch.eye(n, dtype=torch.bool)]
    pair = pair.sort().values
    counts = torch.searchsorted(pair, r.to(torch.float64).cpu(), right=True)
    return counts.to(torch.float64) / (n * (n - 1))


def ripley_l(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    r""":math:`L(r)=\sqrt{K(r)/\pi}` (equal to :math:`r` for Poisson): (R,) float64."""
    return torch.sqrt(ripley_k(x, r) / np.pi)
