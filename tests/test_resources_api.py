"""Resources over HTTP (API.md §6): supplies, batches, confirmations and filings, and who
may make each."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.whitelist import cast, confirm, entrust, file, supply


def supply_body(assignee: SignedClient, value: str, kind: str = "voice") -> dict[str, Any]:
    return {"kind": kind, "value": value, "assignee_id": assignee.id,
            "valid_from": "2026-01-01T00:00:00+08:00", "valid_to": "2028-01-01T00:00:00+08:00"}


async def test_a_carrier_supplies_a_normalised_number(operator: SignedClient) -> None:
    c = await cast(operator)
    made = await supply(c.carrier, c.agency, "0086 139-0013-9000")
    assert made["value"] == "+8613900139000"
    assert made["supplier_id"] == c.carrier.id
    assert made["assignee_id"] == c.agency.id
    assert made["confirmed"] is False
    block = await supply(c.carrier, c.agency, "139 0014", kind="voice_block")
    assert block["value"] == "+861390014"
    code = await supply(c.carrier, c.lender, "1069 8888 01", kind="sms_code")
    assert code["value"] == "1069888801"
    got = await c.agency.get(f"/v1/resources/{made['id']}")
    assert got.status_code == 200
    assert got.json()["value"] == "+8613900139000"


async def test_invalid_supplies_are_422_naming_the_field(operator: SignedClient) -> None:
    c = await cast(operator)
    cases = [
        ({"value": "12345"}, "value"),
        ({"kind": "fax"}, "kind"),
        ({"assignee_id": "m_nobody"}, "assignee_id"),
        ({"assignee_id": c.carrier.id}, "assignee_id"),
        ({"valid_to": "2025-01-01T00:00:00+08:00"}, "valid_to"),
        ({"valid_from": "2026-01-01T00:00:00"}, "valid_from"),
        ({"valid_to": "tomorrow"}, "valid_to"),
        ({"valid_from": "0001-01-01T00:00:00+08:00"}, "valid_from"),
    ]
    for patch, field in cases:
        answer = await c.carrier.post("/v1/resources",
                                      {**supply_body(c.agency, "13900139001"), **patch})
        assert answer.status_code == 422, (patch, answer.text)
        assert field in [e["field"] for e in answer.json()["errors"]], answer.json()


async def test_a_number_supplied_and_unexpired_is_409(operator: SignedClient) -> None:
    c = await cast(operator)
    await supply(c.carrier, c.agency, "13900139002")
    again = await c.carrier.post("/v1/resources", supply_body(c.lender, "+86 139 0013 9002"))
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate"
    # Once the first supply has expired, the number may be supplied again.
    old = await supply(c.carrier, c.agency, "13900139003",
                       valid_from="2020-01-01T00:00:00+08:00",
                       valid_to="2021-01-01T00:00:00+08:00")
    renewed = await supply(c.carrier, c.lender, "13900139003")
    assert renewed["id"] != old["id"]


async def test_only_carriers_supply_and_only_the_supplier_changes(
    operator: SignedClient,
) -> None:
    c = await cast(operator)
    for caller in (c.agency, c.lender, operator):
        answer = await caller.post("/v1/resources", supply_body(c.agency, "13900139010"))
        assert answer.status_code == 403
    made = await supply(c.carrier, c.agency, "13900139011")
    other_carrier = await admit_member(operator, "carrier")
    answer = await other_carrier.request("PATCH", f"/v1/resources/{made['id']}",
                                         json={"valid_to": "2026-06-01T00:00:00+08:00"})
    assert answer.status_code == 403
    answer = await c.carrier.request("PATCH", f"/v1/resources/{made['id']}",
                                     json={"valid_to": "2026-06-01T00:00:00+08:00"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["valid_to"].startswith("2026-05-31T16:00:00")
    answer = await c.carrier.request("PATCH", f"/v1/resources/{made['id']}",
                                     json={"valid_to": "2025-06-01T00:00:00+08:00"})
    assert answer.status_code == 422
    answer = await c.carrier.request("PATCH", "/v1/resources/r_missing", json={})
    assert answer.status_code == 404


async def test_a_suspended_carrier_cannot_supply(operator: SignedClient) -> None:
    agency = await admit_member(operator, "collection_agency")
    carrier = await admit_member(operator, "carrier", status="suspended")
    answer = await carrier.post("/v1/resources", supply_body(agency, "13900139020"))
    assert answer.status_code == 403
    assert answer.json()["code"] == "member_suspended"


async def test_batch_supply_is_all_or_nothing(operator: SignedClient, db: asyncpg.Connection
                                              ) -> None:
    c = await cast(operator)
    items = [supply_body(c.agency, f"1390100{n:04d}") for n in range(50)]
    answer = await c.carrier.post("/v1/resources/batch", {"items": items})
    assert answer.status_code == 201, answer.text
    ids = answer.json()["ids"]
    assert len(ids) == 50
    values = await db.fetch("SELECT id, value FROM resources WHERE id = ANY($1)", ids)
    assert {r["id"]: r["value"] for r in values}[ids[7]] == "+8613901000007"

    bad = [supply_body(c.agency, f"1390200{n:04d}") for n in range(5)]
    bad[1]["value"] = "nope"
    bad[3]["value"] = bad[2]["value"]
    bad[4]["value"] = "13901000001"  # supplied above
    answer = await c.carrier.post("/v1/resources/batch", {"items": bad})
    assert answer.status_code == 422
    fields = {e["field"] for e in answer.json()["errors"]}
    assert fields == {"items[1].value", "items[3].value", "items[4].value"}
    count = await db.fetchval("SELECT count(*) FROM resources WHERE value LIKE '+86139020%'")
    assert count == 0

    too_many = [supply_body(c.agency, f"139030{n:05d}") for n in range(1001)]
    answer = await c.carrier.post("/v1/resources/batch", {"items": too_many})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "items"


async def test_only_the_assignee_confirms(operator: SignedClient) -> None:
    c = await cast(operator)
    made = await supply(c.carrier, c.agency, "13900139030")
    for caller in (c.lender, c.carrier, operator):
        answer = await caller.post(f"/v1/resources/{made['id']}/confirm")
        assert answer.status_code == 403, answer.text
    assert (await c.agency.post("/v1/resources/r_missing/confirm")).status_code == 404
    answer = await c.agency.post(f"/v1/resources/{made['id']}/confirm")
    assert answer.status_code == 200
    assert answer.json()["confirmed"] is True
    # Confirming again changes nothing and is not an error.
    assert (await c.agency.post(f"/v1/resources/{made['id']}/confirm")).status_code == 200


async def test_batch_confirm_is_all_or_nothing(operator: SignedClient, db: asyncpg.Connection
                                               ) -> None:
    c = await cast(operator)
    answer = await c.carrier.post("/v1/resources/batch", {"items": [
        supply_body(c.agency, f"1390400{n:04d}") for n in range(10)]})
    ids = answer.json()["ids"]
    foreign = await supply(c.carrier, c.lender, "13904009999")
    answer = await c.agency.post("/v1/resources/confirm",
                                 {"ids": [*ids[:3], foreign["id"], "r_missing"]})
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["ids[3]", "ids[4]"]
    confirmed = await db.fetchval(
        "SELECT count(*) FROM resource_confirmations WHERE resource_id = ANY($1)", ids)
    assert confirmed == 0
    answer = await c.agency.post("/v1/resources/confirm", {"ids": ids})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ids": ids}
    assert (await c.agency.post("/v1/resources/confirm", {"ids": ids[:2]})).status_code == 200
    logged = await db.fetchval(
        "SELECT count(*) FROM change_log WHERE type = 'resource_confirmation'"
        " AND record_id LIKE ANY($1)", [f"rc:{i}:%" for i in ids])
    assert logged == 10
    answer = await c.agency.post("/v1/resources/confirm", {"ids": ["r_x"] * 1001})
    assert answer.status_code == 422


async def test_filing_rules(operator: SignedClient) -> None:
    c = await cast(operator)
    made = await supply(c.carrier, c.agency, "13900139040")
    await confirm(c.agency, made["id"])
    entrustment = await entrust(c.lender, c.agency)
    other_lender = await admit_member(operator, "lender")
    others = await entrust(other_lender, c.agency)

    answer = await c.lender.post(f"/v1/resources/{made['id']}/filings",
                                 {"entrustment_id": others["id"]})
    assert answer.status_code == 403
    answer = await c.agency.post(f"/v1/resources/{made['id']}/filings",
                                 {"entrustment_id": entrustment["id"]})
    assert answer.status_code == 403
    answer = await c.lender.post("/v1/resources/r_missing/filings",
                                 {"entrustment_id": entrustment["id"]})
    assert answer.status_code == 404
    answer = await c.lender.post(f"/v1/resources/{made['id']}/filings",
                                 {"entrustment_id": "e_missing"})
    assert answer.status_code == 404
    second_agency = await admit_member(operator, "collection_agency")
    wrong = await entrust(c.lender, second_agency)
    answer = await c.lender.post(f"/v1/resources/{made['id']}/filings",
                                 {"entrustment_id": wrong["id"]})
    assert answer.status_code == 403

    await file(c.lender, made["id"], entrustment["id"])
    again = await c.lender.post(f"/v1/resources/{made['id']}/filings",
                                {"entrustment_id": entrustment["id"]})
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate"
    # The filing lender may now read the resource; a lender that has not filed may not.
    assert (await c.lender.get(f"/v1/resources/{made['id']}")).status_code == 200
    assert (await other_lender.get(f"/v1/resources/{made['id']}")).status_code == 404

    await c.lender.post(f"/v1/entrustments/{wrong['id']}/end", {"reason": "终止"})
    other = await supply(c.carrier, second_agency, "13900139041")
    answer = await c.lender.post(f"/v1/resources/{other['id']}/filings",
                                 {"entrustment_id": wrong["id"]})
    assert answer.status_code == 409
    assert answer.json()["code"] == "entrustment_ended"


async def test_a_batch_keeps_its_signed_token_once_naming_every_record(
    operator: SignedClient, db: asyncpg.Connection,
) -> None:
    c = await cast(operator)
    items = [supply_body(c.agency, f"+8613700137{n:03d}") for n in range(3)]
    made = await c.carrier.post("/v1/resources/batch", {"items": items})
    assert made.status_code == 201, made.text
    ids = made.json()["ids"]
    rows = await db.fetch(
        "SELECT principal_id, token, path, record_id, record_ids FROM write_evidence"
        " WHERE record_type = 'resource' AND record_ids && $1::text[]", ids)
    assert len(rows) == 1
    assert rows[0]["record_ids"] == ids
    assert rows[0]["record_id"] == ids[0]
    assert rows[0]["principal_id"] == c.carrier.id
    assert rows[0]["path"] == "/v1/resources/batch"
    confirmed = await c.agency.post("/v1/resources/confirm", {"ids": ids})
    assert confirmed.status_code == 200, confirmed.text
    held = await db.fetch(
        "SELECT record_ids FROM write_evidence WHERE record_type = 'resource_confirmation'"
        " AND principal_id = $1", c.agency.id)
    assert [len(r["record_ids"]) for r in held] == [3]
