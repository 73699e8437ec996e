"""The Gatys objective as pure functions on tensors.

Normalizations (chosen so that layers and terms are comparable and independent of
image size and of the weights' input scale):
- Gram matrix: ``G = F Fᵀ / (C·H·W)`` for features F of shape C x (H·W). With
  ``prescale=True`` (what the exported graph uses) the features are scaled by
  ``1/sqrt(C)·1/sqrt(H)·1/sqrt(W)`` *before* the product, so no intermediate exceeds the
  final values and a float16 graph stays finite (``modelinfo.GRAM_NORMALIZATION`` describes it
  in exported models); in float32 the loss scales the small C x C product instead, which saves
  a pass over the large feature maps. Same normalization.
- content loss: mean squared error divided by the target's mean square;
- style loss per layer: squared Frobenius error of the Grams divided by the target
  Gram's squared norm;
- total variation: mean squared difference of neighbouring pixels (image in [0, 1]).
"""

from __future__ import annotations

import torch

EPS = 1e-8


def gram_matrix(features: torch.Tensor, *, prescale: bool = False) -> torch.Tensor:
    """N x C x H x W features -> N x C x C Gram matrices normalized by C·H·W."""
    n, c, h, w = features.shape
    if not prescale and features.is_contiguous(memory_format=torch.channels_last) and not features.is_contiguous():
        # channels-last maps (what the stylize loop runs) are already (H·W) x C rows: Fᵀ F without
        # the copy that a C x (H·W) view needs (the Grams' share of an iteration halves)
        rows = features.permute(0, 2, 3, 1).reshape(n, h * w, c)
        return (rows.transpose(1, 2) @ rows) * (1.0 / (c * h * w))
    flat = features.reshape(n, c, h * w)
    if prescale:
        # Three separate factors: in an exported graph h and w are symbolic, and each factor
        # stays within float16 range where the product C·H·W (e.g. 262,144) would not.
        flat = flat * (c**-0.5 * h**-0.5 * w**-0.5)
        return flat @ flat.transpose(1, 2)
    return (flat @ flat.transpose(1, 2)) * (1.0 / (c * h * w))


def guided_gram(features: torch.Tensor, guide: torch.Tensor, mass: float) -> torch.Tensor:
    """Guided Gram (spatial control, ``guides.py``): ``(F∘T)(F∘T)ᵀ / (C·ΣT²)`` for a 1 x 1 x h x w guide T
    of mass ``ΣT²``; an all-ones guide gives ``gram_matrix``."""
    h, w = features.shape[-2:]
    return gram_matrix(features * guide) * (h * w / mass)


def content_norm(target: torch.Tensor) -> torch.Tensor:
    """What the content loss's mean squared error is divided by: the target's mean square."""
    return target.pow(2).mean() + EPS


def style_norm(target_gram: torch.Tensor) -> torch.Tensor:
    """What a style layer's squared Gram error is divided by: the target Gram's squared norm."""
    return target_gram.pow(2).sum() + EPS


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Relative mean squared error of feature maps."""
    return (features - target).pow(2).mean() / content_norm(target)


def style_loss(gram: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """Relative squared error of Gram matrices."""
    return (gram - target_gram).pow(2).sum() / style_norm(target_gram)


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between horizontally and vertically adjacent pixels."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()
