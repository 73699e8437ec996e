"""The ``stylize`` command around the library: output checks, progress display, saving."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from .errors import InputError
from .fileio import check_writable_target
from .images import output_format, save_image
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
                save_every: int = 0, quiet: bool = False) -> None:
    from .stylize import OptimizationDiverged, stylize, to_array

    if save_every < 0:
        raise InputError(f"--save-every must be >= 0, got {save_every}")
    init_path = [Path(settings.init)] if settings.init not in ("content", "noise") else []
    check_output(output, [content, *styles, *init_path])
    display = ProgressDisplay(settings.iterations, enabled=not quiet)

    def on_progress(progress) -> None:
        display.update(progress)
        if save_every and progress.iteration % save_every == 0 and progress.iteration < progress.iterations:
            save_image(to_array(progress.image), intermediate_path(output, progress.iteration))

    try:
        with display:
            result = stylize(content, styles, settings, callback=on_progress)
    except OptimizationDiverged as exc:
        save_image(exc.result.image, output, recipe=exc.result.recipe)
        raise type(exc)(f"{exc}, saved as {output}", exc.result) from None
    save_image(result.image, output, recipe=result.recipe)
    if not quiet:
        print(f"style targets: {result.targets_engine}, cache {', '.join(result.style_cache)}; "
              f"start-up {result.startup_seconds:.1f} s", file=sys.stderr)
        print(f"wrote {output} ({result.image.shape[1]}x{result.image.shape[0]}, {result.iterations} iterations "
              f"in {result.seconds:.1f} s, loss {result.losses['loss']:.4g})", file=sys.stderr)


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
            text = (f"loss {progress.loss:.4g} (content {progress.content:.3g}, style {progress.style:.3g}, "
                    f"tv {progress.tv:.3g}) {progress.elapsed / progress.iteration:.2f} s/it")
            self._bar.update(self._task, completed=progress.iteration, description=text)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
