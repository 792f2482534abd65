r"""Uncertainty scores on a frozen network's features, all with ``fit(features, labels)`` / ``score(features)`` and
"higher = more in-distribution":

- :class:`LensDepthScorer` -- the paper's score, :math:`S(z)=\max_c\widehat{LD}(z;Q_c)` with the modified Fermat distance
  inside each class's inner points :math:`Q_c` (optionally reduced, optionally on L2-normalised features);
- :class:`EuclideanCentroidScorer` -- minus the distance to the nearest class mean;
- :class:`GDAScorer` -- Gaussian discriminant analysis (one Gaussian per class, as in DDU): log-sum-exp of the class
  log-densities;
- :class:`KNNScorer` -- minus the distance to the k-th nearest training feature (Sun et al. 2022);
- :func:`max_softmax`, :func:`neg_entropy` -- from the logits.

Used in: chapter 15.
"""

from __future__ import annotations

import math

import torch

from harmonia.config import check_int, check_positive, check_tensor
from harmonia.uncertainty.depth import lens_depth
from harmonia.uncertainty.fermat import distances, fermat_inner, fermat_to_inner
from harmonia.uncertainty.reduction import reduce_points

__all__ = ["LensDepthScorer", "EuclideanCentroidScorer", "GDAScorer", "KNNScorer", "max_softmax", "neg_entropy"]


def _check_fit(features, labels):
    F = check_tensor(features, "features", shape=("N", "p"), dtype="floating")
    y = check_tensor(labels, "labels", shape=(F.shape[0],), dtype="integer", like=F)
    return F, y


def _l2(F: torch.Tensor) -> torch.Tensor:
    return F / F.norm(dim=1, keepdim=True).clamp_min(1e-12)


class LensDepthScorer:
    """The Fermat lens-depth score.

    Parameters
    ----------
    alpha : float >= 1
        Fermat exponent (1: Euclidean lens depth).
    n_inner : int or None
        Inner points per class after reduction (None: every training point of the class).
    strategy : {"kmeans_center", "kmeans_center_plus", "random"}
    normalize : bool
        L2-normalise features (training and test alike) before everything.
    snap : bool
        Use the snapped (textbook) distance of outside points instead of the modified one -- for demonstrations.
    seed : int
        Seed of the reduction.

    After :meth:`fit`, ``inner[c]`` holds :math:`Q_c` (n_c, p) and ``dist[c]`` its Fermat matrix (float64); features
    are divided by ``scale``, the median inner pairwise distance (lens depth is scale invariant; it keeps
    :math:`|q_i-q_j|^\\alpha` in a comfortable floating-point range).
    """

    def __init__(self, alpha: float = 7.0, n_inner: int | None = 100, strategy: str = "kmeans_center",
                 normalize: bool = False, snap: bool = False, seed: int = 0) -> None:
        self.alpha = float(check_positive(alpha, "alpha"))
        if self.alpha < 1:
            raise ValueError(f"alpha: expected alpha >= 1, got {alpha}")
        self.n_inner = None if n_inner is None else check_int(n_inner, "n_inner", minimum=2)
        self.strategy, self.normalize, self.snap, self.seed = strategy, bool(normalize), bool(snap), int(seed)

    def fit(self, features: torch.Tensor, labels: torch.Tensor) -> "LensDepthScorer":
        F, y = _check_fit(features, labels)
        F = _l2(F) if self.normalize else F
        self.classes = torch.unique(y).tolist()
        inner = []
        for c in self.classes:
            Fc = F[y == c]
            inner.append(Fc if self.n_inner is None else reduce_points(Fc, self.n_inner, self.strategy, self.seed))
        allq = torch.cat(inner)
        d = distances(allq, allq)
        self.scale = float(d[d > 0].median())
        self.inner = [q.to(torch.float64) / self.scale for q in inner]
        self.dist = [fermat_inner(q, self.alpha) for q in self.inner]
        return self

    def score(self, features: torch.Tensor, per_class: bool = False) -> torch.Tensor:
        """(B, p) -> (B,) the maximum over classes, or (B, C) with ``per_class=True``."""
        if not hasattr(self, "inner"):
            raise RuntimeError("score: call fit(features, labels) first")
        Z = check_tensor(features, "features", shape=("B", self.inner[0].shape[1]), dtype="floating")
        Z = (_l2(Z) if self.normalize else Z).to(torch.float64) / self.scale
        ld = torch.stack([lens_depth(fermat_to_inner(Z, Q, D, self.alpha, snap=self.snap), D)
                          for Q, D in zip(self.inner, self.dist)], 1)
        return ld if per_class else ld.max(1).values


