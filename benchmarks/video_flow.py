"""Optical flow for `stylegram video`: DIS against Farnebäck on clips with known motion.

The synthetic clip (``stylegram.video.testclip``): a window panning across a photo by a known number of
pixels per frame, a disc moving the other way. For each method, frame size and pan speed: the endpoint
error (EPE, px) of the backward flow against the truth on the background and on the moving disc, over
the pixels the consistency check keeps (reliability 1), the share of pixels kept, and milliseconds per flow.

    .venv/bin/python benchmarks/video_flow.py --json flow.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from stylegram.video.flow import FLOW_METHODS, endpoint_error, optical_flow, reliability
from stylegram.video.testclip import make_test_clip

SIZES = ((96, 64), (256, 170), (512, 340))
PANS = ((3.0, 1.0), (2.5, 0.5), (6.0, -2.0))


def measure(method: str, size: tuple[int, int], pan: tuple[float, float], repeats: int = 3) -> dict:
    clip = make_test_clip(*size, first=6, second=1, pan=pan)
    errors: dict[str, list[float]] = {"background": [], "disc": [], "reliable": [], "kept": [], "seconds": []}
    for t in range(1, clip.cuts[0]):
        truth, previous, current = clip.backward_flow[t], clip.frames[t - 1], clip.frames[t]
        started = time.perf_counter()
        for _ in range(repeats):
            backward = optical_flow(current, previous, method)
        errors["seconds"].append((time.perf_counter() - started) / repeats)
        weights = reliability(optical_flow(previous, current, method), backward) > 0.5
        disc = np.any(truth != truth[0, -1], axis=-1)
        errors["background"].append(endpoint_error(backward, truth, ~disc))
        errors["disc"].append(endpoint_error(backward, truth, disc))
        errors["reliable"].append(endpoint_error(backward, truth, weights))
        errors["kept"].append(float(weights.mean()))
    mean = {name: float(np.mean(values)) for name, values in errors.items()}
    return {"method": method, "size": f"{size[0]}x{size[1]}", "pan": list(pan), "epe_background": mean["background"],
            "epe_disc": mean["disc"], "epe_reliable": mean["reliable"], "reliable_share": mean["kept"],
            "ms_per_flow": 1000 * float(np.median(errors["seconds"]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args()
    rows = [measure(method, size, pan) for size in SIZES for pan in PANS for method in FLOW_METHODS]
    for row in rows:
        print(f"{row['method']:10} {row['size']:8} pan {row['pan']!s:12} EPE background {row['epe_background']:.2f} "
              f"px, disc {row['epe_disc']:.2f} px, reliable pixels {row['epe_reliable']:.2f} px "
              f"({100 * row['reliable_share']:.0f}% kept); {row['ms_per_flow']:.1f} ms")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
