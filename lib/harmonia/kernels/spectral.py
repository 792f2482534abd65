r"""Spectral samplers (Bochner): frequencies :math:`\omega\sim\Lambda/\psi(0)` with
:math:`\psi(z)=\mathbb E[\cos(\omega\cdot z)]` for the shift-invariant kernels of
:mod:`harmonia.kernels.functions`.

=====================  =============================================================================================
kernel                 law of :math:`\omega\in\mathbb R^d`
=====================  =============================================================================================
gaussian               :math:`\mathcal N(0,\ell^{-2}I)`
laplace (norm 2)       multivariate Cauchy, scale :math:`1/\ell` (Student-t with 1 degree of freedom)
laplace (norm 1)       i.i.d. Cauchy(0, :math:`1/\ell`) coordinates
matern                 multivariate Student-:math:`t_{2\nu}`, scale :math:`1/\ell`:
                       :math:`\omega=z/(\ell\sqrt{u/(2\nu)})`, :math:`z\sim\mathcal N(0,I)`, :math:`u\sim\chi^2_{2\nu}`
rational_quadratic     Gaussian scale mixture: :math:`\omega=\sqrt\gamma\,z`, :math:`\gamma\sim\Gamma(\alpha,\text{rate }\alpha\ell^2)`
=====================  =============================================================================================

Their second moments :math:`\mathbb E[\omega\omega^\top]` are :math:`\ell^{-2}I`, infinite, infinite,
:math:`\frac{\nu}{(\nu-1)\ell^2}I` (finite iff :math:`\nu>1`) and :math:`\ell^{-2}I`.

All randomness goes through the ``generator``; gamma variables use Marsaglia and Tsang's (2000) squeeze method on its
normals and uniforms, so the draws are reproducible and need no global state.

Used in: chapter 18.
"""

from __future__ import annotations

import math

import torch

from harmonia.config import check_in, check_int, check_positive, make_generator

__all__ = ["SPECTRAL", "sample_gamma", "sample_spectral"]

SPECTRAL = ("gaussian", "laplace", "matern", "rational_quadratic")


def sample_gamma(shape: float, n: int, *, generator: torch.Generator | int | None = None,
                 dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""n draws of :math:`\Gamma(\text{shape}, \text{rate }1)` (mean = shape), (n,), on the CPU.

    Marsaglia-Tsang: for :math:`a\ge1`, with :math:`d=a-1/3`, :math:`c=1/\sqrt{9d}`, propose :math:`dv`,
    :math:`v=(1+cz)^3`, and accept when :math:`\log u<z^2/2+d-dv+d\log v`; for :math:`a<1` use
    :math:`\Gamma(a+1)\,U^{1/a}`.
    """
    a = check_positive(shape, "shape")
    n = check_int(n, "n", minimum=0)
    gen = make_generator(generator, name="generator")
    boost = a < 1
    a1 = a + 1 if boost else a
    d = a1 - 1 / 3
    c = 1 / math.sqrt(9 * d)
    out = torch.empty(n, dtype=dtype)
    todo = torch.arange(n)
    while todo.numel():
        m = todo.numel()
        z = torch.randn(m, generator=gen, dtype=dtype)
        u = torch.rand(m, generator=gen, dtype=dtype)
        v = (1 + c * z) ** 3
        ok = (v > 0) & (torch.log(u) < 0.5 * z * z + d - d * v + d * torch.log(v.clamp_min(1e-300)))
        out[todo[ok]] = (d * v)[ok]
        todo = todo[~ok]
    if boost:
        out = out * torch.rand(n, generator=gen, dtype=dtype) ** (1 / a)
    return out


def sample_spectral(kind: str, n: int, d: int, *, ell: float = 1.0, nu: float | None = None,
                    alpha: float | None = None, norm: int = 2, generator: torch.Generator | int | None = None,
                    dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu") -> torch.Tensor:
    r"""n frequencies of the kernel ``kind``'s spectral law (table above), (n, d), so that
    :math:`\frac1n\sum_i\cos(\omega_i\cdot z)\to\psi(z)`.

    Parameters
    ----------
    kind : {"gaussian", "laplace", "matern", "rational_quadratic"}
    n, d : int
        Number of frequencies and input dimension.
    ell : float
        Length-scale :math:`\ell`.
    nu : float
        Matérn smoothness (required for ``"matern"``; ``inf`` gives the Gaussian law).
    alpha : float
        Rational-quadratic shape (required for ``"rational_quadratic"``).
    norm : {1, 2}
        Laplace kernel's distance (see :func:`harmonia.kernels.laplace`).
    generator : torch.Generator, int or None
        Source of randomness (drawn on the CPU, then moved to ``device``).
    """
    check_in(kind, "kind", SPECTRAL)
    n = check_int(n, "n", minimum=0)
    d = check_int(d, "d", minimum=1)
    ell = check_positive(ell, "ell")
    gen = make_generator(generator, name="generator")
    z = torch.randn(n, d, generator=gen, dtype=dtype)
    if kind == "gaussian":
        w = z / ell
    elif kind == "laplace":
        check_in(norm, "norm", (1, 2))
        if norm == 1:
            u = torch.rand(n, d, generator=gen, dtype=dtype)
            w = torch.tan(math.pi * (u - 0.5)) / ell
        else:
            w = z / (ell * torch.abs(torch.randn(n, 1, generator=gen, dtype=dtype)))   # t_1: z / sqrt(chi2_1)
    elif kind == "matern":
        if nu is None:
            raise ValueError("nu: expected a positive number for kind='matern', got None")
        nu = float(nu)
        if math.isinf(nu):
            w = z / ell
        else:
            check_positive(nu, "nu")
            chi2 = 2 * sample_gamma(nu, n, generator=gen, dtype=dtype)                # chi2_{2 nu} = 2 Gamma(nu, 1)
            w = z / (ell * torch.sqrt(chi2 / (2 * nu)))[:, None]
    else:
        if alpha is None:
            raise ValueError("alpha: expected a positive number for kind='rational_quadratic', got None")
        alpha = check_positive(alpha, "alpha")
        gamma = sample_gamma(alpha, n, generator=gen, dtype=dtype) / (alpha * ell ** 2)
        w = z * torch.sqrt(gamma)[:, None]
    return w.to(device)
