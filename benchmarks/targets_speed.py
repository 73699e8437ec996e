"""Style targets at 512 px: torch eager vs ONNX Runtime CPU, and stylize start-up with a cache hit vs a miss.

    .venv/bin/python benchmarks/targets_speed.py --size 512 --repeats 5

Targets: Grams of relu1_1..relu5_1 of the style image (resized to --size), model and
session built beforehand (not timed), medians over --repeats after one warm-up run; the two
engines alternate so noise hits both. Start-up: from calling stylize() until the first
iteration could start (image loading, weights, model, targets), with the style Grams in the
cache (hit) or not (miss, cache emptied before each run); ORT targets, one iteration.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTENT, STYLE = ROOT / "examples/tubingen.jpg", ROOT / "examples/starry_night.jpg"


def target_timings(size: int, repeats: int) -> tuple[float, float]:
    import torch

    from stylegram.export.managed import managed_model
    from stylegram.images import load_image
    from stylegram.layers import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS
    from stylegram.model import VGG19Features
    from stylegram.runtime.sessions import Provider, SessionConfig, shared_session
    from stylegram.runtime.targets import image_grams
    from stylegram.settings import StylizeSettings
    from stylegram.targets import torch_grams
    from stylegram.weights import load_weights

    weights = load_weights()
    model = VGG19Features(weights, (*DEFAULT_CONTENT_LAYERS, *DEFAULT_STYLE_LAYERS))
    session = shared_session(managed_model(StylizeSettings(), weights), SessionConfig(provider=Provider.CPU))
    rgb = load_image(STYLE, long_edge=size)
    batch = torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None]
    by_torch, by_ort = [], []
    for i in range(repeats + 1):
        started = time.perf_counter()
        torch_grams(model, batch, DEFAULT_STYLE_LAYERS)
        t = time.perf_counter() - started
        started = time.perf_counter()
        image_grams(session, rgb)
        o = time.perf_counter() - started
        if i:  # the first round is warm-up
            by_torch.append(t)
            by_ort.append(o)
    return statistics.median(by_torch), statistics.median(by_ort)


def startup_timings(size: int, repeats: int) -> tuple[float, float]:
    from stylegram.engine import stylize
    from stylegram.runtime.cache import GramCache
    from stylegram.settings import StylizeSettings

    settings = StylizeSettings(size=size, iterations=1, targets="ort")
    stylize(CONTENT, [STYLE], settings)  # exports the model once, fills the cache
    hits, misses = [], []
    for _ in range(repeats):
        result = stylize(CONTENT, [STYLE], settings)
        assert result.style_cache == ("hit",)
        hits.append(result.startup_seconds)
        GramCache().clear()
        result = stylize(CONTENT, [STYLE], settings)
        assert result.style_cache == ("miss",)
        misses.append(result.startup_seconds)
    return statistics.median(hits), statistics.median(misses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="stylegram-bench-")
    os.environ["STYLEGRAM_HOME"] = home  # a private cache: nothing of the user's is touched
    try:
        torch_s, ort_s = target_timings(args.size, args.repeats)
        print(f"style targets at {args.size} px: torch eager {torch_s:.3f} s, ORT CPU {ort_s:.3f} s, "
              f"ratio torch/ORT {torch_s / ort_s:.2f}x")
        hit_s, miss_s = startup_timings(args.size, args.repeats)
        print(f"stylize start-up at {args.size} px: cache hit {hit_s:.3f} s, miss {miss_s:.3f} s, "
              f"ratio miss/hit {miss_s / hit_s:.2f}x")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
