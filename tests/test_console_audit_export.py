"""The console's audit trail exported as CSV for Excel: the page's filters apply, times are
Beijing's, formula-looking details stay text, only a signed-in operator gets it, and taking
the copy is itself kept in the trail."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.client import SignedClient
from tests.support.console import ConsoleLogin, https_client, make_console_operator, sign_in
from tests.support.factories import admit_member


@pytest.fixture(scope="module")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Any]]:
    async with https_client(app, follow_redirects=True) as test_client:
        yield test_client


@pytest.fixture(scope="module")
async def admin(db: asyncpg.Connection, data_dir: Path) -> ConsoleLogin:
    return await make_console_operator(db, data_dir, "吴管理")


@pytest.fixture(scope="module")
async def member_id(operator: SignedClient, db: asyncpg.Connection, admin: ConsoleLogin) -> str:
    """A member with two status changes by the admin on known days, one of them with a
    reason a spreadsheet would run as a formula."""
    member = await admit_member(operator, "carrier", status="pending")
    await db.execute(
        "INSERT INTO operator_audit (operator_id, action, target_type, target_id, detail, at)"
        " VALUES ($1, 'member_status', 'member', $2, $3, '2026-03-01T01:30:00Z'),"
        "        ($1, 'member_status', 'member', $2, $4, '2026-03-05T10:00:00+08:00')",
        admin.operator_id, member.id, {"from": "pending", "to": "active", "reason": "=1+2"},
        {"from": "active", "to": "suspended", "reason": "整改"})
    return member.id


async def signed_in(client: AsyncTestClient[Any], who: ConsoleLogin,
                    db: asyncpg.Connection) -> None:
    await db.execute("UPDATE operator_credentials SET totp_last_step = 0")
    client.follow_redirects = False
    assert (await sign_in(client, who)).status_code == 303


def rows_of(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


async def test_the_export_follows_the_filters_in_chinese_and_beijing_time(
    client: AsyncTestClient[Any], admin: ConsoleLogin, db: asyncpg.Connection, member_id: str,
) -> None:
    await signed_in(client, admin, db)
    answer = await client.get("/console/audit/export", params={
        "target": member_id, "action": "member_status", "operator": admin.operator_id,
        "since": "2026-03-01", "until": "2026-03-01", "lang": "zh"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"].startswith('attachment; filename="audit-')
    rows = rows_of(answer.content)
    assert list(rows[0]) == ["时间", "操作人", "操作人编号", "操作", "对象类型", "对象编号", "详情"]
    # One entry: the one of 1 March in Beijing (01:30 UTC is 09:30 there), not 5 March.
    assert len(rows) == 1
    row = rows[0]
    assert row["时间"] == "2026-03-01 09:30:00"
    assert (row["操作人"], row["操作人编号"]) == ("吴管理", admin.operator_id)
    assert (row["操作"], row["对象编号"]) == ("变更成员状态", member_id)
    # Codes by their labels (the "=" inside is harmless: the cell starts with a label).
    assert set(row["详情"].split("; ")) == {"原状态: 待审核", "新状态: 在册", "理由: =1+2"}
    # Without a day range both changes, newest first; in English, field names.
    both = rows_of((await client.get("/console/audit/export", params={
        "target": member_id, "lang": "en"})).content)
    assert list(both[0])[:4] == ["at", "operator_name", "operator_id", "action"]
    assert [r["at"] for r in both] == ["2026-03-05 10:00:00", "2026-03-01 09:30:00"]
    assert set(both[0]["detail"].split("; ")) == {"from: Active", "to: Suspended", "reason: 整改"}


async def test_a_formula_at_the_start_of_a_cell_is_neutralised(
    client: AsyncTestClient[Any], admin: ConsoleLogin, db: asyncpg.Connection,
) -> None:
    await db.execute(
        "INSERT INTO operator_audit (operator_id, action, target_type, target_id, detail)"
        " VALUES ($1, 'peer_resume', 'peer', '=HYPERLINK(\"x\")', '{}')", admin.operator_id)
    await signed_in(client, admin, db)
    rows = rows_of((await client.get("/console/audit/export",
                                     params={"action": "peer_resume"})).content)
    assert [r["对象编号"] for r in rows] == ["'=HYPERLINK(\"x\")"]


async def test_the_export_is_kept_in_the_trail_and_the_page_links_to_it(
    client: AsyncTestClient[Any], admin: ConsoleLogin, db: asyncpg.Connection, member_id: str,
) -> None:
    await signed_in(client, admin, db)
    page = await client.get("/console/audit", params={"target": member_id, "since": "2026-03-01",
                                                      "action": "bogus"})
    assert page.status_code == 200
    # The link carries the filters the page applied (a bad action is no filter).
    assert f'href="/console/audit/export?target={member_id}&amp;since=2026-03-01"' in page.text
    before = await db.fetchval("SELECT count(*) FROM operator_audit WHERE action = 'audit_export'")
    answer = await client.get(f"/console/audit/export?target={member_id}&since=2026-03-01")
    assert answer.status_code == 200
    kept = await db.fetch("SELECT operator_id, detail FROM operator_audit"
                          " WHERE action = 'audit_export' ORDER BY id")
    assert len(kept) == before + 1
    assert kept[-1]["operator_id"] == admin.operator_id
    assert kept[-1]["detail"] == {"target": member_id, "since": "2026-03-01"}
    # And it can be found by its own action, labelled in Chinese.
    again = rows_of((await client.get("/console/audit/export",
                                      params={"action": "audit_export"})).content)
    assert {r["操作"] for r in again} == {"导出操作记录"}


async def test_only_a_signed_in_operator_gets_the_export(
    client: AsyncTestClient[Any], admin: ConsoleLogin, db: asyncpg.Connection, member_id: str,
    operator: SignedClient,
) -> None:
    await signed_in(client, admin, db)
    client.follow_redirects = False
    assert (await client.post("/console/sign-out", data={})).status_code in (303, 403)
    client.cookies.clear()
    before = await db.fetchval("SELECT count(*) FROM operator_audit WHERE action = 'audit_export'")
    anonymous = await client.get("/console/audit/export", params={"target": member_id})
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/console/sign-in?next=/console/audit/export"
    assert member_id not in anonymous.text
    # A member's signed API token is no console session either.
    member = await admit_member(operator, "lender")
    as_member = await member.get("/console/audit/export")
    assert as_member.status_code == 303
    assert await db.fetchval(
        "SELECT count(*) FROM operator_audit WHERE action = 'audit_export'") == before


@pytest.mark.parametrize("params", [
    {"since": "not a day", "until": "2026-13-45"},
    {"since": "0000-01-01", "until": "99999-01-01"},
    {"operator": "x" * 10_000, "target": "\u0000\ud7ff", "action": "a" * 10_000},
    {"target": "%00'; DROP TABLE operator_audit; --"},
])
async def test_hostile_filters_are_no_filter_or_a_4xx_never_a_500(
    client: AsyncTestClient[Any], admin: ConsoleLogin, db: asyncpg.Connection,
    member_id: str, params: dict[str, str],
) -> None:
    await signed_in(client, admin, db)
    answer = await client.get("/console/audit/export", params=params)
    assert answer.status_code < 500, answer.text
    assert await db.fetchval("SELECT count(*) FROM operator_audit") > 0
