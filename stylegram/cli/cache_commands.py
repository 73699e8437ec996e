"""``stylegram cache …``: precompute and manage style Gram targets.

Torch is needed only to export a model when no ``--model`` is given, so a server with only
onnxruntime can fill the cache from an exported model.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from ..errors import CacheError, InputError
from ..images import image_files
from ..runtime.sessions import Provider
from ..settings import StylizeSettings
from .options import (
    DEFAULTS,
    ContentLayersOpt,
    ModelOpt,
    PoolOpt,
    ProviderOpt,
    QuietOpt,
    ScalesOpt,
    ServerModelOpt,
    ServerOpt,
    SizeListOpt,
    StyleLayersOpt,
    StyleScaleOpt,
    WeightsOpt,
    managed_model_path,
    sizes,
    split_list,
)

cache_app = typer.Typer(no_args_is_help=True, help="Precompute and manage cached style Gram matrices.")


def style_files(paths: List[Path]) -> list[Path]:
    """Image files named directly or found in the named folders."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += image_files(path, "style folder")
        elif path.exists():
            files.append(path)
        else:
            raise InputError(f"style image {path}: file not found")
    return files


@cache_app.command("add")
def add(
    styles: Annotated[List[Path], typer.Argument(help="Style images or folders of images.")],
    size: SizeListOpt = str(DEFAULTS.size),
    scales: ScalesOpt = DEFAULTS.scales,
    style_scale: StyleScaleOpt = DEFAULTS.style_scale,
    model: ModelOpt = None,
    server: ServerOpt = None,
    server_model: ServerModelOpt = DEFAULTS.server_model,
    provider: ProviderOpt = Provider.AUTO,
    content_layers: ContentLayersOpt = ",".join(DEFAULTS.content_layers),
    style_layers: StyleLayersOpt = ",".join(DEFAULTS.style_layers),
    pool: PoolOpt = DEFAULTS.pool,
    weights: WeightsOpt = DEFAULTS.weights,
    ray: Annotated[bool, typer.Option(
        "--ray", help="Compute on a Ray cluster (Ray Data, one session per actor).")] = False,
    address: Annotated[Optional[str], typer.Option(
        help="With --ray: cluster to join, auto or HOST:PORT (default: a new local one; docs/batch.md).")] = None,
    workers: Annotated[int, typer.Option(help="With --ray: actors (0: automatic).")] = 0,
    cpus_per_worker: Annotated[int, typer.Option(
        help="With --ray: CPUs and threads per actor (0: cores / workers).")] = 0,
    quiet: QuietOpt = False,
) -> None:
    """Compute and store the style Grams of STYLES for a stylization at each --size: one entry per
    scale of its coarse-to-fine schedule, as `stylize` uses them (entries already cached are skipped)."""
    from rich.progress import Progress

    from ..runtime.cache import GramCache
    from ..runtime.sessions import SessionConfig, shared_session
    from ..runtime.targets import style_targets

    files = style_files(styles)
    runs = [StylizeSettings(size=edge, scales=scales, style_scale=style_scale, pool=pool, weights=weights,
                            content_layers=split_list(content_layers, "--content-layers"),
                            style_layers=split_list(style_layers, "--style-layers")) for edge in sizes(size, "--size")]
    edges = sorted({edge for run in runs for edge, _ in run.schedule()})
    if ray:
        if server_model != DEFAULTS.server_model:
            raise InputError("--server-model with --ray: the Ray actors ask for the default name; drop --ray")
        return _add_with_ray(files, edges, style_scale, model or (None if server else managed_model_path(runs[0])),
                             server, address, workers, cpus_per_worker, quiet)
    if server:
        from ..serve.client import ServerSession

        session = ServerSession(server, model_name=server_model)
    else:
        session = shared_session(model or managed_model_path(runs[0]), SessionConfig(provider=provider))
    cache, hits, started = GramCache(), 0, time.perf_counter()
    with Progress(disable=quiet, transient=True) as bar:
        task = bar.add_task("style Grams", total=len(files) * len(edges))
        for file in files:
            for edge in edges:
                hits += style_targets(session, file, size=edge, style_scale=style_scale, cache=cache).cache_hit
                bar.advance(task)
    if not quiet:
        done = len(files) * len(edges)
        typer.echo(f"{done} entries ({hits} already cached, {done - hits} computed; sizes "
                   f"{', '.join(map(str, edges))}) with {session.providers[0]} "
                   f"in {time.perf_counter() - started:.1f} s -> {cache.root}")


def _add_with_ray(files, edges, style_scale, model, server, address, workers, cpus_per_worker, quiet) -> None:
    import ray as ray_module

    from ..batch.planning import plan_workers
    from ..batch.ray_cache import add_with_ray
    from ..batch.ray_cluster import start_ray
    from ..runtime.cache import GramCache

    started, began = start_ray(address), time.perf_counter()
    try:
        count, threads = plan_workers(int(ray_module.cluster_resources().get("CPU", 1)), workers, cpus_per_worker)
        hits = add_with_ray(files, edges, style_scale=style_scale, model=model, server=server, workers=count,
                            threads=threads)
    finally:
        if started:
            ray_module.shutdown()
    if not quiet:
        done = len(files) * len(edges)
        typer.echo(f"{done} entries ({hits} already cached, {done - hits} computed; "
                   f"sizes {', '.join(map(str, edges))}) "
                   f"on Ray, {count} actors x {threads} threads, "
                   f"in {time.perf_counter() - began:.1f} s -> {GramCache().root}")


@cache_app.command("ls")
def ls() -> None:
    """List cache entries, most recently used first."""
    from ..runtime.cache import GramCache

    cache = GramCache()
    entries = cache.entries()
    typer.echo(f"{'key':<14} {'image':<24} {'size':>5} {'scale':>5} {'layers':<40} {'bytes':>10}  last used")
    for entry in entries:
        used = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.last_used))
        typer.echo(f"{entry.digest[:12]:<14} {entry.image[:24]:<24} {entry.size:>5} {entry.style_scale:>5g} "
                   f"{','.join(entry.layers)[:40]:<40} {entry.bytes:>10}  {used}")
    typer.echo(f"{len(entries)} entries, {sum(e.bytes for e in entries)} bytes in {cache.root}")


@cache_app.command("rm")
def rm(keys: Annotated[List[str], typer.Argument(help="Key prefixes as shown by `cache ls`.")]) -> None:
    """Remove the entries whose keys start with KEYS."""
    from ..runtime.cache import GramCache

    if any(len(k) < 4 for k in keys):
        raise InputError("cache rm: give at least 4 characters of each key")
    typer.echo(f"removed {GramCache().remove(list(keys))} entries")


@cache_app.command("clear")
def clear() -> None:
    """Remove every entry."""
    from ..runtime.cache import GramCache

    typer.echo(f"removed {GramCache().clear()} entries")


@cache_app.command("verify")
def verify(fix: Annotated[bool, typer.Option("--fix", help="Delete the damaged entries.")] = False) -> None:
    """Check every entry (checksum, key, layers); exit 1 if any is damaged."""
    from ..runtime.cache import GramCache

    cache = GramCache()
    problems = cache.verify()
    for path, problem in problems:
        typer.echo(f"{path.name}: {problem}")
        if fix:
            path.unlink(missing_ok=True)
    total = len(cache.entry_paths()) + (len(problems) if fix else 0)
    if problems and not fix:
        raise CacheError(f"{len(problems)} of {total} cache entries are damaged (run: stylegram cache verify --fix)")
    typer.echo(f"{total} entries checked, {len(problems)} damaged{' and removed' if fix and problems else ''}")
