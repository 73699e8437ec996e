"""The Gatys objective as a module: weighted content, style and total-variation losses against fixed targets."""

from __future__ import annotations

import torch

from .guides import MIN_MASS
from .losses import content_loss, gram_matrix, guided_gram, style_loss, tv_loss
from .model import VGG19Features
from .targets import Targets


class Objective(torch.nn.Module):
    """Weighted sum of content, style and total-variation losses against fixed targets."""

    def __init__(self, model: VGG19Features, targets: Targets, *, content_weight: float,
                 style_weight: float, tv_weight: float, style_layer_weights: dict[str, float],
                 precision: str = "fp32"):
        super().__init__()
        self.autocast_bf16 = precision == "bf16"
        self.model = model
        self.targets = targets
        self.content_weight, self.style_weight, self.tv_weight = content_weight, style_weight, tv_weight
        self.style_layer_weights = style_layer_weights

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        # channels-last lets oneDNN skip layout conversions (a few % per iteration on CPU)
        with torch.autocast(image.device.type, dtype=torch.bfloat16, enabled=self.autocast_bf16):
            features = self.model(image.contiguous(memory_format=torch.channels_last))
        features = {n: f.float() for n, f in features.items()}  # losses and Grams in float32
        content = sum(content_loss(features[n], t) for n, t in self.targets.content.items())
        style = sum(w * self.style_term(n, features[n]) for n, w in self.style_layer_weights.items())
        tv = tv_loss(image)
        total = self.content_weight * content + self.style_weight * style + self.tv_weight * tv
        return {"loss": total, "content": content, "style": style, "tv": tv}

    def style_term(self, name: str, feature: torch.Tensor) -> torch.Tensor:
        """One layer's style loss: against the blended Grams, or with --masks summed over the regions,
        each region's guided Gram against its own style's (``targets.Region``)."""
        if not self.targets.regions:
            return style_loss(gram_matrix(feature), self.targets.style[name])
        return sum((r.weight * style_loss(guided_gram(feature, r.guides[name], r.masses[name]), r.grams[name])
                    for r in self.targets.regions if r.masses[name] > MIN_MASS), feature.new_zeros(()))

    def loss_and_grad(self, image: torch.Tensor) -> dict[str, float]:
        """The loss terms of ``image``; its ``.grad`` receives the loss's gradient."""
        values = self(image)
        values["loss"].backward()
        return {k: float(v.detach()) for k, v in values.items()}
