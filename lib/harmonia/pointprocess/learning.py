r"""Learning the marks of a point pattern from its geometry (Brochard, Błaszczyszyn, Mallat, Zhang 2019),
as the course reconstructs it.

**Local baseline.** Describe point :math:`i` by the periodic distances to its :math:`K` nearest neighbours and
their logarithms, :math:`f_i=(d_{i,(1)},\dots,d_{i,(K)},\log d_{i,(1)},\dots,\log d_{i,(K)})`, pool the points of all
training patterns, and fit a ridge regression of the mark (:class:`BaselineMarkRegressor`).

**Global scattering pipeline** (:class:`ScatteringMarkModel`). Render the unmarked measure
:math:`\mu_1=\sum_i\delta_{X_i}` and the marked one :math:`\mu_m=\sum_im_i\delta_{X_i}`
(:func:`~harmonia.pointprocess.render_gaussian`), take log scattering moments
:math:`s_1=\log S(\mu_1)`, :math:`s_m=\log S(\mu_m)` (:class:`~harmonia.scattering.ScatteringMoments`), regress
:math:`s_m\approx Ws_1+b` over training patterns (:class:`~harmonia.nn.RidgeRegression`, validated penalty,
residual standard deviations :math:`r_k`), and for a new pattern recover the marks by solving

.. math:: \hat m=\arg\min_m\sum_k\Big(\frac{\log S_k(\mu_m)-\hat s_k}{r_k}\Big)^2,\qquad m^{(0)}\equiv\bar m,

with L-BFGS (:func:`harmonia.synthesis.match_statistics`), positions fixed. With the true moments as target
(the *oracle*) the inverse problem alone is tested.

Used in: chapter 09.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from harmonia.config import check_positive, check_tensor
from harmonia.nn.ridge import RidgeRegression
from harmonia.pointprocess.marks import knn_distances
from harmonia.pointprocess.render import render_gaussian
from harmonia.scattering.moments import ScatteringMoments
from harmonia.synthesis import match_statistics

__all__ = ["local_features", "BaselineMarkRegressor", "ScatteringMarkModel"]

F64 = torch.float64


def local_features(x: torch.Tensor, K: int) -> torch.Tensor:
    """:math:`(d_{i,(1..K)},\\log d_{i,(1..K)})` for every point of ``x`` (n, 2): (n, 2K) float64."""
    d = knn_distances(x, K)
    return torch.cat([d, d.log()], dim=1)


class BaselineMarkRegressor:
    """Pointwise ridge regression of a mark on the local features of :func:`local_features`.

    Parameters
    ----------
    K : int, neighbours
    alphas : penalties tried (validated when validation patterns are given)
    """

    def __init__(self, K: int = 10, alphas: Sequence[float] = (1e-3,)) -> None:
        self.K = int(check_positive(K, "K", integer=True))
        self.ridge = RidgeRegression(alphas)

    def _pool(self, patterns: Sequence[torch.Tensor], marks: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        if len(patterns) != len(marks):
            raise ValueError(f"marks: expected one mark vector per pattern ({len(patterns)}), got {len(marks)}")
        X = torch.cat([local_features(x, self.K) for x in patterns])
        y = torch.cat([m.to(F64).cpu() for m in marks])
        if len(y) != len(X):
            raise ValueError("marks: expected one mark per point of each pattern")
        return X, y

    def fit(self, patterns: Sequence[torch.Tensor], marks: Sequence[torch.Tensor],
            val_patterns: Sequence[torch.Tensor] | None = None,
            val_marks: Sequence[torch.Tensor] | None = None) -> "BaselineMarkRegressor":
        X, y = self._pool(patterns, marks)
        if val_patterns is not None:
            Xv, yv = self._pool(val_patterns, val_marks)
            self.ridge.fit(X, y, Xv, yv)
        else:
            self.ridge.fit(X, y)
        return self

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted marks of the points of ``x`` (n, 2): (n,) float64."""
        return self.ridge.predict(local_features(x, self.K))


