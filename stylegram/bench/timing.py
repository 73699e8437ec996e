"""Timing and memory helpers: warm-up, repeats, percentiles, peak resident memory."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Timing:
    first_s: float  # the first call (cuDNN algorithm search, TensorRT engine build, allocations)
    median_s: float
    p10_s: float
    p90_s: float
    repeats: int

    @property
    def per_second(self) -> float:
        return 1.0 / self.median_s if self.median_s > 0 else float("inf")


def measure(call: Callable[[], object], *, warmup: int, repeats: int,
            sync: Callable[[], None] = lambda: None) -> Timing:
    """Time ``call`` after ``warmup`` runs; ``sync`` waits for the device before each clock read."""
    started = time.perf_counter()
    call()
    sync()
    first = time.perf_counter() - started
    for _ in range(max(0, warmup - 1)):
        call()
    sync()
    samples = []
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        call()
        sync()
        samples.append(time.perf_counter() - started)
    p10, median, p90 = np.percentile(samples, [10, 50, 90])
    return Timing(first, float(median), float(p10), float(p90), len(samples))


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as handle:
            import os

            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class PeakMemory:
    """Peak resident memory above the starting level while the block runs (Linux /proc; else None)."""

    def __init__(self, interval: float = 0.002):
        self.interval = interval
        self.peak_bytes: int | None = None
        self._stop = threading.Event()

    def __enter__(self) -> "PeakMemory":
        self._base = _rss_bytes()
        self._max = self._base
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            current = _rss_bytes()
            if current is not None and self._max is not None:
                self._max = max(self._max, current)
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if self._base is not None and self._max is not None:
            self.peak_bytes = self._max - self._base
