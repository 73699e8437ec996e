"""Where tiles lie (no torch): the halo, the grid, the smallest tile, and the tiles of an image.

A tile owns the features of its core and is computed with a halo of context around it, so that
its features equal the whole image's. The halo: relu5_1's receptive field in VGG19 is 156 px
(radius 78); 80 px keeps tiles on the 16 px grid of relu5_1's four poolings, so pooling windows
line up with the whole image's. ``tiling.py`` computes over these tiles; ``memory_estimate.py``
and ``eta.py`` price them; ``settings.py`` checks ``--tile`` against them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .layers import layers_by_name

HALO = 80  # px of context around a tile's core (>= relu5_1's receptive radius, on the grid)
GRID = 16  # px: relu5_1 is 4 poolings deep, so tile borders sit on multiples of 2**4
MIN_TILE = 64  # px: the smallest core the planner and --tile accept


def receptive_field(layer: str) -> int:
    """Receptive field (px) of one output of ``layer``: 3x3 convolutions and 2x2 poolings."""
    size, stride, last = 1, 1, layers_by_name()[layer].position
    for current in (other for other in layers_by_name().values() if other.position <= last):
        if current.kind == "conv":
            size += 2 * stride
        elif current.kind == "pool":
            size, stride = size + stride, stride * 2
    return size


@dataclass(frozen=True)
class Tile:
    core: tuple[int, int, int, int]  # y0, y1, x0, x1: the pixels whose features this tile owns
    padded: tuple[int, int, int, int]  # the core plus the halo, clipped to the image

    @property
    def padded_pixels(self) -> int:
        y0, y1, x0, x1 = self.padded
        return (y1 - y0) * (x1 - x0)


def plan_tiles(height: int, width: int, tile: int, *, halo: int = HALO, grid: int = GRID) -> list[Tile]:
    """Cores of ``tile`` px (rounded down to the grid; the last in a row or column takes the rest)."""
    step = max(grid, tile // grid * grid)

    def spans(extent: int) -> list[tuple[int, int]]:
        starts = list(range(0, extent, step))
        if len(starts) > 1 and extent - starts[-1] < grid:  # no sliver smaller than the grid
            starts.pop()
        return [(start, starts[i + 1] if i + 1 < len(starts) else extent) for i, start in enumerate(starts)]

    return [Tile((y0, y1, x0, x1),
                 (max(0, y0 - halo), min(height, y1 + halo), max(0, x0 - halo), min(width, x1 + halo)))
            for y0, y1 in spans(height) for x0, x1 in spans(width)]


def tile_sizes(long_edge: int) -> range:
    """Candidate core sizes for an image of ``long_edge`` px, largest first, down to ``MIN_TILE``."""
    return range(long_edge // GRID * GRID, MIN_TILE - 1, -GRID)


def check_tile(tile: int) -> bool:
    """Whether ``tile`` is a usable core size (a multiple of the grid, at least ``MIN_TILE``)."""
    return tile >= MIN_TILE and tile % GRID == 0
