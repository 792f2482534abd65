r"""Moment-matching GANs for stationary Gaussian processes on the discrete circle :math:`\mathbb Z_d`, as the
course formalises the setting of Zhang (2022).

**Stationary Gaussian data.** :math:`X=\theta^\star\star Z`, :math:`Z\sim\mathcal N(0,I_d)`, circular convolution
(:func:`circ_conv`). With the unnormalised DFT :math:`\hat a(\omega)=\sum_ua(u)e^{-2\pi i\omega u/d}`:
filter autocovariance :math:`r_\theta(\tau)=\sum_u\theta(u)\theta(u+\tau)`, :math:`\hat r_\theta=|\hat\theta|^2`
(:func:`filter_autocov`); the law of :math:`\theta\star Z` is :math:`\mathcal N(0,C_\theta)` with the circulant
:math:`C_\theta(u,v)=r_\theta(v-u)`; for samples :math:`x_1..x_n`, :math:`\hat r_n(\tau)=\frac1{nd}\sum_{i,u}x_i(u)x_i(u+\tau)`
(:func:`empirical_autocov`) and the averaged periodogram :math:`\hat P_n=\frac1{nd}\sum_i|\hat x_i|^2=\widehat{\hat r_n}`
(:func:`periodogram`, the :math:`1/d` included), :math:`\mathbb E\hat P_n=|\hat\theta^\star|^2`.

**The game** (:class:`MomentMatchingGame`): generator parameters :math:`\theta` (a family: all filters, or the
curved :math:`\theta_\phi(u)=\phi^u`, :math:`u<K`), discriminator weights :math:`w` on second-order features
:math:`\Phi` ("cov": :math:`xx^\top`, not translation invariant; "stat": :math:`r_x`, translation invariant),

.. math:: L_\lambda(\theta,w)=\langle w,\hat m_n-m(\theta)\rangle-\tfrac\lambda2\|w\|^2,\qquad
          m(\theta)=\mathbb E\,\Phi(\theta\star Z)\ (C_\theta\text{ or }r_\theta,\text{ closed form}),

:math:`\min_\theta\max_w`. The best response is :math:`w^{\rm br}=(\hat m_n-m(\theta))/\lambda`; the Nash gap
:math:`\max_wL(\bar\theta,w)-\min_\theta L(\theta,\bar w)\ge0` vanishes exactly at Nash equilibria.

**Per frequency** (stat features, all filters, symmetric :math:`w`): GDA decouples into 2-D systems in
:math:`(a=|\hat\theta(\omega)|,\hat w(\omega))`; :func:`frequency_energy` is their conserved quantity at
:math:`\lambda=0`, :func:`eta_star` their stability threshold.

Used in: chapter 11.
"""

from __future__ import annotations

import math

import torch

from harmonia.config import check_broadcast, check_in, check_int, check_positive, check_tensor, make_generator
from harmonia.games.core import MinMaxGame

__all__ = ["circ_conv", "filter_autocov", "empirical_autocov", "periodogram", "circulant", "proj_circulant",
           "sample_conv_gaussian", "zero_phase_filter", "exp_filter", "FEATURES", "FAMILIES", "MomentMatchingGame",
           "frequency_field", "frequency_energy", "eta_star"]

FEATURES = ("cov", "stat")
FAMILIES = ("full", "exp")


