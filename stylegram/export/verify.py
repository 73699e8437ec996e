"""Checks an exported model must pass before it is written: structure, parity, fp16 range."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np

from ..errors import ExportError, InputError
from ..images import load_image
from ..modelinfo import INPUT_NAME, gram_output

PARITY_SIZES = ((48, 64), (128, 96))  # (height, width): one landscape, one portrait


def structural_check(proto) -> None:
    """``onnx.checker`` with full check (includes strict shape inference)."""
    import onnx

    try:
        onnx.checker.check_model(proto, full_check=True)
        onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ExportError(f"exported model failed the ONNX checker: {str(exc).splitlines()[0][:200]}") from None


def sample_image(path: str | Path | None, height: int, width: int) -> np.ndarray:
    """N x C x H x W float32 of a real photo (the packaged sample unless ``path`` is given)."""
    source = Path(path) if path else importlib.resources.files("stylegram") / "data" / "sample.jpg"
    return load_image(source, size=(width, height), what="verification image").transpose(2, 0, 1)[None].copy()


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """Largest absolute difference relative to the largest magnitude of ``expected``."""
    scale = float(np.abs(expected).max()) or 1.0
    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    return float(diff.max() / scale) if np.isfinite(actual).all() else float("inf")


def check_parity(data: bytes, module, *, tolerance: float, image_path: str | Path | None = None) -> dict[str, float]:
    """Run ONNX Runtime (CPU) and PyTorch on a real image at two sizes; worst relative error per output."""
    import torch

    session = _cpu_session(data)
    worst: dict[str, float] = {}
    for height, width in PARITY_SIZES:
        image = sample_image(image_path, height, width)
        with torch.no_grad():
            expected = [t.numpy() for t in module(torch.from_numpy(image))]
        actual = session.run(module.output_names, {INPUT_NAME: image})
        for name, got, want in zip(module.output_names, actual, expected):
            worst[name] = max(worst.get(name, 0.0), relative_error(got, want))
    failed = {name: err for name, err in worst.items() if not err <= tolerance}
    if failed:
        listing = ", ".join(f"{name} {err:.2e}" for name, err in failed.items())
        raise ExportError(f"ONNX Runtime output differs from PyTorch beyond {tolerance:g}: {listing}; no file written")
    return worst


def _cpu_session(data: bytes):
    try:
        import onnxruntime as ort
    except ImportError:
        raise ExportError("verifying the export needs onnxruntime: pip install 'stylegram[runtime]'") from None
    try:
        return ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types
        message = str(exc).splitlines()[0][:200]
        if "opset" in message.lower() or "version" in message.lower():
            raise InputError(f"--opset: ONNX Runtime {ort.__version__} cannot run this model ({message})") from None
        raise ExportError(f"ONNX Runtime cannot load the exported model: {message}") from None


def check_fp16_grams(proto, module, *, image_path: str | Path | None = None,
                     tolerance: float = 2e-2) -> dict[str, float]:
    """Evaluate each in-graph Gram of the float16 model with ONNX's reference evaluator.

    ONNX Runtime's CPU provider upcasts some float16 nodes to float32, which would hide an
    overflow (a naive F·Fᵀ of relu1_1 exceeds float16's 65504). The reference evaluator runs
    every node in numpy float16, so an intermediate out of range shows up as inf or 0 here.
    """
    import torch
    from onnx.reference import ReferenceEvaluator
    from onnx.utils import Extractor

    image = sample_image(image_path, 64, 64)
    with torch.no_grad():
        outputs = dict(zip(module.output_names, module(torch.from_numpy(image))))
    extractor = Extractor(proto)
    errors: dict[str, float] = {}
    for layer in module.gram_layers:
        half_name = _float16_tensor_feeding(proto, layer)
        sub = extractor.extract_model([INPUT_NAME, half_name], [gram_output(layer)])
        features = outputs[layer].numpy().astype(np.float16)
        (gram,) = ReferenceEvaluator(sub).run(None, {INPUT_NAME: image, half_name: features})
        expected = outputs[gram_output(layer)].numpy()
        errors[gram_output(layer)] = relative_error(gram, expected)
        if not (errors[gram_output(layer)] <= tolerance and np.abs(gram).max() > 0):
            raise ExportError(f"float16 Gram {gram_output(layer)} is not usable in float16 arithmetic "
                              f"(relative error {errors[gram_output(layer)]:.2e}); no file written")
    return errors


def _float16_tensor_feeding(proto, layer: str) -> str:
    """Name of the float16 tensor that the float32 graph output ``layer`` is cast from."""
    for node in proto.graph.node:
        if node.op_type == "Cast" and list(node.output) == [layer]:
            return node.input[0]
    raise ExportError(f"float16 model has no cast for output {layer}")
