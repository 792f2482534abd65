"""harmonia.distributed on torch.distributed (gloo, processes on this machine) against the simulation:
synchronous EASGD by all-reduce and the asynchronous algorithms on a parameter server in deterministic
round-robin order must give the simulation's centers and workers to 1e-12 in float64; free-running
(any-source) order cannot match step by step, but the conservation law of elastic averaging must hold.
Each process group runs a batch of configurations, so the whole file starts processes only twice."""

from __future__ import annotations

import pytest
import torch

from harmonia.distributed import make_objective, run_downpour, run_dp_sam, run_easgd, run_lsam
from harmonia.distributed.launch import main, run_batch, spawn

P, ETA, ROUNDS, TAU = 3, 0.05, 20, 2
SYNC = [dict(algo="easgd", mode="sync", p=P, eta=ETA, rounds=ROUNDS, tau=TAU, problem=prob, momentum=m)
        for prob in ("quadratic", "digits") for m in (0.0, 0.9)]
ASYNC = [dict(algo=algo, mode="async", p=P, eta=ETA, rounds=ROUNDS, tau=TAU, problem="quadratic", momentum=m)
         for algo, m in (("easgd", 0.0), ("easgd", 0.9), ("downpour", 0.0))]
# the network on the parameter server (one configuration: the digits load in every process)
ASYNC.append(dict(algo="easgd", mode="async", p=P, eta=ETA, rounds=ROUNDS, tau=TAU, problem="digits", momentum=0.9))
FREE = [dict(algo="easgd", mode="async", p=P, eta=ETA, rounds=ROUNDS, tau=1, problem="quadratic", order="any", momentum=m)
        for m in (0.0, 0.9)]
# chapter 04: data-parallel SAM by all-reduce, LSAM (SAM workers) on the parameter server, LSAM free-running
SYNC += [dict(algo="dp_sam", mode="sync", p=P, eta=ETA, rounds=ROUNDS, tau=1, problem=prob, momentum=0.0, rho=0.1)
         for prob in ("quadratic", "digits")]
ASYNC += [dict(algo="lsam", mode="async", p=P, eta=ETA, rounds=ROUNDS, tau=TAU, problem=prob, momentum=0.0, rho=0.1)
          for prob in ("quadratic", "digits")]
FREE.append(dict(algo="lsam", mode="async", p=P, eta=ETA, rounds=ROUNDS, tau=1, problem="quadratic", order="any",
                 momentum=0.0, rho=0.1))


def _simulate(cfg: dict):
    obj = make_objective(cfg["problem"], cfg["p"])
    x0 = obj.initial() if hasattr(obj, "initial") else 5.0 * torch.ones(obj.n, dtype=torch.float64)
    if cfg["algo"] == "downpour":
        return run_downpour(obj, x0, cfg["p"], cfg["eta"], cfg["rounds"], tau=cfg["tau"])
    if cfg["algo"] == "dp_sam":
        return run_dp_sam(obj, x0, cfg["p"], cfg["eta"], cfg["rounds"], rho=cfg["rho"], momentum=cfg["momentum"])
    if cfg["algo"] == "lsam":
        return run_lsam(obj, x0, cfg["p"], cfg["eta"], cfg["rounds"], rho=cfg["rho"], tau=cfg["tau"], momentum=cfg["momentum"])
    return run_easgd(obj, x0, cfg["p"], cfg["eta"], cfg["rounds"], tau=cfg["tau"], momentum=cfg["momentum"],
                     mode=cfg["mode"])


@pytest.fixture(scope="module")
def sync_results():
    return spawn(P, run_batch, SYNC)


@pytest.fixture(scope="module")
def async_results():
    return spawn(P + 1, run_batch, ASYNC + FREE)


@pytest.mark.parametrize("k", range(len(SYNC)), ids=[f"{c['problem']}-{c['algo']}-delta{c['momentum']}" for c in SYNC])
def test_sync_easgd_allreduce_equals_simulation(sync_results, k):
    sim, dist_ = _simulate(SYNC[k]), sync_results[k]
    torch.testing.assert_close(dist_["center"], sim.center, rtol=0, atol=1e-12)
    torch.testing.assert_close(dist_["workers"], sim.workers, rtol=0, atol=1e-12)
    assert not torch.equal(sim.center, dist_["x0"])  # something happened


@pytest.mark.parametrize("k", range(len(ASYNC)),
                         ids=[f"{c['problem']}-{c['algo']}-delta{c['momentum']}" for c in ASYNC])
def test_parameter_server_round_robin_equals_simulation(async_results, k):
    sim, dist_ = _simulate(ASYNC[k]), async_results[k]
    torch.testing.assert_close(dist_["center"], sim.center, rtol=0, atol=1e-12)
    torch.testing.assert_close(dist_["workers"], sim.workers, rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", range(len(FREE)), ids=["easgd", "eamsgd", "lsam"])
def test_free_running_parameter_server_conserves_the_elastic_sum(async_results, k):
    res = async_results[len(ASYNC) + k]
    lhs = res["center"] + res["workers"].sum(dim=0)
    rhs = (P + 1) * res["x0"] + res["displacement"].sum(dim=0)
    torch.testing.assert_close(lhs, rhs, rtol=0, atol=1e-9)
    # and the run made progress on the quadratic (loss well below the start's 0.5 * sum h * 25)
    assert float(res["center_loss"]) < 0.5 * 25 * 5.5


def test_spawn_reraises_a_failing_process():
    with pytest.raises(Exception, match="algo"):
        spawn(2, run_batch, [dict(algo="downpour", mode="sync", p=2, eta=0.1, rounds=2)])


def test_launcher_checks_the_world_size(monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "3")
    with pytest.raises(SystemExit):
        main(["--p", "4", "--mode", "async"])
    assert "needs 5 processes" in capsys.readouterr().err


def _report_threads() -> dict:
    return {"threads": torch.tensor(torch.get_num_threads())}


def test_spawn_shares_the_cores_among_the_processes():
    import os

    assert int(spawn(2, _report_threads)["threads"]) == max(1, (os.cpu_count() or 1) // 2)
    assert int(spawn(1, _report_threads, threads=1)["threads"]) == 1
    with pytest.raises(ValueError, match="threads"):
        spawn(1, _report_threads, threads=0)
