"""The stylize command's progress bar: iterations, current losses, seconds per iteration at this scale, time left."""

from __future__ import annotations


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
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(TextColumn("stylize"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.description}"), console=Console(stderr=True), transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task("", total=self.total)

    def update(self, progress) -> None:
        self._start()
        if self._bar is not None:
            scale = f"scale {progress.scale}/{progress.scales} ({progress.size} px) " if progress.scales > 1 else ""
            text = (f"{scale}{progress.seconds_per_iteration:.2f} s/it, {time_left(progress.eta)}; "
                    f"loss {progress.loss:.4g} "
                    f"(content {progress.content:.3g}, style {progress.style:.3g}, tv {progress.tv:.3g})")
            self._bar.update(self._task, completed=progress.iteration, description=text)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def time_left(seconds: float) -> str:
    """At most this long to go (every scale run to its iteration bound; convergence ends sooner)."""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return (f"up to {hours}:{rest // 60:02d}:{rest % 60:02d} left" if hours
            else f"up to {rest // 60}:{rest % 60:02d} left")
