"""1D scattering: sizes and order, invariants (constant input, homogeneity, positivity,
non-expansiveness, translation), conventions (physical vs kymatio-0.3), autograd, dtypes, batch
shapes, input validation, and agreement with kymatio 0.3.0."""

from __future__ import annotations

import pytest
import torch

from harmonia.scattering.peers import import_kymatio
from harmonia.scattering import Scattering1D

F32, F64 = torch.float32, torch.float64


def _randn(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _rel_per_channel(a: torch.Tensor, b: torch.Tensor) -> float:
    """max over channels of max|a - b| / max|b| (along time and batch)."""
    a, b = a.transpose(0, -2).flatten(1), b.transpose(0, -2).flatten(1)
    return float(((a - b).abs().amax(1) / b.abs().amax(1).clamp_min(1e-30)).max())


# ---------------------------------------------------------------------------------------------
# Sizes, order, meta
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "J, Q, N, sizes",
    [(6, 8, 64, (1, 38, 87)), (8, 1, 256, (1, 9, 33)), (6, 16, 64, (1, 63, 158)), (3, 1, 64, (1, 4, 3))],
)
def test_output_sizes(J, Q, N, sizes):
    S = Scattering1D(J, N, Q=Q)
    assert S.output_size(detail=True) == sizes and S.output_size() == sum(sizes)
    assert Scattering1D(J, (N,), Q=Q, max_order=1).output_size(detail=True) == sizes[:2]


def test_output_shape_and_meta_order():
    S = Scattering1D(3, 64, Q=(2, 1))
    out = S(_randn(2, 3, 64))
    assert out.shape == (2, 3, S.output_size(), 8)
    meta = S.meta()
    assert len(meta) == S.output_size()
    assert meta[0] == {"order": 0, "xi": (), "sigma": (), "j": (), "n": ()}
    orders = [m["order"] for m in meta]
    assert orders == sorted(orders)
    first = [m for m in meta if m["order"] == 1]
    assert [m["n"] for m in first] == [(i,) for i in range(len(first))]
    assert all(a["xi"][0] > b["xi"][0] for a, b in zip(first, first[1:]))  # decreasing xi
    second = [m for m in meta if m["order"] == 2]
    assert [m["n"] for m in second] == sorted(m["n"] for m in second)  # n1 outer, n2 inner
    assert all(m["j"][1] > m["j"][0] for m in second)  # pruning on the subsampling index j
    assert all(len(m[key]) == 2 for m in second for key in ("xi", "sigma", "j", "n"))


def test_output_length_with_T_and_oversampling():
    assert Scattering1D(4, 256, T=8)(_randn(1, 256)).shape[-1] == 32
    assert Scattering1D(4, 256, oversampling=2)(_randn(1, 256)).shape[-1] == 64
    assert Scattering1D(4, 256, oversampling=9)(_randn(1, 256)).shape[-1] == 256


# ---------------------------------------------------------------------------------------------
# Invariants of the physical (default) convention
# ---------------------------------------------------------------------------------------------
def test_constant_input():
    S = Scattering1D(5, 256, Q=4)
    out = S(torch.full((1, 256), 3.5, dtype=F64))
    assert torch.allclose(out[0, 0], torch.full_like(out[0, 0], 3.5), atol=1e-12, rtol=0)
    assert float(out[0, 1:].abs().max()) < 1e-12


def test_homogeneity_linearity_positivity():
    S = Scattering1D(4, 128, Q=2)
    x, y = _randn(2, 128, seed=1), _randn(2, 128, seed=2)
    Sx = S(x)
    for lam in (-2.5, 0.3):
        Sl = S(lam * x)
        assert torch.allclose(Sl[:, 1:], abs(lam) * Sx[:, 1:], rtol=1e-10, atol=1e-13)
        assert torch.allclose(Sl[:, 0], lam * Sx[:, 0], rtol=1e-10, atol=1e-13)
    assert torch.allclose(S(x + y)[:, 0], Sx[:, 0] + S(y)[:, 0], atol=1e-12)  # S0 is linear
    assert float(Sx[:, 1:].min()) >= 0


