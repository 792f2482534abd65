r"""Non-negative matrix factorisation with the Itakura-Saito divergence.

.. math::

    d_{IS}(a\,|\,b)=\frac ab-\log\frac ab-1\ \ge 0,\qquad D_{IS}(V\,|\,\hat V)=\sum_{mn}d_{IS}(V_{mn}\,|\,\hat V_{mn}),

zero iff :math:`a=b`, and scale invariant: :math:`d_{IS}(\lambda a|\lambda b)=d_{IS}(a|b)`. IS-NMF is maximum
likelihood in the Gaussian composite model :math:`x_{mn}\sim\mathcal N(0,[WH]_{mn})`. The multiplicative updates
(Févotte & Idier 2011), with a floor :math:`\varepsilon` added to data and model,

.. math::

    H\leftarrow H\circ\Big(\frac{W^\top(V^\varepsilon\circ(\hat V^\varepsilon)^{\circ-2})}{W^\top(\hat V^\varepsilon)^{\circ-1}}\Big)^{\gamma},
    \qquad W\leftarrow W\circ\Big(\frac{(V^\varepsilon\circ(\hat V^\varepsilon)^{\circ-2})H^\top}{(\hat V^\varepsilon)^{\circ-1}H^\top}\Big)^{\gamma},

are monotone for :math:`\gamma=1/2` (majorisation-minimisation, MM) and take larger steps for :math:`\gamma=1`
(majorisation-equalisation, ME). After each pair the columns of :math:`W` are scaled to sum 1 and :math:`H`
takes the scale.

Used in: chapter 13.
"""

from __future__ import annotations

import torch

from harmonia.config import check_int, check_positive, check_tensor

__all__ = ["is_divergence", "nmf_is_update", "nmf_is"]


def is_divergence(V: torch.Tensor, Vhat: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    r""":math:`D_{IS}(V+\varepsilon\,|\,\hat V)` summed over the last two dimensions (data first, model second; the
    floor is added to the data only, the model is used as given).

    V, Vhat: (..., M, N) non-negative, Vhat > 0 -> (...,)."""
    V = check_tensor(V, "V", min_ndim=2, dtype="floating")
    Vhat = check_tensor(Vhat, "Vhat", min_ndim=2, dtype="floating", like=V)
    if V.shape[-2:] != Vhat.shape[-2:]:
        raise ValueError(f"Vhat: expected the shape of V's last two dimensions {tuple(V.shape[-2:])}, got {tuple(Vhat.shape[-2:])}")
    f = (V + eps) / Vhat
    return (f - torch.log(f) - 1).sum((-2, -1))


def _check_factors(V: torch.Tensor, W: torch.Tensor, H: torch.Tensor, names: tuple[str, str, str],
                   finite: bool = True) -> None:
    """V (M, N), W (M, K), H (K, N): one real dtype (float32/64, as the matrix products need) and one device."""
    check_tensor(V, names[0], shape=("M", "N"), dtype="float32_64", finite=finite, nonempty=True)
    check_tensor(W, names[1], shape=(V.shape[0], "K"), dtype=V.dtype, like=V, finite=finite, nonempty=True)
    check_tensor(H, names[2], shape=(W.shape[1], V.shape[1]), dtype=V.dtype, like=V, finite=finite)


def nmf_is_update(V: torch.Tensor, W: torch.Tensor, H: torch.Tensor, eps: float = 0.0,
                  gamma: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One multiplicative update of :math:`H` then :math:`W` for :math:`D_{IS}(V+\varepsilon\,|\,WH+\varepsilon)`,
    then the column normalisation :math:`\sum_m W_{mk}=1`.

    V: (M, N) >= 0; W: (M, K) > 0; H: (K, N) > 0; gamma: 1/2 (MM, monotone) or 1 (ME). Returns new (W, H).
    One algebraic step: values are not checked (NaN propagates); :func:`nmf_is` checks them."""
    _check_factors(V, W, H, ("V", "W", "H"), finite=False)
    Ve = V + eps
    Vh = W @ H + eps
    H = H * ((W.T @ (Ve / Vh**2)) / (W.T @ (1 / Vh))) ** gamma
    Vh = W @ H + eps
    W = W * (((Ve / Vh**2) @ H.T) / ((1 / Vh) @ H.T)) ** gamma
    c = W.sum(0)
    return W / c, H * c[:, None]


def nmf_is(V: torch.Tensor, W0: torch.Tensor, H0: torch.Tensor, n_iter: int, eps: float = 0.0,
           gamma: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""IS-NMF of ``V`` by ``n_iter`` multiplicative updates from ``(W0, H0)``.

    Parameters
    ----------
    V : (M, N) tensor, non-negative
    W0 : (M, K) tensor, positive
    H0 : (K, N) tensor, positive
    n_iter : int
    eps : float
        Floor added to data and model: the objective is :math:`D_{IS}(V+\varepsilon\,|\,WH+\varepsilon)`.
    gamma : float
        Exponent: 0.5 (MM, monotone) or 1.0 (ME, the paper's choice).

    Returns
    -------
    W : (M, K), H : (K, N), history : (n_iter + 1,) the objective before and after every update.
    """
    _check_factors(V, W0, H0, ("V", "W0", "H0"))
    n_iter = check_int(n_iter, "n_iter", minimum=0)
    check_positive(gamma, "gamma")
    if bool((V < 0).any()):
        raise ValueError("V: expected non-negative entries (a power spectrogram), got negative values")
    if bool((W0 <= 0).any()) or bool((H0 <= 0).any()):
        raise ValueError("W0, H0: expected positive initial factors (multiplicative updates keep zeros at zero)")
    W, H = W0, H0
    hist = [is_divergence(V, W @ H + eps, eps)]
    for _ in range(n_iter):
        W, H = nmf_is_update(V, W, H, eps, gamma)
        hist.append(is_divergence(V, W @ H + eps, eps))
    return W, H, torch.stack(hist)
