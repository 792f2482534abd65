r"""Embedded submanifolds of a Euclidean space with the induced metric.

Every manifold gives, at a point :math:`z`:

- the orthogonal projection :math:`P_z` onto the tangent space (:meth:`Manifold.proj`);
- a retraction :math:`R_z(v)` (:meth:`Manifold.retr`): :math:`R_z(0)=z`, :math:`\frac{d}{dt}R_z(tv)|_{t=0}=v`;
- the Riemannian gradient :math:`P_z\nabla\bar f` of a smooth extension :math:`\bar f` (:meth:`Manifold.egrad2rgrad`);
- the Riemannian Hessian-vector product, the projected Euclidean one plus a curvature (Weingarten) term
  (:meth:`Manifold.ehess2rhess`):

==============  ==========================================  ===================================================  ====================================================================
manifold        :math:`P_z(v)`                              :math:`R_z(v)`                                       Hessian correction (added to :math:`P_z\nabla^2\bar f[u]`)
==============  ==========================================  ===================================================  ====================================================================
Euclidean       :math:`v`                                   :math:`z+v`                                          none
sphere          :math:`v-(z^\top v)z`                       :math:`(z+v)/\|z+v\|`                                :math:`-(z^\top\nabla\bar f)\,u`
Stiefel         :math:`V-X\,\mathrm{sym}(X^\top V)`         QR (sign-fixed), polar, or Cayley                    :math:`-P_X(U\,\mathrm{sym}(X^\top\nabla\bar f))`
==============  ==========================================  ===================================================  ====================================================================

:math:`\mathrm{sym}(M)=(M+M^\top)/2`. Points of the sphere are vectors (..., m); points of
:math:`\mathrm{St}(n,p)=\{X\in\mathbb R^{n\times p}:X^\top X=I_p\}` are (n, p) matrices; :class:`Orthogonal` is
:math:`\mathrm{St}(n,n)`.

Used in: chapter 12.
"""

from __future__ import annotations

import math

import torch

from harmonia.config import check_in, check_int, check_tensor, make_generator

__all__ = ["RETRACTIONS", "sym", "skew", "Manifold", "Euclidean", "Sphere", "Stiefel", "Orthogonal"]

RETRACTIONS = ("qr", "polar", "cayley")


def sym(M: torch.Tensor) -> torch.Tensor:
    """:math:`(M+M^\\top)/2` over the last two dimensions."""
    check_tensor(M, "M", shape=("...", "n", "n"), dtype="float_or_complex", finite=False)
    return 0.5 * (M + M.transpose(-1, -2))


def skew(M: torch.Tensor) -> torch.Tensor:
    """:math:`(M-M^\top)/2` over the last two dimensions."""
    check_tensor(M, "M", shape=("...", "n", "n"), dtype="float_or_complex", finite=False)
    return 0.5 * (M - M.transpose(-1, -2))


