"""Layer 1: the three 2x2 Haar high-pass filters that cover the corners of the frequency plane.

Morlet wavelets leave the highest frequencies :math:`(0,\\pi)`, :math:`(\\pi,0)`, :math:`(\\pi,\\pi)` almost
uncovered (their Littlewood-Paley sum falls to about 0.13 at :math:`(\\pi,\\pi)`). Texture models add
three Haar filters at the finest scale (Brochard, Zhang, Mallat 2022):

.. math:: h^{(1)}=\\tfrac14\\begin{pmatrix}1&-1\\\\1&-1\\end{pmatrix},\\quad
          h^{(2)}=\\tfrac14\\begin{pmatrix}1&1\\\\-1&-1\\end{pmatrix},\\quad
          h^{(3)}=\\tfrac14\\begin{pmatrix}1&-1\\\\-1&1\\end{pmatrix},

(rows :math:`u_1=0,1`, columns :math:`u_2=0,1`), whose Fourier moduli
:math:`|\\hat h^{(k)}(\\omega)|=|\\cos\\tfrac{\\omega_1}2|\\,|\\sin\\tfrac{\\omega_2}2|` (and the permuted
products) equal 1 at :math:`(0,\\pi)`, :math:`(\\pi,0)`, :math:`(\\pi,\\pi)` respectively.

Used in: chapter 08.
"""

from __future__ import annotations

import torch

from harmonia.config import check_int

__all__ = ["HAAR_KERNELS", "haar_highpass_2d"]

#: The three 2x2 kernels, shape (3, 2, 2): vertical edges, horizontal edges, checkerboard.
HAAR_KERNELS = 0.25 * torch.tensor([[[1.0, -1.0], [1.0, -1.0]],
                                    [[1.0, 1.0], [-1.0, -1.0]],
                                    [[1.0, -1.0], [-1.0, 1.0]]], dtype=torch.float64)


def haar_highpass_2d(M: int, N: int, *, dtype: torch.dtype = torch.complex64,
                     device: torch.device | str | None = None) -> torch.Tensor:
    """Fourier transforms :math:`\\hat h^{(k)}` of the three Haar kernels on the periodic :math:`M\\times N` grid.

    The kernels sit at pixels :math:`\\{0,1\\}^2`, so :math:`(x\\star h)(u)=\\sum_{v\\in\\{0,1\\}^2}h(v)x(u-v)`
    is ``ifft2(fft2(x) * h_hat)``.

    Parameters
    ----------
    M, N : int >= 2
        Grid size.
    dtype : complex dtype
    device : optional

    Returns
    -------
    (3, M, N) complex tensor

    Used in: chapter 08.
    """
    M, N = check_int(M, "M", 2), check_int(N, "N", 2)
    if not dtype.is_complex:
        raise TypeError(f"dtype: expected a complex dtype, got {dtype}")
    spatial = torch.zeros(3, M, N, dtype=torch.float64)
    spatial[:, :2, :2] = HAAR_KERNELS
    return torch.fft.fft2(spatial).to(dtype=dtype, device=device)
