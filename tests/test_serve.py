"""A real Triton server (``stylegram serve`` through PyTriton) on free loopback ports: the KServe v2
protocol over HTTP and gRPC, targets equal to the in-process ones, bad requests answered with errors
while the server keeps serving (with the message only), a model served under another name. Every
wait here is bounded; every server is stopped by its PID. Readiness, the console and a stop by SIGTERM
are in test_serve_deploy.py; the serve parts that need no server in test_triton_repo.py and
test_serve_errors.py."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from stylegram.images import load_image
from stylegram.runtime.targets import image_grams, to_batch
from stylegram.serve import DEFAULT_NAME

from .conftest import CONTENT, STYLE

NAME = "stylegram_other"  # the shared server's model name: not the default, so every client must be told it
READY_BOUND_S = 180
SHUTDOWN_BOUND_S = 30  # ServeOptions.exit_timeout_s (5 s) plus Triton's own teardown, with room for a slow CI

pytestmark = pytest.mark.slow  # every test here starts a server or a stylization in a subprocess


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_command(ports: dict[str, int], *args: str) -> list[str]:
    return [sys.executable, "-m", "stylegram", "serve", "--http-port", str(ports["http"]), "--grpc-port",
            str(ports["grpc"]), "--metrics-port", str(ports["metrics"]), *args]


def start_serve(home: Path, folder: Path, *args: str, name: str | None = NAME, quiet: bool = True) -> dict:
    """`stylegram serve` on three free loopback ports (``name`` None: its default name), once ready; its
    stdout and stderr in ``folder/serve.console``; with ``quiet``, its log in ``folder/triton.log``."""
    ports = {kind: free_port() for kind in ("http", "grpc", "metrics")}
    command = serve_command(ports, *(["--log-file", str(folder / "triton.log"), "--quiet"] if quiet else []),
                            *(["--name", name] if name else []), *args)
    with open(folder / "serve.console", "w") as console:  # a file, not a pipe nobody reads: it cannot fill up
        proc = subprocess.Popen(command, env={**os.environ, "STYLEGRAM_HOME": str(home)}, stdout=console,
                                stderr=subprocess.STDOUT)
    deadline = time.time() + READY_BOUND_S
    try:
        while not _ready(ports["http"], name or DEFAULT_NAME):
            assert proc.poll() is None, (folder / "serve.console").read_text()[-3000:]
            assert time.time() < deadline, f"server did not become ready in {READY_BOUND_S} s"
            time.sleep(0.25)
    except BaseException:
        stop(proc)
        raise
    return {"proc": proc, "http": f"http://127.0.0.1:{ports['http']}", "grpc": f"grpc://127.0.0.1:{ports['grpc']}",
            "http_port": ports["http"], "home": home, "console": folder / "serve.console"}


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM (Triton cleans its workspace and shared memory), then SIGKILL after the bound; by PID."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(SHUTDOWN_BOUND_S)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The default model served as NAME; the home is conftest's private one (the same managed model)."""
    running = start_serve(tmp_path_factory.getbasetemp() / "stylegram-home", tmp_path_factory.mktemp("serve"))
    yield running
    stop(running["proc"])


def _ready(port: int, name: str = NAME) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", f"/v2/models/{name}/ready")
        return connection.getresponse().status == 200
    except OSError:
        return False


def _post(port: int, body: bytes) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", f"/v2/models/{NAME}/infer", body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def _good_request(port: int) -> np.ndarray:
    import tritonclient.http as client

    triton = client.InferenceServerClient(f"127.0.0.1:{port}", network_timeout=60)
    image = to_batch(load_image(STYLE, long_edge=64))
    request = client.InferInput("image", list(image.shape), "FP32")
    request.set_data_from_numpy(image)
    result = triton.infer(NAME, [request], outputs=[client.InferRequestedOutput("gram_relu3_1")])
    triton.close()
    return result.as_numpy("gram_relu3_1")


