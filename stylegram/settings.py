"""User settings for ``stylize``: one typed, keyword-only, validated record (no torch).

The CLI reads its defaults from here, so library and command line never disagree.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional

from .errors import InputError
from .layers import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, POOLING_MODES, parse_layer_list
from .serve import DEFAULT_NAME as DEFAULT_SERVER_MODEL
from .sizing import check_size
from .tile_geometry import GRID, MIN_TILE, check_tile

OPTIMIZERS = ("lbfgs", "adam")
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.05}  # adam: 0.05 beat 0.02 and 0.1 at 128 and 256 px (docs/design.md)
TARGET_ENGINES = ("auto", "ort", "torch", "server")
MIN_AUTO_SCALE = 192  # px: automatic schedules start at or above this long edge (docs/design.md)
PRECISIONS = ("auto", "fp32", "bf16")
COLORS = ("keep", "luminance", "match")  # --colors (docs/masks.md)
GUIDES = ("simple", "inside", "all")  # --guide: how a mask becomes a layer's guidance channel (docs/masks.md)
AUTO_COARSE_STYLE = 1.0  # measured at 2048 px: same-look ratio 2.6x -> 1.18x (docs/print-sizes.md)


@dataclass(frozen=True, kw_only=True)
class StylizeSettings:
    """Every knob of a stylization. Invalid values raise ``InputError`` on construction."""

    size: int = 512  # long edge of the output, px
    iterations: int = 300  # upper bound per scale (see schedule())
    scales: int = 0  # coarse-to-fine scales, each twice the size of the one before; 0: auto (from ~192 px)
    iterations_per_scale: Optional[tuple[int, ...]] = None  # one per scale, coarsest first
    tol: float = 1e-3  # stop a scale when the loss improves by less than this fraction over 10 iterations
    time_limit: Optional[float] = None  # seconds of optimization, over all scales
    optimizer: str = "lbfgs"
    lr: Optional[float] = None  # None: 1.0 for L-BFGS, 0.05 for Adam
    init: str = "content"  # "content", "noise" or an image path
    seed: int = 0
    content_weight: float = 1.0
    style_weight: float = 10.0
    tv_weight: float = 0.0
    content_layers: tuple[str, ...] = DEFAULT_CONTENT_LAYERS
    style_layers: tuple[str, ...] = DEFAULT_STYLE_LAYERS
    style_layer_weights: Optional[tuple[float, ...]] = None  # None: equal
    style_blend: Optional[tuple[float, ...]] = None  # one per style image; None: equal
    style_scale: float = 1.0
    coarse_style: Optional[float] = None  # weight of the coarsest scale's style during the finer scales; None: auto
    pool: str = "avg"
    original_colors: bool = False  # alias of colors="luminance" (kept equal to it)
    colors: str = "keep"  # "keep", "luminance" (luminance-only transfer) or "match" (style recoloured to the content's)
    masks: Optional[tuple[str, ...]] = None  # content masks, one greyscale image per style image (docs/masks.md)
    style_masks: Optional[tuple[str, ...]] = None  # the part of each style image to use (needs masks)
    guide: str = "simple"  # how a mask becomes each layer's guidance channel: simple, inside or all
    weights: Optional[str] = None  # None: the original VGG19; a torchvision .pth path; "random" (tests)
    device: str = "cpu"
    threads: int = 0  # CPU threads for torch and ONNX Runtime (0: their defaults, all cores); a batch worker's share
    precision: str = "auto"  # "bf16": VGG passes under bfloat16 autocast; "auto": bf16 where the hardware has fast bf16
    targets: str = "auto"  # who computes the fixed targets: "ort", "torch", "server", or "auto" (ort when installed)
    server: Optional[str] = None  # http://HOST:PORT or grpc://HOST:PORT of `stylegram serve` (implies targets="server")
    server_model: str = DEFAULT_SERVER_MODEL  # the model name asked of --server (`serve --name`)
    cache: bool = True  # keep/reuse style Grams in the cache (home()/grams)
    model: Optional[str] = None  # exported .onnx for ORT targets; None: exported once into home()/models
    max_pixels: Optional[int] = None  # None: plan by memory (--memory); else allow up to this many pixels, whole
    memory: Optional[float] = None  # GiB the run may use (None: what is available); beyond it, tiles
    tile: Optional[int] = None  # force tiles of this many px (core, multiple of 16) on larger scales

    def __post_init__(self) -> None:
        object.__setattr__(self, "content_layers", parse_layer_list(self.content_layers, option="--content-layers"))
        object.__setattr__(self, "style_layers", parse_layer_list(self.style_layers, option="--style-layers"))
        for name in ("style_layer_weights", "style_blend"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(float(v) for v in value))
        check_size(self.size)
        if self.original_colors and self.colors == "keep":
            object.__setattr__(self, "colors", "luminance")
        object.__setattr__(self, "original_colors", self.colors == "luminance")
        for name in ("masks", "style_masks"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(str(v) for v in getattr(self, name)) or None)
        if self.server and self.targets == "auto":
            object.__setattr__(self, "targets", "server")
        for ok, message in self._checks():
            if not ok:
                raise InputError(message)
        if self.iterations_per_scale is not None:
            object.__setattr__(self, "iterations_per_scale", tuple(int(v) for v in self.iterations_per_scale))
        if self.style_layer_weights is not None:
            normalized_weights(self.style_layer_weights, len(self.style_layers), "--style-layer-weights")

    def _checks(self) -> list[tuple[bool, str]]:
        def positive(x: float) -> bool:
            return x > 0 and math.isfinite(x)

        def non_negative(x: float) -> bool:
            return x >= 0 and math.isfinite(x)

        return [
            (self.iterations > 0, f"--iterations must be positive, got {self.iterations}"),
            (self.threads >= 0, f"--threads must be >= 0 (0: all cores), got {self.threads}"),
            (self.scales >= 0, f"--scales must be >= 0 (0: automatic), got {self.scales}"),
            (self.iterations_per_scale is None or (all(v > 0 for v in self.iterations_per_scale)
                                                   and len(self.iterations_per_scale) == self.scale_count),
             f"--iterations-per-scale: expected {self.scale_count} positive numbers (one per scale)"),
            (non_negative(self.tol), f"--tol must be >= 0, got {self.tol}"),
            (self.max_pixels is None or self.max_pixels > 0, f"--max-pixels must be positive, got {self.max_pixels}"),
            (self.memory is None or positive(self.memory),
             f"--memory must be a positive number of GiB, got {self.memory}"),
            (self.tile is None or check_tile(self.tile),
             f"--tile must be a multiple of {GRID} px, at least {MIN_TILE}, got {self.tile}"),
            (self.time_limit is None or positive(self.time_limit),
             f"--time-limit must be positive, got {self.time_limit}"),
            (self.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer}"),
            (self.lr is None or positive(self.lr), f"--lr must be a positive number, got {self.lr}"),
            (self.pool in POOLING_MODES, f"--pool must be one of {', '.join(POOLING_MODES)}, got {self.pool}"),
            (non_negative(self.content_weight), f"--content-weight must be >= 0, got {self.content_weight}"),
            (positive(self.style_weight), f"--style-weight must be positive, got {self.style_weight}"),
            (non_negative(self.tv_weight), f"--tv-weight must be >= 0, got {self.tv_weight}"),
            (positive(self.style_scale), f"--style-scale must be positive, got {self.style_scale}"),
            (self.coarse_style is None or non_negative(self.coarse_style),
             f"--coarse-style must be >= 0, got {self.coarse_style}"),
            (self.precision in PRECISIONS, f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision}"),
            (self.colors in COLORS, f"--colors must be one of {', '.join(COLORS)}, got {self.colors}"),
            (self.guide in GUIDES, f"--guide must be one of {', '.join(GUIDES)}, got {self.guide}"),
            (self.style_masks is None or self.masks is not None, "--style-masks needs --masks (one per style image)"),
            (self.style_masks is None or self.masks is None or len(self.style_masks) == len(self.masks),
             "--style-masks: expected one per --masks image"),
            (self.targets in TARGET_ENGINES,
             f"--targets must be one of {', '.join(TARGET_ENGINES)}, got {self.targets}"),
            ((self.targets == "server") == bool(self.server),
             "--targets server goes with --server URL (and --server with --targets server or auto)"),
        ]

    @property
    def scale_count(self) -> int:
        if self.scales:
            return self.scales
        count = 1
        while self.size / 2**count >= MIN_AUTO_SCALE:
            count += 1
        return count

    @property
    def coarse_style_weight(self) -> float:
        """``coarse_style``, or when unset AUTO_COARSE_STYLE for schedules whose finest scale is at least 4x
        the coarsest (3+ scales, where the look drifts: docs/print-sizes.md), else 0."""
        if self.coarse_style is not None:
            return self.coarse_style
        return AUTO_COARSE_STYLE if self.scale_count >= 3 else 0.0

    def schedule(self) -> list[tuple[int, int]]:
        """(long edge, iteration bound) per scale, coarsest first; the last is (size, iterations)."""
        count = self.scale_count
        sizes = [max(1, round(self.size / 2 ** (count - 1 - i))) for i in range(count)]
        bounds = self.iterations_per_scale or (self.iterations,) * count
        if self.iterations_per_scale is None:
            bounds = bounds[:-1] + (self.iterations,)
        return list(zip(sizes, bounds))

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    def as_dict(self) -> dict:
        """The settings as a recipe records them; the spatial and colour controls only when used, so that
        recipes, resume files and batch item keys of runs without them are as before."""
        unused = {"colors": ("keep", "luminance"), "masks": (None,), "style_masks": (None,), "guide": ("simple",)}
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()
                if v not in unused.get(k, ())}


def normalized_weights(values: Optional[tuple[float, ...]], count: int, option: str) -> list[float]:
    """``values`` scaled to sum to 1 (equal weights when None), after checking count and sign."""
    if values is None or len(values) == 0:
        return [1.0 / count] * count
    if len(values) != count:
        raise InputError(f"{option}: expected {count} weights, got {len(values)}")
    if any(not (v > 0 and math.isfinite(v)) for v in values):
        raise InputError(f"{option}: weights must be positive numbers, got {', '.join(f'{v:g}' for v in values)}")
    total = sum(values)
    return [v / total for v in values]
