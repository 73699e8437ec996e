"""SIGINT/SIGTERM during stylize: best image so far saved next to the output, non-zero exit, no temp files."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from ..conftest import CONTENT, STYLE


@pytest.mark.slow
@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_best_image(tmp_path, signum, code):
    out = tmp_path / "result.png"
    proc = subprocess.Popen(
        [sys.executable, "-m", "stylegram", "stylize", str(CONTENT), str(STYLE), "-o", str(out), "--size", "48",
         "--iterations", "100000", "--save-every", "1", "--quiet", "--targets", "torch", "--no-cache"],
        stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (tmp_path / "result.iter00002.png").exists():  # the loop is running
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read() if proc.poll() is not None else ""
        time.sleep(0.05)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "saved the best image so far" in lines[0], err
    assert f"interrupted by {signal.Signals(signum).name}" in lines[0] and "Traceback" not in err
    saved = tmp_path / "result.interrupted.png"
    assert str(saved) in lines[0] and saved.stat().st_size > 0
    assert not out.exists()  # the requested output is only written by a finished run
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def _stylize_cmd(out, *extra, defaults=False):
    pinned = [] if defaults else ["--precision", "fp32", "--targets", "torch", "--no-cache"]
    return [sys.executable, "-m", "stylegram", "stylize", str(CONTENT), str(STYLE), "-o", str(out), "--size", "48",
            "--iterations", "40", "--tol", "0", *pinned, "--quiet", *extra]


def _interrupt_at(cmd, tmp_path, name, iteration):
    """Start ``cmd`` with --save-every 1, SIGINT it once iteration ``iteration`` was saved; return stderr."""
    proc = subprocess.Popen([*cmd, "--save-every", "1"], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (tmp_path / f"{name}.iter{iteration:05d}.png").exists():
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read() if proc.poll() is not None else ""
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "--resume" in err, err
    return err


@pytest.mark.slow
def test_resume_continues_to_the_same_result(tmp_path):
    """fp32, PyTorch targets, no cache: the pinned configuration."""
    from stylegram.images import load_image

    whole = tmp_path / "whole.png"
    subprocess.run(_stylize_cmd(whole), check=True, timeout=300)
    out = tmp_path / "resumed.png"
    _interrupt_at(_stylize_cmd(out), tmp_path, "resumed", 5)
    state = tmp_path / "resumed.resume.safetensors"
    assert state.exists() and not out.exists()
    finished = subprocess.run(_stylize_cmd(out, "--resume"), capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    np.testing.assert_array_equal(load_image(out), load_image(whole))  # identical 8-bit output
    assert not state.exists()  # consumed


@pytest.mark.slow
@pytest.mark.parametrize("precision", [[], ["--precision", "bf16"]], ids=["auto", "bf16"])
def test_resume_with_the_defaults_is_byte_identical(tmp_path, private_home, precision):
    """What a user gets: precision auto (bf16 on AMX CPUs; forced here too, since torch runs it on any
    CPU), ONNX Runtime targets, the cache on, two scales; interrupted in the second scale, then
    resumed; other settings are refused."""
    cmd = lambda out, *extra: [*_stylize_cmd(out, defaults=True), "--size", "128", "--scales", "2",  # noqa: E731
                               *precision, *extra]
    whole = tmp_path / "whole.png"
    subprocess.run(cmd(whole), check=True, timeout=300)
    out = tmp_path / "resumed.png"
    _interrupt_at(cmd(out), tmp_path, "resumed", 52)  # scale 1 is iterations 1-40
    refused = subprocess.run(cmd(out, "--resume", "--seed", "1"), capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "belongs to other settings or inputs" in refused.stderr, refused.stderr
    assert (tmp_path / "resumed.resume.safetensors").exists() and not out.exists()  # the refusal kept the state
    finished = subprocess.run(cmd(out, "--resume"), capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert out.read_bytes() == whole.read_bytes()  # same pixels and the same recipe


def test_resume_refuses_a_missing_state(tmp_path, capsys):
    from stylegram.cli import main

    with pytest.raises(SystemExit) as info:
        main(_stylize_cmd(tmp_path / "x.png", "--resume")[3:])
    assert info.value.code == 2 and "no saved state" in capsys.readouterr().err
