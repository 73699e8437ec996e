"""Stylize-loop benchmark: seconds per iteration (forward + backward) and achieved GFLOP/s.

FLOPs are counted from the layer table: 2 per multiply-add of every convolution up to the
deepest layer, once for the forward pass and once for the gradient with respect to the
input (weights are frozen, so no weight gradients are computed). Pooling, ReLU and the
losses are left out, so the figure slightly understates the work done.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import asdict, dataclass

from ..layers import conv_flops
from .timing import measure


@dataclass
class LoopRow:
    device: str
    size: int
    precision: str
    available: bool = True
    reason: str = ""
    timing: dict | None = None
    s_per_iteration: float | None = None
    gflop_per_iteration: float | None = None
    gflops: float | None = None


def bench_loop(device: str, size: int, precision: str, *, warmup: int, repeats: int) -> LoopRow:
    import torch

    from ..engine import prepare
    from ..loop import make_optimizer
    from ..settings import StylizeSettings

    row = LoopRow(device, size, precision)
    if device == "cuda" and not torch.cuda.is_available():
        row.available, row.reason = False, "torch has no CUDA device here"
        return row
    sample = importlib.resources.files("stylegram") / "data" / "sample.jpg"
    settings = StylizeSettings(size=size, device=device, precision=precision, targets="torch", cache=False)
    run = prepare(sample, [sample], settings)
    opt = make_optimizer("lbfgs", run.image, 1.0)

    def closure():
        opt.zero_grad(set_to_none=True)
        loss = run.objective(run.image)["loss"]
        loss.backward()
        return loss

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    timing = measure(lambda: opt.step(closure), warmup=warmup, repeats=repeats, sync=sync)
    _, _, height, width = run.image.shape
    layers = (*settings.content_layers, *settings.style_layers)
    row.timing = asdict(timing)
    row.s_per_iteration = timing.median_s
    row.gflop_per_iteration = 2 * conv_flops(layers, height, width) / 1e9
    row.gflops = row.gflop_per_iteration / timing.median_s
    return row


def measured_matmul_gflops(device: str = "cpu", n: int = 2048, repeats: int = 5) -> float:
    """fp32 GEMM throughput: a practical ceiling to compare the loop's GFLOP/s with."""
    import torch

    a = torch.rand(n, n, device=device)
    b = torch.rand(n, n, device=device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    timing = measure(lambda: a @ b, warmup=2, repeats=repeats, sync=sync)
    return 2 * n**3 / timing.median_s / 1e9
