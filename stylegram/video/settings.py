"""How the frames of a clip are stylized: the first frame of each shot, and every later frame.

Later frames start from the previous frame warped into them, so they need fewer iterations and no
coarse-to-fine schedule: by default they run one scale at full size with a quarter of ``--iterations``
(plus the ``--tol`` stop), with the temporal term at weight DEFAULT_TEMPORAL_WEIGHT. Both were chosen by
measurement (benchmarks/video_flicker.py, docs/video.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..errors import InputError
from ..settings import StylizeSettings

DEFAULT_TEMPORAL_WEIGHT = 30.0  # 128 px: flicker 0.22x of frame by frame; 10: 0.35x, 100: 0.12x (docs/video.md)
LATER_FRACTION = 0.25  # of --iterations, for a frame that starts from the warped previous one


@dataclass(frozen=True)
class VideoSettings:
    """``first`` for the first frame of each shot, ``later`` for the rest (warm start, temporal term of
    ``temporal_weight``, optical flow by ``flow``)."""

    first: StylizeSettings
    later: StylizeSettings
    temporal_weight: float = DEFAULT_TEMPORAL_WEIGHT
    flow: str = "dis"

    def __post_init__(self) -> None:
        if not (self.temporal_weight >= 0 and math.isfinite(self.temporal_weight)):
            raise InputError(f"--temporal-weight must be >= 0, got {self.temporal_weight}")


def later_settings(first: StylizeSettings, iterations: int | None = None) -> StylizeSettings:
    """A later frame's settings: ``first`` at one scale with ``iterations`` (default: LATER_FRACTION of
    ``first.iterations``)."""
    if iterations is not None and iterations <= 0:
        raise InputError(f"--later-iterations must be positive, got {iterations}")
    bound = iterations or max(1, math.ceil(first.iterations * LATER_FRACTION))
    return replace(first, iterations=bound, scales=1, iterations_per_scale=None)


def video_settings(first: StylizeSettings, *, temporal_weight: float = DEFAULT_TEMPORAL_WEIGHT,
                   later_iterations: int | None = None, flow: str = "dis") -> VideoSettings:
    from .flow import FLOW_METHODS

    if flow not in FLOW_METHODS:
        raise InputError(f"--flow must be one of {', '.join(FLOW_METHODS)}, got {flow}")
    return VideoSettings(first, later_settings(first, later_iterations), temporal_weight, flow)
