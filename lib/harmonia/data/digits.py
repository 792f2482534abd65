"""scikit-learn's handwritten digits (1797 images of 8x8 pixels, 10 classes) with a fixed split.

The data ship inside the scikit-learn wheel (UCI optical digits, test part; licence CC BY 4.0),
so nothing is downloaded. Pixels (0..16) are scaled to [0, 1].

Used in: chapter 01; chapters 02-04.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harmonia.config import check_positive, make_generator

__all__ = ["Digits", "load_digits"]

N_DIGITS = 1797


@dataclass(frozen=True)
class Digits:
    """A train/test split of the digits.

    Attributes
    ----------
    X_train : Tensor, shape (n_train, 64)
    y_train : LongTensor, shape (n_train,)
    X_test : Tensor, shape (n_test, 64)
    y_test : LongTensor, shape (n_test,)
    """

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor


def load_digits(n_test: int = 500, seed: int = 0, dtype: torch.dtype = torch.float32,
                device: torch.device | str = "cpu") -> Digits:
    """The digits as tensors, split by a seeded random permutation (1297 / 500 by default).

    Parameters
    ----------
    n_test : int
        Size of the test set, 1..1796.
    seed : int
        Seed of the permutation (``torch.randperm`` on the CPU, so the split is the same on
        every machine).
    dtype, device
        Of the returned features (labels are int64 on ``device``).
    """
    n_test = check_positive(n_test, "n_test", integer=True)
    if n_test >= N_DIGITS:
        raise ValueError(f"n_test: expected fewer than {N_DIGITS} samples, got {n_test}")
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError as err:  # pragma: no cover - scikit-learn is a dependency
        raise ImportError("load_digits: expected scikit-learn to be installed (pip install scikit-learn)") from err
    raw = sk_load_digits()
    X = torch.as_tensor(raw.data, dtype=torch.float64) / 16.0
    y = torch.as_tensor(raw.target, dtype=torch.int64)
    perm = torch.randperm(X.shape[0], generator=make_generator(seed))
    test, train = perm[:n_test], perm[n_test:]
    put = lambda t, dt: t.to(dtype=dt, device=device)  # noqa: E731
    return Digits(put(X[train], dtype), put(y[train], torch.int64), put(X[test], dtype), put(y[test], torch.int64))