def test_tritonclient_http_grams_equal_in_process(server, original_weights):
    from stylegram.export.managed import managed_model
    from stylegram.runtime.sessions import build_session
    from stylegram.serve.client import ServerSession
    from stylegram.settings import StylizeSettings

    grams = _good_request(server["http_port"])
    local = build_session(managed_model(StylizeSettings(), original_weights))
    expected = image_grams(local, load_image(STYLE, long_edge=64))
    np.testing.assert_allclose(grams[0], expected["relu3_1"], rtol=0, atol=1e-5 * np.abs(grams).max())
    for url in (server["http"], server["grpc"]):  # every style layer, both protocols, through stylegram's client
        remote = image_grams(ServerSession(url, model_name=NAME), load_image(STYLE, long_edge=64))
        for layer, gram in expected.items():
            np.testing.assert_allclose(remote[layer], gram, rtol=0, atol=1e-5 * np.abs(gram).max())


def test_grpc_carries_feature_maps_over_4_mb(server):
    from stylegram.serve.client import ServerSession

    image = to_batch(load_image(CONTENT, long_edge=512))  # relu4_2: 512 x 48 x 64 floats = 6 MiB
    out = ServerSession(server["grpc"], model_name=NAME).run(image, ["relu4_2"])["relu4_2"]
    assert out.shape == (1, 512, 48, 64) and out.nbytes > 4 * 2**20 and np.isfinite(out).all()


def _stylize(tmp_path, name, *extra, size="48", iterations="8"):
    out = tmp_path / name
    proc = subprocess.run([sys.executable, "-m", "stylegram", "stylize", str(CONTENT), str(STYLE), "-o", str(out),
                           "--size", size, "--iterations", iterations, "--seed", "5", "--no-cache", "--quiet", *extra],
                          capture_output=True, text=True, timeout=300, check=False)
    return proc, out


def test_stylize_with_server_targets_matches_ort_targets(server, tmp_path):
    by_server, server_png = _stylize(tmp_path, "server.png", "--targets", "server", "--server", server["http"],
                                     "--server-model", NAME)
    by_ort, ort_png = _stylize(tmp_path, "ort.png", "--targets", "ort")
    assert by_server.returncode == 0 and by_ort.returncode == 0, by_server.stderr + by_ort.stderr
    np.testing.assert_array_equal(load_image(server_png), load_image(ort_png))


def test_server_model_names_the_served_model(server, tmp_path):
    common = ("--targets", "server", "--server", server["http"], "--weights", "original")
    named, named_png = _stylize(tmp_path, "named.png", *common, "--server-model", NAME, size="64", iterations="2")
    assert named.returncode == 0 and named_png.is_file(), named.stderr
    unnamed, unnamed_png = _stylize(tmp_path, "unnamed.png", *common, size="64", iterations="2")
    assert unnamed.returncode == 1 and "Traceback" not in unnamed.stderr and not unnamed_png.exists(), unnamed.stderr
    (line,) = unnamed.stderr.strip().splitlines()
    assert line.startswith(f"stylegram: error: server {server['http']}: reading the model config failed:"), line
    assert f"unknown model: '{DEFAULT_NAME}'" in line and line.endswith("with --server-model NAME"), line


def test_server_with_other_layers_is_refused(server, tmp_path):
    proc, out = _stylize(tmp_path, "x.png", "--server", server["http"], "--server-model", NAME,
                         "--style-layers", "relu1_1,relu2_1")
    assert proc.returncode == 2 and "--server" in proc.stderr and "style layers" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not out.exists()


def _json_request(name="image", shape=(1, 3, 32, 32), datatype="FP32", data=None) -> bytes:
    count = int(np.prod(shape))
    return json.dumps({"inputs": [{"name": name, "shape": list(shape), "datatype": datatype,
                                   "data": data if data is not None else [0.5] * count}]}).encode()


