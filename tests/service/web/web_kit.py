"""Helpers of the browser tests: the running workbench, logging in, screenshots."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page
from web_seed import PASSWORD, Seeded

from service.cases.db import CaseStore

CHROMIUM = Path("/usr/bin/chromium")
#: where screenshots are copied for people to look at (``out/`` is gitignored)
SCREENSHOTS = Path(__file__).resolve().parents[3] / "out" / "screenshots"


@dataclass
class Workbench:
    """The running app: its address and the seeded store behind it."""

    url: str
    seeded: Seeded

    @property
    def store(self) -> CaseStore:
        return self.seeded.store


def login(page: Page, username: str, password: str = PASSWORD) -> None:
    """Log in through the form, as a person would."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/cases")


def screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    """A full-page screenshot in the test's folder, copied to ``out/screenshots/``."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SCREENSHOTS / path.name)
    return path
