"""Fixed targets for the stylize loop: from ONNX Runtime (default) or PyTorch, through the Gram cache.

Both engines produce the same numbers (checked by the export's parity run and by tests);
ONNX Runtime is faster on CPU and lets style Grams be shared with servers through the cache.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .errors import InputError
from .guides import guide_mass, layer_guides, numpy_guided_gram
from .losses import gram_matrix
from .model import VGG19Features
from .modelinfo import ModelInfo
from .settings import StylizeSettings
from .tensor_images import to_tensor
from .weights import Weights


@dataclass
class Targets:
    """Fixed targets: content features and (blended) style Gram matrices, by layer name."""

    content: dict[str, torch.Tensor]
    style: dict[str, torch.Tensor]
    engine: str = "torch"
    style_cache: list[str] = field(default_factory=list)  # "hit" / "miss" / "off" per style image
    regions: list["Region"] = field(default_factory=list)  # with --masks: one per style image, instead of ``style``


@dataclass
class Region:
    """One content mask's style term (``guides.py``): its own style's Grams against the guided Grams
    of the image under ``guides`` (1 x 1 x h x w per layer, with ``masses`` ΣT²), weighted ``weight``."""

    weight: float
    grams: dict[str, torch.Tensor]
    guides: dict[str, torch.Tensor]
    masses: dict[str, float]


def choose_engine(choice: str) -> str:
    """``auto``: ONNX Runtime when installed, else PyTorch; ``server`` asks ``settings.server``."""
    if choice == "auto":
        return "ort" if importlib.util.find_spec("onnxruntime") else "torch"
    if choice == "ort" and importlib.util.find_spec("onnxruntime") is None:
        raise InputError("--targets ort: onnxruntime is not installed (pip install 'stylegram[runtime]')")
    return choice


def torch_grams(model: VGG19Features, image: torch.Tensor, layers: Sequence[str]) -> dict[str, np.ndarray]:
    with torch.no_grad():
        features = model(image)
    return {n: gram_matrix(features[n])[0].cpu().numpy() for n in layers}


def compute_targets(settings: StylizeSettings, size: int, weights: Weights, model: VGG19Features,
                    work_rgb: np.ndarray, style_paths: Sequence[Path], style_rgbs: Sequence[np.ndarray],
                    blend: Sequence[float], device: torch.device, *, masks: Sequence[np.ndarray] | None = None,
                    style_masks: Sequence[np.ndarray] | None = None) -> Targets:
    """Content features of ``work_rgb`` and the blended style Grams for a scale of long edge ``size``,
    with ORT or torch, through the cache (keyed by ``size``, as ``cache add`` keys them). With content
    ``masks`` the styles are not blended but each is a ``Region``; ``style_masks`` (at the style
    images' sizes) make the style targets guided Grams."""
    from .runtime.cache import GramCache
    from .runtime.targets import style_mask_id

    engine = choose_engine(settings.targets)
    # luminance-only and colour-matched styles depend on the content image, so they are never cached
    cache = GramCache() if settings.cache and settings.colors == "keep" else None
    mask_ids = [style_mask_id(m, settings.guide) for m in settings.style_masks] if style_masks else None
    if engine in ("ort", "server"):
        session = _ort_session(settings, weights) if engine == "ort" else _server_session(settings, weights)
        grams, content, hits = _session_targets(session, settings, size, work_rgb, style_paths, style_rgbs, cache,
                                                (style_masks, mask_ids))
    else:
        grams, content, hits = _torch_targets(settings, size, weights, model, work_rgb, style_paths, style_rgbs,
                                              cache, device, (style_masks, mask_ids))
    as_tensor = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32), device=device)  # noqa: E731
    if masks is not None:
        regions = [_region(w, g, m, settings, as_tensor) for w, g, m in zip(blend, grams, masks)]
        return Targets({n: as_tensor(v) for n, v in content.items()}, {}, engine, hits, regions)
    blended = {n: sum(w * g[n] for w, g in zip(blend, grams)) for n in settings.style_layers}
    return Targets({n: as_tensor(v) for n, v in content.items()},
                   {n: as_tensor(v)[None] for n, v in blended.items()}, engine, hits)