class Manifold:
    """Base class: ``shape`` of a point, ``dim`` (intrinsic dimension) and the operations of the module
    docstring. Subclasses implement :meth:`proj`, :meth:`retr`, :meth:`weingarten`, :meth:`random`,
    :meth:`distance_to`."""

    shape: tuple[int, ...] = ()
    dim: int = 0

    def proj(self, z: torch.Tensor, v: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def retr(self, z: torch.Tensor, v: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def weingarten(self, z: torch.Tensor, egrad: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """The curvature term of the Riemannian Hessian (0 in flat space)."""
        return torch.zeros_like(u)

    def egrad2rgrad(self, z: torch.Tensor, egrad: torch.Tensor) -> torch.Tensor:
        """Riemannian gradient :math:`P_z\\nabla\\bar f` from the Euclidean one."""
        return self.proj(z, egrad)

    def ehess2rhess(self, z: torch.Tensor, egrad: torch.Tensor, ehess_u: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Riemannian Hessian-vector product :math:`\\mathrm{Hess}f(z)[u]` for a tangent ``u``, from the Euclidean
        gradient and Hessian-vector product :math:`\\nabla^2\\bar f[u]`."""
        return self.proj(z, ehess_u) + self.proj(z, self.weingarten(z, egrad, u))

    def _check_pair(self, z: torch.Tensor, v: torch.Tensor, names: tuple[str, str] = ("z", "v")) -> None:
        """A point (or batch of points) and a vector of its shape, on one device (values unchecked: the
        manifold operations are algebra and propagate NaN like torch)."""
        check_tensor(z, names[0], shape=("...", *self.shape), dtype="floating", finite=False)
        check_tensor(v, names[1], shape=tuple(z.shape), dtype="floating", finite=False, like=z)

    def check(self, z: torch.Tensor, atol: float = 1e-10) -> bool:
        """Whether ``z`` lies on the manifold (to ``atol``)."""
        return True

    def tangent_basis(self, z: torch.Tensor) -> torch.Tensor:
        """An orthonormal basis of :math:`T_z`: (dim, *shape), from the projections of the canonical basis
        (Gram-Schmidt through a QR of the projected vectors)."""
        N = math.prod(self.shape)
        eye = torch.eye(N, dtype=z.dtype, device=z.device).reshape(N, *self.shape)
        P = torch.stack([self.proj(z, e) for e in eye]).reshape(N, N)   # rows: P e_i
        U, S, _ = torch.linalg.svd(P.T)
        return U[:, : self.dim].T.reshape(self.dim, *self.shape)


class Euclidean(Manifold):
    """:math:`\\mathbb R^{\\text{shape}}` (projection = identity, retraction :math:`z+v`)."""

    def __init__(self, *shape: int) -> None:
        self.shape = tuple(check_int(s, "shape") for s in shape)
        self.dim = math.prod(self.shape)

    def proj(self, z, v):
        self._check_pair(z, v)
        return v

    def retr(self, z, v):
        self._check_pair(z, v)
        return z + v

    def random(self, generator: torch.Generator | int | None = None, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        return torch.randn(self.shape, generator=make_generator(generator, name="generator"), dtype=dtype)


class Sphere(Manifold):
    """The unit sphere :math:`S^{m-1}\\subset\\mathbb R^m`."""

    def __init__(self, m: int) -> None:
        self.shape = (check_int(m, "m", 2),)
        self.dim = m - 1

    def proj(self, z, v):
        self._check_pair(z, v)
        return v - (z * v).sum(-1, keepdim=True) * z

    def retr(self, z, v):
        self._check_pair(z, v)
        w = z + v
        return w / w.norm(dim=-1, keepdim=True)

    def weingarten(self, z, egrad, u):
        return -(z * egrad).sum(-1, keepdim=True) * u

    def check(self, z, atol=1e-10):
        return bool(((z.norm(dim=-1) - 1).abs() <= atol).all())

    def random(self, generator=None, dtype=torch.float64):
        z = torch.randn(self.shape, generator=make_generator(generator, name="generator"), dtype=dtype)
        return z / z.norm()


class Stiefel(Manifold):
    """:math:`\\mathrm{St}(n,p)=\\{X\\in\\mathbb R^{n\\times p}:X^\\top X=I_p\\}`, dimension :math:`np-p(p+1)/2`.

    Parameters
    ----------
    n, p : int, :math:`n\\ge p`
    retraction : {"qr", "polar", "cayley"}
        ``"qr"``: the Q factor of :math:`X+V` with :math:`\\mathrm{diag}(R)>0` (the sign fix makes it a smooth map);
        ``"polar"``: :math:`(X+V)(I+V^\\top V)^{-1/2}`; ``"cayley"``: :math:`(I-\\tfrac12W)^{-1}(I+\\tfrac12W)X` with the
        skew :math:`W=\\hat V X^\\top-X\\hat V^\\top`, :math:`\\hat V=V-\\tfrac12X(X^\\top V)`.
    """

    def __init__(self, n: int, p: int, retraction: str = "qr") -> None:
        n, p = check_int(n, "n"), check_int(p, "p")
        if p > n:
            raise ValueError(f"p: expected p <= n (orthonormal columns), got n={n}, p={p}")
        self.n, self.p = n, p
        self.shape = (n, p)
        self.dim = n * p - p * (p + 1) // 2
        self.retraction = check_in(retraction, "retraction", RETRACTIONS)

    def proj(self, X, V):
        self._check_pair(X, V, ("X", "V"))
        return V - X @ sym(X.transpose(-1, -2) @ V)

    def retr(self, X, V):
        self._check_pair(X, V, ("X", "V"))
        if self.retraction == "qr":
            return _qf(X + V)
        if self.retraction == "polar":
            Y = X + V
            return Y @ _inv_sqrt_spd(Y.transpose(-1, -2) @ Y)           # (I + V^T V)^(-1/2) for tangent V
        Vh = V - 0.5 * X @ (X.transpose(-1, -2) @ V)
        W = Vh @ X.transpose(-1, -2) - X @ Vh.transpose(-1, -2)
        eye = torch.eye(self.n, dtype=X.dtype, device=X.device)
        return torch.linalg.solve(eye - 0.5 * W, (eye + 0.5 * W) @ X)

    def weingarten(self, X, egrad, U):
        return -U @ sym(X.transpose(-1, -2) @ egrad)

    def check(self, X, atol=1e-10):
        eye = torch.eye(self.p, dtype=X.dtype, device=X.device)
        return bool(((X.transpose(-1, -2) @ X - eye).abs() <= atol).all())

    def random(self, generator=None, dtype=torch.float64):
        A = torch.randn(self.n, self.p, generator=make_generator(generator, name="generator"), dtype=dtype)
        return _qf(A)


def _inv_sqrt_spd(A: torch.Tensor, iterations: int = 30) -> torch.Tensor:
    """:math:`A^{-1/2}` of symmetric positive definite matrices: by coupled Newton-Schulz iterations (smooth,
    so twice differentiable even at :math:`A=I`, where an eigendecomposition's derivative is undefined) when
    :math:`\\|A-I\\|_2<1/2`, by an eigendecomposition otherwise."""
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    if float(torch.linalg.matrix_norm((A - eye).detach(), ord=2).max()) < 0.5:
        Y, Z = A, eye.expand_as(A)
        for _ in range(iterations):
            T = 0.5 * (3 * eye - Z @ Y)
            Y, Z = Y @ T, T @ Z
        return Z
    e, U = torch.linalg.eigh(A)
    return (U * e.rsqrt()[..., None, :]) @ U.transpose(-1, -2)


def _qf(A: torch.Tensor) -> torch.Tensor:
    Q, R = torch.linalg.qr(A)
    s = torch.sign(torch.diagonal(R, dim1=-2, dim2=-1))
    return Q * torch.where(s == 0, torch.ones_like(s), s)[..., None, :]


class Orthogonal(Stiefel):
    """The orthogonal group :math:`O(n)=\\mathrm{St}(n,n)`, dimension :math:`n(n-1)/2`.

    Besides the Stiefel operations it offers what transform learning (chapter 13) moves along: *left*
    multiplicative updates :math:`\\Phi\\leftarrow e^{tE}\\Phi` with a skew generator :math:`E`
    (:meth:`retr_expm`), the polar projection onto :math:`O(n)` (:meth:`polar`) and Givens rotations of two rows
    (:meth:`givens`, :meth:`rotate_rows`), all of which keep :math:`\\Phi^\\top\\Phi=I` to rounding.
    Used in: chapters 12, 13.
    """

    def __init__(self, n: int, retraction: str = "qr") -> None:
        super().__init__(n, n, retraction)

    @staticmethod
    def polar(A: torch.Tensor) -> torch.Tensor:
        """The orthogonal factor :math:`UV^\\top` of :math:`A=U\\Sigma V^\\top` (the nearest orthogonal matrix in
        Frobenius norm). A: (..., n, n) -> (..., n, n)."""
        A = check_tensor(A, "A", shape=("...", "n", "n"), dtype="floating")
        if A.shape[-1] != A.shape[-2]:
            raise ValueError(f"A: expected square matrices (..., n, n), got shape {tuple(A.shape)}")
        U, _, Vh = torch.linalg.svd(A)
        return U @ Vh

    @staticmethod
    def retr_expm(Phi: torch.Tensor, E: torch.Tensor, step: float = 1.0) -> torch.Tensor:
        """:math:`e^{tE}\\Phi` for a skew-symmetric generator :math:`E` (rows of :math:`\\Phi` are rotated together).
        Phi, E: (..., n, n) -> (..., n, n)."""
        return torch.linalg.matrix_exp(step * E) @ Phi

    @staticmethod
    def givens(n: int, p: int, q: int, theta: float | torch.Tensor, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """The rotation :math:`G` with :math:`(G\\Phi)_p=c\\phi_p+s\\phi_q`, :math:`(G\\Phi)_q=-s\\phi_p+c\\phi_q`
        (:math:`c=\\cos\\theta`, :math:`s=\\sin\\theta`), identity elsewhere. Shape (n, n)."""
        n = check_int(n, "n")
        if not (0 <= p < n and 0 <= q < n and p != q):
            raise ValueError(f"p, q: expected two different row indices in [0, {n}), got p={p}, q={q}")
        theta = torch.as_tensor(theta, dtype=dtype)
        G = torch.eye(n, dtype=dtype)
        c, s = torch.cos(theta), torch.sin(theta)
        G[p, p], G[p, q], G[q, p], G[q, q] = c, s, -s, c
        return G

    @staticmethod
    def rotate_rows(Phi: torch.Tensor, p: int, q: int, c: float | torch.Tensor, s: float | torch.Tensor) -> torch.Tensor:
        """``givens(n, p, q, theta) @ Phi`` in :math:`O(n)` operations, for :math:`c^2+s^2=1`. Returns a new tensor.
        Phi: (..., n, m)."""
        out = Phi.clone()
        out[..., p, :] = c * Phi[..., p, :] + s * Phi[..., q, :]
        out[..., q, :] = -s * Phi[..., p, :] + c * Phi[..., q, :]
        return out
