"""The Gatys objective over tiles, with the whole image's Grams: memory bounded by a tile, not the image.

The Gram of the whole image is a sum over positions, so it is the sum of the tiles' Grams, as long
as each tile is computed with enough context (a halo) for its features to equal the whole image's.
One evaluation is two passes:

1. no gradient: every padded tile's features, cropped to its core, add up to the whole image's
   Grams and content error (the loss, exactly);
2. per tile: forward and backward of a surrogate whose gradient is this tile's share of the whole
   loss's gradient: ``<2 (G - T), G_tile>`` per style layer (``G - T`` fixed from pass 1) plus the
   tile's part of the content error. Each core feature belongs to one tile, so summing the padded
   tiles' pixel gradients, halos included, gives the whole image's gradient.

Where the tiles lie, and why the halo is 80 px, is ``tile_geometry.py``.
"""

from __future__ import annotations

import torch

from .guides import MIN_MASS
from .layers import layers_by_name
from .losses import content_norm, style_norm, tv_loss
from .tile_geometry import Tile


class TiledObjective:
    """The same loss and gradient as ``Objective`` (up to rounding), computed one tile at a time."""

    def __init__(self, objective, tiles: list[Tile]):
        self.objective, self.tiles = objective, tiles
        self.pools = {n: layers_by_name()[n].pools_before for n in objective.model.outputs}

    def _core(self, tile: Tile, name: str, feature: torch.Tensor, full: tuple[int, int]) -> tuple[torch.Tensor, tuple]:
        """The padded tile's features over its core, and where they sit in the whole feature map."""
        scale = 2 ** self.pools[name]
        (y0, y1, x0, x1), (py0, py1, px0, px1) = tile.core, tile.padded
        fy0, fx0 = y0 // scale, x0 // scale  # cores and halos are on the 16 px grid: exact
        fy1 = full[0] if y1 == py1 else y1 // scale  # a core at the image's edge keeps the floor of pooling
        fx1 = full[1] if x1 == px1 else x1 // scale
        oy, ox = fy0 - py0 // scale, fx0 - px0 // scale
        return feature[..., oy:oy + fy1 - fy0, ox:ox + fx1 - fx0], (fy0, fy1, fx0, fx1)

    def _style_terms(self, sizes: dict) -> list[tuple]:
        """(layer, guide or None, divisor C·ΣT², target Gram, weight) per style term: one per layer, or
        with --masks one per layer and region (the guided Grams of ``guides.py``, sums over positions too)."""
        objective, targets = self.objective, self.objective.targets
        if not targets.regions:
            return [(n, None, targets.style[n].shape[-1] * sizes[n][0] * sizes[n][1], targets.style[n], w)
                    for n, w in objective.style_layer_weights.items()]
        return [(n, r.guides[n], r.grams[n].shape[-1] * r.masses[n], r.grams[n], w * r.weight)
                for n, w in objective.style_layer_weights.items() for r in targets.regions if r.masses[n] > MIN_MASS]

    def _tile_terms(self, pixels: torch.Tensor, tile: Tile, sizes: dict, terms: list[tuple]) -> tuple[list, dict]:
        """Raw (guided) Gram sums (F^T F) per style term and squared content errors of one padded tile's core."""
        with torch.autocast(pixels.device.type, dtype=torch.bfloat16, enabled=self.objective.autocast_bf16):
            found = self.objective.model(pixels.contiguous(memory_format=torch.channels_last))
        grams, errors = [], {}
        for name, guide, *_ in terms:
            core, (a, b, c, d) = self._core(tile, name, found[name].float(), sizes[name])
            if guide is not None:
                core = core * guide[..., a:b, c:d]
            flat = core.reshape(core.shape[0], core.shape[1], -1)
            grams.append(flat @ flat.transpose(1, 2))
        for name, target in self.objective.targets.content.items():
            core, (a, b, c, d) = self._core(tile, name, found[name].float(), sizes[name])
            errors[name] = (core - target[..., a:b, c:d]).pow(2).sum()
        return grams, errors

    def loss_and_grad(self, image: torch.Tensor) -> dict[str, float]:
        """The loss terms of ``image``; its ``.grad`` is set to the loss's gradient."""
        objective, targets = self.objective, self.objective.targets
        sizes = {n: _feature_size(image.shape[-2:], p) for n, p in self.pools.items()}
        terms = self._style_terms(sizes)
        with torch.no_grad():  # pass 1: the whole image's Grams and content errors
            grams = [torch.zeros_like(target) for _, _, _, target, _ in terms]
            errors = {n: image.new_zeros(()) for n in targets.content}
            for tile in self.tiles:
                py0, py1, px0, px1 = tile.padded
                tile_grams, tile_errors = self._tile_terms(image[..., py0:py1, px0:px1], tile, sizes, terms)
                for i, tile_gram in enumerate(tile_grams):
                    grams[i] += tile_gram
                for n in errors:
                    errors[n] += tile_errors[n]
            # the sums above, scaled as losses.py normalises its terms (a mean is a sum / numel)
            content_scale = {n: 1.0 / (t.numel() * content_norm(t)) for n, t in targets.content.items()}
            style_scale = [w / style_norm(target) for _, _, _, target, w in terms]
            residual = [grams[i] / count - target for i, (_, _, count, target, _) in enumerate(terms)]
            content = sum(errors[n] * content_scale[n] for n in errors)
            style = sum((s * r.pow(2).sum() for s, r in zip(style_scale, residual)), image.new_zeros(()))
        grad = torch.zeros_like(image)
        for tile in self.tiles:  # pass 2: each tile's share of the gradient
            py0, py1, px0, px1 = tile.padded
            pixels = image.detach()[..., py0:py1, px0:px1].clone().requires_grad_(True)
            tile_grams, tile_errors = self._tile_terms(pixels, tile, sizes, terms)
            surrogate = objective.style_weight * sum(
                (2 * style_scale[i] / term[2] * residual[i] * tile_grams[i]).sum() for i, term in enumerate(terms))
            surrogate = surrogate + objective.content_weight * sum(
                tile_errors[n] * content_scale[n] for n in tile_errors)
            surrogate.backward()
            grad[..., py0:py1, px0:px1] += pixels.grad
        pixels = image.detach().clone().requires_grad_(True)
        tv = tv_loss(pixels)
        (objective.tv_weight * tv).backward()
        image.grad = grad + pixels.grad
        total = objective.content_weight * content + objective.style_weight * style + objective.tv_weight * tv.detach()
        return {"loss": float(total), "content": float(content), "style": float(style), "tv": float(tv.detach())}


def _feature_size(size, pools: int) -> tuple[int, int]:
    height, width = int(size[0]), int(size[1])
    for _ in range(pools):
        height, width = height // 2, width // 2
    return height, width
