"""SAM and ASAM: the optimizer against the update written from Foret et al.'s and Kwon et al.'s equations."""

from __future__ import annotations

import copy

import pytest
import torch

from harmonia.optim import SAM, sam_perturbation

F64 = torch.float64


def _mlp(seed: int = 0) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)).double()


def _batch(seed: int = 1, n: int = 10):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=g, dtype=F64), torch.randint(0, 3, (n,), generator=g)


def _loss_of_flat(model, X, y):
    """The loss as a function of the flattened parameter vector (for the reference)."""
    shapes = [p.shape for p in model.parameters()]
    names = [n for n, _ in model.named_parameters()]

    def loss(w):
        params, k = {}, 0
        for name, shape in zip(names, shapes):
            n = shape.numel()
            params[name] = w[k:k + n].reshape(shape)
            k += n
        out = torch.func.functional_call(model, params, (X,))
        return torch.nn.functional.cross_entropy(out, y)

    return loss


def _reference_update(model, X, y, rho, lr, gamma=1e-12, adaptive_eta=None, momentum=0.0, weight_decay=0.0, buf=None):
    """w_new from the paper's equations, on the flat parameter vector, with torch.func.grad."""
    w = torch.cat([p.detach().flatten() for p in model.parameters()])
    grad = torch.func.grad(_loss_of_flat(model, X, y))
    g = grad(w)
    if adaptive_eta is None:
        eps = rho * g / (g.norm() + gamma)
    else:
        Tw = w.abs() + adaptive_eta
        eps = rho * Tw**2 * g / ((Tw * g).norm() + gamma)
    g_sam = grad(w + eps) + weight_decay * w  # torch.optim.SGD adds weight decay to the gradient
    if momentum:
        buf = g_sam.clone() if buf is None else momentum * buf + g_sam
        return w - lr * buf, buf
    return w - lr * g_sam, None


def _closure(model, opt, X, y):
    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X), y)
        loss.backward()
        return loss
    return closure


@pytest.mark.parametrize("adaptive", [False, True])
def test_sam_step_equals_the_equations(adaptive):
    model, (X, y) = _mlp(), _batch()
    rho, lr = 0.3, 0.5
    expected, _ = _reference_update(model, X, y, rho, lr, adaptive_eta=0.01 if adaptive else None)
    opt = SAM(model.parameters(), torch.optim.SGD, rho=rho, adaptive=adaptive, adaptive_eta=0.01, lr=lr)
    opt.step(_closure(model, opt, X, y))
    got = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert torch.allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_momentum_and_weight_decay_act_on_the_restored_weights_over_three_steps():
    model, (X, y) = _mlp(2), _batch(3)
    ref_model = _mlp(2)
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.2, lr=0.1, momentum=0.9, weight_decay=5e-3)
    buf = None
    for _ in range(3):
        expected, buf = _reference_update(ref_model, X, y, 0.2, 0.1, momentum=0.9, weight_decay=5e-3, buf=buf)
        torch.nn.utils.vector_to_parameters(expected, ref_model.parameters())
        opt.step(_closure(model, opt, X, y))
    got = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
    assert torch.allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_rho_zero_is_the_base_optimizer_exactly():
    a, b, (X, y) = _mlp(4), _mlp(4), _batch(5)
    sam = SAM(a.parameters(), torch.optim.SGD, rho=0.0, lr=0.3, momentum=0.5)
    sgd = torch.optim.SGD(b.parameters(), lr=0.3, momentum=0.5)
    for _ in range(3):
        sam.step(_closure(a, sam, X, y))
        sgd.step(_closure(b, sgd, X, y))
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_first_step_moves_by_eps_of_the_stated_norm_and_second_step_restores_bit_exactly():
    model, (X, y) = _mlp(6), _batch(7)
    before = [p.detach().clone() for p in model.parameters()]
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.05, gamma=0.1, lr=0.0)
    _closure(model, opt, X, y)()
    g = torch.cat([p.grad.flatten() for p in model.parameters()])
    opt.first_step()
    moved = torch.cat([(p.detach() - b).flatten() for p, b in zip(model.parameters(), before)])
    expected_norm = 0.05 * g.norm() / (g.norm() + 0.1)  # ||eps|| = rho ||g|| / (||g|| + gamma) <= rho
    assert torch.allclose(moved.norm(), expected_norm, rtol=1e-10) and moved.norm() <= 0.05
    # the norm is global: eps is parallel to the whole gradient, not normalised per tensor
    assert torch.allclose(moved, expected_norm * g / g.norm(), rtol=1e-9, atol=1e-15)
    _closure(model, opt, X, y)()
    opt.second_step()  # lr = 0: restoring is all that happens
    for p, b in zip(model.parameters(), before):
        assert torch.equal(p.detach(), b)


