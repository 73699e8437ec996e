"""The `stylegram video` command: bad inputs, audio, Ctrl-C, the readers and writers, Ray."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylegram.cli import main
from stylegram.video.testclip import make_test_clip, write_clip

from .conftest import STYLE


@pytest.fixture(scope="module")
def frames():
    return make_test_clip(64, 44, first=3, second=2).frames


@pytest.fixture
def clip_file(tmp_path, frames) -> Path:
    return write_clip(frames, tmp_path / "clip.mp4", fps=10)


def _text(folder: Path, frames, clip: Path) -> Path:
    (folder / "notes.mp4").write_text("not a video\n")
    return folder / "notes.mp4"


def _truncated(folder: Path, frames, clip: Path) -> Path:
    (folder / "cut.mp4").write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    return folder / "cut.mp4"


def _audio_only(folder: Path, frames, clip: Path) -> Path:
    import av

    path = folder / "sound.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def _empty_folder(folder: Path, frames, clip: Path) -> Path:
    (folder / "empty").mkdir()
    return folder / "empty"


def _two_sizes(folder: Path, frames, clip: Path) -> Path:
    (folder / "mixed").mkdir()
    Image.fromarray(frames[0]).save(folder / "mixed" / "f1.png")
    Image.fromarray(frames[1][:32, :48]).save(folder / "mixed" / "f2.png")
    return folder / "mixed"


def _the_clip(folder: Path, frames, clip: Path) -> Path:
    return clip


BAD_INPUTS = {  # name: (make the input, extra options, what the message says)
    "not a video": (_text, [], "not a video"),
    "truncated": (_truncated, [], "damaged or truncated"),
    "zero frames": (_audio_only, [], "zero frames"),
    "empty folder": (_empty_folder, [], "contains no images"),
    "frames change size": (_two_sizes, [], "every frame must have one size"),
    "an image": (lambda folder, frames, clip: STYLE, [], "not a video"),
    "output cannot hold video": (_the_clip, ["-o", "{tmp}/styled.wav"], "cannot hold"),
    "frame range outside": (_the_clip, ["--frames", "7:9"], "outside the clip, which has 5 frames"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(case, tmp_path, frames, clip_file, capsys):
    make, extra, message = BAD_INPUTS[case]
    source = make(tmp_path, frames, clip_file)
    extra = [part.format(tmp=tmp_path) for part in extra]
    before = set(tmp_path.rglob("*"))
    output = ["-o", str(tmp_path / "styled.mp4")] if "-o" not in extra else []
    with pytest.raises(SystemExit) as stop:
        main(["video", str(source), str(STYLE), *output, *extra, "--size", "64", "--iterations", "2", "--quiet"])
    err = capsys.readouterr().err
    assert stop.value.code == 2, err
    assert err.count("\n") == 1 and err.startswith("stylegram: error:") and "Traceback" not in err, err
    assert message in err, err
    assert set(tmp_path.rglob("*")) == before  # no output, no work folder


def _audio(path: Path) -> tuple[list[bytes], int]:
    """The first audio stream's packet payloads, and how many samples it decodes to."""
    import av

    with av.open(str(path)) as container:
        payloads = [bytes(packet) for packet in container.demux(audio=0) if packet.size]
    with av.open(str(path)) as container:
        return payloads, sum(frame.samples for frame in container.decode(audio=0))


def test_audio_is_copied_and_the_rate_kept(tmp_path, frames, capsys):
    import av

    source = write_clip(frames[:3], tmp_path / "tone.mp4", fps=10, audio_hz=440)
    output = tmp_path / "styled.mp4"
    main(["video", str(source), str(STYLE), "-o", str(output), "--size", "64", "--iterations", "3"])
    assert "with audio" in capsys.readouterr().err
    assert _audio(output) == _audio(source)  # the same packets, byte for byte: copied, not re-encoded
    with av.open(str(output)) as container:
        assert container.streams.video[0].average_rate == 10
        assert sum(1 for _ in container.decode(video=0)) == 3
    assert not (tmp_path / "styled.mp4.frames").exists()