# Triton itself answers a bad dtype, rank or input name with 400, and so does stylegram's inference function
# for a request it refuses (through serve/stub_model.py: the message only).
@pytest.mark.parametrize("case,body,status,message", [
    ("wrong dtype", _json_request(datatype="INT32", data=[1] * 3072), 400, "data-type is 'INT32', but model"),
    ("wrong rank", _json_request(shape=(3, 32, 32)), 400, "unexpected shape for input 'image'"),
    ("missing input", _json_request(name="photo"), 400, "unexpected inference input 'photo'"),
    ("1 px image", _json_request(shape=(1, 3, 1, 1)), 400,
     "request 0: image 1x1 px is too small; the model's layers need at least 16 px on each side"),
    ("shape too large to allocate", _json_request(shape=(1, 3, 20000, 20000), data=[0.5] * 12), 500,
     "Shape does not match true shape of 'data' field"),
    ("not JSON", b"{\"inputs\": [{", 500, "failed to parse the request JSON buffer"),
])
def test_malformed_requests_get_errors_and_the_server_keeps_serving(server, case, body, status, message):
    answer_status, answer = _post(server["http_port"], body)
    assert answer_status == status and message in answer.get("error", ""), (case, answer_status, answer)
    assert _good_request(server["http_port"]).shape == (1, 256, 256)  # the very next good request


def test_nan_pixels_are_refused_with_a_clear_message(server):
    from stylegram.serve.client import ServerError, ServerSession

    session = ServerSession(server["http"], model_name=NAME)
    with pytest.raises(ServerError, match=r"inference failed: \S* ?request 0: image has NaN or infinite pixel values"):
        session.run(np.full((1, 3, 32, 32), np.nan, np.float32), ["gram_relu1_1"])
    assert _good_request(server["http_port"]).shape == (1, 256, 256)


def test_a_refused_request_gets_the_message_and_no_traceback(server):
    """The message of stylegram's refusal, over HTTP and gRPC: no traceback, no server file path."""
    import tritonclient.grpc as client

    status, answer = _post(server["http_port"], _json_request(shape=(1, 3, 2, 2)))
    triton = client.InferenceServerClient(server["grpc"].removeprefix("grpc://"))
    request = client.InferInput("image", [1, 3, 2, 2], "FP32")
    request.set_data_from_numpy(np.full((1, 3, 2, 2), 0.5, np.float32))
    with pytest.raises(client.InferenceServerException) as raised:
        triton.infer(NAME, [request])
    triton.close()
    assert (status, raised.value.status()) == (400, "StatusCode.INVALID_ARGUMENT")
    for text in (answer["error"], raised.value.message()):
        assert text == "request 0: image 2x2 px is too small; the model's layers need at least 16 px on each side"
    assert _good_request(server["http_port"]).shape == (1, 256, 256)


def test_client_disconnecting_mid_request(server):
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server["http_port"]), timeout=10) as sock:
            sock.sendall(f"POST /v2/models/{NAME}/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Content-Length: 50000000\r\n\r\n{\"inputs\": [".encode())
    assert _good_request(server["http_port"]).shape == (1, 256, 256)


def test_absent_server_is_one_line_naming_the_url(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    proc, out = _stylize(tmp_path, "x.png", "--server", url)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"stylegram: error: server {url}:"), proc.stderr
    assert not out.exists()


def test_cache_add_from_the_server_equals_the_local_entries(server, tmp_path, monkeypatch):
    from stylegram.cli import main
    from stylegram.runtime.cache import GramCache, read_entry

    entries = {}
    for source, args in (("server", ["--server", server["grpc"], "--server-model", NAME]), ("local", [])):
        monkeypatch.setenv("STYLEGRAM_HOME", str(tmp_path / source))
        main(["cache", "add", str(STYLE), "--size", "96", "--quiet", *args])
        (path,) = GramCache().entry_paths()
        entries[source] = (path.name, read_entry(path)[0])
    assert entries["server"][0] == entries["local"][0]  # the same key: same image, size, model fingerprint
    for layer, gram in entries["local"][1].items():
        np.testing.assert_allclose(entries["server"][1][layer], gram, rtol=0, atol=1e-5 * np.abs(gram).max())