def test_both_passes_use_the_closures_batch():
    """A closure that changed batch between the passes would give a different step; ours reuses it."""
    model, (X, y) = _mlp(8), _batch(9)
    expected, _ = _reference_update(model, X, y, 0.5, 0.2)
    X2, y2 = _batch(10)
    expected_other, _ = _reference_update(model, X2, y2, 0.5, 0.2)
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.5, lr=0.2)
    opt.step(_closure(model, opt, X, y))
    got = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
    assert torch.allclose(got, expected, rtol=1e-12) and not torch.allclose(got, expected_other, rtol=1e-6)


def test_parameter_groups_keep_their_own_rho_with_one_global_norm():
    g1, g2 = torch.tensor([3.0, 0.0], dtype=F64), torch.tensor([0.0, 4.0], dtype=F64)
    e1, e2 = sam_perturbation([g1, g2], [1.0, 2.0], gamma=0.0)
    assert torch.allclose(e1, g1 / 5) and torch.allclose(e2, 2 * g2 / 5)
    w1 = torch.nn.Parameter(torch.ones(2, dtype=F64))
    w2 = torch.nn.Parameter(torch.ones(2, dtype=F64))
    opt = SAM([{"params": [w1], "rho": 1.0}, {"params": [w2], "rho": 2.0}], torch.optim.SGD, gamma=0.0, lr=0.0)
    w1.grad, w2.grad = g1.clone(), g2.clone()
    opt.first_step()
    assert torch.allclose(w1.detach(), 1 + g1 / 5) and torch.allclose(w2.detach(), 1 + 2 * g2 / 5)
    assert opt.base_optimizer.param_groups is opt.param_groups  # schedulers on the base see the same groups


def test_asam_is_invariant_to_rescaling_a_layer():
    """ASAM's point: with T_w = |w| (eta_a = 0), scaling w by c and g by 1/c scales eps by c."""
    w = torch.tensor([0.5, -2.0, 1.5], dtype=F64)
    g = torch.tensor([1.0, 0.3, -0.7], dtype=F64)
    (e,) = sam_perturbation([g], 0.1, 0.0, params=[w], adaptive_eta=0.0)
    (e_scaled,) = sam_perturbation([g / 3], 0.1, 0.0, params=[3 * w], adaptive_eta=0.0)
    assert torch.allclose(e_scaled, 3 * e, rtol=1e-12)


def test_bad_arguments_are_named():
    p = [torch.nn.Parameter(torch.ones(2))]
    with pytest.raises(ValueError, match="rho"):
        SAM(p, torch.optim.SGD, rho=-0.1, lr=0.1)
    with pytest.raises(TypeError, match="base_optimizer"):
        SAM(p, "sgd", lr=0.1)
    with pytest.raises(TypeError, match="adaptive: expected a bool"):
        SAM(p, torch.optim.SGD, adaptive=1, lr=0.1)
    opt = SAM(p, torch.optim.SGD, lr=0.1)
    with pytest.raises(ValueError, match="closure: SAM needs a closure"):
        opt.step()
    with pytest.raises(RuntimeError, match="no parameter has a gradient"):
        opt.first_step()
    with pytest.raises(RuntimeError, match="call first_step"):
        opt.second_step()
    with pytest.raises(ValueError, match="rho: expected one radius or 2, got 3"):
        sam_perturbation([torch.ones(1), torch.ones(1)], [0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="params: ASAM"):
        sam_perturbation([torch.ones(1)], 0.1, adaptive_eta=0.0)
    with pytest.raises(FloatingPointError, match="not a finite number"):
        opt.step(lambda: torch.tensor(float("nan")))


def test_state_dict_round_trip_keeps_the_base_optimizer_wired():
    model, (X, y) = _mlp(11), _batch(12)
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.1, lr=0.1, momentum=0.9)
    opt.step(_closure(model, opt, X, y))
    clone_model = _mlp(11)
    clone_model.load_state_dict(model.state_dict())
    clone = SAM(clone_model.parameters(), torch.optim.SGD, rho=0.1, lr=0.1, momentum=0.9)
    clone.load_state_dict(copy.deepcopy(opt.state_dict()))  # torch shares buffers with the dict it loads
    assert clone.base_optimizer.param_groups is clone.param_groups
    opt.step(_closure(model, opt, X, y))
    clone.step(_closure(clone_model, clone, X, y))
    for p, q in zip(model.parameters(), clone_model.parameters()):
        assert torch.equal(p, q)
