"""``stylegram export`` and ``stylegram layers``: the feature model itself."""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..modelinfo import DEFAULT_MODEL_PATH, DEFAULT_OPSET
from ..serve.triton_repo import TRITON_DEFAULTS as T
from ..sizing import check_size
from .options import DEFAULTS, ContentLayersOpt, PoolOpt, QuietOpt, StyleLayersOpt, WeightsOpt, split_list


def export(
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help=(
        f"Where to write the .onnx model (default: {DEFAULT_MODEL_PATH}; with --triton: only into the repository, "
        "unless this is given)."))] = None,
    content_layers: ContentLayersOpt = ",".join(DEFAULTS.content_layers),
    style_layers: StyleLayersOpt = ",".join(DEFAULTS.style_layers),
    pool: PoolOpt = DEFAULTS.pool,
    weights: WeightsOpt = DEFAULTS.weights,
    gram: Annotated[bool, typer.Option("--gram/--no-gram", help="Add gram_<layer> outputs for style layers.")] = True,
    fp16: Annotated[bool, typer.Option("--fp16", help="Float16 compute (inputs and outputs stay float32).")] = False,
    opset: Annotated[int, typer.Option(help="ONNX opset to target.")] = DEFAULT_OPSET,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    triton: Annotated[Optional[Path], typer.Option(
        help="Write a Triton model repository here (DIR/<name>/config.pbtxt, DIR/<name>/1/model.onnx).")] = None,
    triton_name: Annotated[str, typer.Option(
        help="Model name in the Triton repository (clients' --server-model).")] = T.name,
    triton_kind: Annotated[str, typer.Option(
        help="cpu: KIND_CPU instances; gpu: KIND_GPU with the TensorRT accelerator.")] = T.kind,
    max_batch: Annotated[int, typer.Option(help="Triton max_batch_size (dynamic batching up to this).")] = T.max_batch,
    instances: Annotated[int, typer.Option(help="Triton model instances.")] = T.instances,
    threads: Annotated[int, typer.Option(help="CPU instances: onnxruntime intra-op threads (0: default).")] = T.threads,
    trt_fp16: Annotated[bool, typer.Option("--trt-fp16/--trt-fp32", help="GPU: TensorRT precision mode.")] = T.trt_fp16,
    quiet: QuietOpt = False,
) -> None:
    """Export the truncated VGG19 (preprocessing inside, named layer outputs) to one verified ONNX file,
    and optionally a Triton model repository around it."""
    from ..export.onnx_export import ExportOptions, export_model, export_summary

    options = ExportOptions(content_layers=split_list(content_layers, "--content-layers"),
                            style_layers=split_list(style_layers, "--style-layers"), pool=pool,
                            weights=weights, gram=gram, fp16=fp16, opset=opset)
    repository = None
    if triton is not None:
        from ..serve.triton_repo import TritonOptions, model_config_schema

        repository = TritonOptions(name=triton_name, kind=triton_kind, max_batch=max_batch, instances=instances,
                                   threads=threads, trt_fp16=trt_fp16)
        model_config_schema()  # the schema is needed to validate: fail before the export's minute of work
    with _model_file(output, triton) as path:
        report = export_model(path, options, force=force)
        if repository is not None:
            from ..serve.triton_repo import MODEL_FILE, VERSION, write_repository

            written = write_repository(triton, report.path, report.info, repository)
            if output is None:  # the summary names the one file written
                report = dataclasses.replace(report, path=written / VERSION / MODEL_FILE)
    if not quiet:
        typer.echo("\n".join(export_summary(report)))
        if repository is not None:
            typer.echo(f"wrote Triton model repository {written} "
                       "(config validated against Triton's ModelConfig schema)")


@contextlib.contextmanager
def _model_file(output: Path | None, triton: Path | None):
    """Where the export writes the .onnx: ``output``, else the default path, else (``--triton`` alone) a
    temporary folder removed afterwards, since the repository holds its own copy."""
    if output is not None or triton is None:
        yield output or DEFAULT_MODEL_PATH
        return
    with tempfile.TemporaryDirectory(prefix="stylegram-export-") as folder:
        yield Path(folder) / DEFAULT_MODEL_PATH.name


def layers(
    size: Annotated[int, typer.Option(help="Long edge of the input image in pixels.")] = DEFAULTS.size,
    height: Annotated[Optional[int], typer.Option(help="Input height (default: --size).")] = None,
) -> None:
    """List VGG19 layer names with their output shapes for an input image size."""
    from ..layers import output_shape, vgg19_layers

    width = check_size(size, "--size")
    height = check_size(height, "--height") if height is not None else width
    typer.echo(f"{'layer':<10} {'channels':>8} {'height':>7} {'width':>7}   (input {width}x{height})")
    for layer in vgg19_layers():
        channels, layer_height, layer_width = output_shape(layer.name, height, width)
        typer.echo(f"{layer.name:<10} {channels:>8} {layer_height:>7} {layer_width:>7}")
