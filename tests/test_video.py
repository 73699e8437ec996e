"""`stylegram video`'s parts, without stylizing a clip: the temporal term's gradient, flow, cuts, keys, options."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from stylegram.errors import InputError
from stylegram.settings import StylizeSettings
from stylegram.video.flow import endpoint_error, flows_between, warp
from stylegram.video.frames import plan_frames
from stylegram.video.settings import video_settings
from stylegram.video.shots import CUT_DISTANCE, CutFinder, find_cuts
from stylegram.video.temporal import temporal_term
from stylegram.video.testclip import make_test_clip

from .conftest import CONTENT, ROOT, STYLE


@pytest.fixture(scope="module")
def clip():
    return make_test_clip(96, 64, first=6, second=4)


def test_temporal_term_has_the_gradient_of_the_full_loss(original_weights):
    """neural-style-tf built its temporal loss from a NumPy constant, so the optimizer never saw its gradient.
    Here the engine's gradient (objective + temporal term, as stylize builds it) must equal autograd of a
    direct implementation of the whole loss, and the temporal part of it must not be zero."""
    from stylegram.engine import plan_scales, prepare, scale_objective

    settings = StylizeSettings(size=48, scales=1, precision="fp32", targets="torch", cache=False)
    run = prepare(CONTENT, [STYLE], settings)
    height, width = run.image.shape[-2:]
    rng = np.random.default_rng(0)
    target = rng.uniform(0, 1, (height, width, 3)).astype(np.float32)
    weights = (rng.uniform(0, 1, (height, width)) > 0.3).astype(np.float32)
    weight = 50.0
    objective = scale_objective(run, plan_scales(CONTENT, settings)[0], settings, None,
                                [temporal_term(target, weights, weight)])
    image = run.image.detach().clone().requires_grad_(True)
    terms = objective.loss_and_grad(image)
    engine_gradient = image.grad.clone()

    direct = run.image.detach().clone().requires_grad_(True)
    omega = torch.from_numpy(target).permute(2, 0, 1)[None]
    c = torch.from_numpy(weights)[None, None]
    temporal = (c * (direct - omega) ** 2).sum() / (3 * height * width)  # L_t = 1/D sum_k c_k (x_k - w_k)^2
    (run.objective(direct)["loss"] + weight * temporal).backward()
    torch.testing.assert_close(engine_gradient, direct.grad, rtol=1e-4, atol=1e-7)
    assert terms["temporal"] == pytest.approx(float(temporal.detach()), rel=1e-5)

    alone = run.image.detach().clone().requires_grad_(True)
    run.objective(alone)["loss"].backward()
    temporal_gradient = engine_gradient - alone.grad
    assert float(temporal_gradient.abs().max()) > 1e-3
    expected = 2 * weight * c * (run.image.detach() - omega) / (3 * height * width)
    torch.testing.assert_close(temporal_gradient, expected, rtol=1e-3, atol=1e-6)


def test_true_flow_warps_the_previous_frame_onto_the_next(clip):
    t = 2
    warped = warp(clip.frames[t - 1].astype(np.float32), clip.backward_flow[t])
    background = np.all(clip.backward_flow[t] == clip.backward_flow[t][0, -1], axis=-1)
    background[:, :4] = background[-2:, :] = False  # pixels that came in at the edges
    error = np.abs(warped - clip.frames[t].astype(np.float32)).mean(axis=-1)
    assert np.median(error[background]) < 2.0  # in 0..255: the same pixels, up to the disc's trail


def test_dis_flow_is_accurate_and_the_consistency_check_drops_the_disc_edges(clip):
    t = 3
    backward, weights = flows_between(clip.frames[t - 1], clip.frames[t])
    truth = clip.backward_flow[t]
    assert endpoint_error(backward, truth, weights > 0.5) < 0.6  # px, where the check trusts the flow
    assert 0.6 < weights.mean() < 0.97
    disc = np.all(truth != truth[0, -1], axis=-1)  # the disc in frame t
    ring = _dilate(disc, 4) & ~_dilate(disc, -2)  # its edge, where it uncovers and covers the background
    assert weights[ring].mean() < 0.5 * weights[~_dilate(disc, 6)].mean()


def _dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    import cv2

    kernel = np.ones((2 * abs(pixels) + 1,) * 2, np.uint8)
    operation = cv2.dilate if pixels > 0 else cv2.erode
    return operation(mask.astype(np.uint8), kernel).astype(bool)


def test_the_test_clips_cut_is_found_with_a_wide_margin(clip):
    assert find_cuts(clip.frames) == clip.cuts == [6]
    finder = CutFinder()
    for frame in clip.frames:
        finder.is_cut(frame)
    within = [d for index, d in enumerate(finder.distances, start=1) if index not in clip.cuts]
    assert max(within) < CUT_DISTANCE / 2 and finder.distances[clip.cuts[0] - 1] > 2 * CUT_DISTANCE


def _keys(video, digests, starts=frozenset({4}), tmp=Path("/nonexistent")):
    inputs = [(index, tmp / f"{index}.png", digest) for index, digest in enumerate(digests)]
    return [frame.key for frame in plan_frames(inputs, set(starts), [STYLE], video, tmp)]


def test_a_frames_key_chains_to_the_one_before_so_a_change_recomputes_what_it_affects():
    first = StylizeSettings(size=64, iterations=20)
    video = video_settings(first)
    digests = [f"{i:064x}" for i in range(7)]
    keys = _keys(video, digests)
    assert len(set(keys)) == 7
    assert _keys(video_settings(replace(first, threads=1, memory=2.0)), digests) == keys  # how, not what
    heavier = _keys(video_settings(first, temporal_weight=10.0), digests)
    assert [a == b for a, b in zip(keys, heavier)] == [True, False, False, False, True, False, False]
    changed = _keys(video, digests[:2] + ["f" * 64] + digests[3:])
    assert [a == b for a, b in zip(keys, changed)] == [True, True, False, False, True, True, True]
    bolder = _keys(video_settings(replace(first, style_weight=20.0)), digests)
    assert not set(bolder) & set(keys)


def test_later_frames_run_one_scale_with_a_quarter_of_the_iterations():
    video = video_settings(StylizeSettings(size=512, iterations=300, scales=2))
    assert video.later.schedule() == [(512, 75)] and video.first.schedule() == [(256, 300), (512, 300)]
    assert video_settings(StylizeSettings(), later_iterations=40).later.iterations == 40
    with pytest.raises(InputError, match="--temporal-weight"):
        video_settings(StylizeSettings(), temporal_weight=-1)
    with pytest.raises(InputError, match="--flow"):
        video_settings(StylizeSettings(), flow="lucas-kanade")


def test_frame_ranges_and_output_kinds():
    from stylegram.cli.video_command import frame_range
    from stylegram.video.encode import output_kind

    assert frame_range("2:5") == (2, 5) and frame_range(":5") == (None, 5) and frame_range("3:") == (3, None)
    for bad in ("5", "a:b", "5:2", "-1:3", "1:2:3"):
        with pytest.raises(InputError, match="--frames"):
            frame_range(bad)
    assert [output_kind(Path(p)) for p in ("a.mp4", "b.WEBM", "c.gif", "out")] == [".mp4", ".webm", ".gif", "folder"]
    with pytest.raises(InputError, match="cannot hold"):
        output_kind(Path("song.wav"))


def test_the_video_extra_is_installed_for_the_tests_and_carries_an_h264_encoder():
    """No silent skips: the tests need PyAV and OpenCV, so `make test` must install them."""
    import av
    import cv2

    setup = re.search(r"^\$\(TEST_STAMP\):.*?\n\n", (ROOT / "Makefile").read_text(), re.M | re.S).group(0)
    assert re.search(r"-e '\.\[[^\]]*\bvideo\b[^\]]*\]'", setup), setup
    extra = re.search(r"^video = \[(.*)\]$", (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert '"av>=' in extra and '"opencv-python-headless>=4.8,<5"' in extra, extra
    assert av.codec.Codec("libx264", "w").name == "libx264"
    assert int(cv2.__version__.split(".")[0]) == 4
