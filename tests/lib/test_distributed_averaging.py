"""ElasticAveraging, the EASGD hook for a user's own torchrun loop: on gloo with 2 and 4 processes it
reproduces the simulation's synchronous EASGD step for step, keeps the center replicas identical,
exchanges every tau steps, runs EAMSGD with torch's Nesterov SGD, and refuses bad use by name."""

from __future__ import annotations

import pytest
import torch

from harmonia.distributed import ElasticAveraging, make_objective, run_easgd
from harmonia.distributed.launch import run_averaging_batch, spawn

# one process start-up per world size (as the engine tests): 2 ranks run plain SGD and EAMSGD, 4 ranks SGD
SGD2 = dict(p=2, eta=0.1, rounds=40, tau=1)
EAMSGD2 = dict(p=2, eta=0.05, rounds=60, tau=2, momentum=0.9)
SGD4 = dict(p=4, eta=0.1, rounds=40, tau=3)
SAM2 = dict(p=2, eta=0.1, rounds=30, tau=2, rho=0.3)  # LSAM's workers (SAM) under the synchronous hook


@pytest.fixture(scope="module")
def two_ranks():
    return spawn(2, run_averaging_batch, [SGD2, EAMSGD2, SAM2])


@pytest.fixture(scope="module")
def four_ranks():
    return spawn(4, run_averaging_batch, [SGD4])


def _simulate(cfg: dict):
    obj = make_objective("quadratic", cfg["p"])
    x0 = 5.0 * torch.ones(obj.n, dtype=torch.float64)
    return run_easgd(obj, x0, cfg["p"], cfg["eta"], cfg["rounds"], tau=cfg["tau"], mode="sync", rho=cfg.get("rho", 0.0))


@pytest.mark.parametrize("world", [2, 4])
def test_hook_equals_the_simulation_of_synchronous_easgd(world, request):
    cfg, out = (SGD2, request.getfixturevalue("two_ranks")[0]) if world == 2 else (SGD4, request.getfixturevalue("four_ranks")[0])
    sim = _simulate(cfg)
    torch.testing.assert_close(out["center"], sim.center, rtol=0, atol=1e-12)
    torch.testing.assert_close(out["workers"], sim.workers, rtol=0, atol=1e-12)
    assert all(torch.equal(c, out["center"]) for c in out["centers"])  # replicas bit-identical
    assert int(out["exchanges"]) == -(-cfg["rounds"] // cfg["tau"])  # at calls 1, 1 + tau, ...
    assert not torch.equal(out["center"], out["x0"])


def test_hook_accepts_a_sam_optimizer_and_equals_the_simulation(two_ranks):
    out, sim = two_ranks[2], _simulate(SAM2)
    torch.testing.assert_close(out["center"], sim.center, rtol=0, atol=1e-12)
    torch.testing.assert_close(out["workers"], sim.workers, rtol=0, atol=1e-12)
    plain = run_easgd(make_objective("quadratic", 2), 5.0 * torch.ones(10, dtype=torch.float64), 2, 0.1, 30, tau=2,
                      mode="sync")
    assert not torch.allclose(out["center"], plain.center)  # the SAM steps did change the run


def test_hook_runs_eamsgd_with_torch_nesterov(two_ranks):
    out = two_ranks[1]
    obj = make_objective("quadratic", 2)
    assert all(torch.equal(c, out["center"]) for c in out["centers"])
    assert int(out["exchanges"]) == 30
    assert obj.loss(out["center"]) < 0.1 * obj.loss(out["x0"])


def test_hook_refuses_without_a_process_group_or_with_bad_arguments():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(RuntimeError, match="^ElasticAveraging: expected an initialised torch.distributed"):
        ElasticAveraging(model, opt)


@pytest.fixture
def one_process_group(tmp_path):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_one_rank_exchange_by_hand_and_misuse(one_process_group):
    """p = 1: d = alpha (x_t - c) from the pre-step parameters; x <- x - eta g - d, c <- c + d (c + x conserved
    by the exchange); errors name what is wrong."""
    x = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = torch.optim.SGD([x], lr=0.5)
    avg = ElasticAveraging([x], opt, alpha=0.25, tau=2)
    with pytest.raises(RuntimeError, match="^step: expected optimizer.step\\(\\) before"):
        avg.step()
    c0 = avg.center[0].clone()
    x.grad = torch.tensor([2.0, 2.0], dtype=torch.float64)
    x_t = x.detach().clone()
    opt.step()
    assert avg.step() is True
    d = 0.25 * (x_t - c0)
    torch.testing.assert_close(x.detach(), x_t - 0.5 * x.grad - d, rtol=0, atol=1e-15)
    torch.testing.assert_close(avg.center[0], c0 + d, rtol=0, atol=1e-15)
    opt.step()
    assert avg.step() is False  # tau = 2: no exchange at the second call
    model = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="^params: expected the shapes of the averaged parameters"):
        avg.load_center_into(model)
    y = torch.zeros(2, dtype=torch.float64)
    avg.load_center_into([y])
    assert torch.equal(y, avg.center[0])
    avg.remove()
    with pytest.raises(ValueError, match="^tau: expected a positive int"):
        ElasticAveraging([x], opt, tau=0)
    with pytest.raises(ValueError, match="^alpha: expected a positive number"):
        ElasticAveraging([x], opt, alpha=-0.1)
    with pytest.raises(TypeError, match="^optimizer: expected a torch.optim.Optimizer"):
        ElasticAveraging([x], "sgd")
    with pytest.raises(ValueError, match="^params: expected a module or a non-empty iterable"):
        ElasticAveraging([], opt)
