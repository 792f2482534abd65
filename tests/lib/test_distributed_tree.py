"""EASGD-Tree (Zhang 2016, PhD thesis; the per-round schedule and the checks below are the course's design), simulated
and on torch.distributed sub-groups: the tree helpers (parents validation, leaves, heights, levels, edges), the
per-edge rates and per-level periods, depth 1 = flat EASGD (Jacobi = synchronous, Gauss-Seidel = round robin, also
EAMSGD and the digits network), a chain whose top rate is 0 keeps the root at x0, the conservation law, a reference
loop written here, the message counts, chapter 03's part-E claims at reduced size (our prototype's values), bad
arguments, and SIM == DIST on gloo (rank 0's nodes equal the simulation to 1e-12 and every node's replicas are
bit-identical across the ranks that hold it). All gloo configurations run in ONE process group (one spawn for the
file)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.distributed as dist

from harmonia.distributed import AdditiveNoiseQuadratic, make_objective, run_easgd, run_msgd
from harmonia.distributed.engine import dist_tree_easgd
from harmonia.distributed.launch import main, run_batch, spawn
from harmonia.distributed.tree import Tree, TreeResult, edge_rates, level_periods, run_easgd_tree

F64 = torch.float64
IRREGULAR = [-1, 0, 0, 1, 1, 1, 2]  # root 0; node 1 has leaves 3, 4, 5; node 2 has the single leaf 6


def _quadratic(p: int, seed: int = 0):
    """The 10-D quadratic of chapter 02's part C and chapter 03's part E: h = linspace(0.1, 1, 10), sigma = 1,
    x0 = 5 * ones."""
    obj = make_objective("quadratic", p, seed=seed)
    return obj, 5.0 * torch.ones(obj.n, dtype=F64)


def _small_quadratic(p: int, seed: int = 4) -> AdditiveNoiseQuadratic:
    h = torch.tensor([0.3, 1.0, 1.7, 0.6, 2.2], dtype=F64)
    return AdditiveNoiseQuadratic(h, sigma=0.7, p=p, seed=seed)


# ------------------------------------------------------------------------------ Tree structure
@pytest.mark.parametrize("parents", [[0, 0], [1, 0, 0], [-1, -1, 0], [-1, 2, 1], [-1, 0, 3, 2], [-1, 0, 5],
                                     [-1, -2], [-1, 1], [-1], []],
                         ids=["no-root", "no-root-3", "two-roots", "cycle", "cycle-4", "out-of-range", "below-minus-1",
                              "self-parent", "single-node", "empty"])
def test_tree_rejects_bad_parent_arrays(parents):
    with pytest.raises(ValueError, match=r"^parents: expected"):
        Tree(parents)


def test_tree_cycle_message_names_the_cycle():
    with pytest.raises(ValueError, match=r"^parents: expected a tree, got a cycle"):
        Tree([-1, 2, 1])


def test_irregular_tree_structure():
    t = Tree(IRREGULAR)
    assert len(t) == 7 and t.root == 0 and t.p == 4
    assert t.leaves == [3, 4, 5, 6]
    assert t.children == [[1, 2], [3, 4, 5], [6], [], [], [], []]
    assert t.height == [2, 1, 1, 0, 0, 0, 0]
    assert t.levels == [1, 2]
    assert t.edges(1) == [(3, 1), (4, 1), (5, 1), (6, 2)]
    assert t.edges(2) == [(1, 0), (2, 0)]
    assert t.edges(3) == []
    assert t.subtree_leaves(0) == [3, 4, 5, 6]
    assert t.subtree_leaves(1) == [3, 4, 5]
    assert t.subtree_leaves(2) == [6]
    assert t.subtree_leaves(5) == [5]
    assert [t.depth_of(k) for k in range(7)] == [0, 1, 1, 2, 2, 2, 2]
    assert [t.worker(leaf) for leaf in t.leaves] == [0, 1, 2, 3]


def test_tree_with_the_root_elsewhere_and_a_leaf_on_a_higher_level():
    # node 2 is the root; its children are 0 (internal, with leaves 1 and 3) and nothing else
    t = Tree([2, 0, -1, 0])
    assert t.root == 2 and t.leaves == [1, 3] and t.height == [1, 0, 2, 0]
    assert t.edges(1) == [(1, 0), (3, 0)] and t.edges(2) == [(0, 2)]
    # a leaf hanging from the root next to a deeper subtree exchanges at the root's level
    u = Tree([-1, 0, 0, 1, 1])
    assert u.leaves == [2, 3, 4] and u.levels == [1, 2]
    assert u.edges(1) == [(3, 1), (4, 1)] and u.edges(2) == [(1, 0), (2, 0)]


def test_flat_and_regular_trees():
    f = Tree.flat(5)
    assert f.parents == [-1, 0, 0, 0, 0, 0] and f.leaves == [1, 2, 3, 4, 5] and f.levels == [1]
    assert f.edges(1) == [(k, 0) for k in range(1, 6)]
    for degree, depth in [(2, 1), (2, 2), (4, 2), (3, 3), (1, 3)]:
        t = Tree.regular(degree, depth)
        assert t.p == degree**depth
        assert len(t) == sum(degree**k for k in range(depth + 1))
        assert t.levels == list(range(1, depth + 1))
        for level in t.levels:  # numbered level by level: the edges of a level are degree**(depth-level+1)
            assert len(t.edges(level)) == degree ** (depth - level + 1)
        assert all(len(c) in (0, degree) for c in t.children)
        assert all(t.depth_of(leaf) == depth for leaf in t.leaves)
    assert Tree.regular(2, 2).parents == [-1, 0, 0, 1, 1, 2, 2]
    assert Tree.regular(4, 2).subtree_leaves(2) == [9, 10, 11, 12]
    with pytest.raises(ValueError, match=r"^p: expected a positive int"):
        Tree.flat(0)
    with pytest.raises(ValueError, match=r"^degree: expected a positive int"):
        Tree.regular(0, 2)
    with pytest.raises(ValueError, match=r"^depth: expected a positive int"):
        Tree.regular(2, 0)


# ------------------------------------------------------------------------------ rates and periods
def test_edge_rates_default_is_beta_over_the_number_of_children():
    t = Tree(IRREGULAR)
    assert edge_rates(t) == pytest.approx([0.0, 0.45, 0.45, 0.3, 0.3, 0.3, 0.9], abs=1e-15)
    assert edge_rates(t, beta=0.6) == pytest.approx([0.0, 0.3, 0.3, 0.2, 0.2, 0.2, 0.6], abs=1e-15)
    assert edge_rates(Tree.flat(4)) == pytest.approx([0.0] + [0.9 / 4] * 4, abs=1e-15)


def test_edge_rates_per_level_mapping_and_sequence():
    t = Tree(IRREGULAR)
    expected = [0.0, 0.2, 0.2, 0.5, 0.5, 0.5, 0.5]
    assert edge_rates(t, {1: 0.5, 2: 0.2}) == expected
    assert edge_rates(t, [0.5, 0.2]) == expected
    assert edge_rates(t, (0.5, 0.2)) == expected
    assert edge_rates(t, [0.0, 1.0]) == [0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]  # both ends of [0, 1] allowed


@pytest.mark.parametrize("alphas", [[0.5], {1: 0.5}, {2: 0.5}, []])
def test_edge_rates_missing_level(alphas):
    with pytest.raises(ValueError, match=r"^alphas: expected a value for level"):
        edge_rates(Tree(IRREGULAR), alphas)


@pytest.mark.parametrize("alphas", [[0.5, 1.2], [-0.1, 0.5], {1: 0.5, 2: float("nan")}])
def test_edge_rates_outside_the_unit_interval(alphas):
    with pytest.raises(ValueError, match=r"^alphas: expected moving rates in \[0, 1\]"):
        edge_rates(Tree(IRREGULAR), alphas)
    with pytest.raises(ValueError, match=r"^beta: expected a value in \(0, 1\]"):  # default beta / d_q: beta named
        edge_rates(Tree(IRREGULAR), beta=1.5)


def test_level_periods_forms():
    t = Tree.regular(2, 3)
    assert level_periods(t) == {1: 1, 2: 1, 3: 1}
    assert level_periods(t, 4) == {1: 4, 2: 4, 3: 4}
    assert level_periods(t, [1, 2, 8]) == {1: 1, 2: 2, 3: 8}
    assert level_periods(t, (1, 2, 8)) == {1: 1, 2: 2, 3: 8}
    assert level_periods(t, {3: 5, 1: 2, 2: 3}) == {1: 2, 2: 3, 3: 5}


@pytest.mark.parametrize(("taus", "exc", "msg"), [
    ([1, 2], ValueError, r"^taus: expected a value for level 3"),
    ({1: 1, 2: 2}, ValueError, r"^taus: expected a value for level 3"),
    (0, ValueError, r"^taus: expected a positive int"),
    ([1, 0, 2], ValueError, r"^taus: expected a positive int"),
    ({1: 1, 2: -2, 3: 1}, ValueError, r"^taus: expected a positive int"),
    ([1, 2.5, 2], TypeError, r"^taus: expected a positive int"),
    (True, TypeError, r"^taus: expected an int, a sequence or a mapping"),
])
def test_level_periods_errors(taus, exc, msg):
    with pytest.raises(exc, match=msg):
        level_periods(Tree.regular(2, 3), taus)


@pytest.mark.parametrize("taus", [np.int64(3), 2.0], ids=["np.int64", "float"])
def test_level_periods_scalar_that_is_not_a_python_int(taus):
    t = Tree.regular(2, 2)
    if isinstance(taus, np.integer):
        assert level_periods(t, taus) == {1: 3, 2: 3}
    else:
        with pytest.raises((TypeError, ValueError), match=r"^taus: "):
            level_periods(t, taus)


# ------------------------------------------------------------------------------ depth 1 = flat EASGD
@pytest.mark.parametrize("tau", [1, 3])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_depth_one_jacobi_is_synchronous_easgd(tau, momentum):
    p, eta, rounds = 4, 0.05, 40
    obj, x0 = _quadratic(p, seed=1)
    tree = run_easgd_tree(obj, x0, Tree.flat(p), eta, rounds, taus=tau, momentum=momentum)
    flat = run_easgd(obj, x0, p, eta, rounds, tau=tau, momentum=momentum, mode="sync")
    torch.testing.assert_close(tree.root, flat.center, rtol=0, atol=1e-12)
    torch.testing.assert_close(tree.nodes[1:], flat.workers, rtol=0, atol=1e-12)
    torch.testing.assert_close(tree.displacement, flat.displacement, rtol=0, atol=1e-12)
    assert tree.history.rounds == flat.history.rounds
    assert tree.history.messages == flat.history.messages
    assert tree.history.center_loss == pytest.approx(flat.history.center_loss, rel=1e-12, abs=1e-12)
    assert float((flat.center - x0).abs().min()) > 0.1  # not vacuous


@pytest.mark.parametrize("tau", [1, 3])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_depth_one_gauss_seidel_is_round_robin_easgd(tau, momentum):
    p, eta, rounds = 4, 0.05, 40
    obj, x0 = _quadratic(p, seed=2)
    tree = run_easgd_tree(obj, x0, Tree.flat(p), eta, rounds, taus=tau, momentum=momentum, order="gauss_seidel")
    rr = run_easgd(obj, x0, p, eta, rounds, tau=tau, momentum=momentum, mode="async", schedule="round_robin")
    # the same elementary operations in the same order: bit-identical
    assert torch.equal(tree.root, rr.center)
    assert torch.equal(tree.nodes[1:], rr.workers)
    assert tree.history.messages == rr.history.messages
    # and Gauss-Seidel is not Jacobi
    jac = run_easgd_tree(obj, x0, Tree.flat(p), eta, rounds, taus=tau, momentum=momentum)
    assert float((jac.root - tree.root).abs().max()) > 1e-6


@pytest.mark.parametrize("order", ["jacobi", "gauss_seidel"])
def test_depth_one_on_the_digits_network(order):
    p, eta, rounds, tau = 3, 0.1, 12, 2
    obj = make_objective("digits", p, hidden=8, batch_size=16)
    x0 = obj.initial()
    tree = run_easgd_tree(obj, x0, Tree.flat(p), eta, rounds, taus=tau, order=order, momentum=0.5)
    mode = "sync" if order == "jacobi" else "async"
    flat = run_easgd(obj, x0, p, eta, rounds, tau=tau, momentum=0.5, mode=mode)
    torch.testing.assert_close(tree.root, flat.center, rtol=0, atol=1e-12)
    torch.testing.assert_close(tree.nodes[1:], flat.workers, rtol=0, atol=1e-12)
    assert float((flat.center - x0).abs().max()) > 1e-3


# ------------------------------------------------------------------------------ limiting cases
@pytest.mark.parametrize("order", ["jacobi", "gauss_seidel"])
def test_chain_with_a_zero_top_rate_keeps_the_root_at_x0(order):
    obj, x0 = _quadratic(1, seed=3)
    res = run_easgd_tree(obj, x0, Tree([-1, 0, 1]), 0.05, 60, alphas=[0.5, 0.0], taus=[1, 2], order=order)
    assert torch.equal(res.root, x0)
    assert float((res.nodes[1] - x0).abs().min()) > 0.1  # the middle node did move (toward the leaf)
    assert float((res.nodes[2] - x0).abs().min()) > 0.1
    assert res.node_messages == [30, 60, 0]  # messages are counted even at rate 0


def test_chain_with_a_zero_bottom_rate_leaves_the_leaf_running_sgd():
    obj, x0 = _quadratic(1, seed=3)
    res = run_easgd_tree(obj, x0, Tree([-1, 0, 1]), 0.05, 60, alphas=[0.0, 0.7], taus=1)
    assert torch.equal(res.root, x0) and torch.equal(res.nodes[1], x0)  # the two centers only see each other
    assert torch.equal(res.nodes[2], run_msgd(obj, x0, 0.05, 60).workers[0])


@pytest.mark.parametrize("order", ["jacobi", "gauss_seidel"])
@pytest.mark.parametrize("parents", [Tree.regular(2, 2).parents, IRREGULAR, [-1, 0, 1, 1, 2, 2, 3, 3]],
                         ids=["2x2", "irregular", "3-level"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_conservation_of_the_sum_of_all_nodes(order, parents, momentum):
    tree = Tree(parents)
    obj, x0 = _quadratic(tree.p, seed=5)
    res = run_easgd_tree(obj, x0, tree, 0.05, 80, taus=list(range(1, len(tree.levels) + 1)), order=order,
                         momentum=momentum)
    assert isinstance(res, TreeResult) and res.displacement.shape == (tree.p, 10)
    lhs = res.nodes.sum(0)
    rhs = len(tree) * x0 + res.displacement.sum(0)
    torch.testing.assert_close(lhs, rhs, rtol=0, atol=1e-9)
    # not vacuous: the root moved and the leaves' displacements are large
    assert float((res.root - x0).abs().min()) > 0.1 and float(res.displacement.abs().max()) > 1.0


# ------------------------------------------------------------------------------ reference loop (the tree round)
def _reference_tree(obj, x0, parents, eta, rounds, taus, alphas=None, beta=0.9, order="jacobi", momentum=0.0):
    """T3 written with plain loops over the edges: gradients at the pre-exchange leaves (at x + delta v with
    momentum), levels from the leaves up whenever tau_level divides the round (Jacobi: all edges of the level
    from one snapshot; Gauss-Seidel: child by child in index order), then the leaves' local steps."""
    n = len(parents)
    children = [[c for c in range(n) if parents[c] == q] for q in range(n)]

    def height(k):
        return 0 if not children[k] else 1 + max(height(c) for c in children[k])

    heights = [height(k) for k in range(n)]
    root = parents.index(-1)
    leaves = [k for k in range(n) if not children[k]]
    rate = {c: (alphas[heights[q] - 1] if alphas is not None else beta / len(children[q]))
            for c, q in enumerate(parents) if q >= 0}
    nodes = [x0.clone() for _ in range(n)]
    vel = [torch.zeros_like(x0) for _ in leaves]
    obj.reset()
    for t in range(rounds):
        grads = [obj.grad((nodes[leaf] + momentum * vel[w])[None], [w])[0] for w, leaf in enumerate(leaves)]
        for level in range(1, heights[root] + 1):
            if t % taus[level - 1] != 0:
                continue
            edges = [(c, q) for c in range(n) for q in [parents[c]] if q >= 0 and heights[q] == level]
            if order == "jacobi":
                old = [x.clone() for x in nodes]
                for c, q in edges:
                    d = rate[c] * (old[c] - old[q])
                    nodes[c] = nodes[c] - d
                    nodes[q] = nodes[q] + d
            else:
                for c, q in edges:
                    d = rate[c] * (nodes[c] - nodes[q])
                    nodes[c], nodes[q] = nodes[c] - d, nodes[q] + d
        for w, leaf in enumerate(leaves):
            vel[w] = momentum * vel[w] - eta * grads[w]
            nodes[leaf] = nodes[leaf] + vel[w]
    return torch.stack(nodes)


