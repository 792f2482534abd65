"""Long runs survive interruption (Ctrl-C in a notebook = KeyboardInterrupt inside the run).

For the loops students start from cells and widgets (an optimizer's step, statistic matching, a training fit,
the Navier-Stokes solver): interrupt at a point inside the run, then check that

- the optimizer's state is consistent: the parameters and the state dict are exactly those of a run stopped
  cleanly before the interrupted step (nothing half-updated), and per-parameter step counters agree;
- no tqdm bar is left open;
- resuming gives bit for bit the result of a run never interrupted, and so does a fresh run.
"""

from __future__ import annotations

import copy

import pytest
import torch
from tqdm import tqdm as std_tqdm

from harmonia.nn.training import fit, standard_closure
from harmonia.optim.sam import SAM
from harmonia.optim.vsgd import VSGD
from harmonia.synthesis import match_statistics

pytestmark = pytest.mark.usefixtures("one_thread")


class Interrupt:
    """A call counter that raises KeyboardInterrupt on call number ``at`` (1-based), like Ctrl-C would there."""

    def __init__(self, at: int | None):
        self.at, self.calls = at, 0

    def tick(self) -> None:
        self.calls += 1
        if self.at is not None and self.calls == self.at:
            raise KeyboardInterrupt(f"interrupted at call {self.calls}")


def _open_bars() -> set:
    return {bar for bar in list(getattr(std_tqdm, "_instances", ())) if not bar.disable}


