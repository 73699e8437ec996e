"""Print sizes: seconds per iteration and peak RSS at 1024/2048/4096 px, whole image vs tiled, in one run.

Every configuration runs in its own process (so each peak RSS is its own): one scale at the
given size, L-BFGS, ``--tol 0``, the style Grams computed (no cache: a first run's peak), the
defaults otherwise. The L-BFGS history starts full (as many pairs as the plan keeps, see
``full_history``), so memory and time are those of a late iteration, not of the first few.
The first iteration is a warm-up; the figure is the median of the others.
"peak" is the process's peak RSS (VmHWM); "loop peak" is the peak after the first iteration, i.e.
the optimization without the one-off target computation (VmHWM reset through /proc/self/clear_refs).
Whole-image runs are skipped where the planner's estimate does not fit the machine. Also measured
here, at one size where both fit: the tiled loss and gradient against the whole image's (relative
error), and bfloat16's memory and loss against float32.

    .venv/bin/python benchmarks/print_sizes.py --json bench-out/print.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTENT, STYLE = ROOT / "examples/tubingen.jpg", ROOT / "examples/starry_night.jpg"
GIB = 2**30


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def full_history(settings, pairs: int):
    """A start whose L-BFGS history already holds ``pairs`` pairs, so memory and time are a late iteration's.

    The pairs are synthetic with y = s, which keeps the inverse-Hessian estimate the identity: the
    first direction is the negative gradient, and real pairs then replace the synthetic ones.
    """
    import torch

    from stylegram.images import load_image
    from stylegram.resume import Snapshot
    from stylegram.tensor_images import to_tensor

    image = to_tensor(load_image(CONTENT, long_edge=settings.size), torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    steps = [torch.randn(image.numel(), generator=generator) * 1e-3 for _ in range(pairs)]
    state = {"func_evals": 1, "n_iter": 1, "d": torch.zeros(image.numel()), "t": 1.0, "H_diag": 1.0,
             "old_dirs": [step.clone() for step in steps], "old_stps": steps,
             "ro": [1.0 / float(step.dot(step)) for step in steps],
             "prev_flat_grad": torch.zeros(image.numel()), "prev_loss": 0.0}
    return Snapshot(1, 0, 0, image, state)


def run_config(size: int, mode: str, budget: float, iterations: int, precision: str) -> dict:
    """Child process: one scale at ``size``; mode "whole" forces the whole image, "tiled" plans by ``budget``."""
    from stylegram.engine import plan_scales, stylize
    from stylegram.settings import StylizeSettings

    whole = mode == "whole"
    settings = StylizeSettings(size=size, scales=1, iterations=iterations, tol=0, cache=False, precision=precision,
                               memory=None if whole else budget, max_pixels=10**9 if whole else None)
    plan = plan_scales(CONTENT, settings)[-1]
    stamps: list[float] = []
    before_loop: list[int] = []  # VmHWM up to the first iteration (targets included), in KiB

    def callback(progress) -> None:
        stamps.append(time.perf_counter())
        if not before_loop:  # from here on, VmHWM (and ru_maxrss) is the optimization's own peak
            before_loop.append(status_kib("VmHWM"))
            Path("/proc/self/clear_refs").write_text("5")

    started = time.perf_counter()
    result = stylize(CONTENT, [STYLE], settings, callback=callback, resume=full_history(settings, plan.history))
    steps = [b - a for a, b in zip(stamps, stamps[1:])]
    return {"size": size, "mode": mode, "precision": precision, "plan": plan.describe(),
            "estimate_gib": plan.bytes / GIB, "tile": plan.tile, "history": plan.history,
            "first_iteration_s": stamps[0] - started - result.startup_seconds,
            "seconds_per_iteration": statistics.median(steps), "timed_iterations": len(steps),
            "peak_gib": max(before_loop[0], status_kib("VmHWM")) * 1024 / GIB,
            "loop_peak_gib": status_kib("VmHWM") * 1024 / GIB, "loss": result.losses["loss"]}


def compare_tiled(size: int, budget: float) -> dict:
    """Child process: loss and gradient of one stylized-looking image, whole vs in the planner's tiles,
    fp32 and bf16."""
    import numpy as np
    import torch

    from stylegram.engine import plan_scales, prepare
    from stylegram.settings import StylizeSettings
    from stylegram.tile_geometry import plan_tiles
    from stylegram.tiling import TiledObjective

    found = {}
    for precision in ("fp32", "bf16"):
        settings = StylizeSettings(size=size, scales=1, cache=False, precision=precision, memory=budget)
        tile = plan_scales(CONTENT, settings)[-1].tile
        run = prepare(CONTENT, [STYLE], settings)
        noise = np.random.default_rng(0).normal(0, 0.1, run.inputs.work.shape).astype(np.float32)
        start = torch.from_numpy(np.clip(run.inputs.work + noise, 0, 1)).permute(2, 0, 1)[None].contiguous()
        for name, objective in (("whole", run.objective),
                                ("tiled", TiledObjective(run.objective, plan_tiles(*start.shape[-2:], tile)))):
            image = start.clone().requires_grad_(True)
            terms = objective.loss_and_grad(image)
            found[precision, name] = (terms["loss"], image.grad.detach().clone())
    reference_loss, reference_grad = found["fp32", "whole"]

    def error(key) -> dict:
        loss, grad = found[key]
        return {"loss_rel": abs(loss - reference_loss) / abs(reference_loss),
                "grad_rel": float((grad - reference_grad).norm() / reference_grad.norm())}

    return {"size": size, "tile": tile, "fp32_tiled": error(("fp32", "tiled")), "bf16_whole": error(("bf16", "whole")),
            "bf16_tiled": error(("bf16", "tiled"))}


def in_child(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1], "args": list(args)}
    return json.loads(done.stdout.strip().splitlines()[-1])


def whole_fits(size: int) -> bool:
    from stylegram.engine import plan_scales
    from stylegram.memory_estimate import memory_budget
    from stylegram.settings import StylizeSettings

    plan = plan_scales(CONTENT, StylizeSettings(size=size, scales=1, max_pixels=10**9))[-1]
    return plan.bytes <= 0.8 * memory_budget(None).bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1024,2048,4096")
    parser.add_argument("--budgets", default="4,8,16", help="GiB per size for the tiled runs (--memory)")
    parser.add_argument("--iterations", default="4,3,2", help="per size, the first one a warm-up")
    parser.add_argument("--compare-size", type=int, default=1024, help="size for tiled-vs-whole errors and bf16")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        found = compare_tiled(int(rest[0]), float(rest[1])) if kind == "compare" else run_config(
            int(rest[0]), rest[1], float(rest[2]), int(rest[3]), rest[4])
        print(json.dumps(found))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    budgets = dict(zip(sizes, (float(b) for b in args.budgets.split(","))))
    counts = dict(zip(sizes, (int(n) for n in args.iterations.split(","))))
    rows = []
    for size in sizes:
        modes = (["whole"] if whole_fits(size) else []) + ["tiled"]
        for mode in modes:
            rows.append(in_child("run", str(size), mode, str(budgets[size]), str(counts[size]), "fp32"))
            print(json.dumps(rows[-1]), flush=True)
    compare_budget = budgets.get(args.compare_size, 8.0)
    for mode in ("whole", "tiled"):
        rows.append(in_child("run", str(args.compare_size), mode, str(compare_budget),
                             str(counts.get(args.compare_size, 4)), "bf16"))
        print(json.dumps(rows[-1]), flush=True)
    errors = in_child("compare", str(args.compare_size), str(compare_budget))
    print(json.dumps(errors), flush=True)
    print_table(rows, errors)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": rows, "errors": errors}, indent=2))


def print_table(rows: list[dict], errors: dict) -> None:
    print(f"\n{'size':>5} {'mode':>6} {'prec':>5} {'plan':<66} {'s/it':>7} "
          f"{'peak GiB':>9} {'loop GiB':>9} {'est GiB':>8}")
    for row in rows:
        if "error" in row:
            print(f"failed: {row['args']}: {row['error']}")
            continue
        print(f"{row['size']:>5} {row['mode']:>6} {row['precision']:>5} {row['plan']:<66} "
              f"{row['seconds_per_iteration']:>7.2f} {row['peak_gib']:>9.2f} {row['loop_peak_gib']:>9.2f} "
              f"{row['estimate_gib']:>8.2f}")
    by_key = {(r["size"], r["mode"], r["precision"]): r for r in rows if "error" not in r}
    for (size, mode, precision), row in sorted(by_key.items()):
        whole = by_key.get((size, "whole", precision))
        if mode == "tiled" and whole:
            print(f"tiling overhead at {size} px ({precision}): tiled / whole = "
                  f"{row['seconds_per_iteration'] / whole['seconds_per_iteration']:.2f}x s/it")
        fp32 = by_key.get((size, mode, "fp32"))
        if precision == "bf16" and fp32:
            print(f"bf16 / fp32 at {size} px {mode}: "
                  f"s/it {row['seconds_per_iteration'] / fp32['seconds_per_iteration']:.2f}x, "
                  f"loop peak {row['loop_peak_gib'] / fp32['loop_peak_gib']:.2f}x")
    if "error" not in errors:
        print(f"relative error against fp32 whole at {errors['size']} px (tiles of {errors['tile']} px): "
              + ", ".join(f"{k}: loss {v['loss_rel']:.2e}, grad {v['grad_rel']:.2e}" for k, v in errors.items()
                          if isinstance(v, dict)))


if __name__ == "__main__":
    main()
