"""Layer 1: closed-form linear algebra of small matrices, elementwise over batches.

- :func:`sym2x2_eigvals` -- eigenvalues of symmetric 2 x 2 matrices, shared by the attention head's covariance
  (chapter 16) and the ReLU arc walk of :func:`harmonia.kernels.lip_relu_2d` (chapter 18).

Used in: chapters 16, 18.
"""

from __future__ import annotations

import torch

from harmonia.config import check_positive, check_tensor

__all__ = ["sym2x2_eigvals"]


def sym2x2_eigvals(a: torch.Tensor, b: torch.Tensor, d: torch.Tensor,
                   eps: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Eigenvalues :math:`\lambda_1\ge\lambda_2` of the symmetric matrices :math:`\begin{pmatrix}a&b\\b&d\end{pmatrix}`,
    elementwise over tensors of one shape:
    :math:`\lambda_{1,2}=\tfrac{a+d}2\pm\sqrt{(\tfrac{a-d}2)^2+b^2+\epsilon}`.

    ``eps`` > 0 keeps the square root differentiable when the matrix is isotropic (it shifts the eigenvalues by
    at most :math:`\sqrt\epsilon`); ``eps=0`` gives the exact eigenvalues.
    """
    check_tensor(a, "a", dtype="floating", finite=False)
    for t, name in ((b, "b"), (d, "d")):
        check_tensor(t, name, dtype="floating", finite=False, like=a)
        if t.shape != a.shape:
            raise ValueError(f"{name}: expected the shape of a {tuple(a.shape)}, got {tuple(t.shape)}")
    if not isinstance(eps, torch.Tensor):  # a tensor value is the caller's choice
        check_positive(eps, "eps", allow_zero=True)
    root = torch.sqrt(((a - d) / 2) ** 2 + b ** 2 + eps)
    # (a + d) / 2 written twice on purpose: one shared node would sum its two gradients in another order, and the
    # trainings of chapter 16 follow the last bit of their gradients
    return (a + d) / 2 + root, (a + d) / 2 - root
