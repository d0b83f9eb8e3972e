"""Browser tests: headless Debian Chromium driven by Playwright against a node on loopback.

No browser is downloaded: Playwright launches the system's `chromium`. Without it (or
without Playwright) every test here is skipped with a message saying how to get it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import uvicorn

from api.app import create_app
from api.settings import Settings
from tests.support.console import ConsoleLogin

CHROMIUM = os.environ.get("REGISTRY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
SKIP_REASON = (
    "browser tests need Debian's Chromium at /usr/bin/chromium (or REGISTRY_CHROMIUM): "
    "`apt-get install chromium`; CI (.ci/run) installs it"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    have_browser = Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)
    for item in items:
        if "tests/browser/" not in item.nodeid:
            continue
        item.add_marker(pytest.mark.browser)
        if not have_browser:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """The app under uvicorn on its own thread and event loop, like a real deployment."""

    def __init__(self, settings: Settings) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port,
                                log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def live_server(settings: Settings) -> Iterator[LiveServer]:
    # Secure cookies stay on: Chromium treats http://127.0.0.1 as a secure context.
    with LiveServer(settings) as server:
        yield server


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Any, live_server: LiveServer) -> AsyncIterator[Any]:
    """A fresh browser context (no cookies) per test, on the live server."""
    context = await browser.new_context(base_url=live_server.url, locale="zh-CN",
                                        viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = await context.new_page()
    yield tab
    await context.close()


PHONE = {"width": 390, "height": 844}


@pytest.fixture
async def phone(browser: Any, live_server: LiveServer) -> AsyncIterator[Any]:
    """A fresh phone-sized browser context per test: how people check a number."""
    context = await browser.new_context(base_url=live_server.url, locale="zh-CN",
                                        viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    yield await context.new_page()
    await context.close()


async def screenshot(tab: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def settle() -> None:
    await asyncio.sleep(0)


async def sign_in_console(tab: Any, who: ConsoleLogin, db: asyncpg.Connection,
                          code: str | None = None) -> None:
    # Each test signs in afresh; a TOTP code is good once, so forget the last one used.
    await db.execute("UPDATE operator_credentials SET totp_last_step = 0")
    await tab.goto("/console")
    await tab.get_by_label("账号").fill(who.login)
    await tab.get_by_label("密码").fill(who.password)
    await tab.get_by_label("动态验证码（6位）").fill(code or who.code())
    await tab.get_by_role("button", name="登录").click()
    await tab.wait_for_load_state()