@pytest.mark.parametrize("order", ["jacobi", "gauss_seidel"])
@pytest.mark.parametrize(("parents", "taus", "alphas", "momentum"), [
    (Tree.regular(2, 2).parents, [1, 2], None, 0.0),
    (Tree.regular(2, 2).parents, [2, 3], [0.3, 0.15], 0.9),
    (Tree.regular(2, 3).parents, [1, 3, 4], None, 0.0),
    (Tree.regular(2, 3).parents, [2, 1, 5], [0.4, 0.25, 0.1], 0.5),
    (IRREGULAR, [1, 3], None, 0.0),
], ids=["2x2", "2x2-alphas-momentum", "2x2x2", "2x2x2-alphas-momentum", "irregular"])
def test_simulation_equals_a_reference_loop(order, parents, taus, alphas, momentum):
    tree = Tree(parents)
    obj = _small_quadratic(tree.p)
    x0 = torch.linspace(-2.0, 3.0, 5, dtype=F64)
    eta, rounds = 0.07, 31
    ref = _reference_tree(obj, x0, parents, eta, rounds, taus, alphas, order=order, momentum=momentum)
    res = run_easgd_tree(obj, x0, tree, eta, rounds, alphas=alphas, taus=taus, order=order, momentum=momentum)
    torch.testing.assert_close(res.nodes, ref, rtol=0, atol=1e-12)
    assert float((ref[tree.root] - x0).abs().min()) > 1e-2


