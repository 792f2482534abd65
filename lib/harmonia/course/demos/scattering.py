"""Chapter 05 (Kymatio: scattering transforms): signals, experiments and widget callbacks.

The transforms themselves are :class:`harmonia.scattering.Scattering1D`, ``Scattering2D`` and
``HarmonicScattering3D``; the filters are in :mod:`harmonia.filters`. This module holds what the
chapter runs with them: test signals (tones, AM and FM), the invariance/stability measurements, the
texture and 3D "molecule" experiments, and the figures behind the widgets.

Used in: chapter 05.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from harmonia.config import check_positive, check_tensor, make_generator
from harmonia.course.settings import ChapterSettings, extend
from harmonia.filters.littlewood_paley import littlewood_paley_sum
from harmonia.filters.morlet1d import filter_bank_1d, morlet_1d_params
from harmonia.filters.morlet2d import filter_bank_2d
from harmonia.maxent import random_phase_surrogate
from harmonia.pointwise import modulus
from harmonia.nn import SoftmaxRegression
from harmonia.phase_harmonics import phase_filter

__all__ = [
    "Settings",
    "settings",
    "device_check",
    "tone",
    "am_fm_signals",
    "dilate",
    "relative_change",
    "invariance_table",
    "first_order_full_rate",
    "relu_phase_average",
    "scattering_features_1d",
    "modulation_spectrum",
    "texture_dataset",
    "classify",
    "disk_images",
    "modulated_gratings",
    "standardise",
    "texture_pair",
    "plot_reconstruction",
    "molecule",
    "random_rotation",
    "plot_filter_bank_1d",
    "lp_range",
    "filter_bank_alt_text",
    "plot_filter_2d",
    "plot_invariance",
    "plot_channel_2d",
]

F64 = torch.float64


@dataclass(frozen=True)
class Settings(ChapterSettings):
    """Mode, device and the sizes of the chapter's experiments (fast mode by default): AM/FM signals
    per class in each split, texture crops per class in each split, images per class in each split of
    the texture pairs, and L-BFGS iterations of the inversion."""

    am_fm_per_class: int = 50
    texture_crops: int = 40
    pair_per_class: int = 30
    inversion_steps: int = 60


def settings(base: ChapterSettings | None = None) -> Settings:
    """``base`` (default: :func:`harmonia.course.settings.current`) with the sizes of its mode: fast
    mode as above; full mode: 200 signals, 200 crops and 100 pair images per class, 300 inversion
    iterations."""
    return extend(Settings, base, {"am_fm_per_class": 200, "texture_crops": 200, "pair_per_class": 100,
                                   "inversion_steps": 300})


# ---------------------------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------------------------
def tone(N: int, freqs: tuple[float, ...] = (0.05, 0.1, 0.15), mod_freq: float = 1 / 512,
         seed: int | torch.Generator | None = 0, dtype: torch.dtype = F64) -> torch.Tensor:
    """A harmonic tone with a slow amplitude modulation, zero near both ends.

    :math:`x(t)=w(t)\\,(1+\\tfrac12\\cos 2\\pi f_m t)\\sum_h \\cos(2\\pi f_h t+\\varphi_h)` with a Tukey-like
    window :math:`w` that vanishes on the first and last eighth (so shifts and reflect padding do
    not create edges), random phases :math:`\\varphi_h`.

    Returns
    -------
    (N,) tensor
    """
    N = check_positive(N, "N", integer=True)
    gen = make_generator(seed)
    t = torch.arange(N, dtype=dtype)
    phases = 2 * math.pi * torch.rand(len(freqs), generator=gen, dtype=dtype)
    x = sum(torch.cos(2 * math.pi * f * t + p) for f, p in zip(freqs, phases))
    x = x * (1 + 0.5 * torch.cos(2 * math.pi * mod_freq * t))
    edge = N // 8
    ramp = 0.5 - 0.5 * torch.cos(math.pi * torch.arange(edge, dtype=dtype) / edge)
    w = torch.ones(N, dtype=dtype)
    w[:edge] = 0
    w[edge : 2 * edge] = ramp
    w[-2 * edge : -edge] = ramp.flip(0)
    w[-edge:] = 0
    return x * w


def am_fm_signals(n_per_class: int, N: int = 4096, m: float = 0.5, f_mod: float = 2.0**-9,
                  noise_db: float = -20.0, seed: int | torch.Generator | None = 0,
                  dtype: torch.dtype = F64, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Amplitude- vs frequency-modulated tones with almost the same power spectrum.

    :math:`x_{AM}=(1+m\\cos(2\\pi f_m t+\\varphi_1))\\cos(2\\pi f_c t+\\varphi_2)`,
    :math:`x_{FM}=\\cos(2\\pi f_c t+m\\sin(2\\pi f_m t+\\varphi_1)+\\varphi_2)`, carrier
    :math:`f_c\\sim U[0.05, 0.2]`, random phases, white noise at ``noise_db`` dB. Drawn on the CPU
    (the same signals on every device), returned on ``device``.

    Returns
    -------
    x : (2 n, N) tensor, AM signals first
    y : (2 n,) int64 labels, 0 = AM, 1 = FM
    """
    n = check_positive(n_per_class, "n_per_class", integer=True)
    gen = make_generator(seed)
    t = torch.arange(N, dtype=dtype)
    fc = 0.05 + 0.15 * torch.rand(2 * n, 1, generator=gen, dtype=dtype)
    p1 = 2 * math.pi * torch.rand(2 * n, 1, generator=gen, dtype=dtype)
    p2 = 2 * math.pi * torch.rand(2 * n, 1, generator=gen, dtype=dtype)
    am = (1 + m * torch.cos(2 * math.pi * f_mod * t + p1[:n])) * torch.cos(2 * math.pi * fc[:n] * t + p2[:n])
    fm = torch.cos(2 * math.pi * fc[n:] * t + m * torch.sin(2 * math.pi * f_mod * t + p1[n:]) + p2[n:])
    x = torch.cat([am, fm])
    x = x + 10 ** (noise_db / 20) * x.std(dim=1, keepdim=True) * torch.randn(x.shape, generator=gen, dtype=dtype)
    y = torch.cat([torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)])
    return x.to(device), y.to(device)


