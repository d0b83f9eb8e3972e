"""The console over HTTP: sign-in with password and TOTP, sessions, CSRF, member actions, audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.client import SignedClient
from tests.support.console import (
    ConsoleLogin,
    csrf_of,
    https_client,
    make_console_operator,
    sign_in,
)
from tests.support.factories import admit_member


@pytest.fixture(scope="module")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Any]]:
    async with https_client(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
async def staff(db: asyncpg.Connection, data_dir: Path) -> ConsoleLogin:
    return await make_console_operator(db, data_dir)


async def _forget_used_codes(db: asyncpg.Connection) -> None:
    """A TOTP code is good once; tests that sign in again within one 30 s step reset that."""
    await db.execute("UPDATE operator_credentials SET totp_last_step = 0")


@pytest.fixture
async def signed_in(
    client: AsyncTestClient[Any], staff: ConsoleLogin, db: asyncpg.Connection,
) -> AsyncIterator[str]:
    """Signs in for one test and returns the session's CSRF token."""
    client.cookies.clear()
    await _forget_used_codes(db)
    await db.execute("DELETE FROM console_sessions")
    answer = await sign_in(client, staff)
    assert answer.status_code == 303, answer.text
    page = await client.get("/console")
    yield csrf_of(page.text)
    client.cookies.clear()


async def test_pages_need_a_session(client: AsyncTestClient[Any]) -> None:
    client.cookies.clear()
    answer = await client.get("/console/members")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in?next=/console/members"


async def test_sign_in_sets_a_strict_http_only_secure_cookie(
    client: AsyncTestClient[Any], staff: ConsoleLogin, db: asyncpg.Connection,
) -> None:
    client.cookies.clear()
    await _forget_used_codes(db)
    await db.execute("DELETE FROM console_sessions")
    answer = await sign_in(client, staff)
    assert answer.status_code == 303
    cookie = next(h for h in answer.headers.get_list("set-cookie")
                  if h.startswith("registry_console="))
    for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/console"):
        assert attribute.lower() in cookie.lower()
    overview = await client.get("/console")
    assert overview.status_code == 200
    assert staff.name in overview.text
    assert overview.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in overview.headers["content-security-policy"]
    stored = await db.fetchval("SELECT id_hash FROM console_sessions LIMIT 1")
    assert stored not in cookie  # only the hash of the session id is kept


async def test_a_code_is_good_once(
    client: AsyncTestClient[Any], staff: ConsoleLogin, db: asyncpg.Connection,
) -> None:
    client.cookies.clear()
    await _forget_used_codes(db)
    code = staff.code()
    assert (await sign_in(client, staff, code)).status_code == 303
    client.cookies.clear()
    again = await sign_in(client, staff, code)
    assert again.status_code == 401
    assert "registry_console" not in again.headers.get("set-cookie", "")


async def test_a_wrong_code_is_refused_and_audited(
    client: AsyncTestClient[Any], staff: ConsoleLogin, db: asyncpg.Connection,
) -> None:
    client.cookies.clear()
    await _forget_used_codes(db)
    wrong = f"{(int(staff.code()) + 1) % 1_000_000:06d}"
    answer = await sign_in(client, staff, wrong)
    assert answer.status_code == 401
    assert "登录失败" in answer.text
    assert (await client.get("/console")).status_code == 303
    why = await db.fetchval(
        "SELECT detail->>'why' FROM operator_audit WHERE action = 'sign_in_failed'"
        " AND operator_id = $1 ORDER BY id DESC LIMIT 1", staff.operator_id)
    assert why == "wrong code"
    await db.execute("DELETE FROM sign_in_failures")


async def test_a_sign_in_without_its_csrf_token_is_refused(
    client: AsyncTestClient[Any], staff: ConsoleLogin,
) -> None:
    client.cookies.clear()
    answer = await client.post("/console/sign-in", data={
        "login": staff.login, "password": staff.password, "code": staff.code()})
    assert answer.status_code == 403


async def test_repeated_failures_lock_the_login(
    client: AsyncTestClient[Any], db: asyncpg.Connection, data_dir: Path,
) -> None:
    victim = await make_console_operator(db, data_dir, "被锁定")
    client.cookies.clear()
    for _ in range(5):
        form = await client.get("/console/sign-in")
        await client.post("/console/sign-in", data={
            "csrf": csrf_of(form.text), "login": victim.login, "password": "wrong password!!",
            "code": victim.code()})
    answer = await sign_in(client, victim)  # right password and code, but locked
    assert answer.status_code == 401
    await db.execute("DELETE FROM rate_counters")