def test_jacobi_and_gauss_seidel_differ_on_a_tree():
    tree = Tree.regular(3, 2)
    obj, x0 = _quadratic(tree.p)
    jac = run_easgd_tree(obj, x0, tree, 0.05, 20)
    gs = run_easgd_tree(obj, x0, tree, 0.05, 20, order="gauss_seidel")
    assert float((jac.root - gs.root).abs().max()) > 1e-6


# ------------------------------------------------------------------------------ messages and history
def test_message_counts_and_history():
    tree = Tree(IRREGULAR)
    obj, x0 = _quadratic(tree.p)
    rounds, taus = 23, (2, 5)
    res = run_easgd_tree(obj, x0, tree, 0.05, rounds, taus=taus, record_every=4)
    ex1, ex2 = math.ceil(rounds / 2), math.ceil(rounds / 5)  # exchanges at t = 0, tau, 2 tau, ...
    assert res.node_messages == [2 * ex2, 3 * ex1, 1 * ex1, 0, 0, 0, 0]
    h = res.history
    assert h.rounds == [0, 4, 8, 12, 16, 20, 23]
    assert h.messages == [2 * math.ceil(r / 5) for r in h.rounds]  # the root's count: d_root / tau_top per round
    assert h.messages[-1] == res.node_messages[tree.root]
    assert len(h.center_loss) == len(h.spread) == len(h.center_error) == len(h.rounds)
    assert h.center_loss[0] == obj.loss(x0) and h.spread[0] == 0.0
    assert math.isclose(h.center_loss[-1], obj.loss(res.root), rel_tol=1e-15)
    leaves = res.nodes[tree.leaves]
    assert math.isclose(h.spread[-1], float((leaves - res.root).square().sum(1).mean()), rel_tol=1e-12)
    assert not h.diverged and h.seconds > 0


