"""Up-front memory estimate for a stylization and the plan that fits a budget: the whole image at
once when it fits, else the largest tiles that do (``tiling.py``), with an L-BFGS history that fits.
Only what cannot be done even tiled is refused, before anything is loaded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .layers import layers_through, output_shape

HALO, GRID = 80, 16  # tiling.py's halo and grid (kept here without importing torch)

BYTES_PER_VALUE = 4
# forward activations kept for the backward pass, their gradients, and oneDNN/allocator slack
ACTIVATION_COPIES = 3.5
FIXED_BYTES = 600 * 2**20  # torch, weights (80 MiB decoded), ONNX Runtime session, Python


LBFGS_HISTORY = 100  # pairs kept by default; fewer at print sizes, where 100 would not fit
MIN_HISTORY = 10
IMAGE_COPIES = 8  # image, gradient, last good and best images, L-BFGS direction and previous gradient, slack


def activation_bytes(height: int, width: int, layers) -> int:
    """Forward activations kept for the backward pass (and their gradients) at ``height`` x ``width``."""
    values = sum(c * h * w for c, h, w in (output_shape(layer.name, height, width) for layer in layers_through(layers)))
    return int(ACTIVATION_COPIES * values * BYTES_PER_VALUE)


def history_bytes(height: int, width: int, pairs: int) -> int:
    return 2 * pairs * 3 * height * width * BYTES_PER_VALUE  # L-BFGS keeps pairs of image-sized vectors


def estimate_bytes(height: int, width: int, layers) -> int:
    """Peak memory of one whole-image L-BFGS iteration at ``height`` x ``width`` (an estimate, not a bound)."""
    return activation_bytes(height, width, layers) + history_bytes(height, width, LBFGS_HISTORY) + FIXED_BYTES


@dataclass(frozen=True)
class Plan:
    tile: int | None  # core size of the tiles (px), None: the whole image at once
    history: int  # L-BFGS pairs
    bytes: int  # the estimate of what this plan needs

    def describe(self, height: int, width: int) -> str:
        how = "whole image" if self.tile is None else f"tiles of {self.tile} px (+{HALO} px halo)"
        return f"{width}x{height}: {how}, L-BFGS history {self.history}, about {self.bytes / 2**30:.1f} GiB"


def plan_fit(height: int, width: int, layers, budget: int, *, tile: int | None = None,
             budget_source: str = "--memory") -> Plan:
    """The whole image if it fits ``budget`` bytes, else the largest tile (multiple of 16 px) that does,
    with as much L-BFGS history as a quarter of the budget holds (at least 10 pairs); ``tile`` forces one."""
    whole = estimate_bytes(height, width, layers)
    if tile is None and whole <= budget:
        return Plan(None, LBFGS_HISTORY, whole)
    fixed = FIXED_BYTES + IMAGE_COPIES * 3 * height * width * BYTES_PER_VALUE
    pairs = max(MIN_HISTORY, min(LBFGS_HISTORY, budget // 4 // max(1, history_bytes(height, width, 1))))
    sizes = [tile] if tile else range(max(height, width) // GRID * GRID, 63, -GRID)
    for core in sizes:
        padded_h, padded_w = min(height, core + 2 * HALO), min(width, core + 2 * HALO)
        needed = fixed + history_bytes(height, width, pairs) + activation_bytes(padded_h, padded_w, layers)
        if needed <= budget or tile:
            return Plan(core, pairs, needed)
    smallest = fixed + history_bytes(height, width, MIN_HISTORY) + activation_bytes(64 + 2 * HALO, 64 + 2 * HALO, layers)
    raise InputError(f"--memory: a {width}x{height} stylization needs about {smallest / 2**30:.1f} GiB even in "
                     f"64 px tiles with {MIN_HISTORY} L-BFGS pairs; the budget is {budget / 2**30:.1f} GiB "
                     f"({budget_source}); use a smaller --size or a larger --memory")


def available_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def scale_plans(content: Path, schedule: list[tuple[int, int]], layers, *, memory_gib: float | None,
                tile: int | None, max_pixels: int | None) -> list[Plan]:
    """One plan per scale of ``schedule`` for the content image's aspect ratio.

    ``max_pixels`` replaces the memory check with a pixel cap (whole image); ``tile`` forces tiles
    on every scale larger than one tile; otherwise the budget is ``memory_gib`` or what is available.
    """
    from PIL import Image

    from .images import scaled_size

    try:
        with Image.open(content) as image:
            dims = [scaled_size(*image.size, size)[::-1] for size, _ in schedule]
    except Exception:  # unreadable files are reported by the image loader, with its own message
        return [Plan(None, LBFGS_HISTORY, 0) for _ in schedule]
    height, width = dims[-1]
    if max_pixels is not None and not tile:
        if width * height > max_pixels:
            raise InputError(f"--size {schedule[-1][0]}: output {width}x{height} = {width * height} px exceeds "
                             f"--max-pixels {max_pixels}")
        return [Plan(None, LBFGS_HISTORY, estimate_bytes(h, w, layers)) for h, w in dims]
    budget = int(memory_gib * 2**30) if memory_gib else (available_bytes() or 2**62)
    source = "--memory" if memory_gib else "the memory available now"
    plans = [plan_fit(h, w, layers, budget, tile=tile if tile and max(h, w) > tile else None, budget_source=source)
             for h, w in reversed(dims)]  # the largest first: a refusal names the scale that matters
    return plans[::-1]
