"""Shots in parallel on Ray: one task per shot, its frames in order inside it (``run.run_shot``).

The cluster comes from the batch module's ``start_ray`` (a new local cluster, or ``--address``), and each
task gets the driver's cache folder (``use_home``), so every shot's first frame shares the style Grams.
Tasks write their frames into the work folder themselves: the driver's folder must be visible to the
workers (one machine, or a shared file system). Each task holds ``threads`` CPUs and runs torch and ONNX
Runtime with that many threads; the frames' keys do not include threads, so a rerun without Ray (or with
other workers) still finds them done.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from ..errors import StylegramError
from .frames import Frame
from .settings import VideoSettings


def _shot_task(stylegram_home: str, shot: list[Frame], styles: list[Path], video: VideoSettings) -> list:
    from ..batch.ray_cluster import use_home
    from .run import run_shot

    use_home(stylegram_home)
    finished: list = []
    run_shot(shot, styles, video, on_frame=finished.append)
    return finished


def run_shots_on_ray(shots: Sequence[list[Frame]], styles: Sequence[Path], video: VideoSettings, *,
                     address: str | None, on_frame: Callable, should_stop: Callable[[], bool]) -> bool:
    """Run every shot as a Ray task; report each shot's frames when it ends; False if stopped."""
    import ray

    from ..batch.ray_cluster import start_ray
    from ..home import home

    started_here = start_ray(address)
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        workers = min(len(shots), cpus)
        threads = max(1, cpus // workers)
        video = replace(video, first=replace(video.first, threads=threads),
                        later=replace(video.later, threads=threads))
        task = ray.remote(_shot_task).options(num_cpus=threads, max_retries=0)
        pending = {task.remote(str(home()), list(shot), list(styles), video): shot for shot in shots}
        while pending:
            if should_stop():
                for ref in pending:
                    ray.cancel(ref, force=True)
                return False
            done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in done:
                shot = pending.pop(ref)
                try:
                    events = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    cause = str(exc).strip().splitlines()
                    raise StylegramError(f"shot {shot[0].shot + 1} (from frame {shot[0].index}) failed on Ray: "
                                         f"{(cause[-1] if cause else type(exc).__name__)[:200]}") from None
                for event in events:
                    on_frame(event)
        return True
    finally:
        if started_here:
            ray.shutdown()
