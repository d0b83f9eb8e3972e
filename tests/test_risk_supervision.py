"""Risk reports that reach who must know (Articles 21(二), 24) over HTTP: an agency's
personal-data breach shown to the lenders entrusting it with `lender_due_at`, and to no one
else; incomplete reports until an update completes them; the institution concerned; the
operators' acknowledgement and forwarding with who and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.whitelist import entrust

FULL = {"cause": "内部员工违规导出", "situation": "已控制", "impact": "约两千名客户",
        "measures": "吊销账号并报警"}


async def report(client: SignedClient, **fields: Any) -> dict[str, Any]:
    body = {"category": "personal_data_breach",
            "discovered_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
            "summary": "客户信息泄露", **fields}
    answer = await client.post("/v1/risk-events", body)
    assert answer.status_code == 201, answer.text
    event: dict[str, Any] = answer.json()
    return event


async def test_a_breach_reaches_the_entrusting_lenders_only(operator: SignedClient) -> None:
    agency = await admit_member(operator, "collection_agency")
    lender = await admit_member(operator, "lender")
    buyer = await admit_member(operator, "debt_buyer")
    stranger = await admit_member(operator, "lender")
    former = await admit_member(operator, "lender")
    await entrust(lender, agency)
    await entrust(buyer, agency)
    # An entrustment that ended before the breach was discovered does not count.
    old = await entrust(former, agency)
    await former.post(f"/v1/entrustments/{old['id']}/end", {"reason": "到期"})

    breach = await report(agency, discovered_at=datetime.now(UTC).isoformat(), **FULL)
    found = datetime.fromisoformat(breach["discovered_at"])
    assert datetime.fromisoformat(breach["lender_due_at"]) - found == timedelta(hours=24)
    other_kind = await report(agency, category="violent_collection", **FULL)
    assert other_kind["lender_due_at"] is None

    for reader in (lender, buyer):
        got = await reader.get(f"/v1/risk-events/{breach['id']}")
        assert got.status_code == 200, got.text
        assert got.json()["lender_due_at"] == breach["lender_due_at"]
        listed = [e["id"] for e in (await reader.get("/v1/risk-events")).json()["items"]]
        assert listed == [breach["id"]]  # not the other category
        # Seeing it is not owning it: only the reporter follows up.
        update = await reader.post(f"/v1/risk-events/{breach['id']}/updates", {"summary": "x"})
        assert update.status_code == 403
    for reader in (stranger, former):
        assert (await reader.get(f"/v1/risk-events/{breach['id']}")).status_code == 404
        assert (await reader.get("/v1/risk-events")).json()["items"] == []
    # A lender's own breach report is no agency's incident to share.
    own = await report(lender, **FULL)
    assert own["lender_due_at"] is None
    assert (await buyer.get(f"/v1/risk-events/{own['id']}")).status_code == 404


async def test_incomplete_until_an_update_supplies_what_is_missing(
    operator: SignedClient,
) -> None:
    reporter = await admit_member(operator, "lender")
    complete = await report(reporter, **FULL)
    assert complete["incomplete"] is False
    partial = await report(reporter, cause="系统漏洞", measures="  ")
    assert partial["incomplete"] is True
    assert partial["measures"] is None
    listed = (await operator.get("/v1/risk-events?incomplete=true")).json()["items"]
    assert partial["id"] in [e["id"] for e in listed]
    assert complete["id"] not in [e["id"] for e in listed]
    step = await reporter.post(f"/v1/risk-events/{partial['id']}/updates", {
        "summary": "续报一", "situation": "仍在排查", "impact": "影响待评估"})
    assert step.json()["incomplete"] is True  # measures still missing
    done = await reporter.post(f"/v1/risk-events/{partial['id']}/updates", {
        "summary": "续报二", "measures": "修补漏洞", "cause": "改写起因"})
    assert done.status_code == 200, done.text
    event = done.json()
    assert event["incomplete"] is False
    assert event["cause"] == "系统漏洞"  # what the report stated stays; updates keep the rest
    assert event["updates"][1]["cause"] == "改写起因"
    assert event["measures"] == "修补漏洞"


async def test_reports_carry_the_institution_concerned(operator: SignedClient) -> None:
    reporter = await admit_member(operator, "lender")
    agency = await admit_member(operator, "collection_agency")
    own = await report(reporter, **FULL)
    assert own["institution_id"] == reporter.id
    about = await report(reporter, institution_id=agency.id, **FULL)
    assert about["institution_id"] == agency.id
    bad = await reporter.post("/v1/risk-events", {
        "category": "other", "discovered_at": datetime.now(UTC).isoformat(),
        "summary": "x", "institution_id": "m_nobody"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "institution_id"


async def test_operators_acknowledge_and_forward_with_who_and_when(
    operator: SignedClient, db: Any,
) -> None:
    reporter = await admit_member(operator, "collection_agency")
    event = await report(reporter, **FULL)
    target = f"/v1/risk-events/{event['id']}"
    assert (await reporter.post(f"{target}/acknowledge")).status_code == 403
    acknowledged = await operator.post(f"{target}/acknowledge")
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["acknowledged_by"] == operator.id
    assert acknowledged.json()["acknowledged_at"] is not None
    assert acknowledged.json()["forwarded_at"] is None
    assert (await operator.post(f"{target}/acknowledge")).json()["code"] == "already_acknowledged"
    forwarded = await operator.post(f"{target}/forward", {"to": "地方金融管理局"})
    assert forwarded.status_code == 200, forwarded.text
    assert (forwarded.json()["forwarded_by"], forwarded.json()["forwarded_to"]) == (
        operator.id, "地方金融管理局")
    assert (await operator.post(f"{target}/forward", {})).status_code == 409
    # Forwarding a report nobody acknowledged acknowledges it too.
    second = await report(reporter, **FULL)
    direct = await operator.post(f"/v1/risk-events/{second['id']}/forward", {})
    assert direct.json()["acknowledged_by"] == operator.id
    assert (await operator.post("/v1/risk-events/re_nobody/acknowledge")).status_code == 404
    logged = await db.fetchval("SELECT count(*) FROM change_log WHERE type = 'risk_event'"
                               " AND record_id = $1", event["id"])
    assert logged == 3  # reported, acknowledged, forwarded
