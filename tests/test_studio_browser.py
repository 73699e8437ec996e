"""`stylegram studio` in a real browser: Selenium driving Debian's chromium with chromium-driver.

The real weights at 64 px: upload two images, start, watch the picture form (three distinct live
images, a rising iteration count), stop, resume, find the result in the gallery with its recipe,
re-run it from there. STYLEGRAM_STUDIO_SCREENSHOT=path also keeps the mid-run screenshot there
(docs/studio.png was made so).
"""

from __future__ import annotations

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
        bound = ITERATIONS
        for _attempt in range(3):
            _set(find(By.ID, "field-iterations"), str(bound))
            before = find(By.ID, "live").get_attribute("data-job")
            find(By.ID, "start").click()
            job = wait_for(lambda before=before: (j := find(By.ID, "live").get_attribute("data-job")) != before and j,
                           seconds=30, what="the new job on the page")
            images, iterations = _watch(browser, seconds=90)
            status = find(By.ID, "job-status").get_attribute("data-status")
            if status in ("running", "queued"):
                break
            assert status == "done", find(By.ID, "job-error").text
            speed = float(find(By.ID, "stat-speed").text)
            bound = min(5000, max(bound * 4, int(15 / max(speed, 0.001))))
        assert len(images) >= 3, f"{len(images)} live images"
        assert len(iterations) >= 2 and iterations == sorted(iterations), iterations
        assert find(By.ID, "stat-speed").text != "–" and find(By.ID, "stat-eta").text != "–"
        assert browser.find_elements(By.CSS_SELECTOR, "#curve polyline")
        shot = tmp_path / "studio.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        if os.environ.get("STYLEGRAM_STUDIO_SCREENSHOT"):
            shutil.copy(shot, os.environ["STYLEGRAM_STUDIO_SCREENSHOT"])

        # stop: the best image so far and its state are kept
        find(By.ID, "stop").click()
        wait_for(lambda: find(By.ID, "job-status").get_attribute("data-status") == "stopped", seconds=60,
                 what="the job to stop")
        stopped_at = int(find(By.ID, "stat-iteration").text.split("/")[0])
        assert 1 <= stopped_at < bound and find(By.ID, "live").get_attribute("data-job") == job
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
