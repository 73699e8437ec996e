"""Models exported on demand into ``home()/models``: one file per weights, layers, pooling and precision."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from ..fileio import file_lock
from ..home import home
from ..modelinfo import DEFAULT_OPSET
from ..settings import StylizeSettings
from .onnx_export import ExportOptions, export_model

log = logging.getLogger("stylegram.export")


def export_options(settings: StylizeSettings, *, fp16: bool = False) -> ExportOptions:
    return ExportOptions(content_layers=settings.content_layers, style_layers=settings.style_layers,
                         pool=settings.pool, weights=settings.weights, fp16=fp16)


def managed_model(settings: StylizeSettings, weights, *, fp16: bool = False) -> Path:
    """The exported model for these settings in ``home()/models``, exported once when missing."""
    from .. import __version__

    tag = json.dumps({"v": __version__, "sha": weights.sha256, "c": settings.content_layers,
                      "s": settings.style_layers, "p": settings.pool, "o": DEFAULT_OPSET, "fp16": fp16}, sort_keys=True)
    name = f"vgg19-{settings.pool}{'-fp16' if fp16 else ''}-{hashlib.sha256(tag.encode()).hexdigest()[:16]}.onnx"
    path = home() / "models" / name
    if not path.is_file():
        with file_lock(path.with_suffix(".lock")):  # concurrent first runs export once
            if not path.is_file():
                log.info("exporting the feature model for these settings to %s (once)", path)
                export_model(path, export_options(settings, fp16=fp16), force=True)
    return path
