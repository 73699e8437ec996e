"""Head-to-head: stylegram vs pastiche 1.6.0 on the same pair, same objective, scored by one function.

    .venv/bin/python benchmarks/compare.py --size 384 --pair tubingen.jpg:starry_night.jpg \\
        --pair golden_gate.jpg:the_scream.jpg --out docs/compare.jpg

Both use the original VGG19 weights, average pooling, content relu4_2 and style
relu1_1..relu5_1. pastiche runs its full schedule (500 L-BFGS iterations, its defaults:
content weight 1 x layer weight 0.01 on the MSE of features, style layer weights 10/C^2
on the MSE of Grams normalized by h*w). stylegram runs the *same* objective up to a constant
factor (its content/style weights are derived from the targets so that its relative losses
equal k x pastiche's), with its own schedule, under a wall-clock budget of a third of
pastiche's time. Both results (8-bit PNGs as written) are then scored with pastiche's
formula evaluated by stylegram's fp32 model: lower is better.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
IMAGES = [ROOT / "examples", ROOT.parent / "shared" / "images"]
CONTENT_LAYERS, STYLE_LAYERS = ("relu4_2",), ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def find_image(name: str) -> Path:
    for folder in IMAGES:
        if (folder / name).is_file():
            return folder / name
    sys.exit(f"compare: image {name} not found in {', '.join(map(str, IMAGES))}")


class PasticheScore:
    """pastiche's objective, computed with stylegram's model and image loading."""

    def __init__(self, content: Path, style: Path, size: int):
        from stylegram.images import load_image
        from stylegram.losses import gram_matrix
        from stylegram.model import VGG19Features
        from stylegram.weights import load_weights

        self.model = VGG19Features(load_weights(), (*CONTENT_LAYERS, *STYLE_LAYERS))
        self.load, self.gram = load_image, gram_matrix
        self.size = size
        with torch.no_grad():
            self.content = self.model(self._tensor(load_image(content, long_edge=size)))
            self.style = self.model(self._tensor(load_image(style, long_edge=size)))
        self.grams = {n: gram_matrix(self.style[n]) for n in STYLE_LAYERS}

    @staticmethod
    def _tensor(rgb: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None]

    def __call__(self, image_path: Path) -> float:
        shape = self.load(image_path).shape
        rgb = self.load(image_path, size=(shape[1], shape[0]))
        with torch.no_grad():
            features = self.model(self._tensor(rgb))
        content = 0.01 * torch.mean((features["relu4_2"] - self.content["relu4_2"]) ** 2)
        style = sum(10.0 / features[n].shape[1] ** 2 * torch.sum((self.gram(features[n]) - self.grams[n]) ** 2)
                    for n in STYLE_LAYERS)
        return float(content + style)

    @property
    def k(self) -> float:
        return 100.0 / float(torch.mean(self.content["relu4_2"] ** 2))

    def matched_weights(self) -> dict:
        """stylegram weights that make its objective k x pastiche's (k = 100 / mean(P^2))."""
        k = self.k
        raw = [10.0 * k * float(torch.sum(self.grams[n] ** 2)) / self.grams[n].shape[-1] ** 2 for n in STYLE_LAYERS]
        return {"content_weight": 1.0, "style_weight": sum(raw), "style_layer_weights": tuple(raw)}


def run_pastiche(content: Path, style: Path, size: int, iterations: int, out: Path) -> float:
    from pastiche.pastiche import PasticheArtist, save_image

    started = time.perf_counter()
    artist = PasticheArtist(str(content), [str(style)], pooling="avg", optimizer="lbfgs", device="cpu",
                            size=size, style_size=size)
    for _ in range(iterations):
        artist.draw()
    save_image(artist.pastiche, str(out))
    return time.perf_counter() - started


def run_stylegram(content: Path, style: Path, size: int, budget: float, weights: dict, out: Path,
                  precision: str, target: float, k: float, scales: int = 0) -> tuple[float, int, float | None]:
    """Run under the budget; also note when the loss (÷ k, at the final scale) first reached ``target``."""
    from stylegram.engine import stylize
    from stylegram.images import save_image
    from stylegram.settings import StylizeSettings

    started = time.perf_counter()
    reached: list[float] = []

    def watch(progress) -> None:
        if not reached and progress.scale == progress.scales and progress.loss / k <= target:
            reached.append(time.perf_counter() - started)

    settings = StylizeSettings(size=size, scales=scales, iterations=1000, iterations_per_scale=None,
                               precision=precision,
                               time_limit=max(1.0, budget - 8.0), **weights)  # 8 s kept for start-up and saving
    result = stylize(content, [style], settings, callback=watch)
    save_image(result.image, out, recipe=result.recipe)
    return time.perf_counter() - started, result.iterations, (reached[0] if reached else None)


