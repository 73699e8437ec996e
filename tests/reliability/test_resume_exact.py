"""A run stopped at any iteration boundary and resumed from its state file ends exactly as the
uninterrupted run: mid-scale, at the iteration where a scale converged, and in the last scale."""

from __future__ import annotations

import numpy as np
import pytest

from stylegram.loop import Stop
from stylegram.resume import load_snapshot, save_snapshot
from stylegram.settings import StylizeSettings
from stylegram.stylize import stylize

from ..conftest import CONTENT, STYLE

# the defaults (precision auto, ONNX Runtime targets, cache on) with a --tol that ends scale 1 early
SETTINGS = StylizeSettings(size=96, scales=2, iterations=40, tol=0.05, seed=3)


@pytest.fixture(scope="module")
def whole():
    seen = []
    result = stylize(CONTENT, [STYLE], SETTINGS, callback=seen.append)
    coarse = [p.iteration for p in seen if p.scale == 1]
    assert len(coarse) < 40  # scale 1 converged before its bound: the case a resume must not run past
    return result, coarse[-1]


def _stopped_at(iteration: int):
    seen = []
    result = stylize(CONTENT, [STYLE], SETTINGS, callback=seen.append,
                     should_stop=lambda: seen[-1].iteration == iteration)
    assert result.stopped is Stop.INTERRUPTED and result.iterations == iteration
    return result


@pytest.mark.parametrize("where", ["scale 1", "scale 1 converged", "scale 2"])
def test_resume_from_the_state_file_ends_like_the_whole_run(where, whole, tmp_path, private_home):
    full, converged_at = whole
    iteration = {"scale 1": 5, "scale 1 converged": converged_at, "scale 2": converged_at + 7}[where]
    stopped = _stopped_at(iteration)
    state = tmp_path / "run.resume.safetensors"
    save_snapshot(state, stopped.snapshot, stopped.recipe)
    assert load_snapshot(state, stopped.recipe, "cpu").history == stopped.snapshot.history
    seen = []
    resumed = stylize(CONTENT, [STYLE], SETTINGS, resume=state, callback=seen.append)
    assert seen[0].iteration == iteration + 1  # continues, nothing is redone
    np.testing.assert_array_equal(resumed.image, full.image)
    assert (resumed.iterations, resumed.stopped, resumed.losses) == (full.iterations, full.stopped, full.losses)
    assert resumed.recipe == full.recipe
