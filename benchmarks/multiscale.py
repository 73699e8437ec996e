"""Time to quality: the default coarse-to-fine schedule against a single scale, same objective.

    .venv/bin/python benchmarks/multiscale.py --size 512 --iterations 300

Run A optimizes at the full size only (``--scales 1``, ``--iterations`` L-BFGS steps, no
convergence stop). Run B works coarse to fine (``--scales``, default 2: half size first, its
result handed to the next scale) with the default convergence stop. A short warm-up run
first keeps one-time costs (oneDNN kernel creation) out of both. Both report the loss at every
iteration; at the last scale both losses are the same function of the image (same targets),
so the curves compare directly. Printed: each run's final loss and time, the time B needed
to reach A's final loss, A's loss at the moment B finished, and the time ratio. Times are
wall seconds of optimization (start-up excluded), one run each: rerun to see the noise.
"""

from __future__ import annotations

import argparse
import bisect
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(content: Path, style: Path, **settings) -> list[tuple[float, float]]:
    """(seconds, loss) at every iteration of the last scale."""
    from stylegram.engine import stylize
    from stylegram.settings import StylizeSettings

    trace: list[tuple[int, int, float, float]] = []
    stylize(content, [style], StylizeSettings(targets="torch", cache=False, **settings),
            callback=lambda p: trace.append((p.scale, p.scales, p.elapsed, p.loss)))
    return [(elapsed, loss) for scale, scales, elapsed, loss in trace if scale == scales]


def first_time_at_or_below(curve: list[tuple[float, float]], loss: float) -> float | None:
    return next((t for t, value in curve if value <= loss), None)


def loss_at(curve: list[tuple[float, float]], seconds: float) -> float | None:
    index = bisect.bisect_right([t for t, _ in curve], seconds) - 1
    return curve[index][1] if index >= 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", type=Path, default=ROOT / "examples/tubingen.jpg")
    parser.add_argument("--style", type=Path, default=ROOT / "examples/starry_night.jpg")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--iterations", type=int, default=300,
                        help="single scale: iterations; multi-scale: bound per scale")
    parser.add_argument("--scales", type=int, default=2, help="scales of the coarse-to-fine run")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--style-weight", type=float, default=10.0)
    parser.add_argument("--json", type=Path, help="also write both curves here")
    args = parser.parse_args()
    common = dict(size=args.size, precision=args.precision, iterations=args.iterations, style_weight=args.style_weight)
    run(args.content, args.style, scales=2, size=args.size, iterations=3, precision=args.precision)  # warm-up
    single = run(args.content, args.style, scales=1, tol=0, **common)
    multi = run(args.content, args.style, scales=args.scales, **common)
    (single_s, single_loss), (multi_s, multi_loss) = single[-1], multi[-1]
    reached = first_time_at_or_below(multi, single_loss)
    print(f"{args.size} px, precision {args.precision}, style weight {args.style_weight:g}, "
          f"{args.content.name} + {args.style.name}")
    print(f"  single scale : loss {single_loss:.4f} after {single_s:6.1f} s ({len(single)} iterations)")
    print(f"  {args.scales} scales     : loss {multi_loss:.4f} after {multi_s:6.1f} s ({len(multi)} at the last scale)")
    if reached is not None:
        print(f"  coarse→fine reached the single-scale final loss after {reached:.1f} s: "
              f"{reached / single_s:.2f}× the single-scale time")
    else:
        print("  coarse→fine did not reach the single-scale final loss")
    at_multi_end = loss_at(single, multi_s)
    if at_multi_end is not None:
        print(f"  single scale at {multi_s:.1f} s: loss {at_multi_end:.4f}")
    if args.json:
        args.json.write_text(json.dumps({"single": single, "multiscale": multi, "settings": common}))


if __name__ == "__main__":
    main()
