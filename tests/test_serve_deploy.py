"""``stylegram serve`` as a deployment sees it: ``/v2/health/ready`` is never 200 before the model answers
(a readiness probe on it sends no traffic too early), the console shows stylegram's lines and the log
file Triton's (``--verbose``: both), SIGTERM stops it within a bound, and ``export --triton DIR`` writes
only DIR. Every server binds loopback on free ports, is stopped by its PID, and is polled a bounded
number of times."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stylegram.serve import DEFAULT_NAME

from .conftest import snapshot
from .test_serve import SHUTDOWN_BOUND_S, _ready, free_port, serve_command, start_serve, stop

pytestmark = pytest.mark.slow  # every test here starts a server or an export in a subprocess

GLOG_LINE = re.compile(r"^[EWI]\d{4} ", re.MULTILINE)  # Triton's log format
POLL_S, POLL_BOUND_S = 0.05, 120


def _status(port: int, path: str) -> int | None:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        connection.request("GET", path)
        status = connection.getresponse().status
        connection.close()
        return status
    except OSError:
        return None


def test_health_ready_is_never_200_before_the_model_is(tmp_path):
    """Both endpoints from the moment the process starts, every 50 ms, until the model is ready; with
    --verbose the console shows Triton's log too."""
    ports = {kind: free_port() for kind in ("http", "grpc", "metrics")}
    command = serve_command(ports, "--verbose", "--log-file", str(tmp_path / "triton.log"))
    with open(tmp_path / "console", "w") as console:
        proc = subprocess.Popen(command, stdout=console, stderr=subprocess.STDOUT)
    samples, deadline = [], time.time() + POLL_BOUND_S
    try:
        while time.time() < deadline and proc.poll() is None and (not samples or samples[-1][2] != 200):
            samples.append((round(time.time() - deadline + POLL_BOUND_S, 2),
                            _status(ports["http"], "/v2/health/ready"),
                            _status(ports["http"], f"/v2/models/{DEFAULT_NAME}/ready")))
            time.sleep(POLL_S)
    finally:
        stop(proc)
    console = (tmp_path / "console").read_text()
    assert samples and samples[-1][1:] == (200, 200), (samples[-5:], console[-3000:])
    early = [sample for sample in samples if sample[1] == 200 and sample[2] != 200]
    assert not early, f"health ready before the model: {early[:5]} of {len(samples)} samples"
    assert GLOG_LINE.search(console) and GLOG_LINE.search((tmp_path / "triton.log").read_text())


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")
def test_sigterm_stops_a_server_and_its_console_has_only_stylegrams_lines(tmp_path):
    """Its own server, under the default name (no --name), so that no other test depends on its stop; no
    --log-file, no --quiet, no --verbose: the console shows stylegram's lines, the log in the home the rest."""
    from pytriton.utils.distribution import get_libs_path

    from stylegram.serve.stub_env import stub_library_path

    home = Path(os.environ["STYLEGRAM_HOME"])
    running = start_serve(home, tmp_path, name=None, quiet=False)
    proc = running["proc"]
    try:
        wanted = stub_library_path(dict(os.environ)) or os.environ.get("LD_LIBRARY_PATH")  # and PyTriton's libs:
        assert _child_environment(proc.pid, "tritonserver")["LD_LIBRARY_PATH"] == ":".join(
            filter(None, (wanted, str(get_libs_path()))))
        started = time.time()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(SHUTDOWN_BOUND_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"SIGTERM: the server was still running after {SHUTDOWN_BOUND_S} s")
        console = running["console"].read_text()
        assert proc.returncode == 0, console[-3000:]
        assert time.time() - started < SHUTDOWN_BOUND_S and not _ready(running["http_port"], DEFAULT_NAME)
    finally:
        stop(proc)
    log = home / "serve" / f"triton-{running['http_port']}.log"
    assert not GLOG_LINE.search(console) and "NVML" not in console and "Traceback" not in console, console
    assert console.count(f"the server's log: {log}\n") == 1 and f"serving {DEFAULT_NAME} (" in console, console
    assert GLOG_LINE.search(log.read_text()) and "NVML" in log.read_text()  # what the console did not show


def _child_environment(pid: int, program: str) -> dict[str, str]:
    """The environment of ``pid``'s child running ``program`` (from /proc)."""
    (child,) = [stat.parent for stat in Path("/proc").glob("[0-9]*/stat") if _parent(stat) == pid
                and program in (stat.parent / "cmdline").read_text(errors="replace")]
    raw = (child / "environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").partition("=")[::2] for item in raw if item)


def _parent(stat: Path) -> int | None:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):  # a process that ended meanwhile
        return None


def test_export_triton_twice_writes_only_the_repository(tmp_path):
    """No -o: nothing in the working folder (no models/vgg19-avg.onnx), no export left in the temp folder,
    and the second run needs no --force."""
    work, temp, repository = tmp_path / "work", tmp_path / "temp", tmp_path / "repo"
    for folder in (work, temp):
        folder.mkdir()
    (work / "notes.txt").write_text("the user's own file\n")
    before = snapshot(work)
    command = [sys.executable, "-m", "stylegram", "export", "--triton", str(repository), "--triton-name", "twice"]
    for _ in range(2):
        proc = subprocess.run(command, cwd=work, env={**os.environ, "TMPDIR": str(temp)}, capture_output=True,
                              text=True, timeout=600, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert f"wrote {repository / 'twice' / '1' / 'model.onnx'} (" in proc.stdout, proc.stdout
    assert snapshot(work) == before and not list(temp.glob("stylegram-*"))  # (torch leaves its own there)
    assert sorted(snapshot(repository)) == ["twice/1/model.onnx", "twice/config.pbtxt"]
