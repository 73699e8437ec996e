"""Figures and measurements for docs/masks.md: two styles left and right, a region left alone, colours.

Every run is a plain ``stylize`` at --size (one scale, torch targets, float32, --iterations bound,
convergence stop off); results are kept in --out so a rerun only measures. Measured by the fixed
objective: a half's style loss is the guided style loss (``guides.py``, simple guide) of the result
under that half's mask against a painting's whole-image Grams, at the run's size.

    .venv/bin/python benchmarks/masks_figures.py --size 128 --iterations 60 --out bench-out/masks
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONTENT, STARRY = ROOT / "examples/tubingen.jpg", ROOT / "examples/starry_night.jpg"
SCREAM = ROOT / "examples/the_scream.jpg"
SKY = 0.3  # the top 30% of tubingen is sky (and roofs against it): the region left alone


def write_mask(values: np.ndarray, path: Path) -> str:
    from stylegram.images import save_image

    save_image(np.repeat(values[..., None], 3, axis=-1), path)
    return str(path)


def masks(out: Path) -> dict[str, str]:
    from stylegram.images import image_size
    from stylegram.masks import split_masks

    width, height = image_size(CONTENT)
    left, right = split_masks(width, height, "left", 32)
    rows = np.arange(height, dtype=np.float32)[:, None] + 0.5
    sky_off = np.clip((rows - SKY * height) / 32 + 0.5, 0, 1) * np.ones((1, width), np.float32)  # 32 px ramp
    return {"left": write_mask(left, out / "mask-left.png"), "right": write_mask(right, out / "mask-right.png"),
            "sky_off": write_mask(sky_off, out / "mask-sky-off.png")}


def run(name: str, out: Path, styles, args, **settings) -> np.ndarray:
    from stylegram.engine import stylize
    from stylegram.images import load_image, save_image
    from stylegram.settings import StylizeSettings

    path = out / f"{name}.png"
    if not path.exists():
        result = stylize(CONTENT, styles, StylizeSettings(size=args.size, scales=1, iterations=args.iterations, tol=0,
                                                          precision="fp32", targets="torch", **settings))
        save_image(result.image, path, recipe=result.recipe)
        print(f"{name}: {result.iterations} iterations in {result.seconds:.0f} s", flush=True)
    return load_image(path)


def half_losses(image: np.ndarray, mask_path: str, size: int) -> dict[str, float]:
    """The guided style loss of ``image`` under the mask against each painting's Grams (the fixed objective)."""
    import torch

    from stylegram.engine import prepare
    from stylegram.guides import guide_mass, layer_guides
    from stylegram.losses import guided_gram, style_loss
    from stylegram.masks import load_mask
    from stylegram.settings import StylizeSettings
    from stylegram.tensor_images import to_tensor

    found = {}
    for name, painting in (("starry_night", STARRY), ("the_scream", SCREAM)):
        objective = prepare(CONTENT, [painting], StylizeSettings(size=size, scales=1, precision="fp32",
                                                                 targets="torch", cache=False)).objective
        mask = load_mask(mask_path, (image.shape[1], image.shape[0]), over=CONTENT, option="--masks")
        guides = layer_guides(mask, objective.style_layer_weights)
        with torch.no_grad():
            features = objective.model(to_tensor(image, torch.device("cpu")))
            found[name] = sum(w * float(style_loss(guided_gram(features[n], torch.as_tensor(guides[n])[None, None],
                                                                 guide_mass(guides[n])), objective.targets.style[n]))
                              for n, w in objective.style_layer_weights.items())
    return found


def color_stats(image: np.ndarray) -> dict:
    from stylegram.color import color_stats

    mean, cov = color_stats(image)
    return {"mean": np.round(mean, 4).tolist(), "cov": np.round(cov, 5).tolist()}


def strip(images: list[np.ndarray], path: Path) -> None:
    from stylegram.images import save_image

    height = min(i.shape[0] for i in images)
    gap = np.ones((height, 4, 3), np.float32)
    row = [part for i in images for part in (i[:height], gap)][:-1]
    save_image(np.concatenate(row, axis=1), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out/masks")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from stylegram.images import load_image

    paths = masks(args.out)
    photo = load_image(CONTENT, long_edge=args.size)
    two = run("two-styles", args.out, [STARRY, SCREAM], args, masks=(paths["left"], paths["right"]))
    starry = run("starry", args.out, [STARRY], args)
    scream = run("scream", args.out, [SCREAM], args)
    sky = run("sky-off", args.out, [STARRY], args, masks=(paths["sky_off"],))
    luminance = run("luminance", args.out, [STARRY], args, colors="luminance")
    match = run("match", args.out, [STARRY], args, colors="match")
    report: dict = {"size": args.size, "iterations": args.iterations, "halves": {}}
    for half, own, single in (("left", "starry_night", starry), ("right", "the_scream", scream)):
        losses = half_losses(two, paths[half], args.size)
        other = next(k for k in losses if k != own)
        alone = half_losses(single, paths[half], args.size)[own]
        report["halves"][half] = {"own": own, "losses": losses, "other/own": losses[other] / losses[own],
                                  "single-style run, own": alone, "masked/single": losses[own] / alone}
    top = slice(0, int(SKY * photo.shape[0]) - 8)  # the region, away from the ramp
    kept, changed = (float(np.abs(i[top] - photo[top]).mean()) for i in (sky, starry))
    report["region"] = {"masked": kept, "unmasked": changed, "ratio": kept / changed}
    report["colors"] = {name: color_stats(image) for name, image in
                        (("photo", photo), ("keep", starry), ("luminance", luminance), ("match", match))}
    strip([two, sky, starry], args.docs / "masks.jpg")
    strip([photo, starry, luminance, match], args.docs / "masks-colors.jpg")
    (args.docs / "masks.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