def test_message_comparison_for_16_workers():
    rounds = 50
    obj, x0 = _quadratic(16)
    flat = run_easgd_tree(obj, x0, Tree.flat(16), 0.05, rounds, taus=1)
    assert flat.history.messages[-1] == 16 * rounds
    assert run_easgd(obj, x0, 16, 0.05, rounds, tau=1, mode="sync").history.messages[-1] == 16 * rounds
    tree = run_easgd_tree(obj, x0, Tree.regular(4, 2), 0.05, rounds, taus=(1, 16))
    assert tree.history.messages[-1] == 4 * math.ceil(rounds / 16)
    assert tree.node_messages[1:5] == [4 * rounds] * 4  # each level-1 node hears its 4 leaves every round
    assert tree.node_messages[5:] == [0] * 16


def test_divergence_stops_the_tree_run():
    obj, x0 = _quadratic(4)
    res = run_easgd_tree(obj, x0, Tree.regular(2, 2), 2.5, 500)  # eta h up to 2.5: unstable
    h = res.history
    assert h.diverged and h.rounds[-1] < 500 and math.isnan(h.center_loss[-1])


# ------------------------------------------------------------------------------ part E (reduced size)
def _tail(history, k=500):
    return sum(history.center_loss[-k:]) / k


def _first_below(history, level):
    return next((r for r, v in zip(history.rounds, history.center_loss) if v < level), None)


