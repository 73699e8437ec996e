"""The studio's jobs: one runs at a time, the rest wait in a queue; every open tab sees the same state.

A job is ``stylize`` (the public API, the CLI's engine) on images of the ``Library`` with settings
checked by ``forms.settings_from``. Stopping one (the page's Stop, or Ctrl-C on the server) ends it at
an iteration boundary through the engine's ``should_stop``; its best image so far and the engine's
snapshot are kept (``resume.save_snapshot``), and Resume continues it exactly (``stylize(...,
resume=state file)``). Finished images go to the studio's folder with their recipe: that folder is
the gallery. The jobs list is kept in ``.studio/jobs.json``, so the next start offers to resume.

Everything a tab shows is in ``state()`` (plus live previews, ``previews_since``); ``version`` goes
up on every change, which is what the event stream waits on.
"""

from __future__ import annotations

import base64
import io
import json
import re
import secrets
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import InputError, StylegramError
from ..fileio import atomic_write
from ..images import OUTPUT_FORMATS, read_recipe
from ..sizing import content_min_side
from .forms import DEFAULTS, recipe_settings, settings_from
from .library import Library, bundled_examples, one_line, without_paths

PREVIEW_SECONDS = 0.25  # at most this often a new live image (every iteration when iterations are slower)
PREVIEW_EDGE = 512  # px: live images larger than this are shown scaled down
LOSS_POINTS = 400  # the loss curve keeps at most about this many points (every 2nd, 4th, ... iteration)
MAX_WAITING = 100  # queued jobs
KEPT_JOBS = 200  # jobs remembered in jobs.json
RESULT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
FINISHED = ("done", "failed", "cancelled")


@dataclass
class Job:
    id: str
    content: str  # a Library picture id
    styles: list[str]
    settings: dict  # forms.ALLOWED fields only
    created: float
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


class _Best:
    """The lowest-loss image of the current scale (as the CLI keeps it for Ctrl-C)."""

    def __init__(self):
        self.image, self.loss, self.iteration, self.scale = None, float("inf"), 0, 0

    def update(self, progress) -> None:
        if progress.scale != self.scale or progress.loss <= self.loss:
            self.image, self.loss = progress.image.detach().clone(), progress.loss
            self.iteration, self.scale = progress.iteration, progress.scale


