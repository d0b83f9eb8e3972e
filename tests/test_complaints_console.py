"""The console's complaint queue (late first) and figures per lender and agency, and a
member's page with its complaint handling and its webhook's delivery errors."""

from __future__ import annotations

import asyncio
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
from tests.support.console import make_console_operator, sign_in
from tests.support.receiver import receiving
from tests.support.whitelist import cast, traceable_number


@pytest.fixture(scope="module")
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(database_url=database_url, node_id=NODE_ID, data_dir=data_dir,
                    webhook_allow_http_loopback=True, webhook_poll_seconds=0.1,
                    webhook_backoff_seconds=60)


@pytest.fixture(scope="module")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app, base_url="https://testserver.local") as test_client:
        test_client.follow_redirects = False
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
