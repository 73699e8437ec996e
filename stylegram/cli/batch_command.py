"""``stylegram batch``: many stylizations on Ray, resumable, where one bad input costs one item."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError, Interrupted, StylegramError
from ..fileio import atomic_write
from ..settings import StylizeSettings
from .options import (
    DEFAULTS,
    CacheOpt,
    ContentWeightOpt,
    IterationsOpt,
    MemoryOpt,
    OptimizerOpt,
    PrecisionOpt,
    QuietOpt,
    ScalesOpt,
    SeedOpt,
    ServerModelOpt,
    ServerOpt,
    SizeOpt,
    StyleScaleOpt,
    StyleWeightOpt,
    TargetsOpt,
    TileOpt,
    TolOpt,
    TvWeightOpt,
    WeightsOpt,
)
from .stop_signals import StopRequests

SUMMARY = "batch-summary.json"


def batch(
    manifest: Annotated[Optional[Path], typer.Argument(
        help="CSV or JSON Lines: content, styles (';'-separated in CSV), optional size, iterations, "
             "style_weight, content_weight, tv_weight, style_scale, seed.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder (created).")] = Path("batch-out"),
    contents: Annotated[Optional[Path], typer.Option(
        help="Instead of a manifest: every image of this folder ...")] = None,
    styles: Annotated[Optional[Path], typer.Option(help="... with every image of this folder.")] = None,
    address: Annotated[Optional[str], typer.Option(
        help="Ray cluster to join: auto or HOST:PORT, with the head's auth token (docs/batch.md; default: start "
             "a new local one on this machine's cores).")] = None,
    workers: Annotated[int, typer.Option(
        help="Concurrent stylizations (0: one per CPU, no more than there are items, and no more than lets "
             "every item's plan fit its worker's share of --memory).")] = 0,
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
    server_model: ServerModelOpt = DEFAULTS.server_model,
    cache: CacheOpt = DEFAULTS.cache,
    memory: MemoryOpt = None,
    tile: TileOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Stylize every item of MANIFEST (or the --contents x --styles grid) into --output, on Ray.

    Finished items are skipped on a rerun (recognised by their recipe's key, so a changed setting
    reruns them); a failed item is reported and the others go on; exit 1 if any item failed.

    --memory (default: what is available here) is split evenly between the workers, and each item is
    planned within its worker's share, larger ones in tiles."""
    from ..batch.manifest import grid, read_manifest

    defaults = StylizeSettings(size=size, iterations=iterations, scales=scales, tol=tol, optimizer=optimizer,
                               seed=seed, content_weight=content_weight, style_weight=style_weight,
                               tv_weight=tv_weight, style_scale=style_scale, weights=weights, precision=precision,
                               targets=targets, server=server, server_model=server_model, cache=cache,
                               memory=memory, tile=tile)
    if (manifest is None) == (contents is None or styles is None):
        raise InputError("give a MANIFEST, or --contents DIR and --styles DIR")
    items = read_manifest(manifest, defaults) if manifest else grid(contents, styles, defaults)
    if output.exists() and not output.is_dir():
        raise InputError(f"--output {output}: is a file, not a folder")
    output.mkdir(parents=True, exist_ok=True)
    outcomes = _run(items, output, address=address, workers=workers, cpus_per_worker=cpus_per_worker,
                    memory=memory, quiet=quiet)
    order = {item.name: index for index, item in enumerate(items)}
    _summarize(sorted(outcomes, key=lambda o: order[o.name]), output, quiet=quiet)


def _run(items, output: Path, *, address, workers: int, cpus_per_worker: int, memory, quiet: bool):
    from ..batch.identity import finished, item_key
    from ..batch.ray_cluster import start_ray
    from ..batch.ray_runner import ItemOutcome

    keys = {item.name: item_key(item) for item in items}  # hashes every input
    done = {item.name for item in items if finished(item, output, keys[item.name])}
    todo = [item for item in items if item.name not in done]
    outcomes = [ItemOutcome(item.name, "skipped", output=str(item.output(output)))
                for item in items if item.name in done]
    if not todo:
        return outcomes
    import ray

    started_here = start_ray(address)
    try:
        plan, jobs = _plan(todo, int(ray.cluster_resources().get("CPU", 1)), workers, cpus_per_worker, memory, quiet)
        return outcomes + _run_jobs(jobs, output, plan, outcomes, quiet)
    finally:
        if started_here:
            ray.shutdown()


def _plan(todo, cores: int, workers: int, cpus_per_worker: int, memory, quiet: bool):
    """Workers, threads and every item's plans (``batch.planning``), printed unless quiet; the jobs to run."""
    from ..batch.planning import plan_batch
    from ..batch.ray_runner import Job

    plan = plan_batch(todo, cores=cores, workers=workers, cpus_per_worker=cpus_per_worker, memory=memory)
    if not quiet:  # like stylize's plan lines: one per tiled scale, else the final scale's
        print(f"batch: {plan.workers} worker(s) x {plan.threads} thread(s), {plan.budget.bytes / 2**30:.1f} GiB "
              f"each ({plan.budget.source})", file=sys.stderr)
        for name, plans in plan.plans.items():
            for scale in [p for p in plans if p.tile is not None] or plans[-1:]:
                print(f"plan: {name}: {scale.describe()}", file=sys.stderr)
    jobs = [Job(replace(item, settings=replace(item.settings, threads=plan.threads),
                        error=item.error or plan.errors.get(item.name, "")), plan.plans.get(item.name, ()))
            for item in todo]
    return plan, jobs


def _run_jobs(jobs, output: Path, plan, finished_before, quiet: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..batch.ray_runner import BatchInterrupted, run_items

    failures = [0]
    columns = (TextColumn("batch"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[failed]} failed"),
               TimeRemainingColumn())
    with Progress(*columns, disable=quiet, transient=False) as bar:
        task = bar.add_task("", total=len(jobs), failed=0)

        def on_outcome(outcome) -> None:
            failures[0] += outcome.status == "failed"
            bar.update(task, advance=1, failed=failures[0])

        stops = StopRequests()
        try:
            with stops:
                return run_items(jobs, output, workers=plan.workers, threads=plan.threads, on_outcome=on_outcome,
                                 should_stop=lambda: bool(stops))
        except BatchInterrupted as stop:
            _summarize(finished_before + stop.outcomes, output, quiet=True)
            raise Interrupted(f"interrupted; finished outputs are kept, the rest is listed in "
                              f"{output / SUMMARY}; rerun the same command to continue", stops.first) from None


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