class Studio:
    def __init__(self, folder: Path, *, fixed: Mapping[str, Any] | None = None, max_upload_bytes: int = 30 << 20,
                 max_upload_pixels: int = 40_000_000, examples: Sequence[Path] | None = None):
        """``folder``: results (the gallery), and ``.studio/`` inside it for uploads, jobs and states.
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
        self.cond = threading.Condition()
        self.jobs: dict[str, Job] = {}
        self.queue: list[str] = []
        self.current: Job | None = None
        self.version = 0
        self.gallery_version = 0
        self.closing = False
        self._previews: dict[str, tuple[int, str]] = {}
        self._recipes: dict[str, tuple[tuple, dict | None]] = {}
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
            self._changed()

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
    def submit(self, content: Any, styles: Any, settings: Any, *, source: str | None = None) -> Job:
        """Queue a job; an unknown image or an invalid setting raises ``InputError`` (the CLI's message)."""
        if not isinstance(content, str) or self.library.get(content) is None:
            raise InputError("choose a content image")
        if isinstance(styles, str):
            styles = [styles]
        if not isinstance(styles, list) or not styles or len(styles) > 16:
            raise InputError("choose one or more style images")
        if any(not isinstance(s, str) or self.library.get(s) is None for s in styles):
            raise InputError("a chosen style image is not in the studio")
        chosen = settings_from(settings, self.fixed)
        with self.cond:
            if self.closing:
                raise InputError("the studio is stopping")
            if len(self.queue) >= MAX_WAITING:
                raise InputError(f"{MAX_WAITING} jobs are already waiting")
            job = Job(secrets.token_hex(6), content, list(styles), chosen, time.time(), source=source)
            self.jobs[job.id] = job
            self.queue.append(job.id)
            self._changed(save=True)
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
            self._changed(save=True)
            return job

    def resume(self, job_id: str) -> Job:
        """Queue a stopped job again: from its saved state when it has one, else from the start."""
        with self.cond:
            job = self.jobs[job_id]
            if job.status not in ("stopped", "failed", "cancelled"):
                raise InputError(f"this job cannot be resumed ({job.status})")
            if self.closing:
                raise InputError("the studio is stopping")
            job.resume_next = job.resumable and self._state_file(job).is_file()
            if not job.resume_next:
                job.iteration, job.losses, job.loss_stride, job.best = 0, [], 1, False
            job.status, job.message, job.finished, job.stop_requested = "queued", "", None, False
            self.queue.append(job.id)
            self._changed(save=True)
            return job

    def rerun(self, name: str) -> Job:
        """A new job with a gallery result's inputs and settings (its recipe)."""
        path = self.result_path(name)
        recipe = self._recipe(path) if path else None
        if recipe is None:
            raise InputError("no such result with a stylegram recipe in the studio's folder")
        settings = recipe_settings(recipe)
        content = self._picture_for(recipe.get("content"), "content image")
        styles = [self._picture_for(style, "style image") for style in recipe.get("styles") or []]
        return self.submit(content, styles, settings, source=path.name)

    def _picture_for(self, entry: Any, what: str) -> str:
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        picture = self.library.by_sha256(digest) if isinstance(digest, str) else None
        if picture is None:
            name = entry.get("file") if isinstance(entry, dict) else "?"
            raise InputError(f"the recipe's {what} ({str(name)[:80]}) is not among the studio's images; "
                             "upload it again")
        return picture.id

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
            return [(job_id, number, data) for job_id, (number, data) in self._previews.items()
                    if seen.get(job_id) != number]

    def gallery(self) -> list[dict]:
        """Every image in the folder with a stylegram recipe, newest first."""
        entries = []
        for path in self._result_files():
            recipe = self._recipe(path)
            if not recipe or not isinstance(recipe.get("settings"), dict):
                continue
            labels = [self._label_of(recipe.get("content"))] + [self._label_of(s) for s in recipe.get("styles") or []]
            inputs = [recipe.get("content"), *(recipe.get("styles") or [])]
            note = "" if all(self._known(entry) for entry in inputs) else \
                "an input of this recipe is not among the studio's images; upload it to re-run"
            try:
                settings = recipe_settings(recipe)
            except InputError as exc:
                settings, note = {}, str(exc)
            entries.append({"name": path.name, "modified": path.stat().st_mtime, "content": labels[0],
                            "styles": labels[1:], "settings": settings, "recipe": recipe, "rerun": not note,
                            "note": note})
        return sorted(entries, key=lambda e: e["modified"], reverse=True)

    def result_path(self, name: str) -> Path | None:
        """A result in the folder by its exact name (names are looked up, never joined from a request)."""
        if not isinstance(name, str) or not RESULT_NAME.match(name):
            return None
        return next((path for path in self._result_files() if path.name == name), None)

    def best_path(self, job_id: str) -> Path | None:
        with self.cond:
            job = self.jobs.get(job_id)
            path = self._best_file(job) if job else None
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
                self._changed(save=True)
            try:
                self._run(job)
            finally:
                with self.cond:
                    self.current = None
                    self._previews.pop(job.id, None)
                    job.finished = time.time()
                    self._changed(save=True)

    def _run(self, job: Job) -> None:
        from .. import Stop, StylizeSettings, stylize
        from ..images import save_image
        from ..resume import save_snapshot
        from ..tensor_images import to_array

        state_file, best = self._state_file(job), _Best()
        last_preview = [0.0]

        def on_progress(progress) -> None:
            best.update(progress)
            now = time.monotonic()
            preview = None
            if now - last_preview[0] >= PREVIEW_SECONDS or progress.iteration == progress.iterations:
                preview, last_preview[0] = _jpeg_data_url(to_array(progress.image)), now
            with self.cond:
                job.iteration, job.iterations, job.loss = progress.iteration, progress.iterations, progress.loss
                job.scale, job.scales, job.size = progress.scale, progress.scales, progress.size
                job.seconds_per_iteration, job.eta = progress.seconds_per_iteration, progress.eta
                job.record_loss(progress.iteration, progress.loss)
                if preview is not None:
                    number = self._previews.get(job.id, (0, ""))[0] + 1
                    self._previews[job.id] = (number, preview)
                self._changed()

        try:
            content = self.library.get(job.content)
            styles = [self.library.get(s) for s in job.styles]
            if content is None or None in styles:
                raise InputError("an image of this job is no longer in the studio")
            settings = StylizeSettings(**job.settings, **self.fixed)
            resume = state_file if job.resume_next and state_file.is_file() else None
            result = stylize(content.path, [s.path for s in styles], settings, callback=on_progress,
                             should_stop=lambda: job.stop_requested or self.closing, resume=resume)
            if result.stopped is Stop.INTERRUPTED:
                if result.snapshot is not None:
                    save_snapshot(state_file, result.snapshot, result.recipe)
                image = to_array(best.image) if best.image is not None else result.image
                save_image(image, self._best_file(job), recipe={"interrupted_at_iteration": best.iteration or
                                                                job.iteration})
                with self.cond:
                    job.status, job.best, job.resumable = "stopped", True, result.snapshot is not None
                    job.resume_next = False
                    job.message = "stopped with the studio; resume it" if self.closing and not job.stop_requested \
                        else ""
                return
            name = f"studio-{time.strftime('%Y%m%d-%H%M%S')}-{job.id}.png"
            result.save(self.folder / name)
            state_file.unlink(missing_ok=True)
            self._best_file(job).unlink(missing_ok=True)
            with self.cond:
                job.status, job.result, job.best, job.resumable, job.resume_next = "done", name, False, False, False
                job.message = one_line(result.message) if result.stopped is Stop.DIVERGED else ""
                self.gallery_version += 1
        except StylegramError as exc:
            self._fail(job, self._clean(str(exc)))
        except Exception as exc:  # a bug or the machine (memory): the console gets the details, the page one line
            traceback.print_exc(file=sys.stderr)
            self._fail(job, f"internal error while running this job ({type(exc).__name__}); see the studio's console")

    def _fail(self, job: Job, message: str) -> None:
        with self.cond:
            job.status, job.message, job.resume_next = "failed", message, False

    def _clean(self, message: str) -> str:
        known = list(self.library.labels().items()) + [(self.states, "(studio)"), (self.folder, "(studio folder)")]
        return without_paths(message, known)

    # --- helpers --------------------------------------------------------------------------------------------
    def _changed(self, save: bool = False) -> None:
        """Under ``self.cond``: a new version for every tab; ``save`` also writes the jobs list."""
        self.version += 1
        if save:
            self._save_jobs()
        self.cond.notify_all()

    def _state_file(self, job: Job) -> Path:
        return self.states / f"{job.id}.resume.safetensors"

    def _best_file(self, job: Job) -> Path:
        return self.states / f"{job.id}.best.png"

    def _public(self, job: Job) -> dict:
        data = job.stored()
        data.pop("loss_stride")
        content = self.library.get(job.content)
        data["content_label"] = content.label if content else "(gone)"
        data["style_labels"] = [(p.label if p else "(gone)") for p in map(self.library.get, job.styles)]
        data["preview"] = self._previews.get(job.id, (0, ""))[0]
        return data

    def _result_files(self) -> list[Path]:
        try:
            return sorted(p for p in self.folder.iterdir()
                          if p.suffix.lower() in OUTPUT_FORMATS and RESULT_NAME.match(p.name) and p.is_file())
        except OSError:
            return []

    def _recipe(self, path: Path) -> dict | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._recipes.get(path.name)
        if cached and cached[0] == key:
            return cached[1]
        try:
            recipe = read_recipe(path)
        except Exception:  # not an image, damaged, or a foreign comment: not in the gallery
            recipe = None
        recipe = recipe if isinstance(recipe, dict) else None
        self._recipes[path.name] = (key, recipe)
        return recipe

    def _label_of(self, entry: Any) -> str:
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        picture = self.library.by_sha256(digest) if isinstance(digest, str) else None
        if picture:
            return picture.label
        return str(entry.get("file", "?"))[:80] if isinstance(entry, dict) else "?"

    def _known(self, entry: Any) -> bool:
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        return isinstance(digest, str) and self.library.by_sha256(digest) is not None

    def _save_jobs(self) -> None:
        kept = sorted(self.jobs.values(), key=lambda j: j.created)[-KEPT_JOBS:]
        with atomic_write(self.private / "jobs.json") as tmp:
            tmp.write_text(json.dumps([job.stored() for job in kept], indent=1))

    def _load_jobs(self) -> None:
        try:
            stored = json.loads((self.private / "jobs.json").read_text())
        except (OSError, ValueError):
            return
        names = {f for f in Job.__dataclass_fields__ if f != "stop_requested"}
        for data in stored if isinstance(stored, list) else []:
            try:
                job = Job(**{k: v for k, v in data.items() if k in names})
            except TypeError:
                continue
            if not re.fullmatch(r"[0-9a-f]{12}", str(job.id)):
                continue
            if job.status in ("running", "stopping", "queued"):
                job.message = "the studio stopped before this job finished; resume it"
                job.status = "stopped"
            job.resumable = job.status == "stopped" and self._state_file(job).is_file()
            job.best = job.best and self._best_file(job).is_file()
            job.resume_next = False
            self.jobs[job.id] = job


def _jpeg_data_url(array) -> str:
    from ..images import to_pil

    image = to_pil(array)
    if max(image.size) > PREVIEW_EDGE:
        image.thumbnail((PREVIEW_EDGE, PREVIEW_EDGE))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
