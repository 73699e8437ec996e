"""``stylegram bench``: feature extraction (torch eager vs ONNX Runtime providers) and the stylize loop."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..fileio import check_writable_target
from .options import sizes, split_list


def bench(
    sizes_text: Annotated[str, typer.Option("--sizes", help="Image sizes (square, px), comma-separated.")] = "256,512",
    providers: Annotated[str, typer.Option(
        help="auto, or a comma list of torch (eager), cpu, cuda, tensorrt (ONNX Runtime providers).")] = "auto",
    precision: Annotated[str, typer.Option(help="Feature-model precisions: fp32, fp16.")] = "fp32,fp16",
    loop_precision: Annotated[str, typer.Option(help="Stylize-loop precisions: fp32, bf16.")] = "fp32",
    repeats: Annotated[int, typer.Option(help="Timed runs per feature row.")] = 10,
    warmup: Annotated[int, typer.Option(help="Untimed runs first (the first one is reported alone).")] = 2,
    loop_repeats: Annotated[int, typer.Option(help="Timed iterations per loop row.")] = 3,
    json_path: Annotated[Optional[Path], typer.Option(
        "--json", help="Write results with machine info as JSON.")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Write a bar chart PNG.")] = None,
) -> None:
    """Benchmark feature extraction (torch eager vs ONNX Runtime providers) and the stylize loop."""
    from rich.console import Console

    from ..bench.report import print_report, pyplot, write_plot
    from ..bench.run import ENGINES, BenchOptions, run_bench, write_json

    for target, option in ((json_path, "--json"), (plot, "--plot")):
        if target is not None:
            check_writable_target(target, option=option)
    if plot is not None:
        pyplot()  # matplotlib missing: say so before minutes of benchmarking
    engines = ENGINES if providers == "auto" else split_list(providers, "--providers")
    options = BenchOptions(sizes=sizes(sizes_text, "--sizes"), engines=engines,
                           precisions=split_list(precision, "--precision"),
                           loop_precisions=split_list(loop_precision, "--loop-precision"), repeats=repeats,
                           warmup=warmup, loop_repeats=loop_repeats)
    console = Console(width=None if sys.stdout.isatty() else 160)
    with console.status("benchmarking") as status:
        result = run_bench(options, progress=lambda text: status.update(text))
    print_report(result, console)
    if json_path is not None:
        write_json(result, json_path)
    if plot is not None:
        write_plot(result, plot)
