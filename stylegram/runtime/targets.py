"""Fixed targets from an exported model: content features and (cached) style Grams. No torch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ModelFileError
from ..fileio import sha256_file
from ..guides import layer_guides, numpy_guided_gram
from ..modelinfo import ModelInfo, gram_output
from ..sizing import load_style_image
from .cache import CacheKey, GramCache
from .sessions import FeatureSession


@dataclass(frozen=True)
class StyleTargets:
    grams: dict[str, np.ndarray]  # layer -> C x C
    cache_hit: bool


def check_model_matches(info: ModelInfo, path: Path, *, content_layers: Sequence[str], style_layers: Sequence[str],
                        pool: str, weights_sha256: str | None = None) -> None:
    """Refuse a model built for other layers, pooling or weights than the caller's."""
    problems = []
    if not set(content_layers) <= set(info.content_layers) | set(info.style_layers):
        problems.append(f"content layers {','.join(content_layers)} not in model ({','.join(info.content_layers)})")
    if tuple(style_layers) != tuple(info.style_layers):
        problems.append(f"style layers {','.join(style_layers)} differ from the model's {','.join(info.style_layers)}")
    if pool != info.pooling:
        problems.append(f"pooling {pool} differs from the model's {info.pooling}")
    if weights_sha256 is not None and weights_sha256 != info.weights_sha256:
        problems.append(f"weights {weights_sha256[:12]}… differ from the model's {info.weights_sha256[:12]}…")
    if problems:
        raise ModelFileError(f"model {path}: built for other settings: {'; '.join(problems)}")


def numpy_gram(features: np.ndarray) -> np.ndarray:
    """Gram matrix with the loss's normalization, for models exported without gram outputs."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w).astype(np.float32) * np.float32(c**-0.5 * h**-0.5 * w**-0.5)
    return flat @ flat.transpose(0, 2, 1)


def to_batch(rgb: np.ndarray) -> np.ndarray:
    """H x W x 3 image -> 1 x 3 x H x W float32."""
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32)


def image_grams(session: FeatureSession, rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Style Grams (C x C) of one H x W x 3 image, asking the session only for what is needed."""
    layers = session.info.style_layers
    if session.info.gram:
        out = session.run(to_batch(rgb), [gram_output(n) for n in layers])
        return {n: out[gram_output(n)][0] for n in layers}
    out = session.run(to_batch(rgb), list(layers))
    return {n: numpy_gram(out[n])[0] for n in layers}


def content_features(session: FeatureSession, rgb: np.ndarray, layers: Sequence[str]) -> dict[str, np.ndarray]:
    """Content features (1 x C x h x w) of one H x W x 3 image."""
    return session.run(to_batch(rgb), list(layers))


def guided_image_grams(session: FeatureSession, rgb: np.ndarray, mask: np.ndarray, guide: str) -> dict[str, np.ndarray]:
    """Guided style Grams (``guides.py``) of one image under ``mask`` (its size): the model's feature
    outputs, the guide applied here, outside the graph (the exported model and its Gram outputs unchanged)."""
    layers = session.info.style_layers
    out = session.run(to_batch(rgb), list(layers))
    guides = layer_guides(mask, layers, guide)
    return {n: numpy_guided_gram(out[n], guides[n]) for n in layers}


def style_mask_id(mask_path: str | Path, guide: str) -> str:
    """What a style mask adds to a cache key: the mask file's sha256 and the guide."""
    return f"{sha256_file(Path(mask_path))}:{guide}"


def style_cache_key(image_path: Path, size: int, style_scale: float, info: ModelInfo, style_mask: str = "") -> CacheKey:
    return CacheKey(sha256_file(image_path), size, float(style_scale), info.fingerprint(), style_mask)


def style_targets(session: FeatureSession, image_path: str | Path, *, size: int, style_scale: float = 1.0,
                  cache: GramCache | None = None, rgb: np.ndarray | None = None,
                  mask: np.ndarray | None = None, mask_id: str = "", guide: str = "simple") -> StyleTargets:
    """Grams of a style image resized so its long edge is ``size * style_scale``, through the cache.

    ``rgb`` may pass the already loaded and resized image; it is only used on a cache miss. ``mask``
    (a style mask at ``rgb``'s size, which it then needs; ``mask_id`` from ``style_mask_id``) makes them
    guided Grams of that part of the image.
    """
    image_path = Path(image_path)
    key = style_cache_key(image_path, size, style_scale, session.info, mask_id) if cache is not None else None

    def compute() -> dict[str, np.ndarray]:
        image = rgb if rgb is not None else load_style_image(image_path, size=size, style_scale=style_scale,
                                                             style_layers=session.info.style_layers)
        return image_grams(session, image) if mask is None else guided_image_grams(session, image, mask, guide)

    if cache is None:
        return StyleTargets(compute(), False)
    grams, hit = cache.get_or_compute(key, session.info.style_layers, compute, image_name=image_path.name)
    return StyleTargets(grams, hit)

