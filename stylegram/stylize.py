"""Gatys et al. style transfer: compute the fixed targets once, then descend on the pixels.

``stylize`` is the one entry point; its knobs are a ``StylizeSettings`` record (the CLI
reads its defaults from there). Progress is reported through ``Progress`` objects
passed to an optional callback.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import color
from .errors import InputError
from .fileio import sha256_file
from .images import load_image
from .layers import min_image_side
from .loop import LoopState, OptimizationDiverged, Progress, StopRequested, optimize
from .losses import content_loss, gram_matrix, style_loss, tv_loss
from .model import VGG19Features
from .resources import check_fits
from .resume import Snapshot
from .settings import StylizeSettings, normalized_weights
from .targets import Targets, compute_targets
from .weights import Weights, load_weights

__all__ = ["OptimizationDiverged", "Progress", "Result", "StylizeSettings", "prepare", "stylize"]


@dataclass(frozen=True)
class Result:
    image: np.ndarray  # H x W x 3 RGB float32 in [0, 1]
    recipe: dict
    iterations: int
    seconds: float  # optimization only
    losses: dict[str, float]
    startup_seconds: float = 0.0  # from the call until the first iteration could start
    targets_engine: str = ""
    style_cache: tuple[str, ...] = ()  # "hit" / "miss" / "off" per style image (last scale)
    stopped: str = ""  # "" (iteration bound), "converged" (last scale) or "time limit"


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


def resolve_precision(choice: str, device: torch.device) -> str:
    """``auto``: bf16 where bfloat16 matrix units make it about twice as fast (AMX/AVX512-BF16 CPUs, bf16 GPUs)."""
    if choice != "auto":
        return choice
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    fast = [getattr(torch.cpu, name, lambda: False)() for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    return "bf16" if any(fast) else "fp32"


def resolve_device(name: str) -> torch.device:
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"--device {name}: CUDA is not available here (torch {torch.__version__}); use --device cpu")
        return torch.device(name)
    raise InputError(f"--device {name}: unknown device; use cpu or cuda")


def _initial_image(init: str, content: np.ndarray, seed: int, device: torch.device,
                   previous: torch.Tensor | None = None) -> torch.Tensor:
    if init == "content":
        start = content
    elif init == "noise":
        start = np.random.default_rng(seed).uniform(0, 1, content.shape).astype(np.float32)
    else:
        height, width = content.shape[:2]
        start = load_image(init, size=(width, height), what="--init image")
    image = to_tensor(start, device)
    if previous is not None:
        image = coarse_to_fine(previous, image)
    return image.contiguous().requires_grad_(True)


def coarse_to_fine(coarse: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """The coarse scale's result for its low frequencies, ``start``'s own high frequencies for the rest.

    One Laplacian-pyramid step: upsampling alone would hand the next scale a blurred image, whose
    fine-layer style statistics must then be rebuilt (measured at 64 -> 128 px: the fine scale's
    first loss is 2.37 with the detail kept, 2.88 upsampled, 5.57 for the photo; README).
    """
    size = start.shape[-2:]
    blurred_start = F.interpolate(F.interpolate(start, size=coarse.shape[-2:], mode="area"), size=size,
                                  mode="bicubic", align_corners=False)
    upsampled = F.interpolate(coarse.detach(), size=size, mode="bicubic", align_corners=False)
    return (upsampled + start - blurred_start).clamp(0, 1)


@dataclass
class PreparedRun:
    """Everything the loop needs at one scale: objective with fixed targets, start image, recipe."""

    objective: Objective
    image: torch.Tensor
    content_rgb: np.ndarray
    recipe: dict
    targets: Targets
    weights: Weights


def prepare(content: str | Path, styles: Sequence[str | Path], s: StylizeSettings, *,
            previous: torch.Tensor | None = None, weights: Weights | None = None,
            model: VGG19Features | None = None, recipe: dict | None = None,
            recipe_settings: StylizeSettings | None = None) -> PreparedRun:
    """Load inputs (at ``s.size``), build the model and the fixed targets; no optimization.

    ``previous`` (an earlier scale's image) replaces ``s.init``; ``weights``, ``model`` and
    ``recipe`` may be passed in so that several scales share them; a new recipe records
    ``recipe_settings`` (the whole run's settings) when given.
    """
    if not styles:
        raise InputError("give at least one style image")
    blend = normalized_weights(s.style_blend, len(styles), "--style-blend")
    layer_weights = dict(zip(s.style_layers, normalized_weights(s.style_layer_weights, len(s.style_layers),
                                                                "--style-layer-weights")))
    device = resolve_device(s.device)
    content_rgb, work_rgb, style_rgbs = load_inputs(content, styles, s)
    vgg = weights or load_weights(s.weights)
    if model is None:
        model = VGG19Features(vgg, (*s.content_layers, *s.style_layers), pool=s.pool)
        model = model.to(device=device, memory_format=torch.channels_last)
    targets = compute_targets(s, vgg, model, work_rgb, [Path(p) for p in styles], style_rgbs, blend, device)
    objective = Objective(model, targets, content_weight=s.content_weight, style_weight=s.style_weight,
                          tv_weight=s.tv_weight, style_layer_weights=layer_weights,
                          precision=resolve_precision(s.precision, device))
    torch.manual_seed(s.seed)
    image = _initial_image(s.init, work_rgb, s.seed, device, previous)
    recipe = recipe or make_recipe(recipe_settings or s, content, styles, vgg)
    return PreparedRun(objective, image, content_rgb, recipe, targets, vgg)


def stylize(content: str | Path, styles: Sequence[str | Path], settings: StylizeSettings | None = None, *,
            callback: Callable[[Progress], None] | None = None, should_stop: Callable[[], bool] | None = None,
            resume: Snapshot | None = None) -> Result:
    """Render ``content`` in the style of ``styles`` (see ``StylizeSettings`` for every knob).

    Coarse to fine: each scale of ``settings.schedule()`` starts from the previous scale's
    result (see ``coarse_to_fine``); a scale ends at its iteration bound, on convergence
    (``tol``) or when its share of the time limit is spent. The last scale always runs (at
    least one iteration), so the result has the requested size.
    """
    s = settings or StylizeSettings()
    called = time.perf_counter()
    check_fits(Path(content), s.size, (*s.content_layers, *s.style_layers), max_pixels=s.max_pixels)
    schedule = s.schedule()
    state = LoopState(total_iterations=sum(its for _, its in schedule))
    weights, model, image, run, startup, terms, recipe = None, None, None, None, None, {}, None
    run_deadline = None
    for index, (size, iterations) in enumerate(schedule, start=1):
        if resume is not None and index < resume.scale_index:
            continue
        at_scale = replace(s, size=size, scales=1, iterations_per_scale=None, iterations=iterations)
        run = prepare(content, styles, at_scale, previous=image, weights=weights, model=model,
                      recipe=recipe, recipe_settings=s)
        weights, model, recipe = run.weights, run.objective.model, run.recipe
        continued: dict = {}
        if resume is not None and index == resume.scale_index:
            run.image = resume.image.detach().clone().requires_grad_(True)
            continued = {"optimizer_state": resume.optimizer_state, "history": resume.history}
            iterations, state.done = iterations - resume.scale_done, resume.total_done
        if startup is None:
            state.started = time.perf_counter()
            startup = state.started - called
            run_deadline = state.started + s.time_limit if s.time_limit else None
        state.deadline = scale_deadline(run_deadline, schedule[index - 1:])
        try:
            image, terms = optimize(run.objective, run.image, state, optimizer=s.optimizer, lr=s.learning_rate,
                                    iterations=iterations, tol=s.tol, callback=callback,
                                    scale=(index, len(schedule), size), should_stop=should_stop, **continued)
        except StopRequested as stop:
            stop.snapshot = Snapshot(index, len(stop.history), state.done, stop.image, stop.optimizer_state,
                                     stop.history)
            stop.recipe = run.recipe
            raise
        except OptimizationDiverged as exc:
            state.done = exc.iterations
            kept, run = (exc.image, run) if index == len(schedule) else _at_full_size(exc.image, content, styles, s, run)
            exc.result = _finish(to_array(kept), run, s, state, {}, startup)
            raise
        if index < len(schedule):
            state.stopped = ""  # a coarse scale's stop only ends that scale
    return _finish(to_array(image), run, s, state, terms, startup)


def _at_full_size(image: torch.Tensor, content: str | Path, styles: Sequence[str | Path], s: StylizeSettings,
                  run: PreparedRun) -> tuple[torch.Tensor, PreparedRun]:
    """A coarse scale's image brought to the requested size (a run that ends early still has that size)."""
    content_rgb, work_rgb, _ = load_inputs(content, styles, s)
    return coarse_to_fine(image, to_tensor(work_rgb, image.device)), replace(run, content_rgb=content_rgb)


def scale_deadline(run_deadline: float | None, remaining: list[tuple[int, int]]) -> float | None:
    """This scale's share of the time left: in proportion to its planned work (iterations x pixels).

    The last scale gets whatever is left, so a time limit never ends a run below the requested size.
    """
    if run_deadline is None or len(remaining) == 1:
        return run_deadline
    planned = [iterations * size**2 for size, iterations in remaining]
    now = time.perf_counter()
    return now + max(0.0, run_deadline - now) * planned[0] / sum(planned)


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


def _finish(image: np.ndarray, run: PreparedRun, s: StylizeSettings, state: LoopState,
            losses: dict[str, float], startup: float) -> Result:
    if s.original_colors:
        image = color.recolor(image, run.content_rgb)
    return Result(image, run.recipe, state.done, time.perf_counter() - state.started, losses, startup,
                  run.targets.engine, tuple(run.targets.style_cache), state.stopped)


def make_recipe(s: StylizeSettings, content: str | Path, styles: Sequence[str | Path],
                weights: Weights | None = None) -> dict:
    """Everything needed to reproduce a result: settings, input hashes, weights, versions."""
    from . import __version__

    weights = weights or load_weights(s.weights)
    blend = normalized_weights(s.style_blend, len(styles), "--style-blend")
    return {
        "stylegram": __version__,
        "torch": torch.__version__,
        "settings": s.as_dict() | {"lr": s.learning_rate, "style_blend": list(blend)},
        "precision_used": resolve_precision(s.precision, resolve_device(s.device)),
        "content": {"file": Path(content).name, "sha256": sha256_file(Path(content))},
        "styles": [{"file": Path(p).name, "sha256": sha256_file(Path(p))} for p in styles],
        "weights": {"name": weights.name, "sha256": weights.sha256},
    }
