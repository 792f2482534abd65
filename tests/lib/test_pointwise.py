"""The zero-safe modulus: value, gradient (gradcheck) and finite gradient at zero."""

from __future__ import annotations

import torch

from harmonia.pointwise import modulus


def test_value_matches_abs():
    z = torch.randn(10, dtype=torch.complex64)
    assert torch.equal(modulus(z), z.abs()) and modulus(z).dtype == torch.float32
    x = torch.randn(10, dtype=torch.float64)
    assert torch.equal(modulus(x), x.abs())


def test_gradcheck_complex_and_real():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, dtype=torch.complex128, generator=g).requires_grad_(True)
    assert torch.autograd.gradcheck(modulus, (z,))
    x = (torch.rand(6, dtype=torch.float64, generator=g) + 0.1).requires_grad_(True)
    assert torch.autograd.gradcheck(modulus, (x,))


def test_gradient_matches_abs_away_from_zero_and_is_zero_at_zero():
    z = torch.tensor([3 + 4j, 0j, -1j], dtype=torch.complex128, requires_grad=True)
    w = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    (modulus(z) * w).sum().backward()
    ref = z.detach().clone().requires_grad_(True)
    (ref.abs() * w).sum().backward()
    assert torch.allclose(z.grad[[0, 2]], ref.grad[[0, 2]])
    assert z.grad[1] == 0 and torch.isfinite(torch.view_as_real(z.grad)).all()
