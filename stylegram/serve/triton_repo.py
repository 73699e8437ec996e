"""A Triton Inference Server model repository for Triton's ``onnxruntime`` backend (no torch).

``DIR/<name>/config.pbtxt`` and ``DIR/<name>/1/model.onnx``. The config is built as Triton's own
``ModelConfig`` protobuf message (the ``model_config_pb2`` module shipped by ``tritonclient``,
loaded by path so that grpc is not imported) and printed in protobuf text format. Before anything
is written, the printed text is parsed back with that schema and its tensor names, types and
ranks are compared with the ONNX graph. The model's fingerprint (weights, layers, pooling,
normalization) goes into the config's ``parameters``, where clients read it from the server
before using its numbers. The model folder appears whole or not at all.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, ModelFileError
from ..modelinfo import INPUT_NAME, ModelInfo
from ..runtime.sessions import trt_profile_shapes
from . import DEFAULT_NAME

ONNX_TO_TRITON = {"tensor(float)": "TYPE_FP32", "tensor(float16)": "TYPE_FP16"}
CONFIG_FILE, MODEL_FILE, VERSION = "config.pbtxt", "model.onnx", "1"


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
        checks = [(self.name.replace("_", "").replace("-", "").isalnum(),
                   f"--triton-name {self.name}: use letters, digits, '_' and '-'"),
                  (self.kind in ("cpu", "gpu"), f"--triton-kind must be cpu or gpu, got {self.kind}"),
                  (self.max_batch >= 1, f"--max-batch must be >= 1, got {self.max_batch}"),
                  (self.instances >= 1, f"--instances must be >= 1, got {self.instances}"),
                  (self.threads >= 0, f"--threads must be >= 0, got {self.threads}")]
        for ok, message in checks:
            if not ok:
                raise InputError(message)


TRITON_DEFAULTS = TritonOptions()  # `export --triton-*`'s defaults


@functools.cache
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
    """{tensor name: (ONNX type, dims without the batch dimension; -1 where dynamic)} of an ONNX model."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return {t.name: (t.type, tuple(d if isinstance(d, int) else -1 for d in t.shape[1:]))
            for t in (*session.get_inputs(), *session.get_outputs())}


def triton_type(name: str, onnx_type: str) -> str:
    if onnx_type not in ONNX_TO_TRITON:
        raise ModelFileError(f"--triton: tensor {name} is {onnx_type}; a stylegram model has only float32/float16 "
                             "tensors; nothing written")
    return ONNX_TO_TRITON[onnx_type]


def config_message(info: ModelInfo, signature: dict[str, tuple[str, tuple]], options: TritonOptions):
    """Triton's ``ModelConfig`` for the onnxruntime backend: tensors, batching, instances, fingerprint."""
    schema = model_config_schema()
    config = schema.ModelConfig(name=options.name, backend="onnxruntime", max_batch_size=options.max_batch)
    for name, (onnx_type, dims) in signature.items():
        tensor = (config.input if name == INPUT_NAME else config.output).add(name=name, dims=dims)
        tensor.data_type = schema.DataType.Value(triton_type(name, onnx_type))
    config.dynamic_batching.preferred_batch_size.extend(sorted({b for b in (2, 4, options.max_batch)
                                                                 if b <= options.max_batch}))
    config.dynamic_batching.max_queue_delay_microseconds = options.queue_delay_us
    kind = schema.ModelInstanceGroup.KIND_GPU if options.kind == "gpu" else schema.ModelInstanceGroup.KIND_CPU
    config.instance_group.add(count=options.instances, kind=kind)
    if options.kind == "gpu":
        _tensorrt(config, options)
    elif options.threads:
        config.parameters["intra_op_thread_count"].string_value = str(options.threads)
        config.parameters["inter_op_thread_count"].string_value = "1"
    for key, value in info.to_props().items():
        config.parameters[key].string_value = value
    return config


def _tensorrt(config, options: TritonOptions) -> None:
    batches = (1, min(4, options.max_batch), options.max_batch)  # profiles that admit batches above 1
    accelerator = config.optimization.execution_accelerators.gpu_execution_accelerator.add(name="tensorrt")
    accelerator.parameters.update({
        "precision_mode": "FP16" if options.trt_fp16 else "FP32",
        "max_workspace_size_bytes": str(options.trt_workspace_bytes),
        "trt_engine_cache_enable": "1", "trt_engine_cache_path": "/tmp/stylegram-trt-cache",
        **trt_profile_shapes(options.trt_sizes, batches)})


def config_text(config) -> str:
    """config.pbtxt: the message in protobuf text format."""
    from google.protobuf import text_format

    return text_format.MessageToString(config)


def validate(text: str, signature: dict[str, tuple[str, tuple]], options: TritonOptions):
    """Parse ``text`` with Triton's schema and compare it with the graph; returns the parsed message."""
    from google.protobuf import text_format

    schema = model_config_schema()
    config = schema.ModelConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as exc:
        raise ModelFileError(f"--triton: config.pbtxt does not parse as Triton's ModelConfig ({exc}); "
                             "nothing written") from None
    declared = {t.name: (schema.DataType.Name(t.data_type), tuple(t.dims)) for t in (*config.input, *config.output)}
    wanted = {name: (ONNX_TO_TRITON.get(kind, kind), dims) for name, (kind, dims) in signature.items()}
    problems = [f"{name}: config {declared.get(name)} vs graph {want}" for name, want in wanted.items()
                if declared.get(name) != want]
    problems += [f"{name}: not in the graph" for name in declared if name not in wanted]
    if config.max_batch_size != options.max_batch:
        problems.append(f"max_batch_size {config.max_batch_size} vs --max-batch {options.max_batch}")
    if problems:
        raise ModelFileError(f"--triton: config does not match the ONNX graph: {'; '.join(problems)}; nothing written")
    return config


def write_repository(root: Path, model: Path, info: ModelInfo, options: TritonOptions) -> Path:
    """Validate, then write ``root/<name>/config.pbtxt`` and ``root/<name>/1/model.onnx``: the folder is
    built next to its place and renamed into it, so readers see the old folder or the new, whole."""
    root, target = Path(root), Path(root) / options.name
    if root.exists() and not root.is_dir():
        raise InputError(f"--triton {root}: is a file, not a folder")
    signature = graph_signature(model)
    if INPUT_NAME not in signature:
        raise ModelFileError(f"model {model}: has no input named {INPUT_NAME}; nothing written")
    config = config_message(info, signature, options)
    text = config_text(config)
    if validate(text, signature, options) != config:
        raise ModelFileError("--triton: config.pbtxt does not read back as the config built; nothing written")
    foreign = sorted(p.name for p in target.iterdir() if p.name not in (CONFIG_FILE, VERSION)) if target.is_dir() \
        else [target.name] if target.exists() else []
    if foreign:
        raise InputError(f"--triton {target}: holds what stylegram did not write ({', '.join(foreign)}); remove it "
                         "or use another --triton-name; nothing written")
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{options.name}.", suffix=".tmp"))
    try:
        (staging / VERSION).mkdir()
        shutil.copyfile(model, staging / VERSION / MODEL_FILE)
        (staging / CONFIG_FILE).write_text(text)
        for path in (staging / VERSION / MODEL_FILE, staging / CONFIG_FILE):
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        _replace_folder(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _replace_folder(new: Path, target: Path) -> None:
    """Rename ``new`` to ``target``; an existing ``target`` is moved aside first and removed after
    (renamed back if the swap fails)."""
    if not target.exists():
        new.rename(target)
        return
    old = new.with_suffix(".old")
    target.rename(old)
    try:
        new.rename(target)
    except OSError:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)
