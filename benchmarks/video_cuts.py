"""The hard-cut rule of `stylegram video` (stylegram.video.shots), measured on clips with known cuts.

Within a shot: the synthetic clip (a window panning across a photo, a textured disc moving the other way)
at several frame sizes and pan speeds; the largest histogram distance between consecutive frames. Across
cuts: the clip's own cut (tubingen -> starry_night) and cuts between far-apart windows of one photo
(the same colours, another place); the smallest distance. A threshold between the two separates them.

    .venv/bin/python benchmarks/video_cuts.py --json docs/video-cuts.json
"""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np

from stylegram.video.shots import CUT_DISTANCE, CutFinder, colour_histogram, histogram_distance
from stylegram.video.testclip import EXAMPLES, _photo, _window, make_test_clip

SIZES = ((64, 44), (96, 64), (256, 170), (512, 340))
PANS = ((1.0, 0.0), (3.0, 1.0), (8.0, 2.0), (16.0, 4.0))


def within_and_across(size: tuple[int, int], pan: tuple[float, float]) -> tuple[float, float]:
    clip = make_test_clip(*size, first=6, second=4, pan=pan)
    finder = CutFinder()
    for frame in clip.frames:
        finder.is_cut(frame)
    cut = clip.cuts[0] - 1
    return max(d for i, d in enumerate(finder.distances) if i != cut), finder.distances[cut]


def windows_of_one_photo(size: tuple[int, int]) -> float:
    """The smallest distance between five far-apart windows of tubingen.jpg."""
    width, height = size
    photo = _photo(EXAMPLES / "tubingen.jpg", round(3.5 * width))
    rows, cols = photo.shape[:2]
    corners = [(0.05, 0.05), (0.6, 0.05), (0.05, 0.6), (0.6, 0.6), (0.35, 0.3)]
    windows = [np.clip(_window(photo, x * cols, y * rows, width, height) + 0.5, 0, 255).astype(np.uint8)
               for x, y in corners]
    histograms = [colour_histogram(w) for w in windows]
    return min(histogram_distance(a, b) for a, b in itertools.combinations(histograms, 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = []
    for size in SIZES:
        for pan in PANS:
            within, across = within_and_across(size, pan)
            rows.append({"size": f"{size[0]}x{size[1]}", "pan": list(pan), "within_max": within, "cut": across})
            print(f"{size[0]}x{size[1]} pan {pan}: within a shot at most {within:.3f}, the cut {across:.3f}")
        windows = windows_of_one_photo(size)
        rows.append({"size": f"{size[0]}x{size[1]}", "windows_of_one_photo_min": windows})
        print(f"{size[0]}x{size[1]}: far-apart windows of one photo at least {windows:.3f}")
    print(f"threshold {CUT_DISTANCE}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"threshold": CUT_DISTANCE, "rows": rows}, handle, indent=1)


if __name__ == "__main__":
    main()