def test_audio_copied_into_matroska_keeps_its_priming(tmp_path, frames):
    """Matroska has no edit list to hide the AAC encoder's priming frame: the packets are copied as they
    are, and a player plays the priming (1024 samples, 64 ms at this tone's 16 kHz) as well."""
    from stylegram.video.encode import AudioSource, write_video

    source = write_clip(frames[:3], tmp_path / "tone.mp4", fps=10, audio_hz=440)
    pngs = []
    for index, frame in enumerate(frames[:3]):
        pngs.append(tmp_path / f"{index}.png")
        Image.fromarray(frame).save(pngs[-1])
    write_video(pngs, tmp_path / "styled.mkv", Fraction(10), AudioSource(source))
    (copied, played), (packets, samples) = _audio(tmp_path / "styled.mkv"), _audio(source)
    assert copied == packets
    assert played == samples + 1024


def test_every_reader_and_writer(tmp_path, frames):
    """GIF, WebP, a folder and MP4 in; WebM (VP9 with Opus for AAC audio), GIF and WebP out."""
    import av

    from stylegram.video.encode import AudioSource, write_video
    from stylegram.video.io import open_clip, read_frames

    pictures = [Image.fromarray(f) for f in frames]
    for suffix in (".gif", ".webp"):
        pictures[0].save(tmp_path / f"clip{suffix}", save_all=True, append_images=pictures[1:], duration=100, loop=0)
        clip = open_clip(tmp_path / f"clip{suffix}")
        assert clip.fps == 10 and [f.shape for f in read_frames(clip)] == [(44, 64, 3)] * len(frames)
    pngs = []
    for index, frame in enumerate(frames):
        pngs.append(tmp_path / f"{index:06d}.png")
        Image.fromarray(frame).save(pngs[-1])
    tone = write_clip(frames, tmp_path / "tone.mp4", fps=10, audio_hz=440)
    write_video(pngs, tmp_path / "out.webm", Fraction(10), AudioSource(tone))
    with av.open(str(tmp_path / "out.webm")) as container:
        assert [s.codec_context.name for s in container.streams] == ["vp9", "opus"]
    for suffix in (".gif", ".webp"):
        write_video(pngs, tmp_path / f"out{suffix}", Fraction(10))
        assert len(list(read_frames(open_clip(tmp_path / f"out{suffix}")))) == len(frames)


@pytest.mark.slow
def test_ctrl_c_keeps_the_finished_frames_and_the_same_command_continues(tmp_path, clip_file):
    command = [sys.executable, "-m", "stylegram", "video", str(clip_file), str(STYLE), "-o",
               str(tmp_path / "styled.mp4"), "--size", "64", "--iterations", "40", "--tol", "0", "--quiet"]
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    first = tmp_path / "styled.mp4.frames" / "000000.png"
    deadline = time.monotonic() + 600
    while not first.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    assert "frames are finished and kept" in err and err.count("\n") == 1, err
    assert not (tmp_path / "styled.mp4").exists()
    finished_at = first.stat().st_mtime_ns
    done = subprocess.run(command[:-1] + ["--keep-frames", "--quiet"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert first.stat().st_mtime_ns == finished_at and (tmp_path / "styled.mp4").is_file()


@pytest.mark.slow
def test_shots_in_parallel_on_ray_make_frames_a_plain_rerun_recognises(tmp_path, clip_file):
    from stylegram.settings import StylizeSettings
    from stylegram.video.pipeline import stylize_video
    from stylegram.video.settings import video_settings

    video = video_settings(StylizeSettings(size=64, iterations=3))
    output = tmp_path / "styled.mp4"
    events = []
    assert stylize_video(clip_file, [STYLE], output, video, keep_frames=True, use_ray=True,
                         on_frame=events.append).finished
    assert sorted(e.frame.index for e in events) == list(range(5)) and not any(e.skipped for e in events)
    again = []
    stylize_video(clip_file, [STYLE], output, video, on_frame=again.append)
    assert [e.skipped for e in again] == [True] * 5
