"""The console on a phone (375 px, the narrowest common screen): the members list, a member's
page with every table it can show, and the risk-event queue fit the screen's width, in
Chinese and in English, with long unbroken text (e-mail addresses, links, USCCs) in them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.browser.conftest import LiveServer, screenshot, sign_in_console
from tests.support.client import SignedClient
from tests.support.console import ConsoleLogin, make_console_operator
from tests.support.factories import admit_member
from tests.support.whitelist import Cast, cast, confirm, supply, traceable_number

pytestmark = pytest.mark.browser

WIDTH = 375
# Text without a place to break: what overflows a narrow screen when nothing wraps it.
LONG_EMAIL = "consumer-protection-and-complaints-department@" + "subsidiary-" * 4 + "example.cn"
LONG_LINK = "https://evidence.example.cn/" + "case-file-2026-11-0001/" * 5
LONG_NAME = "某某省某某市某某区数字普惠消费金融服务股份有限公司第一分公司贷后管理中心"


@pytest.fixture(scope="module")
async def admin(db: asyncpg.Connection, data_dir: Path) -> ConsoleLogin:
    return await make_console_operator(db, data_dir, "钱管理")


@pytest.fixture(scope="module")
async def lender_id(operator: SignedClient) -> str:
    """A lender whose page shows every table: history, disclosure changes, entrustments,
    complaints; and risk reports in the queue, all with long text."""
    c = await cast(operator)
    lender = await admit_member(
        operator, "lender", name=LONG_NAME, subtype="consumer_finance_company",
        complaints={"phone": "400-800-1234", "email": "ts@example.cn", "address": LONG_LINK,
                    "process": "三个工作日内答复" + LONG_LINK})
    changed = await lender.patch(f"/v1/members/{lender.id}", {"complaints": {"email": LONG_EMAIL}})
    assert changed.status_code == 200, changed.text
    # The lender entrusts the agency with a number it files; one of its own lines too.
    c = Cast(c.carrier, c.agency, lender)
    await traceable_number(c, "13812340099")
    await confirm(lender, (await supply(c.carrier, lender, "13812340098"))["id"])
    complained = await c.carrier.post("/v1/complaints", {
        "number": "13812340099", "received_at": "2026-11-02T02:30:00Z", "category": "abuse",
        "summary": "催收员辱骂投诉人，录音见" + LONG_LINK})
    assert complained.status_code == 201, complained.text
    for late in (True, False):
        reported = await lender.post("/v1/risk-events", {
            "category": "violent_collection",
            "discovered_at": "2026-11-01T09:00:00+08:00" if late else "2026-11-29T08:00:00Z",
            "summary": "催收员威胁债务人，证据：" + LONG_LINK, "cause": LONG_EMAIL})
        assert reported.status_code == 201, reported.text
    return lender.id


@pytest.fixture
async def phone_tab(browser: Any, live_server: LiveServer) -> AsyncIterator[Any]:
    context = await browser.new_context(base_url=live_server.url, locale="zh-CN",
                                        viewport={"width": WIDTH, "height": 812},
                                        is_mobile=True, has_touch=True)
    context.set_default_timeout(20_000)
    yield await context.new_page()
    await context.close()


async def overflow(tab: Any) -> dict[str, Any]:
    """How wide the page is, and the first elements that reach past the screen. (A phone
    browser zooms out to fit a page wider than the screen: innerWidth then grows too.)"""
    found: dict[str, Any] = await tab.evaluate("""(width) => {
        const wide = [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > width + 0.5)
            .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                      + (e.className && typeof e.className === 'string'
                         ? '.' + e.className.trim().split(/\\s+/).join('.') : ''))
            .slice(0, 8);
        return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
                wide};
    }""", WIDTH)
    return found


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_console_pages_fit_a_phone(
    phone_tab: Any, admin: ConsoleLogin, db: asyncpg.Connection, lender_id: str, lang: str,
) -> None:
    await sign_in_console(phone_tab, admin, db)
    await phone_tab.goto(f"/lang?to={lang}&next=/console")
    pages = {"members": "/console/members", "member": f"/console/members/{lender_id}",
             "risk-events": "/console/risk-events"}
    for name, path in pages.items():
        await phone_tab.goto(path)
        found = await overflow(phone_tab)
        await screenshot(phone_tab, f"phone-{name}-{lang}")
        assert found["scroll"] <= found["inner"] == WIDTH, (path, found)
    # The tables became cards, each cell under its column's name.
    await phone_tab.goto("/console/risk-events")
    cell = phone_tab.locator("#risk-events tbody td").first
    assert await cell.evaluate("td => getComputedStyle(td).display") == "block"
    label = await cell.evaluate("td => getComputedStyle(td, '::before').content")
    assert label == ('"是否逾期"' if lang == "zh" else '"Late?"')
    await phone_tab.goto(f"/console/members/{lender_id}")
    for table in ("#history", "#disclosure-history", "#keys", "table.entrustments",
                  "#member-resources", "#member-complaints"):
        assert await phone_tab.locator(f"{table} tbody td").first.evaluate(
            "td => getComputedStyle(td).display") == "block", table