async def test_admit_and_suspend_with_a_reason_show_in_the_history(
    client: AsyncTestClient[Any], signed_in: str, operator: SignedClient,
    staff: ConsoleLogin, db: asyncpg.Connection,
) -> None:
    member = await admit_member(operator, "collection_agency", status="pending")
    page = f"/console/members/{member.id}"
    admitted = await client.post(f"{page}/status", data={
        "csrf": signed_in, "status": "active", "reason": "材料齐全，准予登记"})
    assert admitted.status_code == 303
    shown = await client.get(admitted.headers["location"])
    assert 'id="member-status" class="badge active"' in shown.text
    assert "材料齐全，准予登记" in shown.text
    suspended = await client.post(f"{page}/status", data={
        "csrf": signed_in, "status": "suspended", "reason": "投诉核查中"})
    assert suspended.status_code == 303
    history = (await operator.get(f"/v1/members/{member.id}")).json()["history"]
    assert [(e["status"], e["reason"], e["by"]) for e in history[-2:]] == [
        ("active", "材料齐全，准予登记", staff.operator_id),
        ("suspended", "投诉核查中", staff.operator_id)]
    audited = await db.fetch(
        "SELECT operator_id, detail FROM operator_audit WHERE target_id = $1 ORDER BY id",
        member.id)
    assert [(r["operator_id"], r["detail"]["to"]) for r in audited] == [
        (staff.operator_id, "active"), (staff.operator_id, "suspended")]


async def test_a_status_change_needs_a_reason_and_an_allowed_transition(
    client: AsyncTestClient[Any], signed_in: str, operator: SignedClient,
) -> None:
    member = await admit_member(operator, "lender", status="pending")
    page = f"/console/members/{member.id}"
    blank = await client.post(f"{page}/status", data={
        "csrf": signed_in, "status": "active", "reason": "   "})
    assert blank.status_code == 422
    assert 'class="badge pending"' in blank.text
    wrong = await client.post(f"{page}/status", data={
        "csrf": signed_in, "status": "suspended", "reason": "不应允许"})
    assert wrong.status_code == 409
    bogus = await client.post(f"{page}/status", data={
        "csrf": signed_in, "status": "promoted", "reason": "不存在的状态"})
    assert bogus.status_code == 409
    missing = await client.get("/console/members/m_nobody")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]


async def test_a_form_without_its_csrf_token_changes_nothing(
    client: AsyncTestClient[Any], signed_in: str, operator: SignedClient,
) -> None:
    member = await admit_member(operator, "carrier", status="pending")
    for token in (None, "forged"):
        data = {"status": "active", "reason": "跨站伪造"}
        if token:
            data["csrf"] = token
        refused = await client.post(f"/console/members/{member.id}/status", data=data)
        assert refused.status_code == 403
    assert (await operator.get(f"/v1/members/{member.id}")).json()["status"] == "pending"


async def test_members_list_filters_and_searches(
    client: AsyncTestClient[Any], signed_in: str, operator: SignedClient,
) -> None:
    agency = await admit_member(operator, "collection_agency")
    name = (await operator.get(f"/v1/members/{agency.id}")).json()["name"]
    found = await client.get("/console/members", params={"q": name})
    assert agency.id in found.text
    other_kind = await client.get("/console/members",
                                  params={"q": name, "kind": "lender"})
    assert agency.id not in other_kind.text
    overview = await client.get("/console")
    assert "<svg" in overview.text


async def test_an_idle_session_ends(
    client: AsyncTestClient[Any], signed_in: str, db: asyncpg.Connection,
) -> None:
    await db.execute("UPDATE console_sessions SET last_seen_at = now() - interval '16 minutes'")
    assert (await client.get("/console")).status_code == 303
    assert await db.fetchval("SELECT count(*) FROM console_sessions") == 0


async def test_a_session_ends_at_its_absolute_lifetime_however_busy(
    client: AsyncTestClient[Any], signed_in: str, db: asyncpg.Connection,
) -> None:
    await db.execute("UPDATE console_sessions SET expires_at = now() - interval '1 second'")
    assert (await client.get("/console")).status_code == 303


async def test_sign_out_ends_the_session(
    client: AsyncTestClient[Any], signed_in: str, db: asyncpg.Connection,
) -> None:
    answer = await client.post("/console/sign-out", data={"csrf": signed_in})
    assert answer.status_code == 303
    assert await db.fetchval("SELECT count(*) FROM console_sessions") == 0
    assert (await client.get("/console")).status_code == 303