class ScatteringMarkModel:
    """The global pipeline of the module docstring.

    Parameters
    ----------
    P : int, grid side of the rendering
    J, L : int, scattering scales and orientations
    sigma : float, bump width in pixels
    alphas : penalties of the moment regression
    device, dtype : where and in which precision moments and marks are computed (float64 by default;
        float32 is about three times faster and enough for L-BFGS on these problems)

    Attributes
    ----------
    moments : :class:`~harmonia.scattering.ScatteringMoments` (log)
    ridge : :class:`~harmonia.nn.RidgeRegression` (after :meth:`fit`)
    mean_mark : float, :math:`\\bar m` over the training points
    """

    def __init__(self, P: int = 64, J: int = 4, L: int = 4, sigma: float = 1.0,
                 alphas: Sequence[float] = (1e-4, 1e-3, 1e-2, 1e-1), device: torch.device | str = "cpu",
                 dtype: torch.dtype = F64) -> None:
        self.P, self.sigma = P, float(check_positive(sigma, "sigma"))
        if dtype not in (torch.float32, F64):
            raise ValueError(f"dtype: expected torch.float32 or torch.float64, got {dtype}")
        self.dtype, self.device = dtype, torch.device(device)
        self.moments = ScatteringMoments(P, J, L, log=True).to(dtype=dtype, device=self.device)
        self.ridge = RidgeRegression(alphas)

    def log_moments(self, x: torch.Tensor, marks: torch.Tensor | None = None) -> torch.Tensor:
        """:math:`\\log S` of the rendered (marked) pattern: (D,) in the model's dtype, on its device."""
        x = x.to(dtype=self.dtype, device=self.device)
        w = None if marks is None else marks.to(dtype=self.dtype, device=self.device)
        return self.moments(render_gaussian(x, self.P, self.sigma, w))

    def _features(self, patterns, marks=None) -> torch.Tensor:
        return torch.stack([self.log_moments(x, None if marks is None else marks[t]) for t, x in enumerate(patterns)])

    def unmarked_moments(self, patterns: Sequence[torch.Tensor]) -> torch.Tensor:
        """:math:`\\log S(\\mu_1)` of each pattern: (T, D). Pass them to :meth:`fit` to fit several marks
        of the same patterns without recomputing them."""
        with torch.no_grad():
            return self._features(patterns)

    def fit(self, patterns: Sequence[torch.Tensor], marks: Sequence[torch.Tensor],
            val_patterns: Sequence[torch.Tensor], val_marks: Sequence[torch.Tensor],
            unmarked: tuple[torch.Tensor, torch.Tensor] | None = None) -> "ScatteringMarkModel":
        """Regress :math:`s_m` on :math:`s_1` over the training patterns, validate on the others
        (``unmarked``: the :meth:`unmarked_moments` of the training and validation patterns, if known)."""
        if len(patterns) != len(marks) or len(val_patterns) != len(val_marks):
            raise ValueError("marks: expected one mark vector per pattern")
        with torch.no_grad():
            s1, v1 = unmarked if unmarked is not None else (self._features(patterns), self._features(val_patterns))
            if s1.shape[0] != len(patterns) or v1.shape[0] != len(val_patterns):
                raise ValueError("unmarked: expected the moments of the training and validation patterns")
            sm, vm = self._features(patterns, marks), self._features(val_patterns, val_marks)
        self.ridge.fit(s1, sm, v1, vm)
        self.mean_mark = float(torch.cat([m.to(F64).cpu() for m in marks]).mean())
        return self

    def predict_moments(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\hat s=W\\log S(\\mu_1)+b` for the pattern ``x``: (D,)."""
        with torch.no_grad():
            return self.ridge.predict(self.log_moments(x)[None])[0]

    def moment_weights_floor(self) -> torch.Tensor:
        """The residual standard deviations :math:`r_k` used as weights, floored at a tenth of their median:
        a moment that the regression predicts exactly (the total mass of Voronoi areas is always 1) would
        otherwise get an infinite weight."""
        r = self.ridge.residual_std_
        return r.clamp_min(0.1 * float(r.median()))

    def recover_marks(self, x: torch.Tensor, target: torch.Tensor, m0: torch.Tensor | None = None,
                      steps: int = 150) -> tuple[torch.Tensor, list[float]]:
        """Marks whose log moments match ``target`` (D,), weighted by :math:`1/r_k` (:meth:`moment_weights_floor`), by L-BFGS from
        ``m0`` (default :math:`\\bar m` for every point). Returns the marks (n,) and the loss history.

        The descent runs on :math:`u=m/\\bar m` (marks in units of the mean mark, all near 1), so that one
        L-BFGS configuration suits marks of any scale (Voronoi areas of order :math:`1/n`, log shot-noise
        of order 10)."""
        check_tensor(target, "target", dtype=self.dtype, shape=(self.moments.n_moments,))
        x = x.to(dtype=self.dtype, device=self.device)
        scale = self.mean_mark
        if not scale > 0:
            raise ValueError(f"marks: expected positive marks (their moments are logged), got a mean training mark {scale}")
        if m0 is None:
            m0 = torch.full((len(x),), scale, dtype=self.dtype, device=self.device)
        w = 1.0 / self.moment_weights_floor().to(self.device)
        res = match_statistics(lambda u: w * self.log_moments(x, scale * u), w * target.to(self.device), m0 / scale,
                               steps=steps, restarts=1, loss="sum", tolerance=1e-12)
        return scale * res.x, res.history
