"""HarmonicScattering3D (harmonia.scattering.harmonic3d): shapes, invariances, exact identities,
gradients, validation, and agreement with kymatio 0.3 (chapter 05)."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from harmonia.scattering.peers import import_kymatio
from harmonia.scattering import HarmonicScattering3D

SHAPE = (16, 16, 16)


pytestmark = pytest.mark.usefixtures("one_thread")  # many small tensors: one thread is faster


def _rand(*shape, seed=0, dtype=torch.float64):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _smooth(*batch, n=16, width=2.0, seed=0):
    """A random field low-passed by a Gaussian of ``width`` voxels: no energy near the Nyquist
    frequency, so grid rotations act on it like true rotations."""
    noise = torch.randn((*batch, n, n, n), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    w = torch.fft.fftfreq(n, dtype=torch.float64) * 2 * math.pi
    r2 = w[:, None, None] ** 2 + w[None, :, None] ** 2 + w[None, None, :] ** 2
    return torch.fft.ifftn(torch.fft.fftn(noise, dim=(-3, -2, -1)) * torch.exp(-0.5 * width**2 * r2),
                           dim=(-3, -2, -1)).real


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


@pytest.fixture(scope="module")
def scat():
    return HarmonicScattering3D(J=2, shape=SHAPE, L=2)


# --------------------------------------------------------------------------------------------------
# shapes, metadata, dtypes
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("max_order, n_paths", [(1, 3), (2, 6)])
@pytest.mark.parametrize("L", [0, 3])
def test_output_shape_meta_and_size(max_order, n_paths, L):
    S = HarmonicScattering3D(J=2, shape=(8, 8, 8), L=L, max_order=max_order, integral_powers=(1.0, 2.0))
    out = S(_rand(2, 8, 8, 8, dtype=torch.float32))
    assert out.shape == (2, n_paths, L + 1, 2) and out.dtype == torch.float32
    assert S.output_size() == n_paths and S.ells == tuple(range(L + 1)) and S.integral_powers == (1.0, 2.0)
    meta = S.meta()
    expected = [(0,), (1,), (2,)] + ([(0, 1), (0, 2), (1, 2)] if max_order == 2 else [])
    assert [m["j"] for m in meta] == expected
    assert [m["order"] for m in meta] == [len(j) for j in expected]
    assert meta[-1]["sigma"] == tuple(2.0**j for j in expected[-1])
    assert torch.all(out >= 0)


def test_default_arguments_match_kymatio():
    S = HarmonicScattering3D(2, (8, 8, 8))
    assert (S.L, S.sigma_0, S.max_order, S.rotation_covariant, S.integral_powers) == (3, 1.0, 2, True, (0.5, 1.0, 2.0))
    assert S(_rand(1, 8, 8, 8)).shape == (1, 6, 4, 3)


def test_float64_in_float64_out_and_close_to_float32(scat):
    x = _rand(2, *SHAPE, seed=3)
    out64 = scat(x)
    out32 = scat(x.float())
    assert out64.dtype == torch.float64 and out32.dtype == torch.float32
    assert _rel(out32.double(), out64) < 1e-5


def test_filters_are_complex64_buffers_and_double_keeps_them_complex():
    S = HarmonicScattering3D(J=1, shape=(8, 8, 8), L=2)
    buffers = dict(S.named_buffers())
    assert sorted(buffers) == ["filters_l0", "filters_l1", "filters_l2"]
    assert all(b.dtype == torch.complex64 for b in buffers.values())
    assert buffers["filters_l2"].shape == (2, 5, 8, 8, 8)
    assert S.state_dict() == {}  # constants that follow from the arguments
    x = _rand(1, 8, 8, 8, seed=4)
    before = S(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "casting complex values to real discards the imaginary part"
        S.double()
    assert all(b.dtype == torch.complex128 for b in S.buffers())
    assert _rel(S(x), before) < 1e-12


def test_rotation_covariant_false_keeps_only_m_equal_minus_l():
    S = HarmonicScattering3D(J=1, shape=(8, 8, 8), L=2, rotation_covariant=False)
    assert [tuple(b.shape) for b in S.buffers()] == [(2, 1, 8, 8, 8)] * 3


# --------------------------------------------------------------------------------------------------
# invariances and exact identities
# --------------------------------------------------------------------------------------------------
def test_periodic_roll_invariance(scat):
    x = _rand(2, *SHAPE, seed=1)
    out = scat(x)
    for shift, dims in [((3, 5, 7), (-3, -2, -1)), ((8,), (-1,)), ((-2, 11), (-3, -2))]:
        assert _rel(scat(torch.roll(x, shift, dims)), out) < 1e-10


@pytest.mark.parametrize("dims", [(-3, -2), (-2, -1), (-3, -1)], ids=["zy", "yx", "zx"])
def test_rot90_invariance(scat, dims):
    """rot90 in each of the three coordinate planes (axes z=0, y=1, x=2) of a cubic grid; the input is
    smooth so that the Nyquist planes (where a grid rotation is not a rotation of frequencies) are empty."""
    x = _smooth(2, seed=5)
    out = scat(x)
    for k in (1, 2, 3):
        assert _rel(scat(torch.rot90(x, k, dims)), out) < 1e-5


def test_lowest_order_only_is_invariant_to_z_rotations_only():
    """With rotation_covariant=False, |x * psi_{l,-l}| is invariant to rotations about z (they multiply
    Y_l^{-l} by a phase) but not to other rotations: the quadratic mean over m is what buys invariance."""
    S = HarmonicScattering3D(J=1, shape=SHAPE, L=2, rotation_covariant=False)
    x = _smooth(1, seed=6)
    out = S(x)
    assert _rel(S(torch.rot90(x, 1, (-2, -1))), out) < 1e-5
    changed = S(torch.rot90(x, 1, (-3, -2)))
    assert _rel(changed[..., 1:, :], out[..., 1:, :]) > 1e-3  # l >= 1 changes
    assert _rel(changed[..., 0, :], out[..., 0, :]) < 1e-5  # l = 0 (a Gaussian) does not


def test_l0_mass_identities(scat):
    """l = 0, p = 1: the Gaussian has unit mass, so for x >= 0 the first-order integral is sum(x) and the
    second-order (j1, j2) integral equals the first-order j1 one."""
    x = _rand(2, *SHAPE, seed=2, dtype=torch.float32)
    out = scat(x)
    p1 = scat.integral_powers.index(1.0)
    total = x.double().sum(dim=(-3, -2, -1))
    for path, meta in enumerate(scat.meta()):
        value = out[:, path, 0, p1].double()
        expected = total if meta["order"] == 1 else out[:, meta["j"][0], 0, p1].double()
        assert float(((value - expected) / expected).abs().max()) < 1e-5, meta


@pytest.mark.parametrize("lam", [-2.5, 0.3])
def test_homogeneity_of_each_power(scat, lam):
    x = _rand(2, *SHAPE, seed=7) - 0.5
    out, scaled = scat(x), scat(lam * x)
    factor = torch.tensor([abs(lam) ** p for p in scat.integral_powers], dtype=torch.float64)
    assert _rel(scaled, out * factor) < 1e-10


def test_batch_shape_independence(scat):
    x = _rand(2, 3, *SHAPE, seed=8)
    out = scat(x)
    assert out.shape == (2, 3, 6, 3, 3)
    assert _rel(scat(x.reshape(6, *SHAPE)).reshape(out.shape), out) < 1e-12
    assert _rel(scat(x[1, 2]), out[1, 2]) < 1e-12  # a single volume, no batch dimension


def test_edge_cases_j0_odd_sizes_and_empty_batch():
    S = HarmonicScattering3D(J=0, shape=(5, 6, 7), L=1)  # one scale: no second-order path
    assert S(_rand(2, 5, 6, 7)).shape == (2, 1, 2, 3) and S.meta() == [{"order": 1, "j": (0,), "sigma": (1.0,)}]
    x = _rand(2, 5, 6, 7, seed=12)
    total = S(x)[:, 0, 0, 1]  # odd sizes: the l = 0 mass identity still holds (zero frequency at index 0)
    assert float(((total - x.sum(dim=(-3, -2, -1))) / total).abs().max()) < 1e-12
    empty = torch.zeros(0, 5, 6, 7, requires_grad=True)
    out = S(empty)
    assert out.shape == (0, 1, 2, 3)
    out.sum().backward()
    assert empty.grad.shape == empty.shape


# --------------------------------------------------------------------------------------------------
# gradients
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rotation_covariant", [True, False])
def test_gradcheck_float64(rotation_covariant):
    S = HarmonicScattering3D(J=1, shape=(8, 8, 8), L=1, max_order=2, rotation_covariant=rotation_covariant)
    x = (_rand(1, 8, 8, 8, seed=9) + 0.1).requires_grad_(True)
    assert torch.autograd.gradcheck(S, (x,), eps=1e-6, atol=1e-6, rtol=1e-4, fast_mode=True)


def test_zero_input_has_finite_gradient():
    S = HarmonicScattering3D(J=1, shape=(8, 8, 8), L=2)  # p = 0.5 included: U^(-1/2) is infinite at 0
    x = torch.zeros(2, 8, 8, 8, requires_grad=True)
    out = S(x)
    assert torch.all(out == 0)
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


# --------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(J=-1), "J"),
        (dict(J=1.5), "J"),
        (dict(L=-1), "L"),
        (dict(max_order=3), "max_order"),
        (dict(max_order=True), "max_order"),
        (dict(integral_powers=(0.5, -1.0)), "integral_powers"),
        (dict(integral_powers=(0.0,)), "integral_powers"),
        (dict(integral_powers=()), "integral_powers"),
        (dict(sigma_0=0.0), "sigma_0"),
        (dict(shape=(8, 8)), "shape"),
        (dict(shape=(8, 0, 8)), "shape"),
        (dict(rotation_covariant="yes"), "rotation_covariant"),
    ],
)
def test_bad_arguments(kwargs, name):
    args = dict(J=1, shape=(8, 8, 8), L=1) | kwargs
    with pytest.raises((ValueError, TypeError), match=f"^{name}:"):
        HarmonicScattering3D(**args)


@pytest.mark.parametrize(
    "x",
    [
        torch.zeros(2, 8, 8, 9),
        torch.zeros(8, 8),
        torch.zeros(1, 8, 8, 8, dtype=torch.complex64),
        torch.zeros(1, 8, 8, 8, dtype=torch.int64),
        torch.full((1, 8, 8, 8), float("nan")),
    ],
    ids=["shape", "ndim", "complex", "int", "nan"],
)
def test_bad_inputs(x):
    S = HarmonicScattering3D(J=1, shape=(8, 8, 8), L=1)
    with pytest.raises((ValueError, TypeError), match="^x:"):
        S(x)


# --------------------------------------------------------------------------------------------------
# agreement with kymatio 0.3 (bench extra)
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rotation_covariant", [True, False])
def test_agrees_with_kymatio(rotation_covariant):
    kt = import_kymatio()
    if kt is None:
        pytest.skip("kymatio not installed (bench extra)")
    x = _rand(2, *SHAPE, seed=10, dtype=torch.float32)
    ours = HarmonicScattering3D(J=2, shape=SHAPE, L=2, rotation_covariant=rotation_covariant)(x)
    theirs = kt.HarmonicScattering3D(J=2, shape=SHAPE, L=2, rotation_covariant=rotation_covariant)(x)
    assert ours.shape == theirs.shape == (2, 6, 3, 3)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cpu_and_cuda_agree(scat):
    x = _rand(2, *SHAPE, seed=11, dtype=torch.float32)
    on_gpu = HarmonicScattering3D(J=2, shape=SHAPE, L=2).cuda()(x.cuda()).cpu()
    assert _rel(on_gpu, scat(x)) < 1e-5
