"""Chapter 08's supporting cast: histogram matching, the spectrum and diversity metrics, the periodic
procedural textures and the stored texture crops, the random-filter Gram baseline, and a short ALPHA
synthesis (the loss must drop)."""

from __future__ import annotations

import math

import pytest
import torch

from harmonia.data.textures import bubbles, cracks, load_textures, texture_image
from harmonia.maxent import microcanonical_synthesis, random_phase_surrogate
from harmonia.metrics import log_spectrum_error, pixel_correlation, radial_power_spectrum
from harmonia.nn.random_filters import RandomFilterGram
from harmonia.synthesis import histogram_match
from harmonia.wph.alpha import AlphaStats

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


# ------------------------------------------------------------------------------------------- histograms
def test_histogram_match_same_size_gives_reference_values_in_x_order(seeded):
    gen = seeded(0)
    x = torch.randn(2, 16, 16, generator=gen, dtype=F64)
    ref = torch.rand(16, 16, generator=gen, dtype=F64) ** 3
    y = histogram_match(x, ref)
    assert y.shape == x.shape and y.dtype == x.dtype
    for b in range(2):
        assert torch.equal(y[b].flatten().sort().values, ref.flatten().sort().values)
        assert torch.equal(y[b].flatten().argsort(), x[b].flatten().argsort())  # ranks kept (no ties)
    per_image = histogram_match(x, torch.stack([ref, 2 * ref]))
    assert torch.allclose(per_image[1].flatten().sort().values, 2 * ref.flatten().sort().values)


def test_histogram_match_other_reference_size_uses_quantiles(seeded):
    gen = seeded(1)
    x = torch.randn(16, 16, generator=gen, dtype=F64)
    ref = 5 + torch.rand(24, 20, generator=gen, dtype=F64)
    y = histogram_match(x, ref)
    assert float(ref.min()) <= float(y.min()) and float(y.max()) <= float(ref.max())
    order = x.flatten().argsort()
    assert bool((y.flatten()[order].diff() >= 0).all())  # monotone remapping
    # the median pixel of x goes to (about) the median of ref
    assert abs(float(y.median()) - float(ref.median())) < 0.05
    # ties are broken by position, so a constant x still gets ref's histogram
    flat = histogram_match(torch.zeros(16, 16, dtype=F64), ref[:16, :16])
    assert torch.equal(flat.flatten().sort().values, ref[:16, :16].flatten().sort().values)
    with pytest.raises(ValueError, match="ref"):
        histogram_match(torch.randn(2, 16, 16, dtype=F64), torch.rand(3, 16, 16, dtype=F64))


# -------------------------------------------------------------------------------------------- spectrum
def test_log_spectrum_error_zero_cases_and_power_scaling(seeded):
    ref = torch.cumsum(torch.randn(32, 32, generator=seeded(2), dtype=F64), dim=0)  # a red spectrum
    assert float(log_spectrum_error(ref, ref)) == 0.0
    assert float(log_spectrum_error(torch.roll(ref, (5, 3), (0, 1)), ref)) < 1e-12
    surrogate = random_phase_surrogate(ref, seed=3)
    assert float(log_spectrum_error(surrogate, ref)) < 1e-6
    assert float(log_spectrum_error(2 * ref, ref)) == pytest.approx(math.log10(4), abs=1e-12)
    assert float(log_spectrum_error(torch.stack([ref, 3 * ref]), ref)) == pytest.approx(math.log10(5), abs=1e-12)


def test_log_spectrum_error_ring_selection(seeded):
    gen = seeded(4)
    ref, x = torch.randn(2, 32, 32, generator=gen, dtype=F64)
    k, p_ref = radial_power_spectrum(ref)
    _, p = radial_power_spectrum(x)
    d = (p.log10() - p_ref.log10()).abs()
    assert float(log_spectrum_error(x, ref, k_max=6)) == pytest.approx(float(d[1:6].mean()), rel=1e-12)
    assert float(log_spectrum_error(x, ref)) == pytest.approx(float(d[1:].mean()), rel=1e-12)
    assert float(log_spectrum_error(x, ref, k_max=1.5)) == pytest.approx(float(d[1]), rel=1e-12)
    for bad in (0.5, 1):
        with pytest.raises(ValueError, match="k_max"):
            log_spectrum_error(x, ref, k_max=bad)
    with pytest.raises(ValueError, match="k_max"):
        log_spectrum_error(x, ref, k_max=-2)
    with pytest.raises(ValueError, match="x"):
        log_spectrum_error(x[:16], ref)


