"""LSAM and data-parallel SAM in the simulation, and the simulated clock (stragglers)."""

from __future__ import annotations

import math

import pytest
import torch

from harmonia.data import load_digits
from harmonia.distributed import (
    AdditiveNoiseQuadratic,
    ModelObjective,
    StepTimes,
    event_schedule,
    harmonic_number,
    make_objective,
    round_times,
    run_dp_sam,
    run_easgd,
    run_lsam,
    throughputs,
)
from harmonia.nn import mlp
from harmonia.optim import SAM

F64 = torch.float64
pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------------------------------------
# The clock
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [2, 4, 8])
def test_async_over_sync_throughput_is_the_harmonic_number_for_exponential_times(p):
    durations = StepTimes("exponential").sample((p, 10_000), generator=p)
    ratio = throughputs(durations)["ratio"]
    assert abs(ratio / harmonic_number(p) - 1) < 0.03
    assert harmonic_number(4) == pytest.approx(25 / 12, rel=1e-15)


def test_constant_times_make_sync_and_async_equal_and_straggler_mix_has_the_stated_mean():
    assert throughputs(StepTimes("constant", mean=2.0).sample((4, 50)))["ratio"] == 1.0
    mix = StepTimes("straggler", mean=1.0, p_straggler=0.1, factor=5.0).sample((200_000,), generator=1)
    assert float(mix.mean()) == pytest.approx(1.4, rel=0.01)  # 0.9 * 1 + 0.1 * 5
    logn = StepTimes("lognormal", mean=2.0, sigma=0.5).sample((200_000,), generator=2)
    assert float(logn.mean()) == pytest.approx(2.0, rel=0.01)


def test_event_schedule_and_round_times_by_hand():
    d = torch.tensor([[1.0, 1.0, 1.0], [0.5, 2.0, 0.1]], dtype=F64)
    ev = event_schedule(d)
    # worker 0 ends at 1, 2, 3; worker 1 at 0.5, 2.5, 2.6 (the tie at 2.0 does not occur)
    assert ev.workers == (1, 0, 0, 1, 1, 0) and ev.times == (0.5, 1.0, 2.0, 2.5, 2.6, 3.0)
    assert list(ev) == list(ev.workers) and len(ev) == 6 and ev.p == 2
    assert round_times(d, allreduce_cost=0.25).tolist() == [1.25, 3.5, 4.75]
    with pytest.raises(ValueError, match="durations: expected positive"):
        event_schedule(torch.tensor([[1.0, 0.0]], dtype=F64))
    with pytest.raises(ValueError, match="kind"):
        StepTimes("gamma")
    with pytest.raises(ValueError, match="p_straggler"):
        StepTimes("straggler", p_straggler=1.5)


# ---------------------------------------------------------------------------------------------
# LSAM
# ---------------------------------------------------------------------------------------------
def test_lsam_with_rho_zero_is_asynchronous_easgd_on_a_shared_schedule_bit_for_bit():
    ev = event_schedule(StepTimes("exponential").sample((4, 40), generator=3))
    runs = []
    for fn, kw in ((run_lsam, {"rho": 0.0}), (run_easgd, {"mode": "async"})):
        obj = make_objective("digits", 4, hidden=8)
        runs.append(fn(obj, obj.initial(), 4, 0.05, 20, tau=4, schedule=ev, record_every=5, **kw))
    assert torch.equal(runs[0].center, runs[1].center) and torch.equal(runs[0].workers, runs[1].workers)
    assert runs[0].history.times == runs[1].history.times and len(runs[0].history.times) == 5


def test_lsam_equals_a_hand_written_loop_on_the_noisy_quadratic():
    """The reference: per event, the worker's SAM gradient g + h eps (the quadratic's gradient at x + eps on the
    same noise), the elastic exchange every tau of its steps; written without the library's runner."""
    p, eta, rho, gamma, tau, alpha = 3, 0.1, 0.3, 1e-12, 2, 0.3
    h = torch.linspace(0.5, 2.0, 5, dtype=F64)
    ev = event_schedule(StepTimes("lognormal").sample((p, 30), generator=4))
    x0 = torch.full((5,), 2.0, dtype=F64)
    got = run_lsam(AdditiveNoiseQuadratic(h, 0.5, p, seed=5), x0, p, eta, 25, rho=rho, gamma=gamma, alpha=alpha,
                   tau=tau, schedule=ev)
    ref_obj = AdditiveNoiseQuadratic(h, 0.5, p, seed=5)
    X, center, clock = x0.expand(p, -1).clone(), x0.clone(), [0] * p
    for i in list(ev)[:25 * p]:
        x = X[i].clone()
        if clock[i] % tau == 0:
            d = alpha * (X[i] - center)
            X[i], center = X[i] - d, center + d
        g = ref_obj.grad(x[None], [i])[0]
        eps = rho * g / (g.norm() + gamma)
        X[i] = X[i] - eta * (g + h * eps)
        clock[i] += 1
    assert torch.allclose(got.center, center, rtol=1e-12, atol=1e-14)
    assert torch.allclose(got.workers, X, rtol=1e-12, atol=1e-14)


