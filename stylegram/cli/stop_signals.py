"""SIGINT/SIGTERM while stylizing: stop at an iteration boundary, keep the best image and the state."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path

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


@contextlib.contextmanager
def stop_on_signals(best: BestSoFar, received: list[int]):
    """Once the loop runs, SIGINT/SIGTERM ask it to stop at the end of the current iteration (so
    the state can be saved for --resume); before that, or when asked twice, they stop at once
    (KeyboardInterrupt). Appends the signals received to ``received``."""

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