def dilate(x: torch.Tensor, eps: float) -> torch.Tensor:
    """:math:`x((1+\\epsilon)(t-c)+c)` about the centre :math:`c`, by linear interpolation (last dim)."""
    check_tensor(x, "x", min_ndim=1, dtype="real")
    N = x.shape[-1]
    c = (N - 1) / 2
    t = (1 + eps) * (torch.arange(N, dtype=F64) - c) + c
    t = t.clamp(0, N - 1)
    lo = t.floor().long().clamp(max=N - 2)
    w = (t - lo).to(x.dtype)
    return x[..., lo] * (1 - w) + x[..., lo + 1] * w


# ---------------------------------------------------------------------------------------------
# Invariance and stability
# ---------------------------------------------------------------------------------------------
def relative_change(transform: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                    x_moved: torch.Tensor) -> float:
    """:math:`\\|T(x')-T(x)\\|/\\|T(x)\\|` for a transform :math:`T` and a moved signal :math:`x'`."""
    tx, ty = transform(x), transform(x_moved)
    return float((ty - tx).norm() / tx.norm())


def invariance_table(x: torch.Tensor, scattering: torch.nn.Module, shift: int, eps: float) -> dict[str, dict[str, float]]:
    """Relative changes of :math:`x`, :math:`|\\hat x|`, :math:`S_1` and :math:`S_2` under a circular
    shift by ``shift`` samples and under a dilation by ``1 + eps``.

    Returns
    -------
    {"shift": {...}, "dilation": {...}} with keys "x", "|x^|", "S1", "S2".
    """
    orders = torch.tensor([m["order"] for m in scattering.meta()])
    transforms = {
        "x": lambda s: s,
        "|x^|": lambda s: torch.fft.rfft(s).abs(),
        "S1": lambda s: scattering(s)[..., orders == 1, :],
        "S2": lambda s: scattering(s)[..., orders == 2, :],
    }
    moved = {"shift": torch.roll(x, shift, dims=-1), "dilation": dilate(x, eps)}
    return {kind: {name: relative_change(T, x, xm) for name, T in transforms.items()} for kind, xm in moved.items()}


