r"""Layer 2: uncertainty by statistical depth (chapter 15).

- :mod:`~harmonia.uncertainty.fermat` -- the sample Fermat distance (all pairs by scipy or by min-plus squaring in
  torch), its modified and snapped versions for outside points, shortest paths;
- :mod:`~harmonia.uncertainty.depth` -- lens depth for any distance, Euclidean and Fermat;
- :mod:`~harmonia.uncertainty.reduction` -- K-means and the three reductions of the inner set;
- :mod:`~harmonia.uncertainty.scorers` -- the lens-depth scorer and the baselines (centroid distance, GDA, kNN,
  max-softmax, entropy), all with ``fit`` / ``score``.
"""

from harmonia.uncertainty.depth import fermat_lens_depth, lens_depth, lens_depth_euclidean
from harmonia.uncertainty.fermat import distances, edge_weights, fermat_inner, fermat_paths, fermat_to_inner, minplus
from harmonia.uncertainty.reduction import STRATEGIES, kmeans, reduce_points
from harmonia.uncertainty.scorers import (
    EuclideanCentroidScorer,
    GDAScorer,
    KNNScorer,
    LensDepthScorer,
    max_softmax,
    neg_entropy,
)

__all__ = [
    "distances", "edge_weights", "fermat_inner", "fermat_paths", "fermat_to_inner", "minplus",
    "lens_depth", "lens_depth_euclidean", "fermat_lens_depth",
    "STRATEGIES", "kmeans", "reduce_points",
    "LensDepthScorer", "EuclideanCentroidScorer", "GDAScorer", "KNNScorer", "max_softmax", "neg_entropy",
]
