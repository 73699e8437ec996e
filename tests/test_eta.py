"""Time left: every remaining scale's work, priced at the current scale's measured speed."""

from __future__ import annotations

import pytest

from stylegram.cli.progress_bar import time_left
from stylegram.engine import stylize
from stylegram.eta import iteration_cost, later_cost
from stylegram.settings import StylizeSettings

from .conftest import CONTENT, STYLE


def test_a_tiled_iteration_costs_its_padded_tiles_twice_over():
    assert iteration_cost(100, 200, None) == 3 * 100 * 200
    assert iteration_cost(100, 200, 256) == 4 * 100 * 200  # one tile: the Gram pass on top of the whole image's
    # 2048x1536 in 640 px tiles: padded columns 720+800+800+208, rows 720+800+336
    assert iteration_cost(1536, 2048, 640) == 4 * (720 + 800 + 800 + 208) * (720 + 800 + 336)
    assert later_cost(96, 128, 128, [(256, 10, None)]) == 10 * 3 * 192 * 256


@pytest.mark.slow
def test_progress_reports_the_time_left_over_every_scale(private_home):
    seen = []
    stylize(CONTENT, [STYLE], StylizeSettings(size=128, scales=2, iterations=4, tol=0), callback=seen.append)
    first, last_of_scale_1, last = seen[0], seen[3], seen[-1]
    assert [p.scale for p in seen] == [1] * 4 + [2] * 4
    # at 64 px, 3 iterations left here and 4 at 128 px, each costing 4x: 3 + 4 * 4 = 19 iterations' worth
    assert first.eta == pytest.approx(19 * first.seconds_per_iteration, rel=0.05)
    assert last_of_scale_1.eta == pytest.approx(16 * last_of_scale_1.seconds_per_iteration, rel=0.05)
    assert last.eta == 0 and last.seconds_per_iteration > 0


def test_time_left_reads_as_hours_minutes_seconds():
    assert time_left(3723.4) == "up to 1:02:03 left"
    assert time_left(65) == "up to 1:05 left"
    assert time_left(0) == "up to 0:00 left"