def test_part_e_tree_vs_flat_easgd():
    # our prototype: 16 workers, 10-D quadratic, eta 0.05, 4000 rounds: tree 4x4 (taus (1, 16)) within x2 of flat
    # synchronous EASGD (tau = 1) in mean root loss over the last 500 rounds, >= 10x fewer root messages, and
    # slower to first reach root loss 0.5 (prototype: flat 162-176 rounds, tree 208). About 2 s for both runs here.
    obj, x0 = _quadratic(16)
    rounds, eta = 4000, 0.05
    flat = run_easgd(obj, x0, 16, eta, rounds, tau=1, mode="sync").history
    tree = run_easgd_tree(obj, x0, Tree.regular(4, 2), eta, rounds, taus=(1, 16)).history
    assert not flat.diverged and not tree.diverged
    assert 0.5 < _tail(tree) / _tail(flat) < 2.0
    assert _tail(tree) < 0.02 and _tail(flat) < 0.02  # prototype: 0.0068-0.0083 (seed-dependent)
    assert flat.messages[-1] == 64_000 and tree.messages[-1] == 1_000
    assert flat.messages[-1] >= 10 * tree.messages[-1]
    f, t = _first_below(flat, 0.5), _first_below(tree, 0.5)
    assert f is not None and t is not None and t > f
    assert 100 < f < 260 and 130 < t < 320  # prototype: 162-176 and 208, +-50 %


