"""Layer 1: small models, their training and their metrics.

- :mod:`~harmonia.nn.models` -- the zoo: softmax regression, MLPs, a small CNN (``nn.Sequential``,
  seeded initialisation), a fully convolutional CNN with an attention slot;
- :mod:`~harmonia.nn.training` -- :func:`fit`, the one training loop, and its :class:`FitHistory`;
- :mod:`~harmonia.nn.metrics` -- accuracy, error rate, negative log-likelihood, :math:`R^2`, Pearson;
- :mod:`~harmonia.nn.ridge` -- closed-form ridge regression with a validated penalty;
- :mod:`~harmonia.nn.grad_stats` -- per-sample gradients and their batch moments;
- :mod:`~harmonia.nn.flat` -- a model's parameters as one flat vector and back;
- :mod:`~harmonia.nn.random_filters` -- Gram statistics of a random one-layer CNN (a texture baseline);
- :mod:`~harmonia.nn.linear` -- L2-regularised softmax regression fitted exactly by L-BFGS: the
  linear classifier that chapters put on top of fixed features;
- :mod:`~harmonia.nn.fczero` -- ReZero residual MLPs;
- :mod:`~harmonia.nn.gaussian` -- Gaussian densities from a network's output (Cholesky head) and their NLL.
"""

from harmonia.nn.fczero import FcZero
from harmonia.nn.flat import FlatParams
from harmonia.nn.gaussian import Gaussian, GaussianHead, gaussian_nll, head_size, vec_to_tril
from harmonia.nn.grad_stats import BatchStats, grad_moments, per_sample_grads
from harmonia.nn.linear import SoftmaxRegression
from harmonia.nn.metrics import accuracy, error_rate, nll, pearson, r2_score
from harmonia.nn.ridge import RidgeRegression
from harmonia.nn.random_filters import RF_SIZES, RandomFilterGram
from harmonia.nn.models import FeatureNet, SlotCNN, init_uniform_, mlp, small_cnn, softmax_regression_net
from harmonia.nn.training import FitHistory, evaluate, fit, standard_closure

__all__ = [
    "FcZero",
    "Gaussian",
    "GaussianHead",
    "gaussian_nll",
    "head_size",
    "vec_to_tril",
    "RidgeRegression",
    "r2_score",
    "pearson",
    "RF_SIZES",
    "RandomFilterGram",
    "SoftmaxRegression",
    "accuracy",
    "error_rate",
    "nll",
    "mlp",
    "softmax_regression_net",
    "small_cnn",
    "SlotCNN",
    "FeatureNet",
    "init_uniform_",
    "fit",
    "evaluate",
    "standard_closure",
    "FitHistory",
    "BatchStats",
    "FlatParams",
    "per_sample_grads",
    "grad_moments",
]
