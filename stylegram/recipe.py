"""What a whole run shares, built once: device, precision, decoded weights and the recipe.

The recipe is everything needed to reproduce a result (settings, input hashes, weights,
versions); it goes into the output image and into a ``--resume`` state file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from .devices import resolve_device, resolve_precision
from .fileio import sha256_file
from .masks import masks_sha256
from .settings import StylizeSettings, normalized_weights
from .weights import Weights, load_weights


@dataclass(frozen=True)
class RunSetup:
    device: torch.device
    precision: str  # "fp32" or "bf16": what the loop runs, ``auto`` resolved
    weights: Weights
    recipe: dict
    style_blend: tuple[float, ...]  # one weight per style image, summing to 1


def setup_run(settings: StylizeSettings, content: str | Path, styles: Sequence[str | Path], *,
              plans: Sequence = (), precision: str | None = None) -> RunSetup:
    """Resolve the device and precision, decode the weights and hash the inputs: once per run.

    ``plans`` (one ``memory_estimate.Plan`` per scale) go into the recipe when any scale is tiled
    or keeps a shorter L-BFGS history: then they shape the result. ``precision`` replaces resolving
    ``settings.precision`` (a resumed run keeps the precision it started with)."""
    from .errors import InputError

    if not styles:
        raise InputError("give at least one style image")
    blend = tuple(normalized_weights(settings.style_blend, len(styles), "--style-blend"))
    if settings.threads:
        torch.set_num_threads(settings.threads)
    device = resolve_device(settings.device)
    precision = precision or resolve_precision(settings.precision, device)
    weights = load_weights(settings.weights)
    recipe = make_recipe(settings, content, styles, weights, precision, blend)
    if any(plan.tile is not None or plan.history != 100 for plan in plans):
        recipe["plan"] = [{"tile": plan.tile, "lbfgs_history": plan.history} for plan in plans]
    return RunSetup(device, precision, weights, recipe, blend)


def make_recipe(settings: StylizeSettings, content: str | Path, styles: Sequence[str | Path], weights: Weights,
                precision: str, blend: Sequence[float]) -> dict:
    from . import __version__

    recipe = {
        "stylegram": __version__,
        "torch": torch.__version__,
        "settings": settings.as_dict() | {"lr": settings.learning_rate, "style_blend": list(blend)},
        "precision_used": precision,
        "content": {"file": Path(content).name, "sha256": sha256_file(Path(content))},
        "styles": [{"file": Path(p).name, "sha256": sha256_file(Path(p))} for p in styles],
        "weights": {"name": weights.name, "sha256": weights.sha256},
    }
    for name in ("masks", "style_masks"):  # their files' hashes (the settings hold their paths)
        if getattr(settings, name) is not None:
            recipe[name] = masks_sha256(getattr(settings, name))
    return recipe