# ------------------------------------------------------------------------------ bad arguments
def test_run_easgd_tree_bad_arguments():
    obj, x0 = _quadratic(4)
    tree = Tree.regular(2, 2)
    with pytest.raises(ValueError, match=r"^order: expected one of"):
        run_easgd_tree(obj, x0, tree, 0.05, 5, order="random")
    with pytest.raises(TypeError, match=r"^tree: expected a Tree, got list"):
        run_easgd_tree(obj, x0, tree.parents, 0.05, 5)
    with pytest.raises(ValueError, match=r"^x0: expected shape"):
        run_easgd_tree(obj, torch.ones(9, dtype=F64), tree, 0.05, 5)
    with pytest.raises(TypeError, match=r"^x0: expected a floating"):
        run_easgd_tree(obj, torch.ones(10, dtype=torch.int64), tree, 0.05, 5)
    for eta in (0.0, -0.1):
        with pytest.raises(ValueError, match=r"^eta: expected a positive number"):
            run_easgd_tree(obj, x0, tree, eta, 5)
    for m in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"^momentum: expected a value in \[0, 1\)"):
            run_easgd_tree(obj, x0, tree, 0.05, 5, momentum=m)
    with pytest.raises(ValueError, match=r"^tree: expected at most the objective's 4 worker streams as leaves, got 8"):
        run_easgd_tree(obj, x0, Tree.regular(2, 3), 0.05, 5)
    with pytest.raises(ValueError, match=r"^rounds: expected a positive int"):
        run_easgd_tree(obj, x0, tree, 0.05, 0)
    with pytest.raises(ValueError, match=r"^record_every: expected a positive int"):
        run_easgd_tree(obj, x0, tree, 0.05, 5, record_every=0)
    with pytest.raises(ValueError, match=r"^alphas: expected a value for level 2"):
        run_easgd_tree(obj, x0, tree, 0.05, 5, alphas=[0.5])
    with pytest.raises(ValueError, match=r"^taus: expected a value for level 2"):
        run_easgd_tree(obj, x0, tree, 0.05, 5, taus={1: 1})
    # fewer leaves than streams is fine (the first streams are used)
    res = run_easgd_tree(obj, x0, Tree.flat(2), 0.05, 5)
    assert res.nodes.shape == (3, 10)


