"""The API docs page in a real browser: it renders, and loads nothing from another host."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import LiveServer, screenshot

pytestmark = pytest.mark.browser


async def test_the_docs_page_loads_only_from_the_node(page: Any, live_server: LiveServer) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    # Swagger UI's bundle is 1.5 MB: on a busy machine it takes more than the default 10 s.
    page.set_default_timeout(60_000)
    await page.goto("/schema", wait_until="domcontentloaded")
    await page.locator(".swagger-ui .info .title").wait_for()
    await page.get_by_text("/v1/trace/{value}").first.wait_for()
    await page.locator("button.authorize").wait_for()  # the bearer scheme is offered
    await page.wait_for_load_state("networkidle")
    await screenshot(page, "api-docs")
    own = urlsplit(live_server.url).netloc
    foreign = [url for url in requested
               if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != own]
    assert foreign == []
    assert any(url.endswith("/schema-assets/swagger-ui-bundle.js") for url in requested)
