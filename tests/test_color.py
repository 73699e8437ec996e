"""--colors: keep, luminance (--original-colors) and match (style recoloured to the content's statistics)."""

from __future__ import annotations

import numpy as np
import pytest

from stylegram.color import color_stats, match_colors
from stylegram.errors import InputError
from stylegram.images import load_image
from stylegram.inputs import load_inputs
from stylegram.settings import StylizeSettings

from .conftest import CONTENT, STYLE


def test_match_gives_the_style_image_the_contents_mean_and_covariance():
    content, style = load_image(CONTENT, long_edge=64), load_image(STYLE, long_edge=80)
    matched = match_colors(style, content)
    (mean, cov), (want_mean, want_cov) = color_stats(matched), color_stats(content)
    assert np.abs(mean - want_mean).max() < 1e-3 and np.abs(cov - want_cov).max() < 1e-3
    assert np.abs(color_stats(style)[1] - want_cov).max() > 1e-2  # it was not so before
    # the structure is the style's: an affine map of its colours, the same for every pixel
    assert np.corrcoef(matched[..., 0].ravel(), style[..., 0].ravel())[0, 1] > 0.5


def test_colors_option_and_its_alias():
    assert StylizeSettings(original_colors=True).colors == "luminance"
    assert StylizeSettings(colors="luminance").original_colors
    assert not StylizeSettings(colors="match").original_colors
    assert "colors" not in StylizeSettings().as_dict()  # recipes of runs without it are as before
    with pytest.raises(InputError, match="--colors must be one of keep, luminance, match"):
        StylizeSettings(colors="sepia")


def test_match_is_what_the_run_optimizes_against():
    inputs = load_inputs(CONTENT, [STYLE], StylizeSettings(size=48, colors="match"), 48)
    (mean, cov), (want_mean, want_cov) = color_stats(inputs.styles[0]), color_stats(inputs.content)
    assert np.abs(mean - want_mean).max() < 1e-3 and np.abs(cov - want_cov).max() < 1e-3
    np.testing.assert_array_equal(inputs.work, inputs.content)
