"""Golden tests: harmonia against the peers' outputs frozen in tests/golden/ (kymatio 0.3.0, pywph 1.1.3).

The live comparisons (tests beside each module, ``bench`` extra) call the peers; these run in every
``make test`` on the arrays written by ``tests/golden/make_golden.py``, with the same tolerances. The
inputs are read from the files, not regenerated (float32 draws differ between CPU kernels).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from harmonia.filters.bump import bump_steerable_2d_hat
from harmonia.filters.morlet2d import filter_bank_2d
from harmonia.scattering import HarmonicScattering3D, Scattering1D, Scattering2D

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _load(name: str) -> dict[str, np.ndarray]:
    with np.load(GOLDEN / name, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def kymatio_out():
    return _load("kymatio_scattering.npz")


pytestmark = pytest.mark.usefixtures("one_thread")  # many small tensors: one thread is faster


def _rel_per_channel(a: torch.Tensor, b: torch.Tensor, channel_dim: int) -> float:
    """max over channels of max|a - b| / max|b| (over every other dimension)."""
    a, b = a.movedim(channel_dim, 0).flatten(1), b.movedim(channel_dim, 0).flatten(1)
    return float(((a - b).abs().amax(1) / b.abs().amax(1).clamp_min(1e-30)).max())


def test_golden_files_are_small_and_say_where_they_come_from():
    files = sorted(GOLDEN.glob("*.npz"))
    assert {p.name for p in files} == {"kymatio_scattering.npz", "kymatio_morlet_bank.npz", "pywph_bump.npz"}
    assert sum(p.stat().st_size for p in files) < 1024**2
    for p in files:
        meta = "\n".join(_load(p.name)["meta"].tolist())
        assert "peer: " in meta and "call: " in meta and "torch " in meta, p.name


def test_scattering1d_matches_frozen_kymatio(kymatio_out):
    x, ref = torch.from_numpy(kymatio_out["s1d_x"]), torch.from_numpy(kymatio_out["s1d_out"])
    out = Scattering1D(6, 512, Q=16, compat="kymatio-0.3")(x)
    assert out.shape == ref.shape and out.dtype == ref.dtype
    assert _rel_per_channel(out, ref, -2) < 1e-5


def test_scattering2d_matches_frozen_kymatio(kymatio_out):
    x, ref = torch.from_numpy(kymatio_out["s2d_x"]), torch.from_numpy(kymatio_out["s2d_out"])
    out = Scattering2D(4, (32, 32), L=8)(x)
    assert out.shape == ref.shape
    assert _rel_per_channel(out, ref, -3) <= 1e-5  # second-order channels are ~100x smaller than S0


def test_scattering2d_gradient_matches_frozen_kymatio(kymatio_out):
    x = torch.from_numpy(kymatio_out["s2d_grad_x"]).requires_grad_(True)
    (Scattering2D(2, (37, 45), L=4)(x) * torch.from_numpy(kymatio_out["s2d_grad_w"])).sum().backward()
    ref = torch.from_numpy(kymatio_out["s2d_grad"])
    assert float((x.grad - ref).abs().max()) <= 1e-5 * float(ref.abs().max())


@pytest.mark.parametrize("rotation_covariant", [True, False])
def test_harmonic_scattering3d_matches_frozen_kymatio(kymatio_out, rotation_covariant):
    x = torch.from_numpy(kymatio_out["s3d_x"])
    ref = torch.from_numpy(kymatio_out[f"s3d_out_{'covariant' if rotation_covariant else 'invariant'}"])
    out = HarmonicScattering3D(J=2, shape=(16, 16, 16), L=2, rotation_covariant=rotation_covariant)(x)
    assert out.shape == ref.shape == (2, 6, 3, 3)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=0)


def test_morlet_bank_matches_frozen_kymatio():
    ref = _load("kymatio_morlet_bank.npz")
    ours = filter_bank_2d(32, 48, 3, 4)
    a = torch.from_numpy(ref["phi_0"]).double()
    assert float((a - ours["phi"][0]).abs().max()) <= 3e-7 * float(a.abs().max())
    keys = sorted((k for k in ref if k.startswith("psi_")), key=lambda k: int(k.split("_")[1]))
    assert len(keys) == len(ours["psi"]) == 12
    for key, q in zip(keys, ours["psi"]):
        _, _, j, theta = key.split("_")
        assert (int(j[1:]), int(theta[5:])) == (q["j"], q["theta"])
        a = torch.from_numpy(ref[key]).double()
        assert float((a - q["levels"][0]).abs().max()) <= 5e-7 * float(a.abs().max())


def test_bump_wavelets_match_frozen_pywph():
    hats = torch.from_numpy(_load("pywph_bump.npz")["hats"])  # (3, 8, 32, 40): j, ell
    L = 4
    for j in range(3):
        for ell in range(2 * L):
            ours = bump_steerable_2d_hat(32, 40, j, ell * math.pi / L, L)
            assert float((hats[j, ell] - ours).abs().max()) < 1e-10


def test_golden_comparison_fails_on_a_wrong_transform(kymatio_out):
    """The check is not vacuous: a 0.1% change of the input (the transform is homogeneous) is caught."""
    x, ref = torch.from_numpy(kymatio_out["s1d_x"]), torch.from_numpy(kymatio_out["s1d_out"])
    out = Scattering1D(6, 512, Q=16, compat="kymatio-0.3")(x * 1.001)
    assert _rel_per_channel(out, ref, -2) > 1e-4
