"""VGG19 feature extractor: preprocessing inside, named layers out.

Read top to bottom: ``Preprocess`` turns RGB in [0, 1] into what the weights expect;
``build_layers`` makes the named conv/relu/pool modules up to the deepest requested
layer; ``VGG19Features`` runs them and returns the requested activations by name.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .errors import InputError
from .layers import POOLING_MODES, deepest_layer, vgg19_layers
from .weights import Preprocessing, Weights


class Preprocess(nn.Module):
    """``(x[:, channel_order] * scale - mean) / std`` as a per-channel affine map."""

    def __init__(self, preprocessing: Preprocessing):
        super().__init__()
        std = torch.tensor(preprocessing.std)
        gain = preprocessing.scale / std
        offset = torch.tensor(preprocessing.mean) / std
        self.reorder = tuple(preprocessing.channel_order) != (0, 1, 2)
        self.register_buffer("order", torch.tensor(preprocessing.channel_order), persistent=False)
        self.register_buffer("gain", gain.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("offset", offset.view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if self.reorder:
            image = image.index_select(1, self.order)
        return image * self.gain - self.offset


def build_layers(weights: Weights, last: str, pool: str) -> nn.ModuleDict:
    """Named VGG19 modules from ``conv1_1`` up to and including ``last``."""
    modules: dict[str, nn.Module] = {}
    for layer in vgg19_layers():
        if layer.kind == "conv":
            conv = nn.Conv2d(layer.in_channels, layer.out_channels, kernel_size=3, padding=1)
            weight, bias = weights.tensors[layer.name]
            conv.weight.data.copy_(weight)
            conv.bias.data.copy_(bias)
            modules[layer.name] = conv
        elif layer.kind == "relu":
            modules[layer.name] = nn.ReLU(inplace=False)  # activations are read: never in place
        else:
            modules[layer.name] = nn.AvgPool2d(2, 2) if pool == "avg" else nn.MaxPool2d(2, 2)
        if layer.name == last:
            break
    return nn.ModuleDict(modules)


class VGG19Features(nn.Module):
    """VGG19 truncated after the deepest of ``layers``; ``forward`` returns ``{name: activation}``.

    Input: float tensor N x 3 x H x W, RGB in [0, 1]. Parameters are frozen.
    """

    def __init__(self, weights: Weights, layers: Sequence[str], *, pool: str = "avg"):
        super().__init__()
        if pool not in POOLING_MODES:
            raise InputError(f"--pool must be one of {', '.join(POOLING_MODES)}, got {pool}")
        self.outputs = tuple(dict.fromkeys(layers))
        self.pool = pool
        self.weights_name = weights.name
        self.weights_sha256 = weights.sha256
        self.preprocessing = weights.preprocessing
        self.preprocess = Preprocess(weights.preprocessing)
        self.layers = build_layers(weights, deepest_layer(self.outputs).name, pool)
        self.requires_grad_(False)
        self.eval()

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        wanted = set(self.outputs)
        found: dict[str, torch.Tensor] = {}
        x = self.preprocess(image)
        for name, module in self.layers.items():
            x = module(x)
            if name in wanted:
                found[name] = x
        return {name: found[name] for name in self.outputs}