def test_pixel_correlation(seeded):
    gen = seeded(5)
    x, y = torch.randn(2, 64, 64, generator=gen, dtype=F64)
    assert float(pixel_correlation(x, 3 * x + 2)) == pytest.approx(1.0, abs=1e-12)
    assert float(pixel_correlation(x, -x)) == pytest.approx(-1.0, abs=1e-12)
    assert abs(float(pixel_correlation(x, y))) < 0.1
    r = pixel_correlation(torch.stack([x, x]), torch.stack([y, x]))
    assert r.shape == (2,) and float(r[1]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="constant"):
        pixel_correlation(x, torch.zeros_like(x))
    with pytest.raises(ValueError, match="y"):
        pixel_correlation(x, y[:32])


def test_pixel_correlation_rejects_a_non_representable_constant():
    x = torch.rand(64, 64, generator=torch.Generator().manual_seed(6))
    with pytest.raises(ValueError, match="constant"):
        pixel_correlation(x, torch.full_like(x, 0.3))


# --------------------------------------------------------------------------------------------- textures
def test_bubbles_values_determinism_and_seeds():
    b = bubbles(32, n_disks=20, seed=1)
    assert b.shape == (32, 32) and b.dtype == torch.float32
    vals = b.flatten()
    assert bool(((vals == 0) | ((vals >= 0.2) & (vals <= 1))).all())
    assert 0 < float((vals == 0).float().mean()) < 1  # both background and disks
    assert torch.equal(b, bubbles(32, n_disks=20, seed=1))
    assert not torch.equal(b, bubbles(32, n_disks=20, seed=2))
    assert bubbles(16, dtype=F64).dtype == F64
    with pytest.raises(ValueError, match="radius"):
        bubbles(16, radius=(5.0, 2.0))


def test_bubbles_are_periodic_disks():
    """One disk centred near a corner wraps onto the four corners (a torus)."""
    gen = torch.Generator().manual_seed(0)
    b = bubbles(32, n_disks=1, radius=(6.0, 6.0), seed=gen)
    level = float(b.max())
    filled = int((b == level).sum())
    assert 0.2 <= level <= 1 and abs(filled - math.pi * 36) < 0.2 * math.pi * 36  # a whole disk of radius 6
    rolled = [torch.roll(b, (a, c), (0, 1)) for a, c in ((7, 11), (-13, 2))]
    assert all(int((r == level).sum()) == filled for r in rolled)


def test_cracks_values_determinism_and_seeds():
    c = cracks(32, n_seeds=10, seed=3)
    assert c.shape == (32, 32)
    # 1 - exp(-t) is < 1 mathematically but rounds to 1.0 far from the lines (the docstring says [0, 1))
    assert float(c.min()) >= 0 and float(c.max()) <= 1
    assert float(c.min()) < 0.5 < float(c.max())  # dark lines on a light background
    assert torch.equal(c, cracks(32, n_seeds=10, seed=3))
    assert not torch.equal(c, cracks(32, n_seeds=10, seed=4))
    with pytest.raises(ValueError, match="n_seeds"):
        cracks(16, n_seeds=1)


def test_texture_image_is_a_block_mean_of_the_central_crop():
    img = texture_image("gravel", 64)
    assert img.shape == (64, 64) and img.dtype == torch.float32
    assert 0 <= float(img.min()) and float(img.max()) <= 1
    full = load_textures(dtype=F64)["gravel"]
    centre = full[64:192, 64:192]
    expected = centre.reshape(64, 2, 64, 2).mean(dim=(1, 3))
    assert torch.allclose(img.double(), expected, atol=1e-6)
    assert torch.allclose(texture_image("gravel", 128, dtype=F64), centre, atol=1e-12)
    with pytest.raises(ValueError, match="name"):
        texture_image("marble", 64)
    with pytest.raises(ValueError, match="size"):
        texture_image("gravel", 512)