def first_order_full_rate(x: torch.Tensor, psi_hat: torch.Tensor, phi_hat: torch.Tensor,
                          nonlinearity: Callable[[torch.Tensor], torch.Tensor] = modulus) -> torch.Tensor:
    """First-order scattering by its definition, at the full rate and with circular convolutions:
    :math:`S_1x[\\lambda](t)=\\big(\\rho(x\\star\\psi_\\lambda)\\star\\phi\\big)(t)` with :math:`\\rho=|\\cdot|`.

    Parameters
    ----------
    x : (..., N) real tensor
    psi_hat : (K, N) tensor, wavelets in Fourier
    phi_hat : (N,) tensor, low-pass in Fourier
    nonlinearity : callable, complex -> real (default: the modulus)

    Returns
    -------
    (..., K, N) real tensor
    """
    check_tensor(x, "x", min_ndim=1, dtype="real")
    N = x.shape[-1]
    check_tensor(psi_hat, "psi_hat", shape=(None, N), dtype="float_or_complex")
    check_tensor(phi_hat, "phi_hat", shape=(N,), dtype="float_or_complex")
    x_hat = torch.fft.fft(x, dim=-1).unsqueeze(-2)
    u = nonlinearity(torch.fft.ifft(x_hat * psi_hat.to(x_hat.dtype), dim=-1))
    return torch.fft.ifft(torch.fft.fft(u, dim=-1) * phi_hat.to(x_hat.dtype), dim=-1).real


def relu_phase_average(z: torch.Tensor, n_phases: int = 4) -> torch.Tensor:
    """:math:`\\frac1P\\sum_{k<P}\\mathrm{ReLU}(\\mathrm{Re}(e^{-i\\alpha_k}z))`, :math:`\\alpha_k=2\\pi k/P`:
    the modulus replaced by rectifiers averaged over phases (a bridge to chapter 06).

    For :math:`P=4` it equals :math:`(|\\mathrm{Re}z|+|\\mathrm{Im}z|)/4`.
    """
    n_phases = check_positive(n_phases, "n_phases", integer=True)
    return phase_filter(z, n_phases, "relu").mean(dim=-1)


def scattering_features_1d(S: torch.Tensor, meta: list[dict], eps: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """Time-averaged log features: :math:`\\log S_1` and the renormalised
    :math:`\\log\\tilde S_2=\\log(S_2/S_1[\\lambda_1])` of a 1D scattering output ``S`` (B, P, T).

    Returns
    -------
    (log S1 of shape (B, n1), log S2~ of shape (B, n2))
    """
    check_tensor(S, "S", ndim=3)
    avg = S.mean(dim=-1)
    order = [m["order"] for m in meta]
    first = [i for i, o in enumerate(order) if o == 1]
    second = [i for i, o in enumerate(order) if o == 2]
    parent = {meta[i]["n"][0]: i for i in first}
    s1 = avg[:, first]
    s2 = avg[:, second] / avg[:, [parent[meta[i]["n"][0]] for i in second]].clamp_min(eps)
    return torch.log(s1 + eps), torch.log(s2 + eps)


def modulation_spectrum(S: torch.Tensor, meta: list[dict], eps: float = 1e-6) -> torch.Tensor:
    r"""The modulation spectrum of a 1D scattering output ``S`` (B, P, T): for each second-order
    wavelet :math:`\lambda_2`, :math:`\log\big(\sum_{\lambda_1}\bar S_2[\lambda_1,\lambda_2]/\sum_{\lambda_1}\bar S_1[\lambda_1]\big)`
    with time-averaged coefficients :math:`\bar S`. Summing over :math:`\lambda_1` makes it
    independent of where the carrier lies; it measures how the envelopes oscillate at the rate of
    :math:`\lambda_2`.

    Returns
    -------
    (B, n_lambda2) tensor
    """
    check_tensor(S, "S", ndim=3)
    if len(meta) != S.shape[1]:
        raise ValueError(f"meta: expected one entry per channel ({S.shape[1]}), got {len(meta)}")
    avg = S.mean(dim=-1)
    first = [i for i, m in enumerate(meta) if m["order"] == 1]
    total1 = avg[:, first].sum(dim=1, keepdim=True)
    children = sorted({m["n"][1] for m in meta if m["order"] == 2})
    cols = [avg[:, [i for i, m in enumerate(meta) if m["order"] == 2 and m["n"][1] == n2]].sum(dim=1) for n2 in children]
    return torch.log(torch.stack(cols, dim=1) / total1 + eps)


def classify(train: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor], l2: float = 1e-2) -> float:
    """Test accuracy of an L2 softmax regression fitted on ``train`` (features, labels)."""
    model = SoftmaxRegression(l2=l2).fit(*train)
    return model.score(*test)


