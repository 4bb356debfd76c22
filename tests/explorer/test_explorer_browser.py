"""The explorer page in a real headless Chromium: move a slider, upload an image, interpolate.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and selenium;
skipped with the reason when any is missing. The driver path is given explicitly, so Selenium
Manager never tries to download a browser or a driver. A screenshot is written to
``$VAEKIT_TEST_ARTIFACTS`` (default: the test's tmp_path).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import torch
from PIL import Image

from vaekit.explorer import create_app
from vaekit.explorer.server import make_explorer_server
from vaekit.models import build_model

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
TIMEOUT = 20  # seconds; generous for a loaded 2-core machine

if not CHROMIUM.is_file() or not CHROMEDRIVER.is_file():
    pytest.skip(f"headless browser tests need {CHROMIUM} and {CHROMEDRIVER} (apt-get install "
                "chromium chromium-driver)", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed "
                                "(pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROME_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--window-size=1280,1200")


@pytest.fixture(scope="module")
def server_url():
    torch.manual_seed(0)
    model = build_model({"type": "vae", "network": "mlp", "data_shape": [1, 16, 16],
                         "latent_dim": 4, "network_options": {"hidden": [32]}})
    server = make_explorer_server(create_app(model, labels=["shape", "scale", "posX", "posY"]),
                                  "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(TIMEOUT)
    yield driver
    driver.quit()


@pytest.fixture
def artifacts(tmp_path) -> Path:
    folder = Path(os.environ.get("VAEKIT_TEST_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wait_for(driver, condition, message: str):
    return WebDriverWait(driver, TIMEOUT).until(lambda d: condition(d), message)


def image_src(driver) -> str:
    return driver.find_element(By.ID, "decoded").get_attribute("src") or ""


def slider_values(driver) -> list[str]:
    return [s.get_attribute("value") for s in driver.find_elements(By.CSS_SELECTOR,
                                                                   "input.latent")]


def test_slider_upload_and_interpolation_in_chromium(browser, server_url, tmp_path, artifacts):
    browser.get(server_url)
    wait_for(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready")
             == "true", "the page never showed its first decoded image")
    labels = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".slider-row label")]
    assert labels == ["z0 · shape", "z1 · scale", "z2 · posX", "z3 · posY"]
    assert not browser.find_element(By.ID, "play").is_displayed()  # audio only

    # Move a slider the way a user's drag does: set the value, fire 'input'.
    before = image_src(browser)
    assert before.startswith("data:image/png;base64,")
    browser.execute_script(
        "const s = arguments[0]; s.value = 2.5; s.dispatchEvent(new Event('input', "
        "{bubbles: true}));", browser.find_element(By.ID, "z0"))
    wait_for(browser, lambda d: image_src(d) not in ("", before),
             "moving slider z0 did not change the decoded image")

    # Upload an image of another size: it is encoded into the sliders.
    values = slider_values(browser)
    picture = tmp_path / "upload.png"
    Image.radial_gradient("L").resize((40, 30)).convert("RGB").save(picture)
    browser.find_element(By.ID, "encode-file").send_keys(str(picture))
    wait_for(browser, lambda d: "resized from 40x30" in d.find_element(By.ID, "encode-notes").text,
             "the upload was not encoded (no resize note)")
    assert slider_values(browser) != values
    assert browser.find_element(By.ID, "status").get_attribute("class") != "error"

    browser.find_element(By.ID, "interp-random").click()
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#interp-frames img")) == 8,
             "no interpolation frames appeared")

    shot = artifacts / "explorer.png"
    assert browser.save_screenshot(str(shot))
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.width >= 800


def test_errors_are_shown_on_the_page(browser, server_url):
    browser.get(server_url)
    wait_for(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready")
             == "true", "the page never became ready")
    # A value out of range, as a crafted client would send it: the page shows the server's
    # message, and the next slider move decodes again.
    browser.execute_script("state.z[0] = 99; requestDecode();")
    wait_for(browser, lambda d: "out of range" in d.find_element(By.ID, "status").text,
             "the server's error message was not shown")
    before = image_src(browser)
    browser.execute_script(
        "const s = arguments[0]; s.value = -2; s.dispatchEvent(new Event('input', "
        "{bubbles: true}));", browser.find_element(By.ID, "z0"))
    wait_for(browser, lambda d: image_src(d) != before, "decoding did not recover")