def test_lsam_conserves_the_sum_up_to_the_local_displacements():
    obj = make_objective("quadratic", 4)
    x0 = torch.full((10,), 5.0, dtype=F64)
    res = run_lsam(obj, x0, 4, 0.05, 60, rho=0.1, tau=3, schedule=event_schedule(StepTimes().sample((4, 80), generator=6)))
    lhs = res.center + res.workers.sum(0)
    assert torch.allclose(lhs, 5 * x0 + res.displacement.sum(0), rtol=0, atol=1e-10)
    assert res.history.gradients[-1] == 2 * 4 * 60  # SAM: two gradients per step


def test_schedule_too_short_is_refused():
    obj = make_objective("quadratic", 2)
    ev = event_schedule(StepTimes().sample((2, 5)))
    with pytest.raises(ValueError, match=r"schedule: expected at least rounds \* p = 20 events, got 10"):
        run_lsam(obj, torch.zeros(10, dtype=F64), 2, 0.1, 10, schedule=ev)


# ---------------------------------------------------------------------------------------------
# Data-parallel SAM
# ---------------------------------------------------------------------------------------------
def test_dp_sam_with_one_worker_is_the_sam_optimizer():
    """Two implementations: the simulation on flat vectors, and harmonia.optim.SAM on the module."""
    data = load_digits(dtype=F64)
    model = mlp(64, (8,), 10, seed=0, dtype=F64)
    obj = ModelObjective(model, data.X_train, data.y_train, data.X_test, data.y_test, p=1, batch_size=16, seed=7)
    res = run_dp_sam(obj, obj.initial(), 1, 0.1, 12, rho=0.05)
    ref = mlp(64, (8,), 10, seed=0, dtype=F64)
    opt = SAM(ref.parameters(), torch.optim.SGD, rho=0.05, lr=0.1)
    for t in range(12):
        idx = obj.batch_indices(0, t)

        def closure(idx=idx):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(ref(data.X_train[idx]), data.y_train[idx])
            loss.backward()
            return loss

        opt.step(closure)
    flat = torch.nn.utils.parameters_to_vector(ref.parameters()).detach()
    assert torch.allclose(res.center, flat, rtol=1e-10, atol=1e-12)


def test_dp_sam_variants_and_times():
    obj = make_objective("quadratic", 4)
    x0 = torch.full((10,), 5.0, dtype=F64)
    d = StepTimes("exponential").sample((4, 30), generator=8)
    per_worker = run_dp_sam(obj, x0, 4, 0.1, 30, rho=0.2, durations=d, record_every=10)
    glob = run_dp_sam(make_objective("quadratic", 4), x0, 4, 0.1, 30, rho=0.2, global_eps=True)
    plain = run_dp_sam(make_objective("quadratic", 4), x0, 4, 0.1, 30, rho=0.0)
    ref_obj, x = make_objective("quadratic", 4), x0.clone()
    for _ in range(30):  # rho = 0: mini-batch SGD, one step with the mean of the p workers' gradients
        x = x - 0.1 * ref_obj.grad(x.expand(4, -1), [0, 1, 2, 3]).mean(dim=0)
    assert not torch.equal(per_worker.center, glob.center)
    assert per_worker.history.times == [0.0] + round_times(d, 0.0)[[9, 19, 29]].tolist()
    assert math.isfinite(per_worker.history.center_loss[-1])
    # rho = 0: one averaged gradient step per round, i.e. mini-batch SGD with batch p
    assert plain.history.gradients[-1] == 4 * 30 and per_worker.history.gradients[-1] == 2 * 4 * 30
    assert torch.allclose(plain.center, x, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"durations: expected shape \(4, >= 30\)"):
        run_dp_sam(obj, x0, 4, 0.1, 30, durations=d[:, :10])
    with pytest.raises(ValueError, match="rho"):
        run_dp_sam(obj, x0, 4, 0.1, 30, rho=-1.0)