def side_by_side(rows: list[dict], path: Path) -> None:
    from PIL import Image, ImageDraw

    height, pad = 200, 8
    tiles = []
    for row in rows:
        cells = [(row["content"], "content"), (row["style"], "style"),
                 (row["pastiche_png"], f"pastiche: {row['pastiche_score']:.4g} in {row['pastiche_s']:.0f} s"),
                 (row["stylegram_png"], f"stylegram: {row['stylegram_score']:.4g} in {row['stylegram_s']:.0f} s")]
        images = []
        for file, label in cells:
            im = Image.open(file).convert("RGB")
            images.append((im.resize((round(im.width * height / im.height), height)), label))
        tiles.append(images)
    width = max(sum(im.width + pad for im, _ in t) for t in tiles)
    canvas = Image.new("RGB", (width, len(tiles) * (height + 26)), "white")
    draw = ImageDraw.Draw(canvas)
    for r, images in enumerate(tiles):
        x, y = 0, r * (height + 26)
        for im, label in images:
            canvas.paste(im, (x, y))
            draw.text((x + 4, y + height + 6), label, fill="black")
            x += im.width + pad
    canvas.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pair", action="append", default=None, help="content.jpg:style.jpg (repeatable)")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--pastiche-iterations", type=int, default=500)
    parser.add_argument("--budget", type=float, default=1 / 3, help="stylegram's time as a fraction of pastiche's")
    parser.add_argument("--scales", type=int, default=0, help="stylegram's --scales (0: its automatic schedule)")
    parser.add_argument("--precision", default="bf16", choices=("fp32", "bf16"))
    parser.add_argument("--work", type=Path, default=ROOT / "bench-out")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "compare.jpg")
    args = parser.parse_args()
    args.work.mkdir(exist_ok=True)
    rows = []
    for pair in args.pair or ["tubingen.jpg:starry_night.jpg"]:
        content, style = (find_image(name) for name in pair.split(":"))
        tag = f"{content.stem}-{style.stem}-{args.size}"
        score = PasticheScore(content, style, args.size)
        pastiche_png, stylegram_png = args.work / f"{tag}-pastiche.png", args.work / f"{tag}-stylegram.png"
        pastiche_s = run_pastiche(content, style, args.size, args.pastiche_iterations, pastiche_png)
        pastiche_score = score(pastiche_png)
        stylegram_s, iterations, reached_s = run_stylegram(content, style, args.size, args.budget * pastiche_s,
                                                           score.matched_weights(), stylegram_png, args.precision,
                                                           pastiche_score, score.k, args.scales)
        row = {"pair": pair, "content": str(content), "style": str(style), "size": args.size,
               "pastiche_s": pastiche_s, "pastiche_iterations": args.pastiche_iterations,
               "pastiche_score": pastiche_score, "stylegram_s": stylegram_s, "stylegram_reached_s": reached_s,
               "stylegram_iterations": iterations, "stylegram_score": score(stylegram_png),
               "stylegram_precision": args.precision, "pastiche_png": str(pastiche_png),
               "stylegram_png": str(stylegram_png)}
        row["time_ratio"] = row["stylegram_s"] / row["pastiche_s"]
        row["stylegram_reached_pastiche_loss"] = row["stylegram_score"] <= row["pastiche_score"]
        rows.append(row)
        print(f"{pair} @ {args.size}px: pastiche {row['pastiche_score']:.5g} in {pastiche_s:.1f} s "
              f"({args.pastiche_iterations} its); stylegram {row['stylegram_score']:.5g} in {stylegram_s:.1f} s "
              f"({iterations} its, {args.precision}); time ratio {row['time_ratio']:.3f}; "
              f"stylegram <= pastiche: {row['stylegram_reached_pastiche_loss']}; its running loss reached "
              f"pastiche's final loss after {reached_s if reached_s is None else round(reached_s, 1)} s "
              f"(ratio {reached_s / pastiche_s if reached_s else float('nan'):.3f})", flush=True)
    side_by_side(rows, args.out)
    (args.work / "compare.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
