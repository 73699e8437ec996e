"""--coarse-style: the coarsest scale's style, asked for during the finer scales."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stylegram.engine import prepare, scale_objective, stylize
from stylegram.errors import InputError
from stylegram.images import to_pil
from stylegram.memory_estimate import Plan
from stylegram.settings import StylizeSettings

from .conftest import CONTENT, STYLE

COMMON = dict(size=128, scales=2, iterations=12, tol=0, precision="fp32", targets="torch", cache=False)


@pytest.mark.slow
def test_the_term_and_its_gradient_are_the_downscaled_images_style_loss(original_weights):
    settings = StylizeSettings(coarse_style=2.0, **COMMON)
    coarse = prepare(CONTENT, [STYLE], settings, size=64)
    fine = prepare(CONTENT, [STYLE], settings, size=128, model=coarse.objective.model)
    objective = scale_objective(fine, Plan(0, 0, None, 100, 0), settings, coarse)
    image = (fine.image.detach() + 0.05 * torch.randn(fine.image.shape, generator=torch.Generator().manual_seed(0)))
    image = image.clamp(0, 1).requires_grad_(True)
    terms = objective.loss_and_grad(image)

    expected = image.detach().clone().requires_grad_(True)
    small = F.interpolate(expected, size=coarse.image.shape[-2:], mode="area")
    coarse_terms = coarse.objective(small)  # content and tv of the coarse objective are not part of the term
    total = fine.objective(expected)["loss"] + 2.0 * settings.style_weight * coarse_terms["style"]
    total.backward()
    assert terms["coarse_style"] == pytest.approx(float(coarse_terms["style"].detach()), rel=1e-5)
    assert terms["loss"] == pytest.approx(float(total.detach()), rel=1e-5)
    torch.testing.assert_close(image.grad, expected.grad, rtol=1e-4, atol=1e-7)


@pytest.mark.slow
def test_a_run_with_the_term_keeps_the_coarse_look(private_home):
    """The result downscaled to the coarse scale is closer to the coarse style than without the term."""
    results = {w: stylize(CONTENT, [STYLE], StylizeSettings(coarse_style=w, **COMMON)) for w in (0.0, 2.0)}
    coarse = prepare(CONTENT, [STYLE],
                     StylizeSettings(size=64, scales=1, precision="fp32", targets="torch", cache=False))

    def coarse_style_loss(result) -> float:
        small = np.asarray(to_pil(result.image).resize(coarse.image.shape[-1:-3:-1], 4), dtype=np.float32) / 255
        with torch.no_grad():
            return float(coarse.objective(torch.from_numpy(small).permute(2, 0, 1)[None].contiguous())["style"])

    assert results[2.0].recipe["settings"]["coarse_style"] == 2.0
    assert coarse_style_loss(results[2.0]) < 0.8 * coarse_style_loss(results[0.0])


def test_a_negative_weight_is_refused():
    with pytest.raises(InputError, match="--coarse-style must be >= 0"):
        StylizeSettings(coarse_style=-1)


@pytest.mark.slow
def test_by_default_the_term_is_on_from_three_scales(private_home):
    """Unset (the default), the weight is 1 when the finest scale is >= 4x the coarsest, else 0: a default
    three-scale run equals one with --coarse-style 1 and differs from --coarse-style 0; two scales, the opposite."""
    def image(scales: int, **weight) -> np.ndarray:
        settings = StylizeSettings(size=128, scales=scales, iterations=4, tol=0, **weight)
        return stylize(CONTENT, [STYLE], settings).image

    assert StylizeSettings(size=2048).coarse_style_weight == 1.0 and StylizeSettings().coarse_style_weight == 0.0
    three = image(3)
    np.testing.assert_array_equal(three, image(3, coarse_style=1.0))
    assert np.abs(three - image(3, coarse_style=0.0)).mean() > 1e-3
    np.testing.assert_array_equal(image(2), image(2, coarse_style=0.0))
