"""Hard cuts: where consecutive frames' colour histograms differ by more than a moving picture's do.

Each frame's colour distribution is a joint RGB histogram, 8 levels per channel (512 bins), of the frame
at 64 px on its long edge; two frames differ by the total-variation distance between their histograms
(half the L1 distance: the share of pixels that must change colour bins, 0 to 1). A frame starts a new
shot when that distance to the frame before exceeds CUT_DISTANCE. Measured (benchmarks/video_cuts.py,
docs/video.md) at 64-512 px: pans of 1-16 px per frame with a moving disc stay at or below 0.20, the
clip's cut is at 0.85 and cuts between far-apart windows of one photo at 0.52 or more. The rule misses
what a histogram cannot see (a cut between shots of the same colours) and fades.
"""

from __future__ import annotations

import numpy as np

LEVELS = 8
HISTOGRAM_EDGE = 64  # px: frames are reduced to this long edge first (speed; noise is averaged away)
CUT_DISTANCE = 0.35


def colour_histogram(frame: np.ndarray) -> np.ndarray:
    """Normalized joint RGB histogram (LEVELS^3 bins) of an H x W x 3 uint8 frame."""
    from PIL import Image

    image = Image.fromarray(frame)
    scale = HISTOGRAM_EDGE / max(image.size)
    if scale < 1:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.Resampling.BOX)
    levels = np.asarray(image, dtype=np.uint16) * LEVELS // 256
    bins = (levels[..., 0] * LEVELS + levels[..., 1]) * LEVELS + levels[..., 2]
    counts = np.bincount(bins.ravel(), minlength=LEVELS**3).astype(np.float64)
    return counts / counts.sum()


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total-variation distance between two normalized histograms (0: same colours, 1: none shared)."""
    return 0.5 * float(np.abs(a - b).sum())


class CutFinder:
    """Fed frames in order, says which start a new shot; keeps only the previous frame's histogram."""

    def __init__(self, threshold: float = CUT_DISTANCE):
        self.threshold, self.previous = threshold, None
        self.distances: list[float] = []  # to the frame before, for every frame after the first

    def is_cut(self, frame: np.ndarray) -> bool:
        histogram = colour_histogram(frame)
        previous, self.previous = self.previous, histogram
        if previous is None:
            return False
        distance = histogram_distance(previous, histogram)
        self.distances.append(distance)
        return distance > self.threshold


def find_cuts(frames) -> list[int]:
    """Indices of the frames (after the first) that start a new shot."""
    finder = CutFinder()
    return [index for index, frame in enumerate(frames) if finder.is_cut(frame)]


def shot_starts(count: int, cuts: list[int]) -> list[int]:
    """The first frame index of every shot of a clip of ``count`` frames with ``cuts``."""
    return [0, *[c for c in cuts if 0 < c < count]]
