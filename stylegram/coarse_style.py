"""A style term at the coarsest scale's size, kept during the finer scales (same look at every size).

VGG19's relu5_1 sees 156 px: most of a 256 px image, a small part of a 2048 px one. So the finer
scales of a coarse-to-fine run rebuild the texture at a finer relative scale and wear down the
large structures the coarsest scale made (README "Same look at every size"). With a weight > 0,
every finer scale also asks for the coarsest scale's style: the image, downscaled (area) to that
scale's size, against the style Grams at that size. The small image is computed whole, also when
the scale itself is tiled.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class CoarseStyle:
    """``objective`` plus ``weight`` x style weight x the coarse style loss of the downscaled image
    (only the ``style`` term of ``coarse_objective`` is used; its content and tv terms are not)."""

    def __init__(self, objective, coarse_objective, weight: float, size: tuple[int, int]):
        self.objective, self.coarse_objective, self.weight, self.size = objective, coarse_objective, weight, size

    def loss_and_grad(self, image: torch.Tensor) -> dict[str, float]:
        terms = self.objective.loss_and_grad(image)
        pixels = image.detach().requires_grad_(True)
        coarse = self.coarse_objective(F.interpolate(pixels, size=self.size, mode="area"))["style"]
        factor = self.weight * self.coarse_objective.style_weight
        (factor * coarse).backward()
        image.grad = image.grad + pixels.grad
        value = float(coarse.detach())
        return terms | {"loss": terms["loss"] + factor * value, "coarse_style": value}
