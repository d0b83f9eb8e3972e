"""The operator console in a real browser: sign-in with TOTP, CSRF, member actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.browser.conftest import screenshot
from tests.browser.conftest import sign_in_console as _sign_in
from tests.support.client import SignedClient
from tests.support.console import ConsoleLogin, make_console_operator
from tests.support.factories import admit_member
from tests.support.people import filing_body, make_prc_id
from tests.support.whitelist import cast, traceable_number

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
async def staff(db: asyncpg.Connection, data_dir: Path) -> ConsoleLogin:
    return await make_console_operator(db, data_dir, "王审核")


async def test_sign_in_with_password_and_totp(
    page: Any, staff: ConsoleLogin, db: asyncpg.Connection,
) -> None:
    await page.goto("/console")
    assert page.url.endswith("/console/sign-in?next=/console")
    await screenshot(page, "sign-in")
    await _sign_in(page, staff, db)
    await page.get_by_role("heading", name="概览", exact=True).wait_for()
    assert staff.name in await page.locator("header").inner_text()
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies["registry_console"]
    assert session["httpOnly"]
    assert session["secure"]  # accepted over http on loopback: a secure context to Chromium
    assert session["sameSite"] == "Strict"


async def test_a_wrong_totp_code_is_refused(
    page: Any, staff: ConsoleLogin, db: asyncpg.Connection,
) -> None:
    wrong = f"{(int(staff.code()) + 1) % 1_000_000:06d}"
    await _sign_in(page, staff, db, code=wrong)
    await page.get_by_role("alert").wait_for()
    assert "登录失败" in await page.get_by_role("alert").inner_text()
    assert "/console/sign-in" in page.url
    await screenshot(page, "sign-in-refused")
    await db.execute("DELETE FROM sign_in_failures")


async def test_admit_and_suspend_a_member_with_reasons(
    page: Any, staff: ConsoleLogin, db: asyncpg.Connection, operator: SignedClient,
) -> None:
    member = await admit_member(operator, "collection_agency", status="pending")
    await _sign_in(page, staff, db)
    await page.goto("/console/members?status=pending")
    await screenshot(page, "members")
    await page.locator(f'a[href="/console/members/{member.id}"]').click()
    await page.get_by_label("准入（在册）").check()
    await page.get_by_label("原因（必填）").fill("材料齐全，准予登记")
    await page.get_by_role("button", name="确认变更").click()
    await page.get_by_role("status").wait_for()
    assert await page.locator("#member-status").inner_text() == "在册"
    await page.get_by_label("暂停").check()
    await page.get_by_label("原因（必填）").fill("投诉核查中")
    await page.get_by_role("button", name="确认变更").click()
    await page.get_by_role("status").wait_for()
    assert await page.locator("#member-status").inner_text() == "暂停"
    history = await page.locator("#history").inner_text()
    assert "材料齐全，准予登记" in history
    assert "投诉核查中" in history
    assert staff.operator_id in history
    await screenshot(page, "member")
    await page.goto("/lang?to=en&next=/console/members/" + member.id)
    assert await page.locator("#member-status").inner_text() == "Suspended"
    await screenshot(page, "member-en")


async def test_a_form_posted_without_its_csrf_token_is_refused(
    page: Any, staff: ConsoleLogin, db: asyncpg.Connection, operator: SignedClient,
) -> None:
    member = await admit_member(operator, "lender", status="pending")
    await _sign_in(page, staff, db)
    await page.goto(f"/console/members/{member.id}")
    # What a forged cross-site form would send: the same fields, no synchronizer token.
    await page.locator('input[name="csrf"]').evaluate_all("els => els.forEach(e => e.remove())")
    await page.get_by_label("准入（在册）").check()
    await page.get_by_label("原因（必填）").fill("伪造的请求")
    async with page.expect_response(f"**/console/members/{member.id}/status") as posted:
        await page.get_by_role("button", name="确认变更").click()
    assert (await posted.value).status == 403
    status = (await operator.get(f"/v1/members/{member.id}")).json()["status"]
    assert status == "pending"


async def test_publish_a_collector_filing(
    page: Any, staff: ConsoleLogin, db: asyncpg.Connection, operator: SignedClient,
) -> None:
    agency = await admit_member(operator, "collection_agency")
    filed = await agency.post("/v1/collector-filings", filing_body(make_prc_id()))
    filing = filed.json()
    await _sign_in(page, staff, db)
    await page.get_by_role("link", name="催收员名单审核").click()
    await screenshot(page, "filings-queue")
    await page.locator(f'a[href="/console/filings/{filing["id"]}"]').click()
    await page.get_by_label("发布（列入名单）").check()
    await page.get_by_label("原因（必填）").fill("证据充分，予以发布")
    await page.get_by_role("button", name="提交审核结果").click()
    await page.get_by_role("status").wait_for()
    assert await page.locator("#filing-status").inner_text() == "已发布"
    assert "证据充分，予以发布" in await page.locator("#history").inner_text()
    await screenshot(page, "filing-published")
    stored = await operator.get(f"/v1/collector-filings/{filing['id']}")
    assert stored.json()["status"] == "published"


async def test_late_risk_events_are_highlighted_and_groups_sorted_by_tlp(
    page: Any, staff: ConsoleLogin, db: asyncpg.Connection, operator: SignedClient,
) -> None:
    reporter = await admit_member(operator, "collection_agency")
    now = datetime.now(UTC)
    for summary, hours in (("按时报告：催收员与债务人冲突", 2), ("逾期报告：客户信息外泄", 70)):
        sent = await reporter.post("/v1/risk-events", {
            "category": "personal_data_breach" if hours > 48 else "violent_collection",
            "discovered_at": (now - timedelta(hours=hours)).isoformat(), "summary": summary})
        assert sent.status_code == 201, sent.text
    grouped = await reporter.post("/v1/blackmarket/groups", {
        "name": "某债务优化工作室", "category": "fake_debt_relief", "tlp": "green",
        "indicators": [{"type": "wechat", "value": "debt_relief_2026"}]})
    assert grouped.status_code == 201, grouped.text
    await _sign_in(page, staff, db)
    await page.get_by_role("link", name="风险事件", exact=True).click()
    first = page.locator("#risk-events tbody tr").first
    assert await first.get_attribute("class") == "late"
    assert "逾期报告" in await first.inner_text()
    await screenshot(page, "risk-events")
    await page.get_by_role("link", name="黑产情报", exact=True).click()
    green = page.locator("section[aria-labelledby=h-tlp-green]")
    assert "某债务优化工作室" in await green.inner_text()
    await screenshot(page, "blackmarket")


async def test_member_page_shows_entrustments_and_resources(
    page: Any, staff: ConsoleLogin, db: asyncpg.Connection, operator: SignedClient,
) -> None:
    c = await cast(operator)
    await traceable_number(c, "+8613800138021")
    await _sign_in(page, staff, db)
    await page.goto(f"/console/members/{c.agency.id}")
    resources = await page.locator("section[aria-labelledby=h-resources]").inner_text()
    assert "+8613800138021" in resources
    assert "可追溯" in resources
    assert await page.locator("section[aria-labelledby=h-entrustments] tbody tr").count() == 1
    await screenshot(page, "member-with-resources")


async def test_overview_shows_counts_and_a_chart(
    page: Any, staff: ConsoleLogin, db: asyncpg.Connection, operator: SignedClient,
) -> None:
    for kind in ("lender", "carrier", "collection_agency"):
        await admit_member(operator, kind)
    await _sign_in(page, staff, db)
    await page.get_by_role("img", name="各类成员的名单状态").wait_for()
    counts = await page.locator("table.counts").first.inner_text()
    assert "电信运营商" in counts
    await screenshot(page, "overview")
    await page.goto("/console/audit")
    assert "登录" in await page.locator("main").inner_text()  # this very sign-in
    await screenshot(page, "audit")