# ------------------------------------------------------------------------------ SIM == DIST (gloo)
ETA, ROUNDS = 0.05, 20
TREE_CFGS = {
    "2x2": dict(parents=Tree.regular(2, 2).parents, eta=ETA, rounds=ROUNDS, taus=(1, 2)),
    "flat": dict(parents=Tree.flat(4).parents, eta=ETA, rounds=ROUNDS, taus=2),
    "irregular": dict(parents=IRREGULAR, eta=ETA, rounds=ROUNDS, taus=(1, 3)),
    "momentum": dict(parents=Tree.regular(2, 2).parents, eta=ETA, rounds=ROUNDS, taus=(1, 2), momentum=0.5),
    "digits": dict(parents=Tree.regular(2, 2).parents, eta=ETA, rounds=ROUNDS, taus=(1, 2), problem="digits"),
    # leaves of a subtree on non-contiguous ranks (node 1: leaves 3, 5 -> ranks 0, 2; node 2: ranks 1, 3)
    "interleaved": dict(parents=[-1, 0, 0, 1, 2, 1, 2], eta=ETA, rounds=ROUNDS, taus=(2, 3), alphas=(0.3, 0.2)),
    # a leaf on the root's level next to a subtree of 3 leaves (its chain skips level 1)
    "leaf-at-root": dict(parents=[-1, 0, 0, 1, 1, 1], eta=ETA, rounds=ROUNDS, taus=(1, 2)),
    # three levels, the root with a single child (no all-reduce at the top, a broadcast to all 4 ranks)
    "3-level": dict(parents=[-1, 0, 1, 1, 2, 2, 3, 3], eta=ETA, rounds=ROUNDS, taus=(1, 2, 3)),
}
NAMED_FLAT = dict(algo="easgd", mode="sync", p=4, eta=ETA, rounds=ROUNDS, tau=2)  # the all-reduce engine
NAMES = list(TREE_CFGS)


@pytest.fixture(scope="module")
def dist_results():
    out = spawn(4, run_batch, [TREE_CFGS[k] for k in NAMES] + [NAMED_FLAT])
    return dict(zip(NAMES + ["named"], out))


def _simulate(cfg: dict) -> TreeResult:
    tree = Tree(cfg["parents"])
    obj = make_objective(cfg.get("problem", "quadratic"), tree.p)
    x0 = obj.initial() if hasattr(obj, "initial") else 5.0 * torch.ones(obj.n, dtype=F64)
    return run_easgd_tree(obj, x0, tree, cfg["eta"], cfg["rounds"], alphas=cfg.get("alphas"), taus=cfg["taus"],
                          momentum=cfg.get("momentum", 0.0))


@pytest.mark.parametrize("name", NAMES)
def test_dist_tree_equals_simulation_and_replicas_agree(dist_results, name):
    cfg, res = TREE_CFGS[name], dist_results[name]
    tree, sim = Tree(cfg["parents"]), _simulate(cfg)
    torch.testing.assert_close(res["nodes"], sim.nodes, rtol=0, atol=1e-12)
    assert float((sim.root - res["x0"]).abs().max()) > 1e-3  # something happened
    assert math.isclose(float(res["root_loss"]), sim.history.center_loss[-1], rel_tol=1e-6)  # a float32 (see below)
    replicas = res["replicas"]
    assert replicas.shape == (4, len(tree), res["x0"].numel())
    for k in range(len(tree)):
        holders = [w for w in range(4) if not torch.isnan(replicas[w, k]).any()]
        # node k is held by exactly the ranks below it (ancestors are replicated, nothing else is)
        assert holders == [tree.worker(leaf) for leaf in tree.subtree_leaves(k)], k
        assert all(torch.isnan(replicas[w, k]).all() for w in range(4) if w not in holders)
        for w in holders[1:]:
            assert torch.equal(replicas[w, k], replicas[holders[0], k]), (k, w)  # bit-identical replicas


def test_dist_reported_losses_keep_the_run_dtype(dist_results):
    for name in ("2x2", "digits"):
        assert dist_results[name]["root_loss"].dtype == dist_results[name]["x0"].dtype == F64
    assert dist_results["named"]["center_loss"].dtype == F64


def test_dist_flat_tree_equals_the_allreduce_engine(dist_results):
    tree_res, named = dist_results["flat"], dist_results["named"]
    torch.testing.assert_close(tree_res["nodes"][0], named["center"], rtol=0, atol=1e-12)
    torch.testing.assert_close(tree_res["nodes"][1:], named["workers"], rtol=0, atol=1e-12)


@pytest.fixture
def world_of_one(tmp_path):
    """A one-process gloo group in this process (cheap), for the checks that need no peer."""
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def test_dist_tree_refuses_a_tree_whose_leaves_are_not_the_processes(world_of_one):
    obj, x0 = _quadratic(4)
    with pytest.raises(ValueError, match=r"^tree: expected as many leaves as processes \(1\), got 4"):
        dist_tree_easgd(obj, x0, Tree.regular(2, 2), 0.05, 3)


