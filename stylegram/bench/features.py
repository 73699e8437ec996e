"""Feature-extraction benchmark: PyTorch eager vs ONNX Runtime providers, with parity.

Each row: one engine, size and precision. Reported separately: session/engine build, the
first run (cuDNN algorithm search, TensorRT engine build), and the steady state after
warm-up. Only the outputs the stylize loop uses are requested (content features and style
Grams). GPU rows use IO binding, so host<->device copies are not part of the latency; CPU
rows include nothing but the run. TF32 is off on both sides (ORT's CUDA provider enables it
by default; torch's matmul does not), so numbers and numerics are comparable.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..export.verify import relative_error, sample_image
from ..modelinfo import gram_output
from .timing import PeakMemory, Timing, measure


@dataclass
class FeatureRow:
    engine: str  # "torch-cpu", "torch-cuda", "ort-cpu", "ort-cuda", "ort-tensorrt"
    size: int
    precision: str
    available: bool = True
    reason: str = ""
    build_s: float | None = None
    timing: dict | None = None
    images_per_s: float | None = None
    peak_memory_mb: float | None = None
    parity: float | None = None  # worst relative error vs torch fp32 over the requested outputs
    parity_ok: bool | None = None
    includes: str = ""


TOLERANCE = {"fp32": 1e-4, "fp16": 2e-2}
ORT_ENGINES = {"cpu": "ort-cpu", "cuda": "ort-cuda", "tensorrt": "ort-tensorrt"}


def output_names(content_layers, style_layers) -> list[str]:
    return [*content_layers, *(gram_output(n) for n in style_layers)]


def torch_reference(weights, content_layers, style_layers, image: np.ndarray, pool: str) -> dict[str, np.ndarray]:
    """fp32 PyTorch outputs on the CPU: the yardstick for every row's parity."""
    import torch

    from ..export.graph import FeatureGraph

    module = FeatureGraph(weights, content_layers, style_layers, pool=pool, gram=True)
    with torch.no_grad():
        values = module(torch.from_numpy(image))
    return {n: v.numpy() for n, v in zip(module.output_names, values)
            if n in output_names(content_layers, style_layers)}


def worst_error(got: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> float:
    return max(relative_error(np.asarray(got[n]), reference[n]) for n in reference)


def bench_torch(device: str, weights, content_layers, style_layers, pool, size, precision, image, reference,
                warmup, repeats) -> FeatureRow:
    import torch

    from ..export.graph import FeatureGraph

    row = FeatureRow(f"torch-{device}", size, precision, includes="forward only; outputs stay on the device")
    if device == "cuda" and not torch.cuda.is_available():
        return _unavailable(row, "torch has no CUDA device here")
    if device == "cpu" and precision == "fp16":
        return _unavailable(row, "float16 eager on CPU is not a deployment target (no fast kernels)")
    dtype = torch.float16 if precision == "fp16" else torch.float32
    started = time.perf_counter()
    module = FeatureGraph(weights, content_layers, style_layers, pool=pool, gram=True).to(device=device, dtype=dtype)
    module = module.to(memory_format=torch.channels_last)
    x = torch.from_numpy(image).to(device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
    row.build_s = time.perf_counter() - started
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.cuda.reset_peak_memory_stats()

    def call():
        with torch.no_grad():
            return module(x)

    with PeakMemory() as memory:
        timing = measure(call, warmup=warmup, repeats=repeats, sync=sync)
    outputs = dict(zip(module.output_names, (t.float().cpu().numpy() for t in call())))
    peak = torch.cuda.max_memory_allocated() if device == "cuda" else memory.peak_bytes
    return _fill(row, timing, peak, outputs, reference)


def bench_ort(provider: str, model_path: Path, content_layers, style_layers, size, precision, image, reference,
              warmup, repeats, trt_cache_dir: str | None) -> FeatureRow:
    from ..errors import StylegramError
    from ..runtime.sessions import Provider, SessionConfig, build_session

    row = FeatureRow(ORT_ENGINES[provider], size, precision)
    if importlib.util.find_spec("onnxruntime") is None:
        return _unavailable(row, "onnxruntime is not installed")
    config = SessionConfig(provider=Provider(provider), trt_fp16=precision == "fp16", trt_cache_dir=trt_cache_dir,
                           trt_profile=((size, size), (size, size), (size, size)))
    started = time.perf_counter()
    try:
        fs = build_session(model_path, config)
    except StylegramError as exc:
        return _unavailable(row, str(exc))
    row.build_s = time.perf_counter() - started
    names = output_names(content_layers, style_layers)
    if provider == "cpu":
        row.includes = "session.run with numpy in/out (host memory is the device)"
        call = lambda: fs.run(image, names)  # noqa: E731
        sync = lambda: None  # noqa: E731
    else:
        row.includes = "run_with_iobinding: input and outputs on the GPU, copies excluded"
        call, sync = _iobinding_call(fs.session, image, names)
    with PeakMemory() as memory:
        timing = measure(call, warmup=warmup, repeats=repeats, sync=sync)
    outputs = fs.run(image, names)
    return _fill(row, timing, memory.peak_bytes if provider == "cpu" else None, outputs, reference)


def _iobinding_call(session, image: np.ndarray, names: list[str]):
    import onnxruntime as ort

    binding = session.io_binding()
    binding.bind_ortvalue_input("image", ort.OrtValue.ortvalue_from_numpy(image, "cuda", 0))
    for name in names:
        binding.bind_output(name, "cuda", 0)
    return (lambda: session.run_with_iobinding(binding)), binding.synchronize_outputs


def _fill(row: FeatureRow, timing: Timing, peak_bytes, outputs, reference) -> FeatureRow:
    row.timing = asdict(timing)
    row.images_per_s = timing.per_second
    row.peak_memory_mb = None if peak_bytes is None else peak_bytes / 2**20
    row.parity = worst_error(outputs, reference)
    row.parity_ok = row.parity <= TOLERANCE[row.precision]
    return row


def _unavailable(row: FeatureRow, reason: str) -> FeatureRow:
    row.available, row.reason = False, reason
    return row


def bench_image(size: int) -> np.ndarray:
    return sample_image(None, size, size)