class EuclideanCentroidScorer:
    """Minus the Euclidean distance to the nearest class mean."""

    def fit(self, features: torch.Tensor, labels: torch.Tensor) -> "EuclideanCentroidScorer":
        F, y = _check_fit(features, labels)
        self.means = torch.stack([F[y == c].mean(0) for c in torch.unique(y)])
        return self

    def score(self, features: torch.Tensor) -> torch.Tensor:
        return -torch.cdist(features, self.means).min(1).values


class GDAScorer:
    """One Gaussian per class (class means, class covariances with the smallest jitter :math:`10^{-k}I` that makes
    them positive definite, as in DDU); score = :math:`\\log\\sum_c\\mathcal N(z;\\mu_c,\\Sigma_c)` (equal weights)."""

    def fit(self, features: torch.Tensor, labels: torch.Tensor) -> "GDAScorer":
        F, y = _check_fit(features, labels)
        F = F.to(torch.float64)
        means, chols = [], []
        for c in torch.unique(y):
            X = F[y == c]
            mu = X.mean(0)
            cov = (X - mu).T @ (X - mu) / max(X.shape[0] - 1, 1)
            eye = torch.eye(F.shape[1], dtype=F.dtype, device=F.device)
            for jitter in [0.0] + [10.0**k for k in range(-12, 3)]:
                L, info = torch.linalg.cholesky_ex(cov + jitter * eye)
                if int(info) == 0:
                    break
            else:  # pragma: no cover - a jitter of 100 always works for finite features
                raise ValueError("features: a class covariance stayed singular after jitter 100")
            means.append(mu)
            chols.append(L)
        self.means, self.chols = torch.stack(means), torch.stack(chols)
        return self

    def score(self, features: torch.Tensor) -> torch.Tensor:
        Z = features.to(torch.float64)
        diff = (Z[:, None, :] - self.means[None]).unsqueeze(-1)                  # (B, C, p, 1)
        sol = torch.linalg.solve_triangular(self.chols[None], diff, upper=False).squeeze(-1)
        logdet = torch.log(torch.diagonal(self.chols, dim1=-2, dim2=-1)).sum(-1)
        p = Z.shape[1]
        logp = -0.5 * (sol**2).sum(-1) - logdet - 0.5 * p * math.log(2 * math.pi)
        return torch.logsumexp(logp, 1).to(features.dtype)


class KNNScorer:
    """Minus the distance to the k-th nearest training feature (L2-normalised features by default)."""

    def __init__(self, k: int = 10, normalize: bool = True) -> None:
        self.k, self.normalize = check_int(k, "k"), bool(normalize)

    def fit(self, features: torch.Tensor, labels: torch.Tensor | None = None) -> "KNNScorer":
        F = check_tensor(features, "features", shape=("N", "p"), dtype="floating")
        if self.k > F.shape[0]:
            raise ValueError(f"k: expected at most the {F.shape[0]} training features, got {self.k}")
        self.train = _l2(F) if self.normalize else F
        return self

    def score(self, features: torch.Tensor) -> torch.Tensor:
        Z = _l2(features) if self.normalize else features
        return -torch.cdist(Z, self.train).topk(self.k, largest=False).values[:, -1]


def max_softmax(logits: torch.Tensor) -> torch.Tensor:
    """:math:`\\max_c\\mathrm{softmax}(z)_c`. (B, C) -> (B,)."""
    check_tensor(logits, "logits", min_ndim=1, dtype="floating", finite=False)
    return torch.softmax(logits, -1).max(-1).values


def neg_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Minus the entropy of the softmax, :math:`\\sum_cp_c\\log p_c` (0 for a certain prediction). (B, C) -> (B,)."""
    check_tensor(logits, "logits", min_ndim=1, dtype="floating", finite=False)
    logp = torch.log_softmax(logits, -1)
    return (logp.exp() * logp).sum(-1)
