"""Layer 1: small models and their fitting (chapters add the model zoo and the training loop).

- :mod:`~harmonia.nn.linear` -- L2-regularised softmax (multinomial logistic) regression fitted
  exactly by L-BFGS: the linear classifier that chapters put on top of fixed features.
"""

from harmonia.nn.linear import SoftmaxRegression, accuracy

__all__ = ["SoftmaxRegression", "accuracy"]
