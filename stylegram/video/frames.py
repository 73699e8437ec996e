"""The work folder beside the output (``OUTPUT.frames/``): input frames, finished frames and their keys.

``input/NNNNNN.png`` holds source frame N as decoded (lossless, with its pixels' sha256); ``NNNNNN.png``
is stylized frame N, written atomically when it is finished, with its recipe: stylize's recipe plus a
``video`` record (the frame's key, shot, input sha256, previous output's sha256, temporal weight).

A frame is done when its file exists and carries the key it would get now. The key hashes what decides
the frame: the settings of its role (first in its shot, or later), the styles' and weights' identity,
its input pixels, the temporal weight and flow method, and the previous frame's key, so a change to
one frame recomputes every frame after it in its shot, and nothing else. As in ``batch`` (whose
``weights_id`` it reuses), ``threads`` and ``memory`` are left out: they say how, not what.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..settings import StylizeSettings
from .settings import VideoSettings

KEY_VERSION = "stylegram-video-1"  # bump when the per-frame computation changes
NOT_IN_KEY = ("threads", "memory")


@dataclass(frozen=True)
class Frame:
    index: int  # in the source clip
    shot: int  # 0-based
    input: Path  # the source frame as a PNG in the work folder
    input_sha256: str
    output: Path  # the stylized frame in the work folder
    key: str
    previous: "Frame | None"  # the frame before in this shot (None: the shot's first)


def work_folder(output: Path) -> Path:
    return output.with_name(f"{output.name}.frames")


def pixels_sha256(frame: np.ndarray) -> str:
    """sha256 of an H x W x 3 uint8 frame's pixels (and shape): the same however the file was encoded."""
    digest = hashlib.sha256(f"{frame.shape[1]}x{frame.shape[0]}:".encode())
    digest.update(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
    return digest.hexdigest()


def store_input(frame: np.ndarray, index: int, work: Path) -> tuple[Path, str]:
    """Write source frame ``index`` into ``work/input`` unless it is there with these pixels; (path, sha256)."""
    from ..images import read_recipe, save_image

    path, digest = work / "input" / f"{index:06d}.png", pixels_sha256(frame)
    try:
        stored = (read_recipe(path) or {}).get("sha256")
    except Exception:  # missing or unreadable: write it
        stored = None
    if stored != digest:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(frame.astype(np.float32) / 255.0, path, recipe={"sha256": digest, "frame": index})
    return path, digest


def _role_identity(settings: StylizeSettings, styles: Sequence[Path], styles_sha256: Sequence[str]) -> dict:
    from ..batch.identity import weights_id

    return {"settings": {k: v for k, v in settings.as_dict().items() if k not in NOT_IN_KEY},
            "styles": list(styles_sha256), "weights": list(weights_id(settings.weights))}


def plan_frames(inputs: Sequence[tuple[int, Path, str]], shot_starts: set[int], styles: Sequence[Path],
                video: VideoSettings, work: Path) -> list[Frame]:
    """One ``Frame`` per (index, input path, sha256), in order, with its shot and key chain."""
    from ..fileio import file_digest

    styles_sha256 = [file_digest(Path(p)) for p in styles]
    first = _role_identity(video.first, styles, styles_sha256)
    later = _role_identity(video.later, styles, styles_sha256) | {"temporal_weight": video.temporal_weight,
                                                                    "flow": video.flow}
    frames: list[Frame] = []
    shot = -1
    for position, (index, path, digest) in enumerate(inputs):
        starts = position == 0 or index in shot_starts
        shot += starts
        previous = None if starts else frames[-1]
        data = {"version": KEY_VERSION, "input": digest, "role": first if starts else later,
                "previous": previous.key if previous else None}
        key = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        frames.append(Frame(index, shot, path, digest, work / f"{index:06d}.png", key, previous))
    return frames


def is_done(frame: Frame) -> bool:
    """The frame's file exists and was made for exactly this key."""
    from ..images import read_recipe

    try:
        return (read_recipe(frame.output) or {}).get("video", {}).get("key") == frame.key
    except Exception:  # missing, unreadable, or without a recipe: not done
        return False


def frame_recipe(frame: Frame, recipe: dict, video: VideoSettings, previous_sha256: str | None) -> dict:
    """stylize's recipe for this frame plus the ``video`` record that identifies it."""
    later = frame.previous is not None
    return recipe | {"video": {
        "key": frame.key, "frame": frame.index, "shot": frame.shot, "input_sha256": frame.input_sha256,
        "previous_sha256": previous_sha256, "temporal_weight": video.temporal_weight if later else 0.0,
        "flow": video.flow if later else None, "start": "warped previous frame" if later else "content"}}


def shots_of(frames: Sequence[Frame]) -> list[list[Frame]]:
    """``frames`` grouped by shot, in order."""
    shots: dict[int, list[Frame]] = {}
    for frame in frames:
        shots.setdefault(frame.shot, []).append(frame)
    return list(shots.values())
