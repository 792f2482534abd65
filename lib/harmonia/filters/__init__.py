"""Layer 1: filter banks, built once and shared by every wavelet method of the course.

- :mod:`~harmonia.filters.morlet1d` -- 1D Morlet wavelets with Q per octave, Gaussian low-pass
  (kymatio 0.3 definitions and constants), and a full-resolution constant-Q bank;
- :mod:`~harmonia.filters.morlet2d` -- 2D Morlet wavelets with L orientations (kymatio/ScatNet);
- :mod:`~harmonia.filters.bump` -- 2D bump steerable wavelets (2L orientations) and a Gaussian low-pass
  (phase-harmonic chapters, pywph's definitions);
- :mod:`~harmonia.filters.haar` -- the three 2x2 Haar high-passes that cover the frequency corners;
- :mod:`~harmonia.filters.solid_harmonics` -- 3D solid harmonic wavelets;
- :mod:`~harmonia.filters.littlewood_paley` -- the Littlewood-Paley sum of a bank.

Used in: chapters 05-11.
"""
