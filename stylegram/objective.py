"""The Gatys objective as a module: weighted content, style and total-variation losses against fixed targets."""

from __future__ import annotations

import torch

from .losses import content_loss, gram_matrix, style_loss, tv_loss
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
        style = sum(w * style_loss(gram_matrix(features[n]), self.targets.style[n])
                    for n, w in self.style_layer_weights.items())
        tv = tv_loss(image)
        total = self.content_weight * content + self.style_weight * style + self.tv_weight * tv
        return {"loss": total, "content": content, "style": style, "tv": tv}

    def loss_and_grad(self, image: torch.Tensor) -> dict[str, float]:
        """The loss terms of ``image``; its ``.grad`` receives the loss's gradient."""
        values = self(image)
        values["loss"].backward()
        return {k: float(v.detach()) for k, v in values.items()}
