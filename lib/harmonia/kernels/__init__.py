r"""Layer 2: kernels, random features and the Lipschitz constants of their feature maps (chapter 18).

- :mod:`~harmonia.kernels.functions` -- Gaussian, Laplace, Matérn, rational-quadratic, ReLU (arc-cosine) and erf
  (arcsine) kernels and the kernel distance :math:`d_k`;
- :mod:`~harmonia.kernels.spectral` -- Bochner spectral samplers of the shift-invariant kernels (and a seeded gamma
  sampler);
- :mod:`~harmonia.kernels.features` -- finite random feature maps (paired and random-phase Fourier, ReLU, erf, tanh),
  their Jacobians and feature Gram matrices;
- :mod:`~harmonia.kernels.lipschitz` -- closed forms, the pair search, :math:`\Gamma(x)` by autograd, the Gaussian
  two-layer network integral, and finite-width constants.
"""

from harmonia.kernels.features import FEATURE_KINDS, RandomFeatures
from harmonia.kernels.functions import (
    KERNELS,
    STATIONARY,
    arccos1,
    arcsin_erf,
    gaussian,
    kernel,
    kernel_distance,
    laplace,
    matern,
    rational_quadratic,
)
from harmonia.kernels.lipschitz import (
    ACTIVATIONS,
    PairSearch,
    closed_form_lip,
    gaussian_net_AB,
    gaussian_net_lip,
    kernel_gram,
    lip_on_points,
    lip_relu_2d,
    lip_second_moment,
    pair_search,
    rkhs_lip_bound,
)
from harmonia.kernels.spectral import SPECTRAL, sample_gamma, sample_spectral

__all__ = [
    "KERNELS", "STATIONARY", "gaussian", "laplace", "matern", "rational_quadratic", "arccos1", "arcsin_erf", "kernel",
    "kernel_distance",
    "SPECTRAL", "sample_gamma", "sample_spectral",
    "FEATURE_KINDS", "RandomFeatures",
    "ACTIVATIONS", "closed_form_lip", "PairSearch", "pair_search", "kernel_gram", "gaussian_net_AB",
    "gaussian_net_lip", "lip_second_moment", "lip_relu_2d", "lip_on_points", "rkhs_lip_bound",
]
