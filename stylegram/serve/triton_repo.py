"""A Triton Inference Server model repository for Triton's ``onnxruntime`` backend (no torch).

``DIR/<name>/config.pbtxt`` and ``DIR/<name>/1/model.onnx``. The config is checked before
anything is written: it must parse against Triton's own ``ModelConfig`` protobuf schema (the
``model_config_pb2`` module shipped by ``tritonclient``, loaded by path so that grpc is not
imported), and its tensor names, types and ranks must be the ONNX graph's. The model's
fingerprint (weights, layers, pooling, normalization) goes into the config's ``parameters``,
where clients read it from the server before using its numbers.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, ModelFileError
from ..fileio import atomic_write
from ..modelinfo import INPUT_NAME, ModelInfo
from ..runtime.sessions import trt_profile_shapes

DEFAULT_NAME = "stylegram_vgg19"
ONNX_TO_TRITON = {"tensor(float)": "TYPE_FP32", "tensor(float16)": "TYPE_FP16"}


@dataclass(frozen=True, kw_only=True)
class TritonOptions:
    name: str = DEFAULT_NAME
    kind: str = "cpu"  # "cpu": KIND_CPU instances; "gpu": KIND_GPU with the TensorRT accelerator
    max_batch: int = 8
    instances: int = 1
    threads: int = 0  # onnxruntime intra-op threads per CPU instance (0: the backend's default)
    trt_fp16: bool = True
    trt_workspace_bytes: int = 1 << 30
    trt_sizes: tuple[tuple[int, int], ...] = ((64, 64), (512, 512), (1024, 1024))  # min, opt, max (height, width)
    queue_delay_us: int = 2000

    def __post_init__(self) -> None:
        checks = [(self.name.replace("_", "").replace("-", "").isalnum(), f"--triton-name {self.name}: use letters, "
                   "digits, '_' and '-'"), (self.kind in ("cpu", "gpu"), f"--triton-kind must be cpu or gpu, got {self.kind}"),
                  (self.max_batch >= 1, f"--max-batch must be >= 1, got {self.max_batch}"),
                  (self.instances >= 1, f"--instances must be >= 1, got {self.instances}"),
                  (self.threads >= 0, f"--threads must be >= 0, got {self.threads}")]
        for ok, message in checks:
            if not ok:
                raise InputError(message)


def model_config_schema():
    """Triton's generated ``model_config_pb2`` module from tritonclient, loaded by path (no grpc import)."""
    spec = importlib.util.find_spec("tritonclient")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("--triton: validating the config needs tritonclient (pip install 'stylegram[serve]')")
    path = Path(next(iter(spec.submodule_search_locations))) / "grpc" / "model_config_pb2.py"
    module_spec = importlib.util.spec_from_file_location("stylegram_triton_model_config_pb2", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def graph_signature(model: Path) -> dict[str, tuple[str, tuple]]:
    """{tensor name: (Triton type, dims without the batch dimension; -1 where dynamic)} of an ONNX model."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return {t.name: (ONNX_TO_TRITON.get(t.type, t.type), tuple(d if isinstance(d, int) else -1 for d in t.shape[1:]))
            for t in (*session.get_inputs(), *session.get_outputs())}


def config_text(info: ModelInfo, signature: dict[str, tuple[str, tuple]], options: TritonOptions) -> str:
    """config.pbtxt for the onnxruntime backend (text format of Triton's ModelConfig)."""
    def tensor(name: str) -> str:
        kind, dims = signature[name]
        return f'  {{ name: "{name}" data_type: {kind} dims: [ {", ".join(map(str, dims))} ] }}'

    outputs = [name for name in signature if name != INPUT_NAME]
    preferred = sorted({b for b in (2, 4, options.max_batch) if b <= options.max_batch})
    lines = [f'name: "{options.name}"', 'backend: "onnxruntime"', f"max_batch_size: {options.max_batch}",
             "input [", tensor(INPUT_NAME), "]", "output [", ",\n".join(tensor(n) for n in outputs), "]",
             f"dynamic_batching {{ preferred_batch_size: [ {', '.join(map(str, preferred))} ] "
             f"max_queue_delay_microseconds: {options.queue_delay_us} }}"]
    if options.kind == "gpu":
        lines += [f"instance_group [ {{ count: {options.instances} kind: KIND_GPU }} ]", _tensorrt(options)]
    else:
        lines.append(f"instance_group [ {{ count: {options.instances} kind: KIND_CPU }} ]")
        if options.threads:
            lines += [_parameter("intra_op_thread_count", options.threads), _parameter("inter_op_thread_count", 1)]
    lines += [_parameter(key, value) for key, value in sorted(info.to_props().items())]
    return "\n".join(lines) + "\n"


def _parameter(key: str, value) -> str:
    return f'parameters {{ key: "{key}" value: {{ string_value: "{_escape(str(value))}" }} }}'


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _tensorrt(options: TritonOptions) -> str:
    batches = (1, min(4, options.max_batch), options.max_batch)  # profiles that admit batches above 1
    accelerator = {"precision_mode": "FP16" if options.trt_fp16 else "FP32",
                   "max_workspace_size_bytes": str(options.trt_workspace_bytes),
                   "trt_engine_cache_enable": "1", "trt_engine_cache_path": "/tmp/stylegram-trt-cache",
                   **trt_profile_shapes(options.trt_sizes, batches)}
    parameters = " ".join(f'parameters {{ key: "{k}" value: "{v}" }}' for k, v in accelerator.items())
    return ("optimization { execution_accelerators { gpu_execution_accelerator: [ "
            f'{{ name: "tensorrt" {parameters} }} ] }} }}')


def validate(text: str, signature: dict[str, tuple[str, tuple]], options: TritonOptions):
    """Parse ``text`` with Triton's schema and compare it with the graph; returns the parsed message."""
    from google.protobuf import text_format

    schema = model_config_schema()
    config = schema.ModelConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as exc:
        raise ModelFileError(f"--triton: config.pbtxt does not parse as Triton's ModelConfig ({exc}); nothing written")
    declared = {t.name: (schema.DataType.Name(t.data_type), tuple(t.dims)) for t in (*config.input, *config.output)}
    problems = [f"{name}: config {declared.get(name)} vs graph {want}" for name, want in signature.items()
                if declared.get(name) != want]
    problems += [f"{name}: not in the graph" for name in declared if name not in signature]
    if problems or config.max_batch_size != options.max_batch:
        raise ModelFileError(f"--triton: config does not match the ONNX graph: {'; '.join(problems)}; nothing written")
    return config


def write_repository(root: Path, model: Path, info: ModelInfo, options: TritonOptions) -> Path:
    """Validate, then write ``root/<name>/config.pbtxt`` and ``root/<name>/1/model.onnx`` (each atomically)."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise InputError(f"--triton {root}: is a file, not a folder")
    signature = graph_signature(model)
    if INPUT_NAME not in signature:
        raise ModelFileError(f"model {model}: has no input named {INPUT_NAME}")
    text = config_text(info, signature, options)
    validate(text, signature, options)
    version = root / options.name / "1"
    version.mkdir(parents=True, exist_ok=True)
    with atomic_write(version / "model.onnx") as tmp:
        shutil.copyfile(model, tmp)
    with atomic_write(root / options.name / "config.pbtxt") as tmp:
        tmp.write_text(text)
    return root / options.name
