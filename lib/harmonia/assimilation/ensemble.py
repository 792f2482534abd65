r"""Ensemble Kalman filters: an ensemble :math:`E\in\mathbb R^{N_e\times n}` of states stands for the prior; each cycle
inflates its anomalies, assimilates the observation, and moves every member with the (noisy) model.

- **Stochastic EnKF** (perturbed observations): :math:`P=\rho_{GC}\circ\frac{A^\top A}{N_e-1}` with Schur (Gaspari-Cohn)
  localisation, :math:`K=PH^\top(HPH^\top+\sigma_r^2I)^{-1}`, each member updated with its own perturbed observation
  :math:`E_k\leftarrow E_k+K(y+\sigma_r\xi_k-HE_k)`.
- **LETKF** (Hunt, Kostelich & Szunyogh 2007): for every grid point, an ensemble-space analysis with the observation
  errors inflated by :math:`1/\rho_{GC}(d)` with distance (R-localisation) and the symmetric square-root transform.

Inflation multiplies the forecast covariance by :math:`\rho` (the anomalies by :math:`\sqrt\rho`). The Gaspari-Cohn function
with half-width :math:`c` (support :math:`2c`), :math:`z=|r|/c`:

.. math::

    \rho_{GC}=\begin{cases}1-\tfrac53z^2+\tfrac58z^3+\tfrac12z^4-\tfrac14z^5,&z\le1\\
    4-5z+\tfrac53z^2+\tfrac58z^3-\tfrac12z^4+\tfrac1{12}z^5-\tfrac2{3z},&1<z<2\\0,&z\ge2.\end{cases}

Used in: chapter 14.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harmonia.assimilation.models import StateSpaceModel, rmse_per_sample
from harmonia.config import check_in, check_int, check_positive, check_tensor

__all__ = ["periodic_distance", "gaspari_cohn", "enkf_analysis", "letkf_analysis", "FilterRun", "assimilate"]

ANALYSES = ("enkf", "letkf")


def periodic_distance(n: int, *, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> torch.Tensor:
    """Distances :math:`\\min(|i-j|,n-|i-j|)` on a ring of ``n`` points. Shape (n, n)."""
    i = torch.arange(check_int(n, "n"), device=device)
    d = (i[:, None] - i[None, :]).abs()
    return torch.minimum(d, n - d).to(dtype)


def gaspari_cohn(r: torch.Tensor, c: float) -> torch.Tensor:
    """The Gaspari-Cohn compactly supported correlation (module docstring) at distances ``r``, half-width ``c``."""
    check_tensor(r, "r", dtype="floating", finite=False)
    c = float(check_positive(c, "c"))
    z = r.abs() / c
    inner = 1 - 5 / 3 * z**2 + 5 / 8 * z**3 + 0.5 * z**4 - 0.25 * z**5
    zs = z.clamp_min(1e-12)
    outer = 4 - 5 * zs + 5 / 3 * zs**2 + 5 / 8 * zs**3 - 0.5 * zs**4 + zs**5 / 12 - 2 / (3 * zs)
    return torch.where(z <= 1, inner, torch.where(z < 2, outer, torch.zeros_like(z)))


def enkf_analysis(E: torch.Tensor, y: torch.Tensor, model: StateSpaceModel, loc: torch.Tensor | None = None,
                  generator: torch.Generator | None = None, perturbations: torch.Tensor | None = None) -> torch.Tensor:
    """Stochastic EnKF analysis. E: (..., Ne, n) forecast ensemble; y: (..., p); loc: (n, n) Schur localisation
    matrix or None; perturbations: (..., Ne, p) standard normal draws of the observation perturbations (drawn from
    ``generator`` when None). Returns the analysis ensemble (..., Ne, n)."""
    check_tensor(E, "E", shape=("...", "Ne", model.n), dtype="float32_64")
    check_tensor(y, "y", shape=(*E.shape[:-2], model.p), dtype=E.dtype, like=E)
    Ne = E.shape[-2]
    A = E - E.mean(-2, keepdim=True)
    P = A.transpose(-1, -2) @ A / (Ne - 1)                        # (..., n, n)
    if loc is not None:
        P = P * loc
    PHt = model.H(P)                                              # (..., n, p): columns of P at the observed indices
    HPHt = model.H(PHt.transpose(-1, -2))                         # (..., p, p)
    S = HPHt + model.sigma_r**2 * torch.eye(model.p, dtype=E.dtype, device=E.device)
    if perturbations is None:
        perturbations = torch.randn(*E.shape[:-1], model.p, generator=generator, dtype=E.dtype, device=E.device)
    pert = y.unsqueeze(-2) + model.sigma_r * perturbations
    innov = pert - model.H(E)                                     # (..., Ne, p)
    return E + torch.linalg.solve(S, innov.transpose(-1, -2)).transpose(-1, -2) @ PHt.transpose(-1, -2)


_REAL_OR_INT = (torch.float16, torch.bfloat16, torch.float32, torch.float64,
                torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def letkf_analysis(E: torch.Tensor, y: torch.Tensor, model: StateSpaceModel, obs_weights: torch.Tensor) -> torch.Tensor:
    """LETKF analysis, all grid points at once. E: (..., Ne, n); y: (..., p); obs_weights: (n, p) localisation weight of
    each observation for each grid point (:math:`\\rho_{GC}` of their distance). Returns (..., Ne, n)."""
    check_tensor(E, "E", shape=("...", "Ne", model.n), dtype="float32_64")
    if E.shape[-2] < 2:
        raise ValueError(f"E: expected an ensemble of at least 2 members (shape (..., Ne, {model.n})), "
                         f"got shape {tuple(E.shape)}")
    # y and the weights may be of any real or integer dtype that E's dtype holds (they are promoted to it)
    check_tensor(y, "y", shape=(*E.shape[:-2], model.p), dtype=_REAL_OR_INT, like=E)
    if torch.promote_types(y.dtype, E.dtype) != E.dtype:
        raise TypeError(f"y: expected E's dtype {E.dtype} or one it holds, got {y.dtype}")
    check_tensor(obs_weights, "obs_weights", shape=(model.n, model.p), dtype=(*_REAL_OR_INT, torch.bool), like=E)
    return _letkf(E, y, model, obs_weights)


def _letkf(E: torch.Tensor, y: torch.Tensor, model: StateSpaceModel, obs_weights: torch.Tensor) -> torch.Tensor:
    """:func:`letkf_analysis` without the checks (inside :func:`assimilate`'s loop, whose inputs are checked)."""
    Ne = E.shape[-2]
    xm = E.mean(-2, keepdim=True)
    X = E - xm                                                    # (..., Ne, n)
    HE = model.H(E)
    ym = HE.mean(-2, keepdim=True)
    Yb = HE - ym                                                  # (..., Ne, p)
    d = (y.unsqueeze(-2) - ym).squeeze(-2)                        # (..., p)
    Cw = Yb.unsqueeze(-3) * (obs_weights / model.sigma_r**2).unsqueeze(-2)   # (..., n, Ne, p) = Yb^T R_i^{-1}, rows
    Mi = (Ne - 1) * torch.eye(Ne, dtype=E.dtype, device=E.device) + Cw @ Yb.unsqueeze(-3).transpose(-1, -2)
    lam, V = torch.linalg.eigh(Mi)                                # (..., n, Ne), (..., n, Ne, Ne)
    Pa = (V / lam.unsqueeze(-2)) @ V.transpose(-1, -2)
    W = (V * ((Ne - 1) / lam).sqrt().unsqueeze(-2)) @ V.transpose(-1, -2)
    wbar = Pa @ (Cw @ d.unsqueeze(-2).unsqueeze(-1))              # (..., n, Ne, 1)
    T = W + wbar                                                  # (..., n, Ne, Ne): column m = weights of member m
    Xi = X.transpose(-1, -2).unsqueeze(-2)                        # (..., n, 1, Ne)
    upd = (Xi @ T).squeeze(-2)                                    # (..., n, Ne)
    return xm + upd.transpose(-1, -2)


@dataclass
class FilterRun:
    """Means of the prior (``mean_b``) and posterior (``mean_a``) ensembles (T, ..., n), their per-sample RMSEs
    against the truth (T, ...), and the last ensemble."""

    mean_b: torch.Tensor
    mean_a: torch.Tensor
    rmse_b: torch.Tensor
    rmse_a: torch.Tensor
    ensemble: torch.Tensor


def assimilate(model: StateSpaceModel, xs: torch.Tensor, ys: torch.Tensor, E0: torch.Tensor, *, method: str = "enkf",
               inflation: float = 1.0, loc_radius: float | None = None,
               generator: torch.Generator | None = None) -> FilterRun:
    """Run an ensemble filter over a simulated run: at cycle t the ensemble is the prior of :math:`x_t`; it is inflated,
    updated with :math:`y_t` (``method`` "enkf" or "letkf", localisation half-width ``loc_radius`` or None), and each
    member is moved by the noisy model.

    xs: (T, ..., n) truth; ys: (T, ..., p) observations; E0: (..., Ne, n) initial ensemble."""
    check_in(method, "method", ANALYSES)
    rho = float(check_positive(inflation, "inflation"))
    xs = check_tensor(xs, "xs", shape=("T", "...", model.n), dtype="floating")
    ys = check_tensor(ys, "ys", shape=(xs.shape[0], *xs.shape[1:-1], model.p), dtype="floating", like=xs)
    E = check_tensor(E0, "E0", shape=(*xs.shape[1:-1], "Ne", model.n), dtype="float32_64", like=xs)
    check_tensor(ys, "ys", dtype=E.dtype)  # the analyses combine observations and ensemble in one dtype
    if E.shape[-2] < 2:
        raise ValueError(f"E0: expected at least 2 members, got {E.shape[-2]}")
    dist = periodic_distance(model.n, dtype=xs.dtype, device=xs.device)
    loc = obs_w = None
    if method == "enkf" and loc_radius is not None:
        loc = gaspari_cohn(dist, loc_radius)
    if method == "letkf":
        w = gaspari_cohn(dist, loc_radius) if loc_radius is not None else torch.ones_like(dist)
        obs_w = model.H(w)                                         # (n, p)
    mb, ma = [], []
    for y in ys:
        mb.append(E.mean(-2))
        xm = E.mean(-2, keepdim=True)
        E = xm + rho**0.5 * (E - xm)
        E = enkf_analysis(E, y, model, loc, generator) if method == "enkf" else _letkf(E, y, model, obs_w)
        ma.append(E.mean(-2))
        E = model.propagate(E, generator)
    mean_b, mean_a = torch.stack(mb), torch.stack(ma)
    return FilterRun(mean_b, mean_a, rmse_per_sample(xs, mean_b), rmse_per_sample(xs, mean_a), E)
