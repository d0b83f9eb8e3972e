"""Console review queues over HTTP: publishing, rejecting and revoking filings; late risk events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
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
from tests.support.people import filing_body, make_prc_id


@pytest.fixture(scope="module")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Any]]:
    async with https_client(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
async def csrf(  # signs the module's client in; xdist may run any test of it first
    client: AsyncTestClient[Any], db: asyncpg.Connection, data_dir: Path,
) -> str:
    staff: ConsoleLogin = await make_console_operator(db, data_dir)
    assert (await sign_in(client, staff)).status_code == 303
    return csrf_of((await client.get("/console")).text)


async def test_publish_a_filing_then_revoke_it(
    client: AsyncTestClient[Any], csrf: str, operator: SignedClient, db: asyncpg.Connection,
) -> None:
    agency = await admit_member(operator, "collection_agency")
    filing = (await agency.post("/v1/collector-filings", filing_body(make_prc_id()))).json()
    queue = await client.get("/console/filings")
    assert filing["id"] in queue.text
    assert filing["subject"]["id_masked"] in queue.text
    page = f"/console/filings/{filing['id']}"
    blank = await client.post(f"{page}/review", data={"csrf": csrf, "decision": "publish",
                                                      "reason": " "})
    assert blank.status_code == 422
    published = await client.post(f"{page}/review", data={
        "csrf": csrf, "decision": "publish", "reason": "证据充分"})
    assert published.status_code == 303
    assert 'class="badge published"' in (await client.get(page)).text
    assert (await operator.get(f"/v1/collector-filings/{filing['id']}")).json()[
        "status"] == "published"
    twice = await client.post(f"{page}/review", data={
        "csrf": csrf, "decision": "reject", "reason": "再次审核"})
    assert twice.status_code == 409
    revoked = await client.post(f"{page}/revoke", data={"csrf": csrf, "reason": "申诉成立"})
    assert revoked.status_code == 303
    actions = [r["action"] for r in await db.fetch(
        "SELECT action FROM operator_audit WHERE target_id = $1 ORDER BY id", filing["id"])]
    assert actions == ["filing_publish", "filing_revoke"]


async def test_late_risk_events_come_first_and_are_marked(
    client: AsyncTestClient[Any], csrf: str, operator: SignedClient,
) -> None:
    reporter = await admit_member(operator, "lender")
    now = datetime.now(UTC)
    for summary, ago in (("按时报告的事件", timedelta(hours=1)),
                         ("逾期报告的事件", timedelta(hours=60))):
        answer = await reporter.post("/v1/risk-events", {
            "category": "violent_collection", "discovered_at": (now - ago).isoformat(),
            "summary": summary})
        assert answer.status_code == 201, answer.text
    page = (await client.get("/console/risk-events")).text
    assert page.index("逾期报告的事件") < page.index("按时报告的事件")
    assert '<tr class="late">' in page
    overview = (await client.get("/console")).text
    assert "风险事件 · 逾期" in overview


async def test_blackmarket_groups_by_tlp(
    client: AsyncTestClient[Any], csrf: str, operator: SignedClient,
) -> None:
    reporter = await admit_member(operator, "collection_agency")
    answer = await reporter.post("/v1/blackmarket/groups", {
        "name": "某反催收联盟", "category": "anti_collection_alliance", "tlp": "amber",
        "indicators": [{"type": "phone", "value": "+8613700000001"}]})
    assert answer.status_code == 201, answer.text
    page = (await client.get("/console/blackmarket")).text
    amber = page.index('id="h-tlp-amber"')
    assert amber < page.index("某反催收联盟") < page.index('id="h-tlp-green"')
