"""Layer 1: how close a reconstruction or a synthesis is to the original.

Two families. (a) Reconstructions, compared up to a circular shift (below): :func:`align_circular`,
:func:`relative_error_aligned`, :func:`psnr_aligned`, :func:`max_normalized_crosscorr`. (b) Syntheses
of a random field, compared through statistics (chapters 07, 08): :func:`radial_power_spectrum` and
its :func:`log_spectrum_error`, :func:`pixel_correlation` of two syntheses (diversity),
:func:`kurtosis`, and the normalised spectral error :func:`spectral_rel_error` of a covariance (the
"foveal" phase-harmonic covariance of :mod:`harmonia.wph.foveal`, for instance).

Statistics that are invariant to translation (scattering, phase-harmonic moments) can only
recover a signal up to a shift, so reconstructions are compared after the best circular
alignment

.. math:: s^*=\\arg\\min_s\\|\\operatorname{roll}(x,s)-x_0\\|
             =\\arg\\max_s\\sum_u x(u-s)\\,x_0(u),

the maximiser of the circular cross-correlation, computed with the FFT. With it,

.. math:: \\mathrm{PSNR}=10\\log_{10}\\frac{\\text{peak}^2}{\\mathrm{MSE}},\\qquad
          \\mathrm{MSE}=\\frac1N\\min_s\\|\\operatorname{roll}(x,s)-x_0\\|^2

(peak 1, :math:`N` pixels) is the evaluation of Mallat, Zhang and Rochette.

The comparisons and :func:`kurtosis` take ``dims`` (``(-1,)`` for 1D signals, ``(-2, -1)`` for
images); the other dimensions are batch dimensions, each element compared separately. Inputs are
real, finite and of equal shapes.

(c) Out-of-distribution scores: :func:`auroc` (tie-aware, the Mann-Whitney statistic) and the
:func:`consistency_curve` of accuracy after rejecting the lowest scores.

Used in: chapters 05-08 (inverting scattering and phase-harmonic representations); chapter 07
(evaluating maximum-entropy syntheses); chapter 15 (uncertainty scores).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from harmonia.config import check_positive, check_tensor
from harmonia.fourier import circular_crosscorr

__all__ = ["align_circular", "relative_error", "relative_error_aligned", "psnr", "psnr_aligned",
           "max_normalized_crosscorr", "radial_power_spectrum", "log_spectrum_error", "pixel_correlation", "kurtosis",
           "spectral_rel_error", "wasserstein1_exact", "auroc", "consistency_curve"]


def _check(x: torch.Tensor, x0: torch.Tensor, dims: int | Sequence[int],
           names: tuple[str, str] = ("x", "x0"), dtype: str = "floating") -> tuple[int, ...]:
    """Validate a pair of signals and return ``dims`` as distinct non-negative ints (``dtype="float32_64"``
    for the metrics that go through an FFT, which has no half-precision CPU kernel)."""
    check_tensor(x, names[0], dtype=dtype)
    check_tensor(x0, names[1], dtype=dtype, like=x)
    if x0.shape != x.shape:
        raise ValueError(f"{names[1]}: expected the shape of {names[0]} {tuple(x.shape)}, got {tuple(x0.shape)}")
    return _dims(x, dims)


def _dims(x: torch.Tensor, dims: int | Sequence[int]) -> tuple[int, ...]:
    """``dims`` of ``x`` as distinct non-negative ints, or a ``dims:`` error."""
    raw = (dims,) if isinstance(dims, int) else tuple(dims)
    if (not raw or any(isinstance(d, bool) or not isinstance(d, int) for d in raw)
            or any(not -x.ndim <= d < x.ndim for d in raw) or len({d % x.ndim for d in raw}) != len(raw)):
        raise ValueError(f"dims: expected distinct dimensions of a {x.ndim}-D tensor (in [{-x.ndim}, {x.ndim})), "
                         f"got {dims!r}")
    return tuple(d % x.ndim for d in raw)


def align_circular(x: torch.Tensor, x0: torch.Tensor,
                   dims: int | Sequence[int] = (-1,)) -> tuple[torch.Tensor, torch.Tensor]:
    """Circularly shift ``x`` to best match ``x0``: :math:`\\operatorname{roll}(x,s^*)`.

    Parameters
    ----------
    x, x0 : real tensors of the same shape (..., N) or (..., M, N)
    dims : int or sequence of int
        The shifted dimensions; all others are batch dimensions, aligned separately.

    Returns
    -------
    aligned : tensor of x's shape
        ``torch.roll(x, s*, dims)`` per batch element (an exact permutation of x's entries).
    shifts : int64 tensor of shape (*batch, len(dims))
        :math:`s^*\\in[0,n)` per dim: the first (in row-major order) maximiser of the FFT
        cross-correlation :math:`c[s]=\\sum_u x(u-s)\\,x_0(u)`. If ``x = roll(x0, k)`` then
        :math:`s^*=-k \\bmod n`.
    """
    d = _check(x, x0, dims, dtype="float32_64")
    k = len(d)
    batch = [i for i in range(x.ndim) if i not in d]
    xm, x0m = x.permute(*batch, *d), x0.permute(*batch, *d)  # batch first, shifted dims last
    sizes = xm.shape[xm.ndim - k:]
    last = tuple(range(-k, 0))
    corr = circular_crosscorr(x0m, xm, last)  # c[s] = sum_u x0(u + s) x(u) = sum_v roll(x, s)(v) x0(v)
    flat = corr.flatten(start_dim=xm.ndim - k).argmax(dim=-1)  # first maximum
    shifts = torch.stack(torch.unravel_index(flat, tuple(sizes)), dim=-1).to(torch.int64)
    out = xm
    for j in range(k):  # roll(x, s)[u] = x[u - s], one gather per shifted dim
        n = sizes[j]
        view = [1] * k
        view[j] = n
        ar = torch.arange(n, device=x.device).view(view)
        idx = (ar - shifts[..., j].reshape(*shifts.shape[:-1], *([1] * k))) % n
        out = torch.gather(out, out.ndim - k + j, idx.expand(out.shape))
    inverse = [0] * x.ndim
    for pos, dim in enumerate(batch + list(d)):
        inverse[dim] = pos
    return out.permute(inverse), shifts


def relative_error(x: torch.Tensor, x0: torch.Tensor, dims: int | Sequence[int] = (-1,)) -> torch.Tensor:
    """:math:`\\|x-x_0\\|/\\|x_0\\|` over ``dims``.

    Parameters
    ----------
    x, x0 : real tensors of the same shape; ``x0`` nonzero in every batch element
    dims : int or sequence of int

    Returns
    -------
    tensor of the batch shape (0-d without batch dimensions)
    """
    d = _check(x, x0, dims)
    ref = torch.linalg.vector_norm(x0, dim=d)
    if bool((ref == 0).any()):
        raise ValueError("x0: expected a nonzero reference in every batch element, got one with ||x0|| = 0")
    return torch.linalg.vector_norm(x - x0, dim=d) / ref


def relative_error_aligned(x: torch.Tensor, x0: torch.Tensor, dims: int | Sequence[int] = (-1,)) -> torch.Tensor:
    """:func:`relative_error` after :func:`align_circular`:
    :math:`\\min_s\\|\\operatorname{roll}(x,s)-x_0\\|/\\|x_0\\|`."""
    return relative_error(align_circular(x, x0, dims)[0], x0, dims)


def psnr(x: torch.Tensor, x0: torch.Tensor, peak: float = 1.0, dims: int | Sequence[int] = (-1,)) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, :math:`10\\log_{10}(\\text{peak}^2/\\mathrm{MSE})`.

    Parameters
    ----------
    x, x0 : real tensors of the same shape
    peak : float
        The signal's peak value (1 for images in [0, 1]).
    dims : int or sequence of int
        The MSE is the mean of :math:`(x-x_0)^2` over ``dims``.

    Returns
    -------
    tensor of the batch shape (0-d without batch dimensions); ``inf`` where ``x == x0``
    """
    peak = float(check_positive(peak, "peak"))
    d = _check(x, x0, dims)
    mse = (x - x0).square().mean(dim=d)
    return 10 * torch.log10(peak**2 / mse)


def psnr_aligned(x: torch.Tensor, x0: torch.Tensor, peak: float = 1.0,
                 dims: int | Sequence[int] = (-1,)) -> torch.Tensor:
    """:func:`psnr` after :func:`align_circular` (Mallat-Zhang-Rochette's reconstruction score)."""
    check_positive(peak, "peak")
    return psnr(align_circular(x, x0, dims)[0], x0, peak, dims)


def max_normalized_crosscorr(x: torch.Tensor, y: torch.Tensor, dims: int | Sequence[int] = (-2, -1)) -> torch.Tensor:
    """Largest normalised circular cross-correlation of the centred signals (a memorisation check):

    .. math:: \\rho(x,y)=\\max_s\\frac{\\sum_u\\tilde x(u)\\,\\tilde y(u-s)}{\\|\\tilde x\\|\\,\\|\\tilde y\\|},
              \\qquad\\tilde x=x-\\operatorname{mean}(x).

    :math:`\\rho\\in[-1,1]` (Cauchy-Schwarz), symmetric in ``x`` and ``y``, and equal to 1 exactly when
    ``y`` is ``a * roll(x, s) + b`` with ``a > 0``. For independent white noise of :math:`n` samples it
    is about :math:`\\sqrt{2\\ln n/n}` (0.06 for 64x64). Computed with
    :func:`harmonia.fourier.circular_crosscorr` (:math:`c[s]=\\sum_u\\tilde x(u+s)\\tilde y(u)`, the same
    set of values).

    Parameters
    ----------
    x, y : real tensors of the same shape, not constant over ``dims`` in any batch element
    dims : int or sequence of int
        The shifted dimensions; the others are batch dimensions.

    Returns
    -------
    tensor of the batch shape (0-d without batch dimensions)

    Used in: chapter 07.
    """
    d = _check(x, y, dims, ("x", "y"), dtype="float32_64")
    xc, yc = x - x.mean(dim=d, keepdim=True), y - y.mean(dim=d, keepdim=True)
    nx, ny = torch.linalg.vector_norm(xc, dim=d), torch.linalg.vector_norm(yc, dim=d)
    for name, norm in (("x", nx), ("y", ny)):
        if bool((norm == 0).any()):
            raise ValueError(f"{name}: expected a signal that is not constant over dims in every batch element, "
                             "got a constant one")
    best = circular_crosscorr(xc, yc, d).amax(dim=d)
    return (best / (nx * ny)).clamp(-1.0, 1.0)


def radial_power_spectrum(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Isotropic power spectrum: the periodogram averaged over annuli of integer radius.

    .. math:: P(k)=\\operatorname*{mean}_{\\operatorname{round}|\\kappa|=k}\\frac{|\\hat x(\\kappa)|^2}{MN},
              \\qquad \\hat x(\\kappa)=\\sum_u x(u)e^{-2i\\pi(\\kappa_y u_y/M+\\kappa_x u_x/N)},

    over the integer frequency vectors :math:`\\kappa` of the FFT grid (``fftfreq * size``), for
    :math:`k=0..\\min(M,N)//2` (the corners beyond are left out). With this normalisation
    :math:`\\sum_\\kappa|\\hat x(\\kappa)|^2/(MN)=\\sum_u x(u)^2` (Parseval), so white noise of variance
    :math:`s^2` has :math:`E\\,P(k)=s^2` for every :math:`k\\ge1`, and a constant image :math:`c` has
    :math:`P(0)=c^2MN`. Invariant to circular shifts of ``x``.

    Parameters
    ----------
    x : real tensor (..., M, N)
        Leading dimensions are batch dimensions.

    Returns
    -------
    k : (K,) tensor, ``arange(K)`` with :math:`K=\\min(M,N)//2+1`, x's dtype and device
    P : (..., K) real tensor

    Used in: chapter 07.
    """
    check_tensor(x, "x", dtype="float32_64", min_ndim=2, nonempty=True)
    M, N = x.shape[-2:]
    power = torch.fft.fft2(x).abs().square() / (M * N)
    ky = (torch.arange(M, device=x.device) + M // 2) % M - M // 2  # integer fftfreq * M
    kx = (torch.arange(N, device=x.device) + N // 2) % N - N // 2
    radius = torch.sqrt((ky[:, None] ** 2 + kx[None, :] ** 2).to(torch.float64)).round().to(torch.int64).flatten()
    k_top = min(M, N) // 2
    keep = radius <= k_top  # no ties: |kappa|^2 is an integer, never (m + 1/2)^2
    idx = radius[keep]
    total = power.new_zeros(*x.shape[:-2], k_top + 1).index_add_(-1, idx, power.flatten(-2)[..., keep])
    counts = torch.bincount(idx, minlength=k_top + 1).to(x.dtype)
    return torch.arange(k_top + 1, dtype=x.dtype, device=x.device), total / counts


def log_spectrum_error(x: torch.Tensor, ref: torch.Tensor, k_max: float | None = None) -> torch.Tensor:
    r"""Mean absolute log-ratio of radial power spectra (:func:`radial_power_spectrum`):

    .. math:: \frac1{|\mathcal K|}\sum_{k\in\mathcal K}\big|\log_{10}\bar P_x(k)-\log_{10}P_{\rm ref}(k)\big|,
              \qquad \mathcal K=\{k:\ 1\le k<k_{\max}\},

    where :math:`\bar P_x` averages the spectra of the images in ``x`` (ring 0, the mean, is left out).
    0 for the reference itself; 1 means a factor 10 per ring on average.

    Parameters
    ----------
    x : real tensor (..., M, N), one or several images (leading dimensions are pooled)
    ref : real tensor (M, N)
    k_max : float, optional
        Upper end (excluded) of the rings compared; default all rings up to :math:`\min(M,N)/2`.

    Returns
    -------
    0-d tensor

    Used in: chapters 07, 08.
    """
    check_tensor(ref, "ref", dtype="float32_64", ndim=2, nonempty=True)
    check_tensor(x, "x", dtype="float32_64", shape=("...", *ref.shape), like=ref)
    k, p_ref = radial_power_spectrum(ref)
    _, p = radial_power_spectrum(x)
    p = p.reshape(-1, p.shape[-1]).mean(0)
    top = float(k[-1]) + 1 if k_max is None else float(check_positive(k_max, "k_max"))
    sel = (k >= 1) & (k < top)
    if not bool(sel.any()):
        raise ValueError(f"k_max: expected a value above 1 (no ring selected), got {k_max!r}")
    if bool((p_ref[sel] <= 0).any()):
        raise ValueError("ref: expected a positive power spectrum on every compared ring, got a zero ring")
    return (p[sel].log10() - p_ref[sel].log10()).abs().mean()


def pixel_correlation(x: torch.Tensor, y: torch.Tensor, dims: int | Sequence[int] = (-2, -1)) -> torch.Tensor:
    r"""Pearson correlation of the pixel values of two images (no shift): a diversity check, two
    independent syntheses of a texture should be nearly uncorrelated.

    .. math:: r(x,y)=\frac{\sum_u\tilde x(u)\tilde y(u)}{\|\tilde x\|\,\|\tilde y\|},\qquad
              \tilde x=x-\operatorname{mean}(x).

    Parameters
    ----------
    x, y : real tensors of the same shape, not constant over ``dims``
    dims : the compared dimensions; the others are batch dimensions

    Returns
    -------
    tensor of the batch shape, in [-1, 1]

    Used in: chapter 08.
    """
    d = _check(x, y, dims, ("x", "y"))
    for name, t in (("x", x), ("y", y)):
        if bool((t.amax(dim=d) == t.amin(dim=d)).any()):
            raise ValueError(f"{name}: expected images that are not constant over dims, got a constant one")
    xc, yc = x - x.mean(dim=d, keepdim=True), y - y.mean(dim=d, keepdim=True)
    nx, ny = torch.linalg.vector_norm(xc, dim=d), torch.linalg.vector_norm(yc, dim=d)
    return ((xc * yc).sum(dim=d) / (nx * ny)).clamp(-1.0, 1.0)


def kurtosis(x: torch.Tensor, dims: int | Sequence[int] = (-2, -1), excess: bool = False) -> torch.Tensor:
    """Pearson kurtosis :math:`E[(x-m)^4]/E[(x-m)^2]^2` over ``dims`` (population moments).

    3 for a Gaussian, 1.8 for a uniform law, 1 for a symmetric :math:`\\pm1` law (the minimum); large
    for sparse, intermittent fields. Invariant to :math:`x\\mapsto ax+b`, :math:`a\\ne0`.

    Parameters
    ----------
    x : real tensor
    dims : int or sequence of int
        The dimensions averaged over; the others are batch dimensions.
    excess : bool
        Subtract 3 (Gaussian 0).

    Returns
    -------
    tensor of the batch shape; NaN where ``x`` is constant over ``dims``

    Used in: chapter 07.
    """
    check_tensor(x, "x", dtype="floating")
    d = _dims(x, dims)
    if not isinstance(excess, bool):
        raise TypeError(f"excess: expected a bool, got {type(excess).__name__} {excess!r}")
    sq = (x - x.mean(dim=d, keepdim=True)).square()
    k = sq.square().mean(dim=d) / sq.mean(dim=d).square()
    return k - 3 if excess else k


def spectral_rel_error(K_test: torch.Tensor, K_model: torch.Tensor) -> torch.Tensor:
    """Relative spectral-norm error of two covariances normalised by the test diagonal (the evaluation metric of
    Zhang & Mallat 2021's turbulence tables, as computed by the authors' code):

    .. math:: \\epsilon=\\frac{\\|\\tilde K_\\text{test}-\\tilde K_\\text{model}\\|_2}{\\|\\tilde K_\\text{test}\\|_2},
              \\qquad \\tilde K=D^{-1/2}KD^{-1/2},\\quad D=|\\operatorname{diag}K_\\text{test}|,

    with the spectral norm (largest singular value; for Hermitian inputs, as covariances are, the
    largest absolute eigenvalue, which is the same number computed faster). Because both
    matrices are scaled by the same diagonal, :math:`\\epsilon` is unchanged when a feature (or the
    images) is rescaled in both sets; :math:`\\epsilon(K,K)=0`.

    Parameters
    ----------
    K_test, K_model : (D, D) real or complex tensors of the same shape
        Typically from :func:`foveal_covariance`. Every diagonal entry of ``K_test`` must be nonzero
        (a ``ValueError`` otherwise: drop features that do not vary over the test set; we do not clamp,
        which would silently give huge errors).

    Returns
    -------
    0-d real tensor

    Used in: chapter 07.
    """
    for name, K in (("K_test", K_test), ("K_model", K_model)):
        check_tensor(K, name, dtype="fft", ndim=2, like=K_test)
        if K.shape[0] != K.shape[1]:
            raise ValueError(f"{name}: expected a square (D, D) matrix, got shape {tuple(K.shape)}")
    if K_model.shape != K_test.shape:
        raise ValueError(f"K_model: expected the shape of K_test {tuple(K_test.shape)}, got {tuple(K_model.shape)}")
    d = K_test.diagonal().abs()
    bad = d <= torch.finfo(d.dtype).tiny
    if bool(bad.any()):
        raise ValueError(f"K_test: expected a nonzero diagonal, got {int(bad.sum())} zero entries "
                         f"(first at index {int(bad.nonzero()[0, 0])})")
    w = d.rsqrt()
    scale = w[:, None] * w[None, :]
    ref = K_test * scale
    diff = ref - K_model * scale
    hermitian = torch.allclose(diff, diff.mH) and torch.allclose(ref, ref.mH)
    return _spectral_norm(diff, hermitian) / _spectral_norm(ref, hermitian)


def _spectral_norm(A: torch.Tensor, hermitian: bool) -> torch.Tensor:
    """Largest singular value; for a Hermitian matrix the largest |eigenvalue| (eigvalsh, ~4x cheaper
    than the SVD)."""
    if hermitian:
        return torch.linalg.eigvalsh(0.5 * (A + A.mH)).abs().max()
    return torch.linalg.matrix_norm(A, ord=2)


def wasserstein1_exact(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""Exact Wasserstein-1 distance between two empirical measures with the same number of points,
    :math:`W_1=\min_\pirac1n\sum_i\|a_i-b_{\pi(i)}\|` over permutations (an optimal assignment, by
    ``scipy.optimize.linear_sum_assignment`` on the Euclidean cost matrix).

    Parameters
    ----------
    a, b : (n, d) real tensors

    Returns
    -------
    0-d float64 tensor

    Used in: chapter 12.
    """
    from scipy.optimize import linear_sum_assignment

    check_tensor(a, "a", dtype="floating", ndim=2)
    check_tensor(b, "b", dtype="floating", ndim=2)
    if a.shape != b.shape:
        raise ValueError(f"b: expected the shape of a {tuple(a.shape)} (equal sizes), got {tuple(b.shape)}")
    cost = torch.cdist(a.detach().double().cpu(), b.detach().double().cpu())
    rows, cols = linear_sum_assignment(cost.numpy())
    return cost[torch.as_tensor(rows), torch.as_tensor(cols)].mean()


def auroc(score_id: torch.Tensor, score_ood: torch.Tensor) -> float:
    """Area under the ROC curve of in-distribution (positive) against out-of-distribution scores, higher = more
    in-distribution: the probability that a random ID score exceeds a random OOD score, ties counting 1/2 (the
    Mann-Whitney statistic, from average ranks). score_id: (n,), score_ood: (m,) -> float in [0, 1].

    Used in: chapter 15."""
    a = check_tensor(score_id, "score_id", ndim=1, dtype="real").to(torch.float64).cpu()
    b = check_tensor(score_ood, "score_ood", ndim=1, dtype="real").to(torch.float64).cpu()
    if len(a) == 0 or len(b) == 0:
        raise ValueError(f"score_id, score_ood: expected non-empty score lists, got {len(a)} and {len(b)}")
    allv = torch.cat([a, b])
    order = torch.argsort(allv, stable=True)
    sorted_v = allv[order]
    ranks = torch.empty_like(allv)
    # average rank (1-based) over each group of tied values
    uniq, inverse, counts = torch.unique_consecutive(sorted_v, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).to(torch.float64)
    avg = ends - (counts.to(torch.float64) - 1) / 2
    ranks[order] = avg[inverse]
    n, m = len(a), len(b)
    return float((ranks[:n].sum() - n * (n + 1) / 2) / (n * m))


def consistency_curve(score: torch.Tensor, correct: torch.Tensor,
                      fractions: Sequence[float] = tuple(k / 10 for k in range(10))) -> tuple[list[float], list[float]]:
    """Accuracy on what is kept after rejecting the lowest-scored fraction: for each ``r`` in ``fractions``, the samples
    with score at least the ``r``-quantile are kept and their mean of ``correct`` is reported (out-of-distribution
    samples count as wrong predictions). score: (N,); correct: (N,) bool -> (fractions, accuracies).

    Used in: chapter 15."""
    s = check_tensor(score, "score", ndim=1, dtype="real").to(torch.float64).cpu()
    c = check_tensor(correct, "correct", shape=(len(s),)).cpu().to(torch.float64)
    accs = []
    for r in fractions:
        if not 0 <= r < 1:
            raise ValueError(f"fractions: expected values in [0, 1), got {r}")
        thr = torch.quantile(s, r) if r > 0 else s.min()
        kept = s >= thr
        accs.append(float(c[kept].mean()))
    return list(fractions), accs
