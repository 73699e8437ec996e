"""Many stylizations on a Ray cluster: a local one by default, an existing one by address.

Each worker is a Ray actor holding ``threads`` CPUs, with torch (and through it ONNX Runtime)
limited to that many threads, so W workers on C cores never oversubscribe them. Items run one per
worker at a time; a failed item is one failed item, and a worker that dies is replaced. Style
targets are shared between items through the Gram cache (the driver's ``home()`` is passed to
every worker), or come from a server when the settings name one.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from ..errors import StylegramError
from ..home import HOME_ENV, home
from ..images import read_recipe
from .manifest import BatchItem


@dataclass
class ItemOutcome:
    name: str
    status: str  # "done", "skipped" (finished before, same key), "failed", "cancelled"
    error: str = ""
    seconds: float = 0.0
    output: str = ""


def weights_sha256(source: str | None) -> str:
    """The weights' identity for item keys, without decoding them."""
    from ..fileio import sha256_file
    from ..weights import ORIGINAL_SHA256

    if source in (None, "original"):
        return ORIGINAL_SHA256
    if source == "random":
        return "random-seed0"
    try:
        return sha256_file(Path(source))
    except OSError:
        return f"unreadable:{source}"


def finished(item: BatchItem, folder: Path, key: str) -> bool:
    """The output exists and was made from exactly this item (its recipe carries the same key)."""
    try:
        return (read_recipe(item.output(folder)) or {}).get("item_key") == key
    except Exception:  # missing or unreadable output: not finished
        return False


def stylize_item(item: BatchItem, folder: Path, key: str) -> ItemOutcome:
    """One item, start to finish; every failure becomes this item's outcome, never an exception."""
    from ..images import save_image
    from ..loop import Stop
    from ..stylize import stylize

    started = time.perf_counter()
    if item.error:
        return ItemOutcome(item.name, "failed", item.error)
    try:
        result = stylize(item.content, list(item.styles), item.settings)
        if result.stopped is Stop.DIVERGED:
            return ItemOutcome(item.name, "failed", result.message, time.perf_counter() - started)
        output = item.output(folder)
        save_image(result.image, output, recipe=result.recipe | {"item_key": key})
    except StylegramError as exc:
        return ItemOutcome(item.name, "failed", " ".join(str(exc).split()), time.perf_counter() - started)
    except Exception as exc:  # anything else still costs only this item
        return ItemOutcome(item.name, "failed", f"{type(exc).__name__}: {exc}"[:300], time.perf_counter() - started)
    return ItemOutcome(item.name, "done", seconds=time.perf_counter() - started, output=str(output))


class Worker:
    """A Ray actor: one process, ``threads`` threads, reused for many items (weights stay decoded)."""

    def __init__(self, threads: int, stylegram_home: str):
        import torch

        torch.set_num_threads(threads)
        os.environ[HOME_ENV] = stylegram_home  # the driver's cache folder, wherever the cluster was started

    def run(self, item: BatchItem, folder: str, key: str) -> dict:
        return asdict(stylize_item(item, Path(folder), key))


def start_ray(address: str | None, *, cpus: int | None = None) -> bool:
    """Join ``address`` or start a local cluster limited to this machine's cores; True if started here."""
    import ray

    if ray.is_initialized():
        return False
    try:
        if address:
            ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        else:
            ray.init(num_cpus=cpus or os.cpu_count(), include_dashboard=False, logging_level="ERROR", log_to_driver=False, object_store_memory=256 * 2**20)
    except Exception as exc:  # ConnectionError and Ray's own types
        raise StylegramError(f"Ray: cannot {'join ' + address if address else 'start a local cluster'} "
                             f"({str(exc).splitlines()[0][:200]})") from None
    return True


def plan_workers(cores: int, workers: int, cpus_per_worker: int, *, memory: float | None = None,
                 per_worker: int | None = None) -> tuple[int, int]:
    """(workers, threads each) for a cluster with ``cores`` CPUs; 0 means automatic.

    Automatic: one thread per worker (2 workers x 1 thread beat 1 x 2 by 10% on 2 cores, README),
    as many workers as CPUs, but no more than the cluster's memory holds at ``per_worker`` bytes each.
    """
    if workers:
        return workers, cpus_per_worker or max(1, cores // workers)
    threads = cpus_per_worker or 1
    count = max(1, cores // threads)
    if memory and per_worker:
        count = max(1, min(count, int(memory // per_worker)))
    return count, threads


def run_items(items: list[BatchItem], folder: Path, keys: dict[str, str], *, workers: int, threads: int,
              on_outcome: Callable[[ItemOutcome], None],
              should_stop: Callable[[], bool] = lambda: False) -> list[ItemOutcome]:
    """Run ``items`` (``keys``: item name -> ``item_key``) on ``workers`` actors; ``on_outcome`` sees each
    as it ends. Ctrl-C (KeyboardInterrupt) or ``should_stop()``, polled at least every second, cancels the rest."""
    import ray

    actor_class = ray.remote(Worker).options(num_cpus=threads, max_restarts=0)
    actors = [actor_class.remote(threads, str(home())) for _ in range(min(workers, len(items)))]
    queue, pending, outcomes = list(items), {}, []
    try:
        while queue or pending:
            if should_stop():
                raise KeyboardInterrupt
            while queue and len(pending) < len(actors):
                actor = _idle(actors, pending)
                item = queue.pop(0)
                pending[actor.run.remote(item, str(folder), keys[item.name])] = (item, actor)
            done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in done:
                item, actor = pending.pop(ref)
                try:
                    outcome = ItemOutcome(**ray.get(ref))
                except ray.exceptions.RayError as exc:  # the worker process died: replace it
                    outcome = ItemOutcome(item.name, "failed", f"worker died: {str(exc).splitlines()[0][:200]}")
                    actors[actors.index(actor)] = actor_class.remote(threads, str(home()))
                outcomes.append(outcome)
                on_outcome(outcome)
    except KeyboardInterrupt:
        for actor in actors:
            ray.kill(actor)
        outcomes += [ItemOutcome(item.name, "cancelled") for item, _ in pending.values()]
        outcomes += [ItemOutcome(item.name, "cancelled") for item in queue]
        raise BatchInterrupted(outcomes) from None
    for actor in actors:
        ray.kill(actor)
    return outcomes


def _idle(actors: list, pending: dict):
    busy = {id(actor) for _, actor in pending.values()}
    return next(actor for actor in actors if id(actor) not in busy)


class BatchInterrupted(Exception):
    def __init__(self, outcomes: list[ItemOutcome]):
        super().__init__("interrupted")
        self.outcomes = outcomes
