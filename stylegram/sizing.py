"""Image sizes, one function per rule, shared by stylize, the Gram cache and the runtime (no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import InputError
from .images import load_image
from .layers import min_image_side


def check_size(value: int, option: str = "--size") -> int:
    """A long edge in pixels: a positive whole number."""
    if not value > 0:
        raise InputError(f"{option} must be a positive number of pixels, got {value}")
    return value


def style_long_edge(size: int, style_scale: float) -> int:
    """Long edge of a style image for a stylization of long edge ``size``."""
    return max(1, round(size * style_scale))


def content_min_side(content_layers: Sequence[str], style_layers: Sequence[str]) -> int:
    """The optimized image passes through every content and style layer."""
    return min_image_side((*content_layers, *style_layers))


def style_min_side(style_layers: Sequence[str]) -> int:
    """A style image only passes through the style layers."""
    return min_image_side(style_layers)


def load_style_image(path: str | Path, *, size: int, style_scale: float, style_layers: Sequence[str]) -> np.ndarray:
    """A style image as its targets are computed, whoever computes them (stylize or ``cache add``)."""
    return load_image(path, long_edge=style_long_edge(size, style_scale), min_side=style_min_side(style_layers),
                      what="style image")
