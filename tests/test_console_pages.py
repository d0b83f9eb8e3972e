"""Console pages as staff read them: Chinese pages say nothing in English (every console and
public page, with records on it, scanned for English words outside codes, ids and the
language switch), and the audit trail filters by operator, action, record and day."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.client import SignedClient
from tests.support.console import ConsoleLogin, https_client, make_console_operator, sign_in
from tests.support.factories import admit_member
from tests.support.people import filing_body, make_prc_id
from tests.support.whitelist import Cast, traceable_number

# Words that are the same in a Chinese page: names of standards, formats and products.
ALLOWED = frozenset({
    "QQ", "TLP", "GREEN", "AMBER", "RED", "TOTP", "JWK", "PEM", "USCC", "Ed25519", "registry",
    "keygen", "operator", "add", "English", "CSV", "STIX", "URL", "App", "WeChat", "kid",
})
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# Reasons the test's own set-up writes (tests/support/factories.py).
SET_UP = ("test set-up",)
_SHOWN_ATTRIBUTES = ("placeholder", "aria-label", "title", "alt", "data-label", "value")


class VisibleText(HTMLParser):
    """Text a person reads: not scripts, styles, codes (.mono) or parts marked lang=en."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        skip = (tag in ("script", "style") or "mono" in (named.get("class") or "").split()
                or named.get("lang") == "en")
        if self._skipping or skip:
            if tag not in ("input", "br", "meta", "link", "img"):
                self._skipping.append(tag)
            return
        for attribute in _SHOWN_ATTRIBUTES:
            text = named.get(attribute)
            if attribute == "value" and named.get("type") not in ("submit", "button", "reset"):
                continue  # a field's value is data, a button's is its label
            if text:
                self.found.append(text)

    def handle_endtag(self, tag: str) -> None:
        if self._skipping and self._skipping[-1] == tag:
            self._skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.found.append(data.strip())


def english_in(html: str, data: tuple[str, ...] = ()) -> list[str]:
    """English words a person reads, leaving out `data` (records' own text) and emails."""
    parser = VisibleText()
    parser.feed(html)
    words = set()
    for text in parser.found:
        for value in data:
            text = text.replace(value, " ")
        words.update(_WORD.findall(_EMAIL.sub(" ", text)))
    return sorted(w for w in words if w not in ALLOWED)


@pytest.fixture(scope="module")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Any]]:
    async with https_client(app, follow_redirects=True) as test_client:
        yield test_client


@pytest.fixture(scope="module")
async def admin(db: asyncpg.Connection, data_dir: Path) -> ConsoleLogin:
    return await make_console_operator(db, data_dir, "周管理")


async def test_chinese_pages_have_no_english_words(
    client: AsyncTestClient[Any], admin: ConsoleLogin, operator: SignedClient,
) -> None:
    lender = await admit_member(operator, "lender", name="测试小额贷款公司")
    agency = await admit_member(operator, "collection_agency", name="测试催收服务公司")
    carrier = await admit_member(operator, "carrier", name="测试通信公司")
    filed = await agency.post("/v1/collector-filings", filing_body(make_prc_id()))
    assert filed.status_code == 201, filed.text
    # An entrustment, a filed number and a complaint about it, for the pages that list them.
    traced = await traceable_number(Cast(carrier, agency, lender), "13812345670")
    complained = await carrier.post("/v1/complaints", {
        "number": "13812345670", "received_at": "2026-11-02T10:30:00+08:00",
        "category": "abuse", "summary": "催收员辱骂投诉人"})
    assert complained.status_code == 201, complained.text
    entrustment = traced["entrustment"]["id"]
    await operator.post(f"/v1/members/{agency.id}/status",
                        {"status": "suspended", "reason": "投诉过多"})
    reported = await lender.post("/v1/risk-events", {
        "category": "violent_collection", "discovered_at": "2026-11-01T09:00:00+08:00",
        "summary": "催收员威胁债务人"})
    assert reported.status_code == 201, reported.text
    client.follow_redirects = False
    assert (await sign_in(client, admin)).status_code == 303
    client.follow_redirects = True
    pages = ["/console", "/console/members", f"/console/members/{agency.id}",
             f"/console/members/{lender.id}", "/console/members/new", "/console/staff",
             "/console/audit", "/console/filings", f"/console/filings/{filed.json()['id']}",
             "/console/risk-events", "/console/blackmarket", "/console/members/nothing-here",
             f"/console/members/{carrier.id}", "/console/complaints", "/console/entrustments",
             f"/console/entrustments/{entrustment}", "/console/ledger",
             f"/console/ledger/{lender.id}", "/", "/check", "/check?number=13812345670",
             "/check?number=13900000000",
             f"/public/lenders/{lender.id}", "/public/lenders"]
    leaks: dict[str, list[str]] = {}
    for path in pages:
        answer = await client.get(path, params={"lang": "zh"})
        assert answer.status_code == (404 if "nothing-here" in path else 200), path
        found = english_in(answer.text, SET_UP)
        if found:
            leaks[path] = found
    invalid = await client.post("/console/members/new", params={"lang": "zh"}, data={
        "csrf": re.findall(r'name="csrf" value="([^"]+)"',
                           (await client.get("/console/members/new")).text)[0],
        "kind": "lender", "name": "校验银行", "uscc": "91310000MA1FL1234X",
        "key": "not a key"})
    assert invalid.status_code == 422
    if found := english_in(invalid.text, SET_UP):
        leaks["POST /console/members/new"] = found
    assert leaks == {}, "\n".join(f"{p}: {w}" for p, w in leaks.items())


def test_the_scanner_finds_english_where_there_is_some() -> None:
    html = ('<p>成员 <span class="mono">mem_1a2b</span> application recorded</p>'
            '<a lang="en" href="/lang?to=en">English</a><input placeholder="Search">'
            '<p>ops@example.cn test set-up</p><input type="submit" value="Send">'
            '<input type="radio" value="publish"><script>var ok = "fine";</script>')
    assert english_in(html, SET_UP) == ["Search", "Send", "application", "recorded"]


async def test_the_audit_trail_filters_by_operator_action_record_and_day(
    client: AsyncTestClient[Any], admin: ConsoleLogin, operator: SignedClient,
    db: asyncpg.Connection,
) -> None:
    client.follow_redirects = False
    await db.execute("UPDATE operator_credentials SET totp_last_step = 0")
    assert (await sign_in(client, admin)).status_code == 303
    client.follow_redirects = True
    member = await admit_member(operator, "carrier", status="pending")
    await db.execute(
        "INSERT INTO operator_audit (operator_id, action, target_type, target_id, detail, at)"
        " VALUES ($1, 'member_status', 'member', $2, '{\"to\": \"active\"}',"
        " '2026-03-01T10:00:00+08:00')", admin.operator_id, member.id)

    async def rows(**params: str) -> list[str]:
        page = await client.get("/console/audit", params=params)
        assert page.status_code == 200
        return re.findall(r'<td data-label="操作">([^<]+)</td>', page.text)

    assert set(await rows(action="member_status")) == {"变更成员状态"}
    assert set(await rows(operator=admin.operator_id)) >= {"登录", "变更成员状态"}
    assert await rows(target=member.id) == ["变更成员状态"]
    assert await rows(target=member.id, since="2026-03-02") == []
    assert await rows(target=member.id, since="2026-03-01", until="2026-03-01") == [
        "变更成员状态"]
    # Malformed filters are no filters, not errors.
    assert await rows(target=member.id, since="yesterday", action="drop table") == [
        "变更成员状态"]