# ---------------------------------------------------------------------------------------------
# Textures (2D) and molecules (3D)
# ---------------------------------------------------------------------------------------------
def texture_dataset(textures: dict[str, torch.Tensor], n_per_class: int, size: int = 32,
                    seed: int | torch.Generator | None = 0, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Random crops of each texture, each crop standardised (zero mean, unit variance) so that only
    the texture's structure, not its brightness or contrast, tells the classes apart. Cropped on the
    CPU (the same crops on every device), returned on ``device``.

    Returns
    -------
    x : (C n, size, size) tensor; y : (C n,) int64 labels in the order of ``textures``
    """
    from harmonia.data.textures import random_crops

    gen = make_generator(seed)
    xs, ys = [], []
    for label, image in enumerate(textures.values()):
        crops = random_crops(image, n_per_class, size, seed=gen)
        xs.append(standardise(crops))
        ys.append(torch.full((n_per_class,), label, dtype=torch.long))
    return torch.cat(xs).to(device), torch.cat(ys).to(device)


def standardise(x: torch.Tensor) -> torch.Tensor:
    """Each image (last two dims) shifted and scaled to zero mean and unit variance."""
    check_tensor(x, "x", min_ndim=2, dtype="real")
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    return x / x.std(dim=(-2, -1), keepdim=True).clamp_min(1e-6)


def disk_images(n: int, size: int = 32, n_disks: int = 6, radius: float = 3.0,
                seed: int | torch.Generator | None = 0) -> torch.Tensor:
    """``n`` binary images of ``n_disks`` disks of radius ``radius`` at uniform random centres on the
    periodic ``size x size`` grid (overlaps merge), float64, shape (n, size, size)."""
    n = check_positive(n, "n", integer=True)
    gen = make_generator(seed)
    g = torch.arange(size, dtype=F64)
    centres = size * torch.rand(n, n_disks, 2, generator=gen, dtype=F64)

    def wrap(d: torch.Tensor) -> torch.Tensor:
        return d - size * torch.round(d / size)

    dy = wrap(g[None, None, :, None] - centres[..., 0, None, None])
    dx = wrap(g[None, None, None, :] - centres[..., 1, None, None])
    return ((dy.square() + dx.square()) < radius**2).to(F64).amax(dim=1)


def modulated_gratings(n: int, kind: str, size: int = 32, xi: float = 1.2, period: float = 16.0, m: float = 0.5,
                       noise: float = 0.1, seed: int | torch.Generator | None = 0) -> torch.Tensor:
    """The 2D version of the AM/FM pair: a plane wave of frequency ``xi`` (radians per pixel) along a
    random direction :math:`\\theta`, modulated along that direction with period ``period`` pixels,
    :math:`u=y\\cos\\theta+x\\sin\\theta`, :math:`\\omega_m=2\\pi/\\text{period}`,
    ``"am"``: :math:`(1+m\\cos(\\omega_mu+\\varphi_1))\\cos(\\xi u+\\varphi_2)`,
    ``"fm"``: :math:`\\cos(\\xi u+m\\sin(\\omega_mu+\\varphi_1)+\\varphi_2)`, plus white noise of
    standard deviation ``noise``; float64, shape (n, size, size)."""
    n = check_positive(n, "n", integer=True)
    if kind not in ("am", "fm"):
        raise ValueError(f"kind: expected 'am' or 'fm', got {kind!r}")
    gen = make_generator(seed)
    g = torch.arange(size, dtype=F64)
    theta, p1, p2 = (math.pi * k * torch.rand(n, 1, 1, generator=gen, dtype=F64) for k in (1, 2, 2))
    u = g[:, None] * torch.cos(theta) + g[None, :] * torch.sin(theta)
    wm = 2 * math.pi / period
    if kind == "am":
        x = (1 + m * torch.cos(wm * u + p1)) * torch.cos(xi * u + p2)
    else:
        x = torch.cos(xi * u + m * torch.sin(wm * u + p1) + p2)
    return x + noise * torch.randn(x.shape, generator=gen, dtype=F64)


def texture_pair(kind: str, n_per_class: int, seed: int = 0, size: int = 32,
                 device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Two texture classes with the same power spectrum, standardised, float32 on ``device``.

    ``"disks"``: random disks (label 0) vs random-phase surrogates of other disk images (label 1:
    :func:`harmonia.maxent.random_phase_surrogate`, a nearly Gaussian field with their power spectrum); ``"gratings"``: amplitude- (0) vs frequency-modulated (1) gratings.

    Returns
    -------
    x : (2 n, size, size) float32; y : (2 n,) int64
    """
    n = check_positive(n_per_class, "n_per_class", integer=True)
    gen = make_generator(seed)
    if kind == "disks":
        a = disk_images(n, size, seed=gen)
        b = random_phase_surrogate(disk_images(n, size, seed=gen), seed=gen)
    elif kind == "gratings":
        a, b = modulated_gratings(n, "am", size, seed=gen), modulated_gratings(n, "fm", size, seed=gen)
    else:
        raise ValueError(f"kind: expected 'disks' or 'gratings', got {kind!r}")
    x = standardise(torch.cat([a, b])).to(torch.float32)
    y = torch.cat([torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)])
    return x.to(device), y.to(device)


