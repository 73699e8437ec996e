"""``--precision auto`` on a CPU: measured once per machine, not guessed from CPU flags.

bf16 autocast is 1.7x faster than fp32 on an AMD EPYC with AVX512-BF16 and no AMX, and 1.55x
slower on an Intel Xeon with the same flags (docs/performance.md): no flag tells them apart. So
``auto`` times a few forward and backward passes of the loop's network in both precisions on a
small input (about 2 s), keeps the faster one per machine (CPU model, cores, torch version) in the
stylegram home folder, and says so once. GPUs keep the rule: bf16 where the GPU supports it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import platform
import time
from pathlib import Path
from typing import Callable

import torch

from .fileio import atomic_write
from .home import home

PROBE_SIZE = 128  # px, square: a few passes take about 2 s on 2 cores
PROBE_REPEATS = 3  # timed passes per precision, interleaved, after one warm-up each; the fastest counts
BF16_MARGIN = 0.9  # bf16 only when its pass takes at most this fraction of fp32's: a clear gain, not noise
DECISIONS = "precision.json"
log = logging.getLogger("stylegram.precision")

Timer = Callable[[str], float]  # precision -> seconds of one forward + backward pass


def machine_key() -> str:
    """What a decision belongs to: the CPU model, the cores and torch's version."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model} | {os.cpu_count()} cores | torch {torch.__version__}"


def decisions_path() -> Path:
    return home() / DECISIONS


def cached_decision() -> dict | None:
    """This machine's measured decision ({"precision", "fp32_s", "bf16_s", "measured"}), if any."""
    try:
        return json.loads(decisions_path().read_text()).get(machine_key())
    except (OSError, ValueError, AttributeError):
        return None


def cpu_precision(*, timer: Timer | None = None, remeasure: bool = False) -> str:
    """The faster loop precision on this CPU: the cached decision, else measured now and cached."""
    decision = None if remeasure else cached_decision()
    if decision is None:
        decision = measure(timer or time_pass)
        _store(decision)
        log.info("precision auto: measured a %d px pass: fp32 %.3f s, bf16 %.3f s -> %s on this CPU "
                 "(kept in %s)", PROBE_SIZE, decision["fp32_s"], decision["bf16_s"], decision["precision"],
                 decisions_path())
    return decision["precision"]


def measure(timer: Timer) -> dict:
    """Both precisions, interleaved so that a load that comes and goes weighs on both alike; the fastest
    of each precision's timed passes counts (what the machine can do, not what else it was doing)."""
    seconds: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for precision in seconds:
        timer(precision)  # warm-up: oneDNN picks and caches its kernels
    for _ in range(PROBE_REPEATS):
        for precision, times in seconds.items():
            times.append(timer(precision))
    best = {precision: min(times) for precision, times in seconds.items()}
    faster = "bf16" if best["bf16"] <= BF16_MARGIN * best["fp32"] else "fp32"
    return {"precision": faster, "fp32_s": best["fp32"], "bf16_s": best["bf16"],
            "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def time_pass(precision: str) -> float:
    """Seconds of one forward + backward pass of the loop's VGG19 (random weights: the same work)."""
    model = _probe_model()
    image = torch.rand(1, 3, PROBE_SIZE, PROBE_SIZE).contiguous(memory_format=torch.channels_last)
    image.requires_grad_(True)
    started = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        features = model(image)
    sum(f.float().pow(2).mean() for f in features.values()).backward()
    return time.perf_counter() - started


@functools.cache
def _probe_model():
    from .layers import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS
    from .model import VGG19Features
    from .weights import load_weights

    model = VGG19Features(load_weights("random"), (*DEFAULT_CONTENT_LAYERS, *DEFAULT_STYLE_LAYERS))
    return model.to(memory_format=torch.channels_last)


def _store(decision: dict) -> None:
    try:
        known = json.loads(decisions_path().read_text())
    except (OSError, ValueError):
        known = {}
    known[machine_key()] = decision
    decisions_path().parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(decisions_path()) as tmp:
        tmp.write_text(json.dumps(known, indent=2))
