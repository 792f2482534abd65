r"""The sample Fermat distance: a shortest-path distance on a point cloud in which a hop of length :math:`\ell` costs
:math:`\ell^\alpha`,

.. math::

    D_{Q,\alpha}(q,q')=\min\Big\{\sum_{j=1}^{k-1}|q_{j+1}-q_j|^\alpha:\ q_1=q,\ q_k=q',\ q_j\in Q\Big\}.

For :math:`\alpha=1` the direct edge is optimal (the Euclidean distance); for :math:`\alpha>1` many short hops beat one
long jump, so paths follow the dense parts of the data. An outside point :math:`x` enters through the **modified**
distance :math:`D^{\rm mod}(x,q_i)=\min_j\{|x-q_j|^\alpha+D_{Q,\alpha}(q_j,q_i)\}` (a min-plus product; it grows like
:math:`\mathrm{dist}(x,Q)^\alpha`), or, as in the textbook definition, by **snapping** to its nearest point of :math:`Q`
(Proposition 1 of the paper: then every depth is constant on Voronoi cells).

All pairs: ``scipy.sparse.csgraph`` on the CPU (float64), or repeated min-plus squaring in torch (batched, any device).

Used in: chapter 15.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from harmonia.config import check_in, check_positive, check_tensor

__all__ = ["distances", "edge_weights", "fermat_inner", "fermat_paths", "fermat_to_inner", "minplus"]

METHODS = ("scipy", "minplus")


def distances(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Euclidean distances (m, p), (k, p) -> (m, k), computed directly (exact zeros for equal points; the faster
    matrix-product formula of ``torch.cdist`` loses about 8 digits)."""
    check_tensor(A, "A", shape=("m", "p"), dtype="float32_64")
    check_tensor(B, "B", shape=("k", A.shape[1]), dtype="float32_64", like=A)
    return torch.cdist(A, B, compute_mode="donot_use_mm_for_euclid_dist")


def edge_weights(Q: torch.Tensor, alpha: float) -> torch.Tensor:
    """:math:`|q_i-q_j|^\\alpha` for all pairs (complete graph). Q: (n, p) -> (n, n)."""
    check_tensor(Q, "Q", shape=("n", "p"), dtype="float32_64")
    if not isinstance(alpha, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(alpha, "alpha")
    return distances(Q, Q) ** alpha


def _check_inner(Q: torch.Tensor) -> torch.Tensor:
    Q = check_tensor(Q, "Q", shape=("n", "p"), dtype="float32_64")
    if Q.shape[0] < 2:
        raise ValueError(f"Q: expected at least 2 inner points, got {Q.shape[0]}")
    d = distances(Q, Q)
    d.fill_diagonal_(float("inf"))
    if bool((d == 0).any()):
        raise ValueError("Q: expected distinct inner points, got duplicates (a zero-length edge is 'no edge' for "
                         "graph solvers): deduplicate them or add a tiny jitter")
    return Q


def minplus(A: torch.Tensor, B: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """Min-plus product :math:`C_{ij}=\\min_k(A_{ik}+B_{kj})`, chunked over rows. A: (..., m, k), B: (k, n) -> (..., m, n).

    Entries may be +inf ("no edge"); NaN is an error."""
    check_tensor(A, "A", min_ndim=2, dtype="real", finite=False)
    check_tensor(B, "B", shape=(A.shape[-1], None), dtype="real", finite=False, like=A)
    if A.shape[-1] == 0:
        raise ValueError(f"A: expected a non-zero inner size k, got shape {tuple(A.shape)}")
    for T, name in ((A, "A"), (B, "B")):
        if T.device.type != "meta" and bool(torch.isnan(T).any()):
            raise ValueError(f"{name}: expected no NaN entries (+inf means 'no edge'), got {int(torch.isnan(T).sum())}")
    check_positive(chunk, "chunk", integer=True)
    out = []
    for s in range(0, A.shape[-2], chunk):
        out.append((A[..., s:s + chunk, :, None] + B).amin(-2))
    if not out:  # no row
        return A.new_zeros(*A.shape[:-1], B.shape[-1], dtype=torch.result_type(A, B))
    return torch.cat(out, -2)


def fermat_inner(Q: torch.Tensor, alpha: float, method: str = "scipy") -> torch.Tensor:
    """All-pairs sample Fermat distances of the inner points ``Q`` (n, p) -> (n, n), on Q's device.

    ``"scipy"``: Dijkstra from every node on the complete graph, in float64 on the CPU; ``"minplus"``: repeated
    min-plus squaring :math:`D\\leftarrow\\min(D, D\\otimes D)` (:math:`\\lceil\\log_2 n\\rceil` rounds) in Q's dtype and device."""
    Q = _check_inner(Q)
    alpha = float(check_positive(alpha, "alpha"))
    if alpha < 1:
        raise ValueError(f"alpha: expected alpha >= 1 (a power of a distance that keeps paths meaningful), got {alpha}")
    check_in(method, "method", METHODS)
    E = edge_weights(Q.to(torch.float64) if method == "scipy" else Q, alpha)
    if method == "scipy":
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import shortest_path

        # sparse input: scipy's dense-graph conversion loses edges when the weights span ~30 orders of magnitude
        # (alpha = 30 on unit-scale data); explicit sparse entries keep them all
        D = shortest_path(csr_matrix(E.cpu().numpy()), method="D", directed=False)
        return torch.from_numpy(D).to(device=Q.device, dtype=torch.float64)
    D = E
    for _ in range(max(1, math.ceil(math.log2(Q.shape[0])))):
        D = torch.minimum(D, minplus(D, D))
    return D


def fermat_paths(Q: torch.Tensor, alpha: float, source: int) -> tuple[np.ndarray, np.ndarray]:
    """Distances and shortest-path predecessors from node ``source`` (Dijkstra, float64, CPU): arrays (n,), (n,);
    predecessor -9999 marks the source. Follow ``pred`` back from a target to draw its path."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    Q = _check_inner(Q)
    E = edge_weights(Q.to(torch.float64), float(check_positive(alpha, "alpha"))).cpu().numpy()
    dist, pred = dijkstra(csr_matrix(E), directed=False, indices=int(source), return_predecessors=True)
    return dist, pred


def fermat_to_inner(Z: torch.Tensor, Q: torch.Tensor, D: torch.Tensor, alpha: float, *, snap: bool = False,
                    chunk: int = 128) -> torch.Tensor:
    """Fermat distances from outside points to every inner point. Z: (B, p); Q: (n, p); D: (n, n) from
    :func:`fermat_inner` -> (B, n) in D's dtype.

    Modified (default): :math:`\\min_j\\{|z-q_j|^\\alpha+D_{ji}\\}`. ``snap=True``: :math:`D_{j^*i}` with :math:`q_{j^*}` the
    nearest inner point (the textbook definition, whose depths are constant on Voronoi cells)."""
    check_tensor(Q, "Q", shape=("n", "p"), dtype="float32_64")
    Z = check_tensor(Z, "Z", shape=("B", Q.shape[1]), dtype="float32_64", like=Q)
    check_tensor(D, "D", shape=(Q.shape[0], Q.shape[0]), dtype="float32_64", like=Q)
    if not isinstance(alpha, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(alpha, "alpha")
    e = distances(Z.to(D.dtype), Q.to(D.dtype))
    if snap:
        return D[e.argmin(1)]
    return minplus(e ** alpha, D, chunk)
