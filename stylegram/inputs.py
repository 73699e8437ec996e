"""What a run starts from: its input images as loaded, and each scale's start image.

The content at each scale's size (luminance only with ``--original-colors``), the style images at
theirs, and the image a scale's descent starts from: the caller's ``start``, ``--init``, or a finer
scale built from the coarser result (``coarse_to_fine``).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import color
from .images import load_image
from .masks import load_mask, load_masks
from .settings import StylizeSettings
from .sizing import content_min_side, load_style_image
from .tensor_images import to_tensor


class Inputs(NamedTuple):
    content: np.ndarray  # as loaded (for --original-colors' recolouring)
    work: np.ndarray  # as optimized (luminance only with --original-colors)
    styles: list[np.ndarray]
    masks: list[np.ndarray] | None = None  # content masks (H x W in [0, 1]), one per style image
    style_masks: list[np.ndarray] | None = None  # style masks, each at its style image's size


def load_inputs(content: str | Path, styles: Sequence[str | Path], settings: StylizeSettings, size: int) -> Inputs:
    """The content image at long edge ``size``, the style images at theirs, colour-handled (``--colors``),
    and the masks resized to the images they lie over."""
    min_side = content_min_side(settings.content_layers, settings.style_layers)
    content_rgb = load_image(content, long_edge=size, min_side=min_side, what="content image")
    style_rgbs = [load_style_image(p, size=size, style_scale=settings.style_scale, style_layers=settings.style_layers)
                  for p in styles]
    height, width = content_rgb.shape[:2]
    masks = load_masks(settings.masks, (width, height), over=[content] * len(styles), option="--masks")
    style_masks = None if settings.style_masks is None else [
        load_mask(m, (x.shape[1], x.shape[0]), over=s, option="--style-masks")
        for m, x, s in zip(settings.style_masks, style_rgbs, styles)]
    if settings.colors == "match":
        style_rgbs = [color.match_colors(x, content_rgb) for x in style_rgbs]
    if settings.colors != "luminance":
        return Inputs(content_rgb, content_rgb, style_rgbs, masks, style_masks)
    style_rgbs = [color.luminance_image(x, match=content_rgb) for x in style_rgbs]
    return Inputs(content_rgb, color.luminance_image(content_rgb), style_rgbs, masks, style_masks)


def coarse_to_fine(coarse: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """The coarse scale's result for its low frequencies, ``start``'s own high frequencies for the rest.

    One Laplacian-pyramid step: upsampling alone would hand the next scale a blurred image, whose
    fine-layer style statistics must then be rebuilt (measured at 64 -> 128 px: the fine scale's
    first loss is 2.37 with the detail kept, 2.88 upsampled, 5.57 for the photo; docs/design.md).
    """
    size = start.shape[-2:]
    blurred_start = F.interpolate(F.interpolate(start, size=coarse.shape[-2:], mode="area"), size=size,
                                  mode="bicubic", align_corners=False)
    upsampled = F.interpolate(coarse.detach(), size=size, mode="bicubic", align_corners=False)
    return (upsampled + start - blurred_start).clamp(0, 1)


def initial_image(settings: StylizeSettings, work_rgb: np.ndarray, device: torch.device,
                  previous: torch.Tensor | None = None, start: np.ndarray | None = None) -> torch.Tensor:
    """Where a scale starts: ``start`` (an image given by the caller, resized), else ``settings.init``;
    a finer scale adds the coarser result's low frequencies (``coarse_to_fine``)."""
    if start is not None:
        image = F.interpolate(to_tensor(start, device), size=work_rgb.shape[:2], mode="bicubic", align_corners=False)
        return image.clamp(0, 1).contiguous().requires_grad_(True)
    if settings.init == "content":
        start = work_rgb
    elif settings.init == "noise":
        start = np.random.default_rng(settings.seed).uniform(0, 1, work_rgb.shape).astype(np.float32)
    else:
        height, width = work_rgb.shape[:2]
        start = load_image(settings.init, size=(width, height), what="--init image")
    image = to_tensor(start, device)
    if previous is not None:
        image = coarse_to_fine(previous, image)
    return image.contiguous().requires_grad_(True)


