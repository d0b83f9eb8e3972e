"""Entrustments over HTTP (API.md §5): who may make, see and end them; subcontract rules."""

from __future__ import annotations

from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.whitelist import WHOLE_YEAR, entrust


async def test_a_lender_entrusts_an_active_agency(operator: SignedClient) -> None:
    lender = await admit_member(operator, "lender")
    agency = await admit_member(operator, "collection_agency")
    made = await entrust(lender, agency)
    assert made["lender_id"] == lender.id
    assert made["agency_id"] == agency.id
    assert (made["starts_on"], made["ends_on"]) == ("2026-01-01", "2027-12-31")
    assert made["ended"] is False
    assert made["parent_id"] is None
    buyer = await admit_member(operator, "debt_buyer")
    assert (await entrust(buyer, agency))["lender_id"] == buyer.id


async def test_only_lenders_and_debt_buyers_entrust(operator: SignedClient) -> None:
    agency = await admit_member(operator, "collection_agency")
    for kind in ("collection_agency", "carrier"):
        caller = await admit_member(operator, kind)
        answer = await caller.post("/v1/entrustments", {"agency_id": agency.id, **WHOLE_YEAR})
        assert answer.status_code == 403, answer.text
    answer = await operator.post("/v1/entrustments", {"agency_id": agency.id, **WHOLE_YEAR})
    assert answer.status_code == 403


async def test_the_agency_must_be_an_active_collection_agency(operator: SignedClient) -> None:
    lender = await admit_member(operator, "lender")
    for kind, status in (("collection_agency", "suspended"), ("collection_agency", "pending"),
                         ("carrier", "active"), ("lender", "active")):
        other = await admit_member(operator, kind, status=status)
        answer = await lender.post("/v1/entrustments", {"agency_id": other.id, **WHOLE_YEAR})
        assert answer.status_code == 422, (kind, status)
        assert answer.json()["errors"][0]["field"] == "agency_id"
    answer = await lender.post("/v1/entrustments", {"agency_id": "m_nobody", **WHOLE_YEAR})
    assert answer.status_code == 422


