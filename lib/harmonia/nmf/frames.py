r"""Short-time frames of a signal and the fixed transform TL-NMF starts from.

A signal :math:`y` of length :math:`L` is cut into overlapping windowed frames, the columns of
:math:`Y\in\mathbb R^{M\times N}`: zero-pad :math:`M/2` samples at both ends (and at the end up to a whole number of
hops), multiply each length-:math:`M` segment by a window :math:`w` and divide by :math:`\sum w`. This is the real part of
the inverse DFT of ``scipy.signal.stft(y, window=w, nperseg=M, noverlap=M-hop, return_onesided=False)``, the
convention of the paper's code. A transform :math:`\Phi\in O(M)` then acts on each column: :math:`X=\Phi Y`; the
orthonormal DCT-II is the classic fixed choice.

Used in: chapter 13.
"""

from __future__ import annotations

import math

import torch

from harmonia.config import check_int, check_tensor

__all__ = ["dct2_matrix", "tukey", "frames"]


def dct2_matrix(M: int, *, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> torch.Tensor:
    r"""The orthonormal DCT-II as an (M, M) matrix whose rows are the atoms,
    :math:`\Phi_{kn}=\sqrt{2/M}\cos(\pi k(2n+1)/(2M))` and :math:`\Phi_{0n}=1/\sqrt M`."""
    M = check_int(M, "M")
    k = torch.arange(M, dtype=torch.float64, device=device)[:, None]
    n = torch.arange(M, dtype=torch.float64, device=device)[None, :]
    Phi = math.sqrt(2 / M) * torch.cos(math.pi * k * (2 * n + 1) / (2 * M))
    Phi[0] = 1 / math.sqrt(M)
    return Phi.to(dtype)


def tukey(M: int, alpha: float = 0.1, *, periodic: bool = True, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""The Tukey (tapered cosine) window of length ``M``: flat in the middle, raised-cosine tapers over a fraction
    ``alpha`` of the window. ``periodic=True`` (the DFT-even window used for spectral analysis) is the symmetric
    window of length :math:`M+1` without its last sample, like ``scipy.signal.get_window(("tukey", alpha), M)``.
    Shape (M,)."""
    M = check_int(M, "M")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha: expected a taper fraction in [0, 1], got {alpha}")
    L = M + 1 if periodic else M
    n = torch.arange(L, dtype=torch.float64)
    w = torch.ones(L, dtype=torch.float64)
    if alpha > 0 and L > 1:
        width = int(math.floor(alpha * (L - 1) / 2))
        head = n[: width + 1]
        w[: width + 1] = 0.5 * (1 + torch.cos(math.pi * (-1 + 2 * head / (alpha * (L - 1)))))
        tail = n[L - width - 1:]
        w[L - width - 1:] = 0.5 * (1 + torch.cos(math.pi * (-2 / alpha + 1 + 2 * tail / (alpha * (L - 1)))))
    return w[:M].to(dtype)


def frames(y: torch.Tensor, M: int, hop: int | None = None, window: torch.Tensor | None = None) -> torch.Tensor:
    r"""Windowed frames of ``y`` as columns: (..., L) -> (..., M, N) with :math:`N=\lceil L/\text{hop}\rceil+1`
    when hop divides :math:`M` (the zero-padded segments of ``scipy.signal.stft``, scaled by :math:`1/\sum w`).

    Parameters
    ----------
    y : (..., L) real tensor
    M : int
        Frame length (the transform's size).
    hop : int, optional
        Hop between frames (default :math:`M/2`).
    window : (M,) tensor, optional
        Default: the periodic Tukey window with :math:`\alpha=0.1`.
    """
    y = check_tensor(y, "y", min_ndim=1, dtype="floating")
    M = check_int(M, "M", minimum=2)
    hop = M // 2 if hop is None else check_int(hop, "hop")
    if hop > M:
        raise ValueError(f"hop: expected at most M={M} (frames must cover the signal), got {hop}")
    w = tukey(M, 0.1, dtype=y.dtype) if window is None else check_tensor(window, "window", shape=(M,), dtype="floating")
    w = w.to(device=y.device, dtype=y.dtype)
    yp = torch.nn.functional.pad(y, (M // 2, M // 2))
    extra = (-(yp.shape[-1] - M)) % hop
    if extra:
        yp = torch.nn.functional.pad(yp, (0, extra))
    segs = yp.unfold(-1, M, hop)                       # (..., N, M)
    return (segs * (w / w.sum())).transpose(-1, -2)
