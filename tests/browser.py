"""Headless Debian Chromium driven by Selenium, shared by the website and JupyterLab tests.

Skipped with a clear reason where the browser cannot be had, except in CI (CI=true), where it must run.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest


def no_browser(reason: str) -> None:
    message = f"{reason}. Install Debian's browser: apt-get install chromium chromium-driver"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true, so the browser test must run: {message}")
    pytest.skip(message)


def free_port() -> int:
    """A port that nothing listens on at 127.0.0.1, for a server the test starts (JupyterLab, TensorBoard)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
