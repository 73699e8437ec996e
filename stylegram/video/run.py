"""Stylizing a clip: every frame through ``stylize``, in order within each shot, resumable frame by frame.

The first frame of a shot is stylized as ``stylize`` does it. Every later frame starts from the previous
stylized frame warped into it by the optical flow of the input frames (the content frame where that is
unreliable), and adds the temporal term (``temporal.py``); it runs with the ``later`` settings (a smaller
iteration bound, one scale at full size: docs/video.md). Style Grams come from the cache, so only a
shot's first frame can miss it. A finished frame is written at once (``frames.py``), so an interrupted
run loses at most the frame it was on, and a rerun skips what is done.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..errors import OptimizationError
from .frames import Frame, frame_recipe, is_done
from .settings import VideoSettings


@dataclass(frozen=True)
class FrameDone:
    """One frame finished (or found finished: ``skipped``), for progress and summaries."""

    frame: Frame
    seconds: float = 0.0
    iterations: int = 0
    losses: dict = field(default_factory=dict)
    style_cache: tuple[str, ...] = ()
    skipped: bool = False


def stylize_frame(frame: Frame, styles: Sequence[Path], video: VideoSettings, plans, *,
                  callback=None, should_stop=None):
    """Stylize one frame and write it with its recipe; None if a stop was requested first."""
    from ..engine import stylize
    from ..fileio import sha256_file
    from ..images import save_image
    from ..loop import Stop

    settings = video.first if frame.previous is None else video.later
    start, terms, previous_sha256 = None, (), None
    if frame.previous is not None:
        start, terms = temporal_inputs(frame, video)
        previous_sha256 = sha256_file(frame.previous.output)
    result = stylize(frame.input, list(styles), settings, callback=callback, should_stop=should_stop, plans=plans,
                     start=start, extra_terms=terms)
    if result.stopped is Stop.INTERRUPTED:
        return None
    if result.stopped is Stop.DIVERGED:
        raise OptimizationError(f"frame {frame.index}: {result.message}")
    save_image(result.image, frame.output, recipe=frame_recipe(frame, result.recipe, video, previous_sha256))
    return result


def temporal_inputs(frame: Frame, video: VideoSettings):
    """(warm start, [temporal term]) for a later frame, from the input frames' flow and the previous output."""
    from .. import color
    from ..images import load_image
    from .flow import flows_between, warp
    from .temporal import temporal_term, warm_start

    size = video.later.size
    previous_input = load_image(frame.previous.input, long_edge=size)
    current_input = load_image(frame.input, long_edge=size)
    previous_output = load_image(frame.previous.output, size=(current_input.shape[1], current_input.shape[0]))
    backward, weights = flows_between(previous_input, current_input, video.flow)
    warped = warp(previous_output, backward)
    content = current_input
    if video.later.original_colors:  # the optimizer works on luminance: so do its start and target
        warped, content = color.luminance_image(warped), color.luminance_image(current_input)
    return warm_start(warped, content, weights), [temporal_term(warped, weights, video.temporal_weight)]


def run_shot(frames: Sequence[Frame], styles: Sequence[Path], video: VideoSettings, *,
             on_frame: Callable[[FrameDone], None] = lambda done: None, callback=None,
             should_stop: Callable[[], bool] | None = None) -> bool:
    """The frames of one shot in order, skipping those done; False if a stop was requested."""
    from ..engine import plan_scales

    plans: dict[bool, list] = {}
    for frame in frames:
        if is_done(frame):
            on_frame(FrameDone(frame, skipped=True))
            continue
        if should_stop is not None and should_stop():
            return False
        later = frame.previous is not None
        if later not in plans:  # every frame has one size: plan each role once
            plans[later] = plan_scales(frame.input, video.later if later else video.first)
        started = time.perf_counter()
        result = stylize_frame(frame, styles, video, plans[later], callback=callback, should_stop=should_stop)
        if result is None:
            return False
        on_frame(FrameDone(frame, time.perf_counter() - started, result.iterations, result.losses,
                           result.style_cache))
    return True
