"""Flicker, measured: the temporal warping error of a clip (used by the tests and benchmarks/video_flicker.py).

E = mean over the reliable pixels of |S_t - warp(S_t-1)|, averaged over every pair of consecutive frames
within a shot. The flow and its reliability come from the *input* frames, so every stylization of one
clip (and the clip itself) is measured on the same correspondences.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .flow import flows_between, warp


def input_flows(frames: Sequence[np.ndarray], cuts: Sequence[int], method: str = "dis") -> dict[int, tuple]:
    """(backward flow, reliability) for every frame t > 0 that does not start a shot."""
    return {t: flows_between(frames[t - 1], frames[t], method) for t in range(1, len(frames)) if t not in cuts}


def warping_error(images: Sequence[np.ndarray], flows: dict[int, tuple]) -> float:
    """E for ``images`` (H x W x 3, float in [0, 1] or uint8) with ``input_flows`` of the same size."""
    errors = []
    for t, (backward, weights) in flows.items():
        current, previous = (_unit(images[t]), _unit(images[t - 1]))
        difference = np.abs(current - warp(previous, backward)).mean(axis=-1)
        errors.append(float((difference * weights).sum() / max(weights.sum(), 1.0)))
    return float(np.mean(errors))


def _unit(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
