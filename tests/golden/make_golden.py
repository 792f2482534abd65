"""Freeze the peer libraries' outputs on fixed inputs, for the golden tests (tests/lib/test_golden.py).

kymatio (scattering 1D, 2D, 3D and the 2D Morlet bank) and pywph (bump steerable wavelets) are the
peers that harmonia's scattering and WPH code reproduce. They live in the ``bench`` extra, so the
default ``make test`` cannot call them; instead it compares against the arrays this script writes:

    pip install -e '.[bench]'
    python tests/golden/make_golden.py          # rewrites tests/golden/*.npz

Every file stores its inputs too (float32 draws differ in the last bits between CPU kernels, so the
test must not regenerate them), the peer's output, and ``meta``: the generator, the versions and the
call, as strings. Files are written without pickles and with fixed timestamps (byte-identical when the
arrays are), and stay well under 1 MB in all.
"""

from __future__ import annotations

import math
import platform
import sys
from pathlib import Path

import numpy as np
import torch

from harmonia.data.registry import save_npz
from harmonia.scattering.peers import import_kymatio

HERE = Path(__file__).resolve().parent
XI0 = 1.7 * math.pi / 2  # harmonia.filters.bump's default central frequency (pywph's k0)


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)


def _meta(peer: str, call: str) -> np.ndarray:
    import importlib.metadata as md

    lines = [f"peer: {peer} {md.version(peer)}", f"call: {call}", f"torch {torch.__version__}, numpy {np.__version__}",
             f"python {sys.version.split()[0]} on {platform.machine()}",
             "inputs: torch.randn(..., generator=torch.Generator().manual_seed(seed), dtype=float32), stored as x"]
    return np.array(lines)


def scattering(kt) -> None:
    arrays = {}
    x1 = _randn(4, 512, seed=11)
    arrays["s1d_x"], arrays["s1d_out"] = x1.numpy(), kt.Scattering1D(J=6, shape=512, Q=16)(x1).numpy()
    x2 = _randn(2, 3, 32, 32, seed=9)
    arrays["s2d_x"], arrays["s2d_out"] = x2.numpy(), kt.Scattering2D(J=4, shape=(32, 32), L=8)(x2).numpy()
    x2b = _randn(2, 37, 45, seed=10)
    w = _randn(2, 25, 9, 11, seed=11)
    xg = x2b.clone().requires_grad_(True)
    (kt.Scattering2D(J=2, shape=(37, 45), L=4)(xg) * w).sum().backward()
    arrays["s2d_grad_x"], arrays["s2d_grad_w"], arrays["s2d_grad"] = x2b.numpy(), w.numpy(), xg.grad.numpy()
    x3 = torch.rand(2, 16, 16, 16, generator=torch.Generator().manual_seed(10), dtype=torch.float32)
    arrays["s3d_x"] = x3.numpy()
    for cov in (True, False):
        out = kt.HarmonicScattering3D(J=2, shape=(16, 16, 16), L=2, rotation_covariant=cov)(x3)
        arrays[f"s3d_out_{'covariant' if cov else 'invariant'}"] = out.numpy()
    meta = _meta("kymatio", "Scattering1D(J=6, shape=512, Q=16); Scattering2D(J=4, shape=(32, 32), L=8); "
                 "grad of sum(Scattering2D(J=2, shape=(37, 45), L=4)(x) * w); "
                 "HarmonicScattering3D(J=2, shape=(16,)*3, L=2, rotation_covariant=True/False) on torch.rand")
    save_npz(HERE / "kymatio_scattering.npz", meta=meta, **arrays)


def morlet_bank() -> None:
    from kymatio.scattering2d.filter_bank import filter_bank

    bank = filter_bank(32, 48, 3, 4)
    arrays = {"phi_0": np.asarray(bank["phi"]["levels"][0], dtype=np.float32)}
    for i, p in enumerate(bank["psi"]):
        arrays[f"psi_{i}_j{p['j']}_theta{p['theta']}"] = np.asarray(p["levels"][0], dtype=np.float32)
    save_npz(HERE / "kymatio_morlet_bank.npz", meta=_meta("kymatio", "kymatio.scattering2d.filter_bank.filter_bank"
                                                                     "(32, 48, 3, 4), level 0 of each filter"), **arrays)


def bump_wavelets() -> None:
    import pywph

    M, N, L = 32, 40, 4
    hats = np.stack([np.stack([pywph.BumpSteerableWavelet(M, N, j, ell * math.pi / L, k0=XI0, L=L, fourier=True).data
                               for ell in range(2 * L)]) for j in range(3)])
    assert np.abs(hats.imag).max() == 0  # real in Fourier: store the real part
    save_npz(HERE / "pywph_bump.npz", hats=hats.real.astype(np.float64),
             meta=_meta("pywph", f"BumpSteerableWavelet({M}, {N}, j, ell*pi/{L}, k0={XI0!r}, L={L}, fourier=True), "
                                 "j = 0..2, ell = 0..7, real part"))


def main() -> None:
    kt = import_kymatio()
    if kt is None:
        raise SystemExit("error: kymatio is not installed; pip install -e '.[bench]'")
    torch.set_num_threads(1)
    scattering(kt)
    morlet_bank()
    bump_wavelets()
    total = sum(p.stat().st_size for p in HERE.glob("*.npz"))
    print(f"wrote {sorted(p.name for p in HERE.glob('*.npz'))}: {total / 1024:.0f} KiB in all")


if __name__ == "__main__":
    main()
