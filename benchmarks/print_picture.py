"""The print-size picture in docs/print-sizes.md: a large result downscaled for the page, beside a 100% crop
centred on a corner where four tiles meet (the tile size is read from the result's recipe).

    .venv/bin/python benchmarks/print_picture.py bench-out/print-2048.png docs/print-2048.jpg
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image

HEIGHT = 576  # px on the page


def main(source: Path, target: Path) -> None:
    with Image.open(source) as image:
        recipe = json.loads(image.info["stylegram.recipe"])
        tile = recipe["plan"][-1]["tile"]
        whole = image.convert("RGB")
    overview = whole.resize((round(whole.width * HEIGHT / whole.height), HEIGHT), Image.Resampling.LANCZOS)
    half = HEIGHT // 2
    crop = whole.crop((tile - half, tile - half, tile + half, tile + half))  # 100%: one pixel per pixel
    page = Image.new("RGB", (overview.width + 12 + crop.width, HEIGHT), "white")
    page.paste(overview, (0, 0))
    page.paste(crop, (overview.width + 12, 0))
    page.save(target, quality=88)
    print(f"wrote {target}: {whole.width}x{whole.height} downscaled, 100% crop around the tile corner ({tile}, {tile})")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
