"""The quote page in a real browser: headless Chromium against a running `medcalc serve`.

It opens ``/``, types a region, a date and the README's quick-start claim (in 万 and 元), submits,
and finds that quote's amount, 14480.00, on the page; then asks for the explanation and finds
the policy's sentence. Screenshots are saved (``quote.png``, ``explain.png``) in the test's
folder, and also in ``$MEDCALC_SCREENSHOTS`` when that names a folder. Skipped, saying why,
where Debian's ``chromium`` and ``chromium-driver`` (which ``.ci/run`` installs) or selenium
are missing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .serve_live import LiveServer, serve_extra_or_skip

CHROMIUM = next(filter(None, (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome"))), None)
DRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    serve_extra_or_skip()
    pytest.importorskip("selenium", reason="needs selenium (pip install selenium, in the test extra)")
    if CHROMIUM is None or DRIVER is None:
        pytest.skip(
            "needs headless Chromium and its driver: apt-get install chromium chromium-driver "
            f"(chromium: {CHROMIUM or 'not found'}, chromedriver: {DRIVER or 'not found'})"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1200,1600",
        "--lang=zh-CN",
    ):
        options.add_argument(argument)
    # the driver given by path: selenium never looks for (or downloads) one of its own
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def server():
    serve_extra_or_skip()
    live = LiveServer()
    yield live
    live.stop()


def _screenshot(driver, folder: Path, name: str) -> Path:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1200, min(height + 40, 6000))
    driver.execute_script("window.scrollTo(0, 0)")
    path = folder / name
    driver.save_screenshot(str(path))
    extra = os.environ.get("MEDCALC_SCREENSHOTS")
    if extra and Path(extra).is_dir():
        shutil.copy(path, Path(extra) / name)
    return path


def test_the_quote_page_finds_the_quick_start_amount(browser, server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 20)
    browser.get(server.url + "/")
    assert "医保报销测算" in browser.title
    # the region's suggestions come from GET /policies
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#regions option[value='九江市']"))
    browser.find_element(By.ID, "region").send_keys("九江")
    day = browser.find_element(By.ID, "settled_on")
    day.clear()
    day.send_keys("2020-06-01")
    Select(browser.find_element(By.ID, "scheme")).select_by_value("residents")
    # the levels are the policy's, once the region and date have found it
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#level option[value='level2']"))
    assert "jiujiang-residents" in browser.find_element(By.ID, "policy-line").text
    Select(browser.find_element(By.ID, "level")).select_by_value("level2")
    browser.find_element(By.ID, "total").send_keys("2万")
    browser.find_element(By.ID, "self_funded").send_keys("1500元")
    browser.find_element(By.ID, "submit").click()
    wait.until(lambda d: "14480.00" in d.find_element(By.ID, "result").text)
    result = browser.find_element(By.ID, "result").text
    assert "基本医保统筹 basic insurance" in result and "5520.00" in result and "72.40%" in result
    shot = _screenshot(browser, tmp_path, "quote.png")
    assert shot.stat().st_size > 10_000

    # on request, every step with the policy's sentence
    browser.find_element(By.ID, "explain").click()
    browser.find_element(By.ID, "submit").click()
    wait.until(lambda d: "explanation 计算过程" in d.find_element(By.ID, "result").text)
    assert "報銷比例分別爲90%、80%、60%" in browser.find_element(By.ID, "result").text
    _screenshot(browser, tmp_path, "explain.png")


def test_the_page_shows_a_bad_claim_with_its_field(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 20)
    browser.get(server.url + "/")
    browser.find_element(By.ID, "region").send_keys("淮北")
    day = browser.find_element(By.ID, "settled_on")
    day.clear()
    day.send_keys("2025-03-01")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#level option[value='level1']"))
    browser.find_element(By.ID, "total").send_keys("12千")
    browser.find_element(By.ID, "submit").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#result .error"))
    assert "total:" in browser.find_element(By.ID, "result").text
    assert "invalid" in browser.find_element(By.ID, "total").get_attribute("class")