@pytest.mark.parametrize("Q", [1, 8])
def test_non_expansive_without_subsampling(Q):
    J, N = 5, 512
    S = Scattering1D(J, N, Q=Q, oversampling=J)
    x, y = _randn(8, N, seed=3), _randn(8, N, seed=4)
    # pairs at several distances: y close to x, and independent
    for yy in (y, x + 0.1 * y):
        ratio = (S(x) - S(yy)).flatten(1).norm(dim=1) / (x - yy).norm(dim=1)
        assert float(ratio.max()) <= 1.0


@pytest.mark.parametrize("Q", [1, 8])
def test_physical_outputs_do_not_depend_on_oversampling(Q):
    J, N = 6, 1024
    x = _randn(2, N, seed=5)
    ref = Scattering1D(J, N, Q=Q)(x)
    for o in (1, 3, J):
        out = Scattering1D(J, N, Q=Q, oversampling=o)(x)[..., :: 2**o]
        assert _rel_per_channel(out, ref) < 5e-3  # only the tolerated aliasing differs


def test_compat_mode_ratios():
    J, N = 6, 1024
    x = _randn(2, N, seed=6)
    phys = Scattering1D(J, N, Q=1)
    compat = Scattering1D(J, N, Q=1, compat="kymatio-0.3")
    ratio = compat(x) / phys(x)
    for c, m in enumerate(phys.meta()):
        # with oversampling 0: k1 = min(j1, log2 T), k2 = min(j2, log2 T) - k1
        k = [min(j, phys.log2_T) for j in m["j"]] + [0, 0]
        k1, k2 = k[0], k[1] - k[0]
        expected = {0: 1.0, 1: 2.0**-k1, 2: 2.0 ** -(2 * k1 + k2)}[m["order"]]
        assert torch.allclose(ratio[:, c], torch.full_like(ratio[:, c], expected), rtol=1e-9)
    # the first-order ratios (j1 = 0, 0, 0, 1, 2, 3, 4): 1, 1, 1, 0.5, 0.25, 0.125, 0.0625 = 2^-min(j1, log2 T)
    assert [round(float(r), 6) for r in ratio[0, 1:8, 0]] == [1, 1, 1, 0.5, 0.25, 0.125, 0.0625]
    # with oversampling >= J nothing is subsampled inside: both conventions agree
    c2 = Scattering1D(J, N, Q=1, compat="kymatio-0.3", oversampling=J)(x)
    p2 = Scattering1D(J, N, Q=1, oversampling=J)(x)
    assert torch.allclose(c2, p2, rtol=1e-12, atol=0)


def test_translation_by_multiples_of_T():
    J, N, T = 4, 512, 16
    S = Scattering1D(J, N, Q=2)
    x = torch.zeros(1, N, dtype=F64)
    x[0, 160:352] = _randn(192, seed=7) * torch.hann_window(192, dtype=F64)
    for m in (1, 3):
        shifted = S(torch.roll(x, m * T, dims=-1))
        rolled = torch.roll(S(x), m, dims=-1)
        # compare away from the ends of the output (reflect padding and the roll's wrap-around)
        assert _rel_per_channel(shifted[..., 6:-6], rolled[..., 6:-6]) < 1e-8


# ---------------------------------------------------------------------------------------------
# Autograd, dtypes, batch shapes
# ---------------------------------------------------------------------------------------------
def test_gradcheck_float64():
    S = Scattering1D(3, 64, Q=1)
    x = _randn(1, 64, seed=8).requires_grad_(True)
    assert torch.autograd.gradcheck(S, (x,), eps=1e-6, atol=1e-6, fast_mode=True)


def test_no_nan_gradient_for_zero_input():
    S = Scattering1D(3, 64, Q=2)
    x = torch.zeros(2, 64, requires_grad=True)
    S(x).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_batch_shape_independence():
    S = Scattering1D(4, 128, Q=2)
    x = _randn(4, 128, seed=9)
    flat = S(x)
    nested = S(x.reshape(2, 2, 128))
    assert nested.shape == (2, 2, *flat.shape[1:])
    assert torch.allclose(nested.reshape(flat.shape), flat, rtol=1e-12, atol=1e-14)
    assert torch.allclose(S(x[1]), flat[1], rtol=1e-12, atol=1e-14)  # no batch dim at all


