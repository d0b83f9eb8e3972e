"""Traces over HTTP (API.md §6): every reason end to end, blocks, batches, the window and
the checkpoint; the public endpoints and their rate limit (API.md §9)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.settings import Settings
from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.whitelist import (
    IN_WINDOW,
    cast,
    confirm,
    entrust,
    file,
    supply,
    trace,
    traceable_number,
)


async def set_status(operator: SignedClient, member: SignedClient, status: str) -> None:
    answer = await operator.post(f"/v1/members/{member.id}/status",
                                 {"status": status, "reason": "检查"})
    assert answer.status_code == 200, answer.text


async def test_a_traceable_number_names_every_link(operator: SignedClient) -> None:
    c = await cast(operator)
    await traceable_number(c, "+86 138-0013-8000")
    result = await trace(c.carrier, "13800138000")
    assert result["traceable"] is True
    assert result["reason"] is None
    assert result["value"] == "+8613800138000"
    assert result["kind"] == "voice"
    assert result["supplier"]["id"] == c.carrier.id
    assert "uscc" in result["supplier"]
    assert result["user"] == {"id": c.agency.id, "name": result["user"]["name"],
                              "kind": "collection_agency"}
    assert [p["id"] for p in result["principals"]] == [c.lender.id]
    assert result["window"] == {"tz": "Asia/Shanghai", "start": "08:00", "end": "22:00",
                                "open": True}
    assert result["checkpoint"]["node"] == "node-test"
    assert result["checkpoint"]["seq"] > 0


async def test_every_reason_end_to_end(operator: SignedClient) -> None:
    c = await cast(operator)
    assert (await trace(c.carrier, "13700137000"))["reason"] == "unregistered"

    expired = await supply(c.carrier, c.agency, "13700137001",
                           valid_to="2026-06-01T00:00:00+08:00")
    await confirm(c.agency, expired["id"])
    assert (await trace(c.carrier, "13700137001"))["reason"] == "expired"
    not_yet = await trace(c.carrier, "13700137001", at="2025-06-01T10:00:00+08:00")
    assert not_yet["reason"] == "expired"

    await supply(c.carrier, c.agency, "13700137002")
    result = await trace(c.carrier, "13700137002")
    assert result["reason"] == "unconfirmed"
    assert result["traceable"] is False
    assert result["user"]["id"] == c.agency.id
    assert result["principals"] == []

    no_principal = await supply(c.carrier, c.agency, "13700137003")
    await confirm(c.agency, no_principal["id"])
    assert (await trace(c.carrier, "13700137003"))["reason"] == "no_principal"
    entrustment = await entrust(c.lender, c.agency)
    assert (await trace(c.carrier, "13700137003"))["reason"] == "no_principal"
    await file(c.lender, no_principal["id"], entrustment["id"])
    assert (await trace(c.carrier, "13700137003"))["traceable"] is True

    await set_status(operator, c.agency, "suspended")
    assert (await trace(c.carrier, "13700137003"))["reason"] == "user_inactive"
    await set_status(operator, c.carrier, "suspended")
    assert (await trace(c.carrier, "13700137003"))["reason"] == "supplier_inactive"
    # The supplier's failure comes before the user's, and expiry before both.
    assert (await trace(c.carrier, "13700137001"))["reason"] == "expired"
    await set_status(operator, c.carrier, "active")
    await set_status(operator, c.agency, "active")
    assert (await trace(c.carrier, "13700137003"))["traceable"] is True

    await c.lender.post(f"/v1/entrustments/{entrustment['id']}/end", {"reason": "终止"})
    # Ending takes effect at once: traceable a moment ago, not now.
    assert (await trace(c.carrier, "13700137003", at=None))["reason"] == "no_principal"


async def test_a_lender_using_its_own_number_needs_no_filing(operator: SignedClient) -> None:
    c = await cast(operator)
    own = await supply(c.carrier, c.lender, "13700137010")
    await confirm(c.lender, own["id"])
    result = await trace(c.agency, "+8613700137010")
    assert result["traceable"] is True
    assert [p["id"] for p in result["principals"]] == [c.lender.id]


async def test_a_subcontracted_agency_traces_to_the_lender(operator: SignedClient) -> None:
    c = await cast(operator)
    sub_agency = await admit_member(operator, "collection_agency")
    parent = await entrust(c.lender, c.agency, subcontracting_allowed=True)
    sub = await entrust(c.lender, sub_agency, parent_id=parent["id"])
    made = await supply(c.carrier, sub_agency, "13700137020")
    await confirm(sub_agency, made["id"])
    await file(c.lender, made["id"], sub["id"])
    assert (await trace(c.carrier, "13700137020"))["principals"][0]["id"] == c.lender.id
    await c.lender.post(f"/v1/entrustments/{parent['id']}/end", {"reason": "终止"})
    assert (await trace(c.carrier, "13700137020", at=None))["reason"] == "no_principal"


async def test_blocks_and_sms_codes(operator: SignedClient) -> None:
    c = await cast(operator)
    wide = await supply(c.carrier, c.lender, "+86136", kind="voice_block")
    narrow = await supply(c.carrier, c.agency, "+861360013", kind="voice_block")
    await confirm(c.lender, wide["id"])
    await confirm(c.agency, narrow["id"])
    narrow_hit = await trace(c.carrier, "13600138888")
    assert narrow_hit["block"] == "+861360013"
    assert narrow_hit["reason"] == "no_principal"
    wide_hit = await trace(c.carrier, "13611112222")
    assert wide_hit["block"] == "+86136"
    assert wide_hit["traceable"] is True
    code = await supply(c.carrier, c.lender, "10690000123", kind="sms_code")
    await confirm(c.lender, code["id"])
    sms = await trace(c.carrier, "10690000123")
    assert (sms["kind"], sms["traceable"], sms["value"]) == ("sms_code", True, "10690000123")
    unknown = await trace(c.carrier, "not-a-number")
    assert (unknown["kind"], unknown["reason"]) == (None, "unregistered")


async def test_the_window_follows_at(operator: SignedClient) -> None:
    c = await cast(operator)
    await traceable_number(c, "13700137030")
    for at, expected in (("2026-11-28T07:59:59+08:00", False),
                         ("2026-11-28T08:00:00+08:00", True),
                         ("2026-11-28T13:59:59Z", True),
                         ("2026-11-28T14:00:00Z", False)):
        result = await trace(c.carrier, "13700137030", at=at)
        assert result["window"]["open"] is expected, at
        assert result["traceable"] is True
    # A `+` sent unencoded in the query arrives as a space and is still understood.
    answer = await c.carrier.get("/v1/trace/13700137030?at=2026-11-28T21:59:59+08:00")
    assert answer.status_code == 200
    assert answer.json()["window"]["open"] is True
    for bad in ("yesterday", "2026-11-28T10:00:00", "0001-01-01T00:00:00%2B08:00",
                "9999-12-31T23:59:59-12:00"):
        answer = await c.carrier.get(f"/v1/trace/13700137030?at={bad}")
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["field"] == "at"


async def test_batch_trace_answers_in_order(operator: SignedClient) -> None:
    c = await cast(operator)
    await traceable_number(c, "13700137040")
    values = ["13700137040", "13700137041", "+86 137-0013-7040", "garbage"]
    answer = await c.carrier.post("/v1/trace", {"values": values, "at": IN_WINDOW})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["reason"] for r in results] == [None, "unregistered", None, "unregistered"]
    assert results[0] == results[2]
    single = await trace(c.carrier, "13700137040")
    assert single == results[0]
    answer = await c.carrier.post("/v1/trace", {"values": ["13700137040"] * 1000})
    assert answer.status_code == 200
    assert len(answer.json()["results"]) == 1000
    answer = await c.carrier.post("/v1/trace", {"values": ["13700137040"] * 1001})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "values"
    answer = await c.carrier.post("/v1/trace", {"values": [], "at": "2026-11-28T10:00:00"})
    assert answer.status_code == 422
    answer = await c.carrier.post("/v1/trace", {"values": [], "at": "0001-01-01T00:00:00Z"})
    assert answer.status_code == 422


async def test_who_may_trace(operator: SignedClient, client: AsyncTestClient[Any]) -> None:
    c = await cast(operator)
    await traceable_number(c, "13700137050")
    for member in (c.carrier, c.agency, c.lender, operator):
        assert (await trace(member, "13700137050"))["traceable"] is True
    suspended = await admit_member(operator, "carrier", status="suspended")
    assert (await suspended.post("/v1/trace", {"values": ["13700137050"]})).status_code == 200
    removed = await admit_member(operator, "carrier", status="removed")
    assert (await removed.get("/v1/trace/13700137050")).status_code == 403
    assert (await client.get("/v1/trace/13700137050")).status_code == 401


async def test_the_checkpoint_moves_with_writes(operator: SignedClient,
                                               db: asyncpg.Connection) -> None:
    c = await cast(operator)
    first = (await trace(c.carrier, "13700137060"))["checkpoint"]["seq"]
    await supply(c.carrier, c.agency, "13700137060")
    second = (await trace(c.carrier, "13700137060"))["checkpoint"]["seq"]
    head = await db.fetchval("SELECT max(seq) FROM change_log WHERE origin = 'node-test'")
    assert first < second == head


async def test_public_agencies_and_number_check(operator: SignedClient,
                                                client: AsyncTestClient[Any]) -> None:
    c = await cast(operator)
    await traceable_number(c, "13700137070")
    ended_agency = await admit_member(operator, "collection_agency")
    ended = await entrust(c.lender, ended_agency)
    await c.lender.post(f"/v1/entrustments/{ended['id']}/end", {"reason": "终止"})
    answer = await client.get(f"/v1/public/lenders/{c.lender.id}/agencies")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["lender"]["id"] == c.lender.id
    assert [a["id"] for a in body["agencies"]] == [c.agency.id]
    assert body["agencies"][0]["complaints"]["phone"] == "400-800-1234"
    assert (await client.get("/v1/public/lenders/m_nobody/agencies")).status_code == 404
    assert (await client.get(f"/v1/public/lenders/{c.agency.id}/agencies")).status_code == 404

    check = (await client.get("/v1/public/check/137-0013-7070")).json()
    assert check["registered"] is True
    assert check["user"]
    assert len(check["principals"]) == 1
    assert (await client.get("/v1/public/check/13700137071")).json() == {
        "registered": False, "user": None, "principals": []}


@pytest.fixture(scope="module")
async def limited_client(settings: Settings) -> Any:
    small: Litestar = create_app(Settings(database_url=settings.database_url,
                                          node_id=settings.node_id, data_dir=settings.data_dir,
                                          public_rate_per_minute=3))
    async with AsyncTestClient(small) as test_client:
        yield test_client


async def test_public_endpoints_are_rate_limited(limited_client: AsyncTestClient[Any],
                                                 db: asyncpg.Connection) -> None:
    await db.execute("DELETE FROM rate_counters")
    statuses = [(await limited_client.get("/v1/public/check/13700137080")).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 200]
    answer = await limited_client.get("/v1/public/lenders/m_x/agencies")
    assert answer.status_code == 429
    assert answer.json()["code"] == "rate_limited"
    assert 1 <= int(answer.headers["retry-after"]) <= 60
