"""The same-look ratio for a smaller pair of sizes: ``detail`` (no coarse term: each scale starts from
the coarse result plus the photo's own fine detail, as stylize does), ``upsample`` (the coarse result upsampled
only; an experiment, patched in here) or ``coarse=W`` (``--coarse-style W``). Also printed: the large
result's own style loss at its size, per layer, which is what a coarse-look term may cost the
finest textures.

    .venv/bin/python benchmarks/same_look_scales.py detail 1024 256 100,60,8
    .venv/bin/python benchmarks/same_look_scales.py upsample 1024 256 100,60,8
    .venv/bin/python benchmarks/same_look_scales.py coarse=1 1024 256 100,60,8
"""

from __future__ import annotations

import sys

import numpy as np
import same_look
import torch.nn.functional as F

from stylegram import engine as stylize_module
from stylegram import inputs as inputs_module
from stylegram.images import to_pil
from stylegram.settings import StylizeSettings


def upsampled(coarse, start):
    return F.interpolate(coarse.detach(), size=start.shape[-2:], mode="bicubic", align_corners=False).clamp(0, 1)


def main(variant: str, large: int, small: int, bounds: tuple[int, ...]) -> None:
    if variant == "upsample":
        inputs_module.coarse_to_fine = upsampled  # what initial_image calls for a finer scale
    content, style = same_look.CONTENT, same_look.STYLE
    weight = float(variant.partition("=")[2] or 0)
    big = stylize_module.stylize(content, [style], StylizeSettings(size=large, scales=len(bounds), coarse_style=weight,
                                                                   iterations_per_scale=bounds, tol=0))
    fewer = len(bounds) - round(np.log2(large / small))
    ref = stylize_module.stylize(content, [style], StylizeSettings(size=small, scales=fewer,
                                                                   iterations_per_scale=bounds[:fewer], tol=0))
    down = np.asarray(to_pil(big.image).resize(ref.image.shape[1::-1], 3), dtype=np.float32) / 255
    found = same_look.losses_at(small, {"large": down, "small": ref.image}, 1.0)
    print(f"{variant}: {large} px downscaled / {small} px run, style loss at {small} px: "
          f"{found['large']['style']:.4f} / {found['small']['style']:.4f} = "
          f"{found['large']['style'] / found['small']['style']:.2f}x")
    own = same_look.losses_at(large, {"large": big.image}, 1.0)["large"]
    print(f"{variant}: {large} px result at {large} px: style {own['style']:.4f}, content {own['content']:.3f}, "
          + ", ".join(f"{n} {v:.4f}" for n, v in own.items() if n.startswith("relu")))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), tuple(int(x) for x in sys.argv[4].split(",")))
