"""Up-front memory estimate for a stylization and the plan that fits a budget: the whole image at
once when it fits, else the largest tiles that do (``tiling.py``), with an L-BFGS history that fits.
Only what cannot be done even tiled is refused, before anything is loaded.

The one planner: ``stylize`` plans every scale once (``scale_plans``) against one ``Budget`` read
once (``memory_budget``); the CLI prints those plans, and ``batch`` gives each worker its share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .errors import InputError
from .layers import layers_through, output_shape
from .tile_geometry import HALO, MIN_TILE, tile_sizes

BYTES_PER_VALUE = 4
# Autograd keeps about one copy of the activations up to the deepest layer, and the backward pass a
# few more for a while: measured 2.5 KB per pixel whole at 1024x768 and 2.7 KB per padded-tile pixel
# at 2048 px in 640 px tiles, about 1.1 copies. 2.0 leaves room for allocator slack (docs/print-sizes.md).
ACTIVATION_COPIES = 2.0
FIXED_BYTES = 600 * 2**20  # torch, weights (80 MiB decoded), ONNX Runtime session, Python
# ONNX Runtime computing the targets (without its arena, ``SessionConfig.release_memory``): a one-off
# peak before the loop, 2.5 GiB measured at 2048x1536, about 870 bytes per pixel of the largest input
TARGET_BYTES_PER_PIXEL = 1024

LBFGS_HISTORY = 100  # pairs kept by default; fewer at print sizes, where 100 would not fit
MIN_HISTORY = 10
# image-sized float32 buffers: image, gradient, last good image, L-BFGS direction and gradients,
# tile gradients, the content target (relu4_2: 8 values per pixel), the loaded inputs; with slack
IMAGE_COPIES = 24


def activation_bytes(height: int, width: int, layers) -> int:
    """Forward activations kept for the backward pass (and their gradients) at ``height`` x ``width``."""
    values = sum(c * h * w for c, h, w in (output_shape(layer.name, height, width) for layer in layers_through(layers)))
    return int(ACTIVATION_COPIES * values * BYTES_PER_VALUE)


def history_bytes(height: int, width: int, pairs: int) -> int:
    return 2 * pairs * 3 * height * width * BYTES_PER_VALUE  # L-BFGS keeps pairs of image-sized vectors


def image_bytes(height: int, width: int) -> int:
    """Everything besides activations and L-BFGS history that grows with the image."""
    return FIXED_BYTES + IMAGE_COPIES * 3 * height * width * BYTES_PER_VALUE


def target_bytes(height: int, width: int, style_scale: float = 1.0) -> int:
    """Peak while the fixed targets are computed (whole images: content, then each style image)."""
    return FIXED_BYTES + int(TARGET_BYTES_PER_PIXEL * height * width * max(1.0, style_scale) ** 2)


def estimate_bytes(height: int, width: int, layers) -> int:
    """Peak memory of one whole-image L-BFGS iteration at ``height`` x ``width`` (an estimate, not a bound)."""
    return (activation_bytes(height, width, layers) + history_bytes(height, width, LBFGS_HISTORY)
            + image_bytes(height, width))


@dataclass(frozen=True)
class Budget:
    """Bytes a run may use, and where that figure came from (named in refusals)."""

    bytes: int
    source: str


    def share(self, workers: int) -> "Budget":
        """One of ``workers`` equal shares (each batch worker plans within its own)."""
        if workers <= 1:
            return self
        return Budget(self.bytes // workers, f"1/{workers} of {self.source}, one share per worker")


def memory_budget(memory_gib: float | None, *, device: str = "cpu", share: int = 1) -> Budget:
    """``memory_gib`` (``--memory``), else what is free now on ``device`` (host memory, or the GPU's
    free memory for a CUDA device), read once here; divided by ``share`` when several workers split it."""
    if memory_gib:
        total, source = int(memory_gib * 2**30), "--memory"
    elif device.startswith("cuda"):
        import torch  # only for a CUDA device, where torch is there to run the loop anyway

        total, source = torch.cuda.mem_get_info(torch.device(device))[0], f"the free memory of {device} now"
    else:
        import psutil

        total, source = psutil.virtual_memory().available, "the memory available now"
    return Budget(total, source).share(share)


@dataclass(frozen=True)
class Plan:
    height: int
    width: int
    tile: int | None  # core size of the tiles (px), None: the whole image at once
    history: int  # L-BFGS pairs
    bytes: int  # the estimate of what this plan needs

    def describe(self) -> str:
        how = "whole image" if self.tile is None else f"tiles of {self.tile} px (+{HALO} px halo)"
        return f"{self.width}x{self.height}: {how}, L-BFGS history {self.history}, about {self.bytes / 2**30:.1f} GiB"


def plan_fit(height: int, width: int, layers, budget: Budget, *, tile: int | None = None,
             style_scale: float = 1.0) -> Plan:
    """The whole image if it fits ``budget``, else the largest tile (multiple of 16 px) that does,
    with as much L-BFGS history as a quarter of the budget holds (at least 10 pairs); ``tile`` forces one.
    The targets are computed whole, so their peak must fit too."""
    targets = target_bytes(height, width, style_scale)
    if targets > budget.bytes:
        raise InputError(f"--memory: computing the targets of a {width}x{height} stylization needs about "
                         f"{targets / 2**30:.1f} GiB (they are not tiled); the budget is {budget.bytes / 2**30:.1f} "
                         f"GiB ({budget.source}); use a smaller --size or a larger --memory")
    whole = estimate_bytes(height, width, layers)
    if tile is None and whole <= budget.bytes:
        return Plan(height, width, None, LBFGS_HISTORY, whole)
    fixed = image_bytes(height, width)
    pairs = max(MIN_HISTORY, min(LBFGS_HISTORY, budget.bytes // 4 // max(1, history_bytes(height, width, 1))))
    for core in [tile] if tile else tile_sizes(max(height, width)):
        padded_h, padded_w = min(height, core + 2 * HALO), min(width, core + 2 * HALO)
        needed = fixed + history_bytes(height, width, pairs) + activation_bytes(padded_h, padded_w, layers)
        if needed <= budget.bytes or tile:
            return Plan(height, width, core, pairs, needed)
    padded = MIN_TILE + 2 * HALO
    smallest = fixed + history_bytes(height, width, MIN_HISTORY) + activation_bytes(padded, padded, layers)
    raise InputError(f"--memory: a {width}x{height} stylization needs about {smallest / 2**30:.1f} GiB even in "
                     f"{MIN_TILE} px tiles with {MIN_HISTORY} L-BFGS pairs; the budget is "
                     f"{budget.bytes / 2**30:.1f} GiB ({budget.source}); use a smaller --size or a larger --memory")


def scale_plans(dims: Sequence[tuple[int, int]], layers, budget: Budget | None, *, tile: int | None = None,
                max_pixels: int | None = None, style_scale: float = 1.0) -> list[Plan]:
    """One plan per scale, for the (height, width) of each scale, coarsest first.

    ``max_pixels`` replaces the memory check with a pixel cap (whole image); ``tile`` forces tiles
    on every scale larger than one tile; otherwise each scale is fitted to ``budget``.
    """
    height, width = dims[-1]
    if max_pixels is not None and not tile:
        if width * height > max_pixels:
            raise InputError(f"--size: output {width}x{height} = {width * height} px exceeds --max-pixels {max_pixels}")
        return [Plan(h, w, None, LBFGS_HISTORY, estimate_bytes(h, w, layers)) for h, w in dims]
    if budget is None:
        raise ValueError("scale_plans needs a budget unless max_pixels is given")
    plans = [plan_fit(h, w, layers, budget, tile=tile if tile and max(h, w) > tile else None, style_scale=style_scale)
             for h, w in reversed(dims)]  # the largest first: a refusal names the scale that matters
    return plans[::-1]
