"""Layer 2: point processes on the unit torus, their marks and summaries, their rendering as images.

- :mod:`~harmonia.pointprocess.samplers` -- Poisson, Matérn cluster and hard-core, perturbed lattice;
- :mod:`~harmonia.pointprocess.marks` -- nearest-neighbour distances, shot-noise, Voronoi cell areas,
  Ripley's K and L;
- :mod:`~harmonia.pointprocess.render` -- differentiable rasterisation with periodic Gaussian bumps;
- :mod:`~harmonia.pointprocess.stats` -- structure factor, pair correlation, H0 persistence, envelopes;
- :mod:`~harmonia.pointprocess.synthesis` -- particle gradient descent on WPH moments (chapter 10);
- :mod:`~harmonia.pointprocess.learning` -- learning marks from geometry: a local baseline and the
  scattering-moment pipeline with its inverse problem (chapter 09).

Used in: chapters 09, 10.
"""

from harmonia.pointprocess.learning import BaselineMarkRegressor, ScatteringMarkModel, local_features
from harmonia.pointprocess.marks import (
    knn_distances,
    nn_distance,
    periodic_distances,
    ripley_k,
    ripley_l,
    shot_noise,
    voronoi_areas,
)
from harmonia.pointprocess.render import render_gaussian
from harmonia.pointprocess.samplers import (
    SAMPLERS,
    binomial,
    cluster_fixed,
    field_cox,
    matern_cluster,
    matern_hardcore,
    perturbed_lattice,
    poisson,
    sample,
    voronoi_edge_cox,
)
from harmonia.pointprocess.stats import envelope, envelope_coverage, h0_persistence, pair_correlation, structure_factor
from harmonia.pointprocess.synthesis import DescentLog, particle_descent, sigma_schedule

__all__ = [
    "SAMPLERS",
    "sample",
    "poisson",
    "matern_cluster",
    "matern_hardcore",
    "perturbed_lattice",
    "periodic_distances",
    "knn_distances",
    "nn_distance",
    "shot_noise",
    "voronoi_areas",
    "ripley_k",
    "ripley_l",
    "render_gaussian",
    "binomial",
    "cluster_fixed",
    "voronoi_edge_cox",
    "field_cox",
    "structure_factor",
    "pair_correlation",
    "h0_persistence",
    "envelope",
    "envelope_coverage",
    "sigma_schedule",
    "DescentLog",
    "particle_descent",
    "local_features",
    "BaselineMarkRegressor",
    "ScatteringMarkModel",
]
