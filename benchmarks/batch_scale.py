"""Batch throughput on this machine: the plain sequential CLI loop (one `stylegram stylize` process per
item, the baseline) against `stylegram batch` on a local Ray cluster with 1 worker x 2 threads and
2 workers x 1 thread, all measured in one run on the same items.

The style Grams are cached first, so every mode does the same work: the stylizations. Ray's overhead
per item is the batch's wall time minus the sum of its items' own stylize times, divided by the
item count (cluster start, actor start, scheduling, result transfer). The projection for N machines
multiplies the measured single-machine rate by N: a projection, not a measurement.

    .venv/bin/python benchmarks/batch_scale.py --json bench-out/batch.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT.parent / "shared" / "images"


def stylegram(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "stylegram", *args], check=False, timeout=3600,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--work", type=Path, default=Path("bench-out/batch-work"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    contents = [IMAGES / "tubingen.jpg", IMAGES / "golden_gate.jpg"]
    styles = [IMAGES / name for name in ("starry_night.jpg", "the_scream.jpg", "shipwreck.jpg", "seated-nude.jpg")]
    items = [(c, s) for c in contents for s in styles]
    args.work.mkdir(parents=True, exist_ok=True)
    manifest = args.work / "items.csv"
    manifest.write_text("content,styles\n" + "".join(f"{c},{s}\n" for c, s in items))
    common = ["--size", str(args.size), "--iterations", str(args.iterations), "--tol", "0", "--quiet"]
    stylegram("cache", "add", *map(str, styles), "--size", str(args.size), "--quiet")  # same work for every mode
    rows = []
    loop = sum(stylegram("stylize", str(c), str(s), "-o", str(args.work / f"loop-{i}.png"), *common)
               for i, (c, s) in enumerate(items))
    rows.append({"mode": "sequential CLI loop", "workers": 1, "threads": os.cpu_count(), "seconds": loop})
    for workers, threads in ((1, 2), (2, 1)):
        out = args.work / f"ray-{workers}x{threads}"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        wall = stylegram("batch", str(manifest), "-o", str(out), "--workers", str(workers), "--cpus-per-worker",
                         str(threads), *common)
        summary = json.loads((out / "batch-summary.json").read_text())["items"]
        assert all(item["status"] == "done" for item in summary), summary
        item_seconds = sum(item["seconds"] for item in summary)
        rows.append({"mode": f"Ray {workers} worker(s) x {threads} thread(s)", "workers": workers, "threads": threads,
                     "seconds": wall, "ray_overhead_s_per_item": (wall - item_seconds / workers) / len(items)})
    report(rows, len(items), args)


def report(rows: list[dict], count: int, args) -> None:
    base = rows[0]["seconds"]
    print(f"{count} items, {args.size} px, {args.iterations} iterations each, style Grams cached\n")
    print(f"{'mode':<32} {'wall s':>8} {'items/hour':>11} {'vs loop':>8} {'Ray overhead s/item':>20}")
    for row in rows:
        row["items_per_hour"] = 3600 * count / row["seconds"]
        overhead = row.get("ray_overhead_s_per_item")
        print(f"{row['mode']:<32} {row['seconds']:>8.1f} {row['items_per_hour']:>11.0f} "
              f"{base / row['seconds']:>7.2f}x {'' if overhead is None else f'{overhead:.2f}':>20}")
    best = max(rows, key=lambda r: r["items_per_hour"])
    print(f"\nprojection (not measured): N such machines ~ N x {best['items_per_hour']:.0f} items/hour "
          f"({best['mode']}), if each has the style cache or a server, and the inputs are local")
    if args.json:
        args.json.write_text(json.dumps({"items": count, "size": args.size, "iterations": args.iterations,
                                         "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
