"""Masks for spatial control (Gatys et al. 2017): reading them, and making complementary ones. No torch.

A mask is a greyscale image (colour images count by their mean): white = this style here, grey =
partial weight, black = not here. Content masks lie over the content image, style masks over
their style image; each is resized to the image it lies over, and refused when its aspect ratio
differs from that image's by more than ``ASPECT_TOLERANCE``. How masks become each layer's
guidance channels is ``guides.py``; docs/masks.md has the choices and the measurements.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import InputError
from .images import image_size, load_image

ASPECT_TOLERANCE = 0.01  # relative difference of width / height
SPLITS = ("left", "right", "top", "bottom")


def load_mask(path: str | Path, size: tuple[int, int], *, over: str | Path, option: str) -> np.ndarray:
    """The mask ``path`` as H x W float32 in [0, 1], resized to ``size`` = (width, height) of the image
    ``over`` (a file: its aspect ratio is what the mask's must match)."""
    width, height = image_size(path, f"{option} image")
    over_width, over_height = image_size(over, "image")
    ratio, over_ratio = width / height, over_width / over_height
    if abs(ratio / over_ratio - 1) > ASPECT_TOLERANCE:
        raise InputError(f"{option} {path}: aspect ratio {width}x{height} differs from {Path(over).name}'s "
                         f"{over_width}x{over_height} by more than {ASPECT_TOLERANCE:.0%}")
    rgb = load_image(path, size=size, what=f"{option} image")
    return np.clip(rgb.mean(axis=-1), 0.0, 1.0).astype(np.float32)


def load_masks(paths: Sequence[str | Path] | None, size: tuple[int, int], *, over: Sequence[str | Path],
               option: str) -> list[np.ndarray] | None:
    """One mask per image of ``over`` (one per style image), each resized to ``size`` = (width, height)."""
    if paths is None:
        return None
    if len(paths) != len(over):
        raise InputError(f"{option}: expected {len(over)} masks (one per style image), got {len(paths)}")
    return [load_mask(p, size, over=o, option=option) for p, o in zip(paths, over)]


def split_masks(width: int, height: int, side: str, feather: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(mask, its complement): white on ``side``'s half, with a linear ramp ``feather`` px wide across the seam."""
    if side not in SPLITS:
        raise InputError(f"--split must be one of {', '.join(SPLITS)}, got {side}")
    if not feather >= 0:
        raise InputError(f"--feather must be >= 0 px, got {feather}")
    length = width if side in ("left", "right") else height
    position = np.arange(length, dtype=np.float64) + 0.5 - length / 2  # signed distance from the seam
    ramp = np.clip(0.5 - position / feather, 0, 1) if feather > 0 else (position < 0).astype(np.float64)
    if side in ("right", "bottom"):
        ramp = ramp[::-1]
    mask = np.broadcast_to(ramp[None, :] if side in ("left", "right") else ramp[:, None], (height, width))
    mask = mask.astype(np.float32)
    return mask, 1.0 - mask


def threshold_masks(rgb: np.ndarray, threshold: float, feather: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(mask, its complement): white where the luminance is above ``threshold`` (0–1); ``feather`` px
    of box blur soften the edge."""
    if not 0 <= threshold <= 1:
        raise InputError(f"--threshold must be between 0 and 1, got {threshold}")
    luminance = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    mask = (luminance > threshold).astype(np.float32)
    radius = int(round(feather / 2))
    if radius > 0:
        for axis in (0, 1):
            padded = np.pad(mask, [(radius, radius) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
            sums = np.cumsum(np.insert(padded, 0, 0, axis=axis), axis=axis)
            mask = (np.take(sums, np.arange(2 * radius + 1, sums.shape[axis]), axis=axis)
                    - np.take(sums, np.arange(0, sums.shape[axis] - 2 * radius - 1), axis=axis)) / (2 * radius + 1)
    return mask.astype(np.float32), (1.0 - mask).astype(np.float32)


def masks_sha256(paths: Sequence[str | Path] | None) -> list[dict] | None:
    """What a recipe records of masks: file name and sha256 of each."""
    from .fileio import sha256_file

    return None if paths is None else [{"file": Path(p).name, "sha256": sha256_file(Path(p))} for p in paths]
