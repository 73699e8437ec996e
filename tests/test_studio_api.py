"""`stylegram studio` at the API level: the security rules, the queue, bad uploads, and Ctrl-C on the server.

In-process tests use FastAPI's TestClient with random weights and tiny images (the engine itself is
tested elsewhere); the traversal and Ctrl-C tests run the real command as a subprocess on 127.0.0.1.
``StudioProcess`` and ``wait_for`` are shared with tests/test_studio_browser.py.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import CONTENT, STYLE

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

# starlette 1.x asks for httpx2 in its TestClient; httpx works with the older FastAPIs the extra allows too
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
FAST = {"weights": "random", "targets": "torch", "cache": False}  # what only the studio chooses, for speed
HEADERS = {"X-Requested-With": "stylegram"}
LOOPBACK = "http://127.0.0.1:8000"


def wait_for(condition, *, seconds: float, what: str, poll: float = 0.05):
    """``condition()``'s first truthy value, polled at most ``seconds`` and a bounded number of times."""
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / poll) + 1):
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            break
        time.sleep(poll)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


class StudioProcess:
    """``stylegram studio`` on 127.0.0.1 and a free port, as a subprocess; stopped by its PID."""

    def __init__(self, folder: Path, *args: str, env: dict | None = None):
        self.proc = subprocess.Popen([sys.executable, "-m", "stylegram", "studio", "--folder", str(folder),
                                      "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        self.lines: list[str] = []
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 60
        for _ in range(1000):
            if self.lines or time.monotonic() > deadline or self.proc.poll() is not None:
                break
            if selector.select(timeout=0.2):
                self.lines.append(self.proc.stdout.readline().strip())
        selector.close()
        if not self.lines or not self.lines[0].startswith("stylegram studio: http://127.0.0.1:"):
            self.kill()
            raise AssertionError(f"the studio did not start: {self.lines} {self.proc.stderr.read()[-2000:]}")
        self.url = self.lines[0].split(": ", 1)[1]
        self.port = int(re.search(r":(\d+)/", self.url).group(1))

    def client(self):
        import httpx

        return httpx.Client(base_url=self.url, headers=HEADERS, timeout=30)

    def stop(self, signum=signal.SIGINT, timeout: float = 120) -> tuple[int, str, str]:
        os.kill(self.proc.pid, signum)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        finally:
            self.kill()
        return self.proc.returncode, out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


@pytest.fixture(scope="session")
def studio_engine_ready(tmp_path_factory):
    """The managed ONNX model exported into this session's home (what a user's first run does once), so
    that the timed studio tests measure the studio, not the export."""
    from stylegram.export.managed import managed_model
    from stylegram.settings import StylizeSettings
    from stylegram.weights import load_weights

    previous = os.environ.get("STYLEGRAM_HOME")
    os.environ["STYLEGRAM_HOME"] = str(tmp_path_factory.getbasetemp() / "stylegram-home")
    try:
        managed_model(StylizeSettings(), load_weights(None))
    finally:
        if previous is None:
            os.environ.pop("STYLEGRAM_HOME")
        else:
            os.environ["STYLEGRAM_HOME"] = previous


@pytest.fixture
def studio(tmp_path):
    from stylegram.studio.jobs import Studio

    made = Studio(tmp_path / "studio", fixed=FAST, max_upload_bytes=2_000_000, max_upload_pixels=4_000_000,
                  examples=[CONTENT, STYLE]).start()
    yield made
    made.close(timeout=60)


@pytest.fixture
def client(studio):
    from fastapi.testclient import TestClient

    from stylegram.studio.app import create_app

    with TestClient(create_app(studio), base_url=LOOPBACK, headers=HEADERS) as made:
        yield made


def small(path: Path, side: int = 40, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (side * 3 // 4, side, 3), dtype=np.uint8)).save(path)
    return path


def upload(client, path: Path, name: str | None = None):
    return client.post("/api/uploads", content=path.read_bytes(), headers={"X-Filename": name or path.name})


def job_state(client, job_id: str) -> dict:
    return next(j for j in client.get("/api/state").json()["jobs"] if j["id"] == job_id)


def wait_status(client, job_id: str, statuses: tuple[str, ...], seconds: float = 120) -> dict:
    return wait_for(lambda: (j := job_state(client, job_id))["status"] in statuses and j,
                    seconds=seconds, what=f"job {job_id} to be {statuses}")


def assert_one_clean_line(message: str) -> None:
    assert message and "\n" not in message and "Traceback" not in message
    assert not re.search(r"(^|\s)/\w", message), message  # no absolute path


# --- the rules, as functions -------------------------------------------------------------------------------
def test_loopback_needs_no_token_and_any_other_address_gets_one():
    from stylegram.studio.security import is_loopback, resolve_token

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.9.9.9")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    assert resolve_token("127.0.0.1", None) == (None, False)
    assert resolve_token("0.0.0.0", "mine") == ("mine", False)
    token, generated = resolve_token("0.0.0.0", None)
    assert generated and len(token) >= 24 and resolve_token("0.0.0.0", None)[0] != token


def test_check_request_rules():
    from stylegram.studio.security import check_request

    local = {"host": "127.0.0.1:5000"}
    assert check_request(None, "GET", local, "") is None
    assert check_request(None, "GET", {"host": "localhost"}, "") is None
    assert check_request(None, "GET", {"host": "[::1]:80"}, "") is None
    assert check_request(None, "GET", {"host": "evil.example:5000"}, "")[0] == 403  # DNS rebinding
    assert check_request(None, "POST", local, "")[0] == 403  # no X-Requested-With: a cross-site form
    assert check_request(None, "POST", {**local, "x-requested-with": "stylegram"}, "") is None
    assert check_request(None, "DELETE", local, "")[0] == 405
    public = {"host": "studio.example:80"}
    assert check_request("s3cret", "GET", public, "")[0] == 401
    assert check_request("s3cret", "GET", public, "token=wrong")[0] == 401
    assert check_request("s3cret", "GET", {**public, "x-stylegram-token": "s3cret"}, "") is None
    assert check_request("s3cret", "GET", {**public, "authorization": "Bearer s3cret"}, "") is None
    assert check_request("s3cret", "GET", public, "token=s3cret") is None


def test_a_token_is_checked_on_every_route(studio):
    from fastapi.testclient import TestClient

    from stylegram.studio.app import create_app

    app = create_app(studio, token="s3cret")  # as a non-loopback --host configures it
    with TestClient(app, base_url="http://studio.example") as client:
        for path in ("/", "/static/app.js", "/api/config", "/api/state", "/api/events", "/api/gallery",
                     "/api/images/example1", "/api/results/x.png", "/api/masks/m0", "/no/such/route"):
            refused = client.get(path)
            assert refused.status_code == 401 and "token" in refused.json()["error"], path
        assert client.post("/api/jobs", json={}, headers=HEADERS).status_code == 401
        assert client.get("/", headers={"X-Stylegram-Token": "s3cret"}).status_code == 200
        assert client.get("/api/state", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/api/images/example1?token=s3cret").headers["content-type"] == "image/jpeg"
        assert client.get("/api/state?token=nope").status_code == 401


def test_studio_command_generates_and_prints_a_token_for_other_addresses(monkeypatch, tmp_path):
    import uvicorn

    from stylegram.studio import server

    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets: None)  # configured, never served
    loopback_bind = server.bind
    monkeypatch.setattr(server, "bind", lambda host, port: loopback_bind("127.0.0.1", 0))  # no public port
    lines = []
    server.run_studio(server.StudioOptions(host="127.0.0.1", folder=tmp_path / "s", token=None), lines.append)
    assert lines[0].startswith("stylegram studio: http://127.0.0.1:") and "token" not in lines[0]
    lines.clear()
    options = server.StudioOptions(host="0.0.0.0", folder=tmp_path / "s")  # binds, but nothing is served
    server.run_studio(options, lines.append)
    token = re.search(r"\?token=([\w-]+)", lines[0]).group(1)
    assert len(token) >= 24 and sum(token in line for line in lines) == 1 and "generated" in lines[1]


def test_loopback_answers_only_loopback_names_and_needs_the_header_to_change_things(studio):
    from fastapi.testclient import TestClient

    from stylegram.studio.app import create_app

    with TestClient(create_app(studio), base_url="http://evil.example") as client:
        assert client.get("/api/state").status_code == 403
    with TestClient(create_app(studio), base_url=LOOPBACK) as client:
        answer = client.get("/api/state")
        assert answer.status_code == 200 and answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert client.post("/api/jobs", json={}).status_code == 403


# --- forms: the CLI's defaults and messages ----------------------------------------------------------------
def test_the_form_has_the_cli_defaults_and_choices(client):
    from stylegram.settings import PRECISIONS, StylizeSettings

    config = client.get("/api/config").json()
    defaults = StylizeSettings()
    assert [f["name"] for f in config["fields"]] == ["size", "iterations", "style_weight", "style_scale",
                                                      "original_colors", "precision"]
    for field in config["fields"]:
        assert field["default"] == getattr(defaults, field["name"]) and field["option"].startswith("--")
    assert next(f for f in config["fields"] if f["name"] == "precision")["choices"] == list(PRECISIONS)


@pytest.mark.parametrize("settings", [{"style_weight": -1}, {"size": 0}, {"iterations": 0}, {"style_scale": 0},
                                      {"precision": "fp8"}])
def test_invalid_settings_get_the_cli_message(client, settings):
    from stylegram.errors import InputError
    from stylegram.settings import StylizeSettings

    defaults = StylizeSettings()
    with pytest.raises(InputError) as expected:  # as the CLI builds them: the option's type first
        StylizeSettings(**{name: type(getattr(defaults, name))(value) for name, value in settings.items()})
    refused = client.post("/api/jobs", json={"content": "example1", "styles": ["example2"], "settings": settings})
    assert refused.status_code == 400 and refused.json() == {"error": str(expected.value)}


@pytest.mark.parametrize("settings,message", [
    ({"size": "abc"}, "--size: expected a whole number, got 'abc'"),
    ({"weights": "/etc/passwd"}, "--weights: not a setting the studio takes"),
    ({"model": "x.onnx"}, "--model: not a setting the studio takes"),
    ({"init": "/etc/passwd"}, "--init: the studio starts from the content image or noise (content or noise)"),
    ({"bogus": 1}, "unknown setting 'bogus'"),
])
def test_settings_that_name_files_or_are_not_settings_are_refused(client, settings, message):
    refused = client.post("/api/jobs", json={"content": "example1", "styles": ["example2"], "settings": settings})
    assert refused.status_code == 400 and refused.json() == {"error": message}


def test_unknown_images_and_bodies_are_refused(client):
    assert client.post("/api/jobs", json={"content": "../x", "styles": ["example2"]}).json() == \
        {"error": "choose a content image"}
    assert client.post("/api/jobs", json={"content": "example1", "styles": []}).status_code == 400
    assert client.post("/api/jobs", content=b"not json").json() == {"error": "expected a JSON body"}
    assert client.post("/api/jobs/123456abcdef/stop").status_code == 404
    assert client.post("/api/rerun", json={"name": "../../etc/passwd"}).status_code == 400


# --- uploads -----------------------------------------------------------------------------------------------
def test_bad_uploads_get_one_line_and_the_next_job_completes(client, studio, tmp_path, bad_images):
    pixels = tmp_path / "wide.png"
    Image.new("1", (3000, 1500)).save(pixels)  # 4.5 Mpx in a few KB: over this studio's 4 Mpx
    refusals = {
        "text": upload(client, bad_images["text"]),
        "truncated": upload(client, bad_images["truncated"]),
        "one pixel": upload(client, bad_images["tiny1"]),
        "bomb": upload(client, bad_images["huge"]),
        "pixels": upload(client, pixels),
        "empty": client.post("/api/uploads", content=b"", headers={"X-Filename": "empty.png"}),
    }
    big = tmp_path / "big.bmp"
    Image.new("RGB", (900, 900)).save(big)  # 2.4 MB: over this studio's 2 MB
    refusals["bytes"] = upload(client, big)
    expected = {"text": (400, "not an image file Pillow can read"), "truncated": (400, "damaged or truncated"),
                "one pixel": (400, "1x1 px is too small"), "bomb": (400, "decompression bomb"),
                "pixels": (413, "4500000 px is over the studio's limit"),
                "empty": (400, "empty file"), "bytes": (413, "over the studio's limit")}
    for what, response in refusals.items():
        status, words = expected[what]
        assert response.status_code == status, (what, response.text)
        assert words in response.json()["error"], (what, response.json())
        assert_one_clean_line(response.json()["error"])
    assert "notes.jpg: not an image file" in refusals["text"].json()["error"]  # the label, never the stored path
    assert [p.name for p in studio.library.uploads.iterdir() if p.is_file()] == []  # nothing kept
    hostile = upload(client, small(tmp_path / "a.png"), name="../../etc/passwd")
    assert hostile.status_code == 201 and hostile.json()["label"] == "passwd"
    assert all(re.fullmatch(r"u[0-9a-f]{24}\.png|labels\.json", p.name)
               for p in studio.library.uploads.iterdir() if p.is_file())
    style = upload(client, small(tmp_path / "b.png", seed=1)).json()
    job = client.post("/api/jobs", json={"content": hostile.json()["id"], "styles": [style["id"]],
                                         "settings": {"size": 32, "iterations": 3}}).json()
    done = wait_status(client, job["id"], ("done", "failed"))
    assert done["status"] == "done" and done["iteration"] == 3, done
    assert client.get(f"/api/results/{done['result']}").headers["content-type"] == "image/png"
    assert client.get(f"/api/images/{style['id']}").status_code == 200


# --- the queue ---------------------------------------------------------------------------------------------
def test_jobs_run_one_at_a_time_and_stop_keeps_what_resume_continues(client, studio):
    forever = {"size": 32, "iterations": 100000, "tol": 0}
    first = client.post("/api/jobs", json={"content": "example1", "styles": ["example2"], "settings": forever}).json()
    second = client.post("/api/jobs", json={"content": "example2", "styles": ["example1"],
                                            "settings": {"size": 32, "iterations": 3}}).json()
    state = client.get("/api/state").json()
    assert state["queue"][-1] == second["id"] and job_state(client, second["id"])["status"] == "queued"
    running = wait_for(lambda: (j := job_state(client, first["id"]))["iteration"] >= 2 and j, seconds=120,
                       what="the first job's iterations")
    assert running["status"] == "running" and job_state(client, second["id"])["status"] == "queued"
    assert client.get("/api/state").json()["running"] == first["id"]
    assert client.post(f"/api/jobs/{first['id']}/stop").json()["status"] in ("stopping", "stopped")
    stopped = wait_status(client, first["id"], ("stopped",))
    assert stopped["resumable"] and stopped["best"] and stopped["iteration"] >= 2
    assert client.get(f"/api/jobs/{first['id']}/image").headers["content-type"] == "image/png"
    assert "attachment" in client.get(f"/api/jobs/{first['id']}/image?download=1").headers["content-disposition"]
    done = wait_status(client, second["id"], ("done", "failed"))
    assert done["status"] == "done" and done["started"] >= stopped["finished"]  # never two at once
    resumed = client.post(f"/api/jobs/{first['id']}/resume").json()
    assert resumed["status"] in ("queued", "running")
    again = wait_for(lambda: (j := job_state(client, first["id"]))["iteration"] > stopped["iteration"] + 1 and j,
                     seconds=120, what="the resumed job to go on")
    assert again["status"] == "running" and again["losses"][0] == stopped["losses"][0]  # one curve, continued
    client.post(f"/api/jobs/{first['id']}/stop")
    assert wait_status(client, first["id"], ("stopped",))["resumable"]
    runs = client.post("/api/jobs", json={"content": "example1", "styles": ["example2"], "settings": forever}).json()
    waits = client.post("/api/jobs", json={"content": "example1", "styles": ["example2"], "settings": forever}).json()
    assert client.post(f"/api/jobs/{waits['id']}/stop").json()["status"] == "cancelled"  # Stop on a waiting job
    client.post(f"/api/jobs/{runs['id']}/stop")
    wait_status(client, runs["id"], ("stopped", "cancelled"))
    assert job_state(client, waits["id"])["iteration"] == 0


def test_the_gallery_lists_results_with_recipes_and_reruns_them(client, studio, tmp_path):
    job = client.post("/api/jobs", json={"content": "example1", "styles": ["example2"],
                                         "settings": {"size": 32, "iterations": 2, "style_weight": 3}}).json()
    done = wait_status(client, job["id"], ("done", "failed"))
    (studio.folder / "not-a-result.png").write_bytes(small(tmp_path / "plain.png").read_bytes())  # no recipe
    (studio.folder / "broken.png").write_text("not an image")
    gallery = client.get("/api/gallery").json()
    assert [e["name"] for e in gallery] == [done["result"]]
    entry = gallery[0]
    assert entry["settings"]["style_weight"] == 3.0 and entry["recipe"]["settings"]["size"] == 32 and entry["rerun"]
    assert entry["content"] == CONTENT.name and entry["styles"] == [STYLE.name]
    rerun = client.post("/api/rerun", json={"name": entry["name"]}).json()
    assert rerun["source"] == entry["name"] and rerun["settings"]["style_weight"] == 3.0
    again = wait_status(client, rerun["id"], ("done", "failed"))
    assert again["status"] == "done"
    first, second = (np.asarray(Image.open(studio.folder / name)) for name in (done["result"], again["result"]))
    np.testing.assert_array_equal(first, second)  # the same recipe, the same picture


# --- painted masks -----------------------------------------------------------------------------------------
def mask_data_url(image: Image.Image) -> str:
    """An image as the page sends a painted mask: a PNG data URL."""
    import base64
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def left_right_masks(width: int = 64, height: int = 48) -> list[str]:
    """Style 1 on the left half, style 2 on the right (the content, tubingen.jpg, is 4:3)."""
    left = Image.new("L", (width, height), 0)
    left.paste(255, (0, 0, width // 2, height))
    return [mask_data_url(left), mask_data_url(Image.eval(left, lambda v: 255 - v))]


def test_painted_masks_are_recorded_and_a_gallery_rerun_gives_the_same_pixels(client, studio, tmp_path):
    import base64
    import hashlib

    from stylegram.images import read_recipe

    styles = ["example2", upload(client, small(tmp_path / "second-style.png", seed=3)).json()["id"]]
    masks = left_right_masks()
    job = client.post("/api/jobs", json={"content": "example1", "styles": styles, "masks": masks,
                                         "settings": {"size": 32, "iterations": 3}})
    assert job.status_code == 201, job.text
    assert [re.fullmatch(r"m[0-9a-f]{24}", m) is not None for m in job.json()["masks"]] == [True, True]
    done = wait_status(client, job.json()["id"], ("done", "failed"))
    assert done["status"] == "done", done
    recipe = read_recipe(studio.folder / done["result"])
    sent = [hashlib.sha256(base64.b64decode(m.split(",", 1)[1])).hexdigest() for m in masks]
    assert [m["sha256"] for m in recipe["masks"]] == sent  # the masks, byte for byte, under generated names
    assert all(re.fullmatch(r"m[0-9a-f]{24}\.png", m["file"]) for m in recipe["masks"])
    stored = client.get(f"/api/masks/{done['masks'][0]}")
    assert stored.status_code == 200 and stored.headers["content-type"] == "image/png"
    assert client.get("/api/masks/..%2f..%2fjobs.json").status_code == 404

    entry = next(e for e in client.get("/api/gallery").json() if e["name"] == done["result"])
    assert entry["masks"] and entry["rerun"] and not entry["note"]
    assert entry["recipe"]["settings"]["masks"] == [m["file"] for m in recipe["masks"]]  # names, not paths
    rerun = client.post("/api/rerun", json={"name": entry["name"]}).json()
    assert rerun["masks"] == done["masks"] and rerun["styles"] == done["styles"]
    again = wait_status(client, rerun["id"], ("done", "failed"))
    assert again["status"] == "done", again
    first, second = (np.asarray(Image.open(studio.folder / name)) for name in (done["result"], again["result"]))
    np.testing.assert_array_equal(first, second)  # the same recipe and masks, the same picture
    unmasked = client.post("/api/jobs", json={"content": "example1", "styles": styles,
                                              "settings": {"size": 32, "iterations": 1}}).json()
    assert unmasked["masks"] is None  # no paint, no masks: today's behaviour


def test_bad_masks_get_one_line_and_the_next_job_works(client, studio, tmp_path):
    import base64
    import io

    def submit(masks):
        return client.post("/api/jobs", json={"content": "example1", "styles": ["example2", "example1"],
                                              "masks": masks, "settings": {"size": 32, "iterations": 2}})

    good = left_right_masks()
    wide = io.BytesIO()
    Image.new("1", (3000, 1500)).save(wide, format="PNG")  # 4.5 Mpx in a few KB: over this studio's 4 Mpx
    noise = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (1700, 1700), dtype=np.uint8)).save(noise, "PNG")
    refusals = {
        "not an image": submit(["data:image/png;base64," + base64.b64encode(b"not a picture").decode(), good[1]]),
        "not base64": submit(["data:image/png;base64,???", good[1]]),
        "count": submit(good[:1]),
        "pixels": submit(["data:image/png;base64," + base64.b64encode(wide.getvalue()).decode(), good[1]]),
        "bytes": submit([mask_data_url(Image.open(noise)), good[1]]),  # 2.9 Mpx of noise: 2.9 MB, over 2 MB
        "aspect": submit([mask_data_url(Image.new("L", (64, 64), 255)), good[1]]),
        "not a list": submit("left"),
    }
    expected = {"not an image": "mask 1: not an image file Pillow can read",
                "not base64": "mask 1: not an image as a base64 data URL",
                "count": "masks: expected 2 masks (one per style image), got 1",
                "pixels": "mask 1: 4500000 px is over the studio's limit of 4000000 px",
                "bytes": "the request is over the studio's limit of",
                "aspect": "mask 1: aspect ratio 64x64 differs from tubingen.jpg's 1024x768 by more than 1%",
                "not a list": "masks: expected a list of images (data URLs), one per style image"}
    for what, response in refusals.items():
        assert response.status_code == 400, (what, response.text)
        assert response.json()["error"].startswith(expected[what]), (what, response.json())
        assert_one_clean_line(response.json()["error"])
    assert studio.state()["jobs"] == []
    kept = [p.name for p in studio.masks.folder.iterdir() if p.is_file()]
    assert len(kept) == 2 and all(re.fullmatch(r"m[0-9a-f]{24}\.png", name) for name in kept)  # refused on fit only
    job = submit(good)
    assert job.status_code == 201, job.text
    done = wait_status(client, job.json()["id"], ("done", "failed"))
    assert done["status"] == "done" and done["iteration"] == 2, done


# --- the real command --------------------------------------------------------------------------------------
def _raw_get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_host=True)
        connection.putheader("Host", f"127.0.0.1:{port}")
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.slow
def test_traversal_paths_are_404_on_the_running_server(tmp_path):
    server = StudioProcess(tmp_path / "studio")
    try:
        assert _raw_get(server.port, "/")[0] == 200
        for path in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                     "/static/../../../etc/passwd", "/static/..%2f..%2f__init__.py", "/static/%2e%2e%2fapp.py",
                     "/api/images/..%2f..%2f..%2fetc%2fpasswd", "/api/results/..%2f.studio%2fjobs.json",
                     "/api/results/.studio", "/api/images/%2fetc%2fpasswd", "/static/app.py",
                     "//etc/passwd", "/api/jobs/..%2f..%2fjobs.json/image"):
            status, body = _raw_get(server.port, path)
            assert status == 404, (path, status, body[:200])
            assert b"root:" not in body and b"Traceback" not in body
    finally:
        rc, out, err = server.stop(signal.SIGTERM)
    assert rc == 0 and "Traceback" not in err, err


@pytest.mark.slow
def test_ctrl_c_mid_job_keeps_its_state_and_the_resumed_image_is_the_uninterrupted_one(tmp_path, studio_engine_ready):
    """The real weights at 32 px, fp32: SIGINT the server mid-job, start it again, resume; then the
    same job uninterrupted in the same studio gives the same pixels."""
    folder = tmp_path / "studio"
    settings = {"size": 32, "iterations": 12, "tol": 0, "precision": "fp32"}
    server = StudioProcess(folder)
    with server.client() as http_client:
        job = http_client.post("/api/jobs", json={"content": "example3", "styles": ["example1"],
                                                  "settings": settings}).json()
        if "id" not in job:
            pytest.fail(f"{job}")
        wait_for(lambda: http_client.get("/api/state").json()["jobs"][0]["iteration"] >= 3, seconds=120,
                 what="three iterations")
    rc, out, err = server.stop(signal.SIGINT)
    assert rc == 0 and "Traceback" not in err, err
    assert "1 job(s) can be resumed at the next start" in out
    assert (folder / ".studio" / "jobs" / f"{job['id']}.resume.safetensors").is_file()
    assert not [p for p in folder.iterdir() if p.suffix == ".png"]  # nothing finished

    server = StudioProcess(folder)
    try:
        assert any("can be resumed on the page" in line for line in server.lines + [server.proc.stdout.readline()])
        with server.client() as http_client:
            stopped = http_client.get("/api/state").json()["jobs"][0]
            assert stopped["status"] == "stopped" and stopped["resumable"] and 3 <= stopped["iteration"] < 12
            http_client.post(f"/api/jobs/{job['id']}/resume")
            resumed = wait_for(lambda: (j := http_client.get("/api/state").json()["jobs"][0])["status"] in
                               ("done", "failed") and j, seconds=180, what="the resumed job")
            assert resumed["status"] == "done", resumed
            whole = http_client.post("/api/jobs", json={"content": "example3", "styles": ["example1"],
                                                        "settings": settings}).json()
            uninterrupted = wait_for(lambda: (j := next(j for j in http_client.get("/api/state").json()["jobs"]
                                                        if j["id"] == whole["id"]))["status"] in ("done", "failed")
                                     and j, seconds=180, what="the uninterrupted job")
            assert uninterrupted["status"] == "done"
            events = _first_event(server.port)
            assert events["jobs"][0]["id"] == whole["id"]
    finally:
        rc, out, err = server.stop(signal.SIGINT)
    assert rc == 0, err
    from stylegram.images import load_image, read_recipe

    np.testing.assert_array_equal(load_image(folder / resumed["result"]), load_image(folder / uninterrupted["result"]))
    assert read_recipe(folder / resumed["result"])["settings"]["size"] == 32


def _first_event(port: int) -> dict:
    """The first ``state`` event of the running server's event stream."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/api/events")
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("content-type").startswith("text/event-stream")
        for _ in range(100):
            line = response.readline().decode()
            if line.startswith("data: "):
                return json.loads(line[6:])
        raise AssertionError("no state event")
    finally:
        connection.close()
