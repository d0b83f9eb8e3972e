"""Collector checks are rate limited per member and keep matching across key rotation."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from litestar import Litestar

from api.settings import Settings
from registry.collectors import subject_hash
from tests.conftest import NODE_ID
from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.people import filing_body, make_prc_id

LIMIT = 3


@pytest.fixture(scope="module")
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(database_url=database_url, node_id=NODE_ID, data_dir=data_dir,
                    collector_checks_per_minute=LIMIT)


async def test_checks_past_the_budget_are_429_with_retry_after_and_audited(
    operator: SignedClient, db: asyncpg.Connection,
) -> None:
    lender = await admit_member(operator, "lender")
    other = await admit_member(operator, "lender")
    body = {"id_type": "prc_id", "id_number": make_prc_id()}
    statuses = [(await lender.post("/v1/collector-checks", body)).status_code
                for _ in range(LIMIT)]
    refused = await lender.post("/v1/collector-checks", body)
    if refused.status_code == 200:
        # The fixed window turned over mid-test; the next burst must hit the limit.
        statuses = [(await lender.post("/v1/collector-checks", body)).status_code
                    for _ in range(LIMIT - 1)]
        refused = await lender.post("/v1/collector-checks", body)
    assert statuses == [200] * len(statuses)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # The budget is per member.
    assert (await other.post("/v1/collector-checks", body)).status_code == 200
    results = await db.fetch(
        "SELECT result FROM collector_check_audit WHERE checker_id = $1", lender.id)
    assert "rate_limited" in [r["result"] for r in results]


async def test_rotating_the_key_loses_no_match(
    app: Litestar, operator: SignedClient, data_dir: Path, db: asyncpg.Connection,
) -> None:
    agency = await admit_member(operator, "collection_agency")
    checker = await admit_member(operator, "lender")
    number = make_prc_id()
    filing_id = (await agency.post("/v1/collector-filings", filing_body(number))).json()["id"]
    await operator.post(f"/v1/collector-filings/{filing_id}/review",
                        {"decision": "publish", "reason": "ok"})
    new_version = subject_hash.rotate(data_dir / "secrets")
    app.state.node.extras.clear()  # what a restart does: the keys are read again
    answer = await checker.post("/v1/collector-checks",
                                {"id_type": "prc_id", "id_number": number})
    assert answer.json()["listed"] is True
    later = make_prc_id()
    later_id = (await agency.post("/v1/collector-filings", filing_body(later))).json()["id"]
    assert await db.fetchval("SELECT hash_version FROM collector_filings WHERE id = $1",
                             later_id) == new_version
