"""``stylegram batch``: many stylizations on Ray, resumable, where one bad input costs one item."""

from __future__ import annotations

import contextlib
import json
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError, Interrupted, StylegramError
from ..fileio import atomic_write
from ..settings import StylizeSettings
from .options import (DEFAULTS, CacheOpt, ContentWeightOpt, IterationsOpt, OptimizerOpt, PrecisionOpt, QuietOpt,
                      ScalesOpt, SeedOpt, ServerOpt, SizeOpt, StyleScaleOpt, StyleWeightOpt, TargetsOpt, TolOpt,
                      TvWeightOpt, WeightsOpt)

SUMMARY = "batch-summary.json"


def batch(
    manifest: Annotated[Optional[Path], typer.Argument(
        help="CSV or JSON Lines: content, styles (';'-separated in CSV), optional size, iterations, "
             "style_weight, content_weight, tv_weight, style_scale, seed.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder (created).")] = Path("batch-out"),
    contents: Annotated[Optional[Path], typer.Option(help="Instead of a manifest: every image of this folder ...")] = None,
    styles: Annotated[Optional[Path], typer.Option(help="... with every image of this folder.")] = None,
    address: Annotated[Optional[str], typer.Option(
        help="Ray cluster to join: auto or HOST:PORT (default: start a local one on this machine's cores).")] = None,
    workers: Annotated[int, typer.Option(
        help="Concurrent stylizations (0: one per CPU, as many as the cluster's memory holds).")] = 0,
    cpus_per_worker: Annotated[int, typer.Option(
        help="CPUs (and threads) per worker (0: 1, or cores / --workers).")] = 0,
    size: SizeOpt = DEFAULTS.size,
    iterations: IterationsOpt = DEFAULTS.iterations,
    scales: ScalesOpt = DEFAULTS.scales,
    tol: TolOpt = DEFAULTS.tol,
    optimizer: OptimizerOpt = DEFAULTS.optimizer,
    seed: SeedOpt = DEFAULTS.seed,
    content_weight: ContentWeightOpt = DEFAULTS.content_weight,
    style_weight: StyleWeightOpt = DEFAULTS.style_weight,
    tv_weight: TvWeightOpt = DEFAULTS.tv_weight,
    style_scale: StyleScaleOpt = DEFAULTS.style_scale,
    weights: WeightsOpt = DEFAULTS.weights,
    precision: PrecisionOpt = DEFAULTS.precision,
    targets: TargetsOpt = DEFAULTS.targets,
    server: ServerOpt = None,
    cache: CacheOpt = DEFAULTS.cache,
    quiet: QuietOpt = False,
) -> None:
    """Stylize every item of MANIFEST (or the --contents x --styles grid) into --output, on Ray.

    Finished items are skipped on a rerun (recognised by their recipe's key, so a changed setting
    reruns them); a failed item is reported and the others go on; exit 1 if any item failed."""
    from ..batch.manifest import grid, read_manifest

    defaults = StylizeSettings(size=size, iterations=iterations, scales=scales, tol=tol, optimizer=optimizer,
                               seed=seed, content_weight=content_weight, style_weight=style_weight,
                               tv_weight=tv_weight, style_scale=style_scale, weights=weights, precision=precision,
                               targets=targets, server=server, cache=cache)
    if (manifest is None) == (contents is None or styles is None):
        raise InputError("give a MANIFEST, or --contents DIR and --styles DIR")
    items = read_manifest(manifest, defaults) if manifest else grid(contents, styles, defaults)
    if output.exists() and not output.is_dir():
        raise InputError(f"--output {output}: is a file, not a folder")
    output.mkdir(parents=True, exist_ok=True)
    outcomes = _run(items, output, address=address, workers=workers, cpus_per_worker=cpus_per_worker, quiet=quiet)
    order = {item.name: index for index, item in enumerate(items)}
    _summarize(sorted(outcomes, key=lambda o: order[o.name]), output, quiet=quiet)


@contextlib.contextmanager
def stop_requests(received: list[int]):
    """SIGINT/SIGTERM are recorded in ``received`` (the batch loop polls it); a second one stops at once."""

    def handler(signum, frame):
        received.append(signum)
        if len(received) > 1:
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _run(items, output: Path, *, address, workers: int, cpus_per_worker: int, quiet: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..batch.manifest import item_key
    from ..batch.ray_runner import (BatchInterrupted, ItemOutcome, finished, plan_workers, run_items, start_ray,
                                    weights_sha256)

    keys = {item.name: item_key(item, weights_sha256(item.settings.weights)) for item in items}  # hashes every input
    done = {item.name for item in items if finished(item, output, keys[item.name])}
    todo = [item for item in items if item.name not in done]
    outcomes = [ItemOutcome(item.name, "skipped", output=str(item.output(output))) for item in items if item.name in done]
    if not todo:
        return outcomes
    import ray

    started_here = start_ray(address)
    try:
        from ..memory_estimate import estimate_bytes

        resources = ray.cluster_resources()
        per_worker = max(estimate_bytes(i.settings.size, i.settings.size, (*i.settings.content_layers,
                                                                          *i.settings.style_layers)) for i in todo)
        planned = plan_workers(int(resources.get("CPU", 1)), workers, cpus_per_worker,
                               memory=resources.get("memory"), per_worker=per_worker)
        failures = [0]
        columns = (TextColumn("batch"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[failed]} failed"),
                   TimeRemainingColumn())
        with Progress(*columns, disable=quiet, transient=False) as bar:
            task = bar.add_task("", total=len(todo), failed=0)

            def on_outcome(outcome) -> None:
                failures[0] += outcome.status == "failed"
                bar.update(task, advance=1, failed=failures[0])

            received: list[int] = []
            try:
                with stop_requests(received):  # a flag, not an exception that Ray's waits could swallow
                    outcomes += run_items(todo, output, keys, workers=planned[0], threads=planned[1],
                                          on_outcome=on_outcome, should_stop=lambda: bool(received))
            except BatchInterrupted as stop:
                _summarize(outcomes + stop.outcomes, output, quiet=True)
                raise Interrupted(f"interrupted; finished outputs are kept, the rest is listed in "
                                  f"{output / SUMMARY}; rerun the same command to continue",
                                  received[0] if received else signal.SIGINT) from None
    finally:
        if started_here:
            ray.shutdown()
    return outcomes


def _summarize(outcomes, output: Path, *, quiet: bool) -> None:
    with atomic_write(output / SUMMARY) as tmp:
        tmp.write_text(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                   "items": [asdict(o) for o in outcomes]}, indent=2))
    failed = [o for o in outcomes if o.status == "failed"]
    if not quiet:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"batch: {len(outcomes)} items")
        for column in ("item", "status", "seconds", "error"):
            table.add_column(column)
        for o in outcomes:
            table.add_row(o.name, o.status, f"{o.seconds:.1f}" if o.seconds else "", o.error)
        Console(stderr=True).print(table)
    if failed:
        raise StylegramError(f"{len(failed)} of {len(outcomes)} items failed ({', '.join(o.name for o in failed)}); "
                             f"see {output / SUMMARY}")
