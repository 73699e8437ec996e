"""Reading a clip frame by frame: a video file (PyAV), an animated GIF or WebP (Pillow), or a folder of frames.

Frames come out in order as H x W x 3 uint8 RGB arrays, one at a time (a long clip is never held in
memory). Every way a clip can be unusable is an ``InputError`` naming the file: not a video, damaged or
truncated, no frames, frames that change size. Animated GIF and WebP go through Pillow: the FFmpeg that
PyAV's wheels bundle decodes GIF but not animated WebP, and Pillow reads both with their frame durations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputError

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".m4v", ".avi"})
ANIMATION_SUFFIXES = frozenset({".gif", ".webp"})
DEFAULT_FOLDER_FPS = 25


@dataclass(frozen=True)
class Clip:
    """What is known about a clip before its frames are read."""

    path: Path
    kind: str  # "video", "animation" or "folder"
    fps: Fraction
    has_audio: bool = False
    declared_frames: int = 0  # what the container says (0: unknown)


def open_clip(path: Path, fps: float | None = None) -> Clip:
    """Look at ``path`` (checking it is a clip at all); ``fps`` replaces the clip's own frame rate."""
    if not path.exists():
        raise InputError(f"INPUT {path}: file not found")
    rate = Fraction(fps).limit_denominator(1001) if fps else None
    if path.is_dir():
        return Clip(path, "folder", rate or Fraction(DEFAULT_FOLDER_FPS))
    suffix = path.suffix.lower()
    if suffix in ANIMATION_SUFFIXES:
        return Clip(path, "animation", rate or _animation_rate(path))
    if suffix not in VIDEO_SUFFIXES:
        raise InputError(f"INPUT {path}: not a video ({suffix or 'no suffix'}); give a video file "
                         f"({', '.join(sorted(VIDEO_SUFFIXES))}), an animated GIF or WebP, or a folder of frames")
    av = _pyav()
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"INPUT {path}: has no video stream (zero frames)")
            stream = container.streams.video[0]
            native = stream.average_rate or stream.guessed_rate or Fraction(DEFAULT_FOLDER_FPS)
            return Clip(path, "video", rate or Fraction(native), bool(container.streams.audio), stream.frames or 0)
    except av.error.FFmpegError as exc:
        what = "damaged or truncated" if _has_container_signature(path) else "not a video"
        raise InputError(f"INPUT {path}: cannot be read as a video: {what} ({_reason(exc)})") from None


def read_frames(clip: Clip) -> Iterator[np.ndarray]:
    """The clip's frames in order; an ``InputError`` for damage, a size change or zero frames."""
    source = {"video": _video_frames, "animation": _animation_frames, "folder": _folder_frames}[clip.kind]
    size, count = None, 0
    for frame in source(clip):
        if size is None:
            size = frame.shape[:2]
        elif frame.shape[:2] != size:
            raise InputError(f"INPUT {clip.path}: frame {count} is {frame.shape[1]}x{frame.shape[0]}, the first "
                             f"frame is {size[1]}x{size[0]}; every frame must have one size")
        count += 1
        yield frame
    if count == 0:
        raise InputError(f"INPUT {clip.path}: has zero frames")


def _video_frames(clip: Clip) -> Iterator[np.ndarray]:
    av = _pyav()
    count = 0
    try:
        with av.open(str(clip.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                count += 1
                yield frame.to_ndarray(format="rgb24")
    except av.error.FFmpegError as exc:
        raise InputError(f"INPUT {clip.path}: damaged or truncated: decoding failed after {count} frames "
                         f"({_reason(exc)})") from None
    if clip.declared_frames and count < clip.declared_frames:
        raise InputError(f"INPUT {clip.path}: truncated: {count} of the {clip.declared_frames} frames it declares "
                         f"could be decoded")


def _animation_frames(clip: Clip) -> Iterator[np.ndarray]:
    from PIL import Image, ImageSequence

    from ..images import to_rgb

    try:
        with Image.open(clip.path) as image:
            for frame in ImageSequence.Iterator(image):
                yield np.asarray(to_rgb(frame.copy()), dtype=np.uint8)
    except InputError:
        raise
    except Exception as exc:  # Pillow's decoders raise many types (OSError, SyntaxError, EOFError, ...)
        raise InputError(f"INPUT {clip.path}: not an animation Pillow can read, or damaged or truncated "
                         f"({_reason(exc)})") from None


def _animation_rate(path: Path) -> Fraction:
    from PIL import Image, ImageSequence

    try:
        with Image.open(path) as image:
            durations = [frame.info.get("duration") or 100 for frame in ImageSequence.Iterator(image)]
    except Exception as exc:
        raise InputError(f"INPUT {path}: not an animation Pillow can read, or damaged or truncated "
                         f"({_reason(exc)})") from None
    return Fraction(1000 * len(durations), round(sum(durations))).limit_denominator(1001)


def _folder_frames(clip: Clip) -> Iterator[np.ndarray]:
    from ..images import image_files, load_image

    for path in sorted(image_files(clip.path, "INPUT"), key=_frame_order):
        yield np.round(load_image(path, what="INPUT frame") * 255).astype(np.uint8)


def _frame_order(path: Path) -> tuple:
    """frame2.png before frame10.png: numbers compare as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name))


def _has_container_signature(path: Path) -> bool:
    """The file starts like an MP4/MOV (``ftyp`` box), Matroska/WebM (EBML) or AVI (RIFF) file."""
    with open(path, "rb") as handle:
        head = handle.read(12)
    return head[4:8] == b"ftyp" or head[:4] in (b"\x1a\x45\xdf\xa3", b"RIFF")


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())[:160]


def _pyav():
    try:
        import av
    except ImportError:
        raise InputError("video files need PyAV: pip install 'stylegram[video]'") from None
    return av
