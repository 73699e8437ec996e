"""The benchmark's table (rich) and bar chart (matplotlib, the `plot` extra)."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..fileio import atomic_write
from .run import BenchResult


def feature_table(result: BenchResult):
    from rich.table import Table

    table = Table(title="Feature extraction (content relu4_2 + 5 style Grams requested)")
    for column in ("engine", "size", "prec", "build s", "first s", "median ms", "p10 ms", "p90 ms", "img/s",
                   "peak MiB", "parity", "vs torch-cpu"):
        table.add_column(column, justify="right" if column not in ("engine", "prec") else "left")
    baselines = {(r.size, r.precision): r for r in result.features if r.engine == "torch-cpu" and r.available}
    baselines |= {(r.size, "fp16"): r for r in result.features if r.engine == "torch-cpu" and r.available}
    for r in result.features:
        if not r.available:
            continue
        t = r.timing
        base = baselines.get((r.size, r.precision))
        ratio = f"{base.timing['median_s'] / t['median_s']:.2f}x" if base else "-"
        parity = f"{r.parity:.1e} {'ok' if r.parity_ok else 'FAIL'}"
        memory = f"{r.peak_memory_mb:.0f}" if r.peak_memory_mb is not None else "n/a"
        table.add_row(r.engine, str(r.size), r.precision, f"{r.build_s:.2f}", f"{t['first_s']:.3f}",
                      f"{1000 * t['median_s']:.1f}", f"{1000 * t['p10_s']:.1f}", f"{1000 * t['p90_s']:.1f}",
                      f"{r.images_per_s:.2f}", memory, parity, ratio)
    return table


def loop_table(result: BenchResult):
    from rich.table import Table

    table = Table(title="Stylize loop (one L-BFGS iteration = forward + backward)")
    for column in ("device", "size", "prec", "s/iter", "GFLOP/iter", "GFLOP/s", "of measured fp32 GEMM"):
        table.add_column(column, justify="right" if column not in ("device", "prec") else "left")
    for r in result.loop:
        if not r.available:
            continue
        peak = result.matmul_gflops.get(r.device)
        share = f"{r.gflops / peak:.0%} of {peak:.0f}" if peak else "-"
        table.add_row(r.device, str(r.size), r.precision, f"{r.s_per_iteration:.3f}", f"{r.gflop_per_iteration:.1f}",
                      f"{r.gflops:.0f}", share)
    return table


def print_report(result: BenchResult, console) -> None:
    m = result.machine
    console.print(f"{m['cpu']}, {m['cores']} cores; torch {m['torch']} ({m['torch_threads']} threads); "
                  f"onnxruntime {m.get('onnxruntime')}; GPU: {m.get('gpu', 'none')}")
    console.print(feature_table(result))
    console.print(loop_table(result))
    missing = {f"{r.engine} ({r.precision})": r.reason for r in result.features if not r.available}
    missing |= {f"loop on {r.device}": r.reason for r in result.loop if not r.available}
    for name, reason in missing.items():
        console.print(f"not available: {name}: {reason}", highlight=False)
    console.print("Latency: median of the repeats after warm-up; 'first' is the first call alone; 'build' is "
                  "session/model creation. CPU rows include numpy in/out; GPU ORT rows use IO binding (no copies). "
                  "Parity: worst relative error of the requested outputs against torch fp32 on the CPU.")


def write_plot(result: BenchResult, path: Path) -> None:
    """Horizontal bars of images/s per engine, size and precision, with axes (matplotlib, PNG)."""
    rows = [r for r in result.features if r.available]
    labels = [f"{r.engine} {r.size}px {r.precision}" for r in rows]
    figure = bar_chart(labels, [r.images_per_s for r in rows], xlabel="images/s (higher is better)",
                       title="stylegram bench: feature extraction (content relu4_2 + 5 style Grams)")
    save_figure(figure, path)


def bar_chart(labels: list[str], values: list[float], *, xlabel: str, title: str):
    """One horizontal bar per label, its value written at its end."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(9, 0.9 + 0.35 * max(1, len(labels))))
    bars = axes.barh(range(len(labels)), values, color="#1f77b4")
    axes.set_yticks(range(len(labels)), labels)
    axes.invert_yaxis()
    axes.bar_label(bars, fmt="%.2f", padding=3)
    axes.set_xlabel(xlabel)
    axes.set_title(title)
    axes.margins(x=0.12)
    figure.tight_layout()
    return figure


def pyplot():
    try:
        import matplotlib
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'stylegram[plot]'") from None
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: Path) -> None:
    with atomic_write(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    pyplot().close(figure)
