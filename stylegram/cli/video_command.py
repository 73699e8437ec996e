"""``stylegram video``: a clip through ``stylize`` frame by frame, temporally consistent and resumable.

The stylize knobs are the same options as ``stylegram stylize`` (the shared definitions of ``options.py``,
and the same ``StylizeSettings`` built from them); the video's own are the temporal weight, the later
frames' iteration bound, the frame range and rate, the work folder and Ray. How it works: docs/video.md.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from ..errors import InputError, Interrupted
from ..settings import StylizeSettings
from ..video.settings import DEFAULT_TEMPORAL_WEIGHT
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
from .stop_signals import StopRequests


def video(
    input_path: Annotated[Path, typer.Argument(
        metavar="INPUT", help="A video (mp4, mov, mkv, webm, animated GIF or WebP) or a folder of numbered frames.")],
    styles: Annotated[List[Path], typer.Argument(metavar="STYLE...", help="One or more style images.")],
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Output video: .mp4, .mov or .mkv (H.264), .webm (VP9), .gif or .webp; or a "
                               "folder (no suffix) for PNG frames.")],
    temporal_weight: Annotated[float, typer.Option(
        "--temporal-weight", help="Weight of the temporal loss (0: warm start only).")] = DEFAULT_TEMPORAL_WEIGHT,
    later_iterations: Annotated[Optional[int], typer.Option(
        "--later-iterations", show_default="a quarter of --iterations",
        help="Iteration bound of a frame that starts from the warped previous one (one scale, full size).")] = None,
    frames: Annotated[Optional[str], typer.Option(
        "--frames", help="Frames A:B of the input (from A up to, not including, B; counted from 0).")] = None,
    fps: Annotated[Optional[float], typer.Option(
        "--fps", help="Frame rate of a folder of frames (default 25); for a video, replaces its own rate "
                      "(the audio is then left out).")] = None,
    keep_frames: Annotated[bool, typer.Option(
        "--keep-frames", help="Keep the work folder OUTPUT.frames/ (input and stylized frames) after encoding.")]
    = False,
    flow: Annotated[str, typer.Option(
        "--flow", help="Optical flow: dis, dis-medium (faster, coarser) or farneback.")] = "dis",
    ray: Annotated[bool, typer.Option("--ray", help="Run the shots in parallel on a local Ray cluster.")] = False,
    address: Annotated[Optional[str], typer.Option(
        "--address", help="Run the shots on this Ray cluster (auto or HOST:PORT); implies --ray.")] = None,
    size: SizeOpt = DEFAULTS.size,
    iterations: IterationsOpt = DEFAULTS.iterations,
    scales: ScalesOpt = DEFAULTS.scales,
    iterations_per_scale: IterationsPerScaleOpt = None,
    tol: TolOpt = DEFAULTS.tol,
    time_limit: TimeLimitOpt = DEFAULTS.time_limit,
    optimizer: OptimizerOpt = DEFAULTS.optimizer,
    lr: LrOpt = DEFAULTS.lr,
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
    """Stylize every frame of INPUT with the STYLE images into --output, temporally consistent.

    Each shot's first frame is stylized as `stylize` does; every later frame starts from the previous one
    warped by the optical flow and keeps close to it (Ruder et al. 2016). Finished frames are kept in
    OUTPUT.frames/: rerunning the same command continues where it stopped."""
    from ..video.settings import video_settings

    first = StylizeSettings(
        size=size, iterations=iterations, scales=scales, tol=tol, time_limit=time_limit,
        iterations_per_scale=whole_numbers(iterations_per_scale, "--iterations-per-scale"), optimizer=optimizer,
        lr=lr, seed=seed, content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
        content_layers=split_list(content_layers, "--content-layers"),
        style_layers=split_list(style_layers, "--style-layers"),
        style_layer_weights=numbers(style_layer_weights, "--style-layer-weights"),
        style_blend=numbers(style_blend, "--style-blend"), style_scale=style_scale, coarse_style=coarse_style,
        pool=pool, colors=colors, original_colors=original_colors, weights=weights, device=device, precision=precision,
        targets=targets, cache=cache, model=str(model) if model else None, max_pixels=max_pixels, server=server,
        memory=memory, server_model=server_model, tile=tile)
    settings = video_settings(first, later_iterations=later_iterations, flow=flow, temporal_weight=temporal_weight)
    run_video(input_path, styles, output, settings, frame_range=frame_range(frames), fps=fps,
              keep_frames=keep_frames, use_ray=ray, address=address, quiet=quiet)


def frame_range(text: Optional[str]) -> tuple[Optional[int], Optional[int]]:
    """``"A:B"``, ``"A:"`` or ``":B"`` -> (A, B), None where empty; A < B, both >= 0."""
    if text is None:
        return None, None
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        first, stop = (int(part) if part.strip() else None for part in parts)
    except ValueError:
        raise InputError(f"--frames: expected A:B (whole numbers, either may be left out), got {text!r}") from None
    if (first is not None and first < 0) or (stop is not None and stop <= (first or 0)):
        raise InputError(f"--frames {text}: expected 0 <= A < B")
    return first, stop


def run_video(input_path: Path, styles: List[Path], output: Path, settings, *, frame_range, fps, keep_frames: bool,
              use_ray: bool, address: Optional[str], quiet: bool) -> None:
    """Run ``stylize_video`` with a progress bar and Ctrl-C as a stop request; report or raise."""
    from ..video.frames import is_done
    from ..video.pipeline import stylize_video
    from ..video.progress import VideoProgressDisplay

    if fps is not None and not fps > 0:
        raise InputError(f"--fps must be positive, got {fps}")
    display = VideoProgressDisplay(settings, enabled=not quiet)
    stops = StopRequests()
    with display, stops:
        outcome = stylize_video(input_path, styles, output, settings, frame_range=frame_range, fps=fps,
                                keep_frames=keep_frames, use_ray=use_ray or address is not None,
                                ray_address=address, on_prepared=display.prepared, on_frame=display.frame_done,
                                callback=display.iteration, should_stop=lambda: bool(stops))
    frames = outcome.prepared.frames
    if not outcome.finished:
        done = sum(1 for frame in frames if is_done(frame))
        raise Interrupted(f"interrupted; {done} of {len(frames)} frames are finished and kept in "
                          f"{outcome.prepared.work}; run the same command again to continue", stops.first)
    if not quiet:
        shots = frames[-1].shot + 1
        kept = f"; frames kept in {outcome.prepared.work}" if keep_frames else ""
        print(f"wrote {output} ({len(frames)} frames, {shots} shot{'s' * (shots > 1)}, "
              f"{outcome.prepared.clip.fps} fps{', with audio' if outcome.audio else ''}{kept})", file=sys.stderr)
