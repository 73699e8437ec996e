"""Running one studio job: ``stylize`` (the public API, the CLI's engine) with live progress, and what it leaves.

A finished job's image goes to the studio's folder with its recipe (the gallery). A stopped one (the
page's Stop, or the studio closing) keeps its lowest-loss image of the current scale and the engine's
snapshot (``resume.save_snapshot``), which Resume continues exactly (``stylize(..., resume=state file)``).
A failure becomes one line on the job: the library's message without paths, or "internal error" with the
details on the studio's console. ``studio`` below is the ``jobs.Studio`` whose worker runs the job.
"""

from __future__ import annotations

import base64
import io
import sys
import time
import traceback

from ..errors import InputError, StylegramError
from .job_records import Job
from .library import one_line

PREVIEW_SECONDS = 0.25  # at most this often a new live image (every iteration when iterations are slower)
PREVIEW_EDGE = 512  # px: live images larger than this are shown scaled down


class BestImage:
    """The lowest-loss image of the current scale (as the CLI keeps it for Ctrl-C)."""

    def __init__(self):
        self.image, self.loss, self.iteration, self.scale = None, float("inf"), 0, 0

    def update(self, progress) -> None:
        if progress.scale != self.scale or progress.loss <= self.loss:
            self.image, self.loss = progress.image.detach().clone(), progress.loss
            self.iteration, self.scale = progress.iteration, progress.scale


def run_job(studio, job: Job) -> None:
    """Run ``job`` to its end (done, stopped or failed); its fields and files tell how it went."""
    from .. import Stop, StylizeSettings, stylize

    state_file, best = studio.state_file(job), BestImage()
    try:
        content = studio.library.get(job.content)
        styles = [studio.library.get(s) for s in job.styles]
        masks = [studio.masks.path(m) for m in job.masks] if job.masks else None
        if content is None or None in styles or (masks is not None and None in masks):
            raise InputError("an image or mask of this job is no longer in the studio")
        settings = StylizeSettings(**job.settings, **studio.fixed, **({"masks": masks} if masks else {}))
        resume = state_file if job.resume_next and state_file.is_file() else None
        result = stylize(content.path, [s.path for s in styles], settings, callback=_on_progress(studio, job, best),
                         should_stop=lambda: job.stop_requested or studio.closing, resume=resume)
        if result.stopped is Stop.INTERRUPTED:
            _keep_stopped(studio, job, result, best)
        else:
            _keep_result(studio, job, result, diverged=result.stopped is Stop.DIVERGED)
    except StylegramError as exc:
        studio.fail(job, studio.clean(str(exc)))
    except Exception as exc:  # a bug or the machine (memory): the console gets the details, the page one line
        traceback.print_exc(file=sys.stderr)
        studio.fail(job, f"internal error while running this job ({type(exc).__name__}); see the studio's console")


def _on_progress(studio, job: Job, best: BestImage):
    from ..tensor_images import to_array

    last_preview = [0.0]

    def on_progress(progress) -> None:
        best.update(progress)
        now = time.monotonic()
        preview = None
        if now - last_preview[0] >= PREVIEW_SECONDS or progress.iteration == progress.iterations:
            preview, last_preview[0] = _jpeg_data_url(to_array(progress.image)), now
        with studio.cond:
            job.iteration, job.iterations, job.loss = progress.iteration, progress.iterations, progress.loss
            job.scale, job.scales, job.size = progress.scale, progress.scales, progress.size
            job.seconds_per_iteration, job.eta = progress.seconds_per_iteration, progress.eta
            job.record_loss(progress.iteration, progress.loss)
            if preview is not None:
                number = studio.previews.get(job.id, (0, ""))[0] + 1
                studio.previews[job.id] = (number, preview)
            studio.changed()

    return on_progress


def _keep_stopped(studio, job: Job, result, best: BestImage) -> None:
    from ..images import save_image
    from ..resume import save_snapshot
    from ..tensor_images import to_array

    if result.snapshot is not None:
        save_snapshot(studio.state_file(job), result.snapshot, result.recipe)
    image = to_array(best.image) if best.image is not None else result.image
    save_image(image, studio.best_file(job), recipe={"interrupted_at_iteration": best.iteration or job.iteration})
    with studio.cond:
        job.status, job.best, job.resumable = "stopped", True, result.snapshot is not None
        job.resume_next = False
        job.message = "stopped with the studio; resume it" if studio.closing and not job.stop_requested else ""


def _keep_result(studio, job: Job, result, *, diverged: bool) -> None:
    name = f"studio-{time.strftime('%Y%m%d-%H%M%S')}-{job.id}.png"
    result.save(studio.folder / name)
    studio.state_file(job).unlink(missing_ok=True)
    studio.best_file(job).unlink(missing_ok=True)
    with studio.cond:
        job.status, job.result, job.best, job.resumable, job.resume_next = "done", name, False, False, False
        job.message = one_line(result.message) if diverged else ""
        studio.gallery_version += 1


def _jpeg_data_url(array) -> str:
    from ..images import to_pil

    image = to_pil(array)
    if max(image.size) > PREVIEW_EDGE:
        image.thumbnail((PREVIEW_EDGE, PREVIEW_EDGE))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
