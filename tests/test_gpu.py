"""Real CUDA checks (``pytest -m gpu``; run by ``benchmarks/gpu_check.sh`` on the GPU machine).

Every test here skips, with the reason, where torch sees no CUDA device. Real weights, small images:
the loss on CUDA against the CPU's, the planner reading the GPU's free memory, tiles against the whole
image, and the command line on CUDA.

``STYLEGRAM_GPU_TEST_DEVICE=cpu`` runs the same bodies on the CPU (those about the GPU itself skip):
a check of the tests, not of a GPU.
"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
import torch

from stylegram.engine import plan_scales, prepare, stylize
from stylegram.memory_estimate import memory_budget
from stylegram.settings import StylizeSettings
from stylegram.tile_geometry import plan_tiles
from stylegram.tiling import TiledObjective

from .conftest import CONTENT, STYLE

DEVICE = os.environ.get("STYLEGRAM_GPU_TEST_DEVICE", "cuda")
ON_CUDA = DEVICE.startswith("cuda")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(ON_CUDA and not torch.cuda.is_available(),
                       reason=f"no CUDA GPU: torch.cuda.is_available() is False (torch {torch.__version__})"),
]
cuda_only = pytest.mark.skipif(not ON_CUDA, reason="about the CUDA device itself (STYLEGRAM_GPU_TEST_DEVICE=cpu)")

# 64 px, 30 L-BFGS iterations from the content image, measured on the CPU: bf16 ends 0.28 % from fp32, and
# fp32 with its weights rounded to TF32 (what cuDNN's default does to conv inputs) 0.06 %
LOOP_TOLERANCE = {"fp32": 2e-2, "bf16": 5e-2}
SMALL = dict(size=64, scales=1, targets="torch", cache=False)


@pytest.fixture
def exact_fp32():
    """No TF32 (torch's default for cuDNN convolutions): fp32 as the CPU computes it, for tight tolerances."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def noisy(image: torch.Tensor) -> torch.Tensor:
    noise = 0.05 * torch.randn(image.shape, generator=torch.Generator().manual_seed(0))
    return (image.detach().cpu() + noise).clamp(0, 1)


def test_loss_and_gradient_on_cuda_match_the_cpu(exact_fp32):
    settings = StylizeSettings(precision="fp32", **SMALL)
    cpu, gpu = prepare(CONTENT, [STYLE], settings), prepare(CONTENT, [STYLE], replace(settings, device=DEVICE))
    assert gpu.image.device.type == torch.device(DEVICE).type
    image = noisy(cpu.image)
    on_cpu, on_gpu = image.clone().requires_grad_(True), image.to(DEVICE).requires_grad_(True)
    expected, found = cpu.objective.loss_and_grad(on_cpu), gpu.objective.loss_and_grad(on_gpu)
    for term in ("loss", "content", "style", "tv"):
        assert found[term] == pytest.approx(expected[term], rel=1e-4), term
    error = (on_gpu.grad.cpu() - on_cpu.grad).abs().max() / on_cpu.grad.abs().max()
    assert float(error) < 1e-3


@pytest.fixture(scope="module")
def cpu_result():
    return stylize(CONTENT, [STYLE], StylizeSettings(iterations=30, tol=0, precision="fp32", **SMALL))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_stylize_on_cuda_matches_the_cpu_loss(cpu_result, precision):
    result = stylize(CONTENT, [STYLE],
                     StylizeSettings(iterations=30, tol=0, precision=precision, device=DEVICE, **SMALL))
    assert result.recipe["precision_used"] == precision and result.iterations == 30
    assert result.image.shape == cpu_result.image.shape
    assert result.losses["loss"] == pytest.approx(cpu_result.losses["loss"], rel=LOOP_TOLERANCE[precision])


@cuda_only
def test_the_planner_reads_the_gpus_free_memory():
    free, _ = torch.cuda.mem_get_info()
    budget = memory_budget(None, device="cuda")
    assert budget.source == "the free memory of cuda now"
    assert abs(budget.bytes - free) < 2**30
    if free < 12 * 2**30:
        pytest.skip(f"only {free / 2**30:.1f} GiB free on the GPU: too little to see an allocation move the budget")
    block = torch.empty(4 * 2**30, dtype=torch.uint8, device="cuda")
    smaller = memory_budget(None, device="cuda")
    del block
    torch.cuda.empty_cache()
    assert 3.5 * 2**30 < budget.bytes - smaller.bytes < 4.5 * 2**30  # read now, not once
    assert memory_budget(8, device="cuda").source == "--memory"
    plans = plan_scales(CONTENT, StylizeSettings(size=4096, device="cuda"))
    assert (plans[-1].width, plans[-1].height) == (4096, 3072)
    assert all(plan.bytes <= budget.bytes for plan in plans)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_tiled_loss_on_cuda_equals_the_whole_image_loss(exact_fp32, precision):
    """One evaluation, 160 px in 64 px tiles: the same sums in another order."""
    run = prepare(CONTENT, [STYLE], StylizeSettings(size=160, scales=1, precision=precision, targets="torch",
                                                    cache=False, device=DEVICE))
    image = noisy(run.image).to(DEVICE)
    whole, tiled = image.clone().requires_grad_(True), image.clone().requires_grad_(True)
    whole_terms = run.objective.loss_and_grad(whole)
    tiles = plan_tiles(*image.shape[-2:], 64)
    tiled_terms = TiledObjective(run.objective, tiles).loss_and_grad(tiled)
    assert len(tiles) == 6
    tolerance = 1e-4 if precision == "fp32" else 1e-3
    for term in ("loss", "content", "style", "tv"):
        assert tiled_terms[term] == pytest.approx(whole_terms[term], rel=tolerance), term
    error = (tiled.grad - whole.grad).abs().max() / whole.grad.abs().max()
    assert float(error) < (1e-4 if precision == "fp32" else 2e-2)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_tiled_run_on_cuda_ends_at_the_whole_runs_loss(exact_fp32, precision):
    """5 iterations at 160 px, in 64 px tiles and whole (on the CPU: 2.3e-7 apart in fp32, 9e-4 in bf16)."""
    settings = StylizeSettings(size=160, scales=1, iterations=5, tol=0, precision=precision, targets="torch",
                               cache=False, device=DEVICE)
    whole, tiled = stylize(CONTENT, [STYLE], settings), stylize(CONTENT, [STYLE], replace(settings, tile=64))
    assert whole.plans[-1].tile is None and tiled.plans[-1].tile == 64
    assert tiled.plans[-1].history == whole.plans[-1].history  # the same L-BFGS, so the same path
    assert tiled.losses["loss"] == pytest.approx(whole.losses["loss"], rel=1e-4 if precision == "fp32" else 1e-2)


def test_the_command_line_runs_on_cuda_in_tiles(tmp_path, capsys):
    from stylegram.cli import main

    output = tmp_path / "tiled.png"
    main(["stylize", str(CONTENT), str(STYLE), "-o", str(output), "--device", DEVICE, "--size", "160", "--tile", "64",
          "--iterations", "3", "--targets", "torch", "--no-cache"])
    err = capsys.readouterr().err
    assert "plan: 160x120: tiles of 64 px" in err and f"wrote {output}" in err
    assert output.stat().st_size > 1000
