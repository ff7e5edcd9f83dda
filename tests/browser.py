"""The page tests' browser: Debian's Chromium under selenium, as a supervisor or an
agent would open the pages (headless, 1400x900, the service's language)."""
from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def find_chromium() -> tuple[str, str] | None:
    """The browser and its driver, or None when either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


class Browser:
    """A thin layer over selenium's driver: the few moves page tests make, with waits
    that name what they waited for when they time out."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver
        self.console_errors: list[str] = []

    @classmethod
    def start(cls, width: int = 1400, height: int = 900) -> "Browser":
        found = find_chromium()
        assert found is not None
        options = webdriver.ChromeOptions()
        options.binary_location = found[0]
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    f"--window-size={width},{height}", "--lang=el"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        return cls(webdriver.Chrome(options=options, service=Service(found[1])))

    def open(self, url: str) -> None:
        self.driver.get(url)

    def log_in(self, base: str, user: str, password: str, then: str = "/") -> None:
        """Through the login page, as a person would: fill the form, press the button."""
        self.open(f"{base}/login?next={then}")
        self.wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, "input[type=password]"), "the login form")
        self.driver.find_element(By.CSS_SELECTOR, "input#name").send_keys(user)
        self.driver.find_element(By.CSS_SELECTOR, "input[type=password]").send_keys(password)
        self.driver.find_element(By.CSS_SELECTOR, "button[type=submit], form button").click()
        self.wait_for(lambda d: "/login" not in d.current_url, f"leaving the login page for {then}")

    def text(self, css: str = "body") -> str:
        return self.driver.find_element(By.CSS_SELECTOR, css).text

    def wait_for(self, condition: Callable[[Any], Any], what: str, timeout: float = 15.0) -> Any:
        try:
            # a page that re-renders (the floor, every second) replaces the element between
            # finding it and reading it: try again rather than fail at once
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                                 ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                                 ).until(condition)
        except Exception as error:
            raise AssertionError(f"the page never showed {what} in {timeout:.0f} s; "
                                 f"it shows: {self.text()[:600]!r}") from error

    def wait_for_text(self, pattern: str, css: str = "body", timeout: float = 15.0) -> str:
        """Wait until the element's text matches ``pattern`` (a regex); the text."""
        return self.wait_for(lambda d: (t := d.find_element(By.CSS_SELECTOR, css).text) and re.search(pattern, t) and t,
                             f"{pattern!r} in {css}", timeout)

    def javascript_errors(self) -> list[str]:
        """The page's console errors (SEVERE), which a page test should assert empty."""
        return [entry["message"] for entry in self.driver.get_log("browser")
                if entry["level"] == "SEVERE" and "favicon.ico" not in entry["message"]]

    def screenshot(self, name: str) -> Path | None:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / (re.sub(r"[^\w.-]+", "_", name)[:120] + ".png")
        try:
            self.driver.save_screenshot(str(path))
        except Exception:
            return None
        return path

    def quit(self) -> None:
        self.driver.quit()
