"""Writing the stylized clip: a video file (PyAV), an animated GIF or WebP (Pillow), or a folder of PNG frames.

Codecs, chosen by the output's suffix: H.264 (libx264, yuv420p, CRF 18) in .mp4, .mov and .mkv — PyAV's
wheels carry libx264, and H.264 in yuv420p plays in every browser; VP9 in .webm. The input's audio is
copied packet by packet where the container takes its codec, else re-encoded (Opus in WebM, AAC
elsewhere). Video files are written to a temporary file beside the output and renamed: a failed or
interrupted encode leaves no partial output.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError, StylegramError
from ..fileio import atomic_write

# suffix -> (FFmpeg muxer, video codec, codec options, muxer options, audio codec when the source's cannot be copied)
CONTAINERS = {
    ".mp4": ("mp4", "libx264", {"crf": "18", "preset": "medium"}, {"movflags": "+faststart"}, "aac"),
    ".mov": ("mov", "libx264", {"crf": "18", "preset": "medium"}, {"movflags": "+faststart"}, "aac"),
    ".mkv": ("matroska", "libx264", {"crf": "18", "preset": "medium"}, {}, "aac"),
    ".webm": ("webm", "libvpx-vp9", {"crf": "32", "b": "0", "row-mt": "1"}, {}, "libopus"),
}
ANIMATIONS = {".gif": "GIF", ".webp": "WEBP"}


@dataclass(frozen=True)
class AudioSource:
    """The input's audio between ``start`` and ``end`` seconds (``end`` None: to its end)."""

    path: Path
    start: float = 0.0
    end: float | None = None


def output_kind(output: Path) -> str:
    """"folder" (no suffix, or an existing folder) or the output's suffix; anything else is an InputError."""
    suffix = output.suffix.lower()
    if output.is_dir() or not suffix:
        return "folder"
    if suffix in CONTAINERS or suffix in ANIMATIONS:
        return suffix
    raise InputError(f"--output {output}: a {suffix} file cannot hold the stylized video; use .mp4, .mov or .mkv "
                     f"(H.264), .webm (VP9), .gif or .webp (animated), or a folder (no suffix) for PNG frames")


def write_video(frames: Sequence[Path], output: Path, fps: Fraction, audio: AudioSource | None = None) -> None:
    """Encode the PNG ``frames`` into ``output`` at ``fps`` (atomically), with ``audio`` when given."""
    kind = output_kind(output)
    if kind in ANIMATIONS:
        _write_animation(frames, output, fps, ANIMATIONS[kind])
        return
    import av

    muxer, codec, options, muxer_options, audio_codec = CONTAINERS[kind]
    try:
        with atomic_write(output) as tmp, contextlib.ExitStack() as stack:
            container = stack.enter_context(av.open(str(tmp), "w", format=muxer, options=muxer_options))
            video = container.add_stream(codec, rate=fps, options=options)
            video.height, video.width = _even(_load(frames[0])).shape[:2]
            video.pix_fmt = "yuv420p"
            route = _audio_route(stack, container, audio, audio_codec) if audio is not None else None
            for index, path in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(_even(_load(path)), format="rgb24")
                frame.pts, frame.time_base = index, 1 / fps
                container.mux(video.encode(frame))
            container.mux(video.encode())
            if route is not None:
                _mux_audio(container, *route)
    except av.error.FFmpegError as exc:
        raise StylegramError(f"--output {output}: encoding failed ({' '.join(str(exc).split())[:200]})") from None


def _load(path: Path) -> np.ndarray:
    from ..images import load_image

    return np.round(load_image(path) * 255).astype(np.uint8)


def _even(frame: np.ndarray) -> np.ndarray:
    """yuv420p needs even sides: an odd side gains a copy of its last row or column."""
    height, width = frame.shape[:2]
    return np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")


def _write_animation(frames: Sequence[Path], output: Path, fps: Fraction, fmt: str) -> None:
    from PIL import Image

    images = [Image.fromarray(_load(path)) for path in frames]
    duration = round(1000 / fps)  # ms; GIF counts in 10 ms steps
    params = {"quality": 90} if fmt == "WEBP" else {"optimize": True}
    with atomic_write(output) as tmp:
        images[0].save(tmp, format=fmt, save_all=True, append_images=images[1:], duration=duration, loop=0, **params)


def _audio_route(stack: contextlib.ExitStack, container, audio: AudioSource, fallback_codec: str):
    """(source stream, output stream, copy?, span) for the input's first audio stream: copied where
    ``container`` takes its codec, else re-encoded with ``fallback_codec``."""
    import av

    source = stack.enter_context(av.open(str(audio.path)))
    in_stream = source.streams.audio[0]
    try:
        return in_stream, container.add_stream_from_template(in_stream), True, audio
    except ValueError:  # e.g. AAC into WebM
        rate = 48000 if fallback_codec == "libopus" else in_stream.rate
        return in_stream, container.add_stream(fallback_codec, rate=rate, layout=in_stream.layout.name), False, audio


def _mux_audio(container, in_stream, out_stream, copy: bool, span: AudioSource) -> None:
    """The source's audio packets within ``span``, shifted to start at 0: copied, or decoded and re-encoded."""
    base = in_stream.time_base
    first = round(span.start / base)
    last = round(span.end / base) if span.end is not None else None
    for packet in in_stream.container.demux(in_stream):
        if packet.pts is None or (span.start and packet.pts < first) or (last is not None and packet.pts >= last):
            continue
        if copy:
            packet.pts, packet.dts = packet.pts - first, (packet.dts - first) if packet.dts is not None else None
            packet.stream = out_stream
            container.mux(packet)
            continue
        for frame in packet.decode():
            frame.pts = None  # the encoder counts samples itself
            container.mux(out_stream.encode(frame))
    if not copy:
        container.mux(out_stream.encode())
