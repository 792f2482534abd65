"""Layer 2: wavelet phase harmonic (WPH) moments.

- :mod:`~harmonia.wph.index` -- which moments: :class:`MomentIndex`, the 1D tolerance rule and the 2D
  scale-interaction sets of the papers, and their counting conventions;
- :mod:`~harmonia.wph.models` -- the moment sets of the maximum-entropy models B, C, D (chapter 07);
- :mod:`~harmonia.wph.moments` -- the moment modules :class:`PhaseHarmonicCov`, :class:`WPH1D`,
  :class:`WPH2D`, :class:`AngularWPH2D` (batched, differentiable, GPU-ready);
- :mod:`~harmonia.wph.correlations` -- shifted correlations of feature maps (Gram-with-shifts, FFT,
  direct), the shift set :math:`\\mathcal T_J`, border masks, the frozen standardisation;
- :mod:`~harmonia.wph.alpha` -- the rectifier (ALPHA) texture model :class:`AlphaStats` (chapter 08);
- :mod:`~harmonia.wph.foveal` -- the "foveal" covariance that evaluates syntheses (chapter 07).

Used in: chapters 06-08, 10.
"""

from harmonia.wph.index import MomentIndex, circular_distance, scale_interaction_2d, tolerance_rule_1d
from harmonia.fourier import half_plane_shifts  # the shifts of models B-D (a grid helper)
from harmonia.wph.alpha import EXTRAS, SHIFT_MODES, AlphaStats, alpha_stat_count, color_correlation
from harmonia.wph.correlations import (
    CORRELATION_METHODS,
    FrozenStandardizer,
    border_masks,
    shift_set,
    shifted_correlations,
)
from harmonia.wph.foveal import foveal_covariance, foveal_features
from harmonia.wph.models import maxent_moments, model_B, model_C, model_D, point_process_moments
from harmonia.wph.moments import MORLET_WIDTH_FACTOR, WPH1D, WPH2D, AngularWPH2D, PhaseHarmonicCov, ShiftedWPH2D

__all__ = [
    "MomentIndex",
    "circular_distance",
    "scale_interaction_2d",
    "tolerance_rule_1d",
    "PhaseHarmonicCov",
    "WPH1D",
    "WPH2D",
    "AngularWPH2D",
    "ShiftedWPH2D",
    "point_process_moments",
    "half_plane_shifts",
    "maxent_moments",
    "model_B",
    "model_C",
    "model_D",
    "MORLET_WIDTH_FACTOR",
    "foveal_features",
    "foveal_covariance",
    "AlphaStats",
    "alpha_stat_count",
    "color_correlation",
    "SHIFT_MODES",
    "EXTRAS",
    "CORRELATION_METHODS",
    "FrozenStandardizer",
    "border_masks",
    "shift_set",
    "shifted_correlations",
]
