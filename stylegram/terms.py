"""Terms added to an objective: one more differentiable function of the image, with its weight.

The coarse-style term (``coarse_style.py``) and video's temporal term are such terms. Each is
computed on the whole image, also when the scale itself is tiled: they are cheap next to VGG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .loop import LossAndGrad

TermFunction = Callable[[torch.Tensor], torch.Tensor]  # image (1 x 3 x H x W) -> scalar


class AddedTerm:
    """``objective`` plus ``weight`` x ``term(image)``; the loss terms gain ``name``: the term unweighted."""

    def __init__(self, objective: LossAndGrad, name: str, term: TermFunction, weight: float):
        self.objective, self.name, self.term, self.weight = objective, name, term, weight

    def loss_and_grad(self, image: torch.Tensor) -> dict[str, float]:
        terms = self.objective.loss_and_grad(image)
        pixels = image.detach().requires_grad_(True)
        value = self.term(pixels)
        (self.weight * value).backward()
        image.grad = image.grad + pixels.grad
        unweighted = float(value.detach())
        return terms | {"loss": terms["loss"] + self.weight * unweighted, self.name: unweighted}


@dataclass(frozen=True)
class ExtraTerm:
    """A term for ``stylize(..., extra_terms=...)``: ``at_size(height, width)`` gives the term's function
    at each scale's size (for example a target image resized to it)."""

    name: str
    weight: float
    at_size: Callable[[int, int], TermFunction]
