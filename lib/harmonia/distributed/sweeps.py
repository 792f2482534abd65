"""Jacobi and Gauss-Seidel sweeps: one family for EASGD and DOWNPOUR.

The state is a list of blocks (workers :math:`x^1..x^p`, accumulators, the center :math:`\\tilde x`). A *move*
reads the state and returns additive increments for some blocks. One sweep applies every move once:

- ``"jacobi"``: every move reads the *old* state and the increments are summed (synchronous methods);
- ``"gauss_seidel"``: the moves run one after another in list order, each reading the freshest state
  (round robin); ``"random"``: the same in a random order (a free-running asynchronous sweep).

EASGD's exchange moves (:func:`easgd_moves`) give synchronous EASGD under Jacobi and round-robin EASGD under
Gauss-Seidel; DOWNPOUR's moves (:func:`downpour_moves`) push the accumulated step, pull the center and step.
:func:`block_moves` turns classical block rules :math:`x_k\\leftarrow T_k(\\text{state})` into moves, e.g. the
blocks of the EASGD objective (:func:`easgd_block_rules`): with one worker and :math:`\\alpha=1`, Gauss-Seidel
with the center first is exactly DOWNPOUR (SGD), while the Jacobi exchange swaps worker and center.

Used in: chapter 03.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from harmonia.config import check_finite, check_in, check_positive, make_generator

__all__ = ["sweep", "sweep_map", "easgd_moves", "downpour_moves", "block_moves", "easgd_block_rules"]

State = list[torch.Tensor]
Move = Callable[[State], dict[int, torch.Tensor]]
Grad = Callable[[torch.Tensor, int], torch.Tensor]

ORDERS = ("jacobi", "gauss_seidel", "random")


def sweep(state: Sequence[torch.Tensor], moves: Sequence[Move], order: str = "jacobi",
          generator: torch.Generator | int | None = None) -> State:
    """Apply every move once in the given ``order``; returns the new list of blocks (the input is not modified)."""
    check_in(order, "order", ORDERS)
    state = [s.clone() for s in state]
    if order == "jacobi":
        total: dict[int, torch.Tensor] = {}
        for move in moves:
            for k, d in move(state).items():
                total[k] = total[k] + d if k in total else d
        return [s + total[k] if k in total else s for k, s in enumerate(state)]
    seq = range(len(moves))
    if order == "random":
        seq = torch.randperm(len(moves), generator=make_generator(generator)).tolist()
    for j in seq:
        for k, d in moves[j](state).items():
            state[k] = state[k] + d
    return state


def sweep_map(moves: Sequence[Move], sizes: Sequence[int], order: str = "jacobi",
              dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Matrix of one sweep of *linear* moves on blocks of the given ``sizes`` (applied to the unit vectors)."""
    check_in(order, "order", ("jacobi", "gauss_seidel"))
    n = sum(check_positive(s, "sizes", integer=True) for s in sizes)
    cols = []
    bounds = torch.tensor([0, *sizes]).cumsum(0).tolist()
    for j in range(n):
        e = torch.zeros(n, dtype=dtype)
        e[j] = 1.0
        blocks = [e[bounds[k]:bounds[k + 1]] for k in range(len(sizes))]
        cols.append(torch.cat(sweep(blocks, moves, order)))
    return torch.stack(cols, dim=1)


def easgd_moves(p: int, eta: float, alpha: float, grad: Grad) -> list[Move]:
    """EASGD exchanges on blocks ``(x^1..x^p, center)``: move ``i`` takes :math:`d=\\alpha(x^i-\\tilde x)` and
    :math:`g=\\nabla f_i(x^i)` from the state it reads, and adds :math:`-\\eta g-d` to :math:`x^i`, :math:`+d` to
    :math:`\\tilde x`."""
    p = check_positive(p, "p", integer=True)
    check_finite(eta, "eta")
    check_finite(alpha, "alpha")

    def make(i: int) -> Move:
        def move(s: State) -> dict[int, torch.Tensor]:
            d = alpha * (s[i] - s[p])
            return {i: -eta * grad(s[i], i) - d, p: d}
        return move

    return [make(i) for i in range(p)]


def downpour_moves(p: int, eta: float, grad: Grad) -> list[Move]:
    """DOWNPOUR (:math:`\\tau=1`) on blocks ``(x^1..x^p, u^1..u^p, center)``: move ``i`` pushes
    :math:`\\tilde x\\leftarrow\\tilde x+u^i`, pulls :math:`x^i\\leftarrow\\tilde x` and steps,
    :math:`x^i\\leftarrow x^i-\\eta g(x^i)`, :math:`u^i\\leftarrow-\\eta g(x^i)`."""
    p = check_positive(p, "p", integer=True)
    check_finite(eta, "eta")
    c = 2 * p

    def make(i: int) -> Move:
        def move(s: State) -> dict[int, torch.Tensor]:
            pulled = s[c] + s[p + i]
            step = -eta * grad(pulled, i)
            return {c: s[p + i], i: pulled + step - s[i], p + i: step - s[p + i]}
        return move

    return [make(i) for i in range(p)]


def block_moves(rules: Sequence[Callable[[State], torch.Tensor]]) -> list[Move]:
    """Classical block rules :math:`x_k\\leftarrow T_k(\\text{state})` as moves (increment :math:`T_k-x_k`)."""
    def make(k: int, rule: Callable[[State], torch.Tensor]) -> Move:
        return lambda s: {k: rule(s) - s[k]}

    return [make(k, r) for k, r in enumerate(rules)]


def easgd_block_rules(p: int, eta: float, alpha: float, grad: Grad) -> list[Callable[[State], torch.Tensor]]:
    """The fixed-point map of the EASGD objective, block by block on ``(x^1..x^p, center)``:
    :math:`T_i=x^i-\\eta\\nabla f_i(x^i)-\\alpha(x^i-\\tilde x)`, :math:`T_c=\\tilde x+\\alpha\\sum_i(x^i-\\tilde x)`."""
    p = check_positive(p, "p", integer=True)
    check_finite(eta, "eta")
    check_finite(alpha, "alpha")

    def worker(i: int) -> Callable[[State], torch.Tensor]:
        return lambda s: s[i] - eta * grad(s[i], i) - alpha * (s[i] - s[p])

    def center(s: State) -> torch.Tensor:
        return s[p] + alpha * sum(s[i] - s[p] for i in range(p))

    return [worker(i) for i in range(p)] + [center]
