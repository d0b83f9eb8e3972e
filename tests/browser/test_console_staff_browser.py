"""Staff in a real browser: an administrator adds a member (the USCC checked as typed, the
key uploaded), manages staff; a reviewer is refused a member status change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from registry.console import staff as staff_store
from registry_client import Signer
from tests.browser.conftest import LiveServer, screenshot
from tests.support.client import SignedClient
from tests.support.console import ConsoleLogin, make_console_operator
from tests.support.factories import admit_member, make_uscc

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
async def admin(db: asyncpg.Connection, data_dir: Path) -> ConsoleLogin:
    return await make_console_operator(db, data_dir, "李管理")


@pytest.fixture(scope="module")
async def reviewer(db: asyncpg.Connection, data_dir: Path, admin: ConsoleLogin) -> ConsoleLogin:
    # After the administrator: the node refuses to leave itself without one, and a test
    # that runs alone (or first on its worker) would otherwise ask exactly that.
    made = await make_console_operator(db, data_dir, "赵审核")
    await staff_store.set_role(db, made.operator_id, "reviewer")
    return made


async def _sign_in(tab: Any, who: ConsoleLogin, db: asyncpg.Connection) -> None:
    await db.execute("UPDATE operator_credentials SET totp_last_step = 0")
    await tab.goto("/console")
    await tab.get_by_label("账号").fill(who.login)
    await tab.get_by_label("密码").fill(who.password)
    await tab.get_by_label("动态验证码（6位）").fill(who.code())
    await tab.get_by_role("button", name="登录").click()
    await tab.get_by_role("heading", name="概览", exact=True).wait_for()


async def test_an_administrator_adds_a_member_with_an_uploaded_key(
    page: Any, admin: ConsoleLogin, db: asyncpg.Connection, tmp_path: Path,
) -> None:
    await _sign_in(page, admin, db)
    await page.goto("/console/members")
    await page.get_by_role("link", name="新增成员").click()
    await page.get_by_label("类型").select_option("collection_agency")
    await page.get_by_label("机构名称").fill("浏览器测试催收有限公司")
    uscc = make_uscc()
    wrong = uscc[:17] + ("0" if uscc[17] != "0" else "1")
    await page.locator("#uscc").fill(wrong)
    check = page.locator("#uscc-check")
    assert await check.inner_text() == f"校验位不符，应为 {uscc[17]}"
    await page.locator("#uscc").fill(uscc[:10])
    assert await check.inner_text() == "应为 18 位，现为 10 位"
    await page.locator("#uscc").fill(uscc)
    assert await check.inner_text() == "校验位正确"
    await page.get_by_label("投诉电话").fill("400-800-0000")
    await page.get_by_label("投诉处理流程").fill("收到投诉后三个工作日内答复")
    signer = Signer.new_ed25519("-", "node-test")
    key_file = tmp_path / "member.jwk"
    key_file.write_text(json.dumps(signer.public_jwk))
    await page.get_by_label("或上传公钥文件").set_input_files(str(key_file))
    await screenshot(page, "member-new")
    await page.get_by_role("button", name="新增成员（待审核）").click()
    await page.get_by_role("status").wait_for()
    assert "成员已新增" in await page.get_by_role("status").inner_text()
    assert await page.locator("#member-status").inner_text() == "待审核"
    row = await db.fetchrow(
        "SELECT m.id, m.kind, k.kid FROM members m JOIN principal_keys k ON k.principal_id = m.id"
        " WHERE m.uscc = $1", uscc)
    assert row is not None
    assert (row["kind"], row["kid"]) == ("collection_agency", signer.kid)
    assert page.url.endswith(f"/console/members/{row['id']}?added=1")
    assert await db.fetchval("SELECT count(*) FROM operator_audit WHERE action = 'member_add'"
                             " AND target_id = $1", row["id"]) == 1


async def test_a_bad_uscc_and_a_private_key_are_refused_in_chinese(
    page: Any, admin: ConsoleLogin, db: asyncpg.Connection,
) -> None:
    await _sign_in(page, admin, db)
    await page.goto("/console/members/new")
    await page.get_by_label("类型").select_option("lender")
    await page.get_by_label("机构名称").fill("校验测试银行")
    uscc = make_uscc()
    await page.locator("#uscc").fill(uscc[:17] + ("0" if uscc[17] != "0" else "1"))
    await page.get_by_role("button", name="新增成员（待审核）").click()
    errors = page.locator("#form-errors")
    await errors.wait_for()
    assert "统一社会信用代码：校验位不符" in await errors.inner_text()
    # What was typed stays in the form.
    assert await page.get_by_label("机构名称").input_value() == "校验测试银行"
    await page.locator("#uscc").fill(uscc)
    await page.get_by_label("粘贴公钥（registry keygen 输出的 JWK，或 PEM 公钥）").fill(
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----")
    await page.get_by_role("button", name="新增成员（待审核）").click()
    await errors.wait_for()
    assert "签名公钥：这是私钥，请只提交公钥" in await errors.inner_text()
    assert await db.fetchval("SELECT count(*) FROM members WHERE uscc = $1", uscc) == 0


async def test_a_reviewer_is_refused_a_status_change_and_staff_pages(
    page: Any, reviewer: ConsoleLogin, db: asyncpg.Connection, operator: SignedClient,
) -> None:
    member = await admit_member(operator, "collection_agency", status="pending")
    await _sign_in(page, reviewer, db)
    assert await page.get_by_role("link", name="工作人员").count() == 0
    await page.goto(f"/console/members/{member.id}")
    await page.locator("#reviewer-note").wait_for()
    assert await page.get_by_role("button", name="确认变更").count() == 0
    # A forged form (with the reviewer's own CSRF token) is refused too.
    status = await page.evaluate("""async (id) => {
        const csrf = document.querySelector('input[name=csrf]').value;
        const body = new URLSearchParams({csrf, status: 'active', reason: '越权尝试'});
        const answer = await fetch(`/console/members/${id}/status`, {method: 'POST', body});
        return answer.status;
    }""", member.id)
    assert status == 403
    assert await db.fetchval("SELECT status FROM members WHERE id = $1", member.id) == "pending"
    answer = await page.goto("/console/staff")
    assert answer.status == 403
    assert "没有权限执行此操作" in await page.get_by_role("alert").inner_text()
    await screenshot(page, "reviewer-refused")


async def test_an_administrator_manages_staff(
    page: Any, admin: ConsoleLogin, reviewer: ConsoleLogin, db: asyncpg.Connection,
) -> None:
    await _sign_in(page, admin, db)
    await page.get_by_role("link", name="工作人员").click()
    row = page.locator(f'tr[data-operator="{reviewer.operator_id}"]')
    await row.get_by_role("button", name="重置密码").click()
    new_password = await page.locator("#new-password").inner_text()
    assert len(new_password) == 16
    await screenshot(page, "staff")
    await row.get_by_role("button", name="重置动态口令").click()
    assert len(await page.locator("#new-secret").inner_text()) >= 32
    await row.get_by_role("button", name="停用").click()
    await page.get_by_role("status").wait_for()
    assert "已停用" in await row.inner_text()
    assert await db.fetchval("SELECT count(*) FROM principal_keys WHERE principal_id = $1"
                             " AND revoked_at IS NULL", reviewer.operator_id) == 0
    await row.get_by_role("button", name="启用").click()
    assert "启用" in await row.inner_text()
    # The last administrator keeps its role.
    mine = page.locator(f'tr[data-operator="{admin.operator_id}"]')
    others = await db.fetch("SELECT id FROM operators WHERE role = 'administrator'"
                            " AND disabled_at IS NULL AND id <> $1", admin.operator_id)
    await db.execute("UPDATE operators SET role = 'reviewer' WHERE id = ANY($1::text[])",
                     [r["id"] for r in others])
    try:
        await mine.get_by_label("角色").select_option("reviewer")
        await mine.get_by_role("button", name="保存").click()
        assert "至少要保留一名启用的管理员" in await page.get_by_role("alert").inner_text()
    finally:
        await db.execute("UPDATE operators SET role = 'administrator' WHERE id = ANY($1::text[])",
                         [r["id"] for r in others])
    actions = {r["action"] for r in await db.fetch(
        "SELECT action FROM operator_audit WHERE target_id = $1", reviewer.operator_id)}
    assert {"staff_password", "staff_totp", "staff_disable", "staff_enable"} <= actions


async def test_on_a_phone_the_member_table_collapses_into_cards(
    browser: Any, live_server: LiveServer, admin: ConsoleLogin, db: asyncpg.Connection,
    operator: SignedClient,
) -> None:
    await admit_member(operator, "carrier")
    context = await browser.new_context(base_url=live_server.url, locale="zh-CN",
                                        viewport={"width": 390, "height": 844}, is_mobile=True)
    context.set_default_timeout(20_000)
    phone = await context.new_page()
    try:
        await _sign_in(phone, admin, db)
        await phone.goto("/console/members")
        cell = phone.locator("#members tbody td").nth(2)
        assert await cell.evaluate("td => getComputedStyle(td).display") == "block"
        label = await cell.evaluate("td => getComputedStyle(td, '::before').content")
        assert label == '"统一社会信用代码"'
        width = await phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing wider than the screen
        await screenshot(phone, "members-phone")
    finally:
        await context.close()
