"""What an exported feature model is, stored in its ONNX ``metadata_props`` (no torch, no onnx).

The exporter writes these keys; the runtime reads them instead of guessing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import ModelFileError

PREFIX = "stylegram."
INPUT_NAME = "image"
DEFAULT_MODEL_PATH = Path("models/vgg19-avg.onnx")
DEFAULT_OPSET = 20
GRAM_NORMALIZATION = "F·Fᵀ/(C·H·W), features scaled by 1/sqrt(C)·1/sqrt(H)·1/sqrt(W) before the product"


def gram_output(layer: str) -> str:
    return f"gram_{layer}"


@dataclass(frozen=True)
class ModelInfo:
    version: str  # stylegram version that exported the model
    weights_name: str
    weights_sha256: str
    pooling: str
    preprocessing: str  # JSON of the weights' Preprocessing
    content_layers: tuple[str, ...]
    style_layers: tuple[str, ...]
    gram: bool  # gram_<layer> outputs present
    gram_normalization: str
    opset: int
    dtype: str  # "float32" or "float16" (compute precision; inputs/outputs are always float32)

    def to_props(self) -> dict[str, str]:
        props = {}
        for key, value in asdict(self).items():
            if isinstance(value, tuple):
                value = ",".join(value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            props[PREFIX + key] = str(value)
        return props

    @classmethod
    def from_props(cls, props: dict[str, str], *, source: str) -> "ModelInfo":
        try:
            raw = {key: props[PREFIX + key] for key in cls.__dataclass_fields__}
            return cls(
                version=raw["version"], weights_name=raw["weights_name"], weights_sha256=raw["weights_sha256"],
                pooling=raw["pooling"], preprocessing=raw["preprocessing"],
                content_layers=tuple(filter(None, raw["content_layers"].split(","))),
                style_layers=tuple(filter(None, raw["style_layers"].split(","))),
                gram=raw["gram"] == "true", gram_normalization=raw["gram_normalization"],
                opset=int(raw["opset"]), dtype=raw["dtype"],
            )
        except (KeyError, ValueError) as exc:
            raise ModelFileError(f"model {source}: not a stylegram feature model (metadata {exc} missing or invalid); "
                                 "make one with: stylegram export") from None

    @classmethod
    def describe(cls, weights, *, content_layers: tuple[str, ...], style_layers: tuple[str, ...], pool: str,
                 gram: bool = True, opset: int = DEFAULT_OPSET, fp16: bool = False) -> "ModelInfo":
        """The metadata an export of ``weights`` with these options carries (also the cache keys' fingerprint).

        Plain values in, so building a cache key needs neither torch's exporter nor ``onnx``.
        """
        from . import __version__

        return cls(version=__version__, weights_name=weights.name, weights_sha256=weights.sha256, pooling=pool,
                   preprocessing=json.dumps(asdict(weights.preprocessing), sort_keys=True),
                   content_layers=tuple(content_layers), style_layers=tuple(style_layers), gram=gram,
                   gram_normalization=GRAM_NORMALIZATION, opset=opset, dtype="float16" if fp16 else "float32")

    def fingerprint(self) -> str:
        """What the model computes, for cache keys: weights, layers, pooling, normalization, precision."""
        return json.dumps({
            "weights_sha256": self.weights_sha256, "pooling": self.pooling, "preprocessing": self.preprocessing,
            "style_layers": list(self.style_layers), "gram_normalization": self.gram_normalization,
            "dtype": self.dtype,
        }, sort_keys=True)
