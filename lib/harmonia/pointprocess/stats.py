r"""Summary statistics of point patterns on the unit torus, to judge syntheses with statistics they never saw.

- **Structure factor** :math:`S(k)=\frac1n\big|\sum_je^{-i\langle k,X_j\rangle}\big|^2` on the dual lattice
  :math:`k=2\pi m`, :math:`m\in\mathbb Z^2\setminus\{0\}`, averaged over rings :math:`\mathrm{round}|m|=r`
  (:func:`structure_factor`): 1 on average for a binomial (Poisson) pattern, small at small :math:`k` for
  repulsive (hyperuniform) ones, large for clustered ones.
- **Pair correlation** :math:`g(r)=K'(r)/(2\pi r)`, estimated with a box kernel of width :math:`h`
  (:func:`pair_correlation`): 1 for Poisson.
- :math:`H_0` **persistence** of the Vietoris-Rips filtration (:func:`h0_persistence`): the :math:`n-1` finite
  death times are the edge lengths of a minimum spanning tree (periodic distances).
- **Envelopes** from realisations of a model (:func:`envelope`) and the fraction of radii where a curve
  stays inside (:func:`envelope_coverage`).

Ripley's :math:`K` and :math:`L` are in :mod:`harmonia.pointprocess.marks`. Used in: chapter 10.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.sparse.csgraph import minimum_spanning_tree

from harmonia.config import check_positive, check_tensor
from harmonia.pointprocess.marks import periodic_distances, points_array

__all__ = ["structure_factor", "pair_correlation", "h0_persistence", "envelope", "envelope_coverage"]


def structure_factor(x: torch.Tensor, m_max: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Radially averaged structure factor of the pattern ``x`` (n, 2) on the unit torus.

    Returns
    -------
    r : (m_max,) float64, ring radii :math:`1..m_{\max}` (in units of :math:`2\pi`, i.e. cycles per unit)
    S : (m_max,) float64, the mean of :math:`S(2\pi m)` over :math:`\mathrm{round}|m|=r`
    """
    pts = torch.from_numpy(points_array(x, min_points=1))
    m_max = int(check_positive(m_max, "m_max", integer=True))
    m = torch.arange(-m_max, m_max + 1, dtype=torch.float64)
    phase1 = torch.exp(-2j * math.pi * pts[:, 0:1] * m[None, :])   # (n, 2m+1)
    phase2 = torch.exp(-2j * math.pi * pts[:, 1:2] * m[None, :])
    amp = phase1.T @ phase2                                         # (2m+1, 2m+1): sum_j e^{-i k . x_j}
    S = amp.abs().square() / len(pts)
    radius = torch.sqrt(m[:, None] ** 2 + m[None, :] ** 2).round().long()
    keep = (radius >= 1) & (radius <= m_max)
    total = torch.zeros(m_max + 1, dtype=torch.float64).index_add_(0, radius[keep], S[keep])
    counts = torch.bincount(radius[keep], minlength=m_max + 1).to(torch.float64)
    return torch.arange(1, m_max + 1, dtype=torch.float64), (total / counts.clamp(min=1))[1:]


def pair_correlation(x: torch.Tensor, r: torch.Tensor, bandwidth: float = 0.01) -> torch.Tensor:
    r""":math:`\hat g(r)=\frac{1}{n(n-1)}\sum_{i\ne j}\frac{\mathbf 1\{|d_{ij}-r|\le h/2\}}{2\pi r\,h}` on the unit
    torus (box kernel of width :math:`h`; 1 on average for Poisson, for :math:`h/2<r<\tfrac12`): (R,) float64."""
    pts = torch.from_numpy(points_array(x))
    check_tensor(r, "r", dtype="floating", ndim=1)
    if r.device != x.device:
        raise ValueError(f"r: expected a tensor on the device of x ({x.device}), got {r.device}")
    h = check_positive(bandwidth, "bandwidth")
    n = len(pts)
    d = periodic_distances(pts)[~torch.eye(n, dtype=torch.bool)]
    r = r.to(torch.float64)
    inside = ((d[None, :] - r[:, None]).abs() <= h / 2).sum(dim=1).to(torch.float64)
    return inside / (n * (n - 1) * 2 * math.pi * r * h)


def h0_persistence(x: torch.Tensor) -> torch.Tensor:
    """Death times of the :math:`H_0` classes of the Vietoris-Rips filtration (all born at 0): the
    :math:`n-1` edge lengths of a minimum spanning tree of the periodic distances, sorted. (n-1,) float64.
    (Convention: a class dies at the edge length that merges it; halve them for the ball-radius convention.)"""
    pts = torch.from_numpy(points_array(x))
    # SciPy reads a 0 entry as "no edge": shift every distance by 1 (every spanning tree has n-1 edges, so
    # the minimal tree is unchanged) so that coincident points keep their zero-length edge
    d = periodic_distances(pts).numpy() + 1.0
    np.fill_diagonal(d, 0.0)
    tree = minimum_spanning_tree(d)
    return torch.from_numpy(np.sort(tree.data) - 1.0).to(torch.float64)


def envelope(curves: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pointwise min and max of curves (m, R) from ``m`` realisations: the simulation envelope."""
    check_tensor(curves, "curves", dtype="floating", ndim=2)
    if curves.shape[0] < 2:
        raise ValueError(f"curves: expected at least 2 realisations, got {curves.shape[0]}")
    return curves.min(dim=0).values, curves.max(dim=0).values


def envelope_coverage(curve: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> float:
    """Fraction of the points of ``curve`` (R,) inside ``[lo, hi]``."""
    check_tensor(curve, "curve", dtype="floating", ndim=1)
    check_tensor(lo, "lo", dtype="real", like=curve)
    check_tensor(hi, "hi", dtype="real", like=curve)
    if lo.shape != curve.shape or hi.shape != curve.shape:
        raise ValueError(f"lo, hi: expected the shape of curve {tuple(curve.shape)}, got {tuple(lo.shape)}, {tuple(hi.shape)}")
    return float(((curve >= lo) & (curve <= hi)).to(torch.float64).mean())
