"""The statistic matcher: exact solutions of convex problems, the L-BFGS memory, restarts, losses."""

from __future__ import annotations

import pytest
import torch

from harmonia.synthesis import discrepancy, match_statistics

F64 = torch.float64


def _randn(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


A = _randn(8, 5, seed=1)  # full column rank (almost surely)


def _linear(x):
    return A @ x


def _nonlinear(x):
    return torch.tanh(A @ x) + 0.1 * (A @ x) ** 2


def test_lbfgs_finds_the_least_squares_solution():
    t = _randn(8, seed=2)  # inconsistent: no x has A x = t
    res = match_statistics(_linear, t, torch.zeros(5, dtype=F64), steps=50, tolerance=0.0)
    lstsq = torch.linalg.lstsq(A, t.unsqueeze(-1)).solution.squeeze(-1)
    assert torch.allclose(res.x, lstsq, atol=1e-8, rtol=0)
    assert res.loss == pytest.approx(float(discrepancy(A @ lstsq, t)), rel=1e-10)


def test_consistent_target_is_matched_exactly_and_the_round_stops_early():
    x_true, x0 = _randn(5, seed=3), torch.zeros(5, dtype=F64)
    res = match_statistics(_linear, A @ x_true, x0, steps=100, tolerance=1e-30)
    assert res.loss < 1e-20
    assert torch.allclose(res.x, x_true, atol=1e-12, rtol=0)
    assert len(res.history) < 100 and res.restart_starts == [0]
    # with the default tolerance L-BFGS stops near E ~ tolerance; loss_scale pushes D far below it
    default = match_statistics(_linear, A @ x_true, x0, steps=100)
    scaled = match_statistics(_linear, A @ x_true, x0, steps=100, loss_scale=1e10)
    assert 1e-20 < default.loss < 1e-12 and scaled.loss / 1e10 < 1e-20


def test_adam_reduces_the_loss_and_lr_decay_freezes_it():
    x_true = _randn(5, seed=3)
    x0 = torch.zeros(5, dtype=F64)
    res = match_statistics(_linear, A @ x_true, x0, method="adam", steps=300, lr=0.05)
    assert res.loss < float(discrepancy(A @ x0, A @ x_true)) / 100  # the start has relative loss 1
    frozen = match_statistics(_linear, A @ x_true, x0, method="adam", steps=5, lr=0.05, lr_decay=(1e-12, 1))
    assert frozen.history[0] < 1 and max(frozen.history) - min(frozen.history) < 1e-9


def test_lbfgs_memory_lives_across_iterations_of_a_round():
    """One history entry per iteration, and the iterates are bitwise those of a single
    ``LBFGS.step`` with ``max_iter=steps`` (so the curvature memory is kept), with as many
    evaluations of the statistics."""
    t, x0, n = _nonlinear(_randn(5, seed=4)), torch.zeros(5, dtype=F64), 8
    calls = []
    res = match_statistics(lambda x: calls.append(1) or _nonlinear(x), t, x0, steps=n, tolerance=0.0)
    x = x0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([x], max_iter=n, max_eval=10**6, history_size=50, tolerance_grad=0.0,
                            tolerance_change=0.0, line_search_fn="strong_wolfe")
    evals = []

    def closure():
        evals.append(1)
        opt.zero_grad()
        loss = discrepancy(_nonlinear(x), t)
        loss.backward()
        return loss

    opt.step(closure)
    assert len(res.history) == n and torch.equal(res.x, x.detach())
    assert res.n_evals == len(calls) == len(evals)


def test_restarts_reset_the_memory_and_keep_the_best_iterate():
    t, x0 = _nonlinear(_randn(5, seed=4)), torch.zeros(5, dtype=F64)
    one = match_statistics(_nonlinear, t, x0, steps=12, tolerance=0.0)
    four = match_statistics(_nonlinear, t, x0, steps=3, restarts=4, tolerance=0.0)
    assert four.restart_starts == [0, 3, 6, 9] and len(four.history) == 12
    assert four.history[:3] == one.history[:3] and four.history[3] != one.history[3]
    assert four.loss == min(four.history)
    assert float(discrepancy(_nonlinear(four.x), t)) == pytest.approx(four.loss, rel=1e-12)


def test_nonlinear_statistics_are_matched():
    def stat(x):
        return torch.stack([x.sum(), (x**2).sum()])

    target = stat(_randn(6, seed=5))
    res = match_statistics(stat, target, _randn(6, seed=6), steps=200, restarts=2, tolerance=0.0)
    assert torch.allclose(stat(res.x), target, atol=1e-10, rtol=0)
    assert len(res.restart_starts) == 2  # the first round stalled, the second one started and stopped


def test_complex_statistics_and_batch_dimension():
    x_true = _randn(3, 16, seed=7)  # a batch of 3 signals, recovered from their spectra
    res = match_statistics(torch.fft.fft, torch.fft.fft(x_true), torch.zeros(3, 16, dtype=F64), steps=50,
                           tolerance=0.0)
    assert res.x.shape == (3, 16) and torch.allclose(res.x, x_true, atol=1e-10, rtol=0)
    assert res.loss < 1e-20


def test_x0_unchanged_dtype_device_and_zero_loss_start():
    x0 = _randn(5, seed=8, dtype=torch.float32)
    before = x0.clone()
    def _linear_f32(x):
        return A.float() @ x

    res = match_statistics(_linear_f32, _randn(8, seed=9).float(), x0, steps=5)
    assert torch.equal(x0, before) and not x0.requires_grad
    assert res.x.dtype == torch.float32 and res.x.device == x0.device and not res.x.requires_grad
    at_solution = match_statistics(_linear_f32, _linear_f32(x0), x0, steps=5)
    assert at_solution.loss == 0.0 and at_solution.history == [] and torch.equal(at_solution.x, x0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda():
    A_cuda, x_true = A.cuda(), _randn(5, seed=3).cuda()
    res = match_statistics(lambda x: A_cuda @ x, A_cuda @ x_true, torch.zeros(5, dtype=F64, device="cuda"))
    assert res.x.is_cuda and torch.allclose(res.x, x_true, atol=1e-10, rtol=0)


def test_loss_identities_and_scale():
    phi, t = _randn(4, 6, seed=10), _randn(4, 6, seed=11)
    mse, n, t2 = float(discrepancy(phi, t, "mse")), t.numel(), float(t.square().sum())
    assert float(discrepancy(phi, t, "sum")) == pytest.approx(mse * n, rel=1e-14)
    assert float(discrepancy(phi, t, "relative")) == pytest.approx(mse * n / t2, rel=1e-14)
    z, w = torch.complex(phi, t), torch.complex(t, -phi)
    assert float(discrepancy(z, w, "sum")) == pytest.approx(float(((z - w).abs() ** 2).sum()), rel=1e-14)
    res = match_statistics(_nonlinear, _randn(8, seed=12), torch.zeros(5, dtype=F64), steps=4, loss="mse",
                           loss_scale=1e3)
    assert res.loss == pytest.approx(1e3 * float(discrepancy(_nonlinear(res.x), _randn(8, seed=12), "mse")), rel=1e-12)


def test_callback_stops_early():
    seen = []

    def callback(step, x, loss):
        seen.append((step, x.shape, loss))
        return step == 2

    res = match_statistics(_nonlinear, _randn(8, seed=12), torch.zeros(5, dtype=F64), steps=50, callback=callback)
    assert len(res.history) == 3 and [s for s, _, _ in seen] == [0, 1, 2]
    assert [loss for _, _, loss in seen] == res.history and seen[0][1] == (5,)


def test_bad_inputs():
    x0, t = torch.zeros(5, dtype=F64), _randn(8)
    with pytest.raises(ValueError, match="^method: "):
        match_statistics(_linear, t, x0, method="sgd")
    with pytest.raises(ValueError, match="^loss: "):
        match_statistics(_linear, t, x0, loss="l1")
    with pytest.raises(ValueError, match="^steps: "):
        match_statistics(_linear, t, x0, steps=0)
    with pytest.raises(ValueError, match="^target: expected the shape of stat_fn\\(x0\\) \\(8,\\), got \\(7,\\)"):
        match_statistics(_linear, t[:7], x0)
    with pytest.raises(ValueError, match="^x0: expected finite values"):
        match_statistics(_linear, t, torch.full((5,), float("nan"), dtype=F64))
    with pytest.raises(TypeError, match="^x0: expected a floating dtype"):
        match_statistics(_linear, t, torch.zeros(5, dtype=torch.int64))
    with pytest.raises(ValueError, match="^target: loss='relative' needs a nonzero target"):
        match_statistics(_linear, torch.zeros(8, dtype=F64), x0 + 1)
    with pytest.raises(ValueError, match="^lr_decay: "):
        match_statistics(_linear, t, x0, lr_decay=(0.9, 10))
    with pytest.raises(TypeError, match="^target: expected a real tensor"):
        match_statistics(_linear, t.to(torch.complex128), x0)
