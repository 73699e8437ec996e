"""The ``stylize`` command around the library: output checks, progress display, saving."""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path
from typing import Sequence

from .errors import InputError, Interrupted, OptimizationError
from .fileio import check_writable_target
from .images import output_format, save_image
from .loop import StopRequested
from .resume import state_path
from .settings import StylizeSettings


def check_output(output: Path, inputs: Sequence[Path]) -> None:
    """Refuse an unwritable output, an unknown format, or one that would overwrite an input."""
    output_format(output)
    check_writable_target(output, option="--output")
    for path in inputs:
        if output.exists() and path.exists() and output.resolve() == path.resolve():
            raise InputError(f"--output {output}: is also an input image; refusing to overwrite it")


def intermediate_path(output: Path, iteration: int) -> Path:
    return output.with_name(f"{output.stem}.iter{iteration:05d}{output.suffix}")


def run_stylize(content: Path, styles: Sequence[Path], output: Path, settings: StylizeSettings, *,
                save_every: int = 0, quiet: bool = False, resume: bool = False) -> None:
    from .stylize import OptimizationDiverged, stylize, to_array

    if save_every < 0:
        raise InputError(f"--save-every must be >= 0, got {save_every}")
    init_path = [Path(settings.init)] if settings.init not in ("content", "noise") else []
    check_output(output, [content, *styles, *init_path])
    snapshot = _load_resume_state(content, styles, output, settings) if resume else None
    display = ProgressDisplay(sum(its for _, its in settings.schedule()), enabled=not quiet)
    best = BestSoFar()

    def on_progress(progress) -> None:
        best.update(progress)
        display.update(progress)
        if save_every and progress.iteration % save_every == 0 and progress.iteration < progress.iterations:
            save_image(to_array(progress.image), intermediate_path(output, progress.iteration))

    try:
        with display, stop_on_signals(best) as received:
            result = stylize(content, styles, settings, callback=on_progress, should_stop=lambda: bool(received),
                             resume=snapshot)
    except StopRequested as stop:
        raise best.save_on_stop(output, received[-1], stop) from None
    except KeyboardInterrupt:
        raise best.save_on_stop(output, received[-1] if received else signal.SIGINT, None) from None
    except OptimizationDiverged as exc:
        save_image(exc.result.image, output, recipe=exc.result.recipe)
        raise OptimizationError(f"{exc}, saved as {output}") from None
    save_image(result.image, output, recipe=result.recipe)
    state_path(output).unlink(missing_ok=True)
    if not quiet:
        print(f"style targets: {result.targets_engine}, cache {', '.join(result.style_cache)}; "
              f"start-up {result.startup_seconds:.1f} s", file=sys.stderr)
        stop = f", stopped: {result.stopped}" if result.stopped else ""
        print(f"wrote {output} ({result.image.shape[1]}x{result.image.shape[0]}, {result.iterations} iterations "
              f"in {result.seconds:.1f} s, loss {result.losses.get('loss', float('nan')):.4g}{stop})", file=sys.stderr)


def _load_resume_state(content: Path, styles: Sequence[Path], output: Path, settings: StylizeSettings):
    from .resume import load_snapshot
    from .stylize import make_recipe, resolve_device

    return load_snapshot(state_path(output), make_recipe(settings, content, styles), resolve_device(settings.device))


def interrupted_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.interrupted{output.suffix}")


class BestSoFar:
    """The lowest-loss image of the current scale (a copy), to save when the run is interrupted."""

    def __init__(self):
        self.image, self.loss, self.iteration, self.scale = None, float("inf"), 0, 0

    def update(self, progress) -> None:
        if progress.scale != self.scale or progress.loss <= self.loss:
            self.image, self.loss = progress.image.detach().clone(), progress.loss
            self.iteration, self.scale = progress.iteration, progress.scale

    def save_on_stop(self, output: Path, signal_number: int, stop) -> Interrupted:
        """Save the best image (and, at an iteration boundary, the state for --resume)."""
        from .resume import save_snapshot
        from .stylize import to_array

        name = signal.Signals(signal_number).name
        if self.image is None:
            return Interrupted(f"interrupted by {name} before the first iteration; nothing saved", signal_number)
        path = interrupted_path(output)
        save_image(to_array(self.image), path, recipe={"interrupted_at_iteration": self.iteration})
        resume = ""
        if stop is not None and stop.snapshot is not None:
            save_snapshot(state_path(output), stop.snapshot, stop.recipe)
            resume = f"; continue with the same command and --resume (state in {state_path(output)})"
        return Interrupted(f"interrupted by {name}; saved the best image so far (iteration {self.iteration}) "
                           f"as {path}{resume}", signal_number)


@contextlib.contextmanager
def stop_on_signals(best: "BestSoFar"):
    """SIGINT/SIGTERM while stylizing: once the loop runs, stop at the end of the current iteration
    (so the state can be saved for --resume); before that, stop at once. Yields the signals received."""
    received: list[int] = []

    def handler(signum, frame):
        received.append(signum)
        if best.image is None or len(received) > 1:  # not in the loop yet, or asked twice
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class ProgressDisplay:
    """A rich progress bar showing the current losses; silent when disabled."""

    def __init__(self, total: int, *, enabled: bool):
        self.total, self.enabled = total, enabled
        self._bar = None
        self._task = None

    def __enter__(self) -> "ProgressDisplay":
        return self

    def _start(self) -> None:
        """Show the bar at the first iteration, so load errors are not preceded by an empty bar."""
        if self.enabled and self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("stylize"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                 TextColumn("{task.description}"), console=Console(stderr=True), transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task("", total=self.total)

    def update(self, progress) -> None:
        self._start()
        if self._bar is not None:
            scale = f"scale {progress.scale}/{progress.scales} ({progress.size} px) " if progress.scales > 1 else ""
            text = (f"{scale}loss {progress.loss:.4g} (content {progress.content:.3g}, style {progress.style:.3g}, "
                    f"tv {progress.tv:.3g}) {progress.elapsed / progress.iteration:.2f} s/it")
            self._bar.update(self._task, completed=progress.iteration, description=text)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
