"""A real headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by selenium.

Usage::

    with headless_chromium() as browser:
        page = open_page(browser, "file:///tmp/report.html")
        assert page.console_errors == []
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


@contextmanager
def headless_chromium(width: int = 1200, height: int = 2400) -> Iterator[webdriver.Chrome]:
    binary = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        raise RuntimeError("run `make system-packages`: it installs chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        yield browser
    finally:
        browser.quit()


@dataclass
class LoadedPage:
    console_errors: list[dict[str, Any]]
    screenshot_png: bytes

    def distinct_colours(self) -> int:
        """How many different colours the screenshot has (a blank page has one)."""
        from PIL import Image

        image = Image.open(io.BytesIO(self.screenshot_png)).convert("RGB")
        return len(image.getcolors(maxcolors=1 << 24) or [])

    def has_colour(self, rgb: tuple[int, int, int]) -> bool:
        from PIL import Image

        image = Image.open(io.BytesIO(self.screenshot_png)).convert("RGB")
        return any(colour == rgb for _, colour in image.getcolors(maxcolors=1 << 24) or [])


def open_page(browser: webdriver.Chrome, url: str) -> LoadedPage:
    """Load ``url``, wait for it, and collect its console errors and a screenshot."""
    browser.get(url)
    state = browser.execute_script("return document.readyState")
    assert state == "complete", state
    errors = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    return LoadedPage(console_errors=errors, screenshot_png=browser.get_screenshot_as_png())
