"""A synthetic clip with known motion, for the tests and the benchmarks.

Shot 1: a window panning across one photo by ``pan`` px per frame; shot 2 (after a hard cut): a window
panning across another photo the other way. In both, a solid disc moves against the background, so the
disc covers and uncovers background (occlusions) and its edge is a motion boundary. Every frame's true
backward flow (frame t -> frame t-1) is known; the first frame of each shot has none. The disc carries a
texture (a patch of the other photo, tinted), since a flow method cannot see a uniform disc move.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DISC_TINT = np.float32((230, 40, 40))


@dataclass(frozen=True)
class TestClip:
    frames: list[np.ndarray]  # H x W x 3 uint8
    cuts: list[int]  # indices of the frames that start a new shot (after the first)
    backward_flow: list[np.ndarray | None]  # H x W x 2 (dx, dy): where each pixel of frame t was in frame t-1


def _photo(path: Path, long_edge: int) -> np.ndarray:
    with Image.open(path) as image:
        image = image.convert("RGB")
        scale = long_edge / max(image.size)
        size = (round(image.size[0] * scale), round(image.size[1] * scale))
        return np.asarray(image.resize(size, Image.Resampling.LANCZOS), dtype=np.float32)


def _window(photo: np.ndarray, x: float, y: float, width: int, height: int) -> np.ndarray:
    """The ``width`` x ``height`` window of ``photo`` whose top left corner is at (x, y), bilinear."""
    import cv2

    shift = np.float32([[1, 0, x], [0, 1, y]])
    return cv2.warpAffine(photo, shift, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT)


def _disc_mask(height: int, width: int, centre: tuple[float, float], radius: float) -> np.ndarray:
    """Anti-aliased coverage (0..1) of a disc."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    distance = np.hypot(xs - centre[0], ys - centre[1])
    return np.clip(radius + 0.5 - distance, 0.0, 1.0)


def _shot(photo: np.ndarray, texture: np.ndarray, count: int, size: tuple[int, int], origin: tuple[float, float],
          pan: tuple[float, float], disc: tuple[float, float], disc_velocity: tuple[float, float]):
    width, height = size
    radius = height / 7
    frames, flows = [], []
    for t in range(count):
        background = _window(photo, origin[0] + pan[0] * t, origin[1] + pan[1] * t, width, height)
        centre = (disc[0] + disc_velocity[0] * t, disc[1] + disc_velocity[1] * t)
        cover = _disc_mask(height, width, centre, radius)[..., None]
        skin = 0.5 * _window(texture, texture.shape[1] / 2 - centre[0], texture.shape[0] / 2 - centre[1], width,
                             height) + 0.5 * DISC_TINT  # moves with the disc
        frame = background * (1 - cover) + skin * cover
        frames.append(np.clip(frame + 0.5, 0, 255).astype(np.uint8))
        flow = np.empty((height, width, 2), np.float32)
        flow[...] = pan  # the background point at p was at p + pan in the frame before
        flow[cover[..., 0] > 0.5] = (-disc_velocity[0], -disc_velocity[1])
        flows.append(flow if t else None)
    return frames, flows


def make_test_clip(width: int = 96, height: int = 64, first: int = 6, second: int = 4,
                   pan: tuple[float, float] = (3.0, 1.0)) -> TestClip:
    """``first`` frames of tubingen.jpg, a hard cut, ``second`` frames of starry_night.jpg (examples/)."""
    scale = 3.5 * width
    tubingen, starry_night = (_photo(EXAMPLES / name, round(scale)) for name in ("tubingen.jpg", "starry_night.jpg"))
    shot1 = _shot(tubingen, starry_night, first, (width, height),
                  origin=(0.35 * scale, 0.25 * scale), pan=pan, disc=(0.25 * width, 0.3 * height),
                  disc_velocity=(3.0, 2.0))
    shot2 = _shot(starry_night, tubingen, second, (width, height),
                  origin=(0.5 * scale, 0.2 * scale), pan=(-pan[0], pan[1]), disc=(0.7 * width, 0.6 * height),
                  disc_velocity=(-2.0, -1.0))
    return TestClip(shot1[0] + shot2[0], [first], shot1[1] + shot2[1])


def write_clip(frames: list[np.ndarray], path: Path, fps: int = 10, *, audio_hz: float | None = None) -> Path:
    """Encode ``frames`` as H.264 (nearly lossless) in ``path``; with ``audio_hz``, add a mono AAC sine tone
    as long as the clip."""
    from fractions import Fraction

    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=Fraction(fps), options={"crf": "1"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=16000, layout="mono") if audio_hz else None
        for frame in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(video.encode())
        if audio is not None:
            _write_tone(container, audio, audio_hz, len(frames) / fps)
    return path


def _write_tone(container, stream, hz: float, seconds: float) -> None:
    import av

    rate, block = 16000, 1024
    samples = (0.3 * np.sin(2 * np.pi * hz * np.arange(round(rate * seconds)) / rate)).astype(np.float32)[None]
    for start in range(0, samples.shape[1], block):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start:start + block]), format="fltp",
                                           layout="mono")
        frame.sample_rate, frame.pts = rate, start
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
