"""A style term at the coarsest scale's size, kept during the finer scales (same look at every size).

VGG19's relu5_1 sees 156 px: most of a 256 px image, a small part of a 2048 px one. So the finer
scales of a coarse-to-fine run rebuild the texture at a finer relative scale and wear down the
large structures the coarsest scale made (docs/print-sizes.md). With a weight > 0,
every finer scale also asks for the coarsest scale's style: the image, downscaled (area) to that
scale's size, against the style Grams at that size. The small image is computed whole, also when
the scale itself is tiled.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .loop import LossAndGrad
from .terms import AddedTerm


def coarse_style(objective: LossAndGrad, coarse_objective, weight: float, size: tuple[int, int]) -> AddedTerm:
    """``objective`` plus ``weight`` x style weight x the coarse style loss of the image downscaled (area)
    to ``size`` (only the ``style`` term of ``coarse_objective`` is used; its content and tv terms are not)."""

    def term(pixels: torch.Tensor) -> torch.Tensor:
        return coarse_objective(F.interpolate(pixels, size=size, mode="area"))["style"]

    return AddedTerm(objective, "coarse_style", term, weight * coarse_objective.style_weight)