def _equal(a, b, where="state") -> None:
    """Recursive exact equality of (nested) state dicts, lists and tensors."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b), f"{where}: tensors differ"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{where}: keys {sorted(map(str, a))} != {sorted(map(str, b))}"
        for k in a:
            _equal(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            _equal(x, y, f"{where}[{i}]")
    else:
        assert a == b or (a != a and b != b), f"{where}: {a!r} != {b!r}"


def _snapshot(model: torch.nn.Module, opt: torch.optim.Optimizer) -> dict:
    sd = copy.deepcopy(opt.state_dict())
    # optimizer.state is a defaultdict: merely reading a parameter's entry creates an empty one, same as none
    sd["state"] = {k: v for k, v in sd["state"].items() if v}
    return {"params": [p.detach().clone() for p in model.parameters()], "opt": sd}


# ------------------------------------------------------------------------------------------------ optimizers
def _problem(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(6, 32, 5, generator=g, dtype=torch.float64)  # 6 fixed batches
    w = torch.randn(5, 2, generator=g, dtype=torch.float64)
    Y = X @ w + 0.1 * torch.randn(6, 32, 2, generator=g, dtype=torch.float64)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).double()
    return model, X, Y


def _closure(model, xb, yb, counter: Interrupt):
    def closure():
        counter.tick()
        model.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        loss.backward()
        return loss

    return closure


def _run(make_opt, steps: int, interrupt_at: int | None = None):
    """``steps`` optimizer steps over the fixed batches; returns (model, opt, snapshots after each completed
    step, index of the interrupted step or None)."""
    model, X, Y = _problem()
    opt = make_opt(model.parameters())
    counter = Interrupt(interrupt_at)
    snaps = [_snapshot(model, opt)]
    for k in range(steps):
        try:
            opt.step(_closure(model, X[k % 6], Y[k % 6], counter))
        except KeyboardInterrupt:
            return model, opt, snaps, k
        snaps.append(_snapshot(model, opt))
    return model, opt, snaps, None


def _resume(model, opt, start: int, steps: int):
    _, X, Y = _problem()
    for k in range(start, steps):
        opt.step(_closure(model, X[k % 6], Y[k % 6], Interrupt(None)))
    return _snapshot(model, opt)


OPTIMIZERS = {
    # vSGD-fd calls the closure twice a step (the gradient, then the finite-difference probe at theta + gbar,
    # with the parameters shifted in place); slow start n0 = 2 (two steps that only collect statistics)
    "vsgd-fd": (lambda ps: VSGD(ps, variant="l", curvature="fd", n0=2), 2),
    "vsgd-fd-b": (lambda ps: VSGD(ps, variant="b", curvature="fd", n0=2), 2),
    # SAM calls it twice a step too (at w, then at w + eps with the parameters moved in place), then Adam steps
    "sam-adam": (lambda ps: SAM(ps, torch.optim.Adam, rho=0.05, lr=1e-2), 2),
}
STEPS = 6


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("call", [1, 2, 3, 4, 7, 8])  # first or second closure call of steps 1, 2 and 4
def test_optimizer_interrupted_in_its_closure_is_consistent_and_resumes(name, call):
    make_opt, calls_per_step = OPTIMIZERS[name]
    _, _, reference, stopped = _run(make_opt, STEPS)
    assert stopped is None and len(reference) == STEPS + 1
    model, opt, snaps, k = _run(make_opt, STEPS, interrupt_at=call)
    assert k == (call - 1) // calls_per_step, "interrupted in the expected step"
    # nothing half-done: exactly the state of a run stopped cleanly before step k
    _equal(_snapshot(model, opt), reference[k], f"{name} after the interrupt in step {k}")
    state = opt.state_dict()["state"]
    if name.startswith("sam"):
        steps = {float(s["step"]) for s in state.values()}
        assert steps <= {float(k)} and (k == 0 or steps == {float(k)}), "Adam's step counters agree across params"
        assert not any("old_p" in opt.state[p] for p in model.parameters()), "SAM left its saved weights behind"
    elif k >= 2:  # vSGD keeps its update counter with the first parameter, its statistics with every one
        assert {"gbar", "vbar", "hbar", "tau", "lr"} <= set(opt.state[next(model.parameters())])
        assert all(set(s) >= {"gbar", "vbar", "hbar", "tau", "lr"} for s in state.values())
    # resuming with the same batches lands bit for bit on the uninterrupted run
    _equal(_resume(model, opt, k, STEPS), reference[-1], f"{name} resumed")
    # and a fresh run afterwards is unaffected
    _equal(_run(make_opt, STEPS)[2][-1], reference[-1], f"{name} fresh run")


def test_vsgd_update_counter_counts_completed_updates_only():
    make_opt, _ = OPTIMIZERS["vsgd-fd"]
    _, _, reference, _ = _run(make_opt, STEPS)
    model, opt, snaps, k = _run(make_opt, STEPS, interrupt_at=2 * 4 + 2)  # the probe of step 4 (0-based)
    assert k == 4
    t_ref = [int(s["opt"]["state"][0]["t"]) for s in reference[2:]]  # after the slow start
    assert t_ref == sorted(t_ref) and len(set(t_ref)) == len(t_ref), "t increases by one per update"
    assert int(opt.state_dict()["state"][0]["t"]) == int(reference[k]["opt"]["state"][0]["t"])


# ------------------------------------------------------------------------------------------------ synthesis
def _stat_fn(counter: Interrupt):
    def stat(x):
        counter.tick()
        return torch.stack([x.mean(), (x ** 2).mean(), (x ** 3).mean(), x[..., 1:].mul(x[..., :-1]).mean()])

    return stat


def _synthesis(method: str, counter: Interrupt, callback=None):
    g = torch.Generator().manual_seed(3)
    target = torch.tensor([0.1, 1.2, 0.3, 0.5], dtype=torch.float64)
    x0 = torch.randn(64, generator=g, dtype=torch.float64)
    return match_statistics(_stat_fn(counter), target, x0, method=method, steps=15, restarts=2, progress=True,
                            callback=callback)


@pytest.mark.parametrize("method", ["lbfgs", "adam"])
@pytest.mark.parametrize("where", ["stat_fn", "callback"])
def test_match_statistics_interrupted_leaves_no_bar_and_reruns_identically(method, where):
    before = _open_bars()
    reference = _synthesis(method, Interrupt(None))
    assert _open_bars() == before and len(reference.history) > 5
    if where == "stat_fn":
        with pytest.raises(KeyboardInterrupt) as info:
            _synthesis(method, Interrupt(6))
    else:
        stopper = Interrupt(4)
        with pytest.raises(KeyboardInterrupt) as info:
            _synthesis(method, Interrupt(None), callback=lambda step, x, loss: stopper.tick())
    # the traceback (kept alive by `info`, as Jupyter keeps sys.last_traceback) must not hold an open bar
    assert info.value is not None
    assert _open_bars() == before, "an interrupted match_statistics left its tqdm bar open"
    again = _synthesis(method, Interrupt(None))
    assert torch.equal(again.x, reference.x) and again.history == reference.history


# ------------------------------------------------------------------------------------------------ training
def _fit(interrupt_at: int | None, record: list | None = None):
    g = torch.Generator().manual_seed(1)
    X = torch.randn(96, 4, generator=g)
    y = (X[:, 0] + X[:, 1] > 0).long()
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    counter, base = Interrupt(interrupt_at), standard_closure(torch.nn.functional.cross_entropy)

    def make_closure(m, xb, yb):
        inner = base(m, xb, yb)

        def closure():
            if record is not None:
                record.append(_snapshot(model, opt))  # the state before this step
            counter.tick()
            return inner()

        return closure

    try:
        hist = fit(model, opt, X, y, epochs=4, batch_size=16, make_closure=make_closure, seed=0, progress=True)
    except KeyboardInterrupt as err:  # returned with its traceback, as Jupyter keeps sys.last_traceback
        return model, opt, err
    return model, opt, hist


@pytest.mark.parametrize("call", [1, 9, 17])  # step 1 of epoch 1, step 3 of epoch 2, step 5 of epoch 3
def test_fit_interrupted_is_consistent_leaves_no_bar_and_reruns_identically(call):
    before = _open_bars()
    states: list = []
    ref_model, ref_opt, ref_hist = _fit(None, record=states)
    assert ref_hist is not None and len(states) == 4 * 6
    model, opt, hist = _fit(call)
    assert isinstance(hist, KeyboardInterrupt) and hist.__traceback__ is not None, "the interrupt reaches the caller"
    assert _open_bars() == before, "an interrupted fit left its tqdm bar open"
    _equal(_snapshot(model, opt), states[call - 1], "fit after the interrupt")
    counters = {float(s["step"]) for s in opt.state_dict()["state"].values()}
    assert counters <= {float(call - 1)} and len(counters) <= 1, "Adam's step counters agree across params"
    again_model, _, again_hist = _fit(None)
    assert again_hist.train_loss == ref_hist.train_loss and again_hist.batch_loss == ref_hist.batch_loss
    for a, b in zip(again_model.parameters(), ref_model.parameters()):
        assert torch.equal(a, b)


# ------------------------------------------------------------------------------------------------ solver
def test_navier_stokes_run_interrupted_leaves_no_bar_and_reruns_identically(monkeypatch):
    from harmonia.data.turbulence import NavierStokes2D, initial_vorticity

    solver = NavierStokes2D(16)
    w0 = initial_vorticity(16, seed=0)[0]
    before = _open_bars()
    reference = solver.run(w0, 2.0, progress=True)
    counter, step = Interrupt(5), solver._step_hat

    def interrupted(*args, **kwargs):
        counter.tick()
        return step(*args, **kwargs)

    monkeypatch.setattr(solver, "_step_hat", interrupted)
    with pytest.raises(KeyboardInterrupt) as info:
        solver.run(w0, 2.0, progress=True)
    assert info.value is not None and counter.calls == 5
    assert _open_bars() == before, "an interrupted NavierStokes2D.run left its tqdm bar open"
    monkeypatch.undo()
    again = solver.run(w0, 2.0, progress=True)
    assert torch.equal(again.omega, reference.omega) and again.n_steps == reference.n_steps
    assert torch.equal(w0, initial_vorticity(16, seed=0)[0]), "the initial condition was not modified"


# ------------------------------------------------------------------------------------------------ DAN training
def _dan_run(interrupt_at: int | None):
    from harmonia.assimilation.dan import DAN, train_online
    from harmonia.assimilation.models import lorenz96_initial, lorenz96_model

    m = lorenz96_model(n=8)
    torch.manual_seed(0)
    dan = DAN(m.n, m.p, 8, 1)
    g = torch.Generator().manual_seed(0)
    x = lorenz96_initial(4, m, burn_in=20, generator=g, dtype=torch.float32)
    opt = torch.optim.Adam(dan.parameters(), lr=1e-3)
    counter = Interrupt(interrupt_at)

    class Tick:  # stepped by train_online after each optimiser step: the interrupt lands between two steps
        def step(self):
            counter.tick()

    try:
        out = train_online(dan, m, x, opt, 6, generator=g, scheduler=Tick(), progress=True)
    except KeyboardInterrupt as err:  # kept with its traceback, as Jupyter does
        return dan, opt, err
    return dan, opt, out


@pytest.fixture
def bars_enabled(monkeypatch):
    """train_online's bar takes tqdm's default `disable`, which the tests' TQDM_DISABLE=1 turns on (tqdm reads it at
    import): show it anyway, as a student's notebook does."""
    import tqdm.auto

    class Shown(tqdm.auto.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**kwargs, "disable": False})

    monkeypatch.setattr(tqdm.auto, "tqdm", Shown)


def test_dan_training_interrupted_leaves_no_bar_and_reruns_identically(bars_enabled):
    before = _open_bars()
    dan_ref, opt_ref, (x_ref, _, hist_ref) = _dan_run(None)
    assert len(_open_bars() - before) == 0
    dan, opt, err = _dan_run(3)
    assert isinstance(err, KeyboardInterrupt) and err.__traceback__ is not None
    assert _open_bars() == before, "an interrupted train_online left its tqdm bar open"
    counters = {float(s["step"]) for s in opt.state_dict()["state"].values()}
    assert counters == {3.0}, "three optimiser steps completed, on every parameter"
    dan2, _, (x2, _, hist2) = _dan_run(None)
    assert torch.equal(x2, x_ref) and hist2.loss == hist_ref.loss
    assert all(torch.equal(a, b) for a, b in zip(dan2.parameters(), dan_ref.parameters()))
