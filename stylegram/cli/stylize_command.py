"""``stylegram stylize``: options -> settings, then the files around the library's run.

The library decides how a run ended (``Result.stopped``); this module only writes files:
the output, intermediate images, and on an interruption the best image so far and the
state for ``--resume``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, List, Optional, Sequence

import typer

from ..errors import InputError, OptimizationError
from ..fileio import check_writable_target
from ..images import output_format, save_image
from ..resume import state_path
from ..settings import StylizeSettings
from .options import (
    DEFAULTS,
    CacheOpt,
    CoarseStyleOpt,
    ColorsOpt,
    ContentLayersOpt,
    ContentWeightOpt,
    DeviceOpt,
    IterationsOpt,
    IterationsPerScaleOpt,
    LrOpt,
    MaxPixelsOpt,
    MemoryOpt,
    ModelOpt,
    OptimizerOpt,
    OriginalColorsOpt,
    PoolOpt,
    PrecisionOpt,
    QuietOpt,
    ScalesOpt,
    SeedOpt,
    ServerModelOpt,
    ServerOpt,
    SizeOpt,
    StyleBlendOpt,
    StyleLayersOpt,
    StyleLayerWeightsOpt,
    StyleScaleOpt,
    StyleWeightOpt,
    TargetsOpt,
    TileOpt,
    TimeLimitOpt,
    TolOpt,
    TvWeightOpt,
    WeightsOpt,
    numbers,
    split_list,
    whole_numbers,
)
from .progress_bar import ProgressDisplay
from .stop_signals import BestSoFar, StopRequests


def stylize(
    content: Annotated[Path, typer.Argument(help="Content image (the photo).")],
    styles: Annotated[List[Path], typer.Argument(help="One or more style images (paintings).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image (.png, .jpg or .webp).")],
    size: SizeOpt = DEFAULTS.size,
    iterations: IterationsOpt = DEFAULTS.iterations,
    scales: ScalesOpt = DEFAULTS.scales,
    iterations_per_scale: IterationsPerScaleOpt = None,
    tol: TolOpt = DEFAULTS.tol,
    time_limit: TimeLimitOpt = DEFAULTS.time_limit,
    optimizer: OptimizerOpt = DEFAULTS.optimizer,
    lr: LrOpt = DEFAULTS.lr,
    init: Annotated[str, typer.Option(help="Start image: content, noise, or an image path.")] = DEFAULTS.init,
    seed: SeedOpt = DEFAULTS.seed,
    content_weight: ContentWeightOpt = DEFAULTS.content_weight,
    style_weight: StyleWeightOpt = DEFAULTS.style_weight,
    tv_weight: TvWeightOpt = DEFAULTS.tv_weight,
    content_layers: ContentLayersOpt = ",".join(DEFAULTS.content_layers),
    style_layers: StyleLayersOpt = ",".join(DEFAULTS.style_layers),
    style_layer_weights: StyleLayerWeightsOpt = None,
    pool: PoolOpt = DEFAULTS.pool,
    style_blend: StyleBlendOpt = None,
    style_scale: StyleScaleOpt = DEFAULTS.style_scale,
    coarse_style: CoarseStyleOpt = DEFAULTS.coarse_style,
    colors: ColorsOpt = DEFAULTS.colors,
    original_colors: OriginalColorsOpt = DEFAULTS.original_colors,
    masks: Annotated[Optional[str], typer.Option(
        "--masks", help="Comma-separated content masks, one greyscale image per style image: white = this style "
        "here, grey = partly, black everywhere = no style (docs/masks.md).")] = None,
    style_masks: Annotated[Optional[str], typer.Option(
        "--style-masks", help="Comma-separated style masks, one per style image: use only the white part of "
        "each painting (needs --masks).")] = None,
    guide: Annotated[str, typer.Option(
        "--guide", help="How a mask guides each layer: simple (resized to the layer), inside (units whose "
        "receptive field lies wholly inside), all (units whose receptive field touches it).")] = DEFAULTS.guide,
    save_every: Annotated[int, typer.Option(help="Save an intermediate image every N iterations (0: never).")] = 0,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue the interrupted run saved next to --output (same command otherwise).")] = False,
    weights: WeightsOpt = DEFAULTS.weights,
    device: DeviceOpt = DEFAULTS.device,
    precision: PrecisionOpt = DEFAULTS.precision,
    targets: TargetsOpt = DEFAULTS.targets,
    server: ServerOpt = None,
    server_model: ServerModelOpt = DEFAULTS.server_model,
    cache: CacheOpt = DEFAULTS.cache,
    model: ModelOpt = None,
    max_pixels: MaxPixelsOpt = None,
    memory: MemoryOpt = None,
    tile: TileOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Stylize CONTENT with the style of STYLE images and write the result to --output."""
    settings = StylizeSettings(
        size=size, iterations=iterations, scales=scales, tol=tol, time_limit=time_limit,
        iterations_per_scale=whole_numbers(iterations_per_scale, "--iterations-per-scale"), optimizer=optimizer,
        lr=lr, init=init, seed=seed, content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
        content_layers=split_list(content_layers, "--content-layers"),
        style_layers=split_list(style_layers, "--style-layers"),
        style_layer_weights=numbers(style_layer_weights, "--style-layer-weights"),
        style_blend=numbers(style_blend, "--style-blend"), style_scale=style_scale,
        coarse_style=coarse_style, pool=pool,
        original_colors=original_colors, colors=colors, masks=split_list(masks, "--masks"),
        style_masks=split_list(style_masks, "--style-masks"), guide=guide, weights=weights, device=device,
        precision=precision, targets=targets,
        cache=cache, model=str(model) if model else None, max_pixels=max_pixels, server=server, memory=memory,
        server_model=server_model,
        tile=tile)
    run_stylize(content, styles, output, settings, save_every=save_every, quiet=quiet, resume=resume)