def plot_reconstruction(x0: torch.Tensor, x_rec: torch.Tensor, s0: torch.Tensor, s_rec: torch.Tensor,
                        history: list[float]) -> Figure:
    """Inversion from scattering coefficients: the two waveforms, their time-averaged coefficients
    channel by channel, and the loss per iteration."""
    from harmonia.course.plots import to_host

    x0, x_rec, s0, s_rec = (to_host(v) for v in (x0, x_rec, s0, s_rec))
    fig, (ax0, ax1, ax2) = plt.subplots(1, 3, figsize=(11.0, 3.4))
    ax0.plot(x0.numpy(), lw=0.9, label="original $x_0$")
    ax0.plot(x_rec.numpy(), lw=0.9, alpha=0.8, label="recovered $x$")
    ax0.set(xlabel="time $t$ (samples)", ylabel="amplitude", title="Two waveforms")
    ax0.legend(loc="lower left", fontsize=8)
    c = np.arange(s0.shape[-2])
    ax1.semilogy(c, s0.mean(-1).abs().numpy() + 1e-8, "o", ms=4, label="$Sx_0$")
    ax1.semilogy(c, s_rec.mean(-1).abs().numpy() + 1e-8, "x", ms=5, label="$Sx$")
    ax1.set(xlabel="scattering channel", ylabel="time-averaged coefficient", title="... with the same scattering")
    ax1.legend(fontsize=8)
    ax2.semilogy(np.arange(1, len(history) + 1), history)
    ax2.set(xlabel="L-BFGS iteration", ylabel="$\\|Sx-Sx_0\\|^2/\\|Sx_0\\|^2$", title="Loss")
    return fig


