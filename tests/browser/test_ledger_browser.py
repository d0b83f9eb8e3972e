"""The contact ledger in the console, in a real browser: the overview's over-limit total,
the list of lenders, and one lender's page with its days and server-drawn chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.browser.conftest import screenshot
from tests.browser.conftest import sign_in_console as _sign_in
from tests.support.client import SignedClient
from tests.support.console import ConsoleLogin, make_console_operator
from tests.support.ledger import call, ledger_cast, report, shanghai_day

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
async def staff(db: asyncpg.Connection, data_dir: Path) -> ConsoleLogin:
    return await make_console_operator(db, data_dir, "李台账")


async def test_a_lenders_ledger_page_shows_its_days_and_chart(
    page: Any, staff: ConsoleLogin, db: asyncpg.Connection, operator: SignedClient,
) -> None:
    c = await ledger_cast(operator, "+8613100000")
    a1, a2 = c.numbers[c.agency1.id], c.numbers[c.agency2.id]
    day = shanghai_day(-1)
    results = await report(c.carrier, *[
        call(caller, f"{day}T{hour}:00:00+08:00")
        for caller, hour in ((a1, "09"), (a2, "10"), (a1, "11"), (a2, "12"), (a1, "23"))])
    assert [r["over_limit"] for r in results] == [False, False, False, True, True]
    await _sign_in(page, staff, db)
    assert await page.locator("#contacts-over-limit td").nth(1).inner_text() != "0"
    await page.get_by_role("link", name="超限接通 · 近30日").click()
    await page.get_by_role("heading", name="通话台账", exact=True).wait_for()
    await page.locator(f'a[href="/console/ledger/{c.lender.id}"]').click()
    await page.locator("#over-limit-total").wait_for()
    assert await page.locator("#over-limit-total").inner_text() == "2"
    assert await page.locator("#outside-window-total").inner_text() == "1"
    row = page.locator("#ledger-days tbody tr").first
    assert (await row.locator("th").inner_text()) == day
    assert [await cell.inner_text() for cell in await row.locator("td").all()] == [
        "5", "5", "5", "0", "2", "1"]
    chart = page.locator("#chart-ledger-title")
    assert await chart.count() == 1
    # One bar per day, the over-limit part drawn in its own colour.
    assert await page.locator("svg[role=img] rect[fill='#b3261e']").count() == 1
    await screenshot(page, "ledger-lender")
    # An agency has no ledger of its own: its calls count for its lenders.
    await page.goto(f"/console/ledger/{c.agency1.id}")
    assert await page.locator("#over-limit-total").count() == 0
