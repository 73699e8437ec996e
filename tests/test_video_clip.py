"""`stylegram video` on the generated clip, with the real weights at 64 px: frames, rate, cut, flicker, resume."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylegram.images import load_image, read_recipe
from stylegram.settings import StylizeSettings
from stylegram.video.pipeline import stylize_video
from stylegram.video.settings import video_settings
from stylegram.video.testclip import make_test_clip, write_clip

from .conftest import STYLE

pytestmark = pytest.mark.slow
FIRST, SECOND = 5, 3  # frames before and after the cut
SETTINGS = StylizeSettings(size=64, iterations=30)  # later frames: 8 iterations, one scale


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """The session's private cache folder (conftest's ``private_home`` is per test; these fixtures are per module)."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.getbasetemp() / "stylegram-home"
        patch.setenv("STYLEGRAM_HOME", str(folder))
        yield folder


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory, home) -> Path:
    clip = make_test_clip(64, 44, first=FIRST, second=SECOND)
    return write_clip(clip.frames, tmp_path_factory.mktemp("clip") / "clip.mp4", fps=10)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, clip_file, home):
    """(a): the whole clip in one run, frames kept."""
    output = tmp_path_factory.mktemp("a") / "styled.mp4"
    events = []
    outcome = stylize_video(clip_file, [STYLE], output, video_settings(SETTINGS), keep_frames=True,
                            on_frame=events.append)
    return outcome, events, output


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_every_frame_at_the_input_rate_the_cut_found_and_the_style_cache_reused(uninterrupted):
    import av

    outcome, events, output = uninterrupted
    assert outcome.finished and output.is_file()
    with av.open(str(output)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == 10 and (stream.width, stream.height) == (64, 44)
        assert sum(1 for _ in container.decode(stream)) == FIRST + SECOND
    recipes = [read_recipe(frame.output)["video"] for frame in outcome.prepared.frames]
    assert [r["shot"] for r in recipes] == [0] * FIRST + [1] * SECOND
    assert [r["start"] == "content" for r in recipes] == [i in (0, FIRST) for i in range(FIRST + SECOND)]
    assert all(r["previous_sha256"] for i, r in enumerate(recipes) if i not in (0, FIRST))
    assert [e.style_cache for e in events[1:]] == [("hit",)] * (FIRST + SECOND - 1)  # Grams computed once
    later = [e.iterations for e in events if e.frame.previous is not None]
    assert max(later) <= 8 < min(e.iterations for e in events if e.frame.previous is None)


def test_warping_error_is_at_most_half_of_stylizing_frame_by_frame(uninterrupted):
    from stylegram.engine import stylize
    from stylegram.video.metrics import input_flows, warping_error

    outcome, _, _ = uninterrupted
    frames = outcome.prepared.frames
    inputs = [_pixels(frame.input) for frame in frames]
    flows = input_flows(inputs, [FIRST])
    video = warping_error([_pixels(frame.output) for frame in frames], flows)
    one_by_one = warping_error([stylize(frame.input, [STYLE], SETTINGS).image for frame in frames], flows)
    print(f"warping error: video {video:.4f}, one by one {one_by_one:.4f}, input {warping_error(inputs, flows):.4f}")
    assert video <= 0.5 * one_by_one


def test_an_interrupted_run_continues_to_the_same_frames_touching_none_it_finished(uninterrupted, tmp_path, clip_file):
    reference = [frame.output for frame in uninterrupted[0].prepared.frames]
    output, video = tmp_path / "styled.mp4", video_settings(SETTINGS)
    finished, iterations = [], [0]

    def count(progress) -> None:
        iterations[0] += 1

    stop_in_fourth = lambda: len(finished) == 3 and iterations[0] >= 3  # noqa: E731
    first = stylize_video(clip_file, [STYLE], output, video, keep_frames=True,
                          on_frame=lambda e: (finished.append(e), iterations.__setitem__(0, 0)),
                          callback=count, should_stop=stop_in_fourth)
    assert not first.finished and not output.exists()
    done = [frame.output for frame in first.prepared.frames if frame.output.exists()]
    assert done == [frame.output for frame in first.prepared.frames[:3]]
    times = {path: os.stat(path).st_mtime_ns for path in done}

    events = []
    second = stylize_video(clip_file, [STYLE], output, video, keep_frames=True, on_frame=events.append)
    assert second.finished and output.is_file()
    assert [e.skipped for e in events] == [True] * 3 + [False] * (FIRST + SECOND - 3)
    assert {path: os.stat(path).st_mtime_ns for path in done} == times
    for mine, theirs in zip([f.output for f in second.prepared.frames], reference, strict=True):
        np.testing.assert_array_equal(_pixels(mine), _pixels(theirs))

    again = []
    stylize_video(clip_file, [STYLE], output, video, on_frame=again.append)  # everything done: only encodes
    assert all(e.skipped for e in again) and len(again) == FIRST + SECOND
    assert not (tmp_path / "styled.mp4.frames").exists()  # removed after the encode without --keep-frames


def test_original_colors_and_a_folder_of_frames_out(tmp_path, home):
    from stylegram import color

    clip = make_test_clip(64, 44, first=3, second=0)
    source = tmp_path / "frames"
    source.mkdir()
    for index, frame in enumerate(clip.frames):
        Image.fromarray(frame).save(source / f"frame{index + 1}.png")
    output = tmp_path / "styled"
    settings = video_settings(StylizeSettings(size=64, iterations=6, original_colors=True))
    assert stylize_video(source, [STYLE], output, settings).finished
    written = sorted(output.glob("*.png"))
    assert [p.name for p in written] == ["000000.png", "000001.png", "000002.png"]
    for path, frame in zip(written, clip.frames):
        chroma = color.to_yiq(load_image(path))[..., 1:]
        assert np.abs(chroma - color.to_yiq(frame.astype(np.float32) / 255)[..., 1:]).mean() < 0.01
        assert read_recipe(path)["settings"]["original_colors"] is True
