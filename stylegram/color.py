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


def match_colors(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """``style`` recoloured to ``content``'s RGB mean and covariance (Gatys et al. 2017, colour histogram
    matching): x' = A (x - mu_S) + mu_C with A = L_C L_S^-1, L the Cholesky factors of the covariances,
    so A Sigma_S A^T = Sigma_C. Not clipped: clipping would move the statistics (the network takes any value)."""
    s = style.reshape(-1, 3).astype(np.float64)
    c = content.reshape(-1, 3).astype(np.float64)
    mu_s, mu_c = s.mean(0), c.mean(0)
    ridge = 1e-7 * np.eye(3)  # a grey style image has a singular covariance
    l_s = np.linalg.cholesky(np.cov(s, rowvar=False, bias=True) + ridge)
    l_c = np.linalg.cholesky(np.cov(c, rowvar=False, bias=True) + ridge)
    a = l_c @ np.linalg.inv(l_s)
    return ((s - mu_s) @ a.T + mu_c).reshape(style.shape).astype(np.float32)


def color_stats(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RGB mean (3) and covariance (3 x 3) of an H x W x 3 image."""
    flat = rgb.reshape(-1, 3).astype(np.float64)
    return flat.mean(0), np.cov(flat, rowvar=False, bias=True)
