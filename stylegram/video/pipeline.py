"""A clip in, a stylized clip out: check everything, stylize the frames (``run``), encode, clean up.

Every check that can fail on the user's input runs before the first frame is stylized, and a bad input
leaves nothing behind: the output is written only at the end (to a temporary file, renamed), and the
work folder is removed again when this run created it and the input turned out to be unusable.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

from ..errors import InputError
from .encode import CONTAINERS, AudioSource, output_kind
from .frames import Frame, plan_frames, shots_of, store_input, work_folder
from .io import Clip, open_clip, read_frames
from .run import FrameDone, run_shot
from .settings import VideoSettings
from .shots import CutFinder


@dataclass(frozen=True)
class PreparedClip:
    clip: Clip
    frames: list[Frame]
    work: Path
    created_work: bool  # the work folder did not exist before this run


def prepare_clip(clip: Clip, styles: Sequence[Path], video: VideoSettings, output: Path,
                 frame_range: tuple[int | None, int | None] = (None, None)) -> PreparedClip:
    """Decode the selected frames into the work folder, find the cuts and plan every frame's key.

    A bad clip or range raises ``InputError`` and leaves no work folder behind (unless one was there)."""
    work = work_folder(output)
    created = not work.exists()
    try:
        work.mkdir(exist_ok=True)
        inputs, starts = _store_inputs(clip, work, frame_range)
    except BaseException:
        if created:
            shutil.rmtree(work, ignore_errors=True)
        raise
    return PreparedClip(clip, plan_frames(inputs, starts, styles, video, work), work, created)


def _store_inputs(clip: Clip, work: Path, frame_range: tuple[int | None, int | None]):
    first, stop = frame_range
    first = first or 0
    finder, inputs, starts, count = CutFinder(), [], set(), 0
    for index, frame in enumerate(read_frames(clip)):
        count = index + 1
        if stop is not None and index >= stop:
            break
        if index < first:
            continue
        if finder.is_cut(frame):
            starts.add(index)
        inputs.append((index, *store_input(frame, index, work)))
    if not inputs or (stop is not None and stop > count):
        shown = f"{first}:{'' if stop is None else stop}"
        raise InputError(f"--frames {shown}: outside the clip, which has {count} frames (0 to {count - 1})")
    return inputs, starts


def run_frames(frames: Sequence[Frame], styles: Sequence[Path], video: VideoSettings, *,
               on_frame: Callable[[FrameDone], None] = lambda done: None, callback=None,
               should_stop: Callable[[], bool] | None = None, ray_address: str | None = None,
               use_ray: bool = False) -> bool:
    """Every shot, one after another here or in parallel on Ray; False if interrupted."""
    shots = shots_of(frames)
    if use_ray or ray_address:
        from .ray_shots import run_shots_on_ray  # Ray only when asked for

        return run_shots_on_ray(shots, styles, video, address=ray_address, on_frame=on_frame,
                                should_stop=should_stop or (lambda: False))
    for shot in shots:
        if not run_shot(shot, styles, video, on_frame=on_frame, callback=callback, should_stop=should_stop):
            return False
    return True


def publish(prepared: PreparedClip, output: Path, kind: str, *, fps: Fraction, audio=None) -> None:
    """Write the finished frames as ``output``: a video (encoded to a temporary file, then renamed) or a folder."""
    from ..fileio import atomic_write
    from .encode import write_video

    paths = [frame.output for frame in prepared.frames]
    if kind != "folder":
        write_video(paths, output, fps, audio)
        return
    output.mkdir(parents=True, exist_ok=True)
    for path in paths:
        with atomic_write(output / path.name) as tmp:
            shutil.copyfile(path, tmp)


@dataclass(frozen=True)
class VideoOutcome:
    prepared: PreparedClip
    finished: bool  # False: stopped on request; the finished frames are in ``prepared.work``
    audio: bool  # the input's audio went into the output


def check_paths(input_path: Path, styles: Sequence[Path], output: Path) -> str:
    """The output's kind (``encode.output_kind``), after checking the output can be written, is not the
    input, and the style images can be read."""
    from ..fileio import check_writable_target
    from ..images import image_size

    kind = output_kind(output)
    if kind != "folder":
        check_writable_target(output, option="--output")
    elif output.exists() and not output.is_dir():
        raise InputError(f"--output {output}: is a file, not a folder")
    elif not output.parent.is_dir():
        raise InputError(f"--output: folder {output.parent} does not exist")
    if output.exists() and input_path.exists() and output.resolve() == input_path.resolve():
        raise InputError(f"--output {output}: is also the input; refusing to overwrite it")
    if not styles:
        raise InputError("give at least one style image")
    for style in styles:
        image_size(style, "style image")
    return kind


def stylize_video(input_path: Path, styles: Sequence[Path], output: Path, video: VideoSettings, *,
                  frame_range: tuple[int | None, int | None] = (None, None), fps: float | None = None,
                  keep_frames: bool = False, use_ray: bool = False, ray_address: str | None = None,
                  on_prepared: Callable[[list[Frame]], None] = lambda frames: None,
                  on_frame: Callable[[FrameDone], None] = lambda done: None, callback=None,
                  should_stop: Callable[[], bool] | None = None) -> VideoOutcome:
    """Stylize ``input_path`` into ``output``; see ``stylegram video --help``. Finished frames are kept in
    the work folder, so calling this again continues a stopped run."""
    kind = check_paths(input_path, styles, output)
    clip = open_clip(input_path, fps)
    prepared = prepare_clip(clip, styles, video, output, frame_range)
    on_prepared(prepared.frames)
    finished = run_frames(prepared.frames, styles, video, on_frame=on_frame, callback=callback,
                          should_stop=should_stop, use_ray=use_ray, ray_address=ray_address)
    if not finished:
        return VideoOutcome(prepared, False, False)
    audio = _audio(clip, prepared.frames, kind, whole=frame_range == (None, None), retimed=fps is not None)
    publish(prepared, output, kind, fps=clip.fps, audio=audio)
    if not keep_frames:
        shutil.rmtree(prepared.work, ignore_errors=True)
    return VideoOutcome(prepared, True, audio is not None)


def _audio(clip, frames: list[Frame], kind: str, *, whole: bool, retimed: bool) -> AudioSource | None:
    """The input's audio (for a ``--frames`` range: its span), where the output can carry it and the
    clip keeps its timing."""
    if not clip.has_audio or kind not in CONTAINERS or retimed:
        return None
    if whole:
        return AudioSource(clip.path)
    start = frames[0].index / clip.fps
    end = (frames[-1].index + 1) / clip.fps
    return AudioSource(clip.path, float(start), float(end))