async def test_bad_dates_are_422(operator: SignedClient) -> None:
    lender = await admit_member(operator, "lender")
    agency = await admit_member(operator, "collection_agency")
    answer = await lender.post("/v1/entrustments", {
        "agency_id": agency.id, "starts_on": "2026-12-31", "ends_on": "2026-01-01"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "ends_on"
    answer = await lender.post("/v1/entrustments", {
        "agency_id": agency.id, "starts_on": "2026-13-01", "ends_on": "2026-12-31"})
    assert answer.status_code == 422


async def test_subcontract_rules(operator: SignedClient) -> None:
    lender = await admit_member(operator, "lender")
    agency = await admit_member(operator, "collection_agency")
    sub_agency = await admit_member(operator, "collection_agency")
    closed = await entrust(lender, agency)
    answer = await lender.post("/v1/entrustments", {
        "agency_id": sub_agency.id, **WHOLE_YEAR, "parent_id": closed["id"]})
    assert answer.status_code == 409
    assert answer.json()["code"] == "subcontracting_not_allowed"

    parent = await entrust(lender, agency, subcontracting_allowed=True)
    sub = await entrust(lender, sub_agency, parent_id=parent["id"])
    assert sub["parent_id"] == parent["id"]
    deeper = await admit_member(operator, "collection_agency")
    answer = await lender.post("/v1/entrustments", {
        "agency_id": deeper.id, **WHOLE_YEAR, "parent_id": sub["id"]})
    assert answer.status_code == 409
    assert answer.json()["code"] == "resubcontracting"

    stranger = await admit_member(operator, "lender")
    answer = await stranger.post("/v1/entrustments", {
        "agency_id": sub_agency.id, **WHOLE_YEAR, "parent_id": parent["id"]})
    assert answer.status_code == 403
    answer = await lender.post("/v1/entrustments", {
        "agency_id": sub_agency.id, **WHOLE_YEAR, "parent_id": "e_missing"})
    assert answer.status_code == 404
    answer = await lender.post("/v1/entrustments", {
        "agency_id": sub_agency.id, "starts_on": "2025-01-01", "ends_on": "2026-01-01",
        "parent_id": parent["id"]})
    assert answer.status_code == 422


async def test_ending_an_entrustment(operator: SignedClient) -> None:
    lender = await admit_member(operator, "lender")
    agency = await admit_member(operator, "collection_agency")
    made = await entrust(lender, agency, subcontracting_allowed=True)
    answer = await agency.post(f"/v1/entrustments/{made['id']}/end", {"reason": "x"})
    assert answer.status_code == 403
    other = await admit_member(operator, "lender")
    answer = await other.post(f"/v1/entrustments/{made['id']}/end", {"reason": "x"})
    assert answer.status_code == 404
    answer = await lender.post(f"/v1/entrustments/{made['id']}/end", {"reason": " "})
    assert answer.status_code == 422
    answer = await lender.post(f"/v1/entrustments/{made['id']}/end", {"reason": "合同到期"})
    assert answer.status_code == 200, answer.text
    ended = answer.json()
    assert ended["ended"] is True
    assert ended["end_reason"] == "合同到期"
    assert ended["ended_at"] is not None
    assert ended["ends_on"] <= "2027-12-31"
    again = await lender.post(f"/v1/entrustments/{made['id']}/end", {"reason": "again"})
    assert again.status_code == 409
    assert again.json()["code"] == "already_ended"
    sub_agency = await admit_member(operator, "collection_agency")
    answer = await lender.post("/v1/entrustments", {
        "agency_id": sub_agency.id, **WHOLE_YEAR, "parent_id": made["id"]})
    assert answer.status_code == 409
    assert answer.json()["code"] == "entrustment_ended"


async def test_who_sees_which_entrustments(operator: SignedClient) -> None:
    lender = await admit_member(operator, "lender")
    agency = await admit_member(operator, "collection_agency")
    other_lender = await admit_member(operator, "lender")
    mine = await entrust(lender, agency)
    theirs = await entrust(other_lender, agency)

    listed = (await lender.get("/v1/entrustments")).json()["items"]
    assert [e["id"] for e in listed] == [mine["id"]]
    sneaky = (await lender.get(f"/v1/entrustments?lender_id={other_lender.id}")).json()
    assert [e["id"] for e in sneaky["items"]] == [mine["id"]]
    seen_by_agency = (await agency.get("/v1/entrustments")).json()["items"]
    assert {e["id"] for e in seen_by_agency} == {mine["id"], theirs["id"]}
    by_operator = (await operator.get(f"/v1/entrustments?agency_id={agency.id}")).json()
    assert {e["id"] for e in by_operator["items"]} == {mine["id"], theirs["id"]}

    assert (await lender.get(f"/v1/entrustments/{mine['id']}")).status_code == 200
    assert (await lender.get(f"/v1/entrustments/{theirs['id']}")).status_code == 404
    assert (await agency.get(f"/v1/entrustments/{theirs['id']}")).status_code == 200
    carrier = await admit_member(operator, "carrier")
    assert (await carrier.get("/v1/entrustments")).status_code == 403

    page = (await operator.get(f"/v1/entrustments?agency_id={agency.id}&limit=1")).json()
    assert len(page["items"]) == 1
    assert page["next_cursor"]
    rest = (await operator.get(
        f"/v1/entrustments?agency_id={agency.id}&limit=1&cursor={page['next_cursor']}")).json()
    assert rest["items"][0]["id"] != page["items"][0]["id"]
    bad = await operator.get("/v1/entrustments?cursor=nonsense")
    assert bad.status_code == 422


async def test_every_entrustment_write_is_logged(operator: SignedClient, db: object) -> None:
    import asyncpg

    assert isinstance(db, asyncpg.Connection)
    lender = await admit_member(operator, "lender")
    agency = await admit_member(operator, "collection_agency")
    made = await entrust(lender, agency)
    await lender.post(f"/v1/entrustments/{made['id']}/end", {"reason": "到期"})
    rows = await db.fetch("SELECT data FROM change_log WHERE type = 'entrustment'"
                          " AND record_id = $1 ORDER BY seq", made["id"])
    assert len(rows) == 2
    assert '"ended":true' in rows[1]["data"]
    evidence = await db.fetchval("SELECT count(*) FROM write_evidence WHERE record_id = $1",
                                 made["id"])
    assert evidence == 2
