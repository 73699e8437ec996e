"""SIGINT/SIGTERM while stylizing: stop at an iteration boundary, keep the best image and the state."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Callable

from ..errors import Interrupted
from ..images import save_image
from ..resume import save_snapshot, state_path


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

    def save_interrupted(self, output: Path, signal_number: int, result) -> Interrupted:
        """Save the best image and, for a run stopped at an iteration boundary (``result`` with a
        snapshot), the state for --resume; return the error that reports it."""
        from ..tensor_images import to_array

        name = signal.Signals(signal_number).name
        if self.image is None:
            return Interrupted(f"interrupted by {name} before the first iteration; nothing saved", signal_number)
        path = interrupted_path(output)
        save_image(to_array(self.image), path, recipe={"interrupted_at_iteration": self.iteration})
        resume = ""
        if result is not None and result.snapshot is not None:
            save_snapshot(state_path(output), result.snapshot, result.recipe)
            resume = f"; continue with the same command and --resume (state in {state_path(output)})"
        return Interrupted(f"interrupted by {name}; saved the best image so far (iteration {self.iteration}) "
                           f"as {path}{resume}", signal_number)


class StopRequests:
    """SIGINT/SIGTERM as a request the running work polls (``bool(requests)``, or ``event`` to wait on),
    never an exception that a library's waits could swallow. The one signal handler of the CLI
    (stylize, batch, serve). A second signal, or one while ``at_once()`` is true (nothing to keep
    yet), stops at once with KeyboardInterrupt."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, at_once: Callable[[], bool] = lambda: False):
        self.received: list[int] = []
        self.event = threading.Event()
        self._at_once, self._previous = at_once, {}

    def __bool__(self) -> bool:
        return bool(self.received)

    @property
    def first(self) -> int:
        """The first signal received (SIGINT when none was: a KeyboardInterrupt from elsewhere)."""
        return self.received[0] if self.received else signal.SIGINT

    def _handle(self, signum, frame) -> None:
        self.received.append(signum)
        self.event.set()
        if len(self.received) > 1 or self._at_once():
            raise KeyboardInterrupt

    def __enter__(self) -> "StopRequests":
        self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._previous.items():
            signal.signal(sig, old)
