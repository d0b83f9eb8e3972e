"""Keeping disclosures current and supervising agencies, in a real browser: an operator
edits a disclosure (history kept, public page current at once), and reads an entrustment's
commitments, evaluations, rectifications and numbers, with the overview's counts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from registry.entrustments.rules import today
from tests.browser.conftest import screenshot, sign_in_console
from tests.support.client import SignedClient
from tests.support.console import ConsoleLogin, make_console_operator
from tests.support.factories import admit_member
from tests.support.whitelist import cast, traceable_number

pytestmark = pytest.mark.browser
SCORES = {"compliance": 91, "effectiveness": 82, "data_security": 73, "records": 64,
          "complaints": 55}


@pytest.fixture(scope="module")
async def staff(db: asyncpg.Connection, data_dir: Path) -> ConsoleLogin:
    return await make_console_operator(db, data_dir, "李监督")


async def test_an_operator_edits_a_disclosure_and_the_public_page_follows(
    page: Any, staff: ConsoleLogin, db: asyncpg.Connection, operator: SignedClient,
) -> None:
    lender = await admit_member(operator, "lender", subtype="microloan_company")
    await sign_in_console(page, staff, db)
    await page.goto(f"/console/members/{lender.id}")
    form = page.locator("#disclosure-form")
    await form.get_by_label("处理流程").fill("收到投诉后两个工作日内联系投诉人")
    await form.locator("#d-complaints-phone").fill("95555-8")
    await form.locator("#d-complaints-email").fill("tousu@lender.example.cn")
    await form.get_by_label("机构类别").select_option("consumer_finance_company")
    await form.get_by_role("button", name="保存公示信息").click()
    await page.locator("#disclosed").wait_for()
    history = await page.locator("#disclosure-history tbody tr").all_inner_texts()
    assert len(history) == 1
    assert "complaints.phone" in history[0]
    assert "complaints.process" in history[0]
    assert "subtype" in history[0]
    assert "李监督" in history[0]
    await screenshot(page, "member-disclosure")

    # A bad email is refused naming the field; nothing changes.
    await form.locator("#d-contact-email").evaluate("e => e.type = 'text'")
    await form.locator("#d-contact-email").fill("not-an-address")
    await form.get_by_role("button", name="保存公示信息").click()
    await page.locator("#disclosure-errors").wait_for()
    assert "contact.email" in await page.locator("#disclosure-errors").inner_text()
    assert await page.locator("#disclosure-history tbody tr").count() == 1

    member = (await operator.get(f"/v1/members/{lender.id}")).json()
    assert member["complaints"]["phone"] == "95555-8"
    assert member["subtype"] == "consumer_finance_company"
    assert member["disclosure_history"][0]["by"] == staff.operator_id

    await page.goto(f"/public/lenders/{lender.id}")
    own = page.locator("#own-complaints")
    assert await own.locator('a[href="tel:95555-8"]').count() == 1
    assert await own.locator('a[href="mailto:tousu@lender.example.cn"]').count() == 1
    assert "两个工作日内" in await own.inner_text()
    await screenshot(page, "public-lender-disclosure")


async def test_the_entrustment_page_and_the_overview_counts(
    page: Any, staff: ConsoleLogin, db: asyncpg.Connection, operator: SignedClient,
) -> None:
    c = await cast(operator)
    made = await traceable_number(c, "+8613800138093")
    entrustment_id = made["entrustment"]["id"]
    signed = await c.agency.post(f"/v1/entrustments/{entrustment_id}/commitments", {
        "commitments": ["no_subcontracting", "confidentiality", "accept_supervision",
                        "accept_regulators"]})
    assert signed.status_code == 201, signed.text
    evaluated = await c.lender.post(f"/v1/entrustments/{entrustment_id}/evaluations", {
        "period_end": "2026-06-30", "grade": "C", "scores": SCORES, "summary": "需加强"})
    assert evaluated.status_code == 201, evaluated.text
    opened = await c.lender.post(f"/v1/entrustments/{entrustment_id}/rectifications", {
        "cause": "consumer_harm", "due_on": today().isoformat(), "summary": "整改话术"})
    rectification_id = opened.json()["id"]
    await db.execute("UPDATE rectifications SET due_on = $2 WHERE id = $1",
                     rectification_id, today() - timedelta(days=1))
    before = await _overview_count(page, staff, db, "#count-rectification-overdue")
    assert before >= 1

    await page.goto(f"/console/members/{c.lender.id}")
    row = page.locator("table.entrustments tbody tr").filter(has_text="整改逾期")
    await row.get_by_role("link").click()
    await page.locator("#h-commitments").wait_for()
    assert page.url.endswith(f"/console/entrustments/{entrustment_id}")
    assert "信息保密" in await page.locator("#commitments").inner_text()
    evaluation = await page.locator("#evaluations tbody tr").inner_text()
    assert "C" in evaluation
    assert "73" in evaluation
    assert "整改逾期" in await page.locator("#rectifications").inner_text()
    assert "可追溯" in await page.locator("#numbers").inner_text()
    await screenshot(page, "entrustment")

    closed = await c.lender.post(f"/v1/rectifications/{rectification_id}/close",
                                 {"outcome": "failed", "summary": "拒不整改"})
    assert closed.status_code == 200, closed.text
    await page.reload()
    assert "拒不整改" in await page.locator("#ended").inner_text()
    assert "无委托方" in await page.locator("#numbers").inner_text()
    assert "整改失败" in await page.locator("#rectifications").inner_text()
    assert await _overview_count(page, staff, db, "#count-rectification-overdue") == before - 1


async def _overview_count(page: Any, staff: ConsoleLogin, db: asyncpg.Connection,
                          selector: str) -> int:
    await page.goto("/console")
    if "/sign-in" in page.url:
        await sign_in_console(page, staff, db)
    return int(await page.locator(selector).inner_text())