# ---------------------------------------------------------------------------------------- random filters
@pytest.fixture(scope="module")
def rf():
    return RandomFilterGram(sizes=(3, 5), n_maps=4, seed=0)


def test_random_filter_gram_shape_and_positive_diagonal(rf):
    K = 8
    assert rf.n_stats == K * (K + 1) // 2 == 36
    x = torch.rand(2, 16, 16, generator=torch.Generator().manual_seed(7))
    G = rf(x)
    assert G.shape == (2, 36)
    diag = [i * K - i * (i - 1) // 2 for i in range(K)]  # (i, i) in the row-major upper triangle
    assert bool((G[:, diag] > 0).all())
    assert bool((G >= 0).all())  # products of ReLU maps


def test_random_filter_gram_feature_map_is_a_circular_correlation(rf):
    x = torch.rand(12, 12, generator=torch.Generator().manual_seed(8), dtype=F64)
    w = rf.w0[0, 0].double()
    direct = sum(w[a, b] * torch.roll(x, (1 - a, 1 - b), (0, 1)) for a in range(3) for b in range(3))
    assert torch.allclose(rf.feature_maps(x[None].float())[0, 0].double(), torch.relu(direct), atol=1e-5)


def test_random_filter_gram_invariances(rf):
    x = torch.rand(16, 16, generator=torch.Generator().manual_seed(9))
    G = rf(x)
    assert torch.allclose(rf(x + 3.0), G, atol=1e-5)  # zero-mean filters
    assert torch.allclose(rf(torch.roll(x, (4, -7), (0, 1))), G, atol=1e-6)  # circular padding
    assert torch.allclose(rf(2.5 * x), 2.5**2 * G, rtol=1e-5, atol=1e-7)  # 2-homogeneous
    assert not torch.allclose(rf(-x), G, atol=1e-3)  # the ReLU is not odd


def test_random_filter_gram_seed_and_bad_inputs(rf):
    x = torch.rand(16, 16, generator=torch.Generator().manual_seed(10))
    assert torch.equal(RandomFilterGram(sizes=(3, 5), n_maps=4, seed=0)(x), rf(x))
    assert not torch.allclose(RandomFilterGram(sizes=(3, 5), n_maps=4, seed=1)(x), rf(x))
    with pytest.raises(ValueError, match="sizes"):
        RandomFilterGram(sizes=(3, 4), n_maps=2)
    with pytest.raises(ValueError, match="x"):
        rf(x.double())
    with pytest.raises(ValueError, match="x"):
        rf(torch.rand(4, 4))


# --------------------------------------------------------------------------------------------- synthesis
def test_alpha_synthesis_reduces_the_relative_error_tenfold():
    target = bubbles(32, n_disks=25, radius=(3.0, 6.0), seed=0, dtype=F64)
    op = AlphaStats(32, 32, J=3, mask=False).double()
    res = microcanonical_synthesis(op, target, 1, steps=20, restarts=1, seed=0)
    norm = float(op.target.square().sum())
    initial = res.initial_losses[0] / (10.0**2 * norm)
    final = float(op.relative_error(res.samples[0]))
    assert final == pytest.approx(res.losses[0] / (10.0**2 * norm), rel=1e-6)
    assert final < initial / 10, (initial, final)


# ------------------------------------------------------------------------------------------- docstrings
@pytest.mark.parametrize("fn,latex", [(log_spectrum_error, "\\frac"), (log_spectrum_error, "\\big|"),
                                      (pixel_correlation, "\\tilde"), (histogram_match, "\\tfrac"),
                                      (cracks, "\\exp")])
def test_docstrings_keep_their_latex(fn, latex):
    """Non-raw docstrings turn \\f, \\b, \\t into control characters (and \\e, \\m into SyntaxWarnings)."""
    doc = fn.__doc__
    assert latex in doc
    assert not any(c in doc for c in "\f\b\t\v"), repr(doc[:120])
