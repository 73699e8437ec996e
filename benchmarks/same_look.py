"""Same look at every size: a large result downscaled to 512 px against 512 px runs, by the fixed
float32 objective at 512 px (torch targets, the painting at 512 px x --style-scale).

Per image: the style loss (per layer and weighted total) and the content loss at 512 px. The
photo itself is the unstylized baseline. "512 matched" runs the large run's first scales with
their iteration bounds (read from its recipe), so the difference is what the larger scales did;
"512 default" is what `stylegram stylize --size 512` gives.

    .venv/bin/python benchmarks/same_look.py --large bench-out/print-2048.png --json bench-out/same-look.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONTENT, STYLE = ROOT / "examples/tubingen.jpg", ROOT / "examples/starry_night.jpg"


def large_recipe(path: Path) -> dict:
    from PIL import Image

    with Image.open(path) as image:
        return json.loads(image.info["stylegram.recipe"])


def small_runs(recipe: dict, size: int, out: Path) -> dict[str, Path]:
    """The 512 px runs to compare with, made here (cached in ``out``)."""
    from stylegram.engine import stylize
    from stylegram.images import save_image
    from stylegram.settings import StylizeSettings

    settings = recipe["settings"]
    ratio = round(np.log2(settings["size"] / size))
    bounds = settings["iterations_per_scale"]
    matched = bounds[: len(bounds) - ratio] if bounds else None
    common = dict(size=size, style_scale=settings["style_scale"], seed=settings["seed"])
    runs = {"512 matched": StylizeSettings(scales=len(matched), iterations_per_scale=tuple(matched), **common)
            if matched else None, "512 default": StylizeSettings(**common)}
    paths = {}
    for name, run_settings in runs.items():
        if run_settings is None:
            continue
        path = out / f"same-look-{name.replace(' ', '-')}.png"
        if not path.exists():
            result = stylize(CONTENT, [STYLE], run_settings)
            save_image(result.image, path, recipe=result.recipe)
        paths[name] = path
    return paths


def losses_at(size: int, images: dict[str, np.ndarray], style_scale: float) -> dict[str, dict[str, float]]:
    import torch

    from stylegram.engine import prepare
    from stylegram.losses import content_loss, gram_matrix, style_loss
    from stylegram.settings import StylizeSettings

    run = prepare(CONTENT, [STYLE], StylizeSettings(size=size, scales=1, precision="fp32", targets="torch",
                                                    cache=False, style_scale=style_scale))
    objective, found = run.objective, {}
    for name, rgb in images.items():
        pixels = torch.from_numpy(rgb).permute(2, 0, 1)[None].contiguous()
        with torch.no_grad():
            features = objective.model(pixels)
        per_layer = {n: float(style_loss(gram_matrix(features[n]), objective.targets.style[n]))
                     for n in objective.style_layer_weights}
        found[name] = per_layer | {
            "style": sum(w * per_layer[n] for n, w in objective.style_layer_weights.items()),
            "content": float(sum(content_loss(features[n], t) for n, t in objective.targets.content.items()))}
    return found


def main() -> None:
    from stylegram.images import load_image

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", type=Path, default=ROOT / "bench-out/print-2048.png")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    recipe = large_recipe(args.large)
    out = args.large.parent
    paths = ({"photo": CONTENT, f"{recipe['settings']['size']} downscaled": args.large}
             | small_runs(recipe, args.size, out))
    images = {name: load_image(path, long_edge=args.size) for name, path in paths.items()}
    shapes = {image.shape for image in images.values()}
    assert len(shapes) == 1, f"sizes differ: {shapes}"
    found = losses_at(args.size, images, recipe["settings"]["style_scale"])
    layers = [k for k in next(iter(found.values())) if k not in ("style", "content")]
    print(f"at {args.size} px, fixed fp32 objective, style scale {recipe['settings']['style_scale']}")
    print(f"{'image':<18} {'style':>8} {'content':>8} " + " ".join(f"{n:>8}" for n in layers))
    for name, row in found.items():
        print(f"{name:<18} {row['style']:>8.4f} {row['content']:>8.3f} " + " ".join(f"{row[n]:>8.4f}" for n in layers))
    large = found[f"{recipe['settings']['size']} downscaled"]
    for name in ("512 matched", "512 default"):
        if name in found:
            print(f"style loss, large downscaled / {name}: {large['style'] / found[name]['style']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"size": args.size, "large": str(args.large), "losses": found}, indent=2))


if __name__ == "__main__":
    main()
