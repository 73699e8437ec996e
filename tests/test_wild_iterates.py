"""L-BFGS (one evaluation per step, no line search) now and then steps far out of range a few
iterations into a scale and back at the next; a scale that ends there ends on the last iterate in
range (loop.WILD_EXCURSION). At 48 px with the defaults, iteration 2 is such an iterate (measured)."""

from __future__ import annotations

import numpy as np

from stylegram.loop import Stop, is_wild
from stylegram.resume import load_snapshot, save_snapshot
from stylegram.settings import StylizeSettings
from stylegram.stylize import stylize
from stylegram.tensor_images import to_array

from .conftest import CONTENT, STYLE


def _run(iterations: int, stop_at: int | None = None):
    seen = []
    settings = StylizeSettings(size=48, scales=1, iterations=iterations, tol=0)
    result = stylize(CONTENT, [STYLE], settings, callback=lambda p: seen.append(p.image.clone()),
                     should_stop=None if stop_at is None else lambda: len(seen) == stop_at)
    return result, seen


def test_a_scale_that_ends_on_a_wild_iterate_ends_on_the_last_in_range(private_home):
    result, seen = _run(2)
    assert not is_wild(seen[0]) and is_wild(seen[1])  # the case itself: iteration 2 stepped far out of range
    np.testing.assert_array_equal(result.image, to_array(seen[0]))
    assert np.abs(result.image - to_array(seen[1])).mean() > 0.05
    three, seen = _run(3)  # iteration 3 steps back into range: an ordinary end keeps its last iterate
    assert not is_wild(seen[2])
    np.testing.assert_array_equal(three.image, to_array(seen[2]))


def test_a_run_interrupted_on_a_wild_iterate_shows_the_last_in_range_and_resumes_exactly(tmp_path, private_home):
    full, _ = _run(2)
    stopped, seen = _run(2, stop_at=2)
    assert stopped.stopped is Stop.INTERRUPTED and stopped.iterations == 2 and is_wild(seen[1])
    np.testing.assert_array_equal(stopped.image, to_array(seen[0]))  # what the CLI writes on Ctrl-C
    state = tmp_path / "wild.resume.safetensors"
    save_snapshot(state, stopped.snapshot, stopped.recipe)
    assert load_snapshot(state, stopped.recipe, "cpu").last_in_range is not None
    resumed = stylize(CONTENT, [STYLE], StylizeSettings(size=48, scales=1, iterations=2, tol=0), resume=state)
    np.testing.assert_array_equal(resumed.image, full.image)
    assert (resumed.iterations, resumed.stopped) == (full.iterations, full.stopped)
