"""Optical flow between two frames (OpenCV), warping by it, and Ruder et al.'s reliability weights.

A flow field is H x W x 2 float32 (dx, dy): ``flow(a, b)`` says, for every pixel p of ``a``, where it is
in ``b`` (p + flow(p)). To bring frame t-1's stylized image to frame t, sample it at p + backward(p),
backward = ``flow(frame_t, frame_t-1)`` (``warp``). The default is DIS (dense inverse search) refined to
full resolution (OpenCV's medium preset starts at half resolution and misses small moving objects in small
frames): on the synthetic clip it was the most accurate of DIS, DIS-medium and Farnebäck at every size, at
a cost that is small next to a stylized frame's (docs/video.md, benchmarks/video_flow.py).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

FLOW_METHODS = ("dis", "dis-medium", "farneback")
DIS_REFINED = {"FinestScale": 0, "PatchSize": 6, "PatchStride": 2, "GradientDescentIterations": 50}
# Ruder, Dosovitskiy & Brox 2016, section 3.2 (their consistencyChecker's constants)
DISOCCLUSION_RELATIVE, DISOCCLUSION_ABSOLUTE = 0.01, 0.5
BOUNDARY_RELATIVE, BOUNDARY_ABSOLUTE = 0.01, 0.002


def grey(image: np.ndarray) -> np.ndarray:
    """H x W x 3 float [0, 1] or uint8 RGB -> H x W uint8 luminance, what OpenCV's flows take."""
    import cv2

    data = image if image.dtype == np.uint8 else np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(np.ascontiguousarray(data), cv2.COLOR_RGB2GRAY)


def optical_flow(source: np.ndarray, target: np.ndarray, method: str = "dis") -> np.ndarray:
    """Dense flow from ``source`` to ``target`` (RGB frames of one size): target(p + flow(p)) ~ source(p)."""
    import cv2

    a, b = grey(source), grey(target)
    if method in ("dis", "dis-medium"):
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        for name, value in DIS_REFINED.items() if method == "dis" else ():
            getattr(dis, f"set{name}")(value)
        return dis.calc(a, b, None)
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(a, b, None, pyr_scale=0.5, levels=4, winsize=15, iterations=3,
                                            poly_n=5, poly_sigma=1.1, flags=0)
    raise InputError(f"--flow must be one of {', '.join(FLOW_METHODS)}, got {method}")


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` sampled at p + flow(p) (bilinear; outside the frame: the nearest edge pixel)."""
    import cv2

    height, width = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(np.ascontiguousarray(image, dtype=np.float32), xs + flow[..., 0], ys + flow[..., 1],
                     interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def reliability(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Ruder et al.'s weights c for frame t (H x W float32, 0 or 1), from ``forward`` = flow(t-1 -> t) and
    ``backward`` = flow(t -> t-1).

    With w^ the backward flow and w~ the forward flow sampled where the backward flow points
    (w~(p) = forward(p + w^(p))): a pixel is disoccluded where |w~ + w^|^2 > 0.01 (|w~|^2 + |w^|^2) + 0.5
    (going there and back does not come home), and on a motion boundary where
    |grad u^|^2 + |grad v^|^2 > 0.01 |w^|^2 + 0.002. Both get 0, every other pixel 1. Pixels whose
    backward flow leaves the frame have no previous pixel and get 0 too.
    """
    there = warp(forward, backward)
    round_trip = np.sum((there + backward) ** 2, axis=-1)
    speeds = np.sum(there**2, axis=-1) + np.sum(backward**2, axis=-1)
    disoccluded = round_trip > DISOCCLUSION_RELATIVE * speeds + DISOCCLUSION_ABSOLUTE
    du_dy, du_dx = np.gradient(backward[..., 0])
    dv_dy, dv_dx = np.gradient(backward[..., 1])
    gradient = du_dx**2 + du_dy**2 + dv_dx**2 + dv_dy**2
    boundary = gradient > BOUNDARY_RELATIVE * np.sum(backward**2, axis=-1) + BOUNDARY_ABSOLUTE
    return ((~disoccluded) & (~boundary) & _inside(backward)).astype(np.float32)


def _inside(flow: np.ndarray) -> np.ndarray:
    height, width = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    x, y = xs + flow[..., 0], ys + flow[..., 1]
    return (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)


def endpoint_error(estimate: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean Euclidean distance between two flows (over ``mask`` when given)."""
    error = np.hypot(*(estimate - truth).transpose(2, 0, 1))
    return float(error[mask].mean() if mask is not None else error.mean())


def flows_between(previous: np.ndarray, current: np.ndarray, method: str = "dis") -> tuple[np.ndarray, np.ndarray]:
    """(backward, reliability) for frame ``current`` given the frame before it."""
    backward = optical_flow(current, previous, method)
    forward = optical_flow(previous, current, method)
    return backward, reliability(forward, backward)
