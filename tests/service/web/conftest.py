"""Fixtures of the browser tests: the real app, workbench only, served by uvicorn; Chromium.

The app is :func:`service.app.create_app` without a data or model folder
(the workbench-only mode) over a SQLite case store seeded from the session's
simulated province (:mod:`web_seed`). It runs in a background thread on a free
port, so the browser talks HTTP to it exactly as an inspector's would.
Debian's Chromium drives the pages (``make browser`` installs it); without
it every browser test is skipped with the command to run.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

sys.path.insert(0, str(Path(__file__).parent))

from web_kit import CHROMIUM, Workbench
from web_seed import seed

from service.app import create_app
from service.cases.db import CaseStore
from service.settings import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def workbench(province_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    """The real app (workbench only) on a seeded SQLite store, served by uvicorn in a thread."""
    state = tmp_path_factory.mktemp("workbench")
    store = CaseStore(f"sqlite:///{state / 'cases.db'}")
    seeded = seed(store, province_dir)
    settings = Settings(state_dir=state, data_dir=None, model_dir=None, api_keys="")
    app = create_app(settings, cases=store)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="workbench-uvicorn", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the workbench did not start within 30 s")
        time.sleep(0.05)
    assert httpx.get(f"{url}/login", timeout=5).status_code == 200
    yield Workbench(url, seeded)
    server.should_exit = True
    thread.join(10)
    store.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless (Playwright cannot download browsers here)."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: run `make browser` (as root: apt-get install -y chromium)"
        )
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, workbench: Workbench) -> Iterator[Page]:
    """A fresh browser context (no cookies) and page, 1440×1000, Vietnamese by default."""
    context = browser.new_context(
        viewport={"width": 1440, "height": 1000}, base_url=workbench.url, locale="vi-VN"
    )
    context.set_default_timeout(15_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    # a failed page load (401 on a wrong password, 403 for a viewer) is expected; a script
    # error or a missing stylesheet/script is not
    pg.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    pg.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if "/static/" in r.url and r.status >= 400
            else None
        ),
    )
    yield pg
    context.close()
    assert not errors, f"the page logged JavaScript errors: {errors}"
