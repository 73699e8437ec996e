"""The VGG19 architecture as a table, with Caffe-style layer names.

This module is pure Python (no torch) so that the ONNX runtime side can
validate layer names and compute shapes without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Iterable, Sequence

from .errors import InputError

# (output channels, number of 3x3 convolutions) for each of the five blocks.
VGG19_BLOCKS: tuple[tuple[int, int], ...] = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))

DEFAULT_CONTENT_LAYERS: tuple[str, ...] = ("relu4_2",)
DEFAULT_STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
POOLING_MODES: tuple[str, ...] = ("avg", "max")


@dataclass(frozen=True)
class Layer:
    """One layer of VGG19's feature extractor."""

    name: str  # conv1_1, relu1_1, pool1, ...
    kind: str  # "conv", "relu" or "pool"
    position: int  # index in the flat layer list (== torchvision's ``features.N``)
    in_channels: int
    out_channels: int
    pools_before: int  # number of 2x2 poolings applied to the input before this layer's output


@cache
def vgg19_layers() -> tuple[Layer, ...]:
    """Every layer of VGG19's feature part, in order."""
    layers: list[Layer] = []
    channels = 3
    for block, (width, convs) in enumerate(VGG19_BLOCKS, start=1):
        pools = block - 1
        for i in range(1, convs + 1):
            layers.append(Layer(f"conv{block}_{i}", "conv", len(layers), channels, width, pools))
            layers.append(Layer(f"relu{block}_{i}", "relu", len(layers), width, width, pools))
            channels = width
        layers.append(Layer(f"pool{block}", "pool", len(layers), width, width, block))
    return tuple(layers)


@cache
def layers_by_name() -> dict[str, Layer]:
    return {layer.name: layer for layer in vgg19_layers()}


def layer_names() -> tuple[str, ...]:
    return tuple(layer.name for layer in vgg19_layers())


def conv_layers() -> tuple[Layer, ...]:
    return tuple(layer for layer in vgg19_layers() if layer.kind == "conv")


def parse_layer_list(text: str | Sequence[str], *, option: str) -> tuple[str, ...]:
    """Turn ``"relu1_1,relu2_1"`` (or a sequence) into validated layer names.

    ``option`` names the setting in error messages (e.g. ``--style-layers``).
    """
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else [str(n).strip() for n in text]
    names = [n for n in names if n]
    if not names:
        raise InputError(f"{option}: the layer list is empty; give at least one layer such as relu4_2")
    known = layers_by_name()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(
            f"{option}: unknown layer {', '.join(unknown)}; valid layers are {', '.join(layer_names())}"
        )
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"{option}: layer {', '.join(duplicates)} is listed more than once")
    return tuple(names)


def deepest_layer(names: Iterable[str]) -> Layer:
    """The layer furthest from the input among ``names``."""
    known = layers_by_name()
    return max((known[n] for n in names), key=lambda layer: layer.position)


def min_image_side(names: Iterable[str]) -> int:
    """Smallest image side (px) for which every named layer has at least 1x1 output."""
    return 2 ** deepest_layer(names).pools_before


def output_shape(name: str, height: int, width: int) -> tuple[int, int, int]:
    """(channels, height, width) of a layer's output for an input of ``height`` x ``width``.

    Pooling uses kernel 2, stride 2, no padding, so each pooling floors the size.
    """
    layer = layers_by_name()[name]
    for _ in range(layer.pools_before):
        height, width = height // 2, width // 2
    return layer.out_channels, height, width


def layers_through(names: Iterable[str]) -> tuple[Layer, ...]:
    """Every layer from the input up to and including the deepest of ``names``: what a model for them runs."""
    last = deepest_layer(names).position
    return tuple(layer for layer in vgg19_layers() if layer.position <= last)


def conv_flops(names: Iterable[str], height: int, width: int) -> int:
    """Multiply-add FLOPs (2 per MAC) of the convolutions up to the deepest named layer."""
    return sum(2 * h * w * layer.out_channels * layer.in_channels * 9
               for layer in layers_through(names) if layer.kind == "conv"
               for _, h, w in [output_shape(layer.name, height, width)])
