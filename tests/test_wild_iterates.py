"""L-BFGS (one evaluation per step, no line search) now and then steps far out of range a few
iterations into a scale and back later; a scale that ends there ends on the last iterate in range
(loop.WILD_EXCURSION). The objective here makes that happen for sure, on any CPU and precision:
V-shaped pixels (loss c·Σ|x|). The first step is scaled down by the gradient's size; the second,
with no curvature seen yet, is a full step of -c per pixel (0.5 -> -2.5: wild), the third
-1.005 (still wild), the fourth back at 0.495."""

from __future__ import annotations

import torch

from stylegram.loop import LoopState, Stop, is_wild, optimize
from stylegram.resume import Snapshot, load_snapshot, save_snapshot


class VShaped:
    """loss = c·Σ|x|: a LossAndGrad whose L-BFGS iterates 2 and 3 are wild."""

    def loss_and_grad(self, image: torch.Tensor) -> dict[str, float]:
        pixels = image.detach().requires_grad_(True)
        loss = 3.0 * pixels.abs().sum()
        loss.backward()
        image.grad = pixels.grad
        value = float(loss.detach())
        return {"loss": value, "content": 0.0, "style": value, "tv": 0.0}


def _run(iterations: int, stop_at: int | None = None, **continued):
    seen: list[torch.Tensor] = []
    image = continued.pop("image", None)
    image = torch.full((1, 3, 8, 8), 0.5) if image is None else image
    outcome = optimize(VShaped(), image.clone().requires_grad_(True), LoopState(total_iterations=iterations),
                       optimizer="lbfgs", lr=1.0, iterations=iterations,
                       callback=lambda p: seen.append(p.image.clone()),
                       should_stop=None if stop_at is None else lambda: len(seen) == stop_at, **continued)
    return outcome, seen


def test_the_objective_makes_wild_iterates():
    _, seen = _run(4)
    assert [is_wild(image) for image in seen] == [False, True, True, False]


def test_a_scale_that_ends_on_a_wild_iterate_ends_on_the_last_in_range():
    for bound in (2, 3):  # ends on a wild iterate: the result is iteration 1's
        outcome, seen = _run(bound)
        assert outcome.stopped is Stop.BOUND and is_wild(seen[-1])
        torch.testing.assert_close(outcome.image, seen[0], rtol=0, atol=0)
    outcome, seen = _run(4)  # iteration 4 is back in range: an ordinary end keeps its last iterate
    torch.testing.assert_close(outcome.image, seen[3], rtol=0, atol=0)


def test_a_scale_interrupted_on_a_wild_iterate_keeps_both_and_resumes_exactly(tmp_path):
    stopped, seen = _run(3, stop_at=2)
    assert stopped.stopped is Stop.INTERRUPTED and is_wild(stopped.image)
    torch.testing.assert_close(stopped.image, seen[1], rtol=0, atol=0)  # the wild iterate: resumes exactly
    torch.testing.assert_close(stopped.last_in_range, seen[0], rtol=0, atol=0)  # what Ctrl-C shows
    state, recipe = tmp_path / "wild.resume.safetensors", {"settings": {"case": "wild"}}
    save_snapshot(state, Snapshot(1, 2, 2, stopped.image, stopped.optimizer_state, stopped.history,
                                  stopped.losses, stopped.last_in_range), recipe)
    loaded = load_snapshot(state, recipe, torch.device("cpu"))
    assert loaded.last_in_range is not None
    for bound in (3, 4):  # 3 ends wild (on iteration 1, from before the interruption); 4 ends in range
        full, _ = _run(bound)
        again = load_snapshot(state, recipe, torch.device("cpu"))
        resumed, _ = _run(bound - 2, image=again.image, optimizer_state=again.optimizer_state,
                          history=again.history, losses=again.losses, last_in_range=again.last_in_range)
        torch.testing.assert_close(resumed.image, full.image, rtol=0, atol=0)
        assert resumed.stopped is full.stopped
