"""The exportable module: VGG19 features plus in-graph Gram matrices, as a tuple of named outputs."""

from __future__ import annotations

from typing import Sequence

import torch

from ..losses import gram_matrix
from ..model import VGG19Features
from ..modelinfo import gram_output
from ..weights import Weights


class FeatureGraph(torch.nn.Module):
    """``image`` -> (features of each selected layer..., gram of each style layer...)."""

    def __init__(self, weights: Weights, content_layers: Sequence[str], style_layers: Sequence[str], *,
                 pool: str, gram: bool):
        super().__init__()
        self.feature_names = tuple(dict.fromkeys((*content_layers, *style_layers)))
        self.gram_layers = tuple(style_layers) if gram else ()
        self.features = VGG19Features(weights, self.feature_names, pool=pool)

    @property
    def output_names(self) -> list[str]:
        return [*self.feature_names, *(gram_output(name) for name in self.gram_layers)]

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        found = self.features(image)
        # The loss's own gram_matrix (same normalization), in its float16-safe form.
        return (*found.values(), *(gram_matrix(found[name], prescale=True) for name in self.gram_layers))
