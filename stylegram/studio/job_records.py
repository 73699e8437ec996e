"""What a studio job is, and the jobs list kept in ``.studio/jobs.json`` from one start to the next.

A job that was queued or running when the studio stopped comes back stopped (its state file, when one was
saved, lets Resume continue it); the list keeps the ``KEPT_JOBS`` newest jobs.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from ..fileio import atomic_write

LOSS_POINTS = 400  # the loss curve keeps at most about this many points (every 2nd, 4th, ... iteration)
KEPT_JOBS = 200  # jobs remembered in jobs.json
JOB_ID = re.compile(r"^[0-9a-f]{12}$")


@dataclass
class Job:
    id: str
    content: str  # a Library picture id
    styles: list[str]
    settings: dict  # forms.ALLOWED fields only
    created: float
    masks: list[str] | None = None  # MaskStore ids, one per style image (painted on the page)
    status: str = "queued"  # queued, running, stopping, stopped, done, failed, cancelled
    source: str | None = None  # the gallery result it re-runs
    iteration: int = 0
    iterations: int = 0
    scale: int = 0
    scales: int = 0
    size: int = 0
    loss: float | None = None
    seconds_per_iteration: float | None = None
    eta: float | None = None
    losses: list = field(default_factory=list)  # [iteration, loss], every ``loss_stride``-th iteration
    loss_stride: int = 1
    message: str = ""  # one line: why it failed, or a note
    result: str | None = None  # file name in the studio's folder
    best: bool = False  # a best-so-far image was kept when it stopped
    resumable: bool = False  # a state file was kept when it stopped
    resume_next: bool = False  # the next run continues from the state file
    started: float | None = None
    finished: float | None = None
    stop_requested: bool = field(default=False, repr=False)

    def stored(self) -> dict:
        data = asdict(self)
        data.pop("stop_requested")
        return data

    def record_loss(self, iteration: int, loss: float) -> None:
        if iteration % self.loss_stride == 0:
            self.losses.append([iteration, loss])
        if len(self.losses) > LOSS_POINTS:
            self.loss_stride *= 2
            self.losses = [point for point in self.losses if point[0] % self.loss_stride == 0]


def save_jobs(path: Path, jobs: Iterable[Job]) -> None:
    kept = sorted(jobs, key=lambda j: j.created)[-KEPT_JOBS:]
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps([job.stored() for job in kept], indent=1))


def load_jobs(path: Path) -> list[Job]:
    """The jobs saved in ``path`` (none when it is missing or unreadable); unfinished ones come back stopped."""
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    names = {f for f in Job.__dataclass_fields__ if f != "stop_requested"}
    jobs = []
    for data in stored if isinstance(stored, list) else []:
        try:
            job = Job(**{k: v for k, v in data.items() if k in names})
        except TypeError:
            continue
        if not JOB_ID.match(str(job.id)):
            continue
        if job.status in ("running", "stopping", "queued"):
            job.message = "the studio stopped before this job finished; resume it"
            job.status = "stopped"
        job.resume_next = False
        jobs.append(job)
    return jobs
