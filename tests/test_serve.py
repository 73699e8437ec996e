"""A real Triton server (``stylegram serve`` through PyTriton) on free loopback ports: the KServe v2
protocol over HTTP and gRPC, targets equal to the in-process ones, bad requests answered with errors
while the server keeps serving, and a stop by SIGTERM. Every wait here is bounded."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from stylegram.images import load_image
from stylegram.runtime.targets import image_grams, to_batch

from .conftest import CONTENT, STYLE

MODEL = "stylegram_vgg19"
SHUTDOWN_BOUND_S = 30  # ServeOptions.exit_timeout_s (5 s) plus Triton's own teardown, with room for a slow CI


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`stylegram serve` with the default model, on three free loopback ports; stopped by its PID."""
    home = tmp_path_factory.getbasetemp() / "stylegram-home"  # conftest's private home: the same managed model
    ports = {name: free_port() for name in ("http", "grpc", "metrics")}
    log = tmp_path_factory.mktemp("serve") / "triton.log"
    env = {**__import__("os").environ, "STYLEGRAM_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "stylegram", "serve", "--http-port", str(ports["http"]),
                             "--grpc-port", str(ports["grpc"]), "--metrics-port", str(ports["metrics"]),
                             "--log-file", str(log), "--quiet"], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while not _ready(ports["http"]):
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline, "server did not become ready in 180 s"
        time.sleep(0.25)
    yield {"proc": proc, "http": f"http://127.0.0.1:{ports['http']}", "grpc": f"grpc://127.0.0.1:{ports['grpc']}",
           "http_port": ports["http"], "home": home}
    if proc.poll() is None:
        proc.kill()
        proc.wait(30)


def _ready(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", f"/v2/models/{MODEL}/ready")
        return connection.getresponse().status == 200
    except OSError:
        return False


def _post(port: int, body: bytes, headers: dict | None = None) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", f"/v2/models/{MODEL}/infer", body=body,
                       headers={"Content-Type": "application/json", **(headers or {})})
    response = connection.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def _good_request(port: int) -> np.ndarray:
    import tritonclient.http as client

    triton = client.InferenceServerClient(f"127.0.0.1:{port}", network_timeout=60)
    image = to_batch(load_image(STYLE, long_edge=64))
    request = client.InferInput("image", list(image.shape), "FP32")
    request.set_data_from_numpy(image)
    result = triton.infer(MODEL, [request], outputs=[client.InferRequestedOutput("gram_relu3_1")])
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
        remote = image_grams(ServerSession(url), load_image(STYLE, long_edge=64))
        for layer, gram in expected.items():
            np.testing.assert_allclose(remote[layer], gram, rtol=0, atol=1e-5 * np.abs(gram).max())


def test_grpc_carries_feature_maps_over_4_mb(server):
    from stylegram.serve.client import ServerSession

    image = to_batch(load_image(CONTENT, long_edge=512))  # relu4_2: 512 x 48 x 64 floats = 6 MiB
    out = ServerSession(server["grpc"]).run(image, ["relu4_2"])["relu4_2"]
    assert out.shape == (1, 512, 48, 64) and out.nbytes > 4 * 2**20 and np.isfinite(out).all()


def _stylize(tmp_path, name, *extra):
    out = tmp_path / name
    proc = subprocess.run([sys.executable, "-m", "stylegram", "stylize", str(CONTENT), str(STYLE), "-o", str(out),
                           "--size", "48", "--iterations", "8", "--seed", "5", "--no-cache", "--quiet", *extra],
                          capture_output=True, text=True, timeout=300)
    return proc, out


def test_stylize_with_server_targets_matches_ort_targets(server, tmp_path):
    by_server, server_png = _stylize(tmp_path, "server.png", "--targets", "server", "--server", server["http"])
    by_ort, ort_png = _stylize(tmp_path, "ort.png", "--targets", "ort")
    assert by_server.returncode == 0 and by_ort.returncode == 0, by_server.stderr + by_ort.stderr
    np.testing.assert_array_equal(load_image(server_png), load_image(ort_png))


def test_server_with_other_layers_is_refused(server, tmp_path):
    proc, out = _stylize(tmp_path, "x.png", "--server", server["http"], "--style-layers", "relu1_1,relu2_1")
    assert proc.returncode == 2 and "--server" in proc.stderr and "style layers" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not out.exists()


def _json_request(name="image", shape=(1, 3, 32, 32), datatype="FP32", data=None) -> bytes:
    count = int(np.prod(shape))
    return json.dumps({"inputs": [{"name": name, "shape": list(shape), "datatype": datatype,
                                   "data": data if data is not None else [0.5] * count}]}).encode()


@pytest.mark.parametrize("case,body", [
    ("wrong dtype", _json_request(datatype="INT32", data=[1] * 3072)),
    ("wrong rank", _json_request(shape=(3, 32, 32))),
    ("missing input", _json_request(name="photo")),
    ("1 px image", _json_request(shape=(1, 3, 1, 1))),
    ("shape too large to allocate", _json_request(shape=(1, 3, 20000, 20000), data=[0.5] * 12)),
    ("not JSON", b"{\"inputs\": [{"),
])
def test_malformed_requests_get_errors_and_the_server_keeps_serving(server, case, body):
    status, answer = _post(server["http_port"], body)
    assert 400 <= status < 600 and answer.get("error"), (case, status, answer)
    assert _good_request(server["http_port"]).shape == (1, 256, 256)  # the very next good request


def test_nan_pixels_are_refused_with_a_clear_message(server):
    from stylegram.serve.client import ServerError, ServerSession

    session = ServerSession(server["http"])
    with pytest.raises(ServerError, match=r"RequestError: request 0: image has NaN or infinite pixel values"):
        session.run(np.full((1, 3, 32, 32), np.nan, np.float32), ["gram_relu1_1"])
    assert _good_request(server["http_port"]).shape == (1, 256, 256)


def test_client_disconnecting_mid_request(server):
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server["http_port"]), timeout=10) as sock:
            sock.sendall(f"POST /v2/models/{MODEL}/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
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
    for source, args in (("server", ["--server", server["grpc"]]), ("local", [])):
        monkeypatch.setenv("STYLEGRAM_HOME", str(tmp_path / source))
        main(["cache", "add", str(STYLE), "--size", "96", "--quiet", *args])
        (path,) = GramCache().entry_paths()
        entries[source] = (path.name, read_entry(path)[0])
    assert entries["server"][0] == entries["local"][0]  # the same key: same image, size, model fingerprint
    for layer, gram in entries["local"][1].items():
        np.testing.assert_allclose(entries["server"][1][layer], gram, rtol=0, atol=1e-5 * np.abs(gram).max())


def test_sigterm_stops_the_server_within_the_bound(server):
    proc = server["proc"]
    started = time.time()
    proc.send_signal(signal.SIGTERM)
    proc.wait(SHUTDOWN_BOUND_S)
    assert proc.returncode == 0 and time.time() - started < SHUTDOWN_BOUND_S
    assert not _ready(server["http_port"])
