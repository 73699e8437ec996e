"""Gatys et al. style transfer: compute the fixed targets once, then descend on the pixels.

``stylize`` is the one entry point; its knobs are a ``StylizeSettings`` record (the CLI
reads its defaults from there). Progress is reported through ``Progress`` objects passed
to an optional callback; how the run ended is ``Result.stopped``, never an exception.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from . import color
from .coarse_style import coarse_style
from .eta import iteration_cost, later_cost
from .images import image_size, scaled_size
from .inputs import Inputs, coarse_to_fine, initial_image, load_inputs
from .loop import LoopState, LossAndGrad, Progress, ScaleOutcome, Stop, optimize
from .memory_estimate import Budget, Plan, memory_budget, scale_plans
from .model import VGG19Features
from .objective import Objective
from .recipe import RunSetup, setup_run
from .resume import Snapshot, load_snapshot, saved_precision
from .settings import StylizeSettings, normalized_weights
from .targets import Targets, compute_targets
from .tensor_images import to_array, to_tensor
from .terms import AddedTerm, ExtraTerm
from .tile_geometry import plan_tiles
from .tiling import TiledObjective

__all__ = ["Progress", "Result", "Stop", "StylizeSettings", "plan_scales", "prepare", "stylize"]


@dataclass(frozen=True)
class Result:
    image: np.ndarray  # H x W x 3 RGB float32 in [0, 1], at the requested size (a scale's size if interrupted)
    recipe: dict
    iterations: int
    seconds: float  # optimization only
    losses: dict[str, float]
    startup_seconds: float = 0.0  # from the call until the first iteration could start
    targets_engine: str = ""
    style_cache: tuple[str, ...] = ()  # "hit" / "miss" / "off" per style image (last scale)
    stopped: Stop = Stop.BOUND
    message: str = ""  # what went wrong, for Stop.DIVERGED
    snapshot: Snapshot | None = None  # where to continue from, for Stop.INTERRUPTED
    plans: tuple[Plan, ...] = ()  # how each scale ran (whole or tiled), coarsest first

    def save(self, path: str | Path) -> None:
        """Write the image (PNG, JPEG or WebP by suffix) atomically, with the recipe embedded."""
        from .images import save_image

        save_image(self.image, path, recipe=self.recipe)


@dataclass
class PreparedRun:
    """Everything the loop needs at one scale: objective with fixed targets, start image, shared setup."""

    objective: Objective
    image: torch.Tensor
    inputs: Inputs
    targets: Targets
    setup: RunSetup


def prepare(content: str | Path, styles: Sequence[str | Path], settings: StylizeSettings, *,
            size: int | None = None, previous: torch.Tensor | None = None, setup: RunSetup | None = None,
            model: VGG19Features | None = None, inputs: Inputs | None = None,
            start: np.ndarray | None = None) -> PreparedRun:
    """Load inputs at long edge ``size`` (default ``settings.size``), build the model and the fixed
    targets; no optimization. ``previous`` (an earlier scale's image) replaces ``settings.init``;
    ``setup``, ``model`` and ``inputs`` are passed in by ``stylize`` so that scales share them."""
    size = size or settings.size
    inputs = inputs or load_inputs(content, styles, settings, size)
    setup = setup or setup_run(settings, content, styles)
    if model is None:
        model = VGG19Features(setup.weights, (*settings.content_layers, *settings.style_layers), pool=settings.pool)
        model = model.to(device=setup.device, memory_format=torch.channels_last)
    targets = compute_targets(settings, size, setup.weights, model, inputs.work, [Path(p) for p in styles],
                              inputs.styles, setup.style_blend, setup.device, masks=inputs.masks,
                              style_masks=inputs.style_masks)
    layer_weights = normalized_weights(settings.style_layer_weights, len(settings.style_layers),
                                       "--style-layer-weights")
    objective = Objective(model, targets, content_weight=settings.content_weight, style_weight=settings.style_weight,
                          tv_weight=settings.tv_weight,
                          style_layer_weights=dict(zip(settings.style_layers, layer_weights)),
                          precision=setup.precision)
    torch.manual_seed(settings.seed)
    image = initial_image(settings, inputs.work, setup.device, previous, start)
    return PreparedRun(objective, image, inputs, targets, setup)


def stylize(content: str | Path, styles: Sequence[str | Path], settings: StylizeSettings | None = None, *,
            callback: Callable[[Progress], None] | None = None, should_stop: Callable[[], bool] | None = None,
            resume: Snapshot | str | Path | None = None, plans: Sequence[Plan] | None = None,
            start: np.ndarray | None = None, extra_terms: Sequence[ExtraTerm] = ()) -> Result:
    """Render ``content`` in the style of ``styles`` (see ``StylizeSettings`` for every knob).

    Coarse to fine: each scale of ``settings.schedule()`` starts from the previous scale's
    result (see ``coarse_to_fine``); a scale ends at its iteration bound, on convergence
    (``tol``) or when its share of the time limit is spent. The last scale always runs, so the
    result has the requested size. ``should_stop`` ends the run at an iteration boundary with
    ``Stop.INTERRUPTED`` and a ``snapshot``; ``resume`` (a snapshot or its state file) continues
    such a run to the same result as an uninterrupted one. ``plans`` (from ``plan_scales``, one per
    scale) say how each scale runs; by default they are planned here against ``settings.memory``.
    ``start`` (H x W x 3 in [0, 1]) replaces ``settings.init`` at the first scale; ``extra_terms`` are
    added to the objective at every scale (``terms.py``; video's temporal term). Neither is in the
    recipe: a caller that uses them records them.
    """
    settings = settings or StylizeSettings()
    called = time.perf_counter()
    schedule = settings.schedule()
    plans = list(plans) if plans is not None else plan_scales(content, settings)
    if len(plans) != len(schedule):
        raise ValueError(f"stylize: {len(plans)} plans for {len(schedule)} scales")
    result = _run_scales(content, styles, settings, plans, callback=callback, should_stop=should_stop,
                         resume=resume, called=called, start=start, extra_terms=extra_terms)
    return replace(result, plans=tuple(plans))


def _run_scales(content: str | Path, styles: Sequence[str | Path], settings: StylizeSettings, plans: list[Plan], *,
                callback, should_stop, resume, called: float, start, extra_terms) -> Result:
    """The scales of ``settings.schedule()`` in order, each as ``plans`` says; see ``stylize``."""
    schedule = settings.schedule()
    inputs = load_inputs(content, styles, settings, schedule[0][0])
    state_file = Path(resume) if isinstance(resume, (str, Path)) else None
    setup = setup_run(settings, content, styles, plans=plans, precision=saved_precision(state_file) if state_file else
                      resume.precision if resume is not None else None)
    snapshot = load_snapshot(state_file, setup.recipe, setup.device) if state_file else resume
    first = snapshot.scale_index if snapshot is not None else 1
    state = LoopState(total_iterations=sum(its for _, its in schedule))
    image, model, run_deadline, startup, coarse = None, None, None, None, None
    for index, (size, iterations) in enumerate(schedule[first - 1:], start=first):
        run = prepare(content, styles, settings, size=size, previous=image, setup=setup, model=model,
                      inputs=inputs if index == 1 else None, start=start if index == 1 else None)
        model = run.objective.model
        continued: dict = {}
        if snapshot is not None and index == snapshot.scale_index:
            run.image = snapshot.image.detach().clone().requires_grad_(True)
            continued = {"optimizer_state": snapshot.optimizer_state, "history": snapshot.history,
                         "losses": snapshot.losses, "last_in_range": snapshot.last_in_range}
            iterations, state.done = iterations - snapshot.scale_done, snapshot.total_done
        if startup is None:
            state.started = time.perf_counter()
            startup = state.started - called
            run_deadline = state.started + settings.time_limit if settings.time_limit else None
        state.deadline = scale_deadline(run_deadline, schedule[index - 1:])
        plan = plans[index - 1]
        height, width = run.image.shape[-2:]
        state.cost = iteration_cost(height, width, plan.tile)
        state.later_cost = later_cost(height, width, size, [(s, its, p.tile) for (s, its), p in
                                                            zip(schedule[index:], plans[index:])])
        if settings.coarse_style_weight and len(schedule) > 1:
            coarse = coarse or (run if index == 1 else prepare(content, styles, settings, size=schedule[0][0],
                                                                setup=setup, model=model))
        objective = scale_objective(run, plan, settings, coarse if index > 1 else None, extra_terms)
        outcome = optimize(objective, run.image, state, optimizer=settings.optimizer, lr=settings.learning_rate,
                           iterations=iterations, tol=settings.tol, callback=callback, lbfgs_history=plan.history,
                           scale=(index, len(schedule), size), should_stop=should_stop, **continued)
        if outcome.stopped is Stop.INTERRUPTED:
            return _interrupted(outcome, index, run, state, startup)
        if outcome.stopped is Stop.DIVERGED and index < len(schedule):
            return _finish(_at_full_size(outcome.image, content, styles, settings, run), run, settings, state,
                           outcome, startup)
        if outcome.stopped is Stop.DIVERGED or index == len(schedule):
            return _finish(outcome.image, run, settings, state, outcome, startup)
        image = outcome.image  # a coarse scale's stop (converged, time limit) only ends that scale
    raise AssertionError("unreachable: the last scale always returns")


def scale_objective(run: PreparedRun, plan: Plan, settings: StylizeSettings, coarse: PreparedRun | None,
                    extra_terms: Sequence[ExtraTerm] = ()) -> LossAndGrad:
    """This scale's objective: whole or tiled, plus the coarsest scale's style (``coarse_style.py``)
    and the caller's ``extra_terms`` at this scale's size."""
    height, width = run.image.shape[-2:]
    objective = run.objective if plan.tile is None else TiledObjective(
        run.objective, plan_tiles(height, width, plan.tile))
    if coarse is not None:
        objective = coarse_style(objective, coarse.objective, settings.coarse_style_weight,
                                 tuple(coarse.image.shape[-2:]))
    for extra in extra_terms:
        objective = AddedTerm(objective, extra.name, extra.at_size(height, width), extra.weight)
    return objective


def plan_scales(content: str | Path, settings: StylizeSettings, budget: Budget | None = None) -> list[Plan]:
    """How each scale runs: the whole image, or tiles with a smaller L-BFGS history (``memory_estimate``),
    fitted to ``budget`` (default: ``settings.memory``, else what is free now on ``settings.device``)."""
    width, height = image_size(content, "content image")
    dims = [scaled_size(width, height, size)[::-1] for size, _ in settings.schedule()]
    if budget is None and settings.max_pixels is None:
        budget = memory_budget(settings.memory, device=settings.device)
    return scale_plans(dims, (*settings.content_layers, *settings.style_layers), budget, tile=settings.tile,
                       max_pixels=settings.max_pixels, style_scale=settings.style_scale)


def _at_full_size(image: torch.Tensor, content: str | Path, styles: Sequence[str | Path], settings: StylizeSettings,
                  run: PreparedRun) -> torch.Tensor:
    """A coarse scale's image brought to the requested size (a run that ends early still has that size)."""
    inputs = load_inputs(content, styles, settings, settings.size)
    run.inputs = inputs
    return coarse_to_fine(image, to_tensor(inputs.work, image.device))


def scale_deadline(run_deadline: float | None, remaining: list[tuple[int, int]]) -> float | None:
    """This scale's share of the time left: in proportion to its planned work (iterations x pixels).

    The last scale gets whatever is left, so a time limit never ends a run below the requested size.
    """
    if run_deadline is None or len(remaining) == 1:
        return run_deadline
    planned = [iterations * size**2 for size, iterations in remaining]
    now = time.perf_counter()
    return now + max(0.0, run_deadline - now) * planned[0] / sum(planned)


def _interrupted(outcome: ScaleOutcome, index: int, run: PreparedRun, state: LoopState, startup: float) -> Result:
    snapshot = Snapshot(index, len(outcome.history), state.done, outcome.image, outcome.optimizer_state,
                        outcome.history, outcome.losses, outcome.last_in_range, run.setup.precision)
    shown = outcome.image if outcome.last_in_range is None else outcome.last_in_range
    return Result(to_array(shown), run.setup.recipe, state.done, time.perf_counter() - state.started,
                  outcome.losses, startup, run.targets.engine, tuple(run.targets.style_cache), Stop.INTERRUPTED,
                  snapshot=snapshot)


def _finish(image: torch.Tensor, run: PreparedRun, settings: StylizeSettings, state: LoopState,
            outcome: ScaleOutcome, startup: float) -> Result:
    array = to_array(image)
    if settings.original_colors:
        array = color.recolor(array, run.inputs.content)
    losses = {} if outcome.stopped is Stop.DIVERGED else outcome.losses
    return Result(array, run.setup.recipe, state.done, time.perf_counter() - state.started, losses, startup,
                  run.targets.engine, tuple(run.targets.style_cache), outcome.stopped, outcome.message)
