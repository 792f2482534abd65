r"""Synthetic audio: two piano-like notes with harmonic partials, the "notes" experiment of chapter 13.

Source :math:`k` (fundamental :math:`f_k`) is :math:`s_k(t)=e_k(t)\,[a_1\cos\theta_k(t)+a_2\cos2\theta_k(t)]` with
:math:`\theta_k(t)=2\pi f_kt+\varphi_k`, a phase :math:`\varphi_k\sim U[0,2\pi)` drawn per source and per realisation.
The signal has three segments of equal length: note A alone, note B alone, both together. Each activation has the
envelope :math:`\sin(\pi\tau)`, :math:`\tau\in[0,1]` across the activation. This is our procedural replacement of the
paper's recordings (same structure: fundamentals 440 and 466.16 Hz, partial amplitudes 0.25 and 0.125).

Used in: chapter 13.
"""

from __future__ import annotations

import math

import torch

from harmonia.config import check_int, check_positive, make_generator

__all__ = ["harmonic_notes"]


def harmonic_notes(n_real: int = 1, *, fs: float = 2000.0, seg_len: float = 0.5,
                   freqs: tuple[float, float] = (440.0, 466.16), amps: tuple[float, float] = (0.25, 0.125),
                   noise_std: float = 0.0, seed: int | torch.Generator | None = 0,
                   dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``n_real`` independent realisations of the two-note signal.

    Parameters
    ----------
    n_real : int
        Number of realisations S (they differ by the partials' phases and, if ``noise_std > 0``, the noise).
    fs : float
        Sampling rate in Hz (above twice the highest partial, :math:`2f_k`).
    seg_len : float
        Length of each of the three segments in seconds.
    freqs, amps : pairs of floats
        Fundamentals of notes A and B in Hz; amplitudes of the first and second partial.
    noise_std : float
        Standard deviation of additive white Gaussian noise (0: none, as in the paper).
    seed : int or torch.Generator

    Returns
    -------
    y : (n_real, L) the mixtures, :math:`L=\lfloor 3\,\text{seg\_len}\,f_s\rfloor`
    sources : (n_real, 2, L) the two notes (without noise)
    """
    n_real = check_int(n_real, "n_real")
    fs = float(check_positive(fs, "fs"))
    seg = int(round(check_positive(seg_len, "seg_len") * fs))
    if len(freqs) != 2 or len(amps) != 2:
        raise ValueError(f"freqs, amps: expected two values each, got {len(freqs)} and {len(amps)}")
    if 2 * max(freqs) >= fs / 2:
        raise ValueError(f"fs: expected fs > 4 * max(freqs) = {4 * max(freqs)} (the second partial below Nyquist), got {fs}")
    check_positive(noise_std, "noise_std", allow_zero=True)
    g = make_generator(seed)
    L = 3 * seg
    t = torch.arange(L, dtype=torch.float64) / fs
    tau = torch.arange(seg, dtype=torch.float64) / seg
    bell = torch.sin(math.pi * tau)
    env = torch.zeros(2, L, dtype=torch.float64)
    env[0, :seg] = bell                                 # A alone
    env[1, seg:2 * seg] = bell                          # B alone
    env[:, 2 * seg:] = bell                             # both
    phi = 2 * math.pi * torch.rand(n_real, 2, 1, generator=g, dtype=torch.float64)
    theta = 2 * math.pi * torch.tensor(freqs, dtype=torch.float64)[None, :, None] * t + phi
    sources = env * (amps[0] * torch.cos(theta) + amps[1] * torch.cos(2 * theta))
    y = sources.sum(1)
    if noise_std > 0:
        y = y + noise_std * torch.randn(y.shape, generator=g, dtype=torch.float64)
    return y.to(dtype), sources.to(dtype)
