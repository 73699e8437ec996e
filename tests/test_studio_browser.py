"""`stylegram studio` in a real browser: Selenium driving Debian's chromium with chromium-driver.

The real weights at 64 px: upload two images, start, watch the picture form (three distinct live
images, a rising iteration count), stop, resume, find the result in the gallery with its recipe,
re-run it from there; and a brush stroke over the photo with two styles, sent as masks and painted back
by a re-run. STYLEGRAM_STUDIO_SCREENSHOT=path also keeps the mid-run screenshot there (docs/studio.png
was made so).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import pytest

from . import test_studio_api
from .conftest import CONTENT, STYLE
from .test_studio_api import StudioProcess, wait_for

webdriver = pytest.importorskip("selenium.webdriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason=(
    "needs Debian's chromium and chromium-driver (make setup-test installs them when run as root)"))]
ITERATIONS = 16
studio_engine_ready = test_studio_api.studio_engine_ready  # the shared session fixture


@pytest.fixture
def browser(tmp_path):
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1400,1050"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def test_watch_stop_resume_gallery_rerun(tmp_path, browser, studio_engine_ready):
    from selenium.webdriver.common.by import By

    started = time.monotonic()
    server = StudioProcess(tmp_path / "studio")
    try:
        browser.get(server.url)
        find = browser.find_element
        wait_for(lambda: browser.find_elements(By.ID, "field-size"), seconds=30, what="the form")
        wait_for(lambda: "live" in find(By.ID, "connection").get_attribute("class"), seconds=30, what="events")

        # a non-image upload: one line on the page, and the page goes on
        (tmp_path / "notes.jpg").write_text("not an image")
        find(By.ID, "file").send_keys(str(tmp_path / "notes.jpg"))
        error = wait_for(lambda: find(By.ID, "upload-error").text, seconds=30, what="the upload error")
        assert error == "notes.jpg: not an image file Pillow can read"

        for path, role in ((CONTENT, "is-content"), (STYLE, "is-style")):  # the first upload is the photo
            find(By.ID, "file").send_keys(str(path))
            wait_for(lambda role=role: browser.find_elements(By.CSS_SELECTOR, f".picture[data-kind=upload].{role}"),
                     seconds=30, what=f"the upload of {path.name}")
        assert find(By.ID, "upload-error").text == ""

        # an invalid value: refused on the page with the CLI's message
        _set(find(By.ID, "field-style_weight"), "-1")
        find(By.ID, "start").click()
        message = wait_for(lambda: find(By.ID, "form-error").text, seconds=30, what="the settings error")
        assert message == "--style-weight must be positive, got -1.0"

        _set(find(By.ID, "field-style_weight"), "10")
        _set(find(By.ID, "field-size"), "64")
        from selenium.webdriver.support.select import Select

        Select(find(By.ID, "field-precision")).select_by_value("fp32")

        # live: three distinct images and a rising iteration count. A machine so fast that the job ends
        # before that (or before Stop) gets another job with more iterations, sized by the speed it showed.
        bound, stopped_at = ITERATIONS, None
        for _attempt in range(3):
            _set(find(By.ID, "field-iterations"), str(bound))
            before = find(By.ID, "live").get_attribute("data-job")
            find(By.ID, "start").click()
            job = wait_for(lambda before=before: (j := find(By.ID, "live").get_attribute("data-job")) != before and j,
                           seconds=30, what="the new job on the page")
            images, iterations = _watch(browser, seconds=90)
            if find(By.ID, "job-status").get_attribute("data-status") in ("running", "queued"):
                assert find(By.ID, "stat-speed").text != "–" and find(By.ID, "stat-eta").text != "–"
                assert browser.find_elements(By.CSS_SELECTOR, "#curve polyline")
                shot = tmp_path / "studio.png"
                assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
                # stop: the best image so far and its state are kept
                find(By.ID, "stop").click()
                status = wait_for(lambda: (s := find(By.ID, "job-status").get_attribute("data-status")) in
                                  ("stopped", "done") and s, seconds=60, what="the job to stop")
                stopped_at = int(find(By.ID, "stat-iteration").text.split("/")[0])
                if status == "stopped" and stopped_at < bound:
                    break
            status = find(By.ID, "job-status").get_attribute("data-status")
            assert status in ("done", "stopped"), find(By.ID, "job-error").text
            speed = float(find(By.ID, "stat-speed").text)
            bound = min(5000, max(bound * 4, int(15 / max(speed, 0.001))))
        assert len(images) >= 3, f"{len(images)} live images"
        assert len(iterations) >= 2 and iterations == sorted(iterations), iterations
        if os.environ.get("STYLEGRAM_STUDIO_SCREENSHOT"):
            shutil.copy(shot, os.environ["STYLEGRAM_STUDIO_SCREENSHOT"])
        assert stopped_at is not None and 1 <= stopped_at < bound, (stopped_at, bound)
        assert find(By.ID, "live").get_attribute("data-job") == job
        assert "/image" in find(By.ID, "live").get_attribute("src")  # the kept best image
        assert find(By.ID, "resume").text == "Resume" and find(By.ID, "download").is_displayed()

        # resume: it goes on from there to the end
        find(By.ID, "resume").click()
        wait_for(lambda: find(By.ID, "job-status").get_attribute("data-status") == "done", seconds=120,
                 what="the resumed job to finish")
        assert find(By.ID, "stat-iteration").text == f"{bound}/{bound}"
        name = find(By.ID, "live").get_attribute("src").split("/api/results/")[1].split("?")[0]

        # the gallery, with its recipe
        result = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, f"#gallery .result[data-name='{name}']"),
                          seconds=30, what="the result in the gallery")[0]
        assert "64 px" in result.find_element(By.CLASS_NAME, "recipe-summary").text
        recipe = result.find_element(By.CSS_SELECTOR, "pre.recipe").get_attribute("textContent")
        assert '"size": 64' in recipe and f'"iterations": {bound}' in recipe and '"precision": "fp32"' in recipe

        # re-run from the gallery: a new job with that recipe, and its settings in the form
        _set(find(By.ID, "field-size"), "128")
        jobs = len(browser.find_elements(By.CSS_SELECTOR, "#jobs li"))
        result.find_element(By.CLASS_NAME, "rerun").click()
        wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#jobs li")) == jobs + 1, seconds=30,
                 what="the re-run")
        assert find(By.ID, "field-size").get_attribute("value") == "64"
        assert find(By.ID, "field-iterations").get_attribute("value") == str(bound)
        wait_for(lambda: f"re-run of {name}" in find(By.ID, "job-status").text
                 and find(By.ID, "stat-iteration").text.split("/")[0] not in ("–", "0"), seconds=60,
                 what="the re-run to run")

        # a reload reconnects to it, and another tab sees the same jobs
        browser.refresh()
        wait_for(lambda: "re-run of" in find(By.ID, "job-status").text and find(By.ID, "live").get_attribute("src"),
                 seconds=30, what="the page to reconnect to the re-run")
        browser.switch_to.new_window("tab")
        browser.get(server.url)
        wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#jobs li")) == jobs + 1, seconds=30,
                 what="the jobs in another tab")
        assert (time.monotonic() - started) < 240
    finally:
        rc, out, err = server.stop(signal.SIGINT)
    assert rc == 0 and "Traceback" not in err, err


def test_a_painted_stroke_goes_with_the_job_as_masks_and_comes_back_on_rerun(tmp_path, browser, studio_engine_ready):
    """Two styles, one brush stroke in style 1's colour: the job's recipe has two masks at the photo's size,
    style 1's white only along the stroke, style 2's all black (unpainted = no style); a gallery re-run
    paints them back onto the canvas."""
    from selenium.webdriver.common.by import By

    started = time.monotonic()
    server = StudioProcess(tmp_path / "studio")
    try:
        browser.get(server.url)
        find = browser.find_element
        wait_for(lambda: browser.find_elements(By.ID, "field-size"), seconds=30, what="the form")
        for name, role in (("tubingen.jpg", "as-content"), ("starry_night.jpg", "as-style"),
                           ("the_scream.jpg", "as-style")):  # the bundled examples
            find(By.XPATH, f"//figure[figcaption[@title='{name}']]//button[contains(@class, '{role}')]").click()
        assert len(browser.find_elements(By.CSS_SELECTOR, "#mask-colours .mask-colour")) == 2
        assert find(By.ID, "mask-state").get_attribute("data-painted") == "no"
        _paint_stroke(browser)
        _set(find(By.ID, "field-size"), "64")
        _set(find(By.ID, "field-iterations"), "4")
        find(By.ID, "start").click()
        wait_for(lambda: find(By.ID, "job-status").get_attribute("data-status") in ("done", "failed"), seconds=60,
                 what="the masked job")
        assert find(By.ID, "job-status").get_attribute("data-status") == "done", find(By.ID, "job-error").text
        job, masks = _job_and_masks(server)
        assert [m.shape for m in masks] == [(768, 1024), (768, 1024)]  # tubingen.jpg's natural size
        assert 0.002 < (masks[0] > 127).mean() < 0.3 and masks[1].max() == 0
        shown = f"#gallery .result[data-name='{job['result']}']"
        result = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, shown), seconds=30,
                          what="the result in the gallery")[0]
        recipe = json.loads(result.find_element(By.CSS_SELECTOR, "pre.recipe").get_attribute("textContent"))
        assert len(recipe["masks"]) == 2
        assert "painted masks" in result.find_element(By.CLASS_NAME, "recipe-summary").text

        find(By.ID, "mask-clear").click()
        assert find(By.ID, "mask-state").get_attribute("data-painted") == "no"
        result.find_element(By.CLASS_NAME, "rerun").click()
        wait_for(lambda: find(By.ID, "mask-state").get_attribute("data-painted") == "yes", seconds=30,
                 what="the re-run's masks back on the canvas")
        assert (time.monotonic() - started) < 60
    finally:
        rc, out, err = server.stop(signal.SIGINT)
    assert rc == 0 and "Traceback" not in err, err


def _paint_stroke(browser) -> None:
    """One stroke with the brush (style 1's colour, chosen at first) across the middle of the photo."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    layers = browser.find_element(By.ID, "mask-layers")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", layers)
    ActionChains(browser).move_to_element_with_offset(layers, -60, 0).click_and_hold() \
        .move_by_offset(40, 10).move_by_offset(40, 10).release().perform()
    wait_for(lambda: browser.find_element(By.ID, "mask-state").get_attribute("data-painted") == "yes", seconds=10,
             what="the stroke")


def _job_and_masks(server) -> tuple[dict, list]:
    """The newest job and its masks as greyscale arrays, read through the studio's API."""
    import io

    import numpy as np
    from PIL import Image

    with server.client() as http_client:
        job = http_client.get("/api/state").json()["jobs"][0]
        return job, [np.asarray(Image.open(io.BytesIO(http_client.get(f"/api/masks/{ident}").content)).convert("L"))
                     for ident in job["masks"]]


def _watch(browser, seconds: float) -> tuple[list[str], list[int]]:
    """The distinct live images and iteration counts shown, until three and two of them or the job ends."""
    from selenium.webdriver.common.by import By

    images, iterations = [], []
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / 0.05)):
        src = browser.find_element(By.ID, "live").get_attribute("src") or ""
        if src.startswith("data:image/jpeg") and src not in images:
            images.append(src)
        shown = browser.find_element(By.ID, "stat-iteration").text
        if "/" in shown and (not iterations or int(shown.split("/")[0]) != iterations[-1]):
            iterations.append(int(shown.split("/")[0]))
        status = browser.find_element(By.ID, "job-status").get_attribute("data-status")
        if len(images) >= 3 and len(iterations) >= 2 or status in ("done", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return images, iterations


def _set(field, value: str) -> None:
    field.clear()
    field.send_keys(value)
