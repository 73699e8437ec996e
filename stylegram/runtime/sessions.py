"""ONNX Runtime sessions for exported feature models: provider choice, fallback, reuse. No torch.

ONNX Runtime lists providers whose libraries may not load, and silently falls back to CPU
when a CUDA library is missing; so a session's *actual* providers are checked after it is
built, and a GPU provider asked for explicitly runs with CPU fallback disabled.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelFileError, ProviderError
from ..modelinfo import INPUT_NAME, ModelInfo


class Provider(str, enum.Enum):
    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"
    TENSORRT = "tensorrt"


ORT_PROVIDER = {Provider.CPU: "CPUExecutionProvider", Provider.CUDA: "CUDAExecutionProvider",
                Provider.TENSORRT: "TensorrtExecutionProvider"}
# What each choice tries, in order. `auto` never picks TensorRT: its engine builds take minutes.
FALLBACK_CHAIN = {Provider.AUTO: (Provider.CUDA, Provider.CPU), Provider.CPU: (Provider.CPU,),
                  Provider.CUDA: (Provider.CUDA,), Provider.TENSORRT: (Provider.TENSORRT, Provider.CUDA)}


@dataclass(frozen=True)
class SessionConfig:
    provider: Provider = Provider.AUTO
    threads: int = 0  # 0: ONNX Runtime's default (all cores)
    cuda_device: int = 0
    cuda_tf32: bool = False  # ORT's CUDA provider enables TF32 by default; torch's matmul does not
    trt_fp16: bool = False
    trt_cache_dir: str | None = None
    trt_profile: tuple[tuple[int, int], tuple[int, int], tuple[int, int]] = ((64, 64), (512, 512), (1024, 1024))
    trt_batch: tuple[int, int, int] = (1, 1, 8)  # min, opt, max batch of the TensorRT shape profile
    # no CPU memory arena, so memory goes back to the system after every run: a stylization computes
    # its targets once and then needs the memory itself. The arena kept 3.2 GiB after the 2048 px
    # targets; without it 0.24 GiB stays and the peak is lower (docs/print-sizes.md). Arena shrinkage
    # (a run option) still kept 1.9 GiB.
    release_memory: bool = False

    @classmethod
    def for_device(cls, device: str, *, threads: int = 0, release_memory: bool = False) -> "SessionConfig":
        """The session for a torch device name: ``cpu`` -> CPU; ``cuda`` or ``cuda:N`` -> GPU N, CPU as fallback."""
        if device == "cpu":
            return cls(provider=Provider.CPU, threads=threads, release_memory=release_memory)
        _, _, index = device.partition(":")
        if not device.startswith("cuda") or (index and not index.isdigit()):
            raise ProviderError(f"--device {device}: unknown device; use cpu, cuda or cuda:N")
        return cls(provider=Provider.AUTO, cuda_device=int(index or 0), threads=threads, release_memory=release_memory)


@dataclass
class FeatureSession:
    """An InferenceSession with the model's metadata and the providers that actually run."""

    session: object
    info: ModelInfo
    path: Path
    providers: list[str]

    def run(self, image: np.ndarray, outputs: list[str]) -> dict[str, np.ndarray]:
        """Named outputs for an N x 3 x H x W float32 RGB image in [0, 1]."""
        values = self.session.run(outputs, {INPUT_NAME: np.ascontiguousarray(image, dtype=np.float32)})
        return dict(zip(outputs, values))


def available_providers() -> list[str]:
    import onnxruntime as ort

    return ort.get_available_providers()


def provider_options(choice: Provider, config: SessionConfig) -> tuple[str, dict]:
    """(ORT provider name, its options) for one provider."""
    if choice is Provider.CUDA:
        return ORT_PROVIDER[choice], {"device_id": config.cuda_device, "use_tf32": int(config.cuda_tf32),
                                      "cudnn_conv_algo_search": "EXHAUSTIVE"}
    if choice is Provider.TENSORRT:
        options = {"device_id": config.cuda_device, "trt_fp16_enable": config.trt_fp16,
                   **trt_profile_shapes(config.trt_profile, config.trt_batch)}
        if config.trt_cache_dir:
            options |= {"trt_engine_cache_enable": True, "trt_engine_cache_path": config.trt_cache_dir,
                        "trt_timing_cache_enable": True, "trt_timing_cache_path": config.trt_cache_dir}
        return ORT_PROVIDER[choice], options
    return ORT_PROVIDER[choice], {}


def trt_profile_shapes(sizes: tuple[tuple[int, int], ...], batches: tuple[int, int, int]) -> dict[str, str]:
    """TensorRT's min/opt/max input shapes (``image:NxCxHxW``) for (height, width) and batch triples."""
    return {f"trt_profile_{kind}_shapes": f"{INPUT_NAME}:{batch}x3x{height}x{width}"
            for kind, batch, (height, width) in zip(("min", "opt", "max"), batches, sizes)}


def build_session(path: str | Path, config: SessionConfig = SessionConfig()) -> FeatureSession:
    """The one place sessions are made: pick providers, set options, verify what runs."""
    import onnxruntime as ort

    path = Path(path)
    _check_model_file(path)
    available = available_providers()
    explicit = config.provider is not Provider.AUTO
    chain = [p for p in FALLBACK_CHAIN[config.provider] if ORT_PROVIDER[p] in available]
    if not chain or (explicit and ORT_PROVIDER[config.provider] not in available):
        raise ProviderError(f"--provider {config.provider.value}: {ORT_PROVIDER[config.provider]} is not available "
                            f"in onnxruntime {ort.__version__}; available: {', '.join(available)}")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if config.threads:
        options.intra_op_num_threads = config.threads
    options.enable_cpu_mem_arena = not config.release_memory
    if explicit and config.provider is not Provider.CPU:
        options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
    providers = [provider_options(p, config) for p in chain]
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        meta = session.get_modelmeta().custom_metadata_map
    except Exception as exc:  # ORT raises its own types (and UnicodeDecodeError for damaged strings)
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise ModelFileError(f"model {path}: ONNX Runtime cannot load it ({first})") from None
    actual = session.get_providers()
    if explicit and actual[0] != ORT_PROVIDER[config.provider]:
        raise ProviderError(f"--provider {config.provider.value}: ONNX Runtime fell back to {actual[0]} "
                            "(its libraries could not be loaded)")
    return FeatureSession(session, ModelInfo.from_props(meta, source=str(path)), path, actual)


def _check_model_file(path: Path) -> None:
    if not path.exists():
        raise ModelFileError(f"model {path}: file not found (make one with: stylegram export -o {path})")
    if path.is_dir():
        raise ModelFileError(f"model {path}: is a directory, not an .onnx file")
    if path.stat().st_size == 0:
        raise ModelFileError(f"model {path}: empty file, not an ONNX model")


_SESSIONS: dict[tuple, FeatureSession] = {}
_LOCK = threading.Lock()


def shared_session(path: str | Path, config: SessionConfig = SessionConfig()) -> FeatureSession:
    """A session reused across calls for the same file (by path, size and mtime) and config."""
    path = Path(path).resolve()
    _check_model_file(path)
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, config)
    with _LOCK:
        if key not in _SESSIONS:
            _SESSIONS[key] = build_session(path, config)
        return _SESSIONS[key]