def test_float32_and_float64_agree():
    S = Scattering1D(5, 256, Q=4)
    x = _randn(2, 256, seed=10)
    out64, out32 = S(x), S(x.float())
    assert out64.dtype == F64 and out32.dtype == F32
    assert _rel_per_channel(out32.double(), out64) < 1e-5


def test_filters_are_buffers_and_state_dict_round_trip():
    S = Scattering1D(3, 64)
    names = dict(S.named_buffers())
    assert "psi1_hat" in names and "phi_hat_0" in names
    assert all(b.dtype == F64 for n, b in names.items() if n.endswith("hat") or "_hat_" in n)
    T = Scattering1D(3, 64)
    T.load_state_dict(S.state_dict())
    x = _randn(1, 64)
    assert torch.equal(S(x), T(x))


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------
def test_bad_arguments_raise_with_their_name():
    with pytest.raises(ValueError, match=r"^J: expected at most 6 for signals of length 64"):
        Scattering1D(7, 64)
    with pytest.raises(ValueError, match=r"^J: expected at most 2 for signals of length 4"):
        Scattering1D(3, 4)  # too short a signal
    with pytest.raises(ValueError, match="^J: expected a non-negative int"):
        Scattering1D(-1, 64)
    with pytest.raises(ValueError, match="^Q: expected an int >= 1"):
        Scattering1D(3, 64, Q=0)
    with pytest.raises(ValueError, match="^Q: expected an int >= 1"):
        Scattering1D(3, 64, Q=(2, 0))
    with pytest.raises(ValueError, match="^Q: expected an int or a tuple"):
        Scattering1D(3, 64, Q=(1, 1, 1))
    with pytest.raises(ValueError, match="^max_order: expected one of"):
        Scattering1D(3, 64, max_order=3)
    with pytest.raises(ValueError, match=r"^T: expected None or an int in \[1, 64\]"):
        Scattering1D(3, 64, T=0)
    with pytest.raises(ValueError, match="^T: expected"):
        Scattering1D(3, 64, T=128)
    with pytest.raises(ValueError, match="^compat: expected one of"):
        Scattering1D(3, 64, compat="kymatio")
    with pytest.raises(ValueError, match="^oversampling: expected a non-negative int"):
        Scattering1D(3, 64, oversampling=-1)
    with pytest.raises(ValueError, match="^shape: expected an int or a 1-tuple"):
        Scattering1D(3, (64, 64))
    with pytest.raises(ValueError, match="^shape: expected a signal length >= 2"):
        Scattering1D(0, 1)


def test_bad_inputs_raise():
    S = Scattering1D(3, 64)
    with pytest.raises(ValueError, match="^x: expected a tensor whose last 1 dimension"):
        S(torch.zeros(2, 65))
    with pytest.raises(TypeError, match="^x: expected one of"):
        S(torch.zeros(2, 64, dtype=torch.complex64))
    with pytest.raises(ValueError, match="^x: expected finite values"):
        S(torch.full((2, 64), float("nan")))


# ---------------------------------------------------------------------------------------------
# Agreement with kymatio 0.3.0
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kt():
    module = import_kymatio()
    if module is None:
        pytest.skip("kymatio not installed (bench extra)")
    return module


@pytest.mark.parametrize("J, Q, B, N", [(6, 16, 4, 512), (8, 8, 2, 4096)])
def test_compat_mode_matches_kymatio(kt, J, Q, B, N):
    x = _randn(B, N, seed=11, dtype=F32)
    ref = kt.Scattering1D(J=J, shape=N, Q=Q)(x)
    out = Scattering1D(J, N, Q=Q, compat="kymatio-0.3")(x)
    assert out.shape == ref.shape and out.dtype == ref.dtype
    assert _rel_per_channel(out, ref) < 1e-5


def test_physical_mode_matches_oversampled_kymatio(kt):
    J, N = 5, 512
    x = _randn(2, N, seed=12, dtype=F32)
    ref = kt.Scattering1D(J=J, shape=N, Q=4, oversampling=J)(x)
    out = Scattering1D(J, N, Q=4, oversampling=J)(x)
    assert _rel_per_channel(out, ref) < 1e-5
    assert _rel_per_channel(Scattering1D(J, N, Q=4)(x), ref[..., :: 2**J]) < 5e-3