def check_output(output: Path, inputs: Sequence[Path]) -> None:
    """Refuse an unwritable output, an unknown format, or one that would overwrite an input."""
    output_format(output)
    check_writable_target(output, option="--output")
    for path in inputs:
        if output.exists() and path.exists() and output.resolve() == path.resolve():
            raise InputError(f"--output {output}: is also an input image; refusing to overwrite it")


def intermediate_path(output: Path, iteration: int) -> Path:
    return output.with_name(f"{output.stem}.iter{iteration:05d}{output.suffix}")


def run_stylize(content: Path, styles: Sequence[Path], output: Path, settings: StylizeSettings, *,
                save_every: int = 0, quiet: bool = False, resume: bool = False) -> None:
    """Run ``stylize`` and write what it produced; raise the error that decides the exit code."""
    from ..engine import plan_scales
    from ..engine import stylize as run
    from ..loop import Stop
    from ..tensor_images import to_array

    if save_every < 0:
        raise InputError(f"--save-every must be >= 0, got {save_every}")
    if quiet:  # errors only: not even the one-off notice of --precision auto measuring this machine
        logging.getLogger("stylegram.precision").setLevel(logging.WARNING)
    init_path = [Path(settings.init)] if settings.init not in ("content", "noise") else []
    check_output(output, [content, *styles, *init_path])
    plans = plan_scales(content, settings)  # planned once: what is printed is what runs
    if not quiet and any(plan.tile for plan in plans):
        for plan in plans:
            print(f"plan: {plan.describe()}", file=sys.stderr)
    display = ProgressDisplay(sum(its for _, its in settings.schedule()), enabled=not quiet)
    best = BestSoFar()
    stops = StopRequests(at_once=lambda: best.image is None)  # before the loop: nothing to keep yet

    def on_progress(progress) -> None:
        best.update(progress)
        display.update(progress)
        if save_every and progress.iteration % save_every == 0 and progress.iteration < progress.iterations:
            save_image(to_array(progress.image), intermediate_path(output, progress.iteration))

    try:
        with display, stops:
            result = run(content, styles, settings, callback=on_progress, should_stop=lambda: bool(stops),
                         resume=state_path(output) if resume else None, plans=plans)
    except KeyboardInterrupt:  # a signal before the loop started, or a second one
        raise best.save_interrupted(output, stops.first, None) from None
    if result.stopped is Stop.INTERRUPTED:
        raise best.save_interrupted(output, stops.first, result)
    save_image(result.image, output, recipe=result.recipe)
    if result.stopped is Stop.DIVERGED:
        raise OptimizationError(f"{result.message}, saved as {output}")
    state_path(output).unlink(missing_ok=True)
    if not quiet:
        _report(output, result)


def _report(output: Path, result) -> None:
    print(f"style targets: {result.targets_engine}, cache {', '.join(result.style_cache)}; "
          f"start-up {result.startup_seconds:.1f} s", file=sys.stderr)
    stop = f", stopped: {result.stopped.value}" if result.stopped else ""
    print(f"wrote {output} ({result.image.shape[1]}x{result.image.shape[0]}, {result.iterations} iterations "
          f"in {result.seconds:.1f} s, loss {result.losses.get('loss', float('nan')):.4g}{stop})", file=sys.stderr)
