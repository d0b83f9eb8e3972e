"""The console's complaint queue (late first) and figures per lender and agency, a member's
page with its complaint handling and its webhook's delivery errors, and an entrustment's page
with its agency's complaint handling for that lender (Article 18's evaluation weighs it)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.settings import Settings
from tests.conftest import NODE_ID
from tests.support.client import SignedClient
from tests.support.console import https_client, make_console_operator, sign_in
from tests.support.factories import admit_member
from tests.support.receiver import receiving
from tests.support.whitelist import Cast, cast, entrust, traceable_number


@pytest.fixture(scope="module")
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(database_url=database_url, node_id=NODE_ID, data_dir=data_dir,
                    webhook_allow_http_loopback=True, webhook_poll_seconds=0.1,
                    webhook_backoff_seconds=60)


@pytest.fixture(scope="module")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Any]]:
    async with https_client(app) as test_client:
        yield test_client


async def test_late_complaints_first_and_figures_per_lender_and_agency(
    client: AsyncTestClient[Any], db: asyncpg.Connection, data_dir: Path,
    operator: SignedClient,
) -> None:
    c = await cast(operator)
    await traceable_number(c, "13812350001")
    now = datetime.now(UTC)
    for number, hours_ago, category in (("13812350001", 1, "time"),
                                        ("13812350001", 30, "abuse"),
                                        ("13799350001", 2, "impersonation")):
        answer = await operator.post("/v1/complaints", {
            "number": number, "received_at": (now - timedelta(hours=hours_ago)).isoformat(),
            "category": category, "summary": f"投诉{number}"})
        assert answer.status_code == 201, answer.text
    staff = await make_console_operator(db, data_dir)
    assert (await sign_in(client, staff)).status_code == 303

    html = (await client.get("/console/complaints")).text
    queue = html[html.index('id="complaints"'):html.index("</table>")]
    rows = queue.split("<tr")[2:]
    assert "逾期" in rows[0]  # the one received 30 h ago, past its 24 h
    assert "辱骂" in rows[0]
    assert all("按时" in row for row in rows[1:])
    lender = (await operator.get(f"/v1/members/{c.lender.id}")).json()["name"]
    principal_table = html[html.index('id="figures-principal"'):]
    assert lender in principal_table.split("</table>")[0]

    with receiving([500]) as receiver:
        put = await c.agency.request("PUT", f"/v1/members/{c.agency.id}/webhook",
                                     json={"url": receiver.url})
        assert put.status_code == 200, put.text
        await operator.post(f"/v1/members/{c.agency.id}/status",
                            {"status": "suspended", "reason": "整改"})
        await receiver.arrived(1)
        for _ in range(50):
            status = (await c.agency.get(f"/v1/members/{c.agency.id}/webhook")).json()
            if status["last_errors"]:
                break
            await asyncio.sleep(0.05)
    page = (await client.get(f"/console/members/{c.agency.id}")).text
    handling = page[page.index('id="member-complaints"'):].split("</table>")[0]
    assert "号码使用方" in handling
    webhook = page[page.index('id="member-webhook"'):].split("</section>")[0]
    assert receiver.url in webhook
    assert "answered 500" in webhook


def figures_on(html: str) -> dict[str, tuple[int, ...]]:
    """The entrustment page's complaint figures: category -> (total, open, late)."""
    table = html[html.index('id="complaint-figures"'):].split("</table>")[0]
    rows = re.findall(r'data-category="(\w+)">(.*?)</tr>', table, re.S)
    return {category: tuple(int(n) for n in re.findall(r"<td>(\d+)</td>", cells))
            for category, cells in rows}


async def test_the_entrustment_page_shows_its_agencys_complaint_handling_for_that_lender(
    client: AsyncTestClient[Any], db: asyncpg.Connection, data_dir: Path,
    operator: SignedClient,
) -> None:
    c = await cast(operator)
    made = await traceable_number(c, "13812360001")
    other_lender = await admit_member(operator, "lender")
    other = await traceable_number(Cast(c.carrier, c.agency, other_lender), "13812360002")
    quiet = await entrust(other_lender, await admit_member(operator, "collection_agency"))
    now = datetime.now(UTC)
    filed = {}
    for key, number, hours_ago, category in (
            ("time", "13812360001", 1, "time"), ("late", "13812360001", 30, "abuse"),
            ("answered", "13812360001", 2, "abuse"), ("other", "13812360002", 1, "frequency")):
        answer = await operator.post("/v1/complaints", {
            "number": number, "received_at": (now - timedelta(hours=hours_ago)).isoformat(),
            "category": category, "summary": "催收电话投诉"})
        assert answer.status_code == 201, answer.text
        filed[key] = answer.json()["id"]
    answered = await c.agency.post(f"/v1/complaints/{filed['answered']}/responses",
                                   {"outcome": "resolved", "summary": "已致歉并整改"})
    assert answered.status_code == 201, answered.text
    staff = await make_console_operator(db, data_dir)
    assert (await sign_in(client, staff)).status_code == 303

    page = await client.get(f"/console/entrustments/{made['entrustment']['id']}")
    assert page.status_code == 200
    section = page.text[page.text.index('id="entrustment-complaints"'):]
    assert "辱骂" in section.split("</table>")[0]
    # Only what reached this lender: the other lender's complaint about the same agency
    # is its own (and the figures by category add up to the total row).
    assert figures_on(page.text) == {"time": (1, 1, 0), "abuse": (2, 1, 1), "all": (3, 2, 1)}
    theirs = await client.get(f"/console/entrustments/{other['entrustment']['id']}")
    assert figures_on(theirs.text) == {"frequency": (1, 1, 0), "all": (1, 1, 0)}
    empty = (await client.get(f"/console/entrustments/{quiet['id']}")).text
    assert 'class="empty" id="complaint-figures"' in empty
