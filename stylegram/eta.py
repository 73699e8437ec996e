"""Time left in a run: the work still planned, priced at the speed measured at the current scale.

Coarse scales are fast and the last one is slow (at print sizes, tiled), so an average over all
iterations so far says little. Instead each scale's iteration has a cost in pixel passes: a
forward and a backward of the whole image, or per tile a forward (the Gram pass) and a forward
and backward (the gradient pass), halos included. The current scale's measured seconds per
iteration, divided by its cost, prices the iterations left here and at every later scale, up to
their iteration bounds (a scale that converges ends sooner, so this is an upper estimate).
"""

from __future__ import annotations

from typing import Sequence

from .tile_geometry import plan_tiles

FORWARD, BACKWARD = 1.0, 2.0  # relative cost per pixel of a forward pass and of a backward pass


def iteration_cost(height: int, width: int, tile: int | None) -> float:
    """Relative cost of one iteration at ``height`` x ``width``, whole (``tile`` None) or tiled."""
    if tile is None:
        return (FORWARD + BACKWARD) * height * width
    padded = sum(t.padded_pixels for t in plan_tiles(height, width, tile))
    return (2 * FORWARD + BACKWARD) * padded


def later_cost(height: int, width: int, size: int, later: Sequence[tuple[int, int, int | None]]) -> float:
    """Cost of the ``later`` scales (long edge, iteration bound, tile), from this scale's ``height`` x
    ``width`` at long edge ``size``."""
    total = 0.0
    for long_edge, iterations, tile in later:
        factor = long_edge / size
        total += iterations * iteration_cost(round(height * factor), round(width * factor), tile)
    return total


def seconds_left(seconds_per_iteration: float, iterations_left: int, cost: float, later: float) -> float:
    """Seconds for ``iterations_left`` here and ``later`` cost units, at this scale's measured speed."""
    return seconds_per_iteration * (iterations_left + later / cost)
