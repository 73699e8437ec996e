"""Many stylizations on Ray actors: one job per item, one item per worker at a time.

Why actors driven by hand, when ``cache add --ray`` (``ray_cache``) is a Ray Data map: an item is
minutes of work and the batch must (1) make a failed item one failed outcome while the others go on,
(2) report each outcome as it ends (progress, summary), (3) cancel the rest on Ctrl-C, keeping what
finished, and (4) replace a worker whose process died. Ray Data retries or aborts the whole dataset,
and ``ray.util.ActorPool`` gives a dead actor back to its pool, so neither fits; a cache entry is a
pure, quick map where Ray Data's batching is all that is needed.

Each worker holds ``threads`` CPUs and runs its items with ``settings.threads`` set to that (torch and
ONNX Runtime use that many threads), so W workers on C cores never oversubscribe them. Every item
runs with the plans the driver made for it (``planning``); style Grams are shared through the
driver's cache folder, passed to every worker (``ray_cluster.use_home``), or come from a server.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from ..errors import StylegramError
from ..home import home
from ..memory_estimate import Plan
from .manifest import BatchItem
from .ray_cluster import use_home


@dataclass
class ItemOutcome:
    name: str
    status: str  # "done", "skipped" (finished before, same key), "failed", "cancelled"
    error: str = ""
    seconds: float = 0.0
    output: str = ""


@dataclass(frozen=True)
class Job:
    item: BatchItem  # with the worker's threads in its settings
    plans: tuple[Plan, ...]  # one per scale, within the worker's share; () when item.error says why not


def stylize_item(job: Job, folder: Path) -> ItemOutcome:
    """One item, start to finish; every failure becomes this item's outcome, never an exception."""
    from ..engine import stylize
    from ..images import save_image
    from ..loop import Stop

    item, started = job.item, time.perf_counter()
    if item.error:
        return ItemOutcome(item.name, "failed", item.error)
    try:
        result = stylize(item.content, list(item.styles), item.settings, plans=list(job.plans))
        if result.stopped is Stop.DIVERGED:
            return ItemOutcome(item.name, "failed", result.message, time.perf_counter() - started)
        output = item.output(folder)
        save_image(result.image, output, recipe=result.recipe)
    except StylegramError as exc:
        return ItemOutcome(item.name, "failed", " ".join(str(exc).split()), time.perf_counter() - started)
    except Exception as exc:  # anything else still costs only this item
        return ItemOutcome(item.name, "failed", f"{type(exc).__name__}: {exc}"[:300], time.perf_counter() - started)
    return ItemOutcome(item.name, "done", seconds=time.perf_counter() - started, output=str(output))


class Worker:
    """A Ray actor: one process, reused for many items (torch, weights and sessions stay loaded)."""

    def __init__(self, stylegram_home: str):
        use_home(stylegram_home)

    def run(self, job: Job, folder: str) -> dict:
        return asdict(stylize_item(job, Path(folder)))


def run_items(jobs: list[Job], folder: Path, *, workers: int, threads: int,
              on_outcome: Callable[[ItemOutcome], None],
              should_stop: Callable[[], bool] = lambda: False) -> list[ItemOutcome]:
    """Run ``jobs`` in order on ``workers`` actors of ``threads`` CPUs; ``on_outcome`` sees each as it ends.
    Ctrl-C (KeyboardInterrupt) or ``should_stop()``, polled at least every second, cancels the rest."""
    import ray

    actor_class = ray.remote(Worker).options(num_cpus=threads, max_restarts=0)
    idle = deque(actor_class.remote(str(home())) for _ in range(min(workers, len(jobs))))
    actors, queue, pending, outcomes = list(idle), deque(jobs), {}, []
    try:
        while queue or pending:
            if should_stop():
                raise KeyboardInterrupt
            while queue and idle:
                job, actor = queue.popleft(), idle.popleft()
                pending[actor.run.remote(job, str(folder))] = (job, actor)
            done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in done:
                job, actor = pending.pop(ref)
                try:
                    outcome = ItemOutcome(**ray.get(ref))
                except ray.exceptions.RayError as exc:  # the worker process died: replace it
                    outcome = ItemOutcome(job.item.name, "failed", f"worker died: {str(exc).splitlines()[0][:200]}")
                    ray.kill(actor)
                    actor = actor_class.remote(str(home()))
                    actors.append(actor)
                idle.append(actor)
                outcomes.append(outcome)
                on_outcome(outcome)
    except KeyboardInterrupt:
        outcomes += [ItemOutcome(job.item.name, "cancelled") for job, _ in pending.values()]
        outcomes += [ItemOutcome(job.item.name, "cancelled") for job in queue]
        raise BatchInterrupted(outcomes) from None
    finally:
        for actor in actors:
            ray.kill(actor)
    return outcomes


class BatchInterrupted(Exception):
    def __init__(self, outcomes: list[ItemOutcome]):
        super().__init__("interrupted")
        self.outcomes = outcomes
