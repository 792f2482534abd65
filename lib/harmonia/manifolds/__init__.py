"""Layer 1: embedded Riemannian manifolds -- Euclidean space, the sphere, the Stiefel manifold (and the
orthogonal group) -- with tangent projections, retractions, Riemannian gradients and Hessians.

Used in: chapter 12 (min-max games on manifolds, orthogonal Wasserstein GANs), chapter 13 (transform learning
on the orthogonal group).
"""

from harmonia.manifolds.embedded import RETRACTIONS, Euclidean, Manifold, Orthogonal, Sphere, Stiefel, skew, sym

__all__ = ["Manifold", "Euclidean", "Sphere", "Stiefel", "Orthogonal", "RETRACTIONS", "sym", "skew"]
