"""How many workers a batch runs, with how many threads, and how each item runs within its worker's share.

The memory budget (``--memory``, else what is available) is read in the driver and split evenly
between the workers (``Budget.share``): read once per batch. Every item is planned by the one
planner, ``engine.plan_scales``, against that share, and runs with exactly those plans. The number
of workers is automatic unless given: one per CPU (``threads`` each), no more than there are items,
and no more than lets every item's plan fit its share. An item that fits no share, even all the
memory, fails on its own with the planner's message, as does every item that does not fit the share
of a given ``--workers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..errors import StylegramError
from ..memory_estimate import Budget, Plan, memory_budget
from .manifest import BatchItem


@dataclass(frozen=True)
class BatchPlan:
    workers: int
    threads: int
    budget: Budget  # one worker's share
    plans: dict[str, tuple[Plan, ...]]  # item name -> one plan per scale, coarsest first
    errors: dict[str, str]  # item name -> why it cannot run within the share


def plan_workers(cores: int, workers: int, cpus_per_worker: int) -> tuple[int, int]:
    """(workers, threads each) for a cluster with ``cores`` CPUs; 0 means automatic: one thread per
    worker (2 workers x 1 thread beat 1 x 2 by 10% on 2 cores, docs/batch.md) and as many workers as CPUs."""
    if workers:
        return workers, cpus_per_worker or max(1, cores // workers)
    threads = cpus_per_worker or 1
    return max(1, cores // threads), threads


def plan_batch(items: Sequence[BatchItem], *, cores: int, workers: int = 0, cpus_per_worker: int = 0,
               memory: float | None = None) -> BatchPlan:
    """Workers, threads and each item's plans (see the module); items with a row ``error`` are left out."""
    count, threads = plan_workers(cores, workers, cpus_per_worker)
    count = max(1, min(count, len(items)))
    runnable = [item for item in items if not item.error]
    budget = memory_budget(memory)  # read once: every count below splits the same figure
    if workers:
        return _planned(runnable, count, threads, budget)
    whole = _planned(runnable, 1, threads, budget)
    fitting = [item for item in runnable if item.name not in whole.errors]  # the rest fail whatever the count
    low, high = 1, count  # the largest count at which every fitting item fits: fewer workers, larger shares
    while low < high:
        middle = (low + high + 1) // 2
        if _planned(fitting, middle, threads, budget).errors:
            high = middle - 1
        else:
            low = middle
    return whole if low == 1 else _planned(runnable, low, threads, budget)


def _planned(items: Sequence[BatchItem], count: int, threads: int, whole: Budget) -> BatchPlan:
    from ..engine import plan_scales

    budget = whole.share(count)
    plans, errors = {}, {}
    for item in items:
        try:
            plans[item.name] = tuple(plan_scales(item.content, item.settings, budget))
        except StylegramError as exc:  # too large for the share, or an unreadable content image
            errors[item.name] = " ".join(str(exc).split())
    return BatchPlan(count, threads, budget, plans, errors)
