"""Orchestrates `stylegram bench`: which engines, sizes and precisions; JSON, table and plot."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import InputError
from ..fileio import atomic_write
from .features import FeatureRow, bench_image, bench_ort, bench_torch, torch_reference
from .loop import LoopRow, bench_loop, measured_matmul_gflops
from .machine import machine_info

ENGINES = ("torch", "cpu", "cuda", "tensorrt")
FEATURE_PRECISIONS = ("fp32", "fp16")
LOOP_PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True, kw_only=True)
class BenchOptions:
    sizes: tuple[int, ...] = (256, 512)
    engines: tuple[str, ...] = ENGINES
    precisions: tuple[str, ...] = ("fp32",)
    loop_precisions: tuple[str, ...] = ("fp32",)
    warmup: int = 2
    repeats: int = 10
    loop_repeats: int = 3

    def __post_init__(self) -> None:
        checks = [
            (all(s >= 32 for s in self.sizes) and self.sizes, f"--sizes must be at least 32 px, got {self.sizes}"),
            (set(self.engines) <= set(ENGINES) and self.engines,
             f"--providers: choose from auto or {', '.join(ENGINES)}, got {','.join(self.engines)}"),
            (set(self.precisions) <= set(FEATURE_PRECISIONS) and self.precisions,
             f"--precision: choose from fp32, fp16, got {','.join(self.precisions)}"),
            (set(self.loop_precisions) <= set(LOOP_PRECISIONS),
             f"--loop-precision: choose from fp32, bf16, got {','.join(self.loop_precisions)}"),
            (self.warmup >= 1 and self.repeats >= 1 and self.loop_repeats >= 1, "--warmup and --repeats must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)


@dataclass
class BenchResult:
    machine: dict
    options: dict
    features: list[FeatureRow] = field(default_factory=list)
    loop: list[LoopRow] = field(default_factory=list)
    matmul_gflops: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)


def run_bench(options: BenchOptions, *, progress=lambda text: None) -> BenchResult:
    import torch

    from ..export.managed import managed_model
    from ..layers import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS
    from ..settings import StylizeSettings
    from ..weights import load_weights

    settings = StylizeSettings()
    weights = load_weights()
    content, style = DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS
    result = BenchResult(machine_info(), asdict(options))
    models = {p: managed_model(settings, weights, fp16=p == "fp16") for p in options.precisions
              if set(options.engines) & {"cpu", "cuda", "tensorrt"}}
    trt_cache = str(Path(models[next(iter(models))]).parent / "trt-cache") if models else None
    for size in options.sizes:
        image = bench_image(size)
        reference = torch_reference(weights, content, style, image, settings.pool)
        for precision in options.precisions:
            for engine in options.engines:
                progress(f"features {engine} {size}px {precision}")
                if engine == "torch":
                    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
                    for device in devices:
                        result.features.append(bench_torch(device, weights, content, style, settings.pool, size,
                                                           precision, image, reference, options.warmup,
                                                           options.repeats))
                else:
                    result.features.append(bench_ort(engine, models[precision], content, style, size, precision, image,
                                                     reference, options.warmup, options.repeats, trt_cache))
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        result.matmul_gflops[device] = measured_matmul_gflops(device)
        for size in options.sizes:
            for precision in options.loop_precisions:
                progress(f"loop {device} {size}px {precision}")
                result.loop.append(bench_loop(device, size, precision, warmup=1, repeats=options.loop_repeats))
    if "cuda" not in devices:
        result.loop.append(LoopRow("cuda", 0, "fp32", available=False, reason="torch has no CUDA device here"))
    return result


def write_json(result: BenchResult, path: Path) -> None:
    with atomic_write(path) as tmp:
        tmp.write_text(result.to_json())
