"""Getting a Ray cluster for `batch`: joining a head started with `ray start --head` (token authentication,
as Ray 2.60 does by default), saying what is missing when that cannot work, and starting a local cluster
despite a stale address file. Real processes, each stopped by its id; nothing is left running."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from .conftest import CONTENT, STYLE

RAY = Path(sys.executable).with_name("ray")
TINY = ["--size", "40", "--iterations", "2", "--scales", "1", "--targets", "torch", "--quiet"]


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _ours(marker: str) -> list[psutil.Process]:
    """Processes whose command line names ``marker`` (a temporary folder made by the test)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if marker in " ".join(proc.info["cmdline"] or ()):
            found.append(proc)
    return found


def _stop(head: subprocess.Popen, marker: str) -> None:
    """Terminate the head's process group, then kill whatever of its session or folder is left (bounded)."""
    os.killpg(head.pid, signal.SIGTERM)
    try:
        head.wait(timeout=20)
    except subprocess.TimeoutExpired:
        head.kill()
        head.wait(timeout=10)
    for _ in range(3):
        left = _leftovers(head, marker)
        for proc in left:
            proc.kill()
        psutil.wait_procs(left, timeout=10)


def _leftovers(head: subprocess.Popen, marker: str) -> list[psutil.Process]:
    """The head's processes: its session (workers have their own process groups) or naming its folder."""
    return _ours(marker) + [p for p in psutil.process_iter() if _session(p) == head.pid and p.status() != "zombie"]


def _session(proc: psutil.Process) -> int | None:
    try:
        return os.getsid(proc.pid)
    except OSError:
        return None


def _batch(manifest: Path, out: Path, env: dict, *extra: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stylegram", "batch", str(manifest), "-o", str(out), *TINY, *extra],
                          env=env, capture_output=True, text=True, timeout=timeout)


def _manifest(folder: Path) -> Path:
    manifest = folder / "items.csv"
    manifest.write_text(f"content,styles\n{CONTENT},{STYLE}\n{STYLE},{CONTENT}\n")
    return manifest


def _statuses(out: Path) -> list[str]:
    return [item["status"] for item in json.loads((out / "batch-summary.json").read_text())["items"]]


@pytest.fixture
def short_dir():
    """A short folder under /tmp (Ray's socket paths must stay under ~100 characters), removed afterwards."""
    import shutil

    folder = Path(tempfile.mkdtemp(prefix="sg-ray-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_batch_joins_a_head_with_token_authentication_and_says_when_the_token_is_missing(short_dir, tmp_path):
    home, no_token = short_dir / "home", short_dir / "empty"
    no_token.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")} | {"HOME": str(home)}
    subprocess.run([str(RAY), "get-auth-token", "--generate"], env=env, check=True, capture_output=True, timeout=60)
    port, client, dashboard, agent = _free_ports(4)
    log = (short_dir / "head.log").open("w")
    head = subprocess.Popen(
        [str(RAY), "start", "--head", "--block", "--port", str(port), "--node-ip-address", "127.0.0.1",
         "--num-cpus", "2", "--include-dashboard=false", "--dashboard-port", str(dashboard),
         "--dashboard-agent-listen-port", str(agent), "--ray-client-server-port", str(client),
         "--temp-dir", str(short_dir / "t"), "--disable-usage-stats"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in (short_dir / "head.log").read_text():
            assert head.poll() is None and time.monotonic() < deadline, (short_dir / "head.log").read_text()
            time.sleep(0.5)
        assert "Token authentication is enabled" in (short_dir / "head.log").read_text()  # as `ray start` does
        address = f"127.0.0.1:{port}"
        out = tmp_path / "out"
        done = _batch(_manifest(tmp_path), out, env, "--address", address)
        assert done.returncode == 0 and _statuses(out) == ["done", "done"], done.stderr[-2000:]
        assert sorted(p.name for p in out.glob("*.png")) == ["starry_night--tubingen.png", "tubingen--starry_night.png"]

        refused = _batch(_manifest(tmp_path), tmp_path / "refused", env | {"HOME": str(no_token),
                                                                          "RAY_AUTH_MODE": "token"},
                         "--address", address, timeout=120)
        last = refused.stderr.strip().splitlines()[-1]
        assert refused.returncode == 1 and f"error: Ray: cannot join {address}" in last, refused.stderr
        assert "no Ray auth token here" in last and f"{no_token}/.ray/auth_token" in last
        assert "$RAY_AUTH_TOKEN" in last and "$RAY_AUTH_TOKEN_PATH" in last
    finally:
        _stop(head, str(short_dir))
        log.close()
    assert not _leftovers(head, str(short_dir)), "a raylet, gcs_server or worker of the test's head still runs"


@pytest.mark.slow
def test_a_stale_address_file_does_not_stop_a_local_batch(short_dir, tmp_path):
    (short_dir / "ray").mkdir()  # Ray's temp dir: $RAY_TMPDIR/ray instead of /tmp/ray
    (short_dir / "ray" / "ray_current_cluster").write_text("127.0.0.1:9")  # a head that died, as Ray leaves it
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")} | {"RAY_TMPDIR": str(short_dir)}
    plain = subprocess.run([sys.executable, "-c", "import ray; ray.init(num_cpus=1)"], env=env, capture_output=True,
                           text=True, timeout=120)  # what a plain init makes of that file
    assert plain.returncode != 0 and "num_cpus and num_gpus must not be provided" in plain.stderr, plain.stderr
    out = tmp_path / "out"
    done = _batch(_manifest(tmp_path), out, env, "--workers", "1")
    assert done.returncode == 0 and _statuses(out) == ["done", "done"], done.stderr[-2000:]
    deadline = time.monotonic() + 30  # the local cluster goes with the command
    while _ours(str(short_dir)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _ours(str(short_dir))


def test_the_token_is_looked_for_where_ray_looks(tmp_path):
    """``token_source`` against Ray's own token loader, in fresh processes (the loader caches what it found)."""
    token = tmp_path / ".ray" / "auth_token"
    script = ("import json\nfrom ray._raylet import AuthenticationTokenLoader\n"
              "from stylegram.batch.ray_cluster import token_source\n"
              "try:\n    ray = AuthenticationTokenLoader.instance().has_token(ignore_auth_mode=True)\n"
              "except Exception:\n    ray = False\n"
              "print(json.dumps([ray, token_source()]))")
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")} | {"HOME": str(tmp_path)}
    cases = [({}, None), ({}, str(token)), ({"RAY_AUTH_TOKEN_PATH": str(tmp_path / "elsewhere")}, None),
             ({"RAY_AUTH_TOKEN_PATH": str(token)}, str(token)), ({"RAY_AUTH_TOKEN": "b" * 64}, "$RAY_AUTH_TOKEN"),
             ({"RAY_AUTH_TOKEN": ""}, str(token))]
    for number, (extra, expected) in enumerate(cases):
        if number == 1:
            token.parent.mkdir()
            token.write_text("a" * 64)
        proc = subprocess.run([sys.executable, "-c", script], env=base | extra, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr
        ray_has, source = json.loads(proc.stdout.strip().splitlines()[-1])
        assert (source, ray_has) == (expected, expected is not None), (extra, proc.stdout)
