"""The studio's jobs: one runs at a time, the rest wait in a queue; every open tab sees the same state.

A job is ``stylize`` on images of the ``Library`` (and, when painted, masks of the ``MaskStore``) with
settings checked by ``forms.settings_from``; ``job_runner.py`` runs it. Stopping one (the page's Stop,
or Ctrl-C on the server) ends it at an iteration boundary through the engine's ``should_stop``, and
Resume continues it from the engine's snapshot. Finished images go to the studio's folder with their
recipe: that folder is the gallery (``gallery.py``). The jobs list is kept in ``.studio/jobs.json``
(``job_records.py``), so the next start offers to resume.

Everything a tab shows is in ``state()`` (plus live previews, ``previews_since``); ``version`` goes
up on every change, which is what the event stream waits on.
"""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import InputError
from ..sizing import content_min_side
from .forms import DEFAULTS, settings_from
from .gallery import Gallery
from .job_records import Job, load_jobs, save_jobs
from .job_runner import run_job
from .library import Library, bundled_examples, without_paths
from .mask_store import MaskStore

MAX_WAITING = 100  # queued jobs
MAX_STYLES = 16  # style images of one job


class Studio:
    def __init__(self, folder: Path, *, fixed: Mapping[str, Any] | None = None, max_upload_bytes: int = 30 << 20,
                 max_upload_pixels: int = 40_000_000, examples: Sequence[Path] | None = None):
        """``folder``: results (the gallery), and ``.studio/`` inside it for uploads, masks, jobs and states.
        ``fixed``: settings that only the studio chooses (device, weights, targets, cache)."""
        self.folder = Path(folder).resolve()
        self.private = self.folder / ".studio"
        self.states = self.private / "jobs"
        self.states.mkdir(parents=True, exist_ok=True)
        self.fixed = dict(fixed or {})
        package_root = Path(__file__).resolve().parents[1]
        self.library = Library(self.private / "uploads",
                               bundled_examples(package_root) if examples is None else examples,
                               max_bytes=max_upload_bytes, max_pixels=max_upload_pixels,
                               min_side=content_min_side(DEFAULTS.content_layers, DEFAULTS.style_layers))
        self.masks = MaskStore(self.private / "masks", max_bytes=max_upload_bytes, max_pixels=max_upload_pixels)
        self.results = Gallery(self.folder, self.library, self.masks)
        self.cond = threading.Condition()
        self.jobs: dict[str, Job] = {}
        self.queue: list[str] = []
        self.current: Job | None = None
        self.version = 0
        self.gallery_version = 0
        self.closing = False
        self.previews: dict[str, tuple[int, str]] = {}  # job id -> (number, data URL) of its latest live image
        self._load_jobs()
        self._worker = threading.Thread(target=self._work, name="studio-jobs", daemon=True)

    # --- life -----------------------------------------------------------------------------------------------
    def start(self) -> "Studio":
        self._worker.start()
        return self

    def begin_close(self) -> None:
        """Stop taking jobs; the running one stops at its next iteration, keeping its state."""
        with self.cond:
            self.closing = True
            self.changed()

    def close(self, timeout: float | None = None) -> bool:
        """``begin_close`` and wait for the running job to save what it has; False if it did not in time."""
        self.begin_close()
        if self._worker.is_alive():
            self._worker.join(timeout)
        with self.cond:
            self._save_jobs()
        return not self._worker.is_alive()

    @property
    def resumable(self) -> list[Job]:
        with self.cond:
            return [job for job in self.jobs.values() if job.status == "stopped"]

    # --- requests -------------------------------------------------------------------------------------------
    def submit_painted(self, content: Any, styles: Any, settings: Any, painted: Any = None) -> Job:
        """A job from the page: ``painted`` is None (no masks) or one image (a data URL) per style image,
        checked and kept (``MaskStore.receive``) once everything else is known to be valid."""
        styles = self._check_images(content, styles)
        settings_from(settings, self.fixed)
        masks = None if painted is None else self.masks.receive(painted, len(styles))
        return self.submit(content, styles, settings, masks=masks)

    def submit(self, content: Any, styles: Any, settings: Any, *, masks: list[str] | None = None,
               source: str | None = None) -> Job:
        """Queue a job; an unknown image or mask, or an invalid setting, raises ``InputError`` (the CLI's message)."""
        styles = self._check_images(content, styles)
        chosen = settings_from(settings, self.fixed)
        if masks is not None:
            picture = self.library.get(content)
            self.masks.check_fit(masks, picture.path, picture.label)
        with self.cond:
            if self.closing:
                raise InputError("the studio is stopping")
            if len(self.queue) >= MAX_WAITING:
                raise InputError(f"{MAX_WAITING} jobs are already waiting")
            job = Job(secrets.token_hex(6), content, styles, chosen, time.time(), masks=masks, source=source)
            self.jobs[job.id] = job
            self.queue.append(job.id)
            self.changed(save=True)
        return job

    def stop(self, job_id: str) -> Job:
        with self.cond:
            job = self.jobs[job_id]
            if job.status == "running":
                job.stop_requested, job.status = True, "stopping"
            elif job.status == "queued":
                self.queue.remove(job.id)
                job.status, job.finished = ("stopped", time.time()) if job.resume_next else ("cancelled", time.time())
            elif job.status != "stopping":
                raise InputError(f"this job is not running ({job.status})")
            self.changed(save=True)
            return job

    def resume(self, job_id: str) -> Job:
        """Queue a stopped job again: from its saved state when it has one, else from the start."""
        with self.cond:
            job = self.jobs[job_id]
            if job.status not in ("stopped", "failed", "cancelled"):
                raise InputError(f"this job cannot be resumed ({job.status})")
            if self.closing:
                raise InputError("the studio is stopping")
            job.resume_next = job.resumable and self.state_file(job).is_file()
            if not job.resume_next:
                job.iteration, job.losses, job.loss_stride, job.best = 0, [], 1, False
            job.status, job.message, job.finished, job.stop_requested = "queued", "", None, False
            self.queue.append(job.id)
            self.changed(save=True)
            return job

    def rerun(self, name: str) -> Job:
        """A new job with a gallery result's inputs, masks and settings (its recipe)."""
        found = self.results.rerun(name)
        return self.submit(found.content, found.styles, found.settings, masks=found.masks, source=found.source)

    def _check_images(self, content: Any, styles: Any) -> list[str]:
        if not isinstance(content, str) or self.library.get(content) is None:
            raise InputError("choose a content image")
        if isinstance(styles, str):
            styles = [styles]
        if not isinstance(styles, list) or not styles or len(styles) > MAX_STYLES:
            raise InputError("choose one or more style images")
        if any(not isinstance(s, str) or self.library.get(s) is None for s in styles):
            raise InputError("a chosen style image is not in the studio")
        return list(styles)

    # --- what tabs see --------------------------------------------------------------------------------------
    def state(self) -> dict:
        with self.cond:
            jobs = sorted(self.jobs.values(), key=lambda j: j.created, reverse=True)[:50]
            return {"version": self.version, "gallery": self.gallery_version, "closing": self.closing,
                    "running": self.current.id if self.current else None, "queue": list(self.queue),
                    "jobs": [self._public(job) for job in jobs]}

    def public(self, job_id: str) -> dict:
        with self.cond:
            return self._public(self.jobs[job_id])

    def previews_since(self, seen: Mapping[str, int]) -> list[tuple[str, int, str]]:
        """The running job's live image if newer than ``seen`` (job id -> preview number): (job id, number,
        data URL). A job that ended shows its files instead (``best_path``, ``result_path``)."""
        with self.cond:
            return [(job_id, number, data) for job_id, (number, data) in self.previews.items()
                    if seen.get(job_id) != number]

    def gallery(self) -> list[dict]:
        return self.results.entries()

    def result_path(self, name: str) -> Path | None:
        return self.results.result_path(name)

    def best_path(self, job_id: str) -> Path | None:
        with self.cond:
            job = self.jobs.get(job_id)
            path = self.best_file(job) if job else None
        return path if path and path.is_file() else None

    def picture_file(self, ident: str) -> Path | None:
        picture = self.library.get(ident)
        return picture.path if picture else None

    # --- the worker -----------------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self.cond:
                while not self.queue and not self.closing:
                    self.cond.wait()
                if self.closing:
                    return
                job = self.jobs[self.queue.pop(0)]
                job.status, job.started, job.stop_requested, self.current = "running", time.time(), False, job
                self.changed(save=True)
            try:
                run_job(self, job)
            finally:
                with self.cond:
                    self.current = None
                    self.previews.pop(job.id, None)
                    job.finished = time.time()
                    self.changed(save=True)

    def fail(self, job: Job, message: str) -> None:
        with self.cond:
            job.status, job.message, job.resume_next = "failed", message, False

    def clean(self, message: str) -> str:
        """``message`` without the studio's paths (images by their labels)."""
        known = [*self.library.labels().items(), (self.masks.folder, "(painted masks)"), (self.states, "(studio)"),
                 (self.folder, "(studio folder)")]
        return without_paths(message, known)

    # --- helpers --------------------------------------------------------------------------------------------
    def changed(self, save: bool = False) -> None:
        """Under ``self.cond``: a new version for every tab; ``save`` also writes the jobs list."""
        self.version += 1
        if save:
            self._save_jobs()
        self.cond.notify_all()

    def state_file(self, job: Job) -> Path:
        return self.states / f"{job.id}.resume.safetensors"

    def best_file(self, job: Job) -> Path:
        return self.states / f"{job.id}.best.png"

    def _public(self, job: Job) -> dict:
        data = job.stored()
        data.pop("loss_stride")
        content = self.library.get(job.content)
        data["content_label"] = content.label if content else "(gone)"
        data["style_labels"] = [(p.label if p else "(gone)") for p in map(self.library.get, job.styles)]
        data["preview"] = self.previews.get(job.id, (0, ""))[0]
        return data

    def _save_jobs(self) -> None:
        save_jobs(self.private / "jobs.json", self.jobs.values())

    def _load_jobs(self) -> None:
        for job in load_jobs(self.private / "jobs.json"):
            job.resumable = job.status == "stopped" and self.state_file(job).is_file()
            job.best = job.best and self.best_file(job).is_file()
            self.jobs[job.id] = job
