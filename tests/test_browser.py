"""End to end in a real browser: headless Chromium draws a 7 on the demo page's canvas.

Needs Debian's chromium and chromium-driver (`.ci/run` installs them). Without them this test
FAILS with the reason; it never passes silently.
"""
import shutil
import subprocess
import sys
import time

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture
def demo(model_file):
    proc = subprocess.Popen([sys.executable, "-m", "scratchnet.serve", "--model", str(model_file),
                             "--port", "0"], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("Serving"), line
    yield line.split(" on ")[1].split()[0]
    proc.terminate()
    proc.wait(timeout=10)
    proc.stdout.close()


@pytest.fixture
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail("the browser test needs Chromium and ChromeDriver: "
                    "apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic", "--window-size=1200,800"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_drawing_a_seven_shows_seven(demo, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(demo)
    canvas = browser.find_element(By.ID, "canvas")
    assert browser.find_element(By.ID, "digit").text == "–"
    # a 7: the top bar left to right, then the long stroke down to the bottom left
    # (offsets from the centre of the 280x280 canvas)
    actions = ActionChains(browser, duration=20)
    actions.move_to_element_with_offset(canvas, -80, -95).click_and_hold()
    for x in range(-80, 81, 20):
        actions.move_to_element_with_offset(canvas, x, -95)
    for step in range(1, 11):
        actions.move_to_element_with_offset(canvas, 80 - step * 12, -95 + step * 20)
    actions.release().perform()
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "digit").text not in ("–", ""))
    WebDriverWait(browser, 20).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#bars .bar")) == 10)
    shot = tmp_path / "demo.png"
    browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")
    assert browser.find_element(By.ID, "digit").text == "7"
    assert browser.find_element(By.ID, "confidence").text.startswith("confidence 0.")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#top3 li")) == 3
    assert browser.find_element(By.ID, "seen").get_attribute("src").startswith("data:image/png;base64,")
    assert browser.find_element(By.ID, "status").text == ""

    # Clear right after drawing: an answer still in flight must not bring the old digit back
    actions = ActionChains(browser, duration=20)
    actions.move_to_element_with_offset(canvas, 0, -90).click_and_hold()
    for y in range(-90, 91, 30):
        actions.move_to_element_with_offset(canvas, 0, y)
    actions.release().perform()
    browser.find_element(By.ID, "clear").click()
    time.sleep(1.5)   # longer than any answer takes on 127.0.0.1
    assert browser.find_element(By.ID, "digit").text == "–"
    assert browser.find_element(By.ID, "bars").text == ""
