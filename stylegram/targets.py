"""Fixed targets for the stylize loop: from ONNX Runtime (default) or PyTorch, through the Gram cache.

Both engines produce the same numbers (checked by the export's parity run and by tests);
ONNX Runtime is faster on CPU and lets style Grams be shared with servers through the cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .errors import InputError
from .export.onnx_export import ExportOptions, export_model, model_info
from .fileio import file_lock
from .home import home
from .losses import gram_matrix
from .model import VGG19Features
from .modelinfo import ModelInfo
from .settings import StylizeSettings
from .weights import Weights

log = logging.getLogger("stylegram.targets")


@dataclass
class Targets:
    """Fixed targets: content features and (blended) style Gram matrices, by layer name."""

    content: dict[str, torch.Tensor]
    style: dict[str, torch.Tensor]
    engine: str = "torch"
    style_cache: list[str] = field(default_factory=list)  # "hit" / "miss" / "off" per style image


def choose_engine(choice: str) -> str:
    if choice == "auto":
        return "ort" if importlib.util.find_spec("onnxruntime") else "torch"
    if choice == "ort" and importlib.util.find_spec("onnxruntime") is None:
        raise InputError("--targets ort: onnxruntime is not installed (pip install 'stylegram[runtime]')")
    return choice


def export_options(s: StylizeSettings, *, fp16: bool = False) -> ExportOptions:
    return ExportOptions(content_layers=s.content_layers, style_layers=s.style_layers, pool=s.pool, weights=s.weights,
                         fp16=fp16)


def managed_model(s: StylizeSettings, weights: Weights, *, fp16: bool = False) -> Path:
    """The exported model for these settings in ``home()/models``, exported once when missing."""
    options = export_options(s, fp16=fp16)
    from . import __version__

    tag = json.dumps({"v": __version__, "sha": weights.sha256, "c": options.content_layers, "s": options.style_layers,
                      "p": options.pool, "o": options.opset, "fp16": fp16}, sort_keys=True)
    name = f"vgg19-{s.pool}{'-fp16' if fp16 else ''}-{hashlib.sha256(tag.encode()).hexdigest()[:16]}.onnx"
    path = home() / "models" / name
    if not path.is_file():
        with file_lock(path.with_suffix(".lock")):  # concurrent first runs export once
            if not path.is_file():
                log.info("exporting the feature model for these settings to %s (once)", path)
                export_model(path, options, force=True)
    return path


def torch_grams(model: VGG19Features, image: torch.Tensor, layers: Sequence[str]) -> dict[str, np.ndarray]:
    with torch.no_grad():
        features = model(image)
    return {n: gram_matrix(features[n])[0].cpu().numpy() for n in layers}


def compute_targets(s: StylizeSettings, weights: Weights, model: VGG19Features, work_rgb: np.ndarray,
                    style_paths: Sequence[Path], style_rgbs: Sequence[np.ndarray], blend: Sequence[float],
                    device: torch.device) -> Targets:
    """Content features of ``work_rgb`` and the blended style Grams, with ORT or torch, cached."""
    from .runtime.cache import GramCache

    engine = choose_engine(s.targets)
    cache = GramCache() if s.cache and not s.original_colors else None  # luminance styles depend on the content
    if engine == "ort":
        grams, content, hits = _ort_targets(s, weights, work_rgb, style_paths, style_rgbs, cache)
    else:
        grams, content, hits = _torch_targets(s, weights, model, work_rgb, style_paths, style_rgbs, cache, device)
    blended = {n: sum(w * g[n] for w, g in zip(blend, grams)) for n in s.style_layers}
    as_tensor = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32), device=device)  # noqa: E731
    return Targets({n: as_tensor(v) for n, v in content.items()},
                   {n: as_tensor(v)[None] for n, v in blended.items()}, engine, hits)


def _ort_targets(s, weights, work_rgb, style_paths, style_rgbs, cache):
    from .runtime.sessions import Provider, SessionConfig, shared_session
    from .runtime.targets import check_model_matches, content_features, style_targets

    path = Path(s.model) if s.model else managed_model(s, weights)
    provider = Provider.CPU if s.device == "cpu" else Provider.AUTO
    fs = shared_session(path, SessionConfig(provider=provider))
    check_model_matches(fs.info, path, content_layers=s.content_layers, style_layers=s.style_layers,
                        pool=s.pool, weights_sha256=weights.sha256)
    results = [style_targets(fs, p, size=s.size, style_scale=s.style_scale, cache=cache, rgb=rgb)
               for p, rgb in zip(style_paths, style_rgbs)]
    hits = [("hit" if r.cache_hit else "miss") if cache else "off" for r in results]
    return [r.grams for r in results], content_features(fs, work_rgb, s.content_layers), hits


def _torch_targets(s, weights, model, work_rgb, style_paths, style_rgbs, cache, device):
    from .runtime.targets import style_cache_key

    info: ModelInfo = model_info(export_options(s), weights)
    grams, hits = [], []
    for path, rgb in zip(style_paths, style_rgbs):
        def compute(rgb=rgb) -> dict[str, np.ndarray]:
            return torch_grams(model, _batch(rgb, device), s.style_layers)

        if cache is None:
            grams.append(compute())
            hits.append("off")
            continue
        key = style_cache_key(Path(path), s.size, s.style_scale, info)
        found, hit = cache.get_or_compute(key, s.style_layers, compute, image_name=Path(path).name)
        grams.append(found)
        hits.append("hit" if hit else "miss")
    with torch.no_grad():
        features = model(_batch(work_rgb, device))
    return grams, {n: features[n].cpu().numpy() for n in s.content_layers}, hits


def _batch(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None].to(device)
