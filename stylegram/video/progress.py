"""The video command's progress: frame i of N, the shot, seconds per frame and the time left for the clip.

Seconds per frame are measured per role (a shot's first frame runs the full schedule, a later frame a
quarter of it), and the time left prices the frames still to do at their role's measured speed; before
a role has been timed, the other role's speed scaled by the ratio of their iteration bounds stands in.
"""

from __future__ import annotations

from .frames import Frame
from .settings import VideoSettings


class FrameClock:
    """Seconds per frame by role, and the time left for the frames not yet done."""

    def __init__(self, video: VideoSettings):
        bound = {False: sum(its for _, its in video.first.schedule()), True: video.later.iterations}
        self.bound, self.seconds = bound, {False: [], True: []}

    def record(self, frame: Frame, seconds: float) -> None:
        self.seconds[frame.previous is not None].append(seconds)

    def per_frame(self, later: bool) -> float | None:
        own, other = self.seconds[later], self.seconds[not later]
        if own:
            return sum(own) / len(own)
        if other:
            return sum(other) / len(other) * self.bound[later] / self.bound[not later]
        return None

    def left(self, frames: list[Frame]) -> float | None:
        prices = [self.per_frame(frame.previous is not None) for frame in frames]
        return None if any(p is None for p in prices) else sum(prices)


class VideoProgressDisplay:
    """A rich progress bar over the clip's frames; silent when disabled."""

    def __init__(self, video: VideoSettings, *, enabled: bool):
        self.enabled, self.clock = enabled, FrameClock(video)
        self._bar = self._task = None
        self._todo: dict[int, Frame] = {}  # by source index, in order
        self._frames: list[Frame] = []
        self._shots = 1

    def __enter__(self) -> "VideoProgressDisplay":
        return self

    def prepared(self, frames: list[Frame]) -> None:
        self._frames, self._todo = list(frames), {frame.index: frame for frame in frames}
        self._shots = frames[-1].shot + 1
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(TextColumn("video"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.description}"), console=Console(stderr=True), transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task(self._describe(), total=len(frames))

    def frame_done(self, done) -> None:
        self._todo.pop(done.frame.index, None)
        if not done.skipped:
            self.clock.record(done.frame, done.seconds)
        if self._bar is not None:
            self._bar.update(self._task, completed=len(self._frames) - len(self._todo), description=self._describe())

    def iteration(self, progress) -> None:
        if self._bar is not None and self._todo:
            text = f"{self._describe()}; iteration {progress.iteration}/{progress.iterations}, loss {progress.loss:.4g}"
            self._bar.update(self._task, description=text)

    def _describe(self) -> str:
        if not self._todo:
            return "done"
        frame = next(iter(self._todo.values()))
        later = self.clock.per_frame(True)
        first = self.clock.per_frame(False)
        speed = ", ".join(f"{label} {value:.1f} s/frame" for label, value in (("first", first), ("later", later))
                          if value is not None and self.clock.seconds[label == "later"])
        left = self.clock.left(list(self._todo.values()))
        eta = f", about {_clock(left)} left" if left is not None else ""
        return (f"frame {frame.index} ({len(self._frames) - len(self._todo) + 1}/{len(self._frames)}), "
                f"shot {frame.shot + 1}/{self._shots}{'; ' + speed if speed else ''}{eta}")

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
