"""A small model zoo: softmax regression, multi-layer perceptrons and a small CNN.

Every model is an ``nn.Sequential`` (so layer-wise tools such as bbprop can walk it) and is
initialised from an explicit generator, so a seed fixes the weights without touching torch's
global random state. The initialisation is PyTorch's default for ``nn.Linear``/``nn.Conv2d``:
weights and biases uniform in :math:`\\pm 1/\\sqrt{\\text{fan-in}}`.

Used in: chapter 01 (digits), chapters 02-04 and 15-17 (training networks).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from harmonia.config import check_in, check_positive, make_generator

__all__ = ["ACTIVATIONS", "mlp", "softmax_regression_net", "small_cnn", "init_uniform_", "SlotCNN", "FeatureNet"]

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}


@torch.no_grad()
def init_uniform_(model: nn.Module, seed: int | torch.Generator | None = 0) -> nn.Module:
    """Re-initialise every Linear/Conv layer uniformly in :math:`\\pm1/\\sqrt{\\text{fan-in}}` from a generator."""
    gen = make_generator(seed)
    for layer in model.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            fan_in = layer.weight[0].numel()
            bound = 1.0 / math.sqrt(fan_in)
            for p in (layer.weight, layer.bias):
                if p is not None:
                    sample = torch.rand(p.shape, generator=gen, dtype=torch.float64)
                    p.copy_((2 * sample - 1) * bound)
    return model


def mlp(in_features: int, hidden: Sequence[int], out_features: int, activation: str = "tanh",
        seed: int | torch.Generator | None = 0, dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu") -> nn.Sequential:
    """A fully connected network ``in -> hidden[0] -> ... -> out`` with the given activation.

    ``hidden=()`` gives a single linear layer: softmax regression when trained with
    cross-entropy. Input (n, in_features), output (n, out_features) (the logits).
    """
    check_positive(in_features, "in_features", integer=True)
    check_positive(out_features, "out_features", integer=True)
    check_in(activation, "activation", tuple(ACTIVATIONS))
    sizes = [in_features, *[check_positive(h, "hidden", integer=True) for h in hidden], out_features]

    def layers() -> list[nn.Module]:
        out: list[nn.Module] = []
        for k in range(len(sizes) - 1):
            out.append(nn.Linear(sizes[k], sizes[k + 1]))
            if k < len(sizes) - 2:
                out.append(ACTIVATIONS[activation]())
        return out

    with torch.random.fork_rng(devices=[]):  # the constructors' default init must not consume global draws
        model = nn.Sequential(*layers())
    return init_uniform_(model, seed).to(dtype=dtype, device=device)


def softmax_regression_net(in_features: int, n_classes: int, seed: int | torch.Generator | None = 0,
                           dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> nn.Sequential:
    """Multinomial logistic regression as a network to train with an optimizer: one ``nn.Linear``
    producing the logits. (The estimator solved to optimality is :class:`harmonia.nn.SoftmaxRegression`.)"""
    check_positive(n_classes, "n_classes", integer=True)
    return mlp(in_features, (), n_classes, seed=seed, dtype=dtype, device=device)


def small_cnn(image_size: int = 8, n_classes: int = 10, channels: int = 16, in_channels: int = 1,
              seed: int | torch.Generator | None = 0, dtype: torch.dtype = torch.float32,
              device: torch.device | str = "cpu") -> nn.Sequential:
    """Two 3x3 convolutions with ReLU and 2x2 max pooling, then a linear classifier.

    Input flat, (n, in_channels * image_size**2), like the other models (it is unflattened
    inside); output (n, n_classes). ``image_size`` must be divisible by 4.
    """
    check_positive(image_size, "image_size", integer=True)
    if image_size % 4:
        raise ValueError(f"image_size: expected a multiple of 4, got {image_size}")
    check_positive(n_classes, "n_classes", integer=True)
    c = check_positive(channels, "channels", integer=True)
    in_channels = check_positive(in_channels, "in_channels", integer=True)
    with torch.random.fork_rng(devices=[]):  # the constructors' default init must not consume global draws
        model = _cnn_layers(image_size, n_classes, c, in_channels)
    return init_uniform_(model, seed).to(dtype=dtype, device=device)


def _cnn_layers(image_size: int, n_classes: int, c: int, in_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Unflatten(1, (in_channels, image_size, image_size)),
        nn.Conv2d(in_channels, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * c * (image_size // 4) ** 2, n_classes),
    )


class SlotCNN(nn.Module):
    """A small fully convolutional classifier with a slot for an attention module.

    Stages of ``depth`` [3x3 convolution, BatchNorm, ReLU] blocks, the last with stride 2 (``widths`` channels; a
    32 x 32 input becomes 16, 8, 4 pixels wide), then global average pooling (the ``features``) and a linear classifier. The module in the
    slot runs after stage ``attn_stage`` (1-based) and must map a feature map F (B, C, H, W) to ``(F_out, aux)``;
    its last ``aux`` dict is kept in ``last_aux`` (empty without attention). Any input size works.

    Parameters
    ----------
    in_channels, n_classes : int
    widths : sequence of int
        Channels of the stages.
    attention : callable, optional
        ``attention(C)`` builds the module for a feature map of C channels, e.g.
        :class:`harmonia.attention.RectangularAttention` or ``lambda C: CBAMSpatialGate()``; it is built inside the
        seeded initialisation, so the seed fixes its weights too.
    attn_stage : int
        After which stage the attention runs.
    seed : int
        Seeds the initialisation (PyTorch's default schemes, drawn from a private generator state).

    Used in: chapter 16.
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 10, widths: Sequence[int] = (16, 32, 64),
                 attention: Callable[[int], nn.Module] | None = None, attn_stage: int = 2, depth: int = 2,
                 seed: int = 0) -> None:
        super().__init__()
        in_channels = check_positive(in_channels, "in_channels", integer=True)
        check_positive(n_classes, "n_classes", integer=True)
        widths = tuple(check_positive(w, "widths", integer=True) for w in widths)
        depth = check_positive(depth, "depth", integer=True)
        if not 1 <= attn_stage <= len(widths):
            raise ValueError(f"attn_stage: expected an int in 1..{len(widths)}, got {attn_stage!r}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            chans = (in_channels,) + widths
            self.stages = nn.ModuleList(_stage(chans[k], chans[k + 1], depth) for k in range(len(widths)))
            self.classifier = nn.Linear(widths[-1], n_classes)
            self.attention = None if attention is None else attention(widths[attn_stage - 1])
        self.attn_stage = attn_stage
        self.last_aux: dict[str, torch.Tensor] = {}

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled features of the last stage: (B, widths[-1])."""
        for k, stage in enumerate(self.stages, 1):
            x = stage(x)
            if k == self.attn_stage and self.attention is not None:
                x, self.last_aux = self.attention(x)
        return x.mean((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))



def _stage(c_in: int, c_out: int, depth: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for k in range(depth):
        stride = 2 if k == depth - 1 else 1
        layers += [nn.Conv2d(c_in if k == 0 else c_out, c_out, 3, stride=stride, padding=1, bias=False),
                   nn.BatchNorm2d(c_out), nn.ReLU()]
    return nn.Sequential(*layers)


class FeatureNet(nn.Module):
    """A network split into a ``body`` (input -> features, no activation on its last layer) and a linear ``head``
    (features -> logits): ``features(x)`` is what depth scores and representation transfer look at, ``forward(x)``
    the logits.

    Used in: chapters 15 and 17.
    """

    def __init__(self, body: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.body, self.head = body, head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