def molecule(positions: torch.Tensor, charges: torch.Tensor, size: int = 32, sigma: float = 1.5,
             dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A density on a periodic ``size^3`` grid: a sum of Gaussians of width ``sigma`` at ``positions``
    (A, 3) (grid units, centred at the grid centre) weighted by ``charges`` (A,), on their device."""
    check_tensor(positions, "positions", shape=(None, 3))
    check_tensor(charges, "charges", shape=(positions.shape[0],))
    g = torch.arange(size, dtype=F64, device=positions.device) - size / 2
    Z, Y, X = torch.meshgrid(g, g, g, indexing="ij")
    grid = torch.stack([Z, Y, X], dim=-1)
    d2 = (grid.unsqueeze(-2) - positions.to(F64)).square().sum(dim=-1)
    rho = (charges.to(F64) * torch.exp(-d2 / (2 * sigma**2))).sum(dim=-1)
    return rho.to(dtype)


def random_rotation(seed: int | torch.Generator | None = 0) -> torch.Tensor:
    """A uniformly random 3x3 rotation matrix (QR of a Gaussian matrix, sign-fixed, det +1)."""
    gen = make_generator(seed)
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=F64))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


# ---------------------------------------------------------------------------------------------
# Figures (widget callbacks)
# ---------------------------------------------------------------------------------------------
def plot_filter_bank_1d(J: int = 6, Q: int = 8, N_pad: int = 2048) -> Figure:
    """All first-order :math:`|\\hat\\psi_\\lambda|` of the 1D bank (J, Q), the low-pass, the
    Littlewood-Paley sum, and the elbow between constant-Q and constant-bandwidth filters."""
    bank = filter_bank_1d(N_pad, J, Q)
    params = morlet_1d_params(J, Q)
    psi = torch.stack([p["levels"][0] for p in bank["psi1"]])
    phi = bank["phi"]["levels"][0]
    f = np.arange(N_pad // 2) / N_pad
    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(8.0, 5.2), sharex=True)
    for k in range(psi.shape[0]):
        ax0.plot(f, psi[k, : N_pad // 2].abs().numpy(), lw=0.8, color="#0072B2" if k % 2 == 0 else "#56B4E9")
    ax0.plot(f, phi[: N_pad // 2].abs().numpy(), lw=1.5, color="#D55E00", label="low-pass $\\hat\\phi$")
    sig = np.array(params["sigma"])
    n_const = int(np.sum(np.isclose(sig, sig.min())))
    ax0.set(ylabel="$|\\hat\\psi_\\lambda(f)|$", xscale="log",
            title=f"1D Morlet bank J={J}, Q={Q}: {psi.shape[0]} wavelets ({n_const} of constant bandwidth)")
    ax0.legend(loc="upper left")
    lp = littlewood_paley_sum(psi, phi)[: N_pad // 2].numpy()
    lo, hi = lp_range(J, Q, N_pad)
    ax1.plot(f, lp, color="#009E73")
    ax1.axhline(1.0, color="0.5", lw=0.8, ls="--")
    ax1.axvspan(0.01, 0.45, color="0.9", zorder=0)
    ax1.set(xlabel="frequency $f$ (cycles per sample, log scale)", ylabel="LP sum",
            title=f"Littlewood-Paley sum: between {lo:.2f} and {hi:.2f} on 0.01 < f < 0.45 (shaded)")
    return fig


def lp_range(J: int, Q: int, N_pad: int = 2048) -> tuple[float, float]:
    """Min and max of the Littlewood-Paley sum (wavelets + low-pass) of the 1D bank on 0.01 < f < 0.45."""
    bank = filter_bank_1d(N_pad, J, Q)
    psi = torch.stack([p["levels"][0] for p in bank["psi1"]])
    lp = littlewood_paley_sum(psi, bank["phi"]["levels"][0])
    f = torch.arange(N_pad, dtype=F64) / N_pad
    band = lp[(f > 0.01) & (f < 0.45)]
    return float(band.min()), float(band.max())


def filter_bank_alt_text(J: int, Q: int) -> str:
    """Alt text of :func:`plot_filter_bank_1d`, with the computed Littlewood-Paley range."""
    lo, hi = lp_range(J, Q)
    n = len(morlet_1d_params(J, Q)["xi"])
    return (f"The {n} first-order Morlet wavelets of the J={J}, Q={Q} bank in Fourier on a log-frequency axis, "
            f"with the Gaussian low-pass; below, their Littlewood-Paley sum, between {lo:.2f} and {hi:.2f} "
            "for frequencies from 0.01 to 0.45.")


def plot_filter_2d(j: int = 1, theta: int = 0, L: int = 8, size: int = 64) -> Figure:
    """One 2D Morlet wavelet :math:`\\psi_{j,\\theta}`: real part in space and :math:`|\\hat\\psi|` in
    frequency (centred), with the centre frequency :math:`\\xi_j=\\tfrac{3\\pi}4 2^{-j}` at angle
    :math:`\\theta`."""
    J = max(j + 1, 2)
    bank = filter_bank_2d(size, size, J, L)
    entry = next(p for p in bank["psi"] if p["j"] == j and p["theta"] == theta)
    psi_hat = entry["levels"][0]
    psi = torch.fft.ifft2(psi_hat.to(torch.complex128))
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(8.0, 3.8))
    ax0.imshow(torch.fft.fftshift(psi.real).numpy(), cmap="RdBu_r")
    ax0.set(title=f"Re $\\psi_{{j={j},\\theta={theta}}}$ in space", xlabel="$u_2$", ylabel="$u_1$")
    ax1.imshow(torch.fft.fftshift(psi_hat.abs()).numpy(), extent=(-math.pi, math.pi, math.pi, -math.pi))
    ax1.set(title="$|\\hat\\psi|$ in frequency (radians)", xlabel="$\\omega_2$", ylabel="$\\omega_1$")
    for ax in (ax0, ax1):
        ax.grid(False)
    return fig


def plot_invariance(table: dict[str, dict[str, float]], shift: int, eps: float) -> Figure:
    """Bar chart of the relative changes returned by :func:`invariance_table`."""
    names = list(next(iter(table.values())))
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    width = 0.38
    pos = np.arange(len(names))
    for k, (kind, label) in enumerate([("shift", f"shift by {shift} samples"), ("dilation", f"dilation by {eps:.3f}")]):
        ax.bar(pos + (k - 0.5) * width, [table[kind][n] for n in names], width, label=label)
    ax.set_xticks(pos, names)
    ax.set(yscale="log", ylabel="relative change", title="What moves when the signal moves")
    ax.legend()
    return fig


def plot_channel_2d(S: torch.Tensor, meta: list[dict], channel: int) -> Figure:
    """One channel of a 2D scattering output ``S`` (P, H, W), titled with its path from ``meta``."""
    check_tensor(S, "S", ndim=3)
    m = meta[channel]
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.imshow(S[channel].numpy())
    path = ", ".join(f"(j={j}, θ={t})" for j, t in zip(m.get("j", ()), m.get("theta", ())))
    ax.set_title(f"channel {channel}: order {m['order']}" + (f"\n{path}" if path else " (low-pass)"))
    ax.grid(False)
    ax.axis("off")
    return fig


#: outputs of :func:`device_check` expected to differ between devices (drawn from the device's own
#: generator, or iterated by an optimiser that amplifies rounding): ``gpucheck`` checks only their
#: place, shape and finiteness
DEVICE_DEPENDENT = frozenset({"1D class scores"})


def device_check(base: ChapterSettings) -> dict[str, torch.Tensor]:
    """The chapter's three transforms and its classifier at their smallest sizes on ``base.device``:
    1D scattering of AM/FM signals, 2D scattering of texture crops, 3D harmonic scattering of a
    molecule, by name. Used by the device tests and ``gpucheck``."""
    from harmonia.data.textures import load_textures
    from harmonia.scattering import HarmonicScattering3D, Scattering1D, Scattering2D

    s = replace(settings(base), am_fm_per_class=2, texture_crops=2)
    x, y = am_fm_signals(s.am_fm_per_class, N=1024, seed=1, device=s.device)
    S1 = Scattering1D(J=6, shape=1024, Q=8).to(s.device)(x)
    feats = torch.log1p(S1.mean(-1))
    model = SoftmaxRegression(l2=0.1).fit(feats, y)
    crops, _ = texture_dataset(load_textures(), s.texture_crops, size=32, seed=3, device=s.device)
    S2 = Scattering2D(J=2, shape=(32, 32), L=4).to(s.device)(crops)
    g = make_generator(5)
    rho = molecule(6 * torch.randn(3, 3, generator=g, dtype=F64).to(s.device),
                   1 + torch.rand(3, generator=g, dtype=F64).to(s.device), size=16)
    S3 = HarmonicScattering3D(J=1, shape=(16, 16, 16), L=1).to(s.device)(rho)
    return {"1D scattering": S1, "1D class scores": model.decision_function(feats), "2D scattering": S2,
            "3D molecule": rho, "3D scattering": S3}
