"""Public pages over HTTP: the same answers and the same rate limit as the public API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.settings import Settings
from tests.conftest import NODE_ID
from tests.support.client import SignedClient
from tests.support.whitelist import cast, traceable_number

RATE = 8


@pytest.fixture(scope="module")
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(database_url=database_url, node_id=NODE_ID, data_dir=data_dir,
                    public_rate_per_minute=RATE)


async def test_the_page_and_the_api_agree_and_share_one_budget(
    client: AsyncTestClient[Any], operator: SignedClient,
) -> None:
    await client.get("/check")  # the empty form costs nothing
    c = await cast(operator)
    await traceable_number(c, "+8613800138031")
    agency = (await operator.get(f"/v1/members/{c.agency.id}")).json()["name"]
    page = await client.get("/check", params={"number": "13800138031"})
    assert page.status_code == 200
    assert "这是已登记的催收号码" in page.text
    assert agency in page.text
    api = (await client.get("/v1/public/check/13800138031")).json()
    assert api == {"registered": True, "user": agency, "principals": [
        (await operator.get(f"/v1/members/{c.lender.id}")).json()["name"]]}
    disclosure = await client.get(f"/public/lenders/{c.lender.id}")
    assert agency in disclosure.text
    assert "frame-ancestors 'none'" in disclosure.headers["content-security-policy"]
    spent = 3
    while spent < RATE:
        assert (await client.get("/v1/public/check/13912345678")).status_code == 200
        spent += 1
    refused = await client.get("/check", params={"number": "13800138031"})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "text/html" in refused.headers["content-type"]


async def test_an_unknown_lender_is_a_404_page(
    client: AsyncTestClient[Any], db: asyncpg.Connection,
) -> None:
    await db.execute("DELETE FROM rate_counters")
    answer = await client.get("/public/lenders/m_nobody")
    assert answer.status_code == 404
    assert "text/html" in answer.headers["content-type"]


@pytest.mark.parametrize("number", [
    "abc", "+", "0", "1" * 40, "١٢٣", "+86 138-0013-8000", "<script>", "%00", "95555",
])
async def test_odd_numbers_get_an_answer_not_an_error(
    client: AsyncTestClient[Any], db: asyncpg.Connection, number: str,
) -> None:
    await db.execute("DELETE FROM rate_counters")
    page = await client.get("/check", params={"number": number})
    assert page.status_code == 200
    assert "<script>" not in page.text.split("</form>", 1)[1]
