r"""Layer 2: transferring a teacher's representation to a small student (chapter 17).

- :mod:`~harmonia.distill.ranks` -- dissimilarity matrices and the normalised hard and soft ranks around each anchor;
- :mod:`~harmonia.distill.coherence` -- perception coherence (triplet concordance), the rank discrepancy, and the
  ranking loss that trains a student for coherence;
- :mod:`~harmonia.distill.baselines` -- KD, FitNet, RKD, PKT and SP losses;
- :mod:`~harmonia.distill.probes` -- linear-probe and k-NN accuracy of frozen features.
"""

from harmonia.distill.baselines import fitnet_loss, kd_loss, pkt_loss, rkd_loss, sp_loss
from harmonia.distill.coherence import pc_loss, perception_coherence, rank_discrepancy
from harmonia.distill.probes import knn_accuracy, linear_probe
from harmonia.distill.ranks import METRICS, hard_ranks, off_diagonal, pairwise_dist, soft_ranks

__all__ = [
    "METRICS", "pairwise_dist", "hard_ranks", "soft_ranks", "off_diagonal",
    "perception_coherence", "rank_discrepancy", "pc_loss",
    "kd_loss", "fitnet_loss", "rkd_loss", "pkt_loss", "sp_loss",
    "linear_probe", "knn_accuracy",
]
