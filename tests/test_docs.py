"""/docs in a real headless Chromium (Selenium, the system's chromedriver): Swagger UI
from the service's own files, no request beyond 127.0.0.1, and "Try it out" sends a
real prediction that /metrics counts."""

import json
import re
import shutil
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as shown
from selenium.webdriver.support.ui import WebDriverWait

from harness.metrics import predict_count
from harness.models import trained_service

PREDICT = "#operations-default-post_v1_predict"  # Swagger UI's id for the operation
CHROMIUM = [
    "--headless=new",
    "--no-sandbox",  # as root, in CI
    "--disable-dev-shm-usage",
    "--window-size=1280,1400",
    "--disable-background-networking",
    "--disable-component-update",
    # Even a request the page should not make cannot leave the machine; the
    # performance log still records that it was attempted.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("scikit-learn")]


@pytest.fixture
def browser():
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.skip(
            "no chromium and chromedriver here (Debian: apt-get install chromium "
            "chromium-driver; scripts/test.py does it where apt-get can)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in CHROMIUM:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    # A driver path given: Selenium Manager is skipped, nothing is downloaded.
    driver = webdriver.Chrome(options=options, service=Service(chromedriver))
    yield driver
    driver.quit()


def try_predict(driver: WebDriver) -> tuple[str, str, str]:
    """Open POST /v1/predict, "Try it out", "Execute" with the example body; return
    (the body sent, the status and the body shown)."""
    wait = WebDriverWait(driver, 30)
    operation = wait.until(
        shown.visibility_of_element_located((By.CSS_SELECTOR, PREDICT))
    )
    assert re.search(r"POST\s+/v1/predict", operation.text), operation.text
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    located = (By.CSS_SELECTOR, f"{PREDICT} .try-out__btn")
    wait.until(shown.element_to_be_clickable(located)).click()
    body = driver.find_element(By.CSS_SELECTOR, f"{PREDICT} textarea.body-param__text")
    sent = body.get_attribute("value")
    driver.find_element(By.CSS_SELECTOR, f"{PREDICT} .execute").click()
    row = f"{PREDICT} .live-responses-table tbody"
    located = (By.CSS_SELECTOR, f"{row} .response-col_status")
    status = wait.until(shown.visibility_of_element_located(located))
    answer = driver.find_element(
        By.CSS_SELECTOR, f"{row} .response-col_description pre"
    )
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", status)
    return sent, status.text, answer.text


def test_docs_page_tries_a_prediction_with_no_outside_request(
    cookies, environments, server_factory, browser, tmp_path
) -> None:
    """The page renders from /openapi.json and the service's own files, shows
    POST /v1/predict, and "Try it out" with the example body answers 200."""
    service, python = trained_service(cookies, environments, "scikit-learn")
    server = server_factory(python, service)  # two workers
    server.wait_ready()
    before = predict_count(server)

    browser.get(f"{server.url}/docs")
    sent, status, answer = try_predict(browser)
    browser.save_screenshot(str(tmp_path / "docs.png"))
    document = json.loads(server.request("/openapi.json")[2])
    assert json.loads(sent) == document["components"]["schemas"]["Input"]["examples"][0]
    assert status == "200", answer
    assert "label" in json.loads(answer)
    assert predict_count(server) == before + 1

    log = [
        json.loads(entry["message"])["message"]
        for entry in browser.get_log("performance")
    ]
    urls = [
        m["params"]["request"]["url"]
        for m in log
        if m["method"] == "Network.requestWillBeSent"
    ]
    paths = {urlsplit(url).path for url in urls}
    assert {"/docs", "/openapi.json", "/v1/predict"} <= paths, urls
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"} <= paths
    outside = [
        u
        for u in urls
        if urlsplit(u).scheme != "data" and urlsplit(u).hostname != "127.0.0.1"
    ]
    assert not outside, outside
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert all(u.startswith(server.url + "/") for u in loaded), loaded

    metrics = server.request("/metrics")[2].decode()
    routes = set(re.findall(r'route="(/docs[^"]*)"', metrics))
    assert routes == {"/docs", "/docs/assets/<name:str>"}  # one label for every file
    assert server.stop() == 0, server.output()


def test_docs_page_asks_for_the_api_token_and_sends_it(
    cookies, environments, server_factory, browser
) -> None:
    """With API_TOKEN, /docs stays public; the page asks for the token once, loads
    the guarded document with it and "Try it out" is authorized."""
    service, python = trained_service(cookies, environments, "scikit-learn")
    server = server_factory(python, service, API_TOKEN="docs-token", WORKERS="1")
    server.wait_ready()
    browser.get(f"{server.url}/docs")
    prompt = WebDriverWait(browser, 30).until(shown.alert_is_present())
    assert "API_TOKEN" in prompt.text
    prompt.send_keys("docs-token")
    prompt.accept()
    _, status, answer = try_predict(browser)
    assert status == "200", answer
    assert server.stop() == 0, server.output()
