"""Export the truncated VGG19 feature model to one self-contained, verified ONNX file.

Exporter choice: torch's dynamo-based exporter (``torch.onnx.export(..., dynamo=True)``),
the default and maintained path in torch 2.x; the TorchScript exporter is deprecated.
It needs ``onnxscript`` and would by default write weights to a separate ``.data`` file
whose name is baked into the model; ``external_data=False`` keeps everything in one file,
so a model can be copied, hashed and cached as a unit. The result is serialized
deterministically (no timestamps, sorted metadata), so equal options give equal bytes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ExportError, InputError
from ..fileio import atomic_write, check_writable_target
from ..layers import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, POOLING_MODES, min_image_side, parse_layer_list
from ..modelinfo import DEFAULT_MODEL_PATH, DEFAULT_OPSET, INPUT_NAME, ModelInfo

MIN_OPSET = 18  # the dynamo exporter's lowest target


@dataclass(frozen=True, kw_only=True)
class ExportOptions:
    content_layers: tuple[str, ...] = DEFAULT_CONTENT_LAYERS
    style_layers: tuple[str, ...] = DEFAULT_STYLE_LAYERS
    pool: str = "avg"
    weights: str | None = None
    gram: bool = True
    fp16: bool = False
    opset: int = DEFAULT_OPSET

    def __post_init__(self) -> None:
        object.__setattr__(self, "content_layers", parse_layer_list(self.content_layers, option="--content-layers"))
        object.__setattr__(self, "style_layers", parse_layer_list(self.style_layers, option="--style-layers"))
        if self.pool not in POOLING_MODES:
            raise InputError(f"--pool must be one of {', '.join(POOLING_MODES)}, got {self.pool}")
        import onnx

        highest = onnx.defs.onnx_opset_version()
        if not MIN_OPSET <= self.opset <= highest:
            raise InputError(f"--opset {self.opset}: supported opsets are {MIN_OPSET} to {highest} "
                             f"(onnx {onnx.__version__})")


@dataclass(frozen=True)
class ExportReport:
    path: Path
    bytes: int
    seconds: float
    info: ModelInfo
    parity: dict[str, float] = field(default_factory=dict)  # worst relative error per output
    fp16_gram_check: dict[str, float] = field(default_factory=dict)


def export_model(output: str | Path = DEFAULT_MODEL_PATH, options: ExportOptions | None = None, *,
                 force: bool = False, verify_image: str | Path | None = None) -> ExportReport:
    """Export, check and verify a feature model; write ``output`` only if every check passes."""
    from ..weights import load_weights
    from .graph import FeatureGraph
    from .verify import check_fp16_grams, check_parity, structural_check

    options = options or ExportOptions()
    output = Path(output)
    _check_output(output, force)
    started = time.perf_counter()
    weights = load_weights(options.weights)
    module = FeatureGraph(weights, options.content_layers, options.style_layers, pool=options.pool, gram=options.gram)
    info = model_info(options, weights)
    proto = _export_proto(module, options.opset, min_image_side(module.feature_names))
    if options.fp16:
        proto = _to_fp16(proto)
    _set_metadata(proto, info)
    data = proto.SerializeToString(deterministic=True)
    structural_check(proto)
    parity = check_parity(data, module, tolerance=2e-2 if options.fp16 else 1e-4, image_path=verify_image)
    fp16_check = check_fp16_grams(proto, module, image_path=verify_image) if options.fp16 and options.gram else {}
    with atomic_write(output) as tmp:
        tmp.write_bytes(data)
    return ExportReport(output, len(data), time.perf_counter() - started, info, parity, fp16_check)


def _check_output(output: Path, force: bool) -> None:
    if output.suffix.lower() != ".onnx":
        raise InputError(f"--output {output}: the model file name must end in .onnx")
    check_writable_target(output, option="--output")
    if output.exists() and not force:
        raise InputError(f"--output {output}: file exists; pass --force to replace it")


def model_info(options: ExportOptions, weights) -> ModelInfo:
    """The metadata an export with ``options`` and ``weights`` carries."""
    return ModelInfo.describe(weights, content_layers=options.content_layers, style_layers=options.style_layers,
                              pool=options.pool, gram=options.gram, opset=options.opset, fp16=options.fp16)


def _export_proto(module, opset: int, min_side: int):
    """Run the dynamo exporter in memory with dynamic batch, height and width."""
    import torch

    example = torch.rand(1, 3, max(64, min_side), max(48, min_side))
    dims = {0: torch.export.Dim("batch"), 2: torch.export.Dim("height", min=min_side),
            3: torch.export.Dim("width", min=min_side)}
    noisy = logging.getLogger("torch.onnx")
    level = noisy.level
    noisy.setLevel(logging.ERROR)
    try:
        with (warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()),
              contextlib.redirect_stderr(io.StringIO())):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(module, (example,), None, input_names=[INPUT_NAME],
                                        output_names=module.output_names, dynamic_shapes={INPUT_NAME: dims},
                                        opset_version=opset, dynamo=True, external_data=False, optimize=True)
    except Exception as exc:  # the exporter raises many types; report one line
        raise ExportError(f"torch.onnx.export failed at opset {opset}: {str(exc).splitlines()[0][:200]}") from None
    finally:
        noisy.setLevel(level)
    proto = program.model_proto
    proto.producer_name, proto.producer_version = "stylegram", ""
    _strip_debug_info(proto)
    return proto


def _strip_debug_info(proto) -> None:
    """Drop the exporter's per-node debug metadata (stack traces, object addresses): it varies per run."""
    graph = proto.graph
    for item in (*graph.node, *graph.value_info, *graph.input, *graph.output, *graph.initializer):
        del item.metadata_props[:]
        item.doc_string = ""


def _to_fp16(proto):
    """Float16 compute with float32 inputs and outputs.

    ``onnxconverter_common.float16`` fails on this graph (a relu output that is both a graph
    output and a conv input); ONNX Runtime's converter with ``keep_io_types`` handles it.
    """
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError as exc:
        raise ExportError(f"--fp16 needs onnxruntime's float16 converter ({exc})") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = convert_float_to_float16(proto, keep_io_types=True, disable_shape_infer=False)
    _sort_topologically(converted.graph)  # the converter appends its input casts at the end
    return converted


def _sort_topologically(graph) -> None:
    """Reorder nodes so each comes after its inputs' producers, keeping the original order otherwise."""
    available = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        ready = [n for n in pending if all(name in available for name in n.input)]
        if not ready:
            raise ExportError("float16 conversion produced a graph with a cycle or a missing input")
        for node in ready:
            available.update(node.output)
        ordered += ready
        pending = [n for n in pending if not any(n is r for r in ready)]
    copies = [type(n)() for n in ordered]
    for copy, node in zip(copies, ordered):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(copies)


def _set_metadata(proto, info: ModelInfo) -> None:
    del proto.metadata_props[:]
    for key, value in sorted(info.to_props().items()):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = ("stylegram VGG19 feature model. Input 'image': float32 RGB in [0, 1], NCHW "
                        "(dynamic batch, height, width); outputs: named layer activations and gram_<layer>.")


def export_summary(report: ExportReport) -> list[str]:
    lines = [f"wrote {report.path} ({report.bytes / 2**20:.1f} MiB, {report.info.dtype}, opset {report.info.opset}) "
             f"in {report.seconds:.1f} s"]
    lines += [f"  parity {name:<14} worst relative error {err:.2e}" for name, err in report.parity.items()]
    lines += [f"  fp16 no-upcast {name:<14} relative error {err:.2e}" for name, err in report.fp16_gram_check.items()]
    return lines