def circ_conv(theta: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """:math:`(\\theta\\star z)(u)=\\sum_v\\theta(v)z(u-v\\bmod d)` over the last dimension (broadcast)."""
    check_tensor(theta, "theta", dtype="float32_64", min_ndim=1, nonempty=True)
    check_tensor(z, "z", dtype="float32_64", min_ndim=1, like=theta, nonempty=True)
    if z.shape[-1] != theta.shape[-1]:
        raise ValueError(f"z: expected the last dimension d of theta ({theta.shape[-1]}), got shape {tuple(z.shape)}")
    return torch.fft.ifft(torch.fft.fft(theta) * torch.fft.fft(z)).real


def filter_autocov(theta: torch.Tensor) -> torch.Tensor:
    """:math:`r_\\theta(\\tau)=\\sum_u\\theta(u)\\theta(u+\\tau)` (indices mod d), the inverse DFT of :math:`|\\hat\\theta|^2`."""
    check_tensor(theta, "theta", dtype="float32_64", min_ndim=1, nonempty=True)
    return torch.fft.ifft(torch.fft.fft(theta).abs().square()).real


def empirical_autocov(x: torch.Tensor) -> torch.Tensor:
    """:math:`\\hat r_n(\\tau)=\\frac1{nd}\\sum_{i,u}x_i(u)x_i(u+\\tau)` for samples ``x`` (n, d): (d,)."""
    check_tensor(x, "x", dtype="float32_64", ndim=2, nonempty=True)
    return torch.fft.ifft(periodogram(x)).real


def periodogram(x: torch.Tensor) -> torch.Tensor:
    """Averaged periodogram :math:`\\hat P_n(\\omega)=\\frac1{nd}\\sum_i|\\hat x_i(\\omega)|^2` of samples (n, d): (d,)."""
    check_tensor(x, "x", dtype="float32_64", ndim=2, nonempty=True)
    return torch.fft.fft(x).abs().square().mean(dim=0) / x.shape[-1]


def circulant(c: torch.Tensor) -> torch.Tensor:
    """The circulant matrix :math:`C(u,v)=c(v-u\\bmod d)` of a (d,) sequence."""
    check_tensor(c, "c", ndim=1)
    d = len(c)
    idx = (torch.arange(d, device=c.device)[None, :] - torch.arange(d, device=c.device)[:, None]) % d
    return c[idx]


def proj_circulant(M: torch.Tensor) -> torch.Tensor:
    """Frobenius projection of (..., d, d) matrices onto symmetric circulant matrices: average every circular
    diagonal, then symmetrise."""
    check_tensor(M, "M", dtype="floating", min_ndim=2)
    d = M.shape[-1]
    if M.shape[-2] != d:
        raise ValueError(f"M: expected square matrices, got shape {tuple(M.shape)}")
    idx = (torch.arange(d, device=M.device)[None, :] - torch.arange(d, device=M.device)[:, None]) % d
    c = torch.zeros(*M.shape[:-2], d, dtype=M.dtype, device=M.device)
    c = c.index_add(-1, idx.flatten(), M.flatten(-2)) / d             # mean of each diagonal v - u = tau
    c = 0.5 * (c + c.roll(-1, -1).flip(-1))                            # symmetrise: c(tau) = c(-tau)
    return c[..., idx]


def sample_conv_gaussian(theta: torch.Tensor, n: int, seed: int | torch.Generator | None = None) -> torch.Tensor:
    """``n`` samples of :math:`\\theta\\star Z`, :math:`Z\\sim\\mathcal N(0,I_d)`: (n, d) in ``theta``'s dtype."""
    check_tensor(theta, "theta", dtype="float32_64", ndim=1, nonempty=True)
    n = int(check_positive(n, "n", integer=True))
    z = torch.randn(n, len(theta), generator=make_generator(seed), dtype=torch.float64).to(theta)
    return circ_conv(theta, z)


def zero_phase_filter(P: torch.Tensor) -> torch.Tensor:
    """The real, even filter :math:`\\theta_0=\\mathrm{IDFT}(\\sqrt P)` with :math:`|\\hat\\theta_0|^2=P` (P >= 0, symmetric)."""
    check_tensor(P, "P", dtype="float32_64", ndim=1, nonempty=True)
    if bool((P < 0).any()):
        raise ValueError("P: expected a non-negative spectrum")
    return torch.fft.ifft(P.sqrt().to(torch.complex128 if P.dtype == torch.float64 else torch.complex64)).real


def exp_filter(phi: torch.Tensor, d: int, K: int) -> torch.Tensor:
    """The curved family :math:`\\theta_\\phi(u)=\\phi^u` for :math:`u<K`, 0 beyond: (..., d) for ``phi`` (...)."""
    check_tensor(phi, "phi", dtype="floating")
    d, K = check_int(d, "d"), check_int(K, "K")
    u = torch.arange(K, dtype=phi.dtype, device=phi.device)
    return torch.nn.functional.pad(phi[..., None] ** u, (0, d - K))


class MomentMatchingGame:
    """The moment-matching game of the module docstring.

    Parameters
    ----------
    x : (n, d) data samples
    features : "cov" or "stat"
    family : "full" (parameters = the filter, (d,)) or "exp" (one parameter :math:`\\phi`, (1,), filter
        :func:`exp_filter` with ``K`` taps)
    lam : float >= 0, the discriminator's ridge :math:`\\lambda`
    K : int, taps of the "exp" family
    """

    def __init__(self, x: torch.Tensor, features: str = "stat", family: str = "full", lam: float = 1.0,
                 K: int = 4) -> None:
        check_tensor(x, "x", dtype="float32_64", ndim=2, nonempty=True)
        self.features = check_in(features, "features", FEATURES)
        self.family = check_in(family, "family", FAMILIES)
        self.lam = float(check_positive(lam, "lam", allow_zero=True))
        self.n, self.d = x.shape
        self.K = check_int(K, "K")
        self.m_hat = (x.T @ x / self.n) if features == "cov" else empirical_autocov(x)

    def theta(self, params: torch.Tensor) -> torch.Tensor:
        return params if self.family == "full" else exp_filter(params[0], self.d, self.K)

    def model_moments(self, params: torch.Tensor) -> torch.Tensor:
        """:math:`m(\\theta)`: :math:`C_\\theta` (d, d) or :math:`r_\\theta` (d,) in closed form."""
        r = filter_autocov(self.theta(params))
        return circulant(r) if self.features == "cov" else r

    def value(self, params: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """:math:`L_\\lambda(\\theta,w)`."""
        return (w * (self.m_hat - self.model_moments(params))).sum() - 0.5 * self.lam * w.square().sum()

    def game(self) -> MinMaxGame:
        """This game as a :class:`~harmonia.games.MinMaxGame` over flat ``(params, w)``."""
        shape = self.m_hat.shape
        return MinMaxGame(lambda p, w: self.value(p, w.reshape(shape)))

    def best_response(self, params: torch.Tensor) -> torch.Tensor:
        """:math:`w^{\\rm br}=(\\hat m_n-m(\\theta))/\\lambda` (``lam`` > 0)."""
        if self.lam == 0:
            raise ValueError("lam: the best response needs lam > 0 (with lam = 0 it is unbounded or arbitrary)")
        return (self.m_hat - self.model_moments(params)) / self.lam

    def _max_inner(self, w: torch.Tensor) -> float:
        """:math:`\\max_\\theta\\langle w,m(\\theta)\\rangle` over the family (+inf when unbounded)."""
        if self.family == "exp":
            return float(torch.einsum("...,g...->g", w, self._grid_moments(w.dtype, w.device)).max())
        # full family: <w, m(theta)> = (1/d) sum_omega Re(w_hat) |theta_hat|^2 (after projecting W onto circulants)
        c = proj_circulant(w)[0] if self.features == "cov" else 0.5 * (w + w.roll(-1).flip(0))
        spec = torch.fft.fft(c).real  # <w, m(theta)> is proportional to sum_omega spec(omega) |theta_hat(omega)|^2
        return math.inf if bool((spec > 1e-12 * (1 + spec.abs().max())).any()) else 0.0

    def _grid_moments(self, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """:math:`m(\\theta_\\phi)` on the grid of 3961 values of :math:`\\phi\\in[-0.99,0.99]` ("exp" family): (3961, ...)."""
        grid = torch.linspace(-0.99, 0.99, 3961, dtype=dtype, device=device)
        r = filter_autocov(exp_filter(grid, self.d, self.K))
        return torch.stack([circulant(v) for v in r]) if self.features == "cov" else r

    def nash_gap(self, params: torch.Tensor, w: torch.Tensor) -> float:
        """:math:`\\max_wL(\\bar\\theta,w)-\\min_\\theta L(\\theta,\\bar w)` (``inf`` when a player's problem is
        unbounded); 0 exactly at a Nash equilibrium."""
        res = self.m_hat - self.model_moments(params)
        if self.lam == 0:
            upper = 0.0 if float(res.abs().max()) <= 1e-12 * float(self.m_hat.abs().max()) else math.inf
        else:
            upper = float(res.square().sum()) / (2 * self.lam)
        best = self._max_inner(w)
        if self.family == "exp":  # the grid may miss theta-bar itself: it is a candidate too
            best = max(best, float((w * self.model_moments(params)).sum()))
        lower = float((w * self.m_hat).sum() - 0.5 * self.lam * w.square().sum()) - best
        return upper - lower

    def minmax_solution(self) -> torch.Tensor:
        """A min-max solution :math:`\\bar\\theta\\in\\arg\\min_\\theta\\|\\hat m_n-m(\\theta)\\|^2` (``lam`` > 0):
        the zero-phase filter of :math:`\\hat P_n` ("stat", "full"), or a grid search over :math:`\\phi` refined by
        golden-section search ("exp")."""
        if self.family == "full" and self.features == "stat":
            return zero_phase_filter(torch.fft.fft(self.m_hat).real.clamp_min(0))
        if self.family != "exp":
            raise ValueError("family: a closed-form min-max solution is implemented for ('stat', 'full') and 'exp'")
        err = lambda p: float((self.m_hat - self.model_moments(torch.tensor([p], dtype=self.m_hat.dtype))).square().sum())  # noqa: E731
        grid = torch.linspace(-0.99, 0.99, 3961, dtype=self.m_hat.dtype)
        errs = (self.m_hat - self._grid_moments(self.m_hat.dtype, self.m_hat.device)).square().flatten(1).sum(dim=1)
        k = int(errs.argmin())
        lo, hi = float(grid[max(k - 1, 0)]), float(grid[min(k + 1, len(grid) - 1)])
        g = (math.sqrt(5) - 1) / 2
        for _ in range(60):
            a, b = hi - g * (hi - lo), lo + g * (hi - lo)
            if err(a) < err(b):
                hi = b
            else:
                lo = a
        return torch.tensor([(lo + hi) / 2], dtype=self.m_hat.dtype)


def frequency_field(P: torch.Tensor, lam: float, tau: float = 1.0):
    """The continuous-time GDA field of the per-frequency systems, ``f(t, s)`` for states ``s`` (..., 2) =
    :math:`(a,\\hat w)`: :math:`\\dot a=2a\\hat w`, :math:`\\dot{\\hat w}=\\tau(P-a^2-\\lambda\\hat w)` (``P`` broadcast)."""
    def f(t: float, s: torch.Tensor) -> torch.Tensor:
        a, w = s[..., 0], s[..., 1]
        return torch.stack([2 * a * w, tau * (P - a * a - lam * w)], dim=-1)
    return f


def frequency_energy(s: torch.Tensor, P: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """:math:`H=\\hat w^2+\\tau(a^2/2-P\\log a)`, conserved by the flow at :math:`\\lambda=0` (``s`` (..., 2), a > 0)."""
    check_tensor(s, "s", shape=("...", 2), dtype="floating", finite=False)
    check_tensor(P, "P", dtype="floating", finite=False, like=s)
    check_broadcast(s.shape[:-1], P.shape, "s", "P")
    a, w = s[..., 0], s[..., 1]
    return w * w + tau * (a * a / 2 - P * torch.log(a))


def eta_star(P: torch.Tensor, lam: float, tau: float = 1.0) -> float:
    """Largest step size for which simultaneous GDA is locally stable at the equilibrium :math:`a^2=P`,
    :math:`\\hat w=0` of every frequency with :math:`P>0`: per frequency :math:`\\lambda/(4P)` when
    :math:`\\tau\\lambda^2<16P`, else :math:`4/(\\tau\\lambda+\\sqrt{\\tau^2\\lambda^2-16\\tau P})`; the minimum over
    frequencies and the antisymmetric bound :math:`2/(\\tau\\lambda)`."""
    check_tensor(P, "P", dtype="floating", ndim=1)
    lam = float(check_positive(lam, "lam"))
    tau = float(check_positive(tau, "tau"))
    out = 2 / (tau * lam)
    for p in P.tolist():
        if p <= 0:
            continue
        disc = tau**2 * lam**2 - 16 * tau * p
        out = min(out, lam / (4 * p) if disc < 0 else 4 / (tau * lam + math.sqrt(disc)))
    return out
