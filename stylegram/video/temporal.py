"""The temporal consistency of Ruder, Dosovitskiy & Brox (2016): a warm start and a loss term.

A later frame starts from the previous stylized frame warped into it (``warm_start``), with the content
frame where the previous one has no reliable pixel (disocclusions, motion boundaries), and its objective
gains L_t = (1/D) sum_k c_k (x_k - w_k)^2 (``temporal_loss``): x the image, w the warped previous output,
c the reliability weights, D = 3 x H x W. The loss is a torch function of the image, so the optimizer gets
its gradient (a constant built in NumPy would have none: neural-style-tf's mistake; tests/test_video.py).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..terms import ExtraTerm, TermFunction

TEMPORAL_TERM = "temporal"


def temporal_loss(image: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """L_t for a 1 x 3 x H x W ``image``, ``target`` of its shape and 1 x 1 x H x W ``weights``."""
    return (weights * (image - target) ** 2).sum() / image.numel()


def _resized(array: np.ndarray, height: int, width: int) -> torch.Tensor:
    """H x W x C numpy array -> 1 x C x height x width tensor (area-averaged down, bilinear up)."""
    tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32))[None]
    if tensor.shape[-2:] == (height, width):
        return tensor
    shrinking = height < tensor.shape[-2]
    return F.interpolate(tensor, size=(height, width), mode="area" if shrinking else "bilinear",
                         **({} if shrinking else {"align_corners": False}))


def temporal_term(target: np.ndarray, weights: np.ndarray, weight: float) -> ExtraTerm:
    """The temporal term for ``stylize(extra_terms=...)``: ``target`` (H x W x 3, the warped previous
    output) and ``weights`` (H x W reliability) resized to each scale's size."""

    def at_size(height: int, width: int) -> TermFunction:
        fixed = _resized(target, height, width), _resized(weights[..., None], height, width)
        moved: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

        def term(image: torch.Tensor) -> torch.Tensor:
            if image.device not in moved:
                moved[image.device] = tuple(t.to(image.device) for t in fixed)
            return temporal_loss(image, *moved[image.device])

        return term

    return ExtraTerm(TEMPORAL_TERM, weight, at_size)


def warm_start(warped: np.ndarray, content: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The warped previous output where it is reliable, the content frame elsewhere (H x W x 3 float32)."""
    mask = weights[..., None]
    return (mask * warped + (1 - mask) * content).astype(np.float32)