def _ort_session(settings, weights):
    from .export.managed import managed_model
    from .runtime.sessions import SessionConfig, shared_session
    from .runtime.targets import check_model_matches

    path = Path(settings.model) if settings.model else managed_model(settings, weights)
    # ONNX Runtime ignores OMP_NUM_THREADS and sizes its pool to the host: give it the run's thread budget,
    # so a process limited to k threads (a batch worker) stays within k cores
    # ... and its memory back after each run: the loop needs it (``SessionConfig.release_memory``)
    session = shared_session(path, SessionConfig.for_device(settings.device, threads=settings.threads,
                                                            release_memory=True))
    check_model_matches(session.info, path, content_layers=settings.content_layers,
                        style_layers=settings.style_layers, pool=settings.pool, weights_sha256=weights.sha256)
    return session


def _server_session(settings, weights):
    """The server's model, checked before its numbers are used: same weights, layers, pooling, normalization."""
    import json
    from dataclasses import asdict

    from .serve.client import ServerSession, check_server_model

    session = ServerSession(settings.server, model_name=settings.server_model)
    check_server_model(session.info, settings.server, content_layers=settings.content_layers,
                       style_layers=settings.style_layers, pool=settings.pool, weights_sha256=weights.sha256,
                       preprocessing=json.dumps(asdict(weights.preprocessing), sort_keys=True))
    return session


def _region(weight: float, grams: dict, mask: np.ndarray, settings: StylizeSettings, as_tensor) -> Region:
    guides = layer_guides(mask, settings.style_layers, settings.guide)
    return Region(weight, {n: as_tensor(grams[n])[None] for n in settings.style_layers},
                  {n: as_tensor(g)[None, None] for n, g in guides.items()},
                  {n: guide_mass(g) for n, g in guides.items()})


def _session_targets(session, settings, size, work_rgb, style_paths, style_rgbs, cache, style_masks):
    """Style Grams (through the cache) and content features from an ONNX Runtime or server session."""
    from .runtime.targets import content_features, style_targets

    masks, ids = style_masks if style_masks[0] is not None else ([None] * len(style_paths), [""] * len(style_paths))
    results = [style_targets(session, p, size=size, style_scale=settings.style_scale, cache=cache, rgb=rgb,
                             mask=m, mask_id=i, guide=settings.guide)
               for p, rgb, m, i in zip(style_paths, style_rgbs, masks, ids)]
    hits = [("hit" if r.cache_hit else "miss") if cache else "off" for r in results]
    return [r.grams for r in results], content_features(session, work_rgb, settings.content_layers), hits


def _torch_targets(settings, size, weights, model, work_rgb, style_paths, style_rgbs, cache, device, style_masks):
    from .runtime.targets import style_cache_key

    info = ModelInfo.describe(weights, content_layers=settings.content_layers, style_layers=settings.style_layers,
                              pool=settings.pool)
    masks, ids = style_masks if style_masks[0] is not None else ([None] * len(style_paths), [""] * len(style_paths))
    grams, hits = [], []
    for path, rgb, mask, mask_id in zip(style_paths, style_rgbs, masks, ids):
        def compute(rgb=rgb, mask=mask) -> dict[str, np.ndarray]:
            if mask is None:
                return torch_grams(model, to_tensor(rgb, device), settings.style_layers)
            with torch.no_grad():
                features = model(to_tensor(rgb, device))
            guides = layer_guides(mask, settings.style_layers, settings.guide)
            return {n: numpy_guided_gram(features[n].float().cpu().numpy(), guides[n]) for n in settings.style_layers}

        if cache is None:
            grams.append(compute())
            hits.append("off")
            continue
        key = style_cache_key(Path(path), size, settings.style_scale, info, mask_id)
        found, hit = cache.get_or_compute(key, settings.style_layers, compute, image_name=Path(path).name)
        grams.append(found)
        hits.append("hit" if hit else "miss")
    with torch.no_grad():
        features = model(to_tensor(work_rgb, device))
    return grams, {n: features[n].cpu().numpy() for n in settings.content_layers}, hits
