"""``cache add --ray``: many styles' Grams with Ray Data, one ONNX Runtime session per actor (no torch).

A pure map (one cache entry per row, quick, idempotent), so Ray Data's actor pool fits it; ``batch``
drives its actors by hand instead (``ray_runner`` says why). The cluster comes from the same
``ray_cluster.start_ray``, and the actors get the driver's cache folder the same way as batch workers.

Style images of different sizes cannot be stacked into one batch, so each row is one (image, size)
and each actor computes it through the same ``style_targets`` as the sequential ``cache add``:
the same key, the same atomic write, the same per-key lock.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class GramActor:
    """Holds one session (a model file or a server) and the cache; computes one row at a time."""

    def __init__(self, model: str | None, server: str | None, threads: int, style_scale: float, stylegram_home: str):
        from ..runtime.cache import GramCache
        from ..runtime.sessions import Provider, SessionConfig, build_session
        from .ray_cluster import use_home

        use_home(stylegram_home)  # the driver's cache folder
        if server:
            from ..serve.client import ServerSession

            self.session = ServerSession(server)
        else:
            self.session = build_session(model, SessionConfig(provider=Provider.CPU, threads=threads))
        self.cache, self.style_scale = GramCache(), style_scale

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from ..runtime.targets import style_targets

        hits = [style_targets(self.session, path, size=int(size), style_scale=self.style_scale,
                              cache=self.cache).cache_hit
                for path, size in zip(batch["path"], batch["size"])]
        return {"path": batch["path"], "size": batch["size"], "hit": np.asarray(hits)}


def add_with_ray(files: list[Path], edges: list[int], *, style_scale: float, model: Path | None,
                 server: str | None, workers: int, threads: int) -> int:
    """Compute every (file, edge) entry on a Ray actor pool; returns how many were already cached."""
    import logging

    import ray

    from ..home import home

    logging.getLogger("ray.data").setLevel(logging.WARNING)
    ray.data.DataContext.get_current().enable_progress_bars = False
    rows = [{"path": str(path), "size": edge} for path in files for edge in edges]
    dataset = ray.data.from_items(rows)
    results = dataset.map_batches(
        GramActor, batch_size=1, num_cpus=threads, compute=ray.data.ActorPoolStrategy(size=workers),
        fn_constructor_kwargs={"model": str(model) if model else None, "server": server, "threads": threads,
                               "style_scale": style_scale, "stylegram_home": str(home())}).take_all()
    return int(sum(bool(row["hit"]) for row in results))
