"""Guidance channels for spatial control (Gatys et al. 2017, "Controlling Perceptual Factors"). No torch.

A mask (H x W in [0, 1], at the image's size) becomes one guidance channel per layer, T^l, at that
layer's resolution. Three ways (``--guide``):

- ``simple``: the mask averaged over each unit's pooling block (2^k x 2^k pixels after k poolings);
- ``inside``: the mask's minimum over the unit's receptive field first (a unit counts only where its
  receptive field lies wholly inside the region), then as ``simple``;
- ``all``: the maximum instead (a unit counts where its receptive field touches the region).

Guided Gram: ``G_T = (F∘T)(F∘T)ᵀ / (C · ΣT²)``, a weighted mean of the positions' feature products,
so an all-ones guide gives today's Gram ``F Fᵀ / (C·H·W)`` and a region's Gram is comparable to an
unmasked painting's whatever the region's area (the paper's L2-normalised T; docs/masks.md says why
not halving per pooling or dividing by the mask's mean). ``ΣT²`` is the guide's *mass*.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .layers import layers_by_name
from .tile_geometry import receptive_field

MIN_MASS = 1e-6  # a guide with less mass than this (an empty region at this layer) has no style term


def feature_size(height: int, width: int, layer: str) -> tuple[int, int]:
    """A layer's feature-map size for an image of height x width (each 2x2 pooling floors)."""
    for _ in range(layers_by_name()[layer].pools_before):
        height, width = height // 2, width // 2
    return height, width


def _sliding(mask: np.ndarray, window: int, reduce) -> np.ndarray:
    """``reduce`` (np.minimum / np.maximum) over a ``window``-wide square centred on each pixel, edges repeated."""
    radius = window // 2
    out = mask
    for axis in (0, 1):
        padded = np.pad(out, [(radius, radius) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        length = out.shape[axis]
        result = np.take(padded, np.arange(length), axis=axis)
        for shift in range(1, 2 * radius + 1):
            result = reduce(result, np.take(padded, np.arange(shift, shift + length), axis=axis))
        out = result
    return out


def layer_guide(mask: np.ndarray, layer: str, mode: str = "simple") -> np.ndarray:
    """The guidance channel T^l (h x w float32) of ``mask`` (H x W) at ``layer``."""
    if mode == "inside":
        mask = _sliding(mask, receptive_field(layer), np.minimum)
    elif mode == "all":
        mask = _sliding(mask, receptive_field(layer), np.maximum)
    elif mode != "simple":
        raise ValueError(f"unknown guide {mode}")
    block = 2 ** layers_by_name()[layer].pools_before
    h, w = feature_size(*mask.shape, layer)
    blocks = mask[:h * block, :w * block].reshape(h, block, w, block)
    return blocks.mean(axis=(1, 3), dtype=np.float64).astype(np.float32)


def layer_guides(mask: np.ndarray, layers: Sequence[str], mode: str = "simple") -> dict[str, np.ndarray]:
    return {n: layer_guide(mask, n, mode) for n in layers}


def guide_mass(guide: np.ndarray) -> float:
    """ΣT²: what a guided Gram is divided by (with C)."""
    return float(np.square(guide, dtype=np.float64).sum())


def numpy_guided_gram(features: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """C x C guided Gram of 1 x C x h x w features (any engine's) under an h x w guide."""
    _, c, h, w = features.shape
    flat = (features[0].astype(np.float64) * guide[None].astype(np.float64)).reshape(c, h * w)
    return (flat @ flat.T / (c * max(guide_mass(guide), MIN_MASS))).astype(np.float32)
