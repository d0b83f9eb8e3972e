"""Complaints over HTTP (API.md §13): routed by the trace decision to the number's user and
principals, answered by them alone; lateness at its edge; an untraceable number reaching
the operators and the black-market match; public reports, collapsed and rate limited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.settings import Settings
from tests.conftest import NODE_ID
from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.whitelist import cast, traceable_number

RESPOND_HOURS = 1.0


@pytest.fixture(scope="module")
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(database_url=database_url, node_id=NODE_ID, data_dir=data_dir,
                    complaint_respond_hours=RESPOND_HOURS, public_complaints_per_hour=4)


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def complaint(number: str, **fields: Any) -> dict[str, Any]:
    return {"number": number, "received_at": ago(minutes=10), "category": "abuse",
            "summary": "催收员辱骂投诉人", **fields}


async def filed(carrier: SignedClient, number: str, **fields: Any) -> dict[str, Any]:
    answer = await carrier.post("/v1/complaints", complaint(number, **fields))
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


async def listed(member: SignedClient, query: str = "") -> list[str]:
    answer = await member.get(f"/v1/complaints{query}")
    assert answer.status_code == 200, answer.text
    return [c["id"] for c in answer.json()["items"]]


async def test_routed_to_the_agency_and_its_lender_and_answered_by_them_alone(
    operator: SignedClient,
) -> None:
    c = await cast(operator)
    stranger = await admit_member(operator, "lender")
    await traceable_number(c, "13812340001")
    made = await filed(c.carrier, "+86 138-1234-0001")
    assert made["number"] == "+8613812340001"
    assert made["traceable"] is True
    assert [(r["id"], r["role"]) for r in made["routed_to"]] == [
        (c.agency.id, "user"), (c.lender.id, "principal")]
    assert made["status"] == "open"
    assert made["late"] is False
    received = datetime.fromisoformat(made["received_at"])
    assert datetime.fromisoformat(made["respond_by"]) - received == timedelta(hours=RESPOND_HOURS)

    # The agency (its user) and the lender (Art. 22(二): about its agency) see it.
    for member in (c.agency, c.lender, c.carrier, operator):
        assert made["id"] in await listed(member)
    shown = (await c.lender.get(f"/v1/complaints/{made['id']}")).json()
    assert shown["filer_id"] is None  # who filed is the filer's and the operators' business
    assert (await c.carrier.get(f"/v1/complaints/{made['id']}")).json()["filer_id"] \
        == c.carrier.id

    # A stranger neither sees nor answers it.
    assert made["id"] not in await listed(stranger)
    assert (await stranger.get(f"/v1/complaints/{made['id']}")).status_code == 404
    answer = await stranger.post(f"/v1/complaints/{made['id']}/responses",
                                 {"outcome": "resolved", "summary": "无关"})
    assert answer.status_code == 404
    # The filer sees it but is not the one to answer it.
    answer = await c.carrier.post(f"/v1/complaints/{made['id']}/responses",
                                  {"outcome": "resolved", "summary": "?"})
    assert answer.status_code == 403

    forwarded = await c.agency.post(f"/v1/complaints/{made['id']}/responses",
                                    {"outcome": "forwarded", "summary": "已转委托机构"})
    assert forwarded.status_code == 201, forwarded.text
    assert forwarded.json()["status"] == "forwarded"
    resolved = await c.lender.post(f"/v1/complaints/{made['id']}/responses",
                                   {"outcome": "resolved", "summary": "已致歉并整改"})
    body = resolved.json()
    assert body["status"] == "resolved"
    assert [r["responder_id"] for r in body["responses"]] == [c.agency.id, c.lender.id]
    assert made["id"] in await listed(c.lender, "?status=resolved")
    assert made["id"] not in await listed(c.lender, "?status=open")

    # Both were told, each in its role; the stranger was not.
    for member, role in ((c.agency, "user"), (c.lender, "principal")):
        items = (await member.get("/v1/events")).json()["items"]
        routed = [e for e in items if e["type"] == "complaint.routed"]
        assert [(e["subject"]["id"], e["data"]["role"]) for e in routed] == [(made["id"], role)]
    stranger_events = (await stranger.get("/v1/events")).json()["items"]
    assert not [e for e in stranger_events if e["type"] == "complaint.routed"]


async def test_lateness_at_its_edge(operator: SignedClient, db: asyncpg.Connection) -> None:
    c = await cast(operator)
    await traceable_number(c, "13812340002")
    hour = RESPOND_HOURS * 60
    in_time = await filed(c.carrier, "13812340002", received_at=ago(minutes=hour - 0.5))
    overdue = await filed(c.carrier, "13812340002", received_at=ago(minutes=hour + 0.5))
    assert in_time["late"] is False
    assert overdue["late"] is True
    late_ids = await listed(c.agency, "?late=true")
    assert overdue["id"] in late_ids
    assert in_time["id"] not in late_ids
    # Answered in time stays in time; answered after respond_by stays late.
    for made, late in ((in_time, False), (overdue, True)):
        answer = await c.agency.post(f"/v1/complaints/{made['id']}/responses",
                                     {"outcome": "resolved", "summary": "已处理"})
        assert answer.json()["late"] is late
    # The edge itself, where the one definition lives: past respond_by, not at it.
    assert await db.fetchval("SELECT complaint_late(now(), NULL)") is False
    assert await db.fetchval(
        "SELECT complaint_late(now() - interval '1 microsecond', NULL)") is True
    assert await db.fetchval("SELECT complaint_late(now(), now())") is False
    assert await db.fetchval(
        "SELECT complaint_late(now(), now() + interval '1 microsecond')") is True


async def test_an_untraceable_number_goes_to_the_operators_and_the_blackmarket(
    operator: SignedClient,
) -> None:
    first = await admit_member(operator, "carrier")
    second = await admit_member(operator, "carrier")
    reader = await admit_member(operator, "lender")
    made = await filed(first, "13799990001", category="impersonation")
    assert made["traceable"] is False
    assert made["reason"] == "unregistered"
    assert made["routed_to"] == [{"id": "operators", "name": "operators", "role": "operators"}]

    async def reporters() -> int:
        answer = await reader.post("/v1/blackmarket/match",
                                   {"indicators": [{"type": "phone", "value": "13799990001"}]})
        assert answer.status_code == 200, answer.text
        matches = answer.json()["matches"]
        return int(matches[0]["reporters"]) if matches else 0

    assert await reporters() == 1
    await filed(first, "13799990001")  # the same carrier again: still one reporter
    assert await reporters() == 1
    await filed(second, "13799990001")  # another carrier corroborates it
    assert await reporters() == 2

    assert made["id"] in await listed(operator)
    assert made["id"] not in await listed(reader)
    told = (await operator.get("/v1/events")).json()["items"]
    assert made["id"] in [e["subject"]["id"] for e in told if e["type"] == "complaint.routed"]
    answer = await operator.post(f"/v1/complaints/{made['id']}/responses",
                                 {"outcome": "forwarded", "summary": "已移交公安机关"})
    assert answer.status_code == 201, answer.text


async def test_public_reports_are_routed_collapsed_and_limited(
    operator: SignedClient, client: AsyncTestClient[Any],
) -> None:
    c = await cast(operator)
    await traceable_number(c, "13812340003")
    report = {"number": "13812340003", "at": ago(minutes=5), "category": "time",
              "description": "晚上十一点打电话催收"}
    first = await client.post("/v1/public/complaints", json=report)
    assert first.status_code == 201, first.text
    assert first.json()["registered"] is True
    assert first.json()["duplicate"] is False
    # The same report again (spacing and width aside): counted with the first.
    again = await client.post("/v1/public/complaints",
                              json={**report, "description": " 晚上十一点 打电话催收 "})
    assert again.status_code == 200, again.text
    assert again.json() == {**first.json(), "duplicate": True}
    assert first.json()["id"] in await listed(c.agency)
    assert first.json()["id"] in await listed(c.lender)

    # Nothing about the person is asked for, nor accepted.
    nosy = await client.post("/v1/public/complaints", json={**report, "phone": "13900000000"})
    assert nosy.status_code == 422
    # A budget per address of its own (4 an hour here), beyond the public one.
    statuses = []
    for n in range(4):
        answer = await client.post("/v1/public/complaints",
                                   json={**report, "description": f"第{n}次来电"})
        statuses.append(answer.status_code)
    assert statuses[-1] == 429
    assert 201 in statuses


@pytest.mark.parametrize(("fields", "field"), [
    ({"number": "not a number"}, "number"),
    ({"received_at": "2099-01-01T00:00:00+08:00"}, "received_at"),
    ({"received_at": "2020-01-01T00:00:00+08:00"}, "received_at"),
    ({"summary": "   "}, "summary"),
    ({"category": "rude"}, "category"),
    ({"received_at": "2026-11-28T09:30:00"}, "received_at"),  # no offset
])
async def test_bad_complaints_are_422_naming_the_field(
    operator: SignedClient, fields: dict[str, Any], field: str,
) -> None:
    answer = await operator.post("/v1/complaints", {**complaint("13812340009"), **fields})
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["errors"][0]["field"]


async def test_only_carriers_and_operators_file(operator: SignedClient) -> None:
    lender = await admit_member(operator, "lender")
    answer = await lender.post("/v1/complaints", complaint("13812340009"))
    assert answer.status_code == 403
