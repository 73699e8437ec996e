"""Luminance-only style transfer helpers (Gatys et al. 2016, "Preserving Color"), numpy only."""

from __future__ import annotations

import numpy as np

# RGB -> YIQ (NTSC); rows are Y, I, Q.
RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]],
    dtype=np.float32,
)
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ).astype(np.float32)


def to_yiq(rgb: np.ndarray) -> np.ndarray:
    return rgb @ RGB_TO_YIQ.T


def to_rgb(yiq: np.ndarray) -> np.ndarray:
    return yiq @ YIQ_TO_RGB.T


def luminance_image(rgb: np.ndarray, *, match: np.ndarray | None = None) -> np.ndarray:
    """Grey RGB image of ``rgb``'s luminance; with ``match``, its mean/std matched to ``match``'s luminance."""
    lum = to_yiq(rgb)[..., 0]
    if match is not None:
        ref = to_yiq(match)[..., 0]
        lum = (lum - lum.mean()) / (lum.std() + 1e-6) * ref.std() + ref.mean()
    return np.repeat(np.clip(lum, 0.0, 1.0)[..., None], 3, axis=-1)


def recolor(result: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Luminance of ``result`` with the colour (I, Q) of ``content``."""
    yiq = to_yiq(content)
    yiq[..., 0] = to_yiq(result)[..., 0]
    return np.clip(to_rgb(yiq), 0.0, 1.0)
