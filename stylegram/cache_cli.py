"""``stylegram cache …``: precompute and manage style Gram targets. Torch is needed only to
export a model when no ``--model`` is given."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from .cli import D, ContentLayersOpt, ModelOpt, PoolOpt, QuietOpt, SizeListOpt, StyleLayersOpt, WeightsOpt, app
from .errors import InputError
from .images import OUTPUT_FORMATS

cache_app = typer.Typer(no_args_is_help=True, help="Precompute and manage cached style Gram matrices.")
app.add_typer(cache_app, name="cache")
IMAGE_SUFFIXES = set(OUTPUT_FORMATS) | {".tif", ".tiff", ".bmp"}
ProviderOpt = Annotated[str, typer.Option("--provider", help="ONNX Runtime provider: auto, cpu, cuda or tensorrt.")]


def _style_files(paths: List[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not found:
                raise InputError(f"style folder {path}: contains no images")
            files += found
        elif path.exists():
            files.append(path)
        else:
            raise InputError(f"style image {path}: file not found")
    return files


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise InputError(f"--size: expected comma-separated whole numbers, got {text!r}") from None
    if any(size <= 0 for size in sizes):
        raise InputError(f"--size must be positive, got {text}")
    return sizes


@cache_app.command("add")
def add(
    styles: Annotated[List[Path], typer.Argument(help="Style images or folders of images.")],
    size: SizeListOpt = str(D.size),
    style_scale: Annotated[float, typer.Option(help="Style image size relative to --size.")] = D.style_scale,
    model: ModelOpt = None,
    provider: ProviderOpt = "auto",
    content_layers: ContentLayersOpt = ",".join(D.content_layers),
    style_layers: StyleLayersOpt = ",".join(D.style_layers),
    pool: PoolOpt = D.pool,
    weights: WeightsOpt = D.weights,
    quiet: QuietOpt = False,
) -> None:
    """Compute and store the style Grams of STYLES at each --size (skips entries already cached)."""
    from rich.progress import Progress

    from .runtime.cache import GramCache
    from .runtime.sessions import SessionConfig, shared_session
    from .runtime.targets import style_targets

    files, sizes = _style_files(styles), _sizes(size)
    if not style_scale > 0:
        raise InputError(f"--style-scale must be positive, got {style_scale}")
    path = model or _default_model(content_layers, style_layers, pool, weights)
    fs = shared_session(path, SessionConfig(provider=_provider(provider)))
    cache, hits, started = GramCache(), 0, time.perf_counter()
    with Progress(disable=quiet, transient=True) as bar:
        task = bar.add_task("style Grams", total=len(files) * len(sizes))
        for file in files:
            for edge in sizes:
                hits += style_targets(fs, file, size=edge, style_scale=style_scale, cache=cache).cache_hit
                bar.advance(task)
    if not quiet:
        done = len(files) * len(sizes)
        typer.echo(f"{done} entries ({hits} already cached, {done - hits} computed) with {fs.providers[0]} "
                   f"in {time.perf_counter() - started:.1f} s -> {cache.root}")


def _provider(name: str):
    from .runtime.sessions import Provider

    try:
        return Provider(name)
    except ValueError:
        raise InputError(f"--provider {name}: unknown provider; use auto, cpu, cuda or tensorrt") from None


def _default_model(content_layers: str, style_layers: str, pool: str, weights: Optional[str]) -> Path:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise InputError("--model is required where torch is not installed (export one with: stylegram export)")
    from .settings import StylizeSettings
    from .targets import managed_model
    from .weights import load_weights

    settings = StylizeSettings(content_layers=tuple(content_layers.split(",")),
                               style_layers=tuple(style_layers.split(",")), pool=pool, weights=weights)
    return managed_model(settings, load_weights(weights))


@cache_app.command("ls")
def ls() -> None:
    """List cache entries, most recently used first."""
    from .runtime.cache import GramCache

    cache = GramCache()
    entries = cache.entries()
    typer.echo(f"{'key':<14} {'image':<24} {'size':>5} {'scale':>5} {'layers':<40} {'bytes':>10}  last used")
    for e in entries:
        used = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.last_used))
        typer.echo(f"{e.digest[:12]:<14} {e.image[:24]:<24} {e.size:>5} {e.style_scale:>5g} "
                   f"{','.join(e.layers)[:40]:<40} {e.bytes:>10}  {used}")
    typer.echo(f"{len(entries)} entries, {sum(e.bytes for e in entries)} bytes in {cache.root}")


@cache_app.command("rm")
def rm(keys: Annotated[List[str], typer.Argument(help="Key prefixes as shown by `cache ls`.")]) -> None:
    """Remove the entries whose keys start with KEYS."""
    from .runtime.cache import GramCache

    if any(len(k) < 4 for k in keys):
        raise InputError("cache rm: give at least 4 characters of each key")
    typer.echo(f"removed {GramCache().remove(list(keys))} entries")


@cache_app.command("clear")
def clear() -> None:
    """Remove every entry."""
    from .runtime.cache import GramCache

    typer.echo(f"removed {GramCache().clear()} entries")


@cache_app.command("verify")
def verify(fix: Annotated[bool, typer.Option("--fix", help="Delete the damaged entries.")] = False) -> None:
    """Check every entry (checksum, key, layers); exit 1 if any is damaged."""
    from .errors import CacheError
    from .runtime.cache import GramCache

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