def test_dist_chain_in_one_process_equals_simulation(world_of_one):
    obj, x0 = _quadratic(1, seed=7)
    tree = Tree([-1, 0, 1])
    res = dist_tree_easgd(obj, x0, tree, 0.05, 20, alphas=(0.5, 0.3), taus=(1, 2), momentum=0.5)
    sim = run_easgd_tree(obj, x0, tree, 0.05, 20, alphas=(0.5, 0.3), taus=(1, 2), momentum=0.5)
    torch.testing.assert_close(res["nodes"], sim.nodes, rtol=0, atol=1e-12)
    assert torch.equal(res["replicas"][0], res["nodes"])


# ------------------------------------------------------------------------------ CLI
@pytest.fixture
def no_world(monkeypatch):
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)


def test_cli_tree_needs_one_process_per_leaf(no_world, capsys):
    with pytest.raises(SystemExit) as info:
        main(["--algo", "tree", "--tree", "2x2"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--tree 2x2 has 4 leaves and needs 4 processes, got 1" in err


def test_cli_tree_world_size_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "8")
    with pytest.raises(SystemExit):
        main(["--algo", "tree", "--tree", "4x2", "--taus", "1,16"])
    assert "needs 16 processes, got 8" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--tree", "abc"], ["--tree", "2x"], ["--tree", "2x2x2"], ["--tree", "2y2"],
                                  ["--tree", "2x2", "--taus", "1,x"], ["--tree", "2x2", "--taus", ""]])
def test_cli_tree_malformed_arguments(no_world, capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(["--algo", "tree", *argv])
    assert info.value.code == 2
    assert "--tree/--taus: expected DEGREExDEPTH and comma-separated integers" in capsys.readouterr().err


class _GroupStarted(Exception):
    pass


@pytest.fixture
def no_process_group(monkeypatch):
    """Record the backend main() would start and stop there (no rendezvous in a test)."""
    started = []

    def fake_init(backend=None, *args, **kwargs):
        started.append(backend)
        raise _GroupStarted(backend)

    monkeypatch.setattr(dist, "init_process_group", fake_init)
    monkeypatch.setattr(torch.cuda, "set_device", lambda *a, **k: None)
    return started


def test_cli_tree_valid_arguments_reach_the_process_group(monkeypatch, no_process_group):
    monkeypatch.setenv("WORLD_SIZE", "4")
    with pytest.raises(_GroupStarted):
        main(["--algo", "tree", "--tree", "2X2", "--taus", "1,4"])
    assert no_process_group == ["gloo"]


@pytest.mark.parametrize("spec", ["0x2", "2x0"])
def test_cli_tree_non_positive_degree_or_depth_is_a_usage_error(no_world, no_process_group, spec):
    with pytest.raises(SystemExit):
        main(["--algo", "tree", "--tree", spec])


@pytest.mark.parametrize(("spec", "taus", "world"), [("2x3", "1,16", "8"), ("2x2", "1,2,3", "4")],
                         ids=["too-few", "too-many"])
def test_cli_tree_taus_count_must_match_the_depth(monkeypatch, no_process_group, spec, taus, world):
    monkeypatch.setenv("WORLD_SIZE", world)
    with pytest.raises(SystemExit):
        main(["--algo", "tree", "--tree", spec, "--taus", taus])
    assert no_process_group == []


def test_cli_tree_backend_nccl_is_refused(monkeypatch, no_process_group, capsys):
    monkeypatch.setenv("WORLD_SIZE", "4")
    with pytest.raises(SystemExit):
        main(["--algo", "tree", "--tree", "2x2", "--backend", "nccl"])
    assert no_process_group == []
    assert "--backend: expected gloo for --algo tree" in capsys.readouterr().err


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32])
def test_tree_rejects_an_x0_of_another_dtype_than_the_objective(dtype):
    """The quadratic objective computes in float64: a float16/float32 x0 failed in index_put (RuntimeError); it is now
    a ValueError naming x0, raised after the first gradient and before any state is written."""
    obj = make_objective("quadratic", 2)
    with pytest.raises(ValueError, match=r"^x0: expected the objective's dtype torch\.float64"):
        run_easgd_tree(obj, torch.ones(obj.n, dtype=dtype), Tree([-1, 0, 0]), 0.1, 3)
    # a float64 x0 still runs, and a rerun after the rejected call gives the same result
    a = run_easgd_tree(make_objective("quadratic", 2), torch.ones(obj.n, dtype=torch.float64), Tree([-1, 0, 0]), 0.1, 3)
    b = run_easgd_tree(obj, torch.ones(obj.n, dtype=torch.float64), Tree([-1, 0, 0]), 0.1, 3)
    assert torch.equal(a.nodes, b.nodes)
