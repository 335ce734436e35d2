"""Headless Debian Chromium driven by Selenium, shared by the website, JupyterLab and TensorBoard tests.

Skipped with a clear reason where the browser cannot be had, except in CI (CI=true), where it must run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

import pytest


def no_browser(reason: str) -> None:
    message = f"{reason}. Install Debian's browser: apt-get install chromium chromium-driver"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true, so the browser test must run: {message}")
    pytest.skip(message)


def start_chromium(window: tuple[int, int] = (1280, 1000)):
    """Headless Debian Chromium through /usr/bin/chromedriver, with network and console logging on."""
    chromium = os.environ.get("MNIST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    chromedriver = os.environ.get("MNIST_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
    except ImportError:
        no_browser("selenium is not installed (it is in requirements.txt)")
    for path in (chromium, chromedriver):
        if not Path(path).is_file():
            no_browser(f"headless Chromium is not available ({path} not found)")
    profile = tempfile.mkdtemp(prefix="mnist-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
        "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-extensions", "--hide-scrollbars",
        "--force-device-scale-factor=1", f"--window-size={window[0]},{window[1]}", f"--user-data-dir={profile}",
    ):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = webdriver.ChromeService(executable_path=chromedriver)  # a given path: Selenium Manager never runs
    try:
        driver = webdriver.Chrome(options=options, service=service)
    except WebDriverException as error:  # installed but cannot start (missing libraries, no /dev/shm, ...)
        shutil.rmtree(profile, ignore_errors=True)
        no_browser(f"Chromium did not start: {error.msg}")
    driver.set_page_load_timeout(60)
    driver._mnist_profile = profile  # type: ignore[attr-defined]
    return driver


def stop_chromium(driver) -> None:
    """Quit the browser and remove its temporary profile."""
    try:
        driver.quit()
    finally:
        shutil.rmtree(driver._mnist_profile, ignore_errors=True)


# Schemes that never leave the machine: the site's files, inline data, the browser's own pages (its new-tab page...).
LOCAL_SCHEMES = ("file", "data", "blob", "about", "chrome", "chrome-error")


class Network(NamedTuple):
    requested: list[str]  # every URL requested (WebSockets included), in order
    failed: list[str]  # "URL: error" of each request that failed (a cancelled one aside)

    def leaving(self, *allowed: str) -> list[str]:
        """The requested URLs that leave the machine: not a local scheme, and not starting with one of `allowed`
        (the local server's http://127.0.0.1:port/ and ws://127.0.0.1:port/, say)."""
        local = [url for url in self.requested if urlparse(url).scheme in LOCAL_SCHEMES or url.startswith(allowed)]
        return [url for url in self.requested if url not in local]


def network_log(driver) -> Network:
    """What Chromium requested, and what failed, since the last call (the log is read once: it empties)."""
    requested: list[str] = []
    failed: list[str] = []
    urls: dict[str, str] = {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
            requested.append(params["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls[params["requestId"]] = params["url"]
            requested.append(params["url"])
        elif message["method"] == "Network.loadingFailed" and not params.get("canceled"):
            failed.append(f"{urls.get(params['requestId'], params['requestId'])}: {params.get('errorText')}")
    return Network(requested, failed)


def console_errors(driver) -> list[str]:
    """The errors in the browser's console since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
