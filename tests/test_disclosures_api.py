"""Disclosures kept current over HTTP (API.md §10, Articles 13 and 23): PATCH by the member
and operators with history, immutable kind and uscc, admission only with complaint
channels, and the public endpoint and page showing new values at once."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.support.client import SignedClient
from tests.support.factories import admit_member, member_body
from tests.support.whitelist import entrust

NEW_COMPLAINTS = {"phone": "400-111-2222", "email": "ts@new.example.cn",
                  "process": "受理后五个工作日内书面答复"}


async def test_the_member_and_operators_patch_others_may_not(operator: SignedClient) -> None:
    lender = await admit_member(operator, "lender", subtype="microloan_company")
    other = await admit_member(operator, "lender")

    mine = await lender.patch(f"/v1/members/{lender.id}", {"complaints": NEW_COMPLAINTS})
    assert mine.status_code == 200, mine.text
    member = mine.json()
    assert member["complaints"]["phone"] == "400-111-2222"
    # A field left out stays (merge patch): the address was not in the body.
    assert member["complaints"]["address"] == "北京市西城区"
    assert member["disclosure_history"][-1]["by"] == lender.id
    assert member["disclosure_history"][-1]["fields"] == [
        "complaints.phone", "complaints.email", "complaints.process"]

    by_operator = await operator.patch(f"/v1/members/{lender.id}", {
        "name": "更名后的小贷公司", "subtype": "consumer_finance_company",
        "contact": {"address": None}})
    assert by_operator.status_code == 200, by_operator.text
    changed = by_operator.json()
    assert changed["name"] == "更名后的小贷公司"
    assert changed["subtype"] == "consumer_finance_company"
    assert changed["contact"]["address"] is None
    assert [h["by"] for h in changed["disclosure_history"]] == [lender.id, operator.id]
    assert changed["disclosure_history"][1]["fields"] == ["name", "subtype", "contact.address"]

    refused = await other.patch(f"/v1/members/{lender.id}", {"contact": {"phone": "110"}})
    assert refused.status_code == 403
    # The member may not rename itself: that is the association's to record.
    own_name = await lender.patch(f"/v1/members/{lender.id}", {"name": "自封"})
    assert own_name.status_code == 403
    read = (await other.get(f"/v1/members/{lender.id}")).json()
    assert read["disclosure_history"] == changed["disclosure_history"]
    assert read["contact"]["phone"] == "010-12345678"

    # Nothing changed: 200, no history entry, no log entry.
    same = await lender.patch(f"/v1/members/{lender.id}", {"complaints": NEW_COMPLAINTS})
    assert len(same.json()["disclosure_history"]) == 2


async def test_kind_and_uscc_never_change_and_bad_fields_are_422(
    operator: SignedClient,
) -> None:
    agency = await admit_member(operator, "collection_agency")
    for body, field in [
        ({"kind": "lender"}, "kind"), ({"uscc": "91310000MA1FL1234Q"}, "uscc"),
        ({"contact": {"email": "not an address"}}, "contact.email"),
        ({"complaints": {"process": "x" * 501}}, "complaints.process"),
        ({"name": "  "}, "name"), ({"subtype": "commercial_bank"}, "subtype"),
    ]:
        answer = await operator.patch(f"/v1/members/{agency.id}", body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["code"] == "invalid"
        assert field in [e["field"] for e in answer.json()["errors"]], answer.text
    for body in ({"status": "active"}, {"contact": {"fax": "1"}}, {"contact": "x"}):
        answer = await agency.patch(f"/v1/members/{agency.id}", body)
        assert answer.status_code == 422, (body, answer.text)
    assert (await operator.patch("/v1/members/m_nobody", {"contact": {}})).status_code == 404


async def test_every_change_is_logged_with_its_evidence(
    operator: SignedClient, db: Any,
) -> None:
    agency = await admit_member(operator, "collection_agency")
    await agency.patch(f"/v1/members/{agency.id}", {"contact": {"phone": "021-5555"}})
    data = await db.fetchval(
        "SELECT data FROM change_log WHERE type = 'member' AND record_id = $1"
        " ORDER BY seq DESC LIMIT 1", agency.id)
    assert '"021-5555"' in data
    assert '"disclosure_history"' in data
    evidence = await db.fetchval(
        "SELECT count(*) FROM write_evidence WHERE record_id = $1 AND method = 'PATCH'",
        agency.id)
    assert evidence == 1


async def test_admission_needs_a_complaints_process_and_a_channel(
    operator: SignedClient,
) -> None:
    for kind in ("lender", "debt_buyer", "collection_agency"):
        made = await operator.post("/v1/members", member_body(
            kind, complaints={"phone": "400-1", "process": None}))
        member_id = made.json()["id"]
        refused = await operator.post(f"/v1/members/{member_id}/status",
                                      {"status": "active", "reason": "准入"})
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "disclosure_incomplete"
        await operator.patch(f"/v1/members/{member_id}", {"complaints": {
            "phone": None, "process": "三日内答复"}})
        still = await operator.post(f"/v1/members/{member_id}/status",
                                    {"status": "active", "reason": "准入"})
        assert still.json()["code"] == "disclosure_incomplete"  # a process but no channel
        await operator.patch(f"/v1/members/{member_id}", {"complaints": {
            "email": "ts@example.cn"}})
        admitted = await operator.post(f"/v1/members/{member_id}/status",
                                       {"status": "active", "reason": "准入"})
        assert admitted.status_code == 200, admitted.text
    # A carrier takes no complaints about collection: no channel is asked of it.
    carrier = await operator.post("/v1/members", member_body("carrier", complaints={}))
    admitted = await operator.post(f"/v1/members/{carrier.json()['id']}/status",
                                   {"status": "active", "reason": "准入"})
    assert admitted.status_code == 200


async def test_public_endpoint_and_page_show_new_values_at_once(
    operator: SignedClient, client: AsyncTestClient[Any],
) -> None:
    buyer = await admit_member(operator, "debt_buyer",
                               subtype="local_asset_management_company")
    agency = await admit_member(operator, "collection_agency")
    await entrust(buyer, agency)
    await buyer.patch(f"/v1/members/{buyer.id}", {"complaints": NEW_COMPLAINTS})
    await agency.patch(f"/v1/members/{agency.id}", {"contact": {"phone": "021-6666 8888"}})

    answer = (await client.get(f"/v1/public/lenders/{buyer.id}/agencies")).json()
    assert answer["complaints"]["phone"] == "400-111-2222"
    assert answer["lender"]["complaints"] == answer["complaints"]
    assert answer["lender"]["kind"] == "debt_buyer"
    assert [a["contact"]["phone"] for a in answer["agencies"]] == ["021-6666 8888"]

    page = await client.get(f"/public/lenders/{buyer.id}")
    assert page.status_code == 200
    assert 'href="tel:400-111-2222"' in page.text
    assert 'href="mailto:ts@new.example.cn"' in page.text
    assert 'href="tel:021-66668888"' in page.text
    listed = await client.get("/public/lenders", params={"q": answer["lender"]["name"]})
    assert f"/public/lenders/{buyer.id}" in listed.text  # debt buyers are listed too
